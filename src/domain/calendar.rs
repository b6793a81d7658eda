//! The official working calendar (工作日历) and the deadline arithmetic done on it.
//!
//! This module owns three things: which days are working days (weekends, the State Council's
//! public holidays and its makeup working days, 调休, read from `dispatch_rules/calendar/`),
//! the working hours of a working day, and turning an [`SlaDuration`] such as `5wd` into a
//! deadline instant. It does no IO: callers read the files and pass their text in.
//!
//! Counting rules, as practised by 12345 centres (次日起算):
//! * `Nwd` — N working days, counted from the next working day after the start; the deadline is
//!   the end of the Nth working day's working hours, whatever the hour of the start.
//! * `Nwh` — N hours of working time; a start outside working hours counts from the next
//!   working moment, and a limit used up exactly at a period's end is due at that end (17:30,
//!   not the next morning).
//! * `Nh`, `Nd`, `Nm` — natural clock time.
//!
//! The State Council publishes each year's arrangement in the autumn before, so a deadline may
//! reach into a year that has no file yet. Such days count as plain Monday–Friday working days,
//! and every result that touched them says so (`fallback_used`), so a screen can warn that the
//! instant is provisional.

use std::collections::BTreeMap;
use std::fmt;
use std::ops::Range;
use std::str::FromStr;

use chrono::{DateTime, Datelike, FixedOffset, NaiveDate, NaiveTime, SecondsFormat, TimeDelta, Utc, Weekday};
use serde::{Deserialize, Serialize};
use toml::Spanned;

use super::diagnostic::{Diagnostic, Severity};

/// China Standard Time is UTC+08:00 all year (no daylight saving since 1991).
const CHINA_OFFSET_SECONDS: i32 = 8 * 3600;

/// The zone every deadline is counted and shown in.
pub fn china_offset() -> FixedOffset {
    FixedOffset::east_opt(CHINA_OFFSET_SECONDS).expect("+08:00 is a valid offset")
}

// ───────────────────────────── durations ─────────────────────────────

/// A promised time as policies write it: `5wd`, `4wh`, `2h`, `3d`, `30m`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(try_from = "String", into = "String")]
pub struct SlaDuration {
    pub amount: u32,
    pub unit: DurationUnit,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum DurationUnit {
    /// `wd`, 工作日
    WorkingDays,
    /// `wh`, 工作小时
    WorkingHours,
    /// `h`, natural hours
    Hours,
    /// `d`, natural days (24 hours each; there is no daylight saving to make a day longer)
    Days,
    /// `m`, natural minutes
    Minutes,
}

impl DurationUnit {
    pub fn suffix(self) -> &'static str {
        match self {
            DurationUnit::WorkingDays => "wd",
            DurationUnit::WorkingHours => "wh",
            DurationUnit::Hours => "h",
            DurationUnit::Days => "d",
            DurationUnit::Minutes => "m",
        }
    }

    /// The Chinese unit as shown to people, so nobody confuses days with working days.
    pub fn zh(self) -> &'static str {
        match self {
            DurationUnit::WorkingDays => "个工作日",
            DurationUnit::WorkingHours => "个工作小时",
            DurationUnit::Hours => "小时",
            DurationUnit::Days => "天",
            DurationUnit::Minutes => "分钟",
        }
    }

    /// Working units count on the calendar; the others are plain clock time.
    pub fn is_working(self) -> bool {
        matches!(self, DurationUnit::WorkingDays | DurationUnit::WorkingHours)
    }

    /// About ten years in each unit: longer is a typo, and would make the day-by-day
    /// arithmetic slow.
    fn max_amount(self) -> u32 {
        match self {
            DurationUnit::WorkingDays => 2_500,
            DurationUnit::WorkingHours => 20_000,
            DurationUnit::Hours => 87_600,
            DurationUnit::Days => 3_650,
            DurationUnit::Minutes => 5_256_000,
        }
    }

    fn all() -> [DurationUnit; 5] {
        [
            DurationUnit::WorkingDays,
            DurationUnit::WorkingHours,
            DurationUnit::Hours,
            DurationUnit::Days,
            DurationUnit::Minutes,
        ]
    }
}

impl SlaDuration {
    pub fn new(amount: u32, unit: DurationUnit) -> Self {
        SlaDuration { amount, unit }
    }

    pub fn is_working(&self) -> bool {
        self.unit.is_working()
    }

    /// `5个工作日`, `4个工作小时`, `2小时`, `3天`, `30分钟`.
    pub fn zh_label(&self) -> String {
        format!("{}{}", self.amount, self.unit.zh())
    }

    /// The clock length of a natural duration; `None` for working units, whose length depends
    /// on where they start.
    pub fn natural_length(&self) -> Option<TimeDelta> {
        let amount = i64::from(self.amount);
        match self.unit {
            DurationUnit::Hours => Some(TimeDelta::hours(amount)),
            DurationUnit::Days => Some(TimeDelta::days(amount)),
            DurationUnit::Minutes => Some(TimeDelta::minutes(amount)),
            DurationUnit::WorkingDays | DurationUnit::WorkingHours => None,
        }
    }
}

impl fmt::Display for SlaDuration {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}{}", self.amount, self.unit.suffix())
    }
}

#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("{0}")]
pub struct ParseDurationError(String);

impl FromStr for SlaDuration {
    type Err = ParseDurationError;

    fn from_str(s: &str) -> Result<Self, Self::Err> {
        let text = s.trim();
        let how = "write a whole number and a unit: wd (working days), wh (working hours), \
                   h (hours), d (days) or m (minutes), e.g. \"5wd\"";
        let digits_end = text.find(|c: char| !c.is_ascii_digit()).unwrap_or(text.len());
        let (number, suffix) = text.split_at(digits_end);
        let Some(unit) = DurationUnit::all().into_iter().find(|u| u.suffix() == suffix) else {
            return Err(ParseDurationError(format!("\"{s}\" is not a duration: {how}")));
        };
        if number.is_empty() {
            return Err(ParseDurationError(format!("\"{s}\" has no number: {how}")));
        }
        let amount: u32 = number.parse().ok().filter(|n| *n <= unit.max_amount()).ok_or_else(|| {
            ParseDurationError(format!(
                "\"{s}\" is too long: at most {}{} (about ten years)",
                unit.max_amount(),
                unit.suffix()
            ))
        })?;
        if amount == 0 {
            return Err(ParseDurationError(format!("\"{s}\" is zero: a limit must be at least 1{}", unit.suffix())));
        }
        Ok(SlaDuration { amount, unit })
    }
}

impl TryFrom<String> for SlaDuration {
    type Error = ParseDurationError;

    fn try_from(s: String) -> Result<Self, Self::Error> {
        s.parse()
    }
}

impl From<SlaDuration> for String {
    fn from(d: SlaDuration) -> String {
        d.to_string()
    }
}

// ───────────────────────────── instants for the CLI ─────────────────────────────

/// Parses an RFC 3339 instant such as `2026-09-30T16:00:00+08:00`.
pub fn parse_instant(s: &str) -> Result<DateTime<FixedOffset>, String> {
    DateTime::parse_from_rfc3339(s.trim())
        .map_err(|e| format!("\"{s}\" is not an RFC 3339 instant such as 2026-09-30T16:00:00+08:00 ({e})"))
}

/// Parses a calendar date such as `2026-10-01`.
pub fn parse_date(s: &str) -> Result<NaiveDate, String> {
    NaiveDate::parse_from_str(s.trim(), "%Y-%m-%d")
        .map_err(|e| format!("\"{s}\" is not a date such as 2026-10-01 ({e})"))
}

