//! Mail: the SMTP transport ([`Mailer`], lettre over rustls) and the drain that empties the
//! mail outbox through it ([`drain_once`], [`spawn_drain`]). The drain itself ([`drain`]) is
//! the same loop for mail and texts (`sms`): each is a [`drain::Channel`].
//!
//! What a mail says and whom it goes to is decided in `domain::notices`; queueing it is the
//! store's (`store::outbox`), in the transaction of the event that causes it. This module only
//! delivers, and records what became of each try: sent, retried later (the server could not
//! be reached, or refused for now with a 4xx reply), or given up on (a 5xx reply, a malformed
//! address, too many refusals) and left for admins to see. Without an `smtp_url` nothing is
//! sent and mail waits in the outbox.

pub mod drain;
mod mail;
pub mod sms;
mod smtp;

pub use drain::{backoff, DrainReport};
pub use mail::{drain_once, spawn_drain, BATCH, MAX_REJECTIONS};
pub use smtp::{MailConfig, MailConfigError, Mailer, SendError};

/// An address as logs show it: `c***@example.gov.cn`. Logs are read by more people, and kept
/// longer, than the outbox.
pub fn mask_address(address: &str) -> String {
    match address.trim().rsplit_once('@') {
        Some((user, domain)) => {
            let first: String = user.chars().take(1).collect();
            format!("{first}***@{domain}")
        }
        None => "***".to_string(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn addresses_are_masked_for_logs() {
        assert_eq!(mask_address("chen.wei@example.gov.cn"), "c***@example.gov.cn");
        assert_eq!(mask_address(" 王@例子.中国"), "王***@例子.中国");
        assert_eq!(mask_address("not an address"), "***");
    }
}
