//! Open311 GeoReport v2 (<http://wiki.open311.org/GeoReport_v2>): the standard door through
//! which partner apps, mini-programs and platforms file and follow requests.
//!
//! Rules kept here (no IO):
//! * **services** are the taxonomy's leaf categories (`service_code` = the category code,
//!   `service_name` its Chinese name, `group` the path of the levels above it); every service
//!   has one attribute, `kind` (诉求类型), since a ticket needs one and the standard has none;
//!   left out it is 求助 (help: "please fix this" is what civic-issue apps send);
//! * a **request** becomes an ordinary new ticket on the 网上 channel, checked by the intake
//!   rules like the public form's: a location is required (`lat`+`long`, or
//!   `address_string`), coordinates must be decimal degrees on Earth, an unknown or upper-level
//!   service code is 404. A phone is optional: without one nobody calls back;
//! * **reads** (`requests`, `requests/{id}`) never carry the caller's name, phone or e-mail,
//!   and confidential (保密) tickets are never listed nor found. Description, address and
//!   location are given back only for requests a partner filed through the standard (their
//!   apps publish them anyway); of tickets from calls and the centre's own form, only the
//!   service, the progress and the answer are shown, as on the public tracking page;
//! * `status` is `closed` once the ticket is archived (归档), `open` before; `status_notes`
//!   is the department's public answer once given, else the progress in words;
//!   `service_notice` and `expected_datetime` give the reply deadline in force;
//! * errors are the standard's list of `{code, description}`, `code` the HTTP status.
//!
//! Requests are identified by the ticket number (`20261122-000123`).

use super::district::District;
use super::event::EventKind;
use super::intake::{self, NewTicket};
use super::lifecycle::{Actor, DecisionError};
use super::ticket::Ticket;
use super::types::{Channel, Kind, Role, Status, Urgency};
use chrono::{DateTime, FixedOffset, SecondsFormat, Utc};
use serde::Serialize;
use sha2::{Digest, Sha256};
use std::collections::BTreeMap;

/// Where the standard is written; discovery names it.
pub const SPECIFICATION: &str = "http://wiki.open311.org/GeoReport_v2";

/// When this endpoint's interface last changed (discovery's `changeset`).
pub const CHANGESET: &str = "2026-12-07T00:00:00+08:00";

/// The most requests one listing answers (the standard's suggested ceiling).
pub const MAX_LISTED: usize = 1000;

/// Days a listing covers when neither `start_date` nor `end_date` is given.
pub const DEFAULT_DAYS: i64 = 90;

/// The attribute every service has: the ticket's kind.
pub const KIND_ATTRIBUTE: &str = "kind";

/// What a request is when the partner does not say.
pub const DEFAULT_KIND: Kind = Kind::Help;

/// A GeoReport error: its HTTP status is its code.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum Open311Error {
    #[error("{0}")]
    BadRequest(String),
    #[error("{0}")]
    Forbidden(String),
    #[error("{0}")]
    NotFound(String),
    #[error("{0}")]
    TooManyRequests(String),
    #[error("{0}")]
    Unavailable(String),
    #[error("internal error")]
    Internal,
}

impl Open311Error {
    pub fn status(&self) -> u16 {
        match self {
            Open311Error::BadRequest(_) => 400,
            Open311Error::Forbidden(_) => 403,
            Open311Error::NotFound(_) => 404,
            Open311Error::TooManyRequests(_) => 429,
            Open311Error::Unavailable(_) => 503,
            Open311Error::Internal => 500,
        }
    }

    /// The standard's error list (one error).
    pub fn errors(&self) -> Vec<ErrorItem> {
        vec![ErrorItem { code: self.status(), description: self.to_string() }]
    }
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct ErrorItem {
    pub code: u16,
    pub description: String,
}

/// The two formats the standard defines; every resource ends in one (`services.xml`).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Format {
    Json,
    Xml,
}

/// Splits `services.json` into the resource and its format; `01.02.03.xml` keeps its dots.
pub fn split_format(segment: &str) -> Result<(&str, Format), Open311Error> {
    let unknown =
        || Open311Error::NotFound(format!("\"{segment}\" does not end in .json or .xml (the response format)"));
    let (name, ext) = segment.rsplit_once('.').ok_or_else(unknown)?;
    let format = match ext.to_ascii_lowercase().as_str() {
        "json" => Format::Json,
        "xml" => Format::Xml,
        _ => return Err(unknown()),
    };
    if name.is_empty() {
        return Err(unknown());
    }
    Ok((name, format))
}

