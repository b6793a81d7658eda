//! 网上诉求 over HTTP, without login: the form's choices, a resident's submission (the same
//! intake road as a call, on the 网上 channel, routed by the rules), and tracking by number
//! and the phone's last four digits. Both are rate-limited per client address (the peer, or
//! behind a load balancer the address in `client_ip_header`, as for login failures). What a
//! resident may submit and see is decided in [`crate::domain::public`].

use super::auth::ClientAddr;
use super::error::{ApiError, ErrorBody};
use super::input::{ApiPath, ApiQuery};
use super::json::ApiJson;
use super::AppState;
use crate::domain::public::{self, PublicForm, PublicTicket};
use crate::domain::ticket::Ticket;
use crate::domain::types::Kind;
use axum::extract::State;
use axum::http::StatusCode;
use axum::Json;
use chrono::{DateTime, Utc};
use governor::clock::{Clock, DefaultClock};
use governor::{DefaultKeyedRateLimiter, Quota, RateLimiter};
use serde::{Deserialize, Serialize};
use std::num::NonZeroU32;
use utoipa::ToSchema;

/// Per-address budgets for the public endpoints (`public_submit_per_hour`,
/// `public_track_per_hour`).
pub struct Limits {
    submit: DefaultKeyedRateLimiter<String>,
    pub(super) track: DefaultKeyedRateLimiter<String>,
}

/// Addresses remembered before idle ones are forgotten.
const REMEMBERED_ADDRESSES: usize = 100_000;

impl Limits {
    pub fn new(submit_per_hour: u32, track_per_hour: u32) -> Limits {
        let quota = |n: u32| Quota::per_hour(NonZeroU32::new(n.max(1)).expect("at least one"));
        Limits { submit: RateLimiter::keyed(quota(submit_per_hour)), track: RateLimiter::keyed(quota(track_per_hour)) }
    }

    pub(super) fn check(limiter: &DefaultKeyedRateLimiter<String>, addr: String, what: &str) -> Result<(), ApiError> {
        if limiter.len() > REMEMBERED_ADDRESSES {
            limiter.retain_recent();
        }
        limiter.check_key(&addr).map_err(|not_until| {
            let wait = not_until.wait_time_from(DefaultClock::default().now()).as_secs().max(1);
            let minutes = wait.div_ceil(60);
            ApiError::TooManyRequests(format!("too many {what} from this address; try again in {minutes} min"))
        })
    }
}

#[derive(Serialize, ToSchema)]
pub struct Choice {
    pub code: String,
    pub label: String,
}

#[derive(Serialize, ToSchema)]
pub struct PublicFormChoices {
    pub kinds: Vec<Choice>,
    /// Leaf categories with their full path, e.g. `城市管理 / 市容环境 / 垃圾清运`.
    pub categories: Vec<Choice>,
}

/// What the public form offers: kinds and leaf categories (no login).
#[utoipa::path(get, path = "/api/v1/public/form", tag = "public", responses((status = 200, body = PublicFormChoices)))]
pub async fn form(State(state): State<AppState>) -> Json<PublicFormChoices> {
    let catalog = state.catalog();
    let d = &catalog.district;
    Json(PublicFormChoices {
        kinds: Kind::ALL.iter().map(|k| Choice { code: k.as_str().into(), label: k.label().into() }).collect(),
        categories: d
            .leaf_categories()
            .map(|c| Choice { code: c.code.clone(), label: d.category_path(&c.code).unwrap_or_else(|| c.name.clone()) })
            .collect(),
    })
}

#[derive(Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct PublicRequest {
    pub kind: Kind,
    /// A leaf category code from `/api/v1/public/form`.
    pub category: String,
    /// What the resident asks, up to 4000 characters.
    pub content: String,
    /// Where, up to 200 characters.
    pub address: String,
    /// A mainland mobile or a landline with area code.
    pub phone: String,
    #[serde(default)]
    pub name: String,
}

#[derive(Serialize, ToSchema)]
pub struct Submitted {
    /// Keep it: with the phone's last four digits it tracks the request.
    pub number: String,
    pub submitted_at: DateTime<Utc>,
    pub stage_label: &'static str,
}

/// Submit a request as a resident (no login). It becomes a ticket on the 网上 channel, routed
/// by the dispatch rules like a call.
#[utoipa::path(post, path = "/api/v1/public/requests", tag = "public", request_body = PublicRequest,
    responses((status = 201, body = Submitted), (status = 400, body = ErrorBody), (status = 422, body = ErrorBody),
        (status = 429, body = ErrorBody)))]
pub async fn submit(
    State(state): State<AppState>,
    ClientAddr(addr): ClientAddr,
    ApiJson(b): ApiJson<PublicRequest>,
) -> Result<(StatusCode, Json<Submitted>), ApiError> {
    Limits::check(&state.public_limits().submit, addr, "submissions")?;
    let catalog = state.catalog();
    let form = PublicForm {
        kind: b.kind,
        category: b.category,
        content: b.content,
        address: b.address,
        phone: b.phone,
        name: b.name,
    };
    let draft = public::validate(form, &catalog.district)?;
    let created = super::tickets::log_ticket(&state, &public::resident_actor(), draft, None, None, true, None).await?;
    let t = &created.ticket.ticket;
    Ok((
        StatusCode::CREATED,
        Json(Submitted { number: t.number.clone(), submitted_at: t.created_at, stage_label: "已受理" }),
    ))
}

/// The request behind a number and the last four digits of its phone (counted against the
/// address's lookups), or the same 404 for any wrong pair; with the digits as checked.
pub(super) async fn resident_ticket(
    state: &AppState,
    addr: String,
    number: &str,
    q: &ApiQuery,
) -> Result<(Ticket, String), ApiError> {
    Limits::check(&state.public_limits().track, addr, "lookups")?;
    let number = public::check_number(number).map_err(|m| ApiError::bad_request("number", m))?;
    let last4 = public::check_last4(q.0.get("phone_last4").map(String::as_str).unwrap_or(""))
        .map_err(|m| ApiError::bad_request("phone_last4", m))?
        .to_string();
    let not_found = || ApiError::NotFound("no request with this number and these last 4 phone digits".into());
    let id = state.store.ticket_id_by_number(number).await?.ok_or_else(not_found)?;
    let ticket = state
        .store
        .ticket(id)
        .await?
        .filter(|t| public::last4_matches(&t.caller_phone, &last4))
        .ok_or_else(not_found)?;
    Ok((ticket, last4))
}

/// Track a request by its number and the last four digits of the phone given with it. A
/// wrong pair is answered exactly like an unknown number.
#[utoipa::path(get, path = "/api/v1/public/requests/{number}", tag = "public",
    params(("number" = String, Path, description = "the ticket number, e.g. 20261122-000123"),
        ("phone_last4" = String, Query, description = "the last 4 digits of the phone given with the request")),
    responses((status = 200, body = PublicTicket), (status = 400, body = ErrorBody), (status = 404, body = ErrorBody),
        (status = 429, body = ErrorBody)))]
pub async fn track(
    State(state): State<AppState>,
    ClientAddr(addr): ClientAddr,
    ApiPath(number): ApiPath<String>,
    q: ApiQuery,
) -> Result<Json<PublicTicket>, ApiError> {
    let (ticket, _) = resident_ticket(&state, addr, &number, &q).await?;
    Ok(Json(public::public_view(&ticket, &state.catalog().district)))
}
