//! A call from a real browser: headless Chromium (Debian `chromium`, which `tools/test.sh`
//! installs) opens the worker's own page, its fake microphone plays a caller's recording, and
//! the call goes over WebRTC (ICE, DTLS-SRTP, Opus) to the sample assistant. What the page
//! shows (transcript, intent, decision) is read through the DevTools protocol by
//! `tools/browser_call.py` and checked against the fixture's manifest and the worker's events.

use std::path::{Path, PathBuf};
use std::process::Command;
use std::time::Duration;

use serde_json::Value;

use crate::support::{contoso_flow, fixtures, normalize, repo_root, word_errors, Fixture, Worker};

const TOKEN: &str = "contoso-browser-token-0001";

/// The fixture's first utterance as 16-bit PCM (Chromium's fake capture does not read µ-law),
/// after `lead_ms` of silence and followed by `trail_ms` (Chromium plays the file in a loop).
fn caller_wav(dir: &Path, fixture: &Fixture, lead_ms: u32, trail_ms: u32) -> PathBuf {
    let wav = codec::WavFile::open(&fixture.file()).expect("fixture");
    let mut pcm = vec![0.0f32; wav.data.len() / wav.format.bytes_per_sample()];
    codec::decode(wav.format, &wav.data, &mut pcm).expect("decode");
    let rate = wav.rate.hz();
    let first = fixture.turns.as_ref().and_then(|t| t.first()).expect("turn extents");
    let end = ((first.end_ms + 400) * u64::from(rate) / 1000).min(pcm.len() as u64) as usize;
    let silence = |ms: u32| vec![0i16; (u64::from(ms) * u64::from(rate) / 1000) as usize];
    let mut samples = silence(lead_ms);
    samples.extend(pcm[..end].iter().map(|s| (s.clamp(-1.0, 1.0) * 32767.0) as i16));
    samples.extend(silence(trail_ms));
    let path = dir.join("browser-caller.wav");
    std::fs::write(&path, codec::wav::write_pcm16(wav.rate, &samples)).expect("write wav");
    path
}

/// POSTs `body` as an offer and returns the status and body.
fn post_offer(port: u16, query: &str, body: &str) -> (u16, String) {
    let agent = ureq::Agent::config_builder().http_status_as_error(false).timeout_global(Some(Duration::from_secs(10))).build().new_agent();
    let mut r = agent
        .post(format!("http://127.0.0.1:{port}/v1/webrtc/offer{query}"))
        .header("content-type", "application/sdp")
        .send(body)
        .expect("POST offer");
    (r.status().as_u16(), r.body_mut().read_to_string().expect("body"))
}

