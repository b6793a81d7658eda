//! Mail as a [`Channel`] of the drain: SMTP through the [`Mailer`], one message at a time,
//! every mail allowed to go as soon as it is due (notices outside working hours were queued
//! with a later `next_attempt_at`).

use std::future::Future;
use std::time::Duration;

use chrono::{DateTime, Utc};
use tokio::task::JoinHandle;

use super::drain::{self, Admit, Channel, DrainReport, Entry, Failure, Pace};
use super::{mask_address, Mailer, SendError};
use sqlx::any::AnyRow;

use crate::store::outbox::{decode, QueuedMail, MAIL};
use crate::store::queue::Outbox;
use crate::store::{Store, StoreError};

/// Mails claimed at a time.
pub const BATCH: i64 = 20;
/// 4xx refusals of one mail before it is given up on.
pub const MAX_REJECTIONS: i64 = 8;

struct Mail<'a>(&'a Mailer);

impl Channel for Mail<'_> {
    type Item = QueuedMail;
    const OUTBOX: Outbox = MAIL;
    const NOUN: &'static str = "mail";
    /// One SMTP conversation at a time: a relay limits connections per client, and after a
    /// failed connection the rest of the batch is not tried against a dead server.
    const PACE: Pace = Pace { batch: BATCH, max_per_drain: 200, max_rejections: MAX_REJECTIONS, concurrency: 1 };

    fn timeout(&self) -> Duration {
        self.0.timeout()
    }

    fn decode(row: &AnyRow) -> Result<QueuedMail, StoreError> {
        Ok(decode(row)?.mail)
    }

    fn entry(mail: &QueuedMail) -> Entry {
        Entry { id: mail.id, attempts: mail.attempts, rejections: mail.rejections }
    }

    fn describe(mail: &QueuedMail) -> String {
        format!("{} {} to {}", mail.id, mail.kind, mask_address(&mail.recipient))
    }

    async fn admit(&self, _: &Store, batch: &[QueuedMail], _: DateTime<Utc>) -> Result<Vec<Admit>, StoreError> {
        Ok(vec![Admit::Send; batch.len()])
    }

    async fn send(&self, mail: &QueuedMail) -> Result<(), Failure> {
        self.0.send(mail).await.map_err(|e| match e {
            SendError::Permanent(reason) => Failure::Permanent(reason),
            SendError::Deferred(reason) => Failure::Deferred(reason),
            e @ (SendError::Unavailable(_) | SendError::NotConfigured) => Failure::Unavailable(e.to_string()),
        })
    }
}

/// Sends the mail due at `now`. Safe to run on several instances at once: each mail is
/// claimed by one of them. Does nothing when the mailer has no server.
pub async fn drain_once(store: &Store, mailer: &Mailer, now: DateTime<Utc>) -> Result<DrainReport, StoreError> {
    if !mailer.is_enabled() {
        return Ok(DrainReport::default());
    }
    drain::drain(store, &Mail(mailer), now).await
}

/// Drains every `interval` until `shutdown` resolves. Without an `smtp_url` it says once that
/// mail is queued and not sent, and waits for shutdown.
///
/// Shutdown does not wait for a drain in progress: a mail claimed and not yet marked is due
/// again when its lease runs out, so it may go twice (with the same Message-ID) but is never
/// lost.
pub fn spawn_drain(
    store: Store,
    mailer: Mailer,
    interval: Duration,
    shutdown: impl Future<Output = ()> + Send + 'static,
) -> JoinHandle<()> {
    tokio::spawn(async move {
        if !mailer.is_enabled() {
            tracing::info!("mail is queued in the outbox but not sent: no smtp_url is configured");
            shutdown.await;
            return;
        }
        tracing::info!(server = %mailer.describe(), every_secs = interval.as_secs_f32(), "sending queued mail");
        drain::run(store, Mail(&mailer), interval, shutdown).await;
    })
}
