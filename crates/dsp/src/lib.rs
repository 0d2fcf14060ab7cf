//! Signal processing between the codecs and the models: resampling onto the 16 kHz frame bus
//! (and back to 8 kHz for output), stereo downmix, signal level.
//!
//! Buffers are allocated once at construction; the per-frame calls write into caller-owned
//! slices and never allocate.

mod resample;

pub use resample::{ResampleError, Resampler};

/// Averages interleaved stereo into mono. `out` receives `interleaved.len() / 2` samples.
pub fn downmix_stereo(interleaved: &[f32], out: &mut [f32]) {
    for (o, lr) in out.iter_mut().zip(interleaved.chunks_exact(2)) {
        *o = 0.5 * (lr[0] + lr[1]);
    }
}

/// Root-mean-square level in dB relative to full scale; -100 dB for digital silence.
pub fn rms_dbfs(samples: &[f32]) -> f32 {
    if samples.is_empty() {
        return -100.0;
    }
    let energy: f32 = samples.iter().map(|s| s * s).sum::<f32>() / samples.len() as f32;
    if energy <= 1e-10 {
        -100.0
    } else {
        10.0 * energy.log10()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn downmix_averages_channels() {
        let mut out = [0.0; 2];
        downmix_stereo(&[1.0, 0.0, -0.5, -0.5], &mut out);
        assert_eq!(out, [0.5, -0.5]);
    }

    #[test]
    fn full_scale_square_wave_is_zero_dbfs() {
        assert!(rms_dbfs(&[1.0, -1.0, 1.0, -1.0]).abs() < 1e-4);
        assert_eq!(rms_dbfs(&[0.0; 10]), -100.0);
        let sine: Vec<f32> = (0..1600).map(|i| (i as f32 * 0.1).sin() * 0.1).collect();
        assert!((rms_dbfs(&sine) - -23.0).abs() < 0.2);
    }
}
