//! Mail notices (通知): which events cause mail, to whom it goes, and what it says.
//!
//! Pure: the store calls [`notices_for`] inside the transaction that writes the events and
//! queues what comes back in the mail outbox; the SLA job calls [`overdue_notice`] and the
//! daily job [`digest_notice`]. Nothing here sends anything.
//!
//! Every mail names the ticket number, a short summary of the request, each deadline with its
//! unit and exact instant ("办结时限：5个工作日，截止 2026-11-30 17:30", the seeds' complaint
//! about notices mixing days and hours) and a link to the ticket. No mail carries the caller's
//! phone — mail leaves our systems, often unencrypted — and a confidential (保密) ticket's
//! caller is not named either.

use chrono::{DateTime, NaiveDate, Utc};

use super::assessment::{to_csv_file, DepartmentScore, Weights};
use super::calendar::{china_offset, Calendar};
use super::district::District;
use super::event::{Event, EventKind};
use super::privacy::mask_name;
use super::sla::{SlaPolicies, Stage};
use super::ticket::Ticket;
use super::types::Urgency;

/// How much of a request's content a mail quotes.
pub const SUMMARY_CHARS: usize = 80;

/// What a mail is about; stored as its word in `mail_outbox.kind`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum MailKind {
    /// 新工单派发通知: to the lead and the assisting departments on (re)dispatch.
    DispatchNotice,
    /// 催办通知: to the lead.
    Urge,
    /// 超期督办通知: to the lead and the supervisors.
    Overdue,
    /// 每日待办提醒: a department's near-due and overdue tickets.
    Digest,
    /// 每周工单汇总: open, overdue and late-listed work per department, to the supervisors.
    WeeklySummary,
    /// 月度考评通报: last month's ranking of departments, with the CSV attached, to the supervisors.
    MonthlyAssessment,
    /// 热点预警 (未诉先办): intake in a street × category rose well above its baseline.
    Hotspot,
    /// 知识库到期提醒: a department's knowledge-base articles past or near their validity.
    KbExpiry,
}

impl MailKind {
    pub const ALL: [MailKind; 8] = [
        MailKind::DispatchNotice,
        MailKind::Urge,
        MailKind::Overdue,
        MailKind::Digest,
        MailKind::WeeklySummary,
        MailKind::MonthlyAssessment,
        MailKind::Hotspot,
        MailKind::KbExpiry,
    ];

    pub fn as_str(self) -> &'static str {
        match self {
            MailKind::DispatchNotice => "dispatch_notice",
            MailKind::Urge => "urge",
            MailKind::Overdue => "overdue",
            MailKind::Digest => "digest",
            MailKind::WeeklySummary => "weekly_summary",
            MailKind::MonthlyAssessment => "monthly_assessment",
            MailKind::Hotspot => "hotspot",
            MailKind::KbExpiry => "kb_expiry",
        }
    }

    pub fn label(self) -> &'static str {
        match self {
            MailKind::DispatchNotice => "新工单派发通知",
            MailKind::Urge => "催办通知",
            MailKind::Overdue => "超期督办通知",
            MailKind::Digest => "每日待办提醒",
            MailKind::WeeklySummary => "每周工单汇总",
            MailKind::MonthlyAssessment => "月度考评通报",
            MailKind::Hotspot => "热点预警",
            MailKind::KbExpiry => "知识库到期提醒",
        }
    }
}

/// One mail to one address, ready for the outbox. One row per recipient, so a refused address
/// is retried or failed on its own and never makes the others go twice.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct OutgoingMail {
    pub kind: MailKind,
    pub ticket_id: Option<i64>,
    /// The event that caused the mail, when one did.
    pub event_seq: Option<i64>,
    /// Queueing the same key twice queues one mail: a job that fires twice, or two instances
    /// firing the same timer, send once.
    pub dedupe_key: Option<String>,
    pub recipient: String,
    pub subject: String,
    /// Plain text.
    pub body: String,
    /// A file sent with the mail (the monthly ranking's CSV); kept in the outbox row with the
    /// mail, so a retry sends the same bytes.
    pub attachment: Option<Attachment>,
}

/// A text file attached to a mail.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Attachment {
    pub filename: String,
    /// A MIME type, e.g. `text/csv; charset=utf-8`.
    pub content_type: String,
    pub content: String,
}

/// What the templates need besides the ticket and the district.
#[derive(Debug, Clone, Copy)]
pub struct NoticeSettings<'a> {
    /// Where people open the web front end, e.g. `https://12345.haichuan.gov.cn`; links are
    /// `{public_base_url}/tickets/{number}`.
    pub public_base_url: &'a str,
    /// The supervisors' addresses (督办), who get every overdue notice.
    pub supervisors: &'a [String],
    /// To name each deadline's limit ("5个工作日") next to its instant.
    pub policies: &'a SlaPolicies,
}

