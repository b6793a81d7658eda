//! Clocks and timers through a ticket's life, on the shipped calendar.

use super::*;
use crate::domain::event::{ActorRef, Event, Received};
use crate::domain::lifecycle::{decide, decide_timers, Actor, Assignment, Command, Context, Directory};
use crate::domain::ticket::apply;
use crate::domain::types::{Channel, Kind, Outcome, Role};
use chrono::{Duration, TimeZone};

struct Tree;
impl Directory for Tree {
    fn department_exists(&self, code: &str) -> bool {
        ["cgw", "sthj", "jd-a", "sq-a"].contains(&code)
    }
    fn is_below(&self, code: &str, ancestor: &str) -> bool {
        (ancestor, code) == ("jd-a", "sq-a")
    }
    fn is_leaf_category(&self, code: &str) -> bool {
        code.split('.').count() == 3
    }
}

use crate::domain::test_support::sla;

fn actor(role: Role, dept: Option<&str>) -> Actor {
    Actor {
        user_id: 1,
        username: dept.unwrap_or("x").into(),
        role,
        department: dept.map(String::from),
        units: dept.into_iter().map(String::from).collect(),
    }
}

/// 2026-09-30 16:00 Beijing: the afternoon before the National Day holiday.
fn eve_of_national_day() -> DateTime<Utc> {
    Utc.with_ymd_and_hms(2026, 9, 30, 8, 0, 0).unwrap()
}

struct Life {
    ticket: Ticket,
    now: DateTime<Utc>,
}

impl Life {
    fn new(now: DateTime<Utc>, urgency: Urgency) -> Life {
        let e = Event {
            seq: 1,
            ticket_id: 1,
            at: now,
            actor: ActorRef { user_id: 1, username: "op".into(), role: Role::Operator, department: None },
            kind: EventKind::Received(Received {
                number: "20260930-000001".into(),
                kind: Kind::Complaint,
                channel: Channel::Phone,
                urgency,
                category: "01.01.01".into(),
                street: None,
                community: None,
                address: String::new(),
                content: "x".into(),
                caller_name: String::new(),
                caller_phone: "13812345678".into(),
                confidential: false,
                callback_consent: true,
                call_id: None,
            }),
        };
        Life { ticket: apply(None, &e), now }
    }

    fn push(&mut self, events: Vec<EventKind>) -> Vec<EventKind> {
        for kind in &events {
            let e = Event {
                seq: 0,
                ticket_id: 1,
                at: self.now,
                actor: ActorRef { user_id: 1, username: "x".into(), role: Role::Admin, department: None },
                kind: kind.clone(),
            };
            self.ticket = apply(Some(self.ticket.clone()), &e);
        }
        events
    }

    fn act(&mut self, who: &Actor, command: Command) -> Vec<EventKind> {
        let ctx = Context { now: self.now, actor: who, directory: &Tree, sla: sla() };
        let events = decide(&self.ticket, &command, &ctx).unwrap();
        self.push(events)
    }

    /// Moves time on and fires whatever timers fell due.
    fn at(&mut self, now: DateTime<Utc>) -> Vec<EventKind> {
        self.now = now;
        let system = actor(Role::Admin, None);
        let ctx = Context { now, actor: &system, directory: &Tree, sla: sla() };
        let events = decide_timers(&self.ticket, &ctx);
        self.push(events)
    }

    fn dispatch(&mut self, lead: &str, assists: &[&str], policy: Option<&str>) {
        let a = Assignment {
            lead: lead.into(),
            assists: assists.iter().map(|s| s.to_string()).collect(),
            policy: policy.map(String::from),
            note: None,
            rule_id: None,
            rules_version: None,
        };
        self.act(&actor(Role::Dispatcher, None), Command::Dispatch(a));
    }

    fn clock(&self, stage: Stage, department: Option<&str>) -> &AssignmentClock {
        self.ticket
            .clocks
            .iter()
            .rev()
            .find(|c| c.clock.stage == stage && c.department.as_deref() == department)
            .expect("clock exists")
    }
}

