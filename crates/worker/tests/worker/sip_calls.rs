//! `attendant serve` against sipp playing a session border controller: calls with speech and
//! RFC 4733 digits, OPTIONS keepalives, CANCEL, refusals, transfers, and garbage on the wire.
//!
//! Each test starts its own worker process on its own ports and reads the call events it
//! writes; sipp (Debian `sip-tester`, installed by `tools/setup.sh`) runs the scenarios in
//! `testdata/sipp/`, whose `@NAME@` placeholders are filled in here.

use std::net::UdpSocket;
use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

use serde_json::Value;

use crate::support::{contoso_flow, free_port, normalize, port_range, repo_root, word_errors, OtlpReceiver, Worker};

pub(crate) struct SippRun {
    pub code: Option<i32>,
    pub messages: String,
    pub log: String,
}

/// Runs `scenario` from testdata/sipp with `subs` filled in, once, from `local_ip`.
pub(crate) fn sipp(worker: &Worker, scenario: &str, subs: &[(&str, String)], extra: &[&str]) -> SippRun {
    let mut text = std::fs::read_to_string(repo_root().join("testdata/sipp").join(scenario)).expect("scenario");
    for (k, v) in subs {
        text = text.replace(&format!("@{k}@"), v);
    }
    let tag = format!("{}-{}", scenario.trim_end_matches(".xml"), free_port());
    let file = worker.dir.join(format!("{tag}.xml"));
    std::fs::write(&file, text).expect("write scenario");
    let (messages, log) = (worker.dir.join(format!("{tag}.msg")), worker.dir.join(format!("{tag}.log")));
    let (sip, media) = (free_port().to_string(), (port_range() + 100).to_string());
    let mut args = vec!["-sf", file.to_str().expect("utf-8"), "-m", "1", "-l", "1", "-p", &sip, "-mp", &media];
    args.extend_from_slice(&["-nostdin", "-timeout", "40s", "-timeout_error", "-trace_msg", "-trace_logs"]);
    let (messages_arg, log_arg) = (messages.to_str().expect("utf-8"), log.to_str().expect("utf-8"));
    args.extend_from_slice(&["-message_file", messages_arg, "-log_file", log_arg]);
    args.extend_from_slice(extra);
    if !extra.contains(&"-i") {
        args.extend_from_slice(&["-i", "127.0.0.1"]);
    }
    let addr = worker.addr();
    args.push(&addr);
    let out = Command::new("sipp")
        .args(&args)
        .current_dir(&worker.dir)
        .stdout(Stdio::null())
        .stderr(Stdio::piped())
        .output()
        .expect("sipp not found: tools/setup.sh installs Debian's sip-tester");
    SippRun {
        code: out.status.code(),
        messages: std::fs::read_to_string(&messages).unwrap_or_default(),
        log: std::fs::read_to_string(&log).unwrap_or_default() + &String::from_utf8_lossy(&out.stderr),
    }
}

/// A pcap of `wav` (8 kHz) as PCMU RTP followed by `digits`, made by tools/wav2pcap.py.
pub(crate) fn pcap(worker: &Worker, wav: &str, digits: &str) -> PathBuf {
    let out = worker.dir.join(format!("{}.pcap", Path::new(wav).file_stem().and_then(|s| s.to_str()).unwrap_or("audio")));
    let status = Command::new("python3")
        .arg(repo_root().join("tools/wav2pcap.py"))
        .arg(repo_root().join("testdata").join(wav))
        .arg(&out)
        .args(["--dtmf", digits, "--lead-ms", "400"])
        .stdout(Stdio::null())
        .status()
        .expect("python3");
    assert!(status.success(), "wav2pcap failed");
    out
}

const LOOPBACK_TENANT: &str = "[[tenants]]\nname = \"acme\"\nsources = [\"127.0.0.1/32\"]\n";

