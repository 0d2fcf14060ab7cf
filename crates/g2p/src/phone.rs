//! Phone-menu readings of numbers, applied before hibari's own normalization: money, phone
//! numbers, times, dates, ordinals, percents, account numbers and the `#`/`*` keys, read the way
//! an IVR prompt says them. Numbers come out as words without "and" or hyphens ("one thousand
//! two hundred thirty four"), which is also how the lexicon reads the digits it gets.
//!
//! Choices (where a phone menu could go either way):
//! - 24-hour times read as 12-hour ones: "17:00" -> "five p.m.", "0:30" -> "twelve thirty a.m.".
//! - "a.m."/"p.m." stay dotted: the lexicon then spells the letters ("a m" would read "a" as the
//!   article).
//! - A run of 5 or more digits without separators is read digit by digit ("zero", not "oh");
//!   so are numbers with a leading zero. Four digits from 1900 to 2099 read as a year.
//! - Phone numbers are read digit by digit, one comma between groups; a leading "+" is dropped.
//! - A number directly followed by a unit, degree sign, range or fraction is left in digits for
//!   hibari's unit/range/fraction rules ("5 km" -> "5 kilometers" -> "five kilometers").

use std::sync::OnceLock;

use fancy_regex::{Captures, Regex};

use crate::normalize::{gate, sub_if};
use crate::numbers::{digit_word, parse};
use crate::tokenize::compile;

/// hibari's unit keys (`normalize.json` "units"); a number before one stays digits for
/// hibari's unit rule. A test checks this list against the asset.
pub const HIBARI_UNITS: [&str; 47] = [
    "km", "cm", "mm", "kg", "mg", "lb", "lbs", "oz", "ft", "mi", "ml", "kph", "mph", "km/h", "Hz", "kHz", "MHz", "GHz",
    "KB", "kB", "MB", "GB", "TB", "Mbps", "Gbps", "hr", "hrs", "min", "mins", "sec", "secs", "ms", "sq ft", "sq mi",
    "yd", "kWh", "kW", "MW", "GW", "mAh", "fps", "cc", "mcg", "µg", "nm", "µm", "pct",
];

const MONTHS: [&str; 12] = [
    "January",
    "February",
    "March",
    "April",
    "May",
    "June",
    "July",
    "August",
    "September",
    "October",
    "November",
    "December",
];

/// Phone-style cardinal: "one thousand two hundred thirty four". The num2words reading of
/// [`crate::numbers::cardinal`] without its commas, hyphens and "and".
pub fn say(n: u128) -> String {
    crate::numbers::cardinal(n)
        .split([' ', ',', '-'])
        .filter(|w| !w.is_empty() && *w != "and")
        .collect::<Vec<_>>()
        .join(" ")
}

/// Phone-style ordinal: "twenty second", "one hundredth".
pub fn say_ordinal(n: u128) -> String {
    let c = say(n);
    let (head, last) = c.rsplit_once(' ').map_or(("", c.as_str()), |(h, l)| (h, l));
    let last = match last {
        "one" => "first".to_owned(),
        "two" => "second".to_owned(),
        "three" => "third".to_owned(),
        "five" => "fifth".to_owned(),
        "eight" => "eighth".to_owned(),
        "nine" => "ninth".to_owned(),
        "twelve" => "twelfth".to_owned(),
        w if w.ends_with('y') => format!("{}ieth", &w[..w.len() - 1]),
        w => format!("{w}th"),
    };
    if head.is_empty() {
        last
    } else {
        format!("{head} {last}")
    }
}

/// Years: "nineteen oh five", "two thousand nine", "twenty twenty five", "nineteen hundred".
pub fn say_year(n: u128) -> String {
    let (high, low) = (n / 100, n % 100);
    if !(10..100).contains(&high) || (high % 10 == 0 && low < 10) {
        return say(n);
    }
    match low {
        0 => format!("{} hundred", say(high)),
        1..=9 => format!("{} oh {}", say(high), say(low)),
        _ => format!("{} {}", say(high), say(low)),
    }
}

/// Digit by digit: "zero four five".
pub fn say_digits(s: &str) -> String {
    s.bytes().filter(u8::is_ascii_digit).map(|b| digit_word(b - b'0')).collect::<Vec<_>>().join(" ")
}

