//! The Meilisearch backend (meilisearch-sdk). One document per ticket; the index settings
//! (searchable, filterable and sortable attributes, ranking, limits) are checked at start-up
//! and applied when they differ, and every task is awaited, so a refused setting or document
//! stops start-up or keeps the update queued in the search outbox with the error, instead of
//! being lost silently.
//!
//! Documents carry their text as the embedded index holds it — one token per Chinese
//! character (`segment::ticket_words`) — and a query asks for each term as a phrase of its
//! characters. Left to segment Chinese itself, Meilisearch cuts a sentence by its own
//! dictionary (路灯不亮 → 路 / 灯不亮), and a query word cut otherwise (路灯) would miss it;
//! by character both backends find the same tickets. Phrases are matched exactly (no typos,
//! no prefixes), as on the embedded index; typo tolerance and prefix search are off, which
//! also keeps indexing lean. Department scope is a filter on `units`, part of the same search
//! request. An index built before the `words` field needs `hotline search reindex`.
//!
//! Errors are sorted for the search drain: a Meilisearch that does not answer (down, a
//! timeout, a 5xx) is [`SearchError::Unreachable`] — the updates wait and flow again as soon
//! as it answers; a request it refuses is [`SearchError::Remote`] (retried with back-off), and
//! a key it refuses is [`SearchError::Key`], naming `meili_key`.

use super::{SearchError, SearchIndex, SearchPage, SearchRequest};
use crate::domain::search::{meili_all_terms, meili_phrase, SortOrder, FACETS, MAX_LIMIT, MAX_OFFSET};
use crate::domain::ticket::Ticket;
use crate::store::{millis, Store, CLOCK_RUNNING};
use futures::future::BoxFuture;
use futures::FutureExt;
use meilisearch_sdk::client::Client;
use meilisearch_sdk::errors::{Error as MeiliError, ErrorCode, ErrorType};
use meilisearch_sdk::search::{FederationOptions, MatchingStrategies, Selectors};
use meilisearch_sdk::settings::{
    FacetingSettings, PaginationSetting, PrefixSearchSettings, Settings, TypoToleranceSettings,
};
use meilisearch_sdk::task_info::TaskInfo;
use meilisearch_sdk::tasks::Task;
use serde::{Deserialize, Serialize};
use std::collections::BTreeMap;
use std::future::Future;
use std::time::Duration;

/// How long one request may take before Meilisearch counts as unreachable.
const CALL_TIMEOUT: Duration = Duration::from_secs(30);
/// How long a document task may take before it counts as not done (a large batch on a busy
/// server); the batch is sent again later, which is harmless.
const TASK_TIMEOUT: Duration = Duration::from_secs(120);
/// A settings change makes Meilisearch re-index every document: at a million tickets that
/// takes minutes, and start-up waits for it (queries need the new settings).
const SETTINGS_TIMEOUT: Duration = Duration::from_secs(3600);
const TASK_POLL: Duration = Duration::from_millis(50);
/// Tickets sent to Meilisearch in one task.
const DOCUMENT_BATCH: i64 = 1_000;
/// Tasks the drain keeps in Meilisearch's queue at once (see `batches_at_once`).
const BATCHES_AT_ONCE: usize = 8;

/// What is searched on: the same text as the embedded index (number, content, address,
/// reply). The phone is a filter.
const SEARCHABLE: [&str; 1] = ["words"];
const FILTERABLE: [&str; 12] = [
    "id",
    "status",
    "kind",
    "urgency",
    "category",
    "categories",
    "street",
    "lead",
    "units",
    "caller_phone",
    "created_at",
    "reply_due_at",
];
/// The index's facet fields, in the order of [`FACETS`] (`lead` is the `department` facet).
const FACET_FIELDS: [&str; 5] = ["status", "lead", "street", "category", "kind"];
/// As the embedded index orders: newest first when a search asks (`sort` comes first, and is
/// inert when a search does not sort), otherwise best match first and newest first among
/// equals.
const RANKING: [&str; 8] =
    ["sort", "words", "typo", "proximity", "attribute", "exactness", "created_at:desc", "id:desc"];
/// Newest is the order of receipt, as on the embedded index: ids are given in creation order.
const NEWEST: [&str; 1] = ["id:desc"];
/// Facet values counted per facet: more than the district has categories or departments.
const MAX_FACET_VALUES: usize = 1_000;
/// Meilisearch stops ranking after this long and answers with what it has; a search must not
/// quietly return fewer tickets than the embedded index would.
const SEARCH_CUTOFF_MS: u64 = 20_000;