#[test]
fn sbc_call_is_answered_transcribed_and_its_digits_reported() {
    let worker = Worker::start("call", "", LOOPBACK_TENANT);
    let pcap = pcap(&worker, "ivr/pay-bill.8k-ulaw.wav", "47");
    let run = sipp(&worker, "sbc_call.xml", &[("PCAP", pcap.display().to_string()), ("HOLD_MS", "5000".into())], &[]);
    assert_eq!(run.code, Some(0), "sipp failed:\n{}\n{}", run.log, run.messages);
    for status in ["SIP/2.0 100 Trying", "SIP/2.0 180 Ringing", "SIP/2.0 200 OK"] {
        assert!(run.messages.contains(status), "no {status} in:\n{}", run.messages);
    }
    // The 200 echoes the SBC's Record-Route and answers with the first offered codec we have.
    assert!(run.messages.contains("Record-Route: <sip:127.0.0.1:"), "{}", run.messages);
    let started = worker.wait_event("call_started", Duration::from_secs(5), |_| true);
    assert_eq!(started["codec"], "PCMU");
    assert_eq!(started["tenant"], "acme");
    let call_id = started["call_id"].as_str().expect("call id").to_owned();
    let last = worker.wait_event("final_transcript", Duration::from_secs(30), |_| true);
    let errors = word_errors(&normalize("I want to pay my bill."), &normalize(last["text"].as_str().unwrap_or("")));
    assert!(errors <= 1, "transcript {last}");
    let digits: String = worker
        .events()
        .iter()
        .filter(|e| e["event"] == "dtmf")
        .map(|e| e["digit"].as_str().unwrap_or("?").to_owned())
        .collect();
    assert_eq!(digits, "47", "one digit per RFC 4733 event, end packets deduplicated");
    let ended = worker.wait_event("call_ended", Duration::from_secs(10), |_| true);
    assert!(ended["reason"].as_str().unwrap_or("").contains("RemoteHangup"), "{ended}");
    let stats = worker.wait_event("media_stats", Duration::from_secs(5), |_| true);
    assert!(stats["rtp_packets"].as_u64() > Some(100), "{stats}");
    assert!(worker.events().iter().all(|e| e["call_id"] == call_id.as_str() || e["call_id"] == "-"));
}

#[test]
fn sbc_call_over_tcp() {
    let worker = Worker::start("tcp", "", LOOPBACK_TENANT);
    let pcap = pcap(&worker, "ivr/real-person.8k-ulaw.wav", "");
    let run = sipp(&worker, "sbc_call.xml", &[("PCAP", pcap.display().to_string()), ("HOLD_MS", "5000".into())], &["-t", "t1"]);
    assert_eq!(run.code, Some(0), "sipp failed:\n{}\n{}", run.log, run.messages);
    let started = worker.wait_event("call_started", Duration::from_secs(5), |_| true);
    assert_eq!(started["transport"], "Tcp");
    let last = worker.wait_event("final_transcript", Duration::from_secs(30), |_| true);
    let errors = word_errors(&normalize("Can I speak to a real person?"), &normalize(last["text"].as_str().unwrap_or("")));
    assert!(errors <= 1, "transcript {last}");
}

#[test]
fn options_keepalive_is_answered_200() {
    let worker = Worker::start("options", "", LOOPBACK_TENANT);
    let run = sipp(&worker, "options.xml", &[], &[]);
    assert_eq!(run.code, Some(0), "sipp failed:\n{}\n{}", run.log, run.messages);
    assert!(run.messages.contains("SIP/2.0 200 OK"));
}

#[test]
fn cancel_while_ringing_gets_487_and_no_media() {
    let worker = Worker::start("cancel", "answer_after_ms = 3000", LOOPBACK_TENANT);
    let run = sipp(&worker, "cancel.xml", &[], &[]);
    assert_eq!(run.code, Some(0), "sipp failed:\n{}\n{}", run.log, run.messages);
    assert!(run.messages.contains("SIP/2.0 487"), "{}", run.messages);
    let ended = worker.wait_event("call_ended", Duration::from_secs(5), |_| true);
    assert!(ended["reason"].as_str().unwrap_or("").contains("Cancelled"), "{ended}");
    std::thread::sleep(Duration::from_secs(3));
    assert!(worker.events().iter().all(|e| e["event"] != "call_answered" && e["event"] != "media_stats"), "{:#?}", worker.events());
}

#[test]
fn unknown_source_is_refused_403_and_counted() {
    // Only 127.0.0.1 may call; sipp calls from 127.0.0.2.
    let worker = Worker::start("refused", "", LOOPBACK_TENANT);
    let subs = [("STATUS", "403".to_owned()), ("CHECK_HEADER", "To:".to_owned())];
    let run = sipp(&worker, "refused.xml", &subs, &["-i", "127.0.0.2"]);
    assert_eq!(run.code, Some(0), "sipp failed:\n{}\n{}", run.log, run.messages);
    let refused = worker.wait_event("call_refused", Duration::from_secs(5), |_| true);
    assert_eq!(refused["status"], 403);
    assert_eq!(refused["refused_total"], 1, "refusals are counted");
    assert!(refused["source"].as_str().unwrap_or("").starts_with("127.0.0.2:"));
}

#[test]
fn tenant_call_limit_answers_503_with_retry_after() {
    let tenant = "[[tenants]]\nname = \"small\"\nsources = [\"127.0.0.0/8\"]\nmax_calls = 1\n";
    let worker = Worker::start("limit", "", tenant);
    let pcap = pcap(&worker, "ivr/outage.8k-ulaw.wav", "");
    std::thread::scope(|scope| {
        let first = scope.spawn(|| sipp(&worker, "sbc_call.xml", &[("PCAP", pcap.display().to_string()), ("HOLD_MS", "6000".into())], &[]));
        worker.wait_event("call_started", Duration::from_secs(10), |_| true);
        let subs = [("STATUS", "503".to_owned()), ("CHECK_HEADER", "Retry-After:".to_owned())];
        let second = sipp(&worker, "refused.xml", &subs, &[]);
        assert_eq!(second.code, Some(0), "second call not refused with 503 + Retry-After:\n{}\n{}", second.log, second.messages);
        let first = first.join().expect("first call");
        assert_eq!(first.code, Some(0), "the call in progress was harmed:\n{}", first.log);
    });
    let refused = worker.wait_event("call_refused", Duration::from_secs(5), |_| true);
    assert_eq!(refused["status"], 503);
}

