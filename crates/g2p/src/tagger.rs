//! Averaged-perceptron part-of-speech tagger (Penn Treebank tags) from hibari's
//! `tagger.json.gz`. Its tags pick the lexicon's part-of-speech readings ("read", "live",
//! "record"), so scores are summed in f64 in feature order, exactly as the Python tagger does,
//! and ties go to the alphabetically larger tag as there.

use std::collections::{HashMap, HashSet};
use std::fmt;

use serde::de::{Deserializer, MapAccess, Visitor};
use serde::Deserialize;

use crate::text::{char_is_digit, is_alpha, is_digits, is_lower, is_upper, last_chars, tail};

/// Feature weights: (tag index, weight) pairs.
#[derive(Debug, Default)]
struct Weights(Vec<(u8, f64)>);

/// A tag name held inline: the weight table names a tag ~800k times, and allocating a String
/// for each was most of the load time.
#[derive(Clone, Copy)]
struct TagName {
    len: u8,
    bytes: [u8; 8],
}

impl TagName {
    fn as_str(&self) -> &str {
        std::str::from_utf8(&self.bytes[..usize::from(self.len)]).unwrap_or("")
    }
}

impl<'de> Deserialize<'de> for TagName {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        struct V;
        impl Visitor<'_> for V {
            type Value = TagName;
            fn expecting(&self, f: &mut fmt::Formatter) -> fmt::Result {
                f.write_str("a tag name of at most 8 bytes")
            }
            fn visit_str<E: serde::de::Error>(self, v: &str) -> Result<TagName, E> {
                let mut bytes = [0u8; 8];
                if v.len() > bytes.len() {
                    return Err(E::custom(format!("tag name {v:?} longer than 8 bytes")));
                }
                bytes[..v.len()].copy_from_slice(v.as_bytes());
                Ok(TagName { len: v.len() as u8, bytes })
            }
        }
        d.deserialize_str(V)
    }
}

/// One feature's weights as stored: an object of tag name -> weight, read without a map.
struct RawWeights(Vec<(TagName, f64)>);

impl<'de> Deserialize<'de> for RawWeights {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        struct V;
        impl<'de> Visitor<'de> for V {
            type Value = RawWeights;
            fn expecting(&self, f: &mut fmt::Formatter) -> fmt::Result {
                f.write_str("an object of tag weights")
            }
            fn visit_map<A: MapAccess<'de>>(self, mut m: A) -> Result<RawWeights, A::Error> {
                let mut v = Vec::with_capacity(m.size_hint().unwrap_or(8));
                while let Some(e) = m.next_entry::<TagName, f64>()? {
                    v.push(e);
                }
                Ok(RawWeights(v))
            }
        }
        d.deserialize_map(V)
    }
}

/// The tagger file as stored; tag names in the weights are resolved to indices after parsing.
#[derive(Deserialize)]
struct RawModel {
    tags: Vec<String>,
    tagdict: HashMap<String, String>,
    #[serde(default)]
    vocab: Option<HashSet<String>>,
    weights: HashMap<String, RawWeights>,
}

#[derive(Debug)]
pub struct Tagger {
    tags: Vec<String>,
    tagdict: HashMap<String, u8>,
    vocab: Option<HashSet<String>>,
    weights: HashMap<String, Weights>,
    /// Tag indices ordered by tag name, descending: the tie-break order.
    by_name_desc: Vec<u8>,
    /// Index of "NN", the answer when no feature is known.
    nn: u8,
}

impl<'de> Deserialize<'de> for Tagger {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        use serde::de::Error;
        let raw = RawModel::deserialize(d)?;
        if raw.tags.is_empty() || raw.tags.len() > usize::from(u8::MAX) {
            return Err(D::Error::custom(format!("{} tags; expected 1..=255", raw.tags.len())));
        }
        let index: HashMap<&str, u8> = raw.tags.iter().enumerate().map(|(i, t)| (t.as_str(), i as u8)).collect();
        let idx = |t: &str| index.get(t).copied().ok_or_else(|| D::Error::custom(format!("unknown tag {t:?}")));
        let mut tagdict = HashMap::with_capacity(raw.tagdict.len());
        for (w, t) in raw.tagdict {
            tagdict.insert(w, idx(&t)?);
        }
        let mut weights = HashMap::with_capacity(raw.weights.len());
        for (f, ws) in raw.weights {
            let mut v = Vec::with_capacity(ws.0.len());
            for (t, w) in ws.0 {
                v.push((idx(t.as_str())?, w));
            }
            weights.insert(f, Weights(v));
        }
        let nn = idx("NN")?;
        let mut by_name_desc: Vec<u8> = (0..raw.tags.len() as u8).collect();
        by_name_desc.sort_by(|&a, &b| raw.tags[usize::from(b)].cmp(&raw.tags[usize::from(a)]));
        Ok(Tagger { tags: raw.tags, tagdict, vocab: raw.vocab, weights, by_name_desc, nn })
    }
}

const START: [&str; 2] = ["-START2-", "-START-"];
const END: [&str; 2] = ["-END-", "-END2-"];