fn local(s: &str) -> DateTime<Utc> {
    DateTime::parse_from_rfc3339(s).unwrap().to_utc()
}

#[test]
fn dispatch_starts_accept_and_reply_clocks_for_each_assignment() {
    let mut life = Life::new(eve_of_national_day(), Urgency::Normal);
    life.dispatch("cgw", &["sthj"], None);
    let names: Vec<(Owner, Stage)> = life.ticket.clocks.iter().map(|c| (c.owner, c.clock.stage)).collect();
    assert_eq!(names, vec![(Owner::Lead, Stage::Accept), (Owner::Lead, Stage::Reply), (Owner::Assist, Stage::Reply)]);
    // 5 working days from the eve of the holiday: Oct 8, 9, 10 (makeup Saturday), 12, 13.
    assert_eq!(life.ticket.reply_due_at, Some(local("2026-10-13T17:30:00+08:00")));
    assert_eq!(life.clock(Stage::Reply, Some("sthj")).clock.due_at, local("2026-10-13T17:30:00+08:00"));
    assert!(life.ticket.accept_due_at.is_some());
}

#[test]
fn urgent_tickets_count_natural_hours_and_warn_before_the_deadline() {
    let start = eve_of_national_day();
    let mut life = Life::new(start, Urgency::Urgent);
    life.dispatch("cgw", &[], None);
    assert_eq!(life.ticket.sla_policy.as_deref(), Some("urgent"));
    assert_eq!(life.ticket.reply_due_at, Some(start + Duration::hours(2)));
    // Nothing is due yet.
    assert!(life.at(start + Duration::minutes(10)).is_empty());
    // Accept limit (30 natural minutes) passes unaccepted: overdue for the accept stage.
    let fired = life.at(start + Duration::minutes(31));
    assert!(fired.iter().any(|e| matches!(e, EventKind::ClockOverdue { stage: Stage::Accept, .. })), "{fired:?}");
    // Firing again at the same instant does nothing: each timer fires once.
    assert!(life.at(start + Duration::minutes(31)).is_empty());
    life.act(&actor(Role::Department, Some("cgw")), Command::Accept);
    // The warning point of "2h, warn 30m before" is 1h30 after dispatch, to the second.
    let fired = life.at(start + Duration::minutes(90));
    assert!(
        fired.iter().any(|e| matches!(e, EventKind::ClockWarned { stage: Stage::Reply, late: false, .. })),
        "{fired:?}"
    );
    let fired = life.at(start + Duration::hours(3));
    assert!(fired.iter().any(|e| matches!(e, EventKind::ClockOverdue { stage: Stage::Reply, late: true, .. })));
    assert!(fired.iter().any(|e| matches!(e, EventKind::Supervised { .. })), "overdue reply work is supervised");
    assert!(life.ticket.supervised);
}

#[test]
fn unaccepted_ticket_is_accepted_automatically_and_counted_late() {
    let start = local("2026-11-23T09:00:00+08:00");
    let mut life = Life::new(start, Urgency::Normal);
    life.dispatch("cgw", &[], None);
    // auto_accept_after is 4 working hours: 09:00 + 3h morning + 1h afternoon = 14:30.
    let fired = life.at(local("2026-11-23T14:30:00+08:00"));
    assert!(fired.iter().any(|e| matches!(e, EventKind::Accepted { late: true, automatic: true, .. })), "{fired:?}");
    assert_eq!(life.ticket.status, Status::Accepted);
    assert!(life.ticket.clocks.iter().any(|c| c.clock.stage == Stage::FirstContact), "first contact clock starts");
}

