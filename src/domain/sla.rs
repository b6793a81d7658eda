//! SLA policies (时限标准) and the stage clocks that run on them.
//!
//! This module owns the named policies of `dispatch_rules/sla_policies.toml` (for each stage of
//! a ticket, a limit and a warning point) and [`StageClock`]: the deadline of one stage of one
//! ticket, with suspension (挂起), extension (延期) and recomputation when the calendar changes.
//! It does no IO and never reads the system clock: every function is given `now`.
//!
//! A clock counts in the kind of time its limit is written in: working time for `wd`/`wh`
//! limits, clock time for `h`/`d`/`m`. What is left at a suspension is kept in that kind of
//! time, so a ticket suspended over a holiday loses nothing and gains nothing.

use std::collections::BTreeMap;
use std::fmt;
use std::ops::Range;

use chrono::{DateTime, TimeDelta, Timelike, Utc};
use serde::{Deserialize, Serialize};
use toml::Spanned;

use super::calendar::{china_offset, Calendar, SlaDuration};
use super::diagnostic::{Diagnostic, Severity};

// ───────────────────────────── policies ─────────────────────────────

#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize, utoipa::ToSchema)]
#[serde(rename_all = "snake_case")]
pub enum Stage {
    /// 签收
    Accept,
    /// 首次联系
    FirstContact,
    /// 办结
    Reply,
    /// 回访
    Callback,
}

impl Stage {
    pub const ALL: [Stage; 4] = [Stage::Accept, Stage::FirstContact, Stage::Reply, Stage::Callback];

    pub fn as_word(self) -> &'static str {
        match self {
            Stage::Accept => "accept",
            Stage::FirstContact => "first_contact",
            Stage::Reply => "reply",
            Stage::Callback => "callback",
        }
    }

    pub fn zh(self) -> &'static str {
        match self {
            Stage::Accept => "签收",
            Stage::FirstContact => "首次联系",
            Stage::Reply => "办结",
            Stage::Callback => "回访",
        }
    }
}

impl fmt::Display for Stage {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_word())
    }
}

/// When a stage turns yellow (预警) before it turns red (超期).
#[derive(Debug, Clone, Copy, PartialEq, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum WarningPoint {
    /// This fraction of the limit has passed, counted in the limit's kind of time.
    Elapsed(f64),
    /// This long before the deadline.
    Before(SlaDuration),
}

#[derive(Debug, Clone, Copy, PartialEq, Serialize)]
pub struct StageLimit {
    pub within: SlaDuration,
    pub warning: WarningPoint,
}

#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct SlaPolicy {
    pub name: String,
    /// What people see, e.g. 紧急; the name when the file gives none.
    pub label: String,
    pub accept: StageLimit,
    pub first_contact: StageLimit,
    pub reply: StageLimit,
    pub callback: StageLimit,
}

impl SlaPolicy {
    pub fn limit(&self, stage: Stage) -> &StageLimit {
        match stage {
            Stage::Accept => &self.accept,
            Stage::FirstContact => &self.first_contact,
            Stage::Reply => &self.reply,
            Stage::Callback => &self.callback,
        }
    }
}

/// Every policy of `sla_policies.toml`, in file order.
#[derive(Debug, Clone, PartialEq)]
pub struct SlaPolicies {
    policies: Vec<SlaPolicy>,
    default_index: usize,
    auto_accept_after: SlaDuration,
}

impl SlaPolicies {
    /// Reads `(file name, contents)`; all problems are reported together.
    pub fn parse((file, source): (&str, &str)) -> Result<SlaPolicies, Vec<Diagnostic>> {
        let parsed: PoliciesFile = toml::from_str(source).map_err(|e| vec![Diagnostic::from_toml(file, source, &e)])?;
        let mut check = Checker { file, source, diagnostics: Vec::new() };

        let auto_accept_after = check.duration(&parsed.auto_accept_after);
        let defaults = parsed.defaults.unwrap_or_default();
        let mut entries: Vec<(&Spanned<String>, &PolicyFile)> = parsed.policy.iter().collect();
        entries.sort_by_key(|(name, _)| name.span().start);
        let policies: Vec<SlaPolicy> =
            entries.into_iter().filter_map(|(name, policy)| check.policy(name, policy, &defaults)).collect();

        if !parsed.policy.keys().any(|name| name.get_ref() == parsed.default_policy.get_ref()) {
            let known: Vec<&str> = parsed.policy.keys().map(|k| k.get_ref().as_str()).collect();
            let message = format!(
                "default_policy \"{}\" is not a policy here (there are: {})",
                parsed.default_policy.get_ref(),
                known.join(", ")
            );
            check.error(&parsed.default_policy.span(), message);
        }
        match (auto_accept_after, check.diagnostics.is_empty()) {
            (Some(auto_accept_after), true) => {
                let default_index =
                    policies.iter().position(|p| &p.name == parsed.default_policy.get_ref()).expect("checked above");
                Ok(SlaPolicies { policies, default_index, auto_accept_after })
            }
            _ => Err(check.diagnostics),
        }
    }

    pub fn get(&self, name: &str) -> Option<&SlaPolicy> {
        self.policies.iter().find(|p| p.name == name)
    }

    pub fn default_policy(&self) -> &SlaPolicy {
        &self.policies[self.default_index]
    }

    /// Policy names in file order.
    pub fn names(&self) -> Vec<&str> {
        self.policies.iter().map(|p| p.name.as_str()).collect()
    }

    pub fn iter(&self) -> impl Iterator<Item = &SlaPolicy> {
        self.policies.iter()
    }

