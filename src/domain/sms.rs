//! 短信: which event texts whom, what the text says, when it may go, and what a resident's
//! reply means.
//!
//! Pure, like the mail rules (`notices`): the store calls [`texts_for_event`] inside the
//! transaction that writes the events and queues what comes back in the SMS outbox; the drain
//! asks [`gate`] just before sending (quiet hours, the daily limit per number, 退订); the
//! gateway callback asks [`read_reply`] what a reply means. Nothing here sends anything.
//!
//! Rules:
//! * A resident who declined contact (no callback consent) gets no text at all.
//! * Texts to a department's contact (联络员) never carry the caller's name or phone, whether
//!   or not the ticket is confidential; a resident's own texts carry only their ticket.
//! * Only mainland mobiles (1[3-9] + 9 digits) are texted; landlines get nothing.
//! * Quiet hours (from configuration): nothing but urgent alerts goes at night; a text due
//!   then waits for the morning.
//! * At most `daily_limit` texts per number per Beijing day; urgent alerts are not counted
//!   against it. A text over the limit waits for the next day (never dropped).
//! * `TD`/`退订` stops every non-essential text to that number. Essential are the texts a
//!   department's contact gets for their work (accept reminders, urgent alerts).

use std::collections::BTreeMap;

use chrono::{DateTime, NaiveTime, TimeDelta, Utc};
use serde::Deserialize;
use toml::Spanned;

use super::calendar::china_offset;
use super::diagnostic::Diagnostic;
use super::district::District;
use super::event::{Event, EventKind};
use super::sla::Stage;
use super::ticket::Ticket;
use super::types::{Satisfaction, Solved, Urgency};

/// The file the centre edits, under the rules directory.
pub const TEMPLATES_FILE: &str = "sms_templates.toml";
/// How much of a request a department's urgent alert quotes.
pub const SUMMARY_CHARS: usize = 30;
/// How much of a department's answer a reply notice quotes.
pub const REPLY_CHARS: usize = 60;
/// The longest text the server will queue, in characters: beyond this a carrier's
/// concatenation (at most 255 parts, in practice ~10) is not worth trusting.
pub const MAX_TEXT_CHARS: usize = 500;

/// What a text is about; stored as its word in `sms_outbox.kind`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub enum SmsKind {
    /// 受理回执: to the resident after intake.
    Receipt,
    /// 办理答复通知: to the resident when the department replied.
    ReplyNotice,
    /// 回访短信: to the resident when a callback call did not reach them; rated by reply.
    Callback,
    /// 签收提醒: to the lead department's contact before the accept deadline.
    AcceptReminder,
    /// 紧急工单提醒: to the lead department's contact when an urgent ticket is dispatched.
    UrgentAlert,
}

impl SmsKind {
    pub const ALL: [SmsKind; 5] =
        [SmsKind::Receipt, SmsKind::ReplyNotice, SmsKind::Callback, SmsKind::AcceptReminder, SmsKind::UrgentAlert];

    pub fn as_str(self) -> &'static str {
        match self {
            SmsKind::Receipt => "receipt",
            SmsKind::ReplyNotice => "reply_notice",
            SmsKind::Callback => "callback",
            SmsKind::AcceptReminder => "accept_reminder",
            SmsKind::UrgentAlert => "urgent_alert",
        }
    }

    pub fn parse(word: &str) -> Option<SmsKind> {
        SmsKind::ALL.into_iter().find(|k| k.as_str() == word)
    }

    pub fn label(self) -> &'static str {
        match self {
            SmsKind::Receipt => "受理回执",
            SmsKind::ReplyNotice => "办理答复通知",
            SmsKind::Callback => "回访短信",
            SmsKind::AcceptReminder => "签收提醒",
            SmsKind::UrgentAlert => "紧急工单提醒",
        }
    }

    /// Goes even to a number that replied TD: a contact's duty texts, not marketing.
    pub fn essential(self) -> bool {
        matches!(self, SmsKind::AcceptReminder | SmsKind::UrgentAlert)
    }

    /// Goes at night and is not counted against the daily limit.
    pub fn urgent(self) -> bool {
        self == SmsKind::UrgentAlert
    }

    /// The placeholders a template of this kind may use, and those it must.
    fn placeholders(self) -> (&'static [&'static str], &'static [&'static str]) {
        match self {
            SmsKind::Receipt => (&["number", "track_url", "category"][..], &["number", "track_url"][..]),
            SmsKind::ReplyNotice => {
                (&["number", "department", "outcome", "reply", "category"][..], &["number", "outcome"][..])
            }
            SmsKind::Callback => (&["number", "department", "outcome", "category"][..], &["number"][..]),
            SmsKind::AcceptReminder => {
                (&["number", "department", "category", "street", "due"][..], &["number", "due"][..])
            }
            SmsKind::UrgentAlert => (&["number", "department", "category", "street", "summary"][..], &["number"][..]),
        }
    }
}

