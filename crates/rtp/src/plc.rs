//! Packet-loss concealment for PCM codecs (G.711 and other sample-based payloads), a reduced
//! form of ITU-T G.711 Appendix I:
//!
//! 1. Decoded audio passes through [`Concealer::good`], which keeps the last 60 ms.
//! 2. At the start of a loss, the pitch period is estimated by normalized autocorrelation of the
//!    last 20 ms over lags of 2.5 to 15 ms (G.711 App. I searches 5 to 15 ms at 8 kHz).
//! 3. The last pitch period is repeated for the missing span: at full level for the first 10 ms,
//!    then attenuated linearly by 20 % per 10 ms, silent after 60 ms (the App. I schedule).
//! 4. When audio resumes, its first quarter period (at least 1 ms) is cross-faded with the
//!    continuation of the synthetic signal, so the junction does not click.
//!
//! Not done (the "lite"): App. I's widening of the pitch buffer to two and three periods during
//! long losses, and its overlap-add at the cycle junction.
//!
//! Comfort noise (RFC 3389) takes over from concealment after [`Concealer::set_comfort_noise`]
//! until good audio arrives again.

use types::SampleRate;

use crate::cn::{NoiseGenerator, NoiseLevel};

/// History kept for pitch estimation, in ms.
const HISTORY_MS: usize = 60;
/// Autocorrelation window, in ms.
const WINDOW_MS: usize = 20;
/// Full-level repetition before attenuation starts, ms (G.711 App. I: 10 ms).
const HOLD_MS: usize = 10;
/// Attenuation per 10 ms after the hold (G.711 App. I: 20 %).
const FADE_PER_10MS: f32 = 0.2;

/// Conceals lost spans of decoded PCM audio. Buffers are allocated once, at construction.
#[derive(Clone, Debug)]
pub struct Concealer {
    rate: usize,
    history: Vec<f32>,
    /// The repeated pitch cycle.
    cycle: Vec<f32>,
    pos: usize,
    /// Samples concealed in the current loss; 0 when not concealing.
    concealed: usize,
    noise: Option<NoiseGenerator>,
}

impl Concealer {
    pub fn new(rate: SampleRate) -> Self {
        let rate = rate.hz() as usize;
        Self {
            rate,
            history: vec![0.0; rate * HISTORY_MS / 1000],
            cycle: Vec::with_capacity(rate * 15 / 1000),
            pos: 0,
            concealed: 0,
            noise: None,
        }
    }

    fn ms(&self, ms: usize) -> usize {
        (self.rate * ms / 1000).max(1)
    }

    fn remember(&mut self, samples: &[f32]) {
        let h = self.history.len();
        if samples.len() >= h {
            self.history.copy_from_slice(&samples[samples.len() - h..]);
        } else {
            self.history.copy_within(samples.len().., 0);
            self.history[h - samples.len()..].copy_from_slice(samples);
        }
    }

    /// Takes decoded audio; after a loss, cross-fades its start with the concealment.
    pub fn good(&mut self, samples: &mut [f32]) {
        if self.concealed > 0 && !self.cycle.is_empty() && self.noise.is_none() {
            let n = (self.cycle.len() / 4).max(self.ms(1)).min(samples.len());
            let mut synth = [0f32; 64];
            let mut done = 0;
            while done < n {
                let k = (n - done).min(synth.len());
                self.synthesize(&mut synth[..k]);
                for (i, s) in synth[..k].iter().enumerate() {
                    let w = (done + i + 1) as f32 / (n + 1) as f32;
                    samples[done + i] = w * samples[done + i] + (1.0 - w) * s;
                }
                done += k;
            }
        }
        self.concealed = 0;
        self.noise = None;
        self.remember(samples);
    }

    /// From now on, lost or silent spans are filled with comfort noise at `level`, until
    /// [`Concealer::good`] is called.
    pub fn set_comfort_noise(&mut self, level: NoiseLevel) {
        match &mut self.noise {
            Some(g) => g.set_level(level),
            None => self.noise = Some(NoiseGenerator::new(level, 0x2545_f491)),
        }
    }

    /// Fills `out` for a span with no audio.
    pub fn conceal(&mut self, out: &mut [f32]) {
        if let Some(g) = &mut self.noise {
            g.fill(out);
            self.concealed += out.len();
            self.remember(out);
            return;
        }
        if self.concealed == 0 {
            self.start_loss();
        }
        self.synthesize(out);
        self.remember(out);
    }

