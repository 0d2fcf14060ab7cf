//! One tenant's dialogue, as written in TOML (`[flow]` of a tenant file).
//!
//! `deny_unknown_fields` everywhere: a misspelt field is an error naming it. Everything that serde
//! cannot check (step references, queues, time zones, placeholders, reachability) is checked once
//! at load by [`FlowConfig::validate`](crate::FlowConfig::validate), with errors naming the place.
//!
//! Durations are written in milliseconds (`*_ms`) because TOML has no duration type; they become
//! [`Duration`](std::time::Duration)s at compile time.

use std::path::PathBuf;

/// One tenant's dialogue: greeting, main menu, intents, slot-filling steps, reprompts,
/// escalation, business hours and the callback offer.
#[derive(Clone, Debug, serde::Deserialize)]
#[serde(deny_unknown_fields)]
pub struct FlowConfig {
    /// Played when the call is answered, before the menu prompt. Not played when the tenant is
    /// closed (the closed prompt is played instead). Default: none.
    #[serde(default)]
    pub greeting: Option<PromptConfig>,
    /// The main menu, where the caller says (or keys) what they want. Required.
    pub menu: AskConfig,
    /// What callers can ask for in the menu. Required, at least one.
    pub intents: Vec<IntentConfig>,
    /// Slot-filling, yes/no and message steps, referred to by name from `then.next`.
    /// Default: none. The name `menu` is reserved for the main menu.
    #[serde(default)]
    pub steps: Vec<StepConfig>,
    /// Prompts and limits used by every step that does not set its own. Default: see
    /// [`Reprompts`].
    #[serde(default)]
    pub reprompts: Reprompts,
    /// Where the call goes when the caller asks for a person or retries run out. Required.
    pub escalation: EscalationConfig,
    /// Opening hours. Default: none (always open).
    #[serde(default)]
    pub hours: Option<HoursConfig>,
    /// What the caller hears when the router proposes a call back. Default: see
    /// [`CallbackConfig`].
    #[serde(default)]
    pub callback: CallbackConfig,
    /// Intent classifier settings (no-match threshold, ...). Default: the nlu crate's defaults.
    #[serde(default)]
    pub classifier: nlu::ClassifierConfig,
    /// Whether a confident partial transcript may end the caller's turn early (the decision then
    /// goes out before the caller's trailing silence is over). Default true.
    #[serde(default = "yes")]
    pub early_end: bool,
    /// Confidence a partial transcript's intent needs for an early end, in (0, 1]. Keyword
    /// matches count at their reported confidence too. Default 0.85.
    #[serde(default = "default_early_end_confidence")]
    pub early_end_confidence: f32,
    /// Played after a routing decision that transfers the call, unless the `then` that routed
    /// has its own `say`. Default "Please hold while I transfer your call."
    #[serde(default = "default_transfer_prompt")]
    pub transfer_prompt: PromptConfig,
    /// Played before hanging up, unless the `then` that hangs up has its own `say`.
    /// Default "Thank you for calling. Goodbye."
    #[serde(default = "default_goodbye")]
    pub goodbye: PromptConfig,
    /// Said when the worker's speech recognition cannot keep up and the call goes on by keypad
    /// only; the question being asked is then asked again (the menu as the list of its keys).
    /// Default "I'm having trouble hearing you right now, so let's use your keypad."
    #[serde(default = "default_keypad_prompt")]
    pub keypad_prompt: PromptConfig,
    /// When the caller's speech may stop the prompts of a question (`interruptible` prompts
    /// only; DTMF always does). A question may set its own. Default: see
    /// [`playback::BargeInConfig`].
    #[serde(default)]
    pub barge_in: playback::BargeInConfig,
}

