//! The ticket (工单) as a projection of its events.
//!
//! The event log is the truth; [`Ticket`] is what [`apply`] folds out of it. `apply` is the
//! only code that changes a ticket, so replaying a ticket's events from nothing gives exactly
//! the row the store holds (`hotline rebuild` checks this).

use super::clocks::{self, AssignmentClock};
use super::event::{Event, EventKind};
use super::types::{Channel, Kind, Outcome, Satisfaction, Solved, Status, Urgency};
use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};

/// A department helping the lead (协办). It answers the lead, not the resident.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, utoipa::ToSchema)]
pub struct Assist {
    pub department: String,
    pub replied_at: Option<DateTime<Utc>>,
    pub reply: Option<String>,
    /// A supervisor let the lead reply without this department's answer.
    pub waived: bool,
}

/// A request awaiting a supervisor's decision.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, utoipa::ToSchema)]
pub struct PendingRequest {
    pub department: String,
    pub reason: String,
    /// For extensions: how much more time, e.g. "3wd".
    pub extra: Option<String>,
    pub requested_at: DateTime<Utc>,
}

/// A return (退单) awaiting the centre's review, and where to go back to if it is rejected.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, utoipa::ToSchema)]
pub struct ReturnRequest {
    pub department: String,
    pub reason: String,
    pub previous_status: Status,
    pub requested_at: DateTime<Utc>,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, utoipa::ToSchema)]
pub struct CallbackResult {
    pub reached: bool,
    pub solved: Option<Solved>,
    pub satisfaction: Option<Satisfaction>,
    pub comment: Option<String>,
    /// The department the rating counts for, frozen when it was given.
    pub department: Option<String>,
    pub at: DateTime<Utc>,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, utoipa::ToSchema)]
pub struct Ticket {
    pub id: i64,
    /// Human-readable, unique and ordered: `20261122-000123` (date in Asia/Shanghai).
    pub number: String,
    pub status: Status,
    pub kind: Kind,
    pub channel: Channel,
    pub urgency: Urgency,
    pub category: String,
    pub street: Option<String>,
    pub community: Option<String>,
    pub address: String,
    pub content: String,
    pub caller_name: String,
    pub caller_phone: String,
    /// 保密: departments never see the caller's name or phone.
    pub confidential: bool,
    /// The resident agreed to be called back.
    pub callback_consent: bool,
    /// The unit now responsible (主办). After a pass-down, the sub-unit.
    pub lead: Option<String>,
    /// The unit that passed the ticket down (二级派单), which gets it back on a return.
    pub passed_down_from: Option<String>,
    pub assists: Vec<Assist>,
    pub dispatched_at: Option<DateTime<Utc>>,
    pub accepted_at: Option<DateTime<Utc>>,
    pub replied_at: Option<DateTime<Utc>>,
    pub closed_at: Option<DateTime<Utc>>,
    pub sla_policy: Option<String>,
    /// The lead's accept deadline while unaccepted (from its clock).
    pub accept_due_at: Option<DateTime<Utc>>,
    /// The lead's reply deadline (from its clock).
    pub reply_due_at: Option<DateTime<Utc>>,
    /// Every stage clock of the current assignment, and the centre's callback clock.
    #[serde(default)]
    pub clocks: Vec<AssignmentClock>,
    /// 首次联系: when the department reached the resident.
    #[serde(default)]
    pub contacted_at: Option<DateTime<Utc>>,
    /// 通报: on the published late list.
    #[serde(default)]
    pub late_listed: bool,
    /// The callback still to be made, if any.
    #[serde(default)]
    pub callback: Option<super::callbacks::CallbackTask>,
    pub outcome: Option<Outcome>,
    pub reply: Option<String>,
    /// Set when an operator answered it on the spot (直接办结).
    pub resolved_directly: bool,
    pub return_request: Option<ReturnRequest>,
    pub pending_extension: Option<PendingRequest>,
    pub pending_suspension: Option<PendingRequest>,
    pub suspended_at: Option<DateTime<Utc>>,
    pub returns: i64,
    /// 改派: how often the centre sent it elsewhere after dispatch.
    #[serde(default)]
    pub redispatches: i64,
    pub reopens: i64,
    pub urges: i64,
    pub supervised: bool,
    pub callback_attempts: i64,
    pub last_callback: Option<CallbackResult>,
    pub merged_into: Option<i64>,
    pub merged_from: Vec<i64>,
    pub rule_id: Option<String>,
    pub rules_version: Option<String>,
    /// 可能紧急: the emergency an intake rule proposed, and what the operator decided.
    #[serde(default)]
    pub emergency: Option<EmergencyRecord>,
    /// 转办: the emergency number the call was handed off to (119 / 110 / 120).
    #[serde(default)]
    pub handed_off_to: Option<String>,
    /// 附件, oldest first (who may see which: [`super::attachments::visible`]).
    #[serde(default)]
    pub attachments: Vec<super::attachments::Attachment>,
    pub created_at: DateTime<Utc>,
    pub updated_at: DateTime<Utc>,
    /// Number of events applied; a cheap check that a projection is current.
    pub version: i64,
}

