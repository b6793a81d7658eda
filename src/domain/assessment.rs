//! 考评: the monthly assessment of departments, computed from the event log alone.
//!
//! [`assess`] folds events into per-department figures, rates, a composite score and a
//! ranking; [`to_csv`] writes the published table. Nothing here reads a ticket row or the
//! clock: the same events, exclusions and weights always give the same figures, which is
//! what lets a department check the ranking it is judged by.
//!
//! # Which facts count in a period
//!
//! A period is a half-open interval `[from, to)` of instants; a month is Beijing-time midnight
//! on its first day to Beijing-time midnight on the next month's first day
//! ([`month_period`]). Every figure counts **facts** (events) whose instant (`at`) lies in
//! the period: an acceptance counts in the month it happened, a reply in the month of the
//! reply, a callback in the month of the call. We count events rather than a cohort of
//! tickets (say, "dispatched in October") because a month's figures are then final as soon as
//! the month is over: a cohort's figures would keep changing while its callbacks and reopens
//! trickle in, and a published ranking must not move afterwards. The only thing that changes a
//! past month is an exclusion (核减), which is the point of one.
//!
//! Each fact carries its own verdict, recorded by the state machine when it happened: a reply
//! whether it was late (`replied.late`), a return whether it went back to the unit that had
//! passed the ticket down (`returned.back_to`), a re-dispatch whose return it granted
//! (`redispatched.return_of`), like an acceptance says whether it was late. So the period's
//! facts alone, in sequence order, give its figures ([`FACT_TYPES`]), and a month is read as
//! one range of the log. Events written before these verdicts were recorded leave them out;
//! for those, [`assess`] derives them from what came before on the same ticket (the reply
//! clock in force, a pending pass-down or return) when it is given each ticket's history from
//! its start, in sequence order per ticket (how tickets interleave does not matter). The two
//! agree by construction, and a test checks it. `Store::assessment` chooses what to read.
//!
//! # Attribution
//!
//! Each fact belongs to the department named by the event itself, which is the lead (主办)
//! at the time of the fact: `accepted`, `returned`, `return_rejected` and `replied` name
//! their department, a callback uses the `department` frozen in `callback_recorded` at
//! rating time, `reopened` the department it went back to. Assisting departments (协办) are
//! not assessed. Callbacks on tickets answered by the centre itself (直接办结, no department)
//! count for nobody, and the centre (kind `centre`) gets no row.
//!
//! # The figures, per department
//!
//! * `assigned` (派单量): the department was made lead by a dispatch, a re-dispatch (改派) or
//!   a pass-down (二级派单) to it.
//! * `accepted`, `accepted_on_time`: `accepted` events; on time unless `late` (accepted after
//!   the accept deadline) or `automatic` (nobody accepted, the server did: always late).
//!   **Response rate** (签收及时率) = accepted on time ÷ accepted.
//! * `replies`, `replies_on_time`: every `replied` event (a reopened ticket replied again
//!   counts again). On time when it came by the lead's reply deadline in force at reply time
//!   — the running reply clock of the latest `clocks_changed` before the reply, extensions
//!   and suspensions included — judged as the clock itself judges it
//!   (`StageClock::finished_on_time`, to the second). A reply with no reply clock in force
//!   (not possible for tickets dispatched by this server) has no deadline to miss and counts
//!   on time. **On-time reply rate** (按时办结率) = replies on time ÷ replies.
//! * Callbacks (回访): only callbacks that reached the resident count; unanswered attempts are
//!   the centre's work, not the department's. `solved` / `partly_solved` / `unsolved` and
//!   `satisfied` / `basically_satisfied` / `dissatisfied` count their answers.
//!   **Resolution rate** (解决率) = (solved + ½ × partly solved) ÷ (solved + partly + unsolved):
//!   a partly solved problem is half solved. **Satisfaction rate** (满意率) = (满意 + 基本满意)
//!   ÷ rated callbacks.
//! * Returns (退单): `returns` counts every `returned` event by the department.
//!   `returns_valid` counts re-dispatches that followed its return (the centre agreed the ticket
//!   was not its own), `returns_rejected` the centre's rejections; each in the month of the
//!   centre's decision, so a return made on the 31st and decided on the 1st is a return in one
//!   month and a decision in the next. `returns_to_parent` counts the returns of a sub-unit to
//!   the unit that passed the ticket down to it (no review by the centre; they are part of
//!   `returns`). **Return rate** (退单率) = returns ÷ assigned; as both are counted in the
//!   month they happen, it can exceed 100 % in a month with returns of older assignments.
//! * `reopens` (重办): tickets reopened to the department.
//! * A rate whose denominator is zero is `None`, shown as "—": no callbacks is not 0 %.
//!
//! # Sub-units (roll-up)
//!
//! Every department gets one row with two sets of figures: `own`, the facts attributed to it,
//! and `total`, its own facts plus those of every unit below it (a street office answers for
//! its communities, a bureau for its sub-units). Rates, score and rank are computed from
//! `total` (for a unit without sub-units the two are equal). Movements inside a unit's own
//! tree are not counted twice in its total: a pass-down from X to Y is an assignment for Y and
//! for the units between Y and X, not for X (which already had the ticket) nor above it, and a
//! return from Y back to X likewise counts as a return for Y up to, but not including, X.
//!
//! # Exclusions (核减)
//!
//! A supervisor may rule that a ticket must not count against a department ([`Exclusion`]).
//! An exclusion of ticket T for department D leaves out every fact of T attributed to D or to
//! any unit below D, in every period: it counts in no `own` figure and in no `total` above
//! (including D's parents). Facts of T attributed to other departments still count.
//! `excluded_tickets` says how many tickets an exclusion took out of this period's figures
//! (`own`: exclusions naming the department; `total`: naming it or a unit below it).
//!
//! # Score and rank
//!
//! Score = 100 × Σ wᵢ·rateᵢ ÷ Σ wᵢ over response, resolution and satisfaction rates, with the
//! centre's [`Weights`] (default 30 / 35 / 35). A rate that is `None` is left out and the
//! remaining weights carry the score (a department without callbacks this month is scored on
//! response alone); with no rate at all the score is `None`. The score is rounded to two
//! decimals, and departments are ranked by the rounded score among their siblings: the
//! top-level units (bureaus, utilities, street offices) against each other, each unit's
//! sub-units against each other. Equal scores share a rank (1, 2, 2, 4); units without a
//! score have no rank. Rows come in tree order: a ranked group, each row followed by its own
//! sub-units' group; unscored units last in each group, in file order.

use super::calendar::china_offset;
use super::clocks::{self, AssignmentClock};
use super::district::{DepartmentKind, District};
use super::event::{Event, EventKind};
use super::lifecycle::{DecisionError, MAX_TEXT};
use super::types::{Satisfaction, Solved};
use chrono::{DateTime, Datelike, NaiveDate, TimeZone, Utc};
use serde::{Deserialize, Serialize};
use std::collections::{BTreeSet, HashMap};

/// `[from, to)`.
pub type Period = (DateTime<Utc>, DateTime<Utc>);

/// 核减: ticket `ticket_id` does not count against `department` (nor the units below it).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, utoipa::ToSchema)]
pub struct Exclusion {
    /// The sequence number of the event that recorded it (0 before it is stored).
    pub id: i64,
    pub ticket_id: i64,
    pub department: String,
    pub reason: String,
    /// The supervisor's username.
    pub by: String,
    pub at: DateTime<Utc>,
}

/// How the composite score weighs the three rates; the centre sets them.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, utoipa::ToSchema)]
pub struct Weights {
    pub response: u32,
    pub resolution: u32,
    pub satisfaction: u32,
}

impl Default for Weights {
    fn default() -> Self {
        Weights { response: 30, resolution: 35, satisfaction: 35 }
    }
}

impl std::str::FromStr for Weights {
    type Err = String;

    /// `30/35/35`: response / resolution / satisfaction.
    fn from_str(s: &str) -> Result<Self, Self::Err> {
        let parts: Vec<&str> = s.split('/').map(str::trim).collect();
        let bad =
            || format!("weights: \"{s}\" is not three whole numbers like 30/35/35 (response/resolution/satisfaction)");
        let [r, res, sat] = parts.as_slice() else { return Err(bad()) };
        let n = |p: &str| p.parse::<u32>().map_err(|_| bad());
        let w = Weights { response: n(r)?, resolution: n(res)?, satisfaction: n(sat)? };
        if w.response + w.resolution + w.satisfaction == 0 {
            return Err(format!("weights: \"{s}\" gives every rate a weight of 0"));
        }
        Ok(w)
    }
}

/// Counts for one department in one period; see the module documentation for each.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, utoipa::ToSchema)]
pub struct Figures {
    pub assigned: u64,
    pub accepted: u64,
    pub accepted_on_time: u64,
    /// Accepted by the server after nobody did (counted late).
    pub accepted_automatically: u64,
    pub replies: u64,
    pub replies_on_time: u64,
    /// Callbacks that reached the resident.
    pub callbacks_reached: u64,
    pub solved: u64,
    pub partly_solved: u64,
    pub unsolved: u64,
    pub satisfied: u64,
    pub basically_satisfied: u64,
    pub dissatisfied: u64,
    pub returns: u64,
    /// Of `returns`: back to the unit that passed the ticket down.
    pub returns_to_parent: u64,
    pub returns_valid: u64,
    pub returns_rejected: u64,
    pub reopens: u64,
    pub excluded_tickets: u64,
}