/// Something the caller hears: text (rendered by the TTS stage) or a WAV file.
///
/// Written either as a plain string (text, interruptible) or as a table
/// `{ text = "...", wav = "file.wav", interruptible = false }`.
#[derive(Clone, Debug, PartialEq)]
pub struct PromptConfig {
    /// Text to synthesize; with `wav` it is what the recording says (for the transcript only).
    /// `{slot}` is replaced by the slot's value (digits read one by one). Default: none.
    pub text: Option<String>,
    /// A recording to play instead of synthesized text. Relative paths are resolved by the
    /// playback stage. Default: none. At least one of `text` and `wav` is required.
    pub wav: Option<PathBuf>,
    /// Whether the caller may talk over it (barge-in; honoured by a later stage). Default true.
    pub interruptible: bool,
}

impl PromptConfig {
    /// An interruptible text prompt.
    pub fn text(text: impl Into<String>) -> Self {
        Self { text: Some(text.into()), wav: None, interruptible: true }
    }
}

#[derive(serde::Deserialize)]
#[serde(deny_unknown_fields)]
struct PromptTable {
    #[serde(default)]
    text: Option<String>,
    #[serde(default)]
    wav: Option<PathBuf>,
    #[serde(default = "yes")]
    interruptible: bool,
}

impl<'de> serde::Deserialize<'de> for PromptConfig {
    fn deserialize<D: serde::Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        struct V;
        impl<'de> serde::de::Visitor<'de> for V {
            type Value = PromptConfig;
            fn expecting(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
                f.write_str("a prompt text or a table { text, wav, interruptible }")
            }
            fn visit_str<E: serde::de::Error>(self, s: &str) -> Result<PromptConfig, E> {
                Ok(PromptConfig::text(s))
            }
            fn visit_map<A: serde::de::MapAccess<'de>>(self, map: A) -> Result<PromptConfig, A::Error> {
                // Through the derived table so unknown fields are named in the error.
                let t: PromptTable = serde::Deserialize::deserialize(serde::de::value::MapAccessDeserializer::new(map))?;
                Ok(PromptConfig { text: t.text, wav: t.wav, interruptible: t.interruptible })
            }
        }
        d.deserialize_any(V)
    }
}

/// A step where the caller is asked something: the main menu and (through [`StepConfig`]) the
/// slot-filling steps share these fields.
#[derive(Clone, Debug, serde::Deserialize)]
#[serde(deny_unknown_fields)]
pub struct AskConfig {
    /// The question (for the menu: the options). Required.
    pub prompt: PromptConfig,
    /// Asked again after a no-input or no-match prompt. Default: `prompt`.
    #[serde(default)]
    pub reprompt: Option<PromptConfig>,
    /// Played when the caller says nothing. Default `reprompts.no_input`.
    #[serde(default)]
    pub no_input: Option<PromptConfig>,
    /// Played when the answer is not understood. Default `reprompts.no_match`.
    #[serde(default)]
    pub no_match: Option<PromptConfig>,
    /// Times the question is asked again after no input; one more escalates.
    /// Default `reprompts.no_input_retries`.
    #[serde(default)]
    pub no_input_retries: Option<u32>,
    /// Times the question is asked again after an answer not understood; one more escalates.
    /// Default `reprompts.no_match_retries`.
    #[serde(default)]
    pub no_match_retries: Option<u32>,
    /// Silence after the prompt ends that counts as no input, in ms.
    /// Default `reprompts.no_input_timeout_ms`.
    #[serde(default)]
    pub no_input_timeout_ms: Option<u64>,
    /// Barge-in over this question's prompts. Default: the flow's `barge_in`.
    #[serde(default)]
    pub barge_in: Option<playback::BargeInConfig>,
}

/// Defaults for every question that does not set its own.
#[derive(Clone, Debug, serde::Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct Reprompts {
    /// Default "Sorry, I didn't hear anything."
    pub no_input: PromptConfig,
    /// Default "Sorry, I didn't get that."
    pub no_match: PromptConfig,
    /// Default 2.
    pub no_input_retries: u32,
    /// Default 2.
    pub no_match_retries: u32,
    /// Default 5000 ms.
    pub no_input_timeout_ms: u64,
}

impl Default for Reprompts {
    fn default() -> Self {
        Self {
            no_input: PromptConfig::text("Sorry, I didn't hear anything."),
            no_match: PromptConfig::text("Sorry, I didn't get that."),
            no_input_retries: 2,
            no_match_retries: 2,
            no_input_timeout_ms: 5000,
        }
    }
}

