//! The outbound stream: paced frames become RTP packets with the negotiated payload type,
//! consecutive sequence numbers, timestamps advancing by the codec clock, and the marker bit on
//! the first packet of each talkspurt (RFC 3551 §4.1). RFC 4733 key presses are sent in the same
//! sequence and timestamp space, in place of audio while they last.

use std::collections::VecDeque;
use std::time::{Duration, Instant};

use crate::dtmf::{DtmfKey, DtmfSender};
use crate::packet::RtpHeader;
use crate::rtcp::{NtpTime, SenderInfo};
use crate::{ClockRate, PayloadType, Ssrc};

/// Frames of pause between two queued key presses (after the third end packet).
const DTMF_GAP_FRAMES: u8 = 2;
/// Key presses that may wait to be sent.
const MAX_QUEUED_DTMF: usize = 32;

/// Negotiated and chosen parameters of the outbound stream.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct OutboundSettings {
    pub ssrc: Ssrc,
    /// The audio payload type from the SDP answer.
    pub payload_type: PayloadType,
    /// 8000 for PCMU, PCMA and G.722, 48000 for Opus.
    pub clock_rate: ClockRate,
    /// Packet interval (SDP ptime). Default 20 ms.
    pub frame: Duration,
    /// The telephone-event payload type, if negotiated.
    pub telephone_event: Option<PayloadType>,
    /// First sequence number and timestamp: random per RFC 3550 §5.1; the caller draws them.
    pub initial_sequence: u16,
    pub initial_timestamp: u32,
}

/// What [`OutboundStream::tick`] wrote.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Sent {
    Audio { marker: bool },
    Dtmf { key: DtmfKey, end: bool },
}

/// Why a key press cannot be sent.
#[derive(Debug, Clone, Copy, PartialEq, Eq, thiserror::Error)]
pub enum DtmfSendError {
    #[error("telephone-event was not negotiated")]
    NotNegotiated,
    #[error("too many key presses queued")]
    QueueFull,
}

/// Sequence numbers, timestamps and counters of the stream this side sends.
#[derive(Clone, Debug)]
pub struct OutboundStream {
    settings: OutboundSettings,
    frame_ticks: u32,
    seq: u16,
    /// Timestamp of the next frame.
    ts: u32,
    talkspurt: bool,
    dtmf: Option<(DtmfSender, u32)>,
    dtmf_gap: u8,
    queued: VecDeque<(DtmfKey, Duration)>,
    packets: u32,
    octets: u32,
    /// When the last frame was sent, and its timestamp.
    last: Option<(Instant, u32)>,
    sent_since_report: bool,
}

impl OutboundStream {
    pub fn new(settings: OutboundSettings) -> Self {
        let frame_ticks = settings
            .clock_rate
            .ticks(settings.frame)
            .clamp(1, u64::from(u32::MAX)) as u32;
        Self {
            settings,
            frame_ticks,
            seq: settings.initial_sequence,
            ts: settings.initial_timestamp,
            talkspurt: true,
            dtmf: None,
            dtmf_gap: 0,
            queued: VecDeque::new(),
            packets: 0,
            octets: 0,
            last: None,
            sent_since_report: false,
        }
    }

    pub fn settings(&self) -> &OutboundSettings {
        &self.settings
    }

    /// Timestamp increment per frame: 160 for 20 ms at 8000, 960 at 48000.
    pub fn frame_ticks(&self) -> u32 {
        self.frame_ticks
    }

    /// Queues a key press of `duration` (RFC 4733). It starts at the next frame.
    pub fn send_dtmf(&mut self, key: DtmfKey, duration: Duration) -> Result<(), DtmfSendError> {
        if self.settings.telephone_event.is_none() {
            return Err(DtmfSendError::NotNegotiated);
        }
        if self.queued.len() >= MAX_QUEUED_DTMF {
            return Err(DtmfSendError::QueueFull);
        }
        self.queued.push_back((key, duration));
        Ok(())
    }

    /// Whether a key press is being sent or waits.
    pub fn dtmf_pending(&self) -> bool {
        self.dtmf.is_some() || !self.queued.is_empty()
    }

