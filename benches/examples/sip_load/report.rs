//! The run's report: one JSON object for scripts and a table for people, and whether the run
//! failed (a call that failed to set up for another reason than a refusal, or failed in the
//! call).

use std::collections::BTreeMap;
use std::fmt::Write as _;

use serde_json::{json, Value};

use super::call::{CallStats, LATE};
use super::content::Content;
use super::events::LoadAgg;
use super::worker::WorkerView;
use super::{Args, Outcome, Shared};

pub struct Report {
    v: Value,
    failed: bool,
}

/// p50 / p95 / p99 / max (nearest rank) of `v` divided by `div`; nulls when empty.
fn pcts(mut v: Vec<f64>, div: f64) -> Value {
    if v.is_empty() {
        return json!({"n": 0, "p50": null, "p95": null, "p99": null, "max": null});
    }
    v.sort_by(f64::total_cmp);
    let at = |q: f64| (v[((v.len() - 1) as f64 * q).round() as usize] / div * 10.0).round() / 10.0;
    json!({"n": v.len(), "p50": at(0.5), "p95": at(0.95), "p99": at(0.99), "max": at(1.0)})
}

fn tally(items: impl Iterator<Item = String>) -> BTreeMap<String, u64> {
    let mut m = BTreeMap::new();
    for i in items {
        *m.entry(i).or_default() += 1;
    }
    m
}

fn pct(n: u64, of: u64) -> f64 {
    if of == 0 {
        0.0
    } else {
        (10_000.0 * n as f64 / of as f64).round() / 100.0
    }
}

/// Most calls up at once: a sweep over answered..ended.
fn concurrent_peak(calls: &[CallStats]) -> usize {
    let mut edges: Vec<(u64, i32)> = calls.iter().filter_map(|c| c.answered_ms.map(|a| [(a, 1), (c.ended_ms.max(a), -1)])).flatten().collect();
    edges.sort_by_key(|&(t, d)| (t, d));
    let (mut now, mut peak) = (0i32, 0i32);
    for (_, d) in edges {
        now += d;
        peak = peak.max(now);
    }
    peak as usize
}

