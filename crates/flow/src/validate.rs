//! Load-time checks of a [`FlowConfig`], turning it into the [`Model`] the dialogue runs.
//!
//! Every problem is collected (not just the first) and named by its place under the prefix the
//! caller gives, e.g. `tenants[0].flow.intents[3].then.next: unknown step "acount"`.

use std::collections::{BTreeMap, BTreeSet, HashMap};
use std::fmt;
use std::time::Duration;

use crate::config::{AskConfig, FlowConfig, PriorityConfig, PromptConfig, StepConfig, StepKind, ThenConfig};
use crate::hours::Schedule;
use crate::model::{self, Action, Ask, Digits, Escalation, Hours, Intent, Model, Node, NodeId, NodeKind, Then, MENU};
use crate::prompt::placeholders;

/// One thing wrong with a flow, named by its place.
#[derive(Clone, Debug, PartialEq, Eq, thiserror::Error)]
#[error("{place}: {reason}")]
pub struct ConfigError {
    /// Path of the field, e.g. `tenants[0].flow.steps[2].max_digits`.
    pub place: String,
    pub reason: String,
}

/// Everything wrong with a flow; never empty. Displayed one error per line.
#[derive(Clone, Debug, Default, PartialEq, Eq, thiserror::Error)]
pub struct Errors(pub Vec<ConfigError>);

impl fmt::Display for Errors {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        for (i, e) in self.0.iter().enumerate() {
            if i > 0 {
                f.write_str("\n")?;
            }
            write!(f, "{e}")?;
        }
        Ok(())
    }
}

impl Errors {
    pub(crate) fn push(&mut self, place: impl Into<String>, reason: impl Into<String>) {
        self.0.push(ConfigError { place: place.into(), reason: reason.into() });
    }
    pub fn is_empty(&self) -> bool {
        self.0.is_empty()
    }
}

/// Longest accepted no-input timeout: past a minute the caller has gone, not paused.
const MAX_TIMEOUT_MS: u64 = 60_000;
/// More retries than this only keeps a lost caller on the line.
const MAX_RETRIES: u32 = 10;
/// Longest digit string: a card number is 19, an IBAN's digits fewer than 32.
const MAX_DIGITS: u32 = 32;

impl FlowConfig {
    /// Checks the flow against the tenant's routing; `prefix` names the flow in errors
    /// (`tenants[0].flow`, or `""`).
    pub fn validate(&self, prefix: &str, routing: &routing::RoutingConfig) -> Result<(), Errors> {
        compile(self, prefix, routing).map(|_| ())
    }
}

