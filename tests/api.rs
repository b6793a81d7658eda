//! The JSON API's contract: authentication, department scope, masking, bad input, lists,
//! the OpenAPI document, and ticket numbers under concurrency. Each on SQLite and PostgreSQL.

mod common;

use common::{two_bureaus, Backend, TestServer};
use reqwest::{Method, StatusCode};
use serde_json::{json, Value};

both_backends!(
    health_answers_without_login_and_the_api_does_not,
    login_gives_a_token_that_logout_revokes,
    department_cannot_see_other_departments_tickets,
    confidential_caller_is_masked_for_departments_and_reveals_are_audited,
    bad_input_names_the_field_and_stores_nothing,
    list_filters_and_cursor_pagination,
    caller_history_is_for_the_centre_only,
    openapi_document_covers_every_route,
    ticket_numbers_are_unique_and_ordered_under_concurrent_intake,
);

async fn health_answers_without_login_and_the_api_does_not(backend: Backend) {
    let server = TestServer::start(backend).await;
    let (status, body) = server.request(Method::GET, "/healthz", None, None).await;
    assert_eq!((status, body["status"].as_str()), (StatusCode::OK, Some("ok")));
    let (status, body) = server.request(Method::GET, "/readyz", None, None).await;
    assert_eq!((status, body["status"].as_str()), (StatusCode::OK, Some("ready")));
    let (status, body) = server.request(Method::GET, "/api/v1/tickets", None, None).await;
    assert_eq!(status, StatusCode::UNAUTHORIZED);
    assert_eq!(body["error"], "unauthorized");
    let (status, _) = server.request(Method::GET, "/api/v1/tickets", Some("not-a-token"), None).await;
    assert_eq!(status, StatusCode::UNAUTHORIZED);
    server.stop().await;
}

async fn login_gives_a_token_that_logout_revokes(backend: Backend) {
    let server = TestServer::start(backend).await;
    let (status, body) = server
        .request(Method::POST, "/api/v1/auth/login", None, Some(json!({"username": "operator", "password": "wrong"})))
        .await;
    assert_eq!(status, StatusCode::UNAUTHORIZED);
    assert_eq!(body["message"], "wrong username or password");
    let (status, _) = server
        .request(Method::POST, "/api/v1/auth/login", None, Some(json!({"username": "nobody", "password": "x"})))
        .await;
    assert_eq!(status, StatusCode::UNAUTHORIZED);
    let operator = server.login("operator").await;
    let (status, me) = operator.get("/api/v1/auth/me").await;
    assert_eq!(status, StatusCode::OK);
    assert_eq!(me["role"], "operator");
    let (status, _) = operator.post("/api/v1/auth/logout", json!(null)).await;
    assert_eq!(status, StatusCode::NO_CONTENT);
    let (status, _) = operator.get("/api/v1/auth/me").await;
    assert_eq!(status, StatusCode::UNAUTHORIZED, "a logged-out token is dead");
    // The token is stored hashed: the database never holds it.
    let again = server.login("operator").await;
    let (status, _) = again.get("/api/v1/auth/me").await;
    assert_eq!(status, StatusCode::OK);
    server.stop().await;
}

