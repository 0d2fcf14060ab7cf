//! URIs (RFC 3261 §19.1, §25.1): SIP and SIPS URIs parsed into parts, any other scheme kept
//! as an opaque `absoluteURI`. IPv6 references follow RFC 5118.

use std::fmt;
use std::net::{IpAddr, Ipv4Addr, Ipv6Addr};

use crate::headers::lex::{Cursor, Params};

/// Why a URI did not parse.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("malformed URI: {0}")]
pub struct UriError(pub &'static str);

/// A Request-URI or the URI of a name-addr.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Uri {
    Sip(SipUri),
    /// Any other scheme (tel, http, urn, ...), kept verbatim.
    Other {
        scheme: String,
        rest: String,
    },
}

impl Uri {
    pub fn parse(s: &str) -> Result<Self, UriError> {
        let colon = s.find(':').ok_or(UriError("no scheme"))?;
        let scheme = &s[..colon];
        let valid_scheme = scheme.bytes().next().is_some_and(|c| c.is_ascii_alphabetic())
            && scheme.bytes().all(|c| c.is_ascii_alphanumeric() || matches!(c, b'+' | b'-' | b'.'));
        if !valid_scheme {
            return Err(UriError("bad scheme"));
        }
        let rest = &s[colon + 1..];
        if scheme.eq_ignore_ascii_case("sip") || scheme.eq_ignore_ascii_case("sips") {
            return SipUri::parse_parts(scheme.eq_ignore_ascii_case("sips"), rest).map(Uri::Sip);
        }
        let opaque_ok = !rest.is_empty()
            && rest.bytes().all(|c| c > b' ' && c != 0x7f && !matches!(c, b'<' | b'>' | b'"'));
        if !opaque_ok {
            return Err(UriError("bad characters in URI"));
        }
        Ok(Uri::Other { scheme: scheme.to_ascii_lowercase(), rest: rest.to_owned() })
    }

    /// Lower-case scheme name.
    pub fn scheme(&self) -> &str {
        match self {
            Uri::Sip(u) if u.secure => "sips",
            Uri::Sip(_) => "sip",
            Uri::Other { scheme, .. } => scheme,
        }
    }

    pub fn as_sip(&self) -> Option<&SipUri> {
        match self {
            Uri::Sip(u) => Some(u),
            Uri::Other { .. } => None,
        }
    }
}

impl fmt::Display for Uri {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Uri::Sip(u) => u.fmt(f),
            Uri::Other { scheme, rest } => write!(f, "{scheme}:{rest}"),
        }
    }
}

/// Host part of a SIP URI or Via sent-by.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub enum Host {
    Name(String),
    V4(Ipv4Addr),
    V6(Ipv6Addr),
}

impl Host {
    /// Parses a host: an IPv6 reference in brackets, a dotted IPv4 address or a hostname.
    pub fn parse(s: &str) -> Result<Self, UriError> {
        if let Some(inner) = s.strip_prefix('[') {
            let inner = inner.strip_suffix(']').ok_or(UriError("unclosed IPv6 reference"))?;
            return inner.parse().map(Host::V6).map_err(|_| UriError("bad IPv6 reference"));
        }
        if s.is_empty() {
            return Err(UriError("empty host"));
        }
        if s.bytes().all(|c| c.is_ascii_digit() || c == b'.') {
            return s.parse().map(Host::V4).map_err(|_| UriError("bad IPv4 address"));
        }
        // hostname (RFC 3261 §25.1); '_' tolerated as deployed DNS names carry it.
        let ok = s.split('.').enumerate().all(|(i, label)| {
            (!label.is_empty() || i > 0)
                && label.bytes().all(|c| c.is_ascii_alphanumeric() || c == b'-' || c == b'_')
        }) && !s.starts_with('.');
        if ok {
            Ok(Host::Name(s.to_owned()))
        } else {
            Err(UriError("bad hostname"))
        }
    }

    pub fn ip(&self) -> Option<IpAddr> {
        match self {
            Host::V4(a) => Some(IpAddr::V4(*a)),
            Host::V6(a) => Some(IpAddr::V6(*a)),
            Host::Name(_) => None,
        }
    }
}

impl From<IpAddr> for Host {
    fn from(ip: IpAddr) -> Self {
        match ip {
            IpAddr::V4(a) => Host::V4(a),
            IpAddr::V6(a) => Host::V6(a),
        }
    }
}

impl fmt::Display for Host {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Host::Name(n) => f.write_str(n),
            Host::V4(a) => write!(f, "{a}"),
            Host::V6(a) => write!(f, "[{a}]"),
        }
    }
}