/// The centre's texts, checked.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SmsTemplates {
    pub signature: String,
    texts: BTreeMap<SmsKind, String>,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct RawFile {
    signature: Spanned<String>,
    receipt: RawTemplate,
    reply_notice: RawTemplate,
    callback: RawTemplate,
    accept_reminder: RawTemplate,
    urgent_alert: RawTemplate,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct RawTemplate {
    text: Spanned<String>,
}

/// `{name}` placeholders of a template, in order; `Err` names the first malformed brace.
fn placeholders_in(text: &str) -> Result<Vec<&str>, String> {
    let mut found = Vec::new();
    let mut rest = text;
    while let Some(open) = rest.find(['{', '}']) {
        if rest[open..].starts_with('}') {
            return Err("a \"}\" without its \"{\"".into());
        }
        let after = &rest[open + 1..];
        let Some(close) = after.find('}') else { return Err("a \"{\" without its \"}\"".into()) };
        let name = &after[..close];
        if name.is_empty() || !name.chars().all(|c| c.is_ascii_lowercase() || c == '_') {
            return Err(format!("\"{{{name}}}\" is not a placeholder name"));
        }
        found.push(name);
        rest = &after[close + 1..];
    }
    Ok(found)
}

impl SmsTemplates {
    /// Reads `sms_templates.toml`; every problem is reported with its line.
    pub fn parse((file, source): (&str, &str)) -> Result<SmsTemplates, Vec<Diagnostic>> {
        let raw: RawFile = toml::from_str(source).map_err(|e| vec![Diagnostic::from_toml(file, source, &e)])?;
        let at = |span: std::ops::Range<usize>, message: String| {
            Diagnostic::at_offset(file, source, span.start, super::diagnostic::Severity::Error, message)
        };
        let mut errors = Vec::new();
        let signature = raw.signature.get_ref().trim().to_string();
        if !(signature.starts_with('【') && signature.ends_with('】') && signature.chars().count() >= 4) {
            errors.push(at(
                raw.signature.span(),
                "signature: write the centre's registered name in 【】, e.g. \"【海川12345】\"".into(),
            ));
        }
        let mut texts = BTreeMap::new();
        for (kind, template) in [
            (SmsKind::Receipt, &raw.receipt),
            (SmsKind::ReplyNotice, &raw.reply_notice),
            (SmsKind::Callback, &raw.callback),
            (SmsKind::AcceptReminder, &raw.accept_reminder),
            (SmsKind::UrgentAlert, &raw.urgent_alert),
        ] {
            let name = kind.as_str();
            let text = template.text.get_ref().trim();
            let span = template.text.span();
            if text.is_empty() {
                errors.push(at(span, format!("{name}: the text is empty")));
                continue;
            }
            let (allowed, required) = kind.placeholders();
            match placeholders_in(text) {
                Err(message) => errors.push(at(span.clone(), format!("{name}: {message}"))),
                Ok(used) => {
                    for p in &used {
                        if !allowed.contains(p) {
                            errors.push(at(
                                span.clone(),
                                format!("{name}: unknown placeholder {{{p}}}; this text may use {}", braced(allowed)),
                            ));
                        }
                    }
                    for p in required {
                        if !used.contains(p) {
                            errors.push(at(span.clone(), format!("{name}: the text must contain {{{p}}}")));
                        }
                    }
                }
            }
            if kind == SmsKind::Callback && !["1", "2", "3"].iter().all(|d| text.contains(d)) {
                errors.push(at(
                    span.clone(),
                    "callback: the text must say what to reply: 1 满意 2 基本满意 3 不满意".into(),
                ));
            }
            if text.chars().count() + signature.chars().count() > MAX_TEXT_CHARS / 2 {
                errors.push(at(span, format!("{name}: too long; keep a text under {} characters", MAX_TEXT_CHARS / 2)));
            }
            texts.insert(kind, text.to_string());
        }
        if !errors.is_empty() {
            return Err(errors);
        }
        Ok(SmsTemplates { signature, texts })
    }

    /// The text of `kind` with its placeholders filled (unknown ones left empty) and signed.
    pub fn render(&self, kind: SmsKind, fields: &[(&str, &str)]) -> String {
        let template = self.texts.get(&kind).map(String::as_str).unwrap_or_default();
        let mut out = String::with_capacity(template.len() + 64);
        out.push_str(&self.signature);
        let mut rest = template;
        while let Some(open) = rest.find('{') {
            out.push_str(&rest[..open]);
            let after = &rest[open + 1..];
            let close = after.find('}').unwrap_or(after.len());
            let name = &after[..close];
            out.push_str(fields.iter().find(|(n, _)| *n == name).map(|(_, v)| *v).unwrap_or(""));
            rest = after.get(close + 1..).unwrap_or("");
        }
        out.push_str(rest);
        out
    }
}

fn braced(names: &[&str]) -> String {
    names.iter().map(|n| format!("{{{n}}}")).collect::<Vec<_>>().join(" ")
}

/// A mainland mobile as the gateway wants it (11 digits), from what was typed at intake or
/// what a gateway reports (`+8613…`, `86 13…`, `138-0013-8000`); `None` for anything else
/// (landlines, service numbers), which cannot receive a text.
pub fn mobile(phone: &str) -> Option<String> {
    let digits: String = phone.chars().filter(|c| !matches!(c, ' ' | '-' | '+')).collect();
    if !digits.bytes().all(|b| b.is_ascii_digit()) {
        return None;
    }
    let digits = match digits.len() {
        13 if digits.starts_with("86") => digits[2..].to_string(),
        15 if digits.starts_with("0086") => digits[4..].to_string(),
        _ => digits,
    };
    let b = digits.as_bytes();
    (b.len() == 11 && b[0] == b'1' && (b'3'..=b'9').contains(&b[1])).then_some(digits)
}

/// One text to one number, ready for the outbox.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct OutgoingText {
    pub kind: SmsKind,
    pub ticket_id: Option<i64>,
    /// The event that caused it.
    pub event_seq: Option<i64>,
    /// Queueing the same key twice queues one text.
    pub dedupe_key: Option<String>,
    /// 11-digit mobile.
    pub recipient: String,
    pub body: String,
}