    /// How long after dispatch an unaccepted ticket is accepted automatically (and counted late).
    pub fn auto_accept_after(&self) -> SlaDuration {
        self.auto_accept_after
    }
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct PoliciesFile {
    default_policy: Spanned<String>,
    auto_accept_after: Spanned<String>,
    defaults: Option<StagesFile>,
    #[serde(default)]
    policy: BTreeMap<Spanned<String>, PolicyFile>,
}

#[derive(Deserialize, Default)]
#[serde(deny_unknown_fields)]
struct StagesFile {
    accept: Option<Spanned<LimitFile>>,
    first_contact: Option<Spanned<LimitFile>>,
    reply: Option<Spanned<LimitFile>>,
    callback: Option<Spanned<LimitFile>>,
}

impl StagesFile {
    fn get(&self, stage: Stage) -> Option<&Spanned<LimitFile>> {
        match stage {
            Stage::Accept => self.accept.as_ref(),
            Stage::FirstContact => self.first_contact.as_ref(),
            Stage::Reply => self.reply.as_ref(),
            Stage::Callback => self.callback.as_ref(),
        }
    }
}

/// A `[policy.NAME]` table: a label and the stages it sets itself (serde's `flatten` of a
/// `StagesFile` would disable `deny_unknown_fields`).
#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct PolicyFile {
    label: Option<String>,
    accept: Option<Spanned<LimitFile>>,
    first_contact: Option<Spanned<LimitFile>>,
    reply: Option<Spanned<LimitFile>>,
    callback: Option<Spanned<LimitFile>>,
}

impl PolicyFile {
    fn get(&self, stage: Stage) -> Option<&Spanned<LimitFile>> {
        match stage {
            Stage::Accept => self.accept.as_ref(),
            Stage::FirstContact => self.first_contact.as_ref(),
            Stage::Reply => self.reply.as_ref(),
            Stage::Callback => self.callback.as_ref(),
        }
    }
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct LimitFile {
    within: Spanned<String>,
    warn_elapsed: Option<Spanned<f64>>,
    warn_before: Option<Spanned<String>>,
}

struct Checker<'a> {
    file: &'a str,
    source: &'a str,
    diagnostics: Vec<Diagnostic>,
}

impl Checker<'_> {
    fn error(&mut self, span: &Range<usize>, message: String) {
        self.diagnostics.push(Diagnostic::at_offset(self.file, self.source, span.start, Severity::Error, message));
    }

    fn policy(&mut self, name: &Spanned<String>, policy: &PolicyFile, defaults: &StagesFile) -> Option<SlaPolicy> {
        let valid_name = name.get_ref().starts_with(|c: char| c.is_ascii_lowercase())
            && name.get_ref().chars().all(|c| c.is_ascii_lowercase() || c.is_ascii_digit() || c == '_' || c == '-');
        if !valid_name {
            let message = format!(
                "policy name \"{}\" must be lowercase letters, digits, '_' or '-', starting with a letter",
                name.get_ref()
            );
            self.error(&name.span(), message);
        }
        let [accept, first_contact, reply, callback] =
            Stage::ALL.map(|stage| match policy.get(stage).or(defaults.get(stage)) {
                Some(limit) => self.limit(stage, limit),
                None => {
                    let message =
                        format!("policy \"{}\" has no {stage} limit, and [defaults] gives none", name.get_ref());
                    self.error(&name.span(), message);
                    None
                }
            });
        Some(SlaPolicy {
            name: name.get_ref().clone(),
            label: policy.label.clone().unwrap_or_else(|| name.get_ref().clone()),
            accept: accept?,
            first_contact: first_contact?,
            reply: reply?,
            callback: callback?,
        })
    }

    fn duration(&mut self, value: &Spanned<String>) -> Option<SlaDuration> {
        match value.get_ref().parse::<SlaDuration>() {
            Ok(d) => Some(d),
            Err(e) => {
                self.error(&value.span(), e.to_string());
                None
            }
        }
    }

    fn limit(&mut self, stage: Stage, limit: &Spanned<LimitFile>) -> Option<StageLimit> {
        let LimitFile { within, warn_elapsed, warn_before } = limit.get_ref();
        let within_value = self.duration(within);
        let warning = match (warn_elapsed, warn_before) {
            (Some(fraction), None) => {
                let f = *fraction.get_ref();
                if f > 0.0 && f < 1.0 {
                    Some(WarningPoint::Elapsed(f))
                } else {
                    self.error(&fraction.span(), format!("warn_elapsed = {f} must be between 0 and 1, e.g. 0.75"));
                    None
                }
            }
            (None, Some(before)) => self.duration(before).map(WarningPoint::Before),
            (Some(_), Some(_)) | (None, None) => {
                let message =
                    format!("the {} limit needs one warning point: warn_elapsed or warn_before", stage.as_word());
                self.error(&limit.span(), message);
                None
            }
        };
        let (within_value, warning) = (within_value?, warning?);
        if let (WarningPoint::Before(before), Some(before_span)) = (warning, warn_before) {
            if before.is_working() != within_value.is_working() {
                let message = format!(
                    "warn_before \"{before}\" and within \"{within_value}\" must both be working time or both natural time"
                );
                self.error(&before_span.span(), message);
                return None;
            }
            if !is_shorter(before, within_value) {
                let message = format!("warn_before \"{before}\" must be shorter than within \"{within_value}\"");
                self.error(&before_span.span(), message);
                return None;
            }
        }
        Some(StageLimit { within: within_value, warning })
    }
}

