//! The hibari voice end to end, with the real model (models/hibari, fetched by tools/setup.sh)
//! and ONNX Runtime (models/libonnxruntime.so). The reference waveforms in tests/data come from
//! the original Python package (tests/data/make_hibari_reference.py).

#![allow(clippy::unwrap_used)]

use std::path::{Path, PathBuf};
use std::sync::{Arc, Mutex, OnceLock};

use attendant_tts::hibari::vocoder::HOP;
use attendant_tts::{Hibari, HibariOptions, HibariVoice, Phonemizer, PromptRenderer, Synthesizer, TtsError};
use types::SampleRate;

fn models() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("../../models")
}

fn env() -> ort::environment::Environment {
    vad::silero::ort_environment(&models().join("libonnxruntime.so")).expect("ONNX Runtime in models/ (tools/setup.sh)")
}

fn load(options: HibariOptions) -> HibariVoice {
    let dir = models().join("hibari");
    HibariVoice::load_with(&dir.join("hibari.onnx"), &dir.join("vocab.json"), &env(), options).expect("hibari model in models/hibari")
}

/// One voice with noise, one without, shared by the tests of this binary.
fn voices() -> &'static (HibariVoice, HibariVoice) {
    static V: OnceLock<(HibariVoice, HibariVoice)> = OnceLock::new();
    V.get_or_init(|| (load(HibariOptions::default()), load(HibariOptions { noise_gain: 0.0 })))
}

fn peak(x: &[f32]) -> f32 {
    x.iter().fold(0.0f32, |m, s| m.max(s.abs()))
}

fn correlation(a: &[f32], b: &[f32]) -> f64 {
    let n = a.len().min(b.len());
    let (a, b) = (&a[..n], &b[..n]);
    let dot = |x: &[f32], y: &[f32]| x.iter().zip(y).map(|(p, q)| f64::from(*p) * f64::from(*q)).sum::<f64>();
    dot(a, b) / (dot(a, a) * dot(b, b)).sqrt()
}

/// Log-magnitude spectrogram (1024-point frames, hop 256, Hann), frames one after another.
fn log_spectrogram(x: &[f32]) -> Vec<f64> {
    const N: usize = 1024;
    let fft = realfft::RealFftPlanner::<f32>::new().plan_fft_forward(N);
    let window: Vec<f32> = (0..N).map(|i| 0.5 - 0.5 * (2.0 * std::f32::consts::PI * i as f32 / N as f32).cos()).collect();
    let (mut input, mut spectrum) = (fft.make_input_vec(), fft.make_output_vec());
    let mut out = Vec::new();
    for start in (0..x.len().saturating_sub(N)).step_by(256) {
        for (i, v) in input.iter_mut().enumerate() {
            *v = x[start + i] * window[i];
        }
        fft.process(&mut input, &mut spectrum).unwrap();
        out.extend(spectrum.iter().map(|c| f64::from(c.norm() + 1e-4).ln()));
    }
    out
}

fn correlation64(a: &[f64], b: &[f64]) -> f64 {
    let n = a.len().min(b.len());
    let mean = |x: &[f64]| x[..n].iter().sum::<f64>() / n as f64;
    let (ma, mb) = (mean(a), mean(b));
    let (mut ab, mut aa, mut bb) = (0.0, 0.0, 0.0);
    for i in 0..n {
        let (p, q) = (a[i] - ma, b[i] - mb);
        ab += p * q;
        aa += p * p;
        bb += q * q;
    }
    ab / (aa * bb).sqrt()
}

/// The samples of a 16-bit mono WAV as f32.
fn read_wav(path: &Path) -> Vec<f32> {
    let bytes = std::fs::read(path).unwrap();
    let mut at = 12;
    while at + 8 <= bytes.len() {
        let len = u32::from_le_bytes(bytes[at + 4..at + 8].try_into().unwrap()) as usize;
        if &bytes[at..at + 4] == b"data" {
            return bytes[at + 8..at + 8 + len].chunks_exact(2).map(|b| f32::from(i16::from_le_bytes([b[0], b[1]])) / 32_767.0).collect();
        }
        at += 8 + len;
    }
    panic!("no data chunk in {}", path.display());
}

