//! Knowledge-base endpoints (知识库): search for operators, editing for admins and the owning
//! department. The rules are `domain::kb`'s; words are segmented as in ticket search.

use super::auth::Auth;
use super::error::{ApiError, ErrorBody};
use super::input::{ApiPath, ApiQuery};
use super::json::ApiJson;
use super::tickets::{parse_bool, parse_time, reject_unknown, ReasonBody};
use super::AppState;
use crate::domain::kb::{self, Article, Draft};
use axum::extract::State;
use axum::http::StatusCode;
use axum::Json;
use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};
use std::collections::HashMap;
use utoipa::{IntoParams, ToSchema};

#[derive(Serialize, ToSchema)]
pub struct ArticleView {
    #[serde(flatten)]
    pub article: Article,
    /// Past `valid_to`: not to be read out; its department is asked to renew or retire it.
    pub expired: bool,
}

#[derive(Serialize, ToSchema)]
pub struct ArticleList {
    pub articles: Vec<ArticleView>,
}

fn view(a: &Article, now: DateTime<Utc>) -> ArticleView {
    ArticleView { article: a.clone(), expired: a.expired(now) }
}

#[derive(Deserialize, IntoParams)]
#[into_params(parameter_in = Query)]
#[allow(dead_code)]
pub struct ArticleParams {
    /// Words; every one must be in the question or the answer.
    q: Option<String>,
    /// A category code or prefix.
    category: Option<String>,
    /// Include articles past their validity (flagged `expired`); default false.
    include_expired: Option<bool>,
    /// Only this department's articles (with its sub-units): its list to keep current.
    department: Option<String>,
}

const ARTICLE_KEYS: &[&str] = &["q", "category", "include_expired", "department"];

/// Search the knowledge base, best match first. Every signed-in user.
#[utoipa::path(get, path = "/api/v1/kb/articles", tag = "search", security(("bearer" = [])), params(ArticleParams),
    responses((status = 200, body = ArticleList), (status = 400, body = ErrorBody)))]
pub async fn list_articles(
    State(state): State<AppState>,
    _auth: Auth,
    ApiQuery(q): ApiQuery,
) -> Result<Json<ArticleList>, ApiError> {
    reject_unknown(&q, ARTICLE_KEYS)?;
    let catalog = state.catalog();
    let units: Option<Vec<String>> = match q.get("department").filter(|d| !d.is_empty()) {
        Some(code) if catalog.district.department(code).is_none() => {
            return Err(ApiError::bad_request("department", format!("department: unknown department \"{code}\"")))
        }
        Some(code) => Some(catalog.district.descendants(code).into_iter().map(String::from).collect()),
        None => None,
    };
    let articles = state.store.articles(units.as_deref()).await?;
    let terms = match q.get("q") {
        Some(text) => super::search::words_of(&catalog, text)?,
        None => Vec::new(),
    };
    let now = state.store.now();
    let include_expired = parse_bool(&q, "include_expired")?.unwrap_or(false);
    let category = q.get("category").filter(|c| !c.is_empty()).map(String::as_str);
    let found = kb::rank(&articles, &terms, category, include_expired, now);
    Ok(Json(ArticleList { articles: found.into_iter().map(|a| view(a, now)).collect() }))
}

#[derive(Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct ArticleBody {
    pub question: String,
    pub answer: String,
    /// A category code.
    pub category: String,
    /// The owning department.
    pub department: String,
    /// RFC 3339 or a date (Beijing time); default now.
    pub valid_from: Option<String>,
    /// RFC 3339 or a date; none: valid until changed.
    pub valid_to: Option<String>,
}

/// Reads and checks an article body; an editor must own the department.
fn draft(state: &AppState, auth: &Auth, body: ArticleBody) -> Result<Draft, ApiError> {
    let time = |key: &str, v: Option<String>| {
        let q: HashMap<String, String> =
            v.into_iter().filter(|v| !v.is_empty()).map(|v| (key.to_string(), v)).collect();
        parse_time(&q, key)
            .map_err(|_| ApiError::invalid(key, format!("{key}: an RFC 3339 instant or a date like 2026-11-22")))
    };
    let draft = Draft {
        question: body.question,
        answer: body.answer,
        category: body.category,
        department: body.department,
        valid_from: time("valid_from", body.valid_from)?.unwrap_or_else(|| state.store.now()),
        valid_to: time("valid_to", body.valid_to)?,
    };
    let draft = kb::validate(draft, &state.catalog().district).map_err(|e| ApiError::invalid(e.field, e.message))?;
    if !kb::may_edit(&auth.actor, &draft.department) {
        return Err(ApiError::Forbidden(format!(
            "only admins and {} (or a unit above it) may edit its articles",
            draft.department
        )));
    }
    Ok(draft)
}

