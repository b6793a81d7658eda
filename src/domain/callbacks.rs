//! 回访: which tickets are called back, when a call may be placed, and what happens after an
//! attempt. The policy is data (`dispatch_rules/callbacks.toml`); the state machine asks it
//! when a ticket is replied to and when an attempt is recorded.

use super::calendar::{china_offset, Calendar, SlaDuration};
use super::diagnostic::Diagnostic;
use super::ticket::Ticket;
use super::types::Kind;
use chrono::{DateTime, NaiveTime, Utc};
use serde::{Deserialize, Serialize};

#[derive(Debug, Clone, PartialEq)]
pub struct CallbackPolicy {
    pub calling_from: NaiveTime,
    pub calling_to: NaiveTime,
    pub call_on_days_off: bool,
    pub retry_after: SlaDuration,
    pub max_attempts: i64,
    pub claim_minutes: i64,
    pub sample_direct: f64,
    pub always_call_kinds: Vec<Kind>,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct File {
    calling_hours: Hours,
    call_on_days_off: bool,
    retry_after: String,
    max_attempts: i64,
    claim_minutes: i64,
    sample_direct: f64,
    always_call_kinds: Vec<Kind>,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct Hours {
    from: String,
    to: String,
}

/// The callback task on a ticket, while the centre still has to call.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, utoipa::ToSchema)]
pub struct CallbackTask {
    /// The earliest the next call may be placed (inside calling hours).
    pub next_call_at: DateTime<Utc>,
    pub claimed_by: Option<String>,
    pub claimed_until: Option<DateTime<Utc>>,
    /// Attempts used up without reaching the resident.
    #[serde(default)]
    pub unreachable: bool,
}

impl CallbackTask {
    /// Someone other than `username` is on the phone with this resident now.
    pub fn claimed_by_other(&self, username: &str, now: DateTime<Utc>) -> Option<&str> {
        match (&self.claimed_by, self.claimed_until) {
            (Some(by), Some(until)) if until > now && by != username => Some(by),
            _ => None,
        }
    }
}

impl CallbackPolicy {
    pub fn parse((file, source): (&str, &str)) -> Result<CallbackPolicy, Vec<Diagnostic>> {
        let raw: File = toml::from_str(source).map_err(|e| vec![Diagnostic::from_toml(file, source, &e)])?;
        let at = |key: &str, value: &str, message: String| {
            let (line, column) = super::diagnostic::find_value(source, key, value);
            Diagnostic::error(file, line, column, message)
        };
        let mut errors = Vec::new();
        let time = |key: &str, value: &str, errors: &mut Vec<Diagnostic>| {
            NaiveTime::parse_from_str(value, "%H:%M")
                .map_err(|_| errors.push(at(key, value, format!("{key}: \"{value}\" is not a time like 09:00"))))
                .ok()
        };
        let from = time("from", &raw.calling_hours.from, &mut errors);
        let to = time("to", &raw.calling_hours.to, &mut errors);
        if let (Some(f), Some(t)) = (from, to) {
            if f >= t {
                errors.push(at("to", &raw.calling_hours.to, "calling_hours: `to` must be after `from`".into()));
            }
        }
        let retry_after = match raw.retry_after.parse::<SlaDuration>() {
            Ok(d) if !d.is_working() && d.amount > 0 => Some(d),
            Ok(_) => {
                errors.push(at(
                    "retry_after",
                    &raw.retry_after,
                    "retry_after: use natural time, e.g. \"2h\" or \"30m\"".into(),
                ));
                None
            }
            Err(e) => {
                errors.push(at("retry_after", &raw.retry_after, format!("retry_after: {e}")));
                None
            }
        };
        if !(1..=20).contains(&raw.max_attempts) {
            errors.push(Diagnostic::error(file, 0, 0, "max_attempts must be between 1 and 20"));
        }
        if !(1..=24 * 60).contains(&raw.claim_minutes) {
            errors.push(Diagnostic::error(file, 0, 0, "claim_minutes must be between 1 and 1440"));
        }
        if !(0.0..=1.0).contains(&raw.sample_direct) {
            errors.push(Diagnostic::error(file, 0, 0, "sample_direct is a share between 0.0 and 1.0"));
        }
        if !errors.is_empty() {
            return Err(errors);
        }
        Ok(CallbackPolicy {
            calling_from: from.expect("checked"),
            calling_to: to.expect("checked"),
            call_on_days_off: raw.call_on_days_off,
            retry_after: retry_after.expect("checked"),
            max_attempts: raw.max_attempts,
            claim_minutes: raw.claim_minutes,
            sample_direct: raw.sample_direct,
            always_call_kinds: raw.always_call_kinds,
        })
    }

    /// Whether a ticket just resolved gets a callback. The resident's refusal always wins;
    /// departments' replies are always checked; answers given on the spot are sampled, except
    /// for the kinds always called back. The sample is decided by the ticket id, so it is the
    /// same on every replay.
    pub fn wants_callback(&self, ticket: &Ticket, resolved_directly: bool, consent: bool) -> bool {
        if !consent {
            return false;
        }
        if !resolved_directly || self.always_call_kinds.contains(&ticket.kind) {
            return true;
        }
        let bucket = (ticket.id.unsigned_abs().wrapping_mul(2_654_435_761) % 1000) as f64;
        bucket < self.sample_direct * 1000.0
    }

    /// The first moment at or after `at` inside calling hours on a day residents are called.
    pub fn next_call_at(&self, calendar: &Calendar, at: DateTime<Utc>) -> DateTime<Utc> {
        let local = at.with_timezone(&china_offset());
        let mut day = local.date_naive();
        for _ in 0..400 {
            let callable = self.call_on_days_off || calendar.is_working_day(day);
            if callable {
                let open = day.and_time(self.calling_from);
                let close = day.and_time(self.calling_to);
                let here = local.naive_local();
                if day == local.date_naive() && here >= open && here < close {
                    return at;
                }
                if day > local.date_naive() || here < open {
                    return (open - chrono::Duration::hours(8)).and_utc();
                }
            }
            day = day.succ_opt().expect("dates go on");
        }
        at
    }

    /// When to try again after an unanswered attempt at `now`.
    pub fn retry_at(&self, calendar: &Calendar, now: DateTime<Utc>) -> DateTime<Utc> {
        let later = now + self.retry_after.natural_length().unwrap_or_else(|| chrono::Duration::hours(2));
        self.next_call_at(calendar, later)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn policy() -> CallbackPolicy {
        CallbackPolicy::parse(("callbacks.toml", include_str!("../../dispatch_rules/callbacks.toml"))).unwrap()
    }

    fn calendar() -> Calendar {
        Calendar::parse(
            ("hours.toml", include_str!("../../dispatch_rules/calendar/hours.toml")),
            &[("2026.toml", include_str!("../../dispatch_rules/calendar/2026.toml"))],
        )
        .unwrap()
    }

    fn local(s: &str) -> DateTime<Utc> {
        DateTime::parse_from_rfc3339(s).unwrap().to_utc()
    }

    #[test]
    fn calls_are_placed_inside_calling_hours_on_working_days() {
        let (p, c) = (policy(), calendar());
        let at = |s| p.next_call_at(&c, local(s));
        assert_eq!(at("2026-11-23T10:00:00+08:00"), local("2026-11-23T10:00:00+08:00"));
        assert_eq!(at("2026-11-23T07:30:00+08:00"), local("2026-11-23T09:00:00+08:00"));
        assert_eq!(at("2026-11-23T21:00:00+08:00"), local("2026-11-24T09:00:00+08:00"));
        // Friday night → Monday morning; National Day → the 8th.
        assert_eq!(at("2026-11-27T20:30:00+08:00"), local("2026-11-30T09:00:00+08:00"));
        assert_eq!(at("2026-10-01T10:00:00+08:00"), local("2026-10-08T09:00:00+08:00"));
        // A makeup Saturday is a working day.
        assert_eq!(at("2026-10-10T10:00:00+08:00"), local("2026-10-10T10:00:00+08:00"));
        assert_eq!(p.retry_at(&c, local("2026-11-23T19:00:00+08:00")), local("2026-11-24T09:00:00+08:00"));
    }

    #[test]
    fn policy_file_errors_name_the_key() {
        let bad = include_str!("../../dispatch_rules/callbacks.toml").replace("\"2h\"", "\"2wd\"");
        let errors = CallbackPolicy::parse(("callbacks.toml", &bad)).unwrap_err();
        assert!(errors[0].message.contains("retry_after"), "{:?}", errors);
        assert!(errors[0].line > 0);
        let bad = include_str!("../../dispatch_rules/callbacks.toml").replace("\"20:00\"", "\"08:00\"");
        assert!(CallbackPolicy::parse(("callbacks.toml", &bad)).is_err());
    }
}
