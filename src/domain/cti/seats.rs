//! Operators' seats (坐席): an operator signs in at an extension (坐席签入) and the seat is
//! then in one state at a time.
//!
//! | state | 中文 | entered by |
//! | --- | --- | --- |
//! | `signed_out` | 签出 | signing out (or never signed in) |
//! | `idle` | 空闲 | signing in; ready after a break; wrap-up running out; a ring that stopped unanswered |
//! | `ringing` | 振铃 | the PBX rings the extension |
//! | `on_call` | 通话 | the operator answers |
//! | `wrap_up` | 话后处理 | the call ends or is transferred away: for `cti_wrap_up_secs`, then idle by itself |
//! | `break` | 小休 | the operator takes a break (from idle or wrap-up) |
//!
//! The PBX is the truth about the phone: a ring at a seat on a break still shows it ringing.
//! Events about a call the seat no longer holds, or older than the seat's own state, change
//! nothing, so late and repeated events leave the seat where it is. Wrap-up ends by itself:
//! it is stored with the instant it ends and read as idle from then on (no timer needed).

use super::calls::{CallEvent, CallEventKind, CallRecord};
use chrono::{DateTime, Duration, Utc};
use serde::{Deserialize, Serialize};

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, utoipa::ToSchema)]
#[serde(rename_all = "snake_case")]
pub enum SeatState {
    SignedOut,
    Idle,
    Ringing,
    OnCall,
    WrapUp,
    Break,
}

impl SeatState {
    pub fn as_str(self) -> &'static str {
        match self {
            SeatState::SignedOut => "signed_out",
            SeatState::Idle => "idle",
            SeatState::Ringing => "ringing",
            SeatState::OnCall => "on_call",
            SeatState::WrapUp => "wrap_up",
            SeatState::Break => "break",
        }
    }

    pub fn parse(s: &str) -> Option<SeatState> {
        Some(match s {
            "signed_out" => SeatState::SignedOut,
            "idle" => SeatState::Idle,
            "ringing" => SeatState::Ringing,
            "on_call" => SeatState::OnCall,
            "wrap_up" => SeatState::WrapUp,
            "break" => SeatState::Break,
            _ => return None,
        })
    }

    pub fn label_zh(self) -> &'static str {
        match self {
            SeatState::SignedOut => "签出",
            SeatState::Idle => "空闲",
            SeatState::Ringing => "振铃",
            SeatState::OnCall => "通话",
            SeatState::WrapUp => "话后处理",
            SeatState::Break => "小休",
        }
    }
}

/// One extension and who sits at it. The row outlives sign-out: an extension once signed in
/// is a known one (an event naming an extension nobody ever signed in at is refused).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, utoipa::ToSchema)]
pub struct Seat {
    pub extension: String,
    pub user_id: Option<i64>,
    pub username: Option<String>,
    pub display_name: Option<String>,
    pub state: SeatState,
    /// Since when the seat is in this state.
    pub since: DateTime<Utc>,
    /// `wrap_up`: when it ends by itself.
    pub wrap_until: Option<DateTime<Utc>>,
    /// The call on the phone (ringing, on call, wrapping up).
    pub call_id: Option<String>,
    pub caller: Option<String>,
}

