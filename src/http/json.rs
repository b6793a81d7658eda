//! A JSON body extractor whose failures name the field at fault.

use super::error::ApiError;
use axum::body::Bytes;
use axum::extract::{FromRequest, Request};
use axum::http::header::CONTENT_TYPE;
use serde::de::DeserializeOwned;

/// Like `axum::Json`, but a body that does not fit says which field is wrong, in our error
/// shape: `{"error":"bad_request","field":"kind","message":"kind: unknown variant …"}`.
pub struct ApiJson<T>(pub T);

impl<S: Send + Sync, T: DeserializeOwned> FromRequest<S> for ApiJson<T> {
    type Rejection = ApiError;

    async fn from_request(req: Request, state: &S) -> Result<Self, ApiError> {
        let is_json =
            req.headers().get(CONTENT_TYPE).and_then(|v| v.to_str().ok()).is_some_and(|v| {
                v.split(';').next().is_some_and(|m| m.trim().eq_ignore_ascii_case("application/json"))
            });
        if !is_json {
            return Err(ApiError::UnsupportedMediaType(
                "send the body as JSON with Content-Type: application/json".into(),
            ));
        }
        let bytes = Bytes::from_request(req, state).await.map_err(|rejection| {
            if rejection.status() == axum::http::StatusCode::PAYLOAD_TOO_LARGE {
                ApiError::PayloadTooLarge(
                    "the request body is larger than the server accepts (body_limit_bytes)".into(),
                )
            } else {
                ApiError::BadRequest { message: rejection.body_text(), field: None }
            }
        })?;
        parse(&bytes).map(ApiJson)
    }
}

pub fn parse<T: DeserializeOwned>(bytes: &[u8]) -> Result<T, ApiError> {
    let de = &mut serde_json::Deserializer::from_slice(bytes);
    serde_path_to_error::deserialize(de).map_err(|e| {
        let path = e.path().to_string();
        let inner = e.into_inner();
        if matches!(inner.classify(), serde_json::error::Category::Syntax | serde_json::error::Category::Eof) {
            // A syntax error belongs to the body, not to the field it happened to stop in.
            return ApiError::BadRequest { message: format!("the body is not valid JSON: {inner}"), field: None };
        }
        let field = if path == "." || path.is_empty() { missing_field(&inner.to_string()) } else { Some(path) };
        let message = match &field {
            Some(f) => format!("{f}: {inner}"),
            None => inner.to_string(),
        };
        ApiError::BadRequest { message, field }
    })
}

/// serde reports a missing field at the parent's path; the name is in the message.
fn missing_field(message: &str) -> Option<String> {
    let rest = message.strip_prefix("missing field `")?;
    rest.split('`').next().map(String::from)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[derive(serde::Deserialize, Debug)]
    #[allow(dead_code)]
    struct Body {
        kind: crate::domain::types::Kind,
        content: String,
    }

    fn field(json: &str) -> Option<String> {
        match parse::<Body>(json.as_bytes()) {
            Err(ApiError::BadRequest { field, .. }) => field,
            other => panic!("expected bad request, got {:?}", other.map(|_| ())),
        }
    }

    #[test]
    fn errors_name_the_field() {
        assert_eq!(field(r#"{"kind":"complain","content":"x"}"#).as_deref(), Some("kind"));
        assert_eq!(field(r#"{"kind":"complaint","content":5}"#).as_deref(), Some("content"));
        assert_eq!(field(r#"{"kind":"complaint"}"#).as_deref(), Some("content"));
        assert_eq!(field(r#"{"kind":"#), None);
    }
}
