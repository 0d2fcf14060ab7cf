//! Sans-IO RTP for one call: packets (RFC 3550), SRTP with SDES keys (RFC 3711), an adaptive
//! jitter buffer, packet-loss concealment and comfort noise (RFC 3389), telephone-events
//! (RFC 4733), RTCP reports with loss, jitter and a MOS estimate (ITU-T G.107), and an outbound
//! packetizer.
//!
//! Nothing here opens a socket or reads a clock: the transport hands every datagram in with its
//! source address and the time it arrived, and asks for due output with the current time. Every
//! test therefore runs in virtual time.
//!
//! ```text
//! transport ──datagram, from, now──► Session::handle_datagram
//!                                      ├─ SRTP unprotect (when keyed)
//!                                      ├─ RTCP (RFC 5761 demux) ─► reports, RTT, BYE
//!                                      └─ RTP ─► RFC 3550 A.1 validation, statistics
//!                                                ├─ telephone-event ─► DtmfReceiver ─► events
//!                                                └─ audio / CN ─► JitterBuffer
//! media graph ◄── Session::poll_playout(now): Audio | ComfortNoise | Conceal
//! media graph ──► Session::send_audio(payload, now, out) ─► Transmit to the learned address
//! timer       ──► Session::poll_rtcp(now, out), Session::poll_timeout()
//! ```
//!
//! # Use
//! ```
//! use std::time::{Duration, Instant, SystemTime};
//! use attendant_rtp::{
//!     ClockRate, Concealer, MediaItem, PayloadType, Session, SessionEvent, SessionSettings, Ssrc,
//! };
//!
//! // From the SDP answer; `seed` and the SSRC come from the OS RNG at call set-up.
//! let mut settings = SessionSettings::new(Ssrc(0x1234), PayloadType::PCMU, ClockRate::HZ_8000, 7);
//! settings.telephone_event = PayloadType::new(101);
//! let t0 = Instant::now();
//! let mut session = Session::new(settings, t0, SystemTime::now());
//! let mut plc = Concealer::new(types::SampleRate::HZ_8000);
//!
//! // Transport: every datagram from the RTP socket, with its source and arrival time.
//! let from = "192.0.2.1:40000".parse().unwrap();
//! for seq in 0..3u16 {
//!     let mut datagram = vec![0x80, 0, 0, seq as u8, 0, 0, 0, 0, 0, 0, 0, 9];
//!     datagram[7] = (seq * 160) as u8;
//!     datagram.extend_from_slice(&[0xff; 160]);
//!     let now = t0 + Duration::from_millis(20 * u64::from(seq));
//!     let _ = session.handle_datagram(from, &mut datagram, now); // errors are counted, not fatal
//! }
//!
//! // Media graph, every 20 ms: decode what is due, conceal what is missing.
//! let now = t0 + Duration::from_millis(100);
//! let mut pcm = [0f32; 160];
//! while let Some(item) = session.poll_playout(now) {
//!     match item {
//!         MediaItem::Audio { payload, .. } => {
//!             // decode `payload` (codec::g711) into `pcm`, then let the concealer see it
//!             plc.good(&mut pcm[..payload.len()]);
//!         }
//!         MediaItem::ComfortNoise { level, .. } => {
//!             plc.set_comfort_noise(level);
//!             plc.conceal(&mut pcm);
//!         }
//!         MediaItem::Conceal { .. } => plc.conceal(&mut pcm),
//!     }
//! }
//! while let Some(event) = session.poll_event() {
//!     if let SessionEvent::DtmfStarted { key } = event { println!("digit {key}"); }
//! }
//!
//! // Outbound, paced every 20 ms: symmetric RTP sends back to where the caller's RTP came from.
//! let mut out = Vec::new();
//! let sent = session.send_audio(Some(&[0xff; 160]), now, &mut out).expect("remote learned");
//! assert_eq!(sent.destination, from);
//! // Timer: RTCP when due, and the next deadline.
//! let _ = session.poll_rtcp(now, &mut out);
//! assert!(session.poll_timeout().is_some());
//! ```

#![cfg_attr(test, allow(clippy::unwrap_used))]

pub mod cn;
pub mod dtmf;
pub mod jitter;
pub mod mos;
pub mod outbound;
pub mod packet;
pub mod plc;
pub mod report;
pub mod rtcp;
pub mod seq;
pub mod session;
pub mod srtp;

pub use cn::{CnError, ComfortNoise, NoiseGenerator, NoiseLevel};
pub use dtmf::{DtmfError, DtmfEvent, DtmfKey, DtmfReceiver, DtmfSender};
pub use jitter::{ConcealReason, JitterBuffer, JitterSettings, JitterStats, Playout, Pushed};
pub use mos::{CodecImpairment, Quality};
pub use outbound::{DtmfSendError, OutboundSettings, OutboundStream, Sent};
pub use packet::{RtpError, RtpHeader, RtpPacket};
pub use plc::Concealer;
pub use report::{NtpClock, RtcpScheduler};
pub use rtcp::{NtpTime, ReportBlock, RtcpError, RtcpPacket, SenderInfo};
pub use seq::{ReceptionReport, SeqVerdict, SourceState};
pub use session::{
    InputError, MediaItem, QualityReport, Session, SessionEvent, SessionSettings, SessionStats,
    SrtpKeys, Transmit,
};
pub use srtp::{MasterKey, SrtpContext, SrtpError, SrtpProfile};

use std::time::Duration;

/// A synchronization source identifier (RFC 3550 §3).
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct Ssrc(pub u32);

