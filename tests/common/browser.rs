//! A real browser for end-to-end tests, driven over WebDriver by fantoccini: Debian's headless
//! Chromium through `/usr/bin/chromedriver`, or Debian's Firefox ESR through geckodriver (from
//! crates.io: `cargo install geckodriver`). `ops/test.sh` installs all of them when missing.
//! Screenshots go to `target/e2e-screenshots/`.

#![allow(dead_code)]

use fantoccini::{Client, ClientBuilder, Locator};
use serde_json::{json, Value};
use std::path::PathBuf;
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

/// How long a page may take to show what a step waits for. Generous: the steps wait for a
/// condition, never for a fixed time, so a slow machine only makes them slower.
pub const WAIT: Duration = Duration::from_secs(30);

pub const CHROMEDRIVER: &str = "/usr/bin/chromedriver";
pub const CHROMIUM: &str = "/usr/bin/chromium";
pub const FIREFOX: &str = "/usr/bin/firefox-esr";

/// Which browser a test drives. The pages are plain DOM and must behave the same in both.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Engine {
    Chromium,
    Firefox,
}

impl Engine {
    /// A short name for screenshot files and messages.
    pub fn name(self) -> &'static str {
        match self {
            Engine::Chromium => "chromium",
            Engine::Firefox => "firefox",
        }
    }
}

/// geckodriver as `cargo install geckodriver` leaves it: `$GECKODRIVER`, else on the PATH,
/// else in `$CARGO_HOME/bin` (or `~/.cargo/bin`), which a test's PATH may not include.
pub fn geckodriver() -> PathBuf {
    if let Some(path) = std::env::var_os("GECKODRIVER") {
        return PathBuf::from(path);
    }
    let cargo_home = std::env::var_os("CARGO_HOME")
        .map(PathBuf::from)
        .or_else(|| std::env::var_os("HOME").map(|h| PathBuf::from(h).join(".cargo")));
    std::env::var_os("PATH")
        .map(|p| std::env::split_paths(&p).collect::<Vec<_>>())
        .unwrap_or_default()
        .into_iter()
        .chain(cargo_home.map(|c| c.join("bin")))
        .map(|dir| dir.join("geckodriver"))
        .find(|candidate| candidate.is_file())
        .unwrap_or_else(|| PathBuf::from("geckodriver"))
}

/// WebDriver key codes.
pub mod keys {
    pub const CONTROL: &str = "\u{E009}";
    pub const SHIFT: &str = "\u{E008}";
    pub const ALT: &str = "\u{E00A}";
    pub const ENTER: &str = "\u{E007}";
    pub const TAB: &str = "\u{E004}";
    pub const ESCAPE: &str = "\u{E00C}";
    pub const ARROW_UP: &str = "\u{E013}";
    pub const ARROW_DOWN: &str = "\u{E015}";
    pub const ARROW_RIGHT: &str = "\u{E014}";
    /// Releases the modifier keys held down so far.
    pub const RELEASE: &str = "\u{E000}";
}

pub struct Browser {
    pub client: Client,
    pub engine: Engine,
    driver: Child,
    _profile: tempfile::TempDir,
    pub base: String,
}

fn free_port() -> u16 {
    std::net::TcpListener::bind("127.0.0.1:0").unwrap().local_addr().unwrap().port()
}

impl Browser {
    /// Starts chromedriver and a fresh headless Chromium at 1366×768.
    pub async fn start(base: &str) -> Browser {
        Browser::start_in(Engine::Chromium, base).await
    }