#[test]
fn matches_the_python_reference_with_noise_off() {
    let data = Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/data");
    let meta: serde_json::Value = serde_json::from_str(&std::fs::read_to_string(data.join("hibari_reference.json")).unwrap()).unwrap();
    let (_, quiet) = voices();
    for case in meta["cases"].as_array().unwrap() {
        let phonemes = case["phonemes"].as_str().unwrap();
        let reference = read_wav(&data.join(case["wav"].as_str().unwrap()));
        let mut out = Vec::new();
        quiet.synthesize_phonemes(phonemes, case["speed"].as_f64().unwrap() as f32, 0, &mut out).unwrap();
        let r = correlation(&out, &reference);
        let spectral = correlation64(&log_spectrogram(&out), &log_spectrogram(&reference));
        let diff = out.iter().zip(&reference).fold(0.0f32, |m, (a, b)| m.max((a - b).abs()));
        eprintln!(
            "{phonemes:?}: {} samples (reference {}), correlation {r:.7} (1 - r = {:.1e}), max |diff| {diff:.5}, log-spectrogram correlation {spectral:.5}",
            out.len(),
            reference.len(),
            1.0 - r
        );
        assert!(out.len().abs_diff(reference.len()) <= HOP, "{} vs {}", out.len(), reference.len());
        // The waveform matches only where ONNX Runtime picks the same CPU kernels as the machine
        // that made the reference (0.99999998 there; 0.87 on an AVX2-only EPYC, where the
        // model's phase output rounds differently): what must match is the sound, the
        // log-magnitude spectrogram. The same measure against the reference played backwards
        // shows it tells speech apart.
        assert!(spectral > 0.98, "log-spectrogram correlation {spectral} (waveform {r})");
        let backwards: Vec<f32> = reference.iter().rev().copied().collect();
        let control = correlation64(&log_spectrogram(&out), &log_spectrogram(&backwards));
        assert!(control < spectral - 0.1, "the control matched too: {control} against {spectral}");
    }
}

#[test]
fn same_seed_is_bit_identical_and_another_seed_differs_slightly() {
    let (voice, _) = voices();
    let ps = "θˈæŋk ju fɔɹ kˈɔlɪŋ kəntˈOsO.";
    let (mut a, mut b, mut c) = (Vec::new(), Vec::new(), Vec::new());
    voice.synthesize_phonemes(ps, 1.0, 7, &mut a).unwrap();
    voice.synthesize_phonemes(ps, 1.0, 7, &mut b).unwrap();
    voice.synthesize_phonemes(ps, 1.0, 8, &mut c).unwrap();
    assert_eq!(a, b);
    assert_eq!(a.len(), c.len());
    assert_ne!(a, c);
    let r = correlation(&a, &c);
    eprintln!("seed 7 vs 8: correlation {r:.4}");
    assert!(r > 0.9, "correlation {r}");
}

#[test]
fn empty_or_unknown_only_phonemes_give_no_samples() {
    let (voice, _) = voices();
    let mut out = vec![0.25];
    for ps in ["", "   ", "\n\t", "☃🙂☃", "\0"] {
        voice.synthesize_phonemes(ps, 1.0, 0, &mut out).unwrap();
    }
    assert_eq!(out, [0.25]);
}

#[test]
fn unknown_characters_are_dropped() {
    let (_, quiet) = voices();
    let (mut clean, mut noisy) = (Vec::new(), Vec::new());
    quiet.synthesize_phonemes("həlˈO ðˈɛɹ.", 1.0, 0, &mut clean).unwrap();
    quiet.synthesize_phonemes("h☃əlˈO🙂 ðˈɛɹ.\u{7}", 1.0, 0, &mut noisy).unwrap();
    assert_eq!(clean, noisy);
}

