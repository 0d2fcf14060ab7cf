//! Echo canceller cost per 20 ms frame while a prompt plays (the delay search included, one
//! estimate every 12.5 frames), at 8 and 16 kHz.

use criterion::{criterion_group, criterion_main, Criterion};
use attendant_playback::{EchoCanceller, EchoConfig};
use types::SampleRate;

fn signal(n: usize) -> Vec<f32> {
    (0..n).map(|i| ((i as f32 * 0.05).sin() + (i as f32 * 0.013).sin()) * 0.3 * ((i / 800) % 2) as f32).collect()
}

fn bench(c: &mut Criterion) {
    for rate in [SampleRate::HZ_8000, SampleRate::HZ_16000] {
        let frame = rate.frame_samples();
        let sent = signal(rate.hz() as usize * 4);
        let mic: Vec<f32> = (0..sent.len()).map(|i| if i >= 320 { 0.3 * sent[i - 320] } else { 0.0 }).collect();
        let mut ec = EchoCanceller::new(rate, EchoConfig::default());
        let mut out = vec![0.0; frame];
        let mut i = 0usize;
        c.bench_function(&format!("echo_frame_{}k", rate.hz() / 1000), |b| {
            b.iter(|| {
                let k = i % (sent.len() / frame);
                i += 1;
                ec.process(&sent[k * frame..(k + 1) * frame], &mic[k * frame..(k + 1) * frame], &mut out)
            })
        });
    }
}

criterion_group!(benches, bench);
criterion_main!(benches);
