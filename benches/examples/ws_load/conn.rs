//! One call: open the WebSocket, start the stream the protocol's way, send the caller's frame on
//! every tick of the shared ticker, read and answer whatever the server sends, then stop and
//! close. Everything it saw goes into [`ConnStats`].

use std::collections::VecDeque;
use std::sync::Arc;
use std::time::{Duration, Instant, SystemTime, UNIX_EPOCH};

use futures_util::{SinkExt as _, StreamExt as _};
use serde_json::{json, Value};
use tokio::net::TcpStream;
use tokio::sync::watch;
use tokio_tungstenite::tungstenite::client::IntoClientRequest as _;
use tokio_tungstenite::tungstenite::protocol::frame::coding::CloseCode;
use tokio_tungstenite::tungstenite::protocol::CloseFrame;
use tokio_tungstenite::tungstenite::{self, http, Message};
use tokio_tungstenite::{MaybeTlsStream, WebSocketStream};

use super::audio::Payload;
use super::{Protocol, Shared, FRAME};

type Ws = WebSocketStream<MaybeTlsStream<TcpStream>>;

/// Server audio messages further apart than this are not a late frame but a pause: the prompt
/// ended without a mark (ACS, relay), or the caller's speech paused it for a possible barge-in
/// (the worker then sends nothing, and resumes when the caller stops, at least a few hundred
/// ms later). Counted as pauses, not as gaps. An engine stall that long shows in its own
/// `engine_load` report as late ticks.
const PAUSE: Duration = Duration::from_millis(250);
/// At most this many owed frames go out on one tick; beyond it the client is hopelessly behind
/// and skips frames (counted) rather than break the server's rate limit with a burst.
const MAX_BURST: u64 = 25;
const HANDSHAKE_TIMEOUT: Duration = Duration::from_secs(10);
/// After `stop` / our close, how long to wait for the server's close.
const CLOSE_WAIT: Duration = Duration::from_secs(3);

/// What one connection saw. Times are µs.
#[derive(Debug, Default)]
pub struct ConnStats {
    pub slot: usize,
    /// Twilio callSid, ACS correlation id, relay callId: `<run>-<slot>-<attempt>`.
    pub peer_id: String,
    pub opened: bool,
    pub connect_us: u32,
    /// HTTP status of a refused upgrade, with its body.
    pub refused: Option<(u16, String)>,
    /// Handshake failure, timeout or a connection lost without a close frame.
    pub error: Option<String>,
    /// The server closed before we stopped: code and reason.
    pub closed_early: Option<(u16, String)>,
    pub frames_sent: u64,
    pub speech_frames: u64,
    pub frames_skipped: u64,
    /// Lateness of each frame we sent against its tick's due time.
    pub send_late_us: Vec<u32>,
    pub audio_in: u64,
    pub clears: u64,
    pub marks_in: u64,
    pub marks_echoed: u64,
    pub call_control: u64,
    pub hangups: u64,
    pub other_in: u64,
    /// Inter-arrival gaps of server audio messages within a prompt.
    pub gaps_us: Vec<u32>,
    pub pauses: u64,
}

/// Runs call slot `slot` for its `--duration-s`: one call, and (unless `--no-redial`) a new one
/// at once whenever the server ends a call normally (an assistant's dialogue finished), so that
/// the slot stays busy as in a contact center with a queue of callers.
pub async fn run_slot(shared: Arc<Shared>, slot: usize, ticks: watch::Receiver<u64>) -> Vec<ConnStats> {
    let offset = shared.ramp.mul_f64(slot as f64 / shared.calls.max(1) as f64);
    tokio::time::sleep_until((shared.t0 + offset).into()).await;
    // The slot's last frame is due on this tick, whichever call sends it.
    let end_tick = (offset.as_millis() / FRAME.as_millis()) as u64 + shared.frames;
    let mut calls = Vec::new();
    for attempt in 0.. {
        let stats = call(&shared, slot, attempt, ticks.clone(), end_tick).await;
        let again = shared.redial && stats.error.is_none() && stats.closed_early.as_ref().is_some_and(|(code, _)| *code == 1000);
        calls.push(stats);
        // A new call needs a second left to be worth placing.
        if !again || *ticks.borrow() + 50 >= end_tick {
            break;
        }
    }
    calls
}

