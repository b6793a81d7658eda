//! Measuring the catalogue on labelled calls: the routing evaluation set (`tests/routing_eval/`).
//!
//! Each case is a call as a resident said it, with the lead unit and urgency a seasoned
//! dispatcher would choose. [`evaluate`] routes every case and counts what matters to a centre:
//!
//! * **expected lead**: the decision's lead (for an emergency proposal, the proposing rule's
//!   lead) is the labelled one;
//! * **false emergency**: a call labelled `normal` got an emergency proposal (the operator is
//!   asked to confirm something that is not happening) — share of the `normal` calls;
//! * **missed emergency**: a call labelled `urgent` got no proposal — share of the `urgent` calls;
//!   a proposal under another label (起火 for a gas leak) is counted as `wrong_label`, not missed;
//! * **manual queue**: no rule matched (人工派单) — share of all calls.

use chrono::{DateTime, Utc};
use serde::Serialize;
use std::collections::BTreeMap;

use super::{District, Routing, RoutingInput, RuleSet};
use crate::domain::diagnostic::Diagnostic;

/// One labelled call.
#[derive(Debug, Clone)]
pub struct Case {
    /// `file:line`, for reports.
    pub at: String,
    /// The line in its file (1-based).
    pub line: usize,
    pub category: String,
    pub kind: String,
    pub address: String,
    pub content: String,
    pub lead: String,
    pub urgent: bool,
    /// The emergency's label when urgent.
    pub emergency: Option<String>,
}

/// Reads a tab-separated evaluation file (columns in `tests/routing_eval/README.md`); `#`
/// lines and blank lines are skipped. An address of `-` is empty. The first malformed line is
/// the error, with its line and column.
pub fn parse_cases(file: &str, source: &str) -> Result<Vec<Case>, Diagnostic> {
    let mut cases = Vec::new();
    for (index, line) in source.lines().enumerate() {
        if line.trim().is_empty() || line.starts_with('#') {
            continue;
        }
        let at = format!("{file}:{}", index + 1);
        let error = |column: usize, message: String| Diagnostic::error(file, index + 1, column, message);
        let cols: Vec<&str> = line.split('\t').collect();
        if cols.len() != 7 {
            return Err(error(
                0,
                format!(
                    "expected 7 tab-separated columns (category kind address content lead urgency emergency), found {}",
                    cols.len()
                ),
            ));
        }
        // 1-based character column of a field, for the message.
        let column = |field: usize| cols[..field].iter().map(|c| c.chars().count() + 1).sum::<usize>() + 1;
        let urgent = match cols[5] {
            "urgent" => true,
            "normal" => false,
            other => return Err(error(column(5), format!("urgency `{other}` is neither urgent nor normal"))),
        };
        let emergency = (cols[6] != "-").then(|| cols[6].to_string());
        if urgent != emergency.is_some() {
            return Err(error(column(6), "emergency: an urgent call names its emergency, a normal one has `-`".into()));
        }
        if cols[3].trim().is_empty() {
            return Err(error(column(3), "content is empty".into()));
        }
        cases.push(Case {
            at,
            line: index + 1,
            category: cols[0].to_string(),
            kind: cols[1].to_string(),
            address: if cols[2] == "-" { String::new() } else { cols[2].to_string() },
            content: cols[3].to_string(),
            lead: cols[4].to_string(),
            urgent,
            emergency,
        });
    }
    Ok(cases)
}

impl Case {
    pub fn input(&self, received_at: DateTime<Utc>) -> RoutingInput<'_> {
        RoutingInput {
            kind: &self.kind,
            category: &self.category,
            content: &self.content,
            address: &self.address,
            street: None,
            community: None,
            channel: "phone",
            urgency: "normal",
            received_at,
        }
    }
}

/// What went wrong with one case.
#[derive(Debug, Clone, Serialize)]
pub struct Miss {
    pub at: String,
    pub content: String,
    pub expected: String,
    pub got: String,
}

#[derive(Debug, Clone, Default, Serialize)]
pub struct Report {
    pub cases: usize,
    pub urgent_cases: usize,
    pub expected_lead: usize,
    pub false_emergencies: usize,
    pub missed_emergencies: usize,
    pub wrong_label: usize,
    pub manual: usize,
    pub misses: Vec<Miss>,
    /// Missed emergencies by their label.
    pub missed_by_label: BTreeMap<String, usize>,
    /// False emergencies by the label proposed.
    pub false_by_label: BTreeMap<String, usize>,
    /// Calls not sent to the expected lead: labelled urgent, and the rest (ordinary calls and traps).
    pub lead_missed_urgent: usize,
    pub lead_missed_normal: usize,
}

