//! The per-call media graph after ingest: VAD -> endpointer -> turn audio -> recognition jobs.
//!
//! A frame goes through in two steps so that Silero inference can be batched across calls:
//! [`CallGraph::push_frame`] feeds the VAD input; the caller runs [`vad::SileroModel::infer`]
//! over the [`CallGraph::silero_stream`] of every call that has a chunk ready; then
//! [`CallGraph::process`] runs the endpointer on the new probability and emits events and
//! recognition jobs. The graph never blocks and never runs a model itself.
//!
//! Turn audio is kept as 16-bit samples in a buffer sized at construction for the longest turn:
//! no allocation per frame, about 0.5 MB per call with the default 15 s turn limit.

use asr::{AsrConfig, TurnPolicy};
use types::{AudioFrame, CallEvent, MediaTime, TurnId, FRAME_MS, FRAME_SAMPLES};
use vad::{EndpointEvent, Endpointer, EndpointerConfig, EnergyVad, SileroStream};

/// Which voice activity detector a call uses.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, serde::Deserialize, serde::Serialize)]
#[serde(rename_all = "snake_case")]
pub enum VadKind {
    /// The Silero network (needs `silero_vad.onnx`).
    #[default]
    Silero,
    /// Level against an adaptive noise floor; no model.
    Energy,
}

/// Settings of a call's media graph.
#[derive(Clone, Debug, PartialEq, serde::Deserialize, serde::Serialize)]
#[serde(deny_unknown_fields, default)]
pub struct GraphConfig {
    /// Default `silero`.
    pub vad: VadKind,
    pub endpointer: EndpointerConfig,
    pub asr: AsrConfig,
    /// Silence after the caller's last word at which the turn so far is decoded speculatively,
    /// before the endpointer's `min_silence_ms` has elapsed; 0 turns it off. If the caller stays
    /// quiet the final reuses that decode, and a dialogue that is already sure of the answer can
    /// end the turn on it: this is what brings a decision within 400 ms of the last word.
    /// Default 200 ms; at least 160 (the kept tail) and below `endpointer.min_silence_ms`.
    pub speculative_final_ms: u32,
}

impl Default for GraphConfig {
    fn default() -> Self {
        Self { vad: VadKind::default(), endpointer: EndpointerConfig::default(), asr: AsrConfig::default(), speculative_final_ms: 200 }
    }
}

/// Real audio kept after the end of speech, so a final consonant is not clipped.
const TAIL_MS: u32 = 150;

/// Whether a recognition job is for a turn in progress or a finished one.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum JobKind {
    Partial,
    /// The turn up to the caller's last word, decoded while the caller has paused but before
    /// the turn is over. Not droppable like a partial: it may decide the turn.
    Speculative,
    Final,
}

/// A request to transcribe the current turn audio. Fetch the audio with
/// [`CallGraph::job_audio`] before the next `push_frame`: the buffer moves on.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct AsrJob {
    pub turn: TurnId,
    pub kind: JobKind,
    /// Start of the turn's speech (prefix padding not counted).
    pub start: MediaTime,
    /// End of the audio to transcribe: end of speech for a final, the newest frame for a partial.
    pub end: MediaTime,
    /// A final whose audio is exactly that of the turn's last speculative job (the caller said
    /// nothing more): its transcript is that job's, no second decode needed.
    pub same_as_speculative: bool,
}

/// Something the graph produced for the caller to act on.
#[derive(Clone, Debug, PartialEq)]
pub enum GraphOutput {
    Event(CallEvent),
    Recognize(AsrJob),
}

enum Detector {
    Silero(Box<SileroStream>),
    Energy(EnergyVad),
}

/// The last few frames before a turn is confirmed, so the turn can begin before its onset.
struct PrefixRing {
    samples: Vec<i16>,
    times: Vec<MediaTime>,
    next: usize,
    len: usize,
}

impl PrefixRing {
    fn new(frames: usize) -> Self {
        Self { samples: vec![0; frames * FRAME_SAMPLES], times: vec![MediaTime::ZERO; frames], next: 0, len: 0 }
    }

    fn push(&mut self, frame: &AudioFrame) {
        let slot = &mut self.samples[self.next * FRAME_SAMPLES..(self.next + 1) * FRAME_SAMPLES];
        for (o, &s) in slot.iter_mut().zip(&frame.samples) {
            *o = codec::l16::f32_to_i16(s);
        }
        self.times[self.next] = frame.time;
        self.next = (self.next + 1) % self.times.len();
        self.len = (self.len + 1).min(self.times.len());
    }

