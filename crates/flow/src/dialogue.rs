//! One call's dialogue, sans-IO: inputs and timeouts come in with `now`, outputs are polled.
//!
//! Speech is taken between [`Output::Listen`] and the answer. Over a question's prompts the
//! worker's barge-in policy (the `playback` crate, with [`Dialogue::barge_in`]'s settings) decides
//! whether the caller took the floor; if so it flushes the prompts and sends [`Input::BargeIn`],
//! and the turn being spoken is the answer. DTMF during a prompt is taken as type-ahead: the
//! dialogue emits [`Output::StopPlayback`] and goes on at once.
//!
//! The decision goes out as soon as it is known (the target is 400 ms from the caller's last
//! word): [`Output::Decision`] comes before the prompts that go with it ("Please hold while I
//! transfer your call"), and [`Output::Hangup`] (carry out the transfer, or hang up) after they
//! have been played out.

use std::collections::{BTreeMap, VecDeque};
use std::sync::Arc;
use std::time::{Duration, Instant, SystemTime};

use nlu::DtmfCollector;
use routing::{Decision, DecisionReason, DecisionTarget, Router, Speaker, Timings, TranscriptLine};

use crate::config::PromptConfig;
use crate::model::{Then, MENU};
use crate::output::{ms, FlowEvent, Listen, Output};
use crate::prompt::render;
use crate::step::Question;
use crate::CompiledFlow;

/// Who is calling whom.
#[derive(Clone, Debug)]
pub struct CallInfo {
    /// The call's id in this worker (SIP Call-ID, stream id); also the router's call id.
    pub call_id: String,
    /// Tenant name, copied into the decision.
    pub tenant: String,
    /// Wall-clock time when the call started, for business hours. `None` skips the hours check
    /// (the tenant counts as open): for simulations and tests that must not depend on the time
    /// of day. A worker serving real calls passes `Some(SystemTime::now())`.
    pub wall_clock: Option<SystemTime>,
    /// The caller's number (E.164), put in a callback decision. Default none.
    pub caller_number: Option<String>,
}

impl CallInfo {
    pub fn new(call_id: impl Into<String>, tenant: impl Into<String>, wall_clock: Option<SystemTime>) -> Self {
        Self { call_id: call_id.into(), tenant: tenant.into(), wall_clock, caller_number: None }
    }
}

/// Something that happened on the call.
#[derive(Clone, Copy, Debug)]
pub enum Input<'a> {
    /// The call is answered: greet (or say closed).
    Start,
    /// The oldest `Play` not stopped has been played out (one per `Play`).
    PromptFinished,
    /// A transcript of the caller's current turn. `embedding` is of `text`, computed when
    /// [`Dialogue::wants_embedding`] said so (without it an intent step cannot classify: a
    /// final without one counts as not understood, a partial is skipped).
    Speech { text: &'a str, embedding: Option<&'a nlu::Embedding>, is_final: bool },
    /// A transcript of the caller's turn so far, taken while the caller pauses (a speculative
    /// decode, before the end-of-turn silence has elapsed). An answer the final would accept
    /// ends the turn on it; anything else waits for the final.
    SpeechPause { text: &'a str, embedding: Option<&'a nlu::Embedding> },
    /// The caller started speaking (the endpointer's turn start). While listening, the no-input
    /// timer then waits for the turn's transcript instead of firing mid-sentence.
    SpeechStarted,
    /// A keypad key: 0-9, *, #, A-D.
    Dtmf(char),
    /// The caller hung up: a decision `caller_hangup` goes out if none did, then nothing more.
    CallerHangup,
    /// Speech cannot be recognized in time any more (the worker's recognizer is overloaded):
    /// from now on only keys are taken. The question being asked is asked again after the
    /// flow's `keypad_prompt`, the menu as the list of its keys; retries and escalation then go
    /// on as for any question, so a caller who keys nothing reaches an agent.
    KeypadOnly,
    /// The caller's speech interrupted the question's prompts (the worker's barge-in policy
    /// decided, under [`Dialogue::barge_in`]); the worker has flushed them, so no
    /// `PromptFinished` comes for them. The dialogue listens at once: the turn the caller is
    /// speaking is the answer.
    BargeIn,
}

/// Longest turn (the endpointer's default cut) plus its recognition.
const SPEECH_GRACE: std::time::Duration = std::time::Duration::from_secs(17);

