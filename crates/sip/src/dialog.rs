//! UAS dialogs (RFC 3261 §12): created from the INVITE with our To tag (§12.1.1), matched by
//! Call-ID and tags (§12.2.2), remote CSeq tracked, target refreshed by re-INVITE, and our own
//! in-dialog requests built with the route set (§12.2.1.1).

use crate::headers::{NameAddr, Via};
use crate::message::{HeaderName, Method, Request};
use crate::uri::Uri;

/// Call-ID and the two tags.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub struct DialogId {
    pub call_id: String,
    pub local_tag: String,
    /// Empty for RFC 2543 peers that send no From tag.
    pub remote_tag: String,
}

/// Why a dialog operation failed.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum DialogError {
    #[error("request lacks a parsable {0} header")]
    MissingHeader(&'static str),
    /// A lower CSeq than the last one received: answer 500 (§12.2.2).
    #[error("CSeq {got} is lower than the last one received ({last})")]
    CSeqOutOfOrder { got: u32, last: u32 },
}

/// A dialog as seen from the UAS side.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Dialog {
    pub id: DialogId,
    /// The INVITE's To with our tag: our From in requests we send.
    pub local: NameAddr,
    /// The INVITE's From: our To in requests we send.
    pub remote: NameAddr,
    /// Where our requests go: the peer's Contact (§12.1.1), refreshed by re-INVITE.
    pub remote_target: Uri,
    /// Record-Route of the INVITE, in order (§12.1.1: a UAS keeps the order).
    pub route_set: Vec<NameAddr>,
    /// Last CSeq we used; the next request uses one more.
    pub local_seq: u32,
    /// Last CSeq received.
    pub remote_seq: u32,
    pub secure: bool,
}

impl Dialog {
    /// The dialog a 1xx/2xx with our tag creates for `invite` (§12.1.1).
    pub fn new_uas(invite: &Request, local_tag: &str) -> Result<Self, DialogError> {
        let h = &invite.headers;
        let call_id = h.call_id().ok_or(DialogError::MissingHeader("Call-ID"))?.to_owned();
        let remote = h.from().ok_or(DialogError::MissingHeader("From"))?;
        let to = h.to().ok_or(DialogError::MissingHeader("To"))?;
        let cseq = h.cseq().ok_or(DialogError::MissingHeader("CSeq"))?;
        let local = to.with_tag(local_tag);
        // Contact is mandatory in an INVITE (§8.1.1.8); the From URI stands in for a peer
        // that omits it.
        let remote_target = h.contact().map(|c| c.uri).unwrap_or_else(|| remote.uri.clone());
        let route_set = h
            .get_all(&HeaderName::RecordRoute)
            .filter_map(|v| NameAddr::parse_list(v).ok())
            .flatten()
            .collect();
        Ok(Self {
            id: DialogId {
                call_id,
                local_tag: local_tag.to_owned(),
                remote_tag: remote.tag().unwrap_or_default().to_owned(),
            },
            secure: invite.uri.scheme() == "sips",
            local,
            remote,
            remote_target,
            route_set,
            local_seq: 0,
            remote_seq: cseq.seq,
        })
    }

    /// True when `req` belongs to this dialog: same Call-ID, our tag in To, theirs in From.
    pub fn matches(&self, req: &Request) -> bool {
        let h = &req.headers;
        h.call_id() == Some(self.id.call_id.as_str())
            && h.to().is_some_and(|t| t.tag() == Some(self.id.local_tag.as_str()))
            && h.from().is_some_and(|f| f.tag().unwrap_or_default() == self.id.remote_tag)
    }

    /// Accounts for an in-dialog request from the peer: CSeq must not go down (§12.2.2) and
    /// a target refresh (re-INVITE, UPDATE) updates the remote target. ACK and CANCEL carry
    /// the CSeq of the request they belong to and are not counted.
    pub fn on_remote_request(&mut self, req: &Request) -> Result<(), DialogError> {
        if matches!(req.method, Method::Ack | Method::Cancel) {
            return Ok(());
        }
        let cseq = req.headers.cseq().ok_or(DialogError::MissingHeader("CSeq"))?;
        if cseq.seq < self.remote_seq {
            return Err(DialogError::CSeqOutOfOrder { got: cseq.seq, last: self.remote_seq });
        }
        self.remote_seq = cseq.seq;
        if matches!(req.method, Method::Invite | Method::Update) {
            if let Some(c) = req.headers.contact() {
                self.remote_target = c.uri;
            }
        }
        Ok(())
    }

    /// Builds our next in-dialog request (§12.2.1.1): Request-URI and Route from the remote
    /// target and route set, From/To with tags, Call-ID, a new CSeq, Max-Forwards 70 and
    /// `via` (with a fresh branch) as the only Via.
    pub fn new_request(&mut self, method: Method, via: &Via) -> Request {
        self.local_seq = self.local_seq.wrapping_add(1).max(1);
        let loose =
            self.route_set.first().and_then(|r| r.uri.as_sip()).is_none_or(|u| u.is_loose_route());
        let (uri, routes): (Uri, Vec<String>) = if self.route_set.is_empty() || loose {
            (self.remote_target.clone(), self.route_set.iter().map(ToString::to_string).collect())
        } else {
            // Strict routing: the first route becomes the Request-URI and the remote target
            // goes last in Route.
            let mut first = self.route_set[0].uri.clone();
            if let Uri::Sip(u) = &mut first {
                u.headers.clear();
                u.params.remove("method");
            }
            let mut routes: Vec<String> =
                self.route_set[1..].iter().map(ToString::to_string).collect();
            routes.push(format!("<{}>", self.remote_target));
            (first, routes)
        };
        let mut req = Request::new(method.clone(), uri);
        let h = &mut req.headers;
        h.push(HeaderName::Via, via.to_string());
        for r in routes {
            h.push(HeaderName::Route, r);
        }
        h.push(HeaderName::MaxForwards, "70");
        h.push(HeaderName::From, self.local.to_string());
        h.push(HeaderName::To, self.remote.to_string());
        h.push(HeaderName::CallId, self.id.call_id.clone());
        h.push(HeaderName::CSeq, format!("{} {method}", self.local_seq));
        req
    }

