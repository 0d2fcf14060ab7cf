use super::*;

fn report(event: u8, end: bool, duration: u16) -> [u8; 4] {
    EventReport {
        event,
        end,
        volume: 10,
        duration,
    }
    .to_bytes()
}

fn drain(rx: &mut DtmfReceiver) -> Vec<DtmfEvent> {
    std::iter::from_fn(|| rx.poll_event()).collect()
}

#[test]
fn keys_map_to_characters_both_ways() {
    let all = "0123456789*#ABCD!";
    for (code, c) in all.chars().enumerate() {
        let k = DtmfKey::from_event(code as u8).unwrap();
        assert_eq!(k.as_char(), c);
        assert_eq!(DtmfKey::from_char(c), Some(k));
    }
    assert_eq!(DtmfKey::from_event(17), None);
    assert_eq!(DtmfKey::from_char('x'), None);
}

#[test]
fn one_press_is_one_digit_despite_repeats() {
    let mut rx = DtmfReceiver::new();
    let ts = 8000;
    for d in [160u16, 320, 480, 640] {
        rx.receive(ts, d == 160, &report(5, false, d)).unwrap();
    }
    for _ in 0..END_REPEATS {
        rx.receive(ts, false, &report(5, true, 800)).unwrap();
    }
    // A late retransmission of the first packet.
    rx.receive(ts, true, &report(5, false, 160)).unwrap();
    let key = DtmfKey::from_char('5').unwrap();
    assert_eq!(
        drain(&mut rx),
        vec![
            DtmfEvent::Started { key, timestamp: ts },
            DtmfEvent::Ended {
                key,
                timestamp: ts,
                duration: 800
            }
        ]
    );
}

#[test]
fn same_digit_twice_is_two_events() {
    let mut rx = DtmfReceiver::new();
    rx.receive(100, true, &report(1, true, 800)).unwrap();
    rx.receive(2000, true, &report(1, true, 800)).unwrap();
    let starts = drain(&mut rx)
        .into_iter()
        .filter(|e| matches!(e, DtmfEvent::Started { .. }))
        .count();
    assert_eq!(starts, 2);
}

#[test]
fn lost_first_packets_still_report_the_key() {
    let mut rx = DtmfReceiver::new();
    rx.receive(500, false, &report(11, true, 960)).unwrap();
    rx.receive(500, false, &report(11, true, 960)).unwrap();
    let key = DtmfKey::from_char('#').unwrap();
    assert_eq!(
        drain(&mut rx),
        vec![
            DtmfEvent::Started {
                key,
                timestamp: 500
            },
            DtmfEvent::Ended {
                key,
                timestamp: 500,
                duration: 960
            }
        ]
    );
}

#[test]
fn missing_end_is_implied_by_next_event() {
    let mut rx = DtmfReceiver::new();
    rx.receive(0, true, &report(1, false, 320)).unwrap();
    rx.receive(4000, true, &report(2, false, 160)).unwrap();
    let e = drain(&mut rx);
    assert_eq!(
        e[1],
        DtmfEvent::Ended {
            key: DtmfKey(1),
            timestamp: 0,
            duration: 320
        }
    );
    assert_eq!(
        e[2],
        DtmfEvent::Started {
            key: DtmfKey(2),
            timestamp: 4000
        }
    );
}

#[test]
fn stale_event_after_newer_one_is_ignored() {
    let mut rx = DtmfReceiver::new();
    rx.receive(4000, true, &report(2, true, 160)).unwrap();
    drain(&mut rx);
    rx.receive(100, false, &report(1, true, 160)).unwrap();
    assert_eq!(drain(&mut rx), vec![]);
}

#[test]
fn long_event_segments_are_one_press() {
    let mut rx = DtmfReceiver::new();
    rx.receive(u32::MAX - 100, true, &report(0, false, 0xffff))
        .unwrap();
    let next = (u32::MAX - 100).wrapping_add(0xffff);
    rx.receive(next, false, &report(0, false, 800)).unwrap();
    rx.receive(next, false, &report(0, true, 1600)).unwrap();
    let e = drain(&mut rx);
    assert_eq!(e.len(), 2, "{e:?}");
    assert_eq!(
        e[1],
        DtmfEvent::Ended {
            key: DtmfKey(0),
            timestamp: u32::MAX - 100,
            duration: 0xffff + 1600
        }
    );
}

#[test]
fn malformed_and_unsupported_payloads_are_errors() {
    let mut rx = DtmfReceiver::new();
    assert_eq!(
        rx.receive(0, true, &[1, 2, 3]),
        Err(DtmfError::Truncated { actual: 3 })
    );
    assert_eq!(
        rx.receive(0, true, &report(32, false, 0)),
        Err(DtmfError::UnsupportedEvent(32))
    );
    assert_eq!(drain(&mut rx), vec![]);
}

#[test]
fn sender_grows_duration_marks_first_and_repeats_end_three_times() {
    let mut tx = DtmfSender::new(DtmfKey::from_char('9').unwrap(), 800, 160);
    let packets: Vec<_> = std::iter::from_fn(|| tx.next_packet()).collect();
    assert_eq!(packets.len(), 5 + 2);
    let reports: Vec<_> = packets
        .iter()
        .map(|p| EventReport::parse(&p.payload).unwrap())
        .collect();
    let durations: Vec<u16> = reports.iter().map(|r| r.duration).collect();
    assert_eq!(durations, vec![160, 320, 480, 640, 800, 800, 800]);
    assert_eq!(packets.iter().filter(|p| p.marker).count(), 1);
    assert!(packets[0].marker);
    assert_eq!(reports.iter().filter(|r| r.end).count(), 3);
    assert!(reports.iter().all(|r| r.event == 9 && r.volume == 10));
    assert!(tx.is_done());
}

#[test]
fn sender_output_is_received_as_one_digit() {
    let mut tx = DtmfSender::new(DtmfKey::FLASH, 500, 160);
    let mut rx = DtmfReceiver::new();
    while let Some(p) = tx.next_packet() {
        rx.receive(1234, p.marker, &p.payload).unwrap();
    }
    assert_eq!(
        drain(&mut rx),
        vec![
            DtmfEvent::Started {
                key: DtmfKey::FLASH,
                timestamp: 1234
            },
            DtmfEvent::Ended {
                key: DtmfKey::FLASH,
                timestamp: 1234,
                duration: 640
            }
        ]
    );
}
