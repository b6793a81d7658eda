//! User administration (admin only): list, add, set a password, disable, enable, and the
//! account audit (changes and lockouts).

use super::auth::Auth;
use super::error::{ApiError, ErrorBody};
use super::input::ApiPath;
use super::json::ApiJson;
use super::AppState;
use crate::accounts::NewAccount;
use crate::domain::types::Role;
use crate::store::accounts::AuditEntry;
use crate::store::{StoreError, User};
use axum::extract::State;
use axum::http::StatusCode;
use axum::Json;
use serde::{Deserialize, Serialize};
use utoipa::ToSchema;

#[derive(Serialize, ToSchema)]
pub struct UserView {
    pub id: i64,
    pub username: String,
    pub display_name: String,
    pub role: Role,
    pub department: Option<String>,
    pub active: bool,
}

impl From<User> for UserView {
    fn from(u: User) -> Self {
        UserView {
            id: u.id,
            username: u.username,
            display_name: u.display_name,
            role: u.role,
            department: u.department,
            active: u.active,
        }
    }
}

/// An account and, when the server generated it, its password: shown this once.
#[derive(Serialize, ToSchema)]
pub struct AccountAnswer {
    pub user: UserView,
    pub generated_password: Option<String>,
}

#[derive(Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct PasswordBody {
    /// Left out: one is generated and answered once.
    pub password: Option<String>,
}

fn no_user(username: &str) -> impl Fn(StoreError) -> ApiError + '_ {
    move |e| match e {
        StoreError::NotFound => ApiError::NotFound(format!("no user named {username:?}")),
        other => other.into(),
    }
}

/// Every account.
#[utoipa::path(get, path = "/api/v1/admin/users", tag = "admin", security(("bearer" = [])),
    responses((status = 200, body = Vec<UserView>), (status = 403, body = ErrorBody)))]
pub async fn list_users(State(state): State<AppState>, auth: Auth) -> Result<Json<Vec<UserView>>, ApiError> {
    auth.require(&[Role::Admin])?;
    Ok(Json(state.store.list_users().await?.into_iter().map(UserView::from).collect()))
}

/// Adds an account.
#[utoipa::path(post, path = "/api/v1/admin/users", tag = "admin", security(("bearer" = [])), request_body = NewAccount,
    responses((status = 201, body = AccountAnswer), (status = 403, body = ErrorBody), (status = 409, body = ErrorBody), (status = 422, body = ErrorBody)))]
pub async fn add_user(
    State(state): State<AppState>,
    auth: Auth,
    ApiJson(account): ApiJson<NewAccount>,
) -> Result<(StatusCode, Json<AccountAnswer>), ApiError> {
    auth.require(&[Role::Admin])?;
    let (user, generated_password) =
        crate::accounts::add(&state.store, &state.catalog().district, account, &auth.actor.username).await?;
    Ok((StatusCode::CREATED, Json(AccountAnswer { user: user.into(), generated_password })))
}

/// Sets an account's password; its sessions end.
#[utoipa::path(post, path = "/api/v1/admin/users/{username}/password", tag = "admin", security(("bearer" = [])),
    params(("username" = String, Path)), request_body = PasswordBody,
    responses((status = 200, body = AccountAnswer), (status = 403, body = ErrorBody), (status = 404, body = ErrorBody), (status = 422, body = ErrorBody)))]
pub async fn set_password(
    State(state): State<AppState>,
    auth: Auth,
    ApiPath(username): ApiPath<String>,
    ApiJson(body): ApiJson<PasswordBody>,
) -> Result<Json<AccountAnswer>, ApiError> {
    auth.require(&[Role::Admin])?;
    let (user, generated_password) =
        crate::accounts::set_password(&state.store, &username, body.password, &auth.actor.username)
            .await
            .map_err(no_user(&username))?;
    super::auth::revoked(&state, crate::store::revocations::Revocation { user_id: user.id, token_hash: None });
    Ok(Json(AccountAnswer { user: user.into(), generated_password }))
}

/// Disables an account: it can no longer log in and its sessions end.
#[utoipa::path(post, path = "/api/v1/admin/users/{username}/disable", tag = "admin", security(("bearer" = [])),
    params(("username" = String, Path)),
    responses((status = 200, body = UserView), (status = 403, body = ErrorBody), (status = 404, body = ErrorBody), (status = 409, body = ErrorBody)))]
pub async fn disable_user(
    State(state): State<AppState>,
    auth: Auth,
    ApiPath(username): ApiPath<String>,
) -> Result<Json<UserView>, ApiError> {
    auth.require(&[Role::Admin])?;
    if username == auth.actor.username {
        return Err(ApiError::Conflict("an admin cannot disable their own account".into()));
    }
    let user = state.store.set_active(&username, false, &auth.actor.username).await.map_err(no_user(&username))?;
    super::auth::revoked(&state, crate::store::revocations::Revocation { user_id: user.id, token_hash: None });
    Ok(Json(user.into()))
}

/// Enables a disabled account again.
#[utoipa::path(post, path = "/api/v1/admin/users/{username}/enable", tag = "admin", security(("bearer" = [])),
    params(("username" = String, Path)),
    responses((status = 200, body = UserView), (status = 403, body = ErrorBody), (status = 404, body = ErrorBody)))]
pub async fn enable_user(
    State(state): State<AppState>,
    auth: Auth,
    ApiPath(username): ApiPath<String>,
) -> Result<Json<UserView>, ApiError> {
    auth.require(&[Role::Admin])?;
    let user = state.store.set_active(&username, true, &auth.actor.username).await.map_err(no_user(&username))?;
    Ok(Json(user.into()))
}

/// The account audit, newest first: who changed which account, and every lockout.
#[utoipa::path(get, path = "/api/v1/admin/audit", tag = "admin", security(("bearer" = [])),
    responses((status = 200, body = Vec<AuditEntry>), (status = 403, body = ErrorBody)))]
pub async fn audit(State(state): State<AppState>, auth: Auth) -> Result<Json<Vec<AuditEntry>>, ApiError> {
    auth.require(&[Role::Admin])?;
    Ok(Json(state.store.account_audit(500).await?))
}
