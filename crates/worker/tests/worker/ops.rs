//! Operating the worker as a pod: `/readyz`, `/metrics` (parsed by the Prometheus Python
//! client's own parser, `tools/prom_parse.py`), `/v1/calls`, the process-wide call limit, and
//! the drain on SIGTERM, with real SIP calls from sipp and a WebSocket stream from
//! `tools/ws_replay.py`.

use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

use serde_json::Value;

use crate::sip_calls::{pcap, sipp};
use crate::support::{live_calls, repo_root, OtlpReceiver, Worker};

/// `/metrics` through the reference parser: its samples, or a panic naming the parse error.
fn scrape(worker: &Worker) -> Vec<Value> {
    let (status, text) = worker.http_get("/metrics");
    assert_eq!(status, 200, "{text}");
    let mut child = Command::new("python3")
        .arg(repo_root().join("tools/prom_parse.py"))
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .expect("python3");
    std::io::Write::write_all(child.stdin.as_mut().expect("stdin"), text.as_bytes()).expect("write");
    let out = child.wait_with_output().expect("prom_parse");
    assert!(out.status.success(), "/metrics does not parse: {}\n{text}", String::from_utf8_lossy(&out.stderr));
    let parsed: Value = serde_json::from_slice(&out.stdout).expect("JSON");
    parsed["samples"].as_array().expect("samples").clone()
}

/// The value of the sample `name` whose labels include `labels`; 0 when there is none.
fn sample(samples: &[Value], name: &str, labels: &[(&str, &str)]) -> f64 {
    samples
        .iter()
        .filter(|s| s["name"] == name && labels.iter().all(|(k, v)| s["labels"][*k] == *v))
        .filter_map(|s| s["value"].as_f64())
        .sum()
}

/// Waits until `/readyz` answers `status`; its body.
fn wait_ready(worker: &Worker, status: u16, timeout: Duration) -> String {
    wait_readyz(worker, status, "", timeout)
}

/// Waits until `/readyz` answers `status` with a body containing `says` (the reason: a worker
/// at its call limit is already not ready when SIGTERM makes it "draining").
fn wait_readyz(worker: &Worker, status: u16, says: &str, timeout: Duration) -> String {
    let until = Instant::now() + timeout;
    loop {
        let (got, body) = worker.http_get("/readyz");
        if got == status && body.contains(says) {
            return body;
        }
        assert!(Instant::now() < until, "/readyz stayed {got} {body:?}, expected {status} {says:?}");
        std::thread::sleep(Duration::from_millis(100));
    }
}

const TENANT: &str = "[[tenants]]\nname = \"acme\"\nsources = [\"127.0.0.1/32\"]\n";

