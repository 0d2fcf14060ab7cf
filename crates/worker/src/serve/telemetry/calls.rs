//! The live call table behind `/v1/calls`: every call's state, transcript so far, intent,
//! decision and media quality, kept from its first record to a while after its end.
//!
//! It is built from the event records themselves (see [`super::Telemetry::observe`]), so it
//! says exactly what the events file says, for SIP and stream calls alike, and call control
//! needs no second bookkeeping of its own.

use std::collections::{HashMap, VecDeque};
use std::time::{Duration, Instant};

use serde::Serialize;
use serde_json::{Map, Value};

use super::redact::redact_numbers;

/// How long an ended call stays inspectable.
pub const RETAIN_ENDED: Duration = Duration::from_secs(300);
/// Ended calls kept at most (the oldest go first).
pub const MAX_ENDED: usize = 1000;
/// Transcript lines kept per call (a call that talks for hours keeps its last ones).
const MAX_LINES: usize = 200;

/// What `/v1/calls/{id}` shows of one call.
#[derive(Debug, Clone, Serialize)]
pub struct CallView {
    pub call_id: String,
    pub tenant: String,
    /// `sip`, `acs`, `twilio`, `relay` or `webrtc`.
    pub transport: String,
    /// `ringing` (SIP, before the answer), `in_call`, `decided`, `transferring`, `ended`.
    pub state: &'static str,
    /// The caller, with phone numbers redacted unless redaction is switched off.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub from: Option<String>,
    pub started_ts_ms: u64,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub ended_ts_ms: Option<u64>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub end_reason: Option<String>,
    /// The caller's finished turns, in order.
    pub transcript: Vec<Line>,
    /// The turn in progress, as last heard.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub partial: Option<Line>,
    /// The last intent the dialogue recognized.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub intent: Option<Value>,
    /// The routing decision, once made.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub decision: Option<Value>,
    /// The last RTCP quality report (SIP calls): jitter, loss, MOS.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub quality: Option<Value>,
    pub barge_ins: u32,
    pub dtmf: String,
    /// The dialogue's last prompt.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub last_prompt: Option<String>,
}

#[derive(Debug, Clone, Serialize)]
pub struct Line {
    pub turn: u64,
    pub text: String,
}

/// The table: live calls by id, and recently ended ones.
#[derive(Debug, Default)]
pub struct CallTable {
    live: HashMap<String, CallView>,
    ended: VecDeque<(Instant, CallView)>,
}

impl CallTable {
    /// Applies one event record (already known to belong to a call).
    pub fn apply(&mut self, call_id: &str, tenant: &str, event: &str, record: &Map<String, Value>, redact: bool, now: Instant) {
        let ts = record.get("ts_ms").and_then(Value::as_u64).unwrap_or(0);
        if event == "call_started" {
            let transport = super::transport_label(record);
            let from = record.get("from").and_then(Value::as_str).map(|f| if redact { redact_numbers(f) } else { f.to_owned() });
            let state = if transport == "sip" { "ringing" } else { "in_call" };
            let view = CallView {
                call_id: call_id.to_owned(),
                tenant: tenant.to_owned(),
                transport: transport.to_owned(),
                state,
                from,
                started_ts_ms: ts,
                ended_ts_ms: None,
                end_reason: None,
                transcript: Vec::new(),
                partial: None,
                intent: None,
                decision: None,
                quality: None,
                barge_ins: 0,
                dtmf: String::new(),
                last_prompt: None,
            };
            self.live.insert(call_id.to_owned(), view);
            return;
        }
        let Some(view) = self.live.get_mut(call_id) else { return };
        let text = || record.get("text").and_then(Value::as_str).unwrap_or("").trim().to_owned();
        let turn = || record.get("turn").and_then(Value::as_u64).unwrap_or(0);
        match event {
            "call_answered" => view.state = "in_call",
            "partial_transcript" => view.partial = Some(Line { turn: turn(), text: text() }),
            "final_transcript" => {
                let line = Line { turn: turn(), text: text() };
                if view.partial.as_ref().is_some_and(|p| p.turn == line.turn) {
                    view.partial = None;
                }
                if !line.text.is_empty() {
                    if view.transcript.len() == MAX_LINES {
                        view.transcript.remove(0);
                    }
                    view.transcript.push(line);
                }
            }
            "flow" if record.get("flow").and_then(Value::as_str) == Some("intent_recognized") => {
                let mut intent = Map::new();
                for key in ["intent", "confidence", "via_dtmf", "text"] {
                    if let Some(v) = record.get(key) {
                        intent.insert(key.into(), v.clone());
                    }
                }
                view.intent = Some(Value::Object(intent));
            }
            "decision" => {
                let mut d = record.clone();
                for key in ["ts_ms", "call_id", "tenant", "event"] {
                    d.remove(key);
                }
                view.decision = Some(Value::Object(d));
                view.state = "decided";
            }
            "transfer_started" => view.state = "transferring",
            "quality" => {
                let mut q = record.clone();
                for key in ["call_id", "tenant", "event"] {
                    q.remove(key);
                }
                view.quality = Some(Value::Object(q));
            }
            "barge_in" => view.barge_ins += 1,
            "dtmf" => view.dtmf.push_str(record.get("digit").and_then(Value::as_str).unwrap_or("")),
            "prompt" => view.last_prompt = Some(text()),
            "call_ended" => {
                if let Some(mut view) = self.live.remove(call_id) {
                    view.state = "ended";
                    view.ended_ts_ms = Some(ts);
                    view.end_reason = record.get("reason").and_then(Value::as_str).map(str::to_owned);
                    self.ended.push_back((now, view));
                }
            }
            _ => {}
        }
        self.sweep(now);
    }