pub struct Meili {
    client: Client,
    index: String,
    /// Hits are shown from the ticket rows, as the embedded index shows them.
    store: Store,
}

/// A ticket as Meilisearch stores it.
#[derive(Debug, Serialize, Deserialize)]
struct Doc {
    id: i64,
    number: String,
    status: String,
    kind: String,
    urgency: String,
    category: String,
    /// The category and every ancestor code, so a prefix filter is an equality.
    categories: Vec<String>,
    street: Option<String>,
    /// The lead department (the `department` facet).
    lead: Option<String>,
    /// Every unit assigned now: department scope.
    units: Vec<String>,
    /// The searched text, one token per Chinese character.
    words: String,
    caller_phone: String,
    created_at: i64,
    /// For the `overdue` filter.
    reply_due_at: Option<i64>,
}

#[derive(Debug, Deserialize)]
struct IdOnly {
    id: i64,
}

fn doc(t: &Ticket) -> Doc {
    let mut categories = Vec::new();
    let mut prefix = String::new();
    for part in t.category.split('.') {
        if !prefix.is_empty() {
            prefix.push('.');
        }
        prefix.push_str(part);
        categories.push(prefix.clone());
    }
    Doc {
        id: t.id,
        number: t.number.clone(),
        status: t.status.as_str().to_string(),
        kind: t.kind.as_str().to_string(),
        urgency: t.urgency.as_str().to_string(),
        category: t.category.clone(),
        categories,
        street: t.street.clone(),
        lead: t.lead.clone(),
        units: t.assigned_units().map(String::from).collect(),
        words: super::segment::ticket_words(t),
        caller_phone: t.caller_phone.clone(),
        created_at: millis(t.created_at),
        reply_due_at: t.reply_due_at.map(millis),
    }
}

/// Sorts a client error: not answering, refusing the key, or refusing the request.
fn classify(what: &str, index: &str, e: MeiliError) -> SearchError {
    match &e {
        MeiliError::HttpError(_) | MeiliError::Timeout => SearchError::Unreachable(format!("{what}: {e}")),
        MeiliError::MeilisearchCommunication(c) if c.status_code >= 500 || c.status_code == 429 => {
            SearchError::Unreachable(format!("{what}: {e}"))
        }
        MeiliError::Meilisearch(m) if m.error_type == ErrorType::Auth => SearchError::Key(format!(
            "{what}: Meilisearch refused the key (meili_key / MEILI_KEY; it must be the master key or a key \
             allowed to manage index {index:?}): {} ({})",
            m.error_message, m.error_code
        )),
        MeiliError::Meilisearch(m) if m.error_type == ErrorType::Internal => {
            SearchError::Unreachable(format!("{what}: {e}"))
        }
        _ => SearchError::Remote(format!("{what}: {e}")),
    }
}

/// A filter value in double quotes.
fn quoted(value: &str) -> String {
    format!("\"{}\"", value.replace('\\', "\\\\").replace('"', "\\\""))
}

fn quoted_list(values: &[String]) -> String {
    format!("[{}]", values.iter().map(|v| quoted(v)).collect::<Vec<_>>().join(", "))
}

/// The request's filters and scope as a Meilisearch filter expression: every condition of
/// the embedded index's `push_filters`, on the document's copy of the ticket's fields.
fn filter_expression(request: &SearchRequest, now: chrono::DateTime<chrono::Utc>) -> String {
    let f = &request.filter;
    let mut parts = Vec::new();
    if let Some(phone) = &request.phone {
        parts.push(format!("caller_phone = {}", quoted(phone)));
    }
    if !f.statuses.is_empty() {
        let words: Vec<String> = f.statuses.iter().map(|s| s.as_str().to_string()).collect();
        parts.push(format!("status IN {}", quoted_list(&words)));
    }
    if let Some(units) = &f.departments {
        parts.push(format!("units IN {}", quoted_list(units)));
    }
    if let Some(street) = &f.street {
        parts.push(format!("street = {}", quoted(street)));
    }
    if let Some(category) = &f.category {
        parts.push(format!("categories = {}", quoted(category)));
    }
    if let Some(kind) = f.kind {
        parts.push(format!("kind = {}", quoted(kind.as_str())));
    }
    if let Some(urgency) = f.urgency {
        parts.push(format!("urgency = {}", quoted(urgency.as_str())));
    }
    if let Some(from) = f.created_from {
        parts.push(format!("created_at >= {}", millis(from)));
    }
    if let Some(to) = f.created_to {
        parts.push(format!("created_at < {}", millis(to)));
    }
    if let Some(phone) = &f.caller_phone {
        parts.push(format!("caller_phone = {}", quoted(phone)));
    }
    if let Some(before) = f.before_id {
        parts.push(format!("id < {before}"));
    }
    if let Some(overdue) = f.overdue {
        let running: Vec<String> = CLOCK_RUNNING.iter().map(|s| s.as_str().to_string()).collect();
        let late = format!("(reply_due_at < {} AND status IN {})", millis(now), quoted_list(&running));
        parts.push(if overdue { late } else { format!("NOT {late}") });
    }
    parts.join(" AND ")
}

