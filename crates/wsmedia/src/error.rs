//! Why a message was refused. The Display text is meant to be sent as the WebSocket close
//! reason, so it stays under 123 bytes (RFC 6455 §5.5: a control frame's payload is at most 125
//! bytes, 2 of which are the code): text taken from the peer is clipped by [`clip`].

/// A message the connection could not accept. The connection's state is unchanged by a
/// refused message, but the peer broke the protocol and the worker is expected to close.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum ProtocolError {
    /// A text message that does not parse as JSON; `at` is the 1-based offset of the byte
    /// where parsing failed (the last byte when the text ends early).
    #[error("not JSON at byte {at}")]
    NotJson { at: usize },
    #[error("message is not a JSON object")]
    NotObject,
    /// ACS and Twilio send text only; binary is the relay's audio.
    #[error("binary message on a JSON protocol")]
    BinaryOnJsonProtocol,
    #[error("{field} is missing")]
    Missing { field: &'static str },
    #[error("{field} is not {expected}")]
    WrongType { field: &'static str, expected: &'static str },
    #[error("{field} \"{value}\" is not a whole number")]
    BadNumber { field: &'static str, value: String },
    #[error("{field} is not base64")]
    NotBase64 { field: &'static str },
    /// `key` is what names a message in this protocol: `kind` (ACS), `event` (Twilio), `type`.
    #[error("unknown {key} \"{name}\"")]
    UnknownMessage { key: &'static str, name: String },
    /// A message that needs the stream's format before the message that gives it.
    #[error("{what} before {start}")]
    BeforeStart { what: &'static str, start: &'static str },
    #[error("second {start}")]
    SecondStart { start: &'static str },
    /// Anything after the peer said the stream is over (Twilio `stop`, relay `hangup`).
    #[error("message after {stop}")]
    AfterStop { stop: &'static str },
    #[error("sample rate {hz} not supported (expected {supported})")]
    UnsupportedRate { hz: u64, supported: &'static str },
    #[error("encoding \"{encoding}\" not supported (expected {supported})")]
    UnsupportedEncoding { encoding: String, supported: &'static str },
    #[error("{channels} channels not supported (expected 1)")]
    UnsupportedChannels { channels: u64 },
    /// 16-bit PCM whose byte count is odd: a sample was cut, the stream is misaligned.
    #[error("{what} of {len} bytes (must be a multiple of 2)")]
    OddLength { what: &'static str, len: usize },
    #[error("DTMF digit \"{digit}\" is not one of 0-9 * # A-D")]
    BadDigit { digit: String },
    #[error("relay protocol version {version} not supported (expected 1)")]
    UnsupportedVersion { version: u64 },
}

impl ProtocolError {
    /// The WebSocket close code (RFC 6455 §7.4.1): 1003 ("cannot accept this type of data")
    /// for binary on a text-only protocol, 1007 ("inconsistent with the type of the message")
    /// for everything else, malformed, unsupported or out of order alike: the reason text
    /// tells them apart, and one code keeps the peer's handling simple.
    pub fn close_code(&self) -> u16 {
        match self {
            Self::BinaryOnJsonProtocol => 1003,
            _ => 1007,
        }
    }
}

/// Peer text for an error message: control characters and quotes escaped, at most 40 bytes.
pub(crate) fn clip(s: &str) -> String {
    const MAX: usize = 40;
    let mut out = String::new();
    for c in s.chars() {
        let escaped = c.escape_debug();
        if out.len() + escaped.len() > MAX {
            out.push_str("...");
            break;
        }
        out.extend(escaped);
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_error_fits_a_close_frame_even_with_long_peer_text() {
        let long = "\u{1}\"x".repeat(200);
        let all = [
            ProtocolError::NotJson { at: usize::MAX },
            ProtocolError::NotObject,
            ProtocolError::BinaryOnJsonProtocol,
            ProtocolError::Missing { field: "start.mediaFormat.sampleRate" },
            ProtocolError::WrongType { field: "start.customParameters", expected: "an object" },
            ProtocolError::BadNumber { field: "media.sequenceNumber", value: clip(&long) },
            ProtocolError::NotBase64 { field: "AudioData.data" },
            ProtocolError::UnknownMessage { key: "event", name: clip(&long) },
            ProtocolError::BeforeStart { what: "AudioData", start: "AudioMetadata" },
            ProtocolError::SecondStart { start: "AudioMetadata with another format" },
            ProtocolError::AfterStop { stop: "hangup" },
            ProtocolError::UnsupportedRate { hz: u64::MAX, supported: "16000 or 24000" },
            ProtocolError::UnsupportedEncoding {
                encoding: clip(&long),
                supported: "audio/x-mulaw",
            },
            ProtocolError::UnsupportedChannels { channels: u64::MAX },
            ProtocolError::OddLength { what: "relay audio frame", len: usize::MAX },
            ProtocolError::BadDigit { digit: clip(&long) },
            ProtocolError::UnsupportedVersion { version: u64::MAX },
        ];
        for e in all {
            let text = e.to_string();
            assert!(text.len() <= 120, "{} bytes: {text}", text.len());
            assert!(!text.chars().any(char::is_control), "{text:?}");
        }
    }

    #[test]
    fn clip_escapes_and_shortens() {
        assert_eq!(clip("foo"), "foo");
        assert_eq!(clip("a\"b\n"), "a\\\"b\\n");
        let c = clip(&"é".repeat(100));
        assert!(c.len() <= 43 && c.ends_with("..."), "{c}");
    }
}