/// The caller asks for a person: the page shows what they said, the intent and the decision
/// (agent, queue, target), and they match the fixture and the worker's own events.
#[test]
fn browser_call_over_webrtc_shows_transcript_intent_and_decision() {
    let chromium = ["chromium", "chromium-browser"].into_iter().find(|b| Command::new(b).arg("--version").output().is_ok_and(|o| o.status.success()));
    assert!(chromium.is_some(), "chromium is not installed: tools/test.sh installs Debian's chromium (apt-get install chromium)");
    let fixture = fixtures().into_iter().find(|f| f.path == "assistant/calls/agent-straight-away.wav").expect("fixture");
    let expected_intent = fixture.turns_expected.iter().find_map(|t| t.intent.clone()).expect("the call's intent");
    let first_words = normalize(&fixture.turns_expected.first().expect("turns").text);

    let flow = contoso_flow("webrtc", |text| text);
    let tenant = format!(
        "[[tenants]]\nname = \"contoso\"\nsources = [\"127.0.0.1/32\"]\nassistant = \"{}\"\nmedia_tokens = [\"{TOKEN}\"]\n",
        flow.display()
    );
    // Tokens even on loopback: the page's token must reach both the offer and the event stream.
    let worker = Worker::start_with("webrtc", "", Some("loopback_without_token = false"), &tenant);
    let port = worker.http_port.expect("http port");

    // Refusals come before any media: no token, and an offer that is not SDP.
    let (status, body) = post_offer(port, "?tenant=contoso", "v=0\r\n");
    assert_eq!(status, 401, "{body}");
    let (status, body) = post_offer(port, &format!("?tenant=contoso&token={TOKEN}"), "hello");
    assert!(status == 400 && body.contains("\"bad_sdp\""), "{status} {body}");

    // The greeting and menu last about 18 s; the caller speaks after 19 s.
    let wav = caller_wav(&worker.dir, &fixture, 19_000, 12_000);
    let url = format!("http://127.0.0.1:{port}/?autostart=1&tenant=contoso&token={TOKEN}");
    let out = Command::new("python3")
        .arg(repo_root().join("tools/browser_call.py"))
        .args([url.as_str(), "--audio", wav.to_str().expect("utf-8"), "--timeout", "150"])
        .output()
        .expect("python3");
    let stderr = String::from_utf8_lossy(&out.stderr);
    let page: Value = serde_json::from_slice(&out.stdout).unwrap_or_else(|e| panic!("browser_call.py printed no state ({e}):\n{stderr}"));
    let events = worker.events();
    let call_id = events
        .iter()
        .find(|e| e["event"] == "call_started" && e["transport"] == "webrtc")
        .and_then(|e| e["call_id"].as_str())
        .unwrap_or_else(|| panic!("no WebRTC call started; page {page:#}\n{stderr}\nevents {events:#?}"))
        .to_owned();
    let mine: Vec<&Value> = events.iter().filter(|e| e["call_id"] == call_id.as_str()).collect();
    assert!(out.status.success(), "the call did not end on the page: {page:#}\n{stderr}\nevents {mine:#?}");
    assert_eq!(page["state"], "ended", "{page:#}");

    // What the caller said: the page shows the start of the utterance at least (the turn may end
    // early on a clear partial), within one word of the recording's script.
    let shown: Vec<String> = page["transcript"].as_array().into_iter().flatten().filter_map(|l| l["text"].as_str()).flat_map(normalize).collect();
    assert!(shown.len() >= 4, "transcript {shown:?}; page {page:#}");
    let said = &first_words[..shown.len().min(first_words.len())];
    assert!(word_errors(said, &shown) <= 1, "page shows {shown:?}, the caller said {first_words:?}");
    let heard: Vec<String> = mine.iter().filter(|e| e["event"] == "partial_transcript" || e["event"] == "final_transcript").filter_map(|e| e["text"].as_str()).map(|t| normalize(t).join(" ")).collect();
    assert!(heard.contains(&shown.join(" ")), "page transcript {shown:?} is none of the worker's {heard:?}");

    // The intent and the decision, on the page and in the events.
    assert_eq!(page["intent"]["intent"], expected_intent.as_str(), "{page:#}");
    let decision = mine.iter().find(|e| e["event"] == "decision").unwrap_or_else(|| panic!("no decision event: {mine:#?}"));
    assert_eq!(decision["intent"], expected_intent.as_str(), "{decision}");
    let shown_decision = &page["decision"];
    assert_eq!(shown_decision["intent"], decision["intent"], "{page:#}");
    assert_eq!(shown_decision["queue"], decision["target"]["queue"], "{page:#}");
    assert_eq!(shown_decision["agent"], decision["target"]["agent_id"], "{page:#}");
    assert!(shown_decision["queue"].as_str().is_some_and(|q| !q.is_empty()), "no queue shown: {page:#}");
    assert!(shown_decision["text"].as_str().is_some_and(|t| t.contains(decision["target"]["agent_name"].as_str().unwrap_or("?"))), "{page:#}");

    // The worker spoke to the browser (the prompts went out as Opus) and the caller's audio came
    // in whole; the call ended as a call: decision, goodbye, hang-up, connection closed.
    let prompts = page["prompts"].as_array().map_or(0, Vec::len);
    assert!(prompts >= 3, "greeting, menu and goodbye expected on the page: {page:#}");
    let ended = mine.iter().find(|e| e["event"] == "webrtc_ended").unwrap_or_else(|| panic!("no webrtc_ended: {mine:#?}"));
    assert!(ended["frames_out"].as_u64().is_some_and(|n| n > 500), "{ended}");
    assert!(ended["packets_in"].as_u64().is_some_and(|n| n > 500), "{ended}");
    assert_eq!(ended["frames_dropped"], 0, "{ended}");
    assert!(mine.iter().any(|e| e["event"] == "call_ended"), "{mine:#?}");
}