#[test]
fn transfer_key_sends_refer_with_context_and_ends_the_call() {
    let tenant = format!("{LOOPBACK_TENANT}transfer = {{ dtmf = \"0\", target = \"sip:agents@queue.example.net\" }}\n");
    let worker = Worker::start("transfer", "", &tenant);
    let pcap = pcap(&worker, "ivr/representative.8k-ulaw.wav", "0");
    let subs = [("PCAP", pcap.display().to_string()), ("TARGET", "agents@queue.example.net".to_owned()), ("REFER_TIMEOUT_MS", "15000".into())];
    let run = sipp(&worker, "transfer.xml", &subs, &[]);
    assert_eq!(run.code, Some(0), "sipp failed:\n{}\n{}", run.log, run.messages);
    assert!(run.messages.contains("Referred-By:"), "{}", run.messages);
    worker.wait_event("transfer_started", Duration::from_secs(5), |e| e["target"] == "sip:agents@queue.example.net");
    worker.wait_event("transfer_result", Duration::from_secs(5), |e| e["ok"] == true);
    let ended = worker.wait_event("call_ended", Duration::from_secs(5), |_| true);
    assert!(ended["reason"].as_str().unwrap_or("").contains("LocalHangup"), "{ended}");
}

/// Garbage datagrams and malformed SIP on the signalling port, and a flood of junk on the
/// call's RTP port: the malformed request gets 400, the rest is dropped and counted, and the
/// call in progress is transcribed as if nothing happened.
#[test]
fn garbage_harms_no_call() {
    let worker = Worker::start("garbage", "", LOOPBACK_TENANT);
    let pcap = pcap(&worker, "ivr/pay-bill.8k-ulaw.wav", "");
    std::thread::scope(|scope| {
        let call = scope.spawn(|| sipp(&worker, "sbc_call.xml", &[("PCAP", pcap.display().to_string()), ("HOLD_MS", "5000".into())], &[]));
        let started = worker.wait_event("call_started", Duration::from_secs(10), |_| true);
        let rtp_port = started["rtp_port"].as_u64().expect("rtp port") as u16;
        let junk = UdpSocket::bind("127.0.0.1:0").expect("bind");
        junk.set_read_timeout(Some(Duration::from_secs(2))).expect("timeout");
        let mut seed = 0x1234_5678u32;
        let mut noise = |n: usize| -> Vec<u8> {
            (0..n)
                .map(|_| {
                    seed = seed.wrapping_mul(1_664_525).wrapping_add(1_013_904_223);
                    (seed >> 24) as u8
                })
                .collect()
        };
        for i in 0..2000 {
            let data = noise(1 + i % 300);
            let _ = junk.send_to(&data, ("127.0.0.1", worker.sip_port));
            let _ = junk.send_to(&data, ("127.0.0.1", rtp_port));
            // RTP-looking junk: version 2, valid header, random payload type and SSRC.
            let mut rtp = noise(172);
            rtp[0] = 0x80;
            let _ = junk.send_to(&rtp, ("127.0.0.1", rtp_port));
        }
        let bad = "INVITE sip:ivr@127.0.0.1 SIP/2.0\r\nVia: SIP/2.0/UDP 127.0.0.1:9;branch=z9hG4bKbad1\r\n\
                   From: <sip:a@b>;tag=1\r\nTo: <sip:ivr@127.0.0.1>\r\nCall-ID: garbage-1\r\nCSeq: one INVITE\r\n\
                   Max-Forwards: 70\r\nContent-Length: 0\r\n\r\n";
        // The flood overflows the kernel's receive buffer, so this request can be lost like any
        // UDP datagram: send it again every 500 ms, as a SIP client retransmits (Timer A).
        junk.set_read_timeout(Some(Duration::from_millis(500))).expect("timeout");
        let mut buf = [0u8; 4096];
        let reply = (0..8)
            .find_map(|_| {
                junk.send_to(bad.as_bytes(), ("127.0.0.1", worker.sip_port)).expect("send");
                let until = Instant::now() + Duration::from_millis(500);
                while Instant::now() < until {
                    let Ok((n, _)) = junk.recv_from(&mut buf) else { break };
                    let text = String::from_utf8_lossy(&buf[..n]).into_owned();
                    if text.contains("garbage-1") {
                        return Some(text);
                    }
                }
                None
            })
            .expect("a 400 for the malformed INVITE within 8 tries");
        assert!(reply.starts_with("SIP/2.0 400 "), "{reply}");
        let run = call.join().expect("call");
        assert_eq!(run.code, Some(0), "the call was harmed:\n{}\n{}", run.log, run.messages);
    });
    let last = worker.wait_event("final_transcript", Duration::from_secs(30), |_| true);
    let errors = word_errors(&normalize("I want to pay my bill."), &normalize(last["text"].as_str().unwrap_or("")));
    assert!(errors <= 1, "transcript under a flood: {last}");
    let stats = worker.wait_event("media_stats", Duration::from_secs(10), |_| true);
    assert!(stats["not_rtp"].as_u64().unwrap_or(0) + stats["malformed"].as_u64().unwrap_or(0) > 0, "{stats}");
    assert!(worker.events().iter().any(|e| e["event"] == "sip_malformed"));
}

