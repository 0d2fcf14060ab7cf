//! The codecs of the RTP path behind one type. [`PayloadCodec`] names a negotiated codec and
//! knows its clocks; [`Decoder`] turns payloads into PCM at the codec's own sample rate (the
//! resampler to the 16 kHz frame bus comes after it) and conceals lost packets; [`Encoder`] makes
//! payloads for the outbound leg.
//!
//! Both are created once per stream; `decode`, `conceal` and `encode` only write into the
//! caller's slices.

use crate::g722::{G722Decoder, G722Encoder};
use crate::opus::{OpusDecoder, OpusEncoder, OpusError, OpusSettings};
use crate::{g711, BufferSize};
use types::SampleRate;

/// An audio codec negotiated for RTP.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum PayloadCodec {
    /// G.711 µ-law (RFC 3551 §4.5.14).
    Pcmu,
    /// G.711 A-law (RFC 3551 §4.5.14).
    Pcma,
    /// G.722 at 64 kbit/s (RFC 3551 §4.5.2).
    G722,
    /// Opus (RFC 7587).
    Opus,
}

impl PayloadCodec {
    pub const ALL: [Self; 4] = [Self::Pcmu, Self::Pcma, Self::G722, Self::Opus];

    /// RTP timestamp clock in Hz: 8000 for G.711 and also for G.722, whose audio is sampled at
    /// 16 kHz (RFC 3551 §4.5.2 and Table 4); 48000 for Opus at every bandwidth (RFC 7587 §4.1).
    pub const fn rtp_clock_hz(self) -> u32 {
        match self {
            Self::Pcmu | Self::Pcma | Self::G722 => 8_000,
            Self::Opus => crate::opus::RTP_CLOCK_HZ,
        }
    }

    /// Rate of the PCM the decoder writes and the encoder reads.
    pub const fn sample_rate(self) -> SampleRate {
        match self {
            Self::Pcmu | Self::Pcma => SampleRate::HZ_8000,
            Self::G722 => crate::g722::SAMPLE_RATE,
            Self::Opus => crate::opus::SAMPLE_RATE,
        }
    }

    /// PCM samples in 20 ms at [`PayloadCodec::sample_rate`]: 160, 160, 320, 960.
    pub const fn frame_samples(self) -> usize {
        self.sample_rate().frame_samples()
    }

    /// RTP timestamp advance per 20 ms: 160, 160, 160, 960.
    pub const fn frame_ticks(self) -> u32 {
        self.rtp_clock_hz() / 50
    }

    /// Payload octets per 20 ms of the constant-rate codecs; `None` for Opus, whose packets
    /// vary.
    pub const fn frame_bytes(self) -> Option<usize> {
        match self {
            Self::Pcmu | Self::Pcma => Some(160),
            Self::G722 => Some(crate::g722::FRAME_BYTES),
            Self::Opus => None,
        }
    }

    /// The static payload type (RFC 3551 §6, Table 4); Opus always uses a dynamic one
    /// (RFC 7587 §7).
    pub const fn static_payload_type(self) -> Option<u8> {
        match self {
            Self::Pcmu => Some(0),
            Self::Pcma => Some(8),
            Self::G722 => Some(9),
            Self::Opus => None,
        }
    }

    /// The codec of a static payload type, where it is one of these.
    pub const fn from_static_payload_type(pt: u8) -> Option<Self> {
        match pt {
            0 => Some(Self::Pcmu),
            8 => Some(Self::Pcma),
            9 => Some(Self::G722),
            _ => None,
        }
    }

    /// Encoding name of SDP `a=rtpmap` (RFC 3551 Table 4, RFC 7587 §7).
    pub const fn encoding_name(self) -> &'static str {
        match self {
            Self::Pcmu => "PCMU",
            Self::Pcma => "PCMA",
            Self::G722 => "G722",
            Self::Opus => "opus",
        }
    }

    /// The codec an `a=rtpmap` encoding name denotes. Encoding names are media subtype names
    /// (RFC 4855 §3), which are case-insensitive (RFC 6838 §4.2).
    pub fn from_encoding_name(name: &str) -> Option<Self> {
        Self::ALL.into_iter().find(|c| c.encoding_name().eq_ignore_ascii_case(name))
    }
}

