//! 短信: the SMS transport ([`SmsTransport`]; Kannel over its HTTP sendsms interface is
//! [`Kannel`]) and the drain that empties the SMS outbox through it ([`drain_once`],
//! [`spawn_drain`]).
//!
//! Which text goes when is decided in `domain::sms`, queueing is the store's
//! (`store::sms`), in the event's transaction. A centre's own gateway or a cloud SMS provider
//! is another [`SmsTransport`].

mod drain;
mod kannel;

pub use drain::{drain_once, spawn_drain, SmsDrainReport, SmsRules, BATCH, CONCURRENCY, MAX_REJECTIONS};
pub use kannel::{Kannel, KannelConfig};

use std::future::Future;
use std::pin::Pin;

/// Why a text was not handed over.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum SmsSendError {
    /// The gateway refused this text for good (a malformed number, a text it will not take).
    #[error("refused: {0}")]
    Permanent(String),
    /// The gateway refused it for now (its queue is full, the account is throttled).
    #[error("refused for now: {0}")]
    Deferred(String),
    /// The gateway could not be reached: every text waits.
    #[error("gateway unreachable: {0}")]
    Unavailable(String),
}

/// A text to hand over: the outbox id travels with it so delivery reports find their row.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Submission<'a> {
    pub id: i64,
    pub to: &'a str,
    pub body: &'a str,
}

pub type SendFuture<'a> = Pin<Box<dyn Future<Output = Result<(), SmsSendError>> + Send + 'a>>;

/// Hands a text to an SMS gateway. `Ok` means the gateway took responsibility for it
/// (delivery is reported later, by its callback).
pub trait SmsTransport: Send + Sync {
    fn send<'a>(&'a self, text: Submission<'a>) -> SendFuture<'a>;
    /// For logs: where texts go, without secrets.
    fn describe(&self) -> String;
    /// How long one send may take at most.
    fn timeout(&self) -> std::time::Duration;
}

/// A number as logs show it: 138****8000.
pub fn mask_number(phone: &str) -> String {
    crate::domain::privacy::mask_phone(phone)
}
