//! Search endpoints: `GET /api/v1/search` (full text with filters, facets and pages) and
//! `POST /api/v1/tickets/similar` (likely duplicates of a call being typed).
//! The request is parsed and scoped here, segmented by `crate::search::segment`, and
//! answered by the configured index; the rules are `crate::domain::search`'s.

use super::auth::Auth;
use super::error::{ApiError, ErrorBody};
use super::input::ApiQuery;
use super::json::ApiJson;
use super::tickets::{parse_param, parse_statuses, parse_time, reject_unknown, scoped_departments, INTAKE_ROLES};
use super::AppState;
use crate::domain::privacy::validate_phone;
use crate::domain::search::{self as rules, SortOrder, MAX_LIMIT, MAX_OFFSET, MAX_QUERY_CHARS};
use crate::domain::ticket::Ticket;
use crate::domain::types::{Kind, Status};
use crate::search::similar::Draft;
use crate::search::{SearchError, SearchRequest};
use crate::store::TicketFilter;
use axum::extract::State;
use axum::Json;
use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};
use std::collections::{BTreeMap, HashMap};
use utoipa::{IntoParams, ToSchema};

impl From<SearchError> for ApiError {
    fn from(e: SearchError) -> Self {
        match e {
            SearchError::Store(e) => e.into(),
            SearchError::Remote(m) | SearchError::Unreachable(m) | SearchError::Key(m) => {
                ApiError::Unavailable(format!("search is unavailable: {m}"))
            }
            SearchError::Config(m) => ApiError::Internal(m),
        }
    }
}

#[derive(Deserialize, IntoParams)]
#[into_params(parameter_in = Query)]
#[allow(dead_code)]
pub struct SearchParams {
    /// Words (Chinese is segmented: 垃圾清运 finds 清运垃圾不及时), a ticket number, or — for
    /// centre roles — a caller's phone. Up to 200 characters; when given it must hold a word
    /// to search for (empty, blank or only punctuation is 400): leave it out to list by the
    /// filters alone.
    #[param(min_length = 1, max_length = 200)]
    q: Option<String>,
    /// Comma-separated statuses.
    status: Option<String>,
    /// A department code; includes its sub-units.
    department: Option<String>,
    street: Option<String>,
    /// A category code or prefix.
    category: Option<String>,
    kind: Option<Kind>,
    /// RFC 3339 instant or a date (Beijing time).
    created_from: Option<String>,
    created_to: Option<String>,
    /// `relevance` (default) or `newest`.
    sort: Option<String>,
    /// 1–100, default 20.
    #[param(minimum = 1, maximum = 100)]
    limit: Option<i64>,
    /// 0–10000, default 0.
    #[param(minimum = 0, maximum = 10000)]
    offset: Option<i64>,
}

const SEARCH_KEYS: &[&str] = &[
    "q",
    "status",
    "department",
    "street",
    "category",
    "kind",
    "created_from",
    "created_to",
    "sort",
    "limit",
    "offset",
];

#[derive(Serialize, ToSchema)]
pub struct SearchHit {
    pub id: i64,
    pub number: String,
    pub status: Status,
    pub status_label: &'static str,
    pub kind: Kind,
    pub category: String,
    pub street: Option<String>,
    pub lead_department: Option<String>,
    pub content: String,
    pub address: String,
    pub created_at: DateTime<Utc>,
    /// A short plain-text excerpt of the content around the first matched word.
    pub snippet: String,
}

#[derive(Serialize, ToSchema)]
pub struct SearchResponse {
    /// `embedded` or `meilisearch`.
    pub backend: &'static str,
    pub total: i64,
    pub offset: i64,
    pub limit: i64,
    pub hits: Vec<SearchHit>,
    /// Counts over all hits: `status`, `department` (lead), `street`, `category`, `kind`.
    pub facets: BTreeMap<String, BTreeMap<String, i64>>,
    /// `false`: the facet counts are exact. `true`: there were more than 20,000 hits and the
    /// counts are estimated from a sample of about 10,000 of them (a share of the sample times
    /// `total`), rounded; values too rare to be in the sample are left out.
    pub facets_estimated: bool,
    /// `false`: `total` is exact. `true`: it is estimated from the same sample (the hits in the
    /// sample scaled to all ids, within about a per cent for 10,000 sampled; the pages show
    /// "约 n 件"). Only words with more than 20,000 hits on PostgreSQL's embedded index, whose
    /// count would read every hit; SQLite's index and Meilisearch count exactly.
    pub total_estimated: bool,
    /// Set when `sort` is `relevance` and there were more hits than this: the page is the best
    /// of the newest this many (20,000), which every page a search may ask for lies within.
    /// Meilisearch ranks every hit and never sets it.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub ranked_newest: Option<i64>,
}

