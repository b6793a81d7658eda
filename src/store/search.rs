//! Search storage: the search outbox (index updates waiting), and the embedded index — FTS5
//! on SQLite, a tsvector of characters and character pairs with a GIN index on PostgreSQL — with its queries.
//!
//! The outbox follows the mail outbox's pattern (`outbox.rs`): a row written in the ticket's
//! write transaction, claimed with a lease by one drain at a time, retried with back-off.
//! One row per ticket: a second change before the drain ran only raises the version.
//!
//! Queries are built once; the dialects differ only in the text-match clause and the rank.
//! Department scope and every filter are conditions of the same statement (the shared
//! [`super::tickets::push_filters`]), so a page never loses hits to a filter applied later.
//! The index also holds each ticket's units and status as keys (migration 0051): with words,
//! a scope or a status is matched in the index as well, so the index intersects the two lists
//! (`words : (…) AND keys : (…)` in FTS5, a second GIN index on PostgreSQL); the ticket rows
//! still decide.

use super::tickets::{decode_body, insert_rows, push_filters};
use super::{get_i64, get_opt_i64, get_opt_string, millis, Backend, Result, Sql, Store, StoreError, TicketFilter};
use crate::domain::search::{
    estimate_count, estimate_total, estimates_total, facet_sample, filters_first, fts5_all_terms, fts5_any_term,
    fts5_with_keys, ranked_newest, ranked_window, required_keys, tsquery_terms, FacetSample, SortOrder,
    EXACT_FACETS_UP_TO, FACETS, RANKED_NEWEST_UP_TO, SAMPLE_BUCKET_SQL,
};
use crate::domain::ticket::Ticket;
use chrono::{DateTime, Utc};
use sqlx::{Any, Transaction};
use std::collections::BTreeMap;
use std::time::Duration;

/// How far apart the clocks of two instances may be without a search by creation time missing
/// a ticket at the window's edge (see `with_id_window`).
const ID_WINDOW_MARGIN: Duration = Duration::from_secs(600);

/// The rows PostgreSQL's plan expects of its top node, from `EXPLAIN`'s first line
/// (`Bitmap Heap Scan on search_docs d  (cost=878.15..124150.19 rows=93697 width=0)`).
fn planned_rows(line: &str) -> Option<i64> {
    let after = &line[line.find(" rows=")? + " rows=".len()..];
    after[..after.find(' ').unwrap_or(after.len())].parse().ok()
}

/// A ticket whose index entry is stale, claimed for indexing.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct StaleEntry {
    pub ticket_id: i64,
    pub version: i64,
    /// Tries so far, not counting this one.
    pub attempts: i64,
    /// The claim's lease (its expiry, Unix ms): it identifies the claim, so that finishing
    /// touches the entry only while this claim still holds it. A rebuild that marks every
    /// ticket stale meanwhile (`queue_all_for_search`) releases every lease, and the entry
    /// then stays queued even if this claim indexed the same version before the index was
    /// emptied.
    pub lease: i64,
}

/// A search as every index receives it: already segmented, scoped and checked.
#[derive(Debug, Clone, Default)]
pub struct SearchRequest {
    /// Words a hit must all contain (the segmented query); empty: filters only.
    pub terms: Vec<String>,
    /// The query is a caller's phone and the asker may search by phone: match it exactly.
    pub phone: Option<String>,
    /// Filters, with the department scope in `departments` (lists and search share them).
    pub filter: TicketFilter,
    pub sort: SortOrder,
    pub limit: i64,
    pub offset: i64,
}

impl SearchRequest {
    /// The search matches words (not a phone, not filters alone): the index takes part.
    pub fn has_words(&self) -> bool {
        self.phone.is_none() && !self.terms.is_empty()
    }
}

/// A ticket as the embedded index holds it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct IndexEntry {
    pub ticket_id: i64,
    /// The segmented words, separated by spaces.
    pub words: String,
    /// Its units and status ([`crate::domain::search::index_keys`]), separated by spaces.
    pub keys: String,
}

impl SearchRequest {
    /// The keys a hit must hold, one of each group ([`required_keys`]): the scope's units and
    /// the statuses filtered on.
    fn required_keys(&self) -> Vec<Vec<String>> {
        let statuses: Vec<&str> = self.filter.statuses.iter().map(|s| s.as_str()).collect();
        required_keys(self.filter.departments.as_deref(), &statuses)
    }

    /// The scope's units, when a department's scope is all this search asks (no words, no phone,
    /// no other filter): its hits are the tickets its units hold, each once.
    fn scope_alone(&self, now: DateTime<Utc>) -> Option<&[String]> {
        let units = self.filter.departments.as_deref().filter(|u| !u.is_empty())?;
        let rest = TicketFilter { departments: None, ..self.filter.clone() };
        (self.terms.is_empty() && self.phone.is_none() && filters_nothing(&rest, now)).then_some(units)
    }

    /// The FTS5 query of the words (all, or `any`), and of the keys the filters require.
    fn fts5_query(&self, any: bool) -> String {
        let words = if any { fts5_any_term(&self.terms) } else { fts5_all_terms(&self.terms) };
        fts5_with_keys(&words, &self.required_keys())
    }
}

/// One page of hits, best first, with the total and the facet counts over all hits.
#[derive(Debug, Clone, Default)]
pub struct SearchPage {
    pub total: i64,
    pub tickets: Vec<Ticket>,
    /// facet (`status`, `department`, `street`, `category`, `kind`) → value → count.
    pub facets: BTreeMap<String, BTreeMap<String, i64>>,
    /// The facet counts are estimated from a sample of the hits (there were more than
    /// [`crate::domain::search::EXACT_FACETS_UP_TO`]).
    pub facets_estimated: bool,
    /// `total` is estimated from the same sample ([`crate::domain::search::estimates_total`]:
    /// words with that many hits on PostgreSQL); else it is exact.
    pub total_estimated: bool,
    /// Relevance ordered only the newest this many hits (there were more:
    /// [`crate::domain::search::RANKED_NEWEST_UP_TO`]). `None`: every hit was ranked, or the
    /// order is not relevance.
    pub ranked_newest: Option<i64>,
}

