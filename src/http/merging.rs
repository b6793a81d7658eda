//! Undoing a merge (撤销并单). Merging is `tickets::merge`; what a merged ticket receives
//! when the original is replied is decided in `domain::merging` and applied by `tickets::act`.

use super::auth::Auth;
use super::error::{ApiError, ErrorBody};
use super::input::ApiPath;
use super::json::ApiJson;
use super::tickets::{merge_result, resolve_id, visible_ticket, MergeResult};
use super::AppState;
use crate::domain::lifecycle::DecisionError;
use axum::extract::State;
use axum::Json;
use serde::Deserialize;
use utoipa::ToSchema;

#[derive(Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct UnmergeBody {
    /// Why the tickets are not the same problem after all.
    pub reason: String,
}

/// 撤销并单: this merged ticket is its own again and back in the dispatch queue; the ticket it
/// followed no longer counts it (dispatchers, supervisors, admins).
#[utoipa::path(post, path = "/api/v1/tickets/{id}/unmerge", tag = "transitions", security(("bearer" = [])),
    request_body = UnmergeBody, params(("id" = String, Path, description = "ticket id or number of the merged ticket")),
    responses((status = 200, body = MergeResult), (status = 403, body = ErrorBody), (status = 404, body = ErrorBody),
        (status = 409, body = ErrorBody), (status = 422, body = ErrorBody)))]
pub async fn unmerge(
    State(state): State<AppState>,
    auth: Auth,
    ApiPath(id): ApiPath<String>,
    ApiJson(b): ApiJson<UnmergeBody>,
) -> Result<Json<MergeResult>, ApiError> {
    let source = resolve_id(&state, &id).await?;
    let merged = visible_ticket(&state, &auth, source).await?;
    let Some(target) = merged.merged_into else {
        return Err(DecisionError::IllegalTransition {
            status: merged.status,
            action: "unmerge",
            hint: "只有已合并的工单可以撤销并单。".into(),
        }
        .into());
    };
    let catalog = state.catalog();
    let actor = &auth.actor;
    let halves = state
        .store
        .merge_tickets(source, target, actor, |s, t, now| {
            crate::domain::merging::decide_unmerge(s, t, &b.reason, &catalog.context(actor, now))
        })
        .await?;
    Ok(merge_result(&state, &auth, &catalog, halves))
}
