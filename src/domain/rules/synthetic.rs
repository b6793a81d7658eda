//! Generated rule sets and tickets of any size, for benchmarks and load tests.
//!
//! Deterministic (a fixed-seed SplitMix64), so a benchmark run can be repeated exactly. The
//! keywords and the ticket contents are drawn from the same few hundred common characters, so
//! every content character is in the keyword alphabet: the scan never gets an easy restart.

use chrono::{DateTime, TimeZone, Utc};

use super::super::district::DepartmentKind;
use super::{District, RoutingInput, CHANNELS, KINDS, STREET_OFFICE, URGENCIES};

const POLICIES: [&str; 4] = ["urgent", "utility", "general", "complex"];
const RULES_PER_FILE: usize = 100;
const CHARS: &str = "的一是在不了有和人这中大为上个国我以要他时来用们生到作地于出就分对成会可主发年动同工也能下过子说产种面而方后多定行学法所民得经十三之进着等部度家电力里如水化高自二理起小物现实加量都两体制机当使点从业本去把性好应开它合还因由其些然前外天政四日那社义事平形相全表间样与关各重新线内数正心反你明看原又么利比或但质气第向道命此变条只没结解问意建月公无系军很情者最立代想已通并提直题党程展五果料象员革位入常文总次品式活设及管特件长求老头基资边流路级少图山统接知较将组见计别她手角期根论运农指几九区强放决西被干做必战先回则任取据处理府研质色";

struct Rng(u64);

impl Rng {
    fn next(&mut self) -> u64 {
        self.0 = self.0.wrapping_add(0x9E37_79B9_7F4A_7C15);
        let mut z = self.0;
        z = (z ^ (z >> 30)).wrapping_mul(0xBF58_476D_1CE4_E5B9);
        z = (z ^ (z >> 27)).wrapping_mul(0x94D0_49BB_1331_11EB);
        z ^ (z >> 31)
    }

    fn below(&mut self, n: usize) -> usize {
        (self.next() % n.max(1) as u64) as usize
    }

    fn chance(&mut self, percent: usize) -> bool {
        self.below(100) < percent
    }

    fn pick<'a, T>(&mut self, items: &'a [T]) -> &'a T {
        &items[self.below(items.len())]
    }
}

/// `n` distinct keywords of two to four characters.
fn keyword_pool(n: usize) -> Vec<String> {
    let chars: Vec<char> = CHARS.chars().collect();
    let mut rng = Rng(0x5EED_0001);
    let mut seen = std::collections::HashSet::with_capacity(n);
    let mut out = Vec::with_capacity(n);
    while out.len() < n {
        let len = 2 + rng.below(3);
        let word: String = (0..len).map(|_| *rng.pick(&chars)).collect();
        if seen.insert(word.clone()) {
            out.push(word);
        }
    }
    out
}

fn quoted(items: &[&str]) -> String {
    let inner: Vec<String> = items.iter().map(|s| format!("\"{s}\"")).collect();
    format!("[{}]", inner.join(", "))
}

