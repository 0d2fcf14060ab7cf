//! Events a call produces, in media-time order.

use crate::MediaTime;

/// Numbers the caller's turns within a call, from 0.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, PartialOrd, Ord, serde::Serialize)]
pub struct TurnId(pub u32);

/// What the recognizer made of (part of) a turn.
#[derive(Clone, Debug, PartialEq, serde::Serialize)]
pub struct Transcript {
    pub turn: TurnId,
    /// Cleaned text: guards applied, whitespace normalized. Empty when the guards rejected
    /// everything the recognizer said.
    pub text: String,
    /// Media time of the start of the turn's speech.
    pub start: MediaTime,
    /// Media time of the end of the audio that was transcribed.
    pub end: MediaTime,
    /// Wall-clock time spent recognizing, in milliseconds.
    pub compute_ms: f32,
}

/// Something that happened in a call.
#[derive(Clone, Debug, PartialEq, serde::Serialize)]
#[serde(tag = "event", rename_all = "snake_case")]
pub enum CallEvent {
    /// The endpointer decided the caller started speaking at `at` (prefix padding not included).
    SpeechStarted { turn: TurnId, at: MediaTime },
    /// The caller stopped speaking at `at`; the endpointer decided so at `decided_at`, after the
    /// minimum silence (or at once when the turn hit its maximum length, `forced`).
    SpeechEnded { turn: TurnId, at: MediaTime, decided_at: MediaTime, forced: bool },
    /// Text so far for a turn still in progress.
    PartialTranscript(Transcript),
    /// Text of a finished turn.
    FinalTranscript(Transcript),
}
