//! 附件 over HTTP: multipart upload, the list, streamed download (staff and residents).
//! The rules are `domain::attachments`; the taking in and storing `crate::attachments`.

use super::auth::{Auth, ClientAddr};
use super::error::{ApiError, ErrorBody};
use super::input::{ApiPath, ApiQuery};
use super::tickets::{resolve_id, visible_ticket};
use super::AppState;
use crate::attachments::{self as files, UploadError};
use crate::domain::attachments::{self as rules, Attachment, FileClass, Purpose, Request, Source, Uploader, Viewer};
use crate::domain::lifecycle::Actor;
use crate::domain::public;
use crate::domain::ticket::Ticket;
use axum::body::Body;
use axum::extract::multipart::MultipartRejection;
use axum::extract::{Multipart, State};
use axum::http::{header, HeaderMap, HeaderValue, StatusCode};
use axum::response::{IntoResponse, Response};
use axum::Json;
use chrono::{DateTime, Utc};
use serde::Serialize;
use utoipa::ToSchema;

/// One attachment as a list shows it (the storage keys stay inside).
#[derive(Serialize, ToSchema, Debug, Clone)]
pub struct AttachmentView {
    pub id: String,
    pub name: String,
    pub content_type: String,
    pub class: FileClass,
    pub size: u64,
    pub sha256: String,
    pub public: bool,
    pub purpose: Purpose,
    /// 办结回复 / 市民上传 / …
    pub purpose_label: &'static str,
    pub source: Source,
    pub department: Option<String>,
    /// Absent for residents.
    pub added_by: Option<String>,
    pub added_at: DateTime<Utc>,
    pub width: Option<u32>,
    pub height: Option<u32>,
    /// Where to download it (with the same credentials as this request).
    pub url: String,
    /// A small JPEG for lists, for images.
    pub thumbnail_url: Option<String>,
}

/// The multipart form of an upload (documented; read as a stream by `crate::attachments::receive`).
#[derive(ToSchema)]
#[allow(dead_code)]
pub struct UploadForm {
    /// One or more files (repeat the part).
    #[schema(value_type = Vec<String>, format = Binary)]
    file: Vec<Vec<u8>>,
    /// intake, note, reply, return, extension, assist, supervision (staff only).
    purpose: Option<Purpose>,
    /// Shown to the resident when tracking (staff only).
    public: Option<bool>,
}

fn view(a: &Attachment, base: &str, query: &str, resident: bool) -> AttachmentView {
    AttachmentView {
        id: a.id.clone(),
        name: a.name.clone(),
        content_type: a.content_type.clone(),
        class: a.class,
        size: a.size,
        sha256: a.sha256.clone(),
        public: a.public,
        purpose: a.purpose,
        purpose_label: a.purpose.label(),
        source: a.source,
        department: a.department.clone().filter(|_| !resident),
        added_by: Some(a.added_by.clone()).filter(|_| !resident),
        added_at: a.added_at,
        width: a.width,
        height: a.height,
        url: format!("{base}/{}{query}", a.id),
        thumbnail_url: a.thumbnail_key.as_ref().map(|_| format!("{base}/{}/thumbnail{query}", a.id)),
    }
}

/// The files of a ticket this staff member may see.
pub fn staff_views(t: &Ticket, actor: &Actor) -> Vec<AttachmentView> {
    let base = format!("/api/v1/tickets/{}/attachments", t.id);
    rules::visible_list(t, Viewer::Staff(actor)).map(|a| view(a, &base, "", false)).collect()
}

/// The files of a request a resident may see (marked public).
pub fn resident_views(t: &Ticket, last4: &str) -> Vec<AttachmentView> {
    let base = format!("/api/v1/public/requests/{}/attachments", t.number);
    let query = format!("?phone_last4={last4}");
    rules::visible_list(t, Viewer::Resident).map(|a| view(a, &base, &query, true)).collect()
}

impl From<UploadError> for ApiError {
    fn from(e: UploadError) -> Self {
        match e {
            UploadError::Rule(rules::AttachmentError::TooLarge { limit, message }) => {
                ApiError::PayloadTooLarge(format!("{message} [{limit}]"))
            }
            UploadError::Rule(rules::AttachmentError::Rejected { field, message }) => ApiError::invalid(field, message),
            UploadError::Malformed { field, message } => ApiError::bad_request(field, message),
            UploadError::StoreDown(m) => ApiError::Unavailable(format!("附件存储暂时不可用，请稍后再试: {m}")),
            UploadError::Io(m) => ApiError::Internal(m),
        }
    }
}

