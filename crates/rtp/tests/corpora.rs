//! Runs the pjproject fuzz seed corpora (pjsip/pjproject `tests/fuzz/seed/`, GPLv2, read in
//! place from `../shared/corpora/pjproject-seeds/`, never copied) through this crate's parsers
//! and a whole session: nothing may panic, and the well-formed RTCP seeds must parse.

use std::io::Read;
use std::net::SocketAddr;
use std::path::PathBuf;
use std::time::{Duration, Instant, SystemTime};

use attendant_rtp::rtcp::{packets, RtcpPacket};
use attendant_rtp::{
    fuzz_dtmf, fuzz_rtcp, fuzz_rtp, fuzz_srtp, ClockRate, MasterKey, PayloadType, Session,
    SessionSettings, SrtpContext, SrtpProfile, Ssrc,
};

fn corpus(name: &str) -> Option<Vec<(String, Vec<u8>)>> {
    let path = PathBuf::from(env!("CARGO_MANIFEST_DIR"))
        .join("../../../shared/corpora/pjproject-seeds")
        .join(format!("fuzz-{name}_seed_corpus.zip"));
    let Ok(file) = std::fs::File::open(&path) else {
        eprintln!("skipping: {} not found", path.display());
        return None;
    };
    let mut zip = zip::ZipArchive::new(file).expect("readable zip");
    let mut out = Vec::new();
    for i in 0..zip.len() {
        let mut entry = zip.by_index(i).expect("zip entry");
        if entry.is_dir() {
            continue;
        }
        let mut data = Vec::new();
        entry.read_to_end(&mut data).expect("inflate");
        out.push((entry.name().to_string(), data));
    }
    assert!(!out.is_empty(), "{name} corpus is empty");
    Some(out)
}

fn session(srtp: bool) -> Session {
    let mut s = SessionSettings::new(Ssrc(1), PayloadType::PCMU, ClockRate::HZ_8000, 42);
    s.telephone_event = PayloadType::new(101);
    if srtp {
        let key = MasterKey::new([5; 16], [6; 14]);
        s.srtp = Some(attendant_rtp::SrtpKeys {
            profile: SrtpProfile::AesCm128HmacSha1_80,
            local: key.clone(),
            remote: key,
        });
    }
    Session::new(s, Instant::now(), SystemTime::now())
}

fn feed(s: &mut Session, data: &[u8], t: Instant) {
    let from: SocketAddr = "192.0.2.7:4000".parse().expect("address");
    let mut buf = data.to_vec();
    let _ = s.handle_datagram(from, &mut buf, t);
    while s.poll_playout(t).is_some() {}
    while s.poll_event().is_some() {}
}

/// The RTP seeds follow pjproject's fuzz-rtp harness: 5 bytes of session set-up (PT, SSRC),
/// packets at offsets 5 and 17, encode parameters at 29, then packets from offset 36, each
/// after a length byte (12 to 150).
fn rtp_seed_packets(data: &[u8]) -> Vec<&[u8]> {
    let mut out: Vec<&[u8]> = [5, 17].iter().filter_map(|&at| data.get(at..)).collect();
    let mut at = 36;
    while at + 13 < data.len() && out.len() < 10 {
        let len = usize::from(data[at]).clamp(12, 150);
        at += 1;
        let Some(p) = data.get(at..at + len) else {
            break;
        };
        out.push(p);
        at += len;
    }
    out
}

#[test]
fn pjproject_rtp_seeds_do_not_panic() {
    let Some(seeds) = corpus("rtp") else { return };
    let t0 = Instant::now();
    for (name, data) in &seeds {
        let mut plain = session(false);
        let mut keyed = session(true);
        fuzz_rtp(data);
        fuzz_dtmf(data);
        fuzz_srtp(data);
        let packets = rtp_seed_packets(data);
        assert!(!packets.is_empty(), "{name}");
        for (i, p) in packets.iter().enumerate() {
            fuzz_rtp(p);
            let t = t0 + Duration::from_millis(20 * i as u64);
            feed(&mut plain, p, t);
            feed(&mut keyed, p, t);
        }
        let st = plain.stats();
        assert_eq!(st.datagrams, packets.len() as u64, "{name}");
    }
}

#[test]
fn pjproject_rtcp_seeds_parse_or_fail_cleanly() {
    let Some(seeds) = corpus("rtcp") else { return };
    let mut parsed = 0;
    for (name, data) in &seeds {
        fuzz_rtcp(data);
        fuzz_srtp(data);
        let mut s = session(false);
        feed(&mut s, data, Instant::now());
        let all: Result<Vec<_>, _> = packets(data).collect();
        if let Ok(all) = all {
            parsed += 1;
            // The SR, RR, SDES and BYE seeds (1-4.rtcp) carry what they claim.
            match name.rsplit('/').next() {
                Some("1.rtcp") => {
                    assert!(matches!(all[0], RtcpPacket::SenderReport { .. }), "{name}")
                }
                Some("2.rtcp") => assert!(
                    matches!(all[0], RtcpPacket::ReceiverReport { .. }),
                    "{name}"
                ),
                Some("3.rtcp") => {
                    assert!(matches!(all[0], RtcpPacket::SourceDescription(_)), "{name}")
                }
                Some("4.rtcp") => assert!(matches!(all[0], RtcpPacket::Bye(_)), "{name}"),
                _ => {}
            }
        }
        // Every truncation of a seed is handled too.
        for len in 0..data.len() {
            fuzz_rtcp(&data[..len]);
        }
    }
    assert!(
        parsed >= 7,
        "only {parsed} of {} RTCP seeds parsed",
        seeds.len()
    );
}

/// The SRTP seeds follow pjproject's fuzz-srtp harness: byte 0 selects the suite (0 is
/// AES_CM_128_HMAC_SHA1_80, 1 is _32; the others are suites this crate does not offer), bit 0
/// of byte 1 says RTP, and the packet starts at byte 4. The harness keys with 00 01 .. 1d.
#[test]
fn pjproject_srtp_seeds_do_not_panic() {
    let Some(seeds) = corpus("srtp") else { return };
    let key = MasterKey::from_bytes(&(0u8..30).collect::<Vec<_>>()).expect("30 bytes");
    let mut tried = 0;
    for (_, data) in &seeds {
        fuzz_srtp(data);
        let profile = match data.first().map(|b| b % 6) {
            Some(0) => SrtpProfile::AesCm128HmacSha1_80,
            Some(1) => SrtpProfile::AesCm128HmacSha1_32,
            _ => continue,
        };
        let Some(packet) = data.get(4..) else {
            continue;
        };
        let mut ctx = SrtpContext::new(profile, &key);
        let mut buf = packet.to_vec();
        let _ = if data[1] & 1 == 1 {
            ctx.unprotect_rtp(&mut buf)
        } else {
            ctx.unprotect_rtcp(&mut buf)
        };
        tried += 1;
    }
    assert!(tried > 0);
}
