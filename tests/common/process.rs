//! A real `hotline serve` process on a random port, logging JSON to stderr (every line
//! kept), stopped by SIGTERM when dropped: for tests of several instances, of killing one,
//! and of what the logs say.

use std::io::{BufRead, BufReader};
use std::process::{Child, Command, Stdio};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

pub struct ServerProcess {
    pub child: Child,
    pub base: String,
    /// Its log (JSON lines), as far as written.
    log: Arc<Mutex<Vec<String>>>,
}

impl ServerProcess {
    /// Starts on `database_url` with no configuration but `env` (and JSON logs).
    pub fn start(database_url: &str, env: &[(&str, &str)]) -> ServerProcess {
        ServerProcess::start_with(&[], database_url, env)
    }

    /// Like [`ServerProcess::start`], with more arguments to `serve` (e.g. `--demo`).
    pub fn start_with(serve_args: &[&str], database_url: &str, env: &[(&str, &str)]) -> ServerProcess {
        let mut command = Command::new(env!("CARGO_BIN_EXE_hotline"));
        command.current_dir(env!("CARGO_MANIFEST_DIR"));
        for (_, var) in hotline::config::ENV_KEYS {
            command.env_remove(var);
        }
        let mut child = command
            .env_remove("HOTLINE_CONFIG")
            .env_remove("RUST_LOG")
            .args(["serve", "--addr", "127.0.0.1:0"])
            .args(serve_args)
            .env("DATABASE_URL", database_url)
            .env("HOTLINE_LOG_FORMAT", "json")
            .envs(env.iter().copied())
            .stdout(Stdio::piped())
            .stderr(Stdio::piped())
            .spawn()
            .expect("start hotline");
        let log = Arc::new(Mutex::new(Vec::new()));
        let sink = log.clone();
        let stderr = child.stderr.take().unwrap();
        std::thread::spawn(move || {
            for line in BufReader::new(stderr).lines().map_while(Result::ok) {
                sink.lock().unwrap().push(line);
            }
        });
        let mut lines = BufReader::new(child.stdout.take().unwrap()).lines();
        let base = loop {
            let line = lines.next().expect("server output").unwrap();
            if let Some(url) = line.strip_prefix("hotline listening on ") {
                break url.to_string();
            }
        };
        std::thread::spawn(move || for _ in lines {});
        ServerProcess { child, base, log }
    }

    /// Stops it as systemd would (SIGTERM), waits for it to finish (20 s at most) and returns
    /// its exit code (-1 when a signal ended it).
    pub fn stop(&mut self) -> i32 {
        let code = |status: std::process::ExitStatus| status.code().unwrap_or(-1);
        if let Ok(Some(status)) = self.child.try_wait() {
            return code(status);
        }
        let _ = Command::new("kill").args(["-TERM", &self.child.id().to_string()]).status();
        let deadline = Instant::now() + Duration::from_secs(20);
        loop {
            if let Some(status) = self.child.try_wait().expect("wait for hotline") {
                return code(status);
            }
            assert!(Instant::now() < deadline, "server did not stop on SIGTERM");
            std::thread::sleep(Duration::from_millis(50));
        }
    }

    /// Every log line so far, parsed.
    pub fn log_lines(&self) -> Vec<serde_json::Value> {
        self.log.lock().unwrap().iter().map(|l| serde_json::from_str(l).expect("a JSON log line")).collect()
    }

    /// Log lines with this message.
    pub fn logged(&self, message: &str) -> Vec<serde_json::Value> {
        self.log_lines().into_iter().filter(|l| l["fields"]["message"] == message).collect()
    }

    /// Waits until `done` holds for the lines logged so far; returns them.
    pub fn wait_for_log(&self, done: impl Fn(&[serde_json::Value]) -> bool) -> Vec<serde_json::Value> {
        let deadline = Instant::now() + Duration::from_secs(30);
        loop {
            let lines = self.log_lines();
            if done(&lines) {
                return lines;
            }
            assert!(Instant::now() < deadline, "log lines never came: {lines:?}");
            std::thread::sleep(Duration::from_millis(50));
        }
    }

    /// A bearer token for a user with the tests' password.
    pub async fn token(&self, username: &str) -> String {
        let login: serde_json::Value = reqwest::Client::new()
            .post(format!("{}/api/v1/auth/login", self.base))
            .json(&serde_json::json!({"username": username, "password": super::PASSWORD}))
            .send()
            .await
            .unwrap()
            .json()
            .await
            .unwrap();
        login["token"].as_str().expect("logged in").to_string()
    }
}

impl Drop for ServerProcess {
    fn drop(&mut self) {
        self.stop();
    }
}
