//! What operators see of a running worker: the Prometheus metrics of `/metrics` and the call
//! table of `/v1/calls`.
//!
//! Both are fed by the event records as [`EventSink::emit`](super::events::EventSink::emit)
//! writes them ([`Telemetry::observe`], synchronously, so nothing is missed or counted twice),
//! plus the few measurements no event carries, which the stage that has them records directly:
//! the VAD batch time per tick (media thread), the embedding time (recognition thread) and the
//! recognition queue wait (pool). The metrics therefore agree with the events file by
//! construction.

pub mod calls;
pub mod otel;
pub mod prom;
pub mod redact;

use std::collections::HashMap;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex, MutexGuard};
use std::time::Instant;

use serde_json::{Map, Value};

use calls::{CallTable, CallView};
use prom::{Exposition, Family, Histogram, LATENCY_BUCKETS};

/// Real-time factor buckets (decode time over audio time).
const RTF_BUCKETS: &[f64] = &[0.02, 0.05, 0.1, 0.2, 0.3, 0.5, 0.75, 1.0, 1.5, 2.0];
/// MOS buckets (G.107 estimate, 1 to 4.5).
const MOS_BUCKETS: &[f64] = &[1.0, 2.0, 2.5, 3.0, 3.5, 3.8, 4.0, 4.2, 4.4, 4.5];
/// Fraction of packets lost per RTCP interval.
const LOSS_BUCKETS: &[f64] = &[0.0, 0.001, 0.005, 0.01, 0.02, 0.05, 0.1, 0.2, 0.5, 1.0];
/// Jitter buckets in seconds.
const JITTER_BUCKETS: &[f64] = &[0.001, 0.002, 0.005, 0.01, 0.02, 0.03, 0.05, 0.1, 0.2];

/// The worker's metrics and call table. One per process, shared by every thread.
#[derive(Debug)]
pub struct Telemetry {
    /// Phone numbers masked in `/v1/calls` (and logs): on unless the config says otherwise.
    pub redact: bool,
    calls: Mutex<CallState>,
    accepted: Family,
    refused: Family,
    ended: Family,
    decisions: Family,
    barge_ins: Family,
    keypad_only: Family,
    rtp_lost: Family,
    media_ticks: Family,
    /// Batched Silero inference, per media tick.
    pub vad: Histogram,
    /// End-of-turn decision to final transcript.
    pub recognition: Histogram,
    /// Sentence embedding of a transcript (the cost of classifying it).
    pub intent: Histogram,
    /// Caller's last word to the routing decision.
    pub decision: Histogram,
    /// Decode time over audio duration, per final.
    pub recognition_rtf: Histogram,
    /// Time a recognition job waited for a decoder.
    pub queue_wait: Histogram,
    /// Whole media tick (every call's frame in and out).
    pub tick: Histogram,
    jitter: Histogram,
    loss: Histogram,
    mos: Histogram,
    /// The recognition pools, by model, for their queue depth.
    queues: Mutex<Vec<(String, Arc<crate::serve::pool::RecognitionPool>)>>,
    draining: AtomicBool,
}

#[derive(Debug, Default)]
struct CallState {
    table: CallTable,
    /// The last cumulative loss each call's RTCP reported, to count packets lost once.
    lost_so_far: HashMap<String, u64>,
}

impl Default for Telemetry {
    fn default() -> Self {
        Self::new(true)
    }
}

impl Telemetry {
    pub fn new(redact: bool) -> Self {
        Self {
            redact,
            calls: Mutex::default(),
            accepted: Family::new(&["tenant", "transport"]),
            refused: Family::new(&["tenant", "transport", "reason"]),
            ended: Family::new(&["tenant", "transport"]),
            decisions: Family::new(&["tenant", "intent"]),
            barge_ins: Family::new(&["tenant"]),
            keypad_only: Family::new(&["tenant"]),
            rtp_lost: Family::new(&["tenant"]),
            media_ticks: Family::new(&["outcome"]),
            vad: Histogram::new(LATENCY_BUCKETS),
            recognition: Histogram::new(LATENCY_BUCKETS),
            intent: Histogram::new(LATENCY_BUCKETS),
            decision: Histogram::new(LATENCY_BUCKETS),
            recognition_rtf: Histogram::new(RTF_BUCKETS),
            queue_wait: Histogram::new(LATENCY_BUCKETS),
            tick: Histogram::new(LATENCY_BUCKETS),
            jitter: Histogram::new(JITTER_BUCKETS),
            loss: Histogram::new(LOSS_BUCKETS),
            mos: Histogram::new(MOS_BUCKETS),
            queues: Mutex::default(),
            draining: AtomicBool::new(false),
        }
    }

