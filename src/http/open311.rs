//! The Open311 GeoReport v2 façade under `/open311/v2/`: each handler reads the request, calls
//! one rule of [`crate::domain::open311`] or the store, and answers in the format the path
//! ends with (`.json` or `.xml`); errors are the standard's `[{code, description}]` (or
//! `<errors><error>…`). Filing a request needs a partner's `api_key` (issued by an admin,
//! rate-limited per key) and goes the same intake road as the public form: a ticket on the
//! 网上 channel, routed by the rules. Not part of the OpenAPI document: the standard is its
//! own description (README.md shows a partner's requests).

use super::auth::Auth;
use super::error::{ApiError, ErrorBody};
use super::input::ApiPath;
use super::json::ApiJson;
use super::AppState;
use crate::domain::attachments::{Purpose, Request, Uploader};
use crate::domain::event::EventKind;
use crate::domain::lifecycle::Actor;
use crate::domain::open311::{self as rules, Filed, Format, Open311Error, RequestForm};
use crate::domain::types::Role;
use crate::store::open311::PartnerKey;
use crate::store::StoreError;
use axum::body::Bytes;
use axum::extract::{Path, RawQuery, State};
use axum::http::{header, StatusCode};
use axum::response::{IntoResponse, Response};
use axum::routing::get;
use axum::{Json, Router};
use governor::clock::{Clock, DefaultClock};
use governor::{DefaultKeyedRateLimiter, Quota, RateLimiter};
use rand::RngCore;
use serde::{Deserialize, Serialize};
use std::collections::BTreeMap;
use std::num::NonZeroU32;
use utoipa::ToSchema;

pub fn routes() -> Router<AppState> {
    Router::new()
        .route("/open311/v2/{resource}", get(resource).post(file_request))
        .route("/open311/v2/services/{file}", get(service_definition))
        .route("/open311/v2/requests/{file}", get(one_request))
        .route("/open311/v2/tokens/{file}", get(token))
}

/// Each key's budget of filed requests (`open311_requests_per_hour`).
pub struct KeyLimits(DefaultKeyedRateLimiter<i64>);

impl KeyLimits {
    pub fn new(per_hour: u32) -> KeyLimits {
        KeyLimits(RateLimiter::keyed(Quota::per_hour(NonZeroU32::new(per_hour.max(1)).expect("at least one"))))
    }

    fn check(&self, key: &PartnerKey) -> Result<(), Open311Error> {
        self.0.check_key(&key.id).map_err(|not_until| {
            let wait = not_until.wait_time_from(DefaultClock::default().now()).as_secs().max(1);
            Open311Error::TooManyRequests(format!(
                "api_key of {} is over its hourly budget of requests; try again in {} min",
                key.partner,
                wait.div_ceil(60)
            ))
        })
    }
}

impl From<StoreError> for Open311Error {
    fn from(e: StoreError) -> Open311Error {
        tracing::error!(error = %e, "open311: store");
        Open311Error::Internal
    }
}

impl From<ApiError> for Open311Error {
    fn from(e: ApiError) -> Open311Error {
        match e {
            ApiError::BadRequest { message, field } | ApiError::Invalid { message, field } => {
                Open311Error::BadRequest(field.map(|f| format!("{f}: {message}")).unwrap_or(message))
            }
            ApiError::NotFound(m) => Open311Error::NotFound(m),
            ApiError::TooManyRequests(m) => Open311Error::TooManyRequests(m),
            ApiError::Unavailable(m) => Open311Error::Unavailable(m),
            other => {
                tracing::error!(error = %other, "open311: intake");
                Open311Error::Internal
            }
        }
    }
}

fn render<T: Serialize + ?Sized>(
    format: Format,
    status: StatusCode,
    value: &T,
    xml: impl FnOnce(&T) -> String,
) -> Response {
    match format {
        Format::Json => (status, Json(value)).into_response(),
        Format::Xml => (status, [(header::CONTENT_TYPE, "text/xml; charset=utf-8")], xml(value)).into_response(),
    }
}

fn answer(format: Format, result: Result<Response, Open311Error>) -> Response {
    result.unwrap_or_else(|e| {
        let status = StatusCode::from_u16(e.status()).unwrap_or(StatusCode::INTERNAL_SERVER_ERROR);
        render(format, status, &e.errors(), |errors| rules::errors_xml(errors))
    })
}

