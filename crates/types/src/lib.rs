//! Shared vocabulary of the worker: units as types, the 20 ms audio frame of the frame bus, and
//! the events a call produces.
//!
//! Everything after ingest works on one frame bus: 16 kHz mono `f32` frames of 20 ms carrying the
//! media time of their first sample. Stages never see how the call arrived.

mod events;
mod units;

pub use events::{CallEvent, Transcript, TurnId};
pub use units::{MediaTime, SampleRate, SampleRateError};

/// Sample rate of the frame bus.
pub const BUS_RATE: SampleRate = SampleRate::HZ_16000;

/// Duration of one frame on the bus, and of the packets most transports deliver (RFC 3551 ptime).
pub const FRAME_MS: u32 = 20;

/// Samples in one bus frame: 20 ms at 16 kHz.
pub const FRAME_SAMPLES: usize = 320;

/// One 20 ms frame of 16 kHz mono audio, in `[-1.0, 1.0]`.
///
/// The samples live inline, so a frame is a plain value: moving it through the graph never
/// allocates.
#[derive(Clone, Copy, Debug, PartialEq)]
pub struct AudioFrame {
    /// Media time of the first sample, counted from the start of the call.
    pub time: MediaTime,
    pub samples: [f32; FRAME_SAMPLES],
}

impl AudioFrame {
    /// A frame of digital silence at `time`.
    pub const fn silence(time: MediaTime) -> Self {
        Self { time, samples: [0.0; FRAME_SAMPLES] }
    }

    /// Media time just after the last sample.
    pub fn end(&self) -> MediaTime {
        self.time + MediaTime::from_millis(u64::from(FRAME_MS))
    }
}

/// Identifies a call within one worker process (a SIP Call-ID, a stream id, a file name).
#[derive(Clone, Debug, PartialEq, Eq, Hash, PartialOrd, Ord, serde::Serialize)]
pub struct CallId(pub String);

impl std::fmt::Display for CallId {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(&self.0)
    }
}
