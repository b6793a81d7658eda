//! Who is calling: login, logout, and the bearer-token extractor that turns a request into
//! a domain [`Actor`] with its department scope.

use super::error::ApiError;
use super::json::ApiJson;
use super::AppState;
use crate::domain::lifecycle::Actor;
use crate::domain::types::Role;
use crate::store::revocations::Revocation;
use crate::store::User;
use argon2::password_hash::{rand_core::OsRng, PasswordHasher, SaltString};
use argon2::Argon2;
use axum::extract::{FromRequestParts, State};
use axum::http::request::Parts;
use axum::http::StatusCode;
use axum::Json;
use chrono::{DateTime, Duration, Utc};
use rand::RngCore;
use serde::{Deserialize, Serialize};
use sha2::{Digest, Sha256};

pub fn hash_password(password: &str) -> String {
    let salt = SaltString::generate(&mut OsRng);
    Argon2::default()
        .hash_password(password.as_bytes(), &salt)
        .expect("argon2 hashing cannot fail with defaults")
        .to_string()
}

pub fn verify_password(password: &str, hash: &str) -> bool {
    super::passwords::verify_in(password, hash, &mut Vec::new())
}

/// Opaque to the client; only its SHA-256 is stored.
fn new_token() -> String {
    let mut bytes = [0u8; 32];
    rand::thread_rng().fill_bytes(&mut bytes);
    hex::encode(bytes)
}

pub fn token_hash(token: &str) -> String {
    hex::encode(Sha256::digest(token.as_bytes()))
}

pub use crate::sessions::{SessionCache, SESSION_CACHE_TTL};

/// The authenticated caller of a request.
#[derive(Debug, Clone)]
pub struct Auth {
    pub actor: Actor,
    pub token_hash: String,
    pub display_name: String,
}

impl Auth {
    pub fn require(&self, roles: &[Role]) -> Result<(), ApiError> {
        if roles.contains(&self.actor.role) || self.actor.role == Role::Admin {
            Ok(())
        } else {
            let names: Vec<&str> = roles.iter().map(|r| r.as_str()).collect();
            Err(ApiError::Forbidden(format!("this needs one of the roles: {}", names.join(", "))))
        }
    }
}

pub fn actor_for(user: &User, state: &AppState) -> Actor {
    let units = match (&user.department, user.role) {
        (Some(d), Role::Department) => state.catalog().district.descendants(d).into_iter().map(String::from).collect(),
        _ => Vec::new(),
    };
    Actor {
        user_id: user.id,
        username: user.username.clone(),
        role: user.role,
        department: user.department.clone(),
        units,
    }
}

impl FromRequestParts<AppState> for Auth {
    type Rejection = ApiError;

    async fn from_request_parts(parts: &mut Parts, state: &AppState) -> Result<Self, ApiError> {
        let header = parts
            .headers
            .get(axum::http::header::AUTHORIZATION)
            .and_then(|v| v.to_str().ok())
            .ok_or_else(|| ApiError::Unauthorized("log in first: send Authorization: Bearer <token>".into()))?;
        let token = header
            .strip_prefix("Bearer ")
            .map(str::trim)
            .filter(|t| !t.is_empty())
            .ok_or_else(|| ApiError::Unauthorized("the Authorization header must be \"Bearer <token>\"".into()))?;
        let hash = token_hash(token);
        let user = match state.sessions().get(&hash, state.store.now()) {
            Some(user) => user,
            None => {
                let generation = state.sessions().generation();
                let (user, expires_at) = state.store.session_user(&hash).await?.ok_or_else(|| {
                    ApiError::Unauthorized("the token is unknown, expired or logged out; log in again".into())
                })?;
                state.sessions().put(&hash, &user, expires_at, generation);
                user
            }
        };
        Ok(Auth { actor: actor_for(&user, state), token_hash: hash, display_name: user.display_name })
    }
}

#[derive(Deserialize, utoipa::ToSchema)]
#[serde(deny_unknown_fields)]
pub struct LoginRequest {
    pub username: String,
    pub password: String,
}

#[derive(Serialize, utoipa::ToSchema)]
pub struct LoginResponse {
    pub token: String,
    pub expires_at: DateTime<Utc>,
    pub user: Me,
}

#[derive(Serialize, utoipa::ToSchema)]
pub struct Me {
    pub id: i64,
    pub username: String,
    pub display_name: String,
    pub role: Role,
    pub department: Option<String>,
    /// The units whose tickets this user sees (departments only).
    pub units: Vec<String>,
}

fn me(actor: &Actor, display_name: &str) -> Me {
    Me {
        id: actor.user_id,
        username: actor.username.clone(),
        display_name: display_name.to_string(),
        role: actor.role,
        department: actor.department.clone(),
        units: actor.units.clone(),
    }
}

/// The client's address: the peer, or behind a load balancer the last entry of the
/// configured header (`client_ip_header`), which the balancer itself appended.
pub struct ClientAddr(pub String);

impl FromRequestParts<AppState> for ClientAddr {
    type Rejection = ApiError;

