//! The SMS outbox (texts waiting, sent, given up on, with their delivery reports), the
//! numbers that replied TD, and the texts residents sent back.
//!
//! Like the mail outbox: a text is queued by [`enqueue_texts`] in the transaction that writes
//! the event causing it; the drain (`crate::notify::sms`) claims due rows with a lease (a
//! conditional UPDATE, so two instances never hand one row to the gateway together), sends with
//! no transaction open, and records the outcome.

use super::{from_millis, get_i64, get_opt_string, get_string, millis, Result, Store};
use crate::domain::sms::{segments, OutgoingText, SmsKind};
use chrono::{DateTime, Utc};
use sqlx::any::AnyRow;
use sqlx::{Any, Row, Transaction};
use std::time::Duration;

/// A text as the outbox holds it.
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize, utoipa::ToSchema)]
pub struct TextRecord {
    pub id: i64,
    pub kind: String,
    pub ticket_id: Option<i64>,
    pub event_seq: Option<i64>,
    pub recipient: String,
    pub body: String,
    pub parts: i64,
    pub created_at: DateTime<Utc>,
    pub attempts: i64,
    pub rejections: i64,
    pub next_attempt_at: DateTime<Utc>,
    pub sent_at: Option<DateTime<Utc>>,
    pub failed_at: Option<DateTime<Utc>>,
    pub last_error: Option<String>,
    /// The gateway's last delivery report: `delivered`, `failed`, `buffered`, `submitted`.
    pub delivery: Option<String>,
    pub delivery_at: Option<DateTime<Utc>>,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, serde::Serialize, utoipa::ToSchema)]
pub struct TextCounts {
    pub pending: i64,
    pub sent: i64,
    pub failed: i64,
    pub delivered: i64,
    pub oldest_pending_at: Option<DateTime<Utc>>,
}

/// A text a resident sent back.
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize, utoipa::ToSchema)]
pub struct InboundText {
    pub id: i64,
    pub phone: String,
    pub body: String,
    pub received_at: DateTime<Utc>,
    pub ticket_id: Option<i64>,
    /// `rating`, `opt_out`, `attached`, `queued`, `handled`.
    pub state: String,
    pub note: Option<String>,
}

const COLUMNS: &str = "id, kind, ticket_id, event_seq, recipient, body, parts, created_at, attempts, rejections, \
                       next_attempt_at, sent_at, failed_at, last_error, delivery, delivery_at";
const PENDING: &str = "sent_at IS NULL AND failed_at IS NULL";

/// Queues texts (each with the instant it may go from) in the caller's transaction; a text
/// whose `dedupe_key` is already queued is skipped.
pub async fn enqueue_texts(
    tx: &mut Transaction<'_, Any>,
    texts: &[(OutgoingText, DateTime<Utc>)],
    now: DateTime<Utc>,
) -> Result<()> {
    // Chunked: a batch of thousands of intakes must stay under the databases' bind limits.
    for chunk in texts.chunks(500) {
        let mut sql = super::Sql::new(
            "INSERT INTO sms_outbox (kind, ticket_id, event_seq, dedupe_key, recipient, body, parts, created_at, \
             attempts, rejections, next_attempt_at) VALUES ",
        );
        let rows = chunk
            .iter()
            .map(|(text, send_after)| {
                vec![
                    text.kind.as_str().into(),
                    text.ticket_id.into(),
                    text.event_seq.into(),
                    text.dedupe_key.clone().into(),
                    text.recipient.as_str().into(),
                    text.body.as_str().into(),
                    (segments(&text.body).parts as i64).into(),
                    millis(now).into(),
                    0i64.into(),
                    0i64.into(),
                    millis((*send_after).max(now)).into(),
                ]
            })
            .collect();
        sql.rows(rows).push(" ON CONFLICT DO NOTHING");
        sql.query().execute(&mut **tx).await?;
    }
    Ok(())
}

fn opt_i64(row: &AnyRow, col: &str) -> Result<Option<i64>> {
    Ok(row.try_get::<Option<i64>, _>(col)?)
}

fn decode(row: &AnyRow) -> Result<TextRecord> {
    Ok(TextRecord {
        id: get_i64(row, "id")?,
        kind: get_string(row, "kind")?,
        ticket_id: opt_i64(row, "ticket_id")?,
        event_seq: opt_i64(row, "event_seq")?,
        recipient: get_string(row, "recipient")?,
        body: get_string(row, "body")?,
        parts: get_i64(row, "parts")?,
        created_at: from_millis(get_i64(row, "created_at")?),
        attempts: get_i64(row, "attempts")?,
        rejections: get_i64(row, "rejections")?,
        next_attempt_at: from_millis(get_i64(row, "next_attempt_at")?),
        sent_at: opt_i64(row, "sent_at")?.map(from_millis),
        failed_at: opt_i64(row, "failed_at")?.map(from_millis),
        last_error: get_opt_string(row, "last_error")?,
        delivery: get_opt_string(row, "delivery")?,
        delivery_at: opt_i64(row, "delivery_at")?.map(from_millis),
    })
}

