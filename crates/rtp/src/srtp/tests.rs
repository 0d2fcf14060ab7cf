use super::*;

fn hex(s: &str) -> Vec<u8> {
    let s: String = s.split_whitespace().collect();
    (0..s.len())
        .step_by(2)
        .map(|i| u8::from_str_radix(&s[i..i + 2], 16).expect("hex"))
        .collect()
}

fn keystream(cipher: &Aes128, salt: &[u8; 14], len: usize) -> Vec<u8> {
    let mut buf = vec![0u8; len];
    aes_cm(cipher, salt, Ssrc(0), 0, &mut buf);
    buf
}

/// RFC 3711 Appendix B.2: AES-CM keystream for session key 2B7E..., salt F0F1...FD, SSRC 0,
/// index 0.
#[test]
fn aes_cm_keystream_matches_rfc3711_b2() {
    let key: [u8; 16] = hex("2B7E151628AED2A6ABF7158809CF4F3C").try_into().unwrap();
    let salt: [u8; 14] = hex("F0F1F2F3F4F5F6F7F8F9FAFBFCFD").try_into().unwrap();
    let ks = keystream(&Aes128::new(&key.into()), &salt, 0xff02 * 16);
    let block = |n: usize| ks[n * 16..n * 16 + 16].to_vec();
    assert_eq!(block(0), hex("E03EAD0935C95E80E166B16DD92B4EB4"));
    assert_eq!(block(1), hex("D23513162B02D0F72A43A2FE4A5F97AB"));
    assert_eq!(block(2), hex("41E95B3BB0A2E8DD477901E4FCA894C0"));
    assert_eq!(block(0xfeff), hex("EC8CDF7398607CB0F2D21675EA9EA1E4"));
    assert_eq!(block(0xff00), hex("362B7C3C6773516318A077D7FC5073AE"));
    assert_eq!(block(0xff01), hex("6A2CC3787889374FBEB4C81B17BA6C44"));
}

/// RFC 3711 Appendix B.3: session keys from master key E1F9... and salt 0EC6....
#[test]
fn key_derivation_matches_rfc3711_b3() {
    let master = MasterKey::from_bytes(&hex(
        "E1F97A0D3E018BE0D64FA32C06DE4139 0EC675AD498AFEEBB6960B3AABE6",
    ))
    .unwrap();
    let mut cipher_key = [0u8; 16];
    master.derive(LABEL_RTP_ENCRYPTION, &mut cipher_key);
    assert_eq!(cipher_key.to_vec(), hex("C61E7A93744F39EE10734AFE3FF7A087"));
    let mut salt = [0u8; 14];
    master.derive(LABEL_RTP_SALT, &mut salt);
    assert_eq!(salt.to_vec(), hex("30CBBC08863D8C85D49DB34A9AE1"));
    let mut auth = [0u8; 94];
    master.derive(LABEL_RTP_AUTH, &mut auth);
    assert_eq!(
        auth.to_vec(),
        hex(
            "CEBE321F6FF7716B6FD4AB49AF256A15 6D38BAA48F0A0ACF3C34E2359E6CDBCE
             E049646C43D9327AD175578EF7227098 6371C10C9A369AC2F94A8C5FBCDDDC25
             6D6E919A48B610EF17C2041E47403576 6B68642C59BBFC2F34DB60DBDFB2"
        )
    );
}

fn libsrtp_key() -> MasterKey {
    MasterKey::from_bytes(&(0u8..30).collect::<Vec<_>>()).unwrap()
}

/// Packets protected by libsrtp (via pylibsrtp 1.0.0) with master key 00 01 .. 1d, SSRC
/// 0xcafebabe, payload 00 01 .. 13; the sequence numbers wrap between the second and third.
const LIBSRTP_80: [&str; 3] = [
    "8000123400002234cafebabe635f4989ed9848514a69778de016053559eed2c7b5b7fef7aac4660884c7",
    "8000ffff00010fffcafebabe1747f95ff1fd40b48e1e9f06ad217026238edfdbb5dfe199931a76ed5662",
    "8000000000001000cafebabe4c149497feabca9f246628fa3406ae14a1627ef482ee47f3e0587f3bd285",
];

