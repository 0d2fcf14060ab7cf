//! SIP load: N concurrent SIP callers over UDP against `attendant serve`, each streaming the
//! caller's audio as PCMU RTP in real time, optionally through a lossy, jittery network, to
//! check that the worker sets up every call, keeps its media in real time, and (with the
//! assistant) decides as it should at that many calls.
//!
//! ```sh
//! cargo run --release -p attendant-benches --example sip_load -- \
//!     --target 127.0.0.1:5060 --calls 20 --duration-s 60 --events /tmp/events.jsonl
//! ```
//! (tools/sip_loadgen.sh starts a worker and runs this against it.)
//!
//! Each call slot places a call from its own SIP socket and its own RTP socket: INVITE with an
//! SDP offer (PCMU 0, telephone-event 101, ptime 20, rtcp-mux), retransmitted on RFC 3261 timer
//! A until a response comes (timer B: 32 s); 100/180 counted; a 200 is ACKed along its To tag,
//! Contact and Record-Route (as a UAC dialog of the `sip` crate); a final error is a refusal
//! (ACKed). The answer SDP names the worker's RTP address. In the call, BYE from the worker gets
//! 200; REFER (an assistant's transfer) gets 202 and our NOTIFY (`Event: refer`, sipfrag
//! `SIP/2.0 200 OK`, subscription terminated), after which the worker's BYE is expected; at the
//! end of the slot's `--duration-s` we send BYE. A slot whose call ended early is redialled
//! (unless `--no-redial`).
//!
//! One tokio runtime, and ONE 20 ms ticker (the pump, `sip_load/pump.rs`) sends every call's
//! RTP, with the impairment applied by the sender: `--loss PCT` drops, `--jitter-ms J` delays
//! each packet by 0..J ms (which reorders), `--reorder PCT` swaps a packet with the next.
//!
//! What the caller says: `--duty UTTER_S,PERIOD_S` over `--wav` (ws_load's duty cycle), or
//! `--script assistant`: one single-intent utterance of testdata/fixtures.json per call
//! (round-robin), said once the worker's greeting and menu have played (its audio quiet for
//! `--quiet-ms` after having been loud, or at `--speak-at-ms` with `--speak-on fixed`); the
//! worker's `decision` for the call (from `--events`) is scored against the fixture's intent.
//!
//! Measured: calls placed, answered, refused (by status), failed; the concurrent peak; set-up
//! time; RTP sent, lost to the impairment, received; inter-arrival gaps of the worker's RTP
//! (> 40 ms is a late frame; within prompts and overall); decisions and their latency; with
//! `--worker-pid` the worker's CPU time, peak RSS and RSS every 10 s; with `--events` the
//! worker's view (engine_load, media_stats, call endings).
//!
//! Exit status: 1 if a call failed to set up for another reason than a refusal, or failed in
//! the call (no answer to our BYE or NOTIFY, no media from the worker, a client task that
//! panicked); 2 for bad arguments.

// Shared with ws_load, which uses the parts this client does not (the frame picker, rates).
#[allow(dead_code)]
#[path = "ws_load/audio.rs"]
mod audio;
#[path = "sip_load/call.rs"]
mod call;
#[path = "sip_load/content.rs"]
mod content;
#[path = "sip_load/dialog.rs"]
mod dialog;
#[path = "ws_load/events.rs"]
mod events;
#[path = "sip_load/msg.rs"]
mod msg;
#[path = "common/procfs.rs"]
mod procfs;
#[path = "sip_load/procstat.rs"]
mod procstat;
#[path = "sip_load/pump.rs"]
mod pump;
#[path = "sip_load/report.rs"]
mod report;
#[path = "sip_load/report_table.rs"]
mod report_table;
#[path = "sip_load/worker.rs"]
mod worker;

use std::net::SocketAddr;
use std::path::PathBuf;
use std::process::ExitCode;
use std::sync::atomic::AtomicUsize;
use std::sync::Arc;
use std::time::{Duration, Instant};

use clap::Parser;
use tokio::sync::mpsc;

use call::CallStats;
use content::{Content, DutyAudio, Fixture};

/// One RTP packet, one tick.
pub const FRAME: Duration = Duration::from_millis(20);

/// `ws_load/audio.rs` (shared with the WebSocket client) encodes for a media-stream protocol.
/// RTP carries what Twilio carries (µ-law at 8 kHz), so only that variant is used here.
#[allow(dead_code)]
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Protocol {
    Twilio,
    Acs,
    Relay,
}

