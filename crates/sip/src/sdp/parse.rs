//! SDP text to [`SessionDescription`] (RFC 8866 §5). Lines end in CRLF or LF; unknown line
//! types are kept; malformed lines the answer depends on (`v=`, `o=`, `c=`, `m=`) are errors.

use super::{Attribute, Connection, MediaDescription, Origin, SessionDescription};

/// Why SDP did not parse.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum SdpError {
    #[error("SDP is not UTF-8")]
    NotUtf8,
    #[error("SDP does not start with v=0")]
    Version,
    #[error("SDP has no o= line")]
    MissingOrigin,
    #[error("SDP line {line}: {what}")]
    Line { line: usize, what: &'static str },
}

/// Parses a session description. Never panics on any input.
pub fn parse(data: &[u8]) -> Result<SessionDescription, SdpError> {
    let text = std::str::from_utf8(data).map_err(|_| SdpError::NotUtf8)?;
    let mut lines = text
        .split('\n')
        .map(|l| l.strip_suffix('\r').unwrap_or(l))
        .enumerate()
        .filter(|(_, l)| !l.is_empty());
    match lines.next() {
        Some((_, "v=0")) => {}
        _ => return Err(SdpError::Version),
    }
    let mut origin = None;
    let mut sd = SessionDescription {
        origin: Origin {
            username: String::new(),
            session_id: String::new(),
            session_version: String::new(),
            net_type: String::new(),
            addr_type: String::new(),
            address: String::new(),
        },
        session_name: "-".into(),
        connection: None,
        bandwidths: Vec::new(),
        times: Vec::new(),
        attributes: Vec::new(),
        media: Vec::new(),
        other: Vec::new(),
    };
    for (i, line) in lines {
        let line_no = i + 1;
        let err = |what| SdpError::Line { line: line_no, what };
        let bytes = line.as_bytes();
        if bytes.len() < 2 || bytes[1] != b'=' || !bytes[0].is_ascii_lowercase() {
            return Err(err("not <type>=<value>"));
        }
        let (kind, value) = (bytes[0] as char, &line[2..]);
        match (kind, sd.media.last_mut()) {
            ('o', None) => origin = Some(parse_origin(value).ok_or(err("bad o= line"))?),
            ('s', None) => sd.session_name = value.to_owned(),
            ('t', None) => sd.times.push(value.to_owned()),
            ('c', None) => sd.connection = Some(parse_connection(value).ok_or(err("bad c= line"))?),
            ('c', Some(m)) => {
                let c = parse_connection(value).ok_or(err("bad c= line"))?;
                m.connection.get_or_insert(c);
            }
            ('b', None) => sd.bandwidths.push(value.to_owned()),
            ('b', Some(m)) => m.bandwidths.push(value.to_owned()),
            ('a', None) => sd.attributes.push(parse_attribute(value)),
            ('a', Some(m)) => m.attributes.push(parse_attribute(value)),
            ('m', _) => sd.media.push(parse_media(value).ok_or(err("bad m= line"))?),
            ('v', _) => return Err(err("repeated v= line")),
            (k, None) => sd.other.push((k, value.to_owned())),
            (k, Some(m)) => m.other.push((k, value.to_owned())),
        }
    }
    sd.origin = origin.ok_or(SdpError::MissingOrigin)?;
    Ok(sd)
}

fn parse_origin(v: &str) -> Option<Origin> {
    let f: Vec<&str> = v.split(' ').collect();
    let [username, session_id, session_version, net_type, addr_type, address] = f[..] else {
        return None;
    };
    if f.iter().any(|x| x.is_empty()) {
        return None;
    }
    Some(Origin {
        username: username.into(),
        session_id: session_id.into(),
        session_version: session_version.into(),
        net_type: net_type.into(),
        addr_type: addr_type.into(),
        address: address.into(),
    })
}

fn parse_connection(v: &str) -> Option<Connection> {
    let f: Vec<&str> = v.split_whitespace().collect();
    let [net_type, addr_type, address] = f[..] else { return None };
    Some(Connection {
        net_type: net_type.into(),
        addr_type: addr_type.into(),
        address: address.into(),
    })
}

fn parse_attribute(v: &str) -> Attribute {
    match v.split_once(':') {
        Some((n, val)) => Attribute { name: n.to_owned(), value: Some(val.to_owned()) },
        None => Attribute { name: v.to_owned(), value: None },
    }
}

fn parse_media(v: &str) -> Option<MediaDescription> {
    let mut f = v.split_whitespace();
    let media = f.next()?.to_owned();
    let port_field = f.next()?;
    let (port, port_count) = match port_field.split_once('/') {
        Some((p, n)) => (p.parse().ok()?, Some(n.parse().ok()?)),
        None => (port_field.parse().ok()?, None),
    };
    let protocol = f.next()?.to_owned();
    let formats: Vec<String> = f.map(str::to_owned).collect();
    if formats.is_empty() {
        return None;
    }
    Some(MediaDescription {
        media,
        port,
        port_count,
        protocol,
        formats,
        connection: None,
        bandwidths: Vec::new(),
        attributes: Vec::new(),
        other: Vec::new(),
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::sdp::Direction;

    const OFFER: &str = "v=0\r\no=- 3973070478 208142209 IN IP4 127.0.0.1\r\ns=-\r\n\
        c=IN IP4 192.0.2.10\r\nt=0 0\r\na=sendonly\r\nm=audio 34718 RTP/AVP 0 8 101\r\n\
        a=rtpmap:0 PCMU/8000\r\na=rtpmap:101 telephone-event/8000\r\na=fmtp:101 0-15\r\n\
        a=ptime:20\r\na=rtcp-mux\r\nm=video 0 RTP/AVP 31\r\nc=IN IP6 2001:db8::1\r\n";

    #[test]
    fn offer_attributes_are_reachable() {
        let sd = parse(OFFER.as_bytes()).unwrap();
        assert_eq!(sd.media.len(), 2);
        let m = &sd.media[0];
        assert_eq!((m.port, m.protocol.as_str()), (34718, "RTP/AVP"));
        assert_eq!(m.fmtp(101), Some("0-15"));
        assert_eq!(m.ptime(), Some(20));
        assert!(m.rtcp_mux());
        assert_eq!(sd.direction(0), Direction::SendOnly);
        assert_eq!(sd.connection_for(0).unwrap().ip(), Some("192.0.2.10".parse().unwrap()));
        assert_eq!(sd.connection_for(1).unwrap().ip(), Some("2001:db8::1".parse().unwrap()));
        assert_eq!(m.rtpmap(101).unwrap().encoding, "telephone-event");
    }

    #[test]
    fn serialization_round_trips() {
        let sd = parse(OFFER.as_bytes()).unwrap();
        let again = parse(&sd.to_bytes()).unwrap();
        assert_eq!(sd, again);
    }

    #[test]
    fn malformed_lines_are_errors() {
        assert_eq!(parse(b"v=1\r\n"), Err(SdpError::Version));
        assert_eq!(parse(b"v=0\r\ns=-\r\n"), Err(SdpError::MissingOrigin));
        let bad_m = OFFER.replace("m=audio 34718", "m=audio 99999");
        assert!(matches!(parse(bad_m.as_bytes()), Err(SdpError::Line { .. })));
        assert!(parse(b"v=0\r\no=- 1 1 IN IP4 h\r\nm=auM-CM-?34718 RTP/AVP\r\n").is_err());
    }
}
