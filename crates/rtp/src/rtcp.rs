//! RTCP packets (RFC 3550 §6.4-§6.6): SR, RR with report blocks, SDES CNAME, BYE, and
//! compound packets. Packet types this crate does not act on (APP, RTPFB, PSFB, XR, ...) are
//! returned as [`RtcpPacket::Unknown`] so that the caller can skip them.
//!
//! Parsing validates a packet's whole structure before returning it, so the views it hands out
//! ([`ReportBlocks`], [`Sdes`], [`Bye`]) iterate without further checks.

use std::time::{Duration, SystemTime};

use crate::Ssrc;

mod write;

pub use write::{write_bye, write_receiver_report, write_sdes_cname, write_sender_report};

/// RTCP packet types (RFC 3550 §12.1).
pub const PT_SR: u8 = 200;
pub const PT_RR: u8 = 201;
pub const PT_SDES: u8 = 202;
pub const PT_BYE: u8 = 203;
/// SDES item type CNAME (RFC 3550 §6.5.1).
pub const SDES_CNAME: u8 = 1;
/// Report block length (RFC 3550 §6.4.1).
pub const REPORT_BLOCK_LEN: usize = 24;
/// Sender info length after the SSRC (RFC 3550 §6.4.1).
const SENDER_INFO_LEN: usize = 20;
/// The count field is 5 bits (RFC 3550 §6.4.1 "reception report count (RC)").
pub const MAX_COUNT: usize = 31;

/// Why RTCP could not be parsed or written.
#[derive(Debug, Clone, Copy, PartialEq, Eq, thiserror::Error)]
pub enum RtcpError {
    #[error("RTCP packet truncated: {expected} bytes needed, {actual} present")]
    Truncated { expected: usize, actual: usize },
    #[error("RTCP version {0}, expected 2")]
    Version(u8),
    #[error("RTCP padding of {padding} bytes, {available} available")]
    Padding { padding: usize, available: usize },
    #[error("SDES chunk {chunk} is malformed")]
    Sdes { chunk: usize },
    #[error("{count} items do not fit the 5-bit RTCP count")]
    TooMany { count: usize },
    #[error("SDES item of {len} bytes is longer than 255")]
    ItemTooLong { len: usize },
}

/// A 64-bit NTP timestamp: seconds since 1900 in the high 32 bits, fraction in the low
/// (RFC 3550 §4).
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, PartialOrd, Ord)]
pub struct NtpTime(pub u64);

/// Seconds from the NTP epoch (1900) to the Unix epoch (1970).
const NTP_UNIX_OFFSET: u64 = 2_208_988_800;

impl NtpTime {
    pub fn from_system_time(t: SystemTime) -> Self {
        let d = t.duration_since(SystemTime::UNIX_EPOCH).unwrap_or_default();
        Self(0).advanced_by(d.saturating_add(Duration::from_secs(NTP_UNIX_OFFSET)))
    }

    /// This time plus `d`, wrapping like the wire format.
    pub fn advanced_by(self, d: Duration) -> Self {
        let frac = (u64::from(d.subsec_nanos()) << 32) / 1_000_000_000;
        Self(self.0.wrapping_add(d.as_secs() << 32).wrapping_add(frac))
    }

    /// The middle 32 bits, as LSR and round-trip computations use them (RFC 3550 §6.4.1).
    pub fn middle32(self) -> u32 {
        (self.0 >> 16) as u32
    }
}

/// A span in the units of LSR/DLSR: 1/65536 s (RFC 3550 §6.4.1), as a [`Duration`].
pub fn short_ntp_to_duration(units: u32) -> Duration {
    Duration::from_nanos(u64::from(units) * 1_000_000_000 / 65_536)
}

/// A [`Duration`] in 1/65536 s, saturating at `u32::MAX`.
pub fn duration_to_short_ntp(d: Duration) -> u32 {
    u32::try_from(d.as_nanos() * 65_536 / 1_000_000_000).unwrap_or(u32::MAX)
}

/// Sender information of an SR (RFC 3550 §6.4.1).
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct SenderInfo {
    pub ntp: NtpTime,
    pub rtp_timestamp: u32,
    pub packet_count: u32,
    pub octet_count: u32,
}

