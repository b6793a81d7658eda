//! The state machine walked through the paths a hotline centre sees every day.

use super::*;
use crate::domain::event::{ActorRef, Event, Received};
use crate::domain::ticket::{apply, Ticket};
use crate::domain::types::{Channel, Kind, Urgency};
use chrono::{Duration, TimeZone};

struct Tree;
impl Directory for Tree {
    fn department_exists(&self, code: &str) -> bool {
        ["cgw", "cgw-zfd", "jd-xinhua", "sq-xinhua-01", "sthj"].contains(&code)
    }
    fn is_below(&self, code: &str, ancestor: &str) -> bool {
        matches!((ancestor, code), ("cgw", "cgw-zfd") | ("jd-xinhua", "sq-xinhua-01"))
    }
    fn is_leaf_category(&self, code: &str) -> bool {
        ["01.02.03", "03.02.01", "04.01.01"].contains(&code)
    }
}

// The shipped calendar and policies: the state machine decides clocks with them.
use crate::domain::test_support::sla;

fn actor(role: Role, dept: Option<&str>) -> Actor {
    let units = match dept {
        Some("cgw") => vec!["cgw".to_string(), "cgw-zfd".to_string()],
        Some(d) => vec![d.to_string()],
        None => vec![],
    };
    Actor {
        user_id: 1,
        username: dept.unwrap_or(role.as_str()).into(),
        role,
        department: dept.map(String::from),
        units,
    }
}

struct World {
    ticket: Ticket,
    now: DateTime<Utc>,
    seq: i64,
}

impl World {
    fn new() -> World {
        let now = Utc.with_ymd_and_hms(2026, 11, 23, 2, 0, 0).unwrap();
        let received = Event {
            seq: 1,
            ticket_id: 7,
            at: now,
            actor: ActorRef { user_id: 1, username: "operator".into(), role: Role::Operator, department: None },
            kind: EventKind::Received(Received {
                number: "20261123-000001".into(),
                kind: Kind::Complaint,
                channel: Channel::Phone,
                urgency: Urgency::Normal,
                category: "03.02.01".into(),
                street: Some("xinhua".into()),
                community: None,
                address: "新华里小区3号楼".into(),
                content: "垃圾三天没人清运".into(),
                caller_name: "王小明".into(),
                caller_phone: "13812345678".into(),
                confidential: true,
                callback_consent: true,
                call_id: None,
            }),
        };
        World { ticket: apply(None, &received), now, seq: 1 }
    }

    fn act(&mut self, who: &Actor, command: Command) -> Result<Vec<EventKind>, DecisionError> {
        self.now += Duration::minutes(10);
        let ctx = Context { now: self.now, actor: who, directory: &Tree, sla: sla() };
        let events = decide(&self.ticket, &command, &ctx)?;
        for kind in &events {
            self.seq += 1;
            let e = Event {
                seq: self.seq,
                ticket_id: 7,
                at: self.now,
                actor: ActorRef {
                    user_id: who.user_id,
                    username: who.username.clone(),
                    role: who.role,
                    department: None,
                },
                kind: kind.clone(),
            };
            self.ticket = apply(Some(self.ticket.clone()), &e);
        }
        Ok(events)
    }

    fn dispatch(&mut self, lead: &str, assists: &[&str]) {
        let a = Assignment {
            lead: lead.into(),
            assists: assists.iter().map(|s| s.to_string()).collect(),
            policy: None,
            note: None,
            rule_id: None,
            rules_version: None,
        };
        self.act(&actor(Role::Dispatcher, None), Command::Dispatch(a)).unwrap();
    }
}