/// Query or form pairs; text holding control characters is refused as everywhere else.
fn pairs(text: &[u8], what: &str) -> Result<Vec<(String, String)>, Open311Error> {
    let pairs: Vec<(String, String)> = serde_urlencoded::from_bytes(text)
        .map_err(|e| Open311Error::BadRequest(format!("the {what} is not application/x-www-form-urlencoded: {e}")))?;
    for (name, value) in &pairs {
        if let Some((at, c)) = crate::domain::text::forbidden_character(value) {
            return Err(Open311Error::BadRequest(crate::domain::text::refusal(name, at, c)));
        }
    }
    Ok(pairs)
}

fn query(raw: Option<String>, state: &AppState) -> Result<BTreeMap<String, String>, Open311Error> {
    let q: BTreeMap<String, String> = pairs(raw.unwrap_or_default().as_bytes(), "query")?.into_iter().collect();
    rules::check_jurisdiction(q.get("jurisdiction_id").map(String::as_str), &state.config.open311_jurisdiction_id)?;
    Ok(q)
}

/// `discovery`, `services` and `requests`, in either format.
async fn resource(State(state): State<AppState>, Path(segment): Path<String>, RawQuery(raw): RawQuery) -> Response {
    let (name, format) = match rules::split_format(&segment) {
        Ok(split) => split,
        Err(e) => return answer(Format::Json, Err(e)),
    };
    let result = async {
        let q = query(raw, &state)?;
        let catalog = state.catalog();
        match name {
            "discovery" => {
                Ok(render(format, StatusCode::OK, &rules::discovery(&state.config.public_base_url), rules::discovery_xml))
            }
            "services" => Ok(render(format, StatusCode::OK, &rules::services(&catalog.district), |s| {
                rules::services_xml(s)
            })),
            "requests" => {
                let listing = rules::listing(&q, &catalog.district, state.store.now())?;
                let found = state.store.open311_requests(&listing).await?;
                let shown: Vec<_> =
                    found.iter().map(|(t, f)| rules::service_request(t, f.as_ref(), &catalog.district)).collect();
                Ok(render(format, StatusCode::OK, &shown, |r| rules::requests_xml(r)))
            }
            other => Err(Open311Error::NotFound(format!(
                "no resource \"{other}\" here: discovery, services, services/{{code}}, requests, requests/{{id}}, tokens/{{token}}"
            ))),
        }
    }
    .await;
    answer(format, result)
}

async fn service_definition(
    State(state): State<AppState>,
    Path(file): Path<String>,
    RawQuery(raw): RawQuery,
) -> Response {
    let (code, format) = match rules::split_format(&file) {
        Ok(split) => split,
        Err(e) => return answer(Format::Json, Err(e)),
    };
    let result = query(raw, &state)
        .and_then(|_| rules::service_definition(&state.catalog().district, code))
        .map(|d| render(format, StatusCode::OK, &d, rules::definition_xml));
    answer(format, result)
}

/// One request by its ticket number, as a list of one (the standard's shape).
async fn one_request(State(state): State<AppState>, Path(file): Path<String>, RawQuery(raw): RawQuery) -> Response {
    let (number, format) = match rules::split_format(&file) {
        Ok(split) => split,
        Err(e) => return answer(Format::Json, Err(e)),
    };
    let result = async {
        let mut q = query(raw, &state)?;
        q.insert("service_request_id".into(), number.to_string());
        let catalog = state.catalog();
        let listing = rules::listing(&q, &catalog.district, state.store.now())?;
        let found = state.store.open311_requests(&listing).await?;
        if found.is_empty() {
            return Err(Open311Error::NotFound(format!("no request {number}")));
        }
        let shown: Vec<_> =
            found.iter().map(|(t, f)| rules::service_request(t, f.as_ref(), &catalog.district)).collect();
        Ok(render(format, StatusCode::OK, &shown, |r| rules::requests_xml(r)))
    }
    .await;
    answer(format, result)
}