/// 免打扰时段, Beijing time: `from` in the evening to `to` in the morning.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct QuietHours {
    pub from: NaiveTime,
    pub to: NaiveTime,
}

impl QuietHours {
    /// Whether `at` falls in the quiet hours. `from == to` means no quiet hours.
    pub fn contains(&self, at: DateTime<Utc>) -> bool {
        let t = at.with_timezone(&china_offset()).time();
        if self.from == self.to {
            false
        } else if self.from < self.to {
            t >= self.from && t < self.to
        } else {
            t >= self.from || t < self.to
        }
    }

    /// `at` itself outside quiet hours, otherwise their end.
    pub fn next_allowed(&self, at: DateTime<Utc>) -> DateTime<Utc> {
        if !self.contains(at) {
            return at;
        }
        let local = at.with_timezone(&china_offset());
        let end_today = local.date_naive().and_time(self.to);
        let end = if local.time() < self.to { end_today } else { end_today + TimeDelta::days(1) };
        end.and_local_timezone(china_offset()).single().map_or(at, |d| d.with_timezone(&Utc))
    }
}

/// The start of the Beijing day `at` falls in, and of the next: the daily limit's window.
pub fn beijing_day(at: DateTime<Utc>) -> (DateTime<Utc>, DateTime<Utc>) {
    let day = at.with_timezone(&china_offset()).date_naive();
    let start = day.and_hms_opt(0, 0, 0).expect("midnight").and_local_timezone(china_offset()).unwrap();
    let start = start.with_timezone(&Utc);
    (start, start + TimeDelta::days(1))
}

/// What the queueing rule needs besides the ticket and the district.
#[derive(Debug, Clone, Copy)]
pub struct SmsSettings<'a> {
    pub templates: &'a SmsTemplates,
    /// The public tracking page, e.g. `https://12345.haichuan.gov.cn/track`.
    pub track_url: &'a str,
    pub quiet: QuietHours,
}