/// `jurisdiction_id`, when given, must be the one this server answers for.
pub fn check_jurisdiction(given: Option<&str>, ours: &str) -> Result<(), Open311Error> {
    match given.map(str::trim).filter(|g| !g.is_empty()) {
        Some(g) if g != ours => {
            Err(Open311Error::NotFound(format!("jurisdiction_id \"{g}\" is not served here; this is \"{ours}\"")))
        }
        _ => Ok(()),
    }
}

// ---- discovery ----------------------------------------------------------------------------

#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Discovery {
    pub changeset: &'static str,
    pub contact: String,
    pub key_service: String,
    pub endpoints: Vec<Endpoint>,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Endpoint {
    pub specification: &'static str,
    pub url: String,
    pub changeset: &'static str,
    #[serde(rename = "type")]
    pub kind: &'static str,
    pub formats: Vec<&'static str>,
}

pub fn discovery(public_base_url: &str) -> Discovery {
    let base = public_base_url.trim_end_matches('/');
    Discovery {
        changeset: CHANGESET,
        contact: format!("12345 政务服务便民热线 {base}"),
        key_service: "api_key 由热线中心管理员为每个合作平台签发（hotline open311 key add 合作方名称）".into(),
        endpoints: vec![Endpoint {
            specification: SPECIFICATION,
            url: format!("{base}/open311/v2"),
            changeset: CHANGESET,
            kind: "production",
            formats: vec!["text/xml", "application/json"],
        }],
    }
}

// ---- services -----------------------------------------------------------------------------

#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Service {
    pub service_code: String,
    pub service_name: String,
    pub description: String,
    pub metadata: bool,
    #[serde(rename = "type")]
    pub kind: &'static str,
    pub keywords: String,
    pub group: String,
}

/// Every leaf category as a service, in the taxonomy's order.
pub fn services(district: &District) -> Vec<Service> {
    district
        .leaf_categories()
        .map(|c| {
            let path = district.category_path(&c.code).unwrap_or_else(|| c.name.clone());
            let group = path.rsplit_once(" / ").map(|(upper, _)| upper.to_string()).unwrap_or_default();
            Service {
                service_code: c.code.clone(),
                service_name: c.name.clone(),
                description: path,
                metadata: true,
                kind: "realtime",
                keywords: c.words.join(","),
                group,
            }
        })
        .collect()
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct ServiceDefinition {
    pub service_code: String,
    pub attributes: Vec<Attribute>,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Attribute {
    pub variable: bool,
    pub code: &'static str,
    pub datatype: &'static str,
    pub required: bool,
    pub datatype_description: String,
    pub order: u32,
    pub description: String,
    pub values: Vec<AttributeValue>,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct AttributeValue {
    pub key: &'static str,
    pub name: &'static str,
}

fn leaf<'a>(district: &'a District, code: &str) -> Result<&'a super::district::Category, Open311Error> {
    district.category(code).filter(|_| district.is_leaf_category(code)).ok_or_else(|| {
        Open311Error::NotFound(format!("service_code \"{code}\" is not a service here (see services.json)"))
    })
}

pub fn service_definition(district: &District, code: &str) -> Result<ServiceDefinition, Open311Error> {
    let category = leaf(district, code)?;
    Ok(ServiceDefinition {
        service_code: category.code.clone(),
        attributes: vec![Attribute {
            variable: true,
            code: KIND_ATTRIBUTE,
            datatype: "singlevaluelist",
            required: false,
            datatype_description: format!("诉求类型；不填为{}", DEFAULT_KIND.label()),
            order: 1,
            description: "诉求类型".into(),
            values: Kind::ALL.iter().map(|k| AttributeValue { key: k.as_str(), name: k.label() }).collect(),
        }],
    })
}

// ---- filing a request ---------------------------------------------------------------------

/// The form a partner posts (`application/x-www-form-urlencoded`), read from its pairs.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct RequestForm {
    pub api_key: Option<String>,
    pub jurisdiction_id: Option<String>,
    pub service_code: String,
    pub lat: Option<String>,
    pub long: Option<String>,
    pub address_string: Option<String>,
    pub email: Option<String>,
    pub first_name: Option<String>,
    pub last_name: Option<String>,
    pub phone: Option<String>,
    pub description: Option<String>,
    pub media_url: Option<String>,
    /// `attribute[code]=value`.
    pub attributes: BTreeMap<String, String>,
}

