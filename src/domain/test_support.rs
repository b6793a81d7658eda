//! What the domain's unit tests share: the shipped calendar, SLA policies and callback
//! policy, parsed once.

use super::calendar::Calendar;
use super::callbacks::CallbackPolicy;
use super::clocks::SlaContext;
use super::sla::SlaPolicies;
use std::sync::OnceLock;

pub fn sla() -> SlaContext<'static> {
    static CALENDAR: OnceLock<Calendar> = OnceLock::new();
    static POLICIES: OnceLock<SlaPolicies> = OnceLock::new();
    static CALLBACKS: OnceLock<CallbackPolicy> = OnceLock::new();
    SlaContext {
        calendar: CALENDAR.get_or_init(|| {
            Calendar::parse(
                ("hours.toml", include_str!("../../dispatch_rules/calendar/hours.toml")),
                &[
                    ("2025.toml", include_str!("../../dispatch_rules/calendar/2025.toml")),
                    ("2026.toml", include_str!("../../dispatch_rules/calendar/2026.toml")),
                ],
            )
            .expect("shipped calendar")
        }),
        policies: POLICIES.get_or_init(|| {
            SlaPolicies::parse(("sla_policies.toml", include_str!("../../dispatch_rules/sla_policies.toml")))
                .expect("shipped policies")
        }),
        callbacks: CALLBACKS.get_or_init(|| {
            CallbackPolicy::parse(("callbacks.toml", include_str!("../../dispatch_rules/callbacks.toml")))
                .expect("shipped callback policy")
        }),
    }
}

/// A ticket in `status` with `lead` and `assists`, built from a `received` event and then
/// set by hand (for rules that read the ticket, not how it got there).
pub fn ticket_in(status: super::types::Status, lead: Option<&str>, assists: &[&str]) -> super::ticket::Ticket {
    use super::event::{ActorRef, Event, EventKind, Received};
    use super::types::{Channel, Kind, Role, Urgency};
    let received = Received {
        number: "20261122-000001".into(),
        kind: Kind::Complaint,
        channel: Channel::Phone,
        urgency: Urgency::Normal,
        category: "01.02.01".into(),
        street: None,
        community: None,
        address: "海川路1号".into(),
        content: "路面塌陷".into(),
        caller_name: "张三".into(),
        caller_phone: "13812345678".into(),
        confidential: false,
        callback_consent: true,
        call_id: None,
    };
    let actor = ActorRef { user_id: 1, username: "op".into(), role: Role::Operator, department: None };
    let event = Event { seq: 1, ticket_id: 1, at: chrono::Utc::now(), actor, kind: EventKind::Received(received) };
    let mut t = super::ticket::apply(None, &event);
    t.status = status;
    t.lead = lead.map(String::from);
    t.assists = assists
        .iter()
        .map(|d| super::ticket::Assist { department: d.to_string(), replied_at: None, reply: None, waived: false })
        .collect();
    t
}
