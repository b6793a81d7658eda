//! Search benchmark: `cargo run --release --example bench_search -- [sqlite|postgres|meilisearch] [TICKETS]`.
//!
//! `meilisearch`: the tickets in SQLite, the index in the Meilisearch at `MEILI_URL` (with
//! `MEILI_KEY`), index `bench_tickets` (emptied first), e.g. the test binary started by hand:
//! `../shared/bin/meilisearch --db-path /tmp/m --http-addr 127.0.0.1:7700 --master-key K
//! --no-analytics` then `MEILI_URL=http://127.0.0.1:7700 MEILI_KEY=K cargo run --release
//! --example bench_search -- meilisearch 100000`.
//!
//! 1. Loads TICKETS tickets (default 100,000): 2,000 demo tickets through the real write path
//!    (`hotline demo-tickets`' generator: realistic Chinese complaints, dispatched, replied …),
//!    then copied inside the database to reach TICKETS (`Store::bench_copy_tickets`).
//! 2. Indexing throughput: `hotline search reindex` on the index (empty it, queue every
//!    ticket, drain: read, segment, write; on Meilisearch each batch's task awaited) —
//!    tickets per second.
//! 3. Search latency, in process (the index query with its facet counts, as the endpoint runs
//!    it, without HTTP): a fixed mix of 16 queries — words and phrases from the demo's
//!    complaints, with and without filters, relevance and newest order, one department's
//!    scope — each run N times, p50/p99/max over all.
//! 4. Duplicate-suggestion latency: `DuplicateFinder::suggest` for drafts made from stored
//!    tickets (their content, address, caller and category), p50/p99/max.
//!
//! Prints Markdown rows for ops/bench/RESULTS.md. PostgreSQL: a database `bench_search` is
//! created and dropped on 127.0.0.1:5432.
//!
//! `BENCH_KEEP` (a file for SQLite, anything for PostgreSQL) keeps the database afterwards; a
//! kept database that already holds TICKETS tickets skips step 1, and step 2 too when its index
//! is complete.
//! `BENCH_SKIP_SEARCH=1` skips step 3 (to time the duplicate finder alone).

use hotline::catalog::Catalog;
use hotline::domain::search::SortOrder;
use hotline::domain::types::Status;
use hotline::search::similar::{Draft, DuplicateFinder};
use hotline::search::{Search, SearchRequest};
use hotline::store::{system_clock, Store, TicketFilter};
use sqlx::Connection;
use std::path::Path;
use std::sync::Arc;
use std::time::Instant;
#[path = "stats.rs"]
mod stats;
use stats::percentile;

const BASE: i64 = 2_000;
const ROUNDS: usize = 20;

fn summary(mut ms: Vec<f64>) -> String {
    ms.sort_by(f64::total_cmp);
    format!(
        "p50 {:.2} ms, p99 {:.2} ms, max {:.2} ms ({} runs)",
        percentile(&ms, 0.5),
        percentile(&ms, 0.99),
        ms.last().copied().unwrap_or(f64::NAN),
        ms.len()
    )
}

