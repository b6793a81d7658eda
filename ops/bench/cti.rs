//! Telephone benchmark: real SIP calls through Kamailio (`ops/kamailio/kamailio.cfg`) into a
//! running `hotline serve --demo`, with signed-in operators watching their screen-pops.
//!
//!     cargo run --release --example bench_cti -- --base-url http://127.0.0.1:8080 \
//!         --token <a cti_pbx_tokens token> --operators 50 --rate 20 --duration-secs 60
//!
//! What it does: logs in as the demo admin, adds `--operators` operator accounts (or reuses
//! them), logs each in, signs each in at extension 8001… (坐席签入) and opens its live socket.
//! Starts Kamailio with the reference configuration on a free loopback port, one SIPp "phone"
//! that answers every call after `--ring-ms` (every extension registers with it as its
//! contact), and one SIPp caller placing `--rate` calls per second for `--duration-secs`, each
//! talking `--talk-ms`, from numbers 13900000000 + i.
//!
//! Measured:
//! * ring-to-screen-pop latency: the moment an operator's socket reads `screen_pop` minus the
//!   `ringing` event's time as Kamailio stamped it when it sent the INVITE to the phone (same
//!   machine, same clock), p50 / p99 / max;
//! * events lost (a lower bound): every call placed must have a call record, an answered one
//!   with 4 events (queued, ringing, answered, hangup), any other with at least 2 (queued,
//!   hangup); lost = 2 × records missing + the events short in the records. Screen-pops are
//!   counted against the records that rang;
//! * server CPU per call: the server's utime+stime (/proc/PID/stat, `--server-pid`) over the
//!   calling phase and the 10 s after it, divided by the calls; Kamailio's likewise.
//!
//! Speed is reported, never judged. The last line printed is `RESULT key=value …`.

use clap::Parser;
use futures::StreamExt;
use serde_json::{json, Value};
use std::path::PathBuf;
use std::process::{Child, Command, Stdio};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};
#[path = "stats.rs"]
mod stats;
use stats::percentile;

#[derive(Parser)]
struct Args {
    #[arg(long, default_value = "http://127.0.0.1:8080")]
    base_url: String,
    /// A PBX token the server accepts (its `cti_pbx_tokens`).
    #[arg(long)]
    token: String,
    #[arg(long, default_value = "hotline-demo")]
    admin_password: String,
    #[arg(long, default_value_t = 50)]
    operators: u32,
    #[arg(long, default_value_t = 8001)]
    first_extension: u32,
    /// New calls per second.
    #[arg(long, default_value_t = 20)]
    rate: u32,
    #[arg(long, default_value_t = 60)]
    duration_secs: u32,
    #[arg(long, default_value_t = 200)]
    ring_ms: u32,
    #[arg(long, default_value_t = 1500)]
    talk_ms: u32,
    /// Kamailio's SIP worker processes.
    #[arg(long, default_value_t = 8)]
    children: u32,
    #[arg(long)]
    server_pid: Option<u32>,
    /// Where logs go.
    #[arg(long, default_value = "ops/bench/out/cti")]
    work_dir: PathBuf,
}

struct Killed(Child);

impl Drop for Killed {
    /// Kamailio's workers outlive a main process killed outright: SIGTERM first (it stops
    /// its workers), SIGKILL only if it is still there after 5 s.
    fn drop(&mut self) {
        let _ = Command::new("kill").args(["-TERM", &self.0.id().to_string()]).status();
        for _ in 0..250 {
            if matches!(self.0.try_wait(), Ok(Some(_))) {
                return;
            }
            std::thread::sleep(Duration::from_millis(20));
        }
        let _ = self.0.kill();
        let _ = self.0.wait();
    }
}

fn free_udp_port() -> u16 {
    std::net::UdpSocket::bind("127.0.0.1:0").unwrap().local_addr().unwrap().port()
}

