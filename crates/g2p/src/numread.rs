//! Digits that reach the lexicon (misaki's `get_number`): ordinals ("3rd"), years, digit
//! groups inside a token ("1-800": not a head), decimals, currency amounts after a `$` token,
//! plain cardinals. Each number word is then looked up in the dictionary like any word.

use crate::lexicon::{currency_units, Lexicon, Reading};
use crate::numbers::{self, parse};
use crate::text::is_ascii_digits;

const ORDINALS: [&str; 4] = ["st", "nd", "rd", "th"];

/// Whether a token is a number the lexicon can read: digits, separators, an optional leading
/// minus (head tokens only) and one known suffix.
pub fn is_number(word: &str, is_head: bool) -> bool {
    if !word.bytes().any(|b| b.is_ascii_digit()) {
        return false;
    }
    let mut w = word;
    for s in ["ing", "'d", "ed", "'s", "st", "nd", "rd", "th", "s"] {
        if let Some(stripped) = w.strip_suffix(s) {
            w = stripped;
            break;
        }
    }
    w.chars().enumerate().all(|(i, c)| c.is_ascii_digit() || c == ',' || c == '.' || (is_head && i == 0 && c == '-'))
}

/// `is_currency`: at most one '.' and at most two decimals.
fn is_currency_amount(word: &str) -> bool {
    match word.split_once('.') {
        None => true,
        Some((_, cents)) => !cents.contains('.') && cents.chars().count() < 3,
    }
}

impl Lexicon {
    /// Looks up each word of a spelled-out number (split on non-letters, "and" dropped).
    fn push_words(&self, words: &str, out: &mut Vec<Reading>) {
        // Runs of separators count as one (`re.split(r"[^a-z]+")`), hence the empty filter.
        for w in words.split(|c: char| !c.is_ascii_lowercase()).filter(|w| !w.is_empty()) {
            if w == "and" {
                continue;
            }
            let stress = if w == "point" { Some(-2.0) } else { None };
            if let Some(r) = self.lookup(w, None, stress, None) {
                out.push(r);
            }
        }
    }

    /// A run of digits as a cardinal, or digit by digit when too long to name.
    fn push_cardinal(&self, digits: &str, out: &mut Vec<Reading>) {
        match parse(digits) {
            Some(n) => self.push_words(&numbers::cardinal(n), out),
            None => self.push_words(&numbers::digits(digits), out),
        }
    }

    pub fn get_number(&self, word: &str, currency: Option<&str>, is_head: bool) -> Option<Reading> {
        let suffix_start =
            word.char_indices().rev().take_while(|&(_, c)| c.is_ascii_lowercase() || c == '\'').last().map(|(i, _)| i);
        let (mut word, suffix) = match suffix_start {
            Some(i) => (&word[..i], Some(&word[i..])),
            None => (word, None),
        };
        let is_ordinal = suffix.is_some_and(|s| ORDINALS.contains(&s));
        let mut result: Vec<Reading> = Vec::new();
        if let Some(rest) = word.strip_prefix('-') {
            if let Some(r) = self.lookup("minus", None, None, None) {
                result.push(r);
            }
            word = rest;
        }
        let minus = !result.is_empty();
        let is_money = currency.and_then(currency_units);
        if is_ascii_digits(word) && is_ordinal {
            match parse(word) {
                Some(n) => self.push_words(&numbers::ordinal(n), &mut result),
                None => self.push_words(&numbers::digits(word), &mut result),
            }
        } else if !minus && word.len() == 4 && is_money.is_none() && is_ascii_digits(word) {
            self.push_words(&numbers::year(parse(word).unwrap_or(0)), &mut result);
        } else if !is_head && !word.contains('.') {
            let num = word.replace(',', "");
            if num.starts_with('0') || num.len() > 3 {
                self.push_words(&numbers::digits(&num), &mut result);
            } else if num.len() == 3 && !num.ends_with("00") {
                self.push_cardinal(&num[..1], &mut result);
                if num.as_bytes()[1] == b'0' {
                    // "four oh seven"
                    if let Some(r) = self.lookup("O", None, Some(-2.0), None) {
                        result.push(r);
                    }
                    self.push_cardinal(&num[2..], &mut result);
                } else {
                    self.push_cardinal(&num[1..], &mut result);
                }
            } else if !num.is_empty() {
                self.push_cardinal(&num, &mut result);
            }
        } else if word.matches('.').count() > 1 || !is_head {
            for num in word.replace(',', "").split('.') {
                if num.is_empty() {
                    continue;
                }
                let all_zero_tail = num.bytes().skip(1).all(|b| b == b'0');
                if num.starts_with('0') || (num.len() != 2 && !all_zero_tail) {
                    self.push_words(&numbers::digits(num), &mut result);
                } else {
                    self.push_cardinal(num, &mut result);
                }
            }
        } else if let (Some((whole, part)), true) = (is_money, is_currency_amount(word)) {
            let plain = word.replace(',', "");
            let mut pairs: Vec<(u128, &str)> = plain
                .split('.')
                .zip([whole, part])
                .map(|(n, unit)| (if n.is_empty() { 0 } else { parse(n).unwrap_or(0) }, unit))
                .collect();
            if pairs.len() > 1 {
                if pairs[1].0 == 0 {
                    pairs.truncate(1);
                } else if pairs[0].0 == 0 {
                    pairs.remove(0);
                }
            }
            for (i, (n, unit)) in pairs.into_iter().enumerate() {
                if i > 0 {
                    result.extend(self.lookup("and", None, None, None));
                }
                self.push_words(&numbers::cardinal(n), &mut result);
                let unit_reading = if n != 1 && unit != "pence" {
                    self.stem_s(&format!("{unit}s"), None, None, None)
                } else {
                    self.lookup(unit, None, None, None)
                };
                result.extend(unit_reading);
            }
        } else {
            let words = if is_ascii_digits(word) {
                match parse(word) {
                    Some(n) => numbers::cardinal(n),
                    None => numbers::digits(word),
                }
            } else if !word.contains('.') {
                let plain = word.replace(',', "");
                match parse(&plain) {
                    Some(n) if is_ordinal => numbers::ordinal(n),
                    Some(n) => numbers::cardinal(n),
                    None => numbers::digits(&plain),
                }
            } else {
                let plain = word.replace(',', "");
                match plain.strip_prefix('.') {
                    Some(frac) => format!("point {}", numbers::digits(frac)),
                    None => numbers::decimal(&plain),
                }
            };
            self.push_words(&words, &mut result);
        }
        if result.is_empty() {
            return None;
        }
        let rating = result.iter().map(|(_, r)| *r).min().unwrap_or(3);
        let ps = result.iter().map(|(p, _)| p.as_str()).collect::<Vec<_>>().join(" ");
        let ps = match suffix {
            Some("s" | "'s") => self.suffixed_s(&ps),
            Some("ed" | "'d") => self.suffixed_ed(&ps),
            Some("ing") => self.suffixed_ing(&ps),
            _ => Some(ps),
        }?;
        Some((ps, rating))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn number_shapes() {
        assert!(is_number("1,234.5", true));
        assert!(is_number("-3", true) && !is_number("-3", false));
        assert!(is_number("3rd", true) && is_number("90s", true));
        assert!(!is_number("abc", true) && !is_number("3x", true));
        assert!(is_currency_amount("12.99") && !is_currency_amount("1.999") && !is_currency_amount("1.2.3"));
    }
}
