//! Scores the sample tenant's intents (`config/contoso.flow.toml`) on the development set
//! (`crates/nlu/tests/dev_set.toml`): in-domain accuracy, confusions, out-of-domain no-match.
//!
//! `cargo run --release -p attendant-nlu --example dev_eval [-- -v]`; `-v` lists every miss.
//! Ends with a threshold sweep: what moving `threshold` trades between in-domain accuracy,
//! out-of-domain rejection and no-match precision.
//! Overrides for tuning: TOP_K, LEXICAL_WEIGHT, THRESHOLD (environment). Experiments:
//! CLAUSES=1 also classifies each clause of a run-on transcript and keeps the most confident
//! answer; EXPORT=file.json writes the embeddings of the examples, the built-in negatives and
//! the dev set (JSON rows {set, intent, text, v}) and exits, for trying classifiers elsewhere.

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
    if let Some(path) = env("EXPORT") {
        export(&embedder, &intents, &dev, &path);
        return;
    }
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
    let clauses_on = env("CLAUSES").is_some();
    let mut run = |text: &str| {
        let e = embedder.embed(text).unwrap();
        let t = Instant::now();
        let mut c = clf.classify(text, &e);
        classify_time += t.elapsed();
        n_classified += 1;
        if clauses_on {
            for clause in clauses(text) {
                let e = embedder.embed(&clause).unwrap();
                let k = clf.classify(&clause, &e);
                if k.confidence > c.confidence {
                    c = k;
                }
            }
        }
        c
    };

    let mut total = 0;
    let mut right = 0;
    let mut below = 0;
    let mut confusions: BTreeMap<(String, String), usize> = BTreeMap::new();
    // (expected intent, None when out of domain; best candidate; its confidence) per text, for
    // the threshold sweep at the end.
    let mut scored: Vec<(Option<String>, Option<String>, f32, bool)> = Vec::new();
    for (want, texts) in dev["in_domain"].as_table().unwrap() {
        let (mut n, mut ok) = (0, 0);
        for text in texts.as_array().unwrap() {
            let text = text.as_str().unwrap();
            let c = run(text);
            n += 1;
            let keyword = c.source == nlu::MatchSource::Keyword;
            scored.push((Some(want.clone()), c.best.as_ref().map(|b| b.0.clone()), c.confidence, keyword));
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
        let keyword = c.source == nlu::MatchSource::Keyword;
        scored.push((None, c.best.as_ref().map(|b| b.0.clone()), c.confidence, keyword));
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
    sweep(&scored, config.threshold);
}

/// In-domain accuracy, out-of-domain rejection and no-match precision (no-match answers that
/// were out of domain) at thresholds around the configured one: what moving it would trade.
fn sweep(scored: &[(Option<String>, Option<String>, f32, bool)], configured: f32) {
    println!("threshold  in-domain  ood-rejected  no-match-precision");
    let mut ts: Vec<f32> = (2..=8).map(|t| t as f32 / 10.0).collect();
    if !ts.iter().any(|t| (t - configured).abs() < 1e-6) {
        ts.push(configured);
        ts.sort_by(f32::total_cmp);
    }
    for t in ts {
        let (mut ok, mut n_in, mut rej, mut n_ood, mut nomatch) = (0, 0, 0, 0, 0);
        for (want, best, p, keyword) in scored {
            let got = best.as_ref().filter(|_| *keyword || *p >= t);
            nomatch += usize::from(got.is_none());
            match want {
                Some(w) => {
                    n_in += 1;
                    ok += usize::from(got == Some(w));
                }
                None => {
                    n_ood += 1;
                    rej += usize::from(got.is_none());
                }
            }
        }
        let pct = |a: usize, b: usize| if b == 0 { 0.0 } else { 100.0 * a as f32 / b as f32 };
        println!(
            "{t:9.2}  {:8.1}%  {:11.1}%  {:17.1}%",
            pct(ok, n_in),
            pct(rej, n_ood),
            pct(rej, nomatch)
        );
    }
}

/// Experiment: the clauses of a run-on transcript (split at sentence ends and at "but", "and",
/// "so", "because"), those of at least three words, when there are at least two.
fn clauses(text: &str) -> Vec<String> {
    let mut out = Vec::new();
    for sentence in text.split(['.', '?', '!', ';', ',']) {
        let mut cur: Vec<&str> = Vec::new();
        for w in sentence.split_whitespace() {
            let lw = w.to_ascii_lowercase();
            if matches!(lw.as_str(), "but" | "and" | "so" | "because") && !cur.is_empty() {
                out.push(cur.join(" "));
                cur.clear();
            } else {
                cur.push(w);
            }
        }
        if !cur.is_empty() {
            out.push(cur.join(" "));
        }
    }
    out.retain(|c| c.split_whitespace().count() >= 3);
    if out.len() < 2 {
        out.clear();
    }
    out
}

/// EXPORT=file.json: the embeddings of every example, built-in negative and dev-set text, for
/// trying classifier variants outside Rust.
fn export(embedder: &Embedder, intents: &[IntentSpec], dev: &toml::Table, path: &str) {
    let emb = |t: &str| embedder.embed(t).unwrap().as_slice().to_vec();
    let mut rows = Vec::new();
    for i in intents {
        for e in &i.examples {
            rows.push(serde_json::json!({"set": "example", "intent": i.name, "text": e, "v": emb(e)}));
        }
    }
    for t in nlu::builtin_negatives() {
        rows.push(serde_json::json!({"set": "background", "text": t, "v": emb(t)}));
    }
    for (want, texts) in dev["in_domain"].as_table().unwrap() {
        for t in texts.as_array().unwrap() {
            let t = t.as_str().unwrap();
            rows.push(serde_json::json!({"set": "dev", "intent": want, "text": t, "v": emb(t)}));
        }
    }
    for t in dev["out_of_domain"]["texts"].as_array().unwrap() {
        let t = t.as_str().unwrap();
        rows.push(serde_json::json!({"set": "dev_ood", "text": t, "v": emb(t)}));
    }
    std::fs::write(path, serde_json::to_string(&rows).unwrap()).unwrap();
}
