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
//!
//! Where the general dictionary still cuts a hotline phrase badly (路灯不亮 → 路 / 灯不亮, so
//! 灯不亮 would be required and 小区路灯晚上不亮了 missed), the district's own words
//! (`dispatch_rules/search_words.txt`, `domain::search_words`) are added: a [`Segmenter`] per
//! catalogue. Since documents are indexed by character, the words change only how queries are
//! cut: editing them needs no reindex.

use crate::domain::search::keep_term;
use crate::domain::search_words::SearchWord;
use jieba_rs::{Jieba, KeywordExtract, TfIdf};
use std::sync::{Arc, Mutex, OnceLock};

/// The general dictionary. Building it takes a few hundred milliseconds: once per process.
fn base() -> &'static Arc<Jieba> {
    static BASE: OnceLock<Arc<Jieba>> = OnceLock::new();
    BASE.get_or_init(|| Arc::new(Jieba::new()))
}

/// The general dictionary with `words` added. The last one built is kept: catalogues with the
/// same words (every reload that left the file alone) share it instead of building the
/// dictionary again. It is built afresh, not cloned from [`base`]: a dictionary holds ~30 MB,
/// and a process that kept the general one beside the district's held both (issue 23: an
/// idle demo server is to stay under 100 MB).
fn with_words(words: &[SearchWord]) -> Arc<Jieba> {
    if words.is_empty() {
        return base().clone();
    }
    static LAST: Mutex<Option<(Vec<SearchWord>, Arc<Jieba>)>> = Mutex::new(None);
    let mut last = LAST.lock().expect("segmenter cache poisoned");
    if let Some((_, jieba)) = last.as_ref().filter(|(built_for, _)| built_for.as_slice() == words) {
        return jieba.clone();
    }
    let mut jieba = Jieba::new();
    for w in words {
        jieba.add_word(&w.word, w.freq, w.tag.as_deref());
    }
    let jieba = Arc::new(jieba);
    *last = Some((words.to_vec(), jieba.clone()));
    jieba
}

/// How much each word says, from jieba's general-corpus IDF table: 希望, 解决, 处理 are in
/// every complaint and say little; 热水器, 井盖, 渣土车 say what the problem is. Loading it
/// takes a moment too: once per process.
fn idf() -> &'static TfIdf {
    static IDF: OnceLock<TfIdf> = OnceLock::new();
    IDF.get_or_init(TfIdf::default)
}

/// Loads the IDF table now rather than on the first search. The dictionary a catalogue cuts
/// with is loaded with the catalogue (its rules' phrases are cut into words then).
pub fn warm_up() {
    let _ = idf();
}

/// Cuts queries and texts into words: jieba with the district's own words.
#[derive(Default)]
pub struct Segmenter {
    words: Vec<SearchWord>,
    jieba: OnceLock<Arc<Jieba>>,
}

impl Segmenter {
    pub fn new(words: Vec<SearchWord>) -> Segmenter {
        Segmenter { words, jieba: OnceLock::new() }
    }

    /// Loads the dictionary now rather than on the first call an operator is waiting for.
    pub fn warm_up(&self) {
        let _ = self.jieba();
    }

    /// The district's words, as listed.
    pub fn words(&self) -> &[SearchWord] {
        &self.words
    }

    fn jieba(&self) -> &Jieba {
        self.jieba.get_or_init(|| with_words(&self.words))
    }

    /// The words of a query, each of which a hit must contain: the search-engine cut, keeping
    /// only the finest pieces (垃圾清运 → 垃圾, 清运), so word order and compounds in the
    /// document do not matter.
    pub fn query_terms(&self, text: &str) -> Vec<String> {
        crate::domain::search::finest_terms(
            self.jieba().cut_for_search(text, false).into_iter().filter_map(|t| keep_term(t.word)),
        )
    }

    /// How much a word says in general Chinese (its IDF in jieba's table; a word the table
    /// lacks counts as middling). Everyday words of complaints (希望 5.2, 解决 5.3, 处理 5.4)
    /// score low; words that name a problem (热水器 9.4, 井盖 12.1) high.
    pub fn idf(&self, word: &str) -> f64 {
        // The table is not exposed; a text of one word has that word's IDF as its weight.
        idf().extract_keywords(self.jieba(), word, 1, Vec::new()).first().map_or(0.0, |k| k.weight)
    }

