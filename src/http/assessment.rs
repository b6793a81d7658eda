//! The monthly assessment (考评) over HTTP: the ranking as JSON and as the published CSV, and
//! supervisors' exclusions (核减). Every figure is defined in [`crate::domain::assessment`].

use super::auth::Auth;
use super::error::{ApiError, ErrorBody};
use super::input::{ApiPath, ApiQuery};
use super::json::ApiJson;
use super::AppState;
use crate::domain::assessment::{self, DepartmentScore, Exclusion, Period, Weights};
use crate::domain::event::EventKind;
use crate::domain::types::Role;
use axum::extract::State;
use axum::http::{header, StatusCode};
use axum::response::{IntoResponse, Response};
use axum::Json;
use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};
use std::collections::HashMap;
use utoipa::ToSchema;

/// The weights the centre configured (checked at start-up, so the default is never reached).
fn weights(state: &AppState) -> Weights {
    state.config.weights().unwrap_or_default()
}

/// `?month=2026-10` → the Beijing-time month, or a 400 naming `month`.
fn month(q: &HashMap<String, String>) -> Result<(String, Period), ApiError> {
    let Some(month) = q.get("month").map(|m| m.trim()).filter(|m| !m.is_empty()) else {
        return Err(ApiError::bad_request("month", "month is required: a month like 2026-10 (Beijing time)"));
    };
    let period = assessment::month_period(month).map_err(|e| ApiError::bad_request("month", e))?;
    Ok((month.to_string(), period))
}

#[derive(Serialize, ToSchema)]
pub struct AssessmentView {
    pub month: String,
    /// The period: `from` ≤ instant < `to` (Beijing-time month boundaries).
    pub from: DateTime<Utc>,
    pub to: DateTime<Utc>,
    pub weights: Weights,
    /// In published order: each ranked group of siblings, each row followed by its sub-units.
    pub departments: Vec<DepartmentScore>,
    /// The exclusions (核减) that applied to tickets of this month.
    pub exclusions: Vec<Exclusion>,
}

/// The month's ranking of departments (考评): figures, rates, composite score, rank.
#[utoipa::path(get, path = "/api/v1/assessment", tag = "assessment", security(("bearer" = [])),
    params(("month" = String, Query, description = "a Beijing-time month, e.g. 2026-10")),
    responses((status = 200, body = AssessmentView), (status = 400, body = ErrorBody), (status = 403, body = ErrorBody)))]
pub async fn ranking(
    State(state): State<AppState>,
    auth: Auth,
    ApiQuery(q): ApiQuery,
) -> Result<Json<AssessmentView>, ApiError> {
    auth.require(&[Role::Supervisor])?;
    let (month, period) = month(&q)?;
    let a = state.store.assessment(&state.catalog().district, period, &weights(&state)).await?;
    Ok(Json(AssessmentView {
        month,
        from: period.0,
        to: period.1,
        weights: a.weights,
        departments: a.departments,
        exclusions: a.exclusions,
    }))
}

/// The month's ranking as the published CSV (UTF-8 with a byte-order mark, so that
/// spreadsheet programs read the Chinese headings).
#[utoipa::path(get, path = "/api/v1/assessment.csv", tag = "assessment", security(("bearer" = [])),
    params(("month" = String, Query, description = "a Beijing-time month, e.g. 2026-10")),
    responses((status = 200, content_type = "text/csv", body = String), (status = 400, body = ErrorBody),
        (status = 403, body = ErrorBody)))]
pub async fn ranking_csv(
    State(state): State<AppState>,
    auth: Auth,
    ApiQuery(q): ApiQuery,
) -> Result<Response, ApiError> {
    auth.require(&[Role::Supervisor])?;
    let (month, period) = month(&q)?;
    let catalog = state.catalog();
    let a = state.store.assessment(&catalog.district, period, &weights(&state)).await?;
    let body = assessment::to_csv_file(&a.departments, &catalog.district);
    Ok((
        [
            (header::CONTENT_TYPE, "text/csv; charset=utf-8".to_string()),
            (header::CONTENT_DISPOSITION, format!("attachment; filename=\"assessment-{month}.csv\"")),
        ],
        body,
    )
        .into_response())
}

/// A ticket named by its id or its number.
#[derive(Deserialize, ToSchema)]
#[serde(untagged)]
pub enum TicketRef {
    Id(i64),
    Number(String),
}

