//! The telephone (CTI) endpoints: call events from the PBX, operators' seats, call records
//! and their tickets, the screen-pop's contents, the missed-call list (漏接回拨) and the call
//! statistics. The rules are `domain::cti`; the storage `store::cti`.

use super::auth::Auth;
use super::error::{ApiError, ErrorBody};
use super::input::{ApiPath, ApiQuery};
use super::json::ApiJson;
use super::tickets::{given, reject_unknown};
use super::tickets::{resolve_id, visible_ticket, INTAKE_ROLES};
use super::views::{ticket_view, TicketView};
use super::AppState;
use crate::domain::cti::calls::{self, CallEvent, CallRecord, RawCallEvent};
use crate::domain::cti::missed::{self, CallBackOutcome, MissedCall, MissedError};
use crate::domain::cti::seats::{self, Operator, Seat, SeatError, SeatState};
use crate::domain::cti::stats::{self, CallStats};
use crate::domain::lifecycle::Actor;
use crate::domain::types::Role;
use crate::store::{StoreError, TicketFilter};
use axum::body::Bytes;
use axum::extract::{FromRequestParts, State};
use axum::http::request::Parts;
use axum::Json;
use chrono::{DateTime, Duration, NaiveDate, Utc};
use serde::{Deserialize, Serialize};
use sha2::{Digest, Sha256};
use utoipa::{IntoParams, ToSchema};

/// Who may read calls, seats and statistics: the centre, never a department.
const CENTRE: &[Role] = &[Role::Operator, Role::Dispatcher, Role::Supervisor];
/// Who watches the seats (坐席监控).
const WALL: &[Role] = &[Role::Dispatcher, Role::Supervisor];

/// A PBX, authenticated by its token from `cti_pbx_tokens`.
pub struct Pbx(pub String);

impl FromRequestParts<AppState> for Pbx {
    type Rejection = ApiError;

    async fn from_request_parts(parts: &mut Parts, state: &AppState) -> Result<Self, ApiError> {
        let token = parts
            .headers
            .get(axum::http::header::AUTHORIZATION)
            .and_then(|v| v.to_str().ok())
            .and_then(|v| v.strip_prefix("Bearer "))
            .map(str::trim)
            .ok_or_else(|| ApiError::Unauthorized("send the PBX's token: Authorization: Bearer <token>".into()))?;
        // Compared as hashes: equal length, so the comparison's time says nothing of the token.
        let presented = Sha256::digest(token.as_bytes());
        let tokens = state.config.pbx_tokens().unwrap_or_default();
        match tokens.iter().find(|(_, t)| Sha256::digest(t.as_bytes()) == presented) {
            Some((name, _)) => Ok(Pbx(name.clone())),
            None => {
                tracing::warn!("call events with an unknown PBX token refused");
                Err(ApiError::Unauthorized("unknown PBX token (cti_pbx_tokens)".into()))
            }
        }
    }
}

/// A seat change the seat's state does not allow: 409 with the sentence saying why.
fn seat_error(e: SeatError) -> ApiError {
    ApiError::Conflict(e.to_string())
}

fn missed_error(e: MissedError) -> ApiError {
    ApiError::Conflict(e.to_string())
}

fn not_found(e: StoreError, what: &str) -> ApiError {
    match e {
        StoreError::NotFound => ApiError::not_found(what),
        other => other.into(),
    }
}

#[derive(Serialize, ToSchema)]
pub struct EventsAnswer {
    /// New events stored.
    pub accepted: usize,
    /// Events stored before (a retry): nothing changed.
    pub duplicates: usize,
}

/// Call events from the PBX: one event object, or an array of them (stored all or none).
/// Authenticated by the PBX's token (`cti_pbx_tokens`), not by a user's login. Idempotent:
/// the same call id + event (+ extension) again changes nothing. A refused event names its
/// field (`at`, or `[3].at` in an array) and nothing of the request is stored.
#[utoipa::path(post, path = "/api/v1/cti/events", tag = "cti", security(("bearer" = [])), request_body = RawCallEvent,
    responses((status = 200, body = EventsAnswer), (status = 400, body = ErrorBody), (status = 401, body = ErrorBody),
        (status = 422, body = ErrorBody)))]
