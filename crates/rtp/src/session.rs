//! One call's RTP session, sans-IO: datagrams and time in, media items, packets to send and
//! events out.
//!
//! Inbound: datagram ─► SRTP/SRTCP unprotect (when keyed) ─► RTP/RTCP demux (RFC 5761 §4, and
//! RFC 7983 §7 to refuse STUN/DTLS) ─► RFC 3550 §A.1 source validation and statistics ─►
//! telephone-events to the DTMF receiver, audio and comfort noise to the jitter buffer. RTCP
//! updates round-trip time and the peer's view of our stream.
//!
//! Symmetric RTP: the session sends to the source address of the first valid packets (whatever
//! SDP said) and moves to a new address only after [`SessionSettings::relatch_after`] valid
//! packets in a row come from it, as Asterisk's strict RTP does.

use std::collections::VecDeque;
use std::net::SocketAddr;
use std::time::{Duration, Instant, SystemTime};

use types::MediaTime;

use crate::cn::{ComfortNoise, NoiseLevel};
use crate::dtmf::{DtmfError, DtmfEvent, DtmfKey, DtmfReceiver};
use crate::jitter::{ConcealReason, JitterBuffer, JitterSettings, JitterStats, Playout};
use crate::mos::{self, CodecImpairment, Quality};
use crate::outbound::{DtmfSendError, OutboundSettings, OutboundStream, Sent};
use crate::packet::{RtpError, RtpHeader, RtpPacket};
use crate::report::{round_trip, LastSenderReport, NtpClock, RtcpScheduler, MIN_INTERVAL};
use crate::rtcp::{self, ReportBlock, RtcpError, RtcpPacket};
use crate::seq::{SeqVerdict, SourceState};
use crate::srtp::{MasterKey, SrtpContext, SrtpError, SrtpProfile};
use crate::{ClockRate, PayloadType, Ssrc};

mod inbound;
mod outbound;

/// Events kept until polled; older ones are dropped (and counted) beyond this.
const MAX_EVENTS: usize = 64;

/// SDES keys of a call: ours to protect, the peer's to unprotect (RFC 4568 §6.1).
#[derive(Clone, Debug)]
pub struct SrtpKeys {
    pub profile: SrtpProfile,
    pub local: MasterKey,
    pub remote: MasterKey,
}

/// What call set-up negotiated, and per-call choices.
#[derive(Clone, Debug)]
pub struct SessionSettings {
    /// Our SSRC (random, RFC 3550 §8.1).
    pub local_ssrc: Ssrc,
    /// SDES CNAME sent in every compound RTCP packet (RFC 3550 §6.5.1).
    pub cname: String,
    /// The audio payload type of the SDP answer.
    pub audio_payload_type: PayloadType,
    /// Its RTP clock: 8000 for PCMU, PCMA and G.722, 48000 for Opus.
    pub clock_rate: ClockRate,
    /// telephone-event payload type, if negotiated (commonly 101).
    pub telephone_event: Option<PayloadType>,
    /// Comfort noise payload type, if negotiated (13).
    pub comfort_noise: Option<PayloadType>,
    /// Where SDP says to send RTP, until symmetric RTP learns better.
    pub remote: Option<SocketAddr>,
    /// Where to send RTCP without rtcp-mux. Default: the RTP address, port + 1 (RFC 3550 §11).
    pub remote_rtcp: Option<SocketAddr>,
    /// RTCP multiplexed on the RTP port (RFC 5761). Default true.
    pub rtcp_mux: bool,
    pub srtp: Option<SrtpKeys>,
    pub jitter: JitterSettings,
    /// Packet interval (ptime). Default 20 ms.
    pub frame: Duration,
    /// Codec figures for the MOS estimate. Default G.711 with PLC.
    pub codec: CodecImpairment,
    /// Valid packets in a row from a new address before sending there. Default 4.
    pub relatch_after: u32,
    /// Randomness for the first sequence number, timestamp and RTCP timing (RFC 3550 §5.1,
    /// §6.3.1): the caller draws it, the session never touches an RNG.
    pub seed: u64,
}

impl SessionSettings {
    /// Settings with the defaults above.
    pub fn new(
        local_ssrc: Ssrc,
        audio_payload_type: PayloadType,
        clock_rate: ClockRate,
        seed: u64,
    ) -> Self {
        Self {
            local_ssrc,
            cname: format!("attendant-{:08x}", local_ssrc.0),
            audio_payload_type,
            clock_rate,
            telephone_event: None,
            comfort_noise: Some(PayloadType::CN),
            remote: None,
            remote_rtcp: None,
            rtcp_mux: true,
            srtp: None,
            jitter: JitterSettings {
                clock_rate,
                ..JitterSettings::default()
            },
            frame: Duration::from_millis(20),
            codec: CodecImpairment::G711_PLC,
            relatch_after: 4,
            seed,
        }
    }
}

