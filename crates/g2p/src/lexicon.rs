//! Lexicon lookup with misaki's rules (as ported by hibari): gold then silver dictionaries,
//! part-of-speech entries, function words whose reading depends on the next word, suffix
//! stemming (-s, -ed, -ing) and letter-by-letter reading of acronyms. Numbers are in
//! `numread.rs`.

use std::collections::HashMap;
use std::fmt;

use serde::de::{Deserializer, MapAccess, Visitor};
use serde::Deserialize;

use crate::text::{capitalize, eq_lower, eq_upper, is_alpha, tail};

pub const PRIMARY: char = 'ˈ';
pub const SECONDARY: char = 'ˌ';

/// Phoneme characters that are vowels (misaki's VOWELS).
pub fn is_vowel(c: char) -> bool {
    "AIOQWYaiuæɑɒɔəɛɜɪʊʌᵻ".contains(c)
}

/// Phoneme characters that are consonants (misaki's CONSONANTS).
pub fn is_consonant(c: char) -> bool {
    "bdfhjklmnpstvwzðŋɡɹɾʃʒʤʧθ".contains(c)
}

/// Vowels (and ɹ) before which an American t flaps.
fn is_us_tau(c: char) -> bool {
    "AIOWYiuæɑəɛɪɹʊʌ".contains(c)
}

/// Symbols read as words when they stand alone.
pub fn symbol_word(w: &str) -> Option<&'static str> {
    match w {
        "%" => Some("percent"),
        "&" => Some("and"),
        "+" => Some("plus"),
        "@" => Some("at"),
        _ => None,
    }
}

/// A currency symbol's unit words (whole, fraction).
pub fn currency_units(symbol: &str) -> Option<(&'static str, &'static str)> {
    match symbol {
        "$" => Some(("dollar", "cent")),
        "£" => Some(("pound", "pence")),
        "€" => Some(("euro", "cent")),
        _ => None,
    }
}

/// Stress weight of a phoneme string: diphthongs and affricates count twice.
pub fn stress_weight(ps: &str) -> usize {
    ps.chars().map(|c| if "AIOQWYʤʧ".contains(c) { 2 } else { 1 }).sum()
}

/// misaki's `apply_stress`: lowers, raises, strips or adds stress marks. `stress` takes the
/// values -2, -1, -0.5, 0, 0.5, 1 and 2.
pub fn apply_stress(ps: &str, stress: Option<f32>) -> String {
    let Some(stress) = stress else { return ps.to_owned() };
    let has_primary = ps.contains(PRIMARY);
    let has_secondary = ps.contains(SECONDARY);
    let unstressed = !has_primary && !has_secondary;
    if stress < -1.0 {
        ps.chars().filter(|&c| c != PRIMARY && c != SECONDARY).collect()
    } else if stress == -1.0 || ((stress == 0.0 || stress == -0.5) && has_primary) {
        ps.chars().filter(|&c| c != SECONDARY).map(|c| if c == PRIMARY { SECONDARY } else { c }).collect()
    } else if (stress == 0.0 || stress == 0.5 || stress == 1.0) && unstressed {
        insert_stress(ps, SECONDARY)
    } else if stress >= 1.0 && !has_primary && has_secondary {
        ps.replace(SECONDARY, "ˈ")
    } else if stress > 1.0 && unstressed {
        insert_stress(ps, PRIMARY)
    } else {
        ps.to_owned()
    }
}

/// Puts a stress mark before the first vowel (misaki's `restress` of a mark prepended to an
/// unstressed word); a word without vowels stays as it is.
fn insert_stress(ps: &str, mark: char) -> String {
    match ps.char_indices().find(|&(_, c)| is_vowel(c)) {
        Some((i, _)) => {
            let mut out = String::with_capacity(ps.len() + 2);
            out.push_str(&ps[..i]);
            out.push(mark);
            out.push_str(&ps[i..]);
            out
        }
        None => ps.to_owned(),
    }
}

/// Coarse part of speech for the lexicon's tagged entries.
pub fn parent_tag(tag: &str) -> &str {
    if tag.starts_with("VB") {
        "VERB"
    } else if tag.starts_with("NN") {
        "NOUN"
    } else if tag.starts_with("ADV") || tag.starts_with("RB") {
        "ADV"
    } else if tag.starts_with("ADJ") || tag.starts_with("JJ") {
        "ADJ"
    } else {
        tag
    }
}

