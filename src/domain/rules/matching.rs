//! Checked rules and how a ticket is matched against them: `route` (fast) and `explain` (full).

use chrono::{Datelike, FixedOffset, Timelike};

use super::automaton::{AutomatonBuilder, Hits};
use super::place::{place, Locator, Place};
use super::words::{CueTable, Found, Guard, GuardMask, Lexicon, Phrase, Reading};
use super::{
    code_is_within, District, EmergencyProposal, Explanation, GuardedMention, Routing, RoutingDecision, RoutingInput,
    RuleInfo, RuleMiss, RuleSet, CHANNELS, KINDS, NEAR_MISS_LIMIT, NEAR_MISS_MIN, STREET_OFFICE, URGENCIES, WEEKDAYS,
};

/// A checked rule. `RuleSet::rules` holds them in precedence order.
pub(super) struct Rule {
    pub info: RuleInfo,
    /// Column of the id, for diagnostics about the whole rule.
    pub column: usize,
    pub file_index: usize,
    pub ordinal: usize,
    pub when: When,
    pub then: Then,
    /// An emergency rule proposes urgency (and a hand-off) for the operator to confirm.
    pub emergency: Option<Emergency>,
}

/// `[rule.emergency]`: what the preview calls it, and where such calls are handed off.
#[derive(Debug, Clone)]
pub(super) struct Emergency {
    pub label: String,
    /// 119, 110 or 120 when the emergency is not 12345 work; `None`: it stays with the lead
    /// (a utility), urgent once confirmed.
    pub handoff: Option<String>,
}

/// The conditions; `None` means the key was not written (any value passes).
/// Kinds, channels, urgencies and weekdays are bit masks over `KINDS`, `CHANNELS`, … .
#[derive(Default)]
pub(super) struct When {
    pub kinds: Option<u8>,
    pub channels: Option<u8>,
    pub urgencies: Option<u8>,
    pub weekdays: Option<u8>,
    pub category: Option<Vec<String>>,
    pub street: Option<Vec<String>>,
    pub community: Option<Vec<String>>,
    pub keywords_any: Option<KeywordList>,
    pub keywords_all: Option<KeywordList>,
    pub keywords_none: Option<KeywordList>,
    pub time: Option<TimeWindow>,
    /// The guards on `keywords_any` and `keywords_all` mentions (not a condition of its own).
    pub guards: GuardMask,
}

#[derive(Default)]
pub(super) struct KeywordList {
    /// Normalised (see [`normalize`]), as matched.
    pub words: Vec<String>,
    /// As written, for explanations.
    pub shown: Vec<String>,
    /// Parts' ids in the rule set's automaton, filled when the set is built.
    pub phrases: Vec<Phrase>,
}

/// A keyword every mention of which a guard stopped: the guard, the keyword, the cue.
type Stopped = (Guard, String, String);

impl KeywordList {
    /// Keywords found unguarded (their index, and what was said: the keyword as written, or for
    /// one with alternatives the words the content used), and the guard that stopped each one
    /// that was mentioned only in a guarded way.
    fn found(&self, reading: &Reading, guards: GuardMask, cues: &CueTable) -> (Vec<(usize, String)>, Vec<Stopped>) {
        let mut yes = Vec::new();
        let mut stopped = Vec::new();
        for (index, (phrase, shown)) in self.phrases.iter().zip(&self.shown).enumerate() {
            match phrase.find(reading, guards, cues, shown) {
                Found::Yes(mentions) if shown.contains('|') => yes.push((index, Phrase::said(reading, &mentions))),
                Found::Yes(_) => yes.push((index, shown.clone())),
                Found::Stopped(g, word, cue) => stopped.push((g, word, cue)),
                Found::No => {}
            }
        }
        (yes, stopped)
    }

    /// Whether any keyword occurs anywhere, as characters (for `keywords_none`).
    fn any_anywhere(&self, reading: &Reading) -> bool {
        self.phrases.iter().any(|p| p.anywhere(reading))
    }

    /// Whether any keyword is found (`guards` = 0: plain presence on word boundaries).
    #[inline]
    fn any(&self, reading: &Reading, guards: GuardMask, cues: &CueTable) -> bool {
        self.phrases.iter().any(|p| match p.single() {
            Some(id) if guards == 0 => reading.present(id),
            _ => matches!(p.find(reading, guards, cues, ""), Found::Yes(_)),
        })
    }