/// The settings the index must have, as Meilisearch reports them.
fn wanted_settings() -> Settings {
    Settings::new()
        .with_searchable_attributes(SEARCHABLE)
        .with_displayed_attributes(["id"])
        .with_filterable_attributes(FILTERABLE)
        .with_sortable_attributes(["created_at", "id"])
        .with_ranking_rules(RANKING)
        .with_stop_words(Vec::<String>::new())
        .with_pagination(PaginationSetting {
            max_total_hits: usize::try_from(MAX_OFFSET + MAX_LIMIT).unwrap_or(10_100),
        })
        .with_faceting(FacetingSettings { max_values_per_facet: MAX_FACET_VALUES, sort_facet_values_by: None })
        .with_typo_tolerance(TypoToleranceSettings { enabled: Some(false), ..TypoToleranceSettings::default() })
        .with_search_cutoff(SEARCH_CUTOFF_MS)
}

/// The settings keys whose current value differs from the wanted one (attribute lists are
/// compared as sets; the ranking rules in order).
fn differing(wanted: &serde_json::Value, current: &serde_json::Value) -> Vec<String> {
    let normal = |key: &str, v: &serde_json::Value| -> serde_json::Value {
        match v {
            serde_json::Value::Array(items) if key != "rankingRules" => {
                let mut items: Vec<String> = items.iter().map(|i| i.to_string()).collect();
                items.sort();
                serde_json::json!(items)
            }
            other => other.clone(),
        }
    };
    let Some(wanted) = wanted.as_object() else { return Vec::new() };
    wanted
        .iter()
        .filter(|(key, value)| {
            let now = current.get(key.as_str()).unwrap_or(&serde_json::Value::Null);
            match (value, now) {
                // Nested objects (pagination, faceting, typoTolerance): only the fields set.
                (serde_json::Value::Object(w), serde_json::Value::Object(c)) => {
                    w.iter().any(|(k, v)| !v.is_null() && c.get(k) != Some(v))
                }
                _ => normal(key, value) != normal(key, now),
            }
        })
        .map(|(key, _)| key.clone())
        .collect()
}

impl Meili {
    pub fn new(url: &str, key: Option<&str>, index: &str, store: Store) -> Result<Meili, SearchError> {
        let client = Client::new(url, key).map_err(|e| SearchError::Config(format!("meili_url: {e}")))?;
        Ok(Meili { client, index: index.to_string(), store })
    }

    /// Runs one request, bounded by [`CALL_TIMEOUT`], its error sorted by [`classify`].
    async fn call<T>(
        &self,
        what: &str,
        request: impl Future<Output = Result<T, MeiliError>>,
    ) -> Result<T, SearchError> {
        match tokio::time::timeout(CALL_TIMEOUT, request).await {
            Ok(Ok(value)) => Ok(value),
            Ok(Err(e)) => Err(classify(what, &self.index, e)),
            Err(_) => Err(SearchError::Unreachable(format!(
                "{what}: Meilisearch did not answer within {} s",
                CALL_TIMEOUT.as_secs()
            ))),
        }
    }

    /// Waits for a task (polling, each poll bounded) and turns a failed one into an error
    /// naming what failed. `Ok(false)`: the index already existed.
    async fn finish(&self, what: &str, task: TaskInfo, timeout: Duration) -> Result<bool, SearchError> {
        let started = std::time::Instant::now();
        let task = loop {
            let task = self.call(what, self.client.get_task(&task)).await?;
            match task {
                Task::Enqueued { .. } | Task::Processing { .. } => {
                    if started.elapsed() >= timeout {
                        return Err(SearchError::Unreachable(format!(
                            "{what}: Meilisearch has not finished the task within {} s",
                            timeout.as_secs()
                        )));
                    }
                    tokio::time::sleep(TASK_POLL).await;
                }
                done => break done,
            }
        };
        match task {
            Task::Failed { content } => {
                let error = content.error;
                if error.error_code == ErrorCode::IndexAlreadyExists {
                    return Ok(false);
                }
                Err(SearchError::Remote(format!("{what} failed: {} ({})", error.error_message, error.error_code)))
            }
            _ => Ok(true),
        }
    }

