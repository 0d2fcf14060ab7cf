//! A WebRTC call's audio between Opus on the wire (always a 48 kHz clock, RFC 7587 §4.1) and
//! the 20 ms frames at the call's rate that the media engine takes and gives.
//!
//! Inbound, packets may carry 10 to 120 ms; decoded samples wait in a short buffer until they
//! make whole 20 ms frames, each resampled to the call's rate. A few lost packets are concealed
//! by libopus so the caller's speech keeps its timing; a longer gap is left to the engine, which
//! counts the missing frames. Outbound, each 20 ms frame is resampled to 48 kHz and encoded as
//! one packet; its RTP timestamp follows the frames sent, and jumps over a stall so that the
//! browser's jitter buffer plays the next frame on time rather than late.
//!
//! Buffers are allocated once per call; the only allocation per frame is the `Vec` the stream
//! interface hands to the engine.

use std::time::{Duration, Instant};

use codec::opus::{FRAME_SAMPLES, MAX_PACKET_SAMPLES};
use codec::{OpusDecoder, OpusEncoder, OpusSettings};
use dsp::Resampler;
use types::SampleRate;

/// Lost packets concealed before a packet (100 ms at 20 ms a packet).
const MAX_CONCEAL: u64 = 5;
/// Room for any Opus packet of 20 ms (RFC 6716 §3.2.1: 1275 bytes).
const MAX_PACKET_BYTES: usize = 1275;
/// A pause in outbound frames longer than this moves the RTP clock on by the pause (below it,
/// the frames are late, not missing: scheduling jitter on the engine's side).
const STALL: Duration = Duration::from_millis(60);

