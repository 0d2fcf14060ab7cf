//! Azure Communication Services media streaming (bidirectional): JSON text messages named by
//! `kind`, 16-bit little-endian PCM at 16 or 24 kHz, base64 in `audioData.data`.
//!
//! Unmixed streams interleave up to four participants told apart by `participantRawID`; only
//! the caller's audio becomes frames (see [`crate::Options::caller`]).

use serde_json::Value;
use types::SampleRate;

use crate::keys::{opt_bool, opt_str, opt_u64, req_obj, req_str};
use crate::{clip, pcm, Core, Event, Message, Options, ProtocolError, StartInfo};

/// Other participants announced at most this many times: a stream has at most four, and a
/// peer inventing ids must not grow our memory.
const MAX_ANNOUNCED: usize = 16;

#[derive(Debug)]
pub(crate) struct Acs {
    /// The caller as configured ([`Options::caller`]).
    wanted: Option<String>,
    /// The caller as chosen from the audio, when not configured.
    chosen: Option<String>,
    /// The first participant seen while every frame so far was silent: the caller until
    /// someone actually speaks.
    tentative: Option<String>,
    announced: Vec<String>,
}

/// Whose audio a message carries.
enum Role {
    Caller,
    /// Dropped; `Some(id)` the first time this participant is known not to be the caller.
    Other(Option<String>),
}

impl Acs {
    pub(crate) fn new(options: Options) -> Self {
        Self { wanted: options.caller, chosen: None, tentative: None, announced: Vec::new() }
    }

    pub(crate) fn handle(&mut self, core: &mut Core, msg: &Value) -> Result<(), ProtocolError> {
        let kind = req_str(msg, "kind", "kind")?;
        if kind.eq_ignore_ascii_case("AudioData") {
            self.audio(core, msg)
        } else if kind.eq_ignore_ascii_case("AudioMetadata") {
            metadata(core, msg)
        } else if kind.eq_ignore_ascii_case("DtmfData") {
            if core.rate.is_none() {
                return Err(ProtocolError::BeforeStart {
                    what: "DtmfData",
                    start: "AudioMetadata",
                });
            }
            let d = req_obj(msg, "dtmfData", "dtmfData")?;
            let digit = crate::parse_digit(req_str(d, "data", "dtmfData.data")?)?;
            core.events.push_back(Event::Dtmf(digit));
            Ok(())
        } else {
            Err(ProtocolError::UnknownMessage { key: "kind", name: clip(kind) })
        }
    }

    fn audio(&mut self, core: &mut Core, msg: &Value) -> Result<(), ProtocolError> {
        let d = req_obj(msg, "audioData", "audioData")?;
        let Some(rate) = core.rate else {
            return Err(ProtocolError::BeforeStart { what: "AudioData", start: "AudioMetadata" });
        };
        // The JSON says `silent`; the SDKs' model calls it `isSilent`.
        let silent = match opt_bool(d, "silent", "AudioData.silent")? {
            Some(s) => s,
            None => opt_bool(d, "isSilent", "AudioData.isSilent")?.unwrap_or(false),
        };
        let participant = opt_str(d, "participantRawID", "AudioData.participantRawID")?;
        // Validate before any state changes, so a refused message leaves the stream as it was.
        // Silent frames may carry no data at all; their content is not used.
        if !silent {
            let data = req_str(d, "data", "AudioData.data")?;
            if !pcm::decode_b64(data, &mut core.payload) {
                return Err(ProtocolError::NotBase64 { field: "AudioData.data" });
            }
            if core.payload.len() % 2 != 0 {
                let len = core.payload.len();
                return Err(ProtocolError::OddLength { what: "AudioData.data", len });
            }
        }
        match self.role(participant, silent) {
            Role::Caller if silent => {
                core.stats.silent_frames += 1;
                core.push_silence(rate.frame_samples());
            }
            Role::Caller => {
                let payload = std::mem::take(&mut core.payload);
                core.push_audio(pcm::s16le(&payload));
                core.payload = payload;
            }
            Role::Other(announce) => {
                core.stats.other_participant_frames += 1;
                if let Some(id) = announce {
                    core.events.push_back(Event::OtherParticipant { id });
                }
            }
        }
        Ok(())
    }