/// Whether `a` is surely shorter than `b`. Working days and working hours only compare
/// with the calendar's day length, so such pairs are let through unless the units agree.
fn is_shorter(a: SlaDuration, b: SlaDuration) -> bool {
    match (a.natural_length(), b.natural_length()) {
        (Some(a), Some(b)) => a < b,
        _ if a.unit == b.unit => a.amount < b.amount,
        _ => true,
    }
}

// ───────────────────────────── clocks ─────────────────────────────

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum ClockState {
    Running,
    /// Past the warning point (预警).
    Warning,
    /// Past the deadline (超期).
    Overdue,
    /// Suspended (挂起): the deadline waits.
    Paused,
    /// The stage is done (accepted, replied, called back).
    Stopped,
}

impl ClockState {
    pub fn as_word(self) -> &'static str {
        match self {
            ClockState::Running => "running",
            ClockState::Warning => "warning",
            ClockState::Overdue => "overdue",
            ClockState::Paused => "paused",
            ClockState::Stopped => "stopped",
        }
    }
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, thiserror::Error)]
pub enum ClockError {
    #[error("the {} clock is already suspended (挂起)", .0.zh())]
    AlreadyPaused(Stage),
    #[error("the {} clock is not suspended, so it cannot be resumed", .0.zh())]
    NotPaused(Stage),
    #[error("the {} clock has stopped: the stage is finished", .0.zh())]
    Stopped(Stage),
}

/// The deadline of one stage of one ticket.
///
/// Every instant is stored in whole seconds, so a clock survives a round trip through JSON or
/// a database unchanged and [`StageClock::recompute`] reports only real changes.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct StageClock {
    pub stage: Stage,
    pub policy: String,
    /// The policy's limit for this stage.
    pub limit: SlaDuration,
    pub started_at: DateTime<Utc>,
    pub due_at: DateTime<Utc>,
    /// When the stage turns yellow (预警).
    pub warn_at: DateTime<Utc>,
    /// How long before the deadline the warning comes, in the limit's kind of time; fixed at
    /// the start, so a suspension or an extension moves the warning with the deadline.
    #[serde(with = "seconds")]
    pub warning_lead: TimeDelta,
    /// Approved extensions (延期), in order.
    pub extensions: Vec<SlaDuration>,
    /// How many of `extensions` are already counted in `remaining` (granted before the last
    /// suspension).
    pub extensions_in_remainder: usize,
    pub paused_at: Option<DateTime<Utc>>,
    /// The time that was left when the clock was last suspended (negative if it was already
    /// overdue), in the limit's kind of time.
    #[serde(with = "optional_seconds")]
    pub remaining: Option<TimeDelta>,
    /// Set once a suspension has ended: from then on the deadline is `remaining` counted from
    /// here, instead of `limit` counted from `started_at`.
    pub resumed_at: Option<DateTime<Utc>>,
    pub stopped_at: Option<DateTime<Utc>>,
    /// The deadline reaches into a year whose calendar is not yet published.
    pub fallback_used: bool,
}

impl StageClock {
    /// Starts the clock of `stage` under `policy` at `at`.
    pub fn start(stage: Stage, policy: &SlaPolicy, calendar: &Calendar, at: DateTime<Utc>) -> StageClock {
        let StageLimit { within, warning } = *policy.limit(stage);
        let started_at = whole_seconds(at);
        let due = calendar.due(started_at, within);
        let warning_lead = match warning {
            WarningPoint::Before(before) => calendar.nominal_length(before),
            WarningPoint::Elapsed(fraction) => {
                let span = measure(within.is_working(), calendar, started_at, due.at).num_seconds();
                let elapsed = (span as f64 * fraction.clamp(0.0, 1.0)).round() as i64;
                TimeDelta::seconds(span - elapsed)
            }
        };
        let mut clock = StageClock {
            stage,
            policy: policy.name.clone(),
            limit: within,
            started_at,
            due_at: due.at,
            warn_at: due.at,
            warning_lead,
            extensions: Vec::new(),
            extensions_in_remainder: 0,
            paused_at: None,
            remaining: None,
            resumed_at: None,
            stopped_at: None,
            fallback_used: due.fallback_used,
        };
        clock.warn_at = clock.warning_at(calendar, started_at);
        clock
    }

    /// Working time (`wd`/`wh` limits) or clock time (the others).
    pub fn counts_working_time(&self) -> bool {
        self.limit.is_working()
    }

    /// Suspends the clock (挂起), keeping what is left.
    pub fn pause(&mut self, now: DateTime<Utc>, calendar: &Calendar) -> Result<(), ClockError> {
        self.check_not_stopped()?;
        if self.paused_at.is_some() {
            return Err(ClockError::AlreadyPaused(self.stage));
        }
        let now = whole_seconds(now);
        self.remaining = Some(measure(self.counts_working_time(), calendar, now, self.due_at));
        self.extensions_in_remainder = self.extensions.len();
        self.paused_at = Some(now);
        Ok(())
    }

    /// Ends a suspension: the deadline is what was left, counted from `now`.
    pub fn resume(&mut self, now: DateTime<Utc>, calendar: &Calendar) -> Result<(), ClockError> {
        self.check_not_stopped()?;
        if self.paused_at.is_none() {
            return Err(ClockError::NotPaused(self.stage));
        }
        self.paused_at = None;
        self.resumed_at = Some(whole_seconds(now));
        self.refresh(calendar);
        Ok(())
    }

    /// Grants an extension (延期): the deadline moves by `extra` counted from the current
    /// deadline (so `3wd` ends three working days after it), and the warning with it. On a
    /// suspended clock it applies from the resumption.
    pub fn extend(&mut self, extra: SlaDuration, calendar: &Calendar) -> Result<(), ClockError> {
        self.check_not_stopped()?;
        self.extensions.push(extra);
        if self.paused_at.is_none() {
            self.refresh(calendar);
        }
        Ok(())
    }