/// Queues index updates for tickets just written, in the writer's transaction.
pub(super) async fn queue_search(tx: &mut Transaction<'_, Any>, tickets: &[Ticket]) -> Result<()> {
    // In ticket order, as a full requeue takes them: two writers upserting several entries
    // at once (here bulk intake; ticket changes are serialised by the sequence lock) then
    // cannot wait on each other in a circle.
    let mut tickets: Vec<&Ticket> = tickets.iter().collect();
    tickets.sort_by_key(|t| t.id);
    let rows = tickets
        .iter()
        .map(|t| vec![t.id.into(), t.version.into(), millis(t.updated_at).into(), 0i64.into(), 0i64.into()])
        .collect();
    insert_rows(
        tx,
        "INSERT INTO search_outbox (ticket_id, version, queued_at, attempts, next_attempt_at) VALUES ",
        rows,
        " ON CONFLICT (ticket_id) DO UPDATE SET version = excluded.version, next_attempt_at = 0",
    )
    .await
}

/// Removes an indexed entry, or releases it when a newer version was queued meanwhile; an
/// entry no longer held by this claim (requeued by a rebuild) is left as it is.
async fn finish_entry(tx: &mut Transaction<'_, Any>, ticket_id: i64, version: i64, lease: i64) -> Result<()> {
    let removed = sqlx::query("DELETE FROM search_outbox WHERE ticket_id = $1 AND version <= $2 AND locked_until = $3")
        .bind(ticket_id)
        .bind(version)
        .bind(lease)
        .execute(&mut **tx)
        .await?;
    if removed.rows_affected() == 0 {
        sqlx::query("UPDATE search_outbox SET locked_until = NULL WHERE ticket_id = $1 AND locked_until = $2")
            .bind(ticket_id)
            .bind(lease)
            .execute(&mut **tx)
            .await?;
    }
    Ok(())
}

/// SQLite's rank of a hit by its words alone: the keys column weighs nothing (every hit of a
/// scoped search holds a scope key; it says nothing of relevance).
const BM25: &str = "bm25(search_fts, 1.0, 0.0)";

/// PostgreSQL: the keys a hit must hold ([`SearchRequest::required_keys`]), one of each group,
/// as conditions on the keys' GIN index (migration 0051), which the planner intersects with the
/// words' bitmap.
fn push_key_conditions(sql: &mut Sql, query: &SearchRequest) {
    for group in query.required_keys() {
        sql.push(" AND string_to_array(d.keys, ' ') && ARRAY[");
        for (i, key) in group.into_iter().enumerate() {
            if i > 0 {
                sql.push(", ");
            }
            sql.bind(key);
        }
        sql.push("]::text[]");
    }
}

/// Whether a filter adds no condition to a statement (as [`push_filters`] writes it).
fn filters_nothing(filter: &TicketFilter, now: DateTime<Utc>) -> bool {
    let mut conditions = Sql::new("");
    push_filters(&mut conditions, filter, now);
    conditions.text().is_empty()
}

/// The hits the facet rows counted (each row: a count `n` and a value of each facet).
fn sample_size(rows: &[sqlx::any::AnyRow]) -> Result<i64> {
    rows.iter().map(|row| get_i64(row, "n")).sum()
}

/// The facet's column on the ticket row.
fn facet_column(facet: &str) -> &'static str {
    match facet {
        "status" => "t.status",
        "department" => "t.lead",
        "street" => "t.street",
        "category" => "t.category",
        _ => "t.kind",
    }
}

impl Store {
    /// Index updates not yet applied (what an operator watches during an index outage).
    pub async fn search_backlog(&self) -> Result<i64> {
        let row = sqlx::query("SELECT COUNT(*) AS n FROM search_outbox").fetch_one(&self.pool).await?;
        get_i64(&row, "n")
    }

    /// Claims up to `limit` stale entries due at `now` for `lease`.
    pub async fn claim_search(&self, limit: i64, lease: Duration, now: DateTime<Utc>) -> Result<Vec<StaleEntry>> {
        let now_ms = millis(now);
        let until = now_ms.saturating_add(i64::try_from(lease.as_millis()).unwrap_or(i64::MAX));
        // The due conditions are repeated outside the sub-select: of two instances racing for
        // a row, the second re-checks them on the row the first changed, and skips it. On
        // PostgreSQL the rows are taken with SKIP LOCKED: a ticket transaction upserting several
        // entries holds their row locks, and waiting on them in the scan's order could close a
        // deadlock cycle with it; an entry in use now is simply claimed on the next round.
        let skip_locked = match self.backend {
            Backend::Postgres => " FOR UPDATE SKIP LOCKED",
            Backend::Sqlite => "",
        };
        let rows = sqlx::query(&format!(
            "UPDATE search_outbox SET locked_until = $1 WHERE ticket_id IN (SELECT ticket_id FROM search_outbox \
             WHERE next_attempt_at <= $2 AND (locked_until IS NULL OR locked_until <= $2) \
             ORDER BY next_attempt_at, ticket_id LIMIT $3{skip_locked}) \
             AND next_attempt_at <= $2 AND (locked_until IS NULL OR locked_until <= $2) \
             RETURNING ticket_id, version, attempts",
        ))
        .bind(until)
        .bind(now_ms)
        .bind(limit.max(1))
        .fetch_all(&self.writer)
        .await?;
        rows.iter()
            .map(|r| {
                Ok(StaleEntry {
                    ticket_id: get_i64(r, "ticket_id")?,
                    version: get_i64(r, "version")?,
                    attempts: get_i64(r, "attempts")?,
                    lease: until,
                })
            })
            .collect()
    }

    /// The index now holds these tickets at these versions (ticket id, version, the claim's
    /// lease): their entries are done unless a later change queued a newer version meanwhile
    /// (that one stays, and is released) or a rebuild requeued them (they stay).
    ///
    /// SQLite has one writer, so the batch is one transaction (a commit per entry costs a disk
    /// flush each). On PostgreSQL each entry is its own transaction: holding several entries'
    /// row locks at once could close a circle with a ticket transaction upserting two of them
    /// in the other order (a merge writes both tickets); not waiting for the flush
    /// (`synchronous_commit = off`) keeps that cheap, and is safe because a finish lost in a
    /// crash only indexes the ticket again.
    pub async fn finish_search(&self, indexed: &[(i64, i64, i64)]) -> Result<()> {
        match self.backend {
            Backend::Sqlite => {
                let mut tx = self.writer.begin().await?;
                for (ticket_id, version, lease) in indexed {
                    finish_entry(&mut tx, *ticket_id, *version, *lease).await?;
                }
                tx.commit().await?;
            }
            Backend::Postgres => {
                for (ticket_id, version, lease) in indexed {
                    let mut tx = self.writer.begin().await?;
                    sqlx::query("SET LOCAL synchronous_commit = off").execute(&mut *tx).await?;
                    finish_entry(&mut tx, *ticket_id, *version, *lease).await?;
                    tx.commit().await?;
                }
            }
        }
        Ok(())
    }

