//! The dispatch catalogue (派单目录): which department handles a ticket, as data.
//!
//! This module owns the rule files under `dispatch_rules/rules/`: their format, their checks
//! (`hotline rules check`), the routing decision for a ticket (`route`, on the intake hot path)
//! and its explanation (`explain`, for the preview endpoint and `hotline rules explain`). It is
//! pure: the caller reads the files and hands over their names and contents, so reloading is
//! "build a new [`RuleSet`], swap the `Arc`".
//!
//! # A rule
//! ```toml
//! [[rule]]
//! id = "noise-night-construction"
//! description = "夜间施工噪声 → 生态环境局, 城管执法协办"
//! priority = 100
//! [rule.when]                      # every condition written must hold; a missing one means "any"
//! kind = ["complaint", "report"]   # consult help complaint report suggestion praise
//! category = ["04.01"]             # taxonomy prefixes: "04.01" covers 04.01 and all below it
//! keywords_any = ["施工", "打桩"]  # at least one occurs in the content
//! keywords_all = ["夜间"]          # all occur
//! keywords_none = ["装修"]         # none occurs
//! street = ["xinhua"]              # the ticket's street: picked by the operator, else located
//! community = ["xinhua-01"]        # likewise the community
//! channel = ["phone", "web"]       # phone web letter wechat app
//! urgency = ["urgent"]             # normal urgent
//! time = { from = "22:00", to = "06:00" }  # local time of receipt (Asia/Shanghai), [from, to)
//! weekdays = ["sat", "sun"]        # local weekday of receipt (calendar weekdays, not 工作日)
//! [rule.then]
//! lead = "sthj"                    # a department code, or "street-office"
//! assist = ["cgzf"]                # optional; same forms
//! policy = "general"               # an SLA policy name (sla_policies.toml)
//! urgency = "urgent"               # optional override of the ticket's urgency; "urgent" is
//!                                  # warned unless the rule follows the operator's own 紧急
//!                                  # (urgency = ["urgent"] above): propose it with [rule.emergency]
//! ```
//!
//! ```toml
//! # more keys of [rule.when]
//! phrases = ["fire"]               # the curated phrase lists dispatch_rules/phrases/fire.txt …,
//!                                  # matched as more keywords_any
//! guards = ["negated", "past"]     # what a keyword mention must not be (see `words.rs`):
//!                                  # negated hypothetical past question; emergency rules: all four
//! [rule.emergency]                 # the rule PROPOSES urgency; the operator confirms or dismisses
//! label = "起火"                   # shown as 可能紧急: 起火 (matched 厨房起火了)
//! handoff = "119"                  # 119 / 110 / 120: not 12345 work, hand the call over (转接);
//!                                  # left out: a utility emergency, urgent with its lead once confirmed
//! ```
//!
//! Keywords match the **words** of the content (jieba with the district's own words, as search
//! cuts them): a keyword occurs where it starts and ends on a word boundary, so 着火 is not in
//! 打不着火; `A+B` needs both parts in one sentence, `A|B` is either word, and a phrase list
//! may name word classes (`@管子 = 水管|管子`, then `@管子+@破了`). Guards stop mentions that are negated,
//! hypothetical, past or a question (cue words in `dispatch_rules/guards.toml`). The details
//! are in `words.rs`. Keywords and content are compared after normalisation: ASCII and
//! full-width letters are folded to lower-case half-width, and whitespace is ignored, so
//! "ＷｉＦｉ 信号" matches "wifi信号".
//!
//! # Emergency rules
//! An emergency rule never turns a call urgent by itself: when it wins, the decision carries
//! an [`EmergencyProposal`] (what, the clause that said it, the words, the hand-off number) and
//! no urgency. The operator confirms it (urgent, with the rule's lead and policy; or handed
//! off to 119/110/120) or dismisses it, and then the call is routed with the emergency rules
//! left out ([`RuleSet::route_dismissed`]). An emergency rule may not set `urgency`.
//!
//! # The second opinion on urgency
//! The catalogue may hold labelled calls (`examples/*.tsv`, the format of
//! `tests/routing_eval/README.md`; `load` checks every line). From them [`RuleSet::learn`] learns
//! whether a call is urgent and which emergency it is (`learned.rs`). Where no emergency rule
//! proposed anything (and the operator did not mark the call 紧急), a call the learned model is
//! sure of gets the proposal of the catalogue's first emergency rule of that label — its lead,
//! policy and hand-off — under the rule id `learned-urgency`, marked learned with its probability
//! and the words that weighed most. It is only ever added: a rule's proposal and lead stand, and
//! after a dismissal ([`RuleSet::route_dismissed`]) nothing learned is proposed.
//!
//! # Precedence
//! The rules of all files form one list, ordered by
//! 1. `priority`, higher first (default 0);
//! 2. specificity, higher first: the number of conditions written under `[rule.when]`;
//! 3. file name (byte order), then position in the file.
//!
//! The first rule in this order whose conditions all hold wins. A rule whose lead is
//! `street-office` also needs the ticket's street to be known (picked, or located from the
//! address text); without one it does not match and the next rule gets its chance. An assisting
//! `street-office` without a known street is left out of the decision. When no rule matches, the
//! ticket goes to the dispatchers' manual queue (人工派单): a ticket is never silently assigned.
//!
//! # The ticket's place
//! The operator's pick wins: `street`, and `community` (whose street is implied when no street was
//! picked); codes the district does not know count as not picked. Otherwise the address text is
//! located through the regions file, with exactly the rule of [`District::locate`]; if the address
//! names no place, the content is tried, because callers often say where in passing. The decision
//! names the word that located it (`located_by`), so a dispatcher can see why.
//!
//! # Checks
//! `load` rejects (errors): TOML syntax, unknown fields, unknown departments, categories, streets,
//! communities, policies, kinds, channels, urgencies and weekdays; explicitly empty lists (an
//! empty list would match nothing; leave the key out to mean "any"); empty keywords; bad times;
//! duplicate rule ids; a lead also named as assistant; a community outside the rule's streets;
//! unknown guards and phrase lists; an emergency rule without keywords, with `urgency`, or with
//! a hand-off number other than 119/110/120; in `guards.toml` and `phrases/*.txt`, every
//! malformed or repeated line. It warns about phrase lists no rule names.
//! It warns about rules that can never match (contradictory keywords) and rules that can never
//! win because a rule ahead of them matches every ticket they match (the exact criterion is in
//! `lint.rs`). Every diagnostic points at the offending value as `file:line:column`; [`check`]
//! returns them all for `hotline rules check`.
//!
//! # Speed
//! `route` is on the intake path of every ticket. It looks only at the rules that can match the
//! ticket's top-level category; reads a ten-byte summary of each (kind, channel, urgency, weekday,
//! time, needs a street) before touching the rule; checks category and place before keywords;
//! and finds all keywords of the whole set in one pass over the content (an Aho–Corasick automaton
//! built at load), only once some rule gets that far. From then on it looks only at the rules one
//! of whose words occurs (an index from word to rules, also built at load), and cuts the content
//! into words only around the words those rules ask about. Place words are located the same way. A
//! [`RuleSet`] is checked against, and built for, one [`District`]: give `route` that district.
//!
//! # JSON
//! [`Routing`] serialises as `{"outcome": "routed", "rule_id": …, "lead": …, …}` or
//! `{"outcome": "manual", "reason": …}`.

