//! Events: what happened to a ticket, in the order it happened.
//!
//! Each event carries one global, gap-free sequence number given by the store, so a reader
//! (history view, websocket stream, KPI report, search feed) can resume from the last number
//! it saw.

use super::clocks::AssignmentClock;
use super::sla::Stage;
use super::types::{CallbackFailure, Channel, Kind, Outcome, Role, Satisfaction, Solved, Status, Urgency};
use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};

/// Who caused an event, as it was at the time.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, utoipa::ToSchema)]
pub struct ActorRef {
    pub user_id: i64,
    pub username: String,
    pub role: Role,
    pub department: Option<String>,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, utoipa::ToSchema)]
pub struct Event {
    pub seq: i64,
    pub ticket_id: i64,
    pub at: DateTime<Utc>,
    pub actor: ActorRef,
    #[serde(flatten)]
    pub kind: EventKind,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, utoipa::ToSchema)]
pub struct Received {
    pub number: String,
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
    pub confidential: bool,
    pub callback_consent: bool,
    /// The telephone call (CTI call id) the ticket was logged during, if any: the ticket's
    /// history names it, and its call record (with the recording) is linked to the ticket.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub call_id: Option<String>,
}

/// A category corrected on 改派: the ticket is filed under `to` (a leaf) from then on, and
/// intake assistance learns it as the ticket's category; `from` is the one it had.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, utoipa::ToSchema)]
pub struct Recategorised {
    pub from: String,
    pub to: String,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, utoipa::ToSchema)]
