//! Each kind of flow error, named by its place.

use crate::{FlowConfig, FlowFile};

const BASE: &str = r#"
[flow]
[flow.menu]
prompt = "What can I do for you?"
[flow.escalation]
queue = "general"
[[flow.intents]]
name = "billing"
dtmf = "1"
examples = ["a question about my bill"]
then = { next = "account" }
[[flow.intents]]
name = "agent"
dtmf = "2"
examples = ["a person please"]
then = { escalate = true }
[[flow.steps]]
name = "account"
kind = "digits"
slot = "account"
prompt = "Your account number?"
max_digits = 8
confirm = "I heard {account}. Is that right?"
then = { route = "billing" }
[routing]
[[routing.queues]]
name = "billing"
target = { sip = "sip:billing@cc.example.com" }
[[routing.queues]]
name = "general"
target = { sip = "sip:general@cc.example.com" }
"#;

/// Validates BASE with `edits` (find, replace) applied; the errors, one per line.
fn errors(edits: &[(&str, &str)]) -> String {
    let mut text = BASE.to_string();
    for (from, to) in edits {
        assert!(text.contains(from), "edit target {from:?} not in BASE");
        text = text.replacen(from, to, 1);
    }
    let file: FlowFile = toml::from_str(&text).expect("BASE parses");
    match file.flow.validate("tenants[0].flow", &file.routing) {
        Ok(()) => String::new(),
        Err(e) => e.to_string(),
    }
}

fn assert_error(edits: &[(&str, &str)], want: &str) {
    let got = errors(edits);
    assert!(got.lines().any(|l| l.contains(want)), "wanted a line with {want:?}, got:\n{got}");
}

#[test]
fn base_flow_is_valid() {
    assert_eq!(errors(&[]), "");
}

#[test]
fn the_sample_tenant_file_is_valid() {
    let path = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("../../config/contoso.flow.toml");
    let file = FlowFile::load(&path).unwrap_or_else(|e| panic!("{e}"));
    assert_eq!(file.flow.intents.len(), 7);
    for it in &file.flow.intents {
        assert!((10..=40).contains(&it.examples.len()), "{}: {} examples", it.name, it.examples.len());
    }
}