/// An unformatted integer the phone way: a leading zero or 5+ digits digit by digit, four
/// digits 1900..=2099 as a year, otherwise a cardinal.
fn say_integer(digits: &str, grouped: bool) -> String {
    let plain: String = digits.chars().filter(char::is_ascii_digit).collect();
    if !grouped && ((plain.len() > 1 && plain.starts_with('0')) || plain.len() >= 5) {
        return say_digits(&plain);
    }
    match parse(&plain) {
        Some(n) if !grouped && plain.len() == 4 && (1900..=2099).contains(&n) => say_year(n),
        Some(n) => say(n),
        None => say_digits(&plain),
    }
}

struct Rules {
    number_sign: Regex,
    plus: Regex,
    nanp: Regex,
    intl: Regex,
    local: Regex,
    money: Regex,
    clock: Regex,
    hour: Regex,
    iso: Regex,
    us_date: Regex,
    month_day: Regex,
    day_month: Regex,
    ordinal: Regex,
    /// Look-around-free supersets of `hour`, the month rules and `ordinal`.
    hour_gate: Regex,
    month_gate: Regex,
    ordinal_gate: Regex,
    percent: Regex,
    key: Regex,
    key_star_digits: Regex,
    /// A keyed-in entry ending with a key ("1234#"): digits one by one, then the key.
    key_after_digits: Regex,
    long_digits: Regex,
    number: Regex,
}

fn rules() -> Option<&'static Rules> {
    static RULES: OnceLock<Option<Rules>> = OnceLock::new();
    RULES.get_or_init(|| build().ok()).as_ref()
}

fn build() -> Result<Rules, String> {
    let months = "January|February|March|April|May|June|July|August|September|October|November|December\
                  |Jan|Feb|Mar|Apr|Jun|Jul|Aug|Sept|Sep|Oct|Nov|Dec";
    let units = HIBARI_UNITS.iter().map(|u| fancy_regex::escape(u).into_owned()).collect::<Vec<_>>().join("|");
    let end = r"(?![\w-]|\.\d)";
    Ok(Rules {
        number_sign: compile(r"\b(?:(No|Nos)\.\s?|#)(?=\d)")?,
        plus: compile(r"(?<![\w+])\+(?=\d)")?,
        nanp: compile(&format!(
            r"(?<![\w.+-])(?:\+?(1)[ .-]?)?(?:\((\d{{3}})\)|(\d{{3}}))[ .-]?(\d{{3}})[ .-](\d{{4}}){end}"
        ))?,
        intl: compile(&format!(r"(?<![\w.+-])\+(\d{{1,3}}(?:[ .-]\(?\d{{1,4}}\)?){{2,5}}){end}"))?,
        local: compile(&format!(r"(?<![\w.+-])(\d{{3}})-(\d{{4}}){end}"))?,
        money: compile(
            r"([$£€])\s?(\d{1,3}(?:,\d{3})+|\d+)(?:\.(\d+))?(?:\s?(hundred|thousand|million|billion|trillion)\b|\s?(bn|[kKmMbB])\b)?",
        )?,
        clock: compile(r"(?<![\w:.])(\d{1,2}):(\d{2})(?::(\d{2}))?(?:\s?([AaPp])\.?\s?[Mm]\b)?(?![\d:])")?,
        hour: compile(r"(?<![\w:.])(\d{1,2})\s?([AaPp])\.?\s?[Mm]\b")?,
        iso: compile(r"(?<![\w.-])(\d{4})-(\d{2})-(\d{2})(?![\w-])")?,
        us_date: compile(r"(?<![\w./])(\d{1,2})/(\d{1,2})/(\d{4}|\d{2})(?![\w/])")?,
        month_day: compile(&format!(
            r"\b({months})\.?\s(\d{{1,2}})(?:st|nd|rd|th)?\b(?![\d:%])(?:(,?\s)(\d{{4}})\b)?"
        ))?,
        day_month: compile(&format!(r"\b(?:the\s)?(\d{{1,2}})(?:st|nd|rd|th)?\s(?:of\s)?({months})\b\.?(?!\s\d)"))?,
        hour_gate: compile(r"\d\s?[AaPp]\.?\s?[Mm]")?,
        month_gate: compile(&format!(r"\b({months})\b"))?,
        ordinal_gate: compile(r"\d(st|nd|rd|th)")?,
        ordinal: compile(r"(?<![\w.,])(\d{1,3}(?:,\d{3})+|\d+)(st|nd|rd|th)\b")?,
        percent: compile(r"(?<![\w.,])(-)?(\d{1,3}(?:,\d{3})+|\d+)(?:\.(\d+))?\s?%")?,
        key: compile(r"(?<![\w#*])([#*])(?![\w#*])")?,
        key_star_digits: compile(r"(?<![\w*])\*(\d+)")?,
        key_after_digits: compile(r"(?<![\w.,])(\d+)([#*])(?![\w#*])")?,
        long_digits: compile(r"(?<![\w.,])(\d{5,})(?![\w]|[.,]\d)")?,
        number: compile(&format!(
            r"(?<![\w.,/:-])(-)?(\d{{1,3}}(?:,\d{{3}})+|\d+)(?:\.(\d+))?(?![\w/]|[.,:]\d|\s?[-–]\s?\d|\s?[°¢%µ]|\s?(?:{units})\b)"
        ))?,
    })
}

