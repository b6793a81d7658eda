//! Two server processes on one PostgreSQL database: each SLA timer fires once, tickets get
//! unique numbers whichever instance takes the call, and timers that fell due while no
//! server ran fire at start, marked late; each scheduled job run happens on one instance; a
//! websocket client on one sees the other's events; and killing one mid-load loses no
//! ticket it acknowledged.

mod common;

use common::{fresh_database, two_bureaus, Backend, PASSWORD};
use hotline::catalog::Catalog;
use hotline::domain::event::{EventKind, Received};
use hotline::domain::lifecycle::{decide, Actor, Assignment, Command};
use hotline::domain::types::{Channel, Kind, Role, Urgency};
use hotline::store::{actor_ref, NewUser, Store};
use std::collections::{HashMap, HashSet};
use std::sync::Arc;
use std::time::{Duration, Instant};

type Instance = common::process::ServerProcess;

fn operator_actor() -> Actor {
    Actor { user_id: 1, username: "operator".into(), role: Role::Operator, department: None, units: vec![] }
}

/// Urgent tickets dispatched three hours ago, while no server was running: their accept
/// (30 min) and reply (2 h) deadlines have passed.
async fn tickets_logged_three_hours_ago(url: &str, catalog: &Catalog, n: usize) -> Store {
    let three_hours_ago = Arc::new(|| chrono::Utc::now() - chrono::Duration::hours(3));
    let store = Store::connect(url, 5, three_hours_ago).await.unwrap();
    store.sync_departments(&catalog.department_rows()).await.unwrap();
    let hash = hotline::http::auth::hash_password(PASSWORD);
    store
        .create_users(&[NewUser {
            username: "operator".into(),
            display_name: "operator".into(),
            role: Role::Operator,
            department: None,
            password_hash: hash,
        }])
        .await
        .unwrap();
    let (lead, _) = two_bureaus();
    let actor = operator_actor();
    for i in 0..n {
        let received = Received {
            number: String::new(),
            kind: Kind::Complaint,
            channel: Channel::Phone,
            urgency: Urgency::Urgent,
            category: common::first_leaf_category(),
            street: None,
            community: None,
            address: String::new(),
            content: format!("燃气管道漏气 {i}"),
            caller_name: String::new(),
            caller_phone: "13812345678".into(),
            confidential: false,
            callback_consent: true,
            call_id: None,
        };
        let assignment = Assignment {
            lead: lead.clone(),
            assists: vec![],
            policy: None,
            note: None,
            rule_id: None,
            rules_version: None,
        };
        store
            .create_ticket(
                &actor_ref(&actor),
                |number, _| Ok(EventKind::Received(Received { number, ..received })),
                |t, now| decide(t, &Command::Dispatch(assignment), &catalog.context(&actor, now)),
            )
            .await
            .unwrap();
    }
    store
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn two_instances_fire_each_timer_once_and_number_tickets_uniquely() {
    let (url, _) = fresh_database(Backend::Postgres).await;
    let catalog = Catalog::load(&common::rules_dir()).unwrap();
    let store = tickets_logged_three_hours_ago(&url, &catalog, 30).await;
    let a = Instance::start(&url, &[]);
    let b = Instance::start(&url, &[]);

    // Both schedulers find the same overdue timers at start; all must fire, each once.
    let deadline = Instant::now() + Duration::from_secs(60);
    while !store.tickets_with_due_timers(chrono::Utc::now(), 10).await.unwrap().is_empty() {
        assert!(Instant::now() < deadline, "timers were not fired");
        tokio::time::sleep(Duration::from_millis(200)).await;
    }
    let events = store.events_after(0, 100_000).await.unwrap();
    let mut fired: HashMap<(i64, String, String), Vec<bool>> = HashMap::new();
    for e in &events {
        match &e.kind {
            EventKind::ClockOverdue { stage, late, .. } => {
                fired.entry((e.ticket_id, "overdue".into(), stage.as_word().into())).or_default().push(*late)
            }
            EventKind::ClockWarned { stage, late, .. } => {
                fired.entry((e.ticket_id, "warned".into(), stage.as_word().into())).or_default().push(*late)
            }
            _ => {}
        }
    }
    for ticket in 1..=30 {
        for (what, stage) in [("overdue", "accept"), ("overdue", "reply"), ("warned", "reply")] {
            let lates = fired.get(&(ticket, what.into(), stage.into())).cloned().unwrap_or_default();
            assert_eq!(lates, vec![true], "ticket {ticket}: {what} {stage} fired {lates:?}");
        }
    }
    let actors: HashSet<&str> =
        events.iter().filter(|e| e.kind.name() == "clock_overdue").map(|e| e.actor.username.as_str()).collect();
    assert_eq!(actors, HashSet::from(["system"]));

    // Calls taken on either instance get numbers that are unique and gap-free.
    let client = reqwest::Client::new();
    let mut tokens = Vec::new();
    for instance in [&a, &b] {
        tokens.push((instance.base.clone(), instance.token("operator").await));
    }
    let mut tasks = Vec::new();
    for i in 0..40 {
        let (base, token) = tokens[i % 2].clone();
        let client = client.clone();
        tasks.push(tokio::spawn(async move {
            let mut body = common::sample_ticket();
            body["route"] = serde_json::json!(false);
            let resp =
                client.post(format!("{base}/api/v1/tickets")).bearer_auth(token).json(&body).send().await.unwrap();
            assert_eq!(resp.status(), 201);
            resp.json::<serde_json::Value>().await.unwrap()["number"].as_str().unwrap().to_string()
        }));
    }
    let mut numbers = Vec::new();
    for t in tasks {
        numbers.push(t.await.unwrap());
    }
    let unique: HashSet<&String> = numbers.iter().collect();
    assert_eq!(unique.len(), 40, "no duplicate ticket numbers across instances");
    drop(a);
    drop(b);
    store.close().await;
}

async fn seeded_database() -> (String, Store) {
    let (url, _) = fresh_database(Backend::Postgres).await;
    let catalog = Catalog::load(&common::rules_dir()).unwrap();
    let store = Store::connect(&url, 5, hotline::store::system_clock()).await.unwrap();
    store.sync_departments(&catalog.department_rows()).await.unwrap();
    let hash = hotline::http::auth::hash_password(PASSWORD);
    let user = |name: &str, role| NewUser {
        username: name.into(),
        display_name: name.into(),
        role,
        department: None,
        password_hash: hash.clone(),
    };
    store.create_users(&[user("operator", Role::Operator), user("supervisor", Role::Supervisor)]).await.unwrap();
    (url, store)
}

async fn create_ticket(client: &reqwest::Client, base: &str, token: &str) -> Option<serde_json::Value> {
    let resp =
        client.post(format!("{base}/api/v1/tickets")).bearer_auth(token).json(&common::sample_ticket()).send().await;
    match resp {
        Ok(r) if r.status() == 201 => r.json().await.ok(),
        _ => None,
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn two_instances_share_live_events_and_scheduled_jobs() {
    let (url, store) = seeded_database().await;
    // The weekly summary every two seconds, so both instances meet many runs.
    let every_two_seconds = [("HOTLINE_WEEKLY_SUMMARY_CRON", "*/2 * * * * *")];
    let mut a = Instance::start(&url, &every_two_seconds);
    let mut b = Instance::start(&url, &every_two_seconds);

    // A supervisor watching instance A sees a call logged on instance B.
    let socket_url =
        format!("{}/api/v1/live?token={}", a.base.replace("http://", "ws://"), a.token("supervisor").await);
    let (mut socket, _) = tokio_tungstenite::connect_async(socket_url).await.expect("websocket upgrade");
    common::send_json(&mut socket, serde_json::json!({"type": "subscribe"})).await;
    let client = reqwest::Client::new();
    let ticket = create_ticket(&client, &b.base, &b.token("operator").await).await.expect("created on B");
    let (event, _) = common::wait_for(&mut socket, Duration::from_secs(30), |m| {
        m["type"] == "event" && m["ticket_id"] == ticket["id"]
    })
    .await;
    assert_eq!(event["event"]["type"], "received");

    // Scheduled runs: wait for several, then stop both; each run was done by one instance.
    let deadline = Instant::now() + Duration::from_secs(60);
    while store.job_runs("weekly_summary").await.unwrap().iter().filter(|(_, outcome)| outcome.is_some()).count() < 4 {
        assert!(Instant::now() < deadline, "the weekly summary did not run");
        tokio::time::sleep(Duration::from_millis(200)).await;
    }
    a.stop();
    b.stop();
    let finished = store.job_runs("weekly_summary").await.unwrap().iter().filter(|(_, o)| o.is_some()).count();
    let ran =
        |i: &Instance| i.logged("scheduled job ran").iter().filter(|l| l["fields"]["job"] == "weekly_summary").count();
    assert_eq!(ran(&a) + ran(&b), finished, "every run once, on one instance");
    store.close().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn killing_an_instance_mid_load_loses_no_acknowledged_ticket() {
    let (url, store) = seeded_database().await;
    let mut a = Instance::start(&url, &[]);
    let b = Instance::start(&url, &[]);
    let client = reqwest::Client::new();
    let targets = [(a.base.clone(), a.token("operator").await), (b.base.clone(), b.token("operator").await)];

    // Eight callers alternate between the instances until told to stop; each keeps the
    // tickets the server acknowledged (201).
    let stop = Arc::new(std::sync::atomic::AtomicBool::new(false));
    let acknowledged = Arc::new(std::sync::Mutex::new(Vec::<serde_json::Value>::new()));
    let mut callers = Vec::new();
    for caller in 0..8 {
        let (client, targets, stop, acknowledged) =
            (client.clone(), targets.clone(), stop.clone(), acknowledged.clone());
        callers.push(tokio::spawn(async move {
            let mut i = caller;
            while !stop.load(std::sync::atomic::Ordering::SeqCst) {
                let (base, token) = &targets[i % 2];
                if let Some(t) = create_ticket(&client, base, token).await {
                    acknowledged.lock().unwrap().push(t);
                }
                i += 1;
            }
        }));
    }
    let wait_for_count = |n: usize| {
        let acknowledged = acknowledged.clone();
        async move {
            let deadline = Instant::now() + Duration::from_secs(120);
            while acknowledged.lock().unwrap().len() < n {
                assert!(Instant::now() < deadline, "the load did not get going");
                tokio::time::sleep(Duration::from_millis(20)).await;
            }
        }
    };
    wait_for_count(60).await;
    a.child.kill().expect("SIGKILL instance A");
    let _ = a.child.wait();
    let at_kill = acknowledged.lock().unwrap().len();
    wait_for_count(at_kill + 40).await;
    stop.store(true, std::sync::atomic::Ordering::SeqCst);
    for c in callers {
        c.await.unwrap();
    }
    drop(b);

    let acknowledged = acknowledged.lock().unwrap().clone();
    let numbers: HashSet<&str> = acknowledged.iter().map(|t| t["number"].as_str().unwrap()).collect();
    assert_eq!(numbers.len(), acknowledged.len(), "no number given twice");
    for t in &acknowledged {
        let stored = store.ticket(t["id"].as_i64().unwrap()).await.unwrap().expect("an acknowledged ticket is stored");
        assert_eq!(stored.number, t["number"].as_str().unwrap());
        assert!(!store.ticket_events(stored.id).await.unwrap().is_empty());
    }
    store.close().await;
}
