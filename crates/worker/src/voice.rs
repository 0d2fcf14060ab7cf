//! The prompt voice: the hibari neural voice when its files are in the models directory, else
//! espeak-ng.
//!
//! A worker without `models/hibari` still answers calls: it speaks with espeak-ng and says why
//! once at start-up, rather than refusing to start. A voice that is present but does not load
//! (a corrupt or truncated file) falls back the same way, with the load error in the warning:
//! the operator hears a robotic voice and reads why in the log, which beats a pod that
//! crash-loops on a bad model download.

use std::path::{Path, PathBuf};
use std::sync::Arc;

use anyhow::Context as _;
use tts::{Hibari, HibariVoice, Phonemizer, Synthesizer};

use crate::models::{ModelDir, ModelFile};

/// Renderer caches key on this name: it names the model, its speaker and the G2P that feeds it.
pub const HIBARI_NAME: &str = "hibari-0.2.1/heart/g2p-us";

/// Files of `models/hibari` that loading the voice reads, checked before loading so that a
/// missing one is reported by name. The model comes first: when the whole directory is missing,
/// the warning names the model.
const HIBARI_FILES: [&str; 9] = [
    "hibari.onnx",
    "vocab.json",
    "lexicon_us_gold.json.gz",
    "lexicon_us_silver.json.gz",
    "tagger.json.gz",
    "tokenizer_exceptions.json",
    "normalize.json",
    "oov.json",
    "oov.onnx",
];

/// Which engine speaks.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum VoiceKind {
    Hibari,
    Espeak,
}

/// Why the neural voice cannot be used.
#[derive(Debug, thiserror::Error)]
pub enum HibariUnavailable {
    /// A file it needs is not there (not fetched).
    #[error("{}: file not found", .0.display())]
    Missing(PathBuf),
    /// Its files are there but did not load.
    #[error("{0}")]
    Load(String),
}

/// The hibari voice (speaker "heart", American G2P) if it loads, else espeak-ng with a warning
/// saying what was missing or broken, e.g. `neural voice unavailable
/// (models/hibari/hibari.onnx: file not found); prompts use espeak-ng`. The caller prints it.
/// An error only when espeak-ng fails too.
pub fn load_voice(models: &ModelDir) -> anyhow::Result<(Arc<dyn Synthesizer>, Option<String>)> {
    match load_hibari(models) {
        Ok(voice) => Ok((Arc::new(voice), None)),
        Err(why) => {
            let espeak = load_espeak().with_context(|| format!("neural voice unavailable ({why}), and the fallback failed"))?;
            Ok((espeak, Some(format!("neural voice unavailable ({why}); prompts use espeak-ng"))))
        }
    }
}

/// One engine, without fallback (`attendant say --voice`).
pub fn load_kind(models: &ModelDir, kind: VoiceKind) -> anyhow::Result<Arc<dyn Synthesizer>> {
    match kind {
        VoiceKind::Hibari => Ok(Arc::new(load_hibari(models).context("neural voice (hibari)")?)),
        VoiceKind::Espeak => load_espeak(),
    }
}

/// The hibari voice with the `g2p` crate's American phonemizer and sentence splitter.
pub fn load_hibari(models: &ModelDir) -> Result<Hibari, HibariUnavailable> {
    let dir = models.path().join(ModelFile::Hibari.file_name());
    for name in HIBARI_FILES {
        require_file(&dir.join(name))?;
    }
    let runtime = models.path().join(ModelFile::OnnxRuntime.file_name());
    require_file(&runtime)?;
    let load = |e: &dyn std::fmt::Display| HibariUnavailable::Load(e.to_string());
    let env = vad::silero::ort_environment(&runtime).map_err(|e| load(&e))?;
    let voice = HibariVoice::load(&dir.join("hibari.onnx"), &dir.join("vocab.json"), &env).map_err(|e| load(&e))?;
    let g2p = g2p::G2p::load(&dir, g2p::Accent::Us, &env).map_err(|e| load(&e))?;
    let splitter: tts::hibari::SentenceSplitter = Arc::new(g2p::split_sentences);
    Ok(Hibari::new(voice, Box::new(G2pPhonemizer(g2p)), HIBARI_NAME.to_owned()).with_sentence_splitter(splitter))
}

fn require_file(path: &Path) -> Result<(), HibariUnavailable> {
    if path.is_file() {
        Ok(())
    } else {
        Err(HibariUnavailable::Missing(path.to_path_buf()))
    }
}

fn load_espeak() -> anyhow::Result<Arc<dyn Synthesizer>> {
    let espeak = tts::Espeak::new(tts::EspeakConfig::default()).context("prompt voice (espeak-ng)")?;
    Ok(Arc::new(espeak))
}

/// [`g2p::G2p`] as the voice's [`Phonemizer`]: phone-menu readings of numbers, dates and money.
#[derive(Debug)]
pub struct G2pPhonemizer(pub g2p::G2p);

impl Phonemizer for G2pPhonemizer {
    fn phonemize(&mut self, sentence: &str) -> Result<String, String> {
        self.0.phonemize(sentence).map_err(|e| e.to_string())
    }
}