#[tokio::main]
async fn main() {
    let backend = std::env::args().nth(1).unwrap_or_else(|| "sqlite".into());
    let total: i64 = std::env::args().nth(2).and_then(|n| n.parse().ok()).unwrap_or(100_000);
    let catalog = Catalog::load(Path::new("dispatch_rules")).expect("run from the project folder");
    sqlx::any::install_default_drivers();
    let keep = std::env::var("BENCH_KEEP").ok();
    let dir = tempfile::tempdir().unwrap();
    let meili = backend == "meilisearch";
    let url = match backend.as_str() {
        "postgres" => {
            let mut admin = sqlx::AnyConnection::connect("postgres://postgres@127.0.0.1:5432/test").await.unwrap();
            if keep.is_none() {
                let _ = sqlx::query("DROP DATABASE IF EXISTS bench_search").execute(&mut admin).await;
            }
            let _ = sqlx::query("CREATE DATABASE bench_search").execute(&mut admin).await;
            "postgres://postgres@127.0.0.1:5432/bench_search".to_string()
        }
        _ => match &keep {
            Some(file) => format!("sqlite://{file}"),
            None => format!("sqlite://{}/bench.db", dir.path().display()),
        },
    };
    let store = Store::connect(&url, 4, system_clock()).await.unwrap();
    store.sync_departments(&catalog.department_rows()).await.unwrap();
    let index: Search = if meili {
        let url = std::env::var("MEILI_URL").expect("meilisearch: set MEILI_URL (and MEILI_KEY)");
        let key = std::env::var("MEILI_KEY").ok();
        Arc::new(hotline::search::meili::Meili::new(&url, key.as_deref(), "bench_tickets", store.clone()).unwrap())
    } else {
        Arc::new(hotline::search::embedded::Embedded::new(store.clone()))
    };
    let copies = (total / BASE).max(1) - 1;
    let n = BASE * (copies + 1);
    let stored: i64 = store.count_by_status().await.unwrap().iter().map(|(_, k)| k).sum();
    if stored == n {
        println!("| load | kept database with {n} tickets |");
    } else {
        load(&store, copies, n).await;
    }
    // A kept database is indexed again unless its index is complete (Meilisearch: always).
    if meili || stored != n || store.search_backlog().await.unwrap() > 0 {
        reindex(&store, &index, &backend).await;
    }
    if meili {
        // What every start-up pays on a full index: the settings are read and found in force.
        let started = Instant::now();
        index.prepare().await.unwrap();
        println!(
            "| {backend}: start-up check of a full index (`prepare`) | {:.0} ms |",
            started.elapsed().as_secs_f64() * 1000.0
        );
    }

    // Planner statistics, as autovacuum would have them on a database that grew to this size
    // over time rather than in a minute.
    if backend == "postgres" {
        let mut conn = sqlx::AnyConnection::connect(&url).await.unwrap();
        sqlx::query("VACUUM ANALYZE").execute(&mut conn).await.unwrap();
    }
    measure(&store, &index, &catalog, &backend, n).await;
    store.close().await;
    if backend == "postgres" && keep.is_none() {
        let mut admin = sqlx::AnyConnection::connect("postgres://postgres@127.0.0.1:5432/test").await.unwrap();
        let _ = sqlx::query("DROP DATABASE IF EXISTS bench_search").execute(&mut admin).await;
    }
}

/// Step 1: the demo tickets and their copies.
async fn load(store: &Store, copies: i64, n: i64) {
    let started = Instant::now();
    let catalog = Catalog::load(Path::new("dispatch_rules")).unwrap();
    hotline::demo::generate_tickets(store, &catalog, BASE as usize, 12345).await.unwrap();
    let generated = started.elapsed().as_secs_f64();
    let started = Instant::now();
    store.bench_copy_tickets(BASE, copies).await.unwrap();
    // Spread over the past year in id order, as a centre's tickets are: the duplicate finder's
    // 30-day window then holds a twelfth of them, not all.
    store.bench_spread_created_at(n, chrono::Duration::days(365)).await.unwrap();
    println!(
        "| load | {BASE} demo tickets in {generated:.1} s, copied to {n} in {:.1} s |",
        started.elapsed().as_secs_f64()
    );
}

/// Step 2: indexing throughput.
async fn reindex(store: &Store, index: &Search, backend: &str) {
    let started = Instant::now();
    let indexed = hotline::search::drain::reindex(store, index, |_, _| {}).await.unwrap();
    let secs = started.elapsed().as_secs_f64();
    println!(
        "| {backend}: indexing (`search reindex`, {}) | {indexed} tickets in {secs:.1} s = {:.0} tickets/s |",
        index.backend(),
        indexed as f64 / secs
    );
}

