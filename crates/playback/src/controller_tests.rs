#![allow(clippy::unwrap_used)]

use super::*;

const RATE: SampleRate = SampleRate::HZ_8000;
const FRAME: usize = 160;

fn prompt(id: u64, text: &str) -> Prompt {
    Prompt { id: PromptId(id), text: text.to_owned(), interruptible: true }
}

fn ramp(n: usize, base: f32) -> Arc<[f32]> {
    (0..n).map(|i| base + i as f32 * 1e-6).collect::<Vec<_>>().into()
}

fn events(c: &mut PlaybackController) -> Vec<PlaybackEvent> {
    std::iter::from_fn(|| c.poll_event()).collect()
}

#[test]
fn prompts_play_in_order_then_silence_and_marks_follow_the_samples() {
    let mut c = PlaybackController::new(RATE, MarkPolicy::CountSamples);
    c.play(prompt(1, "one"), ramp(250, 0.5));
    c.mark("after-one");
    c.play(prompt(2, "two"), ramp(100, -0.5));
    let mut out = [0.0f32; FRAME];
    assert_eq!(c.fill(&mut out), FRAME);
    assert_eq!(out[0], 0.5);
    assert_eq!(events(&mut c), vec![PlaybackEvent::Started(PromptId(1))]);
    // Second frame: 90 samples of prompt 1, the mark, 70 of prompt 2.
    assert_eq!(c.fill(&mut out), FRAME);
    assert_eq!(out[89], 0.5 + 249.0 * 1e-6);
    assert_eq!(out[90], -0.5);
    assert_eq!(
        events(&mut c),
        vec![
            PlaybackEvent::Finished(PromptId(1)),
            PlaybackEvent::Mark { name: "after-one".into(), played: true },
            PlaybackEvent::Started(PromptId(2)),
        ]
    );
    assert_eq!(c.fill(&mut out), 30);
    assert!(out[30..].iter().all(|&s| s == 0.0));
    assert_eq!(events(&mut c), vec![PlaybackEvent::Finished(PromptId(2))]);
    assert!(c.is_idle());
    assert_eq!(c.fill(&mut out), 0);
}

#[test]
fn flush_reports_position_and_heard_words_and_drops_the_rest() {
    let mut c = PlaybackController::new(RATE, MarkPolicy::CountSamples);
    // Four equal words over 8000 samples: about 2000 samples each.
    c.play(prompt(1, "aaaa bbbb cccc dddd"), ramp(8_000, 0.1));
    c.mark("m");
    c.play(prompt(2, "later"), ramp(800, 0.1));
    let mut out = [0.0f32; FRAME];
    for _ in 0..26 {
        c.fill(&mut out); // 4160 samples: two words and a bit
    }
    let i = c.flush().unwrap();
    assert_eq!(i.id, PromptId(1));
    assert_eq!(i.position, Duration::from_millis(520));
    assert_eq!(i.length, Duration::from_secs(1));
    assert_eq!(i.heard, "aaaa bbbb");
    let ev = events(&mut c);
    assert_eq!(ev[0], PlaybackEvent::Started(PromptId(1)));
    assert!(matches!(&ev[1], PlaybackEvent::Interrupted(x) if x.id == PromptId(1)));
    assert_eq!(ev[2], PlaybackEvent::Mark { name: "m".into(), played: false });
    assert_eq!(ev[3], PlaybackEvent::Dropped(PromptId(2)));
    assert!(c.is_idle());
    assert_eq!(c.fill(&mut out), 0);
    // Nothing playing: nothing to report.
    assert!(c.flush().is_none());
}

#[test]
fn pause_sends_silence_and_resume_carries_on_from_the_same_sample() {
    let mut c = PlaybackController::new(RATE, MarkPolicy::CountSamples);
    c.play(prompt(1, "x"), ramp(1_000, 0.2));
    let mut out = [0.0f32; FRAME];
    c.fill(&mut out);
    let last = out[FRAME - 1];
    c.pause();
    assert!(!c.is_speaking());
    assert_eq!(c.fill(&mut out), 0);
    assert!(out.iter().all(|&s| s == 0.0));
    c.resume();
    assert_eq!(c.fill(&mut out), FRAME);
    assert!((out[0] - last - 1e-6).abs() < 1e-7);
    assert_eq!(c.current().unwrap().1, Duration::from_millis(40));
}

