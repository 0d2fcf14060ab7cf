//! Every RFC 4475 torture message, classified as the RFC's §3 text says: parsed and accepted,
//! rejected as malformed by the parser (with the status a UAS answers), or parsed and refused
//! above the parser by `validate_request` / dropped by `validate_response`.
//!
//! Fixtures: ../shared/corpora/rfc4475-ersip (RFC 4475 Appendix A, via poroh/ersip).
#![allow(clippy::unwrap_used)]

use std::path::PathBuf;

use attendant_sip::message::{parse, Framing, Message};
use attendant_sip::validate::{validate_request, validate_response, Policy};
use attendant_sip::HeaderName;

#[derive(Debug, Clone, Copy)]
enum Expect {
    /// Parses, and validation lets it through.
    Accept,
    /// The parser rejects it: the error text contains `.0` and a UAS answers `.1`.
    Malformed(&'static str, u16),
    /// A response the parser rejects (dropped, never answered).
    MalformedResponse(&'static str),
    /// Parses, and validation refuses it with this status.
    Refuse(u16),
    /// A response that parses and is dropped by response validation.
    DropResponse,
}
use Expect::*;

const CASES: &[(&str, &str, Expect)] = &[
    // §3.1.1 valid messages
    ("wsinv", "3.1.1.1 short tortuous INVITE", Accept),
    ("intmeth", "3.1.1.2 wide range of valid characters", Accept),
    ("esc01", "3.1.1.3 valid % escaping", Accept),
    ("escnull", "3.1.1.4 escaped nulls in URIs", Accept),
    ("esc02", "3.1.1.5 % that is not an escape", Accept),
    ("lwsdisp", "3.1.1.6 no LWS between display name and <", Accept),
    ("longreq", "3.1.1.7 long values in header fields", Accept),
    ("dblreq", "3.1.1.8 extra trailing octets in a UDP datagram", Accept),
    ("semiuri", "3.1.1.9 semicolon-separated parameters in URI user part", Accept),
    ("transports", "3.1.1.10 varied and unknown transport types", Accept),
    ("mpart01", "3.1.1.11 multipart MIME message", Accept),
    ("unreason", "3.1.1.12 unusual reason phrase", Accept),
    ("noreason", "3.1.1.13 empty reason phrase", Accept),
    // §3.1.2 invalid messages
    ("badinv01", "3.1.2.1 extraneous header field separators", Malformed("malformed Via", 400)),
    (
        "clerr",
        "3.1.2.2 Content-Length larger than message",
        Malformed("Content-Length says 9999", 400),
    ),
    ("ncl", "3.1.2.3 negative Content-Length", Malformed("invalid Content-Length", 400)),
    (
        "scalar02",
        "3.1.2.4 request scalar fields with overlarge values",
        Malformed("malformed CSeq", 400),
    ),
    (
        "scalarlg",
        "3.1.2.5 response scalar fields with overlarge values",
        MalformedResponse("malformed CSeq"),
    ),
    (
        "quotbal",
        "3.1.2.6 unterminated quoted string in display name",
        Malformed("malformed To", 400),
    ),
    ("ltgtruri", "3.1.2.7 <> enclosing Request-URI", Malformed("Request-URI", 400)),
    ("lwsruri", "3.1.2.8 embedded LWS in Request-URI", Malformed("start line", 400)),
    ("lwsstart", "3.1.2.9 multiple SP in request line", Malformed("start line", 400)),
    ("trws", "3.1.2.10 SP at end of request line", Malformed("start line", 400)),
    ("escruri", "3.1.2.11 escaped headers in SIP Request-URI", Malformed("Request-URI", 400)),
    ("baddate", "3.1.2.12 invalid time zone in Date", Malformed("malformed Date", 400)),
    ("regbadct", "3.1.2.13 name-addr URI not enclosed in <>", Malformed("malformed Contact", 400)),
    ("badaspec", "3.1.2.14 spaces within addr-spec", Malformed("malformed To", 400)),
    ("baddn", "3.1.2.15 non-token characters in display name", Malformed("malformed From", 400)),
    ("badvers", "3.1.2.16 unknown protocol version", Malformed("SIP/7.0 is not supported", 505)),
    (
        "mismatch01",
        "3.1.2.17 start line and CSeq method mismatch",
        Malformed("CSeq method INVITE", 400),
    ),
    (
        "mismatch02",
        "3.1.2.18 unknown method with CSeq mismatch",
        Malformed("CSeq method INVITE", 501),
    ),
    ("bigcode", "3.1.2.19 overlarge response code", MalformedResponse("status code")),
    // §3.2 transaction layer
    ("badbranch", "3.2.1 missing transaction identifier", Refuse(400)),
    // §3.3 application layer
    ("insuf", "3.3.1 missing required header fields", Refuse(400)),
    ("unkscm", "3.3.2 Request-URI with unknown scheme", Refuse(416)),
    ("novelsc", "3.3.3 Request-URI with known but atypical scheme", Refuse(416)),
    ("unksm2", "3.3.4 unknown URI schemes in header fields", Refuse(400)),
    ("bext01", "3.3.5 Proxy-Require and Require", Refuse(420)),
    ("invut", "3.3.6 unknown Content-Type", Refuse(415)),
    ("regaut01", "3.3.7 unknown authorization scheme", Accept),
    ("multi01", "3.3.8 multiple values in single-value fields", Refuse(400)),
    ("mcl01", "3.3.9 multiple Content-Length values", Refuse(400)),
    ("bcast", "3.3.10 200 OK with broadcast Via", DropResponse),
    ("zeromf", "3.3.11 Max-Forwards of zero (an endpoint processes it)", Accept),
    ("cparam01", "3.3.12 REGISTER with a contact parameter", Accept),
    ("cparam02", "3.3.13 REGISTER with a url-parameter", Accept),
    ("regescrt", "3.3.14 REGISTER with a URL escaped header", Accept),
    ("sdp01", "3.3.15 unacceptable Accept offering", Refuse(406)),
    // §3.4 backward compatibility
    ("inv2543", "3.4.1 INVITE with RFC 2543 syntax", Accept),
];

fn corpus() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../../../shared/corpora/rfc4475-ersip")
}

fn classify(name: &str, expect: Expect) -> Result<(), String> {
    let data = std::fs::read(corpus().join(format!("{name}.dat"))).map_err(|e| e.to_string())?;
    let parsed = parse(&data, Framing::Datagram);
    match (expect, parsed) {
        (Malformed(text, status), Err(e)) => {
            let msg = e.to_string();
            if !msg.contains(text) || e.status().0 != status || data.starts_with(b"SIP/") {
                return Err(format!("rejected for the wrong reason: {msg} ({})", e.status()));
            }
            Ok(())
        }
        (MalformedResponse(text), Err(e)) if data.starts_with(b"SIP/") => {
            let msg = e.to_string();
            msg.contains(text).then_some(()).ok_or(format!("rejected for the wrong reason: {msg}"))
        }
        (Malformed(..) | MalformedResponse(_), Ok(_)) => Err("parsed, should be rejected".into()),
        (_, Err(e)) => Err(format!("parser rejected it: {e}")),
        (Accept, Ok(Message::Request(r))) => {
            validate_request(&r, &Policy::default()).map_err(|f| format!("refused: {f:?}"))
        }
        (Accept, Ok(Message::Response(r))) => validate_response(&r).map_err(|e| e.to_string()),
        (Refuse(status), Ok(Message::Request(r))) => match validate_request(&r, &Policy::default())
        {
            Err(f) if f.status.0 == status => Ok(()),
            other => Err(format!("expected {status}, validation gave {other:?}")),
        },
        (DropResponse, Ok(Message::Response(r))) => match validate_response(&r) {
            Err(_) => Ok(()),
            Ok(()) => Err("response accepted, should be dropped".into()),
        },
        (e, Ok(m)) => Err(format!("expected {e:?}, got a {}", kind(&m))),
    }
}

fn kind(m: &Message) -> &'static str {
    match m {
        Message::Request(_) => "request",
        Message::Response(_) => "response",
    }
}