/// One call's dialogue.
#[derive(Debug)]
pub struct Dialogue {
    pub(crate) flow: Arc<CompiledFlow>,
    pub(crate) router: Arc<Router>,
    pub(crate) call: CallInfo,
    /// `now` at creation: transcript times and `call_ms` count from here.
    pub(crate) started: Instant,
    pub(crate) state: State,
    pub(crate) out: VecDeque<Output>,
    /// `Play`s not yet finished or stopped.
    pub(crate) playing: u32,
    /// Confirmed slot values.
    pub(crate) slots: BTreeMap<String, String>,
    pub(crate) transcript: Vec<TranscriptLine>,
    /// The menu's answer and its confidence.
    pub(crate) intent: Option<(String, f32)>,
    /// Reason a routing decision carries unless escalated: how the caller chose.
    pub(crate) reason: DecisionReason,
    pub(crate) decided: Option<DecisionTarget>,
    /// Speech is ignored ([`Input::KeypadOnly`]).
    pub(crate) keypad_only: bool,
}

#[derive(Debug)]
pub(crate) enum State {
    /// Before [`Input::Start`].
    Idle,
    Asking(Asking),
    /// A message step's prompts play; `then` follows.
    Message(Then),
    /// The decision is out; `Hangup` follows the last prompt.
    Ending,
    Done,
}

/// A question being asked.
#[derive(Debug)]
pub(crate) struct Asking {
    pub q: Question,
    /// `Listen` went out: answers are taken.
    pub listening: bool,
    /// No-input deadline while listening (none while keys are being collected).
    pub deadline: Option<Instant>,
    pub collector: Option<DtmfCollector>,
    pub no_input: u32,
    pub no_match: u32,
}

impl Dialogue {
    pub fn new(flow: Arc<CompiledFlow>, router: Arc<Router>, call: CallInfo, now: Instant) -> Self {
        Dialogue {
            flow,
            router,
            call,
            started: now,
            state: State::Idle,
            out: VecDeque::new(),
            playing: 0,
            slots: BTreeMap::new(),
            transcript: Vec::new(),
            intent: None,
            reason: DecisionReason::Intent,
            decided: None,
            keypad_only: false,
        }
    }

    pub fn handle_input(&mut self, input: Input<'_>, now: Instant) {
        match input {
            Input::Start => {
                if matches!(self.state, State::Idle) {
                    self.start(now);
                }
            }
            Input::PromptFinished => {
                self.playing = self.playing.saturating_sub(1);
                if self.playing == 0 {
                    self.prompts_done(now);
                }
            }
            Input::Speech { text, embedding, is_final } => {
                if let Some(a) = self.take_listening() {
                    self.speech(a, text, embedding, is_final, now);
                }
            }
            Input::Dtmf(key) => {
                if let State::Asking(_) = self.state {
                    if let State::Asking(a) = std::mem::replace(&mut self.state, State::Done) {
                        self.dtmf(a, key.to_ascii_uppercase(), now);
                    }
                }
            }
            Input::CallerHangup => self.caller_hangup(now),
            Input::KeypadOnly => self.keypad_only(now),
            // Keypad only: speech neither holds the no-input timer nor interrupts.
            Input::SpeechStarted | Input::BargeIn if self.keypad_only => {}
            Input::BargeIn => {
                // Only a question's prompts are interrupted; anything else is left as it is.
                match std::mem::replace(&mut self.state, State::Done) {
                    State::Asking(mut a) if !a.listening => {
                        self.playing = 0;
                        self.listen(&mut a, now);
                        // The caller is mid-turn: wait for its transcript as after SpeechStarted.
                        if a.deadline.is_some() {
                            a.deadline = Some(now + self.spec(&a.q).no_input_timeout + SPEECH_GRACE);
                        }
                        self.state = State::Asking(a);
                    }
                    other => self.state = other,
                }
            }
            Input::SpeechPause { text, embedding } => {
                if let Some(a) = self.take_listening() {
                    let text = text.trim();
                    let speech = self.spec(&a.q).speech;
                    let keying = a.collector.as_ref().is_some_and(|c| !c.digits().is_empty());
                    if text.is_empty() || !speech || keying {
                        self.state = State::Asking(a);
                    } else {
                        self.partial(a, text, embedding, true, now);
                    }
                }
            }
            Input::SpeechStarted => {
                if let Some(mut a) = self.take_listening() {
                    if a.deadline.is_some() {
                        // Room for the longest turn and its recognition; the transcript, once
                        // it comes, answers or reprompts. Bounded, so an empty result cannot
                        // leave the call waiting for ever.
                        let spec = self.spec(&a.q);
                        a.deadline = Some(now + spec.no_input_timeout + SPEECH_GRACE);
                    }
                    self.state = State::Asking(a);
                }
            }
        }
    }

