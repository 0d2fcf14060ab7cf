//! Call events out: one JSON object per line to a file, and a readable line on stdout.
//!
//! Every record carries `ts_ms` (Unix time in ms), `call_id` and `tenant` beside the event's own
//! fields. A write failure is reported once on stderr and never affects a call.

use std::io::Write;
use std::path::Path;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::Mutex;
use std::time::{SystemTime, UNIX_EPOCH};

use serde_json::{Map, Value};

#[derive(Debug)]
pub struct EventSink {
    file: Option<Mutex<std::io::BufWriter<std::fs::File>>>,
    stdout: bool,
    write_failed: AtomicBool,
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
        Ok(Self { file, stdout, write_failed: AtomicBool::new(false) })
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
        if self.stdout {
            println!("{}", readable(&record));
        }
        if let Some(file) = &self.file {
            let line = Value::Object(record).to_string();
            let mut f = file.lock().unwrap_or_else(|p| p.into_inner());
            // Flushed per event: the file is how operators and tests follow calls live.
            if let Err(e) = writeln!(f, "{line}").and_then(|()| f.flush()) {
                if !self.write_failed.swap(true, Ordering::Relaxed) {
                    eprintln!("warning: cannot write call events: {e}");
                }
            }
        }
    }
}

/// `call-id [tenant] event key=value ...`, text fields quoted.
fn readable(record: &Map<String, Value>) -> String {
    let mut line = format!(
        "{} [{}] {}",
        record.get("call_id").and_then(Value::as_str).unwrap_or("-"),
        record.get("tenant").and_then(Value::as_str).unwrap_or("-"),
        record.get("event").and_then(Value::as_str).unwrap_or("event"),
    );
    for (k, v) in record {
        if matches!(k.as_str(), "ts_ms" | "call_id" | "tenant" | "event") {
            continue;
        }
        match v {
            Value::String(s) => line.push_str(&format!(" {k}={s:?}")),
            other => line.push_str(&format!(" {k}={other}")),
        }
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
        assert_eq!(readable(lines[1].as_object().unwrap()), "c1 [acme] dtmf digit=\"5\"");
        let _ = std::fs::remove_file(&path);
    }

    #[test]
    fn unwritable_file_is_an_error_naming_it() {
        let e = EventSink::open(Some(Path::new("/nonexistent/dir/events.jsonl")), false).unwrap_err();
        assert!(format!("{e:#}").contains("events.file /nonexistent/dir/events.jsonl"), "{e:#}");
    }
}
