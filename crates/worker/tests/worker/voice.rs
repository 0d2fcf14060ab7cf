//! The prompt voice: the sample flow's prompts as a caller hears them (hibari, 8 kHz µ-law,
//! written by `attendant say`) understood by whisper; the `say` command's files and refusals;
//! espeak-ng when the neural voice is missing or broken.

use std::path::{Path, PathBuf};
use std::process::{Command, Output};

use attendant_worker::assistant::EMBEDDED_ASSISTANT;
use attendant_worker::graph::GraphConfig;
use attendant_worker::models::ModelDir;
use attendant_worker::transcribe::transcribe_file;
use attendant_worker::voice::{load_voice, HIBARI_NAME};
use codec::{SampleFormat, WavFile};
use types::SampleRate;

use crate::support::{engines, finals, model_dir, normalize, repo_root, word_errors};

/// Prompts of config/contoso.flow.toml: the greeting, the menu and its reprompt (keys 1 to 7),
/// a reprompt, digit-collection prompts ("6 to 8 digits"), the outage message (a spoken web
/// address and "12345") and a yes/no question.
const PROMPTS: [&str; 8] = [
    "Thanks for calling Contoso.",
    "In a few words, tell me what you're calling about. Or press 1 for billing, 2 for technical support, 3 to make a payment, 4 to cancel your service, 5 for new service or upgrades, 6 to check on an outage, or 7 to speak with a representative.",
    "You can say things like pay my bill, my internet is down, or talk to a representative. You can also press a key from 1 to 7.",
    "Sorry, I didn't hear anything.",
    "Sure. Please say or enter your account number, followed by the pound key.",
    "Please say or key in your account number. It's 6 to 8 digits and it's at the top of your bill.",
    "We track outages in real time at contoso dot com slash status, and you can get text updates by texting OUTAGE to 12345. If your equipment shows all green lights, the problem may be in your home network.",
    "Would you like to talk to technical support?",
];

fn attendant(args: &[&str], models: &Path) -> Output {
    Command::new(env!("CARGO_BIN_EXE_attendant"))
        .args(args)
        .current_dir(repo_root())
        .env("ATTENDANT_MODELS", models)
        .output()
        .expect("run attendant")
}

fn text(bytes: &[u8]) -> String {
    String::from_utf8_lossy(bytes).into_owned()
}

fn temp_dir(name: &str) -> PathBuf {
    let dir = std::env::temp_dir().join(format!("attendant-voice-{}-{name}", std::process::id()));
    let _ = std::fs::remove_dir_all(&dir);
    std::fs::create_dir_all(&dir).expect("temp dir");
    dir
}

/// Words for scoring a transcript against prompt text: [`normalize`] (numbers as digits, so
/// "1" and "one" agree) after spelling out what whisper writes in symbols: "contoso.com/status"
/// as spoken, "a.m." as one word.
fn spoken_words(text: &str) -> Vec<String> {
    let lower = text.to_lowercase().replace("a.m.", "am").replace("p.m.", "pm");
    let chars: Vec<char> = lower.chars().collect();
    let mut out = String::new();
    for (i, &c) in chars.iter().enumerate() {
        let between = |i: usize| i > 0 && i + 1 < chars.len() && chars[i - 1].is_alphanumeric() && chars[i + 1].is_alphanumeric();
        match c {
            '.' if between(i) => out.push_str(" dot "),
            '/' if between(i) => out.push_str(" slash "),
            _ => out.push(c),
        }
    }
    normalize(&out)
}

/// The sample flow's prompts, spoken by hibari, written as 8 kHz µ-law by `attendant say` (the
/// telephone path: G.711 there and back), and transcribed by whisper tiny.en through the
/// worker's own graph: a caller should hear every word. Aggregate word error rate under 5%.
#[test]
fn sample_flow_prompts_are_understood_over_ulaw() {
    let flow_text = EMBEDDED_ASSISTANT.replace("\\\n", "");
    let dir = temp_dir("listen");
    let models = model_dir();
    // Finals only: partials cost a decode each and are not scored.
    let mut config = GraphConfig::default();
    config.asr.partial_interval_ms = 0;
    let (mut errors, mut words) = (0, 0);
    for (i, prompt) in PROMPTS.iter().enumerate() {
        assert!(flow_text.contains(prompt), "prompt {i} is no longer in config/contoso.flow.toml: {prompt:?}");
        let wav = dir.join(format!("prompt-{i}.wav"));
        let out = attendant(&["say", "--ulaw", "--voice", "hibari", "-o", wav.to_str().expect("utf-8 path"), prompt], models.path());
        assert!(out.status.success(), "say {prompt:?}: {}", text(&out.stderr));
        let produced = transcribe_file(&wav, &mut engines(), &config, None).expect("transcribe");
        let heard = finals(&produced).iter().map(|t| t.recognition.text.trim().to_owned()).collect::<Vec<_>>().join(" ");
        let (reference, hypothesis) = (spoken_words(prompt), spoken_words(&heard));
        let e = word_errors(&reference, &hypothesis);
        println!("{:5.1}% {e:>2}/{:<2} {heard}", 100.0 * e as f64 / reference.len() as f64, reference.len());
        errors += e;
        words += reference.len();
    }
    let wer = errors as f64 / words as f64;
    println!("aggregate WER {:.1}% ({errors}/{words} words)", wer * 100.0);
    assert!(wer < 0.05, "aggregate WER {:.1}%", wer * 100.0);
}

