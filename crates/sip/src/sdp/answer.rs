//! The RFC 3264 answerer: one audio stream accepted with the offerer's most preferred codec we
//! support, telephone-event (RFC 4733) kept with the offerer's payload type, direction mirrored
//! (§6.1), SDES crypto chosen from the offer (RFC 4568 §7.1.2), every other stream rejected
//! with port 0 (§6).

use std::net::{IpAddr, SocketAddr};

use super::{
    Attribute, Connection, Crypto, CryptoSuite, Direction, MediaDescription, Origin, RtpMap,
    SessionDescription,
};
use crate::message::StatusCode;

/// Audio codecs the worker can encode and decode.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Codec {
    /// G.711 µ-law, static payload type 0 (RFC 3551 §6).
    Pcmu,
    /// G.711 A-law, static payload type 8.
    Pcma,
    /// G.722, static payload type 9, RTP clock 8000 although it samples at 16 kHz (RFC 3551 §4.5.2).
    G722,
    /// Opus, dynamic payload type, `opus/48000/2` (RFC 7587 §7).
    Opus,
}

impl Codec {
    pub fn encoding(self) -> &'static str {
        match self {
            Codec::Pcmu => "PCMU",
            Codec::Pcma => "PCMA",
            Codec::G722 => "G722",
            Codec::Opus => "opus",
        }
    }

    pub fn static_payload_type(self) -> Option<u8> {
        match self {
            Codec::Pcmu => Some(0),
            Codec::Pcma => Some(8),
            Codec::G722 => Some(9),
            Codec::Opus => None,
        }
    }

    pub fn clock_rate(self) -> u32 {
        match self {
            Codec::Opus => 48_000,
            _ => 8_000,
        }
    }

    pub fn channels(self) -> u16 {
        match self {
            Codec::Opus => 2,
            _ => 1,
        }
    }

    /// True when the offered payload type `pt` (with its rtpmap, if any) is this codec.
    fn matches(self, pt: u8, rtpmap: Option<&RtpMap>) -> bool {
        match rtpmap {
            Some(r) => {
                let channels_ok = match (self, r.channels) {
                    (_, None) => true,
                    (Codec::Opus, Some(c)) => c == 2,
                    (_, Some(c)) => c == 1,
                };
                r.encoding.eq_ignore_ascii_case(self.encoding())
                    && r.clock_rate == self.clock_rate()
                    && channels_ok
            }
            None => self.static_payload_type() == Some(pt),
        }
    }
}

/// What this side offers in the answer.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct LocalMedia {
    pub address: IpAddr,
    pub rtp_port: u16,
    /// Codecs we support; the offer's order decides which one is used.
    pub codecs: Vec<Codec>,
    /// Packet time when the offer names none (RFC 3551: 20 ms).
    pub ptime_ms: u32,
    /// Our SDES master key || salt, 30 random bytes from the caller. Needed to answer an
    /// RTP/SAVP offer; the crate holds no random number generator.
    pub srtp_key: Option<[u8; 30]>,
    /// `o=` session id and version (RFC 8866 §5.2); bump the version for each new answer.
    pub session_id: u64,
    pub session_version: u64,
}

impl LocalMedia {
    pub fn new(address: IpAddr, rtp_port: u16) -> Self {
        Self {
            address,
            rtp_port,
            codecs: vec![Codec::Pcmu, Codec::Pcma, Codec::G722, Codec::Opus],
            ptime_ms: 20,
            srtp_key: None,
            session_id: 1,
            session_version: 1,
        }
    }
}

/// The codec chosen for the stream.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct NegotiatedCodec {
    pub codec: Codec,
    pub payload_type: u8,
    pub clock_rate: u32,
    pub channels: u16,
    pub fmtp: Option<String>,
}

/// SDES keys of the stream: the peer's (to unprotect what it sends) and ours.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SrtpParams {
    pub suite: CryptoSuite,
    pub remote: Crypto,
    pub local: Crypto,
}

