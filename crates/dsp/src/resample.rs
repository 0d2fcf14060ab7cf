//! Rate conversion in whole 20 ms blocks, on rubato's FFT resampler.
//!
//! Every supported rate holds a whole number of samples in 20 ms (see
//! `SampleRate::frame_samples`), and `FftFixedInOut` with a 20 ms input chunk maps one input
//! frame to exactly one output frame: no fractional carry to manage, and the output is paced like
//! the input. The FFT resampler is chosen over the sinc ones for cost: about a microsecond per
//! frame here (see benches/README.md) with a steep anti-aliasing filter.

use rubato::{FftFixedInOut, Resampler as _};
use types::SampleRate;

#[derive(Debug, thiserror::Error)]
pub enum ResampleError {
    #[error("resampler set-up {from} -> {to}: {reason}")]
    Construction { from: SampleRate, to: SampleRate, reason: String },
    #[error("input holds {actual} samples, one 20 ms frame is {expected}")]
    InputLength { expected: usize, actual: usize },
    #[error("output holds {actual} samples, one 20 ms frame is {expected}")]
    OutputLength { expected: usize, actual: usize },
    #[error("resampling failed: {0}")]
    Process(String),
}

/// Mono rate converter working on 20 ms frames.
pub struct Resampler {
    from: SampleRate,
    to: SampleRate,
    inner: Option<FftFixedInOut<f32>>,
}

impl std::fmt::Debug for Resampler {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Resampler").field("from", &self.from).field("to", &self.to).finish()
    }
}

impl Resampler {
    /// A converter from `from` to `to`; the same rate is a plain copy.
    pub fn new(from: SampleRate, to: SampleRate) -> Result<Self, ResampleError> {
        let inner = if from == to {
            None
        } else {
            let r = FftFixedInOut::new(from.hz() as usize, to.hz() as usize, from.frame_samples(), 1)
                .map_err(|e| ResampleError::Construction { from, to, reason: e.to_string() })?;
            // Invariant of the rates we accept: 20 ms in, 20 ms out.
            debug_assert_eq!(r.input_frames_next(), from.frame_samples());
            debug_assert_eq!(r.output_frames_next(), to.frame_samples());
            Some(r)
        };
        Ok(Self { from, to, inner })
    }

    pub fn input_rate(&self) -> SampleRate {
        self.from
    }

    pub fn output_rate(&self) -> SampleRate {
        self.to
    }

    /// Delay the filter adds, in output samples.
    pub fn delay(&self) -> usize {
        self.inner.as_ref().map_or(0, |r| r.output_delay())
    }

    /// Converts one 20 ms frame: `input` holds `from.frame_samples()` samples, `out` receives
    /// `to.frame_samples()`.
    pub fn process(&mut self, input: &[f32], out: &mut [f32]) -> Result<(), ResampleError> {
        let (n_in, n_out) = (self.from.frame_samples(), self.to.frame_samples());
        if input.len() != n_in {
            return Err(ResampleError::InputLength { expected: n_in, actual: input.len() });
        }
        if out.len() != n_out {
            return Err(ResampleError::OutputLength { expected: n_out, actual: out.len() });
        }
        match &mut self.inner {
            None => out.copy_from_slice(input),
            Some(r) => {
                r.process_into_buffer(&[input], &mut [out], None).map_err(|e| ResampleError::Process(e.to_string()))?;
            }
        }
        Ok(())
    }

    /// Clears the filter history, e.g. after a discontinuity in the stream.
    pub fn reset(&mut self) {
        if let Some(r) = &mut self.inner {
            r.reset();
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn tone(rate: SampleRate, hz: f32, n: usize) -> Vec<f32> {
        (0..n).map(|i| (2.0 * std::f32::consts::PI * hz * i as f32 / rate.hz() as f32).sin() * 0.5).collect()
    }

    fn run(from: SampleRate, to: SampleRate, input: &[f32]) -> Vec<f32> {
        let mut r = Resampler::new(from, to).unwrap();
        let mut out = Vec::new();
        let mut frame = vec![0.0; to.frame_samples()];
        for chunk in input.chunks_exact(from.frame_samples()) {
            r.process(chunk, &mut frame).unwrap();
            out.extend_from_slice(&frame);
        }
        out
    }

    /// Amplitude of `hz` in `x` by correlation (a single-bin DFT).
    fn amplitude(x: &[f32], rate: SampleRate, hz: f32) -> f32 {
        let w = 2.0 * std::f32::consts::PI * hz / rate.hz() as f32;
        let (mut re, mut im) = (0.0f32, 0.0f32);
        for (i, s) in x.iter().enumerate() {
            re += s * (w * i as f32).cos();
            im += s * (w * i as f32).sin();
        }
        2.0 * (re * re + im * im).sqrt() / x.len() as f32
    }

    #[test]
    fn every_supported_rate_reaches_16k_keeping_a_1khz_tone() {
        for from in SampleRate::SUPPORTED {
            let input = tone(from, 1000.0, from.frame_samples() * 50);
            let out = run(from, SampleRate::HZ_16000, &input);
            assert_eq!(out.len(), 16_000);
            // Skip the filter's start-up.
            let a = amplitude(&out[1600..], SampleRate::HZ_16000, 1000.0);
            assert!((a - 0.5).abs() < 0.02, "{from}: amplitude {a}");
        }
    }

    #[test]
    fn downsampling_to_8k_removes_content_above_4khz() {
        let input = tone(SampleRate::HZ_16000, 6000.0, 16_000);
        let out = run(SampleRate::HZ_16000, SampleRate::HZ_8000, &input);
        assert_eq!(out.len(), 8_000);
        let peak = out[800..].iter().fold(0.0f32, |m, s| m.max(s.abs()));
        assert!(peak < 0.01, "alias leaked: {peak}");
    }

    #[test]
    fn wrong_frame_length_is_an_error_not_a_panic() {
        let mut r = Resampler::new(SampleRate::HZ_8000, SampleRate::HZ_16000).unwrap();
        let mut out = [0.0; 320];
        assert!(matches!(r.process(&[0.0; 100], &mut out), Err(ResampleError::InputLength { expected: 160, actual: 100 })));
        assert!(matches!(r.process(&[0.0; 160], &mut out[..10]), Err(ResampleError::OutputLength { .. })));
    }
}
