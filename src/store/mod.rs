//! Persistence: SQLite and PostgreSQL behind one interface.
//!
//! SQL is written once, with `$1…$N` placeholders that both drivers accept, and run through
//! sqlx's `Any` driver; the two dialects differ only in their migration folders. The backend
//! is picked once, from the URL prefix.
//!
//! Every change to a ticket goes through [`Store::change_ticket`] (or `create_ticket` /
//! `merge_tickets`): lock the event counter, load, decide (domain), append events, write the
//! projection, commit. Taking the counter lock first orders all writers, so sequence numbers
//! are gap-free and become visible in order — what a reader resuming from a number needs.

pub mod accounts;
pub mod assessment;
pub mod attachments;
pub mod copy;
pub mod cti;
pub mod dashboard;
pub mod dispatch;
pub mod gauges;
pub mod hotspots;
pub mod intake;
pub mod jobs;
pub mod kb;
pub mod open311;
pub mod outbox;
pub mod queue;
pub mod revocations;
pub mod search;
pub mod sms;
mod sql;
pub mod suggest;
mod tickets;
pub mod users;

pub use sql::Sql;
pub use tickets::{actor_ref, Change, TicketFilter, TicketPage, CLOCK_RUNNING};
pub use users::{NewUser, User};

use chrono::{DateTime, TimeZone, Utc};
use sqlx::any::{AnyPoolOptions, AnyRow};
use sqlx::{AnyPool, Executor, Row};
use std::sync::Arc;
use std::time::Duration;

use crate::domain::lifecycle::DecisionError;

