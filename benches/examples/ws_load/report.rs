//! The run's report: a table for people, the same figures as one JSON object for scripts, and
//! whether the run failed (a call refused, lost or closed with an error).

use std::collections::BTreeMap;
use std::fmt::Write as _;

use serde_json::{json, Value};

use super::events::{LoadAgg, WorkerView};
use super::{Args, Outcome, Shared};

/// A server audio gap above this is late: the peer's playout would have run dry.
const LATE_GAP_US: u32 = 40_000;

pub struct Report {
    head: Value,
    calls: Value,
    sent: Value,
    received: Value,
    worker: Option<Value>,
    failed: bool,
}

/// p50 / p99 / max of samples divided by `div` (µs / 1000 = ms); null when empty.
fn pcts(mut v: Vec<u32>, div: f64) -> Value {
    if v.is_empty() {
        return json!({"n": 0, "p50": null, "p99": null, "max": null});
    }
    v.sort_unstable();
    let at = |q: f64| f64::from(v[((v.len() - 1) as f64 * q).round() as usize]) / div;
    json!({"n": v.len(), "p50": at(0.5), "p99": at(0.99), "max": at(1.0)})
}

fn tally<'a>(items: impl Iterator<Item = String> + 'a) -> BTreeMap<String, u64> {
    let mut m = BTreeMap::new();
    for i in items {
        *m.entry(i).or_default() += 1;
    }
    m
}