pub async fn post_events(
    State(state): State<AppState>,
    Pbx(pbx): Pbx,
    body: Bytes,
) -> Result<Json<EventsAnswer>, ApiError> {
    let batch = body.iter().find(|b| !b.is_ascii_whitespace()) == Some(&b'[');
    let raws: Vec<RawCallEvent> =
        if batch { super::json::parse(&body)? } else { vec![super::json::parse::<RawCallEvent>(&body)?] };
    if raws.is_empty() {
        return Err(ApiError::bad_request("events", "the array holds no events"));
    }
    if raws.len() > 10_000 {
        return Err(ApiError::bad_request("events", "at most 10000 events per request"));
    }
    let now = state.store.now();
    let name = |index: usize, field: &str| if batch { format!("[{index}].{field}") } else { field.to_string() };
    let refused = |index: usize, e: calls::CallEventError| {
        let field = name(index, &e.field);
        tracing::warn!(pbx = %pbx, field = %field, "call event refused: {}", e.message);
        ApiError::invalid(field, e.message)
    };
    let mut events: Vec<CallEvent> = Vec::with_capacity(raws.len());
    for (index, raw) in raws.iter().enumerate() {
        events.push(calls::check(raw, now).map_err(|e| refused(index, e))?);
    }
    let wrap_up = Duration::seconds(state.config.cti_wrap_up_secs);
    match state.store.record_call_events(&pbx, &events, wrap_up).await? {
        Ok(stored) => {
            state.live().wake();
            Ok(Json(EventsAnswer { accepted: stored.accepted, duplicates: stored.duplicates }))
        }
        Err(r) => Err(refused(r.index, r.error)),
    }
}

/// The extension to ring next for a new call, for the PBX's routing (automatic call
/// distribution): a seat idle now — not ringing, on a call, wrapping up (话后处理) or on a
/// break (小休) — the one idle the longest, leaving out `exclude` (comma-separated extensions:
/// phones already tried for this call, or just taken by another call). Answers the extension
/// alone as `text/plain` (one line: what Kamailio's `http_client_query` reads), or
/// `204 No Content` when no seat is free. Authenticated by the PBX's token.
#[utoipa::path(get, path = "/api/v1/cti/next-extension", tag = "cti", security(("bearer" = [])),
    params(("exclude" = Option<String>, Query, description = "extensions not to ring, comma-separated: 8001,8002")),
    responses((status = 200, body = String, content_type = "text/plain"), (status = 204),
        (status = 400, body = ErrorBody), (status = 401, body = ErrorBody)))]
pub async fn next_extension(
    State(state): State<AppState>,
    _pbx: Pbx,
    ApiQuery(q): ApiQuery,
) -> Result<axum::response::Response, ApiError> {
    use axum::response::IntoResponse;
    reject_unknown(&q, &["exclude"])?;
    let exclude = match given(&q, "exclude")? {
        Some(list) => list
            .split(',')
            .filter(|e| !e.trim().is_empty())
            .map(|e| calls::check_extension("exclude", e.trim()).map_err(|e| ApiError::bad_request(e.field, e.message)))
            .collect::<Result<Vec<_>, _>>()?,
        None => Vec::new(),
    };
    Ok(match state.store.next_extension(&exclude).await? {
        Some(ext) => ([(axum::http::header::CONTENT_TYPE, "text/plain; charset=utf-8")], ext).into_response(),
        None => axum::http::StatusCode::NO_CONTENT.into_response(),
    })
}

/// A seat as the API shows it: the state as of now, with its Chinese label.
#[derive(Serialize, ToSchema)]
pub struct SeatView {
    #[serde(flatten)]
    pub seat: Seat,
    /// 空闲, 振铃, 通话, 话后处理, 小休, 签出.
    pub state_label: &'static str,
}