/// What the next word (to the right) tells the current one.
#[derive(Clone, Copy, Debug, Default)]
pub struct Ctx {
    /// Whether the next word starts with a vowel; `None` at a clause end or the text end.
    pub future_vowel: Option<bool>,
    /// The next word is "to" (for "used to").
    pub future_to: bool,
}

/// One dictionary value: a reading, or readings by part of speech (a tag may map to "no
/// reading", which sends the word to the acronym reader).
#[derive(Debug)]
pub enum Entry {
    Plain(Box<str>),
    Tagged(Vec<(Box<str>, Option<Box<str>>)>),
}

impl Entry {
    fn tagged(&self, tag: &str) -> Option<Option<&str>> {
        match self {
            Entry::Plain(_) => None,
            Entry::Tagged(v) => v.iter().find(|(t, _)| &**t == tag).map(|(_, p)| p.as_deref()),
        }
    }
}

impl<'de> Deserialize<'de> for Entry {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        struct V;
        impl<'de> Visitor<'de> for V {
            type Value = Entry;
            fn expecting(&self, f: &mut fmt::Formatter) -> fmt::Result {
                f.write_str("a phoneme string or an object of them by tag")
            }
            fn visit_str<E: serde::de::Error>(self, v: &str) -> Result<Entry, E> {
                Ok(Entry::Plain(v.into()))
            }
            fn visit_map<A: MapAccess<'de>>(self, mut m: A) -> Result<Entry, A::Error> {
                let mut v = Vec::new();
                while let Some((k, p)) = m.next_entry::<Box<str>, Option<Box<str>>>()? {
                    v.push((k, p));
                }
                if !v.iter().any(|(k, _)| &**k == "DEFAULT") {
                    return Err(serde::de::Error::custom("tagged entry without DEFAULT"));
                }
                Ok(Entry::Tagged(v))
            }
        }
        d.deserialize_any(V)
    }
}

/// A misaki dictionary; the lowercase/Capitalized variants answer for each other at lookup
/// time (misaki grows the dictionary at load time instead, which costs load time).
#[derive(Debug, Default, Deserialize)]
#[serde(transparent)]
pub struct Dict(HashMap<Box<str>, Entry>);

impl Dict {
    pub fn get(&self, w: &str) -> Option<&Entry> {
        if let Some(v) = self.0.get(w) {
            return Some(v);
        }
        // One-character keys have no case variants to try.
        w.chars().nth(1)?;
        if eq_lower(w) {
            let c = capitalize(w);
            return if c != w { self.0.get(c.as_str()) } else { None };
        }
        let lower = w.to_lowercase();
        if w == capitalize(&lower) {
            return self.0.get(lower.as_str());
        }
        None
    }

    pub fn contains(&self, w: &str) -> bool {
        self.get(w).is_some()
    }

    pub fn len(&self) -> usize {
        self.0.len()
    }
}

/// A reading and its confidence (5 user-given, 4 gold, 3 silver or rule, 2 OOV net).
pub type Reading = (String, u8);

/// The gold and silver dictionaries of one accent plus the accent's suffix rules.
#[derive(Debug)]
pub struct Lexicon {
    pub golds: Dict,
    pub silvers: Dict,
    pub british: bool,
}

impl Lexicon {
    /// Reads an acronym letter by letter ("NASA" when it has no entry, "U.S.").
    pub fn get_nnp(&self, word: &str) -> Option<Reading> {
        let mut ps = String::new();
        for c in word.chars().filter(|c| c.is_alphabetic()) {
            let upper: String = c.to_uppercase().collect();
            match self.golds.get(&upper) {
                Some(Entry::Plain(p)) => ps.push_str(p),
                _ => return None,
            }
        }
        let ps = apply_stress(&ps, Some(0.0));
        // The last letter carries the primary stress.
        let ps = match ps.rfind(SECONDARY) {
            Some(i) => format!("{}{PRIMARY}{}", &ps[..i], &ps[i + SECONDARY.len_utf8()..]),
            None => ps,
        };
        Some((ps, 3))
    }

    fn gold_str(&self, word: &str, tag: &str) -> Option<String> {
        match self.golds.get(word)? {
            Entry::Plain(p) => Some(p.to_string()),
            e @ Entry::Tagged(_) => e.tagged(tag).flatten().map(str::to_owned),
        }
    }