#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum SeatError {
    #[error("extension {extension} is taken by {username}; sign them out first or choose another")]
    ExtensionTaken { extension: String, username: String },
    #[error("sign in to a seat first (坐席签入)")]
    NotSignedIn,
    #[error("the seat is {0}: finish the call first")]
    Busy(&'static str),
    #[error("a break can start only when idle or wrapping up (the seat is {0})")]
    NotNow(&'static str),
}

impl Seat {
    /// The state as it is at `now`: a wrap-up past its end is idle.
    pub fn state_at(&self, now: DateTime<Utc>) -> SeatState {
        match (self.state, self.wrap_until) {
            (SeatState::WrapUp, Some(until)) if until <= now => SeatState::Idle,
            (state, _) => state,
        }
    }

    /// The seat as read at `now` (wrap-up that ran out shown as idle since it did).
    pub fn as_of(&self, now: DateTime<Utc>) -> Seat {
        match (self.state, self.wrap_until) {
            (SeatState::WrapUp, Some(until)) if until <= now => Seat {
                state: SeatState::Idle,
                since: until,
                wrap_until: None,
                call_id: None,
                caller: None,
                ..self.clone()
            },
            _ => self.clone(),
        }
    }

    fn with(&self, state: SeatState, since: DateTime<Utc>) -> Seat {
        Seat { state, since, wrap_until: None, ..self.clone() }
    }
}

/// Who signs in.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Operator {
    pub user_id: i64,
    pub username: String,
    pub display_name: String,
}

/// 坐席签入 at `extension`. `current` is the extension's seat (if it exists); a seat held by
/// someone else is refused. Signing in again at one's own seat keeps its state.
pub fn sign_in(
    current: Option<&Seat>,
    extension: &str,
    operator: &Operator,
    now: DateTime<Utc>,
) -> Result<Seat, SeatError> {
    if let Some(seat) = current {
        if seat.state != SeatState::SignedOut && seat.user_id.is_some_and(|u| u != operator.user_id) {
            return Err(SeatError::ExtensionTaken {
                extension: extension.to_string(),
                username: seat.username.clone().unwrap_or_default(),
            });
        }
        if seat.state != SeatState::SignedOut && seat.user_id == Some(operator.user_id) {
            return Ok(seat.clone());
        }
    }
    Ok(Seat {
        extension: extension.to_string(),
        user_id: Some(operator.user_id),
        username: Some(operator.username.clone()),
        display_name: Some(operator.display_name.clone()),
        state: SeatState::Idle,
        since: now,
        wrap_until: None,
        call_id: None,
        caller: None,
    })
}

/// 签出. Refused while ringing or on a call: the PBX would keep routing to a seat nobody watches.
pub fn sign_out(seat: &Seat, now: DateTime<Utc>) -> Result<Seat, SeatError> {
    match seat.state_at(now) {
        SeatState::SignedOut => Err(SeatError::NotSignedIn),
        s @ (SeatState::Ringing | SeatState::OnCall) => Err(SeatError::Busy(s.label_zh())),
        _ => Ok(Seat { call_id: None, caller: None, ..seat.with(SeatState::SignedOut, now) }),
    }
}

/// 小休.
pub fn take_break(seat: &Seat, now: DateTime<Utc>) -> Result<Seat, SeatError> {
    match seat.state_at(now) {
        SeatState::SignedOut => Err(SeatError::NotSignedIn),
        SeatState::Break => Ok(seat.clone()),
        SeatState::Idle | SeatState::WrapUp => {
            Ok(Seat { call_id: None, caller: None, ..seat.with(SeatState::Break, now) })
        }
        s => Err(SeatError::NotNow(s.label_zh())),
    }
}

/// 置闲: back from a break, or wrap-up ended early.
pub fn ready(seat: &Seat, now: DateTime<Utc>) -> Result<Seat, SeatError> {
    match seat.state_at(now) {
        SeatState::SignedOut => Err(SeatError::NotSignedIn),
        SeatState::Idle => Ok(seat.as_of(now)),
        SeatState::Break | SeatState::WrapUp => {
            Ok(Seat { call_id: None, caller: None, ..seat.with(SeatState::Idle, now) })
        }
        s => Err(SeatError::Busy(s.label_zh())),
    }
}

