//! The orphan cleanup: stored attachments no event names (an upload that stored its file and
//! then failed to commit, or a crash in between) are deleted once older than
//! `attachment_orphan_hours`. Several instances may run it at once: deleting twice is
//! harmless, and a file is only ever an orphan before its event, never after.

use std::time::Duration;

/// How often the store is swept.
pub const SWEEP_INTERVAL: Duration = Duration::from_secs(3600);

pub async fn run(state: crate::http::AppState, shutdown: impl std::future::Future<Output = ()>) {
    tokio::pin!(shutdown);
    let older_than = chrono::Duration::hours(state.config.attachment_orphan_hours);
    loop {
        match state.blobs().remove_orphans(&state.store, state.store.now(), older_than).await {
            Ok(0) => {}
            Ok(n) => tracing::info!(removed = n, "attachment orphans removed"),
            Err(e) => tracing::warn!(error = %e, "attachment orphan sweep failed; trying again later"),
        }
        tokio::select! {
            _ = &mut shutdown => return,
            _ = tokio::time::sleep(SWEEP_INTERVAL) => {}
        }
    }
}
