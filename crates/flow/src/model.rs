//! The checked flow the dialogue runs: names resolved to indices, defaults applied, durations
//! typed. Built only by `validate.rs`, so every index in it is in bounds.

use std::time::Duration;

use crate::config::PromptConfig;
use crate::hours::Schedule;

/// Index into [`Model::nodes`]; [`MENU`] is the main menu.
pub(crate) type NodeId = usize;

/// The main menu's node.
pub(crate) const MENU: NodeId = 0;

#[derive(Clone, Debug)]
pub(crate) struct Model {
    pub greeting: Option<PromptConfig>,
    /// `nodes[MENU]` is the menu, then `steps` in configuration order.
    pub nodes: Vec<Node>,
    pub intents: Vec<Intent>,
    pub escalation: Escalation,
    pub hours: Option<Hours>,
    pub callback: Callback,
    /// Confidence for an early end on a partial transcript; `None`: no early end.
    pub early_end: Option<f32>,
    pub transfer_prompt: PromptConfig,
    pub goodbye: PromptConfig,
    pub keypad_prompt: PromptConfig,
    /// The menu read as its keys ("For billing, press 1. ..."), for keypad-only calls.
    pub keypad_menu: PromptConfig,
    /// `reprompts`: for the questions the flow asks on its own (confirmation, callback offer).
    pub defaults: Defaults,
    /// The flow's `barge_in`, for the questions it asks on its own.
    pub barge_in: playback::BargeInConfig,
}

#[derive(Clone, Debug)]
pub(crate) struct Defaults {
    pub no_input: PromptConfig,
    pub no_match: PromptConfig,
    pub no_input_timeout: Duration,
}

#[derive(Clone, Debug)]
pub(crate) struct Node {
    pub name: String,
    pub ask: Ask,
    pub kind: NodeKind,
}

/// How a question is asked and asked again. A message node uses only `prompt`.
#[derive(Clone, Debug)]
pub(crate) struct Ask {
    pub prompt: PromptConfig,
    pub reprompt: PromptConfig,
    pub no_input: PromptConfig,
    pub no_match: PromptConfig,
    pub no_input_retries: u32,
    pub no_match_retries: u32,
    pub no_input_timeout: Duration,
    pub speech: bool,
    pub barge_in: playback::BargeInConfig,
}

#[derive(Clone, Debug)]
pub(crate) enum NodeKind {
    Menu,
    Digits(Digits),
    YesNo { slot: Option<String>, on_yes: Then, on_no: Then },
    Message { then: Then },
}

#[derive(Clone, Debug)]
pub(crate) struct Digits {
    pub slot: String,
    pub min: u32,
    pub max: u32,
    pub luhn: bool,
    pub collect: nlu::DtmfCollect,
    pub confirm: Option<PromptConfig>,
    pub then: Then,
}

impl Digits {
    /// Whether `digits` is an acceptable value: length in range, Luhn if asked.
    pub fn accepts(&self, digits: &str) -> bool {
        let n = digits.chars().count();
        digits.chars().all(|c| c.is_ascii_digit())
            && (self.min as usize..=self.max as usize).contains(&n)
            && (!self.luhn || luhn_valid(digits))
    }
}

/// The Luhn (mod 10) check of ISO/IEC 7812-1 Annex B, over ASCII digits.
pub(crate) fn luhn_valid(digits: &str) -> bool {
    let mut sum = 0u32;
    for (i, c) in digits.bytes().rev().enumerate() {
        let d = u32::from(c.wrapping_sub(b'0'));
        if d > 9 {
            return false;
        }
        sum += if i % 2 == 1 { if d * 2 > 9 { d * 2 - 9 } else { d * 2 } } else { d };
    }
    !digits.is_empty() && sum % 10 == 0
}

#[derive(Clone, Debug)]
pub(crate) struct Intent {
    pub name: String,
    pub dtmf: Option<char>,
    pub then: Then,
}

/// What follows an answer, with what is said first.
#[derive(Clone, Debug)]
pub(crate) struct Then {
    pub action: Action,
    pub say: Option<PromptConfig>,
}

#[derive(Clone, Debug)]
pub(crate) enum Action {
    Goto(NodeId),
    Route { queue: String, priority: routing::Priority },
    Voicemail { queue: String, address: routing::TransferTarget },
    Escalate,
    HangUp,
}

#[derive(Clone, Debug)]
pub(crate) struct Escalation {
    pub queue: String,
    pub priority: routing::Priority,
    pub prompt: PromptConfig,
    /// Lowercased word sequences.
    pub keywords: Vec<Vec<String>>,
    pub dtmf: Option<char>,
}

#[derive(Clone, Debug)]
pub(crate) struct Hours {
    pub schedule: Schedule,
    pub closed_prompt: PromptConfig,
    pub closed: Then,
}

#[derive(Clone, Debug)]
pub(crate) struct Callback {
    pub enabled: bool,
    pub prompt: PromptConfig,
    pub prompt_no_wait: PromptConfig,
    pub accepted_prompt: PromptConfig,
    pub retries: u32,
}

/// Lowercase words of `text` (letters, digits and apostrophes), for whole-word matching.
pub(crate) fn words(text: &str) -> Vec<String> {
    text.split(|c: char| !(c.is_alphanumeric() || c == '\''))
        .filter(|w| !w.is_empty())
        .map(str::to_lowercase)
        .collect()
}

/// Whether `phrase` (as words) occurs in `text` (as words).
pub(crate) fn contains_words(text: &[String], phrase: &[String]) -> bool {
    !phrase.is_empty() && text.windows(phrase.len()).any(|w| w == phrase)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn luhn_check() {
        assert!(luhn_valid("79927398713"));
        assert!(luhn_valid("4111111111111111"));
        assert!(!luhn_valid("79927398710"));
        assert!(!luhn_valid(""));
        assert!(!luhn_valid("12a4"));
    }

    #[test]
    fn whole_word_matching() {
        let t = words("I'd like a REAL person, please");
        assert!(contains_words(&t, &words("real person")));
        assert!(!contains_words(&t, &words("person please now")));
        assert!(!contains_words(&words("agents"), &words("agent")));
    }
}
