//! [`PlaybackController`]: the outbound audio of one call, a frame at a time.

use std::collections::VecDeque;
use std::sync::Arc;
use std::time::Duration;

use types::SampleRate;

/// Names one prompt within a call; chosen by whoever queues it, echoed in every event about it.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, PartialOrd, Ord, serde::Serialize)]
pub struct PromptId(pub u64);

/// What a queued prompt is, beyond its samples.
#[derive(Clone, Debug, PartialEq)]
pub struct Prompt {
    pub id: PromptId,
    /// What it says: the words reported as heard when it is interrupted.
    pub text: String,
    /// Whether the caller's speech may stop it (DTMF and [`PlaybackController::flush`] always do).
    pub interruptible: bool,
}

/// How marks are confirmed.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub enum MarkPolicy {
    /// A mark is reached when the last sample queued before it has been handed to the transport
    /// ([`PlaybackController::fill`]): RTP, and any transport without marks of its own.
    #[default]
    CountSamples,
    /// The transport has marks (Twilio's `mark`): on reaching one, [`PlaybackEvent::SendMark`] asks
    /// the transport to send it after the audio, and [`PlaybackController::confirm_mark`] reports
    /// the peer's echo. Audio sent is not audio played: the peer's buffer may still hold it.
    Transport,
}

/// Something that happened to the queue, from [`PlaybackController::poll_event`], in order.
#[derive(Clone, Debug, PartialEq)]
pub enum PlaybackEvent {
    /// The prompt's first sample was sent.
    Started(PromptId),
    /// The prompt was sent to its last sample.
    Finished(PromptId),
    /// Stopped part-way by a flush.
    Interrupted(Interruption),
    /// Flushed before any of it was sent.
    Dropped(PromptId),
    /// A mark: `played` when everything before it was sent (or the transport confirmed it), false
    /// when a flush removed it first (reported all the same, so nobody waits for it for ever).
    Mark { name: String, played: bool },
    /// [`MarkPolicy::Transport`]: send this mark to the peer now, after the audio already sent.
    SendMark(String),
}

/// How far an interrupted prompt got.
#[derive(Clone, Debug, PartialEq, serde::Serialize)]
pub struct Interruption {
    pub id: PromptId,
    /// Audio sent before the stop.
    #[serde(serialize_with = "ser_ms", rename = "position_ms")]
    pub position: Duration,
    /// Length of the prompt, as far as it had been rendered.
    #[serde(serialize_with = "ser_ms", rename = "length_ms")]
    pub length: Duration,
    /// The words the caller heard in full (estimated: see [`heard_words`]).
    pub heard: String,
    pub interruptible: bool,
}

fn ser_ms<S: serde::Serializer>(d: &Duration, s: S) -> Result<S::Ok, S::Error> {
    s.serialize_u64(d.as_millis() as u64)
}

/// A prompt in the queue. Its audio may arrive in pieces (one per sentence, as a streaming
/// synthesizer renders them); each piece carries where its part of the text ends, so the words
/// heard are estimated within one sentence rather than across the whole prompt.
#[derive(Debug)]
struct Queued {
    prompt: Prompt,
    pieces: Vec<Piece>,
    complete: bool,
    /// Next piece and sample within it.
    piece: usize,
    offset: usize,
    /// Samples sent so far.
    sent: usize,
    /// [`PlaybackEvent::Started`] was reported.
    started: bool,
}

#[derive(Debug)]
struct Piece {
    audio: Arc<[f32]>,
    /// Byte offset in the prompt's text where this piece's words end.
    text_end: usize,
}

impl Queued {
    fn rendered(&self) -> usize {
        self.pieces.iter().map(|p| p.audio.len()).sum()
    }

    /// The words heard after `sent` samples: whole pieces, then a share of the current one.
    fn heard(&self) -> String {
        let text = &self.prompt.text;
        let (mut start_sample, mut text_start) = (0usize, 0usize);
        for p in &self.pieces {
            let end_sample = start_sample + p.audio.len();
            let text_end = p.text_end.min(text.len());
            if self.sent < end_sample {
                let frac = (self.sent - start_sample) as f32 / p.audio.len().max(1) as f32;
                let part = text.get(text_start..text_end).unwrap_or_default();
                let mut heard = text.get(..text_start).unwrap_or_default().trim_end().to_owned();
                let within = heard_words(part, frac);
                if !within.is_empty() {
                    if !heard.is_empty() {
                        heard.push(' ');
                    }
                    heard.push_str(&within);
                }
                return heard;
            }
            start_sample = end_sample;
            text_start = text_end;
        }
        text.get(..text_start).unwrap_or_default().trim_end().to_owned()
    }
}