impl From<files::AddError> for ApiError {
    fn from(e: files::AddError) -> Self {
        match e {
            files::AddError::Upload(e) => e.into(),
            files::AddError::Store(e) => e.into(),
        }
    }
}

fn multipart(body: Result<Multipart, MultipartRejection>) -> Result<Multipart, ApiError> {
    body.map_err(|e| {
        ApiError::UnsupportedMediaType(format!(
            "send the files as multipart/form-data with one or more \"file\" parts ({})",
            e.body_text()
        ))
    })
}

fn request_of(upload: &files::Upload) -> Result<Request, ApiError> {
    let purpose = match upload.purpose.as_deref().filter(|p| !p.is_empty()) {
        None => None,
        Some(word) => Some(Purpose::parse(word).ok_or_else(|| {
            ApiError::invalid(
                "purpose",
                format!("unknown purpose {word:?}: intake, note, reply, return, extension, assist, supervision"),
            )
        })?),
    };
    let public = match upload.public.as_deref().filter(|p| !p.is_empty()) {
        None => None,
        Some("true" | "1" | "on") => Some(true),
        Some("false" | "0" | "off") => Some(false),
        Some(other) => return Err(ApiError::invalid("public", format!("public must be true or false, not {other:?}"))),
    };
    Ok(Request { purpose, public })
}

/// Adds the files through [`files::attach`] and tells the live hub; the attachments added.
pub(crate) async fn add_files(
    state: &AppState,
    ticket_id: i64,
    uploader: Uploader<'_>,
    actor: &Actor,
    request: Request,
    upload: files::Upload,
) -> Result<Vec<Attachment>, ApiError> {
    let limits = state.config.attachment_limits();
    let (change, ids) =
        files::attach(&state.store, state.blobs(), &limits, ticket_id, uploader, actor, request, upload.files).await?;
    state.publish(&change);
    Ok(change.ticket.attachments.iter().filter(|a| ids.contains(&a.id)).cloned().collect())
}

/// Attach files to a ticket (multipart/form-data: `file` one or more times, optional
/// `purpose` — intake, note, reply, return, extension, assist, supervision — and `public`).
/// Operators at intake and afterwards, supervisors, the lead department on its reply,
/// return or extension request, an assisting department on its answer.
#[utoipa::path(post, path = "/api/v1/tickets/{id}/attachments", tag = "tickets", security(("bearer" = [])),
    params(("id" = String, Path, description = "ticket id or number")),
    request_body(content = UploadForm, content_type = "multipart/form-data"),
    responses((status = 201, body = Vec<AttachmentView>), (status = 400, body = ErrorBody), (status = 403, body = ErrorBody),
        (status = 404, body = ErrorBody), (status = 409, body = ErrorBody), (status = 413, body = ErrorBody),
        (status = 415, body = ErrorBody), (status = 422, body = ErrorBody), (status = 503, body = ErrorBody)))]
pub async fn upload(
    State(state): State<AppState>,
    auth: Auth,
    ApiPath(id): ApiPath<String>,
    body: Result<Multipart, MultipartRejection>,
) -> Result<(StatusCode, Json<Vec<AttachmentView>>), ApiError> {
    let id = resolve_id(&state, &id).await?;
    let ticket = visible_ticket(&state, &auth, id).await?;
    let limits = state.config.attachment_limits();
    let uploader = Uploader::Staff(&auth.actor);
    let unchecked = Request { purpose: None, public: None };
    // Who may attach is known before the body is read: a refused upload spools nothing.
    rules::check_upload(&ticket, uploader, unchecked, 1, &limits, state.store.now())?;
    let upload = files::receive(multipart(body)?, &limits, state.blobs()).await?;
    let request = request_of(&upload)?;
    rules::check_upload(&ticket, uploader, request, upload.files.len(), &limits, state.store.now())?;
    let added = add_files(&state, id, uploader, &auth.actor, request, upload).await?;
    let base = format!("/api/v1/tickets/{id}/attachments");
    Ok((StatusCode::CREATED, Json(added.iter().map(|a| view(a, &base, "", false)).collect())))
}

/// A ticket's attachments this user may see, oldest first.
#[utoipa::path(get, path = "/api/v1/tickets/{id}/attachments", tag = "tickets", security(("bearer" = [])),
    params(("id" = String, Path, description = "ticket id or number")),
    responses((status = 200, body = Vec<AttachmentView>), (status = 404, body = ErrorBody)))]
