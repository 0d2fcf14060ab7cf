//! The caller's SIP messages, built and read with the workspace's `sip` crate: the INVITE and
//! its SDP offer, ACKs, the UAC side of the dialog (RFC 3261 §12.1.2: our From tag, the 200's
//! To tag, its Contact as the remote target, its Record-Route reversed as the route set), the
//! NOTIFY that reports a REFER's outcome, responses to the worker's requests, and the answer SDP.

use std::net::{IpAddr, Ipv4Addr, SocketAddr};

use sip::dialog::{Dialog, DialogId};
use sip::headers::{NameAddr, Via};
use sip::uri::{Host, SipUri, Uri};
use sip::{HeaderName, Method, Request, Response, StatusCode};

/// RFC 3261 timers: T1 (RTT estimate), T2 (longest non-INVITE retransmit interval), and 64·T1
/// (timers B and F: a transaction's end).
pub const T1_MS: u64 = 500;
pub const T2_MS: u64 = 4000;
pub const TIMEOUT_MS: u64 = 64 * T1_MS;

/// This caller's addresses and identity.
#[derive(Debug, Clone)]
pub struct Local {
    pub sip: SocketAddr,
    pub rtp: SocketAddr,
    /// From user part: `load-<run>-<slot>-<attempt>`, how the worker's events name the call.
    pub user: String,
}

impl Local {
    fn host(&self) -> Host {
        match self.sip.ip() {
            IpAddr::V4(a) => Host::V4(a),
            IpAddr::V6(a) => Host::V6(a),
        }
    }

    pub fn via(&self, branch: &str) -> Via {
        let mut via = Via::new("UDP", self.host(), Some(self.sip.port()), branch);
        via.params.set("rport", None);
        via
    }

    fn contact(&self) -> String {
        format!("<{}>", SipUri::new(Some(&self.user), self.host(), Some(self.sip.port())))
    }
}

/// A fresh branch, tag or id: `bits` of randomness in hex, from a splitmix64 stream.
pub fn token(state: &mut u64) -> String {
    *state = state.wrapping_add(0x9E37_79B9_7F4A_7C15);
    let mut z = *state;
    z = (z ^ (z >> 30)).wrapping_mul(0xBF58_476D_1CE4_E5B9);
    z = (z ^ (z >> 27)).wrapping_mul(0x94D0_49BB_1331_11EB);
    format!("{:016x}", z ^ (z >> 31))
}

/// The offer: PCMU and telephone-event, 20 ms packets, RTCP on the RTP port.
pub fn offer(rtp: SocketAddr, session_id: u64) -> Vec<u8> {
    let (ip, kind) = match rtp.ip() {
        IpAddr::V4(a) => (a.to_string(), "IP4"),
        IpAddr::V6(a) => (a.to_string(), "IP6"),
    };
    format!(
        "v=0\r\no=sipload {session_id} 1 IN {kind} {ip}\r\ns=sip_load\r\nc=IN {kind} {ip}\r\nt=0 0\r\n\
         m=audio {} RTP/AVP 0 101\r\na=rtpmap:0 PCMU/8000\r\na=rtpmap:101 telephone-event/8000\r\n\
         a=fmtp:101 0-16\r\na=ptime:20\r\na=rtcp-mux\r\na=sendrecv\r\n",
        rtp.port()
    )
    .into_bytes()
}

/// The INVITE to `target`: `sip:attendant@target`, From `sip:<user>@<our address>`.
pub fn invite(local: &Local, target: SocketAddr, call_id: &str, from_tag: &str, branch: &str, sdp: Vec<u8>) -> Request {
    let target_host = match target.ip() {
        IpAddr::V4(a) => Host::V4(a),
        IpAddr::V6(a) => Host::V6(a),
    };
    let uri = SipUri::new(Some("attendant"), target_host, Some(target.port()));
    let from = SipUri::new(Some(&local.user), local.host(), None);
    let mut req = Request::new(Method::Invite, Uri::Sip(uri.clone()));
    let h = &mut req.headers;
    h.push(HeaderName::Via, local.via(branch).to_string());
    h.push(HeaderName::MaxForwards, "70");
    h.push(HeaderName::From, format!("<{from}>;tag={from_tag}"));
    h.push(HeaderName::To, format!("<{uri}>"));
    h.push(HeaderName::CallId, call_id);
    h.push(HeaderName::CSeq, "1 INVITE");
    h.push(HeaderName::Contact, local.contact());
    h.push(HeaderName::Allow, "INVITE, ACK, CANCEL, BYE, OPTIONS, REFER, NOTIFY");
    h.push(HeaderName::UserAgent, "attendant-sip_load");
    h.push(HeaderName::ContentType, "application/sdp");
    req.body = sdp;
    req
}

