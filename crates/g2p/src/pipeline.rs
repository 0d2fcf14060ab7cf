//! From tagged tokens to phonemes (misaki's `G2P.__call__` as hibari ports it): tokens are cut
//! into sub-tokens ("Contoso's" -> "Contoso" "'s"), glued back into words where no space
//! separated them, and read right to left so each word knows whether the next one starts with
//! a vowel ("the apple", "to eat"). Unknown words go to the OOV net.

use crate::error::G2pError;
use crate::lexicon::{
    apply_stress, currency_units, is_consonant, is_vowel, stress_weight, Ctx, Lexicon, Reading, PRIMARY,
};
use crate::numread::is_number;
use crate::oov::Oov;
use crate::text::{char_is_digit, digit_value, eq_lower, eq_upper, nfkc_lite};
use fancy_regex::Regex;

/// One token on its way through the pipeline.
#[derive(Clone, Debug, Default)]
pub struct Tok {
    pub text: String,
    pub tag: String,
    /// Whitespace followed the token in the text.
    pub ws: bool,
    pub phonemes: Option<String>,
    pub is_head: bool,
    pub alias: Option<String>,
    pub currency: Option<String>,
    pub prespace: bool,
    pub rating: Option<u8>,
}

/// A word: one token, or sub-tokens written without spaces between them.
#[derive(Debug)]
pub enum Word {
    One(Tok),
    Many(Vec<Tok>),
}

/// Punctuation kept in the phoneme string.
fn is_punct(c: char) -> bool {
    ";:,.!?—…\"“”".contains(c)
}

fn is_non_quote_punct(c: char) -> bool {
    is_punct(c) && !"\"“”".contains(c)
}

/// Characters that are only glue inside a word ("U.S.", "rock-n-roll").
fn is_junk(c: char) -> bool {
    "',-._‘’/".contains(c)
}

fn is_punct_tag(tag: &str) -> bool {
    matches!(tag, "." | "," | "-LRB-" | "-RRB-" | "``" | "\"\"" | "''" | ":" | "$" | "#" | "NFP")
}

/// What espeak read for symbols in the reference pipeline (hibari's table).
fn symbol_phonemes(c: char) -> &'static str {
    match c {
        '/' => "slˈæʃ",
        '=' => "ˈikwᵊlz",
        '+' => "plˈʌs",
        '&' => "ænd",
        '@' => "æt",
        '%' => "pəɹsˈɛnt",
        '#' => "hˈæʃ",
        '*' => "ˈæstəɹˌɪsk",
        '~' => "tˈɪldə",
        '^' => "kˈɛɹət",
        '<' => "lˈɛs ðən",
        '>' => "ɡɹˈATəɹ ðən",
        '—' => "—",
        _ => "",
    }
}

/// The compiled patterns the pipeline needs.
#[derive(Debug)]
pub struct Patterns {
    pub subtoken: Regex,
    pub fallback: Regex,
}

impl Patterns {
    pub fn new() -> Result<Self, String> {
        let subtoken = concat!(
            r"^['‘’]+|[A-ZÀ-ÖØ-Þ](?=[A-ZÀ-ÖØ-Þ][a-zß-öø-ÿ])|(?:^-)?(?:\d?[,.]?\d)+|[-_]+|['‘’]{2,}",
            r"|[^\W\d_]*?(?:['‘’][^\W\d_])*?[a-zß-öø-ÿ](?=[A-ZÀ-ÖØ-Þ])|[^\W\d_]+(?:['‘’][^\W\d_])*",
            r"|[^\w\-'‘’]|['‘’]+$"
        );
        Ok(Patterns {
            subtoken: crate::tokenize::compile(subtoken)?,
            fallback: crate::tokenize::compile(r"[^\W\d_]+(?:['’][^\W\d_]+)*|\d+(?:[,.]\d+)*|[^\w\s]+")?,
        })
    }
}

/// An ASCII word the sub-token pattern would return whole: no camel-case hump ("eBay") and
/// no leading acronym glued to a word ("USAir" is whole, "ABCd" is not). Skips a regex VM
/// run for most tokens.
fn is_plain_word(w: &str) -> bool {
    let b = w.as_bytes();
    if b.is_empty() || !b.iter().all(u8::is_ascii_alphabetic) {
        return false;
    }
    let hump = b.windows(2).any(|p| p[0].is_ascii_lowercase() && p[1].is_ascii_uppercase());
    let acronym_head =
        b.len() >= 3 && b[0].is_ascii_uppercase() && b[1].is_ascii_uppercase() && b[2].is_ascii_lowercase();
    !hump && !acronym_head
}