pub(super) fn hit(t: &Ticket, terms: &[String]) -> SearchHit {
    SearchHit {
        id: t.id,
        number: t.number.clone(),
        status: t.status,
        status_label: t.status.label(),
        kind: t.kind,
        category: t.category.clone(),
        street: t.street.clone(),
        lead_department: t.lead.clone(),
        content: t.content.clone(),
        address: t.address.clone(),
        created_at: t.created_at,
        snippet: rules::snippet(&t.content, terms),
    }
}

fn bounded(
    q: &HashMap<String, String>,
    key: &str,
    range: std::ops::RangeInclusive<i64>,
    default: i64,
) -> Result<i64, ApiError> {
    match super::tickets::given(q, key)? {
        None => Ok(default),
        Some(v) => match v.parse::<i64>() {
            Ok(n) if range.contains(&n) => Ok(n),
            _ => Err(ApiError::bad_request(
                key,
                format!("{key}: a whole number from {} to {}", range.start(), range.end()),
            )),
        },
    }
}

/// The words a `q` asks for. A `q` that is empty, blank or only punctuation asks for nothing
/// and would match everything, so it is refused; leaving `q` out lists by the filters alone.
pub(super) fn words_of(catalog: &crate::catalog::Catalog, q: &str) -> Result<Vec<String>, ApiError> {
    let terms = catalog.segmenter.query_terms(q.trim());
    if terms.is_empty() {
        return Err(ApiError::bad_request(
            "q",
            "q: no words to search for; type a word, a ticket number or a phone number, or leave q out",
        ));
    }
    // Meilisearch reads only a query's first ten words; both backends match on the same ones.
    Ok(crate::domain::search::matched_terms(terms))
}

/// Search tickets: Chinese full text over content, address, reply and number (and the
/// caller's phone for centre roles), filters, facet counts, relevance or newest order, pages.
/// Departments find only tickets assigned to their units: the scope is part of the query.
#[utoipa::path(get, path = "/api/v1/search", tag = "search", security(("bearer" = [])), params(SearchParams),
    responses((status = 200, body = SearchResponse), (status = 400, body = ErrorBody), (status = 503, body = ErrorBody)))]
pub async fn search(
    State(state): State<AppState>,
    auth: Auth,
    ApiQuery(q): ApiQuery,
) -> Result<Json<SearchResponse>, ApiError> {
    reject_unknown(&q, SEARCH_KEYS)?;
    let catalog = state.catalog();
    let text = q.get("q").map(|s| s.trim().to_string()).unwrap_or_default();
    if text.chars().count() > MAX_QUERY_CHARS {
        return Err(ApiError::bad_request("q", format!("q: at most {MAX_QUERY_CHARS} characters")));
    }
    let sort = match super::tickets::given(&q, "sort")? {
        Some(s) => s.parse::<SortOrder>().map_err(|e| ApiError::bad_request("sort", format!("sort: {e}")))?,
        None => SortOrder::Relevance,
    };
    let limit = bounded(&q, "limit", 1..=MAX_LIMIT, 20)?;
    let offset = bounded(&q, "offset", 0..=MAX_OFFSET, 0)?;
    let filter = TicketFilter {
        statuses: parse_statuses(&q)?,
        departments: scoped_departments(&auth, &q, &catalog)?,
        street: q.get("street").filter(|s| !s.is_empty()).cloned(),
        category: q.get("category").filter(|s| !s.is_empty()).cloned(),
        kind: parse_param(&q, "kind")?,
        created_from: parse_time(&q, "created_from")?,
        created_to: parse_time(&q, "created_to")?,
        limit,
        ..TicketFilter::default()
    };
    let phone = rules::phone_query(&auth.actor, &text);
    let terms = match (&phone, q.contains_key("q")) {
        (Some(_), _) | (None, false) => Vec::new(),
        (None, true) => words_of(&catalog, &text)?,
    };
    let request = SearchRequest { terms, phone, filter, sort, limit, offset };
    let page = state.search().search(&request).await?;
    Ok(Json(SearchResponse {
        backend: state.search().backend(),
        total: page.total,
        offset,
        limit,
        // The index applied the scope; this only guards against an index that lags a
        // reassignment (Meilisearch), never narrows what the query already scoped.
        hits: page.tickets.iter().filter(|t| auth.actor.can_see(t)).map(|t| hit(t, &request.terms)).collect(),
        facets: page.facets,
        facets_estimated: page.facets_estimated,
        total_estimated: page.total_estimated,
        ranked_newest: page.ranked_newest,
    }))
}