#[test]
fn speech_has_sane_length_and_peak() {
    let (voice, _) = voices();
    let sentences = [
        "həlˈO ðˈɛɹ.",
        "θˈæŋk ju fɔɹ kˈɔlɪŋ kəntˈOsO.",
        "plˈiz sˈA bˈɪlɪŋ, səpˈɔɹt, ɔɹ pɹˈɛs wˈʌn fɔɹ ɐn ˈAʤᵊnt.",
        "jˌʊɹ kˈɔl mˈA bi ɹəkˈɔɹdᵻd fɔɹ kwˈɑləTi pˈɜɹpəsᵻz.",
        "ɡʊdbˈI!",
        "plˈiz ˈɛntəɹ jʊɹ əkˈWnt nˈʌmbəɹ.",
    ];
    let mut peaks = Vec::new();
    for ps in sentences {
        let mut out = Vec::new();
        voice.synthesize_phonemes(ps, 1.0, 0, &mut out).unwrap();
        let seconds = out.len() as f32 / 24_000.0;
        assert_eq!(out.len() % HOP, 0);
        assert!((0.3..8.0).contains(&seconds), "{ps}: {seconds} s");
        assert!(out.iter().all(|s| s.is_finite()));
        peaks.push(peak(&out));
    }
    eprintln!("peaks: {peaks:?}");
    assert!(peaks.iter().all(|&p| (0.05..1.0).contains(&p)), "{peaks:?}");
    // Speed changes duration, not pitch range.
    let (mut slow, mut fast) = (Vec::new(), Vec::new());
    voice.synthesize_phonemes(sentences[1], 0.8, 0, &mut slow).unwrap();
    voice.synthesize_phonemes(sentences[1], 1.25, 0, &mut fast).unwrap();
    assert!(slow.len() as f32 > fast.len() as f32 * 1.3, "{} vs {}", slow.len(), fast.len());
    assert!(matches!(voice.synthesize_phonemes("ə", f32::NAN, 0, &mut slow), Err(TtsError::InvalidConfig { field: "speed", .. })));
}

#[test]
fn long_phoneme_strings_are_split_and_all_rendered() {
    let (_, quiet) = voices();
    let clause = "pɹˈɛs wˈʌn fɔɹ bˈɪlɪŋ, ";
    let long = clause.repeat(30); // about 700 characters
    let (mut one, mut all) = (Vec::new(), Vec::new());
    quiet.synthesize_phonemes(clause.trim_end(), 1.0, 0, &mut one).unwrap();
    quiet.synthesize_phonemes(long.trim_end(), 1.0, 0, &mut all).unwrap();
    let ratio = all.len() as f32 / one.len() as f32;
    assert!((20.0..40.0).contains(&ratio), "{ratio}");
}

#[test]
fn concurrent_callers_share_one_voice() {
    let (_, quiet) = voices();
    let ps = ["həlˈO ðˈɛɹ.", "ɡʊdbˈI!"];
    let expect: Vec<Vec<f32>> = ps
        .iter()
        .map(|p| {
            let mut v = Vec::new();
            quiet.synthesize_phonemes(p, 1.0, 0, &mut v).unwrap();
            v
        })
        .collect();
    std::thread::scope(|s| {
        let handles: Vec<_> = (0..4)
            .map(|t| {
                s.spawn(move || {
                    let mut v = Vec::new();
                    quiet.synthesize_phonemes(ps[t % 2], 1.0, 0, &mut v).unwrap();
                    (t % 2, v)
                })
            })
            .collect();
        for h in handles {
            let (i, v) = h.join().unwrap();
            assert_eq!(v, expect[i]);
        }
    });
}

#[test]
fn load_errors_name_the_file() {
    let dir = models().join("hibari");
    let tmp = std::env::temp_dir().join(format!("attendant-hibari-{}", std::process::id()));
    std::fs::create_dir_all(&tmp).unwrap();
    let vocab = dir.join("vocab.json");
    let e = HibariVoice::load(&tmp.join("none.onnx"), &vocab, &env()).unwrap_err();
    assert!(matches!(e, TtsError::FileNotFound { what: "hibari model", .. }), "{e}");
    let junk = tmp.join("junk.onnx");
    std::fs::write(&junk, b"not a model").unwrap();
    let e = HibariVoice::load(&junk, &vocab, &env()).unwrap_err();
    assert!(matches!(e, TtsError::CorruptFile { what: "hibari model", .. }), "{e}");
    // A valid ONNX file that is not hibari (the VAD) is refused by its outputs.
    let e = HibariVoice::load(&models().join("silero_vad.onnx"), &vocab, &env()).unwrap_err();
    assert!(matches!(e, TtsError::CorruptFile { ref reason, .. } if reason.contains("not a hibari model")), "{e}");
    let e = HibariVoice::load(&dir.join("hibari.onnx"), &tmp.join("none.json"), &env()).unwrap_err();
    assert!(matches!(e, TtsError::FileNotFound { what: "hibari vocabulary", .. }), "{e}");
    let e = HibariVoice::load_with(&dir.join("hibari.onnx"), &vocab, &env(), HibariOptions { noise_gain: -1.0 }).unwrap_err();
    assert!(matches!(e, TtsError::InvalidConfig { field: "noise_gain", .. }), "{e}");
    eprintln!("{e}");
    std::fs::remove_dir_all(&tmp).unwrap();
}

