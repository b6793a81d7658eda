//! A real server on a random port, on a database of its own, for every test.
//!
//! Each test runs once per backend: SQLite in a temporary file, and PostgreSQL in a schema
//! of its own inside the `test` database on 127.0.0.1:5432 (`HOTLINE_TEST_PG_URL` to change).

#![allow(dead_code)]

pub mod files;
pub mod kannel;
pub mod meili;
pub mod process;
pub mod sip;

use hotline::catalog::Catalog;
use hotline::config::Config;
use hotline::domain::types::Role;
use hotline::http::auth::hash_password;
use hotline::http::AppState;
use hotline::store::{Clock, NewUser, Store};
use reqwest::{Client, Method, StatusCode};
use serde_json::{json, Value};
use std::path::PathBuf;
use std::sync::atomic::{AtomicI64, Ordering};
use std::sync::{Arc, OnceLock};

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Backend {
    Sqlite,
    Postgres,
}

/// Runs an async test body once on SQLite and once on PostgreSQL.
#[macro_export]
macro_rules! both_backends {
    ($($name:ident),+ $(,)?) => {
        $(
            mod $name {
                #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
                async fn sqlite() {
                    super::$name($crate::common::Backend::Sqlite).await
                }
                #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
                async fn postgres() {
                    super::$name($crate::common::Backend::Postgres).await
                }
            }
        )+
    };
}

/// Where a search-related test keeps its index: the embedded one in SQLite or PostgreSQL, or
/// Meilisearch (the run's server, an index of the test's own; the tickets in PostgreSQL, the
/// shape of a city with several instances).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Index {
    Embedded(Backend),
    Meili,
}

/// Runs an async test body on the embedded index (SQLite, PostgreSQL) and on Meilisearch;
/// the Meilisearch variant says SKIPPED when the run has no Meilisearch (`ops/test.sh`
/// starts one from `../shared/bin/meilisearch`).
#[macro_export]
macro_rules! every_index {
    ($($name:ident),+ $(,)?) => {
        $(
            mod $name {
                use $crate::common::{Backend, Index};
                #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
                async fn sqlite() {
                    super::$name(Index::Embedded(Backend::Sqlite)).await
                }
                #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
                async fn postgres() {
                    super::$name(Index::Embedded(Backend::Postgres)).await
                }
                #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
                async fn meilisearch() {
                    if $crate::common::meili::shared().is_none() {
                        println!("SKIPPED: {} on Meilisearch — HOTLINE_TEST_MEILI_URL is not set (ops/test.sh sets it)", stringify!($name));
                        return;
                    }
                    super::$name(Index::Meili).await
                }
            }
        )+
    };
}

pub fn rules_dir() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("dispatch_rules")
}

pub fn pg_base_url() -> String {
    std::env::var("HOTLINE_TEST_PG_URL").unwrap_or_else(|_| "postgres://postgres@127.0.0.1:5432/test".into())
}

/// A fresh, empty database URL for one test.
pub async fn fresh_database(backend: Backend) -> (String, Option<tempfile::TempDir>) {
    let unique = format!("t_{}_{}", std::process::id(), rand_suffix());
    match backend {
        Backend::Sqlite => {
            let dir = tempfile::tempdir().expect("tempdir");
            let url = format!("sqlite://{}/hotline.db", dir.path().display());
            (url, Some(dir))
        }
        Backend::Postgres => {
            use sqlx::Executor;
            sqlx::any::install_default_drivers();
            let mut conn = <sqlx::AnyConnection as sqlx::Connection>::connect(&pg_base_url())
                .await
                .expect("PostgreSQL must be running on 127.0.0.1:5432 (see README: .ci/run starts it)");
            conn.execute(format!("CREATE SCHEMA {unique}").as_str()).await.expect("create schema");
            let sep = if pg_base_url().contains('?') { '&' } else { '?' };
            (format!("{}{sep}options=-c%20search_path%3D{unique}", pg_base_url()), None)
        }
    }
}

fn rand_suffix() -> String {
    use rand::Rng;
    let n: u64 = rand::thread_rng().gen();
    format!("{n:016x}")
}