    /// Recounts the deadline on a changed calendar; returns whether the deadline or the
    /// warning moved. A suspended or stopped clock has no running deadline to move.
    pub fn recompute(&mut self, calendar: &Calendar) -> bool {
        if self.paused_at.is_some() || self.stopped_at.is_some() {
            return false;
        }
        let before = (self.due_at, self.warn_at);
        self.refresh(calendar);
        before != (self.due_at, self.warn_at)
    }

    /// Stops the clock: the stage is done.
    pub fn stop(&mut self, now: DateTime<Utc>) -> Result<(), ClockError> {
        self.check_not_stopped()?;
        self.stopped_at = Some(whole_seconds(now));
        Ok(())
    }

    pub fn state(&self, now: DateTime<Utc>) -> ClockState {
        if self.stopped_at.is_some() {
            ClockState::Stopped
        } else if self.paused_at.is_some() {
            ClockState::Paused
        } else if now > self.due_at {
            ClockState::Overdue
        } else if now >= self.warn_at {
            ClockState::Warning
        } else {
            ClockState::Running
        }
    }

    /// Time left before the deadline, negative when overdue, in the limit's kind of time
    /// ("2 working hours left"). Frozen while suspended, and at the stop once stopped.
    pub fn time_left(&self, now: DateTime<Utc>, calendar: &Calendar) -> TimeDelta {
        match (self.paused_at, self.remaining) {
            (Some(_), Some(remaining)) => remaining,
            _ => measure(self.counts_working_time(), calendar, self.stopped_at.unwrap_or(now), self.due_at),
        }
    }

    /// For a stopped clock, whether the stage finished by its deadline.
    pub fn finished_on_time(&self) -> Option<bool> {
        self.stopped_at?;
        match (self.paused_at, self.remaining) {
            (Some(_), Some(remaining)) => Some(remaining >= TimeDelta::zero()),
            _ => self.stopped_at.map(|stopped| stopped <= self.due_at),
        }
    }

    /// The deadline as people read it, with its unit and exact instant:
    /// `5个工作日，截止 2026-10-13 17:30`, plus extensions and a note when the calendar of
    /// that year is not yet published.
    pub fn deadline_zh(&self) -> String {
        let mut text = self.limit.zh_label();
        for extra in &self.extensions {
            text.push_str(&format!(" + 延期{}", extra.zh_label()));
        }
        let local = self.due_at.with_timezone(&china_offset());
        text.push_str(&format!("，截止 {}", local.format("%Y-%m-%d %H:%M")));
        if self.fallback_used {
            text.push_str("（该年度节假日安排尚未发布，按周一至周五估算）");
        }
        text
    }

    fn check_not_stopped(&self) -> Result<(), ClockError> {
        match self.stopped_at {
            Some(_) => Err(ClockError::Stopped(self.stage)),
            None => Ok(()),
        }
    }

    /// Counts the deadline and warning from what the clock holds: the limit from the start,
    /// or the remainder from the last resumption, then the extensions not yet in it.
    fn refresh(&mut self, calendar: &Calendar) {
        let working = self.counts_working_time();
        let (counting_from, mut due_at, mut fallback_used) = match (self.resumed_at, self.remaining) {
            (Some(resumed_at), Some(remaining)) => {
                let at = advance(working, calendar, resumed_at, remaining);
                (resumed_at, at, working && calendar.uses_fallback(resumed_at, at))
            }
            _ => {
                let due = calendar.due(self.started_at, self.limit);
                (self.started_at, due.at, due.fallback_used)
            }
        };
        for extra in &self.extensions[self.extensions_in_remainder..] {
            let due = calendar.due(due_at, *extra);
            due_at = due.at;
            fallback_used |= due.fallback_used;
        }
        self.due_at = due_at;
        self.fallback_used = fallback_used;
        self.warn_at = self.warning_at(calendar, counting_from);
    }

    /// `warning_lead` before the deadline, but not before the clock (re)started counting.
    fn warning_at(&self, calendar: &Calendar, counting_from: DateTime<Utc>) -> DateTime<Utc> {
        advance(self.counts_working_time(), calendar, self.due_at, -self.warning_lead).max(counting_from)
    }
}

/// Time from `from` to `to` in working or clock time.
fn measure(working: bool, calendar: &Calendar, from: DateTime<Utc>, to: DateTime<Utc>) -> TimeDelta {
    if working {
        calendar.working_duration_between(from, to)
    } else {
        to - from
    }
}

/// `from` moved by `amount` of working or clock time (backwards when negative).
fn advance(working: bool, calendar: &Calendar, from: DateTime<Utc>, amount: TimeDelta) -> DateTime<Utc> {
    if working {
        calendar.add_working_time(from, amount)
    } else {
        from + amount
    }
}

fn whole_seconds(at: DateTime<Utc>) -> DateTime<Utc> {
    at.with_nanosecond(0).unwrap_or(at)
}

/// Durations stored as whole seconds: clocks never hold finer ones.
mod seconds {
    use chrono::TimeDelta;
    use serde::{Deserialize, Deserializer, Serializer};

    pub fn serialize<S: Serializer>(value: &TimeDelta, serializer: S) -> Result<S::Ok, S::Error> {
        serializer.serialize_i64(value.num_seconds())
    }