#[test]
fn ticket_goes_from_call_to_archive_on_the_usual_path() {
    let mut w = World::new();
    let cgw = actor(Role::Department, Some("cgw"));
    w.dispatch("cgw", &[]);
    assert_eq!(w.ticket.status, Status::Dispatched);
    assert!(w.ticket.reply_due_at.is_some());
    w.act(&cgw, Command::Accept).unwrap();
    assert_eq!(w.ticket.status, Status::Accepted);
    w.act(&cgw, Command::Reply { outcome: Outcome::Solved, text: "已清运".into() }).unwrap();
    assert_eq!(w.ticket.status, Status::Replied);
    let events = w
        .act(
            &actor(Role::Operator, None),
            Command::RecordCallback(CallbackReport {
                reached: true,
                failure: None,
                solved: Some(Solved::Yes),
                satisfaction: Some(Satisfaction::Satisfied),
                comment: None,
            }),
        )
        .unwrap();
    let names: Vec<&str> = events.iter().map(|e| e.name()).collect();
    assert_eq!(names, ["callback_recorded", "closed", "clocks_changed"], "closing stops the callback clock");
    assert_eq!(w.ticket.status, Status::Closed);
    assert_eq!(w.ticket.last_callback.as_ref().unwrap().department.as_deref(), Some("cgw"));
}

#[test]
fn illegal_transition_says_the_state_and_what_is_allowed() {
    let mut w = World::new();
    let err = w.act(&actor(Role::Department, Some("cgw")), Command::Accept).unwrap_err();
    // Not yet dispatched: the department is not in charge at all.
    assert!(matches!(err, DecisionError::Forbidden(_)));
    w.dispatch("cgw", &[]);
    w.act(&actor(Role::Department, Some("cgw")), Command::Accept).unwrap();
    let err = w.act(&actor(Role::Department, Some("cgw")), Command::Accept).unwrap_err();
    let msg = err.to_string();
    assert!(matches!(err, DecisionError::IllegalTransition { .. }));
    assert!(msg.contains("办理中") && msg.contains("accepted") && msg.contains("reply"), "{msg}");
}

#[test]
fn return_is_reviewed_then_redispatched_or_rejected() {
    let mut w = World::new();
    let cgw = actor(Role::Department, Some("cgw"));
    let dispatcher = actor(Role::Dispatcher, None);
    w.dispatch("cgw", &[]);
    w.act(&cgw, Command::Return { reason: "  ".into() }).unwrap_err();
    w.act(&cgw, Command::Return { reason: "属于街道职责".into() }).unwrap();
    assert_eq!(w.ticket.status, Status::ReturnRequested);
    w.act(&dispatcher, Command::RejectReturn { reason: "属城管职责范围".into() }).unwrap();
    assert_eq!(w.ticket.status, Status::Dispatched);
    assert_eq!(w.ticket.lead.as_deref(), Some("cgw"));
    w.act(&cgw, Command::Return { reason: "仍不属于我单位".into() }).unwrap();
    let a = Assignment {
        lead: "jd-xinhua".into(),
        assists: vec![],
        policy: None,
        note: Some("改派街道".into()),
        rule_id: None,
        rules_version: None,
    };
    w.act(&dispatcher, Command::Redispatch { to: a, category: None }).unwrap();
    assert_eq!(w.ticket.lead.as_deref(), Some("jd-xinhua"));
    assert_eq!(w.ticket.returns, 2);
    assert!(w.act(&cgw, Command::Accept).is_err(), "the old department no longer acts on it");
}

#[test]
fn a_return_for_the_wrong_category_is_redispatched_under_the_right_one() {
    let mut w = World::new();
    let cgw = actor(Role::Department, Some("cgw"));
    let dispatcher = actor(Role::Dispatcher, None);
    w.dispatch("cgw", &[]);
    w.act(&cgw, Command::Return { reason: "是噪声扰民，不是停电".into() }).unwrap();
    let to = |lead: &str| Assignment {
        lead: lead.into(),
        assists: vec![],
        policy: None,
        note: None,
        rule_id: None,
        rules_version: None,
    };
    // Not a leaf of the taxonomy: refused, naming the field, nothing changes.
    let e = w.act(&dispatcher, Command::Redispatch { to: to("sthj"), category: Some("04.01".into()) }).unwrap_err();
    assert!(matches!(e, DecisionError::Invalid { field: "category", .. }), "{e:?}");
    assert_eq!((w.ticket.category.as_str(), w.ticket.status), ("03.02.01", Status::ReturnRequested));

    let events =
        w.act(&dispatcher, Command::Redispatch { to: to("sthj"), category: Some(" 04.01.01 ".into()) }).unwrap();
    assert_eq!(w.ticket.category, "04.01.01", "filed under the corrected category from now on");
    let EventKind::Redispatched { recategorised, .. } = &events[0] else { panic!("{events:?}") };
    let r = recategorised.as_deref().expect("the correction is recorded");
    assert_eq!((r.from.as_str(), r.to.as_str()), ("03.02.01", "04.01.01"));

    // The same category again is no correction: the event does not claim one.
    w.act(&actor(Role::Department, Some("sthj")), Command::Return { reason: "需街道协调".into() }).unwrap();
    let events =
        w.act(&dispatcher, Command::Redispatch { to: to("jd-xinhua"), category: Some("04.01.01".into()) }).unwrap();
    let EventKind::Redispatched { recategorised, .. } = &events[0] else { panic!("{events:?}") };
    assert_eq!(recategorised, &None);
    assert_eq!(w.ticket.category, "04.01.01");
}

