//! Scalar and small structured header values: CSeq (§20.16), Max-Forwards (§20.22),
//! media types (§20.15, §20.1), Date (§20.17), delta-seconds, option tags (§20.32, §20.37),
//! Session-Expires / Min-SE (RFC 4028), Event / Subscription-State (RFC 6665), Reason
//! (RFC 3326), Retry-After (§20.33), Warning (§20.43).

use std::fmt;

use super::lex::{is_token, split_list, Cursor, Params};
use crate::message::Method;

/// CSeq: sequence number and method. The number must fit in 32 bits (RFC 3261 §8.1.1.5).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct CSeq {
    pub seq: u32,
    pub method: Method,
}

impl CSeq {
    pub fn parse(s: &str) -> Result<Self, &'static str> {
        let mut c = Cursor::new(s.trim());
        let digits = c.take_while(|b| b.is_ascii_digit());
        if digits.is_empty() {
            return Err("CSeq number missing");
        }
        let seq = parse_u32(digits).ok_or("CSeq number larger than 2**32-1")?;
        if !c.skip_ws() {
            return Err("CSeq method missing");
        }
        let m = c.token().ok_or("bad CSeq method")?;
        c.skip_ws();
        if !c.is_empty() {
            return Err("junk after CSeq method");
        }
        Ok(Self { seq, method: Method::from_token(m) })
    }
}

impl fmt::Display for CSeq {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{} {}", self.seq, self.method)
    }
}

fn parse_u32(digits: &str) -> Option<u32> {
    let trimmed = digits.trim_start_matches('0');
    if trimmed.len() > 10 {
        return None;
    }
    if trimmed.is_empty() {
        return Some(0);
    }
    trimmed.parse().ok()
}

/// `delta-seconds`: 1*DIGIT, at most 2**32-1.
pub fn delta_seconds(s: &str) -> Result<u32, &'static str> {
    let s = s.trim();
    if s.is_empty() || !s.bytes().all(|b| b.is_ascii_digit()) {
        return Err("not a number of seconds");
    }
    parse_u32(s).ok_or("number of seconds larger than 2**32-1")
}

/// Max-Forwards: 0 to 255 (RFC 3261 §20.22; RFC 4475 §3.1.2.4 treats 300 as overlarge).
pub fn max_forwards(s: &str) -> Result<u8, &'static str> {
    let v = delta_seconds(s).map_err(|_| "Max-Forwards is not a number")?;
    u8::try_from(v).map_err(|_| "Max-Forwards larger than 255")
}

/// A media type with parameters (Content-Type) or a media range (Accept).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct MediaType {
    /// Lower-cased type, `*` in a range.
    pub ty: String,
    pub subtype: String,
    pub params: Params,
}

impl MediaType {
    pub fn new(ty: &str, subtype: &str) -> Self {
        Self { ty: ty.into(), subtype: subtype.into(), params: Params::new() }
    }

    pub fn parse(s: &str) -> Result<Self, &'static str> {
        let mut c = Cursor::new(s.trim());
        let ty = c.token().ok_or("bad media type")?;
        if !c.eat_sep(b'/') {
            return Err("media type without '/'");
        }
        let subtype = c.token().ok_or("bad media subtype")?;
        let params = Params::parse(&mut c)?;
        c.skip_ws();
        if !c.is_empty() {
            return Err("junk after media type");
        }
        Ok(Self { ty: ty.to_ascii_lowercase(), subtype: subtype.to_ascii_lowercase(), params })
    }

    /// `type/subtype` without parameters.
    pub fn essence(&self) -> String {
        format!("{}/{}", self.ty, self.subtype)
    }

    /// True when this range (Accept element) covers `ty/subtype`.
    pub fn covers(&self, ty: &str, subtype: &str) -> bool {
        (self.ty == "*" || self.ty.eq_ignore_ascii_case(ty))
            && (self.subtype == "*" || self.subtype.eq_ignore_ascii_case(subtype))
    }
}

impl fmt::Display for MediaType {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}/{}{}", self.ty, self.subtype, self.params)
    }
}

/// An Accept value: a possibly empty list of media ranges.
pub fn accept_list(s: &str) -> Result<Vec<MediaType>, &'static str> {
    if s.trim().is_empty() {
        return Ok(Vec::new());
    }
    split_list(s).into_iter().map(MediaType::parse).collect()
}

/// A comma list of tokens (option tags, methods, encodings). Empty is allowed.
pub fn token_list(s: &str) -> Result<Vec<&str>, &'static str> {
    if s.trim().is_empty() {
        return Ok(Vec::new());
    }
    let list = split_list(s);
    if list.iter().all(|t| is_token(t)) {
        Ok(list)
    } else {
        Err("list element is not a token")
    }
}

/// Checks an rfc1123-date in GMT (RFC 3261 §20.17): `Sat, 13 Nov 2010 23:29:00 GMT`.
pub fn check_date(s: &str) -> Result<(), &'static str> {
    const DAYS: [&str; 7] = ["Mon", "Tue", "Wed", "Thu", "Fri", "Sat", "Sun"];
    const MONTHS: [&str; 12] =
        ["Jan", "Feb", "Mar", "Apr", "May", "Jun", "Jul", "Aug", "Sep", "Oct", "Nov", "Dec"];
    let (day, rest) = s.trim().split_once(',').ok_or("Date without weekday")?;
    if !DAYS.contains(&day) {
        return Err("bad Date weekday");
    }
    let parts: Vec<&str> = rest.split_whitespace().collect();
    let [d, mon, y, time, zone] = parts[..] else {
        return Err("bad Date format");
    };
    let digits = |x: &str, n: usize| x.len() == n && x.bytes().all(|b| b.is_ascii_digit());
    let time_ok = time.split(':').count() == 3 && time.split(':').all(|t| digits(t, 2));
    if !(digits(d, 2) && MONTHS.contains(&mon) && digits(y, 4) && time_ok) {
        return Err("bad Date format");
    }
    if zone != "GMT" {
        return Err("Date time zone is not GMT");
    }
    Ok(())
}

