//! Answering a request the parser rejected: when Via, From, To, Call-ID and CSeq can still be
//! read line by line, a response carrying them can be sent (RFC 3261 §8.2.6); otherwise the
//! message is dropped.

use super::parse::find_header_end;
use super::{HeaderName, ParseError};

/// Builds the wire form of the response to a rejected request, with the error's status and a
/// reason phrase naming the problem. `None` when the input is not a request (responses are
/// dropped), is an ACK (never answered), or lacks one of the five headers a response copies.
pub fn salvage_response(data: &[u8], error: &ParseError, to_tag: &str) -> Option<Vec<u8>> {
    let data = &data[..data.len().min(super::MAX_MESSAGE_SIZE)];
    let start = data.iter().position(|&b| b != b'\r' && b != b'\n')?;
    let data = &data[start..];
    let head = match find_header_end(data) {
        Some((end, _)) => &data[..end],
        None => data,
    };
    let mut lines = head.split(|&b| b == b'\n').map(|l| l.strip_suffix(b"\r").unwrap_or(l));
    let start_line = lines.next()?;
    let method_end = start_line.iter().position(|&b| b == b' ')?;
    let method = &start_line[..method_end];
    if method.is_empty() || method.eq_ignore_ascii_case(b"SIP/2.0") || method.starts_with(b"SIP/") {
        return None;
    }
    if method == b"ACK" {
        return None;
    }
    let mut logical: Vec<Vec<u8>> = Vec::new();
    for line in lines {
        match (line.first(), logical.last_mut()) {
            (Some(b' ' | b'\t'), Some(last)) => {
                last.push(b' ');
                last.extend_from_slice(line.trim_ascii_start());
            }
            _ => logical.push(line.to_vec()),
        }
    }
    let (mut vias, mut from, mut to, mut call_id, mut cseq) = (Vec::new(), None, None, None, None);
    for line in &logical {
        let Some(colon) = line.iter().position(|&b| b == b':') else { continue };
        let Ok(name) = std::str::from_utf8(line[..colon].trim_ascii()) else { continue };
        let Ok(value) = std::str::from_utf8(line[colon + 1..].trim_ascii()) else { continue };
        if value.is_empty() || value.contains(['\r', '\n']) {
            continue;
        }
        match HeaderName::parse(name) {
            HeaderName::Via => vias.push(value),
            HeaderName::From if from.is_none() => from = Some(value),
            HeaderName::To if to.is_none() => to = Some(value),
            HeaderName::CallId if call_id.is_none() => call_id = Some(value),
            HeaderName::CSeq if cseq.is_none() => cseq = Some(value),
            _ => {}
        }
    }
    let (from, to, call_id, cseq) = (from?, to?, call_id?, cseq?);
    if vias.is_empty() {
        return None;
    }
    let mut out = Vec::with_capacity(512);
    let status = error.status();
    out.extend_from_slice(format!("SIP/2.0 {} {}\r\n", status, error.reason_phrase()).as_bytes());
    for v in vias {
        out.extend_from_slice(format!("Via: {v}\r\n").as_bytes());
    }
    let has_tag = to.to_ascii_lowercase().contains("tag=");
    let tag = if has_tag { String::new() } else { format!(";tag={to_tag}") };
    out.extend_from_slice(
        format!("From: {from}\r\nTo: {to}{tag}\r\nCall-ID: {call_id}\r\nCSeq: {cseq}\r\n")
            .as_bytes(),
    );
    out.extend_from_slice(b"Content-Length: 0\r\n\r\n");
    Some(out)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::message::{parse, Framing, Message};

    #[test]
    fn malformed_contact_request_still_gets_a_400_naming_the_problem() {
        let raw =
            b"INVITE sip:u@example.com SIP/2.0\r\nVia: SIP/2.0/UDP 192.0.2.15;branch=z9hG4bKa\r\n\
From: <sip:a@example.net>;tag=1\r\nTo: <sip:u@example.com>\r\nCall-ID: x\r\nCSeq: 8 INVITE\r\n\
Contact: \"Joe\" <sip:joe@example.org>;;;;\r\n\r\n";
        let err = parse(raw, Framing::Datagram).unwrap_err();
        let resp = salvage_response(raw, &err, "t1").unwrap();
        let Ok(Message::Response(r)) = parse(&resp, Framing::Datagram) else {
            panic!("not a response")
        };
        assert_eq!(r.status.0, 400);
        assert!(r.reason.contains("Contact"), "{}", r.reason);
        assert_eq!(r.headers.get(&HeaderName::To), Some("<sip:u@example.com>;tag=t1"));
    }

    #[test]
    fn requests_without_the_five_headers_are_dropped() {
        let raw =
            b"INVITE sip:u@example.com SIP/2.0\r\nCSeq: 1 INVITE\r\nVia: SIP/2.0/UDP h\r\n\r\n";
        assert!(salvage_response(raw, &ParseError::ContentLength, "t").is_none());
        let resp = b"SIP/2.0 4294967301 big\r\nVia: a\r\nFrom: a\r\nTo: b\r\nCall-ID: c\r\nCSeq: 1 X\r\n\r\n";
        assert!(salvage_response(resp, &ParseError::StartLine("x"), "t").is_none());
    }
}
