//! `attendant serve`'s WebSocket media streams (`/v1/media/acs`, `/v1/media/twilio`,
//! `/v1/media/relay` on the HTTP port) against clients that are not ours: recorded message
//! sequences built from the fixtures by `tools/ws_sequences.py` and replayed in real time by
//! `tools/ws_replay.py` (PyPI `websockets`; `tools/test.sh` installs it), which echoes Twilio's
//! marks as Twilio does and reports what the worker sent and how it closed.
//!
//! Two workers, each loading the models once, and several calls at once against each:
//! - `ws_calls_reach_their_decisions`: whole assistant calls over ACS (16 kHz PascalCase, and
//!   24 kHz unmixed with a second participant), Twilio (DTMF menu choice, speech barge-in) and
//!   the relay (the decision as a Graph `callControl` request).
//! - `ws_streams_are_authorized_and_malformed_ones_closed`: a worker that needs tokens: missing,
//!   wrong, expired and other tenants' tokens refused at the upgrade, bearer, query, signed
//!   (HMAC) and Twilio `start` tokens accepted; malformed and out-of-order streams closed with a
//!   close code and a reason while calls on the same worker go on to their decisions, and
//!   duplicate or missing Twilio media do not end a call.
//!
//! The calls run at wall speed (about 30 s each, concurrently); the two tests take turns
//! (`support::live_calls`).

use std::path::PathBuf;
use std::process::{Command, Stdio};
use std::time::Duration;

use serde_json::Value;

use crate::support::{contoso_flow, live_calls, repo_root, Worker};

/// The sample flow with a Teams user id next to every SIP target, so decisions carry a Graph
/// transfer body.
fn flow_with_teams_ids(name: &str) -> PathBuf {
    contoso_flow(name, |text| {
        text.lines()
            .map(|line| match line.strip_prefix("target = { sip = \"sip:").and_then(|rest| rest.split_once('@')) {
                Some((user, _)) if line.ends_with("\" }") => {
                    format!("{}, teams_user_id = \"teams-{user}\" }}", line.trim_end_matches(" }"))
                }
                _ => line.to_owned(),
            })
            .collect::<Vec<_>>()
            .join("\n")
    })
}

/// A sequence file made by tools/ws_sequences.py in the worker's directory, and its summary.
struct Sequence {
    path: PathBuf,
    summary: Value,
}

fn sequence(worker: &Worker, name: &str, args: &[&str]) -> Sequence {
    let path = worker.dir.join(format!("{name}.jsonl"));
    let out = Command::new("python3")
        .arg(repo_root().join("tools/ws_sequences.py"))
        .args(args)
        .arg("-o")
        .arg(&path)
        .stdin(Stdio::null())
        .output()
        .expect("python3");
    assert!(out.status.success(), "ws_sequences.py {args:?}: {}", String::from_utf8_lossy(&out.stderr));
    let summary = serde_json::from_slice(&out.stdout).expect("ws_sequences.py prints its summary");
    Sequence { path, summary }
}

/// Replays `seq` on `path` of the worker's HTTP port; the client's JSON summary.
fn replay(worker: &Worker, path: &str, seq: &Sequence, extra: &[&str]) -> Value {
    let s = &seq.summary;
    println!(
        "replay {path} {}: {} messages over {} ms, utterances {}, dtmf {}, waits {}",
        seq.path.display(),
        s["messages"],
        s["duration_ms"],
        s["utterances"],
        s["dtmf"],
        s["waits_at_ms"]
    );
    let out = Command::new("python3")
        .arg(repo_root().join("tools/ws_replay.py"))
        .arg(worker.ws_url(path))
        .arg(&seq.path)
        .arg("--compact")
        .args(extra)
        .stdin(Stdio::null())
        .output()
        .expect("python3");
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(!stderr.contains("websockets is not installed"), "{stderr}");
    serde_json::from_slice(&out.stdout)
        .unwrap_or_else(|e| panic!("ws_replay.py printed no JSON summary ({e}): {stderr}\n{}", String::from_utf8_lossy(&out.stdout)))
}

/// The worker's call id for the stream whose peer gave `peer_call_id` (Twilio callSid, relay
/// callId, ACS x-ms-call-correlation-id).
fn call_id_of(worker: &Worker, peer_call_id: &str) -> Option<String> {
    worker
        .events()
        .into_iter()
        .find(|e| e["event"] == "call_started" && e["peer_call_id"] == peer_call_id)
        .and_then(|e| e["call_id"].as_str().map(str::to_owned))
}

