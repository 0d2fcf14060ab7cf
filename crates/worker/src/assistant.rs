//! A tenant's assistant: its dialogue flow, routing model, and what both need at run time (the
//! sentence embedder, the prompt renderer), loaded once and shared by the tenant's calls.
//!
//! The flow and routing live in their own file per tenant (`assistant = "contoso.flow.toml"` in
//! the tenant's config, tables `[flow]`, `[routing]` and optionally `[webhook]`): flows are long
//! and owned by other people than the worker's operators.

use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::time::Duration;

use anyhow::Context as _;
use flow::{CompiledFlow, FlowConfig, Prompt};
use nlu::Embedder;
use routing::{Router, RoutingConfig};
use tts::PromptRenderer;
use types::SampleRate;

use crate::decisions::WebhookConfig;

/// The sample tenant that `attendant simulate` uses without `--config`.
pub const EMBEDDED_TENANT: &str = "contoso";
/// Its assistant file, compiled in so the demo runs from any directory.
pub const EMBEDDED_ASSISTANT: &str = include_str!("../../../config/contoso.flow.toml");

/// The contents of an assistant file.
#[derive(Debug, Clone, serde::Deserialize)]
#[serde(deny_unknown_fields)]
pub struct AssistantFile {
    pub flow: FlowConfig,
    #[serde(default)]
    pub routing: RoutingConfig,
    /// Where decisions are POSTed besides the call's own channel (REFER). Default none.
    #[serde(default)]
    pub webhook: Option<WebhookConfig>,
    /// Text that biases recognition toward the tenant's vocabulary, on the turns that answer
    /// an open question (the menu); digit and yes/no answers are decoded without it (see
    /// [`Assistant::vocabulary_for`]). Default none.
    #[serde(default)]
    pub recognition_prompt: Option<String>,
    /// Silence that ends a caller's turn on this tenant's calls (the endpointer's
    /// `min_silence_ms`). A clear answer does not wait for it: the speculative decode 200 ms
    /// after the last word lets the dialogue end the turn early. So it can be longer than the
    /// transcription default (500 ms) and spare callers who pause mid-answer ("Oh, sorry.
    /// Okay, my internet...") a reprompt. Default 900 ms.
    #[serde(default = "default_end_silence_ms")]
    pub end_silence_ms: u32,
}

fn default_end_silence_ms() -> u32 {
    900
}

impl AssistantFile {
    /// Reads and checks an assistant file; `place` names it in errors (`tenants[0].assistant`).
    pub fn load(path: &Path, place: &str) -> anyhow::Result<Self> {
        let text = std::fs::read_to_string(path).with_context(|| format!("{place}: cannot read {}", path.display()))?;
        Self::parse(&text, &format!("{place} ({})", path.display()))
    }

    /// Parses and checks assistant text. WAV prompt paths are taken as written (relative to
    /// the working directory).
    pub fn parse(text: &str, place: &str) -> anyhow::Result<Self> {
        let file: Self = toml::from_str(text).with_context(|| place.to_owned())?;
        flow::FlowFile::check(&file.flow, &file.routing, "").map_err(|e| anyhow::anyhow!("{place}:\n{e}"))?;
        if !(300..=3000).contains(&file.end_silence_ms) {
            anyhow::bail!("{place}: end_silence_ms: must be between 300 and 3000");
        }
        if let Some(w) = &file.webhook {
            w.validate("webhook").with_context(|| place.to_owned())?;
        }
        Ok(file)
    }

    /// The tenant's graph settings with this assistant's end-of-turn silence.
    pub fn graph(&self, base: &crate::graph::GraphConfig) -> crate::graph::GraphConfig {
        let mut graph = base.clone();
        graph.endpointer.min_silence_ms = self.end_silence_ms;
        graph
    }

    pub fn embedded() -> anyhow::Result<Self> {
        Self::parse(EMBEDDED_ASSISTANT, "embedded contoso.flow.toml")
    }
}

