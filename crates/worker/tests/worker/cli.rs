//! `attendant transcribe` as a user runs it: output format, and what it says about bad input.

use std::process::{Command, Output};

use crate::support::{model_dir, repo_root};

fn attendant(args: &[&str], models: Option<&std::path::Path>) -> Output {
    let mut cmd = Command::new(env!("CARGO_BIN_EXE_attendant"));
    cmd.args(args).current_dir(repo_root());
    cmd.env("ATTENDANT_MODELS", models.unwrap_or(model_dir().path()));
    cmd.output().expect("run attendant")
}

fn text(bytes: &[u8]) -> String {
    String::from_utf8_lossy(bytes).into_owned()
}

fn temp_file(name: &str, bytes: &[u8]) -> std::path::PathBuf {
    let dir = std::env::temp_dir().join(format!("attendant-cli-{}", std::process::id()));
    std::fs::create_dir_all(&dir).expect("temp dir");
    let path = dir.join(name);
    std::fs::write(&path, bytes).expect("write temp file");
    path
}

#[test]
fn json_lines_carry_the_documented_fields() {
    let out = attendant(&["transcribe", "--json", "testdata/multiturn/balance-confirm.8k-ulaw.wav"], None);
    assert!(out.status.success(), "{}", text(&out.stderr));
    let lines: Vec<serde_json::Value> =
        text(&out.stdout).lines().map(|l| serde_json::from_str(l).expect("one JSON object per line")).collect();
    assert_eq!(lines.len(), 2, "one line per turn: {lines:?}");
    for l in &lines {
        for field in ["file", "start_ms", "end_ms", "text", "final_latency_ms"] {
            assert!(!l[field].is_null(), "missing {field} in {l}");
        }
        assert!(l["end_ms"].as_u64() > l["start_ms"].as_u64());
    }
    assert!(lines[1]["start_ms"].as_u64() > lines[0]["end_ms"].as_u64());
}

#[test]
fn unreadable_files_are_named_and_the_others_still_processed() {
    let garbage = temp_file("garbage.wav", b"this is not a wav file at all");
    let mut rate = codec::wav::write_pcm16(types::SampleRate::HZ_16000, &[0; 1600]);
    rate[24..28].copy_from_slice(&22_050u32.to_le_bytes());
    let odd_rate = temp_file("odd-rate.wav", &rate);
    let out = attendant(
        &[
            "transcribe",
            garbage.to_str().expect("utf-8 path"),
            "testdata/ivr/yes-please.8k-ulaw.wav",
            odd_rate.to_str().expect("utf-8 path"),
            "testdata/does-not-exist.wav",
        ],
        None,
    );
    let (stdout, stderr) = (text(&out.stdout), text(&out.stderr));
    assert_eq!(out.status.code(), Some(1), "{stderr}");
    assert!(stderr.contains("garbage.wav: not a WAV file"), "{stderr}");
    assert!(stderr.contains("odd-rate.wav: unsupported sample rate 22050 Hz"), "{stderr}");
    assert!(stderr.contains("does-not-exist.wav: cannot read file"), "{stderr}");
    assert!(stdout.to_lowercase().contains("yes"), "the good file was not transcribed: {stdout}");
}

#[test]
fn missing_model_names_the_file_and_how_to_fetch_it() {
    let empty = std::env::temp_dir().join(format!("attendant-no-models-{}", std::process::id()));
    std::fs::create_dir_all(&empty).expect("temp dir");
    let out = attendant(&["transcribe", "testdata/ivr/yes-please.16k.wav"], Some(&empty));
    let stderr = text(&out.stderr);
    assert_eq!(out.status.code(), Some(2), "{stderr}");
    assert!(stderr.contains("libonnxruntime.so"), "{stderr}");
    assert!(stderr.contains("python3 tools/fetch_models.py"), "{stderr}");
    // With the energy VAD no ONNX file is needed: the whisper file is the one reported.
    let out = attendant(&["transcribe", "--vad", "energy", "testdata/ivr/yes-please.16k.wav"], Some(&empty));
    assert!(text(&out.stderr).contains("ggml-tiny.en.bin (whisper tiny.en"), "{}", text(&out.stderr));
}

#[test]
fn bad_config_is_rejected_naming_the_field() {
    let unknown = temp_file("unknown.toml", b"[endpointer]\nmin_silense_ms = 300\n");
    let out = attendant(&["transcribe", "--config", unknown.to_str().expect("path"), "testdata/ivr/yes-please.16k.wav"], None);
    assert_eq!(out.status.code(), Some(2));
    assert!(text(&out.stderr).contains("min_silense_ms"), "{}", text(&out.stderr));
    let invalid = temp_file("invalid.toml", b"[endpointer]\nthreshold = 1.5\n");
    let out = attendant(&["transcribe", "--config", invalid.to_str().expect("path"), "testdata/ivr/yes-please.16k.wav"], None);
    assert_eq!(out.status.code(), Some(2));
    assert!(text(&out.stderr).contains("endpointer.threshold"), "{}", text(&out.stderr));
}

/// A worker config whose tenant's assistant file has a broken flow: `simulate` (and `serve`,
/// which loads it the same way) refuses it at load, naming the tenant's file and the place.
#[test]
fn broken_assistant_flow_is_rejected_naming_the_place() {
    let flow = std::fs::read_to_string(crate::support::repo_root().join("config/contoso.flow.toml")).expect("sample flow");
    let broken = flow.replacen("then = { next = \"payment_account\" }", "then = { next = \"paymnt_account\" }", 1);
    assert_ne!(broken, flow, "the sample flow's payment step moved");
    let flow_file = temp_file("broken.flow.toml", broken.as_bytes());
    let config = format!("[[tenants]]\nname = \"acme\"\nsources = [\"127.0.0.1/32\"]\nassistant = \"{}\"\n", flow_file.display());
    let config_file = temp_file("broken-worker.toml", config.as_bytes());
    for args in [
        vec!["simulate", "--config", config_file.to_str().expect("path"), "testdata/assistant/calls/agent-straight-away.wav"],
        vec!["serve", "--config", config_file.to_str().expect("path")],
    ] {
        let out = attendant(&args, None);
        assert_eq!(out.status.code(), Some(2), "{args:?}");
        let err = text(&out.stderr);
        assert!(err.contains("tenants[0].assistant") && err.contains("paymnt_account"), "{args:?}: {err}");
    }
}
