//! English text to phonemes for the hibari neural voice.
//!
//! A Rust implementation of the algorithm of hibari-tts 0.2.1's G2P (itself a port of misaki
//! 0.9.4, the G2P Kokoro was trained with): normalize -> tokenize (spaCy's English rules) ->
//! part-of-speech tagging (averaged perceptron) -> lexicon with part-of-speech and context
//! rules -> a character transformer (`oov.onnx`) for words no dictionary knows. In front of
//! hibari's normalization sits [`normalize_phone_text`], which reads money, phone numbers,
//! times, dates and keypad keys the way a phone menu says them.
//!
//! ```no_run
//! # fn main() -> Result<(), Box<dyn std::error::Error>> {
//! # let env: ort::environment::Environment = unimplemented!();
//! let mut g2p = attendant_g2p::G2p::load("models/hibari".as_ref(), attendant_g2p::Accent::Us, &env)?;
//! for sentence in attendant_g2p::split_sentences("Thank you for calling. For billing, press 1.") {
//!     println!("{}", g2p.phonemize(&sentence)?);
//! }
//! # Ok(()) }
//! ```
//!
//! The output uses only characters of the voice's `vocab.json` (phonemes, stress marks,
//! spaces, the punctuation the voice knows).

mod error;
mod lexicon;
mod normalize;
mod numbers;
mod numread;
mod oov;
mod phone;
mod pipeline;
mod sentences;
mod tagger;
mod text;
mod tokenize;

use std::collections::{HashMap, HashSet};
use std::io::Read;
use std::path::{Path, PathBuf};

use fancy_regex::Regex;
use serde::de::DeserializeOwned;

pub use error::G2pError;
pub use phone::normalize_phone_text;
pub use sentences::split_sentences;

use lexicon::{Dict, Lexicon};
use normalize::{Normalizer, Tables};
use oov::{Oov, OovMeta};
use pipeline::{Patterns, Reader, Tok};
use tagger::Tagger;
use tokenize::Tokenizer;

/// Which of hibari's lexicons and OOV nets to use.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Accent {
    /// American English (`lexicon_us_*`, `oov.onnx`).
    Us,
    /// British English (`lexicon_gb_*`, `oov_gb.onnx`; no flapped t, ɪ in -es/-ed).
    Gb,
}

/// The loaded G2P: dictionaries, tagger, tokenizer, normalizer and OOV net. Load once and
/// reuse; `phonemize` takes `&mut self` because the OOV net's session and cache are mutable.
#[derive(Debug)]
pub struct G2p {
    lexicon: Lexicon,
    tokenizer: Tokenizer,
    tagger: Tagger,
    normalizer: Normalizer,
    patterns: Patterns,
    /// `[text](/phonemes/)`: a prompt author's own reading of a word.
    link: Regex,
    oov: Oov,
    vocab: HashSet<char>,
}

fn read_file(path: &Path) -> Result<Vec<u8>, G2pError> {
    let read_error = |source| G2pError::Read { path: path.to_owned(), source };
    let file = std::fs::read(path).map_err(read_error)?;
    if path.extension().is_some_and(|e| e == "gz") {
        let mut out = Vec::with_capacity(file.len() * 6);
        flate2::read::GzDecoder::new(&file[..]).read_to_end(&mut out).map_err(read_error)?;
        return Ok(out);
    }
    Ok(file)
}

fn read_json<T: DeserializeOwned>(path: &Path) -> Result<T, G2pError> {
    let bytes = read_file(path)?;
    serde_json::from_slice(&bytes).map_err(|e| G2pError::Corrupt { path: path.to_owned(), reason: e.to_string() })
}

fn corrupt(path: PathBuf) -> impl FnOnce(String) -> G2pError {
    move |reason| G2pError::Corrupt { path, reason }
}

impl G2p {
    /// Loads the G2P assets of `accent` from `assets` (the `models/hibari` directory). A
    /// missing or malformed file gives an error naming it.
    pub fn load(assets: &Path, accent: Accent, env: &ort::environment::Environment) -> Result<G2p, G2pError> {
        let acc = match accent {
            Accent::Us => "us",
            Accent::Gb => "gb",
        };
        let gold_path = assets.join(format!("lexicon_{acc}_gold.json.gz"));
        let silver_path = assets.join(format!("lexicon_{acc}_silver.json.gz"));
        let tagger_path = assets.join("tagger.json.gz");
        // The three big files parse in parallel: load time is what a worker pod waits for.
        let (gold, silver, tagger) = std::thread::scope(|s| {
            let gold = s.spawn(|| read_json::<Dict>(&gold_path));
            let silver = s.spawn(|| read_json::<Dict>(&silver_path));
            let tagger = read_json::<Tagger>(&tagger_path);
            // A parser thread can only panic on a bug; report it against the file it read.
            let join = |h: std::thread::ScopedJoinHandle<'_, Result<Dict, G2pError>>, p: &Path| {
                h.join()
                    .unwrap_or_else(|_| Err(G2pError::Corrupt { path: p.to_owned(), reason: "parser panicked".into() }))
            };
            (join(gold, &gold_path), join(silver, &silver_path), tagger)
        });
        let lexicon = Lexicon { golds: gold?, silvers: silver?, british: accent == Accent::Gb };
        let tagger = tagger?;

