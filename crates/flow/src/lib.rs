//! Per-tenant dialogue flow for Attendant: what the caller hears, what is asked, and where the
//! call goes.
//!
//! - [`FlowConfig`]: one tenant's dialogue in TOML (greeting, menu, intents, slot-filling
//!   steps, reprompts, escalation, business hours, callback offer), checked at load by
//!   [`FlowConfig::validate`] with every problem named by its place.
//! - [`CompiledFlow`]: the checked flow plus its intent classifier, built once per tenant and
//!   shared (`Arc`) by its calls.
//! - [`Dialogue`]: one call's dialogue, sans-IO: inputs ([`Input`]) and timeouts in with `now`,
//!   [`Output`]s out (prompts, listen, events, the routing [`routing::Decision`], hang-up).
//! - [`FlowFile`]: a tenant file with `[flow]` and `[routing]` tables (`config/*.flow.toml`).
//!
//! # Driving a dialogue (what the worker owes it)
//!
//! 1. `Dialogue::new(..., now)`, then [`Input::Start`] when the call is answered.
//! 2. After every input or timeout, drain [`Dialogue::poll_output`]; call
//!    [`Dialogue::handle_timeout`] at [`Dialogue::poll_timeout`].
//! 3. [`Output::Play`]: queue the prompt; send one [`Input::PromptFinished`] per `Play`, in order,
//!    when its audio has played out. [`Output::StopPlayback`]: flush the queue at once and send
//!    no `PromptFinished` for what was flushed.
//! 4. Speech is taken only after [`Output::Listen`]; send partials and finals of the caller's
//!    turn as [`Input::Speech`], with the text's embedding when [`Dialogue::wants_embedding`] is
//!    true at the time. [`Output::EndTurn`]: stop recognizing the current turn, drop its final.
//! 5. [`Output::Decision`]: send it on at once. [`Output::Hangup`]: carry out the decision's
//!    transfer, or hang up. On the caller's hang-up send [`Input::CallerHangup`]; the decision
//!    (`caller_hangup`) still comes out if none had.

mod act;
mod config;
mod dialogue;
mod hours;
mod model;
mod output;
mod prompt;
mod step;
mod validate;

use std::path::Path;

pub use config::{
    AskConfig, CallbackConfig, DtmfConfig, EscalationConfig, FlowConfig, HoursConfig, IntentConfig, OpenSpan,
    PriorityConfig, PromptConfig, Reprompts, StepConfig, StepKind, ThenConfig,
};
pub use dialogue::{CallInfo, Dialogue, Input};
pub use output::{EscalationReason, Expect, FlowEvent, Listen, Output};
pub use prompt::{PlayPrompt, Prompt};
pub use validate::{ConfigError, Errors};

/// Why a flow cannot be used.
#[derive(Debug, thiserror::Error)]
pub enum FlowError {
    /// The configuration is wrong; every problem is listed with its place.
    #[error("{0}")]
    Config(#[from] Errors),
    /// The intent classifier could not be built (model failure, or an intent the classifier
    /// rejects); `place` names the flow's intents.
    #[error("{place}: {source}")]
    Classifier {
        place: String,
        #[source]
        source: Box<nlu::NluError>,
    },
    /// A tenant file that cannot be read or is not TOML of the right shape.
    #[error("{0}")]
    File(String),
    /// Something wrong in the tenant file at `path`.
    #[error("{path}:\n{source}")]
    InFile {
        path: std::path::PathBuf,
        #[source]
        source: Box<FlowError>,
    },
}

/// A tenant's flow, checked and with its classifier built: share it (`Arc`) among the
/// tenant's calls.
#[derive(Debug)]
pub struct CompiledFlow {
    model: model::Model,
    classifier: nlu::IntentClassifier,
}

impl CompiledFlow {
    /// The text of every prompt that is the same on every call (no `{slot}` to fill in), once
    /// each: what a worker renders at start-up so that no call waits for it.
    pub fn fixed_prompt_texts(&self) -> Vec<String> {
        let m = &self.model;
        let mut all: Vec<&config::PromptConfig> = Vec::new();
        all.extend(m.greeting.iter());
        for n in &m.nodes {
            all.extend([&n.ask.prompt, &n.ask.reprompt, &n.ask.no_input, &n.ask.no_match]);
            if let model::NodeKind::Digits(d) = &n.kind {
                all.extend(d.confirm.iter());
            }
        }
        all.extend(m.intents.iter().filter_map(|i| i.then.say.as_ref()));
        all.extend([&m.escalation.prompt, &m.callback.prompt, &m.callback.prompt_no_wait, &m.callback.accepted_prompt]);
        all.extend(m.hours.iter().map(|h| &h.closed_prompt));
        all.extend([&m.transfer_prompt, &m.goodbye, &m.defaults.no_input, &m.defaults.no_match, &m.keypad_prompt, &m.keypad_menu]);
        let mut texts: Vec<String> = all.into_iter().filter_map(|p| p.text.clone()).filter(|t| !t.contains('{')).collect();
        texts.sort();
        texts.dedup();
        texts
    }

