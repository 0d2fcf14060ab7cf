//! Bad assets give typed errors naming the file; no input text makes the G2P panic.

mod common;

use attendant_g2p::{split_sentences, Accent, G2p, G2pError};

#[test]
fn missing_assets_dir_names_the_file() {
    let err = G2p::load("/nonexistent/hibari".as_ref(), Accent::Us, &common::env()).expect_err("must fail");
    match &err {
        G2pError::Read { path, .. } => {
            assert!(path.ends_with("lexicon_us_gold.json.gz") || path.ends_with("tagger.json.gz"), "{err}")
        }
        other => panic!("expected a Read error, got {other:?}"),
    }
    assert!(err.to_string().contains("/nonexistent/hibari/"), "{err}");
}

#[test]
fn corrupt_asset_is_reported_as_corrupt() {
    let dir = std::env::temp_dir().join(format!("g2p-corrupt-{}", std::process::id()));
    std::fs::create_dir_all(&dir).expect("temp dir");
    for entry in std::fs::read_dir(common::hibari_dir()).expect("models/hibari") {
        let entry = entry.expect("dir entry");
        std::fs::copy(entry.path(), dir.join(entry.file_name())).expect("copy asset");
    }
    std::fs::write(dir.join("normalize.json"), b"{\"months\": 3}").expect("write");
    let err = G2p::load(&dir, Accent::Us, &common::env()).expect_err("must fail");
    assert!(matches!(&err, G2pError::Corrupt { path, .. } if path.ends_with("normalize.json")), "{err:?}");
    std::fs::write(dir.join("normalize.json"), b"").expect("write");
    std::fs::remove_file(dir.join("oov.onnx")).expect("remove");
    std::fs::copy(common::hibari_dir().join("normalize.json"), dir.join("normalize.json")).expect("restore");
    let err = G2p::load(&dir, Accent::Us, &common::env()).expect_err("must fail");
    assert!(err.to_string().contains("oov.onnx"), "{err}");
    std::fs::write(dir.join("oov.onnx"), b"not a model").expect("write");
    let err = G2p::load(&dir, Accent::Us, &common::env()).expect_err("must fail");
    assert!(matches!(&err, G2pError::Model { path, .. } if path.ends_with("oov.onnx")), "{err:?}");
    let _ = std::fs::remove_dir_all(&dir);
}

#[test]
fn british_accent_loads_and_differs() {
    let env = common::env();
    let mut gb = G2p::load(&common::hibari_dir(), Accent::Gb, &env).expect("gb assets");
    let mut us = common::g2p();
    let s = "Hello there, the water is better.";
    let (a, b) = (us.phonemize(s).expect("us"), gb.phonemize(s).expect("gb"));
    assert_ne!(a, b);
    assert_eq!(b, "həlˈQ ðˈɛː, ðə wˈɔːtə ɪz bˈɛtə.");
}

#[test]
fn hostile_input_never_panics_and_stays_in_vocab() {
    let mut g2p = common::g2p();
    let vocab: std::collections::HashSet<char> = {
        let text = std::fs::read_to_string(common::hibari_dir().join("vocab.json")).expect("vocab.json");
        let map: std::collections::HashMap<String, i64> = serde_json::from_str(&text).expect("parses");
        map.keys().filter_map(|k| k.chars().next()).collect()
    };
    let long_words = "Contosovia blorptastic ".repeat(500);
    let long_digits = "9".repeat(10_000);
    let inputs: Vec<String> = vec![
        String::new(),
        " ".into(),
        "😀🎉👍".into(),
        "hello 😀 world".into(),
        "\u{0}\u{1}\u{7}\u{1b}[31m\u{7f}".into(),
        "\u{fffd}\u{fffe}\u{ffff}\u{d7ff}\u{e000}".into(),
        "...!!!???;;;,,,".into(),
        "\"\"''“”‘’()[]{}<>".into(),
        "—–-_~^|\\/@#$%&*+=".into(),
        "$ £ € ¥ $. $, $-".into(),
        "ﬁnancial ﬀ ＡＢＣ １２３".into(),
        "\u{301}\u{301} e\u{301} Ǆ ß İ ŉ".into(),
        "12:99 99:99 13/45/2025 2025-13-45 0/0 00:00".into(),
        "$99999999999999999999999999999999999999999999.99".into(),
        "1e10 0x1F 1,2,3 1..2 .5. -.-".into(),
        "[word](/ˈwɜːd/) [x]() [](/a/)".into(),
        "a".repeat(10_000),
        long_words,
        long_digits,
        "中文 日本語 한국어 العربية עברית русский".into(),
        "\n\n\t\r\u{b}\u{c}\u{1c}\u{85}\u{2028}".into(),
        "#".repeat(300),
        "Dr. St. Mr. No. 5 vs. e.g. U.S.A.".into(),
    ];
    for input in &inputs {
        let ps = g2p.phonemize(input).expect("phonemize");
        assert!(ps.chars().all(|c| vocab.contains(&c)), "{input:?} -> {ps:?}");
        let _ = g2p.phonemize_plain(input).expect("phonemize_plain");
        let _ = split_sentences(input);
    }
    assert_eq!(g2p.phonemize("").expect("empty"), "");
    assert_eq!(g2p.phonemize("...").expect("dots"), "...");
}

#[test]
fn sentences_split_like_hibari() {
    assert_eq!(
        split_sentences("Thank you for calling Dr. Patel's office. For J. K. Smith, press 1! Goodbye."),
        ["Thank you for calling Dr. Patel's office.", "For J. K. Smith, press 1!", "Goodbye."]
    );
    assert_eq!(split_sentences("One. two. Three?\nFour\n\nFive"), ["One. two.", "Three?", "Four", "Five"]);
    assert_eq!(split_sentences("St. Louis is nice. Mt. Hood too."), ["St. Louis is nice.", "Mt. Hood too."]);
    assert!(split_sentences("").is_empty());
}