/// misaki's `merge_tokens` without phonemes: the text as written, the tag of the most
/// capitalized piece.
fn merge(tokens: &[Tok]) -> Tok {
    let mut text = String::new();
    for (i, t) in tokens.iter().enumerate() {
        text.push_str(&t.text);
        if t.ws && i + 1 < tokens.len() {
            text.push(' ');
        }
    }
    let weight =
        |t: &Tok| -> usize { t.text.chars().map(|c| if eq_lower(c.encode_utf8(&mut [0; 4])) { 1 } else { 2 }).sum() };
    let mut tag_tok = &tokens[0];
    for t in &tokens[1..] {
        if weight(t) > weight(tag_tok) {
            tag_tok = t;
        }
    }
    let rating =
        if tokens.iter().any(|t| t.rating.is_none()) { None } else { tokens.iter().filter_map(|t| t.rating).min() };
    Tok {
        text,
        tag: tag_tok.tag.clone(),
        ws: tokens.last().is_some_and(|t| t.ws),
        phonemes: None,
        is_head: tokens[0].is_head,
        alias: None,
        currency: tokens.iter().filter_map(|t| t.currency.clone()).max(),
        prespace: tokens[0].prespace,
        rating,
    }
}

/// The phonemes of a finished word group, with spaces where `prespace` asks for them.
fn joined_phonemes(tokens: &[Tok]) -> String {
    let mut ps = String::new();
    for t in tokens {
        let p = t.phonemes.as_deref().unwrap_or("");
        if t.prespace && !ps.is_empty() && !ps.ends_with(char::is_whitespace) && !p.is_empty() {
            ps.push(' ');
        }
        ps.push_str(p);
    }
    ps
}

/// Cuts tokens into sub-tokens, marks punctuation and currency, and groups sub-tokens that
/// were written together.
pub fn retokenize(p: &Patterns, tokens: Vec<Tok>) -> Vec<Word> {
    let mut words: Vec<Word> = Vec::new();
    let mut currency: Option<String> = None;
    let next_tags: Vec<bool> = tokens.iter().map(|t| t.tag == "CD").collect();
    for (i, token) in tokens.into_iter().enumerate() {
        let ws = token.ws;
        let mut tks: Vec<Tok> = if token.alias.is_some() || token.phonemes.is_some() {
            vec![token]
        } else if is_plain_word(&token.text) {
            vec![Tok { is_head: true, prespace: false, ..token }]
        } else {
            p.subtoken
                .find_iter(&token.text)
                .filter_map(Result::ok)
                .map(|m| Tok {
                    text: m.as_str().to_owned(),
                    ws: false,
                    is_head: true,
                    prespace: false,
                    ..token.clone()
                })
                .collect()
        };
        let Some(last) = tks.last_mut() else { continue };
        last.ws = ws;
        let n = tks.len();
        for j in 0..n {
            // Neighbours' edge letters, read before `tks[j]` is borrowed mutably.
            let around_alpha = j > 0
                && j + 1 < n
                && tks[j - 1].text.chars().last().is_some_and(char::is_alphabetic)
                && tks[j + 1].text.chars().next().is_some_and(char::is_alphabetic);
            let tk = &mut tks[j];
            if tk.alias.is_some() || tk.phonemes.is_some() {
            } else if tk.tag == "$" && currency_units(&tk.text).is_some() {
                currency = Some(tk.text.clone());
                tk.phonemes = Some(String::new());
                tk.rating = Some(4);
            } else if tk.tag == ":" && (tk.text == "-" || tk.text == "–") {
                tk.phonemes = Some("—".to_owned());
                tk.rating = Some(3);
            } else if is_punct_tag(&tk.tag)
                && !tk.text.chars().all(|c| c.to_lowercase().next().is_some_and(|l| l.is_ascii_lowercase()))
            {
                tk.phonemes = Some(match tk.tag.as_str() {
                    "-LRB-" => "(".to_owned(),
                    "-RRB-" => ")".to_owned(),
                    "``" => "“".to_owned(),
                    "\"\"" | "''" => "”".to_owned(),
                    _ => tk.text.chars().filter(|&c| is_punct(c)).collect(),
                });
                tk.rating = Some(4);
            } else if currency.is_some() {
                if tk.tag != "CD" {
                    currency = None;
                } else if j + 1 == n && !next_tags.get(i + 1).copied().unwrap_or(false) {
                    tk.currency = currency.clone();
                }
            } else if around_alpha && tk.text == "2" {
                // "2" between letters, as in "peer2peer".
                tk.alias = Some("to".to_owned());
            }
        }
        for mut tk in tks {
            if tk.alias.is_some() || tk.phonemes.is_some() {
                words.push(Word::One(tk));
                continue;
            }
            if let Some(Word::Many(group)) = words.last_mut() {
                if group.last().is_some_and(|t| !t.ws) {
                    tk.is_head = false;
                    group.push(tk);
                    continue;
                }
            }
            words.push(if tk.ws { Word::One(tk) } else { Word::Many(vec![tk]) });
        }
    }
    words
        .into_iter()
        .map(|w| match w {
            Word::Many(mut v) if v.len() == 1 => Word::One(v.remove(0)),
            w => w,
        })
        .collect()
}