/// Fractions from 0 to 1; `None` when nothing was there to count.
#[derive(Debug, Clone, Copy, Default, PartialEq, Serialize, utoipa::ToSchema)]
pub struct Rates {
    /// 签收及时率.
    pub response: Option<f64>,
    /// 按时办结率.
    pub on_time_reply: Option<f64>,
    /// 解决率.
    pub resolution: Option<f64>,
    /// 满意率.
    pub satisfaction: Option<f64>,
    /// 退单率.
    pub returns: Option<f64>,
}

fn ratio(numerator: u64, denominator: u64) -> Option<f64> {
    (denominator > 0).then(|| numerator as f64 / denominator as f64)
}

impl Figures {
    pub fn rates(&self) -> Rates {
        let answered = self.solved + self.partly_solved + self.unsolved;
        Rates {
            response: ratio(self.accepted_on_time, self.accepted),
            on_time_reply: ratio(self.replies_on_time, self.replies),
            // In halves, so the division is of two whole numbers.
            resolution: ratio(2 * self.solved + self.partly_solved, 2 * answered),
            satisfaction: ratio(
                self.satisfied + self.basically_satisfied,
                self.satisfied + self.basically_satisfied + self.dissatisfied,
            ),
            returns: ratio(self.returns, self.assigned),
        }
    }
}

/// One row of the ranking.
#[derive(Debug, Clone, PartialEq, Serialize, utoipa::ToSchema)]
pub struct DepartmentScore {
    pub department: String,
    /// The short name (e.g. 区城管委); the code for a department no longer in the file.
    pub name: String,
    pub parent: Option<String>,
    /// 0 for top-level units, 1 for their sub-units, …
    pub level: u32,
    /// Facts attributed to this department itself.
    pub own: Figures,
    /// `own` plus every unit below it: what rates, score and rank are computed from.
    pub total: Figures,
    pub rates: Rates,
    /// 0–100, two decimals.
    pub score: Option<f64>,
    /// Among siblings (same parent); `None` without a score.
    pub rank: Option<u32>,
}

/// The month the monthly ranking reports on: `2026-10` for any instant in Beijing-time November 2026.
pub fn previous_month(at: DateTime<Utc>) -> String {
    let day = at.with_timezone(&china_offset()).date_naive().with_day(1).expect("day 1 exists");
    (day - chrono::Days::new(1)).format("%Y-%m").to_string()
}

/// The Beijing-time month `2026-10` as a period.
pub fn month_period(month: &str) -> Result<Period, String> {
    let bad = || format!("month: \"{month}\" is not a month like 2026-10");
    let b = month.as_bytes();
    let shape_ok = b.len() == 7 && b[4] == b'-' && b.iter().enumerate().all(|(i, c)| i == 4 || c.is_ascii_digit());
    if !shape_ok {
        return Err(bad());
    }
    let first = NaiveDate::parse_from_str(&format!("{month}-01"), "%Y-%m-%d").map_err(|_| bad())?;
    let next = if first.month() == 12 {
        NaiveDate::from_ymd_opt(first.year() + 1, 1, 1)
    } else {
        NaiveDate::from_ymd_opt(first.year(), first.month() + 1, 1)
    }
    .ok_or_else(bad)?;
    let start = |d: NaiveDate| {
        china_offset().from_local_datetime(&d.and_hms_opt(0, 0, 0).expect("midnight")).single().map(|t| t.to_utc())
    };
    Ok((start(first).ok_or_else(bad)?, start(next).ok_or_else(bad)?))
}

/// What an event needs to know about its ticket's past.
#[derive(Default)]
struct TicketState {
    /// The unit that passed the ticket down, which gets it back on a return.
    passed_down_from: Option<String>,
    /// The department whose return awaits the centre's decision.
    return_request: Option<String>,
    /// The clocks as last decided: a reply written before replies recorded their verdict
    /// is judged by them.
    clocks: Vec<AssignmentClock>,
}

struct Tally<'a> {
    district: &'a District,
    period: Period,
    /// Ticket → departments it is excluded for.
    exclusions: HashMap<i64, Vec<&'a str>>,
    own: HashMap<String, Figures>,
    total: HashMap<String, Figures>,
    /// (exclusion's department, ticket) that left out at least one fact in the period.
    excluded: BTreeSet<(String, i64)>,
}

impl Tally<'_> {
    /// `code`, its parent, its parent's parent, … up to the root.
    fn chain(&self, code: &str) -> Vec<String> {
        let mut out = vec![code.to_string()];
        // The bound guards against a cycle in a hand-made district; `District::parse` rejects them.
        while out.len() <= self.district.departments.len() {
            match self.district.department(out.last().expect("not empty")).and_then(|d| d.parent.clone()) {
                Some(parent) => out.push(parent),
                None => break,
            }
        }
        out
    }

    fn is_within(&self, code: &str, ancestor: &str) -> bool {
        code == ancestor || self.district.is_within(code, ancestor)
    }

    /// Counts a fact of `ticket` for `department`, and for every unit above it up to (not
    /// including) `stop`.
    fn count(
        &mut self,
        ticket: i64,
        at: DateTime<Utc>,
        department: &str,
        stop: Option<&str>,
        add: impl Fn(&mut Figures),
    ) {
        if at < self.period.0 || at >= self.period.1 {
            return;
        }
        let excluded_by = self
            .exclusions
            .get(&ticket)
            .and_then(|ds| ds.iter().find(|d| self.is_within(department, d)))
            .map(|d| d.to_string());
        if let Some(by) = excluded_by {
            self.excluded.insert((by, ticket));
            return;
        }
        add(self.own.entry(department.to_string()).or_default());
        for unit in self.chain(department) {
            if Some(unit.as_str()) == stop {
                break;
            }
            add(self.total.entry(unit).or_default());
        }
    }
}

/// What [`assess`] reads, so that a store can leave the rest out and save decoding it: events
/// of these types (by [`EventKind::name`]) in the period, when they carry their verdicts. For
/// older events without them, also these types before the period, and of the
/// `clocks_changed` events the latest before each `replied` of the period (a reply without
/// its verdict is judged by the reply clock in force when it came). A month's
/// `clocks_changed` are most of its bytes.
pub const FACT_TYPES: [&str; 9] = [
    "dispatched",
    "redispatched",
    "passed_down",
    "accepted",
    "returned",
    "return_rejected",
    "replied",
    "callback_recorded",
    "reopened",
];
/// The ranking for `period`; see the module documentation for every definition.
pub fn assess<E: std::borrow::Borrow<Event>>(
    events: impl IntoIterator<Item = E>,
    period: Period,
    district: &District,
    exclusions: &[Exclusion],
    weights: &Weights,
) -> Vec<DepartmentScore> {
    let mut excluded: HashMap<i64, Vec<&str>> = HashMap::new();
    for x in exclusions {
        excluded.entry(x.ticket_id).or_default().push(x.department.as_str());
    }
    let mut tally = Tally {
        district,
        period,
        exclusions: excluded,
        own: HashMap::new(),
        total: HashMap::new(),
        excluded: BTreeSet::new(),
    };
    let mut tickets: HashMap<i64, TicketState> = HashMap::new();
    for e in events {
        let e = e.borrow();
        let (id, at) = (e.ticket_id, e.at);
        let s = tickets.entry(id).or_default();
        match &e.kind {
            EventKind::Dispatched { lead, .. } => {
                s.passed_down_from = None;
                s.return_request = None;
                tally.count(id, at, lead, None, |f| f.assigned += 1);
            }
            EventKind::Redispatched { lead, return_of, .. } => {
                s.passed_down_from = None;
                let granted = s.return_request.take();
                if let Some(returned_by) = return_of.clone().or(granted) {
                    tally.count(id, at, &returned_by, None, |f| f.returns_valid += 1);
                }
                tally.count(id, at, lead, None, |f| f.assigned += 1);
            }
            EventKind::PassedDown { from, to, .. } => {
                s.passed_down_from = Some(from.clone());
                tally.count(id, at, to, Some(from.as_str()), |f| f.assigned += 1);
            }
            EventKind::Accepted { department, late, automatic } => {
                let on_time = !late && !automatic;
                tally.count(id, at, department, None, |f| {
                    f.accepted += 1;
                    f.accepted_on_time += u64::from(on_time);
                    f.accepted_automatically += u64::from(*automatic);
                });
            }
            EventKind::Returned { department, back_to, .. } => match back_to.clone().or(s.passed_down_from.take()) {
                Some(parent) => tally.count(id, at, department, Some(parent.as_str()), |f| {
                    f.returns += 1;
                    f.returns_to_parent += 1;
                }),
                None => {
                    s.return_request = Some(department.clone());
                    tally.count(id, at, department, None, |f| f.returns += 1);
                }
            },
            EventKind::ReturnRejected { department, .. } => {
                s.return_request = None;
                tally.count(id, at, department, None, |f| f.returns_rejected += 1);
            }
            EventKind::Replied { department, late, .. } => {
                let on_time = match late {
                    Some(late) => !late,
                    None => clocks::reply_on_time(&s.clocks, at),
                };
                tally.count(id, at, department, None, |f| {
                    f.replies += 1;
                    f.replies_on_time += u64::from(on_time);
                });
            }
            EventKind::CallbackRecorded {
                reached: true, solved, satisfaction, department: Some(department), ..
            } => {
                tally.count(id, at, department, None, |f| {
                    f.callbacks_reached += 1;
                    match solved {
                        Some(Solved::Yes) => f.solved += 1,
                        Some(Solved::Partly) => f.partly_solved += 1,
                        Some(Solved::No) => f.unsolved += 1,
                        None => {}
                    }
                    match satisfaction {
                        Some(Satisfaction::Satisfied) => f.satisfied += 1,
                        Some(Satisfaction::BasicallySatisfied) => f.basically_satisfied += 1,
                        Some(Satisfaction::Dissatisfied) => f.dissatisfied += 1,
                        None => {}
                    }
                });
            }
            EventKind::Reopened { department: Some(department), .. } => {
                tally.count(id, at, department, None, |f| f.reopens += 1);
            }
            EventKind::ClocksChanged { clocks, .. } => s.clocks.clone_from(clocks),
            _ => {}
        }
    }
    rows(tally, weights)
}

