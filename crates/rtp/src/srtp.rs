//! SRTP and SRTCP (RFC 3711) with SDES-negotiated keys (RFC 4568): AES_CM_128_HMAC_SHA1_80 and
//! AES_CM_128_HMAC_SHA1_32.
//!
//! One [`SrtpContext`] serves one direction (SDES gives each side its own master key): the
//! inbound context unprotects in place in the caller's datagram buffer, the outbound one
//! encrypts in place and appends the tag to the caller's `Vec`. Session keys are derived once
//! (key derivation rate 0, RFC 3711 §4.3.1); the AES key schedule and the HMAC pads are kept, so
//! a packet costs one AES-CM pass and one HMAC over it.
//!
//! Receive state per SSRC (rollover counter, replay window) is created and advanced only by
//! packets that authenticate (RFC 3711 §3.3 step 7), so forged packets cannot move it.

use aes::cipher::{InnerIvInit, KeyInit, StreamCipher};
use aes::Aes128;
use hmac::{Hmac, Mac};
use sha1::Sha1;

use crate::Ssrc;

mod replay;

pub use replay::{estimate_index, ReplayWindow, REPLAY_WINDOW};

type HmacSha1 = Hmac<Sha1>;
type Aes128Ctr = ctr::Ctr128BE<Aes128>;
type CtrCore = ctr::CtrCore<Aes128, ctr::flavors::Ctr128BE>;

/// Master key length for AES_CM_128 (RFC 4568 §6.2.1).
pub const MASTER_KEY_LEN: usize = 16;
/// Master salt length (RFC 3711 §8.2, RFC 4568 §6.2.1).
pub const MASTER_SALT_LEN: usize = 14;
/// Session authentication key length for HMAC-SHA1 (RFC 3711 §8.2: n_a = 160).
const AUTH_KEY_LEN: usize = 20;
/// SRTCP tag length: 80 bits for both suites (RFC 4568 §6.2.2 for _32 too).
const SRTCP_TAG_LEN: usize = 10;
/// The E flag and 31-bit SRTCP index that precede the tag (RFC 3711 §3.4).
const SRTCP_INDEX_LEN: usize = 4;
/// Key derivation labels (RFC 3711 §4.3.1, §4.3.2).
const LABEL_RTP_ENCRYPTION: u8 = 0;
const LABEL_RTP_AUTH: u8 = 1;
const LABEL_RTP_SALT: u8 = 2;
const LABEL_RTCP_ENCRYPTION: u8 = 3;
const LABEL_RTCP_AUTH: u8 = 4;
const LABEL_RTCP_SALT: u8 = 5;
/// Receive states kept per context; one call rarely sees more than two SSRCs.
const MAX_STREAMS: usize = 8;

/// The crypto suites of RFC 4568 §6.2 that this crate implements.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum SrtpProfile {
    AesCm128HmacSha1_80,
    AesCm128HmacSha1_32,
}

impl SrtpProfile {
    /// The suite named in an SDP `a=crypto` line (RFC 4568 §6.2).
    pub fn from_sdp_name(name: &str) -> Option<Self> {
        match name {
            "AES_CM_128_HMAC_SHA1_80" => Some(Self::AesCm128HmacSha1_80),
            "AES_CM_128_HMAC_SHA1_32" => Some(Self::AesCm128HmacSha1_32),
            _ => None,
        }
    }

    /// SRTP authentication tag length in bytes.
    pub fn rtp_tag_len(self) -> usize {
        match self {
            Self::AesCm128HmacSha1_80 => 10,
            Self::AesCm128HmacSha1_32 => 4,
        }
    }
}

/// Why SRTP/SRTCP processing refused a packet.
#[derive(Debug, Clone, Copy, PartialEq, Eq, thiserror::Error)]
pub enum SrtpError {
    #[error("SRTP master key and salt must be {expected} bytes, got {actual}")]
    KeyLength { expected: usize, actual: usize },
    #[error("SRTP packet truncated: {expected} bytes needed, {actual} present")]
    Truncated { expected: usize, actual: usize },
    #[error("SRTP packet is not version 2")]
    Version,
    #[error("SRTP authentication failed")]
    AuthenticationFailed,
    #[error("SRTP packet index {index} was already received")]
    Replayed { index: u64 },
    #[error("SRTP packet index {index} is older than the replay window")]
    TooOld { index: u64 },
}

