//! 网上诉求 over HTTP without login: a resident's request goes the intake road on the 网上
//! channel and is routed by the rules; tracking needs the number and the phone's last four
//! digits and shows nothing of the caller; every bad field is named and nothing is stored;
//! each client address has a budget. And the web pages are served by the same binary.
//! On SQLite and PostgreSQL.

mod common;

use common::{first_leaf_category, Backend, TestClock, TestServer};
use hotline::config::Config;
use reqwest::{Method, StatusCode};
use serde_json::{json, Value};

both_backends!(
    resident_submits_a_request_that_the_rules_route_and_tracks_it,
    every_bad_field_is_named_and_nothing_is_stored,
    each_address_has_a_budget_of_submissions_and_lookups,
    the_web_pages_are_served_by_the_binary,
);

fn request() -> Value {
    json!({
        "kind": "complaint",
        "category": first_leaf_category(),
        "content": "小区门口垃圾三天没人清运，气味很大。",
        "address": "新华路18号新华里小区东门",
        "phone": "13912345678",
        "name": "李先生"
    })
}

async fn submit(server: &TestServer, body: Value) -> (StatusCode, Value) {
    server.request(Method::POST, "/api/v1/public/requests", None, Some(body)).await
}

async fn track(server: &TestServer, number: &str, last4: &str) -> (StatusCode, Value) {
    server.request(Method::GET, &format!("/api/v1/public/requests/{number}?phone_last4={last4}"), None, None).await
}

async fn ticket_count(server: &TestServer) -> usize {
    let supervisor = server.login("supervisor").await;
    let (_, list) = supervisor.get("/api/v1/tickets?limit=500").await;
    list["tickets"].as_array().unwrap().len()
}

async fn resident_submits_a_request_that_the_rules_route_and_tracks_it(backend: Backend) {
    let server = TestServer::start_with(backend, TestClock::at("2026-11-23T10:00:00+08:00"), Config::default()).await;
    let (status, form) = server.request(Method::GET, "/api/v1/public/form", None, None).await;
    assert_eq!(status, StatusCode::OK);
    assert!(form["categories"].as_array().unwrap().iter().any(|c| c["code"] == first_leaf_category().as_str()));

    let (status, submitted) = submit(&server, request()).await;
    assert_eq!(status, StatusCode::CREATED, "{submitted}");
    let number = submitted["number"].as_str().unwrap().to_string();

    // The same road as a call: a ticket on the 网上 channel, routed by the rules as a call with
    // the same content would be.
    let supervisor = server.login("supervisor").await;
    let (_, ticket) = supervisor.get(&format!("/api/v1/tickets/{number}")).await;
    assert_eq!((ticket["channel"].as_str(), ticket["caller_phone"].as_str()), (Some("web"), Some("13912345678")));
    let (_, preview) = supervisor
        .post(
            "/api/v1/dispatch/preview",
            json!({"kind": "complaint", "channel": "web", "category": first_leaf_category(),
                   "address": request()["address"], "content": request()["content"]}),
        )
        .await;
    assert_eq!(ticket["lead"], preview["decision"]["lead"], "routed like the preview says");
    let (_, events) = supervisor.get(&format!("/api/v1/tickets/{number}/events")).await;
    assert_eq!(events[0]["actor"]["username"], hotline::domain::public::RESIDENT_USERNAME);

    // Tracking with the right digits: progress in resident words, nothing of the caller.
    let (status, seen) = track(&server, &number, "5678").await;
    assert_eq!(status, StatusCode::OK, "{seen}");
    assert_eq!(seen["number"], number.as_str());
    let text = seen.to_string();
    for private in ["13912345678", "李先生", "新华路18号", "垃圾三天"] {
        assert!(!text.contains(private), "tracking shows {private}: {text}");
    }
    assert!(seen.get("caller_phone").is_none() && seen.get("address").is_none() && seen.get("content").is_none());
    assert!(seen["reply"].is_null());

    // Once the department replies, the resident sees the reply and the outcome.
    let lead = ticket["lead"].as_str().unwrap().to_string();
    let dept = server.login(&lead).await;
    dept.act(&number, "accept", json!(null)).await;
    for assist in ticket["assists"].as_array().unwrap() {
        server
            .login(assist["department"].as_str().unwrap())
            .await
            .act(&number, "assist-reply", json!({"text": "已配合"}))
            .await;
    }
    dept.act(&number, "reply", json!({"outcome": "solved", "text": "已安排当天清运。"})).await;
    let (_, seen) = track(&server, &number, "5678").await;
    assert_eq!((seen["stage"].as_str(), seen["reply"].as_str()), (Some("replied"), Some("已安排当天清运。")));
    assert_eq!(seen["outcome_label"], "已解决");

    // A wrong pair is answered exactly like a number that does not exist.
    let (wrong_status, wrong) = track(&server, &number, "5679").await;
    let (unknown_status, unknown) = track(&server, "20261123-999999", "5678").await;
    assert_eq!((wrong_status, unknown_status), (StatusCode::NOT_FOUND, StatusCode::NOT_FOUND));
    assert_eq!(wrong, unknown);
    let (status, body) = track(&server, "2026", "5678").await;
    assert_eq!((status, body["field"].as_str()), (StatusCode::BAD_REQUEST, Some("number")));
    let (status, body) = track(&server, &number, "56a8").await;
    assert_eq!((status, body["field"].as_str()), (StatusCode::BAD_REQUEST, Some("phone_last4")));
    server.stop().await;
}

