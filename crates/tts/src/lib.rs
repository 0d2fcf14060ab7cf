//! Prompt synthesis for the dialogue flow: text in, mono f32 PCM out, cached per text, voice and
//! output rate.
//!
//! Two layers, so that the engine can change without touching callers:
//! - [`Synthesizer`]: one engine and voice, producing samples at the engine's own rate. Today
//!   that is [`Espeak`] (espeak-ng through its C library); a neural voice is meant to implement
//!   the same trait later.
//! - [`PromptRenderer`]: resamples an engine's output to the rate a call needs (8 kHz for G.711,
//!   16 kHz for the bus, 48 kHz for Opus), normalizes its peak, and caches the result behind
//!   `&self` so that one renderer in an `Arc` serves every call.
//!
//! Synthesis is blocking CPU work (espeak-ng: tens of ms per sentence, one at a time per
//! process). Call it from the compute pool or `spawn_blocking`, never on a tokio worker.

mod espeak;
mod ffi;
mod native;
mod render;

pub use espeak::{Espeak, EspeakConfig};
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
