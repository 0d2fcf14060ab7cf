//! Sans-IO SIP for trunks (the Connect model): message parser and serializer, transactions,
//! dialogs, a UAS core, SDP offer/answer with SDES keys, REFER transfers.
//!
//! Nothing here does IO or reads a clock: a transport feeds bytes and `now` in, and sends what
//! [`UasCore::poll_output`] hands out.
//!
//! ```no_run
//! use std::time::Instant;
//! use attendant_sip::{Config, Input, Output, SipEvent, Transport, UasCore};
//! use attendant_sip::sdp::{self, LocalMedia};
//!
//! let mut core = UasCore::new(Config::new("192.0.2.1".parse::<std::net::IpAddr>().unwrap().into(), 5060, 42));
//! # let (datagram, source) = (&[][..], "192.0.2.9:5060".parse().unwrap());
//! core.handle_input(Instant::now(), Input { transport: Transport::Udp, source, data: datagram });
//! while let Some(out) = core.poll_output() {
//!     match out {
//!         Output::Transmit(t) => { /* socket.send_to(&t.data, t.destination) */ }
//!         Output::Event(SipEvent::IncomingCall(call)) => {
//!             let local = LocalMedia::new("192.0.2.1".parse().unwrap(), 40000);
//!             match call.offer.as_ref().map(|o| sdp::answer(o, &local)) {
//!                 Some(Ok(a)) => core.accept(call.call, &a.sdp, Instant::now()).unwrap(),
//!                 _ => core.reject(call.call, 488.into(), vec![], Instant::now()).unwrap(),
//!             }
//!         }
//!         Output::Event(_) => {}
//!         Output::Timeout(at) => { /* sleep until `at`, then core.handle_timeout(at) */ break }
//!     }
//! }
//! ```

#![cfg_attr(test, allow(clippy::unwrap_used))]

pub mod core;
pub mod dialog;
pub mod headers;
pub mod message;
pub mod refer;
pub mod sdp;
pub mod transaction;
pub mod uri;
pub mod validate;

pub use crate::core::{
    CallError, CallHandle, Config, EndReason, IncomingCall, Input, Output, SipEvent, Transmit,
    UasCore,
};
pub use message::{
    Framing, Header, HeaderName, Headers, Message, Method, ParseError, Request, Response,
    StatusCode, StreamDecoder, StreamItem,
};
pub use refer::ReferOptions;
pub use transaction::{Timers, Transport};

impl From<u16> for StatusCode {
    fn from(code: u16) -> Self {
        StatusCode(code)
    }
}

/// Fuzz entry: runs `data` through both framings of the parser, the typed header accessors,
/// serialization, validation, the stream decoder, the SDP parser and answerer, and a UAS core.
/// Must never panic.
pub fn fuzz_sip(data: &[u8]) {
    use std::time::{Duration, Instant};

    for framing in [Framing::Datagram, Framing::Stream] {
        match message::parse(data, framing) {
            Ok(msg) => {
                let h = msg.headers();
                let _ = (h.vias(), h.from(), h.to(), h.contacts(), h.cseq(), h.content_type());
                let _ = (h.session_expires(), h.event(), h.subscription_state());
                let mut out = Vec::new();
                msg.write_to(&mut out);
                let _ = message::parse(&out, Framing::Datagram);
                match &msg {
                    Message::Request(r) => {
                        let _ = validate::validate_request(r, &validate::Policy::default());
                        let _ = transaction::TransactionKey::for_request(r);
                    }
                    Message::Response(r) => {
                        let _ = validate::validate_response(r);
                    }
                }
                if !msg.body().is_empty() {
                    fuzz_sdp(msg.body());
                    let _ = refer::parse_sipfrag_status(msg.body());
                }
            }
            Err(e) => {
                let _ = message::salvage_response(data, &e, "fuzz");
            }
        }
    }
    let mut decoder = StreamDecoder::new();
    let (a, b) = data.split_at(data.len() / 2);
    decoder.push(a);
    let _ = decoder.next_item();
    decoder.push(b);
    while let Ok(Some(_)) = decoder.next_item() {}

    let t0 = Instant::now();
    let mut core = UasCore::new(Config::new(uri::Host::V4([192, 0, 2, 1].into()), 5060, 7));
    let source = std::net::SocketAddr::from(([192, 0, 2, 9], 5060));
    for transport in [Transport::Udp, Transport::Tcp] {
        core.handle_input(t0, Input { transport, source, data });
        core.handle_input(t0, Input { transport, source, data }); // a retransmission
    }
    let mut local = sdp::LocalMedia::new([192, 0, 2, 1].into(), 40000);
    local.srtp_key = Some([7; 30]);
    while let Some(out) = core.poll_output() {
        match out {
            Output::Event(SipEvent::IncomingCall(c)) => {
                let answer = c.offer.as_ref().map(|o| sdp::answer(o, &local));
                let _ = match answer {
                    Some(Ok(a)) => core.accept(c.call, &a.sdp, t0),
                    _ => core.reject(c.call, StatusCode::NOT_ACCEPTABLE_HERE, Vec::new(), t0),
                };
            }
            Output::Timeout(_) => break,
            _ => {}
        }
    }
    core.handle_timeout(t0 + Duration::from_secs(64));
    while let Some(Output::Transmit(_) | Output::Event(_)) = core.poll_output() {}
}

/// Fuzz entry: SDP parse, serialize and re-parse, attribute accessors and the answerer.
/// Must never panic.
pub fn fuzz_sdp(data: &[u8]) {
    let Ok(sd) = sdp::parse(data) else { return };
    let _ = sdp::parse(&sd.to_bytes());
    for (i, m) in sd.media.iter().enumerate() {
        let _ = (m.rtpmaps(), m.ptime(), m.rtcp(), m.rtcp_mux(), m.cryptos(), sd.direction(i));
        for f in &m.formats {
            if let Ok(pt) = f.parse() {
                let _ = m.fmtp(pt);
            }
        }
    }
    let mut local = sdp::LocalMedia::new([192, 0, 2, 1].into(), 40000);
    let _ = sdp::answer(&sd, &local);
    local.srtp_key = Some([1; 30]);
    if let Ok(a) = sdp::answer(&sd, &local) {
        let _ = sdp::parse(&a.sdp.to_bytes());
    }
}
