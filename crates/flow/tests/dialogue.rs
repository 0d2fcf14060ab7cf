//! Whole calls through the sample tenant (`config/contoso.flow.toml`) in virtual time, with the
//! real embedding model for intents (loaded once for this binary).
//!
//! Needs `models/all-MiniLM-L6-v2` (`python3 tools/fetch_models.py`) or `ATTENDANT_MODELS`.

use std::path::PathBuf;
use std::sync::{Arc, OnceLock};
use std::time::{Duration, Instant, SystemTime};

use attendant_flow::{CallInfo, CompiledFlow, Dialogue, EscalationReason, Expect, FlowEvent, FlowFile, Input, Output, Prompt};
use routing::{DecisionReason, Router, Speaker, TargetKind};

struct Shared {
    embedder: nlu::Embedder,
    file: FlowFile,
    flow: Arc<CompiledFlow>,
}

fn shared() -> &'static Shared {
    static SHARED: OnceLock<Shared> = OnceLock::new();
    SHARED.get_or_init(|| {
        let root = PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../..");
        let models = std::env::var_os("ATTENDANT_MODELS").map(PathBuf::from).unwrap_or_else(|| root.join("models"));
        let embedder = nlu::Embedder::load(&models.join(nlu::MODEL_DIR_NAME)).unwrap_or_else(|e| panic!("{e}"));
        let file = FlowFile::load(&root.join("config/contoso.flow.toml")).unwrap_or_else(|e| panic!("{e}"));
        let flow = CompiledFlow::build(&file.flow, "flow", &file.routing, &embedder).unwrap_or_else(|e| panic!("{e}"));
        Shared { embedder, file, flow: Arc::new(flow) }
    })
}

fn router() -> Arc<Router> {
    Arc::new(Router::new(&shared().file.routing).expect("sample routing"))
}

/// A call driven like the worker drives it: prompts "play" for a second each.
struct Call {
    d: Dialogue,
    now: Instant,
    /// Plays not yet finished.
    playing: usize,
    log: Vec<Output>,
}

impl Call {
    fn new(router: Arc<Router>, wall_clock: Option<SystemTime>) -> Call {
        let now = Instant::now();
        let info = CallInfo { caller_number: Some("+16175550100".into()), ..CallInfo::new("call-1", "contoso", wall_clock) };
        let mut call = Call { d: Dialogue::new(Arc::clone(&shared().flow), router, info, now), now, playing: 0, log: Vec::new() };
        call.input(Input::Start);
        call
    }

    fn drain(&mut self) -> Vec<Output> {
        let mut got = Vec::new();
        while let Some(o) = self.d.poll_output() {
            match &o {
                Output::Play(_) => self.playing += 1,
                Output::StopPlayback => self.playing = 0,
                _ => {}
            }
            self.log.push(o.clone());
            got.push(o);
        }
        got
    }

    fn input(&mut self, input: Input<'_>) -> Vec<Output> {
        self.d.handle_input(input, self.now);
        self.drain()
    }

    /// Plays out every queued prompt.
    fn play_out(&mut self) -> Vec<Output> {
        let mut got = Vec::new();
        while self.playing > 0 {
            self.playing -= 1;
            self.now += Duration::from_secs(1);
            got.extend(self.input(Input::PromptFinished));
        }
        got
    }

    /// The caller says `text` (a final transcript, or a partial), 500 ms later.
    fn say(&mut self, text: &str, is_final: bool) -> Vec<Output> {
        self.now += Duration::from_millis(500);
        let embedding = if self.d.wants_embedding() { shared().embedder.embed(text).ok() } else { None };
        self.input(Input::Speech { text, embedding: embedding.as_ref(), is_final })
    }

    /// The worker's speculative decode: the turn so far, while the caller pauses.
    fn pause(&mut self, text: &str) -> Vec<Output> {
        self.now += Duration::from_millis(200);
        let embedding = if self.d.wants_embedding() { shared().embedder.embed(text).ok() } else { None };
        self.input(Input::SpeechPause { text, embedding: embedding.as_ref() })
    }

