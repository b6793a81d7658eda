//! Ticket endpoints: create, read, list, history, caller history, and one endpoint per
//! lifecycle transition. Each handler extracts, calls one store function with a domain
//! decision, and maps the result.

use super::auth::Auth;
use super::error::{ApiError, ErrorBody};
use super::input::{ApiPath, ApiQuery};
use super::json::ApiJson;
use super::views::{event_view, ticket_view, EventView, TicketView};
use super::AppState;
use crate::domain::emergency::{self, EmergencyChoice};
use crate::domain::event::Received;
use crate::domain::intake::{self, NewTicket};
use crate::domain::lifecycle::{self, Assignment, CallbackReport, Command};
use crate::domain::rules::Routing;
use crate::domain::types::{CallbackFailure, Channel, Kind, Outcome, Role, Satisfaction, Solved, Status, Urgency};
use crate::store::intake::{FollowUp, NewTicket as IntakeTicket};
use crate::store::{actor_ref, TicketFilter};
use axum::extract::State;
use axum::http::StatusCode;
use axum::Json;
use chrono::{DateTime, NaiveDate, Utc};
use serde::{Deserialize, Serialize};
use std::collections::HashMap;
use utoipa::{IntoParams, ToSchema};

pub(super) const INTAKE_ROLES: &[Role] = &[Role::Operator, Role::Dispatcher, Role::Supervisor];

#[derive(Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct CreateTicket {
    pub kind: Kind,
    #[serde(default = "default_channel")]
    pub channel: Channel,
    #[serde(default = "default_urgency")]
    pub urgency: Urgency,
    /// A leaf of the category taxonomy, e.g. `03.02.01`.
    pub category: String,
    pub street: Option<String>,
    pub community: Option<String>,
    #[serde(default)]
    #[schema(max_length = 200)]
    pub address: String,
    /// What the resident asks, up to 4000 characters.
    #[schema(max_length = 4000)]
    pub content: String,
    #[serde(default)]
    #[schema(max_length = 50)]
    pub caller_name: String,
    /// A mainland mobile (13812345678), a landline with its area code (010-12345678) or a
    /// 5–6 digit service number.
    #[schema(pattern = r"^\s*(1[3-9][0-9]{9}|0[0-9]{2,3}-[0-9]{7,8}|0[0-9]{9,11}|[0-9]{5,6})\s*$")]
    pub caller_phone: String,
    #[serde(default)]
    pub confidential: bool,
    #[serde(default = "yes")]
    pub callback_consent: bool,
    /// Dispatch by hand in the same request, instead of by the rules.
    pub dispatch: Option<DispatchBody>,
    /// Resolve directly in the same request (直接办结), instead of dispatching.
    pub resolve: Option<ResolveBody>,
    /// `false` leaves the ticket in the dispatchers' queue without asking the rules.
    #[serde(default = "yes")]
    pub route: bool,
    /// The call (CTI call id, from the screen-pop) the ticket is logged during: links the two.
    pub call_id: Option<String>,
    /// The category suggestions the operator was shown (`POST /api/v1/tickets/suggest`), so
    /// that intake counts whether one was taken.
    pub suggestion: Option<super::suggest::SuggestionShown>,
    /// The operator's answer to the preview's 可能紧急 proposal: `confirm` (urgent, with the
    /// proposing rule), `dismiss` (routed without the emergency rules) or `hand_off` (转接
    /// 119/110/120, closed as 转办). Left out while a rule proposes: the ticket waits for the
    /// dispatchers. Refused (422) when no emergency rule proposed anything.
    pub emergency: Option<crate::domain::emergency::EmergencyChoice>,
}

fn default_channel() -> Channel {
    Channel::Phone
}
fn default_urgency() -> Urgency {
    Urgency::Normal
}
fn yes() -> bool {
    true
}

#[derive(Deserialize, ToSchema, Clone)]
#[serde(deny_unknown_fields)]
pub struct DispatchBody {
    /// Lead department code (主办).
    pub lead: String,
    /// Assisting department codes (协办).
    #[serde(default)]
    pub assists: Vec<String>,
    /// SLA policy name; the default policy when omitted.
    pub policy: Option<String>,
    pub note: Option<String>,
}

impl From<DispatchBody> for Assignment {
    fn from(b: DispatchBody) -> Self {
        Assignment {
            lead: b.lead,
            assists: b.assists,
            policy: b.policy,
            note: b.note,
            rule_id: None,
            rules_version: None,
        }
    }
}

/// 改派: where to, as for a dispatch, and optionally the category corrected on the way.
#[derive(Deserialize, ToSchema, Clone)]
#[serde(deny_unknown_fields)]
pub struct RedispatchBody {
    /// Lead department code (主办).
    pub lead: String,
    /// Assisting department codes (协办).
    #[serde(default)]
    pub assists: Vec<String>,
    /// SLA policy name; the ticket's own when omitted.
    pub policy: Option<String>,
    pub note: Option<String>,
    /// The corrected category (a leaf code, e.g. 04.01.01), when the ticket was filed under
    /// the wrong one; omitted or the same: unchanged.
    pub category: Option<String>,
}

