//! Live fan-out benchmark: many websocket clients on `GET /api/v1/live` while ticket events
//! are written at a steady rate, against a running `hotline serve --demo`.
//!
//!     cargo run --release --example bench_live -- --base-url http://127.0.0.1:8080 \
//!         --clients 1000 --events-per-sec 200 --duration-secs 30 --warmup-secs 5
//!
//! Clients are a mix of supervisors (who hear of every event) and department users (who hear
//! of the tickets assigned to their department), spread over `--departments` department
//! logins. Each user logs in once; its token is shared by all of its sockets. Before the
//! sockets open, every department gets `--tickets-per-department` tickets dispatched to it.
//! Then one writer paces `urge` requests (1 event each) and, every `--create-every`th
//! operation, a ticket creation dispatched to a department (3 events), so that the server
//! commits `--events-per-sec` events per second, with at most `--max-in-flight` requests
//! outstanding (if the server cannot keep up, the achieved rate shows it).
//!
//! Delivery latency = the moment a client reads a `{"type":"event"}` frame minus the event's
//! `at` (its commit time, from the server's clock: same machine, same clock). Only events
//! committed in the measured phase count. After the run, the generator reads every ticket's
//! history over HTTP, so "expected" is exact: each measured event times the clients that may
//! see it; "missing" is what a client should have heard of and did not (a resync explains
//! some: the server drops the backlog of a client that fell behind and sends fresh views).
//!
//! With `--server-pid`, the server's resident memory is read from /proc before the sockets
//! open and once they are all subscribed (memory per client = the difference / clients), and
//! the server's, the generator's and PostgreSQL's CPU time over the measured phase.
//!
//! Several instances on one database: `--base-url` (and `--server-pid`) repeated or
//! comma-separated. The log-ins, the tickets made beforehand, the writer and the final reading
//! of the histories use the first instance; socket k connects to instance k mod N. So for
//! every client not on the first instance, each event reaches it through PostgreSQL (the
//! writing instance commits, the client's instance hears of it by `NOTIFY`), and "expected",
//! "missing" and "duplicates" are counted over all clients of all instances alike. Memory and
//! CPU are the instances' sums, with each instance's memory beside them and latency per
//! instance. `ops/bench/run-capacity.sh` runs this against 1, 2 and 4 instances.
//!
//! Speed is reported, never judged: the exit code is non-zero only when the run could not be
//! made (login refused, no socket connected). `ops/bench/run-live.sh` runs this against fresh
//! databases and appends to `ops/bench/RESULTS.md`. The last line printed is
//! `RESULT key=value …`, for scripts.

use clap::Parser;
use futures::{SinkExt, StreamExt};
use rand::rngs::StdRng;
use rand::seq::SliceRandom;
use rand::{Rng, SeedableRng};
use serde::Deserialize;
use serde_json::{json, Value};
use std::collections::{BTreeMap, HashMap, HashSet};
use std::process::ExitCode;
use std::sync::atomic::{AtomicBool, AtomicU64, AtomicUsize, Ordering};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};
use tokio::sync::{watch, Semaphore};
use tokio_tungstenite::tungstenite::Message;

#[derive(Parser, Debug, Clone)]
#[command(name = "bench_live", about = "Websocket fan-out latency against a running hotline server")]
struct Args {
    /// Where `hotline serve` listens; repeated or comma-separated for several instances on
    /// one database (the writer uses the first, sockets are spread round-robin).
    #[arg(long, value_delimiter = ',', default_value = "http://127.0.0.1:8080", num_args = 1)]
    base_url: Vec<String>,
    /// Websocket clients in all.
    #[arg(long, default_value_t = 1000)]
    clients: usize,
    /// Share of the clients that are supervisors (they hear of every event).
    #[arg(long, default_value_t = 0.2)]
    supervisor_share: f64,
    /// Department logins the department clients are spread over (bureaus, street offices,
    /// utilities, in the order of dispatch_rules/departments.toml).
    #[arg(long, default_value_t = 20)]
    departments: usize,
    /// Events committed per second by the writer.
    #[arg(long, default_value_t = 200.0)]
    events_per_sec: f64,
    /// Length of the measured phase (after the warm-up).
    #[arg(long, default_value_t = 30)]
    duration_secs: u64,
    /// Events are written but not measured for this long first.
    #[arg(long, default_value_t = 5)]
    warmup_secs: u64,
    /// After the writer stops, clients keep reading this long for late deliveries.
    #[arg(long, default_value_t = 5)]
    drain_secs: u64,
    /// Tickets dispatched to each department before the sockets open (the urges' targets,
    /// and the department boards' contents).
    #[arg(long, default_value_t = 5)]
    tickets_per_department: usize,
    /// Every Nth write is a ticket creation (3 events) instead of an urge (1 event).
    #[arg(long, default_value_t = 20)]
    create_every: u64,
    /// Write requests outstanding at most; the writer waits beyond that.
    #[arg(long, default_value_t = 64)]
    max_in_flight: usize,
    /// Sockets being opened at the same time.
    #[arg(long, default_value_t = 50)]
    connect_concurrency: usize,
    /// Give up on the connect phase after this long (the run goes on with what connected).
    #[arg(long, default_value_t = 120)]
    connect_timeout_secs: u64,
    #[arg(long, default_value = "hotline-demo")]
    password: String,
    /// The server's process id: its memory and CPU are read from /proc. Repeated or
    /// comma-separated for several instances, in the order of `--base-url`.
    #[arg(long, value_delimiter = ',', num_args = 1)]
    server_pid: Vec<u32>,
    #[arg(long, default_value_t = 12345)]
    seed: u64,
    /// Echoed in the RESULT line (e.g. `sqlite-2`).
    #[arg(long, default_value = "")]
    label: String,
    /// Subscribe as clients did before board patches: every board whole and the ticket in
    /// every event frame (`{"type":"subscribe","patches":false}`). Without it each client
    /// subscribes as the pages do (`{"type":"subscribe","tickets":false}`: patches, event
    /// frames without the ticket): the traffic before and after, one binary.
    #[arg(long)]
    whole_boards: bool,
}