impl SeatView {
    pub fn of(seat: Seat, now: DateTime<Utc>) -> SeatView {
        let seat = seat.as_of(now);
        SeatView { state_label: seat.state.label_zh(), seat }
    }
}

/// The `seat` live message's body from the stored `seat_changed` event.
pub fn seat_view(data: &serde_json::Value, now: DateTime<Utc>) -> serde_json::Value {
    match serde_json::from_value::<Seat>(data.clone()) {
        Ok(seat) => serde_json::to_value(SeatView::of(seat, now)).unwrap_or_default(),
        Err(_) => data.clone(),
    }
}

#[derive(Serialize, ToSchema)]
pub struct MySeat {
    /// `null` when signed out.
    pub seat: Option<SeatView>,
}

/// The caller's own seat.
#[utoipa::path(get, path = "/api/v1/cti/seat", tag = "cti", security(("bearer" = [])),
    responses((status = 200, body = MySeat), (status = 403, body = ErrorBody)))]
pub async fn my_seat(State(state): State<AppState>, auth: Auth) -> Result<Json<MySeat>, ApiError> {
    auth.require(INTAKE_ROLES)?;
    let now = state.store.now();
    Ok(Json(MySeat { seat: state.store.seat_of(auth.actor.user_id).await?.map(|s| SeatView::of(s, now)) }))
}

#[derive(Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct SignIn {
    /// The extension of the phone at this desk (2–10 digits).
    pub extension: String,
}

/// 坐席签入: sit at an extension; calls ringing there pop on this user's console.
#[utoipa::path(post, path = "/api/v1/cti/seat/sign-in", tag = "cti", security(("bearer" = [])), request_body = SignIn,
    responses((status = 200, body = SeatView), (status = 409, body = ErrorBody), (status = 422, body = ErrorBody)))]
pub async fn sign_in(
    State(state): State<AppState>,
    auth: Auth,
    ApiJson(body): ApiJson<SignIn>,
) -> Result<Json<SeatView>, ApiError> {
    auth.require(INTAKE_ROLES)?;
    let extension =
        calls::check_extension("extension", &body.extension).map_err(|e| ApiError::invalid(e.field, e.message))?;
    let operator = Operator {
        user_id: auth.actor.user_id,
        username: auth.actor.username.clone(),
        display_name: auth.display_name.clone(),
    };
    let seat = state.store.sign_in_seat(&operator, &extension).await?.map_err(seat_error)?;
    state.live().wake();
    Ok(Json(SeatView::of(seat, state.store.now())))
}

async fn change_own_seat(
    state: &AppState,
    auth: &Auth,
    change: fn(&Seat, DateTime<Utc>) -> Result<Seat, SeatError>,
) -> Result<Json<SeatView>, ApiError> {
    auth.require(INTAKE_ROLES)?;
    let seat = state.store.change_seat(auth.actor.user_id, change).await?.map_err(seat_error)?;
    state.live().wake();
    Ok(Json(SeatView::of(seat, state.store.now())))
}

/// 签出: leave the seat (refused while the phone rings or a call is on).
#[utoipa::path(post, path = "/api/v1/cti/seat/sign-out", tag = "cti", security(("bearer" = [])),
    responses((status = 200, body = SeatView), (status = 409, body = ErrorBody)))]
pub async fn sign_out(State(state): State<AppState>, auth: Auth) -> Result<Json<SeatView>, ApiError> {
    change_own_seat(&state, &auth, seats::sign_out).await
}

/// 小休: take a break (from idle or wrap-up).
#[utoipa::path(post, path = "/api/v1/cti/seat/break", tag = "cti", security(("bearer" = [])),
    responses((status = 200, body = SeatView), (status = 409, body = ErrorBody)))]
pub async fn take_break(State(state): State<AppState>, auth: Auth) -> Result<Json<SeatView>, ApiError> {
    change_own_seat(&state, &auth, seats::take_break).await
}

/// 置闲: ready again after a break, or wrap-up finished early.
#[utoipa::path(post, path = "/api/v1/cti/seat/ready", tag = "cti", security(("bearer" = [])),
    responses((status = 200, body = SeatView), (status = 409, body = ErrorBody)))]