    fn all(&self, reading: &Reading, guards: GuardMask, cues: &CueTable) -> bool {
        self.phrases.iter().all(|p| matches!(p.find(reading, guards, cues, ""), Found::Yes(_)))
    }

    /// The keywords as written, shortened for a sentence when the list is long.
    fn listed(&self) -> String {
        const SHOWN: usize = 8;
        // A phrase with word classes written out runs to hundreds of characters.
        const LONG: usize = 16;
        let short = |s: &String| {
            if s.chars().count() <= LONG {
                s.clone()
            } else {
                format!("{}…", s.chars().take(LONG - 1).collect::<String>())
            }
        };
        let shown: Vec<String> = self.shown.iter().take(SHOWN).map(short).collect();
        if self.shown.len() <= SHOWN {
            shown.join("/")
        } else {
            format!("{} 等 {} 个", shown.join("/"), self.shown.len())
        }
    }
}

/// Minutes after local midnight, `[from, to)`; wraps past midnight when `from > to`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(super) struct TimeWindow {
    pub from: u16,
    pub to: u16,
}

impl TimeWindow {
    pub fn contains(&self, minute: u16) -> bool {
        if self.from < self.to {
            (self.from..self.to).contains(&minute)
        } else {
            minute >= self.from || minute < self.to
        }
    }

    /// Every minute of `inner` is in `self`.
    pub fn covers(&self, inner: &TimeWindow) -> bool {
        // Unwrap both onto 0..2880 and compare intervals; a wrapping window is [from, to+1440).
        let span = |w: &TimeWindow| if w.from < w.to { (w.from, w.to) } else { (w.from, w.to + 1440) };
        let (o_from, o_to) = span(self);
        let (i_from, i_to) = span(inner);
        // `inner` may sit in `self` directly or one day later (e.g. self 22:00–06:00, inner 01:00–05:00).
        (o_from <= i_from && i_to <= o_to) || (o_from <= i_from + 1440 && i_to + 1440 <= o_to)
    }
}

impl std::fmt::Display for TimeWindow {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "{:02}:{:02}–{:02}:{:02}", self.from / 60, self.from % 60, self.to / 60, self.to % 60)
    }
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub(super) enum Target {
    Department(String),
    StreetOffice,
}

pub(super) struct Then {
    pub lead: Target,
    pub assist: Vec<Target>,
    pub policy: String,
    pub urgency: Option<String>,
}

impl When {
    /// The number of conditions written: the rule's specificity.
    pub fn count(&self) -> usize {
        [
            self.kinds.is_some(),
            self.channels.is_some(),
            self.urgencies.is_some(),
            self.weekdays.is_some(),
            self.category.is_some(),
            self.street.is_some(),
            self.community.is_some(),
            self.keywords_any.is_some(),
            self.keywords_all.is_some(),
            self.keywords_none.is_some(),
            self.time.is_some(),
        ]
        .into_iter()
        .filter(|b| *b)
        .count()
    }

    fn has_keywords(&self) -> bool {
        self.keywords_any.is_some() || self.keywords_all.is_some() || self.keywords_none.is_some()
    }
}

impl Rule {
    pub fn requires_street(&self) -> bool {
        self.then.lead == Target::StreetOffice
    }

    pub fn intern_keywords(&mut self, keywords: &mut AutomatonBuilder) {
        for list in [&mut self.when.keywords_any, &mut self.when.keywords_all, &mut self.when.keywords_none]
            .into_iter()
            .flatten()
        {
            list.phrases = list.words.iter().map(|w| Phrase::of(w, |p| keywords.intern(p))).collect();
        }
    }

