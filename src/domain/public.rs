//! 网上诉求: what a resident may submit without logging in, and what a resident may see when
//! tracking a request by its number and the last four digits of the phone.
//!
//! Rules kept here (no IO):
//! * a submission is an ordinary new ticket on the 网上 channel, checked by the same intake
//!   rules as a call; the resident chooses kind, category, content, address, phone (and
//!   optionally a name), never urgency, confidentiality or the department;
//! * tracking answers only when the number exists AND the phone's last four digits match;
//!   any other pair looks exactly like an unknown number;
//! * the tracking view never carries the caller's data (name, phone, address, content): only
//!   the ticket's number, kind, category, its progress in resident words, the handling unit
//!   and, once there is one, the reply.

use super::district::District;
use super::intake::{self, NewTicket};
use super::lifecycle::{Actor, DecisionError};
use super::ticket::Ticket;
use super::types::{Channel, Kind, Outcome, Role, Status, Urgency};
use chrono::{DateTime, Utc};
use serde::Serialize;

/// The name recorded as the actor of tickets residents submit themselves.
pub const RESIDENT_USERNAME: &str = "public-web";

/// Who logs a resident's own request: an intake actor with no user behind it.
pub fn resident_actor() -> Actor {
    Actor { user_id: 0, username: RESIDENT_USERNAME.into(), role: Role::Operator, department: None, units: Vec::new() }
}

/// What the public form sends.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct PublicForm {
    pub kind: Kind,
    pub category: String,
    pub content: String,
    pub address: String,
    pub phone: String,
    pub name: String,
}

/// The intake rules name fields as the operator console does; the public form calls two of
/// them differently.
fn public_field(field: &'static str) -> &'static str {
    match field {
        "caller_phone" => "phone",
        "caller_name" => "name",
        other => other,
    }
}

/// Checks a submission with the intake rules, errors naming the public form's fields. An
/// address is required here: nobody is on the line to ask where.
pub fn validate(form: PublicForm, places: &dyn intake::Places) -> Result<NewTicket, DecisionError> {
    if form.address.trim().is_empty() {
        return Err(DecisionError::Invalid { field: "address", message: "address must not be empty".into() });
    }
    intake::validate(
        NewTicket {
            kind: form.kind,
            channel: Channel::Web,
            urgency: Urgency::Normal,
            category: form.category,
            street: None,
            community: None,
            address: form.address,
            content: form.content,
            caller_name: form.name,
            caller_phone: form.phone,
            confidential: false,
            callback_consent: true,
            call_id: None,
        },
        places,
    )
    .map_err(|e| match e {
        DecisionError::Invalid { field, message } => DecisionError::Invalid {
            field: public_field(field),
            message: message.replacen(field, public_field(field), 1),
        },
        other => other,
    })
}

/// `phone_last4` must be exactly four digits.
pub fn check_last4(last4: &str) -> Result<&str, &'static str> {
    let l = last4.trim();
    if l.len() == 4 && l.bytes().all(|b| b.is_ascii_digit()) {
        Ok(l)
    } else {
        Err("phone_last4 must be the last 4 digits of the phone number given with the request")
    }
}

/// A ticket number looks like `20261122-000123`.
pub fn check_number(number: &str) -> Result<&str, &'static str> {
    let n = number.trim();
    let b = n.as_bytes();
    if b.len() == 15 && b[8] == b'-' && b.iter().enumerate().all(|(i, c)| i == 8 || c.is_ascii_digit()) {
        Ok(n)
    } else {
        Err("number must be a ticket number like 20261122-000123")
    }
}

/// The stored phone ends with these four digits (separators ignored), compared without
/// stopping at the first differing digit.
pub fn last4_matches(phone: &str, last4: &str) -> bool {
    let digits: Vec<u8> = phone.bytes().filter(u8::is_ascii_digit).collect();
    if digits.len() < 4 || last4.len() != 4 {
        return false;
    }
    digits[digits.len() - 4..].iter().zip(last4.bytes()).fold(0u8, |acc, (a, b)| acc | (a ^ b)) == 0
}

/// One step of the request's progress as a resident reads it.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, utoipa::ToSchema)]
pub struct Step {
    /// `received`, `dispatched`, `in_progress`, `replied`, `closed`: pages translate it.
    pub stage: &'static str,
    /// 已受理 / 已转交承办单位 / 办理中 / 已答复 / 已办结
    pub label: &'static str,
    pub at: Option<DateTime<Utc>>,
    pub done: bool,
}

