//! What the mail outbox and the SMS outbox share: the life of a row, whichever channel it
//! waits for.
//!
//! A row is queued in the transaction of the event that causes it and waits until
//! `next_attempt_at`. A drain claims due rows with a lease (`locked_until`): until it runs out
//! no other drain takes them, and should the sender die the rows are due again then. A try
//! ends the row sent, puts it back with a later `next_attempt_at` (counted in `attempts`,
//! and in `rejections` when the far end refused it for now), or fails it for good; a row
//! claimed and not tried is released with its attempts as they were. A failed row stays for
//! admins to see and to requeue once the cause is fixed.
//!
//! Each statement names its table through an [`Outbox`]; what differs between the channels
//! (their other columns, how a row is decoded, what a text's delivery state starts as) is
//! said there, or stays in `outbox.rs` and `sms.rs`.

use std::time::Duration;

use chrono::{DateTime, Utc};
use sqlx::any::AnyRow;

use super::{from_millis, get_i64, get_opt_i64, get_string, millis, Backend, Result, Sql, Store};

/// One outbox table.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Outbox {
    pub table: &'static str,
    /// What a claim returns: the channel's own columns (`id` and `next_attempt_at` among them).
    pub columns: &'static str,
    /// More to set when a row is sent (`, delivery = …`), or empty.
    pub on_sent: &'static str,
}

/// Still to be sent.
pub const PENDING: &str = "sent_at IS NULL AND failed_at IS NULL";

/// A table's rows by state.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub struct Counts {
    /// Not yet sent and not given up: waiting for its first try or for a retry.
    pub pending: i64,
    pub sent: i64,
    /// Given up on.
    pub failed: i64,
    /// When the oldest pending row was queued: an outage shows here first.
    pub oldest_pending_at: Option<DateTime<Utc>>,
}

/// What became of a row that was not handed over.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Unsent {
    /// A try that failed but may work later, at `at`. `rejected`: the far end refused it for
    /// now (these count toward giving up); otherwise it could not be reached.
    Retry { at: DateTime<Utc>, rejected: bool },
    /// Given up on at `at`. `tried`: a try made now counts as an attempt (a refusal); a row
    /// given up on without one (a text to a number that replied TD) keeps its attempts.
    Failed { at: DateTime<Utc>, tried: bool },
}

/// Error texts end up in a column and on an admin's screen; a server can send pages.
pub fn clip(error: &str) -> String {
    const MAX: usize = 2000;
    if error.len() <= MAX {
        return error.to_string();
    }
    let mut end = MAX;
    while !error.is_char_boundary(end) {
        end -= 1;
    }
    format!("{}…", &error[..end])
}

impl Store {
    /// Claims up to `limit` due rows for `lease`, in one statement, oldest due first. A row
    /// whose lease ran out (its sender died mid-send) is due again.
    pub(crate) async fn claim_due(
        &self,
        outbox: Outbox,
        limit: i64,
        lease: Duration,
        now: DateTime<Utc>,
    ) -> Result<Vec<AnyRow>> {
        let now_ms = millis(now);
        let until = now_ms.saturating_add(i64::try_from(lease.as_millis()).unwrap_or(i64::MAX));
        // The due conditions are repeated outside the sub-select: of two instances racing for
        // a row, the second re-checks them on the row the first changed, and skips it. On
        // PostgreSQL rows another drain is claiming are skipped rather than waited for.
        let skip_locked = match self.backend {
            Backend::Postgres => " FOR UPDATE SKIP LOCKED",
            Backend::Sqlite => "",
        };
        let Outbox { table, columns, .. } = outbox;
        let due = format!("{PENDING} AND next_attempt_at <= $2 AND (locked_until IS NULL OR locked_until <= $2)");
        let rows = sqlx::query(&format!(
            "UPDATE {table} SET locked_until = $1 WHERE id IN (SELECT id FROM {table} WHERE {due} \
             ORDER BY next_attempt_at, id LIMIT $3{skip_locked}) AND {due} RETURNING {columns}"
        ))
        .bind(until)
        .bind(now_ms)
        .bind(limit.max(1))
        .fetch_all(&self.writer)
        .await?;
        // RETURNING promises no order.
        let mut keyed = rows
            .into_iter()
            .map(|row| Ok(((get_i64(&row, "next_attempt_at")?, get_i64(&row, "id")?), row)))
            .collect::<Result<Vec<_>>>()?;
        keyed.sort_by_key(|(key, _)| *key);
        Ok(keyed.into_iter().map(|(_, row)| row).collect())
    }

    /// Rows the far end took, in one statement.
    pub(crate) async fn mark_sent(&self, outbox: Outbox, ids: &[i64], now: DateTime<Utc>) -> Result<()> {
        if ids.is_empty() {
            return Ok(());
        }
        let mut sql = Sql::new(&format!("UPDATE {} SET sent_at = ", outbox.table));
        sql.bind(millis(now))
            .push(&format!(
                ", attempts = attempts + 1, locked_until = NULL{} WHERE sent_at IS NULL AND id IN ",
                outbox.on_sent
            ))
            .bind_list(ids);
        sql.query().execute(&self.writer).await?;
        Ok(())
    }

