//! The duplicate finder's lookup: gathers open tickets that might be the same problem (same
//! caller, same place, shared words) and has `domain::similar` score them.
//!
//! Candidates come from two places: the caller's and the community's open tickets, and the
//! index's best matches for the call's words. A ticket sharing only the street and the
//! category cannot reach [`MIN_SCORE`](crate::domain::similar::MIN_SCORE) without shared
//! words (the weights say so, and a test in `domain::similar` holds them to it), so it is
//! found by its words or not at all: looking up every open ticket of the street or of the
//! category as well cost hundreds of candidates, each segmented, per lookup.
//!
//! The words looked up are the call's rarest: rare in general Chinese (jieba's IDF table) and
//! rare in the centre's own recent tickets ([`RecentWords`]), so that the index returns the
//! few tickets about the same thing rather than every complaint that says 来电人 or 小区.

use super::segment::Segmenter;
use super::{Search, SearchError, SearchRequest};
use crate::catalog::Catalog;
use crate::domain::similar::{rank, Candidate, Probe, Suggestion, WordRarity};
use crate::domain::ticket::Ticket;
use crate::domain::types::Status;
use crate::store::search::CandidateProbe;
use crate::store::{Store, TicketFilter};
use chrono::{DateTime, Utc};
use std::collections::{BTreeSet, HashMap};
use std::sync::{Arc, RwLock};
use std::time::{Duration, Instant};

/// Structured candidates looked at, at most, per condition (newest first).
const STRUCTURED: i64 = 300;
/// Text candidates looked at, at most (best first).
const TEXTUAL: i64 = 100;
/// Recent tickets counted for [`RecentWords`], and how long a count is used.
const RECENT_SAMPLE: i64 = 2_000;
/// Fewer recent tickets than this say nothing of the centre's everyday words (in a centre's
/// first days every word is in a large share of its few tickets).
const RECENT_ENOUGH: u32 = 500;
const RECENT_REFRESH: Duration = Duration::from_secs(600);

/// A call being typed, as the operator's form has it so far.
#[derive(Debug, Clone, Default)]
pub struct Draft {
    /// Only a complete, valid number is compared.
    pub phone: Option<String>,
    pub content: String,
    pub address: String,
    pub category: Option<String>,
    /// A ticket to leave out (the one being checked itself).
    pub exclude: Option<i64>,
}

/// In how many of the centre's most recent tickets each word appears.
#[derive(Debug, Default)]
pub struct RecentWords {
    tickets: u32,
    counts: HashMap<String, u32>,
}

impl RecentWords {
    pub fn count<'a>(segmenter: &Segmenter, texts: impl IntoIterator<Item = &'a str>) -> RecentWords {
        let mut out = RecentWords::default();
        for text in texts {
            out.tickets += 1;
            for word in segmenter.word_set(text) {
                *out.counts.entry(word).or_default() += 1;
            }
        }
        out
    }

    /// The share of the counted tickets that hold `word` (0 when too few were counted).
    fn share(&self, word: &str) -> f64 {
        if self.tickets < RECENT_ENOUGH {
            return 0.0;
        }
        f64::from(self.counts.get(word).copied().unwrap_or(0)) / f64::from(self.tickets)
    }
}

/// Suggests likely duplicates; keeps the count of the centre's recent words between calls.
#[derive(Default)]
pub struct DuplicateFinder {
    recent: RwLock<Option<(Instant, Arc<RecentWords>)>>,
    /// Held while counting, so that one count runs at a time.
    recount: Arc<tokio::sync::Mutex<()>>,
}

impl DuplicateFinder {
    /// Open tickets created since `since` that are likely the same problem, best first.
    pub async fn suggest(
        self: &Arc<Self>,
        store: &Store,
        search: &Search,
        catalog: &Arc<Catalog>,
        draft: &Draft,
        since: DateTime<Utc>,
    ) -> Result<Vec<(Ticket, Suggestion)>, SearchError> {
        let (district, segmenter) = (&catalog.district, &catalog.segmenter);
        let location = district.locate(&draft.address).or_else(|| district.locate(&draft.content));
        let probe = Probe {
            phone: draft.phone.clone(),
            words: segmenter.word_set(&draft.content),
            location: location.clone(),
            category: draft.category.clone(),
        };
        let mut tickets = store
            .similar_candidates(
                &CandidateProbe {
                    phone: probe.phone.clone(),
                    community: location.as_ref().and_then(|l| l.community.clone()),
                    since,
                    exclude: draft.exclude,
                },
                STRUCTURED,
            )
            .await?;
        let recent = self.recent_words(store, catalog).await?;
        let terms = lookup_words(segmenter, &recent, &probe.words);
        if !terms.is_empty() {
            let open: Vec<Status> = Status::ALL.iter().copied().filter(|s| s.is_open()).collect();
            let request = SearchRequest {
                terms,
                filter: TicketFilter { statuses: open, created_from: Some(since), ..TicketFilter::default() },
                limit: TEXTUAL,
                ..SearchRequest::default()
            };
            match search.candidates(&request).await {
                Ok(found) => tickets.extend(found),
                // The operator is on the phone: with the index down the caller's and the
                // community's tickets are still offered, rather than no help at all.
                Err(SearchError::Unreachable(e) | SearchError::Key(e)) => {
                    tracing::warn!(error = %e, "duplicate suggestions without the text lookup: the search index is unavailable");
                }
                Err(e) => return Err(e),
            }
        }
        tickets.retain(|t| Some(t.id) != draft.exclude && t.status.is_open());
        tickets.sort_by_key(|t| t.id);
        tickets.dedup_by_key(|t| t.id);
        let candidates: Vec<Candidate> = tickets
            .iter()
            .map(|t| Candidate {
                ticket: t,
                words: segmenter.word_set(&t.content),
                location: district.locate(&t.address),
            })
            .collect();
        let ranked = rank(&probe, &candidates);
        Ok(ranked
            .into_iter()
            .filter_map(|s| tickets.iter().find(|t| t.id == s.ticket_id).map(|t| (t.clone(), s)))
            .collect())
    }

