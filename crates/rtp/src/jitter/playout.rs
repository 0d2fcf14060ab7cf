//! The playout half of [`JitterBuffer`]: what is due, and what fills the spans without packets.

use std::time::Instant;

use types::MediaTime;

use super::{ConcealReason, JitterBuffer, Playing, Playout, EXCESS_RUN};
use crate::PayloadType;

impl JitterBuffer {
    /// The next item due at `now`, if any. Call until `None`.
    pub fn poll(&mut self, now: Instant) -> Option<Playout<'_>> {
        let now_u = self.now_ticks(now);
        let mut p = self.playing?;
        let mask = self.slots.len() as i64 - 1;
        let clock = self.settings.clock_rate;
        let to_media =
            |ticks: u64| MediaTime::from_micros(clock.duration(ticks).as_micros() as u64);
        let max_ticks = clock.ticks(self.settings.max_delay) as i64;
        loop {
            if p.restart {
                return None;
            }
            let due = p.cursor_ts + p.offset <= now_u;
            if due
                && self.buffered > 0
                && self.delay.min_transit() + self.delay.target() - p.offset >= self.packet_ticks
            {
                // Below target while packets wait: insert a span so later ones are not late.
                let d = self.packet_ticks;
                let item = Playout::Conceal {
                    timestamp: p.cursor_ts as u32,
                    media_time: to_media(p.media),
                    duration: d as u32,
                    reason: ConcealReason::Stretch,
                };
                p.offset += d;
                p.media += d as u64;
                p.excess_run = 0;
                self.stats.concealed_stretch += 1;
                self.playing = Some(p);
                return Some(item);
            }
            let at = (p.next_seq & mask) as usize;
            let head = &self.slots[at];
            if head.used && head.seq == p.next_seq {
                if head.skip {
                    self.slots[at].used = false;
                    self.buffered -= 1;
                    p.next_seq += 1;
                    continue;
                }
                if head.ts > p.cursor_ts {
                    if !due {
                        break;
                    }
                    let d = (head.ts - p.cursor_ts).min(self.packet_ticks);
                    self.stats.concealed_silence += 1;
                    return Some(self.conceal(p, d, ConcealReason::Silence, to_media));
                }
                if head.ts + p.offset > now_u {
                    break;
                }
                let duration = self.span_of(at, p.next_seq);
                self.slots[at].used = false;
                self.buffered -= 1;
                let start_media = p.media;
                p.next_seq += 1;
                p.cursor_ts = p.cursor_ts.max(self.slots[at].ts + duration);
                p.media += duration as u64;
                if self.should_discard(&mut p) {
                    // Drop this packet: the next one plays a packet earlier.
                    p.offset -= duration;
                    p.media -= duration as u64;
                    self.stats.discarded += 1;
                    continue;
                }
                self.stats.played += 1;
                self.playing = Some(p);
                let s = &self.slots[at];
                return Some(Playout::Packet {
                    sequence: s.seq as u16,
                    timestamp: s.ts as u32,
                    payload_type: PayloadType(s.payload_type),
                    marker: s.marker,
                    payload: &s.payload,
                    media_time: to_media(start_media),
                    duration: duration as u32,
                });
            }
            if !due {
                break;
            }
            if self.buffered > 0 {
                let Some((q_seq, q_ts, q_skip)) = self.first_after(p.next_seq) else {
                    // Unreachable while `buffered` counts the used slots; recover anyway.
                    self.buffered = 0;
                    continue;
                };
                let missing = q_seq - p.next_seq;
                let remaining = if q_skip {
                    missing * self.packet_ticks
                } else {
                    q_ts - p.cursor_ts
                };
                if remaining <= 0 {
                    // The missing packets' span was already covered.
                    p.next_seq = q_seq;
                    continue;
                }
                let d = (remaining / missing).max(1);
                p.next_seq += 1;
                self.stats.concealed_lost += 1;
                return Some(self.conceal(p, d, ConcealReason::Lost, to_media));
            }
            if now_u - (p.cursor_ts + p.offset) > max_ticks {
                // Not polled for a long while: skip ahead instead of concealing all of it.
                let skip = (now_u - p.offset - p.cursor_ts - self.packet_ticks).max(0);
                p.cursor_ts += skip;
                p.media += skip as u64;
            }
            p.underrun = true;
            self.stats.concealed_underrun += 1;
            return Some(self.conceal(p, self.packet_ticks, ConcealReason::Underrun, to_media));
        }
        self.playing = Some(p);
        None
    }

    fn conceal(
        &mut self,
        mut p: Playing,
        d: i64,
        reason: ConcealReason,
        to_media: impl Fn(u64) -> MediaTime,
    ) -> Playout<'static> {
        let item = Playout::Conceal {
            timestamp: p.cursor_ts as u32,
            media_time: to_media(p.media),
            duration: d as u32,
            reason,
        };
        p.cursor_ts += d;
        p.media += d as u64;
        self.playing = Some(p);
        item
    }

    /// Span of the packet in slot `at`: up to the next packet's timestamp when that is the next
    /// sequence number and close, else the learned packet duration.
    fn span_of(&self, at: usize, seq: i64) -> i64 {
        let mask = self.slots.len() - 1;
        let this = &self.slots[at];
        let next = &self.slots[(at + 1) & mask];
        if next.used && !next.skip && next.seq == seq + 1 {
            let d = next.ts - this.ts;
            if d > 0 && d <= 2 * self.packet_ticks {
                return d;
            }
        }
        self.packet_ticks
    }

    fn first_after(&self, seq: i64) -> Option<(i64, i64, bool)> {
        let mask = self.slots.len() as i64 - 1;
        (1..=mask)
            .map(|k| &self.slots[((seq + k) & mask) as usize])
            .find(|s| s.used && s.seq > seq)
            .map(|s| (s.seq, s.ts, s.skip))
    }

    fn should_discard(&self, p: &mut Playing) -> bool {
        let excess = p.offset - self.delay.min_transit() - self.delay.target();
        if excess > 2 * self.packet_ticks && self.buffered > 0 {
            p.excess_run += 1;
        } else {
            p.excess_run = 0;
        }
        if p.excess_run >= EXCESS_RUN {
            p.excess_run = 0;
            return true;
        }
        false
    }
}
