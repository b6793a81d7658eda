//! 短信: the gateway's callbacks (residents' replies, delivery reports), authenticated by the
//! token in `sms_callback_token`, and the SMS outbox and reply queue for people.
//!
//! Kannel cannot add headers to its get-url, so the token travels in the query:
//! `/api/v1/sms/kannel/mo?token=…&from=%p&text=%a&id=%I` (sms-service `get-url`), or a POST
//! to the same path with the text as the body and Kannel's `X-Kannel-From` /
//! `X-Kannel-Message-ID`-style headers (`post-url`); delivery reports
//! `/api/v1/sms/kannel/dlr?token=…&id=<outbox id>&type=%d` (the dlr-url each text carries).

use super::auth::Auth;
use super::error::{ApiError, ErrorBody};
use super::input::{ApiPath, ApiQuery};
use super::AppState;
use crate::domain::types::Role;
use crate::sms_inbound::{delivery_state, InboundOutcome};
use crate::store::sms::{InboundText, TextRecord};
use axum::body::Bytes;
use axum::extract::State;
use axum::http::HeaderMap;
use axum::Json;
use chrono::{DateTime, Utc};
use serde::Serialize;
use sha2::{Digest, Sha256};
use std::collections::HashMap;
use utoipa::ToSchema;

const CENTRE: &[Role] = &[Role::Operator, Role::Dispatcher, Role::Supervisor, Role::Admin];

/// The gateway proved itself with the configured token (compared as hashes, so the time the
/// comparison takes says nothing about the token).
fn gateway(state: &AppState, query: &HashMap<String, String>) -> Result<(), ApiError> {
    let Some(expected) = state.config.sms_callback_token.as_deref() else {
        return Err(ApiError::Unauthorized("SMS callbacks are off: no sms_callback_token is configured".into()));
    };
    let presented = query.get("token").map(String::as_str).unwrap_or_default();
    if Sha256::digest(presented.as_bytes()) != Sha256::digest(expected.as_bytes()) {
        tracing::warn!("SMS gateway callback with a wrong token refused");
        return Err(ApiError::Unauthorized("wrong or missing token (sms_callback_token)".into()));
    }
    Ok(())
}

fn required<'a>(query: &'a HashMap<String, String>, field: &str) -> Result<&'a str, ApiError> {
    query
        .get(field)
        .map(String::as_str)
        .filter(|v| !v.trim().is_empty())
        .ok_or_else(|| ApiError::bad_request(field, format!("{field} is required")))
}

/// A resident's text back, from Kannel's sms-service (`get-url`): `from` (the sender, `%p`),
/// `text` (`%a`), `id` (Kannel's message id, `%I`: a repeated delivery is recognised by it).
#[utoipa::path(get, path = "/api/v1/sms/kannel/mo", tag = "sms",
    params(("token" = String, Query), ("from" = String, Query), ("text" = String, Query), ("id" = Option<String>, Query)),
    responses((status = 200, body = InboundOutcome), (status = 400, body = ErrorBody), (status = 401, body = ErrorBody)))]
pub async fn kannel_mo(
    State(state): State<AppState>,
    ApiQuery(query): ApiQuery,
) -> Result<Json<InboundOutcome>, ApiError> {
    gateway(&state, &query)?;
    let from = required(&query, "from")?;
    let text = query.get("text").map(String::as_str).unwrap_or_default();
    let id = query.get("id").map(String::as_str);
    Ok(Json(crate::sms_inbound::receive(&state, id, from, text).await?))
}

/// The same from Kannel's `post-url`: the text is the body (UTF-8), the sender in
/// `X-Kannel-From` (or `from` in the query), the message id in `X-Kannel-Message-ID` (or `id`).
#[utoipa::path(post, path = "/api/v1/sms/kannel/mo", tag = "sms",
    params(("token" = String, Query)), request_body(content = String, content_type = "text/plain"),
    responses((status = 200, body = InboundOutcome), (status = 400, body = ErrorBody), (status = 401, body = ErrorBody)))]
pub async fn kannel_mo_post(
    State(state): State<AppState>,
    ApiQuery(query): ApiQuery,
    headers: HeaderMap,
    body: Bytes,
) -> Result<Json<InboundOutcome>, ApiError> {
    gateway(&state, &query)?;
    let header = |name: &str| headers.get(name).and_then(|v| v.to_str().ok()).map(str::to_string);
    let from = header("x-kannel-from")
        .or_else(|| query.get("from").cloned())
        .filter(|f| !f.trim().is_empty())
        .ok_or_else(|| ApiError::bad_request("from", "from is required (X-Kannel-From)"))?;
    let text = std::str::from_utf8(&body).map_err(|_| ApiError::bad_request("text", "the text is not UTF-8"))?;
    if let Some((position, character)) = crate::domain::text::forbidden_character(text) {
        return Err(ApiError::bad_request("text", crate::domain::text::refusal("text", position, character)));
    }
    let id = header("x-kannel-message-id").or_else(|| query.get("id").cloned());
    Ok(Json(crate::sms_inbound::receive(&state, id.as_deref(), &from, text).await?))
}

#[derive(Serialize, ToSchema)]
pub struct DeliveryAnswer {
    pub id: i64,
    pub delivery: String,
}

/// A delivery report for one text (`id` is our outbox id, `type` Kannel's `%d`). Repeated
/// reports are harmless; `delivered` stays delivered.
#[utoipa::path(get, path = "/api/v1/sms/kannel/dlr", tag = "sms",
    params(("token" = String, Query), ("id" = i64, Query), ("type" = i64, Query)),
    responses((status = 200, body = DeliveryAnswer), (status = 400, body = ErrorBody), (status = 401, body = ErrorBody),
        (status = 404, body = ErrorBody)))]
