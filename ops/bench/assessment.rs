//! Monthly assessment (考评) benchmark:
//! `cargo run --release --example bench_assessment -- [sqlite|postgres] [TICKETS] [year|month]`
//! (default 1,000,000 tickets over the year).
//!
//! Writes `TICKETS` tickets arriving through 2026 (`year`: a city's year, about a twelfth of
//! them in October) or all in October (`month`: the worst case) through the real state
//! machine — received, dispatched by hand to one of the district's units (some returned and
//! re-dispatched), accepted (some late), replied (some late, some after an extension), called back with a mix
//! of answers, some reopened and replied again — and loads their events into a fresh database.
//! Then times `Store::assessment` for October (with its National Day holiday) (read the month's facts, fold them, rank), three
//! times, and prints Markdown rows for ops/bench/RESULTS.md. PostgreSQL: a database
//! `bench_assessment` is created and dropped on 127.0.0.1:5432.

#[path = "cpu.rs"]
mod cpu;

use hotline::catalog::Catalog;
use hotline::domain::assessment::{month_period, Weights};
use hotline::domain::event::{ActorRef, Event, EventKind, Received};
use hotline::domain::lifecycle::{decide, Actor, Assignment, CallbackReport, Command};
use hotline::domain::ticket::{apply, Ticket};
use hotline::domain::types::{Channel, Kind, Outcome, Role, Satisfaction, Solved, Urgency};
use hotline::store::{actor_ref, Store};
use rand::{rngs::StdRng, Rng, SeedableRng};
use sqlx::Connection;
use std::path::Path;
use std::sync::Arc;
use std::time::Instant;

/// One ticket's history, built the way the server builds it.
struct History {
    events: Vec<Event>,
    ticket: Option<Ticket>,
    id: i64,
}

impl History {
    fn push(&mut self, seq: &mut i64, at: chrono::DateTime<chrono::Utc>, actor: &ActorRef, kind: EventKind) {
        *seq += 1;
        let event = Event { seq: *seq, ticket_id: self.id, at, actor: actor.clone(), kind };
        self.ticket = Some(apply(self.ticket.take(), &event));
        self.events.push(event);
    }

    fn run(&mut self, seq: &mut i64, catalog: &Catalog, actor: &Actor, at: chrono::DateTime<chrono::Utc>, c: Command) {
        let ticket = self.ticket.as_ref().expect("received first");
        let kinds = decide(ticket, &c, &catalog.context(actor, at))
            .unwrap_or_else(|e| panic!("{} on ticket {}: {e:?}", c.action(), self.id));
        let by = actor_ref(actor);
        for kind in kinds {
            self.push(seq, at, &by, kind);
        }
    }
}

/// An event waiting to be written, earliest first: a server writes events in the order they
/// happen, so the log is in time order, not ticket by ticket.
struct Pending(Event);

impl PartialEq for Pending {
    fn eq(&self, other: &Self) -> bool {
        (self.0.at, self.0.seq) == (other.0.at, other.0.seq)
    }
}
impl Eq for Pending {}
impl PartialOrd for Pending {
    fn partial_cmp(&self, other: &Self) -> Option<std::cmp::Ordering> {
        Some(self.cmp(other))
    }
}
impl Ord for Pending {
    fn cmp(&self, other: &Self) -> std::cmp::Ordering {
        // Reversed: BinaryHeap pops the greatest, and the earliest must come out first.
        (other.0.at, other.0.seq).cmp(&(self.0.at, self.0.seq))
    }
}

fn department_actor(code: &str) -> Actor {
    Actor {
        user_id: 100,
        username: code.into(),
        role: Role::Department,
        department: Some(code.into()),
        units: vec![code.into()],
    }
}

