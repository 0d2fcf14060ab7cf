use serde_json::json;

use crate::test_util::{drain, frames, json, s16le};
use crate::*;

const START: &str = r#"{"type":"start","version":1,"callId":"491f0b00-ffff-4bc9-a43e-b226498ec22a",
    "tenantId":"72f988bf-0000","from":"+15551230000","to":"+15559990000","token":"t0k",
    "custom":{"lang":"fr-CA"},"format":{"encoding":"L16","sampleRate":16000,"channels":1}}"#;

fn started() -> Connection {
    let mut c = Connection::new(Protocol::Relay, Options::default());
    c.handle_text(START).unwrap();
    drain(&mut c);
    c
}

#[test]
fn start_gives_the_graph_call() {
    let mut c = Connection::new(Protocol::Relay, Options::default());
    c.handle_text(START).unwrap();
    assert_eq!(c.sample_rate(), Some(SampleRate::HZ_16000));
    let Some(Event::Started(info)) = c.poll_event() else { panic!("no start") };
    assert_eq!(info.peer_call_id.as_deref(), Some("491f0b00-ffff-4bc9-a43e-b226498ec22a"));
    assert_eq!(info.stream_id, None);
    assert_eq!(info.caller_number.as_deref(), Some("+15551230000"));
    assert_eq!(info.called_number.as_deref(), Some("+15559990000"));
    assert_eq!(info.token.as_deref(), Some("t0k"));
    assert_eq!(info.custom.get("tenantId").map(String::as_str), Some("72f988bf-0000"));
    assert_eq!(info.custom.get("lang").map(String::as_str), Some("fr-CA"));
}

