//! How well the engine keeps up: the work of each 20 ms tick (every call's frame in and out,
//! the VAD batch, the endpointers) and how late ticks start. Reported as an `engine_load`
//! event every [`REPORT_EVERY`], so a load run can show that every frame was processed in real
//! time: no tick over budget, none started late.

use std::time::{Duration, Instant};

use crate::serve::events::EventSink;

/// How often the engine reports its load.
pub const REPORT_EVERY: Duration = Duration::from_secs(10);
/// Histogram buckets of tick work: 100 µs wide up to 50 ms (the last one holds everything
/// longer).
const BUCKET_US: u64 = 100;
const BUCKETS: usize = 500;

pub(super) struct LoadStats {
    since: Instant,
    ticks: u64,
    /// Ticks whose work took longer than the tick: frames fell behind real time.
    over_budget: u64,
    /// Ticks that started more than a tick after their time (the thread was not scheduled, or
    /// the previous tick overran).
    late: u64,
    max_work: Duration,
    max_calls: usize,
    histogram: Vec<u32>,
}

impl LoadStats {
    pub fn new(now: Instant) -> Self {
        Self { since: now, ticks: 0, over_budget: 0, late: 0, max_work: Duration::ZERO, max_calls: 0, histogram: vec![0; BUCKETS] }
    }

    /// One tick: scheduled for `due`, started at `started`, done at `done`, with `calls`.
    pub fn tick(&mut self, due: Instant, started: Instant, done: Instant, calls: usize, tick: Duration) {
        let work = done.saturating_duration_since(started);
        self.ticks += 1;
        if work > tick {
            self.over_budget += 1;
        }
        if started.saturating_duration_since(due) > tick {
            self.late += 1;
        }
        self.max_work = self.max_work.max(work);
        self.max_calls = self.max_calls.max(calls);
        let bucket = (work.as_micros() as u64 / BUCKET_US).min(BUCKETS as u64 - 1) as usize;
        self.histogram[bucket] += 1;
    }

    /// Emits and restarts the report when it is due.
    pub fn report_if_due(&mut self, now: Instant, calls: usize, streams: usize, sink: &EventSink) {
        if now.duration_since(self.since) < REPORT_EVERY || self.ticks == 0 {
            return;
        }
        let event = serde_json::json!({
            "event": "engine_load",
            "calls": calls,
            "stream_calls": streams,
            "max_calls": self.max_calls,
            "ticks": self.ticks,
            "over_budget": self.over_budget,
            "late": self.late,
            "work_p50_us": self.percentile(0.50),
            "work_p99_us": self.percentile(0.99),
            "work_max_us": self.max_work.as_micros() as u64,
        });
        sink.emit("-", "-", &event);
        *self = Self::new(now);
    }

    /// The upper edge of the bucket holding the `q` quantile, in µs.
    fn percentile(&self, q: f64) -> u64 {
        let target = (self.ticks as f64 * q).ceil().max(1.0) as u64;
        let mut seen = 0u64;
        for (i, n) in self.histogram.iter().enumerate() {
            seen += u64::from(*n);
            if seen >= target {
                return (i as u64 + 1) * BUCKET_US;
            }
        }
        BUCKETS as u64 * BUCKET_US
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn counts_overruns_late_starts_and_percentiles() {
        let t0 = Instant::now();
        let tick = Duration::from_millis(20);
        let mut s = LoadStats::new(t0);
        for i in 0..98u32 {
            let due = t0 + tick * i;
            s.tick(due, due, due + Duration::from_micros(450), 10, tick);
        }
        // One tick over budget, and the next started late because of it.
        let due = t0 + tick * 98;
        s.tick(due, due, due + Duration::from_millis(45), 10, tick);
        s.tick(due + tick, due + Duration::from_millis(45), due + Duration::from_millis(46), 10, tick);
        assert_eq!((s.ticks, s.over_budget, s.late), (100, 1, 1));
        assert_eq!(s.percentile(0.5), 500);
        assert_eq!(s.percentile(0.99), 1100);
        assert_eq!(s.max_work, Duration::from_millis(45));
    }
}
