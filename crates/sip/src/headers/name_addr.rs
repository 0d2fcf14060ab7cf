//! name-addr / addr-spec values (RFC 3261 §20.10, §25.1): From, To, Contact, Route,
//! Record-Route, Refer-To (RFC 3515), Referred-By (RFC 3892).

use std::fmt;

use super::lex::{is_token_char, quote, split_list, unquote, Cursor, Params};
use crate::uri::Uri;

/// A URI with an optional display name and header parameters (`tag`, `expires`, ...).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct NameAddr {
    /// Display name, unquoted.
    pub display_name: Option<String>,
    pub uri: Uri,
    pub params: Params,
}

impl NameAddr {
    pub fn new(uri: Uri) -> Self {
        Self { display_name: None, uri, params: Params::new() }
    }

    pub fn parse(s: &str) -> Result<Self, &'static str> {
        let s = s.trim();
        match find_unquoted(s, b'<') {
            Some(lt) => Self::parse_name_addr(s, lt),
            None => Self::parse_addr_spec(s),
        }
    }

    fn parse_name_addr(s: &str, lt: usize) -> Result<Self, &'static str> {
        let display = s[..lt].trim();
        let display_name = if display.is_empty() {
            None
        } else if display.starts_with('"') {
            let mut c = Cursor::new(display);
            let q = c.quoted_string()?;
            if !c.rest().trim().is_empty() {
                return Err("junk after quoted display name");
            }
            Some(unquote(q))
        } else {
            // *(token LWS)
            let ok = display.split([' ', '\t']).all(|w| w.bytes().all(is_token_char));
            if !ok {
                return Err("display name has non-token characters and is not quoted");
            }
            Some(display.to_owned())
        };
        let rest = &s[lt + 1..];
        let gt = rest.find('>').ok_or("missing '>'")?;
        let uri = Uri::parse(&rest[..gt]).map_err(|e| e.0)?;
        let mut c = Cursor::new(&rest[gt + 1..]);
        let params = Params::parse(&mut c)?;
        c.skip_ws();
        if !c.is_empty() {
            return Err("junk after parameters");
        }
        Ok(Self { display_name, uri, params })
    }

    fn parse_addr_spec(s: &str) -> Result<Self, &'static str> {
        // Without brackets every ';' starts a header parameter, and the URI may not carry
        // '?' or ',' (RFC 3261 §20.10).
        let end = s.find(';').unwrap_or(s.len());
        let uri_str = s[..end].trim_end();
        if uri_str.contains(['?', ',']) {
            return Err("URI with headers or commas must be enclosed in <>");
        }
        let uri = Uri::parse(uri_str).map_err(|e| e.0)?;
        let mut c = Cursor::new(&s[end..]);
        let params = Params::parse(&mut c)?;
        c.skip_ws();
        if !c.is_empty() {
            return Err("junk after parameters");
        }
        Ok(Self { display_name: None, uri, params })
    }

    /// Parses a comma list of name-addrs (Contact, Route, Record-Route).
    pub fn parse_list(s: &str) -> Result<Vec<Self>, &'static str> {
        split_list(s).into_iter().map(Self::parse).collect()
    }

    pub fn tag(&self) -> Option<&str> {
        self.params.get("tag").flatten()
    }

    pub fn with_tag(mut self, tag: &str) -> Self {
        self.params.set("tag", Some(tag));
        self
    }
}

impl fmt::Display for NameAddr {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        if let Some(d) = &self.display_name {
            write!(f, "{} ", quote(d))?;
        }
        write!(f, "<{}>{}", self.uri, self.params)
    }
}

/// A Contact value: a name-addr or `*` (RFC 3261 §20.10, REGISTER only).
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Contact {
    Star,
    Addr(NameAddr),
}

impl Contact {
    pub fn parse_list(s: &str) -> Result<Vec<Self>, &'static str> {
        if s.trim() == "*" {
            return Ok(vec![Contact::Star]);
        }
        let list = NameAddr::parse_list(s)?;
        for c in &list {
            if let Some(e) = c.params.get("expires") {
                e.and_then(|v| v.parse::<u32>().ok()).ok_or("bad Contact expires")?;
            }
        }
        Ok(list.into_iter().map(Contact::Addr).collect())
    }
}

/// Position of the first `c` outside quoted strings.
fn find_unquoted(s: &str, c: u8) -> Option<usize> {
    let b = s.as_bytes();
    let mut in_quote = false;
    let mut i = 0;
    while i < b.len() {
        match b[i] {
            b'\\' if in_quote => i += 1,
            b'"' => in_quote = !in_quote,
            x if x == c && !in_quote => return Some(i),
            _ => {}
        }
        i += 1;
    }
    None
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn quoted_display_name_with_escapes() {
        let n = NameAddr::parse(
            r#""J Rosenberg \\\""       <sip:jdrosen@example.com> ; tag = 98asjd8"#,
        )
        .unwrap();
        assert_eq!(n.display_name.as_deref(), Some(r#"J Rosenberg \""#));
        assert_eq!(n.tag(), Some("98asjd8"));
    }

    #[test]
    fn addr_spec_parameters_belong_to_the_header() {
        let n = NameAddr::parse("sip:+19725552222@gw1.example.net;unknownparam").unwrap();
        assert!(n.params.contains("unknownparam"));
        assert!(n.uri.as_sip().unwrap().params.0.is_empty());
        let n = NameAddr::parse("<sip:+19725552222@gw1.example.net;unknownparam>").unwrap();
        assert!(n.params.0.is_empty());
    }

    #[test]
    fn malformed_name_addrs_are_rejected() {
        assert!(NameAddr::parse(r#""Mr. J. User <sip:j.user@example.com>"#).is_err());
        assert!(NameAddr::parse("Bell, Alexander <sip:a.g.bell@example.com>;tag=43").is_err());
        assert!(NameAddr::parse(r#""Watson, Thomas" < sip:t.watson@example.org >"#).is_err());
        assert!(NameAddr::parse("sip:user@example.com?Route=%3Csip:sip.example.com%3E").is_err());
        assert!(NameAddr::parse(r#""Joe" <sip:joe@example.org>;;;;"#).is_err());
    }

    #[test]
    fn token_display_names_without_space_before_bracket() {
        let n = NameAddr::parse("caller<sip:caller@example.com>;tag=323").unwrap();
        assert_eq!(n.display_name.as_deref(), Some("caller"));
        let n =
            NameAddr::parse("token1~` token2'+_ token3*%!.- <sip:mundane@example.com>").unwrap();
        assert_eq!(n.display_name.as_deref(), Some("token1~` token2'+_ token3*%!.-"));
    }

    #[test]
    fn display_round_trip_quotes_the_name() {
        let n = NameAddr::parse(r#"Alice <sip:alice@example.com>;tag=1"#).unwrap();
        assert_eq!(n.to_string(), r#""Alice" <sip:alice@example.com>;tag=1"#);
    }
}