#[derive(Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct SimilarBody {
    /// The caller's number; compared once it is a complete, valid number.
    pub phone: Option<String>,
    pub content: Option<String>,
    /// Located in the district (street, community, estate); the content is tried too.
    pub address: Option<String>,
    pub category: Option<String>,
    /// Accepted for the intake form's convenience; a complaint and a suggestion about the
    /// same problem are still duplicates, so it is not scored.
    pub kind: Option<Kind>,
    /// A ticket id to leave out (when checking an existing ticket).
    pub exclude: Option<i64>,
}

#[derive(Serialize, ToSchema)]
pub struct SimilarTicket {
    pub id: i64,
    pub number: String,
    pub status: Status,
    pub content: String,
    pub address: String,
    pub category: String,
    pub lead_department: Option<String>,
    pub created_at: DateTime<Utc>,
}

#[derive(Serialize, ToSchema)]
pub struct SimilarSuggestion {
    pub ticket: SimilarTicket,
    /// 0–1.
    pub score: f64,
    /// 同一来电人, 同一小区, 同一社区, 同一街道, 内容相似, 同一类别.
    pub reasons: Vec<&'static str>,
    /// What each reason added to the score, in the order of `reasons`.
    pub points: Vec<f64>,
    /// The problem matches (same category or similar words), so a merge (并单) may be offered;
    /// the same caller or place alone only shows the ticket.
    pub mergeable: bool,
}

#[derive(Serialize, ToSchema)]
pub struct SimilarResponse {
    pub suggestions: Vec<SimilarSuggestion>,
}

/// While an operator types: open tickets that are likely the same problem (same caller, same
/// place, similar words, same category, within `similar_window_days`), each with a score and
/// the reasons. Centre roles.
#[utoipa::path(post, path = "/api/v1/tickets/similar", tag = "search", security(("bearer" = [])), request_body = SimilarBody,
    responses((status = 200, body = SimilarResponse), (status = 400, body = ErrorBody), (status = 403, body = ErrorBody),
        (status = 422, body = ErrorBody)))]
pub async fn similar(
    State(state): State<AppState>,
    auth: Auth,
    ApiJson(body): ApiJson<SimilarBody>,
) -> Result<Json<SimilarResponse>, ApiError> {
    auth.require(INTAKE_ROLES)?;
    let content = body.content.unwrap_or_default();
    if content.chars().count() > crate::domain::intake::MAX_CONTENT {
        return Err(ApiError::invalid("content", "content: too long"));
    }
    let draft = Draft {
        phone: body.phone.map(|p| p.trim().to_string()).filter(|p| validate_phone(p).is_ok()),
        content,
        address: body.address.unwrap_or_default(),
        category: body.category.filter(|c| !c.is_empty()),
        exclude: body.exclude,
    };
    let since = state.store.now() - chrono::Duration::days(state.config.similar_window_days);
    let found = state.duplicates().suggest(&state.store, state.search(), &state.catalog(), &draft, since).await?;
    Ok(Json(SimilarResponse {
        suggestions: found
            .into_iter()
            .map(|(t, s)| SimilarSuggestion {
                ticket: SimilarTicket {
                    id: t.id,
                    number: t.number,
                    status: t.status,
                    content: t.content,
                    address: t.address,
                    category: t.category,
                    lead_department: t.lead,
                    created_at: t.created_at,
                },
                score: s.score,
                reasons: s.reasons,
                points: s.points,
                mergeable: s.mergeable,
            })
            .collect(),
    }))
}