#[derive(Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct ExclusionBody {
    /// Ticket id (`123`) or number (`20261122-000123`).
    #[schema(value_type = String)]
    pub ticket: TicketRef,
    /// The department the ticket must not count against (and the units below it).
    pub department: String,
    /// 核减理由.
    pub reason: String,
}

/// 核减: rule that a ticket does not count against a department in the assessment. Recorded
/// with an `assessment_exclusion_added` event; applies to every month the ticket has facts in.
#[utoipa::path(post, path = "/api/v1/assessment/exclusions", tag = "assessment", security(("bearer" = [])),
    request_body = ExclusionBody,
    responses((status = 201, body = Exclusion), (status = 400, body = ErrorBody), (status = 403, body = ErrorBody),
        (status = 409, body = ErrorBody), (status = 422, body = ErrorBody)))]
pub async fn add_exclusion(
    State(state): State<AppState>,
    auth: Auth,
    ApiJson(b): ApiJson<ExclusionBody>,
) -> Result<(StatusCode, Json<Exclusion>), ApiError> {
    auth.require(&[Role::Supervisor])?;
    let not_found = |r: &dyn std::fmt::Display| ApiError::invalid("ticket", format!("no ticket \"{r}\""));
    let id = match &b.ticket {
        TicketRef::Id(id) => *id,
        TicketRef::Number(n) => match n.trim().parse::<i64>() {
            Ok(id) => id,
            Err(_) => state.store.ticket_id_by_number(n.trim()).await?.ok_or_else(|| not_found(n))?,
        },
    };
    let history = state.store.ticket_events(id).await?;
    let Some(number) = history.iter().find_map(|e| match &e.kind {
        EventKind::Received(r) => Some(r.number.clone()),
        _ => None,
    }) else {
        return Err(not_found(&id));
    };
    let department = b.department.trim();
    let reason = assessment::check_exclusion(&history, department, &b.reason, &state.catalog().district)?;
    let actor = crate::store::actor_ref(&auth.actor);
    let exclusion = state.store.add_exclusion(&actor, id, &number, department, &reason).await?;
    Ok((StatusCode::CREATED, Json(exclusion)))
}

/// The exclusions (核减) in force, oldest first; with `?month=`, those of tickets that had an
/// event in that month (the ones its ranking applies).
#[utoipa::path(get, path = "/api/v1/assessment/exclusions", tag = "assessment", security(("bearer" = [])),
    params(("month" = Option<String>, Query, description = "a Beijing-time month, e.g. 2026-10")),
    responses((status = 200, body = Vec<Exclusion>), (status = 400, body = ErrorBody), (status = 403, body = ErrorBody)))]
pub async fn list_exclusions(
    State(state): State<AppState>,
    auth: Auth,
    ApiQuery(q): ApiQuery,
) -> Result<Json<Vec<Exclusion>>, ApiError> {
    auth.require(&[Role::Supervisor])?;
    let period = if q.contains_key("month") { Some(month(&q)?.1) } else { None };
    Ok(Json(state.store.exclusions(period).await?))
}

#[derive(Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct WithdrawalBody {
    /// 撤销理由.
    pub reason: String,
}

/// 撤销核减: the ticket counts against the department again, in every month. Recorded with an
/// `assessment_exclusion_withdrawn` event naming the exclusion and the reason.
#[utoipa::path(post, path = "/api/v1/assessment/exclusions/{id}/withdraw", tag = "assessment",
    security(("bearer" = [])), request_body = WithdrawalBody,
    params(("id" = i64, Path, description = "the exclusion's id")),
    responses((status = 200, body = Exclusion), (status = 400, body = ErrorBody), (status = 403, body = ErrorBody),
        (status = 404, body = ErrorBody), (status = 422, body = ErrorBody)))]
pub async fn withdraw_exclusion(
    State(state): State<AppState>,
    auth: Auth,
    ApiPath(id): ApiPath<i64>,
    ApiJson(b): ApiJson<WithdrawalBody>,
) -> Result<Json<Exclusion>, ApiError> {
    auth.require(&[Role::Supervisor])?;
    let reason = assessment::check_withdrawal(&b.reason)?;
    let actor = crate::store::actor_ref(&auth.actor);
    match state.store.withdraw_exclusion(&actor, id, &reason).await {
        Ok(withdrawn) => Ok(Json(withdrawn)),
        Err(crate::store::StoreError::NotFound) => Err(ApiError::not_found("exclusion")),
        Err(e) => Err(e.into()),
    }
}