impl std::fmt::Display for Ssrc {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "{:#010x}", self.0)
    }
}

/// An RTP payload type: 7 bits (RFC 3550 §5.1). Static assignments are in RFC 3551 §6.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct PayloadType(u8);

impl PayloadType {
    pub const PCMU: Self = Self(0);
    pub const PCMA: Self = Self(8);
    pub const G722: Self = Self(9);
    /// Comfort noise (RFC 3389 §4, RFC 3551 §6).
    pub const CN: Self = Self(13);

    /// `None` when `pt` does not fit in 7 bits.
    pub const fn new(pt: u8) -> Option<Self> {
        if pt < 128 {
            Some(Self(pt))
        } else {
            None
        }
    }

    pub const fn get(self) -> u8 {
        self.0
    }
}

/// The RTP clock of a payload format, in ticks per second (RFC 3550 §5.1 "timestamp").
///
/// Not the audio sample rate: G.722 samples at 16 kHz but its RTP clock is 8000 (RFC 3551 §4.5.2).
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct ClockRate(u32);

impl ClockRate {
    /// PCMU, PCMA, G.722, telephone-event and CN on narrowband calls.
    pub const HZ_8000: Self = Self(8_000);
    /// Opus (RFC 7587 §4.1), whatever the bandwidth actually coded.
    pub const HZ_48000: Self = Self(48_000);

    /// `None` for a zero clock.
    pub const fn new(hz: u32) -> Option<Self> {
        if hz == 0 {
            None
        } else {
            Some(Self(hz))
        }
    }

    pub const fn hz(self) -> u32 {
        self.0
    }

    /// Clock ticks in `d`, rounded down.
    pub fn ticks(self, d: Duration) -> u64 {
        let t = d.as_nanos() * u128::from(self.0) / 1_000_000_000;
        u64::try_from(t).unwrap_or(u64::MAX)
    }

    /// The time `ticks` clock ticks span.
    pub fn duration(self, ticks: u64) -> Duration {
        let ns = u128::from(ticks) * 1_000_000_000 / u128::from(self.0);
        Duration::from_nanos(u64::try_from(ns).unwrap_or(u64::MAX))
    }
}

/// Parses one RTP packet and checks that writing it back parses the same; for fuzzing.
/// Panics only if that round trip changes the packet, which would be a bug.
pub fn fuzz_rtp(data: &[u8]) {
    if let Ok(p) = RtpPacket::parse(data) {
        let mut out = Vec::with_capacity(data.len());
        RtpPacket::write(&p.header, p.payload, &mut out);
        let again = RtpPacket::parse(&out).map(|q| (q.header, q.payload));
        assert_eq!(
            again,
            Ok((p.header, p.payload)),
            "RTP round trip changed the packet"
        );
    }
}

/// Walks one (compound) RTCP packet; for fuzzing. Never panics.
pub fn fuzz_rtcp(data: &[u8]) {
    for packet in rtcp::packets(data) {
        let Ok(packet) = packet else { break };
        match packet {
            RtcpPacket::SenderReport { reports, .. }
            | RtcpPacket::ReceiverReport { reports, .. } => reports.iter().for_each(drop),
            RtcpPacket::SourceDescription(sdes) => sdes.chunks().for_each(drop),
            RtcpPacket::Bye(bye) => bye.sources().for_each(drop),
            RtcpPacket::Unknown { .. } => {}
        }
    }
}

/// Feeds every 4-byte window of `data` to an RFC 4733 receiver; for fuzzing. Never panics.
pub fn fuzz_dtmf(data: &[u8]) {
    let mut rx = DtmfReceiver::new();
    for (i, chunk) in data.chunks(6).enumerate() {
        let ts = chunk.first().map_or(0, |&b| u32::from(b) * 160);
        let _ = rx.receive(ts, i % 5 == 0, chunk);
        while rx.poll_event().is_some() {}
    }
}

/// Runs `data` through SRTP and SRTCP unprotect with a fixed key; for fuzzing. Never panics.
pub fn fuzz_srtp(data: &[u8]) {
    let key = MasterKey::new([7; 16], [7; 14]);
    let mut ctx = SrtpContext::new(SrtpProfile::AesCm128HmacSha1_80, &key);
    let mut buf = data.to_vec();
    let _ = ctx.unprotect_rtp(&mut buf);
    let mut buf = data.to_vec();
    let _ = ctx.unprotect_rtcp(&mut buf);
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn clock_converts_durations_both_ways() {
        let c = ClockRate::HZ_8000;
        assert_eq!(c.ticks(Duration::from_millis(20)), 160);
        assert_eq!(c.duration(160), Duration::from_millis(20));
        assert_eq!(ClockRate::HZ_48000.ticks(Duration::from_millis(20)), 960);
        assert_eq!(ClockRate::new(0), None);
    }

    #[test]
    fn payload_type_is_seven_bits() {
        assert_eq!(PayloadType::new(127).map(PayloadType::get), Some(127));
        assert_eq!(PayloadType::new(128), None);
    }

    #[test]
    fn fuzz_entry_points_survive_garbage() {
        let mut x = 0x1234_5678u32;
        for len in 0..200 {
            let data: Vec<u8> = (0..len)
                .map(|_| {
                    x ^= x << 13;
                    x ^= x >> 17;
                    x ^= x << 5;
                    x as u8
                })
                .collect();
            fuzz_rtp(&data);
            fuzz_rtcp(&data);
            fuzz_dtmf(&data);
            fuzz_srtp(&data);
        }
    }
}
