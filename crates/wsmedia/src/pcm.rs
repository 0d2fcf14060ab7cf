//! Sample conversion and 20 ms framing shared by the three protocols.
//!
//! Peers send payloads of any length (Twilio's are usually 20 ms but not always, a relay may
//! batch), while everything after the connection expects exactly 20 ms frames; the [`Framer`]
//! keeps the remainder between messages.

use std::collections::VecDeque;

use base64::alphabet;
use base64::engine::general_purpose::{GeneralPurpose, GeneralPurposeConfig, STANDARD};
use base64::engine::DecodePaddingMode;
use base64::Engine as _;
use codec::g711;
use codec::l16::f32_to_i16;

use crate::{Event, Stats};

/// Inbound payloads: padding is optional because a peer that strips it still sent valid audio.
const B64_IN: GeneralPurpose = GeneralPurpose::new(
    &alphabet::STANDARD,
    GeneralPurposeConfig::new().with_decode_padding_mode(DecodePaddingMode::Indifferent),
);

/// Decodes base64 `input` into `out` (cleared first). `false` if it is not base64.
pub(crate) fn decode_b64(input: &str, out: &mut Vec<u8>) -> bool {
    out.clear();
    B64_IN.decode_vec(input.trim(), out).is_ok()
}

/// Appends `bytes` as standard padded base64 (what ACS and Twilio document).
pub(crate) fn encode_b64(bytes: &[u8], out: &mut String) {
    STANDARD.encode_string(bytes, out);
}

/// Little-endian 16-bit samples (ACS, relay) as `f32`. A trailing odd byte is ignored; the
/// callers reject odd lengths before they get here.
pub(crate) fn s16le(bytes: &[u8]) -> impl Iterator<Item = f32> + '_ {
    bytes.chunks_exact(2).map(|c| f32::from(i16::from_le_bytes([c[0], c[1]])) / 32_768.0)
}

/// µ-law bytes (Twilio) as `f32`, through the codec crate's G.711 table.
pub(crate) fn ulaw(bytes: &[u8]) -> impl Iterator<Item = f32> + '_ {
    bytes.iter().map(|&c| f32::from(g711::ULAW_TO_I16[usize::from(c)]) / 32_768.0)
}

/// Encodes `pcm` as little-endian 16-bit into `out` (cleared first).
pub(crate) fn encode_s16le(pcm: &[f32], out: &mut Vec<u8>) {
    out.clear();
    out.reserve(pcm.len() * 2);
    for &s in pcm {
        out.extend_from_slice(&f32_to_i16(s).to_le_bytes());
    }
}

/// Encodes `pcm` as µ-law into `out` (cleared first).
pub(crate) fn encode_ulaw(pcm: &[f32], out: &mut Vec<u8>) {
    out.clear();
    out.extend(pcm.iter().map(|&s| g711::ulaw_encode(f32_to_i16(s))));
}

/// Cuts a stream of samples into 20 ms [`Event::Audio`] frames, keeping the remainder.
#[derive(Debug)]
pub(crate) struct Framer {
    frame: usize,
    pending: Vec<f32>,
}

impl Framer {
    pub(crate) fn new(frame: usize) -> Self {
        Self { frame, pending: Vec::with_capacity(frame) }
    }

    /// Adds samples; every completed frame becomes an event. The frame's Vec is handed over
    /// as is (no copy): the event owns it because it crosses to the media thread.
    pub(crate) fn push(
        &mut self,
        samples: impl Iterator<Item = f32>,
        events: &mut VecDeque<Event>,
        stats: &mut Stats,
    ) {
        for s in samples {
            self.pending.push(s);
            if self.pending.len() == self.frame {
                let full = std::mem::replace(&mut self.pending, Vec::with_capacity(self.frame));
                events.push_back(Event::Audio(full));
                stats.frames += 1;
            }
        }
    }

    /// Adds `n` samples of silence (a silent ACS frame, a Twilio timestamp gap).
    pub(crate) fn push_silence(
        &mut self,
        n: usize,
        events: &mut VecDeque<Event>,
        stats: &mut Stats,
    ) {
        self.push(std::iter::repeat_n(0.0, n), events, stats);
    }

    /// Samples waiting for the rest of their frame.
    #[cfg(test)]
    pub(crate) fn pending(&self) -> usize {
        self.pending.len()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn frames(events: &mut VecDeque<Event>) -> Vec<Vec<f32>> {
        events
            .drain(..)
            .map(|e| match e {
                Event::Audio(f) => f,
                other => panic!("not audio: {other:?}"),
            })
            .collect()
    }

    #[test]
    fn framer_rechunks_and_keeps_the_remainder() {
        let mut f = Framer::new(4);
        let mut ev = VecDeque::new();
        let mut st = Stats::default();
        f.push([1.0, 2.0, 3.0].into_iter(), &mut ev, &mut st);
        assert!(ev.is_empty());
        f.push([4.0, 5.0, 6.0, 7.0, 8.0, 9.0].into_iter(), &mut ev, &mut st);
        assert_eq!(frames(&mut ev), vec![vec![1.0, 2.0, 3.0, 4.0], vec![5.0, 6.0, 7.0, 8.0]]);
        assert_eq!(f.pending(), 1);
        assert_eq!(st.frames, 2);
    }

    #[test]
    fn s16le_round_trips_within_one_step() {
        let pcm = [0.0f32, 0.25, -0.25, 0.999, -1.0];
        let mut bytes = Vec::new();
        encode_s16le(&pcm, &mut bytes);
        assert_eq!(&bytes[2..4], &8192i16.to_le_bytes());
        for (a, b) in pcm.iter().zip(s16le(&bytes)) {
            assert!((a - b).abs() < 1.0 / 16_384.0, "{a} vs {b}");
        }
    }

    #[test]
    fn ulaw_round_trip_keeps_the_level() {
        // A 400 Hz tone at -6 dBFS: µ-law's relative error is a few percent, so the RMS level
        // survives to well within 0.5 dB and each sample to within its segment's step.
        let pcm: Vec<f32> = (0..160)
            .map(|i| 0.5 * (i as f32 * 400.0 * std::f32::consts::TAU / 8000.0).sin())
            .collect();
        let mut bytes = Vec::new();
        encode_ulaw(&pcm, &mut bytes);
        assert_eq!(bytes.len(), 160);
        let back: Vec<f32> = ulaw(&bytes).collect();
        let rms = |x: &[f32]| (x.iter().map(|s| s * s).sum::<f32>() / x.len() as f32).sqrt();
        let db = 20.0 * (rms(&back) / rms(&pcm)).log10();
        assert!(db.abs() < 0.5, "level changed by {db} dB");
        for (a, b) in pcm.iter().zip(&back) {
            assert!((a - b).abs() <= 0.02 + a.abs() * 0.07, "{a} vs {b}");
        }
        // Silence stays silence.
        encode_ulaw(&[0.0; 4], &mut bytes);
        assert!(ulaw(&bytes).all(|s| s == 0.0));
    }

    #[test]
    fn base64_in_accepts_missing_padding_and_rejects_garbage() {
        let mut out = Vec::new();
        assert!(decode_b64("AAE=", &mut out));
        assert_eq!(out, [0, 1]);
        assert!(decode_b64("AAE", &mut out));
        assert_eq!(out, [0, 1]);
        assert!(!decode_b64("not base64!", &mut out));
        let mut s = String::new();
        encode_b64(&[0, 1], &mut s);
        assert_eq!(s, "AAE=");
    }
}