impl RequestForm {
    /// Reads the pairs; blank values count as absent. Parameters the standard defines that the
    /// centre does not keep (`device_id`, `account_id`, `address_id`) are accepted and ignored.
    pub fn from_pairs(pairs: Vec<(String, String)>) -> RequestForm {
        let mut form = RequestForm::default();
        for (name, value) in pairs {
            let value = value.trim().to_string();
            if value.is_empty() {
                continue;
            }
            let slot = match name.as_str() {
                "api_key" => &mut form.api_key,
                "jurisdiction_id" => &mut form.jurisdiction_id,
                "service_code" => {
                    form.service_code = value;
                    continue;
                }
                "lat" => &mut form.lat,
                "long" => &mut form.long,
                "address_string" => &mut form.address_string,
                "email" => &mut form.email,
                "first_name" => &mut form.first_name,
                "last_name" => &mut form.last_name,
                "phone" => &mut form.phone,
                "description" => &mut form.description,
                "media_url" => &mut form.media_url,
                other => {
                    if let Some(code) = other.strip_prefix("attribute[").and_then(|r| r.strip_suffix(']')) {
                        form.attributes.insert(code.to_string(), value);
                    }
                    continue;
                }
            };
            *slot = Some(value);
        }
        form
    }
}

/// A checked request: the ticket to log and what the history keeps beside it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Filing {
    pub ticket: NewTicket,
    pub lat: Option<String>,
    pub long: Option<String>,
    pub address_string: Option<String>,
    pub email: Option<String>,
    pub media_url: Option<String>,
}

impl Filing {
    /// The history's record of who filed it and what came with it.
    pub fn event(&self, partner: &str, token: &str) -> EventKind {
        EventKind::PartnerFiled {
            partner: partner.to_string(),
            token: token.to_string(),
            lat: self.lat.clone(),
            long: self.long.clone(),
            address_string: self.address_string.clone(),
            email: self.email.clone(),
            media_url: self.media_url.clone(),
        }
    }
}

const MAX_EMAIL: usize = 254;
const MAX_URL: usize = 2000;

fn bad(message: impl Into<String>) -> Open311Error {
    Open311Error::BadRequest(message.into())
}

/// Decimal degrees within `limit`, normalised (`+37.50` → `37.5`).
fn coordinate(name: &str, value: &str, limit: f64) -> Result<String, Open311Error> {
    let parsed: f64 = value
        .parse()
        .ok()
        .filter(|v: &f64| v.is_finite())
        .ok_or_else(|| bad(format!("{name} must be a number of decimal degrees (WGS-84), not \"{value}\"")))?;
    if parsed.abs() > limit {
        return Err(bad(format!("{name} must be between -{limit} and {limit}, not {value}")));
    }
    Ok(parsed.to_string())
}

/// `Chinese family name + given name` with no space; Latin names `first last`.
fn caller_name(first: Option<&str>, last: Option<&str>) -> String {
    let cjk = |s: &str| s.chars().any(|c| ('\u{4e00}'..='\u{9fff}').contains(&c));
    match (first, last) {
        (Some(f), Some(l)) if cjk(f) || cjk(l) => format!("{l}{f}"),
        (Some(f), Some(l)) => format!("{f} {l}"),
        (Some(one), None) | (None, Some(one)) => one.to_string(),
        (None, None) => String::new(),
    }
}

/// The intake rules name fields as the console does; the standard calls them otherwise.
fn standard_field(field: &str) -> &str {
    match field {
        "content" => "description",
        "address" => "address_string",
        "caller_phone" => "phone",
        "caller_name" => "first_name/last_name",
        "category" => "service_code",
        other => other,
    }
}

