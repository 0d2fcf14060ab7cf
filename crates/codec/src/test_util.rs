//! Helpers shared by the codec tests: fixtures, a seeded generator, alignment of a decoded
//! signal with its source.

use crate::{SampleFormat, WavFile};

pub fn testdata(path: &str) -> std::path::PathBuf {
    std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("../../testdata").join(path)
}

/// A mono 16-bit WAV fixture's samples.
pub fn read_wav_i16(path: &str) -> (types::SampleRate, Vec<i16>) {
    let wav = WavFile::open(&testdata(path)).expect("fixture reads");
    assert_eq!(wav.channels, 1, "{path}");
    assert_eq!(wav.format, SampleFormat::S16Le, "{path}");
    (wav.rate, wav.data.chunks_exact(2).map(|c| i16::from_le_bytes([c[0], c[1]])).collect())
}

/// A fixture as `f32` through the crate's own [`crate::decode`].
pub fn read_wav_f32(path: &str) -> (types::SampleRate, Vec<f32>) {
    let wav = WavFile::open(&testdata(path)).expect("fixture reads");
    assert_eq!(wav.channels, 1, "{path}");
    let mut out = vec![0.0; wav.data.len() / wav.format.bytes_per_sample()];
    crate::decode(wav.format, &wav.data, &mut out).expect("fixture decodes");
    (wav.rate, out)
}

pub fn read_bytes(path: &str) -> Vec<u8> {
    std::fs::read(testdata(path)).expect("reference file reads")
}

/// How well `y` reproduces `x` delayed by the best lag below `max_lag`.
#[derive(Debug, Clone, Copy)]
pub struct Alignment {
    pub lag: usize,
    pub snr_db: f64,
    pub correlation: f64,
}

/// Aligns `y` with `x` at the lag (`y[n + lag] ~ x[n]`) that maximises the SNR.
pub fn best_lag<T: Copy + Into<f64>>(x: &[T], y: &[T], max_lag: usize) -> Alignment {
    let mut best = Alignment { lag: 0, snr_db: f64::NEG_INFINITY, correlation: 0.0 };
    for lag in 0..max_lag {
        let n = x.len().min(y.len().saturating_sub(lag));
        let (mut sx, mut sy, mut sxy, mut se) = (0.0, 0.0, 0.0, 0.0);
        for (&a, &b) in x[..n].iter().zip(&y[lag..lag + n]) {
            let (a, b): (f64, f64) = (a.into(), b.into());
            sx += a * a;
            sy += b * b;
            sxy += a * b;
            se += (a - b) * (a - b);
        }
        let snr_db = 10.0 * (sx / se.max(1e-12)).log10();
        if snr_db > best.snr_db {
            best = Alignment { lag, snr_db, correlation: sxy / (sx * sy).sqrt().max(1e-12) };
        }
    }
    best
}

/// Largest normalised cross-correlation of `y` with `x` over lags below `max_lag`: for codecs
/// that keep the waveform's shape but not its exact level or phase (Opus).
pub fn best_correlation(x: &[f32], y: &[f32], max_lag: usize) -> (usize, f64) {
    let mut best = (0, f64::NEG_INFINITY);
    for lag in 0..max_lag {
        let n = x.len().min(y.len().saturating_sub(lag));
        let (mut sx, mut sy, mut sxy) = (0.0f64, 0.0f64, 0.0f64);
        for (&a, &b) in x[..n].iter().zip(&y[lag..lag + n]) {
            let (a, b) = (f64::from(a), f64::from(b));
            sx += a * a;
            sy += b * b;
            sxy += a * b;
        }
        let c = sxy / (sx * sy).sqrt().max(1e-12);
        if c > best.1 {
            best = (lag, c);
        }
    }
    best
}

pub fn sine(freq: f64, rate: u32, amplitude: f64, len: usize) -> impl Iterator<Item = f64> {
    (0..len).map(move |n| {
        amplitude * (2.0 * std::f64::consts::PI * freq * n as f64 / f64::from(rate)).sin()
    })
}

/// A small deterministic generator (xorshift64*), so the tests need no `rand`.
pub struct Rng(pub u64);

impl Rng {
    pub fn next_u64(&mut self) -> u64 {
        self.0 ^= self.0 >> 12;
        self.0 ^= self.0 << 25;
        self.0 ^= self.0 >> 27;
        self.0.wrapping_mul(0x2545_f491_4f6c_dd1d)
    }

    pub fn fill(&mut self, bytes: &mut [u8]) {
        bytes.iter_mut().for_each(|b| *b = self.next_u64() as u8);
    }
}