fn cpu_ticks(pid: u32) -> Option<u64> {
    let stat = std::fs::read_to_string(format!("/proc/{pid}/stat")).ok()?;
    let rest = stat.rsplit_once(')')?.1;
    let fields: Vec<&str> = rest.split_whitespace().collect();
    Some(fields.get(11)?.parse::<u64>().ok()? + fields.get(12)?.parse::<u64>().ok()?)
}

/// CPU ticks of a process and its children still running (Kamailio forks its workers).
fn tree_ticks(pid: u32) -> u64 {
    let mut total = cpu_ticks(pid).unwrap_or(0);
    if let Ok(entries) = std::fs::read_dir("/proc") {
        for e in entries.flatten() {
            let Ok(child) = e.file_name().to_string_lossy().parse::<u32>() else { continue };
            let Ok(stat) = std::fs::read_to_string(format!("/proc/{child}/stat")) else { continue };
            let Some(rest) = stat.rsplit_once(')') else { continue };
            if rest.1.split_whitespace().nth(1) == Some(&pid.to_string()) {
                total += cpu_ticks(child).unwrap_or(0);
            }
        }
    }
    total
}

async fn login(client: &reqwest::Client, base: &str, username: &str, password: &str) -> Result<String, String> {
    let r = client
        .post(format!("{base}/api/v1/auth/login"))
        .json(&json!({"username": username, "password": password}))
        .send()
        .await
        .map_err(|e| e.to_string())?;
    let v: Value = r.json().await.map_err(|e| e.to_string())?;
    v["token"].as_str().map(String::from).ok_or_else(|| format!("login {username}: {v}"))
}

#[tokio::main]
async fn main() -> std::process::ExitCode {
    let args = Args::parse();
    match run(args).await {
        Ok(()) => std::process::ExitCode::SUCCESS,
        Err(e) => {
            eprintln!("bench_cti: {e}");
            std::process::ExitCode::FAILURE
        }
    }
}

