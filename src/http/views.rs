//! What a ticket and its events look like to the person asking: the caller masked for
//! departments on confidential tickets, and every deadline with its unit and exact instant.

use crate::catalog::Catalog;
use crate::domain::event::Event;
use crate::domain::lifecycle::Actor;
use crate::domain::privacy::{mask_name, mask_phone};
use crate::domain::sla::Stage;
use crate::domain::ticket::Ticket;
use chrono::{DateTime, Utc};
use serde::Serialize;
use utoipa::ToSchema;

/// A deadline as shown anywhere: never a bare number of days.
#[derive(Serialize, ToSchema, Debug, Clone)]
pub struct DeadlineView {
    /// The instant, RFC 3339 in Beijing time (+08:00).
    pub at: String,
    /// The policy's duration for this stage, e.g. `5wd`.
    pub duration: Option<String>,
    /// The same in words, e.g. `5个工作日`.
    pub label: Option<String>,
    pub policy: Option<String>,
    pub overdue: bool,
}

#[derive(Serialize, ToSchema)]
pub struct TicketView {
    #[serde(flatten)]
    pub ticket: Ticket,
    /// 状态 in Chinese.
    pub status_label: &'static str,
    pub category_path: Option<String>,
    pub overdue: bool,
    /// True when the caller's name and phone are masked for this reader.
    pub caller_masked: bool,
    pub accept_deadline: Option<DeadlineView>,
    pub reply_deadline: Option<DeadlineView>,
    /// Every stage clock: whose, which stage, its state and its deadline in words.
    pub clock_views: Vec<ClockView>,
}

/// One stage clock as a person reads it.
#[derive(Serialize, ToSchema, Debug, Clone)]
pub struct ClockView {
    pub stage: Stage,
    /// 签收 / 首次联系 / 办结 / 回访
    pub stage_label: &'static str,
    /// The department; none for the centre's callback clock.
    pub department: Option<String>,
    pub owner: crate::domain::clocks::Owner,
    /// running, warning, overdue, paused or stopped.
    pub state: &'static str,
    pub deadline: DeadlineView,
    /// E.g. `5个工作日，截止 2026-10-13 17:30`.
    pub deadline_text: String,
    /// Minutes left (negative: overdue), in the limit's kind of time.
    pub minutes_left: i64,
    /// Computed past the last published calendar year: the instant is provisional.
    pub provisional: bool,
}

pub fn deadline_view(
    catalog: &Catalog,
    policy: Option<&str>,
    stage: Stage,
    at: DateTime<Utc>,
    now: DateTime<Utc>,
) -> DeadlineView {
    let duration = policy.and_then(|p| catalog.stage_duration(p, stage));
    DeadlineView {
        at: crate::domain::calendar::format_local(at),
        duration: duration.map(|d| d.to_string()),
        label: duration.map(|d| d.zh_label()),
        policy: policy.map(String::from),
        overdue: at < now,
    }
}

pub fn ticket_view(ticket: &Ticket, actor: &Actor, catalog: &Catalog, now: DateTime<Utc>) -> TicketView {
    let masked = !actor.sees_caller(ticket);
    let mut t = ticket.clone();
    // Only the files this reader may see (a confidential caller's stay at the centre).
    t.attachments = crate::domain::attachments::visible_list(ticket, crate::domain::attachments::Viewer::Staff(actor))
        .cloned()
        .collect();
    if masked {
        t.caller_name = mask_name(&t.caller_name);
        t.caller_phone = mask_phone(&t.caller_phone);
    }
    let policy = ticket.sla_policy.as_deref();
    TicketView {
        status_label: ticket.status.label(),
        category_path: catalog.district.category_path(&ticket.category),
        overdue: ticket.is_overdue(now),
        caller_masked: masked,
        accept_deadline: ticket
            .accept_due_at
            .filter(|_| ticket.accepted_at.is_none())
            .map(|at| deadline_view(catalog, policy, Stage::Accept, at, now)),
        reply_deadline: ticket.reply_due_at.map(|at| deadline_view(catalog, policy, Stage::Reply, at, now)),
        clock_views: ticket
            .clocks
            .iter()
            .map(|c| ClockView {
                stage: c.clock.stage,
                stage_label: c.clock.stage.zh(),
                department: c.department.clone(),
                owner: c.owner,
                state: c.clock.state(now).as_word(),
                deadline: deadline_view(catalog, Some(&c.clock.policy), c.clock.stage, c.clock.due_at, now),
                deadline_text: c.clock.deadline_zh(),
                minutes_left: c.clock.time_left(now, &catalog.calendar).num_minutes(),
                provisional: c.clock.fallback_used,
            })
            .collect(),
        ticket: t,
    }
}

#[derive(Serialize, ToSchema)]
pub struct EventView {
    #[serde(flatten)]
    pub event: Event,
    /// The instant in Beijing time.
    pub at_local: String,
}

pub fn event_view(event: &Event, masked: bool) -> EventView {
    let mut e = event.clone();
    if masked {
        e.kind = e.kind.masked();
    }
    EventView { at_local: crate::domain::calendar::format_local(e.at), event: e }
}