    /// The words one of which must occur (as characters) for the keyword conditions to hold;
    /// `None` when they need no word (no `keywords_any`, no `keywords_all`). `keywords_any` is
    /// asked first and needs a word of the first part of one of its phrases; without it,
    /// `keywords_all` needs one of its first phrase's first part. When none occurs, asking
    /// cuts nothing either ([`Reading::present`] cuts only around words that occur), so a rule
    /// passed over for it leaves the reading as asking would have: the lazy cut depends on
    /// the order of the questions, and routing stays what it was.
    pub fn needs_one_of(&self) -> Option<Vec<u32>> {
        let w = &self.when;
        fn first_part(p: &Phrase) -> impl Iterator<Item = u32> + '_ {
            p.parts.first().into_iter().flatten().copied()
        }
        match (&w.keywords_any, &w.keywords_all) {
            (Some(any), _) => Some(any.phrases.iter().flat_map(first_part).collect()),
            (None, Some(all)) => all.phrases.first().map(|p| first_part(p).collect()),
            (None, None) => None,
        }
    }

    /// The conditions `Quick` does not hold and that need no keyword scan.
    fn matches_place(&self, t: &Ticket) -> bool {
        let w = &self.when;
        w.category.as_ref().is_none_or(|cs| cs.iter().any(|c| code_is_within(t.input.category, c)))
            && in_list(&w.street, t.place.street.as_deref())
            && in_list(&w.community, t.place.community.as_deref())
    }

    fn matches_keywords(&self, reading: &Reading, cues: &CueTable) -> bool {
        let w = &self.when;
        w.keywords_none.as_ref().is_none_or(|k| !k.any_anywhere(reading))
            && w.keywords_any.as_ref().is_none_or(|k| k.any(reading, w.guards, cues))
            && w.keywords_all.as_ref().is_none_or(|k| k.all(reading, w.guards, cues))
    }

    /// The keywords this rule matched on, as written (for explanations and proposals).
    fn matched_words(&self, reading: &Reading, cues: &CueTable) -> Vec<String> {
        let w = &self.when;
        let mut words: Vec<String> = Vec::new();
        // Two phrases of a list can be said alike (水管+爆 by a class and by a plain phrase): the
        // operator reads each once.
        for said in [&w.keywords_all, &w.keywords_any]
            .into_iter()
            .flatten()
            .flat_map(|k| k.found(reading, w.guards, cues).0)
            .map(|(_, said)| said)
        {
            if !words.contains(&said) {
                words.push(said);
            }
        }
        words
    }

    /// The proposal of an emergency rule that matched: the clause that said it.
    fn proposal(&self, reading: &Reading, cues: &CueTable) -> Option<EmergencyProposal> {
        let emergency = self.emergency.as_ref()?;
        let w = &self.when;
        let mut clause = None;
        for k in [&w.keywords_all, &w.keywords_any].into_iter().flatten() {
            for (phrase, shown) in k.phrases.iter().zip(&k.shown) {
                if let Found::Yes(mentions) = phrase.find(reading, w.guards, cues, shown) {
                    // The clause of the state (the last part), which says what is happening.
                    let state = mentions.last().expect("a found phrase has its mentions");
                    clause.get_or_insert_with(|| reading.clause_of(state).to_string());
                }
            }
        }
        Some(EmergencyProposal {
            label: emergency.label.clone(),
            handoff: emergency.handoff.clone(),
            matched: clause.unwrap_or_default(),
            words: self.matched_words(reading, cues),
            learned: None,
        })
    }

    /// One sentence per failed condition, for `explain`; and the number of conditions.
    fn failures(
        &self,
        t: &Ticket,
        reading: &Reading,
        cues: &CueTable,
        guarded: &mut Vec<GuardedMention>,
    ) -> (Vec<String>, usize) {
        let w = &self.when;
        let input = t.input;
        let mut failed = Vec::new();
        if !in_mask(w.kinds, t.kind) {
            failed.push(format!("kind: 诉求类型 {} 不在 [{}] 中", input.kind, words(w.kinds, &KINDS)));
        }
        if !in_mask(w.channels, t.channel) {
            failed.push(format!("channel: 渠道 {} 不在 [{}] 中", input.channel, words(w.channels, &CHANNELS)));
        }
        if !in_mask(w.urgencies, t.urgency) {
            failed.push(format!("urgency: 紧急程度 {} 不在 [{}] 中", input.urgency, words(w.urgencies, &URGENCIES)));
        }
        if !in_mask(w.weekdays, t.weekday) {
            let day = WEEKDAYS[t.weekday.trailing_zeros() as usize];
            failed.push(format!("weekdays: 受理日 {day} 不在 [{}] 中", words(w.weekdays, &WEEKDAYS)));
        }
        if let Some(tw) = w.time.filter(|tw| !tw.contains(t.minute)) {
            failed.push(format!("time: 受理时间 {:02}:{:02} 不在 {tw} 内", t.minute / 60, t.minute % 60));
        }
        if let Some(cs) = w.category.as_ref().filter(|cs| !cs.iter().any(|c| code_is_within(input.category, c))) {
            failed.push(format!("category: 分类 {} 不属于 {}", input.category, cs.join(" / ")));
        }
        place_failure(&mut failed, "street", "街道", &w.street, t.place.street.as_deref());
        place_failure(&mut failed, "community", "社区", &w.community, t.place.community.as_deref());
        let mut stopped_sentence = |key: &str, stopped: &[(Guard, String, String)]| {
            let said: Vec<String> = stopped
                .iter()
                .map(|(g, word, cue)| format!("{word} 被 {} 守卫拦下 ({}: {cue})", g.as_str(), g.label()))
                .collect();
            for (g, word, cue) in stopped {
                guarded.push(GuardedMention {
                    rule_id: self.info.id.clone(),
                    word: word.clone(),
                    guard: *g,
                    cue: cue.clone(),
                });
            }
            if said.is_empty() {
                String::new()
            } else {
                format!("{key}: {}", said.join("; "))
            }
        };
        if let Some(k) = &w.keywords_all {
            let (yes, stopped) = k.found(reading, w.guards, cues);
            let missing: Vec<&str> = k
                .shown
                .iter()
                .enumerate()
                .filter(|(i, _)| !yes.iter().any(|(found, _)| found == i))
                .map(|(_, s)| s.as_str())
                .collect();
            if !missing.is_empty() {
                let because = stopped_sentence("keywords_all", &stopped);
                if because.is_empty() {
                    failed.push(format!("keywords_all: 内容中缺少 {}", missing.join("/")));
                } else {
                    failed.push(because);
                }
            }
        }
        if let Some(k) = &w.keywords_none {
            let present: Vec<&str> =
                k.phrases.iter().zip(&k.shown).filter(|(p, _)| p.anywhere(reading)).map(|(_, s)| s.as_str()).collect();
            if !present.is_empty() {
                failed.push(format!("keywords_none: 内容中含有排除词 {}", present.join("/")));
            }
        }
        if let Some(k) = &w.keywords_any {
            let (yes, stopped) = k.found(reading, w.guards, cues);
            if yes.is_empty() {
                let because = stopped_sentence("keywords_any", &stopped);
                if because.is_empty() {
                    failed.push(format!("keywords_any: 内容中没有 {}", k.listed()));
                } else {
                    failed.push(because);
                }
            }
        }
        if self.requires_street() && t.street_office.is_none() {
            failed.push(format!("lead = {STREET_OFFICE}: 未能确定工单所在街道, 无法派给街道办事处"));
        }
        (failed, w.count() + usize::from(self.requires_street()))
    }

    /// The rule's lead, assistants and policy for a ticket it did not match on its words (a
    /// learned proposal of its emergency), without a proposal of its own; `None` when its lead
    /// is the street office and the ticket's street is unknown.
    pub(super) fn decide_learned(&self, t: &Ticket, cues: &CueTable) -> Option<RoutingDecision> {
        (!self.requires_street() || t.street_office.is_some()).then(|| self.decide(t, None, cues))
    }

    fn decide(&self, t: &Ticket, reading: Option<&Reading>, cues: &CueTable) -> RoutingDecision {
        let resolve = |target: &Target| match target {
            Target::Department(code) => Some(code.clone()),
            Target::StreetOffice => t.street_office.map(str::to_string),
        };
        let lead = resolve(&self.then.lead).expect("a street-office lead matches only with a known street office");
        let mut assist: Vec<String> = Vec::with_capacity(self.then.assist.len());
        for code in self.then.assist.iter().filter_map(resolve) {
            if code != lead && !assist.contains(&code) {
                assist.push(code);
            }
        }
        RoutingDecision {
            rule_id: self.info.id.clone(),
            lead,
            assist,
            policy: self.then.policy.clone(),
            urgency: self.then.urgency.clone(),
            street: t.place.street.clone(),
            community: t.place.community.clone(),
            located_by: t.place.located.as_ref().map(|l| l.matched_word.clone()),
            emergency: reading.and_then(|r| self.proposal(r, cues)).map(Box::new),
        }
    }
}