#[derive(Serialize, ToSchema)]
pub struct CreatedTicket {
    #[serde(flatten)]
    pub ticket: TicketView,
    /// Where the dispatch rules sent it and by which rule, or why it waits for manual
    /// dispatch (人工派单). Absent when the request dispatched it by hand.
    #[schema(value_type = Option<Object>)]
    pub routing: Option<Routing>,
    /// The routing rule's description, in words for the operator.
    pub routing_rule: Option<String>,
}

/// Log a new ticket (受理). Unless the request dispatches it by hand, the dispatch rules route
/// it in the same request; the answer says where it went and why.
#[utoipa::path(post, path = "/api/v1/tickets", tag = "tickets", security(("bearer" = [])), request_body = CreateTicket,
    responses((status = 201, body = CreatedTicket), (status = 400, body = ErrorBody), (status = 422, body = ErrorBody)))]
pub async fn create_ticket(
    State(state): State<AppState>,
    auth: Auth,
    ApiJson(body): ApiJson<CreateTicket>,
) -> Result<(StatusCode, Json<CreatedTicket>), ApiError> {
    auth.require(INTAKE_ROLES)?;
    let catalog = state.catalog();
    let draft = intake::validate(
        NewTicket {
            kind: body.kind,
            channel: body.channel,
            urgency: body.urgency,
            category: body.category,
            street: body.street,
            community: body.community,
            address: body.address,
            content: body.content,
            caller_name: body.caller_name,
            caller_phone: body.caller_phone,
            confidential: body.confidential,
            callback_consent: body.callback_consent,
            call_id: super::cti::call_for_ticket(&state, body.call_id.as_deref()).await?,
        },
        &catalog.district,
    )?;
    if body.dispatch.is_some() && body.resolve.is_some() {
        return Err(ApiError::invalid("resolve", "a ticket is either dispatched or resolved directly, not both"));
    }
    if let Some(r) = &body.resolve {
        super::kb::check_article(&state, r.article_id).await?;
    }
    if let Some(shown) = &body.suggestion {
        shown.validate(&catalog.district)?;
    }
    let chosen = draft.category.clone();
    let call_id = draft.call_id.clone();
    let created =
        log_ticket(&state, &auth.actor, draft, body.dispatch, body.resolve, body.route, body.emergency).await?;
    if let Some(shown) = &body.suggestion {
        super::suggest::record_shown(&state, created.ticket.ticket.id, &chosen, shown).await;
    }
    if let Some(call_id) = call_id {
        // After the ticket's commit: the received event already names the call, so a link
        // lost here is recoverable from the log; the table is what lookups use.
        state.store.link_call_ticket(&call_id, created.ticket.ticket.id).await?;
    }
    Ok((StatusCode::CREATED, Json(created)))
}

/// Logs a checked draft through the intake queue (calls logged at the same moment are
/// committed together): dispatched by hand, resolved directly, or routed by the rules unless
/// `route` is false. The public form (网上诉求) comes the same road.
pub(super) async fn log_ticket(
    state: &AppState,
    actor: &lifecycle::Actor,
    draft: NewTicket,
    dispatch: Option<DispatchBody>,
    resolve: Option<ResolveBody>,
    route: bool,
    emergency: Option<EmergencyChoice>,
) -> Result<CreatedTicket, ApiError> {
    log_with(state, actor, draft, Logging { dispatch, resolve, route, emergency, also: Vec::new() }).await
}

/// A request from outside (Open311) routed by the rules like the public form's, with events
/// of its own (who filed it) written in the same transaction, right after `received`.
pub(super) async fn log_filed(
    state: &AppState,
    actor: &lifecycle::Actor,
    draft: NewTicket,
    also: Vec<crate::domain::event::EventKind>,
) -> Result<CreatedTicket, ApiError> {
    log_with(state, actor, draft, Logging { dispatch: None, resolve: None, route: true, emergency: None, also }).await
}

/// How a new ticket is logged.
struct Logging {
    dispatch: Option<DispatchBody>,
    resolve: Option<ResolveBody>,
    route: bool,
    emergency: Option<EmergencyChoice>,
    /// Events recorded with the ticket before anything is decided about it.
    also: Vec<crate::domain::event::EventKind>,
}

