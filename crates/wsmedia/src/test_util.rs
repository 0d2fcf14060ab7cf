//! Helpers shared by the protocol tests.

use base64::Engine as _;

use crate::{Connection, Event};

/// Every event queued so far.
pub(crate) fn drain(c: &mut Connection) -> Vec<Event> {
    std::iter::from_fn(|| c.poll_event()).collect()
}

/// The audio frames among `events`, everything else dropped.
pub(crate) fn frames(events: &[Event]) -> Vec<&Vec<f32>> {
    events
        .iter()
        .filter_map(|e| match e {
            Event::Audio(f) => Some(f),
            _ => None,
        })
        .collect()
}

/// `samples` as little-endian 16-bit bytes.
pub(crate) fn s16le(samples: impl IntoIterator<Item = i16>) -> Vec<u8> {
    samples.into_iter().flat_map(i16::to_le_bytes).collect()
}

pub(crate) fn b64(bytes: &[u8]) -> String {
    base64::engine::general_purpose::STANDARD.encode(bytes)
}

pub(crate) fn unb64(s: &str) -> Vec<u8> {
    base64::engine::general_purpose::STANDARD.decode(s).expect("test payload is base64")
}

/// The text of a text message, parsed.
pub(crate) fn json(m: Option<crate::Message>) -> serde_json::Value {
    match m {
        Some(crate::Message::Text(t)) => serde_json::from_str(&t).expect("outbound is JSON"),
        other => panic!("not a text message: {other:?}"),
    }
}
