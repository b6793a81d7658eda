//! The ticket state machine: which command is allowed in which state, by whom, and what
//! events it produces. [`decide`] is pure; the store applies its events with
//! [`super::ticket::apply`] in the same transaction that appends them.

use super::calendar::SlaDuration;
use super::clocks::{self, SlaContext};
use super::event::{EventKind, Recategorised};
use super::ticket::{preview, Ticket};
use super::types::{CallbackFailure, Outcome, Role, Satisfaction, Solved, Status};
use chrono::{DateTime, Utc};

/// Longest free text in a reply, reason or note; the ticket content has its own limit.
pub const MAX_TEXT: usize = 4000;
/// After this many reopenings a further dissatisfied callback goes to a supervisor.
pub const MAX_REOPENS: i64 = 2;

/// The person acting, with the units whose tickets they may act on.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Actor {
    pub user_id: i64,
    pub username: String,
    pub role: Role,
    pub department: Option<String>,
    /// The user's department and every unit below it; empty for centre roles.
    pub units: Vec<String>,
}

impl Actor {
    pub fn is_department(&self) -> bool {
        self.role == Role::Department
    }

    pub fn covers(&self, unit: &str) -> bool {
        self.units.iter().any(|u| u == unit)
    }

    /// Whether the ticket is visible to this actor at all (departments: assigned to them now).
    pub fn can_see(&self, ticket: &Ticket) -> bool {
        !self.is_department() || ticket.assigned_units().any(|u| self.covers(u))
    }

    /// Department users never see a confidential caller.
    pub fn sees_caller(&self, ticket: &Ticket) -> bool {
        !(ticket.confidential && self.is_department())
    }
}

/// The departments the state machine may name, and their tree.
pub trait Directory {
    fn department_exists(&self, code: &str) -> bool;
    /// `code` is strictly below `ancestor`.
    fn is_below(&self, code: &str, ancestor: &str) -> bool;
    /// The category's reply must carry a photo (`photo_required` in the categories); its
    /// name for the message. `None`: no photo needed.
    fn reply_photo_required(&self, _category: &str) -> Option<String> {
        None
    }

    /// `code` is a category tickets are filed under (a leaf of the taxonomy).
    fn is_leaf_category(&self, code: &str) -> bool;
}

pub struct Context<'a> {
    pub now: DateTime<Utc>,
    pub actor: &'a Actor,
    pub directory: &'a dyn Directory,
    pub sla: SlaContext<'a>,
}