pub async fn ready(State(state): State<AppState>, auth: Auth) -> Result<Json<SeatView>, ApiError> {
    change_own_seat(&state, &auth, seats::ready).await
}

#[derive(Serialize, ToSchema)]
pub struct SeatBoard {
    pub seats: Vec<SeatView>,
    /// Seats per state (signed-out ones left out).
    pub counts: std::collections::BTreeMap<String, i64>,
}

/// 坐席监控: every seat and its state now (dispatchers, supervisors, admins).
#[utoipa::path(get, path = "/api/v1/cti/seats", tag = "cti", security(("bearer" = [])),
    responses((status = 200, body = SeatBoard), (status = 403, body = ErrorBody)))]
pub async fn seat_board(State(state): State<AppState>, auth: Auth) -> Result<Json<SeatBoard>, ApiError> {
    auth.require(WALL)?;
    let now = state.store.now();
    let seats: Vec<SeatView> = state.store.seats().await?.into_iter().map(|s| SeatView::of(s, now)).collect();
    let mut counts = std::collections::BTreeMap::new();
    for s in seats.iter().filter(|s| s.seat.state != SeatState::SignedOut) {
        *counts.entry(s.seat.state.as_str().to_string()).or_insert(0) += 1;
    }
    Ok(Json(SeatBoard { seats, counts }))
}

/// A call record with the tickets logged during it.
#[derive(Serialize, ToSchema)]
pub struct CallView {
    #[serde(flatten)]
    pub call: CallRecord,
    pub wait_secs: Option<i64>,
    pub talk_secs: Option<i64>,
    /// The tickets logged during the call (ids and numbers).
    pub tickets: Vec<TicketRef>,
}

#[derive(Serialize, ToSchema)]
pub struct TicketRef {
    pub id: i64,
    pub number: String,
}

async fn call_view(state: &AppState, call: CallRecord) -> Result<CallView, ApiError> {
    let mut tickets = Vec::new();
    for id in state.store.call_tickets(&call.call_id).await? {
        if let Some(t) = state.store.ticket(id).await? {
            tickets.push(TicketRef { id, number: t.number });
        }
    }
    Ok(CallView {
        wait_secs: call.wait().map(|d| d.num_seconds()),
        talk_secs: call.talk().map(|d| d.num_seconds()),
        call,
        tickets,
    })
}

/// One call record: its timeline (rings, answer, transfers, hang-up and cause), recording and
/// the tickets logged during it (centre roles).
#[utoipa::path(get, path = "/api/v1/cti/calls/{call_id}", tag = "cti", security(("bearer" = [])),
    params(("call_id" = String, Path)), responses((status = 200, body = CallView), (status = 404, body = ErrorBody)))]
pub async fn get_call(
    State(state): State<AppState>,
    auth: Auth,
    ApiPath(call_id): ApiPath<String>,
) -> Result<Json<CallView>, ApiError> {
    auth.require(CENTRE)?;
    let call = state.store.call(&call_id).await?.ok_or_else(|| ApiError::not_found("call"))?;
    Ok(Json(call_view(&state, call).await?))
}

#[derive(Deserialize, IntoParams)]
#[into_params(parameter_in = Query)]
pub struct DayParams {
    /// A day in Beijing time (`2026-12-03`); today when left out.
    pub date: Option<String>,
}

/// The `date` filter of a day's figures (checked like every query: unknown keys and empty values refused).
fn day_param(q: &std::collections::HashMap<String, String>) -> Result<Option<&str>, ApiError> {
    reject_unknown(q, &["date"])?;
    given(q, "date")
}

fn day_range(state: &AppState, date: Option<&str>) -> Result<(DateTime<Utc>, DateTime<Utc>), ApiError> {
    let offset = crate::domain::calendar::china_offset();
    let day = match date {
        Some(d) => NaiveDate::parse_from_str(d.trim(), "%Y-%m-%d")
            .map_err(|_| ApiError::bad_request("date", format!("{d:?} is not a date like 2026-12-03")))?,
        None => state.store.now().with_timezone(&offset).date_naive(),
    };
    let from = day
        .and_hms_opt(0, 0, 0)
        .and_then(|t| t.and_local_timezone(offset).single())
        .ok_or_else(|| ApiError::bad_request("date", "not a day"))?
        .with_timezone(&Utc);
    Ok((from, from + Duration::days(1)))
}