async fn log_with(
    state: &AppState,
    actor: &lifecycle::Actor,
    mut draft: NewTicket,
    Logging { dispatch, resolve, route, emergency, also }: Logging,
) -> Result<CreatedTicket, ApiError> {
    let catalog = state.catalog();
    let now = state.store.now();
    let mut routing = match (&dispatch, &resolve, route) {
        (None, None, true) => Some(catalog.rules.route(&catalog.routing_input(&draft, now), &catalog.district)),
        _ => None,
    };
    // An emergency rule proposes; the operator's choice (or its absence) decides.
    let proposing = routing.as_ref().and_then(|r| r.decision());
    let plan = emergency::plan(
        proposing.map(|d| d.rule_id.as_str()),
        proposing.and_then(|d| d.emergency.as_deref()),
        emergency,
    )
    .map_err(|e| ApiError::invalid("emergency", e.0))?;
    if plan.reroute {
        routing = Some(catalog.rules.route_dismissed(&catalog.routing_input(&draft, now), &catalog.district));
    }
    if plan.urgent {
        draft.urgency = crate::domain::types::Urgency::Urgent;
    }
    let dispatch = match (dispatch, &routing) {
        (Some(manual), _) => Some(Assignment::from(manual)),
        (None, Some(Routing::Routed(d))) if plan.dispatch => {
            Some(intake::follow_routing(&mut draft, d, catalog.rules.version()))
        }
        (None, _) => None,
    };
    let hand_off = plan.hand_off.map(|to| Command::HandOff {
        to,
        label: routing.as_ref().and_then(|r| r.decision()).and_then(|d| d.emergency.as_ref()).map(|p| p.label.clone()),
    });
    let record = plan.record;
    let follow_catalog = catalog.clone();
    let follow_actor = actor.clone();
    let then: FollowUp = Box::new(move |ticket, now| {
        let mut events: Vec<crate::domain::event::EventKind> = also;
        events.extend(record);
        let command = match (hand_off, dispatch, resolve) {
            (Some(h), _, _) => h,
            (None, Some(a), _) => Command::Dispatch(a),
            (None, None, Some(r)) => Command::ResolveDirectly {
                answer: r.answer,
                callback_consent: r.callback_consent,
                article_id: r.article_id,
            },
            (None, None, None) => return Ok(events),
        };
        let ticket = crate::domain::ticket::preview(ticket, &events, now);
        events.extend(lifecycle::decide(&ticket, &command, &follow_catalog.context(&follow_actor, now))?);
        Ok(events)
    });
    let change = state
        .intake()
        .create(IntakeTicket { actor: actor_ref(actor), received: received(String::new(), draft), then })
        .await?;
    state.publish(&change);
    let routing_rule = routing
        .as_ref()
        .and_then(|r| r.decision())
        .and_then(|d| catalog.rules.rule(&d.rule_id))
        .map(|r| r.description.clone());
    Ok(CreatedTicket { ticket: ticket_view(&change.ticket, actor, &catalog, state.store.now()), routing, routing_rule })
}

fn received(number: String, t: NewTicket) -> Received {
    Received {
        number,
        kind: t.kind,
        channel: t.channel,
        urgency: t.urgency,
        category: t.category,
        street: t.street,
        community: t.community,
        address: t.address,
        content: t.content,
        caller_name: t.caller_name,
        caller_phone: t.caller_phone,
        confidential: t.confidential,
        callback_consent: t.callback_consent,
        call_id: t.call_id,
    }
}

/// A ticket is named by its id (`123`) or its number (`20261122-000123`).
pub(super) async fn resolve_id(state: &AppState, reference: &str) -> Result<i64, ApiError> {
    if let Ok(id) = reference.parse::<i64>() {
        return Ok(id);
    }
    if reference.len() == 15 && reference.as_bytes()[8] == b'-' {
        return state.store.ticket_id_by_number(reference).await?.ok_or_else(|| ApiError::not_found("ticket"));
    }
    Err(ApiError::bad_request(
        "id",
        format!("\"{reference}\" is neither a ticket id nor a ticket number like 20261122-000123"),
    ))
}

/// The ticket, if this user may see it; otherwise 404, as if it did not exist.
pub(super) async fn visible_ticket(
    state: &AppState,
    auth: &Auth,
    id: i64,
) -> Result<crate::domain::ticket::Ticket, ApiError> {
    state.store.ticket(id).await?.filter(|t| auth.actor.can_see(t)).ok_or_else(|| ApiError::not_found("ticket"))
}

/// Publishes both halves of a merge (or of its undoing) and shows them.
pub(super) fn merge_result(
    state: &AppState,
    auth: &Auth,
    catalog: &crate::catalog::Catalog,
    (a, b): (crate::store::Change, crate::store::Change),
) -> Json<MergeResult> {
    state.publish(&a);
    state.publish(&b);
    let now = state.store.now();
    Json(MergeResult {
        merged: ticket_view(&a.ticket, &auth.actor, catalog, now),
        into: ticket_view(&b.ticket, &auth.actor, catalog, now),
    })
}

/// One ticket.
#[utoipa::path(get, path = "/api/v1/tickets/{id}", tag = "tickets", security(("bearer" = [])),
    params(("id" = String, Path, description = "ticket id or number")),
    responses((status = 200, body = TicketView), (status = 404, body = ErrorBody)))]
pub async fn get_ticket(
    State(state): State<AppState>,
    auth: Auth,
    ApiPath(id): ApiPath<String>,
) -> Result<Json<TicketView>, ApiError> {
    let id = resolve_id(&state, &id).await?;
    let ticket = visible_ticket(&state, &auth, id).await?;
    Ok(Json(ticket_view(&ticket, &auth.actor, &state.catalog(), state.store.now())))
}

