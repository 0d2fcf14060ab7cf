//! Our relay protocol for a Graph app-hosted media bot (`docs/relay-protocol.md`): JSON text
//! messages named by `type`, audio as binary messages of 16 kHz mono L16 little-endian, the
//! Graph media platform's own frame format, so the bot forwards frames without converting.

use serde_json::Value;
use types::SampleRate;

use crate::keys::{self, opt_obj, opt_str, opt_u64, req_obj, req_str};
use crate::{clip, pcm, Core, Event, Message, ProtocolError, StartInfo};

/// The protocol version this crate speaks; `start.version` defaults to it.
pub const VERSION: u64 = 1;

#[derive(Debug, Default)]
pub(crate) struct Relay {
    /// The Graph call id from `start`; call-control paths are built from it.
    call_id: Option<String>,
}

impl Relay {
    pub(crate) fn handle(&mut self, core: &mut Core, msg: &Value) -> Result<(), ProtocolError> {
        let ty = req_str(msg, "type", "type")?;
        core.check_not_stopped("hangup")?;
        let is = |name: &str| ty.eq_ignore_ascii_case(name);
        if is("start") {
            self.start(core, msg)
        } else if is("dtmf") {
            self.require_start("dtmf")?;
            let digit = crate::parse_digit(req_str(msg, "digit", "digit")?)?;
            core.events.push_back(Event::Dtmf(digit));
            Ok(())
        } else if is("mark") {
            self.require_start("mark")?;
            let name = req_str(msg, "name", "name")?;
            core.events.push_back(Event::MarkPlayed(name.to_owned()));
            Ok(())
        } else if is("hangup") {
            let reason = opt_str(msg, "reason", "reason")?.unwrap_or("hangup");
            core.stopped = true;
            core.events.push_back(Event::Stopped { reason: reason.to_owned() });
            Ok(())
        } else {
            Err(ProtocolError::UnknownMessage { key: "type", name: clip(ty) })
        }
    }

    /// One binary message: any whole number of samples, re-chunked into 20 ms frames.
    pub(crate) fn handle_audio(
        &mut self,
        core: &mut Core,
        data: &[u8],
    ) -> Result<(), ProtocolError> {
        core.check_not_stopped("hangup")?;
        self.require_start("audio")?;
        if data.len() % 2 != 0 {
            return Err(ProtocolError::OddLength { what: "relay audio frame", len: data.len() });
        }
        core.push_audio(pcm::s16le(data));
        Ok(())
    }

    fn require_start(&self, what: &'static str) -> Result<(), ProtocolError> {
        match self.call_id {
            Some(_) => Ok(()),
            None => Err(ProtocolError::BeforeStart { what, start: "start" }),
        }
    }

    fn start(&mut self, core: &mut Core, msg: &Value) -> Result<(), ProtocolError> {
        if self.call_id.is_some() {
            return Err(ProtocolError::SecondStart { start: "start" });
        }
        if let Some(version) = opt_u64(msg, "version", "version")? {
            if version != VERSION {
                return Err(ProtocolError::UnsupportedVersion { version });
            }
        }
        let call_id = req_str(msg, "callId", "callId")?;
        if call_id.trim().is_empty() {
            return Err(ProtocolError::WrongType {
                field: "callId",
                expected: "a non-empty string",
            });
        }
        let fmt = req_obj(msg, "format", "format")?;
        let enc = req_str(fmt, "encoding", "format.encoding")?;
        if !enc.eq_ignore_ascii_case("L16") {
            return Err(ProtocolError::UnsupportedEncoding {
                encoding: clip(enc),
                supported: "L16",
            });
        }
        let hz = opt_u64(fmt, "sampleRate", "format.sampleRate")?
            .ok_or(ProtocolError::Missing { field: "format.sampleRate" })?;
        if hz != 16_000 {
            return Err(ProtocolError::UnsupportedRate { hz, supported: "16000" });
        }
        let channels = opt_u64(fmt, "channels", "format.channels")?.unwrap_or(1);
        if channels != 1 {
            return Err(ProtocolError::UnsupportedChannels { channels });
        }
        let tenant = opt_str(msg, "tenantId", "tenantId")?;
        let from = opt_str(msg, "from", "from")?;
        let to = opt_str(msg, "to", "to")?;
        let token = opt_str(msg, "token", "token")?;
        let mut custom =
            opt_obj(msg, "custom", "custom")?.map(keys::string_map).unwrap_or_default();
        if let Some(t) = tenant {
            custom.insert("tenantId".to_owned(), t.to_owned());
        }
        self.call_id = Some(call_id.to_owned());
        core.start(StartInfo {
            sample_rate: SampleRate::HZ_16000,
            peer_call_id: Some(call_id.to_owned()),
            stream_id: None,
            caller_number: from.map(str::to_owned),
            called_number: to.map(str::to_owned),
            custom,
            token: token.map(str::to_owned),
        });
        Ok(())
    }

    pub(crate) fn call_control_message(
        &self,
        action: &str,
        body: &Value,
        decision: &Value,
    ) -> Option<Message> {
        let call_id = self.call_id.as_deref()?;
        // The action becomes a path segment of a Graph URL: only a plain word is safe there.
        if action.is_empty() || !action.bytes().all(|b| b.is_ascii_alphanumeric()) {
            return None;
        }
        let mut s = String::from(r#"{"type":"callControl","action":"#);
        keys::json_str(&mut s, action);
        s.push_str(r#","request":{"method":"POST","path":"#);
        let path = format!("/communications/calls/{}/{action}", percent_encode(call_id));
        keys::json_str(&mut s, &path);
        s.push_str(r#","body":"#);
        s.push_str(&body.to_string());
        s.push_str(r#"},"decision":"#);
        s.push_str(&decision.to_string());
        s.push('}');
        Some(Message::Text(s))
    }
}

pub(crate) fn audio_message(pcm: &[f32]) -> Message {
    let mut bytes = Vec::new();
    pcm::encode_s16le(pcm, &mut bytes);
    Message::Binary(bytes)
}

pub(crate) fn clear_message() -> Message {
    Message::Text(r#"{"type":"clear"}"#.to_owned())
}

pub(crate) fn mark_message(name: &str) -> Message {
    let mut s = String::from(r#"{"type":"mark","name":"#);
    keys::json_str(&mut s, name);
    s.push('}');
    Message::Text(s)
}

pub(crate) fn hangup_message(reason: &str) -> Message {
    let mut s = String::from(r#"{"type":"hangup","reason":"#);
    keys::json_str(&mut s, reason);
    s.push('}');
    Message::Text(s)
}

/// Percent-encodes everything but RFC 3986 unreserved characters, so a call id from the bot
/// can never change the path it is put into.
fn percent_encode(s: &str) -> String {
    let mut out = String::with_capacity(s.len());
    for b in s.bytes() {
        if b.is_ascii_alphanumeric() || matches!(b, b'-' | b'.' | b'_' | b'~') {
            out.push(char::from(b));
        } else {
            out.push_str(&format!("%{b:02X}"));
        }
    }
    out
}

#[cfg(test)]
#[path = "relay_tests.rs"]
mod tests;
