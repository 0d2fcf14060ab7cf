//! WebSocket media streams on the HTTP port, one call per connection:
//!
//! | path | peer | audio |
//! |---|---|---|
//! | `/v1/media/acs` | Azure Communication Services media streaming (bidirectional) | PCM 16 or 24 kHz, JSON + base64 |
//! | `/v1/media/twilio` | Twilio Media Streams (`<Connect><Stream>`) | µ-law 8 kHz, JSON + base64 |
//! | `/v1/media/relay` | a Graph app-hosted media bot's relay (docs/relay-protocol.md) | PCM 16 kHz, binary |
//!
//! The upgrade is refused with an HTTP status before any audio: 401/403 for credentials
//! ([`super::auth`]), 404 for an unknown tenant, 503 (with Retry-After) at the tenant's call
//! limit. Twilio cannot put a token in the stream URL's headers, so on that path a token may
//! instead come in the `start` message's custom parameters; it is checked before the first
//! `media` is accepted.
//!
//! Each connection's task speaks the protocol through its sans-IO [`wsmedia::Connection`] and
//! trades frames with the media engine ([`super::stream`]). It ends the connection, with a
//! close code and a reason and nothing else, on: a malformed message (1007; 1003 for binary on
//! a JSON protocol), a message over [`MAX_MESSAGE_BYTES`] (1009), messages faster than
//! [`RATE_PER_SECOND`] sustained, no start within [`START_TIMEOUT`], or a token refused (1008).

use std::net::SocketAddr;
use std::time::Duration;

use axum::extract::ws::{CloseFrame, Message, WebSocket, WebSocketUpgrade};
use axum::extract::{ConnectInfo, RawQuery, State};
use axum::http::{HeaderMap, StatusCode};
use axum::response::{IntoResponse, Response};
use axum::routing::get;
use serde_json::json;
use tokio::time::Instant;

use super::auth::{query_param, token_from, AuthError};
use super::http::MediaState;
use super::stream::{StreamCall, StreamIn, StreamMeta, StreamOut, StreamRefusal, StreamTransport};

/// Largest WebSocket message (and frame) accepted: 20 ms of 24 kHz PCM in base64 JSON is about
/// 1.4 kB; a peer sending 100 ms chunks stays far below this. tungstenite's defaults (64 MiB)
/// would let one connection hold memory meant for thousands of calls.
pub const MAX_MESSAGE_BYTES: usize = 64 * 1024;
/// Messages a second a connection may sustain: 50 frames a second plus DTMF and marks, with
/// room for a peer catching up after a stall. Per audio source: unmixed ACS sends each
/// participant's frames (up to [`ACS_UNMIXED_SOURCES`]) as messages of their own.
pub const RATE_PER_SECOND: f64 = 75.0;
/// Messages a connection may send at once above its rate (two seconds of frames), per source.
pub const RATE_BURST: f64 = 100.0;
/// Participants whose audio unmixed ACS streaming carries at most (its documented limit).
pub const ACS_UNMIXED_SOURCES: f64 = 4.0;
/// After our close frame: time the peer gets to answer with its own before the socket is
/// dropped. Dropping it at once, with the peer's messages unread, makes the kernel reset the
/// connection, and the peer then never reads the close frame and its reason.
const CLOSE_HANDSHAKE: Duration = Duration::from_secs(2);
/// Time from the upgrade to the message that says what the media is.
pub const START_TIMEOUT: Duration = Duration::from_secs(10);
/// Seconds a caller refused at the limit is told to wait.
const RETRY_AFTER_SECS: u32 = 5;

pub fn router(media: MediaState) -> axum::Router {
    axum::Router::new()
        .route("/v1/media/acs", get(acs))
        .route("/v1/media/twilio", get(twilio))
        .route("/v1/media/relay", get(relay))
        .with_state(media)
}

async fn acs(state: State<MediaState>, peer: ConnectInfo<SocketAddr>, headers: HeaderMap, query: RawQuery, ws: WebSocketUpgrade) -> Response {
    upgrade(StreamTransport::Acs, state, peer, headers, query, ws).await
}

async fn twilio(state: State<MediaState>, peer: ConnectInfo<SocketAddr>, headers: HeaderMap, query: RawQuery, ws: WebSocketUpgrade) -> Response {
    upgrade(StreamTransport::Twilio, state, peer, headers, query, ws).await
}

async fn relay(state: State<MediaState>, peer: ConnectInfo<SocketAddr>, headers: HeaderMap, query: RawQuery, ws: WebSocketUpgrade) -> Response {
    upgrade(StreamTransport::Relay, state, peer, headers, query, ws).await
}

