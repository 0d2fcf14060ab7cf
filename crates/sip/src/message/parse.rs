//! The message parser (RFC 3261 §7, §25): start line, unfolded header lines (§7.3.1), syntax
//! checks of every known header, and the body framed by Content-Length (§18.3, §20.14).

use super::StatusCode;
use super::{Header, HeaderName, Headers, Message, Method, ParseError, Request, Response};
use crate::headers;
use crate::uri::Uri;

/// Largest message accepted: the largest UDP payload. Larger input is refused before parsing.
pub const MAX_MESSAGE_SIZE: usize = 65_535;

/// How the message arrived, which decides how Content-Length frames the body (RFC 3261 §18.3).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Framing {
    /// One message per datagram: a body shorter than Content-Length is an error, octets past
    /// it are ignored, a missing Content-Length means "the rest of the datagram".
    Datagram,
    /// One message cut from a byte stream (see [`super::StreamDecoder`]): Content-Length
    /// is required to frame the body; a missing one means an empty body.
    Stream,
}

/// Parses one message. Never panics on any input.
pub fn parse(data: &[u8], framing: Framing) -> Result<Message, ParseError> {
    if data.len() > MAX_MESSAGE_SIZE {
        return Err(ParseError::TooLarge { size: data.len(), limit: MAX_MESSAGE_SIZE });
    }
    // Leading CRLFs before the start line are ignored (RFC 3261 §7.5).
    let start = data.iter().position(|&b| b != b'\r' && b != b'\n').ok_or(ParseError::Empty)?;
    let data = &data[start..];
    let (head_end, body_start) = find_header_end(data).ok_or(ParseError::IncompleteHeaders)?;
    let mut lines = data[..head_end].split(|&b| b == b'\n').map(strip_cr);
    let start_line = lines.next().ok_or(ParseError::Empty)?;
    let headers = parse_headers(lines)?;
    let body = frame_body(&headers, &data[body_start..], framing)?;
    if start_line.len() >= 4 && start_line[..4].eq_ignore_ascii_case(b"SIP/") {
        let (status, reason) = parse_status_line(start_line)?;
        Ok(Message::Response(Response { status, reason, headers, body }))
    } else {
        let (method, uri) = parse_request_line(start_line)?;
        if let Some(cseq) = headers.get(&HeaderName::CSeq) {
            // CSeq was syntax-checked with the other headers.
            if let Ok(c) = headers::CSeq::parse(cseq) {
                if c.method != method {
                    return Err(ParseError::CSeqMismatch {
                        method_known: method.is_known(),
                        method: method.to_string(),
                        cseq: c.method.to_string(),
                    });
                }
            }
        }
        Ok(Message::Request(Request { method, uri, headers, body }))
    }
}

/// Finds the empty line ending the header section: returns where the headers end and where
/// the body starts. Accepts CRLF and bare LF line ends.
pub(super) fn find_header_end(data: &[u8]) -> Option<(usize, usize)> {
    let mut i = 0;
    while let Some(off) = data[i..].iter().position(|&b| b == b'\n') {
        let nl = i + off;
        match (data.get(nl + 1), data.get(nl + 2)) {
            (Some(b'\n'), _) => return Some((nl, nl + 2)),
            (Some(b'\r'), Some(b'\n')) => return Some((nl, nl + 3)),
            _ => i = nl + 1,
        }
    }
    None
}

fn strip_cr(line: &[u8]) -> &[u8] {
    line.strip_suffix(b"\r").unwrap_or(line)
}

fn parse_request_line(line: &[u8]) -> Result<(Method, Uri), ParseError> {
    let line = std::str::from_utf8(line).map_err(|_| ParseError::StartLine("not UTF-8"))?;
    let parts: Vec<&str> = line.split(' ').collect();
    let [method, uri, version] = parts[..] else {
        return Err(ParseError::StartLine("request line is not Method SP Request-URI SP Version"));
    };
    if !headers::lex::is_token(method) {
        return Err(ParseError::StartLine("method is not a token"));
    }
    check_version(version)?;
    let uri = Uri::parse(uri).map_err(|e| ParseError::RequestUri(e.0))?;
    if let Uri::Sip(u) = &uri {
        // Headers are not allowed in a Request-URI (RFC 3261 §19.1.1, Table 1).
        if !u.headers.is_empty() {
            return Err(ParseError::RequestUri("headers are not allowed in a Request-URI"));
        }
    }
    Ok((Method::from_token(method), uri))
}

