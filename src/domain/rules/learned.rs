//! A second opinion on urgency, learned from the centre's labelled calls
//! (`dispatch_rules/examples/*.tsv`, the format of `tests/routing_eval/README.md`).
//!
//! The emergency rules recognise an emergency by curated phrases; a new caller's words escape
//! them (over thirteen revision rounds a fresh writer's emergencies were missed 10–20 % of the
//! time, however many phrases were added). The dispatchers' own labels on thousands of calls
//! carry what no list holds. When no emergency rule proposed anything, this module asks two
//! naive Bayes models over the call's words, pairs of neighbouring words (the rules' cut), its
//! category at each level and its kind: is this call urgent, and if so, which emergency is it?
//! A confident yes becomes an ordinary 可能紧急 proposal of the catalogue's rule for that
//! emergency (its lead, policy and hand-off number), marked as learned and carrying the words
//! that weighed most, and the operator confirms or dismisses it as any other.
//!
//! It only ever adds a proposal: a rule's proposal is never withdrawn (measured, vetoing them
//! would have dropped real emergencies), and a rule's lead is never replaced (measured blind, a
//! learned lead over the rules' lost as many ordinary calls as it won; `ops/bench/RESULTS.md`).
//!
//! Naive Bayes because it learns in one pass (a catalogue loads in milliseconds, in every test
//! server too) and answers from the features present only (a few µs on the intake path). Its
//! probabilities are over-confident, so the threshold is measured on calls the models did not
//! learn from, not read off the number.

use rustc_hash::{FxBuildHasher, FxHasher};
use serde::Serialize;
use std::hash::{BuildHasher, Hash, Hasher};

use super::evaluation::{parse_cases, Case};
use crate::domain::diagnostic::Diagnostic;
use crate::domain::district::District;

/// A call is proposed as urgent when the urgency model gives it at least this probability.
/// Chosen on the development sets each routed by the catalogue as it stood before that set was
/// read (d, e, f, h, i, j, k; `ops/bench/RESULTS.md`, "A second opinion on urgency"): from 0.5 to
/// 0.9999 the catches hardly moved (81 → 79 of the rules' 85 misses) while the false proposals
/// fell (8 → 3 more among 980 ordinary calls); 0.99 (80 caught, 4 more false) is where both settle.
pub const PROPOSE_AT: f64 = 0.99;

/// The rule id a learned proposal carries: the dispatch statistics count its proposals
/// confirmed and dismissed as any rule's, so a centre sees whether the learning cries wolf.
pub const LEARNED_RULE_ID: &str = "learned-urgency";

/// The folder of the catalogue holding the labelled calls learned from.
pub const EXAMPLES_DIR: &str = "examples";

/// How many words a learned proposal names as its evidence.
const EVIDENCE_WORDS: usize = 3;

/// Laplace smoothing of the feature counts.
const SMOOTHING: f64 = 0.1;

/// One labelled call as a model reads it.
struct Example<'a> {
    category: &'a str,
    kind: &'a str,
    /// The content cut into words (punctuation included; it is skipped).
    words: &'a [&'a str],
    class: &'a str,
}

/// What a learned proposal says of itself (shown as 按历史来电判断, 把握 97%).
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Learned {
    /// The urgency model's probability, in whole per cent (rounded down).
    pub percent: u8,
    /// How many labelled calls the models learned from.
    pub examples: usize,
}

/// The two models: urgent or not, and which emergency.
#[derive(Debug, Default)]
pub struct LearnedUrgency {
    urgency: Classifier,
    emergency: Classifier,
    examples: usize,
}

/// A learned proposal before the catalogue's rule for its label is looked up.
#[derive(Debug, Clone, PartialEq)]
pub struct Guess {
    pub label: String,
    pub probability: f64,
    /// The words that weighed most towards urgent, strongest first.
    pub evidence: Vec<String>,
}

const URGENT: &str = "urgent";
const NORMAL: &str = "normal";

