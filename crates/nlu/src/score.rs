//! Evidence for each intent: nearest example embeddings and content-word overlap.
//!
//! One function computes the features for a query, optionally pretending that one example or
//! one whole intent is not configured. The classifier uses it as is; calibration uses the
//! exclusions to score each example against the others (leave-one-out) and against a set where
//! its own intent is missing (a sentence whose intent nobody configured).

use std::collections::HashMap;

use crate::embed::Embedding;

/// What to leave out of the example bank for one scoring.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Exclude {
    Nothing,
    /// One example: (intent index, example index).
    Example(usize, usize),
    /// Every example of one intent.
    Intent(usize),
}

/// The features of the best-ranked intent for one query.
#[derive(Debug, Clone, Copy, PartialEq)]
pub(crate) struct Features {
    /// Index of the best intent.
    pub intent: usize,
    /// Mean of its top-k example cosines.
    pub semantic: f32,
    /// Its share of the query's content-word weight found in its examples, in [0, 1].
    pub lexical: f32,
    /// Its ranking score minus the runner-up's (the runner-up counts as 0 if there is none).
    pub margin: f32,
}

impl Features {
    pub(crate) fn as_array(&self) -> [f32; 3] {
        [self.semantic, self.lexical, self.margin]
    }
}

#[derive(Debug)]
struct IntentBank {
    examples: Vec<Embedding>,
    /// Stemmed content words of each example.
    example_words: Vec<Vec<String>>,
}

/// Example embeddings and words of every intent, indexed like the classifier's intents.
#[derive(Debug)]
pub(crate) struct Bank {
    intents: Vec<IntentBank>,
    /// word -> (intent, number of that intent's examples containing it).
    postings: HashMap<String, Vec<(usize, u32)>>,
    top_k: usize,
    lexical_weight: f32,
}

impl Bank {
    /// `examples[i]` are intent i's example (embedding, content words) pairs.
    pub(crate) fn new(
        examples: Vec<Vec<(Embedding, Vec<String>)>>,
        top_k: usize,
        lexical_weight: f32,
    ) -> Bank {
        let mut postings: HashMap<String, Vec<(usize, u32)>> = HashMap::new();
        let mut intents = Vec::with_capacity(examples.len());
        for (i, exs) in examples.into_iter().enumerate() {
            let (embs, words): (Vec<_>, Vec<_>) = exs.into_iter().unzip();
            for ws in &words {
                for w in ws {
                    let list = postings.entry(w.clone()).or_default();
                    match list.last_mut() {
                        Some((intent, count)) if *intent == i => *count += 1,
                        _ => list.push((i, 1)),
                    }
                }
            }
            intents.push(IntentBank {
                examples: embs,
                example_words: words,
            });
        }
        Bank {
            intents,
            postings,
            top_k: top_k.max(1),
            lexical_weight,
        }
    }

    pub(crate) fn example_count(&self, intent: usize) -> usize {
        self.intents.get(intent).map_or(0, |b| b.examples.len())
    }

    pub(crate) fn example(&self, intent: usize, ex: usize) -> Option<(&Embedding, &[String])> {
        let b = self.intents.get(intent)?;
        Some((b.examples.get(ex)?, b.example_words.get(ex)?.as_slice()))
    }

    /// Highest cosine between `emb` and any example; how close a sentence is to the domain.
    pub(crate) fn max_cosine(&self, emb: &Embedding) -> f32 {
        self.intents
            .iter()
            .flat_map(|b| b.examples.iter())
            .map(|e| e.cosine(emb))
            .fold(f32::NEG_INFINITY, f32::max)
    }

    /// Features of the best intent for a query, or `None` when no intent has an example left.
    pub(crate) fn features(
        &self,
        words: &[String],
        emb: &Embedding,
        exclude: Exclude,
    ) -> Option<Features> {
        let lexical = self.lexical(words, exclude);
        let mut cos: Vec<f32> = Vec::new();
        let mut best: Option<(usize, f32, f32)> = None; // (intent, rank score, semantic)
        let mut second = 0f32;
        for (i, bank) in self.intents.iter().enumerate() {
            if exclude == Exclude::Intent(i) {
                continue;
            }
            cos.clear();
            for (j, e) in bank.examples.iter().enumerate() {
                if exclude != Exclude::Example(i, j) {
                    cos.push(e.cosine(emb));
                }
            }
            if cos.is_empty() {
                continue;
            }
            // Mean of the k nearest examples: one lucky example counts less than a centroid
            // would let it, yet an intent with varied examples is not diluted by the far ones.
            let k = self.top_k.min(cos.len());
            cos.select_nth_unstable_by(k - 1, |a, b| b.total_cmp(a));
            let semantic = cos[..k].iter().sum::<f32>() / k as f32;
            let rank = semantic + self.lexical_weight * lexical[i];
            match best {
                Some((_, r, _)) if r >= rank => second = second.max(rank),
                _ => {
                    if let Some((_, r, _)) = best {
                        second = second.max(r);
                    }
                    best = Some((i, rank, semantic));
                }
            }
        }
        let (intent, rank, semantic) = best?;
        Some(Features {
            intent,
            semantic,
            lexical: lexical[intent],
            margin: rank - second,
        })
    }

    /// Per intent: the IDF-weighted share of the query's content words that occur in that
    /// intent's examples. A word found in every intent's examples weighs little; a word found
    /// nowhere weighs as much as a word unique to one intent, so off-topic words pull every
    /// intent's share down.
    fn lexical(&self, words: &[String], exclude: Exclude) -> Vec<f32> {
        let n = self.intents.len();
        let mut hits = vec![0f32; n];
        let participating = (0..n)
            .filter(|&i| exclude != Exclude::Intent(i))
            .filter(|&i| {
                let left = self.example_count(i)
                    - usize::from(matches!(exclude, Exclude::Example(e, _) if e == i));
                left > 0
            })
            .count()
            .max(1) as f32;
        let mut total = 0f32;
        let mut present: Vec<usize> = Vec::new();
        for w in words {
            present.clear();
            if let Some(list) = self.postings.get(w) {
                for &(i, count) in list {
                    let own = match exclude {
                        Exclude::Intent(x) if x == i => 0,
                        Exclude::Example(x, j) if x == i => {
                            count - u32::from(self.intents[i].example_words[j].contains(w))
                        }
                        _ => count,
                    };
                    if own > 0 {
                        present.push(i);
                    }
                }
            }
            let df = present.len().max(1) as f32;
            let weight = (1.0 + participating / df).ln();
            total += weight;
            for &i in &present {
                hits[i] += weight;
            }
        }
        if total > 0.0 {
            hits.iter_mut().for_each(|h| *h /= total);
        }
        hits
    }
}
