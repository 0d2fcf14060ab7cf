//! What the callers say, as 20 ms PCMU payloads prepared once: the duty cycle over a WAV (the
//! slices of `ws_load/audio.rs`, decoded from its base64 µ-law), or the assistant fixtures of
//! testdata/fixtures.json, one whole utterance per call.

use std::path::{Path, PathBuf};

use base64::Engine as _;
use serde_json::Value;
use types::SampleRate;

use super::audio::{Audio, Duty, Payload};
use super::Protocol;

/// One 20 ms PCMU payload: 160 samples at 8 kHz.
pub const FRAME_BYTES: usize = 160;
pub type Frame = [u8; FRAME_BYTES];
/// µ-law of 0.
pub const SILENCE: Frame = [0xFF; FRAME_BYTES];

#[derive(Debug)]
pub enum Content {
    Duty(DutyAudio),
    Script(Vec<Fixture>),
}

/// The duty cycle: `duty.utter` frames of speech at the start of every `duty.period` frames.
#[derive(Debug)]
pub struct DutyAudio {
    pub duty: Duty,
    pub wav: PathBuf,
    pub slices: Vec<Vec<Frame>>,
}

impl DutyAudio {
    pub fn load(path: &Path, duty: Duty) -> Result<Self, String> {
        let audio = Audio::load(path, Protocol::Twilio, SampleRate::HZ_8000, duty.utter)?;
        let b64 = base64::engine::general_purpose::STANDARD;
        let mut slices = Vec::with_capacity(audio.slices.len());
        for slice in &audio.slices {
            let mut frames = Vec::with_capacity(slice.len());
            for p in slice {
                let Payload::Base64(text) = p else { return Err("audio.rs gave a binary frame for µ-law".into()) };
                let bytes = b64.decode(text).map_err(|e| e.to_string())?;
                frames.push(to_frame(&bytes));
            }
            slices.push(frames);
        }
        Ok(Self { duty, wav: path.to_path_buf(), slices })
    }

    /// Frame `n` of slot `index` (speech, or `None` for silence): as `Audio::frame` in
    /// ws_load, each slot at its own phase and with its own slice order.
    pub fn frame(&self, index: usize, n: u64) -> Option<&Frame> {
        let d = self.duty;
        let t = n + phase(index, d.period);
        let at = t % d.period;
        let slice = &self.slices[(t / d.period + index as u64) as usize % self.slices.len()];
        slice.get(at as usize).filter(|_| at < d.utter)
    }
}

/// A fixed pseudo-random phase per slot (splitmix64), in frames (copied from ws_load/audio.rs,
/// where it is private).
fn phase(index: usize, period: u64) -> u64 {
    let mut z = (index as u64).wrapping_add(0x9E37_79B9_7F4A_7C15);
    z = (z ^ (z >> 30)).wrapping_mul(0xBF58_476D_1CE4_E5B9);
    z = (z ^ (z >> 27)).wrapping_mul(0x94D0_49BB_1331_11EB);
    (z ^ (z >> 31)) % period
}

fn to_frame(bytes: &[u8]) -> Frame {
    let mut f = SILENCE;
    let n = bytes.len().min(FRAME_BYTES);
    f[..n].copy_from_slice(&bytes[..n]);
    f
}

/// One assistant utterance: a whole fixture file, from its start.
#[derive(Debug)]
pub struct Fixture {
    /// Relative to testdata/.
    pub path: String,
    pub text: String,
    pub intent: String,
    /// Where its speech ends in the file: the caller's last word, for a client-side latency.
    pub speech_end_ms: u64,
    pub frames: Vec<Frame>,
}

