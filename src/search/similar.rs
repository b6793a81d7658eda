//! The duplicate finder's lookup: gathers open tickets that might be the same problem (same
//! caller, same place, shared words) and has `domain::similar` score them.
//!
//! Candidates come from two places: the caller's and the community's open tickets, and the
//! index's best matches for the call's words. A ticket sharing only the street and the
//! category cannot reach [`MIN_SCORE`](crate::domain::similar::MIN_SCORE) without shared words (the weights say so, and a test
//! in `domain::similar` holds them to it), so it is found by its words or not at all: looking
//! up every open ticket of the street or of the category as well cost hundreds of candidates,
//! each segmented, per lookup.

use super::{Search, SearchError, SearchRequest};
use crate::catalog::Catalog;
use crate::domain::similar::{rank, Candidate, Probe, Suggestion};
use crate::domain::ticket::Ticket;
use crate::domain::types::Status;
use crate::store::search::CandidateProbe;
use crate::store::{Store, TicketFilter};
use chrono::{DateTime, Utc};

/// Structured candidates looked at, at most (newest first).
const STRUCTURED: i64 = 300;
/// Text candidates looked at, at most (best first).
const TEXTUAL: i64 = 100;
/// Query words used to find text candidates: the longest, which say the most.
const QUERY_WORDS: usize = 12;

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

/// Open tickets created since `since` that are likely the same problem, best first.
pub async fn suggest(
    store: &Store,
    search: &Search,
    catalog: &Catalog,
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
    let mut terms: Vec<String> = probe.words.iter().filter(|w| w.chars().count() > 1).cloned().collect();
    terms.sort_by_key(|w| std::cmp::Reverse(w.chars().count()));
    terms.truncate(QUERY_WORDS);
    if !terms.is_empty() {
        let open: Vec<Status> = Status::ALL.iter().copied().filter(|s| s.is_open()).collect();
        let request = SearchRequest {
            terms,
            filter: TicketFilter { statuses: open, created_from: Some(since), ..TicketFilter::default() },
            limit: TEXTUAL,
            ..SearchRequest::default()
        };
        tickets.extend(search.candidates(&request).await?);
    }
    tickets.retain(|t| Some(t.id) != draft.exclude && t.status.is_open());
    tickets.sort_by_key(|t| t.id);
    tickets.dedup_by_key(|t| t.id);
    let candidates: Vec<Candidate> = tickets
        .iter()
        .map(|t| Candidate { ticket: t, words: segmenter.word_set(&t.content), location: district.locate(&t.address) })
        .collect();
    let ranked = rank(&probe, &candidates);
    Ok(ranked
        .into_iter()
        .filter_map(|s| tickets.iter().find(|t| t.id == s.ticket_id).map(|t| (t.clone(), s)))
        .collect())
}
