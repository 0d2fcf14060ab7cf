//! SSML-lite: the small part of SSML that IVR prompts use, read into [`Segment`]s.
//!
//! Supported:
//! - `<speak>...</speak>`: optional wrapper.
//! - `<break time="500ms"/>`, `time="1s"` / `"1.5s"`, or `strength="none|x-weak|weak|medium|strong|x-strong"`:
//!   silence (at most [`MAX_BREAK_MS`]; longer is clamped).
//! - `<say-as interpret-as="digits">1234</say-as>` -> "one two three four";
//!   `interpret-as="characters"` (or `"spell-out"`) spells letters and digits one by one
//!   ("AB1" -> "A B one"). Other `interpret-as` values speak the content as written.
//! - `<prosody rate="x-slow|slow|medium|fast|x-fast|90%|+10%|1.2">...</prosody>`: the voice's
//!   speed, nested rates multiplying, clamped to [`RATE_RANGE`].
//! - `&amp; &lt; &gt; &quot; &apos; &#65; &#x41;` entities; `<!-- comments -->` and `<?xml ...?>`.
//! - Any other element is transparent: its content is spoken, the tag ignored.
//!
//! Text without `<` is plain text and passes through unchanged (no entity decoding: "AT&T" stays
//! as it is). Text with `<` is markup; malformed markup is an [`SsmlError`] naming the byte
//! offset, never a panic.

use types::MediaTime;

/// Longest break honoured; a longer `time` is clamped (a typo like `time="500s"` must not stall a
/// call for minutes or allocate minutes of silence).
pub const MAX_BREAK_MS: u64 = 10_000;
/// Speeds `<prosody rate>` can reach, as multiples of the voice's own pace.
pub const RATE_RANGE: (f32, f32) = (0.5, 2.0);

/// One piece of a prompt.
#[derive(Debug, Clone, PartialEq)]
pub enum Segment {
    /// Text to speak at `rate` times the voice's own pace. Adjacent text at the same rate is one
    /// segment, so sentences are not cut at markup.
    Text { text: String, rate: f32 },
    /// Silence.
    Break(MediaTime),
}

/// Where and why markup could not be read.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("SSML at byte {position}: {kind}")]
pub struct SsmlError {
    /// Byte offset in the input where the problem starts.
    pub position: usize,
    pub kind: SsmlErrorKind,
}

#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum SsmlErrorKind {
    #[error("tag is not closed with '>'")]
    UnterminatedTag,
    #[error("comment or declaration is not closed")]
    UnterminatedComment,
    #[error("bad tag name")]
    BadTagName,
    #[error("bad attribute syntax")]
    BadAttribute,
    #[error("<{name}> is never closed")]
    Unclosed { name: String },
    #[error("</{found}> closes {}", expected.as_deref().map_or("nothing".to_owned(), |e| format!("<{e}>")))]
    MismatchedClose { expected: Option<String>, found: String },
    #[error("unknown or unterminated entity {0:?}")]
    BadEntity(String),
    #[error("{attribute}={value:?} is not understood")]
    BadValue { attribute: &'static str, value: String },
    #[error("<say-as> may hold only text")]
    MarkupInSayAs,
}

/// Reads `input` into segments. Empty input gives no segments.
pub fn parse(input: &str) -> Result<Vec<Segment>, SsmlError> {
    let mut out = Output::default();
    if !input.contains('<') {
        out.text(input, 1.0);
        return Ok(out.segments);
    }
    Parser { src: input, pos: 0, stack: Vec::new(), out }.run()
}

#[derive(Default)]
struct Output {
    segments: Vec<Segment>,
    /// The last segment ends with a spelled-out run: text that follows directly needs a space.
    after_spelling: bool,
}

impl Output {
    fn text(&mut self, text: &str, rate: f32) {
        if text.is_empty() {
            return;
        }
        let needs_space = self.after_spelling && text.starts_with(|c: char| c.is_alphanumeric());
        self.after_spelling = false;
        if let Some(Segment::Text { text: t, rate: r }) = self.segments.last_mut() {
            if *r == rate {
                if needs_space {
                    t.push(' ');
                }
                t.push_str(text);
                return;
            }
        }
        self.segments.push(Segment::Text { text: text.to_owned(), rate });
    }