pub async fn list(
    State(state): State<AppState>,
    auth: Auth,
    ApiPath(id): ApiPath<String>,
) -> Result<Json<Vec<AttachmentView>>, ApiError> {
    let id = resolve_id(&state, &id).await?;
    let ticket = visible_ticket(&state, &auth, id).await?;
    Ok(Json(staff_views(&ticket, &auth.actor)))
}

/// Download an attachment (streamed; `ETag` is its SHA-256).
#[utoipa::path(get, path = "/api/v1/tickets/{id}/attachments/{attachment}", tag = "tickets", security(("bearer" = [])),
    params(("id" = String, Path, description = "ticket id or number"), ("attachment" = String, Path, description = "attachment id")),
    responses((status = 200, description = "the file, streamed"), (status = 304, description = "not modified"),
        (status = 404, body = ErrorBody), (status = 503, body = ErrorBody)))]
pub async fn download(
    State(state): State<AppState>,
    auth: Auth,
    ApiPath((id, attachment)): ApiPath<(String, String)>,
    headers: HeaderMap,
) -> Result<Response, ApiError> {
    let id = resolve_id(&state, &id).await?;
    let ticket = visible_ticket(&state, &auth, id).await?;
    serve(&state, &ticket, &attachment, Viewer::Staff(&auth.actor), false, &headers).await
}

/// An image attachment's thumbnail (JPEG, at most 320 px).
#[utoipa::path(get, path = "/api/v1/tickets/{id}/attachments/{attachment}/thumbnail", tag = "tickets", security(("bearer" = [])),
    params(("id" = String, Path, description = "ticket id or number"), ("attachment" = String, Path, description = "attachment id")),
    responses((status = 200, description = "the thumbnail (JPEG)"), (status = 304, description = "not modified"),
        (status = 404, body = ErrorBody), (status = 503, body = ErrorBody)))]
pub async fn thumbnail(
    State(state): State<AppState>,
    auth: Auth,
    ApiPath((id, attachment)): ApiPath<(String, String)>,
    headers: HeaderMap,
) -> Result<Response, ApiError> {
    let id = resolve_id(&state, &id).await?;
    let ticket = visible_ticket(&state, &auth, id).await?;
    serve(&state, &ticket, &attachment, Viewer::Staff(&auth.actor), true, &headers).await
}

/// Add photos to your own request (网上诉求), within 24 hours of submitting it and before it
/// is closed: multipart/form-data, `file` one or more times. They are shown when tracking.
#[utoipa::path(post, path = "/api/v1/public/requests/{number}/attachments", tag = "public",
    params(("number" = String, Path, description = "the ticket number"),
        ("phone_last4" = String, Query, description = "the last 4 digits of the phone given with the request")),
    request_body(content = UploadForm, content_type = "multipart/form-data"),
    responses((status = 201, body = Vec<AttachmentView>), (status = 400, body = ErrorBody), (status = 403, body = ErrorBody),
        (status = 404, body = ErrorBody), (status = 413, body = ErrorBody), (status = 415, body = ErrorBody),
        (status = 422, body = ErrorBody), (status = 429, body = ErrorBody), (status = 503, body = ErrorBody)))]
pub async fn public_upload(
    State(state): State<AppState>,
    ClientAddr(addr): ClientAddr,
    ApiPath(number): ApiPath<String>,
    q: ApiQuery,
    body: Result<Multipart, MultipartRejection>,
) -> Result<(StatusCode, Json<Vec<AttachmentView>>), ApiError> {
    let (ticket, last4) = super::public::resident_ticket(&state, addr, &number, &q).await?;
    let limits = state.config.attachment_limits();
    let request = Request { purpose: None, public: None };
    rules::check_upload(&ticket, Uploader::Resident, request, 1, &limits, state.store.now())?;
    let upload = files::receive(multipart(body)?, &limits, state.blobs()).await?;
    if upload.purpose.is_some() || upload.public.is_some() {
        return Err(ApiError::invalid("purpose", "residents send only file parts"));
    }
    rules::check_upload(&ticket, Uploader::Resident, request, upload.files.len(), &limits, state.store.now())?;
    let added = add_files(&state, ticket.id, Uploader::Resident, &public::resident_actor(), request, upload).await?;
    let base = format!("/api/v1/public/requests/{}/attachments", ticket.number);
    let query = format!("?phone_last4={last4}");
    Ok((StatusCode::CREATED, Json(added.iter().map(|a| view(a, &base, &query, true)).collect())))
}

