//! Likely duplicates (并单 suggestions): how much an open ticket looks like the call being
//! typed, and why. Pure: the caller finds the candidates and segments the words.
//!
//! Each sign adds to the score (capped at 1): the same caller, the same place (estate, then
//! community, then street), similar words, the same category. A suggestion needs a score of
//! at least [`MIN_SCORE`]; the reasons are shown to the operator in Chinese, each with the
//! points it added, so the score explains itself.
//!
//! Being shown is not being offered a merge (并单): a merge joins two tickets about one
//! problem, so it is offered only when the problem matches — the same category or similar
//! words ([`Suggestion::mergeable`]). The same caller or the same place alone shows the
//! earlier ticket (the caller may well be calling about it) but never offers to merge: a
//! resident's street-light call is not their garbage complaint.

use super::district::Location;
use super::ticket::Ticket;
use std::collections::BTreeSet;

pub const SAME_CALLER: f64 = 0.45;
pub const SAME_ESTATE: f64 = 0.30;
pub const SAME_COMMUNITY: f64 = 0.20;
pub const SAME_STREET: f64 = 0.10;
/// Multiplied by the word overlap (0–1).
pub const TEXT: f64 = 0.40;
pub const SAME_CATEGORY: f64 = 0.15;
/// Word overlap from which the text counts as a reason of its own.
pub const TEXT_REASON: f64 = 0.30;
pub const MIN_SCORE: f64 = 0.35;
/// Suggestions shown at most.
pub const MAX_SUGGESTIONS: usize = 10;

// The lookup (`search::similar`) relies on these: without shared words only the same caller
// or the same community (estate) can make a suggestion, never the street and the category
// together, so tickets sharing only those are found by their words. Changing the weights so
// that they could means looking those tickets up too.
const _: () = assert!(SAME_CALLER >= MIN_SCORE);
const _: () = assert!(SAME_COMMUNITY + SAME_CATEGORY >= MIN_SCORE);
const _: () = assert!(SAME_STREET + SAME_CATEGORY < MIN_SCORE);

/// Words a call's text candidates are looked up by, at most: its rarest.
pub const QUERY_WORDS: usize = 6;
/// Words this common in general Chinese (希望, 解决, 处理, 尽快, 物业 …) are in most complaints:
/// looking candidates up by them returned much of the index (and ranking it cost seconds at
/// a million tickets) without finding the same problem.
pub const EVERYDAY_IDF: f64 = 7.0;
/// A word in more than this share of the centre's recent tickets is the centre's everyday
/// word (来电 from 来电人要求回复, 小区, 住户), whatever general Chinese says of it.
pub const LOCAL_EVERYDAY_SHARE: f64 = 0.05;

/// How rare a word of the call is: its share of the centre's recent tickets, and its IDF in
/// general Chinese.
#[derive(Debug, Clone, Copy)]
pub struct WordRarity<'a> {
    pub word: &'a str,
    pub local_share: f64,
    pub idf: f64,
}

/// The words to look text candidates up by: the call's rarest, leaving out everyday words
/// (in general Chinese or in this centre), single characters and numbers (house numbers;
/// the place is compared apart). Rarest in the centre first, then in general Chinese.
pub fn lookup_words<'a>(words: impl IntoIterator<Item = WordRarity<'a>>) -> Vec<String> {
    let mut rated: Vec<WordRarity> = words
        .into_iter()
        .filter(|r| r.word.chars().count() > 1 && !r.word.chars().all(|c| c.is_ascii_digit()))
        .filter(|r| r.idf >= EVERYDAY_IDF && r.local_share <= LOCAL_EVERYDAY_SHARE)
        .collect();
    rated
        .sort_by(|a, b| a.local_share.total_cmp(&b.local_share).then(b.idf.total_cmp(&a.idf)).then(a.word.cmp(b.word)));
    rated.into_iter().take(QUERY_WORDS).map(|r| r.word.to_string()).collect()
}

