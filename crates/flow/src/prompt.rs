//! Prompts as played: `{slot}` placeholders filled in, digit strings spelled out.

use std::collections::BTreeMap;
use std::path::PathBuf;

use crate::config::PromptConfig;

/// What to play.
#[derive(Clone, Debug, PartialEq, Eq, serde::Serialize)]
#[serde(rename_all = "snake_case")]
pub enum Prompt {
    /// Text for the TTS stage, placeholders already filled in.
    Text(String),
    /// A recording.
    Wav(PathBuf),
}

/// A prompt to play, in order after any already playing.
#[derive(Clone, Debug, PartialEq, Eq, serde::Serialize)]
pub struct PlayPrompt {
    pub prompt: Prompt,
    /// Whether the caller may talk over it (barge-in, a later stage; DTMF always stops it).
    pub interruptible: bool,
    /// What the prompt says, for the transcript (a recording's configured `text`, else its
    /// file name in brackets).
    pub text: String,
}

/// Placeholder names in `text`: `{name}`; `{{` and `}}` are literal braces.
/// Errors name the problem (an unclosed or empty brace).
pub(crate) fn placeholders(text: &str) -> Result<Vec<&str>, String> {
    let mut names = Vec::new();
    let mut rest = text;
    while let Some(i) = rest.find(['{', '}']) {
        let tail = &rest[i..];
        if tail.starts_with("{{") || tail.starts_with("}}") {
            rest = &tail[2..];
            continue;
        }
        if tail.starts_with('}') {
            return Err("a '}' without '{' (write '}}' for a brace)".into());
        }
        let Some(end) = tail.find('}') else {
            return Err("a '{' without '}' (write '{{' for a brace)".into());
        };
        let name = &tail[1..end];
        if name.is_empty() || !name.chars().all(|c| c.is_ascii_alphanumeric() || c == '_') {
            return Err(format!("placeholder {{{name}}} is not a slot name (letters, digits, _)"));
        }
        names.push(name);
        rest = &tail[end + 1..];
    }
    Ok(names)
}

/// Fills `{name}` from `values` (missing ones become empty), reading digit strings one digit at
/// a time ("55123" is said "5 5 1 2 3", not "fifty-five thousand...").
pub(crate) fn interpolate(text: &str, values: &BTreeMap<String, String>) -> String {
    let mut out = String::with_capacity(text.len());
    let mut rest = text;
    while let Some(i) = rest.find(['{', '}']) {
        out.push_str(&rest[..i]);
        let tail = &rest[i..];
        if tail.starts_with("{{") || tail.starts_with("}}") {
            out.push_str(&tail[..1]);
            rest = &tail[2..];
            continue;
        }
        // Validated at load: every '{' is closed; anything else is copied as it is.
        match (tail.starts_with('{'), tail.find('}')) {
            (true, Some(end)) => {
                if let Some(v) = values.get(&tail[1..end]) {
                    out.push_str(&spell(v));
                }
                rest = &tail[end + 1..];
            }
            _ => {
                out.push_str(&tail[..1]);
                rest = &tail[1..];
            }
        }
    }
    out.push_str(rest);
    out
}

fn spell(value: &str) -> String {
    if !value.is_empty() && value.bytes().all(|b| b.is_ascii_digit()) {
        let mut s = String::with_capacity(value.len() * 2);
        for (i, c) in value.chars().enumerate() {
            if i > 0 {
                s.push(' ');
            }
            s.push(c);
        }
        s
    } else {
        value.to_string()
    }
}

/// The prompt as played, with its transcript text.
pub(crate) fn render(p: &PromptConfig, values: &BTreeMap<String, String>) -> PlayPrompt {
    let text = p.text.as_deref().map(|t| interpolate(t, values));
    match (&p.wav, text) {
        (Some(wav), text) => PlayPrompt {
            text: text.unwrap_or_else(|| format!("[{}]", wav.display())),
            prompt: Prompt::Wav(wav.clone()),
            interruptible: p.interruptible,
        },
        (None, text) => {
            let text = text.unwrap_or_default();
            PlayPrompt { prompt: Prompt::Text(text.clone()), interruptible: p.interruptible, text }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn placeholders_are_listed_and_braces_checked() {
        assert_eq!(placeholders("I heard {account}. Is that {{right}}?"), Ok(vec!["account"]));
        assert!(placeholders("I heard {account").is_err());
        assert!(placeholders("oops }").is_err());
        assert!(placeholders("{ account }").is_err());
        assert!(placeholders("{}").is_err());
    }

    #[test]
    fn interpolation_reads_digits_one_by_one() {
        let values = BTreeMap::from([("account".to_string(), "55123".to_string()), ("ok".to_string(), "yes".to_string())]);
        assert_eq!(interpolate("I heard {account}. Is that right?", &values), "I heard 5 5 1 2 3. Is that right?");
        assert_eq!(interpolate("{ok} {{x}} {missing}.", &values), "yes {x} .");
    }

    #[test]
    fn wav_prompts_carry_their_text_for_the_transcript() {
        let p = PromptConfig { text: None, wav: Some("hello.wav".into()), interruptible: false };
        let r = render(&p, &BTreeMap::new());
        assert_eq!(r.prompt, Prompt::Wav("hello.wav".into()));
        assert_eq!(r.text, "[hello.wav]");
        assert!(!r.interruptible);
    }
}