/// Runs tools/sbc_peer.py (an SBC placing one SDES-SRTP call; needs PyPI `pylibsrtp`) against
/// `worker` and returns its exit code and JSON summary.
fn sbc_peer(worker: &Worker, args: &[&str]) -> (Option<i32>, Value) {
    let media = (port_range() + 100).to_string();
    let out = Command::new("python3")
        .arg(repo_root().join("tools/sbc_peer.py"))
        .arg(worker.addr())
        .args(["--rtp-port", &media, "--compact"])
        .args(args)
        .stdin(Stdio::null())
        .output()
        .expect("python3");
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(!stderr.contains("pylibsrtp is not installed"), "{stderr}");
    let summary = serde_json::from_slice(&out.stdout)
        .unwrap_or_else(|e| panic!("sbc_peer.py printed no JSON summary ({e}): {stderr}\n{}", String::from_utf8_lossy(&out.stdout)));
    (out.status.code(), summary)
}

fn testdata(path: &str) -> String {
    repo_root().join("testdata").join(path).display().to_string()
}

fn count(v: &Value) -> u64 {
    v.as_u64().unwrap_or_else(|| panic!("not a count: {v}"))
}

/// The Teams Direct Routing media leg: SDES-SRTP (AES_CM_128_HMAC_SHA1_80, rtcp-mux) with
/// tampered, replayed and truncated SRTP and SRTCP mixed into the caller's stream. The worker
/// answers with a key of its own, drops every bad packet without harm to the call, transcribes
/// the caller, and its own SRTP and SRTCP authenticate at the SBC.
#[test]
fn srtp_call_is_decrypted_and_transcribed() {
    let worker = Worker::start("srtp", "", LOOPBACK_TENANT);
    let (code, peer) = sbc_peer(&worker, &["--wav", &testdata("ivr/pay-bill.8k-ulaw.wav"), "--bad-srtp"]);
    assert_eq!(code, Some(0), "sbc_peer failed: {peer:#}");
    let sip = &peer["sip"];
    for status in ["100 Trying", "180 Ringing", "200 OK"] {
        assert!(sip["invite_responses"].as_array().is_some_and(|r| r.iter().any(|s| s == status)), "no {status}: {sip}");
    }
    assert_eq!(sip["record_route_echoed"], true, "{sip}");
    assert_eq!(sip["bye_status"], 200, "{sip}");
    // The answer: SRTP with the offered suite and tag, and a key that is the worker's own.
    let answer = &peer["answer"];
    assert_eq!(answer["protocol"], "RTP/SAVP", "{answer}");
    assert_eq!(answer["payload_type"], 0, "{answer}");
    assert_eq!(answer["telephone_event"], 101, "{answer}");
    assert_eq!(answer["rtcp_mux"], true, "{answer}");
    assert_eq!(answer["crypto_tag"], 1, "{answer}");
    assert_eq!(answer["crypto_suite"], "AES_CM_128_HMAC_SHA1_80", "{answer}");
    assert!(answer["sdp"].as_str().unwrap_or("").contains("a=crypto:1 AES_CM_128_HMAC_SHA1_80 inline:"), "{answer}");
    assert_eq!(answer["key_differs"], true, "the worker must not echo the SBC's key: {answer}");
    // The worker's SRTP and SRTCP authenticate with the key it answered, and its stream is sound.
    let rx = &peer["received"];
    assert!(count(&rx["unprotect_ok"]) > 150, "{rx}");
    assert_eq!((count(&rx["auth_failed"]), count(&rx["replay_failed"])), (0, 0), "{rx}");
    assert_eq!(rx["first_marker"], true, "{rx}");
    assert_eq!(rx["ssrc_constant"], true, "{rx}");
    for field in ["ts_errors", "seq_gaps", "seq_backwards", "markers_after_first", "payload_len_errors", "rtcp_failed"] {
        assert_eq!(count(&rx[field]), 0, "{field}: {rx}");
    }
    assert!(count(&rx["rtcp_ok"]) > 0 && rx["rtcp_bye"] == true, "{rx}");
    // The worker's report block echoes one of our SRs: our SRTCP authenticated at the worker.
    assert_eq!(rx["worker_echoed_our_sr"], true, "{rx}");
    if !rx["worker_report"].is_null() {
        assert_eq!(rx["worker_report"]["cumulative_lost"], 0, "bad packets counted as our stream: {rx}");
    }
    let started = worker.wait_event("call_started", Duration::from_secs(5), |_| true);
    assert_eq!(started["codec"], "PCMU");
    assert_eq!(started["call_id"], peer["call_id"]);
    let last = worker.wait_event("final_transcript", Duration::from_secs(30), |_| true);
    let errors = word_errors(&normalize("I want to pay my bill."), &normalize(last["text"].as_str().unwrap_or("")));
    assert!(errors <= 1, "transcript {last}");
    // Every bad packet was dropped and counted; none reached the jitter buffer.
    let sent = &peer["sent"];
    let stats = worker.wait_event("media_stats", Duration::from_secs(10), |_| true);
    let valid = count(&sent["packets"]);
    let rtp = count(&stats["rtp_packets"]);
    assert!(rtp + 1 >= valid && rtp <= valid, "{rtp} RTP packets accepted of {valid} valid sent: {stats} {sent}");
    assert_eq!(stats["duplicates"], 0, "a replay was accepted: {stats}");
    assert_eq!(stats["malformed"], sent["expect_malformed"], "{stats} {sent}");
    assert!(count(&sent["expect_auth_failures"]) >= 6 && count(&sent["expect_replays"]) >= 4, "{sent}");
    // Counted by rtp::SessionStats; checked once the media_stats event reports them.
    for (field, expected) in [("srtp_auth_failures", "expect_auth_failures"), ("srtp_replays", "expect_replays")] {
        if let Some(n) = stats.get(field) {
            assert_eq!(n, &sent[expected], "{field}: {stats} {sent}");
        }
    }
    let ended = worker.wait_event("call_ended", Duration::from_secs(5), |_| true);
    assert!(ended["reason"].as_str().unwrap_or("").contains("RemoteHangup"), "{ended}");
}

