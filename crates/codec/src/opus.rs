//! Opus (RFC 6716) through the system libopus (`opus` crate), for RTP Opus (RFC 7587) and
//! WebRTC.
//!
//! RTP Opus always runs a 48000 Hz clock, whatever bandwidth is actually coded (RFC 7587 §4.1),
//! and SDP always says `opus/48000/2` although a stream may be mono (RFC 7587 §7). Attendant
//! wants one channel, so the decoder is created mono and libopus downmixes stereo packets
//! itself; the decoder's output is always 48 kHz mono. The encoder sends 20 ms mono frames with
//! the VoIP application tuning.
//!
//! Both wrappers work on caller-owned slices. libopus allocates its state once at creation and
//! nothing per packet.

use crate::BufferSize;

/// Sample rate of the decoder's output and the encoder's input.
pub const SAMPLE_RATE: types::SampleRate = types::SampleRate::HZ_48000;
/// RTP clock rate of Opus (RFC 7587 §4.1).
pub const RTP_CLOCK_HZ: u32 = 48_000;
/// 48 kHz samples in one 20 ms frame, the packet duration Attendant sends.
pub const FRAME_SAMPLES: usize = 960;
/// 48 kHz samples in the longest packet Opus allows, 120 ms (RFC 6716 §3.2.5).
pub const MAX_PACKET_SAMPLES: usize = 5_760;
/// Frame sizes the encoder accepts at 48 kHz: 2.5, 5, 10, 20, 40 and 60 ms (RFC 6716 §2.1.4).
const ENCODER_FRAME_SAMPLES: [usize; 6] = [120, 240, 480, 960, 1_920, 2_880];
/// Concealment and FEC must be asked for in whole 2.5 ms steps (libopus `opus_decode`).
const PLC_STEP: usize = 120;
/// Bitrates Opus codes (RFC 6716 §2.1.1: 6 to 510 kbit/s).
const BITRATE_RANGE: std::ops::RangeInclusive<u32> = 6_000..=510_000;

#[derive(Debug, thiserror::Error)]
pub enum OpusError {
    /// The payload is not a valid Opus packet (RFC 6716 §3.4); libopus or the table of
    /// contents rejected it.
    #[error("corrupt Opus packet of {len} bytes")]
    CorruptPacket { len: usize },
    #[error(transparent)]
    BufferSize(#[from] BufferSize),
    #[error("{0} samples is not an Opus frame at 48 kHz (2.5, 5, 10, 20, 40 or 60 ms)")]
    FrameSize(usize),
    #[error("the encoded packet does not fit in {0} bytes")]
    PacketTooLarge(usize),
    #[error("bitrate {0} bit/s is outside Opus's 6000..=510000")]
    Bitrate(u32),
    #[error("libopus: {0}")]
    Library(#[from] ::opus::Error),
}

/// Opus encoder settings the user chooses; the SDP answer may override `inband_fec`.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct OpusSettings {
    /// Target bitrate in bit/s. Default 24000: wideband speech with margin (RFC 7587 §3.1.1
    /// recommends 16-20 kbit/s for wideband speech).
    pub bitrate: u32,
    /// In-band forward error correction (LBRR), so that a receiver can rebuild a lost packet
    /// from the next one (RFC 7587 §3.3, SDP `useinbandfec`). Default false.
    pub inband_fec: bool,
    /// Expected packet loss in percent, 0-100; FEC spends bits according to it. Default 0.
    pub expected_loss_percent: u8,
}

impl Default for OpusSettings {
    fn default() -> Self {
        Self { bitrate: 24_000, inband_fec: false, expected_loss_percent: 0 }
    }
}

/// Opus decoder: one RTP payload -> 48 kHz mono `f32`.
#[derive(Debug)]
pub struct OpusDecoder {
    inner: ::opus::Decoder,
    /// Duration of the last packet decoded, the length a loss is concealed for.
    last_samples: usize,
}

impl OpusDecoder {
    pub fn new() -> Result<Self, OpusError> {
        let inner = ::opus::Decoder::new(SAMPLE_RATE.hz(), ::opus::Channels::Mono)?;
        Ok(Self { inner, last_samples: FRAME_SAMPLES })
    }

    /// Decodes one Opus packet (one RTP payload, RFC 7587 §4.2) into `out` as samples in
    /// `[-1, 1]`; returns the number of samples written, the packet's duration. `out` must
    /// hold that duration ([`MAX_PACKET_SAMPLES`] covers every packet).
    ///
    /// An empty payload is an error, not a loss: Opus packets are at least one byte
    /// (RFC 6716 §3.4, requirement R1); call [`OpusDecoder::conceal`] for a lost packet.
    pub fn decode(&mut self, packet: &[u8], out: &mut [f32]) -> Result<usize, OpusError> {
        let n = packet_samples(packet)?;
        if out.len() < n {
            return Err(BufferSize { expected: n, actual: out.len() }.into());
        }
        let written = self
            .inner
            .decode_float(packet, &mut out[..n], false)
            .map_err(|e| map_error(e, packet))?;
        self.last_samples = written;
        clamp(&mut out[..written]);
        Ok(written)
    }

    /// Packet loss concealment: fills `out` with libopus's extrapolation of the last packets for
    /// the duration of the last packet (at most `out.len()`, in whole 2.5 ms steps). Returns the
    /// number of samples written.
    pub fn conceal(&mut self, out: &mut [f32]) -> Result<usize, OpusError> {
        self.decode_missing(&[], out)
    }

