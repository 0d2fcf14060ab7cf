//! One WebRTC call: a str0m [`Rtc`] (ICE-lite, DTLS-SRTP, one Opus audio m-line) on a UDP socket
//! of its own, driven by one tokio task that also carries the call's audio between Opus at
//! 48 kHz and 20 ms PCM frames at the call's rate for the media engine.
//!
//! The task follows str0m's contract: every input (a datagram, a timeout, a frame written) is
//! followed by draining [`Rtc::poll_output`] to its next timeout. The call starts on the media
//! engine when ICE and DTLS are up (so the greeting is not spoken into a connection still being
//! set up), and ends when the browser closes the connection, ICE stays disconnected, no audio
//! arrives for [`NO_MEDIA`], or the dialogue hangs up.

use std::net::{IpAddr, SocketAddr};
use std::sync::{Arc, OnceLock};
use std::time::{Duration, Instant};

use str0m::change::SdpOffer;
use str0m::channel::ChannelId;
use str0m::config::CryptoProvider;
use str0m::format::Codec;
use str0m::media::{Direction, Frequency, MediaKind, MediaTime, Mid, Pt};
use str0m::net::{Protocol, Receive};
use str0m::{Candidate, Event, IceConnectionState, Input, Output, Rtc, RtcError};
use tokio::net::UdpSocket;
use tokio::task::JoinHandle;
use types::SampleRate;

use super::audio::AudioPath;
use crate::serve::session::route_source;
use crate::serve::stream::{StreamCall, StreamIn, StreamOut, StreamRefusal};

/// The rate the call runs at on the media engine: the recognizer's, and the rate prompts are
/// rendered at, so only this task resamples (48 kHz Opus <-> 16 kHz).
pub const CALL_RATE: SampleRate = SampleRate::HZ_16000;
/// Time from the answer to ICE and DTLS up before the call is given up.
pub const CONNECT_TIMEOUT: Duration = Duration::from_secs(30);
/// Time without a packet of the caller's audio before the call is ended.
pub const NO_MEDIA: Duration = Duration::from_secs(30);
/// Time ICE may stay disconnected (a network change, a brief loss) before the call is ended.
const DISCONNECT_GRACE: Duration = Duration::from_secs(5);
/// Time a closing connection gets to send its RTCP BYE and DTLS close_notify.
const CLOSE_DRAIN: Duration = Duration::from_millis(500);
/// Largest datagram read: the path MTU of any real network is below it.
const DATAGRAM_MAX: usize = 2048;
/// Label of the data channel the page sends key presses on ("0"-"9", "*", "#", "A"-"D").
const DTMF_CHANNEL: &str = "dtmf";

/// Why an offer cannot be answered (the request's fault unless said otherwise).
#[derive(Debug, thiserror::Error)]
pub enum OfferError {
    #[error("not an SDP offer: {0}")]
    Sdp(String),
    #[error("the offer has no audio that the worker can both receive and send (sendrecv)")]
    NoAudio,
    #[error("the offer's audio has no Opus (opus/48000/2)")]
    NoOpus,
    /// The worker's side: no socket on the media address.
    #[error("cannot open a media socket on {ip}: {source}")]
    Socket { ip: IpAddr, source: std::io::Error },
    /// The worker's side: DTLS certificate or codec set-up.
    #[error("WebRTC set-up failed: {0}")]
    Setup(String),
}

/// How a call's connection ended (each is reported to call control with `StreamCalls::end`).
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Ending {
    /// The dialogue hung up: the connection is closed.
    Hangup(String),
    /// The media engine or call control let go of the call.
    Gone,
    /// The browser's side ended it, or it failed.
    Peer(String),
}

/// An answered offer: the connection, not running yet.
pub struct Peer {
    rtc: Rtc,
    socket: UdpSocket,
    local: SocketAddr,
    mid: Mid,
    pt: Pt,
    /// Datagrams str0m produced while answering, sent when the task runs.
    pending: Vec<(SocketAddr, Vec<u8>)>,
    dtmf_channel: Option<ChannelId>,
    audio: AudioPath,
    /// Caller frames the engine's queue had no room for.
    pub dropped_in: u64,
    pub packets_in: u64,
    pub bad_datagrams: u64,
    /// Outbound frames not sent (wrong length, encoder or writer error).
    pub send_errors: u64,
    pub frames_out: u64,
}