fn parse_status_line(line: &[u8]) -> Result<(StatusCode, String), ParseError> {
    let mut parts = line.splitn(3, |&b| b == b' ');
    let version = parts.next().unwrap_or_default();
    let version = std::str::from_utf8(version).map_err(|_| ParseError::StartLine("bad version"))?;
    check_version(version)?;
    let code = parts.next().ok_or(ParseError::StartLine("no status code"))?;
    if code.len() != 3 || !code.iter().all(u8::is_ascii_digit) {
        return Err(ParseError::StartLine("status code is not three digits"));
    }
    let code = code.iter().fold(0u16, |a, &d| a * 10 + u16::from(d - b'0'));
    if !(100..=699).contains(&code) {
        return Err(ParseError::StartLine("status code out of range"));
    }
    let reason = String::from_utf8_lossy(parts.next().unwrap_or_default()).into_owned();
    Ok((StatusCode(code), reason))
}

/// `SIP-Version = "SIP" "/" 1*DIGIT "." 1*DIGIT`; only 2.0 is supported.
fn check_version(v: &str) -> Result<(), ParseError> {
    let digits = |s: &str| !s.is_empty() && s.bytes().all(|b| b.is_ascii_digit());
    let well_formed = v.len() > 4
        && v[..4].eq_ignore_ascii_case("SIP/")
        && v[4..].split_once('.').is_some_and(|(a, b)| digits(a) && digits(b));
    if !well_formed {
        return Err(ParseError::StartLine("bad SIP version"));
    }
    if &v[4..] != "2.0" {
        return Err(ParseError::UnsupportedVersion(v.to_owned()));
    }
    Ok(())
}

fn parse_headers<'a>(lines: impl Iterator<Item = &'a [u8]>) -> Result<Headers, ParseError> {
    // Unfold continuation lines first (RFC 3261 §7.3.1).
    let mut raw: Vec<(usize, Vec<u8>)> = Vec::new();
    for (i, line) in lines.enumerate() {
        let line_no = i + 2;
        if matches!(line.first(), Some(b' ' | b'\t')) {
            let last = raw.last_mut().ok_or(ParseError::HeaderLine {
                line: line_no,
                what: "continuation line before the first header",
            })?;
            last.1.push(b' ');
            last.1.extend_from_slice(line.trim_ascii_start());
        } else {
            raw.push((line_no, line.to_vec()));
        }
    }
    let mut headers = Vec::with_capacity(raw.len());
    for (line, text) in raw {
        let colon = text
            .iter()
            .position(|&b| b == b':')
            .ok_or(ParseError::HeaderLine { line, what: "no colon" })?;
        let name = text[..colon].trim_ascii_end();
        if name.is_empty() || !name.iter().all(|&b| headers::lex::is_token_char(b)) {
            return Err(ParseError::HeaderLine { line, what: "header name is not a token" });
        }
        // Checked to be token characters, hence ASCII.
        let name = HeaderName::parse(std::str::from_utf8(name).unwrap_or_default());
        let value = std::str::from_utf8(text[colon + 1..].trim_ascii()).map_err(|_| {
            ParseError::Header { name: name.to_string(), what: "value is not UTF-8" }
        })?;
        if value.contains(['\r', '\n']) {
            return Err(ParseError::Header { name: name.to_string(), what: "stray line break" });
        }
        if let Err(what) = headers::check(&name, value) {
            return Err(ParseError::Header { name: name.to_string(), what });
        }
        headers.push(Header { name, value: value.to_owned() });
    }
    Ok(Headers(headers))
}