/// Splits `host[:port]` (with an IPv6 reference in brackets) and parses both.
pub fn parse_hostport(s: &str) -> Result<(Host, Option<u16>), UriError> {
    let (host, port) = if s.starts_with('[') {
        let end = s.find(']').ok_or(UriError("unclosed IPv6 reference"))?;
        match &s[end + 1..] {
            "" => (&s[..=end], None),
            p => (&s[..=end], Some(p.strip_prefix(':').ok_or(UriError("junk after IPv6"))?)),
        }
    } else {
        match s.split_once(':') {
            Some((h, p)) => (h, Some(p)),
            None => (s, None),
        }
    };
    let port = match port {
        None => None,
        Some(p) if !p.is_empty() && p.bytes().all(|c| c.is_ascii_digit()) => {
            Some(p.parse().map_err(|_| UriError("port out of range"))?)
        }
        Some(_) => return Err(UriError("bad port")),
    };
    Ok((Host::parse(host)?, port))
}

/// A `sip:` or `sips:` URI. User, password, parameters and headers are kept escaped as
/// received so the URI serializes back unchanged.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SipUri {
    pub secure: bool,
    pub user: Option<String>,
    pub password: Option<String>,
    pub host: Host,
    pub port: Option<u16>,
    pub params: Params,
    /// `?name=value&...` (RFC 3261 §19.1.1); not allowed in a Request-URI.
    pub headers: Vec<(String, String)>,
}

impl SipUri {
    /// `sip:user@host:port`, no parameters.
    pub fn new(user: Option<&str>, host: Host, port: Option<u16>) -> Self {
        Self {
            secure: false,
            user: user.map(str::to_owned),
            password: None,
            host,
            port,
            params: Params::new(),
            headers: Vec::new(),
        }
    }

    pub fn parse(s: &str) -> Result<Self, UriError> {
        match Uri::parse(s)? {
            Uri::Sip(u) => Ok(u),
            Uri::Other { .. } => Err(UriError("not a SIP URI")),
        }
    }

    fn parse_parts(secure: bool, rest: &str) -> Result<Self, UriError> {
        if rest.bytes().any(|c| c <= b' ' || c >= 0x7f || matches!(c, b'<' | b'>' | b'"')) {
            return Err(UriError("bad characters in SIP URI"));
        }
        // '@' cannot appear in parameters or headers, so the first one ends the userinfo.
        let (userinfo, hostpart) = match rest.find('@') {
            Some(at) => (Some(&rest[..at]), &rest[at + 1..]),
            None => (None, rest),
        };
        let (user, password) = match userinfo {
            None => (None, None),
            Some(ui) => {
                let (u, p) = match ui.split_once(':') {
                    Some((u, p)) => (u, Some(p)),
                    None => (ui, None),
                };
                if u.is_empty() || !valid_chars(u, b"&=+$,;?/") {
                    return Err(UriError("bad user part"));
                }
                if let Some(p) = p {
                    if !valid_chars(p, b"&=+$,") {
                        return Err(UriError("bad password"));
                    }
                }
                (Some(u.to_owned()), p.map(str::to_owned))
            }
        };
        let (before_headers, headers_str) = match hostpart.split_once('?') {
            Some((a, b)) => (a, Some(b)),
            None => (hostpart, None),
        };
        let (hostport, params_str) = match before_headers.find(';') {
            Some(i) => (&before_headers[..i], &before_headers[i..]),
            None => (before_headers, ""),
        };
        let (host, port) = parse_hostport(hostport)?;
        let mut cur = Cursor::new(params_str);
        let params = Params::parse(&mut cur).map_err(UriError)?;
        if !cur.is_empty() {
            return Err(UriError("bad URI parameter"));
        }
        for p in &params.0 {
            let ok = valid_chars(&p.name, b"[]/:&+$")
                && p.value.as_deref().is_none_or(|v| valid_chars(v, b"[]/:&+$"));
            if !ok {
                return Err(UriError("bad URI parameter"));
            }
        }
        let mut headers = Vec::new();
        if let Some(hs) = headers_str {
            for h in hs.split('&') {
                let (n, v) = h.split_once('=').ok_or(UriError("URI header without '='"))?;
                if n.is_empty() || !valid_chars(n, b"[]/?:+$") || !valid_chars(v, b"[]/?:+$") {
                    return Err(UriError("bad URI header"));
                }
                headers.push((n.to_owned(), v.to_owned()));
            }
        }
        Ok(Self { secure, user, password, host, port, params, headers })
    }

    /// The user part with %-escapes decoded (lossy for non-UTF-8 octets).
    pub fn user_unescaped(&self) -> Option<String> {
        self.user.as_deref().map(unescape)
    }

    /// `transport` URI parameter, lower-cased.
    pub fn transport(&self) -> Option<String> {
        self.params.value("transport").map(|t| t.to_ascii_lowercase())
    }

    /// True when the URI carries the `lr` parameter (loose routing, RFC 3261 §19.1.1).
    pub fn is_loose_route(&self) -> bool {
        self.params.contains("lr")
    }
}

