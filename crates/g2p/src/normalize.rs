//! hibari's text normalization (times, dates, units, currencies other than $/£/€, titles,
//! abbreviations, Roman numerals, symbols), with its word tables from `normalize.json`. Plain
//! numbers are left for the lexicon's number reader, as in hibari.

use std::fmt;

use fancy_regex::{Captures, Regex};
use serde::de::{Deserializer, MapAccess, Visitor};
use serde::Deserialize;

use crate::numbers::{cardinal, ordinal, parse};
use crate::text::is_space;
use crate::tokenize::compile;

/// A JSON object read in file order (the symbol table is applied in that order).
#[derive(Debug)]
pub struct Ordered<V>(pub Vec<(String, V)>);

impl<'de, V: Deserialize<'de>> Deserialize<'de> for Ordered<V> {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        struct Vis<V>(std::marker::PhantomData<V>);
        impl<'de, V: Deserialize<'de>> Visitor<'de> for Vis<V> {
            type Value = Ordered<V>;
            fn expecting(&self, f: &mut fmt::Formatter) -> fmt::Result {
                f.write_str("an object")
            }
            fn visit_map<A: MapAccess<'de>>(self, mut m: A) -> Result<Self::Value, A::Error> {
                let mut v = Vec::new();
                while let Some(e) = m.next_entry()? {
                    v.push(e);
                }
                Ok(Ordered(v))
            }
        }
        d.deserialize_map(Vis(std::marker::PhantomData))
    }
}

impl<V> Ordered<V> {
    pub fn get(&self, k: &str) -> Option<&V> {
        self.0.iter().find(|(key, _)| key == k).map(|(_, v)| v)
    }
    fn keys(&self) -> impl Iterator<Item = &str> {
        self.0.iter().map(|(k, _)| k.as_str())
    }
}

/// `normalize.json`.
#[derive(Debug, Deserialize)]
pub struct Tables {
    pub months: Ordered<String>,
    pub titles: Ordered<String>,
    pub abbreviations: Ordered<String>,
    pub units: Ordered<[String; 2]>,
    pub symbols: Ordered<String>,
    pub currency: Ordered<[String; 2]>,
    pub roman_cardinal: Vec<String>,
    pub roman_ordinal: Vec<String>,
}

/// Alternation of literal words, longest first (stable for equal lengths).
fn alt<'a>(words: impl Iterator<Item = &'a str>) -> String {
    let mut w: Vec<&str> = words.collect();
    w.sort_by_key(|s| std::cmp::Reverse(s.chars().count()));
    w.iter().map(|s| fancy_regex::escape(s)).collect::<Vec<_>>().join("|")
}

const NUM: &str = r"\d+(?:,\d{3})*(?:\.\d+)?";
const ROMAN: &str = r"((?=[IVXLC])M{0,3}(?:CM|CD|D?C{0,3})(?:XC|XL|L?X{0,3})(?:IX|IV|V?I{0,3}))";
const BIG: &str = r"(hundred|thousand|million|billion|trillion|[kKmMbB]\b)";

#[derive(Debug)]
pub struct Normalizer {
    t: Tables,
    time: Regex,
    date_us: Regex,
    date_iso: Regex,
    month_day: Regex,
    day_month: Regex,
    unit: Regex,
    deg: Regex,
    cents: Regex,
    currency: Regex,
    big_money: Regex,
    title: Regex,
    abbrev: Regex,
    /// Look-around-free supersets of `title`, `abbrev`, `roman_c`, `roman_o`.
    title_gate: Regex,
    abbrev_gate: Regex,
    roman_c_gate: Regex,
    roman_o_gate: Regex,
    no: Regex,
    hash: Regex,
    roman_c: Regex,
    roman_o: Regex,
    phone: Regex,
    range: Regex,
    fraction: Regex,
    plus: Regex,
    symbols: Vec<(Regex, String)>,
}