/// Checks a partner's request and makes it a 网上 ticket. Nothing is decided about routing
/// here: the ticket goes the intake road like any other.
pub fn check_request(form: &RequestForm, district: &District) -> Result<Filing, Open311Error> {
    if form.service_code.is_empty() {
        return Err(bad("service_code is required (see services.json)"));
    }
    let category = leaf(district, &form.service_code)?;
    let (lat, long) = match (&form.lat, &form.long) {
        (Some(lat), Some(long)) => (Some(coordinate("lat", lat, 90.0)?), Some(coordinate("long", long, 180.0)?)),
        (None, None) => (None, None),
        _ => return Err(bad("lat and long come together: give both, or address_string alone")),
    };
    if lat.is_none() && form.address_string.is_none() {
        return Err(bad("a location is required: lat and long, or address_string"));
    }
    if let Some(email) = &form.email {
        let well_formed = email.len() <= MAX_EMAIL
            && !email.chars().any(char::is_whitespace)
            && email.split_once('@').is_some_and(|(local, domain)| !local.is_empty() && domain.contains('.'));
        if !well_formed {
            return Err(bad(format!("email \"{email}\" is not an e-mail address")));
        }
    }
    if let Some(url) = &form.media_url {
        if !(url.starts_with("http://") || url.starts_with("https://")) || url.len() > MAX_URL {
            return Err(bad(format!(
                "media_url must be an http:// or https:// address of at most {MAX_URL} characters"
            )));
        }
    }
    let mut kind = DEFAULT_KIND;
    for (code, value) in &form.attributes {
        if code != KIND_ATTRIBUTE {
            return Err(bad(format!(
                "attribute[{code}] is not an attribute of service {} (see services/{}.json)",
                category.code, category.code
            )));
        }
        kind = value.parse().map_err(|e: String| bad(format!("attribute[{KIND_ATTRIBUTE}]: {e}")))?;
    }
    let address = match (&form.address_string, &lat, &long) {
        (Some(a), _, _) => a.clone(),
        (None, Some(lat), Some(long)) => format!("坐标 {lat},{long}"),
        _ => String::new(),
    };
    let phone = form.phone.clone().unwrap_or_default();
    let ticket = intake::validate(
        NewTicket {
            kind,
            channel: Channel::Web,
            urgency: Urgency::Normal,
            category: category.code.clone(),
            street: None,
            community: None,
            address,
            content: form.description.clone().unwrap_or_else(|| category.name.clone()),
            caller_name: caller_name(form.first_name.as_deref(), form.last_name.as_deref()),
            callback_consent: !phone.is_empty(),
            caller_phone: phone,
            confidential: false,
            call_id: None,
        },
        district,
    )
    .map_err(|e| match e {
        DecisionError::Invalid { field, message } => {
            bad(format!("{}: {}", standard_field(field), message.replacen(field, standard_field(field), 1)))
        }
        other => bad(other.to_string()),
    })?;
    Ok(Filing {
        ticket,
        lat,
        long,
        address_string: form.address_string.clone(),
        email: form.email.clone(),
        media_url: form.media_url.clone(),
    })
}

/// The actor a partner's requests are logged by: its name is what the history shows.
pub fn partner_actor(partner: &str) -> Actor {
    Actor {
        user_id: 0,
        username: format!("open311:{partner}"),
        role: Role::Operator,
        department: None,
        units: Vec::new(),
    }
}

/// A partner's name, as the admin gives it.
pub fn check_partner(name: &str) -> Result<String, &'static str> {
    let n = name.trim();
    if n.is_empty() || n.chars().count() > 100 {
        return Err("partner must be 1 to 100 characters");
    }
    if n.chars().any(char::is_control) {
        return Err("partner must not contain control characters");
    }
    Ok(n.to_string())
}

/// Keys are kept only as this digest.
pub fn key_hash(api_key: &str) -> String {
    hex::encode(Sha256::digest(api_key.trim().as_bytes()))
}

// ---- reading requests ---------------------------------------------------------------------

/// What a partner's filing left beside the ticket (the `open311_requests` row).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Filed {
    pub ticket_id: i64,
    pub token: String,
    pub lat: Option<String>,
    pub long: Option<String>,
    pub address_string: Option<String>,
    pub media_url: Option<String>,
}

/// The answer to a POST: the number, and what the resident may expect.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Accepted {
    pub service_request_id: String,
    pub token: String,
    pub service_notice: String,
    pub account_id: Option<String>,
}

#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct ServiceRequest {
    pub service_request_id: String,
    pub status: &'static str,
    pub status_notes: String,
    pub service_name: String,
    pub service_code: String,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub description: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub agency_responsible: Option<String>,
    pub service_notice: String,
    pub requested_datetime: String,
    pub updated_datetime: String,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub expected_datetime: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub address: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub lat: Option<f64>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub long: Option<f64>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub media_url: Option<String>,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct TokenAnswer {
    pub service_request_id: String,
    pub token: String,
}

fn beijing() -> FixedOffset {
    FixedOffset::east_opt(8 * 3600).expect("+08:00")
}

/// ISO 8601 with the offset, in Beijing time: `2026-11-23T10:00:00+08:00`.
pub fn datetime(at: DateTime<Utc>) -> String {
    at.with_timezone(&beijing()).to_rfc3339_opts(SecondsFormat::Secs, false)
}

/// What the resident is told to expect, with the reply deadline in force.
pub fn service_notice(t: &Ticket) -> String {
    let due = |at: DateTime<Utc>| at.with_timezone(&beijing()).format("%Y-%m-%d %H:%M").to_string();
    match t.status {
        Status::Closed => "已办结".into(),
        Status::Merged => "已并入同类诉求一并办理，答复相同".into(),
        Status::Replied => "承办单位已答复，热线将回访".into(),
        Status::Received => "已受理，将按规定时限转交承办单位办理".into(),
        _ => match t.reply_due_at {
            Some(at) => format!("承办单位应于 {}（北京时间）前答复", due(at)),
            None => "承办单位办理中".into(),
        },
    }
}

