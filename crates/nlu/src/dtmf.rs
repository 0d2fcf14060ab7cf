//! Collecting a digit string from DTMF keys: finish key, length limits, timeouts. Sans-IO: keys
//! and time come in as arguments, the next deadline goes out, nothing sleeps.

use std::time::{Duration, Instant};

use serde::{Deserialize, Deserializer};

use crate::NluError;

/// How to collect one digit string (an account number, a PIN, a menu choice).
#[derive(Debug, Clone, PartialEq, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct DtmfCollect {
    /// Fewest keys for a complete answer. Default 1.
    pub min_digits: usize,
    /// Collection ends as soon as this many keys are in. Default 16.
    pub max_digits: usize,
    /// Key that ends collection early; not part of the digits. `null` for none. Default `'#'`.
    pub finish_key: Option<char>,
    /// Key that throws away the keys so far and starts again (the caller made a mistake); the
    /// first-digit timer restarts. `null` makes it an ordinary key. Default `'*'`.
    pub cancel_key: Option<char>,
    /// Silence after a key that ends collection, in `inter_digit_timeout_ms`. Default 3000 ms.
    #[serde(rename = "inter_digit_timeout_ms", deserialize_with = "millis")]
    pub inter_digit_timeout: Duration,
    /// Silence before the first key that ends collection with no input, in
    /// `first_digit_timeout_ms`. Default 5000 ms.
    #[serde(rename = "first_digit_timeout_ms", deserialize_with = "millis")]
    pub first_digit_timeout: Duration,
}

impl Default for DtmfCollect {
    fn default() -> Self {
        DtmfCollect {
            min_digits: 1,
            max_digits: 16,
            finish_key: Some('#'),
            cancel_key: Some('*'),
            inter_digit_timeout: Duration::from_secs(3),
            first_digit_timeout: Duration::from_secs(5),
        }
    }
}

fn millis<'de, D: Deserializer<'de>>(d: D) -> Result<Duration, D::Error> {
    u64::deserialize(d).map(Duration::from_millis)
}

/// The sixteen RFC 4733 §3.2 DTMF events as characters.
fn is_dtmf_key(c: char) -> bool {
    matches!(c, '0'..='9' | '*' | '#' | 'A'..='D')
}

impl DtmfCollect {
    /// Checks limits and keys; the error names the field.
    pub fn validate(&self) -> Result<(), NluError> {
        let bad = |field, reason: String| Err(NluError::BadConfigValue { field, reason });
        if self.max_digits == 0 {
            return bad("max_digits", "must be at least 1".into());
        }
        if self.min_digits > self.max_digits {
            return bad(
                "min_digits",
                format!("{} exceeds max_digits {}", self.min_digits, self.max_digits),
            );
        }
        for (field, key) in [
            ("finish_key", self.finish_key),
            ("cancel_key", self.cancel_key),
        ] {
            match key {
                Some(k) if !is_dtmf_key(k) || k.is_ascii_digit() => {
                    return bad(field, format!("{k:?} is not one of * # A B C D"));
                }
                _ => {}
            }
        }
        if self.finish_key.is_some() && self.finish_key == self.cancel_key {
            return bad("cancel_key", "must differ from finish_key".into());
        }
        if self.inter_digit_timeout.is_zero() {
            return bad("inter_digit_timeout_ms", "must be above 0".into());
        }
        if self.first_digit_timeout.is_zero() {
            return bad("first_digit_timeout_ms", "must be above 0".into());
        }
        Ok(())
    }
}

/// Why collection ended.
#[derive(Debug, Clone, Copy, PartialEq, Eq, serde::Serialize)]
#[serde(rename_all = "snake_case")]
pub enum EndedBy {
    FinishKey,
    MaxDigits,
    /// Silence after at least one key.
    Timeout,
    /// Silence before any key.
    NoInput,
}

/// The result of one collection.
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize)]
pub struct Collected {
    /// The keys pressed, without finish key and without anything before the last cancel key.
    pub digits: String,
    pub ended_by: EndedBy,
    /// Whether at least `min_digits` keys came in; the caller reprompts when not.
    pub complete: bool,
}