#[test]
fn say_writes_wav_at_the_requested_rate_and_format() {
    let dir = temp_dir("say");
    let models = model_dir();
    let ulaw = dir.join("greeting.8k-ulaw.wav");
    let out = attendant(&["say", "--ulaw", "-o", ulaw.to_str().expect("utf-8"), "Thanks for calling Contoso."], models.path());
    assert!(out.status.success(), "{}", text(&out.stderr));
    assert!(text(&out.stdout).contains(HIBARI_NAME), "the neural voice by default: {}", text(&out.stdout));
    let w = WavFile::open(&ulaw).expect("a WAV file");
    assert_eq!((w.format, w.rate, w.channels), (SampleFormat::Ulaw, SampleRate::HZ_8000, 1));
    assert!((800..4_000).contains(&w.duration_ms()), "{} ms", w.duration_ms());

    let pcm = dir.join("menu.16k.wav");
    let ssml = "Press 1 for billing. <break time=\"500ms\"/> Press 2 for support.";
    let out = attendant(&["say", "--voice", "espeak", "--rate", "16000", "--output", pcm.to_str().expect("utf-8"), ssml], models.path());
    assert!(out.status.success(), "{}", text(&out.stderr));
    let w = WavFile::open(&pcm).expect("a WAV file");
    assert_eq!((w.format, w.rate, w.channels), (SampleFormat::S16Le, SampleRate::HZ_16000, 1));
    assert!(w.duration_ms() > 1_500, "{} ms", w.duration_ms());
}

#[test]
fn say_refuses_bad_arguments_with_a_message() {
    let dir = temp_dir("refuse");
    let models = model_dir();
    let path = dir.join("x.wav");
    let out_path = path.to_str().expect("utf-8");
    let cases: [(&[&str], &str); 5] = [
        (&["say", "--ulaw", "--rate", "16000", "-o", out_path, "Hello."], "--ulaw needs --rate 8000"),
        (&["say", "--rate", "44100", "-o", out_path, "Hello."], "--rate 44100: must be 8000, 16000 or 24000"),
        (&["say", "-o", out_path, "   "], "empty"),
        (&["say", "Hello."], "--output"),
        (&["say", "-o", "/nonexistent-dir/x.wav", "Hello."], "cannot write /nonexistent-dir/x.wav"),
    ];
    for (args, message) in cases {
        let out = attendant(args, models.path());
        assert_eq!(out.status.code(), Some(2), "{args:?}");
        assert!(text(&out.stderr).contains(message), "{args:?}: {}", text(&out.stderr));
        assert!(!path.exists(), "{args:?} left {}", path.display());
    }
}

/// Without models/hibari the worker speaks with espeak-ng and names the missing file; with a
/// corrupt model it does the same and says what is wrong with it.
#[test]
fn missing_or_corrupt_neural_voice_falls_back_to_espeak_with_a_warning() {
    let real = model_dir();
    let runtime = real.path().join("libonnxruntime.so");
    let bare = temp_dir("bare");
    std::os::unix::fs::symlink(&runtime, bare.join("libonnxruntime.so")).expect("symlink");
    let (voice, warning) = load_voice(&ModelDir::at(&bare)).expect("espeak-ng");
    assert!(voice.name().starts_with("espeak-ng"), "{}", voice.name());
    let warning = warning.expect("a warning");
    let missing = bare.join("hibari/hibari.onnx");
    assert!(warning.contains(&format!("{}: file not found", missing.display())), "{warning}");
    assert!(warning.contains("prompts use espeak-ng"), "{warning}");

    let corrupt = temp_dir("corrupt");
    std::os::unix::fs::symlink(&runtime, corrupt.join("libonnxruntime.so")).expect("symlink");
    let hibari = corrupt.join("hibari");
    std::fs::create_dir(&hibari).expect("dir");
    for entry in std::fs::read_dir(real.path().join("hibari")).expect("models/hibari") {
        let entry = entry.expect("entry");
        std::os::unix::fs::symlink(entry.path(), hibari.join(entry.file_name())).expect("symlink");
    }
    std::fs::remove_file(hibari.join("hibari.onnx")).expect("unlink");
    std::fs::write(hibari.join("hibari.onnx"), b"not an onnx model").expect("write");
    let (voice, warning) = load_voice(&ModelDir::at(&corrupt)).expect("espeak-ng");
    assert!(voice.name().starts_with("espeak-ng"), "{}", voice.name());
    let warning = warning.expect("a warning");
    assert!(warning.contains("hibari.onnx") && !warning.contains("file not found"), "{warning}");

    let (voice, warning) = load_voice(&real).expect("hibari");
    assert_eq!((voice.name(), warning), (HIBARI_NAME, None));
}
