//! Completes the OpenAPI document with the answers every operation of a kind can give, so
//! the document says what the server does (a schema-driven fuzz run, `ops/fuzz.sh`, holds
//! the server to it): 401 wherever a token is needed; 400, 413 and 415 wherever a JSON body
//! is read (malformed, too large, not JSON); 400 wherever a query or path parameter is
//! parsed; 404 wherever the path names something. Each in the one error shape.

use utoipa::openapi::content::ContentBuilder;
use utoipa::openapi::path::{Operation, ParameterIn};
use utoipa::openapi::response::ResponseBuilder;
use utoipa::openapi::{OpenApi, Ref, RefOr};

/// Adds the common answers an operation lacks; what a handler documents itself is kept.
pub fn complete(doc: &mut OpenApi) {
    for item in doc.paths.paths.values_mut() {
        let operations = [&mut item.get, &mut item.put, &mut item.post, &mut item.delete, &mut item.patch];
        for operation in operations.into_iter().flatten() {
            complete_operation(operation);
        }
    }
}

fn complete_operation(op: &mut Operation) {
    let secured = op.security.as_ref().is_some_and(|s| !s.is_empty());
    let body = op.request_body.is_some();
    let params = op.parameters.as_deref().unwrap_or_default();
    let in_path = params.iter().any(|p| matches!(p.parameter_in, ParameterIn::Path));
    let in_query = params.iter().any(|p| matches!(p.parameter_in, ParameterIn::Query));
    if secured {
        add(op, "401", "no token, or one unknown, expired or revoked (logged out, account disabled)");
    }
    if body || in_path || in_query {
        add(op, "400", "malformed input: bad JSON or parameter, unknown field, control characters; `field` names it");
    }
    if body {
        add(op, "413", "the body is larger than body_limit_bytes");
        add(op, "415", "the body is not sent as application/json");
    }
    if in_path {
        add(op, "404", "nothing with that id, or not visible to this user");
    }
}

fn add(op: &mut Operation, status: &str, description: &str) {
    op.responses.responses.entry(status.to_string()).or_insert_with(|| {
        RefOr::T(
            ResponseBuilder::new()
                .description(description)
                .content(
                    "application/json",
                    ContentBuilder::new().schema(Some(Ref::from_schema_name("ErrorBody"))).build(),
                )
                .build(),
        )
    });
}
