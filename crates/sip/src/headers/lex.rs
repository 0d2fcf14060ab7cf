//! Lexical pieces of the RFC 3261 §25.1 grammar shared by the header parsers: tokens, quoted
//! strings, separators with optional whitespace (SWS), generic parameters and comma lists.

use std::fmt;

/// `token` characters (RFC 3261 §25.1).
pub fn is_token_char(c: u8) -> bool {
    c.is_ascii_alphanumeric()
        || matches!(c, b'-' | b'.' | b'!' | b'%' | b'*' | b'_' | b'+' | b'`' | b'\'' | b'~')
}

/// `word` characters (RFC 3261 §25.1), used by Call-ID.
pub fn is_word_char(c: u8) -> bool {
    is_token_char(c)
        || matches!(
            c,
            b'(' | b')'
                | b'<'
                | b'>'
                | b':'
                | b'\\'
                | b'"'
                | b'/'
                | b'['
                | b']'
                | b'?'
                | b'{'
                | b'}'
        )
}

/// True when `s` is a non-empty `token`.
pub fn is_token(s: &str) -> bool {
    !s.is_empty() && s.bytes().all(is_token_char)
}

/// A byte cursor over a header value.
#[derive(Debug, Clone)]
pub struct Cursor<'a> {
    s: &'a str,
    pos: usize,
}

impl<'a> Cursor<'a> {
    pub fn new(s: &'a str) -> Self {
        Self { s, pos: 0 }
    }

    pub fn rest(&self) -> &'a str {
        &self.s[self.pos..]
    }

    pub fn is_empty(&self) -> bool {
        self.pos >= self.s.len()
    }

    /// Moves past `n` bytes; callers only advance past ASCII, keeping char boundaries.
    pub fn advance(&mut self, n: usize) {
        self.pos = (self.pos + n).min(self.s.len());
    }

    pub fn peek(&self) -> Option<u8> {
        self.s.as_bytes().get(self.pos).copied()
    }

    /// Skips spaces and tabs (unfolded LWS).
    pub fn skip_ws(&mut self) -> bool {
        let start = self.pos;
        while matches!(self.peek(), Some(b' ' | b'\t')) {
            self.pos += 1;
        }
        self.pos > start
    }

    /// Consumes `c`, with optional whitespace before and after it (SWS c SWS).
    pub fn eat_sep(&mut self, c: u8) -> bool {
        let save = self.pos;
        self.skip_ws();
        if self.peek() == Some(c) {
            self.pos += 1;
            self.skip_ws();
            true
        } else {
            self.pos = save;
            false
        }
    }

    pub fn eat(&mut self, c: u8) -> bool {
        if self.peek() == Some(c) {
            self.pos += 1;
            true
        } else {
            false
        }
    }

    /// Takes the longest run of bytes matching `pred` (ASCII predicates only, so the slice
    /// boundaries stay on char boundaries).
    pub fn take_while(&mut self, pred: impl Fn(u8) -> bool) -> &'a str {
        let start = self.pos;
        while let Some(c) = self.peek() {
            if !pred(c) {
                break;
            }
            self.pos += 1;
        }
        &self.s[start..self.pos]
    }

    pub fn token(&mut self) -> Option<&'a str> {
        let t = self.take_while(is_token_char);
        (!t.is_empty()).then_some(t)
    }

    /// Parses a quoted-string at the cursor and returns its raw text, quotes included.
    pub fn quoted_string(&mut self) -> Result<&'a str, &'static str> {
        let bytes = self.s.as_bytes();
        if bytes.get(self.pos) != Some(&b'"') {
            return Err("expected a quoted string");
        }
        let start = self.pos;
        let mut i = self.pos + 1;
        while i < bytes.len() {
            match bytes[i] {
                b'\\' => {
                    // quoted-pair: any octet but CR and LF (RFC 3261 §25.1)
                    match bytes.get(i + 1) {
                        Some(b'\r' | b'\n') | None => return Err("bad escape in quoted string"),
                        Some(_) => i += 2,
                    }
                }
                b'"' => {
                    self.pos = i + 1;
                    return Ok(&self.s[start..self.pos]);
                }
                b'\r' | b'\n' => return Err("line break in quoted string"),
                _ => i += 1,
            }
        }
        Err("unterminated quoted string")
    }
}

/// Removes the quotes and quoted-pair escapes of a quoted-string (already validated).
pub fn unquote(raw: &str) -> String {
    let inner = raw.strip_prefix('"').and_then(|r| r.strip_suffix('"')).unwrap_or(raw);
    let mut out = String::with_capacity(inner.len());
    let mut chars = inner.chars();
    while let Some(c) = chars.next() {
        if c == '\\' {
            if let Some(n) = chars.next() {
                out.push(n);
            }
        } else {
            out.push(c);
        }
    }
    out
}