/// One call of `slot`, until the slot's `end_tick` or the server ends it.
async fn call(shared: &Shared, slot: usize, attempt: usize, ticks: watch::Receiver<u64>, end_tick: u64) -> ConnStats {
    let peer_id = format!("{}-{slot:05}-{attempt}", shared.run_id);
    let mut stats = ConnStats { slot, peer_id, ..Default::default() };
    let request = match request(shared, &stats.peer_id) {
        Ok(r) => r,
        Err(e) => {
            stats.error = Some(e);
            return stats;
        }
    };
    let began = Instant::now();
    let connect = tokio_tungstenite::connect_async_with_config(request, None, true);
    let ws = match tokio::time::timeout(HANDSHAKE_TIMEOUT, connect).await {
        Err(_) => {
            stats.error = Some("handshake timed out".into());
            return stats;
        }
        Ok(Err(tungstenite::Error::Http(response))) => {
            let body = response.body().as_deref().map(|b| String::from_utf8_lossy(b).into_owned()).unwrap_or_default();
            stats.refused = Some((response.status().as_u16(), body));
            return stats;
        }
        Ok(Err(e)) => {
            stats.error = Some(format!("handshake: {e}"));
            return stats;
        }
        Ok(Ok((ws, _))) => ws,
    };
    stats.opened = true;
    stats.connect_us = micros(began.elapsed());
    let mut conn = Conn { shared, stats, seq: 0, first_tick: 0, limit: 0, end_tick, play_until: None, last_audio: None, marks: VecDeque::new(), stopping: false };
    conn.serve(ws, ticks).await;
    conn.stats
}

fn request(shared: &Shared, peer_id: &str) -> Result<http::Request<()>, String> {
    let mut req = shared.url.as_str().into_client_request().map_err(|e| format!("--url: {e}"))?;
    let headers = req.headers_mut();
    if let Some(token) = &shared.token {
        let value = format!("Bearer {token}").parse().map_err(|_| "--token is not a valid header value")?;
        headers.insert(http::header::AUTHORIZATION, value);
    }
    if shared.protocol == Protocol::Acs {
        // ACS names the call in the upgrade; the worker records it as the call's peer id.
        let id = peer_id.parse().map_err(|_| "run id is not a header value")?;
        headers.insert("x-ms-call-correlation-id", id);
    }
    Ok(req)
}

struct Conn<'a> {
    shared: &'a Shared,
    stats: ConnStats,
    /// Frames this call sends: up to its slot's last tick.
    limit: u64,
    end_tick: u64,
    /// Twilio `sequenceNumber` of the last message sent.
    seq: u64,
    /// The tick our frame 0 is due on.
    first_tick: u64,
    /// When the audio the server sent so far has played out (a real peer plays it in real
    /// time; its marks are echoed then).
    play_until: Option<Instant>,
    last_audio: Option<Instant>,
    /// Marks to echo once the audio before them has played: (when, name).
    marks: VecDeque<(Instant, String)>,
    stopping: bool,
}

