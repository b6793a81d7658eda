//! The rules of ticket search, free of any index: who may find a ticket by the caller's phone,
//! how a query's words become an index query, the order of results, and the snippet shown
//! under a hit. Both search backends (embedded and Meilisearch) follow these, so they behave
//! alike. Segmentation itself (jieba) is `crate::search::segment`'s; here words arrive as
//! already-segmented terms.

use super::lifecycle::Actor;
use super::types::Status;

/// Longest query accepted, in characters: an operator types words, not documents.
pub const MAX_QUERY_CHARS: usize = 200;
/// The most hits one page holds.
pub const MAX_LIMIT: i64 = 100;
/// How deep a search may page; further on, narrow the query.
pub const MAX_OFFSET: i64 = 10_000;
/// Words a query is matched on: the first ten, on both backends. Meilisearch ignores the
/// words of a query after its tenth; the embedded index does the same, so both find the same
/// tickets (an operator types a few words; a pasted sentence is cut to its first ten).
pub const MAX_QUERY_TERMS: usize = 10;
/// Characters in a snippet.
pub const SNIPPET_CHARS: usize = 60;

/// The facets every search counts, in the order the API lists them.
pub const FACETS: [&str; 5] = ["status", "department", "street", "category", "kind"];

/// Facet counts are exact up to this many hits. Above, counting every hit costs what reading
/// every hit costs (a supervisor's filter over a year is hundreds of thousands of tickets), so
/// they are estimated from a sample and the answer says so; the total stays exact, but where
/// counting itself reads every hit ([`estimates_total`]).
pub const EXACT_FACETS_UP_TO: i64 = 20_000;
/// About how many hits an estimate counts.
pub const FACET_SAMPLE_HITS: i64 = 10_000;

/// Relevance is ranked over at most this many hits, the newest: ranking reads every hit it
/// ranks (a common word is a tenth of a year's tickets, and ranking them all took 0.3–0.9 s at
/// 1,000,000 tickets), and what a centre looks for among that many is recent. The deepest page
/// a search may ask for lies inside them; the answer says when there were more.
pub const RANKED_NEWEST_UP_TO: i64 = 20_000;
const _: () = assert!(MAX_OFFSET + MAX_LIMIT <= RANKED_NEWEST_UP_TO);

/// What a search answers about its ranking (`ranked_newest`): `Some(RANKED_NEWEST_UP_TO)` when
/// it was ordered by relevance over words and had more hits than were ranked.
pub fn ranked_newest(by_relevance: bool, total: i64) -> Option<i64> {
    (by_relevance && total > RANKED_NEWEST_UP_TO).then_some(RANKED_NEWEST_UP_TO)
}

/// The newest tickets a ranking first looks among, as the lowest id of a window of ids, when a
/// search has more hits than are ranked: `hits` of the words among the ids `first_id..=last_id`.
/// Ids follow creation, so the newest hits lie in the newest ids; a window sized to hold
/// [`RANKED_NEWEST_UP_TO`] hits with a margin lets
/// the index intersect the word's hits with the window before any document is read — 物业's
/// 92,500 hits at 1,000,000 tickets were each read to find the newest 20,000. `None`: no window
/// (few hits, or one that would hold most of the ids anyway). The caller checks that the window
/// held the hits it needs (a word of last winter has few recent hits) and else ranks without it.
pub fn ranked_window(hits: i64, first_id: i64, last_id: i64) -> Option<i64> {
    /// The window is sized for half as many hits again as are ranked: hits spread unevenly over
    /// a year (a spell of complaints about one thing), and a window that falls short costs a
    /// second ranking.
    const NEEDED: i64 = RANKED_NEWEST_UP_TO * 3 / 2;
    if hits <= RANKED_NEWEST_UP_TO || last_id < first_id {
        return None;
    }
    let span = last_id - first_id + 1;
    // span · needed / hits, rounded up, in 128 bits: ids may be large numbers.
    let needed = i128::from(NEEDED);
    let ids = (i128::from(span) * needed + i128::from(hits) - 1) / i128::from(hits);
    (ids * 2 <= i128::from(span)).then(|| last_id - i64::try_from(ids).unwrap_or(span) + 1)
}

