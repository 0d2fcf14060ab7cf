//! `attendant simulate CALL.wav`: one whole call through the worker's stages in process, in
//! virtual time.
//!
//! The caller's answers come from the file ([`caller`]); prompts are rendered and "played" for
//! their real duration; the graph, whisper, the sentence embedder and the dialogue run exactly as
//! in `serve`. Time is virtual but compute is not: a recognition job issued at media time `t`
//! takes the wall time its decode (and embedding) really took, on one decoder that works through
//! jobs in order, so its result reaches the dialogue at `max(t, decoder free) + compute`. That is
//! the schedule a 2-core worker runs (the media tick on one core, whisper on the other), so the
//! decision latency reported (from the end of the caller's last word to the decision) includes
//! the end-of-turn wait and every model's real cost, without running the call at wall speed.

pub mod caller;
pub mod cli;
mod duplex;
mod report;

use std::collections::VecDeque;
use std::sync::Arc;
use std::time::{Duration, Instant};

use asr::Recognition;
use codec::WavFile;
use flow::{Dialogue, Input, Output};
use types::{AudioFrame, CallEvent, MediaTime, TurnId, FRAME_MS};

use crate::assistant::Assistant;
use crate::graph::{CallGraph, GraphConfig, GraphOutput, JobKind};
use crate::sync_call::Engines;
use caller::{Answer, CallerScript, Utterance};
pub use duplex::EchoPath;
pub use report::{print_line, SimEvent, SimReport};

/// How the simulated caller behaves.
#[derive(Debug, Clone)]
pub struct SimOptions {
    /// DTMF groups, typed one per prompt after the file's utterances are used up.
    pub dtmf: Vec<String>,
    /// Pause between the end of a prompt and the caller's answer. Default 400 ms.
    pub reaction: Duration,
    /// The call is cut here if the dialogue has not ended. Default 180 s.
    pub max_call: Duration,
    /// The caller's first utterance starts this long after the call is answered, over whatever
    /// is playing (a barge-in, a backchannel, a cough), instead of after the first question.
    /// Default none.
    pub interject_at: Option<Duration>,
    /// The caller's line carries the worker's own audio back. Default none.
    pub echo: Option<EchoPath>,
}

impl Default for SimOptions {
    fn default() -> Self {
        Self { dtmf: Vec::new(), reaction: Duration::from_millis(400), max_call: Duration::from_secs(180), interject_at: None, echo: None }
    }
}

/// A recognition result waiting for its virtual completion time.
struct Pending {
    ready_at: MediaTime,
    turn: TurnId,
    kind: JobKind,
    /// End of the caller's speech the job covers.
    speech_end: MediaTime,
    text: String,
    embedding: Option<nlu::Embedding>,
    compute: Duration,
}

/// Runs one call. The caller's answers are the utterances of `wav`, then `options.dtmf`.
pub fn simulate(
    wav: &WavFile,
    engines: &mut Engines,
    graph_config: &GraphConfig,
    assistant: &Assistant,
    call_id: &str,
    options: &SimOptions,
) -> anyhow::Result<SimReport> {
    let utterances = caller::utterances(wav)?;
    let mut sim = Sim::new(engines, graph_config, assistant, call_id, CallerScript::new(utterances, &options.dtmf), options);
    sim.run()?;
    Ok(sim.report)
}