/// What the RTP session needs from the negotiation.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Negotiated {
    /// Index of the accepted `m=` section.
    pub media_index: usize,
    pub codec: NegotiatedCodec,
    /// RFC 4733 payload type, when offered.
    pub telephone_event: Option<u8>,
    /// Our direction as written in the answer.
    pub direction: Direction,
    /// Where to send RTP; `None` when the offer holds with `c=0.0.0.0` or has no address.
    pub remote_rtp: Option<SocketAddr>,
    pub remote_rtcp: Option<SocketAddr>,
    pub rtcp_mux: bool,
    pub ptime_ms: u32,
    pub srtp: Option<SrtpParams>,
}

/// An answer ready to send, and what it agreed on.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SdpAnswer {
    pub sdp: SessionDescription,
    pub negotiated: Negotiated,
}

/// Why no stream could be accepted. The UAS answers 488 Not Acceptable Here.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum AnswerError {
    #[error("the offer has no active audio stream")]
    NoAudio,
    #[error("no codec in common with the offer")]
    NoCommonCodec,
    #[error("unsupported media transport {0}")]
    UnsupportedTransport(String),
    #[error("SRTP offered without a crypto suite we support")]
    NoCommonCrypto,
    #[error("SRTP offered but no local SRTP key was supplied")]
    MissingLocalKey,
}

impl AnswerError {
    pub fn status(&self) -> StatusCode {
        StatusCode::NOT_ACCEPTABLE_HERE
    }
}

/// Builds the answer to `offer`.
pub fn answer(offer: &SessionDescription, local: &LocalMedia) -> Result<SdpAnswer, AnswerError> {
    let mut media = Vec::with_capacity(offer.media.len());
    let mut negotiated = None;
    let mut error = AnswerError::NoAudio;
    for (i, m) in offer.media.iter().enumerate() {
        if negotiated.is_none() && m.media.eq_ignore_ascii_case("audio") && m.port != 0 {
            match answer_audio(offer, i, local) {
                Ok((md, n)) => {
                    media.push(md);
                    negotiated = Some(n);
                    continue;
                }
                Err(e) => error = e,
            }
        }
        media.push(rejected(m));
    }
    let negotiated = negotiated.ok_or(error)?;
    let sdp = SessionDescription {
        origin: Origin {
            username: "-".into(),
            session_id: local.session_id.to_string(),
            session_version: local.session_version.to_string(),
            net_type: "IN".into(),
            addr_type: if local.address.is_ipv4() { "IP4" } else { "IP6" }.into(),
            address: local.address.to_string(),
        },
        session_name: "-".into(),
        connection: Some(Connection::new(local.address)),
        bandwidths: Vec::new(),
        times: vec!["0 0".into()],
        attributes: Vec::new(),
        media,
        other: Vec::new(),
    };
    Ok(SdpAnswer { sdp, negotiated })
}

/// A rejected stream: same media and transport, port 0, one format (RFC 3264 §6).
fn rejected(m: &MediaDescription) -> MediaDescription {
    MediaDescription {
        media: m.media.clone(),
        port: 0,
        port_count: None,
        protocol: m.protocol.clone(),
        formats: m.formats.iter().take(1).cloned().collect(),
        connection: None,
        bandwidths: Vec::new(),
        attributes: Vec::new(),
        other: Vec::new(),
    }
}

