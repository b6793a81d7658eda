//! Meilisearch for the tests: the server `ops/test.sh` starts for the whole run
//! (`HOTLINE_TEST_MEILI_URL`, `HOTLINE_TEST_MEILI_KEY`), each test on an index of its own; and,
//! for tests that stop and restart it, a Meilisearch process of the test's own
//! ([`MeiliProcess`], from `HOTLINE_TEST_MEILI_BIN` or `../shared/bin/meilisearch`).
//!
//! Not `MEILI_URL`: that is the server's own setting, and no test's child process should
//! pick it up by accident.

use std::path::PathBuf;
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

/// The Meilisearch the test run shares.
#[derive(Debug, Clone)]
pub struct Shared {
    pub url: String,
    pub key: Option<String>,
}

/// The run's Meilisearch, when `ops/test.sh` (or the developer) started one.
pub fn shared() -> Option<Shared> {
    let url = std::env::var("HOTLINE_TEST_MEILI_URL").ok().filter(|u| !u.is_empty())?;
    let key = std::env::var("HOTLINE_TEST_MEILI_KEY").ok().filter(|k| !k.is_empty());
    Some(Shared { url, key })
}

/// An index name no other test uses.
pub fn unique_index() -> String {
    use rand::Rng;
    format!("t_{}_{:016x}", std::process::id(), rand::thread_rng().gen::<u64>())
}

/// Deletes a test's index (best effort: the run's Meilisearch is thrown away at the end).
pub async fn drop_index(url: &str, key: Option<&str>, index: &str) {
    if let Ok(client) = meilisearch_sdk::client::Client::new(url, key) {
        let _ = client.index(index).delete().await;
    }
}

/// The Meilisearch server binary, if this machine has it.
pub fn binary() -> Option<PathBuf> {
    if let Some(bin) = std::env::var_os("HOTLINE_TEST_MEILI_BIN").filter(|b| !b.is_empty()) {
        return Some(PathBuf::from(bin));
    }
    let beside = PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../shared/bin/meilisearch");
    beside.is_file().then_some(beside)
}

/// A Meilisearch process of one test's own, on a free loopback port with a master key, that
/// the test may stop and start again (same port, same data).
pub struct MeiliProcess {
    child: Option<Child>,
    bin: PathBuf,
    dir: tempfile::TempDir,
    port: u16,
    pub url: String,
    pub key: String,
}

impl MeiliProcess {
    /// `None` when the binary is not on this machine.
    pub async fn start() -> Option<MeiliProcess> {
        let bin = binary()?;
        let port = std::net::TcpListener::bind("127.0.0.1:0").unwrap().local_addr().unwrap().port();
        let mut process = MeiliProcess {
            child: None,
            bin,
            dir: tempfile::tempdir().unwrap(),
            port,
            url: format!("http://127.0.0.1:{port}"),
            key: format!("test-master-key-{}", unique_index()),
        };
        process.start_again().await;
        Some(process)
    }

    /// Starts it (again) on the same port and data; returns once it answers.
    pub async fn start_again(&mut self) {
        assert!(self.child.is_none(), "already running");
        let log = std::fs::File::create(self.dir.path().join("meilisearch.log")).unwrap();
        let child = Command::new(&self.bin)
            .arg("--db-path")
            .arg(self.dir.path().join("data.ms"))
            .arg("--dump-dir")
            .arg(self.dir.path().join("dumps"))
            .arg("--snapshot-dir")
            .arg(self.dir.path().join("snapshots"))
            .args(["--http-addr", &format!("127.0.0.1:{}", self.port), "--master-key", &self.key])
            .args(["--no-analytics", "--log-level", "WARN"])
            .stdout(Stdio::null())
            .stderr(log)
            .spawn()
            .expect("start meilisearch");
        self.child = Some(child);
        let deadline = Instant::now() + Duration::from_secs(30);
        let health = format!("{}/health", self.url);
        loop {
            if let Ok(r) = reqwest::get(&health).await {
                if r.status().is_success() {
                    return;
                }
            }
            if let Some(status) = self.child.as_mut().unwrap().try_wait().unwrap() {
                let log = std::fs::read_to_string(self.dir.path().join("meilisearch.log")).unwrap_or_default();
                panic!("meilisearch exited ({status}): {log}");
            }
            assert!(Instant::now() < deadline, "meilisearch did not answer on {}", self.url);
            tokio::time::sleep(Duration::from_millis(50)).await;
        }
    }

    /// Stops it as an operator would (SIGTERM) and waits until it is gone.
    pub fn stop(&mut self) {
        let Some(mut child) = self.child.take() else { return };
        let _ = Command::new("kill").args(["-TERM", &child.id().to_string()]).status();
        let deadline = Instant::now() + Duration::from_secs(20);
        while child.try_wait().unwrap().is_none() {
            if Instant::now() > deadline {
                let _ = child.kill();
                let _ = child.wait();
                break;
            }
            std::thread::sleep(Duration::from_millis(20));
        }
    }
}

impl Drop for MeiliProcess {
    fn drop(&mut self) {
        self.stop();
    }
}