/// A clock that runs at the real pace from wherever the test puts it, and that the test
/// can move forward: the server's timers sleep real time towards it.
#[derive(Clone)]
pub struct TestClock(Arc<AtomicI64>);

impl TestClock {
    pub fn starting_now() -> TestClock {
        TestClock(Arc::new(AtomicI64::new(0)))
    }
    /// Starts the clock at an instant (it runs on from there).
    pub fn at(rfc3339: &str) -> TestClock {
        let t = chrono::DateTime::parse_from_rfc3339(rfc3339).unwrap();
        TestClock(Arc::new(AtomicI64::new(t.timestamp_millis() - chrono::Utc::now().timestamp_millis())))
    }
    pub fn advance_minutes(&self, minutes: i64) {
        self.0.fetch_add(minutes * 60_000, Ordering::SeqCst);
    }
    pub fn advance_millis(&self, millis: i64) {
        self.0.fetch_add(millis, Ordering::SeqCst);
    }
    pub fn now(&self) -> chrono::DateTime<chrono::Utc> {
        hotline::store::from_millis(chrono::Utc::now().timestamp_millis() + self.0.load(Ordering::SeqCst))
    }
    pub fn clock(&self) -> Clock {
        let me = self.clone();
        Arc::new(move || me.now())
    }
}

pub struct TestServer {
    pub base: String,
    pub store: Store,
    pub state: AppState,
    pub mailer: hotline::notify::Mailer,
    pub client: Client,
    pub clock: TestClock,
    pub backend: Backend,
    shutdown: Option<tokio::sync::oneshot::Sender<()>>,
    handle: Option<tokio::task::JoinHandle<()>>,
    _dir: Option<tempfile::TempDir>,
    _attachments: tempfile::TempDir,
    _watcher: Option<notify::RecommendedWatcher>,
}

/// Password hashing is slow on purpose; tests hash once and reuse it.
fn test_password_hash() -> &'static str {
    static HASH: OnceLock<String> = OnceLock::new();
    HASH.get_or_init(|| hash_password("secret-pass"))
}

pub const PASSWORD: &str = "secret-pass";

async fn seed_users(store: &Store, catalog: &Catalog) {
    let mut users: Vec<NewUser> = USERS
        .iter()
        .map(|(u, r, d)| NewUser {
            username: u.to_string(),
            display_name: u.to_string(),
            role: *r,
            department: d.map(String::from),
            password_hash: test_password_hash().to_string(),
        })
        .collect();
    for d in &catalog.district.departments {
        users.push(NewUser {
            username: d.code.clone(),
            display_name: d.name.clone(),
            role: Role::Department,
            department: Some(d.code.clone()),
            password_hash: test_password_hash().to_string(),
        });
    }
    store.create_users(&users).await.unwrap();
}

/// The users every test has: the centre's roles and a few departments.
pub const USERS: &[(&str, Role, Option<&str>)] = &[
    ("operator", Role::Operator, None),
    ("dispatcher", Role::Dispatcher, None),
    ("supervisor", Role::Supervisor, None),
    ("admin", Role::Admin, None),
];

impl TestServer {
    pub async fn start(backend: Backend) -> TestServer {
        Self::start_with(backend, TestClock::starting_now(), Config::default()).await
    }

    pub async fn start_with(backend: Backend, clock: TestClock, config: Config) -> TestServer {
        let (url, dir) = fresh_database(backend).await;
        Self::start_on(backend, url, dir, clock, config, true).await
    }

    /// A server whose search index is `index` (see [`Index`]); Meilisearch's settings are in
    /// force when this returns.
    pub async fn start_indexed(index: Index, clock: TestClock, config: Config) -> TestServer {
        match index {
            Index::Embedded(backend) => Self::start_with(backend, clock, config).await,
            Index::Meili => {
                let shared = meili::shared().expect("the Meilisearch variant runs only with HOTLINE_TEST_MEILI_URL");
                let config = Config {
                    meili_url: Some(shared.url),
                    meili_key: shared.key,
                    meili_index: meili::unique_index(),
                    ..config
                };
                let server = Self::start_with(Backend::Postgres, clock, config).await;
                server.state.search().prepare().await.expect("Meilisearch index created and its settings applied");
                server
            }
        }
    }

