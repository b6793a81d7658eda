//! Two server processes on one PostgreSQL database: each SLA timer fires once, tickets get
//! unique numbers whichever instance takes the call, and timers that fell due while no
//! server ran fire at start, marked late.

mod common;

use common::{fresh_database, two_bureaus, Backend, PASSWORD};
use hotline::catalog::Catalog;
use hotline::domain::event::{EventKind, Received};
use hotline::domain::lifecycle::{decide, Actor, Assignment, Command};
use hotline::domain::types::{Channel, Kind, Role, Urgency};
use hotline::store::{actor_ref, NewUser, Store};
use std::collections::{HashMap, HashSet};
use std::io::{BufRead, BufReader};
use std::process::{Child, Command as Process, Stdio};
use std::sync::Arc;
use std::time::{Duration, Instant};

struct Instance {
    child: Child,
    base: String,
}

impl Instance {
    fn start(database_url: &str) -> Instance {
        let mut child = Process::new(env!("CARGO_BIN_EXE_hotline"))
            .current_dir(env!("CARGO_MANIFEST_DIR"))
            .args(["serve", "--addr", "127.0.0.1:0"])
            .env("DATABASE_URL", database_url)
            .env_remove("HOTLINE_ADDR")
            .stdout(Stdio::piped())
            .stderr(Stdio::null())
            .spawn()
            .expect("start hotline");
        let mut lines = BufReader::new(child.stdout.take().unwrap()).lines();
        let base = loop {
            let line = lines.next().expect("server output").unwrap();
            if let Some(url) = line.strip_prefix("hotline listening on ") {
                break url.to_string();
            }
        };
        std::thread::spawn(move || for _ in lines {});
        Instance { child, base }
    }
}

impl Drop for Instance {
    fn drop(&mut self) {
        let _ = Process::new("kill").args(["-TERM", &self.child.id().to_string()]).status();
        let _ = self.child.wait();
    }
}

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
    let a = Instance::start(&url);
    let b = Instance::start(&url);

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
        let login: serde_json::Value = client
            .post(format!("{}/api/v1/auth/login", instance.base))
            .json(&serde_json::json!({"username": "operator", "password": PASSWORD}))
            .send()
            .await
            .unwrap()
            .json()
            .await
            .unwrap();
        tokens.push((instance.base.clone(), login["token"].as_str().unwrap().to_string()));
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
