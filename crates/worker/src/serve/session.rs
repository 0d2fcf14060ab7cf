//! What call set-up needs besides SIP: the RTP session for a negotiated SDP, and randomness
//! for keys, SSRCs and tags.

use std::io::Read as _;
use std::time::{Instant, SystemTime};

use anyhow::Context as _;
use sip::sdp::Negotiated;

/// The RTP session for what the SDP negotiated.
pub fn rtp_session(neg: &Negotiated, random: &[u8]) -> anyhow::Result<rtp::Session> {
    let pt = rtp::PayloadType::new(neg.codec.payload_type).context("payload type out of range")?;
    let clock = rtp::ClockRate::new(neg.codec.clock_rate).context("unsupported RTP clock")?;
    let seed = u64::from_be_bytes(random.try_into().unwrap_or_default());
    let mut s = rtp::SessionSettings::new(rtp::Ssrc(seed as u32), pt, clock, seed);
    s.telephone_event = neg.telephone_event.and_then(rtp::PayloadType::new);
    s.remote = neg.remote_rtp;
    s.remote_rtcp = neg.remote_rtcp;
    s.rtcp_mux = neg.rtcp_mux;
    if let Some(p) = &neg.srtp {
        let profile = match p.suite {
            sip::sdp::CryptoSuite::AesCm128HmacSha1_80 => rtp::SrtpProfile::AesCm128HmacSha1_80,
            sip::sdp::CryptoSuite::AesCm128HmacSha1_32 => rtp::SrtpProfile::AesCm128HmacSha1_32,
            sip::sdp::CryptoSuite::Other(ref name) => anyhow::bail!("SRTP suite {name} not supported"),
        };
        s.srtp = Some(rtp::SrtpKeys {
            profile,
            local: rtp::MasterKey::from_bytes(&p.local.key_salt).map_err(|e| anyhow::anyhow!("local SRTP key: {e}"))?,
            remote: rtp::MasterKey::from_bytes(&p.remote.key_salt).map_err(|e| anyhow::anyhow!("remote SRTP key: {e}"))?,
        });
    }
    Ok(rtp::Session::new(s, Instant::now(), SystemTime::now()))
}

pub fn hex(bytes: &[u8]) -> String {
    bytes.iter().map(|b| format!("{b:02x}")).collect()
}

/// Fills `buf` from the kernel's random source (SRTP keys, SSRCs, tags must not be guessable).
pub fn fill_random(buf: &mut [u8]) {
    let filled = std::fs::File::open("/dev/urandom").and_then(|mut f| f.read_exact(buf));
    if filled.is_err() {
        // No /dev/urandom (a locked-down container): fall back to the clock, and say so once.
        static WARNED: std::sync::Once = std::sync::Once::new();
        WARNED.call_once(|| eprintln!("warning: /dev/urandom unavailable; SRTP keys are weak"));
        let mut x = SystemTime::now().duration_since(SystemTime::UNIX_EPOCH).map_or(0, |d| d.as_nanos() as u64);
        for b in buf.iter_mut() {
            x ^= x << 13;
            x ^= x >> 7;
            x ^= x << 17;
            *b = x as u8;
        }
    }
}

pub fn random_u64() -> u64 {
    let mut b = [0u8; 8];
    fill_random(&mut b);
    u64::from_be_bytes(b)
}

/// The local address the kernel would send from to reach `peer`: what a socket bound to a
/// wildcard address must advertise (in an SDP answer, an ICE candidate). A connected UDP socket
/// sends nothing; the route is looked up only.
pub fn route_source(peer: std::net::IpAddr) -> std::io::Result<std::net::IpAddr> {
    use std::net::SocketAddr;
    let any: SocketAddr = if peer.is_ipv4() { ([0, 0, 0, 0], 0).into() } else { (std::net::Ipv6Addr::UNSPECIFIED, 0).into() };
    let probe = std::net::UdpSocket::bind(any)?;
    probe.connect(SocketAddr::new(peer, 9))?;
    Ok(probe.local_addr()?.ip())
}
