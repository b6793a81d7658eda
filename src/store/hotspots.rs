//! Hot spots: intake counted per street × category, and the alerts raised.

use super::{from_millis, get_i64, get_string, millis, Result, Store};
use crate::domain::hotspots::{Cell, Rise, MIN_COUNT};
use chrono::{DateTime, Utc};

/// A raised hot spot as stored.
#[derive(Debug, Clone, PartialEq)]
pub struct Alert {
    pub id: i64,
    pub street: String,
    pub category: String,
    pub window_hours: i64,
    pub count: i64,
    pub baseline: f64,
    pub raised_at: DateTime<Utc>,
    pub tickets: Vec<i64>,
}

impl Store {
    /// Intake per street × category since `window_start` and in the baseline before it, for
    /// the cells with at least `MIN_COUNT` recent tickets (the others cannot rise).
    pub async fn intake_cells(
        &self,
        baseline_start: DateTime<Utc>,
        window_start: DateTime<Utc>,
        now: DateTime<Utc>,
    ) -> Result<Vec<Cell>> {
        let rows = sqlx::query(
            "SELECT street, category, CAST(SUM(CASE WHEN created_at >= $1 THEN 1 ELSE 0 END) AS BIGINT) AS recent, \
             CAST(SUM(CASE WHEN created_at < $1 THEN 1 ELSE 0 END) AS BIGINT) AS before_window \
             FROM tickets WHERE created_at >= $2 AND created_at < $3 AND street IS NOT NULL \
             GROUP BY street, category HAVING SUM(CASE WHEN created_at >= $1 THEN 1 ELSE 0 END) >= $4",
        )
        .bind(millis(window_start))
        .bind(millis(baseline_start))
        .bind(millis(now))
        .bind(MIN_COUNT)
        .fetch_all(&self.pool)
        .await?;
        rows.iter()
            .map(|r| {
                Ok(Cell {
                    street: get_string(r, "street")?,
                    category: get_string(r, "category")?,
                    recent: get_i64(r, "recent")?,
                    before: get_i64(r, "before_window")?,
                })
            })
            .collect()
    }

    /// The tickets of one cell since `from`, oldest first: (id, number).
    pub async fn cell_tickets(&self, street: &str, category: &str, from: DateTime<Utc>) -> Result<Vec<(i64, String)>> {
        let rows = sqlx::query(
            "SELECT id, number FROM tickets WHERE street = $1 AND category = $2 AND created_at >= $3 ORDER BY id",
        )
        .bind(street)
        .bind(category)
        .bind(millis(from))
        .fetch_all(&self.pool)
        .await?;
        rows.iter().map(|r| Ok((get_i64(r, "id")?, get_string(r, "number")?))).collect()
    }

    /// Records a rise; `None` when this cell, window and period was already raised.
    pub async fn raise_hotspot(&self, rise: &Rise, tickets: &[i64], now: DateTime<Utc>) -> Result<Option<i64>> {
        let row = sqlx::query(
            "INSERT INTO hotspot_alerts (street, category, window_hours, period, count, baseline_centi, raised_at, \
             tickets) VALUES ($1, $2, $3, $4, $5, $6, $7, $8) ON CONFLICT DO NOTHING RETURNING id",
        )
        .bind(&rise.street)
        .bind(&rise.category)
        .bind(rise.window_hours)
        .bind(rise.period)
        .bind(rise.count)
        .bind((rise.baseline * 100.0).round() as i64)
        .bind(millis(now))
        .bind(serde_json::to_string(tickets).unwrap_or_else(|_| "[]".into()))
        .fetch_optional(&self.writer)
        .await?;
        row.map(|r| get_i64(&r, "id")).transpose()
    }

    /// Alerts raised since `since`, newest first.
    pub async fn hotspot_alerts(&self, since: DateTime<Utc>, limit: i64) -> Result<Vec<Alert>> {
        let rows = sqlx::query(
            "SELECT id, street, category, window_hours, count, baseline_centi, raised_at, tickets FROM hotspot_alerts \
             WHERE raised_at >= $1 ORDER BY raised_at DESC, id DESC LIMIT $2",
        )
        .bind(millis(since))
        .bind(limit)
        .fetch_all(&self.pool)
        .await?;
        rows.iter()
            .map(|r| {
                Ok(Alert {
                    id: get_i64(r, "id")?,
                    street: get_string(r, "street")?,
                    category: get_string(r, "category")?,
                    window_hours: get_i64(r, "window_hours")?,
                    count: get_i64(r, "count")?,
                    baseline: get_i64(r, "baseline_centi")? as f64 / 100.0,
                    raised_at: from_millis(get_i64(r, "raised_at")?),
                    tickets: serde_json::from_str(&get_string(r, "tickets")?)
                        .map_err(|e| super::StoreError::Corrupt(format!("hotspot tickets: {e}")))?,
                })
            })
            .collect()
    }
}