/// A ticket's full history, oldest first.
#[utoipa::path(get, path = "/api/v1/tickets/{id}/events", tag = "tickets", security(("bearer" = [])),
    params(("id" = String, Path, description = "ticket id or number")),
    responses((status = 200, body = Vec<EventView>), (status = 404, body = ErrorBody)))]
pub async fn ticket_events(
    State(state): State<AppState>,
    auth: Auth,
    ApiPath(id): ApiPath<String>,
) -> Result<Json<Vec<EventView>>, ApiError> {
    let id = resolve_id(&state, &id).await?;
    let ticket = visible_ticket(&state, &auth, id).await?;
    let masked = !auth.actor.sees_caller(&ticket);
    let events = state.store.ticket_events(id).await?;
    Ok(Json(events.iter().map(|e| event_view(e, masked)).collect()))
}

#[derive(Deserialize, IntoParams)]
#[into_params(parameter_in = Query)]
#[allow(dead_code)]
pub struct ListParams {
    /// Comma-separated statuses, e.g. `dispatched,accepted`.
    status: Option<String>,
    /// A department code; includes its sub-units.
    department: Option<String>,
    street: Option<String>,
    /// A category code or prefix.
    category: Option<String>,
    kind: Option<Kind>,
    urgency: Option<Urgency>,
    /// RFC 3339 instant or a date (Beijing time).
    created_from: Option<String>,
    created_to: Option<String>,
    overdue: Option<bool>,
    /// From the previous page's `next_cursor`.
    cursor: Option<String>,
    /// 1–500, default 50.
    #[param(minimum = 1, maximum = 500)]
    limit: Option<i64>,
}

#[derive(Serialize, ToSchema)]
pub struct TicketList {
    pub tickets: Vec<TicketView>,
    pub next_cursor: Option<String>,
}

pub(super) fn parse_param<T: std::str::FromStr<Err = String>>(
    q: &HashMap<String, String>,
    key: &str,
) -> Result<Option<T>, ApiError> {
    given(q, key)?.map(|v| v.parse::<T>().map_err(|e| ApiError::bad_request(key, format!("{key}: {e}")))).transpose()
}

/// A parameter's value; `key=` with nothing after it is refused rather than read as absent,
/// so a form that lost its value is told so instead of quietly filtering nothing.
pub(super) fn given<'a>(q: &'a HashMap<String, String>, key: &str) -> Result<Option<&'a str>, ApiError> {
    match q.get(key).map(String::as_str) {
        Some("") => Err(ApiError::bad_request(key, format!("{key}: empty; give a value or leave {key} out"))),
        other => Ok(other),
    }
}

pub(super) fn parse_time(q: &HashMap<String, String>, key: &str) -> Result<Option<DateTime<Utc>>, ApiError> {
    let Some(v) = given(q, key)? else { return Ok(None) };
    if let Ok(t) = DateTime::parse_from_rfc3339(v) {
        return Ok(Some(t.with_timezone(&Utc)));
    }
    if let Ok(d) = NaiveDate::parse_from_str(v, "%Y-%m-%d") {
        let local = d.and_hms_opt(0, 0, 0).expect("midnight exists") - chrono::Duration::hours(8);
        return Ok(Some(local.and_utc()));
    }
    Err(ApiError::bad_request(key, format!("{key}: \"{v}\" is neither an RFC 3339 instant nor a date like 2026-11-22")))
}

pub(super) fn parse_bool(q: &HashMap<String, String>, key: &str) -> Result<Option<bool>, ApiError> {
    match given(q, key)? {
        None => Ok(None),
        Some("true") | Some("1") => Ok(Some(true)),
        Some("false") | Some("0") => Ok(Some(false)),
        Some(other) => Err(ApiError::bad_request(key, format!("{key}: \"{other}\" is not true or false"))),
    }
}

/// A query parameter nobody reads is a mistake worth naming (a typo filters nothing).
pub(super) fn reject_unknown(q: &HashMap<String, String>, known: &[&str]) -> Result<(), ApiError> {
    match q.keys().find(|k| !known.contains(&k.as_str())) {
        Some(unknown) => Err(ApiError::bad_request(
            unknown.clone(),
            format!("unknown filter \"{unknown}\"; known: {}", known.join(", ")),
        )),
        None => Ok(()),
    }
}

/// `status=a,b`: the statuses asked for; none means all.
pub(super) fn parse_statuses(q: &HashMap<String, String>) -> Result<Vec<Status>, ApiError> {
    match q.get("status").filter(|s| !s.is_empty()) {
        Some(list) => list
            .split(',')
            .map(|s| s.trim().parse::<Status>().map_err(|e| ApiError::bad_request("status", format!("status: {e}"))))
            .collect(),
        None => Ok(Vec::new()),
    }
}