/// The bit of a vocabulary word the vocabulary does not have; no written list contains it.
const UNKNOWN: u8 = 0x80;

/// The conditions that fit in a few bytes, copied out of the rules into one small array so the
/// hot loop reads ten bytes per rule before it touches a rule. A missing condition is a full mask.
#[derive(Debug, Clone, Copy)]
pub(super) struct Quick {
    kinds: u8,
    channels: u8,
    urgencies: u8,
    weekdays: u8,
    time: TimeWindow,
    needs_street: bool,
}

impl Quick {
    pub fn of(rule: &Rule) -> Quick {
        let w = &rule.when;
        Quick {
            kinds: w.kinds.unwrap_or(u8::MAX),
            channels: w.channels.unwrap_or(u8::MAX),
            urgencies: w.urgencies.unwrap_or(u8::MAX),
            weekdays: w.weekdays.unwrap_or(u8::MAX),
            time: w.time.unwrap_or(TimeWindow { from: 0, to: 24 * 60 }),
            needs_street: rule.requires_street(),
        }
    }

    #[inline]
    fn passes(&self, t: &Ticket) -> bool {
        self.kinds & t.kind != 0
            && self.channels & t.channel != 0
            && self.urgencies & t.urgency != 0
            && self.weekdays & t.weekday != 0
            && self.time.contains(t.minute)
            && (!self.needs_street || t.street_office.is_some())
    }
}

