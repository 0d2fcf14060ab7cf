//! The caller's audio for every connection, encoded once: a fixture WAV cut into utterance-long
//! slices that start where speech starts, each 20 ms frame already in the protocol's payload
//! form (base64 µ-law or s16le for the JSON protocols, raw s16le for the relay), plus one
//! silent frame. Connections only index into it, so hundreds of calls cost no encoding.

use std::path::Path;

use base64::Engine as _;
use tokio_tungstenite::tungstenite::Bytes;
use types::SampleRate;

use super::Protocol;

/// A frame whose RMS is above this (-45 dBFS) counts as speech when looking for slice starts.
const SPEECH_RMS: f32 = 0.0056;

/// One 20 ms frame as the protocol carries it.
#[derive(Clone, Debug)]
pub enum Payload {
    /// base64 text for the `payload` / `data` field of a JSON message.
    Base64(String),
    /// The bytes of one binary relay message.
    Binary(Bytes),
}

/// The duty cycle: `utter` frames of speech at the start of every `period` frames.
#[derive(Clone, Copy, Debug)]
pub struct Duty {
    pub utter: u64,
    pub period: u64,
}

impl Duty {
    /// `"UTTER_S,PERIOD_S"`, seconds (fractions allowed).
    pub fn parse(s: &str) -> Result<Self, String> {
        let (u, p) = s.split_once(',').ok_or("--duty wants UTTER_S,PERIOD_S, e.g. 3,10")?;
        let secs = |v: &str| v.trim().parse::<f64>().map_err(|e| format!("--duty {v:?}: {e}"));
        let (u, p) = (secs(u)?, secs(p)?);
        if !(u >= 0.0 && p > 0.0 && u <= p) {
            return Err("--duty: need 0 <= UTTER_S <= PERIOD_S and PERIOD_S > 0".into());
        }
        Ok(Self { utter: (u * 50.0).round() as u64, period: ((p * 50.0).round() as u64).max(1) })
    }
}

#[derive(Debug)]
pub struct Audio {
    pub rate: SampleRate,
    /// Utterances: `Duty::utter` frames each (or shorter when the WAV is).
    pub slices: Vec<Vec<Payload>>,
    pub silence: Payload,
}

impl Audio {
    /// Decodes `wav`, resamples it to `rate` and cuts slices of `utter` frames.
    pub fn load(path: &Path, protocol: Protocol, rate: SampleRate, utter: u64) -> Result<Self, String> {
        let wav = codec::WavFile::open(path).map_err(|e| format!("{}: {e}", path.display()))?;
        let frame_in = wav.rate.frame_samples();
        let bytes_per_frame = wav.frame_bytes();
        let channels = usize::from(wav.channels);
        let mut resampler = dsp::Resampler::new(wav.rate, rate).map_err(|e| e.to_string())?;
        let mut interleaved = vec![0.0f32; frame_in * channels];
        let mut mono = vec![0.0f32; frame_in];
        let mut frames: Vec<Vec<f32>> = Vec::new();
        for chunk in wav.data.chunks_exact(bytes_per_frame) {
            codec::decode(wav.format, chunk, &mut interleaved).map_err(|e| e.to_string())?;
            // Stereo fixtures: the first channel is the caller.
            for (m, s) in mono.iter_mut().zip(interleaved.chunks_exact(channels)) {
                *m = s[0];
            }
            let mut out = vec![0.0f32; rate.frame_samples()];
            resampler.process(&mono, &mut out).map_err(|e| e.to_string())?;
            frames.push(out);
        }
        let utter = usize::try_from(utter).unwrap_or(usize::MAX).max(1);
        let starts = speech_starts(&frames, utter);
        if starts.is_empty() {
            return Err(format!("{}: no speech above -45 dBFS", path.display()));
        }
        let encode = |f: &[f32]| encode(protocol, f);
        let slices = starts.iter().map(|&s| frames[s..(s + utter).min(frames.len())].iter().map(|f| encode(f)).collect()).collect();
        let silence = encode(&vec![0.0; rate.frame_samples()]);
        Ok(Self { rate, slices, silence })
    }

    /// What connection `index` sends as its frame `n`: speech during the first `utter` frames
    /// of each period, shifted by the connection's own phase so that calls do not all speak
    /// at once, and a different slice each time.
    pub fn frame(&self, duty: Duty, index: usize, n: u64) -> (&Payload, bool) {
        let t = n + phase(index, duty.period);
        let at = t % duty.period;
        let slice = &self.slices[(t / duty.period + index as u64) as usize % self.slices.len()];
        match slice.get(at as usize) {
            Some(p) if at < duty.utter => (p, true),
            _ => (&self.silence, false),
        }
    }
}

/// Frame offsets of slices that each begin at a speech onset and do not overlap; a slice that
/// would run past the end is moved back to end with the file.
fn speech_starts(frames: &[Vec<f32>], len: usize) -> Vec<usize> {
    let loud = |f: &Vec<f32>| (f.iter().map(|s| s * s).sum::<f32>() / f.len().max(1) as f32).sqrt() > SPEECH_RMS;
    let mut starts = Vec::new();
    let mut i = 0;
    while i < frames.len() {
        if loud(&frames[i]) {
            let start = i.min(frames.len().saturating_sub(len));
            if starts.last().is_none_or(|&last| start >= last + len) {
                starts.push(start);
            }
            i = start + len;
        } else {
            i += 1;
        }
    }
    starts
}

/// A fixed pseudo-random phase per connection (splitmix64), in frames.
fn phase(index: usize, period: u64) -> u64 {
    let mut z = (index as u64).wrapping_add(0x9E37_79B9_7F4A_7C15);
    z = (z ^ (z >> 30)).wrapping_mul(0xBF58_476D_1CE4_E5B9);
    z = (z ^ (z >> 27)).wrapping_mul(0x94D0_49BB_1331_11EB);
    (z ^ (z >> 31)) % period
}

fn encode(protocol: Protocol, pcm: &[f32]) -> Payload {
    let b64 = base64::engine::general_purpose::STANDARD;
    match protocol {
        Protocol::Twilio => {
            let mut ulaw = vec![0u8; pcm.len()];
            codec::g711::f32_to_ulaw(pcm, &mut ulaw);
            Payload::Base64(b64.encode(ulaw))
        }
        Protocol::Acs => Payload::Base64(b64.encode(s16le(pcm))),
        Protocol::Relay => Payload::Binary(Bytes::from(s16le(pcm))),
    }
}

fn s16le(pcm: &[f32]) -> Vec<u8> {
    pcm.iter().flat_map(|s| ((s.clamp(-1.0, 1.0) * 32767.0).round() as i16).to_le_bytes()).collect()
}
