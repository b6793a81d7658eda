//! How well suggestions served the operators, per week (Monday to Sunday, Beijing time).
//!
//! When a ticket is logged with the suggestions the operator was shown, intake records them
//! with the category chosen. A suggestion was **taken** when the chosen category is one of
//! those shown (its rank is kept), **overridden** otherwise. Accuracy is judged against the
//! category the ticket has now — after any correction by a dispatcher or after a return — so
//! a suggestion the operator took but that was wrong counts as wrong: top-1 when the first
//! suggestion is that category, top-3 when one of the first three is.

use chrono::{DateTime, Datelike, Duration, NaiveDate, Utc};
use serde::Serialize;

use super::super::calendar::china_offset;

/// One logged ticket that carried the suggestions shown.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Outcome {
    pub at: DateTime<Utc>,
    pub model_version: i64,
    /// Codes shown, best first.
    pub shown: Vec<String>,
    /// The category the operator saved.
    pub chosen: String,
    /// The ticket's category now.
    pub final_category: String,
}

impl Outcome {
    /// 1-based position of the chosen category among those shown; `None` when overridden.
    pub fn taken_rank(&self) -> Option<usize> {
        rank_of(&self.shown, &self.chosen)
    }
}

/// 1-based position of `code` in `shown`.
pub fn rank_of(shown: &[String], code: &str) -> Option<usize> {
    shown.iter().position(|c| c == code).map(|i| i + 1)
}

#[derive(Debug, Clone, PartialEq, Serialize, utoipa::ToSchema)]
pub struct WeekAccuracy {
    /// The Monday the week starts on (Beijing time).
    #[schema(value_type = String)]
    pub week: NaiveDate,
    /// Tickets logged with suggestions shown.
    pub tickets: u64,
    /// The operator chose one of the suggestions.
    pub taken: u64,
    /// The operator chose a category not suggested.
    pub overridden: u64,
    /// The first suggestion was the ticket's final category.
    pub top1: u64,
    /// One of the first three was.
    pub top3: u64,
    /// Shares of `tickets`, 0–1; `None` for a week without any.
    pub taken_rate: Option<f64>,
    pub top1_rate: Option<f64>,
    pub top3_rate: Option<f64>,
}

/// The Monday (Beijing time) of the week holding `at`.
pub fn week_of(at: DateTime<Utc>) -> NaiveDate {
    let day = at.with_timezone(&china_offset()).date_naive();
    day - Duration::days(i64::from(day.weekday().num_days_from_monday()))
}

/// The last `weeks` weeks up to the one holding `now`, oldest first, each counted from the
/// outcomes logged in it (weeks without any are listed, empty).
pub fn weekly(outcomes: &[Outcome], now: DateTime<Utc>, weeks: usize) -> Vec<WeekAccuracy> {
    let this_week = week_of(now);
    let mut out: Vec<WeekAccuracy> = (0..weeks)
        .rev()
        .map(|back| WeekAccuracy {
            week: this_week - Duration::weeks(back as i64),
            tickets: 0,
            taken: 0,
            overridden: 0,
            top1: 0,
            top3: 0,
            taken_rate: None,
            top1_rate: None,
            top3_rate: None,
        })
        .collect();
    for o in outcomes {
        let week = week_of(o.at);
        let Some(w) = out.iter_mut().find(|w| w.week == week) else { continue };
        w.tickets += 1;
        match o.taken_rank() {
            Some(_) => w.taken += 1,
            None => w.overridden += 1,
        }
        match rank_of(&o.shown, &o.final_category) {
            Some(1) => {
                w.top1 += 1;
                w.top3 += 1;
            }
            Some(2 | 3) => w.top3 += 1,
            _ => {}
        }
    }
    for w in &mut out {
        if w.tickets > 0 {
            let share = |n: u64| Some((n as f64 / w.tickets as f64 * 1000.0).round() / 1000.0);
            w.taken_rate = share(w.taken);
            w.top1_rate = share(w.top1);
            w.top3_rate = share(w.top3);
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    fn at(s: &str) -> DateTime<Utc> {
        DateTime::parse_from_rfc3339(s).unwrap().to_utc()
    }

    fn outcome(when: &str, shown: &[&str], chosen: &str, final_category: &str) -> Outcome {
        Outcome {
            at: at(when),
            model_version: 1,
            shown: shown.iter().map(|s| s.to_string()).collect(),
            chosen: chosen.into(),
            final_category: final_category.into(),
        }
    }

    #[test]
    fn weeks_start_on_monday_in_beijing() {
        // Sunday 23:30 UTC is Monday 07:30 in Beijing.
        assert_eq!(week_of(at("2026-11-29T23:30:00Z")), NaiveDate::from_ymd_opt(2026, 11, 30).unwrap());
        assert_eq!(week_of(at("2026-11-29T15:00:00Z")), NaiveDate::from_ymd_opt(2026, 11, 23).unwrap());
    }

    #[test]
    fn taken_overridden_and_accuracy_against_the_final_category() {
        let now = at("2026-12-03T04:00:00Z");
        let outcomes = [
            // Taken first, right.
            outcome("2026-12-01T02:00:00Z", &["01.02.03", "05.01.01"], "01.02.03", "01.02.03"),
            // Taken second; a dispatcher later corrected it to the first.
            outcome("2026-12-01T03:00:00Z", &["02.01.03", "02.01.01", "11.02.03"], "02.01.01", "02.01.03"),
            // Overridden; the operator was right.
            outcome("2026-12-02T03:00:00Z", &["04.01.01"], "04.01.02", "04.01.02"),
            // The week before.
            outcome("2026-11-25T03:00:00Z", &["03.01.01"], "03.01.01", "03.01.01"),
            // Too old to be listed.
            outcome("2026-10-01T03:00:00Z", &["03.01.01"], "03.01.01", "03.01.01"),
        ];
        let weeks = weekly(&outcomes, now, 2);
        assert_eq!(weeks.len(), 2);
        assert_eq!(weeks[0].week, NaiveDate::from_ymd_opt(2026, 11, 23).unwrap());
        assert_eq!((weeks[0].tickets, weeks[0].top1), (1, 1));
        let w = &weeks[1];
        assert_eq!((w.tickets, w.taken, w.overridden, w.top1, w.top3), (3, 2, 1, 2, 2));
        assert_eq!(w.top1_rate, Some(0.667));
        assert_eq!(w.taken_rate, Some(0.667));
        assert_eq!(outcomes[1].taken_rank(), Some(2));
        assert_eq!(outcomes[2].taken_rank(), None);
        let empty = weekly(&[], now, 3);
        assert!(empty.iter().all(|w| w.tickets == 0 && w.top1_rate.is_none()));
    }
}
