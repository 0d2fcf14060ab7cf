//! Natural-language understanding for Attendant: what the caller wants and the values they gave.
//!
//! - [`Embedder`]: sentence embeddings from all-MiniLM-L6-v2 (a BERT encoder on candle tensors,
//!   CPU, f16 weights). Load once, share through an `Arc`, call from compute threads: about
//!   6 ms for a ten-token transcript and 10 ms for twenty tokens on one core
//!   (`benches/benches/nlu.rs`).
//! - [`IntentClassifier`]: intents from a handful of examples each, scored by nearest example
//!   embeddings plus word overlap, with a calibrated confidence and a no-match threshold.
//!   [`IntentClassifier::classify`] does no model work (about 25 µs for 70 examples): the
//!   embedding is computed beforehand on a compute thread.
//! - Slots: [`spoken_digits`] (account numbers from ASR text), [`yes_no`].
//! - [`DtmfCollector`]: sans-IO collection of keypad digits with finish key and timeouts.
//!
//! Mapping DTMF keys or intents to routing decisions belongs to the flow crate.

mod bert;
mod calibrate;
mod dtmf;
mod embed;
mod error;
mod intent;
mod lexical;
mod score;
mod slots;

pub use dtmf::{Collected, DtmfCollect, DtmfCollector, EndedBy};
pub use embed::{Embedder, Embedding, EMBEDDING_DIM, MODEL_DIR_NAME};
pub use error::NluError;
pub use intent::{
    CalibrationSummary, Classification, ClassifierConfig, IntentClassifier, IntentSpec, MatchSource,
};
pub use slots::{spoken_digits, yes_no};

/// The everyday sentences calibration uses as negatives unless
/// [`ClassifierConfig::builtin_negatives`] is off (for tools that study the classifier).
pub fn builtin_negatives() -> &'static [&'static str] {
    calibrate::BACKGROUND
}
