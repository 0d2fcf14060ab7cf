//! Slot values from ASR text: digit strings and yes/no answers.

use crate::lexical::words;

/// The digits a caller spoke, from ASR text, or `None` if there are none.
///
/// Understands numerals in any formatting whisper produces ("4 5 6 7", "4,567", "45 67",
/// "1234-5678", "(555) 123-4567"), digit words ("four five six seven", "zero", "nought"),
/// "oh"/"o" as 0 next to other digits ("four oh six"), "double five" → "55",
/// "triple seven" → "777", teens and tens ("nineteen" → "19", "twenty three" → "23",
/// "nineteen eighty four" → "1984"), "hundred" and "thousand" ("five hundred" → "500",
/// "two thousand and five" → "2005"), and "to"/"for"/"ate"/"won" between two digits (ASR
/// homophones: "five for six" → "546"). Everything else ("um", "my account number is") is
/// skipped. A sequence of single digit words is read digit by digit ("four five" → "45").
pub fn spoken_digits(text: &str) -> Option<String> {
    let toks = classify_tokens(text);
    let toks = resolve_context(toks);
    let mut out = String::new();
    let mut composer = Composer::default();
    let mut repeat: usize = 1;
    for (k, tok) in toks.iter().enumerate() {
        match tok.kind {
            Kind::Repeat(n) => {
                composer.flush(&mut out);
                repeat = n;
                continue;
            }
            Kind::Num(ref digits) => {
                composer.flush(&mut out);
                // "double 5" repeats the digit. The recognizer writes "triple seven two four
                // one" as "Triple 7241": the multiplier belongs to the first digit only.
                let (first, rest) = digits.split_at(1);
                (0..repeat).for_each(|_| out.push_str(first));
                out.push_str(rest);
            }
            Kind::Zero => {
                composer.flush(&mut out);
                (0..repeat).for_each(|_| out.push('0'));
            }
            Kind::Unit(u) if repeat > 1 => {
                composer.flush(&mut out);
                (0..repeat).for_each(|_| out.push(char::from(b'0' + u)));
            }
            Kind::Unit(u) => composer.unit(u64::from(u), &mut out),
            Kind::Teen(t) => composer.teen(u64::from(t), &mut out),
            Kind::Tens(t) => composer.tens(u64::from(t), &mut out),
            Kind::Hundred => composer.hundred(&mut out),
            Kind::Thousand => composer.thousand(&mut out),
            Kind::And => {
                // "five hundred and six": "and" joins only inside a number.
                let next_is_number = toks.get(k + 1).is_some_and(|t| t.kind.is_number_word());
                if !(composer.after_multiplier() && next_is_number) {
                    composer.flush(&mut out);
                }
            }
            Kind::Oh | Kind::Homophone(_) | Kind::Other => composer.flush(&mut out),
        }
        repeat = 1;
    }
    composer.flush(&mut out);
    (!out.is_empty()).then_some(out)
}

/// A yes/no answer from ASR text, or `None` when it is neither or unsure.
///
/// Yes: yes, yeah, yep, sure, correct, right, that's right, absolutely, please do, go ahead,
/// no problem, ... No: no, nope, wrong, incorrect, not, that's not right, ... A yes-word after
/// "not"/"never" counts as no ("not right", "I don't think so"), a no-word after them as yes
/// ("not wrong"). Explicit doubt ("I'm not sure", "maybe", "I don't know") gives `None`. When
/// an answer holds both, the last one wins, as callers correct themselves ("no wait, yes").
pub fn yes_no(text: &str) -> Option<bool> {
    let w = words(text);
    let at = |i: usize, phrase: &[&str]| -> bool {
        phrase.len() <= w.len() - i.min(w.len()) && phrase.iter().zip(&w[i..]).all(|(p, x)| p == x)
    };
    let find = |i: usize, list: &[&'static [&'static str]]| -> Option<usize> {
        list.iter().filter(|p| at(i, p)).map(|p| p.len()).max()
    };
    if (0..w.len()).any(|i| find(i, UNSURE).is_some()) {
        return None;
    }
    let mut last: Option<bool> = None;
    let mut i = 0;
    while i < w.len() {
        if let Some(n) = find(i, YES) {
            last = Some(true);
            i += n;
        } else if let Some(n) = find(i, NO) {
            last = Some(false);
            i += n;
        } else if NEGATORS.contains(&w[i].as_str()) {
            // Look up to two words ahead for what is negated ("not quite right").
            let hit = (i + 1..(i + 3).min(w.len())).find_map(|j| {
                find(j, YES)
                    .map(|n| (j + n, false))
                    .or(find(j, NO).map(|n| (j + n, true)))
            });
            match hit {
                Some((end, polarity)) => {
                    last = Some(polarity);
                    i = end;
                }
                None => {
                    last = Some(false);
                    i += 1;
                }
            }
        } else {
            i += 1;
        }
    }
    last
}