/// A tenant's prompt goes out at the start of the call as paced SRTP: the prompt's speech, in
/// 20 ms PCMU packets with consecutive sequence numbers, timestamps 160 apart and the marker on
/// the first, sent in real time; then silence for the rest of the call.
#[test]
fn tenant_prompt_is_played_as_paced_rtp() {
    // opening-hours: 2.22 s, speech from 0.30 s to 1.52 s, digital silence around it.
    let prompt = repo_root().join("testdata/ivr/opening-hours.16k.wav");
    let tenant = format!("{LOOPBACK_TENANT}prompt = \"{}\"\n", prompt.display());
    let worker = Worker::start("prompt", "", &tenant);
    let reference = testdata("ivr/opening-hours.8k-ulaw.wav");
    let (code, peer) = sbc_peer(&worker, &["--tail-ms", "4000", "--reference", &reference]);
    assert_eq!(code, Some(0), "sbc_peer failed: {peer:#}");
    worker.wait_event("prompt_finished", Duration::from_secs(5), |_| true);
    let rx = &peer["received"];
    assert_eq!(rx["first_marker"], true, "{rx}");
    assert_eq!(rx["ssrc_constant"], true, "{rx}");
    for field in ["auth_failed", "ts_errors", "seq_gaps", "seq_backwards", "markers_after_first", "payload_len_errors"] {
        assert_eq!(count(&rx[field]), 0, "{field}: {rx}");
    }
    // Paced: the packets span as much wall-clock time as RTP time, not a burst.
    let (media_ms, wall_ms) = (rx["media_span_ms"].as_f64().unwrap_or(0.0), rx["wall_span_ms"].as_f64().unwrap_or(0.0));
    assert!(media_ms >= 4000.0, "{rx}");
    assert!(wall_ms > media_ms * 0.8 && wall_ms < media_ms * 1.25, "not paced: {wall_ms} ms wall for {media_ms} ms of RTP");
    assert_eq!(count(&rx["audio_packets"]), (media_ms / 20.0) as u64 + 1, "{rx}");
    // The prompt's speech at the start of the stream, by RTP time...
    let levels: Vec<f64> = rx["frame_level_dbfs"].as_array().expect("levels").iter().map(|v| v.as_f64().unwrap_or(-120.0)).collect();
    let threshold = rx["active_dbfs_threshold"].as_f64().expect("threshold");
    let active: Vec<usize> = (0..levels.len()).filter(|&i| levels[i] > threshold).collect();
    let (first, last) = (active.first().copied().unwrap_or(0) * 20, active.last().copied().unwrap_or(0) * 20 + 20);
    assert!((240..=460).contains(&first), "prompt speech starts at {first} ms of RTP time, expected ~300: {levels:?}");
    assert!((1200..=1800).contains(&last), "prompt speech ends at {last} ms of RTP time, expected ~1500: {levels:?}");
    assert!(active.len() >= 40, "{} frames of sound: {levels:?}", active.len());
    assert!(levels.iter().copied().fold(f64::MIN, f64::max) > -30.0, "prompt too quiet: {levels:?}");
    // ...is the prompt itself (against the 8 kHz rendering of the same file)...
    let reference = &rx["reference"];
    assert!(reference["correlation"].as_f64().unwrap_or(0.0) > 0.95, "received audio is not the prompt: {reference}");
    assert!((0.0..=20.0).contains(&reference["lag_ms"].as_f64().unwrap_or(-1.0)), "{reference}");
    // ...and it is played once: silence-level audio from its end to the end of the call.
    let quiet_from = 1800 / 20;
    assert!(levels.len() > quiet_from + 100, "{} frames", levels.len());
    assert!(levels[quiet_from..].iter().all(|&l| l < -60.0), "sound after the prompt: {:?}", &levels[quiet_from..]);
    let seconds: Vec<f64> = rx["level_dbfs_per_second"].as_array().expect("seconds").iter().map(|v| v.as_f64().unwrap_or(0.0)).collect();
    assert!(seconds[0] > -45.0 && seconds[2..].iter().all(|&l| l < -60.0), "{seconds:?}");
    let stats = worker.wait_event("media_stats", Duration::from_secs(10), |_| true);
    assert!(count(&stats["rtp_packets"]) > 150, "{stats}");
}

