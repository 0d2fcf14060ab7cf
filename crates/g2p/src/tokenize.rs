//! Word tokenizer following spaCy's English rules as hibari restates them: special cases
//! (contractions, "Mr.") first, then prefixes and suffixes peeled off each whitespace-separated
//! chunk, then infixes (hyphens, slashes) split the rest; finally adjacent pieces that spell a
//! special case are joined back ("Sept" "." -> "Sept."). The tagger was trained on spaCy's
//! tokens, so the split points have to be the same.

use std::collections::HashMap;

use fancy_regex::Regex;

use crate::text::is_space;

const LO: &str = "a-zß-öø-ÿ";
const UP: &str = "A-ZÀ-ÖØ-Þ";
const QUOTES: &str = "'\"”“`‘´’‚,„»«「」『』（）〔〕【】《》〈〉";
const PUNCT: &str = "…,:;!?¿¡()[]{}<>_#*&。？！，、；：～·";
const ICONS: &str = "™®©°§¶†‡•";
const CURRENCY: &str = r"\$|£|€|¥|฿|US\$|C\$|A\$|₽|₹|₩|₪|₺|₴|₦|₫|₱|₲|₵|₸|₼|₾|₿";
const UNITS: &str = "km|km²|km³|m|m²|m³|dm|dm²|dm³|cm|cm²|cm³|mm|mm²|mm³|ha|µm|nm|yd|in|ft|kg|g|mg|µg|t|lb|oz|m/s|km/h\
|kmh|mph|hPa|Pa|mbar|mb|MB|kb|KB|gb|GB|tb|TB|T|G|M|K|%";
const URL: &str = r"(?i)^(?:(?:https?|ftp)://|www\.)\S+$|^[\w.+-]+@[\w-]+(?:\.[\w-]+)+$|^(?:[\w-]+\.)+(?:com|org|net|edu|gov|io|co|uk|de|fr|info|biz|us|ca|au|tv|me|ly|ai)(?:/\S*)?$";

/// Escapes characters for use inside a `[...]` class.
pub fn class_escape(chars: &str) -> String {
    let mut out = String::with_capacity(chars.len() * 2);
    for c in chars.chars() {
        if c.is_ascii_punctuation() {
            out.push('\\');
        }
        out.push(c);
    }
    out
}

/// Each character as its own escaped alternative.
fn char_alternatives(chars: &str) -> Vec<String> {
    chars.chars().map(|c| fancy_regex::escape(&c.to_string()).into_owned()).collect()
}

/// Builds one of the crate's fixed patterns. They are constants checked by the unit tests, so
/// a failure here is a programming error; it is still reported, not panicked on.
pub fn compile(pattern: &str) -> Result<Regex, String> {
    Regex::new(pattern).map_err(|e| format!("pattern {pattern:?}: {e}"))
}

#[derive(Debug)]
pub struct Tokenizer {
    special: HashMap<String, Vec<String>>,
    prefix: Regex,
    suffix: Regex,
    infix: Regex,
    url: Regex,
}

/// A token and whether whitespace followed it in the text.
pub type Piece = (String, bool);

