//! Engine output at rates the worker does not carry (espeak-ng speaks at 22 050 Hz), converted
//! once to the nearest [`SampleRate`] at or above it, so nothing the engine produced is lost.
//!
//! This is not the `dsp` resampler: that one works on 20 ms frames between supported rates,
//! and 22 050 Hz is not one. rubato's FFT resampler with a fixed chunk does the same job here,
//! over a whole utterance.

use rubato::{FftFixedInOut, Resampler as _};
use types::SampleRate;

use crate::TtsError;

/// The rate an engine running at `hz` is presented at: `hz` itself when supported, else the
/// next supported rate up, else the highest.
pub(crate) fn presented_rate(hz: u32) -> SampleRate {
    SampleRate::new(hz).ok().unwrap_or_else(|| {
        let highest = SampleRate::SUPPORTED[SampleRate::SUPPORTED.len() - 1];
        SampleRate::SUPPORTED.into_iter().find(|r| r.hz() >= hz).unwrap_or(highest)
    })
}

/// Converts a whole utterance from `from` Hz to `to`, with the filter delay removed: the output
/// starts where the input does and lasts as long.
pub(crate) fn convert(input: &[f32], from: u32, to: SampleRate) -> Result<Vec<f32>, TtsError> {
    let err = |reason: String| TtsError::Convert { from, to: to.hz(), reason };
    if from == to.hz() || input.is_empty() {
        return Ok(input.to_vec());
    }
    // About 20 ms per chunk (441 samples at 22 050 Hz); rubato rounds it to suit the ratio.
    let chunk = (from / 50).max(1) as usize;
    let mut r = FftFixedInOut::<f32>::new(from as usize, to.hz() as usize, chunk, 1).map_err(|e| err(e.to_string()))?;
    let (n_in, n_out) = (r.input_frames_next(), r.output_frames_next());
    let delay = r.output_delay();
    let expected = (input.len() as u64 * u64::from(to.hz()) / u64::from(from)) as usize;
    // Enough zero chunks after the audio to push the filter's delay out.
    let flush_chunks = delay.div_ceil(n_out) + 1;
    let mut out = Vec::with_capacity((input.len() / n_in + 1 + flush_chunks) * n_out);
    let mut frame_in = vec![0.0f32; n_in];
    let mut frame_out = vec![0.0f32; n_out];
    let flush = std::iter::repeat_n(&[][..], flush_chunks);
    for chunk in input.chunks(n_in).chain(flush) {
        frame_in.fill(0.0);
        frame_in[..chunk.len()].copy_from_slice(chunk);
        r.process_into_buffer(&[&frame_in], &mut [&mut frame_out], None).map_err(|e| err(e.to_string()))?;
        out.extend_from_slice(&frame_out);
    }
    out.drain(..delay.min(out.len()));
    out.truncate(expected);
    Ok(out)
}

#[cfg(test)]
#[allow(clippy::unwrap_used)]
mod tests {
    use super::*;

    #[test]
    fn espeak_rate_is_presented_at_24k() {
        assert_eq!(presented_rate(22_050), SampleRate::HZ_24000);
        assert_eq!(presented_rate(16_000), SampleRate::HZ_16000);
        assert_eq!(presented_rate(96_000), SampleRate::HZ_48000);
    }

    #[test]
    fn conversion_keeps_length_timing_and_amplitude() {
        let from = 22_050u32;
        // A 1 kHz tone that starts after 0.1 s of silence.
        let onset = 2_205;
        let input: Vec<f32> = (0..from as usize)
            .map(|i| if i < onset { 0.0 } else { (2.0 * std::f32::consts::PI * 1000.0 * i as f32 / from as f32).sin() * 0.5 })
            .collect();
        let out = convert(&input, from, SampleRate::HZ_24000).unwrap();
        assert_eq!(out.len(), 24_000);
        let peak = out[4_000..20_000].iter().fold(0.0f32, |m, s| m.max(s.abs()));
        assert!((peak - 0.5).abs() < 0.02, "peak {peak}");
        // Delay removed: the tone starts at 0.1 s in the output too.
        let first = out.iter().position(|s| s.abs() > 0.1).unwrap();
        assert!((2_390..2_420).contains(&first), "onset at {first}");
    }
}
