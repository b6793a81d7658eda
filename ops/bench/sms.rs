//! SMS drain benchmark: `ops/bench/run-sms.sh` (`cargo test --release --test bench_sms --
//! [sqlite|postgres] [N]`).
//!
//! A real server (in-process, on a fresh database) and a real Kannel (bearerbox, smsbox,
//! fakesmsc on loopback). N requests are logged at once through the HTTP API (64 at a time),
//! each from its own mobile, so N receipts are queued in the intakes' transactions; the drain
//! hands them to Kannel while intake goes on. Measured: intake rate, how long until the last
//! receipt reached the fake SMSC, the drain's rate, and per text the time from intake (the
//! row's created_at, the intake transaction's time) to the moment it left the server (its
//! sent_at: Kannel answered 202), p50/p95/max. Checked: every receipt arrived at the fake
//! SMSC exactly once (by ticket number), none failed, none left pending.

#[path = "../../tests/common/mod.rs"]
#[allow(dead_code, unused_imports, unused_macros)]
mod common;

use common::kannel::{self, Kannel};
use common::{Backend, TestClock, TestServer};
use futures::StreamExt;
use hotline::config::Config;
use serde_json::json;
use std::collections::HashMap;
use std::time::{Duration, Instant};
#[path = "stats.rs"]
mod stats;
use stats::percentile;

#[tokio::main(flavor = "multi_thread")]
async fn main() {
    let args: Vec<String> = std::env::args().skip(1).filter(|a| !a.starts_with('-')).collect();
    let backend = match args.first().map(String::as_str) {
        Some("postgres") => Backend::Postgres,
        _ => Backend::Sqlite,
    };
    let n: usize = args.get(1).and_then(|a| a.parse().ok()).unwrap_or(10_000);
    kannel::require_programs();
    let ports = Kannel::ports();
    let config = Config {
        sms_gateway_url: Some(Kannel::sendsms_url(&ports)),
        sms_gateway_user: kannel::USER.into(),
        sms_gateway_password: kannel::PASSWORD.into(),
        sms_callback_token: Some(kannel::TOKEN.into()),
        sms_quiet_hours: "off".into(),
        ..Config::default()
    };
    let server = TestServer::start_with(backend, TestClock::starting_now(), config).await;
    let gateway = tokio::task::block_in_place(|| Kannel::start(ports, &server.base));
    let operator = server.login("operator").await;
    let token = operator.token.clone();
    let body = common::sample_ticket();

    let started = Instant::now();
    let numbers: Vec<String> = futures::stream::iter(0..n)
        .map(|i| {
            let mut call = body.clone();
            call["caller_phone"] = json!(format!("139{i:08}"));
            let client = server.client.clone();
            let url = format!("{}/api/v1/tickets", server.base);
            let token = token.clone();
            async move {
                let response = client.post(url).bearer_auth(token).json(&call).send().await.unwrap();
                assert_eq!(response.status().as_u16(), 201);
                let t: serde_json::Value = response.json().await.unwrap();
                t["number"].as_str().unwrap().to_string()
            }
        })
        .buffer_unordered(64)
        .collect()
        .await;
    let intake_secs = started.elapsed().as_secs_f64();

    // Every receipt at the fake SMSC.
    let deadline = Instant::now() + Duration::from_secs(1800);
    loop {
        if gateway.received().len() >= n {
            break;
        }
        assert!(Instant::now() < deadline, "only {} of {n} receipts arrived", gateway.received().len());
        tokio::time::sleep(Duration::from_millis(200)).await;
    }
    let all_secs = started.elapsed().as_secs_f64();
    tokio::time::sleep(Duration::from_secs(2)).await;
    let received = gateway.received();
    let mut seen: HashMap<String, usize> = HashMap::new();
    for r in &received {
        let number: String = r.text.split("工单号").nth(1).map(|s| s.chars().take(15).collect()).unwrap_or_default();
        *seen.entry(number).or_default() += 1;
    }
    let missing = numbers.iter().filter(|num| !seen.contains_key(*num)).count();
    let duplicated = seen.values().filter(|&&c| c > 1).count();
    let counts = server.store.sms_outbox_counts().await.unwrap();

    // Intake → left the server, per text.
    let mut waits: Vec<f64> = Vec::with_capacity(n);
    let mut first_sent = None;
    let mut last_sent = None;
    for id in 1..=(n as i64 + 10) {
        if let Some(t) = server.store.text_by_id(id).await.unwrap() {
            if let Some(sent) = t.sent_at {
                waits.push((sent - t.created_at).num_milliseconds() as f64);
                first_sent = Some(first_sent.map_or(sent, |f: chrono::DateTime<chrono::Utc>| f.min(sent)));
                last_sent = Some(last_sent.map_or(sent, |l: chrono::DateTime<chrono::Utc>| l.max(sent)));
            }
        }
    }
    waits.sort_by(|a, b| a.partial_cmp(b).unwrap());
    let drain_secs = match (first_sent, last_sent) {
        (Some(f), Some(l)) => (l - f).num_milliseconds() as f64 / 1000.0,
        _ => f64::NAN,
    };
    let backend_name = if backend == Backend::Postgres { "postgres" } else { "sqlite" };
    println!(
        "| {backend_name} | {n} | {:.0}/s ({intake_secs:.1} s) | {all_secs:.1} s | {:.0}/s | {:.0} / {:.0} / {:.0} ms | {} arrived, {missing} missing, {duplicated} twice; outbox sent {} failed {} pending {} |",
        n as f64 / intake_secs,
        waits.len() as f64 / drain_secs,
        percentile(&waits, 0.5),
        percentile(&waits, 0.95),
        waits.last().copied().unwrap_or(f64::NAN),
        received.len(),
        counts.sent,
        counts.failed,
        counts.pending,
    );
    assert_eq!((missing, duplicated, counts.failed, counts.pending), (0, 0, 0, 0), "texts lost or sent twice");
    drop(gateway);
    server.stop().await;
}