#[derive(Serialize, ToSchema)]
pub struct CallList {
    pub calls: Vec<CallView>,
}

/// The calls of one day (Beijing time), oldest first (centre roles).
#[utoipa::path(get, path = "/api/v1/cti/calls", tag = "cti", security(("bearer" = [])), params(DayParams),
    responses((status = 200, body = CallList), (status = 400, body = ErrorBody)))]
pub async fn list_calls(
    State(state): State<AppState>,
    auth: Auth,
    ApiQuery(q): ApiQuery,
) -> Result<Json<CallList>, ApiError> {
    auth.require(CENTRE)?;
    let (from, to) = day_range(&state, day_param(&q)?)?;
    let mut calls = Vec::new();
    for call in state.store.calls_between(from, to, 5000).await? {
        calls.push(call_view(&state, call).await?);
    }
    Ok(Json(CallList { calls }))
}

/// The calls a ticket was logged during, each with its recording link (centre roles: a
/// department never learns of the call).
#[utoipa::path(get, path = "/api/v1/tickets/{id}/calls", tag = "cti", security(("bearer" = [])),
    params(("id" = String, Path, description = "ticket id or number")),
    responses((status = 200, body = CallList), (status = 404, body = ErrorBody)))]
pub async fn ticket_calls(
    State(state): State<AppState>,
    auth: Auth,
    ApiPath(id): ApiPath<String>,
) -> Result<Json<CallList>, ApiError> {
    auth.require(CENTRE)?;
    let id = resolve_id(&state, &id).await?;
    visible_ticket(&state, &auth, id).await?;
    let mut calls = Vec::new();
    for call in state.store.ticket_calls(id).await? {
        calls.push(call_view(&state, call).await?);
    }
    Ok(Json(CallList { calls }))
}

/// Checks a ticket's `call_id` (422 naming it when there is no such call).
pub async fn call_for_ticket(state: &AppState, call_id: Option<&str>) -> Result<Option<String>, ApiError> {
    let Some(id) = call_id.map(str::trim) else { return Ok(None) };
    match state.store.call(id).await? {
        Some(_) => Ok(Some(id.to_string())),
        None => {
            Err(ApiError::invalid("call_id", format!("there is no call {id:?}; use the call id of the screen-pop")))
        }
    }
}

/// What pops on the operator's console when their phone rings.
#[derive(Serialize, ToSchema)]
pub struct ScreenPop {
    pub call_id: String,
    pub extension: Option<String>,
    pub caller: Option<String>,
    pub dialled: Option<String>,
    pub queue: Option<String>,
    pub rang_at: Option<String>,
    /// Where the call is now (`ringing`, `talking`, `answered`, `abandoned` …): a console that
    /// reconnects is told of rings already over, and need not pop those.
    #[schema(value_type = String)]
    pub outcome: Option<calls::CallOutcome>,
    /// The caller's earlier tickets, newest first (up to 20).
    pub tickets: Vec<TicketView>,
    /// Of those, the ones still open.
    pub open_tickets: Vec<TicketRef>,
    /// 重复来电: called or logged a ticket in the last 24 hours.
    pub repeat_24h: bool,
    /// Earlier calls from the number in the last 24 hours (this one left out).
    pub calls_24h: i64,
    /// Tickets from the number logged in the last 24 hours.
    pub tickets_24h: Vec<TicketRef>,
    /// 保密: at least one of the caller's tickets is confidential — mind what is said to whom.
    pub confidential: bool,
    /// The new-ticket form, already holding the number and the call.
    pub new_ticket: serde_json::Value,
}