/// What the connection knows before its first message.
struct Opening {
    transport: StreamTransport,
    /// Admitted call id and tenant; `None` for a Twilio stream whose token comes in `start`.
    admitted: Option<(String, String)>,
    peer: SocketAddr,
    tenant_hint: Option<String>,
    /// ACS's `x-ms-call-correlation-id`: the call's id on the ACS side.
    correlation_id: Option<String>,
    caller: Option<String>,
}

async fn upgrade(
    transport: StreamTransport,
    State(state): State<MediaState>,
    ConnectInfo(peer): ConnectInfo<SocketAddr>,
    headers: HeaderMap,
    RawQuery(query): RawQuery,
    ws: WebSocketUpgrade,
) -> Response {
    let token = token_from(&headers, query.as_deref());
    let tenant_hint = query_param(query.as_deref(), "tenant");
    let admitted = match state.auth.authorize(token.as_deref(), peer, tenant_hint.as_deref()) {
        Ok(tenant) => match state.streams.admit(&tenant, transport).await {
            Ok(call_id) => Some((call_id, tenant)),
            Err(e) => return refusal(&e),
        },
        // Twilio's token may come in `start` (it cannot set headers on the stream).
        Err(AuthError::Missing) if transport == StreamTransport::Twilio => None,
        Err(e) => {
            state.sink.emit("-", "-", &json!({"event": "stream_refused", "transport": transport, "peer": peer.to_string(), "status": e.http_status(), "reason": e.to_string()}));
            return error_response(e.http_status(), "unauthorized", &e.to_string());
        }
    };
    let header = |name: &str| headers.get(name).and_then(|v| v.to_str().ok()).map(str::to_owned);
    let opening = Opening {
        transport,
        admitted,
        peer,
        tenant_hint,
        correlation_id: header("x-ms-call-correlation-id"),
        caller: query_param(query.as_deref(), "caller"),
    };
    let release = state.clone();
    let release_id = opening.admitted.as_ref().map(|(id, _)| id.clone());
    ws.max_message_size(MAX_MESSAGE_BYTES)
        .max_frame_size(MAX_MESSAGE_BYTES)
        .on_failed_upgrade(move |_| {
            if let Some(id) = release_id {
                tokio::spawn(async move { release.streams.end(&id, "websocket upgrade failed").await });
            }
        })
        .on_upgrade(move |socket| connection(socket, state, opening))
}

fn refusal(e: &StreamRefusal) -> Response {
    let mut response = error_response(e.http_status(), "refused", &e.to_string());
    if e.http_status() == 503 {
        response.headers_mut().insert("retry-after", RETRY_AFTER_SECS.into());
    }
    response
}

fn error_response(status: u16, code: &str, message: &str) -> Response {
    let status = StatusCode::from_u16(status).unwrap_or(StatusCode::FORBIDDEN);
    (status, axum::Json(json!({"error": code, "message": message}))).into_response()
}

/// How a connection ends: the close frame we send (none when the peer is gone).
struct Ending {
    code: u16,
    reason: String,
}

impl Ending {
    fn new(code: u16, reason: impl Into<String>) -> Self {
        // A close reason must fit a control frame (125 bytes, 2 of them the code).
        let mut reason: String = reason.into();
        while reason.len() > 120 {
            reason.pop();
        }
        Self { code, reason }
    }
}

/// Close codes (RFC 6455 §7.4.1).
const NORMAL: u16 = 1000;
const POLICY: u16 = 1008;
const TOO_BIG: u16 = 1009;

/// One connection from upgrade to close.
async fn connection(mut socket: WebSocket, state: MediaState, opening: Opening) {
    let mut run = Run::new(&state, opening);
    let ending = run.serve(&mut socket).await;
    if let Some(ending) = &ending {
        let frame = CloseFrame { code: ending.code, reason: ending.reason.clone().into() };
        if socket.send(Message::Close(Some(frame))).await.is_ok() {
            // Read (and drop) what the peer still sends until its close answers ours.
            let _ = tokio::time::timeout(CLOSE_HANDSHAKE, async {
                while let Some(Ok(message)) = socket.recv().await {
                    if matches!(message, Message::Close(_)) {
                        break;
                    }
                }
            })
            .await;
        }
    }
    let reason = ending.map_or_else(|| "connection closed".to_owned(), |e| e.reason);
    if let Some(id) = run.call_id() {
        state.streams.end(&id, &reason).await;
    }
}