    /// Frames from `from` on, oldest first.
    fn frames_since(&self, from: MediaTime) -> impl Iterator<Item = (MediaTime, &[i16])> {
        let cap = self.times.len();
        (0..self.len)
            .map(move |k| (self.next + cap - self.len + k) % cap)
            .filter(move |&i| self.times[i] >= from)
            .map(move |i| (self.times[i], &self.samples[i * FRAME_SAMPLES..(i + 1) * FRAME_SAMPLES]))
    }

    fn clear(&mut self) {
        self.len = 0;
    }
}

/// One call's graph state.
pub struct CallGraph {
    detector: Detector,
    endpointer: Endpointer,
    policy: TurnPolicy,
    ring: PrefixRing,
    /// Audio of the current (or just finished) turn, from `turn_audio_start`.
    turn_audio: Vec<i16>,
    turn_audio_start: MediaTime,
    /// Start of the current turn's speech (after the prefix padding).
    speech_start: MediaTime,
    /// Samples of `turn_audio` that belong to the job last emitted.
    job_len: usize,
    next_turn: u32,
    current: AudioFrame,
    prefix: MediaTime,
    /// Silent frames after which the speculative job goes out (0: never).
    speculative_frames: u32,
    /// End of speech covered by the current turn's last speculative job.
    speculative_end: Option<MediaTime>,
}

impl std::fmt::Debug for CallGraph {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("CallGraph").field("in_turn", &self.endpointer.in_turn()).field("next_turn", &self.next_turn).finish()
    }
}

impl CallGraph {
    /// A graph for a new call. `config` should have passed validation at load.
    pub fn new(config: &GraphConfig) -> Self {
        let ep = &config.endpointer;
        let frames = |ms: u32| ms.div_ceil(FRAME_MS) as usize;
        // The ring must reach back over the onset (min speech) plus the prefix padding.
        let ring_frames = frames(ep.prefix_padding_ms) + frames(ep.min_speech_ms) + 2;
        // A turn holds at most: ring contents + max turn + tail + the silence that ends it.
        let turn_frames = ring_frames + frames(ep.max_turn_ms) + frames(ep.min_silence_ms) + 2;
        let detector = match config.vad {
            VadKind::Silero => Detector::Silero(Box::default()),
            VadKind::Energy => Detector::Energy(EnergyVad::default()),
        };
        Self {
            detector,
            endpointer: Endpointer::new(ep.clone()),
            policy: TurnPolicy::new(&config.asr),
            ring: PrefixRing::new(ring_frames),
            turn_audio: Vec::with_capacity(turn_frames * FRAME_SAMPLES),
            turn_audio_start: MediaTime::ZERO,
            speech_start: MediaTime::ZERO,
            job_len: 0,
            next_turn: 0,
            current: AudioFrame::silence(MediaTime::ZERO),
            prefix: MediaTime::from_millis(u64::from(ep.prefix_padding_ms)),
            speculative_frames: config.speculative_final_ms / FRAME_MS,
            speculative_end: None,
        }
    }

    /// Step 1: takes the next bus frame and feeds the VAD.
    pub fn push_frame(&mut self, frame: &AudioFrame) {
        self.current = *frame;
        match &mut self.detector {
            Detector::Silero(s) => s.push(&frame.samples),
            Detector::Energy(e) => {
                e.push(&frame.samples);
            }
        }
    }

    /// The Silero stream, when this call uses Silero, for batched inference between the steps.
    /// Whether the caller is mid-turn (speech started, its end not decided yet): a decode for
    /// this call is on its way.
    pub fn in_turn(&self) -> bool {
        self.endpointer.in_turn()
    }

    pub fn silero_stream(&mut self) -> Option<&mut SileroStream> {
        match &mut self.detector {
            Detector::Silero(s) => Some(s),
            Detector::Energy(_) => None,
        }
    }

    /// Speech probability of the newest frame.
    pub fn probability(&self) -> f32 {
        match &self.detector {
            Detector::Silero(s) => s.probability(),
            Detector::Energy(e) => e.probability(),
        }
    }

