//! Intent classification from a few examples per intent, with a calibrated confidence.
//!
//! Scoring (per intent, see `score.rs`): the mean cosine of the query to the intent's `top_k`
//! nearest examples, plus `lexical_weight` times the IDF-weighted share of the query's content
//! words found in the intent's examples. The best-ranked intent is the candidate.
//!
//! Confidence is P(the candidate is right), from a logistic fit (`calibrate.rs`) over three
//! features of the candidate: semantic score, lexical share, and margin over the runner-up.
//! The fit uses samples drawn from the configuration itself at build time:
//! - positives and in-domain errors: every example scored against the other examples
//!   (leave-one-out); labelled by whether the candidate was its own intent;
//! - unconfigured-intent negatives: every example scored with its whole intent removed, which
//!   is what a caller asking for something the tenant did not configure looks like;
//! - background negatives: built-in everyday sentences (dropped when too close to an example)
//!   and the tenant's own `negatives`.
//!
//! Positives carry half the total weight and negatives the other half (a quarter of it to the
//! in-domain group, three quarters to the background group: see `IN_DOMAIN_NEGATIVE_SHARE`), so
//! 0.5 is the point where a false match and a missed match cost the same. No test phrasing takes
//! part in any of this.

use serde::{Deserialize, Serialize};

use crate::calibrate::{Platt, Sample, BACKGROUND};
use crate::lexical::{contains_phrase, content_words, words};
use crate::score::{Bank, Exclude};
use crate::{Embedder, Embedding, NluError};

/// One intent as configured by a tenant.
#[derive(Debug, Clone, PartialEq, Deserialize, Serialize)]
#[serde(deny_unknown_fields)]
pub struct IntentSpec {
    /// The name reported in [`Classification::intent`]; unique, not empty.
    pub name: String,
    /// Example phrasings, several and varied (8-15 at least; 25-40 covering the intent's
    /// sub-topics and indirect phrasings match real callers better); no default.
    #[serde(default)]
    pub examples: Vec<String>,
    /// Phrases that decide the intent outright when they occur as whole words in the
    /// transcript, whatever the embedding says (default: none). Matching is case- and
    /// punctuation-insensitive on whole words ("agent" does not match "agents"). When several
    /// intents' keywords match, the longest phrase (in words) wins; on a tie, the intent listed
    /// first wins. Keywords ignore negation ("don't cancel" matches "cancel"): keep them to
    /// phrases that are unambiguous on their own.
    #[serde(default)]
    pub keywords: Vec<String>,
}

/// Classifier settings.
#[derive(Debug, Clone, PartialEq, Deserialize, Serialize)]
#[serde(deny_unknown_fields, default)]
pub struct ClassifierConfig {
    /// Calibrated confidence below which the result is no-match, in [0, 1]. Default 0.5.
    pub threshold: f32,
    /// How many nearest examples of an intent are averaged into its semantic score, >= 1.
    /// Default 3.
    pub top_k: usize,
    /// Weight of the lexical share beside the semantic score when ranking intents, in [0, 2].
    /// Default 0.3.
    pub lexical_weight: f32,
    /// Whether the built-in everyday sentences serve as negatives in calibration. Default true.
    pub builtin_negatives: bool,
    /// Extra sentences that must not match any intent (calibration negatives). Default none.
    pub negatives: Vec<String>,
}

impl Default for ClassifierConfig {
    fn default() -> Self {
        ClassifierConfig {
            threshold: 0.5,
            top_k: 3,
            lexical_weight: 0.3,
            builtin_negatives: true,
            negatives: Vec::new(),
        }
    }
}

impl ClassifierConfig {
    /// Checks ranges; the error names the field.
    pub fn validate(&self) -> Result<(), NluError> {
        let bad = |field, reason: &str| {
            Err(NluError::BadConfigValue {
                field,
                reason: reason.into(),
            })
        };
        if !(0.0..=1.0).contains(&self.threshold) {
            return bad("threshold", "must be within [0, 1]");
        }
        if self.top_k == 0 {
            return bad("top_k", "must be at least 1");
        }
        if !(0.0..=2.0).contains(&self.lexical_weight) {
            return bad("lexical_weight", "must be within [0, 2]");
        }
        Ok(())
    }
}

