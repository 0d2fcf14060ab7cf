use std::time::Duration;

use serde_json::json;

use super::*;
use crate::config::TransferTarget;
use crate::decision::{DecisionTarget, Speaker, Timings, TranscriptLine};
use crate::router::{Priority, RouteOutcome};

fn unhex(s: &str) -> Vec<u8> {
    (0..s.len()).step_by(2).map(|i| u8::from_str_radix(&s[i..i + 2], 16).unwrap()).collect()
}

/// The JSON inside a User-to-User value.
fn uui_json(value: &str) -> serde_json::Value {
    let hex = value.strip_suffix(";encoding=hex;purpose=call-context").expect("RFC 7433 parameters");
    serde_json::from_slice(&unhex(hex)).unwrap()
}

fn agent_decision() -> Decision {
    let target = TransferTarget {
        sip: Some("sip:alice@cc.example.com".into()),
        teams_user_id: Some("550fae72-d251-43ec-868c-373732c2704f".into()),
        acs_id: Some("8:acs:res_alice".into()),
        phone: Some("+14255550101".into()),
    };
    let outcome = RouteOutcome::Agent { queue: "billing".into(), agent_id: "alice".into(), agent_name: "Alice Smith".into(), target };
    Decision::from_route("a84b4c76e66710@pc33.example.com", "contoso", &outcome, DecisionReason::Intent)
        .with_intent("billing", 0.934)
        .with_slot("account", "12345678")
        .with_transcript(vec![
            TranscriptLine { speaker: Speaker::Attendant, text: "How can I help?".into(), at_ms: 200 },
            TranscriptLine { speaker: Speaker::Caller, text: "a question about my bill".into(), at_ms: 2100 },
        ])
        .with_timings(Timings { call_ms: 5400, last_word_to_decision_ms: Some(310), classify_us: Some(850) })
}

fn header<'a>(r: &'a SipRefer, name: &str) -> Option<&'a str> {
    r.headers.iter().find(|(n, _)| n == name).map(|(_, v)| v.as_str())
}

#[test]
fn sip_refer_carries_context_headers_and_uui() {
    let mut d = agent_decision();
    d.call_id = "c-1".into();
    let r = d.sip_refer().unwrap();
    assert_eq!(r.refer_to, "sip:alice@cc.example.com");
    let names: Vec<&str> = r.headers.iter().map(|(n, _)| n.as_str()).collect();
    assert_eq!(
        names,
        ["User-to-User", "X-Attendant-Call-Id", "X-Attendant-Tenant", "X-Attendant-Reason", "X-Attendant-Intent", "X-Attendant-Confidence", "X-Attendant-Queue", "X-Attendant-Agent", "X-Attendant-Slots"]
    );
    assert_eq!(header(&r, "X-Attendant-Call-Id"), Some("c-1"));
    assert_eq!(header(&r, "X-Attendant-Tenant"), Some("contoso"));
    assert_eq!(header(&r, "X-Attendant-Reason"), Some("intent"));
    assert_eq!(header(&r, "X-Attendant-Confidence"), Some("0.93"));
    assert_eq!(header(&r, "X-Attendant-Slots"), Some("account=12345678"));
    let uui = header(&r, "User-to-User").unwrap();
    assert!(uui.len() <= UUI_MAX_VALUE_LEN);
    assert_eq!(r.refer_to_headers, vec![("User-to-User".to_string(), uui.to_string())]);
    let ctx = uui_json(uui);
    assert_eq!(ctx["v"], 1);
    assert_eq!(ctx["c"], "c-1");
    assert_eq!(ctx["t"], "contoso");
    assert_eq!(ctx["r"], "intent");
    assert_eq!(ctx["i"], "billing");
    assert_eq!(ctx["p"].as_f64().unwrap(), 0.93);
    assert_eq!(ctx["q"], "billing");
    assert_eq!(ctx["a"], "alice");
    assert_eq!(ctx["s"], json!({"account": "12345678"}));
    // Whatever of the caller's last words fit, from the start.
    let said = ctx["x"].as_str().unwrap();
    assert!("a question about my bill".starts_with(said) && !said.is_empty(), "{said}");
}

