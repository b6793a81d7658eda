//! Intake benchmark: N concurrent clients creating tickets against a running `hotline serve`.
//!
//!     cargo run --release --example bench_intake -- --base-url http://127.0.0.1:8080 --clients 32
//!
//! Several instances on one database: `--base-url` repeated or comma-separated
//! (`--base-url http://127.0.0.1:8081,http://127.0.0.1:8082`). Client k talks to instance
//! k mod N for the whole run; the log-in, the reference data and the final listing go to the
//! first, and since the instances share the database, the number check covers the tickets
//! of all of them. `--server-pid` may be repeated likewise: the CPU column is their sum.
//! `ops/bench/run-capacity.sh` runs this against 1, 2 and 4 instances.
//!
//! Each client is one operator workstation: its own HTTP connection, kept alive, creating
//! one ticket after another with no think time. That is the worst case for the one thing
//! intake serialises on (the writers' lock on the event counter), which is what we want to
//! measure. After the run the generator lists every ticket and checks that each ticket the
//! server acknowledged exists exactly once and that, per day, numbers run 1..N with no gap:
//! a fast server that loses or repeats a 受理编号 has failed, however fast it was.
//!
//! Speed is reported, never judged here: the exit code is non-zero only when the ticket
//! numbers are wrong (or nothing could be created at all). `ops/bench/run-intake.sh` runs
//! this against fresh databases and writes `ops/bench/RESULTS.md`.
//!
//! The last line printed is `RESULT key=value …`, for scripts.

use clap::Parser;
use rand::rngs::StdRng;
use rand::seq::SliceRandom;
use rand::{Rng, SeedableRng};
use serde_json::{json, Value};
use std::collections::{BTreeMap, HashMap};
use std::process::ExitCode;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::Arc;
use std::time::{Duration, Instant};

#[derive(Parser, Debug)]
#[command(name = "bench_intake", about = "Concurrent ticket intake against a running hotline server")]
struct Args {
    /// Where `hotline serve` listens; repeated or comma-separated for several instances on
    /// one database (clients are spread over them round-robin).
    #[arg(long, value_delimiter = ',', default_value = "http://127.0.0.1:8080", num_args = 1)]
    base_url: Vec<String>,
    /// Concurrent clients, each with its own keep-alive connection.
    #[arg(long, default_value_t = 32)]
    clients: usize,
    /// Length of the measured phase (after the warm-up).
    #[arg(long, default_value_t = 20)]
    duration_secs: u64,
    /// Create exactly this many tickets in the measured phase instead of running for a time.
    #[arg(long)]
    tickets: Option<u64>,
    /// Requests in the first seconds are made but not measured: connections are opened,
    /// SQLite's page cache and PostgreSQL's plan cache warm up.
    #[arg(long, default_value_t = 2)]
    warmup_secs: u64,
    #[arg(long, default_value = "operator")]
    username: String,
    #[arg(long, default_value = "hotline-demo")]
    password: String,
    /// A request taking longer counts as failed (its ticket may still have been created).
    #[arg(long, default_value_t = 30)]
    request_timeout_secs: u64,
    /// The server was started on an empty database for this run, so every ticket it lists
    /// must come from this run: more tickets than acknowledged requests plus requests of
    /// unknown outcome is a failure.
    #[arg(long)]
    fresh_db: bool,
    /// The server's process id: its CPU time over the measured phase is reported beside the
    /// generator's, because both share the machine's cores. Repeated or comma-separated for
    /// several instances (their sum is reported).
    #[arg(long, value_delimiter = ',', num_args = 1)]
    server_pid: Vec<u32>,
    /// Seeds the generated content, so two runs send the same kind of tickets.
    #[arg(long, default_value_t = 12345)]
    seed: u64,
    /// Skip the number check (e.g. against a shared database with tickets from elsewhere).
    #[arg(long)]
    skip_verify: bool,
    /// Echoed in the RESULT line (e.g. `sqlite-run2`).
    #[arg(long, default_value = "")]
    label: String,
}

