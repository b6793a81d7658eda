//! Whose clock is running on a ticket, and what it does when the ticket changes.
//!
//! Each assignment has its own stage clocks: the lead department an accept (签收) clock, a
//! first-contact clock from acceptance and a reply (办结) clock from dispatch — not from
//! acceptance, so not accepting does not stop it; each assisting department a reply clock of
//! its own; the centre a callback (回访) clock from the reply. The clocks are decided here,
//! with the calendar in hand, and carried in events (`clocks_changed`), so replaying the log
//! gives the same deadlines even after the calendar has changed.
//!
//! Timers — the yellow warning (预警), the red overdue (超期), the auto-acceptance and the
//! late list (通报) — are derived from the clocks ([`pending_timers`]) and fired by
//! [`fire_due`], which emits each at most once because it checks the ticket's own record.

use super::calendar::{Calendar, SlaDuration};
use super::event::EventKind;
use super::sla::{SlaPolicies, SlaPolicy, Stage, StageClock};
use super::ticket::Ticket;
use super::types::{Status, Urgency};
use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};

/// After this many working days overdue a ticket goes on the published late list (通报).
pub const LATE_LIST_AFTER: SlaDuration = SlaDuration { amount: 3, unit: super::calendar::DurationUnit::WorkingDays };

/// A timer firing later than this after its instant is marked late (e.g. the server was down).
pub const LATE_AFTER_SECONDS: i64 = 1;

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, utoipa::ToSchema)]
#[serde(rename_all = "snake_case")]
pub enum Owner {
    Lead,
    Assist,
    /// The hotline centre itself (the callback).
    Centre,
}

/// One stage clock of one assignment, with what has already fired for it.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, utoipa::ToSchema)]
pub struct AssignmentClock {
    /// The department whose clock this is; `None` for the centre's.
    pub department: Option<String>,
    pub owner: Owner,
    #[serde(flatten)]
    #[schema(value_type = Object)]
    pub clock: StageClock,
    /// Accept clocks only: when an unaccepted ticket is accepted automatically.
    pub auto_accept_at: Option<DateTime<Utc>>,
    pub warned_at: Option<DateTime<Utc>>,
    pub overdue_at: Option<DateTime<Utc>>,
    /// Reply clocks, once overdue: when the ticket goes on the late list.
    pub late_list_at: Option<DateTime<Utc>>,
    pub late_listed_at: Option<DateTime<Utc>>,
}

impl AssignmentClock {
    pub fn is_running(&self) -> bool {
        self.clock.stopped_at.is_none() && self.clock.paused_at.is_none()
    }

    fn is_stopped(&self) -> bool {
        self.clock.stopped_at.is_some()
    }
}

/// What clocks need to be decided: the calendar and the policies.
pub struct SlaContext<'a> {
    pub calendar: &'a Calendar,
    pub policies: &'a SlaPolicies,
    pub callbacks: &'a super::callbacks::CallbackPolicy,
}

impl SlaContext<'_> {
    /// The policy when nobody named one: urgent tickets get `urgent`, others the default.
    pub fn default_policy(&self, ticket: &Ticket) -> &SlaPolicy {
        match (ticket.urgency, self.policies.get("urgent")) {
            (Urgency::Urgent, Some(p)) => p,
            _ => self.policies.default_policy(),
        }
    }

    pub fn policy_for(&self, ticket: &Ticket) -> &SlaPolicy {
        ticket.sla_policy.as_deref().and_then(|p| self.policies.get(p)).unwrap_or_else(|| self.default_policy(ticket))
    }

    fn start(
        &self,
        department: Option<&str>,
        owner: Owner,
        stage: Stage,
        policy: &SlaPolicy,
        at: DateTime<Utc>,
    ) -> AssignmentClock {
        let clock = StageClock::start(stage, policy, self.calendar, at);
        let auto_accept_at =
            (stage == Stage::Accept).then(|| self.calendar.due(clock.started_at, self.policies.auto_accept_after()).at);
        AssignmentClock {
            department: department.map(String::from),
            owner,
            clock,
            auto_accept_at,
            warned_at: None,
            overdue_at: None,
            late_list_at: None,
            late_listed_at: None,
        }
    }
}

