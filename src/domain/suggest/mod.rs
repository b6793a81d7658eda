//! Intake assistance (智能辅助填单): while the operator types what the caller says, the leaf
//! categories it most likely belongs to (with the words that led to each), the street and
//! community its address names, and whether the dispatch rules would treat it as urgent.
//!
//! * What a call is made of ([`features`]): its words as search cuts them (jieba with the
//!   district's words, done by the caller: this module does no segmentation), plus every word
//!   the centre gave a category in `categories.toml` that occurs anywhere in it, however jieba
//!   cut the sentence. Numbers say too little and are left out; single characters count as
//!   weaker evidence of their own (what a caller's unforeseen wording still shares with the
//!   centre's words).
//! * The category model ([`model`]): naive Bayes over those features, learned from the centre's
//!   own tickets (the category each finally had) on top of the centre's words, so a centre
//!   with no history still gets useful suggestions.
//! * The place ([`place`]): the regions file's place words and aliases, in the address, else in
//!   what the caller said — the same rule as routing.
//! * Urgency ([`urgency`]): the dispatch rules in force, asked about the best suggestions; the
//!   rule that would raise the ticket to urgent is the reason given.
//! * Bad input ([`screen`]): empty, over-long, punctuation-only and text without Chinese get an
//!   empty answer with a notice saying why, never an error.
//! * Accuracy ([`accuracy`]): how often the operator took a suggestion, per week.

pub mod accuracy;
pub mod model;

use serde::Serialize;

use super::district::District;
use super::rules::{Routing, RoutingInput, RuleSet};

pub use model::{History, Model, Scored};

/// Categories suggested at most.
pub const MAX_SUGGESTIONS: usize = 5;
/// Longer text is not a call being typed (the ticket's own limit): answered empty.
pub const MAX_TEXT_CHARS: usize = super::intake::MAX_CONTENT;
/// The kind assumed when asking the rules about urgency, if the operator has not picked one.
pub const DEFAULT_KIND: &str = "help";

/// Why a suggestion is empty, for the operator.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, utoipa::ToSchema)]
#[serde(rename_all = "snake_case")]
pub enum Notice {
    /// Nothing typed yet.
    Empty,
    /// Over [`MAX_TEXT_CHARS`] characters.
    TooLong,
    /// No Chinese in it (English, digits, punctuation, other scripts).
    NoChinese,
    /// Chinese, but no word the model knows.
    NoKnownWords,
}

impl Notice {
    /// The sentence the console shows.
    pub fn label(self) -> &'static str {
        match self {
            Notice::Empty => "请输入诉求内容",
            Notice::TooLong => "内容超过4000字，无法给出建议",
            Notice::NoChinese => "内容中没有中文，无法给出建议",
            Notice::NoKnownWords => "没有可供判断分类的词语",
        }
    }
}

/// Checks the text before any work: `Err` says why no suggestion can be made.
pub fn screen(text: &str) -> Result<(), Notice> {
    let chars = text.chars().count();
    if text.trim().is_empty() {
        Err(Notice::Empty)
    } else if chars > MAX_TEXT_CHARS {
        Err(Notice::TooLong)
    } else if !text.chars().any(is_chinese) {
        Err(Notice::NoChinese)
    } else {
        Ok(())
    }
}

/// CJK ideographs (the basic block and its extensions).
pub fn is_chinese(c: char) -> bool {
    matches!(c as u32, 0x3400..=0x4DBF | 0x4E00..=0x9FFF | 0xF900..=0xFAFF | 0x20000..=0x2FA1F)
}

/// Lower-case, full-width letters and digits folded to ASCII, whitespace dropped: how words
/// and texts are compared.
pub fn normalise(text: &str) -> String {
    text.chars()
        .filter(|c| !c.is_whitespace())
        .map(|c| match c as u32 {
            0xFF01..=0xFF5E => char::from_u32(c as u32 - 0xFEE0).unwrap_or(c),
            _ => c,
        })
        .flat_map(char::to_lowercase)
        .collect()
}

/// Whether a segmented word is worth a feature: two or more characters, not only digits or
/// punctuation.
fn worth_a_feature(word: &str) -> bool {
    word.chars().count() >= 2 && word.chars().any(char::is_alphabetic)
}

/// Characters too common to say anything about a call by themselves (pronouns, particles,
/// everyday verbs): left out of the character features.
const COMMON_CHARS: &str = "的了我们你他她它是在有就都也还这那个一不人吧啊呢吗呀么说要去来到上下里和跟把被给让很太好";

