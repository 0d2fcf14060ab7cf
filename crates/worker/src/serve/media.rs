//! The media engine: one thread that owns every call's media and runs it on a 20 ms tick.
//!
//! Each tick, for every call: drain its RTP socket into its sans-IO `rtp::Session`, take one
//! frame of playout (audio, concealment or comfort noise), decode and resample it onto the
//! 16 kHz bus, and push it into the call's graph. Then one batched Silero inference over every
//! call that has a chunk due, the endpointers, the recognition jobs (to the pool), and one
//! outbound 20 ms packet per call (prompt or silence), plus RTCP when due.
//!
//! Owning all calls on one thread is what makes the VAD batch possible, and it keeps media
//! code free of locks and async. Sockets are non-blocking and drained per tick, so a packet's
//! arrival time is known to one tick (20 ms): coarse for the jitter estimate, but the jitter
//! buffer's playout delay is bounded below by a frame anyway.

use std::net::{SocketAddr, UdpSocket};
use std::sync::mpsc::{Receiver, TryRecvError};
use std::sync::Arc;
use std::time::{Duration, Instant};

use codec::PayloadCodec;
use dsp::Resampler;
use rtp::{MediaItem, Session, SessionEvent};
use types::{AudioFrame, CallEvent, MediaTime, BUS_RATE, FRAME_MS};
use vad::SileroModel;

use crate::graph::{CallGraph, GraphOutput};
use crate::serve::events::EventSink;
use crate::serve::pool::RecognitionPool;

/// Tick of the engine: one frame.
const TICK: Duration = Duration::from_millis(FRAME_MS as u64);
/// Largest datagram read (RTP over UDP stays well under the path MTU; anything larger is junk).
const MAX_DATAGRAM: usize = 2048;
/// Datagrams read per call per tick at most, so a flood on one call cannot starve the others.
const MAX_READS_PER_TICK: usize = 32;

/// What the media engine (and the recognition pool, for its results) tells call control.
#[derive(Debug, Clone)]
pub enum MediaNotice {
    Dtmf { call_id: String, digit: char },
    /// A queued prompt has been sent to its last sample.
    PromptFinished { call_id: String },
    /// A mark was reached (`played`), or dropped by `StopPlayback` (not played).
    MarkReached { call_id: String, name: String, played: bool },
    /// A prompt was stopped part-way by `StopPlayback`: how far it got, the words heard.
    PromptInterrupted { call_id: String, interruption: playback::Interruption },
    /// The caller started a turn at `onset` (calls with an assistant only). `interruptible`: an
    /// interruptible prompt was being sent; `echo`: the echo canceller heard only the prompt's
    /// own echo in the frames before.
    SpeechStarted { call_id: String, turn: types::TurnId, onset: Instant, interruptible: bool, echo: bool },
    /// The caller has been silent since `at` (the speculative decode was issued): the speech
    /// that may have paused a prompt is over.
    SpeechPaused { call_id: String, turn: types::TurnId, at: Instant },
    /// The turn's final would decode the same audio as its speculative result: use that.
    FinalIsSpeculative { call_id: String, turn: types::TurnId },
    /// A recognition result of a call whose tenant has an assistant: text and, when the text is
    /// not empty, its sentence embedding (computed on the pool thread, not the control task).
    Transcript { call_id: String, turn: types::TurnId, kind: crate::graph::JobKind, text: String, embedding: Option<nlu::Embedding>, speech_end: Instant },
}

/// Everything the engine needs to run one call's media.
pub struct MediaCall {
    pub call_id: String,
    pub tenant: String,
    pub socket: UdpSocket,
    pub session: Session,
    pub codec: PayloadCodec,
    pub graph: CallGraph,
    /// Prompts at the codec's sample rate, played in order from the start of the call (not
    /// interruptible; an assistant's prompts come by `MediaCommand::Play`).
    pub prompts: std::collections::VecDeque<Arc<[f32]>>,
    pub recognition_prompt: Option<String>,
    /// Set for calls with an assistant: results go to call control with their embedding.
    pub embedder: Option<Arc<nlu::Embedder>>,
    /// Decoders of the whisper model this call's tenant uses.
    pub pool: Arc<RecognitionPool>,
}

impl std::fmt::Debug for MediaCall {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("MediaCall").field("call_id", &self.call_id).field("codec", &self.codec).finish()
    }
}

