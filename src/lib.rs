//! 12345 hotline and ticket dispatch server.
//!
//! Layers, outermost first: [`http`] (axum handlers, thin) → [`domain`] (the rules, pure) →
//! [`store`] (SQLite or PostgreSQL). [`catalog`] reads `dispatch_rules/` from disk into
//! the domain's types; [`config`] is the one configuration struct.

pub mod accounts;
pub mod attachments;
pub mod backup;
pub mod catalog;
pub mod config;
pub mod demo;
pub mod domain;
pub mod http;
pub mod jobs;
pub mod live;
pub mod media_url;
pub mod memory;
pub mod metrics;
pub mod notify;
pub mod report;
pub mod rules_cli;
pub mod search;
pub mod sessions;
pub mod sms_inbound;
pub mod store;
pub mod suggest;
pub mod watch;

/// Logs to stderr, as text for people or JSON for collectors; `RUST_LOG` filters.
pub fn init_tracing(format: &str) {
    use tracing_subscriber::EnvFilter;
    let filter = EnvFilter::try_from_default_env().unwrap_or_else(|_| EnvFilter::new("info,sqlx=warn,tower_http=info"));
    let builder = tracing_subscriber::fmt().with_env_filter(filter).with_writer(std::io::stderr);
    let _ = if format == "json" { builder.json().try_init() } else { builder.try_init() };
}

/// Resolves on Ctrl-C or SIGTERM (what systemd and container runtimes send).
pub async fn shutdown_signal() {
    let ctrl_c = async {
        let _ = tokio::signal::ctrl_c().await;
    };
    #[cfg(unix)]
    let term = async {
        match tokio::signal::unix::signal(tokio::signal::unix::SignalKind::terminate()) {
            Ok(mut s) => {
                s.recv().await;
            }
            Err(_) => std::future::pending::<()>().await,
        }
    };
    #[cfg(not(unix))]
    let term = std::future::pending::<()>();
    tokio::select! {
        _ = ctrl_c => {},
        _ = term => {},
    }
    tracing::info!("shutting down: finishing in-flight requests");
}