/// The 30 bytes of master key and salt that SDES carries base64-encoded (RFC 4568 §6.1).
#[derive(Clone, PartialEq, Eq)]
pub struct MasterKey {
    key: [u8; MASTER_KEY_LEN],
    salt: [u8; MASTER_SALT_LEN],
}

impl std::fmt::Debug for MasterKey {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("MasterKey(<redacted>)")
    }
}

impl MasterKey {
    pub const fn new(key: [u8; MASTER_KEY_LEN], salt: [u8; MASTER_SALT_LEN]) -> Self {
        Self { key, salt }
    }

    /// Splits the decoded inline key of `a=crypto` into key and salt.
    pub fn from_bytes(bytes: &[u8]) -> Result<Self, SrtpError> {
        let expected = MASTER_KEY_LEN + MASTER_SALT_LEN;
        if bytes.len() != expected {
            return Err(SrtpError::KeyLength {
                expected,
                actual: bytes.len(),
            });
        }
        let mut key = [0; MASTER_KEY_LEN];
        let mut salt = [0; MASTER_SALT_LEN];
        key.copy_from_slice(&bytes[..MASTER_KEY_LEN]);
        salt.copy_from_slice(&bytes[MASTER_KEY_LEN..]);
        Ok(Self { key, salt })
    }

    /// AES-CM PRF with key derivation rate 0 (RFC 3711 §4.3.1, §4.3.3): the keystream for
    /// `x = (label || r) XOR master_salt` with `r = 0`, written over `out`.
    fn derive(&self, label: u8, out: &mut [u8]) {
        let mut iv = [0u8; 16];
        iv[..MASTER_SALT_LEN].copy_from_slice(&self.salt);
        // key_id = label || r (48 bits of zeros) sits in the low 56 bits of the 112-bit salt.
        iv[7] ^= label;
        out.fill(0);
        let cipher = Aes128::new(&self.key.into());
        Aes128Ctr::from_core(CtrCore::inner_iv_init(cipher, &iv.into())).apply_keystream(out);
    }
}

/// The session keys of one direction of RTP or RTCP.
#[derive(Clone)]
struct SessionKeys {
    cipher: Aes128,
    salt: [u8; MASTER_SALT_LEN],
    mac: HmacSha1,
}

impl SessionKeys {
    fn derive(master: &MasterKey, labels: [u8; 3]) -> Self {
        let mut key = [0u8; 16];
        let mut auth = [0u8; AUTH_KEY_LEN];
        let mut salt = [0u8; MASTER_SALT_LEN];
        master.derive(labels[0], &mut key);
        master.derive(labels[1], &mut auth);
        master.derive(labels[2], &mut salt);
        // HMAC accepts keys of any length.
        let mac = <HmacSha1 as KeyInit>::new_from_slice(&auth)
            .unwrap_or_else(|_| unreachable!("any key length"));
        Self {
            cipher: Aes128::new(&key.into()),
            salt,
            mac,
        }
    }

    /// XORs the AES-CM keystream for (`ssrc`, `index`) into `buf` (RFC 3711 §4.1.1):
    /// IV = (k_s * 2^16) XOR (SSRC * 2^64) XOR (i * 2^16).
    fn xor_keystream(&self, ssrc: Ssrc, index: u64, buf: &mut [u8]) {
        aes_cm(&self.cipher, &self.salt, ssrc, index, buf);
    }

    fn tag(&self, parts: [&[u8]; 2]) -> [u8; 20] {
        let mut m = self.mac.clone();
        parts.iter().for_each(|p| m.update(p));
        m.finalize().into_bytes().into()
    }

    fn verify(&self, parts: [&[u8]; 2], tag: &[u8]) -> Result<(), SrtpError> {
        let mut m = self.mac.clone();
        parts.iter().for_each(|p| m.update(p));
        // Constant-time comparison of the leftmost bytes (RFC 3711 §4.2).
        m.verify_truncated_left(tag)
            .map_err(|_| SrtpError::AuthenticationFailed)
    }
}

fn aes_cm(cipher: &Aes128, salt: &[u8; MASTER_SALT_LEN], ssrc: Ssrc, index: u64, buf: &mut [u8]) {
    let mut iv = [0u8; 16];
    iv[..MASTER_SALT_LEN].copy_from_slice(salt);
    for (b, s) in iv[4..8].iter_mut().zip(ssrc.0.to_be_bytes()) {
        *b ^= s;
    }
    for (b, s) in iv[8..14].iter_mut().zip(&index.to_be_bytes()[2..]) {
        *b ^= s;
    }
    Aes128Ctr::from_core(CtrCore::inner_iv_init(cipher.clone(), &iv.into())).apply_keystream(buf);
}