/// How the intent was decided.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum MatchSource {
    Embedding,
    Keyword,
}

/// The result of [`IntentClassifier::classify`].
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct Classification {
    /// The intent, or `None` for no match (confidence below the threshold, or nothing to match).
    pub intent: Option<String>,
    /// Calibrated P(the best candidate is right), in [0, 1]; 1 for a keyword match, 0 when
    /// there is no candidate at all.
    pub confidence: f32,
    /// The best candidate and its confidence, even when below the threshold.
    pub best: Option<(String, f32)>,
    pub source: MatchSource,
}

impl Classification {
    /// No match and no candidate: what a caller reports for an empty transcript, which has no
    /// embedding ([`NluError::EmptyText`]).
    pub fn no_match() -> Classification {
        Classification {
            intent: None,
            confidence: 0.0,
            best: None,
            source: MatchSource::Embedding,
        }
    }
}

/// What calibration was fitted on, for logs and tuning.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct CalibrationSummary {
    /// Leave-one-out samples whose candidate was their own intent.
    pub positives: usize,
    /// Leave-one-out samples whose candidate was another intent.
    pub loo_errors: usize,
    /// Examples scored with their own intent removed.
    pub unconfigured_negatives: usize,
    /// Built-in and configured negatives used.
    pub background_negatives: usize,
    /// Built-in negatives dropped for being too close to an example.
    pub background_dropped: usize,
    /// Whether the fixed fallback mapping is used (nothing to fit on).
    pub fallback: bool,
}

/// A built classifier: example embeddings, word statistics and the calibration. Immutable and
/// `Send + Sync`; [`IntentClassifier::classify`] does no model work.
#[derive(Debug)]
pub struct IntentClassifier {
    names: Vec<String>,
    /// Keyword phrases as word sequences, per intent.
    keywords: Vec<Vec<Vec<String>>>,
    bank: Bank,
    platt: Platt,
    config: ClassifierConfig,
    summary: CalibrationSummary,
}

/// A built-in negative closer than this (cosine) to any example is not used: it may be
/// something the tenant does want to match.
const BACKGROUND_MAX_COSINE: f32 = 0.6;

/// Share of the negatives' calibration weight given to the in-domain negatives (leave-one-out
/// errors and examples scored with their intent removed); the background negatives get the
/// rest. In-domain negatives are paraphrases of the tenant's own topics: weighted as much as
/// truly unrelated sentences they teach the fit that any indirect in-domain phrasing is a
/// negative, and real callers' indirect phrasings fall below the threshold. A quarter keeps
/// them as evidence about confusable intents without letting them set the threshold.
const IN_DOMAIN_NEGATIVE_SHARE: f64 = 0.25;

/// Texts per forward pass when embedding examples (bounds the padded batch's memory).
const EMBED_CHUNK: usize = 32;

impl IntentClassifier {
    /// Validates the specs and config, embeds every example and negative once, and fits the
    /// calibration.
    pub fn build(
        embedder: &Embedder,
        intents: &[IntentSpec],
        config: ClassifierConfig,
    ) -> Result<IntentClassifier, NluError> {
        config.validate()?;
        validate_specs(intents)?;

        let mut examples = Vec::with_capacity(intents.len());
        for spec in intents {
            let texts: Vec<&str> = spec.examples.iter().map(String::as_str).collect();
            let embs = embed_all(embedder, &texts).map_err(|e| match e {
                NluError::EmptyText => NluError::BadIntent {
                    intent: spec.name.clone(),
                    reason: "an example has no letters or digits".into(),
                },
                other => other,
            })?;
            let pairs = embs
                .into_iter()
                .zip(texts.iter().map(|t| content_words(t)))
                .collect();
            examples.push(pairs);
        }
        let bank = Bank::new(examples, config.top_k, config.lexical_weight);

        let mut background: Vec<&str> = Vec::new();
        if config.builtin_negatives {
            background.extend_from_slice(BACKGROUND);
        }
        let builtin = background.len();
        let configured: Vec<&str> = config
            .negatives
            .iter()
            .map(String::as_str)
            .filter(|t| t.chars().any(char::is_alphanumeric))
            .collect();
        background.extend(configured);
        let background_embs = embed_all(embedder, &background)?;

        let (platt, summary) =
            calibrate(&bank, intents.len(), &background, &background_embs, builtin);
        Ok(IntentClassifier {
            names: intents.iter().map(|s| s.name.clone()).collect(),
            keywords: intents
                .iter()
                .map(|s| {
                    s.keywords
                        .iter()
                        .map(|k| words(k))
                        .filter(|k| !k.is_empty())
                        .collect()
                })
                .collect(),
            bank,
            platt,
            config,
            summary,
        })
    }

