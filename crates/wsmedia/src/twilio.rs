//! Twilio Media Streams (twilio.com/docs/voice/media-streams/websocket-messages): JSON text
//! messages named by `event`, µ-law 8 kHz mono in base64 `media.payload`.
//!
//! Twilio's counters are strings; they are read as numbers either way. Media whose
//! `sequenceNumber` is not new is dropped, and a `timestamp` that jumps ahead of the audio
//! received so far is filled with silence so the call's media time stays right.

use serde_json::Value;
use types::SampleRate;

use crate::keys::{self, opt_obj, opt_str, opt_u64, req_obj, req_str};
use crate::{clip, pcm, Core, Event, Message, ProtocolError, StartInfo};

/// Samples per millisecond at Twilio's only rate.
const PER_MS: u64 = 8;
/// A timestamp this far ahead of the audio so far is a gap; less is jitter in Twilio's clock.
const MIN_GAP: u64 = 20 * PER_MS;
/// The most silence one gap gets: beyond a second the peer lost the stream rather than
/// packets, and inventing more would only delay the caller's next words.
const MAX_FILL: u64 = 1_000 * PER_MS;

#[derive(Debug, Default)]
pub(crate) struct Twilio {
    /// Set by `start`; outbound messages need it.
    stream_sid: Option<String>,
    last_seq: Option<u64>,
    /// Where the inbound audio received so far ends, in samples since stream start as
    /// Twilio's timestamps count them; anchored by the first media that has a timestamp.
    end: Option<u64>,
}

impl Twilio {
    pub(crate) fn handle(&mut self, core: &mut Core, msg: &Value) -> Result<(), ProtocolError> {
        let event = req_str(msg, "event", "event")?;
        core.check_not_stopped("stop")?;
        let is = |name: &str| event.eq_ignore_ascii_case(name);
        if is("media") {
            self.media(core, msg)
        } else if is("start") {
            self.start(core, msg)
        } else if is("dtmf") {
            self.require_start("dtmf")?;
            let d = req_obj(msg, "dtmf", "dtmf")?;
            let digit = crate::parse_digit(req_str(d, "digit", "dtmf.digit")?)?;
            // `inbound_track` is the caller; keys pressed on the other leg are not theirs.
            if is_inbound(opt_str(d, "track", "dtmf.track")?) {
                core.events.push_back(Event::Dtmf(digit));
            }
            Ok(())
        } else if is("mark") {
            self.require_start("mark")?;
            let name = req_str(req_obj(msg, "mark", "mark")?, "name", "mark.name")?;
            core.events.push_back(Event::MarkPlayed(name.to_owned()));
            Ok(())
        } else if is("stop") {
            core.stopped = true;
            core.events.push_back(Event::Stopped { reason: "stop".to_owned() });
            Ok(())
        } else if is("connected") {
            // Says only that the protocol is "Call"; nothing to check that `start` does not.
            Ok(())
        } else {
            Err(ProtocolError::UnknownMessage { key: "event", name: clip(event) })
        }
    }

    fn require_start(&self, what: &'static str) -> Result<(), ProtocolError> {
        match self.stream_sid {
            Some(_) => Ok(()),
            None => Err(ProtocolError::BeforeStart { what, start: "start" }),
        }
    }

    fn start(&mut self, core: &mut Core, msg: &Value) -> Result<(), ProtocolError> {
        if self.stream_sid.is_some() {
            return Err(ProtocolError::SecondStart { start: "start" });
        }
        let s = req_obj(msg, "start", "start")?;
        let fmt = req_obj(s, "mediaFormat", "start.mediaFormat")?;
        let enc = req_str(fmt, "encoding", "start.mediaFormat.encoding")?;
        if !enc.eq_ignore_ascii_case("audio/x-mulaw") {
            let encoding = clip(enc);
            return Err(ProtocolError::UnsupportedEncoding {
                encoding,
                supported: "audio/x-mulaw",
            });
        }
        let hz = opt_u64(fmt, "sampleRate", "start.mediaFormat.sampleRate")?
            .ok_or(ProtocolError::Missing { field: "start.mediaFormat.sampleRate" })?;
        if hz != 8_000 {
            return Err(ProtocolError::UnsupportedRate { hz, supported: "8000" });
        }
        let channels = opt_u64(fmt, "channels", "start.mediaFormat.channels")?.unwrap_or(1);
        if channels != 1 {
            return Err(ProtocolError::UnsupportedChannels { channels });
        }
        let sid = match opt_str(s, "streamSid", "start.streamSid")? {
            Some(sid) => sid,
            None => opt_str(msg, "streamSid", "streamSid")?
                .ok_or(ProtocolError::Missing { field: "start.streamSid" })?,
        };
        let call_sid = opt_str(s, "callSid", "start.callSid")?;
        let custom = opt_obj(s, "customParameters", "start.customParameters")?
            .map(keys::string_map)
            .unwrap_or_default();
        // Twilio has no caller fields of its own in `start`: the TwiML that opens the stream
        // passes them as <Parameter>s, under these conventional names.
        let param = |names: &[&str]| names.iter().find_map(|n| keys::map_get(&custom, n)).cloned();
        let info = StartInfo {
            sample_rate: SampleRate::HZ_8000,
            peer_call_id: call_sid.map(str::to_owned),
            stream_id: Some(sid.to_owned()),
            caller_number: param(&["from", "caller"]),
            called_number: param(&["to", "called"]),
            token: param(&["token"]),
            custom,
        };
        self.stream_sid = Some(sid.to_owned());
        core.start(info);
        Ok(())
    }

