use std::net::{Ipv4Addr, SocketAddrV4};

use super::*;
use crate::dtmf::EventReport;
use crate::packet::RtpHeader;

const PCMU: PayloadType = PayloadType::PCMU;

fn addr(port: u16) -> SocketAddr {
    SocketAddr::V4(SocketAddrV4::new(Ipv4Addr::new(192, 0, 2, 1), port))
}

fn te() -> PayloadType {
    PayloadType::new(101).expect("7 bits")
}

fn settings(ssrc: u32) -> SessionSettings {
    let mut s = SessionSettings::new(
        Ssrc(ssrc),
        PCMU,
        ClockRate::HZ_8000,
        u64::from(ssrc) * 0x1234_5678_9abc,
    );
    s.telephone_event = Some(te());
    s
}

fn rtp(pt: PayloadType, ssrc: u32, seq: u16, ts: u32, marker: bool, payload: &[u8]) -> Vec<u8> {
    let mut h = RtpHeader::new(pt, seq, ts, Ssrc(ssrc));
    h.marker = marker;
    let mut out = Vec::new();
    RtpPacket::write(&h, payload, &mut out);
    out
}

struct Call {
    s: Session,
    t0: Instant,
}

impl Call {
    fn new(settings: SessionSettings) -> Self {
        let t0 = Instant::now();
        Self {
            s: Session::new(
                settings,
                t0,
                SystemTime::UNIX_EPOCH + Duration::from_secs(1_700_000_000),
            ),
            t0,
        }
    }

    fn at(&self, ms: u64) -> Instant {
        self.t0 + Duration::from_millis(ms)
    }

    fn input(&mut self, from: SocketAddr, mut data: Vec<u8>, ms: u64) -> Result<(), InputError> {
        let now = self.at(ms);
        self.s.handle_datagram(from, &mut data, now)
    }

    /// Audio payloads (first byte) and conceal reasons due at `ms`.
    fn playout(&mut self, ms: u64) -> Vec<String> {
        let now = self.at(ms);
        let mut out = Vec::new();
        while let Some(item) = self.s.poll_playout(now) {
            out.push(match item {
                MediaItem::Audio { payload, .. } => format!("a{}", payload[0]),
                MediaItem::ComfortNoise { level, .. } => format!("cn{}", -level.dbov()),
                MediaItem::Conceal { reason, .. } => format!("{reason:?}"),
            });
        }
        out
    }

    fn events(&mut self) -> Vec<SessionEvent> {
        std::iter::from_fn(|| self.s.poll_event()).collect()
    }
}

/// Sends `n` PCMU packets from `ssrc` at 20 ms spacing starting at seq/ts `first`, polling
/// playout every 20 ms; returns the audio payload markers played.
fn run_stream(
    c: &mut Call,
    from: SocketAddr,
    ssrc: u32,
    first: u16,
    n: u16,
    start_ms: u64,
) -> Vec<String> {
    let mut played = Vec::new();
    for i in 0..n {
        let seq = first.wrapping_add(i);
        let ms = start_ms + 20 * u64::from(i);
        let _ = c.input(
            from,
            rtp(
                PCMU,
                ssrc,
                seq,
                u32::from(seq) * 160,
                i == 0,
                &[seq as u8; 160],
            ),
            ms,
        );
        played.extend(c.playout(ms));
    }
    played
}

#[test]
fn plain_rtp_is_validated_then_played_in_order() {
    let mut c = Call::new(settings(1));
    assert_eq!(
        c.input(addr(4000), rtp(PCMU, 7, 10, 1600, true, &[10; 160]), 0),
        Err(InputError::Probation { ssrc: Ssrc(7) })
    );
    let played = run_stream(&mut c, addr(4000), 7, 11, 20, 20);
    let audio: Vec<_> = played
        .iter()
        .filter(|p| p.starts_with('a'))
        .cloned()
        .collect();
    // The packet dropped by probation plays too, once its successor validated the source; the
    // last one is not due yet.
    assert_eq!(audio, (10..29).map(|s| format!("a{s}")).collect::<Vec<_>>());
    assert_eq!(
        c.events(),
        vec![
            SessionEvent::SourceAccepted { ssrc: Ssrc(7) },
            SessionEvent::RemoteAddressLearned { addr: addr(4000) }
        ]
    );
    assert_eq!(c.s.remote_addr(), Some(addr(4000)));
    assert_eq!(c.s.stats().probation, 1);
}