    pub fn handle_timeout(&mut self, now: Instant) {
        let Some(mut a) = self.take_listening() else { return };
        if let Some(c) = a.collector.as_mut() {
            match c.poll_timeout(now) {
                Some(collected) => self.collected(a, collected, now),
                None => self.state = State::Asking(a),
            }
        } else if a.deadline.is_some_and(|d| d <= now) {
            self.no_input(a, now);
        } else {
            self.state = State::Asking(a);
        }
    }

    pub fn poll_output(&mut self) -> Option<Output> {
        self.out.pop_front()
    }

    /// When to call [`handle_timeout`](Self::handle_timeout): a no-input or inter-digit timer.
    pub fn poll_timeout(&self) -> Option<Instant> {
        match &self.state {
            State::Asking(a) if a.listening => match &a.collector {
                Some(c) => c.next_timeout(),
                None => a.deadline,
            },
            _ => None,
        }
    }

    /// Whether speech now is classified into intents: the worker computes embeddings of
    /// transcripts only then (finals, and partials for the early end).
    pub fn wants_embedding(&self) -> bool {
        !self.keypad_only && matches!(&self.state, State::Asking(a) if a.listening && a.collector.is_none() && a.q == Question::Node(MENU))
    }

    /// The barge-in settings for the prompts playing now, if the caller's speech may interrupt
    /// them: only a question's prompts (not a transfer announcement or a goodbye), and only
    /// before the dialogue listens. Whether a given prompt is interruptible is its own
    /// [`crate::PlayPrompt::interruptible`].
    pub fn barge_in(&self) -> Option<playback::BargeInConfig> {
        match &self.state {
            State::Asking(a) if !a.listening && self.playing > 0 && !self.keypad_only => {
                let b = self.spec(&a.q).barge_in;
                b.enabled.then_some(b)
            }
            _ => None,
        }
    }

    /// Nothing more will come out: `Hangup` was emitted or the caller hung up.
    pub fn is_finished(&self) -> bool {
        matches!(self.state, State::Done)
    }

    /// The Asking state, taken out, if the dialogue is listening.
    fn take_listening(&mut self) -> Option<Asking> {
        match std::mem::replace(&mut self.state, State::Done) {
            State::Asking(a) if a.listening => Some(a),
            other => {
                self.state = other;
                None
            }
        }
    }

    fn start(&mut self, now: Instant) {
        let flow = Arc::clone(&self.flow);
        let model = &flow.model;
        if let (Some(hours), Some(at)) = (&model.hours, self.call.wall_clock) {
            if !hours.schedule.is_open(at) {
                self.event(FlowEvent::Closed);
                self.reason = DecisionReason::Closed;
                let closed = vec![hours.closed_prompt.clone()];
                if matches!(hours.closed.action, crate::model::Action::HangUp) && hours.closed.say.is_none() {
                    // The closed prompt is the goodbye.
                    self.decide(DecisionTarget::hangup(), routing::Priority::Normal, closed, now);
                } else {
                    self.follow(&hours.closed, closed, now);
                }
                return;
            }
        }
        let greeting = model.greeting.iter().cloned().collect();
        self.enter(MENU, greeting, now);
    }

    fn prompts_done(&mut self, now: Instant) {
        match std::mem::replace(&mut self.state, State::Done) {
            State::Asking(mut a) if !a.listening => {
                self.listen(&mut a, now);
                self.state = State::Asking(a);
            }
            State::Message(then) => self.follow(&then, Vec::new(), now),
            State::Ending => self.out.push_back(Output::Hangup),
            other => self.state = other,
        }
    }

    /// Starts listening for the answer to `a`.
    pub(crate) fn listen(&mut self, a: &mut Asking, now: Instant) {
        let spec = self.spec(&a.q);
        a.listening = true;
        a.deadline = Some(now + spec.no_input_timeout);
        self.out.push_back(Output::Listen(Listen {
            step: spec.name,
            expect: spec.expect,
            speech: spec.speech,
            dtmf: spec.collect,
            no_input_timeout: spec.no_input_timeout,
            early_end: self.flow.model.early_end.is_some() && spec.speech,
        }));
    }

    fn keypad_only(&mut self, now: Instant) {
        if self.keypad_only {
            return;
        }
        self.keypad_only = true;
        match std::mem::replace(&mut self.state, State::Done) {
            // Keys already being entered go on; the prompt would only interrupt them.
            State::Asking(a) if a.collector.as_ref().is_some_and(|c| !c.digits().is_empty()) => {
                self.event(FlowEvent::KeypadOnly { step: Some(self.spec(&a.q).name) });
                self.state = State::Asking(a);
            }
            State::Asking(a) => {
                self.event(FlowEvent::KeypadOnly { step: Some(self.spec(&a.q).name) });
                self.stop_playback();
                let lead = self.flow.model.keypad_prompt.clone();
                self.reask(a, Some(lead), now);
            }
            other => {
                self.event(FlowEvent::KeypadOnly { step: None });
                self.state = other;
            }
        }
    }

