//! Optional OpenTelemetry export (`[otel]`): every call becomes a trace sent over OTLP/HTTP
//! (protobuf) to a collector.
//!
//! The trace is built from the call's event records, the same ones the events file gets, rather
//! than from `tracing` spans: the call's life is spread over the control task, the media thread
//! and the recognition threads, and only the records see all of it, with wall-clock times. So:
//! - a `call` span (kind server) from `call_started` to `call_ended`, with the call's id, tenant,
//!   transport and codec, the decision's intent, confidence, reason and target, and the end
//!   reason; its status is an error when the call failed or a stage reported an error;
//! - a `turn` child span per caller turn, from its first record to its last;
//! - every record as a span event (on its turn when it has one), its fields as attributes;
//! - a refusal (`call_refused`, `stream_refused`) of a call never started as a span of its own.
//!
//! Phone numbers are masked as in the logs unless `[logs] redact = false`: a collector is
//! another place call data ends up. Spans go out in batches from the SDK's own thread; a slow or
//! dead collector costs dropped spans (reported on stderr), never a call's time.

mod http;

use std::borrow::Cow;
use std::collections::{BTreeMap, HashMap, VecDeque};
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex, Weak};
use std::time::{Duration, Instant, SystemTime, UNIX_EPOCH};

use anyhow::Context as _;
use opentelemetry::trace::{Span as _, SpanKind, Status, TraceContextExt as _, Tracer as _, TracerProvider as _};
use opentelemetry::{Context, KeyValue, Value as OtelValue};
use opentelemetry_otlp::{Protocol, WithExportConfig as _, WithHttpConfig as _};
use opentelemetry_sdk::error::OTelSdkResult;
use opentelemetry_sdk::trace::{BatchConfigBuilder, BatchSpanProcessor, SdkTracer, SdkTracerProvider, Span, SpanData, SpanExporter};
use opentelemetry_sdk::Resource;
use serde_json::{Map, Value};

use super::redact::{is_identifier, redact_numbers};

/// `[otel]`: where traces go. Without an endpoint nothing is exported.
#[derive(Clone, Debug, PartialEq, serde::Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct OtelConfig {
    /// The collector's OTLP/HTTP traces URL, path included, e.g.
    /// `http://otel-collector:4318/v1/traces`. `${NAME}` is not expanded: give the URL.
    pub endpoint: Option<String>,
    /// Extra request headers (a vendor's API key).
    pub headers: BTreeMap<String, String>,
    /// One export request's time limit, in ms. Default 5000.
    pub timeout_ms: u32,
    /// The `service.name` resource attribute. Default `attendant`. Other resource attributes
    /// come from `OTEL_RESOURCE_ATTRIBUTES` (a pod's name and namespace, say).
    pub service_name: String,
}

impl Default for OtelConfig {
    fn default() -> Self {
        Self { endpoint: None, headers: BTreeMap::new(), timeout_ms: 5000, service_name: "attendant".into() }
    }
}

impl OtelConfig {
    /// The field at fault (under `otel.`) and why.
    pub fn validate(&self) -> Result<(), (&'static str, String)> {
        if let Some(endpoint) = &self.endpoint {
            let uri: ureq::http::Uri = endpoint.parse().map_err(|e| ("endpoint", format!("{endpoint:?} is not a URL: {e}")))?;
            if !matches!(uri.scheme_str(), Some("http" | "https")) || uri.host().is_none() {
                return Err(("endpoint", format!("{endpoint:?} must be an http:// or https:// URL with a host")));
            }
        }
        for (name, value) in &self.headers {
            ureq::http::HeaderName::from_bytes(name.as_bytes()).map_err(|_| ("headers", format!("{name:?} is not a header name")))?;
            ureq::http::HeaderValue::from_str(value).map_err(|_| ("headers", format!("the value of {name:?} is not a header value")))?;
        }
        if !(100..=60_000).contains(&self.timeout_ms) {
            return Err(("timeout_ms", "must be between 100 and 60000".into()));
        }
        if self.service_name.trim().is_empty() {
            return Err(("service_name", "must not be empty".into()));
        }
        Ok(())
    }
}

