//! Sans-IO webhook delivery: decisions wait in an [`Outbox`] until the tenant's webhook takes
//! them, with jittered exponential backoff between attempts and a dead-letter output when it
//! gives up. The worker does the HTTP and the file appends.
//!
//! Driving it:
//! 1. [`Outbox::push`] each decision body under its id ([`crate::Decision::id`]).
//! 2. Loop: send every [`Outbox::poll_transmit`] attempt (with its `timeout`); feed each
//!    outcome to [`Outbox::handle_result`] (use [`AttemptResult::from_status`] for HTTP
//!    responses); append every [`Outbox::poll_dead_letter`] to the dead-letter file
//!    ([`DeadLetter::to_json_line`]); sleep until [`Outbox::poll_timeout`] or a new push, then
//!    [`Outbox::handle_timeout`].
//!
//! Backoff after the n-th failed attempt: `base = min(initial_backoff × 2^(n-1), max_backoff)`,
//! then "equal jitter": `base/2 + j`, j in `[0, base/2]` from a hash of (id, n), so retries of
//! many decisions spread out yet a test sees the same schedule every run. A `Retry-After`
//! from the server replaces the backoff for that retry (capped at [`MAX_RETRY_AFTER`]).

use std::collections::VecDeque;
use std::time::{Duration, Instant};

use crate::RoutingError;

/// Longest `Retry-After` honoured; a server asking for more gets this.
pub const MAX_RETRY_AFTER: Duration = Duration::from_secs(3600);

/// Largest `timeout_ms` accepted: 5 minutes.
const MAX_TIMEOUT: Duration = Duration::from_secs(300);

/// Largest `max_backoff_ms` accepted: a day.
const MAX_BACKOFF: Duration = Duration::from_secs(86_400);

/// `now + d` that cannot overflow even with an unvalidated policy: `d` is capped at a day.
fn after(now: Instant, d: Duration) -> Instant {
    now.checked_add(d.min(MAX_BACKOFF)).unwrap_or(now)
}

/// How hard to try. Configured in milliseconds: `max_attempts`, `initial_backoff_ms`,
/// `max_backoff_ms`, `timeout_ms`.
#[derive(Debug, Clone, PartialEq, Eq, serde::Deserialize, serde::Serialize)]
#[serde(try_from = "RetryPolicyConfig", into = "RetryPolicyConfig")]
pub struct RetryPolicy {
    /// Attempts in all, the first included. Default 6. At least 1.
    pub max_attempts: u32,
    /// Backoff after the first failure (before jitter). Default 1 s. At least 1 ms.
    pub initial_backoff: Duration,
    /// Largest backoff (before jitter). Default 60 s. From `initial_backoff` to a day.
    pub max_backoff: Duration,
    /// Time allowed per attempt; an attempt with no result by then failed (retryable).
    /// Default 5 s. 1 ms to 5 min.
    pub timeout: Duration,
}

impl Default for RetryPolicy {
    fn default() -> Self {
        Self {
            max_attempts: 6,
            initial_backoff: Duration::from_secs(1),
            max_backoff: Duration::from_secs(60),
            timeout: Duration::from_secs(5),
        }
    }
}

/// The configuration form of [`RetryPolicy`].
#[derive(Debug, Clone, serde::Deserialize, serde::Serialize)]
#[serde(deny_unknown_fields, default)]
struct RetryPolicyConfig {
    /// Default 6.
    max_attempts: u32,
    /// Default 1000.
    initial_backoff_ms: u64,
    /// Default 60000.
    max_backoff_ms: u64,
    /// Default 5000.
    timeout_ms: u64,
}

impl Default for RetryPolicyConfig {
    fn default() -> Self {
        RetryPolicy::default().into()
    }
}

impl From<RetryPolicy> for RetryPolicyConfig {
    fn from(p: RetryPolicy) -> Self {
        let ms = |d: Duration| u64::try_from(d.as_millis()).unwrap_or(u64::MAX);
        Self { max_attempts: p.max_attempts, initial_backoff_ms: ms(p.initial_backoff), max_backoff_ms: ms(p.max_backoff), timeout_ms: ms(p.timeout) }
    }
}

