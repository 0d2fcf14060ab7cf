//! Ingest: one 20 ms frame of encoded payload at the source's rate and channel count in, one bus
//! frame (16 kHz mono f32) out. Decode, downmix and resample into buffers allocated at
//! construction.

use codec::SampleFormat;
use dsp::{ResampleError, Resampler};
use types::{AudioFrame, MediaTime, SampleRate, BUS_RATE, FRAME_MS};

#[derive(Debug, thiserror::Error)]
pub enum IngestError {
    #[error("payload of {actual} bytes, one 20 ms frame is {expected}")]
    FrameLength { expected: usize, actual: usize },
    #[error("{0} channels (mono or stereo)")]
    Channels(u16),
    #[error(transparent)]
    Resample(#[from] ResampleError),
}

#[derive(Debug)]
pub struct Ingest {
    format: SampleFormat,
    channels: u16,
    decoded: Vec<f32>,
    mono: Vec<f32>,
    resampler: Resampler,
    next_time: MediaTime,
}

impl Ingest {
    pub fn new(format: SampleFormat, rate: SampleRate, channels: u16) -> Result<Self, IngestError> {
        if !(1..=2).contains(&channels) {
            return Err(IngestError::Channels(channels));
        }
        let n = rate.frame_samples();
        Ok(Self {
            format,
            channels,
            decoded: vec![0.0; n * usize::from(channels)],
            mono: vec![0.0; n],
            resampler: Resampler::new(rate, BUS_RATE)?,
            next_time: MediaTime::ZERO,
        })
    }

    /// Payload bytes in one 20 ms frame.
    pub fn frame_bytes(&self) -> usize {
        self.decoded.len() * self.format.bytes_per_sample()
    }

    /// Media time the next frame will carry.
    pub fn next_time(&self) -> MediaTime {
        self.next_time
    }

    /// Decodes one 20 ms frame of payload into `out`, stamping it with the stream's media time.
    pub fn push(&mut self, payload: &[u8], out: &mut AudioFrame) -> Result<(), IngestError> {
        if payload.len() != self.frame_bytes() {
            return Err(IngestError::FrameLength { expected: self.frame_bytes(), actual: payload.len() });
        }
        // Lengths were checked just above, so the decode cannot fail on size.
        let _ = codec::decode(self.format, payload, &mut self.decoded);
        let mono: &[f32] = if self.channels == 2 {
            dsp::downmix_stereo(&self.decoded, &mut self.mono);
            &self.mono
        } else {
            &self.decoded
        };
        self.resampler.process(mono, &mut out.samples)?;
        out.time = self.next_time;
        self.next_time = self.next_time + MediaTime::from_millis(u64::from(FRAME_MS));
        Ok(())
    }
}
