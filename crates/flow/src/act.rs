//! Following `then`: the next step, a route (with the callback offer when the router proposes
//! one), voicemail, escalation, or hang-up.

use std::sync::Arc;
use std::time::Instant;

use routing::{DecisionReason, DecisionTarget, Priority, RouteOutcome};

use crate::config::PromptConfig;
use crate::dialogue::Dialogue;
use crate::model::{Action, Then};
use crate::output::{EscalationReason, FlowEvent};
use crate::step::Question;

impl Dialogue {
    pub(crate) fn follow(&mut self, then: &Then, mut preamble: Vec<PromptConfig>, now: Instant) {
        let flow = Arc::clone(&self.flow);
        let model = &flow.model;
        match &then.action {
            Action::Goto(n) => {
                preamble.extend(then.say.iter().cloned());
                self.enter(*n, preamble, now);
            }
            Action::Route { queue, priority } => {
                let transfer = then.say.clone().unwrap_or_else(|| model.transfer_prompt.clone());
                self.route(queue, *priority, preamble, transfer, now);
            }
            Action::Voicemail { queue, address } => {
                preamble.push(then.say.clone().unwrap_or_else(|| model.transfer_prompt.clone()));
                let mut target = DecisionTarget::voicemail(address.clone());
                target.queue = Some(queue.clone());
                self.decide(target, Priority::Normal, preamble, now);
            }
            Action::Escalate => {
                preamble.extend(then.say.iter().cloned());
                self.escalate(EscalationReason::CallerRequest, preamble, now);
            }
            Action::HangUp => {
                preamble.push(then.say.clone().unwrap_or_else(|| model.goodbye.clone()));
                self.decide(DecisionTarget::hangup(), Priority::Normal, preamble, now);
            }
        }
    }

    pub(crate) fn escalate(&mut self, why: EscalationReason, mut preamble: Vec<PromptConfig>, now: Instant) {
        let flow = Arc::clone(&self.flow);
        let e = &flow.model.escalation;
        self.event(FlowEvent::Escalated { reason: why });
        self.reason = if why == EscalationReason::NoInput { DecisionReason::NoInput } else { DecisionReason::Escalation };
        preamble.push(e.prompt.clone());
        // The escalation prompt already says where the call goes: no transfer prompt after it.
        self.route_with(&e.queue, e.priority, preamble, None, now);
    }

    fn route(&mut self, queue: &str, priority: Priority, preamble: Vec<PromptConfig>, transfer: PromptConfig, now: Instant) {
        self.route_with(queue, priority, preamble, Some(transfer), now);
    }

    /// Asks the router; `transfer` is said only when the call is transferred (not before a
    /// callback offer).
    fn route_with(&mut self, queue: &str, priority: Priority, mut preamble: Vec<PromptConfig>, transfer: Option<PromptConfig>, now: Instant) {
        let flow = Arc::clone(&self.flow);
        let model = &flow.model;
        let outcome = match self.router.route_call(&self.call.call_id, queue, priority, now) {
            Ok(o) => o,
            Err(e) => {
                self.event(FlowEvent::RouteFailed { queue: queue.to_string(), error: e.to_string() });
                if queue != model.escalation.queue {
                    return self.escalate(EscalationReason::RouteFailed, preamble, now);
                }
                preamble.push(model.goodbye.clone());
                return self.decide(DecisionTarget::hangup(), priority, preamble, now);
            }
        };
        match outcome {
            RouteOutcome::Callback { queue, estimated_wait, reason } if model.callback.enabled => {
                self.event(FlowEvent::CallbackOffered { queue: queue.clone(), estimated_wait_s: estimated_wait.map(|w| w.as_secs()), reason });
                let q = Question::Offer { queue, priority, estimated_wait, reason: self.reason };
                self.ask(q, preamble, 0, now);
            }
            RouteOutcome::Callback { queue, .. } => {
                preamble.extend(transfer);
                self.enqueue(&queue, priority, preamble, now);
            }
            outcome => {
                preamble.extend(transfer);
                self.decide(DecisionTarget::from_route(&outcome), priority, preamble, now);
            }
        }
    }

    /// The caller declined (or could not answer) the callback offer: queue without one.
    pub(crate) fn hold(&mut self, queue: &str, priority: Priority, reason: DecisionReason, now: Instant) {
        self.reason = reason;
        let transfer = self.flow.model.transfer_prompt.clone();
        self.enqueue(queue, priority, vec![transfer], now);
    }

    fn enqueue(&mut self, queue: &str, priority: Priority, mut prompts: Vec<PromptConfig>, now: Instant) {
        match self.router.enqueue(Some(&self.call.call_id), queue, priority, now) {
            Ok(outcome) => self.decide(DecisionTarget::from_route(&outcome), priority, prompts, now),
            Err(e) => {
                self.event(FlowEvent::RouteFailed { queue: queue.to_string(), error: e.to_string() });
                prompts.push(self.flow.model.goodbye.clone());
                self.decide(DecisionTarget::hangup(), priority, prompts, now);
            }
        }
    }
}