impl TryFrom<RetryPolicyConfig> for RetryPolicy {
    type Error = RoutingError;
    fn try_from(c: RetryPolicyConfig) -> Result<Self, RoutingError> {
        let p = RetryPolicy {
            max_attempts: c.max_attempts,
            initial_backoff: Duration::from_millis(c.initial_backoff_ms),
            max_backoff: Duration::from_millis(c.max_backoff_ms),
            timeout: Duration::from_millis(c.timeout_ms),
        };
        p.validate("")?;
        Ok(p)
    }
}

impl RetryPolicy {
    /// Checks the values; `path` prefixes the field names in errors (e.g. `tenants[0].webhook.retry`).
    pub fn validate(&self, path: &str) -> Result<(), RoutingError> {
        let f = |name: &str| if path.is_empty() { name.to_owned() } else { format!("{path}.{name}") };
        if self.max_attempts == 0 {
            return Err(RoutingError::config(f("max_attempts"), "must be at least 1"));
        }
        if self.initial_backoff.is_zero() {
            return Err(RoutingError::config(f("initial_backoff_ms"), "must be at least 1"));
        }
        if self.max_backoff < self.initial_backoff {
            return Err(RoutingError::config(f("max_backoff_ms"), "must be at least initial_backoff_ms"));
        }
        if self.timeout.is_zero() || self.timeout > MAX_TIMEOUT {
            return Err(RoutingError::config(f("timeout_ms"), "must be 1 to 300000"));
        }
        if self.max_backoff > MAX_BACKOFF {
            return Err(RoutingError::config(f("max_backoff_ms"), "must be at most 86400000 (a day)"));
        }
        Ok(())
    }

    /// Delay before the attempt following failed attempt `attempt_no` (1-based) of `id`.
    pub fn backoff(&self, id: &str, attempt_no: u32) -> Duration {
        let doublings = attempt_no.saturating_sub(1).min(31);
        let base = self.initial_backoff.saturating_mul(1u32 << doublings).min(self.max_backoff);
        let half = base / 2;
        let h = crate::hash::fnv1a64(0x6a09_e667_f3bc_c908, &[id.as_bytes(), &attempt_no.to_be_bytes()]);
        // Jitter in [0, half]: scale half by h / 2^64 in integer nanoseconds.
        let half_ns = half.as_nanos();
        let jitter_ns = (half_ns * u128::from(h)) >> 64;
        half + Duration::from_nanos(u64::try_from(jitter_ns).unwrap_or(u64::MAX))
    }
}

/// One delivery attempt to make.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Attempt {
    pub id: String,
    pub body: Vec<u8>,
    /// 1 for the first attempt.
    pub attempt_no: u32,
    /// Give up on this attempt after this long; the outbox counts it failed then anyway.
    pub timeout: Duration,
}

/// How an attempt went.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum AttemptResult {
    /// The webhook answered 2xx.
    Delivered,
    /// It did not. `retry_after` is the server's `Retry-After`, if any.
    Failed { retryable: bool, reason: String, retry_after: Option<Duration> },
}

impl AttemptResult {
    /// Classifies an HTTP status: 2xx delivered; 408, 429 and 5xx retryable; anything else
    /// (other 4xx, and 1xx/3xx, since redirects are not followed) not.
    pub fn from_status(status: u16, retry_after: Option<Duration>) -> Self {
        match status {
            200..=299 => Self::Delivered,
            408 | 429 | 500..=599 => Self::Failed { retryable: true, reason: format!("HTTP {status}"), retry_after },
            _ => Self::Failed { retryable: false, reason: format!("HTTP {status}"), retry_after: None },
        }
    }

    /// A connection error, TLS failure or timeout: retryable.
    pub fn transport_error(reason: impl Into<String>) -> Self {
        Self::Failed { retryable: true, reason: reason.into(), retry_after: None }
    }
}

/// Parses a `Retry-After` value in delta-seconds (RFC 9110 §10.2.3). The HTTP-date form needs
/// the wall clock; the caller converts it, or it is ignored (None).
pub fn parse_retry_after(value: &str) -> Option<Duration> {
    let v = value.trim();
    (!v.is_empty() && v.bytes().all(|b| b.is_ascii_digit())).then(|| Duration::from_secs(v.parse().unwrap_or(u64::MAX)))
}

/// A decision the outbox gave up on.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct DeadLetter {
    pub id: String,
    pub body: Vec<u8>,
    pub attempts: u32,
    pub last_error: String,
}

