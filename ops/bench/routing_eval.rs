//! Routing accuracy on the labelled evaluation set (`tests/routing_eval/`), and routing time
//! on those calls.
//!
//! `cargo run --release --example bench_routing_eval` — routes every call of `tuning.tsv` and
//! the `development*.tsv` sets (`dispatch_rules/examples/`: the calls the catalogue is revised
//! against and the second opinion on urgency learns from; each measured with it learned from the
//! others only) and of the blind held-out sets (`tests/routing_eval/`, `HELD_OUT`: written apart,
//! never tuned on or learned from; skipped with a note until its writer commits it) through the
//! shipped catalogue and prints, per file: expected-lead share,
//! false-emergency rate, missed-emergency rate, manual-queue rate (targets: ≥ 95 %, < 2 %, 0,
//! as low as the catalogue allows), routing p50/p99, and then every miss of the tuning and
//! development sets with what was expected. A held-out set's misses are only counted by label:
//! its calls are never printed, so that measuring it cannot make it a development set.
//! `-- --help` lists the options; an unknown one is refused.
use chrono::TimeZone;
use clap::Parser;
use hotline::catalog::Catalog;
use hotline::domain::rules::evaluation::{evaluate, parse_cases, Case};
use std::path::Path;
use std::time::Instant;

/// Tuning and development sets first, then the blind held-out set (tests/routing_eval/README.md).
const EVALUATION_FILES: [&str; 17] = [
    "tuning.tsv",
    "development.tsv",
    "development_2026-12-06.tsv",
    "development_2026-12-07.tsv",
    "development_2026-12-07b.tsv",
    "development_2026-12-07c.tsv",
    "development_2026-12-07d.tsv",
    "development_2026-12-07e.tsv",
    "development_2026-12-07f.tsv",
    "development_2026-12-07h.tsv",
    "development_2026-12-07i.tsv",
    "development_2026-12-07j.tsv",
    "development_2026-12-07k.tsv",
    HELD_OUT[0],
    HELD_OUT[1],
    HELD_OUT[2],
    HELD_OUT[3],
];
/// The blind held-out set; it may not be written yet (then it is skipped with a note).
const HELD_OUT: [&str; 4] =
    ["holdout_2026-12-07g.tsv", "holdout_2026-12-07l.tsv", "holdout_2026-12-08m.tsv", "holdout_2026-12-08n.tsv"];

/// Run from the project folder: reads ./dispatch_rules and ./tests/routing_eval. A held-out
/// set's misses are printed as counts by label, never as calls.
#[derive(Parser, Debug)]
#[command(name = "bench_routing_eval")]
struct Args {
    /// Only these files, comma-separated (while revising: the tuning and development sets, so no
    /// held-out set is routed before its blind measurement).
    #[arg(long, value_delimiter = ',')]
    sets: Option<Vec<String>>,
    /// Route each call once, for the accuracy figures only.
    #[arg(long)]
    no_time: bool,
    /// With each miss, the words its content was cut into, to see why a phrase did (not) match.
    #[arg(long)]
    words: bool,
    /// Every call's decision on stderr, one tab-separated line each (file:line, category, kind,
    /// rule, lead, expected lead, proposal), to see who owns what across the sets; tuning and
    /// development sets only.
    #[arg(long)]
    all: bool,
    /// Only show how each text is cut into words, as the rules read it.
    #[arg(long, num_args = 1.., value_name = "TEXT")]
    cut: Option<Vec<String>>,
    /// Rules alone: route without the second opinion on urgency learned from `dispatch_rules/examples/`.
    #[arg(long)]
    rules_only: bool,
    /// Route with the rules of another catalogue folder (an earlier one, from `git archive`),
    /// still learning from ./dispatch_rules/examples: how the second opinion does beside rules
    /// that had not seen the measured set.
    #[arg(long, value_name = "DIR", default_value = "dispatch_rules")]
    rules: std::path::PathBuf,
}

