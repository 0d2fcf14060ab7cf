//! The two sub-band ADPCM coders of G.722: quantizers, inverse quantizers, scale factor
//! adaptation and the pole-zero predictor. ITU-T G.722 describes them in clauses 3 (encoder) and
//! 4 (decoder) and specifies them bit for bit, block by block, in clause 6.2.
//!
//! Block and variable names follow the recommendation (QUANTL, INVQAL, LOGSCL, SCALEL, ...; the
//! "L" blocks are the lower band, "H" the higher band, block 4 is shared); the tables below keep
//! the recommendation's column names (Q6, ILN, ILP, QQ6, QQ4, WL, ILB, QQ2, WH). Arithmetic is the
//! recommendation's fixed point: 16-bit words with saturating additions and `(a * b) >> 15`
//! multiplications, so that two implementations produce the same bits.

/// Saturates to a 16-bit word, as every addition of the recommendation does.
#[inline]
fn sat16(x: i32) -> i32 {
    x.clamp(-32_768, 32_767)
}

/// `(a * b) >> 15`: the recommendation's multiplication of two 16-bit words.
#[inline]
fn mult(a: i32, b: i32) -> i32 {
    (a * b) >> 15
}

/// Sign bit of a 16-bit word ("SG" in block 4); zero counts as positive.
#[inline]
fn negative(x: i32) -> bool {
    x < 0
}

// --- Lower band ----------------------------------------------------------------------------

/// QUANTL decision levels Q6, compared with the magnitude after scaling by DETL >> 12.
const Q6: [i32; 30] = [
    0, 35, 72, 110, 150, 190, 233, 276, 323, 370, 422, 473, 530, 587, 650, 714, 786, 858, 940,
    1023, 1121, 1219, 1339, 1458, 1612, 1765, 1980, 2195, 2557, 2919,
];
/// QUANTL output codes for a negative difference, by quantizer interval ("ILN").
const ILN: [u8; 31] = [
    0, 63, 62, 31, 30, 29, 28, 27, 26, 25, 24, 23, 22, 21, 20, 19, 18, 17, 16, 15, 14, 13, 12, 11,
    10, 9, 8, 7, 6, 5, 4,
];
/// QUANTL output codes for a non-negative difference ("ILP").
const ILP: [u8; 31] = [
    0, 61, 60, 59, 58, 57, 56, 55, 54, 53, 52, 51, 50, 49, 48, 47, 46, 45, 44, 43, 42, 41, 40, 39,
    38, 37, 36, 35, 34, 33, 32,
];

/// INVQBL, 6-bit (mode 1) inverse quantizer: the output levels QQ6, times 8, by code.
/// Codes 0-3 are never sent; the recommendation maps them to the smallest negative level.
const QM6: [i32; 64] = [
    -136, -136, -136, -136, -24808, -21904, -19008, -16704, -14984, -13512, -12280, -11192, -10232,
    -9360, -8576, -7856, -7192, -6576, -6000, -5456, -4944, -4464, -4008, -3576, -3168, -2776,
    -2400, -2032, -1688, -1360, -1040, -728, 24808, 21904, 19008, 16704, 14984, 13512, 12280,
    11192, 10232, 9360, 8576, 7856, 7192, 6576, 6000, 5456, 4944, 4464, 4008, 3576, 3168, 2776,
    2400, 2032, 1688, 1360, 1040, 728, 432, 136, -432, -136,
];

/// INVQAL, the 4-bit inverse quantizer that feeds the predictor in every mode (QQ4, times 8),
/// by the 4 most significant bits of the lower-band code.
const QM4: [i32; 16] = [
    0, -20456, -12896, -8968, -6288, -4240, -2584, -1200, 20456, 12896, 8968, 6288, 4240, 2584,
    1200, 0,
];

/// LOGSCL: 4-bit code "RIL" -> magnitude "IL4", the index into [`WL`].
const RL42: [usize; 16] = [0, 7, 6, 5, 4, 3, 2, 1, 7, 6, 5, 4, 3, 2, 1, 0];
/// LOGSCL log scale factor multipliers ("WL").
const WL: [i32; 8] = [-60, -30, 58, 172, 334, 538, 1198, 3042];
/// Upper limit of NBL (LOGSCL).
const NBL_MAX: i32 = 18_432;

/// SCALEL/SCALEH antilog table "ILB": `round(2048 * 2^(i/32))`.
pub(super) const ILB: [i32; 32] = [
    2048, 2093, 2139, 2186, 2233, 2282, 2332, 2383, 2435, 2489, 2543, 2599, 2656, 2714, 2774, 2834,
    2896, 2960, 3025, 3091, 3158, 3228, 3298, 3371, 3444, 3520, 3597, 3676, 3756, 3838, 3922, 4008,
];