/// Phonemes from a fixed table, recording what it was asked.
struct Table {
    asked: Arc<Mutex<Vec<String>>>,
}

impl Phonemizer for Table {
    fn phonemize(&mut self, sentence: &str) -> Result<String, String> {
        self.asked.lock().unwrap().push(sentence.to_owned());
        match sentence {
            "Hello there." => Ok("həlˈO ðˈɛɹ.".into()),
            "Goodbye!" => Ok("ɡʊdbˈI!".into()),
            s if s.starts_with("Your code is") => Ok("jˌʊɹ kˈOd ɪz wˈʌn tˈu θɹˈi.".into()),
            "Fail." => Err("no such word".into()),
            _ => Ok(String::new()),
        }
    }
}

fn speaker(name: &str) -> (Hibari, Arc<Mutex<Vec<String>>>) {
    let asked = Arc::new(Mutex::new(Vec::new()));
    let dir = models().join("hibari");
    let voice = HibariVoice::load(&dir.join("hibari.onnx"), &dir.join("vocab.json"), &env()).unwrap();
    (Hibari::new(voice, Box::new(Table { asked: Arc::clone(&asked) }), name.to_owned()), asked)
}

#[test]
fn synthesizer_reads_ssml_and_streams_per_sentence() {
    let (h, asked) = speaker("hibari/test");
    assert_eq!(h.sample_rate(), SampleRate::HZ_24000);
    let mut chunks = Vec::new();
    h.synthesize_stream(r#"<speak>Hello there. <break time="500ms"/>Your code is <say-as interpret-as="digits">123</say-as>. Goodbye!</speak>"#, &mut |c| {
        chunks.push(c.len());
        true
    })
    .unwrap();
    assert_eq!(*asked.lock().unwrap(), ["Hello there.", "Your code is one two three.", "Goodbye!"]);
    assert_eq!(chunks.len(), 4, "{chunks:?}");
    assert_eq!(chunks[1], 12_000, "the break is 0.5 s of silence");
    // Whole synthesis is the chunks in order.
    let mut whole = Vec::new();
    h.synthesize("Hello there. Goodbye!", &mut whole).unwrap();
    let mut streamed = Vec::new();
    h.synthesize_stream("Hello there. Goodbye!", &mut |c| {
        streamed.extend_from_slice(c);
        true
    })
    .unwrap();
    assert_eq!(whole, streamed);
    // Errors are typed: bad markup, a phonemizer failure.
    assert!(matches!(h.synthesize("<speak>Hi", &mut whole), Err(TtsError::Ssml(_))));
    assert!(matches!(h.synthesize("Fail.", &mut whole), Err(TtsError::Phonemize { .. })));
    let mut none = Vec::new();
    h.synthesize("  ", &mut none).unwrap();
    assert!(none.is_empty());
}

#[test]
fn renderer_streams_hibari_and_caches_the_prompt() {
    let (h, _) = speaker("hibari/render");
    let r = PromptRenderer::new(Arc::new(h));
    let mut chunks: Vec<Vec<f32>> = Vec::new();
    r.render_stream("Hello there. Goodbye!", SampleRate::HZ_8000, &mut |c| {
        chunks.push(c.to_vec());
        true
    })
    .unwrap();
    assert!(chunks.len() >= 2, "{} chunks", chunks.len());
    let streamed = chunks.concat();
    let p = 20.0 * peak(&streamed).log10();
    eprintln!("streamed at 8 kHz: {} samples, peak {p:.1} dBFS", streamed.len());
    assert!((-7.0..=0.0).contains(&p), "peak {p} dBFS");
    assert_eq!(&*r.render("Hello there. Goodbye!", SampleRate::HZ_8000).unwrap(), &streamed[..]);
}
