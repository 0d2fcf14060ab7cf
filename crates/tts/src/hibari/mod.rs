//! The hibari neural voice (hibari-tts 0.2.1, a 7.9 MB model distilled from Kokoro-82M): phoneme
//! strings in, 24 kHz speech out, through `ort` and the [`vocoder`].
//!
//! Two layers:
//! - [`HibariVoice`]: the model and vocoder. Takes phoneme strings in the model's alphabet
//!   (misaki conventions, e.g. `həlˈO ðˈɛɹ.`); knows nothing of text.
//! - [`Hibari`]: a [`crate::Synthesizer`] that pairs a voice with a caller-supplied
//!   [`Phonemizer`] (text to phonemes) and a sentence splitter, reads SSML-lite, and streams one
//!   chunk per sentence.
//!
//! Concurrency: `ort` 2.0.0-rc.15 runs a session through `&mut`, so one session sits behind a
//! `Mutex` and model runs take turns. The lock is held only for the run and the copy of its
//! outputs (about 1 ms per second of audio); the vocoder, about a quarter of the work, runs outside
//! it on a per-caller workspace taken from a small pool. A second session per voice would cost
//! another model load (tens of MB of runtime state) for a stage whose output is cached by the
//! renderer; the mutex is the simpler choice until profiles show callers queueing on it.

mod fastmath;
mod speaker;
pub mod vocoder;

use std::collections::HashMap;
use std::path::{Path, PathBuf};
use std::sync::{Mutex, MutexGuard, PoisonError};

use ort::environment::Environment;
use ort::session::Session;
use ort::value::TensorRef;

pub use speaker::{split_sentences, Hibari, Phonemizer, SentenceSplitter};
use vocoder::{ComplexNoise, Spectra, Vocoder, BINS};

use crate::TtsError;

/// Phoneme strings longer than this (in characters) are split at clause punctuation, as the
/// reference does: the model was trained on sentences, and attention cost grows with the square
/// of the length.
pub const MAX_PHONEMES: usize = 400;
/// Speeds outside this range are refused: the model was trained on 0.5 to 2.0, and far outside
/// it durations collapse or explode.
pub const SPEED_RANGE: std::ops::RangeInclusive<f32> = 0.25..=4.0;
/// Workspaces kept for reuse; more concurrent callers than this allocate and drop their own.
const MAX_IDLE_WORKSPACES: usize = 8;

/// Settings of a loaded voice.
#[derive(Debug, Clone, PartialEq)]
pub struct HibariOptions {
    /// Scales the noise branch (breath, fricatives). Default 1: the model's own level. 0 leaves
    /// the branch out, which makes the output independent of the seed (used to compare with the
    /// reference implementation).
    pub noise_gain: f32,
}

impl Default for HibariOptions {
    fn default() -> Self {
        Self { noise_gain: 1.0 }
    }
}

/// The hibari model with its phoneme vocabulary. `&self` throughout; share it in an `Arc`.
pub struct HibariVoice {
    session: Mutex<Session>,
    vocab: HashMap<char, i64>,
    options: HibariOptions,
    model_path: PathBuf,
    idle: Mutex<Vec<Workspace>>,
}

impl std::fmt::Debug for HibariVoice {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("HibariVoice")
            .field("model", &self.model_path)
            .field("vocab", &self.vocab.len())
            .field("options", &self.options)
            .finish_non_exhaustive()
    }
}

/// One caller's buffers: ids, the model's outputs (frame-major), the vocoder.
#[derive(Debug, Default)]
struct Workspace {
    ids: Vec<i64>,
    lh: Vec<f32>,
    theta: Vec<f32>,
    ln: Vec<f32>,
    lr: Vec<f32>,
    phi: Vec<f32>,
    f0: Vec<f32>,
    vocoder: Vocoder,
}

impl HibariVoice {
    /// Loads `model` (hibari.onnx) and `vocab` (vocab.json) with [`HibariOptions::default`].
    /// The model runs on the calling thread (one intra-op thread): parallelism comes from the
    /// worker's compute pool.
    pub fn load(model: &Path, vocab: &Path, env: &Environment) -> Result<Self, TtsError> {
        Self::load_with(model, vocab, env, HibariOptions::default())
    }