/// Something a caller can ask for in the menu.
#[derive(Clone, Debug, serde::Deserialize)]
#[serde(deny_unknown_fields)]
pub struct IntentConfig {
    /// Identifier, unique in the flow (`billing`); reported in the decision. Required.
    pub name: String,
    /// Phrases callers say for it, for the embedding classifier. Required, at least one: an
    /// intent reachable only by DTMF is a menu option the classifier could never pick, which is
    /// almost always a forgotten list.
    pub examples: Vec<String>,
    /// Words or phrases that select this intent outright when said (`"agent"`). Default none.
    #[serde(default)]
    pub keywords: Vec<String>,
    /// Keypad key that selects it in the menu: 0-9, *, #, A-D. Default none.
    #[serde(default)]
    pub dtmf: Option<String>,
    /// What follows. Required.
    pub then: ThenConfig,
}

/// What follows an answer: exactly one of `next`, `route`, `voicemail`, `escalate`, `hang_up`.
#[derive(Clone, Debug, Default, serde::Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ThenConfig {
    /// Go to this step (a `steps[].name`, or `menu`). Default none.
    #[serde(default)]
    pub next: Option<String>,
    /// Route the call to this routing queue. Default none.
    #[serde(default)]
    pub route: Option<String>,
    /// Send the call to voicemail: the routing queue named here, whose target is the voicemail
    /// system (the router is not asked: nobody answers there). Default none.
    #[serde(default)]
    pub voicemail: Option<String>,
    /// Hand the call to the escalation queue. Default false.
    #[serde(default)]
    pub escalate: bool,
    /// End the call (after `say`, or the flow's `goodbye`). Default false.
    #[serde(default)]
    pub hang_up: bool,
    /// Queue priority for `route`. Default `normal`.
    #[serde(default)]
    pub priority: Option<PriorityConfig>,
    /// Said first. Default none; for `route` and `voicemail` the flow's `transfer_prompt`, for
    /// `hang_up` its `goodbye`, for `escalate` the escalation prompt.
    #[serde(default)]
    pub say: Option<PromptConfig>,
}

/// Queue priority, as the routing crate knows it.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, serde::Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum PriorityConfig {
    #[default]
    Normal,
    High,
}

/// What a step collects.
#[derive(Clone, Copy, Debug, PartialEq, Eq, serde::Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum StepKind {
    /// A number (account, card, PIN) said or keyed in; fills `slot`.
    Digits,
    /// A yes or no (DTMF 1 = yes, 2 = no); `on_yes` / `on_no` follow; fills `slot` if given.
    YesNo,
    /// Only a prompt; `then` follows when it has been played.
    Message,
}