/// RFC 3339 in China Standard Time, e.g. `2026-10-13T17:30:00+08:00`.
pub fn format_local(at: DateTime<Utc>) -> String {
    at.with_timezone(&china_offset()).to_rfc3339_opts(SecondsFormat::Secs, false)
}

// ───────────────────────────── days ─────────────────────────────

#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize)]
#[serde(rename_all = "kebab-case")]
pub enum DayKind {
    Workday,
    Weekend,
    Holiday,
    /// A Saturday or Sunday made a working day to bridge a holiday (调休上班).
    MakeupWorkday,
}

impl DayKind {
    pub fn as_word(self) -> &'static str {
        match self {
            DayKind::Workday => "workday",
            DayKind::Weekend => "weekend",
            DayKind::Holiday => "holiday",
            DayKind::MakeupWorkday => "makeup-workday",
        }
    }

    pub fn is_working(self) -> bool {
        matches!(self, DayKind::Workday | DayKind::MakeupWorkday)
    }
}

/// One run of days off as published, with the weekend days worked to make up for it.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Holiday {
    pub name: String,
    pub first_day: NaiveDate,
    pub last_day: NaiveDate,
    pub makeup_workdays: Vec<NaiveDate>,
}

/// The deadline of a limit, and whether a year without a calendar file was used to get it.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Due {
    pub at: DateTime<Utc>,
    pub fallback_used: bool,
}

/// The working periods of a working day (上午, 下午), as offsets from local midnight.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct WorkingHours {
    periods: [Period; 2],
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
struct Period {
    start: TimeDelta,
    end: TimeDelta,
}

impl WorkingHours {
    pub fn morning(&self) -> (NaiveTime, NaiveTime) {
        self.periods[0].as_times()
    }

    pub fn afternoon(&self) -> (NaiveTime, NaiveTime) {
        self.periods[1].as_times()
    }

    /// Working time in one full working day (7 hours for 9:00–12:00 and 13:30–17:30).
    pub fn day_length(&self) -> TimeDelta {
        self.periods.iter().map(|p| p.end - p.start).sum()
    }

    fn closing(&self) -> TimeDelta {
        self.periods[1].end
    }

    /// Working time inside `[from, to]` of one working day.
    fn working_within(&self, from: TimeDelta, to: TimeDelta) -> TimeDelta {
        self.periods.iter().map(|p| (to.min(p.end) - from.max(p.start)).max(TimeDelta::zero())).sum()
    }
}

impl Period {
    fn as_times(&self) -> (NaiveTime, NaiveTime) {
        (NaiveTime::MIN + self.start, NaiveTime::MIN + self.end)
    }
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
struct DayEntry {
    kind: DayKind,
    /// The day's year has a calendar file.
    covered: bool,
}

/// The working calendar: working hours plus every year's published arrangement.
#[derive(Clone, PartialEq, Eq)]
pub struct Calendar {
    hours: WorkingHours,
    years: Vec<i32>,
    holidays: Vec<Holiday>,
    /// Day kinds looked up by day number (`num_days_from_ce`), from `first_day` on; outside
    /// this table every day is a fallback weekday or weekend. A flat table makes a lookup one
    /// index, which keeps recomputing a million clocks cheap.
    first_day: i32,
    days: Vec<DayEntry>,
}

impl fmt::Debug for Calendar {
    // The day table is long and says nothing the holidays do not.
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Calendar")
            .field("hours", &self.hours)
            .field("years", &self.years)
            .field("holidays", &self.holidays.len())
            .finish_non_exhaustive()
    }
}

impl Calendar {
    /// Builds the calendar from `hours.toml` and the year files, each given as (file name,
    /// contents). All problems in all files are reported together.
    pub fn parse(hours: (&str, &str), years: &[(&str, &str)]) -> Result<Calendar, Vec<Diagnostic>> {
        let mut diagnostics = Vec::new();
        let working_hours = parse_hours(hours.0, hours.1, &mut diagnostics);
        let year_files: Vec<YearArrangement> = years
            .iter()
            .enumerate()
            .filter_map(|(index, (file, source))| parse_year(index, file, source, &mut diagnostics))
            .collect();
        check_across_files(&year_files, years, &mut diagnostics);
        match working_hours {
            Some(hours) if diagnostics.is_empty() => Ok(Calendar::build(hours, year_files)),
            _ => Err(diagnostics),
        }
    }

    fn build(hours: WorkingHours, files: Vec<YearArrangement>) -> Calendar {
        let mut years: Vec<i32> = files.iter().map(|f| f.year).collect();
        years.sort_unstable();
        let mut holidays: Vec<Holiday> =
            files.into_iter().flat_map(|f| f.holidays).map(|placed| placed.holiday).collect();
        holidays.sort_by_key(|h| h.first_day);

        let (Some(&first_year), Some(&last_year)) = (years.first(), years.last()) else {
            return Calendar { hours, years, holidays, first_day: 0, days: Vec::new() };
        };
        let year_start = |y: i32| NaiveDate::from_ymd_opt(y, 1, 1).expect("validated year");
        let earliest = holidays
            .iter()
            .flat_map(|h| std::iter::once(h.first_day).chain(h.makeup_workdays.iter().copied()))
            .fold(year_start(first_year), NaiveDate::min);
        let first_day = earliest.num_days_from_ce();
        let end = year_start(last_year + 1).num_days_from_ce();
        let mut days: Vec<DayEntry> = (first_day..end)
            .map(|n| {
                let date = date_from_number(n);
                DayEntry { kind: weekday_kind(n), covered: years.binary_search(&date.year()).is_ok() }
            })
            .collect();
        for holiday in &holidays {
            let (from, to) = (holiday.first_day.num_days_from_ce(), holiday.last_day.num_days_from_ce());
            for n in from..=to {
                days[(n - first_day) as usize].kind = DayKind::Holiday;
            }
            for makeup in &holiday.makeup_workdays {
                days[(makeup.num_days_from_ce() - first_day) as usize].kind = DayKind::MakeupWorkday;
            }
        }
        Calendar { hours, years, holidays, first_day, days }
    }

    pub fn hours(&self) -> &WorkingHours {
        &self.hours
    }

    /// Years that have a calendar file, ascending.
    pub fn years(&self) -> &[i32] {
        &self.years
    }

    /// Every published holiday, by first day.
    pub fn holidays(&self) -> &[Holiday] {
        &self.holidays
    }

    pub fn day_kind(&self, date: NaiveDate) -> DayKind {
        self.entry(date.num_days_from_ce()).kind
    }

    pub fn is_working_day(&self, date: NaiveDate) -> bool {
        self.day_kind(date).is_working()
    }

    /// Whether the date's year has a calendar file; if not, its day kind is a guess.
    pub fn is_covered(&self, date: NaiveDate) -> bool {
        self.entry(date.num_days_from_ce()).covered
    }

    /// The holiday a date belongs to (its day off, or a makeup working day for it).
    pub fn holiday_name(&self, date: NaiveDate) -> Option<&str> {
        self.holidays
            .iter()
            .find(|h| (h.first_day..=h.last_day).contains(&date) || h.makeup_workdays.contains(&date))
            .map(|h| h.name.as_str())
    }

    /// Whether an instant falls inside working hours of a working day.
    pub fn is_working_time(&self, at: DateTime<Utc>) -> bool {
        let (day, time) = to_local(at);
        self.entry(day).kind.is_working() && self.hours.periods.iter().any(|p| p.start <= time && time < p.end)
    }

