//! What the monthly assessment (考评) reads, and the exclusions (核减) it applies: the ticket
//! histories a period needs, the exclusions in force, and recording an exclusion together
//! with its audit event in the log.

use super::tickets::decode_event;
use super::{from_millis, get_i64, get_opt_i64, get_string, millis, Result, Store, StoreError};
use crate::domain::assessment::{self, DepartmentScore, Exclusion, Period, Weights};
use crate::domain::district::District;
use crate::domain::event::ActorRef;

/// The type of the system event that audits an exclusion.
pub const EXCLUSION_ADDED: &str = "assessment_exclusion_added";

/// The type of the system event that audits withdrawing an exclusion.
pub const EXCLUSION_WITHDRAWN: &str = "assessment_exclusion_withdrawn";

const EXCLUSION_SELECT: &str = "SELECT id, ticket_id, department, reason, excluded_by, at FROM assessment_exclusions";

fn decode_exclusion(r: &sqlx::any::AnyRow) -> Result<Exclusion> {
    Ok(Exclusion {
        id: get_i64(r, "id")?,
        ticket_id: get_i64(r, "ticket_id")?,
        department: get_string(r, "department")?,
        reason: get_string(r, "reason")?,
        by: get_string(r, "excluded_by")?,
        at: from_millis(get_i64(r, "at")?),
    })
}

/// A period's ranking and the exclusions that were in force for it.
#[derive(Debug, Clone)]
pub struct Assessment {
    pub period: Period,
    pub weights: Weights,
    pub departments: Vec<DepartmentScore>,
    /// Exclusions of tickets with an event in the period (the only ones that can matter).
    pub exclusions: Vec<Exclusion>,
}

impl Store {
    /// Exclusions, oldest first. With a period, only those of tickets that had an event in it.
    pub async fn exclusions(&self, period: Option<Period>) -> Result<Vec<Exclusion>> {
        let rows = match period {
            Some((from, to)) => {
                sqlx::query(&format!(
                    "{EXCLUSION_SELECT} WHERE ticket_id IN \
                     (SELECT ticket_id FROM events WHERE at >= $1 AND at < $2 AND ticket_id IS NOT NULL) ORDER BY id"
                ))
                .bind(millis(from))
                .bind(millis(to))
                .fetch_all(&self.pool)
                .await?
            }
            None => sqlx::query(&format!("{EXCLUSION_SELECT} ORDER BY id")).fetch_all(&self.pool).await?,
        };
        rows.iter().map(decode_exclusion).collect()
    }

    /// Records that ticket `ticket_id` (number `number`, for the audit) does not count against
    /// `department`, with the `assessment_exclusion_added` event that audits it, in one
    /// transaction: both are written or neither. The caller checks the ruling first
    /// ([`assessment::check_exclusion`]). A second exclusion of the same ticket for the same
    /// department is a conflict.
    pub async fn add_exclusion(
        &self,
        actor: &ActorRef,
        ticket_id: i64,
        number: &str,
        department: &str,
        reason: &str,
    ) -> Result<Exclusion> {
        let mut tx = self.writer.begin().await?;
        // The writers' lock first, like every write: it also makes the duplicate check below
        // race-free.
        let seq = super::tickets::lock_sequence(&mut tx).await? + 1;
        let existing = sqlx::query("SELECT id FROM assessment_exclusions WHERE ticket_id = $1 AND department = $2")
            .bind(ticket_id)
            .bind(department)
            .fetch_optional(&mut *tx)
            .await?;
        if existing.is_some() {
            return Err(StoreError::Conflict(format!(
                "ticket {number} is already excluded (核减) for {department}; nothing was changed"
            )));
        }
        let at = self.now();
        let data = serde_json::json!({
            "id": seq,
            "ticket_id": ticket_id,
            "number": number,
            "department": department,
            "reason": reason,
        });
        super::dispatch::insert_system_event(&mut tx, seq, EXCLUSION_ADDED, at, actor, &data).await?;
        sqlx::query(
            "INSERT INTO assessment_exclusions (id, ticket_id, department, reason, excluded_by, at) \
             VALUES ($1, $2, $3, $4, $5, $6)",
        )
        .bind(seq)
        .bind(ticket_id)
        .bind(department)
        .bind(reason)
        .bind(actor.username.as_str())
        .bind(millis(at))
        .execute(&mut *tx)
        .await?;
        tx.commit().await?;
        Ok(Exclusion {
            id: seq,
            ticket_id,
            department: department.to_string(),
            reason: reason.to_string(),
            by: actor.username.clone(),
            at,
        })
    }

    /// Withdraws exclusion `id` (撤销核减): the ticket counts against the department again in
    /// every period. The row goes and an `assessment_exclusion_withdrawn` event, which names
    /// the exclusion it undoes and why, takes its place in the log, in one transaction.
    pub async fn withdraw_exclusion(&self, actor: &ActorRef, id: i64, reason: &str) -> Result<Exclusion> {
        let mut tx = self.writer.begin().await?;
        let seq = super::tickets::lock_sequence(&mut tx).await? + 1;
        let row = sqlx::query(&format!("{EXCLUSION_SELECT} WHERE id = $1"))
            .bind(id)
            .fetch_optional(&mut *tx)
            .await?
            .ok_or(StoreError::NotFound)?;
        let exclusion = decode_exclusion(&row)?;
        let data = serde_json::json!({
            "id": exclusion.id,
            "ticket_id": exclusion.ticket_id,
            "department": exclusion.department,
            "excluded_reason": exclusion.reason,
            "reason": reason,
        });
        super::dispatch::insert_system_event(&mut tx, seq, EXCLUSION_WITHDRAWN, self.now(), actor, &data).await?;
        sqlx::query("DELETE FROM assessment_exclusions WHERE id = $1").bind(id).execute(&mut *tx).await?;
        tx.commit().await?;
        Ok(exclusion)
    }

