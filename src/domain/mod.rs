//! The rules of the hotline, as plain Rust: no database, no HTTP, no clock of its own.
//! Everything here is tested by unit tests that run in milliseconds.

pub mod accounts;
pub mod assessment;
pub mod attachments;
pub mod calendar;
pub mod callbacks;
pub mod clocks;
pub mod cti;
pub mod demo_gen;
pub mod demo_kb;
pub mod diagnostic;
pub mod district;
pub mod emergency;
pub mod event;
pub mod hotspots;
pub mod initials;
pub mod intake;
pub mod kb;
pub mod lifecycle;
pub mod merging;
pub mod notices;
pub mod open311;
pub mod privacy;
pub mod public;
pub mod rules;
pub mod search;
pub mod search_words;
pub mod similar;
pub mod sla;
pub mod sms;
pub mod suggest;
#[cfg(test)]
mod test_support;
pub mod text;
pub mod ticket;
pub mod types;
