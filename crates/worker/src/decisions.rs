//! Routing decisions out to the tenant's webhook: POSTed as JSON, retried with backoff, and
//! written to a dead-letter file when given up on, so no decision is ever lost silently.
//!
//! One thread (named `webhook`) owns the sans-IO [`routing::Outbox`] and does the blocking HTTP
//! (`ureq`, rustls for `https`). Callers only put decisions on a channel ([`WebhookSender::send`]),
//! so a slow or dead webhook never holds up a call. Attempts are made one at a time: decisions
//! are a handful per call, and one thread keeps ordering and the dead-letter file simple.
//!
//! Outcome per attempt (see [`routing::AttemptResult::from_status`]): 2xx delivered; 408, 429,
//! 5xx, connection errors and timeouts retried (honouring `Retry-After` in seconds); any other
//! status (other 4xx, and 3xx, since redirects are not followed) given up on at once.

use std::collections::{BTreeMap, HashMap};
use std::io::Write as _;
use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{mpsc, Arc, Mutex};
use std::thread::JoinHandle;
use std::time::{Duration, Instant, SystemTime, UNIX_EPOCH};

use routing::{parse_retry_after, AttemptResult, DeadLetter, Decision, Outbox, RetryPolicy, RoutingError};
use ureq::http::{HeaderName, HeaderValue, Uri};

/// `[webhook]`: where decisions go and how hard to try.
#[derive(Clone, PartialEq, serde::Deserialize)]
#[serde(deny_unknown_fields)]
pub struct WebhookConfig {
    /// The URL decisions are POSTed to, `http://` or `https://` with a host. Required.
    pub url: String,
    /// Extra request headers, e.g. `Authorization = "Bearer ..."`. Default none. The worker
    /// sets `Content-Type`, `Content-Length`, `Host`, `Connection` and `Transfer-Encoding`
    /// itself; those may not be given.
    #[serde(default)]
    pub headers: BTreeMap<String, String>,
    /// JSON-lines file that decisions given up on are appended to (parent folders are
    /// created). Default `decisions.dead.jsonl`, in the working directory.
    #[serde(default = "default_dead_letter")]
    pub dead_letter: PathBuf,
    /// `max_attempts` (default 6), `initial_backoff_ms` (1000), `max_backoff_ms` (60000),
    /// `timeout_ms` per attempt (5000); see [`routing::RetryPolicy`].
    #[serde(default)]
    pub retry: RetryPolicy,
}

fn default_dead_letter() -> PathBuf {
    PathBuf::from("decisions.dead.jsonl")
}

/// Headers that frame the request; one given in the config would corrupt it.
const RESERVED_HEADERS: [&str; 5] = ["content-type", "content-length", "transfer-encoding", "host", "connection"];

/// Longest part of a refused response's body kept in the error (and the dead letter).
const ERROR_BODY_CHARS: usize = 200;

/// Most of a response body read (to reuse the connection); a longer one closes it instead.
const MAX_RESPONSE_BODY: u64 = 64 * 1024;

/// Errors starting a [`WebhookSender`].
#[derive(Debug, thiserror::Error)]
pub enum WebhookError {
    /// A configuration value is wrong; `field` is its path, e.g. `webhook.url`.
    #[error("{field}: {reason}")]
    Config { field: String, reason: String },
    /// The dead-letter file cannot be created or opened for appending.
    #[error("{field}: cannot open {}: {source}", path.display())]
    DeadLetterFile { field: String, path: PathBuf, source: std::io::Error },
    /// The delivery thread could not be spawned.
    #[error("cannot start the webhook thread: {0}")]
    Thread(std::io::Error),
}

/// Delivery counters since start.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, serde::Serialize)]
pub struct WebhookStats {
    /// Decisions the webhook accepted (2xx).
    pub delivered: u64,
    /// Attempts after the first, over all decisions.
    pub retried: u64,
    /// Decisions written to the dead-letter file.
    pub dead_lettered: u64,
    /// Decisions sent and neither delivered nor dead-lettered yet.
    pub pending: u64,
}

