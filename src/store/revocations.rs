//! Revoked sessions as entries of the event log (`sessions_revoked`), written in the same
//! transaction as the revocation itself, so every instance's live hub, which tails the log,
//! learns of exactly the revocations stored: it empties its session cache of them and closes
//! their websockets (`crate::sessions`, `crate::live`).

use super::{get_i64, get_string, Result, Store, StoreError};
use crate::domain::event::ActorRef;
use crate::domain::types::Role;
use chrono::{DateTime, Utc};
use sqlx::{Any, Transaction};

/// The log entry's type.
pub const REVOKED_EVENT: &str = "sessions_revoked";

/// One session (`token_hash`), or every session of the user (`None`: disabled, or given a
/// new password).
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
pub struct Revocation {
    pub user_id: i64,
    pub token_hash: Option<String>,
}

/// Appends the revocation to the log in the caller's transaction and tells the other
/// instances (PostgreSQL NOTIFY, sent on commit).
pub(super) async fn log_revocation(
    store: &Store,
    tx: &mut Transaction<'_, Any>,
    revocation: &Revocation,
    actor: &str,
    at: DateTime<Utc>,
) -> Result<()> {
    let seq = super::tickets::lock_sequence(tx).await? + 1;
    let actor = ActorRef { user_id: 0, username: actor.to_string(), role: Role::Admin, department: None };
    let data = serde_json::to_value(revocation).map_err(|e| StoreError::Corrupt(format!("session revocation: {e}")))?;
    super::dispatch::insert_system_event(tx, seq, REVOKED_EVENT, at, &actor, &data).await?;
    store.notify_instances(tx, seq).await
}

impl Store {
    /// Revocations logged after `after` up to `upto`, in order: (sequence number, revocation).
    pub async fn revocations_between(&self, after: i64, upto: i64) -> Result<Vec<(i64, Revocation)>> {
        let rows = sqlx::query(
            "SELECT seq, data FROM events WHERE seq > $1 AND seq <= $2 AND ticket_id IS NULL AND type = $3 ORDER BY seq",
        )
        .bind(after)
        .bind(upto)
        .bind(REVOKED_EVENT)
        .fetch_all(&self.pool)
        .await?;
        rows.iter().map(|r| Ok((get_i64(r, "seq")?, decode(&get_string(r, "data")?)?))).collect()
    }
}

/// The revocation in a stored entry's `data`.
pub(super) fn decode(data: &str) -> Result<Revocation> {
    let value: serde_json::Value =
        serde_json::from_str(data).map_err(|e| StoreError::Corrupt(format!("session revocation: {e}")))?;
    serde_json::from_value(value["data"].clone()).map_err(|e| StoreError::Corrupt(format!("session revocation: {e}")))
}
