//! Business hours: a weekly schedule and holidays in an IANA time zone.
//!
//! chrono-tz rather than a fixed UTC offset: a fixed offset is an hour wrong half of the year in
//! every zone with daylight saving, and the tz data costs ~1 MB of binary, nothing at run time.

use std::time::SystemTime;

use chrono::{DateTime, Datelike, NaiveDate, Timelike, Utc};
use chrono_tz::Tz;

use crate::config::HoursConfig;
use crate::validate::Errors;

/// Minutes since local midnight, `0..=1440`.
type Minute = u16;

/// A checked schedule.
#[derive(Clone, Debug)]
pub(crate) struct Schedule {
    tz: Tz,
    /// Open spans `[open, close)` per weekday, Monday first.
    weekly: [Vec<(Minute, Minute)>; 7],
    holidays: Vec<NaiveDate>,
    always_open: bool,
}

impl Schedule {
    /// Checks the schedule part of `config`, reporting under `place` (`...flow.hours`).
    pub(crate) fn compile(config: &HoursConfig, place: &str, errors: &mut Errors) -> Schedule {
        let tz = config.timezone.parse::<Tz>().unwrap_or_else(|_| {
            errors.push(format!("{place}.timezone"), format!("unknown IANA time zone {:?}", config.timezone));
            Tz::UTC
        });
        let mut weekly: [Vec<(Minute, Minute)>; 7] = Default::default();
        for (i, span) in config.weekly.iter().enumerate() {
            let at = format!("{place}.weekly[{i}]");
            let open = parse_hhmm(&span.open);
            let close = parse_hhmm(&span.close);
            if open.is_none() {
                errors.push(format!("{at}.open"), format!("{:?} is not a time HH:MM", span.open));
            }
            if close.is_none() {
                errors.push(format!("{at}.close"), format!("{:?} is not a time HH:MM (up to 24:00)", span.close));
            }
            let (Some(open), Some(close)) = (open, close) else { continue };
            if close <= open {
                errors.push(format!("{at}.close"), format!("{} is not after open {}", span.close, span.open));
                continue;
            }
            if span.days.is_empty() {
                errors.push(format!("{at}.days"), "is empty");
            }
            for (j, day) in span.days.iter().enumerate() {
                match weekday_index(day) {
                    Some(d) => weekly[d].push((open, close)),
                    None => errors.push(format!("{at}.days[{j}]"), format!("{day:?} is not one of mon tue wed thu fri sat sun")),
                }
            }
        }
        let mut holidays = Vec::new();
        for (i, day) in config.holidays.iter().enumerate() {
            match NaiveDate::parse_from_str(day, "%Y-%m-%d") {
                Ok(d) => holidays.push(d),
                Err(_) => errors.push(format!("{place}.holidays[{i}]"), format!("{day:?} is not a date YYYY-MM-DD")),
            }
        }
        Schedule { tz, weekly, holidays, always_open: config.always_open }
    }

    /// Whether calls are taken at wall-clock time `at`.
    pub(crate) fn is_open(&self, at: SystemTime) -> bool {
        if self.always_open {
            return true;
        }
        let local = DateTime::<Utc>::from(at).with_timezone(&self.tz);
        if self.holidays.contains(&local.date_naive()) {
            return false;
        }
        let day = local.weekday().num_days_from_monday() as usize;
        // Both conversions are bounded (hour < 24, minute < 60): the sum fits a u16.
        let minute = (local.hour() * 60 + local.minute()) as Minute;
        self.weekly[day].iter().any(|&(open, close)| open <= minute && minute < close)
    }
}

fn parse_hhmm(s: &str) -> Option<Minute> {
    let (h, m) = s.split_once(':')?;
    if h.len() != 2 || m.len() != 2 {
        return None;
    }
    let h: Minute = h.parse().ok()?;
    let m: Minute = m.parse().ok()?;
    match (h, m) {
        (24, 0) => Some(1440),
        (0..=23, 0..=59) => Some(h * 60 + m),
        _ => None,
    }
}