/// The texts an event causes, each with the instant it may go from. `ticket` is the ticket
/// after the event was applied.
pub fn texts_for_event(
    event: &Event,
    ticket: &Ticket,
    district: &District,
    settings: &SmsSettings,
) -> Vec<(OutgoingText, DateTime<Utc>)> {
    let t = settings.templates;
    let key = |kind: SmsKind, extra: &str| Some(format!("sms:{}:{}:{extra}", kind.as_str(), ticket.id));
    let department = |code: &str| district.department(code).map_or(code.to_string(), |d| d.short_name.clone());
    let contact = |code: &str| district.department(code).and_then(|d| mobile(&d.liaison_mobile));
    let street = ticket
        .street
        .as_deref()
        .and_then(|s| district.street(s))
        .map_or("街道未定".to_string(), |s| s.name.clone());
    let category = district.category(&ticket.category).map_or_else(|| ticket.category.clone(), |c| c.name.clone());
    let resident = || if ticket.callback_consent { mobile(&ticket.caller_phone) } else { None };
    let mut out = Vec::new();
    let mut push = |kind: SmsKind, to: Option<String>, dedupe: Option<String>, body: String| {
        if let Some(recipient) = to {
            out.push(OutgoingText {
                kind,
                ticket_id: Some(ticket.id),
                event_seq: Some(event.seq),
                dedupe_key: dedupe,
                recipient,
                body,
            });
        }
    };
    match &event.kind {
        EventKind::Received(_) => {
            let body = t.render(
                SmsKind::Receipt,
                &[
                    ("number", ticket.number.as_str()),
                    ("track_url", settings.track_url),
                    ("category", category.as_str()),
                ],
            );
            push(SmsKind::Receipt, resident(), key(SmsKind::Receipt, ""), body);
        }
        // A merged ticket's resident (并单) gets the answer of the ticket it followed.
        EventKind::Replied { outcome, text, .. } | EventKind::ReplyFollowed { outcome, text, .. } => {
            let d = match &event.kind {
                EventKind::Replied { department, .. } => department.clone(),
                _ => ticket.lead.clone().unwrap_or_default(),
            };
            let d = d.as_str();
            let reply = clip(text, REPLY_CHARS);
            let body = t.render(
                SmsKind::ReplyNotice,
                &[
                    ("number", ticket.number.as_str()),
                    ("department", department(d).as_str()),
                    ("outcome", outcome.label()),
                    ("reply", reply.as_str()),
                    ("category", category.as_str()),
                ],
            );
            push(SmsKind::ReplyNotice, resident(), key(SmsKind::ReplyNotice, &event.seq.to_string()), body);
        }
        // A callback call that did not reach the resident, with another attempt to come: the
        // resident may answer by text instead. One survey text per ticket.
        EventKind::CallbackRecorded { reached: false, department: d, .. }
            if ticket.status == super::types::Status::Replied =>
        {
            let body = t.render(
                SmsKind::Callback,
                &[
                    ("number", ticket.number.as_str()),
                    ("department", d.as_deref().map(department).unwrap_or_default().as_str()),
                    ("outcome", ticket.outcome.map(|o| o.label()).unwrap_or("")),
                    ("category", category.as_str()),
                ],
            );
            push(SmsKind::Callback, resident(), key(SmsKind::Callback, ""), body);
        }
        EventKind::ClockWarned { stage: Stage::Accept, department: Some(d), due_at, .. } => {
            let d = d.as_str();
            let due = due_at.with_timezone(&china_offset()).format("%m-%d %H:%M").to_string();
            let body = t.render(
                SmsKind::AcceptReminder,
                &[
                    ("number", ticket.number.as_str()),
                    ("department", department(d).as_str()),
                    ("category", category.as_str()),
                    ("street", street.as_str()),
                    ("due", due.as_str()),
                ],
            );
            push(
                SmsKind::AcceptReminder,
                contact(d),
                key(SmsKind::AcceptReminder, &format!("{d}:{}", due_at.timestamp())),
                body,
            );
        }
        EventKind::Dispatched { lead, .. } | EventKind::Redispatched { lead, .. }
            if ticket.urgency == Urgency::Urgent =>
        {
            // The summary is the request's words, never the caller's name or number; a
            // confidential request is not quoted at all (its words may name the caller).
            let summary = if ticket.confidential {
                "保密工单，请登录系统查看".to_string()
            } else {
                clip(&ticket.content, SUMMARY_CHARS)
            };
            let body = t.render(
                SmsKind::UrgentAlert,
                &[
                    ("number", ticket.number.as_str()),
                    ("department", department(lead.as_str()).as_str()),
                    ("category", category.as_str()),
                    ("street", street.as_str()),
                    ("summary", summary.as_str()),
                ],
            );
            push(
                SmsKind::UrgentAlert,
                contact(lead.as_str()),
                key(SmsKind::UrgentAlert, &format!("{lead}:{}", event.seq)),
                body,
            );
        }
        _ => {}
    }
    out.into_iter()
        .map(|text| {
            let at = if text.kind.urgent() { event.at } else { settings.quiet.next_allowed(event.at) };
            (text, at)
        })
        .collect()
}