impl LearnedUrgency {
    /// Learns from labelled calls (`words` is each call's content cut into words); no calls,
    /// or no urgent ones, give models that never propose.
    pub fn learn(cases: &[Case], words: &[Vec<&str>]) -> LearnedUrgency {
        fn example<'a>(case: &'a Case, words: &'a [&'a str], class: &'a str) -> Example<'a> {
            Example { category: &case.category, kind: &case.kind, words, class }
        }
        let all: Vec<Example> =
            cases.iter().zip(words).map(|(c, w)| example(c, w, if c.urgent { URGENT } else { NORMAL })).collect();
        let urgent: Vec<Example> = cases
            .iter()
            .zip(words)
            .filter_map(|(c, w)| c.emergency.as_deref().map(|label| example(c, w, label)))
            .collect();
        if urgent.is_empty() {
            return LearnedUrgency::default();
        }
        LearnedUrgency {
            urgency: Classifier::learn(&all),
            emergency: Classifier::learn(&urgent),
            examples: cases.len(),
        }
    }

    /// How many labelled calls it learned from.
    pub fn examples(&self) -> usize {
        self.examples
    }

    /// The emergency this call most likely is, when the urgency model is at least
    /// [`PROPOSE_AT`] sure it is one.
    pub fn guess(&self, category: &str, kind: &str, words: &[&str]) -> Option<Guess> {
        let features = features(category, kind, words);
        let (class, probability) = self.urgency.best(&features)?;
        if class != URGENT || probability < PROPOSE_AT {
            return None;
        }
        let (label, _) = self.emergency.best(&features)?;
        let evidence = self.urgency.evidence(&features, URGENT, NORMAL, EVIDENCE_WORDS);
        Some(Guess { label: label.to_string(), probability, evidence })
    }
}

/// Reads the labelled calls (`examples/*.tsv`). A malformed line, or a category, kind or lead
/// the district does not have, is an error naming the file and line; that file's calls are then
/// not learned from.
pub fn parse_examples(files: &[(String, String)], district: &District, diags: &mut Vec<Diagnostic>) -> Vec<Case> {
    let mut cases = Vec::new();
    for (name, source) in files {
        match parse_cases(name, source) {
            Err(d) => diags.push(d),
            Ok(read) => {
                let before = diags.len();
                for case in &read {
                    let mut problem = |message: String| diags.push(Diagnostic::error(name, case.line, 0, message));
                    if !district.is_leaf_category(&case.category) {
                        problem(format!("category `{}` is not a leaf category of categories.toml", case.category));
                    }
                    if !super::KINDS.contains(&case.kind.as_str()) {
                        problem(format!("kind `{}` is not one of {}", case.kind, super::KINDS.join(" ")));
                    }
                    if district.department(&case.lead).is_none() {
                        problem(format!("lead `{}` is not a department of departments.toml", case.lead));
                    }
                }
                if diags.len() == before {
                    cases.extend(read);
                }
            }
        }
    }
    cases
}

/// A feature: a hash of what it is (a word, a pair, a category level, a kind) and its text, so
/// that reading a call allocates nothing per feature.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
struct Feature(u64);

/// Fx hashing is unseeded: a feature hashes the same in every model and every run.
fn feature(tag: u8, parts: &[&str]) -> Feature {
    let mut hasher: FxHasher = FxBuildHasher.build_hasher();
    tag.hash(&mut hasher);
    for part in parts {
        part.hash(&mut hasher);
    }
    Feature(hasher.finish())
}

const WORD: u8 = 0;
const PAIR: u8 = 1;
const CATEGORY: u8 = 2;
const KIND: u8 = 3;

/// The features of a call: its words and pairs of neighbouring words (once each), its category
/// at every level, its kind, each counting as one. The word features keep their text, for the
/// evidence a proposal shows.
fn features<'a>(category: &str, kind: &str, words: &[&'a str]) -> Vec<(Feature, Option<&'a str>)> {
    let mut out = Vec::with_capacity(2 * words.len() + 5);
    let mut previous: Option<&str> = None;
    for word in words {
        let word = word.trim();
        if word.is_empty() || word.chars().all(|c| !c.is_alphanumeric()) {
            previous = None;
            continue;
        }
        out.push((feature(WORD, &[word]), Some(word)));
        // Pairs of neighbouring words carry what single words do not: 打不 着火 against 着火 了.
        if let Some(p) = previous {
            out.push((feature(PAIR, &[p, word]), None));
        }
        previous = Some(word);
    }
    // A word said twice is one sign, not two.
    out.sort_by_key(|(f, _)| f.0);
    out.dedup_by_key(|(f, _)| f.0);
    for (i, c) in category.char_indices() {
        if c == '.' {
            out.push((feature(CATEGORY, &[&category[..i]]), None));
        }
    }
    if !category.is_empty() {
        out.push((feature(CATEGORY, &[category]), None));
    }
    out.push((feature(KIND, &[kind]), None));
    out
}

