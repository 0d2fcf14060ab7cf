//! The whisper model (shared) and decoders (pooled, one per compute thread).

use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::Arc;
use std::time::{Duration, Instant};

use whisper_rs::{FullParams, SamplingStrategy, WhisperContext, WhisperContextParameters, WhisperState};

use crate::guards;
use crate::{AsrConfig, AsrError};

/// Sample rate whisper expects.
const RATE: usize = 16_000;
/// Encoder positions per second of audio (whisper's 1500 positions span 30 s).
const POSITIONS_PER_SEC: usize = 50;
/// whisper.cpp refuses input under 1 s (100 mel frames); pad shorter turns with silence.
const MIN_SAMPLES: usize = RATE * 105 / 100;
/// Silence appended to every turn: whisper tends to drop a final word that ends flush with
/// the end of its input.
const TAIL_SAMPLES: usize = RATE / 5;
/// Token budget: a fixed allowance plus this many tokens per second of audio. Fast English runs
/// about 3 words (4 tokens) per second; a decode that needs more is looping.
const TOKENS_BASE: f32 = 8.0;
const TOKENS_PER_SEC: f32 = 6.0;

/// The weights, loaded once per process.
pub struct WhisperModel {
    ctx: WhisperContext,
    path: PathBuf,
}

impl std::fmt::Debug for WhisperModel {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("WhisperModel").field("path", &self.path).finish()
    }
}

impl WhisperModel {
    pub fn load(path: &Path) -> Result<Arc<Self>, AsrError> {
        let model_error = |reason: String| AsrError::Model { path: path.display().to_string(), reason };
        if !path.is_file() {
            return Err(model_error("file not found".to_owned()));
        }
        // whisper.cpp and ggml log every load and decode to stderr; the worker reports what
        // matters itself.
        whisper_rs::install_logging_hooks();
        let ctx = WhisperContext::new_with_params(path, WhisperContextParameters::default())
            .map_err(|e| model_error(format!("{e} (is it a whisper.cpp ggml file?)")))?;
        Ok(Arc::new(Self { ctx, path: path.to_owned() }))
    }

    pub fn path(&self) -> &Path {
        &self.path
    }

    /// A decoder with its own state, warmed up. Costs tens of MB: make one per compute thread.
    ///
    /// whisper.cpp sizes and allocates its compute buffers on a state's first decode, which made
    /// the first turn after start-up about 1 s slower than the rest; one decode of silence here
    /// moves that cost to start-up.
    pub fn decoder(self: &Arc<Self>, config: AsrConfig) -> Result<Decoder, AsrError> {
        let state = self.ctx.create_state().map_err(|e| AsrError::Model { path: self.path.display().to_string(), reason: e.to_string() })?;
        let mut decoder = Decoder { model: Arc::clone(self), state, config, padded: Vec::with_capacity(RATE * 31) };
        decoder.recognize(&[0.0; RATE], None)?;
        Ok(decoder)
    }
}

/// What one decode produced, with the evidence the guards used.
#[derive(Clone, Debug, PartialEq)]
pub struct Recognition {
    /// Text after the guards; empty when they rejected it.
    pub text: String,
    /// Text exactly as whisper produced it.
    pub raw: String,
    /// Why the guards rejected or changed the text, if they did.
    pub guard: Option<guards::Verdict>,
    /// whisper's probability that the audio holds no speech.
    pub no_speech_prob: f32,
    /// Mean log-probability of the text tokens.
    pub avg_logprob: f32,
    pub tokens: usize,
    /// Encoder positions used (50 per second of audio).
    pub audio_ctx: usize,
    pub compute: Duration,
}

/// One whisper decoding state and the settings it decodes with.
pub struct Decoder {
    model: Arc<WhisperModel>,
    state: WhisperState,
    config: AsrConfig,
    /// Turn audio plus padding; reused between decodes.
    padded: Vec<f32>,
}

impl std::fmt::Debug for Decoder {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Decoder").field("model", &self.model).field("config", &self.config).finish()
    }
}

impl Decoder {
    pub fn config(&self) -> &AsrConfig {
        &self.config
    }

    /// Threads of the next decodes (at least 1). A pool sharing its cores between decoders sets
    /// this per decode; whisper.cpp sizes its work buffers per decode, so it may change freely.
    pub fn set_threads(&mut self, threads: u16) {
        self.config.threads = threads.max(1);
    }