/// What is known of the call being typed.
#[derive(Debug, Clone, Default)]
pub struct Probe {
    pub phone: Option<String>,
    /// Distinct words of the content (segmented).
    pub words: BTreeSet<String>,
    pub location: Option<Location>,
    pub category: Option<String>,
}

/// An open ticket with its words and where its address points.
#[derive(Debug, Clone)]
pub struct Candidate<'a> {
    pub ticket: &'a Ticket,
    pub words: BTreeSet<String>,
    pub location: Option<Location>,
}

#[derive(Debug, Clone, PartialEq)]
pub struct Suggestion {
    pub ticket_id: i64,
    pub score: f64,
    pub reasons: Vec<&'static str>,
    /// What each reason added to the score (0–1), in the order of `reasons`.
    pub points: Vec<f64>,
    /// The problem matches (same category or similar words): a merge may be offered.
    pub mergeable: bool,
}

/// How many of the shorter text's words the other has (0–1). Single characters are left
/// out: 的, 了, 在 … are in every complaint and say nothing about the problem.
pub fn word_overlap(a: &BTreeSet<String>, b: &BTreeSet<String>) -> f64 {
    let meaningful =
        |s: &BTreeSet<String>| s.iter().filter(|w| w.chars().count() > 1).cloned().collect::<BTreeSet<_>>();
    let (a, b) = (meaningful(a), meaningful(b));
    let smaller = a.len().min(b.len());
    if smaller == 0 {
        return 0.0;
    }
    a.intersection(&b).count() as f64 / smaller as f64
}

/// The place a ticket is at: its recorded street and community, and the estate word its
/// address names.
fn place_score(probe: &Location, ticket: &Ticket, located: Option<&Location>) -> Option<(f64, &'static str)> {
    let estate = located.filter(|l| l.community.is_some()).map(|l| l.matched_word.as_str());
    let community = ticket.community.as_deref().or(located.and_then(|l| l.community.as_deref()));
    let street = ticket.street.as_deref().or(located.map(|l| l.street.as_str()));
    if probe.community.is_some() && estate == Some(probe.matched_word.as_str()) {
        Some((SAME_ESTATE, "同一小区"))
    } else if probe.community.is_some() && community == probe.community.as_deref() {
        Some((SAME_COMMUNITY, "同一社区"))
    } else if street == Some(probe.street.as_str()) {
        Some((SAME_STREET, "同一街道"))
    } else {
        None
    }
}

/// The score of one candidate, or `None` when it is not worth showing.
pub fn score(probe: &Probe, candidate: &Candidate) -> Option<Suggestion> {
    let t = candidate.ticket;
    let mut score = 0.0;
    let mut reasons = Vec::new();
    let mut points = Vec::new();
    let mut mergeable = false;
    let mut add = |p: f64, reason| {
        score += p;
        reasons.push(reason);
        points.push((p * 100.0).round() / 100.0);
    };
    if probe.phone.as_deref().is_some_and(|p| !p.is_empty() && p == t.caller_phone) {
        add(SAME_CALLER, "同一来电人");
    }
    if let Some((s, reason)) = probe.location.as_ref().and_then(|l| place_score(l, t, candidate.location.as_ref())) {
        add(s, reason);
    }
    let overlap = word_overlap(&probe.words, &candidate.words);
    // A few shared words are no sign of the same problem and count nothing: the score is
    // the sum of the reasons shown.
    if overlap >= TEXT_REASON {
        add(TEXT * overlap, "内容相似");
        mergeable = true;
    }
    if probe.category.as_deref().is_some_and(|c| c == t.category) {
        add(SAME_CATEGORY, "同一类别");
        mergeable = true;
    }
    let score = (score.min(1.0) * 100.0).round() / 100.0;
    (score >= MIN_SCORE && !reasons.is_empty()).then_some(Suggestion {
        ticket_id: t.id,
        score,
        reasons,
        points,
        mergeable,
    })
}