/// One reception report block (RFC 3550 §6.4.1).
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct ReportBlock {
    pub ssrc: Ssrc,
    /// Lost fraction since the previous report, in 1/256.
    pub fraction_lost: u8,
    /// Cumulative lost packets, a signed 24-bit value on the wire (duplicates make it negative).
    pub cumulative_lost: i32,
    pub extended_highest_seq: u32,
    /// Interarrival jitter in timestamp units.
    pub jitter: u32,
    /// Middle 32 bits of the NTP time of the last SR received from this source, 0 if none.
    pub last_sr: u32,
    /// Delay since that SR, in 1/65536 s.
    pub delay_since_last_sr: u32,
}

impl ReportBlock {
    fn parse(b: &[u8]) -> Self {
        let lost = u32::from_be_bytes([0, b[5], b[6], b[7]]);
        Self {
            ssrc: Ssrc(be32(b, 0)),
            fraction_lost: b[4],
            // Sign-extend 24 bits.
            cumulative_lost: ((lost << 8) as i32) >> 8,
            extended_highest_seq: be32(b, 8),
            jitter: be32(b, 12),
            last_sr: be32(b, 16),
            delay_since_last_sr: be32(b, 20),
        }
    }

    fn write(&self, out: &mut Vec<u8>) {
        out.extend_from_slice(&self.ssrc.0.to_be_bytes());
        let lost = self.cumulative_lost.clamp(-0x80_0000, 0x7f_ffff) as u32;
        out.push(self.fraction_lost);
        out.extend_from_slice(&lost.to_be_bytes()[1..]);
        for v in [
            self.extended_highest_seq,
            self.jitter,
            self.last_sr,
            self.delay_since_last_sr,
        ] {
            out.extend_from_slice(&v.to_be_bytes());
        }
    }
}

/// The report blocks of an SR or RR.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct ReportBlocks<'a>(&'a [u8]);

impl<'a> ReportBlocks<'a> {
    pub fn iter(&self) -> impl Iterator<Item = ReportBlock> + 'a {
        self.0
            .chunks_exact(REPORT_BLOCK_LEN)
            .map(ReportBlock::parse)
    }

    pub fn len(&self) -> usize {
        self.0.len() / REPORT_BLOCK_LEN
    }

    pub fn is_empty(&self) -> bool {
        self.0.is_empty()
    }
}

/// An SDES packet (RFC 3550 §6.5), already validated.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Sdes<'a> {
    count: usize,
    body: &'a [u8],
}

/// One SDES chunk: a source and its CNAME, if the chunk carries one.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct SdesChunk<'a> {
    pub ssrc: Ssrc,
    pub cname: Option<&'a [u8]>,
}

/// Reads the chunk at `at`; returns it and where the next one starts.
fn sdes_chunk(body: &[u8], at: usize) -> Option<(SdesChunk<'_>, usize)> {
    let ssrc = Ssrc(be32(body.get(at..at + 4)?, 0));
    let mut at = at + 4;
    let mut cname = None;
    loop {
        let kind = *body.get(at)?;
        if kind == 0 {
            // RFC 3550 §6.5: a null item ends the chunk, then pad to a 32-bit boundary.
            at = (at + 4) & !3;
            break;
        }
        let len = usize::from(*body.get(at + 1)?);
        let text = body.get(at + 2..at + 2 + len)?;
        if kind == SDES_CNAME {
            cname = Some(text);
        }
        at += 2 + len;
    }
    (at <= body.len()).then_some((SdesChunk { ssrc, cname }, at))
}

impl<'a> Sdes<'a> {
    fn validate(count: usize, body: &'a [u8]) -> Result<(), RtcpError> {
        let mut at = 0;
        for chunk in 0..count {
            at = sdes_chunk(body, at).ok_or(RtcpError::Sdes { chunk })?.1;
        }
        Ok(())
    }

    /// The chunks in order.
    pub fn chunks(&self) -> impl Iterator<Item = SdesChunk<'a>> + 'a {
        let body = self.body;
        let mut at = 0;
        (0..self.count).map_while(move |_| {
            let (chunk, next) = sdes_chunk(body, at)?;
            at = next;
            Some(chunk)
        })
    }
}

/// A BYE packet (RFC 3550 §6.6).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Bye<'a> {
    sources: &'a [u8],
    pub reason: Option<&'a [u8]>,
}

impl<'a> Bye<'a> {
    pub fn sources(&self) -> impl Iterator<Item = Ssrc> + 'a {
        self.sources.chunks_exact(4).map(|c| Ssrc(be32(c, 0)))
    }
}