/// A ticket as the standard shows it. Confidential tickets must not get here (the callers
/// filter them); nothing of the caller is copied.
pub fn service_request(t: &Ticket, filed: Option<&Filed>, district: &District) -> ServiceRequest {
    let answered = matches!(t.status, Status::Replied | Status::Closed) && t.reply.is_some();
    let status_notes = match (answered, t.status) {
        (true, _) => t.reply.clone().unwrap_or_default(),
        (false, Status::Received) => "已受理".into(),
        (false, Status::Dispatched | Status::ReturnRequested) => "已转交承办单位".into(),
        (false, Status::Closed) => "已办结".into(),
        (false, Status::Merged) => "已并入同类诉求办理".into(),
        (false, _) => "办理中".into(),
    };
    let agency = t
        .lead
        .as_deref()
        .filter(|_| t.status != Status::Received)
        .and_then(|l| district.department(l))
        .map(|d| d.name.clone());
    let open = !matches!(t.status, Status::Closed | Status::Replied | Status::Merged);
    let number = |s: &Option<String>| s.as_deref().and_then(|v| v.parse::<f64>().ok());
    ServiceRequest {
        service_request_id: t.number.clone(),
        status: if t.status == Status::Closed { "closed" } else { "open" },
        status_notes,
        service_name: district.category(&t.category).map(|c| c.name.clone()).unwrap_or_else(|| t.category.clone()),
        service_code: t.category.clone(),
        description: filed.map(|_| t.content.clone()),
        agency_responsible: agency,
        service_notice: service_notice(t),
        requested_datetime: datetime(t.created_at),
        updated_datetime: datetime(t.updated_at),
        expected_datetime: t.reply_due_at.filter(|_| open).map(datetime),
        address: filed.and_then(|f| f.address_string.clone()),
        lat: filed.and_then(|f| number(&f.lat)),
        long: filed.and_then(|f| number(&f.long)),
        media_url: filed.and_then(|f| f.media_url.clone()),
    }
}

/// The listing's filters, checked.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Listing {
    /// When given, the other filters are ignored (the standard says so).
    pub numbers: Vec<String>,
    pub service_codes: Vec<String>,
    pub from: DateTime<Utc>,
    pub to: Option<DateTime<Utc>>,
    /// Empty: both.
    pub statuses: Vec<Status>,
}

fn w3c(name: &str, value: &str) -> Result<DateTime<Utc>, Open311Error> {
    DateTime::parse_from_rfc3339(value)
        .map(|d| d.with_timezone(&Utc))
        .map_err(|_| bad(format!("{name} must be a W3C datetime such as 2026-11-01T00:00:00+08:00, not \"{value}\"")))
}

fn list(value: Option<&str>) -> Vec<String> {
    value.unwrap_or("").split(',').map(str::trim).filter(|s| !s.is_empty()).map(str::to_string).collect()
}

/// Reads `service_request_id`, `service_code`, `start_date`, `end_date`, `status`.
pub fn listing(
    query: &BTreeMap<String, String>,
    district: &District,
    now: DateTime<Utc>,
) -> Result<Listing, Open311Error> {
    let get = |k: &str| query.get(k).map(String::as_str);
    let numbers = list(get("service_request_id"));
    for n in &numbers {
        super::public::check_number(n).map_err(|m| bad(format!("service_request_id \"{n}\": {m}")))?;
    }
    let service_codes = list(get("service_code"));
    for code in &service_codes {
        leaf(district, code)?;
    }
    let from = get("start_date").filter(|s| !s.trim().is_empty()).map(|s| w3c("start_date", s.trim())).transpose()?;
    let to = get("end_date").filter(|s| !s.trim().is_empty()).map(|s| w3c("end_date", s.trim())).transpose()?;
    if let (Some(f), Some(t)) = (from, to) {
        if f > t {
            return Err(bad("start_date must not be after end_date"));
        }
    }
    let days = chrono::Duration::days(DEFAULT_DAYS);
    let from = from.unwrap_or_else(|| to.unwrap_or(now) - days);
    let mut statuses = Vec::new();
    for s in list(get("status")) {
        match s.as_str() {
            "open" => statuses.extend(Status::ALL.iter().copied().filter(|s| *s != Status::Closed)),
            "closed" => statuses.push(Status::Closed),
            other => return Err(bad(format!("status must be open or closed, not \"{other}\""))),
        }
    }
    if statuses.len() == Status::ALL.len() {
        statuses.clear();
    }
    Ok(Listing { numbers, service_codes, from, to, statuses })
}