fn decode_inbound(row: &AnyRow) -> Result<InboundText> {
    Ok(InboundText {
        id: get_i64(row, "id")?,
        phone: get_string(row, "phone")?,
        body: get_string(row, "body")?,
        received_at: from_millis(get_i64(row, "received_at")?),
        ticket_id: opt_i64(row, "ticket_id")?,
        state: get_string(row, "state")?,
        note: get_opt_string(row, "note")?,
    })
}

fn clip(error: &str) -> String {
    error.chars().take(1000).collect()
}

/// Kinds counted against a number's daily limit (all but urgent alerts).
fn counted_kinds() -> String {
    SmsKind::ALL.iter().filter(|k| !k.urgent()).map(|k| format!("'{}'", k.as_str())).collect::<Vec<_>>().join(", ")
}

impl Store {
    /// Queues texts in a transaction of their own (jobs, tests and the benchmark).
    pub async fn enqueue_texts_now(&self, texts: &[(OutgoingText, DateTime<Utc>)]) -> Result<()> {
        let mut tx = self.writer.begin().await?;
        enqueue_texts(&mut tx, texts, self.now()).await?;
        tx.commit().await?;
        Ok(())
    }

    /// Claims up to `limit` due texts for `lease`.
    pub async fn claim_texts(&self, limit: i64, lease: Duration, now: DateTime<Utc>) -> Result<Vec<TextRecord>> {
        let now_ms = millis(now);
        let until = now_ms.saturating_add(i64::try_from(lease.as_millis()).unwrap_or(i64::MAX));
        let candidates = sqlx::query(&format!(
            "SELECT id FROM sms_outbox WHERE {PENDING} AND next_attempt_at <= $1 \
             AND (locked_until IS NULL OR locked_until <= $1) ORDER BY next_attempt_at, id LIMIT $2"
        ))
        .bind(now_ms)
        .bind(limit.max(1))
        .fetch_all(&self.writer)
        .await?;
        let mut claimed = Vec::with_capacity(candidates.len());
        for candidate in &candidates {
            let row = sqlx::query(&format!(
                "UPDATE sms_outbox SET locked_until = $1 WHERE id = $2 AND {PENDING} AND next_attempt_at <= $3 \
                 AND (locked_until IS NULL OR locked_until <= $3) RETURNING {COLUMNS}"
            ))
            .bind(until)
            .bind(get_i64(candidate, "id")?)
            .bind(now_ms)
            .fetch_optional(&self.writer)
            .await?;
            if let Some(row) = row {
                claimed.push(decode(&row)?);
            }
        }
        Ok(claimed)
    }

    pub async fn mark_text_sent(&self, id: i64, now: DateTime<Utc>) -> Result<()> {
        sqlx::query(
            "UPDATE sms_outbox SET sent_at = $1, attempts = attempts + 1, locked_until = NULL, \
             delivery = COALESCE(delivery, 'submitted') WHERE id = $2 AND sent_at IS NULL",
        )
        .bind(millis(now))
        .bind(id)
        .execute(&self.writer)
        .await?;
        Ok(())
    }

    /// A try that failed and may work later (`rejected`: the gateway refused it for now).
    pub async fn mark_text_retry(&self, id: i64, error: &str, next: DateTime<Utc>, rejected: bool) -> Result<()> {
        sqlx::query(&format!(
            "UPDATE sms_outbox SET attempts = attempts + 1, rejections = rejections + $1, last_error = $2, \
             next_attempt_at = $3, locked_until = NULL WHERE id = $4 AND {PENDING}"
        ))
        .bind(i64::from(rejected))
        .bind(clip(error))
        .bind(millis(next))
        .bind(id)
        .execute(&self.writer)
        .await?;
        Ok(())
    }

    /// Gives up on a text; admins see it in the failed list.
    pub async fn mark_text_failed(&self, id: i64, error: &str, now: DateTime<Utc>) -> Result<()> {
        sqlx::query(&format!(
            "UPDATE sms_outbox SET failed_at = $1, last_error = $2, locked_until = NULL WHERE id = $3 AND {PENDING}"
        ))
        .bind(millis(now))
        .bind(clip(error))
        .bind(id)
        .execute(&self.writer)
        .await?;
        Ok(())
    }

