//! What fuzzing and attacks found, each as the attacker tried it, on both databases:
//! control characters in every kind of input, parallel password guessing, a websocket and a
//! cached session outliving logout and disable on another instance, and error answers that
//! were not in the API's shape or let an empty filter through.

mod common;

use common::{fresh_database, Backend, TestClock, TestServer, PASSWORD};
use futures::StreamExt;
use hotline::config::Config;
use reqwest::{Method, StatusCode};
use serde_json::{json, Value};
use std::time::Duration;

both_backends!(
    control_characters_are_refused_naming_the_field_and_nothing_is_stored,
    parallel_guesses_for_one_username_check_at_most_the_limit,
    wrong_and_right_guesses_at_once_check_no_more_than_the_limit_allows,
    parallel_guesses_from_one_address_check_at_most_its_limit,
    logout_and_disable_end_sessions_and_sockets_on_every_instance_at_once,
    bad_ids_and_empty_filters_answer_in_the_error_shape,
);

/// 400 with the field named, in the error shape.
fn refused(what: &str, (status, body): (StatusCode, Value), field: &str) {
    assert_eq!(status, StatusCode::BAD_REQUEST, "{what}: {body}");
    assert_eq!(body["error"], "bad_request", "{what}: {body}");
    assert_eq!(body["field"], field, "{what}: {body}");
    assert!(body["message"].as_str().is_some_and(|m| !m.is_empty()), "{what}: {body}");
}

async fn control_characters_are_refused_naming_the_field_and_nothing_is_stored(backend: Backend) {
    let server = TestServer::start(backend).await;
    let operator = server.login("operator").await;
    let supervisor = server.login("supervisor").await;
    let admin = server.login("admin").await;
    let ticket = operator.log_call(json!({})).await;
    let id = ticket["id"].as_i64().unwrap();

    let mut body = common::sample_ticket();
    body["content"] = json!("a\u{0}b");
    refused("NUL in a ticket", operator.post("/api/v1/tickets", body).await, "content");
    let mut body = common::sample_ticket();
    body["caller_name"] = json!("王\u{1b}[2J");
    refused("ESC in a name", operator.post("/api/v1/tickets", body).await, "caller_name");
    let login = server
        .request(Method::POST, "/api/v1/auth/login", None, Some(json!({"username": "oper\u{0}ator", "password": "x"})))
        .await;
    refused("NUL in a login", login, "username");
    refused("list filter", operator.get("/api/v1/tickets?category=0%00").await, "category");
    refused("street filter", operator.get("/api/v1/tickets?street=a%00").await, "street");
    refused("search filter", operator.get("/api/v1/search?q=%E5%9E%83%E5%9C%BE&street=%00").await, "street");
    refused("search words", operator.get("/api/v1/search?q=%E5%9E%83%00").await, "q");
    refused(
        "urge note",
        supervisor.post(&format!("/api/v1/tickets/{id}/urge"), json!({"note": "请尽快\u{0}"})).await,
        "note",
    );
    let article = json!({"question": "问\u{0}", "answer": "答", "category": common::first_leaf_category(),
        "department": common::two_bureaus().0});
    refused("knowledge base", admin.post("/api/v1/kb/articles", article).await, "question");
    refused("admin path", admin.post("/api/v1/admin/users/a%00b/disable", json!({})).await, "username");
    let public = json!({"kind": "complaint", "category": common::first_leaf_category(), "content": "垃圾\u{0}",
        "address": "新华路18号", "phone": "13912345678"});
    refused(
        "public form",
        server.request(Method::POST, "/api/v1/public/requests", None, Some(public)).await,
        "content",
    );
    // Line breaks and tabs are text, not control characters to refuse.
    operator.log_call(json!({"content": "第一行\n第二行\t（附注）"})).await;

    let (_, list) = supervisor.get("/api/v1/tickets?limit=500").await;
    assert_eq!(list["tickets"].as_array().unwrap().len(), 2, "only the two good calls were stored");
    let (_, events) = supervisor.get(&format!("/api/v1/tickets/{id}/events")).await;
    assert!(!events.as_array().unwrap().iter().any(|e| e["type"] == "urged"), "the refused urge stored nothing");
    server.stop().await;
}

