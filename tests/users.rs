//! User administration and login lockout, as an admin and an attacker meet them: accounts
//! added, disabled and given new passwords through the API and the command line; repeated
//! failed logins locking a username or an address out on every instance, each audited.

mod common;

use common::{fresh_database, Backend, TestClock, TestServer, PASSWORD};
use hotline::config::Config;
use reqwest::StatusCode;
use serde_json::{json, Value};
use std::io::Write;
use std::process::{Command, Stdio};

async fn login_status(server: &TestServer, username: &str, password: &str, from: Option<&str>) -> StatusCode {
    let mut req = server
        .client
        .post(format!("{}/api/v1/auth/login", server.base))
        .json(&json!({"username": username, "password": password}));
    if let Some(address) = from {
        req = req.header("x-forwarded-for", format!("198.51.100.1, {address}"));
    }
    req.send().await.unwrap().status()
}

fn audit_actions(audit: &Value) -> Vec<(String, String, String)> {
    audit
        .as_array()
        .unwrap()
        .iter()
        .map(|e| {
            (
                e["action"].as_str().unwrap().into(),
                e["subject"].as_str().unwrap().into(),
                e["actor"].as_str().unwrap().into(),
            )
        })
        .collect()
}

async fn admin_adds_disables_and_resets_accounts(backend: Backend) {
    let server = TestServer::start(backend).await;
    let admin = server.login("admin").await;
    let supervisor = server.login("supervisor").await;
    let unit = common::two_bureaus().0;

    let new = json!({"username": "li.ming", "display_name": "李明", "role": "department", "department": unit});
    let (status, _) = supervisor.post("/api/v1/admin/users", new.clone()).await;
    assert_eq!(status, StatusCode::FORBIDDEN);
    let (status, added) = admin.post("/api/v1/admin/users", new.clone()).await;
    assert_eq!(status, StatusCode::CREATED, "{added}");
    assert_eq!(added["user"]["department"], json!(unit));
    let generated = added["generated_password"].as_str().unwrap().to_string();
    assert!(generated.len() >= 16);
    assert_eq!(login_status(&server, "li.ming", &generated, None).await, StatusCode::OK);
    let li = server.login_with("li.ming", &generated).await;

    // Refusals name the field and store nothing.
    let (status, body) = admin.post("/api/v1/admin/users", new.clone()).await;
    assert_eq!(status, StatusCode::CONFLICT, "{body}");
    let (status, body) = admin
        .post("/api/v1/admin/users", json!({"username": "wang", "role": "department", "department": "nowhere"}))
        .await;
    assert_eq!((status, body["field"].as_str()), (StatusCode::UNPROCESSABLE_ENTITY, Some("department")));
    let (status, body) =
        admin.post("/api/v1/admin/users", json!({"username": "wang", "role": "operator", "password": "short"})).await;
    assert_eq!((status, body["field"].as_str()), (StatusCode::UNPROCESSABLE_ENTITY, Some("password")));
    let (_, users) = admin.get("/api/v1/admin/users").await;
    assert!(!users.as_array().unwrap().iter().any(|u| u["username"] == "wang"));

    // Disabling ends the session at once and refuses logins; enabling lets them in again.
    let (status, body) = admin.post("/api/v1/admin/users/li.ming/disable", json!({})).await;
    assert_eq!((status, body["active"].as_bool()), (StatusCode::OK, Some(false)));
    assert_eq!(li.get("/api/v1/auth/me").await.0, StatusCode::UNAUTHORIZED);
    assert_eq!(login_status(&server, "li.ming", &generated, None).await, StatusCode::UNAUTHORIZED);
    assert_eq!(admin.post("/api/v1/admin/users/admin/disable", json!({})).await.0, StatusCode::CONFLICT);
    assert_eq!(admin.post("/api/v1/admin/users/nobody/disable", json!({})).await.0, StatusCode::NOT_FOUND);
    assert_eq!(admin.post("/api/v1/admin/users/li.ming/enable", json!({})).await.0, StatusCode::OK);
    assert_eq!(login_status(&server, "li.ming", &generated, None).await, StatusCode::OK);

    // A new password replaces the old one.
    let (status, body) =
        admin.post("/api/v1/admin/users/li.ming/password", json!({"password": "a much longer secret"})).await;
    assert_eq!((status, body["generated_password"].clone()), (StatusCode::OK, Value::Null));
    assert_eq!(login_status(&server, "li.ming", &generated, None).await, StatusCode::UNAUTHORIZED);
    assert_eq!(login_status(&server, "li.ming", "a much longer secret", None).await, StatusCode::OK);

    let (status, audit) = admin.get("/api/v1/admin/audit").await;
    assert_eq!(status, StatusCode::OK);
    let mut actions = audit_actions(&audit);
    actions.reverse();
    let who = |a: &str| (a.to_string(), "li.ming".to_string(), "admin".to_string());
    assert_eq!(actions, vec![who("user_added"), who("user_disabled"), who("user_enabled"), who("password_set")]);
    assert_eq!(supervisor.get("/api/v1/admin/audit").await.0, StatusCode::FORBIDDEN);
    server.stop().await;
}