/// Multinomial naive Bayes over [`features`]. Held as sorted flat arrays (a feature's lifts
/// are `lifts[starts[i]..starts[i + 1]]` for `keys[i]`), not a map of vectors: a catalogue's
/// models take ~2 MB where the map took ~20, and the demo server must idle under 100 MB.
#[derive(Debug, Default)]
struct Classifier {
    classes: Vec<String>,
    log_prior: Vec<f64>,
    /// log P(feature | class) for a known feature never seen with the class.
    log_unseen: Vec<f64>,
    /// The known features, sorted.
    keys: Vec<u64>,
    starts: Vec<u32>,
    /// (class, log P(feature | class) − log_unseen[class]).
    lifts: Vec<(u16, f32)>,
}

impl Classifier {
    fn learn(examples: &[Example]) -> Classifier {
        let mut classes: Vec<String> = examples.iter().map(|e| e.class.to_string()).collect();
        classes.sort();
        classes.dedup();
        let class_of = |name: &str| classes.binary_search_by(|c| c.as_str().cmp(name)).expect("listed") as u16;
        let mut calls = vec![0usize; classes.len()];
        let mut mass = vec![0usize; classes.len()];
        // Every (feature, class) seen, sorted: runs of one pair are its count.
        let mut seen: Vec<(u64, u16)> = Vec::new();
        for example in examples {
            let class = class_of(example.class);
            calls[class as usize] += 1;
            for (feature, _) in features(example.category, example.kind, example.words) {
                mass[class as usize] += 1;
                seen.push((feature.0, class));
            }
        }
        seen.sort_unstable();
        let vocabulary = seen.chunk_by(|a, b| a.0 == b.0).count() as f64;
        let total = examples.len() as f64;
        let log_prior = calls.iter().map(|&n| (n as f64 / total).ln()).collect();
        let denominator: Vec<f64> = mass.iter().map(|&m| m as f64 + SMOOTHING * vocabulary).collect();
        let log_unseen: Vec<f64> = denominator.iter().map(|d| (SMOOTHING / d).ln()).collect();
        let (mut keys, mut starts, mut lifts) = (Vec::new(), Vec::new(), Vec::new());
        for run in seen.chunk_by(|a, b| a.0 == b.0) {
            keys.push(run[0].0);
            starts.push(lifts.len() as u32);
            for pair in run.chunk_by(|a, b| a.1 == b.1) {
                let c = pair[0].1 as usize;
                let lift = ((pair.len() as f64 + SMOOTHING) / denominator[c]).ln() - log_unseen[c];
                lifts.push((pair[0].1, lift as f32));
            }
        }
        starts.push(lifts.len() as u32);
        Classifier { classes, log_prior, log_unseen, keys, starts, lifts }
    }

    /// The lifts of a known feature.
    fn lifts_of(&self, feature: Feature) -> Option<&[(u16, f32)]> {
        let i = self.keys.binary_search(&feature.0).ok()?;
        Some(&self.lifts[self.starts[i] as usize..self.starts[i + 1] as usize])
    }

    fn lift(&self, feature: Feature, class: usize) -> f64 {
        self.lifts_of(feature).and_then(|l| l.iter().find(|e| e.0 as usize == class)).map_or(0.0, |e| e.1 as f64)
    }

    /// The most likely class and its probability; `None` when nothing was learned or the call
    /// has no feature the model knows.
    fn best(&self, features: &[(Feature, Option<&str>)]) -> Option<(&str, f64)> {
        if self.classes.is_empty() {
            return None;
        }
        let mut score = self.log_prior.clone();
        let mut known = false;
        for &(feature, _) in features {
            let Some(entries) = self.lifts_of(feature) else { continue };
            known = true;
            for (s, unseen) in score.iter_mut().zip(&self.log_unseen) {
                *s += unseen;
            }
            for &(class, lift) in entries {
                score[class as usize] += lift as f64;
            }
        }
        if !known {
            return None;
        }
        let best = (0..score.len()).max_by(|&a, &b| score[a].total_cmp(&score[b]))?;
        let sum: f64 = score.iter().map(|s| (s - score[best]).exp()).sum();
        Some((self.classes[best].as_str(), 1.0 / sum))
    }