/// The context a read word passes to the word on its left.
fn next_context(ctx: Ctx, ps: Option<&str>, tk: &Tok) -> Ctx {
    let mut vowel = ctx.future_vowel;
    if let Some(ps) = ps.filter(|p| !p.is_empty()) {
        if let Some(c) = ps.chars().find(|&c| is_vowel(c) || is_consonant(c) || is_non_quote_punct(c)) {
            vowel = if is_non_quote_punct(c) { None } else { Some(is_vowel(c)) };
        }
    }
    let future_to = tk.text == "to" || tk.text == "To" || (tk.text == "TO" && (tk.tag == "TO" || tk.tag == "IN"));
    Ctx { future_vowel: vowel, future_to }
}

/// Stress balance inside a word written as several pieces ("Contoso-based").
fn resolve(tokens: &mut [Tok]) {
    let mut text = String::new();
    for (i, t) in tokens.iter().enumerate() {
        text.push_str(&t.text);
        if t.ws && i + 1 < tokens.len() {
            text.push(' ');
        }
    }
    let mut kinds = [false; 3];
    for c in text.chars().filter(|&c| !is_junk(c)) {
        kinds[if c.is_alphabetic() {
            0
        } else if c.is_ascii_digit() {
            1
        } else {
            2
        }] = true;
    }
    let prespace = text.contains(' ') || text.contains('/') || kinds.iter().filter(|&&k| k).count() > 1;
    let n = tokens.len();
    for (i, tk) in tokens.iter_mut().enumerate() {
        if tk.phonemes.is_none() {
            if i + 1 == n && tk.text.chars().count() == 1 && tk.text.chars().all(is_non_quote_punct) {
                tk.phonemes = Some(tk.text.clone());
                tk.rating = Some(3);
            } else if tk.text.chars().all(is_junk) {
                tk.phonemes = Some(String::new());
                tk.rating = Some(3);
            }
        } else if i > 0 {
            tk.prespace = prespace;
        }
    }
    if prespace {
        return;
    }
    let mut indices: Vec<(bool, usize, usize)> = tokens
        .iter()
        .enumerate()
        .filter_map(|(i, t)| {
            t.phonemes.as_deref().filter(|p| !p.is_empty()).map(|p| (p.contains(PRIMARY), stress_weight(p), i))
        })
        .collect();
    if indices.len() == 2 && tokens[indices[0].2].text.chars().count() == 1 {
        let i = indices[1].2;
        let demoted = tokens[i].phonemes.as_deref().map(|p| apply_stress(p, Some(-0.5)));
        tokens[i].phonemes = demoted;
        return;
    }
    let stressed = indices.iter().filter(|x| x.0).count();
    if indices.len() < 2 || stressed <= indices.len().div_ceil(2) {
        return;
    }
    indices.sort();
    for &(_, _, i) in &indices[..indices.len() / 2] {
        let demoted = tokens[i].phonemes.as_deref().map(|p| apply_stress(p, Some(-0.5)));
        tokens[i].phonemes = demoted;
    }
}

/// Lexicon entry point for one token (misaki's `Lexicon.__call__`).
pub fn lex(lexicon: &Lexicon, tk: &Tok, ctx: &Ctx) -> Option<Reading> {
    let raw = tk.alias.as_deref().unwrap_or(&tk.text).replace(['‘', '’'], "'");
    let word: String = nfkc_lite(&raw)
        .chars()
        .map(|c| if char_is_digit(c) { char::from_digit(digit_value(c).unwrap_or(0), 10).unwrap_or(c) } else { c })
        .collect();
    let stress = if eq_lower(&word) {
        None
    } else if eq_upper(&word) {
        Some(2.0)
    } else {
        Some(0.5)
    };
    if let Some((ps, rating)) = lexicon.get_word(&word, &tk.tag, stress, ctx) {
        return Some((lexicon.append_currency(ps, tk.currency.as_deref()), rating));
    }
    if is_number(&word, tk.is_head) {
        return lexicon.get_number(&word, tk.currency.as_deref(), tk.is_head);
    }
    None
}