async fn run(args: Args) -> Result<(), String> {
    let base = args.base_url.trim_end_matches('/').to_string();
    let client = reqwest::Client::new();
    std::fs::create_dir_all(&args.work_dir).map_err(|e| e.to_string())?;
    let dir = std::fs::canonicalize(&args.work_dir).map_err(|e| e.to_string())?;
    let admin = login(&client, &base, "admin", &args.admin_password).await?;
    const PASSWORD: &str = "bench-operator-pass";
    let pops: Arc<Mutex<Vec<(String, f64)>>> = Arc::default();
    // Frames an operator's socket got instead of a pop: an error (the pop could not be built)
    // or a resync (the client fell behind and the hub dropped its queue).
    let not_pops: Arc<Mutex<Vec<String>>> = Arc::default();
    let mut sockets = Vec::new();
    for i in 0..args.operators {
        let username = format!("bench-op-{i:03}");
        let _ = client
            .post(format!("{base}/api/v1/admin/users"))
            .bearer_auth(&admin)
            .json(&json!({"username": username, "role": "operator", "password": PASSWORD}))
            .send()
            .await;
        let token = login(&client, &base, &username, PASSWORD).await?;
        let ext = args.first_extension + i;
        let r = client
            .post(format!("{base}/api/v1/cti/seat/sign-in"))
            .bearer_auth(&token)
            .json(&json!({"extension": ext.to_string()}))
            .send()
            .await
            .map_err(|e| e.to_string())?;
        if !r.status().is_success() {
            return Err(format!("sign-in {username} at {ext}: {}", r.text().await.unwrap_or_default()));
        }
        let url = format!("{}/api/v1/live?token={token}", base.replace("http://", "ws://"));
        let (mut socket, _) = tokio_tungstenite::connect_async(url).await.map_err(|e| e.to_string())?;
        let pops = pops.clone();
        let not_pops = not_pops.clone();
        sockets.push(tokio::spawn(async move {
            while let Some(Ok(frame)) = socket.next().await {
                let tokio_tungstenite::tungstenite::Message::Text(text) = frame else { continue };
                let now = chrono::Utc::now();
                let Ok(m) = serde_json::from_str::<Value>(text.as_str()) else { continue };
                if m["type"] == "error" || m["type"] == "resync" {
                    not_pops.lock().unwrap().push(text.to_string());
                }
                if m["type"] == "screen_pop" {
                    let rang = m["pop"]["rang_at"].as_str().and_then(|s| chrono::DateTime::parse_from_rfc3339(s).ok());
                    if let Some(rang) = rang {
                        let ms = (now - rang.to_utc()).num_microseconds().unwrap_or(0) as f64 / 1000.0;
                        pops.lock().unwrap().push((m["pop"]["call_id"].as_str().unwrap_or_default().to_string(), ms));
                    }
                }
            }
        }));
    }
    eprintln!("{} operators signed in with their sockets open", args.operators);

    let scenarios = std::fs::canonicalize("ops/kamailio").map_err(|e| format!("run from the project folder: {e}"))?;
    let port = free_udp_port();
    let kamailio = Killed(
        Command::new("kamailio")
            .args(["-DD", "-E", "-f"])
            .arg(scenarios.join("kamailio.cfg"))
            .args(["-A", &format!("LISTEN=udp:127.0.0.1:{port}")])
            .args(["-A", &format!("HOTLINE_URL=\"{base}\"")])
            .args(["-A", &format!("PBX_TOKEN=\"{}\"", args.token)])
            .args(["-A", &format!("OPERATOR_FIRST={}", args.first_extension)])
            .args(["-A", &format!("OPERATOR_COUNT={}", args.operators)])
            .args(["-A", &format!("CHILDREN={}", args.children)])
            .stdin(Stdio::null())
            .stdout(std::fs::File::create(dir.join("kamailio.log")).unwrap())
            .stderr(std::fs::File::create(dir.join("kamailio.err")).unwrap())
            .spawn()
            .map_err(|e| format!("start kamailio: {e}"))?,
    );
    let kamailio_pid = kamailio.0.id();
    let phone_port = free_udp_port();
    let sipp = |name: &str, extra: &[String]| -> Result<Child, String> {
        Command::new("sipp")
            .args(["-nostdin", "-i", "127.0.0.1", "-trace_err", "-error_file"])
            .arg(dir.join(format!("{name}.errors")))
            .args(extra)
            .stdin(Stdio::null())
            .stdout(std::fs::File::create(dir.join(format!("{name}.log"))).unwrap())
            .stderr(Stdio::null())
            .spawn()
            .map_err(|e| format!("start sipp: {e}"))
    };
    let s = |p: &str| scenarios.join("sipp").join(p).display().to_string();
    let _phone = Killed(sipp(
        "phones",
        &[
            "-sf".into(),
            s("operator_answer.xml"),
            "-p".into(),
            phone_port.to_string(),
            "-d".into(),
            args.ring_ms.to_string(),
            "-s".into(),
            "op".into(),
        ],
    )?);
    for i in 0..args.operators {
        let ext = (args.first_extension + i).to_string();
        let mut ok = false;
        for _ in 0..50 {
            let mut reg = sipp(
                "register",
                &[
                    format!("127.0.0.1:{port}"),
                    "-sf".into(),
                    s("register.xml"),
                    "-p".into(),
                    free_udp_port().to_string(),
                    "-s".into(),
                    ext.clone(),
                    "-key".into(),
                    "contact_port".into(),
                    phone_port.to_string(),
                    "-m".into(),
                    "1".into(),
                    "-timeout".into(),
                    "2".into(),
                    "-timeout_error".into(),
                ],
            )?;
            if reg.wait().map(|s| s.success()).unwrap_or(false) {
                ok = true;
                break;
            }
            std::thread::sleep(Duration::from_millis(200));
        }
        if !ok {
            return Err(format!("extension {ext} did not register"));
        }
    }
    // Varied callers: an injection file of numbers.
    let calls = args.rate * args.duration_secs;
    let inf = dir.join("callers.csv");
    let mut text = String::from("SEQUENTIAL\n");
    for i in 0..calls {
        text.push_str(&format!("{}\n", 13_900_000_000u64 + u64::from(i)));
    }
    std::fs::write(&inf, text).map_err(|e| e.to_string())?;
    let scenario =
        std::fs::read_to_string(s("caller_talk.xml")).map_err(|e| e.to_string())?.replace("[caller]", "[field0]");
    let caller_xml = dir.join("caller_bench.xml");
    std::fs::write(&caller_xml, scenario).map_err(|e| e.to_string())?;

    let server_before = args.server_pid.and_then(cpu_ticks);
    let kamailio_before = tree_ticks(kamailio_pid);
    let started = Instant::now();
    eprintln!("placing {calls} calls at {}/s", args.rate);
    let mut caller = sipp(
        "callers",
        &[
            format!("127.0.0.1:{port}"),
            "-sf".into(),
            caller_xml.display().to_string(),
            "-inf".into(),
            inf.display().to_string(),
            "-p".into(),
            free_udp_port().to_string(),
            "-s".into(),
            "12345".into(),
            "-r".into(),
            args.rate.to_string(),
            "-m".into(),
            calls.to_string(),
            "-d".into(),
            args.talk_ms.to_string(),
            "-timeout".into(),
            format!("{}", args.duration_secs + 60),
            "-trace_stat".into(),
            "-stf".into(),
            dir.join("callers.csv.stat").display().to_string(),
        ],
    )?;
    let status = caller.wait().map_err(|e| e.to_string())?;
    let calling = started.elapsed();
    // Tail events (the last hang-ups) and pops.
    tokio::time::sleep(Duration::from_secs(10)).await;
    let server_cpu = match (server_before, args.server_pid.and_then(cpu_ticks)) {
        (Some(a), Some(b)) => Some((b - a) as f64 / 100.0),
        _ => None,
    };
    let kamailio_cpu = (tree_ticks(kamailio_pid).saturating_sub(kamailio_before)) as f64 / 100.0;
    let stat = std::fs::read_to_string(dir.join("callers.csv.stat")).unwrap_or_default();
    let completed = stat_column(&stat, "SuccessfulCall(C)").unwrap_or(0);
    // A call that finds every operator busy is answered 480 by Kamailio: a failed call for
    // SIPp, a missed call (queued, hangup: 2 events) for the server.
    let refused = stat_column(&stat, "FailedCall(C)").unwrap_or(0);

    let day = chrono::Utc::now()
        .with_timezone(&chrono::FixedOffset::east_opt(8 * 3600).unwrap())
        .format("%Y-%m-%d")
        .to_string();
    let list: Value = client
        .get(format!("{base}/api/v1/cti/calls?date={day}"))
        .bearer_auth(&admin)
        .send()
        .await
        .map_err(|e| e.to_string())?
        .json()
        .await
        .map_err(|e| e.to_string())?;
    let records: Vec<&Value> = list["calls"].as_array().map(|a| a.iter().collect()).unwrap_or_default();
    let bench_records: Vec<&Value> =
        records.iter().copied().filter(|c| c["caller"].as_str().is_some_and(|c| c.starts_with("139"))).collect();
    let events: u64 = bench_records.iter().map(|c| c["events"].as_u64().unwrap_or(0)).sum();
    let answered = bench_records.iter().filter(|c| c["outcome"] == "answered").count();
    let pops = pops.lock().unwrap().clone();
    let mut latencies: Vec<f64> = pops.iter().map(|(_, ms)| *ms).collect();
    latencies.sort_by(|a, b| a.partial_cmp(b).unwrap());
    // SIPp's own failures (retransmission timeouts on a saturated machine) say nothing of what
    // Kamailio posted, so the records are checked instead: every call placed must have a record;
    // an answered one holds 4 events (queued, ringing, answered, hangup), any other at least 2
    // (queued, hangup). A lower bound of what was lost.
    let placed = u64::from(calls);
    let missing_records = placed.saturating_sub(bench_records.len() as u64);
    let short: u64 = bench_records
        .iter()
        .map(|c| {
            let want: u64 = if c["outcome"] == "answered" { 4 } else { 2 };
            want.saturating_sub(c["events"].as_u64().unwrap_or(0))
        })
        .sum();
    let expected = 4 * answered as u64 + 2 * (placed - answered as u64);
    let lost = (2 * missing_records + short) as i64;
    println!("sipp exit: {status}; calling phase {:.1} s", calling.as_secs_f64());
    println!(
        "calls completed by SIPp: {completed}, refused (all busy): {refused}; call records: {}; answered: {answered}",
        bench_records.len()
    );
    println!("events expected ≥ {expected}; stored: {events}; lost (lower bound): {lost}; records missing: {missing_records}");
    // A pop per ring at a signed-in seat: counted per call (a call that failed over rang twice).
    let popped: std::collections::HashSet<&str> = pops.iter().map(|(c, _)| c.as_str()).collect();
    let rang: Vec<&&Value> =
        bench_records.iter().filter(|c| c["rings"].as_array().is_some_and(|r| !r.is_empty())).collect();
    let unpopped: Vec<&&Value> =
        rang.iter().copied().filter(|c| !popped.contains(c["call_id"].as_str().unwrap_or_default())).collect();
    println!(
        "screen-pops: {} for {} calls that rang; calls that rang and never popped: {}; ring→pop p50 {:.1} ms, p99 {:.1} ms, max {:.1} ms",
        latencies.len(),
        rang.len(),
        unpopped.len(),
        percentile(&latencies, 0.5),
        percentile(&latencies, 0.99),
        latencies.last().copied().unwrap_or(f64::NAN)
    );
    let not_pops = not_pops.lock().unwrap().clone();
    println!("operators' sockets got {} error/resync frames instead of pops", not_pops.len());
    for m in not_pops.iter().take(5) {
        println!("  {m}");
    }
    for c in unpopped.iter().take(10) {
        println!("  rang, no pop: {} rings {} outcome {}", c["call_id"], c["rings"], c["outcome"]);
    }
    let per_call = |cpu: f64| if completed > 0 { cpu * 1000.0 / completed as f64 } else { f64::NAN };
    if let Some(cpu) = server_cpu {
        println!("server CPU: {cpu:.2} s = {:.2} ms per call", per_call(cpu));
    }
    println!("kamailio CPU: {kamailio_cpu:.2} s = {:.2} ms per call", per_call(kamailio_cpu));
    println!(
        "RESULT calls={completed} refused={refused} records={} answered={answered} events_lost={lost} pops={} unpopped={} pop_p50_ms={:.1} pop_p99_ms={:.1} pop_max_ms={:.1} server_cpu_ms_per_call={:.2} kamailio_cpu_ms_per_call={:.2}",
        bench_records.len(),
        latencies.len(),
        unpopped.len(),
        percentile(&latencies, 0.5),
        percentile(&latencies, 0.99),
        latencies.last().copied().unwrap_or(f64::NAN),
        server_cpu.map(per_call).unwrap_or(f64::NAN),
        per_call(kamailio_cpu)
    );
    for s in sockets {
        s.abort();
    }
    drop(kamailio);
    Ok(())
}

/// A cumulative column of SIPp's last statistics line.
fn stat_column(stat: &str, name: &str) -> Option<u64> {
    let mut lines = stat.lines().filter(|l| !l.trim().is_empty());
    let header: Vec<&str> = lines.next()?.split(';').collect();
    let last: Vec<&str> = lines.next_back()?.split(';').collect();
    let col = header.iter().position(|h| *h == name)?;
    last.get(col)?.trim().parse().ok()
}
