use serde_json::json;

use crate::test_util::{b64, drain, frames, json, s16le, unb64};
use crate::*;

const META_16K: &str = r#"{"kind":"AudioMetadata","audioMetadata":{"subscriptionId":"sub-1",
    "encoding":"PCM","sampleRate":16000,"channels":1,"length":640}}"#;

fn started() -> Connection {
    let mut c = Connection::new(Protocol::Acs, Options::default());
    c.handle_text(META_16K).unwrap();
    drain(&mut c);
    c
}

fn audio(participant: Option<&str>, samples: &[i16], silent: bool) -> String {
    let data = b64(&s16le(samples.iter().copied()));
    let mut d = json!({"timestamp": "2024-05-01T10:00:00.000Z", "data": data, "silent": silent});
    if let Some(p) = participant {
        d["participantRawID"] = json!(p);
    }
    json!({"kind": "AudioData", "audioData": d}).to_string()
}

#[test]
fn audio_metadata_starts_the_stream() {
    let mut c = Connection::new(Protocol::Acs, Options::default());
    c.handle_text(META_16K).unwrap();
    assert_eq!(c.sample_rate(), Some(SampleRate::HZ_16000));
    let Some(Event::Started(info)) = c.poll_event() else { panic!("no start") };
    assert_eq!(info.sample_rate, SampleRate::HZ_16000);
    assert_eq!(info.stream_id.as_deref(), Some("sub-1"));
    assert_eq!(info.peer_call_id, None);
    assert_eq!(info.token, None);
}