/// Words with more hits than this are checked against the tickets a search's filters select,
/// rather than each hit looked up and checked against the filters: 物业 (92,500 hits at
/// 1,000,000 tickets) under "open" (30,000 tickets) is 30,000 index entries checked against a
/// set, not 92,500 lookups (29 ms against 180 ms per statement on SQLite, ops/bench/RESULTS.md).
/// Since the index holds each ticket's status and units as keys, that example is matched in the
/// index instead (4,074 hits); reading filters first is left to the filters the keys do not
/// hold ([`filters_first`]).
pub const LOOKUPS_UP_TO: i64 = 20_000;

/// Whether a search with words and an indexed filter reads the filter's tickets first (see
/// [`LOOKUPS_UP_TO`]); `hits`: how many tickets the index finds for the words and the filters'
/// keys ([`index_keys`]). Only a filter other than a scope or a status (a street, a category, a
/// caller, a window of time: `beyond_keys`) can be narrower than that: a scope or an open status
/// is already intersected with the words in the index, and the closed tickets (no key, see
/// [`required_keys`]) are most of a year, so reading them first reads more than looking each hit
/// up (物业 among the closed: 970,000 tickets read for 88,000 hits, 660 → 194 ms on SQLite).
pub fn filters_first(hits: i64, beyond_keys: bool) -> bool {
    beyond_keys && hits > LOOKUPS_UP_TO
}

/// How many buckets the ids are hashed into ([`sample_bucket`]); a sample is the buckets below a
/// bound, so that an index on the bucket (PostgreSQL's `tickets_sample`) reads the sample and
/// nothing else. A sample taken as "the hash is a multiple of n" was a test of every hit: a
/// year-wide filter's facets read the million entries of an index for 10,000 of them.
pub const SAMPLE_BUCKETS: i64 = 4096;

/// A sample of the hits for estimated facet counts: the tickets whose id's [`sample_bucket`] is
/// below `buckets`, about `buckets` in [`SAMPLE_BUCKETS`] of them.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct FacetSample {
    pub buckets: i64,
}

/// The sample facet counts are taken over for `total` hits (about [`FACET_SAMPLE_HITS`] of
/// them); `None`: count them all.
pub fn facet_sample(total: i64) -> Option<FacetSample> {
    (total > EXACT_FACETS_UP_TO)
        .then(|| FacetSample { buckets: (SAMPLE_BUCKETS * FACET_SAMPLE_HITS + total - 1) / total })
}

/// The id's bucket, as SQL computes it on both databases (`(id * 2654435761) % 4294967291 %
/// 4096`): a multiplicative hash, so that tickets numbered in a regular pattern (a batch of
/// copies, every n-th id of a day) do not all fall in or out of the sample together. Exact in
/// 64 bits for ids below 3·10⁹. PostgreSQL's index `tickets_sample` is on this very
/// expression (migration 0050), which it must match to be used.
pub const SAMPLE_BUCKET_SQL: &str = "((({id}) * 2654435761) % 4294967291 % 4096)";

/// The bucket in Rust, for tests.
pub fn sample_bucket(id: i64) -> i64 {
    sample_hash(id) % SAMPLE_BUCKETS
}

/// The hash of an id, in Rust: [`SAMPLE_BUCKET_SQL`] before its last step.
pub fn sample_hash(id: i64) -> i64 {
    (id * 2_654_435_761) % 4_294_967_291
}

/// The hits of a sample scaled to all hits: `in_sample` hits in `sample`'s buckets of
/// [`SAMPLE_BUCKETS`] (see [`estimates_total`]).
pub fn estimate_total(in_sample: i64, sample: FacetSample) -> i64 {
    if sample.buckets <= 0 {
        return 0;
    }
    (in_sample as f64 * SAMPLE_BUCKETS as f64 / sample.buckets as f64).round() as i64
}

