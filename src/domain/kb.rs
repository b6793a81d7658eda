//! The knowledge base (知识库): what an article must contain, who may edit it, when it has
//! expired, and how well it answers a query. Articles are few (hundreds to thousands), so a
//! query is matched here, on words segmented the same way as ticket search.

use super::calendar::china_offset;
use super::district::{code_is_within, District};
use super::lifecycle::Actor;
use super::notices::{footer, fresh_address, MailKind, OutgoingMail};
use super::types::Role;
use chrono::{DateTime, Duration, NaiveDate, Utc};
use std::collections::BTreeMap;

pub const MAX_QUESTION: usize = 200;
pub const MAX_ANSWER: usize = 4000;

/// An article as stored: what its editors wrote, and who last changed it when.
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize, utoipa::ToSchema)]
pub struct Article {
    pub id: i64,
    #[serde(flatten)]
    pub text: Draft,
    pub updated_at: DateTime<Utc>,
    pub updated_by: String,
    /// Taken out of use (停用): never offered again, nor mailed about.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub retired: Option<Retirement>,
}

/// 停用: who took an article out of use, when and why.
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize, utoipa::ToSchema)]
pub struct Retirement {
    pub at: DateTime<Utc>,
    pub by: String,
    pub reason: String,
}

/// An article as an editor writes it.
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize, utoipa::ToSchema)]
pub struct Draft {
    pub question: String,
    pub answer: String,
    /// A category code.
    pub category: String,
    /// The owning department, which keeps the article current.
    pub department: String,
    pub valid_from: DateTime<Utc>,
    /// None: valid until changed.
    pub valid_to: Option<DateTime<Utc>>,
}

/// A problem with a draft, naming the field.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Invalid {
    pub field: &'static str,
    pub message: String,
}

impl Article {
    /// Past its validity: operators should not read it out any more.
    pub fn expired(&self, now: DateTime<Utc>) -> bool {
        self.text.valid_to.is_some_and(|to| to <= now)
    }
}

/// Why an article cannot be retired.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum RetirementRefused {
    AlreadyRetired,
    Invalid(Invalid),
}

/// Checks a retirement: the article must be in use, and the reason said.
pub fn check_retirement(article: &Article, reason: &str) -> Result<String, RetirementRefused> {
    if article.retired.is_some() {
        return Err(RetirementRefused::AlreadyRetired);
    }
    let invalid = |message: String| RetirementRefused::Invalid(Invalid { field: "reason", message });
    let reason = reason.trim();
    if reason.is_empty() {
        return Err(invalid("reason must not be empty: say why the article goes".into()));
    }
    if reason.chars().count() > MAX_QUESTION {
        return Err(invalid(format!("reason is longer than {MAX_QUESTION} characters")));
    }
    Ok(reason.to_string())
}

/// Admins edit every article; a department user the articles of its own unit and below.
pub fn may_edit(actor: &Actor, department: &str) -> bool {
    actor.role == Role::Admin || (actor.role == Role::Department && actor.covers(department))
}

/// Checks and trims a draft against the district.
pub fn validate(mut d: Draft, district: &District) -> Result<Draft, Invalid> {
    let invalid = |field, message: String| Invalid { field, message };
    d.question = d.question.trim().to_string();
    d.answer = d.answer.trim().to_string();
    for (field, value, max) in [("question", &d.question, MAX_QUESTION), ("answer", &d.answer, MAX_ANSWER)] {
        if value.is_empty() {
            return Err(invalid(field, format!("{field} must not be empty")));
        }
        if value.chars().count() > max {
            return Err(invalid(field, format!("{field} is longer than {max} characters")));
        }
    }
    if district.category(&d.category).is_none() {
        return Err(invalid("category", format!("unknown category \"{}\"", d.category)));
    }
    if district.department(&d.department).is_none() {
        return Err(invalid("department", format!("unknown department \"{}\"", d.department)));
    }
    if d.valid_to.is_some_and(|to| to <= d.valid_from) {
        return Err(invalid("valid_to", "valid_to must be after valid_from".into()));
    }
    Ok(d)
}

