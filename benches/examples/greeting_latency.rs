//! How soon a call hears its first prompt: the time from `PromptRenderer::render_stream` to
//! its first chunk of 8 kHz audio, for new (uncached) two-sentence prompts and for a cached
//! greeting, and the voice's real-time factor on one thread.
//!
//! `cargo run --release -p attendant-benches --example greeting_latency [-- PROMPTS]`
//!
//! A measurement, not a test: run it on a quiet machine. The voice is the worker's default
//! (hibari when models/hibari is present, else espeak-ng; the first line says which). Each
//! prompt is new to the renderer: names, amounts and times vary, so neither the cache nor the
//! G2P's word cache has seen the whole sentence. Prints every prompt and the medians.

#[path = "../common/mod.rs"]
mod common;

use std::time::{Duration, Instant};

use types::SampleRate;
use worker::assistant;

const RATE: SampleRate = SampleRate::HZ_8000;

const OPENERS: [&str; 6] = [
    "Thanks for calling {company}.",
    "Welcome to {company} customer care.",
    "Hello, and thank you for calling {company}.",
    "You've reached {company}.",
    "Good afternoon, this is {company}.",
    "Hi, thanks for holding with {company}.",
];
const COMPANIES: [&str; 7] = ["Contoso", "Fabrikam", "Northwind Traders", "Adventure Works", "Tailspin Toys", "Litware", "Woodgrove Bank"];
const SECONDS: [&str; 6] = [
    "Your balance is ${amount}, due on March {day}.",
    "Our offices open at {hour} AM tomorrow.",
    "Please say or enter your account number, followed by the pound key.",
    "For billing, press {key}, or say billing.",
    "Your technician will arrive between {hour} and {hour2} PM.",
    "Your order of {amount} dollars has shipped.",
];

/// The `i`th prompt: an opener and a second sentence, with varied names and numbers.
fn prompt(i: usize) -> String {
    let fill = |s: &str| {
        s.replace("{company}", COMPANIES[i % COMPANIES.len()])
            .replace("{amount}", &format!("{}.{:02}", 17 + i * 13, (i * 37) % 100))
            .replace("{day}", &(1 + i % 28).to_string())
            .replace("{hour2}", &(9 + i % 4 + i % 3).to_string())
            .replace("{hour}", &(7 + i % 4).to_string())
            .replace("{key}", &(1 + i % 9).to_string())
    };
    format!("{} {}", fill(OPENERS[i % OPENERS.len()]), fill(SECONDS[(i / OPENERS.len() + i) % SECONDS.len()]))
}

fn median(mut xs: Vec<Duration>) -> Duration {
    xs.sort();
    xs[xs.len() / 2]
}

fn ms(d: Duration) -> f64 {
    d.as_secs_f64() * 1e3
}

fn main() {
    let n: usize = std::env::args().nth(1).and_then(|a| a.parse().ok()).unwrap_or(30);
    let models = common::model_dir();
    let started = Instant::now();
    let renderer = assistant::default_renderer(&models).expect("prompt voice: run tools/setup.sh");
    println!("voice {} loaded in {:.0} ms; {n} new prompts at {} Hz", renderer.synthesizer().name(), ms(started.elapsed()), RATE.hz());
    // Streams a prompt: (time to the first chunk, time to the end, samples).
    let stream = |text: &str| -> (Duration, Duration, usize) {
        let start = Instant::now();
        let mut first = None;
        let mut samples = 0;
        renderer
            .render_stream(text, RATE, &mut |chunk| {
                first.get_or_insert_with(|| start.elapsed());
                samples += chunk.len();
                true
            })
            .expect("render");
        (first.unwrap_or_default(), start.elapsed(), samples)
    };

    // The greeting as the first call after start-up hears it (uncached), then as every later
    // call does.
    let greeting = "Thanks for calling Contoso. How can I help you today?";
    let (first_uncached, _, _) = stream(greeting);
    let mut cached = Vec::new();
    for _ in 0..20 {
        cached.push(stream(greeting).0);
    }

    let (mut firsts, mut synth, mut audio) = (Vec::new(), Duration::ZERO, Duration::ZERO);
    let mut factors = Vec::new();
    for i in 0..n {
        let text = prompt(i);
        let (first, total, samples) = stream(&text);
        let seconds = Duration::from_secs_f64(samples as f64 / f64::from(RATE.hz()));
        println!("{:6.1} ms first, {:6.1} ms for {:4.2} s ({:5.1}x)  {text}", ms(first), ms(total), seconds.as_secs_f64(), seconds.as_secs_f64() / total.as_secs_f64());
        firsts.push(first);
        factors.push(seconds.as_secs_f64() / total.as_secs_f64());
        synth += total;
        audio += seconds;
    }
    factors.sort_by(f64::total_cmp);
    println!();
    println!("greeting, uncached: first audio after {:.1} ms", ms(first_uncached));
    println!("greeting, cached: first audio after {:.1} µs (median of {})", median(cached).as_secs_f64() * 1e6, 20);
    println!("new 2-sentence prompts: first audio median {:.1} ms, max {:.1} ms", ms(median(firsts.clone())), ms(firsts.iter().copied().max().unwrap_or_default()));
    println!(
        "real-time factor: {:.1}x overall ({:.1} s of audio in {:.2} s), median per prompt {:.1}x, min {:.1}x",
        audio.as_secs_f64() / synth.as_secs_f64(),
        audio.as_secs_f64(),
        synth.as_secs_f64(),
        factors[factors.len() / 2],
        factors[0]
    );
}