/// What a resident sees when tracking a request.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, utoipa::ToSchema)]
pub struct PublicTicket {
    pub number: String,
    /// `received`, `dispatched`, `in_progress`, `replied`, `closed` or `merged`: coarser than the ticket's
    /// status, since returns, suspensions and reviews are the centre's business.
    pub stage: &'static str,
    pub stage_label: &'static str,
    /// The kind's code (`complaint` …): pages translate codes, the labels are the Chinese.
    pub kind: Kind,
    pub kind_label: &'static str,
    pub category: Option<String>,
    /// The unit handling it (its short name), once dispatched.
    pub department: Option<String>,
    pub submitted_at: DateTime<Utc>,
    pub replied_at: Option<DateTime<Utc>>,
    pub outcome: Option<Outcome>,
    pub outcome_label: Option<&'static str>,
    /// The department's reply, once the request is answered.
    pub reply: Option<String>,
    pub steps: Vec<Step>,
    /// The files marked public (the resident's own photos, a department's reply photos):
    /// download at `/api/v1/public/requests/{number}/attachments/{id}?phone_last4=…`.
    pub attachments: Vec<PublicAttachment>,
}

/// A public file as a resident sees it: no storage keys, no names of staff.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, utoipa::ToSchema)]
pub struct PublicAttachment {
    pub id: String,
    pub name: String,
    pub content_type: String,
    pub class: super::attachments::FileClass,
    pub size: u64,
    pub has_thumbnail: bool,
    pub purpose_label: &'static str,
    pub added_at: DateTime<Utc>,
}

