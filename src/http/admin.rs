//! Administration: the mail outbox (what is waiting, what failed for good, retrying it).

use super::auth::Auth;
use super::error::{ApiError, ErrorBody};
use super::input::ApiPath;
use super::AppState;
use crate::domain::types::Role;
use crate::notify::mask_address;
use crate::store::outbox::MailRecord;
use axum::extract::State;
use axum::Json;
use chrono::{DateTime, Utc};
use serde::Serialize;
use utoipa::ToSchema;

#[derive(Serialize, ToSchema)]
pub struct MailStatus {
    pub pending: i64,
    pub sent: i64,
    pub failed: i64,
    /// The oldest mail still waiting: how far behind the outbox is.
    pub oldest_pending_at: Option<DateTime<Utc>>,
    /// Mail that will not be retried by itself (refused for good), newest first.
    pub failures: Vec<MailEntry>,
    /// Mail still to be sent (a first try, or a retry after a refusal or an outage), the next
    /// due first.
    pub waiting: Vec<MailEntry>,
}

#[derive(Serialize, ToSchema)]
pub struct MailEntry {
    pub id: i64,
    pub kind: String,
    pub ticket_id: Option<i64>,
    /// Masked: admins need to tell addresses apart, not to read them.
    pub recipient: String,
    pub subject: String,
    pub attempts: i64,
    pub last_error: Option<String>,
    pub failed_at: Option<DateTime<Utc>>,
    /// When a waiting mail is tried next; null for a failed one.
    pub next_attempt_at: Option<DateTime<Utc>>,
}

impl From<MailRecord> for MailEntry {
    fn from(r: MailRecord) -> MailEntry {
        let waiting = r.failed_at.is_none() && r.sent_at.is_none();
        MailEntry {
            id: r.mail.id,
            kind: r.mail.kind,
            ticket_id: r.mail.ticket_id,
            recipient: mask_address(&r.mail.recipient),
            subject: r.mail.subject,
            attempts: r.mail.attempts,
            last_error: r.mail.last_error,
            failed_at: r.failed_at,
            next_attempt_at: waiting.then_some(r.next_attempt_at),
        }
    }
}

/// How many entries of each list the outbox pages show.
pub const LISTED: i64 = 100;

/// The outbox: counts, permanent failures and what is waiting.
#[utoipa::path(get, path = "/api/v1/admin/mail", tag = "admin", security(("bearer" = [])),
    responses((status = 200, body = MailStatus), (status = 403, body = ErrorBody)))]
pub async fn mail_status(State(state): State<AppState>, auth: Auth) -> Result<Json<MailStatus>, ApiError> {
    auth.require(&[Role::Admin])?;
    let counts = state.store.mail_outbox_counts().await?;
    let failures = state.store.failed_mail(LISTED).await?.into_iter().map(MailEntry::from).collect();
    let waiting = state.store.pending_mail(LISTED).await?.into_iter().map(MailEntry::from).collect();
    Ok(Json(MailStatus {
        pending: counts.pending,
        sent: counts.sent,
        failed: counts.failed,
        oldest_pending_at: counts.oldest_pending_at,
        failures,
        waiting,
    }))
}

/// Puts a failed mail back in the queue (after the address was corrected, say).
#[utoipa::path(post, path = "/api/v1/admin/mail/{id}/retry", tag = "admin", security(("bearer" = [])),
    params(("id" = i64, Path, description = "outbox id")),
    responses((status = 200, body = MailStatus), (status = 403, body = ErrorBody), (status = 404, body = ErrorBody)))]
pub async fn retry_mail(
    State(state): State<AppState>,
    auth: Auth,
    ApiPath(id): ApiPath<String>,
) -> Result<Json<MailStatus>, ApiError> {
    auth.require(&[Role::Admin])?;
    let id: i64 = id.parse().map_err(|_| ApiError::bad_request("id", "id: the outbox id, a whole number"))?;
    if !state.store.requeue_failed_mail(id, state.store.now()).await? {
        return Err(ApiError::NotFound(format!("no failed mail with id {id}")));
    }
    mail_status(State(state), auth).await
}
