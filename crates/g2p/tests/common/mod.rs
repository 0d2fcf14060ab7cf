//! Shared test setup: the models directory and the process-wide ONNX Runtime environment.

use std::path::PathBuf;

/// `models/` of the workspace, or `ATTENDANT_MODELS` when set.
pub fn models_dir() -> PathBuf {
    std::env::var_os("ATTENDANT_MODELS")
        .map(PathBuf::from)
        .unwrap_or_else(|| PathBuf::from(concat!(env!("CARGO_MANIFEST_DIR"), "/../../models")))
}

pub fn hibari_dir() -> PathBuf {
    models_dir().join("hibari")
}

pub fn env() -> ort::environment::Environment {
    vad::silero::ort_environment(&models_dir().join("libonnxruntime.so"))
        .expect("ONNX Runtime from models/libonnxruntime.so")
}

pub fn g2p() -> attendant_g2p::G2p {
    attendant_g2p::G2p::load(&hibari_dir(), attendant_g2p::Accent::Us, &env()).expect("hibari assets in models/hibari")
}