    /// Hands back a claimed text untried, due at `next` (quiet hours, the daily limit, or the
    /// gateway just proved unreachable); its attempts stay as they were.
    pub async fn release_text(&self, id: i64, next: DateTime<Utc>) -> Result<()> {
        sqlx::query(&format!(
            "UPDATE sms_outbox SET next_attempt_at = $1, locked_until = NULL WHERE id = $2 AND {PENDING}"
        ))
        .bind(millis(next))
        .bind(id)
        .execute(&self.writer)
        .await?;
        Ok(())
    }

    /// Texts (counted kinds) handed to the gateway for `phone` in `[from, to)`.
    pub async fn texts_sent_between(&self, phone: &str, from: DateTime<Utc>, to: DateTime<Utc>) -> Result<i64> {
        let row = sqlx::query(&format!(
            "SELECT COUNT(*) AS n FROM sms_outbox WHERE recipient = $1 AND sent_at >= $2 AND sent_at < $3 \
             AND kind IN ({})",
            counted_kinds()
        ))
        .bind(phone)
        .bind(millis(from))
        .bind(millis(to))
        .fetch_one(&self.writer)
        .await?;
        get_i64(&row, "n")
    }

    pub async fn is_opted_out(&self, phone: &str) -> Result<bool> {
        let row = sqlx::query("SELECT COUNT(*) AS n FROM sms_optouts WHERE phone = $1")
            .bind(phone)
            .fetch_one(&self.writer)
            .await?;
        Ok(get_i64(&row, "n")? > 0)
    }

    /// 退订. Idempotent.
    pub async fn opt_out(&self, phone: &str, now: DateTime<Utc>) -> Result<()> {
        sqlx::query("INSERT INTO sms_optouts (phone, at) VALUES ($1, $2) ON CONFLICT DO NOTHING")
            .bind(phone)
            .bind(millis(now))
            .execute(&self.writer)
            .await?;
        Ok(())
    }

    /// Records a delivery report. A report for an unknown id changes nothing (`false`); a
    /// repeated one only rewrites the same state. `delivered` is final: a late `buffered`
    /// report does not undo it.
    pub async fn record_delivery(&self, id: i64, state: &str, now: DateTime<Utc>) -> Result<bool> {
        let done = sqlx::query(
            "UPDATE sms_outbox SET delivery = $1, delivery_at = $2 WHERE id = $3 \
             AND (delivery IS NULL OR delivery <> 'delivered')",
        )
        .bind(state)
        .bind(millis(now))
        .bind(id)
        .execute(&self.writer)
        .await?;
        if done.rows_affected() == 1 {
            return Ok(true);
        }
        Ok(self.text_by_id(id).await?.is_some())
    }

    pub async fn text_by_id(&self, id: i64) -> Result<Option<TextRecord>> {
        let row = sqlx::query(&format!("SELECT {COLUMNS} FROM sms_outbox WHERE id = $1"))
            .bind(id)
            .fetch_optional(&self.writer)
            .await?;
        row.map(|r| decode(&r)).transpose()
    }

    /// Every text about one ticket, oldest first.
    pub async fn ticket_texts(&self, ticket_id: i64) -> Result<Vec<TextRecord>> {
        let rows = sqlx::query(&format!("SELECT {COLUMNS} FROM sms_outbox WHERE ticket_id = $1 ORDER BY id"))
            .bind(ticket_id)
            .fetch_all(&self.pool)
            .await?;
        rows.iter().map(decode).collect()
    }

    /// Texts given up on, most recent first, for admins.
    pub async fn failed_texts(&self, limit: i64) -> Result<Vec<TextRecord>> {
        let rows = sqlx::query(&format!(
            "SELECT {COLUMNS} FROM sms_outbox WHERE failed_at IS NOT NULL ORDER BY failed_at DESC, id DESC LIMIT $1"
        ))
        .bind(limit.clamp(1, 1000))
        .fetch_all(&self.pool)
        .await?;
        rows.iter().map(decode).collect()
    }

    pub async fn sms_outbox_counts(&self) -> Result<TextCounts> {
        let rows = sqlx::query(
            "SELECT CASE WHEN sent_at IS NOT NULL THEN 'sent' WHEN failed_at IS NOT NULL THEN 'failed' \
             ELSE 'pending' END AS state, COUNT(*) AS n FROM sms_outbox GROUP BY 1",
        )
        .fetch_all(&self.pool)
        .await?;
        let mut counts = TextCounts::default();
        for row in &rows {
            let n = get_i64(row, "n")?;
            match get_string(row, "state")?.as_str() {
                "sent" => counts.sent = n,
                "failed" => counts.failed = n,
                _ => counts.pending = n,
            }
        }
        let row = sqlx::query("SELECT COUNT(*) AS n FROM sms_outbox WHERE delivery = 'delivered'")
            .fetch_one(&self.pool)
            .await?;
        counts.delivered = get_i64(&row, "n")?;
        let oldest = sqlx::query(&format!("SELECT MIN(created_at) AS t FROM sms_outbox WHERE {PENDING}"))
            .fetch_one(&self.pool)
            .await?;
        counts.oldest_pending_at = opt_i64(&oldest, "t")?.map(from_millis);
        Ok(counts)
    }