const NEGATORS: &[&str] = &["not", "never"];

/// Phrases after `lexical::words` (lower case, "that's" → "that", "don't" → "do not").
const UNSURE: &[&[&str]] = &[
    &["not", "sure"],
    &["do", "not", "know"],
    &["no", "idea"],
    &["maybe"],
    &["perhaps"],
    &["not", "certain"],
    &["unsure"],
    &["dunno"],
];
const YES: &[&[&str]] = &[
    &["yes"],
    &["yeah"],
    &["yep"],
    &["yup"],
    &["yea"],
    &["ya"],
    &["yah"],
    &["correct"],
    &["right"],
    &["sure"],
    &["absolutely"],
    &["definitely"],
    &["certainly"],
    &["affirmative"],
    &["ok"],
    &["okay"],
    &["alright"],
    &["all", "right"],
    &["exactly"],
    &["indeed"],
    &["true"],
    &["fine"],
    &["confirm"],
    &["confirmed"],
    &["please", "do"],
    &["go", "ahead"],
    &["of", "course"],
    &["no", "problem"],
    &["not", "a", "problem"],
    &["no", "worries"],
    &["why", "not"],
    &["that", "it"],
    &["sounds", "good"],
    &["think", "so"],
    &["uh", "huh"],
    &["mm", "hmm"],
    &["mhm"],
    &["yes", "please"],
    &["perfect"],
];
const NO: &[&[&str]] = &[
    &["no"],
    &["nope"],
    &["nah"],
    &["negative"],
    &["wrong"],
    &["incorrect"],
    &["false"],
    &["no", "way"],
    &["uh", "uh"],
];

#[derive(Debug, Clone, PartialEq)]
enum Kind {
    Num(String),
    Zero,
    Oh,
    Unit(u8),
    Teen(u8),
    Tens(u8),
    Hundred,
    Thousand,
    And,
    Repeat(usize),
    Homophone(u8),
    Other,
}

impl Kind {
    fn is_digitish(&self) -> bool {
        matches!(
            self,
            Kind::Num(_) | Kind::Zero | Kind::Unit(_) | Kind::Teen(_) | Kind::Tens(_)
        )
    }
    fn is_number_word(&self) -> bool {
        matches!(self, Kind::Unit(_) | Kind::Teen(_) | Kind::Tens(_))
    }
}

#[derive(Debug)]
struct Tok {
    kind: Kind,
    /// Punctuation (a pause) between this token and the previous one.
    pause_before: bool,
}

fn classify_tokens(text: &str) -> Vec<Tok> {
    let mut out = Vec::new();
    let mut pause = false;
    let mut cur = String::new();
    let flush = |cur: &mut String, out: &mut Vec<Tok>, pause: &mut bool| {
        if !cur.is_empty() {
            out.push(Tok {
                kind: kind_of(cur),
                pause_before: *pause,
            });
            cur.clear();
            *pause = false;
        }
    };
    for c in text.chars() {
        if c.is_alphanumeric() || c == '\'' || c == '\u{2019}' {
            cur.extend(c.to_lowercase());
        } else {
            flush(&mut cur, &mut out, &mut pause);
            if matches!(c, ',' | '.' | ';' | ':' | '!' | '?' | '\u{2026}') {
                pause = true;
            }
        }
    }
    flush(&mut cur, &mut out, &mut pause);
    out
}

fn kind_of(w: &str) -> Kind {
    let w = w.trim_matches(|c| c == '\'' || c == '\u{2019}');
    if w.chars().any(|c| c.is_ascii_digit()) {
        return Kind::Num(w.chars().filter(char::is_ascii_digit).collect());
    }
    const UNITS: [&str; 10] = [
        "zero", "one", "two", "three", "four", "five", "six", "seven", "eight", "nine",
    ];
    const TEENS: [&str; 10] = [
        "ten",
        "eleven",
        "twelve",
        "thirteen",
        "fourteen",
        "fifteen",
        "sixteen",
        "seventeen",
        "eighteen",
        "nineteen",
    ];
    const TENS: [&str; 8] = [
        "twenty", "thirty", "forty", "fifty", "sixty", "seventy", "eighty", "ninety",
    ];
    if let Some(u) = UNITS.iter().position(|x| *x == w) {
        return if u == 0 {
            Kind::Zero
        } else {
            Kind::Unit(u as u8)
        };
    }
    if let Some(t) = TEENS.iter().position(|x| *x == w) {
        return Kind::Teen(10 + t as u8);
    }
    if let Some(t) = TENS.iter().position(|x| *x == w) {
        return Kind::Tens(20 + 10 * t as u8);
    }
    match w {
        "nought" | "naught" | "zilch" => Kind::Zero,
        "oh" | "o" => Kind::Oh,
        "fourty" => Kind::Tens(40),
        "hundred" => Kind::Hundred,
        "thousand" => Kind::Thousand,
        "and" => Kind::And,
        "double" => Kind::Repeat(2),
        "triple" | "treble" => Kind::Repeat(3),
        "to" | "too" => Kind::Homophone(2),
        "for" | "fore" => Kind::Homophone(4),
        "ate" => Kind::Homophone(8),
        "won" => Kind::Homophone(1),
        _ => Kind::Other,
    }
}

