use std::time::{Duration, Instant};

use super::*;

fn secs(s: u64) -> Duration {
    Duration::from_secs(s)
}

fn fail() -> AttemptResult {
    AttemptResult::from_status(503, None)
}

#[test]
fn policy_defaults_and_ms_config() {
    let p = RetryPolicy::default();
    assert_eq!((p.max_attempts, p.initial_backoff, p.max_backoff, p.timeout), (6, secs(1), secs(60), secs(5)));
    let p: RetryPolicy = toml::from_str("max_attempts = 3\ninitial_backoff_ms = 250").unwrap();
    assert_eq!((p.max_attempts, p.initial_backoff, p.max_backoff, p.timeout), (3, Duration::from_millis(250), secs(60), secs(5)));
    let p: RetryPolicy = toml::from_str("").unwrap();
    assert_eq!(p, RetryPolicy::default());
    assert!(toml::from_str::<RetryPolicy>("initial_backoff = 1").is_err());
    let e = toml::from_str::<RetryPolicy>("initial_backoff_ms = 5000\nmax_backoff_ms = 1000").unwrap_err().to_string();
    assert!(e.contains("max_backoff_ms: must be at least initial_backoff_ms"), "{e}");
    assert!(toml::from_str::<RetryPolicy>("max_attempts = 0").unwrap_err().to_string().contains("max_attempts"));
    let p = RetryPolicy { timeout: Duration::ZERO, ..Default::default() };
    assert_eq!(p.validate("tenants[1].webhook.retry").unwrap_err().to_string(), "tenants[1].webhook.retry.timeout_ms: must be 1 to 300000");
}

#[test]
fn backoff_doubles_with_equal_jitter_up_to_max() {
    let p = RetryPolicy::default();
    for (n, base) in [(1u32, 1u64), (2, 2), (3, 4), (4, 8), (5, 16), (6, 32), (7, 60), (40, 60)] {
        let d = p.backoff("dec-1", n);
        assert!(d >= secs(base) / 2 && d <= secs(base), "attempt {n}: {d:?}");
        assert_eq!(d, p.backoff("dec-1", n), "deterministic");
    }
    // Different ids spread out.
    let spread: std::collections::BTreeSet<Duration> = (0..20).map(|i| p.backoff(&format!("dec-{i}"), 3)).collect();
    assert!(spread.len() > 15);
}

#[test]
fn delivered_on_first_attempt() {
    let t0 = Instant::now();
    let mut o = Outbox::new(RetryPolicy::default());
    assert!(o.push("a".into(), b"{}".to_vec(), t0));
    assert!(!o.push("a".into(), b"{}".to_vec(), t0), "duplicate ids are ignored");
    assert_eq!(o.poll_timeout(), Some(t0));
    let at = o.poll_transmit(t0).unwrap();
    assert_eq!((at.id.as_str(), at.body.as_slice(), at.attempt_no, at.timeout), ("a", &b"{}"[..], 1, secs(5)));
    assert_eq!(o.poll_transmit(t0), None, "in flight");
    assert_eq!(o.poll_timeout(), Some(t0 + secs(5)));
    o.handle_result("a", AttemptResult::from_status(204, None), t0 + secs(1));
    assert_eq!((o.pending(), o.poll_timeout(), o.poll_dead_letter()), (0, None, None));
}