/// The mail an event causes. `ticket` is the ticket after the event was applied.
///
/// 派单 and 改派 notify the lead and the assisting departments, 催办 the lead. Other events
/// cause no mail; overdue notices come from the SLA job ([`overdue_notice`]). Departments
/// without an email address in `departments.toml` get none.
pub fn notices_for(
    event: &Event,
    ticket: &Ticket,
    district: &District,
    settings: &NoticeSettings,
) -> Vec<OutgoingMail> {
    let notices = Notices { ticket, district, settings };
    match &event.kind {
        EventKind::Dispatched { lead, assists, note, .. } => {
            notices.dispatch(event.seq, lead, assists, note.as_deref(), false)
        }
        EventKind::Redispatched { lead, assists, note, .. } => {
            notices.dispatch(event.seq, lead, assists, note.as_deref(), true)
        }
        EventKind::Urged { note } => notices.urge(event.seq, note.as_deref()),
        _ => Vec::new(),
    }
}

/// Every mail an event causes, each with the instant it may be sent from: a notice outside
/// working hours waits for the next working moment (nobody reads it at midnight, and a
/// department should not be woken for a non-urgent ticket), unless the ticket is urgent.
pub fn mail_for_event(
    event: &Event,
    ticket: &Ticket,
    district: &District,
    calendar: &Calendar,
    settings: &NoticeSettings,
) -> Vec<(OutgoingMail, DateTime<Utc>)> {
    let mut mails = notices_for(event, ticket, district, settings);
    if let EventKind::ClockOverdue { stage: Stage::Reply, department: Some(_), .. } = &event.kind {
        mails.extend(overdue_notice(ticket, district, settings));
    }
    let send_after = if ticket.urgency == Urgency::Urgent { event.at } else { next_working_moment(calendar, event.at) };
    mails.into_iter().map(|m| (m, send_after)).collect()
}

/// `at` itself during working hours, otherwise the start of the next working period.
pub fn next_working_moment(calendar: &Calendar, at: DateTime<Utc>) -> DateTime<Utc> {
    if calendar.is_working_time(at) {
        return at;
    }
    let second = chrono::TimeDelta::seconds(1);
    calendar.add_working_time(at, second) - second
}

/// 超期督办通知 for a ticket past its reply deadline: to the lead and the supervisors. Keyed
/// by the deadline, so each missed deadline is announced once however often the job runs.
pub fn overdue_notice(ticket: &Ticket, district: &District, settings: &NoticeSettings) -> Vec<OutgoingMail> {
    let notices = Notices { ticket, district, settings };
    let Some(lead) = ticket.lead.as_deref() else { return Vec::new() };
    let due_key = ticket.reply_due_at.map_or(0, |d| d.timestamp_millis());
    let subject = format!("{}超期督办通知 {}", subject_prefix(ticket), ticket.number);
    let lead_name = notices.unit_name(lead);
    let facts = notices.facts(true);
    let mut out = Vec::new();
    let mut seen = Vec::new();
    for address in district
        .department(lead)
        .map(|d| d.email.as_str())
        .into_iter()
        .chain(settings.supervisors.iter().map(String::as_str))
    {
        let Some(address) = fresh_address(address, &mut seen) else { continue };
        let to_lead = out.is_empty() && district.department(lead).is_some_and(|d| same_address(&d.email, &address));
        let opening = if to_lead {
            format!(
                "{lead_name}：\n\n贵单位承办的工单 {} 已超过办结时限，仍未办结。请立即办理并回复办理结果；超期情况将计入本月考评。",
                ticket.number
            )
        } else {
            format!("督办人员：\n\n工单 {} 已超过办结时限，主办单位{lead_name}仍未办结，请督办。", ticket.number)
        };
        out.push(OutgoingMail {
            kind: MailKind::Overdue,
            ticket_id: Some(ticket.id),
            event_seq: None,
            dedupe_key: Some(format!("overdue:{}:{due_key}:{address}", ticket.id)),
            attachment: None,
            subject: subject.clone(),
            body: notices.body(&opening, &facts),
            recipient: address,
        });
    }
    out
}

