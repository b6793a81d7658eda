//! SLA clock benchmark: `cargo run --release --example bench_clocks -- [sqlite|postgres]`.
//!
//! 1. Deadline computations per second (`StageClock::start` on the real calendar).
//! 2. 1,000,000 open timers in the store (bulk-loaded rows, due next year): server memory and
//!    the scheduler's start-up (its first look for the earliest timer).
//! 3. 10,000 tickets whose accept deadlines fall on the same second: the real scheduler fires
//!    them; firing lag = event time − deadline, p50/p99/max, and how long the burst took.
//!
//! Prints Markdown rows for ops/bench/RESULTS.md. PostgreSQL: a database `bench_clocks` is
//! created and dropped on 127.0.0.1:5432.

use hotline::catalog::Catalog;
use hotline::config::Config;
use hotline::domain::event::{EventKind, Received};
use hotline::domain::lifecycle::{decide, Actor, Assignment, Command};
use hotline::domain::sla::{Stage, StageClock};
use hotline::domain::types::{Channel, Kind, Role, Urgency};
use hotline::http::AppState;
use hotline::store::{actor_ref, Store};
use sqlx::Connection;
use std::path::Path;
use std::sync::atomic::{AtomicI64, Ordering};
use std::sync::Arc;
use std::time::Instant;
#[path = "stats.rs"]
mod stats;
use stats::percentile;

fn rss_mib() -> f64 {
    let status = std::fs::read_to_string("/proc/self/status").unwrap_or_default();
    status
        .lines()
        .find(|l| l.starts_with("VmRSS:"))
        .and_then(|l| l.split_whitespace().nth(1))
        .and_then(|kb| kb.parse::<f64>().ok())
        .map_or(0.0, |kb| kb / 1024.0)
}

