//! The hibari vocoder: the network predicts a spectrum per 12.5 ms frame in five parts; this turns
//! it into a waveform (after hibari-tts 0.2.1 `dsp.py`, written anew):
//!
//! ```text
//! S = exp(lh) e^{i pi tanh(theta)} STFT(pulses(f0)) + exp(ln) Z + exp(lr) e^{i phi}
//! y = iSTFT(S)        (n_fft 1200, hop 300, periodic Hann, 24 kHz, overlap-add normalized)
//! ```
//!
//! Everything runs frame by frame: one forward FFT of the pulse train, the spectral product, one
//! inverse FFT and an overlap-add straight into the caller's output. FFT plans, scratch and the
//! pulse buffer belong to a [`Vocoder`] and are reused, so a warm vocoder does not allocate
//! (the output `Vec` grows only when the utterance is longer than any before it).

use std::f32::consts::PI;
use std::sync::Arc;

use realfft::num_complex::Complex;
use realfft::{ComplexToReal, RealFftPlanner, RealToComplex};

use super::fastmath;

/// Samples per second of the waveform.
pub const SAMPLE_RATE_HZ: u32 = 24_000;
/// FFT size of the model's spectra.
pub const N_FFT: usize = 1_200;
/// Samples per model frame (12.5 ms).
pub const HOP: usize = 300;
/// Frequency bins per frame: `N_FFT / 2 + 1`.
pub const BINS: usize = N_FFT / 2 + 1;
/// Frames overlapping any one sample.
const OVERLAP: usize = N_FFT / HOP;
/// F0 below this (Hz) is unvoiced: no pulses.
const VOICED_HZ: f32 = 40.0;
/// Highest harmonic frequency in the pulse train (Hz).
const PULSE_FMAX_HZ: f32 = 11_000.0;
/// Log-magnitudes are clamped here before `exp`, as the reference does: a wild network output
/// cannot overflow to infinity.
const MAX_LOG_MAGNITUDE: f32 = 7.0;

/// The network's output for one utterance, frame-major: frame `f`'s bins are
/// `lh[f * BINS..(f + 1) * BINS]`. (The model emits bin-major `[601, F]`; the voice transposes
/// while copying out of ONNX Runtime, so the vocoder reads each frame contiguously.)
#[derive(Debug, Clone, Copy)]
pub struct Spectra<'a> {
    /// Log magnitude of the harmonic (pulse-excited) branch.
    pub lh: &'a [f32],
    /// Phase of the harmonic branch's filter, through `pi * tanh(theta)`.
    pub theta: &'a [f32],
    /// Log magnitude of the noise branch.
    pub ln: &'a [f32],
    /// Log magnitude of the free-phase branch.
    pub lr: &'a [f32],
    /// Phase of the free-phase branch.
    pub phi: &'a [f32],
    /// Fundamental frequency per frame, Hz (below 40: unvoiced).
    pub f0: &'a [f32],
}

impl Spectra<'_> {
    /// Frames in the utterance, or `None` when the parts disagree in size.
    pub fn frames(&self) -> Option<usize> {
        let f = self.f0.len();
        let n = f.checked_mul(BINS)?;
        [self.lh, self.theta, self.ln, self.lr, self.phi].iter().all(|p| p.len() == n).then_some(f)
    }
}

/// Plans, windows and scratch for rendering spectra; one per thread that renders.
pub struct Vocoder {
    forward: Arc<dyn RealToComplex<f32>>,
    inverse: Arc<dyn ComplexToReal<f32>>,
    /// Periodic Hann / (N_FFT / 4): a unit cosine then peaks at 1 in the STFT, so `exp(lh)` is
    /// the harmonic's magnitude.
    window_analysis: Vec<f32>,
    /// Periodic Hann / N_FFT: the synthesis window with realfft's missing 1/N folded in.
    window_synthesis: Vec<f32>,
    /// Squared periodic Hann, for the overlap-add normalization.
    window_squared: Vec<f32>,
    frame: Vec<f32>,
    spectrum: Vec<Complex<f32>>,
    scratch: Vec<Complex<f32>>,
    /// One frame of the noise branch's Gaussian draws.
    noise: Vec<Complex<f32>>,
    pulses: Vec<f32>,
    /// Per-sample harmonic counts while building the pulse train.
    harmonics: Vec<f32>,
}

