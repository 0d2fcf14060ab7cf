//! RFC 3264 answers to trunk-style offers: codec choice by the offerer's preference,
//! telephone-event, direction, SDES crypto, rejected streams.
#![allow(clippy::unwrap_used)]

use attendant_sip::sdp::{self, answer, AnswerError, Codec, CryptoSuite, Direction, LocalMedia};

const KEY: [u8; 30] = [0x42; 30];

fn local() -> LocalMedia {
    let mut l = LocalMedia::new("192.0.2.1".parse().unwrap(), 40000);
    l.srtp_key = Some(KEY);
    l
}

fn offer(media: &str) -> sdp::SessionDescription {
    let text = format!("v=0\r\no=sbc 1000 1 IN IP4 198.51.100.7\r\ns=-\r\nc=IN IP4 198.51.100.7\r\nt=0 0\r\n{media}");
    sdp::parse(text.as_bytes()).expect("offer parses")
}

/// A Direct Routing style offer: SRTP, SILK/G.722/G.711, telephone-event 101, CN 13, rtcp-mux.
const TEAMS: &str = "m=audio 52000 RTP/SAVP 104 9 103 111 18 0 8 97 101 13 118\r\n\
    a=rtcp:52001\r\n\
    a=crypto:1 AES_CM_128_HMAC_SHA1_80 inline:PS1uQCVeeCFCanVmcjkpPywjNWhcYD0mXXtxaVBR|2^31|1:1\r\n\
    a=crypto:2 AES_CM_128_HMAC_SHA1_32 inline:PS1uQCVeeCFCanVmcjkpPywjNWhcYD0mXXtxaVBR|2^31\r\n\
    a=rtcp-mux\r\na=rtpmap:104 SILK/16000\r\na=rtpmap:9 G722/8000\r\na=rtpmap:103 SILK/8000\r\n\
    a=rtpmap:111 SIREN/16000\r\na=rtpmap:18 G729/8000\r\na=rtpmap:0 PCMU/8000\r\n\
    a=rtpmap:8 PCMA/8000\r\na=rtpmap:97 RED/8000\r\na=rtpmap:101 telephone-event/8000\r\n\
    a=fmtp:101 0-16\r\na=rtpmap:13 CN/8000\r\na=ptime:20\r\n";

#[test]
fn offerers_most_preferred_supported_codec_wins() {
    let a = answer(&offer(TEAMS), &local()).unwrap();
    let n = &a.negotiated;
    assert_eq!((n.codec.codec, n.codec.payload_type, n.codec.clock_rate), (Codec::G722, 9, 8000));
    assert_eq!(n.telephone_event, Some(101));
    assert_eq!(a.sdp.media[0].formats, vec!["9", "101"]);
    assert!(n.rtcp_mux);
    assert_eq!(n.remote_rtp, Some("198.51.100.7:52000".parse().unwrap()));
    assert_eq!(n.remote_rtcp, n.remote_rtp, "rtcp-mux sends RTCP to the RTP port");
}

#[test]
fn sdes_crypto_is_chosen_from_the_offer_and_keys_decoded() {
    let a = answer(&offer(TEAMS), &local()).unwrap();
    let srtp = a.negotiated.srtp.as_ref().expect("SRTP negotiated");
    assert_eq!(srtp.suite, CryptoSuite::AesCm128HmacSha1_80);
    assert_eq!(srtp.remote.tag, 1);
    assert_eq!(srtp.remote.key_salt.len(), 30);
    assert_eq!(srtp.local.key_salt, KEY.to_vec());
    let m = &a.sdp.media[0];
    assert_eq!(m.protocol, "RTP/SAVP");
    let ours = m.cryptos();
    assert_eq!(ours.len(), 1);
    let ours = ours[0].as_ref().unwrap();
    assert_eq!((ours.tag, ours.key_salt.as_slice()), (1, &KEY[..]));
}

#[test]
fn unsupported_first_crypto_suite_is_skipped() {
    let media = "m=audio 5000 RTP/SAVP 0\r\n\
        a=crypto:1 AES_256_CM_HMAC_SHA1_80 inline:AAAA\r\n\
        a=crypto:2 AES_CM_128_HMAC_SHA1_32 inline:PS1uQCVeeCFCanVmcjkpPywjNWhcYD0mXXtxaVBR\r\n";
    let a = answer(&offer(media), &local()).unwrap();
    let srtp = a.negotiated.srtp.unwrap();
    assert_eq!((srtp.remote.tag, srtp.suite), (2, CryptoSuite::AesCm128HmacSha1_32));
}

#[test]
fn srtp_without_usable_crypto_or_local_key_is_not_acceptable() {
    let media = "m=audio 5000 RTP/SAVP 0\r\na=crypto:1 AES_256_CM_HMAC_SHA1_80 inline:AAAA\r\n";
    let e = answer(&offer(media), &local()).unwrap_err();
    assert_eq!(e, AnswerError::NoCommonCrypto);
    assert_eq!(e.status().0, 488);
    let mut plain = local();
    plain.srtp_key = None;
    assert_eq!(answer(&offer(TEAMS), &plain).unwrap_err(), AnswerError::MissingLocalKey);
}

