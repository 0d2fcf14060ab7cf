//! The crate's one error type.

use std::path::PathBuf;

/// Why loading the model, embedding a text or building a classifier failed.
#[derive(Debug, thiserror::Error)]
pub enum NluError {
    /// A file of the embedding model is not in the models directory.
    #[error(
        "embedding model file {path} is missing; run `python3 tools/fetch_models.py` \
         (or point ATTENDANT_MODELS at a models directory that has all-MiniLM-L6-v2/)"
    )]
    ModelFileMissing { path: PathBuf },
    /// A model file exists but cannot be read.
    #[error("cannot read {path}: {source}")]
    Io {
        path: PathBuf,
        #[source]
        source: std::io::Error,
    },
    /// `config.json` is not a BERT configuration this crate can run.
    #[error("{path}: invalid BERT config: {reason}")]
    BadConfig { path: PathBuf, reason: String },
    /// `tokenizer.json` cannot be loaded or configured.
    #[error("{path}: cannot load tokenizer: {reason}")]
    Tokenizer { path: PathBuf, reason: String },
    /// The weights do not load into the BERT graph (missing tensor, wrong shape).
    #[error("{path}: cannot load weights: {source}")]
    Weights {
        path: PathBuf,
        #[source]
        source: candle_core::Error,
    },
    /// Tokenizing an input text failed.
    #[error("cannot tokenize text: {0}")]
    Tokenize(String),
    /// The forward pass failed (a bug or a corrupted model, not bad input).
    #[error("embedding forward pass failed: {0}")]
    Forward(#[from] candle_core::Error),
    /// The text has no letters or digits: there is nothing to embed.
    #[error("text is empty (no letters or digits): nothing to embed")]
    EmptyText,
    /// An intent specification is unusable; the message names the intent and the field.
    #[error("intent {intent:?}: {reason}")]
    BadIntent { intent: String, reason: String },
    /// A classifier setting is out of range; `field` names it.
    #[error("classifier config: {field}: {reason}")]
    BadConfigValue { field: &'static str, reason: String },
}