impl Tokenizer {
    pub fn new(special: HashMap<String, Vec<String>>) -> Result<Self, String> {
        let punct = char_alternatives(PUNCT);
        let quotes = char_alternatives(QUOTES);
        let icons = format!("[{}]", class_escape(ICONS));
        let (p_cls, q_cls) = (class_escape(PUNCT), class_escape(QUOTES));

        let mut prefixes: Vec<String> =
            ["§", "%", "=", "—", "–", r"\+(?![0-9])", "…", "……"].iter().map(|s| (*s).to_owned()).collect();
        prefixes.extend(punct.iter().cloned());
        prefixes.extend([r"\.\.+".to_owned(), "…".to_owned()]);
        prefixes.extend(quotes.iter().cloned());
        prefixes.push(CURRENCY.to_owned());
        prefixes.push(icons.clone());

        let mut suffixes: Vec<String> = vec!["…".to_owned(), "……".to_owned()];
        suffixes.extend(punct.iter().cloned());
        suffixes.extend([r"\.\.+".to_owned(), "…".to_owned()]);
        suffixes.extend(quotes.iter().cloned());
        suffixes.push(icons.clone());
        suffixes.extend(["'s", "'S", "’s", "’S", "—", "–"].iter().map(|s| (*s).to_owned()));
        suffixes.extend([
            r"(?<=[0-9])\+".to_owned(),
            r"(?<=°[FfCcKk])\.".to_owned(),
            format!("(?<=[0-9])(?:{CURRENCY})"),
            format!("(?<=[0-9])(?:{UNITS})"),
            format!(r"(?<=[0-9{LO}%²\-\+{p_cls}{q_cls}])\."),
            format!(r"(?<=[{UP}][{UP}])\."),
        ]);

        let letter = r"[^\W\d_]";
        let infixes = [
            r"\.\.+".to_owned(),
            "…".to_owned(),
            icons,
            r"(?<=[0-9])[+\-\*^](?=[0-9-])".to_owned(),
            format!(r"(?<=[{LO}{q_cls}])\.(?=[{UP}{q_cls}])"),
            format!(r"(?<={letter}),(?={letter})"),
            format!(r"(?<=[^\W_])(?:-|–|—|--|---|——|~)(?={letter})"),
            format!(r"(?<=[^\W_])[:<>=/](?={letter})"),
        ];
        let join =
            |parts: &[String], f: &dyn Fn(&str) -> String| parts.iter().map(|p| f(p)).collect::<Vec<_>>().join("|");
        Ok(Tokenizer {
            special,
            prefix: compile(&join(&prefixes, &|p| format!("^(?:{p})")))?,
            suffix: compile(&join(&suffixes, &|s| format!("(?:{s})$")))?,
            infix: compile(&join(&infixes, &|i| format!("(?:{i})")))?,
            url: compile(URL)?,
        })
    }

    /// Tokens of a text with their trailing-whitespace flags.
    pub fn tokenize(&self, text: &str) -> Vec<Piece> {
        let mut out = Vec::new();
        let mut rest = text;
        while let Some((start, _)) = rest.char_indices().find(|&(_, c)| !is_space(c)) {
            rest = &rest[start..];
            let end = rest.char_indices().find(|&(_, c)| is_space(c)).map_or(rest.len(), |(i, _)| i);
            let chunk = &rest[..end];
            rest = &rest[end..];
            let toks = self.split(chunk);
            let n = toks.len();
            for (i, t) in toks.into_iter().enumerate() {
                out.push((t, i + 1 == n && !rest.is_empty()));
            }
        }
        out
    }

    /// Whether any prefix pattern could match `s`: the patterns are a regex VM run per
    /// position (look-around), so most words skip them on their first character instead.
    fn prefix_possible(s: &str) -> bool {
        let mut it = s.chars();
        let Some(c) = it.next() else { return false };
        "§%=—–+….$£€¥฿₽₹₩₪₺₴₦₫₱₲₵₸₼₾₿".contains(c)
            || PUNCT.contains(c)
            || QUOTES.contains(c)
            || ICONS.contains(c)
            || ("UCA".contains(c) && it.next() == Some('$'))
    }

    /// Whether any suffix pattern could match `s` (same purpose as [`Self::prefix_possible`]):
    /// unit and currency suffixes need a digit before them.
    fn suffix_possible(s: &str) -> bool {
        let mut it = s.chars().rev();
        let Some(c) = it.next() else { return false };
        "….+—–".contains(c)
            || PUNCT.contains(c)
            || QUOTES.contains(c)
            || ICONS.contains(c)
            || ("sS".contains(c) && it.next().is_some_and(|q| q == '\'' || q == '’'))
            || s.bytes().any(|b| b.is_ascii_digit())
    }

    /// Whether any infix pattern could match `s`.
    fn infix_possible(s: &str) -> bool {
        s.chars().any(|c| ".…+-*^,–—~:<>=/".contains(c) || ICONS.contains(c))
    }

    fn find_len(re: &Regex, s: &str) -> usize {
        // A regex error (backtracking limit) counts as no match: the chunk stays whole.
        match re.find(s) {
            Ok(Some(m)) => m.end() - m.start(),
            _ => 0,
        }
    }