pub(crate) fn compile(config: &FlowConfig, prefix: &str, routing: &routing::RoutingConfig) -> Result<Model, Errors> {
    let mut c = Checker {
        prefix: if prefix.is_empty() { String::new() } else { format!("{prefix}.") },
        errors: Errors::default(),
        steps: HashMap::new(),
        queues: routing.queues.iter().map(|q| (q.name.clone(), q.target.clone())).collect(),
        slots: BTreeSet::new(),
    };
    for (i, s) in config.steps.iter().enumerate() {
        let place = c.at(format!("steps[{i}].name"));
        if s.name.trim().is_empty() {
            c.errors.push(place, "is empty");
        } else if s.name == "menu" {
            c.errors.push(place, "\"menu\" is the main menu's name");
        } else if let Some(first) = c.steps.insert(s.name.clone(), i + 1) {
            c.errors.push(place, format!("duplicate step name {:?} (also steps[{}])", s.name, first - 1));
            c.steps.insert(s.name.clone(), first);
        }
        if let Some(slot) = &s.slot {
            c.slots.insert(slot.clone());
        }
    }

    let menu = Node { name: "menu".into(), ask: c.ask(&AskFields::of_menu(&config.menu), "menu", config), kind: NodeKind::Menu };
    let mut nodes = vec![menu];
    for (i, s) in config.steps.iter().enumerate() {
        nodes.push(c.step(s, i, config));
    }

    let escalation_key = c.key_opt(&config.escalation.dtmf, "escalation.dtmf");
    if matches!(escalation_key, Some('1' | '2')) {
        c.errors.push(c.at("escalation.dtmf"), "1 and 2 mean yes and no in yes/no questions");
    }
    let mut intents = Vec::new();
    let mut names: HashMap<&str, usize> = HashMap::new();
    let mut keys: HashMap<char, usize> = HashMap::new();
    if config.intents.is_empty() {
        c.errors.push(c.at("intents"), "needs at least one intent");
    }
    for (i, it) in config.intents.iter().enumerate() {
        let at = format!("intents[{i}]");
        if it.name.trim().is_empty() {
            c.errors.push(c.at(format!("{at}.name")), "is empty");
        } else if let Some(first) = names.insert(&it.name, i) {
            c.errors.push(c.at(format!("{at}.name")), format!("duplicate intent {:?} (also intents[{first}])", it.name));
        }
        if it.examples.is_empty() {
            c.errors.push(c.at(format!("{at}.examples")), format!("intent {:?} has no examples", it.name));
        }
        for (j, e) in it.examples.iter().enumerate() {
            if !e.chars().any(char::is_alphanumeric) {
                c.errors.push(c.at(format!("{at}.examples[{j}]")), "has no words");
            }
        }
        for (j, k) in it.keywords.iter().enumerate() {
            if model::words(k).is_empty() {
                c.errors.push(c.at(format!("{at}.keywords[{j}]")), "has no words");
            }
        }
        let dtmf = it.dtmf.as_deref().and_then(|k| c.key(k, &format!("{at}.dtmf")));
        if let Some(k) = dtmf {
            if let Some(first) = keys.insert(k, i) {
                c.errors.push(c.at(format!("{at}.dtmf")), format!("duplicate DTMF key {k} (also intents[{first}])"));
            } else if Some(k) == escalation_key {
                c.errors.push(c.at(format!("{at}.dtmf")), format!("key {k} is the escalation key (escalation.dtmf)"));
            }
        }
        let then = c.then(&it.then, &format!("{at}.then"), config);
        intents.push(Intent { name: it.name.clone(), dtmf, then });
    }

    let e = &config.escalation;
    if !c.queues.contains_key(&e.queue) {
        c.errors.push(c.at("escalation.queue"), c.unknown_queue(&e.queue));
    }
    c.prompt(&e.prompt, "escalation.prompt", &[]);
    for (j, k) in e.keywords.iter().enumerate() {
        if model::words(k).is_empty() {
            c.errors.push(c.at(format!("escalation.keywords[{j}]")), "has no words");
        }
    }
    let escalation = Escalation {
        queue: e.queue.clone(),
        priority: priority(e.priority),
        prompt: e.prompt.clone(),
        keywords: e.keywords.iter().map(|k| model::words(k)).filter(|w| !w.is_empty()).collect(),
        dtmf: escalation_key,
    };

    let hours = config.hours.as_ref().map(|h| {
        let schedule = Schedule::compile(h, &c.at("hours"), &mut c.errors);
        c.prompt(&h.closed_prompt, "hours.closed_prompt", &[]);
        Hours { schedule, closed_prompt: h.closed_prompt.clone(), closed: c.then(&h.closed, "hours.closed", config) }
    });

    let cb = &config.callback;
    c.prompt(&cb.prompt, "callback.prompt", &["wait_minutes"]);
    c.prompt(&cb.prompt_no_wait, "callback.prompt_no_wait", &[]);
    c.prompt(&cb.accepted_prompt, "callback.accepted_prompt", &[]);
    if cb.retries > MAX_RETRIES {
        c.errors.push(c.at("callback.retries"), format!("must be at most {MAX_RETRIES}"));
    }
    if !(1..=MAX_TIMEOUT_MS).contains(&config.reprompts.no_input_timeout_ms) {
        c.errors.push(c.at("reprompts.no_input_timeout_ms"), format!("is not within 1..={MAX_TIMEOUT_MS}"));
    }
    c.prompt(&config.reprompts.no_input, "reprompts.no_input", &[]);
    c.prompt(&config.reprompts.no_match, "reprompts.no_match", &[]);
    if let Some(g) = &config.greeting {
        c.prompt(g, "greeting", &[]);
    }
    c.prompt(&config.transfer_prompt, "transfer_prompt", &[]);
    c.prompt(&config.keypad_prompt, "keypad_prompt", &[]);
    c.prompt(&config.goodbye, "goodbye", &[]);
    if !(config.early_end_confidence > 0.0 && config.early_end_confidence <= 1.0) {
        c.errors.push(c.at("early_end_confidence"), "must be within (0, 1]");
    }
    if let Err(e) = config.classifier.validate() {
        let reason = e.to_string();
        match e {
            nlu::NluError::BadConfigValue { field, reason } => c.errors.push(c.at(format!("classifier.{field}")), reason),
            _ => c.errors.push(c.at("classifier"), reason),
        }
    }

    // Reachability: from the menu and the closed branch, through every `then`.
    let mut seen = vec![false; nodes.len()];
    let mut todo: Vec<NodeId> = vec![MENU];
    let closed = hours.iter().map(|h| &h.closed);
    todo.extend(closed.chain(intents.iter().map(|i| &i.then)).filter_map(goto));
    while let Some(n) = todo.pop() {
        if std::mem::replace(&mut seen[n], true) {
            continue;
        }
        match &nodes[n].kind {
            NodeKind::Menu => {}
            NodeKind::Digits(d) => todo.extend(goto(&d.then)),
            NodeKind::YesNo { on_yes, on_no, .. } => todo.extend(goto(on_yes).into_iter().chain(goto(on_no))),
            NodeKind::Message { then } => todo.extend(goto(then)),
        }
    }
    for (n, seen) in seen.iter().enumerate().skip(1) {
        if !seen {
            let name = &nodes[n].name;
            c.errors.push(c.at(format!("steps[{}]", n - 1)), format!("step {name:?} is unreachable: no intent or step leads to it"));
        }
    }

    if let Err(e) = config.barge_in.validate() {
        c.errors.push(c.at(format!("barge_in.{}", e.field)), e.reason);
    }
    if !c.errors.is_empty() {
        return Err(c.errors);
    }
    Ok(Model {
        barge_in: config.barge_in.clone(),
        greeting: config.greeting.clone(),
        nodes,
        intents,
        escalation,
        hours,
        callback: crate::model::Callback {
            enabled: cb.enabled,
            prompt: cb.prompt.clone(),
            prompt_no_wait: cb.prompt_no_wait.clone(),
            accepted_prompt: cb.accepted_prompt.clone(),
            retries: cb.retries,
        },
        early_end: config.early_end.then_some(config.early_end_confidence),
        transfer_prompt: config.transfer_prompt.clone(),
        goodbye: config.goodbye.clone(),
        keypad_prompt: config.keypad_prompt.clone(),
        keypad_menu: keypad_menu(config),
        defaults: crate::model::Defaults {
            no_input: config.reprompts.no_input.clone(),
            no_match: config.reprompts.no_match.clone(),
            no_input_timeout: Duration::from_millis(config.reprompts.no_input_timeout_ms),
        },
    })
}