/// How well an article answers the query terms: `None` unless it contains every term; more
/// for terms in the question than in the answer. No terms: every article, equally.
pub fn relevance(article: &Article, terms: &[String]) -> Option<u32> {
    let question = article.text.question.to_lowercase();
    let answer = article.text.answer.to_lowercase();
    let mut score = 0;
    for term in terms {
        let in_question = question.matches(term.as_str()).count() as u32;
        let in_answer = answer.matches(term.as_str()).count() as u32;
        if in_question + in_answer == 0 {
            return None;
        }
        score += 3 * in_question + in_answer;
    }
    Some(score)
}

/// The articles matching a search, best first (then the most recently updated).
pub fn rank<'a>(
    articles: &'a [Article],
    terms: &[String],
    category: Option<&str>,
    include_expired: bool,
    now: DateTime<Utc>,
) -> Vec<&'a Article> {
    let mut hits: Vec<(u32, &Article)> = articles
        .iter()
        .filter(|a| a.retired.is_none())
        .filter(|a| include_expired || !a.expired(now))
        .filter(|a| a.text.valid_from <= now || include_expired)
        .filter(|a| category.is_none_or(|c| code_is_within(&a.text.category, c)))
        .filter_map(|a| relevance(a, terms).map(|s| (s, a)))
        .collect();
    hits.sort_by(|x, y| y.0.cmp(&x.0).then(y.1.updated_at.cmp(&x.1.updated_at)).then(y.1.id.cmp(&x.1.id)));
    hits.into_iter().map(|(_, a)| a).collect()
}

/// The articles each owning department is reminded of at `now`: past their validity, or
/// ending within `within_days`; soonest end first. An expired article stays on the list until
/// its department renews it: operators no longer read it out, so the answer is missing.
pub fn due_for_renewal(articles: &[Article], now: DateTime<Utc>, within_days: i64) -> BTreeMap<&str, Vec<&Article>> {
    let horizon = now + Duration::days(within_days);
    let mut due: BTreeMap<&str, Vec<&Article>> = BTreeMap::new();
    for a in articles.iter().filter(|a| a.retired.is_none() && a.text.valid_to.is_some_and(|to| to <= horizon)) {
        due.entry(a.text.department.as_str()).or_default().push(a);
    }
    for list in due.values_mut() {
        list.sort_by_key(|a| (a.text.valid_to, a.id));
    }
    due
}