#[test]
fn no_refer_without_transfer_or_valid_uri() {
    let mut d = agent_decision();
    d.target.address.sip = Some("sip:alice@x.com>\r\nContact: <sip:evil@x.com".into());
    assert_eq!(d.sip_refer(), None);
    d.target.address.sip = None;
    assert_eq!(d.sip_refer(), None);
    let d = Decision::new("c", "t", DecisionReason::Closed, DecisionTarget::hangup());
    assert_eq!(d.sip_refer(), None);
    assert_eq!(d.graph_transfer_body(), None);
    assert_eq!(d.acs_transfer_body(), None);
    let d = Decision::new("c", "t", DecisionReason::CallbackAccepted, DecisionTarget::callback("q", Some("+14255550100".into()), Some(600)));
    assert_eq!(d.sip_refer(), None);
}

#[test]
fn header_injection_is_impossible() {
    let mut d = agent_decision();
    d.call_id = "abc\r\nVia: SIP/2.0/UDP evil".into();
    d.tenant = "t\nX: y".into();
    d.intent = Some("billing\r\n\r\nINVITE".into());
    d.target.queue = Some("q;x=1,y<z>\"".into());
    d.slots.insert("evil\r\nkey".into(), "v\u{0}al;ue=\r\nX-Injected: 1".into());
    d.slots.insert("city".into(), "Zürich 東京".into());
    let r = d.sip_refer().unwrap();
    for (name, value) in r.headers.iter().chain(&r.refer_to_headers) {
        assert!(name.bytes().all(|b| b.is_ascii_alphanumeric() || b == b'-'), "{name}");
        assert!(value.bytes().all(|b| b.is_ascii_graphic()), "{name}: {value:?}");
        assert!(value.len() <= HEADER_VALUE_MAX.max(UUI_MAX_VALUE_LEN), "{name}");
    }
    assert_eq!(header(&r, "X-Attendant-Call-Id"), Some("abc%0D%0AVia:%20SIP/2.0/UDP%20evil"));
    assert_eq!(header(&r, "X-Attendant-Queue"), Some("q%3Bx%3D1%2Cy%3Cz%3E%22"));
    // Pairs keep their separators unambiguous; non-ASCII is UTF-8 percent-encoded.
    assert_eq!(
        header(&r, "X-Attendant-Slots"),
        Some("account=12345678;city=Z%C3%BCrich%20%E6%9D%B1%E4%BA%AC;evil%0D%0Akey=v%00al%3Bue%3D%0D%0AX-Injected:%201")
    );
    // UUI is hex: the raw text round-trips inside.
    let ctx = uui_json(header(&r, "User-to-User").unwrap());
    assert_eq!(ctx["t"], "t\nX: y");
}

#[test]
fn header_values_are_cut_without_splitting_escapes() {
    assert_eq!(header_value("ab\ncd", 4), "ab");
    assert_eq!(header_value("ab\ncd", 5), "ab%0A");
    // 6 characters per é: 42 whole ones fit in 256, never half of one.
    assert_eq!(header_value(&"é".repeat(100), 256), "%C3%A9".repeat(42));
    let mut slots = BTreeMap::new();
    slots.insert("a".to_string(), "x".repeat(200));
    slots.insert("b".to_string(), "y".repeat(100));
    slots.insert("c".to_string(), "z".into());
    // b does not fit after a: dropped whole, c still goes in.
    assert_eq!(slots_value(&slots, 256), format!("a={};c=z", "x".repeat(200)));
}