fn events_of(worker: &Worker, call_id: &str) -> Vec<Value> {
    worker.events().into_iter().filter(|e| e["call_id"] == call_id).collect()
}

/// The call's decision event (waiting a little: the client returns when the connection closes).
fn decision_of(worker: &Worker, peer_call_id: &str, context: &str) -> Value {
    let call_id = call_id_of(worker, peer_call_id).unwrap_or_else(|| panic!("{context}: no call_started for {peer_call_id}"));
    worker.wait_event("decision", Duration::from_secs(10), |e| e["call_id"] == call_id.as_str())
}

fn count(v: &Value) -> u64 {
    v.as_u64().unwrap_or_else(|| panic!("not a count: {v}"))
}

fn closed_by_server(client: &Value, code: u64) -> bool {
    client["close"]["by"] == "server" && client["close"]["code"] == code
}

/// What a finished call's client must show: opened, the server closed it normally when the
/// dialogue finished, prompts arrived as audio paced in real time.
fn assert_served(name: &str, client: &Value, min_prompt_ms: f64) {
    let ctx = format!("{name}: {client:#}");
    assert_eq!(client["opened"], true, "{ctx}");
    assert!(client["error"].is_null(), "{ctx}");
    assert!(closed_by_server(client, 1000), "the worker should close with 1000 when the dialogue is over: {ctx}");
    let rx = &client["received"];
    let active = rx["audio_active_ms"].as_f64().unwrap_or(0.0);
    assert!(active >= min_prompt_ms, "{active} ms of prompt audio, expected at least {min_prompt_ms}: {ctx}");
    // Paced by the media tick, not sent in bursts.
    let p50 = rx["gaps_ms"]["p50"].as_f64().unwrap_or(0.0);
    assert!((10.0..=30.0).contains(&p50), "outbound audio not paced at 20 ms (median gap {p50} ms): {ctx}");
    println!(
        "{name}: {} audio messages ({} ms, {} ms of sound), gaps p50 {} / p99 {} / max {} ms, clears {:?}, marks {}, echoed {}, waits {}, close {}",
        rx["counts"]["audio"],
        rx["audio_ms"],
        rx["audio_active_ms"],
        rx["gaps_ms"]["p50"],
        rx["gaps_ms"]["p99"],
        rx["gaps_ms"]["max"],
        rx["clears_at_ms"],
        rx["counts"]["mark"],
        client["sent"]["marks_echoed"],
        client["sent"]["waits"],
        client["close"]
    );
    // Every caller turn that waited for a prompt got one.
    for w in client["sent"]["waits"].as_array().into_iter().flatten() {
        assert!(w["prompt_seen"] == true && w["timed_out"] == false, "waited for a prompt that never came: {w}: {ctx}");
    }
}

fn digits(events: &[Value]) -> String {
    events.iter().filter(|e| e["event"] == "dtmf").filter_map(|e| e["digit"].as_str()).collect()
}

