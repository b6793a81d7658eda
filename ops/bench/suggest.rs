//! Intake-assistance benchmark:
//! `cargo run --release --example bench_suggest [-- [--tuning] HISTORY...]`.
//!
//! Measures the category suggestions (智能辅助填单) on the evaluation set
//! `tests/data/suggest_eval.toml` — calls written as residents speak, never trained on and
//! never tuned on — or, with `--tuning`, on the tuning set `tests/data/suggest_tuning.toml`
//! that the model's constants and the category words were tuned with —
//! for a centre with no history (the category words of `dispatch_rules/categories.toml`
//! alone), and after learning from the demo district's history: HISTORY tickets from the demo
//! generator (default 300, what `serve --demo` loads, and 3,000), learned exactly as
//! `hotline suggest train` learns stored tickets (`suggest::learn`).
//!
//! Reports top-1 / top-3 accuracy (the expected category first / among the first three) per
//! top-level category and overall, and the latency of one suggestion in process — what the
//! endpoint does after parsing: screen, segment (jieba with the district's words), features,
//! rank, place, urgency through the rules — p50 / p99 / max over every call of the set, 20
//! rounds. Prints Markdown for ops/bench/RESULTS.md; `BENCH_SHOW_MISSES=1` lists the calls
//! whose category was not among the first three.

use hotline::catalog::Catalog;
use hotline::domain::demo_gen;
use hotline::domain::suggest::{History, Model};
use hotline::suggest::{answer_with, learn, Call};
use serde::Deserialize;
use std::collections::BTreeMap;
use std::path::Path;
use std::time::Instant;

const ROUNDS: usize = 20;
const SEED: u64 = 12345;

#[derive(Deserialize)]
struct EvalFile {
    call: Vec<EvalCall>,
}

#[derive(Deserialize)]
struct EvalCall {
    category: String,
    content: String,
    #[serde(default)]
    address: String,
}

struct Score {
    n: usize,
    top1: usize,
    top3: usize,
}

fn percentile(sorted: &[f64], p: f64) -> f64 {
    let i = ((sorted.len() as f64 - 1.0) * p).round() as usize;
    sorted[i.min(sorted.len() - 1)]
}

fn evaluate(label: &str, model: &Model, catalog: &Catalog, calls: &[EvalCall]) {
    let now = chrono::Utc::now();
    let mut by_top: BTreeMap<String, Score> = BTreeMap::new();
    let mut all = Score { n: 0, top1: 0, top3: 0 };
    let mut empty = 0;
    let mut misses: Vec<String> = Vec::new();
    for c in calls {
        let call = Call { content: &c.content, address: &c.address, kind: "help", now };
        let answer = answer_with(model, 0, catalog, &call);
        let codes: Vec<&str> = answer.categories.iter().map(|s| s.code.as_str()).collect();
        let rank = codes.iter().position(|code| *code == c.category);
        if codes.is_empty() {
            empty += 1;
        }
        let top = by_top.entry(c.category[..2].to_string()).or_insert(Score { n: 0, top1: 0, top3: 0 });
        for s in [&mut all, top] {
            s.n += 1;
            s.top1 += usize::from(rank == Some(0));
            s.top3 += usize::from(rank.is_some_and(|r| r < 3));
        }
        if rank.is_none_or(|r| r >= 3) {
            misses.push(format!("{} → {:?}: {}", c.category, codes.first(), c.content));
        }
    }
    let pct = |n: usize, d: usize| 100.0 * n as f64 / d.max(1) as f64;
    println!("\n#### {label}\n");
    println!(
        "top-1 **{:.1} %** ({}/{}), top-3 **{:.1} %** ({}/{}); no suggestion for {} calls; vocabulary {} words\n",
        pct(all.top1, all.n),
        all.top1,
        all.n,
        pct(all.top3, all.n),
        all.top3,
        all.n,
        empty,
        model.vocabulary()
    );
    println!("| top-level | calls | top-1 | top-3 |\n|---|---:|---:|---:|");
    for (code, s) in &by_top {
        let name = catalog.district.category(code).map_or("", |c| c.name.as_str());
        println!("| {code} {name} | {} | {:.0} % | {:.0} % |", s.n, pct(s.top1, s.n), pct(s.top3, s.n));
    }
    if std::env::var("BENCH_SHOW_MISSES").is_ok() {
        for m in misses {
            println!("    miss: {m}");
        }
    }
}

fn latency(model: &Model, catalog: &Catalog, calls: &[EvalCall]) -> (f64, f64, f64) {
    let now = chrono::Utc::now();
    let mut times = Vec::with_capacity(calls.len() * ROUNDS);
    for _ in 0..ROUNDS {
        for c in calls {
            let call = Call { content: &c.content, address: &c.address, kind: "help", now };
            let start = Instant::now();
            let answer = answer_with(model, 0, catalog, &call);
            times.push(start.elapsed().as_secs_f64() * 1000.0);
            std::hint::black_box(answer);
        }
    }
    times.sort_by(f64::total_cmp);
    (percentile(&times, 0.5), percentile(&times, 0.99), *times.last().unwrap_or(&0.0))
}

fn main() {
    let root = Path::new(env!("CARGO_MANIFEST_DIR"));
    let catalog = Catalog::load(&root.join("dispatch_rules")).expect("dispatch_rules load");
    let tuning = std::env::args().any(|a| a == "--tuning");
    let (set, file) = if tuning {
        ("tuning", "tests/data/suggest_tuning.toml")
    } else {
        ("evaluation (held-out)", "tests/data/suggest_eval.toml")
    };
    let text = std::fs::read_to_string(root.join(file)).expect("call set");
    let calls = toml::from_str::<EvalFile>(&text).expect("call set parses").call;
    let sizes: Vec<usize> = {
        let args: Vec<usize> = std::env::args().skip(1).filter_map(|a| a.parse().ok()).collect();
        if args.is_empty() {
            vec![300, 3000]
        } else {
            args
        }
    };
    // Warm the segmenter (jieba's dictionary loads once per process).
    let _ = catalog.segmenter.all_words("预热");

    println!("### Intake assistance (智能辅助填单), {} calls of the {set} set", calls.len());
    let cold = Model::build(&History::default(), &catalog.district);
    evaluate("no history: the category words alone", &cold, &catalog, &calls);
    let mut rows = vec![("no history".to_string(), latency(&cold, &catalog, &calls))];
    for n in sizes {
        let drafts = demo_gen::generate(&catalog.district, n, SEED);
        let started = Instant::now();
        let history = learn(&catalog, drafts.iter().map(|d| (d.content.as_str(), d.category.as_str())));
        let learned_in = started.elapsed();
        let model = Model::build(&history, &catalog.district);
        evaluate(
            &format!("after learning {n} demo-district tickets (learned in {:.2} s)", learned_in.as_secs_f64()),
            &model,
            &catalog,
            &calls,
        );
        rows.push((format!("{n} demo tickets"), latency(&model, &catalog, &calls)));
    }
    println!("\n| model | p50 | p99 | max |\n|---|---:|---:|---:|");
    for (label, (p50, p99, max)) in rows {
        println!("| {label} | {p50:.3} ms | {p99:.3} ms | {max:.3} ms |");
    }
}
