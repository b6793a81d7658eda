//! What the dispatch catalogue learns from: per routing rule, how many tickets it routed and
//! how many came back (退单) or were sent elsewhere (改派), and where to. Also the log of
//! events that concern the system rather than one ticket (rule reloads).

use super::{get_i64, get_string, millis, Result, Store};
use crate::domain::event::ActorRef;
use chrono::{DateTime, Utc};
use std::collections::BTreeMap;

#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize, utoipa::ToSchema)]
pub struct RuleOutcome {
    pub rule_id: String,
    pub routed: i64,
    /// Tickets the department returned at least once.
    pub returned: i64,
    /// Tickets the centre re-dispatched to another department.
    pub redispatched: i64,
    /// Where re-dispatched tickets are now, most frequent first.
    pub redispatched_to: Vec<Destination>,
}

/// What operators decided about one emergency rule's proposals.
#[derive(Debug, Clone, Default, PartialEq, Eq, serde::Serialize, utoipa::ToSchema)]
pub struct EmergencyDecisions {
    pub rule_id: String,
    /// Confirmed as urgent and kept (utility emergencies).
    pub confirmed: i64,
    /// Confirmed and handed off to 119/110/120.
    pub handed_off: i64,
    /// Dismissed: not an emergency (the rule cried wolf).
    pub dismissed: i64,
    /// Left to the dispatchers without a decision at intake.
    pub undecided: i64,
}

#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize, utoipa::ToSchema)]
pub struct Destination {
    pub department: String,
    pub tickets: i64,
}

impl Store {
    /// Per-rule outcomes of tickets created since `since` (all when `None`).
    pub async fn rule_outcomes(&self, since: Option<DateTime<Utc>>) -> Result<Vec<RuleOutcome>> {
        let since = since.map(millis).unwrap_or(i64::MIN);
        let rows = sqlx::query(
            "SELECT rule_id, COUNT(*) AS routed, \
             CAST(SUM(CASE WHEN returns > 0 THEN 1 ELSE 0 END) AS BIGINT) AS returned, \
             CAST(SUM(CASE WHEN redispatches > 0 THEN 1 ELSE 0 END) AS BIGINT) AS redispatched \
             FROM tickets WHERE rule_id IS NOT NULL AND created_at >= $1 GROUP BY rule_id",
        )
        .bind(since)
        .fetch_all(&self.pool)
        .await?;
        let mut outcomes: BTreeMap<String, RuleOutcome> = BTreeMap::new();
        for r in &rows {
            let rule_id = get_string(r, "rule_id")?;
            outcomes.insert(
                rule_id.clone(),
                RuleOutcome {
                    rule_id,
                    routed: get_i64(r, "routed")?,
                    returned: get_i64(r, "returned")?,
                    redispatched: get_i64(r, "redispatched")?,
                    redispatched_to: Vec::new(),
                },
            );
        }
        let rows = sqlx::query(
            "SELECT rule_id, lead, COUNT(*) AS n FROM tickets \
             WHERE rule_id IS NOT NULL AND redispatches > 0 AND lead IS NOT NULL AND created_at >= $1 \
             GROUP BY rule_id, lead",
        )
        .bind(since)
        .fetch_all(&self.pool)
        .await?;
        for r in &rows {
            if let Some(o) = outcomes.get_mut(&get_string(r, "rule_id")?) {
                o.redispatched_to.push(Destination { department: get_string(r, "lead")?, tickets: get_i64(r, "n")? });
            }
        }
        let mut list: Vec<RuleOutcome> = outcomes.into_values().collect();
        for o in &mut list {
            o.redispatched_to.sort_by(|a, b| b.tickets.cmp(&a.tickets).then(a.department.cmp(&b.department)));
        }
        Ok(list)
    }

    /// Per emergency rule, the proposals of tickets received since `since`, by what the
    /// operator decided (`emergency_proposed` events; index `events_type_at`, migration 0030).
    pub async fn emergency_decisions(&self, since: Option<DateTime<Utc>>) -> Result<Vec<EmergencyDecisions>> {
        let since = since.map(millis).unwrap_or(i64::MIN);
        let rows = sqlx::query("SELECT data FROM events WHERE type = 'emergency_proposed' AND at >= $1")
            .bind(since)
            .fetch_all(&self.pool)
            .await?;
        let mut by_rule: BTreeMap<String, EmergencyDecisions> = BTreeMap::new();
        for r in &rows {
            let kind: crate::domain::event::EventKind = serde_json::from_str(&get_string(r, "data")?)
                .map_err(|e| super::StoreError::Corrupt(format!("event data: {e}")))?;
            let crate::domain::event::EventKind::EmergencyProposed { rule_id, decision, .. } = kind else { continue };
            let entry =
                by_rule.entry(rule_id.clone()).or_insert_with(|| EmergencyDecisions { rule_id, ..Default::default() });
            use crate::domain::emergency::EmergencyDecision as D;
            match decision {
                D::Confirmed => entry.confirmed += 1,
                D::HandedOff => entry.handed_off += 1,
                D::Dismissed => entry.dismissed += 1,
                D::Undecided => entry.undecided += 1,
            }
        }
        Ok(by_rule.into_values().collect())
    }

    /// Appends an event that concerns the system, not a ticket (e.g. `rules_reloaded`), to the
    /// same log and sequence as ticket events.
    pub async fn append_system_event(&self, actor: &ActorRef, kind: &str, data: &serde_json::Value) -> Result<i64> {
        let mut tx = self.writer.begin().await?;
        let seq = super::tickets::lock_sequence(&mut tx).await? + 1;
        insert_system_event(&mut tx, seq, kind, self.now(), actor, data).await?;
        tx.commit().await?;
        Ok(seq)
    }

    /// System events of one type, newest first.
    pub async fn system_events(&self, kind: &str, limit: i64) -> Result<Vec<(i64, DateTime<Utc>, serde_json::Value)>> {
        let rows = sqlx::query(
            "SELECT seq, at, data FROM events WHERE ticket_id IS NULL AND type = $1 ORDER BY seq DESC LIMIT $2",
        )
        .bind(kind)
        .bind(limit)
        .fetch_all(&self.pool)
        .await?;
        rows.iter()
            .map(|r| {
                let data: serde_json::Value = serde_json::from_str(&get_string(r, "data")?).unwrap_or_default();
                Ok((get_i64(r, "seq")?, super::from_millis(get_i64(r, "at")?), data["data"].clone()))
            })
            .collect()
    }
}

/// Appends system event `seq` (no ticket) in the caller's transaction and advances the event
/// counter to it; the caller holds the writers' lock (`lock_sequence`) and `seq` is one past it.
pub(super) async fn insert_system_event(
    tx: &mut sqlx::Transaction<'_, sqlx::Any>,
    seq: i64,
    kind: &str,
    at: DateTime<Utc>,
    actor: &ActorRef,
    data: &serde_json::Value,
) -> Result<()> {
    sqlx::query(
        "INSERT INTO events (seq, ticket_id, type, at, actor_id, actor, data) VALUES ($1, NULL, $2, $3, $4, $5, $6)",
    )
    .bind(seq)
    .bind(kind)
    .bind(millis(at))
    .bind(actor.user_id)
    .bind(serde_json::to_string(actor).unwrap_or_default())
    .bind(serde_json::json!({"type": kind, "data": data}).to_string())
    .execute(&mut **tx)
    .await?;
    sqlx::query("UPDATE counters SET value = $1 WHERE name = 'event_seq'").bind(seq).execute(&mut **tx).await?;
    Ok(())
}
