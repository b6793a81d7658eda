//! The Meilisearch backend (meilisearch-sdk). One document per ticket; the index settings
//! (searchable, filterable, sortable attributes) are applied at start-up and every task is
//! awaited, so a refused setting or document stops start-up or keeps the update queued
//! in the search outbox with the error, instead of being lost silently.
//!
//! Documents carry their text as the embedded index holds it — one token per Chinese
//! character (`segment::ticket_words`) — and a query asks for each term as a phrase of its
//! characters. Left to segment Chinese itself, Meilisearch cuts a sentence by its own
//! dictionary (路灯不亮 → 路 / 灯不亮), and a query word cut otherwise (路灯) would miss it;
//! by character both backends find the same tickets. Department scope is a filter on
//! `units`, part of the same search request. An index built before the `words` field needs
//! `hotline search reindex`.

use super::{SearchError, SearchIndex, SearchPage, SearchRequest};
use crate::domain::search::{meili_all_terms, SortOrder, FACETS};
use crate::domain::ticket::Ticket;
use crate::store::{millis, Store};
use futures::future::BoxFuture;
use futures::FutureExt;
use meilisearch_sdk::client::Client;
use meilisearch_sdk::errors::{Error as MeiliError, ErrorCode};
use meilisearch_sdk::search::{MatchingStrategies, Selectors};
use meilisearch_sdk::settings::Settings;
use meilisearch_sdk::task_info::TaskInfo;
use meilisearch_sdk::tasks::Task;
use serde::{Deserialize, Serialize};
use std::collections::BTreeMap;
use std::time::Duration;

/// How long a task may take before it counts as failed (a large batch on a busy server).
const TASK_TIMEOUT: Duration = Duration::from_secs(120);
const TASK_POLL: Duration = Duration::from_millis(50);

/// What is searched on: the same text as the embedded index (number, content, address,
/// reply). The phone is a filter.
const SEARCHABLE: [&str; 1] = ["words"];

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
        category: t.category.clone(),
        categories,
        street: t.street.clone(),
        lead: t.lead.clone(),
        units: t.assigned_units().map(String::from).collect(),
        words: super::segment::ticket_words(t),
        caller_phone: t.caller_phone.clone(),
        created_at: millis(t.created_at),
    }
}

fn remote(e: MeiliError) -> SearchError {
    SearchError::Remote(e.to_string())
}

/// A filter value in double quotes.
fn quoted(value: &str) -> String {
    format!("\"{}\"", value.replace('\\', "\\\\").replace('"', "\\\""))
}

fn quoted_list(values: &[String]) -> String {
    format!("[{}]", values.iter().map(|v| quoted(v)).collect::<Vec<_>>().join(", "))
}

/// The request's filters and scope as a Meilisearch filter expression.
fn filter_expression(request: &SearchRequest) -> String {
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
    if let Some(from) = f.created_from {
        parts.push(format!("created_at >= {}", millis(from)));
    }
    if let Some(to) = f.created_to {
        parts.push(format!("created_at < {}", millis(to)));
    }
    parts.join(" AND ")
}

impl Meili {
    pub fn new(url: &str, key: Option<&str>, index: &str, store: Store) -> Result<Meili, SearchError> {
        let client = Client::new(url, key).map_err(|e| SearchError::Config(format!("meili_url: {e}")))?;
        Ok(Meili { client, index: index.to_string(), store })
    }

    /// Waits for a task and turns a failed one into an error naming what failed.
    async fn finish(&self, what: &str, task: TaskInfo) -> Result<(), SearchError> {
        let task = task.wait_for_completion(&self.client, Some(TASK_POLL), Some(TASK_TIMEOUT)).await.map_err(remote)?;
        match task {
            Task::Failed { .. } => {
                let error = task.unwrap_failure();
                if error.error_code == ErrorCode::IndexAlreadyExists {
                    return Ok(());
                }
                Err(SearchError::Remote(format!("{what} failed: {}", error.error_message)))
            }
            _ => Ok(()),
        }
    }
}

