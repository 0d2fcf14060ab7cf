//! Branch-free f32 `exp`, `ln`, `tanh` and `sin_cos` for the vocoder's inner loops.
//!
//! The vocoder evaluates about ten transcendental functions per spectral bin, 48 000 bins per
//! second of audio. Through libm that was 40 % of the voice's time (profiled: 23 ms of 53 ms for
//! 3.7 s of speech). These are Cephes' single-precision polynomials with the branches turned
//! into selects, so LLVM vectorizes the loops that call them; accuracy is a few ulp over the
//! ranges the vocoder uses (checked against std below), far below what 16-bit output resolves.

/// Rounds to the nearest integer (ties to even) for |x| < 2^22, without a libm call (`f32::round`
/// is one on x86-64 without SSE4.1): adding 1.5 * 2^23 pushes the fraction out of the mantissa.
#[inline(always)]
fn round(x: f32) -> f32 {
    const MAGIC: f32 = 12_582_912.0;
    (x + MAGIC) - MAGIC
}

/// e^x. Inputs are clamped to [-87, 88] (the normal f32 range of the result).
#[inline(always)]
pub fn exp(x: f32) -> f32 {
    let x = x.clamp(-87.0, 88.0);
    let n = round(x * std::f32::consts::LOG2_E);
    let r = x - n * 0.693_359_4 - n * -2.121_944_4e-4;
    let mut p = 1.987_569_1e-4f32;
    p = p * r + 1.398_199_9e-3;
    p = p * r + 8.333_452e-3;
    p = p * r + 4.166_579_6e-2;
    p = p * r + 1.666_666_5e-1;
    p = p * r + 5.0e-1;
    let y = p * r * r + r + 1.0;
    // 2^n through the exponent bits; n is in [-126, 127] after the clamp.
    y * f32::from_bits(((n as i32 + 127) as u32) << 23)
}

/// Natural logarithm for positive normal `x` (the vocoder's uniform draws, in (0, 1]).
#[inline(always)]
pub fn ln(x: f32) -> f32 {
    let bits = x.to_bits();
    // x = m * 2^e with m in [0.5, 1).
    let mut e = ((bits >> 23) & 0xFF) as i32 - 126;
    let m = f32::from_bits((bits & 0x007F_FFFF) | 0x3F00_0000);
    let small = m < std::f32::consts::FRAC_1_SQRT_2;
    e -= i32::from(small);
    let x = if small { m + m - 1.0 } else { m - 1.0 };
    let z = x * x;
    let mut p = 7.037_683_6e-2f32;
    p = p * x - 1.151_461e-1;
    p = p * x + 1.167_699_9e-1;
    p = p * x - 1.242_014_1e-1;
    p = p * x + 1.424_932_3e-1;
    p = p * x - 1.666_805_8e-1;
    p = p * x + 2.000_071_5e-1;
    p = p * x - 2.499_999_4e-1;
    p = p * x + 3.333_333e-1;
    let fe = e as f32;
    let y = x * z * p + fe * -2.121_944_4e-4 - 0.5 * z;
    x + y + fe * 0.693_359_4
}

/// tanh(x) as 1 - 2 / (e^{2x} + 1); absolute error about 1e-7 (it feeds a phase angle).
#[inline(always)]
pub fn tanh(x: f32) -> f32 {
    let e = exp(2.0 * x.clamp(-9.0, 9.0));
    1.0 - 2.0 / (e + 1.0)
}

/// (sin x, cos x), accurate for |x| up to about 10^4 (the pulse train's largest argument is
/// about 1 700). Quadrant reduction by pi/2 in three parts (Cody-Waite), then the polynomials on
/// [-pi/4, pi/4].
#[inline(always)]
pub fn sin_cos(x: f32) -> (f32, f32) {
    let j = round(x * std::f32::consts::FRAC_2_PI);
    let r = ((x - j * 1.570_312_5) - j * 4.837_513e-4) - j * 7.549_79e-8;
    let z = r * r;
    let s = ((-1.951_529_6e-4 * z + 8.332_161e-3) * z - 1.666_665_5e-1) * z * r + r;
    let c = ((2.443_315_7e-5 * z - 1.388_731_6e-3) * z + 4.166_664_6e-2) * z * z - 0.5 * z + 1.0;
    let q = j as i32;
    let swap = q & 1 != 0;
    let (s, c) = if swap { (c, s) } else { (s, c) };
    // Quadrants 2 and 3 negate the sine; 1 and 2 the cosine.
    let sin_sign = ((q & 2) as u32) << 30;
    let cos_sign = (((q + 1) & 2) as u32) << 30;
    (f32::from_bits(s.to_bits() ^ sin_sign), f32::from_bits(c.to_bits() ^ cos_sign))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn sweep(lo: f32, hi: f32, n: usize) -> impl Iterator<Item = f32> {
        (0..=n).map(move |i| lo + (hi - lo) * i as f32 / n as f32)
    }

    #[test]
    fn exp_is_within_a_few_ulp() {
        for x in sweep(-80.0, 7.0, 100_000) {
            let (got, want) = (exp(x), x.exp());
            assert!(((got - want) / want).abs() < 4e-7, "exp({x}) = {got}, want {want}");
        }
        assert!(exp(-1000.0) >= 0.0 && exp(-1000.0) < 1e-37);
    }

    #[test]
    fn ln_is_within_a_few_ulp() {
        for x in sweep(1e-7, 1.0, 100_000).chain([1.0 / 16_777_216.0, 0.5, f32::from_bits(std::f32::consts::FRAC_1_SQRT_2.to_bits() - 1), std::f32::consts::FRAC_1_SQRT_2]) {
            let (got, want) = (ln(x), x.ln());
            assert!((got - want).abs() <= 2e-7 * want.abs().max(1.0), "ln({x}) = {got}, want {want}");
        }
    }

    #[test]
    fn tanh_is_close_in_absolute_terms() {
        for x in sweep(-20.0, 20.0, 100_000) {
            assert!((tanh(x) - x.tanh()).abs() < 3e-7, "tanh({x})");
        }
    }

    #[test]
    fn sin_cos_is_close_over_the_vocoders_ranges() {
        for x in sweep(-50.0, 50.0, 200_000) {
            let (s, c) = sin_cos(x);
            assert!((s - x.sin()).abs() < 3e-7 && (c - x.cos()).abs() < 3e-7, "sin_cos({x}) = {s}, {c}");
        }
        // Large arguments (the pulse train's h * t): the f32 argument itself is the limit.
        for x in sweep(1_000.0, 2_000.0, 100_000) {
            let (s, c) = sin_cos(x);
            let (ws, wc) = f64::from(x).sin_cos();
            assert!((f64::from(s) - ws).abs() < 1e-6 && (f64::from(c) - wc).abs() < 1e-6, "sin_cos({x})");
        }
    }
}
