//! The few Prometheus metric kinds the worker exports, and their text exposition format
//! (version 0.0.4: `# HELP`, `# TYPE`, one sample per line, histograms as cumulative
//! `_bucket{le=...}` with `_sum` and `_count`).
//!
//! Written here rather than taken from a crate: the worker needs counters and gauges by label
//! set and fixed-bucket histograms, and the histograms are observed on the media thread every
//! tick, so they are lock-free (one atomic per bucket).

use std::collections::BTreeMap;
use std::fmt::Write as _;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::Mutex;
use std::time::Duration;

/// Latency buckets in seconds, 1 ms to 10 s: VAD ticks sit at the low end, decisions in the
/// hundreds of milliseconds.
pub const LATENCY_BUCKETS: &[f64] = &[0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.2, 0.3, 0.4, 0.5, 0.8, 1.0, 2.0, 5.0, 10.0];

/// A histogram with fixed upper bounds; observing is a few atomic adds.
#[derive(Debug)]
pub struct Histogram {
    bounds: &'static [f64],
    /// One per bound, plus the +Inf bucket; not cumulative (made so when rendered).
    counts: Vec<AtomicU64>,
    /// The sum of observations, as f64 bits.
    sum: AtomicU64,
}

impl Histogram {
    pub fn new(bounds: &'static [f64]) -> Self {
        Self { bounds, counts: (0..=bounds.len()).map(|_| AtomicU64::new(0)).collect(), sum: AtomicU64::new(0f64.to_bits()) }
    }

    pub fn observe(&self, value: f64) {
        if !value.is_finite() {
            return;
        }
        let i = self.bounds.iter().position(|b| value <= *b).unwrap_or(self.bounds.len());
        self.counts[i].fetch_add(1, Ordering::Relaxed);
        // Relaxed is enough: a scrape may see the count before the sum of the same observation.
        let _ = self.sum.fetch_update(Ordering::Relaxed, Ordering::Relaxed, |bits| Some((f64::from_bits(bits) + value).to_bits()));
    }

    pub fn observe_duration(&self, d: Duration) {
        self.observe(d.as_secs_f64());
    }

    pub fn count(&self) -> u64 {
        self.counts.iter().map(|c| c.load(Ordering::Relaxed)).sum()
    }

    /// Writes the `_bucket`, `_sum` and `_count` lines of this histogram, with `labels` (already
    /// formatted, `key="value"` pairs joined by commas, or empty) on each.
    fn render_series(&self, out: &mut String, name: &str, labels: &str) {
        let sep = if labels.is_empty() { "" } else { "," };
        let mut cumulative = 0;
        for (i, count) in self.counts.iter().enumerate() {
            cumulative += count.load(Ordering::Relaxed);
            let le = self.bounds.get(i).map_or_else(|| "+Inf".to_owned(), |b| format_float(*b));
            let _ = writeln!(out, "{name}_bucket{{{labels}{sep}le=\"{le}\"}} {cumulative}");
        }
        let braces = if labels.is_empty() { String::new() } else { format!("{{{labels}}}") };
        let _ = writeln!(out, "{name}_sum{braces} {}", format_float(f64::from_bits(self.sum.load(Ordering::Relaxed))));
        let _ = writeln!(out, "{name}_count{braces} {cumulative}");
    }
}

/// Values by label set (counters and gauges whose labels are only known at run time: tenants,
/// transports, reasons). The label names are fixed per family.
#[derive(Debug)]
pub struct Family {
    labels: &'static [&'static str],
    values: Mutex<BTreeMap<Vec<String>, f64>>,
}

impl Family {
    pub fn new(labels: &'static [&'static str]) -> Self {
        Self { labels, values: Mutex::new(BTreeMap::new()) }
    }

    /// Adds `delta` to the series of `values` (one per label name, in order).
    pub fn add(&self, values: &[&str], delta: f64) {
        debug_assert_eq!(values.len(), self.labels.len());
        let key: Vec<String> = values.iter().map(|v| (*v).to_owned()).collect();
        *self.lock().entry(key).or_insert(0.0) += delta;
    }

    pub fn set(&self, values: &[&str], value: f64) {
        let key: Vec<String> = values.iter().map(|v| (*v).to_owned()).collect();
        self.lock().insert(key, value);
    }

    pub fn get(&self, values: &[&str]) -> f64 {
        let key: Vec<String> = values.iter().map(|v| (*v).to_owned()).collect();
        self.lock().get(&key).copied().unwrap_or(0.0)
    }

    fn lock(&self) -> std::sync::MutexGuard<'_, BTreeMap<Vec<String>, f64>> {
        // Plain numbers: a panic elsewhere while holding the lock leaves them usable.
        self.values.lock().unwrap_or_else(|p| p.into_inner())
    }
}