/// What one create request ended as.
enum Outcome {
    /// 201 with the ticket's id and number.
    Created { id: i64, number: String },
    /// The server answered with an error status: nothing was created.
    Rejected { status: u16, body: String },
    /// Transport error, timeout or 5xx: the ticket may or may not exist. These are the
    /// only requests that may account for a listed ticket nobody was told about.
    Unknown { error: String },
}

struct Sample {
    /// Which instance (index into `--base-url`) the request went to.
    instance: usize,
    /// When the request was sent, relative to the start of the run.
    sent: Duration,
    latency: Duration,
    measured: bool,
    outcome: Outcome,
}

/// Reference data the payloads are drawn from: only valid codes, so every request is a
/// real intake and not a fast 422.
struct Places {
    categories: Vec<String>,
    /// (street code, its community codes)
    streets: Vec<(String, Vec<String>)>,
}

#[tokio::main]
async fn main() -> ExitCode {
    let args = Args::parse();
    match run(args).await {
        Ok(code) => code,
        Err(e) => {
            eprintln!("bench_intake: {e}");
            ExitCode::from(2)
        }
    }
}

async fn run(args: Args) -> Result<ExitCode, String> {
    if args.clients == 0 {
        return Err("--clients must be at least 1".into());
    }
    let bases: Vec<String> = args.base_url.iter().map(|b| b.trim_end_matches('/').to_string()).collect();
    if bases.is_empty() || bases.iter().any(|b| b.is_empty()) {
        return Err("--base-url must not be empty".into());
    }
    // Log-in, reference data and the final listing: the first instance (the database is shared).
    let base = bases[0].clone();
    let setup = client(args.request_timeout_secs, 4)?;
    let token = login(&setup, &base, &args.username, &args.password).await?;
    let places = Arc::new(load_places(&setup, &base, &token).await?);
    eprintln!(
        "bench_intake: {} leaf categories, {} streets; {} clients{}, warm-up {}s, {}",
        places.categories.len(),
        places.streets.len(),
        args.clients,
        if bases.len() > 1 { format!(" over {} instances", bases.len()) } else { String::new() },
        args.warmup_secs,
        match args.tickets {
            Some(n) => format!("{n} measured tickets"),
            None => format!("{}s measured", args.duration_secs),
        }
    );

    let t0 = Instant::now();
    let measure_from = t0 + Duration::from_secs(args.warmup_secs);
    let stop_at = args.tickets.is_none().then(|| measure_from + Duration::from_secs(args.duration_secs));
    let claimed = Arc::new(AtomicU64::new(0));
    let done = Arc::new(AtomicU64::new(0));

    let mut workers = Vec::with_capacity(args.clients);
    for w in 0..args.clients {
        // One client (and so one connection) per worker: 32 clients means 32 sockets, as 32
        // operator seats would, rather than whatever a shared pool decides to open.
        let http = client(args.request_timeout_secs, 1)?;
        let instance = w % bases.len();
        let ctx = Worker {
            http,
            instance,
            url: format!("{}/api/v1/tickets", bases[instance]),
            auth: format!("Bearer {token}"),
            places: places.clone(),
            rng: StdRng::seed_from_u64(args.seed.wrapping_add(w as u64 * 7919)),
            t0,
            measure_from,
            stop_at,
            quota: args.tickets,
            claimed: claimed.clone(),
            done: done.clone(),
        };
        workers.push(tokio::spawn(ctx.run()));
    }

    // CPU counters are read when the measured phase starts and when the last worker stops,
    // so the split covers the same window as the throughput.
    let progress = tokio::spawn(progress(done.clone(), t0));
    tokio::time::sleep_until(measure_from.into()).await;
    let cpu_start = CpuSnapshot::take(args.server_pid.iter().copied());
    let mut samples = Vec::new();
    for w in workers {
        samples.extend(w.await.map_err(|e| format!("a client panicked: {e}"))?);
    }
    let cpu_end = CpuSnapshot::take(args.server_pid.iter().copied());
    progress.abort();

    let report = Report::new(&samples, measure_from - t0);
    report.print();
    // Per instance: how the measured tickets spread (each instance's clients are a fixed share).
    let per_instance: Vec<usize> = (0..bases.len())
        .map(|i| {
            samples
                .iter()
                .filter(|s| s.instance == i && s.measured && matches!(s.outcome, Outcome::Created { .. }))
                .count()
        })
        .collect();
    if bases.len() > 1 {
        for (i, n) in per_instance.iter().enumerate() {
            println!("instance {}: {} ({n} created)", i + 1, bases[i]);
        }
    }
    let cpu = cpu_start.zip(cpu_end).map(|(a, b)| b.since(&a));
    if let Some(c) = &cpu {
        c.print();
    }

    let verdict = if args.skip_verify {
        eprintln!("verify: skipped");
        "skipped".to_string()
    } else {
        match verify(&setup, &base, &token, &samples, args.fresh_db).await {
            Ok(summary) => {
                println!("verify: ok — {summary}");
                "ok".to_string()
            }
            Err(problems) => {
                println!("verify: FAILED");
                for p in &problems {
                    println!("  - {p}");
                }
                "failed".to_string()
            }
        }
    };

    let mut line = format!(
        "RESULT label={} instances={} clients={} ok={} errors={} elapsed_s={:.2} tickets_per_s={:.1} p50_ms={:.2} p90_ms={:.2} \
         p99_ms={:.2} max_ms={:.2} verify={}",
        if args.label.is_empty() { "-" } else { &args.label },
        bases.len(),
        args.clients,
        report.ok,
        report.errors,
        report.elapsed.as_secs_f64(),
        report.rate(),
        ms(report.p50),
        ms(report.p90),
        ms(report.p99),
        ms(report.max),
        verdict,
    );
    if bases.len() > 1 {
        let each: Vec<String> = per_instance.iter().map(|n| n.to_string()).collect();
        line.push_str(&format!(" ok_by_instance={}", each.join("/")));
    }
    if let Some(c) = &cpu {
        line.push_str(&format!(
            " gen_cpu_cores={:.2} server_cpu_cores={} pg_cpu_cores={:.2} other_cpu_cores={:.2} machine_busy_pct={:.0}",
            c.generator_cores(),
            c.server_cores().map(|x| format!("{x:.2}")).unwrap_or_else(|| "-".into()),
            c.postgres_cores(),
            c.other_cores(),
            c.machine_busy_pct()
        ));
    }
    println!("{line}");

    if verdict == "failed" || report.ok == 0 {
        return Ok(ExitCode::from(1));
    }
    Ok(ExitCode::SUCCESS)
}

