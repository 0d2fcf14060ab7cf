use super::*;

fn block(ssrc: u32, lost: i32) -> ReportBlock {
    ReportBlock {
        ssrc: Ssrc(ssrc),
        fraction_lost: 25,
        cumulative_lost: lost,
        extended_highest_seq: 0x0001_0005,
        jitter: 80,
        last_sr: 0x1234_5678,
        delay_since_last_sr: 65_536,
    }
}

#[test]
fn compound_sr_sdes_bye_round_trips() {
    let info = SenderInfo {
        ntp: NtpTime(0xe796_981d_7bc3_f811),
        rtp_timestamp: 160,
        packet_count: 3,
        octet_count: 480,
    };
    let mut buf = Vec::new();
    write_sender_report(Ssrc(7), &info, &[block(9, -3)], &mut buf).unwrap();
    write_sdes_cname(Ssrc(7), "attendant@example", &mut buf).unwrap();
    write_bye(&[Ssrc(7)], Some("call ended"), &mut buf).unwrap();
    assert_eq!(buf.len() % 4, 0);
    let all: Vec<_> = packets(&buf).collect::<Result<_, _>>().unwrap();
    assert_eq!(all.len(), 3);
    let RtcpPacket::SenderReport {
        ssrc,
        info: got,
        reports,
    } = all[0]
    else {
        panic!("{:?}", all[0])
    };
    assert_eq!((ssrc, got), (Ssrc(7), info));
    assert_eq!(reports.iter().collect::<Vec<_>>(), vec![block(9, -3)]);
    let RtcpPacket::SourceDescription(sdes) = all[1] else {
        panic!()
    };
    let chunks: Vec<_> = sdes.chunks().collect();
    assert_eq!(
        chunks,
        vec![SdesChunk {
            ssrc: Ssrc(7),
            cname: Some(&b"attendant@example"[..])
        }]
    );
    let RtcpPacket::Bye(bye) = all[2] else {
        panic!()
    };
    assert_eq!(bye.sources().collect::<Vec<_>>(), vec![Ssrc(7)]);
    assert_eq!(bye.reason, Some(&b"call ended"[..]));
}

#[test]
fn receiver_report_blocks_round_trip() {
    let mut buf = Vec::new();
    write_receiver_report(
        Ssrc(1),
        &[block(2, 0x7f_ffff), block(3, -0x80_0000)],
        &mut buf,
    )
    .unwrap();
    let Some(Ok(RtcpPacket::ReceiverReport { ssrc, reports })) = packets(&buf).next() else {
        panic!()
    };
    assert_eq!(ssrc, Ssrc(1));
    let got: Vec<_> = reports.iter().map(|b| b.cumulative_lost).collect();
    assert_eq!(got, vec![0x7f_ffff, -0x80_0000]);
}

#[test]
fn unknown_packet_types_are_skipped_over() {
    // A PLI (RFC 4585 PSFB, PT 206) between an RR and a BYE.
    let mut buf = Vec::new();
    write_receiver_report(Ssrc(1), &[], &mut buf).unwrap();
    buf.extend_from_slice(&[0x81, 206, 0, 2, 0, 0, 0, 1, 0, 0, 0, 2]);
    write_bye(&[Ssrc(1)], None, &mut buf).unwrap();
    let kinds: Vec<_> = packets(&buf)
        .map(|p| match p.unwrap() {
            RtcpPacket::Unknown { packet_type, .. } => packet_type,
            RtcpPacket::ReceiverReport { .. } => PT_RR,
            RtcpPacket::Bye(_) => PT_BYE,
            _ => 0,
        })
        .collect();
    assert_eq!(kinds, vec![PT_RR, 206, PT_BYE]);
}

#[test]
fn report_count_beyond_length_is_truncated_error() {
    // RR claiming 2 blocks with room for none.
    let buf = [0x82, PT_RR, 0, 1, 0, 0, 0, 1];
    assert_eq!(
        packets(&buf).next(),
        Some(Err(RtcpError::Truncated {
            expected: 52,
            actual: 4
        }))
    );
}

#[test]
fn length_beyond_datagram_stops_iteration() {
    let buf = [0x80, PT_RR, 0, 9, 0, 0, 0, 1];
    let all: Vec<_> = packets(&buf).collect();
    assert_eq!(
        all,
        vec![Err(RtcpError::Truncated {
            expected: 40,
            actual: 8
        })]
    );
}

#[test]
fn malformed_sdes_is_rejected() {
    // One chunk whose item length runs past the packet.
    let buf = [0x81, PT_SDES, 0, 2, 0, 0, 0, 1, 1, 200, b'a', 0];
    assert_eq!(
        packets(&buf).next(),
        Some(Err(RtcpError::Sdes { chunk: 0 }))
    );
}

#[test]
fn padding_on_last_packet_is_removed() {
    let buf = [0xa0, PT_RR, 0, 2, 0, 0, 0, 1, 0, 0, 0, 4];
    let Some(Ok(RtcpPacket::ReceiverReport { ssrc, reports })) = packets(&buf).next() else {
        panic!()
    };
    assert_eq!((ssrc, reports.len()), (Ssrc(1), 0));
    let bad = [0xa0, PT_RR, 0, 1, 0, 0, 0, 9];
    assert_eq!(
        packets(&bad).next(),
        Some(Err(RtcpError::Padding {
            padding: 9,
            available: 4
        }))
    );
}

#[test]
fn writers_refuse_oversized_input() {
    let mut out = Vec::new();
    assert_eq!(
        write_receiver_report(Ssrc(1), &[block(1, 0); 32], &mut out),
        Err(RtcpError::TooMany { count: 32 })
    );
    assert_eq!(
        write_sdes_cname(Ssrc(1), &"x".repeat(256), &mut out),
        Err(RtcpError::ItemTooLong { len: 256 })
    );
}

#[test]
fn ntp_middle_bits_and_short_units() {
    let t = NtpTime(0x0001_2345_6789_0000);
    assert_eq!(t.middle32(), 0x2345_6789);
    assert_eq!(short_ntp_to_duration(65_536), Duration::from_secs(1));
    assert_eq!(duration_to_short_ntp(Duration::from_millis(500)), 32_768);
    let unix = NtpTime::from_system_time(SystemTime::UNIX_EPOCH);
    assert_eq!(unix.0 >> 32, NTP_UNIX_OFFSET);
}
