//! Criterion benchmarks of the NLU stage: sentence embedding (the model call a compute thread
//! makes per final transcript) and intent classification (the pure scoring the dialogue engine
//! runs on that embedding).
//!
//! Run single-threaded, as on a compute-pool thread:
//! `RAYON_NUM_THREADS=1 cargo bench -p attendant-benches --bench nlu`. The model comes from
//! `$ATTENDANT_MODELS/all-MiniLM-L6-v2`, else `<repo>/models/all-MiniLM-L6-v2`
//! (`python3 tools/fetch_models.py`).

use std::hint::black_box;
use std::path::{Path, PathBuf};
use std::time::Duration;

use criterion::{criterion_group, criterion_main, Criterion};
use nlu::{ClassifierConfig, Embedder, IntentClassifier, IntentSpec};

fn model_dir() -> PathBuf {
    let models = std::env::var_os("ATTENDANT_MODELS")
        .map(PathBuf::from)
        .unwrap_or_else(|| Path::new(env!("CARGO_MANIFEST_DIR")).join("../models"));
    models.join(nlu::MODEL_DIR_NAME)
}

fn intent(name: &str, examples: &[&str]) -> IntentSpec {
    IntentSpec {
        name: name.into(),
        examples: examples.iter().map(|s| s.to_string()).collect(),
        keywords: Vec::new(),
    }
}

/// Seven intents of ten examples: the size of a typical tenant menu.
fn intents() -> Vec<IntentSpec> {
    let ten = |stem: &str| -> Vec<String> { (0..10).map(|k| format!("{stem} {k}")).collect() };
    let mut specs = vec![
        intent(
            "billing",
            &["I have a question about my bill", "why is my bill so high"],
        ),
        intent(
            "technical_support",
            &["my internet is not working", "the wifi keeps dropping"],
        ),
        intent(
            "cancel",
            &["I want to cancel my service", "please close my account"],
        ),
        intent(
            "payment",
            &["I want to pay my bill", "I'd like to make a payment"],
        ),
        intent(
            "sales",
            &["I'm interested in a new plan", "what packages do you offer"],
        ),
        intent(
            "outage",
            &["is there an outage in my area", "is the network down"],
        ),
        intent(
            "agent",
            &["I want to speak to a person", "let me talk to a human"],
        ),
    ];
    // Pad each intent to ten examples with variants of its first one: timing depends on the
    // number of examples, not on their wording.
    for s in &mut specs {
        let first = s.examples[0].clone();
        s.examples.extend(ten(&first).into_iter().take(8));
    }
    specs
}

const SHORT: &str = "I want to pay my bill.";
const LONGER: &str =
    "Hi, yeah, my internet has been down since this morning and I can't work from home.";

fn bench_nlu(c: &mut Criterion) {
    let embedder = Embedder::load(&model_dir()).unwrap_or_else(|e| panic!("{e}"));
    let classifier = IntentClassifier::build(&embedder, &intents(), ClassifierConfig::default())
        .unwrap_or_else(|e| panic!("{e}"));

    let mut g = c.benchmark_group("nlu");
    g.measurement_time(Duration::from_secs(8));
    g.bench_function("embed_short", |b| {
        b.iter(|| embedder.embed(black_box(SHORT)))
    });
    g.bench_function("embed_longer", |b| {
        b.iter(|| embedder.embed(black_box(LONGER)))
    });
    let emb = embedder.embed(SHORT).unwrap_or_else(|e| panic!("{e}"));
    g.bench_function("classify_70_examples", |b| {
        b.iter(|| classifier.classify(black_box(SHORT), black_box(&emb)))
    });
    g.bench_function("embed_and_classify_short", |b| {
        b.iter(|| {
            let e = embedder
                .embed(black_box(SHORT))
                .unwrap_or_else(|e| panic!("{e}"));
            classifier.classify(SHORT, &e)
        })
    });
    g.finish();
}

criterion_group!(benches, bench_nlu);
criterion_main!(benches);