/// 可能紧急 as the ticket keeps it.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, utoipa::ToSchema)]
pub struct EmergencyRecord {
    pub rule_id: String,
    pub label: String,
    pub handoff: Option<String>,
    pub decision: super::emergency::EmergencyDecision,
}

impl Ticket {
    /// Every unit that may see this ticket because it is assigned to it now.
    pub fn assigned_units(&self) -> impl Iterator<Item = &str> {
        self.lead.iter().map(String::as_str).chain(self.assists.iter().map(|a| a.department.as_str()))
    }

    pub fn assists_outstanding(&self) -> Vec<&str> {
        self.assists.iter().filter(|a| a.replied_at.is_none() && !a.waived).map(|a| a.department.as_str()).collect()
    }

    /// What someone at the centre must decide: `return`, `extension` or `suspension`.
    pub fn awaiting_decision(&self) -> Option<&'static str> {
        if self.return_request.is_some() {
            Some("return")
        } else if self.pending_extension.is_some() {
            Some("extension")
        } else if self.pending_suspension.is_some() {
            Some("suspension")
        } else {
            None
        }
    }

    pub fn is_overdue(&self, now: DateTime<Utc>) -> bool {
        self.status.is_open()
            && !matches!(self.status, Status::Replied | Status::Suspended)
            && self.reply_due_at.is_some_and(|due| due < now)
    }
}