    /// One frame interval: writes into `out` (cleared first) the packet for this frame: the
    /// current key press if any, else `audio` (already encoded), else nothing (the sender is
    /// silent; the next audio packet starts a talkspurt). Call once per frame, paced.
    pub fn tick(&mut self, audio: Option<&[u8]>, now: Instant, out: &mut Vec<u8>) -> Option<Sent> {
        out.clear();
        let frame_ts = self.ts;
        self.ts = self.ts.wrapping_add(self.frame_ticks);
        if self.dtmf.is_none() && self.dtmf_gap == 0 {
            if let Some((key, d)) = self.queued.pop_front() {
                let ticks = self.settings.clock_rate.ticks(d).min(u64::from(u32::MAX)) as u32;
                self.dtmf = Some((DtmfSender::new(key, ticks, self.frame_ticks), frame_ts));
            }
        }
        if let (Some((mut sender, event_ts)), Some(pt)) = (self.dtmf, self.settings.telephone_event)
        {
            if let Some(p) = sender.next_packet() {
                let mut h = RtpHeader::new(pt, self.seq, event_ts, self.settings.ssrc);
                h.marker = p.marker;
                self.write(&h, &p.payload, now, frame_ts, out);
                self.dtmf = Some((sender, event_ts));
                if sender.is_done() {
                    self.dtmf = None;
                    self.dtmf_gap = DTMF_GAP_FRAMES;
                    self.talkspurt = true;
                }
                return Some(Sent::Dtmf {
                    key: sender.key(),
                    end: p.end,
                });
            }
        }
        self.dtmf = None;
        self.dtmf_gap = self.dtmf_gap.saturating_sub(1);
        match audio {
            Some(payload) => {
                let mut h = RtpHeader::new(
                    self.settings.payload_type,
                    self.seq,
                    frame_ts,
                    self.settings.ssrc,
                );
                h.marker = std::mem::take(&mut self.talkspurt);
                self.write(&h, payload, now, frame_ts, out);
                Some(Sent::Audio { marker: h.marker })
            }
            None => {
                self.talkspurt = true;
                None
            }
        }
    }

    fn write(
        &mut self,
        h: &RtpHeader,
        payload: &[u8],
        now: Instant,
        frame_ts: u32,
        out: &mut Vec<u8>,
    ) {
        h.write(out);
        out.extend_from_slice(payload);
        self.seq = self.seq.wrapping_add(1);
        self.packets = self.packets.wrapping_add(1);
        self.octets = self.octets.wrapping_add(payload.len() as u32);
        self.last = Some((now, frame_ts));
        self.sent_since_report = true;
    }

    /// Sender info for an SR at `now`, whose NTP time is `ntp` (RFC 3550 §6.4.1): the RTP
    /// timestamp extrapolated from the last frame to `now`. `None` before anything was sent.
    pub fn sender_info(&self, now: Instant, ntp: NtpTime) -> Option<SenderInfo> {
        let (at, ts) = self.last?;
        let ahead = self
            .settings
            .clock_rate
            .ticks(now.saturating_duration_since(at));
        Some(SenderInfo {
            ntp,
            rtp_timestamp: ts.wrapping_add(ahead as u32),
            packet_count: self.packets,
            octet_count: self.octets,
        })
    }

    /// Whether a packet went out since the last call (RFC 3550 §6.4: send an SR, not an RR).
    pub fn take_sent_since_report(&mut self) -> bool {
        std::mem::take(&mut self.sent_since_report)
    }

