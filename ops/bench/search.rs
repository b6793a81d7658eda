//! Search benchmark: `cargo run --release --example bench_search -- [sqlite|postgres|meilisearch] [TICKETS]`.
//!
//! `meilisearch`: the tickets in SQLite, the index in the Meilisearch at `MEILI_URL` (with
//! `MEILI_KEY`), index `bench_tickets` (emptied first), e.g. the test binary started by hand:
//! `../shared/bin/meilisearch --db-path /tmp/m --http-addr 127.0.0.1:7700 --master-key K
//! --no-analytics` then `MEILI_URL=http://127.0.0.1:7700 MEILI_KEY=K cargo run --release
//! --example bench_search -- meilisearch 100000`.
//!
//! 1. Loads TICKETS tickets (default 100,000) as a centre's year: 2,000 demo tickets through
//!    the real write path (`hotline demo-tickets`' generator, the one `serve --demo` uses:
//!    realistic Chinese complaints over the demo district's categories, streets and
//!    departments, dispatched, replied …), copied inside the database to reach TICKETS
//!    (`Store::bench_copy_tickets`), spread over the past twelve months in id order, and all
//!    but the newest 3 % of open tickets closed (`Store::bench_close_all_but_newest_open`), as
//!    at any moment in a real centre (2–5 % open).
//! 2. Indexing throughput: `hotline search reindex` on the index (empty it, queue every
//!    ticket, drain: read, segment, write; on Meilisearch each batch's task awaited) —
//!    tickets per second.
//! 3. Search latency, in process (the index query with its facet counts, as the endpoint runs
//!    it, without HTTP): every kind of search the pages and the API make — words, filters only,
//!    words and filters, a department's scope, pages deep into the results — each run 20
//!    times; p50/p99/max per query and over all, whether the facets were estimated, and (on
//!    the embedded index) the plan the database chose for each statement.
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
use hotline::domain::types::{Kind, Status};
use hotline::search::similar::{Draft, DuplicateFinder};
use hotline::search::{Search, SearchRequest};
use hotline::store::{system_clock, Store, TicketFilter};
use sqlx::Connection;
use std::path::Path;
use std::sync::Arc;
use std::time::Instant;
#[path = "stats.rs"]
mod stats;
use stats::{percentile, rss_kib};

const BASE: i64 = 2_000;
const ROUNDS: usize = 20;
/// Open tickets at any moment, as a share of the year's: the newest open ones stay open, the
/// others are closed (a district centre has 2–5 % open).
const OPEN_SHARE: f64 = 0.03;

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
    // What a server holding this store and index would hold (the index's own process aside,
    // on Meilisearch and PostgreSQL).
    println!(
        "| {backend}: memory after the run (this process: store, index client, dictionaries) | RSS {:.0} MiB |",
        rss_kib(std::process::id()) as f64 / 1024.0
    );
    store.close().await;
    if backend == "postgres" && keep.is_none() {
        let mut admin = sqlx::AnyConnection::connect("postgres://postgres@127.0.0.1:5432/test").await.unwrap();
        let _ = sqlx::query("DROP DATABASE IF EXISTS bench_search").execute(&mut admin).await;
    }
}