fn client(timeout_secs: u64, idle_per_host: usize) -> Result<reqwest::Client, String> {
    reqwest::Client::builder()
        .timeout(Duration::from_secs(timeout_secs))
        .pool_max_idle_per_host(idle_per_host)
        .tcp_nodelay(true)
        .build()
        .map_err(|e| format!("cannot build HTTP client: {e}"))
}

async fn login(http: &reqwest::Client, base: &str, username: &str, password: &str) -> Result<String, String> {
    let resp = http
        .post(format!("{base}/api/v1/auth/login"))
        .json(&json!({ "username": username, "password": password }))
        .send()
        .await
        .map_err(|e| format!("login: cannot reach {base}: {e}"))?;
    let status = resp.status();
    let body: Value = resp.json().await.map_err(|e| format!("login: unreadable answer: {e}"))?;
    if !status.is_success() {
        return Err(format!("login as {username} refused ({status}): {body}"));
    }
    body["token"].as_str().map(String::from).ok_or_else(|| format!("login: no token in {body}"))
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

async fn load_places(http: &reqwest::Client, base: &str, token: &str) -> Result<Places, String> {
    let cats = get_json(http, &format!("{base}/api/v1/categories"), token).await?;
    let categories: Vec<String> = cats
        .as_array()
        .into_iter()
        .flatten()
        .filter(|c| c["leaf"].as_bool() == Some(true))
        .filter_map(|c| c["code"].as_str().map(String::from))
        .collect();
    let streets_json = get_json(http, &format!("{base}/api/v1/streets"), token).await?;
    let streets: Vec<(String, Vec<String>)> = streets_json
        .as_array()
        .into_iter()
        .flatten()
        .filter_map(|s| {
            let code = s["code"].as_str()?.to_string();
            let communities = s["communities"]
                .as_array()
                .into_iter()
                .flatten()
                .filter_map(|c| c["code"].as_str().map(String::from))
                .collect();
            Some((code, communities))
        })
        .collect();
    if categories.is_empty() || streets.is_empty() {
        return Err("the server lists no leaf categories or no streets; is dispatch_rules/ loaded?".into());
    }
    Ok(Places { categories, streets })
}

struct Worker {
    http: reqwest::Client,
    instance: usize,
    url: String,
    auth: String,
    places: Arc<Places>,
    rng: StdRng,
    t0: Instant,
    measure_from: Instant,
    stop_at: Option<Instant>,
    quota: Option<u64>,
    claimed: Arc<AtomicU64>,
    done: Arc<AtomicU64>,
}

impl Worker {
    async fn run(mut self) -> Vec<Sample> {
        let mut samples = Vec::with_capacity(4096);
        loop {
            let now = Instant::now();
            let measured = now >= self.measure_from;
            if let Some(stop) = self.stop_at {
                if now >= stop {
                    break;
                }
            }
            // In --tickets mode the measured tickets are claimed from one shared count, so
            // exactly N are sent however the clients interleave.
            if measured {
                if let Some(quota) = self.quota {
                    if self.claimed.fetch_add(1, Ordering::Relaxed) >= quota {
                        break;
                    }
                }
            }
            // Built before the clock starts: the latency is the server's and the wire's.
            let body = ticket_body(&mut self.rng, &self.places);
            let sent = Instant::now();
            let outcome = self.create(&body).await;
            let latency = sent.elapsed();
            self.done.fetch_add(1, Ordering::Relaxed);
            samples.push(Sample { instance: self.instance, sent: sent - self.t0, latency, measured, outcome });
        }
        samples
    }

    async fn create(&self, body: &Value) -> Outcome {
        let resp = match self.http.post(&self.url).header("authorization", &self.auth).json(body).send().await {
            Ok(r) => r,
            Err(e) => return Outcome::Unknown { error: e.to_string() },
        };
        let status = resp.status();
        let text = match resp.text().await {
            Ok(t) => t,
            Err(e) => return Outcome::Unknown { error: format!("{status}, body unreadable: {e}") },
        };
        if status.as_u16() == 201 {
            let v: Value = match serde_json::from_str(&text) {
                Ok(v) => v,
                Err(e) => return Outcome::Unknown { error: format!("201 with unparsable body: {e}") },
            };
            match (v["id"].as_i64(), v["number"].as_str()) {
                (Some(id), Some(number)) => Outcome::Created { id, number: number.to_string() },
                _ => Outcome::Unknown { error: "201 without id or number".into() },
            }
        } else if status.is_server_error() {
            // A 503 from the request timeout may come after the commit.
            Outcome::Unknown { error: format!("{status}: {}", truncate(&text, 200)) }
        } else {
            Outcome::Rejected { status: status.as_u16(), body: truncate(&text, 200) }
        }
    }
}

fn truncate(s: &str, max: usize) -> String {
    if s.chars().count() <= max {
        s.to_string()
    } else {
        s.chars().take(max).collect::<String>() + "…"
    }
}

// Realistic calls: a surname, a place, a problem, how long it has lasted and what the caller
// wants. Length and character mix matter (JSON escaping, the body column, the event row), so
// the content is Chinese text of typical length rather than a fixed short string.
const SURNAMES: &[&str] =
    &["王", "李", "张", "刘", "陈", "杨", "赵", "黄", "周", "吴", "徐", "孙", "马", "朱", "胡", "郭"];
const HONORIFICS: &[&str] = &["先生", "女士", "阿姨", "师傅"];
const ESTATES: &[&str] = &["幸福里小区", "阳光花园", "建设路", "和平街", "滨河苑", "新华里", "光明小区", "工人新村"];
const PLACES: &[&str] = &[
    "小区东门外",
    "3号楼楼下",
    "农贸市场门口",
    "公交站台旁边",
    "地下车库入口",
    "幼儿园附近",
    "十字路口西北角",
    "河边健身步道",
    "老旧小区院内",
    "学校后门",
];
const PROBLEMS: &[&str] = &[
    "生活垃圾堆放好几天没人清运，气味很大",
    "夜间施工噪音很大，严重影响居民休息",
    "路灯坏了一直不亮，晚上出行很不安全",
    "下水道堵塞，污水漫到路面上",
    "共享单车乱停乱放，把人行道都堵住了",
    "有流动摊贩占道经营，早晚高峰特别拥堵",
    "有人在楼道里给电动车充电，存在消防隐患",
    "自来水发黄有异味，不敢直接饮用",
    "供暖温度一直达不到标准，家里只有十四五度",
    "井盖松动，已经有老人在这里绊倒",
    "临街饭店油烟直排，窗户都不敢开",
    "有人私搭乱建，占用了公共绿地",
    "小区电梯经常困人，物业一直不维修",
    "道路破损坑洼较多，雨天积水严重",
];
const SINCE: &[&str] = &["从上周开始", "最近几天", "今天早上发现", "已经持续一个多月", "每天晚上十点以后", "反复出现"];
const ASKS: &[&str] = &[
    "希望有关部门尽快处理。",
    "请相关部门核实情况并给予答复。",
    "之前反映过一次没有解决，希望督办。",
    "要求尽快安排人员到现场查看。",
    "希望能给个明确的处理时间。",
];
const KINDS: &[&str] = &["complaint", "complaint", "complaint", "help", "consult", "report", "suggestion"];
const CHANNELS: &[&str] = &["phone", "phone", "phone", "phone", "web", "wechat", "app"];

fn ticket_body(rng: &mut StdRng, places: &Places) -> Value {
    let pick = |rng: &mut StdRng, list: &'static [&'static str]| *list.choose(rng).expect("non-empty list");
    let (street, communities) = places.streets.choose(rng).expect("streets checked non-empty");
    let community = if rng.gen_bool(0.5) { communities.choose(rng).cloned() } else { None };
    let building = rng.gen_range(1..=40);
    let address = format!("{}{}号楼{}单元", pick(rng, ESTATES), building, rng.gen_range(1..=6));
    let content = format!(
        "来电人反映：{}{}{}。{}联系时请先打手机，白天可能不方便接听。",
        pick(rng, PLACES),
        pick(rng, SINCE),
        pick(rng, PROBLEMS),
        pick(rng, ASKS)
    );
    // Mainland mobiles: 1, then 3–9, then nine digits.
    let phone = format!("1{}{:09}", rng.gen_range(3..=9), rng.gen_range(0..1_000_000_000u64));
    let mut body = json!({
        "kind": pick(rng, KINDS),
        "channel": pick(rng, CHANNELS),
        "urgency": if rng.gen_bool(0.1) { "urgent" } else { "normal" },
        "category": places.categories.choose(rng).expect("categories checked non-empty"),
        "street": street,
        "address": address,
        "content": content,
        "caller_name": format!("{}{}", pick(rng, SURNAMES), pick(rng, HONORIFICS)),
        "caller_phone": phone,
    });
    if let Some(c) = community {
        body["community"] = json!(c);
    }
    body
}