    /// Transcribes one turn of 16 kHz mono audio (at most 30 s). `prompt` overrides the
    /// configured initial prompt for this call.
    pub fn recognize(&mut self, audio: &[f32], prompt: Option<&str>) -> Result<Recognition, AsrError> {
        self.recognize_abortable(audio, prompt, None)
    }

    /// As [`Decoder::recognize`]; setting `abort` from another thread stops the decode with
    /// [`AsrError::Aborted`] once the encoder is done or at the next token (where whisper.cpp
    /// polls it). This is how a
    /// decode nobody waits on (a partial) gives its decoder up to one somebody does.
    pub fn recognize_abortable(&mut self, audio: &[f32], prompt: Option<&str>, abort: Option<&AtomicBool>) -> Result<Recognition, AsrError> {
        let started = Instant::now();
        let audio = &audio[..audio.len().min(RATE * 30 - TAIL_SAMPLES)];
        self.padded.clear();
        self.padded.extend_from_slice(audio);
        let padded_len = (audio.len() + TAIL_SAMPLES).max(MIN_SAMPLES);
        self.padded.resize(padded_len, 0.0);

        let seconds = audio.len() as f32 / RATE as f32;
        let audio_ctx = (padded_len.div_ceil(RATE / POSITIONS_PER_SEC) + usize::from(self.config.audio_ctx_margin)).min(1500);
        let max_tokens = (TOKENS_BASE + TOKENS_PER_SEC * seconds).ceil() as i32;

        let mut params = FullParams::new(SamplingStrategy::Greedy { best_of: 1 });
        params.set_n_threads(i32::from(self.config.threads));
        params.set_language(Some(&self.config.language));
        params.set_translate(false);
        // One turn is one segment; no text carried from earlier turns (a loop in one turn must
        // not seed the next).
        params.set_single_segment(true);
        params.set_no_context(true);
        params.set_no_timestamps(true);
        params.set_audio_ctx(audio_ctx as i32);
        params.set_max_tokens(max_tokens);
        params.set_suppress_blank(true);
        params.set_suppress_nst(true);
        // Temperature fallback: decode again, hotter, when the text is too repetitive (entropy)
        // or too unlikely (log-probability).
        params.set_temperature(0.0);
        params.set_temperature_inc(0.2);
        params.set_entropy_thold(2.4);
        params.set_logprob_thold(self.config.logprob_threshold);
        params.set_no_speech_thold(self.config.no_speech_threshold);
        params.set_print_progress(false);
        params.set_print_realtime(false);
        params.set_print_special(false);
        params.set_print_timestamps(false);
        let prompt = prompt.or(self.config.initial_prompt.as_deref());
        if let Some(p) = prompt.filter(|p| !p.trim().is_empty()) {
            params.set_initial_prompt(p);
        }

        let outcome = crate::abort::full(&mut self.state, params, &self.padded, abort);
        if abort.is_some_and(|flag| flag.load(Ordering::Relaxed)) {
            return Err(AsrError::Aborted);
        }
        outcome.map_err(|e| AsrError::Decode(e.to_string()))?;

        let eot = self.model.ctx.token_eot();
        let mut raw = String::new();
        let mut no_speech_prob = 0.0f32;
        let (mut logprob_sum, mut tokens) = (0.0f32, 0usize);
        for segment in self.state.as_iter() {
            raw.push_str(&segment.to_str_lossy().map_err(|e| AsrError::Decode(e.to_string()))?);
            no_speech_prob = no_speech_prob.max(segment.no_speech_probability());
            for i in 0..segment.n_tokens() {
                if let Some(token) = segment.get_token(i) {
                    let data = token.token_data();
                    // Special tokens (timestamps, end of text, ...) are numbered from EOT up.
                    if data.id < eot {
                        logprob_sum += data.plog;
                        tokens += 1;
                    }
                }
            }
        }
        let avg_logprob = if tokens == 0 { 0.0 } else { logprob_sum / tokens as f32 };
        let evidence = guards::Evidence {
            seconds,
            no_speech_prob,
            avg_logprob,
            tokens,
            hit_token_budget: tokens as i32 >= max_tokens,
            no_speech_threshold: self.config.no_speech_threshold,
            logprob_threshold: self.config.logprob_threshold,
        };
        let (text, guard) = guards::apply(&raw, &evidence);
        Ok(Recognition { text, raw, guard, no_speech_prob, avg_logprob, tokens, audio_ctx, compute: started.elapsed() })
    }
}

