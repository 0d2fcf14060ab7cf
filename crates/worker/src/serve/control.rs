//! Call control: the task that owns the SIP core and the call table.
//!
//! It admits or refuses calls (tenant by source and domain, per-tenant limits), answers the SDP
//! offer, sets up each call's media on the media engine, follows re-INVITEs, runs the tenant's
//! transfer rule (a DTMF key that REFERs the call with its context), and reports every step as a
//! call event.

use std::collections::{HashMap, HashSet};
use std::net::{SocketAddr, UdpSocket};
use std::sync::Arc;
use std::time::Instant;

use anyhow::Context as _;
use serde_json::json;
use sip::core::{CallHandle, Config as CoreConfig, IncomingCall, Input, Output, SipEvent, UasCore};
use sip::sdp::{answer, LocalMedia};
use sip::sdp::SessionDescription;
use sip::uri::Host;
use sip::{Header, StatusCode};
use tokio::sync::mpsc;

use super::config::{ServeConfig, TenantConfig};
use super::events::EventSink;
use super::limiter::ReportLimiter;
use super::media::{CallMedia, Link, MediaCall, MediaCommand, MediaNotice};
use super::pool::RecognitionPool;
use super::prompt::PromptCache;
use super::session::{fill_random, random_u64, rtp_session};
use super::stream::StreamRequest;
use super::transport::{Inbound, Transports};
use crate::assistant::Assistant;
use crate::decisions::WebhookSender;
use crate::graph::CallGraph;

mod dialogue;
mod notices;
mod streams;

/// Seconds a caller refused for load is told to wait (503 Retry-After, RFC 3261 §20.33).
const RETRY_AFTER_SECS: u32 = 30;
/// Event tag for things that happen outside any call.
const NO_CALL: &str = "-";

/// A call in the table: a SIP dialog, or a stream call (WebSocket, WebRTC) by its number.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub(super) enum CallKey {
    Sip(CallHandle),
    Stream(u64),
}

impl std::fmt::Display for CallKey {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            Self::Sip(call) => write!(f, "{call}"),
            Self::Stream(n) => write!(f, "stream-{n}"),
        }
    }
}

/// What a call's signalling side is.
enum Leg {
    Sip(SipLeg),
    Stream(streams::StreamLeg),
}

struct SipLeg {
    rtp_port: u16,
    local: LocalMedia,
    local_sdp: SessionDescription,
    codec: sip::sdp::Codec,
}

struct CallInfo {
    call_id: String,
    tenant: String,
    started: Instant,
    leg: Leg,
    /// The rate prompts are rendered at: the codec's, or the stream's.
    rate: types::SampleRate,
    transferring: bool,
    /// The caller's number (From user part), for a callback decision.
    caller_number: Option<String>,
    /// The assistant's dialogue, for tenants that have one; starts when the call is answered.
    dialogue: Option<Box<dialogue::CallDialogue>>,
}

pub struct Control {
    config: Arc<ServeConfig>,
    transports: Transports,
    core: UasCore,
    media: std::sync::mpsc::Sender<MediaCommand>,
    pools: HashMap<String, Arc<RecognitionPool>>,
    sink: Arc<EventSink>,
    calls: HashMap<CallKey, CallInfo>,
    by_call_id: HashMap<String, CallKey>,
    per_tenant: HashMap<String, u32>,
    ports_in_use: HashSet<u16>,
    prompts: PromptCache,
    next_timeout: Option<Instant>,
    /// Calls ringing until their answer time, with their media ready to start.
    ringing: Vec<(Instant, CallHandle, Box<MediaCall>)>,
    /// Calls refused since start, by status (403 unknown source, 503 over a limit, 488 ...).
    refused: HashMap<u16, u64>,
    /// Reports of malformed messages, limited per source.
    malformed: ReportLimiter,
    /// Queue overflows already reported, and when last.
    overflow_reported: (u64, Instant),
    /// Tenants' assistants, by tenant name.
    assistants: HashMap<String, Arc<Assistant>>,
    /// Decision webhooks, by tenant name.
    webhooks: HashMap<String, WebhookSender>,
    /// Stream calls admitted whose media has not started, by call id.
    admitted: HashMap<String, streams::Admitted>,
    /// Set by the drain (SIGTERM): new calls are refused, and at this deadline the calls still
    /// up are hung up.
    drain_deadline: Option<Instant>,
    /// The drain's deadline passed and the remaining calls were hung up, at this time.
    drain_hung_up: Option<Instant>,
}

