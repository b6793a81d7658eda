//! The category model: multinomial naive Bayes over the words (and characters) of a call,
//! with the centre's own words (`categories.toml`) as evidence it starts from and keeps.
//!
//! Why this model: a centre must be able to see why a category was suggested and trust it
//! from day one. Naive Bayes gives each word a weight per category that can be read off
//! ("路灯 and 不亮 led to 路灯故障"), trains in one pass over the history (seconds for a
//! year of tickets), answers in microseconds, and degrades gracefully: with no history the
//! centre's words alone decide, and each ticket the centre files adds its words to its
//! category's evidence.
//!
//! Precisely, for a call with the set of features W (its words and characters known to the
//! model, see [`super::features`]), each leaf category c is scored
//!
//! ```text
//! log P(c) + Σ_{w ∈ W} log P(w | c)
//! P(c)      ∝ ((tickets_c + 1) / (tickets + leaves)) ^ PRIOR_POWER
//! P(w | c)  = (1 − λ_c) · P_words(w | c) + λ_c · P_history(w | c)
//! λ_c       = HISTORY_MAX_SHARE · tickets_c / (tickets_c + HISTORY_HALF)
//! P_words   = (s_c(w) + β) / (S_c + β·|V|)     s_c(w) = WORD_WEIGHT if w is one of c's words,
//!                                                 WORD_WEIGHT·PARENT_SHARE per ancestor naming
//!                                                 it, CHARACTER_SHARE of that for each of
//!                                                 their characters
//! P_history = (n_c(w) + β) / (N_c + β·|V|)     n_c(w) = tickets of c containing w
//! ```
//!
//! where S_c, N_c are the sums over the vocabulary V. A word counts once per ticket (short
//! texts repeat little, and a caller saying 漏水 three times is not three times as sure).
//!
//! Why the two distributions are mixed rather than their counts added: a centre's history is
//! written in its operators' words, often a few set phrases per category ("来电人反映…，希望尽快
//! 处理"), and in the numbers its callers happen to bring (many enquiries, few praises). Added
//! counts let a category's hundreds of tickets drown the centre's dozen words, so a call in
//! the words callers actually use, which the history lacks, loses its evidence; and raw
//! ticket counts push the common categories up everywhere. Measured on the tuning set
//! (`tests/data/suggest_tuning.toml`, see ops/bench/RESULTS.md), adding counts made 3,000 demo
//! tickets worse than none; mixing, with the centre's words keeping at least half the weight
//! and the prior flattened (PRIOR_POWER), makes history help.
//!
//! The scores become 0–1 by a softmax with a temperature (naive Bayes is overconfident: raw
//! posteriors would read 1.00 and 0.00). A category is only suggested with at least one
//! feature speaking for it: those whose P(w | c) is furthest above their average over all
//! categories, which are also the `why` shown to the operator.

use serde::{Deserialize, Serialize};
use std::collections::{BTreeMap, HashMap};

use super::super::district::District;

/// The weight of a category's own word in its word distribution (ancestors' words and characters
/// weigh shares of it).
pub const WORD_WEIGHT: f64 = 4.0;
/// A word given to a parent category counts this share of a leaf's own for each leaf below.
pub const PARENT_SHARE: f64 = 0.5;
/// A character of a category's word counts this share of the word (see [`super::features`]).
pub const CHARACTER_SHARE: f64 = 0.5;
/// Additive smoothing (β): a word never seen with a category is unlikely there, not impossible.
pub const SMOOTHING: f64 = 0.05;
/// The most the history of a category weighs against the centre's words for it (λ above):
/// the words stay what callers who speak unlike the history are matched by.
pub const HISTORY_MAX_SHARE: f64 = 0.5;
/// Tickets of a category at which its history has half of [`HISTORY_MAX_SHARE`].
pub const HISTORY_HALF: f64 = 50.0;
/// How much the share of tickets a category had sways the suggestion (1: fully, 0: not).
pub const PRIOR_POWER: f64 = 0.5;
/// Softmax temperature over the log scores: spreads the 0–1 scores so the runner-up is visible.
pub const TEMPERATURE: f64 = 2.0;
/// Words shown as the reason for one category.
pub const MAX_WHY: usize = 3;