fn stop_where(clocks: &mut [AssignmentClock], now: DateTime<Utc>, pick: impl Fn(&AssignmentClock) -> bool) {
    for c in clocks.iter_mut().filter(|c| !c.is_stopped() && pick(c)) {
        let _ = c.clock.stop(now);
    }
}

/// The clocks after `events` happened to `before` (giving `after`), or `None` if they are
/// unchanged. Called by the state machine for every decision.
pub fn follow(
    before: &Ticket,
    after: &Ticket,
    events: &[EventKind],
    now: DateTime<Utc>,
    sla: &SlaContext,
) -> Option<Vec<AssignmentClock>> {
    let mut clocks = before.clocks.clone();
    let policy = sla.policy_for(after);
    for event in events {
        match event {
            EventKind::Dispatched { lead, assists, .. } | EventKind::Redispatched { lead, assists, .. } => {
                // A new assignment: the old one's clocks are history now.
                clocks = vec![
                    sla.start(Some(lead), Owner::Lead, Stage::Accept, policy, now),
                    sla.start(Some(lead), Owner::Lead, Stage::Reply, policy, now),
                ];
                clocks.extend(assists.iter().map(|a| sla.start(Some(a), Owner::Assist, Stage::Reply, policy, now)));
            }
            EventKind::PassedDown { from, to, .. } => {
                stop_where(&mut clocks, now, |c| c.owner == Owner::Lead && c.clock.stage == Stage::Accept);
                // The reply clock keeps running: passing down buys no time.
                for c in clocks.iter_mut().filter(|c| c.owner == Owner::Lead && c.department.as_deref() == Some(from)) {
                    c.department = Some(to.clone());
                }
                clocks.push(sla.start(Some(to), Owner::Lead, Stage::Accept, policy, now));
            }
            EventKind::Accepted { department, .. } => {
                stop_where(&mut clocks, now, |c| c.owner == Owner::Lead && c.clock.stage == Stage::Accept);
                clocks.push(sla.start(Some(department), Owner::Lead, Stage::FirstContact, policy, now));
            }
            EventKind::ResidentContacted { .. } => {
                stop_where(&mut clocks, now, |c| c.owner == Owner::Lead && c.clock.stage == Stage::FirstContact);
            }
            EventKind::AssistReplied { department, .. } => {
                stop_where(&mut clocks, now, |c| {
                    c.owner == Owner::Assist && c.department.as_deref() == Some(department)
                });
            }
            EventKind::AssistsWaived { departments, .. } => {
                stop_where(&mut clocks, now, |c| {
                    c.owner == Owner::Assist && c.department.as_ref().is_some_and(|d| departments.contains(d))
                });
            }
            EventKind::SuspensionDecided { approved: true, .. } => {
                for c in clocks.iter_mut().filter(|c| c.is_running() && c.owner != Owner::Centre) {
                    let _ = c.clock.pause(now, sla.calendar);
                }
            }
            EventKind::Resumed { .. } => {
                for c in clocks.iter_mut().filter(|c| c.clock.paused_at.is_some() && !c.is_stopped()) {
                    let _ = c.clock.resume(now, sla.calendar);
                }
            }
            EventKind::ExtensionDecided { approved: true, extra: Some(extra), .. } => {
                if let Ok(extra) = extra.parse::<SlaDuration>() {
                    for c in clocks
                        .iter_mut()
                        .filter(|c| !c.is_stopped() && c.owner == Owner::Lead && c.clock.stage == Stage::Reply)
                    {
                        let _ = c.clock.extend(extra, sla.calendar);
                        // The new deadline gets its own warning and overdue.
                        c.warned_at = None;
                        c.overdue_at = None;
                        c.late_list_at = None;
                    }
                }
            }
            EventKind::Replied { .. } => {
                stop_where(&mut clocks, now, |c| c.owner != Owner::Centre);
                if after.callback_consent {
                    clocks.push(sla.start(None, Owner::Centre, Stage::Callback, policy, now));
                }
            }
            EventKind::ResolvedDirectly { callback_consent: true, .. } => {
                clocks.push(sla.start(None, Owner::Centre, Stage::Callback, policy, now));
            }
            EventKind::Reopened { department, .. } => {
                stop_where(&mut clocks, now, |_| true);
                clocks.push(sla.start(department.as_deref(), Owner::Lead, Stage::Reply, policy, now));
            }
            EventKind::Closed { .. } | EventKind::Merged { .. } => stop_where(&mut clocks, now, |_| true),
            _ => {}
        }
    }
    (clocks != before.clocks).then_some(clocks)
}