    async fn from_request_parts(parts: &mut Parts, state: &AppState) -> Result<Self, ApiError> {
        let from_header = state.config.client_ip_header.as_ref().and_then(|name| {
            let value = parts.headers.get(name.as_str())?.to_str().ok()?;
            value.rsplit(',').next().map(|a| a.trim().to_string()).filter(|a| !a.is_empty())
        });
        let peer = || {
            parts
                .extensions
                .get::<axum::extract::ConnectInfo<std::net::SocketAddr>>()
                .map(|c| c.0.ip().to_string())
                .unwrap_or_else(|| "unknown".into())
        };
        Ok(ClientAddr(from_header.unwrap_or_else(peer)))
    }
}

/// Log in with a username and password; returns a bearer token. Repeated failures lock the
/// username, or the client address, out for a while (429); each lockout is audited.
#[utoipa::path(post, path = "/api/v1/auth/login", tag = "auth", request_body = LoginRequest,
    responses((status = 200, body = LoginResponse), (status = 400, body = super::error::ErrorBody),
        (status = 401, body = super::error::ErrorBody),
        (status = 429, description = "locked out after repeated failures, or too many logins at once", body = super::error::ErrorBody)))]
pub async fn login(
    State(state): State<AppState>,
    ClientAddr(address): ClientAddr,
    ApiJson(req): ApiJson<LoginRequest>,
) -> Result<Json<LoginResponse>, ApiError> {
    use crate::domain::accounts::{locks_now, refused_by, LoginSubject};
    let username = req.username.trim().to_string();
    let limits = state.config.login_limits();
    let since = state.store.now() - Duration::minutes(limits.window_minutes);
    let subjects = [LoginSubject::Username(username.clone()), LoginSubject::Address(address)];
    let keyed: Vec<(String, i64)> = subjects.iter().map(|s| (s.key(), s.limit(&limits))).collect();
    let keys: Vec<String> = keyed.iter().map(|(k, _)| k.clone()).collect();
    // Counted before the password is checked, atomically in the database: however many
    // guesses arrive at once, on however many instances, at most the limit are checked.
    let attempts = match state.store.admit_login_attempt(&keyed, since).await? {
        Ok(counts) => counts,
        Err(refusing) => {
            let locked = &subjects[refusing];
            crate::metrics::login_refused("locked_out");
            return Err(ApiError::TooManyRequests(format!(
                "too many failed logins for {}; try again in {} minutes or ask an administrator",
                locked.describe(),
                limits.window_minutes
            )));
        }
    };
    debug_assert!(refused_by(&subjects.iter().cloned().zip(attempts).collect::<Vec<_>>(), &limits).is_none());
    let user = state.store.user_by_username(&username).await?.filter(|u| u.active);
    // An unknown username costs the same time as a real check, so usernames cannot be
    // probed by timing; either way the check waits for a free core (`passwords`).
    let ok = match state.passwords().verify(req.password, user.as_ref().map(|u| u.password_hash.clone())).await {
        Ok(ok) => ok,
        Err(busy) => {
            state.store.give_back_login_attempt(&keys, None).await?;
            crate::metrics::login_refused("busy");
            return Err(ApiError::TooManyRequests(busy.to_string()));
        }
    };
    let Some(user) = user.filter(|_| ok) else {
        let window = limits.window_minutes;
        let locked = state
            .store
            .login_failed(&keys, since, |i, n| {
                locks_now(&subjects[i], n, &limits).then(|| format!("{n} failed logins within {window} minutes"))
            })
            .await?;
        if !locked.is_empty() {
            tracing::warn!(subjects = ?locked, "login locked out");
        }
        crate::metrics::login_refused("wrong_password");
        return Err(ApiError::Unauthorized("wrong username or password".into()));
    };
    state.store.give_back_login_attempt(&keys, Some(&keys[0])).await?;
    let token = new_token();
    let expires_at = state.store.now() + Duration::hours(state.config.token_ttl_hours);
    state.store.create_session(&token_hash(&token), user.id, expires_at).await?;
    let actor = actor_for(&user, &state);
    Ok(Json(LoginResponse { token, expires_at, user: me(&actor, &user.display_name) }))
}

/// A revocation this instance just stored takes effect here before the answer goes out;
/// the live hub (woken now) closes its websockets, and every other instance's hub reads it
/// from the log (`crate::sessions`).
pub fn revoked(state: &AppState, revocation: Revocation) {
    state.sessions().revoke(&revocation);
    state.live().revoke(&revocation);
    state.live().wake();
}

/// Revoke the token of this request (its websockets close at once, on every instance).
#[utoipa::path(post, path = "/api/v1/auth/logout", tag = "auth", security(("bearer" = [])),
    responses((status = 204), (status = 401, body = super::error::ErrorBody)))]
pub async fn logout(State(state): State<AppState>, auth: Auth) -> Result<StatusCode, ApiError> {
    state.store.revoke_session(&auth.token_hash).await?;
    revoked(&state, Revocation { user_id: auth.actor.user_id, token_hash: Some(auth.token_hash) });
    Ok(StatusCode::NO_CONTENT)
}

/// The logged-in user.
#[utoipa::path(get, path = "/api/v1/auth/me", tag = "auth", security(("bearer" = [])),
    responses((status = 200, body = Me), (status = 401, body = super::error::ErrorBody)))]
pub async fn whoami(auth: Auth) -> Json<Me> {
    Json(me(&auth.actor, &auth.display_name))
}
