//! Rule files → checked rules: the TOML shape, and every check that concerns one value.
//!
//! Values are read as `toml::Spanned` so each diagnostic points at the value itself.

use std::collections::HashMap;

use serde::Deserialize;
use toml::Spanned;

use super::automaton::normalize;
use super::matching::{Emergency, KeywordList, Rule, Target, Then, TimeWindow, When};
use super::words::{Guard, ALL_GUARDS};
use super::{Diagnostic, District, RuleInfo, Severity, CHANNELS, KINDS, STREET_OFFICE, URGENCIES, WEEKDAYS};

/// Where an emergency call may be handed off (转接): fire, police, ambulance.
pub const HANDOFF_NUMBERS: [&str; 3] = ["119", "110", "120"];

/// The phrase lists (`phrases/NAME.txt`) by name, and which rules named them.
#[derive(Default)]
pub(super) struct PhraseLists {
    lists: Vec<PhraseList>,
}

struct PhraseList {
    name: String,
    file: String,
    /// (phrase as written, line)
    phrases: Vec<(String, usize)>,
    used: std::cell::Cell<bool>,
}

impl PhraseLists {
    /// `file` is `phrases/NAME.txt` (or `NAME.txt`); the list is called `NAME`.
    pub fn add(&mut self, file: &str, phrases: Vec<(String, usize)>) {
        let base = file.rsplit('/').next().unwrap_or(file);
        let name = base.strip_suffix(".txt").unwrap_or(base).to_string();
        self.lists.push(PhraseList { name, file: file.to_string(), phrases, used: std::cell::Cell::new(false) });
    }

    fn get(&self, name: &str) -> Option<&[(String, usize)]> {
        self.lists.iter().find(|l| l.name == name).map(|l| {
            l.used.set(true);
            l.phrases.as_slice()
        })
    }

    fn names(&self) -> Vec<&str> {
        self.lists.iter().map(|l| l.name.as_str()).collect()
    }

    /// A list no rule names is a curation nobody uses: warned about.
    pub fn unused(&self, diags: &mut Vec<Diagnostic>) {
        for l in self.lists.iter().filter(|l| !l.used.get()) {
            diags.push(Diagnostic::warning(&l.file, 0, 0, format!("phrase list `{}` is named by no rule", l.name)));
        }
    }
}