fn g<'t>(c: &Captures<'t>, i: usize) -> Option<&'t str> {
    c.get(i).map(|m| m.as_str())
}

fn month_name(m: &str) -> Option<&'static str> {
    let key = m.get(..3)?;
    MONTHS.iter().copied().find(|full| full.starts_with(key))
}

fn date(month: u128, day: u128, year: Option<u128>) -> Option<String> {
    if !(1..=12).contains(&month) || !(1..=31).contains(&day) {
        return None;
    }
    let mut s = format!("{} {}", MONTHS[month as usize - 1], say_ordinal(day));
    if let Some(y) = year {
        s.push_str(", ");
        s.push_str(&say_year(y));
    }
    Some(s)
}

/// "p.m." with its final dot unless the text already has one there.
fn meridiem(ap: &str, text: &str, end: usize) -> String {
    let letter = ap.to_ascii_lowercase();
    let dot = if text[end..].starts_with('.') { "" } else { "." };
    format!("{letter}.m{dot}")
}

fn clock(h: u128, mi: u128, sec: Option<u128>, ap: Option<&str>, text: &str, end: usize) -> Option<String> {
    if h > 24 || mi > 59 || sec.is_some_and(|s| s > 59) || (ap.is_some() && !(1..=12).contains(&h)) {
        return None;
    }
    // 24-hour clock to 12-hour: noon and midnight are "twelve".
    let (hour12, suffix) = match (ap, h) {
        (Some(a), _) => (h, Some(meridiem(a, text, end))),
        (None, 0 | 24) => (12, Some("a.m.".to_owned())),
        (None, 13..=23) => (h - 12, Some("p.m.".to_owned())),
        (None, _) => (h, None),
    };
    let mut w = say(hour12);
    match mi {
        0 if suffix.is_none() && sec.is_none() => w.push_str(" o'clock"),
        0 => {}
        1..=9 => w.push_str(&format!(" oh {}", say(mi))),
        _ => w.push_str(&format!(" {}", say(mi))),
    }
    if let Some(s) = sec {
        w.push_str(&format!(" and {} {}", say(s), if s == 1 { "second" } else { "seconds" }));
    }
    if let Some(s) = suffix {
        w.push(' ');
        w.push_str(&s);
    }
    Some(w)
}

fn money(c: &Captures) -> Option<String> {
    let (whole_unit, whole_units, part_unit, part_units) = match g(c, 1)? {
        "$" => ("dollar", "dollars", "cent", "cents"),
        "£" => ("pound", "pounds", "penny", "pence"),
        _ => ("euro", "euros", "cent", "cents"),
    };
    let whole = parse(&g(c, 2)?.replace(',', ""))?;
    let frac = g(c, 3);
    let big = match (g(c, 4), g(c, 5)) {
        (Some(w), _) => Some(w),
        (None, Some("k" | "K")) => Some("thousand"),
        (None, Some("m" | "M")) => Some("million"),
        (None, Some("b" | "B" | "bn")) => Some("billion"),
        _ => None,
    };
    if let Some(big) = big {
        let amount = match frac {
            Some(f) => format!("{} point {}", say(whole), say_digits(f)),
            None => say(whole),
        };
        return Some(format!("{amount} {big} {whole_units}"));
    }
    let cents = match frac {
        None => 0,
        Some(f) if f.len() == 1 => parse(f)? * 10,
        Some(f) if f.len() == 2 => parse(f)?,
        // "$1.999" is not money notation; read it as a decimal amount.
        Some(f) => return Some(format!("{} point {} {whole_units}", say(whole), say_digits(f))),
    };
    let unit = |n: u128, one: &str, many: &str| format!("{} {}", say(n), if n == 1 { one } else { many });
    Some(match (whole, cents) {
        (0, 0) => format!("zero {whole_units}"),
        (0, c) => unit(c, part_unit, part_units),
        (w, 0) => unit(w, whole_unit, whole_units),
        (w, c) => format!("{} and {}", unit(w, whole_unit, whole_units), unit(c, part_unit, part_units)),
    })
}