/// Builds the screen-pop for a stored `call_ringing` event's data.
pub async fn screen_pop(state: &AppState, actor: &Actor, data: &serde_json::Value) -> Result<ScreenPop, StoreError> {
    let call_id = data["call_id"].as_str().unwrap_or_default().to_string();
    let caller = data["caller"].as_str().map(String::from);
    let now = state.store.now();
    let since = now - Duration::hours(24);
    let callable = caller.as_deref().filter(|c| *c != calls::ANONYMOUS);
    let tickets = match callable {
        Some(phone) => {
            let filter = TicketFilter { caller_phone: Some(phone.to_string()), limit: 20, ..TicketFilter::default() };
            state.store.list_tickets(&filter, now).await?.tickets
        }
        None => Vec::new(),
    };
    let earlier_calls = match callable {
        Some(phone) => {
            state.store.calls_from(phone, since, 50).await?.iter().filter(|c| c.call_id != call_id).count() as i64
        }
        None => 0,
    };
    let call = state.store.call(&call_id).await?;
    let catalog = state.catalog();
    let tickets_24h: Vec<TicketRef> = tickets
        .iter()
        .filter(|t| t.created_at >= since)
        .map(|t| TicketRef { id: t.id, number: t.number.clone() })
        .collect();
    Ok(ScreenPop {
        extension: data["extension"].as_str().map(String::from),
        dialled: data["dialled"].as_str().map(String::from),
        queue: data["queue"].as_str().map(String::from),
        rang_at: data["rang_at"].as_str().map(String::from),
        outcome: call.map(|c| c.outcome),
        open_tickets: tickets
            .iter()
            .filter(|t| t.status.is_open())
            .map(|t| TicketRef { id: t.id, number: t.number.clone() })
            .collect(),
        repeat_24h: earlier_calls > 0 || !tickets_24h.is_empty(),
        calls_24h: earlier_calls,
        tickets_24h,
        confidential: tickets.iter().any(|t| t.confidential),
        new_ticket: serde_json::json!({"caller_phone": callable, "channel": "phone", "call_id": call_id}),
        tickets: tickets.iter().map(|t| ticket_view(t, actor, &catalog, now)).collect(),
        caller,
        call_id,
    })
}

/// The screen-pop of a call, as the live socket sent it (the operator it rang for, or the
/// wall's roles): for a console that opened after the ring.
#[utoipa::path(get, path = "/api/v1/cti/calls/{call_id}/pop", tag = "cti", security(("bearer" = [])),
    params(("call_id" = String, Path)), responses((status = 200, body = ScreenPop), (status = 404, body = ErrorBody)))]
pub async fn call_pop(
    State(state): State<AppState>,
    auth: Auth,
    ApiPath(call_id): ApiPath<String>,
) -> Result<Json<ScreenPop>, ApiError> {
    auth.require(CENTRE)?;
    let call = state.store.call(&call_id).await?.ok_or_else(|| ApiError::not_found("call"))?;
    let ring = call.rings.last();
    let data = serde_json::json!({
        "call_id": call.call_id,
        "caller": call.caller,
        "dialled": call.dialled,
        "queue": call.queue,
        "extension": ring.map(|r| r.extension.clone()),
        "rang_at": ring.map(|r| r.at),
    });
    Ok(Json(screen_pop(&state, &auth.actor, &data).await?))
}

/// A missed-call entry with how many times the number called today.
#[derive(Serialize, ToSchema)]
pub struct MissedView {
    #[serde(flatten)]
    pub entry: MissedCall,
    /// Calls from the number today (Beijing time), answered or not.
    pub calls_today: i64,
}

#[derive(Deserialize, IntoParams)]
#[into_params(parameter_in = Query)]
pub struct MissedParams {
    /// `true`: the latest closed entries instead of the open ones.
    pub closed: Option<bool>,
}

#[derive(Serialize, ToSchema)]
pub struct MissedList {
    pub missed: Vec<MissedView>,
}

/// 漏接回拨: numbers whose calls ended unanswered, one entry per number, longest waiting first.
#[utoipa::path(get, path = "/api/v1/cti/missed", tag = "cti", security(("bearer" = [])), params(MissedParams),
    responses((status = 200, body = MissedList), (status = 403, body = ErrorBody)))]