fn lockout_config(per_username: i64, per_address: i64) -> Config {
    Config {
        login_max_failures: per_username,
        login_max_failures_per_address: per_address,
        client_ip_header: Some("x-forwarded-for".into()),
        ..Config::default()
    }
}

/// Sends every (username, password, address) at once and returns the statuses in order.
async fn at_once(server: &TestServer, attempts: Vec<(String, String, String)>) -> Vec<StatusCode> {
    let client = reqwest::Client::new();
    let url = format!("{}/api/v1/auth/login", server.base);
    let barrier = std::sync::Arc::new(tokio::sync::Barrier::new(attempts.len()));
    let tasks: Vec<_> = attempts
        .into_iter()
        .map(|(username, password, address)| {
            let (client, url, barrier) = (client.clone(), url.clone(), barrier.clone());
            tokio::spawn(async move {
                let req = client
                    .post(url)
                    .header("x-forwarded-for", address)
                    .json(&json!({"username": username, "password": password}));
                barrier.wait().await;
                req.send().await.unwrap().status()
            })
        })
        .collect();
    futures::future::join_all(tasks).await.into_iter().map(|r| r.unwrap()).collect()
}

fn count(statuses: &[StatusCode], status: StatusCode) -> usize {
    statuses.iter().filter(|s| **s == status).count()
}

async fn parallel_guesses_for_one_username_check_at_most_the_limit(backend: Backend) {
    let server = TestServer::start_with(backend, TestClock::starting_now(), lockout_config(5, 1000)).await;
    let guesses = (0..40).map(|i| ("operator".into(), format!("guess-{i}"), format!("192.0.2.{i}"))).collect();
    let statuses = at_once(&server, guesses).await;
    // Every guess is either checked and wrong (401) or refused unchecked (429): 5 checked.
    assert_eq!(count(&statuses, StatusCode::UNAUTHORIZED), 5, "{statuses:?}");
    assert_eq!(count(&statuses, StatusCode::TOO_MANY_REQUESTS), 35, "{statuses:?}");
    // Locked: the right password is refused too.
    let right = at_once(&server, vec![("operator".into(), PASSWORD.into(), "192.0.2.200".into())]).await;
    assert_eq!(right, vec![StatusCode::TOO_MANY_REQUESTS]);
    let admin = server.login("admin").await;
    let (_, audit) = admin.get("/api/v1/admin/audit").await;
    let lockouts = audit.as_array().unwrap().iter().filter(|e| e["action"] == "locked_out").count();
    assert_eq!(lockouts, 1, "one lockout, audited once: {audit}");
    server.stop().await;
}

async fn wrong_and_right_guesses_at_once_check_no_more_than_the_limit_allows(backend: Backend) {
    let server = TestServer::start_with(backend, TestClock::starting_now(), lockout_config(5, 1000)).await;
    let mut attempts: Vec<(String, String, String)> =
        (0..30).map(|i| ("operator".into(), format!("guess-{i}"), format!("192.0.2.{i}"))).collect();
    attempts.insert(10, ("operator".into(), PASSWORD.into(), "198.51.100.1".into()));
    attempts.push(("operator".into(), PASSWORD.into(), "198.51.100.2".into()));
    let statuses = at_once(&server, attempts).await;
    let (ok, wrong, refused) = (
        count(&statuses, StatusCode::OK),
        count(&statuses, StatusCode::UNAUTHORIZED),
        count(&statuses, StatusCode::TOO_MANY_REQUESTS),
    );
    assert_eq!(ok + wrong + refused, 32, "{statuses:?}");
    // At most 5 attempts are checked at a time; a right one that gets in forgets the
    // failures already counted (at most 4), never the attempts being checked with it.
    assert!(wrong <= 5 + 4 * ok, "{wrong} wrong guesses checked with {ok} logins: {statuses:?}");
    assert!(refused >= 30 - (5 + 4 * 2), "{statuses:?}");
    server.stop().await;
}

