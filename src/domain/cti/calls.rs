//! Call events from the PBX and the call record folded from them.
//!
//! The interface is vendor-neutral: one JSON object per event (or an array of them),
//!
//! ```json
//! {"call_id": "a84b4c76e66710", "event": "ringing", "at": "2026-12-03T09:15:02.120+08:00",
//!  "caller": "13812345678", "dialled": "12345", "queue": "hotline", "extension": "8001"}
//! ```
//!
//! | `event` | meaning | fields besides `call_id`, `event`, `at` |
//! | --- | --- | --- |
//! | `queued` | the call entered the hotline queue (排队) | `caller`, `dialled`, `queue` |
//! | `ringing` | an operator's phone rings (振铃) | `caller`, `extension`; `dialled`, `queue` |
//! | `answered` | the operator picked up (接通) | `extension` |
//! | `transferred` | the call went on to another phone (转接) | `extension`, `to_extension` |
//! | `hangup` | the call ended (挂机) | `cause`: `caller_hangup`, `operator_hangup`, `no_answer`, `busy`, `failed` |
//! | `recording` | where the recording is (录音) | `recording_url` |
//!
//! **Idempotent.** An event is the same event when it has the same call id, `event` and
//! extension (`ringing`, `answered`, `transferred` happen once per extension in a call; the
//! others once per call): a PBX that retries, or resends a day of events, changes nothing.
//!
//! **Any order.** The record is folded from the set of events a call has, sorted by their
//! own times, so `answered` or even `hangup` arriving before `ringing` gives the same call
//! once all are in. What cannot be — a hang-up timed before the call rang (a ring after the
//! hang-up), an answer before that phone rang or after the hang-up, a call longer than a day,
//! a time more than 5 minutes ahead of our clock or more than 7 days old — is refused naming
//! the field, and nothing of it is stored.

use chrono::{DateTime, Duration, Utc};
use serde::{Deserialize, Serialize};

/// A call longer than this is not a call but a broken PBX clock.
pub const MAX_CALL: Duration = Duration::hours(24);
/// How far ahead of our clock an event may be (the PBX's clock drifts a little).
pub const MAX_AHEAD: Duration = Duration::minutes(5);
/// How old an event may be: a PBX resending its backlog after an outage of up to a week.
pub const MAX_AGE: Duration = Duration::days(7);

/// An event as it arrives, before any check: every field a string, so a wrong value is
/// answered with the field's name rather than a JSON parser's position.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize, utoipa::ToSchema)]
#[serde(deny_unknown_fields)]
pub struct RawCallEvent {
    /// The PBX's id of the call, the same on every event of it (SIP Call-ID, Asterisk
    /// uniqueid …); 1–128 visible characters.
    pub call_id: String,
    /// `queued`, `ringing`, `answered`, `transferred`, `hangup` or `recording`.
    pub event: String,
    /// When it happened at the PBX: RFC 3339 (`2026-12-03T09:15:02.120+08:00`).
    pub at: String,
    /// The calling number; `anonymous` when withheld.
    #[serde(default)]
    pub caller: Option<String>,
    /// The number dialled (12345).
    #[serde(default)]
    pub dialled: Option<String>,
    #[serde(default)]
    pub queue: Option<String>,
    /// The operator's extension (坐席分机).
    #[serde(default)]
    pub extension: Option<String>,
    /// `transferred`: where the call went.
    #[serde(default)]
    pub to_extension: Option<String>,
    /// `hangup`: why it ended.
    #[serde(default)]
    pub cause: Option<String>,
    /// `recording`: an http(s) URL of the recording.
    #[serde(default)]
    pub recording_url: Option<String>,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, utoipa::ToSchema)]
#[serde(rename_all = "snake_case")]
pub enum HangupCause {
    /// The caller put the phone down (also: gave up while it rang).
    CallerHangup,
    OperatorHangup,
    /// Nobody picked up before the PBX gave up.
    NoAnswer,
    Busy,
    Failed,
}

impl HangupCause {
    pub fn parse(s: &str) -> Option<HangupCause> {
        Some(match s {
            "caller_hangup" => HangupCause::CallerHangup,
            "operator_hangup" => HangupCause::OperatorHangup,
            "no_answer" => HangupCause::NoAnswer,
            "busy" => HangupCause::Busy,
            "failed" => HangupCause::Failed,
            _ => return None,
        })
    }

