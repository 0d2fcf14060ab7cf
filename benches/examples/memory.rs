//! Memory per call, models excluded, and allocations per frame in steady state.
//!
//! `cargo run --release -p attendant-benches --example memory`
//!
//! A counting global allocator sees everything Rust allocates. ONNX Runtime and whisper.cpp
//! allocate with C/C++ `malloc`/`new`, which bypasses it; for those, glibc's `mallinfo2`
//! gives the bytes in use on the process heap (Rust's `System` allocator is the same `malloc`),
//! so a net difference across a step is visible even when the individual allocations are not.

use std::alloc::{GlobalAlloc, Layout, System};
use std::sync::atomic::{AtomicU64, Ordering::Relaxed};

use asr::{AsrConfig, WhisperModel};
use codec::{SampleFormat, WavFile};
use types::{AudioFrame, MediaTime, SampleRate};
use vad::{SileroModel, SileroStream};
use worker::graph::{CallGraph, GraphConfig, GraphOutput, VadKind};
use worker::ingest::Ingest;
use worker::models::ModelFile;

#[path = "../common/mod.rs"]
mod common;
use common::{model_dir, repo_root};

struct Counting;

static ALLOCS: AtomicU64 = AtomicU64::new(0);
static ALLOCATED: AtomicU64 = AtomicU64::new(0);
static FREED: AtomicU64 = AtomicU64::new(0);

// SAFETY: forwards every call unchanged to the system allocator; only counts.
unsafe impl GlobalAlloc for Counting {
    unsafe fn alloc(&self, layout: Layout) -> *mut u8 {
        ALLOCS.fetch_add(1, Relaxed);
        ALLOCATED.fetch_add(layout.size() as u64, Relaxed);
        // SAFETY: same contract as the caller's.
        unsafe { System.alloc(layout) }
    }
    unsafe fn alloc_zeroed(&self, layout: Layout) -> *mut u8 {
        ALLOCS.fetch_add(1, Relaxed);
        ALLOCATED.fetch_add(layout.size() as u64, Relaxed);
        // SAFETY: same contract as the caller's.
        unsafe { System.alloc_zeroed(layout) }
    }
    unsafe fn dealloc(&self, ptr: *mut u8, layout: Layout) {
        FREED.fetch_add(layout.size() as u64, Relaxed);
        // SAFETY: same contract as the caller's.
        unsafe { System.dealloc(ptr, layout) }
    }
    unsafe fn realloc(&self, ptr: *mut u8, layout: Layout, new_size: usize) -> *mut u8 {
        ALLOCS.fetch_add(1, Relaxed);
        ALLOCATED.fetch_add(new_size as u64, Relaxed);
        FREED.fetch_add(layout.size() as u64, Relaxed);
        // SAFETY: same contract as the caller's.
        unsafe { System.realloc(ptr, layout, new_size) }
    }
}

#[global_allocator]
static GLOBAL: Counting = Counting;

/// What the Rust allocator saw between two points.
#[derive(Clone, Copy)]
struct Snap {
    allocs: u64,
    allocated: u64,
    freed: u64,
    heap: u64,
}

fn snap() -> Snap {
    Snap { allocs: ALLOCS.load(Relaxed), allocated: ALLOCATED.load(Relaxed), freed: FREED.load(Relaxed), heap: heap_in_use() }
}

struct Delta {
    allocs: u64,
    allocated: u64,
    /// Allocated minus freed: what is still held.
    live: i64,
    /// Process heap in use (C, C++ and Rust), after minus before.
    heap: i64,
}

fn since(a: Snap) -> Delta {
    let b = snap();
    Delta {
        allocs: b.allocs - a.allocs,
        allocated: b.allocated - a.allocated,
        live: (b.allocated - a.allocated) as i64 - (b.freed - a.freed) as i64,
        heap: b.heap as i64 - a.heap as i64,
    }
}

/// glibc's `struct mallinfo2` (glibc >= 2.33): ten `size_t` fields.
#[repr(C)]
#[derive(Default)]
struct MallInfo2 {
    arena: usize,
    ordblks: usize,
    smblks: usize,
    hblks: usize,
    hblkhd: usize,
    usmblks: usize,
    fsmblks: usize,
    uordblks: usize,
    fordblks: usize,
    keepcost: usize,
}

extern "C" {
    fn mallinfo2() -> MallInfo2;
}

/// Bytes handed out by malloc: in arenas plus mmapped blocks.
fn heap_in_use() -> u64 {
    // SAFETY: mallinfo2 takes no arguments and returns a plain struct by value.
    let m = unsafe { mallinfo2() };
    let _ = (m.arena, m.ordblks, m.smblks, m.hblks, m.usmblks, m.fsmblks, m.fordblks, m.keepcost);
    (m.uordblks + m.hblkhd) as u64
}

