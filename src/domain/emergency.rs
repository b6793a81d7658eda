//! Emergency proposals at intake (可能紧急): what the operator decided, and the hand-off to
//! 119 / 110 / 120 (转接).
//!
//! An emergency rule never turns a call urgent by itself (see `rules`): its proposal is shown
//! in the preview, and the operator confirms it, dismisses it, or — for fire, crime in progress
//! and medical emergencies, which are not 12345 work — hands the call off. Intake records which
//! in an `emergency_proposed` event, so the dispatch statistics can count, per rule, the
//! proposals confirmed and dismissed (a rule that cries wolf shows up there).
//!
//! | the operator | the ticket |
//! | --- | --- |
//! | confirms | urgent, dispatched by the proposing rule (its lead and policy) |
//! | hands off (rule with `handoff`) | `handed_off` to the number, closed as 转办 |
//! | dismisses | routed again with the emergency rules left out |
//! | says nothing (an API client, the public form) | left in the manual queue (人工派单), `undecided`: a dispatcher decides |

use serde::{Deserialize, Serialize};

use super::event::EventKind;
use super::rules::EmergencyProposal;

/// What the operator did with a proposal.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, utoipa::ToSchema)]
#[serde(rename_all = "snake_case")]
pub enum EmergencyDecision {
    /// 确认紧急.
    Confirmed,
    /// 排除: not an emergency.
    Dismissed,
    /// 转接 119/110/120.
    HandedOff,
    /// 待确认: no one at intake decided (the dispatchers will).
    Undecided,
}

impl EmergencyDecision {
    pub fn label(self) -> &'static str {
        match self {
            EmergencyDecision::Confirmed => "确认紧急",
            EmergencyDecision::Dismissed => "排除紧急",
            EmergencyDecision::HandedOff => "已转接",
            EmergencyDecision::Undecided => "待确认",
        }
    }
}

/// The operator's choice as the intake request says it.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, utoipa::ToSchema)]
#[serde(rename_all = "snake_case")]
pub enum EmergencyChoice {
    Confirm,
    Dismiss,
    HandOff,
}

/// What intake does with a call.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct IntakePlan {
    /// The `emergency_proposed` event to record, when there was a proposal.
    pub record: Option<EventKind>,
    /// Route again without the emergency rules (the proposal was dismissed).
    pub reroute: bool,
    /// Follow the routing decision (dispatch); false leaves the ticket for the dispatchers.
    pub dispatch: bool,
    /// The ticket becomes urgent (a confirmed proposal).
    pub urgent: bool,
    /// Hand the call off to this number instead of dispatching it.
    pub hand_off: Option<String>,
}

/// A choice that does not fit the call (422, field `emergency`).
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("{0}")]
pub struct ChoiceError(pub String);

/// Decides intake's course from the winning rule's proposal (if any) and the operator's choice.
pub fn plan(
    rule_id: Option<&str>,
    proposal: Option<&EmergencyProposal>,
    choice: Option<EmergencyChoice>,
) -> Result<IntakePlan, ChoiceError> {
    let plain = IntakePlan { record: None, reroute: false, dispatch: true, urgent: false, hand_off: None };
    let (Some(rule_id), Some(p)) = (rule_id, proposal) else {
        return match choice {
            None => Ok(plain),
            Some(_) => {
                Err(ChoiceError("no emergency rule proposed urgency for this call; leave `emergency` out".to_string()))
            }
        };
    };
    let record = |decision: EmergencyDecision| EventKind::EmergencyProposed {
        rule_id: rule_id.to_string(),
        label: p.label.clone(),
        matched: p.matched.clone(),
        words: p.words.clone(),
        handoff: p.handoff.clone(),
        decision,
    };
    Ok(match choice {
        None => IntakePlan { record: Some(record(EmergencyDecision::Undecided)), dispatch: false, ..plain },
        Some(EmergencyChoice::Confirm) => {
            IntakePlan { record: Some(record(EmergencyDecision::Confirmed)), urgent: true, ..plain }
        }
        Some(EmergencyChoice::Dismiss) => {
            IntakePlan { record: Some(record(EmergencyDecision::Dismissed)), reroute: true, ..plain }
        }
        Some(EmergencyChoice::HandOff) => match &p.handoff {
            Some(number) => IntakePlan {
                record: Some(record(EmergencyDecision::HandedOff)),
                dispatch: false,
                urgent: true,
                hand_off: Some(number.clone()),
                ..plain
            },
            None => {
                return Err(ChoiceError(format!(
                    "{} stays with its unit and is not handed off to 119/110/120; confirm it instead",
                    p.label
                )))
            }
        },
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    fn fire() -> EmergencyProposal {
        EmergencyProposal {
            label: "起火".into(),
            handoff: Some("119".into()),
            matched: "厨房起火了".into(),
            words: vec!["起火".into()],
            learned: None,
        }
    }

    fn decision_of(plan: &IntakePlan) -> Option<EmergencyDecision> {
        match &plan.record {
            Some(EventKind::EmergencyProposed { decision, .. }) => Some(*decision),
            _ => None,
        }
    }

    #[test]
    fn the_operator_decides_what_a_proposal_becomes() {
        let p = fire();
        let confirmed = plan(Some("fire-now"), Some(&p), Some(EmergencyChoice::Confirm)).unwrap();
        assert!(confirmed.urgent && confirmed.dispatch && confirmed.hand_off.is_none());
        assert_eq!(decision_of(&confirmed), Some(EmergencyDecision::Confirmed));

        let handed = plan(Some("fire-now"), Some(&p), Some(EmergencyChoice::HandOff)).unwrap();
        assert_eq!(handed.hand_off.as_deref(), Some("119"));
        assert!(!handed.dispatch);
        assert_eq!(decision_of(&handed), Some(EmergencyDecision::HandedOff));

        let dismissed = plan(Some("fire-now"), Some(&p), Some(EmergencyChoice::Dismiss)).unwrap();
        assert!(dismissed.reroute && !dismissed.urgent);
        assert_eq!(decision_of(&dismissed), Some(EmergencyDecision::Dismissed));

        // Nobody decided: never urgent by itself, the dispatchers get it.
        let undecided = plan(Some("fire-now"), Some(&p), None).unwrap();
        assert!(!undecided.urgent && !undecided.dispatch);
        assert_eq!(decision_of(&undecided), Some(EmergencyDecision::Undecided));
    }

    #[test]
    fn choices_that_do_not_fit_the_call_are_refused() {
        assert!(plan(Some("water-outage"), None, Some(EmergencyChoice::Confirm)).is_err());
        let gas = EmergencyProposal { handoff: None, label: "燃气泄漏".into(), ..fire() };
        let err = plan(Some("gas-leak"), Some(&gas), Some(EmergencyChoice::HandOff)).unwrap_err();
        assert!(err.0.contains("燃气泄漏"), "{err}");
        assert_eq!(plan(None, None, None).unwrap().record, None);
    }
}
