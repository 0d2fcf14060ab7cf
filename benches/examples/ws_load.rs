//! WebSocket media load: N concurrent calls against `attendant serve`'s media streams, each
//! sending a 20 ms caller frame in real time, to check that the media engine processes every
//! frame in real time at that many calls.
//!
//! ```sh
//! cargo run --release -p attendant-benches --example ws_load -- \
//!     --url ws://127.0.0.1:8080/v1/media/twilio --calls 200 --ramp-ms 5000 --duration-s 60 \
//!     --events /tmp/events.jsonl
//! ```
//! (tools/ws_loadgen.sh starts a worker and runs this against it.)
//!
//! The protocol comes from the URL's path (`/twilio`, `/acs`, `/relay`). One tokio runtime and
//! ONE 20 ms ticker drive every connection (a timer per connection would cost more than the
//! sends); on each tick a connection sends every frame it owes, so a late tick is followed by
//! a burst, as a real peer catching up would send. The caller speaks `--duty UTTER_S,PERIOD_S`
//! (a slice of speech from `--wav` at the start of each period, each call at its own phase),
//! silence otherwise. Each call slot lasts `--duration-s` from its own start; a call the server
//! ends normally (an assistant's dialogue finished) is replaced at once by a new one.
//!
//! Measured: calls opened, refused (HTTP status) and closed early (close code, reason); frames
//! sent; the server's audio messages and their inter-arrival gaps within a prompt (> 40 ms is
//! late); the lateness of our own sends against the ticker (a slow client, not a slow server);
//! and with `--events` the worker's own view: `engine_load` (ticks over budget, late, work per
//! tick), `media_stats` frames received against frames sent, underruns, drops.
//!
//! Exit status: 1 if any call was refused, failed to open, lost its connection, or was closed by
//! the server with a code other than 1000; 2 for bad arguments.

#[path = "ws_load/audio.rs"]
mod audio;
// Shared with sip_load, which uses all of it.
#[allow(dead_code)]
#[path = "common/procfs.rs"]
mod procfs;
#[path = "ws_load/conn.rs"]
mod conn;
#[path = "ws_load/events.rs"]
mod events;
#[path = "ws_load/report.rs"]
mod report;

use std::path::PathBuf;
use std::process::ExitCode;
use std::sync::Arc;
use std::time::{Duration, Instant};

use clap::Parser;
use tokio::sync::watch;
use types::SampleRate;

use audio::{Audio, Duty};
use conn::{micros, unix_ms, ConnStats};

/// One frame, one tick.
pub const FRAME: Duration = Duration::from_millis(20);