mod automaton;
pub mod evaluation;
pub mod learned;
mod lint;
mod matching;
mod parse;
mod place;
mod synthetic;
#[cfg(test)]
mod tests;
mod words;

use serde::Serialize;
use sha2::{Digest, Sha256};

use super::diagnostic::{line_column, Diagnostic, Severity};
use super::district::{code_is_within, District, Location};

pub use matching::Emergencies;
pub use parse::HANDOFF_NUMBERS;
pub use synthetic::{synthetic, synthetic_tickets, SyntheticTicket};
pub use words::{parse_phrase_list, EveryCharacter, Guard, GuardCues, WordCutter, GUARDS_FILE};

use std::sync::Arc;

/// Ticket kinds a rule may name (诉求类型).
pub const KINDS: [&str; 6] = ["consult", "help", "complaint", "report", "suggestion", "praise"];
/// Intake channels a rule may name (渠道).
pub const CHANNELS: [&str; 5] = ["phone", "web", "letter", "wechat", "app"];
/// Urgencies a rule may name or set (一般 / 紧急).
pub const URGENCIES: [&str; 2] = ["normal", "urgent"];
/// Weekdays, Monday first, as written in `weekdays = [...]`.
pub const WEEKDAYS: [&str; 7] = ["mon", "tue", "wed", "thu", "fri", "sat", "sun"];
/// The lead/assist value meaning "the street office of the ticket's street".
pub const STREET_OFFICE: &str = "street-office";

