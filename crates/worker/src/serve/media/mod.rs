//! The media engine: one thread that owns every call's media and runs it on a 20 ms tick.
//!
//! Each tick, for every call: take one frame of the caller's audio from its link (an RTP call
//! drains its socket into its sans-IO `rtp::Session` and plays out audio, concealment or comfort
//! noise, [`rtp_wire`]; a stream call takes the next PCM frame its connection queued,
//! [`stream_wire`]), cancel the prompt's echo, resample onto the 16 kHz bus, and push it into
//! the call's graph. Then one batched Silero inference over every
//! call that has a chunk due, the endpointers, the recognition jobs (to the pool), and one
//! outbound 20 ms packet per call (prompt or silence), plus RTCP when due.
//!
//! Owning all calls on one thread is what makes the VAD batch possible, and it keeps media
//! code free of locks and async. Sockets are non-blocking and drained per tick, so a packet's
//! arrival time is known to one tick (20 ms): coarse for the jitter estimate, but the jitter
//! buffer's playout delay is bounded below by a frame anyway.

mod load;
mod rtp_wire;
mod stream_wire;

use std::net::UdpSocket;
use std::sync::mpsc::{Receiver, TryRecvError};
use std::sync::Arc;
use std::time::{Duration, Instant};

use codec::PayloadCodec;
use dsp::Resampler;
use rtp::Session;
use types::{AudioFrame, CallEvent, MediaTime, BUS_RATE, FRAME_MS};
use vad::SileroModel;

use crate::graph::{CallGraph, GraphOutput};
use crate::serve::events::EventSink;
use crate::serve::pool::RecognitionPool;
use crate::serve::stream::{StreamIn, StreamOut};
use rtp_wire::RtpWire;
use stream_wire::StreamWire;

/// Tick of the engine: one frame.
const TICK: Duration = Duration::from_millis(FRAME_MS as u64);
/// Largest datagram read (RTP over UDP stays well under the path MTU; anything larger is junk).
const MAX_DATAGRAM: usize = 2048;

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
    /// Recognition cannot keep up for this call (assistant calls only): a job was refused by
    /// the full queue, or a final came later than the call's `keypad_after`. Call control moves
    /// the call to the keypad and sends `MediaCommand::StopRecognition`.
    /// `turn`: the turn whose result was late (the switch waits until that turn is answered,
    /// so its result is still used); none: at once (its job was refused, no result will come).
    RecognitionBehind { call_id: String, turn: Option<types::TurnId>, reason: String },
}

/// Everything the engine needs to run one call's media: where it comes from, and the call.
pub struct MediaCall {
    pub link: Link,
    pub call: CallMedia,
}

/// Where a call's audio comes from and goes to.
pub enum Link {
    /// RTP/SRTP on the call's own UDP socket, in the negotiated codec.
    Rtp { socket: UdpSocket, session: Session, codec: PayloadCodec },
    /// PCM frames from and to a connection's task (WebSocket media streams, WebRTC).
    Stream(StreamLink),
}

/// The engine's ends of a stream call (see [`crate::serve::stream`]).
pub struct StreamLink {
    pub rate: types::SampleRate,
    pub inbound: Receiver<StreamIn>,
    pub outbound: tokio::sync::mpsc::Sender<StreamOut>,
    /// How marks are confirmed: by the peer (Twilio) or by samples sent.
    pub marks: playback::MarkPolicy,
    /// Send a frame every tick, silence included (WebRTC keeps its RTP clock running); the
    /// WebSocket peers get audio only while a prompt plays.
    pub continuous: bool,
}

/// The call itself, whatever its link.
pub struct CallMedia {
    pub call_id: String,
    pub tenant: String,
    pub graph: CallGraph,
    /// Prompts at the link's sample rate, played in order from the start of the call (not
    /// interruptible; an assistant's prompts come by `MediaCommand::Play`).
    pub prompts: std::collections::VecDeque<Arc<[f32]>>,
    pub recognition_prompt: Option<String>,
    /// Set for calls with an assistant: results go to call control with their embedding.
    pub embedder: Option<Arc<nlu::Embedder>>,
    /// Decoders of the whisper model this call's tenant uses.
    pub pool: Arc<RecognitionPool>,
    /// A final later than this after the end of its turn means recognition has fallen behind
    /// (`RecognitionBehind`); none: never (calls without an assistant are only transcribed).
    pub keypad_after: Option<Duration>,
}

