//! The assistant on live calls: each call of a tenant with an assistant has a [`flow::Dialogue`]
//! driven from here, on the control task.
//!
//! Inputs come from the media engine (prompt finished, DTMF) and the recognition pool
//! (transcripts with their embedding, computed on the pool thread). Outputs go to the media
//! engine (prompts, flush), the event sink, the webhook, and the SIP core (REFER or BYE at the
//! end). A final whose audio is the same as the turn's speculative decode is not decoded again:
//! the speculative result is promoted, which is most of why the decision can leave within
//! 400 ms of the caller's last word.

use std::sync::Arc;
use std::time::{Instant, SystemTime};

use flow::{Dialogue, Input, Output};
use serde_json::json;
use sip::refer::ReferOptions;
use sip::uri::Uri;
use sip::Header;
use types::TurnId;

use super::{CallKey, Control, Leg};
use crate::graph::JobKind;
use crate::serve::media::{MediaCommand, MediaNotice};

/// A call's dialogue and what the control task tracks around it.
pub(super) struct CallDialogue {
    dialogue: Dialogue,
    assistant: Arc<crate::assistant::Assistant>,
    /// Prompt rate: the call's codec rate.
    rate: types::SampleRate,
    /// A turn the dialogue already has its answer for: later results of it are dropped.
    closed_turn: Option<TurnId>,
    /// The latest turn a result arrived for.
    current_turn: Option<TurnId>,
    /// The newest speculative result: turn, text, embedding, when its speech ended.
    speculative: Option<(TurnId, String, Option<nlu::Embedding>, Instant)>,
    /// The end of the caller's latest input given to the dialogue (last word, key press).
    last_input: Option<Instant>,
    /// A final that is to be the speculative result of this turn, which has not arrived yet.
    promote: Option<TurnId>,
    /// The decision, kept for the transfer at hang-up.
    decision: Option<routing::Decision>,
    /// Whether the caller's speech stops the prompts (settings of the question asked).
    barge: playback::BargeIn,
    /// Prompts sent to the media engine and not yet finished or flushed; ids for the next.
    queued: u32,
    next_prompt: u64,
    /// Recognition fell behind during a turn not answered yet: the call goes keypad-only once
    /// that turn's result has been given to the dialogue (why, for the event).
    keypad_pending: Option<String>,
}

impl std::fmt::Debug for CallDialogue {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("CallDialogue").field("closed_turn", &self.closed_turn).finish()
    }
}

impl Control {
    /// The call is answered: its dialogue starts (greeting).
    pub(super) fn start_dialogue(&mut self, call: CallKey, now: Instant) {
        let Some(info) = self.calls.get_mut(&call) else { return };
        let Some(assistant) = self.assistants.get(&info.tenant).cloned() else { return };
        let mut call_info = flow::CallInfo::new(info.call_id.clone(), info.tenant.clone(), Some(SystemTime::now()));
        call_info.caller_number = info.caller_number.clone();
        let dialogue = Dialogue::new(Arc::clone(&assistant.flow), Arc::clone(&assistant.router), call_info, now);
        let rate = info.rate;
        info.dialogue = Some(Box::new(CallDialogue {
            dialogue,
            assistant,
            rate,
            closed_turn: None,
            current_turn: None,
            speculative: None,
            promote: None,
            decision: None,
            last_input: None,
            barge: playback::BargeIn::new(playback::BargeInConfig::default()),
            queued: 0,
            next_prompt: 0,
            keypad_pending: None,
        }));
        self.with_dialogue(call, now, |d, now| d.dialogue.handle_input(Input::Start, now));
    }