/// Commands from call control.
#[derive(Debug)]
pub enum MediaCommand {
    Add(Box<MediaCall>),
    /// Stop the call's media, sending a final RTCP BYE.
    Remove { call_id: String },
    /// Send an RFC 4733 key press.
    SendDtmf { call_id: String, digit: char },
    /// Queue a prompt (audio at the call's codec rate) after those already queued.
    Play { call_id: String, prompt: playback::Prompt, audio: Arc<[f32]> },
    /// Queue a prompt whose audio comes in pieces (`Append`, then `Complete`): the first
    /// sentence plays while the next is synthesized.
    PlayStreaming { call_id: String, prompt: playback::Prompt },
    /// The next piece of a streaming prompt; `text_end` is where its words end in the text.
    Append { call_id: String, id: playback::PromptId, audio: Arc<[f32]>, text_end: usize },
    /// No more pieces: the prompt finishes when what it has is sent.
    Complete { call_id: String, id: playback::PromptId },
    /// Stop the prompt playing and drop the queued ones (`PromptInterrupted` reports how far
    /// the one playing got; no `PromptFinished` follows for any of them).
    StopPlayback { call_id: String },
    /// A named point after everything queued so far: `MarkReached` when all of it has been sent
    /// (RTP has no marks of its own, so samples sent are what counts).
    Mark { call_id: String, name: String },
    /// Barge-in pending: send silence in place of the prompt, keeping its place.
    Pause { call_id: String },
    /// Carry on from where `Pause` stopped.
    Resume { call_id: String },
    /// A re-INVITE changed the media: a new codec (with its new RTP session), or the direction
    /// (hold: `send` false stops our outbound audio, RFC 3264 §8.4).
    Update { call_id: String, codec: Option<(PayloadCodec, Box<Session>)>, send: bool },
}

/// A call as the engine runs it.
struct Running {
    call: MediaCall,
    decoder: codec::Decoder,
    encoder: codec::Encoder,
    resampler: Resampler,
    /// Decoded samples at the codec rate, one frame.
    pcm: Vec<f32>,
    /// Outbound samples at the codec rate, one frame, and the encoded payload.
    out_pcm: Vec<f32>,
    out_payload: Vec<u8>,
    frame: AudioFrame,
    media_time: MediaTime,
    started: bool,
    /// False while the caller holds the call (sendonly/inactive offer): we send nothing.
    sending: bool,
    /// Prompts queued and playing (the reference for the echo canceller is `out_pcm`, what
    /// the last tick sent).
    playback: playback::PlaybackController,
    echo: playback::EchoCanceller,
    /// The caller's frame with the echo removed, at the codec rate.
    residual: Vec<f32>,
    noise: rtp::NoiseGenerator,
    packet: Vec<u8>,
    outputs: Vec<GraphOutput>,
}

