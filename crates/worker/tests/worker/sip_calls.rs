//! `attendant serve` against sipp playing a session border controller: calls with speech and
//! RFC 4733 digits, OPTIONS keepalives, CANCEL, refusals, transfers, and garbage on the wire.
//!
//! Each test starts its own worker process on its own ports and reads the call events it
//! writes; sipp (Debian `sip-tester`, installed by `tools/setup.sh`) runs the scenarios in
//! `testdata/sipp/`, whose `@NAME@` placeholders are filled in here.

use std::io::{BufRead as _, BufReader};
use std::net::{TcpListener, UdpSocket};
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::sync::atomic::{AtomicU16, Ordering};
use std::time::{Duration, Instant};

use serde_json::Value;

use crate::support::{model_dir, normalize, repo_root, word_errors};

/// RTP port ranges handed to workers and sipp, 200 ports apart, so tests never collide.
static NEXT_RANGE: AtomicU16 = AtomicU16::new(30_000);

fn port_range() -> u16 {
    NEXT_RANGE.fetch_add(200, Ordering::SeqCst)
}

/// A UDP port that is also free for TCP.
fn free_port() -> u16 {
    loop {
        let udp = UdpSocket::bind("127.0.0.1:0").expect("bind");
        let port = udp.local_addr().expect("addr").port();
        if TcpListener::bind(("127.0.0.1", port)).is_ok() {
            return port;
        }
    }
}

struct Worker {
    child: Child,
    dir: PathBuf,
    sip_port: u16,
}

impl Worker {
    /// Starts `attendant serve` with `sip_extra` in `[sip]` and the given tenants.
    fn start(name: &str, sip_extra: &str, tenants: &str) -> Self {
        let dir = std::env::temp_dir().join(format!("attendant-sip-{}-{name}", std::process::id()));
        let _ = std::fs::remove_dir_all(&dir);
        std::fs::create_dir_all(&dir).expect("temp dir");
        let sip_port = free_port();
        let rtp = port_range();
        let config = format!(
            "[sip]\nudp = [\"127.0.0.1:{sip_port}\"]\ntcp = [\"127.0.0.1:{sip_port}\"]\n{sip_extra}\n\
             [rtp]\nport_min = {rtp}\nport_max = {}\n\
             [events]\nfile = \"{}\"\nstdout = false\n{tenants}",
            rtp + 98,
            dir.join("events.jsonl").display()
        );
        let config_path = dir.join("worker.toml");
        std::fs::write(&config_path, config).expect("write config");
        let mut child = Command::new(env!("CARGO_BIN_EXE_attendant"))
            .args(["serve", "--config", config_path.to_str().expect("utf-8")])
            .env("ATTENDANT_MODELS", model_dir().path())
            .stdout(Stdio::null())
            .stderr(Stdio::piped())
            .spawn()
            .expect("start attendant serve");
        // Ready when it reports its TCP listener (models are loaded by then).
        let stderr = child.stderr.take().expect("stderr");
        let (tx, rx) = std::sync::mpsc::channel();
        std::thread::spawn(move || {
            let mut seen = String::new();
            for line in BufReader::new(stderr).lines().map_while(Result::ok) {
                seen.push_str(&line);
                seen.push('\n');
                if line.contains("SIP on tcp") {
                    let _ = tx.send(Ok(()));
                }
            }
            let _ = tx.send(Err(seen));
        });
        match rx.recv_timeout(Duration::from_secs(60)) {
            Ok(Ok(())) => Self { child, dir, sip_port },
            Ok(Err(stderr)) => panic!("attendant serve exited: {stderr}"),
            Err(_) => panic!("attendant serve did not start within 60 s"),
        }
    }

    fn events(&self) -> Vec<Value> {
        std::fs::read_to_string(self.dir.join("events.jsonl"))
            .unwrap_or_default()
            .lines()
            .map(|l| serde_json::from_str(l).expect("events are JSON lines"))
            .collect()
    }

    /// Waits up to `timeout` for an event named `name` (and matching `pred`).
    fn wait_event(&self, name: &str, timeout: Duration, pred: impl Fn(&Value) -> bool) -> Value {
        let until = Instant::now() + timeout;
        loop {
            if let Some(e) = self.events().into_iter().find(|e| e["event"] == name && pred(e)) {
                return e;
            }
            if Instant::now() > until {
                panic!("no {name} event within {timeout:?}; events: {:#?}", self.events());
            }
            std::thread::sleep(Duration::from_millis(100));
        }
    }

    fn addr(&self) -> String {
        format!("127.0.0.1:{}", self.sip_port)
    }
}

impl Drop for Worker {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

struct SippRun {
    code: Option<i32>,
    messages: String,
    log: String,
}

/// Runs `scenario` from testdata/sipp with `subs` filled in, once, from `local_ip`.
fn sipp(worker: &Worker, scenario: &str, subs: &[(&str, String)], extra: &[&str]) -> SippRun {
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
fn pcap(worker: &Worker, wav: &str, digits: &str) -> PathBuf {
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
    let subs = [("PCAP", pcap.display().to_string()), ("TARGET", "agents@queue.example.net".to_owned())];
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
        junk.send_to(bad.as_bytes(), ("127.0.0.1", worker.sip_port)).expect("send");
        let mut buf = [0u8; 4096];
        let reply = loop {
            let (n, _) = junk.recv_from(&mut buf).expect("a 400 for the malformed INVITE");
            let text = String::from_utf8_lossy(&buf[..n]).into_owned();
            if text.contains("garbage-1") {
                break text;
            }
        };
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
