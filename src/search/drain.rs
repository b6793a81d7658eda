//! The search drain: applies the search outbox to the index, and rebuilds the index.
//!
//! Like the mail drain (`crate::notify`): due entries are claimed with a lease, indexed with
//! no transaction open, then removed; a failure leaves them queued with the error, so an index
//! outage of any length delays search and loses nothing. An index that does not answer (or
//! refuses the key) is tried again every [`OUTAGE_RETRY`], so the queue flows as soon as it is
//! back; a batch the index refuses waits the mail drain's back-off (30 s doubling to an hour).
//! Tickets no longer in the database are removed from the index.

use super::{Search, SearchError};
use crate::notify::backoff;
use crate::store::search::StaleEntry;
use crate::store::Store;
use chrono::{DateTime, TimeDelta, Utc};
use std::future::Future;
use std::time::Duration;
use tokio::task::JoinHandle;

/// Entries claimed at a time (the embedded index's batch; see `SearchIndex::batch_size`).
pub const BATCH: i64 = 200;
/// Long enough for a batch on a slow index; should this process die, the batch is due again.
const LEASE: Duration = Duration::from_secs(300);
/// How soon an unreachable index is tried again.
pub const OUTAGE_RETRY: Duration = Duration::from_secs(5);
/// A drain stops after this many so one busy instance does not starve its other jobs.
const MAX_PER_DRAIN: usize = 5_000;

/// What one [`drain_once`] did.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct IndexReport {
    pub indexed: usize,
    /// Left queued for a later try.
    pub failed: usize,
    pub error: Option<String>,
}

/// Indexes what is due at `now`. Safe on several instances at once (each entry is claimed by
/// one of them). Stops after the first round with a failure: the rest would meet the same
/// outage. A round is up to `batches_at_once` batches, sent together.
pub async fn drain_once(store: &Store, index: &Search, now: DateTime<Utc>) -> Result<IndexReport, SearchError> {
    let mut report = IndexReport::default();
    loop {
        let mut round = Vec::new();
        while round.len() < index.batches_at_once().max(1) {
            let batch = store.claim_search(index.batch_size(), LEASE, now).await?;
            if batch.is_empty() {
                break;
            }
            round.push(batch);
        }
        if round.is_empty() {
            break;
        }
        let results = futures::future::join_all(round.iter().map(|batch| index_batch(store, index, batch))).await;
        let mut failed = false;
        for (batch, result) in round.iter().zip(results) {
            match result? {
                Ok(indexed) => report.indexed += indexed,
                Err(e) => {
                    let ids: Vec<i64> = batch.iter().map(|e| e.ticket_id).collect();
                    let tries = batch.iter().map(|e| e.attempts).max().unwrap_or(0) + 1;
                    let wait = match e {
                        SearchError::Unreachable(_) | SearchError::Key(_) => OUTAGE_RETRY,
                        _ => backoff(tries),
                    };
                    let next = now + TimeDelta::from_std(wait).unwrap_or(TimeDelta::hours(1));
                    let reason = e.to_string();
                    store.retry_search(&ids, batch[0].lease, &reason, next).await?;
                    report.failed += ids.len();
                    tracing::warn!(error = %reason, entries = ids.len(), retry_at = %next, "search index not updated; the updates stay queued");
                    report.error = Some(reason);
                    failed = true;
                }
            }
        }
        if failed || report.indexed >= MAX_PER_DRAIN {
            break;
        }
    }
    Ok(report)
}

/// Sends one claimed batch to the index and finishes its entries. The outer error is the
/// outbox's (reading or finishing), the inner one the index's (the batch stays queued).
async fn index_batch(
    store: &Store,
    index: &Search,
    batch: &[StaleEntry],
) -> Result<Result<usize, SearchError>, SearchError> {
    let ids: Vec<i64> = batch.iter().map(|e| e.ticket_id).collect();
    let lease = batch[0].lease;
    let tickets = store.tickets_by_ids(&ids).await?;
    // An entry for a ticket that is gone (a database restored from an older backup under
    // a running index, say) takes the ticket out of the index.
    let gone: Vec<&StaleEntry> = batch.iter().filter(|e| !tickets.iter().any(|t| t.id == e.ticket_id)).collect();
    let gone_ids: Vec<i64> = gone.iter().map(|e| e.ticket_id).collect();
    let written = match index.upsert(&tickets).await {
        Ok(()) => index.remove(&gone_ids).await,
        Err(e) => Err(e),
    };
    if let Err(e) = written {
        return Ok(Err(e));
    }
    let mut done: Vec<(i64, i64, i64)> = tickets.iter().map(|t| (t.id, t.version, lease)).collect();
    done.extend(gone.iter().map(|e| (e.ticket_id, e.version, e.lease)));
    store.finish_search(&done).await?;
    Ok(Ok(tickets.len()))
}

/// Drains every `interval` until `shutdown` resolves; prepares the index first (and again
/// after a failure, until it works).
pub fn spawn_drain(
    store: Store,
    index: Search,
    interval: Duration,
    shutdown: impl Future<Output = ()> + Send + 'static,
) -> JoinHandle<()> {
    tokio::spawn(async move {
        tokio::pin!(shutdown);
        let mut prepared = false;
        loop {
            if !prepared {
                match index.prepare().await {
                    Ok(()) => prepared = true,
                    Err(e) => tracing::warn!(error = %e, backend = index.backend(), "search index not ready; retrying"),
                }
            }
            if prepared {
                tokio::select! {
                    _ = &mut shutdown => break,
                    result = drain_once(&store, &index, store.now()) => match result {
                        Ok(report) if report.indexed > 0 => tracing::debug!(?report, "search index updated"),
                        Ok(_) => {}
                        Err(e) => tracing::warn!(error = %e, "search drain could not read or update the outbox"),
                    },
                }
            }
            let wait = if prepared { interval } else { interval.max(Duration::from_secs(5)) };
            tokio::select! {
                _ = &mut shutdown => break,
                _ = tokio::time::sleep(wait) => {}
            }
        }
    })
}

/// Rebuilds the index from scratch: empties it, marks every ticket stale and indexes them
/// all, calling `progress(done, total)` as it goes; returns how many were indexed (here or by
/// a running server's drain, which may take part). Running it twice gives the same index.
pub async fn reindex(store: &Store, index: &Search, mut progress: impl FnMut(u64, u64)) -> Result<u64, SearchError> {
    index.prepare().await?;
    index.clear().await?;
    store.queue_all_for_search().await?;
    let total = u64::try_from(store.search_backlog().await?).unwrap_or(0);
    let mut done = 0u64;
    progress(done, total);
    loop {
        let report = drain_once(store, index, store.now()).await?;
        if let Some(error) = report.error {
            return Err(SearchError::Remote(error));
        }
        if report.indexed > 0 {
            done += report.indexed as u64;
            progress(done.min(total), total);
            continue;
        }
        // Nothing left to claim here; a running server's drain may still hold the rest. The
        // rebuild is done when nothing waits, whichever instance indexed it.
        if store.search_backlog().await? == 0 {
            break;
        }
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    store.refresh_search_statistics().await?;
    progress(total, total);
    Ok(total)
}