/// Prints how many requests have completed every 5 s, so a stall shows while it happens.
async fn progress(done: Arc<AtomicU64>, t0: Instant) {
    let mut tick = tokio::time::interval(Duration::from_secs(5));
    tick.tick().await;
    let mut last = 0;
    loop {
        tick.tick().await;
        let now = done.load(Ordering::Relaxed);
        eprintln!(
            "  {:>5.1}s  {:>8} requests  ({:.0}/s over the last 5 s)",
            t0.elapsed().as_secs_f64(),
            now,
            (now - last) as f64 / 5.0
        );
        last = now;
    }
}

struct Report {
    ok: usize,
    errors: usize,
    warmup_ok: usize,
    warmup_errors: usize,
    /// From the end of the warm-up to the last measured response.
    elapsed: Duration,
    p50: Duration,
    p90: Duration,
    p99: Duration,
    max: Duration,
    mean: Duration,
    error_kinds: BTreeMap<String, usize>,
}

impl Report {
    fn new(samples: &[Sample], warmup: Duration) -> Report {
        let created = |s: &Sample| matches!(s.outcome, Outcome::Created { .. });
        let measured: Vec<&Sample> = samples.iter().filter(|s| s.measured).collect();
        let ok = measured.iter().filter(|s| created(s)).count();
        let warm: Vec<&Sample> = samples.iter().filter(|s| !s.measured).collect();
        let warmup_ok = warm.iter().filter(|s| created(s)).count();
        let end = measured.iter().map(|s| s.sent + s.latency).max().unwrap_or(warmup);
        // Latency of every measured request, failed ones included: a timeout is a slow answer.
        let mut lat: Vec<Duration> = measured.iter().map(|s| s.latency).collect();
        lat.sort_unstable();
        let mut error_kinds = BTreeMap::new();
        for s in samples {
            let key = match &s.outcome {
                Outcome::Created { .. } => continue,
                Outcome::Rejected { status, body } => format!("{status} {body}"),
                Outcome::Unknown { error } => format!("unknown outcome: {error}"),
            };
            *error_kinds.entry(key).or_insert(0) += 1;
        }
        let mean = if lat.is_empty() { Duration::ZERO } else { lat.iter().sum::<Duration>() / lat.len() as u32 };
        Report {
            ok,
            errors: measured.len() - ok,
            warmup_ok,
            warmup_errors: warm.len() - warmup_ok,
            elapsed: end.saturating_sub(warmup),
            p50: percentile(&lat, 50.0),
            p90: percentile(&lat, 90.0),
            p99: percentile(&lat, 99.0),
            max: lat.last().copied().unwrap_or_default(),
            mean,
            error_kinds,
        }
    }