/// 每日待办提醒 for one department: its overdue and near-due tickets. `None` when both lists
/// are empty or the department has no address. Keyed by department and day, so the daily job
/// may run on several instances.
pub fn digest_notice(
    department: &str,
    day: NaiveDate,
    overdue: &[Ticket],
    near_due: &[Ticket],
    district: &District,
    settings: &NoticeSettings,
) -> Option<OutgoingMail> {
    if overdue.is_empty() && near_due.is_empty() {
        return None;
    }
    let unit = district.department(department)?;
    let recipient = fresh_address(&unit.email, &mut Vec::new())?;
    let day_text = day.format("%Y-%m-%d");
    let subject = format!("【12345】每日待办提醒 {day_text}：已超期{}件，临近时限{}件", overdue.len(), near_due.len());
    let mut text = format!("{}：\n\n截至 {day_text} 上午，贵单位有以下工单需要尽快办理。\n", unit.short_name);
    for (title, tickets) in [("已超期", overdue), ("临近办结时限", near_due)] {
        if tickets.is_empty() {
            continue;
        }
        text.push_str(&format!("\n【{title}】{}件\n", tickets.len()));
        for (i, ticket) in tickets.iter().enumerate() {
            let notices = Notices { ticket, district, settings };
            text.push_str(&format!(
                "{}. {} {}\n   诉求内容：{}\n   办结时限：{}\n   {}\n",
                i + 1,
                ticket.number,
                ticket.kind.label(),
                summary(ticket),
                notices.deadline(Stage::Reply, ticket.reply_due_at),
                notices.link()
            ));
        }
    }
    text.push_str(&footer(district));
    Some(OutgoingMail {
        kind: MailKind::Digest,
        ticket_id: None,
        event_seq: None,
        dedupe_key: Some(format!("digest:{department}:{day_text}:{recipient}")),
        attachment: None,
        recipient,
        subject,
        body: text,
    })
}

/// One department's open work, for the weekly summary.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct WorkLoad {
    pub department: String,
    pub open: i64,
    pub overdue: i64,
    pub late_listed: i64,
}

/// 每周工单汇总 to each supervisor: per department its open, overdue and late-listed tickets,
/// worst first. Keyed by week and address, so a job that runs twice sends once.
pub fn weekly_summary_notice(
    week_of: NaiveDate,
    loads: &[WorkLoad],
    district: &District,
    settings: &NoticeSettings,
) -> Vec<OutgoingMail> {
    let mut rows: Vec<&WorkLoad> = loads.iter().collect();
    rows.sort_by_key(|r| std::cmp::Reverse((r.late_listed, r.overdue, r.open)));
    let (open, overdue, late): (i64, i64, i64) =
        rows.iter().fold((0, 0, 0), |(o, d, l), r| (o + r.open, d + r.overdue, l + r.late_listed));
    let week = week_of.format("%Y-%m-%d");
    let subject = format!("【12345】每周工单汇总（{week}起）：在办{open}件，超期{overdue}件，通报{late}件");
    let mut body =
        format!("各位督办同志：\n\n截至本周一，全区在办工单{open}件，其中超期{overdue}件，列入超期通报{late}件。\n");
    body.push_str("\n单位 | 在办 | 超期 | 通报\n");
    for r in &rows {
        let name = district.department(&r.department).map_or(r.department.as_str(), |d| d.short_name.as_str());
        body.push_str(&format!("{name} | {} | {} | {}\n", r.open, r.overdue, r.late_listed));
    }
    body.push_str(&format!("\n详情: {}/wall\n", settings.public_base_url.trim_end_matches('/')));
    body.push_str(&footer(district));
    to_supervisors(settings, MailKind::WeeklySummary, &format!("weekly:{week}"), &subject, &body, None)
}

/// 月度考评通报 to each supervisor: the top-level units of `month` in rank order with their
/// score and the three rates it is made of, and the whole ranking (every unit, sub-units
/// included) attached as the same CSV that `hotline report` prints. Keyed by month and address,
/// so a job that runs twice sends once.
pub fn monthly_assessment_notice(
    month: &str,
    scores: &[DepartmentScore],
    weights: &Weights,
    district: &District,
    settings: &NoticeSettings,
) -> Vec<OutgoingMail> {
    let mut ranked: Vec<&DepartmentScore> = scores.iter().filter(|s| s.level == 0 && s.rank.is_some()).collect();
    ranked.sort_by_key(|s| (s.rank, s.department.clone()));
    let unranked = scores.iter().filter(|s| s.level == 0 && s.rank.is_none()).count();
    let subject = format!("【12345】{month}月度考评通报：{}个单位参评", ranked.len());
    let mut body = format!(
        "各位督办同志：\n\n{month}月度考评结果已生成（权重：签收及时率{}、解决率{}、满意率{}）。\n\
         以下为一级单位排名，完整排名（含下级单位及各项指标）见附件CSV。\n\n\
         名次 | 单位 | 综合得分 | 签收及时率 | 解决率 | 满意率\n",
        weights.response, weights.resolution, weights.satisfaction
    );
    let percent = |r: Option<f64>| r.map_or_else(|| "—".to_string(), |r| format!("{:.1}%", r * 100.0));
    for s in &ranked {
        let name = district.department(&s.department).map_or(s.name.as_str(), |d| d.short_name.as_str());
        body.push_str(&format!(
            "{} | {name} | {:.2} | {} | {} | {}\n",
            s.rank.unwrap_or_default(),
            s.score.unwrap_or_default(),
            percent(s.rates.response),
            percent(s.rates.resolution),
            percent(s.rates.satisfaction)
        ));
    }
    if unranked > 0 {
        body.push_str(&format!("\n另有{unranked}个单位本月无可考评的办件，不参与排名。\n"));
    }
    body.push_str(&format!("\n在线查看: {}/wall\n", settings.public_base_url.trim_end_matches('/')));
    body.push_str(&footer(district));
    let attachment = Attachment {
        filename: format!("12345-assessment-{month}.csv"),
        content_type: "text/csv; charset=utf-8".into(),
        content: to_csv_file(scores, district),
    };
    to_supervisors(
        settings,
        MailKind::MonthlyAssessment,
        &format!("assessment:{month}"),
        &subject,
        &body,
        Some(attachment),
    )
}

