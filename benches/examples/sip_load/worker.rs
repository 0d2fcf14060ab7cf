//! The worker's side of the run, from its events JSONL file. This run's calls are found by
//! `call_started`: its `call_id` is our SIP Call-ID, and its `from` carries our From user
//! (`sip:load-<run>-<slot>-<attempt>@...`), which maps the call even if the worker renamed it.
//! Per call: the `decision` (intent, reason, `timings.last_word_to_decision_ms`), the menu's
//! outcome (the first `intent_recognized` or menu `no_match` flow event, as
//! tools/ws_intent_eval.py scores it), how it ended, `media_stats`, refusals. The engine's
//! `engine_load` reports come from ws_load's `events::collect`.

use std::collections::{BTreeMap, HashMap};
use std::path::Path;
use std::time::{Duration, Instant};

use serde_json::Value;

use super::events;
use super::{Outcome, Shared};

#[derive(Debug, Clone)]
pub struct Decision {
    pub intent: Option<String>,
    pub confidence: f64,
    pub reason: String,
    pub latency_ms: Option<u64>,
    pub ts_ms: u64,
    pub target: String,
    /// The flow had reprompted for no input before deciding: the decision waited on timers,
    /// not on the caller's words.
    pub after_no_input: bool,
}

#[derive(Debug, Default)]
pub struct CallView {
    pub worker_call_id: String,
    pub decision: Option<Decision>,
    /// `Some(None)`: the menu heard no match.
    pub menu: Option<Option<String>>,
    pub menu_text: Option<String>,
    pub ended: Option<String>,
    pub media: Option<Value>,
    pub refused: Option<String>,
    pub transfer_ok: Option<bool>,
    pub no_input: u64,
    pub events: u64,
}

#[derive(Debug, Default)]
pub struct WorkerView {
    pub engine: events::WorkerView,
    /// By our Call-ID.
    pub calls: HashMap<String, CallView>,
    /// Every event of this run's calls, by name.
    pub counts: BTreeMap<String, u64>,
    pub matched_by_from: u64,
}

/// Reads the events once the worker has ended every call we saw answered and reported its
/// media (or `settle` has passed), then the engine's reports.
pub fn collect(path: &Path, shared: &Shared, out: &Outcome, settle: Duration) -> Result<WorkerView, String> {
    let deadline = Instant::now() + settle;
    let answered: Vec<&str> = out.calls.iter().filter(|c| c.answered_ms.is_some()).map(|c| c.call_id.as_str()).collect();
    let ours: HashMap<&str, &str> = out.calls.iter().map(|c| (c.user.as_str(), c.call_id.as_str())).collect();
    let ids: std::collections::HashSet<&str> = out.calls.iter().map(|c| c.call_id.as_str()).collect();
    let mut view = loop {
        let text = std::fs::read_to_string(path).map_err(|e| format!("--events {}: {e}", path.display()))?;
        let view = parse(&text, &ids, &ours);
        let complete = answered.iter().all(|id| view.calls.get(*id).is_some_and(|c| c.ended.is_some() && c.media.is_some()));
        if complete || Instant::now() >= deadline {
            break view;
        }
        std::thread::sleep(Duration::from_millis(500));
    };
    let steady = (shared.wall_t0_ms + shared.ramp.as_millis() as u64, shared.wall_t0_ms + shared.duration.as_millis() as u64);
    let left = deadline.saturating_duration_since(Instant::now()).max(Duration::from_secs(1));
    // No call of ours has a `peer_call_id` (those are media streams): only the engine's reports
    // and the events without a call are taken from it.
    view.engine = events::collect(path, "\u{1}sip_load", 0, out.window, steady, left)?;
    Ok(view)
}

fn parse(text: &str, ids: &std::collections::HashSet<&str>, users: &HashMap<&str, &str>) -> WorkerView {
    let mut v = WorkerView::default();
    // The worker's call id -> ours.
    let mut map: HashMap<String, String> = HashMap::new();
    for line in text.lines() {
        let Ok(e) = serde_json::from_str::<Value>(line) else { continue };
        let s = |k: &str| e.get(k).and_then(Value::as_str).unwrap_or("");
        let (event, call) = (s("event"), s("call_id"));
        if event == "call_started" || event == "call_refused" {
            if ids.contains(call) {
                map.insert(call.to_owned(), call.to_owned());
            } else if let Some(ours) = from_user(s("from")).and_then(|u| users.get(u)) {
                map.insert(call.to_owned(), (*ours).to_owned());
                v.matched_by_from += 1;
            }
        }
        let Some(ours) = map.get(call) else { continue };
        let c = v.calls.entry(ours.clone()).or_default();
        c.worker_call_id = call.to_owned();
        c.events += 1;
        *v.counts.entry(event.to_owned()).or_default() += 1;
        match event {
            "decision" => {
                let target = &e["target"];
                let kind = target["kind"].as_str().unwrap_or("?");
                let queue = target["queue"].as_str().map(|q| format!(" {q}")).unwrap_or_default();
                c.decision = Some(Decision {
                    intent: e["intent"].as_str().map(str::to_owned),
                    confidence: e["confidence"].as_f64().unwrap_or(0.0),
                    reason: e["reason"].as_str().unwrap_or("").to_owned(),
                    latency_ms: e["timings"]["last_word_to_decision_ms"].as_u64(),
                    ts_ms: e["ts_ms"].as_u64().unwrap_or(0),
                    target: format!("{kind}{queue}"),
                    after_no_input: c.no_input > 0,
                });
            }
            "flow" if s("flow") == "no_input" => c.no_input += 1,
            "flow" if c.menu.is_none() => match s("flow") {
                "intent_recognized" => {
                    c.menu = Some(Some(s("intent").to_owned()));
                    c.menu_text = Some(s("text").to_owned());
                }
                "no_match" if s("step") == "menu" => {
                    c.menu = Some(None);
                    c.menu_text = Some(s("text").to_owned());
                }
                _ => {}
            },
            "call_ended" => c.ended = Some(s("reason").to_owned()),
            "media_stats" => c.media = Some(e.clone()),
            "call_refused" => c.refused = Some(format!("{} {}", e["status"], s("cause"))),
            "transfer_result" => c.transfer_ok = e["ok"].as_bool(),
            _ => {}
        }
    }
    v
}

/// `sip:load-x-1-0@127.0.0.1` -> `load-x-1-0`.
fn from_user(uri: &str) -> Option<&str> {
    let rest = uri.strip_prefix("sip:").or_else(|| uri.strip_prefix("sips:"))?;
    Some(rest.split_once('@')?.0)
}