/// The handle to the `webhook` thread. Dropping it is [`WebhookSender::shutdown`] with a
/// deadline of one attempt's timeout from then (it blocks that long at most).
#[derive(Debug)]
pub struct WebhookSender {
    tx: Option<mpsc::Sender<Command>>,
    thread: Option<JoinHandle<()>>,
    shared: Arc<Shared>,
    drop_grace: Duration,
}

impl WebhookConfig {
    /// A config for `url` with every other field at its default.
    pub fn new(url: impl Into<String>) -> Self {
        Self { url: url.into(), headers: BTreeMap::new(), dead_letter: default_dead_letter(), retry: RetryPolicy::default() }
    }

    /// Checks every field; `path` prefixes the field names in errors (e.g. `webhook`).
    pub fn validate(&self, path: &str) -> Result<(), WebhookError> {
        let field = |name: &str| if path.is_empty() { name.to_owned() } else { format!("{path}.{name}") };
        let config_err = |name: &str, reason: String| WebhookError::Config { field: field(name), reason };
        parse_url(&self.url).map_err(|reason| config_err("url", reason))?;
        for (name, value) in &self.headers {
            let key = format!("headers[{name:?}]");
            let header = HeaderName::from_bytes(name.as_bytes())
                .map_err(|_| config_err(&key, "not a valid HTTP header name".into()))?;
            if RESERVED_HEADERS.contains(&header.as_str()) {
                return Err(config_err(&key, "set by the worker; may not be configured".into()));
            }
            HeaderValue::from_str(value)
                .map_err(|_| config_err(&key, "value must be visible ASCII or spaces (no CR, LF or other control characters)".into()))?;
        }
        if self.dead_letter.as_os_str().is_empty() {
            return Err(config_err("dead_letter", "must not be empty".into()));
        }
        self.retry.validate(&field("retry")).map_err(|e| match e {
            RoutingError::Config { field, reason } => WebhookError::Config { field, reason },
            other => config_err("retry", other.to_string()),
        })
    }
}

// Header values may be secrets (Authorization); Debug shows their names only.
impl std::fmt::Debug for WebhookConfig {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("WebhookConfig")
            .field("url", &self.url)
            .field("headers", &self.headers.keys().collect::<Vec<_>>())
            .field("dead_letter", &self.dead_letter)
            .field("retry", &self.retry)
            .finish()
    }
}

impl WebhookSender {
    /// Validates `config`, opens the dead-letter file and starts the `webhook` thread.
    pub fn start(config: WebhookConfig) -> Result<WebhookSender, WebhookError> {
        config.validate("webhook")?;
        let uri = parse_url(&config.url).map_err(|reason| WebhookError::Config { field: "webhook.url".into(), reason })?;
        let dead_letters = DeadLetterFile::open(&config.dead_letter)
            .map_err(|source| WebhookError::DeadLetterFile { field: "webhook.dead_letter".into(), path: config.dead_letter.clone(), source })?;
        let shared = Arc::new(Shared { counters: Counters::default(), dead_letters: Mutex::new(dead_letters) });
        let (tx, rx) = mpsc::channel();
        let drop_grace = config.retry.timeout;
        let worker = Worker::new(config, uri, rx, Arc::clone(&shared));
        let thread = std::thread::Builder::new().name("webhook".into()).spawn(move || worker.run()).map_err(WebhookError::Thread)?;
        Ok(WebhookSender { tx: Some(tx), thread: Some(thread), shared, drop_grace })
    }

    /// Queues `decision` for delivery; never blocks on the network. If the thread is gone, the
    /// decision goes straight to the dead-letter file.
    pub fn send(&self, decision: &Decision) {
        let id = decision.id();
        // Serializing a `Value` cannot fail; the fallback only keeps this free of unwrap.
        let body = serde_json::to_vec(&decision.webhook_body()).unwrap_or_default();
        self.shared.counters.sent.fetch_add(1, Ordering::Relaxed);
        let command = Command::Send { id, body };
        let Some(tx) = &self.tx else { return self.shared.give_up_unsent(command) };
        if let Err(mpsc::SendError(command)) = tx.send(command) {
            self.shared.give_up_unsent(command);
        }
    }

    /// Counters since start.
    pub fn stats(&self) -> WebhookStats {
        self.shared.counters.stats()
    }