/// Turns per call that get a span of their own; later turns' records go on the call span.
const MAX_TURN_SPANS: usize = 64;
/// Events kept per span (the SDK's default is 128; a long call has more records than that).
const MAX_EVENTS_PER_SPAN: u32 = 1024;
/// Finished spans waiting for export before new ones are dropped.
const MAX_QUEUED_SPANS: usize = 8192;

/// How long a call's trace stays open after `call_ended`: records that follow it (the call's
/// `media_stats`, a webhook's outcome) still belong to the call.
const CLOSING_GRACE: Duration = Duration::from_secs(2);

struct CallTrace {
    span: Span,
    turns: BTreeMap<u64, (Span, SystemTime)>,
    failed: Option<String>,
    /// The time of the call's latest record: where its span ends.
    last: SystemTime,
}

#[derive(Default)]
struct State {
    live: HashMap<String, CallTrace>,
    /// Calls past `call_ended`, oldest first, with when they ended.
    closing: VecDeque<(Instant, String)>,
}

impl State {
    /// Ends the traces of calls whose grace has passed (all of them with `now` = None).
    fn sweep(&mut self, now: Option<Instant>) {
        while let Some((at, _)) = self.closing.front() {
            if now.is_some_and(|now| now.duration_since(*at) < CLOSING_GRACE) {
                break;
            }
            let Some((_, id)) = self.closing.pop_front() else { break };
            if let Some(call) = self.live.remove(&id) {
                finish(call);
            }
        }
    }
}

/// Traces of the calls in progress, and the exporter. One per process.
pub struct CallTraces {
    provider: SdkTracerProvider,
    tracer: SdkTracer,
    state: Mutex<State>,
    max_live: usize,
    redact: bool,
    over_capacity: AtomicBool,
}

impl std::fmt::Debug for CallTraces {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("CallTraces").field("max_live", &self.max_live).field("redact", &self.redact).finish_non_exhaustive()
    }
}

impl CallTraces {
    /// The exporter for `config`, or `None` without an endpoint. `max_live` bounds the calls
    /// traced at once (a multiple of the call limit: ended calls leave at once).
    pub fn start(config: &OtelConfig, redact: bool, max_live: usize) -> anyhow::Result<Option<Arc<Self>>> {
        let Some(endpoint) = &config.endpoint else { return Ok(None) };
        let timeout = Duration::from_millis(u64::from(config.timeout_ms));
        let exporter = opentelemetry_otlp::SpanExporter::builder()
            .with_http()
            .with_endpoint(endpoint.as_str())
            .with_protocol(Protocol::HttpBinary)
            .with_timeout(timeout)
            .with_headers(config.headers.clone().into_iter().collect())
            .with_http_client(http::UreqClient::new(timeout))
            .build()
            .with_context(|| format!("otel.endpoint {endpoint}"))?;
        let batch = BatchConfigBuilder::default().with_max_queue_size(MAX_QUEUED_SPANS).build();
        let processor = BatchSpanProcessor::builder(Reporting { inner: exporter, endpoint: endpoint.clone(), failing: AtomicBool::new(false) })
            .with_batch_config(batch)
            .build();
        let resource = Resource::builder()
            .with_service_name(config.service_name.clone())
            .with_attribute(KeyValue::new("service.version", env!("CARGO_PKG_VERSION")))
            .build();
        let provider = SdkTracerProvider::builder()
            .with_span_processor(processor)
            .with_resource(resource)
            .with_max_events_per_span(MAX_EVENTS_PER_SPAN)
            .build();
        let tracer = provider.tracer("attendant");
        let traces = Arc::new(Self { provider, tracer, state: Mutex::new(State::default()), max_live, redact, over_capacity: AtomicBool::new(false) });
        // Ended calls' traces close on time even when no further record comes to close them.
        let weak: Weak<Self> = Arc::downgrade(&traces);
        std::thread::Builder::new()
            .name("otel-sweep".into())
            .spawn(move || {
                while let Some(traces) = weak.upgrade() {
                    traces.lock().sweep(Some(Instant::now()));
                    drop(traces);
                    std::thread::sleep(CLOSING_GRACE / 2);
                }
            })
            .context("cannot start the otel sweep thread")?;
        Ok(Some(traces))
    }