/// Why a new call is refused before its tenant's own limit is looked at.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum ProcessRefusal {
    Draining,
    AtLimit(u32),
}

impl ProcessRefusal {
    fn cause(self) -> &'static str {
        match self {
            Self::Draining => "draining",
            Self::AtLimit(_) => "process_limit",
        }
    }

    fn reason(self) -> String {
        match self {
            Self::Draining => "the worker is draining".into(),
            Self::AtLimit(n) => format!("the worker is at its limit of {n} calls"),
        }
    }
}

/// After the drain's deadline hung up the last calls: time for their BYEs to be answered.
const DRAIN_BYE_GRACE: std::time::Duration = std::time::Duration::from_secs(2);

impl Control {
    pub fn new(
        config: Arc<ServeConfig>,
        transports: Transports,
        media: std::sync::mpsc::Sender<MediaCommand>,
        pools: HashMap<String, Arc<RecognitionPool>>,
        sink: Arc<EventSink>,
        assistants: HashMap<String, Arc<Assistant>>,
        webhooks: HashMap<String, WebhookSender>,
    ) -> anyhow::Result<Self> {
        let first = transports.udp_addrs().into_iter().chain(transports.tcp_addrs()).next().context("no SIP listen address")?;
        let host = match &config.sip.advertised_host {
            Some(h) => sip::uri::parse_hostport(h).map(|(h, _)| h).map_err(|e| anyhow::anyhow!("sip.advertised_host: {e}"))?,
            None => Host::from(first.ip()),
        };
        let core = UasCore::new(CoreConfig::new(host, first.port(), random_u64()));
        Ok(Self {
            config,
            transports,
            core,
            media,
            pools,
            sink,
            calls: HashMap::new(),
            by_call_id: HashMap::new(),
            per_tenant: HashMap::new(),
            ports_in_use: HashSet::new(),
            prompts: PromptCache::default(),
            next_timeout: None,
            ringing: Vec::new(),
            refused: HashMap::new(),
            malformed: ReportLimiter::default(),
            overflow_reported: (0, Instant::now()),
            assistants,
            webhooks,
            admitted: HashMap::new(),
            drain_deadline: None,
            drain_hung_up: None,
        })
    }

    /// Calls this process holds: answered, ringing, and streams admitted but not started.
    fn live_calls(&self) -> usize {
        self.calls.len() + self.admitted.len()
    }

    /// Whether the process as a whole takes a new call now.
    fn process_refusal(&self) -> Option<ProcessRefusal> {
        if self.drain_deadline.is_some() {
            return Some(ProcessRefusal::Draining);
        }
        let max = self.config.limits.max_calls;
        (self.live_calls() >= max as usize).then_some(ProcessRefusal::AtLimit(max))
    }

    /// Starts the drain: refuse new calls from now on, let the live ones finish until
    /// `timeout`.
    fn start_drain(&mut self, now: Instant) {
        if self.drain_deadline.is_some() {
            return;
        }
        let timeout = std::time::Duration::from_secs(u64::from(self.config.drain.timeout_s));
        self.drain_deadline = Some(now + timeout);
        let event = json!({"event": "drain_started", "live_calls": self.live_calls(), "timeout_s": self.config.drain.timeout_s});
        self.sink.emit(NO_CALL, NO_CALL, &event);
    }

