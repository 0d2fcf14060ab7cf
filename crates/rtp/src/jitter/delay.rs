//! Playout delay estimation for the jitter buffer: windowed minimum transit and a peak-hold of
//! the delay relative to it.

/// Packets per minimum-transit window; the minimum is taken over the current and previous
/// windows, so it forgets a level after 256 to 512 packets (5 to 10 s at 50 packets/s), which
/// keeps clock drift between sender and receiver from inflating the delay.
const WINDOW: u32 = 256;
/// Peak-hold decay per packet: 1/200 (0.5 %), a half-life of about 140 packets (2.8 s).
const DECAY: i64 = 200;
/// Fixed-point scale of the peak.
const SCALE: i64 = 256;

#[derive(Clone, Copy, Debug)]
pub(super) struct DelayEstimator {
    min_ticks: i64,
    max_ticks: i64,
    started: bool,
    current_min: i64,
    previous_min: i64,
    count: u32,
    /// Peak relative delay, scaled by [`SCALE`].
    peak: i64,
}

impl DelayEstimator {
    pub(super) fn new(min_ticks: i64, max_ticks: i64) -> Self {
        Self {
            min_ticks,
            max_ticks: max_ticks.max(min_ticks),
            started: false,
            current_min: 0,
            previous_min: 0,
            count: 0,
            peak: 0,
        }
    }

    /// Forgets the transit level (a new source) but keeps the measured jitter.
    pub(super) fn restart(&mut self) {
        self.started = false;
    }

    /// Takes the transit time (arrival minus timestamp, in ticks) of one packet.
    pub(super) fn observe(&mut self, transit: i64) {
        if !self.started {
            self.started = true;
            self.current_min = transit;
            self.previous_min = transit;
            self.count = 0;
        }
        self.current_min = self.current_min.min(transit);
        self.count += 1;
        if self.count >= WINDOW {
            self.previous_min = self.current_min;
            self.current_min = transit;
            self.count = 0;
        }
        let relative = (transit - self.min_transit()).clamp(0, self.max_ticks) * SCALE;
        self.peak = relative.max(self.peak - self.peak / DECAY);
    }

    pub(super) fn min_transit(&self) -> i64 {
        self.current_min.min(self.previous_min)
    }

    /// The playout delay to aim for, in ticks.
    pub(super) fn target(&self) -> i64 {
        (self.peak / SCALE).clamp(self.min_ticks, self.max_ticks)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn target_follows_peak_and_decays_to_minimum() {
        let mut d = DelayEstimator::new(160, 1600);
        for _ in 0..10 {
            d.observe(1000);
        }
        assert_eq!(d.target(), 160);
        d.observe(1000 + 800);
        assert_eq!(d.target(), 800);
        for _ in 0..2000 {
            d.observe(1000);
        }
        assert_eq!(d.target(), 160);
        d.observe(1000 + 50_000);
        assert_eq!(d.target(), 1600, "clamped to the maximum");
    }

    #[test]
    fn minimum_transit_forgets_old_levels() {
        let mut d = DelayEstimator::new(0, 1600);
        d.observe(100);
        for _ in 0..(3 * WINDOW) {
            d.observe(500);
        }
        assert_eq!(d.min_transit(), 500);
    }
}
