//! Words no dictionary or rule can read go to hibari's small character transformer
//! (`oov.onnx`, with its alphabet in `oov.json`): one run per word, CTC-style output (repeats
//! collapsed, blanks dropped). Readings are cached: IVR prompts repeat the same brand names.

use std::collections::HashMap;
use std::path::Path;

use ort::session::Session;
use ort::value::TensorRef;
use serde::Deserialize;

use crate::error::G2pError;

/// `oov.json`: input alphabet, output phonemes (id = index + 1; 0 is the blank) and the
/// longest input the net was trained on.
#[derive(Debug, Deserialize)]
pub struct OovMeta {
    #[serde(rename = "in")]
    pub input: Vec<String>,
    #[serde(rename = "out")]
    pub output: Vec<String>,
    pub maxlen: usize,
}

/// Cached readings kept before the cache is cleared (bounded memory on open-ended text).
const CACHE_LIMIT: usize = 4096;

pub struct Oov {
    session: Session,
    chars: HashMap<char, i64>,
    phonemes: Vec<String>,
    maxlen: usize,
    ids: Vec<i64>,
    cache: HashMap<String, Option<String>>,
}

impl std::fmt::Debug for Oov {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Oov").field("alphabet", &self.chars.len()).field("cached", &self.cache.len()).finish()
    }
}

impl Oov {
    pub fn load(model: &Path, meta: OovMeta, env: &ort::environment::Environment) -> Result<Self, G2pError> {
        let model_error = |reason: String| G2pError::Model { path: model.to_owned(), reason };
        if !model.is_file() {
            return Err(G2pError::Read {
                path: model.to_owned(),
                source: std::io::Error::new(std::io::ErrorKind::NotFound, "file not found"),
            });
        }
        let session = Session::builder(env)
            .map_err(|e| model_error(e.to_string()))?
            .with_intra_threads(1)
            .map_err(|e| model_error(e.to_string()))?
            .with_inter_threads(1)
            .map_err(|e| model_error(e.to_string()))?
            .commit_from_file(model)
            .map_err(|e| model_error(e.to_string()))?;
        // Entries are single characters; a longer one could never match a character of input.
        let chars = meta
            .input
            .iter()
            .enumerate()
            .filter_map(|(i, s)| {
                let mut it = s.chars();
                match (it.next(), it.next()) {
                    (Some(c), None) => Some((c, i as i64 + 1)),
                    _ => None,
                }
            })
            .collect();
        Ok(Oov { session, chars, phonemes: meta.output, maxlen: meta.maxlen, ids: Vec::new(), cache: HashMap::new() })
    }

    /// Phonemes for one word, `None` when no character of it is in the net's alphabet.
    pub fn read(&mut self, word: &str) -> Result<Option<String>, G2pError> {
        if let Some(hit) = self.cache.get(word) {
            return Ok(hit.clone());
        }
        let reading = self.run(word)?;
        if self.cache.len() >= CACHE_LIMIT {
            self.cache.clear();
        }
        self.cache.insert(word.to_owned(), reading.clone());
        Ok(reading)
    }

    fn run(&mut self, word: &str) -> Result<Option<String>, G2pError> {
        self.ids.clear();
        self.ids.extend(word.chars().filter_map(|c| self.chars.get(&c).copied()).take(self.maxlen));
        if self.ids.is_empty() {
            return Ok(None);
        }
        let fail = |e: ort::Error| G2pError::Inference { word: word.to_owned(), reason: e.to_string() };
        let input = TensorRef::from_array_view(([1usize, self.ids.len()], &self.ids[..])).map_err(fail)?;
        let outputs = self.session.run(ort::inputs!["chars" => input]).map_err(fail)?;
        let (_, out) = outputs["ids"].try_extract_tensor::<i64>().map_err(fail)?;
        let mut ps = String::new();
        let mut prev = 0i64;
        for &id in out {
            if id != prev && id != 0 {
                // Ids past the alphabet cannot come from this net; skipped rather than trusted.
                if let Some(p) = usize::try_from(id - 1).ok().and_then(|i| self.phonemes.get(i)) {
                    ps.push_str(p);
                }
            }
            prev = id;
        }
        Ok(Some(ps))
    }
}