impl SearchIndex for Meili {
    fn backend(&self) -> &'static str {
        "meilisearch"
    }

    fn prepare(&self) -> BoxFuture<'_, Result<(), SearchError>> {
        async move {
            let created = self.client.create_index(&self.index, Some("id")).await.map_err(remote)?;
            self.finish("creating the index", created).await?;
            let settings = Settings::new()
                .with_searchable_attributes(SEARCHABLE)
                .with_filterable_attributes([
                    "status",
                    "kind",
                    "category",
                    "categories",
                    "street",
                    "lead",
                    "units",
                    "caller_phone",
                    "created_at",
                ])
                .with_sortable_attributes(["created_at", "id"]);
            let task = self.client.index(&self.index).set_settings(&settings).await.map_err(remote)?;
            self.finish("applying the index settings", task).await
        }
        .boxed()
    }

    fn upsert<'a>(&'a self, tickets: &'a [Ticket]) -> BoxFuture<'a, Result<(), SearchError>> {
        async move {
            let docs: Vec<Doc> = tickets.iter().map(doc).collect();
            let task = self.client.index(&self.index).add_or_replace(&docs, Some("id")).await.map_err(remote)?;
            self.finish("indexing tickets", task).await
        }
        .boxed()
    }

    fn clear(&self) -> BoxFuture<'_, Result<(), SearchError>> {
        async move {
            let task = self.client.index(&self.index).delete_all_documents().await.map_err(remote)?;
            self.finish("clearing the index", task).await
        }
        .boxed()
    }

    fn search<'a>(&'a self, request: &'a SearchRequest) -> BoxFuture<'a, Result<SearchPage, SearchError>> {
        async move {
            if request.filter.departments.as_ref().is_some_and(Vec::is_empty) {
                return Ok(SearchPage::default());
            }
            let index = self.client.index(&self.index);
            let text = if request.phone.is_some() { String::new() } else { meili_all_terms(&request.terms) };
            let filter = filter_expression(request);
            let facets = ["status", "lead", "street", "category", "kind"];
            let newest = ["created_at:desc", "id:desc"];
            let mut query = index.search();
            query
                .with_query(&text)
                .with_matching_strategy(MatchingStrategies::ALL)
                .with_attributes_to_search_on(&SEARCHABLE)
                .with_facets(Selectors::Some(&facets))
                .with_limit(usize::try_from(request.limit.max(1)).unwrap_or(20))
                .with_offset(usize::try_from(request.offset.max(0)).unwrap_or(0));
            if !filter.is_empty() {
                query.with_filter(&filter);
            }
            if request.sort == SortOrder::Newest || text.is_empty() {
                query.with_sort(&newest);
            }
            let results = query.execute::<IdOnly>().await.map_err(remote)?;
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
                    if facet == "status" {
                        page.total += n;
                    }
                    entry.insert(value, n);
                }
            }
            if page.total == 0 {
                page.total = i64::try_from(results.estimated_total_hits.unwrap_or(ids.len())).unwrap_or(i64::MAX);
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
            // Meilisearch's default matching strategy ("last") drops words from the end of the
            // query until documents match: hits need not contain every word.
            let text = meili_all_terms(&request.terms);
            let filter = filter_expression(request);
            let index = self.client.index(&self.index);
            let mut query = index.search();
            query
                .with_query(&text)
                .with_attributes_to_search_on(&SEARCHABLE)
                .with_limit(usize::try_from(request.limit.max(1)).unwrap_or(20));
            if !filter.is_empty() {
                query.with_filter(&filter);
            }
            let results = query.execute::<IdOnly>().await.map_err(remote)?;
            let ids: Vec<i64> = results.hits.iter().map(|h| h.result.id).collect();
            Ok(self.store.tickets_by_ids(&ids).await?)
        }
        .boxed()
    }
}
