//! RTP fixed header, CSRC list, header extension and padding (RFC 3550 §5.1, §5.3.1).
//!
//! Parsing borrows the datagram: the payload is a slice of it, padding already removed. Every
//! malformed packet is a typed [`RtpError`]; nothing indexes past the input.

use crate::{PayloadType, Ssrc};

/// RTP version carried in the two top bits of the first octet (RFC 3550 §5.1 "version (V)").
pub const RTP_VERSION: u8 = 2;
/// Length of the fixed header, without CSRCs (RFC 3550 §5.1).
pub const FIXED_HEADER_LEN: usize = 12;
/// The CSRC count is 4 bits (RFC 3550 §5.1 "CSRC count (CC)").
pub const MAX_CSRC: usize = 15;

/// Why a datagram is not a valid RTP packet.
#[derive(Debug, Clone, Copy, PartialEq, Eq, thiserror::Error)]
pub enum RtpError {
    #[error("RTP packet truncated: {expected} bytes needed, {actual} present")]
    Truncated { expected: usize, actual: usize },
    #[error("RTP version {0}, expected 2")]
    Version(u8),
    /// RFC 3550 §5.1: the last padding octet counts the padding, itself included, so it is at
    /// least 1 and at most what follows the header.
    #[error("RTP padding of {padding} bytes, {available} available after the header")]
    Padding { padding: usize, available: usize },
}

/// The fields of an RTP header that a receiver acts on.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct RtpHeader {
    pub marker: bool,
    pub payload_type: PayloadType,
    pub sequence: u16,
    pub timestamp: u32,
    pub ssrc: Ssrc,
    csrc_count: u8,
    csrc: [Ssrc; MAX_CSRC],
}

impl RtpHeader {
    /// A header without contributing sources.
    pub fn new(payload_type: PayloadType, sequence: u16, timestamp: u32, ssrc: Ssrc) -> Self {
        Self {
            marker: false,
            payload_type,
            sequence,
            timestamp,
            ssrc,
            csrc_count: 0,
            csrc: [Ssrc(0); MAX_CSRC],
        }
    }

    /// The contributing sources (RFC 3550 §5.1 "CSRC list").
    pub fn csrcs(&self) -> &[Ssrc] {
        &self.csrc[..usize::from(self.csrc_count)]
    }

    /// Length of this header on the wire (no extension).
    pub fn len(&self) -> usize {
        FIXED_HEADER_LEN + 4 * usize::from(self.csrc_count)
    }

    /// Always false: a header has at least its 12 fixed bytes.
    pub fn is_empty(&self) -> bool {
        false
    }

    /// Appends the header (version 2, no padding, no extension) to `out`.
    pub fn write(&self, out: &mut Vec<u8>) {
        out.push(RTP_VERSION << 6 | self.csrc_count);
        out.push(u8::from(self.marker) << 7 | self.payload_type.get());
        out.extend_from_slice(&self.sequence.to_be_bytes());
        out.extend_from_slice(&self.timestamp.to_be_bytes());
        out.extend_from_slice(&self.ssrc.0.to_be_bytes());
        for c in self.csrcs() {
            out.extend_from_slice(&c.0.to_be_bytes());
        }
    }
}

/// A header extension (RFC 3550 §5.3.1): 16 bits defined by profile, then the data.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct HeaderExtension<'a> {
    pub profile: u16,
    pub data: &'a [u8],
}

/// A parsed RTP packet borrowing its datagram.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct RtpPacket<'a> {
    pub header: RtpHeader,
    pub extension: Option<HeaderExtension<'a>>,
    /// The payload, padding removed.
    pub payload: &'a [u8],
    /// Padding octets that followed the payload, the count octet included.
    pub padding: usize,
}

fn need(expected: usize, actual: usize) -> Result<(), RtpError> {
    if actual < expected {
        Err(RtpError::Truncated { expected, actual })
    } else {
        Ok(())
    }
}

fn be32(b: &[u8], at: usize) -> u32 {
    u32::from_be_bytes([b[at], b[at + 1], b[at + 2], b[at + 3]])
}

impl<'a> RtpPacket<'a> {
    /// Parses `buf` as one RTP packet (RFC 3550 §5.1).
    pub fn parse(buf: &'a [u8]) -> Result<Self, RtpError> {
        need(FIXED_HEADER_LEN, buf.len())?;
        let version = buf[0] >> 6;
        if version != RTP_VERSION {
            return Err(RtpError::Version(version));
        }
        let has_padding = buf[0] & 0x20 != 0;
        let has_extension = buf[0] & 0x10 != 0;
        let csrc_count = buf[0] & 0x0f;
        let mut at = FIXED_HEADER_LEN + 4 * usize::from(csrc_count);
        need(at, buf.len())?;
        let mut csrc = [Ssrc(0); MAX_CSRC];
        for (i, c) in csrc.iter_mut().take(usize::from(csrc_count)).enumerate() {
            *c = Ssrc(be32(buf, FIXED_HEADER_LEN + 4 * i));
        }
        let header = RtpHeader {
            marker: buf[1] & 0x80 != 0,
            payload_type: PayloadType(buf[1] & 0x7f),
            sequence: u16::from_be_bytes([buf[2], buf[3]]),
            timestamp: be32(buf, 4),
            ssrc: Ssrc(be32(buf, 8)),
            csrc_count,
            csrc,
        };
        let extension = if has_extension {
            // RFC 3550 §5.3.1: profile (16), length in 32-bit words (16), then the data.
            need(at + 4, buf.len())?;
            let profile = u16::from_be_bytes([buf[at], buf[at + 1]]);
            let words = usize::from(u16::from_be_bytes([buf[at + 2], buf[at + 3]]));
            let start = at + 4;
            at = start + 4 * words;
            need(at, buf.len())?;
            Some(HeaderExtension {
                profile,
                data: &buf[start..at],
            })
        } else {
            None
        };
        let mut end = buf.len();
        let mut padding = 0;
        if has_padding {
            let available = end - at;
            padding = buf.last().map_or(0, |&p| usize::from(p));
            if padding == 0 || padding > available {
                return Err(RtpError::Padding { padding, available });
            }
            end -= padding;
        }
        Ok(Self {
            header,
            extension,
            payload: &buf[at..end],
            padding,
        })
    }

