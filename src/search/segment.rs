//! Chinese word segmentation (jieba, the dictionary compiled in) for queries, the duplicate
//! finder and the knowledge base.
//!
//! A query is cut into words (垃圾清运 → 垃圾, 清运) and a hit must contain every word, each
//! as a phrase of its characters, in any order. Documents are indexed by character, not by
//! word: jieba cuts the same characters differently in different sentences (路灯不亮 is
//! 路 / 灯不亮), so a word index would miss documents whose sentence happened to be cut
//! otherwise; a phrase of characters matches wherever the word appears.
//!
//! HMM guessing of unknown words is off: it may cut the same characters differently
//! depending on what surrounds them, and then a query would miss a document it matches.
//! Without it an unknown word falls apart into single characters, the same way everywhere.

use crate::domain::search::keep_term;
use jieba_rs::Jieba;
use std::sync::OnceLock;

fn jieba() -> &'static Jieba {
    // Building the dictionary takes a few hundred milliseconds: once per process.
    static JIEBA: OnceLock<Jieba> = OnceLock::new();
    JIEBA.get_or_init(Jieba::new)
}

/// Loads the dictionary now rather than on the first search.
pub fn warm_up() {
    let _ = jieba();
}

/// The tokens a document is indexed under (see `domain::search::index_tokens`): every Chinese
/// character, and each run of letters or digits.
pub fn index_words(text: &str) -> Vec<String> {
    crate::domain::search::index_tokens(text)
}

/// The words of a query, each of which a hit must contain: the search-engine cut, keeping
/// only the finest pieces (垃圾清运 → 垃圾, 清运), so word order and compounds in the
/// document do not matter.
pub fn query_terms(text: &str) -> Vec<String> {
    crate::domain::search::finest_terms(
        jieba().cut_for_search(text, false).into_iter().filter_map(|t| keep_term(t.word)),
    )
}

/// The distinct words of a text, for overlap measures (duplicates, knowledge base).
pub fn word_set(text: &str) -> std::collections::BTreeSet<String> {
    jieba().cut(text, false).into_iter().filter_map(|t| keep_term(t.word)).collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Whether the document holds the term as a phrase, as the index will check.
    fn holds(doc: &str, term: &str) -> bool {
        format!(" {} ", index_words(doc).join(" ")).contains(&format!(" {} ", index_words(term).join(" ")))
    }

    #[test]
    fn word_order_does_not_matter_to_a_query() {
        let terms = query_terms("垃圾清运");
        assert_eq!(terms, ["垃圾", "清运"]);
        assert!(terms.iter().all(|t| holds("清运垃圾不及时", t)));
        assert!(!terms.iter().all(|t| holds("垃圾桶满了", t)));
    }

    #[test]
    fn a_word_is_found_however_its_sentence_was_cut() {
        // jieba cuts this sentence 路 / 灯不亮, yet the word 路灯 is in it.
        assert!(query_terms("路灯").iter().all(|t| holds("路灯不亮，晚上很黑", t)));
    }

    #[test]
    fn ticket_numbers_and_punctuation() {
        let words = index_words("工单20261122-000123，路灯不亮！");
        assert_eq!(query_terms("20261122-000123"), ["20261122", "000123"]);
        assert!(words.contains(&"20261122".to_string()), "{words:?}");
        assert!(words.contains(&"000123".to_string()), "{words:?}");
        assert!(!words.iter().any(|w| w == "，" || w == "-"), "{words:?}");
        assert_eq!(query_terms("路灯 路灯"), vec!["路灯".to_string()]);
    }
}
