//! An adaptive jitter buffer: `push(packet, now)` as packets arrive, `poll(now)` for what is due.
//!
//! # Model
//! The buffer plays the stream on a clock in RTP timestamp units. A packet with (extended)
//! timestamp `ts` is due when `now >= ts + offset`; `offset` is the smallest transit time seen
//! recently (arrival minus timestamp) plus the playout delay. Everything `poll` hands out covers a
//! span of that clock, so the caller always knows which media time it is producing:
//!
//! - [`Playout::Packet`]: the packet at the playout point, to decode;
//! - [`Playout::Conceal`]: a span with nothing to decode, to conceal (PLC or comfort noise):
//!   a lost packet ([`ConcealReason::Lost`], a later packet is already here), a timestamp jump in
//!   consecutive packets ([`ConcealReason::Silence`], the sender paused), or an empty buffer
//!   ([`ConcealReason::Underrun`]).
//!
//! # Adaptation
//! The playout delay follows a peak-hold of the relative transit delay (transit minus the
//! windowed minimum transit), decaying by 0.5 % per packet, clamped to
//! [`JitterSettings::min_delay`]..[`JitterSettings::max_delay`]. The delay grows when an underrun
//! ends: the first packet after it is played right after what was already concealed, so a delay
//! spike stretches the stream instead of losing the packets that arrive in a burst. While packets
//! flow it grows by inserting concealed spans ([`ConcealReason::Stretch`]) whenever it is a packet
//! or more below target. It shrinks at
//! the same points (a talkspurt after a pause starts at the target delay) and, in a continuous
//! stream, by discarding one packet when the delay has stayed two packets above target for a
//! second (counted in [`JitterStats::discarded`]).
//!
//! Packets behind the playout point are dropped and counted as late, duplicates are dropped,
//! and a packet too far ahead for the buffer's capacity flushes it and restarts playout there.

use std::time::{Duration, Instant};

use types::MediaTime;

use crate::{ClockRate, PayloadType};

mod delay;
mod playout;

use delay::DelayEstimator;

/// Tuning of a [`JitterBuffer`].
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct JitterSettings {
    /// RTP clock of the stream. Default 8000.
    pub clock_rate: ClockRate,
    /// Smallest playout delay. Default 20 ms: one packet of margin.
    pub min_delay: Duration,
    /// Largest playout delay. Default 200 ms.
    pub max_delay: Duration,
    /// Packets the buffer holds, rounded up to a power of two. Default 64 (1.28 s of 20 ms
    /// packets).
    pub capacity: usize,
    /// Packet duration assumed until the stream shows its own. Default 20 ms (RFC 3551 ptime).
    pub packet_duration: Duration,
}

impl Default for JitterSettings {
    fn default() -> Self {
        Self {
            clock_rate: ClockRate::HZ_8000,
            min_delay: Duration::from_millis(20),
            max_delay: Duration::from_millis(200),
            capacity: 64,
            packet_duration: Duration::from_millis(20),
        }
    }
}

/// Why a span has no packet to decode.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum ConcealReason {
    /// The packet for this span is missing while later ones arrived.
    Lost,
    /// Consecutive packets leave a timestamp gap: the sender sent nothing for this span.
    Silence,
    /// The buffer ran empty.
    Underrun,
    /// Inserted before the next packet to raise the playout delay towards its target.
    Stretch,
}

/// What [`JitterBuffer::poll`] hands out, in playout order.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Playout<'a> {
    Packet {
        sequence: u16,
        timestamp: u32,
        payload_type: PayloadType,
        marker: bool,
        payload: &'a [u8],
        /// Media time of the span start, continuous across resynchronizations.
        media_time: MediaTime,
        /// Span covered, in RTP timestamp units.
        duration: u32,
    },
    Conceal {
        /// RTP timestamp of the span start.
        timestamp: u32,
        media_time: MediaTime,
        duration: u32,
        reason: ConcealReason,
    },
}

/// What [`JitterBuffer::push`] did with a packet.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Pushed {
    Buffered,
    /// Behind the playout point: dropped.
    Late,
    Duplicate,
    /// Too far ahead for the buffer, or a timestamp discontinuity: what was buffered was
    /// flushed, playout restarts at this packet.
    Restarted,
}