async fn department_cannot_see_other_departments_tickets(backend: Backend) {
    let server = TestServer::start(backend).await;
    let (mine, theirs) = two_bureaus();
    let operator = server.login("operator").await;
    let me = server.login(&mine).await;
    let other = server.login(&theirs).await;
    let own = operator.log_call(json!({"dispatch": {"lead": mine}})).await;
    let foreign = operator.log_call(json!({"dispatch": {"lead": theirs}})).await;
    let unassigned = operator.log_call(json!({"route": false})).await;

    let (_, list) = me.get("/api/v1/tickets").await;
    let ids: Vec<&Value> = list["tickets"].as_array().unwrap().iter().map(|t| &t["id"]).collect();
    assert_eq!(ids, vec![&own["id"]]);
    for t in [&foreign, &unassigned] {
        for path in [format!("/api/v1/tickets/{}", t["id"]), format!("/api/v1/tickets/{}/events", t["id"])] {
            let (status, body) = me.get(&path).await;
            assert_eq!(status, StatusCode::NOT_FOUND, "{path}: {body}");
        }
        let (status, _) = me.get(&format!("/api/v1/tickets/{}", t["number"].as_str().unwrap())).await;
        assert_eq!(status, StatusCode::NOT_FOUND, "by number too");
        let (status, _) = me.post(&format!("/api/v1/tickets/{}/accept", t["id"]), json!(null)).await;
        assert_eq!(status, StatusCode::NOT_FOUND, "acting is as blind as reading");
    }
    // Asking for another department's tickets by filter gives nothing, not an error.
    let (status, list) = me.get(&format!("/api/v1/tickets?department={theirs}")).await;
    assert_eq!(status, StatusCode::OK);
    assert!(list["tickets"].as_array().unwrap().is_empty());
    let (_, list) = other.get("/api/v1/tickets").await;
    assert_eq!(list["tickets"].as_array().unwrap().len(), 1);
    // Departments do not log calls.
    let (status, _) = me.post("/api/v1/tickets", common::sample_ticket()).await;
    assert_eq!(status, StatusCode::FORBIDDEN);
    server.stop().await;
}

async fn confidential_caller_is_masked_for_departments_and_reveals_are_audited(backend: Backend) {
    let server = TestServer::start(backend).await;
    let (bureau, _) = two_bureaus();
    let operator = server.login("operator").await;
    let supervisor = server.login("supervisor").await;
    let dept = server.login(&bureau).await;
    let t = operator
        .log_call(json!({"confidential": true, "caller_name": "赵建国", "caller_phone": "13912345678", "dispatch": {"lead": bureau}}))
        .await;
    assert_eq!(t["caller_phone"], "13912345678", "the operator who logged it sees the caller");
    let id = t["id"].to_string();
    let (_, seen) = dept.get(&format!("/api/v1/tickets/{id}")).await;
    assert_eq!(seen["caller_phone"], "139****5678");
    assert_eq!(seen["caller_name"], "赵**");
    assert_eq!(seen["caller_masked"], true);
    let (_, list) = dept.get("/api/v1/tickets").await;
    assert_eq!(list["tickets"][0]["caller_phone"], "139****5678");
    let (_, events) = dept.get(&format!("/api/v1/tickets/{id}/events")).await;
    assert_eq!(events[0]["data"]["caller_phone"], "139****5678");
    let accepted = dept.act(&id, "accept", json!(null)).await;
    assert_eq!(accepted["caller_phone"], "139****5678", "action responses are masked too");
    let body = serde_json::to_string(&events).unwrap();
    assert!(!body.contains("13912345678") && !body.contains("赵建国"));

    let (status, _) = dept.post(&format!("/api/v1/tickets/{id}/reveal-caller"), json!({})).await;
    assert_eq!(status, StatusCode::FORBIDDEN);
    let (status, caller) =
        supervisor.post(&format!("/api/v1/tickets/{id}/reveal-caller"), json!({"reason": "督办核实"})).await;
    assert_eq!(status, StatusCode::OK);
    assert_eq!(caller["caller_phone"], "13912345678");
    let (_, events) = supervisor.get(&format!("/api/v1/tickets/{id}/events")).await;
    let reveal = events.as_array().unwrap().iter().find(|e| e["type"] == "caller_revealed").expect("reveal recorded");
    assert_eq!(reveal["actor"]["username"], "supervisor");
    server.stop().await;
}