/// Add an article (admins; a department for its own units).
#[utoipa::path(post, path = "/api/v1/kb/articles", tag = "search", security(("bearer" = [])), request_body = ArticleBody,
    responses((status = 201, body = ArticleView), (status = 403, body = ErrorBody), (status = 422, body = ErrorBody)))]
pub async fn add_article(
    State(state): State<AppState>,
    auth: Auth,
    ApiJson(body): ApiJson<ArticleBody>,
) -> Result<(StatusCode, Json<ArticleView>), ApiError> {
    let draft = draft(&state, &auth, body)?;
    let article = state.store.add_article(&draft, &auth.actor.username).await?;
    Ok((StatusCode::CREATED, Json(view(&article, state.store.now()))))
}

/// Change an article (admins; the department owning it, which may hand it to another of its
/// units).
#[utoipa::path(put, path = "/api/v1/kb/articles/{id}", tag = "search", security(("bearer" = [])), request_body = ArticleBody,
    params(("id" = i64, Path, description = "article id")),
    responses((status = 200, body = ArticleView), (status = 403, body = ErrorBody), (status = 404, body = ErrorBody),
        (status = 422, body = ErrorBody)))]
pub async fn update_article(
    State(state): State<AppState>,
    auth: Auth,
    ApiPath(id): ApiPath<i64>,
    ApiJson(body): ApiJson<ArticleBody>,
) -> Result<Json<ArticleView>, ApiError> {
    let current = state.store.article(id).await?.ok_or_else(|| ApiError::not_found("article"))?;
    if !kb::may_edit(&auth.actor, &current.text.department) {
        return Err(ApiError::Forbidden(format!("article {id} belongs to {}", current.text.department)));
    }
    let draft = draft(&state, &auth, body)?;
    let article = state
        .store
        .update_article(id, &draft, &auth.actor.username)
        .await?
        .ok_or_else(|| ApiError::not_found("article"))?;
    Ok(Json(view(&article, state.store.now())))
}

/// 停用: take an article out of use, saying why (admins; the department owning it). It is
/// kept (tickets resolved with it name it) but no longer offered, nor mailed about.
#[utoipa::path(post, path = "/api/v1/kb/articles/{id}/retire", tag = "search", security(("bearer" = [])),
    request_body = ReasonBody, params(("id" = i64, Path, description = "article id")),
    responses((status = 200, body = ArticleView), (status = 403, body = ErrorBody), (status = 404, body = ErrorBody),
        (status = 409, body = ErrorBody), (status = 422, body = ErrorBody)))]
pub async fn retire_article(
    State(state): State<AppState>,
    auth: Auth,
    ApiPath(id): ApiPath<i64>,
    ApiJson(body): ApiJson<ReasonBody>,
) -> Result<Json<ArticleView>, ApiError> {
    let current = state.store.article(id).await?.ok_or_else(|| ApiError::not_found("article"))?;
    if !kb::may_edit(&auth.actor, &current.text.department) {
        return Err(ApiError::Forbidden(format!("article {id} belongs to {}", current.text.department)));
    }
    let already = || ApiError::Conflict(format!("article {id} is already retired"));
    let reason = kb::check_retirement(&current, &body.reason).map_err(|refused| match refused {
        kb::RetirementRefused::AlreadyRetired => already(),
        kb::RetirementRefused::Invalid(e) => ApiError::invalid(e.field, e.message),
    })?;
    let article = state.store.retire_article(id, &auth.actor.username, &reason).await?.ok_or_else(already)?;
    Ok(Json(view(&article, state.store.now())))
}

/// Resolving directly (直接办结) names the article read out: it must exist and be in force.
pub(super) async fn check_article(state: &AppState, article_id: Option<i64>) -> Result<(), ApiError> {
    let Some(id) = article_id else { return Ok(()) };
    match state.store.article(id).await? {
        None => Err(ApiError::invalid("article_id", format!("article_id: no knowledge-base article {id}"))),
        Some(a) if a.retired.is_some() => {
            Err(ApiError::invalid("article_id", format!("article_id: article {id} was retired (停用)")))
        }
        Some(a) if a.expired(state.store.now()) => {
            Err(ApiError::invalid("article_id", format!("article_id: article {id} has expired")))
        }
        Some(_) => Ok(()),
    }
}