#[tokio::main]
async fn main() {
    let backend = std::env::args().nth(1).unwrap_or_else(|| "sqlite".into());
    // BENCH_KEEP (a file for SQLite, anything for PostgreSQL) keeps the database afterwards,
    // and a kept database that already holds tickets is timed again without regenerating.
    let keep = std::env::var("BENCH_KEEP").is_ok();
    let tickets: i64 = std::env::args().nth(2).map_or(1_000_000, |n| n.parse().expect("TICKETS is a number"));
    let spread = std::env::args().nth(3).unwrap_or_else(|| "year".into());
    let catalog = Catalog::load(Path::new("dispatch_rules")).expect("run from the project folder");
    let district = &catalog.district;
    // Units that take tickets: every unit but the centre.
    let units: Vec<String> = district
        .departments
        .iter()
        .filter(|d| d.kind != hotline::domain::district::DepartmentKind::Centre)
        .map(|d| d.code.clone())
        .collect();
    let category = district.leaf_categories().next().unwrap().code.clone();
    let operator =
        Actor { user_id: 1, username: "operator".into(), role: Role::Operator, department: None, units: vec![] };
    let supervisor =
        Actor { user_id: 3, username: "supervisor".into(), role: Role::Supervisor, department: None, units: vec![] };
    let by_operator = actor_ref(&operator);

    let dir = tempfile::tempdir().unwrap();
    let url = match backend.as_str() {
        "postgres" => {
            sqlx::any::install_default_drivers();
            let mut admin = sqlx::AnyConnection::connect("postgres://postgres@127.0.0.1:5432/test").await.unwrap();
            if !keep {
                let _ = sqlx::query("DROP DATABASE IF EXISTS bench_assessment").execute(&mut admin).await;
            }
            let _ = sqlx::query("CREATE DATABASE bench_assessment").execute(&mut admin).await;
            "postgres://postgres@127.0.0.1:5432/bench_assessment".to_string()
        }
        // BENCH_KEEP=FILE keeps the SQLite database there, to look into afterwards.
        _ => match std::env::var("BENCH_KEEP") {
            Ok(file) => format!("sqlite://{file}"),
            Err(_) => format!("sqlite://{}/bench.db", dir.path().display()),
        },
    };
    let store = Store::connect(&url, 10, Arc::new(chrono::Utc::now)).await.unwrap();
    store.sync_departments(&catalog.department_rows()).await.unwrap();

    // Tickets arrive through the year, or through October's first 24 days (so that most of
    // them are replied and called back inside it).
    let (first, arrival_days) = match spread.as_str() {
        "month" => (month_period("2026-10").unwrap().0, 24),
        "year" => (month_period("2026-01").unwrap().0, 365),
        other => panic!("spread: {other:?} is not year or month"),
    };
    let mut rng = StdRng::seed_from_u64(12345);
    let mut seq = 0i64;
    let started = Instant::now();
    let mut events_total = 0usize;
    let mut batch: Vec<Event> = Vec::with_capacity(100_000);
    let loaded = store.last_event_seq().await.unwrap();
    if loaded > 0 {
        println!("reusing the kept database: {loaded} events");
    }
    let to_generate = if loaded == 0 { tickets } else { 0 };
    // Tickets are numbered as they arrive, and their events are written in the order they
    // happen (each ticket's history is made at once, then merged into the log by time, as a
    // server's sequence numbers would have them).
    let mut arrivals: Vec<i64> = (0..to_generate).map(|_| rng.gen_range(0..arrival_days * 86_400)).collect();
    arrivals.sort_unstable();
    let mut pending: std::collections::BinaryHeap<Pending> = std::collections::BinaryHeap::new();
    let mut written = 0i64;
    for id in 1..=to_generate {
        let received_at = first + chrono::Duration::seconds(arrivals[(id - 1) as usize]);
        // Everything that happened before this call is in the log by now.
        while pending.peek().is_some_and(|p| p.0.at < received_at) {
            let mut event = pending.pop().expect("peeked").0;
            written += 1;
            event.seq = written;
            batch.push(event);
        }
        let lead = &units[rng.gen_range(0..units.len())];
        let mut h = History { events: Vec::with_capacity(16), ticket: None, id };
        let received = Received {
            number: format!("20261001-{id:06}"),
            kind: Kind::Complaint,
            channel: Channel::Phone,
            urgency: Urgency::Normal,
            category: category.clone(),
            street: None,
            community: None,
            address: "海川区某小区".into(),
            content: "小区垃圾清运不及时".into(),
            caller_name: "市民".into(),
            caller_phone: "13812345678".into(),
            confidential: false,
            callback_consent: true,
            call_id: None,
        };
        h.push(&mut seq, received_at, &by_operator, EventKind::Received(received));
        let by_hand = |lead: &str| Assignment {
            lead: lead.into(),
            assists: vec![],
            policy: Some("general".into()),
            note: None,
            rule_id: None,
            rules_version: None,
        };
        let mut at = received_at + chrono::Duration::minutes(2);
        h.run(&mut seq, &catalog, &operator, at, Command::Dispatch(by_hand(lead)));
        let mut department = department_actor(lead);
        // One in thirty returned (退单) within hours and re-dispatched to another unit.
        if rng.gen_bool(1.0 / 30.0) {
            at += chrono::Duration::minutes(rng.gen_range(10..240));
            h.run(&mut seq, &catalog, &department, at, Command::Return { reason: "不属于本单位职责".into() });
            let other = &units[(units.iter().position(|u| u == lead).unwrap() + 1) % units.len()];
            at += chrono::Duration::minutes(rng.gen_range(10..120));
            h.run(&mut seq, &catalog, &supervisor, at, Command::Redispatch { to: by_hand(other), category: None });
            department = department_actor(other);
        }
        // Accepted within minutes, or a day later (late) for one ticket in ten.
        at += chrono::Duration::minutes(if rng.gen_bool(0.1) { 1440 } else { rng.gen_range(5..90) });
        h.run(&mut seq, &catalog, &department, at, Command::Accept);
        if rng.gen_bool(0.05) {
            at += chrono::Duration::hours(20);
            let request = Command::RequestExtension { reason: "需协调".into(), extra: "3wd".into() };
            h.run(&mut seq, &catalog, &department, at, request);
            at += chrono::Duration::hours(1);
            let decision = Command::DecideExtension { approve: true, note: None };
            h.run(&mut seq, &catalog, &supervisor, at, decision);
        }
        let reply = |rng: &mut StdRng| Command::Reply {
            outcome: if rng.gen_bool(0.85) { Outcome::Solved } else { Outcome::Explained },
            text: "已现场处理".into(),
        };
        // Replies take one to nine days: some after the 5-working-day deadline.
        at += chrono::Duration::hours(rng.gen_range(20..220));
        h.run(&mut seq, &catalog, &department, at, reply(&mut rng));
        // Called back the next day (the callback policy); one in ten unhappy, then reopened
        // and replied again.
        at += chrono::Duration::hours(rng.gen_range(18..30));
        let unhappy = rng.gen_bool(0.1);
        let report = CallbackReport {
            reached: true,
            failure: None,
            solved: Some(if unhappy {
                Solved::No
            } else if rng.gen_bool(0.1) {
                Solved::Partly
            } else {
                Solved::Yes
            }),
            satisfaction: Some(if unhappy {
                Satisfaction::Dissatisfied
            } else if rng.gen_bool(0.2) {
                Satisfaction::BasicallySatisfied
            } else {
                Satisfaction::Satisfied
            }),
            comment: None,
        };
        h.run(&mut seq, &catalog, &operator, at, Command::RecordCallback(report));
        if unhappy {
            at += chrono::Duration::hours(rng.gen_range(24..72));
            h.run(&mut seq, &catalog, &department, at, reply(&mut rng));
        }
        events_total += h.events.len();
        pending.extend(h.events.into_iter().map(Pending));
        if id == to_generate {
            batch.extend(std::iter::from_fn(|| pending.pop()).map(|p| {
                written += 1;
                Event { seq: written, ..p.0 }
            }));
        }
        if batch.len() >= 100_000 || id == to_generate {
            store.bulk_load_bench_events(&batch).await.unwrap();
            batch.clear();
        }
    }
    let load_s = started.elapsed().as_secs_f64();
    println!(
        "| {backend}: {tickets} tickets, {events_total} events, arriving through the {spread} | generated through the state machine and loaded in {load_s:.0} s |"
    );

    let weights = Weights::default();
    let period = month_period("2026-10").unwrap();
    let mut times = Vec::new();
    for run in 1..=3 {
        let cpu_before = cpu::CpuSnapshot::take(None);
        let started = Instant::now();
        let ranking = store.assessment(district, period, &weights).await.unwrap();
        let seconds = started.elapsed().as_secs_f64();
        let cpu = cpu_before.and_then(|b| Some(cpu::CpuSnapshot::take(None)?.since(&b)));
        let ranked = ranking.departments.iter().filter(|d| d.rank.is_some()).count();
        let replies: u64 = ranking.departments.iter().filter(|d| d.level == 0).map(|d| d.total.replies).sum();
        println!("  run {run}: {seconds:.2} s; {ranked} departments ranked, {replies} replies judged");
        if let Some(cpu) = cpu {
            cpu.print();
        }
        times.push(seconds);
    }
    times.sort_by(f64::total_cmp);
    println!(
        "| {backend}: monthly assessment of October 2026, {tickets} tickets in the database arriving through the {spread} | median {:.2} s of 3 runs (min {:.2}, max {:.2}) |",
        times[1], times[0], times[2]
    );
    store.close().await;
    if backend == "postgres" {
        let mut admin = sqlx::AnyConnection::connect("postgres://postgres@127.0.0.1:5432/test").await.unwrap();
        if !keep {
            let _ = sqlx::query("DROP DATABASE IF EXISTS bench_assessment").execute(&mut admin).await;
        }
    }
}