// --- Higher band ---------------------------------------------------------------------------

/// QUANTH decision level Q2.
const Q2: i32 = 564;
/// QUANTH codes by interval (1 = inner, 2 = outer) for negative / non-negative differences.
const IHN: [u8; 3] = [0, 1, 0];
const IHP: [u8; 3] = [0, 3, 2];
/// INVQAH output levels (QQ2, times 8), by 2-bit code.
const QM2: [i32; 4] = [-7408, -1616, 7408, 1616];
/// LOGSCH: 2-bit code -> magnitude "IH2", the index into [`WH`].
const RH2: [usize; 4] = [2, 1, 2, 1];
/// LOGSCH log scale factor multipliers ("WH").
const WH: [i32; 3] = [0, -214, 798];
/// Upper limit of NBH (LOGSCH).
const NBH_MAX: i32 = 22_528;

/// State of one sub-band ADPCM coder: the adaptive predictor of block 4 and the scale factor of
/// block 3. Encoder and decoder keep identical copies, which is what makes ADPCM work.
#[derive(Clone, Debug)]
pub(super) struct Band {
    /// Predicted signal SL/SH = SPL + SZL (PREDIC).
    s: i32,
    /// Output of the zero section SZL (FILTEZ).
    sz: i32,
    /// Reconstructed signal RLT1, RLT2 (delayed).
    r: [i32; 2],
    /// Partial reconstruction PLT1, PLT2 (delayed).
    p: [i32; 2],
    /// Pole coefficients AL1, AL2.
    a: [i32; 2],
    /// Quantized differences DLT1..DLT6 (delayed).
    d: [i32; 6],
    /// Zero coefficients BL1..BL6.
    b: [i32; 6],
    /// Log scale factor NBL/NBH.
    nb: i32,
    /// Scale factor DETL/DETH.
    det: i32,
}

impl Band {
    /// The recommendation's reset state: everything zero, DETL = 32, DETH = 8.
    pub(super) const fn new(det: i32) -> Self {
        Self { s: 0, sz: 0, r: [0; 2], p: [0; 2], a: [0; 2], d: [0; 6], b: [0; 6], nb: 0, det }
    }

    pub(super) const fn lower() -> Self {
        Self::new(32)
    }

    pub(super) const fn higher() -> Self {
        Self::new(8)
    }

    /// The predicted value SL/SH for the next sample.
    #[inline]
    pub(super) fn prediction(&self) -> i32 {
        self.s
    }

    /// Blocks 2-4 for one lower-band code: INVQAL, LOGSCL, SCALEL, then the predictor.
    pub(super) fn adapt_lower(&mut self, il: u8) {
        let ril = usize::from(il >> 2);
        let dlt = mult(self.det, QM4[ril]);
        // LOGSCL: NBL = NBL * 127/128 + WL, kept within [0, 18432].
        self.nb = (mult(self.nb, 32_512) + WL[RL42[ril]]).clamp(0, NBL_MAX);
        // SCALEL: DETL = 2^(NBL/2048 + 2) with 32 steps per octave, 8 = offset of the table.
        self.det = scale(self.nb, 8);
        self.predict(dlt);
    }

    /// Blocks 2-4 for one higher-band code; returns the quantized difference DH (INVQAH), which
    /// the decoder also needs for its output.
    pub(super) fn adapt_higher(&mut self, ih: u8) -> i32 {
        let ih = usize::from(ih & 3);
        let dh = mult(self.det, QM2[ih]);
        self.nb = (mult(self.nb, 32_512) + WH[RH2[ih]]).clamp(0, NBH_MAX);
        self.det = scale(self.nb, 10);
        self.predict(dh);
        dh
    }

    /// Block 1L QUANTL: the 6-bit code of lower-band sample `xl`.
    pub(super) fn quantize_lower(&self, xl: i32) -> u8 {
        let el = sat16(xl - self.s);
        // Magnitude as the recommendation takes it: one's complement for negative values.
        let wd = if negative(el) { -(el + 1) } else { el };
        let mut i = 1;
        while i < Q6.len() && wd >= (Q6[i] * self.det) >> 12 {
            i += 1;
        }
        if negative(el) {
            ILN[i]
        } else {
            ILP[i]
        }
    }

    /// Block 1H QUANTH: the 2-bit code of higher-band sample `xh`.
    pub(super) fn quantize_higher(&self, xh: i32) -> u8 {
        let eh = sat16(xh - self.s);
        let wd = if negative(eh) { -(eh + 1) } else { eh };
        let mih = if wd >= (Q2 * self.det) >> 12 { 2 } else { 1 };
        if negative(eh) {
            IHN[mih]
        } else {
            IHP[mih]
        }
    }

