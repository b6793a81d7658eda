//! What scheduled jobs read and how a run is claimed so that it happens once.

use super::tickets::CLOCK_RUNNING;
use super::{get_i64, get_string, millis, Result, Sql, Store};
use crate::domain::ticket::Ticket;
use chrono::{DateTime, Utc};

/// Per lead department: its open tickets, how many are past their reply deadline and how
/// many are on the late list.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct DepartmentLoad {
    pub department: String,
    pub open: i64,
    pub overdue: i64,
    pub late_listed: i64,
}

impl Store {
    /// Claims the run of `job` scheduled for `at`; `false` if another instance already did.
    pub async fn claim_job_run(&self, job: &str, at: DateTime<Utc>) -> Result<bool> {
        let done = sqlx::query(
            "INSERT INTO job_runs (job, scheduled_for, claimed_at) VALUES ($1, $2, $3) ON CONFLICT DO NOTHING",
        )
        .bind(job)
        .bind(millis(at))
        .bind(millis(self.now()))
        .execute(&self.writer)
        .await?;
        Ok(done.rows_affected() == 1)
    }

    pub async fn finish_job_run(&self, job: &str, at: DateTime<Utc>, outcome: &str) -> Result<()> {
        sqlx::query("UPDATE job_runs SET finished_at = $1, outcome = $2 WHERE job = $3 AND scheduled_for = $4")
            .bind(millis(self.now()))
            .bind(outcome)
            .bind(job)
            .bind(millis(at))
            .execute(&self.writer)
            .await?;
        Ok(())
    }

    /// Runs of a job, newest first: (scheduled for, outcome).
    pub async fn job_runs(&self, job: &str) -> Result<Vec<(DateTime<Utc>, Option<String>)>> {
        let rows =
            sqlx::query("SELECT scheduled_for, outcome FROM job_runs WHERE job = $1 ORDER BY scheduled_for DESC")
                .bind(job)
                .fetch_all(&self.pool)
                .await?;
        rows.iter()
            .map(|r| Ok((super::from_millis(get_i64(r, "scheduled_for")?), super::get_opt_string(r, "outcome")?)))
            .collect()
    }

    /// Tickets with a department whose reply deadline falls before `cutoff`, soonest first.
    pub async fn tickets_due_before(&self, cutoff: DateTime<Utc>) -> Result<Vec<Ticket>> {
        let running: Vec<&str> = CLOCK_RUNNING.iter().map(|s| s.as_str()).collect();
        let mut sql = Sql::new("SELECT body FROM tickets WHERE reply_due_at < ");
        sql.bind(millis(cutoff)).push(" AND status IN ").bind_list(&running).push(" ORDER BY reply_due_at");
        let rows = sql.query().fetch_all(&self.pool).await?;
        rows.iter().map(super::tickets::decode_body).collect()
    }

    /// Open work per lead department at `now`.
    pub async fn department_load(&self, now: DateTime<Utc>) -> Result<Vec<DepartmentLoad>> {
        let running: Vec<&str> = CLOCK_RUNNING.iter().map(|s| s.as_str()).collect();
        let mut sql = Sql::new(
            "SELECT lead, COUNT(*) AS open, \
             CAST(SUM(CASE WHEN reply_due_at < ",
        );
        sql.bind(millis(now))
            .push(
                " THEN 1 ELSE 0 END) AS BIGINT) AS overdue, \
                 CAST(SUM(late_listed) AS BIGINT) AS late_listed \
                 FROM tickets WHERE lead IS NOT NULL AND status IN ",
            )
            .bind_list(&running)
            .push(" GROUP BY lead ORDER BY lead");
        let rows = sql.query().fetch_all(&self.pool).await?;
        rows.iter()
            .map(|r| {
                Ok(DepartmentLoad {
                    department: get_string(r, "lead")?,
                    open: get_i64(r, "open")?,
                    overdue: get_i64(r, "overdue")?,
                    late_listed: get_i64(r, "late_listed")?,
                })
            })
            .collect()
    }
}

impl Store {
    /// Benchmark support: `n` timer rows for tickets that do not exist (negative ids), one a
    /// second from `fire_at` on, generated inside the database.
    pub async fn bulk_load_bench_timers(&self, n: i64, fire_at: i64) -> Result<()> {
        sqlx::query(
            "WITH RECURSIVE seq(i) AS (SELECT 1 UNION ALL SELECT i + 1 FROM seq WHERE i < $1) \
             INSERT INTO timers (ticket_id, kind, stage, department, fire_at) \
             SELECT -i, 'overdue', 'reply', 'cgw', $2 + i * 1000 FROM seq",
        )
        .bind(n)
        .bind(fire_at)
        .execute(&self.writer)
        .await?;
        Ok(())
    }

    /// Benchmarks only: appends ready-made ticket histories to the event log (no ticket rows,
    /// timers or mail) in one transaction, and moves the event counter past them.
    pub async fn bulk_load_bench_events(&self, events: &[crate::domain::event::Event]) -> Result<()> {
        let mut tx = self.writer.begin().await?;
        super::tickets::lock_sequence(&mut tx).await?;
        super::tickets::insert_events(&mut tx, events).await?;
        if let Some(last) = events.iter().map(|e| e.seq).max() {
            sqlx::query("UPDATE counters SET value = $1 WHERE name = 'event_seq' AND value < $1")
                .bind(last)
                .execute(&mut *tx)
                .await?;
        }
        tx.commit().await?;
        Ok(())
    }
}
