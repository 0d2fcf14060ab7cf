//! RFC 4733 telephone-events: DTMF digits 0-9 * # A-D and flash, received and sent.
//!
//! A receiver reports one key press per event. All packets of an event share its RTP timestamp
//! (RFC 4733 §2.5.1.2), so the timestamp identifies the event: the first packet seen reports the
//! key (the marker may be lost), the first with the end bit reports its end, and the repeated end
//! packets (§2.5.1.4) and retransmissions are recognized by their timestamp and dropped.

use std::collections::VecDeque;

/// Length of one event report (RFC 4733 §2.3).
pub const EVENT_LEN: usize = 4;
/// How many times the final packet of an event is sent (RFC 4733 §2.5.1.4).
pub const END_REPEATS: u8 = 3;
/// Largest duration one report can carry (RFC 4733 §2.5.1.3).
pub const MAX_DURATION: u32 = 0xffff;
/// Default volume: -10 dBm0 (RFC 4733 §2.3.4 gives 0 to -63; senders commonly use 10).
const DEFAULT_VOLUME: u8 = 10;
/// Events kept until the caller polls them.
const MAX_QUEUED: usize = 16;

/// Why a telephone-event payload was not used.
#[derive(Debug, Clone, Copy, PartialEq, Eq, thiserror::Error)]
pub enum DtmfError {
    #[error("telephone-event payload of {actual} bytes, at least 4 needed")]
    Truncated { actual: usize },
    #[error("telephone-event {0} is not a DTMF key or flash")]
    UnsupportedEvent(u8),
}

/// A DTMF key or hook flash: event codes 0-16 of RFC 4733 §3.2.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub struct DtmfKey(u8);

impl DtmfKey {
    pub const FLASH: Self = Self(16);

    /// The key for an RFC 4733 §3.2 event code.
    pub fn from_event(code: u8) -> Option<Self> {
        (code <= 16).then_some(Self(code))
    }

    /// `0-9 * # A-D`, and `!` for flash (the character SIP INFO `dtmf-relay` uses).
    pub fn from_char(c: char) -> Option<Self> {
        let code = match c {
            '0'..='9' => c as u8 - b'0',
            '*' => 10,
            '#' => 11,
            'A'..='D' => c as u8 - b'A' + 12,
            'a'..='d' => c as u8 - b'a' + 12,
            '!' => 16,
            _ => return None,
        };
        Some(Self(code))
    }

    pub fn event_code(self) -> u8 {
        self.0
    }

    pub fn as_char(self) -> char {
        match self.0 {
            0..=9 => char::from(b'0' + self.0),
            10 => '*',
            11 => '#',
            12..=15 => char::from(b'A' + self.0 - 12),
            _ => '!',
        }
    }
}

impl std::fmt::Display for DtmfKey {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "{}", self.as_char())
    }
}

/// One event report (RFC 4733 §2.3): event, end bit, volume, duration.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct EventReport {
    pub event: u8,
    pub end: bool,
    pub volume: u8,
    /// In RTP timestamp units.
    pub duration: u16,
}

impl EventReport {
    pub fn parse(payload: &[u8]) -> Result<Self, DtmfError> {
        let &[event, flags, d0, d1, ..] = payload else {
            return Err(DtmfError::Truncated {
                actual: payload.len(),
            });
        };
        Ok(Self {
            event,
            end: flags & 0x80 != 0,
            volume: flags & 0x3f,
            duration: u16::from_be_bytes([d0, d1]),
        })
    }

    pub fn to_bytes(self) -> [u8; EVENT_LEN] {
        let d = self.duration.to_be_bytes();
        [
            self.event,
            u8::from(self.end) << 7 | (self.volume & 0x3f),
            d[0],
            d[1],
        ]
    }
}

/// What a [`DtmfReceiver`] reports.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum DtmfEvent {
    /// A key went down: reported once per event, on its first packet.
    Started { key: DtmfKey, timestamp: u32 },
    /// The key went up (end bit seen, or a new event began without one), after `duration`
    /// RTP timestamp units.
    Ended {
        key: DtmfKey,
        timestamp: u32,
        duration: u32,
    },
}

#[derive(Clone, Copy, Debug)]
struct Current {
    key: DtmfKey,
    /// Timestamp of the event's first segment.
    start: u32,
    /// Timestamp of the segment now being reported (RFC 4733 §2.5.1.3 long events).
    segment: u32,
    /// Duration of earlier segments plus the current one so far.
    before: u32,
    duration: u16,
    ended: bool,
}

/// Turns telephone-event packets into one [`DtmfEvent::Started`] and one
/// [`DtmfEvent::Ended`] per key press.
#[derive(Clone, Debug, Default)]
pub struct DtmfReceiver {
    current: Option<Current>,
    events: VecDeque<DtmfEvent>,
}

