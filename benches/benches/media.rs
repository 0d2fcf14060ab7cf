//! Criterion benchmarks of the media path, from G.711 payload to final transcript.
//!
//! Run from the repository root with `cargo bench -p attendant-benches` (see benches/README.md
//! for what each benchmark measures and the medians measured here). Models come from
//! `$ATTENDANT_MODELS`, else `./models`, else `<repo>/models`; audio is real speech from
//! `testdata/`.

use std::hint::black_box;
use std::path::PathBuf;
use std::time::Duration;

use asr::{AsrConfig, WhisperModel};
use codec::SampleFormat;
use criterion::{criterion_group, criterion_main, BenchmarkId, Criterion, SamplingMode, Throughput};
use dsp::Resampler;
use types::{AudioFrame, CallEvent, MediaTime, SampleRate, FRAME_SAMPLES};
use vad::{Endpointer, EndpointerConfig, EnergyVad, SileroModel, SileroStream};
use worker::graph::{CallGraph, GraphConfig, GraphOutput, VadKind};
use worker::ingest::Ingest;
use worker::models::ModelFile;

#[path = "../common/mod.rs"]
mod common;
use common::{model_dir, open_wav};

/// Bytes of one 20 ms G.711 frame at 8 kHz.
const G711_FRAME: usize = 160;
/// Samples of one Silero chunk (32 ms at 16 kHz).
const SILERO_CHUNK: usize = vad::silero::CHUNK;

// ---------------------------------------------------------------------------------------------
// Fixtures and models
// ---------------------------------------------------------------------------------------------

fn require(file: ModelFile) -> PathBuf {
    model_dir().require(file).unwrap_or_else(|e| panic!("{e}"))
}

/// A 16 kHz mono fixture decoded to f32.
fn speech_16k(rel: &str) -> Vec<f32> {
    let wav = open_wav(rel);
    assert_eq!((wav.rate, wav.channels), (SampleRate::HZ_16000, 1), "{rel} must be 16 kHz mono");
    let mut out = vec![0.0; wav.data.len() / wav.format.bytes_per_sample()];
    let n = codec::decode(wav.format, &wav.data, &mut out).expect("buffer sized from the data");
    out.truncate(n);
    out
}

/// `[from_ms, to_ms)` of a 16 kHz signal, padded with silence if the file is shorter.
fn span(samples: &[f32], from_ms: usize, to_ms: usize) -> Vec<f32> {
    let (a, b) = (from_ms * 16, to_ms * 16);
    let mut out: Vec<f32> = samples[a.min(samples.len())..b.min(samples.len())].to_vec();
    out.resize(b - a, 0.0);
    out
}

/// The IVR fixtures (single utterances, 300 ms of silence before, 700 ms after).
const IVR: [&str; 16] = [
    "account-number",
    "anyone-there",
    "cancel-subscription",
    "charge-question",
    "internet-down",
    "no-wrong",
    "opening-hours",
    "order-last-week",
    "outage",
    "pay-bill",
    "real-person",
    "representative",
    "reset-password",
    "transfer-billing",
    "upgrade-plan",
    "yes-please",
];

/// µ-law payload of every IVR fixture, cut to whole 20 ms frames.
fn ivr_ulaw_payloads() -> Vec<Vec<u8>> {
    IVR.iter()
        .map(|name| {
            let wav = open_wav(&format!("ivr/{name}.8k-ulaw.wav"));
            assert_eq!((wav.format, wav.rate, wav.channels), (SampleFormat::Ulaw, SampleRate::HZ_8000, 1));
            let mut data = wav.data;
            data.truncate(data.len() / G711_FRAME * G711_FRAME);
            data
        })
        .collect()
}

/// All IVR utterances at 16 kHz, back to back: a long stretch of speech with pauses.
fn ivr_speech_16k() -> Vec<f32> {
    IVR.iter().flat_map(|name| speech_16k(&format!("ivr/{name}.16k.wav"))).collect()
}

/// One speech-heavy 20 ms µ-law frame (from the middle of an utterance).
fn ulaw_frame() -> [u8; G711_FRAME] {
    let payloads = ivr_ulaw_payloads();
    let mut frame = [0u8; G711_FRAME];
    // charge-question: speech from 300 ms to 2790 ms; take the frame at 1 s.
    frame.copy_from_slice(&payloads[3][50 * G711_FRAME..51 * G711_FRAME]);
    frame
}

