//! Sentence embeddings: all-MiniLM-L6-v2 (BERT) through candle, mean pooled and L2-normalized.

use std::path::{Path, PathBuf};

use candle_core::{DType, Device};
use tokenizers::{Tokenizer, TruncationParams};

use crate::bert::{Bert, BertConfig};
use crate::NluError;

/// Width of an [`Embedding`] (all-MiniLM-L6-v2's hidden size).
pub const EMBEDDING_DIM: usize = 384;

/// The model's folder inside the models directory, as `tools/fetch_models.py` writes it.
pub const MODEL_DIR_NAME: &str = "all-MiniLM-L6-v2";

/// Longest input in tokens (with `[CLS]`/`[SEP]`). The model was trained on 128; a caller who
/// talks for longer is cut, which also bounds the cost of one embedding.
const MAX_TOKENS: usize = 128;

/// A sentence embedding: [`EMBEDDING_DIM`] floats of unit length.
#[derive(Debug, Clone, PartialEq)]
pub struct Embedding(Box<[f32]>);

impl Embedding {
    /// Cosine similarity. Both sides are unit length, so this is the dot product, in [-1, 1].
    pub fn cosine(&self, other: &Embedding) -> f32 {
        self.0.iter().zip(other.0.iter()).map(|(a, b)| a * b).sum()
    }

    pub fn as_slice(&self) -> &[f32] {
        &self.0
    }

    /// Normalizes `v` to unit length; `None` if it has no direction (all zero or not finite).
    pub(crate) fn from_unnormalized(mut v: Vec<f32>) -> Option<Embedding> {
        let norm = v.iter().map(|x| x * x).sum::<f32>().sqrt();
        if !norm.is_finite() || norm <= f32::EPSILON {
            return None;
        }
        v.iter_mut().for_each(|x| *x /= norm);
        Some(Embedding(v.into_boxed_slice()))
    }
}

/// The loaded model and tokenizer. Immutable after load, so `Send + Sync`: share one through an
/// `Arc` across compute threads.
///
/// Threads: candle runs its matrix products on a rayon pool sized by `RAYON_NUM_THREADS` (or the
/// physical core count). One short sentence gains little from a second thread, so a worker that
/// embeds on its own compute pool should set `RAYON_NUM_THREADS=1` to keep candle from
/// competing with that pool.
pub struct Embedder {
    model: Bert,
    tokenizer: Tokenizer,
}

impl std::fmt::Debug for Embedder {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Embedder").finish_non_exhaustive()
    }
}

impl Embedder {
    /// Loads `model.safetensors`, `tokenizer.json` and `config.json` from `dir` (usually
    /// `models/all-MiniLM-L6-v2`). A missing file gives [`NluError::ModelFileMissing`], whose
    /// message names the file and the fetch command.
    pub fn load(dir: &Path) -> Result<Embedder, NluError> {
        let weights = existing(dir, "model.safetensors")?;
        let tokenizer_path = existing(dir, "tokenizer.json")?;
        let config_path = existing(dir, "config.json")?;

        let config_text = read(&config_path)?;
        let config: BertConfig =
            serde_json::from_slice(&config_text).map_err(|e| NluError::BadConfig {
                path: config_path.clone(),
                reason: e.to_string(),
            })?;
        if config.hidden_size != EMBEDDING_DIM {
            return Err(NluError::BadConfig {
                path: config_path,
                reason: format!(
                    "hidden_size {} (expected {EMBEDDING_DIM})",
                    config.hidden_size
                ),
            });
        }

        let mut tokenizer =
            Tokenizer::from_file(&tokenizer_path).map_err(|e| NluError::Tokenizer {
                path: tokenizer_path.clone(),
                reason: e.to_string(),
            })?;
        // The shipped tokenizer.json pads every input to 128 tokens. Pooling then averages the
        // padding and all sentences look alike (cosine 0.8-0.9), so padding goes: one sentence
        // at a time needs none, and the mean below runs over exactly the sentence's tokens.
        tokenizer.with_padding(None);
        tokenizer
            .with_truncation(Some(TruncationParams {
                max_length: MAX_TOKENS,
                ..Default::default()
            }))
            .map_err(|e| NluError::Tokenizer {
                path: tokenizer_path,
                reason: e.to_string(),
            })?;

        // Read into memory rather than mmap: safe code only, and the file is 90 MB.
        let bytes = read(&weights)?;
        let werr = |source| NluError::Weights {
            path: weights.clone(),
            source,
        };
        let tensors = candle_core::safetensors::load_buffer(&bytes, &Device::Cpu).map_err(werr)?;
        drop(bytes);
        let model = Bert::new(tensors, &config).map_err(werr)?;
        Ok(Embedder { model, tokenizer })
    }

    /// Embeds one text: BERT hidden states, mean over the text's tokens (`[CLS]` and `[SEP]`
    /// included, as sentence-transformers pools), L2-normalized. Texts longer than 128 tokens
    /// are cut there. Text with no letter or digit (empty, blanks, punctuation) gives
    /// [`NluError::EmptyText`]: there is no meaning to compare, and the caller treats it as no
    /// input rather than as a match against whatever the model makes of `[CLS] [SEP]`.
    pub fn embed(&self, text: &str) -> Result<Embedding, NluError> {
        if !text.chars().any(char::is_alphanumeric) {
            return Err(NluError::EmptyText);
        }
        let enc = self
            .tokenizer
            .encode(text, true)
            .map_err(|e| NluError::Tokenize(e.to_string()))?;
        let hidden = self.model.forward(enc.get_ids())?; // [tokens, 384]
        let pooled: Vec<f32> = hidden.mean(0)?.to_dtype(DType::F32)?.to_vec1()?;
        Embedding::from_unnormalized(pooled).ok_or(NluError::EmptyText)
    }

    /// Embeds several texts, one after the other (no padding, so nothing to mask). Any empty
    /// text fails the whole call with [`NluError::EmptyText`].
    pub fn embed_batch(&self, texts: &[&str]) -> Result<Vec<Embedding>, NluError> {
        texts.iter().map(|t| self.embed(t)).collect()
    }
}

fn existing(dir: &Path, name: &str) -> Result<PathBuf, NluError> {
    let path = dir.join(name);
    if path.is_file() {
        Ok(path)
    } else {
        Err(NluError::ModelFileMissing { path })
    }
}

fn read(path: &Path) -> Result<Vec<u8>, NluError> {
    std::fs::read(path).map_err(|source| NluError::Io {
        path: path.to_path_buf(),
        source,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    fn assert_send_sync<T: Send + Sync>() {}

    #[test]
    fn embedder_is_send_and_sync() {
        assert_send_sync::<Embedder>();
        assert_send_sync::<Embedding>();
    }

    #[test]
    fn missing_model_dir_names_the_file_and_the_fetch_command() {
        let err = Embedder::load(Path::new("/nonexistent/models/all-MiniLM-L6-v2"))
            .expect_err("no model there");
        let msg = err.to_string();
        assert!(matches!(err, NluError::ModelFileMissing { .. }));
        assert!(msg.contains("model.safetensors"), "{msg}");
        assert!(msg.contains("python3 tools/fetch_models.py"), "{msg}");
    }

    #[test]
    fn zero_vector_has_no_embedding() {
        assert!(Embedding::from_unnormalized(vec![0.0; 4]).is_none());
        assert!(Embedding::from_unnormalized(vec![f32::NAN; 4]).is_none());
        let e = Embedding::from_unnormalized(vec![3.0, 4.0]).expect("non-zero");
        assert!((e.cosine(&e) - 1.0).abs() < 1e-6);
    }
}