/// What the rules look at. Enum-like fields are the API's snake_case words (`"complaint"`).
#[derive(Debug, Clone)]
pub struct RoutingInput<'a> {
    pub kind: &'a str,
    pub category: &'a str,
    pub content: &'a str,
    pub address: &'a str,
    /// Street code picked by the operator, if any.
    pub street: Option<&'a str>,
    /// Community code picked by the operator, if any.
    pub community: Option<&'a str>,
    pub channel: &'a str,
    pub urgency: &'a str,
    pub received_at: chrono::DateTime<chrono::Utc>,
}

/// The outcome of routing one ticket.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
#[serde(tag = "outcome", rename_all = "snake_case")]
pub enum Routing {
    Routed(RoutingDecision),
    /// No rule matched: the ticket waits in the dispatchers' queue (人工派单).
    Manual {
        reason: String,
    },
}

impl Routing {
    pub fn decision(&self) -> Option<&RoutingDecision> {
        match self {
            Routing::Routed(d) => Some(d),
            Routing::Manual { .. } => None,
        }
    }
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct RoutingDecision {
    pub rule_id: String,
    /// Department code of the lead (主办); `street-office` already resolved.
    pub lead: String,
    /// Department codes of the assisting departments (协办), resolved, without duplicates.
    pub assist: Vec<String>,
    pub policy: String,
    /// The rule's urgency override, if it has one.
    pub urgency: Option<String>,
    /// The ticket's street: picked, implied by the picked community, or located.
    pub street: Option<String>,
    pub community: Option<String>,
    /// The address (or content) word that located the street, when it was located from text.
    pub located_by: Option<String>,
    /// Set when an emergency rule won: urgency is proposed, not applied.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub emergency: Option<Box<EmergencyProposal>>,
}

/// 可能紧急: what an emergency rule saw, for the operator to confirm or dismiss.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct EmergencyProposal {
    /// The emergency's name (起火, 燃气泄漏 …).
    pub label: String,
    /// 119 / 110 / 120 when the call is to be handed off; `None` for a utility emergency.
    pub handoff: Option<String>,
    /// The clause of the content that said it, as written (厨房起火了).
    pub matched: String,
    /// The keywords (or phrases) found there; for a learned proposal, the words that weighed most.
    pub words: Vec<String>,
    /// Set when no rule proposed it: the labelled calls did (`learned.rs`).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub learned: Option<learned::Learned>,
}

/// A keyword mention a guard stopped, in some rule.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct GuardedMention {
    pub rule_id: String,
    pub word: String,
    pub guard: Guard,
    /// The cue in the content (去年, 万一 …).
    pub cue: String,
}

/// How the rules read the content: the word cutter, the guards' cue words, the phrase lists.
pub struct Vocabulary {
    pub cutter: Arc<dyn WordCutter>,
    /// `guards.toml` as (file name, contents); `None`: no cue words, so guards stop nothing.
    pub guards: Option<(String, String)>,
    /// `phrases/NAME.txt` as (file name, contents); a rule names a list by `NAME`.
    pub phrase_lists: Vec<(String, String)>,
    /// `examples/NAME.tsv` as (file name, contents): calls labelled by the centre's dispatchers,
    /// from which the second opinion on urgency learns (`learned.rs`); none, and the emergency
    /// rules alone propose.
    pub examples: Vec<(String, String)>,
}

