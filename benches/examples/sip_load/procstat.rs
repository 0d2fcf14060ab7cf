//! The worker's RSS sampled every 10 s over the run; the other /proc readings are
//! `common/procfs.rs`, shared with ws_load.

use std::time::{Duration, Instant};

use tokio::sync::oneshot;

pub use super::procfs::*;

/// How often the worker's RSS is sampled.
pub const RSS_EVERY: Duration = Duration::from_secs(10);

/// The worker's RSS at `t0` and every [`RSS_EVERY`] after, and once more when `stop` fires:
/// (seconds since `t0`, MB).
pub async fn sample_rss(pid: Option<u32>, t0: Instant, mut stop: oneshot::Receiver<()>) -> Vec<(f64, f64)> {
    let Some(pid) = pid else { return Vec::new() };
    let mut samples = Vec::new();
    let mut interval = tokio::time::interval_at(t0.into(), RSS_EVERY);
    interval.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
    let take = |samples: &mut Vec<(f64, f64)>| {
        if let Some(mb) = rss_mb(pid) {
            samples.push((Instant::now().saturating_duration_since(t0).as_secs_f64(), mb));
        }
    };
    loop {
        tokio::select! {
            _ = interval.tick() => take(&mut samples),
            _ = &mut stop => {
                take(&mut samples);
                break;
            }
        }
    }
    samples
}