#[test]
fn uui_stays_under_limit_dropping_transcript_then_slots() {
    let mut d = agent_decision();
    d.transcript.push(TranscriptLine { speaker: Speaker::Caller, text: "word ".repeat(200), at_ms: 3000 });
    // Room for everything: the utterance is cut to fit.
    let v = d.uui_value(2000).unwrap();
    assert!(v.len() <= 2000);
    let ctx = uui_json(&v);
    assert_eq!(ctx["s"]["account"], "12345678");
    assert!(ctx["x"].as_str().unwrap().starts_with("word word"));
    assert!(v.len() > 1990, "cut to the longest prefix that fits: {}", v.len());

    // The default limit: with this long Call-ID the utterance goes, then the slots.
    let v = d.uui_value(UUI_MAX_VALUE_LEN).unwrap();
    assert!(v.len() <= UUI_MAX_VALUE_LEN, "{}", v.len());
    let ctx = uui_json(&v);
    assert!(ctx.get("x").is_none() && ctx.get("s").is_none());
    assert_eq!((ctx["i"].as_str(), ctx["q"].as_str(), ctx["a"].as_str()), (Some("billing"), Some("billing"), Some("alice")));
    assert_eq!(ctx["c"], d.call_id.as_str());

    // A tiny limit keeps only the essentials, or gives up.
    let ctx = uui_json(&d.uui_value(34 + 2 * 90).unwrap());
    assert_eq!(ctx.as_object().unwrap().keys().collect::<Vec<_>>(), ["c", "r", "t", "v"]);
    assert_eq!(d.uui_value(34 + 2 * 69), None);
    assert_eq!(d.uui_value(10), None);
    // And a REFER without UUI still carries the X- headers.
    let r = d.sip_refer_with(60).unwrap();
    assert!(header(&r, "User-to-User").is_none() && r.refer_to_headers.is_empty());
    assert!(header(&r, "X-Attendant-Call-Id").is_some());
}

#[test]
fn graph_transfer_body_for_teams_user() {
    let d = agent_decision();
    assert_eq!(
        d.graph_transfer_body().unwrap(),
        json!({"transferTarget": {
            "@odata.type": "#microsoft.graph.invitationParticipantInfo",
            "endpointType": "default",
            "identity": {
                "@odata.type": "#microsoft.graph.identitySet",
                "user": {"@odata.type": "#microsoft.graph.identity", "id": "550fae72-d251-43ec-868c-373732c2704f", "displayName": "Alice Smith"}
            }
        }})
    );
}

#[test]
fn graph_transfer_body_for_phone_and_none_without_address() {
    let target = TransferTarget { phone: Some("+14255550100".into()), sip: Some("sip:q@x.com".into()), ..Default::default() };
    let o = RouteOutcome::Queue { queue: "general".into(), target, position: 1, estimated_wait: Duration::from_secs(30) };
    let mut d = Decision::from_route("c1", "t1", &o, DecisionReason::Dtmf);
    let body = d.graph_transfer_body().unwrap();
    assert_eq!(body["transferTarget"]["identity"], json!({"@odata.type": "#microsoft.graph.identitySet", "phone": {"@odata.type": "#microsoft.graph.identity", "id": "+14255550100"}}));
    assert_eq!(body.as_object().unwrap().len(), 1);
    d.target.address.phone = None;
    assert_eq!(d.graph_transfer_body(), None);
}

#[test]
fn acs_transfer_body_for_communication_user_uses_voip_headers() {
    let d = agent_decision();
    let body = d.acs_transfer_body().unwrap();
    assert_eq!(body["targetParticipant"], json!({"kind": "communicationUser", "rawId": "8:acs:res_alice", "communicationUser": {"id": "8:acs:res_alice"}}));
    assert_eq!(body["operationContext"], d.id());
    let voip = body["customCallingContext"]["voipHeaders"].as_object().unwrap();
    assert_eq!(voip["X-Attendant-Call-Id"], "a84b4c76e66710@pc33.example.com");
    assert_eq!(voip["X-Attendant-Intent"], "billing");
    assert_eq!(voip["X-Attendant-Slots"], "account=12345678");
    assert!(body["customCallingContext"].get("sipHeaders").is_none());
}

