//! Recognition settings and the per-call policy that decides when to ask for partials.

use types::MediaTime;

/// Speech recognition settings. Every field has a default (see [`Default`]).
#[derive(Clone, Debug, PartialEq, serde::Deserialize, serde::Serialize)]
#[serde(deny_unknown_fields, default)]
pub struct AsrConfig {
    /// Whisper model: "tiny.en" (English, 78 MB, fastest) or "base" (multilingual, 148 MB,
    /// about 2-3x slower, more accurate). Default "tiny.en".
    pub model: String,
    /// Threads one decode uses. Default 2.
    pub threads: u16,
    /// Spoken language (ISO 639-1); English-only models ignore it. Default "en".
    pub language: String,
    /// Cadence of partial transcripts while the caller speaks, in ms of turn audio; 0 turns
    /// partials off. Default 1000.
    pub partial_interval_ms: u32,
    /// Text that biases recognition toward a call's vocabulary (product names, "account
    /// number"). Default none.
    pub initial_prompt: Option<String>,
    /// A segment whose no-speech probability is above this and whose mean token log-probability
    /// is below `logprob_threshold` is taken as silence (whisper's own rule). Default 0.6.
    pub no_speech_threshold: f32,
    /// Mean token log-probability below which decoding is retried at a higher temperature,
    /// and (with the no-speech rule) text is rejected. Default -1.0.
    pub logprob_threshold: f32,
    /// Encoder positions added to those the audio fills (50 per second of audio). The window
    /// must extend well past the speech: with little margin tiny.en loops ("I want to pay my
    /// bill. I want to pay my"). Measured over the speech fixtures (benches/README.md, "The
    /// `audio_ctx` margin"): margin
    /// 64 gave 34 looping decodes, 128 gave 21, 192 gave 8, 256 gave 2, at a median decode of
    /// 134, 148, 161 and 185 ms. Default 256 (5.12 s).
    pub audio_ctx_margin: u16,
}

impl Default for AsrConfig {
    fn default() -> Self {
        Self {
            model: "tiny.en".to_owned(),
            threads: 2,
            language: "en".to_owned(),
            partial_interval_ms: 1_000,
            initial_prompt: None,
            no_speech_threshold: 0.6,
            logprob_threshold: -1.0,
            audio_ctx_margin: 256,
        }
    }
}

/// Whisper models the set-up tool builds.
pub const MODELS: [&str; 2] = ["tiny.en", "base"];

/// A setting outside its valid range, named by its field.
#[derive(Debug, Clone, PartialEq, thiserror::Error)]
#[error("asr.{field}: {reason}")]
pub struct AsrConfigError {
    pub field: &'static str,
    pub reason: String,
}

impl AsrConfig {
    pub fn validate(&self) -> Result<(), AsrConfigError> {
        let err = |field, reason: &str| Err(AsrConfigError { field, reason: reason.to_owned() });
        if !MODELS.contains(&self.model.as_str()) {
            return err("model", "must be \"tiny.en\" or \"base\"");
        }
        if self.threads == 0 || self.threads > 64 {
            return err("threads", "must be between 1 and 64");
        }
        if self.language.len() != 2 || !self.language.bytes().all(|b| b.is_ascii_lowercase()) {
            return err("language", "must be a two-letter ISO 639-1 code such as \"en\"");
        }
        if self.partial_interval_ms != 0 && self.partial_interval_ms < 200 {
            return err("partial_interval_ms", "must be 0 (off) or at least 200");
        }
        if !(0.0..=1.0).contains(&self.no_speech_threshold) {
            return err("no_speech_threshold", "must be between 0 and 1");
        }
        if self.logprob_threshold > 0.0 {
            return err("logprob_threshold", "must be at most 0 (a log-probability)");
        }
        if self.audio_ctx_margin > 1_500 {
            return err("audio_ctx_margin", "must be at most 1500 (whisper's whole window)");
        }
        Ok(())
    }
}

/// Per-call decision of when a partial transcript is due. Owns no audio and no model.
#[derive(Clone, Debug, Default)]
pub struct TurnPolicy {
    interval: Option<MediaTime>,
    last_partial_at: Option<MediaTime>,
}

impl TurnPolicy {
    pub fn new(config: &AsrConfig) -> Self {
        let interval = (config.partial_interval_ms > 0).then(|| MediaTime::from_millis(u64::from(config.partial_interval_ms)));
        Self { interval, last_partial_at: None }
    }

    /// A new turn began: partials count from its start.
    pub fn start_turn(&mut self, start: MediaTime) {
        self.last_partial_at = Some(start);
    }

    /// True when `now` is a partial interval past the last partial (or the turn start).
    pub fn partial_due(&mut self, now: MediaTime) -> bool {
        match (self.interval, self.last_partial_at) {
            (Some(interval), Some(last)) if now - last >= interval => {
                self.last_partial_at = Some(now);
                true
            }
            _ => false,
        }
    }

    pub fn end_turn(&mut self) {
        self.last_partial_at = None;
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn partials_follow_the_configured_cadence() {
        let mut p = TurnPolicy::new(&AsrConfig { partial_interval_ms: 500, ..Default::default() });
        assert!(!p.partial_due(MediaTime::from_millis(600)), "no turn yet");
        p.start_turn(MediaTime::from_millis(1000));
        let due: Vec<u64> = (0..=100).map(|i| 1000 + i * 20).filter(|&t| p.partial_due(MediaTime::from_millis(t))).collect();
        assert_eq!(due, vec![1500, 2000, 2500, 3000]);
        p.end_turn();
        assert!(!p.partial_due(MediaTime::from_millis(9000)));
    }

    #[test]
    fn zero_interval_turns_partials_off() {
        let mut p = TurnPolicy::new(&AsrConfig { partial_interval_ms: 0, ..Default::default() });
        p.start_turn(MediaTime::ZERO);
        assert!(!p.partial_due(MediaTime::from_millis(10_000)));
    }

    #[test]
    fn bad_settings_are_named() {
        let c = AsrConfig { language: "english".into(), ..Default::default() };
        assert_eq!(c.validate().unwrap_err().field, "language");
        let c = AsrConfig { model: "large".into(), ..Default::default() };
        assert_eq!(c.validate().unwrap_err().field, "model");
        let c = AsrConfig { threads: 0, ..Default::default() };
        assert_eq!(c.validate().unwrap_err().field, "threads");
        assert!(AsrConfig::default().validate().is_ok());
    }
}