    pub fn label_zh(self) -> &'static str {
        match self {
            HangupCause::CallerHangup => "来电人挂机",
            HangupCause::OperatorHangup => "话务员挂机",
            HangupCause::NoAnswer => "无人接听",
            HangupCause::Busy => "忙",
            HangupCause::Failed => "呼叫失败",
        }
    }
}

/// A checked call event.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct CallEvent {
    pub call_id: String,
    pub at: DateTime<Utc>,
    #[serde(flatten)]
    pub kind: CallEventKind,
    /// The operator signed in at the event's extension when it was stored (the store fills
    /// it in): statistics per operator follow the person, not the phone.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub operator: Option<String>,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(tag = "event", rename_all = "snake_case")]
pub enum CallEventKind {
    Queued { caller: String, dialled: Option<String>, queue: Option<String> },
    Ringing { caller: String, dialled: Option<String>, queue: Option<String>, extension: String },
    Answered { extension: String, caller: Option<String> },
    Transferred { extension: String, to_extension: String },
    Hangup { cause: HangupCause },
    Recording { recording_url: String },
}

impl CallEventKind {
    pub fn name(&self) -> &'static str {
        match self {
            CallEventKind::Queued { .. } => "queued",
            CallEventKind::Ringing { .. } => "ringing",
            CallEventKind::Answered { .. } => "answered",
            CallEventKind::Transferred { .. } => "transferred",
            CallEventKind::Hangup { .. } => "hangup",
            CallEventKind::Recording { .. } => "recording",
        }
    }

    /// The extension the event happens at, if any.
    pub fn extension(&self) -> Option<&str> {
        match self {
            CallEventKind::Ringing { extension, .. }
            | CallEventKind::Answered { extension, .. }
            | CallEventKind::Transferred { extension, .. } => Some(extension),
            _ => None,
        }
    }
}

impl CallEvent {
    /// What makes two deliveries the same event: (`event`, extension or empty).
    pub fn dedup_key(&self) -> (&'static str, String) {
        (self.kind.name(), self.kind.extension().unwrap_or_default().to_string())
    }
}

/// A refused event: which field, and why, in words the PBX's administrator can act on.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("{field}: {message}")]
pub struct CallEventError {
    pub field: String,
    pub message: String,
}

fn refuse(field: &str, message: impl Into<String>) -> CallEventError {
    CallEventError { field: field.to_string(), message: message.into() }
}

/// Extensions are 2–10 digits (坐席分机号).
pub fn check_extension(field: &str, value: &str) -> Result<String, CallEventError> {
    let v = value.trim();
    if (2..=10).contains(&v.len()) && v.bytes().all(|b| b.is_ascii_digit()) {
        Ok(v.to_string())
    } else {
        Err(refuse(field, format!("extension {v:?} must be 2 to 10 digits")))
    }
}

/// The withheld number, which cannot be called back.
pub const ANONYMOUS: &str = "anonymous";

fn check_caller(value: Option<&str>) -> Result<String, CallEventError> {
    let v = value.map(str::trim).unwrap_or_default();
    if v.is_empty() {
        return Err(refuse("caller", "the calling number is missing (send \"anonymous\" when it is withheld)"));
    }
    if v.eq_ignore_ascii_case(ANONYMOUS) {
        return Ok(ANONYMOUS.to_string());
    }
    crate::domain::privacy::validate_phone(v).map_err(|m| refuse("caller", m))?;
    Ok(v.to_string())
}

fn short_text(field: &str, value: Option<&str>, max: usize) -> Result<Option<String>, CallEventError> {
    match value.map(str::trim).filter(|v| !v.is_empty()) {
        None => Ok(None),
        Some(v) if v.chars().count() > max || v.chars().any(char::is_control) => {
            Err(refuse(field, format!("must be at most {max} printable characters")))
        }
        Some(v) => Ok(Some(v.to_string())),
    }
}

fn required_extension(field: &str, value: Option<&str>, event: &str) -> Result<String, CallEventError> {
    match value {
        None => Err(refuse(field, format!("a {event} event names the operator's extension"))),
        Some(v) => check_extension(field, v),
    }
}

