//! 漏接回拨: calls that ended unanswered — hung up in the queue, or while ringing, or rung
//! out — go to a call-back list, one entry per calling number.
//!
//! * **Which calls.** Every call whose hang-up came before any answer, except withheld
//!   numbers (`anonymous`: there is nobody to call). Short abandons count too: a resident
//!   who gave up after three seconds still called the hotline.
//! * **One entry per number.** While a number has an open entry, its further missed calls
//!   add to it (`calls`, `last_at`, the longest wait) instead of making another; the list
//!   shows how many times the number tried today from the call records.
//! * **Worked like the callback queue (回访).** An operator claims an entry for
//!   [`CLAIM_MINUTES`] (one operator per resident at a time), calls, and records the outcome:
//!   `reached` closes it; `no_answer` and `busy` count an attempt and leave it open until
//!   [`MAX_ATTEMPTS`] attempts, then it closes as `unreachable`; `wrong_number` closes it.
//! * **The resident got through.** A later answered call from the same number closes the open
//!   entry as `called_again`: nobody needs to call back someone who reached us.

use super::calls::{CallOutcome, CallRecord, ANONYMOUS};
use chrono::{DateTime, Duration, Utc};
use serde::{Deserialize, Serialize};

pub const CLAIM_MINUTES: i64 = 10;
pub const MAX_ATTEMPTS: i64 = 3;

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, utoipa::ToSchema)]
#[serde(rename_all = "snake_case")]
pub enum MissedStatus {
    Open,
    Closed,
}

/// What a call-back attempt found.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, utoipa::ToSchema)]
#[serde(rename_all = "snake_case")]
pub enum CallBackOutcome {
    Reached,
    NoAnswer,
    Busy,
    WrongNumber,
}

/// Why an entry was closed.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, utoipa::ToSchema)]
#[serde(rename_all = "snake_case")]
pub enum Closure {
    Reached,
    WrongNumber,
    Unreachable,
    CalledAgain,
}

impl Closure {
    pub fn as_str(self) -> &'static str {
        match self {
            Closure::Reached => "reached",
            Closure::WrongNumber => "wrong_number",
            Closure::Unreachable => "unreachable",
            Closure::CalledAgain => "called_again",
        }
    }
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, utoipa::ToSchema)]
pub struct MissedCall {
    pub id: i64,
    pub caller: String,
    pub first_at: DateTime<Utc>,
    pub last_at: DateTime<Utc>,
    pub last_call_id: String,
    /// Missed calls gathered in this entry.
    pub calls: i64,
    /// The longest the number waited before giving up, in seconds.
    pub longest_wait_secs: i64,
    pub status: MissedStatus,
    pub closure: Option<Closure>,
    pub attempts: i64,
    pub claimed_by: Option<String>,
    pub claimed_until: Option<DateTime<Utc>>,
    pub closed_at: Option<DateTime<Utc>>,
    pub note: Option<String>,
}

#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum MissedError {
    #[error("{0} is calling this number back now")]
    ClaimedByOther(String),
    #[error("this call-back is closed ({0})")]
    Closed(&'static str),
    #[error("claim the call-back first (认领)")]
    NotClaimed,
}

/// Whether an ended call goes to the list.
pub fn is_missed(call: &CallRecord) -> bool {
    call.outcome == CallOutcome::Abandoned && call.caller.as_deref().is_some_and(|c| c != ANONYMOUS)
}

/// The number's open entry with this missed call added, or a new one (id 0: the store assigns
/// it). A call already in the entry (the same call folded again) changes nothing.
pub fn add(open: Option<&MissedCall>, call: &CallRecord) -> Option<MissedCall> {
    let caller = call.caller.clone()?;
    let ended = call.ended_at?;
    let wait = call.wait().unwrap_or_default().num_seconds().max(0);
    match open {
        Some(entry) if entry.last_call_id == call.call_id => None,
        Some(entry) => Some(MissedCall {
            calls: entry.calls + 1,
            first_at: entry.first_at.min(ended),
            last_at: entry.last_at.max(ended),
            last_call_id: if ended >= entry.last_at { call.call_id.clone() } else { entry.last_call_id.clone() },
            longest_wait_secs: entry.longest_wait_secs.max(wait),
            ..entry.clone()
        }),
        None => Some(MissedCall {
            id: 0,
            caller,
            first_at: ended,
            last_at: ended,
            last_call_id: call.call_id.clone(),
            calls: 1,
            longest_wait_secs: wait,
            status: MissedStatus::Open,
            closure: None,
            attempts: 0,
            claimed_by: None,
            claimed_until: None,
            closed_at: None,
            note: None,
        }),
    }
}

/// An answered call from the number after its missed ones closes the entry.
pub fn got_through(open: &MissedCall, call: &CallRecord) -> Option<MissedCall> {
    let answered = call.answered.as_ref()?;
    (open.status == MissedStatus::Open && answered.at >= open.last_at).then(|| MissedCall {
        status: MissedStatus::Closed,
        closure: Some(Closure::CalledAgain),
        closed_at: Some(answered.at),
        claimed_by: None,
        claimed_until: None,
        ..open.clone()
    })
}

fn open_check<'a>(entry: &'a MissedCall, username: &str, now: DateTime<Utc>) -> Result<&'a MissedCall, MissedError> {
    if entry.status == MissedStatus::Closed {
        return Err(MissedError::Closed(entry.closure.map(Closure::as_str).unwrap_or("closed")));
    }
    match (&entry.claimed_by, entry.claimed_until) {
        (Some(by), Some(until)) if until > now && by != username => Err(MissedError::ClaimedByOther(by.clone())),
        _ => Ok(entry),
    }
}