#[test]
fn keys_and_types_are_case_insensitive() {
    let mut c = Connection::new(Protocol::Relay, Options::default());
    c.handle_text(
        r#"{"Type":"Start","CallId":"c1","Format":{"Encoding":"l16","SampleRate":16000}}"#,
    )
    .unwrap();
    c.handle_text(r#"{"TYPE":"DTMF","Digit":"9"}"#).unwrap();
    let ev = drain(&mut c);
    assert!(matches!(&ev[0], Event::Started(i) if i.peer_call_id.as_deref() == Some("c1")));
    assert_eq!(ev[1], Event::Dtmf('9'));
}

#[test]
fn binary_audio_is_rechunked() {
    let mut c = started();
    c.handle_binary(&s16le(vec![1000; 320])).unwrap();
    assert_eq!(frames(&drain(&mut c)).len(), 1);
    // 500 samples: one frame and 180 left; 140 more complete the next.
    c.handle_binary(&s16le((0..500).map(|i| i as i16))).unwrap();
    let ev = drain(&mut c);
    assert_eq!(frames(&ev).len(), 1);
    assert_eq!(frames(&ev)[0][1], 1.0 / 32_768.0);
    c.handle_binary(&s16le(vec![0; 140])).unwrap();
    let ev = drain(&mut c);
    assert_eq!(frames(&ev).len(), 1);
    assert_eq!(frames(&ev)[0][0], 320.0 / 32_768.0);
    assert!(frames(&ev).iter().all(|f| f.len() == 320));
    c.handle_binary(&[]).unwrap();
    assert_eq!(c.stats().frames, 3);
}

#[test]
fn odd_length_audio_is_refused() {
    let mut c = started();
    let e = c.handle_binary(&[0; 639]).unwrap_err();
    assert_eq!(e.to_string(), "relay audio frame of 639 bytes (must be a multiple of 2)");
    assert_eq!(e.close_code(), 1007);
    assert!(drain(&mut c).is_empty());
}

#[test]
fn dtmf_mark_and_hangup() {
    let mut c = started();
    c.handle_text(r#"{"type":"dtmf","digit":"5"}"#).unwrap();
    c.handle_text(r#"{"type":"mark","name":"greeting"}"#).unwrap();
    c.handle_text(r#"{"type":"hangup","reason":"caller hung up"}"#).unwrap();
    assert_eq!(
        drain(&mut c),
        vec![
            Event::Dtmf('5'),
            Event::MarkPlayed("greeting".into()),
            Event::Stopped { reason: "caller hung up".into() }
        ]
    );
    let e = c.handle_binary(&[0; 640]).unwrap_err();
    assert_eq!(e.to_string(), "message after hangup");
    let e = c.handle_text(r#"{"type":"dtmf","digit":"5"}"#).unwrap_err();
    assert_eq!(e.to_string(), "message after hangup");
}

#[test]
fn order_errors() {
    let mut c = Connection::new(Protocol::Relay, Options::default());
    assert_eq!(c.handle_binary(&[0; 640]).unwrap_err().to_string(), "audio before start");
    let e = c.handle_text(r#"{"type":"dtmf","digit":"1"}"#).unwrap_err();
    assert_eq!(e.to_string(), "dtmf before start");
    let e = c.handle_text(r#"{"type":"mark","name":"m"}"#).unwrap_err();
    assert_eq!(e.to_string(), "mark before start");
    c.handle_text(START).unwrap();
    assert_eq!(c.handle_text(START).unwrap_err().to_string(), "second start");
    assert_eq!(drain(&mut c).len(), 1);
}

#[test]
fn malformed_start_names_what_is_wrong() {
    let with = |format: &str| format!(r#"{{"type":"start","callId":"c1","format":{format}}}"#);
    let cases = [
        (
            with(r#"{"encoding":"L16","sampleRate":8000}"#),
            "sample rate 8000 not supported (expected 16000)",
        ),
        (
            with(r#"{"encoding":"L16","sampleRate":44100}"#),
            "sample rate 44100 not supported (expected 16000)",
        ),
        (
            with(r#"{"encoding":"PCMU","sampleRate":16000}"#),
            "encoding \"PCMU\" not supported (expected L16)",
        ),
        (
            with(r#"{"encoding":"L16","sampleRate":16000,"channels":2}"#),
            "2 channels not supported (expected 1)",
        ),
        (with(r#""L16""#), "format is not an object"),
        (
            r#"{"type":"start","format":{"encoding":"L16","sampleRate":16000}}"#.into(),
            "callId is missing",
        ),
        (r#"{"type":"start","callId":" ","format":{}}"#.into(), "callId is not a non-empty string"),
        (
            r#"{"type":"start","version":2,"callId":"c1"}"#.into(),
            "relay protocol version 2 not supported (expected 1)",
        ),
        (r#"{"type":"play","url":"x"}"#.into(), "unknown type \"play\""),
        (r#"{"type":"start","callId":"c1""#.into(), "not JSON at byte 29"),
        ("\"start\"".into(), "message is not a JSON object"),
    ];
    for (msg, want) in cases {
        let mut c = Connection::new(Protocol::Relay, Options::default());
        assert_eq!(c.handle_text(&msg).unwrap_err().to_string(), want, "{msg}");
        assert_eq!(c.sample_rate(), None);
    }
}

#[test]
fn outbound_audio_clear_mark_and_hangup() {
    let mut c = started();
    assert_eq!(c.audio_message(&[0.5, -1.0]), Some(Message::Binary(s16le([16_384, -32_767]))));
    assert_eq!(json(c.clear_message()), json!({"type": "clear"}));
    assert_eq!(json(c.mark_message("m\"1")), json!({"type": "mark", "name": "m\"1"}));
    assert_eq!(json(c.hangup_message("done")), json!({"type": "hangup", "reason": "done"}));
}

#[test]
fn call_control_carries_the_graph_request_and_the_decision() {
    let mut c = started();
    let body = json!({"transferTarget": {"endpointType": "default",
        "identity": {"phone": {"@odata.type": "#microsoft.graph.identity", "id": "+15550001111"}}}});
    let decision = json!({"queue": "billing", "skill": "fr"});
    let m = json(c.call_control_message("transfer", &body, &decision));
    assert_eq!(
        m,
        json!({"type": "callControl", "action": "transfer",
            "request": {"method": "POST",
                "path": "/communications/calls/491f0b00-ffff-4bc9-a43e-b226498ec22a/transfer",
                "body": body},
            "decision": decision})
    );
    assert_eq!(c.call_control_message("../x", &body, &decision), None);
    assert_eq!(c.call_control_message("", &body, &decision), None);
}

#[test]
fn call_id_is_percent_encoded_in_the_path() {
    let mut c = Connection::new(Protocol::Relay, Options::default());
    c.handle_text(
        r#"{"type":"start","callId":"a/b c","format":{"encoding":"L16","sampleRate":16000}}"#,
    )
    .unwrap();
    let m = json(c.call_control_message("redirect", &json!({}), &json!(null)));
    assert_eq!(m["request"]["path"], "/communications/calls/a%2Fb%20c/redirect");
}

#[test]
fn the_documented_inbound_examples_are_accepted() {
    let doc = include_str!("../../../docs/relay-protocol.md");
    let blocks: Vec<serde_json::Value> = doc
        .split("```json\n")
        .skip(1)
        .filter_map(|b| b.split("```").next())
        .filter_map(|b| serde_json::from_str(b).ok())
        .collect();
    let of_type = |t: &str| blocks.iter().filter(|b| b["type"] == t).cloned().collect::<Vec<_>>();
    let mut c = Connection::new(Protocol::Relay, Options::default());
    let start = of_type("start");
    assert_eq!(start.len(), 1);
    c.handle_text(&start[0].to_string()).unwrap();
    for t in ["dtmf", "mark", "hangup"] {
        let examples = of_type(t);
        assert!(!examples.is_empty(), "no {t} example");
        c.handle_text(&examples[0].to_string()).unwrap();
    }
    let ev = drain(&mut c);
    assert!(matches!(&ev[0], Event::Started(i) if i.custom.contains_key("lang")));
    assert!(matches!(ev.last(), Some(Event::Stopped { .. })));
    // And what the worker sends matches the documented shapes.
    for (t, m) in [("clear", c.clear_message()), ("mark", c.mark_message("prompt-3"))] {
        assert!(of_type(t).contains(&json(m)), "{t}");
    }
    assert!(of_type("hangup").contains(&json(c.hangup_message("goodbye played"))));
}