impl std::fmt::Debug for Vocoder {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Vocoder").field("n_fft", &N_FFT).field("pulse_capacity", &self.pulses.capacity()).finish()
    }
}

impl Default for Vocoder {
    fn default() -> Self {
        Self::new()
    }
}

impl Vocoder {
    pub fn new() -> Self {
        let mut planner = RealFftPlanner::<f32>::new();
        let forward = planner.plan_fft_forward(N_FFT);
        let inverse = planner.plan_fft_inverse(N_FFT);
        let scratch_len = forward.get_scratch_len().max(inverse.get_scratch_len());
        let hann: Vec<f32> = (0..N_FFT).map(|i| 0.5 - 0.5 * (2.0 * std::f64::consts::PI * i as f64 / N_FFT as f64).cos() as f32).collect();
        Self {
            window_analysis: hann.iter().map(|w| w / (N_FFT / 4) as f32).collect(),
            window_synthesis: hann.iter().map(|w| w / N_FFT as f32).collect(),
            window_squared: hann.iter().map(|w| w * w).collect(),
            forward,
            inverse,
            frame: vec![0.0; N_FFT],
            spectrum: vec![Complex::default(); BINS],
            scratch: vec![Complex::default(); scratch_len],
            noise: vec![Complex::default(); BINS],
            pulses: Vec::new(),
            harmonics: Vec::new(),
        }
    }

    /// Appends the waveform for `spectra` to `out`: `frames * HOP` samples. `noise` drives the
    /// noise branch; `None` leaves it out (deterministic output, for comparison with a reference).
    pub fn render(&mut self, spectra: &Spectra<'_>, mut noise: Option<&mut ComplexNoise>, out: &mut Vec<f32>) {
        let Some(frames) = spectra.frames() else { return };
        if frames == 0 {
            return;
        }
        let n = frames * HOP;
        pulses(spectra.f0, &mut self.pulses, &mut self.harmonics);
        let start = out.len();
        out.resize(start + n, 0.0);
        let y = &mut out[start..];
        let half = N_FFT / 2;
        for f in 0..frames {
            // Analysis frame f covers pulse samples f*HOP - half .. f*HOP + half (reflect-padded).
            let first = f * HOP;
            let voiced = stft_frame(&self.pulses, first as isize - half as isize, &self.window_analysis, &mut self.frame);
            if voiced {
                // The only failure is a buffer of the wrong length; all are sized in `new`.
                let _ = self.forward.process_with_scratch(&mut self.frame, &mut self.spectrum, &mut self.scratch);
            } else {
                self.spectrum.fill(Complex::default());
            }
            let bins = f * BINS..(f + 1) * BINS;
            if voiced {
                harmonic_branch(&mut self.spectrum, &spectra.lh[bins.clone()], &spectra.theta[bins.clone()]);
            }
            if let Some(z) = noise.as_deref_mut() {
                z.fill(&mut self.noise);
                add_noise_branch(&mut self.spectrum, &self.noise, &spectra.ln[bins.clone()], z.gain);
            }
            add_free_phase_branch(&mut self.spectrum, &spectra.lr[bins.clone()], &spectra.phi[bins]);
            // irfft ignores the imaginary parts of DC and Nyquist (they belong to no real signal);
            // realfft reports them as an error, so clear them first.
            self.spectrum[0].im = 0.0;
            self.spectrum[BINS - 1].im = 0.0;
            // Cannot fail: sizes are fixed in `new` and the DC/Nyquist imaginary parts are clear.
            let _ = self.inverse.process_with_scratch(&mut self.spectrum, &mut self.frame, &mut self.scratch);
            // Overlap-add into output samples first - half .. first + half, clipped to the output.
            let lo = first.saturating_sub(half);
            let hi = (first + half).min(n);
            let offset = lo + half - first;
            for ((o, s), w) in y[lo..hi].iter_mut().zip(&self.frame[offset..]).zip(&self.window_synthesis[offset..]) {
                *o += s * w;
            }
        }
        normalize_overlap_add(y, frames, &self.window_squared);
        // A non-finite network output (never seen, but not ruled out) must not reach a codec.
        y.iter_mut().filter(|s| !s.is_finite()).for_each(|s| *s = 0.0);
    }
}

