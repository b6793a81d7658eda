//! Reading the content as words, and what a mention must not be (guards).
//!
//! Keywords match the **words** of the content, not its substrings: the content is cut into
//! words by the same segmentation as search (jieba with the district's own words,
//! `dispatch_rules/search_words.txt`), and a keyword occurs only where it starts and ends on a
//! word boundary. 热水器打不着火 is cut 热水器 / 打不着火 (打不着火 is one of the district's
//! words), so the keyword 着火 does not occur in it; 厨房着火了 is 厨房 / 着火 / 了, so it does.
//! A keyword may span several words (水管爆裂 in 水管 / 爆裂 matches as long as it starts and
//! ends on a boundary). A keyword written `A+B` (in rules and phrase lists) needs each part
//! in one sentence, in any order: 塌+坑 matches 马路中间突然塌了一个大坑. A part may list
//! alternatives, `水管|管子+爆|裂`; written thing first and state last, only the state's mention
//! must get past the guards (see [`Phrase::find`]).
//!
//! Boundaries are found lazily: a word's occurrences are cut only when a rule asks about it,
//! each in its blocks (whole when short, a window around the word when a block runs past
//! `WHOLE_BLOCK_CHARS`).
//!
//! # Guards
//! A mention can be about something that is not happening: negated (没有着火), hypothetical or
//! feared (万一起火, 担心食物中毒), past or already handled (去年着火以后…, 电梯困人的事已经处理完了),
//! or a question about a thing (请问灭火器过期了去哪里换). The cue words of each guard are listed
//! in `dispatch_rules/guards.toml`; a guard stops a mention when one of its cues stands in the
//! same clause (the text between two punctuation marks or spaces), except a past-time cue,
//! which sets the time of its whole sentence until a cue of now (现在, 刚才, 又…) resets it:
//! 我爱人上个月生孩子，产后大出血 is told of the past, 上个月修过，现在又塌了 is not.
//!
//! | guard | stops a mention when |
//! | --- | --- |
//! | `negated` | a `before` cue ends at most `within` characters before it, or an `after` cue starts at most `within` after it (味儿都没有) |
//! | `hypothetical` | a `before` cue is before it, or an `after` cue after it (火灾隐患), or a `later` cue anywhere after it (…也不知道真假) |
//! | `past` | a `before` cue is before it in its sentence with no `reset` cue between (上个月塌下去的坑, …到现在没修; one followed by 的 describes a thing, 前两天的雪, and reaches over its own clause only), a `habitual` cue before it in its clause (天天冒烟), an `after` cue after it in its clause (找到了, 处理完了), or a `resolved` cue anywhere after it (水管爆了修好以后…, …现在都好了) |
//! | `question` | an `anywhere` cue is in the clause, or the clause ends with 吗 |
//!
//! Cues are words too (matched on boundaries), and never overlap the mention itself. A rule
//! names its guards with `guards = [...]`; an emergency rule has all four unless it says
//! otherwise. A keyword list matches when one of its keywords has a mention no guard stops.
//! `keywords_none` is the exception on both counts: an exclusion word excludes wherever its
//! characters occur (排烟 also in 排烟口, 工资 also in 月工资) and however it is said.

use std::sync::Arc;

use serde::{Deserialize, Serialize};
use toml::Spanned;

use super::automaton::{fold, AutomatonBuilder, Hits};
use super::Diagnostic;

/// Cuts a text into words, every character in exactly one piece (punctuation included).
/// The server's is `search::segment::Segmenter`: jieba with the district's words.
pub trait WordCutter: Send + Sync {
    fn cut<'t>(&self, text: &'t str) -> Vec<&'t str>;

    /// Calls `word` with each word of `cut(text)` in order; a cutter that can give them
    /// without collecting them first saves routing an allocation per cut.
    fn each_word(&self, text: &str, word: &mut dyn FnMut(&str)) {
        for w in self.cut(text) {
            word(w);
        }
    }
}

/// Every character its own word: keywords match as plain substrings. For rule sets that are
/// only about structure (synthetic load tests, format checks), never for a district's routing.
pub struct EveryCharacter;

impl WordCutter for EveryCharacter {
    fn cut<'t>(&self, text: &'t str) -> Vec<&'t str> {
        text.char_indices().map(|(i, c)| &text[i..i + c.len_utf8()]).collect()
    }
}

/// What a mention must not be.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum Guard {
    Negated,
    Hypothetical,
    Past,
    Question,
}

impl Guard {
    pub const ALL: [Guard; 4] = [Guard::Negated, Guard::Hypothetical, Guard::Past, Guard::Question];

    pub fn as_str(self) -> &'static str {
        match self {
            Guard::Negated => "negated",
            Guard::Hypothetical => "hypothetical",
            Guard::Past => "past",
            Guard::Question => "question",
        }
    }

    /// The guard's name for operators.
    pub fn label(self) -> &'static str {
        match self {
            Guard::Negated => "否定",
            Guard::Hypothetical => "假设/担心",
            Guard::Past => "过去/已处理",
            Guard::Question => "询问",
        }
    }

    pub fn parse(s: &str) -> Option<Guard> {
        Guard::ALL.into_iter().find(|g| g.as_str() == s)
    }

    pub(super) fn bit(self) -> u8 {
        1 << (self as u8)
    }
}