    fn spelled(&mut self, words: &str, rate: f32) {
        if words.is_empty() {
            return;
        }
        let needs_space = matches!(self.segments.last(), Some(Segment::Text { text, rate: r }) if *r == rate && !text.ends_with(char::is_whitespace));
        if needs_space {
            self.text(" ", rate);
        }
        self.text(words, rate);
        self.after_spelling = true;
    }

    fn pause(&mut self, t: MediaTime) {
        self.after_spelling = false;
        if t.as_micros() > 0 {
            self.segments.push(Segment::Break(t));
        }
    }
}

struct Open {
    name: String,
    position: usize,
    /// Speed inside this element.
    rate: f32,
    /// For `<say-as>`: how to speak the content (`None`: as written).
    spell: Option<Spell>,
}

#[derive(Clone, Copy, PartialEq, Eq)]
enum Spell {
    Digits,
    Characters,
}

struct Parser<'a> {
    src: &'a str,
    pos: usize,
    stack: Vec<Open>,
    out: Output,
}

impl Parser<'_> {
    fn run(mut self) -> Result<Vec<Segment>, SsmlError> {
        let mut text = String::new();
        while self.pos < self.src.len() {
            let rest = &self.src[self.pos..];
            let Some(lt) = rest.find('<') else {
                decode(rest, self.pos, &mut text)?;
                self.pos = self.src.len();
                break;
            };
            decode(&rest[..lt], self.pos, &mut text)?;
            self.pos += lt;
            let rest = &self.src[self.pos..];
            if let Some(skip) = [("<!--", "-->"), ("<?", "?>"), ("<!", ">")].iter().find(|(open, _)| rest.starts_with(open)) {
                let end = rest.find(skip.1).ok_or(self.err(SsmlErrorKind::UnterminatedComment))?;
                self.pos += end + skip.1.len();
                continue;
            }
            if self.stack.last().is_some_and(|o| o.spell.is_some()) && !rest.starts_with("</") {
                return Err(self.err(SsmlErrorKind::MarkupInSayAs));
            }
            self.flush(&mut text);
            self.tag()?;
        }
        self.flush(&mut text);
        if let Some(open) = self.stack.pop() {
            return Err(SsmlError { position: open.position, kind: SsmlErrorKind::Unclosed { name: open.name } });
        }
        Ok(self.out.segments)
    }

    fn rate(&self) -> f32 {
        self.stack.last().map_or(1.0, |o| o.rate)
    }

    fn err(&self, kind: SsmlErrorKind) -> SsmlError {
        SsmlError { position: self.pos, kind }
    }

    /// Hands the text read so far to the output, spelled out inside `<say-as>`.
    fn flush(&mut self, text: &mut String) {
        let rate = self.rate();
        match self.stack.last().and_then(|o| o.spell) {
            Some(mode) => self.out.spelled(&spell_out(text, mode), rate),
            None => self.out.text(text, rate),
        }
        text.clear();
    }

    /// Reads one tag at `self.pos` (which is on '<').
    fn tag(&mut self) -> Result<(), SsmlError> {
        let start = self.pos;
        let rest = &self.src[start..];
        let gt = find_tag_end(rest).ok_or(self.err(SsmlErrorKind::UnterminatedTag))?;
        let inner = &rest[1..gt];
        self.pos = start + gt + 1;
        let bad = |kind| SsmlError { position: start, kind };
        if let Some(name) = inner.strip_prefix('/') {
            let name = name.trim_end();
            if !valid_name(name) {
                return Err(bad(SsmlErrorKind::BadTagName));
            }
            return match self.stack.pop() {
                Some(open) if open.name == name => Ok(()),
                other => Err(bad(SsmlErrorKind::MismatchedClose { expected: other.map(|o| o.name), found: name.to_owned() })),
            };
        }
        let (inner, empty) = match inner.strip_suffix('/') {
            Some(i) => (i, true),
            None => (inner, false),
        };
        let name_end = inner.find(char::is_whitespace).unwrap_or(inner.len());
        let name = &inner[..name_end];
        if !valid_name(name) {
            return Err(bad(SsmlErrorKind::BadTagName));
        }
        let attrs = attributes(&inner[name_end..]).ok_or(bad(SsmlErrorKind::BadAttribute))?;
        let attr = |key: &str| attrs.iter().find(|(k, _)| *k == key).map(|(_, v)| v.as_str());
        let mut rate = self.rate();
        let mut spell = None;
        match name {
            "break" => {
                let t = match (attr("time"), attr("strength")) {
                    (Some(v), _) => parse_time(v).ok_or_else(|| bad(SsmlErrorKind::BadValue { attribute: "time", value: v.to_owned() }))?,
                    (None, Some(v)) => strength(v).ok_or_else(|| bad(SsmlErrorKind::BadValue { attribute: "strength", value: v.to_owned() }))?,
                    (None, None) => MediaTime::from_millis(400),
                };
                self.out.pause(t);
            }
            "prosody" => {
                if let Some(v) = attr("rate") {
                    let factor = parse_rate(v).ok_or_else(|| bad(SsmlErrorKind::BadValue { attribute: "rate", value: v.to_owned() }))?;
                    rate = (rate * factor).clamp(RATE_RANGE.0, RATE_RANGE.1);
                }
            }
            "say-as" => {
                spell = match attr("interpret-as") {
                    Some("digits") => Some(Spell::Digits),
                    Some("characters" | "spell-out") => Some(Spell::Characters),
                    _ => None,
                };
            }
            _ => {}
        }
        // `<break ...></break>` (a separate close tag) is accepted like `<break .../>`.
        if !empty {
            self.stack.push(Open { name: name.to_owned(), position: start, rate, spell });
        }
        Ok(())
    }
}

