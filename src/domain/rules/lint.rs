//! Whole-set checks: rules that can never match, and rules that can never win (shadowed).
//!
//! # The shadowing criterion
//! Rule B is reported as shadowed by rule A when A comes before B in precedence order and every
//! condition of A is implied by B's conditions, so every ticket that B matches, A matches first.
//! "Implied", per condition of A (a condition A does not write is always implied):
//!
//! | A's condition | implied when B has |
//! | --- | --- |
//! | `kind`, `channel`, `urgency`, `weekdays`, `street`, `community` | the same key, with a subset of A's values |
//! | `category` | the same key, each of B's prefixes at or below one of A's |
//! | `time` | a `time` window lying entirely inside A's window |
//! | `keywords_all` | for each of A's words, a word of B's `keywords_all` that contains it |
//! | `keywords_any` | a word of B's `keywords_all` containing one of A's words, or a `keywords_any` each of whose words contains one of A's words |
//! | `keywords_none` | for each of A's words, a word of B's `keywords_none` contained in it (B excluding "装修" also excludes "装修噪音") |
//! | lead `street-office` (needs a known street) | lead `street-office` too, or a `street` condition (whose streets all have an office) |
//!
//! Containment is checked on normalised keywords, as matching sees them. The criterion is
//! sound (a warning is always true) but not complete: B can also be covered by several earlier
//! rules together (one for complaints, one for reports), which this pairwise check does not see.
//! Cross-key implications (a community implies its street) are left out on purpose: the operator
//! may pick a street and a community independently, so they are not guaranteed.

use super::matching::{KeywordList, Rule, Target, When};
use super::{code_is_within, Diagnostic, District, RuleSet};

const KIND: u16 = 1;
const CHANNEL: u16 = 1 << 1;
const URGENCY: u16 = 1 << 2;
const WEEKDAYS: u16 = 1 << 3;
const CATEGORY: u16 = 1 << 4;
const STREET: u16 = 1 << 5;
const COMMUNITY: u16 = 1 << 6;
const ANY: u16 = 1 << 7;
const ALL: u16 = 1 << 8;
const NONE: u16 = 1 << 9;
const TIME: u16 = 1 << 10;
/// Lead `street-office`, or (in `provides`) a street condition whose streets all have an office.
const KNOWN_STREET: u16 = 1 << 11;

pub(super) fn lint(set: &RuleSet, district: &District, diags: &mut Vec<Diagnostic>) {
    for rule in &set.rules {
        if let Some(why) = contradiction(&rule.when) {
            diags.push(warning_at(rule, format!("rule `{}` can never match: {why}", rule.info.id)));
        }
    }

    // `needs`: what A asks of a ticket; `provides`: what B guarantees, as key masks. A can only
    // shadow B when every key A needs is one B provides (a cheap filter before the details).
    let shapes: Vec<(u16, u16)> = set.rules.iter().map(|r| shape(r, district)).collect();
    for (b_rank, b) in set.rules.iter().enumerate() {
        let (_, b_provides) = shapes[b_rank];
        let shadow = (0..b_rank).find(|&a_rank| {
            let (a_needs, _) = shapes[a_rank];
            a_needs & !b_provides == 0 && implies(&b.when, &set.rules[a_rank].when)
        });
        if let Some(a_rank) = shadow {
            let a = &set.rules[a_rank];
            diags.push(warning_at(
                b,
                format!(
                    "rule `{}` can never win: rule `{}` ({}:{}) comes first ({}) and matches every ticket it matches",
                    b.info.id,
                    a.info.id,
                    a.info.file,
                    a.info.line,
                    why_first(a, b)
                ),
            ));
        }
    }
}

fn warning_at(rule: &Rule, message: String) -> Diagnostic {
    Diagnostic::warning(&rule.info.file, rule.info.line, rule.column, message)
}

fn why_first(a: &Rule, b: &Rule) -> String {
    if a.info.priority != b.info.priority {
        format!("priority {} > {}", a.info.priority, b.info.priority)
    } else if a.info.specificity != b.info.specificity {
        format!("same priority, {} conditions > {}", a.info.specificity, b.info.specificity)
    } else {
        "same priority and number of conditions, earlier in file order".to_string()
    }
}