/// Recounts every running deadline on a new calendar; `None` when nothing moved.
pub fn recompute(ticket: &Ticket, calendar: &Calendar) -> Option<Vec<AssignmentClock>> {
    let mut clocks = ticket.clocks.clone();
    let mut moved = false;
    for c in clocks.iter_mut() {
        moved |= c.clock.recompute(calendar);
    }
    moved.then_some(clocks)
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, utoipa::ToSchema)]
#[serde(rename_all = "snake_case")]
pub enum TimerKind {
    Warn,
    Overdue,
    AutoAccept,
    LateList,
}

impl TimerKind {
    pub fn as_str(self) -> &'static str {
        match self {
            TimerKind::Warn => "warn",
            TimerKind::Overdue => "overdue",
            TimerKind::AutoAccept => "auto_accept",
            TimerKind::LateList => "late_list",
        }
    }
}

/// Something that will happen to a ticket at an instant unless the ticket changes first.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Timer {
    pub kind: TimerKind,
    pub stage: Stage,
    pub department: Option<String>,
    pub at: DateTime<Utc>,
}

/// Every timer the ticket's clocks imply, derived from stored state only: a restart loses
/// nothing, since the store keeps these rows in step with the ticket.
pub fn pending_timers(ticket: &Ticket) -> Vec<Timer> {
    let mut timers = Vec::new();
    if !ticket.status.is_open() {
        return timers;
    }
    for c in ticket.clocks.iter().filter(|c| c.is_running()) {
        let timer = |kind, at| Timer { kind, stage: c.clock.stage, department: c.department.clone(), at };
        if c.clock.stage == Stage::Accept && ticket.status == Status::Dispatched {
            if let Some(at) = c.auto_accept_at {
                timers.push(timer(TimerKind::AutoAccept, at));
            }
        }
        if c.warned_at.is_none() && c.overdue_at.is_none() && c.clock.warn_at < c.clock.due_at {
            timers.push(timer(TimerKind::Warn, c.clock.warn_at));
        }
        if c.overdue_at.is_none() {
            timers.push(timer(TimerKind::Overdue, c.clock.due_at));
        }
        if let (Some(at), None) = (c.late_list_at, c.late_listed_at) {
            timers.push(timer(TimerKind::LateList, at));
        }
    }
    timers
}

