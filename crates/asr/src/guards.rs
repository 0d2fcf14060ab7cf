//! Guards between whisper and the rest of the worker.
//!
//! Whisper is trained on captioned video: given silence or noise it can write captions
//! ("Thank you.", "[Music]"), and given a short window it can loop ("Let me talk to a person.
//! Let me talk to a person."). The guards here act on evidence from the decode, never on a list
//! of expected phrases.

/// What the decode looked like, for the guards to judge.
#[derive(Clone, Debug, PartialEq)]
pub struct Evidence {
    pub seconds: f32,
    pub no_speech_prob: f32,
    pub avg_logprob: f32,
    pub tokens: usize,
    pub hit_token_budget: bool,
    pub no_speech_threshold: f32,
    pub logprob_threshold: f32,
}

/// Why the guards changed or rejected the text.
#[derive(Clone, Copy, Debug, PartialEq, Eq, serde::Serialize)]
#[serde(rename_all = "snake_case")]
pub enum Verdict {
    /// whisper itself judged the audio to hold no speech, and its text was unlikely.
    NoSpeech,
    /// Only non-speech annotations (`[BLANK_AUDIO]`, `(music)`, `*cough*`) were left.
    OnlyAnnotations,
    /// A repeated phrase was collapsed to one occurrence.
    RepetitionCollapsed,
    /// More words than a person can say in the time: the decode ran away.
    TooManyWords,
}

/// Fastest plausible speech, in words per second (auctioneers reach ~6; callers ~3).
const MAX_WORDS_PER_SEC: f32 = 6.0;

/// Applies every guard to `raw`; returns the cleaned text and what was done, if anything.
pub fn apply(raw: &str, ev: &Evidence) -> (String, Option<Verdict>) {
    if ev.no_speech_prob > ev.no_speech_threshold && ev.avg_logprob < ev.logprob_threshold {
        return (String::new(), Some(Verdict::NoSpeech));
    }
    let stripped = strip_annotations(raw);
    if stripped.trim().is_empty() {
        let verdict = (!raw.trim().is_empty()).then_some(Verdict::OnlyAnnotations);
        return (String::new(), verdict);
    }
    let words: Vec<&str> = stripped.split_whitespace().collect();
    let (collapsed, changed) = collapse_repetitions(&words, ev.hit_token_budget);
    let text = collapsed.join(" ");
    if collapsed.len() as f32 > MAX_WORDS_PER_SEC * ev.seconds.max(1.0) + 2.0 {
        return (String::new(), Some(Verdict::TooManyWords));
    }
    (text, changed.then_some(Verdict::RepetitionCollapsed))
}

/// Removes bracketed, parenthesized and starred annotations and music notes.
pub fn strip_annotations(text: &str) -> String {
    let mut out = String::with_capacity(text.len());
    let mut closing: Option<char> = None;
    for c in text.chars() {
        match closing {
            Some(end) if c == end => closing = None,
            Some(_) => {}
            None => match c {
                '[' => closing = Some(']'),
                '(' => closing = Some(')'),
                '*' => closing = Some('*'),
                '♪' | '♫' => {}
                _ => out.push(c),
            },
        }
    }
    out
}

/// Word as compared for repetition: lower case, no punctuation.
fn key(word: &str) -> String {
    word.chars().filter(|c| c.is_alphanumeric() || *c == '\'').flat_map(char::to_lowercase).collect()
}

fn is_number_word(k: &str) -> bool {
    const WORDS: [&str; 13] = ["oh", "zero", "one", "two", "three", "four", "five", "six", "seven", "eight", "nine", "double", "triple"];
    !k.is_empty() && (k.chars().all(|c| c.is_ascii_digit()) || WORDS.contains(&k))
}

