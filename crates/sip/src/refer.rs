//! Transfers: Refer-To with embedded headers (RFC 3515 §2.1), User-to-User values (RFC 7433),
//! and the `message/sipfrag` status lines NOTIFY carries (RFC 3515 §2.4.5, RFC 3420).

use crate::message::{Header, StatusCode};
use crate::uri::{escape_header_value, Uri};

/// What goes with a REFER besides its target.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct ReferOptions {
    /// Referred-By value (RFC 3892), e.g. `<sip:ivr@example.com>`.
    pub referred_by: Option<String>,
    /// Extra headers of the REFER itself: User-to-User, X-... call context.
    pub headers: Vec<Header>,
    /// Headers embedded in the Refer-To URI so the transferee copies them into its INVITE to
    /// the target (RFC 3515 §2.1, RFC 7433 §4.1), e.g. `("User-to-User", "...;encoding=hex")`.
    pub refer_to_headers: Vec<(String, String)>,
}

/// The Refer-To value: `<target?Name=escaped-value&...>`.
pub fn refer_to_value(target: &Uri, embedded: &[(String, String)]) -> String {
    let mut s = format!("<{target}");
    for (i, (n, v)) in embedded.iter().enumerate() {
        let sep = if i == 0 && !target.to_string().contains('?') { '?' } else { '&' };
        s.push(sep);
        s.push_str(&escape_header_value(n));
        s.push('=');
        s.push_str(&escape_header_value(v));
    }
    s.push('>');
    s
}

/// A User-to-User value carrying `data` hex-encoded (RFC 7433 §4.1), with an optional
/// `purpose` parameter.
pub fn user_to_user_hex(data: &[u8], purpose: Option<&str>) -> String {
    let mut s: String = data.iter().map(|b| format!("{b:02x}")).collect();
    s.push_str(";encoding=hex");
    if let Some(p) = purpose {
        s.push_str(";purpose=");
        s.push_str(p);
    }
    s
}

/// The status line of a `message/sipfrag` body: `SIP/2.0 200 OK` -> (200, "OK").
pub fn parse_sipfrag_status(body: &[u8]) -> Option<(StatusCode, String)> {
    let text = String::from_utf8_lossy(body);
    let line = text.trim_start().lines().next()?.trim_end();
    let rest = line.strip_prefix("SIP/2.0 ")?;
    let (code, reason) = rest.split_once(' ').unwrap_or((rest, ""));
    if code.len() != 3 {
        return None;
    }
    let code: u16 = code.parse().ok()?;
    (100..=699).contains(&code).then(|| (StatusCode(code), reason.to_owned()))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn sipfrag_status_lines_parse() {
        assert_eq!(
            parse_sipfrag_status(b"SIP/2.0 200 OK\r\n"),
            Some((StatusCode(200), "OK".into()))
        );
        assert_eq!(
            parse_sipfrag_status(b"SIP/2.0 100 Trying"),
            Some((StatusCode(100), "Trying".into()))
        );
        assert_eq!(
            parse_sipfrag_status(b"SIP/2.0 503 Service Unavailable\r\nRetry-After: 5\r\n"),
            Some((StatusCode(503), "Service Unavailable".into()))
        );
        assert_eq!(parse_sipfrag_status(b"SIP/2.0 99 x"), None);
        assert_eq!(parse_sipfrag_status(b"garbage"), None);
        assert_eq!(parse_sipfrag_status(b""), None);
    }

    #[test]
    fn refer_to_embeds_escaped_headers() {
        let target = Uri::parse("sip:queue-7@cc.example.com").unwrap();
        let uui = user_to_user_hex(b"\x01ab", Some("call"));
        assert_eq!(uui, "016162;encoding=hex;purpose=call");
        let v = refer_to_value(&target, &[("User-to-User".into(), uui)]);
        assert_eq!(
            v,
            "<sip:queue-7@cc.example.com?User-to-User=016162%3Bencoding%3Dhex%3Bpurpose%3Dcall>"
        );
        assert!(crate::headers::NameAddr::parse(&v).is_ok());
    }
}
