//! Scores the sample tenant's intents (`config/contoso.flow.toml`) on the development set
//! (`crates/nlu/tests/dev_set.toml`): in-domain accuracy, confusions, out-of-domain no-match.
//!
//! `cargo run --release -p attendant-nlu --example dev_eval [-- -v]`; `-v` lists every miss.
//! Overrides for tuning: TOP_K, LEXICAL_WEIGHT, THRESHOLD (environment).

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};
use std::time::Instant;

use attendant_nlu as nlu;
use nlu::{ClassifierConfig, Embedder, IntentClassifier, IntentSpec};

fn root() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("../..")
}

fn main() {
    let verbose = std::env::args().any(|a| a == "-v");
    let flow_path = std::env::var_os("FLOW")
        .map(PathBuf::from)
        .unwrap_or_else(|| root().join("config/contoso.flow.toml"));
    let flow: toml::Table = toml::from_str(&std::fs::read_to_string(&flow_path).unwrap()).unwrap();
    let flow = flow["flow"].as_table().unwrap();
    let intents: Vec<IntentSpec> = flow["intents"]
        .as_array()
        .unwrap()
        .iter()
        .map(|i| {
            let strs = |k: &str| -> Vec<String> {
                i.get(k)
                    .and_then(|v| v.as_array())
                    .map(|a| a.iter().map(|s| s.as_str().unwrap().to_string()).collect())
                    .unwrap_or_default()
            };
            IntentSpec {
                name: i["name"].as_str().unwrap().to_string(),
                examples: strs("examples"),
                keywords: strs("keywords"),
            }
        })
        .collect();
    let mut config: ClassifierConfig = match flow.get("classifier") {
        Some(c) => c.clone().try_into().unwrap(),
        None => ClassifierConfig::default(),
    };
    let env = |k: &str| std::env::var(k).ok();
    if let Some(v) = env("TOP_K") {
        config.top_k = v.parse().unwrap();
    }
    if let Some(v) = env("LEXICAL_WEIGHT") {
        config.lexical_weight = v.parse().unwrap();
    }
    if let Some(v) = env("THRESHOLD") {
        config.threshold = v.parse().unwrap();
    }

    let dev: toml::Table = toml::from_str(
        &std::fs::read_to_string(root().join("crates/nlu/tests/dev_set.toml")).unwrap(),
    )
    .unwrap();
    let models = std::env::var_os("ATTENDANT_MODELS")
        .map(PathBuf::from)
        .unwrap_or_else(|| root().join("models"));
    let embedder = Embedder::load(&models.join(nlu::MODEL_DIR_NAME)).unwrap();
    let t = Instant::now();
    let clf = IntentClassifier::build(&embedder, &intents, config.clone()).unwrap();
    println!(
        "config {config:?}\nexamples {} built in {:?}\ncalibration {:?}",
        intents.iter().map(|i| i.examples.len()).sum::<usize>(),
        t.elapsed(),
        clf.calibration()
    );

    let mut classify_time = std::time::Duration::ZERO;
    let mut n_classified = 0u32;
    let mut run = |text: &str| {
        let e = embedder.embed(text).unwrap();
        let t = Instant::now();
        let c = clf.classify(text, &e);
        classify_time += t.elapsed();
        n_classified += 1;
        c
    };

    let mut total = 0;
    let mut right = 0;
    let mut below = 0;
    let mut confusions: BTreeMap<(String, String), usize> = BTreeMap::new();
    for (want, texts) in dev["in_domain"].as_table().unwrap() {
        let (mut n, mut ok) = (0, 0);
        for text in texts.as_array().unwrap() {
            let text = text.as_str().unwrap();
            let c = run(text);
            n += 1;
            match c.intent.as_deref() {
                Some(got) if got == want => ok += 1,
                Some(got) => {
                    *confusions.entry((want.clone(), got.to_string())).or_default() += 1;
                    if verbose {
                        println!("  CONFUSED {want:>17} -> {got:17} {:.2} {text}", c.confidence);
                    }
                }
                None => {
                    below += 1;
                    if verbose {
                        let (b, p) = c.best.clone().unwrap_or_default();
                        println!("  NO-MATCH {want:>17} (best {b} {p:.2}) {text}");
                    }
                }
            }
        }
        println!("{want:>17}: {ok}/{n}");
        total += n;
        right += ok;
    }
    let ood = dev["out_of_domain"]["texts"].as_array().unwrap();
    let mut rejected = 0;
    for text in ood {
        let text = text.as_str().unwrap();
        let c = run(text);
        match c.intent {
            None => rejected += 1,
            Some(got) => {
                if verbose {
                    println!("  OOD MATCH -> {got:17} {:.2} {text}", c.confidence);
                }
            }
        }
    }
    println!(
        "in-domain accuracy {right}/{total} = {:.1}% (no-match {below}, confused {})",
        100.0 * right as f32 / total as f32,
        confusions.values().sum::<usize>()
    );
    for ((w, g), n) in &confusions {
        println!("  confusion {w} -> {g}: {n}");
    }
    println!(
        "out-of-domain no-match {rejected}/{} = {:.1}%",
        ood.len(),
        100.0 * rejected as f32 / ood.len() as f32
    );
    println!(
        "classify (without embedding) {:?} per transcript",
        classify_time / n_classified
    );
}