impl Report {
    pub fn new(args: &Args, shared: &Shared, out: &Outcome, worker: Option<&WorkerView>) -> Self {
        let c = &out.calls;
        let secs = ((out.window.1.saturating_sub(out.window.0)) as f64 / 1000.0).max(0.001);
        let sum = |f: fn(&CallStats) -> u64| c.iter().map(f).sum::<u64>();
        let setup_failed: Vec<&CallStats> = c.iter().filter(|x| x.setup_failed || (x.answered_ms.is_none() && x.refused.is_none())).collect();
        let in_call_errors = c.iter().filter(|x| x.answered_ms.is_some() && x.error.is_some()).count();
        let failed = !setup_failed.is_empty() || in_call_errors > 0;
        let call_seconds = sum(|x| x.rtp_sent + x.rtp_lost) as f64 / 50.0;
        let mode = match &shared.content {
            Content::Duty(d) => json!({"kind": "duty", "wav": d.wav.display().to_string(), "duty_s": [d.duty.utter as f64 / 50.0, d.duty.period as f64 / 50.0], "speech_slices": d.slices.len()}),
            Content::Script(f) => json!({"kind": "assistant", "fixtures": f.len(), "speak_on": args.speak_on, "speak_at_ms": args.speak_at_ms, "quiet_ms": args.quiet_ms}),
        };
        // The RSS samples outlive the worker: a run that ends with the worker gone (drained,
        // exited) still reports them, with its CPU totals unknown.
        let process = (out.worker_cpu.is_some() || !out.rss_samples.is_empty()).then(|| {
            let (total, threads) = match &out.worker_cpu {
                Some((total, threads)) => (Some(*total), threads.iter().filter(|(_, s)| **s >= 0.05).collect::<Vec<_>>()),
                None => (None, Vec::new()),
            };
            let mut threads = threads;
            threads.sort_by(|a, b| b.1.total_cmp(a.1));
            let rss = &out.rss_samples;
            let round = |x: f64| (x * 10.0).round() / 10.0;
            // Flat or not: from the first sample with every slot started to the last.
            let ramp_s = shared.ramp.as_secs_f64();
            let (start, first, last) = (rss.first().map(|s| s.1), rss.iter().find(|s| s.0 >= ramp_s).map(|s| s.1), rss.last().map(|s| s.1));
            json!({"cpu_s": total, "cpu_pct_of_core": total.map(|t| 100.0 * t / secs),
                "cpu_ms_per_call_second": total.map(|t| if call_seconds > 0.0 { 1000.0 * t / call_seconds } else { 0.0 }),
                "by_thread_s": threads.into_iter().map(|(n, s)| json!([n, (s * 10.0).round() / 10.0])).collect::<Vec<_>>(),
                "peak_rss_mb": out.worker_peak_rss_mb,
                "rss_mb_every_10s": rss.iter().map(|(t, mb)| json!([round(*t), round(*mb)])).collect::<Vec<_>>(),
                "rss_start_mb": start.map(round), "rss_first_after_ramp_mb": first.map(round), "rss_last_mb": last.map(round),
                "rss_change_pct": first.zip(last).map(|(a, b)| (1000.0 * (b - a) / a.max(0.001)).round() / 10.0)})
        });
        let run = json!({
            "target": shared.target.to_string(), "calls": shared.calls, "ramp_ms": args.ramp_ms, "duration_s": args.duration_s,
            "redial": shared.redial, "mode": mode, "run_id": shared.run_id, "window_unix_ms": [out.window.0, out.window.1],
            "impairment": {"loss_pct": args.loss, "jitter_ms": args.jitter_ms, "reorder_pct": args.reorder, "seed": args.seed},
            "client": {"threads": args.threads, "cpu_s": out.client_cpu_s, "cpu_pct_of_core": 100.0 * out.client_cpu_s / secs},
            "worker_process": process,
            "machine": out.machine.map(|(busy, total)| {
                let others = busy - out.client_cpu_s - out.worker_cpu.as_ref().map_or(0.0, |w| w.0);
                json!({"busy_pct": 100.0 * busy / total.max(0.001), "others_cores": others / secs})
            }),
        });
        let calls = json!({
            "slots": shared.calls, "attempted": c.len(), "answered": c.iter().filter(|x| x.answered_ms.is_some()).count(),
            "refused": c.iter().filter(|x| x.refused.is_some()).count(),
            "refused_by": tally(c.iter().filter_map(|x| x.refused.as_ref()).map(|(s, r)| format!("{s} {r}"))),
            "failed_setup": setup_failed.len(), "failed_setup_by": tally(setup_failed.iter().map(|x| x.error.clone().unwrap_or_else(|| "?".into()))),
            "failed_in_call": in_call_errors,
            "failed_in_call_by": tally(c.iter().filter(|x| x.answered_ms.is_some()).filter_map(|x| x.error.clone())),
            "concurrent_peak": concurrent_peak(c),
            "setup_ms": pcts(c.iter().filter_map(|x| x.setup_us).map(f64::from).collect(), 1000.0),
            "invite_retransmits": c.iter().map(|x| u64::from(x.invite_retransmits)).sum::<u64>(),
            "provisional": tally(c.iter().flat_map(|x| x.provisional.iter().map(u16::to_string))),
            "ended_by": tally(c.iter().filter_map(|x| x.ended_by).map(str::to_owned)),
            "refers": c.iter().filter(|x| x.refer_to.is_some()).count(),
            "refer_to": tally(c.iter().filter_map(|x| x.refer_to.as_ref()).map(|t| t.split(['?', ';']).next().unwrap_or("").trim_start_matches('<').to_owned())),
            "notify_answered": tally(c.iter().filter_map(|x| x.notify_status).map(|s| s.to_string())),
            "other_requests": tally(c.iter().flat_map(|x| x.other_requests.iter().cloned())),
        });
        let prompt_gaps: Vec<f64> = c.iter().flat_map(|x| x.prompt_gaps_us.iter().map(|&g| f64::from(g))).collect();
        let late_prompt = prompt_gaps.iter().filter(|&&g| g > LATE.as_micros() as f64).count() as u64;
        let (rtp_in, prompt_in, late_all) = (sum(|x| x.rtp_in), sum(|x| x.prompt_packets), sum(|x| x.late_all));
        let rtp = json!({
            "sent": sum(|x| x.rtp_sent), "lost_by_impairment": sum(|x| x.rtp_lost), "reordered_by_impairment": sum(|x| x.rtp_reordered),
            "speech_frames": sum(|x| x.speech_frames), "send_errors": sum(|x| x.send_errors), "frames_skipped": sum(|x| x.frames_skipped),
            "received": rtp_in, "received_in_prompts": prompt_in, "rtcp_received": sum(|x| x.rtcp_in), "dtmf_received": sum(|x| x.dtmf_in),
            "not_rtp_received": sum(|x| x.not_rtp_in),
            "calls_without_rtp": c.iter().filter(|x| x.answered_ms.is_some() && x.rtp_in == 0).count(),
            "late_in_prompts": late_prompt, "late_in_prompts_pct": pct(late_prompt, prompt_in),
            "prompt_gap_ms": pcts(prompt_gaps, 1000.0),
            "late_all": late_all, "late_all_pct": pct(late_all, rtp_in),
            "max_gap_ms": c.iter().map(|x| x.max_gap_us).max().unwrap_or(0) as f64 / 1000.0,
            "pump": {"ticks": out.pump.ticks, "ticks_skipped": out.pump.ticks_skipped, "max_streams": out.pump.max_streams,
                "tick_late_ms": pcts(out.pump.tick_late_us.iter().map(|&u| f64::from(u)).collect(), 1000.0)},
        });
        let assistant = match (&shared.content, worker) {
            (Content::Script(fixtures), Some(w)) => Some(score(c, fixtures, w)),
            (Content::Script(_), None) => Some(json!({"note": "no --events: decisions not read"})),
            _ => None,
        };
        let worker = worker.map(|w| worker_json(w, sum(|x| x.rtp_sent)));
        Self { v: json!({"run": run, "calls": calls, "rtp": rtp, "assistant": assistant, "worker": worker, "failed": failed}), failed }
    }