/// Checks one event as it arrived, against our clock `now`.
pub fn check(raw: &RawCallEvent, now: DateTime<Utc>) -> Result<CallEvent, CallEventError> {
    let call_id = raw.call_id.trim();
    if call_id.is_empty() || call_id.len() > 128 || call_id.chars().any(|c| c.is_control() || c.is_whitespace()) {
        return Err(refuse("call_id", "must be 1 to 128 visible characters without spaces"));
    }
    // RFC 3339, or the same with a `+0800` offset (what strftime's %z writes in PBX scripts).
    let at = DateTime::parse_from_rfc3339(raw.at.trim())
        .or_else(|_| DateTime::parse_from_str(raw.at.trim(), "%Y-%m-%dT%H:%M:%S%.f%z"))
        .map_err(|_| refuse("at", format!("{:?} is not an RFC 3339 time like 2026-12-03T09:15:02+08:00", raw.at)))?
        .with_timezone(&Utc);
    if at > now + MAX_AHEAD {
        return Err(refuse("at", format!("{} is in the future; check the PBX's clock (NTP)", raw.at)));
    }
    if at < now - MAX_AGE {
        return Err(refuse("at", format!("{} is more than 7 days ago", raw.at)));
    }
    let dialled = short_text("dialled", raw.dialled.as_deref(), 32)?;
    let queue = short_text("queue", raw.queue.as_deref(), 64)?;
    let kind = match raw.event.trim() {
        "queued" => CallEventKind::Queued { caller: check_caller(raw.caller.as_deref())?, dialled, queue },
        "ringing" => CallEventKind::Ringing {
            caller: check_caller(raw.caller.as_deref())?,
            dialled,
            queue,
            extension: required_extension("extension", raw.extension.as_deref(), "ringing")?,
        },
        "answered" => CallEventKind::Answered {
            extension: required_extension("extension", raw.extension.as_deref(), "answered")?,
            caller: raw.caller.as_deref().map(|c| check_caller(Some(c))).transpose()?,
        },
        "transferred" => {
            let extension = required_extension("extension", raw.extension.as_deref(), "transferred")?;
            let to_extension = required_extension("to_extension", raw.to_extension.as_deref(), "transferred")?;
            if to_extension == extension {
                return Err(refuse("to_extension", "a call cannot be transferred to the extension it is at"));
            }
            CallEventKind::Transferred { extension, to_extension }
        }
        "hangup" => {
            let cause = raw.cause.as_deref().map(str::trim).unwrap_or_default();
            let cause = HangupCause::parse(cause).ok_or_else(|| {
                refuse(
                    "cause",
                    format!("{cause:?} is not one of caller_hangup, operator_hangup, no_answer, busy, failed"),
                )
            })?;
            CallEventKind::Hangup { cause }
        }
        "recording" => {
            let url = raw.recording_url.as_deref().map(str::trim).unwrap_or_default();
            if !(url.starts_with("http://") || url.starts_with("https://")) || url.len() > 1024 {
                return Err(refuse("recording_url", "must be an http:// or https:// URL of at most 1024 characters"));
            }
            CallEventKind::Recording { recording_url: url.to_string() }
        }
        other => {
            return Err(refuse(
                "event",
                format!("{other:?} is not one of queued, ringing, answered, transferred, hangup, recording"),
            ))
        }
    };
    Ok(CallEvent { call_id: call_id.to_string(), at, kind, operator: None })
}

/// One phone the call rang at.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, utoipa::ToSchema)]
pub struct Ring {
    pub extension: String,
    pub at: DateTime<Utc>,
    pub operator: Option<String>,
}

/// Where the call is or ended, as far as the events tell.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, utoipa::ToSchema)]
#[serde(rename_all = "snake_case")]
pub enum CallOutcome {
    /// In the queue, not yet ringing anywhere.
    Queued,
    Ringing,
    /// Answered and still going.
    Talking,
    /// Answered and over.
    Answered,
    /// Over without anyone answering (放弃 / 漏接).
    Abandoned,
}

/// A call as the events received so far describe it.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, utoipa::ToSchema)]
pub struct CallRecord {
    pub call_id: String,
    pub caller: Option<String>,
    pub dialled: Option<String>,
    pub queue: Option<String>,
    /// Its first event: entering the queue, or ringing when the PBX has no queue.
    pub started_at: DateTime<Utc>,
    pub rings: Vec<Ring>,
    /// The first answer: who took the call, and when.
    pub answered: Option<Ring>,
    /// Later answers, after transfers.
    pub answered_after_transfer: Vec<Ring>,
    pub transfers: Vec<Transfer>,
    pub ended_at: Option<DateTime<Utc>>,
    pub cause: Option<HangupCause>,
    pub recording_url: Option<String>,
    pub outcome: CallOutcome,
    /// How many distinct events the call has (what a PBX's own count can be checked against).
    #[serde(default)]
    pub events: usize,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, utoipa::ToSchema)]