/// Fills `frame` with pulse samples `at .. at + N_FFT` (indices outside the signal reflected, as
/// `torch.stft(center=True)` pads) times `window`. False when the frame is all zeros (unvoiced),
/// so the caller can skip the FFT.
fn stft_frame(x: &[f32], at: isize, window: &[f32], frame: &mut [f32]) -> bool {
    let n = x.len() as isize;
    let mut any = false;
    if at >= 0 && at + N_FFT as isize <= n {
        let src = &x[at as usize..at as usize + N_FFT];
        for ((o, s), w) in frame.iter_mut().zip(src).zip(window) {
            *o = s * w;
            any |= *s != 0.0;
        }
    } else {
        for (i, (o, w)) in frame.iter_mut().zip(window).enumerate() {
            let s = x[reflect(at + i as isize, n)];
            *o = s * w;
            any |= s != 0.0;
        }
    }
    any
}

/// Index into a signal of length `n` extended by mirror reflection without repeating the edge
/// sample (numpy's `reflect`, applied as often as needed): period `2 (n - 1)`.
fn reflect(i: isize, n: isize) -> usize {
    if n <= 1 {
        return 0;
    }
    let period = 2 * (n - 1);
    let j = i.rem_euclid(period);
    (if j >= n { period - j } else { j }) as usize
}

// The spectral product for one frame, in place, in three passes over the bins (each one
// vectorizes): `spectrum` holds the pulse train's STFT on entry (zeros when unvoiced) and the
// frame to invert on return.

/// `spectrum *= exp(lh) e^{i pi tanh(theta)}`.
fn harmonic_branch(spectrum: &mut [Complex<f32>], lh: &[f32], theta: &[f32]) {
    for ((s, &lh), &theta) in spectrum.iter_mut().zip(lh).zip(theta) {
        let a = ex(lh);
        let (sin, cos) = fastmath::sin_cos(PI * fastmath::tanh(theta));
        *s = Complex::new((s.re * cos - s.im * sin) * a, (s.re * sin + s.im * cos) * a);
    }
}

/// `spectrum += gain exp(ln) z`.
fn add_noise_branch(spectrum: &mut [Complex<f32>], z: &[Complex<f32>], ln: &[f32], gain: f32) {
    for ((s, z), &ln) in spectrum.iter_mut().zip(z).zip(ln) {
        let m = ex(ln) * gain;
        s.re += z.re * m;
        s.im += z.im * m;
    }
}

/// `spectrum += exp(lr) e^{i phi}`.
fn add_free_phase_branch(spectrum: &mut [Complex<f32>], lr: &[f32], phi: &[f32]) {
    for ((s, &lr), &phi) in spectrum.iter_mut().zip(lr).zip(phi) {
        let a = ex(lr);
        let (sin, cos) = fastmath::sin_cos(phi);
        s.re += a * cos;
        s.im += a * sin;
    }
}

fn ex(x: f32) -> f32 {
    fastmath::exp(x.min(MAX_LOG_MAGNITUDE))
}

/// Divides each output sample by the summed squared window of the frames that reach it
/// (1.5 inside, less in the first and last half frame), as `torch.istft` does. `y` is the
/// centred output: sample `q` sits at `q + N_FFT/2` in the padded frame grid.
pub fn normalize_overlap_add(y: &mut [f32], frames: usize, window_squared: &[f32]) {
    let half = N_FFT / 2;
    for (q, s) in y.iter_mut().enumerate() {
        let p = q + half;
        let (row, m) = (p / HOP, p % HOP);
        let mut sum = 0.0f32;
        for k in 0..OVERLAP {
            // Frame row - k covers padded sample p at its offset k*HOP + m.
            if row >= k && row - k < frames {
                sum += window_squared[k * HOP + m];
            }
        }
        *s /= sum.max(1e-11);
    }
}