    /// During the drain: true once the process may exit (no call left, or the deadline hung up
    /// what was left and their BYEs had their time). Hangs up at the deadline.
    fn drain_finished(&mut self, now: Instant) -> bool {
        let Some(deadline) = self.drain_deadline else { return false };
        if self.live_calls() == 0 {
            return true;
        }
        if now < deadline {
            return false;
        }
        match self.drain_hung_up {
            None => {
                let keys: Vec<CallKey> = self.calls.keys().copied().collect();
                let event = json!({"event": "drain_timeout", "hung_up": keys.len() + self.admitted.len()});
                self.sink.emit(NO_CALL, NO_CALL, &event);
                for key in keys {
                    self.hang_up(key, "drain_timeout", now);
                }
                self.drain_hung_up = Some(now);
                false
            }
            Some(at) => now.duration_since(at) >= DRAIN_BYE_GRACE,
        }
    }

    pub async fn run(
        mut self,
        mut inbound: mpsc::Receiver<Inbound>,
        mut notices: mpsc::UnboundedReceiver<MediaNotice>,
        mut streams: mpsc::Receiver<StreamRequest>,
        mut shutdown: tokio::sync::watch::Receiver<bool>,
    ) -> anyhow::Result<()> {
        loop {
            self.answer_due(Instant::now());
            self.drain().await;
            let next_dialogue = self.dialogue_timeouts(Instant::now());
            self.drain().await;
            if self.drain_finished(Instant::now()) {
                self.drain().await;
                let event = json!({"event": "drain_finished", "live_calls": self.live_calls()});
                self.sink.emit(NO_CALL, NO_CALL, &event);
                return Ok(());
            }
            // While draining, wake at least once a second to see whether it is over.
            let drain_check = self.drain_deadline.map(|d| d.min(Instant::now() + std::time::Duration::from_secs(1)));
            let next_answer = self.ringing.iter().map(|(at, _, _)| *at).chain(next_dialogue).chain(drain_check).min();
            let wake = match (self.next_timeout, next_answer) {
                (Some(a), Some(b)) => Some(a.min(b)),
                (a, b) => a.or(b),
            }
            .map(tokio::time::Instant::from_std);
            let sleep = async {
                match wake {
                    Some(at) => tokio::time::sleep_until(at).await,
                    None => std::future::pending().await,
                }
            };
            tokio::select! {
                msg = inbound.recv() => {
                    let Some(msg) = msg else { return Ok(()) };
                    let input = Input { transport: msg.transport, source: msg.source, data: &msg.data };
                    self.core.handle_input(Instant::now(), input);
                }
                notice = notices.recv() => {
                    let Some(notice) = notice else { return Ok(()) };
                    self.on_notice(notice);
                }
                Some(request) = streams.recv() => self.on_stream_request(request, Instant::now()),
                changed = shutdown.changed(), if self.drain_deadline.is_none() => {
                    // A dropped sender (the process ending anyway) drains too.
                    if changed.is_err() || *shutdown.borrow() {
                        self.start_drain(Instant::now());
                    }
                }
                () = sleep => self.core.handle_timeout(Instant::now()),
            }
        }
    }

    /// Carries out everything the core has for us.
    async fn drain(&mut self) {
        self.report_overflow(Instant::now());
        self.next_timeout = None;
        while let Some(output) = self.core.poll_output() {
            match output {
                Output::Transmit(t) => {
                    if let Err(e) = self.transports.send(t.transport, t.destination, t.data).await {
                        self.sink.emit(NO_CALL, NO_CALL, &json!({"event": "send_failed", "destination": t.destination.to_string(), "error": e.to_string()}));
                    }
                }
                Output::Event(event) => self.on_event(event),
                // The core reports its next deadline once nothing else is pending, and keeps
                // reporting it: it ends the drain.
                Output::Timeout(at) => {
                    self.next_timeout = Some(at);
                    break;
                }
            }
        }
    }

