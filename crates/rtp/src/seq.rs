//! Per-source reception state of RFC 3550 Appendix A: sequence validation (A.1), loss (A.3) and
//! interarrival jitter (A.8), which the receiver reports in RTCP report blocks (§6.4.1).

/// Packets in sequence needed before a source is valid (RFC 3550 §A.1 MIN_SEQUENTIAL).
pub const MIN_SEQUENTIAL: u16 = 2;
/// Largest forward jump still taken as the same sequence (RFC 3550 §A.1 MAX_DROPOUT).
pub const MAX_DROPOUT: u16 = 3000;
/// Largest backward step taken as reordering rather than a restart (RFC 3550 §A.1 MAX_MISORDER).
pub const MAX_MISORDER: u16 = 100;
/// RFC 3550 §A.1 RTP_SEQ_MOD.
const SEQ_MOD: u32 = 1 << 16;

/// What [`SourceState::update_seq`] made of a packet.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum SeqVerdict {
    /// In sequence (or acceptably reordered): deliver it.
    Valid,
    /// The source is still on probation; the packet is not delivered.
    Probation,
    /// A jump too large to be the same sequence; two in a row restart the sequence.
    Bad,
    /// Two sequential packets after a large jump: the sender restarted. Delivered; statistics
    /// start over.
    Restarted,
}

/// Reception statistics for one source, as an RTCP report block carries them.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct ReceptionReport {
    /// Lost fraction since the previous report, in 1/256 (RFC 3550 §A.3).
    pub fraction_lost: u8,
    /// Cumulative lost packets, clamped to 24 signed bits.
    pub cumulative_lost: i32,
    pub extended_highest_seq: u32,
    /// Interarrival jitter in timestamp units (RFC 3550 §6.4.1, §A.8).
    pub jitter: u32,
    pub expected: u32,
    pub received: u32,
}

/// RFC 3550 §A.1 `source`: sequence state, counters and jitter of one SSRC.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct SourceState {
    max_seq: u16,
    cycles: u32,
    base_seq: u32,
    bad_seq: u32,
    probation: u16,
    received: u32,
    expected_prior: u32,
    received_prior: u32,
    /// Relative transit time of the previous packet, timestamp units (§A.8); None before any.
    transit: Option<u32>,
    /// Jitter scaled by 16, the integer form of §A.8 (64 bits: |D| may be near 2^31).
    jitter16: u64,
}

impl SourceState {
    /// A source first seen with `seq`, put on probation (RFC 3550 §A.1: `init_seq`, then
    /// `max_seq = seq - 1`, `probation = MIN_SEQUENTIAL`).
    pub fn new(seq: u16) -> Self {
        let mut s = Self {
            max_seq: 0,
            cycles: 0,
            base_seq: 0,
            bad_seq: 0,
            probation: MIN_SEQUENTIAL,
            received: 0,
            expected_prior: 0,
            received_prior: 0,
            transit: None,
            jitter16: 0,
        };
        s.init_seq(seq);
        s.max_seq = seq.wrapping_sub(1);
        s
    }

    /// A source accepted at once, without probation (after SRTP authentication, for instance).
    /// Call [`SourceState::update_seq`] with the same `seq` to count the packet.
    pub fn validated(seq: u16) -> Self {
        let mut s = Self::new(seq);
        s.probation = 0;
        s.max_seq = seq;
        s
    }

    fn init_seq(&mut self, seq: u16) {
        self.base_seq = u32::from(seq);
        self.max_seq = seq;
        self.bad_seq = SEQ_MOD + 1;
        self.cycles = 0;
        self.received = 0;
        self.received_prior = 0;
        self.expected_prior = 0;
    }

    /// Whether the source has left probation.
    pub fn is_valid(&self) -> bool {
        self.probation == 0
    }

