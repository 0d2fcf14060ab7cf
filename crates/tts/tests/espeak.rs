//! espeak-ng end to end: the library and its data must be installed (tools/setup.sh installs
//! libespeak-ng1 and espeak-ng-data).

#![allow(clippy::unwrap_used)]

use std::sync::Arc;

use attendant_tts::{Espeak, EspeakConfig, PromptRenderer, Synthesizer, TtsError};
use types::SampleRate;

const WELCOME: &str = "Welcome to Contoso. Say billing or press 1.";

fn renderer() -> PromptRenderer {
    PromptRenderer::new(Arc::new(Espeak::new(EspeakConfig::default()).expect("espeak-ng installed")))
}

fn peak_dbfs(x: &[f32]) -> f32 {
    20.0 * x.iter().fold(0.0f32, |m, s| m.max(s.abs())).log10()
}

/// Writes 16-bit mono PCM, for listening to a rendering.
fn write_wav(path: &std::path::Path, pcm: &[f32], rate: SampleRate) {
    let data: Vec<u8> = pcm.iter().flat_map(|s| ((s.clamp(-1.0, 1.0) * 32_767.0) as i16).to_le_bytes()).collect();
    let mut wav = Vec::with_capacity(44 + data.len());
    wav.extend_from_slice(b"RIFF");
    wav.extend_from_slice(&(36 + data.len() as u32).to_le_bytes());
    wav.extend_from_slice(b"WAVEfmt ");
    wav.extend_from_slice(&16u32.to_le_bytes());
    wav.extend_from_slice(&1u16.to_le_bytes()); // PCM
    wav.extend_from_slice(&1u16.to_le_bytes()); // mono
    wav.extend_from_slice(&rate.hz().to_le_bytes());
    wav.extend_from_slice(&(rate.hz() * 2).to_le_bytes());
    wav.extend_from_slice(&2u16.to_le_bytes());
    wav.extend_from_slice(&16u16.to_le_bytes());
    wav.extend_from_slice(b"data");
    wav.extend_from_slice(&(data.len() as u32).to_le_bytes());
    wav.extend_from_slice(&data);
    std::fs::write(path, wav).unwrap();
}

#[test]
fn welcome_prompt_renders_at_16k_and_8k_with_plausible_duration_and_peak() {
    let r = renderer();
    for rate in [SampleRate::HZ_16000, SampleRate::HZ_8000] {
        let pcm = r.render(WELCOME, rate).unwrap();
        let seconds = pcm.len() as f32 / rate.hz() as f32;
        assert!((1.5..6.0).contains(&seconds), "{rate}: {seconds} s");
        assert!((peak_dbfs(&pcm) - -3.0).abs() < 0.05, "{rate}: peak {} dBFS", peak_dbfs(&pcm));
        let rms = dsp::rms_dbfs(&pcm);
        assert!(rms > -30.0, "{rate}: rms {rms} dBFS, nearly silent");
        // Speech has pauses: a good share of 20 ms frames are much quieter than the loudest.
        let frames: Vec<f32> = pcm.chunks_exact(rate.frame_samples()).map(dsp::rms_dbfs).collect();
        let loud = frames.iter().filter(|&&f| f > rms - 10.0).count();
        assert!(loud > frames.len() / 3 && loud < frames.len(), "{rate}: {loud} of {} frames loud", frames.len());
    }
    let path = std::env::temp_dir().join("attendant-tts-welcome-16k.wav");
    write_wav(&path, &r.render(WELCOME, SampleRate::HZ_16000).unwrap(), SampleRate::HZ_16000);
    eprintln!("listen: {}", path.display());
}

#[test]
fn espeak_presents_its_22050_hz_output_at_24k() {
    let e = Espeak::new(EspeakConfig::default()).unwrap();
    assert_eq!(e.native_rate_hz(), 22_050);
    assert_eq!(e.sample_rate(), SampleRate::HZ_24000);
    assert_eq!(e.name(), "espeak-ng/en-us/160wpm");
    let mut out = vec![0.5; 3];
    e.synthesize("Hello.", &mut out).unwrap();
    assert!(out.len() > 3 + 24_000 / 4, "appends after what was there: {}", out.len());
    assert_eq!(out[..3], [0.5; 3]);
}

#[test]
fn same_text_twice_is_a_cache_hit() {
    let r = renderer();
    let a = r.render(WELCOME, SampleRate::HZ_16000).unwrap();
    let b = r.render(WELCOME, SampleRate::HZ_16000).unwrap();
    assert!(Arc::ptr_eq(&a, &b));
    let c = r.render(WELCOME, SampleRate::HZ_8000).unwrap();
    assert!(!Arc::ptr_eq(&a, &c));
    assert_eq!(r.cached(), 2);
}