    /// Where our requests go first: the first route, or the remote target (§8.1.2).
    pub fn next_hop(&self) -> &Uri {
        match self.route_set.first() {
            Some(r) => &r.uri,
            None => &self.remote_target,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::message::{parse, Framing, Message};
    use crate::uri::Host;

    const INVITE: &str = "INVITE sip:ivr@192.0.2.1 SIP/2.0\r\n\
        Via: SIP/2.0/UDP 198.51.100.2;branch=z9hG4bKp2\r\n\
        Via: SIP/2.0/UDP 198.51.100.1;branch=z9hG4bKp1\r\n\
        Record-Route: <sip:p2.example.com;lr>\r\n\
        Record-Route: <sip:p1.example.com;lr>\r\n\
        From: \"Caller\" <sip:+15551234@sbc.example.com>;tag=abc\r\n\
        To: <sip:ivr@192.0.2.1>\r\nCall-ID: call-1\r\nCSeq: 10 INVITE\r\n\
        Contact: <sip:caller@198.51.100.9:5070>\r\nContent-Length: 0\r\n\r\n";

    fn invite(text: &str) -> Request {
        match parse(text.as_bytes(), Framing::Datagram) {
            Ok(Message::Request(r)) => r,
            other => panic!("{other:?}"),
        }
    }

    fn via() -> Via {
        Via::new("UDP", Host::V4("192.0.2.1".parse().unwrap()), Some(5060), "z9hG4bKus1")
    }

    #[test]
    fn uas_route_set_keeps_record_route_order() {
        let mut d = Dialog::new_uas(&invite(INVITE), "t1").unwrap();
        let bye = d.new_request(Method::Bye, &via());
        let routes: Vec<&str> = bye.headers.get_all(&HeaderName::Route).collect();
        assert_eq!(routes, vec!["<sip:p2.example.com;lr>", "<sip:p1.example.com;lr>"]);
        assert_eq!(bye.uri.to_string(), "sip:caller@198.51.100.9:5070");
        assert_eq!(d.next_hop().to_string(), "sip:p2.example.com;lr");
    }

    #[test]
    fn our_requests_swap_tags_and_count_cseq() {
        let mut d = Dialog::new_uas(&invite(INVITE), "t1").unwrap();
        let bye = d.new_request(Method::Bye, &via());
        assert_eq!(bye.headers.from().unwrap().tag(), Some("t1"));
        assert_eq!(bye.headers.to().unwrap().tag(), Some("abc"));
        assert_eq!(bye.headers.cseq().unwrap().seq, 1);
        let refer = d.new_request(Method::Refer, &via());
        assert_eq!(refer.headers.cseq().unwrap().to_string(), "2 REFER");
        assert_eq!(refer.headers.get(&HeaderName::MaxForwards), Some("70"));
    }

    #[test]
    fn strict_route_becomes_request_uri() {
        let text = INVITE.replace("<sip:p2.example.com;lr>", "<sip:p2.example.com>");
        let mut d = Dialog::new_uas(&invite(&text), "t1").unwrap();
        let bye = d.new_request(Method::Bye, &via());
        assert_eq!(bye.uri.to_string(), "sip:p2.example.com");
        let routes: Vec<&str> = bye.headers.get_all(&HeaderName::Route).collect();
        assert_eq!(routes, vec!["<sip:p1.example.com;lr>", "<sip:caller@198.51.100.9:5070>"]);
    }

    #[test]
    fn in_dialog_requests_match_by_call_id_and_tags() {
        let d = Dialog::new_uas(&invite(INVITE), "t1").unwrap();
        let bye = invite(
            &INVITE
                .replace("INVITE sip", "BYE sip")
                .replace("10 INVITE", "11 BYE")
                .replace("To: <sip:ivr@192.0.2.1>", "To: <sip:ivr@192.0.2.1>;tag=t1"),
        );
        assert!(d.matches(&bye));
        let other =
            invite(&INVITE.replace("To: <sip:ivr@192.0.2.1>", "To: <sip:ivr@192.0.2.1>;tag=zz"));
        assert!(!d.matches(&other));
    }

    #[test]
    fn lower_cseq_is_refused_and_reinvite_refreshes_target() {
        let mut d = Dialog::new_uas(&invite(INVITE), "t1").unwrap();
        let old = invite(&INVITE.replace("10 INVITE", "9 INVITE"));
        assert_eq!(
            d.on_remote_request(&old),
            Err(DialogError::CSeqOutOfOrder { got: 9, last: 10 })
        );
        let re = invite(
            &INVITE.replace("10 INVITE", "11 INVITE").replace("198.51.100.9:5070", "198.51.100.10"),
        );
        d.on_remote_request(&re).unwrap();
        assert_eq!(d.remote_target.to_string(), "sip:caller@198.51.100.10");
        assert_eq!(d.remote_seq, 11);
    }
}
