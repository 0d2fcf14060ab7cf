//! The endpointer: per-frame speech probabilities in, turn boundaries out.
//!
//! A hysteresis state machine: a turn starts after `min_speech_ms` of frames at or above
//! `threshold`, and ends after `min_silence_ms` of frames below `threshold - hysteresis`, or at
//! once when it reaches `max_turn_ms`. Times are media times of the frames, so the decisions are
//! the same whether the audio arrives live or from a file.

use types::{MediaTime, FRAME_MS};

/// When a caller's turn starts and ends. Every field has a default (see [`Default`]); the defaults
/// sit between those of LiveKit Agents (0.05 s speech, 0.55 s silence, 0.5 s prefix) and Pipecat
/// (0.2 s start, 0.8 s stop) and match ACS recognize's 0.5 s end silence.
#[derive(Clone, Debug, PartialEq, serde::Deserialize, serde::Serialize)]
#[serde(deny_unknown_fields, default)]
pub struct EndpointerConfig {
    /// Probability at or above which a frame is speech. Default 0.5.
    pub threshold: f32,
    /// A frame counts as silence below `threshold - hysteresis`. Default 0.15.
    pub hysteresis: f32,
    /// Speech needed before a turn starts; shorter blips (clicks, a cough) are ignored.
    /// Default 150 ms.
    pub min_speech_ms: u32,
    /// Silence that ends a turn. Default 500 ms.
    pub min_silence_ms: u32,
    /// Audio kept before the detected start of speech, so that soft onsets reach the
    /// recognizer. Default 300 ms.
    pub prefix_padding_ms: u32,
    /// A turn is cut at this length even if the caller keeps talking. Default 15 000 ms.
    pub max_turn_ms: u32,
}

impl Default for EndpointerConfig {
    fn default() -> Self {
        Self {
            threshold: 0.5,
            hysteresis: 0.15,
            min_speech_ms: 150,
            min_silence_ms: 500,
            prefix_padding_ms: 300,
            max_turn_ms: 15_000,
        }
    }
}

/// A setting outside its valid range, named by its field.
#[derive(Debug, Clone, PartialEq, thiserror::Error)]
#[error("endpointer.{field}: {reason}")]
pub struct EndpointerConfigError {
    pub field: &'static str,
    pub reason: String,
}

impl EndpointerConfig {
    pub fn validate(&self) -> Result<(), EndpointerConfigError> {
        let err = |field, reason: &str| Err(EndpointerConfigError { field, reason: reason.to_owned() });
        if !(0.05..=0.99).contains(&self.threshold) {
            return err("threshold", "must be between 0.05 and 0.99");
        }
        if !(0.0..self.threshold).contains(&self.hysteresis) {
            return err("hysteresis", "must be at least 0 and below threshold");
        }
        if self.min_speech_ms < FRAME_MS || self.min_silence_ms < FRAME_MS {
            return err(if self.min_speech_ms < FRAME_MS { "min_speech_ms" } else { "min_silence_ms" }, "must be at least one 20 ms frame");
        }
        if self.prefix_padding_ms > 2_000 {
            return err("prefix_padding_ms", "must be at most 2000");
        }
        if self.max_turn_ms < 1_000 || self.max_turn_ms > 30_000 {
            return err("max_turn_ms", "must be between 1000 and 30000 (whisper's window)");
        }
        Ok(())
    }
}

/// A turn boundary.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum EndpointEvent {
    /// Speech started at `at` (the first speech frame); decided `min_speech_ms` later.
    Started { at: MediaTime },
    /// Speech ended at `at` (just after the last speech frame), decided at `decided_at`.
    Ended { at: MediaTime, decided_at: MediaTime, forced: bool },
}

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum State {
    Silence,
    /// Speech frames seen since `since`, not yet long enough to be a turn.
    Onset { since: MediaTime, frames: u32 },
    /// In a turn since `start`; `last_speech_end` is the end of the last speech frame.
    Speech { start: MediaTime, last_speech_end: MediaTime, silent_frames: u32 },
}

