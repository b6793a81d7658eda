//! SLA clocks over HTTP with the real scheduler: deadlines in words and instants, timers that
//! fire on time and once, auto-acceptance, suspension, and recounting on a new calendar.
//! On SQLite and PostgreSQL.

mod common;

use common::{two_bureaus, Backend, TestClock, TestServer};
use hotline::config::Config;
use serde_json::{json, Value};
use std::time::{Duration, Instant};

both_backends!(
    every_clock_says_its_unit_and_instant,
    overdue_fires_within_a_second_and_only_once,
    timers_missed_while_down_fire_late_and_marked_late,
    unaccepted_ticket_is_accepted_automatically_and_counted_late,
    suspension_stops_the_timers_and_resume_restarts_them,
    calendar_change_recounts_open_deadlines,
);

/// Monday 23 November 2026, 09:00 in Beijing: a working morning.
const MONDAY_MORNING: &str = "2026-11-23T09:00:00+08:00";

fn events_of(events: &Value, kind: &str) -> Vec<Value> {
    events.as_array().unwrap().iter().filter(|e| e["type"] == kind).cloned().collect()
}

async fn every_clock_says_its_unit_and_instant(backend: Backend) {
    // Before the working day starts, so that the deadlines fall on whole minutes however long
    // the server takes to start (the test clock runs on).
    let server = TestServer::start_with(backend, TestClock::at("2026-11-23T08:30:00+08:00"), Config::default()).await;
    let (lead, assist) = two_bureaus();
    let operator = server.login("operator").await;
    let t = operator.log_call(json!({"dispatch": {"lead": lead, "assists": [assist], "policy": "general"}})).await;
    let clocks = t["clock_views"].as_array().unwrap();
    let summary: Vec<(String, String, Option<String>)> = clocks
        .iter()
        .map(|c| {
            (
                c["stage"].as_str().unwrap().into(),
                c["owner"].as_str().unwrap().into(),
                c["department"].as_str().map(String::from),
            )
        })
        .collect();
    assert_eq!(
        summary,
        vec![
            ("accept".into(), "lead".into(), Some(lead.clone())),
            ("reply".into(), "lead".into(), Some(lead.clone())),
            ("reply".into(), "assist".into(), Some(assist.clone())),
        ]
    );
    let reply = &clocks[1];
    assert_eq!(reply["deadline"]["at"], "2026-11-30T17:30:00+08:00");
    assert_eq!(reply["deadline"]["label"], "5个工作日");
    assert_eq!(reply["state"], "running");
    assert!(
        reply["deadline_text"].as_str().unwrap().contains("5个工作日")
            && reply["deadline_text"].as_str().unwrap().contains("2026-11-30 17:30")
    );
    assert_eq!(clocks[0]["deadline"]["label"], "2个工作小时");
    assert_eq!(clocks[0]["deadline"]["at"], "2026-11-23T11:00:00+08:00");
    server.stop().await;
}