// ---- XML ----------------------------------------------------------------------------------
// The standard's XML nests lists in a plural element (`<services><service>…`); JSON gives the
// bare arrays. These wrappers give quick-xml the element names.

#[derive(Serialize)]
struct Many<'a, T> {
    #[serde(rename = "$value")]
    items: Vec<Named<'a, T>>,
}

#[derive(Serialize)]
enum Named<'a, T> {
    #[serde(rename = "service")]
    Service(&'a T),
    #[serde(rename = "request")]
    Request(&'a T),
    #[serde(rename = "error")]
    Error(&'a T),
}

fn xml_document<T: Serialize>(root: &str, value: &T) -> String {
    let body = quick_xml::se::to_string_with_root(root, value).unwrap_or_else(|e| {
        // Every type serialised here is plain data: failing is a programming error, answered
        // as the standard's error rather than a panic.
        format!("<errors><error><code>500</code><description>{e}</description></error></errors>")
    });
    format!("<?xml version=\"1.0\" encoding=\"utf-8\"?>{body}")
}

pub fn services_xml(services: &[Service]) -> String {
    xml_document("services", &Many { items: services.iter().map(Named::Service).collect() })
}

pub fn requests_xml<T: Serialize>(requests: &[T]) -> String {
    xml_document("service_requests", &Many { items: requests.iter().map(Named::Request).collect() })
}

pub fn errors_xml(errors: &[ErrorItem]) -> String {
    xml_document("errors", &Many { items: errors.iter().map(Named::Error).collect() })
}

pub fn definition_xml(d: &ServiceDefinition) -> String {
    #[derive(Serialize)]
    struct Definition<'a> {
        service_code: &'a str,
        attributes: Attributes<'a>,
    }
    #[derive(Serialize)]
    struct Attributes<'a> {
        attribute: Vec<XmlAttribute<'a>>,
    }
    #[derive(Serialize)]
    struct XmlAttribute<'a> {
        variable: bool,
        code: &'a str,
        datatype: &'a str,
        required: bool,
        datatype_description: &'a str,
        order: u32,
        description: &'a str,
        values: Values<'a>,
    }
    #[derive(Serialize)]
    struct Values<'a> {
        value: &'a [AttributeValue],
    }
    xml_document(
        "service_definition",
        &Definition {
            service_code: &d.service_code,
            attributes: Attributes {
                attribute: d
                    .attributes
                    .iter()
                    .map(|a| XmlAttribute {
                        variable: a.variable,
                        code: a.code,
                        datatype: a.datatype,
                        required: a.required,
                        datatype_description: &a.datatype_description,
                        order: a.order,
                        description: &a.description,
                        values: Values { value: &a.values },
                    })
                    .collect(),
            },
        },
    )
}

pub fn discovery_xml(d: &Discovery) -> String {
    #[derive(Serialize)]
    struct XmlDiscovery<'a> {
        changeset: &'a str,
        contact: &'a str,
        key_service: &'a str,
        endpoints: Endpoints<'a>,
    }
    #[derive(Serialize)]
    struct Endpoints<'a> {
        endpoint: Vec<XmlEndpoint<'a>>,
    }
    #[derive(Serialize)]
    struct XmlEndpoint<'a> {
        specification: &'a str,
        url: &'a str,
        changeset: &'a str,
        #[serde(rename = "type")]
        kind: &'a str,
        formats: Formats<'a>,
    }
    #[derive(Serialize)]
    struct Formats<'a> {
        format: &'a [&'static str],
    }
    xml_document(
        "discovery",
        &XmlDiscovery {
            changeset: d.changeset,
            contact: &d.contact,
            key_service: &d.key_service,
            endpoints: Endpoints {
                endpoint: d
                    .endpoints
                    .iter()
                    .map(|e| XmlEndpoint {
                        specification: e.specification,
                        url: &e.url,
                        changeset: e.changeset,
                        kind: e.kind,
                        formats: Formats { format: &e.formats },
                    })
                    .collect(),
            },
        },
    )
}

#[cfg(test)]
mod tests {
    use super::*;

    fn district() -> District {
        District::demo()
    }

    fn a_leaf(d: &District) -> String {
        d.leaf_categories().next().unwrap().code.clone()
    }

    fn form(pairs: &[(&str, &str)]) -> RequestForm {
        RequestForm::from_pairs(pairs.iter().map(|(k, v)| (k.to_string(), v.to_string())).collect())
    }