    fn split(&self, chunk: &str) -> Vec<String> {
        let special = &self.special;
        if let Some(v) = special.get(chunk) {
            return v.clone();
        }
        let mut s = chunk;
        let (mut pre, mut suf): (Vec<&str>, Vec<&str>) = (Vec::new(), Vec::new());
        let mut last = usize::MAX;
        while !s.is_empty() && s.len() != last && !special.contains_key(s) {
            last = s.len();
            let pre_len = if Self::prefix_possible(s) { Self::find_len(&self.prefix, s) } else { 0 };
            if pre_len > 0 && pre_len < s.len() && special.contains_key(&s[pre_len..]) {
                pre.push(&s[..pre_len]);
                s = &s[pre_len..];
                break;
            }
            let rest = &s[pre_len..];
            let suf_len = if Self::suffix_possible(rest) { Self::find_len(&self.suffix, rest) } else { 0 };
            let cut = s.len() - suf_len;
            if suf_len > 0 && cut > 0 && special.contains_key(&s[..cut]) {
                suf.push(&s[cut..]);
                s = &s[..cut];
                break;
            }
            if pre_len > 0 && suf_len > 0 && pre_len + suf_len <= s.len() {
                pre.push(&s[..pre_len]);
                suf.push(&s[cut..]);
                s = &s[pre_len..cut];
            } else if pre_len > 0 {
                pre.push(&s[..pre_len]);
                s = &s[pre_len..];
            } else if suf_len > 0 {
                suf.push(&s[cut..]);
                s = &s[..cut];
            }
        }
        let mut toks: Vec<String> = pre.into_iter().map(str::to_owned).collect();
        if !s.is_empty() {
            if let Some(v) = special.get(s) {
                toks.extend(v.iter().cloned());
            } else if self.url.is_match(s).unwrap_or(false) {
                toks.push(s.to_owned());
            } else {
                let mut start = 0;
                let infixes = if Self::infix_possible(s) { Some(self.infix.find_iter(s)) } else { None };
                for m in infixes.into_iter().flatten() {
                    let Ok(m) = m else { break };
                    if m.start() == 0 || m.start() == m.end() {
                        continue;
                    }
                    if m.start() > start {
                        toks.push(s[start..m.start()].to_owned());
                    }
                    toks.push(m.as_str().to_owned());
                    start = m.end();
                }
                if start < s.len() {
                    toks.push(s[start..].to_owned());
                }
            }
        }
        toks.extend(suf.into_iter().rev().map(str::to_owned));
        if toks.len() > 1 {
            self.rejoin(toks)
        } else {
            toks
        }
    }

    /// spaCy's special-case pass over split pieces: "Sept" "." -> "Sept.".
    fn rejoin(&self, toks: Vec<String>) -> Vec<String> {
        let mut out = Vec::with_capacity(toks.len());
        let mut i = 0;
        'outer: while i < toks.len() {
            for k in [3, 2] {
                if i + k <= toks.len() {
                    let joined = toks[i..i + k].concat();
                    if let Some(v) = self.special.get(&joined) {
                        out.extend(v.iter().cloned());
                        i += k;
                        continue 'outer;
                    }
                }
            }
            out.push(toks[i].clone());
            i += 1;
        }
        out
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn tok() -> Tokenizer {
        let mut special = HashMap::new();
        special.insert("don't".to_owned(), vec!["do".to_owned(), "n't".to_owned()]);
        special.insert("Mr.".to_owned(), vec!["Mr.".to_owned()]);
        Tokenizer::new(special).expect("patterns compile")
    }

    fn texts(t: &Tokenizer, s: &str) -> Vec<String> {
        t.tokenize(s).into_iter().map(|(t, _)| t).collect()
    }

    #[test]
    fn splits_affixes_and_infixes() {
        let t = tok();
        assert_eq!(texts(&t, "\"Hello, world!\""), ["\"", "Hello", ",", "world", "!", "\""]);
        assert_eq!(texts(&t, "don't"), ["do", "n't"]);
        assert_eq!(texts(&t, "(Mr."), ["(", "Mr."]);
        assert_eq!(texts(&t, "well-known 5km U.S."), ["well", "-", "known", "5", "km", "U.S."]);
        assert_eq!(texts(&t, "www.contoso.com"), ["www.contoso.com"]);
        let ws: Vec<bool> = t.tokenize("a b.").into_iter().map(|(_, w)| w).collect();
        assert_eq!(ws, [true, false, false]);
    }
}