impl std::fmt::Debug for MediaCall {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("MediaCall").field("call", &self.call).field("link", &self.link).finish()
    }
}

impl std::fmt::Debug for Link {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            Link::Rtp { codec, .. } => write!(f, "rtp {codec:?}"),
            Link::Stream(s) => s.fmt(f),
        }
    }
}

impl std::fmt::Debug for StreamLink {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("StreamLink").field("rate", &self.rate).field("marks", &self.marks).field("continuous", &self.continuous).finish()
    }
}

impl std::fmt::Debug for CallMedia {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("CallMedia").field("call_id", &self.call_id).field("tenant", &self.tenant).finish()
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
    /// No more recognition jobs for the call (it went keypad-only): its turns are still
    /// detected, nothing is decoded.
    StopRecognition { call_id: String },
    /// Whether the call's `recognition_prompt` goes with its next decodes: the dialogue turns
    /// it off while it collects digits or a yes/no (`Assistant::vocabulary_for`).
    Vocabulary { call_id: String, on: bool },
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
    call: CallMedia,
    wire: Wire,
    resampler: Resampler,
    /// The caller's samples at the link rate, one frame.
    pcm: Vec<f32>,
    /// Outbound samples at the link rate, one frame.
    out_pcm: Vec<f32>,
    frame: AudioFrame,
    media_time: MediaTime,
    started: bool,
    /// False while the caller holds the call (sendonly/inactive offer): we send nothing.
    sending: bool,
    /// Prompts queued and playing (the reference for the echo canceller is `out_pcm`, what
    /// the last tick sent).
    playback: playback::PlaybackController,
    echo: playback::EchoCanceller,
    /// The caller's frame with the echo removed, at the link rate.
    residual: Vec<f32>,
    outputs: Vec<GraphOutput>,
    /// `StopRecognition` came: turns are no longer decoded.
    recognition_off: bool,
    /// `Vocabulary { on: false }` came: decodes go without the call's recognition prompt.
    vocabulary_off: bool,
    /// `RecognitionBehind` was sent (once per call).
    behind_reported: bool,
}

enum Wire {
    Rtp(Box<RtpWire>),
    Stream(StreamWire),
}

type Notices = tokio::sync::mpsc::UnboundedSender<MediaNotice>;

