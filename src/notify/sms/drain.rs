//! The SMS drain: claims due texts, asks the domain whether each may go now (quiet hours,
//! the number's daily limit, 退订), hands it to the gateway, and records the outcome.
//!
//! Retries back off like mail (30 s doubling to an hour). A text is given up on after a
//! permanent refusal or [`MAX_REJECTIONS`] refusals-for-now; an unreachable gateway never
//! fails a text, it only delays it. A text suppressed by 退订 is marked failed with the
//! reason, so admins see why it did not go.

use std::future::Future;
use std::sync::Arc;
use std::time::Duration;

use chrono::{DateTime, TimeDelta, Utc};
use tokio::task::JoinHandle;

use super::{mask_number, SmsSendError, SmsTransport, Submission};
use crate::domain::sms::{beijing_day, gate, Gate, QuietHours, SmsKind};
use crate::notify::backoff;
use crate::store::{Store, StoreError};

/// Texts claimed at a time.
pub const BATCH: i64 = 50;
/// Refusals-for-now of one text before it is given up on.
pub const MAX_REJECTIONS: i64 = 8;
/// A drain stops after this many so one busy instance does not starve its other jobs.
const MAX_PER_DRAIN: usize = 2000;

/// When texts may go.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct SmsRules {
    pub quiet: QuietHours,
    pub daily_limit: i64,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub struct SmsDrainReport {
    pub claimed: usize,
    pub sent: usize,
    pub retried: usize,
    pub failed: usize,
    /// Held back by quiet hours or the daily limit.
    pub held: usize,
    /// Claimed but not tried because the gateway had just proved unreachable.
    pub released: usize,
}

fn at_after(now: DateTime<Utc>, wait: Duration) -> DateTime<Utc> {
    now + TimeDelta::from_std(wait).unwrap_or(TimeDelta::hours(1))
}

/// Sends what is due at `now`. Safe on several instances at once: each text is claimed by one.
pub async fn drain_once(
    store: &Store,
    transport: &dyn SmsTransport,
    rules: SmsRules,
    now: DateTime<Utc>,
) -> Result<SmsDrainReport, StoreError> {
    let mut report = SmsDrainReport::default();
    let lease = transport.timeout().saturating_mul(BATCH as u32 + 2);
    let (today, tomorrow) = beijing_day(now);
    loop {
        let batch = store.claim_texts(BATCH, lease, now).await?;
        report.claimed += batch.len();
        let mut queue = batch.iter();
        let mut unreachable_until = None;
        for text in queue.by_ref() {
            let kind = SmsKind::parse(&text.kind).unwrap_or(SmsKind::Receipt);
            let to = mask_number(&text.recipient);
            let opted_out = store.is_opted_out(&text.recipient).await?;
            let sent_today =
                if kind.urgent() { 0 } else { store.texts_sent_between(&text.recipient, today, tomorrow).await? };
            match gate(kind, now, rules.quiet, sent_today, rules.daily_limit, opted_out) {
                Gate::Send => {}
                Gate::WaitUntil(at) => {
                    store.release_text(text.id, at).await?;
                    report.held += 1;
                    continue;
                }
                Gate::Suppress(reason) => {
                    store.mark_text_failed(text.id, reason, now).await?;
                    report.failed += 1;
                    tracing::info!(sms = text.id, kind = %text.kind, to = %to, reason, "text not sent");
                    continue;
                }
            }
            let tries = text.attempts + 1;
            match transport.send(Submission { id: text.id, to: &text.recipient, body: &text.body }).await {
                Ok(()) => {
                    store.mark_text_sent(text.id, now).await?;
                    report.sent += 1;
                    tracing::info!(sms = text.id, kind = %text.kind, to = %to, tries, parts = text.parts, "text sent");
                }
                Err(SmsSendError::Permanent(reason)) => {
                    store.mark_text_failed(text.id, &reason, now).await?;
                    report.failed += 1;
                    tracing::warn!(sms = text.id, kind = %text.kind, to = %to, %reason, "text refused; given up");
                }
                Err(SmsSendError::Deferred(reason)) if text.rejections + 1 >= MAX_REJECTIONS => {
                    let reason = format!("refused {MAX_REJECTIONS} times, last: {reason}");
                    store.mark_text_failed(text.id, &reason, now).await?;
                    report.failed += 1;
                    tracing::warn!(sms = text.id, to = %to, %reason, "text given up");
                }
                Err(SmsSendError::Deferred(reason)) => {
                    let next = at_after(now, backoff(tries));
                    store.mark_text_retry(text.id, &reason, next, true).await?;
                    report.retried += 1;
                }
                Err(e @ SmsSendError::Unavailable(_)) => {
                    let next = at_after(now, backoff(tries));
                    store.mark_text_retry(text.id, &e.to_string(), next, false).await?;
                    report.retried += 1;
                    tracing::warn!(reason = %e, retry_at = %next, "SMS gateway unreachable; texts stay queued");
                    unreachable_until = Some(next);
                    break;
                }
            }
        }
        if let Some(next) = unreachable_until {
            for text in queue {
                store.release_text(text.id, next).await?;
                report.released += 1;
            }
            break;
        }
        if batch.is_empty() || report.claimed >= MAX_PER_DRAIN {
            break;
        }
    }
    Ok(report)
}

/// Drains every `interval` (at once again while there is more) until `shutdown` resolves.
pub fn spawn_drain(
    store: Store,
    transport: Arc<dyn SmsTransport>,
    rules: SmsRules,
    interval: Duration,
    shutdown: impl Future<Output = ()> + Send + 'static,
) -> JoinHandle<()> {
    tokio::spawn(async move {
        tokio::pin!(shutdown);
        tracing::info!(gateway = %transport.describe(), "sending queued texts");
        loop {
            let mut busy = false;
            tokio::select! {
                _ = &mut shutdown => break,
                result = drain_once(&store, transport.as_ref(), rules, store.now()) => match result {
                    Ok(report) => {
                        busy = report.claimed > 0 && report.sent > 0;
                        if report.claimed > 0 {
                            tracing::debug!(?report, "texts drained");
                        }
                    }
                    Err(e) => tracing::warn!(error = %e, "SMS drain could not read or update the outbox"),
                },
            }
            if busy {
                continue;
            }
            tokio::select! {
                _ = &mut shutdown => break,
                _ = tokio::time::sleep(interval) => {}
            }
        }
    })
}