    fn key(&mut self, key: char) -> Vec<Output> {
        self.now += Duration::from_millis(300);
        self.input(Input::Dtmf(key))
    }

    /// Lets `secs` pass, firing timers as they fall due.
    fn wait(&mut self, secs: u64) -> Vec<Output> {
        let end = self.now + Duration::from_secs(secs);
        let mut got = Vec::new();
        while let Some(t) = self.d.poll_timeout().filter(|t| *t <= end) {
            self.now = self.now.max(t);
            self.d.handle_timeout(self.now);
            got.extend(self.drain());
        }
        self.now = end;
        got
    }

    fn decision(&self) -> &routing::Decision {
        let mut decisions = self.log.iter().filter_map(|o| match o {
            Output::Decision(d) => Some(d.as_ref()),
            _ => None,
        });
        let d = decisions.next().expect("a decision");
        assert!(decisions.next().is_none(), "exactly one decision");
        d
    }
}

fn listen(outs: &[Output]) -> Option<&attendant_flow::Listen> {
    outs.iter().find_map(|o| match o {
        Output::Listen(l) => Some(l),
        _ => None,
    })
}

fn texts(outs: &[Output]) -> Vec<String> {
    outs.iter()
        .filter_map(|o| match o {
            Output::Play(p) => Some(match &p.prompt {
                Prompt::Text(t) => t.clone(),
                Prompt::Wav(w) => w.display().to_string(),
            }),
            _ => None,
        })
        .collect()
}

fn events(outs: &[Output]) -> Vec<&FlowEvent> {
    outs.iter()
        .filter_map(|o| match o {
            Output::Event(e) => Some(e),
            _ => None,
        })
        .collect()
}

fn position(outs: &[Output], f: impl Fn(&Output) -> bool) -> usize {
    outs.iter().position(f).expect("output present")
}

/// Greeting, menu prompt, then listening in the menu.
fn at_menu(call: &mut Call) {
    let outs = call.play_out();
    let l = listen(&outs).expect("listening in the menu");
    assert_eq!((l.step.as_str(), l.expect, l.speech, l.early_end), ("menu", Expect::Intent, true, true));
    assert!(call.d.wants_embedding());
}

#[test]
fn payment_by_speech_fills_the_account_confirms_and_transfers() {
    let mut call = Call::new(router(), None);
    let start = call.log.clone();
    assert_eq!(texts(&start).len(), 2, "greeting and menu");
    let first_event = events(&start)[0];
    assert_eq!(serde_json::to_value(first_event).expect("json"), serde_json::json!({"event": "step_entered", "step": "menu"}));
    assert!(texts(&start)[0].starts_with("Thanks for calling Contoso"));
    // Half duplex: speech while the prompts play is not taken.
    assert!(call.say("billing", true).is_empty());
    at_menu(&mut call);

    let outs = call.say("I want to pay my bill", true);
    assert!(events(&outs).iter().any(|e| matches!(e, FlowEvent::IntentRecognized { intent, partial: false, via_dtmf: false, .. } if intent == "payment")));
    assert!(!call.d.wants_embedding());
    let outs = call.play_out();
    let l = listen(&outs).expect("asks for the account");
    assert_eq!((l.step.as_str(), l.expect), ("payment_account", Expect::Digits));
    assert_eq!(l.dtmf.as_ref().map(|c| (c.min_digits, c.max_digits, c.finish_key)), Some((6, 8, Some('#'))));

    let outs = call.say("it's five five one two three four", true);
    assert_eq!(texts(&outs), ["I heard 5 5 1 2 3 4. Is that right?"]);
    let outs = call.play_out();
    assert_eq!(listen(&outs).map(|l| (l.step.as_str(), l.expect)), Some(("payment_account.confirm", Expect::YesNo)));

    let outs = call.say("yes that's right", true);
    let filled = position(&outs, |o| matches!(o, Output::Event(FlowEvent::SlotFilled { name, value }) if name == "account" && value == "551234"));
    let decided = position(&outs, |o| matches!(o, Output::Decision(_)));
    let transfer = position(&outs, |o| matches!(o, Output::Play(_)));
    assert!(filled < decided && decided < transfer, "the decision goes out before its prompt: {outs:#?}");
    assert!(!outs.contains(&Output::Hangup), "hang-up waits for the transfer prompt");
    assert_eq!(call.play_out(), [Output::Hangup]);
    assert!(call.d.is_finished());

    let d = call.decision();
    assert_eq!((d.intent.as_deref(), d.reason, d.target.kind), (Some("payment"), DecisionReason::Intent, TargetKind::Agent));
    assert_eq!(d.target.queue.as_deref(), Some("payments"));
    assert_eq!(d.slots.get("account").map(String::as_str), Some("551234"));
    assert!(d.confidence >= 0.5, "{}", d.confidence);
    let lines: Vec<(Speaker, &str)> = d.transcript.iter().map(|l| (l.speaker, l.text.as_str())).collect();
    assert!(lines.contains(&(Speaker::Caller, "I want to pay my bill")));
    assert!(lines.contains(&(Speaker::Attendant, "I heard 5 5 1 2 3 4. Is that right?")));
    assert!(lines.contains(&(Speaker::Caller, "yes that's right")));
    assert!(!lines.iter().any(|(_, t)| *t == "billing"), "speech during a prompt is not in the transcript");
    assert!(d.transcript.windows(2).all(|w| w[0].at_ms <= w[1].at_ms));
    assert!(d.timings.call_ms > 0);
}

