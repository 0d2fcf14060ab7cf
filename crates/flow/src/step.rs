//! The dialogue's moves: asking, understanding answers, asking again, and following `then`
//! (next step, route, voicemail, escalation, hang-up).

use std::sync::Arc;
use std::time::{Duration, Instant};

use nlu::{Collected, DtmfCollector, EndedBy};
use routing::{DecisionReason, DecisionTarget, Priority};

use crate::config::PromptConfig;
use crate::dialogue::{Asking, Dialogue, State};
use crate::model::{contains_words, words, NodeId, NodeKind, MENU};
use crate::output::{EscalationReason, Expect, FlowEvent, Output};

/// What is being asked.
#[derive(Clone, Debug, PartialEq)]
pub(crate) enum Question {
    /// The menu, a digits or a yes/no step.
    Node(NodeId),
    /// "I heard {slot}. Is that right?" for digits step `node`, which got `value` after
    /// `node_no_match` answers it could not use.
    Confirm { node: NodeId, value: String, node_no_match: u32 },
    /// The callback offer for a call routed to `queue`.
    Offer { queue: String, priority: Priority, estimated_wait: Option<Duration>, reason: DecisionReason },
}

/// How a question is asked, resolved from the node or the flow's defaults.
pub(crate) struct Spec {
    pub name: String,
    pub expect: Expect,
    pub speech: bool,
    pub collect: Option<nlu::DtmfCollect>,
    pub prompt: PromptConfig,
    pub reprompt: PromptConfig,
    pub no_input: PromptConfig,
    pub no_match: PromptConfig,
    pub no_input_retries: u32,
    pub no_match_retries: u32,
    pub no_input_timeout: Duration,
    pub barge_in: playback::BargeInConfig,
    /// Values beside the slots for the prompts (`wait_minutes`, the value to confirm).
    pub extra: Vec<(String, String)>,
}

/// The last word of a partial that may end a yes/no turn must itself be the answer: "no" may
/// end the turn, "I'm not" (sure?) and "no wait" may not.
fn clear_yes_no(text: &str) -> Option<bool> {
    const HANGING: [&str; 8] = ["not", "don't", "dont", "never", "isn't", "isnt", "no", "wait"];
    let w = words(text);
    let last = w.last()?;
    let answer = nlu::yes_no(text)?;
    let last_alone = nlu::yes_no(last)?;
    // "no" alone is clear only as the whole answer: "no" then more may be "no wait, yes".
    let hanging = HANGING.contains(&last.as_str()) && !(w.len() == 1 && last == "no");
    (last_alone == answer && !hanging).then_some(answer)
}

impl Dialogue {
    pub(crate) fn spec(&self, q: &Question) -> Spec {
        let mut spec = self.configured_spec(q);
        if self.keypad_only {
            spec.speech = false;
            if matches!(q, Question::Node(MENU)) {
                spec.reprompt = self.flow.model.keypad_menu.clone();
            }
        }
        spec
    }