    /// Classifies a transcript from its text and its embedding (computed beforehand with
    /// [`Embedder::embed`] on the same text). Pure and cheap: dot products and word lookups.
    pub fn classify(&self, text: &str, embedding: &Embedding) -> Classification {
        let text_words = words(text);
        if let Some(i) = self.keyword_match(&text_words) {
            let name = self.names[i].clone();
            return Classification {
                intent: Some(name.clone()),
                confidence: 1.0,
                best: Some((name, 1.0)),
                source: MatchSource::Keyword,
            };
        }
        let content = content_words(text);
        let Some(f) = self.bank.features(&content, embedding, Exclude::Nothing) else {
            return Classification::no_match();
        };
        let p = self.platt.prob(f.as_array());
        let name = self.names[f.intent].clone();
        Classification {
            intent: (p >= self.config.threshold).then(|| name.clone()),
            confidence: p,
            best: Some((name, p)),
            source: MatchSource::Embedding,
        }
    }

    /// Intent names in configuration order.
    pub fn intents(&self) -> impl Iterator<Item = &str> {
        self.names.iter().map(String::as_str)
    }

    pub fn config(&self) -> &ClassifierConfig {
        &self.config
    }

    pub fn calibration(&self) -> &CalibrationSummary {
        &self.summary
    }

    /// Longest matching keyword phrase; ties go to the intent listed first.
    fn keyword_match(&self, text_words: &[String]) -> Option<usize> {
        let mut best: Option<(usize, usize)> = None; // (intent, phrase length)
        for (i, phrases) in self.keywords.iter().enumerate() {
            for p in phrases {
                if contains_phrase(text_words, p) && best.is_none_or(|(_, len)| p.len() > len) {
                    best = Some((i, p.len()));
                }
            }
        }
        best.map(|(i, _)| i)
    }
}

fn validate_specs(intents: &[IntentSpec]) -> Result<(), NluError> {
    for (k, spec) in intents.iter().enumerate() {
        let bad = |reason: &str| {
            Err(NluError::BadIntent {
                intent: spec.name.clone(),
                reason: reason.into(),
            })
        };
        if spec.name.trim().is_empty() {
            return bad("name is empty");
        }
        if intents[..k].iter().any(|o| o.name == spec.name) {
            return bad("name is used twice");
        }
        if spec.examples.is_empty() && spec.keywords.iter().all(|k| words(k).is_empty()) {
            return bad("needs at least one example or keyword");
        }
    }
    Ok(())
}

fn embed_all(embedder: &Embedder, texts: &[&str]) -> Result<Vec<Embedding>, NluError> {
    let mut out = Vec::with_capacity(texts.len());
    for chunk in texts.chunks(EMBED_CHUNK) {
        out.extend(embedder.embed_batch(chunk)?);
    }
    Ok(out)
}

