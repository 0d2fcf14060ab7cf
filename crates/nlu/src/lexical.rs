//! Words out of ASR text: plain words for keyword phrases, stemmed content words for overlap.
//!
//! ASR text is English with whisper's punctuation and casing; these helpers lower-case, split
//! on anything that is not a letter, digit or inner apostrophe, and expand the contractions
//! whose second half carries meaning ("can't" → "can not").

/// Lower-cased words of `text`, punctuation removed, contractions expanded.
pub(crate) fn words(text: &str) -> Vec<String> {
    let mut out = Vec::new();
    for raw in text.split(|c: char| !(c.is_alphanumeric() || c == '\'' || c == '\u{2019}')) {
        let w: String = raw
            .trim_matches(|c| c == '\'' || c == '\u{2019}')
            .chars()
            .map(|c| if c == '\u{2019}' { '\'' } else { c })
            .flat_map(char::to_lowercase)
            .collect();
        if w.is_empty() {
            continue;
        }
        expand_contraction(&w, &mut out);
    }
    out
}

fn expand_contraction(w: &str, out: &mut Vec<String>) {
    // "won't" and "can't" lose their stem with the n't rule; spell them out.
    match w {
        "won't" => return out.extend(["will".to_string(), "not".to_string()]),
        "can't" | "cannot" => return out.extend(["can".to_string(), "not".to_string()]),
        _ => {}
    }
    if let Some(stem) = w.strip_suffix("n't") {
        out.push(stem.to_string());
        out.push("not".to_string());
    } else if let Some((head, _tail)) = w.split_once('\'') {
        // 's, 're, 'm, 'll, 've, 'd: the tail is a function word; keep the head only.
        out.push(head.to_string());
    } else {
        out.push(w.to_string());
    }
}

/// Words that carry no intent on their own: function words, fillers, politeness, negation and
/// the verbs every request starts with. Kept out of the lexical evidence (negation is left to
/// the embedding, which sees the whole sentence).
const STOPWORDS: &[&str] = &[
    "a",
    "about",
    "actually",
    "again",
    "all",
    "also",
    "am",
    "an",
    "and",
    "any",
    "anyone",
    "anything",
    "are",
    "as",
    "at",
    "be",
    "been",
    "being",
    "but",
    "by",
    "can",
    "could",
    "d",
    "did",
    "do",
    "does",
    "doing",
    "for",
    "from",
    "get",
    "getting",
    "go",
    "going",
    "gonna",
    "got",
    "had",
    "has",
    "have",
    "having",
    "he",
    "hello",
    "her",
    "here",
    "hey",
    "hi",
    "him",
    "his",
    "how",
    "i",
    "if",
    "in",
    "into",
    "is",
    "it",
    "its",
    "just",
    "kind",
    "know",
    "let",
    "like",
    "ll",
    "m",
    "me",
    "might",
    "mine",
    "my",
    "myself",
    "need",
    "needs",
    "no",
    "not",
    "now",
    "of",
    "oh",
    "ok",
    "okay",
    "on",
    "or",
    "our",
    "please",
    "re",
    "really",
    "s",
    "she",
    "should",
    "so",
    "some",
    "someone",
    "something",
    "sort",
    "t",
    "thank",
    "thanks",
    "that",
    "the",
    "their",
    "them",
    "then",
    "there",
    "these",
    "they",
    "this",
    "those",
    "to",
    "today",
    "uh",
    "um",
    "umm",
    "up",
    "us",
    "ve",
    "very",
    "wanna",
    "want",
    "wanted",
    "wants",
    "was",
    "we",
    "well",
    "were",
    "what",
    "when",
    "where",
    "which",
    "who",
    "why",
    "will",
    "with",
    "would",
    "yeah",
    "yes",
    "you",
    "your",
    "yours",
];

fn is_stopword(w: &str) -> bool {
    STOPWORDS.binary_search(&w).is_ok()
}

/// Stemmed content words of `text`: stopwords dropped, a light suffix stripping applied so
/// "billing", "bills" and "billed" meet. Order kept, duplicates removed.
pub(crate) fn content_words(text: &str) -> Vec<String> {
    let mut out: Vec<String> = Vec::new();
    for w in words(text) {
        if is_stopword(&w) {
            continue;
        }
        let s = stem(&w);
        if !s.is_empty() && !out.contains(&s) {
            out.push(s);
        }
    }
    out
}

/// A deliberately small stemmer: common inflections only, the same rules for examples and
/// transcripts, so a form only has to be consistent, not a real English stem.
pub(crate) fn stem(w: &str) -> String {
    let n = w.chars().count();
    let mut s = w.to_string();
    if !w.is_ascii() || n <= 3 {
        return s;
    }
    let strip = |s: &mut String, suffix: &str, min_rest: usize| -> bool {
        if s.ends_with(suffix) && s.len() - suffix.len() >= min_rest {
            s.truncate(s.len() - suffix.len());
            true
        } else {
            false
        }
    };
    if s.ends_with("ies") && s.len() > 4 {
        s.truncate(s.len() - 3);
        s.push('y');
    } else if !s.ends_with("ss") && !s.ends_with("us") && !s.ends_with("is") {
        strip(&mut s, "s", 3);
    }
    let _ = strip(&mut s, "ing", 3) || strip(&mut s, "ment", 3) || strip(&mut s, "ed", 3);
    strip(&mut s, "e", 3);
    // "cancelled" / "canceled", "billing" / "bill": collapse a doubled final consonant.
    let b = s.as_bytes();
    if b.len() >= 4 && b[b.len() - 1] == b[b.len() - 2] && !b"aeiou".contains(&b[b.len() - 1]) {
        s.pop();
    }
    s
}

/// Whether the word sequence `phrase` occurs in `haystack` as whole, consecutive words.
pub(crate) fn contains_phrase(haystack: &[String], phrase: &[String]) -> bool {
    !phrase.is_empty() && haystack.windows(phrase.len()).any(|w| w == phrase)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn stopword_list_is_sorted_for_binary_search() {
        assert!(
            STOPWORDS.windows(2).all(|w| w[0] < w[1]),
            "STOPWORDS must stay sorted"
        );
    }

    #[test]
    fn words_strip_punctuation_and_expand_contractions() {
        assert_eq!(
            words("I can't log in, it's BROKEN!"),
            ["i", "can", "not", "log", "in", "it", "broken"]
        );
        assert_eq!(words("Don’t cancel"), ["do", "not", "cancel"]);
        assert_eq!(words("  ...  "), Vec::<String>::new());
    }

    #[test]
    fn inflections_share_a_stem() {
        for group in [
            &["bill", "bills", "billing", "billed"][..],
            &["cancel", "cancels", "cancelled", "canceled", "cancelling"],
            &["charge", "charges", "charged", "charging"],
            &["pay", "paying", "payment", "payments"],
            &["outage", "outages"],
        ] {
            let stems: Vec<String> = group.iter().map(|w| stem(w)).collect();
            assert!(
                stems.windows(2).all(|p| p[0] == p[1]),
                "{group:?} -> {stems:?}"
            );
        }
    }

    #[test]
    fn content_words_drop_fillers() {
        assert_eq!(
            content_words("um hi I want to pay my bill please"),
            ["pay", "bil"]
        );
    }

    #[test]
    fn phrase_matches_whole_words_only() {
        let hay = words("I want to speak to an agent now");
        assert!(contains_phrase(&hay, &words("an agent")));
        assert!(!contains_phrase(&hay, &words("age")));
        assert!(!contains_phrase(&hay, &[]));
    }
}
