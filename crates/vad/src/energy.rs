//! A model-free VAD: frame level against a minimum-statistics noise floor.
//!
//! The floor is the quietest 200 ms block level of the last 3 s (the minimum-statistics idea of
//! Martin's noise estimator): speech has gaps between words that dip to the noise level, so
//! the minimum tracks steady noise (fans, line hiss, hum) within 3 s, while speech, which rises
//! and falls syllable by syllable, stays well above it. It cannot tell speech from other sounds of
//! the same level (a cadenced busy tone passes for speech): it is the fallback when the Silero
//! model is not wanted.

/// Frames whose level is below this are never speech, whatever the floor (dBFS).
const ABSOLUTE_FLOOR_DB: f32 = -55.0;
/// How far above the noise floor a frame must be to be half-likely speech (dB).
const MARGIN_DB: f32 = 9.0;
/// Width of the logistic ramp from non-speech to speech (dB).
const SLOPE_DB: f32 = 2.0;
/// Frames per block (200 ms) and blocks in the floor window (3 s).
const BLOCK_FRAMES: u32 = 10;
const BLOCKS: usize = 15;

#[derive(Clone, Debug)]
pub struct EnergyVad {
    /// Minimum level of each of the last [`BLOCKS`] blocks, oldest overwritten first; `MAX`
    /// until the block has been heard, so the floor is learned from the call itself rather
    /// than assumed (an assumed quiet floor made the first seconds of line noise "speech").
    block_min: [f32; BLOCKS],
    next_block: usize,
    current_min: f32,
    frames_in_block: u32,
    probability: f32,
}

impl Default for EnergyVad {
    fn default() -> Self {
        Self {
            block_min: [f32::MAX; BLOCKS],
            next_block: 0,
            current_min: f32::MAX,
            frames_in_block: 0,
            probability: 0.0,
        }
    }
}

impl EnergyVad {
    /// Updates with one frame of 16 kHz samples and returns its speech probability.
    pub fn push(&mut self, samples: &[f32]) -> f32 {
        let level = dsp::rms_dbfs(samples);
        self.current_min = self.current_min.min(level);
        self.frames_in_block += 1;
        if self.frames_in_block == BLOCK_FRAMES {
            self.block_min[self.next_block] = self.current_min;
            self.next_block = (self.next_block + 1) % BLOCKS;
            self.current_min = f32::MAX;
            self.frames_in_block = 0;
        }
        let floor = self.block_min.iter().fold(self.current_min, |m, &b| m.min(b));
        self.probability = if level < ABSOLUTE_FLOOR_DB {
            0.0
        } else {
            1.0 / (1.0 + (-(level - floor - MARGIN_DB) / SLOPE_DB).exp())
        };
        self.probability
    }

    pub fn probability(&self) -> f32 {
        self.probability
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn noise(seed: &mut u32, amp: f32) -> [f32; 320] {
        let mut f = [0.0; 320];
        for s in &mut f {
            *seed = seed.wrapping_mul(1_664_525).wrapping_add(1_013_904_223);
            *s = (*seed as f32 / u32::MAX as f32 - 0.5) * 2.0 * amp;
        }
        f
    }

    #[test]
    fn steady_noise_stops_being_speech_and_a_louder_burst_is() {
        let mut v = EnergyVad::default();
        let mut seed = 1;
        let mut last = 1.0;
        for _ in 0..150 {
            last = v.push(&noise(&mut seed, 0.05));
        }
        assert!(last < 0.1, "steady noise still speech: {last}");
        let p = v.push(&noise(&mut seed, 0.5));
        assert!(p > 0.9, "20 dB burst not speech: {p}");
    }

    #[test]
    fn noise_from_the_first_frame_is_not_speech() {
        let mut v = EnergyVad::default();
        let mut seed = 7;
        for i in 0..100 {
            let p = v.push(&noise(&mut seed, 0.05));
            assert!(p < 0.5, "frame {i}: {p}");
        }
    }

    #[test]
    fn silence_is_never_speech() {
        let mut v = EnergyVad::default();
        for _ in 0..10 {
            assert_eq!(v.push(&[0.0; 320]), 0.0);
        }
    }
}