fn clip(text: &str, max: usize) -> String {
    let one_line: String = text.split_whitespace().collect::<Vec<_>>().join(" ");
    if one_line.chars().count() <= max {
        return one_line;
    }
    let mut cut: String = one_line.chars().take(max).collect();
    cut.push('…');
    cut
}

/// What to do with a queued text now.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Gate {
    Send,
    /// Not now: quiet hours, or the number's daily limit is used up.
    WaitUntil(DateTime<Utc>),
    /// Never: the number replied TD.
    Suppress(&'static str),
}

/// Whether a text of `kind` may go to a number now, given how many texts that number got
/// today (Beijing day) and whether it opted out.
pub fn gate(
    kind: SmsKind,
    now: DateTime<Utc>,
    quiet: QuietHours,
    sent_today: i64,
    daily_limit: i64,
    opted_out: bool,
) -> Gate {
    if opted_out && !kind.essential() {
        return Gate::Suppress("退订: the number replied TD");
    }
    if kind.urgent() {
        return Gate::Send;
    }
    if quiet.contains(now) {
        return Gate::WaitUntil(quiet.next_allowed(now));
    }
    if sent_today >= daily_limit {
        let (_, tomorrow) = beijing_day(now);
        return Gate::WaitUntil(quiet.next_allowed(tomorrow));
    }
    Gate::Send
}

/// What a resident's text back means.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Reply {
    /// 1 / 2 / 3 to a callback text.
    Rating(Satisfaction),
    /// TD, 退订, T, N: no more non-essential texts.
    OptOut,
    /// Anything else: attached to the ticket for an operator (or queued when no ticket).
    Other(String),
    Empty,
}

/// Reads a reply: a lone digit 1–3 (fullwidth too, with optional trailing words such as
/// "1满意") is a rating; the opt-out words stop texts; anything else — "12", "2或3", "不是很满意"
/// — is for a person to read, never a guessed rating.
pub fn read_reply(text: &str) -> Reply {
    let normalized: String = text
        .trim()
        .chars()
        .map(|c| match c {
            '０'..='９' => char::from_u32(c as u32 - '０' as u32 + '0' as u32).unwrap_or(c),
            'ａ'..='ｚ' | 'Ａ'..='Ｚ' => char::from_u32(c as u32 - 0xFEE0).unwrap_or(c),
            _ => c,
        })
        .filter(|c| !c.is_whitespace() && !matches!(c, '。' | '.' | '，' | ',' | '!' | '！'))
        .collect();
    if normalized.is_empty() {
        return Reply::Empty;
    }
    let upper = normalized.to_uppercase();
    if matches!(upper.as_str(), "TD" | "退订" | "T" | "N" | "0000" | "UNSUBSCRIBE" | "STOP") {
        return Reply::OptOut;
    }
    let words = [
        ("1", "满意", Satisfaction::Satisfied),
        ("2", "基本满意", Satisfaction::BasicallySatisfied),
        ("3", "不满意", Satisfaction::Dissatisfied),
    ];
    for (digit, word, satisfaction) in words {
        if upper == digit || upper == format!("{digit}{word}") {
            return Reply::Rating(satisfaction);
        }
    }
    Reply::Other(text.trim().to_string())
}

/// The callback a rating by text records. The text asks one question; its answer stands for
/// both: 满意 as solved, 基本满意 as partly, 不满意 as not solved (and the ticket reopens as
/// after an unhappy call).
pub fn rating_report(satisfaction: Satisfaction) -> (Solved, Satisfaction, String) {
    let solved = match satisfaction {
        Satisfaction::Satisfied => Solved::Yes,
        Satisfaction::BasicallySatisfied => Solved::Partly,
        Satisfaction::Dissatisfied => Solved::No,
    };
    (solved, satisfaction, format!("短信回访：市民回复“{}”", satisfaction.label()))
}

/// How a text is encoded on the air.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Coding {
    /// GSM 03.38 default alphabet: 160 per message, 153 per part.
    Gsm7,
    /// UCS-2 (any Chinese): 70 per message, 67 per part.
    Ucs2,
}

/// How many messages a text costs.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Segments {
    pub coding: Coding,
    /// Septets (GSM-7, an extension character counting two) or UTF-16 units (UCS-2).
    pub units: usize,
    pub parts: usize,
}