/// A named step. Fields not meant for its `kind` are errors at validation.
#[derive(Clone, Debug, serde::Deserialize)]
#[serde(deny_unknown_fields)]
pub struct StepConfig {
    /// Identifier referred to by `then.next`. Required, unique, not `menu`.
    pub name: String,
    /// `digits`, `yes_no` or `message`. Required.
    pub kind: StepKind,
    /// The question, or the message. Required.
    pub prompt: PromptConfig,
    /// As [`AskConfig::reprompt`]. Not for `message`.
    #[serde(default)]
    pub reprompt: Option<PromptConfig>,
    /// As [`AskConfig::no_input`]. Not for `message`.
    #[serde(default)]
    pub no_input: Option<PromptConfig>,
    /// As [`AskConfig::no_match`]; for `digits` also played for a number of the wrong length
    /// or failing the Luhn check. Not for `message`.
    #[serde(default)]
    pub no_match: Option<PromptConfig>,
    /// As [`AskConfig::no_input_retries`]. Not for `message`.
    #[serde(default)]
    pub no_input_retries: Option<u32>,
    /// As [`AskConfig::no_match_retries`]; a "no" to the confirmation counts as a no-match.
    /// Not for `message`.
    #[serde(default)]
    pub no_match_retries: Option<u32>,
    /// As [`AskConfig::no_input_timeout_ms`]. Not for `message`.
    #[serde(default)]
    pub no_input_timeout_ms: Option<u64>,
    /// Whether spoken answers are taken (false: keypad only). Default true. Not for `message`.
    #[serde(default = "yes")]
    pub speech: bool,
    /// Barge-in over this step's prompts. Default: the flow's `barge_in`.
    #[serde(default)]
    pub barge_in: Option<playback::BargeInConfig>,
    /// Slot name filled, used as `{slot}` in later prompts and in the decision's slots.
    /// Required for `digits`, optional for `yes_no` (value `yes` / `no`).
    #[serde(default)]
    pub slot: Option<String>,
    /// `digits`: fewest digits accepted, at least 1. Default 1.
    #[serde(default)]
    pub min_digits: Option<u32>,
    /// `digits`: most digits accepted, at most 32. Required for `digits`.
    #[serde(default)]
    pub max_digits: Option<u32>,
    /// `digits`: the number must pass the Luhn check (card numbers). Default false.
    #[serde(default)]
    pub luhn: bool,
    /// `digits`: keypad collection settings. Default: see [`DtmfConfig`].
    #[serde(default)]
    pub dtmf: Option<DtmfConfig>,
    /// `digits`: read the value back and ask yes/no ("I heard {account}. Is that right?").
    /// A "no" asks for the number again. Default: no confirmation.
    #[serde(default)]
    pub confirm: Option<PromptConfig>,
    /// `digits` (after the value, and its confirmation) and `message` (after the prompt):
    /// what follows. Required for those kinds.
    #[serde(default)]
    pub then: Option<ThenConfig>,
    /// `yes_no`: what follows a yes. Required for `yes_no`.
    #[serde(default)]
    pub on_yes: Option<ThenConfig>,
    /// `yes_no`: what follows a no. Required for `yes_no`.
    #[serde(default)]
    pub on_no: Option<ThenConfig>,
}

/// Keypad collection for a `digits` step. The wait for the first key is the step's no-input
/// timeout.
#[derive(Clone, Debug, serde::Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct DtmfConfig {
    /// Key that ends the entry (not a digit); `""` for none. Default `#`.
    pub finish_key: String,
    /// Key that throws away the keys so far (the caller made a mistake); `""` for none.
    /// Default `*`.
    pub cancel_key: String,
    /// Wait after a key for the next one before taking what was keyed, in ms. Default 3000.
    pub inter_digit_timeout_ms: u64,
}

impl Default for DtmfConfig {
    fn default() -> Self {
        Self { finish_key: "#".into(), cancel_key: "*".into(), inter_digit_timeout_ms: 3000 }
    }
}

/// Where calls go when the caller asks for a person or a step's retries run out.
#[derive(Clone, Debug, serde::Deserialize)]
#[serde(deny_unknown_fields)]
pub struct EscalationConfig {
    /// Routing queue. Required.
    pub queue: String,
    /// Default `high`: a caller who already struggled should not wait more.
    #[serde(default = "high")]
    pub priority: PriorityConfig,
    /// Played when escalating. Default "Let me get you to someone who can help."
    #[serde(default = "default_escalation_prompt")]
    pub prompt: PromptConfig,
    /// Words that ask for a person in any step that does not classify intents (digits, yes/no),
    /// matched as whole words, case-insensitive. Default agent, representative, operator,
    /// "real person", human.
    #[serde(default = "default_agent_words")]
    pub keywords: Vec<String>,
    /// Key that asks for a person in the menu and in yes/no steps (digit steps take it as a
    /// digit); `""` for none. Default `0`.
    #[serde(default = "default_escalation_key")]
    pub dtmf: String,
}