        let exceptions_path = assets.join("tokenizer_exceptions.json");
        let exceptions: HashMap<String, Vec<String>> = read_json(&exceptions_path)?;
        let tokenizer = Tokenizer::new(exceptions).map_err(corrupt(exceptions_path))?;

        let normalize_path = assets.join("normalize.json");
        let tables: Tables = read_json(&normalize_path)?;
        let normalizer = Normalizer::new(tables).map_err(corrupt(normalize_path))?;

        let vocab_path = assets.join("vocab.json");
        let vocab: HashMap<String, i64> = read_json(&vocab_path)?;
        let vocab: HashSet<char> = vocab.keys().filter_map(|k| k.chars().next()).collect();

        let stem = if accent == Accent::Gb { "oov_gb" } else { "oov" };
        let meta: OovMeta = read_json(&assets.join(format!("{stem}.json")))?;
        let oov = Oov::load(&assets.join(format!("{stem}.onnx")), meta, env)?;

        let internal = corrupt(assets.to_owned());
        let patterns = Patterns::new().map_err(internal)?;
        let link = tokenize::compile(r"\[([^\]]+)\]\(([^\)]*)\)").map_err(corrupt(assets.to_owned()))?;
        let mut g2p = G2p { lexicon, tokenizer, tagger, normalizer, patterns, link, oov, vocab };
        // The regex engines build their automata and ONNX Runtime its kernels on first use;
        // one sentence through every stage here keeps that ~30 ms off the first caller.
        g2p.phonemize("Warm-up: call Zorbavex at 7:30 pm, press # for $1.50.")?;
        Ok(g2p)
    }

    /// Phonemes of one sentence in the voice's alphabet (words separated by spaces, the
    /// voice's punctuation kept), with phone-menu readings of numbers. Errors only if the OOV
    /// network fails at run time.
    pub fn phonemize(&mut self, sentence: &str) -> Result<String, G2pError> {
        let text = normalize_phone_text(sentence);
        let mut ps = self.phonemize_plain(&text)?;
        // A sentence ending in a dotted abbreviation ("at 5 p.m.") loses its period to the
        // abbreviation token, and the voice then ends without its falling tone; put it back.
        // Phone prompts end in "a.m."/"p.m." often, hibari's prose rarely ends in one.
        let ends_with_period = sentence.trim_end().ends_with('.');
        if ends_with_period && !ps.is_empty() && !ps.ends_with(['.', '!', '?', ';', ':', ',', '…', '—']) {
            ps.push('.');
        }
        Ok(ps)
    }

    /// Like [`G2p::phonemize`] but without the phone-menu stage: hibari's own reading of
    /// numbers, as `hibari.g2p.G2P()(sentence)` gives it.
    pub fn phonemize_plain(&mut self, sentence: &str) -> Result<String, G2pError> {
        let text = self.normalizer.normalize(sentence);
        let tokens = self.tokens(&text);
        let mut reader = Reader { lexicon: &self.lexicon, patterns: &self.patterns, oov: &mut self.oov };
        let ps = reader.phonemize(tokens)?;
        // The OOV net has a few symbols the voice lacks ("-", "1", "ʀ"); the voice's own
        // runner drops them when mapping to ids, so drop them here.
        Ok(ps.chars().filter(|c| self.vocab.contains(c)).collect::<String>().trim().to_owned())
    }

    /// Number of entries in the gold and silver dictionaries (for diagnostics).
    pub fn lexicon_size(&self) -> (usize, usize) {
        (self.lexicon.golds.len(), self.lexicon.silvers.len())
    }

    fn tagged(&self, text: &str, out: &mut Vec<Tok>) {
        let pieces = self.tokenizer.tokenize(text);
        if pieces.is_empty() {
            return;
        }
        let words: Vec<&str> = pieces.iter().map(|(t, _)| t.as_str()).collect();
        let tags = self.tagger.tag(&words);
        for ((text, ws), tag) in pieces.iter().zip(tags) {
            out.push(Tok { text: text.clone(), tag: tag.to_owned(), ws: *ws, is_head: true, ..Tok::default() });
        }
    }

    /// Tagged tokens, with `[word](/phonemes/)` links taken as given.
    fn tokens(&self, text: &str) -> Vec<Tok> {
        let mut toks = Vec::new();
        let mut pos = 0;
        for caps in self.link.captures_iter(text) {
            let Ok(caps) = caps else { break };
            let (Some(m), Some(word), Some(target)) = (caps.get(0), caps.get(1), caps.get(2)) else { continue };
            self.tagged(&text[pos..m.start()], &mut toks);
            let f = target.as_str();
            let phonemes = (f.chars().count() > 1 && f.starts_with('/') && f.ends_with('/'))
                .then(|| f[1..].trim_end_matches('/').to_owned());
            let ws = text[m.end()..].chars().next().is_some_and(text::is_space);
            toks.push(Tok {
                text: word.as_str().to_owned(),
                tag: "NN".to_owned(),
                ws,
                phonemes,
                is_head: true,
                rating: Some(5),
                ..Tok::default()
            });
            pos = m.end();
        }
        self.tagged(&text[pos..], &mut toks);
        toks
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn g2p_is_send() {
        fn send<T: Send>() {}
        send::<G2p>();
    }
}