#[derive(Debug, thiserror::Error)]
pub enum AudioError {
    #[error(transparent)]
    Opus(#[from] codec::OpusError),
    #[error(transparent)]
    Resample(#[from] dsp::ResampleError),
}

#[derive(Debug)]
pub struct AudioPath {
    rate: SampleRate,
    decoder: OpusDecoder,
    encoder: OpusEncoder,
    down: Resampler,
    up: Resampler,
    /// One decoded packet (48 kHz).
    decoded: Vec<f32>,
    /// Decoded samples short of a whole 20 ms frame (48 kHz).
    pending: Vec<f32>,
    /// One outbound frame at 48 kHz.
    wide: Vec<f32>,
    packet: Vec<u8>,
    /// Extended sequence number of the last packet decoded.
    last_seq: Option<u64>,
    /// RTP timestamp (48 kHz) of the next outbound packet.
    rtp_time: u64,
    last_sent: Option<Instant>,
    /// Packets libopus refused (each concealed instead).
    pub decode_errors: u64,
    /// Frames made up for lost packets.
    pub concealed: u64,
    /// Packets that came after a later one (reordered past str0m's buffer, or repeated): dropped.
    pub late: u64,
}

impl AudioPath {
    /// Audio for a call at `rate` (a rate with whole 20 ms frames: 8, 16, 24 or 48 kHz).
    pub fn new(rate: SampleRate) -> Result<Self, AudioError> {
        Ok(Self {
            rate,
            decoder: OpusDecoder::new()?,
            encoder: OpusEncoder::new(OpusSettings::default())?,
            down: Resampler::new(codec::opus::SAMPLE_RATE, rate)?,
            up: Resampler::new(rate, codec::opus::SAMPLE_RATE)?,
            decoded: vec![0.0; MAX_PACKET_SAMPLES],
            pending: Vec::with_capacity(FRAME_SAMPLES + MAX_PACKET_SAMPLES),
            wide: vec![0.0; FRAME_SAMPLES],
            packet: vec![0; MAX_PACKET_BYTES],
            last_seq: None,
            // RFC 3550 §5.1: the first timestamp is random.
            rtp_time: u64::from(crate::serve::session::random_u64() as u32),
            last_sent: None,
            decode_errors: 0,
            concealed: 0,
            late: 0,
        })
    }

    /// One RTP payload with extended sequence number `seq`: decodes it (after concealing the
    /// packets lost just before it) and hands every whole 20 ms frame at the call's rate to
    /// `frame`.
    pub fn receive(&mut self, seq: u64, payload: &[u8], mut frame: impl FnMut(Vec<f32>)) {
        if let Some(last) = self.last_seq {
            if seq <= last {
                self.late += 1;
                return;
            }
            for _ in 0..(seq - last - 1).min(MAX_CONCEAL) {
                self.conceal();
            }
        }
        self.last_seq = Some(seq);
        match self.decoder.decode(payload, &mut self.decoded) {
            Ok(n) => self.pending.extend_from_slice(&self.decoded[..n]),
            Err(_) => {
                self.decode_errors += 1;
                self.conceal();
            }
        }
        while self.pending.len() >= FRAME_SAMPLES {
            let mut out = vec![0.0; self.rate.frame_samples()];
            // Lengths are the resampler's own: 20 ms in, 20 ms out.
            if self.down.process(&self.pending[..FRAME_SAMPLES], &mut out).is_ok() {
                frame(out);
            }
            self.pending.drain(..FRAME_SAMPLES);
        }
    }

    fn conceal(&mut self) {
        if let Ok(n) = self.decoder.conceal(&mut self.decoded) {
            self.pending.extend_from_slice(&self.decoded[..n]);
            self.concealed += 1;
        }
    }

    /// One 20 ms frame at the call's rate as an Opus packet and its RTP timestamp, `now` being
    /// when it is sent. None for a frame of another length, or when the encoder fails.
    pub fn encode(&mut self, frame: &[f32], now: Instant) -> Option<(&[u8], u64)> {
        if frame.len() != self.rate.frame_samples() {
            return None;
        }
        self.up.process(frame, &mut self.wide).ok()?;
        let n = self.encoder.encode(&self.wide, &mut self.packet).ok()?;
        let step = FRAME_SAMPLES as u64;
        if let Some(previous) = self.last_sent {
            let pause = now.saturating_duration_since(previous);
            if pause > STALL {
                // Whole frames only: the receiver's clock stays on the 20 ms grid.
                let missed = (pause.as_micros() as u64).saturating_sub(20_000) * 48 / 1000 / step * step;
                self.rtp_time += missed;
            }
            self.rtp_time += step;
        }
        self.last_sent = Some(now);
        Some((&self.packet[..n], self.rtp_time))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn tone(rate: SampleRate, n: usize, offset: usize) -> Vec<f32> {
        (0..n).map(|i| (2.0 * std::f32::consts::PI * 440.0 * (i + offset) as f32 / rate.hz() as f32).sin() * 0.5).collect()
    }

    fn rms(x: &[f32]) -> f32 {
        (x.iter().map(|s| s * s).sum::<f32>() / x.len() as f32).sqrt()
    }

    /// Packets from one path, decoded by another: 20 ms frames at 16 kHz come back with the
    /// tone's level, one frame per packet.
    #[test]
    fn frames_round_trip_through_opus_at_the_call_rate() {
        let rate = SampleRate::HZ_16000;
        let mut sender = AudioPath::new(rate).unwrap();
        let mut receiver = AudioPath::new(rate).unwrap();
        let mut frames = Vec::new();
        let start = Instant::now();
        for i in 0..50u64 {
            let pcm = tone(rate, 320, i as usize * 320);
            let (packet, _) = sender.encode(&pcm, start + Duration::from_millis(20 * i)).unwrap();
            let packet = packet.to_vec();
            receiver.receive(1000 + i, &packet, |f| frames.push(f));
        }
        assert_eq!(frames.len(), 50);
        assert!(frames.iter().all(|f| f.len() == 320));
        let level = rms(&frames[25]);
        assert!((0.25..0.45).contains(&level), "level {level}");
    }

    #[test]
    fn lost_packets_are_concealed_and_late_ones_dropped() {
        let rate = SampleRate::HZ_16000;
        let mut sender = AudioPath::new(rate).unwrap();
        let mut receiver = AudioPath::new(rate).unwrap();
        let now = Instant::now();
        let packets: Vec<Vec<u8>> = (0..10).map(|i| sender.encode(&tone(rate, 320, i * 320), now).unwrap().0.to_vec()).collect();
        let mut n = 0;
        receiver.receive(1, &packets[0], |_| n += 1);
        receiver.receive(4, &packets[3], |_| n += 1);
        assert_eq!((n, receiver.concealed), (4, 2));
        receiver.receive(3, &packets[2], |_| n += 1);
        assert_eq!((n, receiver.late), (4, 1));
        // Garbage in place of a packet: one concealed frame, no panic.
        receiver.receive(5, &[0xff, 0xff, 0xff], |_| n += 1);
        assert_eq!((n, receiver.decode_errors), (5, 1));
        receiver.receive(6, &[], |_| n += 1);
        assert_eq!((n, receiver.decode_errors), (6, 2));
    }

    #[test]
    fn the_rtp_clock_follows_frames_and_jumps_over_a_stall() {
        let rate = SampleRate::HZ_16000;
        let mut path = AudioPath::new(rate).unwrap();
        let frame = vec![0.0; 320];
        let t0 = Instant::now();
        let first = path.encode(&frame, t0).unwrap().1;
        let second = path.encode(&frame, t0 + Duration::from_millis(25)).unwrap().1;
        assert_eq!(second - first, 960);
        // 1 s without frames: the next packet is 1 s after the last, on the 20 ms grid.
        let third = path.encode(&frame, t0 + Duration::from_millis(1025)).unwrap().1;
        assert_eq!(third - second, 48_000);
        assert!(path.encode(&[0.0; 100], t0).is_none());
    }
}
