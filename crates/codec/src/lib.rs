//! Codecs of the ingest path and the outbound leg: G.711 µ-law and A-law (ITU-T G.711), G.722
//! (ITU-T G.722, 64 kbit/s), Opus (RFC 6716, through libopus), L16 (RFC 3551 §4.5.11) and the
//! payload formats found in WAV files, decoded to `f32` into caller-owned buffers.
//!
//! The stateless formats are pure functions over slices ([`decode`], [`g711`], [`l16`]). The
//! stateful codecs ([`g722`], [`opus`]) are `&mut self` state machines created once per stream;
//! [`payload`] puts the RTP codecs behind one [`Decoder`] / [`Encoder`] pair named by a
//! [`PayloadCodec`]. None of them allocates per frame. [`wav`] reads WAV files into their encoded
//! payload so that a file can be streamed through the same per-frame decode path as a live call.

pub mod g711;
pub mod g722;
pub mod l16;
pub mod opus;
pub mod payload;
pub mod wav;

#[cfg(test)]
mod test_util;

pub use g722::{G722Decoder, G722Encoder};
pub use opus::{OpusDecoder, OpusEncoder, OpusError, OpusSettings};
pub use payload::{CodecError, Decoder, Encoder, PayloadCodec};
pub use wav::{SampleFormat, WavError, WavFile};

/// The caller's output buffer does not match the input.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("output buffer holds {actual} samples, {expected} needed")]
pub struct BufferSize {
    pub expected: usize,
    pub actual: usize,
}

/// Decodes `input`, encoded as `format`, into `out` as `f32` in `[-1.0, 1.0]`. Samples are kept
/// interleaved. Returns the number of samples written, `input.len() / format.bytes_per_sample()`;
/// a trailing partial sample is ignored.
pub fn decode(format: SampleFormat, input: &[u8], out: &mut [f32]) -> Result<usize, BufferSize> {
    let n = input.len() / format.bytes_per_sample();
    if out.len() < n {
        return Err(BufferSize { expected: n, actual: out.len() });
    }
    let out = &mut out[..n];
    match format {
        SampleFormat::Ulaw => g711::ulaw_to_f32(&input[..n], out),
        SampleFormat::Alaw => g711::alaw_to_f32(&input[..n], out),
        SampleFormat::U8 => {
            for (o, &b) in out.iter_mut().zip(input) {
                *o = (f32::from(b) - 128.0) / 128.0;
            }
        }
        SampleFormat::S16Le => l16::le_to_f32(&input[..2 * n], out),
        SampleFormat::S24Le => {
            for (o, c) in out.iter_mut().zip(input.chunks_exact(3)) {
                let v = i32::from_le_bytes([0, c[0], c[1], c[2]]) >> 8;
                *o = v as f32 / 8_388_608.0;
            }
        }
        SampleFormat::S32Le => {
            for (o, c) in out.iter_mut().zip(input.chunks_exact(4)) {
                let v = i32::from_le_bytes([c[0], c[1], c[2], c[3]]);
                *o = v as f32 / 2_147_483_648.0;
            }
        }
        SampleFormat::F32Le => {
            for (o, c) in out.iter_mut().zip(input.chunks_exact(4)) {
                // Clamp: float WAVs may overshoot, and NaN must not reach the models.
                let v = f32::from_le_bytes([c[0], c[1], c[2], c[3]]);
                *o = if v.is_nan() { 0.0 } else { v.clamp(-1.0, 1.0) };
            }
        }
    }
    Ok(n)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn decode_rejects_short_output_buffer() {
        let mut out = [0.0f32; 3];
        let e = decode(SampleFormat::S16Le, &[0u8; 8], &mut out).unwrap_err();
        assert_eq!(e, BufferSize { expected: 4, actual: 3 });
    }

    #[test]
    fn decode_float_clamps_and_scrubs_nan() {
        let mut bytes = Vec::new();
        for v in [0.5f32, 2.0, f32::NAN, -3.0] {
            bytes.extend_from_slice(&v.to_le_bytes());
        }
        let mut out = [9.0f32; 4];
        assert_eq!(decode(SampleFormat::F32Le, &bytes, &mut out), Ok(4));
        assert_eq!(out, [0.5, 1.0, 0.0, -1.0]);
    }

    #[test]
    fn decode_24_bit_sign_extends() {
        let mut out = [0.0f32; 2];
        decode(SampleFormat::S24Le, &[0x00, 0x00, 0x80, 0xff, 0xff, 0x7f], &mut out).unwrap();
        assert_eq!(out[0], -1.0);
        assert!((out[1] - 1.0).abs() < 1e-6);
    }
}
