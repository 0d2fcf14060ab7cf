//! Call quality estimate by the ITU-T G.107 E-model, simplified for a G.711 call.
//!
//! `R = Ro - Is - Id - Ie_eff + A` (G.107 §7.1, eq. 7-1). With every default parameter of G.107
//! Table 1, `Ro - Is = 93.2` and `A = 0`, so here `R = 93.2 - Id - Ie_eff`:
//!
//! - `Id` is taken as `Idd`, the impairment of the absolute one-way delay `Ta` (G.107 §7.4):
//!   `Idd = 0` for `Ta <= 100 ms`, else `Idd = 25 * ((1 + X^6)^(1/6) - 3 * (1 + (X/3)^6)^(1/6) + 2)`
//!   with `X = log2(Ta / 100 ms)`. The talker- and listener-echo terms `Idte` and `Idle` are
//!   left out: with the default echo losses (TELR 65 dB, WEPL 110 dB) they stay below one point.
//! - `Ie_eff = Ie + (95 - Ie) * Ppl / (Ppl / BurstR + Bpl)` (G.107 §7.5, eq. 7-29), with `Ppl`
//!   the packet loss in percent, `BurstR = 1` (random loss). G.711 has `Ie = 0`; `Bpl` is 25.1
//!   with packet-loss concealment and 4.3 without (G.113 Appendix I, Table I.3).
//!
//! MOS from R (G.107 Annex B, eq. B-4): 1 for `R < 0`, 4.5 for `R > 100`, else
//! `1 + 0.035 R + R (R - 60) (100 - R) * 7e-6`.

use std::time::Duration;

/// `Ro - Is` with the G.107 default parameters (G.107 §7.1).
pub const R_DEFAULT: f64 = 93.2;

/// Equipment impairment of a codec (G.113 Appendix I).
#[derive(Clone, Copy, Debug, PartialEq)]
pub struct CodecImpairment {
    /// Equipment impairment factor `Ie` at zero loss.
    pub ie: f64,
    /// Packet-loss robustness factor `Bpl`.
    pub bpl: f64,
}

impl CodecImpairment {
    /// G.711 with packet-loss concealment (G.113 App. I: Ie 0, Bpl 25.1).
    pub const G711_PLC: Self = Self { ie: 0.0, bpl: 25.1 };
    /// G.711 without concealment (G.113 App. I: Ie 0, Bpl 4.3).
    pub const G711: Self = Self { ie: 0.0, bpl: 4.3 };
}

/// An E-model estimate.
#[derive(Clone, Copy, Debug, PartialEq)]
pub struct Quality {
    /// Transmission rating factor R, 0 to 100.
    pub r: f64,
    /// Estimated mean opinion score, 1.0 to 4.5.
    pub mos: f64,
}

/// Delay impairment `Idd` for one-way delay `ta` (G.107 §7.4, eq. 7-27/7-28).
pub fn delay_impairment(ta: Duration) -> f64 {
    let ta_ms = ta.as_secs_f64() * 1000.0;
    if ta_ms <= 100.0 {
        return 0.0;
    }
    let x = (ta_ms / 100.0).log2();
    25.0 * ((1.0 + x.powi(6)).powf(1.0 / 6.0) - 3.0 * (1.0 + (x / 3.0).powi(6)).powf(1.0 / 6.0)
        + 2.0)
}

/// Effective equipment impairment for packet loss `loss` (a fraction, 0 to 1) with random loss
/// (G.107 §7.5, eq. 7-29, BurstR = 1).
pub fn loss_impairment(codec: CodecImpairment, loss: f64) -> f64 {
    let ppl = (loss * 100.0).clamp(0.0, 100.0);
    codec.ie + (95.0 - codec.ie) * ppl / (ppl + codec.bpl)
}

/// MOS from R (G.107 Annex B, eq. B-4).
pub fn mos_from_r(r: f64) -> f64 {
    if r.is_nan() || r < 0.0 {
        1.0
    } else if r > 100.0 {
        4.5
    } else {
        1.0 + 0.035 * r + r * (r - 60.0) * (100.0 - r) * 7e-6
    }
}

/// The E-model estimate for a call with packet loss `loss` (fraction) and one-way delay `delay`
/// (network, jitter buffer and packetization together).
pub fn estimate(codec: CodecImpairment, loss: f64, delay: Duration) -> Quality {
    let r = (R_DEFAULT - delay_impairment(delay) - loss_impairment(codec, loss)).clamp(0.0, 100.0);
    Quality {
        r,
        mos: mos_from_r(r),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn close(a: f64, b: f64, tol: f64) -> bool {
        (a - b).abs() <= tol
    }

    #[test]
    fn perfect_g711_call_scores_4_4() {
        let q = estimate(CodecImpairment::G711_PLC, 0.0, Duration::from_millis(50));
        assert_eq!(q.r, 93.2);
        assert!(close(q.mos, 4.41, 0.01), "{q:?}");
    }

    #[test]
    fn delay_impairment_matches_g107_points() {
        assert_eq!(delay_impairment(Duration::from_millis(100)), 0.0);
        // X = 1: 25 * (2^(1/6) - 3 (1 + 1/729)^(1/6) + 2).
        assert!(close(
            delay_impairment(Duration::from_millis(200)),
            3.05,
            0.01
        ));
        assert!(close(
            delay_impairment(Duration::from_millis(400)),
            24.08,
            0.05
        ));
        assert!(
            delay_impairment(Duration::from_millis(800))
                > delay_impairment(Duration::from_millis(400))
        );
    }

    #[test]
    fn loss_lowers_the_score_less_with_concealment() {
        let with_plc = estimate(CodecImpairment::G711_PLC, 0.05, Duration::ZERO);
        let without = estimate(CodecImpairment::G711, 0.05, Duration::ZERO);
        // Ie_eff = 95 * 5 / (5 + 25.1) = 15.78.
        assert!(close(with_plc.r, 93.2 - 15.78, 0.01), "{with_plc:?}");
        assert!(without.mos < with_plc.mos);
        assert!(close(with_plc.mos, 3.91, 0.02), "{with_plc:?}");
    }

    #[test]
    fn mos_is_bounded() {
        assert_eq!(mos_from_r(-5.0), 1.0);
        assert_eq!(mos_from_r(120.0), 4.5);
        assert_eq!(mos_from_r(f64::NAN), 1.0);
        let q = estimate(CodecImpairment::G711, 1.0, Duration::from_secs(3));
        assert!(q.mos >= 1.0 && q.r >= 0.0);
    }
}