#[test]
fn every_rfc4475_message_is_classified_as_the_rfc_says() {
    assert_eq!(CASES.len(), 49, "RFC 4475 has 49 messages");
    let mut failures = Vec::new();
    let (mut accepted, mut malformed, mut refused) = (0, 0, 0);
    for &(name, title, expect) in CASES {
        match classify(name, expect) {
            Ok(()) => match expect {
                Accept => accepted += 1,
                Malformed(..) | MalformedResponse(_) => malformed += 1,
                Refuse(_) | DropResponse => refused += 1,
            },
            Err(e) => failures.push(format!("{name} ({title}): {e}")),
        }
    }
    assert!(failures.is_empty(), "misclassified:\n{}", failures.join("\n"));
    assert_eq!((accepted, malformed, refused), (19, 19, 11));
}

fn load(name: &str) -> Message {
    let data = std::fs::read(corpus().join(format!("{name}.dat"))).expect("fixture");
    parse(&data, Framing::Datagram).expect("parses")
}

#[test]
fn dblreq_keeps_only_the_first_request_of_the_datagram() {
    let Message::Request(r) = load("dblreq") else { panic!("request") };
    assert_eq!(r.method.as_str(), "REGISTER");
    assert!(r.body.is_empty());
}

#[test]
fn wsinv_folded_and_compact_headers_are_understood() {
    let Message::Request(r) = load("wsinv") else { panic!("request") };
    let vias = r.headers.vias();
    assert_eq!(vias.len(), 3);
    assert_eq!(vias[0].branch(), Some("390skdjuw"));
    assert_eq!(vias[2].branch(), Some("z9hG4bK30239"));
    assert_eq!(
        r.headers.to().and_then(|t| t.tag().map(str::to_owned)).as_deref(),
        Some("1918181833n")
    );
    assert_eq!(r.headers.cseq().map(|c| c.seq), Some(9));
    assert_eq!(r.headers.contacts().len(), 1);
    assert_eq!(r.body.len(), 150);
    assert_eq!(r.headers.get(&HeaderName::Subject), Some(""));
}

#[test]
fn bext01_refusal_lists_the_unsupported_extensions() {
    let Message::Request(r) = load("bext01") else { panic!("request") };
    let f = validate_request(&r, &Policy::default()).unwrap_err();
    let unsupported = f.headers.iter().find(|h| h.name == HeaderName::Unsupported).unwrap();
    assert_eq!(unsupported.value, "nothingSupportsThis, nothingSupportsThisEither");
}

#[test]
fn esc02_method_is_unknown_not_register() {
    let Message::Request(r) = load("esc02") else { panic!("request") };
    assert_eq!(r.method.as_str(), "RE%47IST%45R");
    assert_eq!(r.headers.count(&HeaderName::Contact), 2);
}
