//! The UAS core: takes datagrams or framed stream messages with their source and `now`,
//! runs transactions and dialogs, and hands out what to transmit (with its destination),
//! when to wake it next, and call events for the application, which decides with
//! [`UasCore::accept`], [`UasCore::reject`], [`UasCore::ringing`], [`UasCore::hangup`] and
//! [`UasCore::refer`].
//!
//! ```text
//! transport ──handle_input(now, Input)──► UasCore ──poll_output()──► Transmit / Event / Timeout
//! timer ─────handle_timeout(now)────────►         ◄── accept / reject / hangup / refer ── app
//! ```

mod inbound;
mod outbound;
mod plumbing;

use std::cmp::Reverse;
use std::collections::{BinaryHeap, HashMap, VecDeque};
use std::fmt;
use std::net::SocketAddr;
use std::time::Instant;

use crate::dialog::Dialog;
use crate::headers::NameAddr;
use crate::message::{self, Framing, Headers, Message, ParseError, Request, StatusCode};
use crate::sdp::SessionDescription;
use crate::transaction::{ClientNonInvite, Timers, TransactionKey, Transport};
use crate::uri::{Host, Uri};
use crate::validate::Policy;

/// Methods this UAS accepts (the Allow header).
pub const ALLOW: &str = "INVITE, ACK, CANCEL, BYE, OPTIONS, NOTIFY";

/// Settings of a UAS core.
#[derive(Debug, Clone)]
pub struct Config {
    /// Host written in our Via and Contact (the address the trunk reaches us at).
    pub local_host: Host,
    /// Port written in our Via and Contact.
    pub local_port: u16,
    /// User part of our Contact, if any.
    pub contact_user: Option<String>,
    /// Server / User-Agent header value; none when `None`.
    pub user_agent: Option<String>,
    pub timers: Timers,
    pub policy: Policy,
    /// Smallest Session-Expires accepted (RFC 4028 §5; 90 s).
    pub min_se: u32,
    /// Seed for tags and branches; give a random value. The crate holds no RNG.
    pub seed: u64,
}

impl Config {
    pub fn new(local_host: Host, local_port: u16, seed: u64) -> Self {
        Self {
            local_host,
            local_port,
            contact_user: None,
            user_agent: Some("attendant".into()),
            timers: Timers::default(),
            policy: Policy::default(),
            min_se: 90,
            seed,
        }
    }
}

/// Identifies a call for the application.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct CallHandle(pub u64);

impl fmt::Display for CallHandle {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "call-{}", self.0)
    }
}

/// One datagram, or one message cut from a stream by [`message::StreamDecoder`].
#[derive(Debug, Clone, Copy)]
pub struct Input<'a> {
    pub transport: Transport,
    pub source: SocketAddr,
    pub data: &'a [u8],
}

/// Bytes to send. Over TCP/TLS the transport writes them to its connection with
/// `destination` (opening one if there is none).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Transmit {
    pub transport: Transport,
    pub destination: SocketAddr,
    pub data: Vec<u8>,
}

/// What the core asks of its owner.
// Events are few (a handful per call), so their size does not matter next to a Transmit.
#[allow(clippy::large_enum_variant)]
#[derive(Debug, Clone, PartialEq)]
pub enum Output {
    Transmit(Transmit),
    Event(SipEvent),
    /// Nothing else is pending: call [`UasCore::handle_timeout`] at this instant.
    Timeout(Instant),
}

/// A new call: the INVITE's parties, offer and origin. The application answers with
/// `ringing`, `accept` or `reject`.
#[derive(Debug, Clone, PartialEq)]
pub struct IncomingCall {
    pub call: CallHandle,
    pub call_id: String,
    pub from: NameAddr,
    pub to: NameAddr,
    pub request_uri: Uri,
    /// The SDP offer; `None` for an offerless INVITE (the offer then goes in our 200).
    pub offer: Option<SessionDescription>,
    pub source: SocketAddr,
    pub transport: Transport,
    /// All INVITE headers, for tenant routing and call context (User-to-User, X-...).
    pub headers: Headers,
}

/// Why a call ended.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum EndReason {
    /// The peer sent BYE; the Reason header (RFC 3326) if any.
    RemoteHangup { reason: Option<String> },
    /// Our BYE completed (or our hangup before answer).
    LocalHangup,
    /// The caller cancelled before answer.
    Cancelled,
    /// The application rejected the INVITE with this status.
    Rejected(StatusCode),
    /// No ACK came for our 2xx within 64*T1; a BYE was sent (RFC 3261 §13.3.1.4).
    NoAck,
    /// Our BYE got no final response (Timer F).
    ByeTimeout,
}