    async fn apply_settings(&self) -> Result<(), SearchError> {
        let index = self.client.index(&self.index);
        let wanted = wanted_settings();
        let current = self.call("reading the index settings", index.get_settings()).await?;
        let changed = differing(
            &serde_json::to_value(&wanted).unwrap_or_default(),
            &serde_json::to_value(&current).unwrap_or_default(),
        );
        if !changed.is_empty() {
            tracing::info!(index = %self.index, ?changed, "applying the Meilisearch index settings (it re-indexes its documents)");
            let task = self.call("applying the index settings", index.set_settings(&wanted)).await?;
            self.finish("applying the index settings", task, SETTINGS_TIMEOUT).await?;
        }
        // Not part of the settings object in this client: checked one by one. Neither is used
        // (phrases are exact; facets are counted, never searched), and both cost indexing time.
        let prefix = self.call("reading prefix search", index.get_prefix_search()).await?;
        if prefix != PrefixSearchSettings::Disabled {
            let task =
                self.call("turning prefix search off", index.set_prefix_search(PrefixSearchSettings::Disabled)).await?;
            self.finish("turning prefix search off", task, SETTINGS_TIMEOUT).await?;
        }
        if self.call("reading facet search", index.get_facet_search()).await? {
            let task = self.call("turning facet search off", index.set_facet_search(false)).await?;
            self.finish("turning facet search off", task, SETTINGS_TIMEOUT).await?;
        }
        Ok(())
    }
}