fn in_mask(mask: Option<u8>, bit: u8) -> bool {
    mask.is_none_or(|m| m & bit != 0)
}

fn in_list(list: &Option<Vec<String>>, value: Option<&str>) -> bool {
    list.as_ref().is_none_or(|l| value.is_some_and(|v| l.iter().any(|c| c == v)))
}

fn words(mask: Option<u8>, vocabulary: &[&str]) -> String {
    let mask = mask.unwrap_or(0);
    let chosen: Vec<&str> =
        vocabulary.iter().enumerate().filter(|(i, _)| mask & (1 << i) != 0).map(|(_, w)| *w).collect();
    chosen.join(", ")
}

fn place_failure(failed: &mut Vec<String>, key: &str, label: &str, list: &Option<Vec<String>>, value: Option<&str>) {
    let Some(list) = list else { return };
    match value {
        None => failed.push(format!("{key}: 未能确定{label} (规则要求 {})", list.join("/"))),
        Some(v) if !list.iter().any(|c| c == v) => {
            failed.push(format!("{key}: {label} {v} 不在 [{}] 中", list.join(", ")))
        }
        Some(_) => {}
    }
}

/// A ticket as the conditions see it: vocabulary words as mask bits (`UNKNOWN` for a word
/// outside the vocabulary, which only a missing condition accepts), local time, place.
pub(super) struct Ticket<'a> {
    input: &'a RoutingInput<'a>,
    kind: u8,
    channel: u8,
    urgency: u8,
    weekday: u8,
    minute: u16,
    place: Place,
    street_office: Option<&'a str>,
}

/// Asia/Shanghai has kept UTC+8 all year since 1991.
const SHANGHAI_OFFSET_SECS: i32 = 8 * 3600;

impl<'a> Ticket<'a> {
    pub(super) fn new(input: &'a RoutingInput<'a>, district: &'a District, locator: &Locator) -> Ticket<'a> {
        let bit =
            |vocabulary: &[&str], word: &str| vocabulary.iter().position(|w| *w == word).map_or(UNKNOWN, |i| 1u8 << i);
        let local =
            input.received_at.with_timezone(&FixedOffset::east_opt(SHANGHAI_OFFSET_SECS).expect("valid offset"));
        let place = place(input, district, locator);
        let street_office = place.street.as_deref().and_then(|s| district.street_office(s)).map(|d| d.code.as_str());
        Ticket {
            input,
            kind: bit(&KINDS, input.kind),
            channel: bit(&CHANNELS, input.channel),
            urgency: bit(&URGENCIES, input.urgency),
            weekday: 1 << local.weekday().num_days_from_monday(),
            minute: (local.hour() * 60 + local.minute()) as u16,
            place,
            street_office,
        }
    }
}

pub(super) const NO_MATCH: &str = "没有匹配的派单规则，转人工派单";

/// Whether emergency rules take part: they propose (the default), or the operator dismissed
/// the proposal and the call is routed as if they did not exist.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Emergencies {
    Propose,
    Skip,
}

fn read<'t>(set: &'t RuleSet, lexicon: &'t Lexicon, text: &'t str) -> Reading<'t> {
    Reading::new(text, &set.keywords, lexicon.cutter.as_ref(), set.keywords.len())
}

