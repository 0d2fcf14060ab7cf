//! A scripted SBC talking to a `UasCore` in virtual time.
#![allow(clippy::unwrap_used)]
#![allow(dead_code, clippy::large_enum_variant)]

use std::net::SocketAddr;
use std::time::{Duration, Instant};

use attendant_sip::message::{parse, Framing};
use attendant_sip::{
    Config, Input, Message, Output, Request, Response, SipEvent, Transmit, Transport, UasCore,
};

pub const SBC: &str = "198.51.100.7:5060";

pub const OFFER: &str =
    "v=0\r\no=sbc 1000 1 IN IP4 198.51.100.7\r\ns=-\r\nc=IN IP4 198.51.100.7\r\nt=0 0\r\n\
m=audio 52000 RTP/AVP 18 8 0 101\r\na=rtpmap:18 G729/8000\r\na=rtpmap:101 telephone-event/8000\r\n\
a=fmtp:101 0-16\r\na=ptime:20\r\na=sendrecv\r\n";

/// What the core produced, with transmitted bytes parsed back.
#[derive(Debug, Clone)]
pub enum Out {
    Tx(Transmit, Message),
    Ev(SipEvent),
}

pub struct Sbc {
    pub core: UasCore,
    pub t0: Instant,
    pub now: Instant,
    pub addr: SocketAddr,
    pub transport: Transport,
}

impl Sbc {
    pub fn udp() -> Self {
        Self::with(Transport::Udp)
    }

    pub fn tcp() -> Self {
        Self::with(Transport::Tcp)
    }

    fn with(transport: Transport) -> Self {
        let config =
            Config::new("192.0.2.1".parse::<std::net::IpAddr>().unwrap().into(), 5060, 0x5eed);
        let t0 = Instant::now();
        Self { core: UasCore::new(config), t0, now: t0, addr: SBC.parse().unwrap(), transport }
    }

    pub fn secs(&self) -> f64 {
        (self.now - self.t0).as_secs_f64()
    }

    /// Sends `text` from the SBC and returns what the core did right away.
    pub fn send(&mut self, text: &str) -> Vec<Out> {
        self.send_bytes(text.as_bytes())
    }

    pub fn send_bytes(&mut self, data: &[u8]) -> Vec<Out> {
        self.core
            .handle_input(self.now, Input { transport: self.transport, source: self.addr, data });
        self.drain()
    }

    pub fn drain(&mut self) -> Vec<Out> {
        let mut out = Vec::new();
        while let Some(o) = self.core.poll_output() {
            match o {
                Output::Transmit(t) => {
                    let m = parse(&t.data, Framing::Datagram).expect("we send parsable messages");
                    out.push(Out::Tx(t, m));
                }
                Output::Event(e) => out.push(Out::Ev(e)),
                Output::Timeout(_) => break,
            }
        }
        out
    }

    /// Runs timers up to `secs` after start; returns (time, output) pairs.
    pub fn advance_to(&mut self, secs: f64) -> Vec<(f64, Out)> {
        let until = self.t0 + Duration::from_secs_f64(secs);
        let mut out = Vec::new();
        loop {
            match self.core.poll_output() {
                Some(Output::Timeout(at)) if at <= until => {
                    self.now = self.now.max(at);
                    self.core.handle_timeout(self.now);
                }
                Some(Output::Timeout(_)) | None => break,
                Some(Output::Transmit(t)) => {
                    let m = parse(&t.data, Framing::Datagram).expect("parsable");
                    out.push((self.secs(), Out::Tx(t, m)));
                }
                Some(Output::Event(e)) => out.push((self.secs(), Out::Ev(e))),
            }
        }
        self.now = until;
        out
    }
}

pub fn responses(out: &[Out]) -> Vec<Response> {
    out.iter()
        .filter_map(|o| match o {
            Out::Tx(_, Message::Response(r)) => Some(r.clone()),
            _ => None,
        })
        .collect()
}

pub fn requests(out: &[Out]) -> Vec<(Transmit, Request)> {
    out.iter()
        .filter_map(|o| match o {
            Out::Tx(t, Message::Request(r)) => Some((t.clone(), r.clone())),
            _ => None,
        })
        .collect()
}

pub fn events(out: &[Out]) -> Vec<SipEvent> {
    out.iter()
        .filter_map(|o| match o {
            Out::Ev(e) => Some(e.clone()),
            _ => None,
        })
        .collect()
}

pub fn codes(out: &[Out]) -> Vec<u16> {
    responses(out).iter().map(|r| r.status.0).collect()
}

/// A request from the SBC. `to_tag` makes it in-dialog.
#[allow(clippy::too_many_arguments)]
pub fn request(
    method: &str,
    branch: &str,
    call_id: &str,
    to_tag: Option<&str>,
    cseq: u32,
    cseq_method: &str,
    extra: &str,
    body: &str,
) -> String {
    let to_tag = to_tag.map(|t| format!(";tag={t}")).unwrap_or_default();
    format!(
        "{method} sip:ivr@192.0.2.1:5060 SIP/2.0\r\n\
         Via: SIP/2.0/UDP 198.51.100.7:5060;branch={branch};rport\r\n\
         Record-Route: <sip:edge2.sbc.example.com;lr>\r\n\
         Record-Route: <sip:198.51.100.7;lr>\r\n\
         Max-Forwards: 70\r\n\
         From: \"+1 555 0100\" <sip:+15550100@sbc.example.com>;tag=sbc-tag\r\n\
         To: <sip:ivr@192.0.2.1>{to_tag}\r\n\
         Call-ID: {call_id}\r\n\
         CSeq: {cseq} {cseq_method}\r\n\
         Contact: <sip:sbc@198.51.100.7:5060>\r\n\
         {extra}Content-Length: {}\r\n\r\n{body}",
        body.len()
    )
}

pub fn invite(branch: &str, call_id: &str) -> String {
    request(
        "INVITE",
        branch,
        call_id,
        None,
        1,
        "INVITE",
        "Content-Type: application/sdp\r\n",
        OFFER,
    )
}

pub fn ack(branch: &str, call_id: &str, to_tag: &str, cseq: u32) -> String {
    request("ACK", branch, call_id, Some(to_tag), cseq, "ACK", "", "")
}

/// Answers an incoming call's offer with our local media and accepts it.
pub fn answer_and_accept(
    sbc: &mut Sbc,
    call: attendant_sip::CallHandle,
    offer: &attendant_sip::sdp::SessionDescription,
) -> Vec<Out> {
    let local = attendant_sip::sdp::LocalMedia::new("192.0.2.1".parse().unwrap(), 40000);
    let a = attendant_sip::sdp::answer(offer, &local).expect("answer");
    sbc.core.accept(call, &a.sdp, sbc.now).expect("accept");
    sbc.drain()
}

/// Places a call and answers it; returns the handle and our To tag.
pub fn established(sbc: &mut Sbc, call_id: &str) -> (attendant_sip::CallHandle, String) {
    let out = sbc.send(&invite(&format!("z9hG4bKinv-{call_id}"), call_id));
    let Some(SipEvent::IncomingCall(c)) = events(&out).into_iter().next() else {
        panic!("no call")
    };
    let out = answer_and_accept(sbc, c.call, c.offer.as_ref().unwrap());
    let ok = responses(&out).pop().expect("200");
    let tag = ok.headers.to().unwrap().tag().unwrap().to_owned();
    let out = sbc.send(&ack(&format!("z9hG4bKack-{call_id}"), call_id, &tag, 1));
    assert!(matches!(events(&out)[..], [SipEvent::CallAnswered { .. }]));
    (c.call, tag)
}