#[derive(Debug, thiserror::Error)]
pub enum StoreError {
    #[error("not found")]
    NotFound,
    #[error(transparent)]
    Rejected(#[from] DecisionError),
    #[error("{0}")]
    Conflict(String),
    #[error("database error: {0}")]
    Database(#[from] sqlx::Error),
    #[error("migration failed: {0}")]
    Migrate(#[from] sqlx::migrate::MigrateError),
    #[error("stored data is corrupt: {0}")]
    Corrupt(String),
    #[error("{0}")]
    Config(String),
    #[error("{0}")]
    Unavailable(String),
}

pub type Result<T, E = StoreError> = std::result::Result<T, E>;

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Backend {
    Sqlite,
    Postgres,
}

impl Backend {
    pub fn from_url(url: &str) -> Result<Backend> {
        if url.starts_with("sqlite:") {
            Ok(Backend::Sqlite)
        } else if url.starts_with("postgres://") || url.starts_with("postgresql://") {
            Ok(Backend::Postgres)
        } else {
            Err(StoreError::Config(format!(
                "database URL must start with sqlite:// or postgres:// (got \"{}\")",
                url.split(':').next().unwrap_or_default()
            )))
        }
    }
}

/// The mail a committed event causes, each with the instant it may be sent from. Set once at
/// start-up; called inside the write transaction so a notice is queued with its event or
/// not at all.
pub type Notifier = Arc<
    dyn Fn(
            &crate::domain::event::Event,
            &crate::domain::ticket::Ticket,
        ) -> Vec<(crate::domain::notices::OutgoingMail, DateTime<Utc>)>
        + Send
        + Sync,
>;

/// The texts (短信) a committed event causes, each with the instant it may go from; like the
/// [`Notifier`], called inside the write transaction.
pub type Texter = Arc<
    dyn Fn(
            &crate::domain::event::Event,
            &crate::domain::ticket::Ticket,
        ) -> Vec<(crate::domain::sms::OutgoingText, DateTime<Utc>)>
        + Send
        + Sync,
>;

/// Where "now" comes from; tests move it to check deadlines.
pub type Clock = Arc<dyn Fn() -> DateTime<Utc> + Send + Sync>;

pub fn system_clock() -> Clock {
    Arc::new(Utc::now)
}

#[derive(Clone)]
pub struct Store {
    backend: Backend,
    /// Readers. On PostgreSQL also the writers.
    pool: AnyPool,
    /// SQLite allows one writer at a time; a one-connection pool queues writers in the
    /// process instead of letting them collide on SQLITE_BUSY.
    writer: AnyPool,
    clock: Clock,
    notifier: Option<Notifier>,
    texter: Option<Texter>,
    /// This process's mark on the commits it announces (PostgreSQL `NOTIFY`), so that its own
    /// live hub, told of them directly, can leave them to that.
    instance: u64,
}

impl Store {
    /// Connects, creating the SQLite file (and its folder) if needed, and migrates.
    pub async fn connect(url: &str, max_connections: u32, clock: Clock) -> Result<Store> {
        let store = Store::open(url, max_connections, clock).await?;
        store.migrate().await?;
        Ok(store)
    }

    /// Connects without migrating: `hotline backup` reads a database as it is.
    pub async fn open(url: &str, max_connections: u32, clock: Clock) -> Result<Store> {
        sqlx::any::install_default_drivers();
        let backend = Backend::from_url(url)?;
        let store = match backend {
            Backend::Sqlite => {
                let url = sqlite_url(url)?;
                let writer = AnyPoolOptions::new()
                    .max_connections(1)
                    .acquire_timeout(Duration::from_secs(30))
                    .after_connect(sqlite_pragmas)
                    .connect(&url)
                    .await?;
                let pool = AnyPoolOptions::new()
                    .max_connections(max_connections.max(2))
                    .after_connect(sqlite_pragmas)
                    .connect(&url)
                    .await?;
                Store {
                    backend,
                    pool,
                    writer,
                    clock: clock.clone(),
                    notifier: None,
                    texter: None,
                    instance: rand::random(),
                }
            }
            Backend::Postgres => {
                let pool = AnyPoolOptions::new()
                    .max_connections(max_connections)
                    .acquire_timeout(Duration::from_secs(10))
                    .after_connect(postgres_settings)
                    .connect(url)
                    .await?;
                Store {
                    backend,
                    writer: pool.clone(),
                    pool,
                    clock,
                    notifier: None,
                    texter: None,
                    instance: rand::random(),
                }
            }
        };
        Ok(store)
    }

    async fn migrate(&self) -> Result<()> {
        match self.backend {
            Backend::Sqlite => sqlx::migrate!("migrations/sqlite").run(&self.writer).await?,
            Backend::Postgres => {
                // Two instances starting together must not both migrate.
                sqlx::migrate!("migrations/postgres").run(&self.writer).await?
            }
        }
        Ok(())
    }

    pub fn backend(&self) -> Backend {
        self.backend
    }

    /// The mark this store puts on the commits it announces to other instances.
    pub fn instance(&self) -> u64 {
        self.instance
    }

    /// The current time, to the millisecond: what is stored is exactly what was decided on,
    /// so a projection rebuilt from the log equals the one written at the time.
    pub fn now(&self) -> DateTime<Utc> {
        from_millis(millis((self.clock)()))
    }

    /// The same store, queueing the mail `notifier` says each event causes.
    pub fn with_notifier(&self, notifier: Notifier) -> Store {
        Store { notifier: Some(notifier), ..self.clone() }
    }

    /// The same store, queueing the texts `texter` says each event causes.
    pub fn with_texter(&self, texter: Texter) -> Store {
        Store { texter: Some(texter), ..self.clone() }
    }

    /// The same store with another clock (the demo generator writes history in the past).
    pub fn with_clock(&self, clock: Clock) -> Store {
        Store { clock, ..self.clone() }
    }

    /// For `/readyz`.
    pub async fn ping(&self) -> Result<()> {
        sqlx::query("SELECT 1").execute(&self.pool).await?;
        Ok(())
    }

    pub async fn close(&self) {
        self.writer.close().await;
        self.pool.close().await;
    }
}

/// WAL lets readers work while the writer commits; NORMAL sync is safe with WAL (a power
/// cut loses at most the last transactions, never the file).
fn sqlite_pragmas(
    conn: &mut sqlx::AnyConnection,
    _meta: sqlx::pool::PoolConnectionMetadata,
) -> futures::future::BoxFuture<'_, Result<(), sqlx::Error>> {
    Box::pin(async move {
        conn.execute(
            "PRAGMA journal_mode = WAL; PRAGMA synchronous = NORMAL; PRAGMA busy_timeout = 10000; PRAGMA foreign_keys = ON;",
        )
        .await?;
        Ok(())
    })
}

/// PostgreSQL compiles a statement it plans as expensive (a year-wide count, a search over
/// most tickets) to machine code first; that costs 100–500 ms, more than such a statement
/// takes on our indexes (measured at 1,000,000 tickets), and gains nothing on statements
/// that run in well under a second. Off for our connections. The default 4 MB of memory per
/// sort or bitmap turned the bitmap of a common word's hits (92,500 of 1,000,000 tickets) lossy,
/// so every document of every page it touched was read and rechecked (815 ms to count 物业,
/// 424 ms with 16 MB: ops/bench/RESULTS.md).
fn postgres_settings(
    conn: &mut sqlx::AnyConnection,
    _meta: sqlx::pool::PoolConnectionMetadata,
) -> futures::future::BoxFuture<'_, Result<(), sqlx::Error>> {
    Box::pin(async move {
        conn.execute("SET jit = off").await?;
        conn.execute("SET work_mem = '16MB'").await?;
        Ok(())
    })
}

/// Makes `sqlite://data/hotline.db` create its folder and file.
fn sqlite_url(url: &str) -> Result<String> {
    let rest = url.trim_start_matches("sqlite://").trim_start_matches("sqlite:");
    let (path, query) = rest.split_once('?').unwrap_or((rest, ""));
    if path != ":memory:" && !path.is_empty() {
        if let Some(parent) = std::path::Path::new(path).parent().filter(|p| !p.as_os_str().is_empty()) {
            std::fs::create_dir_all(parent)
                .map_err(|e| StoreError::Config(format!("cannot create database folder {}: {e}", parent.display())))?;
        }
    }
    let mode = if query.contains("mode=") { String::new() } else { "mode=rwc".to_string() };
    let joined = [query, &mode].iter().filter(|s| !s.is_empty()).copied().collect::<Vec<_>>().join("&");
    Ok(format!("sqlite://{path}?{joined}"))
}

pub fn millis(t: DateTime<Utc>) -> i64 {
    t.timestamp_millis()
}

pub fn from_millis(ms: i64) -> DateTime<Utc> {
    Utc.timestamp_millis_opt(ms).single().unwrap_or_default()
}

pub(crate) fn get_i64(row: &AnyRow, col: &str) -> Result<i64> {
    Ok(row.try_get::<i64, _>(col)?)
}

pub(crate) fn get_string(row: &AnyRow, col: &str) -> Result<String> {
    Ok(row.try_get::<String, _>(col)?)
}

pub(crate) fn get_opt_i64(row: &AnyRow, col: &str) -> Result<Option<i64>> {
    Ok(row.try_get::<Option<i64>, _>(col)?)
}

pub(crate) fn get_opt_string(row: &AnyRow, col: &str) -> Result<Option<String>> {
    Ok(row.try_get::<Option<String>, _>(col)?)
}
