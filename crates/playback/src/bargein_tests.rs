#![allow(clippy::unwrap_used)]

use super::*;

fn at(t0: Instant, ms: u64) -> Instant {
    t0 + Duration::from_millis(ms)
}

#[test]
fn a_request_pauses_at_once_and_interrupts_on_its_words() {
    let t0 = Instant::now();
    let mut b = BargeIn::new(BargeInConfig::default());
    assert_eq!(b.speech_started(1, at(t0, 0), true, false), Some(BargeInAction::Pause));
    assert_eq!(b.paused_turn(), Some(1));
    // A partial of another turn does nothing; this turn's partial with real words interrupts.
    assert_eq!(b.transcript(2, "I want to pay", false, true), None);
    assert_eq!(b.transcript(1, "I want to pay", false, true), Some(BargeInAction::Interrupt(Trigger::Words)));
    assert_eq!(b.paused_turn(), None);
}

#[test]
fn long_speech_interrupts_without_a_transcript() {
    let t0 = Instant::now();
    let mut b = BargeIn::new(BargeInConfig::default());
    b.speech_started(1, at(t0, 0), true, false);
    assert_eq!(b.poll_timeout(), Some(at(t0, 1000)));
    assert_eq!(b.handle_timeout(at(t0, 999)), None);
    assert_eq!(b.handle_timeout(at(t0, 1000)), Some(BargeInAction::Interrupt(Trigger::Duration)));
}

#[test]
fn backchannel_resumes_and_a_later_request_in_the_same_turn_still_interrupts() {
    let t0 = Instant::now();
    let mut b = BargeIn::new(BargeInConfig::default());
    b.speech_started(4, at(t0, 0), true, false);
    b.speech_ended(4, at(t0, 450));
    assert_eq!(b.transcript(4, "Mm-hmm.", true, true), Some(BargeInAction::Resume));
    assert_eq!(b.poll_timeout(), None);
    assert_eq!(b.transcript(4, "Mm-hmm. Actually, billing.", true, true), Some(BargeInAction::Interrupt(Trigger::Words)));
}

#[test]
fn a_cough_resumes_on_its_empty_transcript_or_on_the_timeout() {
    let t0 = Instant::now();
    let mut b = BargeIn::new(BargeInConfig::default());
    b.speech_started(2, at(t0, 0), true, false);
    b.speech_ended(2, at(t0, 300));
    assert_eq!(b.transcript(2, "", true, true), Some(BargeInAction::Resume));

    let mut b = BargeIn::new(BargeInConfig::default());
    b.speech_started(3, at(t0, 0), true, false);
    b.speech_ended(3, at(t0, 300));
    assert_eq!(b.poll_timeout(), Some(at(t0, 1500)));
    assert_eq!(b.handle_timeout(at(t0, 1500)), Some(BargeInAction::Resume));
}

#[test]
fn echo_and_uninterruptible_prompts_never_pause() {
    let t0 = Instant::now();
    let mut b = BargeIn::new(BargeInConfig::default());
    assert_eq!(b.speech_started(1, t0, true, true), None);
    // The echo turn's transcript is the prompt's own words: ignored.
    assert_eq!(b.transcript(1, "Thank you for calling", true, true), None);
    assert_eq!(b.speech_started(2, t0, false, false), None);
    assert_eq!(b.poll_timeout(), None);
    let mut off = BargeIn::new(BargeInConfig { enabled: false, ..BargeInConfig::default() });
    assert_eq!(off.speech_started(1, t0, true, false), None);
}

#[test]
fn min_words_zero_is_classic_barge_in() {
    let mut b = BargeIn::new(BargeInConfig { min_words: 0, ..BargeInConfig::default() });
    assert_eq!(b.speech_started(1, Instant::now(), true, false), Some(BargeInAction::Interrupt(Trigger::Speech)));
}

#[test]
fn tenant_backchannels_and_validation() {
    let t0 = Instant::now();
    let cfg = BargeInConfig { backchannels: Some(vec!["sounds good".into()]), min_words: 2, ..BargeInConfig::default() };
    cfg.validate().unwrap();
    let mut b = BargeIn::new(cfg);
    b.speech_started(1, t0, true, false);
    b.speech_ended(1, at(t0, 600));
    assert_eq!(b.transcript(1, "Sounds good.", false, true), None);
    assert_eq!(b.transcript(1, "Sounds good.", true, true), Some(BargeInAction::Resume));

    let bad = BargeInConfig { resume_after_ms: 50, ..BargeInConfig::default() };
    assert_eq!(bad.validate().unwrap_err().to_string(), "barge_in.resume_after_ms: between 200 and 10000");
    let bad = BargeInConfig { backchannels: Some(vec![" ".into()]), ..BargeInConfig::default() };
    assert_eq!(bad.validate().unwrap_err().field, "backchannels");
}

#[test]
fn prompts_done_forgets_the_pause() {
    let t0 = Instant::now();
    let mut b = BargeIn::new(BargeInConfig::default());
    b.speech_started(1, t0, true, false);
    b.prompts_done();
    assert_eq!(b.poll_timeout(), None);
    assert_eq!(b.transcript(1, "billing", true, true), None);
}

#[test]
fn a_short_transcript_interrupts_only_if_it_answers_the_question() {
    let t0 = Instant::now();
    let mut b = BargeIn::new(BargeInConfig::default());
    b.speech_started(1, t0, true, false);
    b.speech_ended(1, at(t0, 500));
    // "Mm-hmm" misheard as "No" over the menu: one word, no answer: the prompt resumes.
    assert_eq!(b.transcript(1, "No.", true, false), Some(BargeInAction::Resume));
    // "Yes" over "Is that right?" answers it.
    let mut b = BargeIn::new(BargeInConfig::default());
    b.speech_started(2, t0, true, false);
    assert_eq!(b.transcript(2, "Yes.", true, true), Some(BargeInAction::Interrupt(Trigger::Words)));
    // Three real words interrupt whatever they are.
    let mut b = BargeIn::new(BargeInConfig::default());
    b.speech_started(3, t0, true, false);
    assert_eq!(b.transcript(3, "wait a second", false, false), Some(BargeInAction::Interrupt(Trigger::Words)));
}