fn goto(t: &Then) -> Option<NodeId> {
    match t.action {
        Action::Goto(n) => Some(n),
        _ => None,
    }
}

fn priority(p: PriorityConfig) -> routing::Priority {
    match p {
        PriorityConfig::Normal => routing::Priority::Normal,
        PriorityConfig::High => routing::Priority::High,
    }
}

/// The question fields shared by the menu and steps.
struct AskFields<'a> {
    prompt: &'a PromptConfig,
    reprompt: Option<&'a PromptConfig>,
    no_input: Option<&'a PromptConfig>,
    no_match: Option<&'a PromptConfig>,
    no_input_retries: Option<u32>,
    no_match_retries: Option<u32>,
    no_input_timeout_ms: Option<u64>,
    speech: bool,
    barge_in: Option<&'a playback::BargeInConfig>,
}

impl<'a> AskFields<'a> {
    fn of_menu(m: &'a AskConfig) -> Self {
        AskFields {
            prompt: &m.prompt,
            reprompt: m.reprompt.as_ref(),
            no_input: m.no_input.as_ref(),
            no_match: m.no_match.as_ref(),
            no_input_retries: m.no_input_retries,
            no_match_retries: m.no_match_retries,
            no_input_timeout_ms: m.no_input_timeout_ms,
            speech: true,
            barge_in: m.barge_in.as_ref(),
        }
    }
    fn of_step(s: &'a StepConfig) -> Self {
        AskFields {
            prompt: &s.prompt,
            reprompt: s.reprompt.as_ref(),
            no_input: s.no_input.as_ref(),
            no_match: s.no_match.as_ref(),
            no_input_retries: s.no_input_retries,
            no_match_retries: s.no_match_retries,
            no_input_timeout_ms: s.no_input_timeout_ms,
            speech: s.speech,
            barge_in: s.barge_in.as_ref(),
        }
    }
}