type List = Option<Spanned<Vec<Spanned<String>>>>;

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct RawFile {
    #[serde(default)]
    rule: Vec<RawRule>,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct RawRule {
    id: Spanned<String>,
    #[serde(default)]
    description: String,
    #[serde(default)]
    priority: i64,
    when: Option<RawWhen>,
    then: RawThen,
    emergency: Option<Spanned<RawEmergency>>,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct RawEmergency {
    label: Spanned<String>,
    handoff: Option<Spanned<String>>,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct RawWhen {
    kind: List,
    category: List,
    keywords_any: List,
    keywords_all: List,
    keywords_none: List,
    street: List,
    community: List,
    channel: List,
    urgency: List,
    time: Option<Spanned<RawTime>>,
    weekdays: List,
    phrases: List,
    guards: Option<Spanned<Vec<Spanned<String>>>>,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct RawTime {
    from: Spanned<String>,
    to: Spanned<String>,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct RawThen {
    lead: Spanned<String>,
    assist: List,
    policy: Spanned<String>,
    urgency: Option<Spanned<String>>,
}

/// Where the checks of one file report to.
struct Sink<'a> {
    file: &'a str,
    source: &'a str,
    diags: &'a mut Vec<Diagnostic>,
    errors: usize,
}

impl Sink<'_> {
    fn error<T>(&mut self, at: &Spanned<T>, message: impl Into<String>) {
        self.errors += 1;
        self.diags.push(Diagnostic::at_offset(self.file, self.source, at.span().start, Severity::Error, message));
    }

    fn warning<T>(&mut self, at: &Spanned<T>, message: impl Into<String>) {
        self.diags.push(Diagnostic::at_offset(self.file, self.source, at.span().start, Severity::Warning, message));
    }
}

/// Parses one file, appending its checked rules to `rules` and its problems to `diags`. A rule
/// with an error is left out (the caller refuses the whole set anyway).
// Each argument is one thing the checks need (the file, where it ranks, what the district has,
// where rules and diagnostics go); bundling them would only rename the list.
#[allow(clippy::too_many_arguments)]
pub(super) fn parse_file(
    file: &str,
    source: &str,
    file_index: usize,
    district: &District,
    policies: &[&str],
    lists: &PhraseLists,
    rules: &mut Vec<Rule>,
    diags: &mut Vec<Diagnostic>,
) {
    let raw: RawFile = match toml::from_str(source) {
        Ok(raw) => raw,
        Err(err) => {
            diags.push(Diagnostic::from_toml(file, source, &err));
            return;
        }
    };
    let mut sink = Sink { file, source, diags, errors: 0 };
    for (ordinal, raw_rule) in raw.rule.into_iter().enumerate() {
        let before = sink.errors;
        let rule = compile_rule(raw_rule, file_index, ordinal, district, policies, lists, &mut sink);
        if sink.errors == before {
            rules.push(rule);
        }
    }
}

fn compile_rule(
    raw: RawRule,
    file_index: usize,
    ordinal: usize,
    district: &District,
    policies: &[&str],
    lists: &PhraseLists,
    sink: &mut Sink,
) -> Rule {
    let id = raw.id.get_ref();
    let id_ok = !id.is_empty()
        && id.bytes().all(|b| b.is_ascii_lowercase() || b.is_ascii_digit() || matches!(b, b'-' | b'_' | b'.'));
    if !id_ok {
        sink.error(
            &raw.id,
            format!("rule id `{id}` must be non-empty lower-case ascii letters, digits, `-`, `_` or `.`"),
        );
    }
    let (line, column) = super::line_column(sink.source, raw.id.span().start);
    let emergency = raw.emergency.map(|e| compile_emergency(e, sink));
    let when = match raw.when {
        Some(w) => compile_when(w, district, lists, emergency.is_some(), sink),
        None => When::default(),
    };
    if emergency.is_some() && when.keywords_any.is_none() && when.keywords_all.is_none() {
        sink.error(&raw.id, "an emergency rule needs keywords_any, keywords_all or phrases: what did the caller say?");
    }
    if let (Some(_), Some(u)) = (&emergency, &raw.then.urgency) {
        sink.error(
            u,
            "an emergency rule proposes urgency for the operator to confirm; leave `urgency` out of [rule.then]",
        );
    }
    // Urgency is the operator's to decide (issue 14): a rule that turns calls urgent proposes it
    // ([rule.emergency]), unless it only follows the operator's own choice of 紧急.
    let urgent_bit = 1u8 << URGENCIES.iter().position(|u| *u == "urgent").unwrap_or(1);
    if let Some(u) = raw.then.urgency.as_ref().filter(|u| emergency.is_none() && u.get_ref().as_str() == "urgent") {
        if when.urgencies != Some(urgent_bit) {
            sink.warning(
                u,
                "this rule turns calls urgent without asking the operator; make it an emergency rule \
                 ([rule.emergency] with a label) so urgency is proposed and confirmed",
            );
        }
    }
    let then = compile_then(raw.then, district, policies, sink);
    let specificity = when.count();
    Rule {
        info: RuleInfo {
            id: id.clone(),
            description: raw.description,
            priority: raw.priority,
            specificity,
            file: sink.file.to_string(),
            line,
        },
        column,
        file_index,
        ordinal,
        when,
        then,
        emergency,
    }
}

fn compile_emergency(raw: Spanned<RawEmergency>, sink: &mut Sink) -> Emergency {
    let raw = raw.into_inner();
    if raw.label.get_ref().trim().is_empty() {
        sink.error(&raw.label, "emergency.label: say what the emergency is (起火, 燃气泄漏 …)");
    }
    if let Some(h) = &raw.handoff {
        if !HANDOFF_NUMBERS.contains(&h.get_ref().as_str()) {
            sink.error(h, format!("emergency.handoff: `{}` is not one of {}", h.get_ref(), HANDOFF_NUMBERS.join(", ")));
        }
    }
    Emergency { label: raw.label.into_inner(), handoff: raw.handoff.map(Spanned::into_inner) }
}

/// `guards = [...]`: an explicit list (may be empty: no guards); absent: all four for an
/// emergency rule, none otherwise.
fn guards(raw: Option<Spanned<Vec<Spanned<String>>>>, emergency: bool, sink: &mut Sink) -> u8 {
    let Some(list) = raw else { return if emergency { ALL_GUARDS } else { 0 } };
    let mut mask = 0u8;
    for value in list.get_ref() {
        match Guard::parse(value.get_ref()) {
            Some(g) if mask & g.bit() != 0 => {
                sink.warning(value, format!("guards: `{}` is listed twice", value.get_ref()))
            }
            Some(g) => mask |= g.bit(),
            None => sink.error(
                value,
                format!(
                    "guards: unknown guard `{}`; known: {}",
                    value.get_ref(),
                    Guard::ALL.map(Guard::as_str).join(", ")
                ),
            ),
        }
    }
    mask
}

fn compile_when(raw: RawWhen, district: &District, lists: &PhraseLists, emergency: bool, sink: &mut Sink) -> When {
    let categories = codes(
        raw.category,
        "category",
        sink,
        |c| district.category(c).is_some(),
        || district.categories.iter().map(|c| c.code.clone()).collect(),
    );
    let streets = codes(
        raw.street,
        "street",
        sink,
        |c| district.street(c).is_some(),
        || district.streets.iter().map(|s| s.code.clone()).collect(),
    );
    // A community outside the rule's own streets could never match.
    if let (Some(streets), Some(communities)) = (&streets, &raw.community) {
        for value in communities.get_ref() {
            if let Some((street, _)) = district.community(value.get_ref()) {
                if !streets.contains(&street.code) {
                    sink.error(
                        value,
                        format!(
                            "community `{}` is in street `{}`, which `street` leaves out: the rule can never match",
                            value.get_ref(),
                            street.code
                        ),
                    );
                }
            }
        }
    }
    let communities = codes(
        raw.community,
        "community",
        sink,
        |c| district.community(c).is_some(),
        || district.streets.iter().flat_map(|s| s.communities.iter().map(|c| c.code.clone())).collect(),
    );
    When {
        kinds: mask(raw.kind, "kind", &KINDS, sink),
        channels: mask(raw.channel, "channel", &CHANNELS, sink),
        urgencies: mask(raw.urgency, "urgency", &URGENCIES, sink),
        weekdays: mask(raw.weekdays, "weekdays", &WEEKDAYS, sink),
        category: categories,
        street: streets,
        community: communities,
        keywords_any: with_phrases(keywords(raw.keywords_any, "keywords_any", sink), raw.phrases, lists, sink),
        keywords_all: keywords(raw.keywords_all, "keywords_all", sink),
        keywords_none: keywords(raw.keywords_none, "keywords_none", sink),
        time: raw.time.and_then(|t| time_window(t, sink)),
        guards: guards(raw.guards, emergency, sink),
    }
}

fn compile_then(raw: RawThen, district: &District, policies: &[&str], sink: &mut Sink) -> Then {
    let lead = target(&raw.lead, "lead", district, sink);
    let mut assist = Vec::new();
    if let Some(list) = non_empty(raw.assist, "assist", sink) {
        for value in &list {
            let t = target(value, "assist", district, sink);
            if t == lead {
                sink.error(value, format!("`{}` is the lead; it cannot also assist", value.get_ref()));
            } else if assist.contains(&t) {
                sink.warning(value, format!("assist `{}` is listed twice", value.get_ref()));
            } else {
                assist.push(t);
            }
        }
    }
    let policy = raw.policy.get_ref();
    if !policies.contains(&policy.as_str()) {
        sink.error(&raw.policy, format!("unknown SLA policy `{policy}`; known: {}", policies.join(", ")));
    }
    let urgency = raw.urgency.map(|u| {
        if !URGENCIES.contains(&u.get_ref().as_str()) {
            sink.error(&u, format!("unknown urgency `{}`; known: {}", u.get_ref(), URGENCIES.join(", ")));
        }
        u.into_inner()
    });
    Then { lead, assist, policy: policy.clone(), urgency }
}

fn target(value: &Spanned<String>, key: &str, district: &District, sink: &mut Sink) -> Target {
    let code = value.get_ref();
    if code == STREET_OFFICE {
        return Target::StreetOffice;
    }
    if district.department(code).is_none() {
        let known: Vec<String> = district.departments.iter().map(|d| d.code.clone()).collect();
        sink.error(value, format!("{key}: unknown department `{code}`{}", did_you_mean(code, &known)));
    }
    Target::Department(code.clone())
}

/// An explicitly written list must say something: `[]` would match nothing at all.
fn non_empty(list: List, key: &str, sink: &mut Sink) -> Option<Vec<Spanned<String>>> {
    let list = list?;
    if list.get_ref().is_empty() {
        sink.error(&list, format!("`{key}` is an empty list, which matches nothing; leave the key out to mean any"));
        return None;
    }
    Some(list.into_inner())
}

/// A list of words from a fixed vocabulary, as a bit mask over `vocabulary`.
fn mask(list: List, key: &str, vocabulary: &[&str], sink: &mut Sink) -> Option<u8> {
    let list = non_empty(list, key, sink)?;
    let mut bits = 0u8;
    for value in &list {
        match vocabulary.iter().position(|w| w == value.get_ref()) {
            Some(i) if bits & (1 << i) != 0 => {
                sink.warning(value, format!("{key}: `{}` is listed twice", value.get_ref()))
            }
            Some(i) => bits |= 1 << i,
            None => sink
                .error(value, format!("{key}: unknown value `{}`; known: {}", value.get_ref(), vocabulary.join(", "))),
        }
    }
    Some(bits)
}

/// A list of district codes, each checked with `known`; `all` lists them for suggestions.
fn codes(
    list: List,
    key: &str,
    sink: &mut Sink,
    known: impl Fn(&str) -> bool,
    all: impl Fn() -> Vec<String>,
) -> Option<Vec<String>> {
    let list = non_empty(list, key, sink)?;
    let mut out: Vec<String> = Vec::with_capacity(list.len());
    for value in &list {
        let code = value.get_ref();
        if !known(code) {
            sink.error(value, format!("{key}: unknown {key} `{code}`{}", did_you_mean(code, &all())));
        } else if out.contains(code) {
            sink.warning(value, format!("{key}: `{code}` is listed twice"));
        } else {
            out.push(code.clone());
        }
    }
    Some(out)
}

fn keywords(list: List, key: &str, sink: &mut Sink) -> Option<KeywordList> {
    let list = non_empty(list, key, sink)?;
    let mut words = KeywordList::default();
    for value in &list {
        let normal = normalize(value.get_ref());
        if normal.is_empty() || normal.split('+').any(|part| part.split('|').any(str::is_empty)) {
            sink.error(
                value,
                format!("{key}: an empty keyword (or `+` part, or `|` alternative) matches every content"),
            );
        } else if words.words.contains(&normal) {
            sink.warning(value, format!("{key}: `{}` is listed twice", value.get_ref()));
        } else {
            words.words.push(normal);
            words.shown.push(value.get_ref().clone());
        }
    }
    Some(words)
}

/// `phrases = ["fire"]`: each named list's phrases join `keywords_any`.
fn with_phrases(any: Option<KeywordList>, raw: List, lists: &PhraseLists, sink: &mut Sink) -> Option<KeywordList> {
    let Some(names) = non_empty(raw, "phrases", sink) else { return any };
    let mut words = any.unwrap_or_default();
    for name in &names {
        match lists.get(name.get_ref()) {
            None => sink.error(
                name,
                format!(
                    "phrases: no phrase list `{}` (dispatch_rules/phrases/{}.txt); known: {}",
                    name.get_ref(),
                    name.get_ref(),
                    lists.names().join(", ")
                ),
            ),
            Some(phrases) => {
                for (phrase, _) in phrases {
                    let normal = normalize(phrase);
                    if !words.words.contains(&normal) {
                        words.words.push(normal);
                        words.shown.push(phrase.clone());
                    }
                }
            }
        }
    }
    Some(words)
}

fn time_window(raw: Spanned<RawTime>, sink: &mut Sink) -> Option<TimeWindow> {
    let from = clock(&raw.get_ref().from, false, sink);
    let to = clock(&raw.get_ref().to, true, sink);
    let (from, to) = (from?, to?);
    if from == to {
        sink.error(&raw, "time: `from` equals `to`, so the window is empty; leave `time` out to mean any time");
        return None;
    }
    if from == 0 && to == 24 * 60 {
        sink.warning(&raw, "time: 00:00–24:00 is the whole day; leave `time` out to mean any time");
    }
    Some(TimeWindow { from, to })
}

/// "HH:MM" → minutes after midnight; `24:00` is allowed as an end.
fn clock(value: &Spanned<String>, is_end: bool, sink: &mut Sink) -> Option<u16> {
    let text = value.get_ref();
    let parsed = text.split_once(':').and_then(|(h, m)| {
        let ok = h.len() == 2 && m.len() == 2;
        let (h, m) = (h.parse::<u16>().ok()?, m.parse::<u16>().ok()?);
        (ok && m < 60 && (h < 24 || (is_end && h == 24 && m == 0))).then_some(h * 60 + m)
    });
    if parsed.is_none() {
        let range = if is_end { "00:00–24:00" } else { "00:00–23:59" };
        sink.error(value, format!("time: `{text}` is not a time of day HH:MM in {range}"));
    }
    parsed
}

/// Reports each id written more than once, at the later occurrence.
pub(super) fn check_duplicate_ids(rules: &[Rule], diags: &mut Vec<Diagnostic>) {
    let mut seen: HashMap<&str, &Rule> = HashMap::with_capacity(rules.len());
    for rule in rules {
        if let Some(first) = seen.get(rule.info.id.as_str()) {
            diags.push(Diagnostic::error(
                &rule.info.file,
                rule.info.line,
                rule.column,
                format!(
                    "duplicate rule id `{}`; first defined at {}:{}",
                    rule.info.id, first.info.file, first.info.line
                ),
            ));
        } else {
            seen.insert(&rule.info.id, rule);
        }
    }
}

/// ", did you mean `x`?" for the closest known code within two edits, else "".
fn did_you_mean(value: &str, known: &[String]) -> String {
    known
        .iter()
        .map(|k| (edit_distance(value, k), k))
        .filter(|(d, _)| *d <= 2)
        .min()
        .map(|(_, k)| format!("; did you mean `{k}`?"))
        .unwrap_or_default()
}

fn edit_distance(a: &str, b: &str) -> usize {
    let b: Vec<char> = b.chars().collect();
    let mut row: Vec<usize> = (0..=b.len()).collect();
    for (i, ca) in a.chars().enumerate() {
        let mut prev = row[0];
        row[0] = i + 1;
        for (j, cb) in b.iter().enumerate() {
            let cur = row[j + 1];
            row[j + 1] = (prev + usize::from(ca != *cb)).min(row[j] + 1).min(cur + 1);
            prev = cur;
        }
    }
    row[b.len()]
}