    fn on_event(&mut self, event: SipEvent) {
        let now = Instant::now();
        match event {
            SipEvent::IncomingCall(incoming) => self.admit(incoming, now),
            SipEvent::CallAnswered { call } => self.emit(CallKey::Sip(call), json!({"event": "call_answered"})),
            SipEvent::Cancelled { call } => self.emit(CallKey::Sip(call), json!({"event": "call_cancelled"})),
            SipEvent::CallEnded { call, reason } => {
                // Cancelled while ringing: its media never started.
                self.ringing.retain(|(_, c, _)| *c != call);
                self.end_call(CallKey::Sip(call), &format!("{reason:?}"), now);
            }
            SipEvent::ReInvite { call, offer, refresh } => self.reinvite(call, offer, refresh, now),
            SipEvent::TransferProgress { call, status } => {
                self.emit(CallKey::Sip(call), json!({"event": "transfer_progress", "status": status.0}));
            }
            SipEvent::TransferResult { call, ok, status } => {
                self.emit(CallKey::Sip(call), json!({"event": "transfer_result", "ok": ok, "status": status.map(|s| s.0)}));
                if let Some(info) = self.calls.get_mut(&CallKey::Sip(call)) {
                    info.transferring = false;
                }
                // Transferred: the caller is with the target, our leg is done (RFC 5589 §6.1).
                // An assistant call whose transfer failed has nothing left to say either: its
                // decision (already out as an event and to the webhook) stands.
                let assistant_call = self.calls.get(&CallKey::Sip(call)).is_some_and(|i| i.dialogue.is_some());
                if ok || assistant_call {
                    let _ = self.core.hangup(call, now);
                }
            }
            SipEvent::Malformed { source, error, answered } => {
                if let Some(suppressed) = self.malformed.admit(source.ip(), now) {
                    let event = json!({
                        "event": "sip_malformed",
                        "source": source.to_string(),
                        "error": error.to_string(),
                        "answered": answered,
                        "suppressed_since_last": suppressed,
                    });
                    self.sink.emit(NO_CALL, NO_CALL, &event);
                }
            }
            SipEvent::Refused { source, method, status } => self.sink.emit(
                NO_CALL,
                NO_CALL,
                &json!({"event": "sip_refused", "source": source.to_string(), "method": method, "status": status.0}),
            ),
        }
    }

    /// Reports datagrams the transports dropped for a full queue, at most once a second.
    fn report_overflow(&mut self, now: Instant) {
        let (reported, at) = self.overflow_reported;
        let total = self.transports.overflowed();
        if total > reported && now.duration_since(at) >= std::time::Duration::from_secs(1) {
            let event = json!({"event": "sip_queue_overflow", "dropped": total - reported, "dropped_total": total});
            self.sink.emit(NO_CALL, NO_CALL, &event);
            self.overflow_reported = (total, now);
        }
    }

    /// Answers the calls whose ring time is over and starts their media.
    fn answer_due(&mut self, now: Instant) {
        while let Some(i) = self.ringing.iter().position(|(at, _, _)| *at <= now) {
            let (_, call, media) = self.ringing.swap_remove(i);
            let Some(Leg::Sip(leg)) = self.calls.get(&CallKey::Sip(call)).map(|i| &i.leg) else { continue };
            let sdp = leg.local_sdp.clone();
            match self.core.accept(call, &sdp, now) {
                Ok(()) => {
                    if self.media.send(MediaCommand::Add(media)).is_err() {
                        let _ = self.core.hangup(call, now);
                    } else {
                        self.start_dialogue(CallKey::Sip(call), now);
                    }
                }
                Err(e) => self.emit(CallKey::Sip(call), json!({"event": "call_failed", "error": e.to_string()})),
            }
        }
    }