/// Where to send a ticket, from a dispatcher's hand or a dispatch rule.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Assignment {
    pub lead: String,
    pub assists: Vec<String>,
    pub policy: Option<String>,
    pub note: Option<String>,
    pub rule_id: Option<String>,
    pub rules_version: Option<String>,
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct CallbackReport {
    pub reached: bool,
    pub failure: Option<CallbackFailure>,
    pub solved: Option<Solved>,
    pub satisfaction: Option<Satisfaction>,
    pub comment: Option<String>,
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Command {
    ResolveDirectly {
        answer: String,
        callback_consent: bool,
        article_id: Option<i64>,
    },
    Dispatch(Assignment),
    /// 改派; `category`: the dispatcher corrects the ticket's category on the way (a return
    /// often says the ticket was filed under the wrong one).
    Redispatch {
        to: Assignment,
        category: Option<String>,
    },
    PassDown {
        to: String,
        note: Option<String>,
    },
    Accept,
    RecordContact {
        note: Option<String>,
    },
    Return {
        reason: String,
    },
    RejectReturn {
        reason: String,
    },
    RequestExtension {
        reason: String,
        extra: String,
    },
    DecideExtension {
        approve: bool,
        note: Option<String>,
    },
    RequestSuspension {
        reason: String,
    },
    DecideSuspension {
        approve: bool,
        note: Option<String>,
    },
    Resume,
    AssistReply {
        text: String,
    },
    WaiveAssists {
        reason: String,
    },
    Reply {
        outcome: Outcome,
        text: String,
    },
    RecordCallback(CallbackReport),
    Close {
        note: Option<String>,
    },
    Reopen {
        reason: String,
    },
    ClaimCallback,
    Urge {
        note: Option<String>,
    },
    Supervise {
        note: Option<String>,
    },
    RevealCaller {
        reason: Option<String>,
    },
    /// 转接: hand the call off to 119 / 110 / 120 (fire, crime in progress, medical); closes it as 转办.
    HandOff {
        to: String,
        label: Option<String>,
    },
}

impl Command {
    /// The action's name in the API (`/tickets/{id}/{action}`) and in error messages.
    pub fn action(&self) -> &'static str {
        match self {
            Command::ResolveDirectly { .. } => "resolve",
            Command::Dispatch(_) => "dispatch",
            Command::Redispatch { .. } => "redispatch",
            Command::PassDown { .. } => "pass-down",
            Command::Accept => "accept",
            Command::RecordContact { .. } => "contact",
            Command::Return { .. } => "return",
            Command::RejectReturn { .. } => "reject-return",
            Command::RequestExtension { .. } => "request-extension",
            Command::DecideExtension { .. } => "decide-extension",
            Command::RequestSuspension { .. } => "request-suspension",
            Command::DecideSuspension { .. } => "decide-suspension",
            Command::Resume => "resume",
            Command::AssistReply { .. } => "assist-reply",
            Command::WaiveAssists { .. } => "waive-assists",
            Command::Reply { .. } => "reply",
            Command::RecordCallback(_) => "callback",
            Command::ClaimCallback => "claim-callback",
            Command::Close { .. } => "close",
            Command::Reopen { .. } => "reopen",
            Command::Urge { .. } => "urge",
            Command::Supervise { .. } => "supervise",
            Command::RevealCaller { .. } => "reveal-caller",
            Command::HandOff { .. } => "hand-off",
        }
    }
}

#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum DecisionError {
    /// The ticket is in a state where this action makes no sense (409).
    #[error("工单当前状态为「{}」({}), 不能执行 {action}。{hint}", status.label(), status.as_str())]
    IllegalTransition { status: Status, action: &'static str, hint: String },
    /// The actor's role or unit may not do this (403).
    #[error("{0}")]
    Forbidden(String),
    /// A value in the command is wrong (422), naming the field.
    #[error("{message}")]
    Invalid { field: &'static str, message: String },
}

/// What each status allows, for the sentence an illegal transition answers with.
pub fn actions_in(status: Status) -> &'static [&'static str] {
    match status {
        Status::Received => &["dispatch", "resolve", "hand-off", "merge", "close", "urge", "supervise"],
        Status::Dispatched => &[
            "accept",
            "return",
            "pass-down",
            "assist-reply",
            "redispatch",
            "merge",
            "urge",
            "supervise",
            "waive-assists",
        ],
        Status::Accepted => &[
            "reply",
            "contact",
            "return",
            "pass-down",
            "request-extension",
            "request-suspension",
            "assist-reply",
            "redispatch",
            "urge",
            "supervise",
            "waive-assists",
            "decide-extension",
            "decide-suspension",
        ],
        Status::ReturnRequested => &["redispatch", "reject-return", "urge", "supervise"],
        Status::Suspended => &["resume", "assist-reply", "supervise"],
        Status::Replied => &["claim-callback", "callback", "close", "reopen", "supervise"],
        Status::Closed => &["reopen"],
        Status::Merged => &["unmerge"],
    }
}

fn illegal(t: &Ticket, action: &'static str) -> DecisionError {
    let allowed = actions_in(t.status);
    let hint = if allowed.is_empty() {
        "此状态下不能再操作 (no further actions).".to_string()
    } else {
        format!("此状态下可以: {}.", allowed.join(", "))
    };
    DecisionError::IllegalTransition { status: t.status, action, hint }
}

