//! Routing benchmark: how long the dispatch rules take to decide one ticket, and to load.
//!
//! `cargo run --release --example bench_routing` — 1,000 synthetic rules with 10,000 keywords
//! (the size), and the shipped catalogue; routing p50/p99 over 20,000 synthetic
//! tickets, and load (= reload) time over 10 loads. Prints a Markdown table row set. Both sets read the
//! content as the server does (jieba words with the district's words, guards, phrase lists), so routing
//! time includes cutting the content into words whenever a keyword occurs in it.

use hotline::catalog::Catalog;
use hotline::domain::rules::{synthetic, synthetic_tickets, RuleSet};
use std::path::Path;
use std::time::Instant;

fn percentile(sorted: &[f64], p: f64) -> f64 {
    let i = ((sorted.len() as f64 - 1.0) * p).round() as usize;
    sorted[i]
}

fn main() {
    let catalog = Catalog::load(Path::new("dispatch_rules")).expect("run from the project folder");
    let district = &catalog.district;
    let names = catalog.policies.names();
    // Both sets read the content as the server does: jieba with the district's words, the
    // shipped guards and phrase lists.
    let vocabulary = hotline::catalog::vocabulary(Path::new("dispatch_rules"), catalog.segmenter.clone());
    let sets: Vec<(&str, Vec<(String, String)>)> = vec![
        ("synthetic 1,000 rules / 10,000 keywords", synthetic(1000, 10_000, district)),
        ("shipped catalogue", hotline::catalog::read_rule_files(Path::new("dispatch_rules"), &mut Vec::new())),
    ];
    let tickets = synthetic_tickets(20_000, 10_000, district, 7);
    println!("| rule set | rules | load median | load max | route p50 | route p99 | route max |");
    println!("| --- | --- | --- | --- | --- | --- | --- |");
    for (label, files) in sets {
        let mut loads = Vec::new();
        let mut set: Option<RuleSet> = None;
        for _ in 0..10 {
            let started = Instant::now();
            let (loaded, _warnings) = RuleSet::load(&files, &vocabulary, district, &names).expect("rules load");
            loads.push(started.elapsed().as_secs_f64() * 1000.0);
            set = Some(loaded);
        }
        let set = set.expect("loaded");
        loads.sort_by(f64::total_cmp);
        // Warm up caches and branch predictors before measuring.
        for t in tickets.iter().take(2000) {
            std::hint::black_box(set.route(&t.input(), district));
        }
        let mut micros = Vec::with_capacity(tickets.len());
        for t in &tickets {
            let input = t.input();
            let started = Instant::now();
            std::hint::black_box(set.route(&input, district));
            micros.push(started.elapsed().as_secs_f64() * 1e6);
        }
        micros.sort_by(f64::total_cmp);
        println!(
            "| {label} | {} | {:.1} ms | {:.1} ms | {:.1} µs | {:.1} µs | {:.1} µs |",
            set.len(),
            percentile(&loads, 0.5),
            loads[loads.len() - 1],
            percentile(&micros, 0.5),
            percentile(&micros, 0.99),
            micros[micros.len() - 1],
        );
    }
}