/// Folds one event into the ticket. `None` only before the first (`Received`) event.
///
/// Panics on an event that cannot follow the current state: events are only ever written
/// after [`super::decide`] accepted them, so this is a corrupted log, not user input.
pub fn apply(ticket: Option<Ticket>, event: &Event) -> Ticket {
    let at = event.at;
    let mut t = match (ticket, &event.kind) {
        (None, EventKind::Received(r)) => {
            return Ticket {
                id: event.ticket_id,
                number: r.number.clone(),
                status: Status::Received,
                kind: r.kind,
                channel: r.channel,
                urgency: r.urgency,
                category: r.category.clone(),
                street: r.street.clone(),
                community: r.community.clone(),
                address: r.address.clone(),
                content: r.content.clone(),
                caller_name: r.caller_name.clone(),
                caller_phone: r.caller_phone.clone(),
                confidential: r.confidential,
                callback_consent: r.callback_consent,
                lead: None,
                passed_down_from: None,
                assists: Vec::new(),
                dispatched_at: None,
                accepted_at: None,
                replied_at: None,
                closed_at: None,
                sla_policy: None,
                accept_due_at: None,
                reply_due_at: None,
                clocks: Vec::new(),
                contacted_at: None,
                late_listed: false,
                callback: None,
                outcome: None,
                reply: None,
                resolved_directly: false,
                return_request: None,
                pending_extension: None,
                pending_suspension: None,
                suspended_at: None,
                returns: 0,
                redispatches: 0,
                reopens: 0,
                urges: 0,
                supervised: false,
                callback_attempts: 0,
                last_callback: None,
                merged_into: None,
                merged_from: Vec::new(),
                rule_id: None,
                rules_version: None,
                emergency: None,
                handed_off_to: None,
                attachments: Vec::new(),
                created_at: at,
                updated_at: at,
                version: 1,
            }
        }
        (Some(t), EventKind::Received(_)) => panic!("ticket {} received twice", t.id),
        (None, other) => panic!("event {} before the ticket was received", other.name()),
        (Some(t), _) => t,
    };
    t.updated_at = at;
    t.version += 1;
    match &event.kind {
        EventKind::Received(_) => unreachable!(),
        EventKind::ResolvedDirectly { answer, callback_consent, .. } => {
            t.resolved_directly = true;
            t.reply = Some(answer.clone());
            t.outcome = Some(Outcome::Explained);
            t.replied_at = Some(at);
            t.callback_consent = *callback_consent;
            if *callback_consent {
                t.status = Status::Replied;
            } else {
                t.status = Status::Closed;
                t.closed_at = Some(at);
            }
        }
        EventKind::Dispatched { lead, assists, sla_policy, rule_id, rules_version, .. }
        | EventKind::Redispatched { lead, assists, sla_policy, rule_id, rules_version, .. } => {
            if let EventKind::Redispatched { recategorised, .. } = &event.kind {
                t.redispatches += 1;
                if let Some(r) = recategorised {
                    t.category = r.to.clone();
                }
            }
            t.status = Status::Dispatched;
            t.lead = Some(lead.clone());
            t.passed_down_from = None;
            t.assists = assists
                .iter()
                .map(|d| Assist { department: d.clone(), replied_at: None, reply: None, waived: false })
                .collect();
            t.dispatched_at = Some(at);
            t.accepted_at = None;
            t.return_request = None;
            t.pending_extension = None;
            t.pending_suspension = None;
            t.sla_policy = sla_policy.clone();
            // The rule that first routed the ticket stays on it, so the catalogue can learn
            // from where its tickets ended up (改派 by hand names no rule).
            if rule_id.is_some() || t.rule_id.is_none() {
                t.rule_id = rule_id.clone();
                t.rules_version = rules_version.clone();
            }
        }
        EventKind::PassedDown { from, to, .. } => {
            t.status = Status::Dispatched;
            t.passed_down_from = Some(from.clone());
            t.lead = Some(to.clone());
            t.accepted_at = None;
        }
        EventKind::Accepted { .. } => {
            t.status = Status::Accepted;
            t.accepted_at = Some(at);
        }
        EventKind::Returned { department, reason, .. } => {
            t.returns += 1;
            match t.passed_down_from.take() {
                // A sub-unit hands it back to the unit that passed it down, which already owns it.
                Some(parent) => {
                    t.lead = Some(parent);
                    t.status = Status::Accepted;
                }
                None => {
                    t.return_request = Some(ReturnRequest {
                        department: department.clone(),
                        reason: reason.clone(),
                        previous_status: t.status,
                        requested_at: at,
                    });
                    t.status = Status::ReturnRequested;
                }
            }
        }
        EventKind::ReturnRejected { .. } => {
            let request = t.return_request.take().expect("return request present");
            t.status = request.previous_status;
        }
        EventKind::ExtensionRequested { department, reason, extra } => {
            t.pending_extension = Some(PendingRequest {
                department: department.clone(),
                reason: reason.clone(),
                extra: Some(extra.clone()),
                requested_at: at,
            });
        }
        EventKind::ExtensionDecided { .. } => {
            t.pending_extension = None;
        }
        EventKind::SuspensionRequested { department, reason } => {
            t.pending_suspension = Some(PendingRequest {
                department: department.clone(),
                reason: reason.clone(),
                extra: None,
                requested_at: at,
            });
        }
        EventKind::SuspensionDecided { approved, .. } => {
            t.pending_suspension = None;
            if *approved {
                t.status = Status::Suspended;
                t.suspended_at = Some(at);
            }
        }
        EventKind::Resumed { resume_status } => {
            t.status = *resume_status;
            t.suspended_at = None;
        }
        EventKind::AssistReplied { department, text } => {
            if let Some(a) = t.assists.iter_mut().find(|a| &a.department == department) {
                a.replied_at = Some(at);
                a.reply = Some(text.clone());
            }
        }
        EventKind::AssistsWaived { .. } => {
            for a in t.assists.iter_mut().filter(|a| a.replied_at.is_none()) {
                a.waived = true;
            }
        }
        EventKind::Replied { outcome, text, .. } => {
            t.status = Status::Replied;
            t.outcome = Some(*outcome);
            t.reply = Some(text.clone());
            t.replied_at = Some(at);
            t.pending_extension = None;
            t.pending_suspension = None;
        }
        EventKind::CallbackRecorded { reached, solved, satisfaction, comment, department, .. } => {
            t.callback_attempts += 1;
            if let Some(task) = t.callback.as_mut() {
                task.claimed_by = None;
                task.claimed_until = None;
            }
            t.last_callback = Some(CallbackResult {
                reached: *reached,
                solved: *solved,
                satisfaction: *satisfaction,
                comment: comment.clone(),
                department: department.clone(),
                at,
            });
        }
        EventKind::Reopened { .. } => {
            t.reopens += 1;
            t.callback = None;
            t.status = Status::Accepted;
            t.outcome = None;
            t.reply = None;
            t.replied_at = None;
            for a in t.assists.iter_mut() {
                a.replied_at = None;
                a.reply = None;
                a.waived = false;
            }
        }
        EventKind::Closed { .. } => {
            t.status = Status::Closed;
            t.closed_at = Some(at);
            if let Some(task) = t.callback.as_mut().filter(|task| !task.unreachable) {
                // Nothing left to call about.
                task.claimed_by = None;
                task.claimed_until = None;
            }
        }
        EventKind::Merged { into } => {
            t.status = Status::Merged;
            t.merged_into = Some(*into);
            t.closed_at = Some(at);
        }
        EventKind::MergeReceived { from } => {
            t.merged_from.push(*from);
        }
        EventKind::ReplyFollowed { outcome, text, .. } => {
            t.status = Status::Replied;
            t.outcome = Some(*outcome);
            t.reply = Some(text.clone());
            t.replied_at = Some(at);
        }
        EventKind::Unmerged { .. } => {
            // Back to the dispatch queue as a ticket of its own: whatever assignment it had
            // before the merge was stopped by it, and the dispatchers decide afresh.
            t.status = Status::Received;
            t.merged_into = None;
            t.closed_at = None;
            t.lead = None;
            t.passed_down_from = None;
            t.assists.clear();
            t.dispatched_at = None;
            t.accepted_at = None;
            t.accept_due_at = None;
            t.reply_due_at = None;
        }
        EventKind::MergeUndone { from } => {
            t.merged_from.retain(|id| id != from);
        }
        EventKind::Urged { .. } => t.urges += 1,
        EventKind::Supervised { .. } => t.supervised = true,
        EventKind::CallerRevealed { .. } | EventKind::PartnerFiled { .. } | EventKind::MediaFetchFailed { .. } => {}
        EventKind::AttachmentAdded(a) => t.attachments.push(a.clone()),
        EventKind::ResidentContacted { .. } => {
            t.contacted_at = Some(at);
        }
        EventKind::CallbackScheduled { next_call_at, .. } => {
            t.callback = Some(super::callbacks::CallbackTask {
                next_call_at: *next_call_at,
                claimed_by: None,
                claimed_until: None,
                unreachable: false,
            });
        }
        EventKind::CallbackClaimed { by, until } => {
            if let Some(task) = t.callback.as_mut() {
                task.claimed_by = Some(by.clone());
                task.claimed_until = Some(*until);
            }
        }
        EventKind::CallbackUnreachable { .. } => {
            if let Some(task) = t.callback.as_mut() {
                task.unreachable = true;
                task.claimed_by = None;
                task.claimed_until = None;
            }
        }
        EventKind::ClocksChanged { clocks, .. } => {
            t.clocks = clocks.clone();
            (t.accept_due_at, t.reply_due_at) = clocks::lead_deadlines(&t.clocks);
        }
        kind @ (EventKind::ClockWarned { .. } | EventKind::ClockOverdue { .. }) => {
            clocks::record_fired(&mut t.clocks, kind, at);
        }
        kind @ EventKind::LateListed { .. } => {
            clocks::record_fired(&mut t.clocks, kind, at);
            t.late_listed = true;
        }
        EventKind::EmergencyProposed { rule_id, label, handoff, decision, .. } => {
            t.emergency = Some(EmergencyRecord {
                rule_id: rule_id.clone(),
                label: label.clone(),
                handoff: handoff.clone(),
                decision: *decision,
            });
        }
        EventKind::HandedOff { to, .. } => {
            t.handed_off_to = Some(to.clone());
            t.status = Status::Closed;
            t.closed_at = Some(at);
        }
        // Only history: the operator reads it there.
        EventKind::ResidentTexted { .. } => {}
    }
    t
}