/// Offset of the '>' that ends the tag starting at `s[0] == '<'`, skipping quoted values.
fn find_tag_end(s: &str) -> Option<usize> {
    let mut quote = None;
    for (i, c) in s.char_indices().skip(1) {
        match (quote, c) {
            (None, '"' | '\'') => quote = Some(c),
            (Some(q), _) if c == q => quote = None,
            (None, '>') => return Some(i),
            (None, '<') => return None,
            _ => {}
        }
    }
    None
}

fn valid_name(name: &str) -> bool {
    let mut chars = name.chars();
    chars.next().is_some_and(|c| c.is_ascii_alphabetic()) && chars.all(|c| c.is_ascii_alphanumeric() || matches!(c, '-' | '_' | ':' | '.'))
}

/// `key="value"` pairs (single or double quotes), entities in values decoded. `None` on bad syntax.
fn attributes(mut s: &str) -> Option<Vec<(&str, String)>> {
    let mut out = Vec::new();
    loop {
        s = s.trim_start();
        if s.is_empty() {
            return Some(out);
        }
        let eq = s.find('=')?;
        let key = s[..eq].trim_end();
        if !valid_name(key) {
            return None;
        }
        s = s[eq + 1..].trim_start();
        let q = s.chars().next().filter(|c| matches!(c, '"' | '\''))?;
        let end = s[1..].find(q)? + 1;
        let mut value = String::new();
        decode(&s[1..end], 0, &mut value).ok()?;
        out.push((key, value));
        s = &s[end + 1..];
    }
}

/// Appends `s` with entities decoded. `base` is `s`'s offset in the input, for errors.
fn decode(s: &str, base: usize, out: &mut String) -> Result<(), SsmlError> {
    let mut rest = s;
    while let Some(amp) = rest.find('&') {
        out.push_str(&rest[..amp]);
        let after = &rest[amp + 1..];
        let position = base + (s.len() - rest.len()) + amp;
        let semi = after.find(';').filter(|&i| i <= 10);
        // For the error message: up to 10 characters (not bytes: never cut a character).
        let shown = after.char_indices().nth(10).map_or(after.len(), |(i, _)| i);
        let name = semi.map_or(&after[..shown], |i| &after[..i]);
        let c = semi.and_then(|_| entity(name));
        let Some(c) = c else {
            return Err(SsmlError { position, kind: SsmlErrorKind::BadEntity(format!("&{name}")) });
        };
        out.push(c);
        rest = &after[name.len() + 1..];
    }
    out.push_str(rest);
    Ok(())
}