    fn rate(&self) -> f64 {
        let secs = self.elapsed.as_secs_f64();
        if secs > 0.0 {
            self.ok as f64 / secs
        } else {
            0.0
        }
    }

    fn print(&self) {
        println!("warm-up:   {} created, {} errors (not measured)", self.warmup_ok, self.warmup_errors);
        println!("measured:  {} created, {} errors in {:.2} s", self.ok, self.errors, self.elapsed.as_secs_f64());
        println!("rate:      {:.1} tickets/s", self.rate());
        println!(
            "latency:   p50 {:.2} ms  p90 {:.2} ms  p99 {:.2} ms  max {:.2} ms  mean {:.2} ms",
            ms(self.p50),
            ms(self.p90),
            ms(self.p99),
            ms(self.max),
            ms(self.mean)
        );
        for (kind, n) in self.error_kinds.iter().take(10) {
            println!("error ×{n}: {kind}");
        }
    }
}

/// Nearest-rank percentile of sorted values.
fn percentile(sorted: &[Duration], p: f64) -> Duration {
    if sorted.is_empty() {
        return Duration::ZERO;
    }
    let rank = ((p / 100.0) * sorted.len() as f64).ceil() as usize;
    sorted[rank.clamp(1, sorted.len()) - 1]
}

fn ms(d: Duration) -> f64 {
    d.as_secs_f64() * 1000.0
}

