//! The one RTP sender of the run: a single task on a single 20 ms tick sends every live call's
//! packet (a timer per call would cost more than the sends). Impairment happens here, as a
//! network between the caller and the worker would do it: a lost packet is never sent (its
//! sequence number is used), a reordered one is held and sent right after the next, and with
//! jitter each packet leaves up to `jitter_ms` after its tick, from a queue ordered by departure
//! time that the same task drains (one sleep for the whole process).

use std::cmp::Reverse;
use std::collections::BinaryHeap;
use std::net::SocketAddr;
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering::Relaxed};
use std::sync::Arc;
use std::time::{Duration, Instant};

use rtp::{PayloadType, RtpHeader, RtpPacket, Ssrc};
use tokio::net::UdpSocket;
use tokio::sync::mpsc;

use super::content::{Content, SILENCE};
use super::{Shared, FRAME};

/// Beyond this many ticks behind, the pump skips ticks (counted) rather than burst.
const MAX_BURST: u64 = 25;
/// `speak_tick` before the call asked to speak.
pub const NOT_YET: u64 = u64::MAX;

#[derive(Debug, Clone, Copy)]
pub struct Impair {
    /// Fractions 0..1.
    pub loss: f64,
    pub jitter_ms: u32,
    pub reorder: f64,
    pub seed: u64,
}

/// Shared between a call's task and the pump.
#[derive(Debug)]
pub struct Ctl {
    /// The call is over: the pump forgets the stream on its next tick.
    pub stop: AtomicBool,
    /// Script mode: the call asks its utterance to start on this tick.
    pub speak_tick: AtomicU64,
    /// The tick the utterance really started on, and the one its last frame went on.
    pub spoke_tick: AtomicU64,
    pub spoken_end_tick: AtomicU64,
    pub sent: AtomicU64,
    pub lost: AtomicU64,
    pub reordered: AtomicU64,
    pub speech: AtomicU64,
    pub skipped: AtomicU64,
    pub send_errors: AtomicU64,
}

impl Default for Ctl {
    fn default() -> Self {
        let z = || AtomicU64::new(0);
        Self {
            stop: AtomicBool::new(false),
            speak_tick: AtomicU64::new(NOT_YET),
            spoke_tick: AtomicU64::new(NOT_YET),
            spoken_end_tick: AtomicU64::new(NOT_YET),
            sent: z(),
            lost: z(),
            reordered: z(),
            speech: z(),
            skipped: z(),
            send_errors: z(),
        }
    }
}

/// A call's stream as handed to the pump once the call is answered.
#[derive(Debug)]
pub struct Stream {
    pub socket: Arc<UdpSocket>,
    pub dest: SocketAddr,
    pub slot: usize,
    /// Script mode: the fixture this call says.
    pub fixture: Option<usize>,
    pub ssrc: u32,
    pub ctl: Arc<Ctl>,
}

struct Live {
    s: Stream,
    n: u64,
    seq: u16,
    ts: u32,
    held: Option<Vec<u8>>,
    speak_from: Option<u64>,
}

/// A packet waiting for its departure time.
struct Delayed {
    at: Instant,
    order: u64,
    socket: Arc<UdpSocket>,
    dest: SocketAddr,
    ctl: Arc<Ctl>,
    bytes: Vec<u8>,
}

impl PartialEq for Delayed {
    fn eq(&self, o: &Self) -> bool {
        (self.at, self.order) == (o.at, o.order)
    }
}
impl Eq for Delayed {}
impl PartialOrd for Delayed {
    fn partial_cmp(&self, o: &Self) -> Option<std::cmp::Ordering> {
        Some(self.cmp(o))
    }
}
impl Ord for Delayed {
    fn cmp(&self, o: &Self) -> std::cmp::Ordering {
        (self.at, self.order).cmp(&(o.at, o.order))
    }
}

#[derive(Debug, Default)]
pub struct PumpStats {
    /// Lateness of each tick against its due time, µs.
    pub tick_late_us: Vec<u32>,
    pub ticks: u64,
    pub ticks_skipped: u64,
    pub max_streams: usize,
}

/// splitmix64: enough randomness for the impairment, reproducible from `--seed`.
struct Rng(u64);

impl Rng {
    fn next(&mut self) -> u64 {
        self.0 = self.0.wrapping_add(0x9E37_79B9_7F4A_7C15);
        let mut z = self.0;
        z = (z ^ (z >> 30)).wrapping_mul(0xBF58_476D_1CE4_E5B9);
        z = (z ^ (z >> 27)).wrapping_mul(0x94D0_49BB_1331_11EB);
        z ^ (z >> 31)
    }

    fn unit(&mut self) -> f64 {
        (self.next() >> 11) as f64 / (1u64 << 53) as f64
    }
}

