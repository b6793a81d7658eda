//! Texts as a [`Channel`] of the drain (`notify::drain`): the same claiming, retrying and
//! failing as mail, with what is the texts' own said here. Before a batch is tried the domain
//! is asked, per text, whether it may go now ([`gate`]: 退订, quiet hours, the number's daily
//! limit), from two reads for the whole batch; texts go to the gateway several at a time.
//!
//! A text suppressed by 退订 is marked failed with the reason (not a try), so admins see why
//! it did not go; a text held by quiet hours or the daily limit waits, untried, until the
//! hour it may go. An unreachable gateway never fails a text, it only delays it.

use std::collections::HashMap;
use std::future::Future;
use std::sync::Arc;
use std::time::Duration;

use chrono::{DateTime, Utc};
use tokio::task::JoinHandle;

use super::{mask_number, SmsSendError, SmsTransport, Submission};
use crate::domain::sms::{beijing_day, gate, Gate, QuietHours, SmsKind};
use crate::notify::drain::{self, Admit, Channel, DrainReport, Entry, Failure, Pace};
use crate::store::queue::Outbox;
use sqlx::any::AnyRow;

use crate::store::sms::{decode, TextRecord, SMS};
use crate::store::{Store, StoreError};

/// Texts claimed at a time.
pub const BATCH: i64 = 50;
/// Refusals-for-now of one text before it is given up on.
pub const MAX_REJECTIONS: i64 = 8;
/// Texts handed to the gateway at once: Kannel's smsbox answers each sendsms request when it
/// has queued the text, so a few in flight keep it busy without flooding it.
pub const CONCURRENCY: usize = 8;

/// When texts may go.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct SmsRules {
    pub quiet: QuietHours,
    pub daily_limit: i64,
}

/// What one [`drain_once`] did (`held`: waiting for the morning or the next day).
pub type SmsDrainReport = DrainReport;

struct Texts<'a> {
    transport: &'a dyn SmsTransport,
    rules: SmsRules,
}

impl Channel for Texts<'_> {
    type Item = TextRecord;
    const OUTBOX: Outbox = SMS;
    const NOUN: &'static str = "text";
    const PACE: Pace =
        Pace { batch: BATCH, max_per_drain: 2000, max_rejections: MAX_REJECTIONS, concurrency: CONCURRENCY };

    fn timeout(&self) -> Duration {
        self.transport.timeout()
    }

    fn decode(row: &AnyRow) -> Result<TextRecord, StoreError> {
        decode(row)
    }

    fn entry(text: &TextRecord) -> Entry {
        Entry { id: text.id, attempts: text.attempts, rejections: text.rejections }
    }

    fn describe(text: &TextRecord) -> String {
        format!("{} {} to {} ({} parts)", text.id, text.kind, mask_number(&text.recipient), text.parts)
    }

    /// The batch's numbers: which replied TD, and how many counted texts each got today;
    /// a text admitted here counts against its number for the ones after it.
    async fn admit(&self, store: &Store, batch: &[TextRecord], now: DateTime<Utc>) -> Result<Vec<Admit>, StoreError> {
        let mut phones: Vec<&str> = batch.iter().map(|t| t.recipient.as_str()).collect();
        phones.sort_unstable();
        phones.dedup();
        let opted_out = store.opted_out_among(&phones).await?;
        let (today, tomorrow) = beijing_day(now);
        let mut sent_today: HashMap<String, i64> = store.texts_sent_between(&phones, today, tomorrow).await?;
        let admitted = batch.iter().map(|text| {
            let kind = SmsKind::parse(&text.kind).unwrap_or(SmsKind::Receipt);
            let count = sent_today.entry(text.recipient.clone()).or_default();
            let opted_out = opted_out.contains(&text.recipient);
            match gate(kind, now, self.rules.quiet, *count, self.rules.daily_limit, opted_out) {
                Gate::Send => {
                    if !kind.urgent() {
                        *count += 1;
                    }
                    Admit::Send
                }
                Gate::WaitUntil(at) => Admit::WaitUntil(at),
                Gate::Suppress(reason) => Admit::Suppress(reason),
            }
        });
        Ok(admitted.collect())
    }

    async fn send(&self, text: &TextRecord) -> Result<(), Failure> {
        let submission = Submission { id: text.id, to: &text.recipient, body: &text.body };
        self.transport.send(submission).await.map_err(|e| match e {
            SmsSendError::Permanent(reason) => Failure::Permanent(reason),
            SmsSendError::Deferred(reason) => Failure::Deferred(reason),
            e @ SmsSendError::Unavailable(_) => Failure::Unavailable(e.to_string()),
        })
    }
}

/// Sends what is due at `now`. Safe on several instances at once: each text is claimed by one.
pub async fn drain_once(
    store: &Store,
    transport: &dyn SmsTransport,
    rules: SmsRules,
    now: DateTime<Utc>,
) -> Result<SmsDrainReport, StoreError> {
    drain::drain(store, &Texts { transport, rules }, now).await
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
        tracing::info!(gateway = %transport.describe(), "sending queued texts");
        drain::run(store, Texts { transport: transport.as_ref(), rules }, interval, shutdown).await;
    })
}