pub(super) fn require_status(t: &Ticket, action: &'static str, allowed: &[Status]) -> Result<(), DecisionError> {
    if allowed.contains(&t.status) {
        Ok(())
    } else {
        Err(illegal(t, action))
    }
}

pub(super) fn require_role(actor: &Actor, action: &str, roles: &[Role]) -> Result<(), DecisionError> {
    if roles.contains(&actor.role) || actor.role == Role::Admin {
        Ok(())
    } else {
        let names: Vec<&str> = roles.iter().map(|r| r.as_str()).collect();
        Err(DecisionError::Forbidden(format!(
            "{} may not {action}; this needs one of: {}",
            actor.role.as_str(),
            names.join(", ")
        )))
    }
}

/// The lead department (or a unit above it) is the one acting.
fn require_lead(t: &Ticket, actor: &Actor, action: &str) -> Result<String, DecisionError> {
    require_role(actor, action, &[Role::Department])?;
    match &t.lead {
        Some(lead) if actor.covers(lead) => Ok(lead.clone()),
        _ => Err(DecisionError::Forbidden(format!(
            "only the lead department (主办单位) may {action}; {} is not in charge of ticket {}",
            actor.department.as_deref().unwrap_or(&actor.username),
            t.number
        ))),
    }
}

pub(super) fn text(field: &'static str, value: &str, required: bool) -> Result<String, DecisionError> {
    let trimmed = value.trim();
    if required && trimmed.is_empty() {
        return Err(DecisionError::Invalid { field, message: format!("{field} must not be empty") });
    }
    if trimmed.chars().count() > MAX_TEXT {
        return Err(DecisionError::Invalid { field, message: format!("{field} is longer than {MAX_TEXT} characters") });
    }
    Ok(trimmed.to_string())
}

fn note(field: &'static str, value: &Option<String>) -> Result<Option<String>, DecisionError> {
    match value {
        Some(v) if !v.trim().is_empty() => Ok(Some(text(field, v, false)?)),
        _ => Ok(None),
    }
}

const CENTRE: &[Role] = &[Role::Operator, Role::Dispatcher, Role::Supervisor];
pub(super) const DISPATCHERS: &[Role] = &[Role::Dispatcher, Role::Supervisor];
const SUPERVISORS: &[Role] = &[Role::Supervisor];

/// Decides what a command does to a ticket: the events to append, or why not. When the
/// ticket's clocks change, a `clocks_changed` event carrying them comes last.
pub fn decide(t: &Ticket, command: &Command, ctx: &Context) -> Result<Vec<EventKind>, DecisionError> {
    let events = decide_events(t, command, ctx)?;
    Ok(with_clocks(t, events, ctx))
}

/// Appends what follows from `events` by itself: the callback to schedule, then the clock
/// changes.
pub fn with_clocks(t: &Ticket, mut events: Vec<EventKind>, ctx: &Context) -> Vec<EventKind> {
    let schedule = events.iter().find_map(|e| match e {
        EventKind::Replied { .. } if t.callback_consent => Some("reply"),
        EventKind::ReplyFollowed { .. } if t.callback_consent => Some("merged_reply"),
        EventKind::ResolvedDirectly { callback_consent: true, .. } => Some("direct_sample"),
        _ => None,
    });
    if let Some(reason) = schedule {
        let next_call_at = ctx.sla.callbacks.next_call_at(ctx.sla.calendar, ctx.now);
        events.push(EventKind::CallbackScheduled { next_call_at, reason: reason.into() });
    }
    let after = preview(t, &events, ctx.now);
    if let Some(clocks) = clocks::follow(t, &after, &events, ctx.now, &ctx.sla) {
        let cause = events.first().map(|e| e.name()).unwrap_or("clock").to_string();
        events.push(EventKind::ClocksChanged { clocks, cause });
    }
    events
}