    pub fn deserialize<'de, D: Deserializer<'de>>(deserializer: D) -> Result<TimeDelta, D::Error> {
        let seconds = i64::deserialize(deserializer)?;
        TimeDelta::try_seconds(seconds).ok_or_else(|| serde::de::Error::custom("duration out of range"))
    }
}

mod optional_seconds {
    use chrono::TimeDelta;
    use serde::{Deserialize, Deserializer, Serializer};

    pub fn serialize<S: Serializer>(value: &Option<TimeDelta>, serializer: S) -> Result<S::Ok, S::Error> {
        match value {
            Some(value) => serializer.serialize_some(&value.num_seconds()),
            None => serializer.serialize_none(),
        }
    }

    pub fn deserialize<'de, D: Deserializer<'de>>(deserializer: D) -> Result<Option<TimeDelta>, D::Error> {
        Option::<i64>::deserialize(deserializer)?
            .map(|seconds| {
                TimeDelta::try_seconds(seconds).ok_or_else(|| serde::de::Error::custom("duration out of range"))
            })
            .transpose()
    }
}

#[cfg(test)]
mod tests {
    use super::super::calendar::{format_local, parse_instant, DurationUnit};
    use super::*;

    const POLICIES: &str = include_str!("../../dispatch_rules/sla_policies.toml");
    const HOURS: &str = include_str!("../../dispatch_rules/calendar/hours.toml");
    const YEAR_2025: &str = include_str!("../../dispatch_rules/calendar/2025.toml");
    const YEAR_2026: &str = include_str!("../../dispatch_rules/calendar/2026.toml");

    fn calendar() -> Calendar {
        Calendar::parse(("hours.toml", HOURS), &[("2025.toml", YEAR_2025), ("2026.toml", YEAR_2026)]).unwrap()
    }

    fn policies() -> SlaPolicies {
        SlaPolicies::parse(("sla_policies.toml", POLICIES)).unwrap_or_else(|d| panic!("{d:#?}"))
    }

    fn at(s: &str) -> DateTime<Utc> {
        parse_instant(s).unwrap().with_timezone(&Utc)
    }

    fn dur(s: &str) -> SlaDuration {
        s.parse().unwrap()
    }

    fn hours(h: i64, m: i64) -> TimeDelta {
        TimeDelta::hours(h) + TimeDelta::minutes(m)
    }

    fn start(policy: &str, stage: Stage, when: &str) -> StageClock {
        StageClock::start(stage, policies().get(policy).unwrap(), &calendar(), at(when))
    }

    fn local(t: DateTime<Utc>) -> String {
        format_local(t)
    }

    #[test]
    fn shipped_policies_say_what_the_centre_promised() {
        let policies = policies();
        assert_eq!(policies.names(), ["urgent", "utility", "general", "complex"]);
        assert_eq!(policies.default_policy().name, "general");
        assert_eq!(policies.auto_accept_after(), dur("4wh"));

        let urgent = policies.get("urgent").unwrap();
        assert_eq!((urgent.accept.within, urgent.reply.within), (dur("30m"), dur("2h")));
        assert_eq!(urgent.label, "紧急诉求");
        assert_eq!(policies.get("utility").unwrap().reply.within, dur("24h"));
        let general = policies.get("general").unwrap();
        assert_eq!(general.reply, StageLimit { within: dur("5wd"), warning: WarningPoint::Before(dur("1wd")) });
        assert_eq!(general.accept, StageLimit { within: dur("2wh"), warning: WarningPoint::Elapsed(0.5) });
        assert_eq!(policies.get("complex").unwrap().reply.within, dur("15wd"));
        assert_eq!(policies.get("complex").unwrap().accept.within, dur("2wh"));
        for policy in policies.iter() {
            assert_eq!(policy.limit(Stage::Callback).within, dur("1wd"), "{}", policy.name);
        }
        assert!(policies.get("nonexistent").is_none());
    }

    #[test]
    fn a_working_day_reply_clock_warns_and_goes_overdue() {
        let calendar = calendar();
        let clock = start("general", Stage::Reply, "2026-09-30T16:00:00+08:00");
        assert_eq!(local(clock.due_at), "2026-10-13T17:30:00+08:00");
        // One working day before: the opening of the last working day.
        assert_eq!(local(clock.warn_at), "2026-10-13T09:00:00+08:00");
        assert_eq!(clock.state(at("2026-10-12T10:00:00+08:00")), ClockState::Running);
        assert_eq!(clock.state(at("2026-10-13T09:00:00+08:00")), ClockState::Warning);
        assert_eq!(clock.state(at("2026-10-13T17:30:00+08:00")), ClockState::Warning);
        assert_eq!(clock.state(at("2026-10-13T17:30:01+08:00")), ClockState::Overdue);
        assert_eq!(clock.time_left(at("2026-10-12T17:30:00+08:00"), &calendar), hours(7, 0));
        assert_eq!(clock.time_left(at("2026-10-14T10:00:00+08:00"), &calendar), -hours(1, 0));
        assert_eq!(clock.deadline_zh(), "5个工作日，截止 2026-10-13 17:30");
        assert!(!clock.fallback_used);
    }

    #[test]
    fn urgent_clocks_run_on_natural_time_across_midnight() {
        let calendar = calendar();
        let accept = start("urgent", Stage::Accept, "2026-10-01T23:50:00+08:00");
        assert_eq!(local(accept.due_at), "2026-10-02T00:20:00+08:00");
        assert_eq!(local(accept.warn_at), "2026-10-02T00:05:00+08:00");
        let reply = start("urgent", Stage::Reply, "2026-10-01T23:50:00+08:00");
        assert_eq!(local(reply.due_at), "2026-10-02T01:50:00+08:00");
        assert_eq!(local(reply.warn_at), "2026-10-02T01:20:00+08:00");
        assert_eq!(reply.time_left(at("2026-10-02T01:00:00+08:00"), &calendar), hours(0, 50));
        assert!(!reply.counts_working_time());
        assert_eq!(reply.deadline_zh(), "2小时，截止 2026-10-02 01:50");
    }