    /// Feeds a media notice to the call's dialogue; false if the call has none.
    pub(super) fn dialogue_notice(&mut self, call: CallKey, notice: &MediaNotice, now: Instant) -> bool {
        let has = self.calls.get(&call).is_some_and(|i| i.dialogue.is_some());
        if !has {
            return false;
        }
        match notice {
            MediaNotice::PromptFinished { .. } => self.with_dialogue(call, now, |d, now| {
                d.queued = d.queued.saturating_sub(1);
                if d.queued == 0 {
                    d.barge.prompts_done();
                }
                d.dialogue.handle_input(Input::PromptFinished, now)
            }),
            MediaNotice::MarkReached { name, played, .. } => {
                self.emit(call, json!({"event": "mark", "name": name, "played": played}));
            }
            MediaNotice::PromptInterrupted { interruption, .. } => {
                self.emit(call, json!({"event": "prompt_interrupted", "interruption": interruption}));
            }
            MediaNotice::SpeechPaused { turn, at, .. } => {
                if let Some(d) = self.calls.get_mut(&call).and_then(|i| i.dialogue.as_mut()) {
                    d.barge.speech_ended(u64::from(turn.0), *at);
                }
            }
            MediaNotice::Dtmf { digit, .. } => self.with_dialogue(call, now, |d, now| {
                d.last_input = Some(now);
                d.dialogue.handle_input(Input::Dtmf(*digit), now)
            }),
            MediaNotice::SpeechStarted { turn, onset, interruptible, echo, .. } => {
                let action = self.calls.get_mut(&call).and_then(|i| i.dialogue.as_mut()).and_then(|d| {
                    let config = d.dialogue.barge_in()?;
                    d.barge.set_config(config);
                    d.barge.speech_started(u64::from(turn.0), *onset, *interruptible, *echo)
                });
                if *echo && *interruptible {
                    self.emit(call, json!({"event": "echo_ignored", "turn": turn.0}));
                }
                self.barge_act(call, *turn, action, now);
                self.with_dialogue(call, now, |d, now| d.dialogue.handle_input(Input::SpeechStarted, now));
            }
            MediaNotice::Transcript { turn, kind, text, embedding, speech_end, .. } => {
                self.on_transcript(call, *turn, *kind, text, embedding.as_ref(), *speech_end, now)
            }
            MediaNotice::RecognitionBehind { turn, reason, .. } => {
                let Some(d) = self.calls.get_mut(&call).and_then(|i| i.dialogue.as_mut()) else { return true };
                let answered = turn.is_none_or(|t| d.closed_turn.is_some_and(|c| c >= t));
                if answered {
                    self.go_keypad(call, reason.clone(), now);
                } else {
                    d.keypad_pending.get_or_insert_with(|| reason.clone());
                }
            }
            MediaNotice::FinalIsSpeculative { turn, .. } => {
                let spec = self.calls.get_mut(&call).and_then(|i| i.dialogue.as_mut()).and_then(|d| match &d.speculative {
                    Some((t, text, e, end)) if t == turn => Some((text.clone(), e.clone(), *end)),
                    _ => {
                        d.promote = Some(*turn);
                        None
                    }
                });
                if let Some((text, embedding, end)) = spec {
                    self.on_transcript(call, *turn, JobKind::Final, &text, embedding.as_ref(), end, now);
                }
            }
        }
        true
    }

    #[allow(clippy::too_many_arguments)]
    fn on_transcript(&mut self, call: CallKey, turn: TurnId, kind: JobKind, text: &str, embedding: Option<&nlu::Embedding>, end: Instant, now: Instant) {
        let Some(d) = self.calls.get_mut(&call).and_then(|i| i.dialogue.as_mut()) else { return };
        if d.closed_turn.is_some_and(|c| c >= turn) {
            return;
        }
        // A turn over a prompt: its transcript may settle the barge-in first (interrupting, the
        // dialogue then listens and takes this transcript as the answer).
        if d.barge.paused_turn().is_some() || d.queued > 0 {
            let answers = d.dialogue.would_answer(text, embedding);
            let action = d.barge.transcript(u64::from(turn.0), text, kind != JobKind::Partial, answers);
            self.barge_act(call, turn, action, now);
        }
        let Some(d) = self.calls.get_mut(&call).and_then(|i| i.dialogue.as_mut()) else { return };
        d.current_turn = Some(turn);
        let mut promote = false;
        if kind == JobKind::Speculative {
            d.speculative = Some((turn, text.to_owned(), embedding.cloned(), end));
            promote = d.promote == Some(turn);
        }
        let is_final = kind == JobKind::Final || promote;
        if is_final {
            d.closed_turn = Some(turn);
        }
        if text.trim().is_empty() && !is_final {
            return;
        }
        d.last_input = Some(end);
        let input = if kind == JobKind::Speculative && !is_final {
            Input::SpeechPause { text, embedding }
        } else {
            Input::Speech { text, embedding, is_final }
        };
        self.with_dialogue(call, now, |d, now| d.dialogue.handle_input(input, now));
        if is_final {
            if let Some(reason) = self.calls.get_mut(&call).and_then(|i| i.dialogue.as_mut()).and_then(|d| d.keypad_pending.take()) {
                self.go_keypad(call, reason, now);
            }
        }
    }