/// Runs the engine until `commands` is closed.
pub fn run(commands: Receiver<MediaCommand>, notices: Notices, mut silero: Option<SileroModel>, sink: Arc<EventSink>) {
    let mut calls: Vec<Running> = Vec::new();
    let mut datagram = vec![0u8; MAX_DATAGRAM];
    // Callers mid-turn per recognition pool, counted each tick (kept to reuse its capacity).
    let mut turns: Vec<(Arc<RecognitionPool>, usize)> = Vec::new();
    let mut next_tick = Instant::now();
    let mut load = load::LoadStats::new(next_tick);
    loop {
        loop {
            match commands.try_recv() {
                Ok(MediaCommand::Add(call)) => {
                    let (call_id, tenant) = (call.call.call_id.clone(), call.call.tenant.clone());
                    match start(*call) {
                        Ok(running) => calls.push(running),
                        Err(e) => sink.emit(&call_id, &tenant, &serde_json::json!({"event": "media_error", "error": e})),
                    }
                }
                Ok(MediaCommand::Remove { call_id }) => {
                    if let Some(i) = calls.iter().position(|c| c.call.call_id == call_id) {
                        stop(calls.swap_remove(i), &sink, &notices);
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
                Ok(command) => {
                    if let Some(c) = calls.iter_mut().find(|c| c.call.call_id == command.call_id()) {
                        apply(c, command, &notices);
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
        }
        if let Some(model) = silero.as_mut() {
            let mut streams: Vec<&mut vad::SileroStream> =
                calls.iter_mut().filter(|c| c.started).filter_map(|c| c.call.graph.silero_stream()).collect();
            if !streams.is_empty() {
                let vad_start = Instant::now();
                if let Err(e) = model.infer(&mut streams) {
                    eprintln!("warning: VAD inference failed this tick: {e}");
                }
                sink.telemetry().vad.observe_duration(vad_start.elapsed());
            }
        }
        for c in &mut calls {
            if c.started {
                c.call.graph.process(&mut c.outputs);
                dispatch(c, &sink, &notices);
            }
            send(c, now, &notices);
        }
        count_turns(&calls, &mut turns);
        let done = Instant::now();
        load.tick(next_tick, now, done, calls.len(), TICK);
        if !calls.is_empty() {
            sink.telemetry().tick.observe_duration(done.saturating_duration_since(now));
        }
        let streams = calls.iter().filter(|c| matches!(c.wire, Wire::Stream(_))).count();
        load.report_if_due(done, calls.len(), streams, &sink);
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

impl MediaCommand {
    fn call_id(&self) -> &str {
        match self {
            Self::Add(call) => &call.call.call_id,
            Self::Remove { call_id }
            | Self::SendDtmf { call_id, .. }
            | Self::Play { call_id, .. }
            | Self::PlayStreaming { call_id, .. }
            | Self::Append { call_id, .. }
            | Self::Complete { call_id, .. }
            | Self::StopPlayback { call_id }
            | Self::StopRecognition { call_id }
            | Self::Vocabulary { call_id, .. }
            | Self::Mark { call_id, .. }
            | Self::Pause { call_id }
            | Self::Resume { call_id }
            | Self::Update { call_id, .. } => call_id,
        }
    }
}

/// The playback and DTMF commands, on the call they name.
fn apply(c: &mut Running, command: MediaCommand, notices: &Notices) {
    match command {
        MediaCommand::SendDtmf { digit, .. } => match &mut c.wire {
            Wire::Rtp(w) => w.send_dtmf(digit),
            // The stream protocols carry no DTMF towards the peer.
            Wire::Stream(_) => {}
        },
        MediaCommand::Play { prompt, audio, .. } => {
            let id = prompt.id;
            c.playback.play(prompt, audio);
            mark_prompt_end(c, id);
        }
        MediaCommand::PlayStreaming { prompt, .. } => {
            let id = prompt.id;
            c.playback.play_streaming(prompt);
            mark_prompt_end(c, id);
        }
        MediaCommand::Append { id, audio, text_end, .. } => {
            // Refused when the prompt was flushed meanwhile: the piece is dropped.
            c.playback.append(id, audio, text_end);
        }
        MediaCommand::Complete { id, .. } => {
            c.playback.complete(id);
        }
        MediaCommand::StopRecognition { .. } => c.recognition_off = true,
        MediaCommand::Vocabulary { on, .. } => c.vocabulary_off = !on,
        MediaCommand::StopPlayback { .. } => {
            c.playback.flush();
            if let Wire::Stream(w) = &mut c.wire {
                // The peer may have queued what was sent: it drops it too.
                w.push(StreamOut::Clear);
            }
            playback_events(c, notices, false);
        }
        MediaCommand::Mark { name, .. } => c.playback.mark(name),
        MediaCommand::Pause { .. } => c.playback.pause(),
        MediaCommand::Resume { .. } => c.playback.resume(),
        MediaCommand::Add(_) | MediaCommand::Remove { .. } | MediaCommand::Update { .. } => {}
    }
}

/// On a link whose peer confirms marks (Twilio), each prompt is followed by a mark named after
/// it, so the events say when the caller has heard it, not only when it was sent.
fn mark_prompt_end(c: &mut Running, id: playback::PromptId) {
    if matches!(&c.wire, Wire::Stream(w) if w.marks() == playback::MarkPolicy::Transport) {
        c.playback.mark(format!("prompt-{}", id.0));
    }
}

fn start(call: MediaCall) -> Result<Running, String> {
    let MediaCall { link, call } = call;
    let (wire, rate, marks) = match link {
        Link::Rtp { socket, session, codec } => {
            let rate = codec.sample_rate();
            (Wire::Rtp(Box::new(RtpWire::new(socket, session, codec)?)), rate, playback::MarkPolicy::CountSamples)
        }
        Link::Stream(link) => {
            let wire = StreamWire::new(link);
            let (rate, marks) = (wire.rate(), wire.marks());
            (Wire::Stream(wire), rate, marks)
        }
    };
    let resampler = Resampler::new(rate, BUS_RATE).map_err(|e| e.to_string())?;
    let n = frame_samples(rate);
    let mut playback = playback::PlaybackController::new(rate, marks);
    for (i, audio) in call.prompts.iter().enumerate() {
        let prompt = playback::Prompt { id: playback::PromptId(u64::MAX - i as u64), text: String::new(), interruptible: false };
        playback.play(prompt, Arc::clone(audio));
    }
    Ok(Running {
        playback,
        echo: playback::EchoCanceller::new(rate, playback::EchoConfig::default()),
        residual: vec![0.0; n],
        wire,
        resampler,
        pcm: vec![0.0; n],
        out_pcm: vec![0.0; n],
        frame: AudioFrame::silence(MediaTime::ZERO),
        media_time: MediaTime::ZERO,
        started: false,
        sending: true,
        outputs: Vec::with_capacity(8),
        recognition_off: false,
        vocabulary_off: false,
        behind_reported: false,
        call,
    })
}

/// Samples in one 20 ms frame at `rate`.
fn frame_samples(rate: types::SampleRate) -> usize {
    rate.hz() as usize * FRAME_MS as usize / 1000
}

/// Moves a running RTP call to another codec: new session, decoder, encoder and resampler; the
/// socket, the graph (and so the turn in progress) and the prompt position carry on.
fn switch_codec(c: &mut Running, codec: PayloadCodec, session: Session, notices: &Notices) -> Result<(), String> {
    let Wire::Rtp(w) = &mut c.wire else { return Err("not an RTP call".into()) };
    let resampler = Resampler::new(codec.sample_rate(), BUS_RATE).map_err(|e| e.to_string())?;
    let old_rate = w.codec.sample_rate();
    w.switch(codec, session)?;
    if old_rate != codec.sample_rate() {
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
    c.resampler = resampler;
    Ok(())
}

/// The caller's next frame, through the echo canceller, onto the 16 kHz bus and into the graph
/// (nothing before the first packet or frame arrives).
fn receive(c: &mut Running, buf: &mut [u8], now: Instant, notices: &Notices, sink: &EventSink) {
    let media_ms = c.media_time.as_millis();
    let got = match &mut c.wire {
        Wire::Rtp(w) => {
            w.receive(buf, now, &c.call, media_ms, notices, sink);
            w.playout(now, &mut c.pcm)
        }
        Wire::Stream(w) => w.receive(&mut c.pcm, &mut c.playback, &c.call, media_ms, notices, sink),
    };
    if !got {
        return;
    }
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
            GraphOutput::Recognize(_) if c.recognition_off => {}
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
                let keypad_after = c.call.keypad_after.filter(|_| c.call.embedder.is_some());
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
                            let latency = decided.elapsed();
                            job_sink.emit(&id, &tenant, &serde_json::json!({"event": "final_latency", "turn": job.turn.0, "ms": latency.as_secs_f64() * 1e3}));
                        }
                        if let Some(embedder) = embedder {
                            // Embedding here keeps the 10 ms model call off the control task.
                            let embedding = if r.text.trim().is_empty() {
                                None
                            } else {
                                let started = Instant::now();
                                let embedding = embedder.embed(&r.text).ok();
                                job_sink.telemetry().intent.observe_duration(started.elapsed());
                                embedding
                            };
                            let notice = MediaNotice::Transcript { call_id: id.clone(), turn: job.turn, kind: job.kind, text: r.text, embedding, speech_end };
                            let _ = job_notices.send(notice);
                            // After the result (which the dialogue may still use): the results
                            // that decide turns came too late, so the call leaves the recognizer.
                            let waited = decided.elapsed();
                            if job.kind != JobKind::Partial && keypad_after.is_some_and(|limit| waited > limit) {
                                let reason = format!("{:?} result {} ms after the end of the turn", job.kind, waited.as_millis());
                                let _ = job_notices.send(MediaNotice::RecognitionBehind { call_id: id, turn: Some(job.turn), reason });
                            }
                        }
                    }
                    // A partial given up for a final: nothing was lost but progress.
                    Err(asr::AsrError::Aborted) => {}
                    Err(e) => job_sink.emit(&id, &tenant, &serde_json::json!({"event": "recognition_error", "error": e.to_string()})),
                });
                let key = crate::serve::pool::TurnKey { call_id: c.call.call_id.clone(), turn: job.turn.0 };
                // A speculative decode may decide the turn: it queues with the finals.
                let is_final = job.kind != JobKind::Partial;
                match c.call.pool.submit(key, is_final, audio, c.call.recognition_prompt.clone().filter(|_| !c.vocabulary_off), reply) {
                    // A partial waits for spare capacity (the pool counts the skip).
                    Ok(()) | Err(crate::serve::pool::SubmitError::Busy) => {}
                    Err(e) => {
                    sink.emit(&c.call.call_id, &c.call.tenant, &serde_json::json!({"event": "recognition_refused", "error": e.to_string()}));
                    // A turn that is never decoded would leave the caller unanswered.
                    if is_final && c.call.keypad_after.is_some() && c.call.embedder.is_some() && !c.behind_reported {
                        c.behind_reported = true;
                        let _ = notices.send(MediaNotice::RecognitionBehind { call_id: c.call.call_id.clone(), turn: None, reason: e.to_string() });
                    }
                    }
                }
            }
        }
    }
}

/// Tells each recognition pool how many of its callers are mid-turn, so a decode that starts
/// while others are speaking leaves them a core (see `pool::Queues::threads_for_next`).
fn count_turns(calls: &[Running], turns: &mut Vec<(Arc<RecognitionPool>, usize)>) {
    turns.iter_mut().for_each(|t| t.1 = 0);
    for c in calls {
        let n = usize::from(c.started && c.call.graph.in_turn());
        match turns.iter_mut().find(|(p, _)| Arc::ptr_eq(p, &c.call.pool)) {
            Some(t) => t.1 += n,
            None => turns.push((Arc::clone(&c.call.pool), n)),
        }
    }
    for (pool, n) in turns.iter() {
        pool.set_turns_in_progress(*n);
    }
    // A pool no call uses any more is forgotten once it has been told it has none.
    turns.retain(|t| t.1 > 0 || calls.iter().any(|c| Arc::ptr_eq(&t.0, &c.call.pool)));
}

/// One outbound frame: the prompt while it lasts, then silence; and RTCP when due.
fn send(c: &mut Running, now: Instant, notices: &Notices) {
    if !c.sending {
        // Nothing goes out, so nothing can echo back.
        c.out_pcm.fill(0.0);
        if let Wire::Rtp(w) = &mut c.wire {
            w.send(None, now);
        }
        return;
    }
    let from_prompt = c.playback.fill(&mut c.out_pcm);
    match &mut c.wire {
        Wire::Rtp(w) => w.send(Some(&c.out_pcm), now),
        Wire::Stream(w) => w.send(&c.out_pcm, from_prompt > 0),
    }
    // After the audio: a mark reached this tick goes to the peer behind the samples before it.
    playback_events(c, notices, false);
}

/// Passes the playback controller's events on to call control (and marks to a stream's peer).
/// `flushed_as_finished`: prompts dropped for a codec change count as finished (the dialogue
/// must not wait for them).
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
            playback::PlaybackEvent::SendMark(name) => {
                if let Wire::Stream(w) = &mut c.wire {
                    w.push(StreamOut::Mark(name));
                }
                continue;
            }
            _ => continue,
        };
        let _ = notices.send(notice);
    }
}

fn stop(mut c: Running, sink: &Arc<EventSink>, notices: &Notices) {
    match &mut c.wire {
        Wire::Rtp(w) => w.stop(&c.call, sink),
        Wire::Stream(w) => w.stop(&c.call, sink),
    }
    // A caller who hangs up mid-sentence still gets that turn transcribed.
    c.call.graph.finish(&mut c.outputs);
    dispatch(&mut c, sink, notices);
}
