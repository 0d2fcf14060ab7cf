//! What a simulated call produced, in order, and how the command line prints it.

use routing::Decision;
use types::MediaTime;

/// One thing that happened in the call, at a virtual time.
#[derive(Debug, Clone, serde::Serialize)]
#[serde(tag = "event", rename_all = "snake_case")]
pub enum SimEvent {
    /// A prompt starts playing.
    Prompt { text: String, duration_ms: u64 },
    /// The dialogue takes answers from here on.
    Listen { step: String },
    /// The caller starts an utterance of the file (its extent in the file, lead and trail
    /// included), so file times can be mapped to call times.
    CallerSpeaks { file_start_ms: u64, file_end_ms: u64 },
    Dtmf { digit: String },
    SpeechStarted { turn: u32 },
    /// The endpointer ended a turn (at the event's time) whose speech ended at `speech_end_ms`.
    SpeechEnded { turn: u32, speech_end_ms: u64 },
    /// A recognition result reached the dialogue: `partial`, `speculative` (the turn up to a
    /// pause) or `final`.
    Transcript { turn: u32, kind: &'static str, text: String, compute_ms: f64 },
    /// The dialogue took its answer from a result before the turn's end.
    EndTurn { turn: u32 },
    /// An event of the dialogue (step entered, intent, slot, no-match...), as the flow reports it.
    Flow(serde_json::Value),
    Decision {
        #[serde(flatten)]
        decision: Box<Decision>,
        /// From the end of the caller's last input (speech end, key press) to the decision.
        last_input_to_decision_ms: Option<u64>,
    },
    Hangup,
    /// The caller's speech paused a prompt `position_ms` into it (barge-in pending).
    PromptPaused { text: String, position_ms: u64 },
    /// The speech that paused the prompt was not the caller taking the floor (a backchannel, a
    /// cough): the prompt goes on from where it stopped.
    PromptResumed { text: String, position_ms: u64 },
    /// The caller took the floor: the prompts are flushed and the turn is the answer.
    BargeIn { trigger: playback::Trigger, text: String, position_ms: u64 },
    /// A prompt stopped part-way, with the words the caller heard.
    PromptInterrupted { text: String, position_ms: u64, heard: String },
    /// A turn began over an interruptible prompt, but the echo canceller heard only the prompt's
    /// own echo: it does not barge in.
    EchoIgnored { turn: u32 },
    /// The call reached the simulation's time limit.
    CutOff,
}

#[derive(Debug, Clone, Default)]
pub struct SimReport {
    pub events: Vec<(MediaTime, SimEvent)>,
    pub decision: Option<Decision>,
    pub decision_latency_ms: Option<u64>,
}

impl SimReport {
    pub(crate) fn push(&mut self, at: MediaTime, event: SimEvent) {
        self.events.push((at, event));
    }
}

/// One event as the command line prints it: a JSON object, or a readable line.
pub fn print_line(at: MediaTime, event: &SimEvent, json: bool) -> String {
    if json {
        let mut v = serde_json::to_value(event).unwrap_or_default();
        if let Some(o) = v.as_object_mut() {
            o.insert("at_ms".into(), at.as_millis().into());
        }
        return v.to_string();
    }
    let t = format!("[{:>7.2}]", at.as_millis() as f64 / 1e3);
    match event {
        SimEvent::Prompt { text, .. } => format!("{t} attendant: {text}"),
        SimEvent::Listen { step } => format!("{t}   (listening: {step})"),
        SimEvent::CallerSpeaks { .. } | SimEvent::SpeechStarted { .. } | SimEvent::SpeechEnded { .. } => String::new(),
        SimEvent::Dtmf { digit } => format!("{t} caller keys: {digit}"),
        SimEvent::Transcript { kind, text, compute_ms, .. } => {
            if *kind == "final" {
                format!("{t} caller: {text}   ({compute_ms:.0} ms to recognize)")
            } else {
                format!("{t}   ({kind}: {text})")
            }
        }
        SimEvent::EndTurn { .. } => format!("{t}   (turn ended early: the answer was clear)"),
        SimEvent::Flow(v) => format!("{t}   {}", flow_line(v)),
        SimEvent::Decision { decision, last_input_to_decision_ms } => {
            let latency = last_input_to_decision_ms.map(|l| format!(", {l} ms after the caller's last input")).unwrap_or_default();
            let target = serde_json::to_value(&decision.target).unwrap_or_default();
            format!(
                "{t} DECISION: intent {} ({:.2}), slots {:?}, target {}{latency}",
                decision.intent.as_deref().unwrap_or("none"),
                decision.confidence,
                decision.slots,
                target
            )
        }
        SimEvent::Hangup => format!("{t} (attendant hangs up)"),
        SimEvent::PromptPaused { position_ms, .. } => format!("{t}   (prompt paused at {position_ms} ms: the caller is talking)"),
        SimEvent::PromptResumed { position_ms, .. } => format!("{t}   (prompt resumed at {position_ms} ms: not an interruption)"),
        SimEvent::BargeIn { trigger, .. } => format!("{t}   (barge-in: {})", serde_json::to_value(trigger).unwrap_or_default()),
        SimEvent::PromptInterrupted { position_ms, heard, .. } => format!("{t}   (prompt stopped at {position_ms} ms; the caller heard: \"{heard}\")"),
        SimEvent::EchoIgnored { turn } => format!("{t}   (turn {turn} is the prompt's echo: ignored)"),
        SimEvent::CutOff => format!("{t} (simulation time limit reached)"),
    }
}

/// A flow event's JSON object as `kind key=value ...`.
fn flow_line(v: &serde_json::Value) -> String {
    let Some(o) = v.as_object() else { return v.to_string() };
    let kind = o.get("event").or_else(|| o.get("type")).and_then(|k| k.as_str()).unwrap_or("flow");
    let rest: Vec<String> = o
        .iter()
        .filter(|(k, _)| *k != "event" && *k != "type")
        .map(|(k, v)| match v {
            serde_json::Value::String(s) => format!("{k}={s}"),
            other => format!("{k}={other}"),
        })
        .collect();
    format!("{kind} {}", rest.join(" "))
}