const GSM_BASIC: &str = "@£$¥èéùìòÇ\nØø\rÅåΔ_ΦΓΛΩΠΨΣΘΞ\u{1b}ÆæßÉ !\"#¤%&'()*+,-./0123456789:;<=>?¡ABCDEFGHIJKLMNOPQRSTUVWXYZÄÖÑÜ§¿abcdefghijklmnopqrstuvwxyzäöñüà";
const GSM_EXTENSION: &str = "^{}\\[~]|€\u{c}";

pub fn segments(text: &str) -> Segments {
    let mut septets = 0usize;
    let mut gsm = true;
    for c in text.chars() {
        if GSM_BASIC.contains(c) && c != '\u{1b}' {
            septets += 1;
        } else if GSM_EXTENSION.contains(c) {
            septets += 2;
        } else {
            gsm = false;
            break;
        }
    }
    let (coding, units, single, part) =
        if gsm { (Coding::Gsm7, septets, 160, 153) } else { (Coding::Ucs2, text.encode_utf16().count(), 70, 67) };
    // An empty text still goes as one (empty) message.
    let parts = if units <= single { 1 } else { units.div_ceil(part) };
    Segments { coding, units, parts }
}

#[cfg(test)]
mod tests {
    use super::*;
    use chrono::TimeZone;

    const FILE: &str = include_str!("../../dispatch_rules/sms_templates.toml");

    fn templates() -> SmsTemplates {
        SmsTemplates::parse((TEMPLATES_FILE, FILE)).expect("shipped templates parse")
    }

    fn beijing(h: u32, m: u32) -> DateTime<Utc> {
        china_offset().with_ymd_and_hms(2026, 12, 7, h, m, 0).unwrap().with_timezone(&Utc)
    }

    fn quiet() -> QuietHours {
        QuietHours { from: NaiveTime::from_hms_opt(21, 0, 0).unwrap(), to: NaiveTime::from_hms_opt(8, 0, 0).unwrap() }
    }

    #[test]
    fn the_shipped_templates_are_accepted_and_fill_in() {
        let t = templates();
        let text = t.render(SmsKind::Receipt, &[("number", "20261207-000001"), ("track_url", "https://x/track")]);
        assert!(text.starts_with("【海川12345】您的诉求已受理，工单号20261207-000001。"), "{text}");
        assert!(text.contains("https://x/track"));
        assert!(text.contains("后4位"));
    }

    #[test]
    fn template_mistakes_are_reported_with_their_line() {
        let broken = FILE
            .replace("工单号{number}。可在{track_url}", "工单号{numbr}。可在")
            .replace("请回复数字：1 满意 2 基本满意 3 不满意", "请回复");
        let errors = SmsTemplates::parse((TEMPLATES_FILE, &broken)).unwrap_err();
        let line_of = |needle: &str| broken.lines().position(|l| l.contains(needle)).unwrap() + 1;
        let receipt_line = line_of("工单号{numbr}");
        assert!(
            errors.iter().any(|e| e.line == receipt_line && e.message.contains("unknown placeholder {numbr}")),
            "{errors:?}"
        );
        assert!(errors.iter().any(|e| e.line == receipt_line && e.message.contains("must contain {track_url}")));
        let callback_line = line_of("回访：您对办理结果是否满意？请回复");
        assert!(errors.iter().any(|e| e.line == callback_line && e.message.contains("1 满意")), "{errors:?}");
        let unsigned = FILE.replace("signature = \"【海川12345】\"", "signature = \"海川12345\"");
        let errors = SmsTemplates::parse((TEMPLATES_FILE, &unsigned)).unwrap_err();
        assert_eq!(errors[0].line, line_of_in(&unsigned, "signature ="));
        let missing = FILE.replace("[urgent_alert]", "[urgent]");
        assert!(SmsTemplates::parse((TEMPLATES_FILE, &missing)).is_err());
    }

    fn line_of_in(text: &str, needle: &str) -> usize {
        text.lines().position(|l| l.starts_with(needle)).unwrap() + 1
    }

    #[test]
    fn only_mainland_mobiles_are_texted() {
        assert_eq!(mobile("13800138000").as_deref(), Some("13800138000"));
        assert_eq!(mobile("+86 138-0013-8000").as_deref(), Some("13800138000"));
        assert_eq!(mobile("008613800138000").as_deref(), Some("13800138000"));
        assert_eq!(mobile("010-83860015"), None);
        assert_eq!(mobile("12345"), None);
        assert_eq!(mobile("12800138000"), None);
        assert_eq!(mobile("1380013800a"), None);
    }