/// What the centre's tickets taught: per leaf category, how many tickets it had and in how
/// many of them each word occurred. This is what a model version stores; the centre's words
/// are added when the model is built, so an edit of `categories.toml` counts at once.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
pub struct History {
    /// Tickets learned from.
    pub tickets: u64,
    pub categories: BTreeMap<String, CategoryCounts>,
}

#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
pub struct CategoryCounts {
    pub tickets: u64,
    /// Word → tickets of this category containing it.
    pub words: BTreeMap<String, u64>,
}

impl History {
    /// Learns one ticket: its final category and its features (see [`super::features`]).
    pub fn add(&mut self, category: &str, features: &[String]) {
        self.tickets += 1;
        let counts = self.categories.entry(category.to_string()).or_default();
        counts.tickets += 1;
        for word in features {
            *counts.words.entry(word.clone()).or_default() += 1;
        }
    }

    /// Forgets the counts of categories the district no longer files under (a renamed or
    /// removed leaf), so they cannot be suggested.
    pub fn retain_leaves(&mut self, district: &District) {
        let before = self.categories.len();
        self.categories.retain(|code, _| district.is_leaf_category(code));
        if self.categories.len() != before {
            self.tickets = self.categories.values().map(|c| c.tickets).sum();
        }
    }
}

/// One leaf category as suggested.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct Scored {
    pub code: String,
    pub score: f64,
    /// The call's words that speak most for this category, strongest first.
    pub why: Vec<String>,
}

/// A model ready to answer: the history and the centre's words combined into one table of
/// log P(w | c) per word, dense over the leaves.
#[derive(Debug, Clone)]
pub struct Model {
    /// Leaf codes, in file order; index = column of every row below.
    leaves: Vec<String>,
    log_prior: Vec<f64>,
    /// Word → log P(w | c) for each leaf.
    log_likelihood: HashMap<String, Vec<f32>>,
    /// Word → the mean of its row: how likely it is anywhere (for `why`).
    mean: HashMap<String, f32>,
    /// The centre's words, longest first: looked for as substrings of the call.
    centre_words: Vec<String>,
}

impl Model {
    /// Builds the model from the history (possibly empty) and the district's category words.
    pub fn build(history: &History, district: &District) -> Model {
        let leaves: Vec<String> = district.leaf_categories().map(|c| c.code.clone()).collect();
        let mut given: Vec<HashMap<String, f64>> = vec![HashMap::new(); leaves.len()];
        let mut centre_words: Vec<String> = Vec::new();
        for (i, code) in leaves.iter().enumerate() {
            // The leaf's own words, then each ancestor's at a share; each word's characters at
            // a share of the word.
            let mut weight = WORD_WEIGHT;
            let mut current = Some(code.as_str());
            while let Some(at) = current {
                if let Some(category) = district.category(at) {
                    for word in &category.words {
                        let word = super::normalise(word);
                        let characters = word.chars().filter(|c| super::character_feature(*c));
                        let pieces = std::iter::once((word.clone(), weight))
                            .chain(characters.map(|c| (c.to_string(), weight * CHARACTER_SHARE)));
                        for (feature, w) in pieces {
                            let n = given[i].entry(feature).or_default();
                            *n = n.max(w);
                        }
                        if !centre_words.contains(&word) {
                            centre_words.push(word);
                        }
                    }
                }
                weight *= PARENT_SHARE;
                current = at.rsplit_once('.').map(|(parent, _)| parent);
            }
        }
        centre_words.sort_by_key(|w| std::cmp::Reverse(w.chars().count()));
        let empty = CategoryCounts::default();
        let learned: Vec<&CategoryCounts> =
            leaves.iter().map(|code| history.categories.get(code).unwrap_or(&empty)).collect();

        let mut vocabulary: Vec<&String> =
            given.iter().flat_map(|c| c.keys()).chain(learned.iter().flat_map(|c| c.words.keys())).collect();
        vocabulary.sort();
        vocabulary.dedup();
        let v = vocabulary.len().max(1) as f64;
        // Per leaf: the two denominators and the history's share.
        let given_totals: Vec<f64> = given.iter().map(|c| c.values().sum::<f64>() + SMOOTHING * v).collect();
        let learned_totals: Vec<f64> =
            learned.iter().map(|c| c.words.values().sum::<u64>() as f64 + SMOOTHING * v).collect();
        let shares: Vec<f64> =
            learned.iter().map(|c| HISTORY_MAX_SHARE * c.tickets as f64 / (c.tickets as f64 + HISTORY_HALF)).collect();
        let mut log_likelihood = HashMap::with_capacity(vocabulary.len());
        let mut mean = HashMap::with_capacity(vocabulary.len());
        for word in vocabulary {
            let row: Vec<f32> = (0..leaves.len())
                .map(|i| {
                    let from_words = (given[i].get(word).copied().unwrap_or(0.0) + SMOOTHING) / given_totals[i];
                    let from_history =
                        (learned[i].words.get(word).copied().unwrap_or(0) as f64 + SMOOTHING) / learned_totals[i];
                    ((1.0 - shares[i]) * from_words + shares[i] * from_history).ln() as f32
                })
                .collect();
            mean.insert(word.clone(), row.iter().sum::<f32>() / row.len().max(1) as f32);
            log_likelihood.insert(word.clone(), row);
        }

        let total_tickets = learned.iter().map(|c| c.tickets).sum::<u64>() as f64;
        let log_prior = learned
            .iter()
            .map(|c| PRIOR_POWER * ((c.tickets as f64 + 1.0) / (total_tickets + leaves.len() as f64)).ln())
            .collect();
        Model { leaves, log_prior, log_likelihood, mean, centre_words }
    }