struct Sim<'a> {
    engines: &'a mut Engines,
    assistant: &'a Assistant,
    options: &'a SimOptions,
    graph: CallGraph,
    outputs: Vec<GraphOutput>,
    dialogue: Dialogue,
    script: CallerScript,
    /// Wall-clock origin the virtual instants are built on (the dialogue takes `Instant`s).
    origin: Instant,
    now: MediaTime,
    /// Prompts sent, the echo, barge-in.
    duplex: duplex::Duplex,
    /// The next `Listen` follows a barge-in: the caller is already answering.
    listen_is_barge_in: bool,
    /// Whether the tenant's recognition prompt goes with decodes (off while the dialogue
    /// collects digits or a yes/no: `Assistant::vocabulary_for`).
    vocabulary: bool,
    /// `interject_at` has come: the first answer was started over the prompts.
    interjected: bool,
    answers_given: u32,
    /// The utterance being spoken and its next frame.
    speaking: Option<(Utterance, usize)>,
    /// When the caller starts its next answer (after a Listen and the prompts before it).
    answer_due: Option<MediaTime>,
    keys: VecDeque<(MediaTime, char)>,
    decoder_free: MediaTime,
    pending: VecDeque<Pending>,
    /// Turns a dialogue already took an answer from: their later results are not passed on.
    closed_turn: Option<TurnId>,
    speculative: Option<(TurnId, Recognition, Duration)>,
    /// End of the caller's most recent input (speech end or key press) the dialogue was given.
    last_input: Option<MediaTime>,
    decided: bool,
    report: SimReport,
}

impl<'a> Sim<'a> {
    fn new(
        engines: &'a mut Engines,
        graph_config: &GraphConfig,
        assistant: &'a Assistant,
        call_id: &str,
        script: CallerScript,
        options: &'a SimOptions,
    ) -> Self {
        let origin = Instant::now();
        // No wall clock: business hours are not checked, so the simulation does not depend on
        // the time of day it runs at.
        let call = flow::CallInfo::new(call_id, assistant.tenant.clone(), None);
        let dialogue = Dialogue::new(Arc::clone(&assistant.flow), Arc::clone(&assistant.router), call, origin);
        Self {
            engines,
            assistant,
            options,
            graph: CallGraph::new(graph_config),
            outputs: Vec::with_capacity(8),
            dialogue,
            script,
            origin,
            now: MediaTime::ZERO,
            duplex: duplex::Duplex::new(options.echo),
            listen_is_barge_in: false,
            vocabulary: true,
            interjected: false,
            answers_given: 0,
            speaking: None,
            answer_due: None,
            keys: VecDeque::new(),
            decoder_free: MediaTime::ZERO,
            pending: VecDeque::new(),
            closed_turn: None,
            speculative: None,
            last_input: None,
            decided: false,
            report: SimReport::default(),
        }
    }

    fn instant(&self, t: MediaTime) -> Instant {
        self.origin + Duration::from_millis(t.as_millis())
    }

    fn run(&mut self) -> anyhow::Result<()> {
        let frame_len = MediaTime::from_millis(u64::from(FRAME_MS));
        let limit = MediaTime::from_millis(self.options.max_call.as_millis() as u64);
        self.dialogue.handle_input(Input::Start, self.origin);
        self.drain_dialogue()?;
        let mut frame = AudioFrame::silence(MediaTime::ZERO);
        while self.now < limit {
            self.deliver_due()?;
            self.fire_timers()?;
            if self.dialogue.is_finished() && self.duplex.controller.is_idle() {
                break;
            }
            self.send_frame()?;
            self.caller_frame(&mut frame);
            self.clean_caller_frame(&mut frame);
            self.graph.push_frame(&frame);
            if let (Some(silero), Some(stream)) = (self.engines.silero.as_mut(), self.graph.silero_stream()) {
                silero.infer(&mut [stream])?;
            }
            self.graph.process(&mut self.outputs);
            self.now = self.now + frame_len;
            self.run_graph_outputs()?;
        }
        if !self.dialogue.is_finished() {
            self.report.push(self.now, SimEvent::CutOff);
        }
        Ok(())
    }

    /// The caller's next frame: the utterance being spoken, or silence.
    fn caller_frame(&mut self, frame: &mut AudioFrame) {
        *frame = AudioFrame::silence(self.now);
        if let Some((utterance, pos)) = &mut self.speaking {
            if let Some(f) = utterance.frames.get(*pos) {
                frame.samples = f.samples;
                *pos += 1;
            }
            if *pos >= utterance.frames.len() {
                self.speaking = None;
            }
        }
    }