#[derive(Parser, Debug)]
#[command(about = "WebSocket media-stream load generator for attendant serve")]
pub struct Args {
    /// ws://HOST:PORT/v1/media/{twilio,acs,relay}; the path names the protocol.
    #[arg(long)]
    url: String,
    /// Concurrent calls.
    #[arg(long, default_value_t = 10)]
    calls: usize,
    /// Connection starts are spread evenly over this many ms.
    #[arg(long, default_value_t = 5000)]
    ramp_ms: u64,
    /// Length of each call, from its own start.
    #[arg(long, default_value_t = 60)]
    duration_s: u64,
    /// Do not replace a call the server ended normally (an assistant's dialogue finished): by
    /// default the slot places a new call at once, so that `--calls` stay up.
    #[arg(long)]
    no_redial: bool,
    /// The caller's audio: any WAV the codec crate reads (8 kHz µ-law fixtures), resampled to
    /// the protocol's rate.
    #[arg(long, default_value = "testdata/assistant/calls/payment-corrected-digits.wav")]
    wav: PathBuf,
    /// UTTER_S,PERIOD_S: speech for UTTER_S at the start of every PERIOD_S, silence otherwise.
    #[arg(long, default_value = "3,10")]
    duty: String,
    /// Media token: `Authorization: Bearer`, and Twilio `customParameters.token`.
    #[arg(long)]
    token: Option<String>,
    /// The worker's events JSONL file: adds the worker's view of the run to the report.
    #[arg(long)]
    events: Option<PathBuf>,
    /// Seconds to wait after the run for the worker's last reports in `--events`.
    #[arg(long, default_value_t = 15)]
    settle_s: u64,
    /// ACS sample rate (16000 or 24000).
    #[arg(long, default_value_t = 16000)]
    acs_rate: u32,
    /// Worker threads of the client's tokio runtime.
    #[arg(long, default_value_t = 2)]
    threads: usize,
    /// The worker's process id: its CPU time (total and by thread) over the run and its peak
    /// RSS go in the report.
    #[arg(long)]
    worker_pid: Option<u32>,
    /// Print the report as one JSON object instead of the table.
    #[arg(long)]
    json: bool,
    /// Also write the JSON report to this file.
    #[arg(long)]
    json_file: Option<PathBuf>,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Protocol {
    Twilio,
    Acs,
    Relay,
}

impl Protocol {
    fn from_url(url: &str) -> Option<Self> {
        let path = url.split('?').next().unwrap_or(url);
        [("/twilio", Self::Twilio), ("/acs", Self::Acs), ("/relay", Self::Relay)].into_iter().find(|(p, _)| path.ends_with(p)).map(|(_, x)| x)
    }

    pub fn name(self) -> &'static str {
        match self {
            Self::Twilio => "twilio",
            Self::Acs => "acs",
            Self::Relay => "relay",
        }
    }
}

/// What every connection reads.
#[derive(Debug)]
pub struct Shared {
    pub url: String,
    pub protocol: Protocol,
    pub audio: Audio,
    pub duty: Duty,
    pub token: Option<String>,
    /// Prefix of every call's peer id (Twilio callSid, ACS correlation id, relay callId): how
    /// this run's calls are found in the events file.
    pub run_id: String,
    /// Frames per call slot.
    pub frames: u64,
    pub calls: usize,
    pub redial: bool,
    pub ramp: Duration,
    /// Tick 0 is due at `t0`, tick n at `t0 + n * FRAME`; `wall_t0_ms` is the same on the wall.
    pub t0: Instant,
    pub wall_t0_ms: u64,
}

/// The whole run as measured on the client.
#[derive(Debug)]
pub struct Outcome {
    pub conns: Vec<ConnStats>,
    pub ticker_late_us: Vec<u32>,
    /// Unix ms: first tick due, last connection done.
    pub window: (u64, u64),
    pub client_cpu_s: f64,
    /// The worker's CPU seconds over the run, in total and by thread name; its peak RSS (MB).
    pub worker_cpu: Option<(f64, std::collections::BTreeMap<String, f64>)>,
    pub worker_peak_rss_mb: Option<f64>,
    /// The whole machine's busy and total CPU seconds over the run.
    pub machine: Option<(f64, f64)>,
}