    /// A server on an existing database (a second instance, say); `seed` creates the users.
    pub async fn start_on(
        backend: Backend,
        url: String,
        dir: Option<tempfile::TempDir>,
        clock: TestClock,
        config: Config,
        seed: bool,
    ) -> TestServer {
        // A test that edits the rules passes a copy; the others use the shipped files.
        let custom_rules = config.rules_dir != Config::default().rules_dir;
        let rules = if custom_rules { config.rules_dir.clone() } else { rules_dir() };
        let catalog = Catalog::load(&rules).expect("dispatch_rules load");
        let store = Store::connect(&url, 5, clock.clock()).await.expect("connect");
        store.sync_departments(&catalog.department_rows()).await.unwrap();
        if seed {
            seed_users(&store, &catalog).await;
        }
        // Attachments go to a folder of this server's own unless the test names one (or S3).
        let attachments = tempfile::tempdir().expect("attachments folder");
        let attachments_dir = if config.attachments_dir == Config::default().attachments_dir {
            attachments.path().join("files")
        } else {
            config.attachments_dir.clone()
        };
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
        let base = format!("http://{}", listener.local_addr().unwrap());
        // An SMS gateway's delivery reports come back to this server unless the test says where.
        let sms_callback_url = config.sms_callback_url.clone().or_else(|| Some(base.clone()));
        let config = Config { database_url: url, rules_dir: rules, attachments_dir, sms_callback_url, ..config };
        let state = AppState::new(store.clone(), config, catalog).expect("search backend");
        let watcher =
            if custom_rules { Some(hotline::watch::watch_rules(state.clone()).expect("watch rules")) } else { None };
        let (tx, rx) = tokio::sync::oneshot::channel::<()>();
        // The same background jobs as `hotline serve`: SLA timers, mail drain, cron jobs.
        let mailer = hotline::notify::Mailer::new(&state.config.mail_config()).expect("mail configuration");
        let (stop_jobs, jobs_stopped) = tokio::sync::watch::channel(());
        let jobs = hotline::jobs::spawn_all(&state, mailer.clone(), move || {
            let mut rx = jobs_stopped.clone();
            async move {
                let _ = rx.changed().await;
            }
        })
        .expect("jobs");
        let serving = state.clone();
        let handle = tokio::spawn(async move {
            hotline::http::serve(listener, serving, async {
                let _ = rx.await;
            })
            .await
            .unwrap();
            let _ = stop_jobs.send(());
            for job in jobs {
                let _ = job.await;
            }
        });
        TestServer {
            base,
            store,
            state,
            mailer,
            client: Client::new(),
            clock,
            backend,
            shutdown: Some(tx),
            handle: Some(handle),
            _dir: dir,
            _attachments: attachments,
            _watcher: watcher,
        }
    }

    pub async fn stop(mut self) {
        if let Some(tx) = self.shutdown.take() {
            let _ = tx.send(());
        }
        if let Some(h) = self.handle.take() {
            let _ = h.await;
        }
        self.store.close().await;
        let config = &self.state.config;
        if let Some(url) = &config.meili_url {
            meili::drop_index(url, config.meili_key.as_deref(), &config.meili_index).await;
        }
    }

    /// Sends the mail due now, without waiting for the drain's next turn.
    pub async fn drain_mail(&self) -> hotline::notify::DrainReport {
        hotline::notify::drain_once(&self.store, &self.mailer, self.store.now()).await.unwrap()
    }

    /// Applies every queued search-index update now (the background drain may hold some:
    /// this waits for those too, so a search afterwards sees every ticket written before).
    pub async fn index_search(&self) {
        for _ in 0..600 {
            hotline::search::drain::drain_once(&self.store, self.state.search(), self.store.now()).await.unwrap();
            if self.store.search_backlog().await.unwrap() == 0 {
                return;
            }
            tokio::time::sleep(std::time::Duration::from_millis(50)).await;
        }
        panic!("the search outbox did not empty: {:?}", self.store.search_last_error().await);
    }