/// Events for the application.
// IncomingCall is large but comes once per call; boxing would only add an allocation.
#[allow(clippy::large_enum_variant)]
#[derive(Debug, Clone, PartialEq)]
pub enum SipEvent {
    IncomingCall(IncomingCall),
    /// The ACK for our 200 arrived: media flows both ways.
    CallAnswered {
        call: CallHandle,
    },
    /// Each `IncomingCall` ends with exactly one `CallEnded`.
    CallEnded {
        call: CallHandle,
        reason: EndReason,
    },
    /// The caller sent CANCEL before answer (a `CallEnded` follows).
    Cancelled {
        call: CallHandle,
    },
    /// A re-INVITE: hold (sendonly/inactive), codec change or session refresh. Answer with
    /// `accept_reinvite` or `reject_reinvite`. `refresh` is true when the offer repeats the
    /// previous session version (or there is none).
    ReInvite {
        call: CallHandle,
        offer: Option<SessionDescription>,
        refresh: bool,
    },
    /// A response to our REFER or a NOTIFY sipfrag status (100, 180, 183, ...).
    TransferProgress {
        call: CallHandle,
        status: StatusCode,
    },
    /// The transfer ended: `ok` when the target answered 2xx.
    TransferResult {
        call: CallHandle,
        ok: bool,
        status: Option<StatusCode>,
    },
    /// A message the parser rejected; `answered` when a 4xx/5xx went back.
    Malformed {
        source: SocketAddr,
        error: ParseError,
        answered: bool,
    },
    /// A well-formed request refused before reaching a call (400, 415, 420, 481, 405, ...):
    /// answered with `status` when it carries Via, From, To, Call-ID and CSeq, dropped
    /// otherwise.
    Refused {
        source: SocketAddr,
        method: String,
        status: StatusCode,
    },
}

