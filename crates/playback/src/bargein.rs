//! [`BargeIn`]: when the caller's speech stops a prompt, per call, sans-IO.
//!
//! Two speeds. Stopping must be quick: a caller who starts talking and hears the prompt carry on
//! talks louder or gives up, so the prompt pauses as soon as the endpointer confirms speech
//! (its `min_speech_ms`, 150 ms by default). Deciding that the caller really took the floor can
//! wait for evidence: speech that lasts [`BargeInConfig::min_speech_ms`], or a transcript with
//! [`BargeInConfig::min_words`] words that are not backchannels. Without that evidence, once the
//! speech has ended (a cough, "mm-hmm"), the prompt resumes where it paused. Speech judged to be
//! the prompt's own echo does not even pause it.

use std::time::{Duration, Instant};

use crate::words::{real_words, DEFAULT_BACKCHANNELS};

/// Barge-in settings: per flow, overridable per step (prompts carry `interruptible` themselves).
#[derive(Clone, Debug, PartialEq, serde::Deserialize, serde::Serialize)]
#[serde(deny_unknown_fields, default)]
pub struct BargeInConfig {
    /// Whether the caller's speech may stop prompts at all (DTMF always may). Default true.
    pub enabled: bool,
    /// Speech lasting this long over a prompt interrupts it whatever it says; 0: only words do.
    /// Default 1000 ms: longer than a backchannel or a cough, shorter than a request.
    pub min_speech_ms: u32,
    /// A transcript with at least this many words that are not backchannels interrupts; 0: any
    /// speech interrupts as soon as it is detected (classic barge-in). Default 1. Below
    /// [`Self::sure_words`] the transcript must also answer the question being asked (see
    /// [`BargeIn::transcript`]).
    pub min_words: u32,
    /// From this many real words on, a transcript interrupts whether or not it answers the
    /// question. Fewer must be an answer: recognizers hear "mm-hmm" as "no" or "um" as "I'm",
    /// and a lone word that answers nothing is not worth cutting the prompt for. Default 3.
    pub sure_words: u32,
    /// After the speech that paused a prompt ends without enough evidence, the prompt resumes
    /// when the turn's transcript shows nothing to act on, or at the latest after this long.
    /// Default 1200 ms.
    pub resume_after_ms: u32,
    /// Words that do not take the floor; `None`: [`DEFAULT_BACKCHANNELS`].
    pub backchannels: Option<Vec<String>>,
}

impl Default for BargeInConfig {
    fn default() -> Self {
        Self { enabled: true, min_speech_ms: 1000, min_words: 1, sure_words: 3, resume_after_ms: 1200, backchannels: None }
    }
}

/// A setting out of range, named by its field.
#[derive(Clone, Debug, PartialEq, Eq, thiserror::Error)]
#[error("barge_in.{field}: {reason}")]
pub struct BargeInConfigError {
    pub field: &'static str,
    pub reason: String,
}

impl BargeInConfig {
    pub fn validate(&self) -> Result<(), BargeInConfigError> {
        let err = |field, reason: &str| Err(BargeInConfigError { field, reason: reason.to_owned() });
        if self.min_speech_ms > 10_000 {
            return err("min_speech_ms", "at most 10000 (a longer turn is cut by the endpointer anyway)");
        }
        if self.min_words > 20 {
            return err("min_words", "at most 20");
        }
        if self.sure_words > 20 {
            return err("sure_words", "at most 20");
        }
        if !(200..=10_000).contains(&self.resume_after_ms) {
            return err("resume_after_ms", "between 200 and 10000");
        }
        if self.backchannels.as_ref().is_some_and(|b| b.iter().any(|w| w.trim().is_empty())) {
            return err("backchannels", "an entry is empty");
        }
        Ok(())
    }
}

/// What the transport's playback should do now.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum BargeInAction {
    /// Stop sending the prompt, keep the place ([`crate::PlaybackController::pause`]).
    Pause,
    /// A false alarm: carry on from the place ([`crate::PlaybackController::resume`]).
    Resume,
    /// The caller has the floor: flush the prompts; the turn is the caller's answer.
    Interrupt(Trigger),
}

/// What made a barge-in an interruption.
#[derive(Clone, Copy, Debug, PartialEq, Eq, serde::Serialize)]
#[serde(rename_all = "snake_case")]
pub enum Trigger {
    /// Speech lasted [`BargeInConfig::min_speech_ms`].
    Duration,
    /// A transcript held [`BargeInConfig::min_words`] real words.
    Words,
    /// `min_words` is 0: speech alone interrupts.
    Speech,
}

