//! Packet index estimation (RFC 3711 §3.3.1, Appendix A) and the replay window (§3.3.2).

use super::SrtpError;

/// Replay window size in packets: RFC 3711 §3.3.2 asks for at least 64; libsrtp keeps 128.
pub const REPLAY_WINDOW: u64 = 128;

/// Estimates the 48-bit packet index `ROC || SEQ` of a packet with sequence number `seq`, given
/// the highest index authenticated so far (RFC 3711 §3.3.1 and Appendix A). With no history the
/// rollover counter is 0 (RFC 3711 §3.3.1: "initialized to zero").
pub fn estimate_index(highest: Option<u64>, seq: u16) -> u64 {
    let Some(highest) = highest else {
        return u64::from(seq);
    };
    let roc = highest >> 16;
    let s_l = (highest & 0xffff) as u16;
    let v = if s_l < 0x8000 {
        // A sequence number far above s_l belongs to the previous roll-over.
        if seq > s_l && seq - s_l > 0x8000 {
            roc.saturating_sub(1)
        } else {
            roc
        }
    } else if seq < s_l - 0x8000 {
        // Far below s_l: the sequence number has wrapped.
        roc + 1
    } else {
        roc
    };
    // The ROC is 32 bits (RFC 3711 §3.3.1); the index stays within 48 bits.
    ((v & 0xffff_ffff) << 16) | u64::from(seq)
}

/// A sliding window over packet indices: which of the last [`REPLAY_WINDOW`] were received.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct ReplayWindow {
    highest: u64,
    /// Bit `n` set: index `highest - n` was received.
    seen: u128,
}

impl ReplayWindow {
    /// A window whose only received index is `first`.
    pub fn new(first: u64) -> Self {
        Self {
            highest: first,
            seen: 1,
        }
    }

    pub fn highest(&self) -> u64 {
        self.highest
    }

    /// Refuses an index already received or too old to tell (RFC 3711 §3.3.2).
    pub fn check(&self, index: u64) -> Result<(), SrtpError> {
        if index > self.highest {
            return Ok(());
        }
        let behind = self.highest - index;
        if behind >= REPLAY_WINDOW {
            Err(SrtpError::TooOld { index })
        } else if self.seen >> behind & 1 == 1 {
            Err(SrtpError::Replayed { index })
        } else {
            Ok(())
        }
    }

    /// Records `index` as received. Call only after the packet authenticated.
    pub fn advance(&mut self, index: u64) {
        if index > self.highest {
            let ahead = index - self.highest;
            self.seen = if ahead >= REPLAY_WINDOW {
                0
            } else {
                self.seen << ahead
            };
            self.seen |= 1;
            self.highest = index;
        } else if self.highest - index < REPLAY_WINDOW {
            self.seen |= 1 << (self.highest - index);
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn index_follows_sequence_rollover() {
        assert_eq!(estimate_index(None, 65_535), 65_535);
        // Just past the wrap: ROC 0 -> 1.
        assert_eq!(estimate_index(Some(65_535), 2), 0x1_0002);
        // A late packet from before the wrap keeps ROC 0.
        assert_eq!(estimate_index(Some(0x1_0002), 65_534), 65_534);
        // Ordinary progress.
        assert_eq!(estimate_index(Some(0x5_0010), 0x0020), 0x5_0020);
        // No ROC below zero.
        assert_eq!(estimate_index(Some(10), 60_000), 60_000);
    }

    #[test]
    fn window_refuses_replays_and_ancient_packets() {
        let mut w = ReplayWindow::new(1000);
        assert_eq!(w.check(1000), Err(SrtpError::Replayed { index: 1000 }));
        assert_eq!(w.check(999), Ok(()));
        w.advance(999);
        assert_eq!(w.check(999), Err(SrtpError::Replayed { index: 999 }));
        w.advance(1200);
        assert_eq!(w.check(1000), Err(SrtpError::TooOld { index: 1000 }));
        assert_eq!(w.check(1200 - 127), Ok(()));
        assert_eq!(w.check(1201), Ok(()));
    }

    #[test]
    fn window_keeps_bits_across_small_advances() {
        let mut w = ReplayWindow::new(10);
        w.advance(12);
        w.advance(11);
        for i in 10..=12 {
            assert!(w.check(i).is_err(), "{i}");
        }
        w.advance(10 + 127);
        assert_eq!(w.check(10), Err(SrtpError::Replayed { index: 10 }));
        w.advance(10 + 128);
        assert_eq!(w.check(10), Err(SrtpError::TooOld { index: 10 }));
        assert_eq!(w.check(11), Err(SrtpError::Replayed { index: 11 }));
    }
}
