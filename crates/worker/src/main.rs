//! `attendant`: the media worker's command line.

use std::path::PathBuf;
use std::process::ExitCode;

use attendant_worker::graph::{GraphConfig, VadKind};
use attendant_worker::models::ModelDir;
use attendant_worker::sync_call::Engines;
use attendant_worker::transcribe;
use clap::{Parser, Subcommand, ValueEnum};

#[derive(Parser, Debug)]
#[command(name = "attendant", version, about = "Real-time media worker for contact-center IVR and virtual assistants")]
struct Cli {
    #[command(subcommand)]
    command: Command,
}

#[derive(Subcommand, Debug)]
enum Command {
    /// Stream WAV files through the media graph in 20 ms frames, as a live call would, and print
    /// one line per caller turn.
    Transcribe {
        /// WAV files: PCM 8/16/24/32-bit, float, µ-law or A-law; 8, 16, 24, 44.1 or 48 kHz; mono
        /// or stereo.
        #[arg(required = true)]
        files: Vec<PathBuf>,
        /// One JSON object per turn and line.
        #[arg(long)]
        json: bool,
        /// Also print partial transcripts while a turn is in progress.
        #[arg(long)]
        partials: bool,
        /// Voice activity detector.
        #[arg(long, value_enum)]
        vad: Option<Vad>,
        /// Whisper model: tiny.en (default) or base (needs `tools/fetch_models.py --with-base`).
        #[arg(long)]
        model: Option<String>,
        /// Text that biases recognition toward a vocabulary.
        #[arg(long)]
        prompt: Option<String>,
        /// Graph settings (TOML: `vad`, `[endpointer]`, `[asr]`).
        #[arg(long)]
        config: Option<PathBuf>,
    },
    /// Run one whole call through the assistant in process: the caller's answers are the
    /// utterances of CALL.wav (then the --dtmf groups), prompts are rendered, and the
    /// conversation is printed: prompts, turns, intents, slots and the final decision.
    Simulate {
        /// The caller's side of the call: utterances separated by pauses of a second or more,
        /// each one the answer to the next prompt.
        call: PathBuf,
        /// Tenant whose flow runs (default: the first tenant with an assistant).
        #[arg(long)]
        tenant: Option<String>,
        /// Keys the caller types after the file's utterances are used up: one group per prompt,
        /// groups separated by commas, e.g. `--dtmf 55123456#,1`.
        #[arg(long)]
        dtmf: Option<String>,
        /// One JSON object per event and line; the last one is the decision.
        #[arg(long)]
        json: bool,
        /// Worker configuration with the tenants (default: the built-in sample tenant "contoso").
        #[arg(long)]
        config: Option<PathBuf>,
        /// The caller's first utterance starts this many ms after the answer, over the greeting
        /// (to try barge-in, backchannels, noise), instead of answering the first question.
        #[arg(long, value_name = "MS")]
        interject_at: Option<u64>,
        /// The caller's line echoes the worker's audio back, e.g. `-10,40`: 10 dB down, 40 ms late.
        #[arg(long, value_name = "GAIN_DB,DELAY_MS", allow_hyphen_values = true)]
        echo: Option<attendant_worker::simulate::EchoPath>,
    },
    /// Run the worker: take calls from a SIP trunk (UDP and TCP), transcribe them, and write
    /// call events. Without --config: SIP on 127.0.0.1:5060, calls from loopback only.
    Serve {
        /// Worker configuration (TOML): [sip], [rtp], [events], [compute], [graph], [[tenants]].
        #[arg(long)]
        config: Option<PathBuf>,
    },
    /// Render a prompt (plain text or SSML-lite) to a WAV file, to hear it as callers will.
    Say {
        /// What to say: plain text or SSML-lite, e.g. `Thanks for calling. <break time="300ms"/> Press 1 for billing.`
        text: String,
        /// The WAV file to write.
        #[arg(short, long, value_name = "OUT.wav")]
        output: PathBuf,
        /// Sample rate in Hz: 8000, 16000 or 24000 (default 24000; 8000 with --ulaw).
        #[arg(long)]
        rate: Option<u32>,
        /// G.711 µ-law (WAV format 7), as a PCMU trunk carries it; needs --rate 8000.
        #[arg(long)]
        ulaw: bool,
        /// Voice (default: hibari when models/hibari is present, else espeak-ng).
        #[arg(long, value_enum)]
        voice: Option<SayVoice>,
    },
    /// Print a signed media token for a tenant (its `media_hmac_key` from the config), for a
    /// media bot, an ACS/Twilio stream URL or a browser to open a media stream with.
    MediaToken {
        /// Worker configuration with the tenant and its `media_hmac_key`.
        #[arg(long)]
        config: PathBuf,
        /// The tenant the token opens calls for.
        #[arg(long)]
        tenant: String,
        /// Seconds the token stays valid (default one hour).
        #[arg(long, default_value_t = 3600)]
        ttl: u64,
    },
}

#[derive(Clone, Copy, Debug, ValueEnum)]
enum SayVoice {
    Hibari,
    Espeak,
}

