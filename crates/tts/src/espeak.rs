//! [`Espeak`]: the espeak-ng formant synthesizer as a [`Synthesizer`].
//!
//! espeak-ng keeps a single global synthesizer and is not thread-safe. The process therefore has
//! one [`Engine`], set up on first use (a `OnceLock`), and every call into the library happens
//! under its one mutex. Each [`Espeak`] is just settings (voice, rate): before synthesizing it
//! makes the global voice match its own, so many `Espeak`s with different voices can coexist.
//! Concurrent calls queue on the mutex; the cache in [`crate::PromptRenderer`] is what makes
//! that acceptable.

use std::ffi::{c_int, CString};
use std::path::{Path, PathBuf};
use std::sync::{Mutex, MutexGuard, OnceLock};

use types::SampleRate;

use crate::ffi::{self, Api, SynthFailure};
use crate::{native, EngineUnavailable, Synthesizer, TtsError};

/// The longest text synthesized in one call, in characters: about two minutes of speech, far
/// more than a prompt. Bounds how long one call holds the process-wide engine lock.
pub const MAX_TEXT_CHARS: usize = 2_000;
/// Output past this is cut off with [`TtsError::OutputTooLong`]: a guard against text that
/// expands enormously (long digit strings are read out digit group by digit group).
const MAX_OUTPUT_SECONDS: u32 = 300;
/// `espeakRATE_MINIMUM` and `espeakRATE_MAXIMUM` in speak_lib.h, words per minute.
const RATE_RANGE: std::ops::RangeInclusive<u32> = 80..=450;

/// Settings for one espeak-ng voice.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct EspeakConfig {
    /// espeak-ng voice name or language, as `espeak-ng --voices` lists them. Default `en-us`.
    pub voice: String,
    /// Speaking rate in words per minute, 80..=450. Default 160: a little slower than
    /// espeak-ng's 175, because callers hear prompts through narrowband phone audio.
    pub rate_wpm: u32,
    /// Directory holding `espeak-ng-data` (or that directory itself). Default `None`: the
    /// `ESPEAK_DATA_PATH` environment variable, else the system's data (Debian espeak-ng-data).
    /// Only the first `Espeak` in a process decides it; a later, different one is an error.
    pub data_path: Option<PathBuf>,
}

impl Default for EspeakConfig {
    fn default() -> Self {
        Self { voice: "en-us".to_owned(), rate_wpm: 160, data_path: None }
    }
}

/// espeak-ng with one voice and rate. Cheap to create once the engine is up; `Send + Sync`.
#[derive(Debug)]
pub struct Espeak {
    name: String,
    voice: CString,
    voice_text: String,
    rate_wpm: c_int,
    rate: SampleRate,
    engine: &'static Engine,
}

impl Espeak {
    /// Loads espeak-ng (once per process) and checks that the voice exists.
    pub fn new(config: EspeakConfig) -> Result<Self, TtsError> {
        let EspeakConfig { voice: voice_text, rate_wpm, data_path } = config;
        if !RATE_RANGE.contains(&rate_wpm) {
            return Err(TtsError::InvalidConfig { field: "rate_wpm", reason: format!("{rate_wpm} is outside {RATE_RANGE:?}") });
        }
        let voice = CString::new(voice_text.clone())
            .ok()
            .filter(|v| !v.is_empty())
            .ok_or_else(|| TtsError::InvalidConfig { field: "voice", reason: format!("{voice_text:?} is not a voice name") })?;
        let data_path_c = match &data_path {
            None => None,
            Some(p) => Some(data_path_cstring(p)?),
        };
        let engine = engine(data_path.as_deref(), data_path_c.as_deref())?;
        // Rate fits: checked against RATE_RANGE above.
        let rate_wpm = c_int::try_from(rate_wpm).unwrap_or(c_int::MAX);
        let this = Self {
            name: format!("espeak-ng/{voice_text}/{rate_wpm}wpm"),
            voice,
            voice_text,
            rate_wpm,
            rate: native::presented_rate(engine.native_hz),
            engine,
        };
        // Selecting the voice now turns a misspelt voice into an error at start-up, not at the
        // first call.
        this.select(&mut this.engine.lock())?;
        Ok(this)
    }

    /// The rate espeak-ng itself produces (22 050 Hz), before conversion to [`Self::sample_rate`].
    pub fn native_rate_hz(&self) -> u32 {
        self.engine.native_hz
    }