    /// RFC 3550 §A.1 `update_seq`.
    pub fn update_seq(&mut self, seq: u16) -> SeqVerdict {
        let udelta = seq.wrapping_sub(self.max_seq);
        if self.probation > 0 {
            if seq == self.max_seq.wrapping_add(1) {
                self.probation -= 1;
                self.max_seq = seq;
                if self.probation == 0 {
                    self.init_seq(seq);
                    self.received += 1;
                    return SeqVerdict::Valid;
                }
            } else {
                self.probation = MIN_SEQUENTIAL - 1;
                self.max_seq = seq;
            }
            return SeqVerdict::Probation;
        }
        let mut verdict = SeqVerdict::Valid;
        if udelta < MAX_DROPOUT {
            // In order, with a permissible gap.
            if seq < self.max_seq {
                self.cycles = self.cycles.wrapping_add(SEQ_MOD);
            }
            self.max_seq = seq;
        } else if u32::from(udelta) <= SEQ_MOD - u32::from(MAX_MISORDER) {
            // A very large jump.
            if u32::from(seq) == self.bad_seq {
                // Two sequential packets: the other side restarted without telling us.
                self.init_seq(seq);
                self.transit = None;
                verdict = SeqVerdict::Restarted;
            } else {
                self.bad_seq = (u32::from(seq) + 1) & (SEQ_MOD - 1);
                return SeqVerdict::Bad;
            }
        }
        // Otherwise a duplicate or reordered packet.
        self.received += 1;
        verdict
    }

    /// RFC 3550 §A.8: updates the interarrival jitter with a packet of RTP timestamp `ts`
    /// that arrived at `arrival`, both in timestamp units (arrival on any fixed origin).
    pub fn update_jitter(&mut self, ts: u32, arrival: u32) {
        let transit = arrival.wrapping_sub(ts);
        if let Some(prev) = self.transit {
            let d = u64::from((transit.wrapping_sub(prev) as i32).unsigned_abs());
            // J += (|D| - J) / 16, in the integer form of §A.8.
            self.jitter16 = self.jitter16 + d - ((self.jitter16 + 8) >> 4);
        }
        self.transit = Some(transit);
    }

    /// Interarrival jitter in timestamp units.
    pub fn jitter(&self) -> u32 {
        u32::try_from(self.jitter16 >> 4).unwrap_or(u32::MAX)
    }

    /// Extended highest sequence number received (RFC 3550 §6.4.1).
    pub fn extended_max(&self) -> u32 {
        self.cycles.wrapping_add(u32::from(self.max_seq))
    }

    /// Packets expected so far (RFC 3550 §A.3).
    pub fn expected(&self) -> u32 {
        self.extended_max()
            .wrapping_sub(self.base_seq)
            .wrapping_add(1)
    }

    pub fn received(&self) -> u32 {
        self.received
    }

    /// Cumulative lost packets, clamped to the 24-bit signed field (RFC 3550 §A.3).
    pub fn cumulative_lost(&self) -> i32 {
        let lost = i64::from(self.expected()) - i64::from(self.received);
        lost.clamp(-0x80_0000, 0x7f_ffff) as i32
    }