/// The words of `text` fully spoken once `fraction` of its audio has played, assuming speech
/// time proportional to letters (plus one per word for its gap). An estimate: the voice gives no
/// word timings, but within one sentence this lands within a word or so.
pub(crate) fn heard_words(text: &str, fraction: f32) -> String {
    let words: Vec<&str> = text.split_whitespace().collect();
    let weight = |w: &str| w.chars().filter(|c| c.is_alphanumeric()).count() + 1;
    let total: usize = words.iter().map(|w| weight(w)).sum();
    let budget = fraction.clamp(0.0, 1.0) * total as f32;
    let mut acc = 0usize;
    let mut n = 0;
    for w in &words {
        acc += weight(w);
        if acc as f32 > budget + 0.5 {
            break;
        }
        n += 1;
    }
    words[..n].join(" ")
}

#[derive(Debug)]
enum Item {
    Prompt(Queued),
    Mark(String),
}

/// One call's outbound audio: a queue of prompts and marks, served a frame at a time.
#[derive(Debug)]
pub struct PlaybackController {
    rate: SampleRate,
    marks: MarkPolicy,
    queue: VecDeque<Item>,
    events: VecDeque<PlaybackEvent>,
    paused: bool,
    /// Marks handed to the transport and not yet confirmed ([`MarkPolicy::Transport`]).
    in_flight: Vec<String>,
    /// Frames sent as silence because the prompt playing had not been rendered that far.
    underruns: u64,
}

impl PlaybackController {
    pub fn new(rate: SampleRate, marks: MarkPolicy) -> Self {
        Self { rate, marks, queue: VecDeque::new(), events: VecDeque::new(), paused: false, in_flight: Vec::new(), underruns: 0 }
    }

    pub fn rate(&self) -> SampleRate {
        self.rate
    }

    /// Queues a whole prompt (audio at [`Self::rate`]) after everything already queued.
    pub fn play(&mut self, prompt: Prompt, audio: Arc<[f32]>) {
        let text_end = prompt.text.len();
        let piece = Piece { audio, text_end };
        self.queue.push_back(Item::Prompt(Queued { prompt, pieces: vec![piece], complete: true, piece: 0, offset: 0, sent: 0, started: false }));
    }

    /// Queues a prompt whose audio will come in pieces ([`Self::append`], then [`Self::complete`]).
    /// Until its next piece arrives, the call hears silence where it would be.
    pub fn play_streaming(&mut self, prompt: Prompt) {
        self.queue.push_back(Item::Prompt(Queued { prompt, pieces: Vec::new(), complete: false, piece: 0, offset: 0, sent: 0, started: false }));
    }

    /// Adds the next piece of a streaming prompt; `text_end` is the byte offset in its text where
    /// this piece's words end. False if the prompt is not queued (flushed meanwhile: drop it).
    pub fn append(&mut self, id: PromptId, audio: Arc<[f32]>, text_end: usize) -> bool {
        match self.find(id) {
            Some(q) if !q.complete => {
                q.pieces.push(Piece { audio, text_end });
                true
            }
            _ => false,
        }
    }

    /// No more pieces for this prompt: it finishes when what it has is sent.
    pub fn complete(&mut self, id: PromptId) -> bool {
        match self.find(id) {
            Some(q) => {
                q.complete = true;
                true
            }
            None => false,
        }
    }

    fn find(&mut self, id: PromptId) -> Option<&mut Queued> {
        self.queue.iter_mut().find_map(|i| match i {
            Item::Prompt(q) if q.prompt.id == id => Some(q),
            _ => None,
        })
    }

    /// Queues a mark after everything queued so far.
    pub fn mark(&mut self, name: impl Into<String>) {
        self.queue.push_back(Item::Mark(name.into()));
    }

    /// The peer confirmed a mark sent with [`PlaybackEvent::SendMark`].
    pub fn confirm_mark(&mut self, name: &str) -> bool {
        match self.in_flight.iter().position(|m| m == name) {
            Some(i) => {
                self.in_flight.remove(i);
                self.events.push_back(PlaybackEvent::Mark { name: name.to_owned(), played: true });
                true
            }
            None => false,
        }
    }

    /// Stops sending (silence goes out instead) without losing the place.
    pub fn pause(&mut self) {
        self.paused = true;
    }

    /// Carries on from where [`Self::pause`] stopped.
    pub fn resume(&mut self) {
        self.paused = false;
    }

    pub fn is_paused(&self) -> bool {
        self.paused
    }