fn shape(rule: &Rule, district: &District) -> (u16, u16) {
    let w = &rule.when;
    let keys = [
        (w.kinds.is_some(), KIND),
        (w.channels.is_some(), CHANNEL),
        (w.urgencies.is_some(), URGENCY),
        (w.weekdays.is_some(), WEEKDAYS),
        (w.category.is_some(), CATEGORY),
        (w.street.is_some(), STREET),
        (w.community.is_some(), COMMUNITY),
        (w.keywords_any.is_some(), ANY),
        (w.keywords_all.is_some(), ALL),
        (w.keywords_none.is_some(), NONE),
        (w.time.is_some(), TIME),
    ];
    let mut needs = keys.iter().filter(|(on, _)| *on).fold(0, |m, (_, bit)| m | bit);
    let mut provides = needs;
    // A's `keywords_any` may be implied by B's `keywords_all`: B "provides" ANY through ALL.
    if provides & ALL != 0 {
        provides |= ANY;
    }
    if rule.then.lead == Target::StreetOffice {
        needs |= KNOWN_STREET;
        provides |= KNOWN_STREET;
    }
    let streets_have_offices =
        w.street.as_ref().is_some_and(|streets| streets.iter().all(|s| district.street_office(s).is_some()));
    if streets_have_offices {
        provides |= KNOWN_STREET;
    }
    (needs, provides)
}

/// Every ticket matching `b` matches `a` (given the key masks already passed the filter).
fn implies(b: &When, a: &When) -> bool {
    subset_mask(b.kinds, a.kinds)
        && subset_mask(b.channels, a.channels)
        && subset_mask(b.urgencies, a.urgencies)
        && subset_mask(b.weekdays, a.weekdays)
        && subset_list(&b.street, &a.street)
        && subset_list(&b.community, &a.community)
        && match (&b.category, &a.category) {
            (_, None) => true,
            (Some(bs), Some(as_)) => bs.iter().all(|pb| as_.iter().any(|pa| code_is_within(pb, pa))),
            (None, Some(_)) => false,
        }
        && match (&b.time, &a.time) {
            (_, None) => true,
            (Some(bt), Some(at)) => at.covers(bt),
            (None, Some(_)) => false,
        }
        && keywords_implied(b, a)
}

fn subset_mask(b: Option<u8>, a: Option<u8>) -> bool {
    match (b, a) {
        (_, None) => true,
        (Some(b), Some(a)) => b & !a == 0,
        (None, Some(_)) => false,
    }
}

fn subset_list(b: &Option<Vec<String>>, a: &Option<Vec<String>>) -> bool {
    match (b, a) {
        (_, None) => true,
        (Some(b), Some(a)) => b.iter().all(|v| a.contains(v)),
        (None, Some(_)) => false,
    }
}

fn keywords_implied(b: &When, a: &When) -> bool {
    let (b_all, b_any, b_none) = (words(&b.keywords_all), &b.keywords_any, words(&b.keywords_none));
    let all_ok = a
        .keywords_all
        .as_ref()
        .is_none_or(|k| k.words.iter().all(|ka| b_all.iter().any(|kb| kb.contains(ka.as_str()))));
    let any_ok = a.keywords_any.as_ref().is_none_or(|k| {
        let contains_one = |kb: &String| k.words.iter().any(|ka| kb.contains(ka.as_str()));
        b_all.iter().any(contains_one) || b_any.as_ref().is_some_and(|bk| bk.words.iter().all(contains_one))
    });
    let none_ok = a
        .keywords_none
        .as_ref()
        .is_none_or(|k| k.words.iter().all(|kn| b_none.iter().any(|kb| kn.contains(kb.as_str()))));
    all_ok && any_ok && none_ok
}

fn words(k: &Option<KeywordList>) -> &[String] {
    k.as_ref().map(|k| k.words.as_slice()).unwrap_or(&[])
}

/// Keyword conditions that contradict each other.
fn contradiction(w: &When) -> Option<String> {
    let none = w.keywords_none.as_ref()?;
    let excluded = |word: &str| none.words.iter().position(|n| word.contains(n.as_str())).map(|i| &none.shown[i]);
    if let Some(all) = &w.keywords_all {
        for (word, shown) in all.words.iter().zip(&all.shown) {
            if let Some(n) = excluded(word) {
                return Some(format!("keywords_all `{shown}` contains keywords_none `{n}`"));
            }
        }
    }
    if let Some(any) = &w.keywords_any {
        if any.words.iter().all(|word| excluded(word).is_some()) {
            return Some("every keywords_any word contains a keywords_none word".to_string());
        }
    }
    None
}