/// A set of guards as bits of [`Guard::bit`].
pub(super) type GuardMask = u8;
pub(super) const ALL_GUARDS: GuardMask = 0b1111;

// Roles of a cue word, as bits (a word may have several).
const NEG_BEFORE: u16 = 1;
const HYP_BEFORE: u16 = 2;
const HYP_AFTER: u16 = 4;
const PAST_BEFORE: u16 = 8;
const PAST_AFTER: u16 = 16;
const QUESTION: u16 = 32;
const PAST_RESET: u16 = 64;
const PAST_HABITUAL: u16 = 128;
const NEG_AFTER: u16 = 256;
const PAST_RESOLVED: u16 = 512;
const HYP_LATER: u16 = 1024;

/// The cue words of every guard (`dispatch_rules/guards.toml`), as read.
#[derive(Debug, Clone, Default)]
pub struct GuardCues {
    /// (normalised word, role bits)
    words: Vec<(String, u16)>,
    /// Characters allowed between a negation and what it negates.
    negation_within: u32,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct RawGuards {
    negated: RawNegated,
    hypothetical: RawBeforeAfter,
    past: RawPast,
    question: RawQuestion,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct RawNegated {
    before: Vec<Spanned<String>>,
    /// Cues that deny what came just before them in the clause (一点味儿都没有).
    #[serde(default)]
    after: Vec<Spanned<String>>,
    within: Spanned<i64>,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct RawBeforeAfter {
    before: Vec<Spanned<String>>,
    #[serde(default)]
    after: Vec<Spanned<String>>,
    /// Cues that what came before was hearsay or a guess (也不知道真假, 听别人说的), which reach
    /// back over everything said before them.
    #[serde(default)]
    later: Vec<Spanned<String>>,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct RawPast {
    before: Vec<Spanned<String>>,
    #[serde(default)]
    after: Vec<Spanned<String>>,
    /// Cues of now that end a past-time cue's reach in its sentence.
    #[serde(default)]
    reset: Vec<Spanned<String>>,
    /// Cues of a habit (天天, 经常), which reach only over their own clause.
    #[serde(default)]
    habitual: Vec<Spanned<String>>,
    /// Cues that the danger is over (修好以后, 现在都好了, 一分没转), which reach back over
    /// everything said before them.
    #[serde(default)]
    resolved: Vec<Spanned<String>>,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct RawQuestion {
    anywhere: Vec<Spanned<String>>,
}

/// The guards file's name in diagnostics.
pub const GUARDS_FILE: &str = "guards.toml";

impl GuardCues {
    /// Reads `guards.toml`; every problem with its line and column.
    pub fn parse(file: &str, source: &str) -> Result<GuardCues, Vec<Diagnostic>> {
        let raw: RawGuards = toml::from_str(source).map_err(|e| vec![Diagnostic::from_toml(file, source, &e)])?;
        let mut diags = Vec::new();
        let mut cues = GuardCues::default();
        let within = *raw.negated.within.get_ref();
        if !(0..=20).contains(&within) {
            diags.push(Diagnostic::at_offset(
                file,
                source,
                raw.negated.within.span().start,
                super::Severity::Error,
                format!("negated.within: {within} is not a number of characters from 0 to 20"),
            ));
        }
        cues.negation_within = within.clamp(0, 20) as u32;
        let lists: [(&str, &[Spanned<String>], u16); 11] = [
            ("negated.before", &raw.negated.before, NEG_BEFORE),
            ("negated.after", &raw.negated.after, NEG_AFTER),
            ("hypothetical.before", &raw.hypothetical.before, HYP_BEFORE),
            ("hypothetical.after", &raw.hypothetical.after, HYP_AFTER),
            ("hypothetical.later", &raw.hypothetical.later, HYP_LATER),
            ("past.before", &raw.past.before, PAST_BEFORE),
            ("past.after", &raw.past.after, PAST_AFTER),
            ("past.reset", &raw.past.reset, PAST_RESET),
            ("past.habitual", &raw.past.habitual, PAST_HABITUAL),
            ("past.resolved", &raw.past.resolved, PAST_RESOLVED),
            ("question.anywhere", &raw.question.anywhere, QUESTION),
        ];
        for (key, list, role) in lists {
            let mut seen: Vec<String> = Vec::new();
            for value in list {
                let word = super::automaton::normalize(value.get_ref());
                let at = value.span().start;
                if word.is_empty() || word.contains('+') {
                    diags.push(Diagnostic::at_offset(
                        file,
                        source,
                        at,
                        super::Severity::Error,
                        format!("{key}: \"{}\" is not a cue word (one word, no `+`)", value.get_ref()),
                    ));
                } else if seen.contains(&word) {
                    diags.push(Diagnostic::at_offset(
                        file,
                        source,
                        at,
                        super::Severity::Warning,
                        format!("{key}: \"{}\" is listed twice", value.get_ref()),
                    ));
                } else {
                    seen.push(word.clone());
                    match cues.words.iter_mut().find(|(w, _)| *w == word) {
                        Some((_, bits)) => *bits |= role,
                        None => cues.words.push((word, role)),
                    }
                }
            }
        }
        if diags.iter().any(|d| d.severity == super::Severity::Error) {
            return Err(diags);
        }
        // Warnings (a word listed twice) are harmless to the result; report them as errors
        // would stop the load, so they are dropped here and found by `check` through `lint`.
        Ok(cues)
    }

    pub fn is_empty(&self) -> bool {
        self.words.is_empty()
    }
}

/// The cues as the rule set's automaton knows them: role bits by word id.
#[derive(Default)]
pub(super) struct CueTable {
    roles: Vec<u16>,
    negation_within: u32,
}

impl CueTable {
    pub fn build(cues: &GuardCues, builder: &mut AutomatonBuilder) -> CueTable {
        let mut table = CueTable { roles: Vec::new(), negation_within: cues.negation_within };
        for (word, roles) in &cues.words {
            let id = builder.intern(word) as usize;
            if table.roles.len() <= id {
                table.roles.resize(id + 1, 0);
            }
            table.roles[id] |= roles;
        }
        table
    }

    fn roles(&self, id: u32) -> u16 {
        self.roles.get(id as usize).copied().unwrap_or(0)
    }
}

/// One occurrence of a word of the automaton on word boundaries, in normalised characters.
#[derive(Debug, Clone, Copy)]
pub(super) struct Occurrence {
    pub id: u32,
    pub start: u32,
    pub end: u32,
}

/// What a reading has found out by cutting: the state of each position (`UNKNOWN_EDGE`, …),
/// and which words were looked for (`known`) and found on boundaries (`present`).
pub(super) struct Cut {
    edges: Vec<u8>,
    present: Hits,
    known: Hits,
}

/// jieba's block characters (its `RE_HAN_DEFAULT`: CJK ideographs, ASCII letters and digits,
/// `+#&._%-`). jieba cuts every maximal run of them on its own and emits every other character
/// as a word by itself, so a run's edges are word boundaries and a run cut alone is cut exactly
/// as within the whole text. `Reading::new` relies on it to cut only the runs that hold a
/// keyword: cutting all of a 300-character content was most of the routing time.
fn in_jieba_block(c: char) -> bool {
    matches!(c,
        '\u{4E00}'..='\u{9FFF}'
        | '\u{3400}'..='\u{4DBF}'
        | '\u{F900}'..='\u{FAFF}'
        | '\u{20000}'..='\u{2A6DF}'
        | '\u{2A700}'..='\u{2EBEF}'
        | '\u{2F800}'..='\u{2FA1F}'
        | 'a'..='z' | 'A'..='Z' | '0'..='9'
        | '+' | '#' | '&' | '.' | '_' | '%' | '-')
}

/// The byte offset where the block holding the character at byte `at` starts, or where a walk
/// back of `BLOCK_WALK` characters stopped: past that, the block is cut in a window anyway,
/// and walking a 300-character block for every word asked about was a tenth of the routing time.
fn block_start(text: &str, at: usize) -> usize {
    let mut start = at;
    for (i, c) in text[..at].char_indices().rev().take(BLOCK_WALK) {
        if !in_jieba_block(c) {
            break;
        }
        start = i;
    }
    start
}

/// The byte offset just past the block holding the character at byte `at`, or where a walk of
/// `BLOCK_WALK` characters past it stopped (see [`block_start`]).
fn block_end(text: &str, at: usize) -> usize {
    let mut chars = text[at..].char_indices();
    let mut end = at + chars.next().map_or(0, |(_, c)| c.len_utf8());
    if !text[at..].starts_with(in_jieba_block) {
        return end;
    }
    for (i, c) in chars.take(BLOCK_WALK) {
        if !in_jieba_block(c) {
            break;
        }
        end = at + i + c.len_utf8();
    }
    end
}

/// What is known of a position between two folded characters.
const UNKNOWN_EDGE: u8 = 0;
const NOT_EDGE: u8 = 1;
const EDGE: u8 = 2;

/// A block longer than this is cut in a window around the word asked about, not whole: jieba's
/// choice at a character depends on a few characters around it, and a 300-character message
/// with no punctuation was most of the routing time.
const WHOLE_BLOCK_CHARS: usize = 64;
/// Characters of context on each side of a word in such a window.
const WINDOW_CONTEXT: usize = 16;
/// How far the block's ends are looked for on each side of a word: a side longer than this
/// makes the block longer than `WHOLE_BLOCK_CHARS` and reaches past `WINDOW_CONTEXT`, so the
/// window is the same as with the block's true ends.
const BLOCK_WALK: usize = WHOLE_BLOCK_CHARS + 1;

/// Cuts `text[start..end]` and records which positions in it are word boundaries, counted in
/// folded characters as `edges` is. The window's own ends are boundaries only where they are
/// a block's ends (`exact_start`, `exact_end`); elsewhere they stay unknown.
#[allow(clippy::too_many_arguments)]
fn cut_window(
    text: &str,
    start: usize,
    end: usize,
    exact_start: bool,
    exact_end: bool,
    byte_at: &[usize],
    cutter: &dyn WordCutter,
    edges: &mut [u8],
) {
    let n = edges.len() - 1;
    let first = byte_at.partition_point(|&b| b < start).min(n);
    let last = byte_at.partition_point(|&b| b < end).min(n);
    for e in &mut edges[first..=last] {
        *e = NOT_EDGE;
    }
    let mut pos = first;
    cutter.each_word(&text[start..end], &mut |piece| {
        pos += piece.chars().filter(|&ch| fold(ch).is_some()).count();
        edges[pos.min(n)] = EDGE;
    });
    edges[first] = if exact_start { EDGE } else { UNKNOWN_EDGE };
    edges[last] = if exact_end { EDGE } else { UNKNOWN_EDGE };
}

/// Characters that end a clause (after folding: full-width ，！？；： are their ASCII forms).
fn ends_clause(c: char) -> bool {
    matches!(c, ',' | '.' | '!' | '?' | ';' | ':' | '。' | '、' | '…' | '～' | '~' | '\n' | '\r')
}

/// Characters that end a sentence.
fn ends_sentence(c: char) -> bool {
    matches!(c, '.' | '!' | '?' | ';' | '。' | '…' | '\n' | '\r')
}

/// The content read once for every rule: which words occur on boundaries, where, and in which
/// clause and sentence.
pub(super) struct Reading<'t> {
    text: &'t str,
    cutter: &'t dyn WordCutter,
    /// Words occurring anywhere, as substrings (what `keywords_none` excludes on).
    pub anywhere: Hits,
    /// Every occurrence as characters, by start; whether one is on word boundaries is found
    /// out when a rule asks (`on_boundaries`), so only the words a candidate rule names are cut.
    raw: Vec<Occurrence>,
    /// Indices into `raw` by word id, then start: each word's occurrences in one run, so asking
    /// about a word does not go through the mentions of all the others (a one-character word
    /// of the phrase lists, 人 or 火, may occur dozens of times).
    by_word: Vec<u32>,
    /// Word boundaries found so far, and the words known to be present.
    cut: std::cell::RefCell<Cut>,
    /// Clause and sentence number of each normalised character.
    clause: Vec<u32>,
    sentence: Vec<u32>,
    /// Byte offset in `text` of each normalised character, and the text's length at the end.
    byte_at: Vec<usize>,
    /// Clauses ending with 吗 (a yes/no question).
    question_clause: Vec<bool>,
}

/// The vectors of a reading, kept by each thread for its next reading: allocating ten of them
/// for every ticket and freeing them again was a tenth of the routing time.
#[derive(Default)]
struct Buffers {
    byte_at: Vec<usize>,
    clause: Vec<u32>,
    sentence: Vec<u32>,
    question_clause: Vec<bool>,
    raw: Vec<Occurrence>,
    by_word: Vec<u32>,
    edges: Vec<u8>,
    anywhere: Vec<u64>,
    present: Vec<u64>,
    known: Vec<u64>,
}

thread_local! {
    /// A stack, so that readings alive at once each have their own.
    static BUFFERS: std::cell::RefCell<Vec<Buffers>> = const { std::cell::RefCell::new(Vec::new()) };
}

/// More buffers than this are not kept (readings are seldom nested).
const BUFFERS_KEPT: usize = 4;

impl Drop for Reading<'_> {
    fn drop(&mut self) {
        let cut = self.cut.get_mut();
        let buffers = Buffers {
            byte_at: std::mem::take(&mut self.byte_at),
            clause: std::mem::take(&mut self.clause),
            sentence: std::mem::take(&mut self.sentence),
            question_clause: std::mem::take(&mut self.question_clause),
            raw: std::mem::take(&mut self.raw),
            by_word: std::mem::take(&mut self.by_word),
            edges: std::mem::take(&mut cut.edges),
            anywhere: std::mem::replace(&mut self.anywhere, Hits::reuse(Vec::new(), 0)).into_bits(),
            present: std::mem::replace(&mut cut.present, Hits::reuse(Vec::new(), 0)).into_bits(),
            known: std::mem::replace(&mut cut.known, Hits::reuse(Vec::new(), 0)).into_bits(),
        };
        // Not kept while the thread is being torn down.
        let _ = BUFFERS.try_with(|kept| {
            if let Ok(mut kept) = kept.try_borrow_mut() {
                if kept.len() < BUFFERS_KEPT {
                    kept.push(buffers);
                }
            }
        });
    }
}

impl<'t> Reading<'t> {
    /// Reads `text`: `scan` finds every automaton word with its start, `cutter` the boundaries.
    pub fn new(
        text: &'t str,
        automaton: &super::automaton::Automaton,
        cutter: &'t dyn WordCutter,
        words: usize,
    ) -> Reading<'t> {
        let Buffers {
            mut byte_at,
            mut clause,
            mut sentence,
            mut question_clause,
            mut raw,
            mut by_word,
            mut edges,
            anywhere,
            present,
            known,
        } = BUFFERS
            .try_with(|kept| kept.try_borrow_mut().ok().and_then(|mut k| k.pop()))
            .ok()
            .flatten()
            .unwrap_or_default();
        byte_at.clear();
        clause.clear();
        sentence.clear();
        question_clause.clear();
        raw.clear();
        by_word.clear();
        edges.clear();
        // Normalised characters with their byte offsets, clause and sentence numbers.
        question_clause.push(false);
        let (mut c, mut s) = (0u32, 0u32);
        let mut last: Option<char> = None;
        let mut broke = true;
        let end_clause = |c: &mut u32, last: Option<char>, question_clause: &mut Vec<bool>| {
            question_clause[*c as usize] = last == Some('吗');
            *c += 1;
            question_clause.push(false);
        };
        for (i, raw) in text.char_indices() {
            match fold(raw) {
                None => {
                    // Whitespace separates clauses as punctuation does ("着火了 快来人").
                    if !broke {
                        end_clause(&mut c, last, &mut question_clause);
                        if raw == '\n' || raw == '\r' {
                            s += 1;
                        }
                        broke = true;
                    }
                }
                Some(ch) => {
                    byte_at.push(i);
                    clause.push(c);
                    sentence.push(s);
                    if ends_clause(ch) {
                        end_clause(&mut c, last, &mut question_clause);
                        if ends_sentence(ch) {
                            s += 1;
                        }
                        broke = true;
                    } else {
                        broke = false;
                        last = Some(ch);
                    }
                }
            }
        }
        if !broke {
            question_clause[c as usize] = last == Some('吗');
        }
        byte_at.push(text.len());

        let mut anywhere = Hits::reuse(anywhere, words);
        automaton.each_match_len(text, |id, start, len| {
            anywhere.set(id);
            raw.push(Occurrence { id, start: start as u32, end: (start + len) as u32 })
        });
        raw.sort_unstable_by_key(|m| (m.start, m.end));
        by_word.extend(0..raw.len() as u32);
        by_word.sort_unstable_by_key(|&i| (raw[i as usize].id, raw[i as usize].start));
        let n = clause.len();
        edges.resize(n + 1, UNKNOWN_EDGE);
        edges[0] = EDGE;
        edges[n] = EDGE;
        let cut = Cut { edges, present: Hits::reuse(present, words), known: Hits::reuse(known, words) };
        Reading {
            text,
            cutter,
            anywhere,
            raw,
            by_word,
            cut: std::cell::RefCell::new(cut),
            clause,
            sentence,
            byte_at,
            question_clause,
        }
    }

    /// Whether `m` starts and ends on word boundaries, cutting the text around it if that is not
    /// known yet: its blocks whole (a keyword may span a space, "ＷｉＦｉ 信号"), or a window of
    /// them when they are long.
    pub fn on_boundaries(&self, m: &Occurrence) -> bool {
        let mut cut = self.cut.borrow_mut();
        if cut.edges[m.start as usize] == UNKNOWN_EDGE || cut.edges[m.end as usize] == UNKNOWN_EDGE {
            let (from, to) = (self.byte_at[m.start as usize], self.byte_at[m.end as usize - 1]);
            let (mut start, mut end) = (block_start(self.text, from), block_end(self.text, to));
            let (first, last) = (m.start as usize, m.end as usize);
            let chars_before = first - self.byte_at.partition_point(|&b| b < start);
            let chars_after = self.byte_at.partition_point(|&b| b < end) - last;
            let (mut exact_start, mut exact_end) = (true, true);
            if chars_before + (last - first) + chars_after > WHOLE_BLOCK_CHARS {
                if chars_before > WINDOW_CONTEXT {
                    start = self.byte_at[first - WINDOW_CONTEXT];
                    exact_start = false;
                }
                if chars_after > WINDOW_CONTEXT {
                    end = self.byte_at[last + WINDOW_CONTEXT];
                    exact_end = false;
                }
            }
            cut_window(self.text, start, end, exact_start, exact_end, &self.byte_at, self.cutter, &mut cut.edges);
        }
        cut.edges[m.start as usize] == EDGE && cut.edges[m.end as usize] == EDGE
    }

    /// Whether word `id` occurs on word boundaries.
    pub fn present(&self, id: u32) -> bool {
        if !self.anywhere.get(id) {
            return false;
        }
        {
            let cut = self.cut.borrow();
            if cut.known.get(id) {
                return cut.present.get(id);
            }
        }
        let present = self.occurrences_of(id).any(|o| self.on_boundaries(o));
        let mut cut = self.cut.borrow_mut();
        cut.known.set(id);
        if present {
            cut.present.set(id);
        }
        present
    }

    /// Every occurrence of word `id` as characters, by start.
    fn occurrences_of(&self, id: u32) -> impl Iterator<Item = &Occurrence> {
        let from = self.by_word.partition_point(|&i| self.raw[i as usize].id < id);
        self.by_word[from..].iter().map(|&i| &self.raw[i as usize]).take_while(move |o| o.id == id)
    }

    /// The ids of the words that occur anywhere (as characters), each once.
    pub fn words_anywhere(&self) -> impl Iterator<Item = u32> + '_ {
        let mut last = None;
        self.by_word.iter().map(|&i| self.raw[i as usize].id).filter(move |&id| last.replace(id) != Some(id))
    }

    /// The occurrences on word boundaries of the words `wanted` picks, by start.
    pub fn occurrences<'a>(&'a self, wanted: impl Fn(u32) -> bool + 'a) -> impl Iterator<Item = Occurrence> + 'a {
        self.raw.iter().filter(move |o| wanted(o.id) && self.on_boundaries(o)).copied()
    }

    /// The guard (and its cue, as written in the content) that stops this mention, if any.
    pub fn stopped_by(&self, m: &Occurrence, guards: GuardMask, cues: &CueTable) -> Option<(Guard, String)> {
        if guards == 0 {
            return None;
        }
        let clause = self.clause[m.start as usize];
        let sentence = self.sentence[m.start as usize];
        let on = |g: Guard| guards & g.bit() != 0;
        // A past-time cue reaches over its sentence, up to the last cue of now before the mention.
        let in_sentence = |c: &Occurrence| self.sentence[c.start as usize] == sentence;
        let past_from = if on(Guard::Past) {
            self.raw
                .iter()
                .filter(|c| c.end <= m.start && in_sentence(c) && cues.roles(c.id) & PAST_RESET != 0)
                .filter(|c| self.on_boundaries(c))
                .map(|c| c.end)
                .max()
                .unwrap_or(0)
        } else {
            0
        };
        // A past-time word that describes a thing (前两天的雪, 去年的坑) says when that thing was,
        // not when what is told after it happens: it stops mentions in its own clause only.
        let describes_a_thing =
            |c: &Occurrence| (c.end as usize) < self.byte_at.len() - 1 && self.slice(c.end, c.end + 1) == "的";
        for cue in &self.raw {
            let roles = cues.roles(cue.id);
            // A cue that the danger is over (修好以后, 现在都好了) or was hearsay (也不知道真假)
            // stops whatever was said before it, in any sentence; every other cue stays in the
            // mention's sentence.
            let later = cue.start >= m.end;
            let resolved = later && on(Guard::Past) && roles & PAST_RESOLVED != 0;
            let hearsay = later && on(Guard::Hypothetical) && roles & HYP_LATER != 0;
            let same_sentence = in_sentence(cue);
            if roles == 0 || !(resolved || hearsay || same_sentence) || !self.on_boundaries(cue) {
                continue;
            }
            let in_clause = self.clause[cue.start as usize] == clause;
            let before = cue.end <= m.start;
            let after = cue.start >= m.end;
            if !before && !after {
                continue;
            }
            let hit = if hearsay {
                Some(Guard::Hypothetical)
            } else if resolved {
                Some(Guard::Past)
            } else if !same_sentence {
                None
            } else if on(Guard::Negated)
                && in_clause
                && ((roles & NEG_BEFORE != 0 && before && m.start - cue.end <= cues.negation_within)
                    || (roles & NEG_AFTER != 0 && after && cue.start - m.end <= cues.negation_within))
            {
                Some(Guard::Negated)
            } else if on(Guard::Hypothetical)
                && in_clause
                && ((roles & HYP_BEFORE != 0 && before) || (roles & HYP_AFTER != 0 && after))
            {
                Some(Guard::Hypothetical)
            } else if on(Guard::Past)
                && ((roles & PAST_BEFORE != 0
                    && before
                    && cue.start >= past_from
                    && (in_clause || !describes_a_thing(cue)))
                    || (in_clause && roles & PAST_HABITUAL != 0 && before)
                    || (in_clause && roles & PAST_AFTER != 0 && after))
            {
                Some(Guard::Past)
            } else if on(Guard::Question) && in_clause && roles & QUESTION != 0 {
                Some(Guard::Question)
            } else {
                None
            };
            if let Some(g) = hit {
                return Some((g, self.slice(cue.start, cue.end).to_string()));
            }
        }
        if on(Guard::Question) && self.question_clause[clause as usize] {
            return Some((Guard::Question, "…吗".to_string()));
        }
        None
    }

    /// Whether two mentions are in one sentence (the parts of an `A+B` keyword must be).
    pub fn same_sentence(&self, a: &Occurrence, b: &Occurrence) -> bool {
        self.sentence[a.start as usize] == self.sentence[b.start as usize]
    }

    /// The content between normalised characters `from` and `to`, as written.
    pub fn slice(&self, from: u32, to: u32) -> &'t str {
        &self.text[self.byte_at[from as usize]..self.byte_at[to as usize]]
    }

