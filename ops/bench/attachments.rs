//! Attachment benchmark: what 50 concurrent uploads of 5 MB photos cost a running
//! `hotline serve` — throughput, latency and the server's resident memory — and download
//! throughput.
//!
//!     cargo run --release --example bench_attachments -- --base-url http://127.0.0.1:8080 \
//!         --server-pid PID --uploads 50 --megabytes 5
//!
//! Logs in as the demo `operator`, logs one ticket per upload, makes one JPEG photo of about
//! `--megabytes` (noise at high quality, so it does not compress away) and sends it to every
//! ticket at the same instant (one connection each). The server's VmRSS is sampled every
//! 20 ms from before the burst until 5 s after. Then every stored photo is downloaded, all at
//! once. Reported, never judged; the last line printed is `RESULT key=value …`.

use clap::Parser;
use serde_json::{json, Value};
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::sync::Arc;
use std::time::{Duration, Instant};

#[path = "stats.rs"]
mod stats;
use stats::{percentile, rss_kib};

#[derive(Parser, Debug)]
#[command(name = "bench_attachments", about = "Concurrent attachment uploads against a hotline server")]
struct Args {
    #[arg(long, default_value = "http://127.0.0.1:8080")]
    base_url: String,
    #[arg(long)]
    server_pid: u32,
    #[arg(long, default_value_t = 50)]
    uploads: usize,
    #[arg(long, default_value_t = 5.0)]
    megabytes: f64,
    #[arg(long, default_value = "hotline-demo")]
    password: String,
}

/// A noisy photo of about `megabytes` as JPEG (quality 92).
fn photo(megabytes: f64) -> Vec<u8> {
    let mut state: u32 = 12345;
    let mut next = move || {
        state ^= state << 13;
        state ^= state >> 17;
        state ^= state << 5;
        state
    };
    // Noise at quality 92 costs about 1.9 bytes a pixel.
    let pixels = (megabytes * 1024.0 * 1024.0 / 1.9) as u32;
    let width = ((pixels as f64 * 4.0 / 3.0).sqrt()) as u32;
    let height = pixels / width;
    let img = image::RgbImage::from_fn(width, height, |x, y| {
        let n = next();
        image::Rgb([(x ^ n) as u8, (y ^ (n >> 8)) as u8, (n >> 16) as u8])
    });
    let mut out = Vec::new();
    image::codecs::jpeg::JpegEncoder::new_with_quality(&mut out, 92).encode_image(&img).unwrap();
    out
}

#[tokio::main]
async fn main() {
    let args = Args::parse();
    let client = reqwest::Client::new();
    let login: Value = client
        .post(format!("{}/api/v1/auth/login", args.base_url))
        .json(&json!({"username": "operator", "password": args.password}))
        .send()
        .await
        .expect("login")
        .json()
        .await
        .unwrap();
    let token = login["token"].as_str().expect("token").to_string();
    let mut tickets = Vec::new();
    for i in 0..args.uploads {
        let t: Value = client
            .post(format!("{}/api/v1/tickets", args.base_url))
            .bearer_auth(&token)
            .json(&json!({
                "kind": "complaint", "channel": "phone", "urgency": "normal", "category": "01.02.01",
                "address": format!("望海大道{i}号"), "content": "人行道路面塌陷，有一个大坑。",
                "caller_name": "王先生", "caller_phone": "13812345678", "confidential": false,
                "callback_consent": false, "route": false
            }))
            .send()
            .await
            .expect("ticket")
            .json()
            .await
            .unwrap();
        tickets.push(t["id"].as_i64().expect("ticket id"));
    }
    let body = Arc::new(photo(args.megabytes));
    println!("photo: {} bytes; {} uploads at once", body.len(), args.uploads);

    let pid = args.server_pid;
    let before = rss_kib(pid);
    let peak = Arc::new(AtomicU64::new(before));
    let sampling = Arc::new(AtomicBool::new(true));
    let sampler = {
        let (peak, sampling) = (peak.clone(), sampling.clone());
        tokio::spawn(async move {
            while sampling.load(Ordering::Relaxed) {
                peak.fetch_max(rss_kib(pid), Ordering::Relaxed);
                tokio::time::sleep(Duration::from_millis(20)).await;
            }
        })
    };
    let started = Instant::now();
    let mut handles = Vec::new();
    for id in &tickets {
        let (client, token, body, base) = (client.clone(), token.clone(), body.clone(), args.base_url.clone());
        let id = *id;
        handles.push(tokio::spawn(async move {
            let t0 = Instant::now();
            let part = reqwest::multipart::Part::bytes(body.to_vec()).file_name("现场照片.jpg");
            let form = reqwest::multipart::Form::new().part("file", part);
            let resp = client
                .post(format!("{base}/api/v1/tickets/{id}/attachments"))
                .bearer_auth(&token)
                .multipart(form)
                .send()
                .await;
            let status = resp.as_ref().map(|r| r.status().as_u16()).unwrap_or(0);
            let url = match resp {
                Ok(r) if r.status().is_success() => {
                    r.json::<Value>().await.ok().and_then(|v| v[0]["url"].as_str().map(String::from))
                }
                _ => None,
            };
            (status, t0.elapsed().as_secs_f64() * 1000.0, url)
        }));
    }
    let mut latencies = Vec::new();
    let mut ok = 0;
    let mut urls = Vec::new();
    for h in handles {
        let (status, ms, url) = h.await.unwrap();
        if status == 201 {
            ok += 1;
        } else {
            println!("upload answered {status}");
        }
        latencies.push(ms);
        urls.extend(url);
    }
    let burst = started.elapsed().as_secs_f64();
    let after = rss_kib(pid);
    tokio::time::sleep(Duration::from_secs(5)).await;
    sampling.store(false, Ordering::Relaxed);
    let _ = sampler.await;
    let later = rss_kib(pid);
    latencies.sort_by(|a, b| a.partial_cmp(b).unwrap());
    let mb_up = body.len() as f64 * ok as f64 / 1048576.0;

    let started = Instant::now();
    let mut downloads = Vec::new();
    for url in &urls {
        let (client, token, url) = (client.clone(), token.clone(), format!("{}{url}", args.base_url));
        downloads.push(tokio::spawn(async move {
            let r = client.get(url).bearer_auth(token).send().await.ok()?;
            Some(r.bytes().await.ok()?.len())
        }));
    }
    let mut down_bytes = 0usize;
    for d in downloads {
        down_bytes += d.await.unwrap().unwrap_or(0);
    }
    let down_s = started.elapsed().as_secs_f64();
    let mib = |k: u64| k as f64 / 1024.0;
    println!(
        "RESULT uploads={} ok={ok} photo_mb={:.2} burst_s={burst:.2} upload_mb_s={:.1} p50_ms={:.0} p99_ms={:.0} \
         rss_before_mib={:.0} rss_peak_mib={:.0} rss_after_mib={:.0} rss_later_mib={:.0} growth_mib={:.0} \
         download_mb_s={:.1} download_s={down_s:.2}",
        args.uploads,
        body.len() as f64 / 1048576.0,
        mb_up / burst,
        percentile(&latencies, 0.5),
        percentile(&latencies, 0.99),
        mib(before),
        mib(peak.load(Ordering::Relaxed)),
        mib(after),
        mib(later),
        mib(peak.load(Ordering::Relaxed).saturating_sub(before)),
        down_bytes as f64 / 1048576.0 / down_s,
    );
}