    fn configured_spec(&self, q: &Question) -> Spec {
        let model = &self.flow.model;
        let d = &model.defaults;
        match q {
            Question::Node(n) => {
                let node = &model.nodes[*n];
                let a = &node.ask;
                let (expect, collect) = match &node.kind {
                    NodeKind::Digits(dg) => (Expect::Digits, Some(dg.collect.clone())),
                    NodeKind::YesNo { .. } => (Expect::YesNo, None),
                    NodeKind::Menu | NodeKind::Message { .. } => (Expect::Intent, None),
                };
                Spec {
                    name: node.name.clone(),
                    expect,
                    speech: a.speech,
                    collect,
                    prompt: a.prompt.clone(),
                    reprompt: a.reprompt.clone(),
                    no_input: a.no_input.clone(),
                    no_match: a.no_match.clone(),
                    no_input_retries: a.no_input_retries,
                    no_match_retries: a.no_match_retries,
                    no_input_timeout: a.no_input_timeout,
                    barge_in: a.barge_in.clone(),
                    extra: Vec::new(),
                }
            }
            Question::Confirm { node, value, .. } => {
                let n = &model.nodes[*node];
                let (prompt, slot) = match &n.kind {
                    NodeKind::Digits(dg) => (dg.confirm.clone().unwrap_or_else(|| n.ask.prompt.clone()), dg.slot.as_str()),
                    _ => (n.ask.prompt.clone(), ""),
                };
                Spec {
                    name: format!("{}.confirm", n.name),
                    expect: Expect::YesNo,
                    speech: n.ask.speech,
                    collect: None,
                    reprompt: prompt.clone(),
                    prompt,
                    no_input: d.no_input.clone(),
                    no_match: d.no_match.clone(),
                    no_input_retries: n.ask.no_input_retries,
                    no_match_retries: n.ask.no_match_retries,
                    no_input_timeout: n.ask.no_input_timeout,
                    barge_in: n.ask.barge_in.clone(),
                    extra: vec![(slot.to_string(), value.clone())],
                }
            }
            Question::Offer { estimated_wait, .. } => {
                let cb = &model.callback;
                let (prompt, extra) = match estimated_wait {
                    Some(w) => (cb.prompt.clone(), vec![("wait_minutes".to_string(), w.as_secs().div_ceil(60).max(1).to_string())]),
                    None => (cb.prompt_no_wait.clone(), Vec::new()),
                };
                Spec {
                    name: "callback_offer".into(),
                    expect: Expect::YesNo,
                    speech: true,
                    collect: None,
                    reprompt: prompt.clone(),
                    prompt,
                    no_input: d.no_input.clone(),
                    no_match: d.no_match.clone(),
                    no_input_retries: cb.retries,
                    no_match_retries: cb.retries,
                    no_input_timeout: self.default_timeout(),
                    barge_in: model.barge_in.clone(),
                    extra,
                }
            }
        }
    }

    /// Goes to node `n`, saying `preamble` first.
    pub(crate) fn enter(&mut self, n: NodeId, preamble: Vec<PromptConfig>, now: Instant) {
        let flow = Arc::clone(&self.flow);
        let node = &flow.model.nodes[n];
        if let NodeKind::Message { then } = &node.kind {
            self.event(FlowEvent::StepEntered { step: node.name.clone() });
            let mut prompts = preamble;
            prompts.push(node.ask.prompt.clone());
            self.play(&prompts, &[], now);
            self.state = State::Message(then.clone());
            return;
        }
        self.ask(Question::Node(n), preamble, 0, now);
    }

    /// Asks `q` (after `preamble`), with `no_match` answers already counted against it.
    pub(crate) fn ask(&mut self, q: Question, mut preamble: Vec<PromptConfig>, no_match: u32, now: Instant) {
        let spec = self.spec(&q);
        self.event(FlowEvent::StepEntered { step: spec.name.clone() });
        preamble.push(if no_match == 0 { spec.prompt } else { spec.reprompt });
        self.play(&preamble, &spec.extra, now);
        self.state = State::Asking(Asking { q, listening: false, deadline: None, collector: None, no_input: 0, no_match });
    }

    /// Asks `a` again after `lead` ("Sorry, I didn't get that.").
    pub(crate) fn reask(&mut self, mut a: Asking, lead: Option<PromptConfig>, now: Instant) {
        let spec = self.spec(&a.q);
        let prompts: Vec<PromptConfig> = lead.into_iter().chain([spec.reprompt]).collect();
        self.play(&prompts, &spec.extra, now);
        a.listening = false;
        a.deadline = None;
        a.collector = None;
        self.state = State::Asking(a);
    }

    pub(crate) fn no_input(&mut self, mut a: Asking, now: Instant) {
        let spec = self.spec(&a.q);
        a.no_input += 1;
        self.event(FlowEvent::NoInput { step: spec.name, attempt: a.no_input });
        if a.no_input > spec.no_input_retries {
            self.exhausted(a, EscalationReason::NoInput, now);
        } else {
            self.reask(a, Some(spec.no_input), now);
        }
    }

    fn no_match(&mut self, mut a: Asking, text: &str, now: Instant) {
        let spec = self.spec(&a.q);
        a.no_match += 1;
        self.event(FlowEvent::NoMatch { step: spec.name, text: text.to_string(), attempt: a.no_match });
        if a.no_match > spec.no_match_retries {
            self.exhausted(a, EscalationReason::NoMatch, now);
        } else {
            self.reask(a, Some(spec.no_match), now);
        }
    }