/// Quotes `s` as a quoted-string, escaping `"` and `\`.
pub fn quote(s: &str) -> String {
    let mut out = String::with_capacity(s.len() + 2);
    out.push('"');
    for c in s.chars() {
        if matches!(c, '"' | '\\') {
            out.push('\\');
        }
        if c != '\r' && c != '\n' {
            out.push(c);
        }
    }
    out.push('"');
    out
}

/// Splits a header value at the commas that separate list elements: commas inside
/// quoted strings and angle brackets are kept (RFC 3261 §7.3.1).
pub fn split_list(s: &str) -> Vec<&str> {
    let bytes = s.as_bytes();
    let mut out = Vec::new();
    let (mut start, mut i) = (0, 0);
    let (mut in_quote, mut in_angle) = (false, false);
    while i < bytes.len() {
        match bytes[i] {
            b'\\' if in_quote => i += 1,
            b'"' => in_quote = !in_quote,
            b'<' if !in_quote => in_angle = true,
            b'>' if !in_quote => in_angle = false,
            b',' if !in_quote && !in_angle => {
                out.push(s[start..i].trim());
                start = i + 1;
            }
            _ => {}
        }
        i += 1;
    }
    out.push(s[start..].trim());
    out
}

/// One `generic-param`: a name and an optional raw value (quotes kept if it was quoted).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Param {
    pub name: String,
    pub value: Option<String>,
}

/// An ordered list of `;name[=value]` parameters. Names compare case-insensitively.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Params(pub Vec<Param>);

impl Params {
    pub fn new() -> Self {
        Self(Vec::new())
    }

    /// `Some(None)` for a parameter present without value, `Some(Some(v))` with one.
    pub fn get(&self, name: &str) -> Option<Option<&str>> {
        self.0.iter().find(|p| p.name.eq_ignore_ascii_case(name)).map(|p| p.value.as_deref())
    }

    /// The parameter's value, unquoted.
    pub fn value(&self, name: &str) -> Option<String> {
        self.get(name).flatten().map(|v| if v.starts_with('"') { unquote(v) } else { v.into() })
    }

    pub fn contains(&self, name: &str) -> bool {
        self.get(name).is_some()
    }

    /// Sets (or replaces) a parameter, keeping its position if it existed.
    pub fn set(&mut self, name: &str, value: Option<&str>) {
        let value = value.map(str::to_owned);
        match self.0.iter_mut().find(|p| p.name.eq_ignore_ascii_case(name)) {
            Some(p) => p.value = value,
            None => self.0.push(Param { name: name.to_owned(), value }),
        }
    }

    pub fn remove(&mut self, name: &str) {
        self.0.retain(|p| !p.name.eq_ignore_ascii_case(name));
    }

    /// Parses `*( SEMI generic-param )` from the cursor. Stops at the end or at a byte that
    /// cannot continue the list (left for the caller to judge).
    pub fn parse(cur: &mut Cursor<'_>) -> Result<Self, &'static str> {
        let mut params = Vec::new();
        while cur.eat_sep(b';') {
            let name = cur.token().ok_or("empty or malformed parameter")?;
            let value = if cur.eat_sep(b'=') {
                if cur.peek() == Some(b'"') {
                    Some(cur.quoted_string()?.to_owned())
                } else {
                    let v = cur.take_while(is_param_value_char);
                    if v.is_empty() {
                        return Err("parameter without value after '='");
                    }
                    Some(v.to_owned())
                }
            } else {
                None
            };
            params.push(Param { name: name.to_owned(), value });
        }
        Ok(Self(params))
    }
}

/// `gen-value` characters outside quotes: token, host (IPv6 references included).
fn is_param_value_char(c: u8) -> bool {
    is_token_char(c) || matches!(c, b':' | b'[' | b']')
}

impl fmt::Display for Params {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        for p in &self.0 {
            write!(f, ";{}", p.name)?;
            if let Some(v) = &p.value {
                write!(f, "={v}")?;
            }
        }
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn list_split_keeps_commas_in_quotes_and_brackets() {
        let v = split_list(r#""a, b" <sip:x@y;p=1,2>, <sip:z@w> , c"#);
        assert_eq!(v, vec![r#""a, b" <sip:x@y;p=1,2>"#, "<sip:z@w>", "c"]);
    }

    #[test]
    fn params_tolerate_whitespace_around_separators() {
        let mut c = Cursor::new(" ;   tag    = 1918181833n ; lr");
        let p = Params::parse(&mut c).unwrap();
        assert_eq!(p.get("TAG"), Some(Some("1918181833n")));
        assert_eq!(p.get("lr"), Some(None));
        assert!(c.is_empty());
    }

    #[test]
    fn empty_parameter_is_an_error() {
        assert!(Params::parse(&mut Cursor::new(";;")).is_err());
    }

    #[test]
    fn quoted_strings_unescape() {
        let mut c = Cursor::new(r#""J Rosenberg \\\"" rest"#);
        let q = c.quoted_string().unwrap();
        assert_eq!(unquote(q), r#"J Rosenberg \""#);
        assert!(Cursor::new("\"open").quoted_string().is_err());
    }
}