async fn parallel_guesses_from_one_address_check_at_most_its_limit(backend: Backend) {
    let server = TestServer::start_with(backend, TestClock::starting_now(), lockout_config(5, 10)).await;
    let guesses = (0..40).map(|i| (format!("nobody-{i}"), "guess".into(), "203.0.113.7".into())).collect();
    let statuses = at_once(&server, guesses).await;
    assert_eq!(count(&statuses, StatusCode::UNAUTHORIZED), 10, "{statuses:?}");
    assert_eq!(count(&statuses, StatusCode::TOO_MANY_REQUESTS), 30, "{statuses:?}");
    // Successful logins give their attempt back: an office behind one address is not locked
    // out by its own staff logging in through the day, more of them than its limit.
    for unit in common::catalog().district.departments.iter().take(12) {
        let login = at_once(&server, vec![(unit.code.clone(), PASSWORD.into(), "203.0.113.99".into())]).await;
        assert_eq!(login, vec![StatusCode::OK], "{}", unit.code);
    }
    server.stop().await;
}

/// Waits for the socket to be told its session ended and to close; panics if it goes on.
async fn closes_as_revoked(socket: &mut common::Socket, what: &str) {
    let deadline = tokio::time::Instant::now() + Duration::from_secs(10);
    let mut told = false;
    loop {
        let frame = tokio::time::timeout_at(deadline, socket.next())
            .await
            .unwrap_or_else(|_| panic!("{what}: the socket stayed open"));
        match frame {
            Some(Ok(tokio_tungstenite::tungstenite::Message::Text(text))) => {
                let message: Value = serde_json::from_str(text.as_str()).unwrap();
                assert_ne!(message["type"], "event", "{what}: an event reached a revoked session: {message}");
                told |= message["type"] == "revoked";
            }
            Some(Ok(tokio_tungstenite::tungstenite::Message::Close(frame))) => {
                assert!(told, "{what}: closed without saying why");
                assert_eq!(frame.map(|f| u16::from(f.code)), Some(1008), "{what}");
                return;
            }
            Some(Ok(_)) => {}
            Some(Err(_)) | None => {
                assert!(told, "{what}: dropped without saying why");
                return;
            }
        }
    }
}

async fn logout_and_disable_end_sessions_and_sockets_on_every_instance_at_once(backend: Backend) {
    let (url, dir) = fresh_database(backend).await;
    let clock = TestClock::starting_now();
    let a = TestServer::start_on(backend, url.clone(), dir, clock.clone(), Config::default(), true).await;
    let b = TestServer::start_on(backend, url, None, clock, Config::default(), false).await;

    // Logged in on A, watching on B, its session cached on B; logged out on A.
    let operator = a.login("operator").await;
    let mut socket = common::live_socket(&b, &operator.token).await;
    let (hello, _) = common::wait_for(&mut socket, Duration::from_secs(10), |m| m["type"] == "hello").await;
    assert_eq!(hello["user"]["username"], "operator");
    let me_on_b = || b.request(Method::GET, "/api/v1/auth/me", Some(&operator.token), None);
    assert_eq!(me_on_b().await.0, StatusCode::OK);
    assert_eq!(
        a.request(Method::POST, "/api/v1/auth/logout", Some(&operator.token), None).await.0,
        StatusCode::NO_CONTENT
    );
    closes_as_revoked(&mut socket, "logout on another instance").await;
    // The socket closed as the revocation arrived; the cache on B was emptied in the same step.
    assert_eq!(me_on_b().await.0, StatusCode::UNAUTHORIZED, "B still honoured a logged-out token");

    // A department user watching on A is disabled by an admin on B: the socket closes before
    // another ticket (with a caller's phone) reaches it, and A refuses the token.
    let unit = common::two_bureaus().0;
    let dept = a.login(&unit).await;
    let mut socket = common::live_socket(&a, &dept.token).await;
    common::wait_for(&mut socket, Duration::from_secs(10), |m| m["type"] == "hello").await;
    assert_eq!(a.request(Method::GET, "/api/v1/auth/me", Some(&dept.token), None).await.0, StatusCode::OK);
    let admin = b.login("admin").await;
    assert_eq!(admin.post(&format!("/api/v1/admin/users/{unit}/disable"), json!({})).await.0, StatusCode::OK);
    closes_as_revoked(&mut socket, "disable on another instance").await;
    assert_eq!(a.request(Method::GET, "/api/v1/auth/me", Some(&dept.token), None).await.0, StatusCode::UNAUTHORIZED);
    // A socket opened with a revoked token is refused outright.
    let url = format!("{}/api/v1/live?token={}", a.base.replace("http://", "ws://"), dept.token);
    assert!(tokio_tungstenite::connect_async(url).await.is_err());
    b.stop().await;
    a.stop().await;
}