/// The timers due at `ctx.now`: warnings, overdue, auto-acceptance, the late list.
pub fn decide_timers(t: &Ticket, ctx: &Context) -> Vec<EventKind> {
    let events = clocks::fire_due(t, ctx.now, &ctx.sla);
    if events.is_empty() {
        return events;
    }
    with_clocks(t, events, ctx)
}

/// Recounts open deadlines on a changed calendar.
pub fn decide_recompute(t: &Ticket, ctx: &Context) -> Vec<EventKind> {
    match clocks::recompute(t, ctx.sla.calendar) {
        Some(clocks) => vec![EventKind::ClocksChanged { clocks, cause: "calendar_changed".into() }],
        None => Vec::new(),
    }
}

fn decide_events(t: &Ticket, command: &Command, ctx: &Context) -> Result<Vec<EventKind>, DecisionError> {
    let actor = ctx.actor;
    let action = command.action();
    match command {
        Command::HandOff { to, label } => {
            require_role(actor, action, CENTRE)?;
            require_status(t, action, &[Status::Received])?;
            if !super::rules::HANDOFF_NUMBERS.contains(&to.as_str()) {
                return Err(DecisionError::Invalid {
                    field: "to",
                    message: format!("转接号码 {to} 不是 {} 之一", super::rules::HANDOFF_NUMBERS.join(" / ")),
                });
            }
            Ok(vec![EventKind::HandedOff { to: to.clone(), label: label.clone() }])
        }
        Command::ResolveDirectly { answer, callback_consent, article_id } => {
            require_role(actor, action, CENTRE)?;
            require_status(t, action, &[Status::Received])?;
            // Answers given on the spot are called back only as a sample (or by kind).
            let called_back = ctx.sla.callbacks.wants_callback(t, true, *callback_consent);
            Ok(vec![EventKind::ResolvedDirectly {
                answer: text("answer", answer, true)?,
                callback_consent: called_back,
                article_id: *article_id,
            }])
        }
        Command::Dispatch(a) => {
            require_role(actor, action, CENTRE)?;
            require_status(t, action, &[Status::Received])?;
            let policy = check_assignment(t, a, ctx)?;
            Ok(vec![EventKind::Dispatched {
                lead: a.lead.clone(),
                assists: a.assists.clone(),
                note: note("note", &a.note)?,
                sla_policy: Some(policy),
                rule_id: a.rule_id.clone(),
                rules_version: a.rules_version.clone(),
            }])
        }
        Command::Redispatch { to: a, category } => {
            require_role(actor, action, DISPATCHERS)?;
            require_status(t, action, &[Status::ReturnRequested, Status::Dispatched, Status::Accepted])?;
            if t.lead.as_deref() == Some(a.lead.as_str()) && t.status != Status::ReturnRequested {
                return Err(DecisionError::Invalid {
                    field: "lead",
                    message: format!("ticket {} is already with {}", t.number, a.lead),
                });
            }
            let policy = check_assignment(t, a, ctx)?;
            // Recorded only when the dispatcher changed it, so the history can say so.
            let previous_policy = t.sla_policy.clone().filter(|p| *p != policy);
            // Recorded only when it changes, with the one it replaces.
            let recategorised = match category.as_deref().map(str::trim).filter(|c| !c.is_empty()) {
                Some(c) if !ctx.directory.is_leaf_category(c) => {
                    return Err(DecisionError::Invalid {
                        field: "category",
                        message: format!("\"{c}\" is not a category of the taxonomy's last level (e.g. 03.02.01)"),
                    })
                }
                Some(c) if c != t.category => {
                    Some(Box::new(Recategorised { from: t.category.clone(), to: c.to_string() }))
                }
                _ => None,
            };
            Ok(vec![EventKind::Redispatched {
                lead: a.lead.clone(),
                assists: a.assists.clone(),
                note: note("note", &a.note)?,
                sla_policy: Some(policy),
                previous_policy,
                rule_id: a.rule_id.clone(),
                rules_version: a.rules_version.clone(),
                previous_lead: t.lead.clone(),
                return_of: t.return_request.as_ref().map(|r| r.department.clone()),
                recategorised,
            }])
        }
        Command::PassDown { to, note: n } => {
            let lead = require_lead(t, actor, action)?;
            require_status(t, action, &[Status::Dispatched, Status::Accepted])?;
            if !ctx.directory.is_below(to, &lead) {
                return Err(DecisionError::Invalid {
                    field: "to",
                    message: format!("{to} is not a sub-unit of {lead}; a ticket can only be passed down the tree"),
                });
            }
            Ok(vec![EventKind::PassedDown { from: lead, to: to.clone(), note: note("note", n)? }])
        }
        Command::Accept => {
            let lead = require_lead(t, actor, action)?;
            require_status(t, action, &[Status::Dispatched])?;
            let late = t.accept_due_at.is_some_and(|due| ctx.now > due);
            Ok(vec![EventKind::Accepted { department: lead, late, automatic: false }])
        }
        Command::RecordContact { note: n } => {
            let lead = require_lead(t, actor, action)?;
            require_status(t, action, &[Status::Accepted])?;
            if t.contacted_at.is_some() {
                return Err(DecisionError::Invalid {
                    field: "note",
                    message: "the first contact is already recorded".into(),
                });
            }
            Ok(vec![EventKind::ResidentContacted { department: lead, note: note("note", n)? }])
        }
        Command::Return { reason } => {
            let lead = require_lead(t, actor, action)?;
            require_status(t, action, &[Status::Dispatched, Status::Accepted])?;
            Ok(vec![EventKind::Returned {
                department: lead,
                reason: text("reason", reason, true)?,
                back_to: t.passed_down_from.clone(),
            }])
        }
        Command::RejectReturn { reason } => {
            require_role(actor, action, DISPATCHERS)?;
            require_status(t, action, &[Status::ReturnRequested])?;
            let department = t.return_request.as_ref().map(|r| r.department.clone()).unwrap_or_default();
            Ok(vec![EventKind::ReturnRejected { department, reason: text("reason", reason, true)? }])
        }
        Command::RequestExtension { reason, extra } => {
            let lead = require_lead(t, actor, action)?;
            require_status(t, action, &[Status::Accepted])?;
            if t.pending_extension.is_some() {
                return Err(DecisionError::Invalid {
                    field: "extra",
                    message: "an extension request is already awaiting a supervisor's decision".into(),
                });
            }
            parse_extra(extra)?;
            Ok(vec![EventKind::ExtensionRequested {
                department: lead,
                reason: text("reason", reason, true)?,
                extra: extra.trim().to_string(),
            }])
        }
        Command::DecideExtension { approve, note: n } => {
            require_role(actor, action, SUPERVISORS)?;
            let Some(request) = &t.pending_extension else {
                return Err(DecisionError::Invalid {
                    field: "approve",
                    message: "there is no extension request to decide".into(),
                });
            };
            Ok(vec![EventKind::ExtensionDecided {
                approved: *approve,
                note: note("note", n)?,
                extra: request.extra.clone(),
            }])
        }
        Command::RequestSuspension { reason } => {
            let lead = require_lead(t, actor, action)?;
            require_status(t, action, &[Status::Accepted])?;
            if t.pending_suspension.is_some() {
                return Err(DecisionError::Invalid {
                    field: "reason",
                    message: "a suspension request is already awaiting a supervisor's decision".into(),
                });
            }
            Ok(vec![EventKind::SuspensionRequested { department: lead, reason: text("reason", reason, true)? }])
        }
        Command::DecideSuspension { approve, note: n } => {
            require_role(actor, action, SUPERVISORS)?;
            if t.pending_suspension.is_none() {
                return Err(DecisionError::Invalid {
                    field: "approve",
                    message: "there is no suspension request to decide".into(),
                });
            }
            require_status(t, action, &[Status::Accepted])?;
            Ok(vec![EventKind::SuspensionDecided { approved: *approve, note: note("note", n)? }])
        }
        Command::Resume => {
            if actor.role != Role::Supervisor && actor.role != Role::Admin {
                require_lead(t, actor, action)?;
            }
            require_status(t, action, &[Status::Suspended])?;
            Ok(vec![EventKind::Resumed { resume_status: Status::Accepted }])
        }
        Command::AssistReply { text: body } => {
            require_role(actor, action, &[Role::Department])?;
            require_status(t, action, &[Status::Dispatched, Status::Accepted, Status::Suspended])?;
            let Some(assist) = t.assists.iter().find(|a| actor.covers(&a.department)) else {
                return Err(DecisionError::Forbidden(format!(
                    "{} is not an assisting department (协办单位) of ticket {}",
                    actor.department.as_deref().unwrap_or(&actor.username),
                    t.number
                )));
            };
            if assist.replied_at.is_some() {
                return Err(DecisionError::Invalid {
                    field: "text",
                    message: format!("{} has already answered the lead department", assist.department),
                });
            }
            Ok(vec![EventKind::AssistReplied {
                department: assist.department.clone(),
                text: text("text", body, true)?,
            }])
        }
        Command::WaiveAssists { reason } => {
            require_role(actor, action, SUPERVISORS)?;
            require_status(t, action, &[Status::Dispatched, Status::Accepted, Status::Suspended])?;
            let outstanding: Vec<String> = t.assists_outstanding().into_iter().map(String::from).collect();
            if outstanding.is_empty() {
                return Err(DecisionError::Invalid {
                    field: "reason",
                    message: "no assisting department is still to answer".into(),
                });
            }
            Ok(vec![EventKind::AssistsWaived { reason: text("reason", reason, true)?, departments: outstanding }])
        }
        Command::Reply { outcome, text: body } => {
            let lead = require_lead(t, actor, action)?;
            if t.status == Status::Dispatched {
                return Err(DecisionError::IllegalTransition {
                    status: t.status,
                    action,
                    hint: "请先签收 (accept) 再回复.".into(),
                });
            }
            require_status(t, action, &[Status::Accepted])?;
            let outstanding = t.assists_outstanding();
            if !outstanding.is_empty() {
                return Err(DecisionError::IllegalTransition {
                    status: t.status,
                    action,
                    hint: format!(
                        "协办单位尚未答复: {}. Wait for their answers, or ask a supervisor to waive them (waive-assists).",
                        outstanding.join(", ")
                    ),
                });
            }
            if let Some(category) = ctx.directory.reply_photo_required(&t.category) {
                if !super::attachments::has_reply_photo(t, &lead) {
                    return Err(DecisionError::Invalid {
                        field: "attachments",
                        message: format!(
                            "「{category}」类工单的办结回复须附现场照片：请先上传照片 (POST /api/v1/tickets/{}/attachments, purpose=reply) 再回复",
                            t.number
                        ),
                    });
                }
            }
            let late = !clocks::reply_on_time(&t.clocks, ctx.now);
            Ok(vec![EventKind::Replied {
                department: lead,
                outcome: *outcome,
                text: text("text", body, true)?,
                late: Some(late),
            }])
        }
        Command::RecordCallback(report) => {
            require_role(actor, action, CENTRE)?;
            require_status(t, action, &[Status::Replied])?;
            if let Some(by) = t.callback.as_ref().and_then(|c| c.claimed_by_other(&actor.username, ctx.now)) {
                return Err(DecisionError::Forbidden(format!("{by} is calling this resident now (回访已被认领)")));
            }
            record_callback(t, report, ctx)
        }
        Command::ClaimCallback => {
            require_role(actor, action, CENTRE)?;
            require_status(t, action, &[Status::Replied])?;
            let Some(task) = t.callback.as_ref().filter(|c| !c.unreachable) else {
                return Err(DecisionError::Invalid {
                    field: "ticket",
                    message: "this ticket has no callback to make".into(),
                });
            };
            if let Some(by) = task.claimed_by_other(&actor.username, ctx.now) {
                return Err(DecisionError::Forbidden(format!("{by} is calling this resident now (回访已被认领)")));
            }
            let until = ctx.now + chrono::Duration::minutes(ctx.sla.callbacks.claim_minutes);
            Ok(vec![EventKind::CallbackClaimed { by: actor.username.clone(), until }])
        }
        Command::Close { note: n } => {
            require_role(actor, action, SUPERVISORS)?;
            require_status(t, action, &[Status::Replied, Status::Received])?;
            Ok(vec![EventKind::Closed { note: note("note", n)? }])
        }
        Command::Reopen { reason } => {
            require_role(actor, action, SUPERVISORS)?;
            require_status(t, action, &[Status::Replied, Status::Closed])?;
            if t.lead.is_none() {
                return Err(DecisionError::Invalid {
                    field: "reason",
                    message: "this ticket was resolved directly and has no department to reopen it to; dispatch a new ticket instead".into(),
                });
            }
            Ok(vec![reopen(t, text("reason", reason, true)?)])
        }
        Command::Urge { note: n } => {
            require_role(actor, action, CENTRE)?;
            require_status(
                t,
                action,
                &[Status::Dispatched, Status::Accepted, Status::ReturnRequested, Status::Received],
            )?;
            Ok(vec![EventKind::Urged { note: note("note", n)? }])
        }
        Command::Supervise { note: n } => {
            require_role(actor, action, SUPERVISORS)?;
            if !t.status.is_open() {
                return Err(illegal(t, action));
            }
            if t.supervised {
                return Err(DecisionError::Invalid {
                    field: "note",
                    message: format!("ticket {} is already supervised (督办)", t.number),
                });
            }
            Ok(vec![EventKind::Supervised { note: note("note", n)? }])
        }
        Command::RevealCaller { reason } => {
            require_role(actor, action, &[Role::Operator, Role::Dispatcher, Role::Supervisor])?;
            if !t.confidential {
                return Err(DecisionError::Invalid {
                    field: "reason",
                    message: "the caller of this ticket is not confidential".into(),
                });
            }
            Ok(vec![EventKind::CallerRevealed { reason: note("reason", reason)? }])
        }
    }
}