#[derive(Parser, Debug)]
#[command(about = "SIP/RTP load generator for attendant serve")]
pub struct Args {
    /// The worker's SIP address (UDP).
    #[arg(long, default_value = "127.0.0.1:5060")]
    pub target: SocketAddr,
    /// Concurrent calls (call slots).
    #[arg(long, default_value_t = 10)]
    pub calls: usize,
    /// Slot starts are spread evenly over this many ms.
    #[arg(long, default_value_t = 5000)]
    pub ramp_ms: u64,
    /// Length of each slot, from its own start: the call still up then is hung up (BYE).
    #[arg(long, default_value_t = 60)]
    pub duration_s: u64,
    /// Do not place a new call when a slot's call ended early (the worker hung up or
    /// transferred, or refused it).
    #[arg(long)]
    pub no_redial: bool,
    /// The caller's audio in duty mode: any WAV the codec crate reads at 8 kHz.
    #[arg(long, default_value = "testdata/assistant/calls/payment-corrected-digits.wav")]
    pub wav: PathBuf,
    /// UTTER_S,PERIOD_S: speech for UTTER_S at the start of every PERIOD_S, silence otherwise.
    #[arg(long, default_value = "3,10")]
    pub duty: String,
    /// `assistant`: each call says one assistant fixture (see the module docs) instead of the
    /// duty cycle, and its decision is scored.
    #[arg(long)]
    pub script: Option<String>,
    /// The fixture manifest; fixture paths are relative to its directory.
    #[arg(long, default_value = "testdata/fixtures.json")]
    pub fixtures: PathBuf,
    /// `quiet`: speak once the worker's audio has been quiet for --quiet-ms after having been
    /// loud (greeting and menu played); --speak-at-ms is then the fallback when no audio came.
    /// `fixed`: speak at --speak-at-ms after the answer.
    #[arg(long, default_value = "quiet")]
    pub speak_on: String,
    #[arg(long, default_value_t = 19_000)]
    pub speak_at_ms: u64,
    #[arg(long, default_value_t = 1500)]
    pub quiet_ms: u64,
    /// Percent of our RTP packets dropped.
    #[arg(long, default_value_t = 0.0)]
    pub loss: f64,
    /// Each RTP packet leaves 0..J ms after its tick (uniform): jitter, and reordering.
    #[arg(long, default_value_t = 0)]
    pub jitter_ms: u32,
    /// Percent of RTP packets swapped with the next one.
    #[arg(long, default_value_t = 0.0)]
    pub reorder: f64,
    /// Seed of the impairment's random numbers.
    #[arg(long, default_value_t = 1)]
    pub seed: u64,
    /// The worker's events JSONL file: adds the worker's view and the decisions to the report.
    #[arg(long)]
    pub events: Option<PathBuf>,
    /// Seconds to wait after the run for the worker's last events.
    #[arg(long, default_value_t = 15)]
    pub settle_s: u64,
    /// Worker threads of the client's tokio runtime.
    #[arg(long, default_value_t = 2)]
    pub threads: usize,
    /// The worker's process id: its CPU time, peak RSS and RSS every 10 s go in the report.
    #[arg(long)]
    pub worker_pid: Option<u32>,
    /// Print the report as one JSON object instead of the table.
    #[arg(long)]
    pub json: bool,
    /// Also write the JSON report to this file.
    #[arg(long)]
    pub json_file: Option<PathBuf>,
}

/// What every call reads.
#[derive(Debug)]
pub struct Shared {
    pub target: SocketAddr,
    pub content: Content,
    pub speak_fixed: bool,
    pub speak_at: Duration,
    pub quiet: Duration,
    /// Prefix of every call's Call-ID and From user: how this run's calls are found in the events.
    pub run_id: String,
    pub calls: usize,
    pub duration: Duration,
    pub redial: bool,
    pub ramp: Duration,
    /// A new call is placed only with at least this much of its slot left.
    pub min_call: Duration,
    pub impair: pump::Impair,
    /// Calls placed so far (fixtures go round-robin over it).
    pub placed: AtomicUsize,
    /// Tick 0 is due at `t0`; `wall_t0_ms` is the same on the wall (Unix ms).
    pub t0: Instant,
    pub wall_t0_ms: u64,
}

impl Shared {
    /// Unix ms of an instant of this run.
    pub fn wall_ms(&self, at: Instant) -> u64 {
        match at.checked_duration_since(self.t0) {
            Some(d) => self.wall_t0_ms + d.as_millis() as u64,
            None => self.wall_t0_ms.saturating_sub(self.t0.duration_since(at).as_millis() as u64),
        }
    }
}

/// The whole run as measured on the client.
#[derive(Debug, Default)]
pub struct Outcome {
    pub calls: Vec<CallStats>,
    pub pump: pump::PumpStats,
    /// Unix ms: first tick due, last call done.
    pub window: (u64, u64),
    pub client_cpu_s: f64,
    pub worker_cpu: Option<(f64, std::collections::BTreeMap<String, f64>)>,
    pub worker_peak_rss_mb: Option<f64>,
    /// (seconds into the run, RSS MB), every 10 s.
    pub rss_samples: Vec<(f64, f64)>,
    pub machine: Option<(f64, f64)>,
}