/// Runs the engine until `commands` is closed.
pub fn run(
    commands: Receiver<MediaCommand>,
    notices: tokio::sync::mpsc::UnboundedSender<MediaNotice>,
    mut silero: Option<SileroModel>,
    sink: Arc<EventSink>,
) {
    let mut calls: Vec<Running> = Vec::new();
    let mut datagram = vec![0u8; MAX_DATAGRAM];
    let mut next_tick = Instant::now();
    loop {
        loop {
            match commands.try_recv() {
                Ok(MediaCommand::Add(call)) => match start(*call) {
                    Ok(running) => calls.push(running),
                    Err((call_id, tenant, e)) => {
                        sink.emit(&call_id, &tenant, &serde_json::json!({"event": "media_error", "error": e}));
                    }
                },
                Ok(MediaCommand::Remove { call_id }) => {
                    if let Some(i) = calls.iter().position(|c| c.call.call_id == call_id) {
                        stop(calls.swap_remove(i), &sink, &notices);
                    }
                }
                Ok(MediaCommand::SendDtmf { call_id, digit }) => {
                    if let Some(c) = calls.iter_mut().find(|c| c.call.call_id == call_id) {
                        if let Some(key) = rtp::DtmfKey::from_char(digit) {
                            let _ = c.call.session.send_dtmf(key, Duration::from_millis(100));
                        }
                    }
                }
                Ok(MediaCommand::Play { call_id, prompt, audio }) => {
                    if let Some(c) = calls.iter_mut().find(|c| c.call.call_id == call_id) {
                        c.playback.play(prompt, audio);
                    }
                }
                Ok(MediaCommand::StopPlayback { call_id }) => {
                    if let Some(c) = calls.iter_mut().find(|c| c.call.call_id == call_id) {
                        c.playback.flush();
                        playback_events(c, &notices, false);
                    }
                }
                Ok(MediaCommand::PlayStreaming { call_id, prompt }) => {
                    if let Some(c) = calls.iter_mut().find(|c| c.call.call_id == call_id) {
                        c.playback.play_streaming(prompt);
                    }
                }
                Ok(MediaCommand::Append { call_id, id, audio, text_end }) => {
                    if let Some(c) = calls.iter_mut().find(|c| c.call.call_id == call_id) {
                        // Refused when the prompt was flushed meanwhile: the piece is dropped.
                        c.playback.append(id, audio, text_end);
                    }
                }
                Ok(MediaCommand::Complete { call_id, id }) => {
                    if let Some(c) = calls.iter_mut().find(|c| c.call.call_id == call_id) {
                        c.playback.complete(id);
                    }
                }
                Ok(MediaCommand::Mark { call_id, name }) => {
                    if let Some(c) = calls.iter_mut().find(|c| c.call.call_id == call_id) {
                        c.playback.mark(name);
                    }
                }
                Ok(MediaCommand::Pause { call_id }) => {
                    if let Some(c) = calls.iter_mut().find(|c| c.call.call_id == call_id) {
                        c.playback.pause();
                    }
                }
                Ok(MediaCommand::Resume { call_id }) => {
                    if let Some(c) = calls.iter_mut().find(|c| c.call.call_id == call_id) {
                        c.playback.resume();
                    }
                }
                Ok(MediaCommand::Update { call_id, codec, send }) => {
                    if let Some(c) = calls.iter_mut().find(|c| c.call.call_id == call_id) {
                        c.sending = send;
                        if let Some((codec, session)) = codec {
                            if let Err(e) = switch_codec(c, codec, *session, &notices) {
                                sink.emit(&call_id, &c.call.tenant, &serde_json::json!({"event": "media_error", "error": e}));
                            }
                        }
                    }
                }
                Err(TryRecvError::Empty) => break,
                Err(TryRecvError::Disconnected) => {
                    for c in calls.drain(..) {
                        stop(c, &sink, &notices);
                    }
                    return;
                }
            }
        }
        let now = Instant::now();
        for c in &mut calls {
            receive(c, &mut datagram, now, &notices, &sink);
            playout(c, now);
        }
        if let Some(model) = silero.as_mut() {
            let mut streams: Vec<&mut vad::SileroStream> =
                calls.iter_mut().filter(|c| c.started).filter_map(|c| c.call.graph.silero_stream()).collect();
            if let Err(e) = model.infer(&mut streams) {
                eprintln!("warning: VAD inference failed this tick: {e}");
            }
        }
        for c in &mut calls {
            if c.started {
                c.call.graph.process(&mut c.outputs);
                dispatch(c, &sink, &notices);
            }
            send(c, now, &notices);
        }
        next_tick += TICK;
        let now = Instant::now();
        if next_tick > now {
            std::thread::sleep(next_tick - now);
        } else if now - next_tick > TICK * 5 {
            // Far behind (the machine stalled): skip ahead rather than burst.
            next_tick = now;
        }
    }
}

fn start(call: MediaCall) -> Result<Running, (String, String, String)> {
    let fail = |call: &MediaCall, e: String| (call.call_id.clone(), call.tenant.clone(), e);
    let rate = call.codec.sample_rate();
    let resampler = Resampler::new(rate, BUS_RATE).map_err(|e| fail(&call, e.to_string()))?;
    let encoder = codec::Encoder::new(call.codec, codec::OpusSettings::default()).map_err(|e| fail(&call, e.to_string()))?;
    let decoder = codec::Decoder::new(call.codec).map_err(|e| fail(&call, e.to_string()))?;
    call.socket.set_nonblocking(true).map_err(|e| fail(&call, e.to_string()))?;
    let n = call.codec.frame_samples();
    let mut playback = playback::PlaybackController::new(rate, playback::MarkPolicy::CountSamples);
    for (i, audio) in call.prompts.iter().enumerate() {
        let prompt = playback::Prompt { id: playback::PromptId(u64::MAX - i as u64), text: String::new(), interruptible: false };
        playback.play(prompt, Arc::clone(audio));
    }
    Ok(Running {
        playback,
        echo: playback::EchoCanceller::new(rate, playback::EchoConfig::default()),
        residual: vec![0.0; n],
        decoder,
        encoder,
        resampler,
        pcm: vec![0.0; n],
        out_pcm: vec![0.0; n],
        out_payload: vec![0u8; 1500],
        frame: AudioFrame::silence(MediaTime::ZERO),
        media_time: MediaTime::ZERO,
        started: false,
        sending: true,
        // Level 70 dBov below full scale: the quiet hiss of an idle line.
        noise: rtp::NoiseGenerator::new(rtp::NoiseLevel::new(70).unwrap_or_else(|| unreachable!()), 0x5eed),
        packet: Vec::with_capacity(MAX_DATAGRAM),
        outputs: Vec::with_capacity(8),
        call,
    })
}