impl Vocabulary {
    /// Every character a word, no guards, no phrase lists: for rule sets about structure only
    /// (synthetic load tests), never a district's routing.
    pub fn plain() -> Vocabulary {
        Vocabulary { cutter: Arc::new(EveryCharacter), guards: None, phrase_lists: Vec::new(), examples: Vec::new() }
    }
}

/// Everything `explain` found out: the place, every matching rule, the near misses.
#[derive(Debug, Clone, Serialize)]
pub struct Explanation {
    /// The rules version that produced this explanation.
    pub version: String,
    /// Time of receipt in Asia/Shanghai, as the time conditions saw it ("2026-11-22 23:05 sun").
    pub received_local: String,
    /// The place located from the address (or content) text; `None` when the operator picked it
    /// or nothing was found.
    pub located: Option<Location>,
    /// The keywords the winner matched on, as written.
    pub matched_words: Vec<String>,
    /// Every keyword mention a guard stopped (negated, hypothetical, past, question), by rule.
    pub guarded: Vec<GuardedMention>,
    pub winner: Option<String>,
    /// Ids of all matching rules, in precedence order (the winner first).
    pub matched: Vec<String>,
    /// Rules that failed on exactly one condition (up to [`NEAR_MISS_LIMIT`]); when there are
    /// fewer than [`NEAR_MISS_MIN`], topped up with the rules that passed the most conditions.
    pub near_misses: Vec<RuleMiss>,
    pub decision: Routing,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct RuleMiss {
    pub rule_id: String,
    /// One sentence per failed condition, starting with the condition's key.
    pub failed: Vec<String>,
    pub passed: usize,
    pub total: usize,
}

/// At most this many one-condition misses are listed.
pub const NEAR_MISS_LIMIT: usize = 10;
/// Fewer one-condition misses than this are topped up with the closest other rules.
pub const NEAR_MISS_MIN: usize = 5;

/// Where a rule was written, for listings and statistics.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct RuleInfo {
    pub id: String,
    pub description: String,
    pub priority: i64,
    pub specificity: usize,
    pub file: String,
    pub line: usize,
}

/// A loaded, checked, immutable rule set. Cheap to share behind an `Arc`.
pub struct RuleSet {
    version: String,
    /// In precedence order: index = rank.
    rules: Vec<matching::Rule>,
    /// Every keyword of every rule.
    keywords: automaton::Automaton,
    /// `Quick` conditions by rank.
    quick: Vec<matching::Quick>,
    /// The district's place words.
    locator: place::Locator,
    /// Ranks of the rules that can match a category whose first segment is the key.
    by_root: std::collections::HashMap<String, Vec<u32>>,
    /// Ranks of the rules without a category condition (the candidates for other categories).
    uncategorised: Vec<u32>,
    /// By word id, the ranks of the rules a mention of that word may let through their keyword
    /// conditions (`matching::Rule::needs_one_of`), as one list: word `id`'s ranks are
    /// `rules_by_word[rules_by_word_start[id]..rules_by_word_start[id + 1]]`.
    rules_by_word_start: Vec<u32>,
    rules_by_word: Vec<u32>,
    /// Ranks of the rules that need no word to occur (no `keywords_any`, no `keywords_all`).
    need_no_word: automaton::Hits,
    /// How the content is read.
    lexicon: words::Lexicon,
    /// The second opinion on urgency learned from the centre's labelled calls (none learned:
    /// the emergency rules alone propose).
    learned: learned::LearnedUrgency,
}

impl std::fmt::Debug for RuleSet {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("RuleSet")
            .field("version", &self.version)
            .field("rules", &self.rules.len())
            .field("keywords", &self.keywords.len())
            .finish()
    }
}