    /// The centre's words, longest first.
    pub fn centre_words(&self) -> &[String] {
        &self.centre_words
    }

    /// How many distinct words the model knows.
    pub fn vocabulary(&self) -> usize {
        self.log_likelihood.len()
    }

    /// Whether the model knows the word.
    pub fn knows(&self, word: &str) -> bool {
        self.log_likelihood.contains_key(word)
    }

    /// The best leaf categories for a call's features, best first, at most `limit`; each with
    /// at least one word speaking for it. Empty when no feature is known to the model.
    pub fn rank(&self, features: &[String], limit: usize) -> Vec<Scored> {
        let known: Vec<(&String, &Vec<f32>)> =
            features.iter().filter_map(|w| self.log_likelihood.get_key_value(w.as_str())).collect();
        if known.is_empty() || self.leaves.is_empty() {
            return Vec::new();
        }
        let mut scores = self.log_prior.clone();
        for (_, row) in &known {
            for (s, l) in scores.iter_mut().zip(row.iter()) {
                *s += f64::from(*l);
            }
        }
        let top = scores.iter().cloned().fold(f64::NEG_INFINITY, f64::max);
        let weights: Vec<f64> = scores.iter().map(|s| ((s - top) / TEMPERATURE).exp()).collect();
        let sum: f64 = weights.iter().sum();

        let mut order: Vec<usize> = (0..self.leaves.len()).collect();
        order.sort_by(|&a, &b| scores[b].total_cmp(&scores[a]).then(a.cmp(&b)));
        let mut out = Vec::new();
        for i in order {
            if out.len() == limit {
                break;
            }
            let why = self.why(&known, i);
            if why.is_empty() {
                continue;
            }
            out.push(Scored { code: self.leaves[i].clone(), score: weights[i] / sum, why });
        }
        out
    }

    /// The words most in favour of leaf `i`: log P(w | c) above the word's mean over all
    /// categories, largest lift first; whole words before single characters (墙面 and 鼓包 say
    /// more to an operator than 墙 and 面), which only show when no word speaks for it.
    fn why(&self, known: &[(&String, &Vec<f32>)], i: usize) -> Vec<String> {
        let mut lifts: Vec<(f32, &String)> = known
            .iter()
            .map(|(w, row)| (row[i] - self.mean.get(w.as_str()).copied().unwrap_or(0.0), *w))
            // A word must be clearly more likely here than on average (e^0.5 ≈ 1.6 times).
            .filter(|(lift, _)| *lift > 0.5)
            .collect();
        let is_character = |w: &String| w.chars().count() == 1;
        lifts.sort_by(|a, b| is_character(a.1).cmp(&is_character(b.1)).then(b.0.total_cmp(&a.0)).then(a.1.cmp(b.1)));
        lifts.into_iter().take(MAX_WHY).map(|(_, w)| w.clone()).collect()
    }
}