    pub fn failed(&self) -> bool {
        self.failed
    }

    pub fn json(&self) -> Value {
        self.v.clone()
    }

    pub fn table(&self) -> String {
        super::report_table::table(&self.v)
    }
}

/// Decisions against the fixtures: each call that said its utterance to the end is correct,
/// wrong or without a decision; the latency of decisions taken on the caller's words.
fn score(calls: &[CallStats], fixtures: &[super::content::Fixture], w: &WorkerView) -> Value {
    let (mut correct, mut wrong, mut none, mut unscored) = (0u64, 0u64, 0u64, 0u64);
    let (mut menu_right, mut menu_seen) = (0u64, 0u64);
    let (mut latency, mut latency_all, mut client_latency, mut spoke_after) = (Vec::new(), Vec::new(), Vec::new(), Vec::new());
    let mut misses = Vec::new();
    let mut reasons = BTreeMap::new();
    let mut triggers = BTreeMap::new();
    for c in calls.iter().filter(|c| c.answered_ms.is_some()) {
        let Some(f) = c.fixture.map(|i| &fixtures[i % fixtures.len()]) else { continue };
        let (Some(last_word), Some(spoke)) = (c.last_word_ms, c.spoke_ms) else {
            unscored += 1;
            continue;
        };
        *triggers.entry(c.speak_trigger.unwrap_or("?").to_owned()).or_insert(0u64) += 1;
        spoke_after.push((spoke - c.answered_ms.unwrap_or(spoke)) as f64);
        let view = w.calls.get(&c.call_id);
        if let Some(m) = view.and_then(|v| v.menu.as_ref()) {
            menu_seen += 1;
            menu_right += u64::from(m.as_deref() == Some(f.intent.as_str()));
        }
        let Some(d) = view.and_then(|v| v.decision.as_ref()) else {
            none += 1;
            misses.push(format!("{}: no decision (worker call {})", f.path, view.map_or("not seen", |v| v.worker_call_id.as_str())));
            continue;
        };
        *reasons.entry(d.reason.clone()).or_insert(0u64) += 1;
        if d.intent.as_deref() == Some(f.intent.as_str()) {
            correct += 1;
        } else {
            wrong += 1;
            let heard = view.and_then(|v| v.menu_text.clone()).unwrap_or_default();
            misses.push(format!("{}: expected {}, decision {:?} ({:.2}, {}, {}), heard {heard:?}", f.path, f.intent, d.intent, d.confidence, d.reason, d.target));
        }
        if let Some(l) = d.latency_ms {
            latency_all.push(l as f64);
        }
        // Timers (no input, before or as the reason) and our own hang-up decide on no word of
        // the caller's.
        if matches!(d.reason.as_str(), "intent" | "escalation" | "dtmf") && !d.after_no_input {
            if let Some(l) = d.latency_ms {
                latency.push(l as f64);
            }
            client_latency.push(d.ts_ms as f64 - last_word as f64);
        }
    }
    json!({
        "scored": correct + wrong + none, "correct": correct, "wrong": wrong, "no_decision": none,
        "not_scored_not_said_to_the_end": unscored,
        "accuracy": if correct + wrong + none > 0 { correct as f64 / (correct + wrong + none) as f64 } else { 0.0 },
        "menu_outcome_correct": [menu_right, menu_seen], "decision_reasons": reasons, "speak_triggers": triggers,
        "spoke_after_answer_ms": pcts(spoke_after, 1.0),
        "decision_latency_ms": pcts(latency, 1.0), "decision_latency_all_ms": pcts(latency_all, 1.0), "client_last_word_to_decision_event_ms": pcts(client_latency, 1.0),
        "misses": misses,
    })
}