async fn overdue_fires_within_a_second_and_only_once(backend: Backend) {
    let clock = TestClock::at(MONDAY_MORNING);
    let server = TestServer::start_with(backend, clock.clone(), Config::default()).await;
    let (lead, _) = two_bureaus();
    let operator = server.login("operator").await;
    // 紧急: accept within 30 natural minutes.
    let t = operator.log_call(json!({"urgency": "urgent", "dispatch": {"lead": lead}})).await;
    let due = chrono::DateTime::parse_from_rfc3339(t["accept_deadline"]["at"].as_str().unwrap()).unwrap().to_utc();
    // Jump to 1.5 s before the deadline and let the scheduler (not the test) fire it.
    clock.advance_millis((due - clock.now()).num_milliseconds() - 1500);
    server.state.timer_wake().notify_one();
    let operator = server.login("operator").await;
    let id = t["id"].to_string();
    let started = Instant::now();
    let overdue = loop {
        let (_, events) = operator.get(&format!("/api/v1/tickets/{id}/events")).await;
        let found = events_of(&events, "clock_overdue");
        if !found.is_empty() {
            break found[0].clone();
        }
        assert!(started.elapsed() < Duration::from_secs(10), "the overdue timer did not fire");
        tokio::time::sleep(Duration::from_millis(50)).await;
    };
    assert_eq!(overdue["data"]["stage"], "accept");
    assert_eq!(overdue["data"]["late"], false);
    let fired_at = chrono::DateTime::parse_from_rfc3339(overdue["at"].as_str().unwrap()).unwrap().to_utc();
    let lag = fired_at - due;
    assert!(lag >= chrono::Duration::zero() && lag <= chrono::Duration::seconds(1), "fired {lag} after the deadline");
    // Give the scheduler several more turns: it must not fire again.
    tokio::time::sleep(Duration::from_millis(2500)).await;
    server.fire_timers().await;
    let (_, events) = operator.get(&format!("/api/v1/tickets/{id}/events")).await;
    let accept_overdue = events_of(&events, "clock_overdue").iter().filter(|e| e["data"]["stage"] == "accept").count();
    assert_eq!(accept_overdue, 1);
    server.stop().await;
}

async fn timers_missed_while_down_fire_late_and_marked_late(backend: Backend) {
    let clock = TestClock::at(MONDAY_MORNING);
    let server = TestServer::start_with(backend, clock.clone(), Config::default()).await;
    let (lead, _) = two_bureaus();
    let operator = server.login("operator").await;
    let dept = server.login(&lead).await;
    let t = operator.log_call(json!({"urgency": "urgent", "dispatch": {"lead": lead}})).await;
    let id = t["id"].to_string();
    dept.act(&id, "accept", json!(null)).await;
    // Three hours pass at once, as if the server had been down: the reply warning and the
    // overdue both fire now, each once, marked late; the overdue ticket is supervised.
    clock.advance_minutes(180);
    server.fire_timers().await;
    let operator = server.login("operator").await;
    let (_, events) = operator.get(&format!("/api/v1/tickets/{id}/events")).await;
    let warned: Vec<Value> =
        events_of(&events, "clock_warned").into_iter().filter(|e| e["data"]["stage"] == "reply").collect();
    let overdue: Vec<Value> =
        events_of(&events, "clock_overdue").into_iter().filter(|e| e["data"]["stage"] == "reply").collect();
    assert_eq!((warned.len(), overdue.len()), (1, 1));
    assert_eq!(warned[0]["data"]["late"], true);
    assert_eq!(overdue[0]["data"]["late"], true);
    assert_eq!(events_of(&events, "supervised").len(), 1);
    let (_, ticket) = operator.get(&format!("/api/v1/tickets/{id}")).await;
    assert_eq!(ticket["supervised"], true);
    assert_eq!(ticket["overdue"], true);
    let reply = ticket["clock_views"].as_array().unwrap().iter().find(|c| c["stage"] == "reply").unwrap().clone();
    assert_eq!(reply["state"], "overdue");
    assert!(reply["minutes_left"].as_i64().unwrap() < 0);
    assert_eq!(server.fire_timers().await, 0, "nothing fires twice");
    server.stop().await;
}

async fn unaccepted_ticket_is_accepted_automatically_and_counted_late(backend: Backend) {
    let clock = TestClock::at(MONDAY_MORNING);
    let server = TestServer::start_with(backend, clock.clone(), Config::default()).await;
    let (lead, _) = two_bureaus();
    let operator = server.login("operator").await;
    let t = operator.log_call(json!({"dispatch": {"lead": lead, "policy": "general"}})).await;
    // auto_accept_after = 4 working hours: 09:00 → 12:00, then 13:30 → 14:30.
    clock.advance_minutes(5 * 60 + 31);
    server.fire_timers().await;
    let operator = server.login("operator").await;
    let (_, ticket) = operator.get(&format!("/api/v1/tickets/{}", t["id"])).await;
    assert_eq!(ticket["status"], "accepted");
    let (_, events) = operator.get(&format!("/api/v1/tickets/{}/events", t["id"])).await;
    let accepted = events_of(&events, "accepted");
    assert_eq!(accepted[0]["data"]["automatic"], true);
    assert_eq!(accepted[0]["data"]["late"], true);
    assert_eq!(accepted[0]["actor"]["username"], "system");
    server.stop().await;
}

