//! Call events out: one JSON object per line to a file, and a readable line on stdout.
//!
//! Every record carries `ts_ms` (Unix time in ms), `call_id` and `tenant` beside the event's own
//! fields. A write failure is reported once on stderr and never affects a call.
//!
//! In-process readers (the WebRTC page's event stream) [`EventSink::subscribe`] to every record
//! as it is written; a reader that falls behind skips records rather than slowing a call. The
//! worker's [`Telemetry`] (metrics, the call table) sees every record synchronously.
//!
//! With `stdout`, each record is also a log line through `tracing`, inside a `call` span (call
//! id, tenant) and, for records of a caller turn, a `turn` span; phone numbers in it are masked
//! unless `[logs] redact = false` (the events file keeps them: it is the call's data record,
//! which a callback needs).

use std::io::Write;
use std::path::Path;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex};
use std::time::{SystemTime, UNIX_EPOCH};

use serde_json::{Map, Value};
use tokio::sync::broadcast;

use super::telemetry::redact::{is_identifier, redact_numbers};
use super::telemetry::otel::CallTraces;
use super::telemetry::Telemetry;

/// Records a subscriber may fall behind by before it skips some (`RecvError::Lagged`).
pub const SUBSCRIBER_BACKLOG: usize = 1024;

#[derive(Debug)]
pub struct EventSink {
    file: Option<Mutex<std::io::BufWriter<std::fs::File>>>,
    stdout: bool,
    write_failed: AtomicBool,
    /// Every record, for [`EventSink::subscribe`]rs.
    bus: broadcast::Sender<Arc<Value>>,
    telemetry: Arc<Telemetry>,
    /// Per-call traces for OpenTelemetry, when `[otel]` has an endpoint.
    traces: Option<Arc<CallTraces>>,
}

impl EventSink {
    /// Opens (appends to) `file` when given.
    pub fn open(file: Option<&Path>, stdout: bool) -> anyhow::Result<Self> {
        use anyhow::Context as _;
        let file = match file {
            Some(path) => {
                let f = std::fs::OpenOptions::new()
                    .create(true)
                    .append(true)
                    .open(path)
                    .with_context(|| format!("events.file {}", path.display()))?;
                Some(Mutex::new(std::io::BufWriter::new(f)))
            }
            None => None,
        };
        let (bus, _) = broadcast::channel(SUBSCRIBER_BACKLOG);
        Ok(Self { file, stdout, write_failed: AtomicBool::new(false), bus, telemetry: Arc::new(Telemetry::default()), traces: None })
    }

    /// The same sink feeding `telemetry` (one per process) instead of a private one.
    pub fn with_telemetry(mut self, telemetry: Arc<Telemetry>) -> Self {
        self.telemetry = telemetry;
        self
    }

    /// The same sink also building each call's trace in `traces`.
    pub fn with_traces(mut self, traces: Option<Arc<CallTraces>>) -> Self {
        self.traces = traces;
        self
    }

    pub fn telemetry(&self) -> &Arc<Telemetry> {
        &self.telemetry
    }

    /// Every record emitted from now on, as the JSON object the file gets. A receiver that falls
    /// more than [`SUBSCRIBER_BACKLOG`] records behind gets `Lagged` and continues with the
    /// newest: emitting never waits for a reader.
    pub fn subscribe(&self) -> broadcast::Receiver<Arc<Value>> {
        self.bus.subscribe()
    }

    /// Records `event` (any serializable value whose JSON is an object, such as a `CallEvent`)
    /// for `call_id` of `tenant`.
    pub fn emit(&self, call_id: &str, tenant: &str, event: &impl serde::Serialize) {
        let mut record = Map::new();
        let ts_ms = SystemTime::now().duration_since(UNIX_EPOCH).map_or(0, |d| d.as_millis() as u64);
        record.insert("ts_ms".into(), ts_ms.into());
        record.insert("call_id".into(), call_id.into());
        record.insert("tenant".into(), tenant.into());
        match serde_json::to_value(event) {
            Ok(Value::Object(fields)) => record.extend(fields),
            Ok(other) => {
                record.insert("event".into(), other);
            }
            Err(e) => {
                record.insert("event".into(), "unserializable".into());
                record.insert("error".into(), e.to_string().into());
            }
        }
        self.telemetry.observe(&record);
        if let Some(traces) = &self.traces {
            traces.observe(&record);
        }
        if self.stdout {
            log(&record, self.telemetry.redact);
        }
        let listened = self.bus.receiver_count() > 0;
        if self.file.is_none() && !listened {
            return;
        }
        let record = Value::Object(record);
        if let Some(file) = &self.file {
            let line = record.to_string();
            let mut f = file.lock().unwrap_or_else(|p| p.into_inner());
            // Flushed per event: the file is how operators and tests follow calls live.
            if let Err(e) = writeln!(f, "{line}").and_then(|()| f.flush()) {
                if !self.write_failed.swap(true, Ordering::Relaxed) {
                    eprintln!("warning: cannot write call events: {e}");
                }
            }
        }
        if listened {
            // No receiver left in between is not an error: nobody needed the record.
            let _ = self.bus.send(Arc::new(record));
        }
    }
}