/// Rewrites numbers, money, times, dates, phone numbers and keypad keys as a phone menu says
/// them. Text without digits, currency signs or lone `#`/`*` comes back unchanged.
pub fn normalize_phone_text(text: &str) -> String {
    let Some(r) = rules() else { return text.to_owned() };
    if !text.chars().any(|c| c.is_ascii_digit() || c == '#' || c == '*') {
        return text.to_owned();
    }
    // Phone numbers and account numbers need at least five digits.
    let many_digits = text.bytes().filter(u8::is_ascii_digit).count() >= 5;
    let t = sub_if(text.contains("No") || text.contains('#'), &r.number_sign, text, |c| {
        Some(if g(c, 1) == Some("Nos") { "numbers " } else { "number " }.to_owned())
    });
    let t = sub_if(many_digits, &r.nanp, &t, |c| {
        let groups: Vec<&str> = [1, 2, 3, 4, 5].iter().filter_map(|&i| g(c, i)).collect();
        Some(groups.iter().map(|d| say_digits(d)).collect::<Vec<_>>().join(", "))
    });
    let t = sub_if(many_digits && t.contains('+'), &r.intl, &t, |c| {
        let groups: Vec<String> =
            g(c, 1)?.split(|ch: char| !ch.is_ascii_digit()).filter(|s| !s.is_empty()).map(say_digits).collect();
        Some(groups.join(", "))
    });
    let t = sub_if(many_digits && t.contains('-'), &r.local, &t, |c| {
        Some(format!("{}, {}", say_digits(g(c, 1)?), say_digits(g(c, 2)?)))
    });
    let t = sub_if(t.contains('+'), &r.plus, &t, |_| Some("plus ".to_owned()));
    let t = sub_if(t.contains(['$', '£', '€']), &r.money, &t, money);
    let t = sub_if(t.contains(':'), &r.clock, &t, |c| {
        let end = c.get(0)?.end();
        let sec = match g(c, 3) {
            Some(s) => Some(parse(s)?),
            None => None,
        };
        clock(parse(g(c, 1)?)?, parse(g(c, 2)?)?, sec, g(c, 4), &t, end)
    });
    let t = sub_if(gate(&r.hour_gate, &t), &r.hour, &t, |c| {
        let h = parse(g(c, 1)?)?;
        (1..=12)
            .contains(&h)
            .then(|| format!("{} {}", say(h), meridiem(g(c, 2).unwrap_or("a"), &t, c.get(0).map_or(0, |m| m.end()))))
    });
    let t = sub_if(t.contains('-'), &r.iso, &t, |c| date(parse(g(c, 2)?)?, parse(g(c, 3)?)?, Some(parse(g(c, 1)?)?)));
    let t = sub_if(t.contains('/'), &r.us_date, &t, |c| {
        let (a, b) = (parse(g(c, 1)?)?, parse(g(c, 2)?)?);
        let y = g(c, 3)?;
        let mut year = parse(y)?;
        if y.len() == 2 {
            year += if year > 30 { 1900 } else { 2000 };
        }
        let (m, d) = if a <= 12 { (a, b) } else { (b, a) };
        date(m, d, Some(year))
    });
    let t = sub_if(gate(&r.month_gate, &t), &r.month_day, &t, |c| {
        let month = month_name(g(c, 1)?)?;
        let day = parse(g(c, 2)?)?;
        if !(1..=31).contains(&day) {
            return None;
        }
        let year = match g(c, 4) {
            Some(y) => format!(", {}", say_year(parse(y)?)),
            None => String::new(),
        };
        Some(format!("{month} {}{year}", say_ordinal(day)))
    });
    let t = sub_if(gate(&r.month_gate, &t), &r.day_month, &t, |c| {
        let day = parse(g(c, 1)?)?;
        (1..=31)
            .contains(&day)
            .then(|| Some(format!("the {} of {}", say_ordinal(day), month_name(g(c, 2)?)?)))
            .flatten()
    });
    let t =
        sub_if(gate(&r.ordinal_gate, &t), &r.ordinal, &t, |c| Some(say_ordinal(parse(&g(c, 1)?.replace(',', ""))?)));
    let t = sub_if(t.contains('%'), &r.percent, &t, |c| {
        let sign = if g(c, 1).is_some() { "minus " } else { "" };
        let whole = say_integer(g(c, 2)?, true);
        let frac = g(c, 3).map(|f| format!(" point {}", say_digits(f))).unwrap_or_default();
        Some(format!("{sign}{whole}{frac} percent"))
    });
    let key = |k: &str| if k == "#" { "pound" } else { "star" };
    // Star codes ("*67") are read digit by digit.
    let t = sub_if(t.contains('*'), &r.key_star_digits, &t, |c| Some(format!("star {}", say_digits(g(c, 1)?))));
    let t = sub_if(t.contains(['#', '*']), &r.key_after_digits, &t, |c| {
        Some(format!("{} {}", say_digits(g(c, 1)?), key(g(c, 2)?)))
    });
    let t = sub_if(t.contains(['#', '*']), &r.key, &t, |c| Some(format!(" {} ", key(g(c, 1)?))));
    let t = sub_if(many_digits, &r.long_digits, &t, |c| Some(say_digits(g(c, 1)?)));
    let t = sub_if(t.bytes().any(|b| b.is_ascii_digit()), &r.number, &t, |c| {
        let sign = if g(c, 1).is_some() { "minus " } else { "" };
        let digits = g(c, 2)?;
        let whole = say_integer(digits, digits.contains(','));
        let frac = g(c, 3).map(|f| format!(" point {}", say_digits(f))).unwrap_or_default();
        Some(format!("{sign}{whole}{frac}"))
    });
    tidy_spaces(&t)
}