#[serde(tag = "type", content = "data", rename_all = "snake_case")]
pub enum EventKind {
    /// 受理.
    Received(Received),
    /// 直接办结: answered on the spot, no department involved.
    ResolvedDirectly {
        answer: String,
        callback_consent: bool,
        article_id: Option<i64>,
    },
    /// 派单.
    Dispatched {
        lead: String,
        assists: Vec<String>,
        note: Option<String>,
        sla_policy: Option<String>,
        rule_id: Option<String>,
        rules_version: Option<String>,
    },
    /// 改派: to another department after a return, or by a dispatcher's decision.
    Redispatched {
        lead: String,
        assists: Vec<String>,
        note: Option<String>,
        sla_policy: Option<String>,
        /// The policy the ticket had, when this re-dispatch changed it (absent: unchanged, or
        /// an event written before it was recorded).
        #[serde(default, skip_serializing_if = "Option::is_none")]
        previous_policy: Option<String>,
        rule_id: Option<String>,
        rules_version: Option<String>,
        previous_lead: Option<String>,
        /// The department whose return (退单) this re-dispatch grants, when one was pending.
        /// Recorded so the return can be judged valid from this event alone (see `late` on
        /// [`EventKind::Replied`]); absent in events written before it was.
        #[serde(default)]
        return_of: Option<String>,
        /// The category the dispatcher corrected the ticket to: present only when this
        /// re-dispatch changed it. (Boxed: it is rare, and every event is as large as the
        /// largest kind.)
        #[serde(default, skip_serializing_if = "Option::is_none")]
        recategorised: Option<Box<Recategorised>>,
    },
    /// 二级派单: a unit passes the ticket down to one of its sub-units.
    PassedDown {
        from: String,
        to: String,
        note: Option<String>,
    },
    /// 签收; `automatic` when nobody accepted in time and the server did (counted late).
    Accepted {
        department: String,
        late: bool,
        #[serde(default)]
        automatic: bool,
    },
    /// 首次联系: the department reached the resident.
    ResidentContacted {
        department: String,
        note: Option<String>,
    },
    /// 退单, with the department's reason. `back_to`: the unit that passed the ticket down,
    /// which takes it back without the centre's review (absent for a return to the centre,
    /// and in events written before it was recorded).
    Returned {
        department: String,
        reason: String,
        #[serde(default)]
        back_to: Option<String>,
    },
    /// The centre refused the return: the department keeps the ticket.
    ReturnRejected {
        department: String,
        reason: String,
    },
    /// 申请延期.
    ExtensionRequested {
        department: String,
        reason: String,
        extra: String,
    },
    ExtensionDecided {
        approved: bool,
        note: Option<String>,
        /// The extension granted, e.g. `3wd`.
        extra: Option<String>,
    },
    /// 申请挂起.
    SuspensionRequested {
        department: String,
        reason: String,
    },
    SuspensionDecided {
        approved: bool,
        note: Option<String>,
    },
    /// The clock runs again with what was left of it.
    Resumed {
        resume_status: Status,
    },
    /// An assisting department's answer to the lead.
    AssistReplied {
        department: String,
        text: String,
    },
    /// A supervisor let the lead reply without the outstanding assisting answers.
    AssistsWaived {
        reason: String,
        departments: Vec<String>,
    },
    /// 办结回复. `late`: the reply missed the lead's reply deadline in force
    /// ([`crate::domain::clocks::reply_on_time`]), recorded when it happened so that the
    /// assessment reads the verdict instead of re-deriving it from the clocks. `None` only in
    /// replies written before the verdict was recorded (judged from the clocks then).
    Replied {
        department: String,
        outcome: Outcome,
        text: String,
        #[serde(default)]
        late: Option<bool>,
    },
    /// 回访.
    CallbackRecorded {
        reached: bool,
        failure: Option<CallbackFailure>,
        solved: Option<Solved>,
        satisfaction: Option<Satisfaction>,
        comment: Option<String>,
        /// The department the rating is attributed to, frozen now.
        department: Option<String>,
    },
    /// 重办: back to the same department with a new reply clock.
    Reopened {
        department: Option<String>,
        reason: String,
    },
    /// 归档.
    Closed {
        note: Option<String>,
    },
    /// 合并: this ticket now follows `into`.
    Merged {
        into: i64,
    },
    /// The other half of a merge, on the ticket that absorbed one.
    MergeReceived {
        from: i64,
    },
    /// 并单 follow-up: the ticket this one was merged into (`from`) was replied, and the
    /// same answer goes to this ticket's resident, who is called back like any other.
    ReplyFollowed {
        from: i64,
        outcome: super::types::Outcome,
        text: String,
    },
    /// A merge undone by a dispatcher: this ticket is its own again, back in the dispatch
    /// queue.
    Unmerged {
        from: i64,
        reason: String,
    },
    /// The other half of an undone merge, on the ticket that had absorbed it.
    MergeUndone {
        from: i64,
    },
    /// 催办.
    Urged {
        note: Option<String>,
    },
    /// 督办.
    Supervised {
        note: Option<String>,
    },
    /// A privileged user saw a confidential caller's name and phone.
    CallerRevealed {
        reason: Option<String>,
    },
    /// The ticket's stage clocks as now decided (started, stopped, paused, extended, or
    /// recounted on a new calendar); `cause` says which.
    ClocksChanged {
        #[schema(value_type = Vec<Object>)]
        clocks: Vec<AssignmentClock>,
        cause: String,
    },
    /// 预警: a stage's warning point passed. `late` when it fired more than a second after.
    ClockWarned {
        stage: Stage,
        department: Option<String>,
        due_at: DateTime<Utc>,
        scheduled_at: DateTime<Utc>,
        late: bool,
    },
    /// 超期: a stage's deadline passed.
    ClockOverdue {
        stage: Stage,
        department: Option<String>,
        due_at: DateTime<Utc>,
        late: bool,
        late_list_at: Option<DateTime<Utc>>,
    },
    /// 回访 to be made, not before `next_call_at` (inside calling hours).
    CallbackScheduled {
        next_call_at: DateTime<Utc>,
        /// `reply`, `direct_sample` or `retry`.
        reason: String,
    },
    /// An operator is calling the resident; nobody else may until `until`.
    CallbackClaimed {
        by: String,
        until: DateTime<Utc>,
    },
    /// Every attempt failed: the resident could not be reached.
    CallbackUnreachable {
        attempts: i64,
    },
    /// 可能紧急: an emergency rule proposed urgency at intake, and what the operator decided.
    EmergencyProposed {
        rule_id: String,
        label: String,
        /// The clause that said it, as written.
        matched: String,
        words: Vec<String>,
        handoff: Option<String>,
        decision: super::emergency::EmergencyDecision,
    },
    /// 转接: handed off to 119 / 110 / 120 (not 12345 work); the ticket is closed as 转办.
    HandedOff {
        to: String,
        label: Option<String>,
    },
    /// 附件: a file stored before this event was written (who and when are the event's).
    AttachmentAdded(super::attachments::Attachment),
    /// 通报: still overdue long after the deadline; on the published late list.
    LateListed {
        stage: Stage,
        department: Option<String>,
        due_at: DateTime<Utc>,
        scheduled_at: DateTime<Utc>,
    },
    /// 市民短信: a text the resident sent back that is not a rating or an opt-out, kept in the
    /// ticket's history for the operator. The number it came from is the ticket's caller's.
    ResidentTexted {
        text: String,
    },
    /// Filed by a partner platform through the Open311 façade (`crate::domain::open311`): who
    /// filed it and what the standard's fields gave that the ticket itself does not hold.
    PartnerFiled {
        /// The partner the api_key was issued to.
        partner: String,
        /// The token answered to the partner with the ticket's number.
        token: String,
        /// WGS-84 coordinates as sent (decimal degrees), when sent.
        lat: Option<String>,
        long: Option<String>,
        address_string: Option<String>,
        /// The resident's e-mail, when the partner sent one (caller data: never in reads).
        email: Option<String>,
        /// A photo or document the partner hosts.
        media_url: Option<String>,
    },
    /// The partner's `media_url` did not become an attachment (refused address, the
    /// partner's server failing, too large, a type not taken in): which address, and why.
    MediaFetchFailed {
        url: String,
        reason: String,
    },
}