struct Checker {
    /// `tenants[0].flow.` or empty.
    prefix: String,
    errors: Errors,
    /// Step name to node.
    steps: HashMap<String, NodeId>,
    /// Routing queues and their targets.
    queues: BTreeMap<String, routing::TransferTarget>,
    /// Slot names some step fills: what prompts may interpolate.
    slots: BTreeSet<String>,
}

impl Checker {
    fn at(&self, rest: impl AsRef<str>) -> String {
        format!("{}{}", self.prefix, rest.as_ref())
    }

    fn unknown_queue(&self, q: &str) -> String {
        let known: Vec<&str> = self.queues.keys().map(String::as_str).collect();
        format!("unknown queue {q:?} (routing has: {})", known.join(", "))
    }

    /// A DTMF key: one of 0-9 * # A-D (a-d accepted).
    fn key(&mut self, k: &str, place: &str) -> Option<char> {
        let mut chars = k.chars();
        match (chars.next().map(|c| c.to_ascii_uppercase()), chars.next()) {
            (Some(c @ ('0'..='9' | '*' | '#' | 'A'..='D')), None) => Some(c),
            _ => {
                self.errors.push(self.at(place), format!("{k:?} is not a DTMF key (0-9, *, #, A-D)"));
                None
            }
        }
    }

    /// A key, or none when empty.
    fn key_opt(&mut self, k: &str, place: &str) -> Option<char> {
        if k.is_empty() {
            None
        } else {
            self.key(k, place)
        }
    }

    fn prompt(&mut self, p: &PromptConfig, place: &str, extra: &[&str]) {
        if p.wav.is_none() && p.text.as_deref().is_none_or(|t| t.trim().is_empty()) {
            self.errors.push(self.at(place), "needs a text or a wav");
            return;
        }
        let Some(text) = &p.text else { return };
        match placeholders(text) {
            Err(reason) => self.errors.push(self.at(place), reason),
            Ok(names) => {
                for name in names {
                    if !self.slots.contains(name) && !extra.contains(&name) {
                        let mut known: Vec<&str> = self.slots.iter().map(String::as_str).collect();
                        known.extend(extra);
                        self.errors.push(self.at(place), format!("unknown placeholder {{{name}}} (known: {})", known.join(", ")));
                    }
                }
            }
        }
        if p.wav.is_some() && p.text.as_deref().is_some_and(|t| placeholders(t).is_ok_and(|n| !n.is_empty())) {
            self.errors.push(self.at(place), "a recording cannot say a slot value: drop wav or the placeholder");
        }
    }

    fn then(&mut self, t: &ThenConfig, place: &str, config: &FlowConfig) -> Then {
        let set = [t.next.is_some(), t.route.is_some(), t.voicemail.is_some(), t.escalate, t.hang_up].iter().filter(|b| **b).count();
        if set != 1 {
            self.errors.push(self.at(place), "needs exactly one of next, route, voicemail, escalate, hang_up");
        }
        if t.priority.is_some() && t.route.is_none() {
            self.errors.push(self.at(format!("{place}.priority")), "only applies to route");
        }
        if let Some(say) = &t.say {
            self.prompt(say, &format!("{place}.say"), &[]);
        }
        let action = if let Some(next) = &t.next {
            match self.steps.get(next) {
                Some(&n) => Action::Goto(n),
                None if next == "menu" => Action::Goto(MENU),
                None => {
                    let mut known: Vec<&str> = config.steps.iter().map(|s| s.name.as_str()).collect();
                    known.push("menu");
                    self.errors.push(self.at(format!("{place}.next")), format!("unknown step {next:?} (steps: {})", known.join(", ")));
                    Action::HangUp
                }
            }
        } else if let Some(queue) = &t.route {
            if !self.queues.contains_key(queue) {
                self.errors.push(self.at(format!("{place}.route")), self.unknown_queue(queue));
            }
            Action::Route { queue: queue.clone(), priority: priority(t.priority.unwrap_or_default()) }
        } else if let Some(queue) = &t.voicemail {
            let address = self.queues.get(queue).cloned().unwrap_or_else(|| {
                self.errors.push(self.at(format!("{place}.voicemail")), self.unknown_queue(queue));
                routing::TransferTarget::default()
            });
            Action::Voicemail { queue: queue.clone(), address }
        } else if t.escalate {
            Action::Escalate
        } else {
            Action::HangUp
        };
        Then { action, say: t.say.clone() }
    }