/// `re.sub` with a function; `None` from `f` keeps the match. A matcher error (backtracking
/// limit on hostile input) stops substituting and keeps the rest of the text.
pub fn sub(re: &Regex, text: &str, mut f: impl FnMut(&Captures) -> Option<String>) -> String {
    let mut out = String::with_capacity(text.len() + 16);
    let mut last = 0;
    for caps in re.captures_iter(text) {
        let Ok(caps) = caps else { break };
        let Some(m) = caps.get(0) else { continue };
        out.push_str(&text[last..m.start()]);
        match f(&caps) {
            Some(r) => out.push_str(&r),
            None => out.push_str(m.as_str()),
        }
        last = m.end();
    }
    out.push_str(&text[last..]);
    out
}

/// [`sub`] when `cond` says the pattern can match at all; look-around patterns run a regex
/// VM at every position, so rules that cannot apply are skipped on a cheap test first.
pub fn sub_if(cond: bool, re: &Regex, text: &str, f: impl FnMut(&Captures) -> Option<String>) -> String {
    if cond {
        sub(re, text, f)
    } else {
        text.to_owned()
    }
}

/// Whether a plain (look-around free, hence fast) superset pattern matches.
pub fn gate(re: &Regex, text: &str) -> bool {
    re.is_match(text).unwrap_or(true)
}

/// Any character `\d` could match (`is_numeric` is a superset).
fn has_digit(text: &str) -> bool {
    text.chars().any(char::is_numeric)
}

fn group<'t>(c: &Captures<'t>, i: usize) -> Option<&'t str> {
    c.get(i).map(|m| m.as_str())
}

fn num(s: &str) -> Option<u128> {
    parse(s)
}

/// Collapses whitespace runs to one space and trims (`re.sub(r"\s+", " ", t).strip()`).
pub fn squash_spaces(text: &str) -> String {
    let mut out = String::with_capacity(text.len());
    let mut pending = false;
    for c in text.chars() {
        if is_space(c) {
            pending = !out.is_empty();
        } else {
            if pending {
                out.push(' ');
                pending = false;
            }
            out.push(c);
        }
    }
    out
}

/// hibari's singular test: "1", "1.0" and "-1" take the singular.
fn is_one(n: &str) -> bool {
    matches!(n.replace(',', "").as_str(), "1" | "1.0" | "-1")
}

fn plural<'a>(n: &str, words: &'a [String; 2]) -> &'a str {
    if is_one(n) {
        &words[0]
    } else {
        &words[1]
    }
}

fn roman_value(s: &str) -> u128 {
    let v = |c: char| match c {
        'I' => 1,
        'V' => 5,
        'X' => 10,
        'L' => 50,
        'C' => 100,
        'D' => 500,
        'M' => 1000,
        _ => 0,
    };
    let cs: Vec<u128> = s.chars().map(v).collect();
    let mut total: i128 = 0;
    for (i, &x) in cs.iter().enumerate() {
        if cs.get(i + 1).is_some_and(|&n| n > x) {
            total -= x as i128;
        } else {
            total += x as i128;
        }
    }
    total.max(0) as u128
}

fn big_word(b: &str) -> &str {
    match b {
        "k" | "K" => "thousand",
        "m" | "M" => "million",
        "b" | "B" => "billion",
        _ => b,
    }
}

