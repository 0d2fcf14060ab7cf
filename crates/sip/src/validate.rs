//! Checks on well-formed messages above the parser, before the UAS core acts on them (RFC 3261
//! §8.2.1-§8.2.3, §8.1.3.3). A request that fails gets the returned status; a response that
//! fails is dropped.

use crate::headers::{accept_list, token_list};
use crate::message::{Header, HeaderName, Headers, Method, Request, Response, StatusCode};

/// A refused request: the status, a reason phrase naming the problem, and headers the
/// response must carry (Unsupported for 420, Accept for 415, ...).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Refusal {
    pub status: StatusCode,
    pub reason: String,
    pub headers: Vec<Header>,
}

impl Refusal {
    /// A refusal whose reason phrase explains why: `Bad Request (missing To header)`.
    pub fn new(status: StatusCode, why: &str) -> Self {
        Self {
            status,
            reason: format!("{} ({why})", status.canonical_reason()),
            headers: Vec::new(),
        }
    }

    /// A refusal with the status's usual reason phrase.
    pub fn plain(status: StatusCode) -> Self {
        Self { status, reason: status.canonical_reason().to_owned(), headers: Vec::new() }
    }

    pub fn with_header(mut self, name: impl Into<HeaderName>, value: impl Into<String>) -> Self {
        self.headers.push(Header::new(name, value));
        self
    }
}

/// What this UAS understands.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Policy {
    /// Option tags accepted in Require (RFC 3261 §8.2.2.3). `timer`: RFC 4028 is tolerated.
    pub supported: Vec<String>,
    /// Body types accepted per method; methods not listed accept any body.
    pub bodies: Vec<(Method, Vec<String>)>,
}

impl Default for Policy {
    fn default() -> Self {
        let sdp = vec!["application/sdp".to_owned()];
        Self {
            supported: vec!["timer".into()],
            bodies: vec![
                (Method::Invite, sdp.clone()),
                (Method::Ack, sdp.clone()),
                (Method::Update, sdp.clone()),
                (Method::Prack, sdp),
                (Method::Notify, vec!["message/sipfrag".into()]),
            ],
        }
    }
}

impl Policy {
    fn bodies_for(&self, m: &Method) -> Option<&[String]> {
        self.bodies.iter().find(|(x, _)| x == m).map(|(_, v)| v.as_slice())
    }
}

/// Headers a response copies; without them no response can be built (RFC 3261 §8.1.1).
const REQUIRED: [HeaderName; 5] =
    [HeaderName::Via, HeaderName::From, HeaderName::To, HeaderName::CallId, HeaderName::CSeq];

/// Headers that may appear once (RFC 4475 §3.3.8, §3.3.9).
const SINGLE: [HeaderName; 7] = [
    HeaderName::From,
    HeaderName::To,
    HeaderName::CallId,
    HeaderName::CSeq,
    HeaderName::MaxForwards,
    HeaderName::ContentLength,
    HeaderName::ContentType,
];

/// True when `headers` has what a response copies (RFC 3261 §8.2.6.2); without them a
/// refused request is dropped.
pub fn can_respond(headers: &Headers) -> bool {
    REQUIRED.iter().all(|n| headers.contains(n))
}

/// Validates a parsed request. Method support (405/501) is left to the core.
pub fn validate_request(req: &Request, policy: &Policy) -> Result<(), Refusal> {
    let h = &req.headers;
    for name in &REQUIRED {
        if !h.contains(name) {
            return Err(Refusal::new(StatusCode::BAD_REQUEST, &format!("missing {name} header")));
        }
    }
    for name in &SINGLE {
        if h.count(name) > 1 {
            return Err(Refusal::new(
                StatusCode::BAD_REQUEST,
                &format!("more than one {name} header"),
            ));
        }
    }
    // §8.2.2.1: schemes we cannot handle get 416.
    if !matches!(req.uri.scheme(), "sip" | "sips" | "tel") {
        return Err(Refusal::new(StatusCode::UNSUPPORTED_URI_SCHEME, "Request-URI scheme"));
    }
    // RFC 4475 §3.2.1: the magic cookie alone is no transaction identifier.
    if h.top_via().and_then(|v| v.branch().map(|b| b == crate::headers::MAGIC_COOKIE)) == Some(true)
    {
        return Err(Refusal::new(StatusCode::BAD_REQUEST, "missing transaction identifier"));
    }
    // §10.3 step 5: an address-of-record is a SIP or SIPS URI.
    if req.method == Method::Register
        && !h.to().is_some_and(|t| matches!(t.uri.scheme(), "sip" | "sips"))
    {
        return Err(Refusal::new(StatusCode::BAD_REQUEST, "To of REGISTER is not a SIP URI"));
    }
    if !matches!(req.method, Method::Ack | Method::Cancel) {
        check_require(req, policy)?;
    }
    check_body(req, policy)?;
    check_accept(req)
}