#[test]
fn suspension_pauses_and_resume_restarts_with_the_remainder() {
    let start = local("2026-11-23T09:00:00+08:00");
    let mut life = Life::new(start, Urgency::Normal);
    let dept = actor(Role::Department, Some("cgw"));
    let sup = actor(Role::Supervisor, None);
    life.dispatch("cgw", &[], None);
    life.act(&dept, Command::Accept);
    let due = life.ticket.reply_due_at.unwrap();
    life.act(&dept, Command::RequestSuspension { reason: "等待市民补充材料".into() });
    life.act(&sup, Command::DecideSuspension { approve: true, note: None });
    assert!(life.clock(Stage::Reply, Some("cgw")).clock.paused_at.is_some());
    // While paused no timer is pending, however long it lasts.
    assert!(pending_timers(&life.ticket).iter().all(|t| t.stage != Stage::Reply));
    // Paused over a weekend and a working day: the remainder is kept in working time.
    life.now = local("2026-11-30T09:00:00+08:00");
    life.act(&dept, Command::Resume);
    let resumed_due = life.ticket.reply_due_at.unwrap();
    let paused_work = sla().calendar.working_duration_between(start, local("2026-11-30T09:00:00+08:00"));
    assert_eq!(sla().calendar.working_duration_between(due, resumed_due), paused_work);
}

#[test]
fn extension_moves_the_deadline_and_reopening_starts_a_new_clock() {
    let start = local("2026-11-23T09:00:00+08:00");
    let mut life = Life::new(start, Urgency::Normal);
    let dept = actor(Role::Department, Some("cgw"));
    life.dispatch("cgw", &[], None);
    life.act(&dept, Command::Accept);
    life.act(&dept, Command::RequestExtension { reason: "需检测".into(), extra: "3wd".into() });
    life.act(&actor(Role::Supervisor, None), Command::DecideExtension { approve: true, note: None });
    assert_eq!(life.ticket.reply_due_at, Some(local("2026-12-03T17:30:00+08:00")), "5wd + 3wd");
    life.act(&dept, Command::Reply { outcome: Outcome::Solved, text: "ok".into() });
    assert!(life.clock(Stage::Reply, Some("cgw")).clock.stopped_at.is_some());
    let callback = life.clock(Stage::Callback, None);
    assert_eq!(callback.owner, Owner::Centre);
    life.now = local("2026-11-25T10:00:00+08:00");
    life.act(&actor(Role::Supervisor, None), Command::Reopen { reason: "市民不满意".into() });
    let reply = life.clock(Stage::Reply, Some("cgw"));
    assert_eq!(reply.clock.started_at, local("2026-11-25T10:00:00+08:00"));
    assert!(reply.clock.stopped_at.is_none());
}

#[test]
fn overdue_reply_goes_on_the_late_list_three_working_days_later() {
    let start = local("2026-11-23T09:00:00+08:00");
    let mut life = Life::new(start, Urgency::Normal);
    life.dispatch("cgw", &[], Some("general"));
    life.act(&actor(Role::Department, Some("cgw")), Command::Accept);
    let due = life.ticket.reply_due_at.unwrap();
    life.at(due + Duration::seconds(1));
    let reply = life.clock(Stage::Reply, Some("cgw"));
    assert!(reply.overdue_at.is_some());
    let late_at = reply.late_list_at.unwrap();
    assert_eq!(late_at, sla().calendar.due(due, LATE_LIST_AFTER).at);
    let fired = life.at(late_at);
    assert!(fired.iter().any(|e| matches!(e, EventKind::LateListed { .. })));
    assert!(life.ticket.late_listed);
    assert!(
        pending_timers(&life.ticket).is_empty()
            || pending_timers(&life.ticket).iter().all(|t| t.kind != TimerKind::LateList)
    );
}

#[test]
fn closed_tickets_have_no_timers() {
    let start = local("2026-11-23T09:00:00+08:00");
    let mut life = Life::new(start, Urgency::Normal);
    life.act(
        &actor(Role::Operator, None),
        Command::ResolveDirectly { answer: "已答复".into(), callback_consent: true, article_id: None },
    );
    assert!(!pending_timers(&life.ticket).is_empty(), "the callback clock runs");
    life.act(&actor(Role::Supervisor, None), Command::Close { note: None });
    assert!(pending_timers(&life.ticket).is_empty());
}