    #[test]
    fn formats_are_the_last_extension() {
        assert_eq!(split_format("services.json").unwrap(), ("services", Format::Json));
        assert_eq!(split_format("01.02.03.XML").unwrap(), ("01.02.03", Format::Xml));
        assert_eq!(split_format("services").unwrap_err().status(), 404);
        assert_eq!(split_format("services.csv").unwrap_err().status(), 404);
        assert!(check_jurisdiction(Some("other.gov"), "12345").is_err());
        assert!(check_jurisdiction(Some("12345"), "12345").is_ok() && check_jurisdiction(None, "12345").is_ok());
    }

    #[test]
    fn services_are_the_leaf_categories_grouped_by_the_levels_above() {
        let d = district();
        let all = services(&d);
        assert_eq!(all.len(), d.leaf_categories().count());
        let first = &all[0];
        let path = d.category_path(&first.service_code).unwrap();
        assert!(path.ends_with(&first.service_name) && path.starts_with(&first.group), "{first:?}");
        assert!(!first.group.is_empty());
        let parent = first.service_code.rsplit_once('.').unwrap().0;
        assert_eq!(service_definition(&d, parent).unwrap_err().status(), 404, "a group is not a service");
        let def = service_definition(&d, &first.service_code).unwrap();
        assert_eq!(def.attributes[0].values.len(), Kind::ALL.len());
    }

    #[test]
    fn a_request_becomes_a_web_ticket_and_bad_ones_say_why() {
        let d = district();
        let code = a_leaf(&d);
        let ok = check_request(
            &form(&[
                ("service_code", &code),
                ("lat", "39.9042"),
                ("long", "+116.40"),
                ("description", "路灯不亮"),
                ("first_name", "小明"),
                ("last_name", "王"),
                ("attribute[kind]", "complaint"),
                ("email", "wang@example.com"),
            ]),
            &d,
        )
        .unwrap();
        assert_eq!((ok.ticket.channel, ok.ticket.kind), (Channel::Web, Kind::Complaint));
        assert_eq!((ok.ticket.caller_name.as_str(), ok.long.as_deref()), ("王小明", Some("116.4")));
        assert!(!ok.ticket.callback_consent && ok.ticket.caller_phone.is_empty());
        assert_eq!(ok.ticket.address, "坐标 39.9042,116.4");

        let status = |pairs: &[(&str, &str)]| check_request(&form(pairs), &d).unwrap_err();
        assert_eq!(status(&[("service_code", "99.99"), ("address_string", "x")]).status(), 404);
        let missing = status(&[("service_code", &code), ("description", "x")]);
        assert!(missing.to_string().contains("location"), "{missing}");
        assert_eq!(missing.status(), 400);
        assert!(status(&[("service_code", &code), ("lat", "91"), ("long", "116")]).to_string().contains("lat"));
        assert!(status(&[("service_code", &code), ("lat", "abc"), ("long", "116")]).to_string().contains("lat"));
        assert!(status(&[("service_code", &code), ("lat", "39"), ("long", "NaN")]).to_string().contains("long"));
        assert!(status(&[("service_code", &code), ("lat", "39")]).to_string().contains("both"));
        let phone = status(&[("service_code", &code), ("address_string", "新华里"), ("phone", "111111111")]);
        assert!(phone.to_string().starts_with("phone:"), "{phone}");
        assert!(status(&[("service_code", &code), ("address_string", "a"), ("email", "nobody")])
            .to_string()
            .contains("email"));
        assert!(status(&[("service_code", &code), ("address_string", "a"), ("attribute[colour]", "red")])
            .to_string()
            .contains("attribute[colour]"));
        assert!(status(&[("service_code", &code), ("address_string", "a"), ("media_url", "file:///etc/passwd")])
            .to_string()
            .contains("media_url"));
        let with_phone = check_request(
            &form(&[("service_code", &code), ("address_string", "新华里3号楼"), ("phone", "13812345678")]),
            &d,
        )
        .unwrap();
        assert!(with_phone.ticket.callback_consent, "a phone given is a number to call back");
        assert_eq!(with_phone.ticket.content, d.category(&code).unwrap().name);
    }