impl std::fmt::Debug for Peer {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Peer").field("local", &self.local).field("mid", &self.mid).field("pt", &self.pt).finish()
    }
}

/// One crypto provider for every call (aws-lc-rs, see the module comment of `webrtc`).
fn crypto() -> Arc<CryptoProvider> {
    static PROVIDER: OnceLock<Arc<CryptoProvider>> = OnceLock::new();
    Arc::clone(PROVIDER.get_or_init(|| Arc::new(str0m::crypto::from_feature_flags())))
}

impl Peer {
    /// Answers `offer` with an ICE-lite host candidate on `media_ip` (a wildcard address is
    /// replaced by the address the route to `browser` leaves from). Returns the answer's SDP.
    pub async fn answer(offer: &str, media_ip: IpAddr, browser: IpAddr) -> Result<(Self, String), OfferError> {
        let offer = SdpOffer::from_sdp_string(offer).map_err(|e| OfferError::Sdp(e.to_string()))?;
        let socket_error = |source| OfferError::Socket { ip: media_ip, source };
        let socket = UdpSocket::bind(SocketAddr::new(media_ip, 0)).await.map_err(socket_error)?;
        let mut local = socket.local_addr().map_err(socket_error)?;
        if media_ip.is_unspecified() {
            local.set_ip(route_source(browser).map_err(socket_error)?);
        }
        let crypto = crypto();
        // Generated here rather than by `build`, which panics when it cannot.
        let cert = crypto.dtls_provider.generate_certificate().ok_or_else(|| OfferError::Setup("no DTLS certificate".into()))?;
        let now = Instant::now();
        let mut rtc = Rtc::builder()
            .set_crypto_provider(crypto)
            .set_dtls_cert(cert)
            // The worker never initiates: the browser (full ICE, controlling) checks the pair.
            .set_ice_lite(true)
            .clear_codecs()
            .enable_opus(true, false)
            .build(now);
        let candidate = Candidate::host(local, "udp").map_err(|e| OfferError::Setup(format!("host candidate {local}: {e}")))?;
        rtc.add_local_candidate(candidate);
        let answer = rtc.sdp_api().accept_offer(offer).map_err(|e| match e {
            RtcError::RemoteSdp(m) => OfferError::Sdp(m),
            RtcError::Sdp(e) => OfferError::Sdp(e.to_string()),
            other => OfferError::Setup(other.to_string()),
        })?;
        // The answer's m-lines name the medias; str0m holds each one's kind and direction.
        let audio_mid = answer
            .media_lines
            .iter()
            .map(|line| line.mid())
            .find(|mid| rtc.media(*mid).is_some_and(|m| m.kind() == MediaKind::Audio && m.direction() == Direction::SendRecv));
        // Drained after the change, as after every input.
        let mut pending = Vec::new();
        loop {
            match rtc.poll_output().map_err(|e| OfferError::Setup(e.to_string()))? {
                Output::Timeout(_) => break,
                Output::Transmit(t) => pending.push((t.destination, t.contents.to_vec())),
                Output::Event(_) => {}
            }
        }
        let mid = audio_mid.ok_or(OfferError::NoAudio)?;
        let writer = rtc.writer(mid).ok_or(OfferError::NoAudio)?;
        let pt = writer.payload_params().find(|p| p.spec().codec == Codec::Opus).map(|p| p.pt()).ok_or(OfferError::NoOpus)?;
        let audio = AudioPath::new(CALL_RATE).map_err(|e| OfferError::Setup(e.to_string()))?;
        let peer = Self {
            rtc,
            socket,
            local,
            mid,
            pt,
            pending,
            dtmf_channel: None,
            audio,
            dropped_in: 0,
            packets_in: 0,
            bad_datagrams: 0,
            send_errors: 0,
            frames_out: 0,
        };
        Ok((peer, answer.to_sdp_string()))
    }

    pub fn local_addr(&self) -> SocketAddr {
        self.local
    }