/// Collects keys for one prompt. Create it when the prompt starts listening; feed keys with
/// [`push`](Self::push) and call [`poll_timeout`](Self::poll_timeout) at
/// [`next_timeout`](Self::next_timeout). Ends once; after that every call returns `None`.
#[derive(Debug)]
pub struct DtmfCollector {
    config: DtmfCollect,
    digits: String,
    deadline: Option<Instant>,
}

impl DtmfCollector {
    /// Starts collecting at `now` (the first-digit timer runs from here). `config` should have
    /// passed [`DtmfCollect::validate`]; a `max_digits` of 0 is treated as 1.
    pub fn new(config: DtmfCollect, now: Instant) -> DtmfCollector {
        let deadline = Some(now + config.first_digit_timeout);
        DtmfCollector {
            config,
            digits: String::new(),
            deadline,
        }
    }

    /// One key. Keys that are not DTMF keys are ignored. A key arriving after the deadline
    /// but before `poll_timeout` ran is still taken: the caller's poll was late, not the caller.
    pub fn push(&mut self, key: char, now: Instant) -> Option<Collected> {
        self.deadline?;
        let key = key.to_ascii_uppercase();
        if !is_dtmf_key(key) {
            return None;
        }
        if Some(key) == self.config.finish_key {
            return Some(self.finish(EndedBy::FinishKey));
        }
        if Some(key) == self.config.cancel_key {
            self.digits.clear();
            self.deadline = Some(now + self.config.first_digit_timeout);
            return None;
        }
        self.digits.push(key);
        if self.digits.len() >= self.config.max_digits.max(1) {
            return Some(self.finish(EndedBy::MaxDigits));
        }
        self.deadline = Some(now + self.config.inter_digit_timeout);
        None
    }

    /// Ends collection if the deadline has passed at `now`.
    pub fn poll_timeout(&mut self, now: Instant) -> Option<Collected> {
        let deadline = self.deadline?;
        if now < deadline {
            return None;
        }
        let why = if self.digits.is_empty() {
            EndedBy::NoInput
        } else {
            EndedBy::Timeout
        };
        Some(self.finish(why))
    }

    /// When to call [`poll_timeout`](Self::poll_timeout); `None` once collection has ended.
    pub fn next_timeout(&self) -> Option<Instant> {
        self.deadline
    }

    /// Keys so far (for barge-in decisions or logs).
    pub fn digits(&self) -> &str {
        &self.digits
    }

    pub fn is_done(&self) -> bool {
        self.deadline.is_none()
    }

