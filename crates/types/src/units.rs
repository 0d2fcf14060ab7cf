//! Units as types: sample rates and media time.

use std::ops::{Add, Sub};

/// A sample rate in Hz. Only rates that the worker can ingest can be constructed.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, PartialOrd, Ord, serde::Serialize)]
pub struct SampleRate(u32);

/// A sample rate the worker does not handle.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("unsupported sample rate {0} Hz (supported: 8000, 16000, 24000, 44100, 48000)")]
pub struct SampleRateError(pub u32);

impl SampleRate {
    pub const HZ_8000: Self = Self(8_000);
    pub const HZ_16000: Self = Self(16_000);
    pub const HZ_24000: Self = Self(24_000);
    pub const HZ_44100: Self = Self(44_100);
    pub const HZ_48000: Self = Self(48_000);
    /// Every rate the ingest path accepts: telephony (8 k), wideband (16 k), ACS (16/24 k),
    /// CD and WebRTC/Opus rates.
    pub const SUPPORTED: [Self; 5] =
        [Self::HZ_8000, Self::HZ_16000, Self::HZ_24000, Self::HZ_44100, Self::HZ_48000];

    /// Checks `hz` against [`SampleRate::SUPPORTED`].
    pub fn new(hz: u32) -> Result<Self, SampleRateError> {
        Self::SUPPORTED.into_iter().find(|r| r.0 == hz).ok_or(SampleRateError(hz))
    }

    pub const fn hz(self) -> u32 {
        self.0
    }

    /// Samples per channel in one 20 ms frame at this rate. Every supported rate divides evenly.
    pub const fn frame_samples(self) -> usize {
        (self.0 / 50) as usize
    }
}

impl std::fmt::Display for SampleRate {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "{} Hz", self.0)
    }
}

/// A point in a call's media timeline (or a span of it), with microsecond resolution.
///
/// Media time counts samples, not wall-clock: a file streamed faster than real time still
/// produces the media times a live call would.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct MediaTime(u64);

impl MediaTime {
    pub const ZERO: Self = Self(0);

    pub const fn from_micros(us: u64) -> Self {
        Self(us)
    }

    pub const fn from_millis(ms: u64) -> Self {
        Self(ms * 1_000)
    }

    /// The time spanned by `samples` samples at `rate`.
    pub const fn from_samples(samples: u64, rate: SampleRate) -> Self {
        Self(samples * 1_000_000 / rate.0 as u64)
    }

    pub const fn as_micros(self) -> u64 {
        self.0
    }

    pub const fn as_millis(self) -> u64 {
        self.0 / 1_000
    }

    pub fn as_secs_f32(self) -> f32 {
        self.0 as f32 / 1e6
    }

    /// Number of whole samples at `rate` in this span.
    pub const fn to_samples(self, rate: SampleRate) -> u64 {
        self.0 * rate.0 as u64 / 1_000_000
    }

    pub const fn saturating_sub(self, rhs: Self) -> Self {
        Self(self.0.saturating_sub(rhs.0))
    }
}

impl Add for MediaTime {
    type Output = Self;
    fn add(self, rhs: Self) -> Self {
        Self(self.0 + rhs.0)
    }
}

impl Sub for MediaTime {
    type Output = Self;
    /// Saturates at zero: a span can never be negative.
    fn sub(self, rhs: Self) -> Self {
        self.saturating_sub(rhs)
    }
}

impl serde::Serialize for MediaTime {
    /// Serialized as whole milliseconds, the unit every consumer of call events uses.
    fn serialize<S: serde::Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        s.serialize_u64(self.as_millis())
    }
}

impl std::fmt::Display for MediaTime {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "{}.{:03}s", self.0 / 1_000_000, (self.0 / 1_000) % 1_000)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn supported_rates_have_whole_20ms_frames() {
        for r in SampleRate::SUPPORTED {
            assert_eq!(r.frame_samples() as u32 * 50, r.hz());
        }
        assert_eq!(SampleRate::HZ_44100.frame_samples(), 882);
    }

    #[test]
    fn unsupported_rate_is_named_in_error() {
        let e = SampleRate::new(22_050).unwrap_err();
        assert!(e.to_string().contains("22050"));
    }

    #[test]
    fn media_time_converts_samples_both_ways() {
        let t = MediaTime::from_samples(320, SampleRate::HZ_16000);
        assert_eq!(t.as_millis(), 20);
        assert_eq!(t.to_samples(SampleRate::HZ_8000), 160);
        assert_eq!((MediaTime::ZERO - t), MediaTime::ZERO);
    }
}