    /// Keeps trying pending deliveries (backoffs included) until all are done or `deadline`
    /// passes, dead-letters what is left, and stops the thread. Returns the final counters.
    pub fn shutdown(mut self, deadline: Instant) -> WebhookStats {
        self.stop(deadline);
        self.stats()
    }

    fn stop(&mut self, deadline: Instant) {
        if let Some(tx) = self.tx.take() {
            // A send error means the thread is already gone; joining below says how.
            let _ = tx.send(Command::Shutdown { deadline });
        }
        if let Some(thread) = self.thread.take() {
            if thread.join().is_err() {
                eprintln!("warning: the webhook thread panicked; decisions it held may be lost");
            }
        }
    }
}

impl Drop for WebhookSender {
    fn drop(&mut self) {
        self.stop(Instant::now() + self.drop_grace);
    }
}

enum Command {
    Send { id: String, body: Vec<u8> },
    Shutdown { deadline: Instant },
}

#[derive(Debug, Default)]
struct Counters {
    sent: AtomicU64,
    duplicates: AtomicU64,
    delivered: AtomicU64,
    retried: AtomicU64,
    dead_lettered: AtomicU64,
}

impl Counters {
    fn stats(&self) -> WebhookStats {
        let get = |c: &AtomicU64| c.load(Ordering::Relaxed);
        let (delivered, dead_lettered) = (get(&self.delivered), get(&self.dead_lettered));
        let pending = get(&self.sent).saturating_sub(get(&self.duplicates) + delivered + dead_lettered);
        WebhookStats { delivered, retried: get(&self.retried), dead_lettered, pending }
    }
}

#[derive(Debug)]
struct Shared {
    counters: Counters,
    dead_letters: Mutex<DeadLetterFile>,
}

impl Shared {
    fn dead_letter(&self, letter: &DeadLetter) {
        self.counters.dead_lettered.fetch_add(1, Ordering::Relaxed);
        let mut file = self.dead_letters.lock().unwrap_or_else(|p| p.into_inner());
        file.append(letter);
    }

    fn give_up_unsent(&self, command: Command) {
        if let Command::Send { id, body } = command {
            self.dead_letter(&DeadLetter { id, body, attempts: 0, last_error: "webhook sender stopped".into() });
        }
    }
}

/// The dead-letter file. Each letter is one `write` of a whole line, so a reader never sees
/// half a record; a failed write puts the line on stderr instead, so it is still not lost.
#[derive(Debug)]
struct DeadLetterFile {
    path: PathBuf,
    file: std::fs::File,
}

impl DeadLetterFile {
    fn open(path: &Path) -> std::io::Result<Self> {
        if let Some(parent) = path.parent().filter(|p| !p.as_os_str().is_empty()) {
            std::fs::create_dir_all(parent)?;
        }
        let file = std::fs::OpenOptions::new().create(true).append(true).open(path)?;
        Ok(Self { path: path.to_owned(), file })
    }

    fn append(&mut self, letter: &DeadLetter) {
        let mut line = dead_letter_line(letter, SystemTime::now());
        line.push('\n');
        if let Err(e) = self.file.write_all(line.as_bytes()).and_then(|()| self.file.flush()) {
            eprintln!("warning: cannot append to {}: {e}; dead letter: {}", self.path.display(), line.trim_end());
        }
    }
}

/// `{"time","id","attempts","last_error","body"}`: the body as JSON when it is JSON.
fn dead_letter_line(letter: &DeadLetter, now: SystemTime) -> String {
    let body = serde_json::from_slice::<serde_json::Value>(&letter.body)
        .unwrap_or_else(|_| String::from_utf8_lossy(&letter.body).into_owned().into());
    serde_json::json!({
        "time": rfc3339(now),
        "id": letter.id,
        "attempts": letter.attempts,
        "last_error": letter.last_error,
        "body": body,
    })
    .to_string()
}

/// What the thread knows of a decision besides the outbox, to dead-letter it at shutdown.
struct Pending {
    body: Vec<u8>,
    attempts: u32,
    last_error: Option<String>,
}