impl Conn<'_> {
    async fn serve(&mut self, mut ws: Ws, mut ticks: watch::Receiver<u64>) {
        for m in self.opening() {
            if let Err(e) = ws.send(m).await {
                self.stats.error = Some(format!("sending the start message: {e}"));
                return;
            }
        }
        self.first_tick = *ticks.borrow_and_update() + 1;
        // A slot whose first call joined a tick early (the ticker was late) still sends only
        // its `--duration-s` of frames.
        self.limit = (self.end_tick + 1).saturating_sub(self.first_tick).min(self.shared.frames);
        loop {
            tokio::select! {
                // Ticks first: sending on time is the point; a read waits for one tick's send.
                biased;
                changed = ticks.changed() => {
                    if changed.is_err() {
                        break;
                    }
                    let tick = *ticks.borrow_and_update();
                    if let Err(e) = self.tick(&mut ws, tick).await {
                        self.lost(&e);
                        return;
                    }
                    if self.stats.frames_sent + self.stats.frames_skipped >= self.limit {
                        break;
                    }
                }
                message = ws.next() => match message {
                    Some(Ok(m)) => {
                        if let Err(e) = self.message(&mut ws, m).await {
                            self.lost(&e);
                            return;
                        }
                    }
                    Some(Err(e)) => {
                        self.lost(&e);
                        return;
                    }
                    // The server closed (recorded from its close frame) or the TCP connection went.
                    None => {
                        if self.stats.closed_early.is_none() {
                            self.stats.error = Some("connection closed without a close frame".into());
                        }
                        return;
                    }
                },
            }
        }
        self.finish(ws).await;
    }

    fn lost(&mut self, e: &tungstenite::Error) {
        if self.stats.closed_early.is_none() && self.stats.error.is_none() {
            self.stats.error = Some(format!("connection lost: {e}"));
        }
    }

    /// Stops the stream the protocol's way, closes with 1000 and waits for the server's close.
    async fn finish(&mut self, mut ws: Ws) {
        self.stopping = true;
        if let Some(m) = self.stop_message() {
            let _ = ws.send(m).await;
        }
        let frame = CloseFrame { code: CloseCode::Normal, reason: "load run over".into() };
        let _ = ws.send(Message::Close(Some(frame))).await;
        let deadline = tokio::time::Instant::now() + CLOSE_WAIT;
        while let Ok(Some(Ok(m))) = tokio::time::timeout_at(deadline, ws.next()).await {
            let _ = self.message(&mut ws, m).await;
        }
    }

    /// This tick: echo the marks that have played, then every frame now due.
    async fn tick(&mut self, ws: &mut Ws, tick: u64) -> Result<(), tungstenite::Error> {
        let now = Instant::now();
        while self.marks.front().is_some_and(|(at, _)| *at <= now) {
            if let Some((_, name)) = self.marks.pop_front() {
                self.echo_mark(ws, &name).await?;
            }
        }
        let done = self.stats.frames_sent + self.stats.frames_skipped;
        let due = (tick + 1).saturating_sub(self.first_tick).min(self.limit);
        let mut owed = due.saturating_sub(done);
        if owed > MAX_BURST {
            self.stats.frames_skipped += owed - MAX_BURST;
            owed = MAX_BURST;
        }
        for _ in 0..owed {
            let n = self.stats.frames_sent + self.stats.frames_skipped;
            let due_at = self.shared.t0 + FRAME * u32::try_from(self.first_tick + n).unwrap_or(u32::MAX);
            self.stats.send_late_us.push(micros(Instant::now().saturating_duration_since(due_at)));
            let message = self.audio_message(n);
            ws.feed(message).await?;
            self.stats.frames_sent += 1;
        }
        ws.flush().await
    }

    async fn message(&mut self, ws: &mut Ws, message: Message) -> Result<(), tungstenite::Error> {
        let now = Instant::now();
        match message {
            Message::Text(text) => self.text(ws, text.as_str(), now).await?,
            Message::Binary(_) if self.shared.protocol == Protocol::Relay => self.audio(now),
            Message::Binary(_) | Message::Frame(_) => self.stats.other_in += 1,
            Message::Close(frame) => {
                if !self.stopping && self.stats.closed_early.is_none() {
                    let (code, reason) = frame.map_or((1005, String::new()), |f| (u16::from(f.code), f.reason.to_string()));
                    self.stats.closed_early = Some((code, reason));
                }
            }
            Message::Ping(_) | Message::Pong(_) => {}
        }
        Ok(())
    }

    async fn text(&mut self, ws: &mut Ws, text: &str, now: Instant) -> Result<(), tungstenite::Error> {
        // The server writes its audio messages with a fixed prefix: no JSON parse per frame.
        if text.starts_with(r#"{"event":"media""#) || text.starts_with(r#"{"kind":"AudioData""#) {
            self.audio(now);
            return Ok(());
        }
        let v: Value = serde_json::from_str(text).unwrap_or(Value::Null);
        let kind = ["event", "kind", "type"].iter().find_map(|k| v.get(*k).and_then(Value::as_str)).unwrap_or("").to_ascii_lowercase();
        match kind.as_str() {
            "media" | "audiodata" => self.audio(now),
            "clear" | "stopaudio" => {
                self.stats.clears += 1;
                self.play_until = None;
                self.last_audio = None;
                // A clear drops the queued audio: the marks behind it are due at once.
                while let Some((_, name)) = self.marks.pop_front() {
                    self.echo_mark(ws, &name).await?;
                }
                ws.flush().await?;
            }
            "mark" => {
                self.stats.marks_in += 1;
                // Marks end prompts (the worker marks each one's end): the next audio is a new one.
                self.last_audio = None;
                let name = v.get("mark").unwrap_or(&v).get("name").and_then(Value::as_str).unwrap_or("").to_owned();
                let at = self.play_until.map_or(now, |t| t.max(now));
                self.marks.push_back((at, name));
            }
            "callcontrol" => self.stats.call_control += 1,
            "hangup" => self.stats.hangups += 1,
            _ => self.stats.other_in += 1,
        }
        Ok(())
    }

    fn audio(&mut self, now: Instant) {
        self.stats.audio_in += 1;
        if let Some(last) = self.last_audio {
            let gap = now.saturating_duration_since(last);
            if gap <= PAUSE {
                self.stats.gaps_us.push(micros(gap));
            } else {
                self.stats.pauses += 1;
            }
        }
        self.last_audio = Some(now);
        let from = self.play_until.map_or(now, |t| t.max(now));
        self.play_until = Some(from + FRAME);
    }

    async fn echo_mark(&mut self, ws: &mut Ws, name: &str) -> Result<(), tungstenite::Error> {
        if self.stopping {
            return Ok(());
        }
        let m = match self.shared.protocol {
            Protocol::Twilio => {
                self.seq += 1;
                json!({"event": "mark", "sequenceNumber": self.seq.to_string(), "streamSid": self.stream_sid(), "mark": {"name": name}})
            }
            Protocol::Relay => json!({"type": "mark", "name": name}),
            Protocol::Acs => return Ok(()),
        };
        self.stats.marks_echoed += 1;
        ws.feed(Message::text(m.to_string())).await
    }

    fn stream_sid(&self) -> String {
        format!("MZ{}", self.stats.peer_id)
    }

    /// The messages that start the stream.
    fn opening(&mut self) -> Vec<Message> {
        let id = self.stats.peer_id.clone();
        let from = format!("+1555{:07}", self.stats.slot);
        match self.shared.protocol {
            Protocol::Twilio => {
                let mut custom = json!({"from": from, "to": "+15550100000", "loadRun": self.shared.run_id});
                if let Some(token) = &self.shared.token {
                    custom["token"] = json!(token);
                }
                self.seq = 1;
                let start = json!({"event": "start", "sequenceNumber": "1", "streamSid": self.stream_sid(), "start": {
                    "accountSid": "ACwsload", "streamSid": self.stream_sid(), "callSid": id, "tracks": ["inbound"],
                    "customParameters": custom,
                    "mediaFormat": {"encoding": "audio/x-mulaw", "sampleRate": 8000, "channels": 1}}});
                vec![Message::text(r#"{"event":"connected","protocol":"Call","version":"1.0.0"}"#), Message::text(start.to_string())]
            }
            Protocol::Acs => {
                let rate = self.shared.audio.rate.hz();
                let meta = json!({"kind": "AudioMetadata", "audioMetadata": {"subscriptionId": id, "encoding": "PCM",
                    "sampleRate": rate, "channels": 1, "length": rate / 50 * 2}});
                vec![Message::text(meta.to_string())]
            }
            Protocol::Relay => {
                let start = json!({"type": "start", "version": 1, "callId": id, "from": from, "to": "+15550100000",
                    "custom": {"loadRun": self.shared.run_id}, "format": {"encoding": "L16", "sampleRate": 16000, "channels": 1}});
                vec![Message::text(start.to_string())]
            }
        }
    }

    /// Frame `n` of this call (duty cycle applied), as its protocol message.
    fn audio_message(&mut self, n: u64) -> Message {
        let (payload, speech) = self.shared.audio.frame(self.shared.duty, self.stats.slot, n);
        self.stats.speech_frames += u64::from(speech);
        match (self.shared.protocol, payload) {
            (_, Payload::Binary(bytes)) => Message::Binary(bytes.clone()),
            (Protocol::Twilio, Payload::Base64(b64)) => {
                self.seq += 1;
                let sid = self.stream_sid();
                Message::text(format!(
                    r#"{{"event":"media","sequenceNumber":"{}","media":{{"track":"inbound","chunk":"{}","timestamp":"{}","payload":"{b64}"}},"streamSid":"{sid}"}}"#,
                    self.seq,
                    n + 1,
                    n * 20
                ))
            }
            (_, Payload::Base64(b64)) => {
                let ts = iso8601(self.shared.wall_t0_ms + (self.first_tick + n) * 20);
                Message::text(format!(
                    r#"{{"kind":"AudioData","audioData":{{"timestamp":"{ts}","participantRawID":"8:acs:caller-{}","data":"{b64}","silent":{}}}}}"#,
                    self.stats.slot, !speech
                ))
            }
        }
    }

    /// Twilio `stop`, relay `hangup`; ACS just closes.
    fn stop_message(&mut self) -> Option<Message> {
        let id = self.stats.peer_id.clone();
        match self.shared.protocol {
            Protocol::Twilio => {
                self.seq += 1;
                let stop = json!({"event": "stop", "sequenceNumber": self.seq.to_string(), "streamSid": self.stream_sid(),
                    "stop": {"accountSid": "ACwsload", "callSid": id}});
                Some(Message::text(stop.to_string()))
            }
            Protocol::Relay => Some(Message::text(r#"{"type":"hangup","reason":"load run over"}"#)),
            Protocol::Acs => None,
        }
    }
}

pub fn micros(d: Duration) -> u32 {
    u32::try_from(d.as_micros()).unwrap_or(u32::MAX)
}

/// Unix time in ms now.
pub fn unix_ms() -> u64 {
    SystemTime::now().duration_since(UNIX_EPOCH).map_or(0, |d| d.as_millis() as u64)
}

/// `2024-05-01T12:00:00.020Z` (ACS's timestamp form), from Unix ms.
fn iso8601(ms: u64) -> String {
    let (days, rem) = ((ms / 86_400_000) as i64, ms % 86_400_000);
    // Civil date from days since 1970-01-01 (H. Hinnant's algorithm).
    let z = days + 719_468;
    let era = z.div_euclid(146_097);
    let doe = z - era * 146_097;
    let yoe = (doe - doe / 1460 + doe / 36_524 - doe / 146_096) / 365;
    let doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
    let mp = (5 * doy + 2) / 153;
    let day = doy - (153 * mp + 2) / 5 + 1;
    let month = if mp < 10 { mp + 3 } else { mp - 9 };
    let year = yoe + era * 400 + i64::from(month <= 2);
    let (h, m, s, frac) = (rem / 3_600_000, rem / 60_000 % 60, rem / 1000 % 60, rem % 1000);
    format!("{year:04}-{month:02}-{day:02}T{h:02}:{m:02}:{s:02}.{frac:03}Z")
}
