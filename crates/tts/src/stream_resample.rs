//! Rate conversion of a stream that arrives in chunks of any size (one per sentence), with the
//! filter state carried across chunks: the output is the same as converting the whole stream at
//! once, so chunk joins cannot click.

use dsp::Resampler;
use types::SampleRate;

use crate::TtsError;

/// The `dsp` resampler (20 ms frames) with a carry-over buffer, the filter delay removed at the
/// start and flushed at the end. Buffers are allocated once, in [`StreamResampler::new`].
#[derive(Debug)]
pub(crate) struct StreamResampler {
    from: SampleRate,
    to: SampleRate,
    resampler: Resampler,
    /// Input samples waiting for a whole 20 ms frame.
    pending: Vec<f32>,
    frame_out: Vec<f32>,
    /// Output samples still to drop: what is left of the filter delay.
    skip: usize,
    /// Input samples taken and output samples given, for the exact length at the end.
    consumed: u64,
    produced: u64,
}

impl StreamResampler {
    pub(crate) fn new(from: SampleRate, to: SampleRate) -> Result<Self, TtsError> {
        let resampler = Resampler::new(from, to)?;
        let skip = resampler.delay();
        Ok(Self {
            from,
            to,
            resampler,
            pending: Vec::with_capacity(from.frame_samples()),
            frame_out: vec![0.0; to.frame_samples()],
            skip,
            consumed: 0,
            produced: 0,
        })
    }

    /// Converts `input`, appending what is ready to `out`. Up to a frame plus the filter delay
    /// stays inside until [`StreamResampler::finish`].
    pub(crate) fn push(&mut self, input: &[f32], out: &mut Vec<f32>) -> Result<(), TtsError> {
        self.consumed += input.len() as u64;
        if self.from == self.to {
            out.extend_from_slice(input);
            self.produced += input.len() as u64;
            return Ok(());
        }
        let n_in = self.from.frame_samples();
        let mut rest = input;
        while !rest.is_empty() {
            let take = (n_in - self.pending.len()).min(rest.len());
            self.pending.extend_from_slice(&rest[..take]);
            rest = &rest[take..];
            if self.pending.len() == n_in {
                self.run_frame(out)?;
            }
        }
        Ok(())
    }

    /// Flushes the rest: the partial frame (zero-padded) and the filter's delay. After this the
    /// output holds exactly `input * to / from` samples in all.
    pub(crate) fn finish(&mut self, out: &mut Vec<f32>) -> Result<(), TtsError> {
        let expected = self.consumed * u64::from(self.to.hz()) / u64::from(self.from.hz());
        if self.from != self.to {
            let n_in = self.from.frame_samples();
            // Each silent frame yields a full output frame, so this ends.
            while self.produced < expected {
                self.pending.resize(n_in, 0.0);
                self.run_frame(out)?;
            }
        }
        let excess = (self.produced - expected.min(self.produced)) as usize;
        out.truncate(out.len() - excess.min(out.len()));
        self.produced -= excess as u64;
        Ok(())
    }

    fn run_frame(&mut self, out: &mut Vec<f32>) -> Result<(), TtsError> {
        self.resampler.process(&self.pending, &mut self.frame_out)?;
        self.pending.clear();
        let drop = self.skip.min(self.frame_out.len());
        self.skip -= drop;
        out.extend_from_slice(&self.frame_out[drop..]);
        self.produced += (self.frame_out.len() - drop) as u64;
        Ok(())
    }
}

#[cfg(test)]
#[allow(clippy::unwrap_used)]
mod tests {
    use super::*;

    fn tone(n: usize) -> Vec<f32> {
        (0..n).map(|i| (2.0 * std::f32::consts::PI * 330.0 * i as f32 / 24_000.0).sin() * 0.5).collect()
    }

    #[test]
    fn chunked_conversion_equals_whole_conversion() {
        let x = tone(24_000 + 123);
        let convert = |chunks: &[usize]| {
            let mut r = StreamResampler::new(SampleRate::HZ_24000, SampleRate::HZ_8000).unwrap();
            let mut out = Vec::new();
            let mut at = 0usize;
            for &c in chunks.iter().chain(std::iter::once(&usize::MAX)) {
                let end = at.saturating_add(c).min(x.len());
                r.push(&x[at..end], &mut out).unwrap();
                at = end;
            }
            r.finish(&mut out).unwrap();
            out
        };
        let whole = convert(&[]);
        assert_eq!(whole.len(), (24_000 + 123) / 3);
        let chunked = convert(&[1, 479, 480, 7_001, 3, 9_000]);
        assert_eq!(whole, chunked);
        // The delay is gone: output sample k is input sample 3k (a 330 Hz tone passes unchanged).
        let err = (1_000..7_000).fold(0.0f32, |m, k| m.max((whole[k] - x[3 * k]).abs()));
        assert!(err < 0.01, "max error {err}");
    }

    #[test]
    fn same_rate_passes_through_and_empty_stays_empty() {
        let mut r = StreamResampler::new(SampleRate::HZ_24000, SampleRate::HZ_24000).unwrap();
        let mut out = Vec::new();
        r.push(&[0.1, 0.2], &mut out).unwrap();
        r.finish(&mut out).unwrap();
        assert_eq!(out, [0.1, 0.2]);
        let mut r = StreamResampler::new(SampleRate::HZ_24000, SampleRate::HZ_16000).unwrap();
        r.finish(&mut out).unwrap();
        assert_eq!(out, [0.1, 0.2]);
    }
}