    fn exhausted(&mut self, a: Asking, why: EscalationReason, now: Instant) {
        match a.q {
            // Whoever cannot answer the offer holds for an agent, as most callers would.
            Question::Offer { queue, priority, reason, .. } => self.hold(&queue, priority, reason, now),
            _ => self.escalate(why, Vec::new(), now),
        }
    }

    pub(crate) fn dtmf(&mut self, a: Asking, key: char, now: Instant) {
        let flow = Arc::clone(&self.flow);
        let model = &flow.model;
        let is_escalation_key = model.escalation.dtmf == Some(key);
        match &a.q {
            Question::Node(n) if matches!(model.nodes[*n].kind, NodeKind::Digits(_)) => {
                let NodeKind::Digits(dg) = &model.nodes[*n].kind else { return unreachable_state(&mut self.state, a) };
                let mut a = a;
                if !a.listening {
                    self.stop_playback();
                    self.listen(&mut a, now);
                }
                a.deadline = None;
                let collector = a.collector.get_or_insert_with(|| DtmfCollector::new(dg.collect.clone(), now));
                match collector.push(key, now) {
                    Some(c) => self.collected(a, c, now),
                    None => self.state = State::Asking(a),
                }
            }
            Question::Node(MENU) => {
                if let Some(i) = model.intents.iter().position(|it| it.dtmf == Some(key)) {
                    self.stop_playback();
                    self.caller_line(format!("[dtmf {key}]"), now);
                    let intent = &model.intents[i];
                    self.event(FlowEvent::IntentRecognized {
                        intent: intent.name.clone(),
                        confidence: 1.0,
                        source: None,
                        text: key.to_string(),
                        partial: false,
                        via_dtmf: true,
                    });
                    self.intent = Some((intent.name.clone(), 1.0));
                    self.reason = DecisionReason::Dtmf;
                    self.follow(&intent.then, Vec::new(), now);
                } else if is_escalation_key {
                    self.stop_playback();
                    self.caller_line(format!("[dtmf {key}]"), now);
                    self.escalate(EscalationReason::CallerRequest, Vec::new(), now);
                } else if a.listening {
                    self.caller_line(format!("[dtmf {key}]"), now);
                    self.no_match(a, &key.to_string(), now);
                } else {
                    self.state = State::Asking(a);
                }
            }
            _ => {
                let answer = match key {
                    '1' => Some(true),
                    '2' => Some(false),
                    _ => None,
                };
                if answer.is_some() || is_escalation_key {
                    self.stop_playback();
                    self.caller_line(format!("[dtmf {key}]"), now);
                }
                match answer {
                    Some(yes) => self.yes_no(a, yes, now),
                    None if is_escalation_key => self.agent_asked(a, now),
                    None if a.listening => {
                        self.caller_line(format!("[dtmf {key}]"), now);
                        self.no_match(a, &key.to_string(), now);
                    }
                    None => self.state = State::Asking(a),
                }
            }
        }
    }

    pub(crate) fn collected(&mut self, mut a: Asking, c: Collected, now: Instant) {
        a.collector = None;
        if c.ended_by == EndedBy::NoInput {
            return self.no_input(a, now);
        }
        self.caller_line(format!("[dtmf {}]", c.digits), now);
        if !c.complete {
            return self.no_match(a, &c.digits, now);
        }
        self.digits(a, c.digits, now);
    }

    pub(crate) fn speech(&mut self, mut a: Asking, text: &str, embedding: Option<&nlu::Embedding>, is_final: bool, now: Instant) {
        let spec = self.spec(&a.q);
        let keying = a.collector.as_ref().is_some_and(|c| !c.digits().is_empty());
        if !spec.speech || keying {
            self.state = State::Asking(a);
            return;
        }
        let text = text.trim();
        if !is_final {
            if text.is_empty() {
                self.state = State::Asking(a);
                return;
            }
            // The caller is talking: no-input must not fire under them.
            a.deadline = Some(now + spec.no_input_timeout);
            self.partial(a, text, embedding, false, now);
            return;
        }
        a.deadline = None;
        if text.is_empty() {
            return self.no_input(a, now);
        }
        self.caller_line(text, now);
        let flow = Arc::clone(&self.flow);
        let model = &flow.model;
        if a.q != Question::Node(MENU) {
            let w = words(text);
            if model.escalation.keywords.iter().any(|k| contains_words(&w, k)) {
                return self.agent_asked(a, now);
            }
        }
        match spec.expect {
            Expect::Intent => {
                let c = match embedding {
                    Some(e) => flow.classifier.classify(text, e),
                    None => nlu::Classification::no_match(),
                };
                match c.intent {
                    Some(intent) => self.intent_heard(&intent, c.confidence, c.source, text, false, now),
                    None => self.no_match(a, text, now),
                }
            }
            Expect::Digits => match nlu::spoken_digits(text) {
                Some(d) => self.digits(a, d, now),
                None => self.no_match(a, text, now),
            },
            Expect::YesNo => match nlu::yes_no(text) {
                Some(yes) => self.yes_no(a, yes, now),
                None => self.no_match(a, text, now),
            },
        }
    }