    /// Step 2: runs the endpointer on the pushed frame; appends events and jobs to `out`.
    pub fn process(&mut self, out: &mut Vec<GraphOutput>) {
        let frame = self.current;
        let event = self.endpointer.push(frame.time, self.probability());
        match event {
            Some(EndpointEvent::Started { at }) => {
                // A forced end can be followed by a start on the same frame: the ring still
                // holds the frame, so it is not lost.
                self.start_turn(at, out);
                self.append(&frame);
            }
            Some(EndpointEvent::Ended { at, decided_at, forced }) => {
                self.append(&frame);
                self.end_turn(at, decided_at, forced, out);
                // A turn cut at its maximum length while the caller talks on starts again after
                // the minimum speech; the ring keeps this frame for its prefix.
                self.ring.clear();
                self.ring.push(&frame);
                return;
            }
            None if self.endpointer.in_turn() => {
                self.append(&frame);
                // No partials while the caller pauses: the speculative decode covers the pause,
                // and a partial of the same audio would only delay it and the final.
                let paused = self.endpointer.pause().is_some_and(|(_, silent)| silent >= self.speculative_frames && self.speculative_frames > 0);
                if !paused && self.policy.partial_due(frame.end()) {
                    self.job_len = self.turn_audio.len();
                    let turn = TurnId(self.next_turn - 1);
                    let job = AsrJob { turn, kind: JobKind::Partial, start: self.speech_start, end: frame.end(), same_as_speculative: false };
                    out.push(GraphOutput::Recognize(job));
                } else if let Some((speech_end, silent)) = self.endpointer.pause() {
                    if self.speculative_frames > 0 && silent == self.speculative_frames {
                        self.job_len = self.samples_until(speech_end);
                        self.speculative_end = Some(speech_end);
                        let turn = TurnId(self.next_turn - 1);
                        let job = AsrJob { turn, kind: JobKind::Speculative, start: self.speech_start, end: speech_end, same_as_speculative: false };
                        out.push(GraphOutput::Recognize(job));
                    }
                }
            }
            None => {}
        }
        self.ring.push(&frame);
    }

    /// Ends the stream (hang-up, end of file): closes an open turn.
    pub fn finish(&mut self, out: &mut Vec<GraphOutput>) {
        let now = self.current.end();
        if let Some(EndpointEvent::Ended { at, decided_at, forced }) = self.endpointer.finish(now) {
            self.end_turn(at, decided_at, forced, out);
        }
    }

    /// Copies the audio of the job just emitted into `out` as f32.
    pub fn job_audio(&self, out: &mut Vec<f32>) {
        out.clear();
        out.extend(self.turn_audio[..self.job_len].iter().map(|&s| f32::from(s) / 32_768.0));
    }

    fn start_turn(&mut self, at: MediaTime, out: &mut Vec<GraphOutput>) {
        let turn = TurnId(self.next_turn);
        self.next_turn += 1;
        self.turn_audio.clear();
        let from = at.saturating_sub(self.prefix);
        let mut first = None;
        for (time, samples) in self.ring.frames_since(from) {
            first.get_or_insert(time);
            self.turn_audio.extend_from_slice(samples);
        }
        self.turn_audio_start = first.unwrap_or(at);
        self.speech_start = at;
        self.speculative_end = None;
        self.policy.start_turn(at);
        out.push(GraphOutput::Event(CallEvent::SpeechStarted { turn, at }));
    }

    fn append(&mut self, frame: &AudioFrame) {
        // Capacity covers the longest turn; never grow (and never allocate) past it.
        if self.turn_audio.len() + FRAME_SAMPLES <= self.turn_audio.capacity() {
            self.turn_audio.extend(frame.samples.iter().map(|&s| codec::l16::f32_to_i16(s)));
        }
    }

    fn end_turn(&mut self, at: MediaTime, decided_at: MediaTime, forced: bool, out: &mut Vec<GraphOutput>) {
        let turn = TurnId(self.next_turn.saturating_sub(1));
        self.policy.end_turn();
        self.job_len = self.samples_until(at);
        let start = self.speech_start;
        let same_as_speculative = !forced && self.speculative_end == Some(at);
        out.push(GraphOutput::Event(CallEvent::SpeechEnded { turn, at, decided_at, forced }));
        out.push(GraphOutput::Recognize(AsrJob { turn, kind: JobKind::Final, start, end: at, same_as_speculative }));
    }

    /// Turn audio samples up to `speech_end` plus the kept tail.
    fn samples_until(&self, speech_end: MediaTime) -> usize {
        let keep_until = speech_end + MediaTime::from_millis(u64::from(TAIL_MS));
        let keep = (keep_until - self.turn_audio_start).to_samples(types::BUS_RATE) as usize;
        keep.min(self.turn_audio.len())
    }
}
