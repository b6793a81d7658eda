//! Hot spots (未诉先办, issue 7): a burst of calls about one problem in one street is raised
//! once, mailed to the supervisors with its tickets, and listed.

mod common;
#[path = "common/smtp_sink.rs"]
mod smtp_sink;

use common::{Backend, TestServer};
use hotline::config::Config;
use reqwest::StatusCode;
use serde_json::json;
use smtp_sink::SmtpSink;

both_backends!(a_burst_in_one_street_alerts_the_supervisors_once);

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
    let street = common::catalog().district.streets[1].code.clone();
    let mut burst = Vec::new();
    for i in 0..6 {
        let t = operator
            .log_call(
                json!({"street": street, "category": category, "content": format!("积水第{i}处"), "route": false}),
            )
            .await;
        burst.push(t["id"].as_i64().unwrap());
    }
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
        assert_eq!(tickets, burst);
    }
    let (status, _) = operator.get("/api/v1/hotspots").await;
    assert_eq!(status, StatusCode::FORBIDDEN);

    // The supervisors are mailed, once per alert, with the tickets behind it.
    server.drain_mail().await;
    let mails: Vec<_> = sink.received().into_iter().filter(|m| m.subject().contains("热点预警")).collect();
    assert_eq!(mails.len(), 2, "{:?}", sink.received().iter().map(|m| m.subject()).collect::<Vec<_>>());
    let number = server.store.ticket(burst[0]).await.unwrap().unwrap().number;
    assert!(mails.iter().all(|m| m.body().contains(&number) && m.subject().contains("6件")));
    server.stop().await;
}
