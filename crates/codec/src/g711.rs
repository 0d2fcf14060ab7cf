//! G.711 µ-law and A-law (ITU-T G.711), the codecs of PSTN trunks (RTP payload types 0 and 8,
//! RFC 3551 §4.5.14).
//!
//! Decoding goes through 256-entry tables built at compile time; encoding is the segment search
//! of the reference algorithm. Both are exact inverses on the codec's 256 code points.

/// µ-law bias added before the segment search (G.711, and Sun's reference `g711.c`).
const ULAW_BIAS: i32 = 0x84;
/// Largest magnitude µ-law can represent before the bias is added.
const ULAW_CLIP: i32 = 32_635;

const fn ulaw_decode_one(code: u8) -> i16 {
    let u = !code;
    let exponent = ((u >> 4) & 0x07) as i32;
    let mantissa = (u & 0x0f) as i32;
    let magnitude = (((mantissa << 3) + ULAW_BIAS) << exponent) - ULAW_BIAS;
    if u & 0x80 != 0 {
        -magnitude as i16
    } else {
        magnitude as i16
    }
}

const fn alaw_decode_one(code: u8) -> i16 {
    let a = code ^ 0x55;
    let exponent = ((a >> 4) & 0x07) as i32;
    let mantissa = (a & 0x0f) as i32;
    let magnitude = if exponent == 0 {
        (mantissa << 4) + 8
    } else {
        ((mantissa << 4) + 0x108) << (exponent - 1)
    };
    if a & 0x80 != 0 {
        magnitude as i16
    } else {
        -magnitude as i16
    }
}

/// Builds a 256-entry decode table at compile time (const fns cannot call fn pointers).
macro_rules! decode_table {
    ($decode_one:ident) => {{
        let mut t = [0i16; 256];
        let mut i = 0;
        while i < 256 {
            t[i] = $decode_one(i as u8);
            i += 1;
        }
        t
    }};
}

/// µ-law code -> linear 16-bit sample.
pub static ULAW_TO_I16: [i16; 256] = decode_table!(ulaw_decode_one);
/// A-law code -> linear 16-bit sample.
pub static ALAW_TO_I16: [i16; 256] = decode_table!(alaw_decode_one);

/// Encodes one linear sample as µ-law.
pub fn ulaw_encode(sample: i16) -> u8 {
    let mut s = i32::from(sample);
    let sign = if s < 0 {
        s = -s;
        0x80
    } else {
        0
    };
    s = s.min(ULAW_CLIP) + ULAW_BIAS;
    // Segment = position of the highest set bit above bit 7 (0..=7).
    let exponent = (31 - (s as u32).leading_zeros()).saturating_sub(7).min(7) as i32;
    let mantissa = (s >> (exponent + 3)) & 0x0f;
    !(sign | (exponent << 4) as u8 | mantissa as u8)
}

/// Encodes one linear sample as A-law.
pub fn alaw_encode(sample: i16) -> u8 {
    // A-law works on 13-bit magnitudes; sign bit set means positive.
    let (sign, mag) = if sample >= 0 {
        (0x80u8, i32::from(sample) >> 3)
    } else {
        (0x00u8, (-i32::from(sample) - 1) >> 3)
    };
    let code = if mag < 32 {
        (mag >> 1) as u8
    } else {
        // Segment 1..=7: the highest set bit of a 13-bit magnitude (at most 4095) is bit 5..=11.
        let exponent = (31 - (mag as u32).leading_zeros()) as i32 - 4;
        let mantissa = (mag >> exponent) & 0x0f;
        ((exponent << 4) as u8) | mantissa as u8
    };
    (sign | code) ^ 0x55
}

pub fn ulaw_to_i16(input: &[u8], out: &mut [i16]) {
    for (o, &c) in out.iter_mut().zip(input) {
        *o = ULAW_TO_I16[usize::from(c)];
    }
}

pub fn alaw_to_i16(input: &[u8], out: &mut [i16]) {
    for (o, &c) in out.iter_mut().zip(input) {
        *o = ALAW_TO_I16[usize::from(c)];
    }
}

pub fn ulaw_to_f32(input: &[u8], out: &mut [f32]) {
    for (o, &c) in out.iter_mut().zip(input) {
        *o = f32::from(ULAW_TO_I16[usize::from(c)]) / 32_768.0;
    }
}

pub fn alaw_to_f32(input: &[u8], out: &mut [f32]) {
    for (o, &c) in out.iter_mut().zip(input) {
        *o = f32::from(ALAW_TO_I16[usize::from(c)]) / 32_768.0;
    }
}

/// Encodes `f32` samples (clamped to `[-1, 1]`) as µ-law, for the outbound leg.
pub fn f32_to_ulaw(input: &[f32], out: &mut [u8]) {
    for (o, &s) in out.iter_mut().zip(input) {
        *o = ulaw_encode(crate::l16::f32_to_i16(s));
    }
}

/// Encodes `f32` samples (clamped to `[-1, 1]`) as A-law, for the outbound leg.
pub fn f32_to_alaw(input: &[f32], out: &mut [u8]) {
    for (o, &s) in out.iter_mut().zip(input) {
        *o = alaw_encode(crate::l16::f32_to_i16(s));
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn ulaw_round_trips_every_code_point() {
        for code in 0..=255u8 {
            let lin = ULAW_TO_I16[usize::from(code)];
            let back = ulaw_encode(lin);
            // 0x7f and 0xff both decode to zero; zero encodes to 0xff.
            assert_eq!(ULAW_TO_I16[usize::from(back)], lin, "code {code:#04x}");
        }
    }

    #[test]
    fn alaw_round_trips_every_code_point() {
        for code in 0..=255u8 {
            let lin = ALAW_TO_I16[usize::from(code)];
            assert_eq!(alaw_encode(lin), code, "code {code:#04x} ({lin})");
        }
    }

    #[test]
    fn known_values_match_g711() {
        // µ-law 0xff and 0x7f are the two zeros; 0x00 is the most negative value.
        assert_eq!(ULAW_TO_I16[0xff], 0);
        assert_eq!(ULAW_TO_I16[0x00], -32_124);
        assert_eq!(ULAW_TO_I16[0x80], 32_124);
        // A-law 0xd5 is the smallest positive step, 0x2a the most negative value.
        assert_eq!(ALAW_TO_I16[0xd5], 8);
        assert_eq!(ALAW_TO_I16[0x2a], -32_256);
        assert_eq!(ulaw_encode(0), 0xff);
        assert_eq!(alaw_encode(0), 0xd5);
    }

    #[test]
    fn encode_error_stays_within_quantization_step() {
        for s in (i16::MIN..=i16::MAX).step_by(7) {
            let u = f32::from(ULAW_TO_I16[usize::from(ulaw_encode(s))]);
            let a = f32::from(ALAW_TO_I16[usize::from(alaw_encode(s))]);
            let x = f32::from(s);
            // Logarithmic companding: half a step is at most ~3 % of the value, plus the
            // smallest step near zero.
            assert!((u - x).abs() <= x.abs() * 0.04 + 16.0, "{s} -> {u}");
            assert!((a - x).abs() <= x.abs() * 0.04 + 16.0, "{s} -> {a}");
        }
    }
}