/// Lists every ticket and checks the numbers against what the server acknowledged.
async fn verify(
    http: &reqwest::Client,
    base: &str,
    token: &str,
    samples: &[Sample],
    fresh_db: bool,
) -> Result<String, Vec<String>> {
    let mut problems = Vec::new();

    // What this run was told: number → id, for every 201.
    let mut acked: HashMap<&str, i64> = HashMap::new();
    for s in samples {
        if let Outcome::Created { id, number } = &s.outcome {
            if let Some(other) = acked.insert(number.as_str(), *id) {
                problems.push(format!("number {number} acknowledged twice (ids {other} and {id})"));
            }
        }
    }
    let unknown = samples.iter().filter(|s| matches!(s.outcome, Outcome::Unknown { .. })).count();

    // What the server has: every ticket, newest first, page by page.
    let mut listed: HashMap<String, Vec<i64>> = HashMap::new();
    let mut ids: HashMap<i64, String> = HashMap::new();
    let mut cursor: Option<String> = None;
    loop {
        let mut url = format!("{base}/api/v1/tickets?limit=500");
        if let Some(c) = &cursor {
            url.push_str(&format!("&cursor={c}"));
        }
        let page = get_json(http, &url, token).await.map_err(|e| vec![format!("listing tickets: {e}")])?;
        for t in page["tickets"].as_array().into_iter().flatten() {
            let (Some(id), Some(number)) = (t["id"].as_i64(), t["number"].as_str()) else {
                problems.push(format!("a listed ticket has no id or number: {}", truncate(&t.to_string(), 120)));
                continue;
            };
            listed.entry(number.to_string()).or_default().push(id);
            if let Some(prev) = ids.insert(id, number.to_string()) {
                problems.push(format!("id {id} listed twice (numbers {prev} and {number})"));
            }
        }
        cursor = match &page["next_cursor"] {
            Value::String(s) => Some(s.clone()),
            Value::Number(n) => Some(n.to_string()),
            _ => None,
        };
        if cursor.is_none() {
            break;
        }
    }

    for (number, id_list) in &listed {
        if id_list.len() > 1 {
            problems.push(format!("number {number} is on {} tickets (ids {:?})", id_list.len(), id_list));
        }
    }
    let mut lost = 0;
    for (number, id) in &acked {
        match listed.get(*number) {
            None => {
                lost += 1;
                if lost <= 10 {
                    problems.push(format!("ticket {number} (id {id}) was acknowledged but is not listed"));
                }
            }
            Some(list) if !list.contains(id) => {
                problems.push(format!("ticket {number} was acknowledged as id {id} but is listed as {list:?}"))
            }
            Some(_) => {}
        }
    }
    if lost > 10 {
        problems.push(format!("… {lost} acknowledged tickets are missing in all"));
    }

    // Per day (Beijing time) the numbers must be exactly 1..N: a gap is a number given out
    // and lost, which a 12345 centre has to explain to its auditors.
    let mut by_day: BTreeMap<&str, Vec<u64>> = BTreeMap::new();
    for number in listed.keys() {
        match number.split_once('-').and_then(|(d, n)| Some((d, n.parse::<u64>().ok()?))) {
            Some((day, n)) if day.len() == 8 => by_day.entry(day).or_default().push(n),
            _ => problems.push(format!("number {number:?} is not DAY-SEQUENCE")),
        }
    }
    let mut days = Vec::new();
    for (day, seqs) in &mut by_day {
        seqs.sort_unstable();
        let n = seqs.len() as u64;
        let gaps: Vec<u64> = {
            let have: std::collections::HashSet<u64> = seqs.iter().copied().collect();
            (1..=n.max(seqs.last().copied().unwrap_or(0))).filter(|k| !have.contains(k)).take(10).collect()
        };
        if !gaps.is_empty() || seqs.last() != Some(&n) {
            problems.push(format!(
                "day {day}: {n} numbers, highest {}, missing for example {gaps:?}",
                seqs.last().copied().unwrap_or(0)
            ));
        }
        days.push(format!("{day}: 1..{n}"));
    }

    let extra = listed.len().saturating_sub(acked.len());
    if fresh_db && extra > unknown {
        problems.push(format!(
            "{extra} listed tickets were never acknowledged, but only {unknown} requests had an unknown outcome"
        ));
    }

    if problems.is_empty() {
        Ok(format!(
            "{} acknowledged, {} listed ({} from requests of unknown outcome or elsewhere), numbers {}, no duplicates",
            acked.len(),
            listed.len(),
            extra,
            days.join(", ")
        ))
    } else {
        Err(problems)
    }
}

#[path = "cpu.rs"]
mod cpu;
use cpu::CpuSnapshot;
