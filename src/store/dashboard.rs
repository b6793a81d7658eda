//! The aggregates the live boards show: computed in the database, so a board stays live at
//! any number of tickets (the clients receive counts, not every ticket).

use super::tickets::CLOCK_RUNNING;
use super::{get_i64, get_opt_string, get_string, millis, Result, Sql, Store};
use crate::domain::ticket::Ticket;
use chrono::{DateTime, Utc};

/// Statuses of tickets still somewhere in their life.
pub const OPEN: [&str; 6] = ["received", "dispatched", "accepted", "return_requested", "suspended", "replied"];

impl Store {
    /// (status, count) over every ticket.
    pub async fn count_by_status(&self) -> Result<Vec<(String, i64)>> {
        let rows = sqlx::query("SELECT status, COUNT(*) AS n FROM tickets GROUP BY status ORDER BY status")
            .fetch_all(&self.pool)
            .await?;
        rows.iter().map(|r| Ok((get_string(r, "status")?, get_i64(r, "n")?))).collect()
    }

    /// (street, open tickets) for tickets with a street.
    pub async fn open_by_street(&self) -> Result<Vec<(String, i64)>> {
        let mut sql = Sql::new("SELECT street, COUNT(*) AS n FROM tickets WHERE street IS NOT NULL AND status IN ");
        sql.bind_list(&OPEN).push(" GROUP BY street ORDER BY street");
        let rows = sql.query().fetch_all(&self.pool).await?;
        rows.iter().map(|r| Ok((get_string(r, "street")?, get_i64(r, "n")?))).collect()
    }

    /// Tickets created per hour since `start` (hour 0 = the hour starting at `start`).
    pub async fn intake_by_hour(&self, start: DateTime<Utc>) -> Result<Vec<(i64, i64)>> {
        let rows = sqlx::query(
            "SELECT CAST((created_at - $1) / 3600000 AS BIGINT) AS hour, COUNT(*) AS n FROM tickets \
             WHERE created_at >= $1 GROUP BY CAST((created_at - $1) / 3600000 AS BIGINT)",
        )
        .bind(millis(start))
        .fetch_all(&self.pool)
        .await?;
        rows.iter().map(|r| Ok((get_i64(r, "hour")?, get_i64(r, "n")?))).collect()
    }

    /// Per lead department, tickets created since `since` and how many of them were returned.
    pub async fn returns_by_department(&self, since: DateTime<Utc>) -> Result<Vec<(String, i64, i64)>> {
        let rows = sqlx::query(
            "SELECT lead, COUNT(*) AS n, CAST(SUM(CASE WHEN returns > 0 THEN 1 ELSE 0 END) AS BIGINT) AS returned \
             FROM tickets WHERE lead IS NOT NULL AND created_at >= $1 GROUP BY lead ORDER BY lead",
        )
        .bind(millis(since))
        .fetch_all(&self.pool)
        .await?;
        rows.iter().map(|r| Ok((get_string(r, "lead")?, get_i64(r, "n")?, get_i64(r, "returned")?))).collect()
    }

    /// Tickets with a decision pending at the centre, oldest first.
    pub async fn awaiting_decision(&self, limit: i64) -> Result<Vec<(String, Ticket)>> {
        let rows =
            sqlx::query("SELECT awaiting, body FROM tickets WHERE awaiting IS NOT NULL ORDER BY updated_at LIMIT $1")
                .bind(limit)
                .fetch_all(&self.pool)
                .await?;
        rows.iter()
            .map(|r| {
                let what = get_opt_string(r, "awaiting")?.unwrap_or_default();
                Ok((what, super::tickets::decode_body(r)?))
            })
            .collect()
    }

    /// Open tickets assigned to any of `units`, soonest reply deadline first.
    pub async fn department_queue(&self, units: &[String], limit: i64) -> Result<Vec<Ticket>> {
        let mut sql = Sql::new("SELECT t.body FROM tickets t WHERE t.status IN ");
        sql.bind_list(&CLOCK_RUNNING.iter().map(|s| s.as_str()).chain(["suspended"]).collect::<Vec<_>>())
            .push(" AND EXISTS (SELECT 1 FROM ticket_units u WHERE u.ticket_id = t.id AND u.department IN ")
            .bind_list(units)
            .push(") ORDER BY t.reply_due_at, t.id LIMIT ")
            .bind(limit);
        decode_bodies(sql.query().fetch_all(&self.pool).await?)
    }

    /// Tickets in one status, oldest first (the manual-dispatch and callback queues).
    pub async fn tickets_in_status(&self, status: &str, limit: i64) -> Result<Vec<Ticket>> {
        let rows = sqlx::query("SELECT body FROM tickets WHERE status = $1 ORDER BY id LIMIT $2")
            .bind(status)
            .bind(limit)
            .fetch_all(&self.pool)
            .await?;
        decode_bodies(rows)
    }
}

fn decode_bodies(rows: Vec<sqlx::any::AnyRow>) -> Result<Vec<Ticket>> {
    rows.iter().map(super::tickets::decode_body).collect()
}