impl RuleSet {
    /// Parses and checks the rule files. `files` are (file name, contents) in any order;
    /// `policies` are the SLA policy names that exist. `Ok` carries the warnings, `Err` every
    /// diagnostic (errors and warnings), sorted by file and line.
    pub fn load(
        files: &[(String, String)],
        vocabulary: &Vocabulary,
        district: &District,
        policies: &[&str],
    ) -> Result<(RuleSet, Vec<Diagnostic>), Vec<Diagnostic>> {
        let mut files: Vec<&(String, String)> = files.iter().collect();
        files.sort_by(|a, b| a.0.cmp(&b.0));

        let mut diags = Vec::new();
        let cues = match &vocabulary.guards {
            Some((name, source)) => GuardCues::parse(name, source).unwrap_or_else(|d| {
                diags.extend(d);
                GuardCues::default()
            }),
            None => GuardCues::default(),
        };
        let mut lists = parse::PhraseLists::default();
        for (name, source) in &vocabulary.phrase_lists {
            match parse_phrase_list(name, source) {
                Ok(phrases) => lists.add(name, phrases),
                Err(d) => diags.extend(d),
            }
        }
        let mut parsed = Vec::new();
        for (file_index, (name, source)) in files.iter().enumerate() {
            parse::parse_file(name, source, file_index, district, policies, &lists, &mut parsed, &mut diags);
        }
        lists.unused(&mut diags);
        parse::check_duplicate_ids(&parsed, &mut diags);
        let examples = learned::parse_examples(&vocabulary.examples, district, &mut diags);
        if diags.iter().any(|d| d.severity == Severity::Error) {
            sort_diagnostics(&mut diags);
            return Err(diags);
        }

        let mut versioned = files.clone();
        versioned.extend(vocabulary.guards.iter());
        versioned.extend(vocabulary.phrase_lists.iter());
        versioned.extend(vocabulary.examples.iter());
        let mut set = RuleSet::build(version_of(&versioned), parsed, district, &cues, vocabulary.cutter.clone());
        set.learn(&examples);
        if cues.is_empty() && set.rules.iter().any(|r| r.when.guards != 0) {
            diags.push(Diagnostic::warning(
                GUARDS_FILE,
                0,
                0,
                "rules name guards, but no guards file gives their cue words: they stop nothing",
            ));
        }
        lint::lint(&set, district, &mut diags);
        if set.rules.is_empty() {
            diags.push(Diagnostic::warning("", 0, 0, "no dispatch rules: every ticket goes to manual dispatch"));
        }
        sort_diagnostics(&mut diags);
        Ok((set, diags))
    }

    /// Hex SHA-256 over the files' names and contents in name order; tickets record it.
    pub fn version(&self) -> &str {
        &self.version
    }

    pub fn len(&self) -> usize {
        self.rules.len()
    }

    pub fn is_empty(&self) -> bool {
        self.rules.is_empty()
    }

    /// The rules in precedence order.
    pub fn rules(&self) -> impl Iterator<Item = &RuleInfo> {
        self.rules.iter().map(|r| &r.info)
    }

    /// A rule by id; also the learned second opinion's id (`learned::LEARNED_RULE_ID`), which
    /// tickets and statistics carry as a rule's, so that it is described wherever a rule is.
    pub fn rule(&self, id: &str) -> Option<&RuleInfo> {
        self.rules.iter().map(|r| &r.info).find(|r| r.id == id).or_else(|| {
            static LEARNED: std::sync::LazyLock<RuleInfo> = std::sync::LazyLock::new(|| RuleInfo {
                id: learned::LEARNED_RULE_ID.to_string(),
                description: "按历史来电判断的可能紧急: 没有紧急规则命中, 由已标注来电学得".to_string(),
                priority: 0,
                specificity: 0,
                file: learned::EXAMPLES_DIR.to_string(),
                line: 0,
            });
            (id == learned::LEARNED_RULE_ID).then(|| &*LEARNED)
        })
    }

    /// The routing decision for one ticket (the intake hot path). An emergency rule that wins
    /// proposes; see [`RoutingDecision::emergency`].
    pub fn route(&self, input: &RoutingInput, district: &District) -> Routing {
        self.with_learned_urgency(matching::route(self, input, district, Emergencies::Propose), input, district)
    }

    /// The decision once the operator dismissed an emergency proposal: emergency rules left out.
    pub fn route_dismissed(&self, input: &RoutingInput, district: &District) -> Routing {
        matching::route(self, input, district, Emergencies::Skip)
    }

    /// The decision plus every matching rule and the near misses, with reasons.
    pub fn explain(&self, input: &RoutingInput, district: &District) -> Explanation {
        let mut explanation = matching::explain(self, input, district, Emergencies::Propose);
        explanation.decision = self.with_learned_urgency(explanation.decision, input, district);
        explanation
    }