/// Step 1: the demo tickets and their copies, spread over a year, the old ones closed.
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
    let keep = (n as f64 * OPEN_SHARE) as i64;
    let closed = store.bench_close_all_but_newest_open(keep).await.unwrap();
    println!(
        "| load | {BASE} demo tickets in {generated:.1} s, copied to {n} over 365 days, all but the newest {keep} \
         open ones closed ({closed}) in {:.1} s |",
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
    let by_status = store.count_by_status().await.unwrap();
    let open_now: i64 =
        by_status.iter().filter(|(s, _)| s.parse::<Status>().is_ok_and(|s| s.is_open())).map(|(_, k)| k).sum();
    println!("| tickets open now | {open_now} of {n} ({:.1} %) |", open_now as f64 * 100.0 / n as f64);
    let cgw: Vec<String> = catalog.district.descendants("cgw").into_iter().map(String::from).collect();
    let open: Vec<Status> = Status::ALL.iter().copied().filter(|s| s.is_open()).collect();
    let beijing = chrono::FixedOffset::east_opt(8 * 3600).unwrap();
    let day = |y, m, d| chrono::NaiveDate::from_ymd_opt(y, m, d).unwrap().and_hms_opt(0, 0, 0).unwrap();
    let at = |t: chrono::NaiveDateTime| t.and_local_timezone(beijing).unwrap().with_timezone(&chrono::Utc);
    let october = (Some(at(day(2026, 10, 1))), Some(at(day(2026, 11, 1))));
    let last_week = Some(store.now() - chrono::Duration::days(7));
    let any = TicketFilter::default;
    #[rustfmt::skip]
    let mix: Vec<(&str, &str, TicketFilter, SortOrder, i64)> = vec![
        ("words", "垃圾清运", any(), SortOrder::Relevance, 0),
        ("words", "清运垃圾不及时", any(), SortOrder::Relevance, 0),
        ("words", "路灯不亮", any(), SortOrder::Relevance, 0),
        ("words", "噪音", any(), SortOrder::Newest, 0),
        ("words", "井盖", any(), SortOrder::Relevance, 0),
        ("words", "停车费", any(), SortOrder::Relevance, 0),
        ("words", "物业", any(), SortOrder::Relevance, 0),
        ("words", "渣土车遗撒", any(), SortOrder::Relevance, 0),
        ("words", "施工扰民", any(), SortOrder::Relevance, 0),
        ("words", "门禁", any(), SortOrder::Relevance, 0),
        ("number", "20261122", any(), SortOrder::Relevance, 0),
        ("words + filters", "物业", TicketFilter { statuses: open.clone(), ..any() }, SortOrder::Relevance, 0),
        // A status most tickets hold: the index's keys narrow nothing and must not cost much.
        ("words + filters", "物业", TicketFilter { statuses: vec![Status::Closed], ..any() }, SortOrder::Relevance, 0),
        ("words + filters", "积水", TicketFilter { street: Some("liuan".into()), ..any() }, SortOrder::Newest, 0),
        ("words + filters", "污水", TicketFilter { category: Some("01".into()), ..any() }, SortOrder::Relevance, 0),
        ("department + words", "垃圾", TicketFilter { departments: Some(cgw.clone()), ..any() }, SortOrder::Relevance, 0),
        ("department + words", "占道", TicketFilter { departments: Some(cgw.clone()), ..any() }, SortOrder::Newest, 0),
        ("filters", "", TicketFilter { statuses: open.clone(), ..any() }, SortOrder::Newest, 0),
        ("filters", "", TicketFilter { departments: Some(cgw.clone()), statuses: vec![Status::Closed],
            created_from: october.0, created_to: october.1, ..any() }, SortOrder::Newest, 0),
        ("filters", "", any(), SortOrder::Newest, 0),
        ("filters", "", TicketFilter { statuses: vec![Status::Closed], ..any() }, SortOrder::Newest, 0),
        ("filters", "", TicketFilter { category: Some("03".into()), street: Some("xinhua".into()), ..any() }, SortOrder::Newest, 0),
        ("filters", "", TicketFilter { kind: Some(Kind::Complaint), created_from: last_week, ..any() }, SortOrder::Newest, 0),
        ("department", "", TicketFilter { departments: Some(cgw.clone()), ..any() }, SortOrder::Newest, 0),
        ("deep page", "", TicketFilter { statuses: vec![Status::Closed], ..any() }, SortOrder::Newest, 10_000),
        ("deep page", "物业", any(), SortOrder::Relevance, 5_000),
    ];
    let rounds = if std::env::var("BENCH_SKIP_SEARCH").is_ok() { 0 } else { ROUNDS };
    let mut all = Vec::new();
    let mut rows = Vec::new();
    for (what, q, filter, sort, offset) in &mix {
        let request = SearchRequest {
            terms: if q.is_empty() { Vec::new() } else { catalog.segmenter.query_terms(q) },
            phone: None,
            filter: filter.clone(),
            sort: *sort,
            limit: 20,
            offset: *offset,
        };
        if rounds == 0 {
            break;
        }
        let mut latencies = Vec::new();
        let mut last = None;
        for _ in 0..rounds {
            let started = Instant::now();
            let page = index.search(&request).await.unwrap();
            latencies.push(started.elapsed().as_secs_f64() * 1000.0);
            last = Some(page);
        }
        let page = last.unwrap();
        all.extend(latencies.iter().copied());
        latencies.sort_by(f64::total_cmp);
        let described = describe(q, filter, *sort, *offset);
        eprintln!("{what}: {described}: p50 {:.1} ms, {} hits", percentile(&latencies, 0.5), page.total);
        rows.push(format!(
            "| {what} | {described} | {}{} | {} | {:.1} | {:.1} |",
            if page.total_estimated { "≈" } else { "" },
            page.total,
            if page.facets_estimated { "estimated" } else { "exact" },
            percentile(&latencies, 0.5),
            percentile(&latencies, 0.99),
        ));
        if backend != "meilisearch" {
            for line in store.explain_search(&request, store.now()).await.unwrap() {
                println!("<!-- plan {described}: {line} -->");
            }
        }
    }
    if rounds > 0 {
        println!(
            "| {backend}: search at {n} tickets ({} queries × {ROUNDS}, facets included) | {} |",
            mix.len(),
            summary(all)
        );
        println!();
        println!("| kind | query | hits (≈ estimated) | facets | p50 ms | p99 ms |");
        println!("|---|---|---:|---|---:|---:|");
        for row in rows {
            println!("{row}");
        }
        println!();
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

/// A query as the results table names it.
fn describe(q: &str, f: &TicketFilter, sort: SortOrder, offset: i64) -> String {
    let mut parts = Vec::new();
    if !q.is_empty() {
        parts.push(format!("“{q}”"));
    }
    if !f.statuses.is_empty() {
        let open = f.statuses.len() > 1;
        parts.push(if open { "open".to_string() } else { f.statuses[0].as_str().to_string() });
    }
    if f.departments.is_some() {
        parts.push("城管委's scope".into());
    }
    if let Some(street) = &f.street {
        parts.push(format!("street {street}"));
    }
    if let Some(category) = &f.category {
        parts.push(format!("category {category}"));
    }
    if let Some(kind) = f.kind {
        parts.push(kind.as_str().to_string());
    }
    match (f.created_from, f.created_to) {
        (Some(_), Some(_)) => parts.push("October".into()),
        (Some(_), None) => parts.push("last 7 days".into()),
        _ => {}
    }
    if parts.is_empty() {
        parts.push("everything".into());
    }
    if sort == SortOrder::Newest {
        parts.push("newest".into());
    }
    if offset > 0 {
        parts.push(format!("offset {offset}"));
    }
    parts.join(", ")
}