    /// The index could not take these entries of the claim with this `lease`; they are tried
    /// again at `next_attempt_at` (entries a rebuild requeued meanwhile are due at once).
    pub async fn retry_search(
        &self,
        ids: &[i64],
        lease: i64,
        error: &str,
        next_attempt_at: DateTime<Utc>,
    ) -> Result<()> {
        let mut sql = Sql::new("UPDATE search_outbox SET attempts = attempts + 1, last_error = ");
        sql.bind(error.chars().take(2000).collect::<String>())
            .push(", next_attempt_at = ")
            .bind(millis(next_attempt_at))
            .push(", locked_until = NULL WHERE locked_until = ")
            .bind(lease)
            .push(" AND ticket_id IN ")
            .bind_list(ids);
        sql.query().execute(&self.writer).await?;
        Ok(())
    }

    /// The last error of the oldest waiting entry, if it failed (for logs and admins).
    pub async fn search_last_error(&self) -> Result<Option<String>> {
        let row = sqlx::query(
            "SELECT last_error FROM search_outbox WHERE last_error IS NOT NULL ORDER BY queued_at, ticket_id LIMIT 1",
        )
        .fetch_optional(&self.pool)
        .await?;
        Ok(row.map(|r| get_opt_string(&r, "last_error")).transpose()?.flatten())
    }

    /// Marks every ticket stale (a rebuild of the index from scratch).
    pub async fn queue_all_for_search(&self) -> Result<i64> {
        let done = sqlx::query(
            "INSERT INTO search_outbox (ticket_id, version, queued_at, attempts, next_attempt_at) \
             SELECT id, version, updated_at, 0, 0 FROM tickets WHERE true ORDER BY id \
             ON CONFLICT (ticket_id) DO UPDATE SET version = excluded.version, next_attempt_at = 0, attempts = 0, \
             locked_until = NULL, last_error = NULL",
        )
        .execute(&self.writer)
        .await?;
        Ok(i64::try_from(done.rows_affected()).unwrap_or(i64::MAX))
    }

    /// Tickets by id, in no particular order; ids that do not exist are skipped.
    pub async fn tickets_by_ids(&self, ids: &[i64]) -> Result<Vec<Ticket>> {
        if ids.is_empty() {
            return Ok(Vec::new());
        }
        let mut sql = Sql::new("SELECT body FROM tickets WHERE id IN ");
        sql.bind_list(ids);
        let rows = sql.query().fetch_all(&self.pool).await?;
        rows.iter().map(decode_body).collect()
    }

    /// Writes the embedded index entries.
    pub async fn write_search_words(&self, entries: &[IndexEntry]) -> Result<()> {
        if entries.is_empty() {
            return Ok(());
        }
        let rows =
            entries.iter().map(|e| vec![e.ticket_id.into(), e.words.as_str().into(), e.keys.as_str().into()]).collect();
        let mut tx = self.writer.begin().await?;
        match self.backend {
            Backend::Sqlite => {
                // FTS5 has no upsert: replace by rowid.
                let mut delete = Sql::new("DELETE FROM search_fts WHERE rowid IN ");
                delete.bind_list(&entries.iter().map(|e| e.ticket_id).collect::<Vec<_>>());
                delete.query().execute(&mut *tx).await?;
                insert_rows(&mut tx, "INSERT INTO search_fts (rowid, words, keys) VALUES ", rows, "").await?;
            }
            Backend::Postgres => {
                insert_rows(
                    &mut tx,
                    "INSERT INTO search_docs (ticket_id, words, keys) VALUES ",
                    rows,
                    " ON CONFLICT (ticket_id) DO UPDATE SET words = excluded.words, keys = excluded.keys",
                )
                .await?;
            }
        }
        tx.commit().await?;
        Ok(())
    }

    /// Refreshes the database's statistics of the embedded index after a bulk change (a
    /// rebuild): PostgreSQL's planner estimates a word's hits by them, and a ranking's window of
    /// the newest ids is sized by that estimate (`read_ranked_in_window`). Autovacuum does the
    /// same some minutes after ordinary writes. SQLite's searches use no statistics.
    pub async fn refresh_search_statistics(&self) -> Result<()> {
        if self.backend == Backend::Postgres {
            sqlx::query("ANALYZE search_docs").execute(&self.writer).await?;
        }
        Ok(())
    }

    /// Removes these tickets from the embedded index.
    pub async fn remove_search_words(&self, ids: &[i64]) -> Result<()> {
        if ids.is_empty() {
            return Ok(());
        }
        let mut sql = match self.backend {
            Backend::Sqlite => Sql::new("DELETE FROM search_fts WHERE rowid IN "),
            Backend::Postgres => Sql::new("DELETE FROM search_docs WHERE ticket_id IN "),
        };
        sql.bind_list(ids);
        sql.query().execute(&self.writer).await?;
        Ok(())
    }

    /// Empties the embedded index.
    pub async fn clear_search_words(&self) -> Result<()> {
        let table = match self.backend {
            Backend::Sqlite => "search_fts",
            Backend::Postgres => "search_docs",
        };
        sqlx::query(&format!("DELETE FROM {table}")).execute(&self.writer).await?;
        Ok(())
    }