    /// Validates `config` against `routing` (errors prefixed by `prefix`, e.g.
    /// `tenants[0].flow`) and builds the intent classifier, embedding every example once.
    pub fn build(
        config: &FlowConfig,
        prefix: &str,
        routing: &routing::RoutingConfig,
        embedder: &nlu::Embedder,
    ) -> Result<CompiledFlow, FlowError> {
        let model = validate::compile(config, prefix, routing)?;
        let specs: Vec<nlu::IntentSpec> = config
            .intents
            .iter()
            .map(|i| nlu::IntentSpec { name: i.name.clone(), examples: i.examples.clone(), keywords: i.keywords.clone() })
            .collect();
        let classifier = nlu::IntentClassifier::build(embedder, &specs, config.classifier.clone()).map_err(|source| {
            let place = if prefix.is_empty() { "intents".to_string() } else { format!("{prefix}.intents") };
            FlowError::Classifier { place, source: Box::new(source) }
        })?;
        Ok(CompiledFlow { model, classifier })
    }

    /// The intent classifier (for offline evaluation of the tenant's intents).
    pub fn classifier(&self) -> &nlu::IntentClassifier {
        &self.classifier
    }
}

/// A tenant file: the dialogue and the routing it routes to.
#[derive(Clone, Debug, serde::Deserialize)]
#[serde(deny_unknown_fields)]
pub struct FlowFile {
    /// The dialogue. Required.
    pub flow: FlowConfig,
    /// Queues, agents, callback policy. Required.
    pub routing: routing::RoutingConfig,
    // The same file also holds the worker's per-tenant settings (its `AssistantFile`): taken
    // here without being read, so that a whole tenant file loads and a misspelt key is still
    // an error.
    #[serde(default, rename = "webhook")]
    _webhook: Option<serde::de::IgnoredAny>,
    #[serde(default, rename = "recognition_prompt")]
    _recognition_prompt: Option<serde::de::IgnoredAny>,
    #[serde(default, rename = "end_silence_ms")]
    _end_silence_ms: Option<serde::de::IgnoredAny>,
}

impl FlowFile {
    /// Parses and validates a tenant file's text; `prefix` names it in errors.
    pub fn parse(text: &str, prefix: &str) -> Result<FlowFile, FlowError> {
        let file: FlowFile = toml::from_str(text).map_err(|e| FlowError::File(e.to_string()))?;
        Self::check(&file.flow, &file.routing, prefix)?;
        Ok(file)
    }

    /// Validates a tenant's routing, then its flow against that routing: what every file that
    /// holds `[flow]` and `[routing]` (this one, the worker's assistant file) must pass.
    pub fn check(flow: &FlowConfig, routing: &routing::RoutingConfig, prefix: &str) -> Result<(), FlowError> {
        let at = |t: &str| if prefix.is_empty() { t.to_string() } else { format!("{prefix}.{t}") };
        routing.validate(&at("routing")).map_err(|e| {
            let error = match e {
                routing::RoutingError::Config { field, reason } => ConfigError { place: field, reason },
                other => ConfigError { place: at("routing"), reason: other.to_string() },
            };
            FlowError::Config(Errors(vec![error]))
        })?;
        flow.validate(&at("flow"), routing)?;
        Ok(())
    }

    /// Reads, parses and validates a tenant file; errors name the file, places start at its
    /// top (`flow.intents[3].then.next`).
    pub fn load(path: &Path) -> Result<FlowFile, FlowError> {
        let in_file = |source| FlowError::InFile { path: path.to_path_buf(), source: Box::new(source) };
        let text = std::fs::read_to_string(path).map_err(|e| in_file(FlowError::File(format!("cannot read: {e}"))))?;
        Self::parse(&text, "").map_err(in_file)
    }
}