#[derive(Clone, Debug)]
pub struct Endpointer {
    config: EndpointerConfig,
    state: State,
}

impl Endpointer {
    /// Panics never; call [`EndpointerConfig::validate`] at load to reject bad settings.
    pub fn new(config: EndpointerConfig) -> Self {
        Self { config, state: State::Silence }
    }

    pub fn config(&self) -> &EndpointerConfig {
        &self.config
    }

    pub fn in_turn(&self) -> bool {
        matches!(self.state, State::Speech { .. })
    }

    /// Start of the current turn's speech, if in a turn.
    pub fn turn_start(&self) -> Option<MediaTime> {
        match self.state {
            State::Speech { start, .. } => Some(start),
            _ => None,
        }
    }

    /// In a turn whose caller has gone quiet: the end of the last speech frame and how many
    /// silent frames have followed it. `None` outside a turn or while the caller speaks. Lets the
    /// graph start a speculative decode before the end-of-turn silence has fully elapsed.
    pub fn pause(&self) -> Option<(MediaTime, u32)> {
        match self.state {
            State::Speech { last_speech_end, silent_frames, .. } if silent_frames > 0 => Some((last_speech_end, silent_frames)),
            _ => None,
        }
    }

    /// Feeds the probability of the 20 ms frame starting at `time`.
    pub fn push(&mut self, time: MediaTime, probability: f32) -> Option<EndpointEvent> {
        let c = &self.config;
        let frame = MediaTime::from_millis(u64::from(FRAME_MS));
        let frames = |ms: u32| ms.div_ceil(FRAME_MS);
        let speech = probability >= c.threshold;
        let silence = probability < c.threshold - c.hysteresis;
        match self.state {
            State::Silence => {
                if speech {
                    self.state = State::Onset { since: time, frames: 0 };
                    return self.push_onset(time, frame, frames(c.min_speech_ms));
                }
                None
            }
            State::Onset { .. } => {
                if silence {
                    self.state = State::Silence;
                    None
                } else if speech {
                    self.push_onset(time, frame, frames(c.min_speech_ms))
                } else {
                    None // in the hysteresis band: neither confirms nor cancels
                }
            }
            State::Speech { start, last_speech_end, silent_frames } => {
                let end = time + frame;
                if end - start >= MediaTime::from_millis(u64::from(c.max_turn_ms)) {
                    self.state = State::Silence;
                    let at = if speech { end } else { last_speech_end };
                    return Some(EndpointEvent::Ended { at, decided_at: end, forced: true });
                }
                if silence {
                    let silent_frames = silent_frames + 1;
                    if silent_frames >= frames(c.min_silence_ms) {
                        self.state = State::Silence;
                        return Some(EndpointEvent::Ended { at: last_speech_end, decided_at: end, forced: false });
                    }
                    self.state = State::Speech { start, last_speech_end, silent_frames };
                } else {
                    // Speech, or the hysteresis band just after speech: the turn goes on.
                    self.state = State::Speech { start, last_speech_end: end, silent_frames: 0 };
                }
                None
            }
        }
    }

    fn push_onset(&mut self, time: MediaTime, frame: MediaTime, needed: u32) -> Option<EndpointEvent> {
        let State::Onset { since, frames } = self.state else { return None };
        let frames = frames + 1;
        if frames >= needed {
            self.state = State::Speech { start: since, last_speech_end: time + frame, silent_frames: 0 };
            Some(EndpointEvent::Started { at: since })
        } else {
            self.state = State::Onset { since, frames };
            None
        }
    }