    fn role(&mut self, participant: Option<&str>, silent: bool) -> Role {
        // Mixed audio names no participant: it is all the call.
        let Some(p) = participant else { return Role::Caller };
        if let Some(caller) = self.wanted.as_deref().or(self.chosen.as_deref()) {
            return if p == caller { Role::Caller } else { self.other(p) };
        }
        if !silent {
            // The first one to make a sound is the caller; whoever was tentative until now
            // is announced as another participant when their audio next arrives.
            self.chosen = Some(p.to_owned());
            return Role::Caller;
        }
        match &self.tentative {
            None => {
                self.tentative = Some(p.to_owned());
                Role::Caller
            }
            Some(t) if t == p => Role::Caller,
            // Undecided yet: not announced, since this one may still turn out to be the caller.
            Some(_) => Role::Other(None),
        }
    }

    fn other(&mut self, p: &str) -> Role {
        if self.announced.len() >= MAX_ANNOUNCED || self.announced.iter().any(|a| a == p) {
            return Role::Other(None);
        }
        self.announced.push(p.to_owned());
        Role::Other(Some(p.to_owned()))
    }
}

fn metadata(core: &mut Core, msg: &Value) -> Result<(), ProtocolError> {
    let m = req_obj(msg, "audioMetadata", "audioMetadata")?;
    if let Some(enc) = opt_str(m, "encoding", "audioMetadata.encoding")? {
        if !enc.eq_ignore_ascii_case("PCM") {
            return Err(ProtocolError::UnsupportedEncoding {
                encoding: clip(enc),
                supported: "PCM",
            });
        }
    }
    let hz = opt_u64(m, "sampleRate", "audioMetadata.sampleRate")?
        .ok_or(ProtocolError::Missing { field: "audioMetadata.sampleRate" })?;
    let rate = match hz {
        16_000 => SampleRate::HZ_16000,
        24_000 => SampleRate::HZ_24000,
        _ => return Err(ProtocolError::UnsupportedRate { hz, supported: "16000 or 24000" }),
    };
    let channels = opt_u64(m, "channels", "audioMetadata.channels")?.unwrap_or(1);
    if channels != 1 {
        return Err(ProtocolError::UnsupportedChannels { channels });
    }
    // `length` is not checked: it is bytes per 20 ms in practice but documented once as
    // milliseconds, and payloads are re-chunked anyway.
    let subscription = opt_str(m, "subscriptionId", "audioMetadata.subscriptionId")?;
    match core.rate {
        // A repeat that changes nothing is harmless; a new format mid-stream is not.
        Some(r) if r == rate => return Ok(()),
        Some(_) => {
            return Err(ProtocolError::SecondStart { start: "AudioMetadata with another rate" })
        }
        None => {}
    }
    core.start(StartInfo {
        sample_rate: rate,
        peer_call_id: None,
        stream_id: subscription.map(str::to_owned),
        caller_number: None,
        called_number: None,
        custom: Default::default(),
        token: None,
    });
    Ok(())
}

/// ACS accepts either key casing; camelCase is what its inbound documentation uses.
pub(crate) fn audio_message(buf: &mut Vec<u8>, pcm: &[f32]) -> Message {
    pcm::encode_s16le(pcm, buf);
    let mut s = String::with_capacity(64 + buf.len() * 4 / 3);
    s.push_str(r#"{"kind":"AudioData","audioData":{"data":""#);
    pcm::encode_b64(buf, &mut s);
    s.push_str(r#""},"stopAudio":null}"#);
    Message::Text(s)
}

pub(crate) fn clear_message() -> Message {
    Message::Text(r#"{"kind":"StopAudio","audioData":null,"stopAudio":{}}"#.to_owned())
}

#[cfg(test)]
#[path = "acs_tests.rs"]
mod tests;