    fn sweep(&mut self, now: Instant) {
        while self.ended.len() > MAX_ENDED || self.ended.front().is_some_and(|(at, _)| now.duration_since(*at) > RETAIN_ENDED) {
            self.ended.pop_front();
        }
    }

    /// Live calls, oldest first.
    pub fn live(&self) -> Vec<CallView> {
        let mut calls: Vec<CallView> = self.live.values().cloned().collect();
        calls.sort_by(|a, b| (a.started_ts_ms, &a.call_id).cmp(&(b.started_ts_ms, &b.call_id)));
        calls
    }

    /// Live calls by tenant and transport (what `/metrics` needs, without copying the calls).
    pub fn live_by_tenant_and_transport(&self) -> std::collections::BTreeMap<(&str, &str), usize> {
        let mut counts = std::collections::BTreeMap::new();
        for c in self.live.values() {
            *counts.entry((c.tenant.as_str(), c.transport.as_str())).or_insert(0) += 1;
        }
        counts
    }

    /// Live calls per tenant.
    pub fn live_count(&self, tenant: Option<&str>) -> usize {
        self.live.values().filter(|c| tenant.is_none_or(|t| c.tenant == t)).count()
    }

    /// One call, live or recently ended.
    pub fn get(&self, call_id: &str) -> Option<CallView> {
        self.live.get(call_id).cloned().or_else(|| self.ended.iter().rev().find(|(_, c)| c.call_id == call_id).map(|(_, c)| c.clone()))
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn apply(t: &mut CallTable, event: Value) {
        let record = event.as_object().unwrap().clone();
        let name = record["event"].as_str().unwrap().to_owned();
        t.apply("c1", "acme", &name, &record, true, Instant::now());
    }

    #[test]
    fn a_call_goes_from_ringing_to_ended_with_its_transcript_and_decision() {
        let mut t = CallTable::default();
        apply(&mut t, json!({"event": "call_started", "transport": "Udp", "from": "sip:+14255550111@sbc.example", "ts_ms": 1}));
        assert_eq!(t.get("c1").unwrap().state, "ringing");
        assert_eq!(t.get("c1").unwrap().from.as_deref(), Some("sip:+*********11@sbc.example"));
        apply(&mut t, json!({"event": "call_answered"}));
        apply(&mut t, json!({"event": "partial_transcript", "turn": 0, "text": "I want to"}));
        assert_eq!(t.get("c1").unwrap().partial.unwrap().text, "I want to");
        apply(&mut t, json!({"event": "final_transcript", "turn": 0, "text": " I want to pay my bill. "}));
        apply(&mut t, json!({"event": "flow", "flow": "intent_recognized", "intent": "payment", "confidence": 0.9}));
        apply(&mut t, json!({"event": "decision", "intent": "payment", "target": {"queue": "payments"}}));
        let v = t.get("c1").unwrap();
        assert_eq!((v.state, v.transcript[0].text.as_str(), v.partial.is_none()), ("decided", "I want to pay my bill.", true));
        assert_eq!(v.intent.unwrap()["intent"], "payment");
        assert_eq!(t.live_count(Some("acme")), 1);
        apply(&mut t, json!({"event": "call_ended", "reason": "bye", "ts_ms": 9}));
        let v = t.get("c1").unwrap();
        assert_eq!((v.state, v.end_reason.as_deref(), v.ended_ts_ms), ("ended", Some("bye"), Some(9)));
        assert_eq!(t.live_count(None), 0);
        assert!(t.live().is_empty());
    }

    #[test]
    fn ended_calls_are_bounded() {
        let mut t = CallTable::default();
        let now = Instant::now();
        for i in 0..MAX_ENDED + 5 {
            let id = format!("c{i}");
            let start = json!({"event": "call_started", "transport": "twilio"});
            t.apply(&id, "acme", "call_started", start.as_object().unwrap(), true, now);
            t.apply(&id, "acme", "call_ended", json!({"event": "call_ended"}).as_object().unwrap(), true, now);
        }
        assert_eq!(t.ended.len(), MAX_ENDED);
        assert!(t.get("c0").is_none() && t.get(&format!("c{}", MAX_ENDED + 4)).is_some());
    }
}