    /// The call goes on by keypad only: it stops loading the recognizer (what it costs is what
    /// other calls wait for) and its dialogue asks by keys.
    fn go_keypad(&mut self, call: CallKey, reason: String, now: Instant) {
        let Some(info) = self.calls.get(&call) else { return };
        let Some(d) = info.dialogue.as_ref() else { return };
        if d.dialogue.is_keypad_only() {
            return;
        }
        let _ = self.media.send(MediaCommand::StopRecognition { call_id: info.call_id.clone() });
        self.emit(call, json!({"event": "keypad_only", "reason": reason}));
        self.with_dialogue(call, now, |d, now| d.dialogue.handle_input(Input::KeypadOnly, now));
    }

    /// Carries out a barge-in decision on the call's prompts.
    fn barge_act(&mut self, call: CallKey, turn: TurnId, action: Option<playback::BargeInAction>, now: Instant) {
        let Some(action) = action else { return };
        let Some(info) = self.calls.get(&call) else { return };
        let call_id = info.call_id.clone();
        match action {
            playback::BargeInAction::Pause => {
                let _ = self.media.send(MediaCommand::Pause { call_id });
                self.emit(call, json!({"event": "prompt_paused", "turn": turn.0}));
            }
            playback::BargeInAction::Resume => {
                let _ = self.media.send(MediaCommand::Resume { call_id });
                self.emit(call, json!({"event": "prompt_resumed", "turn": turn.0}));
            }
            playback::BargeInAction::Interrupt(trigger) => {
                let _ = self.media.send(MediaCommand::StopPlayback { call_id });
                self.emit(call, json!({"event": "barge_in", "turn": turn.0, "trigger": trigger}));
                self.with_dialogue(call, now, |d, now| {
                    d.queued = 0;
                    d.barge.prompts_done();
                    d.dialogue.handle_input(Input::BargeIn, now);
                });
            }
        }
    }

    /// Dialogue timeouts that are due; returns the earliest one still pending.
    pub(super) fn dialogue_timeouts(&mut self, now: Instant) -> Option<Instant> {
        let due: Vec<(CallKey, Option<TurnId>)> = self
            .calls
            .iter()
            .filter_map(|(c, i)| i.dialogue.as_ref().map(|d| (c, d)))
            .filter(|(_, d)| d.barge.poll_timeout().is_some_and(|t| t <= now))
            .map(|(c, d)| (*c, d.barge.paused_turn().map(|t| TurnId(t as u32))))
            .collect();
        for (call, turn) in due {
            let action = self.calls.get_mut(&call).and_then(|i| i.dialogue.as_mut()).and_then(|d| d.barge.handle_timeout(now));
            self.barge_act(call, turn.unwrap_or(TurnId(0)), action, now);
        }
        let due: Vec<CallKey> = self
            .calls
            .iter()
            .filter(|(_, i)| i.dialogue.as_ref().and_then(|d| d.dialogue.poll_timeout()).is_some_and(|t| t <= now))
            .map(|(c, _)| *c)
            .collect();
        for call in due {
            self.with_dialogue(call, now, |d, now| d.dialogue.handle_timeout(now));
        }
        self.calls
            .values()
            .filter_map(|i| i.dialogue.as_ref())
            .flat_map(|d| [d.dialogue.poll_timeout(), d.barge.poll_timeout()])
            .flatten()
            .min()
    }

    /// The caller hung up: the dialogue reports its decision (`caller_hangup`) if it had none.
    pub(super) fn end_dialogue(&mut self, info: &mut super::CallInfo, now: Instant) {
        if let Some(d) = info.dialogue.as_mut() {
            d.dialogue.handle_input(Input::CallerHangup, now);
            while let Some(output) = d.dialogue.poll_output() {
                if let Output::Decision(decision) = output {
                    self.publish_decision(&info.call_id, &info.tenant, &d.assistant, &decision);
                }
            }
            let _ = d.assistant.router.call_ended(&info.call_id, now);
        }
    }