    /// As [`RuleSet::explain`], with emergency rules left out (after a dismissal).
    pub fn explain_dismissed(&self, input: &RoutingInput, district: &District) -> Explanation {
        matching::explain(self, input, district, Emergencies::Skip)
    }

    /// The emergency label and hand-off number of a rule, if it is an emergency rule.
    pub fn emergency_of(&self, rule_id: &str) -> Option<(&str, Option<&str>)> {
        self.rules
            .iter()
            .find(|r| r.info.id == rule_id)
            .and_then(|r| r.emergency.as_ref())
            .map(|e| (e.label.as_str(), e.handoff.as_deref()))
    }

    fn build(
        version: String,
        mut parsed: Vec<matching::Rule>,
        district: &District,
        cues: &GuardCues,
        cutter: Arc<dyn WordCutter>,
    ) -> RuleSet {
        // Precedence: priority, then specificity, then file, then position; see the module doc.
        parsed.sort_by(|a, b| {
            b.info
                .priority
                .cmp(&a.info.priority)
                .then(b.info.specificity.cmp(&a.info.specificity))
                .then(a.file_index.cmp(&b.file_index))
                .then(a.ordinal.cmp(&b.ordinal))
        });
        let mut keywords = automaton::AutomatonBuilder::default();
        for rule in &mut parsed {
            rule.intern_keywords(&mut keywords);
        }
        let cue_table = words::CueTable::build(cues, &mut keywords);
        let mut by_root: std::collections::HashMap<String, Vec<u32>> = Default::default();
        let mut uncategorised = Vec::new();
        for rule in &parsed {
            if let Some(categories) = &rule.when.category {
                for prefix in categories {
                    by_root.entry(category_root(prefix).to_string()).or_default();
                }
            }
        }
        for (rank, rule) in parsed.iter().enumerate() {
            let rank = rank as u32;
            match &rule.when.category {
                None => {
                    uncategorised.push(rank);
                    by_root.values_mut().for_each(|list| list.push(rank));
                }
                Some(categories) => {
                    for prefix in categories {
                        let list = by_root.get_mut(category_root(prefix)).expect("root registered above");
                        if list.last() != Some(&rank) {
                            list.push(rank);
                        }
                    }
                }
            }
        }
        let keywords = keywords.build();
        let mut need_no_word = automaton::Hits::with_capacity(parsed.len());
        let mut by_word: Vec<Vec<u32>> = vec![Vec::new(); keywords.len()];
        for (rank, rule) in parsed.iter().enumerate() {
            match rule.needs_one_of() {
                None => need_no_word.set(rank as u32),
                Some(ids) => {
                    for id in ids {
                        let ranks = &mut by_word[id as usize];
                        if ranks.last() != Some(&(rank as u32)) {
                            ranks.push(rank as u32);
                        }
                    }
                }
            }
        }
        let mut rules_by_word_start = Vec::with_capacity(by_word.len() + 1);
        let mut rules_by_word = Vec::new();
        for ranks in &by_word {
            rules_by_word_start.push(rules_by_word.len() as u32);
            rules_by_word.extend_from_slice(ranks);
        }
        rules_by_word_start.push(rules_by_word.len() as u32);
        RuleSet {
            version,
            quick: parsed.iter().map(matching::Quick::of).collect(),
            rules: parsed,
            keywords,
            locator: place::Locator::new(district),
            by_root,
            uncategorised,
            rules_by_word_start,
            rules_by_word,
            need_no_word,
            lexicon: words::Lexicon { cutter, cues: cue_table },
            learned: learned::LearnedUrgency::default(),
        }
    }

    /// Learns the second opinion on urgency from labelled calls, replacing what was learned
    /// before (the benchmark learns without the set it measures; no calls, no second opinion).
    pub fn learn(&mut self, examples: &[evaluation::Case]) {
        let words: Vec<Vec<&str>> = examples.iter().map(|c| self.lexicon.cutter.cut(&c.content)).collect();
        self.learned = learned::LearnedUrgency::learn(examples, &words);
    }