/// Download a public attachment of your request.
#[utoipa::path(get, path = "/api/v1/public/requests/{number}/attachments/{attachment}", tag = "public",
    params(("number" = String, Path, description = "the ticket number"), ("attachment" = String, Path, description = "attachment id"),
        ("phone_last4" = String, Query, description = "the last 4 digits of the phone given with the request")),
    responses((status = 200, description = "the file, streamed"), (status = 304, description = "not modified"),
        (status = 400, body = ErrorBody), (status = 404, body = ErrorBody), (status = 429, body = ErrorBody)))]
pub async fn public_download(
    State(state): State<AppState>,
    ClientAddr(addr): ClientAddr,
    ApiPath((number, attachment)): ApiPath<(String, String)>,
    q: ApiQuery,
    headers: HeaderMap,
) -> Result<Response, ApiError> {
    let (ticket, _) = super::public::resident_ticket(&state, addr, &number, &q).await?;
    serve(&state, &ticket, &attachment, Viewer::Resident, false, &headers).await
}

/// The thumbnail of a public image attachment of your request.
#[utoipa::path(get, path = "/api/v1/public/requests/{number}/attachments/{attachment}/thumbnail", tag = "public",
    params(("number" = String, Path, description = "the ticket number"), ("attachment" = String, Path, description = "attachment id"),
        ("phone_last4" = String, Query, description = "the last 4 digits of the phone given with the request")),
    responses((status = 200, description = "the thumbnail (JPEG)"), (status = 304, description = "not modified"),
        (status = 400, body = ErrorBody), (status = 404, body = ErrorBody), (status = 429, body = ErrorBody)))]
pub async fn public_thumbnail(
    State(state): State<AppState>,
    ClientAddr(addr): ClientAddr,
    ApiPath((number, attachment)): ApiPath<(String, String)>,
    q: ApiQuery,
    headers: HeaderMap,
) -> Result<Response, ApiError> {
    let (ticket, _) = super::public::resident_ticket(&state, addr, &number, &q).await?;
    serve(&state, &ticket, &attachment, Viewer::Resident, true, &headers).await
}

/// Streams one stored file with its type, name and caching headers. A file the viewer may
/// not see is not found, exactly like one that does not exist.
async fn serve(
    state: &AppState,
    ticket: &Ticket,
    attachment: &str,
    viewer: Viewer<'_>,
    thumbnail: bool,
    headers: &HeaderMap,
) -> Result<Response, ApiError> {
    let a = rules::visible_list(ticket, viewer)
        .find(|a| a.id == attachment)
        .ok_or_else(|| ApiError::not_found("attachment"))?;
    let (key, content_type, etag, name) = if thumbnail {
        let key = a.thumbnail_key.clone().ok_or_else(|| ApiError::not_found("thumbnail"))?;
        (key, "image/jpeg".to_string(), format!("\"{}-thumb\"", a.sha256), format!("thumb-{}", a.name))
    } else {
        (a.storage_key.clone(), a.content_type.clone(), format!("\"{}\"", a.sha256), a.name.clone())
    };
    let inline = thumbnail || a.class == FileClass::Image;
    let mut out = HeaderMap::new();
    let value = |s: &str| HeaderValue::from_str(s).map_err(|e| ApiError::Internal(e.to_string()));
    out.insert(header::ETAG, value(&etag)?);
    // The id names one stored file forever: a browser may keep it, but only for this user.
    out.insert(header::CACHE_CONTROL, HeaderValue::from_static("private, max-age=31536000, immutable"));
    out.insert(header::X_CONTENT_TYPE_OPTIONS, HeaderValue::from_static("nosniff"));
    if headers
        .get(header::IF_NONE_MATCH)
        .and_then(|v| v.to_str().ok())
        .is_some_and(|v| v.split(',').any(|t| t.trim() == etag))
    {
        return Ok((StatusCode::NOT_MODIFIED, out).into_response());
    }
    let got = state.blobs().get(&key).await.map_err(|e| match e {
        object_store::Error::NotFound { .. } => {
            ApiError::Internal(format!("attachment {key} is named by an event but not stored"))
        }
        other => ApiError::Unavailable(format!("附件存储暂时不可用，请稍后再试: {other}")),
    })?;
    out.insert(header::CONTENT_TYPE, value(&content_type)?);
    out.insert(header::CONTENT_LENGTH, HeaderValue::from(got.meta.size));
    out.insert(header::CONTENT_DISPOSITION, value(&rules::content_disposition(&name, inline))?);
    // A stored PDF or document opened in the browser cannot run anything of ours.
    out.insert(
        header::CONTENT_SECURITY_POLICY,
        HeaderValue::from_static("sandbox; default-src 'none'; img-src 'self'"),
    );
    Ok((StatusCode::OK, out, Body::from_stream(got.into_stream())).into_response())
}