/// A rule set of `n_rules` rules using `n_keywords` distinct keywords, in files of 100 rules,
/// valid for `district` and the demo policy names (`urgent`, `utility`, `general`, `complex`).
pub fn synthetic(n_rules: usize, n_keywords: usize, district: &District) -> Vec<(String, String)> {
    let mut rng = Rng(0x5EED_0002);
    let pool = keyword_pool(n_keywords);
    let categories: Vec<&str> =
        district.categories.iter().filter(|c| c.code.contains('.')).map(|c| c.code.as_str()).collect();
    let streets: Vec<&str> = district.streets.iter().map(|s| s.code.as_str()).collect();
    let leads: Vec<&str> = district
        .departments
        .iter()
        .filter(|d| matches!(d.kind, DepartmentKind::Bureau | DepartmentKind::Utility | DepartmentKind::Unit))
        .map(|d| d.code.as_str())
        .collect();
    let mut files = Vec::new();
    let mut text = String::new();
    let mut next_keyword = 0usize;
    for i in 0..n_rules {
        // This rule's share of the keywords, so that all of them are used once.
        let share = n_keywords / n_rules.max(1) + usize::from(i < n_keywords % n_rules.max(1));
        let words: Vec<&str> = pool[next_keyword..next_keyword + share].iter().map(String::as_str).collect();
        next_keyword += share;

        text.push_str(&format!("[[rule]]\nid = \"syn-{i:05}\"\npriority = {}\n[rule.when]\n", rng.below(100)));
        if !categories.is_empty() && rng.chance(70) {
            text.push_str(&format!("category = [\"{}\"]\n", rng.pick(&categories)));
        }
        if rng.chance(40) {
            let kinds: Vec<&str> = KINDS.iter().copied().filter(|_| rng.chance(50)).collect();
            if !kinds.is_empty() {
                text.push_str(&format!("kind = {}\n", quoted(&kinds)));
            }
        }
        if rng.chance(10) {
            text.push_str(&format!("channel = [\"{}\"]\n", rng.pick(&CHANNELS)));
        }
        let (mut all, mut none) = (&words[..0], &words[..0]);
        let mut any = &words[..];
        if any.len() >= 3 && rng.chance(30) {
            (all, any) = any.split_at(1);
        }
        if any.len() >= 3 && rng.chance(20) {
            (none, any) = any.split_at(1);
        }
        for (key, list) in [("keywords_any", any), ("keywords_all", all), ("keywords_none", none)] {
            if !list.is_empty() {
                text.push_str(&format!("{key} = {}\n", quoted(list)));
            }
        }
        if !streets.is_empty() && rng.chance(20) {
            text.push_str(&format!("street = [\"{}\"]\n", rng.pick(&streets)));
        }
        if rng.chance(10) {
            let from = rng.below(24);
            text.push_str(&format!(
                "time = {{ from = \"{from:02}:00\", to = \"{:02}:30\" }}\n",
                (from + 1 + rng.below(10)) % 24
            ));
        }
        let lead = if leads.is_empty() || rng.chance(30) { STREET_OFFICE } else { rng.pick(&leads) };
        text.push_str(&format!("[rule.then]\nlead = \"{lead}\"\npolicy = \"{}\"\n\n", rng.pick(&POLICIES)));
        if (i + 1) % RULES_PER_FILE == 0 || i + 1 == n_rules {
            files.push((format!("synthetic-{:03}.toml", files.len()), std::mem::take(&mut text)));
        }
    }
    files
}

/// One generated ticket; `input()` borrows it as the rules see it.
#[derive(Debug, Clone)]
pub struct SyntheticTicket {
    pub kind: String,
    pub category: String,
    pub content: String,
    pub address: String,
    pub channel: String,
    pub urgency: String,
    pub received_at: DateTime<Utc>,
}

impl SyntheticTicket {
    pub fn input(&self) -> RoutingInput<'_> {
        RoutingInput {
            kind: &self.kind,
            category: &self.category,
            content: &self.content,
            address: &self.address,
            street: None,
            community: None,
            channel: &self.channel,
            urgency: &self.urgency,
            received_at: self.received_at,
        }
    }
}

/// `n` tickets of 150–300 characters, most containing a few of the `n_keywords` keywords that
/// [`synthetic`] uses, filed under leaf categories, with an address from the regions file.
pub fn synthetic_tickets(n: usize, n_keywords: usize, district: &District, seed: u64) -> Vec<SyntheticTicket> {
    let mut rng = Rng(seed);
    let pool = keyword_pool(n_keywords);
    let chars: Vec<char> = CHARS.chars().collect();
    let leaves: Vec<&str> =
        district.categories.iter().filter(|c| district.is_leaf_category(&c.code)).map(|c| c.code.as_str()).collect();
    let places: Vec<&str> = district
        .streets
        .iter()
        .flat_map(|s| s.roads.iter().chain(&s.landmarks).chain(s.communities.iter().flat_map(|c| &c.estates)))
        .map(String::as_str)
        .collect();
    let start = Utc.with_ymd_and_hms(2026, 3, 2, 0, 0, 0).single().expect("valid date");
    (0..n)
        .map(|_| {
            let len = 150 + rng.below(151);
            let mut content: String = (0..len).map(|_| *rng.pick(&chars)).collect();
            for _ in 0..rng.below(4) {
                if !pool.is_empty() {
                    let at = content.char_indices().nth(rng.below(len)).map_or(0, |(i, _)| i);
                    let word: &String = rng.pick(&pool);
                    content.insert_str(at, word);
                }
            }
            let address = if places.is_empty() || rng.chance(20) {
                String::new()
            } else {
                format!("{}{}号", rng.pick(&places), 1 + rng.below(200))
            };
            SyntheticTicket {
                kind: rng.pick(&KINDS).to_string(),
                category: if leaves.is_empty() { String::new() } else { rng.pick(&leaves).to_string() },
                content,
                address,
                channel: rng.pick(&CHANNELS).to_string(),
                urgency: URGENCIES[usize::from(rng.chance(10))].to_string(),
                received_at: start + chrono::Duration::minutes(rng.below(60 * 24 * 28) as i64),
            }
        })
        .collect()
}