#[test]
fn plain_rtp_offer_gets_plain_rtp_answer() {
    let media = "m=audio 49170 RTP/AVP 8 0 101\r\na=rtpmap:101 telephone-event/8000\r\n";
    let a = answer(&offer(media), &local()).unwrap();
    assert_eq!(a.negotiated.codec.codec, Codec::Pcma, "static PT 8 without rtpmap");
    assert!(a.negotiated.srtp.is_none());
    assert_eq!(a.sdp.media[0].protocol, "RTP/AVP");
    assert!(a.sdp.media[0].cryptos().is_empty());
    assert_eq!(a.negotiated.remote_rtcp, Some("198.51.100.7:49171".parse().unwrap()));
    assert_eq!(a.sdp.media[0].fmtp(101), Some("0-16"));
}

#[test]
fn opus_keeps_the_dynamic_payload_type_and_fmtp() {
    let media = "m=audio 49170 RTP/AVP 111 0 110\r\na=rtpmap:111 opus/48000/2\r\n\
        a=fmtp:111 minptime=10;useinbandfec=1\r\na=rtpmap:110 telephone-event/48000\r\n";
    let a = answer(&offer(media), &local()).unwrap();
    let c = &a.negotiated.codec;
    assert_eq!((c.codec, c.payload_type, c.clock_rate, c.channels), (Codec::Opus, 111, 48000, 2));
    assert_eq!(a.negotiated.telephone_event, Some(110));
    let m = &a.sdp.media[0];
    assert_eq!(m.rtpmap(111).unwrap().channels, Some(2));
    assert_eq!(m.fmtp(111), Some("minptime=10;useinbandfec=1"));
}

#[test]
fn only_codecs_we_enabled_are_chosen() {
    let mut l = local();
    l.codecs = vec![Codec::Pcmu];
    let a = answer(&offer("m=audio 1 RTP/AVP 8 9 0\r\n"), &l).unwrap();
    assert_eq!(a.negotiated.codec.codec, Codec::Pcmu);
}

#[test]
fn no_common_codec_is_488() {
    let e = answer(&offer("m=audio 5000 RTP/AVP 18\r\na=rtpmap:18 G729/8000\r\n"), &local())
        .unwrap_err();
    assert_eq!(e, AnswerError::NoCommonCodec);
    assert_eq!(e.status().0, 488);
    assert_eq!(
        answer(&offer("m=video 5000 RTP/AVP 31\r\n"), &local()).unwrap_err(),
        AnswerError::NoAudio
    );
}

#[test]
fn direction_is_mirrored_per_rfc3264() {
    for (offered, answered) in [
        ("a=sendrecv\r\n", Direction::SendRecv),
        ("a=sendonly\r\n", Direction::RecvOnly),
        ("a=recvonly\r\n", Direction::SendOnly),
        ("a=inactive\r\n", Direction::Inactive),
        ("", Direction::SendRecv),
    ] {
        let a = answer(&offer(&format!("m=audio 5000 RTP/AVP 0\r\n{offered}")), &local()).unwrap();
        assert_eq!(a.negotiated.direction, answered, "{offered}");
        assert_eq!(a.sdp.direction(0), answered);
    }
    // Session-level direction applies to every stream.
    let text = "v=0\r\no=- 1 1 IN IP4 198.51.100.7\r\ns=-\r\nc=IN IP4 198.51.100.7\r\nt=0 0\r\na=inactive\r\nm=audio 5000 RTP/AVP 0\r\n";
    let a = answer(&sdp::parse(text.as_bytes()).unwrap(), &local()).unwrap();
    assert_eq!(a.negotiated.direction, Direction::Inactive);
}

#[test]
fn old_style_hold_with_zero_address_stops_our_sending() {
    let text = "v=0\r\no=- 1 2 IN IP4 198.51.100.7\r\ns=-\r\nc=IN IP4 0.0.0.0\r\nt=0 0\r\nm=audio 5000 RTP/AVP 0\r\n";
    let a = answer(&sdp::parse(text.as_bytes()).unwrap(), &local()).unwrap();
    assert_eq!(a.negotiated.remote_rtp, None);
    assert!(!a.negotiated.direction.sends());
}

#[test]
fn other_streams_are_rejected_with_port_zero() {
    let media = "m=video 6000 RTP/AVP 31\r\nm=audio 5000 RTP/AVP 0\r\nm=audio 5002 RTP/AVP 0\r\n";
    let a = answer(&offer(media), &local()).unwrap();
    let ports: Vec<u16> = a.sdp.media.iter().map(|m| m.port).collect();
    assert_eq!(ports, vec![0, 40000, 0]);
    assert_eq!(a.negotiated.media_index, 1);
    assert_eq!(a.sdp.media[0].media, "video");
}

#[test]
fn answer_serializes_to_valid_sdp_with_our_address() {
    let mut l = local();
    l.session_version = 7;
    let a = answer(&offer(TEAMS), &l).unwrap();
    let text = String::from_utf8(a.sdp.to_bytes()).unwrap();
    assert!(
        text.starts_with(
            "v=0\r\no=- 1 7 IN IP4 192.0.2.1\r\ns=-\r\nc=IN IP4 192.0.2.1\r\nt=0 0\r\n"
        ),
        "{text}"
    );
    assert!(text.contains("m=audio 40000 RTP/SAVP 9 101\r\n"));
    assert!(text.contains("a=ptime:20\r\n"));
    assert!(text.contains("a=sendrecv\r\n"));
    assert_eq!(sdp::parse(text.as_bytes()).unwrap(), a.sdp);
}