// ---------------------------------------------------------------------------------------------
// Per-frame DSP: codec, resampler, ingest, energy VAD, endpointer
// ---------------------------------------------------------------------------------------------

fn bench_frame_dsp(c: &mut Criterion) {
    // The numbers are only as quiet as the machine: say how busy it was.
    let load = std::fs::read_to_string("/proc/loadavg").unwrap_or_default();
    eprintln!(
        "  {} CPUs, load average {} (anything else running skews these numbers, whisper most)",
        std::thread::available_parallelism().map_or(0, |n| n.get()),
        load.split_whitespace().take(3).collect::<Vec<_>>().join(" ")
    );
    let ulaw = ulaw_frame();
    let alaw: Vec<u8> = ulaw.iter().map(|&u| codec::g711::alaw_encode(codec::g711::ULAW_TO_I16[usize::from(u)])).collect();

    let mut g = c.benchmark_group("g711_decode");
    g.warm_up_time(Duration::from_millis(500)).measurement_time(Duration::from_secs(2));
    g.throughput(Throughput::Elements(1));
    let mut out = [0.0f32; G711_FRAME];
    g.bench_function("ulaw_160_bytes", |b| {
        b.iter(|| codec::decode(SampleFormat::Ulaw, black_box(&ulaw), black_box(&mut out)).expect("sized"))
    });
    g.bench_function("alaw_160_bytes", |b| {
        b.iter(|| codec::decode(SampleFormat::Alaw, black_box(&alaw), black_box(&mut out)).expect("sized"))
    });
    g.finish();

    let mut g = c.benchmark_group("frame");
    g.warm_up_time(Duration::from_millis(500)).measurement_time(Duration::from_secs(2));
    g.throughput(Throughput::Elements(1));

    // Resample one 20 ms frame 8 -> 16 kHz (rubato FFT resampler, into a caller buffer).
    let mut decoded = [0.0f32; G711_FRAME];
    codec::g711::ulaw_to_f32(&ulaw, &mut decoded);
    let mut resampler = Resampler::new(SampleRate::HZ_8000, SampleRate::HZ_16000).expect("8k -> 16k");
    let mut bus = [0.0f32; FRAME_SAMPLES];
    g.bench_function("resample_8k_to_16k", |b| {
        b.iter(|| resampler.process(black_box(&decoded), black_box(&mut bus)).expect("frame sizes"))
    });

    // Ingest: decode + resample + time stamp, the whole transport-to-bus step.
    let mut ingest = Ingest::new(SampleFormat::Ulaw, SampleRate::HZ_8000, 1).expect("ingest");
    let mut frame = AudioFrame::silence(MediaTime::ZERO);
    g.bench_function("ingest_ulaw_8k_to_bus", |b| {
        b.iter(|| ingest.push(black_box(&ulaw), black_box(&mut frame)).expect("160 bytes"))
    });

    // Energy VAD on real speech frames (cycling through the IVR fixtures).
    let speech = ivr_speech_16k();
    let frames: Vec<&[f32]> = speech.chunks_exact(FRAME_SAMPLES).collect();
    let mut energy = EnergyVad::default();
    let mut i = 0;
    g.bench_function("energy_vad", |b| {
        b.iter(|| {
            i = (i + 1) % frames.len();
            energy.push(black_box(frames[i]))
        })
    });

    // Endpointer alone, on the probabilities the energy VAD gives for that speech (turns and
    // pauses, so every state of the machine is visited).
    let mut vad = EnergyVad::default();
    let probs: Vec<f32> = frames.iter().map(|f| vad.push(f)).collect();
    let mut ep = Endpointer::new(EndpointerConfig::default());
    let (mut i, mut t) = (0, MediaTime::ZERO);
    g.bench_function("endpointer", |b| {
        b.iter(|| {
            i = (i + 1) % probs.len();
            t = t + MediaTime::from_millis(20);
            ep.push(t, black_box(probs[i]))
        })
    });
    g.finish();
}

// ---------------------------------------------------------------------------------------------
// Silero VAD: one stream, and batched over many
// ---------------------------------------------------------------------------------------------

fn load_silero() -> SileroModel {
    SileroModel::load(&require(ModelFile::OnnxRuntime), &require(ModelFile::SileroVad)).unwrap_or_else(|e| panic!("{e}"))
}