#[test]
fn acs_transfer_body_for_phone_uses_at_most_five_sip_headers() {
    let mut d = agent_decision();
    d.target.address.acs_id = None;
    d.target.address.teams_user_id = None;
    d.priority = Priority::High;
    let body = d.acs_transfer_body().unwrap();
    assert_eq!(body["targetParticipant"], json!({"kind": "phoneNumber", "rawId": "4:+14255550101", "phoneNumber": {"value": "+14255550101"}}));
    let sip = body["customCallingContext"]["sipHeaders"].as_object().unwrap();
    let mut names: Vec<&str> = sip.keys().map(String::as_str).collect();
    names.sort_unstable();
    assert_eq!(names, ["User-to-User", "X-Attendant-Call-Id", "X-Attendant-Intent", "X-Attendant-Queue", "X-Attendant-Tenant"]);
    for v in sip.values() {
        assert!(v.as_str().unwrap().len() <= 256);
    }
    assert_eq!(uui_json(sip["User-to-User"].as_str().unwrap())["c"], d.call_id.as_str());
}

#[test]
fn acs_identifier_kinds_follow_raw_id_prefix() {
    assert_eq!(acs_identifier("8:orgid:abc")["microsoftTeamsUser"], json!({"userId": "abc", "cloud": "public"}));
    assert_eq!(acs_identifier("8:gcch:abc")["microsoftTeamsUser"]["cloud"], "gcch");
    assert_eq!(acs_identifier("4:+15551234")["kind"], "phoneNumber");
    assert_eq!(acs_identifier("8:spool:x")["kind"], "communicationUser");
    let mut d = agent_decision();
    d.target.address.acs_id = None;
    let t = &d.acs_transfer_body().unwrap()["targetParticipant"];
    assert_eq!(t, &json!({"kind": "microsoftTeamsUser", "rawId": "8:orgid:550fae72-d251-43ec-868c-373732c2704f", "microsoftTeamsUser": {"userId": "550fae72-d251-43ec-868c-373732c2704f", "cloud": "public"}}));
}

#[test]
fn webhook_body_is_the_decision_with_an_envelope() {
    let d = agent_decision().with_priority(Priority::High);
    let v = d.webhook_body();
    assert_eq!(v["type"], "attendant.decision");
    assert_eq!(v["id"], d.id());
    assert_eq!(v["version"], 1);
    assert_eq!(v["call_id"], "a84b4c76e66710@pc33.example.com");
    assert_eq!(v["tenant"], "contoso");
    assert_eq!(v["intent"], "billing");
    assert_eq!(v["confidence"].as_f64().unwrap(), f64::from(0.934f32));
    assert_eq!(v["slots"], json!({"account": "12345678"}));
    assert_eq!(v["transcript"][1], json!({"speaker": "caller", "text": "a question about my bill", "at_ms": 2100}));
    assert_eq!(v["timings"], json!({"call_ms": 5400, "last_word_to_decision_ms": 310, "classify_us": 850}));
    assert_eq!(v["reason"], "intent");
    assert_eq!(v["priority"], "high");
    assert_eq!(
        v["target"],
        json!({"kind": "agent", "queue": "billing", "agent_id": "alice", "agent_name": "Alice Smith",
               "address": {"sip": "sip:alice@cc.example.com", "teams_user_id": "550fae72-d251-43ec-868c-373732c2704f",
                           "acs_id": "8:acs:res_alice", "phone": "+14255550101"},
               "estimated_wait_s": null, "callback_number": null})
    );
    assert_eq!(v.as_object().unwrap().len(), 13);
    // The decision reads back from the webhook body (envelope fields are ignored).
    let back: Decision = serde_json::from_value(v).unwrap();
    assert_eq!(back, d);
}
