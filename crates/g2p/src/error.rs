//! Errors of the G2P crate. Loading names the file at fault; phonemizing only fails when the
//! out-of-lexicon network itself fails at run time.

use std::path::PathBuf;

/// Everything that can go wrong loading the hibari G2P assets or running the OOV net.
#[derive(Debug, thiserror::Error)]
pub enum G2pError {
    /// An asset file could not be opened or read.
    #[error("cannot read {path}: {source}")]
    Read {
        path: PathBuf,
        #[source]
        source: std::io::Error,
    },
    /// An asset file was read but is not the JSON shape this crate expects.
    #[error("{path} is not a valid asset: {reason}")]
    Corrupt { path: PathBuf, reason: String },
    /// ONNX Runtime rejected the OOV network file.
    #[error("cannot load OOV network {path}: {reason}")]
    Model { path: PathBuf, reason: String },
    /// The OOV network failed while reading a word (a runtime fault, not a text problem).
    #[error("OOV network failed on {word:?}: {reason}")]
    Inference { word: String, reason: String },
}