/// Draws the calibration samples described in the module docs and fits the mapping.
fn calibrate(
    bank: &Bank,
    n_intents: usize,
    background: &[&str],
    background_embs: &[Embedding],
    builtin: usize,
) -> (Platt, CalibrationSummary) {
    let mut pos: Vec<[f32; 3]> = Vec::new();
    let mut in_domain_neg: Vec<[f32; 3]> = Vec::new();
    let mut background_neg: Vec<[f32; 3]> = Vec::new();
    let mut summary = CalibrationSummary {
        positives: 0,
        loo_errors: 0,
        unconfigured_negatives: 0,
        background_negatives: 0,
        background_dropped: 0,
        fallback: false,
    };
    for i in 0..n_intents {
        for j in 0..bank.example_count(i) {
            let Some((emb, ws)) = bank.example(i, j) else {
                continue;
            };
            if let Some(f) = bank.features(ws, emb, Exclude::Example(i, j)) {
                if f.intent == i {
                    pos.push(f.as_array());
                    summary.positives += 1;
                } else {
                    in_domain_neg.push(f.as_array());
                    summary.loo_errors += 1;
                }
            }
            if let Some(f) = bank.features(ws, emb, Exclude::Intent(i)) {
                in_domain_neg.push(f.as_array());
                summary.unconfigured_negatives += 1;
            }
        }
    }
    for (k, (text, emb)) in background.iter().zip(background_embs).enumerate() {
        // Built-in sentences near an example may be in scope for this tenant; configured
        // negatives are always used, the tenant asked for them.
        if k < builtin && bank.max_cosine(emb) > BACKGROUND_MAX_COSINE {
            summary.background_dropped += 1;
            continue;
        }
        if let Some(f) = bank.features(&content_words(text), emb, Exclude::Nothing) {
            background_neg.push(f.as_array());
            summary.background_negatives += 1;
        }
    }

    let mut samples: Vec<Sample> = Vec::new();
    let share = |n: usize, of: f64| if n == 0 { 0.0 } else { of / n as f64 };
    // The negatives' half of the weight: IN_DOMAIN_NEGATIVE_SHARE of it to the in-domain group,
    // the rest to the background group; all of it to whichever group is alone.
    let (g_in, g_bg) = match (in_domain_neg.is_empty(), background_neg.is_empty()) {
        (false, false) => (
            0.5 * IN_DOMAIN_NEGATIVE_SHARE,
            0.5 * (1.0 - IN_DOMAIN_NEGATIVE_SHARE),
        ),
        (false, true) => (0.5, 0.0),
        (true, false) => (0.0, 0.5),
        (true, true) => (0.0, 0.0),
    };
    let w_pos = share(pos.len(), 0.5);
    let w_in = share(in_domain_neg.len(), g_in);
    let w_bg = share(background_neg.len(), g_bg);
    samples.extend(pos.into_iter().map(|x| (x, true, w_pos)));
    samples.extend(in_domain_neg.into_iter().map(|x| (x, false, w_in)));
    samples.extend(background_neg.into_iter().map(|x| (x, false, w_bg)));
    let platt = Platt::fit(&samples).unwrap_or_else(|| {
        summary.fallback = true;
        Platt::fallback()
    });
    (platt, summary)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn assert_send_sync<T: Send + Sync>() {}

    #[test]
    fn classifier_is_shareable_across_threads() {
        assert_send_sync::<IntentClassifier>();
        assert_send_sync::<Classification>();
    }

    #[test]
    fn default_config_is_valid_and_documented_values() {
        let c = ClassifierConfig::default();
        assert!(c.validate().is_ok());
        assert_eq!((c.threshold, c.top_k, c.lexical_weight), (0.5, 3, 0.3));
        assert!(c.builtin_negatives && c.negatives.is_empty());
    }

    #[test]
    fn config_errors_name_the_field() {
        for (cfg, field) in [
            (
                ClassifierConfig {
                    threshold: -0.1,
                    ..Default::default()
                },
                "threshold",
            ),
            (
                ClassifierConfig {
                    threshold: f32::NAN,
                    ..Default::default()
                },
                "threshold",
            ),
            (
                ClassifierConfig {
                    top_k: 0,
                    ..Default::default()
                },
                "top_k",
            ),
            (
                ClassifierConfig {
                    lexical_weight: 3.0,
                    ..Default::default()
                },
                "lexical_weight",
            ),
        ] {
            let err = cfg.validate().expect_err("invalid");
            assert!(err.to_string().contains(field), "{err}");
        }
    }

    #[test]
    fn specs_need_a_unique_name_and_something_to_match() {
        let spec = |name: &str, ex: &[&str], kw: &[&str]| IntentSpec {
            name: name.into(),
            examples: ex.iter().map(|s| s.to_string()).collect(),
            keywords: kw.iter().map(|s| s.to_string()).collect(),
        };
        assert!(validate_specs(&[spec("a", &["x"], &[]), spec("b", &[], &["agent"])]).is_ok());
        assert!(validate_specs(&[spec(" ", &["x"], &[])]).is_err());
        assert!(validate_specs(&[spec("a", &["x"], &[]), spec("a", &["y"], &[])]).is_err());
        assert!(validate_specs(&[spec("a", &[], &["!!"])]).is_err());
    }
}
