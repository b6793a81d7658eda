//! 受理: what a new ticket must contain before it exists.

use super::lifecycle::{Assignment, DecisionError};
use super::privacy::validate_phone;
use super::rules::RoutingDecision;
use super::types::{Channel, Kind, Urgency};

pub const MAX_CONTENT: usize = 4000;
pub const MAX_ADDRESS: usize = 200;
pub const MAX_NAME: usize = 50;

/// The places and categories a ticket may name.
pub trait Places {
    fn is_leaf_category(&self, code: &str) -> bool;
    fn street_exists(&self, code: &str) -> bool;
    /// The street a community belongs to.
    fn street_of_community(&self, code: &str) -> Option<String>;
}

/// What the operator (or the public form) typed.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct NewTicket {
    pub kind: Kind,
    pub channel: Channel,
    pub urgency: Urgency,
    pub category: String,
    pub street: Option<String>,
    pub community: Option<String>,
    pub address: String,
    pub content: String,
    pub caller_name: String,
    pub caller_phone: String,
    pub confidential: bool,
    pub callback_consent: bool,
    /// The call the ticket is logged during (checked against the call records by the caller).
    pub call_id: Option<String>,
}

fn invalid(field: &'static str, message: impl Into<String>) -> DecisionError {
    DecisionError::Invalid { field, message: message.into() }
}

fn bounded(field: &'static str, value: &str, max: usize, required: bool) -> Result<String, DecisionError> {
    let v = value.trim();
    if required && v.is_empty() {
        return Err(invalid(field, format!("{field} must not be empty")));
    }
    let n = v.chars().count();
    if n > max {
        return Err(invalid(field, format!("{field} has {n} characters; at most {max} are allowed")));
    }
    Ok(v.to_string())
}

/// A request that came over the internet (a partner app through Open311) may carry no phone
/// at all: nobody is then called back, so it must not ask for a callback. A call always has a
/// number, and a request that wants a callback needs one.
fn anonymous_online(t: &NewTicket) -> bool {
    t.caller_phone.is_empty()
        && !t.callback_consent
        && matches!(t.channel, Channel::Web | Channel::App | Channel::Wechat)
}

/// Checks and normalises a new ticket. A community given without a street fills in the street.
pub fn validate(mut t: NewTicket, places: &dyn Places) -> Result<NewTicket, DecisionError> {
    t.content = bounded("content", &t.content, MAX_CONTENT, true)?;
    t.address = bounded("address", &t.address, MAX_ADDRESS, false)?;
    t.caller_name = bounded("caller_name", &t.caller_name, MAX_NAME, false)?;
    t.caller_phone = t.caller_phone.trim().to_string();
    if !anonymous_online(&t) {
        validate_phone(&t.caller_phone).map_err(|m| invalid("caller_phone", m))?;
    }
    t.category = t.category.trim().to_string();
    if !places.is_leaf_category(&t.category) {
        return Err(invalid(
            "category",
            format!("\"{}\" is not a category of the taxonomy's last level (e.g. 03.02.01)", t.category),
        ));
    }
    t.street = t.street.map(|s| s.trim().to_string()).filter(|s| !s.is_empty());
    t.community = t.community.map(|s| s.trim().to_string()).filter(|s| !s.is_empty());
    if let Some(street) = &t.street {
        if !places.street_exists(street) {
            return Err(invalid("street", format!("unknown street \"{street}\"")));
        }
    }
    if let Some(community) = &t.community {
        match places.street_of_community(community) {
            None => return Err(invalid("community", format!("unknown community \"{community}\""))),
            Some(street) => match &t.street {
                Some(s) if *s != street => {
                    return Err(invalid("community", format!("community \"{community}\" is not in street \"{s}\"")))
                }
                _ => t.street = Some(street),
            },
        }
    }
    Ok(t)
}

/// What the dispatch rules decided becomes part of the ticket: the street and community they
/// located (when the operator picked none) and an urgency they raised; the assignment is
/// theirs, recorded with the rule and the rules version.
pub fn follow_routing(draft: &mut NewTicket, decision: &RoutingDecision, rules_version: &str) -> Assignment {
    if draft.street.is_none() {
        draft.street = decision.street.clone();
        draft.community = decision.community.clone();
    }
    if let Some(urgency) = decision.urgency.as_deref().and_then(|u| u.parse().ok()) {
        draft.urgency = urgency;
    }
    Assignment {
        lead: decision.lead.clone(),
        assists: decision.assist.clone(),
        policy: Some(decision.policy.clone()),
        note: None,
        rule_id: Some(decision.rule_id.clone()),
        rules_version: Some(rules_version.to_string()),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    struct Demo;
    impl Places for Demo {
        fn is_leaf_category(&self, code: &str) -> bool {
            code == "03.02.01"
        }
        fn street_exists(&self, code: &str) -> bool {
            code == "xinhua" || code == "yongan"
        }
        fn street_of_community(&self, code: &str) -> Option<String> {
            (code == "xinhua-01").then(|| "xinhua".to_string())
        }
    }

    fn draft() -> NewTicket {
        NewTicket {
            kind: Kind::Complaint,
            channel: Channel::Phone,
            urgency: Urgency::Normal,
            category: "03.02.01".into(),
            street: None,
            community: Some("xinhua-01".into()),
            address: " 新华里小区 ".into(),
            content: "垃圾没人清运".into(),
            caller_name: "王女士".into(),
            caller_phone: "13812345678".into(),
            confidential: false,
            callback_consent: true,
            call_id: None,
        }
    }

    fn field_of(r: Result<NewTicket, DecisionError>) -> &'static str {
        match r {
            Err(DecisionError::Invalid { field, .. }) => field,
            other => panic!("expected invalid, got {other:?}"),
        }
    }

    #[test]
    fn community_fills_in_its_street_and_text_is_trimmed() {
        let t = validate(draft(), &Demo).unwrap();
        assert_eq!(t.street.as_deref(), Some("xinhua"));
        assert_eq!(t.address, "新华里小区");
    }

    #[test]
    fn each_bad_field_is_named() {
        assert_eq!(field_of(validate(NewTicket { content: "   ".into(), ..draft() }, &Demo)), "content");
        assert_eq!(field_of(validate(NewTicket { content: "字".repeat(4001), ..draft() }, &Demo)), "content");
        assert!(validate(NewTicket { content: "字".repeat(4000), ..draft() }, &Demo).is_ok());
        assert_eq!(field_of(validate(NewTicket { caller_phone: "12".into(), ..draft() }, &Demo)), "caller_phone");
        assert_eq!(field_of(validate(NewTicket { caller_phone: "".into(), ..draft() }, &Demo)), "caller_phone");
        let online = NewTicket { channel: Channel::Web, caller_phone: "".into(), callback_consent: false, ..draft() };
        assert!(validate(online.clone(), &Demo).is_ok(), "an online request without a phone asks for no callback");
        assert_eq!(field_of(validate(NewTicket { callback_consent: true, ..online }, &Demo)), "caller_phone");
        assert_eq!(field_of(validate(NewTicket { category: "03.02".into(), ..draft() }, &Demo)), "category");
        assert_eq!(field_of(validate(NewTicket { street: Some("nowhere".into()), ..draft() }, &Demo)), "street");
        assert_eq!(field_of(validate(NewTicket { street: Some("yongan".into()), ..draft() }, &Demo)), "community");
    }
}