    /// The recent words' count. The first call counts; later, a count older than
    /// [`RECENT_REFRESH`] is used once more while one task counts again in the background,
    /// so that no operator waits for it.
    async fn recent_words(
        self: &Arc<Self>,
        store: &Store,
        catalog: &Arc<Catalog>,
    ) -> Result<Arc<RecentWords>, SearchError> {
        let current = self.recent.read().expect("recent words lock poisoned").clone();
        match current {
            Some((at, words)) if at.elapsed() < RECENT_REFRESH => Ok(words),
            Some((_, words)) => {
                if let Ok(guard) = self.recount.clone().try_lock_owned() {
                    let (finder, store, catalog) = (self.clone(), store.clone(), catalog.clone());
                    tokio::spawn(async move {
                        let _recounting = guard;
                        if let Err(e) = finder.count_recent_words(&store, catalog).await {
                            tracing::warn!("counting the recent tickets' words failed: {e}");
                        }
                    });
                }
                Ok(words)
            }
            None => {
                let _recounting = self.recount.lock().await;
                if let Some((_, words)) = self.recent.read().expect("recent words lock poisoned").clone() {
                    return Ok(words);
                }
                self.count_recent_words(store, catalog.clone()).await
            }
        }
    }

    async fn count_recent_words(&self, store: &Store, catalog: Arc<Catalog>) -> Result<Arc<RecentWords>, SearchError> {
        let texts = store.recent_contents(RECENT_SAMPLE).await?;
        // Segmenting a few thousand texts takes a while: off the request threads.
        let words = tokio::task::spawn_blocking(move || {
            Arc::new(RecentWords::count(&catalog.segmenter, texts.iter().map(String::as_str)))
        })
        .await
        .map_err(|e| SearchError::Config(format!("counting recent words: {e}")))?;
        *self.recent.write().expect("recent words lock poisoned") = Some((Instant::now(), words.clone()));
        Ok(words)
    }
}

/// The words to look text candidates up by (`domain::similar::lookup_words`), each rated by
/// its share of the centre's recent tickets and its IDF in general Chinese.
fn lookup_words(segmenter: &Segmenter, recent: &RecentWords, words: &BTreeSet<String>) -> Vec<String> {
    let rated = words.iter().map(|w| WordRarity { word: w, local_share: recent.share(w), idf: segmenter.idf(w) });
    crate::domain::similar::lookup_words(rated)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_call_is_looked_up_by_the_words_that_name_its_problem() {
        let segmenter = Segmenter::default();
        let none = RecentWords::default();
        let words =
            segmenter.word_set("北塘家园12号楼703室暖气片接口漏水，水已经流到楼下了，希望尽快解决，请紧急处理。");
        let lookup = lookup_words(&segmenter, &none, &words);
        assert_eq!(lookup.len(), crate::domain::similar::QUERY_WORDS);
        for named in ["暖气片", "漏水", "北塘"] {
            assert!(lookup.iter().any(|w| w == named), "{named} missing from {lookup:?}");
        }
        for everyday in ["12", "703", "希望", "解决", "处理", "已经"] {
            assert!(!lookup.iter().any(|w| w == everyday), "{everyday} in {lookup:?}");
        }
        assert!(lookup_words(&segmenter, &none, &segmenter.word_set("希望尽快解决处理")).is_empty());
    }

    #[test]
    fn the_centres_own_everyday_words_are_not_looked_up() {
        let segmenter = Segmenter::default();
        // Every recent ticket ends with the same request; one in 25 is about a gas leak.
        let texts: Vec<String> = (0..RECENT_ENOUGH)
            .map(|i| {
                let problem = if i % 25 == 0 { "燃气泄漏" } else { "路面坑洼" };
                format!("小区门口{problem}，来电人要求回复。")
            })
            .collect();
        let recent = RecentWords::count(&segmenter, texts.iter().map(String::as_str));
        let words = segmenter.word_set("小区燃气泄漏，味道很浓，来电人要求回复。");
        let lookup = lookup_words(&segmenter, &recent, &words);
        assert!(!lookup.iter().any(|w| w == "来电" || w == "小区"), "{lookup:?}");
        assert!(lookup.iter().any(|w| w == "燃气"), "{lookup:?}");
        // Words no recent ticket holds come before words some do.
        let first_seen = lookup.iter().position(|w| recent.share(w) > 0.0).unwrap_or(lookup.len());
        assert!(lookup[..first_seen].iter().all(|w| recent.share(w) == 0.0));
        assert!(lookup[first_seen..].iter().all(|w| recent.share(w) > 0.0), "{lookup:?}");

        // A new centre's few tickets say nothing yet.
        let few = RecentWords::count(&segmenter, texts.iter().take(20).map(String::as_str));
        assert!(lookup_words(&segmenter, &few, &words).iter().any(|w| w == "来电"));
    }
}
