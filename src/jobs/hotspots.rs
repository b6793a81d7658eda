//! The hot-spot watch (未诉先办): every few minutes, intake per street × category over the
//! trailing windows is compared with its baseline (`domain::hotspots`); a rise is stored
//! once (also across instances: each run is claimed in `job_runs`, and an alert is unique per
//! cell, window and period), pushed to the supervisors' live boards (through the event log,
//! `live`) and mailed to them with the tickets behind it.

use crate::domain::hotspots::{alert_mail, rises, window_bounds, WINDOWS_HOURS};
use crate::domain::notices::NoticeSettings;
use crate::http::AppState;
use crate::store::StoreError;
use chrono::{DateTime, Utc};
use std::time::Duration;

/// How often intake is looked at.
pub const INTERVAL: Duration = Duration::from_secs(600);

/// Looks once at `now`; returns the ids of the alerts raised.
pub async fn check(state: &AppState, now: DateTime<Utc>) -> Result<Vec<i64>, StoreError> {
    let catalog = state.catalog();
    let supervisors = state.config.supervisors();
    let settings = NoticeSettings {
        public_base_url: &state.config.public_base_url,
        supervisors: &supervisors,
        policies: &catalog.policies,
    };
    let actor = crate::store::actor_ref(&super::system_actor());
    let mut raised = Vec::new();
    for window_hours in WINDOWS_HOURS {
        let (window_start, baseline_start) = window_bounds(now, window_hours);
        let cells = state.store.intake_cells(baseline_start, window_start, now).await?;
        for rise in rises(&cells, window_hours, now) {
            let tickets = state.store.cell_tickets(&rise.street, &rise.category, window_start).await?;
            let Some(alert) = state.store.raise_hotspot(&rise, &tickets, &actor, now).await? else { continue };
            // The supervisors' boards here hear of it now; other instances' by NOTIFY.
            state.live().wake();
            for mail in alert_mail(&rise, alert.id, &alert.numbers, &catalog.district, &settings) {
                state.store.enqueue_mail_now(&mail).await?;
            }
            tracing::info!(street = %rise.street, category = %rise.category, window_hours, count = rise.count, "hot spot raised");
            raised.push(alert.id);
        }
    }
    Ok(raised)
}

/// Runs [`check`] every [`INTERVAL`], once per interval across instances, until `shutdown`.
pub async fn run(state: AppState, shutdown: impl std::future::Future<Output = ()>) {
    tokio::pin!(shutdown);
    loop {
        let now = state.store.now();
        let slot = chrono::DateTime::from_timestamp(now.timestamp() / 600 * 600, 0).unwrap_or(now);
        match state.store.claim_job_run("hotspots", slot).await {
            Ok(true) => {
                let outcome = match check(&state, now).await {
                    Ok(raised) => format!("raised {}", raised.len()),
                    Err(e) => {
                        tracing::warn!(error = %e, "hot-spot watch failed");
                        format!("failed: {e}")
                    }
                };
                let _ = state.store.finish_job_run("hotspots", slot, &outcome).await;
            }
            Ok(false) => {}
            Err(e) => tracing::warn!(error = %e, "hot-spot watch could not claim its run"),
        }
        tokio::select! {
            _ = &mut shutdown => return,
            _ = tokio::time::sleep(INTERVAL) => {}
        }
    }
}
