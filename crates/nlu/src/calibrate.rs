//! From intent features to P(correct): a small logistic fit on samples made at build time.
//!
//! The samples come from the examples themselves (see `intent.rs` for how they are drawn):
//! each is a feature vector ([`crate::score::Features`]) and whether the best intent was the
//! right one. The fit is Platt scaling over three features instead of one score, with every
//! weight kept non-negative so that more similarity, more word overlap or a larger margin
//! never lowers the confidence.

/// Generic sentences that belong to no contact-center intent. Scored against the examples at
/// build time as negatives, so that confidence falls for what sits far from every intent.
/// Topics are deliberately everyday and broad; a sentence too close to some configured
/// example is dropped at build time (a tenant may well have an intent about one of them).
pub(crate) const BACKGROUND: &[&str] = &[
    "what time does the football game start tonight",
    "can you recommend a good pizza place nearby",
    "how many ounces are in a cup",
    "tell me a joke",
    "who won the basketball championship last year",
    "play some relaxing music",
    "I'm looking for a recipe for banana bread",
    "how far is it to the airport",
    "what's the capital of australia",
    "my neighbor's car alarm keeps going off",
    "I think I left the stove on",
    "sorry I was talking to someone else",
    "hold on let me find my glasses",
    "the kids are being really loud right now",
    "thank you for watching",
    "please subscribe to my channel",
    "I like turtles",
    "what's two plus two",
    "how do you spell necessary",
    "set an alarm for seven in the morning",
    "remind me to buy milk",
    "I'm going on vacation to spain next month",
    "the movie was fantastic",
    "can you sing a song",
    "is it going to be a long line at the post office",
    "my grandmother makes the best soup",
    "what's the meaning of life",
    "I need a haircut",
    "translate hello into french",
    "where can I buy cheap concert tickets",
    "how do I get a fishing license",
    "the train was late again this morning",
    "I'm just testing this thing",
    "blah blah blah",
    "are you a robot",
    "what's your favorite color",
    "I lost my keys at the park",
    "how tall is mount everest",
    "the garden needs watering",
    "book me a table for two at eight",
    "I'm allergic to peanuts",
    "how long should I boil an egg",
    "we should paint the living room blue",
    "do you know any good podcasts",
    "the cat knocked over a glass of water",
    "I want to learn how to play guitar",
    "which bus goes downtown",
    "my sister is getting married in june",
    "what year did the titanic sink",
    "I'm bored",
];

/// The fitted mapping. Features are standardized with the training mean and spread.
#[derive(Debug, Clone, PartialEq)]
pub(crate) struct Platt {
    bias: f64,
    weights: [f64; 3],
    mean: [f64; 3],
    scale: [f64; 3],
}

/// One training sample: features, whether the best intent was correct, sample weight.
pub(crate) type Sample = ([f32; 3], bool, f64);

// `k` indexes the features of several parallel arrays at once (x, weights, mean, scale).
#[allow(clippy::needless_range_loop)]
impl Platt {
    /// Used when there is nothing to fit on (every intent has a single example and no negative
    /// survived): P = 0.5 at a semantic score of 0.5, rising with similarity and overlap.
    pub(crate) fn fallback() -> Platt {
        Platt {
            bias: -6.0,
            weights: [12.0, 2.0, 4.0],
            mean: [0.0; 3],
            scale: [1.0; 3],
        }
    }

    pub(crate) fn prob(&self, x: [f32; 3]) -> f32 {
        let mut z = self.bias;
        for k in 0..3 {
            z += self.weights[k] * (f64::from(x[k]) - self.mean[k]) / self.scale[k];
        }
        sigmoid(z) as f32
    }

    /// Weighted logistic regression by projected gradient descent (weights clamped at zero,
    /// bias free), with a light L2 penalty so separable data cannot drive weights to infinity.
    /// Returns `None` without both a positive and a negative sample.
    pub(crate) fn fit(samples: &[Sample]) -> Option<Platt> {
        let has_pos = samples.iter().any(|s| s.1 && s.2 > 0.0);
        let has_neg = samples.iter().any(|s| !s.1 && s.2 > 0.0);
        if !has_pos || !has_neg {
            return None;
        }
        let total: f64 = samples.iter().map(|s| s.2).sum();
        let mut mean = [0f64; 3];
        let mut scale = [0f64; 3];
        for (x, _, w) in samples {
            for k in 0..3 {
                mean[k] += w * f64::from(x[k]) / total;
            }
        }
        for (x, _, w) in samples {
            for k in 0..3 {
                scale[k] += w * (f64::from(x[k]) - mean[k]).powi(2) / total;
            }
        }
        // A feature that never varies (e.g. no lexical evidence at all) gets unit scale.
        scale
            .iter_mut()
            .for_each(|s| *s = if *s > 1e-12 { s.sqrt() } else { 1.0 });
        let xs: Vec<([f64; 3], f64, f64)> = samples
            .iter()
            .map(|(x, y, w)| {
                let z = std::array::from_fn(|k| (f64::from(x[k]) - mean[k]) / scale[k]);
                (z, if *y { 1.0 } else { 0.0 }, w / total)
            })
            .collect();

        const L2: f64 = 1e-3;
        const STEP: f64 = 1.0;
        let mut bias = 0f64;
        let mut wts = [0f64; 3];
        for _ in 0..4000 {
            let mut g_b = 0f64;
            let mut g_w = [0f64; 3];
            for (x, y, w) in &xs {
                let p = sigmoid(bias + (0..3).map(|k| wts[k] * x[k]).sum::<f64>());
                let d = w * (p - y);
                g_b += d;
                for k in 0..3 {
                    g_w[k] += d * x[k];
                }
            }
            bias -= STEP * g_b;
            for k in 0..3 {
                wts[k] = (wts[k] - STEP * (g_w[k] + L2 * wts[k])).max(0.0);
            }
        }
        Some(Platt {
            bias,
            weights: wts,
            mean,
            scale,
        })
    }
}

fn sigmoid(z: f64) -> f64 {
    1.0 / (1.0 + (-z).exp())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn fit_needs_both_classes() {
        assert!(Platt::fit(&[([0.9, 0.5, 0.2], true, 1.0)]).is_none());
        assert!(Platt::fit(&[]).is_none());
    }

    #[test]
    fn fit_is_monotone_and_separates() {
        let mut s = Vec::new();
        for k in 0..50 {
            let t = k as f32 / 50.0;
            s.push(([0.6 + 0.3 * t, 0.5, 0.1 + 0.1 * t], true, 1.0));
            s.push(([0.1 + 0.3 * t, 0.0, 0.02 * t], false, 1.0));
        }
        let p = Platt::fit(&s).expect("both classes");
        assert!(p.prob([0.85, 0.5, 0.15]) > 0.9);
        assert!(p.prob([0.2, 0.0, 0.01]) < 0.1);
        assert!(p.prob([0.7, 0.3, 0.1]) <= p.prob([0.75, 0.3, 0.1]));
        assert!(p.weights.iter().all(|w| *w >= 0.0));
    }

    #[test]
    fn fallback_is_even_at_half_similarity() {
        let p = Platt::fallback();
        assert!((p.prob([0.5, 0.0, 0.0]) - 0.5).abs() < 1e-6);
    }
}