#[test]
fn redispatch_keeps_the_tickets_policy_unless_the_dispatcher_picks_another() {
    let mut w = World::new();
    let cgw = actor(Role::Department, Some("cgw"));
    let dispatcher = actor(Role::Dispatcher, None);
    let utility = Assignment {
        lead: "cgw".into(),
        assists: vec![],
        policy: Some("utility".into()),
        note: None,
        rule_id: Some("manholes".into()),
        rules_version: None,
    };
    w.act(&dispatcher, Command::Dispatch(utility)).unwrap();
    w.act(&cgw, Command::Return { reason: "井盖属燃气公司".into() }).unwrap();
    let to_street = |policy: Option<&str>| Assignment {
        lead: "jd-xinhua".into(),
        assists: vec![],
        policy: policy.map(String::from),
        note: None,
        rule_id: None,
        rules_version: None,
    };
    let events = w.act(&dispatcher, Command::Redispatch { to: to_street(None), category: None }).unwrap();
    assert_eq!(w.ticket.sla_policy.as_deref(), Some("utility"), "改派 keeps 水电气暖 (24 h), not 一般 (5 wd)");
    let EventKind::Redispatched { sla_policy, previous_policy, .. } = &events[0] else { panic!("{events:?}") };
    assert_eq!((sla_policy.as_deref(), previous_policy.as_deref()), (Some("utility"), None), "unchanged");
    let reply_due = w.ticket.reply_due_at.unwrap();
    assert!(reply_due - w.now <= Duration::hours(24), "the reply is due within 24 hours: {reply_due}");

    // The dispatcher picks another policy: the event says which it replaced.
    w.act(&actor(Role::Department, Some("jd-xinhua")), Command::Return { reason: "需专业单位".into() }).unwrap();
    let mut back = to_street(Some("general"));
    back.lead = "cgw".into();
    let events = w.act(&dispatcher, Command::Redispatch { to: back, category: None }).unwrap();
    let EventKind::Redispatched { sla_policy, previous_policy, .. } = &events[0] else { panic!("{events:?}") };
    assert_eq!((sla_policy.as_deref(), previous_policy.as_deref()), (Some("general"), Some("utility")));
    assert_eq!(w.ticket.sla_policy.as_deref(), Some("general"));
}

#[test]
fn pass_down_goes_to_a_sub_unit_which_can_hand_it_back() {
    let mut w = World::new();
    let street = actor(Role::Department, Some("jd-xinhua"));
    let community = actor(Role::Department, Some("sq-xinhua-01"));
    w.dispatch("jd-xinhua", &[]);
    w.act(&street, Command::Accept).unwrap();
    let err = w.act(&street, Command::PassDown { to: "cgw-zfd".into(), note: None }).unwrap_err();
    assert!(matches!(err, DecisionError::Invalid { field: "to", .. }));
    w.act(&street, Command::PassDown { to: "sq-xinhua-01".into(), note: None }).unwrap();
    assert_eq!(w.ticket.status, Status::Dispatched);
    w.act(&community, Command::Accept).unwrap();
    w.act(&community, Command::Return { reason: "需街道协调".into() }).unwrap();
    assert_eq!(w.ticket.lead.as_deref(), Some("jd-xinhua"));
    assert_eq!(w.ticket.status, Status::Accepted);
}