    fn ask(&mut self, f: &AskFields<'_>, place: &str, config: &FlowConfig) -> Ask {
        let r = &config.reprompts;
        self.prompt(f.prompt, &format!("{place}.prompt"), &[]);
        for (name, p) in [("reprompt", f.reprompt), ("no_input", f.no_input), ("no_match", f.no_match)] {
            if let Some(p) = p {
                self.prompt(p, &format!("{place}.{name}"), &[]);
            }
        }
        let no_input_retries = f.no_input_retries.unwrap_or(r.no_input_retries);
        let no_match_retries = f.no_match_retries.unwrap_or(r.no_match_retries);
        let timeout_ms = f.no_input_timeout_ms.unwrap_or(r.no_input_timeout_ms);
        for (name, v) in [("no_input_retries", no_input_retries), ("no_match_retries", no_match_retries)] {
            if v > MAX_RETRIES {
                self.errors.push(self.at(format!("{place}.{name}")), format!("{v} is more than {MAX_RETRIES}"));
            }
        }
        if !(1..=MAX_TIMEOUT_MS).contains(&timeout_ms) {
            self.errors.push(self.at(format!("{place}.no_input_timeout_ms")), format!("{timeout_ms} is not within 1..={MAX_TIMEOUT_MS}"));
        }
        if let Some(b) = f.barge_in {
            if let Err(e) = b.validate() {
                self.errors.push(self.at(format!("{place}.barge_in.{}", e.field)), e.reason);
            }
        }
        Ask {
            barge_in: f.barge_in.unwrap_or(&config.barge_in).clone(),
            prompt: f.prompt.clone(),
            reprompt: f.reprompt.unwrap_or(f.prompt).clone(),
            no_input: f.no_input.unwrap_or(&r.no_input).clone(),
            no_match: f.no_match.unwrap_or(&r.no_match).clone(),
            no_input_retries,
            no_match_retries,
            no_input_timeout: Duration::from_millis(timeout_ms),
            speech: f.speech,
        }
    }

    /// Reports fields set that the step's kind does not use.
    fn not_for(&mut self, at: &str, kind: &str, fields: &[(&str, bool)]) {
        for (name, set) in fields {
            if *set {
                self.errors.push(self.at(format!("{at}.{name}")), format!("not used by a {kind} step"));
            }
        }
    }