    /// The call is over (hung up, cancelled, its connection closed): its dialogue reports a
    /// decision if it had none, its media stops, and it leaves the table.
    fn end_call(&mut self, key: CallKey, reason: &str, now: Instant) {
        let Some(mut info) = self.calls.remove(&key) else { return };
        self.end_dialogue(&mut info, now);
        let _ = self.media.send(MediaCommand::Remove { call_id: info.call_id.clone() });
        self.by_call_id.remove(&info.call_id);
        if let Leg::Sip(leg) = &info.leg {
            self.ports_in_use.remove(&leg.rtp_port);
        }
        if let Some(n) = self.per_tenant.get_mut(&info.tenant) {
            *n = n.saturating_sub(1);
        }
        let transport = match &info.leg {
            Leg::Sip(_) => "sip",
            Leg::Stream(leg) => leg.transport.as_str(),
        };
        let event = json!({
            "event": "call_ended",
            "transport": transport,
            "reason": reason,
            "duration_ms": info.started.elapsed().as_millis() as u64,
        });
        self.sink.emit(&info.call_id, &info.tenant, &event);
    }

    /// Ends the call from our side: BYE on SIP, the connection closed on a stream.
    fn hang_up(&mut self, key: CallKey, reason: &str, now: Instant) {
        match key {
            CallKey::Sip(call) => {
                let _ = self.core.hangup(call, now);
            }
            CallKey::Stream(_) => {
                // The connection's task closes and reports back (`StreamRequest::End`).
                if let Some(Leg::Stream(leg)) = self.calls.get(&key).map(|i| &i.leg) {
                    leg.send(crate::serve::stream::StreamOut::Hangup { reason: reason.to_owned() });
                }
            }
        }
    }

    fn emit(&self, call: CallKey, event: serde_json::Value) {
        match self.calls.get(&call) {
            Some(info) => self.sink.emit(&info.call_id, &info.tenant, &event),
            None => self.sink.emit(&call.to_string(), NO_CALL, &event),
        }
    }

    /// Tenant, limit, offer, port, media: any failure refuses the call with the right status.
    fn admit(&mut self, incoming: IncomingCall, now: Instant) {
        let call = incoming.call;
        let call_id = incoming.call_id.clone();
        let domain = incoming.request_uri.as_sip().map(|u| u.host.to_string());
        let from_domain = incoming.from.uri.as_sip().map(|u| u.host.to_string());
        let config = Arc::clone(&self.config);
        let tenant = config
            .tenant_for(incoming.source.ip(), domain.as_deref())
            .or_else(|| config.tenant_for(incoming.source.ip(), from_domain.as_deref()));
        if let Some(refusal) = self.process_refusal() {
            let retry = vec![Header::new("Retry-After", RETRY_AFTER_SECS.to_string())];
            let _ = self.core.reject(call, StatusCode::SERVICE_UNAVAILABLE, retry, now);
            let total = self.count_refusal(StatusCode::SERVICE_UNAVAILABLE);
            let event = json!({"event": "call_refused", "status": 503, "cause": refusal.cause(), "reason": refusal.reason(), "refused_total": total});
            self.sink.emit(&call_id, tenant.map_or(NO_CALL, |t| t.name.as_str()), &event);
            return;
        }
        let Some(tenant) = tenant else {
            let _ = self.core.reject(call, StatusCode::FORBIDDEN, Vec::new(), now);
            let total = self.count_refusal(StatusCode::FORBIDDEN);
            let event = json!({"event": "call_refused", "status": 403, "cause": "unknown_source", "reason": "unknown source", "source": incoming.source.to_string(), "refused_total": total});
            self.sink.emit(&call_id, NO_CALL, &event);
            return;
        };
        let active = self.per_tenant.get(&tenant.name).copied().unwrap_or(0);
        if active >= tenant.max_calls {
            let retry = vec![Header::new("Retry-After", RETRY_AFTER_SECS.to_string())];
            let _ = self.core.reject(call, StatusCode::SERVICE_UNAVAILABLE, retry, now);
            let total = self.count_refusal(StatusCode::SERVICE_UNAVAILABLE);
            let event = json!({"event": "call_refused", "status": 503, "cause": "tenant_limit", "reason": "tenant call limit", "limit": tenant.max_calls, "refused_total": total});
            self.sink.emit(&call_id, &tenant.name, &event);
            return;
        }
        match self.set_up(&incoming, tenant) {
            Ok((info, media)) => {
                let (codec_name, rtp_port) = match &info.leg {
                    Leg::Sip(l) => (l.codec.encoding(), Some(l.rtp_port)),
                    Leg::Stream(_) => ("", None),
                };
                let _ = self.core.ringing(call, now);
                let answer_at = now + std::time::Duration::from_millis(u64::from(self.config.sip.answer_after_ms));
                self.ringing.push((answer_at, call, media));
                let event = json!({
                    "event": "call_started",
                    "from": incoming.from.uri.to_string(),
                    "to": incoming.to.uri.to_string(),
                    "source": incoming.source.to_string(),
                    "transport": format!("{:?}", incoming.transport),
                    "codec": codec_name,
                    "rtp_port": rtp_port,
                });
                self.sink.emit(&call_id, &tenant.name, &event);
                *self.per_tenant.entry(tenant.name.clone()).or_insert(0) += 1;
                self.by_call_id.insert(call_id, CallKey::Sip(call));
                self.calls.insert(CallKey::Sip(call), info);
            }
            Err((status, reason)) => {
                let _ = self.core.reject(call, status, Vec::new(), now);
                let total = self.count_refusal(status);
                let event = json!({"event": "call_refused", "status": status.0, "reason": reason, "refused_total": total});
                self.sink.emit(&call_id, &tenant.name, &event);
            }
        }
    }