/// The ticket number a token stands for.
async fn token(State(state): State<AppState>, Path(file): Path<String>, RawQuery(raw): RawQuery) -> Response {
    let (token, format) = match rules::split_format(&file) {
        Ok(split) => split,
        Err(e) => return answer(Format::Json, Err(e)),
    };
    let result = async {
        query(raw, &state)?;
        let not_found = || Open311Error::NotFound(format!("no request with token {token}"));
        let filed = state.store.filing_by_token(token).await?.ok_or_else(not_found)?;
        let ticket = state.store.ticket(filed.ticket_id).await?.filter(|t| !t.confidential).ok_or_else(not_found)?;
        let shown = [rules::TokenAnswer { service_request_id: ticket.number, token: filed.token }];
        Ok(render(format, StatusCode::OK, &shown[..], rules::requests_xml))
    }
    .await;
    answer(format, result)
}

/// `POST requests`: a partner files a request (form-urlencoded, `api_key` required).
async fn file_request(
    State(state): State<AppState>,
    Path(segment): Path<String>,
    RawQuery(raw): RawQuery,
    headers: axum::http::HeaderMap,
    body: Bytes,
) -> Response {
    let (name, format) = match rules::split_format(&segment) {
        Ok(split) => split,
        Err(e) => return answer(Format::Json, Err(e)),
    };
    let result = async {
        if name != "requests" {
            return Err(Open311Error::NotFound(format!("requests are filed by POST to requests.json, not {segment}")));
        }
        let form_encoded = headers
            .get(header::CONTENT_TYPE)
            .and_then(|v| v.to_str().ok())
            .is_some_and(|v| v.trim_start().to_ascii_lowercase().starts_with("application/x-www-form-urlencoded"));
        if !body.is_empty() && !form_encoded {
            return Err(Open311Error::BadRequest(
                "requests are posted as application/x-www-form-urlencoded, as the standard says".into(),
            ));
        }
        let mut given = pairs(raw.unwrap_or_default().as_bytes(), "query")?;
        given.extend(pairs(&body, "body")?);
        let form = RequestForm::from_pairs(given);
        rules::check_jurisdiction(form.jurisdiction_id.as_deref(), &state.config.open311_jurisdiction_id)?;
        let key = match &form.api_key {
            None => return Err(Open311Error::Forbidden("api_key is required to file a request".into())),
            Some(k) => state.store.use_partner_key(&rules::key_hash(k)).await?.ok_or_else(|| {
                Open311Error::Forbidden("api_key is not valid (unknown or revoked); ask the hotline centre".into())
            })?,
        };
        state.open311_limits().check(&key)?;
        let filing = rules::check_request(&form, &state.catalog().district)?;
        let token = {
            let mut bytes = [0u8; 16];
            rand::thread_rng().fill_bytes(&mut bytes);
            hex::encode(bytes)
        };
        let actor = rules::partner_actor(&key.partner);
        let event = filing.event(&key.partner, &token);
        let created = super::tickets::log_filed(&state, &actor, filing.ticket.clone(), vec![event]).await?;
        let ticket = created.ticket.ticket;
        let filed = Filed {
            ticket_id: ticket.id,
            token: token.clone(),
            lat: filing.lat,
            long: filing.long,
            address_string: filing.address_string,
            media_url: filing.media_url,
        };
        state.store.record_filing(&filed, &key).await?;
        if let Some(url) = filed.media_url {
            // After the commit, beside the answer: a slow or failing partner server never
            // delays or loses the ticket.
            tokio::spawn(attach_media(state.clone(), ticket.id, actor, url));
        }
        let accepted = [rules::Accepted {
            service_request_id: ticket.number.clone(),
            token,
            service_notice: rules::service_notice(&ticket),
            account_id: None,
        }];
        Ok(render(format, StatusCode::CREATED, &accepted[..], rules::requests_xml))
    }
    .await;
    answer(format, result)
}

