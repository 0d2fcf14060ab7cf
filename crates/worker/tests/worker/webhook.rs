//! Decisions to a real local webhook receiver (retries, dead letters, Retry-After, shutdown),
//! and the worker's HTTP API on a real socket (agents, presence updates, errors).
//!
//! The receiver is a hand-written HTTP/1.1 server on 127.0.0.1 answering from a script, so
//! every outcome the sender must handle is produced by a real connection.

use std::collections::HashMap;
use std::io::{BufRead, BufReader, Read, Write};
use std::net::{TcpListener, TcpStream};
use std::path::PathBuf;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex};
use std::thread::JoinHandle;
use std::time::{Duration, Instant};

use attendant_worker::decisions::{WebhookConfig, WebhookSender, WebhookStats};
use attendant_worker::serve::http::{BatchResult, HttpState};
use routing::{Decision, DecisionReason, DecisionTarget, RetryPolicy};
use serde_json::{json, Value};

/// One request as the receiver saw it.
#[derive(Debug, Clone)]
struct Received {
    headers: HashMap<String, String>,
    body: Value,
    at: Instant,
}

/// A webhook receiver on 127.0.0.1 answering the n-th request (from 0) with `script(n)`:
/// (status, extra header lines). Stops when dropped.
struct Receiver {
    url: String,
    received: Arc<Mutex<Vec<Received>>>,
    stop: Arc<AtomicBool>,
    thread: Option<JoinHandle<()>>,
    addr: std::net::SocketAddr,
}

