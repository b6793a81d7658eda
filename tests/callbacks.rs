//! 回访 as operators work it: a replied ticket joins the queue inside calling hours, one
//! operator at a time calls a resident, unanswered calls are retried and then given up,
//! inquiries answered on the spot are sampled. On SQLite and PostgreSQL.

mod common;

use common::{two_bureaus, Backend, TestClock, TestServer};
use hotline::config::Config;
use serde_json::{json, Value};

both_backends!(
    replied_ticket_is_called_back_by_one_operator_at_a_time,
    unanswered_callbacks_are_retried_then_given_up,
    callback_after_calling_hours_waits_for_the_morning,
);

async fn replied(server: &TestServer, body: Value) -> Value {
    let (lead, _) = two_bureaus();
    let operator = server.login("operator").await;
    let dept = server.login(&lead).await;
    let mut call = body;
    call["dispatch"] = json!({"lead": lead});
    let t = operator.log_call(call).await;
    let id = t["id"].to_string();
    dept.act(&id, "accept", json!(null)).await;
    dept.act(&id, "reply", json!({"outcome": "solved", "text": "已处理"})).await
}

async fn replied_ticket_is_called_back_by_one_operator_at_a_time(backend: Backend) {
    let server = TestServer::start_with(backend, TestClock::at("2026-11-23T10:00:00+08:00"), Config::default()).await;
    let t = replied(&server, json!({"caller_phone": "13700000001"})).await;
    let other = replied(&server, json!({"caller_phone": "13700000001"})).await;
    let declined = replied(&server, json!({"callback_consent": false})).await;
    assert_eq!(declined["status"], "replied");
    assert!(declined["callback"].is_null(), "a resident who declined is never called");
    let first = server.login("operator").await;
    let (_, queue) = first.get("/api/v1/callbacks").await;
    let ids: Vec<&Value> = queue["callbacks"].as_array().unwrap().iter().map(|c| &c["id"]).collect();
    assert_eq!(ids, vec![&t["id"], &other["id"]]);
    // Inside calling hours: callable at once (the test clock runs on by milliseconds).
    assert!(queue["callbacks"][0]["callback"]["next_call_at"].as_str().unwrap().starts_with("2026-11-23T02:00:0"));

    let id = t["id"].to_string();
    let claimed = first.act(&id, "claim-callback", json!(null)).await;
    assert_eq!(claimed["callback"]["claimed_by"], "operator");
    // A second operator may neither take this call nor call the same resident about another ticket.
    let second = server.login("dispatcher").await;
    let (status, body) = second.post(&format!("/api/v1/tickets/{id}/claim-callback"), json!(null)).await;
    assert_eq!(status, 403, "{body}");
    let (status, body) = second.post(&format!("/api/v1/tickets/{}/claim-callback", other["id"]), json!(null)).await;
    assert_eq!(status, 409, "{body}");
    assert!(body["message"].as_str().unwrap().contains("operator"));
    let (status, _) = second
        .post(
            &format!("/api/v1/tickets/{id}/callback"),
            json!({"reached": true, "solved": "yes", "satisfaction": "satisfied"}),
        )
        .await;
    assert_eq!(status, 403);
    let done = first.act(&id, "callback", json!({"reached": true, "solved": "yes", "satisfaction": "satisfied"})).await;
    assert_eq!(done["status"], "closed");
    // The claim ends with the call: the other ticket can be taken now.
    second.act(&other["id"].to_string(), "claim-callback", json!(null)).await;
    server.stop().await;
}

async fn unanswered_callbacks_are_retried_then_given_up(backend: Backend) {
    let clock = TestClock::at("2026-11-23T10:00:00+08:00");
    let server = TestServer::start_with(backend, clock.clone(), Config::default()).await;
    let t = replied(&server, json!({})).await;
    let id = t["id"].to_string();
    let operator = server.login("operator").await;
    let after_first = operator.act(&id, "callback", json!({"reached": false, "failure": "no_answer"})).await;
    assert_eq!(after_first["status"], "replied");
    let next = after_first["callback"]["next_call_at"].as_str().unwrap();
    assert!(next.starts_with("2026-11-23T04:00:0"), "two hours later: {next}");
    operator.act(&id, "callback", json!({"reached": false, "failure": "busy"})).await;
    let given_up = operator.act(&id, "callback", json!({"reached": false, "failure": "no_answer"})).await;
    assert_eq!(given_up["status"], "closed");
    assert_eq!(given_up["callback"]["unreachable"], true);
    let (_, events) = operator.get(&format!("/api/v1/tickets/{id}/events")).await;
    assert!(events.as_array().unwrap().iter().any(|e| e["type"] == "callback_unreachable"));
    let (_, queue) = operator.get("/api/v1/callbacks").await;
    assert!(queue["callbacks"].as_array().unwrap().is_empty());
    server.stop().await;
}

async fn callback_after_calling_hours_waits_for_the_morning(backend: Backend) {
    // Friday 21:00: calling hours end at 20:00 and the weekend is off.
    let server = TestServer::start_with(backend, TestClock::at("2026-11-27T21:00:00+08:00"), Config::default()).await;
    let t = replied(&server, json!({})).await;
    assert_eq!(t["callback"]["next_call_at"], "2026-11-30T01:00:00Z", "Monday 09:00 in Beijing");
    server.stop().await;
}