    #[test]
    fn elapsed_warnings_count_working_time() {
        // 2 working hours from 11:00 end at 14:30; half of them is left from 13:30 (the lunch
        // break holds no working time, so the latest instant with one hour left is 13:30).
        let accept = start("general", Stage::Accept, "2026-03-10T11:00:00+08:00");
        assert_eq!(local(accept.due_at), "2026-03-10T14:30:00+08:00");
        assert_eq!(local(accept.warn_at), "2026-03-10T13:30:00+08:00");
        // 1wd from Tue 16:00: 8.5 working hours until Wed 17:30; 75% of them pass at 15:22:30.
        let contact = start("general", Stage::FirstContact, "2026-03-10T16:00:00+08:00");
        assert_eq!(local(contact.due_at), "2026-03-11T17:30:00+08:00");
        assert_eq!(local(contact.warn_at), "2026-03-11T15:22:30+08:00");
        assert_eq!(contact.warning_lead, TimeDelta::seconds(7650));
    }

    #[test]
    fn the_callback_is_due_at_the_end_of_the_next_working_day() {
        let callback = start("urgent", Stage::Callback, "2026-10-09T16:00:00+08:00");
        // Saturday Oct 10 is a makeup working day.
        assert_eq!(local(callback.due_at), "2026-10-10T17:30:00+08:00");
        assert_eq!(local(callback.warn_at), "2026-10-10T15:30:00+08:00");
    }

    #[test]
    fn a_suspension_over_a_holiday_loses_no_working_time() {
        let calendar = calendar();
        let mut clock = start("general", Stage::Reply, "2026-09-21T10:00:00+08:00");
        // Sep 22, 23, 24, (25–27 中秋), 28, 29.
        assert_eq!(local(clock.due_at), "2026-09-29T17:30:00+08:00");

        clock.pause(at("2026-09-24T10:00:00+08:00"), &calendar).unwrap();
        // Thursday 10:00–17:30 is 6 working hours, then two full days.
        assert_eq!(clock.remaining, Some(hours(20, 0)));
        assert_eq!(clock.state(at("2026-10-05T10:00:00+08:00")), ClockState::Paused);
        assert_eq!(clock.time_left(at("2026-10-05T10:00:00+08:00"), &calendar), hours(20, 0));

        clock.resume(at("2026-10-09T15:00:00+08:00"), &calendar).unwrap();
        // Fri 2.5h, makeup Sat 7h, Mon 7h, Tue 3.5h.
        assert_eq!(local(clock.due_at), "2026-10-13T14:00:00+08:00");
        assert_eq!(local(clock.warn_at), "2026-10-12T14:00:00+08:00");
        assert_eq!(clock.state(at("2026-10-12T14:00:00+08:00")), ClockState::Warning);
        assert_eq!(clock.time_left(at("2026-10-09T15:00:00+08:00"), &calendar), hours(20, 0));
    }

    #[test]
    fn a_natural_time_clock_keeps_natural_time_when_suspended() {
        let calendar = calendar();
        let mut clock = start("urgent", Stage::Reply, "2026-10-01T10:00:00+08:00");
        clock.pause(at("2026-10-01T10:30:00+08:00"), &calendar).unwrap();
        assert_eq!(clock.remaining, Some(hours(1, 30)));
        clock.resume(at("2026-10-01T20:00:00+08:00"), &calendar).unwrap();
        assert_eq!(local(clock.due_at), "2026-10-01T21:30:00+08:00");
        assert_eq!(local(clock.warn_at), "2026-10-01T21:00:00+08:00");
    }

    #[test]
    fn a_clock_suspended_when_overdue_stays_overdue() {
        let calendar = calendar();
        let mut clock = start("urgent", Stage::Reply, "2026-10-01T10:00:00+08:00");
        clock.pause(at("2026-10-01T12:30:00+08:00"), &calendar).unwrap();
        assert_eq!(clock.remaining, Some(-hours(0, 30)));
        clock.resume(at("2026-10-02T09:00:00+08:00"), &calendar).unwrap();
        assert_eq!(local(clock.due_at), "2026-10-02T08:30:00+08:00");
        assert_eq!(clock.state(at("2026-10-02T09:00:00+08:00")), ClockState::Overdue);
        // The warning cannot come before the clock started counting again.
        assert_eq!(local(clock.warn_at), "2026-10-02T09:00:00+08:00");
    }

    #[test]
    fn an_extension_moves_the_deadline_and_the_warning() {
        let calendar = calendar();
        let mut clock = start("general", Stage::Reply, "2026-09-30T16:00:00+08:00");
        clock.extend(dur("3wd"), &calendar).unwrap();
        assert_eq!(local(clock.due_at), "2026-10-16T17:30:00+08:00");
        assert_eq!(local(clock.warn_at), "2026-10-16T09:00:00+08:00");
        assert_eq!(clock.extensions, [dur("3wd")]);
        assert_eq!(clock.deadline_zh(), "5个工作日 + 延期3个工作日，截止 2026-10-16 17:30");

        let mut urgent = start("urgent", Stage::Reply, "2026-10-01T10:00:00+08:00");
        urgent.extend(dur("1h"), &calendar).unwrap();
        assert_eq!(local(urgent.due_at), "2026-10-01T13:00:00+08:00");
    }

