//! Hot spots (未诉先办, issue 7): a burst of calls about one problem in one street is raised
//! once, mailed to the supervisors with its tickets, listed, and pushed to the supervisors'
//! live boards — on every instance, and never to a department.

mod common;
#[path = "common/smtp_sink.rs"]
mod smtp_sink;

use common::{live_socket, next_message, send_json, two_bureaus, wait_for, Backend, Socket, TestClock, TestServer};
use hotline::config::Config;
use reqwest::StatusCode;
use serde_json::{json, Value};
use smtp_sink::SmtpSink;
use std::time::Duration;

both_backends!(
    a_burst_in_one_street_alerts_the_supervisors_once,
    supervisors_see_a_hot_spot_live_and_departments_never
);

/// Long enough for any machine; every wait ends as soon as its message arrives.
const WAIT: Duration = Duration::from_secs(10);

/// Opens the live socket and waits for its first board, so nothing after this is missed.
async fn watch(server: &TestServer, token: &str) -> (Socket, i64) {
    let mut socket = live_socket(server, token).await;
    let hello = next_message(&mut socket, WAIT).await.expect("hello");
    send_json(&mut socket, json!({"type": "subscribe"})).await;
    wait_for(&mut socket, WAIT, |m| m["type"] == "view").await;
    (socket, hello["seq"].as_i64().unwrap())
}

/// Six calls about the same problem in the second street: (street, ids, numbers).
async fn burst(operator: &common::User<'_>) -> (String, Vec<i64>, Vec<String>) {
    let street = common::catalog().district.streets[1].code.clone();
    let (mut ids, mut numbers) = (Vec::new(), Vec::new());
    for i in 0..6 {
        let t = operator
            .log_call(json!({"street": street, "category": common::first_leaf_category(), "content": format!("积水第{i}处"), "route": false}))
            .await;
        ids.push(t["id"].as_i64().unwrap());
        numbers.push(t["number"].as_str().unwrap().to_string());
    }
    (street, ids, numbers)
}

fn is_alert(m: &Value) -> bool {
    m["type"] == "hotspot_alert"
}

async fn a_burst_in_one_street_alerts_the_supervisors_once(backend: Backend) {
    let sink = SmtpSink::start().await;
    let config = Config { smtp_url: Some(sink.url()), ..Config::default() };
    let server = TestServer::start_with(backend, common::TestClock::starting_now(), config).await;
    let operator = server.login("operator").await;
    let category = common::first_leaf_category();
    // Quiet elsewhere: four calls in another street are not enough.
    for _ in 0..4 {
        operator.log_call(json!({"street": "xinhua", "category": category, "route": false})).await;
    }
    let (street, ids, numbers) = burst(&operator).await;
    let now = server.store.now();
    let raised = hotline::jobs::hotspots::check(&server.state, now).await.unwrap();
    // The 6-hour and the 24-hour window both rose; the same run again raises nothing new.
    assert_eq!(raised.len(), 2, "{raised:?}");
    assert!(hotline::jobs::hotspots::check(&server.state, now).await.unwrap().is_empty());

    let supervisor = server.login("supervisor").await;
    let (status, list) = supervisor.get("/api/v1/hotspots").await;
    assert_eq!(status, StatusCode::OK, "{list}");
    let alerts = list["alerts"].as_array().unwrap();
    assert_eq!(alerts.len(), 2);
    for a in alerts {
        assert_eq!(a["street"], street.as_str());
        assert_eq!(a["category"], category.as_str());
        assert_eq!(a["count"], 6);
        assert_eq!(a["baseline"], 0.0);
        assert!(a["street_name"].as_str().unwrap().ends_with("街道"));
        let mut tickets: Vec<i64> = a["tickets"].as_array().unwrap().iter().map(|t| t.as_i64().unwrap()).collect();
        tickets.sort_unstable();
        assert_eq!(tickets, ids);
        assert_eq!(a["numbers"], json!(numbers), "the numbers with them, in the same order");
    }
    let (status, _) = operator.get("/api/v1/hotspots").await;
    assert_eq!(status, StatusCode::FORBIDDEN);

    // The supervisors are mailed, once per alert, with the tickets behind it.
    server.drain_mail().await;
    let mails: Vec<_> = sink.received().into_iter().filter(|m| m.subject().contains("热点预警")).collect();
    assert_eq!(mails.len(), 2, "{:?}", sink.received().iter().map(|m| m.subject()).collect::<Vec<_>>());
    assert!(mails.iter().all(|m| m.body().contains(&numbers[0]) && m.subject().contains("6件")));
    server.stop().await;
}

