//! The mail outbox: mail waiting to be sent, sent, or given up on.
//!
//! A mail is queued by [`enqueue_mail`] inside the transaction that writes the event causing
//! it, so it exists exactly when the event does. The drain (`crate::notify`) claims due rows
//! with a lease, sends them with no transaction open (SQLite has one writer connection, and an
//! SMTP conversation can take seconds), then records what happened. A claim is a conditional
//! UPDATE: of two instances racing for a row, one changes it and the other sees no row
//! changed, so a mail is handed to one sender at a time.

use super::{from_millis, get_i64, get_opt_string, get_string, millis, Result, Store};
use crate::domain::notices::{Attachment, OutgoingMail};
use chrono::{DateTime, Utc};
use sqlx::any::AnyRow;
use sqlx::{Any, Row, Transaction};
use std::time::Duration;

/// A mail claimed for sending.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct QueuedMail {
    pub id: i64,
    /// `dispatch_notice`, `urge`, `overdue`, `digest`; kept as the stored word so an older
    /// instance still sends a kind a newer one added.
    pub kind: String,
    pub ticket_id: Option<i64>,
    pub event_seq: Option<i64>,
    pub recipient: String,
    pub subject: String,
    pub body: String,
    pub created_at: DateTime<Utc>,
    /// Tries so far, not counting this one.
    pub attempts: i64,
    /// Tries the server refused with a 4xx reply.
    pub rejections: i64,
    pub last_error: Option<String>,
    pub attachment: Option<Attachment>,
}

/// Any outbox row, as admins and tests see it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct MailRecord {
    pub mail: QueuedMail,
    pub next_attempt_at: DateTime<Utc>,
    pub sent_at: Option<DateTime<Utc>>,
    pub failed_at: Option<DateTime<Utc>>,
    pub locked_until: Option<DateTime<Utc>>,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub struct MailCounts {
    /// Not yet sent and not given up: waiting for its first try or for a retry.
    pub pending: i64,
    pub sent: i64,
    /// Given up on; see [`Store::failed_mail`].
    pub failed: i64,
    /// When the oldest pending mail was queued: an outage shows here first.
    pub oldest_pending_at: Option<DateTime<Utc>>,
}

const COLUMNS: &str = "id, kind, ticket_id, event_seq, recipient, subject, body, created_at, attempts, rejections, \
                       last_error, next_attempt_at, sent_at, failed_at, locked_until, attachment_name, \
                       attachment_type, attachment_body";

/// Still to be sent.
const PENDING: &str = "sent_at IS NULL AND failed_at IS NULL";

/// Queues a mail in the caller's transaction. Returns the new row's id, or `None` when a mail
/// with the same `dedupe_key` is already queued (or was sent): queueing is idempotent.
pub async fn enqueue_mail(
    tx: &mut Transaction<'_, Any>,
    mail: &OutgoingMail,
    now: DateTime<Utc>,
) -> Result<Option<i64>> {
    enqueue_mail_after(tx, mail, now, now).await
}

/// Queues several mails (each with the instant it may go) in one statement; mails whose
/// `dedupe_key` is already queued are skipped.
pub async fn enqueue_mails(
    tx: &mut Transaction<'_, Any>,
    mails: &[(OutgoingMail, DateTime<Utc>)],
    now: DateTime<Utc>,
) -> Result<()> {
    if mails.is_empty() {
        return Ok(());
    }
    let mut sql = super::Sql::new(
        "INSERT INTO mail_outbox (kind, ticket_id, event_seq, dedupe_key, recipient, subject, body, created_at, \
         attempts, rejections, next_attempt_at, attachment_name, attachment_type, attachment_body) VALUES ",
    );
    let rows = mails
        .iter()
        .map(|(mail, send_after)| {
            vec![
                mail.kind.as_str().into(),
                mail.ticket_id.into(),
                mail.event_seq.into(),
                mail.dedupe_key.clone().into(),
                mail.recipient.as_str().into(),
                mail.subject.as_str().into(),
                mail.body.as_str().into(),
                millis(now).into(),
                0i64.into(),
                0i64.into(),
                millis((*send_after).max(now)).into(),
                mail.attachment.as_ref().map(|a| a.filename.clone()).into(),
                mail.attachment.as_ref().map(|a| a.content_type.clone()).into(),
                mail.attachment.as_ref().map(|a| a.content.clone()).into(),
            ]
        })
        .collect();
    sql.rows(rows).push(" ON CONFLICT DO NOTHING");
    sql.query().execute(&mut **tx).await?;
    Ok(())
}