/// The units whose tickets a list or search may return: the `department` asked for (with its
/// sub-units), narrowed for a department user to its own units; `None` is every unit.
pub(super) fn scoped_departments(
    auth: &Auth,
    q: &HashMap<String, String>,
    catalog: &crate::catalog::Catalog,
) -> Result<Option<Vec<String>>, ApiError> {
    let requested: Option<Vec<String>> = match q.get("department").filter(|s| !s.is_empty()) {
        Some(code) => {
            if catalog.district.department(code).is_none() {
                return Err(ApiError::bad_request("department", format!("department: unknown department \"{code}\"")));
            }
            Some(catalog.district.descendants(code).into_iter().map(String::from).collect())
        }
        None => None,
    };
    Ok(if auth.actor.is_department() {
        let own = auth.actor.units.clone();
        Some(match requested {
            Some(r) => r.into_iter().filter(|u| own.contains(u)).collect(),
            None => own,
        })
    } else {
        requested
    })
}

const LIST_KEYS: &[&str] = &[
    "status",
    "department",
    "street",
    "category",
    "kind",
    "urgency",
    "created_from",
    "created_to",
    "overdue",
    "cursor",
    "limit",
];

/// List tickets, newest first, with filters and cursor pagination. Departments see only
/// tickets assigned to their unit or its sub-units.
#[utoipa::path(get, path = "/api/v1/tickets", tag = "tickets", security(("bearer" = [])), params(ListParams),
    responses((status = 200, body = TicketList), (status = 400, body = ErrorBody)))]
pub async fn list_tickets(
    State(state): State<AppState>,
    auth: Auth,
    ApiQuery(q): ApiQuery,
) -> Result<Json<TicketList>, ApiError> {
    reject_unknown(&q, LIST_KEYS)?;
    let catalog = state.catalog();
    let statuses = parse_statuses(&q)?;
    let departments = scoped_departments(&auth, &q, &catalog)?;
    let before_id = match given(&q, "cursor")? {
        Some(c) => Some(
            c.parse::<i64>()
                .map_err(|_| ApiError::bad_request("cursor", "cursor: use next_cursor from the previous page"))?,
        ),
        None => None,
    };
    let limit = match given(&q, "limit")? {
        Some(l) => match l.parse::<i64>() {
            Ok(n) if (1..=500).contains(&n) => n,
            _ => return Err(ApiError::bad_request("limit", "limit: a whole number from 1 to 500")),
        },
        None => 50,
    };
    let filter = TicketFilter {
        statuses,
        departments,
        street: q.get("street").filter(|s| !s.is_empty()).cloned(),
        category: q.get("category").filter(|s| !s.is_empty()).cloned(),
        kind: parse_param(&q, "kind")?,
        urgency: parse_param(&q, "urgency")?,
        created_from: parse_time(&q, "created_from")?,
        created_to: parse_time(&q, "created_to")?,
        overdue: parse_bool(&q, "overdue")?,
        caller_phone: None,
        before_id,
        limit,
        ..TicketFilter::default()
    };
    let now = state.store.now();
    let page = state.store.list_tickets(&filter, now).await?;
    Ok(Json(TicketList {
        tickets: page.tickets.iter().map(|t| ticket_view(t, &auth.actor, &catalog, now)).collect(),
        next_cursor: page.next_cursor.map(|c| c.to_string()),
    }))
}

/// A caller's earlier tickets, newest first (operators, dispatchers, supervisors).
#[utoipa::path(get, path = "/api/v1/callers/{phone}/tickets", tag = "tickets", security(("bearer" = [])),
    params(("phone" = String, Path, description = "the caller's phone number")),
    responses((status = 200, body = TicketList), (status = 403, body = ErrorBody)))]
pub async fn caller_history(
    State(state): State<AppState>,
    auth: Auth,
    ApiPath(phone): ApiPath<String>,
) -> Result<Json<TicketList>, ApiError> {
    auth.require(INTAKE_ROLES)?;
    crate::domain::privacy::validate_phone(&phone).map_err(|m| ApiError::bad_request("phone", m))?;
    let filter = TicketFilter { caller_phone: Some(phone.trim().to_string()), limit: 50, ..TicketFilter::default() };
    let now = state.store.now();
    let page = state.store.list_tickets(&filter, now).await?;
    let catalog = state.catalog();
    Ok(Json(TicketList {
        tickets: page.tickets.iter().map(|t| ticket_view(t, &auth.actor, &catalog, now)).collect(),
        next_cursor: None,
    }))
}

/// Runs one lifecycle command on a ticket and answers with the ticket as it now is.
async fn act(state: &AppState, auth: &Auth, id: &str, command: Command) -> Result<Json<TicketView>, ApiError> {
    let id = resolve_id(state, id).await?;
    let catalog = state.catalog();
    let actor = &auth.actor;
    // Tickets merged into this one (并单) follow it: its reply reaches every merged resident.
    let (change, followers) = state
        .store
        .change_ticket_followed(
            id,
            actor,
            |ticket, now| lifecycle::decide(ticket, &command, &catalog.context(actor, now)),
            |follower, origin, events, now| {
                crate::domain::merging::decide_follow(follower, origin, events, &catalog.context(actor, now))
            },
        )
        .await?;
    state.publish(&change);
    for followed in &followers {
        state.publish(followed);
    }
    Ok(Json(ticket_view(&change.ticket, actor, &catalog, state.store.now())))
}