#[tokio::main]
async fn main() -> ExitCode {
    let args = Args::parse();
    if args.whole_boards {
        let _ = SUBSCRIBE.set(r#"{"type":"subscribe","patches":false}"#.to_string());
    }
    match run(args).await {
        Ok(code) => code,
        Err(e) => {
            eprintln!("bench_live: {e}");
            ExitCode::from(2)
        }
    }
}

/// Who a socket belongs to.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum Who {
    Supervisor,
    /// Index into the department list.
    Department(usize),
}

async fn run(args: Args) -> Result<ExitCode, String> {
    let bases: Vec<String> = args.base_url.iter().map(|b| b.trim_end_matches('/').to_string()).collect();
    if bases.is_empty() || bases.iter().any(|b| b.is_empty()) {
        return Err("--base-url must not be empty".into());
    }
    let ws_bases: Vec<String> = bases.iter().map(|b| b.replacen("http://", "ws://", 1)).collect();
    // Log-ins, setup, the writer and the read-back: the first instance.
    let base = bases[0].clone();
    let pids = args.server_pid.clone();
    let http = reqwest::Client::builder()
        .timeout(Duration::from_secs(30))
        .pool_max_idle_per_host(args.max_in_flight)
        .tcp_nodelay(true)
        .build()
        .map_err(|e| format!("cannot build HTTP client: {e}"))?;

    // ── Users: one login each ──
    let operator = login(&http, &base, "operator", &args.password).await?;
    let supervisor = login(&http, &base, "supervisor", &args.password).await?;
    let all_departments = get_json(&http, &format!("{base}/api/v1/departments"), &operator).await?;
    let candidates: Vec<String> = all_departments
        .as_array()
        .into_iter()
        .flatten()
        .filter(|d| matches!(d["kind"].as_str(), Some("bureau" | "street" | "utility")) && d["parent"].is_null())
        .filter_map(|d| d["code"].as_str().map(String::from))
        .collect();
    let mut departments: Vec<(String, String)> = Vec::new(); // (code, token)
    for code in candidates {
        if departments.len() >= args.departments {
            break;
        }
        match login(&http, &base, &code, &args.password).await {
            Ok(token) => departments.push((code, token)),
            Err(e) => eprintln!("skipping department {code}: {e}"),
        }
    }
    if departments.is_empty() && args.supervisor_share < 1.0 {
        return Err("no department user could log in".into());
    }
    let supervisors = ((args.clients as f64) * args.supervisor_share).round() as usize;
    let whos: Vec<Who> = (0..args.clients)
        .map(|i| {
            if i < supervisors {
                Who::Supervisor
            } else {
                Who::Department((i - supervisors) % departments.len().max(1))
            }
        })
        .collect();
    println!(
        "clients:   {} ({} supervisors, {} department clients over {} departments: {})",
        args.clients,
        supervisors,
        args.clients - supervisors,
        departments.len(),
        departments.iter().map(|(c, _)| c.as_str()).collect::<Vec<_>>().join(" ")
    );

    // ── Tickets for every department ──
    let tickets: Arc<Mutex<HashMap<i64, usize>>> = Arc::new(Mutex::new(HashMap::new()));
    let mut targets: Vec<(i64, usize)> = Vec::new();
    let mut rng = StdRng::seed_from_u64(args.seed);
    for (d, (code, _)) in departments.iter().enumerate() {
        for _ in 0..args.tickets_per_department {
            let id = create_ticket(&http, &base, &operator, code, &mut rng).await?;
            tickets.lock().unwrap().insert(id, d);
            targets.push((id, d));
        }
    }
    println!("tickets:   {} dispatched before the sockets open", targets.len());
    tokio::time::sleep(Duration::from_secs(1)).await;
    let rss_before_each = rss_each(&pids, "VmRSS:");
    let rss_before = total(&rss_before_each);

    // ── Sockets ──
    let (stop_tx, stop_rx) = watch::channel(false);
    let ready = Arc::new(AtomicUsize::new(0));
    let failed = Arc::new(AtomicUsize::new(0));
    let gate = Arc::new(Semaphore::new(args.connect_concurrency.max(1)));
    let connect_started = Instant::now();
    let mut handles = Vec::with_capacity(args.clients);
    // Set while the measured phase runs: the traffic each client receives is counted then.
    let measuring = Arc::new(AtomicBool::new(false));
    for (i, who) in whos.iter().enumerate() {
        let token = match who {
            Who::Supervisor => supervisor.clone(),
            Who::Department(d) => departments[*d].1.clone(),
        };
        let instance = i % ws_bases.len();
        let url = format!("{}/api/v1/live?token={token}", ws_bases[instance]);
        let (gate, ready, failed, stop) = (gate.clone(), ready.clone(), failed.clone(), stop_rx.clone());
        let (who, measuring) = (*who, measuring.clone());
        handles.push(tokio::spawn(async move {
            socket_client(i, who, instance, url, gate, ready, failed, measuring, stop).await
        }));
    }
    let connect_deadline = connect_started + Duration::from_secs(args.connect_timeout_secs);
    loop {
        let (r, f) = (ready.load(Ordering::SeqCst), failed.load(Ordering::SeqCst));
        if r + f >= args.clients || Instant::now() > connect_deadline {
            break;
        }
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    let connected = ready.load(Ordering::SeqCst);
    println!(
        "sockets:   {connected} subscribed, {} failed, in {:.1} s",
        failed.load(Ordering::SeqCst),
        connect_started.elapsed().as_secs_f64()
    );
    if connected == 0 {
        let _ = stop_tx.send(true);
        return Err("no websocket client could subscribe".into());
    }
    // Let the subscriptions' first views go out and the allocator settle before reading.
    tokio::time::sleep(Duration::from_secs(2)).await;
    let rss_connected_each = rss_each(&pids, "VmRSS:");
    let rss_connected = total(&rss_connected_each);
    let per_client_kib = rss_before.zip(rss_connected).map(|(a, b)| (b as f64 - a as f64) / connected as f64);
    if let (Some(a), Some(b)) = (rss_before, rss_connected) {
        println!(
            "memory:    server RSS {:.1} MiB before, {:.1} MiB with {connected} clients: {:.1} KiB per client",
            a as f64 / 1024.0,
            b as f64 / 1024.0,
            per_client_kib.unwrap_or(0.0)
        );
    }

    // ── Writer ──
    let writer_started = Instant::now();
    let measure_from = writer_started + Duration::from_secs(args.warmup_secs);
    let write_until = measure_from + Duration::from_secs(args.duration_secs);
    let wall_offset = chrono::Utc::now() - chrono::Duration::from_std(writer_started.elapsed()).unwrap_or_default();
    let to_wall = |t: Instant| wall_offset + chrono::Duration::from_std(t - writer_started).unwrap_or_default();
    let (measure_from_wall, write_until_wall) = (to_wall(measure_from), to_wall(write_until));
    let writes = Arc::new(Mutex::new(Vec::<WriteSample>::new()));
    let in_flight = Arc::new(Semaphore::new(args.max_in_flight.max(1)));
    let progress = Arc::new(AtomicU64::new(0));
    let mut cpu_start = None;
    let mut rss_load = None;
    let mut op: u64 = 0;
    let mut next_at = tokio::time::Instant::now();
    let mut writer_tasks = Vec::new();
    let mut last_report = Instant::now();
    let codes: Arc<Vec<String>> = Arc::new(departments.iter().map(|(c, _)| c.clone()).collect());
    while Instant::now() < write_until {
        tokio::time::sleep_until(next_at).await;
        if cpu_start.is_none() && Instant::now() >= measure_from {
            cpu_start = CpuSnapshot::take(pids.iter().copied());
            measuring.store(true, Ordering::SeqCst);
        }
        if rss_load.is_none() && Instant::now() >= measure_from + Duration::from_secs(args.duration_secs / 2) {
            rss_load = total(&rss_each(&pids, "VmRSS:"));
        }
        if last_report.elapsed() >= Duration::from_secs(5) {
            last_report = Instant::now();
            println!(
                "  {:>5.1} s: {} writes done, {} clients still reading",
                writer_started.elapsed().as_secs_f64(),
                progress.load(Ordering::Relaxed),
                ready.load(Ordering::SeqCst)
            );
        }
        op += 1;
        let create = args.create_every > 0 && op.is_multiple_of(args.create_every);
        let events = if create { 3 } else { 1 };
        let permit = in_flight.clone().acquire_owned().await.expect("semaphore never closed");
        let (target, dept) = if create {
            (None, rng.gen_range(0..codes.len().max(1)))
        } else {
            let (id, d) = *targets.choose(&mut rng).expect("targets checked non-empty");
            (Some(id), d)
        };
        let body = if create { Some(ticket_body(&codes[dept], &mut rng)) } else { None };
        let (http, base, operator, writes, tickets, progress) =
            (http.clone(), base.clone(), operator.clone(), writes.clone(), tickets.clone(), progress.clone());
        writer_tasks.push(tokio::spawn(async move {
            let sent = Instant::now();
            let result = match (target, body) {
                (Some(id), _) => post(
                    &http,
                    &format!("{base}/api/v1/tickets/{id}/urge"),
                    &operator,
                    &json!({"note": "催办：请尽快处理"}),
                )
                .await
                .map(|_| ()),
                (None, Some(body)) => {
                    post(&http, &format!("{base}/api/v1/tickets"), &operator, &body).await.and_then(|v| {
                        let id = v["id"].as_i64().ok_or_else(|| format!("no id in {v}"))?;
                        tickets.lock().unwrap().insert(id, dept);
                        Ok(())
                    })
                }
                (None, None) => unreachable!(),
            };
            drop(permit);
            progress.fetch_add(1, Ordering::Relaxed);
            writes.lock().unwrap().push(WriteSample { sent, took: sent.elapsed(), events, error: result.err() });
        }));
        next_at += Duration::from_secs_f64(events as f64 / args.events_per_sec.max(0.001));
    }
    measuring.store(false, Ordering::SeqCst);
    let measured_secs = Instant::now().saturating_duration_since(measure_from).as_secs_f64().max(0.001);
    for t in writer_tasks {
        let _ = t.await;
    }
    let cpu = cpu_start.and_then(|start| Some(CpuSnapshot::take(pids.iter().copied())?.since(&start)));
    let writes_done = Instant::now();
    tokio::time::sleep(Duration::from_secs(args.drain_secs)).await;
    let _ = stop_tx.send(true);
    let mut results = Vec::with_capacity(handles.len());
    for h in handles {
        match tokio::time::timeout(Duration::from_secs(30), h).await {
            Ok(Ok(r)) => results.push(r),
            Ok(Err(e)) => eprintln!("a client task failed: {e}"),
            Err(_) => eprintln!("a client task did not stop within 30 s"),
        }
    }
    let rss_end = total(&rss_each(&pids, "VmRSS:"));
    // With several instances: the sum of each one's own peak.
    let rss_peak_each = rss_each(&pids, "VmHWM:");
    let rss_peak = total(&rss_peak_each);

    // ── The log, as the server has it: every event of every ticket we touched ──
    let ticket_ids: Vec<(i64, usize)> = tickets.lock().unwrap().iter().map(|(k, v)| (*k, *v)).collect();
    let mut log: HashMap<i64, (chrono::DateTime<chrono::Utc>, usize)> = HashMap::new(); // seq → (at, department)
    for (id, d) in &ticket_ids {
        let events = get_json(&http, &format!("{base}/api/v1/tickets/{id}/events"), &supervisor).await?;
        for e in events.as_array().into_iter().flatten() {
            let (Some(seq), Some(at)) = (e["seq"].as_i64(), e["at"].as_str()) else { continue };
            let at =
                chrono::DateTime::parse_from_rfc3339(at).map_err(|err| format!("event {seq}: bad at {at}: {err}"))?;
            log.insert(seq, (at.with_timezone(&chrono::Utc), *d));
        }
    }
    let measured: HashMap<i64, (chrono::DateTime<chrono::Utc>, usize)> = log
        .iter()
        .filter(|(_, (at, _))| *at >= measure_from_wall && *at < write_until_wall)
        .map(|(k, v)| (*k, *v))
        .collect();
    let measured_by_dept: Vec<usize> =
        (0..departments.len()).map(|d| measured.values().filter(|(_, dd)| *dd == d).count()).collect();

    // ── Tally ──
    let mut latencies: Vec<i64> = Vec::new(); // µs
    let mut lat_sup: Vec<i64> = Vec::new();
    let mut lat_dept: Vec<i64> = Vec::new();
    let mut expected = 0usize;
    let mut delivered = 0usize;
    let mut duplicates = 0usize;
    let mut foreign = 0usize;
    let mut misrouted = 0usize;
    let mut resyncs = 0u64;
    let mut clients_resynced = 0usize;
    let mut views = 0u64;
    let mut gones = 0u64;
    let mut errors = 0u64;
    let mut bytes = 0u64;
    let (mut measured_bytes, mut measured_board_bytes, mut patches) = (0u64, 0u64, 0u64);
    let mut closed_early = 0usize;
    let mut buckets: BTreeMap<i64, Vec<i64>> = BTreeMap::new(); // 5 s of commit time → latencies
    let mut lat_by_instance: Vec<Vec<i64>> = vec![Vec::new(); bases.len()];
    let mut missing_by_instance: Vec<usize> = vec![0; bases.len()];
    for r in &results {
        if !r.subscribed {
            continue;
        }
        resyncs += r.resyncs;
        clients_resynced += (r.resyncs > 0) as usize;
        views += r.views;
        gones += r.gones;
        errors += r.errors;
        bytes += r.bytes;
        measured_bytes += r.measured_bytes;
        measured_board_bytes += r.measured_board_bytes;
        patches += r.patches;
        closed_early += r.closed_early as usize;
        let client_expected = match r.who {
            Who::Supervisor => measured.len(),
            Who::Department(d) => measured_by_dept[d],
        };
        expected += client_expected;
        let mut client_delivered = 0usize;
        let mut seen = HashSet::new();
        for (seq, lat) in &r.events {
            let Some((at, d)) = measured.get(seq) else {
                // Outside the measured phase, or not one of our tickets' events (a timer's).
                if !log.contains_key(seq) {
                    foreign += 1;
                }
                continue;
            };
            if !seen.insert(*seq) {
                duplicates += 1;
                continue;
            }
            if let Who::Department(mine) = r.who {
                if mine != *d {
                    misrouted += 1;
                    continue;
                }
            }
            delivered += 1;
            client_delivered += 1;
            latencies.push(*lat);
            lat_by_instance[r.instance].push(*lat);
            match r.who {
                Who::Supervisor => lat_sup.push(*lat),
                Who::Department(_) => lat_dept.push(*lat),
            }
            buckets.entry((*at - measure_from_wall).num_seconds() / 5).or_default().push(*lat);
        }
        missing_by_instance[r.instance] += client_expected.saturating_sub(client_delivered);
    }
    for l in &mut lat_by_instance {
        l.sort_unstable();
    }
    latencies.sort_unstable();
    lat_sup.sort_unstable();
    lat_dept.sort_unstable();
    let missing = expected.saturating_sub(delivered);

    let writes = writes.lock().unwrap();
    let in_window: Vec<&WriteSample> =
        writes.iter().filter(|w| w.sent >= measure_from && w.sent < write_until).collect();
    let write_errors = in_window.iter().filter(|w| w.error.is_some()).count();
    let mut write_lat: Vec<i64> = in_window.iter().map(|w| w.took.as_micros() as i64).collect();
    write_lat.sort_unstable();
    if let Some(e) = writes.iter().find_map(|w| w.error.as_ref()) {
        eprintln!("first write error: {e}");
    }
    let achieved_eps = measured.len() as f64 / args.duration_secs.max(1) as f64;
    // Traffic per client per minute of the measured phase: everything, and boards alone.
    let per_client_min = |b: u64| b as f64 / 1024.0 / connected.max(1) as f64 / (measured_secs / 60.0);
    let (kib_client_min, board_kib_client_min) = (per_client_min(measured_bytes), per_client_min(measured_board_bytes));
    let over_100 = latencies.iter().filter(|l| **l >= 100_000).count();

    let mib = |k: Option<u64>| k.map(|k| format!("{:.1}", k as f64 / 1024.0)).unwrap_or_else(|| "-".into());
    println!();
    println!(
        "writes:    {} in the measured {} s ({} errors), {} events committed = {:.1} events/s (target {}); write p50 {:.2} ms, p99 {:.2} ms",
        in_window.len(),
        args.duration_secs,
        write_errors,
        measured.len(),
        achieved_eps,
        args.events_per_sec,
        pct(&write_lat, 50.0),
        pct(&write_lat, 99.0)
    );
    println!(
        "delivered: {delivered} of {expected} expected ({missing} missing, {duplicates} duplicates, {misrouted} to the wrong department, {foreign} of other tickets), \
         {resyncs} resyncs on {clients_resynced} clients, {closed_early} sockets closed by the server, {views} view frames, {gones} gone frames, {errors} error frames, {:.1} MiB received; drained {:.1} s after the last write",
        bytes as f64 / 1048576.0,
        (Instant::now() - writes_done).as_secs_f64().min(args.drain_secs as f64)
    );
    println!(
        "traffic:   {kib_client_min:.1} KiB per client per minute in the measured phase, of which boards {board_kib_client_min:.1} KiB ({views} whole boards, {patches} patches in all)"
    );
    println!(
        "latency:   p50 {:.2} ms, p90 {:.2} ms, p99 {:.2} ms, p99.9 {:.2} ms, max {:.2} ms; {:.2}% at or over 100 ms",
        pct(&latencies, 50.0),
        pct(&latencies, 90.0),
        pct(&latencies, 99.0),
        pct(&latencies, 99.9),
        latencies.last().copied().unwrap_or(0) as f64 / 1000.0,
        100.0 * over_100 as f64 / latencies.len().max(1) as f64
    );
    println!(
        "           supervisors p50 {:.2} / p99 {:.2} ms ({} deliveries); departments p50 {:.2} / p99 {:.2} ms ({} deliveries)",
        pct(&lat_sup, 50.0),
        pct(&lat_sup, 99.0),
        lat_sup.len(),
        pct(&lat_dept, 50.0),
        pct(&lat_dept, 99.0),
        lat_dept.len()
    );
    if bases.len() > 1 {
        for (k, l) in lat_by_instance.iter().enumerate() {
            println!(
                "           instance {} ({}{}): p50 {:.2} / p99 {:.2} ms ({} deliveries, {} missing); RSS {} MiB connected, peak {} MiB",
                k + 1,
                bases[k],
                if k == 0 { ", the writer's" } else { "" },
                pct(l, 50.0),
                pct(l, 99.0),
                l.len(),
                missing_by_instance[k],
                mib(rss_connected_each.get(k).copied().flatten()),
                mib(rss_peak_each.get(k).copied().flatten()),
            );
        }
    }
    println!("by commit time (5 s windows of the measured phase):");
    for (b, mut v) in buckets {
        v.sort_unstable();
        println!(
            "  {:>3}–{:<3} s: {:>7} deliveries, p50 {:>8.2} ms, p99 {:>8.2} ms, max {:>8.2} ms",
            b * 5,
            b * 5 + 5,
            v.len(),
            pct(&v, 50.0),
            pct(&v, 99.0),
            v.last().copied().unwrap_or(0) as f64 / 1000.0
        );
    }
    if let Some(cpu) = &cpu {
        cpu.print();
    }
    println!(
        "memory:    server RSS {} MiB before, {} MiB connected, {} MiB mid-run, {} MiB at the end, peak {} MiB",
        mib(rss_before),
        mib(rss_connected),
        mib(rss_load),
        mib(rss_end),
        mib(rss_peak)
    );
    let f2 = |v: Option<f64>| v.map(|v| format!("{v:.2}")).unwrap_or_else(|| "-".into());
    // With several instances: each one's numbers, `/`-separated in the order of --base-url.
    let mut by_instance = String::new();
    if bases.len() > 1 {
        let join = |v: Vec<String>| v.join("/");
        by_instance = format!(
            " p50_by_instance_ms={} p99_by_instance_ms={} missing_by_instance={} rss_connected_each_mib={} rss_peak_each_mib={}",
            join(lat_by_instance.iter().map(|l| format!("{:.2}", pct(l, 50.0))).collect()),
            join(lat_by_instance.iter().map(|l| format!("{:.2}", pct(l, 99.0))).collect()),
            join(missing_by_instance.iter().map(|m| m.to_string()).collect()),
            join(rss_connected_each.iter().map(|k| mib(*k)).collect()),
            join(rss_peak_each.iter().map(|k| mib(*k)).collect()),
        );
    }
    println!(
        "RESULT label={} instances={} clients={} supervisors={} departments={} connected={} target_eps={} achieved_eps={:.1} \
         writes={} write_errors={} write_p50_ms={:.2} write_p99_ms={:.2} expected={} delivered={} missing={} duplicates={} \
         resyncs={} clients_resynced={} closed_early={} views={} p50_ms={:.2} p90_ms={:.2} p99_ms={:.2} p999_ms={:.2} max_ms={:.2} \
         over100_pct={:.2} sup_p99_ms={:.2} dept_p99_ms={:.2} rss_before_mib={} rss_connected_mib={} rss_load_mib={} rss_peak_mib={} \
         per_client_kib={} kib_per_client_min={:.1} board_kib_per_client_min={:.1} patches={} server_cpu_cores={} gen_cpu_cores={} pg_cpu_cores={} other_cpu_cores={} machine_busy_pct={}{}",
        if args.label.is_empty() { "-" } else { args.label.as_str() },
        bases.len(),
        args.clients,
        supervisors,
        departments.len(),
        connected,
        args.events_per_sec,
        achieved_eps,
        in_window.len(),
        write_errors,
        pct(&write_lat, 50.0),
        pct(&write_lat, 99.0),
        expected,
        delivered,
        missing,
        duplicates,
        resyncs,
        clients_resynced,
        closed_early,
        views,
        pct(&latencies, 50.0),
        pct(&latencies, 90.0),
        pct(&latencies, 99.0),
        pct(&latencies, 99.9),
        latencies.last().copied().unwrap_or(0) as f64 / 1000.0,
        100.0 * over_100 as f64 / latencies.len().max(1) as f64,
        pct(&lat_sup, 99.0),
        pct(&lat_dept, 99.0),
        mib(rss_before),
        mib(rss_connected),
        mib(rss_load),
        mib(rss_peak),
        f2(per_client_kib),
        kib_client_min,
        board_kib_client_min,
        patches,
        f2(cpu.as_ref().and_then(|c| c.server_cores())),
        f2(cpu.as_ref().map(|c| c.generator_cores())),
        f2(cpu.as_ref().map(|c| c.postgres_cores())),
        f2(cpu.as_ref().map(|c| c.other_cores())),
        cpu.as_ref().map(|c| format!("{:.0}", c.machine_busy_pct())).unwrap_or_else(|| "-".into()),
        by_instance,
    );
    Ok(ExitCode::SUCCESS)
}

struct WriteSample {
    sent: Instant,
    took: Duration,
    #[allow(dead_code)]
    events: u32,
    error: Option<String>,
}

/// What one socket heard.
struct ClientResult {
    who: Who,
    /// Index into `--base-url` of the instance the socket is on.
    instance: usize,
    subscribed: bool,
    /// (seq, latency in µs) per event frame, in arrival order.
    events: Vec<(i64, i64)>,
    views: u64,
    resyncs: u64,
    gones: u64,
    errors: u64,
    bytes: u64,
    /// Received while the measured phase ran: all frames, and board frames (whole or patch).
    measured_bytes: u64,
    measured_board_bytes: u64,
    patches: u64,
    /// The server closed the socket before the run ended.
    closed_early: bool,
}

/// Just the fields the latency needs; the rest of the frame is skipped, not built.
#[derive(Deserialize)]
struct Frame<'a> {
    #[serde(rename = "type", borrow)]
    kind: &'a str,
    seq: Option<i64>,
    #[serde(borrow)]
    event: Option<FrameEvent<'a>>,
}