    /// Runs the connection until it ends. `start` starts the call on the media engine; it is
    /// called once, when ICE and DTLS are up.
    pub async fn run<F>(&mut self, start: impl FnOnce() -> F) -> Ending
    where
        F: std::future::Future<Output = Result<StreamCall, StreamRefusal>> + Send + 'static,
    {
        for (to, datagram) in std::mem::take(&mut self.pending) {
            let _ = self.socket.try_send_to(&datagram, to);
        }
        let answered = Instant::now();
        let mut start = Some(start);
        let mut starting: Option<JoinHandle<Result<StreamCall, StreamRefusal>>> = None;
        let mut call: Option<StreamCall> = None;
        let mut state = Progress { connected: false, disconnected_since: None, last_media: answered, closed_by_peer: false };
        let mut buf = vec![0u8; DATAGRAM_MAX];
        loop {
            let deadline = match self.drain(&mut state, call.as_ref()) {
                Ok(t) => t,
                Err(e) => return self.fail(format!("webrtc_error: {e}")).await,
            };
            if state.closed_by_peer {
                return Ending::Peer("caller_hangup".into());
            }
            if state.connected {
                if let Some(start) = start.take() {
                    starting = Some(tokio::spawn(start()));
                }
            }
            let now = Instant::now();
            if !state.connected && now.duration_since(answered) > CONNECT_TIMEOUT {
                return self.fail("webrtc_connect_timeout".into()).await;
            }
            if state.connected && now.duration_since(state.last_media) > NO_MEDIA {
                return self.fail("no_media".into()).await;
            }
            if state.disconnected_since.is_some_and(|at| now.duration_since(at) > DISCONNECT_GRACE) {
                return self.fail("ice_disconnected".into()).await;
            }
            // Wake for str0m's next timeout, and at least once a second for the checks above.
            let wake = deadline.min(now + Duration::from_secs(1));
            let woke = tokio::select! {
                r = self.socket.recv_from(&mut buf) => Wake::Datagram(r),
                out = recv_out(&mut call) => Wake::Out(out),
                started = join(&mut starting) => Wake::Started(started),
                () = tokio::time::sleep_until(wake.into()) => Wake::Timer,
            };
            match woke {
                Wake::Datagram(Ok((n, source))) => self.receive(&buf[..n], source),
                // ICMP errors surface on the next read of an unconnected socket on some systems:
                // nothing to do with this call's other traffic.
                Wake::Datagram(Err(_)) => self.bad_datagrams += 1,
                Wake::Timer => {
                    if let Err(e) = self.rtc.handle_input(Input::Timeout(Instant::now())) {
                        return self.fail(format!("webrtc_error: {e}")).await;
                    }
                }
                Wake::Started(result) => {
                    starting = None;
                    match result {
                        Ok(Ok(started)) => call = Some(started),
                        // The refusal is call control's own: it has released the call.
                        Ok(Err(refusal)) => {
                            self.close().await;
                            return Ending::Peer(format!("not_started: {refusal}"));
                        }
                        Err(e) => return self.fail(format!("start failed: {e}")).await,
                    }
                }
                Wake::Out(None) => {
                    self.close().await;
                    return Ending::Gone;
                }
                Wake::Out(Some(StreamOut::Audio(frame))) => self.send_frame(&frame),
                Wake::Out(Some(StreamOut::Hangup { reason })) => {
                    self.close().await;
                    return Ending::Hangup(reason);
                }
                // Nothing is queued on the browser's side beyond its jitter buffer, marks are
                // counted by the engine (CountSamples), and the page gets the decision as an event.
                Wake::Out(Some(StreamOut::Clear | StreamOut::Mark(_) | StreamOut::Decision(_))) => {}
            }
        }
    }

    /// Polls str0m until it names its next timeout, handling what it emits.
    fn drain(&mut self, state: &mut Progress, call: Option<&StreamCall>) -> Result<Instant, RtcError> {
        loop {
            match self.rtc.poll_output()? {
                Output::Timeout(t) => return Ok(t),
                Output::Transmit(t) => {
                    // A full socket buffer drops the datagram, as the network would.
                    if self.socket.try_send_to(&t.contents, t.destination).is_err() {
                        self.send_errors += 1;
                    }
                }
                Output::Event(event) => self.on_event(event, state, call),
            }
        }
    }

