//! SDP (RFC 8866): the session description model, typed accessors for the attributes a voice
//! trunk uses (rtpmap, fmtp, ptime, direction, rtcp-mux, crypto), parsing and serialization,
//! and the RFC 3264 answer builder.

mod answer;
mod base64;
mod crypto;
mod parse;
mod write;

use std::net::IpAddr;

pub use answer::{
    answer, AnswerError, Codec, LocalMedia, Negotiated, NegotiatedCodec, SdpAnswer, SrtpParams,
};
pub use base64::{decode as base64_decode, encode as base64_encode};
pub use crypto::{Crypto, CryptoError, CryptoSuite};
pub use parse::SdpError;

/// A session description.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SessionDescription {
    pub origin: Origin,
    /// `s=`; `-` when there is none.
    pub session_name: String,
    pub connection: Option<Connection>,
    /// `b=` lines, raw (`AS:64`).
    pub bandwidths: Vec<String>,
    /// `t=` lines, raw (`0 0`).
    pub times: Vec<String>,
    pub attributes: Vec<Attribute>,
    pub media: Vec<MediaDescription>,
    /// Other session-level lines (`i=`, `u=`, `e=`, `p=`, `r=`, `z=`, `k=`), kept in order.
    pub other: Vec<(char, String)>,
}

/// `o=<username> <sess-id> <sess-version> <nettype> <addrtype> <unicast-address>`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Origin {
    pub username: String,
    pub session_id: String,
    pub session_version: String,
    pub net_type: String,
    pub addr_type: String,
    pub address: String,
}

/// `c=<nettype> <addrtype> <connection-address>`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Connection {
    pub net_type: String,
    pub addr_type: String,
    /// Address, possibly with `/ttl` or `/count` suffixes.
    pub address: String,
}

impl Connection {
    pub fn new(ip: IpAddr) -> Self {
        let addr_type = if ip.is_ipv4() { "IP4" } else { "IP6" };
        Self { net_type: "IN".into(), addr_type: addr_type.into(), address: ip.to_string() }
    }

    /// The address when it is a literal IP (multicast suffixes stripped).
    pub fn ip(&self) -> Option<IpAddr> {
        self.address.split('/').next()?.parse().ok()
    }
}

/// `a=<name>[:<value>]`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Attribute {
    pub name: String,
    pub value: Option<String>,
}

impl Attribute {
    pub fn flag(name: &str) -> Self {
        Self { name: name.into(), value: None }
    }

    pub fn value(name: &str, value: impl Into<String>) -> Self {
        Self { name: name.into(), value: Some(value.into()) }
    }
}

/// One `m=` section.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct MediaDescription {
    pub media: String,
    pub port: u16,
    pub port_count: Option<u16>,
    /// Transport protocol: `RTP/AVP`, `RTP/SAVP`, `RTP/AVPF`, `UDP/TLS/RTP/SAVPF`, ...
    pub protocol: String,
    pub formats: Vec<String>,
    pub connection: Option<Connection>,
    pub bandwidths: Vec<String>,
    pub attributes: Vec<Attribute>,
    /// Other media-level lines (`i=`, `k=`), kept in order.
    pub other: Vec<(char, String)>,
}

/// Stream direction (RFC 3264 §5.1, RFC 8866 §6.7).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Direction {
    SendRecv,
    SendOnly,
    RecvOnly,
    Inactive,
}

impl Direction {
    pub fn from_attr(name: &str) -> Option<Self> {
        match name {
            "sendrecv" => Some(Direction::SendRecv),
            "sendonly" => Some(Direction::SendOnly),
            "recvonly" => Some(Direction::RecvOnly),
            "inactive" => Some(Direction::Inactive),
            _ => None,
        }
    }

    pub fn as_str(self) -> &'static str {
        match self {
            Direction::SendRecv => "sendrecv",
            Direction::SendOnly => "sendonly",
            Direction::RecvOnly => "recvonly",
            Direction::Inactive => "inactive",
        }
    }

    /// The answer's direction for an offered one (RFC 3264 §6.1).
    pub fn answer(self) -> Self {
        match self {
            Direction::SendOnly => Direction::RecvOnly,
            Direction::RecvOnly => Direction::SendOnly,
            d => d,
        }
    }

    /// True when this side sends media.
    pub fn sends(self) -> bool {
        matches!(self, Direction::SendRecv | Direction::SendOnly)
    }

    pub fn receives(self) -> bool {
        matches!(self, Direction::SendRecv | Direction::RecvOnly)
    }
}

