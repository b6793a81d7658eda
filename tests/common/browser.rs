//! A real browser for end-to-end tests: Debian's headless Chromium driven over WebDriver by
//! fantoccini through `/usr/bin/chromedriver` (`ops/test.sh` installs both when missing).
//! One browser per test file; screenshots go to `target/e2e-screenshots/`.

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

/// WebDriver key codes.
pub mod keys {
    pub const CONTROL: &str = "\u{E009}";
    pub const SHIFT: &str = "\u{E008}";
    pub const ALT: &str = "\u{E00A}";
    pub const ENTER: &str = "\u{E007}";
    pub const TAB: &str = "\u{E004}";
    pub const ARROW_UP: &str = "\u{E013}";
    pub const ARROW_DOWN: &str = "\u{E015}";
    /// Releases the modifier keys held down so far.
    pub const RELEASE: &str = "\u{E000}";
}

pub struct Browser {
    pub client: Client,
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
        assert!(
            std::path::Path::new(CHROMEDRIVER).exists(),
            "{CHROMEDRIVER} is missing: apt-get install -y chromium chromium-driver fonts-noto-cjk (ops/test.sh does)"
        );
        let port = free_port();
        let driver = Command::new(CHROMEDRIVER)
            .arg(format!("--port={port}"))
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .spawn()
            .expect("start chromedriver");
        let started = Instant::now();
        while std::net::TcpStream::connect(("127.0.0.1", port)).is_err() {
            assert!(started.elapsed() < WAIT, "chromedriver did not listen on {port}");
            tokio::time::sleep(Duration::from_millis(50)).await;
        }
        let profile = tempfile::tempdir().unwrap();
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
        let mut caps = serde_json::Map::new();
        caps.insert("goog:chromeOptions".into(), json!({"binary": CHROMIUM, "args": args}));
        // chromedriver speaks plain HTTP on loopback: no TLS stack needed.
        let connector = hyper_util::client::legacy::connect::HttpConnector::new();
        let client = ClientBuilder::new(connector)
            .capabilities(caps)
            .connect(&format!("http://127.0.0.1:{port}"))
            .await
            .expect("a Chromium session through chromedriver");
        let browser = Browser { client, driver, _profile: profile, base: base.to_string() };
        browser.set_size(1366, 768).await;
        browser
    }

    /// Ends the browser session (Chromium quits), then chromedriver (on drop).
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

/// A test that fails half-way does not leave chromedriver behind.
impl Drop for Browser {
    fn drop(&mut self) {
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
