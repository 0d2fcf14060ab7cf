use super::*;

fn digits(text: &str) -> Option<String> {
    spoken_digits(text)
}

#[track_caller]
fn check(text: &str, want: &str) {
    assert_eq!(digits(text).as_deref(), Some(want), "{text:?}");
}

#[test]
fn numerals_in_any_formatting() {
    check("4 5 6 7", "4567");
    check("4567", "4567");
    check("4,567", "4567");
    check("45 67", "4567");
    check("1234-5678", "12345678");
    check("(555) 123-4567.", "5551234567");
    check("12 34 five six", "123456");
}

#[test]
fn digit_words() {
    check("four five six seven", "4567");
    check("Four, five, six, seven.", "4567");
    check("zero one two", "012");
    check("nought nought seven", "007");
    check("nine one one", "911");
}

#[test]
fn oh_is_zero_only_next_to_digits() {
    check("four oh six", "406");
    check("4 o 6", "406");
    check("oh four five", "045");
    check("oh oh seven", "007");
    check("Oh, it's 4 5 6", "456");
    check("four five oh", "450");
    assert_eq!(digits("oh no"), None);
}

#[test]
fn double_and_triple() {
    check("double five", "55");
    check("triple seven", "777");
    check("double oh seven", "007");
    check("four double two nine", "4229");
    check("double 5 3", "553");
    // The recognizer writes "triple seven two four one" as "Triple 7241".
    check("Triple 7241.", "777241");
    check("Double 5-1209", "551209");
}

#[test]
fn teens_tens_hundreds() {
    check("nineteen", "19");
    check("twenty three", "23");
    check("twenty-three", "23");
    check("twenty", "20");
    check("twenty twenty", "2020");
    check("nineteen eighty four", "1984");
    check("five hundred", "500");
    check("a hundred", "100");
    check("five hundred and twenty three", "523");
    check("one hundred twenty", "120");
    check("two thousand and five", "2005");
    check("four thousand", "4000");
    check("fifty five hundred", "5500");
}

#[test]
fn fillers_are_skipped() {
    check("um my account number is 4 5 6 7", "4567");
    check("uh it's, like, four five six seven I think", "4567");
    check("my account number is four five, six seven eight", "45678");
}

#[test]
fn homophones_count_only_between_digits() {
    check("five for six", "546");
    check("one to three", "123");
    check("I want to pay 4 5", "45");
    check("it's for account 1 2", "12");
}

#[test]
fn no_digits_is_none() {
    assert_eq!(digits(""), None);
    assert_eq!(digits("I don't know it"), None);
    assert_eq!(digits("one moment please"), Some("1".into()));
    assert_eq!(digits("hmm, let me check"), None);
}

#[test]
fn yes_no_plain() {
    for t in [
        "yes",
        "Yeah.",
        "yep",
        "correct",
        "That's right.",
        "sure",
        "please do",
        "absolutely",
        "right",
        "yes please",
        "Yes, that's correct.",
        "okay",
        "go ahead",
        "I think so",
        "uh huh",
    ] {
        assert_eq!(yes_no(t), Some(true), "{t:?}");
    }
    for t in [
        "no",
        "Nope.",
        "not",
        "wrong",
        "incorrect",
        "That's not right.",
        "No, that's not right.",
        "no thanks",
        "I don't think so",
        "that's wrong",
        "please don't",
        "that is not correct",
        "not quite right",
    ] {
        assert_eq!(yes_no(t), Some(false), "{t:?}");
    }
}

#[test]
fn yes_no_negated_and_corrected() {
    assert_eq!(yes_no("no problem"), Some(true));
    assert_eq!(yes_no("that's not wrong"), Some(true));
    assert_eq!(yes_no("no wait, yes"), Some(true));
    assert_eq!(yes_no("yes, no, actually no"), Some(false));
}

#[test]
fn yes_no_unclear_is_none() {
    for t in [
        "",
        "I'm not sure",
        "maybe",
        "I don't know",
        "what was the question",
        "hmm",
        "my account number is 4 5 6",
    ] {
        assert_eq!(yes_no(t), None, "{t:?}");
    }
}

#[test]
fn no_panic_on_arbitrary_text() {
    // A small deterministic generator over awkward characters: combining marks, RTL, emoji,
    // full-width digits, apostrophes, lone punctuation.
    let alphabet: Vec<char> =
        "aeoz019 ,.-'\u{2019}\u{0301}\u{05d0}\u{0663}\u{ff11}\u{1f600}ßİ\t\n#*"
            .chars()
            .collect();
    let mut seed: u64 = 0x9e37_79b9_7f4a_7c15;
    for _ in 0..5000 {
        let len = (seed % 24) as usize;
        let mut s = String::new();
        for _ in 0..len {
            seed ^= seed << 13;
            seed ^= seed >> 7;
            seed ^= seed << 17;
            s.push(alphabet[(seed % alphabet.len() as u64) as usize]);
        }
        let _ = spoken_digits(&s);
        let _ = yes_no(&s);
        for w in [
            "double", "triple", "hundred", "thousand", "oh", "and", "not",
        ] {
            let _ = spoken_digits(&format!("{s} {w} {s}"));
            let _ = yes_no(&format!("{w} {s}"));
        }
    }
    // Huge numbers must not overflow.
    let _ = spoken_digits(&"nine hundred thousand ".repeat(50));
}