impl Receiver {
    fn start(script: impl Fn(usize) -> (u16, &'static str) + Send + 'static) -> Receiver {
        let listener = TcpListener::bind("127.0.0.1:0").expect("bind");
        let addr = listener.local_addr().expect("addr");
        let received = Arc::new(Mutex::new(Vec::new()));
        let stop = Arc::new(AtomicBool::new(false));
        let (rec, stop2) = (Arc::clone(&received), Arc::clone(&stop));
        let thread = std::thread::spawn(move || {
            for stream in listener.incoming() {
                if stop2.load(Ordering::SeqCst) {
                    return;
                }
                let Ok(stream) = stream else { continue };
                let Some(request) = read_request(&stream) else { continue };
                let n = {
                    let mut r = rec.lock().expect("lock");
                    r.push(request);
                    r.len() - 1
                };
                let (status, extra) = script(n);
                let body = format!("status {status}");
                let response = format!(
                    "HTTP/1.1 {status} X\r\nContent-Length: {}\r\nConnection: close\r\n{extra}\r\n{body}",
                    body.len()
                );
                let _ = (&stream).write_all(response.as_bytes());
            }
        });
        Receiver { url: format!("http://{addr}/decisions"), received, stop, thread: Some(thread), addr }
    }

    fn received(&self) -> Vec<Received> {
        self.received.lock().expect("lock").clone()
    }
}

impl Drop for Receiver {
    fn drop(&mut self) {
        self.stop.store(true, Ordering::SeqCst);
        // Wakes the accept loop so it sees the flag.
        let _ = TcpStream::connect(self.addr);
        if let Some(t) = self.thread.take() {
            let _ = t.join();
        }
    }
}

fn read_request(stream: &TcpStream) -> Option<Received> {
    stream.set_read_timeout(Some(Duration::from_secs(5))).ok()?;
    let mut reader = BufReader::new(stream);
    let mut line = String::new();
    reader.read_line(&mut line).ok()?;
    if !line.starts_with("POST /decisions HTTP/1.1") {
        return None;
    }
    let mut headers = HashMap::new();
    loop {
        line.clear();
        reader.read_line(&mut line).ok()?;
        let l = line.trim_end();
        if l.is_empty() {
            break;
        }
        let (k, v) = l.split_once(':')?;
        headers.insert(k.trim().to_ascii_lowercase(), v.trim().to_owned());
    }
    let len: usize = headers.get("content-length")?.parse().ok()?;
    let mut body = vec![0; len];
    reader.read_exact(&mut body).ok()?;
    Some(Received { headers, body: serde_json::from_slice(&body).ok()?, at: Instant::now() })
}

fn decision(call_id: &str) -> Decision {
    Decision::new(call_id, "acme", DecisionReason::Escalation, DecisionTarget::callback("billing", Some("+14255550123".into()), Some(90)))
        .with_intent("billing_question", 0.9)
}

/// A fresh dead-letter path in a folder that does not exist yet.
fn dead_letter_path(test: &str) -> PathBuf {
    let dir = std::env::temp_dir().join(format!("attendant-webhook-{}-{test}", std::process::id()));
    let _ = std::fs::remove_dir_all(&dir);
    dir.join("sub").join("dead.jsonl")
}

fn config(url: &str, test: &str) -> WebhookConfig {
    let mut c = WebhookConfig::new(url);
    c.dead_letter = dead_letter_path(test);
    c.headers.insert("Authorization".into(), "Bearer test-token".into());
    c.retry = RetryPolicy {
        max_attempts: 3,
        initial_backoff: Duration::from_millis(20),
        max_backoff: Duration::from_millis(50),
        timeout: Duration::from_secs(2),
    };
    c
}

fn dead_letters(config: &WebhookConfig) -> Vec<Value> {
    let text = std::fs::read_to_string(&config.dead_letter).expect("dead-letter file exists");
    text.lines().map(|l| serde_json::from_str(l).expect("one JSON object per line")).collect()
}

fn finish(sender: WebhookSender) -> WebhookStats {
    sender.shutdown(Instant::now() + Duration::from_secs(20))
}

#[test]
fn webhook_retries_503_then_delivers_once_with_the_decision_json() {
    let receiver = Receiver::start(|n| (if n < 2 { 503 } else { 200 }, ""));
    let config = config(&receiver.url, "retry");
    let sender = WebhookSender::start(config.clone()).expect("start");
    let d = decision("call-1");
    sender.send(&d);
    let stats = finish(sender);
    assert_eq!(stats, WebhookStats { delivered: 1, retried: 2, dead_lettered: 0, pending: 0 });
    let got = receiver.received();
    assert_eq!(got.len(), 3, "two refused, one accepted");
    for r in &got {
        assert_eq!(r.body, d.webhook_body(), "every attempt carries the same decision");
        assert_eq!(r.headers.get("content-type").map(String::as_str), Some("application/json"));
        assert_eq!(r.headers.get("authorization").map(String::as_str), Some("Bearer test-token"));
    }
    assert_eq!(got[2].body["id"], json!(d.id()));
    assert_eq!(got[2].body["type"], "attendant.decision");
    assert_eq!(got[2].body["intent"], "billing_question");
    assert!(dead_letters(&config).is_empty());
}

#[test]
fn webhook_always_500_is_dead_lettered_after_max_attempts() {
    let receiver = Receiver::start(|_| (500, ""));
    let config = config(&receiver.url, "always500");
    let sender = WebhookSender::start(config.clone()).expect("start");
    let d = decision("call-2");
    sender.send(&d);
    let stats = finish(sender);
    assert_eq!(stats, WebhookStats { delivered: 0, retried: 2, dead_lettered: 1, pending: 0 });
    assert_eq!(receiver.received().len(), 3);
    let dead = dead_letters(&config);
    assert_eq!(dead.len(), 1);
    assert_eq!(dead[0]["body"], d.webhook_body());
    assert_eq!(dead[0]["attempts"], 3);
    assert_eq!(dead[0]["id"], json!(d.id()));
    let error = dead[0]["last_error"].as_str().expect("last_error");
    assert!(error.starts_with("HTTP 500: status 500"), "{error}");
    assert!(dead[0]["time"].as_str().is_some_and(|t| t.ends_with('Z')), "{}", dead[0]);
}

#[test]
fn webhook_down_is_dead_lettered_after_max_attempts() {
    // A port that was just bound and released: nothing listens there.
    let url = {
        let l = TcpListener::bind("127.0.0.1:0").expect("bind");
        format!("http://{}/decisions", l.local_addr().expect("addr"))
    };
    let config = config(&url, "down");
    let sender = WebhookSender::start(config.clone()).expect("start");
    sender.send(&decision("call-3"));
    let stats = finish(sender);
    assert_eq!(stats.dead_lettered, 1);
    assert_eq!(stats.retried, 2);
    let dead = dead_letters(&config);
    assert_eq!(dead.len(), 1);
    assert_eq!(dead[0]["attempts"], 3);
    assert_eq!(dead[0]["body"]["call_id"], "call-3");
}

#[test]
fn webhook_400_is_not_retried() {
    let receiver = Receiver::start(|_| (400, ""));
    let config = config(&receiver.url, "400");
    let sender = WebhookSender::start(config.clone()).expect("start");
    sender.send(&decision("call-4"));
    let stats = finish(sender);
    assert_eq!(stats, WebhookStats { delivered: 0, retried: 0, dead_lettered: 1, pending: 0 });
    assert_eq!(receiver.received().len(), 1);
    let dead = dead_letters(&config);
    assert_eq!(dead[0]["attempts"], 1);
    assert!(dead[0]["last_error"].as_str().is_some_and(|e| e.starts_with("HTTP 400")), "{}", dead[0]);
}

#[test]
fn webhook_honours_retry_after_seconds() {
    let receiver = Receiver::start(|n| if n == 0 { (429, "Retry-After: 1\r\n") } else { (204, "") });
    let config = config(&receiver.url, "retry-after");
    let sender = WebhookSender::start(config).expect("start");
    sender.send(&decision("call-5"));
    assert_eq!(finish(sender).delivered, 1);
    let got = receiver.received();
    assert_eq!(got.len(), 2);
    // The policy's backoff is 20-50 ms; only the server's Retry-After makes this a second.
    let gap = got[1].at - got[0].at;
    assert!(gap >= Duration::from_millis(950), "retried after {gap:?}");
}

#[test]
fn webhook_shutdown_dead_letters_what_is_still_pending() {
    let receiver = Receiver::start(|_| (503, "Retry-After: 3600\r\n"));
    let config = config(&receiver.url, "shutdown");
    let sender = WebhookSender::start(config.clone()).expect("start");
    for call in ["call-6", "call-7"] {
        sender.send(&decision(call));
    }
    // Both have been tried once and wait an hour for the next attempt.
    let started = Instant::now();
    while receiver.received().len() < 2 && started.elapsed() < Duration::from_secs(10) {
        std::thread::sleep(Duration::from_millis(10));
    }
    assert_eq!(sender.stats().pending, 2);
    let stats = sender.shutdown(Instant::now() + Duration::from_millis(100));
    assert_eq!(stats, WebhookStats { delivered: 0, retried: 0, dead_lettered: 2, pending: 0 });
    assert!(started.elapsed() < Duration::from_secs(10), "shutdown waited for the Retry-After");
    let dead = dead_letters(&config);
    let mut calls: Vec<&str> = dead.iter().filter_map(|d| d["body"]["call_id"].as_str()).collect();
    calls.sort_unstable();
    assert_eq!(calls, ["call-6", "call-7"]);
    for d in &dead {
        assert_eq!(d["attempts"], 1);
        let error = d["last_error"].as_str().expect("last_error");
        assert!(error.starts_with("shut down before delivery; last error: HTTP 503"), "{error}");
    }
}

#[test]
fn webhook_config_errors_name_the_field() {
    let e = WebhookSender::start(WebhookConfig::new("ftp://example.com/")).expect_err("bad scheme");
    assert!(e.to_string().starts_with("webhook.url: "), "{e}");
}

// --- The HTTP API -------------------------------------------------------------------------

const ROUTING: &str = r#"
[[queues]]
name = "billing"
skills = ["billing"]
target = { sip = "sip:billing@cc.example.com" }

[[agents]]
id = "alice"
name = "Alice"
skills = ["billing"]
target = { sip = "sip:alice@cc.example.com" }

[[agents]]
id = "bob"
name = "Bob"
skills = ["billing"]
target = { sip = "sip:bob@cc.example.com", teams_user_id = "fa8bf3dc-eca7-46b7-bad1-db199b62afc3" }
"#;

/// The API on 127.0.0.1:0 in its own runtime; the runtime (and server) end when dropped.
struct Api {
    _runtime: tokio::runtime::Runtime,
    base: String,
    state: HttpState,
    agent: ureq::Agent,
}

impl Api {
    fn start() -> Api {
        let config: routing::RoutingConfig = toml::from_str(ROUTING).expect("routing config");
        let router = Arc::new(routing::Router::new(&config).expect("router"));
        let state = HttpState::new(HashMap::from([("acme".to_owned(), router)]));
        let runtime = tokio::runtime::Builder::new_multi_thread().worker_threads(1).enable_all().build().expect("runtime");
        let listener = runtime.block_on(tokio::net::TcpListener::bind("127.0.0.1:0")).expect("bind");
        let base = format!("http://{}", listener.local_addr().expect("addr"));
        runtime.spawn(attendant_worker::serve::http::serve(listener, state.clone()));
        let agent = ureq::Agent::config_builder()
            .http_status_as_error(false)
            .timeout_global(Some(Duration::from_secs(10)))
            .build()
            .new_agent();
        Api { _runtime: runtime, base, state, agent }
    }

