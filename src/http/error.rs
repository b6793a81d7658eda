//! The API's one error type: every failure becomes a status code that fits and a body
//! `{ "error": code, "message": sentence, "field": name-or-null }`.

use crate::domain::lifecycle::DecisionError;
use crate::store::StoreError;
use axum::http::StatusCode;
use axum::response::{IntoResponse, Response};
use axum::Json;
use serde::Serialize;

#[derive(Debug, thiserror::Error)]
pub enum ApiError {
    /// Malformed request: bad JSON, a wrong type, an unknown enum value, a bad query value.
    #[error("{message}")]
    BadRequest { message: String, field: Option<String> },
    /// Well-formed but not acceptable: too long, unknown department, bad phone number.
    #[error("{message}")]
    Invalid { message: String, field: Option<String> },
    #[error("{0}")]
    Unauthorized(String),
    #[error("{0}")]
    Forbidden(String),
    #[error("{0}")]
    NotFound(String),
    /// The ticket is in a state where the action is not allowed.
    #[error("{0}")]
    NoRoute(String),
    #[error("{0}")]
    Conflict(String),
    #[error("{0}")]
    PayloadTooLarge(String),
    #[error("{0}")]
    UnsupportedMediaType(String),
    #[error("{0}")]
    TooManyRequests(String),
    /// Something broke on our side; the details go to the log, not the client.
    #[error("internal error")]
    Internal(String),
    #[error("{0}")]
    Unavailable(String),
}

#[derive(Serialize, utoipa::ToSchema)]
pub struct ErrorBody {
    /// A stable code for programs: `bad_request`, `invalid`, `not_found`, `conflict`, …
    pub error: &'static str,
    /// A sentence for people.
    pub message: String,
    /// The request field at fault, when one is.
    pub field: Option<String>,
}

impl ApiError {
    pub fn bad_request(field: impl Into<String>, message: impl Into<String>) -> Self {
        ApiError::BadRequest { message: message.into(), field: Some(field.into()) }
    }

    pub fn invalid(field: impl Into<String>, message: impl Into<String>) -> Self {
        ApiError::Invalid { message: message.into(), field: Some(field.into()) }
    }

    pub fn not_found(what: &str) -> Self {
        ApiError::NotFound(format!("{what} not found"))
    }

    fn parts(&self) -> (StatusCode, &'static str, Option<String>) {
        match self {
            ApiError::BadRequest { field, .. } => (StatusCode::BAD_REQUEST, "bad_request", field.clone()),
            ApiError::Invalid { field, .. } => (StatusCode::UNPROCESSABLE_ENTITY, "invalid", field.clone()),
            ApiError::Unauthorized(_) => (StatusCode::UNAUTHORIZED, "unauthorized", None),
            ApiError::Forbidden(_) => (StatusCode::FORBIDDEN, "forbidden", None),
            ApiError::NotFound(_) => (StatusCode::NOT_FOUND, "not_found", None),
            ApiError::NoRoute(_) => (StatusCode::NOT_FOUND, "no_route", None),
            ApiError::Conflict(_) => (StatusCode::CONFLICT, "conflict", None),
            ApiError::PayloadTooLarge(_) => (StatusCode::PAYLOAD_TOO_LARGE, "payload_too_large", None),
            ApiError::UnsupportedMediaType(_) => (StatusCode::UNSUPPORTED_MEDIA_TYPE, "unsupported_media_type", None),
            ApiError::TooManyRequests(_) => (StatusCode::TOO_MANY_REQUESTS, "too_many_requests", None),
            ApiError::Internal(_) => (StatusCode::INTERNAL_SERVER_ERROR, "internal", None),
            ApiError::Unavailable(_) => (StatusCode::SERVICE_UNAVAILABLE, "unavailable", None),
        }
    }
}

impl IntoResponse for ApiError {
    fn into_response(self) -> Response {
        let (status, error, field) = self.parts();
        if let ApiError::Internal(detail) = &self {
            tracing::error!(%detail, "request failed");
        }
        (status, Json(ErrorBody { error, message: self.to_string(), field })).into_response()
    }
}

impl From<DecisionError> for ApiError {
    fn from(e: DecisionError) -> Self {
        match e {
            DecisionError::IllegalTransition { .. } => ApiError::Conflict(e.to_string()),
            DecisionError::Forbidden(m) => ApiError::Forbidden(m),
            DecisionError::Invalid { field, message } => ApiError::invalid(field, message),
        }
    }
}

impl From<StoreError> for ApiError {
    fn from(e: StoreError) -> Self {
        match e {
            StoreError::NotFound => ApiError::not_found("ticket"),
            StoreError::Rejected(d) => d.into(),
            StoreError::Conflict(m) => ApiError::Conflict(m),
            StoreError::Unavailable(m) => ApiError::Unavailable(m),
            StoreError::Database(sqlx::Error::PoolTimedOut) => {
                ApiError::Unavailable("the database is busy; try again in a moment".into())
            }
            other => ApiError::Internal(other.to_string()),
        }
    }
}
