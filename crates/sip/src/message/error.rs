//! Why a message was rejected by the parser, and the status a UAS answers with.

use super::StatusCode;

/// A message the parser rejects as malformed. Each variant names what was wrong so the
/// transport can answer with a useful reason phrase (or drop the message when no response can
/// be built).
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum ParseError {
    #[error("message is {size} bytes, over the {limit}-byte limit")]
    TooLarge { size: usize, limit: usize },
    #[error("empty message")]
    Empty,
    #[error("no empty line ends the header section")]
    IncompleteHeaders,
    #[error("malformed start line: {0}")]
    StartLine(&'static str),
    #[error("SIP version {0} is not supported")]
    UnsupportedVersion(String),
    #[error("malformed Request-URI: {0}")]
    RequestUri(&'static str),
    #[error("malformed header line {line}: {what}")]
    HeaderLine { line: usize, what: &'static str },
    #[error("malformed {name} header: {what}")]
    Header { name: String, what: &'static str },
    #[error("invalid Content-Length")]
    ContentLength,
    #[error("conflicting Content-Length values")]
    ConflictingContentLength,
    #[error("body is {actual} bytes, Content-Length says {expected}")]
    Truncated { expected: usize, actual: usize },
    #[error("CSeq method {cseq} does not match request method {method}")]
    CSeqMismatch { method: String, cseq: String, method_known: bool },
}

impl ParseError {
    /// The status a UAS answers with when it can build a response (RFC 3261 §8.2, §21.4.19,
    /// §21.5.7; RFC 4475 §3.1.2.16 and §3.1.2.18).
    pub fn status(&self) -> StatusCode {
        match self {
            ParseError::TooLarge { .. } => StatusCode::MESSAGE_TOO_LARGE,
            ParseError::UnsupportedVersion(_) => StatusCode::VERSION_NOT_SUPPORTED,
            ParseError::CSeqMismatch { method_known: false, .. } => StatusCode::NOT_IMPLEMENTED,
            _ => StatusCode::BAD_REQUEST,
        }
    }

    /// A reason phrase naming the problem, e.g. `Bad Request (malformed Via header: bad
    /// transport)`.
    pub fn reason_phrase(&self) -> String {
        let text: String = self
            .to_string()
            .chars()
            .map(|c| if c.is_control() { ' ' } else { c })
            .take(160)
            .collect();
        format!("{} ({text})", self.status().canonical_reason())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn reason_phrase_names_the_header() {
        let e = ParseError::Header { name: "Via".into(), what: "bad transport" };
        assert_eq!(e.status(), StatusCode::BAD_REQUEST);
        assert_eq!(e.reason_phrase(), "Bad Request (malformed Via header: bad transport)");
        assert_eq!(ParseError::UnsupportedVersion("SIP/7.0".into()).status().0, 505);
    }
}
