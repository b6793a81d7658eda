//! The mail outbox: mail waiting to be sent, sent, or given up on.
//!
//! A mail is queued by [`enqueue_mail`] inside the transaction that writes the event causing
//! it, so it exists exactly when the event does. The drain (`crate::notify`) claims due rows
//! with a lease, sends them with no transaction open (SQLite has one writer connection, and an
//! SMTP conversation can take seconds), then records what happened. How a row is claimed,
//! retried, failed and counted is shared with the SMS outbox (`store::queue`); what is the
//! mail's own is here: its columns, queueing, and the lists admins and tests read.

use super::queue::{Counts, Outbox};
use super::{from_millis, get_i64, get_opt_i64, get_opt_string, get_string, millis, Result, Store};
use crate::domain::notices::{Attachment, OutgoingMail};
use chrono::{DateTime, Utc};
use sqlx::any::AnyRow;
use sqlx::{Any, Transaction};
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

/// The mail outbox by state; see [`Store::failed_mail`] for the failed ones.
pub type MailCounts = Counts;

const COLUMNS: &str = "id, kind, ticket_id, event_seq, recipient, subject, body, created_at, attempts, rejections, \
                       last_error, next_attempt_at, sent_at, failed_at, locked_until, attachment_name, \
                       attachment_type, attachment_body";

/// The mail outbox, for `store::queue`.
pub const MAIL: Outbox = Outbox { table: "mail_outbox", columns: COLUMNS, on_sent: "" };

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

pub(crate) fn decode(row: &AnyRow) -> Result<MailRecord> {
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
        let rows = self.claim_due(MAIL, limit, lease, now).await?;
        rows.iter().map(|row| Ok(decode(row)?.mail)).collect()
    }

    /// Puts a failed mail back in the queue, due now, after an admin fixed the cause (an
    /// address in `departments.toml`, a relay setting). `false` when it was not failed.
    pub async fn requeue_failed_mail(&self, id: i64, now: DateTime<Utc>) -> Result<bool> {
        self.requeue_failed(MAIL, id, now).await
    }

    pub async fn mail_outbox_counts(&self) -> Result<MailCounts> {
        self.outbox_counts(MAIL).await
    }

    /// Mail given up on, most recent first, for admins.
    pub async fn failed_mail(&self, limit: i64) -> Result<Vec<MailRecord>> {
        self.failed_rows(MAIL, limit).await?.iter().map(decode).collect()
    }

    /// Mail still to be sent, the next due first, for admins.
    pub async fn pending_mail(&self, limit: i64) -> Result<Vec<MailRecord>> {
        self.pending_rows(MAIL, limit).await?.iter().map(decode).collect()
    }

    pub async fn mail_by_id(&self, id: i64) -> Result<Option<MailRecord>> {
        self.row_by_id(MAIL, id).await?.map(|r| decode(&r)).transpose()
    }

    /// Every mail about one ticket, oldest first (the ticket's history view can show them).
    pub async fn ticket_mail(&self, ticket_id: i64) -> Result<Vec<MailRecord>> {
        self.ticket_rows(MAIL, ticket_id).await?.iter().map(decode).collect()
    }
}