#[derive(Deserialize)]
struct FrameEvent<'a> {
    #[serde(borrow)]
    at: &'a str,
}

#[allow(clippy::too_many_arguments)] // the run's shared handles, each one thing
async fn socket_client(
    i: usize,
    who: Who,
    instance: usize,
    url: String,
    gate: Arc<Semaphore>,
    ready: Arc<AtomicUsize>,
    failed: Arc<AtomicUsize>,
    measuring: Arc<AtomicBool>,
    mut stop: watch::Receiver<bool>,
) -> ClientResult {
    let mut r = ClientResult {
        who,
        instance,
        subscribed: false,
        events: Vec::new(),
        views: 0,
        resyncs: 0,
        gones: 0,
        errors: 0,
        bytes: 0,
        measured_bytes: 0,
        measured_board_bytes: 0,
        patches: 0,
        closed_early: false,
    };
    // Open and subscribe under the gate; read freely afterwards.
    let permit = gate.acquire_owned().await.expect("gate never closed");
    let setup = open_and_subscribe(&url);
    let mut ws = match tokio::time::timeout(Duration::from_secs(60), setup).await {
        Ok(Ok(ws)) => ws,
        Ok(Err(e)) => {
            if failed.fetch_add(1, Ordering::SeqCst) < 5 {
                eprintln!("client {i}: {e}");
            }
            return r;
        }
        Err(_) => {
            if failed.fetch_add(1, Ordering::SeqCst) < 5 {
                eprintln!("client {i}: not subscribed within 60 s");
            }
            return r;
        }
    };
    drop(permit);
    r.subscribed = true;
    r.views = 1;
    ready.fetch_add(1, Ordering::SeqCst);
    if who == Who::Supervisor {
        r.events.reserve(16_384);
    }
    loop {
        tokio::select! {
            biased;
            msg = ws.next() => {
                let received = chrono::Utc::now();
                match msg {
                    Some(Ok(Message::Text(t))) => {
                        let len = t.as_str().len() as u64;
                        r.bytes += len;
                        let measured = measuring.load(Ordering::Relaxed);
                        if measured {
                            r.measured_bytes += len;
                        }
                        match serde_json::from_str::<Frame>(t.as_str()) {
                            Ok(f) => match f.kind {
                                "event" => {
                                    let at = f.event.and_then(|e| chrono::DateTime::parse_from_rfc3339(e.at).ok());
                                    match (f.seq, at) {
                                        (Some(seq), Some(at)) => {
                                            let lat = (received - at.with_timezone(&chrono::Utc)).num_microseconds().unwrap_or(i64::MAX);
                                            r.events.push((seq, lat));
                                        }
                                        _ => r.errors += 1,
                                    }
                                }
                                "view" | "view_patch" => {
                                    if f.kind == "view" { r.views += 1 } else { r.patches += 1 }
                                    if measured {
                                        r.measured_board_bytes += len;
                                    }
                                }
                                "resync" => r.resyncs += 1,
                                "gone" => r.gones += 1,
                                "error" => r.errors += 1,
                                _ => {}
                            },
                            Err(_) => r.errors += 1,
                        }
                    }
                    Some(Ok(Message::Close(_))) | None => {
                        r.closed_early = !*stop.borrow();
                        break;
                    }
                    Some(Ok(_)) => {} // pings are answered by tungstenite
                    Some(Err(_)) => {
                        r.closed_early = !*stop.borrow();
                        break;
                    }
                }
            }
            _ = stop.changed() => {
                let _ = tokio::time::timeout(Duration::from_secs(2), ws.close(None)).await;
                break;
            }
        }
    }
    ready.fetch_sub(1, Ordering::SeqCst);
    r
}