/// Mid-call changes from the SBC: hold (answered recvonly), then a resume that changes the codec
/// to PCMA, whose audio the worker must then decode and transcribe.
#[test]
fn reinvite_hold_and_codec_change_reach_the_media() {
    let worker = Worker::start("reinvite", "", LOOPBACK_TENANT);
    let out = worker.dir.join("outage-pcma.pcap");
    let status = Command::new("python3")
        .arg(repo_root().join("tools/wav2pcap.py"))
        .arg(repo_root().join("testdata/ivr/outage.8k-ulaw.wav"))
        .arg(&out)
        .args(["--codec", "pcma", "--lead-ms", "300"])
        .stdout(Stdio::null())
        .status()
        .expect("python3");
    assert!(status.success());
    let run = sipp(&worker, "reinvite.xml", &[("PCAP", out.display().to_string())], &[]);
    assert_eq!(run.code, Some(0), "sipp failed:\n{}\n{}", run.log, run.messages);
    assert!(run.log.contains("hold answered a=recvonly"), "{}", run.log);
    let changes: Vec<Value> = worker.events().into_iter().filter(|e| e["event"] == "reinvite").collect();
    assert_eq!(changes.len(), 2, "{changes:?}");
    assert_eq!((changes[0]["direction"].as_str(), changes[0]["codec_changed"].as_bool()), (Some("recvonly"), Some(false)));
    assert_eq!((changes[1]["codec"].as_str(), changes[1]["codec_changed"].as_bool()), (Some("PCMA"), Some(true)));
    let last = worker.wait_event("final_transcript", Duration::from_secs(30), |_| true);
    let errors = word_errors(&normalize("Is there an outage in my area?"), &normalize(last["text"].as_str().unwrap_or("")));
    assert!(errors <= 1, "PCMA audio after the codec change: {last}");
}

/// A µ-law 8 kHz mono WAV of `fixture` with `lead_ms` of silence before it and `trail_ms` after.
fn padded_ulaw(worker: &Worker, fixture: &str, lead_ms: u32, trail_ms: u32) -> String {
    let wav = codec::WavFile::open(&repo_root().join("testdata").join(fixture)).expect("fixture");
    assert_eq!((wav.format, wav.rate.hz(), wav.channels), (codec::SampleFormat::Ulaw, 8000, 1), "{fixture}");
    let mut data = vec![0xffu8; (lead_ms * 8) as usize];
    data.extend_from_slice(&wav.data);
    data.extend(std::iter::repeat_n(0xffu8, (trail_ms * 8) as usize));
    let mut out = Vec::new();
    out.extend_from_slice(b"RIFF");
    out.extend_from_slice(&(4 + 26 + 8 + data.len() as u32).to_le_bytes());
    out.extend_from_slice(b"WAVEfmt ");
    out.extend_from_slice(&18u32.to_le_bytes());
    for v in [7u16, 1] {
        out.extend_from_slice(&v.to_le_bytes());
    }
    out.extend_from_slice(&8000u32.to_le_bytes());
    out.extend_from_slice(&8000u32.to_le_bytes());
    for v in [1u16, 8, 0] {
        out.extend_from_slice(&v.to_le_bytes());
    }
    out.extend_from_slice(b"data");
    out.extend_from_slice(&(data.len() as u32).to_le_bytes());
    out.extend_from_slice(&data);
    let path = worker.dir.join("caller.wav");
    std::fs::write(&path, out).expect("write wav");
    path.display().to_string()
}