/// The same mail to each distinct supervisor address, keyed `{key}:{address}` so that a job
/// that runs twice queues it once.
pub(super) fn to_supervisors(
    settings: &NoticeSettings,
    kind: MailKind,
    key: &str,
    subject: &str,
    body: &str,
    attachment: Option<Attachment>,
) -> Vec<OutgoingMail> {
    let mut seen = Vec::new();
    settings
        .supervisors
        .iter()
        .filter_map(|a| fresh_address(a, &mut seen))
        .map(|recipient| OutgoingMail {
            kind,
            ticket_id: None,
            event_seq: None,
            dedupe_key: Some(format!("{key}:{recipient}")),
            attachment: attachment.clone(),
            recipient,
            subject: subject.to_string(),
            body: body.to_string(),
        })
        .collect()
}

/// The first [`SUMMARY_CHARS`] characters of the request, on one line, with every phone-like
/// number taken out and, on a confidential ticket, the caller's name masked: residents often
/// say who they are and where to call them in the content itself.
pub fn summary(ticket: &Ticket) -> String {
    let mut text = redact_numbers(&ticket.content);
    let name = ticket.caller_name.trim();
    if ticket.confidential && name.chars().count() >= 2 {
        text = text.replace(name, &mask_name(name));
    }
    let one_line = text.split_whitespace().collect::<Vec<_>>().join(" ");
    let mut chars = one_line.chars();
    let head: String = chars.by_ref().take(SUMMARY_CHARS).collect();
    if chars.next().is_some() {
        format!("{head}…")
    } else {
        head
    }
}

/// A deadline as people read it: `5个工作日，截止 2026-11-30 17:30` (Beijing time).
pub fn deadline_text(limit: Option<String>, due: Option<DateTime<Utc>>) -> String {
    let Some(due) = due else { return "未设定".to_string() };
    let instant = due.with_timezone(&china_offset()).format("%Y-%m-%d %H:%M");
    match limit {
        Some(limit) => format!("{limit}，截止 {instant}"),
        None => format!("截止 {instant}"),
    }
}

// ───────────────────────────── templates ─────────────────────────────

struct Notices<'a> {
    ticket: &'a Ticket,
    district: &'a District,
    settings: &'a NoticeSettings<'a>,
}

