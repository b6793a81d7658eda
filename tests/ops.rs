//! What an operator relies on: /metrics in the Prometheus format, a request id on every log
//! line of a request (read from a real server process logging JSON), and the example
//! configuration in ops/ loading with the real loader and explaining every key.

mod common;

use common::{Backend, TestClock, TestServer};
use hotline::config::{Config, ENV_KEYS};
use serde_json::{json, Value};

/// The value of the sample `name{labels}` in a Prometheus text page.
fn sample(page: &str, name_and_labels: &str) -> Option<f64> {
    page.lines().find_map(|l| l.strip_prefix(name_and_labels)?.strip_prefix(' ')?.trim().parse().ok())
}

async fn metrics_report_routes_tickets_and_pools(backend: Backend) {
    let server = TestServer::start(backend).await;
    let operator = server.login("operator").await;
    let ticket = operator.log_call(json!({})).await;
    operator.log_call(json!({"route": false})).await;
    let id = ticket["id"].as_i64().unwrap();
    assert_eq!(operator.get(&format!("/api/v1/tickets/{id}")).await.0, 200);
    let page = server.client.get(format!("{}/metrics", server.base)).send().await.unwrap();
    assert_eq!(page.status(), 200);
    assert!(page.headers()["content-type"].to_str().unwrap().starts_with("text/plain"));
    let page = page.text().await.unwrap();

    // Requests by route template, never by raw URL.
    let created = r#"hotline_http_requests_total{method="POST",route="/api/v1/tickets",status="201"}"#;
    assert!(sample(&page, created).unwrap() >= 2.0, "{page}");
    assert!(page.contains(r#"route="/api/v1/tickets/{id}""#), "{page}");
    assert!(!page.contains(&format!("/api/v1/tickets/{id}\"")), "a raw URL became a label");
    assert!(page.contains("hotline_http_request_duration_seconds_bucket{"), "latency histogram");

    // The work, read from the database at the scrape.
    let (_, list) = operator.get("/api/v1/tickets?limit=100").await;
    let mut by_status = std::collections::BTreeMap::<String, f64>::new();
    for t in list["tickets"].as_array().unwrap() {
        *by_status.entry(t["status"].as_str().unwrap().to_string()).or_default() += 1.0;
    }
    for (status, n) in &by_status {
        assert_eq!(sample(&page, &format!("hotline_tickets{{status=\"{status}\"}}")), Some(*n), "{page}");
    }
    assert!(sample(&page, "hotline_open_clocks").unwrap() >= 1.0);
    assert!(sample(&page, "hotline_timers_pending").unwrap() >= 1.0);
    assert_eq!(sample(&page, "hotline_timer_lag_seconds"), Some(0.0));
    assert!(sample(&page, r#"hotline_outbox_pending{outbox="mail"}"#).is_some());
    assert!(sample(&page, r#"hotline_outbox_pending{outbox="search"}"#).is_some(), "the search outbox too");
    assert_eq!(sample(&page, "hotline_websocket_clients"), Some(0.0));
    let pool = if backend == Backend::Sqlite { "reader" } else { "main" };
    assert_eq!(sample(&page, &format!("hotline_db_pool_max_connections{{pool=\"{pool}\"}}")), Some(5.0));
    assert!(sample(&page, &format!("hotline_db_pool_connections{{pool=\"{pool}\",state=\"idle\"}}")).is_some());
    server.stop().await;
}

both_backends!(metrics_report_routes_tickets_and_pools);

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_metrics_token_keeps_metrics_private() {
    let config = Config { metrics_token: Some("a-long-metrics-token".into()), ..Config::default() };
    let server = TestServer::start_with(Backend::Sqlite, TestClock::starting_now(), config).await;
    let url = format!("{}/metrics", server.base);
    assert_eq!(server.client.get(&url).send().await.unwrap().status(), 401);
    assert_eq!(server.client.get(&url).bearer_auth("wrong-token-wrong-token").send().await.unwrap().status(), 401);
    let page = server.client.get(&url).bearer_auth("a-long-metrics-token").send().await.unwrap();
    assert_eq!(page.status(), 200);
    assert!(page.text().await.unwrap().contains("hotline_database_up 1"));
    server.stop().await;
}

fn request_id(line: &Value) -> Option<&str> {
    line["span"]["request_id"].as_str()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn every_log_line_of_a_request_carries_its_request_id() {
    // One failure locks out, so the handler itself logs a warning inside the request.
    let dir = tempfile::tempdir().unwrap();
    let url = format!("sqlite://{}/hotline.db", dir.path().display());
    let server = common::process::ServerProcess::start(&url, &[("HOTLINE_LOGIN_MAX_FAILURES", "1")]);
    let client = reqwest::Client::new();
    let login = client
        .post(format!("{}/api/v1/auth/login", server.base))
        .header("x-request-id", "req-login-1")
        .json(&json!({"username": "nobody", "password": "wrong"}))
        .send()
        .await
        .unwrap();
    assert_eq!(login.status(), 401);
    assert_eq!(login.headers()["x-request-id"], "req-login-1");
    let health = client.get(format!("{}/healthz", server.base)).send().await.unwrap();
    let generated = health.headers()["x-request-id"].to_str().unwrap().to_string();
    assert!(!generated.is_empty(), "a request without an id gets one");

    let finished = |l: &Value| l["fields"]["message"] == "finished processing request";
    let lines = server.wait_for_log(|lines| lines.iter().filter(|l| finished(l)).count() >= 2);
    let of = |id: &str| lines.iter().filter(|l| request_id(l) == Some(id)).collect::<Vec<_>>();
    let login_lines = of("req-login-1");
    assert!(login_lines.iter().any(|l| l["fields"]["message"] == "login locked out"), "{login_lines:?}");
    assert!(login_lines.iter().any(|l| finished(l) && l["fields"]["status"] == 401), "{login_lines:?}");
    assert!(of(&generated).iter().any(|l| finished(l)), "{lines:?}");
    // Every line logged inside a request names that request.
    for line in lines.iter().filter(|l| l["spans"].as_array().is_some_and(|s| s.iter().any(|s| s["name"] == "request")))
    {
        assert!(
            request_id(line).is_some_and(|id| id == "req-login-1" || id == generated),
            "a request's line without its id: {line}"
        );
    }
}

#[test]
fn the_example_configuration_loads_validates_and_explains_every_key() {
    let root = std::path::Path::new(env!("CARGO_MANIFEST_DIR"));
    let path = root.join("ops/hotline.example.toml");
    let mut config = Config::load(Some(&path), |_| None).expect("ops/hotline.example.toml loads");
    // rules_dir is relative to the working directory; the service's is the project's layout.
    config.rules_dir = root.join(&config.rules_dir);
    config.validate().expect("ops/hotline.example.toml validates");
    let text = std::fs::read_to_string(&path).unwrap();
    let readme = std::fs::read_to_string(root.join("README.md")).unwrap();
    for (key, var) in ENV_KEYS {
        let set = text.lines().any(|l| {
            let l = l.trim_start_matches("# ");
            l.starts_with(&format!("{key} =")) || l.starts_with(&format!("{key}="))
        });
        assert!(set, "ops/hotline.example.toml does not show the key {key}");
        assert!(text.contains(var), "ops/hotline.example.toml does not name {var}");
        assert!(readme.contains(&format!("| `{key}` |")), "README's configuration table lacks {key}");
    }
}