/// The events of every timer due at `now`: each fires once, because firing is recorded on
/// the clock the timer came from and a fired timer is no longer pending.
pub fn fire_due(ticket: &Ticket, now: DateTime<Utc>, sla: &SlaContext) -> Vec<EventKind> {
    let mut events = Vec::new();
    let mut supervised = ticket.supervised;
    for timer in pending_timers(ticket).into_iter().filter(|t| t.at <= now) {
        let late = (now - timer.at).num_seconds() > LATE_AFTER_SECONDS;
        match timer.kind {
            TimerKind::Warn => {
                // The first rung of the ladder: a department nearing its reply deadline is
                // urged (催办), which also sends it the urge notice.
                let urge = timer.stage == Stage::Reply && timer.department.is_some();
                events.push(EventKind::ClockWarned {
                    due_at: due_of(ticket, &timer),
                    stage: timer.stage,
                    department: timer.department,
                    scheduled_at: timer.at,
                    late,
                });
                if urge {
                    events.push(EventKind::Urged { note: Some("办结时限将至, 系统自动催办".into()) });
                }
            }
            TimerKind::Overdue => {
                let late_list_at = (timer.stage == Stage::Reply && timer.department.is_some())
                    .then(|| sla.calendar.due(timer.at, LATE_LIST_AFTER).at);
                let department = timer.department.clone();
                events.push(EventKind::ClockOverdue {
                    stage: timer.stage,
                    department: timer.department,
                    due_at: timer.at,
                    late,
                    late_list_at,
                });
                // Overdue reply work is supervised (督办) from now on.
                if timer.stage == Stage::Reply && department.is_some() && !supervised {
                    supervised = true;
                    events.push(EventKind::Supervised { note: Some("办结超期, 自动督办".into()) });
                }
            }
            TimerKind::AutoAccept => {
                if let Some(department) = timer.department {
                    events.push(EventKind::Accepted { department, late: true, automatic: true });
                }
            }
            TimerKind::LateList => events.push(EventKind::LateListed {
                stage: timer.stage,
                department: timer.department.clone(),
                due_at: due_of(ticket, &timer),
                scheduled_at: timer.at,
            }),
        }
    }
    events
}

fn due_of(ticket: &Ticket, timer: &Timer) -> DateTime<Utc> {
    ticket
        .clocks
        .iter()
        .find(|c| c.clock.stage == timer.stage && c.department == timer.department && c.is_running())
        .map(|c| c.clock.due_at)
        .unwrap_or(timer.at)
}

/// Marks on the ticket's clocks what a timer event records.
pub fn record_fired(clocks: &mut [AssignmentClock], event: &EventKind, at: DateTime<Utc>) {
    let find = |clocks: &mut [AssignmentClock], stage: Stage, department: &Option<String>| {
        clocks.iter_mut().position(|c| c.clock.stage == stage && &c.department == department && !c.is_stopped())
    };
    match event {
        EventKind::ClockWarned { stage, department, .. } => {
            if let Some(i) = find(clocks, *stage, department) {
                clocks[i].warned_at = Some(at);
            }
        }
        EventKind::ClockOverdue { stage, department, late_list_at, .. } => {
            if let Some(i) = find(clocks, *stage, department) {
                clocks[i].overdue_at = Some(at);
                clocks[i].late_list_at = *late_list_at;
            }
        }
        EventKind::LateListed { stage, department, .. } => {
            if let Some(i) = find(clocks, *stage, department) {
                clocks[i].late_listed_at = Some(at);
            }
        }
        _ => {}
    }
}

/// Whether a reply at `at` met the lead's running reply clock in `clocks` (the deadline in
/// force, extensions and suspensions included), judged as the clock judges itself once
/// stopped: to the second. With no running reply clock there is no deadline to miss.
pub fn reply_on_time(clocks: &[AssignmentClock], at: DateTime<Utc>) -> bool {
    let Some(running) = clocks
        .iter()
        .rfind(|c| c.owner == Owner::Lead && c.clock.stage == Stage::Reply && c.clock.stopped_at.is_none())
    else {
        return true;
    };
    let mut clock = running.clock.clone();
    // Stopping it where the reply stops it judges exactly as the `clocks_changed` that
    // follows the reply will.
    let _ = clock.stop(at);
    clock.finished_on_time().unwrap_or(true)
}

/// The lead's deadlines, for the columns lists filter on.
pub fn lead_deadlines(clocks: &[AssignmentClock]) -> (Option<DateTime<Utc>>, Option<DateTime<Utc>>) {
    let accept = clocks
        .iter()
        .rfind(|c| c.owner == Owner::Lead && c.clock.stage == Stage::Accept && !c.is_stopped())
        .map(|c| c.clock.due_at);
    let reply =
        clocks.iter().rfind(|c| c.owner == Owner::Lead && c.clock.stage == Stage::Reply).map(|c| c.clock.due_at);
    (accept, reply)
}

#[cfg(test)]
#[path = "clocks_tests.rs"]
mod tests;