fn frame_body(headers: &Headers, rest: &[u8], framing: Framing) -> Result<Vec<u8>, ParseError> {
    let mut lengths = Vec::new();
    for v in headers.get_all(&HeaderName::ContentLength) {
        if v.is_empty() || !v.bytes().all(|b| b.is_ascii_digit()) {
            return Err(ParseError::ContentLength);
        }
        let n: usize = v.parse().map_err(|_| ParseError::ContentLength)?;
        if n > MAX_MESSAGE_SIZE {
            return Err(ParseError::ContentLength);
        }
        lengths.push(n);
    }
    let conflicting = lengths.windows(2).any(|w| w[0] != w[1]);
    let expected = match (lengths.first(), conflicting, framing) {
        (_, true, Framing::Stream) => return Err(ParseError::ConflictingContentLength),
        // Over UDP the datagram frames the message; validation refuses the conflict (400).
        (_, true, Framing::Datagram) | (None, _, Framing::Datagram) => rest.len(),
        (None, _, Framing::Stream) => 0,
        (Some(&n), false, _) => n,
    };
    if rest.len() < expected {
        return Err(ParseError::Truncated { expected, actual: rest.len() });
    }
    Ok(rest[..expected].to_vec())
}

#[cfg(test)]
mod tests {
    use super::*;

    const OPTIONS: &str =
        "OPTIONS sip:user@example.com SIP/2.0\r\nVia: SIP/2.0/UDP h;branch=z9hG4bK1\r\n\
        From: <sip:a@example.com>;tag=1\r\nTo: <sip:user@example.com>\r\nCall-ID: c1\r\n\
        CSeq: 1 OPTIONS\r\nContent-Length: 0\r\n\r\n";

    #[test]
    fn folded_headers_are_unfolded() {
        let raw = OPTIONS.replace("Call-ID: c1", "Subject: a\r\n  b\r\n\tc\r\nCall-ID: c1");
        let m = parse(raw.as_bytes(), Framing::Datagram).unwrap();
        assert_eq!(m.headers().get(&HeaderName::Subject), Some("a b c"));
    }

    #[test]
    fn leading_crlf_and_bare_lf_are_tolerated() {
        let raw = format!("\r\n\r\n{}", OPTIONS.replace("\r\n", "\n"));
        assert!(parse(raw.as_bytes(), Framing::Datagram).is_ok());
    }

    #[test]
    fn datagram_body_shorter_than_content_length_is_an_error() {
        let raw = OPTIONS.replace("Content-Length: 0", "Content-Length: 10") + "short";
        assert_eq!(
            parse(raw.as_bytes(), Framing::Datagram),
            Err(ParseError::Truncated { expected: 10, actual: 5 })
        );
    }

    #[test]
    fn datagram_body_longer_than_content_length_is_truncated() {
        let raw = OPTIONS.replace("Content-Length: 0", "Content-Length: 3") + "abcdef";
        assert_eq!(parse(raw.as_bytes(), Framing::Datagram).unwrap().body(), b"abc");
    }

    #[test]
    fn oversized_input_is_refused() {
        let raw = vec![b'a'; MAX_MESSAGE_SIZE + 1];
        assert!(matches!(parse(&raw, Framing::Datagram), Err(ParseError::TooLarge { .. })));
    }

    #[test]
    fn malformed_header_error_names_the_header() {
        let raw = OPTIONS.replace("CSeq: 1 OPTIONS", "CSeq: x OPTIONS");
        let e = parse(raw.as_bytes(), Framing::Datagram).unwrap_err();
        assert!(matches!(e, ParseError::Header { ref name, .. } if name == "CSeq"), "{e}");
    }

    #[test]
    fn request_line_spacing_is_strict() {
        for bad in
            ["OPTIONS  sip:user@example.com SIP/2.0", "OPTIONS sip:user@example.com SIP/2.0 "]
        {
            let raw = OPTIONS.replace("OPTIONS sip:user@example.com SIP/2.0", bad);
            assert!(matches!(
                parse(raw.as_bytes(), Framing::Datagram),
                Err(ParseError::StartLine(_))
            ));
        }
    }
}