    /// The words among `features` that weigh most towards `class` over `against`, strongest first.
    fn evidence(&self, features: &[(Feature, Option<&str>)], class: &str, against: &str, n: usize) -> Vec<String> {
        let (Some(c), Some(a)) =
            (self.classes.iter().position(|x| x == class), self.classes.iter().position(|x| x == against))
        else {
            return Vec::new();
        };
        let mut weighed: Vec<(f64, &str)> = features
            .iter()
            .filter_map(|&(f, word)| {
                let weight = self.lift(f, c) + self.log_unseen[c] - self.lift(f, a) - self.log_unseen[a];
                word.filter(|_| self.lifts_of(f).is_some() && weight > 0.0).map(|w| (weight, w))
            })
            .collect();
        weighed.sort_by(|x, y| y.0.total_cmp(&x.0));
        weighed.into_iter().take(n).map(|(_, w)| w.to_string()).collect()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn case(category: &str, content: &str, emergency: Option<&str>) -> Case {
        Case {
            at: "t:1".into(),
            line: 1,
            category: category.into(),
            kind: "help".into(),
            address: String::new(),
            content: content.into(),
            lead: "x".into(),
            urgent: emergency.is_some(),
            emergency: emergency.map(str::to_string),
        }
    }

    /// Space-separated words stand in for the segmenter.
    fn learned(cases: &[Case]) -> LearnedUrgency {
        let words: Vec<Vec<&str>> = cases.iter().map(|c| c.content.split(' ').collect()).collect();
        LearnedUrgency::learn(cases, &words)
    }

    fn training() -> Vec<Case> {
        let mut cases = Vec::new();
        for i in 0..30 {
            let n = i.to_string();
            cases.push(case("03.01.01", &format!("楼 {n} 管子 爆了 水 喷 出来"), Some("供水管道爆裂")));
            cases.push(case("03.02.01", &format!("家里 {n} 一股 煤气 味 很 冲"), Some("燃气泄漏")));
            cases.push(case("03.01.01", &format!("水压 {n} 太 低 洗澡 都 难"), None));
            cases.push(case("03.01.01", &format!("问一下 {n} 水费 怎么 交"), None));
            cases.push(case("03.02.01", &format!("燃气 {n} 表 换 了 想 问 收费"), None));
        }
        cases
    }

    #[test]
    fn a_call_said_as_the_urgent_ones_were_is_proposed_with_their_label_and_the_words_that_weighed() {
        let model = learned(&training());
        let guess = model.guess("03.01.01", "help", &["管子", "爆了", "水", "喷", "一地"]).expect("proposed");
        assert_eq!(guess.label, "供水管道爆裂");
        assert!(guess.probability >= PROPOSE_AT);
        // Words the urgent calls said and the ordinary ones did not; never a word of the ordinary ones.
        assert!(
            !guess.evidence.is_empty()
                && guess.evidence.iter().all(|w| ["管子", "爆了", "喷", "水"].contains(&w.as_str()))
        );
        assert!(!guess.evidence.contains(&"一地".to_string()), "never seen: {:?}", guess.evidence);
        let gas = model.guess("03.02.01", "help", &["一股", "煤气", "味"]).expect("proposed");
        assert_eq!(gas.label, "燃气泄漏");
    }

    #[test]
    fn an_ordinary_call_or_one_in_words_never_seen_is_not_proposed() {
        let model = learned(&training());
        assert_eq!(model.guess("03.01.01", "help", &["水费", "怎么", "交"]), None);
        assert_eq!(model.guess("03.01.01", "consult", &["完全", "陌生", "的", "话"]).map(|g| g.label), None);
    }

    #[test]
    fn without_urgent_examples_nothing_is_learned() {
        let ordinary: Vec<Case> = training().into_iter().filter(|c| !c.urgent).collect();
        let model = learned(&ordinary);
        assert_eq!(model.examples(), 0);
        assert_eq!(model.guess("03.01.01", "help", &["管子", "爆了"]), None);
    }
}
