//! Checking passwords without letting logins exhaust the machine. An argon2 check holds
//! about 19 MiB of working memory and a core for tens of milliseconds, on purpose; so at most
//! one check per core runs at a time (more would only queue for the cores), each in a working
//! buffer kept for the purpose and reused, never allocated per login: a storm of logins for
//! unknown users costs the same time per answer as real ones but never more memory than
//! those buffers. A login that cannot get a turn within [`QUEUE_WAIT`] is told to try again
//! (429) instead of piling up. The buffers are kept only while logins queue for a turn: the
//! last check of a burst frees its buffer, so a server gives the memory back once the storm
//! is over (a lone login allocates and frees its 19 MiB, which costs far less than the
//! check itself).

use argon2::password_hash::{PasswordHash, Salt};
use argon2::{Algorithm, Argon2, Block, Params, Version};
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::Mutex;
use std::time::Duration;
use tokio::sync::Semaphore;

/// How long a login waits for its turn before it is answered 429.
pub const QUEUE_WAIT: Duration = Duration::from_secs(5);

/// An argon2id hash (the default parameters, as `hash_password` makes them) of a random
/// password nobody knows, checked instead of a stored hash for unknown or disabled users so
/// their refusals take the same time as a real one.
pub const DUMMY_HASH: &str =
    "$argon2id$v=19$m=19456,t=2,p=1$c29tZXNhbHRzb21lc2FsdA$3nN0bq6hQ2r8Sx1YIL6gGLrCwA3Uq8mJ1sC2x2m5Zxk";

/// The server is already checking as many passwords as it has cores for, and this login
/// waited its turn long enough.
#[derive(Debug, thiserror::Error)]
#[error("the server is checking many logins at once; try again in a moment")]
pub struct Busy;

pub struct PasswordChecks {
    turns: Semaphore,
    /// Working memory of the checks not running now, one buffer per turn at most.
    buffers: Mutex<Vec<Vec<Block>>>,
    /// Logins waiting for a turn or checking now.
    in_line: AtomicUsize,
    wait: Duration,
}

impl PasswordChecks {
    /// One check at a time per core.
    pub fn for_this_machine() -> PasswordChecks {
        let cores = std::thread::available_parallelism().map(|n| n.get()).unwrap_or(2);
        PasswordChecks::new(cores, QUEUE_WAIT)
    }

    pub fn new(concurrent: usize, wait: Duration) -> PasswordChecks {
        PasswordChecks {
            turns: Semaphore::new(concurrent.max(1)),
            buffers: Mutex::new(Vec::new()),
            in_line: AtomicUsize::new(0),
            wait,
        }
    }

    /// Whether `password` matches `hash` (`None`: no such user; the dummy hash is checked,
    /// and the answer is false).
    pub async fn verify(&self, password: String, hash: Option<String>) -> Result<bool, Busy> {
        let _in_line = InLine::join(&self.in_line);
        let _turn = tokio::time::timeout(self.wait, self.turns.acquire()).await.map_err(|_| Busy)?.map_err(|_| Busy)?;
        let mut buffer = self.buffers.lock().expect("password buffers poisoned").pop().unwrap_or_default();
        let known = hash.is_some();
        let hash = hash.unwrap_or_else(|| DUMMY_HASH.to_string());
        let (matches, buffer) = tokio::task::spawn_blocking(move || {
            let matches = verify_in(&password, &hash, &mut buffer);
            (matches, buffer)
        })
        .await
        .map_err(|_| Busy)?;
        // Kept for the next in line; the last of a burst lets it go.
        if self.in_line.load(Ordering::SeqCst) > 1 {
            self.buffers.lock().expect("password buffers poisoned").push(buffer);
        } else {
            self.buffers.lock().expect("password buffers poisoned").clear();
        }
        Ok(known && matches)
    }
}

/// One login counted in line for as long as it waits or checks, however it ends.
struct InLine<'a>(&'a AtomicUsize);