#[test]
fn dtmf_type_ahead_during_the_greeting_and_keyed_account() {
    let mut call = Call::new(router(), None);
    let outs = call.key('3');
    assert_eq!(outs.first(), Some(&Output::StopPlayback), "keyed ahead: the greeting stops");
    assert!(events(&outs).iter().any(|e| matches!(e, FlowEvent::IntentRecognized { intent, via_dtmf: true, .. } if intent == "payment")));
    // Keys during the account prompt stop it too and are collected.
    let outs = call.key('5');
    assert_eq!(outs.first(), Some(&Output::StopPlayback));
    assert_eq!(listen(&outs).map(|l| l.step.as_str()), Some("payment_account"));
    for k in "51234".chars() {
        assert!(call.key(k).iter().all(|o| !matches!(o, Output::Play(_))));
    }
    assert!(call.d.poll_timeout().is_some(), "inter-digit timer");
    let outs = call.key('#');
    assert_eq!(texts(&outs), ["I heard 5 5 1 2 3 4. Is that right?"]);
    call.play_out();
    call.key('1');
    assert_eq!(call.play_out(), [Output::Hangup]);
    let d = call.decision();
    assert_eq!((d.reason, d.intent.as_deref(), d.target.queue.as_deref()), (DecisionReason::Dtmf, Some("payment"), Some("payments")));
    assert_eq!(d.slots.get("account").map(String::as_str), Some("551234"));
    assert!(d.transcript.iter().any(|l| l.speaker == Speaker::Caller && l.text == "[dtmf 551234]"));
}

#[test]
fn a_no_to_the_confirmation_asks_again() {
    let mut call = Call::new(router(), None);
    call.key('3');
    call.play_out();
    call.say("five five one two three four", true);
    call.play_out();
    let outs = call.say("no", true);
    assert!(events(&outs).iter().any(|e| matches!(e, FlowEvent::NoMatch { step, attempt: 1, .. } if step == "payment_account")));
    assert!(texts(&outs)[0].starts_with("Please say or key in your account number"));
    call.play_out();
    call.say("seven seven eight eight nine nine", true);
    call.play_out();
    call.say("yes", true);
    assert_eq!(call.decision().slots.get("account").map(String::as_str), Some("778899"));
}

#[test]
fn no_match_then_match() {
    let mut call = Call::new(router(), None);
    at_menu(&mut call);
    let outs = call.say("what's the capital of France", true);
    assert!(events(&outs).iter().any(|e| matches!(e, FlowEvent::NoMatch { step, attempt: 1, .. } if step == "menu")), "{outs:#?}");
    assert_eq!(texts(&outs)[0], "Sorry, I didn't get that.");
    assert!(texts(&outs)[1].starts_with("You can say things like"), "the reprompt follows");
    at_menu(&mut call);
    call.say("my internet keeps dropping out", true);
    call.play_out();
    let d = call.decision();
    assert_eq!((d.intent.as_deref(), d.target.queue.as_deref(), d.target.agent_id.as_deref()), (Some("technical_support"), Some("support"), Some("bob")));
}