/// 认领: the operator takes the entry for [`CLAIM_MINUTES`].
pub fn claim(entry: &MissedCall, username: &str, now: DateTime<Utc>) -> Result<MissedCall, MissedError> {
    open_check(entry, username, now)?;
    Ok(MissedCall {
        claimed_by: Some(username.to_string()),
        claimed_until: Some(now + Duration::minutes(CLAIM_MINUTES)),
        ..entry.clone()
    })
}

/// Records one call-back attempt by the operator holding the claim.
pub fn record(
    entry: &MissedCall,
    username: &str,
    outcome: CallBackOutcome,
    note: Option<String>,
    now: DateTime<Utc>,
) -> Result<MissedCall, MissedError> {
    open_check(entry, username, now)?;
    if entry.claimed_by.as_deref() != Some(username) || entry.claimed_until.is_none_or(|u| u <= now) {
        return Err(MissedError::NotClaimed);
    }
    let attempts = entry.attempts + 1;
    let closure = match outcome {
        CallBackOutcome::Reached => Some(Closure::Reached),
        CallBackOutcome::WrongNumber => Some(Closure::WrongNumber),
        CallBackOutcome::NoAnswer | CallBackOutcome::Busy if attempts >= MAX_ATTEMPTS => Some(Closure::Unreachable),
        CallBackOutcome::NoAnswer | CallBackOutcome::Busy => None,
    };
    Ok(MissedCall {
        attempts,
        status: if closure.is_some() { MissedStatus::Closed } else { MissedStatus::Open },
        closure,
        closed_at: closure.map(|_| now),
        claimed_by: None,
        claimed_until: None,
        note: note.or_else(|| entry.note.clone()),
        ..entry.clone()
    })
}

#[cfg(test)]
mod tests {
    use super::super::calls::{check, fold, RawCallEvent};
    use super::*;

    fn t(secs: i64) -> DateTime<Utc> {
        "2026-12-03T02:00:00Z".parse::<DateTime<Utc>>().unwrap() + Duration::seconds(secs)
    }

    fn call(id: &str, caller: &str, ring: i64, answer: Option<i64>, end: i64) -> CallRecord {
        let raw = |event: &str, at: i64| RawCallEvent {
            call_id: id.into(),
            event: event.into(),
            at: t(at).to_rfc3339(),
            caller: Some(caller.into()),
            extension: Some("8001".into()),
            cause: Some("caller_hangup".into()),
            ..RawCallEvent::default()
        };
        let mut events = vec![raw("ringing", ring), raw("hangup", end)];
        events.extend(answer.map(|a| raw("answered", a)));
        fold(&events.iter().map(|r| check(r, t(10_000)).unwrap()).collect::<Vec<_>>()).unwrap()
    }

    #[test]
    fn missed_calls_from_one_number_gather_in_one_entry() {
        let first = call("a", "13812345678", 0, None, 20);
        assert!(is_missed(&first));
        let entry = add(None, &first).unwrap();
        assert_eq!((entry.calls, entry.longest_wait_secs), (1, 20));
        assert_eq!(add(Some(&entry), &first), None, "the same call again changes nothing");
        let second = add(Some(&entry), &call("b", "13812345678", 100, None, 145)).unwrap();
        assert_eq!((second.calls, second.longest_wait_secs, second.last_call_id.as_str()), (2, 45, "b"));
        assert!(!is_missed(&call("c", "13812345678", 0, Some(5), 60)), "answered");
        assert!(!is_missed(&call("d", "anonymous", 0, None, 60)), "nobody to call back");
    }

    #[test]
    fn a_call_back_is_claimed_worked_and_closed_after_its_attempts() {
        let entry = add(None, &call("a", "13812345678", 0, None, 20)).unwrap();
        assert_eq!(record(&entry, "op1", CallBackOutcome::Reached, None, t(30)), Err(MissedError::NotClaimed));
        let claimed = claim(&entry, "op1", t(30)).unwrap();
        assert_eq!(claim(&claimed, "op2", t(31)), Err(MissedError::ClaimedByOther("op1".into())));
        assert!(claim(&claimed, "op2", t(30 + CLAIM_MINUTES * 60)).is_ok(), "a lapsed claim is free");
        let mut e = claimed;
        for i in 1..MAX_ATTEMPTS {
            e = record(&e, "op1", CallBackOutcome::NoAnswer, None, t(40)).unwrap();
            assert_eq!((e.attempts, e.status), (i, MissedStatus::Open));
            e = claim(&e, "op1", t(41)).unwrap();
        }
        let e = record(&e, "op1", CallBackOutcome::Busy, Some("忙音".into()), t(50)).unwrap();
        assert_eq!((e.status, e.closure), (MissedStatus::Closed, Some(Closure::Unreachable)));
        assert!(matches!(claim(&e, "op1", t(60)), Err(MissedError::Closed("unreachable"))));
    }

    #[test]
    fn getting_through_later_closes_the_entry() {
        let entry = add(None, &call("a", "13812345678", 0, None, 20)).unwrap();
        let later = got_through(&entry, &call("b", "13812345678", 100, Some(104), 200)).unwrap();
        assert_eq!(later.closure, Some(Closure::CalledAgain));
        assert_eq!(got_through(&entry, &call("c", "13812345678", 0, None, 10)), None);
    }
}