    fn lock(&self) -> std::sync::MutexGuard<'_, State> {
        self.state.lock().unwrap_or_else(|p| p.into_inner())
    }

    /// Takes one event record (as [`EventSink::emit`](crate::serve::events::EventSink::emit)
    /// builds it) into its call's trace.
    pub fn observe(&self, record: &Map<String, Value>) {
        let text = |k: &str| record.get(k).and_then(Value::as_str).unwrap_or("");
        let (call_id, event) = (text("call_id"), text("event"));
        let at = record.get("ts_ms").and_then(Value::as_u64).map_or_else(SystemTime::now, |ms| UNIX_EPOCH + Duration::from_millis(ms));
        let mut state = self.lock();
        state.sweep(Some(Instant::now()));
        if event == "call_started" {
            if state.live.len() >= self.max_live {
                if !self.over_capacity.swap(true, Ordering::Relaxed) {
                    eprintln!("warning: otel: {} calls traced at once; further calls are not traced until some end", self.max_live);
                }
                return;
            }
            let span = self
                .tracer
                .span_builder("call")
                .with_kind(SpanKind::Server)
                .with_start_time(at)
                .with_attributes(self.attributes(record, "attendant."))
                .start_with_context(&self.tracer, &Context::new());
            state.live.insert(call_id.to_owned(), CallTrace { span, turns: BTreeMap::new(), failed: None, last: at });
            return;
        }
        let Some(call) = state.live.get_mut(call_id) else {
            drop(state);
            if matches!(event, "call_refused" | "stream_refused") {
                self.standalone(event, at, record);
            }
            return;
        };
        let name = match (event, record.get("flow").and_then(Value::as_str)) {
            ("flow", Some(step)) => Cow::Owned(format!("flow.{step}")),
            _ => Cow::Owned(event.to_owned()),
        };
        let attributes = self.attributes(record, "");
        call.last = call.last.max(at);
        match event {
            "decision" => call.span.set_attributes(decision_attributes(record)),
            "call_failed" | "media_error" | "recognition_error" | "transfer_failed" | "stream_error" => {
                let why = record.get("error").or_else(|| record.get("reason")).and_then(Value::as_str).unwrap_or("");
                call.failed.get_or_insert_with(|| format!("{event}: {}", self.mask("error", why)));
            }
            _ => {}
        }
        let turn = record.get("turn").and_then(Value::as_u64);
        let turn_span = turn.and_then(|n| {
            if !call.turns.contains_key(&n) && call.turns.len() < MAX_TURN_SPANS {
                let parent = Context::new().with_remote_span_context(call.span.span_context().clone());
                let span = self
                    .tracer
                    .span_builder("turn")
                    .with_kind(SpanKind::Internal)
                    .with_start_time(at)
                    .with_attributes([KeyValue::new("attendant.turn", n as i64)])
                    .start_with_context(&self.tracer, &parent);
                call.turns.insert(n, (span, at));
            }
            call.turns.get_mut(&n)
        });
        match turn_span {
            Some((span, last)) => {
                *last = (*last).max(at);
                span.add_event_with_timestamp(name, at, attributes);
            }
            None => call.span.add_event_with_timestamp(name, at, attributes),
        }
        if event == "call_ended" {
            if let Some(reason) = record.get("reason").and_then(Value::as_str) {
                call.span.set_attribute(KeyValue::new("attendant.end_reason", reason.to_owned()));
            }
            state.closing.push_back((Instant::now(), call_id.to_owned()));
        }
    }

    /// Ends what is still open (calls the drain deadline cut) and sends every span left.
    pub fn shutdown(&self) {
        let mut state = self.lock();
        state.sweep(None);
        let now = SystemTime::now();
        for (_, mut call) in state.live.drain() {
            call.span.set_attribute(KeyValue::new("attendant.end_reason", "worker_stopped"));
            call.last = now;
            finish(call);
        }
        drop(state);
        if let Err(e) = self.provider.shutdown() {
            eprintln!("warning: otel: cannot flush the last traces: {e}");
        }
    }

    fn standalone(&self, event: &str, at: SystemTime, record: &Map<String, Value>) {
        let mut span = self
            .tracer
            .span_builder(event.to_owned())
            .with_kind(SpanKind::Server)
            .with_start_time(at)
            .with_attributes(self.attributes(record, "attendant."))
            .start_with_context(&self.tracer, &Context::new());
        span.end_with_timestamp(at);
    }

    /// The record's own fields as attributes named `prefix` + field; text with phone numbers
    /// masked (identifiers excepted), objects and arrays as their JSON.
    fn attributes(&self, record: &Map<String, Value>, prefix: &str) -> Vec<KeyValue> {
        let mut out = Vec::with_capacity(record.len());
        for (key, value) in record {
            if matches!(key.as_str(), "ts_ms" | "event" | "flow" | "turn") || (prefix.is_empty() && matches!(key.as_str(), "call_id" | "tenant")) {
                continue;
            }
            let value = match value {
                Value::Null => continue,
                Value::Bool(b) => OtelValue::Bool(*b),
                Value::Number(n) => match n.as_i64() {
                    Some(i) => OtelValue::I64(i),
                    None => OtelValue::F64(n.as_f64().unwrap_or(0.0)),
                },
                Value::String(s) => OtelValue::String(self.mask(key, s).into()),
                other => OtelValue::String(self.mask(key, &other.to_string()).into()),
            };
            out.push(KeyValue::new(format!("{prefix}{key}"), value));
        }
        out
    }

    fn mask(&self, key: &str, text: &str) -> String {
        if self.redact && !is_identifier(key) {
            redact_numbers(text)
        } else {
            text.to_owned()
        }
    }
}