#[test]
fn no_input_reprompts_then_escalates() {
    let mut call = Call::new(router(), None);
    at_menu(&mut call);
    for attempt in 1..=2 {
        let outs = call.wait(7);
        assert!(events(&outs).iter().any(|e| matches!(e, FlowEvent::NoInput { attempt: a, .. } if *a == attempt)));
        assert_eq!(texts(&outs)[0], "Sorry, I didn't hear anything.");
        at_menu(&mut call);
    }
    let outs = call.wait(7);
    assert!(events(&outs).iter().any(|e| matches!(e, FlowEvent::Escalated { reason: EscalationReason::NoInput })));
    let d = call.decision();
    assert_eq!((d.reason, d.target.queue.as_deref(), d.priority), (DecisionReason::NoInput, Some("general"), routing::Priority::High));
    assert_eq!(texts(&outs).last().map(String::as_str), Some("Let me get you to someone who can help."));
}

#[test]
fn asking_for_an_agent_escalates_from_the_menu_and_from_a_step() {
    let mut call = Call::new(router(), None);
    at_menu(&mut call);
    let outs = call.say("can I just talk to a representative", true);
    assert!(events(&outs).iter().any(|e| matches!(e, FlowEvent::Escalated { reason: EscalationReason::CallerRequest })));
    let d = call.decision();
    assert_eq!((d.reason, d.intent.as_deref(), d.target.queue.as_deref()), (DecisionReason::Escalation, Some("agent"), Some("general")));

    let mut call = Call::new(router(), None);
    call.key('1');
    call.play_out();
    call.say("I don't know it, get me an operator", true);
    let d = call.decision();
    assert_eq!((d.reason, d.intent.as_deref()), (DecisionReason::Escalation, Some("billing")));
}

#[test]
fn closed_hours_go_to_voicemail() {
    // Sunday 2025-06-08 03:00 in New York (07:00 UTC).
    let sunday_night = SystemTime::UNIX_EPOCH + Duration::from_secs(1_749_366_000);
    let mut call = Call::new(router(), Some(sunday_night));
    let outs = call.log.clone();
    assert!(events(&outs).contains(&&FlowEvent::Closed));
    let d = call.decision();
    assert_eq!((d.reason, d.target.kind, d.target.queue.as_deref()), (DecisionReason::Closed, TargetKind::Voicemail, Some("voicemail")));
    assert_eq!(d.target.address.sip.as_deref(), Some("sip:voicemail@cc.contoso.example.com"));
    assert!(texts(&outs)[0].contains("closed"));
    assert_eq!(call.play_out(), [Output::Hangup]);

    // Monday 2025-06-09 10:00 in New York: open.
    let monday = SystemTime::UNIX_EPOCH + Duration::from_secs(1_749_477_600);
    let call = Call::new(router(), Some(monday));
    assert!(!events(&call.log).contains(&&FlowEvent::Closed));
}

#[test]
fn callback_offered_when_nobody_is_staffed() {
    // Sales has one agent, Offline: a callback is offered.
    let mut call = Call::new(router(), None);
    at_menu(&mut call);
    let outs = call.say("I'd like to sign up for internet at my new apartment", true);
    assert!(events(&outs).iter().any(|e| matches!(e, FlowEvent::CallbackOffered { queue, .. } if queue == "sales")), "{outs:#?}");
    assert!(texts(&outs)[0].contains("call back"), "no transfer prompt before the offer");
    let outs = call.play_out();
    assert_eq!(listen(&outs).map(|l| (l.step.as_str(), l.expect)), Some(("callback_offer", Expect::YesNo)));
    call.say("yes please", true);
    let d = call.decision();
    assert_eq!((d.reason, d.target.kind, d.target.callback_number.as_deref()), (DecisionReason::CallbackAccepted, TargetKind::Callback, Some("+16175550100")));
    assert_eq!(call.play_out(), [Output::Hangup]);

    // Declined: the call holds in the queue.
    let mut call = Call::new(router(), None);
    call.key('5');
    call.play_out();
    call.key('2');
    let d = call.decision();
    assert_eq!((d.reason, d.target.kind, d.target.queue.as_deref()), (DecisionReason::Dtmf, TargetKind::Queue, Some("sales")));
}