/// Everything a tenant's calls share at run time.
pub struct Assistant {
    pub tenant: String,
    pub flow: Arc<CompiledFlow>,
    pub router: Arc<Router>,
    pub embedder: Arc<Embedder>,
    pub renderer: Arc<PromptRenderer>,
    pub webhook: Option<WebhookConfig>,
    pub recognition_prompt: Option<String>,
}

impl std::fmt::Debug for Assistant {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Assistant").field("tenant", &self.tenant).finish()
    }
}

impl Assistant {
    /// Compiles the flow (embedding every intent example once) and builds the router.
    pub fn build(tenant: &str, file: &AssistantFile, embedder: Arc<Embedder>, renderer: Arc<PromptRenderer>) -> anyhow::Result<Self> {
        let flow = CompiledFlow::build(&file.flow, "flow", &file.routing, &embedder).map_err(|e| anyhow::anyhow!("tenant {tenant}: {e}"))?;
        let router = Router::new(&file.routing).with_context(|| format!("tenant {tenant}: routing"))?;
        Ok(Self {
            tenant: tenant.to_owned(),
            flow: Arc::new(flow),
            router: Arc::new(router),
            embedder,
            renderer,
            webhook: file.webhook.clone(),
            recognition_prompt: file.recognition_prompt.clone(),
        })
    }

    /// Whether the recognition prompt applies to the answer the dialogue now expects. A
    /// vocabulary prompt helps whisper with the words of an open answer ("my router keeps
    /// dropping"), but biases spoken digits: on the blind caller set it took intent accuracy
    /// from 90.5% to 92.9%, and on all turns it took misheard slot answers (digit strings)
    /// from 2 to 3 of 25. So digit strings and yes/no are decoded without it.
    pub fn vocabulary_for(expect: flow::Expect) -> bool {
        match expect {
            flow::Expect::Intent => true,
            flow::Expect::Digits | flow::Expect::YesNo => false,
        }
    }

    /// A prompt's audio at `rate`: text through the renderer's cache, WAV files decoded.
    pub fn render(&self, prompt: &Prompt, rate: SampleRate) -> anyhow::Result<Arc<[f32]>> {
        match prompt {
            Prompt::Text(text) => Ok(self.renderer.render(text, rate)?),
            Prompt::Wav(path) => Ok(crate::serve::prompt::load(path, rate)?.into()),
        }
    }

    /// What a prompt says (for the transcript) and how long it plays.
    pub fn prompt_duration(&self, prompt: &Prompt) -> anyhow::Result<(String, Duration)> {
        let rate = types::BUS_RATE;
        let audio = self.render(prompt, rate)?;
        let text = match prompt {
            Prompt::Text(t) => t.clone(),
            Prompt::Wav(p) => format!("[{}]", p.display()),
        };
        Ok((text, Duration::from_secs_f64(audio.len() as f64 / f64::from(rate.hz()))))
    }
}

/// The default prompt renderer: the hibari neural voice from `models`, else espeak-ng (see
/// [`crate::voice::load_voice`]). Why the neural voice is not used goes to stderr, once per
/// process: tests and benches build renderers more than once.
pub fn default_renderer(models: &crate::models::ModelDir) -> anyhow::Result<Arc<PromptRenderer>> {
    static WARNED: std::sync::Once = std::sync::Once::new();
    let (voice, warning) = crate::voice::load_voice(models)?;
    if let Some(warning) = warning {
        WARNED.call_once(|| eprintln!("warning: {warning}"));
    }
    Ok(Arc::new(PromptRenderer::new(voice)))
}

/// Loads the embedder from the models directory.
pub fn load_embedder(models: &crate::models::ModelDir) -> anyhow::Result<Arc<Embedder>> {
    let dir: PathBuf = models.require(crate::models::ModelFile::MiniLm)?;
    Ok(Arc::new(Embedder::load(&dir)?))
}