async fn failed_logins_lock_out_on_every_instance_and_are_audited(backend: Backend) {
    let config = Config {
        login_max_failures: 3,
        login_max_failures_per_address: 5,
        login_lockout_minutes: 15,
        client_ip_header: Some("x-forwarded-for".into()),
        ..Config::default()
    };
    let (url, dir) = fresh_database(backend).await;
    let clock = TestClock::starting_now();
    let a = TestServer::start_on(backend, url.clone(), dir, clock.clone(), config.clone(), true).await;
    let b = TestServer::start_on(backend, url, None, clock.clone(), config, false).await;

    // Three wrong passwords for one username, spread over both instances, lock it on both:
    // even the right password is refused, and nothing says whether it was right.
    for (i, server) in [&a, &b, &a].iter().enumerate() {
        let from = format!("192.0.2.{i}");
        assert_eq!(login_status(server, "operator", "wrong", Some(&from)).await, StatusCode::UNAUTHORIZED);
    }
    for server in [&a, &b] {
        assert_eq!(login_status(server, "operator", PASSWORD, Some("192.0.2.9")).await, StatusCode::TOO_MANY_REQUESTS);
    }
    assert_eq!(login_status(&b, "dispatcher", PASSWORD, Some("192.0.2.9")).await, StatusCode::OK);

    // Five failures from one address, whatever the usernames, lock the address.
    for name in ["a1", "a2", "a3", "a4", "a5"] {
        assert_eq!(login_status(&b, name, "guess", Some("203.0.113.7")).await, StatusCode::UNAUTHORIZED);
    }
    assert_eq!(login_status(&a, "supervisor", PASSWORD, Some("203.0.113.7")).await, StatusCode::TOO_MANY_REQUESTS);
    assert_eq!(login_status(&a, "supervisor", PASSWORD, Some("203.0.113.8")).await, StatusCode::OK);

    // Each lockout is one audited row, visible to admins.
    let admin = a.login_with_from("admin", PASSWORD, "192.0.2.50").await;
    let (_, audit) = admin.get("/api/v1/admin/audit").await;
    let lockouts: Vec<(String, String, String)> =
        audit_actions(&audit).into_iter().filter(|(action, _, _)| action == "locked_out").collect();
    assert_eq!(
        lockouts,
        vec![
            ("locked_out".into(), "address:203.0.113.7".into(), "system".into()),
            ("locked_out".into(), "user:operator".into(), "system".into())
        ]
    );

    // The lockout lifts once the failures are older than the window.
    clock.advance_minutes(16);
    assert_eq!(login_status(&a, "operator", PASSWORD, Some("192.0.2.9")).await, StatusCode::OK);
    assert_eq!(login_status(&b, "supervisor", PASSWORD, Some("203.0.113.7")).await, StatusCode::OK);
    b.stop().await;
    a.stop().await;
}

