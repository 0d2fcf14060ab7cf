//! Shared test support: the fixture manifest, one set of models per test binary, WER, and
//! `attendant serve` run as a process for the call tests (`Worker`).

use std::io::{BufRead as _, BufReader};
use std::net::{TcpListener, UdpSocket};
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::sync::atomic::{AtomicU16, Ordering};
use std::sync::{Mutex, MutexGuard, OnceLock};
use std::time::{Duration, Instant};

use serde_json::Value;

use attendant_worker::graph::GraphConfig;
use attendant_worker::models::ModelDir;
use attendant_worker::sync_call::{Engines, FinalTurn, Produced};

pub fn repo_root() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("../..").canonicalize().expect("repository root")
}

pub fn model_dir() -> ModelDir {
    match std::env::var_os("ATTENDANT_MODELS") {
        Some(d) if !d.is_empty() => ModelDir::at(d),
        _ => ModelDir::at(repo_root().join("models")),
    }
}

/// Models are loaded once per test binary; tests take turns with them.
pub fn engines() -> MutexGuard<'static, Engines> {
    static ENGINES: OnceLock<Mutex<Engines>> = OnceLock::new();
    ENGINES
        .get_or_init(|| Mutex::new(Engines::load(&model_dir(), &GraphConfig::default()).expect("models: run python3 tools/fetch_models.py")))
        .lock()
        .unwrap_or_else(|poisoned| poisoned.into_inner())
}

#[derive(Clone, Debug, serde::Deserialize)]
pub struct Turn {
    pub start_ms: u64,
    pub end_ms: u64,
}

#[derive(Clone, Debug, serde::Deserialize)]
pub struct Fixture {
    pub path: String,
    pub kind: String,
    pub text: String,
    pub turns: Option<Vec<Turn>>,
    pub format: serde_json::Value,
    /// Assistant fixtures: the expected intent (None: no match) and slots.
    #[serde(default)]
    pub intent: Option<String>,
    #[serde(default)]
    pub slots: serde_json::Map<String, serde_json::Value>,
    /// Assistant calls: what each turn should yield.
    #[serde(default)]
    pub turns_expected: Vec<ExpectedTurn>,
}

#[derive(Clone, Debug, serde::Deserialize)]
pub struct ExpectedTurn {
    /// What the caller says in this turn (the manifest's record; the tests score by intent and slot).
    #[allow(dead_code)]
    pub text: String,
    pub intent: Option<String>,
    #[serde(default)]
    pub slots: serde_json::Map<String, serde_json::Value>,
}

impl Fixture {
    pub fn file(&self) -> PathBuf {
        repo_root().join("testdata").join(&self.path)
    }

    pub fn is_8k_ulaw(&self) -> bool {
        self.format["format_tag"] == 7 && self.format["sample_rate"] == 8000
    }
}

pub fn fixtures() -> Vec<Fixture> {
    #[derive(serde::Deserialize)]
    struct Manifest {
        files: Vec<Fixture>,
    }
    let text = std::fs::read_to_string(repo_root().join("testdata/fixtures.json")).expect("testdata/fixtures.json");
    serde_json::from_str::<Manifest>(&text).expect("fixtures.json parses").files
}

/// The samples of a 16 kHz mono PCM16 fixture (a path under testdata/) as f32.
pub fn mono_16k(path: &str) -> Vec<f32> {
    let wav = codec::WavFile::open(&repo_root().join("testdata").join(path)).expect("fixture");
    assert_eq!((wav.rate, wav.channels, wav.format), (types::SampleRate::HZ_16000, 1, codec::SampleFormat::S16Le), "{path}");
    let mut out = vec![0.0; wav.data.len() / 2];
    codec::decode(wav.format, &wav.data, &mut out).expect("decode");
    out
}

/// RTP port ranges handed to workers and sipp, 200 ports apart, so tests never collide.
static NEXT_RANGE: AtomicU16 = AtomicU16::new(30_000);

pub fn port_range() -> u16 {
    NEXT_RANGE.fetch_add(200, Ordering::SeqCst)
}