/// Whether a Chinese character is a character feature (see [`features`]).
pub fn character_feature(c: char) -> bool {
    is_chinese(c) && !COMMON_CHARS.contains(c)
}

/// The features of a call: its segmented `words` worth one, each of the centre's words
/// (`centre_words`, normalised) that occurs in the normalised `text`, then the text's Chinese
/// characters (but the commonest) as one-character features; each once, in that order.
///
/// Why characters: callers say the same thing in words no list foresees (被偷了 for 被盗,
/// 灯全灭了 for 不亮, 长毛了 for 发霉), and jieba cuts such phrases into words the model never
/// saw. Their characters still overlap the centre's words (偷 in 小偷, 灯 in 路灯, 霉 in 发霉),
/// which is evidence, weaker than a whole word (see [`model::CHARACTER_SHARE`]). A one-character
/// feature cannot be mistaken for a word: words are two or more characters.
pub fn features(words: &[String], text: &str, centre_words: &[String]) -> Vec<String> {
    let text = normalise(text);
    let mut out: Vec<String> = Vec::new();
    for w in words.iter().map(|w| normalise(w)).filter(|w| worth_a_feature(w)) {
        if !out.contains(&w) {
            out.push(w);
        }
    }
    for w in centre_words {
        if text.contains(w.as_str()) && !out.contains(w) {
            out.push(w.clone());
        }
    }
    let mut seen: Vec<char> = Vec::new();
    for c in text.chars().filter(|c| character_feature(*c)) {
        if !seen.contains(&c) {
            seen.push(c);
            out.push(c.to_string());
        }
    }
    out
}

/// A suggested leaf category, as answered.
#[derive(Debug, Clone, PartialEq, Serialize, utoipa::ToSchema)]
pub struct CategorySuggestion {
    pub code: String,
    pub name: String,
    /// The names from the top level down, e.g. "城乡建设/市政设施/路灯故障".
    pub path: String,
    /// 0–1; the scores of all categories sum to 1.
    pub score: f64,
    /// The words of the call that led to it, strongest first.
    pub why: Vec<String>,
}

/// The categories for a call's features, with their names and paths.
pub fn categories(model: &Model, district: &District, features: &[String]) -> Vec<CategorySuggestion> {
    model
        .rank(features, MAX_SUGGESTIONS)
        .into_iter()
        .filter_map(|s| {
            let category = district.category(&s.code)?;
            Some(CategorySuggestion {
                path: district.category_path(&s.code)?.replace(" / ", "/"),
                name: category.name.clone(),
                code: s.code,
                score: (s.score * 1000.0).round() / 1000.0,
                why: s.why,
            })
        })
        .collect()
}

/// Where the call is: street and community codes.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize)]
pub struct Place {
    pub street: Option<String>,
    pub community: Option<String>,
    /// The word that located it.
    pub located_by: Option<String>,
}

/// The street and community named in the address, else in the content (callers often say
/// where in passing), by the regions file's place words and aliases.
pub fn place(district: &District, address: &str, content: &str) -> Place {
    let located = district.locate(address).or_else(|| district.locate(content));
    match located {
        Some(l) => Place { street: Some(l.street), community: l.community, located_by: Some(l.matched_word) },
        None => Place::default(),
    }
}

/// Whether the rules would make the ticket urgent, and which rule says so.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct UrgencyHint {
    pub rule_id: String,
    /// The rule's description, e.g. "燃气泄漏 → 燃气集团抢险, 属地街道协助疏散".
    pub why: String,
}

/// Asks the rules about the call filed under each of `suggested` in turn (the caller passes the
/// best one, or several): the first whose winning rule raises urgency to urgent gives the hint.
pub fn urgency(
    rules: &RuleSet,
    district: &District,
    suggested: &[CategorySuggestion],
    input: &RoutingInput,
) -> Option<UrgencyHint> {
    suggested.iter().find_map(|s| {
        let input = RoutingInput { category: &s.code, ..input.clone() };
        match rules.route(&input, district) {
            // An emergency rule proposes urgency for the operator to confirm (可能紧急); the
            // hint says the same, with the words that raised it.
            Routing::Routed(d) if d.urgency.as_deref() == Some("urgent") || d.emergency.is_some() => {
                let why = match &d.emergency {
                    Some(p) => format!("可能紧急: {} ({})", p.label, p.matched),
                    None => rules.rule(&d.rule_id).map(|r| r.description.clone()).unwrap_or_default(),
                };
                Some(UrgencyHint { rule_id: d.rule_id.clone(), why })
            }
            _ => None,
        }
    })
}

#[cfg(test)]
mod tests;