#[test]
fn four_threads_render_concurrently() {
    let r = Arc::new(renderer());
    let texts = ["Press 1 for billing.", "Press 2 for support.", "Please hold.", "Goodbye."];
    let handles: Vec<_> = (0..4)
        .map(|t| {
            let r = Arc::clone(&r);
            std::thread::spawn(move || {
                (0..4).map(|i| r.render(texts[(t + i) % 4], SampleRate::HZ_8000).unwrap().len()).collect::<Vec<_>>()
            })
        })
        .collect();
    let lens: Vec<Vec<usize>> = handles.into_iter().map(|h| h.join().unwrap()).collect();
    for (t, l) in lens.iter().enumerate() {
        for (i, &n) in l.iter().enumerate() {
            assert!(n > 2_000, "empty rendering");
            // Every thread got the same rendering of the same text, cached or not.
            assert_eq!(n, lens[0][(t + i) % 4], "text {}", (t + i) % 4);
        }
    }
    assert_eq!(r.cached(), 4);
}

#[test]
fn interleaved_instances_each_speak_with_their_own_settings() {
    let slow = Espeak::new(EspeakConfig { rate_wpm: 100, ..EspeakConfig::default() }).unwrap();
    let fast = Espeak::new(EspeakConfig { voice: "de".into(), rate_wpm: 400, ..EspeakConfig::default() }).unwrap();
    assert_ne!(slow.name(), fast.name());
    let text = "Press one for billing, two for support.";
    let (mut a, mut b, mut c) = (Vec::new(), Vec::new(), Vec::new());
    slow.synthesize(text, &mut a).unwrap();
    fast.synthesize(text, &mut b).unwrap();
    slow.synthesize(text, &mut c).unwrap();
    assert!(b.len() * 2 < a.len(), "slow {} vs fast {}", a.len(), b.len());
    // espeak-ng is not sample-exact from one call to the next (voicing jitter, pauses that
    // depend on what it spoke before), so the check is on duration.
    let rel = a.len().abs_diff(c.len()) as f32 / a.len() as f32;
    assert!(rel < 0.1, "slow {} then {}", a.len(), c.len());
}

#[test]
fn empty_text_renders_no_samples() {
    let r = renderer();
    for text in ["", "   ", "\0\n\t"] {
        assert!(r.render(text, SampleRate::HZ_16000).unwrap().is_empty(), "{text:?}");
    }
}

#[test]
fn odd_characters_render_without_error() {
    let r = renderer();
    for text in ["Call 0800 123 456, ext. #42*!", "Ünïcödé ñ 中文 ☎️🙂", "<speak>not ssml</speak> [[h@l'oU]]", "a\0b", "%s %n {}"] {
        let pcm = r.render(text, SampleRate::HZ_8000).unwrap();
        assert!(pcm.iter().all(|s| s.is_finite() && s.abs() <= 0.71), "{text:?}");
    }
}

#[test]
fn bad_settings_are_errors_naming_the_problem() {
    let err = Espeak::new(EspeakConfig { voice: "no-such-voice".into(), ..EspeakConfig::default() }).unwrap_err();
    assert!(matches!(err, TtsError::VoiceNotFound { ref voice, .. } if voice == "no-such-voice"), "{err}");
    let err = Espeak::new(EspeakConfig { voice: "en\0us".into(), ..EspeakConfig::default() }).unwrap_err();
    assert!(matches!(err, TtsError::InvalidConfig { field: "voice", .. }), "{err}");
    let err = Espeak::new(EspeakConfig { rate_wpm: 1_000, ..EspeakConfig::default() }).unwrap_err();
    assert!(matches!(err, TtsError::InvalidConfig { field: "rate_wpm", .. }), "{err}");
    let err = Espeak::new(EspeakConfig { data_path: Some("/no/such/dir".into()), ..EspeakConfig::default() }).unwrap_err();
    assert!(matches!(err, TtsError::InvalidConfig { field: "data_path", .. }), "{err}");
    // A different data path than the one the engine started with.
    let err = Espeak::new(EspeakConfig { data_path: Some(std::env::temp_dir()), ..EspeakConfig::default() }).unwrap_err();
    assert!(matches!(err, TtsError::Unavailable(attendant_tts::EngineUnavailable::DataPathConflict { .. })), "{err}");
    // The engine still works after all of that.
    assert!(!renderer().render("Still here.", SampleRate::HZ_8000).unwrap().is_empty());
}

#[test]
fn overlong_text_is_refused_before_synthesis() {
    let e = Espeak::new(EspeakConfig::default()).unwrap();
    let err = e.synthesize(&"word ".repeat(1_000), &mut Vec::new()).unwrap_err();
    assert!(matches!(err, TtsError::TextTooLong { chars: 5_000, max: 2_000 }), "{err}");
}