    /// The clause a mention stands in, as written and trimmed of its punctuation: what the
    /// operator is shown as "matched".
    pub fn clause_of(&self, m: &Occurrence) -> &'t str {
        let c = self.clause[m.start as usize];
        let first = self.clause.iter().position(|&x| x == c).unwrap_or(0);
        let last = self.clause.iter().rposition(|&x| x == c).map_or(first, |i| i + 1);
        self.slice(first as u32, last as u32).trim_end_matches(|ch: char| ends_clause(fold(ch).unwrap_or(' ')))
    }
}

/// A keyword as matched: one part, or several (`A+B`) that must share a sentence; each part
/// one word or several alternatives (`燃气|煤气+漏|味`: a thing and what it is doing).
#[derive(Debug, Clone, Default)]
pub(super) struct Phrase {
    /// Each part's alternatives (word ids).
    pub parts: Vec<Vec<u32>>,
}

/// What one keyword found in a reading.
pub(super) enum Found {
    /// Mentioned and not stopped: one mention of each part.
    Yes(Vec<Occurrence>),
    /// Every mention was stopped by a guard: the first such, with its cue.
    Stopped(Guard, String, String),
    No,
}

impl Phrase {
    /// A written keyword (normalised): parts joined by `+`, alternatives by `|`.
    pub fn of(written: &str, mut intern: impl FnMut(&str) -> u32) -> Phrase {
        Phrase { parts: written.split('+').map(|part| part.split('|').map(&mut intern).collect()).collect() }
    }

