use serde_json::json;

use crate::test_util::{b64, drain, frames, json};
use crate::*;

const START: &str = r#"{"event":"start","sequenceNumber":"1","streamSid":"MZ123",
    "start":{"streamSid":"MZ123","accountSid":"AC1","callSid":"CA9","tracks":["inbound"],
    "customParameters":{"From":"+15551230000","to":"+15559990000","token":"s3cret","queue":"sales","n":4},
    "mediaFormat":{"encoding":"audio/x-mulaw","sampleRate":8000,"channels":1}}}"#;

fn started() -> Connection {
    let mut c = Connection::new(Protocol::Twilio, Options::default());
    c.handle_text(r#"{"event":"connected","protocol":"Call","version":"1.0.0"}"#).unwrap();
    c.handle_text(START).unwrap();
    drain(&mut c);
    c
}

/// A media message of `ms` milliseconds of µ-law `code` (0xff is silence).
fn media(seq: u64, ts: u64, ms: usize, code: u8, track: &str) -> String {
    json!({"event": "media", "sequenceNumber": seq.to_string(), "streamSid": "MZ123",
        "media": {"track": track, "chunk": seq.to_string(), "timestamp": ts.to_string(),
            "payload": b64(&vec![code; ms * 8])}})
    .to_string()
}

#[test]
fn start_gives_the_call_and_its_parameters() {
    let mut c = Connection::new(Protocol::Twilio, Options::default());
    c.handle_text(r#"{"event":"connected","protocol":"Call","version":"1.0.0"}"#).unwrap();
    assert_eq!(c.poll_event(), None);
    c.handle_text(START).unwrap();
    assert_eq!(c.sample_rate(), Some(SampleRate::HZ_8000));
    let Some(Event::Started(info)) = c.poll_event() else { panic!("no start") };
    assert_eq!(info.peer_call_id.as_deref(), Some("CA9"));
    assert_eq!(info.stream_id.as_deref(), Some("MZ123"));
    assert_eq!(info.caller_number.as_deref(), Some("+15551230000"));
    assert_eq!(info.called_number.as_deref(), Some("+15559990000"));
    assert_eq!(info.token.as_deref(), Some("s3cret"));
    assert_eq!(info.custom.get("queue").map(String::as_str), Some("sales"));
    assert_eq!(info.custom.get("n").map(String::as_str), Some("4"));
}

#[test]
fn media_is_decoded_and_rechunked() {
    let mut c = started();
    // 0x80 is µ-law's largest positive code.
    c.handle_text(&media(2, 0, 10, 0x80, "inbound")).unwrap();
    assert!(drain(&mut c).is_empty());
    c.handle_text(&media(3, 10, 30, 0x80, "inbound")).unwrap();
    let ev = drain(&mut c);
    let f = frames(&ev);
    assert_eq!(f.len(), 2);
    assert!(f.iter().all(|f| f.len() == 160 && f.iter().all(|&s| s > 0.9)));
}

#[test]
fn outbound_track_is_ignored() {
    let mut c = started();
    c.handle_text(&media(2, 0, 20, 0x80, "outbound")).unwrap();
    assert!(drain(&mut c).is_empty());
    // It did not consume a sequence number either.
    c.handle_text(&media(2, 0, 20, 0x80, "inbound")).unwrap();
    assert_eq!(frames(&drain(&mut c)).len(), 1);
}

#[test]
fn duplicates_and_stale_sequence_numbers_are_dropped() {
    let mut c = started();
    c.handle_text(&media(5, 0, 20, 0xff, "inbound")).unwrap();
    c.handle_text(&media(5, 0, 20, 0xff, "inbound")).unwrap();
    c.handle_text(&media(4, 0, 20, 0xff, "inbound")).unwrap();
    c.handle_text(&media(6, 20, 20, 0xff, "inbound")).unwrap();
    assert_eq!(frames(&drain(&mut c)).len(), 2);
    assert_eq!(c.stats().duplicates, 2);
    assert_eq!(c.stats().gaps_filled_ms, 0);
}

#[test]
fn timestamp_gaps_are_filled_with_silence() {
    let mut c = started();
    c.handle_text(&media(2, 0, 20, 0x80, "inbound")).unwrap();
    // 40 ms missing (two lost packets).
    c.handle_text(&media(5, 60, 20, 0x80, "inbound")).unwrap();
    let ev = drain(&mut c);
    let f = frames(&ev);
    assert_eq!(f.len(), 4);
    assert!(f[1].iter().chain(f[2]).all(|&s| s == 0.0));
    assert!(f[3].iter().all(|&s| s > 0.9));
    assert_eq!(c.stats().gaps_filled_ms, 40);
    // 10 ms early or late is clock jitter, not a gap.
    c.handle_text(&media(6, 90, 20, 0x80, "inbound")).unwrap();
    c.handle_text(&media(7, 105, 20, 0x80, "inbound")).unwrap();
    assert_eq!(frames(&drain(&mut c)).len(), 2);
    assert_eq!(c.stats().gaps_filled_ms, 40);
}

#[test]
fn a_long_gap_is_capped_at_one_second_and_the_timeline_resyncs() {
    let mut c = started();
    c.handle_text(&media(2, 1000, 20, 0x80, "inbound")).unwrap();
    c.handle_text(&media(3, 6020, 20, 0x80, "inbound")).unwrap();
    assert_eq!(c.stats().gaps_filled_ms, 1000);
    assert_eq!(frames(&drain(&mut c)).len(), 1 + 50 + 1);
    c.handle_text(&media(4, 6040, 20, 0x80, "inbound")).unwrap();
    assert_eq!(c.stats().gaps_filled_ms, 1000);
    assert_eq!(c.stats().frames, 53);
}

#[test]
fn dtmf_mark_and_stop() {
    let mut c = started();
    c.handle_text(r#"{"event":"dtmf","streamSid":"MZ123","sequenceNumber":"5","dtmf":{"track":"inbound_track","digit":"7"}}"#).unwrap();
    c.handle_text(r#"{"event":"dtmf","dtmf":{"track":"outbound_track","digit":"1"}}"#).unwrap();
    c.handle_text(r#"{"event":"mark","streamSid":"MZ123","mark":{"name":"prompt-3"}}"#).unwrap();
    c.handle_text(
        r#"{"event":"stop","streamSid":"MZ123","stop":{"accountSid":"AC1","callSid":"CA9"}}"#,
    )
    .unwrap();
    assert_eq!(
        drain(&mut c),
        vec![
            Event::Dtmf('7'),
            Event::MarkPlayed("prompt-3".into()),
            Event::Stopped { reason: "stop".into() }
        ]
    );
    let e = c.handle_text(&media(9, 0, 20, 0xff, "inbound")).unwrap_err();
    assert_eq!(e.to_string(), "message after stop");
}

#[test]
fn event_names_and_keys_ignore_case() {
    let mut c = Connection::new(Protocol::Twilio, Options::default());
    c.handle_text(&START.replace("\"event\":\"start\"", "\"Event\":\"START\"")).unwrap();
    c.handle_text(r#"{"EVENT":"Mark","Mark":{"Name":"m"}}"#).unwrap();
    let ev = drain(&mut c);
    assert_eq!(ev.last(), Some(&Event::MarkPlayed("m".into())));
}

#[test]
fn order_errors() {
    let mut c = Connection::new(Protocol::Twilio, Options::default());
    let e = c.handle_text(&media(1, 0, 20, 0xff, "inbound")).unwrap_err();
    assert_eq!(e.to_string(), "media before start");
    let e = c.handle_text(r#"{"event":"dtmf","dtmf":{"digit":"1"}}"#).unwrap_err();
    assert_eq!(e.to_string(), "dtmf before start");
    c.handle_text(START).unwrap();
    let e = c.handle_text(START).unwrap_err();
    assert_eq!(e.to_string(), "second start");
    assert_eq!(drain(&mut c).len(), 1);
}

#[test]
fn malformed_messages_name_what_is_wrong() {
    let fmt = |enc: &str, rate: &str| {
        format!(
            r#"{{"event":"start","start":{{"streamSid":"MZ1","mediaFormat":{{"encoding":"{enc}","sampleRate":{rate}}}}}}}"#
        )
    };
    let cases = [
        (fmt("audio/x-mulaw", "16000"), "sample rate 16000 not supported (expected 8000)"),
        (fmt("audio/x-l16", "8000"), "encoding \"audio/x-l16\" not supported (expected audio/x-mulaw)"),
        (r#"{"event":"start","start":{"mediaFormat":{"encoding":"audio/x-mulaw","sampleRate":8000}}}"#.into(), "start.streamSid is missing"),
        (r#"{"event":"start","start":{"streamSid":"MZ1"}}"#.into(), "start.mediaFormat is missing"),
        (r#"{"event":"foo"}"#.into(), "unknown event \"foo\""),
        (r#"{"streamSid":"MZ1"}"#.into(), "event is missing"),
        (r#"{"event":"media","media":{"payload":"AAAA"}"#.into(), "not JSON at byte 43"),
    ];
    for (msg, want) in cases {
        let mut c = Connection::new(Protocol::Twilio, Options::default());
        assert_eq!(c.handle_text(&msg).unwrap_err().to_string(), want, "{msg}");
    }
    let mut c = started();
    let e = c.handle_text(r#"{"event":"media","media":{"payload":"@@@@"}}"#).unwrap_err();
    assert_eq!(e.to_string(), "media.payload is not base64");
    let e = c
        .handle_text(r#"{"event":"media","sequenceNumber":"x7","media":{"payload":""}}"#)
        .unwrap_err();
    assert_eq!(e.to_string(), "sequenceNumber \"x7\" is not a whole number");
    let e = c.handle_text(r#"{"event":"mark","mark":{}}"#).unwrap_err();
    assert_eq!(e.to_string(), "mark.name is missing");
    assert!(drain(&mut c).is_empty());
}

#[test]
fn outbound_media_mark_and_clear() {
    let mut c = started();
    let m = json(c.audio_message(&[0.0; 160]));
    assert_eq!(m["event"], "media");
    assert_eq!(m["streamSid"], "MZ123");
    let payload = crate::test_util::unb64(m["media"]["payload"].as_str().unwrap());
    assert_eq!(payload, vec![0xff; 160]);
    let m = json(c.mark_message("end of \"greeting\""));
    assert_eq!(
        m,
        json!({"event": "mark", "streamSid": "MZ123", "mark": {"name": "end of \"greeting\""}})
    );
    assert_eq!(json(c.clear_message()), json!({"event": "clear", "streamSid": "MZ123"}));
    assert_eq!(c.call_control_message("transfer", &json!({}), &json!({})), None);
    assert_eq!(c.hangup_message("bye"), None);
}

#[test]
fn mulaw_round_trip_through_both_directions_keeps_the_level() {
    let mut c = started();
    let tone: Vec<f32> = (0..160)
        .map(|i| 0.3 * (i as f32 * 1000.0 * std::f32::consts::TAU / 8000.0).sin())
        .collect();
    let out = json(c.audio_message(&tone));
    let payload = out["media"]["payload"].as_str().unwrap();
    c.handle_text(&json!({"event": "media", "media": {"payload": payload}}).to_string()).unwrap();
    let ev = drain(&mut c);
    let back = frames(&ev)[0];
    let rms = |x: &[f32]| (x.iter().map(|s| s * s).sum::<f32>() / x.len() as f32).sqrt();
    let db = 20.0 * (rms(back) / rms(&tone)).log10();
    assert!(db.abs() < 0.5, "level changed by {db} dB");
}
