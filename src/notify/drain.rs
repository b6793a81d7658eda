//! The drain, for every outbox: claims due rows, asks the channel whether each may go now,
//! sends what may, and records the outcome. Mail ([`super::drain_once`]) and texts
//! (`sms::drain_once`) are two [`Channel`]s of this one loop.
//!
//! Retries back off exponentially (30 s, 1 min, 2 min … capped at an hour). A row is given
//! up on after a permanent refusal, or after its channel's `max_rejections` refusals-for-now;
//! an unreachable far end never fails a row, it only delays it — an outage of a day costs a
//! day, not the message. Once the far end proved unreachable in a batch, the rest of the batch
//! is not tried against it.
//!
//! Per batch: one statement claims it, the channel's [`Channel::admit`] may read what it
//! needs for the whole batch at once, sends run up to the channel's `concurrency` at a time with no
//! transaction open, and one statement marks what was sent (a refusal is marked on its own).

use std::collections::BTreeMap;
use std::future::Future;
use std::sync::atomic::{AtomicBool, Ordering};
use std::time::Duration;

use chrono::{DateTime, TimeDelta, Utc};
use futures::StreamExt;

use sqlx::any::AnyRow;

use crate::store::queue::{Outbox, Unsent};
use crate::store::{Store, StoreError};

const FIRST_RETRY: Duration = Duration::from_secs(30);
const LONGEST_RETRY: Duration = Duration::from_secs(3600);

/// What one drain did.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub struct DrainReport {
    pub claimed: usize,
    pub sent: usize,
    /// Tried and scheduled again.
    pub retried: usize,
    /// Given up on (refused for good, or not to be sent at all).
    pub failed: usize,
    /// Not tried, told to wait by the channel (a text in quiet hours or over its number's
    /// daily limit).
    pub held: usize,
    /// Claimed but not tried because the far end had just proved unreachable.
    pub released: usize,
}

/// What a row says about its tries so far.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Entry {
    pub id: i64,
    /// Tries so far, not counting this one.
    pub attempts: i64,
    /// Tries the far end refused for now.
    pub rejections: i64,
}

/// Whether a claimed row may be tried now.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Admit {
    Send,
    /// Not before then; not a try.
    WaitUntil(DateTime<Utc>),
    /// Never (a number that replied TD): failed with this reason, not a try.
    Suppress(&'static str),
}

/// Why a try did not hand the row over.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Failure {
    /// Refused for good: failed now.
    Permanent(String),
    /// Refused for now: retried, and failed after `max_rejections` of these.
    Deferred(String),
    /// The far end could not be reached: retried however long it takes.
    Unavailable(String),
}

/// How a channel drains.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Pace {
    /// Rows claimed at a time.
    pub batch: i64,
    /// A drain stops after this many so one busy instance does not starve its other jobs.
    pub max_per_drain: usize,
    /// Refusals-for-now of one row before it is given up on.
    pub max_rejections: i64,
    /// Sends in flight at once.
    pub concurrency: usize,
}

/// One kind of outbox and its transport.
pub trait Channel: Send + Sync {
    type Item: Send + Sync;
    const OUTBOX: Outbox;
    /// For logs: `mail`, `text`.
    const NOUN: &'static str;
    const PACE: Pace;

    /// How long one send may take at most (a claim's lease covers a batch of them).
    fn timeout(&self) -> Duration;

    /// A claimed row of `OUTBOX` (its `columns`).
    fn decode(row: &AnyRow) -> Result<Self::Item, StoreError>;

    fn entry(item: &Self::Item) -> Entry;

    /// For logs: what the row is and to whom, masked.
    fn describe(item: &Self::Item) -> String;

    /// Whether each row of a batch may go now, in the batch's order. Mail always may.
    fn admit<'a>(
        &'a self,
        store: &'a Store,
        batch: &'a [Self::Item],
        now: DateTime<Utc>,
    ) -> impl Future<Output = Result<Vec<Admit>, StoreError>> + Send + 'a;

    fn send<'a>(&'a self, item: &'a Self::Item) -> impl Future<Output = Result<(), Failure>> + Send + 'a;
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

/// Sends what is due at `now` through `channel`. Safe to run on several instances at once:
/// each row is claimed by one of them.
pub async fn drain<C: Channel>(store: &Store, channel: &C, now: DateTime<Utc>) -> Result<DrainReport, StoreError> {
    let mut report = DrainReport::default();
    // A batch's sends are bounded by the channel's timeout, so a batch is done well inside
    // this lease; should this process die, the batch is due again when it runs out.
    let lease = channel.timeout().saturating_mul(u32::try_from(C::PACE.batch).unwrap_or(u32::MAX).saturating_add(2));
    loop {
        let rows = store.claim_due(C::OUTBOX, C::PACE.batch, lease, now).await?;
        let batch = rows.iter().map(C::decode).collect::<Result<Vec<_>, _>>()?;
        if batch.is_empty() {
            // Fewer than asked does not mean the queue is empty (another instance may have
            // claimed some of the same candidates); only an empty claim does.
            break;
        }
        report.claimed += batch.len();
        let admitted = channel.admit(store, &batch, now).await?;
        let mut to_send = Vec::with_capacity(batch.len());
        let mut held: BTreeMap<DateTime<Utc>, Vec<i64>> = BTreeMap::new();
        for (item, admit) in batch.iter().zip(admitted) {
            let id = C::entry(item).id;
            match admit {
                Admit::Send => to_send.push(item),
                Admit::WaitUntil(at) => {
                    held.entry(at).or_default().push(id);
                    report.held += 1;
                }
                Admit::Suppress(reason) => {
                    store.mark_unsent(C::OUTBOX, id, reason, Unsent::Failed { at: now, tried: false }).await?;
                    report.failed += 1;
                    tracing::info!(what = %C::describe(item), reason, "{} not sent", C::NOUN);
                }
            }
        }
        for (at, ids) in &held {
            store.release(C::OUTBOX, ids, *at).await?;
        }
        let unreachable = send_all(store, channel, &to_send, now, &mut report).await?;
        if unreachable || report.claimed >= C::PACE.max_per_drain {
            break;
        }
    }
    Ok(report)
}

