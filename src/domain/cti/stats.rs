//! Call statistics (话务统计), the figures supervisors are assessed on. A period's figures are
//! computed from the call records whose **start** (first event: entering the queue, or the
//! first ring) falls in the period; hours are Beijing time.
//!
//! | figure | 中文 | computed as |
//! | --- | --- | --- |
//! | `offered` | 呼入量 | calls that started in the period |
//! | `answered` | 接通量 | of those, calls with an answer |
//! | `abandoned` | 放弃量 | calls that ended without any answer (in the queue or while ringing) |
//! | `in_progress` | 进行中 | offered − answered − abandoned: still queued or ringing, no outcome yet |
//! | `answered_within_15s` | 15秒内接通量 | answered calls whose wait (start → first answer) is ≤ 15 s |
//! | `answer_rate` | 接通率 | answered ÷ (answered + abandoned); `null` when both are 0 |
//! | `within_15s_rate` | 15秒接通率 | answered_within_15s ÷ (answered + abandoned); `null` when both are 0 |
//! | `average_wait_secs` | 平均等待时长 | mean of start → first answer over answered calls |
//! | `average_abandon_wait_secs` | 平均放弃等待 | mean of start → hang-up over abandoned calls |
//! | `average_talk_secs` | 平均通话时长 | mean of first answer → hang-up over answered calls that have ended |
//! | `average_handling_secs` | 平均处理时长 | average talk + the configured wrap-up (`cti_wrap_up_secs`), over the same calls |
//!
//! Rates leave out calls still in progress, whose outcome is not known yet, so a figure read
//! during a busy hour does not count a call still ringing as lost.
//!
//! **Per hour**: the same figures for the calls that started in each hour 0–23.
//! **Per operator**: for each operator (the person signed in at the extension when it rang or
//! answered), `offered` = calls that rang at their seat, `answered` = calls they answered
//! first, `abandoned` = calls that rang at their seat and ended with nobody answering; the
//! waits, talk and handling times are those of the calls they answered. A call that rang at
//! two seats before one answered is offered to both and answered by one.

use super::calls::CallRecord;
use chrono::{DateTime, Duration, Timelike, Utc};
use serde::Serialize;

/// What counts as answered quickly (15秒接通).
pub const QUICK_ANSWER: Duration = Duration::seconds(15);

#[derive(Debug, Clone, Default, PartialEq, Serialize, utoipa::ToSchema)]
pub struct Figures {
    pub offered: i64,
    pub answered: i64,
    pub abandoned: i64,
    pub in_progress: i64,
    pub answered_within_15s: i64,
    pub answer_rate: Option<f64>,
    pub within_15s_rate: Option<f64>,
    pub average_wait_secs: Option<f64>,
    pub average_abandon_wait_secs: Option<f64>,
    pub average_talk_secs: Option<f64>,
    pub average_handling_secs: Option<f64>,
}

#[derive(Default)]
struct Tally {
    offered: i64,
    answered: i64,
    abandoned: i64,
    quick: i64,
    wait_ms: i64,
    abandon_wait_ms: i64,
    talk_ms: i64,
    talks: i64,
    /// Rang here, answered at another seat: neither answered here nor abandoned.
    elsewhere: i64,
}

impl Tally {
    fn add(&mut self, call: &CallRecord, answered_here: bool, offered_here: bool) {
        if !offered_here {
            return;
        }
        self.offered += 1;
        let wait = call.wait();
        if call.answered.is_some() {
            if !answered_here {
                self.elsewhere += 1;
                return;
            }
            self.answered += 1;
            let w = wait.unwrap_or_default();
            self.wait_ms += w.num_milliseconds();
            if w <= QUICK_ANSWER {
                self.quick += 1;
            }
            if let Some(talk) = call.talk() {
                self.talk_ms += talk.num_milliseconds();
                self.talks += 1;
            }
        } else if call.is_over() {
            self.abandoned += 1;
            self.abandon_wait_ms += wait.unwrap_or_default().num_milliseconds();
        }
    }

    fn figures(&self, wrap_up: Duration) -> Figures {
        let mean = |total_ms: i64, n: i64| (n > 0).then(|| round1(total_ms as f64 / n as f64 / 1000.0));
        let settled = self.answered + self.abandoned;
        let rate = |n: i64| (settled > 0).then(|| round4(n as f64 / settled as f64));
        let talk = mean(self.talk_ms, self.talks);
        Figures {
            offered: self.offered,
            answered: self.answered,
            abandoned: self.abandoned,
            in_progress: (self.offered - self.answered - self.abandoned - self.elsewhere).max(0),
            answered_within_15s: self.quick,
            answer_rate: rate(self.answered),
            within_15s_rate: rate(self.quick),
            average_wait_secs: mean(self.wait_ms, self.answered),
            average_abandon_wait_secs: mean(self.abandon_wait_ms, self.abandoned),
            average_talk_secs: talk,
            average_handling_secs: talk.map(|t| round1(t + wrap_up.num_milliseconds() as f64 / 1000.0)),
        }
    }
}

fn round1(x: f64) -> f64 {
    (x * 10.0).round() / 10.0
}

fn round4(x: f64) -> f64 {
    (x * 10_000.0).round() / 10_000.0
}

#[derive(Debug, Clone, PartialEq, Serialize, utoipa::ToSchema)]
pub struct HourFigures {
    /// 0–23, Beijing time.
    pub hour: u32,
    #[serde(flatten)]
    pub figures: Figures,
}

#[derive(Debug, Clone, PartialEq, Serialize, utoipa::ToSchema)]
pub struct OperatorFigures {
    pub operator: String,
    #[serde(flatten)]
    pub figures: Figures,
}

