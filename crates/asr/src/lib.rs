//! Speech recognition with whisper.cpp (through `whisper-rs`).
//!
//! - [`WhisperModel`]: the weights, loaded once per process and shared.
//! - [`Decoder`]: one whisper decoding state (its KV caches, tens of MB) plus the parameters
//!   that keep decoding cheap and honest. Decoders are pooled by the worker, one per compute
//!   thread, never one per call: a call owns only its audio and a [`TurnPolicy`].
//! - [`guards`]: what is done to whisper's output before anyone sees it: non-speech
//!   annotations dropped, repetition loops collapsed, text in silence rejected.
//!
//! Cost follows the utterance: the encoder runs on `audio_ctx` positions sized to the turn
//! (50 per second plus a margin) instead of whisper's fixed 30 s window.

mod abort;
pub mod guards;
mod policy;
mod whisper;

pub use policy::{AsrConfig, AsrConfigError, TurnPolicy};
pub use whisper::{Decoder, Recognition, WhisperModel};

#[derive(Debug, thiserror::Error)]
pub enum AsrError {
    #[error("whisper model {path}: {reason}")]
    Model { path: String, reason: String },
    #[error("whisper decoding: {0}")]
    Decode(String),
    /// The decode was stopped through its abort flag ([`Decoder::recognize_abortable`]).
    #[error("whisper decoding aborted")]
    Aborted,
}
