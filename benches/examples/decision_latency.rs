//! Decision latency of the assistant: every whole-call fixture (`assistant_call` in
//! testdata/fixtures.json) through `simulate`, several times, and the time from the end of the
//! caller's last word (the fixture's own speech extent, mapped to call time) to the decision.
//!
//! `cargo run --release -p attendant-benches --example decision_latency [-- ROUNDS]`
//!
//! A measurement, not a test: run it on a quiet machine (the test suite checks only that the
//! decisions come from the early end). Decisions taken on a timer (no-input escalation) answer no word
//! and are left out. Prints every latency and the median per call and overall.

#[path = "../common/mod.rs"]
mod common;

use worker::assistant::{self, Assistant, AssistantFile};
use worker::graph::GraphConfig;
use worker::simulate::{simulate, SimEvent, SimOptions};
use worker::sync_call::Engines;

fn main() {
    let rounds: usize = std::env::args().nth(1).and_then(|a| a.parse().ok()).unwrap_or(5);
    let models = common::model_dir();
    let file = AssistantFile::embedded().expect("sample flow");
    let graph = file.graph(&GraphConfig::default());
    let mut engines = Engines::load(&models, &graph).expect("models: run python3 tools/fetch_models.py");
    let embedder = assistant::load_embedder(&models).expect("embedder");
    let renderer = assistant::default_renderer(&models).expect("prompt voice");
    let mut contoso = Assistant::build("contoso", &file, embedder, renderer).expect("assistant");

    let manifest: serde_json::Value =
        serde_json::from_str(&std::fs::read_to_string(common::repo_root().join("testdata/fixtures.json")).expect("fixtures.json")).expect("json");
    let calls: Vec<&serde_json::Value> = manifest["files"].as_array().expect("files").iter().filter(|f| f["kind"] == "assistant_call").collect();
    let mut all = Vec::new();
    for f in calls {
        let path = f["path"].as_str().expect("path");
        let wav = common::open_wav(path);
        let mut latencies = Vec::new();
        for _ in 0..rounds {
            // A fresh router each time: a routed agent stays reserved, and the next call would
            // meet a different situation (queue, callback offer).
            contoso.router = std::sync::Arc::new(routing::Router::new(&file.routing).expect("router"));
            let report = simulate(&wav, &mut engines, &graph, &contoso, path, &SimOptions::default()).expect("simulate");
            let Some(decision) = &report.decision else { continue };
            if !decided_on_input(&report.events) {
                eprintln!("{path}: decided on a timer ({:?}), not counted", decision.reason);
                continue;
            }
            let Some(latency) = latency_from_truth(&report.events, f) else { continue };
            latencies.push(latency);
        }
        latencies.sort_unstable();
        println!("{path}: {latencies:?} ms, median {:?}", median(&latencies));
        all.extend(latencies);
    }
    all.sort_unstable();
    println!("all calls: median {:?} ms over {} decisions", median(&all), all.len());
}

/// Whether the decision answered a caller's input (a transcript or a key at its very time),
/// not a timer (no-input escalation).
fn decided_on_input(events: &[(types::MediaTime, SimEvent)]) -> bool {
    let Some(decided) = events.iter().find(|(_, e)| matches!(e, SimEvent::Decision { .. })).map(|(at, _)| *at) else { return false };
    events.iter().any(|(at, e)| *at == decided && matches!(e, SimEvent::Transcript { .. } | SimEvent::Dtmf { .. }))
}

/// Decision time minus the end of the caller's last word before it, in call time.
fn latency_from_truth(events: &[(types::MediaTime, SimEvent)], fixture: &serde_json::Value) -> Option<u64> {
    let decided = events.iter().find(|(_, e)| matches!(e, SimEvent::Decision { .. }))?.0.as_millis();
    let (spoke_at, file_start) = events
        .iter()
        .filter(|(at, _)| at.as_millis() <= decided)
        .filter_map(|(at, e)| match e {
            SimEvent::CallerSpeaks { file_start_ms, .. } => Some((at.as_millis(), *file_start_ms)),
            _ => None,
        })
        .last()?;
    let end = fixture["turns"].as_array()?.iter().filter(|t| t["start_ms"].as_u64() >= Some(file_start)).find_map(|t| t["end_ms"].as_u64())?;
    Some(decided.saturating_sub(spoke_at + (end - file_start)))
}

fn median(v: &[u64]) -> Option<u64> {
    match v.len() {
        0 => None,
        n if n % 2 == 1 => Some(v[n / 2]),
        n => Some((v[n / 2 - 1] + v[n / 2]) / 2),
    }
}