    /// The single word this phrase is, if it is one (the fast path: a bit test).
    pub fn single(&self) -> Option<u32> {
        match self.parts.as_slice() {
            [part] if part.len() == 1 => Some(part[0]),
            _ => None,
        }
    }

    /// Whether every part occurs somewhere, as characters (how `keywords_none` excludes).
    pub fn anywhere(&self, reading: &Reading) -> bool {
        self.parts.iter().all(|alts| alts.iter().any(|&id| reading.anywhere.get(id)))
    }

    /// Whether the phrase occurs, unguarded, in the reading: every part mentioned in one
    /// sentence, the last part unguarded. Phrases are written thing first, state last
    /// (`@火源+@晕`), and the guards ask whether the state is happening: a thing told in the past
    /// with its state said now (昨晚点了个炭盆，今天早上叫不醒) is an emergency now; a thing said
    /// now with its state feared (树歪得厉害，担心刮大风会倒) is not.
    pub fn find(&self, reading: &Reading, guards: GuardMask, cues: &CueTable, shown: &str) -> Found {
        if self.parts.iter().any(|alts| !alts.iter().any(|&id| reading.present(id))) {
            return Found::No;
        }
        let mut stopped: Option<(Guard, String)> = None;
        // Each part's mentions, with whether a guard stops each.
        let mentions = |alts: &[u32], stopped: &mut Option<(Guard, String)>| -> Vec<(Occurrence, bool)> {
            reading
                .occurrences(|id| alts.contains(&id))
                .map(|o| match reading.stopped_by(&o, guards, cues) {
                    None => (o, true),
                    Some(why) => {
                        stopped.get_or_insert(why);
                        (o, false)
                    }
                })
                .collect()
        };
        let first = mentions(&self.parts[0], &mut stopped);
        let rest: Vec<Vec<(Occurrence, bool)>> =
            self.parts[1..].iter().map(|alts| mentions(alts, &mut stopped)).collect();
        let single = rest.is_empty();
        for &(a, a_free) in &first {
            if single && !a_free {
                continue;
            }
            let mut found = vec![a];
            for (i, part) in rest.iter().enumerate() {
                let is_last = i + 1 == rest.len();
                // Another part's mention in the sentence, not the same characters read twice
                // (水管+管 in 水管); an unguarded one if there is one.
                let candidates = || {
                    part.iter().filter(|(b, _)| reading.same_sentence(&a, b) && (b.end <= a.start || b.start >= a.end))
                };
                let unguarded = candidates().find(|(_, free)| *free);
                match if is_last { unguarded } else { unguarded.or_else(|| candidates().next()) } {
                    Some(&(b, _)) => found.push(b),
                    None => break,
                }
            }
            if found.len() == self.parts.len() {
                return Found::Yes(found);
            }
        }
        match stopped {
            Some((g, cue)) => Found::Stopped(g, shown.to_string(), cue),
            None => Found::No,
        }
    }