    pub fn load_with(model: &Path, vocab: &Path, env: &Environment, options: HibariOptions) -> Result<Self, TtsError> {
        if !(options.noise_gain.is_finite() && options.noise_gain >= 0.0) {
            return Err(TtsError::InvalidConfig { field: "noise_gain", reason: format!("{} is not a finite gain >= 0", options.noise_gain) });
        }
        let vocab = load_vocab(vocab)?;
        if !model.is_file() {
            return Err(TtsError::FileNotFound { what: "hibari model", path: model.to_path_buf() });
        }
        let corrupt = |e: ort::Error| TtsError::CorruptFile { what: "hibari model", path: model.to_path_buf(), reason: e.to_string() };
        let session = Session::builder(env)
            .map_err(corrupt)?
            .with_intra_threads(1)
            .map_err(|e| corrupt(e.into()))?
            .with_inter_threads(1)
            .map_err(|e| corrupt(e.into()))?
            .commit_from_file(model)
            .map_err(corrupt)?;
        let names: Vec<&str> = session.outputs().iter().map(|o| o.name()).collect();
        for want in ["lh", "theta", "ln", "lr", "phi", "f0"] {
            if !names.contains(&want) {
                let reason = format!("no output {want:?} (outputs: {names:?}); not a hibari model");
                return Err(TtsError::CorruptFile { what: "hibari model", path: model.to_path_buf(), reason });
            }
        }
        Ok(Self { session: Mutex::new(session), vocab, options, model_path: model.to_path_buf(), idle: Mutex::new(Vec::new()) })
    }

    pub fn options(&self) -> &HibariOptions {
        &self.options
    }

    /// Appends the speech for `phonemes` to `out` as 24 kHz mono samples. `speed` 1 is the
    /// voice's own pace (0.5 slow, 2 fast); `seed` fixes the noise branch, so equal arguments
    /// give equal samples. Characters outside the vocabulary are dropped; a string with nothing
    /// left (or only whitespace) appends nothing. Strings over [`MAX_PHONEMES`] characters are
    /// rendered in pieces cut at clause punctuation, one noise sequence across them.
    pub fn synthesize_phonemes(&self, phonemes: &str, speed: f32, seed: u64, out: &mut Vec<f32>) -> Result<(), TtsError> {
        if !SPEED_RANGE.contains(&speed) {
            return Err(TtsError::InvalidConfig { field: "speed", reason: format!("{speed} is outside {SPEED_RANGE:?}") });
        }
        if phonemes.trim().is_empty() {
            return Ok(());
        }
        let mut noise = (self.options.noise_gain > 0.0).then(|| ComplexNoise::new(seed, self.options.noise_gain));
        let mut ws = self.take_workspace();
        let mut result = Ok(());
        for piece in split_phonemes(phonemes, MAX_PHONEMES) {
            ws.ids.clear();
            ws.ids.push(0);
            ws.ids.extend(piece.chars().filter_map(|c| self.vocab.get(&c).copied()));
            ws.ids.push(0);
            if ws.ids.len() < 3 {
                continue;
            }
            if let Err(e) = self.run_model(&mut ws, speed) {
                result = Err(e);
                break;
            }
            let Workspace { lh, theta, ln, lr, phi, f0, vocoder, .. } = &mut ws;
            vocoder.render(&Spectra { lh, theta, ln, lr, phi, f0 }, noise.as_mut(), out);
        }
        self.give_back(ws);
        result
    }

    /// Runs the model on `ws.ids` and leaves its outputs in `ws`, transposed to frame-major.
    fn run_model(&self, ws: &mut Workspace, speed: f32) -> Result<(), TtsError> {
        let inference = |e: ort::Error| TtsError::Inference(e.to_string());
        let speed = [speed];
        let ids = TensorRef::from_array_view(([1, ws.ids.len()], &ws.ids[..])).map_err(inference)?;
        let speed = TensorRef::from_array_view(([1], &speed[..])).map_err(inference)?;
        let mut session = self.session.lock().unwrap_or_else(PoisonError::into_inner);
        let outputs = session.run(ort::inputs!["ids" => ids, "speed" => speed]).map_err(inference)?;
        let (shape, f0) = outputs["f0"].try_extract_tensor::<f32>().map_err(inference)?;
        let frames = match **shape {
            [1, f] if f >= 0 => f as usize,
            _ => return Err(TtsError::ModelOutput { name: "f0", reason: format!("shape {shape:?}, expected [1, F]") }),
        };
        ws.f0.clear();
        ws.f0.extend_from_slice(f0);
        for (name, dst) in [("lh", &mut ws.lh), ("theta", &mut ws.theta), ("ln", &mut ws.ln), ("lr", &mut ws.lr), ("phi", &mut ws.phi)] {
            let (shape, src) = outputs[name].try_extract_tensor::<f32>().map_err(inference)?;
            if **shape != [1, BINS as i64, frames as i64] || src.len() != BINS * frames {
                return Err(TtsError::ModelOutput { name, reason: format!("shape {shape:?}, expected [1, {BINS}, {frames}]") });
            }
            transpose(src, BINS, frames, dst);
        }
        Ok(())
    }

