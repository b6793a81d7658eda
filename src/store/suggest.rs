//! Intake assistance: the trained model versions, what training reads, and the suggestions
//! shown at intake with the category chosen (`domain::suggest`).

use super::{from_millis, get_i64, get_opt_i64, get_string, millis, Result, Store, StoreError};
use crate::domain::suggest::accuracy::Outcome;
use crate::domain::suggest::History;
use chrono::{DateTime, Utc};

/// Model versions kept; older ones are deleted when a new one is stored.
pub const VERSIONS_KEPT: i64 = 10;

/// A stored model version.
#[derive(Debug, Clone, PartialEq)]
pub struct StoredModel {
    pub version: i64,
    pub trained_at: DateTime<Utc>,
    pub tickets: i64,
    pub up_to_ticket: i64,
    pub history: History,
}

/// A training example: a ticket's content and the category it has now.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Example {
    pub id: i64,
    pub content: String,
    pub category: String,
}

impl Store {
    /// Up to `limit` tickets with ids above `after`, oldest first: content and final
    /// category (the ticket row's, which follows every correction).
    pub async fn suggest_examples(&self, after: i64, limit: i64) -> Result<Vec<Example>> {
        let rows = sqlx::query("SELECT id, category, body FROM tickets WHERE id > $1 ORDER BY id LIMIT $2")
            .bind(after)
            .bind(limit)
            .fetch_all(&self.pool)
            .await?;
        rows.iter()
            .map(|r| {
                Ok(Example {
                    id: get_i64(r, "id")?,
                    content: super::tickets::decode_body(r)?.content,
                    category: get_string(r, "category")?,
                })
            })
            .collect()
    }

    /// The id below which the newest `keep` tickets start (0 when there are fewer): training
    /// learns from the newest tickets only, so the model follows how callers speak now.
    pub async fn suggest_window_start(&self, keep: i64) -> Result<i64> {
        let row = sqlx::query("SELECT id FROM tickets ORDER BY id DESC LIMIT 1 OFFSET $1")
            .bind(keep)
            .fetch_optional(&self.pool)
            .await?;
        row.map_or(Ok(0), |r| get_i64(&r, "id"))
    }

    /// Stores a newly trained model; its version is the next number. Drops versions older
    /// than the last [`VERSIONS_KEPT`].
    pub async fn save_suggest_model(&self, history: &History, up_to_ticket: i64) -> Result<StoredModel> {
        let body = serde_json::to_string(history).map_err(|e| StoreError::Corrupt(format!("suggest model: {e}")))?;
        let trained_at = self.now();
        let mut tx = self.writer.begin().await?;
        let row = sqlx::query(
            "INSERT INTO suggest_models (trained_at, tickets, up_to_ticket, body) VALUES ($1, $2, $3, $4) \
             RETURNING version",
        )
        .bind(millis(trained_at))
        .bind(history.tickets as i64)
        .bind(up_to_ticket)
        .bind(body)
        .fetch_one(&mut *tx)
        .await?;
        let version = get_i64(&row, "version")?;
        sqlx::query("DELETE FROM suggest_models WHERE version <= $1")
            .bind(version - VERSIONS_KEPT)
            .execute(&mut *tx)
            .await?;
        tx.commit().await?;
        Ok(StoredModel {
            version,
            trained_at: from_millis(millis(trained_at)),
            tickets: history.tickets as i64,
            up_to_ticket,
            history: history.clone(),
        })
    }

    /// The newest model version's number, if any was trained.
    pub async fn latest_suggest_version(&self) -> Result<Option<i64>> {
        let row = sqlx::query("SELECT MAX(version) AS version FROM suggest_models").fetch_one(&self.pool).await?;
        get_opt_i64(&row, "version")
    }

    /// The newest model version.
    pub async fn latest_suggest_model(&self) -> Result<Option<StoredModel>> {
        let row = sqlx::query(
            "SELECT version, trained_at, tickets, up_to_ticket, body FROM suggest_models \
             ORDER BY version DESC LIMIT 1",
        )
        .fetch_optional(&self.pool)
        .await?;
        let Some(r) = row else { return Ok(None) };
        let body = get_string(&r, "body")?;
        let version = get_i64(&r, "version")?;
        Ok(Some(StoredModel {
            version,
            trained_at: from_millis(get_i64(&r, "trained_at")?),
            tickets: get_i64(&r, "tickets")?,
            up_to_ticket: get_i64(&r, "up_to_ticket")?,
            history: serde_json::from_str(&body)
                .map_err(|e| StoreError::Corrupt(format!("suggest model {version}: {e}")))?,
        }))
    }

    /// Records the suggestions shown when ticket `ticket_id` was logged; a second record for
    /// the same ticket is ignored.
    pub async fn record_suggestion_outcome(
        &self,
        ticket_id: i64,
        model_version: i64,
        shown: &[String],
        chosen: &str,
        taken_rank: Option<usize>,
    ) -> Result<()> {
        let shown = serde_json::to_string(shown).map_err(|e| StoreError::Corrupt(e.to_string()))?;
        sqlx::query(
            "INSERT INTO suggestion_outcomes (ticket_id, recorded_at, model_version, shown, chosen, taken_rank) \
             VALUES ($1, $2, $3, $4, $5, $6) ON CONFLICT DO NOTHING",
        )
        .bind(ticket_id)
        .bind(millis(self.now()))
        .bind(model_version)
        .bind(shown)
        .bind(chosen)
        .bind(taken_rank.map(|r| r as i64))
        .execute(&self.writer)
        .await?;
        Ok(())
    }

    /// Every outcome recorded since `from`, with the ticket's category now.
    pub async fn suggestion_outcomes(&self, from: DateTime<Utc>) -> Result<Vec<Outcome>> {
        let rows = sqlx::query(
            "SELECT o.recorded_at, o.model_version, o.shown, o.chosen, t.category FROM suggestion_outcomes o \
             JOIN tickets t ON t.id = o.ticket_id WHERE o.recorded_at >= $1 ORDER BY o.recorded_at",
        )
        .bind(millis(from))
        .fetch_all(&self.pool)
        .await?;
        rows.iter()
            .map(|r| {
                let shown = get_string(r, "shown")?;
                Ok(Outcome {
                    at: from_millis(get_i64(r, "recorded_at")?),
                    model_version: get_i64(r, "model_version")?,
                    shown: serde_json::from_str(&shown)
                        .map_err(|e| StoreError::Corrupt(format!("suggestion outcome: {e}")))?,
                    chosen: get_string(r, "chosen")?,
                    final_category: get_string(r, "category")?,
                })
            })
            .collect()
    }

    /// How many suggestion outcomes are stored (tests, and the model status).
    pub async fn suggestion_outcome_count(&self) -> Result<i64> {
        let row = sqlx::query("SELECT COUNT(*) AS n FROM suggestion_outcomes").fetch_one(&self.pool).await?;
        get_i64(&row, "n")
    }
}
