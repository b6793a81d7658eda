//! Ticket search: one interface ([`SearchIndex`]), two backends.
//!
//! * [`embedded::Embedded`] (the default): the index lives in the ticket database itself —
//!   FTS5 on SQLite, a tsvector with a GIN index on PostgreSQL — over words segmented by
//!   jieba ([`segment`]). Nothing else to run.
//! * [`meili::Meili`] when `meili_url` is set: the index lives in Meilisearch.
//!
//! Both are fed the same way: every ticket write queues an index update in the search outbox
//! (same transaction), and [`drain`] applies them with retry, so an index outage delays
//! search results and never loses an update. `hotline search reindex` rebuilds from scratch.
//! The rules they share (phone search, query terms, order, snippets) are
//! `crate::domain::search`'s.

pub mod drain;
pub mod embedded;
pub mod meili;
pub mod segment;
pub mod similar;

use crate::config::Config;
use crate::domain::ticket::Ticket;
use crate::store::{Store, StoreError};
use futures::future::BoxFuture;
use std::sync::Arc;

pub use crate::store::search::{SearchPage, SearchRequest};

#[derive(Debug, thiserror::Error)]
pub enum SearchError {
    #[error(transparent)]
    Store(#[from] StoreError),
    /// The search service refused a request or a task failed (a document or setting it does
    /// not accept): retried with back-off.
    #[error("search service: {0}")]
    Remote(String),
    /// The search service did not answer (down, a timeout, an internal error): the updates
    /// wait and go in as soon as it answers again.
    #[error("search service unreachable: {0}")]
    Unreachable(String),
    /// The search service refused the key (`meili_key`): start-up stops with this reason; a
    /// running server keeps its updates queued until the key is fixed.
    #[error("search service: {0}")]
    Key(String),
    #[error("{0}")]
    Config(String),
}

/// A search index of tickets.
pub trait SearchIndex: Send + Sync {
    /// `embedded` or `meilisearch`, as the API reports it.
    fn backend(&self) -> &'static str;
    /// Outbox entries the drain claims and sends at a time.
    fn batch_size(&self) -> i64 {
        drain::BATCH
    }
    /// Batches the drain sends at once. One for the embedded index (one writer); more for a
    /// service that merges the batches waiting in its queue into one indexing run.
    fn batches_at_once(&self) -> usize {
        1
    }
    /// Creates the index and applies its settings; waits until they are in force.
    fn prepare(&self) -> BoxFuture<'_, Result<(), SearchError>>;
    /// Adds or replaces these tickets' entries; returns once the index holds them.
    fn upsert<'a>(&'a self, tickets: &'a [Ticket]) -> BoxFuture<'a, Result<(), SearchError>>;
    /// Removes these tickets' entries (tickets no longer in the database).
    fn remove<'a>(&'a self, ids: &'a [i64]) -> BoxFuture<'a, Result<(), SearchError>>;
    /// Removes every entry.
    fn clear(&self) -> BoxFuture<'_, Result<(), SearchError>>;
    fn search<'a>(&'a self, request: &'a SearchRequest) -> BoxFuture<'a, Result<SearchPage, SearchError>>;
    /// Tickets sharing any of the request's words (not all), best first, up to its limit:
    /// candidates for the duplicate finder, which scores them itself.
    fn candidates<'a>(&'a self, request: &'a SearchRequest) -> BoxFuture<'a, Result<Vec<Ticket>, SearchError>>;
}

pub type Search = Arc<dyn SearchIndex>;

/// The backend the configuration asks for: Meilisearch when `meili_url` is set, else the
/// embedded index in the ticket database.
pub fn from_config(config: &Config, store: &Store) -> Result<Search, SearchError> {
    match &config.meili_url {
        Some(url) => {
            Ok(Arc::new(meili::Meili::new(url, config.meili_key.as_deref(), &config.meili_index, store.clone())?))
        }
        None => Ok(Arc::new(embedded::Embedded::new(store.clone()))),
    }
}