    fn get(&self, path: &str) -> (u16, String) {
        let mut r = self.agent.get(format!("{}{path}", self.base)).call().expect("GET");
        (r.status().as_u16(), r.body_mut().read_to_string().expect("body"))
    }

    fn send(&self, method: &str, path: &str, body: &str) -> (u16, String) {
        let url = format!("{}{path}", self.base);
        let request = match method {
            "PUT" => self.agent.put(url),
            "POST" => self.agent.post(url),
            other => panic!("{other}"),
        };
        let mut r = request.header("content-type", "application/json").send(body).expect(method);
        (r.status().as_u16(), r.body_mut().read_to_string().expect("body"))
    }

    fn presence_of(&self, agent: &str) -> String {
        let (status, body) = self.get("/v1/tenants/acme/agents");
        assert_eq!(status, 200, "{body}");
        let agents: Vec<Value> = serde_json::from_str(&body).expect("json");
        let a = agents.iter().find(|a| a["id"] == agent).expect("agent listed");
        a["presence"].as_str().expect("presence").to_owned()
    }
}

fn error_code(body: &str) -> String {
    let v: Value = serde_json::from_str(body).unwrap_or_else(|e| panic!("error body not JSON ({e}): {body}"));
    v["error"].as_str().expect("error code").to_owned()
}

#[test]
fn http_presence_update_changes_agents() {
    let api = Api::start();
    assert_eq!(api.get("/healthz"), (200, "ok".to_owned()));
    assert_eq!(api.get("/readyz").0, 503);
    api.state.set_ready(true);
    assert_eq!(api.get("/readyz"), (200, "ready".to_owned()));

    assert_eq!(api.presence_of("alice"), "Offline");
    let busy = r#"{"availability":"Busy","activity":"InACall"}"#;
    assert_eq!(api.send("PUT", "/v1/tenants/acme/agents/alice/presence", busy).0, 204);
    assert_eq!(api.presence_of("alice"), "Busy");
    let available = r#"{"availability":"Available","activity":"Available"}"#;
    assert_eq!(api.send("POST", "/v1/tenants/acme/agents/alice/presence", available).0, 204);
    assert_eq!(api.presence_of("alice"), "Available");
    // By Teams user id, as Graph names users.
    let path = "/v1/tenants/acme/agents/fa8bf3dc-eca7-46b7-bad1-db199b62afc3/presence";
    assert_eq!(api.send("PUT", path, r#"{"availability":"DoNotDisturb"}"#).0, 204);
    assert_eq!(api.presence_of("bob"), "Busy");
}

#[test]
fn http_presence_errors_are_json_404_and_400() {
    let api = Api::start();
    let ok = r#"{"availability":"Available"}"#;
    let (status, body) = api.send("PUT", "/v1/tenants/nope/agents/alice/presence", ok);
    assert_eq!((status, error_code(&body).as_str()), (404, "unknown_tenant"));
    let (status, body) = api.get("/v1/tenants/nope/agents");
    assert_eq!((status, error_code(&body).as_str()), (404, "unknown_tenant"));
    let (status, body) = api.send("PUT", "/v1/tenants/acme/agents/carol/presence", ok);
    assert_eq!((status, error_code(&body).as_str()), (404, "unknown_agent"));
    let (status, body) = api.send("PUT", "/v1/tenants/acme/agents/alice/presence", "{not json");
    assert_eq!((status, error_code(&body).as_str()), (400, "bad_json"));
    let (status, body) = api.send("PUT", "/v1/tenants/acme/agents/alice/presence", r#"{"activity":"InACall"}"#);
    assert_eq!((status, error_code(&body).as_str()), (400, "bad_json"));
    assert!(body.contains("availability"), "{body}");
    let (status, body) = api.send("PUT", "/v1/tenants/acme/agents/alice/presence", r#"{"availability":"OnThePhone"}"#);
    assert_eq!((status, error_code(&body).as_str()), (400, "unknown_availability"));
    assert!(body.contains("OnThePhone"), "{body}");
    let huge = format!(r#"{{"availability":"Available","activity":"{}"}}"#, "x".repeat(20_000));
    let (status, body) = api.send("PUT", "/v1/tenants/acme/agents/alice/presence", &huge);
    assert_eq!((status, error_code(&body).as_str()), (413, "body_too_large"));
    let (status, body) = api.get("/v1/nothing");
    assert_eq!((status, error_code(&body).as_str()), (404, "not_found"));
    // Nothing above changed anyone.
    assert_eq!(api.presence_of("alice"), "Offline");
}

#[test]
fn http_batch_presence_reports_each_item() {
    let api = Api::start();
    let batch = json!({"value": [
        {"id": "alice", "availability": "Available", "activity": "Available"},
        {"id": "fa8bf3dc-eca7-46b7-bad1-db199b62afc3", "availability": "Away", "activity": "Away"},
        {"id": "carol", "availability": "Available"},
        {"id": "bob", "availability": "Sleeping"},
        {"availability": "Available"},
    ]});
    let (status, body) = api.send("POST", "/v1/tenants/acme/presence", &batch.to_string());
    assert_eq!(status, 200, "{body}");
    let result: BatchResult = serde_json::from_str(&body).expect("batch result");
    assert_eq!((result.updated, result.failed), (2, 3));
    let statuses: Vec<u16> = result.results.iter().map(|r| r.status).collect();
    assert_eq!(statuses, [204, 204, 404, 400, 400]);
    assert_eq!(result.results[1].agent.as_deref(), Some("bob"));
    assert_eq!(result.results[2].error.as_deref(), Some("unknown_agent"));
    assert_eq!(result.results[3].error.as_deref(), Some("unknown_availability"));
    assert_eq!(api.presence_of("alice"), "Available");
    assert_eq!(api.presence_of("bob"), "Away");

    let (status, body) = api.send("POST", "/v1/tenants/acme/presence", r#"{"value": 3}"#);
    assert_eq!((status, error_code(&body).as_str()), (400, "bad_presence"));
    let (status, body) = api.send("POST", "/v1/tenants/nope/presence", &batch.to_string());
    assert_eq!((status, error_code(&body).as_str()), (404, "unknown_tenant"));
}

/// https goes through rustls (no system TLS library), and a handshake failure is retried.
#[test]
fn webhook_https_to_a_plain_http_port_fails_in_tls_and_is_retried() {
    let receiver = Receiver::start(|_| (200, ""));
    let url = receiver.url.replace("http://", "https://");
    let config = config(&url, "tls");
    let sender = WebhookSender::start(config.clone()).expect("start");
    sender.send(&decision("call-8"));
    let stats = finish(sender);
    assert_eq!((stats.delivered, stats.retried, stats.dead_lettered), (0, 2, 1));
    // The client spoke TLS: the plain receiver never saw an HTTP request line.
    assert!(receiver.received().is_empty());
    assert_eq!(dead_letters(&config)[0]["attempts"], 3);
}
