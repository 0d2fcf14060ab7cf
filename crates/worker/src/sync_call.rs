//! Running one call's graph synchronously on the current thread, models inline: what
//! `attendant transcribe`, the tests and the benches use. The live worker runs the same graph
//! with VAD batched across calls and decoders on a compute pool.

use std::time::{Duration, Instant};

use asr::{Decoder, Recognition, WhisperModel};
use types::{AudioFrame, CallEvent, MediaTime, Transcript, TurnId};
use vad::SileroModel;

use crate::graph::{CallGraph, GraphConfig, GraphOutput, JobKind, VadKind};
use crate::models::{ModelDir, ModelFile};

/// The models one thread needs to run calls: Silero (when configured) and a whisper decoder.
#[derive(Debug)]
pub struct Engines {
    pub silero: Option<SileroModel>,
    pub decoder: Decoder,
    /// Turn audio handed to the decoder. One per decoder, not per call: it grows to the longest
    /// turn (about 1 MB for 15 s), which a call must not carry.
    audio: Vec<f32>,
}

impl Engines {
    /// Loads what `config` needs from `models`. A missing file is named with its fetch command.
    pub fn load(models: &ModelDir, config: &GraphConfig) -> anyhow::Result<Self> {
        let silero = match config.vad {
            VadKind::Silero => {
                let runtime = models.require(ModelFile::OnnxRuntime)?;
                let model = models.require(ModelFile::SileroVad)?;
                Some(SileroModel::load(&runtime, &model)?)
            }
            VadKind::Energy => None,
        };
        let file = if config.asr.model == "base" { ModelFile::WhisperBase } else { ModelFile::WhisperTinyEn };
        let whisper = WhisperModel::load(&models.require(file)?)?;
        let decoder = whisper.decoder(config.asr.clone())?;
        Ok(Self { silero, decoder, audio: Vec::new() })
    }

    /// Decodes the audio of the job `graph` just emitted.
    pub fn recognize(&mut self, graph: &CallGraph, prompt: Option<&str>) -> Result<Recognition, asr::AsrError> {
        graph.job_audio(&mut self.audio);
        self.decoder.recognize(&self.audio, prompt)
    }
}

/// A finished turn as the command line reports it.
#[derive(Clone, Debug, PartialEq)]
pub struct FinalTurn {
    pub turn: TurnId,
    pub start: MediaTime,
    pub end: MediaTime,
    /// When the endpointer decided the turn was over (media time).
    pub decided_at: MediaTime,
    pub forced: bool,
    pub recognition: Recognition,
    /// Wall-clock time from the end-of-turn decision to the final transcript.
    pub final_latency: Duration,
}

/// What one frame (or the end of the stream) produced.
#[derive(Clone, Debug, PartialEq)]
pub enum Produced {
    Event(CallEvent),
    Final(FinalTurn),
}

/// One call on the current thread.
#[derive(Debug)]
pub struct SyncCall {
    graph: CallGraph,
    outputs: Vec<GraphOutput>,
    pending_end: Option<(TurnId, MediaTime, bool)>,
    prompt: Option<String>,
    /// The current turn's speculative decode, reused by a final over the same audio.
    speculative: Option<(TurnId, Recognition)>,
}

impl SyncCall {
    pub fn new(config: &GraphConfig, prompt: Option<String>) -> Self {
        Self { graph: CallGraph::new(config), outputs: Vec::with_capacity(8), pending_end: None, prompt, speculative: None }
    }

    pub fn graph(&self) -> &CallGraph {
        &self.graph
    }

    /// Runs one bus frame through the graph and any recognition it asks for.
    pub fn push(&mut self, engines: &mut Engines, frame: &AudioFrame, produced: &mut Vec<Produced>) -> anyhow::Result<()> {
        self.graph.push_frame(frame);
        if let (Some(silero), Some(stream)) = (engines.silero.as_mut(), self.graph.silero_stream()) {
            silero.infer(&mut [stream])?;
        }
        self.graph.process(&mut self.outputs);
        self.drain(engines, produced)
    }

    /// Ends the call: an open turn is closed and transcribed.
    pub fn finish(&mut self, engines: &mut Engines, produced: &mut Vec<Produced>) -> anyhow::Result<()> {
        self.graph.finish(&mut self.outputs);
        self.drain(engines, produced)
    }

    fn drain(&mut self, engines: &mut Engines, produced: &mut Vec<Produced>) -> anyhow::Result<()> {
        let decided = Instant::now();
        for output in self.outputs.drain(..) {
            match output {
                GraphOutput::Event(event) => {
                    if let CallEvent::SpeechEnded { turn, decided_at, forced, .. } = event {
                        self.pending_end = Some((turn, decided_at, forced));
                    }
                    produced.push(Produced::Event(event));
                }
                GraphOutput::Recognize(job) => {
                    let recognition = match self.speculative.take() {
                        Some((turn, r)) if job.same_as_speculative && turn == job.turn => r,
                        _ => engines.recognize(&self.graph, self.prompt.as_deref())?,
                    };
                    let transcript = Transcript {
                        turn: job.turn,
                        text: recognition.text.clone(),
                        start: job.start,
                        end: job.end,
                        compute_ms: recognition.compute.as_secs_f32() * 1e3,
                    };
                    match job.kind {
                        JobKind::Partial => produced.push(Produced::Event(CallEvent::PartialTranscript(transcript))),
                        // Kept for the final over the same audio; not a partial (its cadence is
                        // the caller's pauses, not the partial interval).
                        JobKind::Speculative => self.speculative = Some((job.turn, recognition)),
                        JobKind::Final => {
                            let (decided_at, forced) = match self.pending_end.take() {
                                Some((turn, at, forced)) if turn == job.turn => (at, forced),
                                _ => (job.end, true),
                            };
                            produced.push(Produced::Event(CallEvent::FinalTranscript(transcript)));
                            produced.push(Produced::Final(FinalTurn {
                                turn: job.turn,
                                start: job.start,
                                end: job.end,
                                decided_at,
                                forced,
                                recognition,
                                final_latency: decided.elapsed(),
                            }));
                        }
                    }
                }
            }
        }
        Ok(())
    }
}