    /// Records a row that was not handed over, with why (`error`).
    pub(crate) async fn mark_unsent(&self, outbox: Outbox, id: i64, error: &str, how: Unsent) -> Result<()> {
        let (column, at, tried, rejected) = match how {
            Unsent::Retry { at, rejected } => ("next_attempt_at", at, true, rejected),
            Unsent::Failed { at, tried } => ("failed_at", at, tried, false),
        };
        sqlx::query(&format!(
            "UPDATE {} SET attempts = attempts + $1, rejections = rejections + $2, last_error = $3, {column} = $4, \
             locked_until = NULL WHERE id = $5 AND {PENDING}",
            outbox.table
        ))
        .bind(i64::from(tried))
        .bind(i64::from(rejected))
        .bind(clip(error))
        .bind(millis(at))
        .bind(id)
        .execute(&self.writer)
        .await?;
        Ok(())
    }

    /// Hands back claimed rows that were not tried, due at `next_attempt_at` (the far end had
    /// just proved unreachable, or a text must wait for the morning); attempts stay as they were.
    pub(crate) async fn release(&self, outbox: Outbox, ids: &[i64], next_attempt_at: DateTime<Utc>) -> Result<()> {
        if ids.is_empty() {
            return Ok(());
        }
        let mut sql = Sql::new(&format!("UPDATE {} SET next_attempt_at = ", outbox.table));
        sql.bind(millis(next_attempt_at))
            .push(&format!(", locked_until = NULL WHERE {PENDING} AND id IN "))
            .bind_list(ids);
        sql.query().execute(&self.writer).await?;
        Ok(())
    }

    /// Puts a failed row back in the queue, due now, after an admin fixed the cause. `false`
    /// when it was not failed.
    pub(crate) async fn requeue_failed(&self, outbox: Outbox, id: i64, now: DateTime<Utc>) -> Result<bool> {
        let done = sqlx::query(&format!(
            "UPDATE {} SET failed_at = NULL, rejections = 0, next_attempt_at = $1, locked_until = NULL \
             WHERE id = $2 AND failed_at IS NOT NULL AND sent_at IS NULL",
            outbox.table
        ))
        .bind(millis(now))
        .bind(id)
        .execute(&self.writer)
        .await?;
        Ok(done.rows_affected() == 1)
    }

    pub(crate) async fn outbox_counts(&self, outbox: Outbox) -> Result<Counts> {
        let table = outbox.table;
        let rows = sqlx::query(&format!(
            "SELECT CASE WHEN sent_at IS NOT NULL THEN 'sent' WHEN failed_at IS NOT NULL THEN 'failed' \
             ELSE 'pending' END AS state, COUNT(*) AS n FROM {table} GROUP BY 1"
        ))
        .fetch_all(&self.pool)
        .await?;
        let mut counts = Counts::default();
        for row in &rows {
            let n = get_i64(row, "n")?;
            match get_string(row, "state")?.as_str() {
                "sent" => counts.sent = n,
                "failed" => counts.failed = n,
                _ => counts.pending = n,
            }
        }
        let oldest = sqlx::query(&format!("SELECT MIN(created_at) AS t FROM {table} WHERE {PENDING}"))
            .fetch_one(&self.pool)
            .await?;
        counts.oldest_pending_at = get_opt_i64(&oldest, "t")?.map(from_millis);
        Ok(counts)
    }

    /// Rows given up on, most recent first, for admins.
    pub(crate) async fn failed_rows(&self, outbox: Outbox, limit: i64) -> Result<Vec<AnyRow>> {
        let filter = "failed_at IS NOT NULL AND sent_at IS NULL ORDER BY failed_at DESC, id DESC LIMIT $1";
        self.select_rows(outbox, filter, limit.clamp(1, 1000)).await
    }

    /// Rows still to be sent (a first try or a retry), the next due first, for admins.
    pub(crate) async fn pending_rows(&self, outbox: Outbox, limit: i64) -> Result<Vec<AnyRow>> {
        let filter = format!("{PENDING} ORDER BY next_attempt_at, id LIMIT $1");
        self.select_rows(outbox, &filter, limit.clamp(1, 1000)).await
    }

    pub(crate) async fn row_by_id(&self, outbox: Outbox, id: i64) -> Result<Option<AnyRow>> {
        Ok(self.select_rows(outbox, "id = $1", id).await?.into_iter().next())
    }

    /// Every row about one ticket, oldest first.
    pub(crate) async fn ticket_rows(&self, outbox: Outbox, ticket_id: i64) -> Result<Vec<AnyRow>> {
        self.select_rows(outbox, "ticket_id = $1 ORDER BY id", ticket_id).await
    }

    /// `filter` (and its order) with one number bound to `$1`.
    async fn select_rows(&self, outbox: Outbox, filter: &str, value: i64) -> Result<Vec<AnyRow>> {
        let Outbox { table, columns, .. } = outbox;
        let query = format!("SELECT {columns} FROM {table} WHERE {filter}");
        Ok(sqlx::query(&query).bind(value).fetch_all(&self.pool).await?)
    }
}