    /// How many labelled calls the second opinion on urgency learned from.
    pub fn learned_from(&self) -> usize {
        self.learned.examples()
    }

    /// A decision with no emergency proposal, given one where the labelled calls are sure the
    /// call is urgent (`learned.rs`): the proposal of the catalogue's first emergency rule of
    /// the learned label (its lead, policy and hand-off, not its assistants), marked as learned.
    /// An operator who said 紧急 is asked nothing more.
    fn with_learned_urgency(&self, routing: Routing, input: &RoutingInput, district: &District) -> Routing {
        let proposed = routing.decision().is_some_and(|d| d.emergency.is_some() || d.urgency.is_some());
        if proposed || input.urgency == "urgent" || self.learned.examples() == 0 {
            return routing;
        }
        let words = self.lexicon.cutter.cut(input.content);
        let Some(guess) = self.learned.guess(input.category, input.kind, &words) else { return routing };
        let Some(rule) = self.rules.iter().find(|r| r.emergency.as_ref().is_some_and(|e| e.label == guess.label))
        else {
            return routing;
        };
        let ticket = matching::Ticket::new(input, district, &self.locator);
        let Some(mut decision) = rule.decide_learned(&ticket, &self.lexicon.cues) else { return routing };
        let emergency = rule.emergency.as_ref().expect("found by its emergency");
        decision.rule_id = learned::LEARNED_RULE_ID.to_string();
        // A rule's assistants answer what its words said (劳动监察 beside 扬言极端 for unpaid wages);
        // the learning saw none of that, so its proposal names the lead alone.
        decision.assist.clear();
        decision.emergency = Some(Box::new(EmergencyProposal {
            label: emergency.label.clone(),
            handoff: emergency.handoff.clone(),
            matched: guess.evidence.join("、"),
            words: guess.evidence,
            learned: Some(learned::Learned {
                percent: (guess.probability * 100.0).floor() as u8,
                examples: self.learned.examples(),
            }),
        }));
        Routing::Routed(decision)
    }

    /// Rank-ordered candidate rules for a ticket category.
    fn candidates(&self, category: &str) -> &[u32] {
        self.by_root.get(category_root(category)).unwrap_or(&self.uncategorised)
    }

    /// The ranks of the rules whose keyword conditions can hold in this reading: those that
    /// need no word, and those one of whose words occurs in it (as characters).
    fn may_match(&self, reading: &words::Reading) -> automaton::Hits {
        let mut ranks = self.need_no_word.clone();
        for id in reading.words_anywhere() {
            let (from, to) = (self.rules_by_word_start[id as usize], self.rules_by_word_start[id as usize + 1]);
            for &rank in &self.rules_by_word[from as usize..to as usize] {
                ranks.set(rank);
            }
        }
        ranks
    }
}

/// Every diagnostic for a set of rule files, errors and warnings alike, in file and line order
/// (`hotline rules check`: exit non-zero when any is an error, or, strictly, when any exists).
pub fn check(
    files: &[(String, String)],
    vocabulary: &Vocabulary,
    district: &District,
    policies: &[&str],
) -> Vec<Diagnostic> {
    match RuleSet::load(files, vocabulary, district, policies) {
        Ok((_, warnings)) => warnings,
        Err(diagnostics) => diagnostics,
    }
}

/// The top-level segment of a dotted category code ("03.02.01" → "03").
fn category_root(code: &str) -> &str {
    code.split('.').next().unwrap_or(code)
}

/// Each file contributes its name, a NUL, its length in bytes, a NUL and its contents, so no
/// two different file sets hash the same input.
fn version_of(files: &[&(String, String)]) -> String {
    let mut hasher = Sha256::new();
    for (name, source) in files {
        hasher.update(name.as_bytes());
        hasher.update([0]);
        hasher.update(source.len().to_string().as_bytes());
        hasher.update([0]);
        hasher.update(source.as_bytes());
    }
    hex::encode(hasher.finalize())
}

fn sort_diagnostics(diags: &mut [Diagnostic]) {
    diags.sort_by(|a, b| (&a.file, a.line, a.column).cmp(&(&b.file, b.line, b.column)));
}
