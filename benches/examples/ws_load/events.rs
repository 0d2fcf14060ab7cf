//! The worker's side of the run, from its events JSONL file: the media engine's `engine_load`
//! reports for the run's window, and per call of this run (found by the peer id the client gave
//! it, in `call_started.peer_call_id`) `media_stats`, `stream_frames_dropped`, how calls ended
//! and how many of each other event (recognition refused for a full queue, transcripts).

use std::collections::{BTreeMap, HashMap};
use std::path::Path;
use std::time::{Duration, Instant};

use serde_json::Value;

/// The engine reports every 10 s (worker `media::load::REPORT_EVERY`): a report up to this long
/// after the run still covers part of it.
const REPORT_EVERY_MS: u64 = 10_000;

/// Sum and worst of a set of `engine_load` windows.
#[derive(Debug, Default, Clone)]
pub struct LoadAgg {
    pub windows: u64,
    pub ticks: u64,
    pub over_budget: u64,
    pub late: u64,
    pub worst_over_budget: u64,
    pub worst_late: u64,
    pub max_calls: u64,
    pub p50_us: u64,
    pub p99_us: u64,
    pub max_us: u64,
}

impl LoadAgg {
    fn add(&mut self, e: &Value) {
        let n = |k: &str| e.get(k).and_then(Value::as_u64).unwrap_or(0);
        self.windows += 1;
        self.ticks += n("ticks");
        self.over_budget += n("over_budget");
        self.late += n("late");
        self.worst_over_budget = self.worst_over_budget.max(n("over_budget"));
        self.worst_late = self.worst_late.max(n("late"));
        self.max_calls = self.max_calls.max(n("max_calls"));
        self.p50_us = self.p50_us.max(n("work_p50_us"));
        self.p99_us = self.p99_us.max(n("work_p99_us"));
        self.max_us = self.max_us.max(n("work_max_us"));
    }
}

#[derive(Debug, Default)]
pub struct WorkerView {
    /// Every report whose window overlaps the run.
    pub load_all: LoadAgg,
    /// Reports whose window held every opened call at once (steady state).
    pub load_full: LoadAgg,
    pub started: u64,
    pub media_stats: u64,
    pub frames_in: u64,
    pub underruns: u64,
    pub frames_out: u64,
    pub dropped_out: u64,
    /// Inbound frames the connection tasks dropped for a full engine queue (each call's last
    /// report: the counter is cumulative, reported at powers of two).
    pub dropped_in: u64,
    pub calls_dropping_in: u64,
    pub ended: BTreeMap<String, u64>,
    /// `media_stats.frames_in` by the call's peer id.
    pub frames_in_by_call: HashMap<String, u64>,
    /// Every event of this run's calls, by name.
    pub counts: BTreeMap<String, u64>,
    /// Events not tied to a call during the run (refusals before admission, stream errors).
    pub uncalled: BTreeMap<String, u64>,
}

/// Reads the events of this run (calls whose peer id starts with `prefix`; engine reports and
/// call-less events from `t0_ms` on) once the worker has reported on every opened call and an
/// engine report covering the end has come, or `settle` has passed.
/// `window` is the run (first frame due, last call stopped); `steady` the time every slot had a
/// call (the last slot started, the first slot ended), all Unix ms.
pub fn collect(path: &Path, prefix: &str, opened: usize, window: (u64, u64), steady: (u64, u64), settle: Duration) -> Result<WorkerView, String> {
    let t1_ms = window.1;
    let deadline = Instant::now() + settle;
    loop {
        let text = std::fs::read_to_string(path).map_err(|e| format!("--events {}: {e}", path.display()))?;
        let (view, last_load_ms) = parse(&text, prefix, window, steady);
        let complete = view.started as usize >= opened && view.media_stats >= view.started && last_load_ms >= t1_ms;
        if complete || Instant::now() >= deadline {
            return Ok(view);
        }
        std::thread::sleep(Duration::from_millis(500));
    }
}

fn parse(text: &str, prefix: &str, (t0_ms, t1_ms): (u64, u64), steady: (u64, u64)) -> (WorkerView, u64) {
    let mut v = WorkerView::default();
    // Our calls: the worker's call id -> the peer id the client gave.
    let mut ours: HashMap<String, String> = HashMap::new();
    let mut dropped: HashMap<String, u64> = HashMap::new();
    let mut last_load_ms = 0;
    for line in text.lines() {
        let Ok(e) = serde_json::from_str::<Value>(line) else { continue };
        let s = |k: &str| e.get(k).and_then(Value::as_str).unwrap_or("");
        let n = |k: &str| e.get(k).and_then(Value::as_u64).unwrap_or(0);
        let (event, call, ts) = (s("event"), s("call_id"), n("ts_ms"));
        if event == "engine_load" {
            if ts > t0_ms && ts <= t1_ms + REPORT_EVERY_MS {
                last_load_ms = last_load_ms.max(ts);
                v.load_all.add(&e);
            }
            // Steady state: the report's whole 10 s window lies where every slot had a call.
            if ts >= steady.0 + REPORT_EVERY_MS && ts <= steady.1 {
                v.load_full.add(&e);
            }
            continue;
        }
        if event == "call_started" && s("peer_call_id").starts_with(prefix) {
            ours.insert(call.to_owned(), s("peer_call_id").to_owned());
            v.started += 1;
        }
        let Some(peer) = ours.get(call) else {
            if call == "-" && ts >= t0_ms && ts <= t1_ms + REPORT_EVERY_MS {
                *v.uncalled.entry(event.to_owned()).or_default() += 1;
            }
            continue;
        };
        *v.counts.entry(event.to_owned()).or_default() += 1;
        match event {
            "media_stats" => {
                v.media_stats += 1;
                v.frames_in += n("frames_in");
                v.frames_in_by_call.insert(peer.clone(), n("frames_in"));
                v.underruns += n("underruns");
                v.frames_out += n("frames_out");
                v.dropped_out += n("dropped_out");
            }
            "stream_frames_dropped" => {
                let d = dropped.entry(call.to_owned()).or_default();
                *d = (*d).max(n("dropped"));
            }
            "call_ended" => {
                // "peer stopped the stream: stop" and the like: the reason up to its detail.
                let reason = s("reason").split(':').next().unwrap_or("").to_owned();
                *v.ended.entry(reason).or_default() += 1;
            }
            _ => {}
        }
    }
    v.dropped_in = dropped.values().sum();
    v.calls_dropping_in = dropped.len() as u64;
    (v, last_load_ms)
}