/// The resident's view of a ticket. Deliberately built field by field: nothing of the caller
/// (name, phone, address, content) is copied.
pub fn public_view(t: &Ticket, district: &District) -> PublicTicket {
    let (stage, stage_label) = match t.status {
        Status::Received => ("received", "已受理"),
        Status::Dispatched | Status::ReturnRequested => ("dispatched", "已转交承办单位"),
        Status::Accepted | Status::Suspended => ("in_progress", "办理中"),
        Status::Replied => ("replied", "已答复"),
        Status::Closed => ("closed", "已办结"),
        Status::Merged => ("merged", "已并入同类诉求办理"),
    };
    let answered = matches!(t.status, Status::Replied | Status::Closed) && t.reply.is_some();
    let dispatched = t.dispatched_at.is_some() || t.resolved_directly;
    let steps = vec![
        Step { stage: "received", label: "已受理", at: Some(t.created_at), done: true },
        Step { stage: "dispatched", label: "已转交承办单位", at: t.dispatched_at, done: dispatched },
        Step { stage: "in_progress", label: "办理中", at: t.accepted_at, done: t.accepted_at.is_some() || answered },
        Step { stage: "replied", label: "已答复", at: t.replied_at, done: answered },
        Step { stage: "closed", label: "已办结", at: t.closed_at, done: t.status == Status::Closed },
    ];
    PublicTicket {
        number: t.number.clone(),
        stage,
        stage_label,
        kind: t.kind,
        kind_label: t.kind.label(),
        category: district.category_path(&t.category),
        department: t
            .lead
            .as_deref()
            .filter(|_| t.status != Status::Received)
            .and_then(|l| district.department(l))
            .map(|d| d.short_name.clone()),
        submitted_at: t.created_at,
        replied_at: t.replied_at.filter(|_| answered),
        outcome: t.outcome.filter(|_| answered),
        outcome_label: t.outcome.filter(|_| answered).map(|o| o.label()),
        reply: t.reply.clone().filter(|_| answered),
        steps,
        attachments: super::attachments::visible_list(t, super::attachments::Viewer::Resident)
            .map(|a| PublicAttachment {
                id: a.id.clone(),
                name: a.name.clone(),
                content_type: a.content_type.clone(),
                class: a.class,
                size: a.size,
                has_thumbnail: a.thumbnail_key.is_some(),
                purpose_label: a.purpose.label(),
                added_at: a.added_at,
            })
            .collect(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn last_four_digits_must_match_exactly() {
        assert!(last4_matches("13812345678", "5678"));
        assert!(last4_matches("010-12345678", "5678"));
        assert!(!last4_matches("13812345678", "5679"));
        assert!(!last4_matches("123", "0123"));
        assert!(check_last4("56a8").is_err() && check_last4("567").is_err() && check_last4(" 5678 ").is_ok());
        assert!(check_number("20261122-000123").is_ok());
        assert!(check_number("20261122000123").is_err() && check_number("2026112a-000123").is_err());
    }

    fn received() -> Ticket {
        use crate::domain::event::{ActorRef, Event, EventKind, Received};
        let at = chrono::TimeZone::with_ymd_and_hms(&Utc, 2026, 11, 23, 2, 0, 0).unwrap();
        let event = Event {
            seq: 1,
            ticket_id: 7,
            at,
            actor: ActorRef { user_id: 0, username: RESIDENT_USERNAME.into(), role: Role::Operator, department: None },
            kind: EventKind::Received(Received {
                number: "20261123-000001".into(),
                kind: Kind::Complaint,
                channel: Channel::Web,
                urgency: Urgency::Normal,
                category: "01.01.01".into(),
                street: None,
                community: None,
                address: "新华里小区3号楼".into(),
                content: "垃圾三天没人清运".into(),
                caller_name: "王小明".into(),
                caller_phone: "13812345678".into(),
                confidential: false,
                callback_consent: true,
                call_id: None,
            }),
        };
        crate::domain::ticket::apply(None, &event)
    }

    #[test]
    fn a_resident_sees_progress_and_the_reply_but_nothing_of_the_caller() {
        let district = District::demo();
        let lead = district.departments[0].code.clone();
        let mut t = received();
        let seen = public_view(&t, &district);
        assert_eq!((seen.stage, seen.department.as_deref(), seen.reply.as_deref()), ("received", None, None));
        assert_eq!(seen.steps.iter().filter(|s| s.done).count(), 1);

        t.status = Status::Accepted;
        t.lead = Some(lead.clone());
        t.dispatched_at = Some(t.created_at);
        t.accepted_at = Some(t.created_at);
        t.reply = Some("draft kept by the department".into());
        let seen = public_view(&t, &district);
        assert_eq!(seen.stage, "in_progress");
        assert_eq!(seen.department, district.department(&lead).map(|d| d.short_name.clone()));
        assert_eq!(seen.reply, None, "nothing is shown before the reply is given");

        t.status = Status::Replied;
        t.replied_at = Some(t.created_at);
        t.outcome = Some(crate::domain::types::Outcome::Solved);
        t.reply = Some("已安排清运".into());
        let seen = public_view(&t, &district);
        assert_eq!(
            (seen.stage, seen.reply.as_deref(), seen.outcome_label),
            ("replied", Some("已安排清运"), Some("已解决"))
        );
        let text = serde_json::to_string(&seen).unwrap();
        for private in ["13812345678", "王小明", "新华里", "垃圾三天"] {
            assert!(!text.contains(private), "{private} in {text}");
        }
    }

    struct Places;
    impl intake::Places for Places {
        fn is_leaf_category(&self, code: &str) -> bool {
            code == "03.02.01"
        }
        fn street_exists(&self, _: &str) -> bool {
            false
        }
        fn street_of_community(&self, _: &str) -> Option<String> {
            None
        }
    }

    fn form() -> PublicForm {
        PublicForm {
            kind: Kind::Complaint,
            category: "03.02.01".into(),
            content: "路灯不亮".into(),
            address: "新华里3号楼".into(),
            phone: "13812345678".into(),
            name: String::new(),
        }
    }

    fn field(r: Result<NewTicket, DecisionError>) -> &'static str {
        match r {
            Err(DecisionError::Invalid { field, .. }) => field,
            other => panic!("expected invalid, got {other:?}"),
        }
    }

    #[test]
    fn a_submission_is_a_web_ticket_and_errors_name_the_form_fields() {
        let t = validate(form(), &Places).unwrap();
        assert_eq!((t.channel, t.urgency, t.confidential), (Channel::Web, Urgency::Normal, false));
        assert_eq!(field(validate(PublicForm { phone: "12".into(), ..form() }, &Places)), "phone");
        assert_eq!(field(validate(PublicForm { name: "名".repeat(51), ..form() }, &Places)), "name");
        assert_eq!(field(validate(PublicForm { address: " ".into(), ..form() }, &Places)), "address");
        assert_eq!(field(validate(PublicForm { content: "".into(), ..form() }, &Places)), "content");
        assert_eq!(field(validate(PublicForm { category: "03".into(), ..form() }, &Places)), "category");
        match validate(PublicForm { phone: "12".into(), ..form() }, &Places) {
            Err(DecisionError::Invalid { message, .. }) => assert!(!message.contains("caller_phone"), "{message}"),
            other => panic!("{other:?}"),
        }
    }
}