/// 100 × Σ wᵢ·rateᵢ ÷ Σ wᵢ over the rates there are, in hundredths (rounded).
fn score_hundredths(rates: &Rates, weights: &Weights) -> Option<i64> {
    let parts = [
        (rates.response, weights.response),
        (rates.resolution, weights.resolution),
        (rates.satisfaction, weights.satisfaction),
    ];
    let (sum, weight) = parts
        .iter()
        .filter_map(|(rate, w)| rate.map(|r| (r * f64::from(*w), *w)))
        .fold((0.0, 0u32), |(s, ws), (x, w)| (s + x, ws + w));
    (weight > 0).then(|| (sum / f64::from(weight) * 10_000.0).round() as i64)
}

fn rows(tally: Tally, weights: &Weights) -> Vec<DepartmentScore> {
    let district = tally.district;
    // Every department of the district but the centre, then codes no longer in the file.
    let mut codes: Vec<String> =
        district.departments.iter().filter(|d| d.kind != DepartmentKind::Centre).map(|d| d.code.clone()).collect();
    let mut unknown: Vec<String> = tally
        .own
        .keys()
        .chain(tally.total.keys())
        .filter(|c| district.department(c).is_none())
        .cloned()
        .collect::<BTreeSet<_>>()
        .into_iter()
        .collect();
    codes.append(&mut unknown);

    let mut excluded_own: HashMap<&str, u64> = HashMap::new();
    let mut excluded_total: HashMap<String, BTreeSet<i64>> = HashMap::new();
    for (department, ticket) in &tally.excluded {
        *excluded_own.entry(department.as_str()).or_default() += 1;
        for unit in tally.chain(department) {
            excluded_total.entry(unit).or_default().insert(*ticket);
        }
    }

    let parent_of = |code: &str| {
        district
            .department(code)
            .and_then(|d| d.parent.as_deref())
            .filter(|p| district.department(p).is_some_and(|p| p.kind != DepartmentKind::Centre))
            .map(String::from)
    };
    let mut all: Vec<(DepartmentScore, Option<i64>)> = codes
        .iter()
        .map(|code| {
            let mut own = tally.own.get(code).cloned().unwrap_or_default();
            own.excluded_tickets = excluded_own.get(code.as_str()).copied().unwrap_or(0);
            let mut total = tally.total.get(code).cloned().unwrap_or_default();
            total.excluded_tickets = excluded_total.get(code).map_or(0, |s| s.len() as u64);
            let rates = total.rates();
            let hundredths = score_hundredths(&rates, weights);
            let parent = parent_of(code);
            let level = (tally.chain(code).len() - 1) as u32;
            let row = DepartmentScore {
                department: code.clone(),
                name: district.department(code).map_or_else(|| code.clone(), |d| d.short_name.clone()),
                parent,
                level,
                own,
                total,
                rates,
                score: hundredths.map(|h| h as f64 / 100.0),
                rank: None,
            };
            (row, hundredths)
        })
        .collect();

    // Rank among siblings: competition ranking on the published (rounded) score.
    let mut groups: HashMap<Option<String>, Vec<usize>> = HashMap::new();
    for (i, (row, _)) in all.iter().enumerate() {
        groups.entry(row.parent.clone()).or_default().push(i);
    }
    for members in groups.values_mut() {
        // Stable: ties and unscored units keep file order.
        members.sort_by_key(|&i| std::cmp::Reverse(all[i].1.unwrap_or(i64::MIN)));
        let mut previous: Option<(i64, u32)> = None;
        for (position, &i) in members.iter().enumerate() {
            let Some(score) = all[i].1 else { continue };
            let rank = match previous {
                Some((s, r)) if s == score => r,
                _ => position as u32 + 1,
            };
            previous = Some((score, rank));
            all[i].0.rank = Some(rank);
        }
    }

    let mut out = Vec::with_capacity(all.len());
    let mut taken = vec![false; all.len()];
    fn walk(
        parent: Option<String>,
        groups: &HashMap<Option<String>, Vec<usize>>,
        all: &[(DepartmentScore, Option<i64>)],
        taken: &mut [bool],
        out: &mut Vec<DepartmentScore>,
    ) {
        for &i in groups.get(&parent).map(Vec::as_slice).unwrap_or_default() {
            if std::mem::replace(&mut taken[i], true) {
                continue;
            }
            out.push(all[i].0.clone());
            walk(Some(all[i].0.department.clone()), groups, all, taken, out);
        }
    }
    walk(None, &groups, &all, &mut taken, &mut out);
    // A unit whose parent is missing from the rows (cannot happen with a parsed district).
    for (i, (row, _)) in all.iter().enumerate() {
        if !taken[i] {
            out.push(row.clone());
        }
    }
    out
}

/// A rate as a percentage with two decimals, or "—" when there is none.
fn percent(rate: Option<f64>) -> String {
    rate.map_or_else(|| "—".to_string(), |r| format!("{:.2}", r * 100.0))
}

fn csv_field(value: &str) -> String {
    if value.contains([',', '"', '\n', '\r']) {
        format!("\"{}\"", value.replace('"', "\"\""))
    } else {
        value.to_string()
    }
}

/// Columns of the published table: Chinese heading and English code.
const CSV_COLUMNS: [(&str, &str); 29] = [
    ("排名", "rank"),
    ("单位代码", "department"),
    ("单位名称", "name"),
    ("上级单位", "parent"),
    ("层级", "level"),
    ("派单量", "assigned"),
    ("签收量", "accepted"),
    ("按时签收", "accepted_on_time"),
    ("自动签收", "accepted_automatically"),
    ("签收及时率%", "response_rate"),
    ("办结回复", "replies"),
    ("按时办结", "replies_on_time"),
    ("按时办结率%", "on_time_reply_rate"),
    ("回访接通", "callbacks_reached"),
    ("已解决", "solved"),
    ("部分解决", "partly_solved"),
    ("未解决", "unsolved"),
    ("解决率%", "resolution_rate"),
    ("满意", "satisfied"),
    ("基本满意", "basically_satisfied"),
    ("不满意", "dissatisfied"),
    ("满意率%", "satisfaction_rate"),
    ("退单", "returns"),
    ("退单有效", "returns_valid"),
    ("退单驳回", "returns_rejected"),
    ("退回上级", "returns_to_parent"),
    ("退单率%", "return_rate"),
    ("重办", "reopens"),
    ("核减", "excluded_tickets"),
];

/// The ranking as CSV, one line per department in the order given (that of [`assess`]),
/// figures rolled up (`total`). Rates are percentages with two decimals; "—" for none. The
/// composite score is the last column.
/// [`to_csv`] as a file to download or attach: with a byte-order mark, without which Excel
/// and WPS read UTF-8 Chinese as mojibake.
pub fn to_csv_file(scores: &[DepartmentScore], district: &District) -> String {
    format!("\u{feff}{}", to_csv(scores, district))
}

