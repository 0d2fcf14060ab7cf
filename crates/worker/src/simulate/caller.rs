//! The simulated caller: the call file split into the answers the caller gives, in order.
//!
//! A call file is the caller's side of a call: utterances with pauses between them. The
//! simulator plays the next utterance when the dialogue listens for an answer, so a file works
//! whatever the prompts' lengths are (they differ between voices). Utterances are found by level,
//! not by the VAD under test, so the split cannot hide a VAD fault: frames more than 15 dB over
//! the file's quiet floor (and over -45 dBFS) are active, runs closer than `JOIN_GAP` are one
//! utterance.

use std::time::Duration;

use codec::WavFile;
use types::{AudioFrame, MediaTime, FRAME_MS};

use crate::ingest::{Ingest, IngestError};

/// Pauses shorter than this stay inside one utterance (a caller drawing breath). Longer pauses
/// separate answers: the fixtures leave 1.5 s between turns.
const JOIN_GAP_MS: u64 = 900;
/// Active runs shorter than this are clicks, not answers.
const MIN_RUN_MS: u64 = 100;
/// Audio kept before and after an utterance's active frames (soft onsets, trailing sounds).
const LEAD_MS: u64 = 300;
const TRAIL_MS: u64 = 500;

/// One answer: bus frames and where they sit in the file.
#[derive(Debug, Clone)]
pub struct Utterance {
    pub frames: Vec<AudioFrame>,
    /// Where the utterance (with its lead and trail) starts in the file.
    pub file_start: MediaTime,
    pub file_end: MediaTime,
}

/// What the caller does when the dialogue listens.
#[derive(Debug, Clone)]
pub enum Answer {
    Speak(Utterance),
    Keys(String),
}

/// The caller's answers: the file's utterances in order, then the DTMF groups.
#[derive(Debug, Clone)]
pub struct CallerScript {
    answers: std::collections::VecDeque<Answer>,
}

impl CallerScript {
    pub fn new(utterances: Vec<Utterance>, dtmf_groups: &[String]) -> Self {
        let mut answers: std::collections::VecDeque<Answer> = utterances.into_iter().map(Answer::Speak).collect();
        answers.extend(dtmf_groups.iter().filter(|g| !g.is_empty()).map(|g| Answer::Keys(g.clone())));
        Self { answers }
    }

    pub fn next_answer(&mut self) -> Option<Answer> {
        self.answers.pop_front()
    }

    pub fn remaining(&self) -> usize {
        self.answers.len()
    }
}

/// Decodes the whole file onto the bus and splits it into utterances.
pub fn utterances(wav: &WavFile) -> Result<Vec<Utterance>, IngestError> {
    let frames = bus_frames(wav)?;
    let levels: Vec<f32> = frames.iter().map(|f| dsp::rms_dbfs(&f.samples)).collect();
    let threshold = activity_threshold(&levels);
    let frame_ms = u64::from(FRAME_MS);
    let mut runs: Vec<(usize, usize)> = Vec::new();
    for (i, &l) in levels.iter().enumerate() {
        if l < threshold {
            continue;
        }
        match runs.last_mut() {
            Some((_, end)) if (i - *end) as u64 * frame_ms <= JOIN_GAP_MS => *end = i + 1,
            _ => runs.push((i, i + 1)),
        }
    }
    runs.retain(|(s, e)| (e - s) as u64 * frame_ms >= MIN_RUN_MS);
    let lead = (LEAD_MS / frame_ms) as usize;
    let trail = (TRAIL_MS / frame_ms) as usize;
    let mut out = Vec::with_capacity(runs.len());
    for (k, &(s, e)) in runs.iter().enumerate() {
        // Never reach into the neighbouring utterance.
        let lo = s.saturating_sub(lead).max(if k > 0 { runs[k - 1].1 } else { 0 });
        let hi = (e + trail).min(runs.get(k + 1).map_or(frames.len(), |n| n.0));
        out.push(Utterance {
            frames: frames[lo..hi].to_vec(),
            file_start: MediaTime::from_millis(lo as u64 * frame_ms),
            file_end: MediaTime::from_millis(hi as u64 * frame_ms),
        });
    }
    Ok(out)
}

/// -45 dBFS, or 15 dB over the quietest tenth of the frames when the line is noisier.
fn activity_threshold(levels: &[f32]) -> f32 {
    let mut sorted: Vec<f32> = levels.iter().copied().filter(|l| l.is_finite()).collect();
    sorted.sort_by(f32::total_cmp);
    let floor = sorted.get(sorted.len() / 10).copied().unwrap_or(-120.0);
    (floor + 15.0).max(-45.0)
}

fn bus_frames(wav: &WavFile) -> Result<Vec<AudioFrame>, IngestError> {
    let mut ingest = Ingest::new(wav.format, wav.rate, wav.channels)?;
    let frame_bytes = ingest.frame_bytes();
    let mut frames = Vec::with_capacity(wav.data.len() / frame_bytes + 1);
    let mut frame = AudioFrame::silence(MediaTime::ZERO);
    let mut last = vec![0u8; frame_bytes];
    for chunk in wav.data.chunks(frame_bytes) {
        let payload = if chunk.len() == frame_bytes {
            chunk
        } else {
            last.fill(crate::transcribe::silence_byte(wav.format));
            last[..chunk.len()].copy_from_slice(chunk);
            &last[..]
        };
        ingest.push(payload, &mut frame)?;
        frames.push(frame);
    }
    Ok(frames)
}

/// Time between keys when the caller types a DTMF group.
pub const KEY_INTERVAL: Duration = Duration::from_millis(250);