    /// `FROM … WHERE …` of a text query: the index joined to the ticket rows, the match, and
    /// every filter. `any` accepts any term instead of all. `filters_first` (SQLite, see
    /// [`Store::reads_filters_first`]): the tickets are read by the filters' index and each is
    /// checked against the set of the index's hits, instead of each hit looked up.
    fn push_text_source(
        &self,
        sql: &mut Sql,
        query: &SearchRequest,
        any: bool,
        filters_first: bool,
        now: DateTime<Utc>,
    ) {
        match (&query.phone, query.terms.is_empty(), self.backend) {
            (Some(phone), _, _) => {
                sql.push(" FROM tickets t WHERE t.caller_phone = ").bind(phone);
            }
            (None, true, _) => {
                sql.push(" FROM tickets t WHERE 1 = 1");
            }
            (None, false, Backend::Sqlite) if filters_first => {
                // `+` keeps SQLite from looking each hit up by id (that is the other plan): the
                // filter's index is read and the hits are a set to check against.
                sql.push(" FROM tickets t WHERE +t.id IN (SELECT rowid FROM search_fts WHERE search_fts MATCH ")
                    .bind(query.fts5_query(any))
                    .push(")");
            }
            (None, false, Backend::Sqlite) => {
                let expr = query.fts5_query(any);
                // CROSS JOIN makes SQLite run the full-text match once and look the tickets up
                // by id; left to itself it may scan tickets and re-run the match per row.
                sql.push(" FROM search_fts CROSS JOIN tickets t WHERE t.id = search_fts.rowid AND search_fts MATCH ")
                    .bind(expr);
            }
            (None, false, Backend::Postgres) => {
                sql.push(" FROM search_docs d JOIN tickets t ON t.id = d.ticket_id WHERE d.tsv @@ CAST(")
                    .bind(tsquery_terms(&query.terms, any))
                    .push(" AS tsquery)");
                push_key_conditions(sql, query);
            }
        }
        push_filters(sql, &query.filter, now);
    }

    /// `FROM … WHERE …` of the index alone, matching every term: what words without filters
    /// need (a count, a ranking), without a ticket row each.
    fn push_index_match(&self, sql: &mut Sql, query: &SearchRequest) {
        match self.backend {
            Backend::Sqlite => {
                sql.push(" FROM search_fts WHERE search_fts MATCH ").bind(query.fts5_query(false));
            }
            Backend::Postgres => {
                sql.push(" FROM search_docs d WHERE d.tsv @@ CAST(")
                    .bind(tsquery_terms(&query.terms, false))
                    .push(" AS tsquery)");
                push_key_conditions(sql, query);
            }
        }
    }

    /// Best match first: bm25 on SQLite (lower is better), ts_rank on PostgreSQL.
    fn push_rank_order(&self, sql: &mut Sql, query: &SearchRequest, any: bool) {
        match (query.sort, query.has_words(), self.backend) {
            (SortOrder::Relevance, true, Backend::Sqlite) => {
                sql.push(&format!(" ORDER BY {BM25}, t.id DESC"));
            }
            (SortOrder::Relevance, true, Backend::Postgres) => {
                sql.push(" ORDER BY ts_rank(d.tsv, CAST(")
                    .bind(tsquery_terms(&query.terms, any))
                    .push(" AS tsquery)) DESC, t.id DESC");
            }
            _ => {
                sql.push(self.newest_order(query, false));
            }
        }
    }