impl<'a> InLine<'a> {
    fn join(count: &'a AtomicUsize) -> InLine<'a> {
        count.fetch_add(1, Ordering::SeqCst);
        InLine(count)
    }
}

impl Drop for InLine<'_> {
    fn drop(&mut self) {
        self.0.fetch_sub(1, Ordering::SeqCst);
    }
}

/// Checks `password` against a PHC-format argon2 hash, with `memory` as the working buffer
/// (grown to the hash's memory cost once, then reused).
pub fn verify_in(password: &str, hash: &str, memory: &mut Vec<Block>) -> bool {
    let Ok(parsed) = PasswordHash::new(hash) else { return false };
    let (Some(salt), Some(expected)) = (&parsed.salt, &parsed.hash) else { return false };
    let (Ok(algorithm), Ok(params)) = (Algorithm::try_from(parsed.algorithm), Params::try_from(&parsed)) else {
        return false;
    };
    let version = match parsed.version.map(Version::try_from).transpose() {
        Ok(v) => v.unwrap_or_default(),
        Err(_) => return false,
    };
    let mut salt_bytes = [0u8; Salt::MAX_LENGTH];
    let Ok(salt) = salt.decode_b64(&mut salt_bytes) else { return false };
    let blocks = params.block_count();
    if memory.len() < blocks {
        memory.resize(blocks, Block::default());
    }
    let mut out = vec![0u8; expected.len()];
    let argon = Argon2::new(algorithm, version, params);
    if argon.hash_password_into_with_memory(password.as_bytes(), salt, &mut out, &mut memory[..blocks]).is_err() {
        return false;
    }
    // `Output`'s equality is constant-time.
    argon2::password_hash::Output::new(&out).is_ok_and(|computed| computed == *expected)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_reused_buffer_checks_like_the_library_and_the_dummy_hash_parses() {
        let hash = crate::http::auth::hash_password("correct horse");
        let mut memory = Vec::new();
        assert!(verify_in("correct horse", &hash, &mut memory));
        let size = memory.len();
        assert!(!verify_in("wrong horse", &hash, &mut memory));
        assert_eq!(memory.len(), size, "the buffer is reused, not grown");
        assert!(PasswordHash::new(DUMMY_HASH).is_ok());
        assert!(!verify_in("anything", DUMMY_HASH, &mut memory));
        assert!(!verify_in("x", "not a hash", &mut memory));
    }

    #[tokio::test]
    async fn unknown_users_are_refused_and_turns_are_bounded() {
        let checks = PasswordChecks::new(1, Duration::from_millis(1));
        let hash = crate::http::auth::hash_password("correct horse");
        assert!(checks.verify("correct horse".into(), Some(hash.clone())).await.unwrap());
        assert!(!checks.verify("correct horse".into(), None).await.unwrap());
        let held = checks.turns.acquire().await.unwrap();
        assert!(checks.verify("correct horse".into(), Some(hash)).await.is_err(), "no turn within the wait");
        drop(held);
        assert!(checks.buffers.lock().unwrap().is_empty(), "nobody in line: the working memory is given back");
        assert_eq!(checks.in_line.load(Ordering::SeqCst), 0, "a refused login leaves the line too");
    }

    #[tokio::test]
    async fn a_burst_reuses_its_buffers_and_frees_them_when_it_is_over() {
        let checks = std::sync::Arc::new(PasswordChecks::new(1, Duration::from_secs(30)));
        let hash = crate::http::auth::hash_password("correct horse");
        let burst: Vec<_> = (0..4)
            .map(|_| {
                let (checks, hash) = (checks.clone(), hash.clone());
                tokio::spawn(async move { checks.verify("correct horse".into(), Some(hash)).await.unwrap() })
            })
            .collect();
        for login in burst {
            assert!(login.await.unwrap());
        }
        assert!(checks.buffers.lock().unwrap().is_empty());
        assert_eq!(checks.in_line.load(Ordering::SeqCst), 0);
    }
}
