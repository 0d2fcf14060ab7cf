//! The RTP side of a call: its socket, `rtp::Session`, codec, and the per-tick receive,
//! playout and send that turn packets into frames and back.

use std::net::{SocketAddr, UdpSocket};
use std::time::{Duration, Instant};

use codec::PayloadCodec;
use rtp::{MediaItem, Session, SessionEvent};

use super::{CallMedia, MediaNotice, Notices, MAX_DATAGRAM};
use crate::serve::events::EventSink;

/// Datagrams read per call per tick at most, so a flood on one call cannot starve the others.
const MAX_READS_PER_TICK: usize = 32;

pub(super) struct RtpWire {
    pub socket: UdpSocket,
    pub session: Session,
    pub codec: PayloadCodec,
    decoder: codec::Decoder,
    encoder: codec::Encoder,
    noise: rtp::NoiseGenerator,
    packet: Vec<u8>,
    out_payload: Vec<u8>,
}

impl RtpWire {
    pub fn new(socket: UdpSocket, session: Session, codec: PayloadCodec) -> Result<Self, String> {
        let encoder = codec::Encoder::new(codec, codec::OpusSettings::default()).map_err(|e| e.to_string())?;
        let decoder = codec::Decoder::new(codec).map_err(|e| e.to_string())?;
        socket.set_nonblocking(true).map_err(|e| e.to_string())?;
        Ok(Self {
            socket,
            session,
            codec,
            decoder,
            encoder,
            // Level 70 dBov below full scale: the quiet hiss of an idle line.
            noise: rtp::NoiseGenerator::new(rtp::NoiseLevel::new(70).unwrap_or_else(|| unreachable!()), 0x5eed),
            packet: Vec::with_capacity(MAX_DATAGRAM),
            out_payload: vec![0u8; 1500],
        })
    }

    /// A re-INVITE's new codec and session; the socket carries on.
    pub fn switch(&mut self, codec: PayloadCodec, session: Session) -> Result<(), String> {
        self.encoder = codec::Encoder::new(codec, codec::OpusSettings::default()).map_err(|e| e.to_string())?;
        self.decoder = codec::Decoder::new(codec).map_err(|e| e.to_string())?;
        self.codec = codec;
        self.session = session;
        Ok(())
    }

    pub fn send_dtmf(&mut self, digit: char) {
        if let Some(key) = rtp::DtmfKey::from_char(digit) {
            let _ = self.session.send_dtmf(key, Duration::from_millis(100));
        }
    }

    /// Drains the socket into the session and reports what it saw (DTMF, quality).
    pub fn receive(&mut self, buf: &mut [u8], now: Instant, call: &CallMedia, media_ms: u64, notices: &Notices, sink: &EventSink) {
        for _ in 0..MAX_READS_PER_TICK {
            let (n, from): (usize, SocketAddr) = match self.socket.recv_from(buf) {
                Ok(r) => r,
                Err(_) => break, // WouldBlock, or an ICMP error surfaced by the socket: nothing to read
            };
            // Malformed, unauthenticated or unexpected datagrams are counted by the session and
            // change nothing else.
            let _ = self.session.handle_datagram(from, &mut buf[..n], now);
        }
        while let Some(event) = self.session.poll_event() {
            let (id, tenant) = (&call.call_id, &call.tenant);
            match event {
                SessionEvent::DtmfStarted { key } => {
                    sink.emit(id, tenant, &serde_json::json!({"event": "dtmf", "digit": key.as_char().to_string(), "at": media_ms}));
                    let _ = notices.send(MediaNotice::Dtmf { call_id: id.clone(), digit: key.as_char() });
                }
                SessionEvent::Quality(q) => sink.emit(
                    id,
                    tenant,
                    &serde_json::json!({
                        "event": "quality",
                        "jitter_ms": q.jitter.as_secs_f64() * 1e3,
                        "fraction_lost": q.fraction_lost,
                        "cumulative_lost": q.cumulative_lost,
                        "rtt_ms": q.rtt.map(|r| r.as_secs_f64() * 1e3),
                        "mos": q.quality.mos,
                    }),
                ),
                SessionEvent::SsrcChanged { old, new } => {
                    sink.emit(id, tenant, &serde_json::json!({"event": "ssrc_changed", "old": old.0, "new": new.0}))
                }
                _ => {}
            }
        }
    }

    /// One frame of caller audio at the codec rate into `pcm`; false before the first packet.
    pub fn playout(&mut self, now: Instant, pcm: &mut [f32]) -> bool {
        let Some(item) = self.session.poll_playout(now) else { return false };
        let n = match item {
            MediaItem::Audio { payload, .. } => self.decoder.decode(payload, pcm).unwrap_or_else(|_| self.decoder.conceal(pcm)),
            MediaItem::Conceal { .. } => self.decoder.conceal(pcm),
            MediaItem::ComfortNoise { level, .. } => {
                self.noise.set_level(level);
                self.noise.fill(pcm);
                pcm.len()
            }
        };
        // A short decode (an Opus packet of another duration) is padded with silence.
        let filled = n.min(pcm.len());
        pcm[filled..].fill(0.0);
        true
    }

    /// One outbound packet (`out` is `None` while the caller holds the call), and RTCP when due.
    pub fn send(&mut self, out: Option<&[f32]>, now: Instant) {
        if let Some(out) = out {
            let len = self.encoder.encode(out, &mut self.out_payload).unwrap_or(0);
            let payload = (len > 0).then(|| &self.out_payload[..len]);
            if let Some(t) = self.session.send_audio(payload, now, &mut self.packet) {
                let _ = self.socket.send_to(&self.packet[..t.len], t.destination);
            }
        }
        if let Some(t) = self.session.poll_rtcp(now, &mut self.packet) {
            let _ = self.socket.send_to(&self.packet[..t.len], t.destination);
        }
    }

    /// RTCP BYE, and the call's RTP statistics as an event.
    pub fn stop(&mut self, call: &CallMedia, sink: &EventSink) {
        if let Some(t) = self.session.bye(Instant::now(), Some("call ended"), &mut self.packet) {
            let _ = self.socket.send_to(&self.packet[..t.len], t.destination);
        }
        let s = self.session.stats();
        sink.emit(
            &call.call_id,
            &call.tenant,
            &serde_json::json!({
                "event": "media_stats",
                "rtp_packets": s.rtp_packets,
                "malformed": s.malformed,
                "not_rtp": s.not_rtp,
                "srtp_auth_failures": s.srtp_auth_failures,
                "srtp_replays": s.srtp_replays,
                "late": s.jitter.late,
                "duplicates": s.jitter.duplicates,
                "concealed_lost": s.jitter.concealed_lost,
                "mos": s.last_quality.map(|q| q.quality.mos),
            }),
        );
    }
}