/// A UDP port that is also free for TCP.
pub fn free_port() -> u16 {
    loop {
        let udp = UdpSocket::bind("127.0.0.1:0").expect("bind");
        let port = udp.local_addr().expect("addr").port();
        if TcpListener::bind(("127.0.0.1", port)).is_ok() {
            return port;
        }
    }
}

/// `attendant serve` as a process on its own ports, writing its call events to a JSONL file in
/// its own temporary directory. Killed when dropped.
pub struct Worker {
    child: Child,
    pub dir: PathBuf,
    pub sip_port: u16,
    /// The HTTP API's port (media streams too), when started with one.
    pub http_port: Option<u16>,
    /// Everything the process has written on stderr so far.
    stderr: std::sync::Arc<Mutex<String>>,
}

impl Worker {
    /// Starts `attendant serve` with `sip_extra` in `[sip]` and the given tenants.
    pub fn start(name: &str, sip_extra: &str, tenants: &str) -> Self {
        Self::start_with(name, sip_extra, None, tenants)
    }

    /// As [`Worker::start`], and with `http_extra` the HTTP API (and its media streams) on a
    /// port of its own on loopback: `http_extra` goes in `[http]` after `listen`, and may add
    /// sections of its own after that (`[compute]`, ...).
    pub fn start_with(name: &str, sip_extra: &str, http_extra: Option<&str>, tenants: &str) -> Self {
        let dir = std::env::temp_dir().join(format!("attendant-sip-{}-{name}", std::process::id()));
        let _ = std::fs::remove_dir_all(&dir);
        std::fs::create_dir_all(&dir).expect("temp dir");
        let sip_port = free_port();
        let rtp = port_range();
        let http_port = http_extra.map(|_| free_port());
        let http = match (http_port, http_extra) {
            (Some(port), Some(extra)) => format!("[http]\nlisten = \"127.0.0.1:{port}\"\n{extra}\n"),
            _ => String::new(),
        };
        let config = format!(
            "[sip]\nudp = [\"127.0.0.1:{sip_port}\"]\ntcp = [\"127.0.0.1:{sip_port}\"]\n{sip_extra}\n\
             [rtp]\nport_min = {rtp}\nport_max = {}\n\
             [events]\nfile = \"{}\"\nstdout = false\n{http}{tenants}",
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
        // Ready when it reports its last listener (models are loaded by then).
        let ready = if http_port.is_some() { "HTTP on" } else { "SIP on tcp" };
        let stderr = child.stderr.take().expect("stderr");
        let (tx, rx) = std::sync::mpsc::channel();
        let seen = std::sync::Arc::new(Mutex::new(String::new()));
        let shared = std::sync::Arc::clone(&seen);
        std::thread::spawn(move || {
            for line in BufReader::new(stderr).lines().map_while(Result::ok) {
                {
                    let mut seen = shared.lock().unwrap_or_else(|p| p.into_inner());
                    seen.push_str(&line);
                    seen.push('\n');
                }
                if line.contains(ready) {
                    let _ = tx.send(Ok(()));
                }
            }
            let _ = tx.send(Err(shared.lock().unwrap_or_else(|p| p.into_inner()).clone()));
        });
        match rx.recv_timeout(Duration::from_secs(60)) {
            Ok(Ok(())) => Self { child, dir, sip_port, http_port, stderr: seen },
            Ok(Err(stderr)) => panic!("attendant serve exited: {stderr}"),
            Err(_) => panic!("attendant serve did not start within 60 s"),
        }
    }

    /// What the process has written on stderr so far.
    pub fn stderr(&self) -> String {
        self.stderr.lock().unwrap_or_else(|p| p.into_inner()).clone()
    }

    pub fn events(&self) -> Vec<Value> {
        std::fs::read_to_string(self.dir.join("events.jsonl"))
            .unwrap_or_default()
            .lines()
            .map(|l| serde_json::from_str(l).expect("events are JSON lines"))
            .collect()
    }

    /// Waits up to `timeout` for an event named `name` (and matching `pred`).
    pub fn wait_event(&self, name: &str, timeout: Duration, pred: impl Fn(&Value) -> bool) -> Value {
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

    /// The SIP address.
    pub fn addr(&self) -> String {
        format!("127.0.0.1:{}", self.sip_port)
    }

    /// Sends the worker SIGTERM (what Kubernetes sends to stop a pod).
    pub fn terminate(&self) {
        let status = Command::new("kill").args(["-TERM", &self.child.id().to_string()]).status().expect("kill");
        assert!(status.success(), "kill -TERM failed");
    }

    /// Waits up to `timeout` for the process to exit; its status, or None if it is still up.
    pub fn wait_exit(&mut self, timeout: Duration) -> Option<std::process::ExitStatus> {
        let until = Instant::now() + timeout;
        loop {
            if let Ok(Some(status)) = self.child.try_wait() {
                return Some(status);
            }
            if Instant::now() > until {
                return None;
            }
            std::thread::sleep(Duration::from_millis(100));
        }
    }

    /// GET `path` on the HTTP port: status and body.
    pub fn http_get(&self, path: &str) -> (u16, String) {
        let port = self.http_port.expect("worker started without [http]");
        let agent = ureq::Agent::config_builder().http_status_as_error(false).timeout_global(Some(Duration::from_secs(10))).build().new_agent();
        let mut r = agent.get(format!("http://127.0.0.1:{port}{path}")).call().unwrap_or_else(|e| panic!("GET {path}: {e}"));
        (r.status().as_u16(), r.body_mut().read_to_string().expect("body"))
    }

    /// `ws://` URL of `path` on the HTTP port.
    pub fn ws_url(&self, path: &str) -> String {
        format!("ws://127.0.0.1:{}{path}", self.http_port.expect("worker started without [http]"))
    }
}

impl Drop for Worker {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

/// Tests whose calls run at wall speed against a worker (real-time media, recognition
/// deadlines) hold this while they do, so that two such groups do not share a small
/// machine's cores: one at a time.
pub fn live_calls() -> MutexGuard<'static, ()> {
    static LOCK: Mutex<()> = Mutex::new(());
    LOCK.lock().unwrap_or_else(|poisoned| poisoned.into_inner())
}

/// A copy of the sample tenant's flow (config/contoso.flow.toml) with business hours switched
/// off (a test must not depend on the time of day it runs at), then changed by `edit`.
pub fn contoso_flow(name: &str, edit: impl FnOnce(String) -> String) -> PathBuf {
    let text = std::fs::read_to_string(repo_root().join("config/contoso.flow.toml")).expect("sample flow");
    assert!(text.contains("always_open = false"), "the sample flow's hours switch moved");
    let flow = std::env::temp_dir().join(format!("attendant-contoso-{name}-{}.flow.toml", std::process::id()));
    std::fs::write(&flow, edit(text.replace("always_open = false", "always_open = true"))).expect("write flow");
    flow
}

pub fn finals(produced: &[Produced]) -> Vec<FinalTurn> {
    produced
        .iter()
        .filter_map(|p| match p {
            Produced::Final(t) => Some(t.clone()),
            Produced::Event(_) => None,
        })
        .collect()
}

const UNITS: [&str; 20] = [
    "zero", "one", "two", "three", "four", "five", "six", "seven", "eight", "nine", "ten", "eleven", "twelve", "thirteen",
    "fourteen", "fifteen", "sixteen", "seventeen", "eighteen", "nineteen",
];
const TENS: [&str; 8] = ["twenty", "thirty", "forty", "fifty", "sixty", "seventy", "eighty", "ninety"];

/// Words for scoring: lower case, no punctuation, numbers as single digits (so "twenty two",
/// "22" and "two two" all score alike, as do "457291" and "four five seven two nine one").
pub fn normalize(text: &str) -> Vec<String> {
    let cleaned: String = text
        .to_lowercase()
        .chars()
        .map(|c| if c.is_alphanumeric() || c == '\'' { c } else { ' ' })
        .collect();
    let mut words: Vec<String> = Vec::new();
    let raw: Vec<&str> = cleaned.split_whitespace().collect();
    let mut i = 0;
    while i < raw.len() {
        let w = raw[i];
        let number = if let Some(t) = TENS.iter().position(|&t| t == w) {
            let mut n = (t as u32 + 2) * 10;
            if let Some(u) = raw.get(i + 1).and_then(|n1| UNITS[1..10].iter().position(|u| u == n1)) {
                n += u as u32 + 1;
                i += 1;
            }
            Some(n.to_string())
        } else if let Some(u) = UNITS.iter().position(|&u| u == w) {
            Some(u.to_string())
        } else if w == "oh" && raw.get(i + 1).is_some_and(|n| UNITS.contains(n)) {
            Some("0".to_owned())
        } else if w.chars().all(|c| c.is_ascii_digit()) {
            Some(w.to_owned())
        } else {
            None
        };
        match number {
            Some(digits) => words.extend(digits.chars().map(String::from)),
            None => words.push(w.to_owned()),
        }
        i += 1;
    }
    words
}

/// Word-level edit distance (substitutions + insertions + deletions).
pub fn word_errors(reference: &[String], hypothesis: &[String]) -> usize {
    let mut row: Vec<usize> = (0..=hypothesis.len()).collect();
    for (i, r) in reference.iter().enumerate() {
        let mut diagonal = row[0];
        row[0] = i + 1;
        for (j, h) in hypothesis.iter().enumerate() {
            let next = (row[j + 1] + 1).min(row[j] + 1).min(diagonal + usize::from(r != h));
            diagonal = row[j + 1];
            row[j + 1] = next;
        }
    }
    row[hypothesis.len()]
}

#[test]
fn normalize_scores_spoken_and_written_numbers_alike() {
    assert_eq!(normalize("It's twenty two Baker Street."), normalize("It's 22 Baker Street"));
    assert_eq!(normalize("four five seven two nine one"), normalize("457291"));
    assert_eq!(normalize("One, two... Ten!"), vec!["1", "2", "1", "0"]);
    let r = normalize("I want to pay my bill");
    assert_eq!(word_errors(&r, &normalize("I want to pay my bills")), 1);
    assert_eq!(word_errors(&r, &normalize("")), 6);
    assert_eq!(word_errors(&r, &r), 0);
}

/// `tools/otlp_receiver.py`: an OTLP/HTTP traces endpoint decoding with OpenTelemetry's own
/// protobuf classes, writing each span it gets as a JSON line.
pub struct OtlpReceiver {
    child: Child,
    out: PathBuf,
    pub port: u16,
}

impl OtlpReceiver {
    pub fn start(name: &str) -> Self {
        Self::answering(name, 200)
    }

    /// A collector answering every export with `status` (503: overloaded, say).
    pub fn answering(name: &str, status: u16) -> Self {
        let out = std::env::temp_dir().join(format!("attendant-otlp-{}-{name}.jsonl", std::process::id()));
        let _ = std::fs::remove_file(&out);
        let mut child = Command::new("python3")
            .arg(repo_root().join("tools/otlp_receiver.py"))
            .arg(&out)
            .args(["--status", &status.to_string()])
            .stdout(Stdio::piped())
            .stderr(Stdio::inherit())
            .spawn()
            .expect("python3 tools/otlp_receiver.py");
        let mut line = String::new();
        BufReader::new(child.stdout.take().expect("stdout")).read_line(&mut line).expect("receiver's port");
        let port = line.trim().strip_prefix("listening ").and_then(|p| p.parse().ok()).unwrap_or_else(|| panic!("otlp_receiver said {line:?} (pip install opentelemetry-proto)"));
        Self { child, out, port }
    }

    /// The `[otel]` section pointing a worker here.
    pub fn config(&self) -> String {
        format!("[otel]\nendpoint = \"http://127.0.0.1:{}/v1/traces\"\n", self.port)
    }

    pub fn spans(&self) -> Vec<Value> {
        let text = std::fs::read_to_string(&self.out).unwrap_or_default();
        text.lines().map(|l| serde_json::from_str(l).expect("span JSON")).collect()
    }
}

impl Drop for OtlpReceiver {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}