    /// Runs `f` on the call's dialogue, then carries out everything it asks for.
    fn with_dialogue(&mut self, call: CallKey, now: Instant, f: impl FnOnce(&mut CallDialogue, Instant)) {
        let Some(info) = self.calls.get_mut(&call) else { return };
        let Some(d) = info.dialogue.as_mut() else { return };
        f(d, now);
        let (call_id, tenant) = (info.call_id.clone(), info.tenant.clone());
        let mut outputs = Vec::new();
        while let Some(o) = d.dialogue.poll_output() {
            outputs.push(o);
        }
        for output in outputs {
            self.carry_out(call, &call_id, &tenant, output, now);
        }
    }

    fn carry_out(&mut self, call: CallKey, call_id: &str, tenant: &str, output: Output, now: Instant) {
        let Some(d) = self.calls.get_mut(&call).and_then(|i| i.dialogue.as_mut()) else { return };
        match output {
            Output::Play(play) => {
                let (assistant, rate) = (Arc::clone(&d.assistant), d.rate);
                d.next_prompt += 1;
                d.queued += 1;
                let prompt = playback::Prompt { id: playback::PromptId(d.next_prompt), text: play.text.clone(), interruptible: play.interruptible };
                self.sink.emit(call_id, tenant, &json!({"event": "prompt", "text": play.text}));
                // One look-up: the cache may drop a prompt between two.
                let cached = match &play.prompt {
                    flow::Prompt::Text(text) => assistant.renderer.cached_prompt(text, rate),
                    flow::Prompt::Wav(_) => None,
                };
                match &play.prompt {
                    flow::Prompt::Text(_) if cached.is_some() => {
                        if let Some(audio) = cached {
                            let _ = self.media.send(MediaCommand::Play { call_id: call_id.to_owned(), prompt, audio });
                        }
                    }
                    flow::Prompt::Text(text) => {
                        // Rendered sentence by sentence off the runtime: the first sentence is
                        // sent while the rest is synthesized.
                        let id = prompt.id;
                        let ends = sentence_ends(text);
                        let _ = self.media.send(MediaCommand::PlayStreaming { call_id: call_id.to_owned(), prompt });
                        let (media, sink) = (self.media.clone(), Arc::clone(&self.sink));
                        let (call_id, tenant, text) = (call_id.to_owned(), tenant.to_owned(), text.clone());
                        tokio::task::spawn_blocking(move || {
                            let mut piece = 0;
                            let result = assistant.renderer.render_stream(&text, rate, &mut |chunk| {
                                let audio: Arc<[f32]> = chunk.into();
                                // The voice streams a sentence per piece: where its words end, for
                                // the words heard if the prompt is interrupted.
                                let text_end = ends.get(piece).copied().unwrap_or(text.len());
                                piece += 1;
                                media.send(MediaCommand::Append { call_id: call_id.clone(), id, audio, text_end }).is_ok()
                            });
                            if let Err(e) = result {
                                // What was rendered plays; the prompt then ends as if played out,
                                // so the dialogue goes on rather than waiting for ever.
                                sink.emit(&call_id, &tenant, &json!({"event": "prompt_failed", "text": text, "error": e.to_string()}));
                            }
                            let _ = media.send(MediaCommand::Complete { call_id, id });
                        });
                    }
                    flow::Prompt::Wav(_) => match tokio::task::block_in_place(|| assistant.render(&play.prompt, rate)) {
                        Ok(audio) => {
                            let _ = self.media.send(MediaCommand::Play { call_id: call_id.to_owned(), prompt, audio });
                        }
                        Err(e) => {
                            self.sink.emit(call_id, tenant, &json!({"event": "prompt_failed", "text": play.text, "error": format!("{e:#}")}));
                            self.with_dialogue(call, now, |d, now| {
                                d.queued = d.queued.saturating_sub(1);
                                d.dialogue.handle_input(Input::PromptFinished, now)
                            });
                        }
                    },
                }
            }
            Output::StopPlayback => {
                d.queued = 0;
                d.barge.prompts_done();
                let _ = self.media.send(MediaCommand::StopPlayback { call_id: call_id.to_owned() });
            }
            Output::Listen(listen) => {
                self.sink.emit(call_id, tenant, &json!({"event": "listen", "step": listen.step, "expect": listen.expect}));
                let on = crate::assistant::Assistant::vocabulary_for(listen.expect);
                let _ = self.media.send(MediaCommand::Vocabulary { call_id: call_id.to_owned(), on });
            }
            Output::EndTurn => {
                d.closed_turn = d.current_turn;
                self.sink.emit(call_id, tenant, &json!({"event": "turn_ended_early", "turn": d.current_turn.map(|t| t.0)}));
            }
            Output::Event(event) => {
                let mut v = serde_json::to_value(&event).unwrap_or_default();
                if let Some(o) = v.as_object_mut() {
                    let kind = o.remove("event").or_else(|| o.remove("type")).unwrap_or_else(|| "flow".into());
                    o.insert("flow".into(), kind);
                    o.insert("event".into(), "flow".into());
                }
                self.sink.emit(call_id, tenant, &v);
            }
            Output::Decision(mut decision) => {
                let assistant = Arc::clone(&d.assistant);
                decision.timings.last_word_to_decision_ms = d.last_input.map(|t| now.saturating_duration_since(t).as_millis() as u64);
                d.decision = Some((*decision).clone());
                self.publish_decision(call_id, tenant, &assistant, &decision);
            }
            Output::Hangup => {
                let decision = d.decision.clone();
                self.finish_call(call, call_id, decision, now);
            }
        }
    }