/// Pipeline state borrowed from [`crate::G2p`].
pub struct Reader<'a> {
    pub lexicon: &'a Lexicon,
    pub patterns: &'a Patterns,
    pub oov: &'a mut Oov,
}

impl Reader<'_> {
    /// Unknown word: letters go to the OOV net, digits to the number reader, symbols to a table.
    fn fallback(&mut self, tk: &Tok) -> Result<(String, u8), G2pError> {
        let mut out: Vec<String> = Vec::new();
        for m in self.patterns.fallback.find_iter(&tk.text).filter_map(Result::ok) {
            let piece = m.as_str();
            let Some(first) = piece.chars().next() else { continue };
            let ps = if char_is_digit(first) {
                self.lexicon.get_number(piece, None, false).map(|(p, _)| p)
            } else if first.is_alphabetic() {
                self.oov.read(piece)?
            } else {
                Some(piece.chars().map(symbol_phonemes).collect())
            };
            if let Some(ps) = ps.filter(|p| !p.is_empty()) {
                out.push(ps);
            }
        }
        Ok(if out.is_empty() { (String::new(), 3) } else { (out.join(" "), 2) })
    }

    fn read_group(&mut self, w: &mut [Tok], ctx: &mut Ctx) -> Result<(), G2pError> {
        let (mut left, mut right) = (0, w.len());
        let mut should_fallback = false;
        while left < right {
            let span = &w[left..right];
            let merged = (!span.iter().any(|t| t.alias.is_some() || t.phonemes.is_some())).then(|| merge(span));
            let found = merged.as_ref().and_then(|tk| lex(self.lexicon, tk, ctx));
            if let (Some((ps, rating)), Some(tk)) = (found, merged.as_ref()) {
                *ctx = next_context(*ctx, Some(&ps), tk);
                w[left].phonemes = Some(ps);
                w[left].rating = Some(rating);
                for x in &mut w[left + 1..right] {
                    x.phonemes = Some(String::new());
                    x.rating = Some(rating);
                }
                right = left;
                left = 0;
            } else if left + 1 < right {
                left += 1;
            } else {
                right -= 1;
                let tk = &mut w[right];
                if tk.phonemes.is_none() {
                    if tk.text.chars().all(is_junk) {
                        tk.phonemes = Some(String::new());
                        tk.rating = Some(3);
                    } else {
                        should_fallback = true;
                        break;
                    }
                }
                left = 0;
            }
        }
        if should_fallback {
            let merged = merge(w);
            let (ps, rating) = self.fallback(&merged)?;
            w[0].phonemes = Some(ps);
            w[0].rating = Some(rating);
            for x in &mut w[1..] {
                x.phonemes = Some(String::new());
                x.rating = Some(rating);
            }
        } else {
            resolve(w);
        }
        Ok(())
    }

    /// Phonemes of tagged tokens, joined with a space wherever the text had one.
    pub fn phonemize(&mut self, tokens: Vec<Tok>) -> Result<String, G2pError> {
        let mut words = retokenize(self.patterns, tokens);
        let mut ctx = Ctx::default();
        for w in words.iter_mut().rev() {
            match w {
                Word::One(tk) => {
                    if tk.phonemes.is_none() {
                        if let Some((ps, r)) = lex(self.lexicon, tk, &ctx) {
                            tk.phonemes = Some(ps);
                            tk.rating = Some(r);
                        }
                    }
                    if tk.phonemes.is_none() {
                        let (ps, r) = self.fallback(tk)?;
                        tk.phonemes = Some(ps);
                        tk.rating = Some(r);
                    }
                    ctx = next_context(ctx, tk.phonemes.as_deref(), tk);
                }
                Word::Many(group) => self.read_group(group, &mut ctx)?,
            }
        }
        let mut out = String::new();
        for w in &words {
            let (ps, ws) = match w {
                Word::One(tk) => (tk.phonemes.clone().unwrap_or_default(), tk.ws),
                Word::Many(g) => (joined_phonemes(g), g.last().is_some_and(|t| t.ws)),
            };
            for c in ps.chars() {
                out.push(match c {
                    'ɾ' => 'T',
                    'ʔ' => 't',
                    c => c,
                });
            }
            if ws {
                out.push(' ');
            }
        }
        Ok(out.trim_matches(char::is_whitespace).to_owned())
    }
}
