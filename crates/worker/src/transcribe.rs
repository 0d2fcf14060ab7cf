//! `attendant transcribe FILE...`: WAV files streamed through the graph in 20 ms frames, as a
//! live call would deliver them, one line per turn.

use std::io::Write;
use std::path::Path;

use codec::WavFile;
use types::{AudioFrame, CallEvent, MediaTime};

use crate::graph::GraphConfig;
use crate::ingest::{Ingest, IngestError};
use crate::sync_call::{Engines, FinalTurn, Produced, SyncCall};

/// Why one file could not be transcribed. The other files go on.
#[derive(Debug, thiserror::Error)]
pub enum FileError {
    #[error(transparent)]
    Wav(#[from] codec::WavError),
    #[error(transparent)]
    Ingest(#[from] IngestError),
    #[error("recognition failed: {0}")]
    Pipeline(#[from] anyhow::Error),
}

/// Streams one WAV file through a new call's graph and returns everything it produced.
pub fn transcribe_file(path: &Path, engines: &mut Engines, config: &GraphConfig, prompt: Option<String>) -> Result<Vec<Produced>, FileError> {
    let wav = WavFile::open(path)?;
    transcribe_wav(&wav, engines, config, prompt)
}

/// Streams decoded WAV contents through a new call's graph.
pub fn transcribe_wav(wav: &WavFile, engines: &mut Engines, config: &GraphConfig, prompt: Option<String>) -> Result<Vec<Produced>, FileError> {
    let mut ingest = Ingest::new(wav.format, wav.rate, wav.channels)?;
    let mut call = SyncCall::new(config, prompt);
    let mut frame = AudioFrame::silence(MediaTime::ZERO);
    let mut produced = Vec::new();
    let frame_bytes = ingest.frame_bytes();
    let mut last = vec![0u8; frame_bytes];
    for chunk in wav.data.chunks(frame_bytes) {
        let payload = if chunk.len() == frame_bytes {
            chunk
        } else {
            // The file's last partial frame, padded with silence of its own encoding.
            last.fill(silence_byte(wav.format));
            last[..chunk.len()].copy_from_slice(chunk);
            &last[..]
        };
        ingest.push(payload, &mut frame)?;
        call.push(engines, &frame, &mut produced)?;
    }
    call.finish(engines, &mut produced)?;
    Ok(produced)
}

pub(crate) fn silence_byte(format: codec::SampleFormat) -> u8 {
    match format {
        codec::SampleFormat::Ulaw => 0xff,
        codec::SampleFormat::Alaw => 0xd5,
        codec::SampleFormat::U8 => 0x80,
        _ => 0,
    }
}

/// One turn line for `--json`.
#[derive(Debug, serde::Serialize)]
struct TurnLine<'a> {
    file: &'a str,
    turn: u32,
    start_ms: u64,
    end_ms: u64,
    text: &'a str,
    /// Wall-clock ms from the end-of-turn decision to the final transcript.
    final_latency_ms: f64,
    /// Media time at which the endpointer decided the turn was over.
    endpoint_ms: u64,
    compute_ms: f64,
    forced: bool,
    no_speech_prob: f32,
    avg_logprob: f32,
    #[serde(skip_serializing_if = "Option::is_none")]
    guard: Option<asr::guards::Verdict>,
}

#[derive(Debug, serde::Serialize)]
struct PartialLine<'a> {
    file: &'a str,
    turn: u32,
    partial: bool,
    start_ms: u64,
    end_ms: u64,
    text: &'a str,
    compute_ms: f32,
}

/// Options of the `transcribe` command.
#[derive(Debug, Clone, Default)]
pub struct Options {
    pub json: bool,
    pub partials: bool,
    pub prompt: Option<String>,
}

/// Prints every file's turns; returns how many files failed.
pub fn run(files: &[std::path::PathBuf], engines: &mut Engines, config: &GraphConfig, options: &Options) -> usize {
    let stdout = std::io::stdout();
    let mut failed = 0;
    for path in files {
        let name = path.display().to_string();
        match transcribe_file(path, engines, config, options.prompt.clone()) {
            Ok(produced) => {
                let mut out = stdout.lock();
                let mut turns = 0;
                for p in &produced {
                    match p {
                        Produced::Final(t) => {
                            turns += 1;
                            print_final(&mut out, &name, t, options.json);
                        }
                        Produced::Event(CallEvent::PartialTranscript(t)) if options.partials => {
                            if options.json {
                                let line = PartialLine {
                                    file: &name,
                                    turn: t.turn.0,
                                    partial: true,
                                    start_ms: t.start.as_millis(),
                                    end_ms: t.end.as_millis(),
                                    text: &t.text,
                                    compute_ms: t.compute_ms,
                                };
                                let _ = writeln!(out, "{}", serde_json::to_string(&line).unwrap_or_default());
                            } else {
                                let _ = writeln!(out, "{name}: [{} - {}] ... {}", t.start, t.end, t.text);
                            }
                        }
                        Produced::Event(_) => {}
                    }
                }
                if turns == 0 && !options.json {
                    let _ = writeln!(out, "{name}: no speech");
                }
            }
            Err(e) => {
                failed += 1;
                eprintln!("error: {name}: {e}");
            }
        }
    }
    failed
}

fn print_final(out: &mut impl Write, name: &str, t: &FinalTurn, json: bool) {
    let latency_ms = t.final_latency.as_secs_f64() * 1e3;
    if json {
        let line = TurnLine {
            file: name,
            turn: t.turn.0,
            start_ms: t.start.as_millis(),
            end_ms: t.end.as_millis(),
            text: &t.recognition.text,
            final_latency_ms: (latency_ms * 10.0).round() / 10.0,
            endpoint_ms: t.decided_at.as_millis(),
            compute_ms: (t.recognition.compute.as_secs_f64() * 1e4).round() / 10.0,
            forced: t.forced,
            no_speech_prob: t.recognition.no_speech_prob,
            avg_logprob: t.recognition.avg_logprob,
            guard: t.recognition.guard,
        };
        // Serializing plain strings and numbers cannot fail.
        let _ = writeln!(out, "{}", serde_json::to_string(&line).unwrap_or_default());
    } else {
        let text = if t.recognition.text.is_empty() { "(no text)" } else { &t.recognition.text };
        let _ = writeln!(out, "{name}: [{} - {}] {text}  (final in {latency_ms:.0} ms)", t.start, t.end);
    }
}