    /// Ends an open turn at the end of the stream (hang-up, end of file).
    pub fn finish(&mut self, now: MediaTime) -> Option<EndpointEvent> {
        let State::Speech { last_speech_end, .. } = self.state else {
            self.state = State::Silence;
            return None;
        };
        self.state = State::Silence;
        Some(EndpointEvent::Ended { at: last_speech_end, decided_at: now, forced: true })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Runs a probability per 20 ms frame through an endpointer and collects (frame index, event).
    fn run(config: EndpointerConfig, probs: &[f32]) -> Vec<EndpointEvent> {
        let mut e = Endpointer::new(config);
        let mut out: Vec<_> = probs
            .iter()
            .enumerate()
            .filter_map(|(i, &p)| e.push(MediaTime::from_millis(20 * i as u64), p))
            .collect();
        out.extend(e.finish(MediaTime::from_millis(20 * probs.len() as u64)));
        out
    }

    fn ms(v: u64) -> MediaTime {
        MediaTime::from_millis(v)
    }

    fn pattern(parts: &[(f32, usize)]) -> Vec<f32> {
        parts.iter().flat_map(|&(p, n)| std::iter::repeat_n(p, n)).collect()
    }

    #[test]
    fn turn_starts_after_min_speech_and_ends_after_min_silence() {
        let probs = pattern(&[(0.0, 10), (0.9, 50), (0.0, 40)]);
        let ev = run(EndpointerConfig::default(), &probs);
        assert_eq!(
            ev,
            vec![
                EndpointEvent::Started { at: ms(200) },
                // 25 silent frames of 20 ms = 500 ms after the speech ended at 1200 ms.
                EndpointEvent::Ended { at: ms(1200), decided_at: ms(1700), forced: false },
            ]
        );
    }

    #[test]
    fn short_blip_is_not_a_turn() {
        let probs = pattern(&[(0.0, 10), (0.9, 5), (0.0, 40)]);
        assert!(run(EndpointerConfig::default(), &probs).is_empty());
    }

    #[test]
    fn pause_shorter_than_min_silence_keeps_one_turn() {
        let probs = pattern(&[(0.9, 30), (0.0, 20), (0.9, 30), (0.0, 40)]);
        let ev = run(EndpointerConfig::default(), &probs);
        assert_eq!(ev.len(), 2, "{ev:?}");
        assert_eq!(ev[1], EndpointEvent::Ended { at: ms(1600), decided_at: ms(2100), forced: false });
    }

    #[test]
    fn hysteresis_band_neither_ends_nor_starts_a_turn() {
        // 0.4 is below threshold 0.5 but above 0.35: it holds the current state.
        let probs = pattern(&[(0.9, 20), (0.4, 60), (0.0, 30)]);
        let ev = run(EndpointerConfig::default(), &probs);
        assert_eq!(ev[1], EndpointEvent::Ended { at: ms(1600), decided_at: ms(2100), forced: false });
        assert!(run(EndpointerConfig::default(), &pattern(&[(0.4, 100)])).is_empty());
    }

    #[test]
    fn max_turn_length_forces_an_end() {
        let config = EndpointerConfig { max_turn_ms: 2_000, ..Default::default() };
        let ev = run(config, &pattern(&[(0.9, 150)]));
        assert_eq!(ev[0], EndpointEvent::Started { at: ms(0) });
        assert_eq!(ev[1], EndpointEvent::Ended { at: ms(2000), decided_at: ms(2000), forced: true });
        // The caller is still talking: a new turn starts right after.
        assert_eq!(ev[2], EndpointEvent::Started { at: ms(2000) });
    }

    #[test]
    fn end_of_stream_closes_an_open_turn() {
        let ev = run(EndpointerConfig::default(), &pattern(&[(0.9, 30)]));
        assert_eq!(ev[1], EndpointEvent::Ended { at: ms(600), decided_at: ms(600), forced: true });
    }

    #[test]
    fn invalid_settings_are_named() {
        let bad = EndpointerConfig { hysteresis: 0.7, ..Default::default() };
        assert_eq!(bad.validate().unwrap_err().field, "hysteresis");
        let bad = EndpointerConfig { min_silence_ms: 0, ..Default::default() };
        assert_eq!(bad.validate().unwrap_err().field, "min_silence_ms");
        assert!(EndpointerConfig::default().validate().is_ok());
    }
}