/// Declares one transition endpoint: its path, body, doc line and the command it runs.
macro_rules! transition {
    ($name:ident, $path:literal, $doc:literal, |$b:ident : $body:ty| $command:expr) => {
        #[doc = $doc]
        #[utoipa::path(post, path = $path, tag = "transitions", security(("bearer" = [])), request_body = $body,
            params(("id" = String, Path, description = "ticket id or number")),
            responses((status = 200, body = TicketView), (status = 400, body = ErrorBody), (status = 403, body = ErrorBody),
                (status = 404, body = ErrorBody), (status = 409, body = ErrorBody), (status = 422, body = ErrorBody)))]
        // rustfmt wraps the longer command expressions in braces.
        #[allow(unused_braces)]
        pub async fn $name(
            State(state): State<AppState>,
            auth: Auth,
            ApiPath(id): ApiPath<String>,
            ApiJson($b): ApiJson<$body>,
        ) -> Result<Json<TicketView>, ApiError> {
            act(&state, &auth, &id, $command).await
        }
    };
    ($name:ident, $path:literal, $doc:literal, $command:expr) => {
        #[doc = $doc]
        #[utoipa::path(post, path = $path, tag = "transitions", security(("bearer" = [])),
            params(("id" = String, Path, description = "ticket id or number")),
            responses((status = 200, body = TicketView), (status = 403, body = ErrorBody), (status = 404, body = ErrorBody),
                (status = 409, body = ErrorBody)))]
        pub async fn $name(State(state): State<AppState>, auth: Auth, ApiPath(id): ApiPath<String>) -> Result<Json<TicketView>, ApiError> {
            act(&state, &auth, &id, $command).await
        }
    };
}

#[derive(Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct ResolveBody {
    /// The answer given to the resident.
    pub answer: String,
    /// The resident agrees to a callback.
    #[serde(default = "yes")]
    pub callback_consent: bool,
    /// The knowledge-base article used.
    pub article_id: Option<i64>,
}

#[derive(Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct PassDownBody {
    /// A sub-unit of the lead department.
    pub to: String,
    pub note: Option<String>,
}

#[derive(Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct ReasonBody {
    pub reason: String,
}

#[derive(Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct NoteBody {
    pub note: Option<String>,
}

#[derive(Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct ExtensionBody {
    pub reason: String,
    /// More time, e.g. `3wd` (working days), `8wh` (working hours), `24h`, `2d`.
    pub extra: String,
}

#[derive(Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct DecisionBody {
    pub approve: bool,
    pub note: Option<String>,
}

#[derive(Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct TextBody {
    pub text: String,
}

#[derive(Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct ReplyBody {
    pub outcome: Outcome,
    pub text: String,
}

#[derive(Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct CallbackBody {
    pub reached: bool,
    pub failure: Option<CallbackFailure>,
    pub solved: Option<Solved>,
    pub satisfaction: Option<Satisfaction>,
    pub comment: Option<String>,
}

#[derive(Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct RevealBody {
    pub reason: Option<String>,
}

#[derive(Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct MergeBody {
    /// The open ticket (id or number) this one duplicates.
    pub into: String,
}

/// 直接办结: answer on the spot. A knowledge-base article named must exist and be in force.
#[utoipa::path(post, path = "/api/v1/tickets/{id}/resolve", tag = "transitions", security(("bearer" = [])),
    request_body = ResolveBody, params(("id" = String, Path, description = "ticket id or number")),
    responses((status = 200, body = TicketView), (status = 400, body = ErrorBody), (status = 403, body = ErrorBody),
        (status = 404, body = ErrorBody), (status = 409, body = ErrorBody), (status = 422, body = ErrorBody)))]