/// The `webhook` thread's state.
struct Worker {
    agent: ureq::Agent,
    uri: Uri,
    headers: Vec<(HeaderName, HeaderValue)>,
    outbox: Outbox,
    pending: HashMap<String, Pending>,
    rx: mpsc::Receiver<Command>,
    shared: Arc<Shared>,
}

impl Worker {
    fn new(config: WebhookConfig, uri: Uri, rx: mpsc::Receiver<Command>, shared: Arc<Shared>) -> Self {
        let agent = ureq::Agent::config_builder()
            // Statuses are outcomes to classify, not errors.
            .http_status_as_error(false)
            // A redirect is a misconfigured URL; a POST must not be replayed elsewhere.
            .max_redirects(0)
            .user_agent(concat!("attendant/", env!("CARGO_PKG_VERSION")))
            .build()
            .new_agent();
        // Checked by validate(); a pair that fails anyway is left out rather than panicking.
        let headers = config
            .headers
            .iter()
            .filter_map(|(k, v)| Some((HeaderName::from_bytes(k.as_bytes()).ok()?, HeaderValue::from_str(v).ok()?)))
            .collect();
        Self { agent, uri, headers, outbox: Outbox::new(config.retry), pending: HashMap::new(), rx, shared }
    }

    fn run(mut self) {
        let mut deadline: Option<Instant> = None;
        loop {
            self.transmit_due(deadline);
            self.write_dead_letters();
            let now = Instant::now();
            if let Some(d) = deadline {
                if self.pending.is_empty() || now >= d {
                    self.give_up_all();
                    return;
                }
                // Everything sent before the shutdown came before it on the channel.
                let wake = self.outbox.poll_timeout().map_or(d, |t| t.min(d));
                std::thread::sleep(wake.saturating_duration_since(now));
                continue;
            }
            let command = match self.outbox.poll_timeout() {
                Some(t) => self.rx.recv_timeout(t.saturating_duration_since(now)),
                None => self.rx.recv().map_err(|_| mpsc::RecvTimeoutError::Disconnected),
            };
            match command {
                Ok(Command::Send { id, body }) => self.push(id, body),
                Ok(Command::Shutdown { deadline: d }) => deadline = Some(d),
                Err(mpsc::RecvTimeoutError::Timeout) => {}
                // The handle always sends Shutdown before hanging up; without one, stop now.
                Err(mpsc::RecvTimeoutError::Disconnected) => deadline = Some(now),
            }
        }
    }

    fn push(&mut self, id: String, body: Vec<u8>) {
        if self.outbox.push(id.clone(), body.clone(), Instant::now()) {
            self.pending.insert(id, Pending { body, attempts: 0, last_error: None });
        } else {
            // The same decision again while the first is pending: one delivery covers both.
            self.shared.counters.duplicates.fetch_add(1, Ordering::Relaxed);
        }
    }

    /// Makes every attempt due now, one after another.
    fn transmit_due(&mut self, deadline: Option<Instant>) {
        loop {
            let now = Instant::now();
            if deadline.is_some_and(|d| now >= d) {
                return;
            }
            let Some(attempt) = self.outbox.poll_transmit(now) else { return };
            let timeout = deadline.map_or(attempt.timeout, |d| attempt.timeout.min(d.saturating_duration_since(now)));
            if attempt.attempt_no > 1 {
                self.shared.counters.retried.fetch_add(1, Ordering::Relaxed);
            }
            let result = self.deliver(&attempt.body, timeout);
            match &result {
                AttemptResult::Delivered => {
                    self.pending.remove(&attempt.id);
                    self.shared.counters.delivered.fetch_add(1, Ordering::Relaxed);
                }
                AttemptResult::Failed { reason, .. } => {
                    if let Some(p) = self.pending.get_mut(&attempt.id) {
                        p.attempts = attempt.attempt_no;
                        p.last_error = Some(reason.clone());
                    }
                }
            }
            self.outbox.handle_result(&attempt.id, result, Instant::now());
        }
    }