async fn every_bad_field_is_named_and_nothing_is_stored(backend: Backend) {
    let server = TestServer::start(backend).await;
    let before = ticket_count(&server).await;
    let with = |key: &str, value: Value| {
        let mut body = request();
        body[key] = value;
        body
    };
    let without = |key: &str| {
        let mut body = request();
        body.as_object_mut().unwrap().remove(key);
        body
    };
    let cases = [
        (with("kind", json!("complain")), "kind"),
        (with("category", json!("01")), "category"),
        (with("content", json!("   ")), "content"),
        (with("content", json!("字".repeat(4001))), "content"),
        (with("address", json!("")), "address"),
        (with("phone", json!("1391234")), "phone"),
        (with("name", json!("名".repeat(51))), "name"),
        (without("phone"), "phone"),
        (with("urgency", json!("urgent")), "urgency"),
    ];
    for (body, field) in cases {
        let (status, answer) = submit(&server, body).await;
        assert!(status == StatusCode::BAD_REQUEST || status == StatusCode::UNPROCESSABLE_ENTITY, "{field}: {status}");
        assert_eq!(answer["field"], field, "{answer}");
        assert!(
            !answer["message"].as_str().unwrap().contains("caller_"),
            "the message uses the form's names: {answer}"
        );
    }
    assert_eq!(ticket_count(&server).await, before, "nothing is stored on bad input");
    server.stop().await;
}

async fn each_address_has_a_budget_of_submissions_and_lookups(backend: Backend) {
    let config = Config { public_submit_per_hour: 2, public_track_per_hour: 3, ..Config::default() };
    let server = TestServer::start_with(backend, TestClock::starting_now(), config).await;
    for _ in 0..2 {
        let (status, body) = submit(&server, request()).await;
        assert_eq!(status, StatusCode::CREATED, "{body}");
    }
    let before = ticket_count(&server).await;
    let (status, body) = submit(&server, request()).await;
    assert_eq!((status, body["error"].as_str()), (StatusCode::TOO_MANY_REQUESTS, Some("too_many_requests")));
    assert!(body["message"].as_str().unwrap().contains("try again"), "{body}");
    assert_eq!(ticket_count(&server).await, before);
    // Lookups have their own budget, so guessing the four digits stops early.
    for last4 in ["0000", "0001", "0002"] {
        let (status, _) = track(&server, "20261123-000001", last4).await;
        assert_eq!(status, StatusCode::NOT_FOUND);
    }
    let (status, _) = track(&server, "20261123-000001", "5678").await;
    assert_eq!(status, StatusCode::TOO_MANY_REQUESTS);
    // Staff are not limited by the public budget.
    let operator = server.login("operator").await;
    operator.log_call(json!({})).await;
    server.stop().await;
}

async fn the_web_pages_are_served_by_the_binary(backend: Backend) {
    let server = TestServer::start(backend).await;
    let client = reqwest::Client::new();
    // The last is where every notification mail links (`{public_base_url}/tickets/{number}`).
    for page in ["/", "/login", "/console", "/workbench", "/wall", "/public", "/track", "/tickets/20261123-000001"] {
        let r = client.get(format!("{}{page}", server.base)).send().await.unwrap();
        assert_eq!(r.status(), StatusCode::OK, "{page}");
        assert!(r.headers()["content-type"].to_str().unwrap().starts_with("text/html"), "{page}");
        assert!(r.headers().contains_key("content-security-policy"));
        assert!(r.text().await.unwrap().contains("/assets/js/app.js"), "{page}");
    }
    let r = client.get(format!("{}/assets/js/app.js", server.base)).send().await.unwrap();
    assert_eq!(r.status(), StatusCode::OK);
    assert!(r.headers()["content-type"].to_str().unwrap().contains("javascript"));
    let etag = r.headers()["etag"].to_str().unwrap().to_string();
    let again =
        client.get(format!("{}/assets/js/app.js", server.base)).header("if-none-match", &etag).send().await.unwrap();
    assert_eq!(again.status(), StatusCode::NOT_MODIFIED, "unchanged files are not sent again");
    let chart = client.get(format!("{}/assets/vendor/echarts.min.js", server.base)).send().await.unwrap();
    assert_eq!(chart.status(), StatusCode::OK, "ECharts is vendored, no CDN");
    let missing = client.get(format!("{}/assets/nope.js", server.base)).send().await.unwrap();
    assert_eq!(missing.status(), StatusCode::NOT_FOUND);
    // The API keeps its own answers for unknown paths.
    let (status, body) = server.request(Method::GET, "/api/v1/nothing-here", None, None).await;
    assert_eq!((status, body["error"].as_str()), (StatusCode::NOT_FOUND, Some("no_route")));
    let (status, clock) = server.request(Method::GET, "/api/v1/clock", None, None).await;
    assert_eq!(status, StatusCode::OK);
    assert!(clock["now"].as_str().unwrap().ends_with("+08:00"));
    server.stop().await;
}