/// Two SIP calls fill the process's limit of two: readiness goes, a third call gets 503 with
/// Retry-After, the calls show in `/v1/calls` with their transcript and in `/metrics`. Then
/// SIGTERM: not ready, new calls refused, the two calls finish as the callers hang up, and the
/// process exits 0. The trace collector meanwhile refuses every export (503): the worker says
/// so on stderr and no call notices.
#[test]
fn calls_are_listed_counted_capped_and_drained_on_sigterm() {
    let _turn = live_calls();
    let collector = OtlpReceiver::answering("ops", 503);
    let tenant = format!("{}{TENANT}", collector.config());
    let mut worker = Worker::start_with("ops", "", Some("[limits]\nmax_calls = 2\n[drain]\ntimeout_s = 60"), &tenant);
    assert_eq!(wait_ready(&worker, 200, Duration::from_secs(5)), "ready");
    let before = scrape(&worker);
    assert_eq!(sample(&before, "attendant_ready", &[]), 1.0);
    assert_eq!(sample(&before, "attendant_calls_in_progress", &[]), 0.0);

    let pcap = pcap(&worker, "ivr/outage.8k-ulaw.wav", "");
    let hold = [("PCAP", pcap.display().to_string()), ("HOLD_MS", "14000".into())];
    std::thread::scope(|scope| {
        let first = scope.spawn(|| sipp(&worker, "sbc_call.xml", &hold, &[]));
        let second = scope.spawn(|| sipp(&worker, "sbc_call.xml", &hold, &[]));
        let until = Instant::now() + Duration::from_secs(10);
        while worker.events().iter().filter(|e| e["event"] == "call_answered").count() < 2 {
            assert!(Instant::now() < until, "two calls not answered: {:#?}", worker.events());
            std::thread::sleep(Duration::from_millis(100));
        }
        wait_readyz(&worker, 503, "call limit", Duration::from_secs(2));
        let refused = [("STATUS", "503".to_owned()), ("CHECK_HEADER", "Retry-After:".to_owned())];
        let third = sipp(&worker, "refused.xml", &refused, &[]);
        assert_eq!(third.code, Some(0), "third call not refused with 503 + Retry-After:\n{}\n{}", third.log, third.messages);

        // The call table: both calls, the first one's transcript as the events have it.
        let transcript = worker.wait_event("final_transcript", Duration::from_secs(20), |e| e["text"].as_str().is_some_and(|t| !t.trim().is_empty()));
        let call_id = transcript["call_id"].as_str().expect("call id").to_owned();
        let (status, body) = worker.http_get("/v1/calls");
        assert_eq!(status, 200, "{body}");
        let calls: Vec<Value> = serde_json::from_str(&body).expect("JSON array");
        assert_eq!(calls.len(), 2, "{calls:#?}");
        let (status, body) = worker.http_get(&format!("/v1/calls/{call_id}"));
        assert_eq!(status, 200, "{body}");
        let call: Value = serde_json::from_str(&body).expect("JSON");
        assert_eq!((call["tenant"].as_str(), call["transport"].as_str(), call["state"].as_str()), (Some("acme"), Some("sip"), Some("in_call")), "{call:#}");
        let lines: Vec<&str> = call["transcript"].as_array().expect("transcript").iter().filter_map(|l| l["text"].as_str()).collect();
        assert!(lines.contains(&transcript["text"].as_str().unwrap_or("?").trim()), "{call:#} vs {transcript}");
        // The caller's number is masked; the events file keeps it.
        assert_eq!(call["from"], "sip:+*********01@sbc.example.net", "{call:#}");
        assert_eq!(worker.http_get("/v1/calls/no-such-call").0, 404);

        let during = scrape(&worker);
        assert_eq!(sample(&during, "attendant_active_calls", &[("tenant", "acme"), ("transport", "sip")]), 2.0);
        assert_eq!(sample(&during, "attendant_calls_accepted_total", &[("tenant", "acme"), ("transport", "sip")]), 2.0);
        assert_eq!(sample(&during, "attendant_calls_refused_total", &[("reason", "process_limit")]), 1.0);
        assert_eq!(sample(&during, "attendant_ready", &[]), 0.0);
        assert!(sample(&during, "attendant_stage_latency_seconds_count", &[("stage", "vad")]) > 100.0, "the VAD runs every tick");
        assert!(sample(&during, "attendant_stage_latency_seconds_count", &[("stage", "recognition")]) >= 1.0);
        assert!(sample(&during, "attendant_recognition_queue_wait_seconds_count", &[]) >= 1.0);
        assert!(sample(&during, "attendant_media_tick_seconds_count", &[]) > 100.0);

        // The drain: SIGTERM while both calls are up.
        worker.terminate();
        wait_readyz(&worker, 503, "draining", Duration::from_secs(2));
        worker.wait_event("drain_started", Duration::from_secs(2), |e| e["live_calls"] == 2);
        let refused = [("STATUS", "503".to_owned()), ("CHECK_HEADER", "Retry-After:".to_owned())];
        let late = sipp(&worker, "refused.xml", &refused, &[]);
        assert_eq!(late.code, Some(0), "a call during the drain was not refused with 503:\n{}\n{}", late.log, late.messages);
        assert_eq!(sample(&scrape(&worker), "attendant_draining", &[]), 1.0);
        for (name, call) in [("first", first), ("second", second)] {
            let run = call.join().expect("call thread");
            assert_eq!(run.code, Some(0), "the {name} call was harmed by the drain:\n{}\n{}", run.log, run.messages);
        }
    });
    let status = worker.wait_exit(Duration::from_secs(10)).expect("the worker did not exit once its calls had ended");
    assert!(status.success(), "exit status {status}");
    let events = worker.events();
    let drained = events.iter().find(|e| e["event"] == "drain_finished").unwrap_or_else(|| panic!("no drain_finished: {events:#?}"));
    assert_eq!(drained["live_calls"], 0, "{drained}");
    assert!(events.iter().any(|e| e["event"] == "call_refused" && e["cause"] == "draining"), "{events:#?}");
    // Both calls ended by the callers' BYE, not by the drain.
    let ends: Vec<&Value> = events.iter().filter(|e| e["event"] == "call_ended").collect();
    assert_eq!(ends.len(), 2, "{ends:#?}");
    assert!(!events.iter().any(|e| e["event"] == "drain_timeout"), "{events:#?}");
    let stderr = worker.stderr();
    let refused = format!("spans not accepted by http://127.0.0.1:{}/v1/traces", collector.port);
    assert_eq!(stderr.matches(&refused).count(), 1, "one warning for a collector that keeps refusing:\n{stderr}");
}