#[test]
fn unprotects_libsrtp_packets_across_rollover() {
    for (profile, tag_len) in [
        (SrtpProfile::AesCm128HmacSha1_80, 10),
        (SrtpProfile::AesCm128HmacSha1_32, 4),
    ] {
        let mut rx = SrtpContext::new(profile, &libsrtp_key());
        for p in LIBSRTP_80 {
            let mut buf = hex(p);
            buf.truncate(buf.len() - 10 + tag_len);
            let n = rx
                .unprotect_rtp(&mut buf)
                .unwrap_or_else(|e| panic!("{profile:?} {p}: {e}"));
            assert_eq!(&buf[12..n], &(0u8..20).collect::<Vec<_>>()[..]);
        }
    }
}

#[test]
fn protect_matches_libsrtp_byte_for_byte() {
    let mut tx = SrtpContext::new(SrtpProfile::AesCm128HmacSha1_80, &libsrtp_key());
    for (p, seq) in LIBSRTP_80.iter().zip([0x1234u16, 0xffff, 0]) {
        let mut buf = vec![0x80, 0];
        buf.extend_from_slice(&seq.to_be_bytes());
        buf.extend_from_slice(&(0x1000u32 + u32::from(seq)).to_be_bytes());
        buf.extend_from_slice(&0xcafe_babe_u32.to_be_bytes());
        buf.extend(0u8..20);
        tx.protect_rtp(&mut buf).unwrap();
        assert_eq!(buf, hex(p));
    }
}

#[test]
fn unprotects_libsrtp_rtcp() {
    let mut rx = SrtpContext::new(SrtpProfile::AesCm128HmacSha1_80, &libsrtp_key());
    let mut buf = hex("81c90007cafebabe8661780858cd2ca4da71397fd399ead91e84ce794fc88c1980000001896ab1ebf50a034150c9");
    let n = rx.unprotect_rtcp(&mut buf).unwrap();
    assert_eq!(&buf[..8], &hex("81c90007cafebabe")[..]);
    assert_eq!(&buf[8..n], &(0u8..24).collect::<Vec<_>>()[..]);
}

fn rtp(seq: u16, payload: &[u8]) -> Vec<u8> {
    let mut v = vec![0x80, 0x00];
    v.extend_from_slice(&seq.to_be_bytes());
    v.extend_from_slice(&(u32::from(seq) * 160).to_be_bytes());
    v.extend_from_slice(&[0, 0, 0, 42]);
    v.extend_from_slice(payload);
    v
}

fn pair() -> (SrtpContext, SrtpContext) {
    let key = MasterKey::new([3; 16], [9; 14]);
    (
        SrtpContext::new(SrtpProfile::AesCm128HmacSha1_80, &key),
        SrtpContext::new(SrtpProfile::AesCm128HmacSha1_80, &key),
    )
}

#[test]
fn protect_then_unprotect_round_trips_over_many_rollovers_of_seq() {
    let (mut tx, mut rx) = pair();
    for i in 0..80_000u32 {
        let seq = (60_000 + i) as u16;
        let plain = rtp(seq, &[i as u8; 33]);
        let mut buf = plain.clone();
        tx.protect_rtp(&mut buf).unwrap();
        assert_ne!(&buf[12..45], &plain[12..]);
        let n = rx.unprotect_rtp(&mut buf).unwrap();
        assert_eq!(&buf[..n], &plain[..]);
    }
    assert_eq!(
        rx.stream(Ssrc(42))
            .and_then(|s| s.rtp)
            .map(|w| w.highest() >> 16),
        Some(2)
    );
}

#[test]
fn tampered_packets_fail_authentication() {
    let (mut tx, mut rx) = pair();
    let mut good = rtp(7, b"hello");
    tx.protect_rtp(&mut good).unwrap();
    for at in [1, 5, 12, good.len() - 1] {
        let mut bad = good.clone();
        bad[at] ^= 0x01;
        assert_eq!(
            rx.unprotect_rtp(&mut bad),
            Err(SrtpError::AuthenticationFailed),
            "byte {at}"
        );
    }
    // A failed packet did not enter the replay window: the genuine one still passes.
    assert!(rx.unprotect_rtp(&mut good.clone()).is_ok());
}

#[test]
fn truncated_packets_are_typed_errors() {
    let (mut tx, mut rx) = pair();
    let mut good = rtp(7, b"");
    tx.protect_rtp(&mut good).unwrap();
    for len in 0..good.len() {
        let r = rx.unprotect_rtp(&mut good.clone()[..len]);
        assert!(
            matches!(
                r,
                Err(SrtpError::Truncated { .. }) | Err(SrtpError::AuthenticationFailed)
            ),
            "{len}: {r:?}"
        );
    }
    assert!(matches!(
        rx.unprotect_rtcp(&mut [0x80; 21]),
        Err(SrtpError::Truncated {
            expected: 22,
            actual: 21
        })
    ));
}