    /// Starts the engine's WebDriver server and a fresh headless browser at 1366×768, its
    /// pages asked for in Chinese.
    pub async fn start_in(engine: Engine, base: &str) -> Browser {
        let (driver_path, hint) = match engine {
            Engine::Chromium => (
                PathBuf::from(CHROMEDRIVER),
                "apt-get install -y chromium chromium-driver fonts-noto-cjk (ops/test.sh does)",
            ),
            Engine::Firefox => {
                assert!(
                    std::path::Path::new(FIREFOX).exists(),
                    "{FIREFOX} is missing: apt-get install -y firefox-esr (ops/test.sh does)"
                );
                (geckodriver(), "cargo install geckodriver --locked (ops/test.sh does)")
            }
        };
        assert!(driver_path.is_file(), "{} is missing: {hint}", driver_path.display());
        let port = free_port();
        let profile = tempfile::tempdir().unwrap();
        let mut command = Command::new(&driver_path);
        match engine {
            Engine::Chromium => {
                command.arg(format!("--port={port}"));
            }
            Engine::Firefox => {
                // geckodriver writes each session's profile under TMPDIR; the test's own
                // directory keeps them from piling up in /tmp.
                command.args(["--host", "127.0.0.1", "--port", &port.to_string()]).env("TMPDIR", profile.path());
            }
        }
        // A process group of its own: the browser it starts is stopped with it, even when a
        // test fails before the session is closed.
        std::os::unix::process::CommandExt::process_group(&mut command, 0);
        let driver = command
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .spawn()
            .unwrap_or_else(|e| panic!("start {}: {e}", driver_path.display()));
        let started = Instant::now();
        while std::net::TcpStream::connect(("127.0.0.1", port)).is_err() {
            assert!(started.elapsed() < WAIT, "{} did not listen on {port}", driver_path.display());
            tokio::time::sleep(Duration::from_millis(50)).await;
        }
        let mut caps = serde_json::Map::new();
        match engine {
            Engine::Chromium => {
                let args = [
                    "--headless",
                    "--no-sandbox",
                    "--disable-gpu",
                    "--disable-quic",
                    "--no-first-run",
                    "--disable-background-networking",
                    "--disable-component-update",
                    "--disable-sync",
                    "--disable-dev-shm-usage",
                    "--window-size=1366,768",
                    "--lang=zh-CN",
                ]
                .iter()
                .map(|s| s.to_string())
                .chain([format!("--user-data-dir={}", profile.path().display())])
                .collect::<Vec<_>>();
                caps.insert("goog:chromeOptions".into(), json!({"binary": CHROMIUM, "args": args}));
            }
            Engine::Firefox => {
                caps.insert(
                    "moz:firefoxOptions".into(),
                    json!({
                        "binary": FIREFOX,
                        "args": ["-headless", "--width=1366", "--height=768"],
                        "prefs": {
                            "intl.accept_languages": "zh-CN, zh",
                            // Nothing reaches outside loopback: no updates, telemetry or
                            // first-run pages.
                            "app.update.disabledForTesting": true,
                            "browser.shell.checkDefaultBrowser": false,
                            "datareporting.policy.dataSubmissionEnabled": false,
                            "toolkit.telemetry.reportingpolicy.firstRun": false,
                            "network.captive-portal-service.enabled": false,
                            "network.connectivity-service.enabled": false,
                        },
                    }),
                );
            }
        }
        // The drivers speak plain HTTP on loopback: no TLS stack needed.
        let connector = hyper_util::client::legacy::connect::HttpConnector::new();
        let client = ClientBuilder::new(connector)
            .capabilities(caps)
            .connect(&format!("http://127.0.0.1:{port}"))
            .await
            .unwrap_or_else(|e| panic!("a {} session through {}: {e}", engine.name(), driver_path.display()));
        let browser = Browser { client, engine, driver, _profile: profile, base: base.to_string() };
        browser.set_size(1366, 768).await;
        browser
    }

    /// Ends the browser session (the browser quits), then its driver (on drop).
    pub async fn stop(self) {
        let _ = self.client.clone().close().await;
    }

    pub async fn open(&self, path: &str) {
        self.client.goto(&format!("{}{}", self.base, path)).await.unwrap();
    }

    /// Logs in through the login page and waits for the role's page.
    pub async fn login(&self, username: &str, password: &str, lands_on: &str) {
        self.open("/login").await;
        self.js("localStorage.removeItem('hotline.token'); localStorage.removeItem('hotline.user');").await;
        self.open("/login").await;
        self.fill("#username", username).await;
        self.fill("#password", password).await;
        self.click("#login-submit").await;
        self.wait_for(&format!("body[data-page=\"{}\"]", lands_on.trim_start_matches('/'))).await;
    }

    pub async fn js(&self, script: &str) -> Value {
        self.client.execute(script, vec![]).await.unwrap_or_else(|e| panic!("script failed: {e}: {script}"))
    }