fn answer_audio(
    offer: &SessionDescription,
    index: usize,
    local: &LocalMedia,
) -> Result<(MediaDescription, Negotiated), AnswerError> {
    let m = &offer.media[index];
    let srtp = match m.protocol.to_ascii_uppercase().as_str() {
        "RTP/AVP" | "RTP/AVPF" => false,
        "RTP/SAVP" | "RTP/SAVPF" => true,
        _ => return Err(AnswerError::UnsupportedTransport(m.protocol.clone())),
    };
    let rtpmaps = m.rtpmaps();
    let find_map = |pt: u8| rtpmaps.iter().find(|r| r.payload_type == pt);
    let offered: Vec<u8> = m.formats.iter().filter_map(|f| f.parse().ok()).collect();
    let (codec, pt) = offered
        .iter()
        .find_map(|&pt| local.codecs.iter().find(|c| c.matches(pt, find_map(pt))).map(|&c| (c, pt)))
        .ok_or(AnswerError::NoCommonCodec)?;
    let telephone_event = offered.iter().copied().find(|&pt| {
        find_map(pt).is_some_and(|r| {
            r.encoding.eq_ignore_ascii_case("telephone-event") && r.clock_rate == codec.clock_rate()
        })
    });
    let srtp = if srtp {
        let key = local.srtp_key.ok_or(AnswerError::MissingLocalKey)?;
        let remote = m
            .cryptos()
            .into_iter()
            .flatten()
            .find(|c| c.suite.key_salt_len().is_some())
            .ok_or(AnswerError::NoCommonCrypto)?;
        let local = Crypto::new(remote.tag, remote.suite.clone(), &key);
        Some(SrtpParams { suite: remote.suite.clone(), remote, local })
    } else {
        None
    };

    let conn_ip = offer.connection_for(index).and_then(Connection::ip);
    let held = conn_ip.is_some_and(|ip| ip.is_unspecified());
    let mut direction = offer.direction(index).answer();
    if held {
        // RFC 3264 §8.4: c=0.0.0.0 is the old way to stop receiving; do not send.
        direction = match direction {
            Direction::SendRecv | Direction::RecvOnly => Direction::RecvOnly,
            _ => Direction::Inactive,
        };
    }
    let rtcp_mux = m.rtcp_mux();
    let remote_rtp =
        conn_ip.filter(|ip| !ip.is_unspecified()).map(|ip| SocketAddr::new(ip, m.port));
    let remote_rtcp = remote_rtp.map(|rtp| match (rtcp_mux, m.rtcp()) {
        (true, _) => rtp,
        (false, Some((port, addr))) => SocketAddr::new(addr.unwrap_or(rtp.ip()), port),
        (false, None) => SocketAddr::new(rtp.ip(), rtp.port().wrapping_add(1)),
    });
    // RFC 3551 packet times run 10-200 ms; anything else in an offer is ignored.
    let ptime_ms = m.ptime().filter(|p| (10..=200).contains(p)).unwrap_or(local.ptime_ms);
    let fmtp = m.fmtp(pt).map(str::to_owned);

    let mut attributes = Vec::new();
    let mut formats = vec![pt.to_string()];
    let channels = if codec == Codec::Opus { "/2" } else { "" };
    attributes.push(Attribute::value(
        "rtpmap",
        format!("{pt} {}/{}{channels}", codec.encoding(), codec.clock_rate()),
    ));
    if let Some(f) = &fmtp {
        attributes.push(Attribute::value("fmtp", format!("{pt} {f}")));
    }
    if let Some(te) = telephone_event {
        formats.push(te.to_string());
        attributes.push(Attribute::value(
            "rtpmap",
            format!("{te} telephone-event/{}", codec.clock_rate()),
        ));
        let events = m.fmtp(te).unwrap_or("0-16");
        attributes.push(Attribute::value("fmtp", format!("{te} {events}")));
    }
    attributes.push(Attribute::value("ptime", ptime_ms.to_string()));
    attributes.push(Attribute::flag(direction.as_str()));
    if rtcp_mux {
        attributes.push(Attribute::flag("rtcp-mux"));
    }
    if let Some(s) = &srtp {
        attributes.push(Attribute::value("crypto", s.local.to_string()));
    }
    let md = MediaDescription {
        media: m.media.clone(),
        port: local.rtp_port,
        port_count: None,
        protocol: m.protocol.clone(),
        formats,
        connection: None,
        bandwidths: Vec::new(),
        attributes,
        other: Vec::new(),
    };
    let negotiated = Negotiated {
        media_index: index,
        codec: NegotiatedCodec {
            codec,
            payload_type: pt,
            clock_rate: codec.clock_rate(),
            channels: codec.channels(),
            fmtp,
        },
        telephone_event,
        direction,
        remote_rtp,
        remote_rtcp,
        rtcp_mux,
        ptime_ms,
        srtp,
    };
    Ok((md, negotiated))
}