/// The subscribe message every client sends (set once from the arguments).
static SUBSCRIBE: std::sync::OnceLock<String> = std::sync::OnceLock::new();

type Ws = tokio_tungstenite::WebSocketStream<tokio_tungstenite::MaybeTlsStream<tokio::net::TcpStream>>;

/// Connects, waits for `hello`, subscribes to the role's default views and waits for the first.
async fn open_and_subscribe(url: &str) -> Result<Ws, String> {
    let (mut ws, _) =
        tokio_tungstenite::connect_async_with_config(url, None, true).await.map_err(|e| format!("connect: {e}"))?;
    loop {
        match ws.next().await {
            Some(Ok(Message::Text(t))) if t.as_str().contains("\"hello\"") => break,
            Some(Ok(_)) => continue,
            Some(Err(e)) => return Err(format!("before hello: {e}")),
            None => return Err("closed before hello".to_string()),
        }
    }
    let subscribe = SUBSCRIBE.get().map_or(r#"{"type":"subscribe","tickets":false}"#, |s| s.as_str());
    ws.send(Message::text(subscribe)).await.map_err(|e| format!("subscribe: {e}"))?;
    loop {
        match ws.next().await {
            Some(Ok(Message::Text(t))) => {
                if t.as_str().contains("\"type\":\"view\"") {
                    return Ok(ws);
                }
                if t.as_str().contains("\"type\":\"error\"") {
                    return Err(format!("subscribe refused: {}", t.as_str()));
                }
            }
            Some(Ok(_)) => continue,
            Some(Err(e)) => return Err(format!("after subscribe: {e}")),
            None => return Err("closed after subscribe".to_string()),
        }
    }
}

async fn login(http: &reqwest::Client, base: &str, username: &str, password: &str) -> Result<String, String> {
    let v = post_raw(
        http,
        &format!("{base}/api/v1/auth/login"),
        None,
        &json!({"username": username, "password": password}),
    )
    .await
    .map_err(|e| format!("login as {username}: {e}"))?;
    v["token"].as_str().map(String::from).ok_or_else(|| format!("login as {username}: no token in {v}"))
}

async fn get_json(http: &reqwest::Client, url: &str, token: &str) -> Result<Value, String> {
    let resp = http.get(url).bearer_auth(token).send().await.map_err(|e| format!("GET {url}: {e}"))?;
    let status = resp.status();
    let body: Value = resp.json().await.map_err(|e| format!("GET {url}: unreadable answer: {e}"))?;
    if !status.is_success() {
        return Err(format!("GET {url}: {status}: {body}"));
    }
    Ok(body)
}

async fn post(http: &reqwest::Client, url: &str, token: &str, body: &Value) -> Result<Value, String> {
    post_raw(http, url, Some(token), body).await
}

async fn post_raw(http: &reqwest::Client, url: &str, token: Option<&str>, body: &Value) -> Result<Value, String> {
    let mut req = http.post(url).json(body);
    if let Some(t) = token {
        req = req.bearer_auth(t);
    }
    let resp = req.send().await.map_err(|e| format!("POST {url}: {e}"))?;
    let status = resp.status();
    let text = resp.text().await.map_err(|e| format!("POST {url}: {e}"))?;
    if !status.is_success() {
        return Err(format!("POST {url}: {status}: {}", text.chars().take(300).collect::<String>()));
    }
    serde_json::from_str(&text).map_err(|e| format!("POST {url}: unreadable answer: {e}"))
}

fn ticket_body(department: &str, rng: &mut StdRng) -> Value {
    json!({
        "kind": "complaint",
        "category": "01.01.01",
        "street": "xinhua",
        "address": format!("新华街道{}号楼{}单元", rng.gen_range(1..=40), rng.gen_range(1..=6)),
        "content": "来电人反映：小区门口道路破损坑洼较多，雨天积水严重，希望有关部门尽快处理。",
        "caller_name": "王先生",
        "caller_phone": format!("138{:08}", rng.gen_range(0..100_000_000u64)),
        "dispatch": {"lead": department},
    })
}

async fn create_ticket(
    http: &reqwest::Client,
    base: &str,
    token: &str,
    department: &str,
    rng: &mut StdRng,
) -> Result<i64, String> {
    let v = post(http, &format!("{base}/api/v1/tickets"), token, &ticket_body(department, rng)).await?;
    v["id"].as_i64().ok_or_else(|| format!("create: no id in {v}"))
}

/// Percentile of sorted µs values, in ms.
fn pct(sorted: &[i64], p: f64) -> f64 {
    if sorted.is_empty() {
        return 0.0;
    }
    let rank = ((p / 100.0) * sorted.len() as f64).ceil() as usize;
    sorted[rank.clamp(1, sorted.len()) - 1] as f64 / 1000.0
}

fn proc_status_kib(pid: u32, key: &str) -> Option<u64> {
    let status = std::fs::read_to_string(format!("/proc/{pid}/status")).ok()?;
    status.lines().find(|l| l.starts_with(key))?.split_whitespace().nth(1)?.parse().ok()
}

/// One /proc/PID/status value per instance, in KiB.
fn rss_each(pids: &[u32], key: &str) -> Vec<Option<u64>> {
    pids.iter().map(|p| proc_status_kib(*p, key)).collect()
}

/// The instances' sum; none when no pid was given or one could not be read.
fn total(each: &[Option<u64>]) -> Option<u64> {
    if each.is_empty() {
        None
    } else {
        each.iter().copied().sum()
    }
}

#[path = "cpu.rs"]
mod cpu;
use cpu::CpuSnapshot;