    /// Drops everything queued, now. Returns how far the prompt playing got, if one had started;
    /// every dropped item is also reported as an event. Un-pauses: the next prompt plays at once.
    pub fn flush(&mut self) -> Option<Interruption> {
        self.paused = false;
        let mut interrupted = None;
        for item in std::mem::take(&mut self.queue) {
            match item {
                Item::Prompt(q) if q.sent > 0 => {
                    let i = Interruption {
                        id: q.prompt.id,
                        position: self.duration(q.sent),
                        length: self.duration(q.rendered()),
                        heard: q.heard(),
                        interruptible: q.prompt.interruptible,
                    };
                    self.events.push_back(PlaybackEvent::Interrupted(i.clone()));
                    interrupted = Some(i);
                }
                Item::Prompt(q) => self.events.push_back(PlaybackEvent::Dropped(q.prompt.id)),
                Item::Mark(name) => self.events.push_back(PlaybackEvent::Mark { name, played: false }),
            }
        }
        for name in std::mem::take(&mut self.in_flight) {
            self.events.push_back(PlaybackEvent::Mark { name, played: false });
        }
        interrupted
    }

    fn duration(&self, samples: usize) -> Duration {
        Duration::from_micros(samples as u64 * 1_000_000 / u64::from(self.rate.hz()))
    }

    /// The prompt at the head of the queue and how much of it was sent, if one is queued.
    pub fn current(&self) -> Option<(&Prompt, Duration)> {
        self.queue.iter().find_map(|i| match i {
            Item::Prompt(q) => Some((&q.prompt, self.duration(q.sent))),
            Item::Mark(_) => None,
        })
    }

    /// Whether a prompt is sending audio now (started, not paused, not finished).
    pub fn is_speaking(&self) -> bool {
        !self.paused && matches!(self.queue.front(), Some(Item::Prompt(q)) if q.sent > 0)
    }

    /// Whether an interruptible prompt is sending audio now: what the caller's speech may stop.
    pub fn is_speaking_interruptible(&self) -> bool {
        self.is_speaking() && self.current().is_some_and(|(p, _)| p.interruptible)
    }

    /// Nothing queued.
    pub fn is_idle(&self) -> bool {
        self.queue.is_empty()
    }

    /// Frames of silence sent because a streaming prompt had not been rendered far enough.
    pub fn underruns(&self) -> u64 {
        self.underruns
    }

    pub fn poll_event(&mut self) -> Option<PlaybackEvent> {
        self.events.pop_front()
    }

    /// Writes the next `out.len()` samples to send: prompt audio, silence where there is none.
    /// Returns how many samples came from prompts.
    pub fn fill(&mut self, out: &mut [f32]) -> usize {
        out.fill(0.0);
        if self.paused {
            return 0;
        }
        let mut written = 0;
        while written < out.len() {
            match self.queue.front_mut() {
                None => break,
                Some(Item::Mark(_)) => {
                    if let Some(Item::Mark(name)) = self.queue.pop_front() {
                        self.reach_mark(name);
                    }
                }
                Some(Item::Prompt(q)) => {
                    let n = copy_from(q, &mut out[written..]);
                    written += n;
                    // An empty prompt still starts and finishes, so whoever waits for it goes on.
                    if !q.started && (n > 0 || (q.complete && q.piece >= q.pieces.len())) {
                        q.started = true;
                        self.events.push_back(PlaybackEvent::Started(q.prompt.id));
                    }
                    if q.piece >= q.pieces.len() {
                        if q.complete {
                            let id = q.prompt.id;
                            self.queue.pop_front();
                            self.events.push_back(PlaybackEvent::Finished(id));
                        } else {
                            self.underruns += 1;
                            break;
                        }
                    }
                }
            }
        }
        written
    }

    fn reach_mark(&mut self, name: String) {
        match self.marks {
            MarkPolicy::CountSamples => self.events.push_back(PlaybackEvent::Mark { name, played: true }),
            MarkPolicy::Transport => {
                self.in_flight.push(name.clone());
                self.events.push_back(PlaybackEvent::SendMark(name));
            }
        }
    }
}

/// Copies what `q` has left into `out`; returns the samples copied.
fn copy_from(q: &mut Queued, out: &mut [f32]) -> usize {
    let mut n = 0;
    while n < out.len() {
        let Some(piece) = q.pieces.get(q.piece) else { break };
        let left = &piece.audio[q.offset.min(piece.audio.len())..];
        let take = left.len().min(out.len() - n);
        out[n..n + take].copy_from_slice(&left[..take]);
        n += take;
        q.offset += take;
        q.sent += take;
        if q.offset >= piece.audio.len() {
            q.piece += 1;
            q.offset = 0;
        }
    }
    n
}

#[cfg(test)]
#[path = "controller_tests.rs"]
mod tests;