    /// The ranking of `period`, computed from the event log and the exclusions.
    ///
    /// A month of a large city is millions of events, so they are not collected: rows stream
    /// from the database (only what [`assessment::FACT_TYPES`] says the assessment reads) in
    /// chunks to a blocking thread that decodes and folds them, so reading and folding overlap
    /// and memory stays at a few chunks.
    pub async fn assessment(&self, district: &District, period: Period, weights: &Weights) -> Result<Assessment> {
        let exclusions = self.exclusions(Some(period)).await?;
        let (chunks, mut received) = tokio::sync::mpsc::channel::<Vec<sqlx::any::AnyRow>>(4);
        let fold = {
            let (district, exclusions, weights) = (district.clone(), exclusions.clone(), *weights);
            tokio::task::spawn_blocking(move || -> Result<Vec<DepartmentScore>> {
                let mut failure = None;
                let events = std::iter::from_fn(|| received.blocking_recv()).flatten().map_while(|row| {
                    match decode_event(&row) {
                        Ok(event) => Some(event),
                        Err(e) => {
                            failure = Some(e);
                            None
                        }
                    }
                });
                let scores = assessment::assess(events, period, &district, &exclusions, &weights);
                failure.map_or(Ok(scores), Err)
            })
        };
        let read = match self.period_facts_query(period).await? {
            Some((sql, first, last)) => self.stream_rows(&sql, first, last, &chunks).await,
            // Nothing happened in the period: every unit still gets its row.
            None => Ok(()),
        };
        drop(chunks);
        let departments = fold.await.map_err(|e| StoreError::Unavailable(format!("assessment thread: {e}")))??;
        read?;
        Ok(Assessment { period, weights: *weights, departments, exclusions })
    }

    /// The query giving what [`Store::assessment`] folds for `period`, with its two bounds;
    /// `None` when nothing happened in the period.
    async fn period_facts_query(&self, period: Period) -> Result<Option<(String, i64, i64)>> {
        let (from, to) = (millis(period.0), millis(period.1));
        let facts = assessment::FACT_TYPES.map(|t| format!("'{t}'")).join(", ");
        // COUNT(*) beside them keeps PostgreSQL from turning MIN/MAX into a walk of the primary
        // key filtered by time (seconds over a year of events); this way both read the
        // (at, seq) index alone.
        let range =
            sqlx::query("SELECT MIN(seq) AS lo, MAX(seq) AS hi, COUNT(*) AS n FROM events WHERE at >= $1 AND at < $2")
                .bind(from)
                .bind(to)
                .fetch_one(&self.pool)
                .await?;
        let (Some(lo), Some(hi)) = (get_opt_i64(&range, "lo")?, get_opt_i64(&range, "hi")?) else {
            return Ok(None);
        };
        let verdicts_from = sqlx::query("SELECT value FROM counters WHERE name = 'assessment_facts_from'")
            .fetch_optional(&self.pool)
            .await?
            .map(|r| get_i64(&r, "value"))
            .transpose()?;
        if verdicts_from.is_some_and(|first| lo >= first) {
            // The period's facts carry their verdicts: they are all it needs, one range of the
            // log in sequence order. (Events of the range outside the period, from a clock a
            // little behind on another instance, are read and not counted.)
            let sql = format!(
                "SELECT seq, ticket_id, at, actor, data FROM events \
                 WHERE seq >= $1 AND seq <= $2 AND type IN ({facts}) AND ticket_id IS NOT NULL ORDER BY seq"
            );
            return Ok(Some((sql, lo, hi)));
        }
        // Events from before the verdicts were recorded: the histories of the period's
        // tickets, and the reply clock in force before each reply.
        let sql = format!(
            "SELECT seq, ticket_id, at, actor, data FROM events \
             WHERE ticket_id IN (SELECT ticket_id FROM events WHERE at >= $1 AND at < $2 AND ticket_id IS NOT NULL) \
             AND at < $2 AND (type IN ({facts}) OR seq IN ( \
                 SELECT (SELECT MAX(c.seq) FROM events c \
                         WHERE c.ticket_id = r.ticket_id AND c.type = 'clocks_changed' AND c.seq < r.seq) \
                 FROM events r WHERE r.at >= $1 AND r.at < $2 AND r.type = 'replied')) \
             ORDER BY ticket_id, seq"
        );
        Ok(Some((sql, from, to)))
    }

    /// Sends the rows of `sql` (bound to `first`, `last`) in chunks; stops early, without
    /// error, when the receiver is gone (the folding thread stopped on a bad row and says why).
    async fn stream_rows(
        &self,
        sql: &str,
        first: i64,
        last: i64,
        chunks: &tokio::sync::mpsc::Sender<Vec<sqlx::any::AnyRow>>,
    ) -> std::result::Result<(), sqlx::Error> {
        use futures::TryStreamExt;
        const CHUNK: usize = 4096;
        let mut rows = sqlx::query(sql).bind(first).bind(last).fetch(&self.pool);
        let mut chunk = Vec::with_capacity(CHUNK);
        while let Some(row) = rows.try_next().await? {
            chunk.push(row);
            if chunk.len() == CHUNK && chunks.send(std::mem::take(&mut chunk)).await.is_err() {
                return Ok(());
            }
        }
        if !chunk.is_empty() {
            let _ = chunks.send(chunk).await;
        }
        Ok(())
    }
}