    fn fire_timers(&mut self) -> anyhow::Result<()> {
        self.barge_timers()?;
        if let Some(at) = self.options.interject_at {
            let at = MediaTime::from_millis(at.as_millis() as u64);
            if at <= self.now && !self.interjected {
                self.interjected = true;
                self.answer_due = Some(self.now);
            }
        }
        let may_answer = self.duplex.controller.is_idle() || self.interjected && self.speaking.is_none() && self.answers_given == 0;
        if self.answer_due.is_some_and(|t| t <= self.now) && may_answer {
            self.answers_given += 1;
            self.answer_due = None;
            match self.script.next_answer() {
                Some(Answer::Speak(u)) => {
                    self.report.push(self.now, SimEvent::CallerSpeaks { file_start_ms: u.file_start.as_millis(), file_end_ms: u.file_end.as_millis() });
                    self.speaking = Some((u, 0));
                }
                Some(Answer::Keys(keys)) => {
                    let step = MediaTime::from_millis(caller::KEY_INTERVAL.as_millis() as u64);
                    let mut at = self.now;
                    for k in keys.chars() {
                        self.keys.push_back((at, k));
                        at = at + step;
                    }
                }
                None => {}
            }
        }
        while let Some(&(at, key)) = self.keys.front() {
            if at > self.now {
                break;
            }
            self.keys.pop_front();
            self.report.push(at, SimEvent::Dtmf { digit: key.to_string() });
            self.last_input = Some(at);
            self.dialogue.handle_input(Input::Dtmf(key), self.instant(at));
            self.drain_dialogue()?;
        }
        if let Some(t) = self.dialogue.poll_timeout() {
            if t <= self.instant(self.now) {
                self.dialogue.handle_timeout(self.instant(self.now));
                self.drain_dialogue()?;
            }
        }
        Ok(())
    }

    fn run_graph_outputs(&mut self) -> anyhow::Result<()> {
        let outputs: Vec<GraphOutput> = self.outputs.drain(..).collect();
        for output in outputs {
            match output {
                GraphOutput::Event(CallEvent::SpeechStarted { turn, at }) => {
                    self.report.push(at, SimEvent::SpeechStarted { turn: turn.0 });
                    self.barge_speech_started(turn, at)?;
                    self.dialogue.handle_input(Input::SpeechStarted, self.instant(self.now));
                    self.drain_dialogue()?;
                }
                GraphOutput::Event(CallEvent::SpeechEnded { turn, at, decided_at, .. }) => {
                    self.report.push(decided_at, SimEvent::SpeechEnded { turn: turn.0, speech_end_ms: at.as_millis() });
                    self.barge_speech_ended(turn, at);
                }
                GraphOutput::Event(_) => {}
                GraphOutput::Recognize(job) => {
                    if job.kind == JobKind::Speculative {
                        // The caller has been silent since `job.end` (the speculative delay):
                        // for barge-in, the speech that paused a prompt is over.
                        self.barge_speech_ended(job.turn, job.end);
                    }
                    self.recognize(job)?
                }
            }
        }
        Ok(())
    }

    /// Runs a job now and schedules its result at the virtual time one decoder would finish it.
    fn recognize(&mut self, job: crate::graph::AsrJob) -> anyhow::Result<()> {
        if self.closed_turn == Some(job.turn) {
            return Ok(()); // the dialogue already has this turn's answer
        }
        let reuse = match self.speculative.take() {
            Some((turn, r, compute)) if job.same_as_speculative && turn == job.turn => Some((r, compute)),
            _ => None,
        };
        let (recognition, mut compute) = match reuse {
            // Same audio as the speculative decode: its text is the final, ready at once.
            Some((r, _)) => (r, Duration::ZERO),
            None => {
                let started = Instant::now();
                let prompt = self.assistant.recognition_prompt.as_deref().filter(|_| self.vocabulary);
                let r = self.engines.recognize(&self.graph, prompt)?;
                (r, started.elapsed())
            }
        };
        if job.kind == JobKind::Speculative {
            self.speculative = Some((job.turn, recognition.clone(), compute));
        }
        let wanted = self.dialogue.wants_embedding() || self.barge_turn(job.turn);
        let embedding = if wanted && !recognition.text.trim().is_empty() {
            let started = Instant::now();
            let e = self.assistant.embedder.embed(&recognition.text)?;
            compute += started.elapsed();
            Some(e)
        } else {
            None
        };
        let issued = self.now.max(self.decoder_free);
        let ready_at = issued + MediaTime::from_millis(compute.as_millis() as u64);
        self.decoder_free = ready_at;
        self.pending.push_back(Pending {
            ready_at,
            turn: job.turn,
            kind: job.kind,
            speech_end: job.end,
            text: recognition.text,
            embedding,
            compute,
        });
        Ok(())
    }