#[derive(Clone, Copy, Debug, ValueEnum)]
enum Vad {
    Silero,
    Energy,
}

fn main() -> ExitCode {
    // The sentence embedder (candle) sizes its thread pool from RAYON_NUM_THREADS, else from
    // every core: one thread per embedding keeps it from competing with whisper's decoders
    // (measured 5.9 ms per short transcript on one core). Set before any pool starts.
    if std::env::var_os("RAYON_NUM_THREADS").is_none() {
        std::env::set_var("RAYON_NUM_THREADS", "1");
    }
    let cli = Cli::parse();
    match cli.command {
        Command::Serve { config } => {
            let config = match config {
                Some(path) => attendant_worker::serve::config::ServeConfig::load(&path),
                None => Ok(attendant_worker::serve::config::ServeConfig::embedded_default()),
            };
            let result = config.and_then(|c| attendant_worker::serve::run(c, &ModelDir::locate()));
            match result {
                Ok(()) => ExitCode::SUCCESS,
                Err(e) => {
                    eprintln!("error: {e:#}");
                    ExitCode::from(2)
                }
            }
        }
        Command::MediaToken { config, tenant, ttl } => {
            let config = match attendant_worker::serve::config::ServeConfig::load(&config) {
                Ok(c) => c,
                Err(e) => {
                    eprintln!("error: {e:#}");
                    return ExitCode::from(2);
                }
            };
            let Some(t) = config.tenants.iter().find(|t| t.name == tenant) else {
                eprintln!("error: --tenant: no tenant {tenant:?} in the config");
                return ExitCode::from(2);
            };
            let Some(key) = &t.media_hmac_key else {
                eprintln!("error: tenant {tenant:?} has no media_hmac_key");
                return ExitCode::from(2);
            };
            let now = std::time::SystemTime::now().duration_since(std::time::UNIX_EPOCH).map_or(0, |d| d.as_secs());
            println!("{}", attendant_worker::serve::auth::mint_token(&tenant, key.as_bytes(), now.saturating_add(ttl)));
            ExitCode::SUCCESS
        }
        Command::Simulate { call, tenant, dtmf, json, config, interject_at, echo } => {
            let options = attendant_worker::simulate::SimOptions {
                dtmf: dtmf.map(|d| d.split(',').map(str::to_owned).collect()).unwrap_or_default(),
                interject_at: interject_at.map(std::time::Duration::from_millis),
                echo,
                ..Default::default()
            };
            match attendant_worker::simulate::cli::run(&call, config.as_deref(), tenant.as_deref(), options, json) {
                Ok(true) => ExitCode::SUCCESS,
                Ok(false) => ExitCode::from(1),
                Err(e) => {
                    eprintln!("error: {e:#}");
                    ExitCode::from(2)
                }
            }
        }
        Command::Say { text, output, rate, ulaw, voice } => {
            let voice = voice.map(|v| match v {
                SayVoice::Hibari => attendant_worker::voice::VoiceKind::Hibari,
                SayVoice::Espeak => attendant_worker::voice::VoiceKind::Espeak,
            });
            let options = attendant_worker::say::SayOptions { text, output, rate, ulaw, voice };
            match attendant_worker::say::run(&options, &ModelDir::locate()) {
                Ok(report) => {
                    if let Some(warning) = &report.warning {
                        eprintln!("warning: {warning}");
                    }
                    println!("{}", attendant_worker::say::describe(&report, &options.output));
                    ExitCode::SUCCESS
                }
                Err(e) => {
                    eprintln!("error: {e:#}");
                    ExitCode::from(2)
                }
            }
        }
        Command::Transcribe { files, json, partials, vad, model, prompt, config } => {
            let mut graph = match config.as_deref().map(attendant_worker::load_graph_config).transpose() {
                Ok(c) => c.unwrap_or_default(),
                Err(e) => {
                    eprintln!("error: {e:#}");
                    return ExitCode::from(2);
                }
            };
            if let Some(v) = vad {
                graph.vad = match v {
                    Vad::Silero => VadKind::Silero,
                    Vad::Energy => VadKind::Energy,
                };
            }
            if let Some(m) = model {
                graph.asr.model = m;
                if let Err(e) = attendant_worker::validate(&graph) {
                    eprintln!("error: --model: {e}");
                    return ExitCode::from(2);
                }
            }
            if !partials {
                // Partials cost a decode each; the command prints them only when asked.
                graph.asr.partial_interval_ms = 0;
            }
            run_transcribe(&files, graph, transcribe::Options { json, partials, prompt })
        }
    }
}

fn run_transcribe(files: &[PathBuf], graph: GraphConfig, options: transcribe::Options) -> ExitCode {
    let mut engines = match Engines::load(&ModelDir::locate(), &graph) {
        Ok(e) => e,
        Err(e) => {
            eprintln!("error: {e:#}");
            return ExitCode::from(2);
        }
    };
    let failed = transcribe::run(files, &mut engines, &graph, &options);
    if failed > 0 {
        ExitCode::from(1)
    } else {
        ExitCode::SUCCESS
    }
}