    /// Newest first is the order of receipt: ids are given in creation order, so each index on
    /// `(…, id)` (and FTS5 by its rowid) reads the newest first and stops at the page, where
    /// ordering by the time would sort every hit.
    fn newest_order(&self, query: &SearchRequest, filters_first: bool) -> &'static str {
        match (query.has_words() && !filters_first, self.backend) {
            (true, Backend::Sqlite) => " ORDER BY search_fts.rowid DESC",
            _ => " ORDER BY t.id DESC",
        }
    }

    /// The id column that drives a search: the index's when there are words (a sample
    /// condition on it is checked before the ticket row is read).
    fn driving_id(&self, query: &SearchRequest, filters_first: bool) -> &'static str {
        match (query.has_words(), self.backend) {
            (true, Backend::Sqlite) if filters_first => "t.id",
            (true, Backend::Sqlite) => "search_fts.rowid",
            (true, Backend::Postgres) => "d.ticket_id",
            (false, _) => "t.id",
        }
    }

    /// The statements of one search that do not depend on its size: the page and the hit count.
    fn search_statements(&self, query: &SearchRequest, filters_first: bool, now: DateTime<Utc>) -> (Sql, Sql) {
        let page = if query.has_words() && query.sort == SortOrder::Relevance {
            self.ranked_page(query, now, filters_first, None)
        } else {
            self.newest_page(query, filters_first, now)
        };
        let count = match query.scope_alone(now) {
            // A department's whole scope: counted on its units' index alone. Through the tickets,
            // PostgreSQL hashed the million entries of their key index against the scope's 64,500
            // (290–900 ms at 1,000,000 tickets, ops/bench/RESULTS.md).
            Some(units) => {
                let mut count =
                    Sql::new("SELECT COUNT(DISTINCT u.ticket_id) AS n FROM ticket_units u WHERE u.department IN ");
                count.bind_list(units);
                count
            }
            None => {
                let mut count = Sql::new("SELECT COUNT(*) AS n");
                self.push_hits(&mut count, query, filters_first, now);
                count
            }
        };
        (page, count)
    }

    /// `FROM … WHERE …` of a search's hits where no ticket column is read: words without
    /// filters are the index's match alone (a count, a ranking, without a ticket row each);
    /// anything else is [`Store::push_text_source`]'s.
    fn push_hits(&self, sql: &mut Sql, query: &SearchRequest, filters_first: bool, now: DateTime<Utc>) {
        if query.has_words() && filters_nothing(&query.filter, now) {
            self.push_index_match(sql, query);
        } else {
            self.push_text_source(sql, query, false, filters_first, now);
        }
    }

    /// A page of hits in order of receipt (newest first).
    fn newest_page(&self, query: &SearchRequest, filters_first: bool, now: DateTime<Utc>) -> Sql {
        let mut page = Sql::new("SELECT t.body");
        self.push_text_source(&mut page, query, false, filters_first, now);
        page.push(self.newest_order(query, filters_first))
            .push(" LIMIT ")
            .bind(query.limit.max(1))
            .push(" OFFSET ")
            .bind(query.offset.max(0));
        page
    }

    /// A page of the best matches among the newest [`RANKED_NEWEST_UP_TO`] hits: the hits are
    /// cut to the newest in the index (ranking reads every hit it ranks), ranked (bm25 on
    /// SQLite, lower is better; ts_rank on PostgreSQL), and only the page's tickets are read.
    ///
    /// `window` (PostgreSQL, see [`Store::read_ranked_in_window`]): only hits from this id on,
    /// and each row says how many hits were ranked (`ranked`).
    fn ranked_page(&self, query: &SearchRequest, now: DateTime<Utc>, filters_first: bool, window: Option<i64>) -> Sql {
        let mut page = Sql::new(if window.is_some() {
            "SELECT t.body, hit.ranked FROM (SELECT id, rank, COUNT(*) OVER () AS ranked FROM ("
        } else {
            "SELECT t.body FROM (SELECT id, rank FROM ("
        });
        let (best_first, hits_best_first) = match self.backend {
            Backend::Sqlite => {
                page.push(&format!("SELECT search_fts.rowid AS id, {BM25} AS rank"));
                if filters_first {
                    // bm25 exists only inside the full-text query: the hits that pass the
                    // filters (read filters first) are a set it checks (`+`: not a lookup of
                    // each by rowid, which re-runs the match per id).
                    self.push_index_match(&mut page, query);
                    page.push(" AND +search_fts.rowid IN (SELECT t.id");
                    self.push_text_source(&mut page, query, false, true, now);
                    page.push(")");
                } else {
                    self.push_hits(&mut page, query, false, now);
                }
                page.push(" ORDER BY search_fts.rowid DESC");
                ("rank, id DESC", "hit.rank, hit.id DESC")
            }
            Backend::Postgres => {
                page.push("SELECT d.ticket_id AS id, ts_rank(d.tsv, CAST(")
                    .bind(tsquery_terms(&query.terms, false))
                    .push(" AS tsquery)) AS rank");
                self.push_hits(&mut page, query, filters_first, now);
                if let Some(from) = window {
                    page.push(" AND d.ticket_id >= ").bind(from);
                }
                // `+ 0`: the newest hits are cut from the index's bitmap of the hits; in id
                // order PostgreSQL walks the documents newest first and checks each against
                // the words (216,000 documents read for 20,000 hits of 物业).
                page.push(" ORDER BY d.ticket_id + 0 DESC");
                ("rank DESC, id DESC", "hit.rank DESC, hit.id DESC")
            }
        };
        page.push(" LIMIT ")
            .bind(RANKED_NEWEST_UP_TO)
            .push(&format!(") newest ORDER BY {best_first} LIMIT "))
            .bind(query.limit.max(1))
            .push(" OFFSET ")
            .bind(query.offset.max(0))
            .push(&format!(") hit CROSS JOIN tickets t WHERE t.id = hit.id ORDER BY {hits_best_first}"));
        page
    }

    /// The facet counts of a search, grouped by every facet column at once and summed per
    /// facet by the caller (a pass per facet read every hit five times), over every hit or
    /// over `sample`'s.
    fn facet_statement(
        &self,
        query: &SearchRequest,
        filters_first: bool,
        now: DateTime<Utc>,
        sample: Option<FacetSample>,
    ) -> Sql {
        let columns: Vec<&str> = FACETS.iter().map(|f| facet_column(f)).collect();
        let mut facets = Sql::new("SELECT COUNT(*) AS n");
        for (i, column) in columns.iter().enumerate() {
            facets.push(&format!(", {column} AS f{i}"));
        }
        self.push_text_source(&mut facets, query, false, filters_first, now);
        if let Some(sample) = sample {
            // The bound is written out, not bound: planned for a parameter, PostgreSQL would
            // guess a third of the rows and pass the sample's index by.
            let bucket = SAMPLE_BUCKET_SQL.replace("{id}", self.driving_id(query, filters_first));
            facets.push(&format!(" AND {bucket} < {}", sample.buckets));
        }
        facets.push(&format!(" GROUP BY {}", columns.join(", ")));
        facets
    }

    /// Whether SQLite reads a search with words and filters by the filters' index first
    /// ([`crate::domain::search::filters_first`]): decided on the count of the index's hits
    /// for the words and the filters' keys, which the full-text index gives at once (92,500
    /// hits of 物业 in 16 ms at 1,000,000 tickets). SQLite keeps no statistics to choose by
    /// itself; PostgreSQL does, and combines its indexes.
    async fn reads_filters_first(&self, query: &SearchRequest) -> Result<bool> {
        let f = &query.filter;
        let beyond_keys = f.street.is_some()
            || f.category.is_some()
            || f.caller_phone.is_some()
            || f.from_id.is_some()
            || f.to_id.is_some();
        if self.backend != Backend::Sqlite || !query.has_words() || !beyond_keys {
            return Ok(false);
        }
        let mut count = Sql::new("SELECT COUNT(*) AS n");
        self.push_index_match(&mut count, query);
        let hits = get_i64(&count.query().fetch_one(&self.pool).await?, "n")?;
        Ok(filters_first(hits, beyond_keys))
    }

    /// The search as the statements run it: a window of creation time becomes a window of ids
    /// as well (ids follow creation), with a margin for instances whose clocks differ by up
    /// to [`ID_WINDOW_MARGIN`]; the time condition still decides.
    async fn with_id_window(&self, query: &SearchRequest) -> Result<SearchRequest> {
        let mut query = query.clone();
        let margin = chrono::Duration::from_std(ID_WINDOW_MARGIN).unwrap_or_default();
        if let Some(from) = query.filter.created_from {
            // No ticket since then: an id past every ticket's.
            query.filter.from_id = Some(self.first_ticket_since(from - margin).await?.unwrap_or(i64::MAX));
        }
        if let Some(to) = query.filter.created_to {
            query.filter.to_id = self.first_ticket_since(to + margin).await?;
        }
        Ok(query)
    }

    /// The embedded search: one page of tickets, the total, and the facet counts — exact up to
    /// [`crate::domain::search::EXACT_FACETS_UP_TO`] hits, estimated from a sample above; the
    /// total too, for words on PostgreSQL ([`estimates_total`]: the sample drawn by the
    /// planner's estimate of the hits, through the index on the entries' bucket, migration
    /// 0052). The page and the counts are read at once, on two connections.
    pub async fn search_text(&self, query: &SearchRequest, now: DateTime<Utc>) -> Result<SearchPage> {
        if query.filter.departments.as_ref().is_some_and(Vec::is_empty) {
            return Ok(SearchPage::default());
        }
        let query = &self.with_id_window(query).await?;
        let filters_first = self.reads_filters_first(query).await?;
        let (page, count) = self.search_statements(query, filters_first, now);
        // PostgreSQL's statistics of the words: what sizes the ranking's window, and tells whether
        // the hits are too many to count one by one.
        let planned = self.planned_hits(query, now).await?;
        let count_all = async {
            if let Some(sample) = self.total_sample(planned) {
                let facets = self.facet_statement(query, filters_first, now, Some(sample));
                let rows = facets.query().fetch_all(&self.pool).await?;
                let total = estimate_total(sample_size(&rows)?, sample);
                if total > EXACT_FACETS_UP_TO {
                    return Ok::<_, StoreError>((total, true, Some(sample), rows));
                }
            }
            let total = get_i64(&count.query().fetch_one(&self.pool).await?, "n")?;
            let sample = facet_sample(total);
            let facets = self.facet_statement(query, filters_first, now, sample);
            let rows = facets.query().fetch_all(&self.pool).await?;
            Ok((total, false, sample, rows))
        };
        let read_page = async {
            if self.ranks_in_window(query) {
                return self.read_ranked_in_window(query, now, planned, page).await;
            }
            let rows = page.query().fetch_all(&self.pool).await?;
            rows.iter().map(decode_body).collect::<Result<Vec<_>>>()
        };
        let (tickets, (total, total_estimated, sample, rows)) = tokio::try_join!(read_page, count_all)?;
        let mut counted: BTreeMap<String, BTreeMap<String, i64>> =
            FACETS.iter().map(|f| (f.to_string(), BTreeMap::new())).collect();
        let sample_size = sample_size(&rows)?;
        for row in &rows {
            let n = get_i64(row, "n")?;
            for (i, facet) in FACETS.iter().enumerate() {
                if let Some(value) = get_opt_string(row, &format!("f{i}"))? {
                    *counted.entry(facet.to_string()).or_default().entry(value).or_default() += n;
                }
            }
        }
        if sample.is_some() {
            for values in counted.values_mut() {
                for n in values.values_mut() {
                    *n = estimate_count(*n, sample_size, total);
                }
                values.retain(|_, n| *n > 0);
            }
        }
        let ranked_newest = ranked_newest(query.has_words() && query.sort == SortOrder::Relevance, total);
        Ok(SearchPage {
            total,
            tickets,
            facets: counted,
            facets_estimated: sample.is_some(),
            total_estimated,
            ranked_newest,
        })
    }

    /// Whether a search's ranking first looks for the newest hits in a window of the newest ids
    /// ([`ranked_window`]): PostgreSQL's, by relevance. Its index gives the hits in storage
    /// order, so the newest 20,000 of 92,500 were found by reading all 92,500 documents (0.7 s
    /// at 1,000,000 tickets); FTS5 gives them newest first and stops.
    fn ranks_in_window(&self, query: &SearchRequest) -> bool {
        self.backend == Backend::Postgres && query.has_words() && query.sort == SortOrder::Relevance
    }

    /// The page of a search ranked among its newest hits, looked for in a window of the newest
    /// ids when the search has more hits than are ranked; `everywhere`: the same page without a
    /// window, run when there was none or it held fewer than the ranked number (a word whose
    /// hits are mostly old).
    ///
    /// The window is sized by the planner's estimate of the hits (its statistics of the index's
    /// words; a millisecond), not by the count, which reads every hit (170 ms for 物业) and runs
    /// beside this page instead of before it.
    async fn read_ranked_in_window(
        &self,
        query: &SearchRequest,
        now: DateTime<Utc>,
        planned: Option<i64>,
        everywhere: Sql,
    ) -> Result<Vec<Ticket>> {
        if let Some(page) = self.windowed_page(query, now, planned).await? {
            let rows = self.fetch_by_bitmaps(page).await?;
            let ranked = rows.first().map(|row| get_i64(row, "ranked")).transpose()?;
            if ranked == Some(RANKED_NEWEST_UP_TO) {
                return rows.iter().map(decode_body).collect();
            }
        }
        let rows = everywhere.query().fetch_all(&self.pool).await?;
        rows.iter().map(decode_body).collect()
    }

    /// How many hits PostgreSQL's planner expects of a search with words (its statistics of the
    /// index's words; a millisecond, where counting them reads every hit). `None` on SQLite, and
    /// without words.
    async fn planned_hits(&self, query: &SearchRequest, now: DateTime<Utc>) -> Result<Option<i64>> {
        if self.backend != Backend::Postgres || !query.has_words() {
            return Ok(None);
        }
        let mut hits = Sql::new("SELECT 1");
        self.push_hits(&mut hits, query, false, now);
        let plan = hits.prefixed("EXPLAIN ").query().fetch_all(&self.pool).await?;
        let first_line = plan.first().map(|row| get_opt_string(row, "QUERY PLAN")).transpose()?.flatten();
        Ok(first_line.as_deref().and_then(planned_rows))
    }

    /// The sample a search's total is estimated from ([`estimates_total`]), sized by the
    /// planner's expected hits; `None`: the total is counted.
    fn total_sample(&self, planned: Option<i64>) -> Option<FacetSample> {
        let counts_from_index = self.backend == Backend::Sqlite;
        if estimates_total(counts_from_index, planned) {
            planned.and_then(facet_sample)
        } else {
            None
        }
    }

    /// The ranked page of a search within a window of the newest ids, if its hits are many
    /// enough by the planner's estimate (`planned`) for a window to pay ([`ranked_window`]).
    async fn windowed_page(
        &self,
        query: &SearchRequest,
        now: DateTime<Utc>,
        planned: Option<i64>,
    ) -> Result<Option<Sql>> {
        let ids = sqlx::query("SELECT MIN(ticket_id) AS first, MAX(ticket_id) AS last FROM search_docs")
            .fetch_one(&self.pool)
            .await?;
        let window = match (planned, get_opt_i64(&ids, "first")?, get_opt_i64(&ids, "last")?) {
            (Some(estimate), Some(first), Some(last)) => ranked_window(estimate, first, last),
            _ => None,
        };
        Ok(window.map(|from| self.ranked_page(query, now, false, Some(from))))
    }

    /// Runs a windowed page with the indexes' bitmaps intersected: left to itself the planner
    /// walks the id index through the window and reads every document in it to check the words
    /// (1.1 million buffers for 物业 at 1,000,000 tickets); the two bitmaps intersected first
    /// leave only the window's hits to read (ops/bench/RESULTS.md).
    async fn fetch_by_bitmaps(&self, statement: Sql) -> Result<Vec<sqlx::any::AnyRow>> {
        let mut tx = self.pool.begin().await?;
        sqlx::query("SET LOCAL enable_indexscan = off").execute(&mut *tx).await?;
        let rows = statement.query().fetch_all(&mut *tx).await?;
        tx.commit().await?;
        Ok(rows)
    }

    /// How the database runs a search's statements (SQLite's `EXPLAIN QUERY PLAN`,
    /// PostgreSQL's `EXPLAIN`), for the benchmark: which index drives each of them.
    pub async fn explain_search(&self, query: &SearchRequest, now: DateTime<Utc>) -> Result<Vec<String>> {
        let query = &self.with_id_window(query).await?;
        let filters_first = self.reads_filters_first(query).await?;
        let (page, count) = self.search_statements(query, filters_first, now);
        let planned = self.planned_hits(query, now).await?;
        // The sample as `search_text` draws it: sized by the planner's estimate where the total is
        // estimated, else by the count (whose plan is shown either way: it is the fallback).
        let sample = match self.total_sample(planned) {
            Some(sample) => Some(sample),
            None => facet_sample(get_i64(&count.query().fetch_one(&self.pool).await?, "n")?),
        };
        let facets = self.facet_statement(query, filters_first, now, sample);
        let mut out = Vec::new();
        // (name, statement, run with the bitmaps intersected as `read_ranked_in_window` runs it)
        let mut statements = vec![("page", page, false), ("count", count, false), ("facets", facets, false)];
        if self.ranks_in_window(query) {
            if let Some(windowed) = self.windowed_page(query, now, planned).await? {
                statements.insert(0, ("page in a window", windowed, true));
            }
        }
        for (name, statement, by_bitmaps) in statements {
            let (prefix, column) = match self.backend {
                Backend::Sqlite => ("EXPLAIN QUERY PLAN ", "detail"),
                Backend::Postgres => ("EXPLAIN ", "QUERY PLAN"),
            };
            let explained = statement.prefixed(prefix);
            let rows = if by_bitmaps {
                self.fetch_by_bitmaps(explained).await?
            } else {
                explained.query().fetch_all(&self.pool).await?
            };
            let lines: Vec<String> = rows
                .iter()
                .filter_map(|row| get_opt_string(row, column).ok().flatten())
                .map(|line| line.trim().to_string())
                .collect();
            out.push(format!("{name}: {}", lines.join(" · ")));
        }
        Ok(out)
    }

    /// Tickets sharing any term with the query (and its filters), best first: candidates for
    /// the duplicate finder, which scores them itself.
    pub async fn search_any_term(&self, query: &SearchRequest, now: DateTime<Utc>) -> Result<Vec<Ticket>> {
        if query.terms.is_empty() && query.phone.is_none() {
            return Ok(Vec::new());
        }
        let mut sql = Sql::new("SELECT t.body");
        self.push_text_source(&mut sql, query, true, false, now);
        // Only the window's tickets are ranked: the full-text match is bounded by the window's
        // first ticket id (both indexes skip to it).
        if let (true, Some(from)) = (query.has_words(), query.filter.created_from) {
            let Some(first) = self.first_ticket_since(from).await? else { return Ok(Vec::new()) };
            let column = match self.backend {
                Backend::Sqlite => "search_fts.rowid",
                Backend::Postgres => "d.ticket_id",
            };
            sql.push(&format!(" AND {column} >= ")).bind(first);
        }
        self.push_rank_order(&mut sql, query, true);
        sql.push(" LIMIT ").bind(query.limit.max(1));
        let rows = sql.query().fetch_all(&self.pool).await?;
        rows.iter().map(decode_body).collect()
    }

    /// What the `limit` newest tickets say (their content): the duplicate finder's sample of
    /// the centre's everyday words.
    pub async fn recent_contents(&self, limit: i64) -> Result<Vec<String>> {
        let rows = sqlx::query("SELECT body FROM tickets ORDER BY id DESC LIMIT $1")
            .bind(limit.max(0))
            .fetch_all(&self.pool)
            .await?;
        rows.iter().map(|row| decode_body(row).map(|t| t.content)).collect()
    }

    /// The id of the first ticket created at or after `since`: ids are given in creation
    /// order, so a window of time is a range of ids from there, which every index on
    /// `(…, id)` can seek to. Across instances a clock running behind could number a ticket
    /// at the window's very edge below it: a duplicate hint there may be missed.
    async fn first_ticket_since(&self, since: DateTime<Utc>) -> Result<Option<i64>> {
        let row = sqlx::query("SELECT id FROM tickets WHERE created_at >= $1 ORDER BY created_at, id LIMIT 1")
            .bind(millis(since))
            .fetch_optional(&self.pool)
            .await?;
        row.map(|r| get_i64(&r, "id")).transpose()
    }

    /// Open tickets since `since` that share the caller or the community with a call being
    /// typed: the duplicate finder's structured candidates, up to `limit` of each (newest
    /// first; a ticket sharing both comes twice). One query per condition, each an id range on
    /// its own index: with both in one query SQLite walked the whole table by id whenever fewer
    /// than `limit` matched (seconds at a million tickets).
    pub async fn similar_candidates(&self, probe: &CandidateProbe, limit: i64) -> Result<Vec<Ticket>> {
        let Some(first) = self.first_ticket_since(probe.since).await? else { return Ok(Vec::new()) };
        let conditions = [("caller_phone", probe.phone.as_ref()), ("community", probe.community.as_ref())];
        let mut out: Vec<Ticket> = Vec::new();
        for (column, value) in conditions {
            let Some(value) = value else { continue };
            let mut sql = Sql::new(&format!("SELECT body FROM tickets t WHERE t.{column} = "));
            sql.bind(value)
                .push(" AND t.id >= ")
                .bind(first)
                .push(" AND t.created_at >= ")
                .bind(millis(probe.since))
                .push(" AND t.status NOT IN ('closed', 'merged') AND t.id <> ")
                .bind(probe.exclude.unwrap_or(0))
                .push(" ORDER BY t.id DESC LIMIT ")
                .bind(limit.max(1));
            for row in sql.query().fetch_all(&self.pool).await? {
                out.push(decode_body(&row)?);
            }
        }
        Ok(out)
    }
}