/// A drain whose deadline passes with a call still up: the worker ends it (a media stream is
/// closed), exits 0, and stream upgrades meanwhile get 503.
#[test]
fn the_drain_deadline_ends_what_is_left_and_exits() {
    let _turn = live_calls();
    let mut worker = Worker::start_with("drain-deadline", "", Some("[drain]\ntimeout_s = 3"), TENANT);
    let seq = worker.dir.join("long.jsonl");
    let made = Command::new("python3")
        .arg(repo_root().join("tools/ws_sequences.py"))
        .args(["twilio", "assistant/yes.wav", "--tail-silence-ms", "30000", "--call-sid", "CA-drain", "-o"])
        .arg(&seq)
        .stdin(Stdio::null())
        .output()
        .expect("python3");
    assert!(made.status.success(), "{}", String::from_utf8_lossy(&made.stderr));
    let replay = |extra: &[&str]| {
        let out = Command::new("python3")
            .arg(repo_root().join("tools/ws_replay.py"))
            .arg(worker.ws_url("/v1/media/twilio"))
            .arg(&seq)
            .arg("--compact")
            .args(extra)
            .stdin(Stdio::null())
            .output()
            .expect("python3");
        serde_json::from_slice::<Value>(&out.stdout).unwrap_or_else(|e| panic!("ws_replay.py: {e}: {}", String::from_utf8_lossy(&out.stderr)))
    };
    std::thread::scope(|scope| {
        let call = scope.spawn(|| replay(&[]));
        worker.wait_event("call_started", Duration::from_secs(10), |e| e["peer_call_id"] == "CA-drain");
        let sigterm = Instant::now();
        worker.terminate();
        wait_ready(&worker, 503, Duration::from_secs(2));
        let refused = replay(&[]);
        assert_eq!((refused["opened"].as_bool(), refused["handshake_status"].as_u64()), (Some(false), Some(503)), "{refused}");
        let client = call.join().expect("client");
        assert_eq!(client["close"]["by"], "server", "{client}");
        let closed_after = sigterm.elapsed();
        assert!(closed_after >= Duration::from_secs(3), "closed {closed_after:?} after SIGTERM, before the 3 s deadline: {client}");
    });
    let status = worker.wait_exit(Duration::from_secs(10)).expect("the worker did not exit after the deadline");
    assert!(status.success(), "exit status {status}");
    let events = worker.events();
    let timeout = events.iter().find(|e| e["event"] == "drain_timeout").unwrap_or_else(|| panic!("no drain_timeout: {events:#?}"));
    assert_eq!(timeout["hung_up"], 1, "{timeout}");
    assert!(events.iter().any(|e| e["event"] == "call_ended" && e["reason"].as_str().is_some_and(|r| r.contains("drain_timeout"))), "{events:#?}");
}