#[test]
fn unknown_payload_types_and_non_rtp_are_dropped_and_counted() {
    let mut c = Call::new(settings(1));
    let pt96 = PayloadType::new(96).unwrap();
    assert_eq!(
        c.input(addr(1), rtp(pt96, 7, 1, 0, false, &[0]), 0),
        Err(InputError::UnknownPayloadType(96))
    );
    // A STUN binding request (RFC 7983: first byte 0..=3).
    assert_eq!(
        c.input(addr(1), vec![0, 1, 0, 0, 0x21, 0x12, 0xa4, 0x42], 0),
        Err(InputError::NotRtp { first_byte: 0 })
    );
    assert!(matches!(
        c.input(addr(1), vec![0x80], 0),
        Err(InputError::Rtp(_))
    ));
    let st = c.s.stats();
    assert_eq!(
        (st.unknown_payload_type, st.not_rtp, st.malformed),
        (1, 1, 1)
    );
}

#[test]
fn garbage_between_packets_does_not_disturb_the_stream() {
    let mut c = Call::new(settings(1));
    let mut x = 0x9e37_79b9u32;
    let mut played = Vec::new();
    for i in 0..100u16 {
        let ms = 20 * u64::from(i);
        let _ = c.input(
            addr(4000),
            rtp(PCMU, 7, i, u32::from(i) * 160, false, &[i as u8; 160]),
            ms,
        );
        for _ in 0..5 {
            let junk: Vec<u8> = (0..(x % 200))
                .map(|_| {
                    x ^= x << 13;
                    x ^= x >> 17;
                    x ^= x << 5;
                    x as u8
                })
                .collect();
            let _ = c.input(addr(6666), junk, ms);
        }
        played.extend(c.playout(ms));
    }
    let audio = played.iter().filter(|p| p.starts_with('a')).count();
    assert!(audio >= 97, "{audio} of 99 played: {played:?}");
    assert_eq!(
        c.s.remote_addr(),
        Some(addr(4000)),
        "garbage never re-latches"
    );
    assert_eq!(c.s.remote_ssrc(), Some(Ssrc(7)));
}

#[test]
fn dtmf_packets_become_one_digit_and_no_loss() {
    let mut c = Call::new(settings(1));
    run_stream(&mut c, addr(4000), 7, 0, 10, 0);
    c.events();
    let ts = 10 * 160;
    let mut seq = 10u16;
    let mut ms = 200;
    for (d, end) in [
        (160u16, false),
        (320, false),
        (480, false),
        (640, false),
        (640, true),
        (640, true),
        (640, true),
    ] {
        let payload = EventReport {
            event: 1,
            end,
            volume: 10,
            duration: d,
        }
        .to_bytes();
        c.input(addr(4000), rtp(te(), 7, seq, ts, d == 160, &payload), ms)
            .unwrap();
        c.playout(ms);
        seq += 1;
        ms += 20;
    }
    run_stream(&mut c, addr(4000), 7, seq, 10, ms);
    let key = DtmfKey::from_char('1').unwrap();
    assert_eq!(
        c.events(),
        vec![
            SessionEvent::DtmfStarted { key },
            SessionEvent::DtmfEnded {
                key,
                duration: Duration::from_millis(80)
            }
        ]
    );
    assert_eq!(c.s.stats().jitter.concealed_lost, 0);
}

#[test]
fn comfort_noise_packet_becomes_a_noise_item() {
    let mut c = Call::new(settings(1));
    run_stream(&mut c, addr(4000), 7, 0, 5, 0);
    c.input(
        addr(4000),
        rtp(PayloadType::CN, 7, 5, 800, false, &[62]),
        100,
    )
    .unwrap();
    assert!(c.playout(200).contains(&"cn62".to_string()));
}

#[test]
fn ssrc_change_is_validated_then_resynchronizes() {
    let mut c = Call::new(settings(1));
    run_stream(&mut c, addr(4000), 7, 0, 20, 0);
    c.events();
    // The SBC switches to a new SSRC with unrelated numbering.
    let played = run_stream(&mut c, addr(4000), 8, 30_000, 20, 400);
    assert_eq!(
        c.events(),
        vec![SessionEvent::SsrcChanged {
            old: Ssrc(7),
            new: Ssrc(8)
        }]
    );
    assert_eq!(c.s.remote_ssrc(), Some(Ssrc(8)));
    let st = c.s.stats();
    assert_eq!((st.ssrc_changes, st.jitter.resyncs), (1, 1));
    assert!(
        played.iter().filter(|p| p.starts_with('a')).count() >= 17,
        "{played:?}"
    );
}