fn worker_json(w: &WorkerView, sent: u64) -> Value {
    let media: Vec<&Value> = w.calls.values().filter_map(|c| c.media.as_ref()).collect();
    let msum = |k: &str| media.iter().map(|m| m[k].as_u64().unwrap_or(0)).sum::<u64>();
    let mos: Vec<f64> = media.iter().filter_map(|m| m["mos"].as_f64()).collect();
    let load = |a: &LoadAgg| {
        json!({"windows": a.windows, "ticks": a.ticks, "over_budget": a.over_budget, "late": a.late,
            "worst_window_over_budget": a.worst_over_budget, "worst_window_late": a.worst_late, "max_calls": a.max_calls,
            "work_p50_us_max": a.p50_us, "work_p99_us_max": a.p99_us, "work_max_us": a.max_us})
    };
    let rtp_packets = msum("rtp_packets");
    json!({
        "calls_seen": w.calls.len(), "matched_by_from": w.matched_by_from,
        "calls_started": w.counts.get("call_started").copied().unwrap_or(0),
        "refused": tally(w.calls.values().filter_map(|c| c.refused.clone())),
        "media_stats": media.len(), "rtp_packets": rtp_packets, "rtp_sent_by_client": sent,
        "rtp_not_counted": sent.saturating_sub(rtp_packets),
        "jitter_late": msum("late"), "duplicates": msum("duplicates"), "concealed_lost": msum("concealed_lost"),
        "malformed": msum("malformed"), "not_rtp": msum("not_rtp"),
        "mos": pcts(mos, 1.0),
        "transfer_results": tally(w.calls.values().filter_map(|c| c.transfer_ok).map(|ok| ok.to_string())),
        "call_ended": tally(w.calls.values().filter_map(|c| c.ended.clone())),
        "events": w.counts, "events_without_call": w.engine.uncalled,
        "engine_load": load(&w.engine.load_all), "engine_load_full": load(&w.engine.load_full),
        "recognition_refused": w.counts.get("recognition_refused").copied().unwrap_or(0),
    })
}

/// Used by the table: a percentile set as text.
pub fn ms(v: &Value) -> String {
    format!("p50 {} / p95 {} / p99 {} / max {}", v["p50"], v["p95"], v["p99"], v["max"])
}

/// Used by the table.
pub fn text(t: &mut String, line: std::fmt::Arguments<'_>) {
    let _ = t.write_fmt(line);
    t.push('\n');
}