/// Like [`enqueue_mail`], but not sent before `send_after` (a notice that waits for the next
/// working hour).
pub async fn enqueue_mail_after(
    tx: &mut Transaction<'_, Any>,
    mail: &OutgoingMail,
    now: DateTime<Utc>,
    send_after: DateTime<Utc>,
) -> Result<Option<i64>> {
    let row = sqlx::query(
        "INSERT INTO mail_outbox (kind, ticket_id, event_seq, dedupe_key, recipient, subject, body, created_at, \
         attempts, rejections, next_attempt_at, attachment_name, attachment_type, attachment_body) \
         VALUES ($1, $2, $3, $4, $5, $6, $7, $8, 0, 0, $9, $10, $11, $12) ON CONFLICT DO NOTHING RETURNING id",
    )
    .bind(mail.kind.as_str())
    .bind(mail.ticket_id)
    .bind(mail.event_seq)
    .bind(mail.dedupe_key.as_deref())
    .bind(mail.recipient.as_str())
    .bind(mail.subject.as_str())
    .bind(mail.body.as_str())
    .bind(millis(now))
    .bind(millis(send_after.max(now)))
    .bind(mail.attachment.as_ref().map(|a| a.filename.as_str()))
    .bind(mail.attachment.as_ref().map(|a| a.content_type.as_str()))
    .bind(mail.attachment.as_ref().map(|a| a.content.as_str()))
    .fetch_optional(&mut **tx)
    .await?;
    row.map(|r| get_i64(&r, "id")).transpose()
}

fn get_opt_i64(row: &AnyRow, col: &str) -> Result<Option<i64>> {
    Ok(row.try_get::<Option<i64>, _>(col)?)
}

fn decode(row: &AnyRow) -> Result<MailRecord> {
    Ok(MailRecord {
        mail: QueuedMail {
            id: get_i64(row, "id")?,
            kind: get_string(row, "kind")?,
            ticket_id: get_opt_i64(row, "ticket_id")?,
            event_seq: get_opt_i64(row, "event_seq")?,
            recipient: get_string(row, "recipient")?,
            subject: get_string(row, "subject")?,
            body: get_string(row, "body")?,
            created_at: from_millis(get_i64(row, "created_at")?),
            attempts: get_i64(row, "attempts")?,
            rejections: get_i64(row, "rejections")?,
            last_error: get_opt_string(row, "last_error")?,
            attachment: match get_opt_string(row, "attachment_name")? {
                Some(filename) => Some(Attachment {
                    filename,
                    content_type: get_opt_string(row, "attachment_type")?.unwrap_or_else(|| "text/plain".into()),
                    content: get_opt_string(row, "attachment_body")?.unwrap_or_default(),
                }),
                None => None,
            },
        },
        next_attempt_at: from_millis(get_i64(row, "next_attempt_at")?),
        sent_at: get_opt_i64(row, "sent_at")?.map(from_millis),
        failed_at: get_opt_i64(row, "failed_at")?.map(from_millis),
        locked_until: get_opt_i64(row, "locked_until")?.map(from_millis),
    })
}