impl Store {
    /// Benchmark support: dates tickets 1…`n` evenly over `span` up to the time of ticket `n`,
    /// in id order, as a centre's tickets are (ids are given in creation order; the copies of
    /// `bench_copy_tickets` carry their originals' times until this runs).
    pub async fn bench_spread_created_at(&self, n: i64, span: chrono::Duration) -> Result<()> {
        let step = span.num_milliseconds() / n.max(1);
        let last = sqlx::query("SELECT created_at FROM tickets WHERE id = $1").bind(n).fetch_one(&self.writer).await?;
        sqlx::query("UPDATE tickets SET created_at = $3 - ($1 - id) * $2 WHERE id <= $1")
            .bind(n)
            .bind(step)
            .bind(get_i64(&last, "created_at")?)
            .execute(&self.writer)
            .await?;
        // The body says the same (what Meilisearch's documents and the hits are made from).
        let body = match self.backend {
            Backend::Sqlite => {
                "json_set(body, '$.created_at', strftime('%Y-%m-%dT%H:%M:%fZ', created_at / 1000.0, 'unixepoch'))"
            }
            Backend::Postgres => {
                "jsonb_set(body::jsonb, '{created_at}', to_jsonb(to_char(to_timestamp(created_at / 1000.0) \
                 AT TIME ZONE 'UTC', 'YYYY-MM-DD\"T\"HH24:MI:SS.MS\"Z\"')))::text"
            }
        };
        sqlx::query(&format!("UPDATE tickets SET body = {body} WHERE id <= $1")).bind(n).execute(&self.writer).await?;
        Ok(())
    }

