//! What `/metrics` reads from the database at each scrape, and the pools' use.

use super::tickets::CLOCK_RUNNING;
use super::{get_i64, get_string, millis, Backend, Result, Store};
use chrono::{DateTime, Utc};
use sqlx::Row;

#[derive(Debug, Clone, Default, PartialEq)]
pub struct WorkGauges {
    pub tickets_by_status: Vec<(String, i64)>,
    pub open_clocks: i64,
    pub timers: i64,
    pub timer_lag_seconds: f64,
    pub mail_pending: i64,
    pub mail_oldest_seconds: f64,
    pub mail_failed: i64,
    /// Ticket changes waiting to reach the search index.
    pub search_pending: i64,
}

impl Store {
    pub async fn work_gauges(&self, now: DateTime<Utc>) -> Result<WorkGauges> {
        let rows = sqlx::query("SELECT status, COUNT(*) AS n FROM tickets GROUP BY status ORDER BY status")
            .fetch_all(&self.pool)
            .await?;
        let tickets_by_status =
            rows.iter().map(|r| Ok((get_string(r, "status")?, get_i64(r, "n")?))).collect::<Result<Vec<_>>>()?;
        let running: Vec<&str> = CLOCK_RUNNING.iter().map(|s| s.as_str()).collect();
        let open_clocks = tickets_by_status.iter().filter(|(s, _)| running.contains(&s.as_str())).map(|(_, n)| n).sum();
        let row = sqlx::query("SELECT COUNT(*) AS n, MIN(fire_at) AS first FROM timers").fetch_one(&self.pool).await?;
        let timers = get_i64(&row, "n")?;
        let lag_ms = row.try_get::<Option<i64>, _>("first")?.map_or(0, |first| (millis(now) - first).max(0));
        let mail = self.mail_outbox_counts().await?;
        let mail_oldest_ms = mail.oldest_pending_at.map_or(0, |at| (millis(now) - millis(at)).max(0));
        Ok(WorkGauges {
            tickets_by_status,
            open_clocks,
            timers,
            timer_lag_seconds: lag_ms as f64 / 1000.0,
            mail_pending: mail.pending,
            mail_oldest_seconds: mail_oldest_ms as f64 / 1000.0,
            mail_failed: mail.failed,
            search_pending: self.search_backlog().await?,
        })
    }

    /// (pool, open connections, idle connections): `writer` and `reader` on SQLite, `main`
    /// on PostgreSQL (one pool for both).
    pub fn pool_stats(&self) -> Vec<(&'static str, u32, usize)> {
        match self.backend {
            Backend::Sqlite => vec![
                ("writer", self.writer.size(), self.writer.num_idle()),
                ("reader", self.pool.size(), self.pool.num_idle()),
            ],
            Backend::Postgres => vec![("main", self.pool.size(), self.pool.num_idle())],
        }
    }

    /// The bound of a pool named by [`Store::pool_stats`].
    pub fn pool_bound(&self, pool: &str) -> u32 {
        match pool {
            "writer" => self.writer.options().get_max_connections(),
            _ => self.pool.options().get_max_connections(),
        }
    }
}