pub struct Transfer {
    pub from: String,
    pub to: String,
    pub at: DateTime<Utc>,
}

impl CallRecord {
    /// Waiting time: from the start to the answer, or to the hang-up when nobody answered.
    pub fn wait(&self) -> Option<Duration> {
        match (&self.answered, self.ended_at) {
            (Some(a), _) => Some(a.at - self.started_at),
            (None, Some(end)) => Some(end - self.started_at),
            _ => None,
        }
    }

    /// Talking time: from the (first) answer to the hang-up.
    pub fn talk(&self) -> Option<Duration> {
        match (&self.answered, self.ended_at) {
            (Some(a), Some(end)) => Some(end - a.at),
            _ => None,
        }
    }

    /// The extension that holds the call now (or held it last): the last answer's.
    pub fn holder(&self) -> Option<&str> {
        self.answered_after_transfer
            .last()
            .or(self.answered.as_ref())
            .map(|r| r.extension.as_str())
            .filter(|ext| !self.transfers.iter().any(|t| t.from == *ext && Some(t.at) > self.last_answer_at()))
    }

    fn last_answer_at(&self) -> Option<DateTime<Utc>> {
        self.answered_after_transfer.last().or(self.answered.as_ref()).map(|r| r.at)
    }

    /// Whether the call ever rang at `extension`.
    pub fn rang_at(&self, extension: &str) -> bool {
        self.rings.iter().any(|r| r.extension == extension)
    }

    /// Whether `extension` answered it (first, or after a transfer).
    pub fn answered_by(&self, extension: &str) -> bool {
        self.answered.iter().chain(&self.answered_after_transfer).any(|r| r.extension == extension)
    }

    pub fn is_over(&self) -> bool {
        self.ended_at.is_some()
    }
}

/// Folds the events a call has (any order, each at most once) into its record, or says what
/// in them cannot be. `events` must all carry the same call id and be non-empty.
pub fn fold(events: &[CallEvent]) -> Result<CallRecord, CallEventError> {
    let mut sorted: Vec<&CallEvent> = events.iter().collect();
    // Same instant: the natural order of a call, so a ring and its answer stamped the same
    // millisecond still fold as ring-then-answer.
    sorted.sort_by_key(|e| (e.at, order(&e.kind)));
    let first = sorted.first().ok_or_else(|| refuse("call_id", "a call needs at least one event"))?;
    let timed: Vec<&&CallEvent> =
        sorted.iter().filter(|e| !matches!(e.kind, CallEventKind::Recording { .. })).collect();
    let started_at = timed.first().map(|e| e.at).unwrap_or(first.at);
    let mut record = CallRecord {
        call_id: first.call_id.clone(),
        caller: None,
        dialled: None,
        queue: None,
        started_at,
        rings: Vec::new(),
        answered: None,
        answered_after_transfer: Vec::new(),
        transfers: Vec::new(),
        ended_at: None,
        cause: None,
        recording_url: None,
        outcome: CallOutcome::Queued,
        events: events.len(),
    };
    let set_caller = |record: &mut CallRecord, caller: &str, dialled: &Option<String>, queue: &Option<String>| {
        record.caller.get_or_insert_with(|| caller.to_string());
        if record.dialled.is_none() {
            record.dialled.clone_from(dialled);
        }
        if record.queue.is_none() {
            record.queue.clone_from(queue);
        }
    };
    for e in &sorted {
        match &e.kind {
            CallEventKind::Queued { caller, dialled, queue } => set_caller(&mut record, caller, dialled, queue),
            CallEventKind::Ringing { caller, dialled, queue, extension } => {
                set_caller(&mut record, caller, dialled, queue);
                record.rings.push(Ring { extension: extension.clone(), at: e.at, operator: e.operator.clone() });
            }
            CallEventKind::Answered { extension, caller } => {
                if let Some(c) = caller {
                    set_caller(&mut record, c, &None, &None);
                }
                let ring = Ring { extension: extension.clone(), at: e.at, operator: e.operator.clone() };
                if record.answered.is_none() {
                    record.answered = Some(ring);
                } else {
                    record.answered_after_transfer.push(ring);
                }
            }
            CallEventKind::Transferred { extension, to_extension } => {
                record.transfers.push(Transfer { from: extension.clone(), to: to_extension.clone(), at: e.at })
            }
            CallEventKind::Hangup { cause } => {
                record.ended_at = Some(e.at);
                record.cause = Some(*cause);
            }
            CallEventKind::Recording { recording_url } => record.recording_url = Some(recording_url.clone()),
        }
    }
    check_consistent(&record)?;
    record.outcome = match (&record.answered, record.ended_at, record.rings.is_empty()) {
        (Some(_), Some(_), _) => CallOutcome::Answered,
        (Some(_), None, _) => CallOutcome::Talking,
        (None, Some(_), _) => CallOutcome::Abandoned,
        (None, None, false) => CallOutcome::Ringing,
        (None, None, true) => CallOutcome::Queued,
    };
    Ok(record)
}