    fn special_case(&self, word: &str, tag: &str, stress: Option<f32>, ctx: &Ctx) -> Option<Reading> {
        if tag == "ADD" && (word == "." || word == "/") {
            return self.lookup(if word == "." { "dot" } else { "slash" }, None, Some(-0.5), Some(ctx));
        }
        if let Some(w) = symbol_word(word) {
            return self.lookup(w, None, None, Some(ctx));
        }
        let inner = word.trim_matches('.');
        if inner.contains('.')
            && is_alpha(&word.replace('.', ""))
            && word.split('.').map(|p| p.chars().count()).max().unwrap_or(0) < 3
        {
            return self.get_nnp(word);
        }
        match word {
            "a" | "A" => Some((if tag == "DT" { "ɐ" } else { "ˈA" }.to_owned(), 4)),
            "am" | "Am" | "AM" => {
                if tag.starts_with("NN") {
                    self.get_nnp(word)
                } else if ctx.future_vowel.is_none() || word != "am" || stress.is_some_and(|s| s > 0.0) {
                    Some((self.gold_str("am", "DEFAULT")?, 4))
                } else {
                    Some(("ɐm".to_owned(), 4))
                }
            }
            "an" | "An" | "AN" => {
                if word == "AN" && tag.starts_with("NN") {
                    self.get_nnp(word)
                } else {
                    Some(("ɐn".to_owned(), 4))
                }
            }
            "I" if tag == "PRP" => Some(("ˌI".to_owned(), 4)),
            "by" | "By" | "BY" if parent_tag(tag) == "ADV" => Some(("bˈI".to_owned(), 4)),
            "to" | "To" => self.to_reading(ctx),
            "TO" if tag == "TO" || tag == "IN" => self.to_reading(ctx),
            "in" | "In" => Some(in_reading(ctx, tag)),
            "IN" if tag != "NNP" => Some(in_reading(ctx, tag)),
            "the" | "The" => Some(the_reading(ctx)),
            "THE" if tag == "DT" => Some(the_reading(ctx)),
            "vs" | "vs." | "VS" | "VS." | "Vs" | "Vs." | "vS" | "vS." if tag == "IN" => {
                self.lookup("versus", None, None, Some(ctx))
            }
            "used" | "Used" | "USED" => {
                let key = if (tag == "VBD" || tag == "JJ") && ctx.future_to { "VBD" } else { "DEFAULT" };
                Some((self.gold_str("used", key)?, 4))
            }
            _ => None,
        }
    }

    fn to_reading(&self, ctx: &Ctx) -> Option<Reading> {
        match ctx.future_vowel {
            None => Some((self.gold_str("to", "DEFAULT")?, 4)),
            Some(false) => Some(("tə".to_owned(), 4)),
            Some(true) => Some(("tʊ".to_owned(), 4)),
        }
    }

    pub fn is_known(&self, word: &str) -> bool {
        if self.golds.contains(word) || symbol_word(word).is_some() || self.silvers.contains(word) {
            return true;
        }
        if !is_alpha(word) || !word.chars().all(|c| c.is_ascii_alphabetic()) {
            return false;
        }
        if word.len() == 1 {
            return true;
        }
        if eq_upper(word) && self.golds.contains(&word.to_lowercase()) {
            return true;
        }
        eq_upper(tail(word))
    }

    /// Dictionary reading of `word` for `tag`; all-caps words missing from gold are lowered
    /// and, as proper nouns, read letter by letter unless the dictionary stresses them.
    pub fn lookup(&self, word: &str, tag: Option<&str>, stress: Option<f32>, ctx: Option<&Ctx>) -> Option<Reading> {
        let mut word = word;
        let lowered;
        let mut is_nnp = false;
        if eq_upper(word) && !self.golds.contains(word) {
            lowered = word.to_lowercase();
            word = &lowered;
            is_nnp = tag == Some("NNP");
        }
        let mut found = self.golds.get(word).map(|e| (e, 4));
        if found.is_none() && !is_nnp {
            found = self.silvers.get(word).map(|e| (e, 3));
        }
        let (ps, rating): (Option<&str>, u8) = match found {
            None => (None, 4),
            Some((Entry::Plain(p), r)) => (Some(&**p), r),
            Some((e @ Entry::Tagged(_), r)) => {
                let key = if ctx.is_some_and(|c| c.future_vowel.is_none()) && e.tagged("None").is_some() {
                    "None"
                } else {
                    match tag {
                        Some(t) if e.tagged(t).is_some() => t,
                        Some(t) => parent_tag(t),
                        None => "DEFAULT",
                    }
                };
                (e.tagged(key).or_else(|| e.tagged("DEFAULT")).flatten(), r)
            }
        };
        if ps.is_none_or(|p| is_nnp && !p.contains(PRIMARY)) {
            if let Some(r) = self.get_nnp(word) {
                return Some(r);
            }
        }
        ps.map(|p| (apply_stress(p, stress), rating))
    }