/// One packet of a compound RTCP datagram.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum RtcpPacket<'a> {
    SenderReport {
        ssrc: Ssrc,
        info: SenderInfo,
        reports: ReportBlocks<'a>,
    },
    ReceiverReport {
        ssrc: Ssrc,
        reports: ReportBlocks<'a>,
    },
    SourceDescription(Sdes<'a>),
    Bye(Bye<'a>),
    /// A packet type this crate does not interpret; skip it.
    Unknown {
        packet_type: u8,
        count: u8,
        body: &'a [u8],
    },
}

/// Iterates the packets of a compound RTCP datagram. Yields at most one error, then stops.
pub fn packets(buf: &[u8]) -> Packets<'_> {
    Packets { rest: buf }
}

/// Iterator returned by [`packets`].
#[derive(Debug)]
pub struct Packets<'a> {
    rest: &'a [u8],
}

impl<'a> Iterator for Packets<'a> {
    type Item = Result<RtcpPacket<'a>, RtcpError>;

    fn next(&mut self) -> Option<Self::Item> {
        if self.rest.is_empty() {
            return None;
        }
        let r = parse_one(self.rest);
        match r {
            Ok((packet, used)) => {
                self.rest = &self.rest[used..];
                Some(Ok(packet))
            }
            Err(e) => {
                self.rest = &[];
                Some(Err(e))
            }
        }
    }
}

fn be32(b: &[u8], at: usize) -> u32 {
    u32::from_be_bytes([b[at], b[at + 1], b[at + 2], b[at + 3]])
}

fn need(expected: usize, actual: usize) -> Result<(), RtcpError> {
    if actual < expected {
        Err(RtcpError::Truncated { expected, actual })
    } else {
        Ok(())
    }
}

/// Parses the packet at the start of `buf`; returns it and the bytes it used.
fn parse_one(buf: &[u8]) -> Result<(RtcpPacket<'_>, usize), RtcpError> {
    need(4, buf.len())?;
    let version = buf[0] >> 6;
    if version != 2 {
        return Err(RtcpError::Version(version));
    }
    let count = buf[0] & 0x1f;
    let packet_type = buf[1];
    // RFC 3550 §6.4.1 "length": in 32-bit words minus one, header included.
    let len = 4 * (usize::from(u16::from_be_bytes([buf[2], buf[3]])) + 1);
    need(len, buf.len())?;
    let mut body = &buf[4..len];
    if buf[0] & 0x20 != 0 {
        let padding = body.last().map_or(0, |&p| usize::from(p));
        if padding == 0 || padding > body.len() {
            return Err(RtcpError::Padding {
                padding,
                available: body.len(),
            });
        }
        body = &body[..body.len() - padding];
    }
    let n = usize::from(count);
    let packet = match packet_type {
        PT_SR => {
            need(4 + SENDER_INFO_LEN + n * REPORT_BLOCK_LEN, body.len())?;
            let info = SenderInfo {
                ntp: NtpTime(u64::from(be32(body, 4)) << 32 | u64::from(be32(body, 8))),
                rtp_timestamp: be32(body, 12),
                packet_count: be32(body, 16),
                octet_count: be32(body, 20),
            };
            let blocks = &body[24..24 + n * REPORT_BLOCK_LEN];
            RtcpPacket::SenderReport {
                ssrc: Ssrc(be32(body, 0)),
                info,
                reports: ReportBlocks(blocks),
            }
        }
        PT_RR => {
            need(4 + n * REPORT_BLOCK_LEN, body.len())?;
            let blocks = &body[4..4 + n * REPORT_BLOCK_LEN];
            RtcpPacket::ReceiverReport {
                ssrc: Ssrc(be32(body, 0)),
                reports: ReportBlocks(blocks),
            }
        }
        PT_SDES => {
            Sdes::validate(n, body)?;
            RtcpPacket::SourceDescription(Sdes { count: n, body })
        }
        PT_BYE => {
            need(4 * n, body.len())?;
            let (sources, rest) = body.split_at(4 * n);
            let reason = match rest.first() {
                Some(&l) if l > 0 => {
                    need(1 + usize::from(l), rest.len())?;
                    Some(&rest[1..1 + usize::from(l)])
                }
                _ => None,
            };
            RtcpPacket::Bye(Bye { sources, reason })
        }
        _ => RtcpPacket::Unknown {
            packet_type,
            count,
            body,
        },
    };
    Ok((packet, len))
}

#[cfg(test)]
mod tests;
