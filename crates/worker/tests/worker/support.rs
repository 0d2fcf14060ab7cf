//! Shared test support: the fixture manifest, one set of models per test binary, WER.

use std::path::{Path, PathBuf};
use std::sync::{Mutex, MutexGuard, OnceLock};

use attendant_worker::graph::GraphConfig;
use attendant_worker::models::ModelDir;
use attendant_worker::sync_call::{Engines, FinalTurn, Produced};

pub fn repo_root() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("../..").canonicalize().expect("repository root")
}

pub fn model_dir() -> ModelDir {
    match std::env::var_os("ATTENDANT_MODELS") {
        Some(d) if !d.is_empty() => ModelDir::at(d),
        _ => ModelDir::at(repo_root().join("models")),
    }
}

/// Models are loaded once per test binary; tests take turns with them.
pub fn engines() -> MutexGuard<'static, Engines> {
    static ENGINES: OnceLock<Mutex<Engines>> = OnceLock::new();
    ENGINES
        .get_or_init(|| Mutex::new(Engines::load(&model_dir(), &GraphConfig::default()).expect("models: run python3 tools/fetch_models.py")))
        .lock()
        .unwrap_or_else(|poisoned| poisoned.into_inner())
}

#[derive(Clone, Debug, serde::Deserialize)]
pub struct Turn {
    pub start_ms: u64,
    pub end_ms: u64,
}

#[derive(Clone, Debug, serde::Deserialize)]
pub struct Fixture {
    pub path: String,
    pub kind: String,
    pub text: String,
    pub turns: Option<Vec<Turn>>,
    pub format: serde_json::Value,
    /// Assistant fixtures: the expected intent (None: no match) and slots.
    #[serde(default)]
    pub intent: Option<String>,
    #[serde(default)]
    pub slots: serde_json::Map<String, serde_json::Value>,
    /// Assistant calls: what each turn should yield.
    #[serde(default)]
    pub turns_expected: Vec<ExpectedTurn>,
}

#[derive(Clone, Debug, serde::Deserialize)]
pub struct ExpectedTurn {
    /// What the caller says in this turn (the manifest's record; the tests score by intent and slot).
    #[allow(dead_code)]
    pub text: String,
    pub intent: Option<String>,
    #[serde(default)]
    pub slots: serde_json::Map<String, serde_json::Value>,
}

impl Fixture {
    pub fn file(&self) -> PathBuf {
        repo_root().join("testdata").join(&self.path)
    }

    pub fn is_8k_ulaw(&self) -> bool {
        self.format["format_tag"] == 7 && self.format["sample_rate"] == 8000
    }
}

pub fn fixtures() -> Vec<Fixture> {
    #[derive(serde::Deserialize)]
    struct Manifest {
        files: Vec<Fixture>,
    }
    let text = std::fs::read_to_string(repo_root().join("testdata/fixtures.json")).expect("testdata/fixtures.json");
    serde_json::from_str::<Manifest>(&text).expect("fixtures.json parses").files
}

/// The samples of a 16 kHz mono PCM16 fixture (a path under testdata/) as f32.
pub fn mono_16k(path: &str) -> Vec<f32> {
    let wav = codec::WavFile::open(&repo_root().join("testdata").join(path)).expect("fixture");
    assert_eq!((wav.rate, wav.channels, wav.format), (types::SampleRate::HZ_16000, 1, codec::SampleFormat::S16Le), "{path}");
    let mut out = vec![0.0; wav.data.len() / 2];
    codec::decode(wav.format, &wav.data, &mut out).expect("decode");
    out
}

pub fn finals(produced: &[Produced]) -> Vec<FinalTurn> {
    produced
        .iter()
        .filter_map(|p| match p {
            Produced::Final(t) => Some(t.clone()),
            Produced::Event(_) => None,
        })
        .collect()
}

const UNITS: [&str; 20] = [
    "zero", "one", "two", "three", "four", "five", "six", "seven", "eight", "nine", "ten", "eleven", "twelve", "thirteen",
    "fourteen", "fifteen", "sixteen", "seventeen", "eighteen", "nineteen",
];
const TENS: [&str; 8] = ["twenty", "thirty", "forty", "fifty", "sixty", "seventy", "eighty", "ninety"];

/// Words for scoring: lower case, no punctuation, numbers as single digits (so "twenty two",
/// "22" and "two two" all score alike, as do "457291" and "four five seven two nine one").
pub fn normalize(text: &str) -> Vec<String> {
    let cleaned: String = text
        .to_lowercase()
        .chars()
        .map(|c| if c.is_alphanumeric() || c == '\'' { c } else { ' ' })
        .collect();
    let mut words: Vec<String> = Vec::new();
    let raw: Vec<&str> = cleaned.split_whitespace().collect();
    let mut i = 0;
    while i < raw.len() {
        let w = raw[i];
        let number = if let Some(t) = TENS.iter().position(|&t| t == w) {
            let mut n = (t as u32 + 2) * 10;
            if let Some(u) = raw.get(i + 1).and_then(|n1| UNITS[1..10].iter().position(|u| u == n1)) {
                n += u as u32 + 1;
                i += 1;
            }
            Some(n.to_string())
        } else if let Some(u) = UNITS.iter().position(|&u| u == w) {
            Some(u.to_string())
        } else if w == "oh" && raw.get(i + 1).is_some_and(|n| UNITS.contains(n)) {
            Some("0".to_owned())
        } else if w.chars().all(|c| c.is_ascii_digit()) {
            Some(w.to_owned())
        } else {
            None
        };
        match number {
            Some(digits) => words.extend(digits.chars().map(String::from)),
            None => words.push(w.to_owned()),
        }
        i += 1;
    }
    words
}

/// Word-level edit distance (substitutions + insertions + deletions).
pub fn word_errors(reference: &[String], hypothesis: &[String]) -> usize {
    let mut row: Vec<usize> = (0..=hypothesis.len()).collect();
    for (i, r) in reference.iter().enumerate() {
        let mut diagonal = row[0];
        row[0] = i + 1;
        for (j, h) in hypothesis.iter().enumerate() {
            let next = (row[j + 1] + 1).min(row[j] + 1).min(diagonal + usize::from(r != h));
            diagonal = row[j + 1];
            row[j + 1] = next;
        }
    }
    row[hypothesis.len()]
}

#[test]
fn normalize_scores_spoken_and_written_numbers_alike() {
    assert_eq!(normalize("It's twenty two Baker Street."), normalize("It's 22 Baker Street"));
    assert_eq!(normalize("four five seven two nine one"), normalize("457291"));
    assert_eq!(normalize("One, two... Ten!"), vec!["1", "2", "1", "0"]);
    let r = normalize("I want to pay my bill");
    assert_eq!(word_errors(&r, &normalize("I want to pay my bills")), 1);
    assert_eq!(word_errors(&r, &normalize("")), 6);
    assert_eq!(word_errors(&r, &r), 0);
}