/// 知识库到期提醒 to the owning department (its address in the district): the articles past
/// their validity and those ending within `within_days`. Keyed by department, day and
/// address, so a run retried or repeated the same day sends once.
pub fn renewal_notice(
    department: &str,
    day: NaiveDate,
    articles: &[&Article],
    now: DateTime<Utc>,
    within_days: i64,
    district: &District,
) -> Option<OutgoingMail> {
    let unit = district.department(department)?;
    let recipient = fresh_address(&unit.email, &mut Vec::new())?;
    let (expired, ending): (Vec<&Article>, Vec<&Article>) = articles.iter().partition(|a| a.expired(now));
    if expired.is_empty() && ending.is_empty() {
        return None;
    }
    let day_text = day.format("%Y-%m-%d");
    let subject = format!(
        "【12345】知识库到期提醒 {day_text}：已过期{}条，{within_days}日内到期{}条",
        expired.len(),
        ending.len()
    );
    let mut body = format!(
        "{}：\n\n贵单位维护的以下知识库条目已过有效期或即将到期。过期条目话务员不再引用，市民的同类咨询将无法当场答复。\n请核实内容，更新答复并延长有效期；不再适用的请停用（POST /api/v1/kb/articles/{{id}}/retire，写明理由）。\n",
        unit.short_name
    );
    let ending_title = format!("{within_days}日内到期");
    for (title, list) in [("已过期", &expired), (ending_title.as_str(), &ending)] {
        if list.is_empty() {
            continue;
        }
        body.push_str(&format!("\n【{title}】{}条\n", list.len()));
        for (i, a) in list.iter().enumerate() {
            let until = a.text.valid_to.map(|t| t.with_timezone(&china_offset()).format("%Y-%m-%d %H:%M").to_string());
            body.push_str(&format!(
                "{}. 条目#{} {}\n   有效期至：{}\n",
                i + 1,
                a.id,
                a.text.question,
                until.unwrap_or_default()
            ));
        }
    }
    body.push_str(&footer(district));
    Some(OutgoingMail {
        kind: MailKind::KbExpiry,
        ticket_id: None,
        event_seq: None,
        dedupe_key: Some(format!("kb_expiry:{department}:{day_text}:{recipient}")),
        attachment: None,
        recipient,
        subject,
        body,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    fn at(s: &str) -> DateTime<Utc> {
        DateTime::parse_from_rfc3339(s).unwrap().to_utc()
    }

    fn article(id: i64, question: &str, answer: &str, category: &str, valid_to: Option<&str>) -> Article {
        Article {
            id,
            text: Draft {
                question: question.into(),
                answer: answer.into(),
                category: category.into(),
                department: "cgw".into(),
                valid_from: at("2026-01-01T00:00:00Z"),
                valid_to: valid_to.map(at),
            },
            updated_at: at("2026-01-01T00:00:00Z"),
            updated_by: "admin".into(),
            retired: None,
        }
    }

    #[test]
    fn a_retired_article_is_neither_offered_nor_mailed_about() {
        let now = at("2026-06-01T00:00:00Z");
        let mut gone = article(1, "旧的垃圾清运时间", "每周二", "03.02.01", Some("2026-03-01T00:00:00Z"));
        let kept = article(2, "垃圾清运预约", "拨打预约电话", "03.02.01", Some("2026-06-03T00:00:00Z"));
        assert_eq!(check_retirement(&gone, "  政策已废止 ").unwrap(), "政策已废止");
        assert!(matches!(
            check_retirement(&gone, " "),
            Err(RetirementRefused::Invalid(Invalid { field: "reason", .. }))
        ));
        gone.retired = Some(Retirement { at: now, by: "cgw".into(), reason: "政策已废止".into() });
        assert_eq!(check_retirement(&gone, "again"), Err(RetirementRefused::AlreadyRetired));
        let list = [gone, kept];
        let terms = vec!["垃圾".to_string()];
        let offered: Vec<i64> = rank(&list, &terms, None, true, now).iter().map(|a| a.id).collect();
        assert_eq!(offered, [2], "not even among the expired");
        let due = due_for_renewal(&list, now, 7);
        assert_eq!(due["cgw"].iter().map(|a| a.id).collect::<Vec<_>>(), [2]);
    }

    #[test]
    fn every_term_must_match_and_the_question_counts_most() {
        let now = at("2026-06-01T00:00:00Z");
        let list = [
            article(1, "大件垃圾怎么预约清运", "拨打环卫预约电话", "03.02.01", None),
            article(2, "小区停车收费标准", "按物价局文件，清运垃圾另计", "05.01.01", None),
            article(3, "垃圾分类时间", "每天早晚两次", "03.02.02", Some("2026-03-01T00:00:00Z")),
        ];
        let terms = vec!["垃圾".to_string(), "清运".to_string()];
        let found: Vec<i64> = rank(&list, &terms, None, false, now).iter().map(|a| a.id).collect();
        assert_eq!(found, [1, 2]);
        let scoped: Vec<i64> = rank(&list, &terms, Some("03"), false, now).iter().map(|a| a.id).collect();
        assert_eq!(scoped, [1]);
        // Expired articles only when asked for, and flagged.
        let all: Vec<i64> = rank(&list, &[], None, true, now).iter().map(|a| a.id).collect();
        assert_eq!(all.len(), 3);
        assert!(list[2].expired(now) && !list[0].expired(now));
    }

    #[test]
    fn departments_are_reminded_of_expired_and_soon_ending_articles_once_a_day() {
        let district = District::demo();
        let now = at("2026-11-23T00:00:00Z");
        let mut other = article(5, "别的单位的", "答", "03.02.01", Some("2026-11-01T00:00:00Z"));
        other.text.department = "jtj".into();
        let list = [
            article(1, "去年的清运时间", "每周二", "03.02.01", Some("2026-02-01T00:00:00Z")),
            article(2, "本周的停水安排", "周三停水", "03.02.01", Some("2026-11-26T00:00:00Z")),
            article(3, "下月的供暖安排", "照常", "03.02.01", Some("2026-12-23T00:00:00Z")),
            article(4, "长期有效", "答", "03.02.01", None),
            other,
        ];
        let due = due_for_renewal(&list, now, 7);
        let ids = |d: &str| due[d].iter().map(|a| a.id).collect::<Vec<_>>();
        assert_eq!(ids("cgw"), [1, 2], "expired and ending within 7 days, soonest first");
        assert_eq!(ids("jtj"), [5]);
        let day = NaiveDate::from_ymd_opt(2026, 11, 23).unwrap();
        let mail = renewal_notice("cgw", day, &due["cgw"], now, 7, &district).unwrap();
        assert_eq!(mail.kind, MailKind::KbExpiry);
        assert_eq!(mail.recipient, district.department("cgw").unwrap().email);
        assert!(mail.subject.contains("已过期1条，7日内到期1条"), "{}", mail.subject);
        assert!(mail.body.contains("条目#1 去年的清运时间") && mail.body.contains("2026-11-26 08:00"), "{}", mail.body);
        assert!(!mail.body.contains("下月的供暖安排"));
        assert_eq!(mail.dedupe_key.as_deref(), Some(format!("kb_expiry:cgw:2026-11-23:{}", mail.recipient).as_str()));
        assert!(renewal_notice("cgw", day, &[], now, 7, &district).is_none());
    }

    #[test]
    fn editors_are_admins_and_the_owning_department() {
        let dept = Actor {
            user_id: 2,
            username: "cgw".into(),
            role: Role::Department,
            department: Some("cgw".into()),
            units: vec!["cgw".into(), "cgw-hw".into()],
        };
        assert!(may_edit(&dept, "cgw-hw"));
        assert!(!may_edit(&dept, "jtj"));
        let op = Actor { role: Role::Operator, units: Vec::new(), department: None, ..dept.clone() };
        assert!(!may_edit(&op, "cgw"));
        let admin = Actor { role: Role::Admin, ..op };
        assert!(may_edit(&admin, "jtj"));
    }

    #[test]
    fn drafts_are_checked_field_by_field() {
        let district = District::demo();
        let category = district.leaf_categories().next().unwrap().code.clone();
        let ok = Draft {
            question: " 问题 ".into(),
            answer: "回答".into(),
            category: category.clone(),
            department: "cgw".into(),
            valid_from: at("2026-01-01T00:00:00Z"),
            valid_to: None,
        };
        assert_eq!(validate(ok.clone(), &district).unwrap().question, "问题");
        let empty = Draft { answer: " ".into(), ..ok.clone() };
        assert_eq!(validate(empty, &district).unwrap_err().field, "answer");
        let unknown = Draft { department: "nowhere".into(), ..ok.clone() };
        assert_eq!(validate(unknown, &district).unwrap_err().field, "department");
        let backwards = Draft { valid_to: Some(at("2025-01-01T00:00:00Z")), ..ok };
        assert_eq!(validate(backwards, &district).unwrap_err().field, "valid_to");
    }
}