impl Notices<'_> {
    fn dispatch(
        &self,
        seq: i64,
        lead: &str,
        assists: &[String],
        note: Option<&str>,
        redispatch: bool,
    ) -> Vec<OutgoingMail> {
        let t = self.ticket;
        let lead_name = self.unit_name(lead);
        let how = if redispatch { "改派" } else { "派发" };
        let mut facts = self.facts(false);
        if let Some(note) = note.map(str::trim).filter(|n| !n.is_empty()) {
            facts.push(("派单说明", note.to_string()));
        }
        let mut out = Vec::new();
        let mut seen = Vec::new();
        let units = std::iter::once((lead, true)).chain(assists.iter().map(|a| (a.as_str(), false)));
        for (unit, is_lead) in units {
            let Some(dept) = self.district.department(unit) else { continue };
            let Some(address) = fresh_address(&dept.email, &mut seen) else { continue };
            let (role, opening) = if is_lead {
                (
                    "",
                    format!(
                        "{}：\n\n现向贵单位{how}工单 {}，由贵单位主办。请在签收时限内签收，并在办结时限内办理完毕、回复办理结果。",
                        dept.short_name, t.number
                    ),
                )
            } else {
                (
                    "（协办）",
                    format!(
                        "{}：\n\n现向贵单位{how}工单 {}，由{lead_name}主办、贵单位协办。请配合主办单位办理，并将协办意见回复主办单位。",
                        dept.short_name, t.number
                    ),
                )
            };
            out.push(OutgoingMail {
                kind: MailKind::DispatchNotice,
                ticket_id: Some(t.id),
                event_seq: Some(seq),
                dedupe_key: Some(format!("dispatch_notice:{seq}:{address}")),
                attachment: None,
                subject: format!("{}新工单派发通知{role} {}", subject_prefix(t), t.number),
                body: self.body(&opening, &facts),
                recipient: address,
            });
        }
        out
    }

    fn urge(&self, seq: i64, note: Option<&str>) -> Vec<OutgoingMail> {
        let t = self.ticket;
        let Some(lead) = t.lead.as_deref() else { return Vec::new() };
        let Some(dept) = self.district.department(lead) else { return Vec::new() };
        let Some(address) = fresh_address(&dept.email, &mut Vec::new()) else { return Vec::new() };
        let times = t.urges.max(1);
        let mut opening = format!(
            "{}：\n\n贵单位承办的工单 {} 已被催办（第{times}次），请抓紧办理，在办结时限内回复办理结果。",
            dept.short_name, t.number
        );
        if let Some(note) = note.map(str::trim).filter(|n| !n.is_empty()) {
            opening.push_str(&format!("\n催办意见：{note}"));
        }
        vec![OutgoingMail {
            kind: MailKind::Urge,
            ticket_id: Some(t.id),
            event_seq: Some(seq),
            dedupe_key: Some(format!("urge:{seq}:{address}")),
            attachment: None,
            subject: format!("{}催办通知 {}（第{times}次）", subject_prefix(t), t.number),
            body: self.body(&opening, &self.facts(true)),
            recipient: address,
        }]
    }

    /// The ticket's particulars, one `label：value` line each.
    fn facts(&self, with_status: bool) -> Vec<(&'static str, String)> {
        let t = self.ticket;
        let mut facts =
            vec![("工单编号", t.number.clone()), ("诉求类型", format!("{}（{}）", t.kind.label(), t.urgency.label()))];
        if let Some(path) = self.district.category_path(&t.category) {
            facts.push(("问题分类", path));
        }
        let street = t.street.as_deref().and_then(|s| self.district.street(s)).map(|s| s.name.as_str());
        let place = [street.unwrap_or_default(), t.address.trim()]
            .iter()
            .filter(|s| !s.is_empty())
            .copied()
            .collect::<Vec<_>>();
        if !place.is_empty() {
            facts.push(("发生地点", place.join(" ")));
        }
        facts.push(("诉求内容", summary(t)));
        let caller = if t.confidential || t.caller_name.trim().is_empty() {
            "保密".to_string()
        } else {
            t.caller_name.trim().to_string()
        };
        facts.push(("诉求人", caller));
        if let Some(lead) = t.lead.as_deref() {
            facts.push(("主办单位", self.unit_name(lead)));
        }
        if !t.assists.is_empty() {
            let names: Vec<String> = t.assists.iter().map(|a| self.unit_name(&a.department)).collect();
            facts.push(("协办单位", names.join("、")));
        }
        if with_status {
            facts.push(("当前状态", t.status.label().to_string()));
        }
        if t.accepted_at.is_none() && t.accept_due_at.is_some() {
            facts.push(("签收时限", self.deadline(Stage::Accept, t.accept_due_at)));
        }
        facts.push(("办结时限", self.deadline(Stage::Reply, t.reply_due_at)));
        facts
    }

    fn body(&self, opening: &str, facts: &[(&str, String)]) -> String {
        let mut text = format!("{opening}\n\n");
        for (label, value) in facts {
            text.push_str(&format!("{label}：{value}\n"));
        }
        text.push_str(&format!("\n查看和办理：{}\n", self.link()));
        text.push_str("诉求人联系方式请登录系统查看。\n");
        text.push_str(&footer(self.district));
        text
    }

    fn deadline(&self, stage: Stage, due: Option<DateTime<Utc>>) -> String {
        let limit = self
            .ticket
            .sla_policy
            .as_deref()
            .and_then(|p| self.settings.policies.get(p))
            .map(|p| p.limit(stage).within.zh_label());
        deadline_text(limit, due)
    }

    fn link(&self) -> String {
        format!("{}/tickets/{}", self.settings.public_base_url.trim_end_matches('/'), self.ticket.number)
    }

    fn unit_name(&self, code: &str) -> String {
        self.district.department(code).map_or_else(|| code.to_string(), |d| d.short_name.clone())
    }
}

fn subject_prefix(ticket: &Ticket) -> &'static str {
    match ticket.urgency {
        super::types::Urgency::Urgent => "【12345·紧急】",
        super::types::Urgency::Normal => "【12345】",
    }
}