fn bench_silero(c: &mut Criterion) {
    let mut model = load_silero();
    let speech = ivr_speech_16k();
    let mut g = c.benchmark_group("silero_chunk");
    g.warm_up_time(Duration::from_secs(1)).measurement_time(Duration::from_secs(3));
    for streams in [1usize, 16, 64, 256] {
        // Each iteration feeds every stream one 512-sample chunk (32 ms) of real speech, each
        // stream at its own place in the speech, and runs one batched inference.
        let mut ss: Vec<SileroStream> = vec![SileroStream::default(); streams];
        let mut offsets: Vec<usize> = (0..streams).map(|k| (k * 7919 * SILERO_CHUNK / 16) % (speech.len() - SILERO_CHUNK)).collect();
        g.throughput(Throughput::Elements(streams as u64));
        g.sample_size(match streams {
            1 => 100,
            16 => 50,
            _ => 30,
        });
        g.bench_with_input(BenchmarkId::from_parameter(streams), &streams, |b, _| {
            b.iter(|| {
                for (s, off) in ss.iter_mut().zip(offsets.iter_mut()) {
                    s.push(&speech[*off..*off + SILERO_CHUNK]);
                    *off = (*off + SILERO_CHUNK) % (speech.len() - SILERO_CHUNK);
                }
                let mut refs: Vec<&mut SileroStream> = ss.iter_mut().collect();
                let ran = model.infer(&mut refs).expect("inference");
                debug_assert_eq!(ran, streams);
                ran
            })
        });
    }
    g.finish();
}

// ---------------------------------------------------------------------------------------------
// The whole pre-recognition path, per 20 ms tick over many calls
// ---------------------------------------------------------------------------------------------

struct Call {
    ingest: Ingest,
    graph: CallGraph,
    file: usize,
    pos: usize,
}

#[derive(Default, Debug)]
struct TickStats {
    ticks: u64,
    started: u64,
    ended: u64,
    jobs: u64,
}

/// Many calls, each playing an IVR fixture in a loop from its own offset, as they would arrive
/// in one 20 ms tick of a worker.
struct Calls {
    calls: Vec<Call>,
    payloads: Vec<Vec<u8>>,
    frame: AudioFrame,
    out: Vec<GraphOutput>,
    stats: TickStats,
}

impl Calls {
    fn new(n: usize, vad: VadKind, silero: Option<&mut SileroModel>) -> Self {
        let payloads = ivr_ulaw_payloads();
        let config = GraphConfig { vad, ..GraphConfig::default() };
        let calls = (0..n)
            .map(|k| {
                let file = k % payloads.len();
                let frames = payloads[file].len() / G711_FRAME;
                Call {
                    ingest: Ingest::new(SampleFormat::Ulaw, SampleRate::HZ_8000, 1).expect("ingest"),
                    graph: CallGraph::new(&config),
                    file,
                    pos: (k * 37 % frames) * G711_FRAME,
                }
            })
            .collect();
        let mut me = Self { calls, payloads, frame: AudioFrame::silence(MediaTime::ZERO), out: Vec::with_capacity(4 * n), stats: TickStats::default() };
        // Calls start at different times, so their Silero chunks fall due on different ticks:
        // call k joins the tick loop k % 8 frames late (8 frames = 5 chunks).
        if let Some(model) = silero {
            for lag in (1..8).rev() {
                let mut frame = me.frame;
                for (k, c) in me.calls.iter_mut().enumerate() {
                    if k % 8 >= lag {
                        Self::feed(c, &me.payloads, &mut frame);
                    }
                }
                let mut streams: Vec<&mut SileroStream> = me.calls.iter_mut().filter_map(|c| c.graph.silero_stream()).collect();
                model.infer(&mut streams).expect("inference");
                for (k, c) in me.calls.iter_mut().enumerate() {
                    if k % 8 >= lag {
                        c.graph.process(&mut me.out);
                    }
                }
                me.out.clear();
            }
        }
        me
    }

    fn feed(c: &mut Call, payloads: &[Vec<u8>], frame: &mut AudioFrame) {
        let data = &payloads[c.file];
        c.ingest.push(&data[c.pos..c.pos + G711_FRAME], frame).expect("160-byte frame");
        c.pos = (c.pos + G711_FRAME) % data.len();
        c.graph.push_frame(frame);
    }

