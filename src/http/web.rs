//! The web front end, embedded in the binary: `web/` is compiled in (rust-embed; in debug
//! builds it is read from the source folder, so edits show on reload), and served at `/`
//! — one page shell for the roles' pages (/console 接线, /workbench 承办, /wall 督办,
//! /kb 知识库, /outbox 发送队列, /public 网上诉求, /track, /login, and /tickets/{number} that
//! every notification mail links to) and its scripts, styles and vendored libraries under
//! `/assets/`.

use super::AppState;
use axum::extract::{Path, State};
use axum::http::{header, HeaderMap, HeaderValue, StatusCode};
use axum::response::{IntoResponse, Response};
use axum::routing::get;
use axum::{Json, Router};
use serde::Serialize;

#[derive(rust_embed::Embed)]
#[folder = "web/"]
struct Assets;

/// The pages the shell answers; the script shows the one named by the path.
/// `/tickets/{number}` is the one ticket a notification mail links to (`domain::notices`).
pub const PAGES: &[&str] =
    &["/", "/login", "/console", "/workbench", "/wall", "/kb", "/outbox", "/public", "/track", "/tickets/{number}"];

pub fn routes() -> Router<AppState> {
    let mut router = Router::new().route("/assets/{*path}", get(asset));
    for page in PAGES {
        router = router.route(page, get(shell));
    }
    router
}

/// Scripts only from here, styles from here and set by scripts (the charts), the live
/// socket on the same host.
const CSP: &str = "default-src 'self'; script-src 'self'; style-src 'self' 'unsafe-inline'; img-src 'self' data: blob:; connect-src 'self' ws: wss:; frame-ancestors 'none'";

async fn shell(headers: HeaderMap) -> Response {
    serve("index.html", &headers)
}

async fn asset(Path(path): Path<String>, headers: HeaderMap) -> Response {
    serve(&path, &headers)
}

fn serve(path: &str, request: &HeaderMap) -> Response {
    let Some(file) = Assets::get(path) else {
        return (StatusCode::NOT_FOUND, [(header::CONTENT_TYPE, "text/plain; charset=utf-8")], "not found")
            .into_response();
    };
    // Revalidated on every load (cheap with the ETag), so a new binary's files show at once.
    let etag = format!("\"{}\"", hex::encode(&file.metadata.sha256_hash()[..16]));
    let mut response = if request.get(header::IF_NONE_MATCH).and_then(|v| v.to_str().ok()) == Some(etag.as_str()) {
        StatusCode::NOT_MODIFIED.into_response()
    } else {
        let mime = file.metadata.mimetype();
        let content_type = if mime.starts_with("text/") || mime.contains("javascript") || mime.contains("json") {
            format!("{mime}; charset=utf-8")
        } else {
            mime.to_string()
        };
        ([(header::CONTENT_TYPE, content_type)], file.data.into_owned()).into_response()
    };
    let h = response.headers_mut();
    h.insert(header::ETAG, HeaderValue::from_str(&etag).expect("hex etag"));
    h.insert(header::CACHE_CONTROL, HeaderValue::from_static("no-cache"));
    h.insert(header::X_CONTENT_TYPE_OPTIONS, HeaderValue::from_static("nosniff"));
    h.insert(header::CONTENT_SECURITY_POLICY, HeaderValue::from_static(CSP));
    h.insert(header::REFERRER_POLICY, HeaderValue::from_static("same-origin"));
    response
}

#[derive(Serialize, utoipa::ToSchema)]
pub struct ServerClock {
    /// The server's time, RFC 3339 in Beijing time.
    pub now: String,
}

/// The server's time: browsers count deadlines down against it, not against their own clock.
#[utoipa::path(get, path = "/api/v1/clock", tag = "meta", responses((status = 200, body = ServerClock)))]
pub async fn clock(State(state): State<AppState>) -> Json<ServerClock> {
    Json(ServerClock { now: crate::domain::calendar::format_local(state.store.now()) })
}
