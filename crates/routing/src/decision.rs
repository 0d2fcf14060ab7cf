//! The routing decision: the first-class output of a call.
//!
//! A [`Decision`] records what the call ended with and why (intent, slots, transcript, timings)
//! and where it goes. The ways out are built from it in `transfer.rs`: SIP REFER headers, Graph
//! and ACS transfer requests, the webhook body.

use std::collections::BTreeMap;

use crate::config::TransferTarget;
use crate::router::{Priority, RouteOutcome};

/// What a call ended with. Serialized as the webhook's fields (see
/// [`Decision::webhook_body`]).
#[derive(Debug, Clone, PartialEq, serde::Serialize, serde::Deserialize)]
pub struct Decision {
    /// The call's id in this worker (SIP Call-ID, stream id).
    pub call_id: String,
    /// Tenant name.
    pub tenant: String,
    /// Intent the caller was classified with, if any.
    pub intent: Option<String>,
    /// Classifier confidence for `intent`, 0..=1; 0 without an intent.
    pub confidence: f32,
    /// Slots filled during the call (account number, language, ...).
    pub slots: BTreeMap<String, String>,
    /// What was said, in order.
    pub transcript: Vec<TranscriptLine>,
    pub timings: Timings,
    pub reason: DecisionReason,
    pub target: DecisionTarget,
    pub priority: Priority,
}

/// One utterance.
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
pub struct TranscriptLine {
    pub speaker: Speaker,
    pub text: String,
    /// Milliseconds from call start to the start of the utterance.
    pub at_ms: u64,
}

/// Who spoke. Serialized `"caller"` / `"attendant"`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Speaker {
    Caller,
    Attendant,
}

/// How long things took, in the units their names say.
#[derive(Debug, Clone, Default, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
pub struct Timings {
    /// Call start (answer) to the decision.
    pub call_ms: u64,
    /// End of the caller's last word to the decision: what the caller waited.
    pub last_word_to_decision_ms: Option<u64>,
    /// Intent classification of the deciding turn.
    pub classify_us: Option<u64>,
}

/// Why the call ended where it did. Serialized snake_case.
#[derive(Debug, Clone, Copy, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum DecisionReason {
    /// A recognized intent.
    Intent,
    /// A DTMF menu choice.
    Dtmf,
    /// Escalated to a person: retries exhausted, or the caller asked for an agent.
    Escalation,
    /// Outside business hours.
    Closed,
    /// The caller said nothing.
    NoInput,
    /// The caller accepted a callback.
    CallbackAccepted,
    /// The caller hung up first.
    CallerHangup,
}

/// Where the call goes. Serialized snake_case.
#[derive(Debug, Clone, Copy, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum TargetKind {
    Agent,
    Queue,
    Callback,
    Voicemail,
    Hangup,
}

/// The destination of a decision.
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
pub struct DecisionTarget {
    pub kind: TargetKind,
    pub queue: Option<String>,
    pub agent_id: Option<String>,
    pub agent_name: Option<String>,
    /// Addresses to transfer to; empty for callback and hangup.
    pub address: TransferTarget,
    /// The wait the caller was told, in seconds.
    pub estimated_wait_s: Option<u32>,
    /// E.164 number to call back.
    pub callback_number: Option<String>,
}

impl DecisionTarget {
    fn empty(kind: TargetKind) -> Self {
        Self { kind, queue: None, agent_id: None, agent_name: None, address: TransferTarget::default(), estimated_wait_s: None, callback_number: None }
    }

    /// The call ends here.
    pub fn hangup() -> Self {
        Self::empty(TargetKind::Hangup)
    }

    /// To voicemail at `address`.
    pub fn voicemail(address: TransferTarget) -> Self {
        Self { address, ..Self::empty(TargetKind::Voicemail) }
    }

    /// A callback for `queue` to `number`.
    pub fn callback(queue: impl Into<String>, number: Option<String>, estimated_wait_s: Option<u32>) -> Self {
        Self { queue: Some(queue.into()), callback_number: number, estimated_wait_s, ..Self::empty(TargetKind::Callback) }
    }

    /// Where a [`RouteOutcome`] sends the call.
    pub fn from_route(outcome: &RouteOutcome) -> Self {
        match outcome {
            RouteOutcome::Agent { queue, agent_id, agent_name, target } => Self {
                queue: Some(queue.clone()),
                agent_id: Some(agent_id.clone()),
                agent_name: Some(agent_name.clone()),
                address: target.clone(),
                ..Self::empty(TargetKind::Agent)
            },
            RouteOutcome::Queue { queue, target, estimated_wait, .. } => Self {
                queue: Some(queue.clone()),
                address: target.clone(),
                estimated_wait_s: Some(secs_u32(estimated_wait.as_secs())),
                ..Self::empty(TargetKind::Queue)
            },
            RouteOutcome::Callback { queue, estimated_wait, .. } => {
                Self::callback(queue.clone(), None, estimated_wait.map(|w| secs_u32(w.as_secs())))
            }
        }
    }
}

fn secs_u32(s: u64) -> u32 {
    u32::try_from(s).unwrap_or(u32::MAX)
}