    /// One POST. Every failure becomes an outcome: nothing here returns early or panics.
    fn deliver(&self, body: &[u8], timeout: Duration) -> AttemptResult {
        let mut request = self.agent.post(self.uri.clone()).header("content-type", "application/json");
        for (name, value) in &self.headers {
            request = request.header(name, value);
        }
        let response = request.config().timeout_global(Some(timeout)).build().send(body);
        let mut response = match response {
            Ok(r) => r,
            Err(ureq::Error::Timeout(t)) => return AttemptResult::transport_error(format!("timed out ({t})")),
            Err(e) => return AttemptResult::transport_error(e.to_string()),
        };
        let status = response.status().as_u16();
        let retry_after = response.headers().get("retry-after").and_then(|v| v.to_str().ok()).and_then(parse_retry_after);
        // Read the body so the connection can be reused; too long or broken just closes it.
        let text = response.body_mut().with_config().limit(MAX_RESPONSE_BODY).read_to_string().unwrap_or_default();
        match AttemptResult::from_status(status, retry_after) {
            AttemptResult::Failed { retryable, reason, retry_after } => {
                let text: String = text.trim().chars().take(ERROR_BODY_CHARS).collect();
                let reason = if text.is_empty() { reason } else { format!("{reason}: {text}") };
                AttemptResult::Failed { retryable, reason, retry_after }
            }
            delivered => delivered,
        }
    }

    fn write_dead_letters(&mut self) {
        while let Some(letter) = self.outbox.poll_dead_letter() {
            self.pending.remove(&letter.id);
            self.shared.dead_letter(&letter);
        }
    }

    /// At the shutdown deadline: everything still pending goes to the dead-letter file.
    fn give_up_all(&mut self) {
        for (id, p) in std::mem::take(&mut self.pending) {
            let last_error = match p.last_error {
                Some(e) => format!("shut down before delivery; last error: {e}"),
                None => "shut down before delivery".to_owned(),
            };
            self.shared.dead_letter(&DeadLetter { id, body: p.body, attempts: p.attempts, last_error });
        }
    }
}

/// An `http`/`https` URL with a host, or why not.
fn parse_url(url: &str) -> Result<Uri, String> {
    let uri: Uri = url.parse().map_err(|e| format!("not a URL ({e})"))?;
    match uri.scheme_str().map(str::to_ascii_lowercase).as_deref() {
        Some("http" | "https") => {}
        _ => return Err("must start with http:// or https://".into()),
    }
    if uri.host().is_none_or(str::is_empty) {
        return Err("has no host".into());
    }
    Ok(uri)
}

/// UTC time as RFC 3339 with milliseconds, e.g. `2025-01-31T08:15:00.250Z`.
fn rfc3339(t: SystemTime) -> String {
    let d = t.duration_since(UNIX_EPOCH).unwrap_or_default();
    let secs = d.as_secs();
    let (days, rem) = (i64::try_from(secs / 86_400).unwrap_or(0), secs % 86_400);
    // Civil date from days since 1970-01-01 (Howard Hinnant's `civil_from_days`).
    let z = days + 719_468;
    let (era, doe) = (z.div_euclid(146_097), z.rem_euclid(146_097));
    let yoe = (doe - doe / 1460 + doe / 36_524 - doe / 146_096) / 365;
    let doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
    let mp = (5 * doy + 2) / 153;
    let day = doy - (153 * mp + 2) / 5 + 1;
    let month = if mp < 10 { mp + 3 } else { mp - 9 };
    let year = yoe + era * 400 + i64::from(month <= 2);
    format!("{year:04}-{month:02}-{day:02}T{:02}:{:02}:{:02}.{:03}Z", rem / 3600, rem / 60 % 60, rem % 60, d.subsec_millis())
}

#[cfg(test)]
mod tests {
    use super::*;

    fn parse(toml_text: &str) -> WebhookConfig {
        toml::from_str(toml_text).expect("parses")
    }