/// Why an application command failed.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum CallError {
    #[error("no such call")]
    UnknownCall,
    #[error("call is not in a state for this: {0}")]
    InvalidState(&'static str),
    #[error("status {0} is not allowed here")]
    InvalidStatus(StatusCode),
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum CallState {
    /// INVITE received, no final response yet.
    Pending,
    /// 200 sent, waiting for the ACK.
    Accepted,
    Confirmed,
    /// Our BYE is out.
    Ending,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
struct Dest {
    transport: Transport,
    addr: SocketAddr,
}

#[derive(Debug)]
struct Call {
    state: CallState,
    dialog: Dialog,
    /// The initial INVITE (its top Via stamped with received/rport).
    invite: Request,
    invite_key: TransactionKey,
    /// The address the INVITE came from: fallback destination for our requests.
    peer: Dest,
    /// A re-INVITE waiting for the application's answer.
    reinvite: Option<(TransactionKey, Request)>,
    /// The INVITE transaction (CSeq, key) whose 2xx waits for an ACK.
    awaiting_ack: Option<(u32, TransactionKey)>,
    hangup_after_ack: bool,
    /// A REFER is out or its subscription is active.
    transfer_active: bool,
    remote_sdp_version: Option<String>,
}

#[derive(Debug)]
enum ServerTx {
    Invite(crate::transaction::ServerInvite),
    NonInvite(crate::transaction::ServerNonInvite),
}

#[derive(Debug)]
struct ServerEntry {
    tx: ServerTx,
    dest: Dest,
    call: Option<CallHandle>,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum ClientKind {
    Bye,
    Refer,
}

#[derive(Debug)]
struct ClientEntry {
    tx: ClientNonInvite,
    dest: Dest,
    call: CallHandle,
    kind: ClientKind,
}

#[derive(Debug, Clone)]
enum TimerRef {
    Server(TransactionKey),
    Client(String),
}

/// The sans-IO UAS.
#[derive(Debug)]
pub struct UasCore {
    config: Config,
    calls: HashMap<CallHandle, Call>,
    /// (Call-ID, our tag) -> call.
    dialogs: HashMap<(String, String), CallHandle>,
    /// (Call-ID, From tag, CSeq) of pending initial INVITEs, to spot merged requests.
    initial: HashMap<(String, String, u32), TransactionKey>,
    server: HashMap<TransactionKey, ServerEntry>,
    /// Our requests by branch.
    client: HashMap<String, ClientEntry>,
    timers: BinaryHeap<Reverse<(Instant, u64)>>,
    timer_refs: HashMap<u64, TimerRef>,
    out: VecDeque<Output>,
    next_id: u64,
    timer_seq: u64,
    rng: u64,
}

impl UasCore {
    pub fn new(config: Config) -> Self {
        let rng = config.seed;
        Self {
            config,
            calls: HashMap::new(),
            dialogs: HashMap::new(),
            initial: HashMap::new(),
            server: HashMap::new(),
            client: HashMap::new(),
            timers: BinaryHeap::new(),
            timer_refs: HashMap::new(),
            out: VecDeque::new(),
            next_id: 0,
            timer_seq: 0,
            rng,
        }
    }

    pub fn config(&self) -> &Config {
        &self.config
    }

    /// Calls not yet ended.
    pub fn call_count(&self) -> usize {
        self.calls.len()
    }

    /// Live transactions (for tests and metrics).
    pub fn transaction_count(&self) -> usize {
        self.server.len() + self.client.len()
    }

    /// Feeds one datagram or one framed stream message. Malformed input is answered with a
    /// 4xx/5xx naming the problem when the request still carries Via, From, To, Call-ID and
    /// CSeq, and dropped otherwise; either way a [`SipEvent::Malformed`] reports it.
    pub fn handle_input(&mut self, now: Instant, input: Input<'_>) {
        let framing =
            if input.transport.is_reliable() { Framing::Stream } else { Framing::Datagram };
        match message::parse(input.data, framing) {
            Ok(msg) => self.handle_message(now, input.transport, input.source, msg),
            Err(ParseError::Empty) => {} // CRLF keep-alive
            Err(error) => {
                let tag = self.new_tag();
                let reply = message::salvage_response(input.data, &error, &tag);
                let answered = reply.is_some();
                if let Some(data) = reply {
                    let dest = Dest { transport: input.transport, addr: input.source };
                    self.transmit(dest, data);
                }
                self.event(SipEvent::Malformed { source: input.source, error, answered });
            }
        }
    }

    /// Feeds an already parsed message.
    pub fn handle_message(
        &mut self,
        now: Instant,
        transport: Transport,
        source: SocketAddr,
        msg: Message,
    ) {
        match msg {
            Message::Request(req) => self.on_request(now, transport, source, req),
            Message::Response(resp) => self.on_response(now, resp),
        }
    }

    /// Fires every timer due at `now`.
    pub fn handle_timeout(&mut self, now: Instant) {
        while let Some(&Reverse((at, id))) = self.timers.peek() {
            if at > now {
                break;
            }
            self.timers.pop();
            match self.timer_refs.remove(&id) {
                Some(TimerRef::Server(key)) => self.fire_server(&key, now),
                Some(TimerRef::Client(branch)) => self.fire_client(&branch, now),
                None => {}
            }
        }
    }

    /// The next thing to do: a transmit, an event, or the time to call `handle_timeout`.
    /// `None` when nothing is pending and no timer is armed.
    pub fn poll_output(&mut self) -> Option<Output> {
        if let Some(o) = self.out.pop_front() {
            return Some(o);
        }
        self.timers.peek().map(|Reverse((at, _))| Output::Timeout(*at))
    }

    fn event(&mut self, e: SipEvent) {
        self.out.push_back(Output::Event(e));
    }

    fn transmit(&mut self, dest: Dest, data: Vec<u8>) {
        self.out.push_back(Output::Transmit(Transmit {
            transport: dest.transport,
            destination: dest.addr,
            data,
        }));
    }

    /// splitmix64 over the seed: unique, unpredictable enough ids without an RNG dependency.
    fn next_random(&mut self) -> u64 {
        self.rng = self.rng.wrapping_add(0x9E37_79B9_7F4A_7C15);
        let mut z = self.rng;
        z = (z ^ (z >> 30)).wrapping_mul(0xBF58_476D_1CE4_E5B9);
        z = (z ^ (z >> 27)).wrapping_mul(0x94D0_49BB_1331_11EB);
        z ^ (z >> 31)
    }

    fn new_tag(&mut self) -> String {
        format!("{:016x}", self.next_random())
    }

    fn new_branch(&mut self) -> String {
        format!("{}{:016x}", crate::headers::MAGIC_COOKIE, self.next_random())
    }

    fn new_handle(&mut self) -> CallHandle {
        self.next_id += 1;
        CallHandle(self.next_id)
    }
}
