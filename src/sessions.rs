//! Recently checked sessions, so a busy operator's every request is not a database read,
//! and how a revocation empties them.
//!
//! A logout, a disabled account or a new password is written to the database together with
//! a `sessions_revoked` entry in the event log (`store::revocations`). The live hub of every
//! instance tails that log — woken at once by PostgreSQL `NOTIFY`, at worst by its
//! one-second poll — and calls [`SessionCache::revoke`], which drops the cached sessions
//! concerned; the same hub closes the revoked sessions' websockets. So a revoked token is
//! refused on every instance within that second, not after [`SESSION_CACHE_TTL`], which
//! only bounds how long an entry lives if the log cannot be read at all.

use crate::store::revocations::Revocation;
use crate::store::User;
use chrono::{DateTime, Utc};
use std::collections::HashMap;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::Mutex;
use std::time::{Duration, Instant};

pub const SESSION_CACHE_TTL: Duration = Duration::from_secs(10);
const SESSION_CACHE_MAX: usize = 10_000;

/// The user, when the session expires, and when it was read from the database.
type CachedSession = (User, DateTime<Utc>, Instant);

#[derive(Default)]
pub struct SessionCache {
    entries: Mutex<HashMap<String, CachedSession>>,
    /// Raised by every revocation: a session read from the database before a revocation is
    /// not cached after it (it may be the one revoked).
    generation: AtomicU64,
}

impl SessionCache {
    pub fn get(&self, token_hash: &str, now: DateTime<Utc>) -> Option<User> {
        let entries = self.entries.lock().expect("session cache poisoned");
        entries
            .get(token_hash)
            .filter(|(_, expires_at, cached)| cached.elapsed() < SESSION_CACHE_TTL && now < *expires_at)
            .map(|(u, _, _)| u.clone())
    }

    /// Taken before reading a session from the database, given back to [`Self::put`].
    pub fn generation(&self) -> u64 {
        self.generation.load(Ordering::SeqCst)
    }

    /// Caches a session read at `generation`, unless a revocation came in between.
    pub fn put(&self, token_hash: &str, user: &User, expires_at: DateTime<Utc>, generation: u64) {
        let mut entries = self.entries.lock().expect("session cache poisoned");
        if self.generation.load(Ordering::SeqCst) != generation {
            return;
        }
        if entries.len() >= SESSION_CACHE_MAX {
            entries.retain(|_, (_, _, cached)| cached.elapsed() < SESSION_CACHE_TTL);
        }
        entries.insert(token_hash.to_string(), (user.clone(), expires_at, Instant::now()));
    }

    /// Drops what a revocation ends: one session, or every session of a user.
    pub fn revoke(&self, revocation: &Revocation) {
        let mut entries = self.entries.lock().expect("session cache poisoned");
        self.generation.fetch_add(1, Ordering::SeqCst);
        match &revocation.token_hash {
            Some(hash) => {
                entries.remove(hash);
            }
            None => entries.retain(|_, (u, _, _)| u.id != revocation.user_id),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::domain::types::Role;

    fn user(id: i64) -> User {
        User {
            id,
            username: format!("u{id}"),
            display_name: String::new(),
            role: Role::Operator,
            department: None,
            password_hash: String::new(),
            active: true,
        }
    }

    #[test]
    fn a_revocation_drops_its_sessions_and_a_read_from_before_it_is_not_cached() {
        let cache = SessionCache::default();
        let later = Utc::now() + chrono::Duration::hours(1);
        let now = Utc::now();
        cache.put("a", &user(1), later, cache.generation());
        cache.put("b", &user(1), later, cache.generation());
        cache.put("c", &user(2), later, cache.generation());
        cache.revoke(&Revocation { user_id: 1, token_hash: Some("a".into()) });
        assert!(cache.get("a", now).is_none() && cache.get("b", now).is_some());
        let before = cache.generation();
        cache.revoke(&Revocation { user_id: 1, token_hash: None });
        assert!(cache.get("b", now).is_none() && cache.get("c", now).is_some());
        cache.put("b", &user(1), later, before);
        assert!(cache.get("b", now).is_none(), "read before the revocation, so not cached");
    }
}
