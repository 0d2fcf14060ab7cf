//! RTCP timing: the report interval (RFC 3550 §6.2, §6.3), the NTP clock of sender reports, and
//! round-trip time from report blocks (RFC 3550 §6.4.1).

use std::time::{Duration, Instant, SystemTime};

pub use crate::rtcp::NtpTime;
use crate::rtcp::{duration_to_short_ntp, short_ntp_to_duration, ReportBlock};

/// Minimum report interval (RFC 3550 §6.2: Tmin = 5 s).
pub const MIN_INTERVAL: Duration = Duration::from_secs(5);
/// RFC 3550 §6.3.1 / §A.7: the randomized interval is divided by e - 3/2 to compensate for the
/// timer reconsideration algorithm's bias towards larger intervals.
const COMPENSATION: f64 = std::f64::consts::E - 1.5;

/// Wall-clock time for SR NTP timestamps without reading a clock: an anchor taken once, then
/// advanced by the monotonic `now` the caller passes in.
#[derive(Clone, Copy, Debug)]
pub struct NtpClock {
    anchor: Instant,
    ntp: NtpTime,
}

impl NtpClock {
    /// `wall` is the wall-clock time at `now` (the caller reads `SystemTime::now()` once).
    pub fn new(now: Instant, wall: SystemTime) -> Self {
        Self {
            anchor: now,
            ntp: NtpTime::from_system_time(wall),
        }
    }

    pub fn at(&self, now: Instant) -> NtpTime {
        self.ntp
            .advanced_by(now.saturating_duration_since(self.anchor))
    }
}

/// When the next compound RTCP packet is due, for a two-party call: the RFC 3550 interval is
/// then bounded by its minimum, so T = Tmin * U(0.5, 1.5) / (e - 3/2), with Tmin halved for the
/// first report (RFC 3550 §6.2).
#[derive(Clone, Copy, Debug)]
pub struct RtcpScheduler {
    min_interval: Duration,
    next: Option<Instant>,
    rng: u32,
}

impl RtcpScheduler {
    /// `seed` drives the randomization (draw it from the OS at call set-up).
    pub fn new(min_interval: Duration, seed: u32) -> Self {
        Self {
            min_interval,
            next: None,
            rng: seed | 1,
        }
    }

    fn random_unit(&mut self) -> f64 {
        self.rng ^= self.rng << 13;
        self.rng ^= self.rng >> 17;
        self.rng ^= self.rng << 5;
        f64::from(self.rng) / f64::from(u32::MAX)
    }

    fn interval(&mut self, base: Duration) -> Duration {
        base.mul_f64((0.5 + self.random_unit()) / COMPENSATION)
    }

    /// Schedules the first report if none is scheduled yet.
    pub fn start(&mut self, now: Instant) {
        if self.next.is_none() {
            let first = self.interval(self.min_interval / 2);
            self.next = Some(now + first);
        }
    }

    pub fn next(&self) -> Option<Instant> {
        self.next
    }

    /// Whether a report is due at `now`; if so, schedules the following one.
    pub fn poll(&mut self, now: Instant) -> bool {
        match self.next {
            Some(at) if now >= at => {
                let i = self.interval(self.min_interval);
                self.next = Some(now + i);
                true
            }
            _ => false,
        }
    }
}

/// The last SR received from a source: what an RR's LSR and DLSR fields report back.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct LastSenderReport {
    /// Middle 32 bits of its NTP timestamp.
    pub ntp_middle: u32,
    pub received_at: Instant,
}

impl LastSenderReport {
    /// LSR and DLSR for a report block sent at `now` (RFC 3550 §6.4.1).
    pub fn lsr_dlsr(&self, now: Instant) -> (u32, u32) {
        (
            self.ntp_middle,
            duration_to_short_ntp(now.saturating_duration_since(self.received_at)),
        )
    }
}

/// Round-trip time from a report block about our stream received when our NTP clock read
/// `arrival`: A - LSR - DLSR (RFC 3550 §6.4.1). `None` if the peer has no SR of ours yet, or
/// the figures are inconsistent.
pub fn round_trip(block: &ReportBlock, arrival: NtpTime) -> Option<Duration> {
    if block.last_sr == 0 {
        return None;
    }
    let rtt = arrival
        .middle32()
        .wrapping_sub(block.last_sr)
        .wrapping_sub(block.delay_since_last_sr);
    // A negative result wraps to a huge one; nothing real takes over a minute.
    let rtt = short_ntp_to_duration(rtt);
    (rtt < Duration::from_secs(60)).then_some(rtt)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn first_report_comes_within_the_halved_interval() {
        let t0 = Instant::now();
        for seed in 1..50 {
            let mut s = RtcpScheduler::new(MIN_INTERVAL, seed);
            s.start(t0);
            let first = s.next().unwrap() - t0;
            // 2.5 s * [0.5, 1.5] / 1.218
            assert!(
                first >= Duration::from_millis(1_020) && first <= Duration::from_millis(3_080),
                "{first:?}"
            );
        }
    }

    #[test]
    fn reports_are_spaced_by_the_randomized_interval() {
        let t0 = Instant::now();
        let mut s = RtcpScheduler::new(MIN_INTERVAL, 7);
        s.start(t0);
        assert!(!s.poll(t0));
        let mut sent = Vec::new();
        let mut t = t0;
        while t < t0 + Duration::from_secs(120) {
            if s.poll(t) {
                sent.push(t);
            }
            t += Duration::from_millis(10);
        }
        let gaps: Vec<Duration> = sent.windows(2).map(|w| w[1] - w[0]).collect();
        assert!(
            gaps.iter()
                .all(|g| *g >= Duration::from_millis(2_050) && *g <= Duration::from_millis(6_170)),
            "{gaps:?}"
        );
        let mean = gaps.iter().sum::<Duration>() / gaps.len() as u32;
        assert!(
            mean > Duration::from_secs(3) && mean < Duration::from_secs(5),
            "{mean:?}"
        );
    }

    #[test]
    fn round_trip_is_arrival_minus_lsr_minus_dlsr() {
        // RFC 3550 §6.4.1's example: A = 0xb710:8000 (46864.500 s), LSR = 0xb705:2000
        // (46853.125 s), DLSR = 0x0005:4000 (5.250 s): RTT 6.125 s.
        let block = ReportBlock {
            last_sr: 0xb705_2000,
            delay_since_last_sr: 0x0005_4000,
            ..Default::default()
        };
        let arrival = NtpTime(0x0000_b710_8000_0000);
        assert_eq!(
            round_trip(&block, arrival),
            Some(Duration::from_millis(6_125))
        );
        let none = ReportBlock {
            last_sr: 0,
            ..block
        };
        assert_eq!(round_trip(&none, arrival), None);
    }

    #[test]
    fn ntp_clock_advances_with_monotonic_time() {
        let t0 = Instant::now();
        let c = NtpClock::new(t0, SystemTime::UNIX_EPOCH + Duration::from_secs(1));
        let a = c.at(t0);
        let b = c.at(t0 + Duration::from_millis(1500));
        assert_eq!(b.0 - a.0, 3 << 31);
        let lsr = LastSenderReport {
            ntp_middle: 42,
            received_at: t0,
        };
        assert_eq!(lsr.lsr_dlsr(t0 + Duration::from_secs(2)), (42, 2 * 65_536));
    }
}