    fn finish(&mut self, ended_by: EndedBy) -> Collected {
        self.deadline = None;
        let digits = std::mem::take(&mut self.digits);
        let complete = digits.len() >= self.config.min_digits;
        Collected {
            digits,
            ended_by,
            complete,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn ms(n: u64) -> Duration {
        Duration::from_millis(n)
    }

    fn collector(config: DtmfCollect) -> (DtmfCollector, Instant) {
        let t0 = Instant::now();
        (DtmfCollector::new(config, t0), t0)
    }

    #[test]
    fn finish_key_ends_and_is_not_collected() {
        let (mut c, t0) = collector(DtmfCollect::default());
        for (k, key) in "1234".chars().enumerate() {
            assert_eq!(c.push(key, t0 + ms(300 * k as u64)), None);
        }
        let got = c.push('#', t0 + ms(1500)).expect("finished");
        assert_eq!(
            got,
            Collected {
                digits: "1234".into(),
                ended_by: EndedBy::FinishKey,
                complete: true
            }
        );
        assert!(c.is_done());
        assert_eq!(c.next_timeout(), None);
        assert_eq!(c.push('5', t0 + ms(1600)), None);
    }

    #[test]
    fn max_digits_ends_at_once() {
        let (mut c, t0) = collector(DtmfCollect {
            max_digits: 3,
            ..Default::default()
        });
        assert_eq!(c.push('1', t0), None);
        assert_eq!(c.push('2', t0), None);
        let got = c.push('3', t0).expect("max reached");
        assert_eq!(
            (got.digits.as_str(), got.ended_by),
            ("123", EndedBy::MaxDigits)
        );
    }

    #[test]
    fn first_digit_timeout_gives_no_input() {
        let (mut c, t0) = collector(DtmfCollect::default());
        assert_eq!(c.next_timeout(), Some(t0 + ms(5000)));
        assert_eq!(c.poll_timeout(t0 + ms(4999)), None);
        let got = c.poll_timeout(t0 + ms(5000)).expect("timed out");
        assert_eq!(
            got,
            Collected {
                digits: String::new(),
                ended_by: EndedBy::NoInput,
                complete: false
            }
        );
        assert_eq!(c.poll_timeout(t0 + ms(9000)), None);
    }

    #[test]
    fn inter_digit_timeout_runs_from_the_last_key() {
        let (mut c, t0) = collector(DtmfCollect {
            min_digits: 4,
            ..Default::default()
        });
        c.push('4', t0 + ms(1000));
        c.push('2', t0 + ms(2000));
        assert_eq!(c.next_timeout(), Some(t0 + ms(5000)));
        assert_eq!(c.poll_timeout(t0 + ms(4999)), None);
        let got = c.poll_timeout(t0 + ms(5000)).expect("timed out");
        assert_eq!(
            got,
            Collected {
                digits: "42".into(),
                ended_by: EndedBy::Timeout,
                complete: false
            }
        );
    }

    #[test]
    fn cancel_key_restarts() {
        let (mut c, t0) = collector(DtmfCollect::default());
        c.push('9', t0);
        c.push('9', t0);
        assert_eq!(c.push('*', t0 + ms(1000)), None);
        assert_eq!(c.digits(), "");
        assert_eq!(c.next_timeout(), Some(t0 + ms(6000)));
        c.push('7', t0 + ms(1500));
        assert_eq!(
            c.push('#', t0 + ms(1600)).map(|g| g.digits),
            Some("7".into())
        );
    }

    #[test]
    fn without_cancel_key_star_is_a_key() {
        let (mut c, t0) = collector(DtmfCollect {
            cancel_key: None,
            ..Default::default()
        });
        c.push('*', t0);
        c.push('1', t0);
        assert_eq!(c.push('#', t0).map(|g| g.digits), Some("*1".into()));
    }

    #[test]
    fn non_dtmf_keys_are_ignored() {
        let (mut c, t0) = collector(DtmfCollect::default());
        for key in ['x', 'E', ' ', '\u{1f600}'] {
            assert_eq!(c.push(key, t0), None);
        }
        c.push('a', t0); // letters A-D are keys, either case
        assert_eq!(c.digits(), "A");
    }

    #[test]
    fn config_from_json_with_millisecond_fields() {
        let cfg: DtmfCollect = serde_json::from_str(
            r#"{"min_digits": 4, "max_digits": 8, "finish_key": null, "inter_digit_timeout_ms": 2500}"#,
        )
        .expect("valid config");
        assert_eq!(cfg.inter_digit_timeout, ms(2500));
        assert_eq!(cfg.first_digit_timeout, ms(5000));
        assert_eq!(cfg.finish_key, None);
        assert!(cfg.validate().is_ok());
        let err = serde_json::from_str::<DtmfCollect>(r#"{"inter_digit_timeout": 3}"#);
        assert!(err.is_err(), "unknown fields are rejected");
    }

    #[test]
    fn validate_names_the_field() {
        let bad = DtmfCollect {
            min_digits: 5,
            max_digits: 4,
            ..Default::default()
        };
        assert!(bad
            .validate()
            .expect_err("invalid")
            .to_string()
            .contains("min_digits"));
        let bad = DtmfCollect {
            finish_key: Some('5'),
            ..Default::default()
        };
        assert!(bad
            .validate()
            .expect_err("invalid")
            .to_string()
            .contains("finish_key"));
        let bad = DtmfCollect {
            cancel_key: Some('#'),
            ..Default::default()
        };
        assert!(bad
            .validate()
            .expect_err("invalid")
            .to_string()
            .contains("cancel_key"));
    }
}