#[test]
fn unknown_step_reference_is_named() {
    assert_error(&[(r#"next = "account""#, r#"next = "acount""#)], r#"tenants[0].flow.intents[0].then.next: unknown step "acount""#);
}

#[test]
fn intent_without_examples_is_an_error() {
    assert_error(&[(r#"["a question about my bill"]"#, "[]")], r#"tenants[0].flow.intents[0].examples: intent "billing" has no examples"#);
}

#[test]
fn unreachable_step_is_an_error() {
    let orphan = "[[flow.steps]]\nname = \"orphan\"\nkind = \"message\"\nprompt = \"hi\"\nthen = { hang_up = true }\n[routing]";
    assert_error(&[("[routing]", orphan)], r#"tenants[0].flow.steps[1]: step "orphan" is unreachable"#);
}

#[test]
fn route_to_unknown_queue_is_an_error() {
    assert_error(&[(r#"route = "billing""#, r#"route = "bililng""#)], r#"tenants[0].flow.steps[0].then.route: unknown queue "bililng" (routing has: billing, general)"#);
    assert_error(&[(r#"queue = "general""#, r#"queue = "nobody""#)], r#"tenants[0].flow.escalation.queue: unknown queue "nobody""#);
}

#[test]
fn duplicate_and_bad_dtmf_keys_are_errors() {
    assert_error(&[(r#"dtmf = "2""#, r#"dtmf = "1""#)], "tenants[0].flow.intents[1].dtmf: duplicate DTMF key 1 (also intents[0])");
    assert_error(&[(r#"dtmf = "2""#, r#"dtmf = "0""#)], "tenants[0].flow.intents[1].dtmf: key 0 is the escalation key");
    assert_error(&[(r#"dtmf = "2""#, r#"dtmf = "12""#)], r#"tenants[0].flow.intents[1].dtmf: "12" is not a DTMF key"#);
}

#[test]
fn then_needs_exactly_one_action() {
    assert_error(
        &[("then = { escalate = true }", r#"then = { escalate = true, route = "billing" }"#)],
        "tenants[0].flow.intents[1].then: needs exactly one of next, route, voicemail, escalate, hang_up",
    );
    assert_error(&[("then = { escalate = true }", "then = { }")], "tenants[0].flow.intents[1].then: needs exactly one");
    assert_error(&[("then = { escalate = true }", r#"then = { escalate = true, priority = "high" }"#)], "intents[1].then.priority: only applies to route");
}

#[test]
fn unknown_placeholder_is_an_error() {
    assert_error(&[("I heard {account}", "I heard {acount}")], "tenants[0].flow.steps[0].confirm: unknown placeholder {acount} (known: account)");
    assert_error(&[("I heard {account}", "I heard {account")], "tenants[0].flow.steps[0].confirm: a '{' without '}'");
}

#[test]
fn digit_limits_are_checked() {
    assert_error(&[("max_digits = 8", "max_digits = 8\nmin_digits = 9")], "tenants[0].flow.steps[0].min_digits: 9 is not within 1..=max_digits (8)");
    assert_error(&[("max_digits = 8", "max_digits = 40")], "tenants[0].flow.steps[0].max_digits: 40 is not within 1..=32");
    assert_error(&[("max_digits = 8\n", "")], "tenants[0].flow.steps[0].max_digits: is required for a digits step");
    assert_error(&[("max_digits = 8", "max_digits = 8\ndtmf = { finish_key = \"5\" }")], "steps[0].dtmf.finish_key: a digit cannot be a control key");
}

#[test]
fn fields_of_another_kind_are_errors() {
    assert_error(&[(r#"kind = "digits""#, r#"kind = "yes_no""#)], "tenants[0].flow.steps[0].max_digits: not used by a yes_no step");
    assert_error(&[(r#"kind = "digits""#, r#"kind = "yes_no""#)], "tenants[0].flow.steps[0].on_yes: is required for a yes_no step");
}

#[test]
fn out_of_range_numbers_are_named() {
    assert_error(&[("[flow.menu]", "early_end_confidence = 1.5\n[flow.menu]")], "tenants[0].flow.early_end_confidence: must be within (0, 1]");
    assert_error(&[("[flow.menu]", "[flow.classifier]\nthreshold = 2.0\n[flow.menu]")], "tenants[0].flow.classifier.threshold: must be within [0, 1]");
    assert_error(&[("prompt = \"What", "no_input_timeout_ms = 0\nprompt = \"What")], "tenants[0].flow.menu.no_input_timeout_ms: 0 is not within");
}

#[test]
fn several_errors_are_reported_at_once() {
    let got = errors(&[(r#"next = "account""#, r#"next = "acount""#), (r#"dtmf = "2""#, r#"dtmf = "1""#)]);
    // The misspelt reference also leaves the step unreachable: three lines.
    assert_eq!(got.lines().count(), 3, "{got}");
}

#[test]
fn unknown_fields_are_refused_by_name() {
    let text = BASE.replacen("max_digits = 8", "mx_digits = 8", 1);
    let err = toml::from_str::<FlowFile>(&text).expect_err("unknown field");
    assert!(err.to_string().contains("unknown field `mx_digits`"), "{err}");
    let text = BASE.replacen(r#"prompt = "What can I do for you?""#, r#"prompt = { text = "hi", voice = "x" }"#, 1);
    let err = toml::from_str::<FlowFile>(&text).expect_err("unknown prompt field");
    assert!(err.to_string().contains("unknown field `voice`"), "{err}");
}

#[test]
fn prompts_may_be_tables_with_a_recording() {
    let text = BASE.replacen(r#"prompt = "What can I do for you?""#, r#"prompt = { wav = "menu.wav", text = "What can I do?", interruptible = false }"#, 1);
    let file: FlowFile = toml::from_str(&text).expect("parses");
    let p = &file.flow.menu.prompt;
    assert_eq!((p.wav.as_deref(), p.text.as_deref(), p.interruptible), (Some(std::path::Path::new("menu.wav")), Some("What can I do?"), false));
    let _: &FlowConfig = &file.flow;
}