    #[test]
    fn quiet_hours_hold_texts_until_morning_but_not_urgent_ones() {
        let q = quiet();
        assert!(q.contains(beijing(22, 30)));
        assert!(q.contains(beijing(7, 59)));
        assert!(!q.contains(beijing(8, 0)));
        assert_eq!(q.next_allowed(beijing(22, 30)), beijing(8, 0) + TimeDelta::days(1));
        assert_eq!(q.next_allowed(beijing(3, 0)), beijing(8, 0));
        assert_eq!(q.next_allowed(beijing(12, 0)), beijing(12, 0));
        assert_eq!(
            gate(SmsKind::Receipt, beijing(23, 0), q, 0, 5, false),
            Gate::WaitUntil(beijing(8, 0) + TimeDelta::days(1))
        );
        assert_eq!(gate(SmsKind::UrgentAlert, beijing(23, 0), q, 99, 5, false), Gate::Send);
        let none = QuietHours { from: q.from, to: q.from };
        assert!(!none.contains(beijing(23, 0)));
    }

    #[test]
    fn a_number_gets_at_most_the_daily_limit_and_the_rest_waits_for_tomorrow() {
        let q = quiet();
        assert_eq!(gate(SmsKind::ReplyNotice, beijing(10, 0), q, 4, 5, false), Gate::Send);
        assert_eq!(
            gate(SmsKind::ReplyNotice, beijing(10, 0), q, 5, 5, false),
            Gate::WaitUntil(beijing(8, 0) + TimeDelta::days(1))
        );
        let (start, end) = beijing_day(beijing(0, 30));
        assert_eq!(start, beijing(0, 0));
        assert_eq!(end, beijing(0, 0) + TimeDelta::days(1));
    }

    #[test]
    fn td_stops_resident_texts_but_not_a_contacts_duty_texts() {
        let q = quiet();
        assert!(matches!(gate(SmsKind::Receipt, beijing(10, 0), q, 0, 5, true), Gate::Suppress(_)));
        assert!(matches!(gate(SmsKind::Callback, beijing(10, 0), q, 0, 5, true), Gate::Suppress(_)));
        assert_eq!(gate(SmsKind::AcceptReminder, beijing(10, 0), q, 0, 5, true), Gate::Send);
    }

    #[test]
    fn replies_are_read_as_residents_type_them() {
        assert_eq!(read_reply(" 1 "), Reply::Rating(Satisfaction::Satisfied));
        assert_eq!(read_reply("２"), Reply::Rating(Satisfaction::BasicallySatisfied));
        assert_eq!(read_reply("3不满意"), Reply::Rating(Satisfaction::Dissatisfied));
        assert_eq!(read_reply("1。"), Reply::Rating(Satisfaction::Satisfied));
        assert_eq!(read_reply("td"), Reply::OptOut);
        assert_eq!(read_reply("退订"), Reply::OptOut);
        assert_eq!(read_reply("ＴＤ"), Reply::OptOut);
        // Unclear answers go to a person, never a guessed rating.
        assert_eq!(read_reply("12"), Reply::Other("12".into()));
        assert_eq!(read_reply("2或3吧"), Reply::Other("2或3吧".into()));
        assert_eq!(read_reply("不是很满意，路灯还是不亮"), Reply::Other("不是很满意，路灯还是不亮".into()));
        assert_eq!(read_reply("   "), Reply::Empty);
    }

    fn event(seq: i64, at: DateTime<Utc>, kind: EventKind) -> Event {
        use super::super::event::ActorRef;
        use super::super::types::Role;
        let actor = ActorRef { user_id: 2, username: "operator".into(), role: Role::Operator, department: None };
        Event { seq, ticket_id: 7, at, actor, kind }
    }

    fn received(at: DateTime<Utc>, urgency: Urgency, confidential: bool, consent: bool) -> (Event, Ticket) {
        use super::super::event::Received;
        use super::super::types::{Channel, Kind};
        let district = District::demo();
        let e = event(
            1,
            at,
            EventKind::Received(Received {
                number: "20261207-000042".into(),
                kind: Kind::Complaint,
                channel: Channel::Phone,
                urgency,
                category: district.leaf_categories().next().unwrap().code.clone(),
                street: Some(district.streets[0].code.clone()),
                community: None,
                address: "小区3号楼东侧".into(),
                content: "王小明反映楼下燃气味很重，担心泄漏".into(),
                caller_name: "王小明".into(),
                caller_phone: "13812345678".into(),
                confidential,
                callback_consent: consent,
                call_id: None,
            }),
        );
        let t = super::super::ticket::apply(None, &e);
        (e, t)
    }

