//! Reloads the dispatch catalogue when its files change, without a restart.
//!
//! Editors save in bursts (temp file, rename, chmod), so changes are gathered until the
//! directory has been quiet for a moment and then reloaded once.

use crate::domain::event::ActorRef;
use crate::domain::types::Role;
use crate::http::dispatch::reload_catalog;
use crate::http::AppState;
use notify::{RecursiveMode, Watcher};
use std::time::Duration;

const QUIET: Duration = Duration::from_millis(300);

/// The actor named on reloads nobody asked for.
pub fn system_actor() -> ActorRef {
    ActorRef { user_id: 0, username: "system".into(), role: Role::Admin, department: None }
}

/// Watches `rules_dir` for as long as the returned watcher lives.
pub fn watch_rules(state: AppState) -> notify::Result<notify::RecommendedWatcher> {
    let (tx, mut rx) = tokio::sync::mpsc::unbounded_channel::<()>();
    let mut watcher = notify::recommended_watcher(move |event: notify::Result<notify::Event>| {
        if let Ok(e) = event {
            if !e.kind.is_access() {
                let _ = tx.send(());
            }
        }
    })?;
    watcher.watch(&state.config.rules_dir, RecursiveMode::Recursive)?;
    tokio::spawn(async move {
        while rx.recv().await.is_some() {
            // Wait for the burst of writes to end.
            loop {
                match tokio::time::timeout(QUIET, rx.recv()).await {
                    Ok(Some(())) => continue,
                    Ok(None) => return,
                    Err(_) => break,
                }
            }
            // The outcome is logged and recorded as an event inside.
            let _ = reload_catalog(&state, &system_actor(), "file-watch").await;
        }
    });
    Ok(watcher)
}
