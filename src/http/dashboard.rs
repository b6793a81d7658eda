//! The live boards as JSON snapshots, and the websocket that keeps them live.

use super::auth::{token_hash, Auth};
use super::error::{ApiError, ErrorBody};
use super::input::ApiQuery;
use super::AppState;
use crate::domain::types::Role;
use crate::live::views::{self, DepartmentView, OperatorView, SupervisorView};
use axum::extract::ws::WebSocketUpgrade;
use axum::extract::{FromRequestParts, State};
use axum::http::request::Parts;
use axum::response::Response;
use axum::Json;

/// 督办 wall screen: counts, overdue and near-due lists, intake by hour, department figures,
/// decisions awaiting.
#[utoipa::path(get, path = "/api/v1/dashboard/supervisor", tag = "live", security(("bearer" = [])),
    responses((status = 200, body = SupervisorView), (status = 403, body = ErrorBody)))]
pub async fn supervisor(State(state): State<AppState>, auth: Auth) -> Result<Json<SupervisorView>, ApiError> {
    auth.require(&[Role::Supervisor, Role::Dispatcher])?;
    Ok(Json(views::supervisor_view(&state).await?))
}

/// A department's own queue with each ticket's clocks.
#[utoipa::path(get, path = "/api/v1/dashboard/department", tag = "live", security(("bearer" = [])),
    responses((status = 200, body = DepartmentView), (status = 403, body = ErrorBody)))]
pub async fn department(State(state): State<AppState>, auth: Auth) -> Result<Json<DepartmentView>, ApiError> {
    auth.require(&[Role::Department])?;
    Ok(Json(views::department_view(&state, &auth.actor).await?))
}

/// The operators' queues: manual dispatch (人工派单) and callbacks (回访).
#[utoipa::path(get, path = "/api/v1/dashboard/operator", tag = "live", security(("bearer" = [])),
    responses((status = 200, body = OperatorView), (status = 403, body = ErrorBody)))]
pub async fn operator(State(state): State<AppState>, auth: Auth) -> Result<Json<OperatorView>, ApiError> {
    auth.require(&[Role::Operator, Role::Dispatcher, Role::Supervisor])?;
    Ok(Json(views::operator_view(&state, &auth.actor).await?))
}

/// Opens the live websocket. Browsers cannot set headers on a websocket, so the token may
/// also come as `?token=…`. The protocol is described in `src/live/socket.rs`.
#[utoipa::path(get, path = "/api/v1/live", tag = "live",
    params(("token" = Option<String>, Query, description = "bearer token, if not sent as Authorization")),
    responses((status = 101, description = "switching to the websocket protocol"), (status = 401, body = ErrorBody)))]
pub async fn live(
    State(state): State<AppState>,
    ApiQuery(q): ApiQuery,
    ws: WebSocketUpgrade,
    mut parts: LiveAuth,
) -> Result<Response, ApiError> {
    let auth = match parts.0.take() {
        Some(auth) => auth,
        None => {
            let token = q.get("token").filter(|t| !t.is_empty()).ok_or_else(|| {
                ApiError::Unauthorized("send the token as Authorization: Bearer … or ?token=…".into())
            })?;
            let (user, _) = state.store.session_user(&token_hash(token)).await?.ok_or_else(|| {
                ApiError::Unauthorized("the token is unknown, expired or logged out; log in again".into())
            })?;
            Auth {
                actor: super::auth::actor_for(&user, &state),
                token_hash: token_hash(token),
                display_name: user.display_name,
            }
        }
    };
    // Clients send little (a subscribe now and then): a small read buffer keeps a thousand
    // idle sockets cheap (tungstenite's default is 128 KiB each).
    let ws = ws.read_buffer_size(4096);
    Ok(ws.on_upgrade(move |socket| {
        crate::live::socket::serve(socket, state, auth.actor, auth.display_name, auth.token_hash)
    }))
}

/// The bearer header if there is one; the handler falls back to the query string.
pub struct LiveAuth(Option<Auth>);

impl FromRequestParts<AppState> for LiveAuth {
    type Rejection = ApiError;

    async fn from_request_parts(parts: &mut Parts, state: &AppState) -> Result<Self, ApiError> {
        if parts.headers.contains_key(axum::http::header::AUTHORIZATION) {
            Ok(LiveAuth(Some(Auth::from_request_parts(parts, state).await?)))
        } else {
            Ok(LiveAuth(None))
        }
    }
}