    fn on_event(&mut self, event: Event, state: &mut Progress, call: Option<&StreamCall>) {
        match event {
            Event::Connected => state.connected = true,
            Event::IceConnectionStateChange(IceConnectionState::Disconnected) => {
                state.disconnected_since.get_or_insert_with(Instant::now);
            }
            Event::IceConnectionStateChange(IceConnectionState::Connected | IceConnectionState::Completed) => {
                state.disconnected_since = None;
            }
            Event::Closed => state.closed_by_peer = true,
            Event::MediaData(data) if data.mid == self.mid => {
                state.last_media = Instant::now();
                let to_media = call.map(|c| &c.to_media);
                let seq = **data.seq_range.start();
                let dropped = &mut self.dropped_in;
                // Before the call has started there is nobody to hear it: decoded, not sent.
                self.audio.receive(seq, &data.data[..], |frame| {
                    if let Some(tx) = to_media {
                        if let Err(std::sync::mpsc::TrySendError::Full(_)) = tx.try_send(StreamIn::Audio(frame)) {
                            *dropped += 1;
                        }
                    }
                });
            }
            Event::ChannelOpen(id, label) if label == DTMF_CHANNEL => self.dtmf_channel = Some(id),
            Event::ChannelData(data) if Some(data.id) == self.dtmf_channel && !data.binary => {
                let keys = std::str::from_utf8(&data.data).unwrap_or("");
                for key in keys.chars().filter(|c| matches!(c, '0'..='9' | '*' | '#' | 'A'..='D')) {
                    if let Some(c) = call {
                        if c.to_media.try_send(StreamIn::Dtmf(key)).is_err() {
                            self.dropped_in += 1;
                        }
                    }
                }
            }
            _ => {}
        }
    }

    fn receive(&mut self, datagram: &[u8], source: SocketAddr) {
        let input = match Receive::new(Protocol::Udp, source, self.local, datagram) {
            Ok(r) => Input::Receive(Instant::now(), r),
            // Not STUN, DTLS, RTP or RTCP: somebody else's traffic.
            Err(_) => {
                self.bad_datagrams += 1;
                return;
            }
        };
        self.packets_in += 1;
        // A packet str0m refuses (bad SRTP, a stray DTLS record) costs only itself; a connection
        // that cannot go on shows up as a disconnect or a silent peer.
        if !self.rtc.accepts(&input) || self.rtc.handle_input(input).is_err() {
            self.bad_datagrams += 1;
        }
    }

    fn send_frame(&mut self, frame: &[f32]) {
        let Some((packet, rtp_time)) = self.audio.encode(frame, Instant::now()) else {
            self.send_errors += 1;
            return;
        };
        let time = MediaTime::new(rtp_time, Frequency::FORTY_EIGHT_KHZ);
        let written = match self.rtc.writer(self.mid) {
            Some(w) => w.write(self.pt, Instant::now(), time, packet).is_ok(),
            None => false,
        };
        if written {
            self.frames_out += 1;
        } else {
            self.send_errors += 1;
        }
    }

    /// Closes the connection (RTCP BYE, DTLS close_notify) and gives them a moment to leave.
    async fn close(&mut self) {
        if self.rtc.close().is_err() {
            return;
        }
        let until = Instant::now() + CLOSE_DRAIN;
        let mut buf = vec![0u8; DATAGRAM_MAX];
        let mut idle = Progress { connected: true, disconnected_since: None, last_media: until, closed_by_peer: false };
        while self.rtc.is_alive() && Instant::now() < until {
            let Ok(next) = self.drain(&mut idle, None) else { return };
            let wake = next.min(until);
            tokio::select! {
                r = self.socket.recv_from(&mut buf) => if let Ok((n, source)) = r { self.receive(&buf[..n], source) },
                () = tokio::time::sleep_until(wake.into()) => {
                    if self.rtc.handle_input(Input::Timeout(Instant::now())).is_err() {
                        return;
                    }
                }
            }
        }
    }

    async fn fail(&mut self, reason: String) -> Ending {
        self.close().await;
        Ending::Peer(reason)
    }
}

/// What the run loop tracks about the connection.
struct Progress {
    connected: bool,
    disconnected_since: Option<Instant>,
    last_media: Instant,
    closed_by_peer: bool,
}

enum Wake {
    Datagram(std::io::Result<(usize, SocketAddr)>),
    Out(Option<StreamOut>),
    Started(Result<Result<StreamCall, StreamRefusal>, tokio::task::JoinError>),
    Timer,
}

/// The engine's next message, or never while the call has not started.
async fn recv_out(call: &mut Option<StreamCall>) -> Option<StreamOut> {
    match call {
        Some(c) => c.from_media.recv().await,
        None => std::future::pending().await,
    }
}

async fn join<T>(task: &mut Option<JoinHandle<T>>) -> Result<T, tokio::task::JoinError> {
    match task {
        Some(t) => t.await,
        None => std::future::pending().await,
    }
}