/// The record as a log line: `event key=value ...` in the call's span (and the turn's).
fn log(record: &Map<String, Value>, redact: bool) {
    let field = |k: &str| record.get(k).and_then(Value::as_str).unwrap_or("-");
    let (call_id, tenant, event) = (field("call_id"), field("tenant"), field("event"));
    let details = details(record, redact);
    let call = tracing::info_span!("call", call_id, tenant);
    let _call = call.enter();
    match record.get("turn").and_then(Value::as_u64) {
        Some(turn) => {
            let _turn = tracing::info_span!("turn", turn).entered();
            tracing::info!(target: "attendant::events", event, "{details}");
        }
        None => tracing::info!(target: "attendant::events", event, "{details}"),
    }
}

/// `key=value ...` of the record's own fields, text quoted, phone numbers masked (ids and
/// addresses excepted: they are what a reader greps for).
fn details(record: &Map<String, Value>, redact: bool) -> String {
    let mut line = String::new();
    for (k, v) in record {
        if matches!(k.as_str(), "ts_ms" | "call_id" | "tenant" | "event" | "turn") {
            continue;
        }
        if !line.is_empty() {
            line.push(' ');
        }
        let keep = !redact || is_identifier(k);
        let text = match v {
            Value::String(s) => format!("{s:?}"),
            other => other.to_string(),
        };
        line.push_str(k);
        line.push('=');
        line.push_str(&if keep { text } else { redact_numbers(&text) });
    }
    line
}

#[cfg(test)]
mod tests {
    use super::*;
    use types::{CallEvent, MediaTime, TurnId};

    #[test]
    fn events_are_json_lines_with_call_and_tenant() {
        let path = std::env::temp_dir().join(format!("attendant-events-{}.jsonl", std::process::id()));
        let _ = std::fs::remove_file(&path);
        let sink = EventSink::open(Some(&path), false).unwrap();
        sink.emit("c1", "acme", &CallEvent::SpeechStarted { turn: TurnId(0), at: MediaTime::from_millis(340) });
        sink.emit("c1", "acme", &serde_json::json!({"event": "dtmf", "digit": "5"}));
        let text = std::fs::read_to_string(&path).unwrap();
        let lines: Vec<Value> = text.lines().map(|l| serde_json::from_str(l).unwrap()).collect();
        assert_eq!(lines[0]["event"], "speech_started");
        assert_eq!(lines[0]["at"], 340);
        assert_eq!(lines[0]["call_id"], "c1");
        assert_eq!(lines[1]["tenant"], "acme");
        assert_eq!(lines[1]["digit"], "5");
        assert_eq!(details(lines[1].as_object().unwrap(), true), "digit=\"5\"");
        let _ = std::fs::remove_file(&path);
    }

    #[test]
    fn subscribers_get_every_record_as_written() {
        let sink = EventSink::open(None, false).unwrap();
        sink.emit("c0", "acme", &serde_json::json!({"event": "before"}));
        let mut rx = sink.subscribe();
        sink.emit("c1", "acme", &serde_json::json!({"event": "dtmf", "digit": "5"}));
        let got = rx.try_recv().unwrap();
        assert_eq!((got["call_id"].as_str(), got["event"].as_str(), got["digit"].as_str()), (Some("c1"), Some("dtmf"), Some("5")));
        assert!(got["ts_ms"].is_u64());
        // Nothing from before the subscription.
        assert!(rx.try_recv().is_err());
    }

    #[test]
    fn a_lagging_subscriber_skips_and_emitting_never_waits() {
        let sink = EventSink::open(None, false).unwrap();
        let mut rx = sink.subscribe();
        for i in 0..SUBSCRIBER_BACKLOG + 10 {
            sink.emit("c1", "acme", &serde_json::json!({"event": "n", "i": i}));
        }
        assert!(matches!(rx.try_recv(), Err(broadcast::error::TryRecvError::Lagged(10))));
        assert_eq!(rx.try_recv().unwrap()["i"], 10);
    }

    #[test]
    fn log_lines_mask_phone_numbers_but_not_ids() {
        let record = serde_json::json!({"event": "call_started", "from": "sip:+14255550111@sbc", "peer_call_id": "CA12345678", "rtp_port": 30000});
        let line = details(record.as_object().unwrap(), true);
        assert_eq!(line, "from=\"sip:+*********11@sbc\" peer_call_id=\"CA12345678\" rtp_port=30000");
        assert!(details(record.as_object().unwrap(), false).contains("+14255550111"));
    }

    #[test]
    fn every_record_reaches_the_telemetry() {
        let sink = EventSink::open(None, false).unwrap();
        sink.emit("c1", "acme", &serde_json::json!({"event": "call_started", "transport": "twilio"}));
        assert_eq!(sink.telemetry().live_count(Some("acme")), 1);
    }

    #[test]
    fn unwritable_file_is_an_error_naming_it() {
        let e = EventSink::open(Some(Path::new("/nonexistent/dir/events.jsonl")), false).unwrap_err();
        assert!(format!("{e:#}").contains("events.file /nonexistent/dir/events.jsonl"), "{e:#}");
    }
}