/// Fetches a partner's `media_url` and adds it to the ticket as the caller's photo (public,
/// like a resident's upload on the public form), through the same road as every upload, in
/// the partner's name; when it cannot, the ticket's history says which address and why.
/// A task, not a queued job: a server stopped between the answer and the fetch leaves the
/// ticket without the photo and without the note, and its `partner_filed` event still shows
/// the address to the operator.
pub async fn attach_media(state: AppState, ticket_id: i64, actor: Actor, url: String) {
    let fetched = crate::media_url::fetch(&url, &state.config.media_fetch(), state.blobs().spool_dir()).await;
    let outcome = match fetched {
        Ok(file) => {
            let upload = crate::attachments::Upload { files: vec![file], ..Default::default() };
            let request = Request { purpose: Some(Purpose::Intake), public: Some(true) };
            super::attachments::add_files(&state, ticket_id, Uploader::Staff(&actor), &actor, request, upload)
                .await
                .map(|_| ())
                .map_err(|e| match e {
                    super::error::ApiError::Internal(m) => m,
                    other => other.to_string(),
                })
        }
        Err(e) => Err(e.to_string()),
    };
    let Err(reason) = outcome else { return };
    tracing::warn!(ticket_id, url = %url, reason = %reason, "open311: media_url not attached");
    let event = EventKind::MediaFetchFailed { url, reason };
    match state.store.change_ticket(ticket_id, &actor, |_, _| Ok(vec![event.clone()])).await {
        Ok(change) => state.publish(&change),
        Err(e) => tracing::error!(ticket_id, error = %e, "open311: could not note the failed media_url"),
    }
}

// ---- partners' keys (admin, JSON API) -----------------------------------------------------

#[derive(Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct NewPartnerKey {
    /// The partner platform the key is for, e.g. `随手拍小程序`: its requests' history names it.
    pub partner: String,
}

/// The key, shown this once: only its digest is kept.
#[derive(Serialize, ToSchema)]
pub struct IssuedKey {
    #[serde(flatten)]
    pub key: PartnerKey,
    pub api_key: String,
}

/// A fresh key: 32 random bytes, hex.
pub fn generate_key() -> String {
    let mut bytes = [0u8; 32];
    rand::thread_rng().fill_bytes(&mut bytes);
    hex::encode(bytes)
}

/// Partners' Open311 keys (never the keys themselves).
#[utoipa::path(get, path = "/api/v1/admin/open311/keys", tag = "admin", security(("bearer" = [])),
    responses((status = 200, body = Vec<PartnerKey>), (status = 403, body = ErrorBody)))]
pub async fn list_keys(State(state): State<AppState>, auth: Auth) -> Result<Json<Vec<PartnerKey>>, ApiError> {
    auth.require(&[Role::Admin])?;
    Ok(Json(state.store.partner_keys().await?))
}

/// Issues an Open311 api_key to a partner; the answer holds the key, shown this once.
#[utoipa::path(post, path = "/api/v1/admin/open311/keys", tag = "admin", security(("bearer" = [])),
    request_body = NewPartnerKey,
    responses((status = 201, body = IssuedKey), (status = 403, body = ErrorBody), (status = 422, body = ErrorBody)))]
pub async fn add_key(
    State(state): State<AppState>,
    auth: Auth,
    ApiJson(body): ApiJson<NewPartnerKey>,
) -> Result<(StatusCode, Json<IssuedKey>), ApiError> {
    auth.require(&[Role::Admin])?;
    let partner = rules::check_partner(&body.partner).map_err(|m| ApiError::invalid("partner", m))?;
    let api_key = generate_key();
    let key = state.store.add_partner_key(&partner, &rules::key_hash(&api_key), &auth.actor.username).await?;
    Ok((StatusCode::CREATED, Json(IssuedKey { key, api_key })))
}

/// Revokes a partner's key: its requests are refused (403) from now on.
#[utoipa::path(post, path = "/api/v1/admin/open311/keys/{id}/revoke", tag = "admin", security(("bearer" = [])),
    params(("id" = i64, Path, description = "the key's id from the list")),
    responses((status = 200, body = PartnerKey), (status = 400, body = ErrorBody), (status = 403, body = ErrorBody),
        (status = 404, body = ErrorBody)))]
pub async fn revoke_key(
    State(state): State<AppState>,
    auth: Auth,
    ApiPath(id): ApiPath<i64>,
) -> Result<Json<PartnerKey>, ApiError> {
    auth.require(&[Role::Admin])?;
    match state.store.revoke_partner_key(id).await {
        Ok(key) => Ok(Json(key)),
        Err(StoreError::NotFound) => Err(ApiError::NotFound(format!("no Open311 key {id}"))),
        Err(e) => Err(e.into()),
    }
}
