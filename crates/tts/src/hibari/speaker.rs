//! [`Hibari`]: the neural voice as a [`Synthesizer`]: SSML-lite, sentences, phonemes, speech.

use std::sync::{Arc, Mutex, PoisonError};

use types::SampleRate;

use super::HibariVoice;
use crate::ssml::{self, Segment};
use crate::{Synthesizer, TtsError};

/// Text to phonemes for one sentence, in the model's alphabet (misaki conventions). The `g2p`
/// crate provides the real one; tests can supply a table. `&mut self`: a G2P may keep caches.
pub trait Phonemizer: Send {
    /// The phonemes of `sentence`; an empty string when there is nothing to say. The error is a
    /// human-readable reason, reported as [`TtsError::Phonemize`].
    fn phonemize(&mut self, sentence: &str) -> Result<String, String>;
}

/// Cuts text into sentences, each spoken by one model run. [`split_sentences`] by default; the
/// `g2p` crate's splitter (which knows its own abbreviations) can replace it.
pub type SentenceSplitter = Arc<dyn Fn(&str) -> Vec<String> + Send + Sync>;

/// Most characters of text one call synthesizes (as for espeak-ng): about two minutes of speech.
pub const MAX_TEXT_CHARS: usize = 2_000;

/// Titles and initials before which a period does not end a sentence (hibari-tts 0.2.1
/// `normalize.json` "titles").
const TITLES: [&str; 26] = [
    "Mr", "Mrs", "Ms", "Dr", "Prof", "St", "Mt", "Ft", "Gen", "Gov", "Sen", "Rep", "Capt", "Lt", "Col", "Sgt", "Cmdr", "Rev", "Hon", "Pres",
    "Supt", "Cpl", "Maj", "Adm", "Fr", "Msgr",
];

/// The hibari voice behind [`Synthesizer`]: text (plain or SSML-lite) -> sentences ->
/// phonemes -> speech, one chunk per sentence when streamed.
pub struct Hibari {
    voice: HibariVoice,
    phonemizer: Mutex<Box<dyn Phonemizer>>,
    splitter: SentenceSplitter,
    name: String,
    seed: u64,
}

impl std::fmt::Debug for Hibari {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Hibari").field("name", &self.name).field("voice", &self.voice).field("seed", &self.seed).finish_non_exhaustive()
    }
}

/// Peak of hibari's speech at speed 1 with the noise branch on: 0.26 to 0.35 over six IVR
/// sentences here (`tests/hibari.rs` prints them) and five through the Python package. Renderers
/// scale streamed audio by their target over this: at the default -3 dBFS target a gain of 2.15,
/// which puts those sentences' peaks between -5.1 and -2.4 dBFS.
pub const TYPICAL_PEAK: f32 = 0.33;

impl Hibari {
    /// `name` keys renderer caches: give each voice/phonemizer pairing its own.
    pub fn new(voice: HibariVoice, phonemizer: Box<dyn Phonemizer>, name: String) -> Self {
        Self { voice, phonemizer: Mutex::new(phonemizer), splitter: Arc::new(split_sentences), name, seed: 0 }
    }

    /// Replaces the sentence splitter.
    pub fn with_sentence_splitter(mut self, splitter: SentenceSplitter) -> Self {
        self.splitter = splitter;
        self
    }

    /// Seeds the noise branch (default 0). Each sentence gets its own stream derived from it, so
    /// the same prompt always sounds the same.
    pub fn with_seed(mut self, seed: u64) -> Self {
        self.seed = seed;
        self
    }

    pub fn voice(&self) -> &HibariVoice {
        &self.voice
    }

    fn phonemize(&self, sentence: &str) -> Result<String, TtsError> {
        // A phonemizer that panicked mid-sentence holds no cross-call state we rely on.
        let mut p = self.phonemizer.lock().unwrap_or_else(PoisonError::into_inner);
        p.phonemize(sentence).map_err(|reason| TtsError::Phonemize { sentence: sentence.to_owned(), reason })
    }
}

impl Synthesizer for Hibari {
    fn name(&self) -> &str {
        &self.name
    }

    fn sample_rate(&self) -> SampleRate {
        SampleRate::HZ_24000
    }

    fn synthesize(&self, text: &str, out: &mut Vec<f32>) -> Result<(), TtsError> {
        self.synthesize_stream(text, &mut |chunk| {
            out.extend_from_slice(chunk);
            true
        })
    }

    fn typical_peak(&self) -> Option<f32> {
        Some(TYPICAL_PEAK)
    }