fn weekday_index(day: &str) -> Option<usize> {
    ["mon", "tue", "wed", "thu", "fri", "sat", "sun"].iter().position(|d| d.eq_ignore_ascii_case(day))
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::config::{OpenSpan, PromptConfig, ThenConfig};
    use std::time::Duration;

    fn config() -> HoursConfig {
        HoursConfig {
            timezone: "America/New_York".into(),
            weekly: vec![
                OpenSpan { days: ["mon", "tue", "wed", "thu", "fri"].map(String::from).to_vec(), open: "08:00".into(), close: "20:00".into() },
                OpenSpan { days: vec!["sat".into()], open: "09:00".into(), close: "17:00".into() },
            ],
            holidays: vec!["2025-12-25".into()],
            always_open: false,
            closed_prompt: PromptConfig::text("closed"),
            closed: ThenConfig { hang_up: true, ..Default::default() },
        }
    }

    fn utc(rfc3339: &str) -> SystemTime {
        let t = DateTime::parse_from_rfc3339(rfc3339).expect("test time");
        SystemTime::UNIX_EPOCH + Duration::from_secs(t.timestamp() as u64)
    }

    #[test]
    fn open_follows_the_local_schedule_with_daylight_saving() {
        let mut errors = Errors::default();
        let s = Schedule::compile(&config(), "hours", &mut errors);
        assert!(errors.is_empty(), "{errors:?}");
        // Monday 2025-06-02 08:30 EDT = 12:30 UTC: open. 07:30 EDT: closed.
        assert!(s.is_open(utc("2025-06-02T12:30:00Z")));
        assert!(!s.is_open(utc("2025-06-02T11:30:00Z")));
        // Monday 2025-12-01 08:30 EST = 13:30 UTC: open; 12:30 UTC is 07:30 EST: closed.
        assert!(s.is_open(utc("2025-12-01T13:30:00Z")));
        assert!(!s.is_open(utc("2025-12-01T12:30:00Z")));
        // Saturday 16:59 open, 17:00 closed (close is exclusive); Sunday closed.
        assert!(s.is_open(utc("2025-06-07T20:59:00Z")));
        assert!(!s.is_open(utc("2025-06-07T21:00:00Z")));
        assert!(!s.is_open(utc("2025-06-08T15:00:00Z")));
        // Christmas (a Thursday) at noon: holiday.
        assert!(!s.is_open(utc("2025-12-25T17:00:00Z")));
    }

    #[test]
    fn always_open_ignores_the_schedule() {
        let mut c = config();
        c.always_open = true;
        let s = Schedule::compile(&c, "hours", &mut Errors::default());
        assert!(s.is_open(utc("2025-06-08T03:00:00Z")));
    }

    #[test]
    fn bad_schedule_values_are_named() {
        let mut c = config();
        c.timezone = "Mars/Olympus".into();
        c.weekly[0].close = "07:00".into();
        c.weekly[1].days = vec!["saturday".into()];
        c.holidays = vec!["25/12/2025".into()];
        let mut errors = Errors::default();
        Schedule::compile(&c, "f.hours", &mut errors);
        let text = errors.to_string();
        for want in [
            "f.hours.timezone: unknown IANA time zone \"Mars/Olympus\"",
            "f.hours.weekly[0].close: 07:00 is not after open 08:00",
            "f.hours.weekly[1].days[0]: \"saturday\" is not one of",
            "f.hours.holidays[0]: \"25/12/2025\" is not a date",
        ] {
            assert!(text.contains(want), "missing {want:?} in {text}");
        }
    }

    #[test]
    fn hhmm_parsing() {
        assert_eq!(parse_hhmm("00:00"), Some(0));
        assert_eq!(parse_hhmm("24:00"), Some(1440));
        assert_eq!(parse_hhmm("24:01"), None);
        assert_eq!(parse_hhmm("8:00"), None);
        assert_eq!(parse_hhmm("12:60"), None);
    }
}
