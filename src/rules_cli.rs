//! `hotline rules check` and `hotline rules explain`: the catalogue's tools for the people
//! who edit it.

use crate::catalog::Catalog;
use crate::domain::rules::{Explanation, Routing, RoutingInput};
use serde::Deserialize;
use std::path::Path;
use std::process::ExitCode;

/// Prints every problem as `file:line:column: level: message`; exits 1 if there is any
/// (warnings included: a shipped catalogue has none), 0 and "ok" otherwise.
pub fn check(dir: &Path) -> ExitCode {
    match Catalog::load(dir) {
        Ok(catalog) if catalog.rule_warnings.is_empty() => {
            println!(
                "ok: {} rules, version {}",
                catalog.rules.len(),
                &catalog.rules.version()[..12.min(catalog.rules.version().len())]
            );
            ExitCode::SUCCESS
        }
        Ok(catalog) => {
            for d in &catalog.rule_warnings {
                println!("{d}");
            }
            ExitCode::from(1)
        }
        Err(diagnostics) => {
            for d in &diagnostics {
                println!("{d}");
            }
            ExitCode::from(1)
        }
    }
}

/// A ticket as `rules explain` reads it: the fields the rules look at.
#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct TicketFile {
    kind: String,
    #[serde(default)]
    category: String,
    #[serde(default)]
    content: String,
    #[serde(default)]
    address: String,
    street: Option<String>,
    community: Option<String>,
    #[serde(default = "phone")]
    channel: String,
    #[serde(default = "normal")]
    urgency: String,
    /// RFC 3339; now when absent.
    received_at: Option<String>,
}

fn phone() -> String {
    "phone".into()
}
fn normal() -> String {
    "normal".into()
}

pub fn explain(catalog: &Catalog, file: &Path, json: bool) -> ExitCode {
    let text = match std::fs::read_to_string(file) {
        Ok(t) => t,
        Err(e) => {
            eprintln!("error: cannot read {}: {e}", file.display());
            return ExitCode::from(2);
        }
    };
    let ticket: TicketFile = match serde_json::from_str(&text) {
        Ok(t) => t,
        Err(e) => {
            eprintln!("{}:{}:{}: error: {e}", file.display(), e.line(), e.column());
            return ExitCode::from(2);
        }
    };
    let received_at = match ticket.received_at.as_deref().map(chrono::DateTime::parse_from_rfc3339) {
        None => chrono::Utc::now(),
        Some(Ok(t)) => t.to_utc(),
        Some(Err(e)) => {
            eprintln!("error: received_at: {e}");
            return ExitCode::from(2);
        }
    };
    let input = RoutingInput {
        kind: &ticket.kind,
        category: &ticket.category,
        content: &ticket.content,
        address: &ticket.address,
        street: ticket.street.as_deref(),
        community: ticket.community.as_deref(),
        channel: &ticket.channel,
        urgency: &ticket.urgency,
        received_at,
    };
    let explanation = catalog.rules.explain(&input, &catalog.district);
    if json {
        println!("{}", serde_json::to_string_pretty(&explanation).expect("explanation serialises"));
    } else {
        print!("{}", describe(catalog, &explanation));
    }
    ExitCode::SUCCESS
}

/// The explanation in words, for a person at a terminal.
pub fn describe(catalog: &Catalog, e: &Explanation) -> String {
    let mut out = String::new();
    let name =
        |code: &str| catalog.district.department(code).map(|d| d.name.clone()).unwrap_or_else(|| code.to_string());
    out.push_str(&format!(
        "rules version {} ({} rules), received {}\n",
        e.version,
        catalog.rules.len(),
        e.received_local
    ));
    match &e.located {
        Some(l) => out.push_str(&format!(
            "located: street {}{} (by \"{}\")\n",
            l.street,
            l.community.as_deref().map(|c| format!(", community {c}")).unwrap_or_default(),
            l.matched_word
        )),
        None => out.push_str("located: no street found in the address or content\n"),
    }
    match &e.decision {
        Routing::Routed(d) => {
            let description = catalog.rules.rule(&d.rule_id).map(|r| r.description.clone()).unwrap_or_default();
            out.push_str(&format!("winner: {} — {}\n", d.rule_id, description));
            out.push_str(&format!("  lead: {} ({})\n", name(&d.lead), d.lead));
            if !d.assist.is_empty() {
                let assists: Vec<String> = d.assist.iter().map(|a| format!("{} ({a})", name(a))).collect();
                out.push_str(&format!("  assist: {}\n", assists.join(", ")));
            }
            out.push_str(&format!("  policy: {}\n", d.policy));
            if let Some(u) = &d.urgency {
                out.push_str(&format!("  urgency set to: {u}\n"));
            }
            if !e.matched_words.is_empty() {
                out.push_str(&format!("  matched words: {}\n", e.matched_words.join(", ")));
            }
            if let Some(p) = &d.emergency {
                out.push_str(&format!("  可能紧急: {} (matched {})", p.label, p.matched));
                match &p.handoff {
                    Some(n) => out.push_str(&format!(" — the operator confirms, dismisses or hands off to {n}\n")),
                    None => out.push_str(" — the operator confirms (urgent) or dismisses\n"),
                }
            }
        }
        Routing::Manual { reason } => out.push_str(&format!("no rule matched: {reason}\n")),
    }
    if !e.guarded.is_empty() {
        out.push_str("stopped by guards:\n");
        for g in &e.guarded {
            out.push_str(&format!(
                "  {}: {} — {} ({}), cue \"{}\"\n",
                g.rule_id,
                g.word,
                g.guard.as_str(),
                g.guard.label(),
                g.cue
            ));
        }
    }
    if e.matched.len() > 1 {
        out.push_str(&format!("also matched (lower precedence): {}\n", e.matched[1..].join(", ")));
    }
    if !e.near_misses.is_empty() {
        out.push_str("came close:\n");
        for m in &e.near_misses {
            out.push_str(&format!("  {} ({}/{} conditions): {}\n", m.rule_id, m.passed, m.total, m.failed.join("; ")));
        }
    }
    out
}