    /// Whether speech is ignored (the call went keypad-only).
    pub fn is_keypad_only(&self) -> bool {
        self.keypad_only
    }

    /// DTMF during a prompt: drop the rest of the audio.
    pub(crate) fn stop_playback(&mut self) {
        if self.playing > 0 {
            self.playing = 0;
            self.out.push_back(Output::StopPlayback);
        }
    }

    pub(crate) fn event(&mut self, e: FlowEvent) {
        self.out.push_back(Output::Event(e));
    }

    pub(crate) fn since_start(&self, now: Instant) -> u64 {
        ms(now.saturating_duration_since(self.started))
    }

    pub(crate) fn caller_line(&mut self, text: impl Into<String>, now: Instant) {
        let at_ms = self.since_start(now);
        self.transcript.push(TranscriptLine { speaker: Speaker::Caller, text: text.into(), at_ms });
    }

    /// Renders prompts (slots filled in, plus `extra` values) and records them in the
    /// transcript; they are emitted by [`emit_plays`](Self::emit_plays).
    pub(crate) fn render_all(&mut self, prompts: &[PromptConfig], extra: &[(String, String)], now: Instant) -> Vec<crate::PlayPrompt> {
        let mut values = self.slots.clone();
        for (k, v) in extra {
            values.insert(k.clone(), v.clone());
        }
        let at_ms = self.since_start(now);
        prompts
            .iter()
            .map(|p| {
                let r = render(p, &values);
                self.transcript.push(TranscriptLine { speaker: Speaker::Attendant, text: r.text.clone(), at_ms });
                r
            })
            .collect()
    }

    pub(crate) fn emit_plays(&mut self, plays: Vec<crate::PlayPrompt>) {
        for p in plays {
            self.playing += 1;
            self.out.push_back(Output::Play(p));
        }
    }

    pub(crate) fn play(&mut self, prompts: &[PromptConfig], extra: &[(String, String)], now: Instant) {
        let plays = self.render_all(prompts, extra, now);
        self.emit_plays(plays);
    }

    /// Emits the call's one decision, then `prompts`; `Hangup` follows them.
    pub(crate) fn decide(&mut self, target: DecisionTarget, priority: routing::Priority, prompts: Vec<PromptConfig>, now: Instant) {
        if self.decided.is_some() {
            // One decision per call; the flow never decides twice, but stay consistent.
            self.state = if self.playing == 0 { State::Done } else { State::Ending };
            return;
        }
        let plays = self.render_all(&prompts, &[], now);
        let d = self.decision(self.reason, target, priority, now);
        self.decided = Some(d.target.clone());
        self.out.push_back(Output::Decision(Box::new(d)));
        self.emit_plays(plays);
        if self.playing == 0 {
            self.out.push_back(Output::Hangup);
            self.state = State::Done;
        } else {
            self.state = State::Ending;
        }
    }

    pub(crate) fn decision(&self, reason: DecisionReason, target: DecisionTarget, priority: routing::Priority, now: Instant) -> Decision {
        let mut d = Decision::new(self.call.call_id.clone(), self.call.tenant.clone(), reason, target)
            .with_priority(priority)
            .with_transcript(self.transcript.clone())
            .with_timings(Timings {
                call_ms: self.since_start(now),
                // The worker knows when the caller's last word ended (media time); it fills
                // this in.
                last_word_to_decision_ms: None,
                classify_us: None,
            });
        if let Some((intent, confidence)) = &self.intent {
            d = d.with_intent(intent.clone(), *confidence);
        }
        d.slots = self.slots.clone();
        d
    }

    fn caller_hangup(&mut self, now: Instant) {
        if matches!(self.state, State::Done) && self.decided.is_some() {
            return;
        }
        match &self.decided {
            None => {
                let d = self.decision(DecisionReason::CallerHangup, DecisionTarget::hangup(), routing::Priority::Normal, now);
                self.decided = Some(d.target.clone());
                self.out.push_back(Output::Decision(Box::new(d)));
            }
            // Hung up during the transfer prompt: the transfer will not happen, so the call
            // must not stay counted as waiting in its queue.
            Some(t) if t.kind == routing::TargetKind::Queue => {
                self.router.call_ended(&self.call.call_id, now);
            }
            Some(_) => {}
        }
        self.playing = 0;
        self.state = State::Done;
    }

    /// For the no-input timer of a question that does not use the step's own.
    pub(crate) fn default_timeout(&self) -> Duration {
        self.flow.model.defaults.no_input_timeout
    }
}