/// Per-SSRC state: highest authenticated index (ROC in its top 32 bits) and replay window.
#[derive(Clone, Copy, Debug)]
struct Stream {
    ssrc: Ssrc,
    last_used: u64,
    rtp: Option<ReplayWindow>,
    rtcp: Option<ReplayWindow>,
    /// Next SRTCP index to send (outbound).
    srtcp_index: u32,
}

/// SRTP/SRTCP state for one direction of one call.
#[derive(Clone)]
pub struct SrtpContext {
    profile: SrtpProfile,
    rtp: SessionKeys,
    rtcp: SessionKeys,
    streams: Vec<Stream>,
    uses: u64,
}

impl std::fmt::Debug for SrtpContext {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("SrtpContext")
            .field("profile", &self.profile)
            .field("streams", &self.streams)
            .finish()
    }
}

/// Length of the RTP header (fixed, CSRCs, extension) at the start of `buf`.
fn rtp_header_len(buf: &[u8]) -> Result<usize, SrtpError> {
    let truncated = |expected| SrtpError::Truncated {
        expected,
        actual: buf.len(),
    };
    if buf.len() < 12 {
        return Err(truncated(12));
    }
    if buf[0] >> 6 != 2 {
        return Err(SrtpError::Version);
    }
    let mut len = 12 + 4 * usize::from(buf[0] & 0x0f);
    if buf[0] & 0x10 != 0 {
        let words = buf.get(len + 2..len + 4).ok_or(truncated(len + 4))?;
        len += 4 + 4 * usize::from(u16::from_be_bytes([words[0], words[1]]));
    }
    if buf.len() < len {
        return Err(truncated(len));
    }
    Ok(len)
}

impl SrtpContext {
    pub fn new(profile: SrtpProfile, master: &MasterKey) -> Self {
        Self {
            profile,
            rtp: SessionKeys::derive(
                master,
                [LABEL_RTP_ENCRYPTION, LABEL_RTP_AUTH, LABEL_RTP_SALT],
            ),
            rtcp: SessionKeys::derive(
                master,
                [LABEL_RTCP_ENCRYPTION, LABEL_RTCP_AUTH, LABEL_RTCP_SALT],
            ),
            streams: Vec::with_capacity(MAX_STREAMS),
            uses: 0,
        }
    }

    pub fn profile(&self) -> SrtpProfile {
        self.profile
    }

    fn stream(&self, ssrc: Ssrc) -> Option<&Stream> {
        self.streams.iter().find(|s| s.ssrc == ssrc)
    }

    /// The state for `ssrc`, created (evicting the least recently used) if needed.
    fn stream_mut(&mut self, ssrc: Ssrc) -> &mut Stream {
        self.uses += 1;
        let uses = self.uses;
        let at = match self.streams.iter().position(|s| s.ssrc == ssrc) {
            Some(at) => at,
            None => {
                let fresh = Stream {
                    ssrc,
                    last_used: uses,
                    rtp: None,
                    rtcp: None,
                    srtcp_index: 0,
                };
                if self.streams.len() < MAX_STREAMS {
                    self.streams.push(fresh);
                    self.streams.len() - 1
                } else {
                    let (at, _) = self
                        .streams
                        .iter()
                        .enumerate()
                        .min_by_key(|(_, s)| s.last_used)
                        .unwrap_or((0, &fresh));
                    self.streams[at] = fresh;
                    at
                }
            }
        };
        let s = &mut self.streams[at];
        s.last_used = uses;
        s
    }

    /// Encrypts the payload of the RTP packet in `packet` and appends the tag (RFC 3711 §3.3).
    pub fn protect_rtp(&mut self, packet: &mut Vec<u8>) -> Result<(), SrtpError> {
        let header_len = rtp_header_len(packet)?;
        let seq = u16::from_be_bytes([packet[2], packet[3]]);
        let ssrc = Ssrc(u32::from_be_bytes([
            packet[8], packet[9], packet[10], packet[11],
        ]));
        let stream = self.stream_mut(ssrc);
        let index = estimate_index(stream.rtp.map(|w| w.highest()), seq);
        stream
            .rtp
            .get_or_insert_with(|| ReplayWindow::new(index))
            .advance(index);
        self.rtp
            .xor_keystream(ssrc, index, &mut packet[header_len..]);
        let roc = ((index >> 16) as u32).to_be_bytes();
        let tag = self.rtp.tag([packet, &roc]);
        packet.extend_from_slice(&tag[..self.profile.rtp_tag_len()]);
        Ok(())
    }