both_backends!(admin_adds_disables_and_resets_accounts, failed_logins_lock_out_on_every_instance_and_are_audited);

fn hotline(database_url: &str, args: &[&str], stdin: Option<&str>) -> (i32, String, String) {
    let mut c = Command::new(env!("CARGO_BIN_EXE_hotline"));
    c.current_dir(env!("CARGO_MANIFEST_DIR"));
    for (_, var) in hotline::config::ENV_KEYS {
        c.env_remove(var);
    }
    c.env_remove("HOTLINE_CONFIG").env("DATABASE_URL", database_url).args(args);
    c.stdin(Stdio::piped()).stdout(Stdio::piped()).stderr(Stdio::piped());
    let mut child = c.spawn().unwrap();
    let mut input = child.stdin.take().unwrap();
    if let Some(text) = stdin {
        input.write_all(text.as_bytes()).unwrap();
    }
    drop(input);
    let out = child.wait_with_output().unwrap();
    (
        out.status.code().unwrap_or(-1),
        String::from_utf8_lossy(&out.stdout).into_owned(),
        String::from_utf8_lossy(&out.stderr).into_owned(),
    )
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_command_line_adds_resets_and_disables_accounts() {
    let (url, _dir) = fresh_database(Backend::Sqlite).await;
    let (code, out, err) = hotline(&url, &["user", "add", "zhang.min", "--role", "operator"], None);
    assert_eq!(code, 0, "{err}");
    let generated = out.lines().find_map(|l| l.strip_prefix("password: ")).expect("the generated password").to_string();
    let (code, _, err) = hotline(
        &url,
        &["user", "add", "cgw-li", "--role", "department", "--department", "cgw", "--password-stdin"],
        Some("cgw password 1\n"),
    );
    assert_eq!(code, 0, "{err}");
    let (code, _, err) = hotline(&url, &["user", "add", "x y", "--role", "operator"], None);
    assert_eq!(code, 2);
    assert!(err.contains("username"), "{err}");
    let (code, _, err) = hotline(&url, &["user", "passwd", "nobody"], None);
    assert_eq!(code, 2);
    assert!(err.contains("no user named"), "{err}");

    let store = hotline::store::Store::connect(&url, 2, hotline::store::system_clock()).await.unwrap();
    let verify = |hash: &str, password: &str| hotline::http::auth::verify_password(password, hash);
    let zhang = store.user_by_username("zhang.min").await.unwrap().unwrap();
    assert!(verify(&zhang.password_hash, &generated));
    let li = store.user_by_username("cgw-li").await.unwrap().unwrap();
    assert!(verify(&li.password_hash, "cgw password 1"));
    assert_eq!(li.department.as_deref(), Some("cgw"));

    let (code, _, err) = hotline(&url, &["user", "passwd", "cgw-li", "--password-stdin"], Some("another password\n"));
    assert_eq!(code, 0, "{err}");
    assert_eq!(hotline(&url, &["user", "disable", "zhang.min"], None).0, 0);
    let (_, list, _) = hotline(&url, &["user", "list"], None);
    assert!(list.lines().any(|l| l.starts_with("zhang.min\toperator\t\tdisabled")), "{list}");
    assert!(!store.user_by_username("zhang.min").await.unwrap().unwrap().active);
    let li = store.user_by_username("cgw-li").await.unwrap().unwrap();
    assert!(verify(&li.password_hash, "another password"));
    let audit: Vec<String> = store
        .account_audit(10)
        .await
        .unwrap()
        .into_iter()
        .map(|e| format!("{} {} {}", e.action, e.subject, e.actor))
        .collect();
    assert_eq!(
        audit,
        ["user_disabled zhang.min cli", "password_set cgw-li cli", "user_added cgw-li cli", "user_added zhang.min cli"]
    );
    store.close().await;
}