impl SearchIndex for Meili {
    fn backend(&self) -> &'static str {
        "meilisearch"
    }

    /// Each batch is one task awaited: larger batches than the embedded index's keep the
    /// per-task cost (a request, queueing, polling) small beside the documents' own.
    fn batch_size(&self) -> i64 {
        DOCUMENT_BATCH
    }

    /// Meilisearch merges consecutive document tasks waiting in its queue into one indexing
    /// run, and most of a run's cost is per run (its word and facet databases are rebuilt),
    /// not per document: eight tasks in its queue index about three times as many tickets a
    /// second as one task at a time (20,000 tickets: 1,498/s against 539/s, measured).
    fn batches_at_once(&self) -> usize {
        BATCHES_AT_ONCE
    }

    fn prepare(&self) -> BoxFuture<'_, Result<(), SearchError>> {
        async move {
            // Creating an index needs the key's rights: a wrong key is refused here, at start-up.
            let created = self.call("creating the index", self.client.create_index(&self.index, Some("id"))).await?;
            self.finish("creating the index", created, TASK_TIMEOUT).await?;
            self.apply_settings().await
        }
        .boxed()
    }

    fn upsert<'a>(&'a self, tickets: &'a [Ticket]) -> BoxFuture<'a, Result<(), SearchError>> {
        async move {
            if tickets.is_empty() {
                return Ok(());
            }
            let docs: Vec<Doc> = tickets.iter().map(doc).collect();
            let index = self.client.index(&self.index);
            let task = self.call("indexing tickets", index.add_or_replace(&docs, Some("id"))).await?;
            self.finish("indexing tickets", task, TASK_TIMEOUT).await.map(|_| ())
        }
        .boxed()
    }

    fn remove<'a>(&'a self, ids: &'a [i64]) -> BoxFuture<'a, Result<(), SearchError>> {
        async move {
            if ids.is_empty() {
                return Ok(());
            }
            let index = self.client.index(&self.index);
            let task = self.call("removing tickets", index.delete_documents(ids)).await?;
            self.finish("removing tickets", task, TASK_TIMEOUT).await.map(|_| ())
        }
        .boxed()
    }

    fn clear(&self) -> BoxFuture<'_, Result<(), SearchError>> {
        async move {
            let index = self.client.index(&self.index);
            let task = self.call("clearing the index", index.delete_all_documents()).await?;
            self.finish("clearing the index", task, SETTINGS_TIMEOUT).await.map(|_| ())
        }
        .boxed()
    }

    fn search<'a>(&'a self, request: &'a SearchRequest) -> BoxFuture<'a, Result<SearchPage, SearchError>> {
        async move {
            if request.filter.departments.as_ref().is_some_and(Vec::is_empty) {
                return Ok(SearchPage::default());
            }
            if request.terms.is_empty() && request.phone.is_none() {
                // Filters alone are a list of tickets: the database answers it exactly, without
                // the index's lag or its outages, and at a year's scale no slower (a page 10,000
                // deep into 970,000 closed tickets: Meilisearch 361 ms p99, SQLite 184 ms:
                // ops/bench/RESULTS.md).
                return Ok(self.store.search_text(request, self.store.now()).await?);
            }
            let index = self.client.index(&self.index);
            let text = if request.phone.is_some() { String::new() } else { meili_all_terms(&request.terms) };
            let filter = filter_expression(request, self.store.now());
            let mut query = index.search();
            query
                .with_query(&text)
                .with_matching_strategy(MatchingStrategies::ALL)
                .with_attributes_to_search_on(&SEARCHABLE)
                .with_attributes_to_retrieve(Selectors::Some(&["id"]))
                .with_facets(Selectors::Some(&FACET_FIELDS))
                .with_limit(usize::try_from(request.limit.max(1)).unwrap_or(20))
                .with_offset(usize::try_from(request.offset.max(0)).unwrap_or(0));
            if !filter.is_empty() {
                query.with_filter(&filter);
            }
            // `sort` is the first ranking rule: asked for, it orders the hits newest first;
            // left out, relevance decides and `created_at:desc` breaks its ties.
            if request.sort == SortOrder::Newest || text.is_empty() {
                query.with_sort(&NEWEST);
            }
            let results = self.call("searching", query.execute::<IdOnly>()).await?;
            let ids: Vec<i64> = results.hits.iter().map(|h| h.result.id).collect();
            let mut page = SearchPage::default();
            for facet in FACETS {
                page.facets.insert(facet.to_string(), BTreeMap::new());
            }
            for (name, counts) in results.facet_distribution.unwrap_or_default() {
                let facet = if name == "lead" { "department".to_string() } else { name };
                let entry = page.facets.entry(facet.clone()).or_default();
                for (value, n) in counts {
                    let n = i64::try_from(n).unwrap_or(i64::MAX);
                    // Every ticket has one status: their counts are the exact total (the hit
                    // count Meilisearch reports is an estimate).
                    if facet == "status" {
                        page.total += n;
                    }
                    entry.insert(value, n);
                }
            }
            let mut tickets = self.store.tickets_by_ids(&ids).await?;
            tickets.sort_by_key(|t| ids.iter().position(|id| *id == t.id));
            page.tickets = tickets;
            Ok(page)
        }
        .boxed()
    }

    fn candidates<'a>(&'a self, request: &'a SearchRequest) -> BoxFuture<'a, Result<Vec<Ticket>, SearchError>> {
        async move {
            if request.terms.is_empty() {
                return Ok(Vec::new());
            }
            // Tickets holding ANY of the words: one query per word, merged by Meilisearch
            // (federated search: each ticket once, best first). A single query cannot say "any":
            // its matching strategies drop words from the end or by frequency.
            let filter = filter_expression(request, self.store.now());
            let phrases: Vec<String> = request.terms.iter().map(|t| meili_phrase(t)).collect();
            let index = self.client.index(&self.index);
            let mut multi = self.client.multi_search();
            for phrase in &phrases {
                let mut query = index.search();
                query
                    .with_query(phrase)
                    .with_matching_strategy(MatchingStrategies::ALL)
                    .with_attributes_to_search_on(&SEARCHABLE)
                    .with_attributes_to_retrieve(Selectors::Some(&["id"]));
                if !filter.is_empty() {
                    query.with_filter(&filter);
                }
                multi.with_search_query(query.build());
            }
            let limit = usize::try_from(request.limit.max(1)).unwrap_or(20);
            let federated =
                multi.with_federation(FederationOptions { limit: Some(limit), ..FederationOptions::default() });
            let results = self.call("looking up candidates", federated.execute::<IdOnly>()).await?;
            let ids: Vec<i64> = results.hits.iter().map(|h| h.result.id).collect();
            let mut tickets = self.store.tickets_by_ids(&ids).await?;
            tickets.sort_by_key(|t| ids.iter().position(|id| *id == t.id));
            Ok(tickets)
        }
        .boxed()
    }
}
