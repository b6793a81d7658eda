//! The live boards' contents, computed on the server: the supervisor's wall screen, a
//! department's queue, the operators' queues. Each view carries the event sequence number
//! it reflects; the websocket pushes a new one when events touch it, and
//! `GET /api/v1/dashboard/...` returns the same thing on demand.

use crate::domain::calendar::{china_offset, format_local, DurationUnit, SlaDuration};
use crate::domain::lifecycle::Actor;
use crate::domain::sla::Stage;
use crate::domain::ticket::Ticket;
use crate::domain::types::Status;
use crate::http::views::{ticket_view, TicketView};
use crate::http::AppState;
use crate::store::StoreError;
use chrono::{DateTime, Utc};
use serde::Serialize;
use utoipa::ToSchema;

/// How many tickets a list on a board shows.
const LIST_LIMIT: usize = 50;

#[derive(Serialize, ToSchema, Clone, Debug, PartialEq)]
pub struct Count {
    pub key: String,
    pub label: String,
    pub count: i64,
}

#[derive(Serialize, ToSchema, Clone, Debug, PartialEq)]
pub struct DepartmentFigures {
    pub department: String,
    pub name: String,
    pub open: i64,
    pub overdue: i64,
    /// Share of its open tickets still within the reply deadline.
    pub on_time_share: Option<f64>,
    /// Of its tickets created in the last 30 days, how many it returned (退单).
    pub returned_30d: i64,
    pub tickets_30d: i64,
}

/// One ticket on a deadline list, with the time left in words and the instant.
#[derive(Serialize, ToSchema, Clone, Debug, PartialEq)]
pub struct DueItem {
    pub id: i64,
    pub number: String,
    pub department: Option<String>,
    pub department_name: Option<String>,
    pub category_path: Option<String>,
    /// The reply deadline, RFC 3339 in +08:00.
    pub due_at: String,
    /// The limit's code, e.g. `5wd` (pages translate it).
    pub limit: Option<String>,
    /// E.g. `5个工作日`.
    pub limit_label: Option<String>,
    /// Negative when overdue, in working minutes for working-time limits.
    pub minutes_left: i64,
    pub supervised: bool,
}

#[derive(Serialize, ToSchema, Clone, Debug, PartialEq)]
pub struct Pending {
    pub id: i64,
    pub number: String,
    /// `return`, `extension` or `suspension`.
    pub what: String,
    pub department: Option<String>,
    pub reason: String,
    pub since: DateTime<Utc>,
}

#[derive(Serialize, ToSchema, Clone, Debug, PartialEq)]
pub struct SupervisorView {
    pub seq: i64,
    pub by_status: Vec<Count>,
    pub by_street: Vec<Count>,
    pub departments: Vec<DepartmentFigures>,
    pub overdue: Vec<DueItem>,
    /// Due by the end of the next working day.
    pub near_due: Vec<DueItem>,
    /// Today's intake (Beijing time), tickets per hour 0–23.
    pub intake_by_hour: Vec<i64>,
    pub awaiting_decision: Vec<Pending>,
}

#[derive(Serialize, ToSchema)]
pub struct DepartmentView {
    pub seq: i64,
    pub department: Option<String>,
    /// Its open tickets (and its sub-units'), soonest reply deadline first, with their clocks.
    pub queue: Vec<TicketView>,
}

#[derive(Serialize, ToSchema)]
pub struct OperatorView {
    pub seq: i64,
    /// 人工派单: tickets the rules could not route.
    pub manual_dispatch: Vec<TicketView>,
    /// 回访: replied tickets whose resident agreed to a callback, soonest due first.
    pub callbacks: Vec<TicketView>,
}

fn due_item(state: &AppState, t: &Ticket, now: DateTime<Utc>) -> DueItem {
    let catalog = state.catalog();
    let reply = t.clocks.iter().rfind(|c| c.clock.stage == Stage::Reply && c.department == t.lead);
    DueItem {
        id: t.id,
        number: t.number.clone(),
        department: t.lead.clone(),
        department_name: t.lead.as_deref().and_then(|l| catalog.district.department(l)).map(|d| d.short_name.clone()),
        category_path: catalog.district.category_path(&t.category),
        due_at: t.reply_due_at.map(format_local).unwrap_or_default(),
        limit: reply.map(|c| c.clock.limit.to_string()),
        limit_label: reply.map(|c| c.clock.limit.zh_label()),
        minutes_left: reply.map_or(0, |c| c.clock.time_left(now, &catalog.calendar).num_minutes()),
        supervised: t.supervised,
    }
}

