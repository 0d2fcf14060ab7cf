//! Linear 16-bit PCM: L16 on the wire is big-endian (RFC 3551 §4.5.11), WAV files and the
//! ACS / media-bot relays carry little-endian.

/// Converts a sample to 16 bits, clamping to the representable range.
pub fn f32_to_i16(s: f32) -> i16 {
    (s.clamp(-1.0, 1.0) * 32_767.0).round() as i16
}

/// Little-endian 16-bit bytes -> `f32`. `out` receives `input.len() / 2` samples.
pub fn le_to_f32(input: &[u8], out: &mut [f32]) {
    for (o, c) in out.iter_mut().zip(input.chunks_exact(2)) {
        *o = f32::from(i16::from_le_bytes([c[0], c[1]])) / 32_768.0;
    }
}

/// Network-order (big-endian) 16-bit bytes, as RTP L16 carries them -> `f32`.
pub fn be_to_f32(input: &[u8], out: &mut [f32]) {
    for (o, c) in out.iter_mut().zip(input.chunks_exact(2)) {
        *o = f32::from(i16::from_be_bytes([c[0], c[1]])) / 32_768.0;
    }
}

/// `f32` -> network-order 16-bit bytes. `out` must hold `2 * input.len()` bytes.
pub fn f32_to_be(input: &[f32], out: &mut [u8]) {
    for (c, &s) in out.chunks_exact_mut(2).zip(input) {
        c.copy_from_slice(&f32_to_i16(s).to_be_bytes());
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn big_endian_round_trip() {
        let samples = [0.0f32, 0.5, -0.5, 0.999, -1.0];
        let mut bytes = [0u8; 10];
        f32_to_be(&samples, &mut bytes);
        assert_eq!(&bytes[2..4], &16_384i16.to_be_bytes());
        let mut back = [0.0f32; 5];
        be_to_f32(&bytes, &mut back);
        for (a, b) in samples.iter().zip(back) {
            assert!((a - b).abs() < 1e-4);
        }
    }
}
