//! Recognition throughput: how many turns per second a pool of whisper decoders finishes when
//! it is never idle, for a given split of the machine's cores (`decoders` x `threads`).
//!
//! The decision latency under load is the queue in front of the decoders, so the figure that
//! sets a pod's capacity is decodes per second at saturation, not the latency of one decode
//! on an idle machine (the criterion bench). Each decoder thread decodes the same 3 s turn in
//! a loop for the run's duration.
//!
//! ```sh
//! cargo run --release -p attendant-benches --example asr_throughput -- 1x2 2x1 --seconds 20
//! cargo run --release -p attendant-benches --example asr_throughput -- 2x1 --model models/other.bin
//! cargo run --release -p attendant-benches --example asr_throughput -- 1x1 --prompt "Contoso home internet, ..."
//! ```

#[path = "../common/mod.rs"]
mod common;

use std::path::PathBuf;
use std::sync::Arc;
use std::time::{Duration, Instant};

use asr::{AsrConfig, WhisperModel};
use clap::Parser;
use common::{model_dir, open_wav};
use worker::models::ModelFile;

#[derive(Parser)]
struct Args {
    /// Pool shapes to measure, each DECODERSxTHREADS (e.g. 1x2 2x1).
    #[arg(required = true)]
    shapes: Vec<String>,
    /// Seconds each shape runs for.
    #[arg(long, default_value_t = 15)]
    seconds: u64,
    /// A whisper ggml file other than models/ggml-tiny.en.bin.
    #[arg(long)]
    model: Option<PathBuf>,
    /// `[asr] audio_ctx_margin` for the run (positions).
    #[arg(long)]
    margin: Option<u16>,
    /// A recognition prompt given with every decode (a tenant's `recognition_prompt`).
    #[arg(long)]
    prompt: Option<String>,
}

fn parse_shape(s: &str) -> Result<(usize, u16), String> {
    let (d, t) = s.split_once('x').ok_or_else(|| format!("{s}: expected DECODERSxTHREADS"))?;
    let d: usize = d.parse().map_err(|_| format!("{s}: bad decoder count"))?;
    let t: u16 = t.parse().map_err(|_| format!("{s}: bad thread count"))?;
    if d == 0 || t == 0 {
        return Err(format!("{s}: decoders and threads must be at least 1"));
    }
    Ok((d, t))
}

/// The 3 s turn of the criterion bench: `ivr/charge-question`, 150..3150 ms.
fn three_seconds() -> Vec<f32> {
    let wav = open_wav("ivr/charge-question.16k.wav");
    let mut pcm = vec![0.0; wav.data.len() / wav.format.bytes_per_sample()];
    let n = codec::decode(wav.format, &wav.data, &mut pcm).expect("buffer sized from the data");
    pcm.truncate(n);
    let (a, b) = (150 * 16, 3150 * 16);
    let mut out = pcm[a.min(pcm.len())..b.min(pcm.len())].to_vec();
    out.resize(b - a, 0.0);
    out
}

fn percentile(sorted: &[Duration], p: f64) -> f64 {
    if sorted.is_empty() {
        return f64::NAN;
    }
    let i = ((sorted.len() - 1) as f64 * p).round() as usize;
    sorted[i].as_secs_f64() * 1e3
}

fn main() -> Result<(), String> {
    let args = Args::parse();
    let shapes: Vec<(usize, u16)> = args.shapes.iter().map(|s| parse_shape(s)).collect::<Result<_, _>>()?;
    let path = match args.model {
        Some(p) => p,
        None => model_dir().require(ModelFile::WhisperTinyEn).map_err(|e| e.to_string())?,
    };
    let model = WhisperModel::load(&path).map_err(|e| e.to_string())?;
    let audio = Arc::new(three_seconds());
    println!("model {}, 3.0 s turn, {} s per shape, prompt {:?}", path.display(), args.seconds, args.prompt);
    println!("| decoders x threads | decodes/s | per decode p50 / p95 | text |");
    println!("|---|---:|---:|---|");
    for (decoders, threads) in shapes {
        let mut config = AsrConfig { threads, ..AsrConfig::default() };
        if let Some(m) = args.margin {
            config.audio_ctx_margin = m;
        }
        let until = Instant::now() + Duration::from_secs(args.seconds);
        let workers: Vec<_> = (0..decoders)
            .map(|_| {
                let mut decoder = model.decoder(config.clone()).map_err(|e| e.to_string())?;
                let audio = Arc::clone(&audio);
                let prompt = args.prompt.clone();
                Ok(std::thread::spawn(move || {
                    let mut times = Vec::new();
                    let mut text = String::new();
                    while Instant::now() < until {
                        match decoder.recognize(&audio, prompt.as_deref()) {
                            Ok(r) => {
                                times.push(r.compute);
                                text = r.text;
                            }
                            Err(e) => return Err(e.to_string()),
                        }
                    }
                    Ok((times, text))
                }))
            })
            .collect::<Result<_, String>>()?;
        let started = Instant::now();
        let mut all = Vec::new();
        let mut text = String::new();
        for w in workers {
            let (times, t) = w.join().map_err(|_| "decoder thread panicked".to_string())??;
            all.extend(times);
            text = t;
        }
        let wall = started.elapsed().as_secs_f64();
        all.sort();
        println!(
            "| {decoders} x {threads} | {:.2} | {:.0} / {:.0} ms | {text:?} |",
            all.len() as f64 / wall,
            percentile(&all, 0.5),
            percentile(&all, 0.95)
        );
    }
    Ok(())
}