pub async fn supervisor_view(state: &AppState) -> Result<SupervisorView, StoreError> {
    let store = &state.store;
    // The sequence number is read first: the view reflects at least everything up to it.
    let seq = store.last_event_seq().await?;
    let now = store.now();
    let catalog = state.catalog();
    let by_status = store
        .count_by_status()
        .await?
        .into_iter()
        .map(|(status, count)| Count {
            label: status.parse::<Status>().map(|s| s.label().to_string()).unwrap_or_else(|_| status.clone()),
            key: status,
            count,
        })
        .collect();
    let by_street = store
        .open_by_street()
        .await?
        .into_iter()
        .map(|(street, count)| Count {
            label: catalog.district.street(&street).map(|s| s.name.clone()).unwrap_or_else(|| street.clone()),
            key: street,
            count,
        })
        .collect();
    let returns = store.returns_by_department(now - chrono::Duration::days(30)).await?;
    let departments = store
        .department_load(now)
        .await?
        .into_iter()
        .map(|l| {
            let (tickets_30d, returned_30d) =
                returns.iter().find(|(d, _, _)| *d == l.department).map_or((0, 0), |(_, n, r)| (*n, *r));
            DepartmentFigures {
                name: catalog.district.department(&l.department).map_or(l.department.clone(), |d| d.short_name.clone()),
                on_time_share: (l.open > 0).then(|| (l.open - l.overdue) as f64 / l.open as f64),
                department: l.department,
                open: l.open,
                overdue: l.overdue,
                returned_30d,
                tickets_30d,
            }
        })
        .collect();
    let next_working_day_end = catalog.calendar.due(now, SlaDuration { amount: 1, unit: DurationUnit::WorkingDays }).at;
    let due = store.tickets_due_before(next_working_day_end).await?;
    let (overdue, near): (Vec<&Ticket>, Vec<&Ticket>) =
        due.iter().partition(|t| t.reply_due_at.is_some_and(|d| d < now));
    let today = now.with_timezone(&china_offset()).date_naive().and_hms_opt(0, 0, 0).expect("midnight");
    let start = (today - chrono::Duration::hours(8)).and_utc();
    let mut intake_by_hour = vec![0; 24];
    for (hour, n) in store.intake_by_hour(start).await? {
        if let Some(slot) = intake_by_hour.get_mut(hour as usize) {
            *slot = n;
        }
    }
    let awaiting_decision = store
        .awaiting_decision(LIST_LIMIT as i64)
        .await?
        .into_iter()
        .map(|(what, t)| {
            let (department, reason, since) = match what.as_str() {
                "return" => t.return_request.as_ref().map(|r| (r.department.clone(), r.reason.clone(), r.requested_at)),
                "extension" => {
                    t.pending_extension.as_ref().map(|r| (r.department.clone(), r.reason.clone(), r.requested_at))
                }
                _ => t.pending_suspension.as_ref().map(|r| (r.department.clone(), r.reason.clone(), r.requested_at)),
            }
            .map_or((None, String::new(), t.updated_at), |(d, r, s)| (Some(d), r, s));
            Pending { id: t.id, number: t.number.clone(), what, department, reason, since }
        })
        .collect();
    Ok(SupervisorView {
        seq,
        by_status,
        by_street,
        departments,
        overdue: overdue.iter().take(LIST_LIMIT).map(|t| due_item(state, t, now)).collect(),
        near_due: near.iter().take(LIST_LIMIT).map(|t| due_item(state, t, now)).collect(),
        intake_by_hour,
        awaiting_decision,
    })
}

pub async fn department_view(state: &AppState, actor: &Actor) -> Result<DepartmentView, StoreError> {
    let seq = state.store.last_event_seq().await?;
    let now = state.store.now();
    let catalog = state.catalog();
    let queue = state.store.department_queue(&actor.units, 500).await?;
    Ok(DepartmentView {
        seq,
        department: actor.department.clone(),
        queue: queue.iter().map(|t| ticket_view(t, actor, &catalog, now)).collect(),
    })
}

/// 回访 still to make, the earliest callable first (claimed ones included, with their claim).
pub async fn callback_queue(state: &AppState) -> Result<Vec<Ticket>, StoreError> {
    let mut queue: Vec<Ticket> = state
        .store
        .tickets_in_status(Status::Replied.as_str(), 1000)
        .await?
        .into_iter()
        .filter(|t| t.callback.as_ref().is_some_and(|c| !c.unreachable))
        .collect();
    queue.sort_by_key(|t| (t.callback.as_ref().map(|c| c.next_call_at), t.id));
    queue.truncate(200);
    Ok(queue)
}

pub async fn operator_view(state: &AppState, actor: &Actor) -> Result<OperatorView, StoreError> {
    let seq = state.store.last_event_seq().await?;
    let now = state.store.now();
    let catalog = state.catalog();
    let manual = state.store.tickets_in_status(Status::Received.as_str(), 200).await?;
    let callbacks = callback_queue(state).await?;
    Ok(OperatorView {
        seq,
        manual_dispatch: manual.iter().map(|t| ticket_view(t, actor, &catalog, now)).collect(),
        callbacks: callbacks.iter().map(|t| ticket_view(t, actor, &catalog, now)).collect(),
    })
}
