//! Limits how often something is reported per source: a flood of garbage must not become a
//! flood of event lines.

use std::collections::HashMap;
use std::net::IpAddr;
use std::time::{Duration, Instant};

/// At most one report per source per interval: a flood of garbage must not become a flood of
/// event lines (a load test at 150k datagrams/s wrote 123 MB of events in 12 s before this).
/// What is held back is counted and told with the next report.
#[derive(Default)]
pub struct ReportLimiter {
    sources: HashMap<IpAddr, (Instant, u64)>,
}

impl ReportLimiter {
    const INTERVAL: Duration = Duration::from_secs(1);
    /// Sources remembered at most; beyond, the oldest are forgotten.
    const MAX_SOURCES: usize = 1024;

    /// `Some(held back since the last report)` when a report is due for `source`.
    pub fn admit(&mut self, source: IpAddr, now: Instant) -> Option<u64> {
        if self.sources.len() >= Self::MAX_SOURCES && !self.sources.contains_key(&source) {
            let cutoff = now.checked_sub(Self::INTERVAL).unwrap_or(now);
            self.sources.retain(|_, (last, _)| *last > cutoff);
            if self.sources.len() >= Self::MAX_SOURCES {
                return None;
            }
        }
        match self.sources.get_mut(&source) {
            Some((last, held)) if now.duration_since(*last) < Self::INTERVAL => {
                *held += 1;
                None
            }
            Some((last, held)) => {
                let n = *held;
                *last = now;
                *held = 0;
                Some(n)
            }
            None => {
                self.sources.insert(source, (now, 0));
                Some(0)
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn malformed_reports_are_limited_per_source_and_count_what_they_hold_back() {
        let mut limiter = ReportLimiter::default();
        let (a, b): (IpAddr, IpAddr) = ("192.0.2.1".parse().unwrap(), "192.0.2.2".parse().unwrap());
        let t0 = Instant::now();
        assert_eq!(limiter.admit(a, t0), Some(0));
        for i in 1..=500 {
            assert_eq!(limiter.admit(a, t0 + Duration::from_micros(i)), None);
        }
        assert_eq!(limiter.admit(b, t0), Some(0), "another source is reported on its own");
        assert_eq!(limiter.admit(a, t0 + Duration::from_secs(1)), Some(500));
    }
}