#[tokio::main]
async fn main() {
    let backend = std::env::args().nth(1).unwrap_or_else(|| "sqlite".into());
    let catalog = Catalog::load(Path::new("dispatch_rules")).expect("run from the project folder");

    // 1. Deadline arithmetic.
    let policy = catalog.policies.get("complex").unwrap();
    let base = chrono::DateTime::parse_from_rfc3339("2026-01-05T09:00:00+08:00").unwrap().to_utc();
    let n = 1_000_000;
    let started = Instant::now();
    let mut sink = 0i64;
    for i in 0..n {
        let at = base + chrono::Duration::minutes((i % 500_000) as i64);
        sink ^= StageClock::start(Stage::Reply, policy, &catalog.calendar, at).due_at.timestamp();
    }
    let per_sec = n as f64 / started.elapsed().as_secs_f64();
    std::hint::black_box(sink);
    println!("| deadline computations (15wd reply clock start, incl. warning point) | {per_sec:.0} per second |");

    // A store whose clock the benchmark can move: real time plus an offset.
    let offset = Arc::new(AtomicI64::new(0));
    let clock_offset = offset.clone();
    let clock =
        Arc::new(move || chrono::Utc::now() + chrono::Duration::milliseconds(clock_offset.load(Ordering::SeqCst)));
    let dir = tempfile::tempdir().unwrap();
    let url = match backend.as_str() {
        "postgres" => {
            sqlx::any::install_default_drivers();
            let mut admin = sqlx::AnyConnection::connect("postgres://postgres@127.0.0.1:5432/test").await.unwrap();
            let _ = sqlx::query("DROP DATABASE IF EXISTS bench_clocks").execute(&mut admin).await;
            sqlx::query("CREATE DATABASE bench_clocks").execute(&mut admin).await.unwrap();
            "postgres://postgres@127.0.0.1:5432/bench_clocks".to_string()
        }
        _ => format!("sqlite://{}/bench.db", dir.path().display()),
    };
    let store = Store::connect(&url, 10, clock.clone()).await.unwrap();
    store.sync_departments(&catalog.department_rows()).await.unwrap();

    // 2. A million open timers, due next year.
    let rss_before = rss_mib();
    let started = Instant::now();
    let far = (chrono::Utc::now() + chrono::Duration::days(365)).timestamp_millis();
    store.bulk_load_bench_timers(1_000_000, far).await.unwrap();
    let load_s = started.elapsed().as_secs_f64();
    drop(store);
    let started = Instant::now();
    let store = Store::connect(&url, 10, clock.clone()).await.unwrap();
    let next = store.next_timer_at().await.unwrap();
    let startup_ms = started.elapsed().as_secs_f64() * 1000.0;
    println!(
        "| {backend}: 1,000,000 open timers | bulk load {load_s:.1} s; start-up (connect + migrate check + earliest timer) {startup_ms:.1} ms; next timer {} |",
        next.map(|t| t.to_rfc3339()).unwrap_or_default()
    );

    // 3. 10,000 deadlines on the same second.
    let (lead, actor) = (
        "cgw".to_string(),
        Actor { user_id: 1, username: "op".into(), role: Role::Operator, department: None, units: vec![] },
    );
    let frozen = chrono::Utc::now();
    let frozen_store = store.with_clock(Arc::new(move || frozen));
    let burst = 10_000;
    let started = Instant::now();
    for i in 0..burst {
        let received = Received {
            number: String::new(),
            kind: Kind::Complaint,
            channel: Channel::Phone,
            urgency: Urgency::Urgent,
            category: "01.01.01".into(),
            street: None,
            community: None,
            address: String::new(),
            content: format!("燃气泄漏 {i}"),
            caller_name: String::new(),
            caller_phone: "13812345678".into(),
            confidential: false,
            callback_consent: false,
            call_id: None,
        };
        let a = Assignment {
            lead: lead.clone(),
            assists: vec![],
            policy: None,
            note: None,
            rule_id: None,
            rules_version: None,
        };
        frozen_store
            .create_ticket(
                &actor_ref(&actor),
                |number, _| Ok(EventKind::Received(Received { number, ..received })),
                |t, now| decide(t, &Command::Dispatch(a), &catalog.context(&actor, now)),
            )
            .await
            .unwrap();
    }
    let created_s = started.elapsed().as_secs_f64();
    let rss_loaded = rss_mib();
    let first_due = store.next_timer_at().await.unwrap().unwrap();
    // Move the clock to 2 s before the shared deadline and let the real scheduler run.
    let shift = (first_due - chrono::Utc::now()).num_milliseconds() - 2000;
    offset.store(shift, Ordering::SeqCst);
    let state = AppState::new(store.clone(), Config::default(), Catalog::load(Path::new("dispatch_rules")).unwrap())
        .expect("search backend");
    let (stop, stopped) = tokio::sync::oneshot::channel::<()>();
    let scheduler = tokio::spawn(hotline::jobs::timers::run(state.clone(), async {
        let _ = stopped.await;
    }));
    let started = Instant::now();
    loop {
        tokio::time::sleep(std::time::Duration::from_millis(200)).await;
        if store.tickets_with_due_timers(first_due, 1).await.unwrap().is_empty() && started.elapsed().as_secs() > 3 {
            break;
        }
        assert!(started.elapsed().as_secs() < 600, "burst not fired in 10 minutes");
    }
    let burst_s = started.elapsed().as_secs_f64() - 2.0;
    let _ = stop.send(());
    let _ = scheduler.await;
    let mut lags: Vec<f64> = store
        .events_after(0, 1_000_000)
        .await
        .unwrap()
        .into_iter()
        .filter_map(|e| match e.kind {
            // The burst: every ticket's first timer (the accept warning) on the same second.
            EventKind::ClockWarned { scheduled_at, .. } if scheduled_at == first_due => {
                Some((e.at - scheduled_at).num_milliseconds() as f64)
            }
            _ => None,
        })
        .collect();
    lags.sort_by(f64::total_cmp);
    println!(
        "| {backend}: 10,000 timers on one second (accept warnings) | fired {} events; lag p50 {:.0} ms, p99 {:.0} ms, max {:.0} ms; burst done in {burst_s:.1} s |",
        lags.len(),
        percentile(&lags, 0.5),
        percentile(&lags, 0.99),
        lags.last().copied().unwrap_or(f64::NAN)
    );
    println!(
        "| {backend}: memory | RSS {rss_before:.0} MiB before the million timers, {rss_loaded:.0} MiB with them and 10,000 tickets loaded ({created_s:.1} s to create the tickets) |"
    );
    store.close().await;
    if backend == "postgres" {
        let mut admin = sqlx::AnyConnection::connect("postgres://postgres@127.0.0.1:5432/test").await.unwrap();
        let _ = sqlx::query("DROP DATABASE IF EXISTS bench_clocks").execute(&mut admin).await;
    }
}
