//! The WebSocket media-stream protocols, sans IO: Azure Communication Services media streaming,
//! Twilio Media Streams, and our relay for a Graph app-hosted media bot
//! (`docs/relay-protocol.md`).
//!
//! One [`Connection`] per WebSocket. The transport hands it each message
//! ([`Connection::handle_text`], [`Connection::handle_binary`]) and drains
//! [`Connection::poll_event`]: the stream's start, the caller's audio as exactly 20 ms frames at
//! [`Connection::sample_rate`], DTMF, played marks, the end. Outbound, the `*_message` methods
//! return the one WebSocket message to send. Nothing here reads a clock, a socket or a thread.
//!
//! A refused message returns a [`ProtocolError`] whose Display fits a close frame and leaves the
//! connection as it was; the peer broke the protocol, so the worker closes with
//! [`ProtocolError::close_code`].

#![cfg_attr(test, allow(clippy::unwrap_used))]

mod acs;
mod error;
mod keys;
mod pcm;
mod relay;
#[cfg(test)]
mod test_util;
mod twilio;

use std::collections::{BTreeMap, VecDeque};

use types::SampleRate;

pub(crate) use error::clip;
pub use error::ProtocolError;
/// The relay protocol version this crate speaks (`start.version`).
pub use relay::VERSION as RELAY_VERSION;

/// Which protocol the WebSocket speaks (chosen by the URL it was opened on).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Protocol {
    /// Azure Communication Services media streaming (bidirectional), JSON text messages.
    Acs,
    /// Twilio Media Streams (and dialects that copy it), JSON text messages, µ-law 8 kHz.
    Twilio,
    /// Our relay from a Graph app-hosted media bot: JSON control text, binary 16 kHz L16 audio.
    Relay,
}

impl Protocol {
    pub fn as_str(self) -> &'static str {
        match self {
            Self::Acs => "acs",
            Self::Twilio => "twilio",
            Self::Relay => "relay",
        }
    }
}

/// One outbound WebSocket message.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Message {
    Text(String),
    Binary(Vec<u8>),
}

/// Settings chosen by the worker, apart from what the peer negotiates.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Options {
    /// ACS unmixed audio: the `participantRawID` to take as the caller. `None`: the first
    /// participant whose audio arrives non-silent (until then, the first participant seen).
    pub caller: Option<String>,
}

/// What the connection learned from the peer.
#[derive(Debug, Clone, PartialEq)]
pub enum Event {
    Started(StartInfo),
    /// Exactly one 20 ms frame of the caller's audio at [`Connection::sample_rate`], in [-1, 1].
    Audio(Vec<f32>),
    /// One of `0-9 * # A-D`.
    Dtmf(char),
    /// The peer played (or cleared) everything up to the mark of this name.
    MarkPlayed(String),
    /// The peer ended the stream (Twilio `stop`, relay `hangup`).
    Stopped {
        reason: String,
    },
    /// ACS unmixed: the first audio of a participant who is not the caller. Their audio is
    /// dropped (and counted in [`Stats::other_participant_frames`]).
    OtherParticipant {
        id: String,
    },
}

/// The stream's format and what the peer told about the call.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct StartInfo {
    pub sample_rate: SampleRate,
    /// The peer's id for the call: Twilio `callSid`, relay `callId` (the Graph call id). ACS puts
    /// it in the upgrade request's headers, so it is `None` here and the worker fills it.
    pub peer_call_id: Option<String>,
    /// ACS `subscriptionId`, Twilio `streamSid`; `None` for the relay.
    pub stream_id: Option<String>,
    pub caller_number: Option<String>,
    pub called_number: Option<String>,
    /// Twilio `customParameters`; relay `custom` plus `tenantId`.
    pub custom: BTreeMap<String, String>,
    /// A credential the peer carried in its first message (Twilio `customParameters.token`,
    /// relay `token`), for the worker to check.
    pub token: Option<String>,
}

/// Counters for metrics. `messages` counts every message handed in, refused ones included.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Stats {
    pub messages: u64,
    /// [`Event::Audio`] frames produced, silence fill included.
    pub frames: u64,
    /// Twilio media messages dropped because their `sequenceNumber` was not new.
    pub duplicates: u64,
    /// Silence inserted where Twilio media timestamps jumped ahead.
    pub gaps_filled_ms: u64,
    /// ACS messages of participants other than the caller, dropped.
    pub other_participant_frames: u64,
    /// ACS caller messages flagged `silent`, replaced by a 20 ms zero frame.
    pub silent_frames: u64,
}

/// Samples in one 20 ms frame at `rate`.
pub fn frame_samples(rate: SampleRate) -> usize {
    rate.frame_samples()
}