impl Normalizer {
    pub fn new(t: Tables) -> Result<Self, String> {
        let capitalized: Vec<String> = t.months.keys().map(crate::text::capitalize).collect();
        let months = alt(t
            .months
            .0
            .iter()
            .map(|(_, v)| v.as_str())
            .chain(capitalized.iter().map(String::as_str))
            .chain(std::iter::once("Sept")));
        let re = compile;
        let mut symbols = Vec::new();
        for (sym, word) in &t.symbols.0 {
            let e = fancy_regex::escape(sym);
            let pat = if "=<>~".contains(sym.as_str()) && sym.chars().count() == 1 {
                format!(r"(?<=\S) ?{e} ?(?=\S)")
            } else {
                e.into_owned()
            };
            symbols.push((re(&pat)?, if word.is_empty() { " ".to_owned() } else { format!(" {word} ") }));
        }
        Ok(Normalizer {
            time: re(r"\b(\d{1,2}):(\d{2})(?::(\d{2}))?(?:\s?([AaPp])\.?[Mm]\.?(?![A-Za-z]))?(?!\d)")?,
            date_us: re(r"\b(\d{1,2})/(\d{1,2})/(\d{4}|\d{2})\b")?,
            date_iso: re(r"\b(\d{4})-(\d{2})-(\d{2})\b")?,
            month_day: re(&format!(r"\b({months})\.? (\d{{1,2}})(?:st|nd|rd|th)?\b(?![\d:%])(,? \d{{4}}\b)?"))?,
            day_month: re(&format!(r"\b(the )?(\d{{1,2}}) (?:of )?({months})\b\.?"))?,
            unit: re(&format!(r"(?<![\w.])(-?{NUM})\s?({})(?![\w])", alt(t.units.keys())))?,
            deg: re(&format!(r"(?<![\w.])(-?{NUM})\s?°\s?([CF])?(?![\w])"))?,
            cents: re(&format!(r"(?<![\w.])({NUM})\s?¢"))?,
            currency: re(&format!(r"(?<![\w])([¥₹₩]|Rs\.?|USD|EUR|GBP)\s?({NUM})(?:\s?{BIG})?"))?,
            big_money: re(&format!(r"([$£€])({NUM})\s?{BIG}"))?,
            title: re(&format!(r"\b({})\.? (?=[A-Z])", alt(t.titles.keys())))?,
            title_gate: re(&format!(r"\b({})\.? [A-Z]", alt(t.titles.keys())))?,
            abbrev_gate: re(&format!(r"({})", alt(t.abbreviations.keys())))?,
            roman_c_gate: re(&format!(r"\b({}) [IVXLC]", alt(t.roman_cardinal.iter().map(String::as_str))))?,
            roman_o_gate: re(&format!(r"\b({}) [IVXLC]", alt(t.roman_ordinal.iter().map(String::as_str))))?,
            abbrev: re(&format!(r"(?<![\w.])({})(?![\w])", alt(t.abbreviations.keys())))?,
            no: re(r"\b(No|Nos)\. ?(?=\d)")?,
            hash: re(r"(?<![\w&])#(?=\d)")?,
            roman_c: re(&format!(r"\b({}) {ROMAN}\b(?![.'’]\w)", alt(t.roman_cardinal.iter().map(String::as_str))))?,
            roman_o: re(&format!(r"\b({}) {ROMAN}\b(?![.'’]\w)", alt(t.roman_ordinal.iter().map(String::as_str))))?,
            phone: re(r"(?<![\w.\-])(?:\d{3}-)?\d{3}-\d{4}(?![\w.\-])")?,
            range: re(r"(?<![\w.\-])(\d{1,4})\s?[-–]\s?(\d{1,4})(?![\w.\-%])")?,
            fraction: re(r"(?<![\w./])(\d{1,2})/(\d{1,2})(?![\w./])")?,
            plus: re(r"(?<![\w+])\+(?=\d)")?,
            symbols,
            t,
        })
    }

    fn month_name(&self, i: usize) -> &str {
        self.t.months.0.get(i).map(|(_, v)| v.as_str()).unwrap_or_default()
    }

    fn month_of(&self, text: &str) -> Option<&str> {
        let key: String = text.to_lowercase().chars().take(3).collect();
        self.t.months.get(&key).map(String::as_str)
    }

    fn date(&self, year: Option<&str>, mo: u128, d: u128) -> Option<String> {
        if !(1..=12).contains(&mo) || !(1..=31).contains(&d) {
            return None;
        }
        let mut s = format!("{} {}", self.month_name(mo as usize - 1), ordinal(d));
        if let Some(y) = year.filter(|y| !y.is_empty()) {
            s.push_str(", ");
            s.push_str(y);
        }
        Some(s)
    }