#[test]
fn a_confident_partial_ends_the_turn_early() {
    let mut call = Call::new(router(), None);
    at_menu(&mut call);
    // Too little to go on: the turn continues.
    let outs = call.say("I", false);
    assert!(outs.is_empty(), "{outs:#?}");
    let outs = call.say("I want to cancel my service", false);
    assert_eq!(outs.first(), Some(&Output::EndTurn), "{outs:#?}");
    assert!(events(&outs).iter().any(|e| matches!(e, FlowEvent::IntentRecognized { intent, partial: true, .. } if intent == "cancel")));
    let d = call.decision();
    assert_eq!((d.target.queue.as_deref(), d.target.agent_id.as_deref()), (Some("retention"), Some("dave")));
    // The turn's final, if the worker sent it anyway, changes nothing.
    assert!(call.say("I want to cancel my service please", true).is_empty());

    // Digits end early only at their maximum length.
    let mut call = Call::new(router(), None);
    call.key('1');
    call.play_out();
    assert!(call.say("five five one two three four", false).is_empty());
    let outs = call.say("five five one two three four five six", false);
    assert_eq!(outs.first(), Some(&Output::EndTurn));
    assert_eq!(call.decision().slots.get("account").map(String::as_str), Some("55123456"));
}

#[test]
fn caller_hangup_still_reports_a_decision() {
    let mut call = Call::new(router(), None);
    at_menu(&mut call);
    call.say("I have a question about my bill", true);
    let outs = call.input(Input::CallerHangup);
    assert!(!outs.contains(&Output::Hangup));
    assert!(call.d.is_finished());
    let d = call.decision();
    assert_eq!((d.reason, d.target.kind, d.intent.as_deref()), (DecisionReason::CallerHangup, TargetKind::Hangup, Some("billing")));
}

#[test]
fn outage_message_then_yes_no() {
    let mut call = Call::new(router(), None);
    call.key('6');
    let outs = call.play_out();
    assert_eq!(listen(&outs).map(|l| (l.step.as_str(), l.expect)), Some(("outage_support", Expect::YesNo)));
    call.say("no thanks", true);
    let d = call.decision();
    assert_eq!(d.target.kind, TargetKind::Hangup);
    assert_eq!(d.transcript.last().map(|l| l.text.as_str()), Some("Thanks for calling Contoso. Goodbye."));
}

#[test]
fn a_pause_takes_any_answer_the_final_would_take_and_waits_on_the_rest() {
    let mut call = Call::new(router(), None);
    at_menu(&mut call);
    // Nothing the menu understands: wait for the final (the caller may go on).
    assert!(call.pause("oh sorry").is_empty());
    // The whole answer so far matches an intent: the turn ends on it.
    let outs = call.pause("oh sorry, okay, my internet keeps dropping out");
    assert_eq!(outs.first(), Some(&Output::EndTurn), "{outs:#?}");
    assert!(events(&outs).iter().any(|e| matches!(e, FlowEvent::IntentRecognized { intent, .. } if intent == "technical_support")));

    // A valid account number in a pause ends the digits step below its maximum length.
    let mut call = Call::new(router(), None);
    call.key('1');
    call.play_out();
    assert!(call.pause("five five one").is_empty(), "too short to be an account number");
    let outs = call.pause("five five one two three four five");
    assert_eq!(outs.first(), Some(&Output::EndTurn), "{outs:#?}");
}

