//! The drain: claims due mail from the outbox, sends it, and records the outcome.
//!
//! Retries back off exponentially (30 s, 1 min, 2 min … capped at an hour). A mail is given
//! up on after a 5xx reply, or after [`MAX_REJECTIONS`] 4xx refusals; an unreachable server
//! never fails a mail, it only delays it — an outage of a day costs a day, not the mail.

use std::future::Future;
use std::time::Duration;

use chrono::{DateTime, TimeDelta, Utc};
use tokio::task::JoinHandle;

use super::{mask_address, Mailer, SendError};
use crate::store::{Store, StoreError};

/// Mails claimed at a time.
pub const BATCH: i64 = 20;
/// A drain stops after this many so one busy instance does not starve its other jobs.
const MAX_PER_DRAIN: usize = 200;
/// 4xx refusals of one mail before it is given up on.
pub const MAX_REJECTIONS: i64 = 8;

const FIRST_RETRY: Duration = Duration::from_secs(30);
const LONGEST_RETRY: Duration = Duration::from_secs(3600);

/// What one [`drain_once`] did.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub struct DrainReport {
    pub claimed: usize,
    pub sent: usize,
    /// Tried and scheduled again.
    pub retried: usize,
    /// Given up on.
    pub failed: usize,
    /// Claimed but not tried because the server had just proved unreachable.
    pub released: usize,
}

/// The wait before the next try, after `attempts` tries (the one that just failed included):
/// 30 s · 2^(attempts − 1), at most an hour.
pub fn backoff(attempts: i64) -> Duration {
    let doublings = u32::try_from(attempts.saturating_sub(1).clamp(0, 16)).unwrap_or(16);
    FIRST_RETRY.saturating_mul(1 << doublings).min(LONGEST_RETRY)
}

fn at_after(now: DateTime<Utc>, wait: Duration) -> DateTime<Utc> {
    now + TimeDelta::from_std(wait).unwrap_or(TimeDelta::hours(1))
}

/// Sends what is due at `now`. Safe to run on several instances at once: each mail is
/// claimed by one of them. Does nothing when the mailer has no server.
pub async fn drain_once(store: &Store, mailer: &Mailer, now: DateTime<Utc>) -> Result<DrainReport, StoreError> {
    let mut report = DrainReport::default();
    if !mailer.is_enabled() {
        return Ok(report);
    }
    // A send is bounded by the mailer's timeout, so a batch is done well inside this lease;
    // should this process die, the batch is due again when it runs out.
    let lease = mailer.timeout().saturating_mul(BATCH as u32 + 2);
    loop {
        let batch = store.claim_mail(BATCH, lease, now).await?;
        report.claimed += batch.len();
        let mut queue = batch.iter();
        let mut unreachable_until = None;
        for mail in queue.by_ref() {
            let to = mask_address(&mail.recipient);
            let tries = mail.attempts + 1;
            match mailer.send(mail).await {
                Ok(()) => {
                    store.mark_mail_sent(mail.id, now).await?;
                    report.sent += 1;
                    tracing::info!(mail = mail.id, kind = %mail.kind, to = %to, tries, "mail sent");
                }
                Err(SendError::Permanent(reason)) => {
                    store.mark_mail_failed(mail.id, &reason, now).await?;
                    report.failed += 1;
                    tracing::warn!(mail = mail.id, kind = %mail.kind, to = %to, %reason, "mail rejected; given up");
                }
                Err(SendError::Deferred(reason)) if mail.rejections + 1 >= MAX_REJECTIONS => {
                    let reason = format!("refused {MAX_REJECTIONS} times, last: {reason}");
                    store.mark_mail_failed(mail.id, &reason, now).await?;
                    report.failed += 1;
                    tracing::warn!(mail = mail.id, kind = %mail.kind, to = %to, %reason, "mail given up");
                }
                Err(SendError::Deferred(reason)) => {
                    let next = at_after(now, backoff(tries));
                    store.mark_mail_retry(mail.id, &reason, next, true).await?;
                    report.retried += 1;
                    tracing::info!(mail = mail.id, to = %to, %reason, retry_at = %next, "mail refused for now");
                }
                Err(e @ (SendError::Unavailable(_) | SendError::NotConfigured)) => {
                    let next = at_after(now, backoff(tries));
                    let reason = e.to_string();
                    store.mark_mail_retry(mail.id, &reason, next, false).await?;
                    report.retried += 1;
                    tracing::warn!(%reason, retry_at = %next, "mail not sent; it stays queued");
                    unreachable_until = Some(next);
                    break;
                }
            }
        }
        // The rest of the batch would only wait for the same dead server, one timeout each.
        if let Some(next) = unreachable_until {
            for mail in queue {
                store.release_mail(mail.id, next).await?;
                report.released += 1;
            }
            break;
        }
        // Fewer than asked does not mean the queue is empty: another instance may have
        // claimed some of the same candidates. Only an empty claim does.
        if batch.is_empty() || report.claimed >= MAX_PER_DRAIN {
            break;
        }
    }
    Ok(report)
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
        tokio::pin!(shutdown);
        if !mailer.is_enabled() {
            tracing::info!("mail is queued in the outbox but not sent: no smtp_url is configured");
            shutdown.await;
            return;
        }
        tracing::info!(server = %mailer.describe(), every_secs = interval.as_secs_f32(), "sending queued mail");
        loop {
            tokio::select! {
                _ = &mut shutdown => break,
                result = drain_once(&store, &mailer, store.now()) => match result {
                    Ok(report) if report.claimed > 0 => tracing::debug!(?report, "mail drained"),
                    Ok(_) => {}
                    Err(e) => tracing::warn!(error = %e, "mail drain could not read or update the outbox"),
                },
            }
            tokio::select! {
                _ = &mut shutdown => break,
                _ = tokio::time::sleep(interval) => {}
            }
        }
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn backoff_doubles_from_thirty_seconds_to_an_hour() {
        let waits: Vec<u64> = (1..=9).map(|n| backoff(n).as_secs()).collect();
        assert_eq!(waits, [30, 60, 120, 240, 480, 960, 1920, 3600, 3600]);
        assert_eq!(backoff(0).as_secs(), 30);
        assert_eq!(backoff(1_000_000).as_secs(), 3600);
    }
}
