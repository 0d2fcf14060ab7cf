#![allow(clippy::unwrap_used)]

use super::*;

use types::SampleRate;

const HZ: usize = 8_000;
const FRAME: usize = 160;

/// Speech-like test signal: a voiced source (harmonics of a gliding pitch) under a syllable-rate
/// envelope, with pauses, deterministic per `seed`.
fn voice(seconds: f32, seed: u32, level: f32) -> Vec<f32> {
    let n = (seconds * HZ as f32) as usize;
    let mut phase = 0.0f32;
    let mut state = seed.wrapping_mul(747_796_405).wrapping_add(2_891_336_453);
    let mut out = Vec::with_capacity(n);
    for i in 0..n {
        let t = i as f32 / HZ as f32;
        // Each seed its own voice: pitch range and intonation rate.
        let f0 = 100.0 + 35.0 * (seed % 4) as f32 + 40.0 * (t * (0.9 + 0.3 * (seed % 3) as f32) + seed as f32).sin();
        phase += 2.0 * std::f32::consts::PI * f0 / HZ as f32;
        let mut s = 0.0;
        for h in 1..12 {
            s += (phase * h as f32).sin() / h as f32;
        }
        state ^= state << 13;
        state ^= state >> 17;
        state ^= state << 5;
        let noise = (state as f32 / u32::MAX as f32 - 0.5) * 0.3;
        let syllable = (t * (3.3 + 0.4 * (seed % 5) as f32) * 2.0 * std::f32::consts::PI + seed as f32).sin().max(0.0);
        let pause = if (t * 0.7 + seed as f32 * 0.1).fract() < 0.15 { 0.0 } else { 1.0 };
        out.push(level * (s * 0.4 + noise) * syllable * pause);
    }
    out
}

fn delayed(x: &[f32], delay: usize, gain: f32) -> Vec<f32> {
    (0..x.len()).map(|i| if i >= delay { gain * x[i - delay] } else { 0.0 }).collect()
}

fn energy(x: &[f32]) -> f32 {
    x.iter().map(|s| s * s).sum()
}

struct Run {
    residual: Vec<f32>,
    near: Vec<bool>,
    ec: EchoCanceller,
}

fn run(sent: &[f32], mic: &[f32]) -> Run {
    let mut ec = EchoCanceller::new(SampleRate::HZ_8000, EchoConfig::default());
    let mut residual = vec![0.0; mic.len()];
    let mut near = Vec::new();
    for ((s, m), o) in sent.chunks_exact(FRAME).zip(mic.chunks_exact(FRAME)).zip(residual.chunks_exact_mut(FRAME)) {
        near.push(ec.process(s, m, o).near_end);
    }
    Run { residual, near, ec }
}

#[test]
fn echo_at_minus_10_db_and_40_ms_is_found_cancelled_and_not_taken_for_the_caller() {
    let sent = voice(6.0, 1, 0.6);
    let mic = delayed(&sent, 320, 0.316);
    let r = run(&sent, &mic);
    let d = r.ec.delay().unwrap();
    assert!(d.abs_diff(320) <= 4, "delay {d}");
    // After the first second: at least 20 dB of echo return loss enhancement.
    let from = HZ;
    let erle = 10.0 * (energy(&mic[from..]) / energy(&r.residual[from..]).max(1e-12)).log10();
    assert!(erle > 20.0, "ERLE {erle:.1} dB");
    // Frames judged echo alone are silenced for the VAD.
    assert!(energy(&r.residual) < energy(&mic) * 1e-3, "residual {} of {}", energy(&r.residual), energy(&mic));
    let false_near = r.near.iter().filter(|&&n| n).count();
    assert_eq!(false_near, 0, "{false_near} frames of echo taken for the caller: {:?}", r.near);
}

#[test]
fn the_caller_talking_over_the_echo_is_near_end() {
    let sent = voice(6.0, 1, 0.6);
    let mut mic = delayed(&sent, 480, 0.316);
    let caller = voice(2.0, 7, 0.3);
    for (m, c) in mic[3 * HZ..].iter_mut().zip(&caller) {
        *m += c;
    }
    let r = run(&sent, &mic);
    // Frames where the caller is clearly audible.
    let talking: Vec<usize> = (0..r.near.len()).filter(|&f| {
        let s = f * FRAME;
        s >= 3 * HZ && s + FRAME <= 5 * HZ && energy(&caller[s - 3 * HZ..s - 3 * HZ + FRAME]) / FRAME as f32 > 0.003
    }).collect();
    let hit = talking.iter().filter(|&&f| r.near[f]).count();
    assert!(hit * 10 >= talking.len() * 9, "near end in {hit} of {} talking frames", talking.len());
    // The caller's speech survives the cancellation.
    let kept = energy(&r.residual[3 * HZ..5 * HZ]) / energy(&caller);
    assert!((0.7..1.5).contains(&kept), "caller energy kept {kept}");
}

#[test]
fn without_a_prompt_the_audio_passes_untouched() {
    let sent = vec![0.0; 2 * HZ];
    let mic = voice(2.0, 3, 0.3);
    let r = run(&sent, &mic);
    assert_eq!(r.residual, mic);
    assert!(r.ec.delay().is_none());
    let loud: Vec<bool> = mic.chunks_exact(FRAME).map(|f| (energy(f) / FRAME as f32).sqrt() > 0.003).collect();
    assert_eq!(r.near, loud, "near end is simply sound above the floor");
}

#[test]
fn odd_frame_sizes_do_not_panic() {
    let mut ec = EchoCanceller::new(SampleRate::HZ_16000, EchoConfig::default());
    let sent = voice(1.0, 2, 0.5);
    for n in [1usize, 7, 320, 960, 3000, 0] {
        let mut out = vec![0.0; n];
        let s = &sent[..n];
        ec.process(s, s, &mut out);
    }
    assert!(ec.near_end_recent(100) <= 32);
}

#[test]
fn on_a_line_without_echo_a_soft_caller_over_the_prompt_is_heard() {
    // One second of prompt with nothing coming back, then the caller, 16 dB below the prompt.
    let sent = voice(4.0, 1, 0.6);
    let mut mic = vec![0.0; sent.len()];
    let caller = voice(2.0, 9, 0.1);
    mic[2 * HZ..].copy_from_slice(&caller);
    let r = run(&sent, &mic);
    assert!(r.ec.delay().is_none());
    let talking = (2 * HZ / FRAME..4 * HZ / FRAME).filter(|&f| energy(&mic[f * FRAME..(f + 1) * FRAME]) / FRAME as f32 > 1e-4);
    let (mut n, mut hit) = (0, 0);
    for f in talking {
        n += 1;
        hit += usize::from(r.near[f]);
    }
    assert!(hit * 10 >= n * 9, "near end in {hit} of {n} frames");
    let first = r.residual[2 * HZ..].iter().zip(&caller).position(|(a, b)| a != b);
    assert!(first.is_none(), "changed from sample {first:?} of the caller's speech on");
}