    fn texts(e: &Event, t: &Ticket) -> Vec<(OutgoingText, DateTime<Utc>)> {
        let templates = templates();
        let settings = SmsSettings { templates: &templates, track_url: "https://x.gov.cn/track", quiet: quiet() };
        texts_for_event(e, t, &District::demo(), &settings)
    }

    #[test]
    fn intake_texts_a_receipt_to_the_caller_unless_they_declined_contact() {
        let (e, t) = received(beijing(10, 0), Urgency::Normal, false, true);
        let out = texts(&e, &t);
        assert_eq!(out.len(), 1);
        let (text, at) = &out[0];
        assert_eq!((text.kind, text.recipient.as_str(), *at), (SmsKind::Receipt, "13812345678", beijing(10, 0)));
        assert!(text.body.contains("20261207-000042") && text.body.contains("https://x.gov.cn/track"));
        assert_eq!(text.dedupe_key.as_deref(), Some("sms:receipt:7:"));
        let (e, t) = received(beijing(10, 0), Urgency::Normal, false, false);
        assert!(texts(&e, &t).is_empty(), "declined contact: no text at all");
        // Taken at night: the receipt waits for the morning.
        let (e, t) = received(beijing(23, 30), Urgency::Normal, false, true);
        assert_eq!(texts(&e, &t)[0].1, beijing(8, 0) + TimeDelta::days(1));
    }

    #[test]
    fn urgent_dispatch_alerts_the_contact_at_night_without_the_callers_data() {
        let district = District::demo();
        let lead = district.departments.iter().find(|d| mobile(&d.liaison_mobile).is_some()).unwrap();
        for confidential in [false, true] {
            let (_, t) = received(beijing(23, 0), Urgency::Urgent, confidential, true);
            let e = event(
                2,
                beijing(23, 5),
                EventKind::Dispatched {
                    lead: lead.code.clone(),
                    assists: Vec::new(),
                    note: None,
                    sla_policy: None,
                    rule_id: None,
                    rules_version: None,
                },
            );
            let t = super::super::ticket::apply(Some(t), &e);
            let out = texts(&e, &t);
            assert_eq!(out.len(), 1, "{out:?}");
            let (text, at) = &out[0];
            assert_eq!(text.kind, SmsKind::UrgentAlert);
            assert_eq!(text.recipient, mobile(&lead.liaison_mobile).unwrap());
            assert_eq!(*at, beijing(23, 5), "urgent alerts are not held for quiet hours");
            assert!(!text.body.contains("13812345678"), "{}", text.body);
            assert!(!text.body.contains("王小明") || !confidential, "{}", text.body);
            assert_eq!(text.body.contains("燃气味"), !confidential, "{}", text.body);
        }
    }

    #[test]
    fn segments_count_gsm7_and_ucs2_as_phones_do() {
        let s = segments(&"a".repeat(160));
        assert_eq!((s.coding, s.units, s.parts), (Coding::Gsm7, 160, 1));
        assert_eq!(segments(&"a".repeat(161)).parts, 2);
        assert_eq!(segments(&"a".repeat(306)).parts, 2);
        assert_eq!(segments(&"a".repeat(307)).parts, 3);
        // An extension character takes two septets.
        let s = segments(&format!("{}€", "a".repeat(159)));
        assert_eq!((s.coding, s.units, s.parts), (Coding::Gsm7, 161, 2));
        // One Chinese character makes the whole text UCS-2.
        let s = segments(&"市".repeat(70));
        assert_eq!((s.coding, s.units, s.parts), (Coding::Ucs2, 70, 1));
        assert_eq!(segments(&"市".repeat(71)).parts, 2);
        assert_eq!(segments(&"市".repeat(134)).parts, 2);
        assert_eq!(segments(&"市".repeat(135)).parts, 3);
        assert_eq!(segments(&format!("TD{}", "a".repeat(100))).coding, Coding::Gsm7);
        assert_eq!(segments(&format!("{}号", "a".repeat(69))).parts, 1);
        // Outside the BMP a character takes two UCS-2 units.
        assert_eq!(segments(&"😀".repeat(35)).units, 70);
        assert_eq!(segments(&"😀".repeat(36)).parts, 2);
        assert_eq!(segments("").parts, 1);
    }

    #[test]
    fn a_shipped_receipt_fits_two_parts() {
        let t = templates();
        let text = t.render(
            SmsKind::Receipt,
            &[("number", "20261207-000123"), ("track_url", "https://12345.haichuan.gov.cn/track")],
        );
        assert_eq!(segments(&text).coding, Coding::Ucs2);
        assert!(segments(&text).parts <= 2, "{}", segments(&text).parts);
    }
}