/// Runs until every call slot is done (the channel closed) and every stream has stopped.
pub async fn run(shared: Arc<Shared>, mut rx: mpsc::UnboundedReceiver<Stream>) -> PumpStats {
    let mut stats = PumpStats::default();
    let mut rng = Rng(shared.impair.seed);
    let mut live: Vec<Live> = Vec::new();
    let mut queue: BinaryHeap<Reverse<Delayed>> = BinaryHeap::new();
    let mut order = 0u64;
    let mut open = true;
    let mut next_tick = 0u64;
    let mut packet = Vec::with_capacity(12 + 160);
    loop {
        let due = shared.t0 + FRAME * u32::try_from(next_tick).unwrap_or(u32::MAX);
        let wake = queue.peek().map_or(due, |Reverse(d)| d.at.min(due));
        tokio::select! {
            biased;
            s = rx.recv(), if open => match s {
                Some(s) => live.push(Live { s, n: 0, seq: 0, ts: 0, held: None, speak_from: None }),
                None => open = false,
            },
            () = tokio::time::sleep_until(wake.into()) => {}
        }
        if !open && live.is_empty() && queue.is_empty() {
            break;
        }
        let now = Instant::now();
        if now < shared.t0 {
            continue;
        }
        while queue.peek().is_some_and(|Reverse(d)| d.at <= now) {
            if let Some(Reverse(d)) = queue.pop() {
                send(&d.socket, d.dest, &d.ctl, &d.bytes);
            }
        }
        // Every tick now due; a stall longer than MAX_BURST ticks is skipped, not burst.
        let behind = (now.saturating_duration_since(shared.t0).as_millis() / FRAME.as_millis()) as u64;
        if behind < next_tick {
            continue;
        }
        if behind - next_tick > MAX_BURST {
            let skip = behind - next_tick - MAX_BURST;
            stats.ticks_skipped += skip;
            for l in &mut live {
                l.n += skip;
                l.ts = l.ts.wrapping_add(160 * skip as u32);
                l.s.ctl.skipped.fetch_add(skip, Relaxed);
            }
            next_tick += skip;
        }
        while next_tick <= behind {
            let due = shared.t0 + FRAME * u32::try_from(next_tick).unwrap_or(u32::MAX);
            stats.tick_late_us.push(u32::try_from(now.saturating_duration_since(due).as_micros()).unwrap_or(u32::MAX));
            stats.ticks += 1;
            live.retain(|l| !l.s.ctl.stop.load(Relaxed));
            stats.max_streams = stats.max_streams.max(live.len());
            for l in &mut live {
                tick(&shared, l, next_tick, due, &mut rng, &mut packet, &mut queue, &mut order);
            }
            next_tick += 1;
        }
    }
    stats
}

/// One stream's packet of tick `tick`.
#[allow(clippy::too_many_arguments)]
fn tick(shared: &Shared, l: &mut Live, tick: u64, due: Instant, rng: &mut Rng, packet: &mut Vec<u8>, queue: &mut BinaryHeap<Reverse<Delayed>>, order: &mut u64) {
    let ctl = Arc::clone(&l.s.ctl);
    let frame = match (&shared.content, l.s.fixture) {
        (Content::Duty(d), _) => d.frame(l.s.slot, l.n),
        (Content::Script(fixtures), Some(i)) => {
            let asked = ctl.speak_tick.load(Relaxed);
            if l.speak_from.is_none() && asked != NOT_YET {
                let from = asked.max(tick);
                l.speak_from = Some(from);
                ctl.spoke_tick.store(from, Relaxed);
            }
            let frames = &fixtures[i % fixtures.len()].frames;
            match l.speak_from {
                Some(from) if tick >= from => {
                    let at = (tick - from) as usize;
                    if at + 1 == frames.len() {
                        ctl.spoken_end_tick.store(tick, Relaxed);
                    }
                    frames.get(at)
                }
                _ => None,
            }
        }
        (Content::Script(_), None) => None,
    };
    if frame.is_some() {
        ctl.speech.fetch_add(1, Relaxed);
    }
    let mut header = RtpHeader::new(PayloadType::PCMU, l.seq, l.ts, Ssrc(l.s.ssrc));
    header.marker = l.n == 0;
    packet.clear();
    RtpPacket::write(&header, frame.unwrap_or(&SILENCE), packet);
    l.seq = l.seq.wrapping_add(1);
    l.ts = l.ts.wrapping_add(160);
    l.n += 1;
    let imp = shared.impair;
    if imp.loss > 0.0 && rng.unit() < imp.loss {
        ctl.lost.fetch_add(1, Relaxed);
        return;
    }
    let mut out: Vec<Vec<u8>> = Vec::with_capacity(2);
    if let Some(held) = l.held.take() {
        out.push(packet.clone());
        out.push(held);
    } else if imp.reorder > 0.0 && rng.unit() < imp.reorder {
        ctl.reordered.fetch_add(1, Relaxed);
        l.held = Some(packet.clone());
        return;
    } else if imp.jitter_ms == 0 {
        send(&l.s.socket, l.s.dest, &ctl, packet);
        return;
    } else {
        out.push(packet.clone());
    }
    let delay = if imp.jitter_ms == 0 { Duration::ZERO } else { Duration::from_micros(rng.next() % (u64::from(imp.jitter_ms) * 1000)) };
    for bytes in out {
        if delay.is_zero() {
            send(&l.s.socket, l.s.dest, &ctl, &bytes);
        } else {
            *order += 1;
            queue.push(Reverse(Delayed { at: due + delay, order: *order, socket: Arc::clone(&l.s.socket), dest: l.s.dest, ctl: Arc::clone(&ctl), bytes }));
        }
    }
}

fn send(socket: &UdpSocket, dest: SocketAddr, ctl: &Ctl, bytes: &[u8]) {
    if ctl.stop.load(Relaxed) {
        return;
    }
    match socket.try_send_to(bytes, dest) {
        Ok(_) => ctl.sent.fetch_add(1, Relaxed),
        Err(_) => ctl.send_errors.fetch_add(1, Relaxed),
    };
}