/// What a stored call event does to the seat at `seat.extension`, given the call as it now
/// is; `None` when nothing changes. `wrap_up` is the configured 话后处理 length.
pub fn on_call_event(seat: &Seat, call: &CallRecord, event: &CallEvent, wrap_up: Duration) -> Option<Seat> {
    if seat.state == SeatState::SignedOut {
        return None;
    }
    let ext = seat.extension.as_str();
    let ours = seat.call_id.as_deref() == Some(call.call_id.as_str());
    // An event older than the seat's own state, about another call while the seat is busy
    // with one, is stale: it must not take the seat from the call it has.
    let busy = matches!(seat.state, SeatState::Ringing | SeatState::OnCall | SeatState::WrapUp);
    if !ours && busy && event.at < seat.since {
        return None;
    }
    let with_call = |state: SeatState, since: DateTime<Utc>| Seat {
        call_id: Some(call.call_id.clone()),
        caller: call.caller.clone(),
        ..seat.with(state, since)
    };
    let wrap = |since: DateTime<Utc>| Seat { wrap_until: Some(since + wrap_up), ..with_call(SeatState::WrapUp, since) };
    let free = |since: DateTime<Utc>| Seat { call_id: None, caller: None, ..seat.with(SeatState::Idle, since) };
    let next = if let Some(end) = call.ended_at {
        if !ours {
            return None;
        }
        if call.answered_by(ext) {
            let left = call.transfers.iter().find(|t| t.from == ext).map(|t| t.at).unwrap_or(end).min(end);
            wrap(left)
        } else {
            free(end)
        }
    } else if call.answered_by(ext) && call.holder() == Some(ext) {
        if !ours && matches!(seat.state, SeatState::OnCall) {
            return None;
        }
        let since =
            call.answered_after_transfer.iter().chain(&call.answered).find(|r| r.extension == ext).map(|r| r.at);
        with_call(SeatState::OnCall, since.unwrap_or(event.at))
    } else if call.answered_by(ext) {
        // Transferred away: wrap up from the transfer.
        if !ours {
            return None;
        }
        let at = call.transfers.iter().rev().find(|t| t.from == ext).map(|t| t.at).unwrap_or(event.at);
        wrap(at)
    } else if call.rang_at(ext) && call.answered.is_some() {
        // Rang here, someone else took it (ring group, or after a transfer elsewhere).
        if !ours || call.transfers.iter().any(|t| t.to == ext) && call.holder().is_none() {
            return None;
        }
        free(event.at)
    } else if call.rang_at(ext) || call.transfers.iter().any(|t| t.to == ext) {
        if !ours && matches!(seat.state, SeatState::Ringing | SeatState::OnCall) {
            // Busy with another call: the PBX should not have rung; the phone shows it, we keep the call.
            return None;
        }
        let at = call.rings.iter().find(|r| r.extension == ext).map(|r| r.at).unwrap_or(event.at);
        with_call(SeatState::Ringing, at)
    } else {
        return None;
    };
    (next != *seat).then_some(next)
}

/// Which seat the PBX should ring for a new call (automatic call distribution): a seat that is
/// idle now — signed in, not ringing, not on a call, not in wrap-up (话后处理) still running, not
/// on a break (小休) — and not in `exclude`; of those, the one idle the longest (fair to the
/// operators, the usual rule of call centres), ties to the lowest extension.
pub fn next_to_ring<'a>(seats: &'a [Seat], now: DateTime<Utc>, exclude: &[String]) -> Option<&'a Seat> {
    seats
        .iter()
        .filter(|s| s.user_id.is_some() && s.state_at(now) == SeatState::Idle)
        .filter(|s| !exclude.contains(&s.extension))
        .min_by_key(|s| (s.as_of(now).since, s.extension.clone()))
}

/// Whether an event's kind can change a seat other than the one it names (a hang-up ends the
/// call at every phone it rang or was answered at).
pub fn extensions_touched(call: &CallRecord, event: &CallEvent) -> Vec<String> {
    let mut exts: Vec<String> = match &event.kind {
        CallEventKind::Transferred { extension, to_extension } => vec![extension.clone(), to_extension.clone()],
        CallEventKind::Recording { .. } => Vec::new(),
        _ => call
            .rings
            .iter()
            .map(|r| r.extension.clone())
            .chain(call.answered.iter().chain(&call.answered_after_transfer).map(|r| r.extension.clone()))
            .chain(call.transfers.iter().map(|t| t.to.clone()))
            .collect(),
    };
    exts.sort();
    exts.dedup();
    exts
}