/// Whole assistant calls over each protocol, five at once on one worker.
#[test]
fn ws_calls_reach_their_decisions() {
    let _turn = live_calls();
    let flow = flow_with_teams_ids("ws-calls");
    let tenant = format!("[[tenants]]\nname = \"contoso\"\nsources = [\"127.0.0.1/32\"]\nassistant = \"{}\"\n", flow.display());
    let worker = Worker::start_with("ws-calls", "", Some(""), &tenant);
    // Each call ends with 25 s of silence before the peer hangs up: time for the worker to
    // decide on a loaded machine. It closes the connection itself once the dialogue is over.
    // The caller's turns are scripted (`--turn`): at a time in the call, or `@prompt`, once the
    // worker's next prompt has played, however long the worker took to ask (the replay sends
    // silence meanwhile).
    // ACS 16 kHz, PascalCase keys: a billing question after the greeting and the menu (about
    // 18 s), the account number after the account prompt.
    let acs16 = sequence(
        &worker,
        "acs16",
        &["acs", "assistant/calls/billing-digits-yes.wav", "--rate", "16000", "--pascal-case", "--utterances", "2", "--turn", "say@prompt", "--turn", "say@prompt", "--tail-silence-ms", "25000"],
    );
    // ACS 24 kHz unmixed: the caller asks for a payment over the menu (barge-in: StopAudio),
    // gives the account number and confirms; another participant tells a joke in between.
    let acs24 = sequence(
        &worker,
        "acs24",
        &[
            "acs", "bargein/interrupt-pay.wav", "--rate", "24000", "--unmixed", "--second-wav", "assistant/tell-a-joke.wav", "--second-at", "9000",
            "--turn", "say@4000", "--turn", "say@prompt", "--turn", "say@prompt", "--tail-silence-ms", "25000",
        ],
    );
    // Twilio: "3" (payment) over the menu, the account number keyed, "Yes." spoken.
    let twilio_keys = sequence(
        &worker,
        "twilio-keys",
        &[
            "twilio", "bargein/interrupt-pay.wav", "--pick", "3", "--turn", "keys=3@4000", "--turn", "keys=55123456@prompt", "--turn", "say@prompt",
            "--call-sid", "CA-ws-keys", "--param", "from=+14255550111", "--tail-silence-ms", "25000",
        ],
    );
    // Twilio: "Can I just talk to a real person, please?" over the menu.
    let twilio_speech = sequence(
        &worker,
        "twilio-speech",
        &["twilio", "assistant/calls/agent-straight-away.wav", "--utterances", "1", "--turn", "say@5000", "--call-sid", "CA-ws-speech", "--tail-silence-ms", "25000"],
    );
    // Relay: the same request after the menu; the decision comes back as a Graph request.
    let relay = sequence(
        &worker,
        "relay",
        &["relay", "assistant/calls/agent-straight-away.wav", "--utterances", "1", "--turn", "say@prompt", "--call-id", "graph-call-ws-1", "--tail-silence-ms", "25000"],
    );
    let linger = ["--linger-s", "15"];
    let (acs16_c, acs24_c, keys_c, speech_c, relay_c) = std::thread::scope(|s| {
        let a = s.spawn(|| replay(&worker, "/v1/media/acs", &acs16, &[&["--correlation-id", "acs-ws-16k"][..], &linger].concat()));
        let b = s.spawn(|| replay(&worker, "/v1/media/acs", &acs24, &[&["--correlation-id", "acs-ws-24k"][..], &linger].concat()));
        let c = s.spawn(|| replay(&worker, "/v1/media/twilio", &twilio_keys, &linger));
        let d = s.spawn(|| replay(&worker, "/v1/media/twilio", &twilio_speech, &linger));
        let e = s.spawn(|| replay(&worker, "/v1/media/relay", &relay, &linger));
        let join = |h: std::thread::ScopedJoinHandle<'_, Value>| h.join().expect("client thread");
        (join(a), join(b), join(c), join(d), join(e))
    });
    let mut failures = Vec::new();
    let mut check = |name: &str, f: &dyn Fn()| {
        if let Err(e) = std::panic::catch_unwind(std::panic::AssertUnwindSafe(f)) {
            let msg = e.downcast_ref::<String>().cloned().or_else(|| e.downcast_ref::<&str>().map(|s| (*s).to_owned())).unwrap_or_default();
            failures.push(format!("{name}: {msg}"));
        }
    };

    check("acs 16 kHz PascalCase", &|| {
        assert_served("acs16", &acs16_c, 10_000.0);
        let d = decision_of(&worker, "acs-ws-16k", "acs16");
        assert_eq!(d["intent"], "billing", "{d:#}");
        // A misheard account number is asked for again (and the call may be escalated without
        // it); when the slot is filled it is a valid account number.
        if let Some(account) = d["slots"]["account"].as_str() {
            assert!((6..=8).contains(&account.len()) && account.bytes().all(|b| b.is_ascii_digit()), "{d:#}");
            println!("acs16: account {account} (spoken 2044817)");
        }
        let started = worker.wait_event("call_started", Duration::from_secs(1), |e| e["peer_call_id"] == "acs-ws-16k");
        assert_eq!((started["transport"].as_str(), started["sample_rate"].as_u64()), (Some("acs"), Some(16_000)), "{started}");
    });

    check("acs 24 kHz unmixed", &|| {
        assert_served("acs24", &acs24_c, 5_000.0);
        // The request over the menu stopped it: StopAudio.
        assert!(count(&acs24_c["received"]["counts"]["clear"]) >= 1, "no StopAudio on barge-in: {acs24_c:#}");
        let d = decision_of(&worker, "acs-ws-24k", "acs24");
        assert_eq!(d["intent"], "payment", "{d:#}");
        assert_eq!(d["target"]["queue"], "payments", "{d:#}");
        let call_id = call_id_of(&worker, "acs-ws-24k").expect("call id");
        let events = events_of(&worker, &call_id);
        assert!(
            events.iter().any(|e| e["event"] == "other_participant" && e["participant"] == "8:acs:agent-bot"),
            "the second participant was not recognized as another participant: {events:#?}"
        );
        // The other participant's joke never became the caller's words.
        let heard: Vec<&str> = events.iter().filter(|e| e["event"] == "final_transcript").filter_map(|e| e["text"].as_str()).collect();
        assert!(!heard.iter().any(|t| t.to_lowercase().contains("joke")), "the other participant was transcribed as the caller: {heard:?}");
        let started = events.iter().find(|e| e["event"] == "call_started").expect("call_started");
        assert_eq!(started["sample_rate"], 24_000, "{started}");
    });

    check("twilio keys", &|| {
        assert_served("twilio-keys", &keys_c, 5_000.0);
        let rx = &keys_c["received"];
        // The key pressed over the menu flushes the prompt.
        assert!(count(&rx["counts"]["clear"]) >= 1, "no clear when a key was pressed over the menu: {keys_c:#}");
        // Marks went out with the prompts and came back (all but possibly the last, which
        // can still be playing when the worker closes).
        let (marks, echoed) = (count(&rx["counts"]["mark"]), count(&keys_c["sent"]["marks_echoed"]));
        assert!(marks >= 2 && echoed + 1 >= marks, "{marks} marks, {echoed} echoed: {keys_c:#}");
        let d = decision_of(&worker, "CA-ws-keys", "twilio-keys");
        assert_eq!(d["intent"], "payment", "{d:#}");
        assert_eq!(d["slots"]["account"], "55123456", "{d:#}");
        assert_eq!(d["target"]["queue"], "payments", "{d:#}");
        let call_id = call_id_of(&worker, "CA-ws-keys").expect("call id");
        assert_eq!(digits(&events_of(&worker, &call_id)), "355123456");
        let started = worker.wait_event("call_started", Duration::from_secs(1), |e| e["call_id"] == call_id.as_str());
        assert_eq!((started["transport"].as_str(), started["from"].as_str()), (Some("twilio"), Some("+14255550111")), "{started}");
    });

    check("twilio speech barge-in", &|| {
        assert_served("twilio-speech", &speech_c, 2_000.0);
        assert!(count(&speech_c["received"]["counts"]["clear"]) >= 1, "no clear on barge-in: {speech_c:#}");
        let d = decision_of(&worker, "CA-ws-speech", "twilio-speech");
        assert_eq!(d["intent"], "agent", "{d:#}");
        let call_id = call_id_of(&worker, "CA-ws-speech").expect("call id");
        let names: Vec<String> = events_of(&worker, &call_id).iter().filter_map(|e| e["event"].as_str().map(str::to_owned)).collect();
        assert!(names.iter().any(|n| n == "barge_in"), "{names:?}");
    });

    check("relay", &|| {
        assert_served("relay", &relay_c, 10_000.0);
        let rx = &relay_c["received"];
        let controls = rx["call_control"].as_array().expect("call_control");
        assert_eq!(controls.len(), 1, "one callControl message: {relay_c:#}");
        let c = &controls[0];
        assert_eq!(c["action"], "transfer", "{c:#}");
        assert_eq!(c["request"]["method"], "POST", "{c:#}");
        assert_eq!(c["request"]["path"], "/communications/calls/graph-call-ws-1/transfer", "{c:#}");
        let d = decision_of(&worker, "graph-call-ws-1", "relay");
        assert_eq!(d["intent"], "agent", "{d:#}");
        assert_eq!(c["decision"]["intent"], "agent", "{c:#}");
        // The body is the Graph transfer request for the decision's target: its Teams user.
        let target = &c["request"]["body"]["transferTarget"];
        assert_eq!(target["@odata.type"], "#microsoft.graph.invitationParticipantInfo", "{c:#}");
        let teams = d["target"]["address"]["teams_user_id"].as_str().expect("the decision's target has a Teams id");
        assert_eq!(target["identity"]["user"]["id"], teams, "{c:#}");
        assert_eq!(c["request"]["body"], d["graph_transfer"], "the relay's body is the decision's Graph body");
        // Then the hang-up, then the close.
        assert_eq!(count(&rx["counts"]["hangup"]), 1, "{relay_c:#}");
    });
    assert!(failures.is_empty(), "{}", failures.join("\n\n"));
}