/// Resident set size of the process, from /proc/self/statm (pages touched, not just reserved).
fn rss() -> i64 {
    let statm = std::fs::read_to_string("/proc/self/statm").unwrap_or_default();
    let pages: i64 = statm.split_whitespace().nth(1).and_then(|v| v.parse().ok()).unwrap_or(0);
    pages * 4096
}

fn kb(b: i64) -> String {
    format!("{:.1} KB", b as f64 / 1024.0)
}

fn ulaw_speech() -> Vec<u8> {
    let mut all = Vec::new();
    for name in ["charge-question", "yes-please", "account-number", "pay-bill", "representative"] {
        let path = repo_root().join(format!("testdata/ivr/{name}.8k-ulaw.wav"));
        let wav = WavFile::open(&path).unwrap_or_else(|e| panic!("{}: {e}", path.display()));
        assert_eq!(wav.format, SampleFormat::Ulaw);
        all.extend_from_slice(&wav.data[..wav.data.len() / 160 * 160]);
    }
    all
}

fn main() {
    let cfg_silero = GraphConfig::default();
    let cfg_energy = GraphConfig { vad: VadKind::Energy, ..GraphConfig::default() };

    println!("# Memory per call (models excluded)\n");
    println!("| what | allocations | bytes allocated | still held |");
    println!("|---|---:|---:|---:|");
    let row = |what: &str, d: &Delta| println!("| {what} | {} | {} | {} |", d.allocs, kb(d.allocated as i64), kb(d.live));

    let s = snap();
    let ingest = Ingest::new(SampleFormat::Ulaw, SampleRate::HZ_8000, 1).expect("ingest");
    let d_ingest = since(s);
    row("`Ingest::new(Ulaw, 8 kHz, mono)` (decode buffer + rubato FFT resampler)", &d_ingest);

    let s = snap();
    let graph_e = CallGraph::new(&cfg_energy);
    let d_graph_e = since(s);
    row("`CallGraph::new` (energy VAD)", &d_graph_e);

    let s = snap();
    let graph_s = CallGraph::new(&cfg_silero);
    let d_graph_s = since(s);
    row("`CallGraph::new(&GraphConfig::default())` (Silero; holds its boxed `SileroStream`)", &d_graph_s);

    let s = snap();
    let stream = Box::<SileroStream>::default();
    let d_stream = since(s);
    row("`Box<SileroStream>` alone (already inside the Silero graph above)", &d_stream);

    let inline = std::mem::size_of::<CallGraph>() + std::mem::size_of::<Ingest>();
    let total = d_ingest.live + d_graph_s.live + inline as i64;
    println!("\nInline sizes (wherever the call struct lives): `CallGraph` {} B, `Ingest` {} B, `SileroStream` {} B.",
        std::mem::size_of::<CallGraph>(), std::mem::size_of::<Ingest>(), std::mem::size_of::<SileroStream>());
    println!("Per call, Silero graph + ingest, heap + inline: **{}** ({:.2} MB; target < 1 MB).",
        kb(total), total as f64 / 1_048_576.0);
    println!("Of that, the turn buffer (`Vec<i16>` sized for max_turn_ms 15 s + prefix + silence) is the bulk.");
    drop((graph_e, graph_s, stream, ingest));

    // ---- steady state per frame, no models: ingest + graph with energy VAD ----
    let speech = ulaw_speech();
    let frames: Vec<&[u8]> = speech.chunks_exact(160).collect();
    let mut ingest = Ingest::new(SampleFormat::Ulaw, SampleRate::HZ_8000, 1).expect("ingest");
    let mut graph = CallGraph::new(&cfg_energy);
    let mut frame = AudioFrame::silence(MediaTime::ZERO);
    let mut out: Vec<GraphOutput> = Vec::with_capacity(16);
    let mut run = |n: usize, ingest: &mut Ingest, graph: &mut CallGraph, out: &mut Vec<GraphOutput>| {
        let mut turns = 0;
        for i in 0..n {
            ingest.push(frames[i % frames.len()], &mut frame).expect("frame");
            graph.push_frame(&frame);
            graph.process(out);
            turns += out.iter().filter(|o| matches!(o, GraphOutput::Recognize(j) if j.kind == worker::graph::JobKind::Final)).count();
            out.clear();
        }
        turns
    };
    run(frames.len(), &mut ingest, &mut graph, &mut out); // warm-up: one pass over the audio
    let n = 10 * frames.len();
    let s = snap();
    let turns = run(n, &mut ingest, &mut graph, &mut out);
    let d = since(s);
    println!("\n# Steady state, per 20 ms frame\n");
    println!("| step | frames | allocations | bytes allocated | heap growth |");
    println!("|---|---:|---:|---:|---:|");
    println!("| `Ingest::push` + `CallGraph::push_frame` + `process`, energy VAD ({turns} turns ended) | {n} | {} | {} | {} |",
        d.allocs, d.allocated, d.heap);

    // ---- Silero: what ort allocates per inference ----
    let models = model_dir();
    let runtime = models.require(ModelFile::OnnxRuntime).unwrap_or_else(|e| panic!("{e}"));
    let onnx = models.require(ModelFile::SileroVad).unwrap_or_else(|e| panic!("{e}"));
    let (s, r0) = (snap(), rss());
    let mut model = SileroModel::load(&runtime, &onnx).unwrap_or_else(|e| panic!("{e}"));
    let (d_load, rss_load) = (since(s), rss() - r0);

    let mut graph = CallGraph::new(&cfg_silero);
    let mut ingest = Ingest::new(SampleFormat::Ulaw, SampleRate::HZ_8000, 1).expect("ingest");
    let mut step = |k: usize, model: &mut SileroModel, ingest: &mut Ingest, graph: &mut CallGraph, out: &mut Vec<GraphOutput>| -> usize {
        ingest.push(frames[k % frames.len()], &mut frame).expect("frame");
        graph.push_frame(&frame);
        let ran = match graph.silero_stream() {
            Some(s) => model.infer(&mut [s]).expect("inference"),
            None => 0,
        };
        graph.process(out);
        out.clear();
        ran
    };
    for k in 0..frames.len() {
        step(k, &mut model, &mut ingest, &mut graph, &mut out);
    }
    let n = 4 * frames.len();
    let s = snap();
    let mut inferences = 0;
    for k in 0..n {
        inferences += step(k, &mut model, &mut ingest, &mut graph, &mut out);
    }
    let d = since(s);
    println!("| same, Silero VAD, one call, `infer(&mut [stream])` every 32 ms ({inferences} inferences) | {n} | {} | {} | {} |",
        d.allocs, d.allocated, d.heap);
    println!("| per Silero inference (Rust side of ort) | | {:.1} | {:.0} B | |",
        d.allocs as f64 / inferences as f64, d.allocated as f64 / inferences as f64);

    // Batched over 64 streams: scratch tensors in SileroModel are reused after the first batch.
    let mut streams: Vec<SileroStream> = vec![SileroStream::default(); 64];
    let chunk: Vec<f32> = (0..512).map(|i| (i as f32 * 0.05).sin() * 0.1).collect();
    let mut batch = |model: &mut SileroModel| {
        for st in streams.iter_mut() {
            st.push(&chunk);
        }
        let mut refs: Vec<&mut SileroStream> = streams.iter_mut().collect();
        model.infer(&mut refs).expect("inference")
    };
    for _ in 0..20 {
        batch(&mut model);
    }
    let s = snap();
    let runs = 200;
    for _ in 0..runs {
        batch(&mut model);
    }
    let d = since(s);
    println!("| per batched inference of 64 streams (incl. the bench's `Vec<&mut SileroStream>`) | | {:.1} | {:.0} B | {} over {runs} |",
        d.allocs as f64 / runs as f64, d.allocated as f64 / runs as f64, d.heap);

    // ---- shared, per process or per compute thread (for scale; not per call) ----
    let (s, r0) = (snap(), rss());
    let whisper = WhisperModel::load(&models.require(ModelFile::WhisperTinyEn).unwrap_or_else(|e| panic!("{e}"))).unwrap_or_else(|e| panic!("{e}"));
    let (d_wload, rss_wload) = (since(s), rss() - r0);
    let (s, r0) = (snap(), rss());
    let mut decoder = whisper.decoder(AsrConfig::default()).unwrap_or_else(|e| panic!("{e}"));
    let (d_dec, rss_dec) = (since(s), rss() - r0);
    let audio: Vec<f32> = {
        let path = repo_root().join("testdata/ivr/charge-question.16k.wav");
        let wav = WavFile::open(&path).expect("fixture");
        let mut v = vec![0.0; wav.data.len() / wav.format.bytes_per_sample()];
        codec::decode(wav.format, &wav.data, &mut v).expect("sized");
        v
    };
    let r0 = rss();
    let _ = decoder.recognize(&audio, None).expect("decode");
    let rss_first = rss() - r0;
    let s = snap();
    let r = decoder.recognize(&audio, None).expect("decode");
    let d_rec = since(s);
    println!("\n# Shared state (not per call), process heap in use\n");
    println!("| what | process heap growth | RSS growth | Rust allocations |");
    println!("|---|---:|---:|---:|");
    println!("| `SileroModel::load` (incl. loading libonnxruntime.so) | {} | {} | {} |", kb(d_load.heap), kb(rss_load), kb(d_load.allocated as i64));
    println!("| `WhisperModel::load` tiny.en | {} | {} | {} |", kb(d_wload.heap), kb(rss_wload), kb(d_wload.allocated as i64));
    println!("| `WhisperModel::decoder` (one per compute thread) | {} | {} | {} |", kb(d_dec.heap), kb(rss_dec), kb(d_dec.allocated as i64));
    println!("| first `recognize` on that decoder (3.5 s) | | {} | |", kb(rss_first));
    println!("| a later `recognize` of the same 3.5 s ({:?}) | {} net | | {} allocs, {} |",
        r.text, kb(d_rec.heap), d_rec.allocs, kb(d_rec.allocated as i64));
}
