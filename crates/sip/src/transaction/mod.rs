//! Transactions (RFC 3261 §17) as state machines in virtual time: the caller passes `now`,
//! asks for the next deadline with `poll_timeout`, and calls `handle_timeout` when it passes.
//! Reliable transports skip the retransmission timers and the linger timers (§17.1.2.2,
//! §17.2.1, §17.2.2).

mod client;
mod server;

use std::time::{Duration, Instant};

pub use client::{ClientNonInvite, ClientState};
pub use server::{InviteState, NonInviteState, ServerInvite, ServerNonInvite, TxError};

use crate::headers::Via;
use crate::message::{Method, Request};

/// The transport a message travelled on.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Transport {
    Udp,
    Tcp,
    Tls,
}

impl Transport {
    /// Reliable transports need no retransmissions (RFC 3261 §17.1.1.2).
    pub fn is_reliable(self) -> bool {
        !matches!(self, Transport::Udp)
    }

    /// The Via transport token.
    pub fn via_name(self) -> &'static str {
        match self {
            Transport::Udp => "UDP",
            Transport::Tcp => "TCP",
            Transport::Tls => "TLS",
        }
    }
}

/// Timer base values (RFC 3261 §17.1.1.1, Table 4).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Timers {
    /// RTT estimate, 500 ms.
    pub t1: Duration,
    /// Maximum retransmit interval for non-INVITE requests and INVITE responses, 4 s.
    pub t2: Duration,
    /// Maximum time a message stays in the network, 5 s.
    pub t4: Duration,
}

impl Default for Timers {
    fn default() -> Self {
        Self {
            t1: Duration::from_millis(500),
            t2: Duration::from_secs(4),
            t4: Duration::from_secs(5),
        }
    }
}

impl Timers {
    /// 64*T1: Timers B, F, H, J and L (32 s with the default T1).
    pub fn timeout(&self) -> Duration {
        self.t1 * 64
    }
}

/// What a transaction asks its owner to do when a timer fires.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum TxEvent {
    /// Send these bytes again to the transaction's peer.
    Retransmit(Vec<u8>),
    /// The transaction timed out: no ACK (Timers H, L) or no final response (Timer F).
    TimedOut,
    /// The transaction is over and can be dropped.
    Terminated,
}

/// The methods a server transaction key distinguishes: an ACK matches its INVITE, a CANCEL
/// has a transaction of its own with the same branch (RFC 3261 §17.2.3).
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub enum KeyMethod {
    Invite,
    Cancel,
    Other(Method),
}

/// Identifies a server transaction (RFC 3261 §17.2.3).
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub struct TransactionKey {
    /// The branch, or for RFC 2543 peers (no magic cookie) a key built from Call-ID, From
    /// tag, CSeq number and the old branch.
    pub branch: String,
    pub sent_by: String,
    pub method: KeyMethod,
}

impl TransactionKey {
    /// The key a received request belongs to. `None` when it has no parsable top Via.
    pub fn for_request(req: &Request) -> Option<Self> {
        let via = req.headers.top_via()?;
        Some(Self::from_parts(req, &via, key_method(&req.method)))
    }

    /// The key of the INVITE transaction a CANCEL refers to.
    pub fn invite_for_cancel(cancel: &Request) -> Option<Self> {
        let via = cancel.headers.top_via()?;
        Some(Self::from_parts(cancel, &via, KeyMethod::Invite))
    }

    fn from_parts(req: &Request, via: &Via, method: KeyMethod) -> Self {
        let branch = if via.has_rfc3261_branch() {
            via.branch().unwrap_or_default().to_owned()
        } else {
            let from_tag = req.headers.from().and_then(|f| f.tag().map(str::to_owned));
            format!(
                "rfc2543;{};{};{};{}",
                req.headers.call_id().unwrap_or_default(),
                from_tag.unwrap_or_default(),
                req.headers.cseq().map(|c| c.seq).unwrap_or_default(),
                via.branch().unwrap_or_default()
            )
        };
        Self { branch, sent_by: via.sent_by().to_ascii_lowercase(), method }
    }
}

fn key_method(m: &Method) -> KeyMethod {
    match m {
        Method::Invite | Method::Ack => KeyMethod::Invite,
        Method::Cancel => KeyMethod::Cancel,
        other => KeyMethod::Other(other.clone()),
    }
}

/// The earliest of optional deadlines.
fn earliest(deadlines: &[Option<Instant>]) -> Option<Instant> {
    deadlines.iter().flatten().min().copied()
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::message::{parse, Framing, Message};

    fn req(text: &str) -> Request {
        match parse(text.as_bytes(), Framing::Datagram) {
            Ok(Message::Request(r)) => r,
            other => panic!("{other:?}"),
        }
    }

    const INVITE: &str = "INVITE sip:b@example.com SIP/2.0\r\nVia: SIP/2.0/UDP h:5060;branch=z9hG4bKabc\r\n\
        From: <sip:a@example.com>;tag=f\r\nTo: <sip:b@example.com>\r\nCall-ID: c\r\nCSeq: 1 INVITE\r\n\r\n";

    #[test]
    fn ack_and_cancel_keys_relate_to_the_invite() {
        let invite = TransactionKey::for_request(&req(INVITE)).unwrap();
        let ack = req(&INVITE.replace("INVITE", "ACK"));
        assert_eq!(TransactionKey::for_request(&ack).unwrap(), invite);
        let cancel = req(&INVITE.replace("INVITE", "CANCEL"));
        assert_ne!(TransactionKey::for_request(&cancel).unwrap(), invite);
        assert_eq!(TransactionKey::invite_for_cancel(&cancel).unwrap(), invite);
    }

    #[test]
    fn rfc2543_requests_fall_back_to_dialog_fields() {
        let old = req(&INVITE.replace(";branch=z9hG4bKabc", ""));
        let k = TransactionKey::for_request(&old).unwrap();
        assert!(k.branch.starts_with("rfc2543;c;f;1;"));
        assert_eq!(TransactionKey::for_request(&old).unwrap(), k);
    }
}