const TOKEN: &str = "contoso-media-token-0001";
const OTHER_TOKEN: &str = "fabrikam-media-token-0001";
const HMAC_KEY: &str = "contoso-hmac-key-0123456789abcdef0123";

/// Tokens at the upgrade, malformed streams closed with their reason, and calls on the same
/// worker unharmed by either.
#[test]
fn ws_streams_are_authorized_and_malformed_ones_closed() {
    let _turn = live_calls();
    let flow = flow_with_teams_ids("ws-guard");
    let tenants = format!(
        "[[tenants]]\nname = \"contoso\"\nsources = [\"127.0.0.1/32\"]\nassistant = \"{}\"\nmedia_tokens = [\"{TOKEN}\"]\nmedia_hmac_key = \"{HMAC_KEY}\"\n\
         [[tenants]]\nname = \"fabrikam\"\nsources = [\"192.0.2.0/24\"]\nmedia_tokens = [\"{OTHER_TOKEN}\"]\n",
        flow.display()
    );
    // Loopback peers need tokens too (by default a loopback listener lets them in without).
    let worker = Worker::start_with("ws-guard", "", Some("loopback_without_token = false"), &tenants);
    let bearer = ["--bearer", TOKEN];
    // Calls that must reach their decisions while the rest goes on: "a real person" over the
    // menu, over ACS and twice over Twilio with a duplicated message and a 1 s jump in
    // sequence numbers and timestamps.
    let agent = |proto: &str, name: &str, extra: &[&str]| {
        let mut args = vec![proto, "assistant/calls/agent-straight-away.wav", "--utterances", "1", "--turn", "say@4000", "--tail-silence-ms", "25000"];
        args.extend_from_slice(extra);
        sequence(&worker, name, &args)
    };
    let good_acs = agent("acs", "good-acs", &[]);
    let dup = agent("twilio", "dup", &["--case", "duplicate", "--case-at", "1000", "--call-sid", "CA-ws-dup"]);
    let gap = agent("twilio", "gap", &["--case", "gap", "--case-at", "1000", "--call-sid", "CA-ws-gap"]);
    // Short streams for the credentials and the malformed cases.
    let short = |proto: &str, name: &str, extra: &[&str]| {
        let mut args = vec![proto, "assistant/yes.wav", "--lead-ms", "200", "--tail-silence-ms", "300"];
        args.extend_from_slice(extra);
        sequence(&worker, name, &args)
    };
    let acs_short = short("acs", "acs-short", &[]);
    let relay_short = short("relay", "relay-short", &["--call-id", "graph-call-auth-1"]);
    let relay_query = short("relay", "relay-query", &["--call-id", "graph-call-auth-2"]);
    let twilio_start_token = short("twilio", "twilio-start-token", &["--call-sid", "CA-ws-start-token", "--param", &format!("token={TOKEN}")]);
    let twilio_no_token = short("twilio", "twilio-no-token", &["--call-sid", "CA-ws-no-token"]);
    // (protocol, case, close codes accepted, what the reason must say)
    let cases: Vec<(&str, &str, &[u64], &str)> = vec![
        ("twilio", "invalid-json", &[1007], "not JSON"),
        ("acs", "invalid-json", &[1007], "not JSON"),
        ("twilio", "bad-base64", &[1007], "not base64"),
        ("acs", "bad-base64", &[1007], "not base64"),
        // Out of order and unknown messages: 1007 as the README says (wsmedia's
        // ProtocolError::close_code would say 1002).
        ("twilio", "media-before-start", &[1007], "before start"),
        ("acs", "media-before-start", &[1007], "before AudioMetadata"),
        ("relay", "media-before-start", &[1007], "before start"),
        ("twilio", "unknown-event", &[1007], "unknown event"),
        ("acs", "unknown-event", &[1007], "unknown kind"),
        ("relay", "unknown-event", &[1007], "unknown type"),
        ("twilio", "binary-on-json", &[1003], "binary"),
        ("acs", "binary-on-json", &[1003], "binary"),
        ("relay", "bad-frame", &[1007], "641 bytes"),
        ("twilio", "oversized", &[1009], "bytes"),
        ("relay", "oversized", &[1009], "bytes"),
        ("twilio", "flood", &[1008], "a second"),
        ("acs", "flood", &[1008], "a second"),
    ];
    let bad: Vec<Sequence> = cases
        .iter()
        .map(|(proto, case, _, _)| {
            // A flood needs more audio than the rate limit's burst: 12 s of it, sent at once.
            let tail: &[&str] = if *case == "flood" { &["--tail-silence-ms", "25000"] } else { &[] };
            short(proto, &format!("{proto}-{case}"), &[&["--case", case][..], tail].concat())
        })
        .collect();

    let linger = ["--linger-s", "15"];
    let (good_c, dup_c, gap_c, auth, bad_c) = std::thread::scope(|s| {
        let good_h = s.spawn(|| replay(&worker, "/v1/media/acs", &good_acs, &[&bearer[..], &["--correlation-id", "acs-ws-good"], &linger].concat()));
        let dup_h = s.spawn(|| replay(&worker, "/v1/media/twilio", &dup, &[&bearer[..], &linger].concat()));
        let gap_h = s.spawn(|| replay(&worker, "/v1/media/twilio", &gap, &[&bearer[..], &linger].concat()));
        // Meanwhile, one after another: the credentials, then the malformed streams.
        let expired = ["--hmac-key", HMAC_KEY, "--hmac-tenant", "contoso", "--hmac-expires-in", "-60"];
        let auth = vec![
            ("acs without a token", replay(&worker, "/v1/media/acs", &acs_short, &[])),
            ("acs with a wrong token", replay(&worker, "/v1/media/acs", &acs_short, &["--bearer", "not-a-token-of-anybody-here"])),
            ("acs, another tenant's token for contoso", replay(&worker, "/v1/media/acs?tenant=contoso", &acs_short, &["--bearer", OTHER_TOKEN])),
            ("acs with an expired signed token", replay(&worker, "/v1/media/acs", &acs_short, &expired)),
            ("acs signed with another key", replay(&worker, "/v1/media/acs", &acs_short, &["--hmac-key", "some-other-key-0123456789abcdef0123", "--hmac-tenant", "contoso"])),
            ("relay with the bearer token", replay(&worker, "/v1/media/relay", &relay_short, &bearer)),
            ("relay with the token in the query", replay(&worker, "/v1/media/relay", &relay_query, &["--bearer", TOKEN, "--token-in-query"])),
            (
                "acs with a signed token",
                replay(&worker, "/v1/media/acs", &acs_short, &["--hmac-key", HMAC_KEY, "--hmac-tenant", "contoso", "--correlation-id", "acs-ws-signed"]),
            ),
            ("twilio with the token in start", replay(&worker, "/v1/media/twilio", &twilio_start_token, &[])),
            ("twilio without any token", replay(&worker, "/v1/media/twilio", &twilio_no_token, &[])),
        ];
        let bad: Vec<Value> = cases.iter().zip(&bad).map(|((proto, _, _, _), seq)| replay(&worker, &format!("/v1/media/{proto}"), seq, &bearer)).collect();
        let join = |h: std::thread::ScopedJoinHandle<'_, Value>| h.join().expect("client thread");
        (join(good_h), join(dup_h), join(gap_h), auth, bad)
    });

    let mut failures = Vec::new();
    let auth_of = |name: &str| &auth.iter().find(|(n, _)| *n == name).expect("auth case").1;
    for (name, status) in [
        ("acs without a token", 401),
        ("acs with a wrong token", 403),
        ("acs, another tenant's token for contoso", 403),
        ("acs with an expired signed token", 403),
        ("acs signed with another key", 403),
    ] {
        let c = auth_of(name);
        if c["opened"] != false || c["handshake_status"] != status {
            failures.push(format!("{name}: expected the upgrade refused with {status}: {c}"));
        }
    }
    for name in ["relay with the bearer token", "relay with the token in the query", "acs with a signed token", "twilio with the token in start"] {
        let c = auth_of(name);
        // Upgraded, and the stream ran to its end (the relay's hangup, Twilio's stop) or the
        // client's, without the worker refusing it.
        let ok = c["opened"] == true && c["sent"]["sequence_complete"] == true && (c["close"]["by"] == "client" || c["close"]["code"] == 1000);
        if !ok {
            failures.push(format!("{name}: expected an accepted stream: {c}"));
        }
    }
    for peer in ["graph-call-auth-1", "graph-call-auth-2", "acs-ws-signed", "CA-ws-start-token"] {
        match worker.events().iter().find(|e| e["event"] == "call_started" && e["peer_call_id"] == peer) {
            Some(e) if e["tenant"] == "contoso" => {}
            other => failures.push(format!("{peer}: no call_started for tenant contoso: {other:?}")),
        }
    }
    let c = auth_of("twilio without any token");
    if !(closed_by_server(c, 1008) && c["close"]["reason"].as_str().is_some_and(|r| r.contains("token"))) {
        failures.push(format!("twilio without any token: expected the stream closed 1008 at start, naming the token: {c}"));
    }
    if worker.events().iter().any(|e| e["event"] == "call_started" && e["peer_call_id"] == "CA-ws-no-token") {
        failures.push("twilio without any token: a call was started".to_owned());
    }

    for ((proto, case, codes, reason), c) in cases.iter().zip(&bad_c) {
        let code = c["close"]["code"].as_u64().unwrap_or(0);
        let text = c["close"]["reason"].as_str().unwrap_or("");
        let ok = c["opened"] == true && c["close"]["by"] == "server" && codes.contains(&code) && text.contains(reason) && c["sent"]["sequence_complete"] == false;
        println!("{proto} {case}: closed {code} {text:?} by {}", c["close"]["by"]);
        if !ok {
            failures.push(format!("{proto} {case}: expected a close by the server with {codes:?} and a reason containing {reason:?}: {c}"));
        }
    }

    // The calls beside all that reached their decisions; duplicates and gaps did not end them.
    for (name, client, peer) in [("acs", &good_c, "acs-ws-good"), ("twilio duplicate", &dup_c, "CA-ws-dup"), ("twilio gap", &gap_c, "CA-ws-gap")] {
        let result = std::panic::catch_unwind(std::panic::AssertUnwindSafe(|| {
            assert_served(name, client, 2_000.0);
            assert!(count(&client["received"]["counts"]["clear"]) >= 1, "no clear on barge-in: {client:#}");
            let d = decision_of(&worker, peer, name);
            assert_eq!(d["intent"], "agent", "{d:#}");
        }));
        if let Err(e) = result {
            let msg = e.downcast_ref::<String>().cloned().or_else(|| e.downcast_ref::<&str>().map(|s| (*s).to_owned())).unwrap_or_default();
            failures.push(format!("{name}: {msg}"));
        }
    }
    // No caller audio was lost on the way to the media engine (a 1 s gap is filled with 1 s of
    // silence: the engine's inbound queue must take it).
    for peer in ["acs-ws-good", "CA-ws-dup", "CA-ws-gap"] {
        if let Some(call_id) = call_id_of(&worker, peer) {
            let dropped: Vec<Value> = events_of(&worker, &call_id).into_iter().filter(|e| e["event"] == "stream_frames_dropped").collect();
            if !dropped.is_empty() {
                failures.push(format!("{peer}: caller frames dropped before the media engine: {dropped:?}"));
            }
        }
    }
    for (peer, field) in [("CA-ws-dup", "duplicates"), ("CA-ws-gap", "gaps_filled_ms")] {
        // Counted where the worker reports stream statistics (once it does).
        if let Some(call_id) = call_id_of(&worker, peer) {
            let stats = events_of(&worker, &call_id).into_iter().find(|e| e["event"] == "media_stats");
            if let Some(n) = stats.as_ref().and_then(|s| s.get(field)) {
                println!("{peer}: {field} {n}");
                if n.as_u64().unwrap_or(0) == 0 {
                    failures.push(format!("{peer}: {field} not counted: {stats:?}"));
                }
            }
        }
    }
    assert!(failures.is_empty(), "{}", failures.join("\n\n"));
}