async fn supervisors_see_a_hot_spot_live_and_departments_never(backend: Backend) {
    let server = TestServer::start(backend).await;
    let operator = server.login("operator").await;
    let supervisor = server.login("supervisor").await;
    let (bureau, _) = two_bureaus();
    let dept = server.login(&bureau).await;
    let (mut wall, before_burst) = watch(&server, &supervisor.token).await;
    let (mut workbench, _) = watch(&server, &dept.token).await;

    let (street, ids, numbers) = burst(&operator).await;
    let raised = hotline::jobs::hotspots::check(&server.state, server.store.now()).await.unwrap();
    assert_eq!(raised.len(), 2, "the 6-hour and the 24-hour window");

    // The wall hears of both alerts, each as its own message with the tickets behind it.
    let mut windows = Vec::new();
    for _ in 0..2 {
        let (message, _) = wait_for(&mut wall, WAIT, is_alert).await;
        let alert = &message["alert"];
        assert!(message["seq"].as_i64().unwrap() > before_burst);
        assert_eq!(alert["street"], street.as_str());
        assert!(alert["street_name"].as_str().unwrap().ends_with("街道"), "{alert}");
        assert_eq!(alert["category"], common::first_leaf_category());
        assert_eq!((alert["count"].as_i64(), alert["baseline"].as_f64()), (Some(6), Some(0.0)));
        assert_eq!(alert["tickets"], json!(ids));
        assert_eq!(alert["numbers"], json!(numbers));
        windows.push(alert["window_hours"].as_i64().unwrap());
    }
    windows.sort_unstable();
    assert_eq!(windows, [6, 24]);

    // The department's own next ticket comes after the alerts in the log: by the time it
    // arrives, an alert sent to the department would have arrived first.
    let own = operator.log_call(json!({"dispatch": {"lead": bureau}})).await;
    let (_, earlier) = wait_for(&mut workbench, WAIT, |m| m["type"] == "event" && m["ticket_id"] == own["id"]).await;
    assert!(!earlier.iter().any(is_alert), "a department is never told of hot spots: {earlier:?}");
    let seen = serde_json::to_string(&earlier).unwrap();
    assert!(numbers.iter().all(|n| !seen.contains(n.as_str())), "nor of the tickets behind them");

    // A wall that was away resumes from its last sequence number and gets the alerts replayed.
    let (mut back, _) = watch(&server, &supervisor.token).await;
    send_json(&mut back, json!({"type": "subscribe", "after": before_burst})).await;
    let (replayed, _) = wait_for(&mut back, WAIT, is_alert).await;
    assert_eq!(replayed["alert"]["numbers"], json!(numbers));
    server.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_hot_spot_raised_on_one_instance_reaches_the_wall_on_the_other() {
    let (url, _) = common::fresh_database(Backend::Postgres).await;
    let clock = TestClock::starting_now();
    let first =
        TestServer::start_on(Backend::Postgres, url.clone(), None, clock.clone(), Config::default(), true).await;
    let second = TestServer::start_on(Backend::Postgres, url, None, clock, Config::default(), false).await;
    let supervisor = second.login("supervisor").await;
    let (mut wall, _) = watch(&second, &supervisor.token).await;
    let operator = first.login("operator").await;
    let (street, _, numbers) = burst(&operator).await;
    assert_eq!(hotline::jobs::hotspots::check(&first.state, first.store.now()).await.unwrap().len(), 2);
    let (message, _) = wait_for(&mut wall, WAIT, is_alert).await;
    assert_eq!(message["alert"]["street"], street.as_str());
    assert_eq!(message["alert"]["numbers"], json!(numbers));
    first.stop().await;
    second.stop().await;
}