    /// Appends `header` and `payload` to `out` as one packet (no padding, no extension).
    pub fn write(header: &RtpHeader, payload: &[u8], out: &mut Vec<u8>) {
        header.write(out);
        out.extend_from_slice(payload);
    }
}

/// RTP sequence numbers compared in serial-number arithmetic: `a` is newer than `b` when it is
/// less than half the space ahead (RFC 3550 §A.1 works modulo 2^16).
pub fn seq_newer(a: u16, b: u16) -> bool {
    a != b && a.wrapping_sub(b) < 0x8000
}

#[cfg(test)]
mod tests {
    use super::*;

    fn pt(n: u8) -> PayloadType {
        PayloadType::new(n).expect("7-bit payload type")
    }

    #[test]
    fn header_fields_round_trip() {
        let mut h = RtpHeader::new(pt(8), 0xfffe, 0xdead_beef, Ssrc(0x1234_5678));
        h.marker = true;
        let mut buf = Vec::new();
        RtpPacket::write(&h, &[1, 2, 3], &mut buf);
        assert_eq!(buf[..2], [0x80, 0x88]);
        let p = RtpPacket::parse(&buf).unwrap();
        assert_eq!(p.header, h);
        assert_eq!(p.payload, &[1, 2, 3]);
        assert_eq!(p.extension, None);
    }

    #[test]
    fn csrcs_extension_and_padding_are_skipped() {
        let mut buf = vec![0xb2, 0x00, 0, 1, 0, 0, 0, 160, 0, 0, 0, 9];
        buf.extend_from_slice(&[0, 0, 0, 1, 0, 0, 0, 2]); // two CSRCs
        buf.extend_from_slice(&[0xbe, 0xde, 0, 1, 0x10, 0xaa, 0, 0]); // one-word extension
        buf.extend_from_slice(&[7, 7, 7]); // payload
        buf.extend_from_slice(&[0, 0, 3]); // three bytes of padding
        let p = RtpPacket::parse(&buf).unwrap();
        assert_eq!(p.header.csrcs(), &[Ssrc(1), Ssrc(2)]);
        assert_eq!(
            p.extension.map(|e| (e.profile, e.data.len())),
            Some((0xbede, 4))
        );
        assert_eq!(p.payload, &[7, 7, 7]);
        assert_eq!(p.padding, 3);
    }

    #[test]
    fn short_packets_are_truncated_errors() {
        for len in 0..FIXED_HEADER_LEN {
            assert_eq!(
                RtpPacket::parse(&[0x80; 12][..len]),
                Err(RtpError::Truncated {
                    expected: 12,
                    actual: len
                })
            );
        }
        // Two CSRCs announced, one present.
        let buf = [0x82, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 1, 2, 3, 4];
        assert_eq!(
            RtpPacket::parse(&buf),
            Err(RtpError::Truncated {
                expected: 20,
                actual: 16
            })
        );
    }

    #[test]
    fn extension_longer_than_packet_is_truncated_error() {
        let buf = [
            0x90, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0xbe, 0xde, 0xff, 0xff, 1,
        ];
        assert!(matches!(
            RtpPacket::parse(&buf),
            Err(RtpError::Truncated { .. })
        ));
        let buf = [0x90, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0xbe];
        assert_eq!(
            RtpPacket::parse(&buf),
            Err(RtpError::Truncated {
                expected: 16,
                actual: 13
            })
        );
    }

    #[test]
    fn bad_padding_is_rejected() {
        let mut buf = vec![0xa0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 1, 0];
        assert_eq!(
            RtpPacket::parse(&buf),
            Err(RtpError::Padding {
                padding: 0,
                available: 2
            })
        );
        *buf.last_mut().unwrap() = 3;
        assert_eq!(
            RtpPacket::parse(&buf),
            Err(RtpError::Padding {
                padding: 3,
                available: 2
            })
        );
        *buf.last_mut().unwrap() = 2;
        assert_eq!(RtpPacket::parse(&buf).unwrap().payload, &[] as &[u8]);
    }

    #[test]
    fn wrong_version_is_rejected() {
        assert_eq!(RtpPacket::parse(&[0x40; 12]), Err(RtpError::Version(1)));
    }

    #[test]
    fn sequence_comparison_wraps() {
        assert!(seq_newer(0, 0xffff));
        assert!(seq_newer(5, 1));
        assert!(!seq_newer(1, 5));
        assert!(!seq_newer(7, 7));
    }
}