/// A connection's state: the protocol, the call once started, the rate limit.
struct Run<'a> {
    state: &'a MediaState,
    opening: Opening,
    protocol: wsmedia::Connection,
    /// The media engine's inbound queue, once the call started.
    to_media: Option<std::sync::mpsc::SyncSender<StreamIn>>,
    /// The engine's outbound queue, until `serve` takes it.
    from_media: Option<tokio::sync::mpsc::Receiver<StreamOut>>,
    /// Token bucket of messages (see [`RATE_PER_SECOND`]).
    allowance: f64,
    refilled: Instant,
    /// Frames the media engine had no room for (it is behind): dropped, counted.
    dropped_in: u64,
}

impl<'a> Run<'a> {
    fn new(state: &'a MediaState, opening: Opening) -> Self {
        let protocol = match opening.transport {
            StreamTransport::Twilio => wsmedia::Protocol::Twilio,
            StreamTransport::Relay => wsmedia::Protocol::Relay,
            _ => wsmedia::Protocol::Acs,
        };
        let options = wsmedia::Options { caller: opening.caller.clone() };
        Self { state, protocol: wsmedia::Connection::new(protocol, options), opening, to_media: None, from_media: None, allowance: RATE_BURST * ACS_UNMIXED_SOURCES /* capped to the protocol's burst on first use */, refilled: Instant::now(), dropped_in: 0 }
    }

    fn call_id(&self) -> Option<String> {
        self.opening.admitted.as_ref().map(|(id, _)| id.clone())
    }

    fn emit(&self, event: &serde_json::Value) {
        let (id, tenant) = self.opening.admitted.as_ref().map_or(("-", "-"), |(i, t)| (i.as_str(), t.as_str()));
        self.state.sink.emit(id, tenant, event);
    }

    /// Runs until the call or the connection ends; the close to send, if the peer is still there.
    async fn serve(&mut self, socket: &mut WebSocket) -> Option<Ending> {
        let deadline = Instant::now() + START_TIMEOUT;
        // The engine's end of the call, once started (held here, apart from `self`, so the
        // select below can wait on it while handling the peer's messages).
        let mut from_media: Option<tokio::sync::mpsc::Receiver<StreamOut>> = None;
        loop {
            if let Some(rx) = self.from_media.take() {
                from_media = Some(rx);
            }
            let started = from_media.is_some();
            let outbound = async {
                match from_media.as_mut() {
                    Some(rx) => rx.recv().await,
                    None => std::future::pending().await,
                }
            };
            tokio::select! {
                message = socket.recv() => {
                    let message = match message {
                        None => return None,
                        Some(Ok(m)) => m,
                        Some(Err(e)) => return Some(read_error(&e)),
                    };
                    if let Some(ending) = self.inbound(message).await {
                        return Some(ending);
                    }
                }
                out = outbound => {
                    let Some(out) = out else { return Some(Ending::new(NORMAL, "call ended")) };
                    match self.outbound(out) {
                        Ok(Some(message)) => {
                            if socket.send(message).await.is_err() {
                                return None;
                            }
                        }
                        Ok(None) => {}
                        Err(ending) => {
                            // The relay's hang-up message goes before the close.
                            if let Some(m) = self.protocol.hangup_message(&ending.reason) {
                                let _ = socket.send(to_ws(m)).await;
                            }
                            return Some(ending);
                        }
                    }
                }
                () = tokio::time::sleep_until(deadline), if !started => {
                    return Some(Ending::new(POLICY, format!("no start message within {} s", START_TIMEOUT.as_secs())));
                }
            }
        }
    }

    /// One message from the peer; `Some` ends the connection.
    async fn inbound(&mut self, message: Message) -> Option<Ending> {
        if !self.within_rate() {
            return Some(Ending::new(POLICY, format!("more than {} messages a second", self.rate().0)));
        }
        let result = match message {
            Message::Text(text) => self.protocol.handle_text(text.as_str()),
            Message::Binary(data) => self.protocol.handle_binary(&data),
            Message::Close(_) => return Some(Ending::new(NORMAL, "peer closed")),
            Message::Ping(_) | Message::Pong(_) => Ok(()),
        };
        if let Err(e) = result {
            let code = e.close_code();
            let ending = Ending::new(code, e.to_string());
            self.emit(&json!({"event": "stream_error", "transport": self.opening.transport, "close_code": code, "error": ending.reason}));
            return Some(ending);
        }
        while let Some(event) = self.protocol.poll_event() {
            if let Some(ending) = self.event(event).await {
                return Some(ending);
            }
        }
        None
    }

    async fn event(&mut self, event: wsmedia::Event) -> Option<Ending> {
        match event {
            wsmedia::Event::Started(info) => return self.start(info).await,
            wsmedia::Event::Audio(frame) => self.to_media(StreamIn::Audio(frame)),
            wsmedia::Event::Dtmf(digit) => self.to_media(StreamIn::Dtmf(digit)),
            wsmedia::Event::MarkPlayed(name) => self.to_media(StreamIn::MarkPlayed(name)),
            wsmedia::Event::Stopped { reason } => return Some(Ending::new(NORMAL, format!("peer stopped the stream: {reason}"))),
            wsmedia::Event::OtherParticipant { id } => {
                self.emit(&json!({"event": "other_participant", "participant": id, "note": "not the caller: audio ignored"}));
            }
        }
        None
    }