/// Sends `items`, `concurrency` at a time, and records each outcome. `true` when the far end
/// proved unreachable (what was not yet tried is released to the same retry time).
async fn send_all<C: Channel>(
    store: &Store,
    channel: &C,
    items: &[&C::Item],
    now: DateTime<Utc>,
    report: &mut DrainReport,
) -> Result<bool, StoreError> {
    let down = AtomicBool::new(false);
    // The futures are made here and started by the stream (`concurrency` at a time), so one
    // started after the far end proved unreachable sees it and does not try. (Made up front
    // rather than by a closure on the stream: that keeps the drain's future `Send`.)
    let tries: Vec<_> = items.iter().map(|item| try_one(channel, item, &down)).collect();
    let outcomes: Vec<Tried<'_, C::Item>> =
        futures::stream::iter(tries).buffered(C::PACE.concurrency.max(1)).collect().await;

    let sent: Vec<i64> =
        outcomes.iter().filter(|(_, o)| matches!(o, Some(Ok(())))).map(|(item, _)| C::entry(item).id).collect();
    store.mark_sent(C::OUTBOX, &sent, now).await?;
    report.sent += sent.len();
    let mut retry_at: Option<DateTime<Utc>> = None;
    let mut untried = Vec::new();
    for (item, outcome) in outcomes {
        let Entry { id, attempts, rejections } = C::entry(item);
        let tries = attempts + 1;
        let what = C::describe(item);
        match outcome {
            Some(Ok(())) => tracing::info!(%what, tries, "{} sent", C::NOUN),
            None => untried.push(id),
            Some(Err(Failure::Permanent(reason))) => {
                store.mark_unsent(C::OUTBOX, id, &reason, Unsent::Failed { at: now, tried: true }).await?;
                report.failed += 1;
                tracing::warn!(%what, %reason, "{} refused; given up", C::NOUN);
            }
            Some(Err(Failure::Deferred(reason))) if rejections + 1 >= C::PACE.max_rejections => {
                let reason = format!("refused {} times, last: {reason}", C::PACE.max_rejections);
                store.mark_unsent(C::OUTBOX, id, &reason, Unsent::Failed { at: now, tried: true }).await?;
                report.failed += 1;
                tracing::warn!(%what, %reason, "{} given up", C::NOUN);
            }
            Some(Err(Failure::Deferred(reason))) => {
                let next = at_after(now, backoff(tries));
                store.mark_unsent(C::OUTBOX, id, &reason, Unsent::Retry { at: next, rejected: true }).await?;
                report.retried += 1;
                tracing::info!(%what, %reason, retry_at = %next, "{} refused for now", C::NOUN);
            }
            Some(Err(Failure::Unavailable(reason))) => {
                let next = at_after(now, backoff(tries));
                store.mark_unsent(C::OUTBOX, id, &reason, Unsent::Retry { at: next, rejected: false }).await?;
                report.retried += 1;
                tracing::warn!(%reason, retry_at = %next, "{} not sent; it stays queued", C::NOUN);
                retry_at = Some(retry_at.map_or(next, |at| at.min(next)));
            }
        }
    }
    // The rest would only wait for the same dead far end, one timeout each.
    if let Some(next) = retry_at {
        store.release(C::OUTBOX, &untried, next).await?;
        report.released += untried.len();
    }
    Ok(down.load(Ordering::SeqCst))
}

/// A row and what its try came to (`None`: not tried, the far end having proved unreachable).
type Tried<'a, T> = (&'a T, Option<Result<(), Failure>>);

/// One send, unless the far end proved unreachable meanwhile.
async fn try_one<'a, C: Channel>(channel: &'a C, item: &'a C::Item, down: &AtomicBool) -> Tried<'a, C::Item> {
    if down.load(Ordering::SeqCst) {
        return (item, None);
    }
    let outcome = channel.send(item).await;
    if matches!(outcome, Err(Failure::Unavailable(_))) {
        down.store(true, Ordering::SeqCst);
    }
    (item, Some(outcome))
}

/// Drains through `channel` every `interval`, and at once again after a drain that sent
/// something (a backlog goes at the far end's pace), until `shutdown` resolves.
///
/// Shutdown does not wait for a drain in progress: a row claimed and not yet marked is due
/// again when its lease runs out, so it may go twice but is never lost.
pub async fn run<C: Channel>(store: Store, channel: C, interval: Duration, shutdown: impl Future<Output = ()>) {
    tokio::pin!(shutdown);
    loop {
        let mut busy = false;
        tokio::select! {
            _ = &mut shutdown => break,
            result = drain(&store, &channel, store.now()) => match result {
                Ok(report) => {
                    busy = report.sent > 0;
                    if report.claimed > 0 {
                        tracing::debug!(?report, "{} outbox drained", C::NOUN);
                    }
                }
                Err(e) => tracing::warn!(error = %e, "{} drain could not read or update the outbox", C::NOUN),
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
