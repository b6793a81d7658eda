//! The SMS outbox (texts waiting, sent, given up on, with their delivery reports), the
//! numbers that replied TD, and the texts residents sent back.
//!
//! A text is queued by [`enqueue_texts`] in the transaction that writes the event causing it;
//! the drain (`crate::notify::sms`) claims due rows, sends with no transaction open, and
//! records the outcome, as for mail: claiming, retrying, failing and counting rows is
//! `store::queue`'s, for both outboxes. What is the texts' own is here: their columns, the
//! per-number facts the drain asks before sending (TD, texts sent today), delivery reports,
//! and the replies.

use std::collections::{HashMap, HashSet};

use super::queue::Outbox;
use super::{from_millis, get_i64, get_opt_i64, get_opt_string, get_string, millis, Result, Sql, Store};
use crate::domain::sms::{segments, OutgoingText, SmsKind};
use chrono::{DateTime, Utc};
use sqlx::any::AnyRow;
use sqlx::{Any, Transaction};

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

/// The SMS outbox, for `store::queue`. A text the gateway took is `submitted` until its
/// delivery report says more (a report may come before the drain marks it sent).
pub const SMS: Outbox =
    Outbox { table: "sms_outbox", columns: COLUMNS, on_sent: ", delivery = COALESCE(delivery, 'submitted')" };

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

pub(crate) fn decode(row: &AnyRow) -> Result<TextRecord> {
    Ok(TextRecord {
        id: get_i64(row, "id")?,
        kind: get_string(row, "kind")?,
        ticket_id: get_opt_i64(row, "ticket_id")?,
        event_seq: get_opt_i64(row, "event_seq")?,
        recipient: get_string(row, "recipient")?,
        body: get_string(row, "body")?,
        parts: get_i64(row, "parts")?,
        created_at: from_millis(get_i64(row, "created_at")?),
        attempts: get_i64(row, "attempts")?,
        rejections: get_i64(row, "rejections")?,
        next_attempt_at: from_millis(get_i64(row, "next_attempt_at")?),
        sent_at: get_opt_i64(row, "sent_at")?.map(from_millis),
        failed_at: get_opt_i64(row, "failed_at")?.map(from_millis),
        last_error: get_opt_string(row, "last_error")?,
        delivery: get_opt_string(row, "delivery")?,
        delivery_at: get_opt_i64(row, "delivery_at")?.map(from_millis),
    })
}

fn decode_inbound(row: &AnyRow) -> Result<InboundText> {
    Ok(InboundText {
        id: get_i64(row, "id")?,
        phone: get_string(row, "phone")?,
        body: get_string(row, "body")?,
        received_at: from_millis(get_i64(row, "received_at")?),
        ticket_id: get_opt_i64(row, "ticket_id")?,
        state: get_string(row, "state")?,
        note: get_opt_string(row, "note")?,
    })
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

    /// Texts (counted kinds) handed to the gateway in `[from, to)`, per number of `phones`
    /// (a number with none is not in the map).
    pub async fn texts_sent_between(
        &self,
        phones: &[&str],
        from: DateTime<Utc>,
        to: DateTime<Utc>,
    ) -> Result<HashMap<String, i64>> {
        let mut sql = Sql::new("SELECT recipient, COUNT(*) AS n FROM sms_outbox WHERE sent_at >= ");
        sql.bind(millis(from)).push(" AND sent_at < ").bind(millis(to));
        sql.push(&format!(" AND kind IN ({}) AND recipient IN ", counted_kinds())).bind_list(phones);
        sql.push(" GROUP BY recipient");
        let rows = sql.query().fetch_all(&self.writer).await?;
        rows.iter().map(|r| Ok((get_string(r, "recipient")?, get_i64(r, "n")?))).collect()
    }

    /// Which of `phones` replied TD.
    pub async fn opted_out_among(&self, phones: &[&str]) -> Result<HashSet<String>> {
        let mut sql = Sql::new("SELECT phone FROM sms_optouts WHERE phone IN ");
        sql.bind_list(phones);
        let rows = sql.query().fetch_all(&self.writer).await?;
        rows.iter().map(|r| get_string(r, "phone")).collect()
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
        self.row_by_id(SMS, id).await?.map(|r| decode(&r)).transpose()
    }

    /// Every text about one ticket, oldest first.
    pub async fn ticket_texts(&self, ticket_id: i64) -> Result<Vec<TextRecord>> {
        self.ticket_rows(SMS, ticket_id).await?.iter().map(decode).collect()
    }

    /// Texts given up on, most recent first, for admins.
    pub async fn failed_texts(&self, limit: i64) -> Result<Vec<TextRecord>> {
        self.failed_rows(SMS, limit).await?.iter().map(decode).collect()
    }

    /// Texts still to be sent, the next due first, for admins.
    pub async fn pending_texts(&self, limit: i64) -> Result<Vec<TextRecord>> {
        self.pending_rows(SMS, limit).await?.iter().map(decode).collect()
    }

    pub async fn sms_outbox_counts(&self) -> Result<TextCounts> {
        let counts = self.outbox_counts(SMS).await?;
        let row = sqlx::query("SELECT COUNT(*) AS n FROM sms_outbox WHERE delivery = 'delivered'")
            .fetch_one(&self.pool)
            .await?;
        Ok(TextCounts {
            pending: counts.pending,
            sent: counts.sent,
            failed: counts.failed,
            delivered: get_i64(&row, "n")?,
            oldest_pending_at: counts.oldest_pending_at,
        })
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
        self.requeue_failed(SMS, id, now).await
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