/// A payment call through sipp to a worker running the sample assistant: the caller asks for a
/// payment `lead_ms` into the call (`assistant/make-a-payment.wav`), then, 8 s after it, keys
/// the account number and "1" (yes), and the scenario waits for the REFER. Business hours are
/// switched off in a copy of the flow: the test must not depend on the time of day it runs at.
/// `config` goes in the worker's config before the tenant.
fn payment_call_through_sipp(name: &str, lead_ms: u32, config: &str) -> (Worker, SippRun, Vec<Value>) {
    let flow = contoso_flow(name, |text| text);
    let tenant = format!("{config}{LOOPBACK_TENANT}assistant = \"{}\"\n", flow.display());
    let worker = Worker::start(name, "", &tenant);
    // 8 s after the request: time enough for recognition on a loaded machine.
    let wav = padded_ulaw(&worker, "assistant/make-a-payment.wav", lead_ms, 8_000);
    let pcap_path = worker.dir.join(format!("{name}.pcap"));
    let status = Command::new("python3")
        .arg(repo_root().join("tools/wav2pcap.py"))
        .args([wav.as_str(), pcap_path.to_str().expect("utf-8"), "--dtmf", "551234561"])
        .stdout(Stdio::null())
        .status()
        .expect("python3");
    assert!(status.success(), "wav2pcap failed");
    let subs = [("PCAP", pcap_path.display().to_string()), ("TARGET", "alice@cc.contoso.example.com".to_owned()), ("REFER_TIMEOUT_MS", "60000".into())];
    let run = sipp(&worker, "transfer.xml", &subs, &["-timeout", "90s"]);
    let events = worker.events();
    assert_eq!(run.code, Some(0), "sipp failed:\n{}\n{}\nevents: {events:#?}", run.log, run.messages);
    (worker, run, events)
}

/// A whole assistant call from an SBC: the sample tenant's greeting and menu are played as RTP,
/// the caller says what they want, keys the account number and confirms with 1; the decision
/// goes out as an event (intent, slot, target) and as a REFER to the chosen agent carrying the
/// context in User-to-User and X-Attendant-* headers. The call is also exported as an
/// OpenTelemetry trace (OTLP/HTTP to tools/otlp_receiver.py): a call span with the decision,
/// turn spans under it, the records as span events, the caller's number masked.
#[test]
fn assistant_call_through_sipp_ends_in_a_refer_with_the_decision() {
    let receiver = OtlpReceiver::start("assistant");
    // The greeting and menu last about 18 s; the caller answers after 20 s.
    let (mut worker, run, events) = payment_call_through_sipp("assistant", 20_000, &receiver.config());
    for header in ["X-Attendant-Intent: payment", "X-Attendant-Queue: payments", "User-to-User:"] {
        assert!(run.messages.contains(header), "no {header} in:\n{}", run.messages);
    }
    let prompts = events.iter().filter(|e| e["event"] == "prompt").count();
    assert!(prompts >= 3, "greeting, menu, account prompt expected: {events:#?}");
    let decision = worker.wait_event("decision", Duration::from_secs(5), |_| true);
    assert_eq!(decision["intent"], "payment", "{decision}");
    assert_eq!(decision["slots"]["account"], "55123456", "{decision}");
    assert_eq!(decision["target"]["queue"], "payments", "{decision}");
    // Timed from the caller's last input (here the "1" key) to the decision.
    assert!(decision["timings"]["last_word_to_decision_ms"].as_u64().is_some_and(|ms| ms < 2_000), "{decision}");
    worker.wait_event("transfer_result", Duration::from_secs(10), |e| e["ok"] == true);
    worker.wait_event("call_ended", Duration::from_secs(10), |_| true);

    // The drain flushes the traces before the process exits.
    worker.terminate();
    let status = worker.wait_exit(Duration::from_secs(20)).expect("the worker did not exit");
    assert!(status.success(), "exit status {status}");
    check_call_trace(&receiver.spans(), &worker.events());
}