    /// Counts a refusal; returns the count for its status so far.
    fn count_refusal(&mut self, status: StatusCode) -> u64 {
        let n = self.refused.entry(status.0).or_insert(0);
        *n += 1;
        *n
    }

    /// Answers the offer and starts the call's media.
    fn set_up(&mut self, incoming: &IncomingCall, tenant: &TenantConfig) -> Result<(CallInfo, Box<MediaCall>), (StatusCode, String)> {
        let unavailable = |e: String| (StatusCode::SERVICE_UNAVAILABLE, e);
        let Some(offer) = &incoming.offer else {
            return Err((StatusCode::NOT_ACCEPTABLE_HERE, "INVITE without an SDP offer is not supported".into()));
        };
        let (socket, port) = self.bind_rtp().map_err(|e| unavailable(e.to_string()))?;
        let mut random = [0u8; 46];
        fill_random(&mut random);
        // Bound to every address (a pod's config cannot name its own IP): the answer names the
        // address the route to the SBC leaves from.
        let media_ip = match self.config.rtp.address {
            any if any.is_unspecified() => super::session::route_source(incoming.source.ip()).map_err(|e| unavailable(format!("no route to {}: {e}", incoming.source.ip())))?,
            address => address,
        };
        let mut local = LocalMedia::new(media_ip, port);
        let mut key = [0u8; 30];
        key.copy_from_slice(&random[..30]);
        local.srtp_key = Some(key);
        local.session_id = u64::from_be_bytes(random[30..38].try_into().unwrap_or_default()) >> 1;
        let answered = answer(offer, &local).map_err(|e| (e.status(), e.to_string()))?;
        let neg = &answered.negotiated;
        let session = rtp_session(neg, &random[38..46]).map_err(|e| (StatusCode::NOT_ACCEPTABLE_HERE, e.to_string()))?;
        let codec = codec::PayloadCodec::from_encoding_name(neg.codec.codec.encoding())
            .ok_or_else(|| (StatusCode::NOT_ACCEPTABLE_HERE, format!("codec {} has no decoder", neg.codec.codec.encoding())))?;
        let graph_config = self.config.graph_for(tenant);
        let pool = self.pools.get(&graph_config.asr.model).cloned().ok_or_else(|| unavailable("no recognizer for the tenant's model".into()))?;
        let assistant = self.assistants.get(&tenant.name).cloned();
        let mut prompts = std::collections::VecDeque::new();
        // With an assistant, the dialogue's greeting is the first prompt.
        if let (Some(path), None) = (&tenant.prompt, &assistant) {
            let rate = codec.sample_rate();
            let audio = self.prompts.get(path, rate).map_err(|e| unavailable(format!("{e:#}")))?;
            prompts.push_back(audio);
        }
        let media = MediaCall {
            link: Link::Rtp { socket, session, codec },
            call: CallMedia {
                call_id: incoming.call_id.clone(),
                tenant: tenant.name.clone(),
                graph: CallGraph::new(graph_config),
                prompts,
                recognition_prompt: assistant.as_ref().and_then(|a| a.recognition_prompt.clone()).or_else(|| graph_config.asr.initial_prompt.clone()),
                embedder: assistant.as_ref().map(|a| Arc::clone(&a.embedder)),
                pool,
                keypad_after: self.config.compute.keypad_after(),
            },
        };
        self.ports_in_use.insert(port);
        let info = CallInfo {
            call_id: incoming.call_id.clone(),
            tenant: tenant.name.clone(),
            started: Instant::now(),
            leg: Leg::Sip(SipLeg { rtp_port: port, local, local_sdp: answered.sdp, codec: neg.codec.codec }),
            rate: codec.sample_rate(),
            transferring: false,
            caller_number: incoming.from.uri.as_sip().and_then(|u| u.user.clone()),
            dialogue: None,
        };
        Ok((info, Box::new(media)))
    }