/// Moves a running call to another codec: new session, decoder, encoder and resampler; the
/// socket, the graph (and so the turn in progress) and the prompt position carry on.
fn switch_codec(c: &mut Running, codec: PayloadCodec, session: Session, notices: &Notices) -> Result<(), String> {
    let resampler = Resampler::new(codec.sample_rate(), BUS_RATE).map_err(|e| e.to_string())?;
    let encoder = codec::Encoder::new(codec, codec::OpusSettings::default()).map_err(|e| e.to_string())?;
    let decoder = codec::Decoder::new(codec).map_err(|e| e.to_string())?;
    if c.call.codec.sample_rate() != codec.sample_rate() {
        // The prompts were rendered at the old codec's rate: they stop rather than play at the
        // wrong speed (reported as finished, so the dialogue goes on).
        c.playback.flush();
        playback_events(c, notices, true);
        c.playback = playback::PlaybackController::new(codec.sample_rate(), playback::MarkPolicy::CountSamples);
        c.echo = playback::EchoCanceller::new(codec.sample_rate(), playback::EchoConfig::default());
    }
    let n = codec.frame_samples();
    c.residual = vec![0.0; n];
    c.pcm = vec![0.0; n];
    c.out_pcm = vec![0.0; n];
    c.call.codec = codec;
    c.call.session = session;
    c.resampler = resampler;
    c.encoder = encoder;
    c.decoder = decoder;
    Ok(())
}

fn receive(c: &mut Running, buf: &mut [u8], now: Instant, notices: &tokio::sync::mpsc::UnboundedSender<MediaNotice>, sink: &EventSink) {
    for _ in 0..MAX_READS_PER_TICK {
        let (n, from): (usize, SocketAddr) = match c.call.socket.recv_from(buf) {
            Ok(r) => r,
            Err(_) => break, // WouldBlock, or an ICMP error surfaced by the socket: nothing to read
        };
        // Malformed, unauthenticated or unexpected datagrams are counted by the session and
        // change nothing else.
        let _ = c.call.session.handle_datagram(from, &mut buf[..n], now);
    }
    while let Some(event) = c.call.session.poll_event() {
        let (id, tenant) = (&c.call.call_id, &c.call.tenant);
        match event {
            SessionEvent::DtmfStarted { key } => {
                sink.emit(id, tenant, &serde_json::json!({"event": "dtmf", "digit": key.as_char().to_string(), "at": c.media_time.as_millis()}));
                let _ = notices.send(MediaNotice::Dtmf { call_id: id.clone(), digit: key.as_char() });
            }
            SessionEvent::Quality(q) => sink.emit(
                id,
                tenant,
                &serde_json::json!({
                    "event": "quality",
                    "jitter_ms": q.jitter.as_secs_f64() * 1e3,
                    "fraction_lost": q.fraction_lost,
                    "cumulative_lost": q.cumulative_lost,
                    "rtt_ms": q.rtt.map(|r| r.as_secs_f64() * 1e3),
                    "mos": q.quality.mos,
                }),
            ),
            SessionEvent::SsrcChanged { old, new } => {
                sink.emit(id, tenant, &serde_json::json!({"event": "ssrc_changed", "old": old.0, "new": new.0}))
            }
            _ => {}
        }
    }
}

