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
