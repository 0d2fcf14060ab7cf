//! Prompt synthesis speed: espeak-ng alone (at its 24 kHz presentation rate), a full render
//! (synthesis, resampling, normalization) bypassing the cache, and a cache hit.
//! The real-time factor is printed once: processing time over the audio's duration.

use std::sync::Arc;
use std::time::Instant;

use attendant_tts::{Espeak, EspeakConfig, PromptRenderer, RendererConfig, Synthesizer};
use criterion::{criterion_group, criterion_main, Criterion};
use types::SampleRate;

const WELCOME: &str = "Welcome to Contoso. Say billing or press 1.";

fn synth(c: &mut Criterion) {
    let espeak = Arc::new(Espeak::new(EspeakConfig::default()).expect("espeak-ng installed"));
    let mut out = Vec::new();
    espeak.synthesize(WELCOME, &mut out).expect("synthesis");
    let seconds = out.len() as f64 / f64::from(espeak.sample_rate().hz());
    let runs = 20;
    let start = Instant::now();
    for _ in 0..runs {
        out.clear();
        espeak.synthesize(WELCOME, &mut out).expect("synthesis");
    }
    let per = start.elapsed().as_secs_f64() / f64::from(runs);
    eprintln!("espeak-ng: {seconds:.2} s of audio in {:.1} ms, real-time factor {:.4}", per * 1e3, per / seconds);

    c.bench_function("espeak_synthesize_welcome", |b| {
        b.iter(|| {
            out.clear();
            espeak.synthesize(WELCOME, &mut out).expect("synthesis");
        })
    });
    for rate in [SampleRate::HZ_8000, SampleRate::HZ_16000] {
        c.bench_function(&format!("render_welcome_uncached_{}k", rate.hz() / 1000), |b| {
            b.iter(|| {
                // A fresh one-entry cache each time, so every iteration renders.
                let config = RendererConfig { max_entries: 1, ..RendererConfig::default() };
                let r = PromptRenderer::with_config(Arc::clone(&espeak) as Arc<dyn Synthesizer>, config).expect("config");
                r.render(WELCOME, rate).expect("render")
            })
        });
    }
    let r = PromptRenderer::new(espeak);
    r.render(WELCOME, SampleRate::HZ_8000).expect("render");
    c.bench_function("render_welcome_cache_hit", |b| b.iter(|| r.render(WELCOME, SampleRate::HZ_8000).expect("render")));
}

criterion_group!(benches, synth);
criterion_main!(benches);