/// Whether a search's total is estimated from a sample of its hits, as its facets are, rather
/// than counted: where counting reads every hit (PostgreSQL's word index holds no ids, so
/// counting 物业's 92,500 hits at 1,000,000 tickets read their documents, 400–800 ms; FTS5 counts
/// from its index, `counts_from_index`) and the database's statistics expect more hits than are
/// counted one by one ([`EXACT_FACETS_UP_TO`]). The sample has the last word: one that finds that
/// few has its hits counted exactly after all.
pub fn estimates_total(counts_from_index: bool, planned_hits: Option<i64>) -> bool {
    !counts_from_index && planned_hits.is_some_and(|hits| hits > EXACT_FACETS_UP_TO)
}

/// A count in the sample scaled to all hits: its share of the sample times the total.
pub fn estimate_count(in_sample: i64, sample_size: i64, total: i64) -> i64 {
    if sample_size <= 0 {
        return 0;
    }
    (in_sample as f64 * total as f64 / sample_size as f64).round() as i64
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum SortOrder {
    /// Best match first (newest first among equals); newest first when there is no text.
    #[default]
    Relevance,
    Newest,
}

impl std::str::FromStr for SortOrder {
    type Err = String;
    fn from_str(s: &str) -> Result<Self, Self::Err> {
        match s {
            "relevance" => Ok(SortOrder::Relevance),
            "newest" => Ok(SortOrder::Newest),
            other => Err(format!("\"{other}\" is not relevance or newest")),
        }
    }
}

/// The caller's phone is a search key only for those who may always see it: the centre's
/// roles. A department sees the phone on some tickets and not on confidential ones, so for
/// departments the phone is never searchable (a search must not reveal who called).
pub fn may_search_phone(actor: &Actor) -> bool {
    !actor.is_department()
}

/// The query as a phone lookup, when it is one and the actor may search by phone.
pub fn phone_query(actor: &Actor, q: &str) -> Option<String> {
    let q = q.trim();
    (may_search_phone(actor) && super::privacy::validate_phone(q).is_ok()).then(|| q.to_string())
}

/// Terms kept from a segmentation: words with a letter or digit in them (punctuation and
/// spaces carry nothing), lower-cased.
pub fn keep_term(word: &str) -> Option<String> {
    let word = word.trim();
    word.chars().any(char::is_alphanumeric).then(|| word.to_lowercase())
}

/// Distinct terms, dropping any that contains another one: a search-engine cut gives a
/// compound and its parts (垃圾清运, 垃圾, 清运), and requiring the parts is what finds the
/// same words in another order (清运垃圾).
pub fn finest_terms(words: impl IntoIterator<Item = String>) -> Vec<String> {
    let mut all: Vec<String> = Vec::new();
    for w in words {
        if !all.contains(&w) {
            all.push(w);
        }
    }
    all.iter().filter(|t| !all.iter().any(|o| o != *t && t.contains(o.as_str()))).cloned().collect()
}

/// Whether a character is written as a word of its own in the index (CJK ideographs and the
/// like): Chinese has no spaces, so each character is a token and words are phrases.
fn is_cjk(c: char) -> bool {
    matches!(c as u32, 0x3400..=0x4DBF | 0x4E00..=0x9FFF | 0xF900..=0xFAFF | 0x20000..=0x2FA1F)
}

/// The tokens a text is indexed under, in order: each Chinese character, and each run of
/// other letters or digits (lower-cased); punctuation and spaces separate and are dropped.
pub fn index_tokens(text: &str) -> Vec<String> {
    let mut out = Vec::new();
    let mut run = String::new();
    for c in text.chars() {
        if is_cjk(c) {
            if !run.is_empty() {
                out.push(std::mem::take(&mut run));
            }
            out.push(c.to_string());
        } else if c.is_alphanumeric() {
            run.extend(c.to_lowercase());
        } else if !run.is_empty() {
            out.push(std::mem::take(&mut run));
        }
    }
    if !run.is_empty() {
        out.push(run);
    }
    out
}

/// One query term as an FTS5 phrase of its tokens (a quote inside doubled).
fn fts5_phrase(term: &str) -> String {
    format!("\"{}\"", index_tokens(term).join(" ").replace('"', "\"\""))
}

/// An FTS5 query requiring every term, each a phrase; spaces between them mean AND.
pub fn fts5_all_terms(terms: &[String]) -> String {
    terms.iter().map(|t| fts5_phrase(t)).collect::<Vec<_>>().join(" ")
}

/// The index's key of a unit a ticket is assigned to (its lead, co-handlers and helpers): `u`
/// and the code's UTF-8 bytes in lower-case hex, one token of letters and digits for FTS5's
/// tokenizer (which would cut `fgj-wyzx` in two). The index holds a ticket's unit and status keys
/// beside its words (migration 0051), so a department's scope or a status narrows a search with
/// words in the index itself: the word's hits and the scope's tickets are intersected there
/// instead of one set being read and each member checked against the other (垃圾 in 城管委's
/// scope: 44,500 hits and 68,000 tickets for 11,000 results, ops/bench/RESULTS.md). The ticket
/// rows still decide every filter; the keys only narrow, and lag behind a change as the words do.
pub fn unit_key(unit: &str) -> String {
    format!("u{}", hex::encode(unit))
}

/// The index's key of a ticket's status (see [`unit_key`]): `s` and the status word in hex.
pub fn status_key(status: &str) -> String {
    format!("s{}", hex::encode(status))
}

/// A ticket's keys as the index stores them, separated by spaces: its units, then its status.
/// Migration 0051 writes the same for the tickets indexed before it (`UNIT_KEY_SQL`,
/// `STATUS_KEY_SQL`).
pub fn index_keys<'a>(units: impl IntoIterator<Item = &'a str>, status: &str) -> String {
    let mut units: Vec<&str> = units.into_iter().collect();
    units.sort_unstable();
    units.dedup();
    let mut keys: Vec<String> = units.into_iter().map(unit_key).collect();
    keys.push(status_key(status));
    keys.join(" ")
}

