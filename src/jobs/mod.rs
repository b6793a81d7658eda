//! Background work: SLA timers, recounting deadlines when the calendar changes, and (with
//! the notify module) mail. Every job works from what is stored, so a restart loses nothing
//! and several instances do each piece of work once.

pub mod timers;

use crate::domain::lifecycle::Actor;
use crate::domain::types::Role;

/// The actor named on what the server does by itself (timers, recounts).
pub fn system_actor() -> Actor {
    Actor { user_id: 0, username: "system".into(), role: Role::Admin, department: None, units: Vec::new() }
}