fn main() {
    // clap refuses an unknown or misspelt option (exit 2): ignored, a mistyped `--sets` would
    // route the held-out sets, as `--help` did before there was one.
    let args = Args::parse();
    let mut catalog = Catalog::load(&args.rules).expect("run from the project folder");
    if let Some(texts) = &args.cut {
        for text in texts {
            println!("{text}: {}", catalog.segmenter.cut(text).join(" / "));
        }
        return;
    }
    // A working-day morning (Wednesday 2026-03-04 10:00 Beijing time).
    let received = chrono::FixedOffset::east_opt(8 * 3600)
        .unwrap()
        .with_ymd_and_hms(2026, 3, 4, 10, 0, 0)
        .unwrap()
        .with_timezone(&chrono::Utc);
    let examples: Vec<(String, Vec<Case>)> = EVALUATION_FILES
        .iter()
        .filter(|f| !HELD_OUT.contains(f))
        .map(|f| {
            let text = std::fs::read_to_string(Path::new("dispatch_rules/examples").join(f)).expect("labelled calls");
            (f.to_string(), parse_cases(f, &text).unwrap_or_else(|e| panic!("{e}")))
        })
        .collect();
    println!("| set | calls | urgent | expected lead | false emergency | missed emergency | wrong label | manual queue | route p50 | route p99 |");
    println!("| --- | --- | --- | --- | --- | --- | --- | --- | --- | --- |");
    let mut all_misses = Vec::new();
    let mut held_out_counts = Vec::new();
    for file in EVALUATION_FILES.into_iter().filter(|f| args.sets.as_ref().is_none_or(|o| o.iter().any(|x| x == f))) {
        let held_out = HELD_OUT.contains(&file);
        let path =
            if held_out { Path::new("tests/routing_eval") } else { Path::new("dispatch_rules/examples") }.join(file);
        if held_out && !path.exists() {
            eprintln!("note: the blind held-out set {file} is not written yet: skipped");
            continue;
        }
        let text = std::fs::read_to_string(&path).expect("evaluation file");
        let cases = parse_cases(file, &text).unwrap_or_else(|e| panic!("{e}"));
        // A labelled set is measured with the urgency learned from the others only: what it learned
        // from is no measure of it. A held-out set was never learned from.
        let lessons: Vec<Case> = if args.rules_only {
            Vec::new()
        } else {
            examples.iter().filter(|(name, _)| held_out || name != file).flat_map(|(_, cases)| cases.clone()).collect()
        };
        catalog.rules.learn(&lessons);
        let report = evaluate(&catalog.rules, &catalog.district, &cases, received);
        if args.all && !held_out {
            for c in &cases {
                let routing = catalog.rules.route(&c.input(received), &catalog.district);
                let (rule, lead, label) = match routing.decision() {
                    Some(d) => (
                        d.rule_id.to_string(),
                        d.lead.to_string(),
                        d.emergency.as_ref().map(|p| p.label.to_string()).unwrap_or_else(|| "-".into()),
                    ),
                    None => ("manual".into(), "-".into(), "-".into()),
                };
                eprintln!(
                    "{}\t{}\t{}\t{rule}\t{lead}\t{}\t{label}\t{}\t{}",
                    c.at,
                    c.category,
                    c.kind,
                    c.lead,
                    c.emergency.as_deref().unwrap_or("-"),
                    c.content
                );
            }
        }
        // Time: each call routed 200 times after a warm-up (`--no-time`: once, for accuracy only).
        let rounds = if args.no_time { 1 } else { 200 };
        for c in &cases {
            std::hint::black_box(catalog.rules.route(&c.input(received), &catalog.district));
        }
        let mut micros = Vec::new();
        for _ in 0..rounds {
            for c in &cases {
                let input = c.input(received);
                let started = Instant::now();
                std::hint::black_box(catalog.rules.route(&input, &catalog.district));
                micros.push(started.elapsed().as_secs_f64() * 1e6);
            }
        }
        micros.sort_by(f64::total_cmp);
        let pct = |p: f64| micros[((micros.len() - 1) as f64 * p).round() as usize];
        println!(
            "| {file} | {} | {} | {:.1} % ({}) | {:.1} % ({}) | {:.1} % ({}) | {} | {:.1} % ({}) | {:.1} µs | {:.1} µs |",
            report.cases,
            report.urgent_cases,
            report.expected_lead_share() * 100.0,
            report.expected_lead,
            report.false_emergency_rate() * 100.0,
            report.false_emergencies,
            report.missed_emergency_rate() * 100.0,
            report.missed_emergencies,
            report.wrong_label,
            report.manual_rate() * 100.0,
            report.manual,
            pct(0.5),
            pct(0.99),
        );
        if held_out {
            held_out_counts.push(format!("{file}: {}", report.counts_by_label()));
        } else {
            all_misses.extend(report.misses);
        }
    }
    for counts in &held_out_counts {
        println!();
        println!("held out, by label: {counts}");
    }
    println!();
    println!("misses ({}):", all_misses.len());
    for m in &all_misses {
        println!("- {} {} — expected {}; got {}", m.at, m.content, m.expected, m.got);
        if args.words {
            println!("    words: {}", catalog.segmenter.cut(&m.content).join(" / "));
        }
    }
}