/// [`unit_key`] in each database's SQL, over a column `{unit}` (the migration's, checked by a test).
pub const UNIT_KEY_SQL: [&str; 2] = ["'u' || lower(hex({unit}))", "'u' || encode(convert_to({unit}, 'UTF8'), 'hex')"];

/// [`status_key`] in each database's SQL, over a column `{status}`.
pub const STATUS_KEY_SQL: [&str; 2] =
    ["'s' || lower(hex({status}))", "'s' || encode(convert_to({status}, 'UTF8'), 'hex')"];

/// The groups of keys a search requires, one of each group: the scope's units, the statuses.
/// Empty: the filters narrow nothing the index holds.
///
/// Statuses that take in the closed tickets are left to the ticket rows: closed is where a
/// year's tickets end up (97 % of them), so as a key it narrows nothing, while matching it reads
/// its whole list in the index (物业 among the closed at 1,000,000 tickets: 820 → 980 ms p50 on
/// PostgreSQL with the key, ops/bench/RESULTS.md).
pub fn required_keys(units: Option<&[String]>, statuses: &[&str]) -> Vec<Vec<String>> {
    let mut groups = Vec::new();
    if let Some(units) = units.filter(|u| !u.is_empty()) {
        groups.push(units.iter().map(|u| unit_key(u)).collect());
    }
    if !statuses.is_empty() && !statuses.contains(&Status::Closed.as_str()) {
        groups.push(statuses.iter().map(|s| status_key(s)).collect());
    }
    groups
}

/// An FTS5 query of the words (`words_query`: [`fts5_all_terms`] or [`fts5_any_term`]) in the
/// words column, and one key of each group in the keys column.
pub fn fts5_with_keys(words_query: &str, keys: &[Vec<String>]) -> String {
    let mut query = format!("words : ({words_query})");
    for group in keys {
        query.push_str(&format!(" AND keys : ({})", group.join(" OR ")));
    }
    query
}

/// The words a query is matched on: at most [`MAX_QUERY_TERMS`], in the order typed.
pub fn matched_terms(mut terms: Vec<String>) -> Vec<String> {
    terms.truncate(MAX_QUERY_TERMS);
    terms
}

/// One term as a Meilisearch phrase of its tokens (tokens never hold a quote).
pub fn meili_phrase(term: &str) -> String {
    format!("\"{}\"", index_tokens(term).join(" "))
}