    /// Waits until the element exists.
    pub async fn wait_for(&self, css: &str) -> fantoccini::elements::Element {
        self.client
            .wait()
            .at_most(WAIT)
            .for_element(Locator::Css(css))
            .await
            .unwrap_or_else(|e| panic!("{css} did not appear: {e}"))
    }

    /// Waits until `condition` (a JS expression) is true; panics with `what` if it never is.
    pub async fn until(&self, condition: &str, what: &str) {
        let started = Instant::now();
        loop {
            if self.js(&format!("return !!({condition});")).await == Value::Bool(true) {
                return;
            }
            assert!(started.elapsed() < WAIT, "{what} (waited for: {condition})");
            tokio::time::sleep(Duration::from_millis(100)).await;
        }
    }

    /// The text of the first element matching `css` once it has some.
    pub async fn text(&self, css: &str) -> String {
        self.until(
            &format!("document.querySelector({css:?}) && document.querySelector({css:?}).textContent.trim()"),
            css,
        )
        .await;
        self.js(&format!("return document.querySelector({css:?}).textContent.trim();"))
            .await
            .as_str()
            .unwrap()
            .to_string()
    }

    pub async fn fill(&self, css: &str, text: &str) {
        let el = self.wait_for(css).await;
        el.clear().await.ok();
        el.send_keys(text).await.unwrap();
    }

    /// Types into whatever has the focus (the keyboard, as an operator uses it).
    pub async fn keys(&self, text: &str) {
        let active = self.client.active_element().await.unwrap();
        active.send_keys(text).await.unwrap();
    }

    /// Clicks the element; if the page re-drew it meanwhile (stale), finds it again.
    pub async fn click(&self, css: &str) {
        let started = Instant::now();
        loop {
            match self.wait_for(css).await.click().await {
                Ok(()) => return,
                Err(e) if started.elapsed() < WAIT => {
                    let _ = e;
                    tokio::time::sleep(Duration::from_millis(100)).await;
                }
                Err(e) => panic!("click {css}: {e}"),
            }
        }
    }

    pub async fn select(&self, css: &str, value: &str) {
        self.js(&format!(
            "const s = document.querySelector({css:?}); s.value = {value:?}; s.dispatchEvent(new Event('change', {{bubbles: true}}));"
        ))
        .await;
    }

    /// Sizes the window so that the page itself (the viewport) is `width`×`height`.
    pub async fn set_size(&self, width: u32, height: u32) {
        self.client.set_window_size(width, height).await.unwrap();
        let inner = self.js("return [window.innerWidth, window.innerHeight];").await;
        let (w, h) = (inner[0].as_u64().unwrap_or(0) as u32, inner[1].as_u64().unwrap_or(0) as u32);
        if (w, h) != (width, height) {
            self.client.set_window_size(2 * width - w.min(2 * width), 2 * height - h.min(2 * height)).await.unwrap();
        }
    }

    /// Saves a PNG of the page as a test artifact; returns its path.
    pub async fn screenshot(&self, name: &str) -> PathBuf {
        let dir = screenshot_dir();
        std::fs::create_dir_all(&dir).unwrap();
        let path = dir.join(format!("{name}.png"));
        std::fs::write(&path, self.client.screenshot().await.unwrap()).unwrap();
        path
    }

    /// No element overflows the page sideways (long text wraps or is clipped).
    pub async fn assert_no_horizontal_overflow(&self, page: &str) {
        let overflow = self
            .js("return document.documentElement.scrollWidth - document.documentElement.clientWidth;")
            .await
            .as_i64()
            .unwrap_or(0);
        assert!(overflow <= 0, "{page} is {overflow}px wider than the window");
    }
}

/// A test that fails half-way does not leave its driver or its browser behind.
impl Drop for Browser {
    fn drop(&mut self) {
        let group = format!("-{}", self.driver.id());
        let _ = Command::new("kill").args(["-KILL", "--", &group]).stderr(Stdio::null()).status();
        let _ = self.driver.kill();
        let _ = self.driver.wait();
    }
}

pub fn screenshot_dir() -> PathBuf {
    let target = std::env::var("CARGO_TARGET_DIR")
        .map(PathBuf::from)
        .unwrap_or_else(|_| PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("target"));
    target.join("e2e-screenshots")
}