/// Collapses consecutive repeats of an n-gram to one occurrence.
///
/// People repeat themselves too ("no, no", "five five five"), so the bar is: a phrase of three
/// or more words said twice in a row, a shorter one three times or more; digit strings are never
/// touched (account numbers repeat digits). When the decode hit its token budget, the loop is
/// certain and two repeats of any phrase are enough.
pub fn collapse_repetitions<'a>(words: &[&'a str], runaway: bool) -> (Vec<&'a str>, bool) {
    let keys: Vec<String> = words.iter().map(|w| key(w)).collect();
    let mut out: Vec<&'a str> = Vec::with_capacity(words.len());
    let mut changed = false;
    let mut i = 0;
    'scan: while i < words.len() {
        // Shortest phrase first: "thank you" said four times is one 2-gram repeated, not a
        // 4-gram said twice.
        for n in 1..=(words.len() - i) / 2 {
            let phrase = &keys[i..i + n];
            if phrase.iter().all(|k| is_number_word(k)) || phrase.iter().all(String::is_empty) {
                continue;
            }
            let mut repeats = 1;
            while i + (repeats + 1) * n <= words.len() && keys[i + repeats * n..i + (repeats + 1) * n] == *phrase {
                repeats += 1;
            }
            let needed = if runaway || n >= 3 { 2 } else { 3 };
            if repeats >= needed {
                out.extend_from_slice(&words[i..i + n]);
                i += repeats * n;
                changed = true;
                continue 'scan;
            }
        }
        out.push(words[i]);
        i += 1;
    }
    if let Some(len) = trailing_loop(&out) {
        out.truncate(len);
        changed = true;
    }
    (out, changed)
}

/// Length to keep when `words` ends in the signature of a loop cut short by the token budget:
/// a phrase followed by a partial restart of itself ("I want to pay my bill. I want to pay my").
/// The restart must be at least two words and not a digit string.
fn trailing_loop(words: &[&str]) -> Option<usize> {
    let keys: Vec<String> = words.iter().map(|w| key(w)).collect();
    let n = keys.len();
    for start in 0..n {
        for period in 3..=(n - start) {
            let tail = &keys[start + period..];
            if tail.len() < 2 || tail.len() >= period {
                continue;
            }
            // The restart may stop inside its last word ("... my latest bill. Hi, I" restarting
            // "Hi, I've"): the last word need only begin the word it repeats.
            let last = tail.len() - 1;
            let repeats = tail[..last] == keys[start..start + last] && keys[start + last].starts_with(tail[last].as_str()) && !tail[last].is_empty();
            if repeats && !tail.iter().all(|k| is_number_word(k)) {
                return Some(start + period);
            }
        }
    }
    sentence_restart(words)
}

/// Length to keep when a later sentence restarts the first one (same first two words): tiny.en
/// re-reads short audio from the top ("It's 20-048-1817. It's 20-048-17. It's 20-0-44-").
fn sentence_restart(words: &[&str]) -> Option<usize> {
    let ends_sentence = |w: &&str| w.ends_with(['.', '?', '!']);
    let first_end = words.iter().position(ends_sentence)? + 1;
    if first_end < 2 || first_end >= words.len() {
        return None;
    }
    let head: Vec<String> = words[..2].iter().map(|w| key(w)).collect();
    let mut i = first_end;
    while i + 1 < words.len() {
        let second = key(words[i + 1]);
        // A re-read digit string comes out different each time: any number matches a number.
        let same_second = second == head[1] || (is_number_word(&second) && is_number_word(&head[1]));
        if key(words[i]) == head[0] && same_second {
            return Some(i);
        }
        // Only sentence starts count.
        match words[i..].iter().position(ends_sentence) {
            Some(p) => i += p + 1,
            None => break,
        }
    }
    None
}

#[cfg(test)]
mod tests {
    use super::*;

    fn ev(seconds: f32) -> Evidence {
        Evidence {
            seconds,
            no_speech_prob: 0.01,
            avg_logprob: -0.3,
            tokens: 10,
            hit_token_budget: false,
            no_speech_threshold: 0.6,
            logprob_threshold: -1.0,
        }
    }