    /// The words a match was made of, as the content wrote them (`煤气+嘶嘶`), so an operator
    /// sees what was heard rather than a list of alternatives.
    pub fn said(reading: &Reading, mentions: &[Occurrence]) -> String {
        mentions.iter().map(|m| reading.slice(m.start, m.end)).collect::<Vec<_>>().join("+")
    }
}

/// The shared parts of a rule set's reading: the cutter and the cues.
pub(super) struct Lexicon {
    pub cutter: Arc<dyn WordCutter>,
    pub cues: CueTable,
}

/// The curated phrase lists (`dispatch_rules/phrases/NAME.txt`): the common ways residents
/// say one emergency. One phrase a line, `#` starts a comment. A phrase is parts that must
/// share a sentence (`A+B`), each part one word or alternatives (`燃气|煤气`). Most
/// emergencies are a thing in a state (水管 + 爆, 电线 + 地上, 人 + 流血), said in many words
/// for each; a list names those word classes once and combines them:
///
/// ```text
/// @管子 = 水管|管子|总水管|自来水管
/// @破了 = 爆|爆了|裂|裂了|破了
/// @管子+@破了
/// ```
///
/// A class is defined before its first use, in the list that uses it. Returns the phrases
/// with their classes written out (`水管|管子|…+爆|…`), each with its line.
pub fn parse_phrase_list(file: &str, source: &str) -> Result<Vec<(String, usize)>, Vec<Diagnostic>> {
    let mut phrases: Vec<(String, usize)> = Vec::new();
    let mut classes: Vec<(String, String, usize)> = Vec::new();
    let mut used: Vec<bool> = Vec::new();
    let mut diags = Vec::new();
    for (index, raw) in source.lines().enumerate() {
        let line = index + 1;
        let text = raw.split('#').next().unwrap_or("").trim();
        if text.is_empty() {
            continue;
        }
        let column = raw.find(text).map_or(1, |b| raw[..b].chars().count() + 1);
        // `@name = …` defines a class; a line that starts with `@name+…` is a phrase using one.
        if let Some((name, words)) = text.strip_prefix('@').and_then(|d| d.split_once('=')) {
            let (name, words) = (name.trim(), words.trim());
            let alternatives: Vec<&str> = words.split('|').map(str::trim).collect();
            if name.is_empty() || name.contains(['+', '|', '@']) || name.contains(char::is_whitespace) {
                diags.push(Diagnostic::error(file, line, column, format!("\"@{name}\" is not a class name")));
            } else if alternatives.iter().any(|w| super::automaton::normalize(w).is_empty() || w.contains(['+', '@'])) {
                diags.push(Diagnostic::error(
                    file,
                    line,
                    column,
                    format!("@{name}: every word of a class is one word, none empty (`word|word|…`)"),
                ));
            } else if let Some((_, _, first)) = classes.iter().find(|(n, _, _)| n == name) {
                diags.push(Diagnostic::error(
                    file,
                    line,
                    column,
                    format!("@{name} is defined twice; first on line {first}"),
                ));
            } else {
                classes.push((name.to_string(), alternatives.join("|"), line));
                used.push(false);
            }
            continue;
        }
        if let Some(bad) = text.chars().find(|c| c.is_whitespace() || ",，;；=".contains(*c)) {
            diags.push(Diagnostic::error(
                file,
                line,
                column,
                format!(
                    "\"{text}\": one phrase a line, no `{bad}` inside (join parts that must share a sentence with `+`)"
                ),
            ));
            continue;
        }
        let mut expanded_parts = Vec::new();
        let mut unknown = None;
        for part in text.split('+') {
            let mut alternatives = Vec::new();
            for word in part.split('|') {
                match word.strip_prefix('@') {
                    Some(name) => match classes.iter().position(|(n, _, _)| n == name) {
                        Some(i) => {
                            used[i] = true;
                            alternatives.push(classes[i].1.clone());
                        }
                        None => {
                            unknown.get_or_insert_with(|| name.to_string());
                        }
                    },
                    None => alternatives.push(word.to_string()),
                }
            }
            expanded_parts.push(alternatives.join("|"));
        }
        if let Some(name) = unknown {
            let known: Vec<String> = classes.iter().map(|(n, _, _)| format!("@{n}")).collect();
            diags.push(Diagnostic::error(
                file,
                line,
                column,
                format!(
                    "\"{text}\": no word class @{name} defined above this line{}",
                    if known.is_empty() { String::new() } else { format!("; defined: {}", known.join(", ")) }
                ),
            ));
            continue;
        }
        if expanded_parts.iter().any(|p| p.split('|').any(|w| super::automaton::normalize(w).is_empty())) {
            diags.push(Diagnostic::error(file, line, column, format!("\"{text}\": an empty part matches everything")));
            continue;
        }
        let expanded = expanded_parts.join("+");
        let normal = super::automaton::normalize(&expanded);
        if let Some((_, first)) = phrases.iter().find(|(p, _)| super::automaton::normalize(p) == normal) {
            diags.push(Diagnostic::error(
                file,
                line,
                column,
                format!("\"{text}\" is listed twice; first on line {first}"),
            ));
            continue;
        }
        phrases.push((expanded, line));
    }
    for ((name, _, line), used) in classes.iter().zip(&used) {
        if !used {
            diags.push(Diagnostic::error(file, *line, 1, format!("@{name} is defined but no phrase uses it")));
        }
    }
    if phrases.is_empty() && diags.is_empty() {
        diags.push(Diagnostic::error(file, 0, 0, "the phrase list is empty"));
    }
    if diags.is_empty() {
        Ok(phrases)
    } else {
        Err(diags)
    }
}