    /// The decision as an event, and to the tenant's webhook.
    fn publish_decision(&self, call_id: &str, tenant: &str, assistant: &crate::assistant::Assistant, decision: &routing::Decision) {
        let mut v = serde_json::to_value(decision).unwrap_or_default();
        if let Some(o) = v.as_object_mut() {
            o.insert("event".into(), "decision".into());
            o.insert("graph_transfer".into(), decision.graph_transfer_body().unwrap_or_default());
            o.insert("acs_transfer".into(), decision.acs_transfer_body().unwrap_or_default());
        }
        self.sink.emit(call_id, tenant, &v);
        if let Some(sender) = self.webhooks.get(&assistant.tenant) {
            sender.send(decision);
        }
    }

    /// The dialogue is over: REFER to the decision's SIP target, else hang up. A stream call's
    /// connection gets the decision (the relay turns it into the bot's Graph request) and is
    /// closed.
    fn finish_call(&mut self, key: CallKey, call_id: &str, decision: Option<routing::Decision>, now: Instant) {
        let call = match key {
            CallKey::Sip(call) => call,
            CallKey::Stream(_) => {
                if let (Some(decision), Some(Leg::Stream(leg))) = (decision, self.calls.get(&key).map(|i| &i.leg)) {
                    leg.send(crate::serve::stream::StreamOut::Decision(Box::new(decision)));
                }
                self.hang_up(key, "dialogue finished", now);
                return;
            }
        };
        let refer = decision.as_ref().and_then(|d| d.sip_refer());
        let Some(refer) = refer else {
            let _ = self.core.hangup(call, now);
            return;
        };
        let target = match Uri::parse(&refer.refer_to) {
            Ok(t) => t,
            Err(e) => {
                self.emit(key, json!({"event": "transfer_failed", "error": format!("{}: {e}", refer.refer_to)}));
                let _ = self.core.hangup(call, now);
                return;
            }
        };
        let options = ReferOptions {
            referred_by: Some(format!("<sip:attendant@{}>", self.core.config().local_host)),
            headers: refer.headers.iter().map(|(n, v)| Header::new(n.as_str(), v.clone())).collect(),
            refer_to_headers: refer.refer_to_headers.clone(),
        };
        match self.core.refer(call, &target, options, now) {
            Ok(()) => {
                if let Some(info) = self.calls.get_mut(&key) {
                    info.transferring = true;
                }
                self.emit(key, json!({"event": "transfer_started", "target": refer.refer_to, "trigger": "decision", "call": call_id}));
            }
            Err(e) => {
                self.emit(key, json!({"event": "transfer_failed", "error": e.to_string()}));
                let _ = self.core.hangup(call, now);
            }
        }
    }
}

/// Where each sentence of `text` ends (byte offsets), as the voice splits it.
fn sentence_ends(text: &str) -> Vec<usize> {
    let mut ends = Vec::new();
    let mut from = 0;
    for sentence in g2p::split_sentences(text) {
        if let Some(at) = text.get(from..).and_then(|rest| rest.find(sentence.as_str())) {
            from += at + sentence.len();
            ends.push(from);
        }
    }
    ends
}