    fn suffix_s(&self, stem: &str) -> Option<String> {
        let last = stem.chars().last()?;
        Some(if "ptkfθ".contains(last) {
            format!("{stem}s")
        } else if "szʃʒʧʤ".contains(last) {
            format!("{stem}{}z", if self.british { 'ɪ' } else { 'ᵻ' })
        } else {
            format!("{stem}z")
        })
    }

    pub fn stem_s(&self, word: &str, tag: Option<&str>, stress: Option<f32>, ctx: Option<&Ctx>) -> Option<Reading> {
        if word.chars().count() < 3 || !word.ends_with('s') {
            return None;
        }
        let n = word.chars().count();
        let cut = |k: usize| &word[..word.len() - k];
        let stem = if !word.ends_with("ss") && self.is_known(cut(1)) {
            cut(1).to_owned()
        } else if (word.ends_with("'s") || (n > 4 && word.ends_with("es") && !word.ends_with("ies")))
            && self.is_known(cut(2))
        {
            cut(2).to_owned()
        } else if n > 4 && word.ends_with("ies") && self.is_known(&format!("{}y", cut(3))) {
            format!("{}y", cut(3))
        } else {
            return None;
        };
        let (ps, rating) = self.lookup(&stem, tag, stress, ctx)?;
        Some((self.suffix_s(&ps)?, rating))
    }

    fn suffix_ed(&self, stem: &str) -> Option<String> {
        let mut rev = stem.chars().rev();
        let last = rev.next()?;
        Some(if "pkfθʃsʧ".contains(last) {
            format!("{stem}t")
        } else if last == 'd' {
            format!("{stem}{}d", if self.british { 'ɪ' } else { 'ᵻ' })
        } else if last != 't' {
            format!("{stem}d")
        } else if self.british || stem.chars().count() < 2 {
            format!("{stem}ɪd")
        } else if rev.next().is_some_and(is_us_tau) {
            format!("{}ɾᵻd", &stem[..stem.len() - 1])
        } else {
            format!("{stem}ᵻd")
        })
    }

    pub fn stem_ed(&self, word: &str, tag: Option<&str>, stress: Option<f32>, ctx: Option<&Ctx>) -> Option<Reading> {
        let n = word.chars().count();
        if n < 4 || !word.ends_with('d') {
            return None;
        }
        let stem = if !word.ends_with("dd") && self.is_known(&word[..word.len() - 1]) {
            &word[..word.len() - 1]
        } else if n > 4 && word.ends_with("ed") && !word.ends_with("eed") && self.is_known(&word[..word.len() - 2]) {
            &word[..word.len() - 2]
        } else {
            return None;
        };
        let (ps, rating) = self.lookup(stem, tag, stress, ctx)?;
        Some((self.suffix_ed(&ps)?, rating))
    }

    fn suffix_ing(&self, stem: &str) -> Option<String> {
        let mut rev = stem.chars().rev();
        let last = rev.next()?;
        if self.british {
            if last == 'ə' || last == 'ː' {
                return None;
            }
        } else if last == 't' && rev.next().is_some_and(is_us_tau) {
            return Some(format!("{}ɾɪŋ", &stem[..stem.len() - 1]));
        }
        Some(format!("{stem}ɪŋ"))
    }

    pub fn stem_ing(&self, word: &str, tag: Option<&str>, stress: Option<f32>, ctx: Option<&Ctx>) -> Option<Reading> {
        let n = word.chars().count();
        if n < 5 || !word.ends_with("ing") {
            return None;
        }
        let base = &word[..word.len() - 3];
        let stem = if n > 5 && self.is_known(base) {
            base.to_owned()
        } else if self.is_known(&format!("{base}e")) {
            format!("{base}e")
        } else if n > 5 && doubled_before_ing(word) && self.is_known(&word[..word.len() - 4]) {
            word[..word.len() - 4].to_owned()
        } else {
            return None;
        };
        let (ps, rating) = self.lookup(&stem, tag, stress, ctx)?;
        Some((self.suffix_ing(&ps)?, rating))
    }

