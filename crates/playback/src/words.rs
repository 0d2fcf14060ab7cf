//! Which words in a transcript count as the caller taking the floor.
//!
//! Listeners acknowledge a speaker without asking for the turn ("mm-hmm", "okay", "right"):
//! conversation analysis calls these backchannels. Over a prompt they mean "go on", so they must
//! not stop it. Whisper writes them in several spellings ("Mm-hmm.", "mhm", "Uh huh"), and writes
//! non-speech in brackets ("[coughs]", "(clears throat)"), which is no words at all.

/// Backchannels and fillers, lowercase, without punctuation. Multi-word entries match as a whole.
/// "yes" and "no" are not here: over a question they are answers.
pub const DEFAULT_BACKCHANNELS: &[&str] = &[
    "mm", "mmm", "hmm", "hm", "mhm", "mm-hmm", "mm hmm", "mmhmm", "uh-huh", "uh huh", "uhhuh", "uh", "um", "umm", "er", "erm", "ah",
    "oh", "okay", "ok", "yeah", "yep", "right", "alright", "all right", "sure", "i see", "got it", "cool",
];

/// The words of `text` that are not backchannels, bracketed non-speech or punctuation.
pub fn real_words<S: AsRef<str>>(text: &str, backchannels: &[S]) -> Vec<String> {
    let mut words = Vec::new();
    for w in strip_bracketed(text).split_whitespace() {
        let w: String = w.chars().filter(|c| c.is_alphanumeric() || *c == '-' || *c == '\'').collect::<String>().to_lowercase();
        let w = w.trim_matches(|c| c == '-' || c == '\'').to_owned();
        if !w.is_empty() {
            words.push(w);
        }
    }
    // Remove backchannels, longest entries first, matching whole words.
    let mut keep = vec![true; words.len()];
    let mut entries: Vec<Vec<&str>> = backchannels.iter().map(|b| b.as_ref().split_whitespace().collect()).collect();
    entries.sort_by_key(|e| std::cmp::Reverse(e.len()));
    for entry in entries.iter().filter(|e| !e.is_empty()) {
        let n = entry.len();
        let mut i = 0;
        while i + n <= words.len() {
            if (0..n).all(|k| keep[i + k] && words[i + k] == entry[k]) {
                keep[i..i + n].fill(false);
                i += n;
            } else {
                i += 1;
            }
        }
    }
    words.into_iter().zip(keep).filter_map(|(w, k)| k.then_some(w)).collect()
}

/// Whether `text` holds something said but nothing beyond backchannels.
pub fn is_backchannel<S: AsRef<str>>(text: &str, backchannels: &[S]) -> bool {
    let said = !strip_bracketed(text).split_whitespace().all(|w| w.chars().all(|c| !c.is_alphanumeric()));
    said && real_words(text, backchannels).is_empty()
}

/// `text` without `[...]`, `(...)` and `*...*` spans.
fn strip_bracketed(text: &str) -> String {
    let mut out = String::with_capacity(text.len());
    let mut depth = 0usize;
    let mut star = false;
    for c in text.chars() {
        match c {
            '[' | '(' => depth += 1,
            ']' | ')' => depth = depth.saturating_sub(1),
            '*' => star = !star,
            _ if depth == 0 && !star => out.push(c),
            _ => {}
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn backchannels_in_whisper_spellings() {
        for t in ["Mm-hmm.", "mhm", "Uh huh.", "Okay.", "Yeah, yeah.", "Oh, okay.", "Right. Got it.", " Hmm? "] {
            assert!(is_backchannel(t, DEFAULT_BACKCHANNELS), "{t}");
            assert!(real_words(t, DEFAULT_BACKCHANNELS).is_empty(), "{t}");
        }
    }

    #[test]
    fn answers_and_requests_are_real_words() {
        assert_eq!(real_words("Okay, I want to pay my bill.", DEFAULT_BACKCHANNELS), ["i", "want", "to", "pay", "my", "bill"]);
        assert_eq!(real_words("Yes.", DEFAULT_BACKCHANNELS), ["yes"]);
        assert_eq!(real_words("Billing!", DEFAULT_BACKCHANNELS), ["billing"]);
        assert!(!is_backchannel("No, that's wrong", DEFAULT_BACKCHANNELS));
    }

    #[test]
    fn non_speech_is_no_words_and_not_a_backchannel() {
        for t in ["[coughs]", "(clears throat)", "*cough*", "", "...", " - "] {
            assert!(real_words(t, DEFAULT_BACKCHANNELS).is_empty(), "{t}");
            assert!(!is_backchannel(t, DEFAULT_BACKCHANNELS), "{t}");
        }
    }

    #[test]
    fn a_tenant_list_replaces_the_default() {
        let mine = ["okay"];
        assert_eq!(real_words("Mm-hmm okay", &mine), ["mm-hmm"]);
    }
}