    /// The media format is known: admit (Twilio with its `start` token) and start the call.
    async fn start(&mut self, info: wsmedia::StartInfo) -> Option<Ending> {
        if self.opening.admitted.is_none() {
            let tenant = match self.state.auth.authorize(info.token.as_deref(), self.opening.peer, self.opening.tenant_hint.as_deref()) {
                Ok(t) => t,
                Err(e) => {
                    self.state.sink.emit("-", "-", &json!({"event": "stream_refused", "transport": self.opening.transport, "peer": self.opening.peer.to_string(), "reason": e.to_string()}));
                    return Some(Ending::new(POLICY, e.to_string()));
                }
            };
            match self.state.streams.admit(&tenant, self.opening.transport).await {
                Ok(id) => self.opening.admitted = Some((id, tenant)),
                Err(e) => return Some(Ending::new(if e.http_status() == 503 { 1013 } else { POLICY }, e.to_string())),
            }
        }
        let call_id = self.call_id().unwrap_or_default();
        let marks = if self.opening.transport == StreamTransport::Twilio { playback::MarkPolicy::Transport } else { playback::MarkPolicy::CountSamples };
        let meta = StreamMeta { peer_call_id: info.peer_call_id.or_else(|| self.opening.correlation_id.clone()), caller_number: info.caller_number };
        match self.state.streams.start(&call_id, info.sample_rate, meta, marks).await {
            Ok(StreamCall { to_media, from_media, .. }) => {
                self.to_media = Some(to_media);
                self.from_media = Some(from_media);
                None
            }
            Err(e) => Some(Ending::new(1011, e.to_string())),
        }
    }

    /// Hands a frame (DTMF, mark echo) to the media engine without waiting: a full queue means
    /// the engine is behind, and the frame is dropped rather than the connection stalled.
    fn to_media(&mut self, item: StreamIn) {
        let Some(to_media) = &self.to_media else { return };
        if to_media.try_send(item).is_err() {
            self.dropped_in += 1;
            if self.dropped_in.is_power_of_two() {
                self.emit(&json!({"event": "stream_frames_dropped", "dropped": self.dropped_in}));
            }
        }
    }

    /// What the worker sends; `Err` ends the connection (the dialogue hung up).
    fn outbound(&mut self, out: StreamOut) -> Result<Option<Message>, Ending> {
        let message = match out {
            StreamOut::Audio(pcm) => self.protocol.audio_message(&pcm),
            StreamOut::Clear => self.protocol.clear_message(),
            StreamOut::Mark(name) => self.protocol.mark_message(&name),
            StreamOut::Decision(decision) => {
                let body = decision.graph_transfer_body().unwrap_or_default();
                let value = serde_json::to_value(&*decision).unwrap_or_default();
                self.protocol.call_control_message("transfer", &body, &value)
            }
            StreamOut::Hangup { reason } => return Err(Ending::new(NORMAL, reason)),
        };
        Ok(message.map(to_ws))
    }

    /// Messages a second and burst for this connection's protocol.
    fn rate(&self) -> (f64, f64) {
        let sources = if self.opening.transport == StreamTransport::Acs { ACS_UNMIXED_SOURCES } else { 1.0 };
        (RATE_PER_SECOND * sources, RATE_BURST * sources)
    }

    fn within_rate(&mut self) -> bool {
        let now = Instant::now();
        let elapsed = now.duration_since(self.refilled).as_secs_f64();
        self.refilled = now;
        let (rate, burst) = self.rate();
        self.allowance = (self.allowance + elapsed * rate).min(burst);
        if self.allowance < 1.0 {
            return false;
        }
        self.allowance -= 1.0;
        true
    }
}

fn to_ws(m: wsmedia::Message) -> Message {
    match m {
        wsmedia::Message::Text(t) => Message::Text(t.into()),
        wsmedia::Message::Binary(b) => Message::Binary(b.into()),
    }
}

/// A read that failed: over the size limit gets 1009, anything else means the peer is gone.
fn read_error(e: &axum::Error) -> Ending {
    let text = e.to_string();
    if text.contains("Space limit exceeded") || text.contains("too long") || text.contains("too big") {
        Ending::new(TOO_BIG, format!("message over {MAX_MESSAGE_BYTES} bytes"))
    } else {
        Ending::new(1002, format!("websocket error: {text}"))
    }
}