fn entity(name: &str) -> Option<char> {
    match name {
        "amp" => Some('&'),
        "lt" => Some('<'),
        "gt" => Some('>'),
        "quot" => Some('"'),
        "apos" => Some('\''),
        _ => {
            let num = name.strip_prefix('#')?;
            let code = match num.strip_prefix(['x', 'X']) {
                Some(hex) => u32::from_str_radix(hex, 16).ok()?,
                None => num.parse().ok()?,
            };
            char::from_u32(code)
        }
    }
}

/// `500ms`, `1s`, `1.5s` (spaces allowed before the unit), clamped to [`MAX_BREAK_MS`].
fn parse_time(v: &str) -> Option<MediaTime> {
    let v = v.trim();
    let (num, scale) = if let Some(n) = v.strip_suffix("ms") { (n, 1.0) } else { (v.strip_suffix('s')?, 1000.0) };
    let x: f64 = num.trim().parse().ok()?;
    if !(x.is_finite() && x >= 0.0) {
        return None;
    }
    let ms = (x * scale).round().min(MAX_BREAK_MS as f64) as u64;
    Some(MediaTime::from_millis(ms))
}

fn strength(v: &str) -> Option<MediaTime> {
    let ms = match v {
        "none" => 0,
        "x-weak" => 100,
        "weak" => 200,
        "medium" => 400,
        "strong" => 700,
        "x-strong" => 1000,
        _ => return None,
    };
    Some(MediaTime::from_millis(ms))
}

/// A `<prosody rate>` value as a factor on the current speed.
fn parse_rate(v: &str) -> Option<f32> {
    let v = v.trim();
    let named = match v {
        "x-slow" => Some(0.6),
        "slow" => Some(0.8),
        "medium" | "default" => Some(1.0),
        "fast" => Some(1.25),
        "x-fast" => Some(1.5),
        _ => None,
    };
    if named.is_some() {
        return named;
    }
    let factor = if let Some(p) = v.strip_suffix('%') {
        let x: f32 = p.trim_start_matches('+').parse().ok()?;
        // "+10%" / "-10%" are relative changes; "90%" is a share of the pace.
        if p.starts_with(['+', '-']) {
            1.0 + x / 100.0
        } else {
            x / 100.0
        }
    } else {
        v.parse().ok()?
    };
    (factor.is_finite() && factor > 0.0).then_some(factor)
}

const DIGITS: [&str; 10] = ["zero", "one", "two", "three", "four", "five", "six", "seven", "eight", "nine"];

/// Letters and digits one by one: digits as words, letters as capitals (which a phonemizer reads
/// as letter names). Everything else is left out.
fn spell_out(text: &str, mode: Spell) -> String {
    let mut words: Vec<String> = Vec::new();
    for c in text.chars() {
        if let Some(d) = c.to_digit(10) {
            words.push(DIGITS[d as usize].to_owned());
        } else if mode == Spell::Characters && c.is_alphabetic() {
            words.push(c.to_uppercase().collect());
        }
    }
    words.join(" ")
}

#[cfg(test)]
#[allow(clippy::unwrap_used)]
mod tests {
    use super::*;

    fn text(t: &str, rate: f32) -> Segment {
        Segment::Text { text: t.to_owned(), rate }
    }

    #[test]
    fn plain_text_passes_through_unchanged() {
        assert_eq!(parse("Press 1 for AT&T billing.").unwrap(), [text("Press 1 for AT&T billing.", 1.0)]);
        assert_eq!(parse("").unwrap(), []);
    }