#[test]
fn lead_cannot_reply_before_assisting_departments_unless_a_supervisor_waives() {
    let mut w = World::new();
    let cgw = actor(Role::Department, Some("cgw"));
    let sthj = actor(Role::Department, Some("sthj"));
    w.dispatch("cgw", &["sthj", "jd-xinhua"]);
    w.act(&cgw, Command::Accept).unwrap();
    let err = w.act(&cgw, Command::Reply { outcome: Outcome::Solved, text: "done".into() }).unwrap_err();
    assert!(err.to_string().contains("sthj"), "{err}");
    w.act(&sthj, Command::AssistReply { text: "已检测".into() }).unwrap();
    assert!(w.act(&sthj, Command::AssistReply { text: "again".into() }).is_err());
    w.act(&actor(Role::Supervisor, None), Command::WaiveAssists { reason: "街道未及时答复".into() }).unwrap();
    w.act(&cgw, Command::Reply { outcome: Outcome::Solved, text: "done".into() }).unwrap();
    assert_eq!(w.ticket.status, Status::Replied);
}

#[test]
fn suspension_stops_the_clock_and_extension_moves_it() {
    let mut w = World::new();
    let cgw = actor(Role::Department, Some("cgw"));
    let sup = actor(Role::Supervisor, None);
    w.dispatch("cgw", &[]);
    w.act(&cgw, Command::Accept).unwrap();
    let due = w.ticket.reply_due_at.unwrap();
    w.act(&cgw, Command::RequestExtension { reason: "需检测".into(), extra: "nonsense".into() }).unwrap_err();
    w.act(&cgw, Command::RequestExtension { reason: "需检测".into(), extra: "48h".into() }).unwrap();
    w.act(&sup, Command::DecideExtension { approve: true, note: None }).unwrap();
    assert_eq!(w.ticket.reply_due_at.unwrap(), due + Duration::hours(48), "48 natural hours after the old deadline");
    let due = w.ticket.reply_due_at.unwrap();
    w.act(&cgw, Command::RequestSuspension { reason: "等待市民提供材料".into() }).unwrap();
    w.act(&cgw, Command::DecideSuspension { approve: true, note: None }).unwrap_err();
    w.act(&sup, Command::DecideSuspension { approve: true, note: None }).unwrap();
    assert_eq!(w.ticket.status, Status::Suspended);
    w.act(&cgw, Command::Reply { outcome: Outcome::Solved, text: "x".into() }).unwrap_err();
    w.act(&cgw, Command::Resume).unwrap();
    assert_eq!(w.ticket.status, Status::Accepted);
    // Paused from approval until the resume twenty minutes later (a refused reply in between):
    // the deadline moves by those twenty minutes, counted in working time.
    let moved = sla().calendar.working_duration_between(due, w.ticket.reply_due_at.unwrap());
    assert_eq!(moved, Duration::minutes(20));
}

#[test]
fn dissatisfied_callback_reopens_twice_then_goes_to_a_supervisor() {
    let mut w = World::new();
    let cgw = actor(Role::Department, Some("cgw"));
    let op = actor(Role::Operator, None);
    let unhappy = CallbackReport {
        reached: true,
        failure: None,
        solved: Some(Solved::No),
        satisfaction: Some(Satisfaction::Dissatisfied),
        comment: Some("没人来".into()),
    };
    w.dispatch("cgw", &[]);
    w.act(&cgw, Command::Accept).unwrap();
    for round in 1..=2 {
        w.act(&cgw, Command::Reply { outcome: Outcome::Solved, text: "已处理".into() }).unwrap();
        w.act(&op, Command::RecordCallback(unhappy.clone())).unwrap();
        assert_eq!(w.ticket.status, Status::Accepted);
        assert_eq!(w.ticket.reopens, round);
    }
    w.act(&cgw, Command::Reply { outcome: Outcome::Solved, text: "已处理".into() }).unwrap();
    w.act(&op, Command::RecordCallback(unhappy)).unwrap();
    assert_eq!(w.ticket.status, Status::Replied);
    assert!(w.ticket.supervised);
}