pub fn to_csv(scores: &[DepartmentScore], district: &District) -> String {
    let mut out = String::new();
    let header: Vec<String> = CSV_COLUMNS
        .iter()
        .map(|(zh, en)| format!("{zh}({en})"))
        .chain(std::iter::once("综合得分(score)".to_string()))
        .collect();
    out.push_str(&header.join(","));
    out.push('\n');
    for s in scores {
        let f = &s.total;
        let name = district.department(&s.department).map_or(s.name.as_str(), |d| d.name.as_str());
        let n = |v: u64| v.to_string();
        let line = [
            s.rank.map_or_else(|| "—".to_string(), |r| r.to_string()),
            csv_field(&s.department),
            csv_field(name),
            csv_field(s.parent.as_deref().unwrap_or("")),
            s.level.to_string(),
            n(f.assigned),
            n(f.accepted),
            n(f.accepted_on_time),
            n(f.accepted_automatically),
            percent(s.rates.response),
            n(f.replies),
            n(f.replies_on_time),
            percent(s.rates.on_time_reply),
            n(f.callbacks_reached),
            n(f.solved),
            n(f.partly_solved),
            n(f.unsolved),
            percent(s.rates.resolution),
            n(f.satisfied),
            n(f.basically_satisfied),
            n(f.dissatisfied),
            percent(s.rates.satisfaction),
            n(f.returns),
            n(f.returns_valid),
            n(f.returns_rejected),
            n(f.returns_to_parent),
            percent(s.rates.returns),
            n(f.reopens),
            n(f.excluded_tickets),
            s.score.map_or_else(|| "—".to_string(), |v| format!("{v:.2}")),
        ];
        out.push_str(&line.join(","));
        out.push('\n');
    }
    out
}

/// Checks a supervisor's exclusion of the ticket whose `history` this is; returns the
/// trimmed reason. The department must exist and must have had the ticket (as lead, assisting
/// unit, or by a rated callback), itself or through a unit below it.
pub fn check_exclusion(
    history: &[Event],
    department: &str,
    reason: &str,
    district: &District,
) -> Result<String, DecisionError> {
    let invalid = |field: &'static str, message: String| DecisionError::Invalid { field, message };
    match district.department(department) {
        Some(d) if d.kind != DepartmentKind::Centre => {}
        Some(_) => return Err(invalid("department", "the hotline centre itself is not assessed".into())),
        None => return Err(invalid("department", format!("unknown department \"{department}\""))),
    }
    let involved = history.iter().any(|e| {
        let within = |code: &str| district.is_within(code, department);
        match &e.kind {
            EventKind::Dispatched { lead, assists, .. } | EventKind::Redispatched { lead, assists, .. } => {
                within(lead) || assists.iter().any(|a| within(a))
            }
            EventKind::PassedDown { to, .. } => within(to),
            EventKind::CallbackRecorded { department: Some(d), .. } => within(d),
            _ => false,
        }
    });
    if !involved {
        let number = history.iter().find_map(|e| match &e.kind {
            EventKind::Received(r) => Some(r.number.as_str()),
            _ => None,
        });
        return Err(invalid(
            "department",
            format!(
                "ticket {} was never assigned to {department} or a unit below it; nothing to exclude",
                number.unwrap_or("?")
            ),
        ));
    }
    ruling_reason(reason, "say why the ticket does not count (核减理由)")
}

/// The reason given for withdrawing an exclusion (撤销核减): required, like the exclusion's own,
/// since it changes a published ranking back.
pub fn check_withdrawal(reason: &str) -> Result<String, DecisionError> {
    ruling_reason(reason, "say why the exclusion is withdrawn (撤销理由)")
}