/// ACK of a 3xx-6xx: the INVITE's branch, Request-URI, From and Call-ID, the response's To
/// (RFC 3261 §17.1.1.3).
pub fn ack_error(invite: &Request, resp: &Response) -> Request {
    let mut ack = Request::new(Method::Ack, invite.uri.clone());
    let h = &mut ack.headers;
    for name in [HeaderName::Via, HeaderName::MaxForwards, HeaderName::From] {
        if let Some(v) = invite.headers.get(&name) {
            h.push(name.clone(), v);
        }
    }
    if let Some(to) = resp.headers.get(&HeaderName::To) {
        h.push(HeaderName::To, to);
    }
    if let Some(id) = invite.headers.call_id() {
        h.push(HeaderName::CallId, id);
    }
    let seq = invite.headers.cseq().map_or(1, |c| c.seq);
    h.push(HeaderName::CSeq, format!("{seq} ACK"));
    ack
}

/// The dialog a 2xx to our INVITE creates, from the caller's side (§12.1.2).
pub fn uac_dialog(invite: &Request, ok: &Response) -> Result<Dialog, String> {
    let local = invite.headers.from().ok_or("INVITE without From")?;
    let remote = ok.headers.to().ok_or("200 without a parsable To")?;
    let remote_tag = remote.tag().ok_or("200 without a To tag")?.to_owned();
    let remote_target = ok.headers.contact().map(|c| c.uri).ok_or("200 without a Contact")?;
    let mut route_set: Vec<NameAddr> =
        ok.headers.get_all(&HeaderName::RecordRoute).filter_map(|v| NameAddr::parse_list(v).ok()).flatten().collect();
    route_set.reverse();
    Ok(Dialog {
        id: DialogId {
            call_id: invite.headers.call_id().unwrap_or_default().to_owned(),
            local_tag: local.tag().unwrap_or_default().to_owned(),
            remote_tag,
        },
        local,
        remote,
        remote_target,
        route_set,
        local_seq: invite.headers.cseq().map_or(1, |c| c.seq),
        remote_seq: 0,
        secure: false,
    })
}

/// ACK of the 2xx: a request of the dialog with the INVITE's CSeq number and a new branch.
pub fn ack_ok(dialog: &mut Dialog, local: &Local, branch: &str, invite_seq: u32) -> Request {
    let keep = dialog.local_seq;
    dialog.local_seq = invite_seq.wrapping_sub(1);
    let ack = dialog.new_request(Method::Ack, &local.via(branch));
    dialog.local_seq = keep.max(invite_seq);
    ack
}

/// BYE, NOTIFY, ...: our next request in the dialog, with our Contact.
pub fn in_dialog(dialog: &mut Dialog, local: &Local, method: Method, branch: &str) -> Request {
    let mut req = dialog.new_request(method, &local.via(branch));
    req.headers.push(HeaderName::Contact, local.contact());
    req
}

/// The NOTIFY that ends the REFER's implicit subscription (RFC 3515 §2.4.4-5): the transfer
/// target answered.
pub fn notify_transfer_done(dialog: &mut Dialog, local: &Local, branch: &str) -> Request {
    let mut req = in_dialog(dialog, local, Method::Notify, branch);
    req.headers.push(HeaderName::Event, "refer");
    req.headers.push(HeaderName::SubscriptionState, "terminated;reason=noresource");
    req.headers.push(HeaderName::ContentType, "message/sipfrag;version=2.0");
    req.body = b"SIP/2.0 200 OK\r\n".to_vec();
    req
}

/// Our response to the worker's request.
pub fn respond(req: &Request, status: u16, local: &Local) -> Vec<u8> {
    let mut r = Response::for_request(req, StatusCode(status), None);
    if (200..300).contains(&status) {
        r.headers.push(HeaderName::Contact, local.contact());
    }
    r.to_bytes()
}

/// Where the dialog's requests go: its next hop's host and port (5060 by default); a host
/// name (never on loopback) falls back to `fallback`.
pub fn next_hop(dialog: &Dialog, fallback: SocketAddr) -> SocketAddr {
    let Some(u) = dialog.next_hop().as_sip() else { return fallback };
    let ip = match &u.host {
        Host::V4(a) => IpAddr::V4(*a),
        Host::V6(a) => IpAddr::V6(*a),
        Host::Name(n) if n.eq_ignore_ascii_case("localhost") => IpAddr::V4(Ipv4Addr::LOCALHOST),
        Host::Name(_) => return fallback,
    };
    SocketAddr::new(ip, u.port.unwrap_or(5060))
}

/// The worker's RTP address from its answer, which must keep PCMU.
pub fn answer_rtp(ok: &Response) -> Result<SocketAddr, String> {
    let sd = sip::sdp::parse(&ok.body).map_err(|e| format!("answer SDP: {e}"))?;
    let (i, m) = sd.media.iter().enumerate().find(|(_, m)| m.media == "audio" && m.port != 0).ok_or("answer SDP: no accepted audio stream")?;
    if !m.formats.iter().any(|f| f == "0") {
        return Err(format!("answer SDP: PCMU not accepted (formats {:?})", m.formats));
    }
    let ip = sd.connection_for(i).and_then(|c| c.ip()).ok_or("answer SDP: no connection address")?;
    Ok(SocketAddr::new(ip, m.port))
}