    #[test]
    fn defaults_fill_everything_but_the_url() {
        let c = parse(r#"url = "https://cc.example.com/hook""#);
        assert_eq!(c, WebhookConfig::new("https://cc.example.com/hook"));
        assert_eq!(c.dead_letter, PathBuf::from("decisions.dead.jsonl"));
        assert_eq!(c.retry, RetryPolicy::default());
        c.validate("webhook").expect("valid");
    }

    #[test]
    fn full_config_parses() {
        let c = parse(
            r#"
            url = "http://127.0.0.1:8080/decisions"
            dead_letter = "/var/lib/attendant/dead.jsonl"
            headers = { Authorization = "Bearer abc" }
            retry = { max_attempts = 3, initial_backoff_ms = 10, max_backoff_ms = 100, timeout_ms = 500 }
            "#,
        );
        c.validate("webhook").expect("valid");
        assert_eq!(c.retry.max_attempts, 3);
        assert_eq!(c.retry.timeout, Duration::from_millis(500));
        assert!(!format!("{c:?}").contains("abc"), "Debug leaks a header value");
    }

    #[test]
    fn unknown_fields_are_rejected_by_name() {
        let e = toml::from_str::<WebhookConfig>("url = \"http://x\"\nretries = 3").expect_err("unknown field");
        assert!(e.to_string().contains("retries"), "{e}");
        let e = toml::from_str::<WebhookConfig>("url = \"http://x\"\nretry = { attempts = 3 }").expect_err("unknown field");
        assert!(e.to_string().contains("attempts"), "{e}");
    }

    #[test]
    fn validation_names_the_field() {
        let check = |c: WebhookConfig, field: &str| match c.validate("webhook") {
            Err(WebhookError::Config { field: f, reason }) => assert_eq!(f, field, "{reason}"),
            other => panic!("{field}: {other:?}"),
        };
        check(WebhookConfig::new("ftp://example.com/x"), "webhook.url");
        check(WebhookConfig::new("example.com/x"), "webhook.url");
        check(WebhookConfig::new("http:///x"), "webhook.url");
        check(WebhookConfig::new("http://exa mple.com/"), "webhook.url");
        let with_header = |k: &str, v: &str| {
            let mut c = WebhookConfig::new("https://example.com/");
            c.headers.insert(k.into(), v.into());
            c
        };
        check(with_header("X-Token", "a\r\nInjected: 1"), "webhook.headers[\"X-Token\"]");
        check(with_header("Bad Name", "v"), "webhook.headers[\"Bad Name\"]");
        check(with_header("Content-Type", "text/plain"), "webhook.headers[\"Content-Type\"]");
        with_header("Authorization", "Bearer x").validate("webhook").expect("valid");
        let mut c = WebhookConfig::new("https://example.com/");
        c.dead_letter = PathBuf::new();
        check(c, "webhook.dead_letter");
        let mut c = WebhookConfig::new("https://example.com/");
        c.retry.max_attempts = 0;
        check(c, "webhook.retry.max_attempts");
    }

    #[test]
    fn retry_after_accepts_delta_seconds_only() {
        assert_eq!(parse_retry_after(" 7 "), Some(Duration::from_secs(7)));
        assert_eq!(parse_retry_after("Wed, 21 Oct 2015 07:28:00 GMT"), None);
        assert_eq!(parse_retry_after("-1"), None);
        assert_eq!(parse_retry_after(""), None);
    }

    #[test]
    fn rfc3339_formats_utc() {
        assert_eq!(rfc3339(UNIX_EPOCH), "1970-01-01T00:00:00.000Z");
        assert_eq!(rfc3339(UNIX_EPOCH + Duration::from_millis(951_782_400_250)), "2000-02-29T00:00:00.250Z");
        assert_eq!(rfc3339(UNIX_EPOCH + Duration::from_secs(1_735_689_599)), "2024-12-31T23:59:59.000Z");
    }

    #[test]
    fn dead_letter_line_embeds_json_bodies() {
        let letter = DeadLetter { id: "d1".into(), body: br#"{"a":1}"#.to_vec(), attempts: 3, last_error: "HTTP 500".into() };
        let v: serde_json::Value = serde_json::from_str(&dead_letter_line(&letter, UNIX_EPOCH)).expect("json");
        assert_eq!(v["body"]["a"], 1);
        assert_eq!(v["attempts"], 3);
        assert_eq!(v["time"], "1970-01-01T00:00:00.000Z");
        let letter = DeadLetter { body: b"not json".to_vec(), ..letter };
        let v: serde_json::Value = serde_json::from_str(&dead_letter_line(&letter, UNIX_EPOCH)).expect("json");
        assert_eq!(v["body"], "not json");
    }
}