/// Builds one exposition document.
#[derive(Debug, Default)]
pub struct Exposition {
    pub text: String,
}

impl Exposition {
    fn header(&mut self, name: &str, kind: &str, help: &str) {
        let _ = writeln!(self.text, "# HELP {name} {}", help.replace('\\', "\\\\").replace('\n', "\\n"));
        let _ = writeln!(self.text, "# TYPE {name} {kind}");
    }

    /// One unlabelled sample.
    pub fn scalar(&mut self, name: &str, kind: &str, help: &str, value: f64) {
        self.header(name, kind, help);
        let _ = writeln!(self.text, "{name} {}", format_float(value));
    }

    /// A counter or gauge family. A family with no series yet is still declared (with no
    /// samples), so dashboards find the name before the first call.
    pub fn family(&mut self, name: &str, kind: &str, help: &str, family: &Family) {
        self.header(name, kind, help);
        for (values, v) in family.lock().iter() {
            let labels = label_pairs(family.labels, values);
            let _ = writeln!(self.text, "{name}{{{labels}}} {}", format_float(*v));
        }
    }

    pub fn histogram(&mut self, name: &str, help: &str, h: &Histogram) {
        self.header(name, "histogram", help);
        h.render_series(&mut self.text, name, "");
    }

    /// Histograms of one family told apart by one label (`stage="vad"`, ...).
    pub fn histograms(&mut self, name: &str, help: &str, label: &str, series: &[(&str, &Histogram)]) {
        self.header(name, "histogram", help);
        for (value, h) in series {
            h.render_series(&mut self.text, name, &format!("{label}=\"{}\"", escape(value)));
        }
    }
}

fn label_pairs(names: &[&str], values: &[String]) -> String {
    names.iter().zip(values).map(|(n, v)| format!("{n}=\"{}\"", escape(v))).collect::<Vec<_>>().join(",")
}

/// Label values escape backslash, double quote and line feed (exposition format 0.0.4).
fn escape(value: &str) -> String {
    value.replace('\\', "\\\\").replace('"', "\\\"").replace('\n', "\\n")
}

/// Floats as Prometheus reads them: integers without a fraction, the rest in Rust's shortest
/// round-trip form, and the non-finite values by name.
fn format_float(v: f64) -> String {
    if v.is_nan() {
        "NaN".into()
    } else if v.is_infinite() {
        if v > 0.0 { "+Inf".into() } else { "-Inf".into() }
    } else if v.fract() == 0.0 && v.abs() < 1e15 {
        format!("{}", v as i64)
    } else {
        format!("{v}")
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn histogram_buckets_are_cumulative_with_sum_and_count() {
        let h = Histogram::new(&[0.1, 0.5]);
        for v in [0.05, 0.1, 0.3, 2.0, f64::NAN] {
            h.observe(v);
        }
        let mut e = Exposition::default();
        e.histogram("x_seconds", "x", &h);
        let lines: Vec<&str> = e.text.lines().collect();
        assert_eq!(
            lines,
            [
                "# HELP x_seconds x",
                "# TYPE x_seconds histogram",
                "x_seconds_bucket{le=\"0.1\"} 2",
                "x_seconds_bucket{le=\"0.5\"} 3",
                "x_seconds_bucket{le=\"+Inf\"} 4",
                "x_seconds_sum 2.45",
                "x_seconds_count 4",
            ]
        );
    }

    #[test]
    fn label_values_are_escaped() {
        let f = Family::new(&["tenant", "reason"]);
        f.add(&["a\"b", "line\nbreak\\"], 1.0);
        f.add(&["a\"b", "line\nbreak\\"], 2.0);
        let mut e = Exposition::default();
        e.family("c_total", "counter", "c", &f);
        assert!(e.text.ends_with("c_total{tenant=\"a\\\"b\",reason=\"line\\nbreak\\\\\"} 3\n"), "{}", e.text);
    }
}
