//! Calls whose media comes as PCM over a connection rather than RTP: WebSocket media streams
//! (ACS, Twilio, the Graph bot relay) and WebRTC. The connection's task owns the protocol and
//! the socket; the media engine owns the call's playback, echo canceller and graph, exactly as
//! for a SIP call; call control owns admission and the dialogue.
//!
//! A call goes through two steps because the peer says what the media is only after the
//! WebSocket is open (Twilio `start`, ACS `AudioMetadata`):
//! 1. [`StreamCalls::admit`] before the upgrade: tenant limit checked, a call id reserved. A
//!    refusal becomes the HTTP status of the upgrade request (503 at the limit).
//! 2. [`StreamCalls::start`] when the media format is known: the media engine starts the call
//!    and the dialogue greets; the returned [`StreamCall`] carries the two ends of its media.
//!
//! [`StreamCalls::end`] ends it (peer hung up, connection closed, malformed message). Dropping
//! an admitted call that never started releases it too (the control task sees `end`).

use std::sync::mpsc::SyncSender;

use tokio::sync::{mpsc, oneshot};
use types::SampleRate;

/// Frames a connection may queue ahead of the media engine (two seconds of 20 ms frames, the
/// rate limit's burst): room for a peer catching up after a stall, or a gap in its timestamps
/// filled with silence at once; a peer that sends faster than real time for longer is over its
/// rate.
pub const INBOUND_FRAMES: usize = 100;
/// Outbound messages queued for the connection's writer before the engine drops audio for it.
pub const OUTBOUND_MESSAGES: usize = 100;

/// Which protocol a stream call speaks (for events, metrics and what its decision becomes).
#[derive(Debug, Clone, Copy, PartialEq, Eq, serde::Serialize)]
#[serde(rename_all = "lowercase")]
pub enum StreamTransport {
    Acs,
    Twilio,
    Relay,
    Webrtc,
}

impl StreamTransport {
    pub fn as_str(self) -> &'static str {
        match self {
            Self::Acs => "acs",
            Self::Twilio => "twilio",
            Self::Relay => "relay",
            Self::Webrtc => "webrtc",
        }
    }
}

/// From the connection to the media engine, in the order the peer sent them.
#[derive(Debug)]
pub enum StreamIn {
    /// One 20 ms frame of the caller's audio at the call's rate, in [-1, 1].
    Audio(Vec<f32>),
    Dtmf(char),
    /// The peer played (or cleared) everything up to the mark of that name (Twilio `mark`).
    MarkPlayed(String),
}

/// From the worker to the connection.
#[derive(Debug)]
pub enum StreamOut {
    /// One 20 ms frame for the caller at the call's rate, sent in real time by the engine.
    Audio(Vec<f32>),
    /// Drop whatever the peer has queued to play (barge-in; ACS `StopAudio`, Twilio `clear`).
    Clear,
    /// Ask the peer to report when it has played what was sent so far (Twilio `mark`).
    Mark(String),
    /// The routing decision; the relay forwards it as the Graph request the bot makes.
    Decision(Box<routing::Decision>),
    /// The dialogue is over: close the connection with this reason.
    Hangup { reason: String },
}

/// What the peer told about the call when its media started.
#[derive(Debug, Clone, Default)]
pub struct StreamMeta {
    /// The peer's own id for the call (ACS correlation id, Twilio CallSid, Graph call id).
    pub peer_call_id: Option<String>,
    /// The caller's number, for a callback decision.
    pub caller_number: Option<String>,
}

/// Why a stream call is refused, with the HTTP status it maps to.
#[derive(Debug, Clone, thiserror::Error)]
pub enum StreamRefusal {
    #[error("tenant {0} is not configured")]
    UnknownTenant(String),
    #[error("tenant {tenant} is at its limit of {limit} calls")]
    TenantLimit { tenant: String, limit: u32 },
    #[error("the worker is not taking calls: {0}")]
    Unavailable(String),
    #[error("call {0} is not admitted (ended, or never admitted)")]
    UnknownCall(String),
}

impl StreamRefusal {
    pub fn http_status(&self) -> u16 {
        match self {
            Self::UnknownTenant(_) => 404,
            Self::TenantLimit { .. } | Self::Unavailable(_) => 503,
            Self::UnknownCall(_) => 409,
        }
    }
}

/// The connection's ends of a started call.
#[derive(Debug)]
pub struct StreamCall {
    pub call_id: String,
    /// Never blocks: a full queue (`try_send` fails) means the peer is over its rate.
    pub to_media: SyncSender<StreamIn>,
    pub from_media: mpsc::Receiver<StreamOut>,
}

/// Requests to call control (see the module comment).
#[derive(Debug)]
pub enum StreamRequest {
    Admit { tenant: String, transport: StreamTransport, reply: oneshot::Sender<Result<String, StreamRefusal>> },
    Start { call_id: String, rate: SampleRate, meta: StreamMeta, mark_policy: playback::MarkPolicy, reply: oneshot::Sender<Result<StreamCall, StreamRefusal>> },
    End { call_id: String, reason: String },
}

/// The handle connections use to reach call control. Cheap to clone.
#[derive(Debug, Clone)]
pub struct StreamCalls {
    requests: mpsc::Sender<StreamRequest>,
}

impl StreamCalls {
    pub fn new(requests: mpsc::Sender<StreamRequest>) -> Self {
        Self { requests }
    }

    pub async fn admit(&self, tenant: &str, transport: StreamTransport) -> Result<String, StreamRefusal> {
        let (reply, rx) = oneshot::channel();
        self.ask(StreamRequest::Admit { tenant: tenant.to_owned(), transport, reply }, rx).await
    }

    pub async fn start(&self, call_id: &str, rate: SampleRate, meta: StreamMeta, mark_policy: playback::MarkPolicy) -> Result<StreamCall, StreamRefusal> {
        let (reply, rx) = oneshot::channel();
        self.ask(StreamRequest::Start { call_id: call_id.to_owned(), rate, meta, mark_policy, reply }, rx).await
    }

    /// Ends the call (idempotent; unknown ids are ignored).
    pub async fn end(&self, call_id: &str, reason: &str) {
        let _ = self.requests.send(StreamRequest::End { call_id: call_id.to_owned(), reason: reason.to_owned() }).await;
    }

    async fn ask<T>(&self, request: StreamRequest, rx: oneshot::Receiver<Result<T, StreamRefusal>>) -> Result<T, StreamRefusal> {
        let gone = || StreamRefusal::Unavailable("call control has stopped".into());
        self.requests.send(request).await.map_err(|_| gone())?;
        rx.await.map_err(|_| gone())?
    }
}