#[test]
fn streaming_prompt_underruns_as_silence_and_finishes_when_complete() {
    let mut c = PlaybackController::new(RATE, MarkPolicy::CountSamples);
    c.play_streaming(prompt(7, "First sentence. Second one."));
    let mut out = [0.0f32; FRAME];
    assert_eq!(c.fill(&mut out), 0);
    assert_eq!(c.underruns(), 1);
    assert!(events(&mut c).is_empty());
    assert!(c.append(PromptId(7), ramp(200, 0.3), "First sentence.".len()));
    assert_eq!(c.fill(&mut out), FRAME);
    assert_eq!(events(&mut c), vec![PlaybackEvent::Started(PromptId(7))]);
    assert_eq!(c.fill(&mut out), 40);
    assert!(c.append(PromptId(7), ramp(100, 0.3), "First sentence. Second one.".len()));
    assert!(c.complete(PromptId(7)));
    assert_eq!(c.fill(&mut out), 100);
    assert_eq!(events(&mut c), vec![PlaybackEvent::Finished(PromptId(7))]);
    // Pieces for a prompt that is gone are refused.
    assert!(!c.append(PromptId(7), ramp(10, 0.0), 0));
}

#[test]
fn heard_words_of_a_streamed_prompt_count_whole_sentences() {
    let mut c = PlaybackController::new(RATE, MarkPolicy::CountSamples);
    let text = "Thanks for calling. Please listen carefully.";
    c.play_streaming(prompt(1, text));
    c.append(PromptId(1), ramp(1_600, 0.3), "Thanks for calling.".len());
    c.append(PromptId(1), ramp(3_200, 0.3), text.len());
    c.complete(PromptId(1));
    let mut out = [0.0f32; FRAME];
    for _ in 0..12 {
        c.fill(&mut out); // 1920 samples: first sentence and 10% of the second
    }
    let i = c.flush().unwrap();
    assert_eq!(i.heard, "Thanks for calling.");
    assert_eq!(i.length, Duration::from_millis(600));
}

#[test]
fn empty_prompt_starts_and_finishes() {
    let mut c = PlaybackController::new(RATE, MarkPolicy::CountSamples);
    c.play(prompt(3, ""), Arc::from(Vec::new()));
    let mut out = [0.0f32; FRAME];
    assert_eq!(c.fill(&mut out), 0);
    assert_eq!(events(&mut c), vec![PlaybackEvent::Started(PromptId(3)), PlaybackEvent::Finished(PromptId(3))]);
}

#[test]
fn transport_marks_wait_for_the_peer() {
    let mut c = PlaybackController::new(RATE, MarkPolicy::Transport);
    c.play(prompt(1, "a"), ramp(100, 0.1));
    c.mark("end-of-greeting");
    c.mark("other");
    let mut out = [0.0f32; FRAME];
    c.fill(&mut out);
    let ev = events(&mut c);
    assert_eq!(ev.last().unwrap(), &PlaybackEvent::SendMark("other".into()));
    assert!(ev.contains(&PlaybackEvent::SendMark("end-of-greeting".into())));
    assert!(c.confirm_mark("end-of-greeting"));
    assert!(!c.confirm_mark("never-sent"));
    assert_eq!(events(&mut c), vec![PlaybackEvent::Mark { name: "end-of-greeting".into(), played: true }]);
    // A flush reports the marks still in flight as not played.
    assert!(c.flush().is_none());
    assert_eq!(events(&mut c), vec![PlaybackEvent::Mark { name: "other".into(), played: false }]);
}

#[test]
fn heard_words_estimate() {
    assert_eq!(heard_words("one two three four", 0.0), "");
    assert_eq!(heard_words("one two three four", 1.0), "one two three four");
    assert_eq!(heard_words("one two three four", 0.5), "one two");
    assert_eq!(heard_words("", 0.7), "");
}