/// The band-limited pulse train for an F0 curve: `f0.len() * HOP` samples into `out` (replacing
/// its contents; `harmonics` is scratch). Every harmonic below 11 kHz at unit amplitude, through
/// the closed form `sum_{h=1..H} cos(h t) = sin((H + 1/2) t) / (2 sin(t/2)) - 1/2`; samples where
/// the interpolated F0 is below 40 Hz (unvoiced) are 0. F0 is interpolated linearly between
/// frame centres (`align_corners=False`, edges held).
pub fn pulses(f0: &[f32], out: &mut Vec<f32>, harmonics: &mut Vec<f32>) {
    let frames = f0.len();
    let n = frames * HOP;
    out.clear();
    out.resize(n, 0.0);
    harmonics.clear();
    harmonics.resize(n, 0.0);
    let at = |i: isize| f0[i.clamp(0, frames as isize - 1) as usize];
    // First pass, sequential: phase (into `out`) and harmonic count (0 when unvoiced). The phase
    // accumulates in f64 as the reference's cumsum does: minutes of audio in f32 would lose the
    // fraction.
    let mut cycles = 0.0f64;
    let half = HOP / 2;
    let mut i = 0;
    for k in 0..frames as isize {
        for j in 0..HOP {
            // Sample j of frame k lies at k + (j + 0.5)/HOP - 0.5 in frame units.
            let pos = (j as f32 + 0.5) / HOP as f32 - 0.5;
            let f = if j < half {
                let u = pos + 1.0;
                at(k - 1) * (1.0 - u) + at(k) * u
            } else {
                at(k) * (1.0 - pos) + at(k + 1) * pos
            };
            let voiced = f > VOICED_HZ;
            let f = f.max(VOICED_HZ);
            cycles += f64::from(f);
            out[i] = ((cycles / f64::from(SAMPLE_RATE_HZ)).fract() * std::f64::consts::TAU) as f32;
            harmonics[i] = if voiced { (PULSE_FMAX_HZ / f).floor() + 0.5 } else { 0.0 };
            i += 1;
        }
    }
    // Second pass, vectorizable: the closed form.
    for (e, &h) in out.iter_mut().zip(harmonics.iter()) {
        let t = *e;
        let s = 2.0 * fastmath::sin_cos(0.5 * t).0;
        // At t -> 0 the closed form tends to H + 1/2.
        let v = if s.abs() <= 2e-3 { h } else { fastmath::sin_cos(h * t).0 / s };
        *e = if h == 0.0 { 0.0 } else { v - 0.5 };
    }
}

/// Complex Gaussian noise (real and imaginary parts independent, unit variance each) from a
/// seeded xoshiro256++ generator and the Box-Muller transform. Not numpy's generator: the noise
/// differs from the reference's sample by sample but not in its statistics.
#[derive(Debug, Clone)]
pub struct ComplexNoise {
    state: [u64; 4],
    /// Scales the noise branch; 1 is the model's own level.
    pub gain: f32,
}

impl ComplexNoise {
    pub fn new(seed: u64, gain: f32) -> Self {
        // SplitMix64 spreads any seed (0 included) into a non-zero xoshiro state.
        let mut sm = seed;
        let mut next = || {
            sm = sm.wrapping_add(0x9E37_79B9_7F4A_7C15);
            let mut z = sm;
            z = (z ^ (z >> 30)).wrapping_mul(0xBF58_476D_1CE4_E5B9);
            z = (z ^ (z >> 27)).wrapping_mul(0x94D0_49BB_1331_11EB);
            z ^ (z >> 31)
        };
        Self { state: [next(), next(), next(), next()], gain }
    }

    fn next_u64(&mut self) -> u64 {
        let s = &mut self.state;
        let result = (s[0].wrapping_add(s[3])).rotate_left(23).wrapping_add(s[0]);
        let t = s[1] << 17;
        s[2] ^= s[0];
        s[3] ^= s[1];
        s[1] ^= s[2];
        s[0] ^= s[3];
        s[2] ^= t;
        s[3] = s[3].rotate_left(45);
        result
    }