#[test]
fn symmetric_rtp_relatches_after_four_packets_from_a_new_address() {
    let mut s = settings(1);
    s.remote = Some(addr(9999));
    let mut c = Call::new(s);
    run_stream(&mut c, addr(4000), 7, 0, 5, 0);
    assert_eq!(
        c.s.remote_addr(),
        Some(addr(4000)),
        "SDP address replaced by the real source"
    );
    c.events();
    for i in 5..8u16 {
        c.input(
            addr(5000),
            rtp(PCMU, 7, i, u32::from(i) * 160, false, &[0; 160]),
            u64::from(i) * 20,
        )
        .unwrap();
    }
    assert_eq!(c.s.remote_addr(), Some(addr(4000)));
    c.input(addr(5000), rtp(PCMU, 7, 8, 8 * 160, false, &[0; 160]), 160)
        .unwrap();
    assert_eq!(c.s.remote_addr(), Some(addr(5000)));
    assert_eq!(
        c.events(),
        vec![SessionEvent::RemoteAddressChanged {
            old: addr(4000),
            new: addr(5000)
        }]
    );
    let mut out = Vec::new();
    let t =
        c.s.send_audio(Some(&[0xff; 160]), c.at(180), &mut out)
            .unwrap();
    assert_eq!(t.destination, addr(5000));
}

fn keyed_pair() -> (Call, Call) {
    let (ka, kb) = (
        MasterKey::new([1; 16], [2; 14]),
        MasterKey::new([3; 16], [4; 14]),
    );
    let profile = SrtpProfile::AesCm128HmacSha1_80;
    let mut a = settings(0xa);
    a.srtp = Some(SrtpKeys {
        profile,
        local: ka.clone(),
        remote: kb.clone(),
    });
    a.remote = Some(addr(2000));
    let mut b = settings(0xb);
    b.srtp = Some(SrtpKeys {
        profile,
        local: kb,
        remote: ka,
    });
    b.remote = Some(addr(1000));
    (Call::new(a), Call::new(b))
}

#[test]
fn srtp_audio_round_trips_and_forgeries_are_refused() {
    let (mut a, mut b) = keyed_pair();
    let mut out = Vec::new();
    let mut sent = Vec::new();
    for i in 0..10u64 {
        let t =
            a.s.send_audio(Some(&[i as u8; 160]), a.at(20 * i), &mut out)
                .unwrap();
        assert_eq!((t.destination, t.len), (addr(2000), 12 + 160 + 10));
        sent.push(out.clone());
        b.input(addr(1000), out.clone(), 20 * i + 5).unwrap();
    }
    let played = b.playout(400);
    assert_eq!(
        played
            .iter()
            .filter(|p| p.starts_with('a'))
            .cloned()
            .collect::<Vec<_>>(),
        (0..10).map(|i| format!("a{i}")).collect::<Vec<_>>()
    );
    assert_eq!(
        b.input(addr(1000), sent[3].clone(), 410),
        Err(InputError::Srtp(SrtpError::Replayed {
            index: u64::from(u16::from_be_bytes([sent[3][2], sent[3][3]]))
        }))
    );
    let mut forged = sent[9].clone();
    forged[20] ^= 0x40;
    forged[3] = forged[3].wrapping_add(1);
    assert_eq!(
        b.input(addr(6666), forged, 420),
        Err(InputError::Srtp(SrtpError::AuthenticationFailed))
    );
    let st = b.s.stats();
    assert_eq!((st.srtp_replays, st.srtp_auth_failures), (1, 1));
    assert_eq!(
        b.s.remote_addr(),
        Some(addr(1000)),
        "a forged packet never moves the latch"
    );
}

