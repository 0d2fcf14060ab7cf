//! Compares the Rust G2P with hibari-tts 0.2.1's Python G2P on the sentences of
//! `tests/data/reference.tsv` (see `make_reference.py` for provenance).

mod common;

use std::collections::HashSet;

/// Exact-match rate of `read` against the reference file, with the mismatches.
fn score(read: &mut dyn FnMut(&str) -> String) -> (usize, usize, Vec<String>) {
    let vocab: HashSet<char> = {
        let text = std::fs::read_to_string(common::hibari_dir().join("vocab.json")).expect("vocab.json");
        let map: std::collections::HashMap<String, i64> = serde_json::from_str(&text).expect("vocab.json parses");
        map.keys().filter_map(|k| k.chars().next()).collect()
    };
    let (mut total, mut exact, mut mismatches) = (0, 0, Vec::new());
    for line in include_str!("data/reference.tsv").lines().filter(|l| !l.starts_with('#') && !l.is_empty()) {
        let (sentence, expected) = line.split_once('\t').expect("sentence<TAB>phonemes");
        // The voice's runner drops characters outside its vocabulary; compare what it would see.
        let expected: String = expected.chars().filter(|c| vocab.contains(c)).collect();
        let got = read(sentence);
        total += 1;
        if got == expected.trim() {
            exact += 1;
        } else {
            mismatches.push(format!("  {sentence}\n    python: {expected}\n    rust:   {got}"));
        }
    }
    (exact, total, mismatches)
}

/// hibari's pipeline alone (`phonemize_plain`): the port itself, expected to match exactly.
#[test]
fn plain_pipeline_matches_python_hibari() {
    let mut g2p = common::g2p();
    let (exact, total, mismatches) = score(&mut |s| g2p.phonemize_plain(s).expect("phonemize_plain"));
    let rate = exact as f64 / total as f64;
    println!("phonemize_plain exact match: {exact}/{total} ({:.1}%)", rate * 100.0);
    mismatches.iter().for_each(|m| println!("{m}"));
    assert!(total >= 100, "reference set too small: {total}");
    assert!(rate >= 0.95, "exact-match rate {:.1}% below 95%:\n{}", rate * 100.0, mismatches.join("\n"));
}

/// The production path (`phonemize`): on digit-free text it differs from hibari only where it
/// restores a sentence-final period that a dotted abbreviation swallowed ("... the letter A.").
#[test]
fn phonemize_matches_python_hibari() {
    let mut g2p = common::g2p();
    let (exact, total, mismatches) = score(&mut |s| g2p.phonemize(s).expect("phonemize"));
    let rate = exact as f64 / total as f64;
    println!("phonemize exact match: {exact}/{total} ({:.1}%)", rate * 100.0);
    mismatches.iter().for_each(|m| println!("{m}"));
    for m in &mismatches {
        let (python, rust) = m.split_once("\n    rust:   ").expect("formatted above");
        let python = python.rsplit_once("python: ").map(|(_, p)| p).unwrap_or_default();
        assert_eq!(format!("{python}."), rust, "unexpected difference:\n{m}");
    }
    assert!(rate >= 0.95, "exact-match rate {:.1}% below 95%", rate * 100.0);
}

/// Developer tool: compares against any `sentence<TAB>phonemes` file made the same way
/// (`ATTENDANT_G2P_COMPARE=/path/file.tsv cargo test -p attendant-g2p --test reference --
/// --ignored --nocapture`), with the phone-menu stage off so digits compare too.
/// Expected output: every line equal except where hibari reads an empty Roman numeral
/// ("class Color" -> "class 0Color"), which this crate deliberately does not.
#[test]
#[ignore = "needs a comparison file from ATTENDANT_G2P_COMPARE"]
fn compare_with_file() {
    let Some(path) = std::env::var_os("ATTENDANT_G2P_COMPARE") else { return };
    let data = std::fs::read_to_string(&path).expect("comparison file");
    // ATTENDANT_G2P_ACCENT=gb compares against `G2P(british=True)` output.
    let accent = match std::env::var("ATTENDANT_G2P_ACCENT").as_deref() {
        Ok("gb") => attendant_g2p::Accent::Gb,
        _ => attendant_g2p::Accent::Us,
    };
    let mut g2p = attendant_g2p::G2p::load(&common::hibari_dir(), accent, &common::env()).expect("assets");
    let (mut total, mut exact) = (0, 0);
    for line in data.lines().filter(|l| !l.starts_with('#') && !l.is_empty()) {
        let Some((sentence, expected)) = line.split_once('\t') else { continue };
        let got = g2p.phonemize_plain(sentence).expect("phonemize");
        let expected: String = expected.chars().filter(|&c| !matches!(c, '-' | '1' | 'ʀ')).collect();
        total += 1;
        if got == expected.trim() {
            exact += 1;
        } else {
            println!("  {sentence}\n    python: {expected}\n    rust:   {got}");
        }
    }
    println!("exact match: {exact}/{total}");
}
