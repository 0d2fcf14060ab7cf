//! G.722 (ITU-T G.722, 7 kHz audio coding within 64 kbit/s), mode 1: 64 kbit/s sub-band ADPCM,
//! RTP payload type 9 (RFC 3551 §4.5.2).
//!
//! The 16 kHz signal is split by a quadrature mirror filter (QMF) into a lower and a higher
//! 8 kHz sub-band, coded with 6 and 2 bits per sample: one octet per pair of input samples,
//! higher-band bits in the two most significant places (`IH2 IH1 IL6 .. IL1`). RTP carries the
//! octets as they are, and stamps them with an 8000 Hz clock although the audio is sampled at
//! 16 kHz (RFC 3551 §4.5.2, an early error kept for compatibility): 20 ms = 160 octets =
//! 320 samples = 160 clock ticks.
//!
//! The arithmetic is the recommendation's 16-bit fixed point, so the output is bit-exact with
//! other implementations that follow it (encoder and decoder are checked against FFmpeg's in
//! the tests). Both directions take and write full-scale 16-bit PCM, as VoIP implementations do,
//! rather than the recommendation's 14-bit uniform PCM.
//!
//! Encoder and decoder are `&mut self` state machines over caller-owned slices; nothing
//! allocates. Every octet is a valid code, so decoding never fails.

mod adpcm;

use adpcm::Band;

/// Samples per second of the audio G.722 codes.
pub const SAMPLE_RATE: types::SampleRate = types::SampleRate::HZ_16000;
/// RTP clock rate of G.722 (RFC 3551 §4.5.2 and Table 4): 8000 Hz, not the 16 kHz sample rate.
pub const RTP_CLOCK_HZ: u32 = 8_000;
/// Octets in 20 ms: one per sample pair.
pub const FRAME_BYTES: usize = 160;
/// 16 kHz samples in 20 ms.
pub const FRAME_SAMPLES: usize = 320;

/// The 24-tap QMF of G.722 clauses 3.1 and 4.4: the even coefficients h0, h2, .., h22, scaled by
/// 2^13. The odd ones are the same in reverse order (the filter is symmetric).
const QMF: [i32; 12] = [3, -11, 12, 32, -210, 951, 3876, -805, 362, -156, 53, -11];
const QMF_TAPS: usize = 24;

/// G.722 encoder: 16 kHz 16-bit PCM -> one octet per sample pair.
#[derive(Clone, Debug)]
pub struct G722Encoder {
    /// Transmit QMF delay line, oldest first.
    qmf: [i32; QMF_TAPS],
    low: Band,
    high: Band,
}

/// G.722 decoder: octets -> 16 kHz 16-bit PCM, two samples per octet.
#[derive(Clone, Debug)]
pub struct G722Decoder {
    /// Receive QMF delay line, oldest first: pairs of (RL + RH, RL - RH).
    qmf: [i32; QMF_TAPS],
    low: Band,
    high: Band,
}

impl Default for G722Encoder {
    fn default() -> Self {
        Self::new()
    }
}

impl Default for G722Decoder {
    fn default() -> Self {
        Self::new()
    }
}

impl G722Encoder {
    pub const fn new() -> Self {
        Self { qmf: [0; QMF_TAPS], low: Band::lower(), high: Band::higher() }
    }

    /// Back to the recommendation's reset state, as at the start of a new stream.
    pub fn reset(&mut self) {
        *self = Self::new();
    }

    /// Encodes pairs of samples from `input` into `out`, one octet per pair, as many as both
    /// slices hold: `min(input.len() / 2, out.len())`. Returns the number of octets written. A
    /// trailing odd sample is not consumed.
    pub fn encode(&mut self, input: &[i16], out: &mut [u8]) -> usize {
        let n = (input.len() / 2).min(out.len());
        for (o, pair) in out[..n].iter_mut().zip(input.chunks_exact(2)) {
            *o = self.encode_pair(i32::from(pair[0]), i32::from(pair[1]));
        }
        n
    }

    /// [`G722Encoder::encode`] for `f32` samples in `[-1, 1]` (clamped).
    pub fn encode_f32(&mut self, input: &[f32], out: &mut [u8]) -> usize {
        let n = (input.len() / 2).min(out.len());
        for (o, pair) in out[..n].iter_mut().zip(input.chunks_exact(2)) {
            let (a, b) = (crate::l16::f32_to_i16(pair[0]), crate::l16::f32_to_i16(pair[1]));
            *o = self.encode_pair(i32::from(a), i32::from(b));
        }
        n
    }