fn main() -> ExitCode {
    let args = Args::parse();
    let fail = |e: String| {
        eprintln!("ws_load: {e}");
        ExitCode::from(2)
    };
    let Some(protocol) = Protocol::from_url(&args.url) else {
        return fail(format!("--url {}: the path must end in /twilio, /acs or /relay", args.url));
    };
    let rate = match protocol {
        Protocol::Twilio => SampleRate::HZ_8000,
        Protocol::Relay => SampleRate::HZ_16000,
        Protocol::Acs if args.acs_rate == 24_000 => SampleRate::HZ_24000,
        Protocol::Acs if args.acs_rate == 16_000 => SampleRate::HZ_16000,
        Protocol::Acs => return fail("--acs-rate must be 16000 or 24000".into()),
    };
    let duty = match Duty::parse(&args.duty) {
        Ok(d) => d,
        Err(e) => return fail(e),
    };
    let audio = match Audio::load(&args.wav, protocol, rate, duty.utter) {
        Ok(a) => a,
        Err(e) => return fail(e),
    };
    if args.calls == 0 || args.duration_s == 0 {
        return fail("--calls and --duration-s must be at least 1".into());
    }
    let runtime = match tokio::runtime::Builder::new_multi_thread().worker_threads(args.threads.max(1)).enable_all().build() {
        Ok(r) => r,
        Err(e) => return fail(format!("tokio runtime: {e}")),
    };
    // Start a little ahead so that the first connections are not already late.
    let t0 = Instant::now() + Duration::from_millis(200);
    let shared = Arc::new(Shared {
        url: args.url.clone(),
        protocol,
        audio,
        duty,
        token: args.token.clone(),
        run_id: format!("wsload{:x}{:x}", std::process::id(), unix_ms() % 0xffff_ffff),
        frames: args.duration_s * 50,
        calls: args.calls,
        redial: !args.no_redial,
        ramp: Duration::from_millis(args.ramp_ms),
        t0,
        wall_t0_ms: unix_ms() + 200,
    });
    let mark = procfs::CpuMark::now(args.worker_pid);
    let mut outcome = runtime.block_on(drive(Arc::clone(&shared)));
    let used = mark.since();
    (outcome.client_cpu_s, outcome.machine, outcome.worker_cpu, outcome.worker_peak_rss_mb) = (used.client_cpu_s, used.machine, used.worker_cpu, used.worker_peak_rss_mb);
    drop(runtime);

    let opened = outcome.conns.iter().filter(|c| c.opened).count();
    let worker = args.events.as_ref().map(|path| {
        let steady = (shared.wall_t0_ms + args.ramp_ms, shared.wall_t0_ms + args.duration_s * 1000);
        events::collect(path, &shared.run_id, opened, outcome.window, steady, Duration::from_secs(args.settle_s))
    });
    let worker = match worker.transpose() {
        Ok(w) => w,
        Err(e) => return fail(e),
    };
    let report = report::Report::new(&args, &shared, &outcome, worker.as_ref());
    if let Some(path) = &args.json_file {
        if let Err(e) = std::fs::write(path, report.json().to_string()) {
            eprintln!("ws_load: --json-file {}: {e}", path.display());
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

/// Runs the ticker and every connection to their end.
async fn drive(shared: Arc<Shared>) -> Outcome {
    let (tx, rx) = watch::channel(0u64);
    let t0 = shared.t0;
    let ticker = tokio::spawn(async move {
        let mut interval = tokio::time::interval_at(t0.into(), FRAME);
        // A late tick is followed by the missed ones at once: connections count frames owed
        // from the tick number, so nothing is lost to a stall of the client.
        interval.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Burst);
        let mut late = Vec::new();
        for n in 0u64.. {
            let due = interval.tick().await;
            late.push(micros(Instant::now().saturating_duration_since(due.into_std())));
            // Fails once every connection has ended and dropped its receiver.
            if tx.send(n).is_err() {
                break;
            }
        }
        late
    });
    let handles: Vec<_> = (0..shared.calls).map(|i| tokio::spawn(conn::run_slot(Arc::clone(&shared), i, rx.clone()))).collect();
    drop(rx);
    let mut conns = Vec::with_capacity(handles.len());
    for (slot, h) in handles.into_iter().enumerate() {
        // A slot task that panicked is a bug here, reported as that slot's error.
        match h.await {
            Ok(calls) => conns.extend(calls),
            Err(e) => conns.push(ConnStats { slot, error: Some(format!("client task failed: {e}")), ..Default::default() }),
        }
    }
    let end = unix_ms();
    let ticker_late_us = ticker.await.unwrap_or_default();
    Outcome { conns, ticker_late_us, window: (shared.wall_t0_ms, end), client_cpu_s: 0.0, worker_cpu: None, worker_peak_rss_mb: None, machine: None }
}