    /// Block 5L INVQBL + RECONS + LIMIT (decoder, mode 1): the reconstructed lower-band sample.
    /// Uses the scale factor from before [`Band::adapt_lower`], so call this first.
    pub(super) fn reconstruct_lower(&self, il: u8) -> i32 {
        let dl = mult(self.det, QM6[usize::from(il & 0x3f)]);
        (self.s + dl).clamp(-16_384, 16_383)
    }

    /// Block 4: RECONS, PARREC, UPPOL2, UPPOL1, UPZERO, DELAYA, FILTEP, FILTEZ, PREDIC.
    fn predict(&mut self, d: i32) {
        let r = sat16(self.s + d);
        let p = sat16(self.sz + d);
        let (sg0, sg1, sg2) = (negative(p), negative(self.p[0]), negative(self.p[1]));

        // UPPOL2: second pole coefficient, leaky sign-sign gradient, |AL2| <= 12288.
        let wd1 = sat16(self.a[0] * 4);
        let wd2 = if sg0 == sg1 { sat16(-wd1) } else { wd1 };
        let wd3 = if sg0 == sg2 { 128 } else { -128 };
        let a2 = sat16((wd2 >> 7) + wd3 + mult(self.a[1], 32_512)).clamp(-12_288, 12_288);

        // UPPOL1: first pole coefficient, limited to keep the pole pair stable:
        // |AL1| <= 15360 - AL2.
        let wd1 = if sg0 == sg1 { 192 } else { -192 };
        let limit = 15_360 - a2;
        let a1 = sat16(wd1 + mult(self.a[0], 32_640)).clamp(-limit, limit);

        // UPZERO: zero coefficients, leak 255/256, step 128 unless D is zero.
        let step = if d == 0 { 0 } else { 128 };
        let sgd = negative(d);
        for (b, &di) in self.b.iter_mut().zip(&self.d) {
            let wd2 = if negative(di) == sgd { step } else { -step };
            *b = sat16(wd2 + mult(*b, 32_640));
        }

        // DELAYA
        self.d.copy_within(0..5, 1);
        self.d[0] = d;
        self.r = [r, self.r[0]];
        self.p = [p, self.p[0]];
        self.a = [a1, a2];

        // FILTEP: pole section over the reconstructed signal.
        let sp =
            sat16(mult(self.a[0], sat16(2 * self.r[0])) + mult(self.a[1], sat16(2 * self.r[1])));
        // FILTEZ: zero section over the quantized differences, saturating at every addition as
        // the reference implementation does.
        self.sz =
            self.b.iter().zip(&self.d).fold(0, |acc, (&b, &d)| sat16(acc + mult(b, sat16(2 * d))));
        // PREDIC
        self.s = sat16(sp + self.sz);
    }
}

/// SCALEL (`offset` 8) / SCALEH (`offset` 10): the linear scale factor from the log one,
/// `ILB[(nb >> 6) & 31]` shifted by `(nb >> 11) - offset` octaves, times 4.
fn scale(nb: i32, offset: i32) -> i32 {
    let mantissa = ILB[((nb >> 6) & 31) as usize];
    let shift = offset - (nb >> 11);
    let wd3 = if shift < 0 { mantissa << -shift } else { mantissa >> shift };
    wd3 << 2
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn antilog_table_is_2048_times_powers_of_two() {
        for (i, &v) in ILB.iter().enumerate() {
            let exact = 2048.0 * 2f64.powf(i as f64 / 32.0);
            assert_eq!(v, exact.round() as i32, "ILB[{i}]");
        }
    }

    #[test]
    fn quantizer_codes_map_back_to_their_own_levels() {
        // Every interval of QUANTL decodes (INVQBL) to a level of the right sign and rank.
        for i in 1..=30 {
            let pos = QM6[usize::from(ILP[i])];
            let neg = QM6[usize::from(ILN[i])];
            assert!(pos > 0 && neg == -pos, "interval {i}: {pos} {neg}");
            if i < 30 {
                // Reconstruction level lies inside its decision interval (levels are x8, Q6 x1).
                assert!(pos >= Q6[i - 1] * 8 && pos < Q6[i] * 8, "interval {i}");
            }
        }
    }

    #[test]
    fn scale_factors_span_the_specified_range() {
        assert_eq!(scale(0, 8), 32, "DETL minimum");
        assert_eq!(scale(0, 10), 8, "DETH minimum");
        // The top of the range: NBL 18432 -> 2^(9 - 8) * 2048 * 4.
        assert_eq!(scale(NBL_MAX, 8), 16_384);
        assert_eq!(scale(NBH_MAX, 10), 2048 * 2 * 4);
    }
}