pub async fn resolve(
    State(state): State<AppState>,
    auth: Auth,
    ApiPath(id): ApiPath<String>,
    ApiJson(b): ApiJson<ResolveBody>,
) -> Result<Json<TicketView>, ApiError> {
    super::kb::check_article(&state, b.article_id).await?;
    let command =
        Command::ResolveDirectly { answer: b.answer, callback_consent: b.callback_consent, article_id: b.article_id };
    act(&state, &auth, &id, command).await
}
transition!(
    dispatch,
    "/api/v1/tickets/{id}/dispatch",
    "派单: to a lead and optional assisting departments.",
    |b: DispatchBody| { Command::Dispatch(b.into()) }
);
transition!(
    redispatch,
    "/api/v1/tickets/{id}/redispatch",
    "改派: after a return, or by a dispatcher.",
    |b: RedispatchBody| {
        Command::Redispatch {
            to: DispatchBody { lead: b.lead, assists: b.assists, policy: b.policy, note: b.note }.into(),
            category: b.category,
        }
    }
);
transition!(
    pass_down,
    "/api/v1/tickets/{id}/pass-down",
    "二级派单: to a sub-unit of the lead.",
    |b: PassDownBody| { Command::PassDown { to: b.to, note: b.note } }
);
transition!(accept, "/api/v1/tickets/{id}/accept", "签收.", Command::Accept);
transition!(
    contact,
    "/api/v1/tickets/{id}/contact",
    "首次联系: the department reached the resident.",
    |b: NoteBody| { Command::RecordContact { note: b.note } }
);
transition!(return_ticket, "/api/v1/tickets/{id}/return", "退单: not ours, with a reason.", |b: ReasonBody| {
    Command::Return { reason: b.reason }
});
transition!(reject_return, "/api/v1/tickets/{id}/reject-return", "The centre refuses a return.", |b: ReasonBody| {
    Command::RejectReturn { reason: b.reason }
});
transition!(request_extension, "/api/v1/tickets/{id}/request-extension", "申请延期.", |b: ExtensionBody| {
    Command::RequestExtension { reason: b.reason, extra: b.extra }
});
transition!(
    decide_extension,
    "/api/v1/tickets/{id}/decide-extension",
    "Approve or deny an extension.",
    |b: DecisionBody| { Command::DecideExtension { approve: b.approve, note: b.note } }
);
transition!(request_suspension, "/api/v1/tickets/{id}/request-suspension", "申请挂起.", |b: ReasonBody| {
    Command::RequestSuspension { reason: b.reason }
});
transition!(
    decide_suspension,
    "/api/v1/tickets/{id}/decide-suspension",
    "Approve or deny a suspension.",
    |b: DecisionBody| { Command::DecideSuspension { approve: b.approve, note: b.note } }
);
transition!(resume, "/api/v1/tickets/{id}/resume", "End a suspension; the clock runs again.", Command::Resume);
transition!(
    assist_reply,
    "/api/v1/tickets/{id}/assist-reply",
    "An assisting department answers the lead.",
    |b: TextBody| { Command::AssistReply { text: b.text } }
);
transition!(
    waive_assists,
    "/api/v1/tickets/{id}/waive-assists",
    "Let the lead reply without outstanding assists.",
    |b: ReasonBody| { Command::WaiveAssists { reason: b.reason } }
);
transition!(reply, "/api/v1/tickets/{id}/reply", "办结回复: the outcome and what was done.", |b: ReplyBody| {
    Command::Reply { outcome: b.outcome, text: b.text }
});
transition!(callback, "/api/v1/tickets/{id}/callback", "回访: record the resident's answer.", |b: CallbackBody| {
    Command::RecordCallback(CallbackReport {
        reached: b.reached,
        failure: b.failure,
        solved: b.solved,
        satisfaction: b.satisfaction,
        comment: b.comment,
    })
});
transition!(close, "/api/v1/tickets/{id}/close", "归档.", |b: NoteBody| Command::Close { note: b.note });
transition!(reopen, "/api/v1/tickets/{id}/reopen", "重办: back to the same department.", |b: ReasonBody| {
    Command::Reopen { reason: b.reason }
});
transition!(urge, "/api/v1/tickets/{id}/urge", "催办.", |b: NoteBody| Command::Urge { note: b.note });
transition!(supervise, "/api/v1/tickets/{id}/supervise", "督办.", |b: NoteBody| Command::Supervise { note: b.note });

/// Claim a callback: this operator calls the resident now; nobody else may until the claim
/// ends (recorded outcome, or it expires).
#[utoipa::path(post, path = "/api/v1/tickets/{id}/claim-callback", tag = "transitions", security(("bearer" = [])),
    params(("id" = String, Path, description = "ticket id or number")),
    responses((status = 200, body = TicketView), (status = 403, body = ErrorBody), (status = 404, body = ErrorBody),
        (status = 409, body = ErrorBody)))]
pub async fn claim_callback(
    State(state): State<AppState>,
    auth: Auth,
    ApiPath(id): ApiPath<String>,
) -> Result<Json<TicketView>, ApiError> {
    let ticket_id = resolve_id(&state, &id).await?;
    let ticket = visible_ticket(&state, &auth, ticket_id).await?;
    // The same resident may have several tickets waiting: one call at a time.
    let now = state.store.now();
    let busy = crate::live::views::callback_queue(&state).await?.into_iter().find_map(|other| {
        let by = other.callback.as_ref()?.claimed_by_other(&auth.actor.username, now)?.to_string();
        (other.id != ticket_id && other.caller_phone == ticket.caller_phone).then_some((other.number, by))
    });
    if let Some((number, by)) = busy {
        return Err(ApiError::Conflict(format!("{by} is calling this resident now about ticket {number}")));
    }
    act(&state, &auth, &id, Command::ClaimCallback).await
}

#[derive(Serialize, ToSchema)]
pub struct CallbackQueue {
    pub callbacks: Vec<TicketView>,
}