#[test]
fn rtcp_reports_give_round_trip_time_loss_and_mos() {
    let (mut a, mut b) = keyed_pair();
    let mut out = Vec::new();
    let one_way = 40u64;
    // In flight: (arrival ms, to b?, datagram).
    let mut network: VecDeque<(u64, bool, Vec<u8>)> = VecDeque::new();
    // Both sides send 20 ms audio for 30 s; every tenth packet from a to b is lost.
    for i in 0..1500u64 {
        let ms = 20 * i;
        while network.front().is_some_and(|p| p.0 <= ms) {
            let (at, to_b, data) = network.pop_front().unwrap();
            if to_b {
                b.input(addr(1000), data, at).unwrap();
            } else {
                a.input(addr(2000), data, at).unwrap();
            }
        }
        if a.s
            .send_audio(Some(&[1; 160]), a.at(ms), &mut out)
            .is_some()
            && i % 10 != 5
        {
            network.push_back((ms + one_way, true, out.clone()));
        }
        if b.s
            .send_audio(Some(&[2; 160]), b.at(ms), &mut out)
            .is_some()
        {
            network.push_back((ms + one_way, false, out.clone()));
        }
        a.playout(ms);
        b.playout(ms);
        if a.s.poll_rtcp(a.at(ms), &mut out).is_some() {
            network.push_back((ms + one_way, true, out.clone()));
        }
        if let Some(t) = b.s.poll_rtcp(b.at(ms), &mut out) {
            assert_eq!(t.destination, addr(1000));
            network.push_back((ms + one_way, false, out.clone()));
        }
    }
    let rtt = a.s.stats().rtt.expect("a knows the round trip");
    assert!(
        rtt >= Duration::from_millis(79) && rtt <= Duration::from_millis(81),
        "{rtt:?}"
    );
    let remote: Vec<_> = a
        .events()
        .into_iter()
        .filter_map(|e| match e {
            SessionEvent::RemoteReport { fraction_lost, .. } => Some(fraction_lost),
            _ => None,
        })
        .collect();
    assert!(remote.len() >= 5);
    assert!(
        remote.iter().skip(1).all(|f| (0.08..=0.12).contains(f)),
        "{remote:?}"
    );
    let q = b.s.stats().last_quality.expect("b reported");
    assert!((0.08..=0.12).contains(&q.fraction_lost), "{q:?}");
    assert!(q.quality.mos < 4.1 && q.quality.mos > 3.0, "{q:?}");
    let qa = a.s.stats().last_quality.expect("a reported");
    assert_eq!(qa.cumulative_lost, 0);
    assert!(qa.quality.mos > 4.3, "{qa:?}");
}

#[test]
fn bye_is_sent_and_received() {
    let (mut a, mut b) = keyed_pair();
    let mut out = Vec::new();
    for i in 0..5u64 {
        b.s.send_audio(Some(&[2; 160]), b.at(20 * i), &mut out);
        a.input(addr(2000), out.clone(), 20 * i).unwrap();
    }
    a.events();
    let t = b.s.bye(b.at(200), Some("hangup"), &mut out).unwrap();
    assert_eq!(t.destination, addr(1000));
    a.input(addr(2000), out.clone(), 210).unwrap();
    assert!(a.events().contains(&SessionEvent::Bye { ssrc: Ssrc(0xb) }));
}

#[test]
fn rtcp_without_mux_goes_to_the_next_port() {
    let mut s = settings(1);
    s.rtcp_mux = false;
    s.remote = Some(addr(4000));
    let c = Call::new(s);
    assert_eq!(c.s.rtcp_destination(), Some(addr(4001)));
}

#[test]
fn sent_dtmf_uses_the_negotiated_payload_type() {
    let mut c = Call::new(settings(1));
    let mut out = Vec::new();
    c.s.send_dtmf(DtmfKey::from_char('#').unwrap(), Duration::from_millis(60))
        .unwrap();
    assert_eq!(
        c.s.send_audio(Some(&[0; 160]), c.at(0), &mut out),
        None,
        "no remote address yet"
    );
    assert_eq!(RtpPacket::parse(&out).unwrap().header.payload_type, te());
}

#[test]
fn poll_timeout_names_the_next_deadline() {
    let mut c = Call::new(settings(1));
    let first_report = c.s.poll_timeout().expect("RTCP scheduled");
    assert!(first_report > c.t0);
    run_stream(&mut c, addr(4000), 7, 0, 3, 0);
    let due = c.s.poll_timeout().unwrap();
    assert!(due <= c.at(80), "{:?}", due - c.t0);
}