/// Recognition that cannot keep up moves an assistant call to the keypad instead of leaving the
/// caller unanswered: with `keypad_after_ms = 1` every result is "late", so the caller's spoken
/// request over Twilio (the menu's answer, still taken) is the last thing decoded; the worker
/// says to use the keypad as it asks for the account, stops decoding the call (the spoken "yes"
/// at the confirmation is heard as a turn but never transcribed), and the keyed account and
/// confirmation reach the payment decision. Early end is off so that the request's result,
/// not a partial, answers the menu.
#[test]
fn a_call_whose_recognition_falls_behind_goes_on_by_keypad() {
    let _turn = live_calls();
    let flow = crate::support::contoso_flow("keypad", |text| {
        assert!(text.contains("\nearly_end = true\n"), "the sample flow's early_end moved");
        text.replacen("\nearly_end = true\n", "\nearly_end = false\n", 1)
    });
    let tenant = format!("{TENANT}assistant = \"{}\"\n", flow.display());
    let worker = Worker::start_with("keypad", "", Some("[compute]\nkeypad_after_ms = 1"), &tenant);
    let seq = worker.dir.join("keypad.jsonl");
    // interrupt-pay.wav: the payment request, the account number, "yes".
    let made = Command::new("python3")
        .arg(repo_root().join("tools/ws_sequences.py"))
        .args(["twilio", "bargein/interrupt-pay.wav", "--call-sid", "CA-keypad", "--tail-silence-ms", "20000"])
        .args(["--pick", "1,3", "--turn", "say@prompt", "--turn", "keys=55123456#@prompt", "--turn", "say@prompt", "--turn", "keys=1@+4000", "-o"])
        .arg(&seq)
        .stdin(Stdio::null())
        .output()
        .expect("python3");
    assert!(made.status.success(), "{}", String::from_utf8_lossy(&made.stderr));
    let out = Command::new("python3")
        .arg(repo_root().join("tools/ws_replay.py"))
        .arg(worker.ws_url("/v1/media/twilio"))
        .arg(&seq)
        .args(["--compact", "--linger-s", "15"])
        .stdin(Stdio::null())
        .output()
        .expect("python3");
    let client: Value = serde_json::from_slice(&out.stdout).unwrap_or_else(|e| panic!("ws_replay.py: {e}: {}", String::from_utf8_lossy(&out.stderr)));
    let call_id = worker
        .events()
        .iter()
        .find(|e| e["event"] == "call_started" && e["peer_call_id"] == "CA-keypad")
        .and_then(|e| e["call_id"].as_str().map(str::to_owned))
        .unwrap_or_else(|| panic!("no call: {client}"));
    let decision = worker.wait_event("decision", Duration::from_secs(15), |e| e["call_id"] == call_id.as_str());
    let events: Vec<Value> = worker.events().into_iter().filter(|e| e["call_id"] == call_id.as_str()).collect();
    let names: Vec<&str> = events.iter().filter_map(|e| e["event"].as_str()).collect();
    let keypad = names.iter().position(|n| *n == "keypad_only").unwrap_or_else(|| panic!("no keypad_only: {names:?}\n{client}"));
    let prompts: Vec<&str> = events[keypad..].iter().filter(|e| e["event"] == "prompt").filter_map(|e| e["text"].as_str()).collect();
    assert!(prompts.first().is_some_and(|p| p.contains("keypad")), "{prompts:?}");
    assert!(prompts.get(1).is_some_and(|p| p.contains("account number")), "the account is asked for again: {prompts:?}");
    // Nothing decoded for any turn after the one that was late.
    let late_turn = events[..keypad]
        .iter()
        .rev()
        .find(|e| e["event"] == "final_transcript" || e["event"] == "partial_transcript")
        .and_then(|e| e["turn"].as_u64())
        .expect("the late result");
    let decoded_after: Vec<&Value> = events.iter().filter(|e| (e["event"] == "final_transcript" || e["event"] == "partial_transcript") && e["turn"].as_u64().is_some_and(|t| t > late_turn)).collect();
    assert!(decoded_after.is_empty(), "turns decoded after the call went keypad-only: {decoded_after:#?}");
    assert!(events.iter().any(|e| e["event"] == "speech_started" && e["turn"].as_u64().is_some_and(|t| t > late_turn)), "the spoken yes was heard as a turn: {names:?}");
    assert_eq!(decision["intent"], "payment", "{decision:#}");
    assert_eq!(decision["slots"]["account"], "55123456", "{decision:#}");
    assert_eq!(decision["target"]["queue"], "payments", "{decision:#}");
    assert_eq!(sample(&scrape(&worker), "attendant_calls_keypad_only_total", &[("tenant", "acme")]), 1.0);
}

/// The Helm chart's worker.toml (rendered by tools/k8s_check.py) is a configuration the worker
/// accepts as it stands in the pod: the chart and the worker cannot drift apart.
#[test]
fn the_charts_worker_config_is_accepted_by_the_worker() {
    let out = Command::new("python3").arg(repo_root().join("tools/k8s_check.py")).arg("--worker-toml").output().expect("python3");
    assert!(out.status.success(), "{}", String::from_utf8_lossy(&out.stderr));
    let text = String::from_utf8(out.stdout).expect("utf-8");
    // The pod's environment gives POD_IP (status.podIP); the assistant file sits beside the
    // config in the image, as config/contoso.flow.toml does here.
    std::env::set_var("POD_IP", "10.1.2.3");
    let config = attendant_worker::serve::config::ServeConfig::parse(&text, &repo_root().join("config")).unwrap_or_else(|e| panic!("{e:#}\n{text}"));
    assert_eq!(config.sip.advertised_host.as_deref(), Some("10.1.2.3"));
    assert!(config.rtp.address.is_unspecified());
    assert_eq!((config.drain.timeout_s, config.limits.max_calls), (300, 100));
    assert_eq!(config.http.listen.map(|a| a.port()), Some(8080));
    assert_eq!(config.otel.endpoint, None, "no trace export unless asked for");
    // With a collector configured, the chart's [otel] section is one the worker takes.
    let endpoint = "http://otel-collector.observability:4318/v1/traces";
    let out = Command::new("python3").arg(repo_root().join("tools/k8s_check.py")).args(["--set", &format!("otel.endpoint={endpoint}"), "--worker-toml"]).output().expect("python3");
    assert!(out.status.success(), "{}", String::from_utf8_lossy(&out.stderr));
    let text = String::from_utf8(out.stdout).expect("utf-8");
    let config = attendant_worker::serve::config::ServeConfig::parse(&text, &repo_root().join("config")).unwrap_or_else(|e| panic!("{e:#}\n{text}"));
    assert_eq!(config.otel.endpoint.as_deref(), Some(endpoint));
}