/// The same query for Meilisearch, whose documents hold the same character tokens
/// (`search::segment::ticket_words`): its phrase syntax is FTS5's, and tokens never hold a
/// quote, so no escaping differs. With every word required (matching strategy `all`) a hit
/// holds every term, as on the embedded index.
pub fn meili_all_terms(terms: &[String]) -> String {
    terms.iter().map(|t| meili_phrase(t)).collect::<Vec<_>>().join(" ")
}

/// An FTS5 query accepting any term (the duplicate finder's candidate search).
pub fn fts5_any_term(terms: &[String]) -> String {
    terms.iter().map(|t| fts5_phrase(t)).collect::<Vec<_>>().join(" OR ")
}

/// A PostgreSQL tsquery (cast, not parsed: `CAST(… AS tsquery)`) requiring every term (`&`) or
/// any (`|`). PostgreSQL's index holds each token and each pair of adjacent Chinese characters at
/// its first character's position (migration 0049, `search_lexemes`), so a term is a phrase of
/// the fewest pairs that cover its characters, each at its distance from the one before
/// (`<N>`): 物业 is one lexeme, 路灯不亮 is `'路灯' <2> '不亮'`, 渣土车遗撒 is
/// `'渣土' <2> '车遗' <-> '遗撒'`. A single character or a run of letters stays one token.
pub fn tsquery_terms(terms: &[String], any: bool) -> String {
    let op = if any { " | " } else { " & " };
    terms
        .iter()
        .map(|t| index_tokens(t))
        .filter(|tokens| !tokens.is_empty())
        .map(|tokens| tsquery_phrase(&tokens))
        .collect::<Vec<_>>()
        .join(op)
}

/// One term's tokens as a tsquery phrase over the pair index (see [`tsquery_terms`]).
fn tsquery_phrase(tokens: &[String]) -> String {
    let single = |t: &str| t.chars().count() == 1 && t.chars().all(is_cjk);
    // (offset, lexeme): each two Chinese characters in a row as a pair, else the token; the
    // last character of an odd run as the pair that ends on it, overlapping the one before.
    let mut lexemes: Vec<(usize, String)> = Vec::new();
    let mut i = 0;
    while i < tokens.len() {
        let pair_from = match tokens.get(i + 1) {
            Some(next) if single(&tokens[i]) && single(next) => Some(i),
            _ if i > 0 && single(&tokens[i]) && single(&tokens[i - 1]) => Some(i - 1),
            _ => None,
        };
        match pair_from {
            Some(from) => {
                lexemes.push((from, format!("{}{}", tokens[from], tokens[from + 1])));
                i = from + 2;
            }
            None => {
                lexemes.push((i, tokens[i].clone()));
                i += 1;
            }
        }
    }
    let quote = |lexeme: &str| format!("'{}'", lexeme.replace('\\', "\\\\").replace('\'', "''"));
    let mut phrase = String::new();
    let mut previous = 0;
    for (n, (offset, lexeme)) in lexemes.iter().enumerate() {
        if n > 0 {
            match offset - previous {
                1 => phrase.push_str(" <-> "),
                distance => phrase.push_str(&format!(" <{distance}> ")),
            }
        }
        phrase.push_str(&quote(lexeme));
        previous = *offset;
    }
    format!("({phrase})")
}

