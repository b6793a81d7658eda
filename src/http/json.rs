//! A JSON body extractor whose failures name the field at fault, and which refuses control
//! characters in any string of the body (`domain::text`) before a handler sees it.

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
    let value = deserialize::<T>(bytes)?;
    if may_hold_control_characters(bytes) {
        refuse_control_characters(bytes)?;
    }
    Ok(value)
}

/// Whether the raw body could carry a control character in a string: JSON writes one as a
/// `\u00XX` escape (raw ones are a syntax error), except DEL and the C1 range, which may come
/// raw. A body without any of these (nearly every body) skips the walk below.
fn may_hold_control_characters(bytes: &[u8]) -> bool {
    bytes.windows(4).any(|w| w[0] == b'\\' && w[1] == b'u' && w[2] == b'0' && w[3] == b'0')
        || bytes.contains(&0x7f)
        || bytes.windows(2).any(|w| w[0] == 0xc2 && (0x80..=0x9f).contains(&w[1]))
}

/// Walks every string of the body, keys included, and names the first that holds a control
/// character by its path (`content`, `dispatch.assists[1]`).
fn refuse_control_characters(bytes: &[u8]) -> Result<(), ApiError> {
    fn walk(value: &serde_json::Value, path: &str) -> Option<(String, usize, char)> {
        let at = |key: &str| if path.is_empty() { key.to_string() } else { format!("{path}.{key}") };
        match value {
            serde_json::Value::String(s) => {
                crate::domain::text::forbidden_character(s).map(|(i, c)| (path.to_string(), i, c))
            }
            serde_json::Value::Array(items) => {
                items.iter().enumerate().find_map(|(i, v)| walk(v, &format!("{path}[{i}]")))
            }
            serde_json::Value::Object(map) => map.iter().find_map(|(k, v)| {
                crate::domain::text::forbidden_character(k).map(|(i, c)| (at(k), i, c)).or_else(|| walk(v, &at(k)))
            }),
            _ => None,
        }
    }
    let Ok(value) = serde_json::from_slice::<serde_json::Value>(bytes) else { return Ok(()) };
    match walk(&value, "") {
        Some((field, i, c)) => {
            let field = if field.is_empty() { "body".to_string() } else { field };
            Err(ApiError::bad_request(field.clone(), crate::domain::text::refusal(&field, i, c)))
        }
        None => Ok(()),
    }
}

fn deserialize<T: DeserializeOwned>(bytes: &[u8]) -> Result<T, ApiError> {
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

    #[test]
    fn control_characters_are_refused_by_path_and_line_breaks_pass() {
        assert_eq!(field(r#"{"kind":"complaint","content":"a\u0000b"}"#).as_deref(), Some("content"));
        assert_eq!(field("{\"kind\":\"complaint\",\"content\":\"a\u{85}b\"}").as_deref(), Some("content"));
        assert!(parse::<Body>(r#"{"kind":"complaint","content":"a\nb\u000a\\u0000"}"#.as_bytes()).is_ok());
        #[derive(serde::Deserialize)]
        #[allow(dead_code)]
        struct Nested {
            list: Vec<String>,
        }
        match parse::<Nested>(r#"{"list":["x","\u001b"]}"#.as_bytes()) {
            Err(ApiError::BadRequest { field, .. }) => assert_eq!(field.as_deref(), Some("list[1]")),
            _ => panic!("expected a refusal"),
        }
    }
}