/// §8.2.2.3: unknown option tags in Require get 420 with Unsupported.
fn check_require(req: &Request, policy: &Policy) -> Result<(), Refusal> {
    let mut unsupported = Vec::new();
    for v in req.headers.get_all(&HeaderName::Require) {
        for tag in token_list(v).unwrap_or_default() {
            if !policy.supported.iter().any(|s| s.eq_ignore_ascii_case(tag)) {
                unsupported.push(tag.to_owned());
            }
        }
    }
    if unsupported.is_empty() {
        return Ok(());
    }
    let mut r = Refusal::new(StatusCode::BAD_EXTENSION, "unsupported extension required");
    r.headers.push(Header::new(HeaderName::Unsupported, unsupported.join(", ")));
    Err(r)
}

/// §8.2.3: bodies of a type or encoding we do not understand get 415.
fn check_body(req: &Request, policy: &Policy) -> Result<(), Refusal> {
    if req.body.is_empty() {
        return Ok(());
    }
    let encodings = req.headers.list(&HeaderName::ContentEncoding);
    if encodings.iter().any(|e| !e.eq_ignore_ascii_case("identity")) {
        let mut r = Refusal::new(StatusCode::UNSUPPORTED_MEDIA_TYPE, "content encoding");
        r.headers.push(Header::new(HeaderName::AcceptEncoding, "identity"));
        return Err(r);
    }
    let Some(ct) = req.headers.content_type() else {
        return Err(Refusal::new(StatusCode::BAD_REQUEST, "body without Content-Type"));
    };
    if let Some(accepted) = policy.bodies_for(&req.method) {
        if !accepted.iter().any(|a| a.eq_ignore_ascii_case(&ct.essence())) {
            let mut r = Refusal::new(StatusCode::UNSUPPORTED_MEDIA_TYPE, "body type");
            r.headers.push(Header::new(HeaderName::Accept, accepted.join(", ")));
            return Err(r);
        }
    }
    Ok(())
}

/// RFC 4475 §3.3.15: an INVITE whose Accept excludes SDP cannot be answered (406).
fn check_accept(req: &Request) -> Result<(), Refusal> {
    if !matches!(req.method, Method::Invite | Method::Update) {
        return Ok(());
    }
    let mut present = false;
    for v in req.headers.get_all(&HeaderName::Accept) {
        present = true;
        if accept_list(v).unwrap_or_default().iter().any(|m| m.covers("application", "sdp")) {
            return Ok(());
        }
    }
    if present {
        let mut r = Refusal::new(StatusCode::NOT_ACCEPTABLE, "Accept excludes application/sdp");
        r.headers.push(Header::new(HeaderName::Accept, "application/sdp"));
        return Err(r);
    }
    Ok(())
}

/// Why a response is dropped.
#[derive(Debug, Clone, Copy, PartialEq, Eq, thiserror::Error)]
pub enum ResponseDrop {
    #[error("response carries more than one Via (RFC 3261 §8.1.3.3)")]
    ExtraVia,
    #[error("response lacks a required header")]
    MissingHeader,
}

/// Validates a response received by a UAC: exactly one Via and the five required headers.
pub fn validate_response(resp: &Response) -> Result<(), ResponseDrop> {
    if REQUIRED.iter().any(|n| !resp.headers.contains(n)) {
        return Err(ResponseDrop::MissingHeader);
    }
    if resp.headers.list(&HeaderName::Via).len() != 1 {
        return Err(ResponseDrop::ExtraVia);
    }
    Ok(())
}