async fn suspension_stops_the_timers_and_resume_restarts_them(backend: Backend) {
    let clock = TestClock::at(MONDAY_MORNING);
    let server = TestServer::start_with(backend, clock.clone(), Config::default()).await;
    let (lead, _) = two_bureaus();
    let operator = server.login("operator").await;
    let supervisor = server.login("supervisor").await;
    let dept = server.login(&lead).await;
    let t = operator.log_call(json!({"dispatch": {"lead": lead, "policy": "general"}})).await;
    let id = t["id"].to_string();
    dept.act(&id, "accept", json!(null)).await;
    dept.act(&id, "request-suspension", json!({"reason": "等待市民提供材料"})).await;
    let suspended = supervisor.act(&id, "decide-suspension", json!({"approve": true})).await;
    let reply =
        |t: &Value| t["clock_views"].as_array().unwrap().iter().find(|c| c["stage"] == "reply").unwrap().clone();
    assert_eq!(reply(&suspended)["state"], "paused");
    // Two weeks later nothing has fired for the paused reply clock.
    clock.advance_minutes(14 * 24 * 60);
    server.fire_timers().await;
    let dept = server.login(&lead).await;
    let (_, events) = dept.get(&format!("/api/v1/tickets/{id}/events")).await;
    assert!(events_of(&events, "clock_overdue").iter().all(|e| e["data"]["stage"] != "reply"));
    let resumed = dept.act(&id, "resume", json!(null)).await;
    assert_eq!(reply(&resumed)["state"], "running");
    assert!(resumed["reply_deadline"]["at"].as_str().unwrap() > suspended["reply_deadline"]["at"].as_str().unwrap());
    server.stop().await;
}

async fn calendar_change_recounts_open_deadlines(backend: Backend) {
    let rules = common::rules_copy();
    let config = Config { rules_dir: rules.path().to_path_buf(), ..Config::default() };
    let server = TestServer::start_with(backend, TestClock::at(MONDAY_MORNING), config).await;
    let (lead, _) = two_bureaus();
    let operator = server.login("operator").await;
    let admin = server.login("admin").await;
    let t = operator.log_call(json!({"dispatch": {"lead": lead, "policy": "general"}})).await;
    assert_eq!(t["reply_deadline"]["at"], "2026-11-30T17:30:00+08:00");
    // An extra day off on Wednesday (an emergency arrangement): the deadline moves a day.
    let year = rules.path().join("calendar/2026.toml");
    let mut text = std::fs::read_to_string(&year).unwrap();
    text.push_str("\n[[holiday]]\nname = \"临时停工\"\nfrom = 2026-11-25\n");
    std::fs::write(&year, text).unwrap();
    let (status, body) = admin.post("/api/v1/admin/rules/reload", json!(null)).await;
    assert_eq!(status, 200, "{body}");
    let started = Instant::now();
    loop {
        let (_, now) = operator.get(&format!("/api/v1/tickets/{}", t["id"])).await;
        if now["reply_deadline"]["at"] == "2026-12-01T17:30:00+08:00" {
            break;
        }
        assert!(started.elapsed() < Duration::from_secs(10), "deadline not recounted: {}", now["reply_deadline"]);
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    let (_, events) = operator.get(&format!("/api/v1/tickets/{}/events", t["id"])).await;
    assert!(events_of(&events, "clocks_changed").iter().any(|e| e["data"]["cause"] == "calendar_changed"));
    server.stop().await;
}