    fn media(&mut self, core: &mut Core, msg: &Value) -> Result<(), ProtocolError> {
        self.require_start("media")?;
        let m = req_obj(msg, "media", "media")?;
        let seq = opt_u64(msg, "sequenceNumber", "sequenceNumber")?;
        let timestamp = opt_u64(m, "timestamp", "media.timestamp")?;
        let payload = req_str(m, "payload", "media.payload")?;
        if !is_inbound(opt_str(m, "track", "media.track")?) {
            // Bidirectional streams may echo what we play as the outbound track.
            return Ok(());
        }
        if !pcm::decode_b64(payload, &mut core.payload) {
            return Err(ProtocolError::NotBase64 { field: "media.payload" });
        }
        if let (Some(seq), Some(last)) = (seq, self.last_seq) {
            if seq <= last {
                core.stats.duplicates += 1;
                return Ok(());
            }
        }
        if seq.is_some() {
            self.last_seq = seq;
        }
        if let Some(at) = timestamp.map(|t| t.saturating_mul(PER_MS)) {
            let end = *self.end.get_or_insert(at);
            if at >= end.saturating_add(MIN_GAP) {
                let fill = (at - end).min(MAX_FILL);
                core.push_silence(fill as usize);
                core.stats.gaps_filled_ms += fill / PER_MS;
                // Past the cap, the timeline jumps: the next media is measured from here.
                self.end = Some(at);
            }
        }
        let payload = std::mem::take(&mut core.payload);
        core.push_audio(pcm::ulaw(&payload));
        if let Some(end) = &mut self.end {
            *end = end.saturating_add(payload.len() as u64);
        }
        core.payload = payload;
        Ok(())
    }

    pub(crate) fn audio_message(&self, buf: &mut Vec<u8>, pcm: &[f32]) -> Option<Message> {
        let sid = self.stream_sid.as_deref()?;
        pcm::encode_ulaw(pcm, buf);
        let mut s = String::with_capacity(80 + sid.len() + buf.len() * 4 / 3);
        s.push_str(r#"{"event":"media","streamSid":"#);
        keys::json_str(&mut s, sid);
        s.push_str(r#","media":{"payload":""#);
        pcm::encode_b64(buf, &mut s);
        s.push_str(r#""}}"#);
        Some(Message::Text(s))
    }

    pub(crate) fn mark_message(&self, name: &str) -> Option<Message> {
        let sid = self.stream_sid.as_deref()?;
        let mut s = String::from(r#"{"event":"mark","streamSid":"#);
        keys::json_str(&mut s, sid);
        s.push_str(r#","mark":{"name":"#);
        keys::json_str(&mut s, name);
        s.push_str("}}");
        Some(Message::Text(s))
    }

    pub(crate) fn clear_message(&self) -> Option<Message> {
        let sid = self.stream_sid.as_deref()?;
        let mut s = String::from(r#"{"event":"clear","streamSid":"#);
        keys::json_str(&mut s, sid);
        s.push('}');
        Some(Message::Text(s))
    }
}

/// Twilio says `inbound` for media and `inbound_track` for DTMF; absent means a one-track
/// stream, which is the caller's.
fn is_inbound(track: Option<&str>) -> bool {
    track.is_none_or(|t| t.get(..7).is_some_and(|p| p.eq_ignore_ascii_case("inbound")))
}

#[cfg(test)]
#[path = "twilio_tests.rs"]
mod tests;