#[derive(Clone, Copy, Debug, PartialEq)]
enum State {
    Idle,
    /// A prompt is paused for `turn`, which began at `onset`.
    Paused { turn: u64, onset: Instant, ended: Option<Instant> },
    /// The prompt resumed over `turn`; a later transcript of it with real words still interrupts.
    Resumed { turn: u64 },
}

/// One call's barge-in state.
#[derive(Debug)]
pub struct BargeIn {
    config: BargeInConfig,
    state: State,
    /// A turn that began as echo: its transcripts are the prompt's words, not the caller's.
    echo_turn: Option<u64>,
}

impl BargeIn {
    pub fn new(config: BargeInConfig) -> Self {
        Self { config, state: State::Idle, echo_turn: None }
    }

    pub fn config(&self) -> &BargeInConfig {
        &self.config
    }

    /// Settings for the next prompts (a flow step with its own); a decision in progress keeps
    /// going under the new settings.
    pub fn set_config(&mut self, config: BargeInConfig) {
        self.config = config;
    }

    /// The turn whose speech paused the prompt, while it is paused.
    pub fn paused_turn(&self) -> Option<u64> {
        match self.state {
            State::Paused { turn, .. } => Some(turn),
            _ => None,
        }
    }

    /// A turn of the caller's began at `onset`. `interruptible`: an interruptible prompt is being
    /// sent now. `echo`: the echo canceller heard only the prompt's own echo.
    pub fn speech_started(&mut self, turn: u64, onset: Instant, interruptible: bool, echo: bool) -> Option<BargeInAction> {
        if echo {
            self.echo_turn = Some(turn);
            return None;
        }
        if !self.config.enabled || !interruptible || matches!(self.state, State::Paused { .. }) {
            return None;
        }
        if self.config.min_words == 0 {
            self.state = State::Idle;
            return Some(BargeInAction::Interrupt(Trigger::Speech));
        }
        self.state = State::Paused { turn, onset, ended: None };
        Some(BargeInAction::Pause)
    }

    /// The turn's speech ended at `at` (the endpointer's end of speech).
    pub fn speech_ended(&mut self, turn: u64, at: Instant) {
        if let State::Paused { turn: t, ended, .. } = &mut self.state {
            if *t == turn && ended.is_none() {
                *ended = Some(at);
            }
        }
    }

    /// A transcript of `turn`: partial while the caller talks (it can only interrupt), or the
    /// speech so far once it paused or ended (it can also resume). `answers` says whether it
    /// would answer the question being asked (the dialogue knows); it matters only for
    /// transcripts shorter than [`BargeInConfig::sure_words`].
    pub fn transcript(&mut self, turn: u64, text: &str, speech_over: bool, answers: bool) -> Option<BargeInAction> {
        if self.echo_turn == Some(turn) {
            return None;
        }
        let (State::Paused { turn: t, .. } | State::Resumed { turn: t }) = self.state else { return None };
        if t != turn {
            return None;
        }
        let words = match &self.config.backchannels {
            Some(list) => real_words(text, list),
            None => real_words(text, DEFAULT_BACKCHANNELS),
        };
        let n = words.len();
        if n >= self.config.min_words as usize && (n >= self.config.sure_words as usize || answers) {
            self.state = State::Idle;
            return Some(BargeInAction::Interrupt(Trigger::Words));
        }
        match self.state {
            State::Paused { .. } if speech_over => {
                self.state = State::Resumed { turn };
                Some(BargeInAction::Resume)
            }
            _ => None,
        }
    }

    /// When [`Self::handle_timeout`] is next due.
    pub fn poll_timeout(&self) -> Option<Instant> {
        match self.state {
            State::Paused { ended: Some(end), .. } => Some(end + ms(self.config.resume_after_ms)),
            State::Paused { onset, ended: None, .. } if self.config.min_speech_ms > 0 => Some(onset + ms(self.config.min_speech_ms)),
            _ => None,
        }
    }

    pub fn handle_timeout(&mut self, now: Instant) -> Option<BargeInAction> {
        let due = self.poll_timeout().is_some_and(|t| t <= now);
        match self.state {
            State::Paused { turn, ended: Some(_), .. } if due => {
                self.state = State::Resumed { turn };
                Some(BargeInAction::Resume)
            }
            State::Paused { ended: None, .. } if due => {
                self.state = State::Idle;
                Some(BargeInAction::Interrupt(Trigger::Duration))
            }
            _ => None,
        }
    }

    /// The prompts ended (played out or flushed): nothing is left to pause or resume.
    pub fn prompts_done(&mut self) {
        self.state = State::Idle;
    }
}

fn ms(v: u32) -> Duration {
    Duration::from_millis(u64::from(v))
}

#[cfg(test)]
#[path = "bargein_tests.rs"]
mod tests;