/// Merging (并单) needs both tickets: `source` is folded into `target`.
pub fn decide_merge(source: &Ticket, target: &Ticket, ctx: &Context) -> Result<(EventKind, EventKind), DecisionError> {
    require_role(ctx.actor, "merge", CENTRE)?;
    require_status(source, "merge", &[Status::Received, Status::Dispatched])?;
    if source.id == target.id {
        return Err(DecisionError::Invalid { field: "into", message: "a ticket cannot be merged into itself".into() });
    }
    if !target.status.is_open() {
        return Err(DecisionError::Invalid {
            field: "into",
            message: format!("ticket {} is {} and cannot absorb another ticket", target.number, target.status.label()),
        });
    }
    Ok((EventKind::Merged { into: target.id }, EventKind::MergeReceived { from: source.id }))
}

/// Checks the departments and the policy of an assignment; returns the policy's name.
fn check_assignment(t: &Ticket, a: &Assignment, ctx: &Context) -> Result<String, DecisionError> {
    if !ctx.directory.department_exists(&a.lead) {
        return Err(DecisionError::Invalid { field: "lead", message: format!("unknown department \"{}\"", a.lead) });
    }
    for assist in &a.assists {
        if !ctx.directory.department_exists(assist) {
            return Err(DecisionError::Invalid {
                field: "assists",
                message: format!("unknown department \"{assist}\""),
            });
        }
        if assist == &a.lead {
            return Err(DecisionError::Invalid {
                field: "assists",
                message: format!("{assist} is the lead department and cannot also assist"),
            });
        }
    }
    let mut seen = std::collections::HashSet::new();
    if let Some(dup) = a.assists.iter().find(|d| !seen.insert(d.as_str())) {
        return Err(DecisionError::Invalid { field: "assists", message: format!("{dup} is listed twice") });
    }
    // A re-dispatch keeps the policy the ticket has (a utility outage stays on utility time)
    // unless the dispatcher names another; a first dispatch takes the default for its urgency.
    let policy = a
        .policy
        .clone()
        .or_else(|| t.sla_policy.clone().filter(|p| ctx.sla.policies.get(p).is_some()))
        .unwrap_or_else(|| ctx.sla.default_policy(t).name.clone());
    if ctx.sla.policies.get(&policy).is_none() {
        return Err(DecisionError::Invalid { field: "policy", message: format!("unknown SLA policy \"{policy}\"") });
    }
    Ok(policy)
}

