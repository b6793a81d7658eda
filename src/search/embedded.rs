//! The embedded index: segmented words in the ticket database (FTS5 on SQLite, tsvector on
//! PostgreSQL; the SQL is `store::search`'s). Filters, department scope and facets are
//! conditions on the live ticket rows. The index also holds each ticket's units and status as
//! keys, which narrow a search with words under a scope or a status in the index itself; like
//! the words, they lag behind a change until the drain has indexed it (a ticket just dispatched
//! to a unit is found by words in its scope once indexed, as a ticket just logged is), and a
//! ticket that left a scope is never shown in it: the live rows decide.

use super::{segment, SearchError, SearchIndex, SearchPage, SearchRequest};
use crate::domain::search::index_keys;
use crate::domain::ticket::Ticket;
use crate::store::search::IndexEntry;
use crate::store::Store;
use futures::future::BoxFuture;
use futures::FutureExt;

/// A ticket's entry in the embedded index: its segmented words, and its units and status as
/// keys (a search under a department's scope or a status is narrowed by them in the index).
pub fn index_entry(t: &Ticket) -> IndexEntry {
    IndexEntry {
        ticket_id: t.id,
        words: segment::ticket_words(t),
        keys: index_keys(t.assigned_units(), t.status.as_str()),
    }
}

pub struct Embedded {
    store: Store,
}

impl Embedded {
    pub fn new(store: Store) -> Embedded {
        Embedded { store }
    }
}

impl SearchIndex for Embedded {
    fn backend(&self) -> &'static str {
        "embedded"
    }

    fn prepare(&self) -> BoxFuture<'_, Result<(), SearchError>> {
        // The tables come with the migrations; the dictionary is loaded now, not on the
        // first call an operator is waiting for.
        async move {
            tokio::task::spawn_blocking(segment::warm_up).await.map_err(|e| SearchError::Config(e.to_string()))?;
            Ok(())
        }
        .boxed()
    }

    fn upsert<'a>(&'a self, tickets: &'a [Ticket]) -> BoxFuture<'a, Result<(), SearchError>> {
        async move {
            let entries: Vec<IndexEntry> = tickets.iter().map(index_entry).collect();
            self.store.write_search_words(&entries).await?;
            Ok(())
        }
        .boxed()
    }

    fn remove<'a>(&'a self, ids: &'a [i64]) -> BoxFuture<'a, Result<(), SearchError>> {
        async move { Ok(self.store.remove_search_words(ids).await?) }.boxed()
    }

    fn clear(&self) -> BoxFuture<'_, Result<(), SearchError>> {
        async move { Ok(self.store.clear_search_words().await?) }.boxed()
    }

    fn search<'a>(&'a self, request: &'a SearchRequest) -> BoxFuture<'a, Result<SearchPage, SearchError>> {
        async move { Ok(self.store.search_text(request, self.store.now()).await?) }.boxed()
    }

    fn candidates<'a>(&'a self, request: &'a SearchRequest) -> BoxFuture<'a, Result<Vec<Ticket>, SearchError>> {
        async move { Ok(self.store.search_any_term(request, self.store.now()).await?) }.boxed()
    }
}