#[derive(Debug, Clone, PartialEq, Serialize, utoipa::ToSchema)]
pub struct CallStats {
    pub from: DateTime<Utc>,
    pub to: DateTime<Utc>,
    pub wrap_up_secs: i64,
    pub total: Figures,
    pub by_hour: Vec<HourFigures>,
    pub by_operator: Vec<OperatorFigures>,
}

/// The figures of the calls that started in [from, to).
pub fn compute(calls: &[CallRecord], from: DateTime<Utc>, to: DateTime<Utc>, wrap_up: Duration) -> CallStats {
    let offset = crate::domain::calendar::china_offset();
    let mut total = Tally::default();
    let mut hours: Vec<Tally> = (0..24).map(|_| Tally::default()).collect();
    let mut operators: std::collections::BTreeMap<String, Tally> = Default::default();
    for call in calls.iter().filter(|c| c.started_at >= from && c.started_at < to) {
        total.add(call, true, true);
        hours[call.started_at.with_timezone(&offset).hour() as usize].add(call, true, true);
        let answerer = call.answered.as_ref().and_then(|a| a.operator.clone());
        let mut rung: Vec<String> = call.rings.iter().filter_map(|r| r.operator.clone()).collect();
        rung.extend(answerer.clone());
        rung.sort();
        rung.dedup();
        for operator in rung {
            let here = answerer.as_deref() == Some(operator.as_str());
            operators.entry(operator).or_default().add(call, here, true);
        }
    }
    CallStats {
        from,
        to,
        wrap_up_secs: wrap_up.num_seconds(),
        total: total.figures(wrap_up),
        by_hour: hours
            .iter()
            .enumerate()
            .map(|(hour, t)| HourFigures { hour: hour as u32, figures: t.figures(wrap_up) })
            .collect(),
        by_operator: operators
            .into_iter()
            .map(|(operator, t)| OperatorFigures { operator, figures: t.figures(wrap_up) })
            .collect(),
    }
}

#[cfg(test)]
mod tests {
    use super::super::calls::{check, fold, RawCallEvent};
    use super::*;

    fn t(secs: i64) -> DateTime<Utc> {
        // 10:00 Beijing time.
        "2026-12-03T02:00:00Z".parse::<DateTime<Utc>>().unwrap() + Duration::seconds(secs)
    }

    /// A call ringing at `ext` (operator `op` there) from `start`, answered `wait` seconds
    /// later (or not), ending at `start + wait + talk`.
    fn call(id: &str, start: i64, wait: i64, talk: Option<i64>, op: &str) -> CallRecord {
        let raw = |event: &str, at: i64| RawCallEvent {
            call_id: id.into(),
            event: event.into(),
            at: t(at).to_rfc3339(),
            caller: Some("13812345678".into()),
            extension: Some("8001".into()),
            cause: Some("caller_hangup".into()),
            ..RawCallEvent::default()
        };
        let mut events = vec![raw("ringing", start)];
        match talk {
            Some(talk) => {
                events.push(raw("answered", start + wait));
                events.push(raw("hangup", start + wait + talk));
            }
            None => events.push(raw("hangup", start + wait)),
        }
        let mut events: Vec<_> = events.iter().map(|r| check(r, t(100_000)).unwrap()).collect();
        for e in &mut events {
            e.operator = Some(op.to_string());
        }
        fold(&events).unwrap()
    }

    #[test]
    fn the_figures_follow_their_written_formulas() {
        let calls = vec![
            call("a", 0, 5, Some(100), "op1"),    // answered in 5 s, talked 100 s
            call("b", 10, 20, Some(200), "op1"),  // answered in 20 s
            call("c", 20, 30, None, "op2"),       // abandoned after 30 s
            call("d", 3600, 15, Some(60), "op2"), // 11:00, answered in exactly 15 s
        ];
        let mut ongoing = call("e", 40, 0, None, "op2");
        ongoing.ended_at = None;
        ongoing.outcome = super::super::calls::CallOutcome::Ringing;
        let mut all = calls.clone();
        all.push(ongoing);
        all.push(call("old", -86_400, 5, Some(10), "op1"));
        let s = compute(&all, t(0), t(86_400), Duration::seconds(30));
        let f = &s.total;
        assert_eq!((f.offered, f.answered, f.abandoned, f.in_progress, f.answered_within_15s), (5, 3, 1, 1, 2));
        assert_eq!(f.answer_rate, Some(0.75));
        assert_eq!(f.within_15s_rate, Some(0.5));
        assert_eq!(f.average_wait_secs, Some(13.3)); // (5 + 20 + 15) / 3
        assert_eq!(f.average_abandon_wait_secs, Some(30.0));
        assert_eq!(f.average_talk_secs, Some(120.0)); // (100 + 200 + 60) / 3
        assert_eq!(f.average_handling_secs, Some(150.0));
        assert_eq!(s.by_hour[10].figures.offered, 4);
        assert_eq!(s.by_hour[11].figures.answered, 1);
        let op1 = &s.by_operator.iter().find(|o| o.operator == "op1").unwrap().figures;
        assert_eq!((op1.offered, op1.answered, op1.abandoned), (2, 2, 0));
        let op2 = &s.by_operator.iter().find(|o| o.operator == "op2").unwrap().figures;
        assert_eq!((op2.offered, op2.answered, op2.abandoned, op2.in_progress), (3, 1, 1, 1));
    }

    #[test]
    fn an_empty_period_has_no_rates_rather_than_zero() {
        let s = compute(&[], t(0), t(3600), Duration::seconds(30));
        assert_eq!(s.total.answer_rate, None);
        assert_eq!(s.total.average_wait_secs, None);
        assert_eq!(s.by_hour.len(), 24);
    }
}