    /// Rebuilds the packet lost just before `next` from the forward error correction data
    /// `next` carries (RFC 6716 §2.1.7); libopus falls back to concealment when there is none.
    /// Decode `next` itself afterwards. Returns the number of samples written into `out`.
    pub fn recover(&mut self, next: &[u8], out: &mut [f32]) -> Result<usize, OpusError> {
        if next.is_empty() {
            return Err(OpusError::CorruptPacket { len: 0 });
        }
        packet_samples(next)?;
        self.decode_missing(next, out)
    }

    /// Back to the state of a new decoder, for a new stream (a changed SSRC).
    pub fn reset(&mut self) -> Result<(), OpusError> {
        self.last_samples = FRAME_SAMPLES;
        Ok(self.inner.reset_state()?)
    }

    fn decode_missing(&mut self, fec_from: &[u8], out: &mut [f32]) -> Result<usize, OpusError> {
        let n = self.last_samples.min(out.len()) / PLC_STEP * PLC_STEP;
        if n == 0 {
            return Err(BufferSize { expected: PLC_STEP, actual: out.len() }.into());
        }
        let fec = !fec_from.is_empty();
        let written = self
            .inner
            .decode_float(fec_from, &mut out[..n], fec)
            .map_err(|e| map_error(e, fec_from))?;
        clamp(&mut out[..written]);
        Ok(written)
    }
}

/// Opus encoder: 48 kHz mono `f32` frames -> one packet each.
#[derive(Debug)]
pub struct OpusEncoder {
    inner: ::opus::Encoder,
}

impl OpusEncoder {
    pub fn new(settings: OpusSettings) -> Result<Self, OpusError> {
        let inner = ::opus::Encoder::new(
            SAMPLE_RATE.hz(),
            ::opus::Channels::Mono,
            ::opus::Application::Voip,
        )?;
        let mut encoder = Self { inner };
        encoder.apply(settings)?;
        Ok(encoder)
    }

    /// Changes the settings mid-stream (a new SDP answer, a bitrate change).
    pub fn apply(&mut self, settings: OpusSettings) -> Result<(), OpusError> {
        self.set_bitrate(settings.bitrate)?;
        self.inner.set_inband_fec(settings.inband_fec)?;
        self.inner.set_packet_loss_perc(i32::from(settings.expected_loss_percent.min(100)))?;
        Ok(())
    }

    pub fn set_bitrate(&mut self, bits_per_second: u32) -> Result<(), OpusError> {
        if !BITRATE_RANGE.contains(&bits_per_second) {
            return Err(OpusError::Bitrate(bits_per_second));
        }
        // In range, so it fits an i32.
        let bps =
            i32::try_from(bits_per_second).map_err(|_| OpusError::Bitrate(bits_per_second))?;
        Ok(self.inner.set_bitrate(::opus::Bitrate::Bits(bps))?)
    }

    /// Encodes one frame of `pcm` (20 ms = [`FRAME_SAMPLES`]; 2.5-60 ms are accepted) into
    /// `out`; returns the packet's length. 1275 bytes hold any 20 ms packet (RFC 6716 §3.2.1).
    pub fn encode(&mut self, pcm: &[f32], out: &mut [u8]) -> Result<usize, OpusError> {
        if !ENCODER_FRAME_SAMPLES.contains(&pcm.len()) {
            return Err(OpusError::FrameSize(pcm.len()));
        }
        if out.is_empty() {
            // libopus calls this a bad argument; it is the same failure as too small a buffer.
            return Err(OpusError::PacketTooLarge(0));
        }
        self.inner.encode_float(pcm, out).map_err(|e| match e.code() {
            ::opus::ErrorCode::BufferTooSmall => OpusError::PacketTooLarge(out.len()),
            _ => OpusError::Library(e),
        })
    }

    /// Back to the state of a new encoder, keeping the settings.
    pub fn reset(&mut self) -> Result<(), OpusError> {
        Ok(self.inner.reset_state()?)
    }
}

/// The packet's duration at 48 kHz from its table of contents (RFC 6716 §3.1-§3.2), which
/// also rejects empty packets and code-3 packets with a bad frame count.
fn packet_samples(packet: &[u8]) -> Result<usize, OpusError> {
    if packet.is_empty() {
        return Err(OpusError::CorruptPacket { len: 0 });
    }
    match ::opus::packet::get_nb_samples(packet, SAMPLE_RATE.hz()) {
        // A code-3 packet may count zero frames, which libopus only rejects at decode time.
        Ok(0) | Err(_) => Err(OpusError::CorruptPacket { len: packet.len() }),
        Ok(n) => Ok(n),
    }
}

/// libopus's float output is not limited: a loud or malformed packet can exceed full scale,
/// which the `i16` path would have clipped. The rest of the worker expects `[-1, 1]`.
fn clamp(pcm: &mut [f32]) {
    for s in pcm {
        *s = s.clamp(-1.0, 1.0);
    }
}

/// libopus's verdict on a packet as a typed error. Buffer sizes are checked before libopus is
/// called, so its other errors are not the packet's fault.
fn map_error(e: ::opus::Error, packet: &[u8]) -> OpusError {
    match e.code() {
        ::opus::ErrorCode::InvalidPacket => OpusError::CorruptPacket { len: packet.len() },
        _ => OpusError::Library(e),
    }
}

#[cfg(test)]
mod tests;