    #[test]
    fn extensions_survive_suspensions_without_counting_twice() {
        let calendar = calendar();
        let mut clock = start("general", Stage::Reply, "2026-09-21T10:00:00+08:00");
        clock.pause(at("2026-09-24T10:00:00+08:00"), &calendar).unwrap();
        // Granted while suspended: it applies from the resumption.
        clock.extend(dur("1wd"), &calendar).unwrap();
        clock.resume(at("2026-10-09T15:00:00+08:00"), &calendar).unwrap();
        assert_eq!(local(clock.due_at), "2026-10-14T17:30:00+08:00");

        clock.pause(at("2026-10-14T10:00:00+08:00"), &calendar).unwrap();
        assert_eq!(clock.remaining, Some(hours(6, 0)));
        clock.resume(at("2026-10-15T09:00:00+08:00"), &calendar).unwrap();
        assert_eq!(local(clock.due_at), "2026-10-15T16:30:00+08:00");
        assert!(!clock.recompute(&calendar));
        assert_eq!(clock.extensions.len(), 1);
    }

    #[test]
    fn recompute_after_the_next_year_is_published() {
        let old = calendar();
        let mut clock =
            StageClock::start(Stage::Reply, policies().get("general").unwrap(), &old, at("2026-12-28T10:00:00+08:00"));
        // Dec 29, 30, 31, then 2027-01-01 guessed as a plain Friday, and Mon Jan 4.
        assert_eq!(local(clock.due_at), "2027-01-04T17:30:00+08:00");
        assert!(clock.fallback_used);
        assert!(clock.deadline_zh().contains("尚未发布"));
        assert!(!clock.recompute(&old));

        let year_2027 = "year = 2027\n[[holiday]]\nname = \"元旦\"\nfrom = 2027-01-01\nto = 2027-01-03\n";
        let new =
            Calendar::parse(("hours.toml", HOURS), &[("2026.toml", YEAR_2026), ("2027.toml", year_2027)]).unwrap();
        assert!(clock.recompute(&new));
        assert_eq!(local(clock.due_at), "2027-01-05T17:30:00+08:00");
        assert_eq!(local(clock.warn_at), "2027-01-05T09:00:00+08:00");
        assert!(!clock.fallback_used);
        assert!(!clock.recompute(&new));

        // A suspended clock keeps its remainder; it is counted on the new calendar at resumption.
        let mut paused =
            StageClock::start(Stage::Reply, policies().get("general").unwrap(), &old, at("2026-12-28T10:00:00+08:00"));
        paused.pause(at("2026-12-30T17:30:00+08:00"), &old).unwrap();
        assert!(!paused.recompute(&new));
        paused.resume(at("2026-12-31T09:00:00+08:00"), &new).unwrap();
        assert_eq!(local(paused.due_at), "2027-01-05T17:30:00+08:00");
    }

    #[test]
    fn stopping_records_whether_the_stage_was_on_time() {
        let calendar = calendar();
        let mut clock = start("general", Stage::Accept, "2026-03-10T11:00:00+08:00");
        assert_eq!(clock.finished_on_time(), None);
        clock.stop(at("2026-03-10T14:00:00+08:00")).unwrap();
        assert_eq!(clock.state(at("2026-03-20T00:00:00+08:00")), ClockState::Stopped);
        assert_eq!(clock.finished_on_time(), Some(true));
        assert_eq!(clock.time_left(at("2026-03-20T00:00:00+08:00"), &calendar), hours(0, 30));
        assert_eq!(clock.stop(at("2026-03-10T15:00:00+08:00")), Err(ClockError::Stopped(Stage::Accept)));
        assert_eq!(clock.extend(dur("1wd"), &calendar), Err(ClockError::Stopped(Stage::Accept)));

        let mut late = start("general", Stage::Accept, "2026-03-10T11:00:00+08:00");
        late.stop(at("2026-03-10T14:30:01+08:00")).unwrap();
        assert_eq!(late.finished_on_time(), Some(false));
    }

    #[test]
    fn illegal_clock_moves_are_typed_errors() {
        let calendar = calendar();
        let mut clock = start("general", Stage::Reply, "2026-03-10T11:00:00+08:00");
        assert_eq!(clock.resume(at("2026-03-10T12:00:00+08:00"), &calendar), Err(ClockError::NotPaused(Stage::Reply)));
        clock.pause(at("2026-03-10T12:00:00+08:00"), &calendar).unwrap();
        let again = clock.pause(at("2026-03-10T13:00:00+08:00"), &calendar).unwrap_err();
        assert_eq!(again, ClockError::AlreadyPaused(Stage::Reply));
        assert!(again.to_string().contains("办结"));
    }

    #[test]
    fn clocks_round_trip_through_json_in_whole_seconds() {
        let calendar = calendar();
        let mut clock = start("general", Stage::Reply, "2026-09-21T10:00:00.123456+08:00");
        assert_eq!(local(clock.started_at), "2026-09-21T10:00:00+08:00");
        clock.pause(at("2026-09-24T10:00:00+08:00"), &calendar).unwrap();
        let json = serde_json::to_string(&clock).unwrap();
        assert!(json.contains("\"remaining\":72000"), "{json}");
        assert!(json.contains("\"limit\":\"5wd\""), "{json}");
        let back: StageClock = serde_json::from_str(&json).unwrap();
        assert_eq!(back, clock);
    }