/// Error texts end up in a column and on an admin's screen; a server can send pages.
fn clip(error: &str) -> String {
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
    /// Queues one mail in a transaction of its own (jobs and tests; ticket changes queue
    /// theirs with [`enqueue_mail`] in the change's transaction).
    pub async fn enqueue_mail_now(&self, mail: &OutgoingMail) -> Result<Option<i64>> {
        let mut tx = self.writer.begin().await?;
        let id = enqueue_mail(&mut tx, mail, self.now()).await?;
        tx.commit().await?;
        Ok(id)
    }

    /// Claims up to `limit` due mails for `lease`: until then no other drain takes them. A
    /// row whose lease ran out (its sender died mid-send) is due again.
    pub async fn claim_mail(&self, limit: i64, lease: Duration, now: DateTime<Utc>) -> Result<Vec<QueuedMail>> {
        let now_ms = millis(now);
        let until = now_ms.saturating_add(i64::try_from(lease.as_millis()).unwrap_or(i64::MAX));
        let candidates = sqlx::query(&format!(
            "SELECT id FROM mail_outbox WHERE {PENDING} AND next_attempt_at <= $1 \
             AND (locked_until IS NULL OR locked_until <= $1) ORDER BY next_attempt_at, id LIMIT $2"
        ))
        .bind(now_ms)
        .bind(limit.max(1))
        .fetch_all(&self.writer)
        .await?;
        let mut claimed = Vec::with_capacity(candidates.len());
        for candidate in &candidates {
            let id = get_i64(candidate, "id")?;
            // The same conditions again: another instance may have claimed or sent the row
            // since the SELECT, and then this changes nothing.
            let row = sqlx::query(&format!(
                "UPDATE mail_outbox SET locked_until = $1 WHERE id = $2 AND {PENDING} AND next_attempt_at <= $3 \
                 AND (locked_until IS NULL OR locked_until <= $3) RETURNING {COLUMNS}"
            ))
            .bind(until)
            .bind(id)
            .bind(now_ms)
            .fetch_optional(&self.writer)
            .await?;
            if let Some(row) = row {
                claimed.push(decode(&row)?.mail);
            }
        }
        Ok(claimed)
    }

    pub async fn mark_mail_sent(&self, id: i64, now: DateTime<Utc>) -> Result<()> {
        sqlx::query(
            "UPDATE mail_outbox SET sent_at = $1, attempts = attempts + 1, locked_until = NULL \
             WHERE id = $2 AND sent_at IS NULL",
        )
        .bind(millis(now))
        .bind(id)
        .execute(&self.writer)
        .await?;
        Ok(())
    }

    /// A try that failed but may work later. `rejected`: the server answered with a 4xx
    /// refusal (these count toward giving up); otherwise it could not be reached.
    pub async fn mark_mail_retry(
        &self,
        id: i64,
        error: &str,
        next_attempt_at: DateTime<Utc>,
        rejected: bool,
    ) -> Result<()> {
        sqlx::query(&format!(
            "UPDATE mail_outbox SET attempts = attempts + 1, rejections = rejections + $1, last_error = $2, \
             next_attempt_at = $3, locked_until = NULL WHERE id = $4 AND {PENDING}"
        ))
        .bind(i64::from(rejected))
        .bind(clip(error))
        .bind(millis(next_attempt_at))
        .bind(id)
        .execute(&self.writer)
        .await?;
        Ok(())
    }

    /// Gives up on a mail (a 5xx reply, a malformed address, too many refusals); it stays in
    /// the outbox for admins to see and, once the cause is fixed, to requeue.
    pub async fn mark_mail_failed(&self, id: i64, error: &str, now: DateTime<Utc>) -> Result<()> {
        sqlx::query(&format!(
            "UPDATE mail_outbox SET attempts = attempts + 1, failed_at = $1, last_error = $2, locked_until = NULL \
             WHERE id = $3 AND {PENDING}"
        ))
        .bind(millis(now))
        .bind(clip(error))
        .bind(id)
        .execute(&self.writer)
        .await?;
        Ok(())
    }

    /// Hands back a claimed mail that was not tried (the server went away first), to be tried
    /// at `next_attempt_at`; its attempts stay as they were.
    pub async fn release_mail(&self, id: i64, next_attempt_at: DateTime<Utc>) -> Result<()> {
        sqlx::query(&format!(
            "UPDATE mail_outbox SET next_attempt_at = $1, locked_until = NULL WHERE id = $2 AND {PENDING}"
        ))
        .bind(millis(next_attempt_at))
        .bind(id)
        .execute(&self.writer)
        .await?;
        Ok(())
    }

    /// Puts a failed mail back in the queue, due now, after an admin fixed the cause (an
    /// address in `departments.toml`, a relay setting). `false` when it was not failed.
    pub async fn requeue_failed_mail(&self, id: i64, now: DateTime<Utc>) -> Result<bool> {
        let done = sqlx::query(
            "UPDATE mail_outbox SET failed_at = NULL, rejections = 0, next_attempt_at = $1, locked_until = NULL \
             WHERE id = $2 AND failed_at IS NOT NULL AND sent_at IS NULL",
        )
        .bind(millis(now))
        .bind(id)
        .execute(&self.writer)
        .await?;
        Ok(done.rows_affected() == 1)
    }

    pub async fn mail_outbox_counts(&self) -> Result<MailCounts> {
        let rows = sqlx::query(
            "SELECT CASE WHEN sent_at IS NOT NULL THEN 'sent' WHEN failed_at IS NOT NULL THEN 'failed' \
             ELSE 'pending' END AS state, COUNT(*) AS n FROM mail_outbox GROUP BY 1",
        )
        .fetch_all(&self.pool)
        .await?;
        let mut counts = MailCounts::default();
        for row in &rows {
            let n = get_i64(row, "n")?;
            match get_string(row, "state")?.as_str() {
                "sent" => counts.sent = n,
                "failed" => counts.failed = n,
                _ => counts.pending = n,
            }
        }
        let oldest = sqlx::query(&format!("SELECT MIN(created_at) AS t FROM mail_outbox WHERE {PENDING}"))
            .fetch_one(&self.pool)
            .await?;
        counts.oldest_pending_at = get_opt_i64(&oldest, "t")?.map(from_millis);
        Ok(counts)
    }

    /// Mail given up on, most recent first, for admins.
    pub async fn failed_mail(&self, limit: i64) -> Result<Vec<MailRecord>> {
        let rows = sqlx::query(&format!(
            "SELECT {COLUMNS} FROM mail_outbox WHERE failed_at IS NOT NULL AND sent_at IS NULL \
             ORDER BY failed_at DESC, id DESC LIMIT $1"
        ))
        .bind(limit.clamp(1, 1000))
        .fetch_all(&self.pool)
        .await?;
        rows.iter().map(decode).collect()
    }

    pub async fn mail_by_id(&self, id: i64) -> Result<Option<MailRecord>> {
        let row = sqlx::query(&format!("SELECT {COLUMNS} FROM mail_outbox WHERE id = $1"))
            .bind(id)
            .fetch_optional(&self.pool)
            .await?;
        row.map(|r| decode(&r)).transpose()
    }

    /// Every mail about one ticket, oldest first (the ticket's history view can show them).
    pub async fn ticket_mail(&self, ticket_id: i64) -> Result<Vec<MailRecord>> {
        let rows = sqlx::query(&format!("SELECT {COLUMNS} FROM mail_outbox WHERE ticket_id = $1 ORDER BY id"))
            .bind(ticket_id)
            .fetch_all(&self.pool)
            .await?;
        rows.iter().map(decode).collect()
    }
}
