//! The hibari voice's speed on one thread: real-time factor for a ~3 s sentence, the split
//! between model and vocoder, and the time to the first sentence of a two-sentence prompt
//! (model + vocoder, G2P excluded: the phonemizer here is a table).
//!
//! Needs models/hibari and models/libonnxruntime.so (tools/setup.sh).

use std::path::{Path, PathBuf};
use std::time::Instant;

use attendant_tts::hibari::vocoder::{ComplexNoise, Spectra, Vocoder, BINS, SAMPLE_RATE_HZ};
use attendant_tts::{Hibari, HibariVoice, Phonemizer, Synthesizer};
use criterion::{criterion_group, criterion_main, Criterion};
use ort::session::Session;
use ort::value::TensorRef;

/// "Please say billing, support, or press one for an agent." About 3.3 s.
const SENTENCE: &str = "plˈiz sˈA bˈɪlɪŋ, səpˈɔɹt, ɔɹ pɹˈɛs wˈʌn fɔɹ ɐn ˈAʤᵊnt.";
const PROMPT: &str = "Thank you for calling Contoso. Please say billing, support, or press one for an agent.";

fn models() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("../../models")
}

struct Table;

impl Phonemizer for Table {
    fn phonemize(&mut self, sentence: &str) -> Result<String, String> {
        Ok(match sentence {
            "Thank you for calling Contoso." => "θˈæŋk ju fɔɹ kˈɔlɪŋ kəntˈOsO.".to_owned(),
            _ => SENTENCE.to_owned(),
        })
    }
}

/// The model's outputs for `SENTENCE`, frame-major, straight from ONNX Runtime: the vocoder's
/// input, to time it alone.
fn spectra(env: &ort::environment::Environment) -> Vec<Vec<f32>> {
    let vocab: std::collections::HashMap<String, i64> =
        serde_json::from_str(&std::fs::read_to_string(models().join("hibari/vocab.json")).expect("vocab")).expect("vocab json");
    let mut ids = vec![0i64];
    ids.extend(SENTENCE.chars().filter_map(|c| vocab.get(&c.to_string()).copied()));
    ids.push(0);
    let mut session = Session::builder(env).expect("builder").commit_from_file(models().join("hibari/hibari.onnx")).expect("model");
    let speed = [1.0f32];
    let ids_t = TensorRef::from_array_view(([1, ids.len()], &ids[..])).expect("ids");
    let speed_t = TensorRef::from_array_view(([1], &speed[..])).expect("speed");
    let out = session.run(ort::inputs!["ids" => ids_t, "speed" => speed_t]).expect("run");
    let (_, f0) = out["f0"].try_extract_tensor::<f32>().expect("f0");
    let frames = f0.len();
    let mut parts: Vec<Vec<f32>> = ["lh", "theta", "ln", "lr", "phi"]
        .iter()
        .map(|name| {
            let (_, src) = out[*name].try_extract_tensor::<f32>().expect("output");
            let mut dst = vec![0.0; src.len()];
            for k in 0..BINS {
                for f in 0..frames {
                    dst[f * BINS + k] = src[k * frames + f];
                }
            }
            dst
        })
        .collect();
    parts.push(f0.to_vec());
    parts
}

fn hibari(c: &mut Criterion) {
    let env = vad::silero::ort_environment(&models().join("libonnxruntime.so")).expect("ONNX Runtime");
    let dir = models().join("hibari");
    let voice = HibariVoice::load(&dir.join("hibari.onnx"), &dir.join("vocab.json"), &env).expect("hibari model");

    // Real-time factor, printed once as audio seconds per wall second.
    let mut out = Vec::new();
    voice.synthesize_phonemes(SENTENCE, 1.0, 0, &mut out).expect("synthesis");
    let seconds = out.len() as f64 / f64::from(SAMPLE_RATE_HZ);
    let mut walls: Vec<f64> = (0..15)
        .map(|_| {
            out.clear();
            let t = Instant::now();
            voice.synthesize_phonemes(SENTENCE, 1.0, 0, &mut out).expect("synthesis");
            t.elapsed().as_secs_f64()
        })
        .collect();
    walls.sort_by(f64::total_cmp);
    let median = walls[walls.len() / 2];
    eprintln!("hibari: {seconds:.2} s of audio in {:.1} ms (median), {:.0}x real time on one thread", median * 1e3, seconds / median);

    c.bench_function("hibari_synthesize_phonemes_3s", |b| {
        b.iter(|| {
            out.clear();
            voice.synthesize_phonemes(SENTENCE, 1.0, 0, &mut out).expect("synthesis");
        })
    });

    // The vocoder alone on the same sentence's spectra; the model is the rest.
    let p = spectra(&env);
    let s = Spectra { lh: &p[0], theta: &p[1], ln: &p[2], lr: &p[3], phi: &p[4], f0: &p[5] };
    let mut vocoder = Vocoder::new();
    c.bench_function("hibari_vocoder_3s", |b| {
        b.iter(|| {
            out.clear();
            let mut noise = ComplexNoise::new(0, 1.0);
            vocoder.render(&s, Some(&mut noise), &mut out);
        })
    });
    c.bench_function("hibari_vocoder_3s_noise_off", |b| {
        b.iter(|| {
            out.clear();
            vocoder.render(&s, None, &mut out);
        })
    });

    // Time to first audio of a two-sentence prompt, G2P excluded: the stream stops after the
    // first sentence's chunk.
    let speaker = Hibari::new(voice, Box::new(Table), "hibari/bench".to_owned());
    c.bench_function("hibari_first_sentence_of_prompt", |b| {
        b.iter(|| {
            let mut first = 0;
            speaker
                .synthesize_stream(PROMPT, &mut |chunk| {
                    first = chunk.len();
                    false
                })
                .expect("synthesis");
            first
        })
    });
}

criterion_group!(benches, hibari);
criterion_main!(benches);