pub async fn kannel_dlr(
    State(state): State<AppState>,
    ApiQuery(query): ApiQuery,
) -> Result<Json<DeliveryAnswer>, ApiError> {
    gateway(&state, &query)?;
    let id: i64 = required(&query, "id")?
        .parse()
        .map_err(|_| ApiError::bad_request("id", "id: the outbox id, a whole number"))?;
    let kind: i64 = required(&query, "type")?
        .parse()
        .map_err(|_| ApiError::bad_request("type", "type: Kannel's delivery report type (%d), a number"))?;
    let delivery = delivery_state(kind)
        .ok_or_else(|| ApiError::bad_request("type", "type: one of 1, 2, 4, 8, 16 (Kannel's %d)"))?;
    if !state.store.record_delivery(id, delivery, state.store.now()).await? {
        return Err(ApiError::NotFound(format!("no text with id {id}")));
    }
    Ok(Json(DeliveryAnswer { id, delivery: delivery.to_string() }))
}

#[derive(Serialize, ToSchema)]
pub struct SmsStatus {
    pub pending: i64,
    pub sent: i64,
    pub failed: i64,
    pub delivered: i64,
    pub oldest_pending_at: Option<DateTime<Utc>>,
    /// Texts given up on (refused for good, or 退订), newest first; numbers masked.
    pub failures: Vec<TextRecord>,
    /// Texts still to be sent (a first try, or a retry), the next due first; numbers masked.
    pub waiting: Vec<TextRecord>,
}

/// The SMS outbox for admins: counts, permanent failures and what is waiting.
#[utoipa::path(get, path = "/api/v1/admin/sms", tag = "admin", security(("bearer" = [])),
    responses((status = 200, body = SmsStatus), (status = 403, body = ErrorBody)))]
pub async fn sms_status(State(state): State<AppState>, auth: Auth) -> Result<Json<SmsStatus>, ApiError> {
    auth.require(&[Role::Admin])?;
    let counts = state.store.sms_outbox_counts().await?;
    let masked = |rows: Vec<TextRecord>| -> Vec<TextRecord> {
        rows.into_iter().map(|r| TextRecord { recipient: crate::notify::sms::mask_number(&r.recipient), ..r }).collect()
    };
    let failures = masked(state.store.failed_texts(super::admin::LISTED).await?);
    let waiting = masked(state.store.pending_texts(super::admin::LISTED).await?);
    Ok(Json(SmsStatus {
        pending: counts.pending,
        sent: counts.sent,
        failed: counts.failed,
        delivered: counts.delivered,
        oldest_pending_at: counts.oldest_pending_at,
        failures,
        waiting,
    }))
}

#[derive(Serialize, ToSchema)]
pub struct SmsInbox {
    /// Replies nobody could match for sure: an operator reads them and acts on the ticket.
    pub queued: Vec<InboundText>,
}

/// 短信待处理: residents' replies that were not clear ratings of a ticket waiting for one.
#[utoipa::path(get, path = "/api/v1/sms/inbox", tag = "sms", security(("bearer" = [])),
    responses((status = 200, body = SmsInbox), (status = 403, body = ErrorBody)))]
pub async fn sms_inbox(State(state): State<AppState>, auth: Auth) -> Result<Json<SmsInbox>, ApiError> {
    auth.require(CENTRE)?;
    Ok(Json(SmsInbox { queued: state.store.inbound_queue(200).await? }))
}

/// Puts a failed text back in the queue (after the gateway's settings were fixed, say).
#[utoipa::path(post, path = "/api/v1/admin/sms/{id}/retry", tag = "admin", security(("bearer" = [])),
    params(("id" = i64, Path, description = "SMS outbox id")),
    responses((status = 200, body = SmsStatus), (status = 403, body = ErrorBody), (status = 404, body = ErrorBody)))]
pub async fn retry_text(
    State(state): State<AppState>,
    auth: Auth,
    ApiPath(id): ApiPath<String>,
) -> Result<Json<SmsStatus>, ApiError> {
    auth.require(&[Role::Admin])?;
    let id: i64 = id.parse().map_err(|_| ApiError::bad_request("id", "id: the SMS outbox id, a whole number"))?;
    if !state.store.requeue_failed_text(id, state.store.now()).await? {
        return Err(ApiError::NotFound(format!("no failed text with id {id}")));
    }
    sms_status(State(state), auth).await
}

/// An operator has dealt with a queued reply (rated the callback by hand, called back …).
#[utoipa::path(post, path = "/api/v1/sms/inbox/{id}/handled", tag = "sms", security(("bearer" = [])),
    params(("id" = i64, Path, description = "reply id")),
    responses((status = 200, body = SmsInbox), (status = 403, body = ErrorBody), (status = 404, body = ErrorBody)))]
pub async fn inbox_handled(
    State(state): State<AppState>,
    auth: Auth,
    ApiPath(id): ApiPath<String>,
) -> Result<Json<SmsInbox>, ApiError> {
    auth.require(CENTRE)?;
    let id: i64 = id.parse().map_err(|_| ApiError::bad_request("id", "id: the reply id, a whole number"))?;
    if !state.store.mark_inbound_handled(id, &auth.actor.username).await? {
        return Err(ApiError::NotFound(format!("no queued reply with id {id}")));
    }
    sms_inbox(State(state), auth).await
}