/// The tagger's word normalization: hyphenated words, years and digit strings share features.
fn norm(w: &str) -> String {
    let first = w.chars().next();
    if w.contains('-') && first != Some('-') {
        "!HYPHEN".to_owned()
    } else if is_digits(w) && w.chars().count() == 4 {
        "!YEAR".to_owned()
    } else if first.is_some_and(char_is_digit) {
        "!DIGITS".to_owned()
    } else {
        w.to_lowercase()
    }
}

/// The word's shape: case pattern for words, digit/letter pattern of the first four characters
/// otherwise.
fn shape(w: &str) -> String {
    if is_alpha(w) {
        let s = if is_lower(w) {
            "x"
        } else if is_upper(w) {
            if w.chars().count() > 1 {
                "XX"
            } else {
                "X1"
            }
        } else if w.chars().next().is_some_and(char::is_uppercase) && is_lower(tail(w)) {
            "Xx"
        } else {
            "xX"
        };
        return s.to_owned();
    }
    if is_digits(w) {
        return "d".to_owned();
    }
    w.chars()
        .take(4)
        .map(|c| {
            if char_is_digit(c) {
                'd'
            } else if c.is_alphabetic() {
                'x'
            } else {
                c
            }
        })
        .collect()
}

impl Tagger {
    pub fn tag_name(&self, t: u8) -> &str {
        self.tags.get(usize::from(t)).map(String::as_str).unwrap_or("NN")
    }

    /// One tag per word.
    pub fn tag<'a>(&'a self, words: &[&str]) -> Vec<&'a str> {
        let mut ctx: Vec<String> = Vec::with_capacity(words.len() + 4);
        ctx.extend(START.iter().map(|s| (*s).to_owned()));
        for w in words {
            let n = norm(w);
            let known = self.vocab.as_ref().is_none_or(|v| v.contains(&n));
            ctx.push(if known { n } else { format!("<{}>", shape(w)) });
        }
        ctx.extend(END.iter().map(|s| (*s).to_owned()));

        let mut scores = vec![0.0f64; self.tags.len()];
        let mut feat = String::with_capacity(64);
        let (mut prev, mut prev2) = (START[1].to_owned(), START[0].to_owned());
        let mut out = Vec::with_capacity(words.len());
        for (i, w) in words.iter().enumerate() {
            let tag = match self.tagdict.get(*w) {
                Some(&t) => t,
                None => {
                    scores.iter_mut().for_each(|s| *s = 0.0);
                    let mut any = false;
                    let j = i + 2;
                    let mut add = |f: &str| {
                        if let Some(ws) = self.weights.get(f) {
                            for &(t, v) in &ws.0 {
                                scores[usize::from(t)] += v;
                            }
                            any |= !ws.0.is_empty();
                        }
                    };
                    let mut with = |parts: &[&str]| {
                        feat.clear();
                        parts.iter().for_each(|p| feat.push_str(p));
                        add(&feat);
                    };
                    let first: String = w.chars().take(1).collect();
                    with(&["b"]);
                    with(&["s3=", last_chars(w, 3)]);
                    with(&["p1=", &first]);
                    with(&["w=", &ctx[j]]);
                    with(&["sh=", &shape(w)]);
                    with(&[if i == 0 { "i0" } else { "i+" }]);
                    with(&["t-1=", &prev]);
                    with(&["t-2=", &prev2]);
                    with(&["t-12=", &prev, ",", &prev2]);
                    with(&["w-1=", &ctx[j - 1]]);
                    with(&["s3-1=", last_chars(&ctx[j - 1], 3)]);
                    with(&["w-2=", &ctx[j - 2]]);
                    with(&["w+1=", &ctx[j + 1]]);
                    with(&["s3+1=", last_chars(&ctx[j + 1], 3)]);
                    with(&["w+2=", &ctx[j + 2]]);
                    if any {
                        self.best(&scores)
                    } else {
                        self.nn
                    }
                }
            };
            let name = self.tag_name(tag);
            out.push(name);
            prev2 = std::mem::replace(&mut prev, name.to_owned());
        }
        out
    }

    /// Highest score; among equal scores the larger tag name (Python's `max` over
    /// `(score, tag)`).
    fn best(&self, scores: &[f64]) -> u8 {
        let mut best = self.by_name_desc[0];
        for &t in &self.by_name_desc[1..] {
            if scores[usize::from(t)] > scores[usize::from(best)] {
                best = t;
            }
        }
        best
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn shapes_and_norms() {
        assert_eq!(shape("hello"), "x");
        assert_eq!(shape("USA"), "XX");
        assert_eq!(shape("I"), "X1");
        assert_eq!(shape("Hello"), "Xx");
        assert_eq!(shape("iPhone"), "xX");
        assert_eq!(shape("123"), "d");
        assert_eq!(shape("a1-b2c"), "xd-x");
        assert_eq!(norm("well-known"), "!HYPHEN");
        assert_eq!(norm("2025"), "!YEAR");
        assert_eq!(norm("12th"), "!DIGITS");
        assert_eq!(norm("Hello"), "hello");
    }
}