    fn time(&self, c: &Captures, text: &str) -> Option<String> {
        let h = num(group(c, 1)?)?;
        let mi = num(group(c, 2)?)?;
        let sec = group(c, 3);
        let secs = match sec {
            Some(s) => Some(num(s)?),
            None => None,
        };
        let ap = group(c, 4);
        if h > 24 || mi > 59 || secs.is_some_and(|s| s > 59) {
            return None;
        }
        let mut w = cardinal(h);
        if mi == 0 {
            if ap.is_none() && sec.is_none() {
                w.push_str(" o'clock");
            }
        } else if mi < 10 {
            w.push_str(" oh ");
            w.push_str(&cardinal(mi));
        } else {
            w.push(' ');
            w.push_str(&cardinal(mi));
        }
        if let Some(s) = secs {
            w.push_str(&format!(" and {}{}", cardinal(s), if s == 1 { " second" } else { " seconds" }));
        }
        if let Some(ap) = ap {
            // Dotted so the lexicon spells the letters.
            let end = c.get(0).map_or(0, |m| m.end());
            let dot = if text[end..].starts_with('.') { "" } else { "." };
            w.push_str(&format!(" {}.M{dot}", ap.to_uppercase()));
        }
        Some(w)
    }

    fn fraction(&self, a: u128, b: u128) -> String {
        const NAMES: [&str; 11] =
            ["", "", "half", "third", "quarter", "fifth", "sixth", "seventh", "eighth", "ninth", "tenth"];
        if 0 < a && a < b && b <= 10 {
            let unit = NAMES[b as usize];
            if unit == "half" {
                return if a == 1 { "one half".to_owned() } else { format!("{a} halves") };
            }
            return format!("{a} {unit}{}", if a == 1 { "" } else { "s" });
        }
        self.date(None, a, b).unwrap_or_else(|| format!("{a} slash {b}"))
    }

