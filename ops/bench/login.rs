//! Login storm benchmark: what many logins at once cost a running `hotline serve` in memory.
//!
//!     cargo run --example bench_login -- --base-url http://127.0.0.1:8080 --server-pid PID \
//!         --logins 500 --known-share 0.1
//!
//! Sends `--logins` logins at the same instant (one connection each): a `--known-share` of
//! them for a real account with a wrong password, the rest for usernames that do not exist
//! (the cheap attack: no account needed). Each comes from its own address
//! (`x-forwarded-for`; the server must run with `HOTLINE_CLIENT_IP_HEADER=x-forwarded-for`
//! and lockout limits above the storm, or most would be refused before any check and the run
//! would measure nothing). The server's resident memory (VmRSS, /proc/PID/status) is sampled
//! every 20 ms from before the storm until 5 s after it; reported: before, the peak during the
//! storm, after, and 5 s later; the answers by status, and the latency of those answered 401
//! (checked) and 429 (no turn within the queue wait).
//!
//! Memory is reported, never judged. The last line printed is `RESULT key=value …`.

use clap::Parser;
use serde_json::json;
use std::collections::BTreeMap;
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::sync::Arc;
use std::time::{Duration, Instant};
#[path = "stats.rs"]
mod stats;
use stats::{percentile, rss_kib};

#[derive(Parser, Debug)]
#[command(name = "bench_login", about = "Resident memory of a hotline server under a storm of logins")]
struct Args {
    #[arg(long, default_value = "http://127.0.0.1:8080")]
    base_url: String,
    /// The server's process id (its memory is read from /proc).
    #[arg(long)]
    server_pid: u32,
    #[arg(long, default_value_t = 500)]
    logins: usize,
    /// Share of the logins for a real account (`operator`), with a wrong password.
    #[arg(long, default_value_t = 0.1)]
    known_share: f64,
}

#[tokio::main]
async fn main() {
    let args = Args::parse();
    let pid = args.server_pid;
    let before = rss_kib(pid);
    let peak = Arc::new(AtomicU64::new(before));
    let sampling = Arc::new(AtomicBool::new(true));
    let sampler = {
        let (peak, sampling) = (peak.clone(), sampling.clone());
        tokio::spawn(async move {
            while sampling.load(Ordering::SeqCst) {
                peak.fetch_max(rss_kib(pid), Ordering::SeqCst);
                tokio::time::sleep(Duration::from_millis(20)).await;
            }
        })
    };
    let known = (args.logins as f64 * args.known_share).round() as usize;
    let barrier = Arc::new(tokio::sync::Barrier::new(args.logins));
    let url = format!("{}/api/v1/auth/login", args.base_url);
    let started = Instant::now();
    let tasks: Vec<_> = (0..args.logins)
        .map(|i| {
            let (url, barrier) = (url.clone(), barrier.clone());
            let username = if i < known { "operator".to_string() } else { format!("nobody-{i}") };
            tokio::spawn(async move {
                // A client each: one connection per login, as from many machines.
                let client = reqwest::Client::new();
                let request = client
                    .post(url)
                    .header("x-forwarded-for", format!("10.{}.{}.{}", i / 65536 % 256, i / 256 % 256, i % 256))
                    .json(&json!({"username": username, "password": format!("wrong-{i}")}));
                barrier.wait().await;
                let sent = Instant::now();
                let status = request.send().await.map(|r| r.status().as_u16()).unwrap_or(0);
                (status, sent.elapsed().as_secs_f64() * 1000.0)
            })
        })
        .collect();
    let answers: Vec<(u16, f64)> = futures::future::join_all(tasks).await.into_iter().map(|r| r.unwrap()).collect();
    let storm = started.elapsed().as_secs_f64();
    let during = peak.load(Ordering::SeqCst);
    let after = rss_kib(pid);
    tokio::time::sleep(Duration::from_secs(5)).await;
    sampling.store(false, Ordering::SeqCst);
    let _ = sampler.await;
    let later = rss_kib(pid);

    let mut by_status: BTreeMap<u16, Vec<f64>> = BTreeMap::new();
    for (status, ms) in answers {
        by_status.entry(status).or_default().push(ms);
    }
    let mb = |kib: u64| kib as f64 / 1024.0;
    println!("logins: {} ({} for a real account), storm took {storm:.1} s", args.logins, known);
    println!(
        "server RSS MiB: before {:.1}, peak {:.1}, just after {:.1}, 5 s later {:.1}",
        mb(before),
        mb(during),
        mb(after),
        mb(later)
    );
    let mut counts = Vec::new();
    for (status, times) in &mut by_status {
        times.sort_by(f64::total_cmp);
        println!(
            "  {status}: {} answers, latency p50 {:.0} ms, p99 {:.0} ms, max {:.0} ms",
            times.len(),
            percentile(times, 0.5),
            percentile(times, 0.99),
            times.last().copied().unwrap_or(0.0)
        );
        counts.push(format!("s{status}={}", times.len()));
    }
    println!(
        "RESULT logins={} rss_before_mib={:.1} rss_peak_mib={:.1} rss_after_mib={:.1} rss_later_mib={:.1} storm_s={storm:.1} {}",
        args.logins,
        mb(before),
        mb(during),
        mb(after),
        mb(later),
        counts.join(" ")
    );
}