    /// Whether any local day from `from` to `to` lies in a year without a calendar file.
    pub fn uses_fallback(&self, from: DateTime<Utc>, to: DateTime<Utc>) -> bool {
        let (a, b) = if from <= to { (from, to) } else { (to, from) };
        let first = date_from_number(to_local(a).0).year();
        let last = date_from_number(to_local(b).0).year();
        (first..=last).any(|y| self.years.binary_search(&y).is_err())
    }

    /// The deadline of `duration` started at `start` (see the module docs for the rules).
    pub fn due(&self, start: DateTime<Utc>, duration: SlaDuration) -> Due {
        let at = match duration.unit {
            DurationUnit::WorkingDays => {
                let mut day = to_local(start).0;
                let mut counted = 0;
                while counted < duration.amount {
                    day += 1;
                    if self.entry(day).kind.is_working() {
                        counted += 1;
                    }
                }
                from_local(day, self.hours.closing())
            }
            DurationUnit::WorkingHours => self.add_working_time(start, TimeDelta::hours(i64::from(duration.amount))),
            DurationUnit::Hours | DurationUnit::Days | DurationUnit::Minutes => {
                let length = duration.natural_length().expect("natural unit");
                return Due { at: start + length, fallback_used: false };
            }
        };
        Due { at, fallback_used: self.uses_fallback(start, at) }
    }

    /// The working time a duration stands for when a clock must hold it as time: a working
    /// day is one full day's working hours.
    pub fn nominal_length(&self, duration: SlaDuration) -> TimeDelta {
        match duration.unit {
            DurationUnit::WorkingDays => self.hours.day_length() * duration.amount as i32,
            DurationUnit::WorkingHours => TimeDelta::hours(i64::from(duration.amount)),
            _ => duration.natural_length().expect("natural unit"),
        }
    }

    /// Working time between two instants; negative when `to` is before `from`.
    pub fn working_duration_between(&self, from: DateTime<Utc>, to: DateTime<Utc>) -> TimeDelta {
        if to < from {
            return -self.working_duration_between(to, from);
        }
        let (first_day, first_time) = to_local(from);
        let (last_day, last_time) = to_local(to);
        let within = |day: i32, a: TimeDelta, b: TimeDelta| {
            if self.entry(day).kind.is_working() {
                self.hours.working_within(a, b)
            } else {
                TimeDelta::zero()
            }
        };
        if first_day == last_day {
            return within(first_day, first_time, last_time);
        }
        let full_days = ((first_day + 1)..last_day).filter(|&day| self.entry(day).kind.is_working()).count();
        within(first_day, first_time, TimeDelta::days(1))
            + self.hours.day_length() * full_days as i32
            + within(last_day, TimeDelta::zero(), last_time)
    }

    /// The instant at which `amount` of working time has passed since `start`: the earliest
    /// such instant going forward, or for a negative amount the latest instant that much
    /// working time before `start`. The inverse of [`Calendar::working_duration_between`].
    pub fn add_working_time(&self, start: DateTime<Utc>, amount: TimeDelta) -> DateTime<Utc> {
        if amount.is_zero() {
            return start;
        }
        let day_length = self.hours.day_length();
        let (mut day, mut time) = to_local(start);
        if amount > TimeDelta::zero() {
            let mut left = amount;
            loop {
                if self.entry(day).kind.is_working() {
                    if time.is_zero() && left > day_length {
                        left -= day_length;
                    } else {
                        for period in &self.hours.periods {
                            if time >= period.end {
                                continue;
                            }
                            let from = time.max(period.start);
                            let available = period.end - from;
                            if left <= available {
                                return from_local(day, from + left);
                            }
                            left -= available;
                        }
                    }
                }
                day += 1;
                time = TimeDelta::zero();
            }
        }
        let mut left = -amount;
        let midnight_after = TimeDelta::days(1);
        loop {
            if self.entry(day).kind.is_working() {
                if time == midnight_after && left > day_length {
                    left -= day_length;
                } else {
                    for period in self.hours.periods.iter().rev() {
                        if time <= period.start {
                            continue;
                        }
                        let to = time.min(period.end);
                        let available = to - period.start;
                        if left <= available {
                            return from_local(day, to - left);
                        }
                        left -= available;
                    }
                }
            }
            day -= 1;
            time = midnight_after;
        }
    }

    fn entry(&self, day: i32) -> DayEntry {
        match usize::try_from(day - self.first_day).ok().and_then(|i| self.days.get(i)) {
            Some(entry) => *entry,
            None => DayEntry { kind: weekday_kind(day), covered: false },
        }
    }
}

/// Day number (`num_days_from_ce`) and time since local midnight of an instant.
fn to_local(at: DateTime<Utc>) -> (i32, TimeDelta) {
    let local = at.naive_utc() + TimeDelta::seconds(i64::from(CHINA_OFFSET_SECONDS));
    (local.date().num_days_from_ce(), local.time() - NaiveTime::MIN)
}

fn from_local(day: i32, time: TimeDelta) -> DateTime<Utc> {
    let midnight = date_from_number(day).and_time(NaiveTime::MIN);
    (midnight + time - TimeDelta::seconds(i64::from(CHINA_OFFSET_SECONDS))).and_utc()
}

fn date_from_number(day: i32) -> NaiveDate {
    NaiveDate::from_num_days_from_ce_opt(day).expect("day within chrono's range")
}

/// Plain Monday–Friday rule. Day 1 (0001-01-01) was a Monday.
fn weekday_kind(day: i32) -> DayKind {
    if (day - 1).rem_euclid(7) >= 5 {
        DayKind::Weekend
    } else {
        DayKind::Workday
    }
}

fn is_weekend(date: NaiveDate) -> bool {
    matches!(date.weekday(), Weekday::Sat | Weekday::Sun)
}

