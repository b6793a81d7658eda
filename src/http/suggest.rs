//! Intake assistance (智能辅助填单): suggestions while the operator types, what intake
//! records of the suggestions shown, and their accuracy per week for the wall.

use super::auth::Auth;
use super::error::{ApiError, ErrorBody};
use super::json::ApiJson;
use super::tickets::INTAKE_ROLES;
use super::AppState;
use crate::domain::suggest::accuracy::{self, WeekAccuracy};
use crate::domain::suggest::{CategorySuggestion, Notice, MAX_SUGGESTIONS};
use crate::domain::types::{Kind, Role};
use axum::extract::{Query, State};
use axum::Json;
use serde::{Deserialize, Serialize};
use utoipa::{IntoParams, ToSchema};

#[derive(Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct SuggestBody {
    /// What the caller says, as typed so far.
    pub content: String,
    /// The address as typed so far.
    #[serde(default)]
    pub address: Option<String>,
    /// The kind picked so far; `help` when not yet picked (only the urgency hint uses it).
    #[serde(default)]
    pub kind: Option<Kind>,
}

#[derive(Serialize, ToSchema)]
pub struct SuggestResponse {
    /// Up to 5 leaf categories, best first, each with the words that led to it. Empty for
    /// empty, over-long or unrecognisable text (see `notice`).
    pub categories: Vec<CategorySuggestion>,
    /// Street code located from the address (else from the content), or null.
    pub street: Option<String>,
    pub street_name: Option<String>,
    pub community: Option<String>,
    pub community_name: Option<String>,
    /// The place word that located it.
    pub located_by: Option<String>,
    /// `urgent` when the dispatch rules would raise the call to urgent under a suggested
    /// category, else null.
    pub urgency: Option<String>,
    /// Why: the rule's description.
    pub urgency_why: Vec<String>,
    pub urgency_rule: Option<String>,
    /// The model version that answered (0: the centre's category words alone, before any
    /// training).
    pub model_version: i64,
    /// Why no category is suggested, when none is: `empty`, `too_long`, `no_chinese`,
    /// `no_known_words`.
    pub notice: Option<Notice>,
    /// The same, in words for the operator.
    pub notice_label: Option<String>,
}

/// Suggests the category, street, community and urgency of a call while the operator types
/// it (centre roles). Bad input — empty, over-long, punctuation, no Chinese — is answered with
/// empty suggestions and a `notice`, never an error; nothing is stored.
#[utoipa::path(post, path = "/api/v1/tickets/suggest", tag = "tickets", security(("bearer" = [])), request_body = SuggestBody,
    responses((status = 200, body = SuggestResponse), (status = 400, body = ErrorBody), (status = 403, body = ErrorBody)))]
pub async fn suggest(
    State(state): State<AppState>,
    auth: Auth,
    ApiJson(body): ApiJson<SuggestBody>,
) -> Result<Json<SuggestResponse>, ApiError> {
    auth.require(INTAKE_ROLES)?;
    let catalog = state.catalog();
    let call = crate::suggest::Call {
        content: &body.content,
        address: body.address.as_deref().unwrap_or(""),
        kind: body.kind.map_or(crate::domain::suggest::DEFAULT_KIND, |k| k.as_str()),
        now: state.store.now(),
    };
    let answer = state.suggester().answer(&state.store, &catalog, &call).await?;
    let district = &catalog.district;
    let street_name = answer.place.street.as_deref().and_then(|s| district.street(s)).map(|s| s.name.clone());
    let community_name =
        answer.place.community.as_deref().and_then(|c| district.community(c)).map(|(_, c)| c.name.clone());
    Ok(Json(SuggestResponse {
        categories: answer.categories,
        street: answer.place.street,
        street_name,
        community: answer.place.community,
        community_name,
        located_by: answer.place.located_by,
        urgency: answer.urgency.as_ref().map(|_| "urgent".to_string()),
        urgency_why: answer.urgency.iter().map(|u| u.why.clone()).collect(),
        urgency_rule: answer.urgency.map(|u| u.rule_id),
        model_version: answer.model_version,
        notice_label: answer.notice.map(|n| n.label().to_string()),
        notice: answer.notice,
    }))
}