    /// Estimates the pitch period and copies the last period into `cycle`.
    fn start_loss(&mut self) {
        let h = &self.history;
        let window = self.ms(WINDOW_MS);
        let (min_lag, max_lag) = (self.ms(5) / 2, self.ms(15));
        let end = h.len();
        let x = &h[end - window..];
        let mut best = (max_lag, f32::MIN);
        for lag in min_lag..=max_lag {
            let y = &h[end - window - lag..end - lag];
            let (mut xy, mut yy) = (0f32, 0f32);
            for (a, b) in x.iter().zip(y) {
                xy += a * b;
                yy += b * b;
            }
            let score = if yy > 0.0 { xy / yy.sqrt() } else { 0.0 };
            if score > best.1 {
                best = (lag, score);
            }
        }
        self.cycle.clear();
        self.cycle.extend_from_slice(&h[end - best.0..]);
        self.pos = 0;
    }

    /// Writes the next samples of the faded repetition and advances it.
    fn synthesize(&mut self, out: &mut [f32]) {
        let hold = self.ms(HOLD_MS);
        let per_sample = FADE_PER_10MS / self.ms(10) as f32;
        for o in out {
            let gain = if self.concealed < hold {
                1.0
            } else {
                (1.0 - (self.concealed - hold) as f32 * per_sample).max(0.0)
            };
            *o = match self.cycle.get(self.pos) {
                Some(s) => s * gain,
                None => 0.0,
            };
            self.pos = if self.pos + 1 >= self.cycle.len() {
                0
            } else {
                self.pos + 1
            };
            self.concealed += 1;
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn sine(period: usize, n: usize, phase: usize) -> Vec<f32> {
        (0..n)
            .map(|i| {
                (2.0 * std::f32::consts::PI * ((i + phase) % period) as f32 / period as f32).sin()
                    * 0.5
            })
            .collect()
    }

    fn rms(x: &[f32]) -> f32 {
        (x.iter().map(|v| v * v).sum::<f32>() / x.len() as f32).sqrt()
    }

    #[test]
    fn loss_continues_a_periodic_signal() {
        let mut c = Concealer::new(SampleRate::HZ_8000);
        let period = 64; // 125 Hz voice pitch
        for f in 0..5 {
            c.good(&mut sine(period, 160, f * 160));
        }
        let mut out = [0f32; 80];
        c.conceal(&mut out);
        // The first 10 ms continue the waveform where it stopped.
        let expected = sine(period, 80, 5 * 160);
        let err: f32 = out
            .iter()
            .zip(&expected)
            .map(|(a, b)| (a - b).abs())
            .fold(0.0, f32::max);
        assert!(err < 0.05, "max error {err}");
    }

    #[test]
    fn concealment_fades_to_silence_after_60_ms() {
        let mut c = Concealer::new(SampleRate::HZ_8000);
        for f in 0..5 {
            c.good(&mut sine(50, 160, f * 160));
        }
        let mut frames = vec![[0f32; 160]; 4];
        for f in &mut frames {
            c.conceal(f);
        }
        let levels: Vec<f32> = frames.iter().map(|f| rms(f)).collect();
        assert!(levels[0] > 0.3, "{levels:?}");
        assert!(levels[1] < levels[0] && levels[2] < levels[1], "{levels:?}");
        assert_eq!(rms(&frames[3]), 0.0);
    }

    #[test]
    fn resumption_is_cross_faded() {
        let mut c = Concealer::new(SampleRate::HZ_8000);
        for f in 0..5 {
            c.good(&mut sine(64, 160, f * 160));
        }
        let mut lost = [0f32; 160];
        c.conceal(&mut lost);
        // Audio resumes at full scale with a DC step; the first sample must not jump to it.
        let mut next = [0.9f32; 160];
        c.good(&mut next);
        assert!(
            (next[0] - lost[159]).abs() < 0.9 * 0.3,
            "{} after {}",
            next[0],
            lost[159]
        );
        assert_eq!(next[100], 0.9);
    }

    #[test]
    fn comfort_noise_fills_until_audio_returns() {
        let mut c = Concealer::new(SampleRate::HZ_16000);
        c.set_comfort_noise(NoiseLevel::new(30).unwrap());
        let mut out = [0f32; 3200];
        c.conceal(&mut out);
        assert_eq!(
            NoiseLevel::from_rms(rms(&out)),
            NoiseLevel::new(30).unwrap()
        );
        c.good(&mut [0.0; 320]);
        let mut after = [1f32; 320];
        c.conceal(&mut after);
        assert_eq!(
            rms(&after),
            0.0,
            "silence history conceals to silence, not noise"
        );
    }

    #[test]
    fn concealing_before_any_audio_is_silent() {
        let mut c = Concealer::new(SampleRate::HZ_48000);
        let mut out = [1f32; 960];
        c.conceal(&mut out);
        assert!(out.iter().all(|&s| s == 0.0));
    }
}