    /// The next free even port of the range (RTP on even ports, RFC 3550 §11).
    fn bind_rtp(&self) -> anyhow::Result<(UdpSocket, u16)> {
        let r = &self.config.rtp;
        for port in (r.port_min..=r.port_max).step_by(2) {
            if self.ports_in_use.contains(&port) {
                continue;
            }
            if let Ok(socket) = UdpSocket::bind(SocketAddr::new(r.address, port)) {
                return Ok((socket, port));
            }
        }
        anyhow::bail!("no free RTP port in {}-{}", r.port_min, r.port_max)
    }

    fn reinvite(&mut self, call: CallHandle, offer: Option<SessionDescription>, refresh: bool, now: Instant) {
        let Some(info) = self.calls.get_mut(&CallKey::Sip(call)) else { return };
        let Leg::Sip(leg) = &mut info.leg else { return };
        let Some(offer) = offer else {
            // An offerless re-INVITE: our current session is the offer, in the 200.
            let sdp = leg.local_sdp.clone();
            let _ = self.core.accept_reinvite(call, Some(&sdp), now);
            return;
        };
        leg.local.session_version += 1;
        match answer(&offer, &leg.local) {
            Ok(a) => {
                let direction = a.negotiated.direction.as_str();
                let codec = a.negotiated.codec.codec;
                let changed = codec != leg.codec;
                // A new codec means a new RTP session (payload type, clock); the direction
                // decides whether we keep sending (hold).
                let mut random = [0u8; 8];
                fill_random(&mut random);
                let new_codec = if changed {
                    match (rtp_session(&a.negotiated, &random), codec::PayloadCodec::from_encoding_name(codec.encoding())) {
                        (Ok(session), Some(payload)) => Some((payload, Box::new(session))),
                        _ => {
                            let _ = self.core.reject_reinvite(call, StatusCode::NOT_ACCEPTABLE_HERE, now);
                            self.emit(CallKey::Sip(call), json!({"event": "reinvite_rejected", "error": "cannot switch to the new codec"}));
                            return;
                        }
                    }
                } else {
                    None
                };
                let send = a.negotiated.direction.sends();
                let _ = self.media.send(MediaCommand::Update { call_id: info.call_id.clone(), codec: new_codec, send });
                leg.codec = codec;
                leg.local_sdp = a.sdp;
                let sdp = leg.local_sdp.clone();
                let _ = self.core.accept_reinvite(call, Some(&sdp), now);
                let event = json!({"event": "reinvite", "refresh": refresh, "direction": direction, "codec": codec.encoding(), "codec_changed": changed});
                self.emit(CallKey::Sip(call), event);
            }
            Err(e) => {
                let _ = self.core.reject_reinvite(call, e.status(), now);
                self.emit(CallKey::Sip(call), json!({"event": "reinvite_rejected", "error": e.to_string()}));
            }
        }
    }
}