    /// A partial transcript: answers the question only when it is clear (early end).
    /// A transcript before the turn's end: mid-speech (`paused` false), or of the whole turn
    /// so far while the caller pauses (`paused`: the worker's speculative decode). Mid-speech
    /// it must clear `early_end_confidence`; in a pause an answer the final would accept is
    /// taken (a match, a valid number), since that is what the final would almost always say.
    pub(crate) fn partial(&mut self, a: Asking, text: &str, embedding: Option<&nlu::Embedding>, paused: bool, now: Instant) {
        let flow = Arc::clone(&self.flow);
        let model = &flow.model;
        let Some(early) = model.early_end else {
            self.state = State::Asking(a);
            return;
        };
        let min_confidence = if paused { 0.0 } else { early };
        match self.spec(&a.q).expect {
            Expect::Intent => {
                let c = embedding.map(|e| flow.classifier.classify(text, e));
                if let Some(c) = c.filter(|c| c.intent.is_some() && c.confidence >= min_confidence) {
                    let intent = c.intent.unwrap_or_default();
                    self.end_turn(text, now);
                    return self.intent_heard(&intent, c.confidence, c.source, text, true, now);
                }
            }
            Expect::Digits => {
                let Question::Node(n) = &a.q else { return unreachable_state(&mut self.state, a) };
                let n = *n;
                if let (NodeKind::Digits(dg), Some(d)) = (&model.nodes[n].kind, nlu::spoken_digits(text)) {
                    if (paused || d.len() == dg.max as usize) && dg.accepts(&d) {
                        self.end_turn(text, now);
                        return self.digits(a, d, now);
                    }
                }
            }
            Expect::YesNo => {
                if let Some(yes) = clear_yes_no(text) {
                    self.end_turn(text, now);
                    return self.yes_no(a, yes, now);
                }
            }
        }
        self.state = State::Asking(a);
    }

    /// Whether `text` would answer the question being asked (whether or not the dialogue listens
    /// yet): an intent above the no-match threshold, an acceptable digit string, a clear yes or
    /// no. The worker asks this before letting a short utterance interrupt a prompt: a one-word
    /// "no" over the menu is more likely a misheard "mm-hmm" than a request.
    pub fn would_answer(&self, text: &str, embedding: Option<&nlu::Embedding>) -> bool {
        let State::Asking(a) = &self.state else { return false };
        let model = &self.flow.model;
        match self.spec(&a.q).expect {
            Expect::Intent => embedding.is_some_and(|e| self.flow.classifier.classify(text, e).intent.is_some()),
            Expect::Digits => match (&a.q, nlu::spoken_digits(text)) {
                (Question::Node(n), Some(d)) => matches!(&model.nodes[*n].kind, NodeKind::Digits(dg) if dg.accepts(&d)),
                _ => false,
            },
            Expect::YesNo => clear_yes_no(text).is_some(),
        }
    }

    fn end_turn(&mut self, text: &str, now: Instant) {
        self.out.push_back(Output::EndTurn);
        self.caller_line(text, now);
    }

    fn intent_heard(&mut self, intent: &str, confidence: f32, source: nlu::MatchSource, text: &str, partial: bool, now: Instant) {
        let flow = Arc::clone(&self.flow);
        let Some(it) = flow.model.intents.iter().find(|i| i.name == intent) else {
            // The classifier was built from these intents: it names no other.
            return self.escalate(EscalationReason::NoMatch, Vec::new(), now);
        };
        self.event(FlowEvent::IntentRecognized {
            intent: it.name.clone(),
            confidence,
            source: Some(source),
            text: text.to_string(),
            partial,
            via_dtmf: false,
        });
        self.intent = Some((it.name.clone(), confidence));
        self.reason = DecisionReason::Intent;
        self.follow(&it.then, Vec::new(), now);
    }

