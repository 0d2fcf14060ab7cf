//! Comfort noise (RFC 3389, payload type 13): the noise level of a CN packet and a generator
//! that fills silence at that level.
//!
//! Only the level byte is used. The optional spectral information (reflection coefficients,
//! RFC 3389 §3.2) is accepted and ignored: the generator produces white noise, which is what
//! RFC 3389 §4 describes for a receiver that does not do spectral shaping.

/// Why a CN payload was not used.
#[derive(Debug, Clone, Copy, PartialEq, Eq, thiserror::Error)]
pub enum CnError {
    #[error("comfort noise payload is empty; the noise level byte is required")]
    Empty,
}

/// A noise level in -dBov, 0 (loudest) to 127 (RFC 3389 §3.1).
///
/// 0 dBov is the overload point; RFC 3389 §3.1 takes as its example a µ-law square wave at
/// full scale (±8031 in µ-law's 14-bit range). Here a signal at full scale in `[-1.0, 1.0]` is
/// 0 dBov, so the RMS of noise at level `L` is `10^(-L/20)`.
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord)]
pub struct NoiseLevel(u8);

impl NoiseLevel {
    /// `None` above 127.
    pub fn new(minus_dbov: u8) -> Option<Self> {
        (minus_dbov <= 127).then_some(Self(minus_dbov))
    }

    /// The level in dBov (0 or negative).
    pub fn dbov(self) -> i16 {
        -i16::from(self.0)
    }

    /// RMS amplitude relative to full scale.
    pub fn rms(self) -> f32 {
        10f32.powf(-f32::from(self.0) / 20.0)
    }

    /// The level of a signal with RMS `rms` (relative to full scale), rounded and clamped.
    pub fn from_rms(rms: f32) -> Self {
        if rms.is_nan() || rms <= 0.0 {
            return Self(127);
        }
        Self((-20.0 * rms.log10()).round().clamp(0.0, 127.0) as u8)
    }
}

/// A parsed CN payload.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct ComfortNoise<'a> {
    pub level: NoiseLevel,
    /// Reflection coefficients (RFC 3389 §3.2), not used here.
    pub spectral: &'a [u8],
}

impl<'a> ComfortNoise<'a> {
    pub fn parse(payload: &'a [u8]) -> Result<Self, CnError> {
        let (&level, spectral) = payload.split_first().ok_or(CnError::Empty)?;
        // RFC 3389 §3.1: the most significant bit is unused and always 0; ignore it if set.
        Ok(Self {
            level: NoiseLevel(level & 0x7f),
            spectral,
        })
    }

    /// Appends a CN payload carrying `level` and no spectral information.
    pub fn write(level: NoiseLevel, out: &mut Vec<u8>) {
        out.push(level.0);
    }
}

/// White noise at a [`NoiseLevel`], from a small xorshift generator (no allocation, no IO).
#[derive(Clone, Copy, Debug)]
pub struct NoiseGenerator {
    amplitude: f32,
    state: u32,
}

impl NoiseGenerator {
    pub fn new(level: NoiseLevel, seed: u32) -> Self {
        // Uniform noise in [-a, a] has RMS a / sqrt(3).
        Self {
            amplitude: level.rms() * 3f32.sqrt(),
            state: seed | 1,
        }
    }

    pub fn set_level(&mut self, level: NoiseLevel) {
        self.amplitude = level.rms() * 3f32.sqrt();
    }

    /// Fills `out` with noise.
    pub fn fill(&mut self, out: &mut [f32]) {
        for o in out {
            self.state ^= self.state << 13;
            self.state ^= self.state >> 17;
            self.state ^= self.state << 5;
            let unit = (self.state >> 8) as f32 / (1u32 << 23) as f32 - 1.0;
            *o = (unit * self.amplitude).clamp(-1.0, 1.0);
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn rms(x: &[f32]) -> f32 {
        (x.iter().map(|v| v * v).sum::<f32>() / x.len() as f32).sqrt()
    }

    #[test]
    fn level_byte_is_parsed_and_spectrum_kept_aside() {
        let cn = ComfortNoise::parse(&[40, 1, 2, 3]).unwrap();
        assert_eq!(cn.level.dbov(), -40);
        assert_eq!(cn.spectral, &[1, 2, 3]);
        assert_eq!(ComfortNoise::parse(&[]), Err(CnError::Empty));
        assert_eq!(ComfortNoise::parse(&[0xff]).unwrap().level, NoiseLevel(127));
    }

    #[test]
    fn generated_noise_has_the_requested_level() {
        for level in [20u8, 40, 60] {
            let mut g = NoiseGenerator::new(NoiseLevel::new(level).unwrap(), 99);
            let mut buf = [0f32; 8000];
            g.fill(&mut buf);
            assert_eq!(NoiseLevel::from_rms(rms(&buf)), NoiseLevel(level));
        }
    }

    #[test]
    fn level_round_trips_through_rms() {
        for l in 0..=127u8 {
            assert_eq!(NoiseLevel::from_rms(NoiseLevel(l).rms()), NoiseLevel(l));
        }
        assert_eq!(NoiseLevel::from_rms(0.0), NoiseLevel(127));
        assert_eq!(NoiseLevel::new(128), None);
        let mut out = Vec::new();
        ComfortNoise::write(NoiseLevel(70), &mut out);
        assert_eq!(out, [70]);
    }
}