/// 回访 queue: replied tickets still to call back, the earliest callable first.
#[utoipa::path(get, path = "/api/v1/callbacks", tag = "tickets", security(("bearer" = [])),
    responses((status = 200, body = CallbackQueue), (status = 403, body = ErrorBody)))]
pub async fn callback_queue(State(state): State<AppState>, auth: Auth) -> Result<Json<CallbackQueue>, ApiError> {
    auth.require(INTAKE_ROLES)?;
    let catalog = state.catalog();
    let now = state.store.now();
    let queue = crate::live::views::callback_queue(&state).await?;
    Ok(Json(CallbackQueue { callbacks: queue.iter().map(|t| ticket_view(t, &auth.actor, &catalog, now)).collect() }))
}

#[derive(Serialize, ToSchema)]
pub struct Caller {
    pub caller_name: String,
    pub caller_phone: String,
}

#[derive(Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct HandOffBody {
    /// 119 (fire), 110 (police) or 120 (ambulance).
    pub to: String,
    /// What the emergency is (起火 …), as the operator heard it.
    pub label: Option<String>,
}

/// 转接: hand a received call off to 119 / 110 / 120; recorded with the number and the time,
/// and the ticket is closed as 转办.
#[utoipa::path(post, path = "/api/v1/tickets/{id}/hand-off", tag = "transitions", security(("bearer" = [])),
    request_body = HandOffBody, params(("id" = String, Path, description = "ticket id or number")),
    responses((status = 200, body = TicketView), (status = 403, body = ErrorBody), (status = 404, body = ErrorBody),
        (status = 409, body = ErrorBody), (status = 422, body = ErrorBody)))]
pub async fn hand_off(
    State(state): State<AppState>,
    auth: Auth,
    ApiPath(id): ApiPath<String>,
    ApiJson(b): ApiJson<HandOffBody>,
) -> Result<Json<TicketView>, ApiError> {
    let id = resolve_id(&state, &id).await?;
    visible_ticket(&state, &auth, id).await?;
    let catalog = state.catalog();
    let actor = &auth.actor;
    let command = Command::HandOff { to: b.to, label: b.label };
    let change = state
        .store
        .change_ticket(id, actor, |ticket, now| lifecycle::decide(ticket, &command, &catalog.context(actor, now)))
        .await?;
    state.publish(&change);
    Ok(Json(ticket_view(&change.ticket, actor, &catalog, state.store.now())))
}

/// Show a confidential caller to a privileged role; the reveal itself is recorded.
#[utoipa::path(post, path = "/api/v1/tickets/{id}/reveal-caller", tag = "transitions", security(("bearer" = [])),
    request_body = RevealBody, params(("id" = String, Path, description = "ticket id or number")),
    responses((status = 200, body = Caller), (status = 403, body = ErrorBody), (status = 404, body = ErrorBody),
        (status = 422, body = ErrorBody, description = "the caller of this ticket is not confidential")))]
pub async fn reveal_caller(
    State(state): State<AppState>,
    auth: Auth,
    ApiPath(id): ApiPath<String>,
    ApiJson(b): ApiJson<RevealBody>,
) -> Result<Json<Caller>, ApiError> {
    let id = resolve_id(&state, &id).await?;
    let catalog = state.catalog();
    let actor = &auth.actor;
    let command = Command::RevealCaller { reason: b.reason };
    let change = state
        .store
        .change_ticket(id, actor, |ticket, now| lifecycle::decide(ticket, &command, &catalog.context(actor, now)))
        .await?;
    state.publish(&change);
    Ok(Json(Caller { caller_name: change.ticket.caller_name, caller_phone: change.ticket.caller_phone }))
}

#[derive(Serialize, ToSchema)]
pub struct MergeResult {
    pub merged: TicketView,
    pub into: TicketView,
}

/// 合并: this ticket duplicates another open one and will follow it.
#[utoipa::path(post, path = "/api/v1/tickets/{id}/merge", tag = "transitions", security(("bearer" = [])),
    request_body = MergeBody, params(("id" = String, Path, description = "ticket id or number")),
    responses((status = 200, body = MergeResult), (status = 404, body = ErrorBody), (status = 409, body = ErrorBody),
        (status = 422, body = ErrorBody)))]
pub async fn merge(
    State(state): State<AppState>,
    auth: Auth,
    ApiPath(id): ApiPath<String>,
    ApiJson(b): ApiJson<MergeBody>,
) -> Result<Json<MergeResult>, ApiError> {
    let source = resolve_id(&state, &id).await?;
    let target = resolve_id(&state, &b.into).await.map_err(|_| ApiError::invalid("into", "into: no such ticket"))?;
    let catalog = state.catalog();
    let actor = &auth.actor;
    let halves = state
        .store
        .merge_tickets(source, target, actor, |s, t, now| lifecycle::decide_merge(s, t, &catalog.context(actor, now)))
        .await?;
    Ok(merge_result(&state, &auth, &catalog, halves))
}
