//! Prompt synthesis for the dialogue flow: text in, mono f32 PCM out, cached per text, voice and
//! output rate.
//!
//! Two layers, so that the engine can change without touching callers:
//! - [`Synthesizer`]: one engine and voice, producing samples at the engine's own rate:
//!   [`Espeak`] (espeak-ng through its C library) or [`Hibari`] (a neural voice through ONNX
//!   Runtime, with SSML-lite in [`ssml`]).
//! - [`PromptRenderer`]: resamples an engine's output to the rate a call needs (8 kHz for G.711,
//!   16 kHz for the bus, 48 kHz for Opus), normalizes its peak, and caches the result behind
//!   `&self` so that one renderer in an `Arc` serves every call.
//!
//! Synthesis is blocking CPU work (espeak-ng: tens of ms per sentence, one at a time per
//! process). Call it from the compute pool or `spawn_blocking`, never on a tokio worker.

mod espeak;
mod ffi;
pub mod hibari;
mod native;
mod render;
pub mod ssml;
mod stream_resample;

pub use espeak::{Espeak, EspeakConfig};
pub use hibari::{Hibari, HibariOptions, HibariVoice, Phonemizer};
pub use render::{PromptRenderer, RendererConfig};

use types::SampleRate;

/// A text-to-speech engine with one voice.
pub trait Synthesizer: Send + Sync {
    /// Names the engine and voice, e.g. `espeak-ng/en-us`. Renderers key their caches on it, so
    /// two synthesizers that sound different must have different names.
    fn name(&self) -> &str;

    /// The rate of the samples [`Synthesizer::synthesize`] produces.
    fn sample_rate(&self) -> SampleRate;

    /// Appends the speech for `text` to `out` as mono samples in [-1, 1] at
    /// [`Synthesizer::sample_rate`]. Text with nothing to say (empty, whitespace) appends nothing
    /// and succeeds.
    fn synthesize(&self, text: &str, out: &mut Vec<f32>) -> Result<(), TtsError>;

    /// Hands the speech for `text` to `sink` in chunks as it is produced (same rate and range as
    /// [`Synthesizer::synthesize`]); `sink` returns false to stop early, which is not an error.
    /// The default synthesizes everything and makes one call; engines that work sentence by
    /// sentence override it so that the first sentence plays while the rest is synthesized.
    fn synthesize_stream(&self, text: &str, sink: &mut dyn FnMut(&[f32]) -> bool) -> Result<(), TtsError> {
        let mut pcm = Vec::new();
        self.synthesize(text, &mut pcm)?;
        if !pcm.is_empty() {
            sink(&pcm);
        }
        Ok(())
    }

    /// The peak level this engine's speech usually reaches, for scaling audio before all of it
    /// has been seen (streaming). `None` (the default): unknown, so renderers normalize whole
    /// prompts instead of streaming them.
    fn typical_peak(&self) -> Option<f32> {
        None
    }
}

/// Errors from synthesis and rendering.
#[derive(Debug, thiserror::Error)]
pub enum TtsError {
    #[error("speech engine unavailable: {0}")]
    Unavailable(#[from] EngineUnavailable),
    #[error("invalid {field}: {reason}")]
    InvalidConfig { field: &'static str, reason: String },
    #[error("voice {voice:?} not found (espeak error {code})")]
    VoiceNotFound { voice: String, code: i32 },
    #[error("text holds {chars} characters, at most {max} are synthesized at once")]
    TextTooLong { chars: usize, max: usize },
    #[error("synthesized speech passed {max_seconds} s and was stopped")]
    OutputTooLong { max_seconds: u32 },
    #[error("synthesis failed (espeak error {code})")]
    Synthesis { code: i32 },
    #[error("resampling {from} Hz -> {to} Hz: {reason}")]
    Convert { from: u32, to: u32, reason: String },
    #[error(transparent)]
    Resample(#[from] dsp::ResampleError),
    #[error("{what} {}: file not found", path.display())]
    FileNotFound { what: &'static str, path: std::path::PathBuf },
    #[error("{what} {} is not usable: {reason}", path.display())]
    CorruptFile { what: &'static str, path: std::path::PathBuf, reason: String },
    #[error("model inference failed: {0}")]
    Inference(String),
    #[error("model output {name}: {reason}")]
    ModelOutput { name: &'static str, reason: String },
    #[error("phonemizing {sentence:?}: {reason}")]
    Phonemize { sentence: String, reason: String },
    #[error(transparent)]
    Ssml(#[from] ssml::SsmlError),
}

/// Why the speech engine cannot be used at all in this process. Set up once; the same error is
/// returned to every later caller (espeak-ng's global state cannot be re-initialized).
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum EngineUnavailable {
    #[error("espeak-ng library not found (install libespeak-ng1): {reason}")]
    LibraryNotFound { reason: String },
    #[error("espeak-ng library lacks {name}: {reason}")]
    MissingSymbol { name: &'static str, reason: String },
    #[error("{step} failed: {message} (is espeak-ng-data installed, or data_path right?)")]
    Init { step: &'static str, message: String },
    #[error("espeak-ng was already initialized with data path {first:?}, not {requested:?}")]
    DataPathConflict { first: Option<std::path::PathBuf>, requested: Option<std::path::PathBuf> },
}