impl DtmfReceiver {
    pub fn new() -> Self {
        Self::default()
    }

    fn emit(&mut self, e: DtmfEvent) {
        if self.events.len() == MAX_QUEUED {
            self.events.pop_front();
        }
        self.events.push_back(e);
    }

    /// Takes the payload of a telephone-event packet with RTP timestamp `timestamp`.
    pub fn receive(
        &mut self,
        timestamp: u32,
        _marker: bool,
        payload: &[u8],
    ) -> Result<(), DtmfError> {
        let report = EventReport::parse(payload)?;
        let key =
            DtmfKey::from_event(report.event).ok_or(DtmfError::UnsupportedEvent(report.event))?;
        if let Some(cur) = self.current {
            if timestamp == cur.segment {
                if key != cur.key {
                    return Ok(());
                }
                let duration = cur.duration.max(report.duration);
                let mut next = Current { duration, ..cur };
                if report.end && !cur.ended {
                    next.ended = true;
                    self.emit(DtmfEvent::Ended {
                        key,
                        timestamp: cur.start,
                        duration: cur.before.saturating_add(u32::from(duration)),
                    });
                }
                self.current = Some(next);
                return Ok(());
            }
            if (timestamp.wrapping_sub(cur.segment) as i32) < 0 {
                // A retransmission of an earlier event.
                return Ok(());
            }
            if !cur.ended
                && key == cur.key
                && timestamp.wrapping_sub(cur.segment) == u32::from(cur.duration)
            {
                // RFC 4733 §2.5.1.3: the next segment of a long event.
                let before = cur.before.saturating_add(u32::from(cur.duration));
                self.current = Some(Current {
                    segment: timestamp,
                    before,
                    duration: report.duration,
                    ..cur
                });
                if report.end {
                    return self.receive(timestamp, false, payload);
                }
                return Ok(());
            }
            if !cur.ended {
                // The end packets of the previous event were lost.
                self.emit(DtmfEvent::Ended {
                    key: cur.key,
                    timestamp: cur.start,
                    duration: cur.before.saturating_add(u32::from(cur.duration)),
                });
            }
        }
        self.current = Some(Current {
            key,
            start: timestamp,
            segment: timestamp,
            before: 0,
            duration: report.duration,
            ended: report.end,
        });
        self.emit(DtmfEvent::Started { key, timestamp });
        if report.end {
            self.emit(DtmfEvent::Ended {
                key,
                timestamp,
                duration: u32::from(report.duration),
            });
        }
        Ok(())
    }

    pub fn poll_event(&mut self) -> Option<DtmfEvent> {
        self.events.pop_front()
    }
}

/// One packet a [`DtmfSender`] wants sent.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct DtmfPacket {
    pub payload: [u8; EVENT_LEN],
    /// Set on the first packet of the event (RFC 4733 §2.5.1.1).
    pub marker: bool,
    pub end: bool,
}

/// Produces the packets of one key press, one per packet interval: durations growing by one
/// interval, marker on the first, then the end packet three times (RFC 4733 §2.5.1). All carry
/// the timestamp of the event start, which the caller keeps.
#[derive(Clone, Copy, Debug)]
pub struct DtmfSender {
    key: DtmfKey,
    volume: u8,
    total: u16,
    step: u16,
    sent: u16,
    ends_sent: u8,
}

impl DtmfSender {
    /// A press of `key` lasting `duration` RTP timestamp units (rounded up to whole packets of
    /// `packet_ticks`, at most 0xffff), sent at -10 dBm0.
    pub fn new(key: DtmfKey, duration: u32, packet_ticks: u32) -> Self {
        let step = packet_ticks.clamp(1, MAX_DURATION);
        let total = duration
            .max(1)
            .div_ceil(step)
            .saturating_mul(step)
            .min(MAX_DURATION);
        Self {
            key,
            volume: DEFAULT_VOLUME,
            total: total as u16,
            step: step as u16,
            sent: 0,
            ends_sent: 0,
        }
    }

    pub fn key(&self) -> DtmfKey {
        self.key
    }

    pub fn is_done(&self) -> bool {
        self.ends_sent >= END_REPEATS
    }

    /// The next packet, or `None` once the third end packet went out.
    pub fn next_packet(&mut self) -> Option<DtmfPacket> {
        if self.is_done() {
            return None;
        }
        let marker = self.sent == 0;
        self.sent = self.sent.saturating_add(self.step).min(self.total);
        let end = self.sent >= self.total;
        if end {
            self.ends_sent += 1;
        }
        let report = EventReport {
            event: self.key.event_code(),
            end,
            volume: self.volume,
            duration: self.sent,
        };
        Some(DtmfPacket {
            payload: report.to_bytes(),
            marker,
            end,
        })
    }
}

#[cfg(test)]
mod tests;
