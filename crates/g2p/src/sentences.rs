//! Sentence splitting as `Hibari.split_sentences` does it: every line is a paragraph; a
//! sentence ends at `.`, `!`, `?` or `…` (plus closing quotes/brackets) before whitespace, unless
//! the next word starts lowercase or the period follows a title ("Dr.") or an initial ("J.").

use crate::text::{is_space, is_upper};

/// hibari's title words (the keys of `normalize.json` "titles"); a test checks the list
/// against the asset so the two cannot drift apart.
pub const TITLES: [&str; 26] = [
    "Mr", "Mrs", "Ms", "Dr", "Prof", "St", "Mt", "Ft", "Gen", "Gov", "Sen", "Rep", "Capt", "Lt", "Col", "Sgt", "Cmdr",
    "Rev", "Hon", "Pres", "Supt", "Cpl", "Maj", "Adm", "Fr", "Msgr",
];

fn is_end_punct(c: char) -> bool {
    matches!(c, '.' | '!' | '?' | '…')
}

fn is_closer(c: char) -> bool {
    matches!(c, '"' | '”' | '’' | ')' | ']')
}

/// Whether the break found at byte `end` (just after the punctuation) ends a sentence.
fn ends_sentence(para: &str, end: usize, next: char) -> bool {
    if next.is_lowercase() && !next.is_uppercase() {
        return false;
    }
    if !para[..end].ends_with('.') {
        return true;
    }
    let start = para[..end].rfind(' ').map_or(0, |i| i + 1);
    let word = para[start..end - 1].trim_start_matches(['(', '"', '“', '\'', '‘']);
    !(TITLES.contains(&word) || (word.chars().count() == 1 && is_upper(word)))
}

/// Splits `text` into sentences; empty ones are dropped.
pub fn split_sentences(text: &str) -> Vec<String> {
    let mut out = Vec::new();
    for para in text.split('\n') {
        let para = para.trim_matches(is_space);
        let mut cut = 0;
        let mut i = 0;
        let chars: Vec<(usize, char)> = para.char_indices().collect();
        while i < chars.len() {
            let (_, c) = chars[i];
            i += 1;
            if !is_end_punct(c) {
                continue;
            }
            // A break candidate: closing quotes, then whitespace, then a non-space character.
            let start = chars.get(i).map_or(para.len(), |&(b, _)| b);
            let mut j = i;
            while j < chars.len() && is_closer(chars[j].1) {
                j += 1;
            }
            let ws = j;
            while j < chars.len() && is_space(chars[j].1) {
                j += 1;
            }
            if j == ws || j >= chars.len() {
                continue;
            }
            let (next_at, next) = chars[j];
            if ends_sentence(para, start, next) {
                out.push(para[cut..start].to_owned());
                cut = next_at;
            }
            i = j;
        }
        out.push(para[cut..].to_owned());
    }
    out.retain(|s| !s.trim_matches(is_space).is_empty());
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn titles_and_initials_do_not_end_sentences() {
        assert_eq!(
            split_sentences("Dr. Smith is in. J. K. Rowling wrote it! Really? yes."),
            ["Dr. Smith is in.", "J. K. Rowling wrote it!", "Really? yes."]
        );
    }

    #[test]
    fn lines_and_quotes() {
        assert_eq!(
            split_sentences("He said \"Go.\" Then left.\n\nNext line"),
            ["He said \"Go.", "Then left.", "Next line"]
        );
        assert!(split_sentences("  \n \n").is_empty());
        assert_eq!(split_sentences("Wait... What?"), ["Wait...", "What?"]);
    }
}