/// Opening hours in the tenant's time zone.
#[derive(Clone, Debug, serde::Deserialize)]
#[serde(deny_unknown_fields)]
pub struct HoursConfig {
    /// IANA time zone name (`America/New_York`); daylight saving is applied. Required.
    pub timezone: String,
    /// Open spans; a day with none is closed. Default none (always closed unless `always_open`).
    #[serde(default)]
    pub weekly: Vec<OpenSpan>,
    /// Closed dates `YYYY-MM-DD` in the time zone. Default none.
    #[serde(default)]
    pub holidays: Vec<String>,
    /// Ignore the schedule: open around the clock (simulations, tests, an emergency line).
    /// Default false.
    #[serde(default)]
    pub always_open: bool,
    /// Played instead of the greeting when closed. Required.
    pub closed_prompt: PromptConfig,
    /// What follows the closed prompt: usually `voicemail`, `route` (an after-hours queue) or
    /// `hang_up`; `next` can lead to self-service steps that work when closed. Default hang up.
    #[serde(default = "hang_up")]
    pub closed: ThenConfig,
}

/// Open from `open` to `close` on each of `days`.
#[derive(Clone, Debug, serde::Deserialize)]
#[serde(deny_unknown_fields)]
pub struct OpenSpan {
    /// `mon` .. `sun`. Required.
    pub days: Vec<String>,
    /// `HH:MM`, inclusive. Required.
    pub open: String,
    /// `HH:MM` (up to `24:00`), exclusive, after `open`. Required.
    pub close: String,
}

/// The callback offer made when the router says every agent is busy or nobody is staffed.
#[derive(Clone, Debug, serde::Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct CallbackConfig {
    /// Offer at all; when false the call is transferred to the queue anyway. Default true.
    pub enabled: bool,
    /// The offer when the wait is known; `{wait_minutes}` is the estimate rounded up.
    /// Default "All of our agents are busy right now. The wait is about {wait_minutes}
    /// minutes. To get a call back instead, press 1 or say yes. To keep holding, press 2 or say
    /// no."
    pub prompt: PromptConfig,
    /// The offer when the wait is unknown. Default "All of our agents are busy right now. To
    /// get a call back, press 1 or say yes. To hold for the next agent, press 2 or say no."
    pub prompt_no_wait: PromptConfig,
    /// After a yes, before hanging up. Default "Thank you. We will call you back at this
    /// number as soon as an agent is free. Goodbye."
    pub accepted_prompt: PromptConfig,
    /// Times the offer is repeated after no input or no match; then the call holds in the
    /// queue. Default 1.
    pub retries: u32,
}

impl Default for CallbackConfig {
    fn default() -> Self {
        Self {
            enabled: true,
            prompt: PromptConfig::text(
                "All of our agents are busy right now. The wait is about {wait_minutes} minutes. \
                 To get a call back instead, press 1 or say yes. To keep holding, press 2 or say no.",
            ),
            prompt_no_wait: PromptConfig::text(
                "All of our agents are busy right now. To get a call back, press 1 or say yes. \
                 To hold for the next agent, press 2 or say no.",
            ),
            accepted_prompt: PromptConfig::text(
                "Thank you. We will call you back at this number as soon as an agent is free. Goodbye.",
            ),
            retries: 1,
        }
    }
}

fn yes() -> bool {
    true
}
fn high() -> PriorityConfig {
    PriorityConfig::High
}
fn default_early_end_confidence() -> f32 {
    0.85
}
fn default_transfer_prompt() -> PromptConfig {
    PromptConfig::text("Please hold while I transfer your call.")
}
fn default_keypad_prompt() -> PromptConfig {
    PromptConfig::text("I'm having trouble hearing you right now, so let's use your keypad.")
}
fn default_goodbye() -> PromptConfig {
    PromptConfig::text("Thank you for calling. Goodbye.")
}
fn default_escalation_prompt() -> PromptConfig {
    PromptConfig::text("Let me get you to someone who can help.")
}
fn default_agent_words() -> Vec<String> {
    ["agent", "representative", "operator", "real person", "human"].map(String::from).to_vec()
}
fn default_escalation_key() -> String {
    "0".into()
}
fn hang_up() -> ThenConfig {
    ThenConfig { hang_up: true, ..ThenConfig::default() }
}