/// Steps 3 and 4: search and duplicate-suggestion latency.
async fn measure(store: &Store, index: &Search, catalog: &Catalog, backend: &str, n: i64) {
    // 3. Search latency.
    let scope: Vec<String> = catalog.district.descendants("cgw").into_iter().map(String::from).collect();
    let open: Vec<Status> = Status::ALL.iter().copied().filter(|s| s.is_open()).collect();
    let mix: Vec<(&str, TicketFilter, SortOrder)> = vec![
        ("垃圾清运", TicketFilter::default(), SortOrder::Relevance),
        ("清运垃圾不及时", TicketFilter::default(), SortOrder::Relevance),
        ("路灯不亮", TicketFilter::default(), SortOrder::Relevance),
        ("噪音", TicketFilter::default(), SortOrder::Newest),
        ("井盖", TicketFilter::default(), SortOrder::Relevance),
        ("停车费", TicketFilter::default(), SortOrder::Relevance),
        ("物业", TicketFilter { statuses: open.clone(), ..TicketFilter::default() }, SortOrder::Relevance),
        ("渣土车遗撒", TicketFilter::default(), SortOrder::Relevance),
        ("积水", TicketFilter { street: Some("xinhua".into()), ..TicketFilter::default() }, SortOrder::Newest),
        ("污水", TicketFilter { category: Some("03".into()), ..TicketFilter::default() }, SortOrder::Relevance),
        ("垃圾", TicketFilter { departments: Some(scope.clone()), ..TicketFilter::default() }, SortOrder::Relevance),
        ("占道经营", TicketFilter { departments: Some(scope.clone()), ..TicketFilter::default() }, SortOrder::Newest),
        ("施工扰民", TicketFilter::default(), SortOrder::Relevance),
        ("门禁", TicketFilter::default(), SortOrder::Relevance),
        ("", TicketFilter { statuses: open.clone(), ..TicketFilter::default() }, SortOrder::Newest),
        ("20261122", TicketFilter::default(), SortOrder::Relevance),
    ];
    let mut latencies = Vec::new();
    let mut hits = Vec::new();
    let rounds = if std::env::var("BENCH_SKIP_SEARCH").is_ok() { 0 } else { ROUNDS };
    for round in 0..rounds {
        for (q, filter, sort) in &mix {
            let request = SearchRequest {
                terms: catalog.segmenter.query_terms(q),
                phone: None,
                filter: filter.clone(),
                sort: *sort,
                limit: 20,
                offset: 0,
            };
            let started = Instant::now();
            let page = index.search(&request).await.unwrap();
            latencies.push(started.elapsed().as_secs_f64() * 1000.0);
            if round == 0 {
                eprintln!("{q:?} {:.1} ms, {} hits", latencies.last().unwrap(), page.total);
                hits.push(format!("{}:{}", if q.is_empty() { "(none)" } else { q }, page.total));
            }
        }
    }
    if rounds > 0 {
        println!(
            "| {backend}: search at {n} tickets (16 queries × {ROUNDS}, facets included) | {} |",
            summary(latencies)
        );
        println!("|   totals per query | {} |", hits.join(", "));
    }

    // 4. Duplicate suggestions.
    let since = store.now() - chrono::Duration::days(30);
    let samples: Vec<i64> = (0..100).map(|i| 1 + (i * 37) % BASE).collect();
    let tickets = store.tickets_by_ids(&samples).await.unwrap();
    let finder = Arc::new(DuplicateFinder::default());
    let catalog = Arc::new(Catalog::load(Path::new("dispatch_rules")).unwrap());
    let mut latencies = Vec::new();
    let mut found = 0;
    for t in &tickets {
        let draft = Draft {
            phone: Some(t.caller_phone.clone()),
            content: t.content.clone(),
            address: t.address.clone(),
            category: Some(t.category.clone()),
            exclude: None,
        };
        let started = Instant::now();
        let suggestions = finder.suggest(store, index, &catalog, &draft, since).await.unwrap();
        latencies.push(started.elapsed().as_secs_f64() * 1000.0);
        found += suggestions.len();
    }
    println!(
        "| {backend}: duplicate suggestions at {n} tickets ({} drafts, {:.1} suggestions each) | {} |",
        tickets.len(),
        found as f64 / tickets.len().max(1) as f64,
        summary(latencies)
    );
}