    /// Benchmark support: closes every open ticket but the newest `keep` (its status column
    /// and its body), as a centre's year has them: a few per cent open, the recent ones.
    /// Returns how many were closed.
    pub async fn bench_close_all_but_newest_open(&self, keep: i64) -> Result<u64> {
        let body = match self.backend {
            Backend::Sqlite => "json_set(body, '$.status', 'closed')",
            Backend::Postgres => "jsonb_set(body::jsonb, '{status}', '\"closed\"')::text",
        };
        let open = "status NOT IN ('closed', 'merged')";
        let closed = sqlx::query(&format!(
            "UPDATE tickets SET status = 'closed', body = {body} WHERE {open} AND id < \
             (SELECT id FROM tickets WHERE {open} ORDER BY id DESC LIMIT 1 OFFSET $1)"
        ))
        .bind(keep.max(1) - 1)
        .execute(&self.writer)
        .await?;
        Ok(closed.rows_affected())
    }

    /// Benchmark support: copies the first `base` tickets (and their units) `copies` times,
    /// with new ids and numbers (in the columns and in the JSON body), inside the database.
    pub async fn bench_copy_tickets(&self, base: i64, copies: i64) -> Result<()> {
        let body = match self.backend {
            Backend::Sqlite => "json_set(body, '$.id', id + $3 * k.n, '$.number', number || '-c' || k.n)",
            Backend::Postgres => {
                "jsonb_set(jsonb_set(body::jsonb, '{id}', to_jsonb(id + $3 * k.n)), '{number}', \
                 to_jsonb(number || '-c' || CAST(k.n AS TEXT)))::text"
            }
        };
        // Many copies per statement (a series of copy numbers joined to the originals): one
        // statement per copy made tens of thousands of round trips for a small base.
        let per_statement = (50_000 / base.max(1)).max(1);
        let mut first = 1;
        while first <= copies {
            let last = (first + per_statement - 1).min(copies);
            let series =
                "WITH RECURSIVE k(n) AS (SELECT CAST($1 AS BIGINT) UNION ALL SELECT n + 1 FROM k WHERE n < $2)";
            sqlx::query(&format!(
                "{series} INSERT INTO tickets (id, number, status, kind, channel, urgency, category, street, \
                 community, caller_phone, lead, created_at, updated_at, accept_due_at, reply_due_at, version, body, \
                 rule_id, returns, redispatches, late_listed, awaiting) \
                 SELECT id + $3 * k.n, number || '-c' || CAST(k.n AS TEXT), status, kind, channel, urgency, category, \
                 street, community, caller_phone, lead, created_at, updated_at, accept_due_at, reply_due_at, version, \
                 {body}, rule_id, returns, redispatches, late_listed, awaiting FROM tickets CROSS JOIN k \
                 WHERE id <= $3",
            ))
            .bind(first)
            .bind(last)
            .bind(base)
            .execute(&self.writer)
            .await?;
            sqlx::query(&format!(
                "{series} INSERT INTO ticket_units (department, ticket_id) SELECT department, ticket_id + $3 * k.n \
                 FROM ticket_units CROSS JOIN k WHERE ticket_id <= $3"
            ))
            .bind(first)
            .bind(last)
            .bind(base)
            .execute(&self.writer)
            .await?;
            first = last + 1;
        }
        Ok(())
    }
}

/// What the duplicate finder looks up candidates by.
#[derive(Debug, Clone)]
pub struct CandidateProbe {
    pub phone: Option<String>,
    pub community: Option<String>,
    pub since: DateTime<Utc>,
    pub exclude: Option<i64>,
}

#[cfg(test)]
mod tests {
    use super::planned_rows;

    #[test]
    fn the_planned_rows_are_read_from_the_plans_first_line() {
        let line = "Bitmap Heap Scan on search_docs d  (cost=878.15..124150.19 rows=93697 width=0)";
        assert_eq!(planned_rows(line), Some(93_697));
        assert_eq!(planned_rows("Hash Join  (cost=1.00..2.00 rows=5 width=8)"), Some(5));
        assert_eq!(planned_rows("Result"), None);
    }
}