#[test]
fn keys_and_kinds_are_case_insensitive() {
    let mut c = Connection::new(Protocol::Acs, Options::default());
    c.handle_text(r#"{"KIND":"audioMetadata","AudioMetadata":{"SampleRate":24000,"Encoding":"pcm","Channels":1}}"#)
        .unwrap();
    assert_eq!(c.sample_rate(), Some(SampleRate::HZ_24000));
    let data = b64(&s16le(vec![100; 480]));
    c.handle_text(&format!(
        r#"{{"Kind":"AudioData","AudioData":{{"ParticipantRawId":"8:acs:a","Data":"{data}","Silent":false}}}}"#
    ))
    .unwrap();
    c.handle_text(r##"{"kind":"dtmfdata","DTMFDATA":{"DATA":"#"}}"##).unwrap();
    let ev = drain(&mut c);
    assert_eq!(frames(&ev).len(), 1);
    assert_eq!(frames(&ev)[0].len(), 480);
    assert_eq!(ev.last(), Some(&Event::Dtmf('#')));
}

#[test]
fn audio_is_rechunked_into_20_ms_frames() {
    let mut c = started();
    let ramp: Vec<i16> = (0..800).map(|i| i * 10).collect();
    // 10 ms, then 40 ms: two whole frames and 10 ms left over.
    c.handle_text(&audio(None, &ramp[..160], false)).unwrap();
    assert!(drain(&mut c).is_empty());
    c.handle_text(&audio(None, &ramp[160..], false)).unwrap();
    let ev = drain(&mut c);
    let f = frames(&ev);
    assert_eq!(f.len(), 2);
    assert!(f.iter().all(|f| f.len() == 320));
    assert_eq!(f[1][0], f32::from(ramp[320]) / 32_768.0);
    assert_eq!(c.stats().frames, 2);
    c.handle_text(&audio(None, &ramp[..160], false)).unwrap();
    assert_eq!(frames(&drain(&mut c)).len(), 1);
}

#[test]
fn silent_frames_become_zero_frames_even_without_data() {
    let mut c = started();
    c.handle_text(r#"{"kind":"AudioData","audioData":{"silent":true}}"#).unwrap();
    c.handle_text(r#"{"kind":"AudioData","audioData":{"data":"","isSilent":true}}"#).unwrap();
    let ev = drain(&mut c);
    let f = frames(&ev);
    assert_eq!(f.len(), 2);
    assert!(f.iter().all(|f| f.len() == 320 && f.iter().all(|&s| s == 0.0)));
    assert_eq!(c.stats().silent_frames, 2);
}

#[test]
fn configured_caller_is_kept_and_others_announced_once() {
    let options = Options { caller: Some("8:acs:caller".into()) };
    let mut c = Connection::new(Protocol::Acs, options);
    c.handle_text(META_16K).unwrap();
    drain(&mut c);
    c.handle_text(&audio(Some("8:acs:agent"), &[5000; 320], false)).unwrap();
    c.handle_text(&audio(Some("8:acs:caller"), &[100; 320], false)).unwrap();
    c.handle_text(&audio(Some("8:acs:agent"), &[5000; 320], false)).unwrap();
    let ev = drain(&mut c);
    assert_eq!(ev[0], Event::OtherParticipant { id: "8:acs:agent".into() });
    assert_eq!(ev.len(), 2, "{ev:?}");
    assert_eq!(frames(&ev)[0][0], 100.0 / 32_768.0);
    assert_eq!(c.stats().other_participant_frames, 2);
}

#[test]
fn first_participant_to_speak_becomes_the_caller() {
    let mut c = started();
    // A is silent (tentatively the caller, so timing keeps running), B's silence is dropped.
    c.handle_text(&audio(Some("A"), &[0; 320], true)).unwrap();
    c.handle_text(&audio(Some("B"), &[0; 320], true)).unwrap();
    c.handle_text(&audio(Some("B"), &[700; 320], false)).unwrap();
    c.handle_text(&audio(Some("A"), &[0; 320], true)).unwrap();
    c.handle_text(&audio(Some("B"), &[800; 320], false)).unwrap();
    let ev = drain(&mut c);
    assert_eq!(frames(&ev).len(), 3);
    assert_eq!(frames(&ev)[1][0], 700.0 / 32_768.0);
    assert_eq!(ev.iter().filter(|e| matches!(e, Event::OtherParticipant { .. })).count(), 1);
    assert!(ev.contains(&Event::OtherParticipant { id: "A".into() }));
    assert_eq!(c.stats().other_participant_frames, 2);
}

#[test]
fn mixed_audio_without_participant_is_all_caller() {
    let mut c = Connection::new(Protocol::Acs, Options { caller: Some("X".into()) });
    c.handle_text(META_16K).unwrap();
    c.handle_text(&audio(None, &[1; 320], false)).unwrap();
    assert_eq!(frames(&drain(&mut c)).len(), 1);
    assert_eq!(c.stats().other_participant_frames, 0);
}

#[test]
fn dtmf_data_gives_the_digit() {
    let mut c = started();
    c.handle_text(r#"{"kind":"DtmfData","dtmfData":{"data":"3"}}"#).unwrap();
    c.handle_text(r#"{"kind":"DtmfData","dtmfData":{"data":"pound"}}"#).unwrap();
    assert_eq!(drain(&mut c), vec![Event::Dtmf('3'), Event::Dtmf('#')]);
    let e = c.handle_text(r#"{"kind":"DtmfData","dtmfData":{"data":"x"}}"#).unwrap_err();
    assert_eq!(e.to_string(), "DTMF digit \"x\" is not one of 0-9 * # A-D");
}

#[test]
fn order_errors() {
    let mut c = Connection::new(Protocol::Acs, Options::default());
    let e = c.handle_text(&audio(None, &[0; 320], false)).unwrap_err();
    assert_eq!(e.to_string(), "AudioData before AudioMetadata");
    assert_eq!(e.close_code(), 1007);
    let e = c.handle_text(r#"{"kind":"DtmfData","dtmfData":{"data":"1"}}"#).unwrap_err();
    assert_eq!(e.to_string(), "DtmfData before AudioMetadata");
    c.handle_text(META_16K).unwrap();
    // The same format again is harmless; another rate is not.
    c.handle_text(META_16K).unwrap();
    assert_eq!(drain(&mut c).len(), 1);
    let e = c
        .handle_text(r#"{"kind":"AudioMetadata","audioMetadata":{"sampleRate":24000}}"#)
        .unwrap_err();
    assert_eq!(e.to_string(), "second AudioMetadata with another rate");
    assert_eq!(c.sample_rate(), Some(SampleRate::HZ_16000));
}

#[test]
fn format_errors() {
    let cases = [
        (
            r#"{"kind":"AudioMetadata","audioMetadata":{"sampleRate":44100}}"#,
            "sample rate 44100 not supported (expected 16000 or 24000)",
        ),
        (
            r#"{"kind":"AudioMetadata","audioMetadata":{"sampleRate":16000,"encoding":"OPUS"}}"#,
            "encoding \"OPUS\" not supported (expected PCM)",
        ),
        (
            r#"{"kind":"AudioMetadata","audioMetadata":{"sampleRate":16000,"channels":2}}"#,
            "2 channels not supported (expected 1)",
        ),
        (
            r#"{"kind":"AudioMetadata","audioMetadata":{"encoding":"PCM"}}"#,
            "audioMetadata.sampleRate is missing",
        ),
        (
            r#"{"kind":"AudioMetadata","audioMetadata":{"sampleRate":"fast"}}"#,
            "audioMetadata.sampleRate \"fast\" is not a whole number",
        ),
        (r#"{"kind":"AudioMetadata"}"#, "audioMetadata is missing"),
        (r#"{"kind":"Foo"}"#, "unknown kind \"Foo\""),
        (r#"{"audioData":{}}"#, "kind is missing"),
        (r#"{"kind":7}"#, "kind is not a string"),
    ];
    for (msg, want) in cases {
        let mut c = Connection::new(Protocol::Acs, Options::default());
        assert_eq!(c.handle_text(msg).unwrap_err().to_string(), want, "{msg}");
        assert_eq!(c.sample_rate(), None);
    }
}

#[test]
fn payload_errors_leave_the_stream_untouched() {
    let mut c = started();
    let e = c
        .handle_text(r#"{"kind":"AudioData","audioData":{"data":"%%%notb64","silent":false}}"#)
        .unwrap_err();
    assert_eq!(e.to_string(), "AudioData.data is not base64");
    let odd = b64(&[1, 2, 3]);
    let e = c
        .handle_text(&format!(r#"{{"kind":"AudioData","audioData":{{"data":"{odd}"}}}}"#))
        .unwrap_err();
    assert_eq!(e.to_string(), "AudioData.data of 3 bytes (must be a multiple of 2)");
    let e = c.handle_text(r#"{"kind":"AudioData","audioData":{"silent":false}}"#).unwrap_err();
    assert_eq!(e.to_string(), "AudioData.data is missing");
    let e = c
        .handle_text(r#"{"kind":"AudioData","audioData":{"data":"", "silent":"no"}}"#)
        .unwrap_err();
    assert_eq!(e.to_string(), "AudioData.silent is not true or false");
    assert!(drain(&mut c).is_empty());
    c.handle_text(&audio(None, &[9; 320], false)).unwrap();
    assert_eq!(frames(&drain(&mut c)).len(), 1);
    assert_eq!(c.stats().messages, 6);
}

#[test]
fn outbound_audio_and_stop_audio() {
    let mut c = started();
    let m = json(c.audio_message(&[0.5, -0.5, 0.0]));
    assert_eq!(m["kind"], "AudioData");
    assert_eq!(m["stopAudio"], serde_json::Value::Null);
    let bytes = unb64(m["audioData"]["data"].as_str().unwrap());
    assert_eq!(bytes, s16le([16_384, -16_384, 0]));
    let m = json(c.clear_message());
    assert_eq!(m, json!({"kind": "StopAudio", "audioData": null, "stopAudio": {}}));
    assert_eq!(c.mark_message("m1"), None);
    assert_eq!(c.call_control_message("transfer", &json!({}), &json!({})), None);
    assert_eq!(c.hangup_message("bye"), None);
}