#[cfg(test)]
mod tests {
    use super::super::calls::{check, fold, RawCallEvent};
    use super::*;

    #[test]
    fn the_pbx_rings_the_seat_idle_longest_never_one_on_break_wrapping_up_or_busy() {
        let seat = |ext: &str, state: SeatState, since: i64| Seat {
            extension: ext.into(),
            user_id: Some(ext.parse().unwrap()),
            username: Some(format!("op{ext}")),
            display_name: None,
            state,
            since: t(since),
            wrap_until: None,
            call_id: None,
            caller: None,
        };
        let wrapping = |ext: &str, until: i64| Seat { wrap_until: Some(t(until)), ..seat(ext, SeatState::WrapUp, 0) };
        let seats = vec![
            seat("8001", SeatState::Break, 0),
            seat("8002", SeatState::OnCall, 0),
            seat("8003", SeatState::Ringing, 0),
            wrapping("8004", 100),
            seat("8005", SeatState::Idle, 50),
            seat("8006", SeatState::Idle, 20),
            seat("8007", SeatState::SignedOut, 0),
        ];
        let none: Vec<String> = Vec::new();
        // 8006 has waited since 20 s, 8005 since 50 s; 8004 is still wrapping up at 60 s.
        assert_eq!(next_to_ring(&seats, t(60), &none).map(|s| s.extension.as_str()), Some("8006"));
        assert_eq!(next_to_ring(&seats, t(60), &["8006".into()]).map(|s| s.extension.as_str()), Some("8005"));
        assert!(next_to_ring(&seats, t(60), &["8006".into(), "8005".into()]).is_none());
        // Wrap-up over at 100 s: idle since then, after 8006 and 8005.
        assert_eq!(
            next_to_ring(&seats, t(120), &["8006".into(), "8005".into()]).map(|s| s.extension.as_str()),
            Some("8004")
        );
    }

    fn t(secs: i64) -> DateTime<Utc> {
        "2026-12-03T02:00:00Z".parse::<DateTime<Utc>>().unwrap() + Duration::seconds(secs)
    }

    fn op() -> Operator {
        Operator { user_id: 7, username: "op7".into(), display_name: "话务员7".into() }
    }

    fn ev(event: &str, secs: i64, ext: &str) -> CallEvent {
        let raw = RawCallEvent {
            call_id: "c1".into(),
            event: event.into(),
            at: t(secs).to_rfc3339(),
            caller: Some("13812345678".into()),
            extension: Some(ext.into()),
            cause: Some("caller_hangup".into()),
            ..RawCallEvent::default()
        };
        check(&raw, t(1000)).unwrap()
    }

    /// Applies events one by one as the store would, returning the seat after each.
    fn run(seat: Seat, events: &[CallEvent]) -> Vec<SeatState> {
        let mut seat = seat;
        let mut stored = Vec::new();
        let mut states = Vec::new();
        for e in events {
            stored.push(e.clone());
            let call = fold(&stored).unwrap();
            if let Some(next) = on_call_event(&seat, &call, e, Duration::seconds(30)) {
                seat = next;
            }
            states.push(seat.state);
        }
        states
    }