impl Report {
    pub fn new(args: &Args, shared: &Shared, out: &Outcome, worker: Option<&WorkerView>) -> Self {
        let c = &out.conns;
        let opened = c.iter().filter(|x| x.opened).count();
        let refused = tally(c.iter().filter_map(|x| x.refused.as_ref()).map(|(s, b)| format!("{s} {b}")));
        let errors = tally(c.iter().filter_map(|x| x.error.clone()));
        let early = tally(c.iter().filter_map(|x| x.closed_early.as_ref()).map(|(code, r)| format!("{code} {r}")));
        let closed_with_error = c.iter().filter(|x| x.closed_early.as_ref().is_some_and(|(code, _)| *code != 1000)).count();
        let failed = opened < c.len() || !errors.is_empty() || closed_with_error > 0;
        let secs = ((out.window.1 - out.window.0) as f64 / 1000.0).max(0.001);
        let call_seconds = c.iter().map(|x| x.frames_sent).sum::<u64>() as f64 / 50.0;
        let process = out.worker_cpu.as_ref().map(|(total, threads)| {
            let mut threads: Vec<_> = threads.iter().filter(|(_, s)| **s >= 0.05).collect();
            threads.sort_by(|a, b| b.1.total_cmp(a.1));
            json!({"cpu_s": total, "cpu_pct_of_core": 100.0 * total / secs,
                "cpu_ms_per_call_second": if call_seconds > 0.0 { 1000.0 * total / call_seconds } else { 0.0 },
                "by_thread_s": threads.into_iter().map(|(n, s)| json!([n, (s * 10.0).round() / 10.0])).collect::<Vec<_>>(),
                "peak_rss_mb": out.worker_peak_rss_mb})
        });
        let head = json!({
            "protocol": shared.protocol.name(), "url": shared.url, "calls": shared.calls, "ramp_ms": args.ramp_ms,
            "duration_s": args.duration_s, "duty_s": [shared.duty.utter as f64 / 50.0, shared.duty.period as f64 / 50.0],
            "wav": args.wav.display().to_string(), "speech_slices": shared.audio.slices.len(), "rate_hz": shared.audio.rate.hz(),
            "run_id": shared.run_id, "window_unix_ms": [out.window.0, out.window.1],
            "client": {"threads": args.threads, "cpu_s": out.client_cpu_s, "cpu_pct_of_core": 100.0 * out.client_cpu_s / secs},
            "worker_process": process,
            // Everything else on the machine meanwhile (other sessions' builds and tests): with
            // the kernel's autogroup scheduling, another session gets its share whatever its nice.
            "machine": out.machine.map(|(busy, total)| {
                let others = busy - out.client_cpu_s - out.worker_cpu.as_ref().map_or(0.0, |w| w.0);
                json!({"busy_pct": 100.0 * busy / total.max(0.001), "others_cores": others / secs})
            }),
        });
        let calls = json!({
            "slots": shared.calls, "placed": c.len(), "opened": opened, "refused": c.iter().filter(|x| x.refused.is_some()).count(), "refused_by": refused,
            "errors": errors, "closed_early": c.iter().filter(|x| x.closed_early.is_some()).count(), "closed_early_by": early,
            "closed_with_error": closed_with_error,
            "connect_ms": pcts(c.iter().filter(|x| x.opened).map(|x| x.connect_us).collect(), 1000.0),
        });
        let frames_sent: u64 = c.iter().map(|x| x.frames_sent).sum();
        let sent = json!({
            "frames": frames_sent, "speech_frames": c.iter().map(|x| x.speech_frames).sum::<u64>(),
            "frames_expected": shared.calls as u64 * shared.frames, "frames_skipped": c.iter().map(|x| x.frames_skipped).sum::<u64>(),
            "send_late_ms": pcts(c.iter().flat_map(|x| x.send_late_us.iter().copied()).collect(), 1000.0),
            "send_late_over_20ms": c.iter().flat_map(|x| &x.send_late_us).filter(|&&u| u > 20_000).count(),
            "ticker_late_ms": pcts(out.ticker_late_us.clone(), 1000.0),
            "marks_echoed": c.iter().map(|x| x.marks_echoed).sum::<u64>(),
        });
        let gaps: Vec<u32> = c.iter().flat_map(|x| x.gaps_us.iter().copied()).collect();
        let late = gaps.iter().filter(|&&g| g > LATE_GAP_US).count();
        let received = json!({
            "audio": c.iter().map(|x| x.audio_in).sum::<u64>(), "calls_with_audio": c.iter().filter(|x| x.audio_in > 0).count(),
            "clears": c.iter().map(|x| x.clears).sum::<u64>(), "marks": c.iter().map(|x| x.marks_in).sum::<u64>(),
            "call_control": c.iter().map(|x| x.call_control).sum::<u64>(), "hangups": c.iter().map(|x| x.hangups).sum::<u64>(),
            "other": c.iter().map(|x| x.other_in).sum::<u64>(),
            "gaps_ms": pcts(gaps.clone(), 1000.0), "late_gaps": late,
            "late_pct": if gaps.is_empty() { 0.0 } else { 100.0 * late as f64 / gaps.len() as f64 },
            "pauses_over_250ms": c.iter().map(|x| x.pauses).sum::<u64>(),
        });
        let worker = worker.map(|w| {
            // Frames a call sent that the engine never took: still queued when it ended (each is
            // 20 ms of delay behind real time), or dropped for a full queue.
            let backlog: Vec<u32> = c
                .iter()
                .filter_map(|x| w.frames_in_by_call.get(&x.peer_id).map(|&f| x.frames_sent.saturating_sub(f).min(u64::from(u32::MAX)) as u32))
                .collect();
            let load = |a: &LoadAgg| {
                json!({"windows": a.windows, "ticks": a.ticks, "over_budget": a.over_budget, "late": a.late,
                    "worst_window_over_budget": a.worst_over_budget, "worst_window_late": a.worst_late, "max_calls": a.max_calls,
                    "work_p50_us_max": a.p50_us, "work_p99_us_max": a.p99_us, "work_max_us": a.max_us})
            };
            json!({
                "engine_load": load(&w.load_all), "engine_load_full": load(&w.load_full),
                "calls_started": w.started, "media_stats": w.media_stats, "frames_in": w.frames_in, "frames_sent": frames_sent,
                "frames_not_taken": frames_sent.saturating_sub(w.frames_in),
                "not_taken_per_call_frames": pcts(backlog, 1.0),
                "underruns": w.underruns, "frames_out": w.frames_out, "dropped_out": w.dropped_out,
                "stream_frames_dropped": w.dropped_in, "calls_dropping_in": w.calls_dropping_in,
                "call_ended": w.ended, "events": w.counts, "events_without_call": w.uncalled,
                "recognition_refused": w.counts.get("recognition_refused").copied().unwrap_or(0),
            })
        });
        Self { head, calls, sent, received, worker, failed }
    }

    pub fn failed(&self) -> bool {
        self.failed
    }

    pub fn json(&self) -> Value {
        json!({"run": self.head, "calls": self.calls, "sent": self.sent, "received": self.received, "worker": self.worker, "failed": self.failed})
    }