impl Report {
    fn share(n: usize, of: usize) -> f64 {
        if of == 0 {
            0.0
        } else {
            n as f64 / of as f64
        }
    }
    pub fn expected_lead_share(&self) -> f64 {
        Report::share(self.expected_lead, self.cases)
    }
    pub fn false_emergency_rate(&self) -> f64 {
        Report::share(self.false_emergencies, self.cases - self.urgent_cases)
    }
    pub fn missed_emergency_rate(&self) -> f64 {
        Report::share(self.missed_emergencies, self.urgent_cases)
    }
    pub fn manual_rate(&self) -> f64 {
        Report::share(self.manual, self.cases)
    }

    /// The misses as counts by label, with no call's words: what may be said of a blind set
    /// without making it a development set (`tests/routing_eval/README.md`).
    pub fn counts_by_label(&self) -> String {
        let list = |counts: &BTreeMap<String, usize>| {
            let mut counts: Vec<(&String, &usize)> = counts.iter().collect();
            counts.sort_by(|a, b| b.1.cmp(a.1).then_with(|| a.0.cmp(b.0)));
            counts.iter().map(|(label, n)| format!("{label} {n}")).collect::<Vec<_>>().join(", ")
        };
        format!(
            "missed {} ({}); false {} ({}); wrong label {}; lead misses {} ({} ordinary calls or traps, {} emergencies); manual {}",
            self.missed_emergencies,
            list(&self.missed_by_label),
            self.false_emergencies,
            list(&self.false_by_label),
            self.wrong_label,
            self.lead_missed_normal + self.lead_missed_urgent,
            self.lead_missed_normal,
            self.lead_missed_urgent,
            self.manual,
        )
    }
}

/// Routes every case as received at `received_at` (a working-day morning, so time-of-day
/// rules stay out of the way) and counts.
pub fn evaluate(set: &RuleSet, district: &District, cases: &[Case], received_at: DateTime<Utc>) -> Report {
    let mut report = Report { cases: cases.len(), ..Report::default() };
    for case in cases {
        report.urgent_cases += usize::from(case.urgent);
        let routing = set.route(&case.input(received_at), district);
        let mut wrong = Vec::new();
        match &routing {
            Routing::Manual { .. } => {
                report.manual += 1;
                wrong.push("manual queue".to_string());
            }
            Routing::Routed(d) if d.lead == case.lead => report.expected_lead += 1,
            Routing::Routed(d) => wrong.push(format!("lead {} by {}", d.lead, d.rule_id)),
        }
        if !wrong.is_empty() {
            // Only the lead has been judged so far: a manual queue or another unit.
            let lead_missed = if case.urgent { &mut report.lead_missed_urgent } else { &mut report.lead_missed_normal };
            *lead_missed += 1;
        }
        let proposal = routing.decision().and_then(|d| d.emergency.as_ref());
        match (case.urgent, proposal) {
            (false, Some(p)) => {
                report.false_emergencies += 1;
                *report.false_by_label.entry(p.label.to_string()).or_default() += 1;
                wrong.push(format!("false emergency 可能紧急: {} (matched {})", p.label, p.matched));
            }
            (true, None) => {
                report.missed_emergencies += 1;
                *report.missed_by_label.entry(case.emergency.clone().unwrap_or_default()).or_default() += 1;
                wrong.push("missed emergency".to_string());
            }
            (true, Some(p)) if Some(&p.label) != case.emergency.as_ref() => {
                report.wrong_label += 1;
                wrong.push(format!("emergency labelled {}", p.label));
            }
            _ => {}
        }
        if !wrong.is_empty() {
            report.misses.push(Miss {
                at: case.at.clone(),
                content: case.content.clone(),
                expected: format!(
                    "{}{}",
                    case.lead,
                    case.emergency.as_ref().map(|e| format!(", 可能紧急: {e}")).unwrap_or_default()
                ),
                got: wrong.join("; "),
            });
        }
    }
    report
}