/// One frame of caller audio onto the bus (nothing before the first packet arrives).
fn playout(c: &mut Running, now: Instant) {
    let Some(item) = c.call.session.poll_playout(now) else { return };
    let n = match item {
        MediaItem::Audio { payload, .. } => c.decoder.decode(payload, &mut c.pcm).unwrap_or_else(|_| c.decoder.conceal(&mut c.pcm)),
        MediaItem::Conceal { .. } => c.decoder.conceal(&mut c.pcm),
        MediaItem::ComfortNoise { level, .. } => {
            c.noise.set_level(level);
            c.noise.fill(&mut c.pcm);
            c.pcm.len()
        }
    };
    // A short decode (an Opus packet of another duration) is padded with silence.
    let filled = n.min(c.pcm.len());
    c.pcm[filled..].fill(0.0);
    // The prompt's own echo out before the VAD: what the last tick sent is the reference.
    c.echo.process(&c.out_pcm, &c.pcm, &mut c.residual);
    if c.resampler.process(&c.residual, &mut c.frame.samples).is_err() {
        return;
    }
    c.frame.time = c.media_time;
    c.media_time = c.media_time + MediaTime::from_millis(u64::from(FRAME_MS));
    c.call.graph.push_frame(&c.frame);
    c.started = true;
}

fn dispatch(c: &mut Running, sink: &Arc<EventSink>, notices: &tokio::sync::mpsc::UnboundedSender<MediaNotice>) {
    use crate::graph::JobKind;
    for output in c.outputs.drain(..) {
        match output {
            GraphOutput::Event(event) => {
                if let (CallEvent::SpeechStarted { turn, at }, Some(_)) = (&event, &c.call.embedder) {
                    let behind = Duration::from_millis(c.media_time.saturating_sub(*at).as_millis());
                    let interruptible = c.playback.is_speaking_interruptible();
                    let _ = notices.send(MediaNotice::SpeechStarted {
                        call_id: c.call.call_id.clone(),
                        turn: *turn,
                        onset: Instant::now().checked_sub(behind).unwrap_or_else(Instant::now),
                        interruptible,
                        echo: c.echo.heard_only_echo(),
                    });
                }
                sink.emit(&c.call.call_id, &c.call.tenant, &event)
            }
            GraphOutput::Recognize(job) => {
                if job.kind == JobKind::Speculative && c.call.embedder.is_some() {
                    let behind = Duration::from_millis(c.media_time.saturating_sub(job.end).as_millis());
                    let at = Instant::now().checked_sub(behind).unwrap_or_else(Instant::now);
                    let _ = notices.send(MediaNotice::SpeechPaused { call_id: c.call.call_id.clone(), turn: job.turn, at });
                }
                if job.same_as_speculative && c.call.embedder.is_some() {
                    // The caller said nothing after the speculative decode: call control
                    // promotes that result to the final instead of a second decode.
                    let _ = notices.send(MediaNotice::FinalIsSpeculative { call_id: c.call.call_id.clone(), turn: job.turn });
                    continue;
                }
                let mut audio = Vec::new();
                c.call.graph.job_audio(&mut audio);
                let (job_sink, id, tenant) = (Arc::clone(sink), c.call.call_id.clone(), c.call.tenant.clone());
                let (embedder, job_notices) = (c.call.embedder.clone(), notices.clone());
                // When the caller's last word of this job was heard, on the wall clock: the
                // decision's latency is counted from there.
                let behind = Duration::from_millis(c.media_time.saturating_sub(job.end).as_millis());
                let speech_end = Instant::now().checked_sub(behind).unwrap_or_else(Instant::now);
                let decided = Instant::now();
                let reply: crate::serve::pool::Reply = Box::new(move |result| match result {
                    Ok(r) => {
                        let transcript = types::Transcript {
                            turn: job.turn,
                            text: r.text.clone(),
                            start: job.start,
                            end: job.end,
                            compute_ms: r.compute.as_secs_f32() * 1e3,
                        };
                        let event = match job.kind {
                            JobKind::Partial | JobKind::Speculative => CallEvent::PartialTranscript(transcript),
                            JobKind::Final => CallEvent::FinalTranscript(transcript),
                        };
                        job_sink.emit(&id, &tenant, &event);
                        if job.kind == JobKind::Final {
                            let latency = decided.elapsed().as_secs_f64() * 1e3;
                            job_sink.emit(&id, &tenant, &serde_json::json!({"event": "final_latency", "turn": job.turn.0, "ms": latency}));
                        }
                        if let Some(embedder) = embedder {
                            // Embedding here keeps the 10 ms model call off the control task.
                            let embedding = if r.text.trim().is_empty() { None } else { embedder.embed(&r.text).ok() };
                            let notice = MediaNotice::Transcript { call_id: id, turn: job.turn, kind: job.kind, text: r.text, embedding, speech_end };
                            let _ = job_notices.send(notice);
                        }
                    }
                    Err(e) => job_sink.emit(&id, &tenant, &serde_json::json!({"event": "recognition_error", "error": e.to_string()})),
                });
                let key = crate::serve::pool::TurnKey { call_id: c.call.call_id.clone(), turn: job.turn.0 };
                // A speculative decode may decide the turn: it queues with the finals.
                let is_final = job.kind != JobKind::Partial;
                if let Err(e) = c.call.pool.submit(key, is_final, audio, c.call.recognition_prompt.clone(), reply) {
                    sink.emit(&c.call.call_id, &c.call.tenant, &serde_json::json!({"event": "recognition_refused", "error": e.to_string()}));
                }
            }
        }
    }
}