    fn take_workspace(&self) -> Workspace {
        self.lock_idle().pop().unwrap_or_default()
    }

    fn give_back(&self, ws: Workspace) {
        let mut idle = self.lock_idle();
        if idle.len() < MAX_IDLE_WORKSPACES {
            idle.push(ws);
        }
    }

    fn lock_idle(&self) -> MutexGuard<'_, Vec<Workspace>> {
        // The pool holds whole workspaces only (push and pop), never a half-updated one.
        self.idle.lock().unwrap_or_else(PoisonError::into_inner)
    }
}

/// `dst` becomes the `cols x rows` transpose of the row-major `rows x cols` matrix `src`. In
/// tiles, so that both sides stay in cache.
fn transpose(src: &[f32], rows: usize, cols: usize, dst: &mut Vec<f32>) {
    const TILE: usize = 32;
    dst.clear();
    dst.resize(rows * cols, 0.0);
    for r0 in (0..rows).step_by(TILE) {
        for c0 in (0..cols).step_by(TILE) {
            for r in r0..(r0 + TILE).min(rows) {
                for c in c0..(c0 + TILE).min(cols) {
                    dst[c * rows + r] = src[r * cols + c];
                }
            }
        }
    }
}

/// Reads vocab.json: an object from one phoneme character to its id.
fn load_vocab(path: &Path) -> Result<HashMap<char, i64>, TtsError> {
    let text = std::fs::read_to_string(path).map_err(|e| match e.kind() {
        std::io::ErrorKind::NotFound => TtsError::FileNotFound { what: "hibari vocabulary", path: path.to_path_buf() },
        _ => TtsError::CorruptFile { what: "hibari vocabulary", path: path.to_path_buf(), reason: e.to_string() },
    })?;
    let corrupt = |reason: String| TtsError::CorruptFile { what: "hibari vocabulary", path: path.to_path_buf(), reason };
    let map: HashMap<String, serde_json::Value> = serde_json::from_str(&text).map_err(|e| corrupt(e.to_string()))?;
    let mut vocab = HashMap::with_capacity(map.len());
    for (key, value) in map {
        let mut chars = key.chars();
        let (Some(c), None) = (chars.next(), chars.next()) else {
            return Err(corrupt(format!("key {key:?} is not one character")));
        };
        // Id 0 is the pad; the model's embedding table is small.
        let Some(id) = value.as_i64().filter(|id| (1..=4096).contains(id)) else {
            return Err(corrupt(format!("id of {key:?} is {value}, expected an integer in 1..=4096")));
        };
        vocab.insert(c, id);
    }
    if vocab.is_empty() {
        return Err(corrupt("no entries".to_owned()));
    }
    Ok(vocab)
}

/// Cuts a phoneme string into pieces of at most `max` characters. As the reference: split after
/// clause punctuation (`, ; : —`) and rejoin greedily with single spaces. Beyond the reference, a
/// clause still over `max` is cut at spaces, and a single word over `max` by characters, so that
/// no input (however long or unpunctuated) reaches the model in one run.
fn split_phonemes(ps: &str, max: usize) -> Vec<String> {
    let len = |s: &str| s.chars().count();
    if len(ps) <= max {
        return vec![ps.to_owned()];
    }
    let mut pieces = Vec::new();
    let mut cur = String::new();
    let push = |part: &str, cur: &mut String, pieces: &mut Vec<String>| {
        if !cur.is_empty() && len(cur) + len(part) + 1 > max {
            pieces.push(std::mem::take(cur));
        }
        if !cur.is_empty() {
            cur.push(' ');
        }
        cur.push_str(part);
    };
    for clause in split_clauses(ps) {
        if len(clause) <= max {
            push(clause, &mut cur, &mut pieces);
            continue;
        }
        for word in clause.split_whitespace() {
            if len(word) <= max {
                push(word, &mut cur, &mut pieces);
                continue;
            }
            let chars: Vec<char> = word.chars().collect();
            for part in chars.chunks(max) {
                push(&part.iter().collect::<String>(), &mut cur, &mut pieces);
            }
        }
    }
    if !cur.is_empty() {
        pieces.push(cur);
    }
    pieces
}