    #[test]
    fn stages_and_states_have_words() {
        assert_eq!(Stage::ALL.map(Stage::as_word), ["accept", "first_contact", "reply", "callback"]);
        assert_eq!(Stage::ALL.map(Stage::zh), ["签收", "首次联系", "办结", "回访"]);
        assert_eq!(ClockState::Overdue.as_word(), "overdue");
        assert_eq!(serde_json::to_string(&WarningPoint::Before(dur("1wd"))).unwrap(), r#"{"before":"1wd"}"#);
    }

    // ── validation: each problem at its line ──

    const MINIMAL: &str = r#"default_policy = "general"
auto_accept_after = "4wh"
[defaults]
accept = { within = "2wh", warn_elapsed = 0.5 }
first_contact = { within = "1wd", warn_elapsed = 0.75 }
callback = { within = "1wd", warn_before = "2wh" }
[policy.general]
reply = { within = "5wd", warn_before = "1wd" }
"#;

    fn errors(text: &str) -> Vec<Diagnostic> {
        SlaPolicies::parse(("sla_policies.toml", text)).expect_err("should be rejected")
    }

    fn only_error(text: &str) -> Diagnostic {
        let diagnostics = errors(text);
        assert_eq!(diagnostics.len(), 1, "{diagnostics:#?}");
        diagnostics.into_iter().next().unwrap()
    }

    fn with_reply(reply: &str) -> String {
        MINIMAL.replace(r#"reply = { within = "5wd", warn_before = "1wd" }"#, reply)
    }

    #[test]
    fn the_minimal_file_is_valid() {
        let policies = SlaPolicies::parse(("sla_policies.toml", MINIMAL)).unwrap();
        assert_eq!(policies.names(), ["general"]);
        assert_eq!(policies.default_policy().label, "general");
        assert_eq!(policies.default_policy().callback.within.unit, DurationUnit::WorkingDays);
    }

    #[test]
    fn rejects_syntax_errors_and_unknown_keys() {
        let d = only_error(&with_reply(r#"reply = { within = "5wd" warn_before = "1wd" }"#));
        assert_eq!((d.file.as_str(), d.line), ("sla_policies.toml", 8));
        let d = only_error(&with_reply(r#"reply = { within = "5wd", warn_befor = "1wd" }"#));
        assert_eq!(d.line, 8);
        assert!(d.message.contains("unknown field `warn_befor`"), "{}", d.message);
        let d = only_error(&MINIMAL.replace("[policy.general]", "[policy.general]\nescalate = \"1wd\""));
        assert_eq!(d.line, 8);
        assert!(d.message.contains("unknown field `escalate`"), "{}", d.message);
    }

    #[test]
    fn rejects_bad_durations_at_their_place() {
        let d = only_error(&with_reply(r#"reply = { within = "5 days", warn_before = "1wd" }"#));
        assert_eq!((d.line, d.column), (8, 20));
        assert!(d.message.contains("is not a duration"), "{}", d.message);
        let d = only_error(&MINIMAL.replace("\"4wh\"", "\"4x\""));
        assert_eq!(d.line, 2);
    }

    #[test]
    fn rejects_bad_warning_points() {
        let d = only_error(&MINIMAL.replace("warn_elapsed = 0.5", "warn_elapsed = 1.5"));
        assert_eq!(d.line, 4);
        assert!(d.message.contains("between 0 and 1"));

        let d = only_error(&with_reply(r#"reply = { within = "5wd", warn_elapsed = 0.5, warn_before = "1wd" }"#));
        assert_eq!((d.line, d.column), (8, 9));
        assert!(d.message.contains("one warning point"));
        let d = only_error(&with_reply(r#"reply = { within = "5wd" }"#));
        assert_eq!(d.line, 8);

        let d = only_error(&with_reply(r#"reply = { within = "5wd", warn_before = "2h" }"#));
        assert_eq!(d.line, 8);
        assert!(d.message.contains("must both be working time or both natural time"), "{}", d.message);
        let d = only_error(&with_reply(r#"reply = { within = "2h", warn_before = "120m" }"#));
        assert!(d.message.contains("must be shorter"), "{}", d.message);
        let d = only_error(&with_reply(r#"reply = { within = "5wd", warn_before = "5wd" }"#));
        assert!(d.message.contains("must be shorter"), "{}", d.message);
    }

    #[test]
    fn rejects_an_unknown_default_policy() {
        let d = only_error(&MINIMAL.replace("default_policy = \"general\"", "default_policy = \"normal\""));
        assert_eq!((d.line, d.column), (1, 18));
        assert!(d.message.contains("there are: general"), "{}", d.message);
    }

    #[test]
    fn rejects_a_policy_missing_a_stage() {
        let d =
            only_error(&MINIMAL.replace("reply = { within = \"5wd\", warn_before = \"1wd\" }\n", "label = \"一般\"\n"));
        assert_eq!(d.line, 7);
        assert!(d.message.contains("no reply limit"), "{}", d.message);
    }

    #[test]
    fn rejects_a_bad_policy_name() {
        let d = only_error(
            &MINIMAL
                .replace("[policy.general]", "[policy.General]")
                .replace("default_policy = \"general\"", "default_policy = \"General\""),
        );
        assert_eq!(d.line, 7);
        assert!(d.message.contains("lowercase"));
    }

    #[test]
    fn reports_every_problem_at_once() {
        let text = MINIMAL
            .replace("\"4wh\"", "\"4\"")
            .replace("warn_elapsed = 0.75", "warn_elapsed = 0")
            .replace("default_policy = \"general\"", "default_policy = \"x\"");
        let lines: Vec<usize> = errors(&text).iter().map(|d| d.line).collect();
        assert_eq!(lines, [2, 5, 1]);
    }
}