fn ruling_reason(reason: &str, hint: &str) -> Result<String, DecisionError> {
    let invalid = |message: String| DecisionError::Invalid { field: "reason", message };
    let reason = reason.trim();
    if reason.is_empty() {
        return Err(invalid(format!("reason must not be empty: {hint}")));
    }
    if reason.chars().count() > MAX_TEXT {
        return Err(invalid(format!("reason is longer than {MAX_TEXT} characters")));
    }
    Ok(reason.to_string())
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::domain::calendar::SlaDuration;
    use crate::domain::clocks::Owner;
    use crate::domain::event::{ActorRef, Received};
    use crate::domain::sla::{Stage, StageClock};
    use crate::domain::ticket::Ticket;
    use crate::domain::types::Status;
    use crate::domain::types::{CallbackFailure, Channel, Kind, Outcome, Role, Urgency};
    use chrono::TimeDelta;

    /// Beijing wall time → UTC.
    fn bj(month: u32, day: u32, hour: u32, minute: u32) -> DateTime<Utc> {
        china_offset().with_ymd_and_hms(2026, month, day, hour, minute, 0).unwrap().to_utc()
    }

    fn october() -> Period {
        month_period("2026-10").unwrap()
    }

    fn district() -> District {
        District::demo()
    }

    /// A log written in order, with sequence numbers.
    #[derive(Default)]
    struct Log {
        events: Vec<Event>,
    }

    impl Log {
        fn push(&mut self, ticket: i64, at: DateTime<Utc>, kind: EventKind) {
            let actor = ActorRef { user_id: 1, username: "x".into(), role: Role::Admin, department: None };
            let seq = self.events.len() as i64 + 1;
            self.events.push(Event { seq, ticket_id: ticket, at, actor, kind });
        }

        fn received(&mut self, ticket: i64, at: DateTime<Utc>) {
            self.push(
                ticket,
                at,
                EventKind::Received(Received {
                    number: format!("20261001-{ticket:06}"),
                    kind: Kind::Complaint,
                    channel: Channel::Phone,
                    urgency: Urgency::Normal,
                    category: "01".into(),
                    street: None,
                    community: None,
                    address: "某处".into(),
                    content: "某事".into(),
                    caller_name: "王".into(),
                    caller_phone: "13800000000".into(),
                    confidential: false,
                    callback_consent: true,
                    call_id: None,
                }),
            );
        }

        /// Dispatch (or re-dispatch) with the lead's reply clock due at `due`.
        fn dispatch(&mut self, ticket: i64, at: DateTime<Utc>, lead: &str, due: DateTime<Utc>, redispatch: bool) {
            let kind = if redispatch {
                EventKind::Redispatched {
                    lead: lead.into(),
                    assists: vec![],
                    note: None,
                    sla_policy: None,
                    previous_policy: None,
                    rule_id: None,
                    rules_version: None,
                    previous_lead: None,
                    return_of: None,
                    recategorised: None,
                }
            } else {
                EventKind::Dispatched {
                    lead: lead.into(),
                    assists: vec![],
                    note: None,
                    sla_policy: None,
                    rule_id: None,
                    rules_version: None,
                }
            };
            self.push(ticket, at, kind);
            self.reply_clock(ticket, at, lead, due);
        }

        fn reply_clock(&mut self, ticket: i64, at: DateTime<Utc>, department: &str, due: DateTime<Utc>) {
            let clock = StageClock {
                stage: Stage::Reply,
                policy: "general".into(),
                limit: SlaDuration { amount: 5, unit: crate::domain::calendar::DurationUnit::WorkingDays },
                started_at: at,
                due_at: due,
                warn_at: due,
                warning_lead: TimeDelta::zero(),
                extensions: vec![],
                extensions_in_remainder: 0,
                paused_at: None,
                remaining: None,
                resumed_at: None,
                stopped_at: None,
                fallback_used: false,
            };
            let clocks = vec![AssignmentClock {
                department: Some(department.into()),
                owner: Owner::Lead,
                clock,
                auto_accept_at: None,
                warned_at: None,
                overdue_at: None,
                late_list_at: None,
                late_listed_at: None,
            }];
            self.push(ticket, at, EventKind::ClocksChanged { clocks, cause: "test".into() });
        }

        fn accept(&mut self, ticket: i64, at: DateTime<Utc>, department: &str, late: bool, automatic: bool) {
            self.push(ticket, at, EventKind::Accepted { department: department.into(), late, automatic });
        }

        /// A reply, then the clocks stopped as the state machine does.
        fn reply(&mut self, ticket: i64, at: DateTime<Utc>, department: &str) {
            self.push(
                ticket,
                at,
                EventKind::Replied {
                    department: department.into(),
                    outcome: Outcome::Solved,
                    text: "已处理".into(),
                    late: None,
                },
            );
            self.push(ticket, at, EventKind::ClocksChanged { clocks: vec![], cause: "replied".into() });
        }

        fn callback(
            &mut self,
            ticket: i64,
            at: DateTime<Utc>,
            department: Option<&str>,
            solved: Solved,
            sat: Satisfaction,
        ) {
            self.push(
                ticket,
                at,
                EventKind::CallbackRecorded {
                    reached: true,
                    failure: None,
                    solved: Some(solved),
                    satisfaction: Some(sat),
                    comment: None,
                    department: department.map(String::from),
                },
            );
        }

        fn unreached(&mut self, ticket: i64, at: DateTime<Utc>, department: &str) {
            self.push(
                ticket,
                at,
                EventKind::CallbackRecorded {
                    reached: false,
                    failure: Some(CallbackFailure::NoAnswer),
                    solved: None,
                    satisfaction: None,
                    comment: None,
                    department: Some(department.into()),
                },
            );
        }

        fn reopen(&mut self, ticket: i64, at: DateTime<Utc>, department: &str, due: DateTime<Utc>) {
            self.push(ticket, at, EventKind::Reopened { department: Some(department.into()), reason: "不满意".into() });
            self.reply_clock(ticket, at, department, due);
        }

        fn ret(&mut self, ticket: i64, at: DateTime<Utc>, department: &str) {
            self.push(
                ticket,
                at,
                EventKind::Returned { department: department.into(), reason: "非本单位".into(), back_to: None },
            );
        }

        fn pass_down(&mut self, ticket: i64, at: DateTime<Utc>, from: &str, to: &str, due: DateTime<Utc>) {
            self.push(ticket, at, EventKind::PassedDown { from: from.into(), to: to.into(), note: None });
            self.reply_clock(ticket, at, to, due);
        }
    }

    /// Three departments of the demo district: 区城管委 `cgw` with its sub-unit 区环卫中心
    /// `cgw-hwzx`, and 区城管执法局 `cgzf`. October 2026, Beijing time.
    fn fixture() -> (Log, Vec<Exclusion>) {
        let mut l = Log::default();
        let (cgw, hwzx, cgzf) = ("cgw", "cgw-hwzx", "cgzf");

        // T1 → cgzf: on time all along; 已解决 / 满意.
        l.received(1, bj(10, 12, 8, 50));
        l.dispatch(1, bj(10, 12, 9, 0), cgzf, bj(10, 19, 17, 30), false);
        l.accept(1, bj(10, 12, 10, 0), cgzf, false, false);
        l.reply(1, bj(10, 14, 10, 0), cgzf);
        l.callback(1, bj(10, 15, 10, 0), Some(cgzf), Solved::Yes, Satisfaction::Satisfied);
        l.push(1, bj(10, 15, 10, 0), EventKind::Closed { note: None });

        // T2 → cgzf: accepted late, replied a day after its deadline; 部分解决 / 基本满意.
        l.received(2, bj(10, 12, 8, 55));
        l.dispatch(2, bj(10, 12, 9, 0), cgzf, bj(10, 19, 17, 30), false);
        l.accept(2, bj(10, 12, 15, 0), cgzf, true, false);
        l.reply(2, bj(10, 20, 10, 0), cgzf);
        l.callback(2, bj(10, 21, 10, 0), Some(cgzf), Solved::Partly, Satisfaction::BasicallySatisfied);

        // T3 → cgzf, accepted automatically, returned; the centre agrees and sends it to cgw,
        // which passes it down to cgw-hwzx; hwzx replies, the resident is unhappy, it is
        // reopened to hwzx, hwzx replies again and the resident is satisfied.
        l.received(3, bj(10, 13, 9, 0));
        l.dispatch(3, bj(10, 13, 9, 10), cgzf, bj(10, 20, 17, 30), false);
        l.accept(3, bj(10, 13, 15, 10), cgzf, true, true);
        l.ret(3, bj(10, 14, 9, 0), cgzf);
        l.dispatch(3, bj(10, 14, 10, 0), cgw, bj(10, 21, 17, 30), true);
        l.accept(3, bj(10, 14, 11, 0), cgw, false, false);
        l.pass_down(3, bj(10, 15, 9, 0), cgw, hwzx, bj(10, 21, 17, 30));
        l.accept(3, bj(10, 15, 10, 0), hwzx, false, false);
        l.reply(3, bj(10, 16, 10, 0), hwzx);
        l.callback(3, bj(10, 17, 10, 0), Some(hwzx), Solved::No, Satisfaction::Dissatisfied);
        l.reopen(3, bj(10, 17, 10, 0), hwzx, bj(10, 26, 17, 30));
        l.reply(3, bj(10, 20, 10, 0), hwzx);
        l.callback(3, bj(10, 21, 11, 0), Some(hwzx), Solved::Yes, Satisfaction::Satisfied);

        // T4 → cgw: returned, the return rejected; replied; first callback unanswered.
        l.received(4, bj(10, 20, 9, 0));
        l.dispatch(4, bj(10, 20, 9, 5), cgw, bj(10, 27, 17, 30), false);
        l.accept(4, bj(10, 20, 10, 0), cgw, false, false);
        l.ret(4, bj(10, 21, 9, 0), cgw);
        l.push(
            4,
            bj(10, 21, 14, 0),
            EventKind::ReturnRejected { department: cgw.into(), reason: "属本单位职责".into() },
        );
        l.reply(4, bj(10, 22, 9, 0), cgw);
        l.unreached(4, bj(10, 23, 10, 0), cgw);
        l.callback(4, bj(10, 24, 10, 0), Some(cgw), Solved::Yes, Satisfaction::Satisfied);

        // T5 → cgw, passed down to hwzx, which hands it back (退回上级); cgw replies.
        l.received(5, bj(10, 22, 9, 0));
        l.dispatch(5, bj(10, 22, 9, 5), cgw, bj(10, 29, 17, 30), false);
        l.accept(5, bj(10, 22, 9, 30), cgw, false, false);
        l.pass_down(5, bj(10, 22, 10, 0), cgw, hwzx, bj(10, 29, 17, 30));
        l.ret(5, bj(10, 23, 9, 0), hwzx);
        l.reply(5, bj(10, 26, 9, 0), cgw);
        l.callback(5, bj(10, 27, 10, 0), Some(cgw), Solved::Yes, Satisfaction::BasicallySatisfied);

        // T6 → cgzf across the month boundaries: dispatched and accepted in September,
        // replied in October (against September's clock), called back in November.
        l.received(6, bj(9, 28, 9, 0));
        l.dispatch(6, bj(9, 28, 9, 5), cgzf, bj(10, 12, 17, 30), false);
        l.accept(6, bj(9, 29, 9, 0), cgzf, false, false);
        l.reply(6, bj(10, 9, 9, 0), cgzf);
        l.callback(6, bj(11, 2, 10, 0), Some(cgzf), Solved::Yes, Satisfaction::Satisfied);

        // T7 → cgzf, excluded for cgzf by a supervisor: nothing of it counts.
        l.received(7, bj(10, 26, 9, 0));
        l.dispatch(7, bj(10, 26, 9, 5), cgzf, bj(11, 2, 17, 30), false);
        l.accept(7, bj(10, 26, 16, 0), cgzf, true, false);
        l.reply(7, bj(10, 28, 9, 0), cgzf);
        l.callback(7, bj(10, 29, 10, 0), Some(cgzf), Solved::No, Satisfaction::Dissatisfied);
        l.reopen(7, bj(10, 29, 10, 0), cgzf, bj(11, 5, 17, 30));

        // T8 → cgzf at 23:30 on 31 October (Beijing), accepted at 00:10 on 1 November.
        l.received(8, bj(10, 31, 23, 20));
        l.dispatch(8, bj(10, 31, 23, 30), cgzf, bj(11, 9, 17, 30), false);
        l.accept(8, bj(11, 1, 0, 10), cgzf, false, false);

        // T9: answered by the centre on the spot and called back: nobody's figure.
        l.received(9, bj(10, 12, 10, 0));
        l.push(
            9,
            bj(10, 12, 10, 5),
            EventKind::ResolvedDirectly { answer: "答复".into(), callback_consent: true, article_id: None },
        );
        l.callback(9, bj(10, 13, 10, 0), None, Solved::No, Satisfaction::Dissatisfied);

        // T10 → cgw with cgzf assisting: an assignment for cgw only.
        l.received(10, bj(10, 27, 9, 0));
        l.push(
            10,
            bj(10, 27, 9, 5),
            EventKind::Dispatched {
                lead: cgw.into(),
                assists: vec![cgzf.into()],
                note: None,
                sla_policy: None,
                rule_id: None,
                rules_version: None,
            },
        );
        l.accept(10, bj(10, 27, 9, 30), cgw, false, false);

        let exclusions = vec![Exclusion {
            id: 1,
            ticket_id: 7,
            department: cgzf.into(),
            reason: "市民诉求不合理".into(),
            by: "supervisor".into(),
            at: bj(11, 1, 9, 0),
        }];
        (l, exclusions)
    }

    fn row<'a>(scores: &'a [DepartmentScore], code: &str) -> &'a DepartmentScore {
        scores.iter().find(|s| s.department == code).unwrap_or_else(|| panic!("no row for {code}"))
    }

    fn close(a: Option<f64>, b: f64) -> bool {
        a.is_some_and(|a| (a - b).abs() < 1e-12)
    }

    #[test]
    fn fixture_figures_match_the_hand_count() {
        let (log, exclusions) = fixture();
        let scores = assess(&log.events, october(), &district(), &exclusions, &Weights::default());

        // cgzf, October:
        //   assigned: T1, T2, T3, T8 (23:30 on the 31st) = 4; T6 was September, T7 excluded,
        //             T10 only as an assist.
        //   accepted: T1 on time, T2 late, T3 automatic (late) = 3, 1 on time → 1/3.
        //   replies:  T1 on time, T2 late (20th > 19th 17:30), T6 on time (9th ≤ 12th) = 3, 2 on time.
        //   callbacks: T1 yes/满意, T2 partly/基本满意 = 2 → resolution (1 + ½)/2 = 0.75,
        //             satisfaction 2/2 = 1. (T6's is November's.)
        //   returns: T3 = 1, valid (re-dispatched) 1. Return rate 1/4.
        //   reopens: 0 (T7's is excluded). Excluded tickets: 1.
        //   score: (30·⅓ + 35·0.75 + 35·1) / 100 × 100 = 10 + 26.25 + 35 = 71.25.
        let cgzf = row(&scores, "cgzf");
        let expected = Figures {
            assigned: 4,
            accepted: 3,
            accepted_on_time: 1,
            accepted_automatically: 1,
            replies: 3,
            replies_on_time: 2,
            callbacks_reached: 2,
            solved: 1,
            partly_solved: 1,
            unsolved: 0,
            satisfied: 1,
            basically_satisfied: 1,
            dissatisfied: 0,
            returns: 1,
            returns_to_parent: 0,
            returns_valid: 1,
            returns_rejected: 0,
            reopens: 0,
            excluded_tickets: 1,
        };
        assert_eq!(cgzf.own, expected);
        assert_eq!(cgzf.total, expected, "no sub-unit of cgzf had anything");
        assert!(close(cgzf.rates.response, 1.0 / 3.0));
        assert!(close(cgzf.rates.on_time_reply, 2.0 / 3.0));
        assert!(close(cgzf.rates.resolution, 0.75));
        assert!(close(cgzf.rates.satisfaction, 1.0));
        assert!(close(cgzf.rates.returns, 0.25));
        assert_eq!(cgzf.score, Some(71.25));

        // cgw-hwzx (sub-unit of cgw), October:
        //   assigned: pass-downs of T3 and T5 = 2.
        //   accepted: T3 on time = 1/1.
        //   replies: T3 twice, both by their deadlines (21st, then 26th) = 2/2.
        //   callbacks: T3 no/不满意, then yes/满意 → resolution 1/2, satisfaction 1/2.
        //   returns: T5 back to cgw = 1, of which to parent 1; return rate 1/2.
        //   reopens: T3 = 1.
        //   score: 30·1 + 35·0.5 + 35·0.5 = 65.
        let hwzx = row(&scores, "cgw-hwzx");
        let expected_hwzx = Figures {
            assigned: 2,
            accepted: 1,
            accepted_on_time: 1,
            replies: 2,
            replies_on_time: 2,
            callbacks_reached: 2,
            solved: 1,
            unsolved: 1,
            satisfied: 1,
            dissatisfied: 1,
            returns: 1,
            returns_to_parent: 1,
            reopens: 1,
            ..Figures::default()
        };
        assert_eq!(hwzx.own, expected_hwzx);
        assert_eq!(hwzx.total, expected_hwzx);
        assert_eq!(hwzx.score, Some(65.0));
        assert_eq!((hwzx.parent.as_deref(), hwzx.level), (Some("cgw"), 1));

        // cgw own, October:
        //   assigned: T3 (re-dispatch), T4, T5, T10 = 4.
        //   accepted: T3, T4, T5, T10, all on time = 4/4.
        //   replies: T4, T5 on time = 2/2.
        //   callbacks: T4 yes/满意 (the unanswered attempt does not count), T5 yes/基本满意.
        //   returns: T4 = 1, rejected 1.
        let cgw = row(&scores, "cgw");
        let expected_cgw_own = Figures {
            assigned: 4,
            accepted: 4,
            accepted_on_time: 4,
            replies: 2,
            replies_on_time: 2,
            callbacks_reached: 2,
            solved: 2,
            satisfied: 1,
            basically_satisfied: 1,
            returns: 1,
            returns_rejected: 1,
            ..Figures::default()
        };
        assert_eq!(cgw.own, expected_cgw_own);
        // cgw total = own + hwzx, but the pass-downs (T3, T5) were already cgw's tickets and
        // T5's hand-back stayed inside cgw, so neither counts again:
        //   assigned 4; accepted 5/5; replies 4/4; callbacks 4: solved 3, unsolved 1
        //   → resolution 3/4; 满意 2 + 基本满意 1 of 4 → satisfaction 3/4; returns 1 (rejected
        //   1) → 1/4; reopens 1.
        //   score: 30·1 + 35·0.75 + 35·0.75 = 82.5.
        let expected_cgw_total = Figures {
            assigned: 4,
            accepted: 5,
            accepted_on_time: 5,
            replies: 4,
            replies_on_time: 4,
            callbacks_reached: 4,
            solved: 3,
            unsolved: 1,
            satisfied: 2,
            basically_satisfied: 1,
            dissatisfied: 1,
            returns: 1,
            returns_rejected: 1,
            reopens: 1,
            ..Figures::default()
        };
        assert_eq!(cgw.total, expected_cgw_total);
        assert!(close(cgw.rates.resolution, 0.75));
        assert!(close(cgw.rates.satisfaction, 0.75));
        assert!(close(cgw.rates.returns, 0.25));
        assert_eq!(cgw.score, Some(82.5));

        // Ranks: cgw 82.5 before cgzf 71.25 among the top-level units; hwzx first of cgw's.
        assert_eq!((cgw.rank, cgzf.rank, hwzx.rank), (Some(1), Some(2), Some(1)));
        let szs = row(&scores, "cgw-szs");
        assert_eq!((szs.score, szs.rank), (None, None), "no facts, no score");
        assert_eq!(szs.rates, Rates::default());
        // Tree order: cgw, then its sub-units (ranked first), …, cgzf somewhere after.
        let order: Vec<&str> = scores.iter().map(|s| s.department.as_str()).collect();
        assert_eq!(&order[..3], ["cgw", "cgw-hwzx", "cgw-szs"]);
        assert_eq!(order[3], "cgzf");
        assert!(scores.iter().all(|s| s.department != "centre"), "the centre is not assessed");
        assert_eq!(scores.len(), district().departments.len() - 1);
    }

    #[test]
    fn only_facts_and_the_clock_before_each_reply_matter() {
        let (log, exclusions) = fixture();
        for month in ["2026-09", "2026-10", "2026-11"] {
            let period = month_period(month).unwrap();
            // What a store may give: FACT_TYPES, and the latest clocks_changed of the ticket
            // before each reply of the period.
            let needed: Vec<&Event> = log
                .events
                .iter()
                .filter(|e| {
                    FACT_TYPES.contains(&e.kind.name())
                        || (e.kind.name() == "clocks_changed"
                            && log.events.iter().any(|r| {
                                r.kind.name() == "replied"
                                    && r.ticket_id == e.ticket_id
                                    && (period.0..period.1).contains(&r.at)
                                    && r.seq > e.seq
                                    && !log.events.iter().any(|c| {
                                        c.kind.name() == "clocks_changed"
                                            && c.ticket_id == e.ticket_id
                                            && c.seq > e.seq
                                            && c.seq < r.seq
                                    })
                            }))
                })
                .collect();
            assert!(needed.len() < log.events.len(), "the fixture has events to leave out");
            let all = assess(&log.events, period, &district(), &exclusions, &Weights::default());
            let some = assess(needed.iter().copied(), period, &district(), &exclusions, &Weights::default());
            assert_eq!(all, some, "{month}");
        }
    }

    #[test]
    fn the_next_month_counts_what_crossed_the_boundary() {
        let (log, exclusions) = fixture();
        let november = month_period("2026-11").unwrap();
        let scores = assess(&log.events, november, &district(), &exclusions, &Weights::default());
        // T8's acceptance (00:10 on 1 November) and T6's callback (2 November).
        let cgzf = row(&scores, "cgzf");
        let expected = Figures {
            accepted: 1,
            accepted_on_time: 1,
            callbacks_reached: 1,
            solved: 1,
            satisfied: 1,
            ..Figures::default()
        };
        assert_eq!(cgzf.total, expected);
        assert_eq!(cgzf.rates.returns, None, "nothing assigned in November: no return rate");
        assert_eq!(cgzf.score, Some(100.0));
        // September: T6 dispatched and accepted.
        let september = month_period("2026-09").unwrap();
        let scores = assess(&log.events, september, &district(), &exclusions, &Weights::default());
        let cgzf = row(&scores, "cgzf");
        assert_eq!((cgzf.total.assigned, cgzf.total.accepted, cgzf.total.replies), (1, 1, 0));
    }

    #[test]
    fn without_the_exclusion_the_ticket_counts_against_the_department() {
        let (log, _) = fixture();
        let scores = assess(&log.events, october(), &district(), &[], &Weights::default());
        let cgzf = row(&scores, "cgzf");
        // T7 back in: assigned 5, accepted 4 (1 on time), replies 4 (3 on time: 28th ≤ 2 Nov),
        // callbacks 3 (T7 no/不满意), reopens 1.
        assert_eq!(
            (cgzf.total.assigned, cgzf.total.accepted, cgzf.total.accepted_on_time, cgzf.total.replies),
            (5, 4, 1, 4)
        );
        assert_eq!((cgzf.total.replies_on_time, cgzf.total.callbacks_reached, cgzf.total.reopens), (3, 3, 1));
        assert_eq!(cgzf.total.excluded_tickets, 0);
        // 30·¼ + 35·(1.5/3) + 35·(2/3) = 7.5 + 17.5 + 23.333… = 48.33.
        assert_eq!(cgzf.score, Some(48.33));
    }

    #[test]
    fn an_exclusion_for_a_unit_covers_its_sub_units() {
        let (log, _) = fixture();
        let exclusion = Exclusion {
            id: 2,
            ticket_id: 3,
            department: "cgw".into(),
            reason: "不可抗力".into(),
            by: "supervisor".into(),
            at: bj(11, 1, 9, 0),
        };
        let scores = assess(&log.events, october(), &district(), &[exclusion], &Weights::default());
        // T3 leaves cgw and hwzx entirely; cgzf keeps its own part of T3 (its return, its
        // automatic acceptance) and the valid return.
        let hwzx = row(&scores, "cgw-hwzx");
        assert_eq!((hwzx.own.assigned, hwzx.own.replies, hwzx.own.reopens, hwzx.own.returns), (1, 0, 0, 1));
        assert_eq!(hwzx.own.excluded_tickets, 0, "the exclusion names cgw");
        let cgw = row(&scores, "cgw");
        assert_eq!((cgw.own.assigned, cgw.own.accepted, cgw.own.excluded_tickets), (3, 3, 1));
        assert_eq!((cgw.total.callbacks_reached, cgw.total.excluded_tickets), (2, 1));
        let cgzf = row(&scores, "cgzf");
        assert_eq!((cgzf.own.returns_valid, cgzf.own.accepted_automatically), (1, 1));
    }

    #[test]
    fn no_callbacks_means_no_rate_and_the_score_rests_on_the_rest() {
        let mut l = Log::default();
        l.received(1, bj(10, 12, 9, 0));
        l.dispatch(1, bj(10, 12, 9, 5), "cgzf", bj(10, 19, 17, 30), false);
        l.accept(1, bj(10, 12, 9, 30), "cgzf", false, false);
        l.received(2, bj(10, 12, 9, 0));
        l.dispatch(2, bj(10, 12, 9, 5), "cgzf", bj(10, 19, 17, 30), false);
        l.accept(2, bj(10, 12, 15, 30), "cgzf", true, false);
        let d = district();
        let scores = assess(&l.events, october(), &d, &[], &Weights::default());
        let cgzf = row(&scores, "cgzf");
        assert_eq!((cgzf.rates.resolution, cgzf.rates.satisfaction, cgzf.rates.on_time_reply), (None, None, None));
        // Response alone: 1/2 → 50.00.
        assert_eq!(cgzf.score, Some(50.0));
        let csv = to_csv(&scores, &d);
        let line = csv.lines().find(|l| l.starts_with("1,cgzf,")).unwrap();
        let cells: Vec<&str> = line.split(',').collect();
        assert_eq!(cells[9], "50.00", "response rate: {line}");
        assert_eq!(cells[12], "—", "on-time reply rate: {line}");
        assert_eq!(cells[17], "—", "resolution rate: {line}");
        assert_eq!(cells[21], "—", "satisfaction rate: {line}");
        assert_eq!(cells[29], "50.00", "score: {line}");
    }

    #[test]
    fn weights_change_the_score_and_parse_from_text() {
        let (log, exclusions) = fixture();
        let w: Weights = "50/25/25".parse().unwrap();
        let scores = assess(&log.events, october(), &district(), &exclusions, &w);
        // cgzf: 50·⅓ + 25·0.75 + 25·1 = 16.666… + 18.75 + 25 = 60.42 (rounded).
        assert_eq!(row(&scores, "cgzf").score, Some(60.42));
        assert!("30/35".parse::<Weights>().is_err());
        assert!("0/0/0".parse::<Weights>().is_err());
        assert!("a/35/35".parse::<Weights>().is_err());
        assert_eq!("30 / 35 / 35".parse::<Weights>().unwrap(), Weights::default());
    }

    #[test]
    fn equal_scores_share_a_rank() {
        let mut l = Log::default();
        for (id, dept) in [(1, "cgw"), (2, "cgzf"), (3, "zjw")] {
            l.received(id, bj(10, 12, 9, 0));
            l.dispatch(id, bj(10, 12, 9, 5), dept, bj(10, 19, 17, 30), false);
            l.accept(id, bj(10, 12, 9, 30), dept, dept == "zjw", false);
        }
        let scores = assess(&l.events, october(), &district(), &[], &Weights::default());
        let ranks: Vec<(Option<u32>, &str)> = scores
            .iter()
            .filter(|s| s.level == 0 && s.rank.is_some())
            .map(|s| (s.rank, s.department.as_str()))
            .collect();
        assert_eq!(ranks, vec![(Some(1), "cgw"), (Some(1), "cgzf"), (Some(3), "zjw")]);
    }

    #[test]
    fn a_reply_while_suspended_time_is_counted_by_the_clock() {
        // The clock was suspended with 2 hours left and is still paused (a reply then is not
        // possible today, but a log may hold one): on time, whatever the wall clock says.
        let mut clock = StageClock {
            stage: Stage::Reply,
            policy: "general".into(),
            limit: SlaDuration { amount: 5, unit: crate::domain::calendar::DurationUnit::WorkingDays },
            started_at: bj(10, 1, 9, 0),
            due_at: bj(10, 2, 9, 0),
            warn_at: bj(10, 2, 9, 0),
            warning_lead: TimeDelta::zero(),
            extensions: vec![],
            extensions_in_remainder: 0,
            paused_at: Some(bj(10, 2, 7, 0)),
            remaining: Some(TimeDelta::hours(2)),
            resumed_at: None,
            stopped_at: None,
            fallback_used: false,
        };
        let lead = |clock: &StageClock| {
            vec![AssignmentClock {
                department: Some("cgw".into()),
                owner: Owner::Lead,
                clock: clock.clone(),
                auto_accept_at: None,
                warned_at: None,
                overdue_at: None,
                late_list_at: None,
                late_listed_at: None,
            }]
        };
        assert!(clocks::reply_on_time(&lead(&clock), bj(10, 20, 9, 0)));
        clock.paused_at = None;
        clock.remaining = None;
        assert!(clocks::reply_on_time(&lead(&clock), bj(10, 2, 9, 0)), "at the deadline is on time");
        assert!(!clocks::reply_on_time(&lead(&clock), bj(10, 2, 9, 1)));
        assert!(clocks::reply_on_time(&[], bj(10, 2, 9, 1)), "no deadline, nothing missed");
    }

    #[test]
    fn the_month_assessed_is_the_one_before_in_beijing_time() {
        let at = |s: &str| DateTime::parse_from_rfc3339(s).unwrap().to_utc();
        assert_eq!(previous_month(at("2026-11-01T09:00:00+08:00")), "2026-10");
        // 23:30 UTC on 31 December is already 1 January in Beijing.
        assert_eq!(previous_month(at("2026-12-31T23:30:00Z")), "2026-12");
        assert_eq!(previous_month(at("2027-01-15T09:00:00+08:00")), "2026-12");
    }

    #[test]
    fn months_are_beijing_months() {
        let (from, to) = month_period("2026-10").unwrap();
        assert_eq!(from.to_rfc3339(), "2026-09-30T16:00:00+00:00");
        assert_eq!(to.to_rfc3339(), "2026-10-31T16:00:00+00:00");
        let (from, to) = month_period("2026-12").unwrap();
        assert_eq!(
            (from.to_rfc3339().as_str(), to.to_rfc3339().as_str()),
            ("2026-11-30T16:00:00+00:00", "2026-12-31T16:00:00+00:00")
        );
        for bad in ["2026-13", "2026-1", "2026-00", "26-10", "2026/10", "", "2026-10-01", "２０２６-10"] {
            let e = month_period(bad).unwrap_err();
            assert!(e.starts_with("month:"), "{bad}: {e}");
        }
    }

    #[test]
    fn csv_has_a_bilingual_header_and_one_line_per_department_in_rank_order() {
        let (log, exclusions) = fixture();
        let d = district();
        let scores = assess(&log.events, october(), &d, &exclusions, &Weights::default());
        let csv = to_csv(&scores, &d);
        let lines: Vec<&str> = csv.lines().collect();
        assert!(lines[0].starts_with("排名(rank),单位代码(department),单位名称(name),"), "{}", lines[0]);
        assert!(lines[0].ends_with(",综合得分(score)"));
        assert_eq!(lines.len(), scores.len() + 1);
        let columns = lines[0].split(',').count();
        assert!(lines.iter().all(|l| l.split(',').count() == columns), "no stray commas");
        assert!(
            lines[1].starts_with("1,cgw,区城市管理委员会,,0,4,5,5,0,100.00,4,4,100.00,4,3,0,1,75.00,"),
            "{}",
            lines[1]
        );
        assert!(lines[1].ends_with(",82.50"), "{}", lines[1]);
        assert!(lines[2].starts_with("1,cgw-hwzx,"), "{}", lines[2]);
        assert!(lines[3].starts_with("—,cgw-szs,"), "{}", lines[3]);
        assert!(lines[4].starts_with("2,cgzf,"), "{}", lines[4]);
        assert!(lines[4].ends_with(",1,71.25"), "one excluded ticket, then the score: {}", lines[4]);
        assert_eq!(csv_field("a,\"b\""), "\"a,\"\"b\"\"\"");
    }

    #[test]
    fn exclusions_are_checked_against_the_ticket() {
        let (log, _) = fixture();
        let d = district();
        let t3: Vec<Event> = log.events.iter().filter(|e| e.ticket_id == 3).cloned().collect();
        assert_eq!(check_exclusion(&t3, "cgw-hwzx", "  不可抗力 ", &d).unwrap(), "不可抗力");
        assert!(check_exclusion(&t3, "cgw", "理由", &d).is_ok());
        let field = |r: Result<String, DecisionError>| match r {
            Err(DecisionError::Invalid { field, .. }) => field,
            other => panic!("expected invalid, got {other:?}"),
        };
        assert_eq!(field(check_exclusion(&t3, "nope", "理由", &d)), "department");
        assert_eq!(field(check_exclusion(&t3, "centre", "理由", &d)), "department");
        assert_eq!(field(check_exclusion(&t3, "zjw", "理由", &d)), "department");
        assert_eq!(field(check_exclusion(&t3, "cgw", "  ", &d)), "reason");
        assert_eq!(field(check_exclusion(&t3, "cgw", &"长".repeat(MAX_TEXT + 1), &d)), "reason");
    }

    /// Histories written by the real state machine, with every path whose verdict depends on
    /// the past: late and on-time acceptances and replies, extensions, suspensions, returns
    /// to the centre granted or rejected, pass-downs returned to the parent, reopens; spread
    /// from September into November.
    fn simulated_log(tickets: i64) -> Vec<Event> {
        use crate::domain::lifecycle::{decide, Actor, Assignment, CallbackReport, Command, Context};
        use rand::{rngs::StdRng, Rng, SeedableRng};
        let d = district();
        let units: Vec<String> = d
            .departments
            .iter()
            .filter(|u| u.kind != DepartmentKind::Centre && u.parent.is_none())
            .map(|u| u.code.clone())
            .collect();
        let person = |role: Role, department: Option<&str>| Actor {
            user_id: 1,
            username: department.unwrap_or(role.as_str()).into(),
            role,
            department: department.map(String::from),
            units: department.map(|u| vec![u.to_string()]).unwrap_or_default(),
        };
        let dispatcher = person(Role::Dispatcher, None);
        let supervisor = person(Role::Supervisor, None);
        let operator = person(Role::Operator, None);
        let mut rng = StdRng::seed_from_u64(7);
        let mut events: Vec<Event> = Vec::new();
        for id in 1..=tickets {
            let mut at = bj(9, 20, 8, 0) + TimeDelta::minutes(rng.gen_range(0..50 * 24 * 60));
            let mut log = Log::default();
            log.received(id, at);
            let mut ticket = crate::domain::ticket::apply(None, &log.events[0]);
            let mut run = |ticket: &mut Ticket, at: DateTime<Utc>, who: &Actor, command: Command| {
                let ctx = Context { now: at, actor: who, directory: &d, sla: crate::domain::test_support::sla() };
                let kinds = decide(ticket, &command, &ctx).unwrap_or_else(|e| panic!("{}: {e}", command.action()));
                for kind in kinds {
                    let seq = events.len() as i64 + 1;
                    let actor =
                        ActorRef { user_id: 1, username: who.username.clone(), role: who.role, department: None };
                    let event = Event { seq, ticket_id: id, at, actor, kind };
                    *ticket = crate::domain::ticket::apply(Some(ticket.clone()), &event);
                    events.push(event);
                }
            };
            let wait = |rng: &mut StdRng, hours: i64| TimeDelta::minutes(rng.gen_range(1..hours * 60));
            let assignment = |lead: &str| Assignment {
                lead: lead.into(),
                assists: vec![],
                policy: None,
                note: None,
                rule_id: None,
                rules_version: None,
            };
            let mut lead = units[rng.gen_range(0..units.len())].clone();
            at += wait(&mut rng, 2);
            run(&mut ticket, at, &dispatcher, Command::Dispatch(assignment(&lead)));
            if rng.gen_bool(0.15) {
                at += wait(&mut rng, 30);
                run(
                    &mut ticket,
                    at,
                    &person(Role::Department, Some(&lead)),
                    Command::Return { reason: "非本单位".into() },
                );
                at += wait(&mut rng, 30);
                if rng.gen_bool(0.5) {
                    lead = units.iter().find(|u| **u != lead).unwrap().clone();
                    run(&mut ticket, at, &dispatcher, Command::Redispatch { to: assignment(&lead), category: None });
                } else {
                    run(&mut ticket, at, &dispatcher, Command::RejectReturn { reason: "属本单位".into() });
                }
            }
            let mut department = person(Role::Department, Some(&lead));
            at += wait(&mut rng, 40);
            if ticket.status == Status::Dispatched {
                run(&mut ticket, at, &department, Command::Accept);
            }
            let below: Vec<String> = d.children(&lead).iter().map(|u| u.code.clone()).collect();
            if !below.is_empty() && rng.gen_bool(0.3) {
                let sub = below[rng.gen_range(0..below.len())].clone();
                at += wait(&mut rng, 10);
                run(&mut ticket, at, &department, Command::PassDown { to: sub.clone(), note: None });
                let sub_unit = person(Role::Department, Some(&sub));
                at += wait(&mut rng, 10);
                if rng.gen_bool(0.5) {
                    run(&mut ticket, at, &sub_unit, Command::Return { reason: "需上级协调".into() });
                } else {
                    run(&mut ticket, at, &sub_unit, Command::Accept);
                    department = sub_unit;
                }
            }
            if rng.gen_bool(0.15) {
                at += wait(&mut rng, 60);
                let request = Command::RequestExtension { reason: "需协调".into(), extra: "3wd".into() };
                run(&mut ticket, at, &department, request);
                at += wait(&mut rng, 5);
                run(&mut ticket, at, &supervisor, Command::DecideExtension { approve: rng.gen_bool(0.7), note: None });
            }
            if rng.gen_bool(0.1) {
                at += wait(&mut rng, 60);
                run(&mut ticket, at, &department, Command::RequestSuspension { reason: "待鉴定".into() });
                at += wait(&mut rng, 5);
                run(&mut ticket, at, &supervisor, Command::DecideSuspension { approve: true, note: None });
                at += wait(&mut rng, 120);
                run(&mut ticket, at, &supervisor, Command::Resume);
            }
            for round in 0..2 {
                at += wait(&mut rng, 200);
                let reply = Command::Reply { outcome: Outcome::Solved, text: "已处理".into() };
                run(&mut ticket, at, &department, reply);
                at += wait(&mut rng, 30);
                let unhappy = round == 0 && rng.gen_bool(0.2);
                let report = CallbackReport {
                    reached: true,
                    failure: None,
                    solved: Some(if unhappy { Solved::No } else { Solved::Yes }),
                    satisfaction: Some(if unhappy { Satisfaction::Dissatisfied } else { Satisfaction::Satisfied }),
                    comment: None,
                };
                run(&mut ticket, at, &operator, Command::RecordCallback(report));
                if ticket.status != Status::Accepted && ticket.status != Status::Dispatched {
                    break;
                }
                if ticket.status == Status::Dispatched {
                    at += wait(&mut rng, 10);
                    run(&mut ticket, at, &department, Command::Accept);
                }
            }
        }
        // Tickets interleave in the log as they do in a server: by time.
        events.sort_by_key(|e| (e.at, e.seq));
        events
    }

    /// Without the verdicts the facts carry: what events written before they were look like.
    fn without_verdicts(events: &[Event]) -> Vec<Event> {
        let mut old = events.to_vec();
        for e in &mut old {
            match &mut e.kind {
                EventKind::Replied { late, .. } => *late = None,
                EventKind::Returned { back_to, .. } => *back_to = None,
                EventKind::Redispatched { return_of, .. } => *return_of = None,
                _ => {}
            }
        }
        old
    }

    #[test]
    fn recorded_verdicts_agree_with_the_history_and_a_month_needs_only_its_facts() {
        let log = simulated_log(400);
        let count = |name: &str, pick: &dyn Fn(&EventKind) -> bool| {
            log.iter().filter(|e| e.kind.name() == name && pick(&e.kind)).count()
        };
        // The simulation walks the paths that need the past to be judged.
        assert!(count("replied", &|k| matches!(k, EventKind::Replied { late: Some(true), .. })) > 10);
        assert!(count("replied", &|k| matches!(k, EventKind::Replied { late: Some(false), .. })) > 10);
        assert!(count("returned", &|k| matches!(k, EventKind::Returned { back_to: Some(_), .. })) > 3);
        assert!(count("redispatched", &|k| matches!(k, EventKind::Redispatched { return_of: Some(_), .. })) > 3);
        assert!(count("return_rejected", &|_| true) > 3);
        assert!(count("suspension_decided", &|_| true) > 3 && count("extension_decided", &|_| true) > 3);
        let legacy = without_verdicts(&log);
        let exclusions = [];
        for month in ["2026-09", "2026-10", "2026-11"] {
            let period = month_period(month).unwrap();
            let recorded = assess(&log, period, &district(), &exclusions, &Weights::default());
            // Judged from each ticket's history, as for events from before the verdicts.
            let derived = assess(&legacy, period, &district(), &exclusions, &Weights::default());
            assert_eq!(recorded, derived, "{month}");
            // The month's facts alone, as the store reads them.
            let facts =
                log.iter().filter(|e| FACT_TYPES.contains(&e.kind.name()) && (period.0..period.1).contains(&e.at));
            assert_eq!(assess(facts, period, &district(), &exclusions, &Weights::default()), recorded, "{month}");
            assert!(recorded.iter().any(|r| r.total.replies > 0), "{month} has replies");
        }
    }
}