impl std::fmt::Display for PayloadCodec {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(self.encoding_name())
    }
}

#[derive(Debug, thiserror::Error)]
pub enum CodecError {
    /// The decoder's output buffer cannot hold the payload's samples.
    #[error(transparent)]
    BufferSize(#[from] BufferSize),
    /// The encoder's output buffer cannot hold the payload.
    #[error("output buffer holds {actual} bytes, {expected} needed")]
    OutputTooSmall { expected: usize, actual: usize },
    #[error("G.722 codes pairs of samples: {0} samples is odd")]
    OddSampleCount(usize),
    #[error(transparent)]
    Opus(#[from] OpusError),
}

/// Longest stretch a waveform decoder keeps for concealment: 20 ms of G.722.
const HISTORY: usize = crate::g722::FRAME_SAMPLES;
/// Concealment fades the repeated audio to silence over this many 20 ms frames: 60 ms, after
/// which G.711 Appendix I mutes as well. Longer repetition sounds like a machine, not a caller.
const FADE_FRAMES: f32 = 3.0;

/// Decodes one negotiated codec's payloads to `f32` PCM at [`PayloadCodec::sample_rate`].
#[derive(Debug)]
pub struct Decoder {
    codec: PayloadCodec,
    state: DecoderState,
    /// The end of the last decoded audio, repeated to conceal G.711 and G.722 losses.
    history: [f32; HISTORY],
    history_len: usize,
    /// Frames concealed since the last decoded payload.
    lost: u32,
}

#[derive(Debug)]
enum DecoderState {
    G711,
    // Boxed: the QMF and predictor state would make every variant a few hundred bytes.
    G722(Box<G722Decoder>),
    Opus(OpusDecoder),
}

impl Decoder {
    pub fn new(codec: PayloadCodec) -> Result<Self, CodecError> {
        let state = match codec {
            PayloadCodec::Pcmu | PayloadCodec::Pcma => DecoderState::G711,
            PayloadCodec::G722 => DecoderState::G722(Box::default()),
            PayloadCodec::Opus => DecoderState::Opus(OpusDecoder::new()?),
        };
        Ok(Self { codec, state, history: [0.0; HISTORY], history_len: 0, lost: 0 })
    }

    pub fn codec(&self) -> PayloadCodec {
        self.codec
    }

    /// Decodes one RTP payload into `out`; returns the number of samples written. `out` must
    /// hold them all: one per octet for G.711, two per octet for G.722, the packet's duration
    /// for Opus (at most 5760).
    pub fn decode(&mut self, payload: &[u8], out: &mut [f32]) -> Result<usize, CodecError> {
        let n = match &mut self.state {
            DecoderState::G711 => {
                let out = checked(out, payload.len())?;
                match self.codec {
                    PayloadCodec::Pcma => g711::alaw_to_f32(payload, out),
                    _ => g711::ulaw_to_f32(payload, out),
                }
                payload.len()
            }
            DecoderState::G722(d) => d.decode_f32(payload, checked(out, 2 * payload.len())?),
            DecoderState::Opus(d) => d.decode(payload, out)?,
        };
        if !matches!(self.state, DecoderState::Opus(_)) {
            let keep = n.min(HISTORY);
            self.history[..keep].copy_from_slice(&out[n - keep..n]);
            self.history_len = keep;
        }
        self.lost = 0;
        Ok(n)
    }

    /// Fills 20 ms of `out` (or all of it, if shorter) in place of a lost packet; returns the
    /// number of samples written. Opus uses libopus's concealment; G.711 and G.722 repeat the
    /// last decoded audio with a fade to silence over 60 ms. The G.722 predictor is left as it
    /// is: it missed the lost codes, and adapts back to the sender's within a few milliseconds.
    pub fn conceal(&mut self, out: &mut [f32]) -> usize {
        let n = self.codec.frame_samples().min(out.len());
        let out = &mut out[..n];
        let lost = self.lost;
        self.lost = self.lost.saturating_add(1);
        if let DecoderState::Opus(d) = &mut self.state {
            // libopus fades on its own. It only fails for less than 2.5 ms of room.
            return d.conceal(out).unwrap_or_else(|_| {
                out.fill(0.0);
                n
            });
        }
        if self.history_len == 0 {
            out.fill(0.0);
            return n;
        }
        let start = 1.0 - lost as f32 / FADE_FRAMES;
        let step = 1.0 / (FADE_FRAMES * n as f32);
        for (i, o) in out.iter_mut().enumerate() {
            let gain = (start - step * i as f32).max(0.0);
            *o = self.history[i % self.history_len] * gain;
        }
        n
    }

    /// Conceals the packet lost just before `next`, from the forward error correction that an
    /// Opus `next` may carry (RFC 7587 §3.3); plain [`Decoder::conceal`] otherwise. Decode
    /// `next` itself afterwards. Returns the number of samples written.
    pub fn recover(&mut self, next: &[u8], out: &mut [f32]) -> usize {
        if let DecoderState::Opus(d) = &mut self.state {
            let n = self.codec.frame_samples().min(out.len());
            if let Ok(k) = d.recover(next, &mut out[..n]) {
                self.lost = self.lost.saturating_add(1);
                return k;
            }
        }
        self.conceal(out)
    }

    /// Back to the state of a new decoder, for a new stream (a changed SSRC).
    pub fn reset(&mut self) -> Result<(), CodecError> {
        match &mut self.state {
            DecoderState::G711 => {}
            DecoderState::G722(d) => d.reset(),
            DecoderState::Opus(d) => d.reset()?,
        }
        self.history_len = 0;
        self.lost = 0;
        Ok(())
    }
}

/// `out[..n]`, or the error naming both sizes.
fn checked(out: &mut [f32], n: usize) -> Result<&mut [f32], BufferSize> {
    let actual = out.len();
    out.get_mut(..n).ok_or(BufferSize { expected: n, actual })
}

/// Encodes `f32` PCM at [`PayloadCodec::sample_rate`] into RTP payloads of one codec.
#[derive(Debug)]
pub struct Encoder {
    codec: PayloadCodec,
    state: EncoderState,
}

#[derive(Debug)]
enum EncoderState {
    G711,
    G722(Box<G722Encoder>),
    Opus(OpusEncoder),
}

impl Encoder {
    /// `opus` is used only by [`PayloadCodec::Opus`].
    pub fn new(codec: PayloadCodec, opus: OpusSettings) -> Result<Self, CodecError> {
        let state = match codec {
            PayloadCodec::Pcmu | PayloadCodec::Pcma => EncoderState::G711,
            PayloadCodec::G722 => EncoderState::G722(Box::default()),
            PayloadCodec::Opus => EncoderState::Opus(OpusEncoder::new(opus)?),
        };
        Ok(Self { codec, state })
    }

    pub fn codec(&self) -> PayloadCodec {
        self.codec
    }

    /// Encodes `pcm` (clamped to `[-1, 1]`) as one payload into `out`; returns its length.
    /// G.711 writes one octet per sample, G.722 one per pair (an even count is required);
    /// Opus takes one frame of 2.5 to 60 ms, normally [`PayloadCodec::frame_samples`].
    pub fn encode(&mut self, pcm: &[f32], out: &mut [u8]) -> Result<usize, CodecError> {
        match &mut self.state {
            EncoderState::G711 => {
                let out = checked_bytes(out, pcm.len())?;
                match self.codec {
                    PayloadCodec::Pcma => g711::f32_to_alaw(pcm, out),
                    _ => g711::f32_to_ulaw(pcm, out),
                }
                Ok(pcm.len())
            }
            EncoderState::G722(e) => {
                if pcm.len() % 2 == 1 {
                    return Err(CodecError::OddSampleCount(pcm.len()));
                }
                Ok(e.encode_f32(pcm, checked_bytes(out, pcm.len() / 2)?))
            }
            EncoderState::Opus(e) => Ok(e.encode(pcm, out)?),
        }
    }

    /// Back to the state of a new encoder, for a new stream.
    pub fn reset(&mut self) -> Result<(), CodecError> {
        match &mut self.state {
            EncoderState::G711 => {}
            EncoderState::G722(e) => e.reset(),
            EncoderState::Opus(e) => e.reset()?,
        }
        Ok(())
    }
}

fn checked_bytes(out: &mut [u8], n: usize) -> Result<&mut [u8], CodecError> {
    let actual = out.len();
    out.get_mut(..n).ok_or(CodecError::OutputTooSmall { expected: n, actual })
}

#[cfg(test)]
mod tests;