    /// Fires every timer due now, without waiting for the scheduler's next turn.
    pub async fn fire_timers(&self) -> usize {
        hotline::jobs::timers::fire_due(&self.state, self.store.now()).await.unwrap()
    }

    pub async fn login(&self, username: &str) -> User<'_> {
        self.login_with(username, PASSWORD).await
    }

    pub async fn login_with(&self, username: &str, password: &str) -> User<'_> {
        let (status, body) = self
            .request(
                Method::POST,
                "/api/v1/auth/login",
                None,
                Some(json!({"username": username, "password": password})),
            )
            .await;
        assert_eq!(status, StatusCode::OK, "login {username}: {body}");
        User { server: self, token: body["token"].as_str().unwrap().to_string(), username: username.to_string() }
    }

    /// Logs in as if from `address` (behind a proxy that sets `x-forwarded-for`).
    pub async fn login_with_from(&self, username: &str, password: &str, address: &str) -> User<'_> {
        let resp = self
            .client
            .post(format!("{}/api/v1/auth/login", self.base))
            .header("x-forwarded-for", address)
            .json(&json!({"username": username, "password": password}))
            .send()
            .await
            .expect("request sent");
        assert_eq!(resp.status(), StatusCode::OK, "login {username}");
        let body: Value = resp.json().await.unwrap();
        User { server: self, token: body["token"].as_str().unwrap().to_string(), username: username.to_string() }
    }

    pub async fn request(
        &self,
        method: Method,
        path: &str,
        token: Option<&str>,
        body: Option<Value>,
    ) -> (StatusCode, Value) {
        let mut req = self.client.request(method, format!("{}{}", self.base, path));
        if let Some(t) = token {
            req = req.bearer_auth(t);
        }
        if let Some(b) = body {
            req = req.json(&b);
        }
        let resp = req.send().await.expect("request sent");
        let status = resp.status();
        let text = resp.text().await.unwrap_or_default();
        let value =
            if text.is_empty() { Value::Null } else { serde_json::from_str(&text).unwrap_or(Value::String(text)) };
        (status, value)
    }

    pub async fn raw(
        &self,
        method: Method,
        path: &str,
        token: Option<&str>,
        content_type: &str,
        body: Vec<u8>,
    ) -> (StatusCode, Value) {
        // A client of its own: a body the server refuses unread (413) leaves the connection
        // closing, and a shared pool could hand that connection to the next request.
        let mut req = Client::new()
            .request(method, format!("{}{}", self.base, path))
            .header("content-type", content_type)
            .body(body);
        if let Some(t) = token {
            req = req.bearer_auth(t);
        }
        let resp = req.send().await.expect("request sent");
        let status = resp.status();
        let value = resp.json::<Value>().await.unwrap_or(Value::Null);
        (status, value)
    }
}

/// A logged-in user.
pub struct User<'a> {
    pub server: &'a TestServer,
    pub token: String,
    pub username: String,
}

impl User<'_> {
    pub async fn get(&self, path: &str) -> (StatusCode, Value) {
        self.server.request(Method::GET, path, Some(&self.token), None).await
    }

    pub async fn post(&self, path: &str, body: Value) -> (StatusCode, Value) {
        self.server.request(Method::POST, path, Some(&self.token), Some(body)).await
    }

    /// Runs a transition and insists it worked.
    pub async fn act(&self, ticket: &str, action: &str, body: Value) -> Value {
        let (status, value) = self.post(&format!("/api/v1/tickets/{ticket}/{action}"), body).await;
        assert_eq!(status, StatusCode::OK, "{} {action} on {ticket}: {value}", self.username);
        value
    }

    /// Logs a typical call and returns the created ticket.
    pub async fn log_call(&self, overrides: Value) -> Value {
        let mut body = sample_ticket();
        if let (Some(b), Some(o)) = (body.as_object_mut(), overrides.as_object()) {
            for (k, v) in o {
                b.insert(k.clone(), v.clone());
            }
        }
        let (status, value) = self.post("/api/v1/tickets", body).await;
        assert_eq!(status, StatusCode::CREATED, "create: {value}");
        value
    }
}