/// `re.split(r"(?<=[,;:—])\s+", ps)`: the text between whitespace runs that follow clause
/// punctuation.
fn split_clauses(ps: &str) -> Vec<&str> {
    let mut parts = Vec::new();
    let mut start = 0;
    let mut prev: Option<char> = None;
    let mut iter = ps.char_indices().peekable();
    while let Some((i, c)) = iter.next() {
        if c.is_whitespace() && matches!(prev, Some(',' | ';' | ':' | '—')) {
            parts.push(&ps[start..i]);
            let mut end = i + c.len_utf8();
            while let Some(&(j, w)) = iter.peek() {
                if !w.is_whitespace() {
                    break;
                }
                end = j + w.len_utf8();
                iter.next();
            }
            start = end;
            prev = None;
            continue;
        }
        prev = Some(c);
    }
    parts.push(&ps[start..]);
    parts
}

#[cfg(test)]
#[allow(clippy::unwrap_used)]
mod tests {
    use super::*;

    #[test]
    fn short_phoneme_strings_are_one_piece() {
        assert_eq!(split_phonemes("həlˈO, ðˈɛɹ.", 400), ["həlˈO, ðˈɛɹ."]);
    }

    #[test]
    fn long_phoneme_strings_split_at_clause_punctuation_like_the_reference() {
        assert_eq!(split_clauses("a, b;  c d: e—\tf"), ["a,", "b;", "c d:", "e—", "f"]);
        // Greedy rejoin: "aaa, bbb," is 9 > 8, so "bbb," starts a new piece and "ccc" joins it (8).
        assert_eq!(split_phonemes("aaa, bbb, ccc", 8), ["aaa,", "bbb, ccc"]);
        let ps = "wˈʌn, ".repeat(100);
        let pieces = split_phonemes(ps.trim_end(), MAX_PHONEMES);
        assert!(pieces.len() >= 2);
        assert!(pieces.iter().all(|p| p.chars().count() <= MAX_PHONEMES));
        assert_eq!(pieces.join(" "), ps.trim_end());
    }

    #[test]
    fn unpunctuated_and_single_word_overlong_strings_are_still_bounded() {
        let words = "ab ".repeat(300);
        let pieces = split_phonemes(&words, 100);
        assert!(pieces.iter().all(|p| p.chars().count() <= 100), "{pieces:?}");
        let one = "ə".repeat(950);
        let pieces = split_phonemes(&one, 400);
        assert_eq!(pieces.iter().map(|p| p.chars().count()).collect::<Vec<_>>(), [400, 400, 150]);
    }

    #[test]
    fn transpose_tiles_cover_every_element() {
        let (rows, cols) = (37, 70);
        let src: Vec<f32> = (0..rows * cols).map(|i| i as f32).collect();
        let mut dst = Vec::new();
        transpose(&src, rows, cols, &mut dst);
        for r in 0..rows {
            for c in 0..cols {
                assert_eq!(dst[c * rows + r], src[r * cols + c]);
            }
        }
    }

    #[test]
    fn vocab_errors_name_the_file_and_problem() {
        let dir = std::env::temp_dir().join(format!("attendant-tts-vocab-{}", std::process::id()));
        std::fs::create_dir_all(&dir).unwrap();
        let missing = dir.join("missing.json");
        assert!(matches!(load_vocab(&missing), Err(TtsError::FileNotFound { what: "hibari vocabulary", .. })));
        for (body, needle) in [("{not json", "key must be a string"), (r#"{"ab": 3}"#, "not one character"), (r#"{"a": "x"}"#, "expected an integer"), ("{}", "no entries")] {
            let p = dir.join("v.json");
            std::fs::write(&p, body).unwrap();
            let e = load_vocab(&p).unwrap_err();
            assert!(matches!(e, TtsError::CorruptFile { .. }) && e.to_string().contains(needle), "{e}");
        }
        std::fs::remove_dir_all(&dir).unwrap();
    }
}