// ───────────────────────────── loading the files ─────────────────────────────

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct HoursFile {
    time_zone: Spanned<String>,
    morning: Spanned<PeriodFile>,
    afternoon: Spanned<PeriodFile>,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct PeriodFile {
    start: Spanned<String>,
    end: Spanned<String>,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct YearFile {
    year: Spanned<i64>,
    #[serde(default)]
    holiday: Vec<HolidayFile>,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct HolidayFile {
    name: Spanned<String>,
    from: Spanned<toml::Value>,
    to: Option<Spanned<toml::Value>>,
    #[serde(default)]
    makeup_workdays: Vec<Spanned<toml::Value>>,
}

/// A year file that passed its own checks, with positions kept for the checks across files.
struct YearArrangement {
    file_index: usize,
    year: i32,
    year_span: Range<usize>,
    holidays: Vec<PlacedHoliday>,
}

struct PlacedHoliday {
    holiday: Holiday,
    from_span: Range<usize>,
    /// One per makeup working day, in the same order.
    makeup_spans: Vec<Range<usize>>,
}

fn error_at(file: &str, source: &str, span: &Range<usize>, message: String) -> Diagnostic {
    Diagnostic::at_offset(file, source, span.start, Severity::Error, message)
}

fn parse_hours(file: &str, source: &str, diagnostics: &mut Vec<Diagnostic>) -> Option<WorkingHours> {
    let parsed: HoursFile = match toml::from_str(source) {
        Ok(parsed) => parsed,
        Err(e) => {
            diagnostics.push(Diagnostic::from_toml(file, source, &e));
            return None;
        }
    };
    let before = diagnostics.len();
    let zone = parsed.time_zone.get_ref();
    if zone != "Asia/Shanghai" && zone != "+08:00" {
        diagnostics.push(error_at(
            file,
            source,
            &parsed.time_zone.span(),
            format!("time_zone \"{zone}\" is not supported: write \"Asia/Shanghai\" (UTC+08:00)"),
        ));
    }
    let mut period = |name: &str, p: &Spanned<PeriodFile>| -> Option<Period> {
        let mut time = |value: &Spanned<String>| match NaiveTime::parse_from_str(value.get_ref(), "%H:%M") {
            Ok(t) => Some(t - NaiveTime::MIN),
            Err(_) => {
                diagnostics.push(error_at(
                    file,
                    source,
                    &value.span(),
                    format!("\"{}\" is not a time of day such as \"09:00\"", value.get_ref()),
                ));
                None
            }
        };
        let (start, end) = (time(&p.get_ref().start)?, time(&p.get_ref().end)?);
        if start >= end {
            diagnostics.push(error_at(
                file,
                source,
                &p.get_ref().end.span(),
                format!(
                    "the {name} ends at {} but starts at {}: the end must come after the start",
                    p.get_ref().end.get_ref(),
                    p.get_ref().start.get_ref()
                ),
            ));
            return None;
        }
        Some(Period { start, end })
    };
    let morning = period("morning", &parsed.morning);
    let afternoon = period("afternoon", &parsed.afternoon);
    let (morning, afternoon) = (morning?, afternoon?);
    if afternoon.start < morning.end {
        diagnostics.push(error_at(
            file,
            source,
            &parsed.afternoon.get_ref().start.span(),
            format!(
                "the afternoon starts at {} before the morning ends at {}: the lunch break \
                 must lie between them",
                parsed.afternoon.get_ref().start.get_ref(),
                parsed.morning.get_ref().end.get_ref()
            ),
        ));
    }
    (diagnostics.len() == before).then_some(WorkingHours { periods: [morning, afternoon] })
}

fn date_value(
    file: &str,
    source: &str,
    value: &Spanned<toml::Value>,
    diagnostics: &mut Vec<Diagnostic>,
) -> Option<NaiveDate> {
    let date = match value.get_ref() {
        toml::Value::Datetime(dt) if dt.time.is_none() && dt.offset.is_none() => {
            dt.date.and_then(|d| NaiveDate::from_ymd_opt(i32::from(d.year), u32::from(d.month), u32::from(d.day)))
        }
        toml::Value::String(s) => NaiveDate::parse_from_str(s, "%Y-%m-%d").ok(),
        _ => None,
    };
    if date.is_none() {
        diagnostics.push(error_at(
            file,
            source,
            &value.span(),
            format!("{} is not a date such as 2026-10-01", value.get_ref()),
        ));
    }
    date
}

fn parse_year(
    file_index: usize,
    file: &str,
    source: &str,
    diagnostics: &mut Vec<Diagnostic>,
) -> Option<YearArrangement> {
    let parsed: YearFile = match toml::from_str(source) {
        Ok(parsed) => parsed,
        Err(e) => {
            diagnostics.push(Diagnostic::from_toml(file, source, &e));
            return None;
        }
    };
    let before = diagnostics.len();
    let year_span = parsed.year.span();
    let year = match i32::try_from(*parsed.year.get_ref()) {
        Ok(y) if (1900..=2999).contains(&y) => y,
        _ => {
            diagnostics.push(error_at(
                file,
                source,
                &year_span,
                format!("year {} is not a plausible year", parsed.year.get_ref()),
            ));
            return None;
        }
    };
    let stem = file.rsplit(['/', '\\']).next().unwrap_or(file).trim_end_matches(".toml");
    if let Ok(named) = stem.parse::<i32>() {
        if named != year {
            diagnostics.push(error_at(
                file,
                source,
                &year_span,
                format!("this file is named for {named} but says year = {year}"),
            ));
        }
    }

    let mut holidays = Vec::new();
    for entry in &parsed.holiday {
        let name = entry.name.get_ref().trim();
        if name.is_empty() {
            diagnostics.push(error_at(
                file,
                source,
                &entry.name.span(),
                "a holiday needs a name, such as \"国庆节\"".to_string(),
            ));
        }
        let first = date_value(file, source, &entry.from, diagnostics);
        let last = match &entry.to {
            Some(to) => date_value(file, source, to, diagnostics),
            None => first,
        };
        let makeups: Vec<(NaiveDate, Range<usize>)> = entry
            .makeup_workdays
            .iter()
            .filter_map(|v| date_value(file, source, v, diagnostics).map(|d| (d, v.span())))
            .collect();
        let (Some(first), Some(last)) = (first, last) else { continue };
        let to_span = entry.to.as_ref().map_or(entry.from.span(), |t| t.span());
        if last < first {
            diagnostics.push(error_at(
                file,
                source,
                &to_span,
                format!("{name} ends on {last}, before it starts on {first}"),
            ));
            continue;
        }
        // Only a holiday over New Year's Day may reach back into December (as 2024's 元旦 did,
        // 2023-12-30 to 2024-01-01); anything else outside the year is a typo.
        let new_year = NaiveDate::from_ymd_opt(year, 1, 1).expect("validated year");
        let spans_new_year = first <= new_year && new_year <= last;
        let in_year = |d: NaiveDate| d.year() == year || (spans_new_year && d.year() == year - 1 && d.month() == 12);
        let ends = [Some((first, entry.from.span())), entry.to.as_ref().map(|to| (last, to.span()))];
        for (date, span) in ends.into_iter().flatten() {
            if !in_year(date) {
                diagnostics.push(error_at(file, source, &span, format!("{date} is outside this file's year {year}")));
            }
        }
        if (last - first).num_days() > 31 {
            diagnostics.push(error_at(
                file,
                source,
                &to_span,
                format!("{name} runs {} days, from {first} to {last}: check the dates", (last - first).num_days() + 1),
            ));
        }
        let mut makeup_days = Vec::new();
        let mut makeup_spans = Vec::new();
        for (date, span) in makeups {
            if !in_year(date) {
                diagnostics.push(error_at(file, source, &span, format!("{date} is outside this file's year {year}")));
            } else if !is_weekend(date) {
                diagnostics.push(error_at(
                    file,
                    source,
                    &span,
                    format!(
                        "makeup working day (调休上班) {date} is a {}, already a working day: it must be a Saturday or Sunday",
                        date.format("%A")
                    ),
                ));
            }
            makeup_days.push(date);
            makeup_spans.push(span);
        }
        holidays.push(PlacedHoliday {
            holiday: Holiday { name: name.to_string(), first_day: first, last_day: last, makeup_workdays: makeup_days },
            from_span: entry.from.span(),
            makeup_spans,
        });
    }
    (diagnostics.len() == before).then_some(YearArrangement { file_index, year, year_span, holidays })
}

/// Checks that need every file at once: one file per year, and no date given two meanings
/// (two holidays, or a holiday and a makeup working day), within a file or across files.
fn check_across_files(files: &[YearArrangement], sources: &[(&str, &str)], diagnostics: &mut Vec<Diagnostic>) {
    let mut year_files: BTreeMap<i32, usize> = BTreeMap::new();
    for f in files {
        let (file, source) = sources[f.file_index];
        if let Some(&earlier) = year_files.get(&f.year) {
            let message = format!("year {} is already given by {}", f.year, sources[earlier].0);
            diagnostics.push(error_at(file, source, &f.year_span, message));
        } else {
            year_files.insert(f.year, f.file_index);
        }
    }

    enum Meaning {
        DayOff,
        Makeup,
    }
    // date → (meaning, holiday name, file index)
    let mut claimed: BTreeMap<NaiveDate, (Meaning, &str, usize)> = BTreeMap::new();
    let place = |name: &str, index: usize, here: usize| {
        if index == here {
            name.to_string()
        } else {
            format!("{name} in {}", sources[index].0)
        }
    };
    // Days off first, so that a makeup day clashing with a later holiday is reported at the
    // makeup day whatever the order in the file.
    for f in files {
        let (file, source) = sources[f.file_index];
        for PlacedHoliday { holiday, from_span, .. } in &f.holidays {
            let days = holiday.first_day.iter_days().take_while(|d| *d <= holiday.last_day);
            if let Some((date, (_, other, index))) = days.clone().find_map(|d| claimed.get(&d).map(|c| (d, c))) {
                let message = format!(
                    "{} ({} to {}) overlaps {} on {date}",
                    holiday.name,
                    holiday.first_day,
                    holiday.last_day,
                    place(other, *index, f.file_index)
                );
                diagnostics.push(error_at(file, source, from_span, message));
                continue;
            }
            for date in days {
                claimed.insert(date, (Meaning::DayOff, &holiday.name, f.file_index));
            }
        }
    }
    for f in files {
        let (file, source) = sources[f.file_index];
        for PlacedHoliday { holiday, makeup_spans, .. } in &f.holidays {
            for (date, span) in holiday.makeup_workdays.iter().zip(makeup_spans) {
                let message = match claimed.get(date) {
                    None => {
                        claimed.insert(*date, (Meaning::Makeup, &holiday.name, f.file_index));
                        continue;
                    }
                    Some((Meaning::DayOff, other, index)) => format!(
                        "{date} is both a day off ({}) and a makeup working day (调休上班) for {}",
                        place(other, *index, f.file_index),
                        holiday.name
                    ),
                    Some((Meaning::Makeup, other, index)) => {
                        format!("{date} is already a makeup working day (for {})", place(other, *index, f.file_index))
                    }
                };
                diagnostics.push(error_at(file, source, span, message));
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const HOURS: &str = include_str!("../../dispatch_rules/calendar/hours.toml");
    const YEAR_2025: &str = include_str!("../../dispatch_rules/calendar/2025.toml");
    const YEAR_2026: &str = include_str!("../../dispatch_rules/calendar/2026.toml");

    fn shipped() -> Calendar {
        Calendar::parse(
            ("calendar/hours.toml", HOURS),
            &[("calendar/2025.toml", YEAR_2025), ("calendar/2026.toml", YEAR_2026)],
        )
        .unwrap_or_else(|d| panic!("shipped calendar is invalid: {d:?}"))
    }

    fn at(s: &str) -> DateTime<Utc> {
        parse_instant(s).unwrap().with_timezone(&Utc)
    }

    fn date(s: &str) -> NaiveDate {
        parse_date(s).unwrap()
    }

    fn dur(s: &str) -> SlaDuration {
        s.parse().unwrap()
    }

    fn due(calendar: &Calendar, start: &str, duration: &str) -> String {
        format_local(calendar.due(at(start), dur(duration)).at)
    }

    fn hours(h: i64, m: i64) -> TimeDelta {
        TimeDelta::hours(h) + TimeDelta::minutes(m)
    }

    /// The published arrangement written out independently of the data files, day by day.
    fn assert_year_matches(year: i32, days_off: &[(&str, &str)], makeups: &[&str]) {
        let calendar = shipped();
        let mut day = NaiveDate::from_ymd_opt(year, 1, 1).unwrap();
        let mut holidays_seen = 0;
        while day.year() == year {
            let off = days_off.iter().any(|(from, to)| (date(from)..=date(to)).contains(&day));
            let expected = if off {
                holidays_seen += 1;
                DayKind::Holiday
            } else if makeups.contains(&day.format("%Y-%m-%d").to_string().as_str()) {
                DayKind::MakeupWorkday
            } else if is_weekend(day) {
                DayKind::Weekend
            } else {
                DayKind::Workday
            };
            assert_eq!(calendar.day_kind(day), expected, "{day}");
            assert!(calendar.is_covered(day), "{day}");
            day = day.succ_opt().unwrap();
        }
        assert!(holidays_seen > 0);
    }

    #[test]
    fn every_2025_holiday_and_makeup_day() {
        assert_year_matches(
            2025,
            &[
                ("2025-01-01", "2025-01-01"),
                ("2025-01-28", "2025-02-04"),
                ("2025-04-04", "2025-04-06"),
                ("2025-05-01", "2025-05-05"),
                ("2025-05-31", "2025-06-02"),
                ("2025-10-01", "2025-10-08"),
            ],
            &["2025-01-26", "2025-02-08", "2025-04-27", "2025-09-28", "2025-10-11"],
        );
    }

    #[test]
    fn every_2026_holiday_and_makeup_day() {
        assert_year_matches(
            2026,
            &[
                ("2026-01-01", "2026-01-03"),
                ("2026-02-15", "2026-02-23"),
                ("2026-04-04", "2026-04-06"),
                ("2026-05-01", "2026-05-05"),
                ("2026-06-19", "2026-06-21"),
                ("2026-09-25", "2026-09-27"),
                ("2026-10-01", "2026-10-07"),
            ],
            &["2026-01-04", "2026-02-14", "2026-02-28", "2026-05-09", "2026-09-20", "2026-10-10"],
        );
    }

    #[test]
    fn day_kinds_have_their_cli_words() {
        let calendar = shipped();
        let word = |d: &str| calendar.day_kind(date(d)).as_word();
        assert_eq!(word("2026-10-08"), "workday");
        assert_eq!(word("2026-10-11"), "weekend");
        assert_eq!(word("2026-10-01"), "holiday");
        assert_eq!(word("2026-10-10"), "makeup-workday");
        assert_eq!(serde_json::to_string(&DayKind::MakeupWorkday).unwrap(), "\"makeup-workday\"");
    }

    #[test]
    fn holidays_keep_their_names() {
        let calendar = shipped();
        assert_eq!(calendar.holiday_name(date("2026-02-18")), Some("春节"));
        assert_eq!(calendar.holiday_name(date("2026-02-28")), Some("春节"));
        assert_eq!(calendar.holiday_name(date("2025-10-06")), Some("国庆节、中秋节"));
        assert_eq!(calendar.holiday_name(date("2026-03-02")), None);
        assert_eq!(calendar.holidays().len(), 13);
        assert_eq!(calendar.years(), &[2025, 2026]);
    }

    #[test]
    fn five_working_days_from_the_eve_of_national_day() {
        // Oct 8 Thu, 9 Fri, 10 Sat (makeup), 12 Mon, 13 Tue; the start day does not count.
        let calendar = shipped();
        let result = calendar.due(at("2026-09-30T16:00:00+08:00"), dur("5wd"));
        assert_eq!(format_local(result.at), "2026-10-13T17:30:00+08:00");
        assert!(!result.fallback_used);
    }

    #[test]
    fn working_days_count_from_the_next_day_whatever_the_hour() {
        let calendar = shipped();
        assert_eq!(due(&calendar, "2026-03-10T08:00:00+08:00", "1wd"), "2026-03-11T17:30:00+08:00");
        assert_eq!(due(&calendar, "2026-03-10T23:59:00+08:00", "1wd"), "2026-03-11T17:30:00+08:00");
        // Friday evening and Saturday both wait for Monday.
        assert_eq!(due(&calendar, "2026-03-13T18:00:00+08:00", "1wd"), "2026-03-16T17:30:00+08:00");
        assert_eq!(due(&calendar, "2026-03-14T10:00:00+08:00", "1wd"), "2026-03-16T17:30:00+08:00");
        assert_eq!(due(&calendar, "2026-03-02T10:00:00+08:00", "15wd"), "2026-03-23T17:30:00+08:00");
    }

    #[test]
    fn working_days_across_spring_festival() {
        let calendar = shipped();
        // Feb 14 Sat is a makeup day, Feb 15–23 are off, Feb 24 Tue and 25 Wed work.
        assert_eq!(due(&calendar, "2026-02-13T10:00:00+08:00", "3wd"), "2026-02-25T17:30:00+08:00");
        // Starting on the makeup Saturday itself: that day does not count either.
        assert_eq!(due(&calendar, "2026-02-14T10:00:00+08:00", "1wd"), "2026-02-24T17:30:00+08:00");
        assert_eq!(due(&calendar, "2025-01-27T09:00:00+08:00", "1wd"), "2025-02-05T17:30:00+08:00");
    }

    #[test]
    fn working_days_starting_on_a_makeup_saturday() {
        let calendar = shipped();
        assert_eq!(due(&calendar, "2026-10-10T10:00:00+08:00", "1wd"), "2026-10-12T17:30:00+08:00");
        assert_eq!(due(&calendar, "2026-10-10T10:00:00+08:00", "2wh"), "2026-10-10T12:00:00+08:00");
    }

    #[test]
    fn working_hours_across_lunch() {
        let calendar = shipped();
        assert_eq!(due(&calendar, "2026-03-10T11:00:00+08:00", "2wh"), "2026-03-10T14:30:00+08:00");
        // Starting during lunch counts from 13:30.
        assert_eq!(due(&calendar, "2026-03-10T12:30:00+08:00", "1wh"), "2026-03-10T14:30:00+08:00");
        // A limit used up exactly at noon is due at noon, not at 13:30.
        assert_eq!(due(&calendar, "2026-03-10T10:00:00+08:00", "2wh"), "2026-03-10T12:00:00+08:00");
        // A whole day of working hours ends at closing time the same day.
        assert_eq!(due(&calendar, "2026-03-10T09:00:00+08:00", "7wh"), "2026-03-10T17:30:00+08:00");
    }

    #[test]
    fn working_hours_across_a_weekend() {
        let calendar = shipped();
        assert_eq!(due(&calendar, "2026-03-13T16:30:00+08:00", "2wh"), "2026-03-16T10:00:00+08:00");
        assert_eq!(due(&calendar, "2026-03-13T17:30:00+08:00", "4wh"), "2026-03-16T14:30:00+08:00");
    }

    #[test]
    fn working_hours_across_spring_festival() {
        let calendar = shipped();
        // Friday gives 1 hour, the makeup Saturday morning the other 3.
        assert_eq!(due(&calendar, "2026-02-13T16:30:00+08:00", "4wh"), "2026-02-14T12:00:00+08:00");
        // From the makeup Saturday afternoon the next working time is after the festival.
        assert_eq!(due(&calendar, "2026-02-14T17:00:00+08:00", "1wh"), "2026-02-24T09:30:00+08:00");
    }

    #[test]
    fn working_hours_starting_at_night() {
        let calendar = shipped();
        assert_eq!(due(&calendar, "2026-03-10T22:00:00+08:00", "1wh"), "2026-03-11T10:00:00+08:00");
        assert_eq!(due(&calendar, "2026-03-11T03:00:00+08:00", "1wh"), "2026-03-11T10:00:00+08:00");
        // Late on the eve of a holiday: the next working moment is after the holiday.
        assert_eq!(due(&calendar, "2026-09-30T20:00:00+08:00", "3wh"), "2026-10-08T12:00:00+08:00");
    }

    #[test]
    fn natural_time_ignores_the_calendar() {
        let calendar = shipped();
        assert_eq!(due(&calendar, "2026-10-01T23:30:00+08:00", "2h"), "2026-10-02T01:30:00+08:00");
        assert_eq!(due(&calendar, "2026-10-01T23:50:00+08:00", "30m"), "2026-10-02T00:20:00+08:00");
        assert_eq!(due(&calendar, "2026-02-14T10:00:00+08:00", "3d"), "2026-02-17T10:00:00+08:00");
        assert!(!calendar.due(at("2027-06-01T10:00:00+08:00"), dur("24h")).fallback_used);
    }

    #[test]
    fn years_without_a_file_fall_back_to_weekdays_and_say_so() {
        let calendar = shipped();
        assert!(!calendar.is_covered(date("2027-01-01")));
        assert!(!calendar.is_covered(date("2024-12-31")));
        // 2027-01-01 will surely be a holiday, but nobody has published it yet.
        assert_eq!(calendar.day_kind(date("2027-01-01")), DayKind::Workday);
        assert_eq!(calendar.day_kind(date("2027-01-02")), DayKind::Weekend);

        let inside = calendar.due(at("2026-12-01T10:00:00+08:00"), dur("5wd"));
        assert!(!inside.fallback_used);
        let across = calendar.due(at("2026-12-28T10:00:00+08:00"), dur("5wd"));
        assert_eq!(format_local(across.at), "2027-01-04T17:30:00+08:00");
        assert!(across.fallback_used);
        assert!(calendar.due(at("2026-12-31T17:00:00+08:00"), dur("1wh")).fallback_used);
        assert!(calendar.uses_fallback(at("2026-12-31T12:00:00+08:00"), at("2027-01-04T12:00:00+08:00")));
        assert!(!calendar.uses_fallback(at("2025-01-01T00:00:00+08:00"), at("2026-12-31T23:59:00+08:00")));
    }

    #[test]
    fn adding_next_year_is_adding_one_file() {
        let year_2027 = "year = 2027\n[[holiday]]\nname = \"元旦\"\nfrom = 2027-01-01\n";
        let calendar =
            Calendar::parse(("hours.toml", HOURS), &[("2026.toml", YEAR_2026), ("2027.toml", year_2027)]).unwrap();
        assert!(calendar.is_covered(date("2027-01-01")));
        assert_eq!(calendar.day_kind(date("2027-01-01")), DayKind::Holiday);
        let across = calendar.due(at("2026-12-31T10:00:00+08:00"), dur("1wd"));
        assert_eq!(format_local(across.at), "2027-01-04T17:30:00+08:00");
        assert!(!across.fallback_used);
    }

    #[test]
    fn a_new_year_holiday_may_start_in_december() {
        // As published for 2024: 2023-12-30 to 2024-01-01.
        let year_2024 = "year = 2024\n[[holiday]]\nname = \"元旦\"\nfrom = 2023-12-30\nto = 2024-01-01\n";
        let calendar = Calendar::parse(("hours.toml", HOURS), &[("2024.toml", year_2024)]).unwrap();
        assert_eq!(calendar.day_kind(date("2023-12-30")), DayKind::Holiday);
        assert_eq!(calendar.day_kind(date("2024-01-01")), DayKind::Holiday);
        assert!(!calendar.is_covered(date("2023-12-30")));
    }

    #[test]
    fn working_time_between_instants() {
        let calendar = shipped();
        let between = |a: &str, b: &str| calendar.working_duration_between(at(a), at(b));
        assert_eq!(between("2026-03-10T11:00:00+08:00", "2026-03-10T14:30:00+08:00"), hours(2, 0));
        assert_eq!(between("2026-03-10T12:10:00+08:00", "2026-03-10T13:20:00+08:00"), TimeDelta::zero());
        assert_eq!(between("2026-03-10T00:00:00+08:00", "2026-03-11T00:00:00+08:00"), hours(7, 0));
        assert_eq!(between("2026-03-13T16:30:00+08:00", "2026-03-16T10:00:00+08:00"), hours(2, 0));
        assert_eq!(between("2026-03-16T10:00:00+08:00", "2026-03-13T16:30:00+08:00"), -hours(2, 0));
        // Sep 30 16:00–17:30, then Oct 8, 9, 10, 12 and 13 in full.
        assert_eq!(between("2026-09-30T16:00:00+08:00", "2026-10-13T17:30:00+08:00"), hours(36, 30));
    }

    #[test]
    fn working_time_can_be_counted_backwards() {
        let calendar = shipped();
        let back = |s: &str, h: i64, m: i64| format_local(calendar.add_working_time(at(s), -hours(h, m)));
        assert_eq!(back("2026-03-10T17:30:00+08:00", 2, 0), "2026-03-10T15:30:00+08:00");
        assert_eq!(back("2026-03-10T14:00:00+08:00", 1, 0), "2026-03-10T11:30:00+08:00");
        // The latest instant with one working hour left: Tuesday 16:30, not some time at night.
        assert_eq!(back("2026-03-11T09:00:00+08:00", 1, 0), "2026-03-10T16:30:00+08:00");
        // A full day back from closing time is the same morning's opening.
        assert_eq!(back("2026-10-13T17:30:00+08:00", 7, 0), "2026-10-13T09:00:00+08:00");
        assert_eq!(back("2026-10-08T10:00:00+08:00", 2, 0), "2026-09-30T16:30:00+08:00");
    }

    #[test]
    fn adding_working_time_inverts_measuring_it() {
        let calendar = shipped();
        let amounts = [1, 29, 60, 150, 210, 420, 421, 1000, 2940, 6300];
        // Starts every 7h13m over twenty months hit every time of day and every kind of day.
        let mut start = at("2025-01-01T00:00:00+08:00");
        let end = at("2026-09-01T00:00:00+08:00");
        let mut checked = 0;
        while start < end {
            for minutes in amounts {
                let amount = TimeDelta::minutes(minutes);
                let later = calendar.add_working_time(start, amount);
                assert_eq!(calendar.working_duration_between(start, later), amount, "{start} + {minutes}m");
                let earlier = calendar.add_working_time(start, -amount);
                assert_eq!(calendar.working_duration_between(earlier, start), amount, "{start} - {minutes}m");
                checked += 1;
            }
            start += hours(7, 13);
        }
        assert!(checked > 10_000);
    }

    #[test]
    fn working_days_match_working_time() {
        // The end of N working days is N full days of working time after the next opening.
        let calendar = shipped();
        let mut start = at("2025-01-01T00:00:00+08:00");
        while start < at("2026-12-01T00:00:00+08:00") {
            let deadline = calendar.due(start, dur("5wd")).at;
            let next_day = to_local(start).0 + 1;
            let opening = from_local(next_day, TimeDelta::zero());
            assert_eq!(calendar.working_duration_between(opening, deadline), hours(35, 0), "{start}");
            start += hours(17, 41);
        }
    }

    #[test]
    fn working_time_of_an_instant() {
        let calendar = shipped();
        assert!(calendar.is_working_time(at("2026-03-10T09:00:00+08:00")));
        assert!(!calendar.is_working_time(at("2026-03-10T12:00:00+08:00")));
        assert!(!calendar.is_working_time(at("2026-03-10T17:30:00+08:00")));
        assert!(calendar.is_working_time(at("2026-10-10T10:00:00+08:00")));
        assert!(!calendar.is_working_time(at("2026-10-11T10:00:00+08:00")));
        assert_eq!(calendar.hours().day_length(), hours(7, 0));
        assert_eq!(calendar.hours().afternoon().1, NaiveTime::from_hms_opt(17, 30, 0).unwrap());
        assert_eq!(calendar.nominal_length(dur("2wd")), hours(14, 0));
    }

    #[test]
    fn durations_parse_display_and_label() {
        for (text, label) in
            [("5wd", "5个工作日"), ("4wh", "4个工作小时"), ("2h", "2小时"), ("3d", "3天"), ("30m", "30分钟")]
        {
            let d = dur(text);
            assert_eq!(d.to_string(), text);
            assert_eq!(d.zh_label(), label);
        }
        assert_eq!(dur(" 15wd "), SlaDuration::new(15, DurationUnit::WorkingDays));
        assert!(dur("1wd").is_working() && !dur("24h").is_working());
        assert_eq!(serde_json::to_string(&dur("2wh")).unwrap(), "\"2wh\"");
        assert_eq!(serde_json::from_str::<SlaDuration>("\"30m\"").unwrap(), dur("30m"));
        assert!(serde_json::from_str::<SlaDuration>("\"30s\"").is_err());
    }

    #[test]
    fn bad_durations_say_what_is_wrong() {
        let err = |s: &str| s.parse::<SlaDuration>().unwrap_err().to_string();
        assert!(err("5x").contains("wd (working days)"), "{}", err("5x"));
        assert!(err("5").contains("is not a duration"));
        assert!(err("wd").contains("has no number"));
        assert!(err("0wd").contains("at least 1wd"));
        assert!(err("99999999999wd").contains("too long"));
        assert!(err("2501wd").contains("at most 2500wd"));
        assert!(err("1.5wd").contains("is not a duration"));
        assert!(err("-1h").contains("is not a duration"));
    }

    #[test]
    fn instants_for_the_command_line() {
        let start = parse_instant("2026-09-30T08:00:00Z").unwrap();
        assert_eq!(format_local(start.with_timezone(&Utc)), "2026-09-30T16:00:00+08:00");
        assert!(parse_instant("2026-09-30 16:00").unwrap_err().contains("RFC 3339"));
        assert!(parse_date("2026-13-01").unwrap_err().contains("2026-10-01"));
    }

    // ── validation: each problem at its line ──

    fn errors_in_year(source: &str) -> Vec<Diagnostic> {
        Calendar::parse(("hours.toml", HOURS), &[("2026.toml", source)]).expect_err("should be rejected")
    }

    fn only_error(diagnostics: Vec<Diagnostic>) -> Diagnostic {
        assert_eq!(diagnostics.len(), 1, "{diagnostics:#?}");
        diagnostics.into_iter().next().unwrap()
    }

    fn errors_in_hours(source: &str) -> Vec<Diagnostic> {
        Calendar::parse(("hours.toml", source), &[("2026.toml", YEAR_2026)]).expect_err("should be rejected")
    }

    #[test]
    fn rejects_syntax_errors_at_their_line() {
        let d = only_error(errors_in_year("year = 2026\n[[holiday]]\nname = \"元旦\nfrom = 2026-01-01\n"));
        assert_eq!((d.file.as_str(), d.line), ("2026.toml", 3));
        assert_eq!(d.severity, Severity::Error);
    }

    #[test]
    fn rejects_unknown_keys() {
        let d = only_error(errors_in_year(
            "year = 2026\n[[holiday]]\nname = \"元旦\"\nfrom = 2026-01-01\nmakeup = [2026-01-04]\n",
        ));
        assert_eq!(d.line, 5);
        assert!(d.message.contains("unknown field `makeup`"), "{}", d.message);
    }

    #[test]
    fn rejects_dates_outside_the_year() {
        let d = only_error(errors_in_year(
            "year = 2026\n\n[[holiday]]\nname = \"国庆节\"\nfrom = 2026-12-31\nto = 2027-01-02\n",
        ));
        assert_eq!((d.line, d.column), (6, 6));
        assert!(d.message.contains("outside this file's year 2026"), "{}", d.message);

        let d = only_error(errors_in_year(
            "year = 2026\n[[holiday]]\nname = \"春节\"\nfrom = 2026-02-15\nto = 2026-02-23\nmakeup_workdays = [2025-02-14]\n",
        ));
        assert_eq!(d.line, 6);
        // December is only for a holiday that runs over New Year's Day.
        let d = only_error(errors_in_year("year = 2026\n[[holiday]]\nname = \"x\"\nfrom = 2025-12-30\n"));
        assert_eq!(d.line, 4);
    }

    #[test]
    fn rejects_a_day_that_is_both_holiday_and_makeup_day() {
        let d = only_error(errors_in_year(
            "year = 2026\n[[holiday]]\nname = \"国庆节\"\nfrom = 2026-10-01\nto = 2026-10-07\nmakeup_workdays = [2026-09-20, 2026-10-04]\n",
        ));
        assert_eq!((d.line, d.column), (6, 32));
        assert!(d.message.contains("both a day off"), "{}", d.message);
    }

    #[test]
    fn rejects_a_makeup_day_that_is_not_a_weekend() {
        let d = only_error(errors_in_year(
            "year = 2026\n[[holiday]]\nname = \"劳动节\"\nfrom = 2026-05-01\nto = 2026-05-05\nmakeup_workdays = [2026-05-08]\n",
        ));
        assert_eq!(d.line, 6);
        assert!(d.message.contains("is a Friday"), "{}", d.message);
    }

    #[test]
    fn rejects_overlapping_holidays() {
        let d = only_error(errors_in_year(concat!(
            "year = 2026\n",
            "[[holiday]]\nname = \"中秋节\"\nfrom = 2026-09-25\nto = 2026-10-01\n",
            "[[holiday]]\nname = \"国庆节\"\nfrom = 2026-10-01\nto = 2026-10-07\n",
        )));
        assert_eq!(d.line, 8);
        assert!(d.message.contains("overlaps 中秋节 on 2026-10-01"), "{}", d.message);
    }

    #[test]
    fn rejects_a_range_that_ends_before_it_starts() {
        let d =
            only_error(errors_in_year("year = 2026\n[[holiday]]\nname = \"x\"\nfrom = 2026-10-07\nto = 2026-10-01\n"));
        assert_eq!(d.line, 5);
        assert!(d.message.contains("before it starts"));
    }

    #[test]
    fn rejects_a_year_that_does_not_match_the_file_name() {
        let d = only_error(errors_in_year("# 2027\nyear = 2027\n"));
        assert_eq!(d.line, 2);
        assert!(d.message.contains("named for 2026"));
    }

    #[test]
    fn rejects_two_files_for_one_year_and_clashes_across_files() {
        let errors =
            Calendar::parse(("hours.toml", HOURS), &[("2026.toml", YEAR_2026), ("2026-extra.toml", "year = 2026\n")])
                .unwrap_err();
        let d = only_error(errors);
        assert_eq!((d.file.as_str(), d.line), ("2026-extra.toml", 1));
        assert!(d.message.contains("already given by 2026.toml"));

        let year_2027 = "year = 2027\n[[holiday]]\nname = \"元旦\"\nfrom = 2026-12-31\nto = 2027-01-01\n";
        let clash = "year = 2026\n[[holiday]]\nname = \"跨年\"\nfrom = 2026-12-31\n";
        let d = only_error(
            Calendar::parse(("hours.toml", HOURS), &[("2026.toml", clash), ("2027.toml", year_2027)]).unwrap_err(),
        );
        assert_eq!((d.file.as_str(), d.line), ("2027.toml", 4));
        assert!(d.message.contains("跨年 in 2026.toml"), "{}", d.message);
    }

    #[test]
    fn rejects_values_that_are_not_dates() {
        let errors = errors_in_year("year = 2026\n[[holiday]]\nname = \"x\"\nfrom = \"2026-02-30\"\nto = 5\n");
        assert_eq!(errors.iter().map(|d| d.line).collect::<Vec<_>>(), vec![4, 5]);
    }

    #[test]
    fn reports_every_file_at_once() {
        let errors = Calendar::parse(
            ("hours.toml", "time_zone = \"UTC\"\nmorning = { start = \"09:00\", end = \"12:00\" }\nafternoon = { start = \"13:30\", end = \"17:30\" }\n"),
            &[("2026.toml", "year = 2026\n[[holiday]]\nname = \"x\"\nfrom = 2026-10-01\nmakeup_workdays = [2026-10-09]\n")],
        )
        .unwrap_err();
        let places: Vec<String> = errors.iter().map(|d| format!("{}:{}", d.file, d.line)).collect();
        assert_eq!(places, ["hours.toml:1", "2026.toml:5"]);
    }

    #[test]
    fn rejects_bad_working_hours() {
        let hours_file =
            |m: &str, a: &str| format!("time_zone = \"Asia/Shanghai\"\nmorning = {{ {m} }}\nafternoon = {{ {a} }}\n");
        let d = only_error(errors_in_hours(&hours_file(
            "start = \"09:00\", end = \"12:00\"",
            "start = \"11:00\", end = \"17:30\"",
        )));
        assert_eq!(d.line, 3);
        assert!(d.message.contains("lunch break"), "{}", d.message);

        let d = only_error(errors_in_hours(&hours_file(
            "start = \"12:00\", end = \"09:00\"",
            "start = \"13:30\", end = \"17:30\"",
        )));
        assert_eq!(d.line, 2);
        assert!(d.message.contains("end must come after the start"));

        let d = only_error(errors_in_hours(&hours_file(
            "start = \"9h\", end = \"12:00\"",
            "start = \"13:30\", end = \"17:30\"",
        )));
        assert_eq!((d.line, d.column), (2, 21));
        assert!(d.message.contains("not a time of day"));

        let d = only_error(errors_in_hours(
            "time_zone = \"Asia/Shanghai\"\nmorning = { start = \"09:00\", end = \"12:00\" }\n",
        ));
        assert!(d.message.contains("missing field `afternoon`"), "{}", d.message);

        let d = only_error(errors_in_hours(&format!("{HOURS}\nevening = 1\n")));
        assert!(d.message.contains("unknown field `evening`"), "{}", d.message);
    }

    #[test]
    fn accepts_a_day_without_lunch_break_and_string_dates() {
        let hours_file = "time_zone = \"+08:00\"\nmorning = { start = \"08:30\", end = \"12:00\" }\nafternoon = { start = \"12:00\", end = \"17:00\" }\n";
        let year = "year = 2026\n[[holiday]]\nname = \"国庆节\"\nfrom = \"2026-10-01\"\nto = \"2026-10-07\"\n";
        let calendar = Calendar::parse(("hours.toml", hours_file), &[("2026.toml", year)]).unwrap();
        assert_eq!(calendar.hours().day_length(), hours(8, 30));
        assert_eq!(due(&calendar, "2026-03-10T11:00:00+08:00", "2wh"), "2026-03-10T13:00:00+08:00");
        assert_eq!(calendar.day_kind(date("2026-10-05")), DayKind::Holiday);
    }
}