/// One WebSocket's protocol state.
#[derive(Debug)]
pub struct Connection {
    protocol: Protocol,
    core: Core,
    state: State,
}

#[derive(Debug)]
enum State {
    Acs(acs::Acs),
    Twilio(twilio::Twilio),
    Relay(relay::Relay),
}

/// What every protocol shares: the event queue, counters, the framer once the rate is known,
/// and buffers reused from message to message.
#[derive(Debug, Default)]
pub(crate) struct Core {
    pub(crate) events: VecDeque<Event>,
    pub(crate) stats: Stats,
    pub(crate) rate: Option<SampleRate>,
    pub(crate) framer: Option<pcm::Framer>,
    pub(crate) stopped: bool,
    /// Decoded inbound payload.
    pub(crate) payload: Vec<u8>,
    /// Encoded outbound audio before base64.
    pub(crate) out: Vec<u8>,
}

impl Core {
    pub(crate) fn start(&mut self, info: StartInfo) {
        self.rate = Some(info.sample_rate);
        self.framer = Some(pcm::Framer::new(info.sample_rate.frame_samples()));
        self.events.push_back(Event::Started(info));
    }

    /// Frames `samples`; a no-op before start (callers check the order first).
    pub(crate) fn push_audio(&mut self, samples: impl Iterator<Item = f32>) {
        if let Some(f) = &mut self.framer {
            f.push(samples, &mut self.events, &mut self.stats);
        }
    }

    pub(crate) fn push_silence(&mut self, n: usize) {
        if let Some(f) = &mut self.framer {
            f.push_silence(n, &mut self.events, &mut self.stats);
        }
    }

    /// Refuses anything once the peer has ended the stream.
    pub(crate) fn check_not_stopped(&self, stop: &'static str) -> Result<(), ProtocolError> {
        if self.stopped {
            Err(ProtocolError::AfterStop { stop })
        } else {
            Ok(())
        }
    }
}

impl Connection {
    pub fn new(protocol: Protocol, options: Options) -> Self {
        let state = match protocol {
            Protocol::Acs => State::Acs(acs::Acs::new(options)),
            Protocol::Twilio => State::Twilio(twilio::Twilio::default()),
            Protocol::Relay => State::Relay(relay::Relay::default()),
        };
        Self { protocol, core: Core::default(), state }
    }

    pub fn protocol(&self) -> Protocol {
        self.protocol
    }

    /// Handles one text message.
    pub fn handle_text(&mut self, text: &str) -> Result<(), ProtocolError> {
        self.core.stats.messages += 1;
        let msg = keys::parse(text)?;
        match &mut self.state {
            State::Acs(s) => s.handle(&mut self.core, &msg),
            State::Twilio(s) => s.handle(&mut self.core, &msg),
            State::Relay(s) => s.handle(&mut self.core, &msg),
        }
    }

    /// Handles one binary message: relay audio; an error for the JSON protocols.
    pub fn handle_binary(&mut self, data: &[u8]) -> Result<(), ProtocolError> {
        self.core.stats.messages += 1;
        match &mut self.state {
            State::Relay(s) => s.handle_audio(&mut self.core, data),
            State::Acs(_) | State::Twilio(_) => Err(ProtocolError::BinaryOnJsonProtocol),
        }
    }

    pub fn poll_event(&mut self) -> Option<Event> {
        self.core.events.pop_front()
    }

    /// The stream's rate, known once it has started.
    pub fn sample_rate(&self) -> Option<SampleRate> {
        self.core.rate
    }

    pub fn stats(&self) -> &Stats {
        &self.core.stats
    }

    /// `pcm` (at [`Connection::sample_rate`], any length) as the message that plays it.
    /// `None` before the stream has started.
    pub fn audio_message(&mut self, pcm: &[f32]) -> Option<Message> {
        self.core.rate?;
        Some(match &self.state {
            State::Acs(_) => acs::audio_message(&mut self.core.out, pcm),
            State::Twilio(s) => s.audio_message(&mut self.core.out, pcm)?,
            State::Relay(_) => relay::audio_message(pcm),
        })
    }

    /// Drops whatever the peer has queued to play (barge-in).
    pub fn clear_message(&mut self) -> Option<Message> {
        self.core.rate?;
        match &self.state {
            State::Acs(_) => Some(acs::clear_message()),
            State::Twilio(s) => s.clear_message(),
            State::Relay(_) => Some(relay::clear_message()),
        }
    }

    /// Asks the peer to echo `name` once everything sent before it has played. ACS has no such
    /// message (`None`): playback there is counted from the samples sent.
    pub fn mark_message(&mut self, name: &str) -> Option<Message> {
        self.core.rate?;
        match &self.state {
            State::Acs(_) => None,
            State::Twilio(s) => s.mark_message(name),
            State::Relay(_) => Some(relay::mark_message(name)),
        }
    }