/// Decides the context-dependent words: "oh" is a zero next to other digits (not a filler
/// "oh, ..."), and a homophone is a digit only between two digits.
fn resolve_context(mut toks: Vec<Tok>) -> Vec<Tok> {
    let digitish = |t: Option<&Tok>| t.is_some_and(|t| t.kind.is_digitish() || t.kind == Kind::Oh);
    let n = toks.len();
    // Two passes so "oh oh seven" resolves from the right-hand digit.
    for _ in 0..2 {
        for k in 0..n {
            if toks[k].kind != Kind::Oh {
                continue;
            }
            let prev = k
                .checked_sub(1)
                .and_then(|p| toks.get(p))
                .filter(|t| t.kind.is_digitish());
            let next = toks
                .get(k + 1)
                .filter(|t| t.kind.is_digitish() && !t.pause_before);
            if prev.is_some() || next.is_some() {
                toks[k].kind = Kind::Zero;
            }
        }
    }
    for k in 0..n {
        if let Kind::Homophone(d) = toks[k].kind {
            let prev = k.checked_sub(1).and_then(|p| toks.get(p));
            if digitish(prev) && digitish(toks.get(k + 1)) {
                toks[k].kind = Kind::Unit(d);
            }
        }
    }
    toks
}

/// Builds one number from number words: units after tens or hundreds add, "hundred" and
/// "thousand" multiply; anything that cannot continue the number emits it first.
#[derive(Debug, Default)]
struct Composer {
    /// Thousands part and the part below a thousand; `None` when no number is open.
    open: Option<(u64, u64)>,
    last: Last,
}

#[derive(Debug, Default, Clone, Copy, PartialEq)]
enum Last {
    #[default]
    Unit,
    Teen,
    Tens,
    Hundred,
    Thousand,
}

impl Composer {
    fn after_multiplier(&self) -> bool {
        self.open.is_some() && matches!(self.last, Last::Hundred | Last::Thousand)
    }

    fn flush(&mut self, out: &mut String) {
        if let Some((big, small)) = self.open.take() {
            out.push_str(&(big + small).to_string());
        }
    }

    fn start(&mut self, value: u64, last: Last, out: &mut String) {
        self.flush(out);
        self.open = Some((0, value));
        self.last = last;
    }

    fn add(&mut self, value: u64, last: Last) {
        if let Some((_, small)) = self.open.as_mut() {
            *small += value;
        }
        self.last = last;
    }

    fn unit(&mut self, u: u64, out: &mut String) {
        if self.open.is_some() && matches!(self.last, Last::Tens | Last::Hundred | Last::Thousand) {
            self.add(u, Last::Unit);
        } else {
            self.start(u, Last::Unit, out);
        }
    }

    fn teen(&mut self, t: u64, out: &mut String) {
        if self.after_multiplier() {
            self.add(t, Last::Teen);
        } else {
            self.start(t, Last::Teen, out);
        }
    }

    fn tens(&mut self, t: u64, out: &mut String) {
        if self.after_multiplier() {
            self.add(t, Last::Tens);
        } else {
            self.start(t, Last::Tens, out);
        }
    }

    fn hundred(&mut self, out: &mut String) {
        match self.open.as_mut() {
            Some((_, small)) if *small > 0 && *small < 100 && self.last != Last::Hundred => {
                *small *= 100;
                self.last = Last::Hundred;
            }
            _ => self.start(100, Last::Hundred, out),
        }
    }

    fn thousand(&mut self, out: &mut String) {
        match self.open.as_mut() {
            Some((big, small)) if *big == 0 && *small > 0 => {
                *big = *small * 1000;
                *small = 0;
                self.last = Last::Thousand;
            }
            _ => {
                self.flush(out);
                self.open = Some((1000, 0));
                self.last = Last::Thousand;
            }
        }
    }
}

#[cfg(test)]
#[path = "slots_tests.rs"]
mod tests;