/// Why a datagram was dropped. Every one is counted in [`SessionStats`]; none affects the call.
#[derive(Debug, Clone, Copy, PartialEq, Eq, thiserror::Error)]
pub enum InputError {
    /// Not RTP or RTCP by the first byte (RFC 7983 §7): STUN, DTLS or garbage.
    #[error("not RTP or RTCP (first byte {first_byte})")]
    NotRtp { first_byte: u8 },
    #[error(transparent)]
    Rtp(#[from] RtpError),
    #[error(transparent)]
    Rtcp(#[from] RtcpError),
    #[error(transparent)]
    Srtp(#[from] SrtpError),
    #[error(transparent)]
    Dtmf(#[from] DtmfError),
    #[error("payload type {0} was not negotiated")]
    UnknownPayloadType(u8),
    /// RFC 3550 §A.1: the source (or a new SSRC) has not yet sent two packets in sequence.
    #[error("source {ssrc} is on probation")]
    Probation { ssrc: Ssrc },
    /// RFC 3550 §A.1: a jump beyond MAX_DROPOUT; a second packet in sequence restarts.
    #[error("sequence jump to {sequence} from source {ssrc}")]
    SequenceJump { ssrc: Ssrc, sequence: u16 },
}

/// Something the call should know.
#[derive(Clone, Debug, PartialEq)]
pub enum SessionEvent {
    /// The first source passed validation.
    SourceAccepted {
        ssrc: Ssrc,
    },
    /// Another SSRC took over (after validation); playout was resynchronized.
    SsrcChanged {
        old: Ssrc,
        new: Ssrc,
    },
    /// The source restarted its sequence numbers (RFC 3550 §A.1).
    SequenceRestarted {
        ssrc: Ssrc,
    },
    /// Symmetric RTP: the address RTP and RTCP now go to.
    RemoteAddressLearned {
        addr: SocketAddr,
    },
    RemoteAddressChanged {
        old: SocketAddr,
        new: SocketAddr,
    },
    /// A key went down (RFC 4733): one per key press.
    DtmfStarted {
        key: DtmfKey,
    },
    DtmfEnded {
        key: DtmfKey,
        duration: Duration,
    },
    /// What the peer reports about our stream.
    RemoteReport {
        fraction_lost: f64,
        cumulative_lost: i32,
        jitter: Duration,
        rtt: Option<Duration>,
    },
    /// Our reception figures and MOS estimate, with each RTCP report we send.
    Quality(QualityReport),
    /// The peer left (RTCP BYE).
    Bye {
        ssrc: Ssrc,
    },
}

/// Reception quality of the inbound stream.
#[derive(Clone, Copy, Debug, PartialEq)]
pub struct QualityReport {
    /// Loss since the previous report, 0 to 1.
    pub fraction_lost: f64,
    pub cumulative_lost: i32,
    pub expected: u32,
    pub jitter: Duration,
    pub rtt: Option<Duration>,
    /// One-way delay used for the E-model: half the RTT, the jitter buffer delay and a frame.
    pub one_way_delay: Duration,
    pub quality: Quality,
}

/// Counters of a session.
#[derive(Clone, Copy, Debug, Default, PartialEq)]
pub struct SessionStats {
    pub datagrams: u64,
    pub bytes: u64,
    pub rtp_packets: u64,
    pub rtcp_packets: u64,
    pub not_rtp: u64,
    pub malformed: u64,
    pub srtp_auth_failures: u64,
    pub srtp_replays: u64,
    pub unknown_payload_type: u64,
    pub probation: u64,
    pub sequence_jumps: u64,
    pub ssrc_changes: u64,
    pub sequence_restarts: u64,
    pub dtmf_errors: u64,
    /// Valid packets from an address other than the latched one.
    pub from_other_address: u64,
    pub rtcp_unknown_packets: u64,
    pub events_dropped: u64,
    pub sent_rtp: u64,
    pub sent_rtcp: u64,
    pub jitter: JitterStats,
    pub rtt: Option<Duration>,
    pub last_quality: Option<QualityReport>,
}

/// A datagram to send: the bytes are in the caller's `out` buffer.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Transmit {
    pub destination: SocketAddr,
    pub len: usize,
}

/// What the media graph gets from [`Session::poll_playout`], in media-time order.
#[derive(Clone, Copy, Debug, PartialEq)]
pub enum MediaItem<'a> {
    /// Encoded audio of the negotiated payload type, to decode.
    Audio {
        payload_type: PayloadType,
        payload: &'a [u8],
        media_time: MediaTime,
        duration: Duration,
    },
    /// Comfort noise at `level` for this span: `Concealer::set_comfort_noise`, then `conceal`.
    ComfortNoise {
        level: NoiseLevel,
        media_time: MediaTime,
        duration: Duration,
    },
    /// Nothing to decode for this span: `Concealer::conceal`.
    Conceal {
        media_time: MediaTime,
        duration: Duration,
        reason: ConcealReason,
    },
}

/// The last packet dropped by probation, kept to play once its successor validates the source.
#[derive(Clone, Debug, Default)]
struct Held {
    header: Option<RtpHeader>,
    payload: Vec<u8>,
}

#[derive(Clone, Copy, Debug)]
struct Remote {
    ssrc: Ssrc,
    state: SourceState,
}

/// One call's RTP session. See the module documentation.
#[derive(Debug)]
pub struct Session {
    settings: SessionSettings,
    srtp_in: Option<SrtpContext>,
    srtp_out: Option<SrtpContext>,
    source: Option<Remote>,
    candidate: Option<Remote>,
    held: Held,
    jitter: JitterBuffer,
    dtmf: DtmfReceiver,
    outbound: OutboundStream,
    scheduler: RtcpScheduler,
    clock: NtpClock,
    epoch: Instant,
    remote: Option<SocketAddr>,
    latched: bool,
    relatch: Option<(SocketAddr, u32)>,
    last_sr: Option<LastSenderReport>,
    events: VecDeque<SessionEvent>,
    stats: SessionStats,
}

impl Session {
    /// A session starting at `now`; `wall` is the wall-clock time then (for SR timestamps).
    pub fn new(settings: SessionSettings, now: Instant, wall: SystemTime) -> Self {
        let seed = settings.seed;
        let outbound = OutboundStream::new(OutboundSettings {
            ssrc: settings.local_ssrc,
            payload_type: settings.audio_payload_type,
            clock_rate: settings.clock_rate,
            frame: settings.frame,
            telephone_event: settings.telephone_event,
            initial_sequence: seed as u16,
            initial_timestamp: (seed >> 16) as u32,
        });
        let mut scheduler = RtcpScheduler::new(MIN_INTERVAL, (seed >> 48) as u32 ^ 0x9e37_79b9);
        scheduler.start(now);
        let srtp_in = settings
            .srtp
            .as_ref()
            .map(|k| SrtpContext::new(k.profile, &k.remote));
        let srtp_out = settings
            .srtp
            .as_ref()
            .map(|k| SrtpContext::new(k.profile, &k.local));
        Self {
            jitter: JitterBuffer::new(settings.jitter),
            remote: settings.remote,
            settings,
            srtp_in,
            srtp_out,
            source: None,
            candidate: None,
            held: Held::default(),
            dtmf: DtmfReceiver::new(),
            outbound,
            scheduler,
            clock: NtpClock::new(now, wall),
            epoch: now,
            latched: false,
            relatch: None,
            last_sr: None,
            events: VecDeque::new(),
            stats: SessionStats::default(),
        }
    }

    fn emit(&mut self, e: SessionEvent) {
        if self.events.len() == MAX_EVENTS {
            self.events.pop_front();
            self.stats.events_dropped += 1;
        }
        self.events.push_back(e);
    }

    pub fn poll_event(&mut self) -> Option<SessionEvent> {
        self.events.pop_front()
    }

    /// Where RTP goes: the learned address, else the SDP one.
    pub fn remote_addr(&self) -> Option<SocketAddr> {
        self.remote
    }

    /// Where RTCP goes.
    pub fn rtcp_destination(&self) -> Option<SocketAddr> {
        if self.settings.rtcp_mux {
            return self.remote;
        }
        self.settings.remote_rtcp.or_else(|| {
            let mut a = self.remote?;
            a.set_port(a.port().checked_add(1)?);
            Some(a)
        })
    }

    pub fn stats(&self) -> SessionStats {
        let mut s = self.stats;
        s.jitter = self.jitter.stats();
        s
    }

    /// Reception state of the source being played (RFC 3550 §A.1, §A.3, §A.8): expected,
    /// received and lost packets, extended highest sequence number, interarrival jitter.
    pub fn reception(&self) -> Option<SourceState> {
        self.source.map(|r| r.state)
    }

    /// The SSRC being played, once validated.
    pub fn remote_ssrc(&self) -> Option<Ssrc> {
        self.source.map(|r| r.ssrc)
    }

    /// The earliest time something is due: a media item or an RTCP report.
    pub fn poll_timeout(&self) -> Option<Instant> {
        match (self.jitter.next_due(), self.scheduler.next()) {
            (Some(a), Some(b)) => Some(a.min(b)),
            (a, b) => a.or(b),
        }
    }

    /// The next media item due at `now`. Call until `None`, then again at the next tick.
    pub fn poll_playout(&mut self, now: Instant) -> Option<MediaItem<'_>> {
        let cn = self.settings.comfort_noise;
        let clock = self.settings.clock_rate;
        Some(match self.jitter.poll(now)? {
            Playout::Packet {
                payload_type,
                payload,
                media_time,
                duration,
                ..
            } => {
                let duration = clock.duration(u64::from(duration));
                if Some(payload_type) == cn {
                    match ComfortNoise::parse(payload) {
                        Ok(c) => MediaItem::ComfortNoise {
                            level: c.level,
                            media_time,
                            duration,
                        },
                        Err(_) => MediaItem::Conceal {
                            media_time,
                            duration,
                            reason: ConcealReason::Lost,
                        },
                    }
                } else {
                    MediaItem::Audio {
                        payload_type,
                        payload,
                        media_time,
                        duration,
                    }
                }
            }
            Playout::Conceal {
                media_time,
                duration,
                reason,
                ..
            } => MediaItem::Conceal {
                media_time,
                duration: clock.duration(u64::from(duration)),
                reason,
            },
        })
    }
}

#[cfg(test)]
mod tests;