async fn bad_input_names_the_field_and_stores_nothing(backend: Backend) {
    let server = TestServer::start(backend).await;
    let operator = server.login("operator").await;
    let token = operator.token.clone();
    let with = |k: &str, v: Value| {
        let mut t = common::sample_ticket();
        t[k] = v;
        t
    };
    let cases: Vec<(Value, StatusCode, &str)> = vec![
        (with("kind", json!("complain")), StatusCode::BAD_REQUEST, "kind"),
        (with("urgency", json!("asap")), StatusCode::BAD_REQUEST, "urgency"),
        (with("content", json!(42)), StatusCode::BAD_REQUEST, "content"),
        (with("content", json!("很".repeat(4001))), StatusCode::UNPROCESSABLE_ENTITY, "content"),
        (with("content", json!("   ")), StatusCode::UNPROCESSABLE_ENTITY, "content"),
        (with("caller_phone", json!("12345678901")), StatusCode::UNPROCESSABLE_ENTITY, "caller_phone"),
        (with("category", json!("99.99.99")), StatusCode::UNPROCESSABLE_ENTITY, "category"),
        (with("street", json!("atlantis")), StatusCode::UNPROCESSABLE_ENTITY, "street"),
        (with("colour", json!("red")), StatusCode::BAD_REQUEST, "colour"),
        (with("dispatch", json!({"lead": "nobody"})), StatusCode::UNPROCESSABLE_ENTITY, "lead"),
    ];
    let mut without_phone = common::sample_ticket();
    without_phone.as_object_mut().unwrap().remove("caller_phone");
    let cases = cases.into_iter().chain([(without_phone, StatusCode::BAD_REQUEST, "caller_phone")]);
    for (body, expected, field) in cases {
        let (status, answer) = operator.post("/api/v1/tickets", body).await;
        assert_eq!(status, expected, "{field}: {answer}");
        assert_eq!(answer["field"], field, "{answer}");
        assert!(answer["message"].as_str().is_some_and(|m| !m.is_empty()));
    }
    let (status, answer) = server
        .raw(Method::POST, "/api/v1/tickets", Some(&token), "application/json", br#"{"kind": "complaint","#.to_vec())
        .await;
    assert_eq!(status, StatusCode::BAD_REQUEST);
    assert!(answer["message"].as_str().unwrap().contains("not valid JSON"), "{answer}");
    let (status, _) = server.raw(Method::POST, "/api/v1/tickets", Some(&token), "text/plain", b"hello".to_vec()).await;
    assert_eq!(status, StatusCode::UNSUPPORTED_MEDIA_TYPE);
    let huge = serde_json::to_vec(&with("content", json!("x".repeat(200_000)))).unwrap();
    let (status, answer) = server.raw(Method::POST, "/api/v1/tickets", Some(&token), "application/json", huge).await;
    assert_eq!(status, StatusCode::PAYLOAD_TOO_LARGE, "{answer}");
    assert_eq!(answer["error"], "payload_too_large");
    let (status, answer) = operator.get("/api/v1/tickets?status=lost").await;
    assert_eq!((status, answer["field"].as_str()), (StatusCode::BAD_REQUEST, Some("status")));
    let (status, answer) = operator.get("/api/v1/tickets?sort=asc").await;
    assert_eq!((status, answer["field"].as_str()), (StatusCode::BAD_REQUEST, Some("sort")));
    let (status, answer) = operator.get("/api/v1/tickets/not-a-ticket").await;
    assert_eq!((status, answer["field"].as_str()), (StatusCode::BAD_REQUEST, Some("id")));

    // Nothing of the above was stored.
    assert_eq!(server.store.last_event_seq().await.unwrap(), 0);
    let (_, list) = operator.get("/api/v1/tickets").await;
    assert!(list["tickets"].as_array().unwrap().is_empty());
    // A refused transition leaves the ticket as it was.
    let t = operator.log_call(json!({"route": false})).await;
    let (status, _) = operator.post(&format!("/api/v1/tickets/{}/dispatch", t["id"]), json!({"lead": "nobody"})).await;
    assert_eq!(status, StatusCode::UNPROCESSABLE_ENTITY);
    let (_, after) = operator.get(&format!("/api/v1/tickets/{}", t["id"])).await;
    assert_eq!(after["version"], t["version"]);
    assert_eq!(server.store.last_event_seq().await.unwrap(), 1);
    server.stop().await;
}

async fn list_filters_and_cursor_pagination(backend: Backend) {
    let server = TestServer::start(backend).await;
    let (a, b) = two_bureaus();
    let operator = server.login("operator").await;
    let dept_a = server.login(&a).await;
    let mut numbers = Vec::new();
    for i in 0..7 {
        let lead = if i % 2 == 0 { &a } else { &b };
        let kind = if i < 3 { "complaint" } else { "help" };
        let t = operator
            .log_call(
                json!({"kind": kind, "urgency": if i == 6 { "urgent" } else { "normal" }, "dispatch": {"lead": lead}}),
            )
            .await;
        numbers.push(t["number"].as_str().unwrap().to_string());
    }
    let first = operator.log_call(json!({"route": false})).await;
    dept_a.act(&numbers[0], "accept", json!(null)).await;

    let count = |v: &Value| v["tickets"].as_array().unwrap().len();
    let (_, all) = operator.get("/api/v1/tickets").await;
    assert_eq!(count(&all), 8);
    assert_eq!(all["tickets"][0]["id"], first["id"], "newest first");
    let (_, page) = operator.get(&format!("/api/v1/tickets?department={a}")).await;
    assert_eq!(count(&page), 4);
    let (_, page) = operator.get("/api/v1/tickets?status=received").await;
    assert_eq!(count(&page), 1);
    let (_, page) = operator.get("/api/v1/tickets?status=accepted,dispatched").await;
    assert_eq!(count(&page), 7);
    let (_, page) = operator.get("/api/v1/tickets?kind=complaint").await;
    assert_eq!(count(&page), 4, "three plus the undispatched sample complaint");
    let (_, page) = operator.get("/api/v1/tickets?urgency=urgent").await;
    assert_eq!(count(&page), 1);
    let category = common::first_leaf_category();
    let prefix = category.rsplit_once('.').unwrap().0;
    let (_, page) = operator.get(&format!("/api/v1/tickets?category={prefix}")).await;
    assert_eq!(count(&page), 8);
    let (_, page) = operator.get(&format!("/api/v1/tickets?street={}", common::first_street())).await;
    assert_eq!(count(&page), 8);
    let (_, page) = operator.get("/api/v1/tickets?created_from=2000-01-01&created_to=2001-01-01").await;
    assert_eq!(count(&page), 0);
    let (_, page) = operator.get("/api/v1/tickets?overdue=true").await;
    assert_eq!(count(&page), 0);
    server.clock.advance_minutes(60 * 24 * 30);
    let operator = server.login("operator").await;
    let (_, page) = operator.get("/api/v1/tickets?overdue=true").await;
    assert_eq!(count(&page), 7, "a month later every dispatched ticket is past its 5 working days");
    assert_eq!(page["tickets"][0]["overdue"], true);

    // Cursor pagination walks every ticket once.
    let mut seen = Vec::new();
    let mut path = "/api/v1/tickets?limit=3".to_string();
    loop {
        let (status, page) = operator.get(&path).await;
        assert_eq!(status, StatusCode::OK);
        seen.extend(page["tickets"].as_array().unwrap().iter().map(|t| t["id"].as_i64().unwrap()));
        match page["next_cursor"].as_str() {
            Some(c) => path = format!("/api/v1/tickets?limit=3&cursor={c}"),
            None => break,
        }
    }
    assert_eq!(seen, (1..=8).rev().collect::<Vec<i64>>());
    let (status, body) = operator.get("/api/v1/tickets?limit=0").await;
    assert_eq!((status, body["field"].as_str()), (StatusCode::BAD_REQUEST, Some("limit")));
    server.stop().await;
}

async fn caller_history_is_for_the_centre_only(backend: Backend) {
    let server = TestServer::start(backend).await;
    let (bureau, _) = two_bureaus();
    let operator = server.login("operator").await;
    let dept = server.login(&bureau).await;
    operator.log_call(json!({"caller_phone": "13700001111", "dispatch": {"lead": bureau}})).await;
    operator.log_call(json!({"caller_phone": "13700001111"})).await;
    operator.log_call(json!({"caller_phone": "13700002222", "route": false})).await;
    let (status, history) = operator.get("/api/v1/callers/13700001111/tickets").await;
    assert_eq!(status, StatusCode::OK);
    assert_eq!(history["tickets"].as_array().unwrap().len(), 2);
    let (status, _) = dept.get("/api/v1/callers/13700001111/tickets").await;
    assert_eq!(status, StatusCode::FORBIDDEN);
    let (status, body) = operator.get("/api/v1/callers/abc/tickets").await;
    assert_eq!((status, body["field"].as_str()), (StatusCode::BAD_REQUEST, Some("phone")));
    server.stop().await;
}

/// Every path in the document is served, and with the methods the document names.
async fn openapi_document_covers_every_route(backend: Backend) {
    let server = TestServer::start(backend).await;
    let (status, doc) = server.request(Method::GET, "/api/openapi.json", None, None).await;
    assert_eq!(status, StatusCode::OK);
    assert!(doc["openapi"].as_str().unwrap().starts_with("3."));
    let paths = doc["paths"].as_object().unwrap();
    assert!(paths.len() >= 30, "{} paths", paths.len());
    let admin = server.login("admin").await;
    for (path, item) in paths {
        let concrete = path.replace("{id}", "999999").replace("{phone}", "13800000000");
        for method in item.as_object().unwrap().keys() {
            let method = Method::from_bytes(method.to_uppercase().as_bytes()).unwrap();
            let body = if method == Method::POST { Some(json!({})) } else { None };
            let (status, answer) = server.request(method.clone(), &concrete, Some(&admin.token), body).await;
            assert_ne!(status, StatusCode::METHOD_NOT_ALLOWED, "{method} {path}");
            assert_ne!(answer["error"], "no_route", "{method} {path} is documented but not served");
        }
    }
    // And the other way round: an undocumented path is not served.
    let (status, answer) = server.request(Method::GET, "/api/v1/nothing-here", None, None).await;
    assert_eq!((status, answer["error"].as_str()), (StatusCode::NOT_FOUND, Some("no_route")));
    for documented in
        ["/api/v1/tickets/{id}/accept", "/api/v1/tickets", "/api/v1/auth/login", "/api/v1/callers/{phone}/tickets"]
    {
        assert!(paths.contains_key(documented), "{documented}");
    }
    server.stop().await;
}

async fn ticket_numbers_are_unique_and_ordered_under_concurrent_intake(backend: Backend) {
    let server = TestServer::start(backend).await;
    let operator = server.login("operator").await;
    let token = operator.token.clone();
    let mut tasks = Vec::new();
    for i in 0..40 {
        let client = server.client.clone();
        let url = format!("{}/api/v1/tickets", server.base);
        let token = token.clone();
        tasks.push(tokio::spawn(async move {
            let mut body = common::sample_ticket();
            body["caller_phone"] = json!(format!("139{:08}", i));
            let resp = client.post(url).bearer_auth(token).json(&body).send().await.unwrap();
            assert_eq!(resp.status(), StatusCode::CREATED);
            resp.json::<Value>().await.unwrap()
        }));
    }
    let mut created: Vec<(i64, String)> = Vec::new();
    for t in tasks {
        let v = t.await.unwrap();
        created.push((v["id"].as_i64().unwrap(), v["number"].as_str().unwrap().to_string()));
    }
    created.sort();
    let numbers: Vec<&String> = created.iter().map(|(_, n)| n).collect();
    let mut sorted = numbers.clone();
    sorted.sort();
    sorted.dedup();
    assert_eq!(sorted.len(), 40, "no duplicate numbers");
    assert_eq!(numbers, sorted, "numbers follow creation order");
    let suffixes: Vec<u32> = numbers.iter().map(|n| n[9..].parse().unwrap()).collect();
    assert_eq!(suffixes, (1..=40).collect::<Vec<u32>>(), "gap-free within the day");
    server.stop().await;
}