/// A short excerpt of `text` around the first term found, with … where it was cut; the
/// start of the text when no term is in it. Plain text: the front end decides how to mark.
pub fn snippet(text: &str, terms: &[String]) -> String {
    let chars: Vec<char> = text.chars().collect();
    if chars.len() <= SNIPPET_CHARS {
        return text.to_string();
    }
    let lower = text.to_lowercase();
    let first = terms
        .iter()
        .filter_map(|t| lower.find(t.as_str()))
        .min()
        .map(|byte| lower[..byte].chars().count())
        .unwrap_or(0);
    // A little context before the match, and never past the end.
    let start = first.saturating_sub(SNIPPET_CHARS / 4).min(chars.len() - SNIPPET_CHARS);
    let end = start + SNIPPET_CHARS;
    let mut out = String::new();
    if start > 0 {
        out.push('…');
    }
    out.extend(&chars[start..end]);
    if end < chars.len() {
        out.push('…');
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::domain::types::Role;

    #[test]
    fn a_tickets_units_and_status_are_single_tokens_in_its_index_keys() {
        assert_eq!(unit_key("fgj-wyzx"), "u66676a2d77797a78");
        assert_eq!(status_key("open"), "s6f70656e");
        // Sorted, once each, the status last: the index's tokenizer keeps every key whole.
        assert_eq!(
            index_keys(["scjg", "cgw", "scjg"], "open"),
            format!("{} {} {}", unit_key("cgw"), unit_key("scjg"), status_key("open"))
        );
        for key in index_keys(["fgj-wyzx", "区物业"], "accepted").split(' ') {
            assert!(key.chars().all(|c| c.is_ascii_alphanumeric()), "{key}");
        }
        assert!(required_keys(None, &[]).is_empty());
        assert!(required_keys(Some(&[]), &[]).is_empty());
        let groups = required_keys(Some(&["cgw".to_string(), "cgw-hwzx".to_string()]), &["open"]);
        assert_eq!(groups, vec![vec![unit_key("cgw"), unit_key("cgw-hwzx")], vec![status_key("open")]]);
        // Closed narrows nothing: most tickets are closed.
        assert!(required_keys(None, &["closed"]).is_empty());
        assert_eq!(required_keys(None, &["replied", "closed"]), Vec::<Vec<String>>::new());
        assert_eq!(required_keys(Some(&["cgw".to_string()]), &["closed"]), vec![vec![unit_key("cgw")]]);
        assert_eq!(
            fts5_with_keys("\"物 业\"", &groups),
            format!(
                "words : (\"物 业\") AND keys : ({} OR {}) AND keys : ({})",
                unit_key("cgw"),
                unit_key("cgw-hwzx"),
                status_key("open")
            )
        );
    }

    #[test]
    fn the_migration_writes_the_keys_the_drain_writes() {
        let sqlite = include_str!("../../migrations/sqlite/0051_search_keys.sql");
        let postgres = include_str!("../../migrations/postgres/0051_search_keys.sql");
        for (migration, i) in [(sqlite, 0), (postgres, 1)] {
            assert!(migration.contains(&UNIT_KEY_SQL[i].replace("{unit}", "u.department")), "{migration}");
            assert!(migration.contains(&STATUS_KEY_SQL[i].replace("{status}", "t.status")), "{migration}");
        }
    }

    #[test]
    fn facets_are_counted_exactly_up_to_the_threshold_and_estimated_above() {
        assert_eq!(facet_sample(0), None);
        assert_eq!(facet_sample(EXACT_FACETS_UP_TO), None);
        // Half the buckets just above the threshold, one in a hundred for a year.
        assert_eq!(facet_sample(EXACT_FACETS_UP_TO + 1), Some(FacetSample { buckets: 2_048 }));
        assert_eq!(facet_sample(1_000_000), Some(FacetSample { buckets: 41 }));
        // A share of the sample becomes the same share of the exact total.
        assert_eq!(estimate_count(2_500, 10_000, 1_000_000), 250_000);
        assert_eq!(estimate_count(1, 3, 100), 33);
        assert_eq!(estimate_count(5, 0, 100), 0);
    }

    #[test]
    fn a_search_says_when_relevance_ranked_only_the_newest_hits() {
        assert_eq!(ranked_newest(true, RANKED_NEWEST_UP_TO), None);
        assert_eq!(ranked_newest(true, RANKED_NEWEST_UP_TO + 1), Some(RANKED_NEWEST_UP_TO));
        assert_eq!(ranked_newest(false, 1_000_000), None, "newest first orders every hit");
    }

    #[test]
    fn a_common_word_is_ranked_among_a_window_of_the_newest_ids() {
        // 物业 at 1,000,000 tickets: 92,500 hits; 30,000 of them expected in the newest 324,325.
        assert_eq!(ranked_window(92_500, 1, 1_000_000), Some(675_676));
        // Few hits: every one is ranked, no window.
        assert_eq!(ranked_window(RANKED_NEWEST_UP_TO, 1, 1_000_000), None);
        // A window that would hold most of the ids saves nothing.
        assert_eq!(ranked_window(30_000, 1, 1_000_000), None);
        assert_eq!(ranked_window(80_000, 1, 1_000_000), Some(625_001));
        // Ids that do not start at one, and a window of the last few.
        assert_eq!(ranked_window(1_000_000, 5_000_001, 6_000_000), Some(5_970_001));
        assert_eq!(ranked_window(50_000, 10, 9), None);
    }

    #[test]
    fn common_words_are_checked_against_the_filters_tickets() {
        assert!(!filters_first(500, true));
        assert!(!filters_first(LOOKUPS_UP_TO, true));
        assert!(filters_first(92_500, true));
        // A scope or a status alone is matched in the index with the words: the hits are never
        // more than its tickets.
        assert!(!filters_first(92_500, false));
    }

    #[test]
    fn the_sample_is_not_fooled_by_ids_in_a_regular_pattern() {
        // Copies of 2,000 tickets numbered id + 2,000·k: a plain `id % 50` would take 40 of the
        // 2,000 originals and every copy of them. The hash takes about one in fifty of each.
        let in_sample = |id: i64| sample_bucket(id) < SAMPLE_BUCKETS / 50;
        let originals_sampled = (1..=2_000i64).filter(|i| (0..500).any(|k| in_sample(i + 2_000 * k))).count();
        assert!(originals_sampled > 1_900, "{originals_sampled} of 2000 originals appear in the sample");
        let sampled = (1..=1_000_000i64).filter(|id| in_sample(*id)).count();
        assert!((19_000..21_000).contains(&sampled), "{sampled} of 1,000,000 sampled at one in fifty");
    }

    #[test]
    fn a_sample_of_a_year_is_about_ten_thousand_hits_and_the_index_matches_its_expression() {
        let sample = facet_sample(1_000_000).unwrap();
        let sampled = (1..=1_000_000i64).filter(|id| sample_bucket(*id) < sample.buckets).count();
        assert!((9_500..10_500).contains(&sampled), "{sampled} hits in the sample of a year");
        assert_eq!(SAMPLE_BUCKETS.to_string(), SAMPLE_BUCKET_SQL.rsplit("% ").next().unwrap().trim_end_matches(')'));
        // PostgreSQL uses the index only for the expression it was built on.
        let migration = include_str!("../../migrations/postgres/0050_facet_sample_index.sql");
        assert!(migration.contains(&format!("({})", SAMPLE_BUCKET_SQL.replace("{id}", "id"))), "{migration}");
    }

    #[test]
    fn a_common_words_total_is_estimated_from_its_sample_where_counting_reads_every_hit() {
        // PostgreSQL indexes the index entries' bucket by this very expression (0052).
        let migration = include_str!("../../migrations/postgres/0052_search_sample_index.sql");
        assert!(migration.contains(&format!("({})", SAMPLE_BUCKET_SQL.replace("{id}", "ticket_id"))), "{migration}");
        // A year's common word: its hits in the sample of its size, scaled, are its total within a
        // per cent.
        let hits: Vec<i64> = (1..=1_000_000i64).filter(|id| id % 11 == 3).collect();
        let sample = facet_sample(hits.len() as i64).unwrap();
        let in_sample = hits.iter().filter(|id| sample_bucket(**id) < sample.buckets).count() as i64;
        let estimate = estimate_total(in_sample, sample);
        assert!((estimate - hits.len() as i64).abs() * 100 <= hits.len() as i64, "{estimate} for {}", hits.len());
        assert_eq!(estimate_total(5, FacetSample { buckets: 0 }), 0);
        // Only an index that reads each hit to count it estimates, and only past the threshold.
        assert!(estimates_total(false, Some(EXACT_FACETS_UP_TO + 1)));
        assert!(!estimates_total(false, Some(EXACT_FACETS_UP_TO)));
        assert!(!estimates_total(false, None));
        assert!(!estimates_total(true, Some(1_000_000)));
    }

    fn actor(role: Role) -> Actor {
        Actor {
            user_id: 1,
            username: "u".into(),
            role,
            department: (role == Role::Department).then(|| "cgw".into()),
            units: if role == Role::Department { vec!["cgw".into()] } else { Vec::new() },
        }
    }

    #[test]
    fn only_centre_roles_search_by_phone() {
        assert_eq!(phone_query(&actor(Role::Operator), " 13812345678 "), Some("13812345678".into()));
        assert_eq!(phone_query(&actor(Role::Supervisor), "010-12345678"), Some("010-12345678".into()));
        assert_eq!(phone_query(&actor(Role::Department), "13812345678"), None);
        assert_eq!(phone_query(&actor(Role::Operator), "垃圾清运"), None);
    }

    #[test]
    fn terms_drop_punctuation_and_fold_case() {
        assert_eq!(keep_term("，"), None);
        assert_eq!(keep_term(" "), None);
        assert_eq!(keep_term("WiFi"), Some("wifi".into()));
        assert_eq!(keep_term("垃圾"), Some("垃圾".into()));
    }

    #[test]
    fn compounds_give_way_to_their_parts() {
        let words = ["垃圾清运", "垃圾", "清运", "垃圾"].map(String::from);
        assert_eq!(finest_terms(words), vec!["垃圾".to_string(), "清运".to_string()]);
        assert_eq!(finest_terms(["路灯".to_string()]), vec!["路灯".to_string()]);
    }

    #[test]
    fn documents_are_indexed_by_character_and_words_are_phrases() {
        assert_eq!(
            index_tokens("路灯不亮，WiFi 20261122-000123"),
            ["路", "灯", "不", "亮", "wifi", "20261122", "000123"]
        );
        let terms = vec!["垃圾".to_string(), "a\"b".to_string()];
        assert_eq!(fts5_all_terms(&terms), "\"垃 圾\" \"a b\"");
        assert_eq!(fts5_any_term(&terms), "\"垃 圾\" OR \"a b\"");
        let terms = vec!["垃圾".to_string(), "it's".to_string()];
        assert_eq!(tsquery_terms(&terms, false), "('垃圾') & ('it' <-> 's')");
        assert_eq!(tsquery_terms(&terms, true), "('垃圾') | ('it' <-> 's')");
    }

    #[test]
    fn postgres_reads_a_word_as_the_fewest_character_pairs_that_cover_it() {
        let q = |t: &str| tsquery_terms(&[t.to_string()], false);
        assert_eq!(q("物业"), "('物业')");
        assert_eq!(q("树"), "('树')");
        assert_eq!(q("路灯不亮"), "('路灯' <2> '不亮')");
        assert_eq!(q("渣土车遗撒"), "('渣土' <2> '车遗' <-> '遗撒')");
        assert_eq!(q("3号楼"), "('3' <-> '号楼')");
        assert_eq!(q("a4纸"), "('a4' <-> '纸')");
        assert_eq!(q("20261122-000123"), "('20261122' <-> '000123')");
        assert_eq!(q("号楼3单元"), "('号楼' <2> '3' <-> '单元')");
    }

    #[test]
    fn a_query_is_matched_on_its_first_ten_words_as_phrases() {
        let terms: Vec<String> = (0..12).map(|i| format!("词{i}")).collect();
        assert_eq!(matched_terms(terms.clone()), terms[..MAX_QUERY_TERMS].to_vec());
        assert_eq!(meili_all_terms(&["垃圾".into(), "20261122".into()]), "\"垃 圾\" \"20261122\"");
    }

    #[test]
    fn snippets_show_the_first_match_in_context() {
        assert_eq!(snippet("短文本", &["文本".into()]), "短文本");
        let long = format!("{}清运垃圾不及时{}", "前".repeat(80), "后".repeat(80));
        let s = snippet(&long, &["垃圾".into()]);
        assert!(s.starts_with('…') && s.ends_with('…'), "{s}");
        assert!(s.contains("清运垃圾不及时"), "{s}");
        assert_eq!(s.chars().filter(|c| *c != '…').count(), SNIPPET_CHARS);
        let none = snippet(&long, &["没有".into()]);
        assert!(none.starts_with('前') && none.ends_with('…'));
    }

    #[test]
    fn sort_orders_parse() {
        assert_eq!("newest".parse::<SortOrder>(), Ok(SortOrder::Newest));
        assert_eq!("relevance".parse::<SortOrder>(), Ok(SortOrder::Relevance));
        assert!("best".parse::<SortOrder>().is_err());
    }
}