impl DeadLetter {
    /// One JSON line (no trailing newline): `{"id","attempts","last_error","body"}`, with the body
    /// embedded as JSON when it is JSON, else as a (lossy UTF-8) string.
    pub fn to_json_line(&self) -> String {
        let body = serde_json::from_slice::<serde_json::Value>(&self.body)
            .unwrap_or_else(|_| serde_json::Value::String(String::from_utf8_lossy(&self.body).into_owned()));
        serde_json::json!({"id": self.id, "attempts": self.attempts, "last_error": self.last_error, "body": body}).to_string()
    }
}

#[derive(Debug)]
struct Entry {
    id: String,
    body: Vec<u8>,
    /// Attempts started.
    attempts: u32,
    /// When the next attempt may start (not in flight) or when this one times out (in flight).
    at: Instant,
    in_flight: bool,
}

/// Decisions waiting for delivery.
#[derive(Debug)]
pub struct Outbox {
    policy: RetryPolicy,
    entries: VecDeque<Entry>,
    dead: VecDeque<DeadLetter>,
}

impl Outbox {
    pub fn new(policy: RetryPolicy) -> Self {
        Self { policy, entries: VecDeque::new(), dead: VecDeque::new() }
    }

    /// Queues `body` for delivery now. A second push of a pending id is ignored (false), so a
    /// decision is never delivered twice from one outbox.
    pub fn push(&mut self, id: String, body: Vec<u8>, now: Instant) -> bool {
        if self.entries.iter().any(|e| e.id == id) {
            return false;
        }
        self.entries.push_back(Entry { id, body, attempts: 0, at: now, in_flight: false });
        true
    }

    /// The next attempt due at `now`, oldest first; marks it in flight.
    pub fn poll_transmit(&mut self, now: Instant) -> Option<Attempt> {
        self.handle_timeout(now);
        let e = self.entries.iter_mut().filter(|e| !e.in_flight && e.at <= now).min_by_key(|e| e.at)?;
        e.attempts += 1;
        e.in_flight = true;
        e.at = after(now, self.policy.timeout);
        Some(Attempt { id: e.id.clone(), body: e.body.clone(), attempt_no: e.attempts, timeout: self.policy.timeout })
    }

    /// The outcome of the attempt in flight for `id`. Delivered removes it (even if the outbox
    /// had already timed the attempt out); a failure schedules a retry or, if not retryable or
    /// attempts are used up, dead-letters it. A failure for an id not in flight is stale and
    /// ignored.
    pub fn handle_result(&mut self, id: &str, result: AttemptResult, now: Instant) {
        let Some(i) = self.entries.iter().position(|e| e.id == id) else { return };
        match result {
            AttemptResult::Delivered => {
                self.entries.remove(i);
            }
            AttemptResult::Failed { retryable, reason, retry_after } => {
                if self.entries[i].in_flight {
                    self.fail(i, retryable, reason, retry_after, now);
                }
            }
        }
    }

    /// Counts attempts in flight past their timeout as failed (retryable).
    pub fn handle_timeout(&mut self, now: Instant) {
        while let Some(i) = self.entries.iter().position(|e| e.in_flight && e.at <= now) {
            self.fail(i, true, "timed out".to_owned(), None, now);
        }
    }

    /// The next decision given up on.
    pub fn poll_dead_letter(&mut self) -> Option<DeadLetter> {
        self.dead.pop_front()
    }

    /// When something is next due: an attempt to start or one to time out.
    pub fn poll_timeout(&self) -> Option<Instant> {
        self.entries.iter().map(|e| e.at).min()
    }

    /// Decisions not yet delivered nor given up on (in flight included).
    pub fn pending(&self) -> usize {
        self.entries.len()
    }

    fn fail(&mut self, i: usize, retryable: bool, reason: String, retry_after: Option<Duration>, now: Instant) {
        let e = &mut self.entries[i];
        e.in_flight = false;
        if retryable && e.attempts < self.policy.max_attempts {
            let delay = retry_after.map_or_else(|| self.policy.backoff(&e.id, e.attempts), |r| r.min(MAX_RETRY_AFTER));
            e.at = after(now, delay);
            return;
        }
        if let Some(e) = self.entries.remove(i) {
            self.dead.push_back(DeadLetter { id: e.id, body: e.body, attempts: e.attempts, last_error: reason });
        }
    }
}

#[cfg(test)]
#[path = "webhook_tests.rs"]
mod tests;
