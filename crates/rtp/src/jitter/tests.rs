use super::*;

const PT: PayloadType = PayloadType::PCMU;

#[derive(Debug, PartialEq, Eq)]
enum Out {
    P(u16),
    C(ConcealReason, u32),
}

struct Sim {
    jb: JitterBuffer,
    t0: Instant,
}

impl Sim {
    fn new() -> Self {
        Self {
            jb: JitterBuffer::new(JitterSettings::default()),
            t0: Instant::now(),
        }
    }

    fn at(&self, ms: u64) -> Instant {
        self.t0 + Duration::from_millis(ms)
    }

    fn push(&mut self, seq: u16, ts: u32, ms: u64) -> Pushed {
        let now = self.at(ms);
        self.jb.push(seq, ts, PT, false, &seq.to_be_bytes(), now)
    }

    fn poll(&mut self, ms: u64) -> Vec<Out> {
        let now = self.at(ms);
        let mut out = Vec::new();
        while let Some(item) = self.jb.poll(now) {
            out.push(match item {
                Playout::Packet {
                    sequence, payload, ..
                } => {
                    assert_eq!(payload, &sequence.to_be_bytes());
                    Out::P(sequence)
                }
                Playout::Conceal {
                    reason, duration, ..
                } => Out::C(reason, duration),
            });
            assert!(out.len() < 10_000, "poll does not terminate");
        }
        out
    }

    /// Sends seq `first..first+n` every 20 ms with `delay(i)` ms of network delay, polling every
    /// 20 ms (offset by 1 ms); returns everything played.
    fn stream(
        &mut self,
        first: u16,
        ts0: u32,
        n: u16,
        start_ms: u64,
        delay: impl Fn(u16) -> u64,
    ) -> Vec<Out> {
        let mut arrivals: Vec<(u64, u16)> = (0..n)
            .map(|i| (start_ms + 20 * u64::from(i) + delay(i), i))
            .collect();
        arrivals.sort();
        let end = arrivals.last().map_or(start_ms, |a| a.0) + 400;
        let mut out = Vec::new();
        let mut next = arrivals.into_iter().peekable();
        let mut t = start_ms;
        while t <= end {
            while let Some(&(at, i)) = next.peek() {
                if at > t {
                    break;
                }
                self.push(
                    first.wrapping_add(i),
                    ts0.wrapping_add(160 * u32::from(i)),
                    at,
                );
                next.next();
            }
            out.extend(self.poll(t));
            t += 1;
        }
        out
    }
}

fn packets(out: &[Out]) -> Vec<u16> {
    out.iter()
        .filter_map(|o| if let Out::P(s) = o { Some(*s) } else { None })
        .collect()
}

#[test]
fn first_packet_plays_after_minimum_delay() {
    let mut s = Sim::new();
    assert_eq!(s.poll(0), vec![]);
    s.push(10, 1600, 0);
    assert_eq!(s.poll(19), vec![]);
    assert_eq!(s.poll(20), vec![Out::P(10)]);
    assert_eq!(s.jb.next_due(), Some(s.at(40)));
}

#[test]
fn steady_stream_plays_every_packet_in_order() {
    let mut s = Sim::new();
    let out = s.stream(1000, 0, 100, 0, |_| 0);
    assert_eq!(packets(&out), (1000..1100).collect::<Vec<_>>());
    assert_eq!(s.jb.stats().late, 0);
    assert_eq!(s.jb.stats().target_delay, Duration::from_millis(20));
}

#[test]
fn reordered_packets_play_in_sequence() {
    let mut s = Sim::new();
    // Every fifth packet overtakes its predecessor by 15 ms (within the 20 ms delay).
    let out = s.stream(0, 0, 50, 0, |i| if i % 5 == 3 { 15 } else { 0 });
    assert_eq!(packets(&out), (0..50).collect::<Vec<_>>());
    assert_eq!(s.jb.stats().late, 0);
}

#[test]
fn duplicates_are_dropped_and_counted() {
    let mut s = Sim::new();
    assert_eq!(s.push(1, 160, 0), Pushed::Buffered);
    assert_eq!(s.push(2, 320, 20), Pushed::Buffered);
    assert_eq!(s.push(2, 320, 21), Pushed::Duplicate);
    assert_eq!(s.poll(45), vec![Out::P(1), Out::P(2)]);
    assert_eq!(
        s.push(1, 160, 46),
        Pushed::Late,
        "a duplicate of a played packet is late"
    );
    assert_eq!(s.jb.stats().duplicates, 1);
}

#[test]
fn lost_packet_is_concealed_at_its_playout_time() {
    let mut s = Sim::new();
    s.push(1, 160, 0);
    s.push(3, 480, 40);
    assert_eq!(s.poll(20), vec![Out::P(1)]);
    assert_eq!(s.poll(39), vec![]);
    assert_eq!(s.poll(40), vec![Out::C(ConcealReason::Lost, 160)]);
    assert_eq!(s.poll(60), vec![Out::P(3)]);
    // The lost packet shows up after its slot was concealed: late.
    assert_eq!(s.push(2, 320, 61), Pushed::Late);
    let st = s.jb.stats();
    assert_eq!((st.late, st.concealed_lost, st.played), (1, 1, 2));
}

/// Network delay of packet `i` when the path stalls for 120 ms at packet 50.
fn spike(i: u16) -> u64 {
    if (50..=55).contains(&i) {
        120 - 20 * u64::from(i - 50)
    } else {
        0
    }
}