/// The suggestions the operator was shown, sent with the new ticket so that intake can count
/// whether one was taken.
#[derive(Deserialize, ToSchema, Clone, Debug)]
#[serde(deny_unknown_fields)]
pub struct SuggestionShown {
    /// `model_version` of the answer shown.
    pub model_version: i64,
    /// The category codes shown, best first (at most 5).
    pub categories: Vec<String>,
}

impl SuggestionShown {
    /// Checks it before the ticket is logged, so a bad one stores nothing.
    pub fn validate(&self, district: &crate::domain::district::District) -> Result<(), ApiError> {
        if self.model_version < 0 {
            return Err(ApiError::invalid("suggestion.model_version", "suggestion.model_version: must be 0 or more"));
        }
        if self.categories.len() > MAX_SUGGESTIONS {
            return Err(ApiError::invalid(
                "suggestion.categories",
                format!("suggestion.categories: at most {MAX_SUGGESTIONS} categories are suggested"),
            ));
        }
        if let Some(bad) = self.categories.iter().find(|c| !district.is_leaf_category(c)) {
            return Err(ApiError::invalid(
                "suggestion.categories",
                format!("suggestion.categories: \"{bad}\" is not a leaf category"),
            ));
        }
        Ok(())
    }
}

/// Records, after the ticket is logged, which suggestion (if any) the operator took. A failure
/// here loses one count, never the ticket: it is logged and the intake answer stands.
pub async fn record_shown(state: &AppState, ticket_id: i64, chosen: &str, shown: &SuggestionShown) {
    if shown.categories.is_empty() {
        return;
    }
    let rank = accuracy::rank_of(&shown.categories, chosen);
    if let Err(e) =
        state.store.record_suggestion_outcome(ticket_id, shown.model_version, &shown.categories, chosen, rank).await
    {
        tracing::warn!(ticket_id, error = %e, "could not record the suggestion outcome");
    }
}

#[derive(Deserialize, IntoParams)]
#[into_params(parameter_in = Query)]
pub struct AccuracyQuery {
    /// Weeks back, this one included (1–52, default 8).
    pub weeks: Option<String>,
}

#[derive(Serialize, ToSchema)]
pub struct AccuracyResponse {
    /// Oldest first; weeks start on Monday (Beijing time).
    pub weeks: Vec<WeekAccuracy>,
    /// The model version answering on this server now (0: words alone).
    pub model_version: i64,
    /// When it was trained, and from how many tickets.
    #[schema(value_type = Option<String>)]
    pub trained_at: Option<chrono::DateTime<chrono::Utc>>,
    pub trained_on_tickets: i64,
}

/// Suggestion accuracy per week (智能辅助填单 准确率): tickets logged with suggestions shown, how
/// many the operator took or overrode, and how often the first (or one of the first three) was
/// the ticket's final category. Supervisors and admins.
#[utoipa::path(get, path = "/api/v1/suggest/accuracy", tag = "tickets", security(("bearer" = [])), params(AccuracyQuery),
    responses((status = 200, body = AccuracyResponse), (status = 400, body = ErrorBody), (status = 403, body = ErrorBody)))]
pub async fn accuracy(
    State(state): State<AppState>,
    auth: Auth,
    Query(query): Query<AccuracyQuery>,
) -> Result<Json<AccuracyResponse>, ApiError> {
    auth.require(&[Role::Supervisor])?;
    let weeks = match query.weeks.as_deref() {
        None => 8,
        Some(w) => w
            .parse::<usize>()
            .ok()
            .filter(|n| (1..=52).contains(n))
            .ok_or_else(|| ApiError::bad_request("weeks", "weeks: a whole number from 1 to 52"))?,
    };
    let now = state.store.now();
    let from = now - chrono::Duration::weeks(weeks as i64 + 1);
    let outcomes = state.store.suggestion_outcomes(from).await?;
    let ready = state.suggester().ready(&state.store, &state.catalog()).await?;
    Ok(Json(AccuracyResponse {
        weeks: accuracy::weekly(&outcomes, now, weeks),
        model_version: ready.version,
        trained_at: ready.trained_at,
        trained_on_tickets: ready.tickets,
    }))
}