/// Counters of a [`JitterBuffer`].
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct JitterStats {
    pub pushed: u64,
    pub played: u64,
    pub late: u64,
    pub duplicates: u64,
    /// Packets flushed because one arrived too far ahead, or on resynchronization.
    pub flushed: u64,
    /// Packets dropped to bring the delay back down to the target.
    pub discarded: u64,
    pub concealed_lost: u64,
    pub concealed_silence: u64,
    pub concealed_underrun: u64,
    pub concealed_stretch: u64,
    /// Restarts of playout: [`JitterBuffer::resync`] and overflows.
    pub resyncs: u64,
    /// The delay the buffer aims for.
    pub target_delay: Duration,
    /// The delay it currently plays at (playout offset minus minimum transit).
    pub current_delay: Duration,
}

#[derive(Clone, Debug, Default)]
struct Slot {
    used: bool,
    /// Takes a sequence number but has nothing to play (a telephone-event packet).
    skip: bool,
    seq: i64,
    ts: i64,
    payload_type: u8,
    marker: bool,
    payload: Vec<u8>,
}

#[derive(Clone, Copy, Debug)]
struct Playing {
    next_seq: i64,
    /// Timestamp up to which output has been handed out.
    cursor_ts: i64,
    /// Wall-clock ticks (since the epoch) = timestamp + offset.
    offset: i64,
    /// Ticks handed out since the start: the media time of the cursor.
    media: u64,
    /// Concealing an empty buffer: the next packet re-anchors playout.
    underrun: bool,
    /// Restart from the next packet whatever its sequence number (after [`JitterBuffer::resync`]).
    restart: bool,
    /// Packets emitted in a row with the delay well above target.
    excess_run: u32,
}

/// Adaptive jitter buffer for one RTP stream. See the module documentation.
#[derive(Clone, Debug)]
pub struct JitterBuffer {
    settings: JitterSettings,
    slots: Vec<Slot>,
    buffered: usize,
    epoch: Option<Instant>,
    playing: Option<Playing>,
    packet_ticks: i64,
    /// Timestamp jumps beyond this restart playout (see [`JITTER_JUMP`]).
    jump_ticks: i64,
    last_pushed: Option<(i64, i64)>,
    delay: DelayEstimator,
    stats: JitterStats,
}

/// A timestamp this far from where the sequence number puts it is a discontinuity, not jitter.
pub const JITTER_JUMP: Duration = Duration::from_secs(1);

/// Emitted packets in a row above target before one is discarded: one second of 20 ms packets.
const EXCESS_RUN: u32 = 50;

fn extend(value: i64, reference: i64, bits: u32) -> i64 {
    let modulus = 1i64 << bits;
    let diff = (value - reference).rem_euclid(modulus);
    if diff >= modulus / 2 {
        reference + diff - modulus
    } else {
        reference + diff
    }
}

impl JitterBuffer {
    pub fn new(settings: JitterSettings) -> Self {
        let capacity = settings.capacity.clamp(4, 1024).next_power_of_two();
        let clock = settings.clock_rate;
        let stats = JitterStats {
            target_delay: settings.min_delay,
            ..JitterStats::default()
        };
        Self {
            settings,
            slots: vec![Slot::default(); capacity],
            buffered: 0,
            epoch: None,
            playing: None,
            packet_ticks: clock.ticks(settings.packet_duration).max(1) as i64,
            jump_ticks: clock.ticks(JITTER_JUMP.max(4 * settings.max_delay)) as i64,
            last_pushed: None,
            delay: DelayEstimator::new(
                clock.ticks(settings.min_delay) as i64,
                clock.ticks(settings.max_delay) as i64,
            ),
            stats,
        }
    }

    pub fn settings(&self) -> &JitterSettings {
        &self.settings
    }

    pub fn stats(&self) -> JitterStats {
        let mut s = self.stats;
        let clock = self.settings.clock_rate;
        s.target_delay = clock.duration(self.delay.target() as u64);
        if let Some(p) = &self.playing {
            s.current_delay = clock.duration((p.offset - self.delay.min_transit()).max(0) as u64);
        }
        s
    }