impl fmt::Display for SipUri {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(if self.secure { "sips:" } else { "sip:" })?;
        if let Some(u) = &self.user {
            f.write_str(u)?;
            if let Some(p) = &self.password {
                write!(f, ":{p}")?;
            }
            f.write_str("@")?;
        }
        write!(f, "{}", self.host)?;
        if let Some(p) = self.port {
            write!(f, ":{p}")?;
        }
        write!(f, "{}", self.params)?;
        for (i, (n, v)) in self.headers.iter().enumerate() {
            write!(f, "{}{n}={v}", if i == 0 { '?' } else { '&' })?;
        }
        Ok(())
    }
}

/// Checks `unreserved / escaped / extra` (RFC 3261 §25.1).
fn valid_chars(s: &str, extra: &[u8]) -> bool {
    let b = s.as_bytes();
    let mut i = 0;
    while i < b.len() {
        let c = b[i];
        if c == b'%' {
            if !(b.get(i + 1).is_some_and(u8::is_ascii_hexdigit)
                && b.get(i + 2).is_some_and(u8::is_ascii_hexdigit))
            {
                return false;
            }
            i += 3;
            continue;
        }
        let unreserved = c.is_ascii_alphanumeric()
            || matches!(c, b'-' | b'_' | b'.' | b'!' | b'~' | b'*' | b'\'' | b'(' | b')');
        if !unreserved && !extra.contains(&c) {
            return false;
        }
        i += 1;
    }
    true
}

/// Decodes %-escapes; invalid escapes are kept as written.
pub fn unescape(s: &str) -> String {
    let b = s.as_bytes();
    let mut out = Vec::with_capacity(b.len());
    let mut i = 0;
    while i < b.len() {
        let hex = |c: u8| (c as char).to_digit(16);
        if b[i] == b'%' && i + 2 < b.len() {
            if let (Some(h), Some(l)) = (hex(b[i + 1]), hex(b[i + 2])) {
                out.push((h * 16 + l) as u8);
                i += 3;
                continue;
            }
        }
        out.push(b[i]);
        i += 1;
    }
    String::from_utf8_lossy(&out).into_owned()
}

/// %-escapes everything but `unreserved` (for values placed in URI headers, RFC 3261 §19.1.1).
pub fn escape_header_value(s: &str) -> String {
    let mut out = String::with_capacity(s.len());
    for &c in s.as_bytes() {
        let keep = c.is_ascii_alphanumeric()
            || matches!(c, b'-' | b'_' | b'.' | b'!' | b'~' | b'*' | b'\'' | b'(' | b')');
        if keep {
            out.push(c as char);
        } else {
            out.push_str(&format!("%{c:02X}"));
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn sip_uri_with_everything_round_trips() {
        let s = "sip:alice:secret@[2001:db8::10]:5070;transport=tcp;lr?Subject=hi&X=1";
        let u = SipUri::parse(s).unwrap();
        assert_eq!(u.user.as_deref(), Some("alice"));
        assert_eq!(u.host, Host::V6("2001:db8::10".parse().unwrap()));
        assert_eq!(u.port, Some(5070));
        assert_eq!(u.transport().as_deref(), Some("tcp"));
        assert!(u.is_loose_route());
        assert_eq!(u.headers.len(), 2);
        assert_eq!(u.to_string(), s);
    }

    #[test]
    fn unusual_user_and_password_characters_are_accepted() {
        let s = "sip:1_unusual.URI~(to-be!sure)&isn't+it$/crazy?,/;;*:&it+has=1,weird!*pas$wo~d_too.(doesn't-it)@example.com";
        let u = SipUri::parse(s).unwrap();
        assert_eq!(u.host, Host::Name("example.com".into()));
        assert_eq!(u.password.as_deref(), Some("&it+has=1,weird!*pas$wo~d_too.(doesn't-it)"));
    }

    #[test]
    fn ipv6_without_brackets_is_rejected() {
        assert!(SipUri::parse("sip:2001:db8::10").is_err());
        assert!(SipUri::parse("sip:user@[2001:db8:::192.0.2.1]").is_err());
        assert!(SipUri::parse("sip:user@[2001:db8::192.0.2.1]").is_ok());
    }

    #[test]
    fn other_schemes_are_opaque() {
        let u = Uri::parse("nobodyKnowsThisScheme:totallyopaquecontent").unwrap();
        assert_eq!(u.scheme(), "nobodyknowsthisscheme");
        assert!(Uri::parse("soap.beep://192.0.2.103:3002").is_ok());
        assert!(Uri::parse("<sip:user@example.com>").is_err());
    }

    #[test]
    fn escapes_are_validated_and_decoded() {
        assert!(SipUri::parse("sip:%zz@example.com").is_err());
        let u = SipUri::parse("sip:I%20have%20spaces@example.net").unwrap();
        assert_eq!(u.user_unescaped().as_deref(), Some("I have spaces"));
        assert_eq!(unescape("100%"), "100%");
        assert_eq!(escape_header_value("a b;c"), "a%20b%3Bc");
    }
}