    fn encode_pair(&mut self, first: i32, second: i32) -> u8 {
        // Transmit QMF (G.722 clause 3.1): XA over the newer sample of each pair with the even
        // coefficients, XB over the older with the odd ones; XL = XA + XB, XH = XA - XB.
        self.qmf.copy_within(2.., 0);
        self.qmf[QMF_TAPS - 2] = first;
        self.qmf[QMF_TAPS - 1] = second;
        let (mut xa, mut xb) = (0, 0);
        for (i, &h) in QMF.iter().enumerate() {
            xb += self.qmf[2 * i] * h;
            xa += self.qmf[2 * i + 1] * QMF[QMF.len() - 1 - i];
        }
        // Coefficients carry 2^13 and the sum of both phases another 2: a 16-bit input gives
        // 15-bit sub-band signals, the range the ADPCM limits expect.
        let xl = (xa + xb) >> 14;
        let xh = (xa - xb) >> 14;

        let il = self.low.quantize_lower(xl);
        self.low.adapt_lower(il);
        let ih = self.high.quantize_higher(xh);
        self.high.adapt_higher(ih);
        (ih << 6) | il
    }
}

impl G722Decoder {
    pub const fn new() -> Self {
        Self { qmf: [0; QMF_TAPS], low: Band::lower(), high: Band::higher() }
    }

    /// Back to the recommendation's reset state, as at the start of a new stream.
    pub fn reset(&mut self) {
        *self = Self::new();
    }

    /// Decodes octets from `input` into `out`, two samples per octet, as many as both slices
    /// hold: `min(input.len(), out.len() / 2)` octets. Returns the number of samples written.
    pub fn decode(&mut self, input: &[u8], out: &mut [i16]) -> usize {
        let n = input.len().min(out.len() / 2);
        for (&code, pair) in input[..n].iter().zip(out.chunks_exact_mut(2)) {
            let (a, b) = self.decode_octet(code);
            pair[0] = a;
            pair[1] = b;
        }
        2 * n
    }

    /// [`G722Decoder::decode`] into `f32` samples in `[-1, 1)`.
    pub fn decode_f32(&mut self, input: &[u8], out: &mut [f32]) -> usize {
        let n = input.len().min(out.len() / 2);
        for (&code, pair) in input[..n].iter().zip(out.chunks_exact_mut(2)) {
            let (a, b) = self.decode_octet(code);
            pair[0] = f32::from(a) / 32_768.0;
            pair[1] = f32::from(b) / 32_768.0;
        }
        2 * n
    }

    fn decode_octet(&mut self, code: u8) -> (i16, i16) {
        let il = code & 0x3f;
        let ih = code >> 6;
        // Lower band: the 6-bit output uses the scale factor before this code's adaptation.
        let rl = self.low.reconstruct_lower(il);
        self.low.adapt_lower(il);
        // Higher band: RH = SH + DH with the prediction from before the update, LIMIT.
        let sh = self.high.prediction();
        let dh = self.high.adapt_higher(ih);
        let rh = (sh + dh).clamp(-16_384, 16_383);

        // Receive QMF (G.722 clause 4.4): XD = RL - RH through the even coefficients gives the
        // first output sample, XS = RL + RH through the odd ones the second.
        self.qmf.copy_within(2.., 0);
        self.qmf[QMF_TAPS - 2] = rl + rh;
        self.qmf[QMF_TAPS - 1] = rl - rh;
        let (mut xout1, mut xout2) = (0, 0);
        for (i, &h) in QMF.iter().enumerate() {
            xout2 += self.qmf[2 * i] * h;
            xout1 += self.qmf[2 * i + 1] * QMF[QMF.len() - 1 - i];
        }
        // 2^13 coefficient scale, times 2 for the interpolation by two.
        (sat_i16(xout1 >> 11), sat_i16(xout2 >> 11))
    }
}

fn sat_i16(x: i32) -> i16 {
    x.clamp(i32::from(i16::MIN), i32::from(i16::MAX)) as i16
}

#[cfg(test)]
mod tests;