/// One outbound frame: the prompt while it lasts, then silence; and RTCP when due.
fn send(c: &mut Running, now: Instant, notices: &tokio::sync::mpsc::UnboundedSender<MediaNotice>) {
    if !c.sending {
        // Nothing goes out, so nothing can echo back.
        c.out_pcm.fill(0.0);
        if let Some(t) = c.call.session.poll_rtcp(now, &mut c.packet) {
            let _ = c.call.socket.send_to(&c.packet[..t.len], t.destination);
        }
        return;
    }
    c.playback.fill(&mut c.out_pcm);
    playback_events(c, notices, false);
    let len = c.encoder.encode(&c.out_pcm, &mut c.out_payload).unwrap_or(0);
    let payload = (len > 0).then(|| &c.out_payload[..len]);
    if let Some(t) = c.call.session.send_audio(payload, now, &mut c.packet) {
        let _ = c.call.socket.send_to(&c.packet[..t.len], t.destination);
    }
    if let Some(t) = c.call.session.poll_rtcp(now, &mut c.packet) {
        let _ = c.call.socket.send_to(&c.packet[..t.len], t.destination);
    }
}

type Notices = tokio::sync::mpsc::UnboundedSender<MediaNotice>;

/// Passes the playback controller's events on to call control. `flushed_as_finished`: prompts
/// dropped for a codec change count as finished (the dialogue must not wait for them).
fn playback_events(c: &mut Running, notices: &Notices, flushed_as_finished: bool) {
    while let Some(e) = c.playback.poll_event() {
        let call_id = c.call.call_id.clone();
        let notice = match e {
            playback::PlaybackEvent::Finished(_) => MediaNotice::PromptFinished { call_id },
            playback::PlaybackEvent::Interrupted(_) | playback::PlaybackEvent::Dropped(_) if flushed_as_finished => {
                MediaNotice::PromptFinished { call_id }
            }
            playback::PlaybackEvent::Interrupted(interruption) => MediaNotice::PromptInterrupted { call_id, interruption },
            playback::PlaybackEvent::Mark { name, played } => MediaNotice::MarkReached { call_id, name, played },
            _ => continue,
        };
        let _ = notices.send(notice);
    }
}

fn stop(mut c: Running, sink: &Arc<EventSink>, notices: &tokio::sync::mpsc::UnboundedSender<MediaNotice>) {
    if let Some(t) = c.call.session.bye(Instant::now(), Some("call ended"), &mut c.packet) {
        let _ = c.call.socket.send_to(&c.packet[..t.len], t.destination);
    }
    let s = c.call.session.stats();
    sink.emit(
        &c.call.call_id,
        &c.call.tenant,
        &serde_json::json!({
            "event": "media_stats",
            "rtp_packets": s.rtp_packets,
            "malformed": s.malformed,
            "not_rtp": s.not_rtp,
            "srtp_auth_failures": s.srtp_auth_failures,
            "srtp_replays": s.srtp_replays,
            "late": s.jitter.late,
            "duplicates": s.jitter.duplicates,
            "concealed_lost": s.jitter.concealed_lost,
            "mos": s.last_quality.map(|q| q.quality.mos),
        }),
    );
    // A caller who hangs up mid-sentence still gets that turn transcribed.
    c.call.graph.finish(&mut c.outputs);
    dispatch(&mut c, sink, notices);
}