/// The ticket as it would be after `kinds`, for deciding what follows from them.
pub fn preview(ticket: &Ticket, kinds: &[EventKind], at: DateTime<Utc>) -> Ticket {
    let actor = super::event::ActorRef {
        user_id: 0,
        username: String::new(),
        role: super::types::Role::Admin,
        department: None,
    };
    kinds.iter().fold(ticket.clone(), |t, kind| {
        let event = Event { seq: 0, ticket_id: t.id, at, actor: actor.clone(), kind: kind.clone() };
        apply(Some(t), &event)
    })
}

/// Every unit an event concerns: those the ticket is with now, and one it has just left (so
/// that unit's board can drop it).
pub fn units_concerned(event: &Event, ticket: Option<&Ticket>) -> Vec<String> {
    let mut units: Vec<String> = ticket.map(|t| t.assigned_units().map(String::from).collect()).unwrap_or_default();
    match &event.kind {
        EventKind::Redispatched { previous_lead: Some(previous), .. } => units.push(previous.clone()),
        EventKind::PassedDown { from, .. } => units.push(from.clone()),
        EventKind::Returned { department, .. } => units.push(department.clone()),
        _ => {}
    }
    units.sort();
    units.dedup();
    units
}

/// Replays a ticket's whole history.
pub fn replay<'a>(events: impl IntoIterator<Item = &'a Event>) -> Option<Ticket> {
    events.into_iter().fold(None, |t, e| Some(apply(t, e)))
}