    /// Relay only: the Graph call-control request the bot should make for `action` (a Graph
    /// call action such as `transfer`), with `body` as its JSON body and the worker's
    /// `decision` alongside. `None` for ACS and Twilio, before start, and for an `action` that
    /// is not a plain ASCII word (it becomes a URL path segment).
    pub fn call_control_message(
        &mut self,
        action: &str,
        body: &serde_json::Value,
        decision: &serde_json::Value,
    ) -> Option<Message> {
        match &self.state {
            State::Relay(s) => s.call_control_message(action, body, decision),
            State::Acs(_) | State::Twilio(_) => None,
        }
    }

    /// Relay only: tells the bot to hang up the call. `None` for ACS and Twilio.
    pub fn hangup_message(&mut self, reason: &str) -> Option<Message> {
        match &self.state {
            State::Relay(_) => Some(relay::hangup_message(reason)),
            State::Acs(_) | State::Twilio(_) => None,
        }
    }
}

/// A DTMF key as the peers write it: the character itself (any case), or an ACS tone name.
pub(crate) fn parse_digit(s: &str) -> Result<char, ProtocolError> {
    let t = s.trim();
    let mut chars = t.chars();
    if let (Some(c), None) = (chars.next(), chars.next()) {
        let c = c.to_ascii_uppercase();
        if c.is_ascii_digit() || matches!(c, '*' | '#' | 'A'..='D') {
            return Ok(c);
        }
    }
    // ACS names its tones (`DtmfTone`): zero..nine, asterisk, pound.
    const NAMES: [(&str, char); 14] = [
        ("zero", '0'),
        ("one", '1'),
        ("two", '2'),
        ("three", '3'),
        ("four", '4'),
        ("five", '5'),
        ("six", '6'),
        ("seven", '7'),
        ("eight", '8'),
        ("nine", '9'),
        ("asterisk", '*'),
        ("star", '*'),
        ("pound", '#'),
        ("hash", '#'),
    ];
    NAMES
        .iter()
        .find(|(n, _)| n.eq_ignore_ascii_case(t))
        .map(|&(_, c)| c)
        .ok_or_else(|| ProtocolError::BadDigit { digit: clip(s) })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn frame_samples_is_20_ms() {
        assert_eq!(frame_samples(SampleRate::HZ_8000), 160);
        assert_eq!(frame_samples(SampleRate::HZ_16000), 320);
        assert_eq!(frame_samples(SampleRate::HZ_24000), 480);
    }

    #[test]
    fn digits_parse_as_characters_or_names() {
        for (s, c) in [("5", '5'), ("#", '#'), ("*", '*'), ("a", 'A'), ("D", 'D'), ("pound", '#')] {
            assert_eq!(parse_digit(s), Ok(c), "{s}");
        }
        assert_eq!(parse_digit("Nine"), Ok('9'));
        for bad in ["", "E", "12", "x"] {
            assert!(matches!(parse_digit(bad), Err(ProtocolError::BadDigit { .. })), "{bad}");
        }
    }

    #[test]
    fn binary_on_a_json_protocol_is_refused_and_counted() {
        for p in [Protocol::Acs, Protocol::Twilio] {
            let mut c = Connection::new(p, Options::default());
            let e = c.handle_binary(&[0; 640]).unwrap_err();
            assert_eq!(e.to_string(), "binary message on a JSON protocol");
            assert_eq!(e.close_code(), 1003);
            assert_eq!(c.stats().messages, 1);
            assert_eq!(c.poll_event(), None);
        }
    }

    #[test]
    fn outbound_is_none_before_start() {
        for p in [Protocol::Acs, Protocol::Twilio, Protocol::Relay] {
            let mut c = Connection::new(p, Options::default());
            assert_eq!(c.sample_rate(), None);
            assert_eq!(c.audio_message(&[0.0; 160]), None, "{p:?}");
            assert_eq!(c.clear_message(), None, "{p:?}");
            assert_eq!(c.mark_message("m"), None, "{p:?}");
            let v = serde_json::json!({});
            assert_eq!(c.call_control_message("transfer", &v, &v), None, "{p:?}");
        }
    }

    #[test]
    fn not_json_is_refused_on_every_protocol() {
        for p in [Protocol::Acs, Protocol::Twilio, Protocol::Relay] {
            let mut c = Connection::new(p, Options::default());
            let e = c.handle_text("{\"a\":").unwrap_err();
            assert!(matches!(e, ProtocolError::NotJson { .. }), "{e}");
            assert_eq!(e.close_code(), 1007);
        }
    }
}
