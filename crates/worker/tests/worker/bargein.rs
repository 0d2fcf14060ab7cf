//! Barge-in on whole simulated calls (testdata/bargein/, testdata/assistant/calls/): the caller
//! talking over the greeting with a request, a backchannel or a cough, and the worker's own
//! prompts coming back in the caller's audio at -10 dB and 40 ms. Which prompt stopped, where,
//! and whether it resumed, as `attendant simulate` reports it.

use std::time::Duration;

use attendant_worker::assistant::AssistantFile;
use attendant_worker::graph::GraphConfig;
use attendant_worker::simulate::{print_line, simulate, EchoPath, SimEvent, SimOptions, SimReport};
use codec::WavFile;
use types::MediaTime;

use crate::assistant::contoso;
use crate::support::{engines, repo_root};

/// The first utterance starts 2.5 s into the call: over the menu prompt, which follows the
/// 1.8 s greeting.
const INTERJECT: Duration = Duration::from_millis(2_500);
const ECHO: EchoPath = EchoPath { gain_db: -10.0, delay_ms: 40 };

fn run(path: &str, interject: bool, echo: bool) -> (SimReport, String) {
    let wav = WavFile::open(&repo_root().join("testdata").join(path)).unwrap_or_else(|e| panic!("{path}: {e}"));
    let options = SimOptions { interject_at: interject.then_some(INTERJECT), echo: echo.then_some(ECHO), ..SimOptions::default() };
    let graph = AssistantFile::embedded().expect("sample flow").graph(&GraphConfig::default());
    let report = {
        let mut engines = engines();
        simulate(&wav, &mut engines, &graph, contoso(), path, &options).expect("simulate")
    };
    let log = report.events.iter().map(|(at, e)| print_line(*at, e, false)).filter(|l| !l.is_empty()).collect::<Vec<_>>().join("\n");
    (report, log)
}

fn count(report: &SimReport, f: impl Fn(&SimEvent) -> bool) -> usize {
    report.events.iter().filter(|(_, e)| f(e)).count()
}

fn first_at(report: &SimReport, f: impl Fn(&SimEvent) -> bool) -> Option<MediaTime> {
    report.events.iter().find(|(_, e)| f(e)).map(|(at, _)| *at)
}

const MENU: &str = "In a few words, tell me what you're calling about.";

#[test]
fn a_request_over_the_menu_prompt_interrupts_it_where_the_caller_spoke() {
    for echo in [false, true] {
        let (r, log) = run("bargein/interrupt-pay.wav", true, echo);
        let ctx = format!("echo {echo}\n{log}");
        // Paused within 300 ms of the start of the caller's speech (media time: frames, not the
        // machine's speed).
        let paused = first_at(&r, |e| matches!(e, SimEvent::PromptPaused { .. })).unwrap_or_else(|| panic!("never paused\n{ctx}"));
        // The endpointer's onset of the turn that paused it (the speech_started event is stamped
        // with the onset).
        let onset = r
            .events
            .iter()
            .filter(|(at, e)| matches!(e, SimEvent::SpeechStarted { .. }) && *at <= paused)
            .map(|(at, _)| *at)
            .last()
            .unwrap_or_else(|| panic!("no speech before the pause\n{ctx}"));
        let reaction = paused.saturating_sub(onset).as_millis();
        assert!(reaction < 300, "paused {reaction} ms after the caller's speech began\n{ctx}");
        // And that onset is the caller's (2.5 s + 0.3 s of lead-in), not the echo.
        assert!(onset.as_millis() >= 2_700, "onset at {onset}\n{ctx}");
        let interrupted: Vec<_> = r
            .events
            .iter()
            .filter_map(|(at, e)| match e {
                SimEvent::PromptInterrupted { text, position_ms, heard } => Some((*at, text.clone(), *position_ms, heard.clone())),
                _ => None,
            })
            .collect();
        assert_eq!(interrupted.len(), 1, "one prompt interrupted\n{ctx}");
        let (_, text, position_ms, heard) = &interrupted[0];
        assert!(text.starts_with(MENU), "the menu prompt is the one interrupted: {text}\n{ctx}");
        // The caller started 0.7 s into the menu prompt (2.5 s + 0.3 s lead-in - 1.8 s greeting
        // ~ 1.0 s); it stopped there, not at its start or its end.
        assert!((600..2_500).contains(position_ms), "stopped at {position_ms} ms\n{ctx}");
        assert!(!heard.is_empty() && text.starts_with(heard.trim_end_matches(',')), "heard {heard:?} of {text:?}\n{ctx}");
        assert_eq!(count(&r, |e| matches!(e, SimEvent::BargeIn { .. })), 1, "{ctx}");
        let d = r.decision.as_ref().unwrap_or_else(|| panic!("no decision\n{ctx}"));
        assert_eq!(d.intent.as_deref(), Some("payment"), "the interrupting turn is the menu's answer\n{ctx}");
    }
}

#[test]
fn backchannels_and_a_cough_do_not_interrupt_and_the_prompt_goes_on() {
    for (path, echo, intent) in [
        ("bargein/mmhmm-then-pay.wav", true, "payment"),
        ("bargein/okay-then-outage.wav", false, "outage"),
        ("bargein/cough-then-pay.wav", false, "payment"),
        ("bargein/cough-then-pay.wav", true, "payment"),
    ] {
        let (r, log) = run(path, true, echo);
        let ctx = format!("{path} echo {echo}\n{log}");
        assert_eq!(count(&r, |e| matches!(e, SimEvent::BargeIn { .. })), 0, "false barge-in\n{ctx}");
        assert_eq!(count(&r, |e| matches!(e, SimEvent::PromptInterrupted { .. })), 0, "{ctx}");
        // A pause (the backchannel was speech) is always followed by the resume.
        let paused = count(&r, |e| matches!(e, SimEvent::PromptPaused { .. }));
        let resumed = count(&r, |e| matches!(e, SimEvent::PromptResumed { .. }));
        assert_eq!(paused, resumed, "{ctx}");
        if path.contains("mmhmm") || path.contains("okay") {
            assert_eq!(paused, 1, "the backchannel is speech: it pauses the prompt, then resumes it\n{ctx}");
        }
        // The menu prompt played to its end: the dialogue listened after it, then took the next
        // utterance as the answer.
        let d = r.decision.as_ref().unwrap_or_else(|| panic!("no decision\n{ctx}"));
        assert_eq!(d.intent.as_deref(), Some(intent), "{ctx}");
    }
}

#[test]
fn the_prompts_own_echo_never_barges_in() {
    for path in ["assistant/calls/payment-corrected-digits.wav", "assistant/calls/agent-straight-away.wav"] {
        let (r, log) = run(path, false, true);
        let ctx = format!("{path}\n{log}");
        for (what, n) in [
            ("paused", count(&r, |e| matches!(e, SimEvent::PromptPaused { .. }))),
            ("barge-in", count(&r, |e| matches!(e, SimEvent::BargeIn { .. }))),
            ("interrupted", count(&r, |e| matches!(e, SimEvent::PromptInterrupted { .. }))),
        ] {
            assert_eq!(n, 0, "{what} by the echo\n{ctx}");
        }
        let d = r.decision.as_ref().unwrap_or_else(|| panic!("no decision\n{ctx}"));
        let expected = if path.contains("payment") { "payment" } else { "agent" };
        assert_eq!(d.intent.as_deref(), Some(expected), "{ctx}");
    }
}