impl EventKind {
    /// The event's type name as stored and sent (`received`, `dispatched`, …).
    pub fn name(&self) -> &'static str {
        match self {
            EventKind::Received(_) => "received",
            EventKind::ResolvedDirectly { .. } => "resolved_directly",
            EventKind::Dispatched { .. } => "dispatched",
            EventKind::Redispatched { .. } => "redispatched",
            EventKind::PassedDown { .. } => "passed_down",
            EventKind::Accepted { .. } => "accepted",
            EventKind::Returned { .. } => "returned",
            EventKind::ReturnRejected { .. } => "return_rejected",
            EventKind::ExtensionRequested { .. } => "extension_requested",
            EventKind::ExtensionDecided { .. } => "extension_decided",
            EventKind::SuspensionRequested { .. } => "suspension_requested",
            EventKind::SuspensionDecided { .. } => "suspension_decided",
            EventKind::Resumed { .. } => "resumed",
            EventKind::AssistReplied { .. } => "assist_replied",
            EventKind::AssistsWaived { .. } => "assists_waived",
            EventKind::Replied { .. } => "replied",
            EventKind::CallbackRecorded { .. } => "callback_recorded",
            EventKind::Reopened { .. } => "reopened",
            EventKind::Closed { .. } => "closed",
            EventKind::Merged { .. } => "merged",
            EventKind::MergeReceived { .. } => "merge_received",
            EventKind::ReplyFollowed { .. } => "reply_followed",
            EventKind::Unmerged { .. } => "unmerged",
            EventKind::MergeUndone { .. } => "merge_undone",
            EventKind::Urged { .. } => "urged",
            EventKind::Supervised { .. } => "supervised",
            EventKind::CallerRevealed { .. } => "caller_revealed",
            EventKind::ResidentContacted { .. } => "resident_contacted",
            EventKind::ClocksChanged { .. } => "clocks_changed",
            EventKind::ClockWarned { .. } => "clock_warned",
            EventKind::ClockOverdue { .. } => "clock_overdue",
            EventKind::LateListed { .. } => "late_listed",
            EventKind::AttachmentAdded(_) => "attachment_added",
            EventKind::ResidentTexted { .. } => "resident_texted",
            EventKind::EmergencyProposed { .. } => "emergency_proposed",
            EventKind::HandedOff { .. } => "handed_off",
            EventKind::CallbackScheduled { .. } => "callback_scheduled",
            EventKind::CallbackClaimed { .. } => "callback_claimed",
            EventKind::CallbackUnreachable { .. } => "callback_unreachable",
            EventKind::PartnerFiled { .. } => "partner_filed",
            EventKind::MediaFetchFailed { .. } => "media_fetch_failed",
        }
    }

    /// Masks what a department must not see of a confidential caller.
    pub fn masked(&self) -> EventKind {
        match self {
            EventKind::Received(r) => EventKind::Received(Received {
                caller_name: super::privacy::mask_name(&r.caller_name),
                caller_phone: super::privacy::mask_phone(&r.caller_phone),
                ..r.clone()
            }),
            // A confidential caller's own files: the department sees that one was added,
            // nothing of it.
            EventKind::AttachmentAdded(a) if a.source != super::attachments::Source::Department => {
                EventKind::AttachmentAdded(super::attachments::Attachment {
                    name: "保密来电人的附件".into(),
                    sha256: String::new(),
                    storage_key: String::new(),
                    thumbnail_key: None,
                    ..a.clone()
                })
            }
            EventKind::PartnerFiled { email: Some(email), .. } => {
                let mut masked = self.clone();
                if let EventKind::PartnerFiled { email: e, .. } = &mut masked {
                    *e = Some(super::privacy::mask_email(email));
                }
                masked
            }
            other => other.clone(),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn event_kinds_serialise_with_their_type_name() {
        let k = EventKind::Urged { note: Some("请尽快".into()) };
        let json = serde_json::to_value(&k).unwrap();
        assert_eq!(json["type"], "urged");
        assert_eq!(json["data"]["note"], "请尽快");
        let back: EventKind = serde_json::from_value(json).unwrap();
        assert_eq!(back, k);
        assert_eq!(k.name(), "urged");
    }
}