    /// hibari's `normalize(text)`.
    pub fn normalize(&self, text: &str) -> String {
        let text = squash_spaces(text);
        if text.is_empty() {
            return text;
        }
        let text = text.replace('\u{a0}', " ").replace('’', "'").replace('‒', "-").replace('―', "—");
        let t = &self.t;
        let digits = has_digit(&text);
        let text = sub_if(digits, &self.time, &text, |c| self.time(c, &text));
        let text =
            sub_if(digits, &self.date_iso, &text, |c| self.date(group(c, 1), num(group(c, 2)?)?, num(group(c, 3)?)?));
        let text = sub_if(digits, &self.date_us, &text, |c| {
            let (a, b) = (num(group(c, 1)?)?, num(group(c, 2)?)?);
            let y = group(c, 3)?;
            let y = if y.len() == 2 { format!("{}{y}", if num(y)? > 30 { "19" } else { "20" }) } else { y.to_owned() };
            let (mo, d) = if a <= 12 { (a, b) } else { (b, a) };
            self.date(Some(&y), mo, d)
        });
        let text = sub_if(digits, &self.big_money, &text, |c| {
            let words = t.currency.get(group(c, 1)?)?;
            Some(format!("{} {} {}", group(c, 2)?, big_word(group(c, 3)?), words[1]))
        });
        let text = sub_if(digits, &self.cents, &text, |c| {
            let n = group(c, 1)?;
            Some(format!("{n} {}", plural(n, t.currency.get("¢")?)))
        });
        let text = sub_if(digits, &self.currency, &text, |c| {
            let words = t.currency.get(group(c, 1)?.trim_end_matches('.'))?;
            let n = group(c, 2)?;
            Some(match group(c, 3) {
                Some(b) => format!("{n} {} {}", big_word(b), words[1]),
                None => format!("{n} {}", plural(n, words)),
            })
        });
        let text = sub_if(digits, &self.deg, &text, |c| {
            let n = group(c, 1)?;
            let scale = match group(c, 2) {
                Some("C") => " Celsius",
                Some("F") => " Fahrenheit",
                _ => "",
            };
            Some(format!("{n} {}{scale}", if is_one(n) { "degree" } else { "degrees" }))
        });
        let text = sub_if(digits, &self.unit, &text, |c| {
            let n = group(c, 1)?;
            Some(format!("{n} {}", plural(n, t.units.get(group(c, 2)?)?)))
        });
        let text = sub_if(digits, &self.month_day, &text, |c| {
            let day = num(group(c, 2)?)?;
            if !(1..=31).contains(&day) {
                return None;
            }
            Some(format!("{} {}{}", self.month_of(group(c, 1)?)?, ordinal(day), group(c, 3).unwrap_or("")))
        });
        let text = sub_if(digits, &self.day_month, &text, |c| {
            let day = num(group(c, 2)?)?;
            if !(1..=31).contains(&day) {
                return None;
            }
            Some(format!("the {} of {}", ordinal(day), self.month_of(group(c, 3)?)?))
        });
        let text = sub_if(gate(&self.title_gate, &text), &self.title, &text, |c| {
            Some(format!("{} ", t.titles.get(group(c, 1)?)?))
        });
        let len = text.len();
        let text = sub_if(gate(&self.abbrev_gate, &text), &self.abbrev, &text, |c| {
            let key = group(c, 1)?;
            let at_end = c.get(0).is_some_and(|m| m.end() == len);
            let dot = if at_end && key.ends_with('.') { "." } else { "" };
            Some(format!("{}{dot}", t.abbreviations.get(key)?))
        });
        let text = sub_if(digits, &self.no, &text, |c| {
            Some(if group(c, 1)? == "No" { "Number " } else { "Numbers " }.to_owned())
        });
        let text = sub_if(digits, &self.hash, &text, |_| Some("number ".to_owned()));
        // hibari lets the Roman numeral match zero letters ("Chapter Important" becomes
        // "Chapter 0Important"); an empty numeral is left alone here.
        let text = sub_if(gate(&self.roman_c_gate, &text), &self.roman_c, &text, |c| {
            let r = group(c, 2).filter(|r| !r.is_empty())?;
            Some(format!("{} {}", group(c, 1)?, roman_value(r)))
        });
        let text = sub_if(gate(&self.roman_o_gate, &text), &self.roman_o, &text, |c| {
            let r = group(c, 2).filter(|r| !r.is_empty())?;
            Some(format!("{} the {}", group(c, 1)?, ordinal(roman_value(r))))
        });
        // The Roman-numeral rules may have written digits.
        let digits = has_digit(&text);
        let text = sub_if(digits, &self.phone, &text, |c| {
            let s = group(c, 0)?.replace('-', ", ");
            Some(s.chars().map(String::from).collect::<Vec<_>>().join(" "))
        });
        let text =
            sub_if(digits, &self.fraction, &text, |c| Some(self.fraction(num(group(c, 1)?)?, num(group(c, 2)?)?)));
        let text = sub_if(digits, &self.range, &text, |c| Some(format!("{} to {}", group(c, 1)?, group(c, 2)?)));
        let mut text = sub_if(digits, &self.plus, &text, |_| Some("plus ".to_owned()));
        for ((sym, _), (re, word)) in t.symbols.0.iter().zip(&self.symbols) {
            if text.contains(sym.as_str()) {
                text = sub(re, &text, |_| Some(word.clone()));
            }
        }
        space_before_punct(&squash_spaces(&text))
    }
}

/// `re.sub(r" +([,.;:!?])", r"\1", text).strip()`.
fn space_before_punct(text: &str) -> String {
    let mut out = String::with_capacity(text.len());
    let mut spaces = 0;
    for c in text.chars() {
        if c == ' ' {
            spaces += 1;
            continue;
        }
        if !matches!(c, ',' | '.' | ';' | ':' | '!' | '?') {
            out.extend(std::iter::repeat_n(' ', spaces));
        }
        spaces = 0;
        out.push(c);
    }
    out.extend(std::iter::repeat_n(' ', spaces));
    out.trim_matches(is_space).to_owned()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn roman_numerals() {
        assert_eq!(roman_value("VIII"), 8);
        assert_eq!(roman_value("XIV"), 14);
        assert_eq!(roman_value("MCMXC"), 1990);
    }

    #[test]
    fn spacing() {
        assert_eq!(squash_spaces("  a \t b\n"), "a b");
        assert_eq!(space_before_punct("a , b ."), "a, b.");
    }
}