    fn deliver_due(&mut self) -> anyhow::Result<()> {
        while self.pending.front().is_some_and(|p| p.ready_at <= self.now) {
            let Some(p) = self.pending.pop_front() else { break };
            if self.closed_turn == Some(p.turn) {
                continue;
            }
            let is_final = p.kind == JobKind::Final;
            self.report.push(
                p.ready_at,
                SimEvent::Transcript { turn: p.turn.0, kind: kind_name(p.kind), text: p.text.clone(), compute_ms: p.compute.as_secs_f64() * 1e3 },
            );
            self.barge_transcript(p.turn, &p.text, p.embedding.as_ref(), p.kind != JobKind::Partial)?;
            if p.text.trim().is_empty() {
                continue;
            }
            self.last_input = Some(p.speech_end);
            let at = self.instant(p.ready_at);
            let input = match p.kind {
                JobKind::Speculative => Input::SpeechPause { text: &p.text, embedding: p.embedding.as_ref() },
                _ => Input::Speech { text: &p.text, embedding: p.embedding.as_ref(), is_final },
            };
            self.dialogue.handle_input(input, at);
            if is_final {
                self.closed_turn = Some(p.turn);
            }
            self.drain_dialogue_at(p.ready_at, Some(p.turn))?;
        }
        Ok(())
    }

    fn drain_dialogue(&mut self) -> anyhow::Result<()> {
        self.drain_dialogue_at(self.now, None)
    }

    fn drain_dialogue_at(&mut self, at: MediaTime, turn: Option<TurnId>) -> anyhow::Result<()> {
        while let Some(output) = self.dialogue.poll_output() {
            match output {
                Output::Play(play) => {
                    let audio = self.assistant.render(&play.prompt, types::BUS_RATE)?;
                    self.duplex.queue(play.text, audio, play.interruptible);
                }
                Output::Listen(listen) => {
                    self.report.push(at, SimEvent::Listen { step: listen.step.clone() });
                    self.vocabulary = crate::assistant::Assistant::vocabulary_for(listen.expect);
                    if std::mem::take(&mut self.listen_is_barge_in) {
                        // The caller is already answering: the turn that barged in.
                        continue;
                    }
                    // The caller answers once the prompts before this point have played.
                    self.answer_due = Some(at + MediaTime::from_millis(self.options.reaction.as_millis() as u64));
                }
                Output::EndTurn => {
                    if let Some(t) = turn {
                        self.closed_turn = Some(t);
                        self.report.push(at, SimEvent::EndTurn { turn: t.0 });
                    }
                }
                Output::Event(event) => self.report.push(at, SimEvent::Flow(serde_json::to_value(&event)?)),
                Output::Decision(decision) => {
                    let latency = self.last_input.map(|l| at.saturating_sub(l).as_millis());
                    self.decided = true;
                    self.report.decision_latency_ms = latency;
                    let mut decision = *decision;
                    decision.timings.last_word_to_decision_ms = latency;
                    self.report.push(at, SimEvent::Decision { decision: Box::new(decision.clone()), last_input_to_decision_ms: latency });
                    self.report.decision = Some(decision);
                }
                Output::Hangup => self.report.push(at, SimEvent::Hangup),
                Output::StopPlayback => {
                    // Keyed ahead: what was queued is dropped, and no PromptFinished is due.
                    self.duplex.controller.flush();
                    self.duplex.barge.prompts_done();
                }
            }
        }
        Ok(())
    }
}

fn kind_name(kind: JobKind) -> &'static str {
    match kind {
        JobKind::Partial => "partial",
        JobKind::Speculative => "speculative",
        JobKind::Final => "final",
    }
}