    /// Fills `out` with complex normal samples, one 64-bit draw each: 24 bits for the radius,
    /// 24 for the angle (Box-Muller). Draws first, then the transform, so the second loop
    /// vectorizes.
    pub fn fill(&mut self, out: &mut [Complex<f32>]) {
        const SCALE: f32 = 1.0 / (1u32 << 24) as f32;
        for z in out.iter_mut() {
            let x = self.next_u64();
            // u1 in (0, 1] so that ln(u1) is finite; u2 in [0, 1).
            *z = Complex::new(((x >> 40) as f32 + 1.0) * SCALE, ((x >> 8) & 0xFF_FFFF) as f32 * SCALE);
        }
        for z in out.iter_mut() {
            let r = (-2.0 * fastmath::ln(z.re)).sqrt();
            let (sin, cos) = fastmath::sin_cos(std::f32::consts::TAU * z.im);
            *z = Complex::new(r * cos, r * sin);
        }
    }
}

#[cfg(test)]
#[allow(clippy::unwrap_used)]
mod tests {
    use super::*;

    /// Harmonic and noise branches silenced: `lh`, `theta`, `ln` for `frames` frames.
    fn silent_branches(frames: usize) -> (Vec<f32>, Vec<f32>, Vec<f32>) {
        let n = frames * BINS;
        (vec![-30.0; n], vec![0.0; n], vec![-30.0; n])
    }

    /// STFT frames of `x` with the analysis conventions (centred, reflect-padded, periodic Hann),
    /// as (log magnitude, phase) in the frame-major layout the vocoder reads, scaled so that the
    /// "lr/phi" branch alone inverts them.
    fn analyse(x: &[f32]) -> (Vec<f32>, Vec<f32>) {
        let frames = x.len() / HOP;
        let mut v = Vocoder::new();
        let hann: Vec<f32> = v.window_analysis.iter().map(|w| w * (N_FFT / 4) as f32).collect();
        let (mut lr, mut phi) = (Vec::new(), Vec::new());
        for f in 0..frames {
            stft_frame(x, (f * HOP) as isize - (N_FFT / 2) as isize, &hann, &mut v.frame);
            v.forward.process_with_scratch(&mut v.frame, &mut v.spectrum, &mut v.scratch).unwrap();
            for c in &v.spectrum {
                lr.push(c.norm().max(1e-30).ln());
                phi.push(c.arg());
            }
        }
        (lr, phi)
    }

    #[test]
    fn stft_then_overlap_add_reproduces_the_signal_through_the_free_phase_branch() {
        // A chirp plus a decaying click: content at the very ends exercises the normalization.
        let n = 40 * HOP;
        let x: Vec<f32> = (0..n)
            .map(|i| {
                let t = i as f32 / SAMPLE_RATE_HZ as f32;
                0.3 * (2.0 * PI * (200.0 + 2000.0 * t) * t).sin() + if i < 50 { 0.5 * (1.0 - i as f32 / 50.0) } else { 0.0 }
            })
            .collect();
        let (lr, phi) = analyse(&x);
        let f0 = vec![0.0; n / HOP];
        let (lh, theta, ln) = silent_branches(f0.len());
        let spectra = Spectra { lh: &lh, theta: &theta, ln: &ln, lr: &lr, phi: &phi, f0: &f0 };
        let mut y = vec![7.0]; // appends after what is there
        Vocoder::new().render(&spectra, None, &mut y);
        assert_eq!(y.len(), 1 + n);
        assert_eq!(y[0], 7.0);
        let err = x.iter().zip(&y[1..]).fold(0.0f32, |m, (a, b)| m.max((a - b).abs()));
        assert!(err < 1e-4, "max error {err}");
    }

    #[test]
    fn overlap_add_normalization_tapers_only_at_the_ends() {
        let w2 = Vocoder::new().window_squared;
        let frames = 10;
        let mut ones = vec![1.0f32; frames * HOP];
        normalize_overlap_add(&mut ones, frames, &w2);
        // Inside: four frames overlap, sum of squared periodic Hann = 1.5.
        for &s in &ones[N_FFT..frames * HOP - N_FFT] {
            assert!((s - 1.0 / 1.5).abs() < 1e-5, "{s}");
        }
        // First sample: frames 0, 1, 2 reach it at offsets 600, 300, 0 -> 1 + 0.25 + 0 = 1.25.
        assert!((ones[0] - 1.0 / 1.25).abs() < 1e-5, "{}", ones[0]);
        // The last sample sits at offset 899 of the last frame and 1199 of the one before.
        let last = *ones.last().unwrap();
        let expect = w2[899] + w2[1199];
        assert!((last - 1.0 / expect).abs() < 1e-3 * (1.0 / expect), "{last} vs {}", 1.0 / expect);
        assert!(ones.iter().all(|s| s.is_finite()));
    }

