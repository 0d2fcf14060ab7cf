//! Phonemizing a two-sentence IVR prompt after load (the TTS budget for first audio is
//! 100 ms; G2P should be a small part of it). Load time is printed once.

use std::path::PathBuf;
use std::time::Instant;

use attendant_g2p::{Accent, G2p};
use criterion::{criterion_group, criterion_main, Criterion};

const PROMPT: &str =
    "Thank you for calling Contoso Pharmacy. For prescription refills, press 1; to speak with a pharmacist, press 0.";

fn models() -> PathBuf {
    std::env::var_os("ATTENDANT_MODELS")
        .map(PathBuf::from)
        .unwrap_or_else(|| PathBuf::from(concat!(env!("CARGO_MANIFEST_DIR"), "/../../models")))
}

fn bench(c: &mut Criterion) {
    let env = vad::silero::ort_environment(&models().join("libonnxruntime.so")).expect("ONNX Runtime in models/");
    let start = Instant::now();
    let mut g2p = G2p::load(&models().join("hibari"), Accent::Us, &env).expect("models/hibari");
    eprintln!("G2p::load: {:.0} ms", start.elapsed().as_secs_f64() * 1e3);
    let sentences = attendant_g2p::split_sentences(PROMPT);
    c.bench_function("phonemize 2-sentence IVR prompt", |b| {
        b.iter(|| {
            for s in &sentences {
                std::hint::black_box(g2p.phonemize(s).expect("phonemize"));
            }
        })
    });
    // A word the OOV net has not read in this process yet (its cache cannot help).
    let mut n = 0u32;
    c.bench_function("phonemize sentence with a new OOV word", |b| {
        b.iter(|| {
            n += 1;
            let word: String = n
                .to_string()
                .bytes()
                .map(|d| ["ba", "ko", "ri", "zu", "ve", "ta", "mo", "li", "sa", "ne"][usize::from(d - b'0')])
                .collect();
            std::hint::black_box(g2p.phonemize(&format!("Welcome to Zor{word} Bank.")).expect("phonemize"));
        })
    });
}

criterion_group!(benches, bench);
criterion_main!(benches);