    pub fn table(&self) -> String {
        let (h, c, s, r) = (&self.head, &self.calls, &self.sent, &self.received);
        let ms = |v: &Value| format!("p50 {} / p99 {} / max {} ms", v["p50"], v["p99"], v["max"]);
        let mut t = String::new();
        let _ = writeln!(t, "ws_load {} {}: {} calls, ramp {} ms, {} s each, duty {}/{} s, {} ({} speech slices, {} Hz)",
            h["protocol"].as_str().unwrap_or(""), h["url"].as_str().unwrap_or(""), h["calls"], h["ramp_ms"], h["duration_s"],
            h["duty_s"][0], h["duty_s"][1], h["wav"].as_str().unwrap_or(""), h["speech_slices"], h["rate_hz"]);
        let _ = writeln!(t, "calls        {} slots, {} calls placed: opened {} | refused {} {} | errors {} {} | closed early {} {} | connect {}",
            c["slots"], c["placed"], c["opened"], c["refused"], c["refused_by"], c["errors"].as_object().map_or(0, |m| m.len()), c["errors"], c["closed_early"], c["closed_early_by"], ms(&c["connect_ms"]));
        let _ = writeln!(t, "client sent  frames {} of {} for the slots ({} speech, {} skipped), marks echoed {}",
            s["frames"], s["frames_expected"], s["speech_frames"], s["frames_skipped"], s["marks_echoed"]);
        let _ = writeln!(t, "  send lateness vs tick: {}, {} frames > 20 ms late; ticker itself: {}",
            ms(&s["send_late_ms"]), s["send_late_over_20ms"], ms(&s["ticker_late_ms"]));
        let _ = writeln!(t, "  client CPU {:.1} s = {:.0}% of one core ({} runtime threads)",
            h["client"]["cpu_s"].as_f64().unwrap_or(0.0), h["client"]["cpu_pct_of_core"].as_f64().unwrap_or(0.0), h["client"]["threads"]);
        if let Some(p) = h.get("worker_process").filter(|p| !p.is_null()) {
            let threads: Vec<String> = p["by_thread_s"].as_array().into_iter().flatten().map(|x| format!("{} {} s", x[0].as_str().unwrap_or("?"), x[1])).collect();
            let _ = writeln!(t, "worker proc  CPU {:.1} s = {:.0}% of one core, {:.2} ms CPU per call-second; peak RSS {:.0} MB; by thread: {}",
                p["cpu_s"].as_f64().unwrap_or(0.0), p["cpu_pct_of_core"].as_f64().unwrap_or(0.0), p["cpu_ms_per_call_second"].as_f64().unwrap_or(0.0),
                p["peak_rss_mb"].as_f64().unwrap_or(0.0), threads.join(", "));
        }
        if let Some(m) = h.get("machine").filter(|m| !m.is_null()) {
            let _ = writeln!(t, "machine      {:.0}% busy over the run; other processes used {:.2} cores",
                m["busy_pct"].as_f64().unwrap_or(0.0), m["others_cores"].as_f64().unwrap_or(0.0));
        }
        let _ = writeln!(t, "server sent  audio {} on {} calls, clears {}, marks {}, callControl {}, hangup {}, other {}",
            r["audio"], r["calls_with_audio"], r["clears"], r["marks"], r["call_control"], r["hangups"], r["other"]);
        let _ = writeln!(t, "  audio gaps within prompts: {} (n {}), late > 40 ms: {} = {:.2}%, pauses > 250 ms: {}",
            ms(&r["gaps_ms"]), r["gaps_ms"]["n"], r["late_gaps"], r["late_pct"].as_f64().unwrap_or(0.0), r["pauses_over_250ms"]);
        if let Some(w) = &self.worker {
            for (name, key) in [("engine (run)", "engine_load"), ("engine (all calls up)", "engine_load_full")] {
                let l = &w[key];
                let _ = writeln!(t, "{name:<22} {} reports, {} ticks: over budget {}, late {} (worst report {} / {}); max calls {}; work p50 {} / p99 {} / max {} µs (worst report)",
                    l["windows"], l["ticks"], l["over_budget"], l["late"], l["worst_window_over_budget"], l["worst_window_late"], l["max_calls"],
                    l["work_p50_us_max"], l["work_p99_us_max"], l["work_max_us"]);
            }
            let nt = &w["not_taken_per_call_frames"];
            let _ = writeln!(t, "worker calls  started {}, media_stats {}: frames_in {} of {} sent ({} not taken; per call p50 {} / p99 {} / max {} frames)",
                w["calls_started"], w["media_stats"], w["frames_in"], w["frames_sent"], w["frames_not_taken"], nt["p50"], nt["p99"], nt["max"]);
            let _ = writeln!(t, "  underruns {}, frames out {}, dropped out {}, inbound frames dropped (queue full) {} on {} calls, recognition_refused {}",
                w["underruns"], w["frames_out"], w["dropped_out"], w["stream_frames_dropped"], w["calls_dropping_in"], w["recognition_refused"]);
            let _ = writeln!(t, "  call_ended {}", w["call_ended"]);
            let _ = writeln!(t, "  events {}", w["events"]);
            if w["events_without_call"].as_object().is_some_and(|m| !m.is_empty()) {
                let _ = writeln!(t, "  events without a call {}", w["events_without_call"]);
            }
        }
        let _ = writeln!(t, "result: {}", if self.failed { "FAILED (a call was refused, lost, or closed with an error)" } else { "every call opened and ran" });
        t
    }
}