/// The trace of the payment call: one call span (server) with the decision's summary and the
/// end reason, turn spans parented to it inside its time, every record an event.
fn check_call_trace(spans: &[Value], events: &[Value]) {
    let calls: Vec<&Value> = spans.iter().filter(|s| s["name"] == "call").collect();
    assert_eq!(calls.len(), 1, "one call span expected: {spans:#?}");
    let call = calls[0];
    let a = &call["attributes"];
    let started = events.iter().find(|e| e["event"] == "call_started").expect("call_started");
    assert_eq!((call["kind"].as_str(), call["parent_span_id"].as_str()), (Some("SPAN_KIND_SERVER"), Some("")), "{call:#}");
    assert_eq!(a["attendant.call_id"], started["call_id"], "{a:#}");
    assert_eq!(a["attendant.tenant"], "acme", "{a:#}");
    assert_eq!(a["attendant.decision.intent"], "payment", "{a:#}");
    assert_eq!(a["attendant.decision.target.queue"], "payments", "{a:#}");
    assert!(a["attendant.decision.confidence"].as_f64().is_some_and(|c| c > 0.0 && c <= 1.0), "{a:#}");
    assert!(a["attendant.end_reason"].is_string(), "{a:#}");
    assert_eq!(call["status"]["code"], "STATUS_CODE_OK", "{call:#}");
    assert_eq!(call["resource"]["service.name"], "attendant", "{call:#}");
    // The caller's number as the SBC sent it in the events file, masked in the trace.
    let from = started["from"].as_str().expect("from");
    assert!(from.contains("+1"), "{started}");
    assert_eq!(a["attendant.from"].as_str(), Some(attendant_worker::serve::telemetry::redact::redact_numbers(from).as_str()), "{a:#}");
    assert_ne!(a["attendant.from"].as_str(), Some(from));
    let (start, end) = (call["start_time_unix_nano"].as_u64().unwrap_or(0), call["end_time_unix_nano"].as_u64().unwrap_or(0));
    let ts = |e: &Value| e["ts_ms"].as_u64().unwrap_or(0) * 1_000_000;
    assert_eq!(start, ts(started), "the call span starts at call_started");
    // It ends with the call's last record (media_stats follows call_ended).
    let last = events.iter().filter(|e| e["call_id"] == started["call_id"]).map(ts).max().unwrap_or(0);
    assert_eq!(end, last, "the call span ends at the call's last record");

    let turns: Vec<&Value> = spans.iter().filter(|s| s["name"] == "turn").collect();
    assert!(!turns.is_empty(), "turn spans expected: {spans:#?}");
    for turn in &turns {
        assert_eq!((&turn["trace_id"], &turn["parent_span_id"]), (&call["trace_id"], &call["span_id"]), "{turn:#}");
        let (t0, t1) = (turn["start_time_unix_nano"].as_u64().unwrap_or(0), turn["end_time_unix_nano"].as_u64().unwrap_or(0));
        assert!(start <= t0 && t0 <= t1 && t1 <= end, "turn outside its call: {turn:#}");
    }
    // Every record of the call is an event of its span or of one of its turns.
    let mut names: Vec<&str> = std::iter::once(call).chain(turns.iter().copied()).flat_map(|s| s["events"].as_array().into_iter().flatten()).filter_map(|e| e["name"].as_str()).collect();
    let mut expected: Vec<String> = events
        .iter()
        .filter(|e| e["call_id"] == started["call_id"] && e["event"] != "call_started")
        .map(|e| match (e["event"].as_str(), e["flow"].as_str()) {
            (Some("flow"), Some(step)) => format!("flow.{step}"),
            (name, _) => name.unwrap_or("?").to_owned(),
        })
        .collect();
    names.sort_unstable();
    expected.sort_unstable();
    assert_eq!(names, expected, "span events vs the call's records");
    let decision = turns.iter().chain(std::iter::once(&call)).flat_map(|s| s["events"].as_array().into_iter().flatten()).find(|e| e["name"] == "decision").expect("decision event");
    assert_eq!(decision["attributes"]["intent"], "payment", "{decision:#}");
}

/// Barge-in on a real call: the caller asks for a payment 4 s into the call, over the menu
/// prompt; the worker pauses the prompt, takes the request as the menu's answer, reports where
/// the prompt stopped and what the caller heard of it, and the call ends in the payment REFER.
#[test]
fn caller_speech_over_the_menu_prompt_barges_in_through_sipp() {
    // The request at 4 s, over the menu prompt (which follows a 2 s greeting); the keys come
    // during the account prompt: keys during a prompt are type-ahead.
    let (worker, _, events) = payment_call_through_sipp("bargein", 4_000, "");
    let names: Vec<&str> = events.iter().filter_map(|e| e["event"].as_str()).collect();
    let at = |name: &str| names.iter().position(|n| *n == name).unwrap_or_else(|| panic!("no {name} event: {names:?}"));
    assert!(at("prompt_paused") < at("barge_in") && at("barge_in") < at("prompt_interrupted"), "{names:?}");
    let interrupted = events.iter().find(|e| e["event"] == "prompt_interrupted").expect("prompt_interrupted");
    let i = &interrupted["interruption"];
    let (position, length) = (i["position_ms"].as_u64().unwrap_or(0), i["length_ms"].as_u64().unwrap_or(0));
    assert!(position > 0 && position < length, "stopped part-way: {interrupted}");
    assert!(i["heard"].as_str().is_some_and(|h| !h.is_empty()), "{interrupted}");
    let decision = worker.wait_event("decision", Duration::from_secs(5), |_| true);
    assert_eq!(decision["intent"], "payment", "{decision}");
    assert_eq!(decision["slots"]["account"], "55123456", "{decision}");
    worker.wait_event("transfer_result", Duration::from_secs(10), |e| e["ok"] == true);
}