impl Fixture {
    /// Every entry under `assistant/` with exactly one expected turn that has an intent: the
    /// single-utterance files (one speech extent and an `intent`), or a call whose
    /// `turns_expected` is one turn with an intent. Interleaved by intent.
    pub fn load_assistant(manifest: &Path) -> Result<Vec<Self>, String> {
        let text = std::fs::read_to_string(manifest).map_err(|e| format!("{}: {e}", manifest.display()))?;
        let v: Value = serde_json::from_str(&text).map_err(|e| format!("{}: {e}", manifest.display()))?;
        let root = manifest.parent().unwrap_or(Path::new("."));
        let mut out = Vec::new();
        for f in v["files"].as_array().into_iter().flatten() {
            let path = f["path"].as_str().unwrap_or("");
            if !path.starts_with("assistant/") {
                continue;
            }
            let turns = f["turns"].as_array().map_or(0, Vec::len);
            let intent = match f["turns_expected"].as_array() {
                Some(expected) if expected.len() == 1 => expected[0]["intent"].as_str(),
                Some(_) => None,
                None if turns == 1 => f["intent"].as_str(),
                None => None,
            };
            let Some(intent) = intent else { continue };
            let speech_end_ms = f["turns"].as_array().and_then(|t| t.last()).and_then(|t| t["end_ms"].as_u64()).unwrap_or(0);
            let frames = load_ulaw(&root.join(path))?;
            out.push(Self { path: path.to_owned(), text: f["text"].as_str().unwrap_or("").to_owned(), intent: intent.to_owned(), speech_end_ms, frames });
        }
        if out.is_empty() {
            return Err(format!("{}: no assistant fixture with one expected intent", manifest.display()));
        }
        Ok(interleave(out))
    }
}

/// The manifest groups fixtures by intent: taken one intent after the other (first of each
/// intent in manifest order, then the second of each, ...), so that even a few calls cover
/// every intent.
fn interleave(fixtures: Vec<Fixture>) -> Vec<Fixture> {
    let mut groups: Vec<(String, std::collections::VecDeque<Fixture>)> = Vec::new();
    for f in fixtures {
        match groups.iter_mut().find(|(i, _)| *i == f.intent) {
            Some((_, g)) => g.push_back(f),
            None => groups.push((f.intent.clone(), std::collections::VecDeque::from([f]))),
        }
    }
    let mut out = Vec::new();
    while groups.iter().any(|(_, g)| !g.is_empty()) {
        out.extend(groups.iter_mut().filter_map(|(_, g)| g.pop_front()));
    }
    out
}

/// A WAV at 8 kHz as PCMU frames: µ-law mono as stored, anything else decoded (first channel)
/// and encoded.
fn load_ulaw(path: &Path) -> Result<Vec<Frame>, String> {
    let wav = codec::WavFile::open(path).map_err(|e| format!("{}: {e}", path.display()))?;
    if wav.rate != SampleRate::HZ_8000 {
        return Err(format!("{}: {} Hz, the RTP caller sends 8 kHz", path.display(), wav.rate.hz()));
    }
    if wav.format == codec::SampleFormat::Ulaw && wav.channels == 1 {
        return Ok(wav.data.chunks(FRAME_BYTES).map(to_frame).collect());
    }
    let channels = usize::from(wav.channels);
    let mut interleaved = vec![0.0f32; FRAME_BYTES * channels];
    let mut mono = [0.0f32; FRAME_BYTES];
    let mut frames = Vec::new();
    for chunk in wav.data.chunks_exact(wav.frame_bytes()) {
        codec::decode(wav.format, chunk, &mut interleaved).map_err(|e| e.to_string())?;
        for (m, s) in mono.iter_mut().zip(interleaved.chunks_exact(channels)) {
            *m = s[0];
        }
        let mut f = SILENCE;
        codec::g711::f32_to_ulaw(&mono, &mut f);
        frames.push(f);
    }
    Ok(frames)
}

/// RMS of a PCMU payload, 0..1 of full scale.
pub fn ulaw_rms(payload: &[u8]) -> f32 {
    if payload.is_empty() {
        return 0.0;
    }
    let mut pcm = [0i16; 320];
    let n = payload.len().min(pcm.len());
    codec::g711::ulaw_to_i16(&payload[..n], &mut pcm[..n]);
    let sum: f64 = pcm[..n].iter().map(|&s| f64::from(s) * f64::from(s)).sum();
    ((sum / n as f64).sqrt() / 32768.0) as f32
}