    /// Every word of a text as the search-engine cut gives them — compounds and their parts
    /// (垃圾清运, 垃圾, 清运) — in order, repeats kept: what intake assistance learns and
    /// suggests from (`crate::suggest`).
    pub fn all_words(&self, text: &str) -> Vec<String> {
        self.jieba().cut_for_search(text, false).into_iter().filter_map(|t| keep_term(t.word)).collect()
    }

    /// The text cut into words, in order, every character in exactly one piece (punctuation
    /// and spaces included): the words dispatch rules match on (`domain::rules::words`).
    pub fn cut<'t>(&self, text: &'t str) -> Vec<&'t str> {
        self.rule_words(text).collect()
    }

    /// The words of [`Segmenter::cut`], one by one: the one place the rules' cut is defined.
    fn rule_words<'t>(&self, text: &'t str) -> impl Iterator<Item = &'t str> {
        self.jieba().cut(text, false).into_iter().map(|t| t.word)
    }

    /// The distinct words of a text, for overlap measures (duplicates, knowledge base).
    pub fn word_set(&self, text: &str) -> std::collections::BTreeSet<String> {
        self.jieba().cut(text, false).into_iter().filter_map(|t| keep_term(t.word)).collect()
    }
}

/// The dispatch rules read the content in the words search cuts it into.
impl crate::domain::rules::WordCutter for Segmenter {
    fn cut<'t>(&self, text: &'t str) -> Vec<&'t str> {
        Segmenter::cut(self, text)
    }

    fn each_word(&self, text: &str, word: &mut dyn FnMut(&str)) {
        self.rule_words(text).for_each(word);
    }
}

/// The tokens a document is indexed under (see `domain::search::index_tokens`): every Chinese
/// character, and each run of letters or digits.
pub fn index_words(text: &str) -> Vec<String> {
    crate::domain::search::index_tokens(text)
}

/// The text a ticket is found by, as tokens separated by spaces — the same in both backends:
/// its number, content, address and reply. Not the phone: that is matched on the ticket row,
/// and only for those allowed to search by it.
pub fn ticket_words(t: &crate::domain::ticket::Ticket) -> String {
    let text = format!("{} {} {} {}", t.number, t.content, t.address, t.reply.as_deref().unwrap_or(""));
    index_words(&text).join(" ")
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Whether the document holds the term as a phrase, as the index will check.
    fn holds(doc: &str, term: &str) -> bool {
        format!(" {} ", index_words(doc).join(" ")).contains(&format!(" {} ", index_words(term).join(" ")))
    }

    fn query_terms(text: &str) -> Vec<String> {
        Segmenter::default().query_terms(text)
    }

    /// The dictionary shipped in `dispatch_rules/`.
    fn shipped() -> Segmenter {
        let text = include_str!("../../dispatch_rules/search_words.txt");
        Segmenter::new(crate::domain::search_words::parse("search_words.txt", text).expect("the shipped words load"))
    }

    #[test]
    fn everyday_words_say_less_than_the_words_that_name_the_problem() {
        let segmenter = shipped();
        for everyday in ["希望", "解决", "处理", "要求", "反映"] {
            for named in ["热水器", "井盖", "漏水", "渣土车", "噪音"] {
                assert!(segmenter.idf(everyday) + 2.0 < segmenter.idf(named), "{everyday} vs {named}");
            }
        }
        // A district word the general table lacks is not taken for an everyday one.
        assert!(segmenter.idf("路灯不亮") > segmenter.idf("希望"));
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

    #[test]
    fn the_districts_words_cut_everyday_phrases_into_words_the_tickets_hold() {
        // The general dictionary alone: 灯不亮 is required, which this ticket lacks.
        assert_eq!(query_terms("路灯不亮"), ["路", "灯不亮"]);
        let words = shipped();
        for (query, terms, ticket) in [
            ("路灯不亮", &["路灯", "不亮"][..], "小区路灯晚上不亮了"),
            ("路面积水", &["路面", "积水"], "积水漫过路面"),
            ("占道经营", &["占道", "经营"], "店铺门口占道摆摊经营"),
            ("噪音扰民", &["噪音", "扰民"], "装修噪音严重扰民"),
            ("油烟扰民", &["油烟", "扰民"], "楼下饭店排油烟扰民"),
            ("垃圾清运", &["垃圾", "清运"], "清运垃圾不及时"),
            ("水压低", &["水压", "低"], "六楼水压太低"),
        ] {
            assert_eq!(words.query_terms(query), terms, "{query}");
            assert!(terms.iter().all(|t| holds(ticket, t)), "{query} finds {ticket}");
        }
    }
}