    #[test]
    fn pulses_are_periodic_at_f0_and_zero_when_unvoiced() {
        let mut f0 = vec![0.0f32; 6];
        f0.extend([200.0; 20]);
        f0.extend([0.0; 6]);
        let mut p = Vec::new();
        pulses(&f0, &mut p, &mut Vec::new());
        assert_eq!(p.len(), f0.len() * HOP);
        // Unvoiced frames (away from the interpolated edges) are exactly zero.
        assert!(p[..5 * HOP].iter().all(|&s| s == 0.0));
        assert!(p[27 * HOP..].iter().all(|&s| s == 0.0));
        // 200 Hz at 24 kHz: a peak (about H + 1/2 - 1/2 = 55) every 120 samples.
        let voiced = &p[10 * HOP..22 * HOP];
        let peaks: Vec<usize> = (1..voiced.len() - 1).filter(|&i| voiced[i] > 20.0 && voiced[i] >= voiced[i - 1] && voiced[i] > voiced[i + 1]).collect();
        assert!(peaks.len() >= 25, "{peaks:?}");
        for w in peaks.windows(2) {
            assert!((119..=121).contains(&(w[1] - w[0])), "{peaks:?}");
        }
        let top = voiced.iter().fold(0.0f32, |m, &s| m.max(s));
        assert!((50.0..=56.0).contains(&top), "peak {top}");
    }

    #[test]
    fn reflect_matches_numpy_for_pads_longer_than_the_signal() {
        // np.pad(np.arange(5.), 7, mode="reflect")
        let expect = [1, 2, 3, 4, 3, 2, 1, 0, 1, 2, 3, 4, 3, 2, 1, 0, 1, 2, 3];
        let got: Vec<usize> = (-7..12).map(|i| reflect(i, 5)).collect();
        assert_eq!(got, expect);
        assert_eq!(reflect(-3, 1), 0);
    }

    #[test]
    fn noise_is_unit_variance_and_reproducible() {
        let (mut a, mut b) = (ComplexNoise::new(7, 1.0), ComplexNoise::new(7, 1.0));
        let mut za = vec![Complex::default(); 100_000];
        let mut zb = za.clone();
        a.fill(&mut za);
        b.fill(&mut zb);
        assert_eq!(za, zb);
        let n = za.len() as f64;
        let sr: f64 = za.iter().map(|z| f64::from(z.re * z.re)).sum::<f64>() / n;
        let si: f64 = za.iter().map(|z| f64::from(z.im * z.im)).sum::<f64>() / n;
        let mr: f64 = za.iter().map(|z| f64::from(z.re)).sum::<f64>() / n;
        assert!((sr - 1.0).abs() < 0.02 && (si - 1.0).abs() < 0.02, "{sr} {si}");
        assert!(mr.abs() < 0.02);
        ComplexNoise::new(8, 1.0).fill(&mut zb[..1]);
        assert_ne!(za[0], zb[0]);
    }

    #[test]
    fn mismatched_or_empty_spectra_render_nothing() {
        let mut v = Vocoder::new();
        let mut y = Vec::new();
        let none: [f32; 0] = [];
        v.render(&Spectra { lh: &none, theta: &none, ln: &none, lr: &none, phi: &none, f0: &none }, None, &mut y);
        let short = [0.0f32; 3];
        v.render(&Spectra { lh: &short, theta: &short, ln: &short, lr: &short, phi: &short, f0: &[100.0] }, None, &mut y);
        assert!(y.is_empty());
    }

    #[test]
    fn a_single_frame_renders_one_hop_of_finite_samples() {
        let f0 = [150.0f32];
        let z = vec![0.0f32; BINS];
        let mut y = Vec::new();
        let mut noise = ComplexNoise::new(1, 1.0);
        Vocoder::new().render(&Spectra { lh: &z, theta: &z, ln: &z, lr: &z, phi: &z, f0: &f0 }, Some(&mut noise), &mut y);
        assert_eq!(y.len(), HOP);
        assert!(y.iter().all(|s| s.is_finite()));
    }
}
