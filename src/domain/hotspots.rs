//! Hot spots (未诉先办): when calls about one problem in one street rise well above their own
//! usual level, supervisors are told before the residents have to call again.
//!
//! For each street × category, intake in a trailing window (e.g. the last 24 hours) is
//! compared with that cell's own baseline: its intake over the preceding weeks, scaled to the
//! window's length. A window rises when it has at least [`MIN_COUNT`] tickets and at least
//! [`FACTOR`] times the baseline. Pure: the store counts, this decides.

use super::types::Role;
use chrono::{DateTime, Duration, Utc};
use serde::{Deserialize, Serialize};

/// Trailing windows watched, in hours.
pub const WINDOWS_HOURS: [i64; 2] = [6, 24];
/// The baseline: this many days before the window.
pub const BASELINE_DAYS: i64 = 28;
/// Fewer tickets than this are never a hot spot, whatever the baseline.
pub const MIN_COUNT: i64 = 5;
/// How far above the baseline a window must rise.
pub const FACTOR: f64 = 3.0;

/// Intake of one street × category: in the window, and in the baseline period before it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Cell {
    pub street: String,
    pub category: String,
    pub recent: i64,
    pub before: i64,
}

/// A hot spot to raise.
#[derive(Debug, Clone, PartialEq)]
pub struct Rise {
    pub street: String,
    pub category: String,
    pub window_hours: i64,
    pub count: i64,
    /// Tickets expected in a window of this length, from the baseline.
    pub baseline: f64,
    /// The window it belongs to: alerts are raised once per cell, window length and period.
    pub period: i64,
}

/// A raised hot spot: as stored, as the event log records it (the system event
/// [`RAISED_EVENT`], which is how every instance's live hub learns of it), and as supervisors
/// are shown it.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, utoipa::ToSchema)]
pub struct Alert {
    pub id: i64,
    pub street: String,
    pub category: String,
    pub window_hours: i64,
    /// Tickets in the window.
    pub count: i64,
    /// Tickets usually expected in a window of this length.
    pub baseline: f64,
    pub raised_at: DateTime<Utc>,
    /// The ticket ids behind it, oldest first.
    pub tickets: Vec<i64>,
    /// Their numbers, in the same order.
    pub numbers: Vec<String>,
}

/// The type of the system event a raised alert is logged as.
pub const RAISED_EVENT: &str = "hotspot_raised";

/// Who is told of hot spots, in the list and live: the supervisors (and admins). Never a
/// department: an alert names tickets of other units.
pub const VIEWERS: [Role; 2] = [Role::Supervisor, Role::Admin];

pub fn may_see(role: Role) -> bool {
    VIEWERS.contains(&role)
}

/// Where a window starts, and where its baseline starts.
pub fn window_bounds(now: DateTime<Utc>, window_hours: i64) -> (DateTime<Utc>, DateTime<Utc>) {
    let start = now - Duration::hours(window_hours);
    (start, start - Duration::days(BASELINE_DAYS))
}

/// The expected count in a window of `window_hours` from `before` tickets over the baseline.
pub fn baseline(before: i64, window_hours: i64) -> f64 {
    before as f64 * window_hours as f64 / (BASELINE_DAYS * 24) as f64
}

/// The cells that rose in a window of `window_hours` ending at `now`.
pub fn rises(cells: &[Cell], window_hours: i64, now: DateTime<Utc>) -> Vec<Rise> {
    // One alert per period of the window's length: a rise that lasts is not raised every run.
    let period = now.timestamp() / (window_hours * 3600);
    let mut out: Vec<Rise> = cells
        .iter()
        .filter_map(|c| {
            let expected = baseline(c.before, window_hours);
            (c.recent >= MIN_COUNT && c.recent as f64 >= FACTOR * expected).then(|| Rise {
                street: c.street.clone(),
                category: c.category.clone(),
                window_hours,
                count: c.recent,
                baseline: (expected * 100.0).round() / 100.0,
                period,
            })
        })
        .collect();
    out.sort_by(|a, b| b.count.cmp(&a.count).then(a.street.cmp(&b.street)).then(a.category.cmp(&b.category)));
    out
}

/// The mail telling the supervisors of a hot spot, with the tickets behind it.
pub fn alert_mail(
    rise: &Rise,
    alert_id: i64,
    tickets: &[String],
    district: &super::district::District,
    settings: &super::notices::NoticeSettings,
) -> Vec<super::notices::OutgoingMail> {
    let street = district.street(&rise.street).map_or(rise.street.as_str(), |s| s.name.as_str());
    let category = district.category_path(&rise.category).unwrap_or_else(|| rise.category.clone());
    let subject = format!(
        "【12345】热点预警：{street}「{category}」{}小时内{}件（平常约{:.1}件）",
        rise.window_hours, rise.count, rise.baseline
    );
    let mut body = format!(
        "各位督办同志：\n\n{street}「{category}」近{}小时受理{}件，明显高于平常水平（约{:.1}件），请关注，未诉先办。\n\n相关工单：\n",
        rise.window_hours, rise.count, rise.baseline
    );
    for number in tickets {
        body.push_str(&format!("- {number}\n"));
    }
    body.push_str(&format!("\n详情: {}/wall\n", settings.public_base_url.trim_end_matches('/')));
    body.push_str(&super::notices::footer(district));
    super::notices::to_supervisors(
        settings,
        super::notices::MailKind::Hotspot,
        &format!("hotspot:{alert_id}"),
        &subject,
        &body,
        None,
    )
}

#[cfg(test)]
mod tests {
    use super::*;

    fn cell(recent: i64, before: i64) -> Cell {
        Cell { street: "xinhua".into(), category: "03.02.01".into(), recent, before }
    }

    #[test]
    fn a_cell_rises_against_its_own_baseline() {
        let now = DateTime::parse_from_rfc3339("2026-11-22T10:00:00Z").unwrap().to_utc();
        // 28 days × 2 a day = 56 before: 2 expected in 24 hours; 6 is three times that.
        assert_eq!(baseline(56, 24), 2.0);
        let raised = rises(&[cell(6, 56)], 24, now);
        assert_eq!(raised.len(), 1);
        assert_eq!((raised[0].count, raised[0].baseline), (6, 2.0));
        // 5 is not three times 2.
        assert!(rises(&[cell(5, 56)], 24, now).is_empty());
        // A quiet cell: 5 is enough, 4 never.
        assert_eq!(rises(&[cell(5, 0)], 24, now).len(), 1);
        assert!(rises(&[cell(4, 0)], 24, now).is_empty());
    }

    #[test]
    fn only_supervisors_and_admins_are_told() {
        assert!(may_see(Role::Supervisor) && may_see(Role::Admin));
        assert!(!may_see(Role::Department) && !may_see(Role::Operator) && !may_see(Role::Dispatcher));
    }

    #[test]
    fn one_alert_per_period() {
        let at = |s: &str| DateTime::parse_from_rfc3339(s).unwrap().to_utc();
        let a = rises(&[cell(9, 0)], 6, at("2026-11-22T07:00:00Z"));
        let b = rises(&[cell(9, 0)], 6, at("2026-11-22T11:59:00Z"));
        let c = rises(&[cell(9, 0)], 6, at("2026-11-22T12:00:00Z"));
        assert_eq!(a[0].period, b[0].period);
        assert_ne!(b[0].period, c[0].period);
    }
}