    /// A digit string for a digits step.
    fn digits(&mut self, a: Asking, value: String, now: Instant) {
        let flow = Arc::clone(&self.flow);
        let Question::Node(n) = a.q else { return unreachable_state(&mut self.state, a) };
        let NodeKind::Digits(dg) = &flow.model.nodes[n].kind else { return unreachable_state(&mut self.state, a) };
        if !dg.accepts(&value) {
            return self.no_match(a, &value, now);
        }
        if dg.confirm.is_some() {
            return self.ask(Question::Confirm { node: n, value, node_no_match: a.no_match }, Vec::new(), 0, now);
        }
        self.fill(&dg.slot, value);
        self.follow(&dg.then, Vec::new(), now);
    }

    fn fill(&mut self, slot: &str, value: String) {
        self.event(FlowEvent::SlotFilled { name: slot.to_string(), value: value.clone() });
        self.slots.insert(slot.to_string(), value);
    }

    fn yes_no(&mut self, a: Asking, yes: bool, now: Instant) {
        let flow = Arc::clone(&self.flow);
        let model = &flow.model;
        match a.q {
            Question::Node(n) => {
                let NodeKind::YesNo { slot, on_yes, on_no } = &model.nodes[n].kind else {
                    return unreachable_state(&mut self.state, a);
                };
                if let Some(slot) = slot {
                    self.fill(slot, if yes { "yes" } else { "no" }.to_string());
                }
                self.follow(if yes { on_yes } else { on_no }, Vec::new(), now);
            }
            Question::Confirm { node, value, node_no_match } => {
                let NodeKind::Digits(dg) = &model.nodes[node].kind else { return };
                if yes {
                    self.fill(&dg.slot, value);
                    self.follow(&dg.then, Vec::new(), now);
                    return;
                }
                // A "no" is a number the step could not use: ask for it again, or escalate.
                let attempt = node_no_match + 1;
                let node_spec = self.spec(&Question::Node(node));
                self.event(FlowEvent::NoMatch { step: node_spec.name, text: value, attempt });
                if attempt > node_spec.no_match_retries {
                    self.escalate(EscalationReason::NoMatch, Vec::new(), now);
                } else {
                    self.ask(Question::Node(node), Vec::new(), attempt, now);
                }
            }
            Question::Offer { queue, priority, estimated_wait, reason } => {
                self.event(FlowEvent::CallbackAnswered { accepted: yes });
                if !yes {
                    return self.hold(&queue, priority, reason, now);
                }
                let wait_s = estimated_wait.map(|w| u32::try_from(w.as_secs()).unwrap_or(u32::MAX));
                let target = DecisionTarget::callback(queue, self.call.caller_number.clone(), wait_s);
                self.reason = DecisionReason::CallbackAccepted;
                let accepted = model.callback.accepted_prompt.clone();
                self.decide(target, priority, vec![accepted], now);
            }
        }
    }

    /// The caller asked for a person outside the menu.
    fn agent_asked(&mut self, a: Asking, now: Instant) {
        match a.q {
            Question::Offer { queue, priority, reason, .. } => self.hold(&queue, priority, reason, now),
            _ => self.escalate(EscalationReason::CallerRequest, Vec::new(), now),
        }
    }
}

/// Puts `a` back: a question kind met an answer kind it never asks for (a bug, not input).
fn unreachable_state(state: &mut State, a: Asking) {
    *state = State::Asking(a);
}

#[cfg(test)]
mod tests {
    use super::clear_yes_no;

    #[test]
    fn partial_yes_no_must_end_in_the_answer() {
        assert_eq!(clear_yes_no("yes"), Some(true));
        assert_eq!(clear_yes_no("yeah that's right"), Some(true));
        assert_eq!(clear_yes_no("no"), Some(false));
        assert_eq!(clear_yes_no("no wait"), None);
        assert_eq!(clear_yes_no("I'm not"), None);
        assert_eq!(clear_yes_no("um"), None);
    }
}
