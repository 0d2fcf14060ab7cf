//! Voice activity detection and end-of-turn detection.
//!
//! Two detectors give a speech probability per 20 ms frame:
//! - [`silero`]: the Silero VAD network through ONNX Runtime. Its state lives in a small
//!   per-call [`SileroStream`]; one shared [`SileroModel`] runs the chunks of many calls in one
//!   batched inference, which is where its cost per call drops.
//! - [`energy`]: a level detector against an adaptive noise floor; needs no model.
//!
//! The [`Endpointer`] turns those probabilities into turns (speech started / ended).

pub mod endpointer;
pub mod energy;
pub mod silero;

pub use endpointer::{EndpointEvent, Endpointer, EndpointerConfig, EndpointerConfigError};
pub use energy::EnergyVad;
pub use silero::{SileroModel, SileroStream};

#[derive(Debug, thiserror::Error)]
pub enum VadError {
    #[error("ONNX Runtime library {path}: {reason}")]
    Runtime { path: String, reason: String },
    #[error("Silero VAD model {path}: {reason}")]
    Model { path: String, reason: String },
    #[error("Silero VAD inference: {0}")]
    Inference(String),
    #[error("Silero VAD output {name} has {actual} values, {expected} expected")]
    OutputShape { name: &'static str, expected: usize, actual: usize },
}