async fn bad_ids_and_empty_filters_answer_in_the_error_shape(backend: Backend) {
    let server = TestServer::start(backend).await;
    let admin = server.login("admin").await;
    let operator = server.login("operator").await;
    operator.log_call(json!({})).await;
    refused(
        "exclusion id",
        admin.post("/api/v1/assessment/exclusions/abc/withdraw", json!({"reason": "录入错误"})).await,
        "id",
    );
    refused("article id", admin.post("/api/v1/kb/articles/abc/retire", json!({"reason": "过时"})).await, "id");
    let put = server.request(Method::PUT, "/api/v1/kb/articles/1x", Some(&admin.token), Some(json!({}))).await;
    refused("article id in a change", put, "id");
    refused("ticket id that is not UTF-8", operator.get("/api/v1/tickets/%FF%FE").await, "id");
    refused("empty urgency", operator.get("/api/v1/tickets?urgency=").await, "urgency");
    refused("empty limit", operator.get("/api/v1/tickets?limit=").await, "limit");
    refused("empty include_expired", operator.get("/api/v1/kb/articles?include_expired=").await, "include_expired");
    for q in ["", "%20%20", "%FF", "%EF%BC%8C%E3%80%82"] {
        refused(&format!("search q={q}"), operator.get(&format!("/api/v1/search?q={q}")).await, "q");
        refused(&format!("knowledge base q={q}"), operator.get(&format!("/api/v1/kb/articles?q={q}")).await, "q");
    }
    // Without q the search lists by its filters: that is what leaving it out means.
    let (status, all) = operator.get("/api/v1/search?limit=5").await;
    assert_eq!(status, StatusCode::OK, "{all}");

    // The document: the district's units are not the department's board, and the common
    // refusals are documented wherever they can happen.
    let (_, doc) = server.request(Method::GET, "/api/openapi.json", None, None).await;
    let departments = &doc["paths"]["/api/v1/departments"]["get"]["responses"]["200"]["content"]["application/json"];
    assert_eq!(departments["schema"]["items"]["$ref"], "#/components/schemas/DepartmentInfo");
    assert!(doc["components"]["schemas"]["DepartmentView"]["properties"].get("queue").is_some());
    for (path, item) in doc["paths"].as_object().unwrap() {
        for (method, op) in item.as_object().unwrap() {
            let responses = &op["responses"];
            if op.get("security").is_some_and(|s| !s.as_array().unwrap().is_empty()) {
                assert!(responses.get("401").is_some(), "{method} {path} lacks 401");
            }
            if op.get("requestBody").is_some() {
                for status in ["400", "413", "415"] {
                    assert!(responses.get(status).is_some(), "{method} {path} lacks {status}");
                }
            }
        }
    }
    server.stop().await;
}