    #[test]
    fn repeated_sentence_collapses_to_one() {
        let (t, v) = apply(" Let me talk to a person. Let me talk to a person.", &ev(2.0));
        assert_eq!(t, "Let me talk to a person.");
        assert_eq!(v, Some(Verdict::RepetitionCollapsed));
    }

    #[test]
    fn natural_repeats_and_digit_strings_survive() {
        for s in ["no, no, that's wrong", "my number is five five five one two", "it's 4 4 4 7", "very very good"] {
            let (t, v) = apply(s, &ev(3.0));
            assert_eq!(t, s);
            assert_eq!(v, None);
        }
    }

    #[test]
    fn loop_cut_short_by_the_token_budget_is_removed() {
        for (raw, want) in [
            ("I want to pay my bill. I want to pay my", "I want to pay my bill."),
            ("No that's wrong. No that's", "No that's wrong."),
            ("Hi. I have a question about a charge. I have a", "Hi. I have a question about a charge."),
        ] {
            let (t, v) = apply(raw, &ev(3.0));
            assert_eq!((t.as_str(), v), (want, Some(Verdict::RepetitionCollapsed)), "{raw}");
        }
        // A one-word echo and a repeated digit group are not loops.
        for s in ["Hello. Is anyone there? Hello", "it is 4 5 6 4 5"] {
            assert_eq!(apply(s, &ev(3.0)), (s.to_owned(), None));
        }
    }

    #[test]
    fn restart_cut_inside_a_word_or_a_sentence_is_removed() {
        let (t, v) = apply("Hi, I've got a question about my latest bill. Hi, I", &ev(2.4));
        assert_eq!((t.as_str(), v), ("Hi, I've got a question about my latest bill.", Some(Verdict::RepetitionCollapsed)));
        let (t, _) = apply("It's 20-048-1817. It's 20-048-17. It's 20-0-44-", &ev(2.0));
        assert_eq!(t, "It's 20-048-1817.");
        let (t, v) = apply("No. No, that's wrong.", &ev(1.5));
        assert_eq!((t.as_str(), v), ("No. No, that's wrong.", None));
    }

    #[test]
    fn short_phrase_loop_collapses_at_three() {
        let (t, _) = apply("thank you thank you thank you thank you", &ev(3.0));
        assert_eq!(t, "thank you");
    }

    #[test]
    fn runaway_decode_collapses_any_double() {
        let mut e = ev(1.0);
        e.hit_token_budget = true;
        let (t, _) = apply("okay okay", &e);
        assert_eq!(t, "okay");
    }

    #[test]
    fn annotations_alone_are_no_text() {
        assert_eq!(apply(" [BLANK_AUDIO]", &ev(2.0)), (String::new(), Some(Verdict::OnlyAnnotations)));
        assert_eq!(apply("(music) ♪", &ev(2.0)), (String::new(), Some(Verdict::OnlyAnnotations)));
        assert_eq!(apply("", &ev(2.0)), (String::new(), None));
        assert_eq!(apply("[coughs] yes please", &ev(2.0)).0, "yes please");
    }

    #[test]
    fn whispers_no_speech_rule_rejects_unlikely_text() {
        let mut e = ev(2.0);
        e.no_speech_prob = 0.9;
        e.avg_logprob = -1.4;
        assert_eq!(apply(" Thank you.", &e), (String::new(), Some(Verdict::NoSpeech)));
        // Confident text is kept even when no-speech is high.
        e.avg_logprob = -0.2;
        assert_eq!(apply(" Thank you.", &e).0, "Thank you.");
    }

    #[test]
    fn too_many_words_for_the_time_is_rejected() {
        let many = "a b c d e f g h i j k l m n o p q r s t";
        assert_eq!(apply(many, &ev(1.0)), (String::new(), Some(Verdict::TooManyWords)));
    }
}