    #[test]
    fn breaks_become_silence_of_their_length() {
        let s = parse(r#"<speak>Hello.<break time="500ms"/>Goodbye.<break time='1s'/><break time="1.5 s"/></speak>"#).unwrap();
        assert_eq!(
            s,
            [text("Hello.", 1.0), Segment::Break(MediaTime::from_millis(500)), text("Goodbye.", 1.0), Segment::Break(MediaTime::from_millis(1000)), Segment::Break(MediaTime::from_millis(1500))]
        );
        assert_eq!(parse(r#"<break time="600s"/>"#).unwrap(), [Segment::Break(MediaTime::from_millis(MAX_BREAK_MS))]);
        assert_eq!(parse(r#"<break strength="weak"/>"#).unwrap(), [Segment::Break(MediaTime::from_millis(200))]);
    }

    #[test]
    fn say_as_digits_and_characters_spell_one_by_one() {
        let s = parse(r#"Your code is <say-as interpret-as="digits">1234</say-as>. Ref <say-as interpret-as="characters">AB-9c</say-as>now."#).unwrap();
        assert_eq!(s, [text("Your code is one two three four. Ref A B nine C now.", 1.0)]);
        let s = parse(r#"<say-as interpret-as="date">2024-01-02</say-as>"#).unwrap();
        assert_eq!(s, [text("2024-01-02", 1.0)]);
    }

    #[test]
    fn prosody_rate_maps_to_speed_and_nests() {
        let s = parse(r#"<prosody rate="slow">Slowly <prosody rate="90%">slower</prosody></prosody> normal <prosody rate="x-fast">quick</prosody><prosody rate="+10%">a</prosody><prosody rate="9">b</prosody>"#).unwrap();
        let got: Vec<(&str, u32)> = s
            .iter()
            .map(|seg| match seg {
                Segment::Text { text, rate } => (text.as_str(), (rate * 100.0).round() as u32),
                Segment::Break(_) => ("", 0),
            })
            .collect();
        assert_eq!(got, [("Slowly ", 80), ("slower", 72), (" normal ", 100), ("quick", 150), ("a", 110), ("b", 200)]);
    }

    #[test]
    fn entities_are_decoded_in_markup() {
        let s = parse("<speak>AT&amp;T &lt;3 &#65;&#x42; &quot;hi&apos;</speak>").unwrap();
        assert_eq!(s, [text("AT&T <3 AB \"hi'", 1.0)]);
    }

    #[test]
    fn comments_declarations_and_unknown_elements_are_transparent() {
        let s = parse(r#"<?xml version="1.0"?><speak><!-- note --><p><emphasis level="strong">Hi</emphasis> there</p></speak>"#).unwrap();
        assert_eq!(s, [text("Hi there", 1.0)]);
    }

    #[test]
    fn malformed_markup_is_an_error_naming_the_position() {
        let cases: [(&str, usize, SsmlErrorKind); 9] = [
            ("<speak>Hi", 0, SsmlErrorKind::Unclosed { name: "speak".into() }),
            ("Hi <break time=\"1s\"", 3, SsmlErrorKind::UnterminatedTag),
            ("a</speak>", 1, SsmlErrorKind::MismatchedClose { expected: None, found: "speak".into() }),
            ("<p><s>x</p></s>", 7, SsmlErrorKind::MismatchedClose { expected: Some("s".into()), found: "p".into() }),
            ("<speak>A & B</speak>", 9, SsmlErrorKind::BadEntity("& B".into())),
            ("<break time=\"soon\"/>", 0, SsmlErrorKind::BadValue { attribute: "time", value: "soon".into() }),
            ("<prosody rate=\"-5\">x</prosody>", 0, SsmlErrorKind::BadValue { attribute: "rate", value: "-5".into() }),
            ("<1a>", 0, SsmlErrorKind::BadTagName),
            ("x <say-as interpret-as=\"digits\">1<break/>2</say-as>", 33, SsmlErrorKind::MarkupInSayAs),
        ];
        for (input, position, kind) in cases {
            let e = parse(input).unwrap_err();
            assert_eq!(e, SsmlError { position, kind }, "{input:?}: {e}");
        }
        assert!(matches!(parse("<p a=b>x</p>"), Err(SsmlError { kind: SsmlErrorKind::BadAttribute, .. })));
        assert!(matches!(parse("<!-- x"), Err(SsmlError { kind: SsmlErrorKind::UnterminatedComment, .. })));
    }

    #[test]
    fn arbitrary_bytes_never_panic() {
        // A cheap deterministic fuzz over markup-ish alphabets, multibyte characters included.
        let alphabet: Vec<char> = "<>/=\"' &;#x1aé中speakbrtimsy-:!?".chars().collect();
        let mut state = 0x1234_5678u32;
        for _ in 0..20_000 {
            let len = (state % 24) as usize;
            let s: String = (0..len)
                .map(|_| {
                    state ^= state << 13;
                    state ^= state >> 17;
                    state ^= state << 5;
                    alphabet[state as usize % alphabet.len()]
                })
                .collect();
            let _ = parse(&s);
        }
    }
}