    /// The figures for a report block; moves the interval start (RFC 3550 §A.3).
    pub fn report(&mut self) -> ReceptionReport {
        let expected = self.expected();
        let expected_interval = expected.wrapping_sub(self.expected_prior);
        self.expected_prior = expected;
        let received_interval = self.received.wrapping_sub(self.received_prior);
        self.received_prior = self.received;
        let lost_interval = i64::from(expected_interval) - i64::from(received_interval);
        let fraction_lost = if expected_interval == 0 || lost_interval <= 0 {
            0
        } else {
            ((lost_interval << 8) / i64::from(expected_interval)).min(255) as u8
        };
        ReceptionReport {
            fraction_lost,
            cumulative_lost: self.cumulative_lost(),
            extended_highest_seq: self.extended_max(),
            jitter: self.jitter(),
            expected,
            received: self.received,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn valid_from(seq: u16) -> SourceState {
        let mut s = SourceState::new(seq);
        assert_eq!(s.update_seq(seq), SeqVerdict::Probation);
        assert_eq!(s.update_seq(seq.wrapping_add(1)), SeqVerdict::Valid);
        s
    }

    #[test]
    fn source_needs_two_sequential_packets() {
        let mut s = SourceState::new(100);
        assert_eq!(s.update_seq(100), SeqVerdict::Probation);
        assert!(!s.is_valid());
        assert_eq!(
            s.update_seq(105),
            SeqVerdict::Probation,
            "out of sequence restarts probation"
        );
        assert_eq!(s.update_seq(106), SeqVerdict::Valid);
        assert!(s.is_valid());
        assert_eq!((s.expected(), s.received()), (1, 1));
    }

    #[test]
    fn loss_and_fraction_follow_appendix_a3() {
        let mut s = valid_from(0);
        // Probation ended at seq 1, the base; 10, 20, ..., 100 go missing.
        for seq in 2..=101u16 {
            if seq % 10 != 0 {
                assert_eq!(s.update_seq(seq), SeqVerdict::Valid);
            }
        }
        let r = s.report();
        assert_eq!((r.expected, r.received, r.cumulative_lost), (101, 91, 10));
        assert_eq!(r.fraction_lost, (10 * 256 / 101) as u8);
        // Next interval without loss.
        for seq in 102..=150u16 {
            s.update_seq(seq);
        }
        let r = s.report();
        assert_eq!((r.fraction_lost, r.cumulative_lost), (0, 10));
    }

    #[test]
    fn validated_source_counts_its_first_packet() {
        let mut s = SourceState::validated(0);
        assert_eq!(s.update_seq(0), SeqVerdict::Valid);
        assert_eq!(s.update_seq(1), SeqVerdict::Valid);
        assert_eq!((s.expected(), s.received(), s.cumulative_lost()), (2, 2, 0));
    }

    #[test]
    fn sequence_wrap_counts_a_cycle() {
        let mut s = valid_from(65_534);
        for seq in [0u16, 1, 2] {
            assert_eq!(s.update_seq(seq), SeqVerdict::Valid);
        }
        assert_eq!(s.extended_max(), 65_536 + 2);
        assert_eq!(s.cumulative_lost(), 0);
    }

    #[test]
    fn large_jump_needs_two_packets_to_restart() {
        let mut s = valid_from(10);
        assert_eq!(s.update_seq(20_000), SeqVerdict::Bad);
        assert_eq!(
            s.update_seq(12),
            SeqVerdict::Valid,
            "the old sequence continues"
        );
        assert_eq!(s.update_seq(30_000), SeqVerdict::Bad);
        assert_eq!(s.update_seq(30_001), SeqVerdict::Restarted);
        assert_eq!(s.update_seq(30_002), SeqVerdict::Valid);
        assert_eq!((s.expected(), s.received()), (2, 2));
    }

    #[test]
    fn duplicates_and_misordered_packets_are_counted_received() {
        let mut s = valid_from(10);
        s.update_seq(13);
        assert_eq!(s.update_seq(12), SeqVerdict::Valid);
        assert_eq!(s.update_seq(12), SeqVerdict::Valid);
        // 11..=13 expected, 4 received: RFC 3550 §6.4.1 lets duplicates make the loss negative.
        assert_eq!((s.expected(), s.received()), (3, 4));
        assert_eq!(s.cumulative_lost(), -1);
    }

    #[test]
    fn jitter_follows_appendix_a8() {
        let mut s = valid_from(0);
        // 160 ticks per packet, arrivals alternate 0 and +80 ticks late.
        for i in 0..2000u32 {
            s.update_jitter(i * 160, i * 160 + (i % 2) * 80);
        }
        // |D| is always 80, so J converges to 80.
        assert!((78..=80).contains(&s.jitter()), "{}", s.jitter());
        let mut steady = valid_from(0);
        for i in 0..100u32 {
            steady.update_jitter(i * 160, 1_000 + i * 160);
        }
        assert_eq!(steady.jitter(), 0);
    }
}