/// A complaint about rubbish in 新华街道, as an operator would type it.
pub fn sample_ticket() -> Value {
    json!({
        "kind": "complaint",
        "channel": "phone",
        "urgency": "normal",
        "category": first_leaf_category(),
        "street": first_street(),
        "address": "小区3号楼东侧",
        "content": "楼下垃圾已经三天没人清运，气味很大，希望尽快处理。",
        "caller_name": "王小明",
        "caller_phone": "13812345678",
        "confidential": false,
        "callback_consent": true
    })
}

pub fn catalog() -> &'static Catalog {
    static CATALOG: OnceLock<Catalog> = OnceLock::new();
    CATALOG.get_or_init(|| Catalog::load(&rules_dir()).expect("catalog"))
}

pub fn first_leaf_category() -> String {
    catalog().district.leaf_categories().next().unwrap().code.clone()
}

pub fn first_street() -> String {
    catalog().district.streets[0].code.clone()
}

/// The street office of the first street, and one of its communities' departments.
pub fn street_office_and_community() -> (String, String) {
    let s = &catalog().district.streets[0];
    (s.office.clone(), s.communities[0].department.clone())
}

/// Two district bureaus with no parent relation.
pub fn two_bureaus() -> (String, String) {
    let bureaus: Vec<&str> = catalog()
        .district
        .departments
        .iter()
        .filter(|d| d.kind == hotline::domain::district::DepartmentKind::Bureau)
        .map(|d| d.code.as_str())
        .collect();
    (bureaus[0].to_string(), bureaus[1].to_string())
}

/// A copy of the shipped rules directory that a test may edit.
pub fn rules_copy() -> tempfile::TempDir {
    let dir = tempfile::tempdir().unwrap();
    copy_dir(&rules_dir(), dir.path());
    dir
}

pub fn copy_dir(from: &std::path::Path, to: &std::path::Path) {
    std::fs::create_dir_all(to).unwrap();
    for entry in std::fs::read_dir(from).unwrap() {
        let entry = entry.unwrap();
        let target = to.join(entry.file_name());
        if entry.file_type().unwrap().is_dir() {
            copy_dir(&entry.path(), &target);
        } else {
            std::fs::copy(entry.path(), target).unwrap();
        }
    }
}

/// A websocket to `/api/v1/live` with the token in the query string, as a browser opens it.
pub type Socket = tokio_tungstenite::WebSocketStream<tokio_tungstenite::MaybeTlsStream<tokio::net::TcpStream>>;

pub async fn live_socket(server: &TestServer, token: &str) -> Socket {
    let url = format!("{}/api/v1/live?token={token}", server.base.replace("http://", "ws://"));
    let (socket, _) = tokio_tungstenite::connect_async(url).await.expect("websocket upgrade");
    socket
}

/// The next JSON message, skipping pings; `None` if nothing comes within `wait`.
pub async fn next_message(socket: &mut Socket, wait: std::time::Duration) -> Option<Value> {
    use futures::StreamExt;
    let deadline = tokio::time::Instant::now() + wait;
    loop {
        let frame = tokio::time::timeout_at(deadline, socket.next()).await.ok()??.ok()?;
        if let tokio_tungstenite::tungstenite::Message::Text(text) = frame {
            return serde_json::from_str(text.as_str()).ok();
        }
    }
}

pub async fn send_json(socket: &mut Socket, value: Value) {
    use futures::SinkExt;
    socket.send(tokio_tungstenite::tungstenite::Message::Text(value.to_string().into())).await.unwrap();
}

/// Messages until one matches, within `wait`; panics with what came instead.
pub async fn wait_for(
    socket: &mut Socket,
    wait: std::time::Duration,
    pred: impl Fn(&Value) -> bool,
) -> (Value, Vec<Value>) {
    let deadline = tokio::time::Instant::now() + wait;
    let mut seen = Vec::new();
    loop {
        let left = deadline.saturating_duration_since(tokio::time::Instant::now());
        match next_message(socket, left).await {
            Some(m) if pred(&m) => return (m, seen),
            Some(m) => seen.push(m),
            None => panic!("no matching message; got {seen:?}"),
        }
    }
}