    #[test]
    fn a_call_takes_the_seat_through_ringing_call_and_wrap_up_back_to_idle() {
        let seat = sign_in(None, "8001", &op(), t(0)).unwrap();
        assert_eq!(seat.state, SeatState::Idle);
        let states =
            run(seat.clone(), &[ev("ringing", 10, "8001"), ev("answered", 14, "8001"), ev("hangup", 74, "8001")]);
        assert_eq!(states, [SeatState::Ringing, SeatState::OnCall, SeatState::WrapUp]);
        let stored = [ev("ringing", 10, "8001"), ev("answered", 14, "8001"), ev("hangup", 74, "8001")];
        let mut s = seat;
        for i in 0..3 {
            let call = fold(&stored[..=i]).unwrap();
            s = on_call_event(&s, &call, &stored[i], Duration::seconds(30)).unwrap_or(s);
        }
        assert_eq!(s.wrap_until, Some(t(104)));
        assert_eq!(s.state_at(t(100)), SeatState::WrapUp);
        assert_eq!(s.state_at(t(104)), SeatState::Idle, "wrap-up ends by itself");
        assert_eq!(s.as_of(t(200)).since, t(104));
    }

    #[test]
    fn a_ring_nobody_answers_leaves_the_seat_idle() {
        let seat = sign_in(None, "8001", &op(), t(0)).unwrap();
        let states = run(seat, &[ev("ringing", 10, "8001"), ev("hangup", 40, "8001")]);
        assert_eq!(states, [SeatState::Ringing, SeatState::Idle]);
    }

    #[test]
    fn late_and_repeated_events_leave_the_seat_where_it_is() {
        let seat = sign_in(None, "8001", &op(), t(0)).unwrap();
        // The hang-up arrives before the answer: the answer, late, does not put the seat on a call.
        let states = run(seat, &[ev("ringing", 10, "8001"), ev("hangup", 74, "8001"), ev("answered", 14, "8001")]);
        assert_eq!(states, [SeatState::Ringing, SeatState::Idle, SeatState::Idle]);
    }

    #[test]
    fn operators_cannot_take_a_held_extension_nor_sign_out_mid_call() {
        let mine = sign_in(None, "8001", &op(), t(0)).unwrap();
        let other = Operator { user_id: 8, username: "op8".into(), display_name: "x".into() };
        assert!(matches!(sign_in(Some(&mine), "8001", &other, t(1)), Err(SeatError::ExtensionTaken { .. })));
        let on_call = Seat { state: SeatState::OnCall, ..mine.clone() };
        assert!(matches!(sign_out(&on_call, t(2)), Err(SeatError::Busy(_))));
        assert!(matches!(take_break(&on_call, t(2)), Err(SeatError::NotNow(_))));
        let on_break = take_break(&mine, t(3)).unwrap();
        assert_eq!(on_break.state, SeatState::Break);
        assert_eq!(ready(&on_break, t(4)).unwrap().state, SeatState::Idle);
        let out = sign_out(&mine, t(5)).unwrap();
        assert_eq!(out.state, SeatState::SignedOut);
        assert_eq!(sign_in(Some(&out), "8001", &other, t(6)).unwrap().username.as_deref(), Some("op8"));
    }

    #[test]
    fn a_transfer_wraps_up_the_first_seat_and_rings_the_second() {
        let a = sign_in(None, "8001", &op(), t(0)).unwrap();
        let b = sign_in(None, "8002", &Operator { user_id: 8, username: "op8".into(), display_name: "x".into() }, t(0))
            .unwrap();
        let raw = RawCallEvent {
            call_id: "c1".into(),
            event: "transferred".into(),
            at: t(30).to_rfc3339(),
            extension: Some("8001".into()),
            to_extension: Some("8002".into()),
            ..RawCallEvent::default()
        };
        let events = vec![ev("ringing", 10, "8001"), ev("answered", 12, "8001"), check(&raw, t(1000)).unwrap()];
        assert_eq!(run(a, &events), [SeatState::Ringing, SeatState::OnCall, SeatState::WrapUp]);
        let call = fold(&events).unwrap();
        assert_eq!(on_call_event(&b, &call, &events[2], Duration::seconds(30)).unwrap().state, SeatState::Ringing);
    }
}
