//! Query-string and path extractors whose failures are in the API's error shape and name
//! the parameter at fault: a value that is not UTF-8 once percent-decoded, or that holds a
//! control character (`domain::text`), is refused here for every handler and both
//! databases, before any of them sees it. (Bodies: `json::ApiJson`.)

use super::error::ApiError;
use axum::extract::{FromRequestParts, Path, RawPathParams};
use axum::http::request::Parts;
use serde::de::DeserializeOwned;
use std::collections::HashMap;

/// The query string as name → value (the last value of a repeated name), every name and
/// value checked.
pub struct ApiQuery(pub HashMap<String, String>);

impl<S: Send + Sync> FromRequestParts<S> for ApiQuery {
    type Rejection = ApiError;

    async fn from_request_parts(parts: &mut Parts, _state: &S) -> Result<Self, ApiError> {
        parse_query(parts.uri.query().unwrap_or("")).map(ApiQuery)
    }
}

/// Splits and decodes `a=1&b=x+y` strictly: `+` is a space, `%XX` a byte, and the bytes of
/// each name and value must be UTF-8 (a lossy decode would turn `q=%FF` into a query for
/// nothing, which matches everything).
pub fn parse_query(query: &str) -> Result<HashMap<String, String>, ApiError> {
    let mut pairs = HashMap::new();
    for pair in query.split('&').filter(|p| !p.is_empty()) {
        let (raw_name, raw_value) = pair.split_once('=').unwrap_or((pair, ""));
        let name = decode(raw_name).map_err(|_| ApiError::BadRequest {
            message: "a query parameter's name is not UTF-8 text".into(),
            field: None,
        })?;
        let value = decode(raw_value)
            .map_err(|_| ApiError::bad_request(name.clone(), format!("{name}: the value is not UTF-8 text")))?;
        check_text(&name, &name)?;
        check_text(&name, &value)?;
        pairs.insert(name, value);
    }
    Ok(pairs)
}

fn decode(raw: &str) -> Result<String, std::str::Utf8Error> {
    let spaced = raw.replace('+', " ");
    percent_encoding::percent_decode_str(&spaced).decode_utf8().map(|s| s.into_owned())
}

/// Refuses a control character in `value`, naming `field`.
pub fn check_text(field: &str, value: &str) -> Result<(), ApiError> {
    match crate::domain::text::forbidden_character(value) {
        Some((i, c)) => Err(ApiError::bad_request(field, crate::domain::text::refusal(field, i, c))),
        None => Ok(()),
    }
}

/// Path parameters, like `axum::extract::Path`, but a segment that is not UTF-8, holds a
/// control character or does not parse (`/kb/articles/abc`) is a 400 naming it, in the
/// API's error shape.
pub struct ApiPath<T>(pub T);

impl<S: Send + Sync, T: DeserializeOwned + Send> FromRequestParts<S> for ApiPath<T> {
    type Rejection = ApiError;

    async fn from_request_parts(parts: &mut Parts, state: &S) -> Result<Self, ApiError> {
        use axum::extract::path::ErrorKind;
        let raw = match RawPathParams::from_request_parts(parts, state).await {
            Ok(raw) => raw,
            Err(rejection) => {
                // The segment is not UTF-8: name it by the route's pattern (`/tickets/{id}`).
                let field = parts.extensions.get::<axum::extract::MatchedPath>().and_then(|m| {
                    let names: Vec<&str> =
                        m.as_str().split('/').filter_map(|s| s.strip_prefix('{')?.strip_suffix('}')).collect();
                    (names.len() == 1).then(|| names[0].to_string())
                });
                let message = match &field {
                    Some(f) => format!("{f}: not UTF-8 text once percent-decoded"),
                    None => format!("the path is not valid: {}", rejection.body_text()),
                };
                return Err(ApiError::BadRequest { message, field });
            }
        };
        for (name, value) in &raw {
            check_text(name, value)?;
        }
        match Path::<T>::from_request_parts(parts, state).await {
            Ok(Path(value)) => Ok(ApiPath(value)),
            Err(axum::extract::rejection::PathRejection::FailedToDeserializePathParams(e)) => {
                let field = match e.kind() {
                    ErrorKind::ParseErrorAtKey { key, .. }
                    | ErrorKind::InvalidUtf8InPathParam { key }
                    | ErrorKind::DeserializeError { key, .. } => Some(key.clone()),
                    _ => raw.iter().next().map(|(name, _)| name.to_string()),
                };
                let message = match (&field, e.kind()) {
                    (Some(f), ErrorKind::ParseErrorAtKey { expected_type, value, .. })
                        if expected_type.contains("i64") =>
                    {
                        format!("{f}: {value:?} is not an id (a whole number)")
                    }
                    (Some(f), _) => format!("{f}: {}", e.body_text()),
                    (None, _) => e.body_text(),
                };
                Err(ApiError::BadRequest { message, field })
            }
            Err(other) => Err(ApiError::BadRequest { message: other.body_text(), field: None }),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn field(query: &str) -> Option<String> {
        match parse_query(query) {
            Err(ApiError::BadRequest { field, .. }) => field,
            other => panic!("expected a refusal of {query}, got {:?}", other.map(|_| ())),
        }
    }

    #[test]
    fn queries_decode_strictly_and_name_the_parameter() {
        let q = parse_query("q=%E5%9E%83%E5%9C%BE+%E6%B8%85%E8%BF%90&status=new,dispatched&empty=").unwrap();
        assert_eq!(q["q"], "垃圾 清运");
        assert_eq!(q["status"], "new,dispatched");
        assert_eq!(q["empty"], "");
        assert_eq!(field("q=%FF%FE").as_deref(), Some("q"));
        assert_eq!(field("category=0%00").as_deref(), Some("category"));
        assert_eq!(field("street=a%1Bb").as_deref(), Some("street"));
        assert_eq!(field("%00=1").as_deref(), Some("\u{0}"));
    }
}
