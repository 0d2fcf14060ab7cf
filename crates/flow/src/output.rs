//! What the dialogue asks of the worker, and what it reports.

use std::time::Duration;

use crate::prompt::PlayPrompt;

/// Something for the worker to do or record, from [`Dialogue::poll_output`](crate::Dialogue::poll_output),
/// in order.
#[derive(Clone, Debug, PartialEq)]
pub enum Output {
    /// Queue this prompt after any already queued. Send [`Input::PromptFinished`](crate::Input)
    /// once for every `Play`, in order, when its audio has been played out, unless a
    /// [`Output::StopPlayback`] came first.
    Play(PlayPrompt),
    /// The caller keyed ahead (DTMF during a prompt): drop everything queued or playing, now.
    /// Send no `PromptFinished` for prompts dropped this way.
    StopPlayback,
    /// The caller may answer now: open recognition for speech (if `speech`), keep DTMF on. Speech
    /// before this (while prompts play) is ignored unless it barges in ([`Input::BargeIn`](crate::Input)).
    Listen(Listen),
    /// A partial transcript already answered this turn: stop recognizing the caller's current
    /// turn and do not send its final (if one is sent anyway it is ignored: a prompt follows
    /// every answer, and speech during a prompt is not taken).
    EndTurn,
    /// For the conversation log.
    Event(FlowEvent),
    /// The routing decision: send it on at once (webhook, transfer preparation). Exactly one per
    /// call, also when the caller hangs up first (reason `caller_hangup`). Prompts that follow
    /// it (transfer, goodbye) are still to be played.
    /// Boxed: a decision carries the transcript, and every other output is small.
    Decision(Box<routing::Decision>),
    /// The dialogue is over, after its last prompt was played out: carry out the decision's
    /// transfer if it has one (SIP REFER, Graph/ACS transfer), else end the call. Not sent
    /// after [`Input::CallerHangup`](crate::Input).
    Hangup,
}

/// The caller may answer (see [`Output::Listen`]).
#[derive(Clone, Debug, PartialEq)]
pub struct Listen {
    /// Step name: `menu`, a step's name, `<step>.confirm`, or `callback_offer`.
    pub step: String,
    pub expect: Expect,
    /// Whether speech is taken (false: keypad only, the worker may skip recognition).
    pub speech: bool,
    /// How digits are collected, for a digits step (the dialogue collects them; informative).
    pub dtmf: Option<nlu::DtmfCollect>,
    /// Silence that counts as no input; the dialogue times it itself through
    /// [`Dialogue::poll_timeout`](crate::Dialogue::poll_timeout).
    pub no_input_timeout: Duration,
    /// Whether a partial transcript may answer (send partials, with embeddings when
    /// [`Dialogue::wants_embedding`](crate::Dialogue::wants_embedding)).
    pub early_end: bool,
}

/// What kind of answer a step waits for.
#[derive(Clone, Copy, Debug, PartialEq, Eq, serde::Serialize)]
#[serde(rename_all = "snake_case")]
pub enum Expect {
    /// What the caller wants (the menu): speech is classified, DTMF keys map to intents.
    Intent,
    /// A digit string.
    Digits,
    /// Yes or no (DTMF 1 = yes, 2 = no).
    YesNo,
}

/// Why a call was escalated to a person.
#[derive(Clone, Copy, Debug, PartialEq, Eq, serde::Serialize)]
#[serde(rename_all = "snake_case")]
pub enum EscalationReason {
    /// The caller asked for one (agent intent, escalation keyword or key).
    CallerRequest,
    /// No-input retries ran out.
    NoInput,
    /// No-match retries ran out.
    NoMatch,
    /// Routing to the intended queue failed.
    RouteFailed,
}

/// What happened, for the conversation log. Serialized with `"event"` naming the variant.
#[derive(Clone, Debug, PartialEq, serde::Serialize)]
#[serde(tag = "event", rename_all = "snake_case")]
pub enum FlowEvent {
    /// A question or message step began (its prompt is being played).
    StepEntered { step: String },
    /// The caller's answer in the menu.
    IntentRecognized {
        intent: String,
        confidence: f32,
        /// How the classifier decided; none for a DTMF key.
        source: Option<nlu::MatchSource>,
        /// What was said, or the key.
        text: String,
        /// Decided on a partial transcript (early end).
        partial: bool,
        via_dtmf: bool,
    },
    SlotFilled { name: String, value: String },
    /// An answer not understood; `attempt` counts from 1 within the step.
    NoMatch { step: String, text: String, attempt: u32 },
    /// Silence; `attempt` counts from 1 within the step.
    NoInput { step: String, attempt: u32 },
    Escalated { reason: EscalationReason },
    /// The call came outside business hours.
    Closed,
    /// Every agent is busy (or none is staffed): a callback is offered.
    CallbackOffered { queue: String, estimated_wait_s: Option<u64>, reason: routing::CallbackReason },
    /// The caller took the callback (true) or chose to hold (false; also after retries ran out).
    CallbackAnswered { accepted: bool },
    /// The router refused a queue (not configured in the router the call was given).
    RouteFailed { queue: String, error: String },
    /// Speech is no longer taken (the worker's recognition fell behind): the call goes on by
    /// keypad; `step` is asked again.
    KeypadOnly { step: Option<String> },
}

/// Shorthand used by the engine.
pub(crate) fn ms(d: Duration) -> u64 {
    u64::try_from(d.as_millis()).unwrap_or(u64::MAX)
}