    /// One chunk per sentence (and one per `<break>`), each delivered as soon as it is ready.
    fn synthesize_stream(&self, text: &str, sink: &mut dyn FnMut(&[f32]) -> bool) -> Result<(), TtsError> {
        let chars = text.chars().count();
        if chars > MAX_TEXT_CHARS {
            return Err(TtsError::TextTooLong { chars, max: MAX_TEXT_CHARS });
        }
        let rate = self.sample_rate();
        let mut pcm = Vec::new();
        let mut sentence_index = 0u64;
        for segment in ssml::parse(text)? {
            pcm.clear();
            match segment {
                Segment::Break(t) => {
                    // Bounded by ssml::MAX_BREAK_MS.
                    pcm.resize(t.to_samples(rate) as usize, 0.0);
                    if !pcm.is_empty() && !sink(&pcm) {
                        return Ok(());
                    }
                }
                Segment::Text { text, rate: speed } => {
                    for sentence in (self.splitter)(&text) {
                        let phonemes = self.phonemize(&sentence)?;
                        pcm.clear();
                        let seed = mix(self.seed, sentence_index);
                        sentence_index += 1;
                        self.voice.synthesize_phonemes(&phonemes, speed, seed, &mut pcm)?;
                        if !pcm.is_empty() && !sink(&pcm) {
                            return Ok(());
                        }
                    }
                }
            }
        }
        Ok(())
    }
}

/// A per-sentence seed: SplitMix64's finalizer over the voice seed and the sentence's index.
fn mix(seed: u64, index: u64) -> u64 {
    let mut z = seed ^ index.wrapping_mul(0x9E37_79B9_7F4A_7C15);
    z = (z ^ (z >> 30)).wrapping_mul(0xBF58_476D_1CE4_E5B9);
    z = (z ^ (z >> 27)).wrapping_mul(0x94D0_49BB_1331_11EB);
    z ^ (z >> 31)
}

/// Sentences of `text`, as hibari-tts 0.2.1 `split_sentences`: every line is a paragraph; inside
/// one, a sentence ends at `. ! ? …` (closing quotes and brackets after it dropped) followed by
/// whitespace and more text, unless the next word starts lowercase, or the period follows a title
/// ("Dr.") or a single capital ("J. K. Rowling"). Empty sentences are left out.
pub fn split_sentences(text: &str) -> Vec<String> {
    let mut out = Vec::new();
    for para in text.trim().split('\n') {
        let para = para.trim();
        let mut cut = 0;
        let mut search = 0;
        while let Some((start, end)) = sentence_end(para, search) {
            // `end` is on the next sentence's first character (sentence_end guarantees one).
            let next = para[end..].chars().next().unwrap_or(' ');
            if ends_sentence(para, start, next) {
                out.push(para[cut..start].to_owned());
                cut = end;
            }
            search = end;
        }
        out.push(para[cut..].to_owned());
    }
    out.retain(|s| !s.trim().is_empty());
    out
}

/// The next match at or after byte `from` of `(?<=[.!?…])["”’)\]]*\s+(?=\S)`: `(start, end)`
/// with `start` just after the punctuation and `end` on the following non-space character.
fn sentence_end(para: &str, from: usize) -> Option<(usize, usize)> {
    let mut prev: Option<char> = para[..from].chars().next_back();
    for (i, c) in para[from..].char_indices() {
        let start = from + i;
        if matches!(prev, Some('.' | '!' | '?' | '…')) {
            let rest = &para[start..];
            let closers = rest.find(|c: char| !matches!(c, '"' | '”' | '’' | ')' | ']')).unwrap_or(rest.len());
            let after = &rest[closers..];
            let spaces = after.find(|c: char| !c.is_whitespace()).unwrap_or(after.len());
            if spaces > 0 && spaces < after.len() {
                return Some((start, start + closers + spaces));
            }
        }
        prev = Some(c);
    }
    None
}

fn ends_sentence(para: &str, end: usize, next: char) -> bool {
    if next.is_lowercase() {
        return false;
    }
    if !para[..end].ends_with('.') {
        return true;
    }
    let word_start = para[..end].rfind(' ').map_or(0, |i| i + 1);
    let word = para[word_start..end - 1].trim_start_matches(['(', '"', '“', '\'', '‘']);
    let mut chars = word.chars();
    let initial = matches!((chars.next(), chars.next()), (Some(c), None) if c.is_uppercase());
    !(TITLES.contains(&word) || initial)
}

#[cfg(test)]
#[allow(clippy::unwrap_used)]
mod tests {
    use super::*;

    #[test]
    fn sentences_split_like_the_reference() {
        assert_eq!(split_sentences("Hello there. How are you?  Fine!"), ["Hello there.", "How are you?", "Fine!"]);
        assert_eq!(split_sentences("Dr. Smith met J. K. Rowling. ok then."), ["Dr. Smith met J. K. Rowling. ok then."]);
        assert_eq!(split_sentences("He said \"stop.\" Then left."), ["He said \"stop.", "Then left."]);
        assert_eq!(split_sentences("Line one\n\n  Line two.\nThree… Four"), ["Line one", "Line two.", "Three…", "Four"]);
        assert_eq!(split_sentences("Ends here. "), ["Ends here."]);
        assert!(split_sentences("  \n ").is_empty());
        assert_eq!(split_sentences("3.5 million. Yes"), ["3.5 million.", "Yes"]);
    }

    #[test]
    fn per_sentence_seeds_differ() {
        assert_ne!(mix(0, 0), mix(0, 1));
        assert_ne!(mix(1, 0), mix(0, 0));
    }
}