    /// Authenticates and decrypts the SRTP packet in `packet` in place; returns the length of
    /// the plain RTP packet at its start. The replay window moves only on success.
    pub fn unprotect_rtp(&mut self, packet: &mut [u8]) -> Result<usize, SrtpError> {
        let tag_len = self.profile.rtp_tag_len();
        let header_len = rtp_header_len(packet)?;
        if packet.len() < header_len + tag_len {
            return Err(SrtpError::Truncated {
                expected: header_len + tag_len,
                actual: packet.len(),
            });
        }
        let seq = u16::from_be_bytes([packet[2], packet[3]]);
        let ssrc = Ssrc(u32::from_be_bytes([
            packet[8], packet[9], packet[10], packet[11],
        ]));
        let window = self.stream(ssrc).and_then(|s| s.rtp);
        let index = estimate_index(window.map(|w| w.highest()), seq);
        if let Some(w) = &window {
            w.check(index)?;
        }
        let (authenticated, tag) = packet.split_at_mut(packet.len() - tag_len);
        let roc = ((index >> 16) as u32).to_be_bytes();
        self.rtp.verify([authenticated, &roc], tag)?;
        self.rtp
            .xor_keystream(ssrc, index, &mut authenticated[header_len..]);
        let plain = authenticated.len();
        self.stream_mut(ssrc)
            .rtp
            .get_or_insert_with(|| ReplayWindow::new(index))
            .advance(index);
        Ok(plain)
    }

    /// Encrypts the compound RTCP packet in `packet`, appends E flag, SRTCP index and tag
    /// (RFC 3711 §3.4).
    pub fn protect_rtcp(&mut self, packet: &mut Vec<u8>) -> Result<(), SrtpError> {
        if packet.len() < 8 {
            return Err(SrtpError::Truncated {
                expected: 8,
                actual: packet.len(),
            });
        }
        let ssrc = Ssrc(u32::from_be_bytes([
            packet[4], packet[5], packet[6], packet[7],
        ]));
        let stream = self.stream_mut(ssrc);
        let index = stream.srtcp_index;
        stream.srtcp_index = (index + 1) & 0x7fff_ffff;
        self.rtcp
            .xor_keystream(ssrc, u64::from(index), &mut packet[8..]);
        packet.extend_from_slice(&(index | 0x8000_0000).to_be_bytes());
        let tag = self.rtcp.tag([packet, &[]]);
        packet.extend_from_slice(&tag[..SRTCP_TAG_LEN]);
        Ok(())
    }

    /// Authenticates and (if the E flag says so) decrypts the SRTCP packet in place; returns
    /// the length of the plain compound RTCP packet at its start.
    pub fn unprotect_rtcp(&mut self, packet: &mut [u8]) -> Result<usize, SrtpError> {
        let min = 8 + SRTCP_INDEX_LEN + SRTCP_TAG_LEN;
        if packet.len() < min {
            return Err(SrtpError::Truncated {
                expected: min,
                actual: packet.len(),
            });
        }
        if packet[0] >> 6 != 2 {
            return Err(SrtpError::Version);
        }
        let ssrc = Ssrc(u32::from_be_bytes([
            packet[4], packet[5], packet[6], packet[7],
        ]));
        let (authenticated, tag) = packet.split_at_mut(packet.len() - SRTCP_TAG_LEN);
        let plain = authenticated.len() - SRTCP_INDEX_LEN;
        let e_index = u32::from_be_bytes([
            authenticated[plain],
            authenticated[plain + 1],
            authenticated[plain + 2],
            authenticated[plain + 3],
        ]);
        let index = u64::from(e_index & 0x7fff_ffff);
        if let Some(w) = self.stream(ssrc).and_then(|s| s.rtcp) {
            w.check(index)?;
        }
        self.rtcp.verify([authenticated, &[]], tag)?;
        if e_index & 0x8000_0000 != 0 {
            self.rtcp
                .xor_keystream(ssrc, index, &mut authenticated[8..plain]);
        }
        self.stream_mut(ssrc)
            .rtcp
            .get_or_insert_with(|| ReplayWindow::new(index))
            .advance(index);
        Ok(plain)
    }
}

#[cfg(test)]
mod tests;