    /// Packets waiting to be played.
    pub fn len(&self) -> usize {
        self.buffered
    }

    pub fn is_empty(&self) -> bool {
        self.buffered == 0
    }

    fn now_ticks(&mut self, now: Instant) -> i64 {
        let epoch = *self.epoch.get_or_insert(now);
        self.settings
            .clock_rate
            .ticks(now.saturating_duration_since(epoch)) as i64
    }

    /// When the next item is due, for the caller's timer. `None` before the first packet.
    pub fn next_due(&self) -> Option<Instant> {
        let (p, epoch) = (self.playing.as_ref()?, self.epoch?);
        let ticks = (p.cursor_ts + p.offset).max(0) as u64;
        Some(epoch + self.settings.clock_rate.duration(ticks))
    }

    /// Buffers an audio (or comfort noise) packet that arrived at `now`.
    pub fn push(
        &mut self,
        sequence: u16,
        timestamp: u32,
        payload_type: PayloadType,
        marker: bool,
        payload: &[u8],
        now: Instant,
    ) -> Pushed {
        self.insert(
            sequence,
            timestamp,
            payload_type.get(),
            marker,
            Some(payload),
            now,
        )
    }

    /// Records that `sequence` was used by a packet with nothing to play (a telephone-event),
    /// so that it is not taken for a loss.
    pub fn push_skip(&mut self, sequence: u16, timestamp: u32, now: Instant) -> Pushed {
        self.insert(sequence, timestamp, 0, false, None, now)
    }

    /// Drops what is buffered and restarts playout at the next packet, keeping media time
    /// continuous: for an SSRC change or a sequence restart (RFC 3550 §A.1).
    pub fn resync(&mut self) {
        self.flush();
        self.last_pushed = None;
        self.delay.restart();
        if let Some(p) = &mut self.playing {
            p.restart = true;
            self.stats.resyncs += 1;
        }
    }

    fn flush(&mut self) {
        for s in &mut self.slots {
            if s.used {
                s.used = false;
                self.stats.flushed += 1;
            }
        }
        self.buffered = 0;
    }

    fn insert(
        &mut self,
        seq: u16,
        ts: u32,
        pt: u8,
        marker: bool,
        payload: Option<&[u8]>,
        now: Instant,
    ) -> Pushed {
        self.stats.pushed += 1;
        let now_u = self.now_ticks(now);
        let (seq, ts) = (i64::from(seq), i64::from(ts));
        let mask = self.slots.len() as i64 - 1;
        let mut p = match self.playing {
            Some(p) => p,
            // The first packet starts playout at the minimum delay.
            None => Playing {
                next_seq: seq,
                cursor_ts: ts,
                offset: now_u - ts + self.delay.target(),
                media: 0,
                underrun: false,
                restart: false,
                excess_run: 0,
            },
        };
        if p.restart {
            // Fresh numbering above everything used so far; media continues at the cursor.
            let wall = p.cursor_ts + p.offset;
            p.next_seq = (p.next_seq & !0xffff) + 0x2_0000 + seq;
            p.cursor_ts = (p.cursor_ts & !0xffff_ffff) + 0x2_0000_0000 + ts;
            p.offset = (wall - p.cursor_ts).max(now_u - p.cursor_ts + self.delay.target());
            p.restart = false;
            p.underrun = false;
        }
        let ext_seq = extend(seq, p.next_seq, 16);
        let ext_ts = extend(ts, p.cursor_ts, 32);
        if payload.is_some() && ext_seq >= p.next_seq && self.is_discontinuity(&p, ext_seq, ext_ts)
        {
            // A new timeline: forget the old transit level, restart playout here.
            self.delay.restart();
            self.last_pushed = None;
            self.restart_at(&mut p, ext_seq, ext_ts, now_u);
        }
        if payload.is_some() {
            self.delay.observe(now_u - ext_ts);
            self.learn_duration(ext_seq, ext_ts, marker);
        }
        let outcome = self.place(&mut p, ext_seq, ext_ts, now_u, payload.is_some());
        if outcome == Pushed::Buffered || outcome == Pushed::Restarted {
            let slot = &mut self.slots[(ext_seq & mask) as usize];
            slot.used = true;
            slot.skip = payload.is_none();
            slot.seq = ext_seq;
            slot.ts = ext_ts;
            slot.payload_type = pt;
            slot.marker = marker;
            slot.payload.clear();
            slot.payload.extend_from_slice(payload.unwrap_or_default());
            self.buffered += 1;
        }
        self.playing = Some(p);
        outcome
    }