pub(super) fn footer(district: &District) -> String {
    let centre = district.centre().map_or("12345政务服务便民热线", |c| c.name.as_str());
    format!("\n本邮件由系统自动发送，请勿直接回复。\n{centre}\n")
}

/// A usable address not seen before (compared without case), trimmed.
pub(super) fn fresh_address(address: &str, seen: &mut Vec<String>) -> Option<String> {
    let address = address.trim();
    if address.is_empty() || !address.contains('@') || seen.iter().any(|s| same_address(s, address)) {
        return None;
    }
    seen.push(address.to_string());
    Some(address.to_string())
}

fn same_address(a: &str, b: &str) -> bool {
    a.trim().eq_ignore_ascii_case(b.trim())
}

/// Replaces every run of seven or more digits (a phone number, or most of one) so no mail
/// carries a number someone could call.
fn redact_numbers(text: &str) -> String {
    let mut out = String::with_capacity(text.len());
    let mut digits = String::new();
    let flush = |digits: &mut String, out: &mut String| {
        if digits.chars().count() >= 7 {
            out.push_str("[号码已隐去]");
        } else {
            out.push_str(digits);
        }
        digits.clear();
    };
    for c in text.chars() {
        if c.is_ascii_digit() || ('０'..='９').contains(&c) {
            digits.push(c);
        } else {
            flush(&mut digits, &mut out);
            out.push(c);
        }
    }
    flush(&mut digits, &mut out);
    out
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::domain::district::DepartmentKind;
    use crate::domain::event::{ActorRef, Received};
    use crate::domain::ticket::apply;
    use crate::domain::types::{Channel, Kind, Role, Urgency};
    use chrono::TimeZone;

    fn policies() -> SlaPolicies {
        SlaPolicies::parse(("sla_policies.toml", include_str!("../../dispatch_rules/sla_policies.toml"))).unwrap()
    }

    fn at(y: i32, mo: u32, d: u32, h: u32, mi: u32) -> DateTime<Utc> {
        china_offset().with_ymd_and_hms(y, mo, d, h, mi, 0).unwrap().with_timezone(&Utc)
    }

    fn event(seq: i64, kind: EventKind) -> Event {
        let actor = ActorRef { user_id: 2, username: "dispatcher".into(), role: Role::Dispatcher, department: None };
        Event { seq, ticket_id: 7, at: at(2026, 11, 23, 9, 0), actor, kind }
    }

    /// Two bureaus that have email addresses in the demo district.
    fn units(district: &District) -> (String, String) {
        let mut with_mail =
            district.departments.iter().filter(|d| !d.email.is_empty() && d.kind == DepartmentKind::Bureau);
        (with_mail.next().unwrap().code.clone(), with_mail.next().unwrap().code.clone())
    }

    fn received(content: &str, confidential: bool) -> Ticket {
        let district = District::demo();
        let kind = EventKind::Received(Received {
            number: "20261123-000042".into(),
            kind: Kind::Complaint,
            channel: Channel::Phone,
            urgency: Urgency::Normal,
            category: district.leaf_categories().next().unwrap().code.clone(),
            street: Some(district.streets[0].code.clone()),
            community: None,
            address: "小区3号楼东侧".into(),
            content: content.into(),
            caller_name: "王小明".into(),
            caller_phone: "13812345678".into(),
            confidential,
            callback_consent: true,
            call_id: None,
        });
        apply(None, &event(1, kind))
    }

    fn dispatched(ticket: Ticket, lead: &str, assists: &[String]) -> (Event, Ticket) {
        let e = event(
            2,
            EventKind::Dispatched {
                lead: lead.into(),
                assists: assists.to_vec(),
                note: Some("请现场核实".into()),
                sla_policy: Some("general".into()),
                rule_id: None,
                rules_version: None,
            },
        );
        let mut t = apply(Some(ticket), &e);
        // Deadlines come from the clocks the state machine decides (a `clocks_changed` event).
        t.accept_due_at = Some(at(2026, 11, 23, 11, 0));
        t.reply_due_at = Some(at(2026, 11, 30, 17, 30));
        (e, t)
    }

    fn settings<'a>(policies: &'a SlaPolicies, supervisors: &'a [String]) -> NoticeSettings<'a> {
        NoticeSettings { public_base_url: "https://12345.example.gov.cn/", supervisors, policies }
    }

    #[test]
    fn dispatch_notifies_lead_and_assists_with_deadline_unit_instant_and_link() {
        let district = District::demo();
        let policies = policies();
        let (lead, assist) = units(&district);
        let (e, t) =
            dispatched(received("楼下垃圾已经三天没人清运，气味很大。", false), &lead, std::slice::from_ref(&assist));
        let mails = notices_for(&e, &t, &district, &settings(&policies, &[]));
        assert_eq!(mails.len(), 2);
        let (to_lead, to_assist) = (&mails[0], &mails[1]);
        assert_eq!(to_lead.recipient, district.department(&lead).unwrap().email);
        assert_eq!(to_assist.recipient, district.department(&assist).unwrap().email);
        assert_eq!(to_lead.kind, MailKind::DispatchNotice);
        assert_eq!((to_lead.ticket_id, to_lead.event_seq), (Some(7), Some(2)));
        assert!(to_lead.subject.contains("新工单派发通知") && to_lead.subject.contains("20261123-000042"));
        assert!(to_assist.subject.contains("协办"));
        for mail in &mails {
            assert!(mail.body.contains("办结时限：5个工作日，截止 2026-11-30 17:30"), "{}", mail.body);
            assert!(mail.body.contains("签收时限：2个工作小时，截止 2026-11-23 11:00"), "{}", mail.body);
            assert!(mail.body.contains("https://12345.example.gov.cn/tickets/20261123-000042"));
            assert!(mail.body.contains("楼下垃圾已经三天没人清运"));
            assert!(mail.body.contains("派单说明：请现场核实"));
            assert!(mail.body.contains("诉求人：王小明"));
            assert!(!mail.body.contains("13812345678"));
        }
        assert!(to_assist.body.contains(&format!("由{}主办", district.department(&lead).unwrap().short_name)));
    }

    #[test]
    fn confidential_ticket_names_nobody_and_no_mail_carries_a_phone() {
        let district = District::demo();
        let policies = policies();
        let (lead, _) = units(&district);
        let content = "我是王小明，请打13812345678或者010-87654321联系我，小区门口路灯坏了";
        let (e, t) = dispatched(received(content, true), &lead, &[]);
        let mail = &notices_for(&e, &t, &district, &settings(&policies, &[]))[0];
        assert!(!mail.body.contains("王小明"), "{}", mail.body);
        assert!(mail.body.contains("诉求人：保密"));
        assert!(!mail.body.contains("13812345678") && !mail.body.contains("87654321"), "{}", mail.body);
        assert!(mail.body.contains("王**"));

        // Not confidential: the name may be shown, the phone still never is.
        let (e, t) = dispatched(received(content, false), &lead, &[]);
        let mail = &notices_for(&e, &t, &district, &settings(&policies, &[]))[0];
        assert!(mail.body.contains("诉求人：王小明"));
        assert!(!mail.body.contains("13812345678"));
    }

    #[test]
    fn summary_is_one_line_of_at_most_eighty_characters() {
        let long = "噪音".repeat(60);
        let t = received(&format!("第一行\n\n  第二行 {long}"), false);
        let s = summary(&t);
        assert!(s.starts_with("第一行 第二行 噪音"));
        assert_eq!(s.chars().count(), SUMMARY_CHARS + 1);
        assert!(s.ends_with('…'));
        assert_eq!(summary(&received("短", false)), "短");
        // Short numbers (house numbers, dates) stay.
        assert_eq!(summary(&received("3号楼502室，2026年", false)), "3号楼502室，2026年");
    }

    #[test]
    fn urge_goes_to_the_lead_with_count_and_note() {
        let district = District::demo();
        let policies = policies();
        let (lead, assist) = units(&district);
        let (_, t) = dispatched(received("路灯不亮", false), &lead, &[assist]);
        let e = event(3, EventKind::Urged { note: Some("市民再次来电".into()) });
        let t = apply(Some(t), &e);
        let mails = notices_for(&e, &t, &district, &settings(&policies, &[]));
        assert_eq!(mails.len(), 1);
        assert_eq!(mails[0].recipient, district.department(&lead).unwrap().email);
        assert_eq!(mails[0].kind, MailKind::Urge);
        assert!(mails[0].subject.contains("催办通知") && mails[0].subject.contains("第1次"));
        assert!(mails[0].body.contains("催办意见：市民再次来电"));
        assert!(mails[0].body.contains("办结时限：5个工作日，截止 2026-11-30 17:30"));
    }

    #[test]
    fn other_events_send_nothing() {
        let district = District::demo();
        let policies = policies();
        let (lead, _) = units(&district);
        let (_, t) = dispatched(received("路灯不亮", false), &lead, &[]);
        let e = event(3, EventKind::Accepted { department: lead, late: false, automatic: false });
        let t = apply(Some(t), &e);
        assert!(notices_for(&e, &t, &district, &settings(&policies, &[])).is_empty());
    }

    #[test]
    fn overdue_goes_to_lead_and_supervisors_once_per_address() {
        let district = District::demo();
        let policies = policies();
        let (lead, _) = units(&district);
        let lead_mail = district.department(&lead).unwrap().email.clone();
        let (_, t) = dispatched(received("路灯不亮", false), &lead, &[]);
        let supervisors = vec!["duban@example.gov.cn".to_string(), lead_mail.to_uppercase(), " ".to_string()];
        let mails = overdue_notice(&t, &district, &settings(&policies, &supervisors));
        let to: Vec<&str> = mails.iter().map(|m| m.recipient.as_str()).collect();
        assert_eq!(to, vec![lead_mail.as_str(), "duban@example.gov.cn"]);
        assert!(mails.iter().all(|m| m.subject.contains("超期督办通知") && m.kind == MailKind::Overdue));
        assert!(mails[0].body.contains("计入本月考评"));
        assert!(mails[1].body.starts_with("督办人员"));
        assert_ne!(mails[0].dedupe_key, mails[1].dedupe_key);
        assert!(mails[0].body.contains("截止 2026-11-30 17:30"));
    }

    #[test]
    fn digest_lists_overdue_and_near_due_tickets() {
        let district = District::demo();
        let policies = policies();
        let (lead, _) = units(&district);
        let (_, late) = dispatched(received("路灯不亮", false), &lead, &[]);
        let mut soon = late.clone();
        soon.number = "20261123-000043".into();
        soon.content = "井盖缺失".into();
        let day = NaiveDate::from_ymd_opt(2026, 12, 1).unwrap();
        let s = settings(&policies, &[]);
        let mail =
            digest_notice(&lead, day, std::slice::from_ref(&late), std::slice::from_ref(&soon), &district, &s).unwrap();
        assert_eq!(mail.kind, MailKind::Digest);
        assert!(mail.subject.contains("每日待办提醒 2026-12-01") && mail.subject.contains("已超期1件"));
        assert!(mail.body.contains("20261123-000042") && mail.body.contains("20261123-000043"));
        assert!(mail.body.contains("井盖缺失"));
        assert!(mail.body.contains("5个工作日，截止 2026-11-30 17:30"));
        assert_eq!(mail.dedupe_key.as_deref(), Some(format!("digest:{lead}:2026-12-01:{}", mail.recipient).as_str()));
        assert!(digest_notice(&lead, day, &[], &[], &district, &s).is_none());
    }

    #[test]
    fn deadline_without_known_policy_still_shows_the_instant() {
        assert_eq!(deadline_text(None, Some(at(2026, 10, 13, 17, 30))), "截止 2026-10-13 17:30");
        assert_eq!(deadline_text(Some("2小时".into()), None), "未设定");
    }

    #[test]
    fn kinds_have_their_stored_words() {
        let words: Vec<&str> = MailKind::ALL.iter().map(|k| k.as_str()).collect();
        assert_eq!(
            words,
            [
                "dispatch_notice",
                "urge",
                "overdue",
                "digest",
                "weekly_summary",
                "monthly_assessment",
                "hotspot",
                "kb_expiry"
            ]
        );
    }

    #[test]
    fn monthly_ranking_goes_to_each_supervisor_once_with_the_csv_attached() {
        let district = District::demo();
        let policies = policies();
        let supervisors = vec!["a@x.gov.cn".to_string(), " A@X.gov.cn ".to_string(), "b@x.gov.cn".to_string()];
        let (first, second) = units(&district);
        let score = |code: &str, rank: Option<u32>, score: Option<f64>| DepartmentScore {
            department: code.into(),
            name: code.into(),
            parent: None,
            level: 0,
            own: Default::default(),
            total: Default::default(),
            rates: crate::domain::assessment::Rates { response: Some(0.5), ..Default::default() },
            score,
            rank,
        };
        let scores = vec![score(&second, Some(2), Some(71.5)), score(&first, Some(1), Some(88.25))];
        let mails = monthly_assessment_notice(
            "2026-10",
            &scores,
            &Weights::default(),
            &district,
            &settings(&policies, &supervisors),
        );
        assert_eq!(mails.len(), 2, "one per distinct address");
        let mail = &mails[0];
        assert_eq!(mail.kind, MailKind::MonthlyAssessment);
        assert_eq!(mail.dedupe_key.as_deref(), Some("assessment:2026-10:a@x.gov.cn"));
        let name = |code: &str| district.department(code).unwrap().short_name.clone();
        let (first_at, second_at) = (mail.body.find(&name(&first)).unwrap(), mail.body.find(&name(&second)).unwrap());
        assert!(first_at < second_at, "rank order: {}", mail.body);
        assert!(mail.body.contains("88.25") && mail.body.contains("50.0%"), "{}", mail.body);
        let attachment = mail.attachment.as_ref().expect("the CSV is attached");
        assert_eq!(attachment.filename, "12345-assessment-2026-10.csv");
        assert_eq!(attachment.content, to_csv_file(&scores, &district));
    }
}