    /// A word's reading from the dictionaries and suffix rules, or `None` (number or OOV).
    pub fn get_word(&self, word: &str, tag: &str, stress: Option<f32>, ctx: &Ctx) -> Option<Reading> {
        if let Some(r) = self.special_case(word, tag, stress, ctx) {
            return Some(r);
        }
        let wl = word.to_lowercase();
        let t = Some(tag);
        let mut word = word;
        if word.chars().nth(1).is_some()
            && is_alpha(&word.replace('\'', ""))
            && word != wl
            && (tag != "NNP" || word.chars().count() > 7)
            && !self.golds.contains(word)
            && !self.silvers.contains(word)
            && (eq_upper(word) || eq_lower(tail(word)))
            && (self.golds.contains(&wl)
                || self.silvers.contains(&wl)
                || [Self::stem_s, Self::stem_ed, Self::stem_ing]
                    .iter()
                    .any(|f| f(self, &wl, t, stress, Some(ctx)).is_some_and(|(p, _)| !p.is_empty())))
        {
            word = &wl;
        }
        if self.is_known(word) {
            return self.lookup(word, t, stress, Some(ctx));
        }
        if let Some(base) = word.strip_suffix("s'") {
            let poss = format!("{base}'s");
            if self.is_known(&poss) {
                return self.lookup(&poss, t, stress, Some(ctx));
            }
        }
        if let Some(base) = word.strip_suffix('\'') {
            if self.is_known(base) {
                return self.lookup(base, t, stress, Some(ctx));
            }
        }
        self.stem_s(word, t, stress, Some(ctx))
            .or_else(|| self.stem_ed(word, t, stress, Some(ctx)))
            .or_else(|| self.stem_ing(word, t, Some(stress.unwrap_or(0.5)), Some(ctx)))
    }

    /// " dollars" etc. after an amount the lexicon read as a word.
    pub fn append_currency(&self, ps: String, currency: Option<&str>) -> String {
        let Some((unit, _)) = currency.and_then(currency_units) else { return ps };
        match self.stem_s(&format!("{unit}s"), None, None, None) {
            Some((c, _)) => format!("{ps} {c}"),
            None => ps,
        }
    }

    pub fn suffixed_s(&self, ps: &str) -> Option<String> {
        self.suffix_s(ps)
    }
    pub fn suffixed_ed(&self, ps: &str) -> Option<String> {
        self.suffix_ed(ps)
    }
    pub fn suffixed_ing(&self, ps: &str) -> Option<String> {
        self.suffix_ing(ps)
    }
}

fn in_reading(ctx: &Ctx, tag: &str) -> Reading {
    let stressed = ctx.future_vowel.is_none() || tag != "IN";
    (if stressed { "ˈɪn" } else { "ɪn" }.to_owned(), 4)
}

fn the_reading(ctx: &Ctx) -> Reading {
    (if ctx.future_vowel == Some(true) { "ði" } else { "ðə" }.to_owned(), 4)
}

/// `([bcdgklmnprstvxz])\1ing$|cking$`: "running" -> "run", "picking" -> "pick".
fn doubled_before_ing(word: &str) -> bool {
    if word.ends_with("cking") {
        return true;
    }
    let b = word.as_bytes();
    b.len() >= 5 && {
        let (x, y) = (b[b.len() - 5], b[b.len() - 4]);
        x == y && b"bcdgklmnprstvxz".contains(&x)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn stress_rules() {
        assert_eq!(apply_stress("hˈɛlO", Some(-1.0)), "hˌɛlO");
        assert_eq!(apply_stress("hˈɛlˌO", Some(-2.0)), "hɛlO");
        assert_eq!(apply_stress("hɛlO", Some(0.5)), "hˌɛlO");
        assert_eq!(apply_stress("hɛlO", Some(2.0)), "hˈɛlO");
        assert_eq!(apply_stress("hˌɛlO", Some(2.0)), "hˈɛlO");
        assert_eq!(apply_stress("ps", Some(2.0)), "ps");
    }

    #[test]
    fn doubled_consonant_rule() {
        assert!(doubled_before_ing("running") && doubled_before_ing("picking") && !doubled_before_ing("reading"));
    }
}