    #[test]
    fn a_read_shows_progress_and_never_the_caller() {
        use crate::domain::event::{ActorRef, Event, Received};
        let d = district();
        let code = a_leaf(&d);
        let at = chrono::TimeZone::with_ymd_and_hms(&Utc, 2026, 11, 23, 2, 0, 0).unwrap();
        let received = Event {
            seq: 1,
            ticket_id: 7,
            at,
            actor: ActorRef {
                user_id: 0, username: "open311:随手拍".into(), role: Role::Operator, department: None
            },
            kind: EventKind::Received(Received {
                number: "20261123-000001".into(),
                kind: Kind::Help,
                channel: Channel::Web,
                urgency: Urgency::Normal,
                category: code.clone(),
                street: None,
                community: None,
                address: "新华里3号楼".into(),
                content: "路灯不亮".into(),
                caller_name: "王小明".into(),
                caller_phone: "13812345678".into(),
                confidential: false,
                callback_consent: true,
                call_id: None,
            }),
        };
        let mut t = crate::domain::ticket::apply(None, &received);
        let seen = service_request(&t, None, &d);
        assert_eq!((seen.status, seen.status_notes.as_str()), ("open", "已受理"));
        assert_eq!(seen.requested_datetime, "2026-11-23T10:00:00+08:00");
        assert_eq!((seen.description, seen.address), (None, None), "a call's words stay with the centre");
        t.status = Status::Accepted;
        t.lead = Some(d.departments[0].code.clone());
        t.reply_due_at = Some(at + chrono::Duration::days(5));
        let seen = service_request(&t, None, &d);
        assert_eq!(seen.agency_responsible.as_deref(), Some(d.departments[0].name.as_str()));
        assert!(seen.service_notice.contains("2026-11-28 10:00"), "{}", seen.service_notice);
        assert_eq!(seen.expected_datetime.as_deref(), Some("2026-11-28T10:00:00+08:00"));
        t.status = Status::Closed;
        t.reply = Some("已修复".into());
        let filed = Filed {
            ticket_id: 7,
            token: "t".into(),
            lat: Some("39.9".into()),
            long: Some("116.4".into()),
            address_string: None,
            media_url: Some("https://example.com/a.jpg".into()),
        };
        let seen = service_request(&t, Some(&filed), &d);
        assert_eq!((seen.status, seen.status_notes.as_str(), seen.lat), ("closed", "已修复", Some(39.9)));
        let text = serde_json::to_string(&seen).unwrap() + &requests_xml(&[seen]);
        for private in ["13812345678", "王小明"] {
            assert!(!text.contains(private), "{private} in {text}");
        }
    }

    #[test]
    fn listings_default_to_ninety_days_and_check_their_filters() {
        let d = district();
        let now = chrono::TimeZone::with_ymd_and_hms(&Utc, 2026, 12, 1, 0, 0, 0).unwrap();
        let q = |pairs: &[(&str, &str)]| pairs.iter().map(|(k, v)| (k.to_string(), v.to_string())).collect();
        let l = listing(&q(&[]), &d, now).unwrap();
        assert_eq!((l.from, l.to), (now - chrono::Duration::days(90), None));
        let l = listing(&q(&[("status", "closed"), ("start_date", "2026-11-01T00:00:00+08:00")]), &d, now).unwrap();
        assert_eq!(l.statuses, vec![Status::Closed]);
        assert!(listing(&q(&[("status", "open,closed")]), &d, now).unwrap().statuses.is_empty());
        assert_eq!(listing(&q(&[("status", "pending")]), &d, now).unwrap_err().status(), 400);
        assert_eq!(listing(&q(&[("start_date", "yesterday")]), &d, now).unwrap_err().status(), 400);
        assert_eq!(listing(&q(&[("service_code", "99")]), &d, now).unwrap_err().status(), 404);
        assert_eq!(listing(&q(&[("service_request_id", "1,2")]), &d, now).unwrap_err().status(), 400);
    }

    #[test]
    fn xml_nests_lists_as_the_standard_does() {
        let d = district();
        let xml = services_xml(&services(&d)[..1]);
        assert!(xml.contains("<services><service><service_code>"), "{xml}");
        let xml = errors_xml(&Open311Error::Forbidden("bad key".into()).errors());
        assert!(
            xml.ends_with("<errors><error><code>403</code><description>bad key</description></error></errors>"),
            "{xml}"
        );
        let def = definition_xml(&service_definition(&d, &a_leaf(&d)).unwrap());
        assert!(def.contains("<attributes><attribute><variable>true</variable><code>kind</code>"), "{def}");
        assert!(def.contains("<values><value><key>consult</key><name>咨询</name></value>"), "{def}");
        let disc = discovery_xml(&discovery("http://127.0.0.1:8080/"));
        assert!(
            disc.contains("<formats><format>text/xml</format><format>application/json</format></formats>"),
            "{disc}"
        );
        assert!(disc.contains("<url>http://127.0.0.1:8080/open311/v2</url>"), "{disc}");
    }
}