#[test]
fn replayed_packets_are_refused() {
    let (mut tx, mut rx) = pair();
    let mut packets = Vec::new();
    for seq in 100..300u16 {
        let mut p = rtp(seq, b"x");
        tx.protect_rtp(&mut p).unwrap();
        packets.push(p);
    }
    // Deliver 101.. first, 100 late but within the window.
    for p in &packets[1..] {
        rx.unprotect_rtp(&mut p.clone()).unwrap();
    }
    assert_eq!(
        rx.unprotect_rtp(&mut packets[150].clone()),
        Err(SrtpError::Replayed { index: 250 })
    );
    assert_eq!(
        rx.unprotect_rtp(&mut packets[0].clone()),
        Err(SrtpError::TooOld { index: 100 })
    );
    assert!(rx.unprotect_rtp(&mut packets[199].clone()).is_err());
}

#[test]
fn forged_high_sequence_does_not_move_the_window() {
    let (mut tx, mut rx) = pair();
    let mut first = rtp(10, b"a");
    tx.protect_rtp(&mut first).unwrap();
    rx.unprotect_rtp(&mut first).unwrap();
    let mut forged = rtp(5000, b"zzzzzzzzzzzzzz");
    assert_eq!(
        rx.unprotect_rtp(&mut forged),
        Err(SrtpError::AuthenticationFailed)
    );
    let mut next = rtp(11, b"b");
    tx.protect_rtp(&mut next).unwrap();
    assert!(rx.unprotect_rtp(&mut next).is_ok());
}

#[test]
fn srtcp_round_trip_tamper_and_replay() {
    let (mut tx, mut rx) = pair();
    let plain = hex("81c90007 0000002a 00000000 00000000 00000000 00000000 00000000 00000000");
    let mut a = plain.clone();
    tx.protect_rtcp(&mut a).unwrap();
    assert_eq!(a.len(), plain.len() + 14);
    let mut b = plain.clone();
    tx.protect_rtcp(&mut b).unwrap();
    let n = rx.unprotect_rtcp(&mut a.clone()).unwrap();
    assert_eq!(n, plain.len());
    let mut copy = a.clone();
    rx.unprotect_rtcp(&mut copy).map(|_| ()).unwrap_err();
    let mut c = b.clone();
    c[10] ^= 1;
    assert_eq!(
        rx.unprotect_rtcp(&mut c),
        Err(SrtpError::AuthenticationFailed)
    );
    let n = rx.unprotect_rtcp(&mut b).unwrap();
    assert_eq!(&b[..n], &plain[..]);
}

/// SRTCP with master key and salt all zero, unencrypted (E = 0), index 1, from an independent
/// implementation's test suite.
#[test]
fn srtcp_authenticates_known_unencrypted_packet() {
    let mut rx = SrtpContext::new(
        SrtpProfile::AesCm128HmacSha1_80,
        &MasterKey::new([0; 16], [0; 14]),
    );
    let mut data = hex(
        "80cc000810feff99466c75782105000310feff990000100200001603000000090000000400000001a0573cb69ef3c96e1253",
    );
    let n = rx.unprotect_rtcp(&mut data).unwrap();
    assert_eq!(&data[..4], &hex("80cc0008")[..]);
    assert_eq!(n, data.len() - 14);
}

#[test]
fn wrong_key_length_is_refused() {
    assert_eq!(
        MasterKey::from_bytes(&[0; 29]),
        Err(SrtpError::KeyLength {
            expected: 30,
            actual: 29
        })
    );
    assert_eq!(
        SrtpProfile::from_sdp_name("AES_CM_128_HMAC_SHA1_32"),
        Some(SrtpProfile::AesCm128HmacSha1_32)
    );
    assert_eq!(SrtpProfile::from_sdp_name("AEAD_AES_256_GCM"), None);
}

#[test]
fn receive_state_is_bounded() {
    let key = MasterKey::new([1; 16], [2; 14]);
    let mut tx = SrtpContext::new(SrtpProfile::AesCm128HmacSha1_80, &key);
    let mut rx = SrtpContext::new(SrtpProfile::AesCm128HmacSha1_80, &key);
    for ssrc in 0..100u32 {
        let mut p = rtp(1, b"x");
        p[8..12].copy_from_slice(&ssrc.to_be_bytes());
        tx.protect_rtp(&mut p).unwrap();
        rx.unprotect_rtp(&mut p).unwrap();
    }
    assert_eq!(rx.streams.len(), MAX_STREAMS);
}