    /// Makes the global voice and rate this instance's, skipping calls that change nothing.
    fn select(&self, current: &mut Current) -> Result<(), TtsError> {
        if current.voice.as_ref() != Some(&self.voice) {
            current.voice = None;
            self.engine
                .api
                .set_voice(&self.voice)
                .map_err(|code| TtsError::VoiceNotFound { voice: self.voice_text.clone(), code })?;
            current.voice = Some(self.voice.clone());
            // Loading a voice may reset speech parameters: set the rate again to be sure.
            current.rate = None;
        }
        if current.rate != Some(self.rate_wpm) {
            self.engine.api.set_rate(self.rate_wpm).map_err(|code| TtsError::InvalidConfig {
                field: "rate_wpm",
                reason: format!("espeak-ng refused {} (error {code})", self.rate_wpm),
            })?;
            current.rate = Some(self.rate_wpm);
        }
        Ok(())
    }
}

impl Synthesizer for Espeak {
    fn name(&self) -> &str {
        &self.name
    }

    fn sample_rate(&self) -> SampleRate {
        self.rate
    }

    fn synthesize(&self, text: &str, out: &mut Vec<f32>) -> Result<(), TtsError> {
        let chars = text.chars().count();
        if chars > MAX_TEXT_CHARS {
            return Err(TtsError::TextTooLong { chars, max: MAX_TEXT_CHARS });
        }
        let text = ffi::c_text(text);
        if text.to_bytes().iter().all(u8::is_ascii_whitespace) {
            return Ok(());
        }
        let native_hz = self.engine.native_hz;
        let limit = native_hz as usize * MAX_OUTPUT_SECONDS as usize;
        let samples = {
            let mut current = self.engine.lock();
            self.select(&mut current)?;
            self.engine.api.synthesize(&text, limit)
        };
        let samples = samples.map_err(|e| match e {
            SynthFailure::TooLong => TtsError::OutputTooLong { max_seconds: MAX_OUTPUT_SECONDS },
            SynthFailure::Status(code) => TtsError::Synthesis { code },
        })?;
        let pcm: Vec<f32> = samples.iter().map(|&s| f32::from(s) / 32_768.0).collect();
        out.extend(native::convert(&pcm, native_hz, self.rate)?);
        Ok(())
    }
}

/// The process's one espeak-ng.
#[derive(Debug)]
struct Engine {
    api: Api,
    native_hz: u32,
    data_path: Option<PathBuf>,
    /// The lock every library call happens under, and what the library is currently set to.
    current: Mutex<Current>,
}

#[derive(Debug, Default)]
struct Current {
    voice: Option<CString>,
    rate: Option<c_int>,
}

static ENGINE: OnceLock<Result<Engine, EngineUnavailable>> = OnceLock::new();

/// The engine, started on first use with `data_path`.
fn engine(data_path: Option<&Path>, data_path_c: Option<&std::ffi::CStr>) -> Result<&'static Engine, EngineUnavailable> {
    let started = ENGINE.get_or_init(|| {
        let api = Api::load()?;
        // No other thread can reach the library before this returns: OnceLock blocks them.
        let native_hz = api.initialize(data_path_c)?;
        Ok(Engine { api, native_hz, data_path: data_path.map(Path::to_owned), current: Mutex::new(Current::default()) })
    });
    match started {
        Ok(e) if e.data_path.as_deref() != data_path => Err(EngineUnavailable::DataPathConflict {
            first: e.data_path.clone(),
            requested: data_path.map(Path::to_owned),
        }),
        Ok(e) => Ok(e),
        Err(e) => Err(e.clone()),
    }
}

impl Engine {
    fn lock(&self) -> MutexGuard<'_, Current> {
        self.current.lock().unwrap_or_else(|poisoned| {
            // A panic while holding the lock may have left the library half-configured:
            // forget what we believe it is set to, so the next call sets everything again.
            let mut guard = poisoned.into_inner();
            *guard = Current::default();
            self.current.clear_poison();
            guard
        })
    }
}

/// espeak-ng silently falls back to the system data when the given directory does not exist,
/// so a wrong path is caught here.
fn data_path_cstring(path: &Path) -> Result<CString, TtsError> {
    let err = |reason: &str| TtsError::InvalidConfig { field: "data_path", reason: format!("{}: {reason}", path.display()) };
    if !path.is_dir() {
        return Err(err("not a directory"));
    }
    let text = path.to_str().ok_or_else(|| err("not valid UTF-8"))?;
    CString::new(text).map_err(|_| err("contains a NUL byte"))
}