    pub fn ssrc(&self) -> Ssrc {
        self.settings.ssrc
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::dtmf::{DtmfReceiver, EventReport};
    use crate::packet::RtpPacket;

    fn settings(clock: ClockRate, pt: u8) -> OutboundSettings {
        OutboundSettings {
            ssrc: Ssrc(0x51),
            payload_type: PayloadType::new(pt).unwrap(),
            clock_rate: clock,
            frame: Duration::from_millis(20),
            telephone_event: PayloadType::new(101),
            initial_sequence: 65_534,
            initial_timestamp: u32::MAX - 100,
        }
    }

    fn header(buf: &[u8]) -> RtpHeader {
        RtpPacket::parse(buf).unwrap().header
    }

    #[test]
    fn audio_frames_get_consecutive_seq_clock_timestamps_and_one_marker() {
        for (clock, step) in [(ClockRate::HZ_8000, 160u32), (ClockRate::HZ_48000, 960)] {
            let mut s = OutboundStream::new(settings(clock, 0));
            let t0 = Instant::now();
            let mut out = Vec::new();
            let mut headers = Vec::new();
            for i in 0..4u32 {
                let sent = s.tick(
                    Some(&[0xff; 160]),
                    t0 + Duration::from_millis(20 * u64::from(i)),
                    &mut out,
                );
                assert_eq!(sent, Some(Sent::Audio { marker: i == 0 }));
                headers.push(header(&out));
            }
            let seqs: Vec<u16> = headers.iter().map(|h| h.sequence).collect();
            assert_eq!(seqs, vec![65_534, 65_535, 0, 1]);
            for w in headers.windows(2) {
                assert_eq!(w[1].timestamp.wrapping_sub(w[0].timestamp), step);
            }
            assert!(headers[0].marker && !headers[1..].iter().any(|h| h.marker));
        }
    }

    #[test]
    fn silence_keeps_the_clock_running_and_marks_the_next_talkspurt() {
        let mut s = OutboundStream::new(settings(ClockRate::HZ_8000, 8));
        let t0 = Instant::now();
        let mut out = Vec::new();
        s.tick(Some(&[1; 160]), t0, &mut out);
        let first = header(&out);
        assert_eq!(s.tick(None, t0, &mut out), None);
        assert!(out.is_empty());
        assert_eq!(
            s.tick(Some(&[1; 160]), t0, &mut out),
            Some(Sent::Audio { marker: true })
        );
        let next = header(&out);
        assert_eq!(
            next.sequence,
            first.sequence.wrapping_add(1),
            "no sequence gap for silence"
        );
        assert_eq!(next.timestamp.wrapping_sub(first.timestamp), 320);
    }

    #[test]
    fn key_press_replaces_audio_with_rfc4733_packets() {
        let mut s = OutboundStream::new(settings(ClockRate::HZ_8000, 0));
        let t0 = Instant::now();
        let mut out = Vec::new();
        s.tick(Some(&[1; 160]), t0, &mut out);
        let audio_ts = header(&out).timestamp;
        s.send_dtmf(DtmfKey::from_char('7').unwrap(), Duration::from_millis(100))
            .unwrap();
        let mut rx = DtmfReceiver::new();
        let mut dtmf_headers = Vec::new();
        while s.dtmf_pending() {
            let sent = s.tick(Some(&[1; 160]), t0, &mut out);
            assert!(matches!(sent, Some(Sent::Dtmf { .. })));
            let p = RtpPacket::parse(&out).unwrap();
            assert_eq!(p.header.payload_type.get(), 101);
            rx.receive(p.header.timestamp, p.header.marker, p.payload)
                .unwrap();
            dtmf_headers.push((p.header, EventReport::parse(p.payload).unwrap()));
        }
        assert_eq!(dtmf_headers.len(), 5 + 2);
        let event_ts = audio_ts.wrapping_add(160);
        assert!(dtmf_headers.iter().all(|(h, _)| h.timestamp == event_ts));
        assert!(dtmf_headers[0].0.marker);
        assert_eq!(rx.poll_event().map(|_| ()), Some(()));
        // Audio resumes with the timeline advanced by the event, as a new talkspurt.
        assert_eq!(
            s.tick(Some(&[1; 160]), t0, &mut out),
            Some(Sent::Audio { marker: true })
        );
        let h = header(&out);
        assert_eq!(h.timestamp.wrapping_sub(event_ts), 7 * 160);
        assert_eq!(h.sequence, dtmf_headers[6].0.sequence.wrapping_add(1));
    }

    #[test]
    fn dtmf_needs_negotiation() {
        let mut st = settings(ClockRate::HZ_8000, 0);
        st.telephone_event = None;
        let mut s = OutboundStream::new(st);
        assert_eq!(
            s.send_dtmf(DtmfKey::FLASH, Duration::from_millis(100)),
            Err(DtmfSendError::NotNegotiated)
        );
    }

    #[test]
    fn sender_info_pairs_ntp_with_extrapolated_rtp_time() {
        let mut s = OutboundStream::new(settings(ClockRate::HZ_8000, 0));
        let t0 = Instant::now();
        let mut out = Vec::new();
        assert_eq!(s.sender_info(t0, NtpTime(1)), None);
        s.tick(Some(&[0; 160]), t0, &mut out);
        s.tick(Some(&[0; 160]), t0 + Duration::from_millis(20), &mut out);
        let ts = header(&out).timestamp;
        let info = s
            .sender_info(t0 + Duration::from_millis(50), NtpTime(7))
            .unwrap();
        assert_eq!(info.rtp_timestamp, ts.wrapping_add(240));
        assert_eq!(
            (info.packet_count, info.octet_count, info.ntp),
            (2, 320, NtpTime(7))
        );
        assert!(s.take_sent_since_report());
        assert!(!s.take_sent_since_report());
    }
}