    /// The last text of `kind` handed to the gateway for `phone`: (its ticket, when sent).
    pub async fn last_text_to(&self, phone: &str, kind: Option<SmsKind>) -> Result<Option<(i64, DateTime<Utc>)>> {
        let filter = kind.map(|k| format!("AND kind = '{}'", k.as_str())).unwrap_or_default();
        let row = sqlx::query(&format!(
            "SELECT ticket_id, sent_at FROM sms_outbox WHERE recipient = $1 AND sent_at IS NOT NULL \
             AND ticket_id IS NOT NULL {filter} ORDER BY sent_at DESC, id DESC LIMIT 1"
        ))
        .bind(phone)
        .fetch_optional(&self.writer)
        .await?;
        match row {
            Some(r) => Ok(Some((get_i64(&r, "ticket_id")?, from_millis(get_i64(&r, "sent_at")?)))),
            None => Ok(None),
        }
    }

    /// Records a text a resident sent. `None` when the gateway delivered this message before
    /// (same `gateway_id`): it was handled then.
    pub async fn record_inbound(
        &self,
        gateway_id: Option<&str>,
        phone: &str,
        body: &str,
        now: DateTime<Utc>,
    ) -> Result<Option<i64>> {
        let row = sqlx::query(
            "INSERT INTO sms_inbox (gateway_id, phone, body, received_at, state) VALUES ($1, $2, $3, $4, 'new') \
             ON CONFLICT DO NOTHING RETURNING id",
        )
        .bind(gateway_id)
        .bind(phone)
        .bind(body)
        .bind(millis(now))
        .fetch_optional(&self.writer)
        .await?;
        row.map(|r| get_i64(&r, "id")).transpose()
    }

    pub async fn settle_inbound(&self, id: i64, ticket_id: Option<i64>, state: &str, note: Option<&str>) -> Result<()> {
        sqlx::query("UPDATE sms_inbox SET ticket_id = $1, state = $2, note = $3 WHERE id = $4")
            .bind(ticket_id)
            .bind(state)
            .bind(note)
            .bind(id)
            .execute(&self.writer)
            .await?;
        Ok(())
    }

    /// Replies an operator must read (unclear ratings, unknown numbers), oldest first.
    pub async fn inbound_queue(&self, limit: i64) -> Result<Vec<InboundText>> {
        let rows = sqlx::query(
            "SELECT id, phone, body, received_at, ticket_id, state, note FROM sms_inbox WHERE state = 'queued' \
             ORDER BY id LIMIT $1",
        )
        .bind(limit.clamp(1, 1000))
        .fetch_all(&self.pool)
        .await?;
        rows.iter().map(decode_inbound).collect()
    }

    /// Puts a failed text back in the queue, due now (after an admin fixed the gateway's
    /// password, say). `false` when it was not failed.
    pub async fn requeue_failed_text(&self, id: i64, now: DateTime<Utc>) -> Result<bool> {
        let done = sqlx::query(
            "UPDATE sms_outbox SET failed_at = NULL, rejections = 0, next_attempt_at = $1, locked_until = NULL \
             WHERE id = $2 AND failed_at IS NOT NULL AND sent_at IS NULL",
        )
        .bind(millis(now))
        .bind(id)
        .execute(&self.writer)
        .await?;
        Ok(done.rows_affected() == 1)
    }

    /// An operator dealt with a queued reply. `false` when it was not queued.
    pub async fn mark_inbound_handled(&self, id: i64, by: &str) -> Result<bool> {
        let done = sqlx::query(
            "UPDATE sms_inbox SET state = 'handled', note = COALESCE(note || '; ', '') || $1 WHERE id = $2 AND state = 'queued'",
        )
        .bind(format!("handled by {by}"))
        .bind(id)
        .execute(&self.writer)
        .await?;
        Ok(done.rows_affected() == 1)
    }

    pub async fn inbound_texts(&self, phone: &str) -> Result<Vec<InboundText>> {
        let rows = sqlx::query(
            "SELECT id, phone, body, received_at, ticket_id, state, note FROM sms_inbox WHERE phone = $1 ORDER BY id",
        )
        .bind(phone)
        .fetch_all(&self.pool)
        .await?;
        rows.iter().map(decode_inbound).collect()
    }
}