    /// One 20 ms tick: ingest + push_frame for every call, one batched Silero inference over
    /// the calls with a chunk ready, then the endpointer and turn buffering of every call.
    fn tick(&mut self, silero: Option<&mut SileroModel>) {
        for c in &mut self.calls {
            Self::feed(c, &self.payloads, &mut self.frame);
        }
        if let Some(model) = silero {
            let mut streams: Vec<&mut SileroStream> = self.calls.iter_mut().filter_map(|c| c.graph.silero_stream()).collect();
            model.infer(&mut streams).expect("inference");
        }
        for c in &mut self.calls {
            c.graph.process(&mut self.out);
        }
        self.stats.ticks += 1;
        for o in self.out.drain(..) {
            match o {
                GraphOutput::Event(CallEvent::SpeechStarted { .. }) => self.stats.started += 1,
                GraphOutput::Event(CallEvent::SpeechEnded { .. }) => self.stats.ended += 1,
                GraphOutput::Recognize(_) => self.stats.jobs += 1,
                GraphOutput::Event(_) => {}
            }
        }
    }
}

fn bench_pre_recognition(c: &mut Criterion) {
    let mut model = load_silero();
    let mut g = c.benchmark_group("pre_recognition_tick");
    g.warm_up_time(Duration::from_secs(1)).measurement_time(Duration::from_secs(4)).sample_size(40);
    for (vad, name) in [(VadKind::Silero, "silero_batched"), (VadKind::Energy, "energy")] {
        for n in [64usize, 256] {
            let mut calls = Calls::new(n, vad, if vad == VadKind::Silero { Some(&mut model) } else { None });
            g.throughput(Throughput::Elements(n as u64));
            g.bench_function(BenchmarkId::new(name, n), |b| {
                b.iter(|| calls.tick(if vad == VadKind::Silero { Some(&mut model) } else { None }))
            });
            let s = &calls.stats;
            let call_seconds = s.ticks as f64 * n as f64 * 0.02;
            eprintln!(
                "  {name}/{n}: {} ticks ({:.0} call-seconds of audio): {} turns started, {} ended, {} recognition jobs (one turn per {:.1} s of call audio)",
                s.ticks,
                call_seconds,
                s.started,
                s.ended,
                s.jobs,
                call_seconds / s.started.max(1) as f64
            );
        }
    }
    g.finish();
}

// ---------------------------------------------------------------------------------------------
// Recognition: whisper tiny.en, 2 threads, 1 / 3 / 6 s utterances
// ---------------------------------------------------------------------------------------------

fn bench_whisper(c: &mut Criterion) {
    let model = WhisperModel::load(&require(ModelFile::WhisperTinyEn)).unwrap_or_else(|e| panic!("{e}"));
    let config = AsrConfig::default();
    let threads = config.threads;
    let mut decoder = model.decoder(config).unwrap_or_else(|e| panic!("{e}"));

    let yes = speech_16k("ivr/yes-please.16k.wav"); // speech 300..1120 ms
    let charge = speech_16k("ivr/charge-question.16k.wav"); // speech 300..2790 ms
    let account = speech_16k("ivr/account-number.16k.wav"); // speech 300..3040 ms
    let one = span(&yes, 200, 1200);
    let three = span(&charge, 150, 3150);
    // 4 s (the top of the latency target's 1-4 s range): two utterances, 200 ms apart.
    let mut four = span(&charge, 200, 2900);
    four.extend(std::iter::repeat_n(0.0, 16 * 200));
    four.extend(span(&yes, 200, 1300));
    // 6 s: two longer utterances, 300 ms apart.
    let mut six = span(&charge, 200, 2900);
    six.extend(std::iter::repeat_n(0.0, 16 * 300));
    six.extend(span(&account, 200, 3200));
    let utterances = [("1s", one), ("3s", three), ("4s", four), ("6s", six)];

    let mut g = c.benchmark_group(format!("whisper_tiny_en_{threads}t"));
    g.sampling_mode(SamplingMode::Flat).sample_size(10).warm_up_time(Duration::from_secs(1)).measurement_time(Duration::from_secs(5));
    for (name, audio) in &utterances {
        let r = decoder.recognize(audio, None).unwrap_or_else(|e| panic!("{e}"));
        eprintln!(
            "  {name} ({:.2} s audio, audio_ctx {}): {:?} in {:.0} ms, {} tokens",
            audio.len() as f32 / 16_000.0,
            r.audio_ctx,
            r.text,
            r.compute.as_secs_f64() * 1e3,
            r.tokens
        );
        g.bench_function(*name, |b| {
            b.iter(|| decoder.recognize(black_box(audio), None).expect("decode"))
        });
    }
    g.finish();
}

criterion_group!(benches, bench_frame_dsp, bench_silero, bench_pre_recognition, bench_whisper);
criterion_main!(benches);