pub(super) fn route(set: &RuleSet, input: &RoutingInput, district: &District, emergencies: Emergencies) -> Routing {
    let ticket = Ticket::new(input, district, &set.locator);
    // The content is read (scanned and cut into words) at most once, and only when a rule
    // gets that far; from then on, only the rules whose words occur in it are looked at.
    let mut reading: Option<(Reading, Hits)> = None;
    for &rank in set.candidates(input.category) {
        if reading.as_ref().is_some_and(|(_, may_match)| !may_match.get(rank)) {
            continue;
        }
        if !set.quick[rank as usize].passes(&ticket) {
            continue;
        }
        let rule = &set.rules[rank as usize];
        if emergencies == Emergencies::Skip && rule.emergency.is_some() {
            continue;
        }
        if !rule.matches_place(&ticket) {
            continue;
        }
        if rule.when.has_keywords() {
            let (reading, _) = reading.get_or_insert_with(|| {
                let reading = read(set, &set.lexicon, input.content);
                let may_match = set.may_match(&reading);
                (reading, may_match)
            });
            if !rule.matches_keywords(reading, &set.lexicon.cues) {
                continue;
            }
        }
        return Routing::Routed(rule.decide(&ticket, reading.as_ref().map(|(r, _)| r), &set.lexicon.cues));
    }
    Routing::Manual { reason: NO_MATCH.to_string() }
}

pub(super) fn explain(
    set: &RuleSet,
    input: &RoutingInput,
    district: &District,
    emergencies: Emergencies,
) -> Explanation {
    let ticket = Ticket::new(input, district, &set.locator);
    let reading = read(set, &set.lexicon, input.content);
    let cues = &set.lexicon.cues;
    let mut matched: Vec<&Rule> = Vec::new();
    let mut misses: Vec<(usize, RuleMiss)> = Vec::new();
    let mut guarded = Vec::new();
    for (rank, rule) in set.rules.iter().enumerate() {
        if emergencies == Emergencies::Skip && rule.emergency.is_some() {
            continue;
        }
        let (failed, total) = rule.failures(&ticket, &reading, cues, &mut guarded);
        if failed.is_empty() {
            matched.push(rule);
        } else {
            let passed = total - failed.len();
            misses.push((rank, RuleMiss { rule_id: rule.info.id.clone(), failed, passed, total }));
        }
    }
    let near_misses = near_misses(misses);
    let decision = match matched.first() {
        Some(rule) => Routing::Routed(rule.decide(&ticket, Some(&reading), cues)),
        None => Routing::Manual { reason: NO_MATCH.to_string() },
    };
    let local = input.received_at.with_timezone(&FixedOffset::east_opt(SHANGHAI_OFFSET_SECS).expect("valid offset"));
    Explanation {
        version: set.version.clone(),
        received_local: format!(
            "{} {}",
            local.format("%Y-%m-%d %H:%M"),
            WEEKDAYS[local.weekday().num_days_from_monday() as usize]
        ),
        located: ticket.place.located.clone(),
        matched_words: matched.first().map(|r| r.matched_words(&reading, cues)).unwrap_or_default(),
        guarded,
        winner: matched.first().map(|r| r.info.id.clone()),
        matched: matched.iter().map(|r| r.info.id.clone()).collect(),
        near_misses,
        decision,
    }
}

/// The rules that failed on exactly one condition (most conditions passed first, at most
/// `NEAR_MISS_LIMIT`); if fewer than `NEAR_MISS_MIN`, topped up with the rules that passed the
/// most conditions (at least one). Ties keep precedence order.
fn near_misses(misses: Vec<(usize, RuleMiss)>) -> Vec<RuleMiss> {
    let (mut single, mut rest): (Vec<_>, Vec<_>) = misses.into_iter().partition(|(_, m)| m.failed.len() == 1);
    single.sort_by(|(ra, a), (rb, b)| b.passed.cmp(&a.passed).then(ra.cmp(rb)));
    single.truncate(NEAR_MISS_LIMIT);
    if single.len() < NEAR_MISS_MIN {
        rest.retain(|(_, m)| m.passed > 0);
        rest.sort_by(|(ra, a), (rb, b)| {
            b.passed.cmp(&a.passed).then(a.failed.len().cmp(&b.failed.len())).then(ra.cmp(rb))
        });
        rest.truncate(NEAR_MISS_MIN - single.len());
        single.extend(rest);
    }
    single.into_iter().map(|(_, m)| m).collect()
}