/// The decision's summary on the call span (its whole record is the `decision` event).
fn decision_attributes(record: &Map<String, Value>) -> Vec<KeyValue> {
    let mut out = Vec::new();
    let mut put = |name: &'static str, value: Option<&Value>| match value {
        Some(Value::String(s)) => out.push(KeyValue::new(name, s.clone())),
        Some(Value::Number(n)) => out.push(match n.as_i64() {
            Some(i) => KeyValue::new(name, i),
            None => KeyValue::new(name, n.as_f64().unwrap_or(0.0)),
        }),
        _ => {}
    };
    let target = record.get("target");
    put("attendant.decision.intent", record.get("intent"));
    put("attendant.decision.confidence", record.get("confidence"));
    put("attendant.decision.reason", record.get("reason"));
    put("attendant.decision.priority", record.get("priority"));
    put("attendant.decision.target.kind", target.and_then(|t| t.get("kind")));
    put("attendant.decision.target.queue", target.and_then(|t| t.get("queue")));
    put("attendant.decision.target.agent_id", target.and_then(|t| t.get("agent_id")));
    put("attendant.decision.last_word_to_decision_ms", record.get("timings").and_then(|t| t.get("last_word_to_decision_ms")));
    out
}

/// Ends the call's turns and the call span, each at its last record.
fn finish(mut call: CallTrace) {
    for (_, (mut span, last)) in std::mem::take(&mut call.turns) {
        span.end_with_timestamp(last);
    }
    call.span.set_status(match call.failed.take() {
        Some(why) => Status::error(why),
        None => Status::Ok,
    });
    call.span.end_with_timestamp(call.last);
}

/// The OTLP exporter, saying on stderr when exports start failing and when they recover (the
/// SDK's own diagnostics are compiled out).
#[derive(Debug)]
struct Reporting<E> {
    inner: E,
    endpoint: String,
    failing: AtomicBool,
}

impl<E: SpanExporter> SpanExporter for Reporting<E> {
    async fn export(&self, batch: Vec<SpanData>) -> OTelSdkResult {
        let n = batch.len();
        let result = self.inner.export(batch).await;
        match &result {
            Err(e) if !self.failing.swap(true, Ordering::Relaxed) => {
                eprintln!("warning: otel: {n} spans not accepted by {}: {e} (reported once until exports recover)", self.endpoint);
            }
            Ok(()) if self.failing.swap(false, Ordering::Relaxed) => eprintln!("attendant: otel: exports to {} recovered", self.endpoint),
            _ => {}
        }
        result
    }

    fn shutdown_with_timeout(&self, timeout: Duration) -> OTelSdkResult {
        self.inner.shutdown_with_timeout(timeout)
    }

    fn force_flush(&self) -> OTelSdkResult {
        self.inner.force_flush()
    }

    fn set_resource(&mut self, resource: &Resource) {
        self.inner.set_resource(resource);
    }
}