fn reopen(t: &Ticket, reason: String) -> EventKind {
    EventKind::Reopened { department: t.lead.clone(), reason }
}

fn parse_extra(extra: &str) -> Result<SlaDuration, DecisionError> {
    let invalid = |message: String| DecisionError::Invalid { field: "extra", message };
    let d: SlaDuration = extra.trim().parse().map_err(|e| invalid(format!("extra: {e}")))?;
    if d.amount == 0 {
        return Err(invalid("extra: an extension must add some time".into()));
    }
    Ok(d)
}

fn record_callback(t: &Ticket, report: &CallbackReport, ctx: &Context) -> Result<Vec<EventKind>, DecisionError> {
    let comment = note("comment", &report.comment)?;
    if !report.reached {
        if report.failure.is_none() {
            return Err(DecisionError::Invalid {
                field: "failure",
                message: "say why the resident was not reached: no_answer, busy or wrong_number".into(),
            });
        }
        let mut events = vec![EventKind::CallbackRecorded {
            reached: false,
            failure: report.failure,
            solved: None,
            satisfaction: None,
            comment,
            department: t.lead.clone(),
        }];
        let attempts = t.callback_attempts + 1;
        if attempts >= ctx.sla.callbacks.max_attempts {
            events.push(EventKind::CallbackUnreachable { attempts });
            events.push(EventKind::Closed { note: Some(format!("回访{attempts}次未能联系市民")) });
        } else {
            let next_call_at = ctx.sla.callbacks.retry_at(ctx.sla.calendar, ctx.now);
            events.push(EventKind::CallbackScheduled { next_call_at, reason: "retry".into() });
        }
        return Ok(events);
    }
    let solved = report.solved.ok_or(DecisionError::Invalid {
        field: "solved",
        message: "a reached resident's answer to \"was it solved?\" is required: yes, partly or no".into(),
    })?;
    let satisfaction = report.satisfaction.ok_or(DecisionError::Invalid {
        field: "satisfaction",
        message: "satisfaction is required: satisfied, basically_satisfied or dissatisfied".into(),
    })?;
    let mut events = vec![EventKind::CallbackRecorded {
        reached: true,
        failure: None,
        solved: Some(solved),
        satisfaction: Some(satisfaction),
        comment,
        department: t.lead.clone(),
    }];
    let unhappy = satisfaction == Satisfaction::Dissatisfied || solved == Solved::No;
    if !unhappy {
        events.push(EventKind::Closed { note: None });
    } else if t.lead.is_none() || t.reopens >= MAX_REOPENS {
        // Reopening again would only repeat what failed; a supervisor decides instead.
        if !t.supervised {
            events.push(EventKind::Supervised {
                note: Some(format!("回访不满意, 已重办 {} 次, 转督办审核", t.reopens)),
            });
        }
    } else {
        events.push(reopen(t, "回访不满意或未解决, 重办".into()));
    }
    Ok(events)
}

#[cfg(test)]
#[path = "lifecycle_tests.rs"]
mod tests;