/// `a=rtpmap:<pt> <encoding>/<clock>[/<channels>]`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct RtpMap {
    pub payload_type: u8,
    pub encoding: String,
    pub clock_rate: u32,
    pub channels: Option<u16>,
}

impl RtpMap {
    pub fn parse(value: &str) -> Option<Self> {
        let (pt, rest) = value.trim().split_once(' ')?;
        let mut parts = rest.trim().split('/');
        let encoding = parts.next()?.to_owned();
        let clock_rate = parts.next()?.parse().ok()?;
        let channels = match parts.next() {
            Some(c) => Some(c.parse().ok()?),
            None => None,
        };
        Some(Self { payload_type: pt.parse().ok()?, encoding, clock_rate, channels })
    }
}

impl SessionDescription {
    /// Session-level attribute values named `name`.
    pub fn attribute(&self, name: &str) -> Option<&Attribute> {
        self.attributes.iter().find(|a| a.name == name)
    }

    /// The direction of media section `index`: media-level attribute, else session-level,
    /// else sendrecv (RFC 8866 §6.7).
    pub fn direction(&self, index: usize) -> Direction {
        let media = self.media.get(index).and_then(MediaDescription::direction_attr);
        let session = self.attributes.iter().find_map(|a| Direction::from_attr(&a.name));
        media.or(session).unwrap_or(Direction::SendRecv)
    }

    /// The connection of media section `index`: its own `c=` or the session's.
    pub fn connection_for(&self, index: usize) -> Option<&Connection> {
        self.media.get(index).and_then(|m| m.connection.as_ref()).or(self.connection.as_ref())
    }

    pub fn to_bytes(&self) -> Vec<u8> {
        self.to_string().into_bytes()
    }
}

impl MediaDescription {
    pub fn attrs<'a>(&'a self, name: &'a str) -> impl Iterator<Item = &'a Attribute> + 'a {
        self.attributes.iter().filter(move |a| a.name.eq_ignore_ascii_case(name))
    }

    pub fn rtpmaps(&self) -> Vec<RtpMap> {
        self.attrs("rtpmap").filter_map(|a| a.value.as_deref().and_then(RtpMap::parse)).collect()
    }

    pub fn rtpmap(&self, pt: u8) -> Option<RtpMap> {
        self.rtpmaps().into_iter().find(|r| r.payload_type == pt)
    }

    /// `a=fmtp:<pt> <params>` for payload type `pt`.
    pub fn fmtp(&self, pt: u8) -> Option<&str> {
        self.attrs("fmtp").find_map(|a| {
            let (p, params) = a.value.as_deref()?.split_once(' ')?;
            (p.parse::<u8>().ok()? == pt).then_some(params.trim())
        })
    }

    pub fn ptime(&self) -> Option<u32> {
        self.attrs("ptime")
            .find_map(|a| a.value.as_deref()?.trim().parse::<f32>().ok())
            .map(|p| p.round() as u32)
    }

    /// The media-level direction attribute, if any.
    pub fn direction_attr(&self) -> Option<Direction> {
        self.attributes.iter().find_map(|a| Direction::from_attr(&a.name))
    }

    pub fn rtcp_mux(&self) -> bool {
        self.attrs("rtcp-mux").next().is_some()
    }

    /// `a=rtcp:<port> [IN IP4 <addr>]` (RFC 3605).
    pub fn rtcp(&self) -> Option<(u16, Option<IpAddr>)> {
        let v = self.attrs("rtcp").next()?.value.as_deref()?;
        let mut parts = v.split_whitespace();
        let port = parts.next()?.parse().ok()?;
        let addr = parts.nth(2).and_then(|a| a.parse().ok());
        Some((port, addr))
    }

    /// Every `a=crypto` line, parsed (RFC 4568 §9.1).
    pub fn cryptos(&self) -> Vec<Result<Crypto, CryptoError>> {
        self.attrs("crypto").map(|a| Crypto::parse(a.value.as_deref().unwrap_or(""))).collect()
    }

    /// True for the SRTP profiles (RTP/SAVP, RTP/SAVPF).
    pub fn is_srtp_profile(&self) -> bool {
        matches!(self.protocol.to_ascii_uppercase().as_str(), "RTP/SAVP" | "RTP/SAVPF")
    }
}

/// Parses SDP text (RFC 8866 §5): CRLF or LF line ends, `v=0` first, `o=` required, unknown
/// line types kept. Never panics on any input.
pub fn parse(data: &[u8]) -> Result<SessionDescription, SdpError> {
    parse::parse(data)
}