    fn state(&self) -> MutexGuard<'_, CallState> {
        self.calls.lock().unwrap_or_else(|p| p.into_inner())
    }

    /// Reports the queue depth of `pool`, the recognizer of `model`.
    pub fn add_queue(&self, model: &str, pool: Arc<crate::serve::pool::RecognitionPool>) {
        self.queues.lock().unwrap_or_else(|p| p.into_inner()).push((model.to_owned(), pool));
    }

    pub fn set_draining(&self, draining: bool) {
        self.draining.store(draining, Ordering::Relaxed);
    }

    /// One event record as written (with `ts_ms`, `call_id`, `tenant`, `event`).
    pub fn observe(&self, record: &Map<String, Value>) {
        let str_of = |k: &str| record.get(k).and_then(Value::as_str).unwrap_or("");
        let f64_of = |k: &str| record.get(k).and_then(Value::as_f64);
        let (call_id, tenant, event) = (str_of("call_id"), str_of("tenant"), str_of("event"));
        match event {
            "call_started" => self.accepted.add(&[tenant, transport_label(record)], 1.0),
            "call_refused" | "stream_refused" => {
                let transport = record.get("transport").and_then(Value::as_str).unwrap_or("sip");
                self.refused.add(&[tenant, transport, refusal_reason(record)], 1.0);
            }
            "final_latency" => {
                if let Some(ms) = f64_of("ms") {
                    self.recognition.observe(ms / 1e3);
                }
            }
            "final_transcript" => {
                let (start, end, compute) = (f64_of("start"), f64_of("end"), f64_of("compute_ms"));
                if let (Some(start), Some(end), Some(compute)) = (start, end, compute) {
                    if end > start {
                        self.recognition_rtf.observe(compute / (end - start));
                    }
                }
            }
            "decision" => {
                let intent = record.get("intent").and_then(Value::as_str).unwrap_or("none");
                self.decisions.add(&[tenant, intent], 1.0);
                let ms = record.get("timings").and_then(|t| t.get("last_word_to_decision_ms")).and_then(Value::as_f64);
                if let Some(ms) = ms {
                    self.decision.observe(ms / 1e3);
                }
            }
            "barge_in" => self.barge_ins.add(&[tenant], 1.0),
            "keypad_only" => self.keypad_only.add(&[tenant], 1.0),
            "quality" => {
                if let Some(j) = f64_of("jitter_ms") {
                    self.jitter.observe(j / 1e3);
                }
                if let Some(l) = f64_of("fraction_lost") {
                    self.loss.observe(l);
                }
                if let Some(m) = f64_of("mos") {
                    self.mos.observe(m);
                }
            }
            "engine_load" => {
                for (outcome, key) in [("total", "ticks"), ("over_budget", "over_budget"), ("late", "late")] {
                    self.media_ticks.add(&[outcome], f64_of(key).unwrap_or(0.0));
                }
            }
            _ => {}
        }
        // Only records of calls go to the table ("-" and the like are the worker's own).
        if call_id.len() > 1 {
            let mut state = self.state();
            if event == "quality" {
                let cumulative = record.get("cumulative_lost").and_then(Value::as_u64).unwrap_or(0);
                let before = state.lost_so_far.insert(call_id.to_owned(), cumulative).unwrap_or(0);
                if cumulative > before {
                    self.rtp_lost.add(&[tenant], (cumulative - before) as f64);
                }
            }
            if event == "call_ended" {
                state.lost_so_far.remove(call_id);
                if let Some(live) = state.table.get(call_id).filter(|c| c.state != "ended") {
                    self.ended.add(&[tenant, &live.transport], 1.0);
                }
            }
            state.table.apply(call_id, tenant, event, record, self.redact, Instant::now());
        }
    }

    pub fn live_calls(&self) -> Vec<CallView> {
        self.state().table.live()
    }

    pub fn live_count(&self, tenant: Option<&str>) -> usize {
        self.state().table.live_count(tenant)
    }

    pub fn call(&self, call_id: &str) -> Option<CallView> {
        self.state().table.get(call_id)
    }

    /// The exposition document of `/metrics`. `ready` is what `/readyz` says now.
    pub fn render(&self, ready: bool) -> String {
        let mut e = Exposition::default();
        let active = Family::new(&["tenant", "transport"]);
        for ((tenant, transport), n) in self.state().table.live_by_tenant_and_transport() {
            active.add(&[tenant, transport], n as f64);
        }
        e.family("attendant_active_calls", "gauge", "Calls in progress, by tenant and transport (sip, acs, twilio, relay, webrtc).", &active);
        e.scalar("attendant_calls_in_progress", "gauge", "Calls in progress in this process, all tenants and transports (attendant_active_calls summed).", self.live_count(None) as f64);
        e.family("attendant_calls_accepted_total", "counter", "Calls admitted, by tenant and transport.", &self.accepted);
        e.family("attendant_calls_refused_total", "counter", "Calls refused, by tenant, transport and reason.", &self.refused);
        e.family("attendant_calls_ended_total", "counter", "Calls that ended after being admitted.", &self.ended);
        e.family("attendant_decisions_total", "counter", "Routing decisions, by tenant and intent.", &self.decisions);
        e.family("attendant_barge_ins_total", "counter", "Prompts interrupted by the caller's speech.", &self.barge_ins);
        e.family("attendant_calls_keypad_only_total", "counter", "Assistant calls moved to the keypad because recognition fell behind.", &self.keypad_only);
        e.histograms(
            "attendant_stage_latency_seconds",
            "Per-stage latency: vad (batched Silero inference per 20 ms tick), recognition (end of turn to final transcript), intent (transcript embedding), decision (caller's last word to the routing decision).",
            "stage",
            &[("vad", &self.vad), ("recognition", &self.recognition), ("intent", &self.intent), ("decision", &self.decision)],
        );
        e.histogram("attendant_recognition_real_time_factor", "Decode time over audio duration, per final transcript.", &self.recognition_rtf);
        e.histogram("attendant_recognition_queue_wait_seconds", "Time a recognition job waited for a decoder.", &self.queue_wait);
        let depth = Family::new(&["model"]);
        let partials = Family::new(&["model", "outcome"]);
        for (model, pool) in self.queues.lock().unwrap_or_else(|p| p.into_inner()).iter() {
            depth.set(&[model], pool.queued() as f64);
            let counts = pool.partial_counts();
            for (outcome, n) in [("decoded", counts.decoded), ("skipped", counts.skipped), ("preempted", counts.preempted)] {
                partials.set(&[model, outcome], n as f64);
            }
        }
        e.family("attendant_recognition_queue_depth", "gauge", "Recognition jobs waiting for a decoder, by model.", &depth);
        e.family(
            "attendant_recognition_partials_total",
            "counter",
            "Partial transcripts by outcome: decoded, skipped (no decoder free), preempted (aborted for a final).",
            &partials,
        );
        e.histogram("attendant_media_tick_seconds", "Work of one 20 ms media tick (every call's frame in and out, VAD, endpointers).", &self.tick);
        e.family("attendant_media_ticks_total", "counter", "Media ticks (total), those whose work exceeded 20 ms (over_budget), and those that started late.", &self.media_ticks);
        e.family("attendant_rtp_packets_lost_total", "counter", "RTP packets lost, from the calls' RTCP reports.", &self.rtp_lost);
        e.histogram("attendant_rtp_jitter_seconds", "Interarrival jitter per RTCP report (RFC 3550).", &self.jitter);
        e.histogram("attendant_rtp_fraction_lost", "Fraction of packets lost per RTCP interval.", &self.loss);
        e.histogram("attendant_call_mos", "Estimated MOS (ITU-T G.107 E-model) per RTCP report.", &self.mos);
        e.scalar("attendant_ready", "gauge", "1 when /readyz says ready.", f64::from(u8::from(ready)));
        e.scalar("attendant_draining", "gauge", "1 once SIGTERM started the drain.", f64::from(u8::from(self.draining.load(Ordering::Relaxed))));
        e.text
    }
}