    fn step(&mut self, s: &StepConfig, i: usize, config: &FlowConfig) -> Node {
        let at = format!("steps[{i}]");
        let ask = self.ask(&AskFields::of_step(s), &at, config);
        let required = |c: &mut Checker, name: &str, t: Option<&ThenConfig>| match t {
            Some(t) => c.then(t, &format!("{at}.{name}"), config),
            None => {
                c.errors.push(c.at(format!("{at}.{name}")), format!("is required for a {} step", kind_name(s.kind)));
                Then { action: Action::HangUp, say: None }
            }
        };
        let kind = match s.kind {
            StepKind::Digits => {
                self.not_for(&at, "digits", &[("on_yes", s.on_yes.is_some()), ("on_no", s.on_no.is_some())]);
                let slot = match &s.slot {
                    Some(slot) if is_name(slot) => slot.clone(),
                    Some(slot) => {
                        self.errors.push(self.at(format!("{at}.slot")), format!("{slot:?} is not a name (letters, digits, _)"));
                        slot.clone()
                    }
                    None => {
                        self.errors.push(self.at(format!("{at}.slot")), "is required for a digits step");
                        String::new()
                    }
                };
                let max = s.max_digits.unwrap_or_else(|| {
                    self.errors.push(self.at(format!("{at}.max_digits")), "is required for a digits step");
                    MAX_DIGITS
                });
                let min = s.min_digits.unwrap_or(1);
                if !(1..=MAX_DIGITS).contains(&max) {
                    self.errors.push(self.at(format!("{at}.max_digits")), format!("{max} is not within 1..={MAX_DIGITS}"));
                }
                if min == 0 || min > max {
                    self.errors.push(self.at(format!("{at}.min_digits")), format!("{min} is not within 1..=max_digits ({max})"));
                }
                let dtmf = s.dtmf.clone().unwrap_or_default();
                let finish_key = self.key_opt(&dtmf.finish_key, &format!("{at}.dtmf.finish_key"));
                let cancel_key = self.key_opt(&dtmf.cancel_key, &format!("{at}.dtmf.cancel_key"));
                for (name, key) in [("finish_key", finish_key), ("cancel_key", cancel_key)] {
                    if key.is_some_and(|k| k.is_ascii_digit()) {
                        self.errors.push(self.at(format!("{at}.dtmf.{name}")), "a digit cannot be a control key in a digit entry");
                    }
                }
                if finish_key.is_some() && finish_key == cancel_key {
                    self.errors.push(self.at(format!("{at}.dtmf.cancel_key")), "is the same key as finish_key");
                }
                if !(1..=MAX_TIMEOUT_MS).contains(&dtmf.inter_digit_timeout_ms) {
                    self.errors.push(self.at(format!("{at}.dtmf.inter_digit_timeout_ms")), format!("is not within 1..={MAX_TIMEOUT_MS}"));
                }
                if let Some(p) = &s.confirm {
                    self.prompt(p, &format!("{at}.confirm"), &[]);
                }
                let then = required(self, "then", s.then.as_ref());
                NodeKind::Digits(Digits {
                    slot,
                    min,
                    max,
                    luhn: s.luhn,
                    collect: nlu::DtmfCollect {
                        min_digits: min as usize,
                        max_digits: max as usize,
                        finish_key,
                        cancel_key,
                        inter_digit_timeout: Duration::from_millis(dtmf.inter_digit_timeout_ms),
                        first_digit_timeout: ask.no_input_timeout,
                    },
                    confirm: s.confirm.clone(),
                    then,
                })
            }
            StepKind::YesNo => {
                self.not_for(&at, "yes_no", &digit_fields(s));
                self.not_for(&at, "yes_no", &[("then", s.then.is_some())]);
                if let Some(slot) = s.slot.as_ref().filter(|s| !is_name(s)) {
                    self.errors.push(self.at(format!("{at}.slot")), format!("{slot:?} is not a name (letters, digits, _)"));
                }
                let on_yes = required(self, "on_yes", s.on_yes.as_ref());
                let on_no = required(self, "on_no", s.on_no.as_ref());
                NodeKind::YesNo { slot: s.slot.clone(), on_yes, on_no }
            }
            StepKind::Message => {
                self.not_for(&at, "message", &digit_fields(s));
                self.not_for(
                    &at,
                    "message",
                    &[
                        ("slot", s.slot.is_some()),
                        ("speech", !s.speech),
                        ("reprompt", s.reprompt.is_some()),
                        ("no_input", s.no_input.is_some()),
                        ("no_match", s.no_match.is_some()),
                        ("no_input_retries", s.no_input_retries.is_some()),
                        ("no_match_retries", s.no_match_retries.is_some()),
                        ("no_input_timeout_ms", s.no_input_timeout_ms.is_some()),
                        ("on_yes", s.on_yes.is_some()),
                        ("on_no", s.on_no.is_some()),
                    ],
                );
                NodeKind::Message { then: required(self, "then", s.then.as_ref()) }
            }
        };
        Node { name: s.name.clone(), ask, kind }
    }
}

fn digit_fields(s: &StepConfig) -> [(&'static str, bool); 5] {
    [
        ("min_digits", s.min_digits.is_some()),
        ("max_digits", s.max_digits.is_some()),
        ("luhn", s.luhn),
        ("dtmf", s.dtmf.is_some()),
        ("confirm", s.confirm.is_some()),
    ]
}

fn kind_name(k: StepKind) -> &'static str {
    match k {
        StepKind::Digits => "digits",
        StepKind::YesNo => "yes_no",
        StepKind::Message => "message",
    }
}

fn is_name(s: &str) -> bool {
    !s.is_empty() && s.chars().all(|c| c.is_ascii_alphanumeric() || c == '_')
}

#[cfg(test)]
#[path = "validate_tests.rs"]
mod tests;

/// The menu as a list of its keys, in the order the intents are configured: what a caller who
/// can only use the keypad needs to hear.
fn keypad_menu(config: &FlowConfig) -> PromptConfig {
    let mut choices: Vec<String> = config
        .intents
        .iter()
        .filter_map(|i| i.dtmf.as_deref().filter(|k| !k.is_empty()).map(|k| format!("For {}, press {k}.", i.name.replace(['_', '-'], " "))))
        .collect();
    if !config.escalation.dtmf.is_empty() {
        choices.push(format!("To speak with someone, press {}.", config.escalation.dtmf));
    }
    PromptConfig::text(choices.join(" "))
}
