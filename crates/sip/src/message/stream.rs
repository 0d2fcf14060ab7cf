//! Framing messages out of a TCP/TLS byte stream by Content-Length (RFC 3261 §18.3), with
//! the CRLF keep-alives of RFC 5626 §3.5.1.

use super::parse::find_header_end;
use super::{HeaderName, ParseError, MAX_MESSAGE_SIZE};

/// What the decoder cut from the stream.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum StreamItem {
    /// One complete message: parse it with [`super::Framing::Stream`].
    Message(Vec<u8>),
    /// A double-CRLF keep-alive ping: the transport answers with a single CRLF (RFC 5626).
    Ping,
}

/// Buffers one connection's bytes and yields whole messages. An error is fatal for the
/// connection (the stream can no longer be framed): the transport closes it.
#[derive(Debug, Default)]
pub struct StreamDecoder {
    buf: Vec<u8>,
}

impl StreamDecoder {
    pub fn new() -> Self {
        Self::default()
    }

    /// Appends bytes read from the connection.
    pub fn push(&mut self, data: &[u8]) {
        self.buf.extend_from_slice(data);
    }

    /// Bytes waiting for the rest of a message.
    pub fn buffered(&self) -> usize {
        self.buf.len()
    }

    /// The next complete item, `Ok(None)` when more bytes are needed.
    pub fn next_item(&mut self) -> Result<Option<StreamItem>, ParseError> {
        loop {
            if self.buf.starts_with(b"\r\n\r\n") {
                self.buf.drain(..4);
                return Ok(Some(StreamItem::Ping));
            }
            let crlfs = self.buf.iter().take_while(|&&b| b == b'\r' || b == b'\n').count();
            if crlfs == 0 {
                break;
            }
            if crlfs == self.buf.len() && self.buf.len() < 4 {
                return Ok(None); // maybe the start of a ping
            }
            self.buf.drain(..crlfs); // stray CRLFs (or a pong) before a message
        }
        let Some((head_end, body_start)) = find_header_end(&self.buf) else {
            if self.buf.len() > MAX_MESSAGE_SIZE {
                return Err(ParseError::TooLarge { size: self.buf.len(), limit: MAX_MESSAGE_SIZE });
            }
            return Ok(None);
        };
        let length = content_length(&self.buf[..head_end])?;
        let total = body_start + length;
        if total > MAX_MESSAGE_SIZE {
            return Err(ParseError::TooLarge { size: total, limit: MAX_MESSAGE_SIZE });
        }
        if self.buf.len() < total {
            return Ok(None);
        }
        let rest = self.buf.split_off(total);
        let msg = std::mem::replace(&mut self.buf, rest);
        Ok(Some(StreamItem::Message(msg)))
    }
}

/// The Content-Length of a header section; 0 when absent, an error when invalid or when
/// several values disagree (the stream cannot be framed, RFC 4475 §3.3.9).
fn content_length(head: &[u8]) -> Result<usize, ParseError> {
    let mut found: Option<usize> = None;
    for line in head.split(|&b| b == b'\n') {
        let Some(colon) = line.iter().position(|&b| b == b':') else { continue };
        let name = std::str::from_utf8(line[..colon].trim_ascii()).unwrap_or_default();
        if HeaderName::parse(name) != HeaderName::ContentLength {
            continue;
        }
        let value = line[colon + 1..].trim_ascii();
        if value.is_empty() || !value.iter().all(u8::is_ascii_digit) || value.len() > 6 {
            return Err(ParseError::ContentLength);
        }
        let n = value.iter().fold(0usize, |a, &d| a * 10 + usize::from(d - b'0'));
        match found {
            Some(f) if f != n => return Err(ParseError::ConflictingContentLength),
            _ => found = Some(n),
        }
    }
    Ok(found.unwrap_or(0))
}

#[cfg(test)]
mod tests {
    use super::*;

    const MSG: &[u8] = b"OPTIONS sip:a@b SIP/2.0\r\nContent-Length: 4\r\n\r\nabcd";

    #[test]
    fn messages_split_across_reads_are_reassembled() {
        let mut d = StreamDecoder::new();
        let mut stream = MSG.to_vec();
        stream.extend_from_slice(MSG);
        d.push(&stream[..10]);
        assert_eq!(d.next_item(), Ok(None));
        d.push(&stream[10..]);
        assert_eq!(d.next_item(), Ok(Some(StreamItem::Message(MSG.to_vec()))));
        assert_eq!(d.next_item(), Ok(Some(StreamItem::Message(MSG.to_vec()))));
        assert_eq!(d.next_item(), Ok(None));
        assert_eq!(d.buffered(), 0);
    }

    #[test]
    fn double_crlf_is_a_keepalive_ping() {
        let mut d = StreamDecoder::new();
        d.push(b"\r\n");
        assert_eq!(d.next_item(), Ok(None));
        d.push(b"\r\n");
        assert_eq!(d.next_item(), Ok(Some(StreamItem::Ping)));
    }

    #[test]
    fn conflicting_lengths_cannot_be_framed() {
        let mut d = StreamDecoder::new();
        d.push(b"OPTIONS sip:a@b SIP/2.0\r\nContent-Length: 4\r\nl: 5\r\n\r\nabcde");
        assert_eq!(d.next_item(), Err(ParseError::ConflictingContentLength));
    }

    #[test]
    fn endless_headers_hit_the_size_limit() {
        let mut d = StreamDecoder::new();
        d.push(b"OPTIONS sip:a@b SIP/2.0\r\n");
        d.push(&vec![b'X'; MAX_MESSAGE_SIZE]);
        assert!(matches!(d.next_item(), Err(ParseError::TooLarge { .. })));
    }
}