impl Decision {
    /// A decision with no intent, slots, transcript or timings; fill those in as known.
    pub fn new(call_id: impl Into<String>, tenant: impl Into<String>, reason: DecisionReason, target: DecisionTarget) -> Self {
        Self {
            call_id: call_id.into(),
            tenant: tenant.into(),
            intent: None,
            confidence: 0.0,
            slots: BTreeMap::new(),
            transcript: Vec::new(),
            timings: Timings::default(),
            reason,
            target,
            priority: Priority::Normal,
        }
    }

    /// A decision sending the call where `outcome` says.
    pub fn from_route(call_id: impl Into<String>, tenant: impl Into<String>, outcome: &RouteOutcome, reason: DecisionReason) -> Self {
        Self::new(call_id, tenant, reason, DecisionTarget::from_route(outcome))
    }

    /// Sets the intent and its confidence (clamped to 0..=1; NaN becomes 0).
    pub fn with_intent(mut self, intent: impl Into<String>, confidence: f32) -> Self {
        self.intent = Some(intent.into());
        self.confidence = if confidence.is_nan() { 0.0 } else { confidence.clamp(0.0, 1.0) };
        self
    }

    pub fn with_priority(mut self, priority: Priority) -> Self {
        self.priority = priority;
        self
    }

    pub fn with_slot(mut self, name: impl Into<String>, value: impl Into<String>) -> Self {
        self.slots.insert(name.into(), value.into());
        self
    }

    pub fn with_transcript(mut self, transcript: Vec<TranscriptLine>) -> Self {
        self.transcript = transcript;
        self
    }

    pub fn with_timings(mut self, timings: Timings) -> Self {
        self.timings = timings;
        self
    }

    /// A stable id for this decision: 32 hex digits from tenant, call id and `timings.call_ms`.
    /// The same decision always gets the same id, so a webhook receiver can drop a redelivery;
    /// two decisions of one call differ in `call_ms`.
    pub fn id(&self) -> String {
        let ms = self.timings.call_ms.to_be_bytes();
        let parts: [&[u8]; 3] = [self.tenant.as_bytes(), self.call_id.as_bytes(), &ms];
        let a = crate::hash::fnv1a64(0, &parts);
        let b = crate::hash::fnv1a64(0x9e37_79b9_7f4a_7c15, &parts);
        format!("{a:016x}{b:016x}")
    }

    /// The caller's last utterance, if any.
    pub fn last_caller_text(&self) -> Option<&str> {
        self.transcript.iter().rev().find(|l| l.speaker == Speaker::Caller).map(|l| l.text.as_str())
    }
}

#[cfg(test)]
mod tests {
    use std::time::Duration;

    use super::*;

    fn addr() -> TransferTarget {
        TransferTarget { sip: Some("sip:q@cc.example.com".into()), ..Default::default() }
    }

    #[test]
    fn from_route_fills_target_per_outcome() {
        let o = RouteOutcome::Agent { queue: "billing".into(), agent_id: "alice".into(), agent_name: "Alice".into(), target: addr() };
        let t = DecisionTarget::from_route(&o);
        assert_eq!(t.kind, TargetKind::Agent);
        assert_eq!(t.agent_id.as_deref(), Some("alice"));
        assert_eq!(t.queue.as_deref(), Some("billing"));
        assert_eq!(t.address, addr());

        let o = RouteOutcome::Queue { queue: "billing".into(), target: addr(), position: 3, estimated_wait: Duration::from_millis(90_500) };
        let t = DecisionTarget::from_route(&o);
        assert_eq!((t.kind, t.estimated_wait_s), (TargetKind::Queue, Some(90)));

        let o = RouteOutcome::Callback { queue: "billing".into(), estimated_wait: None, reason: crate::CallbackReason::NobodyStaffed };
        let d = Decision::from_route("c1", "t1", &o, DecisionReason::CallbackAccepted);
        assert_eq!(d.target.kind, TargetKind::Callback);
        assert!(d.target.address.sip.is_none());
    }

    #[test]
    fn json_round_trips_with_snake_case_enums() {
        let d = Decision::new("c1", "t1", DecisionReason::NoInput, DecisionTarget::hangup())
            .with_intent("billing", 1.7)
            .with_priority(Priority::High)
            .with_transcript(vec![TranscriptLine { speaker: Speaker::Caller, text: "hi".into(), at_ms: 5 }]);
        assert_eq!(d.confidence, 1.0);
        let v = serde_json::to_value(&d).unwrap();
        assert_eq!(v["reason"], "no_input");
        assert_eq!(v["target"]["kind"], "hangup");
        assert_eq!(v["priority"], "high");
        assert_eq!(v["transcript"][0]["speaker"], "caller");
        let back: Decision = serde_json::from_value(v).unwrap();
        assert_eq!(back, d);
    }

    #[test]
    fn id_is_stable_and_distinguishes_decisions() {
        let d = Decision::new("c1", "t1", DecisionReason::Intent, DecisionTarget::hangup());
        assert_eq!(d.id(), d.clone().id());
        assert_eq!(d.id().len(), 32);
        let mut e = d.clone();
        e.timings.call_ms = 1;
        assert_ne!(d.id(), e.id());
        let f = Decision::new("c2", "t1", DecisionReason::Intent, DecisionTarget::hangup());
        assert_ne!(d.id(), f.id());
    }
}
