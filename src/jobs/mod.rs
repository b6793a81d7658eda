//! Background work: SLA timers, recounting deadlines when the calendar changes, and (with
//! the notify module) mail. Every job works from what is stored, so a restart loses nothing
//! and several instances do each piece of work once.

pub mod attachments;
pub mod hotspots;
pub mod schedule;
pub mod timers;

use crate::domain::lifecycle::Actor;
use crate::domain::types::Role;

/// The actor named on what the server does by itself (timers, recounts).
pub fn system_actor() -> Actor {
    Actor { user_id: 0, username: "system".into(), role: Role::Admin, department: None, units: Vec::new() }
}

/// Starts every background job of a server: the live hub (and its PostgreSQL listener), SLA
/// timers, the mail drain and the cron jobs.
/// `shutdown` makes one stop signal per job.
pub fn spawn_all<F, S>(
    state: &crate::http::AppState,
    mailer: crate::notify::Mailer,
    shutdown: S,
) -> Result<Vec<tokio::task::JoinHandle<()>>, String>
where
    S: Fn() -> F,
    F: std::future::Future<Output = ()> + Send + 'static,
{
    let scheduled = schedule::jobs(&state.config)?;
    let mut handles = vec![tokio::spawn(state.live().clone().run(state.store.clone(), shutdown()))];
    if state.store.backend() == crate::store::Backend::Postgres {
        // Aborted rather than stopped: it only wakes the hub.
        let listener = tokio::spawn(crate::live::listen_postgres(
            state.config.database_url.clone(),
            state.live().clone(),
            state.store.instance(),
        ));
        let stop = shutdown();
        handles.push(tokio::spawn(async move {
            stop.await;
            listener.abort();
        }));
    }
    handles.extend([
        tokio::spawn(timers::run(state.clone(), shutdown())),
        crate::notify::spawn_drain(state.store.clone(), mailer, MAIL_INTERVAL, shutdown()),
        tokio::spawn(schedule::run(state.clone(), scheduled, shutdown())),
        crate::search::drain::spawn_drain(state.store.clone(), state.search().clone(), SEARCH_INTERVAL, shutdown()),
        tokio::spawn(hotspots::run(state.clone(), shutdown())),
        tokio::spawn(attachments::run(state.clone(), shutdown())),
    ]);
    // Texts wait in the outbox while no gateway is configured (an outage of any length).
    let kannel = crate::notify::sms::Kannel::new(state.config.sms_gateway());
    if kannel.is_enabled() {
        let rules = crate::notify::sms::SmsRules {
            quiet: state.config.sms_quiet().map_err(|e| e.to_string())?,
            daily_limit: state.config.sms_daily_limit,
        };
        handles.push(crate::notify::sms::spawn_drain(
            state.store.clone(),
            std::sync::Arc::new(kannel),
            rules,
            SMS_INTERVAL,
            shutdown(),
        ));
    } else {
        tracing::info!("texts are queued in the SMS outbox but not sent: no sms_gateway_url is configured");
    }
    Ok(handles)
}

/// How often the search outbox is looked at: a new ticket is findable within about this.
pub const SEARCH_INTERVAL: std::time::Duration = std::time::Duration::from_millis(500);

/// How often queued texts are looked at when the outbox was empty.
pub const SMS_INTERVAL: std::time::Duration = std::time::Duration::from_millis(500);

/// How often queued mail is looked at.
pub const MAIL_INTERVAL: std::time::Duration = std::time::Duration::from_secs(5);