fn order(kind: &CallEventKind) -> u8 {
    match kind {
        CallEventKind::Queued { .. } => 0,
        CallEventKind::Ringing { .. } => 1,
        CallEventKind::Answered { .. } => 2,
        CallEventKind::Transferred { .. } => 3,
        CallEventKind::Hangup { .. } => 4,
        CallEventKind::Recording { .. } => 5,
    }
}

fn check_consistent(record: &CallRecord) -> Result<(), CallEventError> {
    if let Some(end) = record.ended_at {
        if let Some(last_ring) = record.rings.iter().map(|r| r.at).max() {
            if last_ring > end {
                return Err(refuse("at", format!("the call rang at {last_ring} after it hung up at {end}")));
            }
        }
        if end - record.started_at > MAX_CALL {
            return Err(refuse("at", "a call cannot last more than 24 hours; check the PBX's clock"));
        }
    }
    for answer in record.answered.iter().chain(&record.answered_after_transfer) {
        if let Some(ring) = record.rings.iter().find(|r| r.extension == answer.extension) {
            if ring.at > answer.at {
                return Err(refuse(
                    "at",
                    format!("extension {} answered at {} before it rang at {}", answer.extension, answer.at, ring.at),
                ));
            }
        }
        if record.ended_at.is_some_and(|end| end < answer.at) {
            return Err(refuse("at", format!("extension {} answered after the call hung up", answer.extension)));
        }
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    fn now() -> DateTime<Utc> {
        "2026-12-03T02:00:00Z".parse().unwrap()
    }

    fn raw(event: &str, secs: i64) -> RawCallEvent {
        RawCallEvent {
            call_id: "c1".into(),
            event: event.into(),
            at: (now() - Duration::seconds(100) + Duration::seconds(secs)).to_rfc3339(),
            caller: Some("13812345678".into()),
            dialled: Some("12345".into()),
            queue: Some("hotline".into()),
            extension: Some("8001".into()),
            to_extension: None,
            cause: Some("caller_hangup".into()),
            recording_url: Some("https://pbx.example/rec/c1.wav".into()),
        }
    }

    fn ev(event: &str, secs: i64) -> CallEvent {
        check(&raw(event, secs), now()).unwrap()
    }

    fn field(r: Result<CallEvent, CallEventError>) -> String {
        r.unwrap_err().field
    }

    #[test]
    fn a_ring_answer_hangup_call_has_wait_and_talk() {
        let call =
            fold(&[ev("queued", 0), ev("ringing", 4), ev("answered", 9), ev("hangup", 129), ev("recording", 130)])
                .unwrap();
        assert_eq!(call.outcome, CallOutcome::Answered);
        assert_eq!(call.wait(), Some(Duration::seconds(9)));
        assert_eq!(call.talk(), Some(Duration::seconds(120)));
        assert_eq!(call.caller.as_deref(), Some("13812345678"));
        assert_eq!(call.recording_url.as_deref(), Some("https://pbx.example/rec/c1.wav"));
    }

    #[test]
    fn events_in_any_order_give_the_same_call() {
        let events = [ev("queued", 0), ev("ringing", 4), ev("answered", 9), ev("hangup", 50)];
        let straight = fold(&events).unwrap();
        let mut reversed = events.to_vec();
        reversed.reverse();
        assert_eq!(fold(&reversed).unwrap(), straight);
        let shuffled = [events[2].clone(), events[0].clone(), events[3].clone(), events[1].clone()];
        assert_eq!(fold(&shuffled).unwrap(), straight);
    }

    #[test]
    fn a_call_that_rings_out_is_abandoned_with_its_wait() {
        let mut hang = raw("hangup", 30);
        hang.cause = Some("no_answer".into());
        let call = fold(&[ev("ringing", 0), check(&hang, now()).unwrap()]).unwrap();
        assert_eq!(call.outcome, CallOutcome::Abandoned);
        assert_eq!(call.wait(), Some(Duration::seconds(30)));
        assert_eq!(call.talk(), None);
        assert_eq!(call.cause, Some(HangupCause::NoAnswer));
    }

    #[test]
    fn impossible_sequences_are_refused_naming_the_field() {
        assert_eq!(fold(&[ev("ringing", 10), ev("hangup", 5)]).unwrap_err().field, "at");
        assert_eq!(fold(&[ev("ringing", 10), ev("answered", 5)]).unwrap_err().field, "at");
        // A hang-up arriving first is kept: the ring may still be on its way.
        let alone = fold(&[ev("hangup", 5)]).unwrap();
        assert_eq!((alone.outcome, alone.caller.as_deref()), (CallOutcome::Abandoned, None));
        let mut late = raw("hangup", 0);
        late.at = (now() - Duration::seconds(100) + Duration::hours(25)).to_rfc3339();
        // Checked against a clock a day on, so only the length is wrong.
        let late = check(&late, now() + Duration::days(2)).unwrap();
        assert_eq!(fold(&[ev("ringing", 0), late]).unwrap_err().field, "at");
    }

    #[test]
    fn malformed_events_name_their_field() {
        assert_eq!(field(check(&RawCallEvent { call_id: " ".into(), ..raw("ringing", 0) }, now())), "call_id");
        assert_eq!(field(check(&raw("rang", 0), now())), "event");
        assert_eq!(field(check(&RawCallEvent { at: "yesterday".into(), ..raw("ringing", 0) }, now())), "at");
        let strftime = RawCallEvent { at: "2026-12-03T09:58:20.125+0800".into(), ..raw("ringing", 0) };
        assert_eq!(check(&strftime, now()).unwrap().at, now() - Duration::seconds(100) + Duration::milliseconds(125));
        assert_eq!(field(check(&raw("ringing", 100 + 3600), now())), "at", "an hour in the future");
        assert_eq!(field(check(&raw("ringing", -8 * 86400), now())), "at", "eight days ago");
        assert_eq!(field(check(&RawCallEvent { caller: Some("12".into()), ..raw("ringing", 0) }, now())), "caller");
        assert_eq!(field(check(&RawCallEvent { caller: None, ..raw("ringing", 0) }, now())), "caller");
        assert_eq!(
            field(check(&RawCallEvent { extension: Some("80a1".into()), ..raw("ringing", 0) }, now())),
            "extension"
        );
        assert_eq!(field(check(&RawCallEvent { cause: Some("tired".into()), ..raw("hangup", 0) }, now())), "cause");
        assert_eq!(
            field(check(&RawCallEvent { recording_url: Some("ftp://x".into()), ..raw("recording", 0) }, now())),
            "recording_url"
        );
        assert_eq!(field(check(&raw("transferred", 0), now())), "to_extension");
        let withheld = check(&RawCallEvent { caller: Some("Anonymous".into()), ..raw("ringing", 0) }, now()).unwrap();
        assert!(matches!(withheld.kind, CallEventKind::Ringing { ref caller, .. } if caller == ANONYMOUS));
    }

    #[test]
    fn a_retried_event_has_the_same_key_and_rings_at_two_phones_do_not() {
        assert_eq!(ev("ringing", 0).dedup_key(), ev("ringing", 3).dedup_key());
        let other = check(&RawCallEvent { extension: Some("8002".into()), ..raw("ringing", 0) }, now()).unwrap();
        assert_ne!(ev("ringing", 0).dedup_key(), other.dedup_key());
        assert_eq!(ev("hangup", 0).dedup_key(), ("hangup", String::new()));
    }

    #[test]
    fn after_a_transfer_the_new_phone_holds_the_call() {
        let mut transfer = raw("transferred", 20);
        transfer.to_extension = Some("8002".into());
        let mut ring2 = raw("ringing", 21);
        ring2.extension = Some("8002".into());
        let mut answer2 = raw("answered", 25);
        answer2.extension = Some("8002".into());
        let events: Vec<CallEvent> = [raw("ringing", 0), raw("answered", 3), transfer, ring2, answer2]
            .iter()
            .map(|r| check(r, now()).unwrap())
            .collect();
        let call = fold(&events).unwrap();
        assert_eq!(call.holder(), Some("8002"));
        assert_eq!(call.answered.as_ref().unwrap().extension, "8001", "the first answer is the one counted");
        let before_answer = fold(&events[..4]).unwrap();
        assert_eq!(before_answer.holder(), None, "8001 passed it on and 8002 has not picked up");
    }
}