#[test]
fn unreached_callback_needs_a_reason_and_keeps_the_ticket_waiting() {
    let mut w = World::new();
    w.act(
        &actor(Role::Operator, None),
        Command::ResolveDirectly {
            answer: "办理时间为工作日".into(), callback_consent: true, article_id: None
        },
    )
    .unwrap();
    let op = actor(Role::Operator, None);
    let mut report = CallbackReport { reached: false, failure: None, solved: None, satisfaction: None, comment: None };
    assert!(matches!(
        w.act(&op, Command::RecordCallback(report.clone())).unwrap_err(),
        DecisionError::Invalid { field: "failure", .. }
    ));
    report.failure = Some(CallbackFailure::NoAnswer);
    w.act(&op, Command::RecordCallback(report)).unwrap();
    assert_eq!(w.ticket.status, Status::Replied);
    assert_eq!(w.ticket.callback_attempts, 1);
}

#[test]
fn roles_are_enforced() {
    let mut w = World::new();
    let op = actor(Role::Operator, None);
    let a = Assignment {
        lead: "cgw".into(),
        assists: vec![],
        policy: None,
        note: None,
        rule_id: None,
        rules_version: None,
    };
    assert!(matches!(
        w.act(&actor(Role::Department, Some("cgw")), Command::Dispatch(a.clone())),
        Err(DecisionError::Forbidden(_))
    ));
    w.act(&op, Command::Dispatch(a)).unwrap();
    assert!(matches!(w.act(&op, Command::Supervise { note: None }), Err(DecisionError::Forbidden(_))));
    assert!(matches!(w.act(&actor(Role::Department, Some("sthj")), Command::Accept), Err(DecisionError::Forbidden(_))));
    w.act(&op, Command::RevealCaller { reason: Some("回访需要".into()) }).unwrap();
    assert!(w.act(&actor(Role::Department, Some("cgw")), Command::RevealCaller { reason: None }).is_err());
}

#[test]
fn unknown_departments_and_policies_name_the_field() {
    let mut w = World::new();
    let d = actor(Role::Dispatcher, None);
    let mut a = Assignment {
        lead: "nobody".into(),
        assists: vec![],
        policy: None,
        note: None,
        rule_id: None,
        rules_version: None,
    };
    assert!(matches!(w.act(&d, Command::Dispatch(a.clone())), Err(DecisionError::Invalid { field: "lead", .. })));
    a.lead = "cgw".into();
    a.assists = vec!["cgw".into()];
    assert!(matches!(w.act(&d, Command::Dispatch(a.clone())), Err(DecisionError::Invalid { field: "assists", .. })));
    a.assists = vec![];
    a.policy = Some("whenever".into());
    assert!(matches!(w.act(&d, Command::Dispatch(a)), Err(DecisionError::Invalid { field: "policy", .. })));
}

#[test]
fn merge_needs_an_open_target_other_than_itself() {
    let w = World::new();
    let op = actor(Role::Operator, None);
    let ctx = Context { now: w.now, actor: &op, directory: &Tree, sla: sla() };
    assert!(decide_merge(&w.ticket, &w.ticket, &ctx).is_err());
    let mut target = w.ticket.clone();
    target.id = 8;
    let (from, into) = decide_merge(&w.ticket, &target, &ctx).unwrap();
    assert_eq!(from, EventKind::Merged { into: 8 });
    assert_eq!(into, EventKind::MergeReceived { from: 7 });
    target.status = Status::Closed;
    assert!(decide_merge(&w.ticket, &target, &ctx).is_err());
}

#[test]
fn masked_received_event_hides_the_caller() {
    let w = World::new();
    let e = EventKind::Received(crate::domain::event::Received {
        number: w.ticket.number.clone(),
        kind: w.ticket.kind,
        channel: w.ticket.channel,
        urgency: w.ticket.urgency,
        category: w.ticket.category.clone(),
        street: None,
        community: None,
        address: String::new(),
        content: String::new(),
        caller_name: "王小明".into(),
        caller_phone: "13812345678".into(),
        confidential: true,
        callback_consent: true,
        call_id: None,
    });
    let EventKind::Received(r) = e.masked() else { panic!() };
    assert_eq!(r.caller_phone, "138****5678");
    assert_eq!(r.caller_name, "王**");
}