fn main() -> ExitCode {
    let args = Args::parse();
    let fail = |e: String| {
        eprintln!("sip_load: {e}");
        ExitCode::from(2)
    };
    if args.calls == 0 || args.duration_s == 0 {
        return fail("--calls and --duration-s must be at least 1".into());
    }
    for (name, pct) in [("--loss", args.loss), ("--reorder", args.reorder)] {
        if !(0.0..=100.0).contains(&pct) {
            return fail(format!("{name} is a percentage, 0 to 100"));
        }
    }
    let speak_fixed = match args.speak_on.as_str() {
        "quiet" => false,
        "fixed" => true,
        other => return fail(format!("--speak-on {other:?}: quiet or fixed")),
    };
    let content = match args.script.as_deref() {
        None => audio::Duty::parse(&args.duty).and_then(|d| DutyAudio::load(&args.wav, d)).map(Content::Duty),
        Some("assistant") => Fixture::load_assistant(&args.fixtures).map(Content::Script),
        Some(other) => Err(format!("--script {other:?}: only `assistant`")),
    };
    let content = match content {
        Ok(c) => c,
        Err(e) => return fail(e),
    };
    let min_call = match &content {
        Content::Duty(_) => Duration::from_secs(1),
        // A call that cannot get to its utterance and the decision is not worth placing.
        Content::Script(_) => Duration::from_millis(args.speak_at_ms + 10_000),
    };
    let runtime = match tokio::runtime::Builder::new_multi_thread().worker_threads(args.threads.max(1)).enable_all().build() {
        Ok(r) => r,
        Err(e) => return fail(format!("tokio runtime: {e}")),
    };
    let t0 = Instant::now() + Duration::from_millis(200);
    let shared = Arc::new(Shared {
        target: args.target,
        content,
        speak_fixed,
        speak_at: Duration::from_millis(args.speak_at_ms),
        quiet: Duration::from_millis(args.quiet_ms),
        run_id: format!("sipload{:x}{:x}", std::process::id(), call::unix_ms() % 0xffff_ffff),
        calls: args.calls,
        duration: Duration::from_secs(args.duration_s),
        redial: !args.no_redial,
        ramp: Duration::from_millis(args.ramp_ms),
        min_call,
        impair: pump::Impair { loss: args.loss / 100.0, jitter_ms: args.jitter_ms, reorder: args.reorder / 100.0, seed: args.seed },
        placed: AtomicUsize::new(0),
        t0,
        wall_t0_ms: call::unix_ms() + 200,
    });
    let mark = procfs::CpuMark::now(args.worker_pid);
    let mut outcome = runtime.block_on(drive(Arc::clone(&shared), args.worker_pid));
    let used = mark.since();
    (outcome.client_cpu_s, outcome.machine, outcome.worker_cpu, outcome.worker_peak_rss_mb) = (used.client_cpu_s, used.machine, used.worker_cpu, used.worker_peak_rss_mb);
    drop(runtime);

    let view = match &args.events {
        Some(path) => match worker::collect(path, &shared, &outcome, Duration::from_secs(args.settle_s)) {
            Ok(v) => Some(v),
            Err(e) => return fail(e),
        },
        None => None,
    };
    let report = report::Report::new(&args, &shared, &outcome, view.as_ref());
    if let Some(path) = &args.json_file {
        if let Err(e) = std::fs::write(path, report.json().to_string()) {
            eprintln!("sip_load: --json-file {}: {e}", path.display());
        }
    }
    if args.json {
        println!("{}", report.json());
    } else {
        print!("{}", report.table());
    }
    if report.failed() {
        ExitCode::FAILURE
    } else {
        ExitCode::SUCCESS
    }
}

/// Runs the pump, the RSS sampler and every call slot to their end.
async fn drive(shared: Arc<Shared>, worker_pid: Option<u32>) -> Outcome {
    let (tx, rx) = mpsc::unbounded_channel();
    let pump = tokio::spawn(pump::run(Arc::clone(&shared), rx));
    let (stop_tx, stop_rx) = tokio::sync::oneshot::channel::<()>();
    let sampler = tokio::spawn(procstat::sample_rss(worker_pid, shared.t0, stop_rx));
    let handles: Vec<_> = (0..shared.calls).map(|i| tokio::spawn(call::run_slot(Arc::clone(&shared), i, tx.clone()))).collect();
    drop(tx);
    let mut calls = Vec::with_capacity(handles.len());
    for (slot, h) in handles.into_iter().enumerate() {
        match h.await {
            Ok(c) => calls.extend(c),
            Err(e) => calls.push(CallStats::crashed(slot, format!("client task failed: {e}"))),
        }
    }
    let end = call::unix_ms();
    let _ = stop_tx.send(());
    let pump = pump.await.unwrap_or_default();
    let rss_samples = sampler.await.unwrap_or_default();
    Outcome { calls, pump, window: (shared.wall_t0_ms, end), rss_samples, ..Default::default() }
}