    /// Decides where a packet goes; re-anchors playout when an underrun ends or on overflow.
    fn place(
        &mut self,
        p: &mut Playing,
        ext_seq: i64,
        ext_ts: i64,
        now_u: i64,
        media: bool,
    ) -> Pushed {
        let capacity = self.slots.len() as i64;
        if ext_seq < p.next_seq {
            self.stats.late += 1;
            return Pushed::Late;
        }
        if media && p.underrun {
            // The first packet after an underrun plays right after what was concealed, or at
            // the target delay if that is later: the delay adapts here.
            let wall = p.cursor_ts + p.offset;
            p.next_seq = ext_seq;
            p.cursor_ts = ext_ts;
            p.offset = (wall - ext_ts).max(self.delay.min_transit() + self.delay.target());
            p.underrun = false;
            self.drop_before(ext_seq);
            return Pushed::Buffered;
        }
        if media && ext_ts < p.cursor_ts {
            self.stats.late += 1;
            return Pushed::Late;
        }
        if ext_seq >= p.next_seq + capacity {
            self.restart_at(p, ext_seq, ext_ts, now_u);
            return Pushed::Restarted;
        }
        let slot = &self.slots[(ext_seq & (capacity - 1)) as usize];
        if slot.used && slot.seq == ext_seq {
            self.stats.duplicates += 1;
            return Pushed::Duplicate;
        }
        Pushed::Buffered
    }

    /// Whether a packet's timestamp is far from where its sequence number puts it: the sender
    /// jumped its timestamps (a new media source behind the same SSRC, a buggy SBC).
    fn is_discontinuity(&self, p: &Playing, ext_seq: i64, ext_ts: i64) -> bool {
        let expected = p.cursor_ts + (ext_seq - p.next_seq) * self.packet_ticks;
        (ext_ts - expected).abs() > self.jump_ticks
    }

    /// Flushes the buffer and restarts playout at this packet, after what was already handed
    /// out.
    fn restart_at(&mut self, p: &mut Playing, ext_seq: i64, ext_ts: i64, now_u: i64) {
        self.flush();
        self.stats.resyncs += 1;
        let wall = p.cursor_ts + p.offset;
        p.next_seq = ext_seq;
        p.cursor_ts = ext_ts;
        p.offset = (wall - ext_ts).max(now_u - ext_ts + self.delay.target());
        p.underrun = false;
    }

    /// Frees slots of packets before `seq` (skipped by a re-anchor).
    fn drop_before(&mut self, seq: i64) {
        for s in &mut self.slots {
            if s.used && s.seq < seq {
                s.used = false;
                self.buffered -= 1;
                self.stats.flushed += 1;
            }
        }
    }

    /// Learns the packet duration from consecutive packets of a talkspurt.
    fn learn_duration(&mut self, seq: i64, ts: i64, marker: bool) {
        if let Some((prev_seq, prev_ts)) = self.last_pushed {
            let d = ts - prev_ts;
            let clock = self.settings.clock_rate;
            let (lo, hi) = (
                clock.ticks(Duration::from_micros(2_500)) as i64,
                clock.ticks(Duration::from_millis(120)) as i64,
            );
            if seq == prev_seq + 1 && !marker && (lo.max(1)..=hi).contains(&d) {
                self.packet_ticks = d;
            }
        }
        if self.last_pushed.is_none_or(|(s, _)| seq > s) {
            self.last_pushed = Some((seq, ts));
        }
    }
}

#[cfg(test)]
mod tests;