/// The transport of a `call_started` record as a metric label: SIP calls name their SIP
/// transport (`Udp`, `Tcp`); every SIP call is `sip` here.
pub fn transport_label(record: &Map<String, Value>) -> &'static str {
    match record.get("transport").and_then(Value::as_str) {
        Some("acs") => "acs",
        Some("twilio") => "twilio",
        Some("relay") => "relay",
        Some("webrtc") => "webrtc",
        _ => "sip",
    }
}

/// A short, bounded reason for a refusal record (metric labels must not take free text).
fn refusal_reason(record: &Map<String, Value>) -> &'static str {
    if let Some(cause) = record.get("cause").and_then(Value::as_str) {
        for known in ["draining", "process_limit", "tenant_limit", "unknown_source", "unauthorized", "forbidden", "unknown_tenant", "no_media_port", "bad_offer"] {
            if cause == known {
                return known;
            }
        }
    }
    let reason = record.get("reason").and_then(Value::as_str).unwrap_or("");
    let status = record.get("status").and_then(Value::as_u64);
    if reason.contains("tenant call limit") || reason.contains("at its limit") {
        "tenant_limit"
    } else if reason.contains("unknown source") {
        "unknown_source"
    } else {
        match status {
            Some(401) => "unauthorized",
            Some(403) => "forbidden",
            Some(404) => "unknown_tenant",
            Some(488) => "bad_offer",
            Some(503) => "unavailable",
            _ => "other",
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn observe(t: &Telemetry, v: Value) {
        t.observe(v.as_object().unwrap());
    }

    #[test]
    fn calls_and_stages_are_counted_from_the_records() {
        let t = Telemetry::default();
        observe(&t, json!({"event": "call_started", "call_id": "c1", "tenant": "acme", "transport": "Udp"}));
        observe(&t, json!({"event": "call_started", "call_id": "c2", "tenant": "acme", "transport": "twilio"}));
        observe(&t, json!({"event": "call_refused", "call_id": "x", "tenant": "acme", "status": 503, "reason": "tenant call limit"}));
        observe(&t, json!({"event": "final_latency", "call_id": "c1", "tenant": "acme", "ms": 180.0}));
        observe(&t, json!({"event": "quality", "call_id": "c1", "tenant": "acme", "cumulative_lost": 3, "mos": 4.3, "jitter_ms": 2.0, "fraction_lost": 0.01}));
        observe(&t, json!({"event": "quality", "call_id": "c1", "tenant": "acme", "cumulative_lost": 5, "mos": 4.2, "jitter_ms": 2.0, "fraction_lost": 0.0}));
        observe(&t, json!({"event": "decision", "call_id": "c1", "tenant": "acme", "intent": "billing", "timings": {"last_word_to_decision_ms": 350}}));
        observe(&t, json!({"event": "call_ended", "call_id": "c1", "tenant": "acme"}));
        let text = t.render(true);
        for line in [
            "attendant_active_calls{tenant=\"acme\",transport=\"twilio\"} 1",
            "attendant_calls_in_progress 1",
            "attendant_calls_accepted_total{tenant=\"acme\",transport=\"sip\"} 1",
            "attendant_calls_refused_total{tenant=\"acme\",transport=\"sip\",reason=\"tenant_limit\"} 1",
            "attendant_calls_ended_total{tenant=\"acme\",transport=\"sip\"} 1",
            "attendant_rtp_packets_lost_total{tenant=\"acme\"} 5",
            "attendant_decisions_total{tenant=\"acme\",intent=\"billing\"} 1",
            "attendant_stage_latency_seconds_bucket{stage=\"decision\",le=\"0.4\"} 1",
            "attendant_stage_latency_seconds_bucket{stage=\"recognition\",le=\"0.1\"} 0",
            "attendant_stage_latency_seconds_bucket{stage=\"recognition\",le=\"0.2\"} 1",
            "attendant_call_mos_count 2",
            "attendant_ready 1",
        ] {
            assert!(text.lines().any(|l| l == line), "missing {line:?} in\n{text}");
        }
    }
}