/// `delta-seconds *(SEMI param)`: Session-Expires, Min-SE (RFC 4028), Retry-After without
/// comment, Expires.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Interval {
    pub seconds: u32,
    pub params: Params,
}

impl Interval {
    pub fn parse(s: &str) -> Result<Self, &'static str> {
        let mut c = Cursor::new(s.trim());
        let seconds = delta_seconds(c.take_while(|b| b.is_ascii_digit()))?;
        c.skip_ws();
        if c.peek() == Some(b'(') {
            skip_comment(&mut c)?;
        }
        let params = Params::parse(&mut c)?;
        c.skip_ws();
        if !c.is_empty() {
            return Err("junk after interval");
        }
        Ok(Self { seconds, params })
    }

    /// The RFC 4028 `refresher` parameter, lower-cased.
    pub fn refresher(&self) -> Option<String> {
        self.params.value("refresher").map(|r| r.to_ascii_lowercase())
    }
}

fn skip_comment(c: &mut Cursor<'_>) -> Result<(), &'static str> {
    let b = c.rest().as_bytes();
    let mut depth = 0usize;
    let mut i = 0;
    while i < b.len() {
        match b[i] {
            b'\\' => i += 1,
            b'(' => depth += 1,
            b')' => {
                depth = depth.saturating_sub(1);
                if depth == 0 {
                    c.advance(i + 1);
                    return Ok(());
                }
            }
            _ => {}
        }
        i += 1;
    }
    Err("unterminated comment")
}

/// A token with parameters: Event (`refer;id=3`), Subscription-State (`terminated;reason=...`),
/// Reason (`SIP;cause=200;text="..."`), User-to-User data.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct TokenParams {
    pub value: String,
    pub params: Params,
}

impl TokenParams {
    pub fn parse(s: &str) -> Result<Self, &'static str> {
        let mut c = Cursor::new(s.trim());
        let value = c.token().ok_or("bad token")?;
        let params = Params::parse(&mut c)?;
        c.skip_ws();
        if !c.is_empty() {
            return Err("junk after parameters");
        }
        Ok(Self { value: value.to_owned(), params })
    }
}

impl fmt::Display for TokenParams {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}{}", self.value, self.params)
    }
}

/// Warning: `3DIGIT SP agent SP quoted-text` per element (RFC 3261 §20.43).
pub fn check_warning(s: &str) -> Result<(), &'static str> {
    for w in split_list(s) {
        let mut c = Cursor::new(w);
        let code = c.take_while(|b| b.is_ascii_digit());
        if code.len() != 3 {
            return Err("warn-code is not three digits");
        }
        if !c.skip_ws() {
            return Err("bad Warning");
        }
        let agent = c.take_while(|b| !matches!(b, b' ' | b'\t'));
        if agent.is_empty() || !c.skip_ws() {
            return Err("bad Warning agent");
        }
        c.quoted_string()?;
        c.skip_ws();
        if !c.is_empty() {
            return Err("junk after Warning text");
        }
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn cseq_with_folded_whitespace_and_leading_zeros() {
        let c = CSeq::parse("0009 INVITE").unwrap();
        assert_eq!((c.seq, c.method), (9, Method::Invite));
        assert!(CSeq::parse("36893488147419103232 REGISTER").is_err());
        assert!(CSeq::parse("4294967295 BYE").is_ok());
        assert!(CSeq::parse("1").is_err());
    }

    #[test]
    fn scalar_ranges_are_enforced() {
        assert_eq!(max_forwards("0068"), Ok(68));
        assert!(max_forwards("300").is_err());
        assert!(delta_seconds("949302838503028349304023988").is_err());
        assert!(Interval::parse("120 (I'm in a meeting) ;duration=3600").is_ok());
    }

    #[test]
    fn dates_must_be_gmt() {
        assert!(check_date("Sat, 15 Oct 2005 04:44:56 GMT").is_ok());
        assert!(check_date("Fri, 01 Jan 2010 16:00:00 EST").is_err());
    }

    #[test]
    fn warning_codes_have_three_digits() {
        assert!(check_warning(r#"307 isi.edu "Session parameter 'foo' not understood""#).is_ok());
        assert!(check_warning(r#"1812 overture "In Progress""#).is_err());
    }

    #[test]
    fn media_ranges_cover_types() {
        let l = accept_list("application/sdp, application/*;q=0.5, */*").unwrap();
        assert!(l[0].covers("application", "sdp"));
        assert!(l[1].covers("application", "sipfrag"));
        assert!(accept_list("").unwrap().is_empty());
        let ct = MediaType::parse("multipart/mixed;boundary=7a9cbec02ceef655").unwrap();
        assert_eq!(ct.params.value("boundary").as_deref(), Some("7a9cbec02ceef655"));
    }

    #[test]
    fn session_expires_refresher() {
        let se = Interval::parse("1800;refresher=UAC").unwrap();
        assert_eq!((se.seconds, se.refresher().as_deref()), (1800, Some("uac")));
    }
}