#[test]
fn delay_spike_stretches_playout_instead_of_dropping_the_burst() {
    let mut s = Sim::new();
    // The network stalls 120 ms at packet 50; 50..=55 then arrive in a burst, in order.
    let out = s.stream(0, 0, 150, 0, spike);
    let played = packets(&out);
    assert_eq!(played, (0..150).collect::<Vec<_>>(), "nothing lost");
    let st = s.jb.stats();
    assert!(st.concealed_underrun > 0);
    assert!(
        st.target_delay > Duration::from_millis(40),
        "{:?}",
        st.target_delay
    );
    assert_eq!(st.late, 0);
}

#[test]
fn delay_comes_back_down_after_the_spike() {
    let mut s = Sim::new();
    s.stream(0, 0, 1500, 0, spike);
    let st = s.jb.stats();
    assert!(st.discarded > 0);
    assert!(st.current_delay <= Duration::from_millis(60), "{st:?}");
}

#[test]
fn jittery_stream_raises_target_within_bounds() {
    let mut s = Sim::new();
    let out = s.stream(0, 0, 300, 0, |i| u64::from(i * 37 % 7) * 10);
    let st = s.jb.stats();
    assert!(
        st.target_delay >= Duration::from_millis(50)
            && st.target_delay <= Duration::from_millis(200),
        "{st:?}"
    );
    // Once adapted, nothing is late any more.
    assert!(st.late <= 3, "{st:?}");
    assert!(packets(&out).len() >= 290);
}

#[test]
fn sequence_and_timestamp_wrap_around() {
    let mut s = Sim::new();
    let out = s.stream(65_500, u32::MAX - 160 * 10, 100, 0, |i| {
        if i % 7 == 1 {
            10
        } else {
            0
        }
    });
    let expect: Vec<u16> = (0..100u16).map(|i| 65_500u16.wrapping_add(i)).collect();
    assert_eq!(packets(&out), expect);
    assert_eq!(s.jb.stats().concealed_lost, 0);
}

#[test]
fn silence_gap_between_consecutive_packets_is_concealed_as_silence() {
    let mut s = Sim::new();
    s.push(1, 0, 0);
    s.jb.push(2, 160 * 4, PT, true, &2u16.to_be_bytes(), s.at(75));
    let out = s.poll(100);
    assert_eq!(out[0], Out::P(1));
    assert_eq!(
        out[1..],
        [
            Out::C(ConcealReason::Silence, 160),
            Out::C(ConcealReason::Silence, 160),
            Out::C(ConcealReason::Silence, 160),
            Out::P(2)
        ]
    );
}

#[test]
fn telephone_event_sequence_numbers_are_not_losses() {
    let mut s = Sim::new();
    s.push(1, 0, 0);
    s.jb.push_skip(2, 160, s.at(20));
    s.jb.push_skip(3, 160, s.at(40));
    s.push(4, 480, 60);
    let out = s.poll(200);
    assert_eq!(packets(&out), vec![1, 4]);
    assert_eq!(s.jb.stats().concealed_lost, 0);
}

#[test]
fn packet_far_ahead_flushes_and_restarts() {
    let mut s = Sim::new();
    s.push(1, 0, 0);
    s.push(2, 160, 20);
    assert_eq!(s.push(2 + 500, 160 * 501, 40), Pushed::Restarted);
    let st = s.jb.stats();
    assert_eq!((st.resyncs, st.flushed), (1, 2));
    assert_eq!(packets(&s.poll(100)), vec![502]);
}

#[test]
fn timestamp_jump_in_sequence_restarts_playout_instead_of_muting() {
    for jump in [3_600u32 * 8000, 0u32.wrapping_sub(3_600 * 8000)] {
        let mut s = Sim::new();
        let mut out = s.stream(0, 0, 20, 0, |_| 0);
        // Same SSRC, next sequence numbers, timestamps an hour away.
        out.extend(s.stream(20, 20 * 160 + jump, 20, 400, |_| 0));
        assert_eq!(packets(&out), (0..40).collect::<Vec<_>>(), "jump {jump}");
        assert_eq!(s.jb.stats().resyncs, 1);
        assert!(s.jb.stats().target_delay < Duration::from_millis(40));
    }
}

#[test]
fn resync_keeps_media_time_continuous() {
    let mut s = Sim::new();
    s.stream(0, 0, 10, 0, |_| 0);
    s.jb.resync();
    // A new source with unrelated numbering.
    s.push(40_000, 3_000_000_000, 700);
    let mut times = Vec::new();
    while let Some(item) = s.jb.poll(s.at(760)) {
        if let Playout::Packet {
            sequence,
            media_time,
            ..
        } = item
        {
            times.push((sequence, media_time));
        }
    }
    assert_eq!(times.len(), 1);
    assert_eq!(times[0].0, 40_000);
    assert!(
        times[0].1 >= MediaTime::from_millis(200),
        "{:?}",
        times[0].1
    );
    assert_eq!(s.jb.stats().resyncs, 1);
}

#[test]
fn packet_duration_is_learned_from_the_stream() {
    let mut s = Sim::new();
    for i in 0..5u16 {
        s.push(i, u32::from(i) * 240, u64::from(i) * 30);
    }
    s.push(6, 6 * 240, 180);
    let out = s.poll(400);
    assert!(out.contains(&Out::C(ConcealReason::Lost, 240)), "{out:?}");
}

#[test]
fn long_silence_from_the_caller_does_not_flood_conceals() {
    let mut s = Sim::new();
    s.push(1, 0, 0);
    let out = s.poll(3_600_000);
    assert!(out.len() < 20, "{}", out.len());
}

#[test]
fn capacity_is_bounded() {
    let mut s = Sim::new();
    for i in 0..10_000u16 {
        s.push(i, u32::from(i) * 160, 0);
    }
    assert!(s.jb.len() <= 64);
}
