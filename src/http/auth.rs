//! Who is calling: login, logout, and the bearer-token extractor that turns a request into
//! a domain [`Actor`] with its department scope.

use super::error::ApiError;
use super::json::ApiJson;
use super::AppState;
use crate::domain::lifecycle::Actor;
use crate::domain::types::Role;
use crate::store::User;
use argon2::password_hash::{rand_core::OsRng, PasswordHash, PasswordHasher, PasswordVerifier, SaltString};
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
    PasswordHash::new(hash).is_ok_and(|h| Argon2::default().verify_password(password.as_bytes(), &h).is_ok())
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

/// Recently checked sessions, so a busy operator's every request is not a database read.
/// An entry lives [`SESSION_CACHE_TTL`]; logout removes it here at once, and another
/// instance notices a logout or expiry within that time.
#[derive(Default)]
pub struct SessionCache {
    entries: std::sync::Mutex<std::collections::HashMap<String, CachedSession>>,
}

/// The user, when the session expires, and when it was read from the database.
type CachedSession = (User, DateTime<Utc>, std::time::Instant);

pub const SESSION_CACHE_TTL: std::time::Duration = std::time::Duration::from_secs(10);
const SESSION_CACHE_MAX: usize = 10_000;

impl SessionCache {
    fn get(&self, token_hash: &str, now: DateTime<Utc>) -> Option<User> {
        let entries = self.entries.lock().expect("session cache poisoned");
        entries
            .get(token_hash)
            .filter(|(_, expires_at, cached)| cached.elapsed() < SESSION_CACHE_TTL && now < *expires_at)
            .map(|(u, _, _)| u.clone())
    }

    fn put(&self, token_hash: &str, user: &User, expires_at: DateTime<Utc>) {
        let mut entries = self.entries.lock().expect("session cache poisoned");
        if entries.len() >= SESSION_CACHE_MAX {
            entries.retain(|_, (_, _, cached)| cached.elapsed() < SESSION_CACHE_TTL);
        }
        entries.insert(token_hash.to_string(), (user.clone(), expires_at, std::time::Instant::now()));
    }

    pub fn forget(&self, token_hash: &str) {
        self.entries.lock().expect("session cache poisoned").remove(token_hash);
    }

    /// Drops every cached session of a user (disabled, or given a new password).
    pub fn forget_user(&self, user_id: i64) {
        self.entries.lock().expect("session cache poisoned").retain(|_, (u, _, _)| u.id != user_id);
    }
}

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
                let (user, expires_at) = state.store.session_user(&hash).await?.ok_or_else(|| {
                    ApiError::Unauthorized("the token is unknown, expired or logged out; log in again".into())
                })?;
                state.sessions().put(&hash, &user, expires_at);
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
    responses((status = 200, body = LoginResponse), (status = 401, body = super::error::ErrorBody), (status = 429, body = super::error::ErrorBody)))]
pub async fn login(
    State(state): State<AppState>,
    ClientAddr(address): ClientAddr,
    ApiJson(req): ApiJson<LoginRequest>,
) -> Result<Json<LoginResponse>, ApiError> {
    use crate::domain::accounts::{locked_out, locks_now, LoginSubject};
    let username = req.username.trim().to_string();
    let limits = state.config.login_limits();
    let since = state.store.now() - Duration::minutes(limits.window_minutes);
    let subjects = [LoginSubject::Username(username.clone()), LoginSubject::Address(address)];
    let keys: Vec<String> = subjects.iter().map(LoginSubject::key).collect();
    let failures: Vec<(LoginSubject, i64)> =
        subjects.iter().cloned().zip(state.store.login_failures(&keys, since).await?).collect();
    if let Some(locked) = locked_out(&failures, &limits) {
        crate::metrics::login_refused("locked_out");
        return Err(ApiError::TooManyRequests(format!(
            "too many failed logins for {}; try again in {} minutes or ask an administrator",
            locked.describe(),
            limits.window_minutes
        )));
    }
    let user = state.store.user_by_username(&username).await?.filter(|u| u.active);
    let password = req.password;
    let hash = user.as_ref().map_or(DUMMY_HASH.to_string(), |u| u.password_hash.clone());
    // An unknown username costs the same time as a real check, so usernames cannot be
    // probed by timing.
    let ok = tokio::task::spawn_blocking(move || verify_password(&password, &hash))
        .await
        .map_err(|e| ApiError::Internal(e.to_string()))?;
    let Some(user) = user.filter(|_| ok) else {
        let lockouts: Vec<(String, String)> = failures
            .iter()
            .filter(|(s, n)| locks_now(s, n + 1, &limits))
            .map(|(s, n)| (s.key(), format!("{} failed logins within {} minutes", n + 1, limits.window_minutes)))
            .collect();
        if !lockouts.is_empty() {
            tracing::warn!(subjects = ?lockouts.iter().map(|(s, _)| s).collect::<Vec<_>>(), "login locked out");
        }
        state.store.record_login_failure(&keys, since, &lockouts).await?;
        crate::metrics::login_refused("wrong_password");
        return Err(ApiError::Unauthorized("wrong username or password".into()));
    };
    state.store.clear_login_failures(&keys[0]).await?;
    let token = new_token();
    let expires_at = state.store.now() + Duration::hours(state.config.token_ttl_hours);
    state.store.create_session(&token_hash(&token), user.id, expires_at).await?;
    let actor = actor_for(&user, &state);
    Ok(Json(LoginResponse { token, expires_at, user: me(&actor, &user.display_name) }))
}

/// An argon2 hash of a random password, for equal-time refusals.
const DUMMY_HASH: &str =
    "$argon2id$v=19$m=19456,t=2,p=1$c29tZXNhbHRzb21lc2FsdA$3nN0bq6hQ2r8Sx1YIL6gGLrCwA3Uq8mJ1sC2x2m5Zxk";

/// Revoke the token of this request.
#[utoipa::path(post, path = "/api/v1/auth/logout", tag = "auth", security(("bearer" = [])),
    responses((status = 204), (status = 401, body = super::error::ErrorBody)))]
pub async fn logout(State(state): State<AppState>, auth: Auth) -> Result<StatusCode, ApiError> {
    state.store.revoke_session(&auth.token_hash).await?;
    state.sessions().forget(&auth.token_hash);
    Ok(StatusCode::NO_CONTENT)
}

/// The logged-in user.
#[utoipa::path(get, path = "/api/v1/auth/me", tag = "auth", security(("bearer" = [])),
    responses((status = 200, body = Me), (status = 401, body = super::error::ErrorBody)))]
pub async fn whoami(auth: Auth) -> Json<Me> {
    Json(me(&auth.actor, &auth.display_name))
}