/// The best suggestions, highest score first (newer first among equals).
pub fn rank(probe: &Probe, candidates: &[Candidate]) -> Vec<Suggestion> {
    let mut out: Vec<(Suggestion, chrono::DateTime<chrono::Utc>)> =
        candidates.iter().filter_map(|c| score(probe, c).map(|s| (s, c.ticket.created_at))).collect();
    out.sort_by(|a, b| b.0.score.total_cmp(&a.0.score).then(b.1.cmp(&a.1)).then(b.0.ticket_id.cmp(&a.0.ticket_id)));
    out.dedup_by_key(|(s, _)| s.ticket_id);
    out.into_iter().take(MAX_SUGGESTIONS).map(|(s, _)| s).collect()
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::domain::event::{ActorRef, Event, EventKind, Received};
    use crate::domain::types::{Channel, Kind, Role, Urgency};

    fn ticket(id: i64, phone: &str, street: &str, community: Option<&str>, category: &str) -> Ticket {
        let received = Received {
            number: format!("20261122-{id:06}"),
            kind: Kind::Complaint,
            channel: Channel::Phone,
            urgency: Urgency::Normal,
            category: category.into(),
            street: Some(street.into()),
            community: community.map(String::from),
            address: String::new(),
            content: String::new(),
            caller_name: String::new(),
            caller_phone: phone.into(),
            confidential: false,
            callback_consent: true,
            call_id: None,
        };
        let actor = ActorRef { user_id: 1, username: "op".into(), role: Role::Operator, department: None };
        let at = chrono::DateTime::parse_from_rfc3339("2026-11-22T09:00:00+08:00").unwrap().to_utc()
            + chrono::Duration::minutes(id);
        crate::domain::ticket::apply(
            None,
            &Event { seq: id, ticket_id: id, at, actor, kind: EventKind::Received(received) },
        )
    }

    fn words(list: &[&str]) -> BTreeSet<String> {
        list.iter().map(|w| w.to_string()).collect()
    }

    fn place(street: &str, community: Option<&str>, word: &str) -> Location {
        Location { street: street.into(), community: community.map(String::from), matched_word: word.into() }
    }

    #[test]
    fn same_caller_same_estate_same_words_is_almost_certain() {
        let t = ticket(1, "13812345678", "s1", Some("c1"), "03.02.01");
        let probe = Probe {
            phone: Some("13812345678".into()),
            words: words(&["垃圾", "清运", "及时"]),
            location: Some(place("s1", Some("c1"), "长青苑")),
            category: Some("03.02.01".into()),
        };
        let c = Candidate {
            ticket: &t,
            words: words(&["清运", "垃圾", "及时", "的"]),
            location: Some(place("s1", Some("c1"), "长青苑")),
        };
        let s = score(&probe, &c).unwrap();
        assert_eq!(s.score, 1.0);
        assert_eq!(s.reasons, ["同一来电人", "同一小区", "内容相似", "同一类别"]);
    }

    #[test]
    fn a_neighbour_with_the_same_problem_is_suggested_a_stranger_elsewhere_is_not() {
        let neighbour = ticket(2, "13900000000", "s1", Some("c1"), "03.02.01");
        let elsewhere = ticket(3, "13700000000", "s9", None, "05.01.01");
        let probe = Probe {
            phone: Some("13812345678".into()),
            words: words(&["垃圾", "清运", "及时"]),
            location: Some(place("s1", Some("c1"), "长青苑")),
            category: Some("03.02.01".into()),
        };
        let same_words = words(&["垃圾", "清运"]);
        let candidates = [
            Candidate {
                ticket: &neighbour,
                words: same_words.clone(),
                location: Some(place("s1", Some("c1"), "长青苑")),
            },
            Candidate { ticket: &elsewhere, words: words(&["路灯", "不亮"]), location: None },
        ];
        let ranked = rank(&probe, &candidates);
        assert_eq!(ranked.len(), 1);
        assert_eq!(ranked[0].ticket_id, 2);
        assert_eq!(ranked[0].reasons, ["同一小区", "内容相似", "同一类别"]);
        assert_eq!(ranked[0].score, 0.85);
    }

    #[test]
    fn the_same_caller_alone_shows_the_earlier_ticket_but_offers_no_merge() {
        // The caller's garbage complaint while a street light is being typed: shown, since
        // they may call about it, but not the same problem.
        let garbage = ticket(6, "13812345678", "s1", Some("c1"), "01.01.01");
        let probe = Probe {
            phone: Some("13812345678".into()),
            words: words(&["路灯", "不亮", "小区", "晚上"]),
            location: None,
            category: Some("01.02.03".into()),
        };
        let c = Candidate { ticket: &garbage, words: words(&["垃圾", "清运", "小区", "门口"]), location: None };
        let s = score(&probe, &c).unwrap();
        assert_eq!(s.reasons, ["同一来电人"]);
        assert_eq!(s.score, 0.45, "a shared everyday word adds nothing unexplained");
        assert!(!s.mergeable, "the same caller alone is no reason to merge: {s:?}");
        // The same caller about the same kind of problem may be merged, and the score says why.
        let lights = ticket(7, "13812345678", "s1", Some("c1"), "01.02.03");
        let c = Candidate { ticket: &lights, words: words(&["路灯", "不亮"]), location: None };
        let s = score(&probe, &c).unwrap();
        assert!(s.mergeable);
        assert_eq!(s.reasons, ["同一来电人", "内容相似", "同一类别"]);
        assert_eq!(s.points, [0.45, 0.4, 0.15]);
    }

    #[test]
    fn the_same_street_alone_is_too_little() {
        let t = ticket(4, "13900000000", "s1", None, "01.01.01");
        let probe = Probe { location: Some(place("s1", None, "长青路")), ..Probe::default() };
        let c = Candidate { ticket: &t, words: BTreeSet::new(), location: None };
        assert_eq!(score(&probe, &c), None);
        // The same community counts more than the street, less than the estate.
        let t = ticket(5, "13900000000", "s1", Some("c1"), "01.01.01");
        let probe = Probe {
            location: Some(place("s1", Some("c1"), "长青苑")),
            category: Some("01.01.01".into()),
            ..Probe::default()
        };
        let c =
            Candidate { ticket: &t, words: BTreeSet::new(), location: Some(place("s1", Some("c1"), "长青社区")) };
        assert_eq!(score(&probe, &c).unwrap().reasons, ["同一社区", "同一类别"]);
    }

    #[test]
    fn the_rarest_words_are_looked_up_and_everyday_words_not() {
        let rate = |word, local_share, idf| WordRarity { word, local_share, idf };
        let words = [
            rate("希望", 0.0, 5.2),
            rate("来电", 0.32, 9.5),
            rate("18", 0.0, 11.9),
            rate("水", 0.0, 9.0),
            rate("燃气", 0.02, 8.8),
            rate("泄漏", 0.0, 9.9),
            rate("阀门", 0.0, 10.5),
        ];
        assert_eq!(lookup_words(words), ["阀门", "泄漏", "燃气"]);
        let many: Vec<String> = (0..10).map(|i| format!("词{i}")).collect();
        assert_eq!(lookup_words(many.iter().map(|w| rate(w, 0.0, 9.0))).len(), QUERY_WORDS);
    }

    #[test]
    fn single_characters_do_not_make_texts_alike() {
        assert_eq!(word_overlap(&words(&["的", "了", "在"]), &words(&["的", "了", "在"])), 0.0);
        assert_eq!(word_overlap(&words(&["垃圾", "清运"]), &words(&["垃圾", "噪音", "扰民"])), 0.5);
    }
}