#[test]
fn retry_schedule_then_dead_letter_after_max_attempts() {
    let t0 = Instant::now();
    let p = RetryPolicy::default();
    let mut o = Outbox::new(p.clone());
    o.push("d".into(), br#"{"type":"attendant.decision"}"#.to_vec(), t0);
    let mut now = t0;
    for n in 1..=6 {
        let at = o.poll_transmit(now).unwrap();
        assert_eq!(at.attempt_no, n);
        now += secs(1);
        o.handle_result("d", fail(), now);
        if n < 6 {
            let next = o.poll_timeout().unwrap();
            assert_eq!(next, now + p.backoff("d", n));
            assert_eq!(o.poll_transmit(next - Duration::from_millis(1)), None, "not before the backoff");
            now = next;
        }
    }
    assert_eq!(o.pending(), 0);
    let dl = o.poll_dead_letter().unwrap();
    assert_eq!((dl.id.as_str(), dl.attempts, dl.last_error.as_str()), ("d", 6, "HTTP 503"));
    assert_eq!(
        dl.to_json_line(),
        r#"{"attempts":6,"body":{"type":"attendant.decision"},"id":"d","last_error":"HTTP 503"}"#
    );
    assert_eq!(o.poll_dead_letter(), None);
}

#[test]
fn non_retryable_status_dead_letters_at_once() {
    let t0 = Instant::now();
    let mut o = Outbox::new(RetryPolicy::default());
    o.push("x".into(), b"not json".to_vec(), t0);
    o.poll_transmit(t0).unwrap();
    o.handle_result("x", AttemptResult::from_status(400, Some(secs(9))), t0);
    let dl = o.poll_dead_letter().unwrap();
    assert_eq!((dl.attempts, dl.last_error.as_str()), (1, "HTTP 400"));
    assert!(dl.to_json_line().contains(r#""body":"not json""#));
    assert_eq!(o.pending(), 0);
}

#[test]
fn status_classification() {
    assert_eq!(AttemptResult::from_status(200, None), AttemptResult::Delivered);
    assert_eq!(AttemptResult::from_status(299, None), AttemptResult::Delivered);
    for s in [408, 429, 500, 502, 503, 504] {
        assert!(matches!(AttemptResult::from_status(s, None), AttemptResult::Failed { retryable: true, .. }), "{s}");
    }
    for s in [301, 400, 401, 403, 404, 410, 413, 422] {
        assert!(matches!(AttemptResult::from_status(s, None), AttemptResult::Failed { retryable: false, .. }), "{s}");
    }
    assert!(matches!(AttemptResult::transport_error("connection refused"), AttemptResult::Failed { retryable: true, .. }));
}

#[test]
fn retry_after_replaces_backoff_and_is_capped() {
    let t0 = Instant::now();
    let mut o = Outbox::new(RetryPolicy::default());
    o.push("r".into(), vec![1], t0);
    o.poll_transmit(t0).unwrap();
    o.handle_result("r", AttemptResult::from_status(429, parse_retry_after(" 30 ")), t0);
    assert_eq!(o.poll_timeout(), Some(t0 + secs(30)));
    assert_eq!(o.poll_transmit(t0 + secs(29)), None);
    o.poll_transmit(t0 + secs(30)).unwrap();
    o.handle_result("r", AttemptResult::from_status(503, Some(secs(86_400))), t0 + secs(30));
    assert_eq!(o.poll_timeout(), Some(t0 + secs(30) + MAX_RETRY_AFTER));
    assert_eq!(parse_retry_after("Wed, 21 Oct 2015 07:28:00 GMT"), None);
    assert_eq!(parse_retry_after(""), None);
    assert_eq!(parse_retry_after("-1"), None);
}

#[test]
fn attempt_timeout_counts_as_retryable_failure() {
    let t0 = Instant::now();
    let p = RetryPolicy { max_attempts: 2, ..Default::default() };
    let mut o = Outbox::new(p.clone());
    o.push("t".into(), vec![], t0);
    o.poll_transmit(t0).unwrap();
    // No result within the timeout: the outbox fails the attempt itself.
    o.handle_timeout(t0 + secs(5));
    let next = o.poll_timeout().unwrap();
    assert_eq!(next, t0 + secs(5) + p.backoff("t", 1));
    // A late failure for the timed-out attempt is stale and changes nothing.
    o.handle_result("t", fail(), t0 + secs(6));
    assert_eq!(o.poll_timeout(), Some(next));
    let at = o.poll_transmit(next).unwrap();
    assert_eq!(at.attempt_no, 2);
    // The second attempt times out too: attempts are used up.
    assert_eq!(o.poll_transmit(next + secs(5)), None);
    let dl = o.poll_dead_letter().unwrap();
    assert_eq!((dl.attempts, dl.last_error.as_str()), (2, "timed out"));
}

#[test]
fn late_delivery_after_timeout_still_removes() {
    let t0 = Instant::now();
    let mut o = Outbox::new(RetryPolicy::default());
    o.push("l".into(), vec![], t0);
    o.poll_transmit(t0).unwrap();
    o.handle_timeout(t0 + secs(6));
    o.handle_result("l", AttemptResult::Delivered, t0 + secs(6));
    assert_eq!(o.pending(), 0);
}

#[test]
fn oldest_due_goes_first() {
    let t0 = Instant::now();
    let mut o = Outbox::new(RetryPolicy::default());
    o.push("1".into(), vec![], t0);
    o.push("2".into(), vec![], t0 + secs(1));
    o.push("3".into(), vec![], t0 + secs(2));
    let ids: Vec<String> = std::iter::from_fn(|| o.poll_transmit(t0 + secs(2)).map(|a| a.id)).collect();
    assert_eq!(ids, ["1", "2", "3"]);
    assert_eq!(o.pending(), 3);
}