pub async fn missed_list(
    State(state): State<AppState>,
    auth: Auth,
    ApiQuery(q): ApiQuery,
) -> Result<Json<MissedList>, ApiError> {
    auth.require(CENTRE)?;
    let (today, _) = day_range(&state, None)?;
    let mut missed = Vec::new();
    reject_unknown(&q, &["closed"])?;
    let closed = match given(&q, "closed")? {
        None | Some("false") => false,
        Some("true") => true,
        Some(_) => return Err(ApiError::bad_request("closed", "closed: true or false")),
    };
    for entry in state.store.missed_calls(closed, 500).await? {
        let calls_today = state.store.calls_count_since(&entry.caller, today).await?;
        missed.push(MissedView { entry, calls_today });
    }
    Ok(Json(MissedList { missed }))
}

/// 认领: take a missed call to call back (one operator at a time, for 10 minutes).
#[utoipa::path(post, path = "/api/v1/cti/missed/{id}/claim", tag = "cti", security(("bearer" = [])),
    params(("id" = i64, Path)), responses((status = 200, body = MissedCall), (status = 404, body = ErrorBody), (status = 409, body = ErrorBody)))]
pub async fn claim_missed(
    State(state): State<AppState>,
    auth: Auth,
    ApiPath(id): ApiPath<i64>,
) -> Result<Json<MissedCall>, ApiError> {
    auth.require(INTAKE_ROLES)?;
    let username = auth.actor.username.clone();
    let entry = state
        .store
        .change_missed(id, |e, now| missed::claim(e, &username, now))
        .await
        .map_err(|e| not_found(e, "missed call"))?
        .map_err(missed_error)?;
    Ok(Json(entry))
}

#[derive(Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct CallBackReport {
    /// `reached`, `no_answer`, `busy` or `wrong_number`.
    pub outcome: CallBackOutcome,
    pub note: Option<String>,
}

/// Records a call-back attempt on a claimed missed call.
#[utoipa::path(post, path = "/api/v1/cti/missed/{id}/outcome", tag = "cti", security(("bearer" = [])),
    params(("id" = i64, Path)), request_body = CallBackReport,
    responses((status = 200, body = MissedCall), (status = 404, body = ErrorBody), (status = 409, body = ErrorBody)))]
pub async fn missed_outcome(
    State(state): State<AppState>,
    auth: Auth,
    ApiPath(id): ApiPath<i64>,
    ApiJson(body): ApiJson<CallBackReport>,
) -> Result<Json<MissedCall>, ApiError> {
    auth.require(INTAKE_ROLES)?;
    if body.note.as_ref().is_some_and(|n| n.chars().count() > 500) {
        return Err(ApiError::invalid("note", "at most 500 characters"));
    }
    let username = auth.actor.username.clone();
    let entry = state
        .store
        .change_missed(id, |e, now| missed::record(e, &username, body.outcome, body.note.clone(), now))
        .await
        .map_err(|e| not_found(e, "missed call"))?
        .map_err(missed_error)?;
    Ok(Json(entry))
}

/// Call statistics of one day (Beijing time): offered, answered, abandoned, 15秒接通率,
/// average wait, talk and handling time; per hour and per operator. Every formula:
/// `domain::cti::stats`.
#[utoipa::path(get, path = "/api/v1/cti/stats", tag = "cti", security(("bearer" = [])), params(DayParams),
    responses((status = 200, body = CallStats), (status = 400, body = ErrorBody)))]
pub async fn call_stats(
    State(state): State<AppState>,
    auth: Auth,
    ApiQuery(q): ApiQuery,
) -> Result<Json<CallStats>, ApiError> {
    auth.require(CENTRE)?;
    let (from, to) = day_range(&state, day_param(&q)?)?;
    let calls = state.store.calls_between(from, to, 1_000_000).await?;
    Ok(Json(stats::compute(&calls, from, to, Duration::seconds(state.config.cti_wrap_up_secs))))
}