#[test]
fn barge_in_over_the_menu_prompts_takes_the_turn_as_the_answer() {
    let mut call = Call::new(router(), None);
    // The greeting and menu play: the caller may interrupt them, with the flow's settings.
    let b = call.d.barge_in().expect("the menu's prompts are interruptible");
    assert_eq!((b.min_words, b.min_speech_ms), (1, 1000));
    let outs = call.input(Input::BargeIn);
    call.playing = 0; // the worker flushed them
    let l = listen(&outs).expect("listening at once");
    assert_eq!(l.step, "menu");
    assert!(call.d.barge_in().is_none(), "nothing left to interrupt while listening");
    let outs = call.say("I want to pay my bill", true);
    assert!(events(&outs).iter().any(|e| matches!(e, FlowEvent::IntentRecognized { intent, .. } if intent == "payment")));
    // The transfer announcement cannot be barged in on: only a question's prompts can.
    call.play_out();
    call.say("five five one two three four", true);
    call.play_out();
    call.say("yes", true);
    assert!(call.playing > 0, "transfer prompt playing");
    assert!(call.d.barge_in().is_none());
    let outs = call.input(Input::BargeIn);
    assert!(outs.is_empty(), "{outs:?}");
    assert_eq!(call.play_out(), [Output::Hangup]);
}

#[test]
fn barge_in_settings_per_step_are_validated_where_they_are() {
    let root = PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../..");
    let text = std::fs::read_to_string(root.join("config/contoso.flow.toml")).expect("sample");
    let bad = text.replacen("\n[flow.menu]\n", "\n[flow.barge_in]\nmin_words = 2\n\n[flow.menu]\nbarge_in = { resume_after_ms = 5 }\n", 1);
    let file: FlowFile = toml::from_str(&bad).expect("parses");
    let err = CompiledFlow::build(&file.flow, "flow", &file.routing, &shared().embedder).expect_err("refused");
    assert!(err.to_string().contains("flow.menu.barge_in.resume_after_ms: between 200 and 10000"), "{err}");
}

/// Recognition falls behind while the menu listens: the caller is told to use the keypad and
/// hears the menu as its keys; speech is ignored from then on (no embedding asked for, no
/// barge-in); the keyed choice routes; and a caller who keys nothing ends with an agent.
#[test]
fn keypad_only_reasks_the_menu_as_keys_and_ignores_speech() {
    let mut call = Call::new(router(), None);
    at_menu(&mut call);
    let outs = call.input(Input::KeypadOnly);
    assert!(events(&outs).iter().any(|e| matches!(e, FlowEvent::KeypadOnly { step: Some(s) } if s == "menu")), "{outs:#?}");
    let said = texts(&outs);
    assert_eq!(said.len(), 2, "{said:?}");
    assert!(said[0].contains("keypad"), "{said:?}");
    assert!(said[1].starts_with("For billing, press 1. For technical support, press 2.") && said[1].ends_with("To speak with someone, press 0."), "{said:?}");
    assert!(call.d.is_keypad_only());
    assert!(call.d.barge_in().is_none(), "speech may not interrupt the keypad menu");
    let outs = call.play_out();
    assert_eq!(listen(&outs).map(|l| (l.step.as_str(), l.speech)), Some(("menu", false)));
    assert!(!call.d.wants_embedding());
    assert!(call.say("I want to pay my bill", true).is_empty(), "speech is ignored");
    // A second notice changes nothing.
    assert!(call.input(Input::KeypadOnly).is_empty());
    let outs = call.key('1');
    assert!(events(&outs).iter().any(|e| matches!(e, FlowEvent::IntentRecognized { intent, via_dtmf: true, .. } if intent == "billing")));

    // Nobody keys anything: the no-input retries run out and the call goes to an agent.
    let mut quiet = Call::new(router(), None);
    at_menu(&mut quiet);
    quiet.input(Input::KeypadOnly);
    let mut escalated = false;
    for _ in 0..6 {
        quiet.play_out();
        let outs = quiet.wait(30);
        escalated |= events(&outs).iter().any(|e| matches!(e, FlowEvent::Escalated { reason: EscalationReason::NoInput }));
        if escalated {
            break;
        }
    }
    assert!(escalated, "{:#?}", quiet.log);
    assert_eq!(quiet.decision().reason, DecisionReason::NoInput);
}
