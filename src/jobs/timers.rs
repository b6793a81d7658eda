//! The SLA timer scheduler: fires warnings (预警), overdue (超期), auto-acceptance and the
//! late list (通报) on time, exactly once.
//!
//! It sleeps until the earliest stored timer (one indexed `MIN`), or until woken by a local
//! change that may have brought a timer forward, or for at most [`POLL`] so timers written by
//! other instances are seen within a second. Firing goes through the ordinary write path: the
//! domain looks at the ticket's own record of what already fired, inside the serialised write
//! transaction, so two instances racing for the same timer produce one event.

use super::system_actor;
use crate::domain::lifecycle::{decide_recompute, decide_timers};
use crate::http::AppState;
use crate::store::StoreError;
use chrono::{DateTime, Utc};
use std::time::Duration;

/// The longest the scheduler sleeps without looking at the store.
pub const POLL: Duration = Duration::from_secs(1);
/// Tickets fired per query of due timers.
const BATCH: i64 = 500;
/// Tickets fired per transaction.
const CHUNK: usize = 50;

/// Fires every timer due at `now`. Returns how many events that made.
pub async fn fire_due(state: &AppState, now: DateTime<Utc>) -> Result<usize, StoreError> {
    let actor = system_actor();
    let mut fired = 0;
    loop {
        let due = state.store.tickets_with_due_timers(now, BATCH).await?;
        if due.is_empty() {
            return Ok(fired);
        }
        // Fired a chunk per transaction: a burst of deadlines on one second is not thousands
        // of separate commits.
        for chunk in due.chunks(CHUNK) {
            let catalog = state.catalog();
            let changes = state
                .store
                .change_tickets(chunk, &actor, |t, at| Ok(decide_timers(t, &catalog.context(&actor, at))))
                .await?;
            for change in changes {
                fired += change.events.len();
                state.publish(&change);
            }
        }
        if (due.len() as i64) < BATCH {
            return Ok(fired);
        }
    }
}

/// Runs until `shutdown` resolves.
pub async fn run(state: AppState, shutdown: impl std::future::Future<Output = ()>) {
    tokio::pin!(shutdown);
    let wake = state.timer_wake();
    loop {
        let now = state.store.now();
        if let Err(e) = fire_due(&state, now).await {
            tracing::error!("firing SLA timers failed: {e}; retrying");
        }
        let wait = match state.store.next_timer_at().await {
            Ok(Some(next)) => (next - state.store.now()).to_std().unwrap_or(Duration::ZERO).min(POLL),
            Ok(None) => POLL,
            Err(e) => {
                tracing::error!("reading the next SLA timer failed: {e}");
                POLL
            }
        };
        state.set_timer_planned(state.store.now() + chrono::Duration::from_std(wait).unwrap_or_default());
        tokio::select! {
            _ = tokio::time::sleep(wait) => {}
            _ = wake.notified() => {}
            _ = &mut shutdown => return,
        }
    }
}

/// Recounts the deadlines of every open ticket on the calendar now in force; each change is
/// a `clocks_changed` event. Returns how many tickets changed.
pub async fn recompute_open_deadlines(state: &AppState) -> Result<usize, StoreError> {
    let actor = system_actor();
    let mut after = 0;
    let mut changed = 0;
    loop {
        let ids = state.store.open_ticket_ids_after(after, BATCH).await?;
        let Some(last) = ids.last() else { return Ok(changed) };
        after = *last;
        for id in ids {
            let catalog = state.catalog();
            let change = state
                .store
                .change_ticket(id, &actor, |t, at| Ok(decide_recompute(t, &catalog.context(&actor, at))))
                .await?;
            if !change.events.is_empty() {
                changed += 1;
                state.publish(&change);
            }
        }
    }
}