/// Collapses the double spaces the key rule can leave, without touching other whitespace
/// (sentence splitting has already happened; newlines are kept as they were).
fn tidy_spaces(t: &str) -> String {
    let mut out = String::with_capacity(t.len());
    for c in t.chars() {
        if c == ' ' && (out.is_empty() || out.ends_with(' ')) {
            continue;
        }
        if matches!(c, ',' | '.' | '?' | '!' | ';' | ':') && out.ends_with(' ') {
            out.pop();
        }
        out.push(c);
    }
    if out.ends_with(' ') {
        out.pop();
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn spoken_numbers() {
        assert_eq!(say(0), "zero");
        assert_eq!(say(115), "one hundred fifteen");
        assert_eq!(say(2_000_000_021), "two billion twenty one");
        assert_eq!(say_ordinal(40), "fortieth");
        assert_eq!(say_ordinal(1000), "one thousandth");
        assert_eq!(say_year(2009), "two thousand nine");
        assert_eq!(say_year(2010), "twenty ten");
        assert_eq!(say_year(1900), "nineteen hundred");
        assert_eq!(say_digits("0407"), "zero four zero seven");
    }

    #[test]
    fn unit_list_matches_hibari_asset() {
        let dir = std::env::var("ATTENDANT_MODELS")
            .unwrap_or_else(|_| concat!(env!("CARGO_MANIFEST_DIR"), "/../../models").into());
        let Ok(text) = std::fs::read_to_string(format!("{dir}/hibari/normalize.json")) else {
            panic!("models/hibari/normalize.json missing (fetch the models first)");
        };
        let t: crate::normalize::Tables = serde_json::from_str(&text).expect("normalize.json parses");
        let units: Vec<&str> = t.units.0.iter().map(|(k, _)| k.as_str()).collect();
        assert_eq!(units, HIBARI_UNITS);
        let titles: Vec<&str> = t.titles.0.iter().map(|(k, _)| k.as_str()).collect();
        assert_eq!(titles, crate::sentences::TITLES);
    }
}
