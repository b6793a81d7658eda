//! Texts residents send back (短信上行) and the gateway's delivery reports.
//!
//! A reply is stored first (once per gateway message id, so a repeated delivery is harmless),
//! then read by the domain ([`crate::domain::sms::read_reply`]):
//! * a rating (1/2/3) records the callback on the ticket of the last 回访 text sent to that
//!   number, through the state machine like an operator's call; no such text, a ticket no
//!   longer waiting for its callback, or an operator on the phone with the resident → the
//!   operator's queue, never a guess;
//! * TD/退订 stops non-essential texts to the number;
//! * anything else goes into the history of the ticket last texted to that number (or the
//!   queue when there is none).

use crate::domain::event::EventKind;
use crate::domain::lifecycle::{decide, Actor, CallbackReport, Command};
use crate::domain::sms::{mobile, rating_report, read_reply, Reply, SmsKind};
use crate::domain::types::{Role, Status};
use crate::http::AppState;
use crate::store::StoreError;

/// The longest reply kept; a longer one is cut (and said so in its note).
pub const MAX_REPLY_CHARS: usize = 1000;

/// What became of a reply.
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize, utoipa::ToSchema)]
pub struct InboundOutcome {
    /// `rating`, `opt_out`, `attached`, `queued`, `handled` or `duplicate`.
    pub state: String,
    pub ticket: Option<String>,
}

/// Who records what residents text: a centre role, so the state machine lets a text rating
/// through as it would an operator's callback.
fn sms_actor() -> Actor {
    Actor { user_id: 0, username: "sms".into(), role: Role::Operator, department: None, units: Vec::new() }
}

/// Handles one reply from the gateway.
pub async fn receive(
    state: &AppState,
    gateway_id: Option<&str>,
    from: &str,
    text: &str,
) -> Result<InboundOutcome, StoreError> {
    let now = state.store.now();
    let phone = mobile(from).unwrap_or_else(|| from.trim().chars().take(32).collect());
    let cut = text.chars().count() > MAX_REPLY_CHARS;
    let body: String = text.chars().take(MAX_REPLY_CHARS).collect();
    let Some(id) = state.store.record_inbound(gateway_id.filter(|g| !g.is_empty()), &phone, &body, now).await? else {
        return Ok(InboundOutcome { state: "duplicate".into(), ticket: None });
    };
    let settle = |ticket: Option<(i64, String)>, state_word: &str, note: Option<String>| {
        let note = match (note, cut) {
            (Some(n), true) => Some(format!("{n}; 超过{MAX_REPLY_CHARS}字，已截断")),
            (None, true) => Some(format!("超过{MAX_REPLY_CHARS}字，已截断")),
            (n, false) => n,
        };
        let state_word = state_word.to_string();
        async move {
            state.store.settle_inbound(id, ticket.as_ref().map(|t| t.0), &state_word, note.as_deref()).await?;
            Ok::<_, StoreError>(InboundOutcome { state: state_word, ticket: ticket.map(|t| t.1) })
        }
    };
    if mobile(from).is_none() {
        return settle(None, "queued", Some("not a mainland mobile".into())).await;
    }
    match read_reply(&body) {
        Reply::Empty => settle(None, "handled", Some("empty text".into())).await,
        Reply::OptOut => {
            state.store.opt_out(&phone, now).await?;
            tracing::info!(to = %crate::notify::sms::mask_number(&phone), "number opted out of texts (退订)");
            settle(None, "opt_out", None).await
        }
        Reply::Rating(satisfaction) => {
            let Some((ticket_id, _)) = state.store.last_text_to(&phone, Some(SmsKind::Callback)).await? else {
                return settle(None, "queued", Some("a rating, but no 回访 text was sent to this number".into())).await;
            };
            let Some(ticket) = state.store.ticket(ticket_id).await? else {
                return settle(None, "queued", Some("the ticket of the 回访 text is gone".into())).await;
            };
            let number = ticket.number.clone();
            if ticket.status != Status::Replied || ticket.callback.as_ref().is_none_or(|c| c.unreachable) {
                return settle(
                    Some((ticket_id, number)),
                    "queued",
                    Some(format!(
                        "a rating, but ticket is {} and no longer waits for its callback",
                        ticket.status.label()
                    )),
                )
                .await;
            }
            let (solved, satisfaction, comment) = rating_report(satisfaction);
            let command = Command::RecordCallback(CallbackReport {
                reached: true,
                failure: None,
                solved: Some(solved),
                satisfaction: Some(satisfaction),
                comment: Some(comment),
            });
            let actor = sms_actor();
            let catalog = state.catalog();
            let change = state
                .store
                .change_ticket(ticket_id, &actor, |t, at| decide(t, &command, &catalog.context(&actor, at)))
                .await;
            match change {
                Ok(change) => {
                    state.publish(&change);
                    settle(Some((ticket_id, number)), "rating", None).await
                }
                Err(StoreError::Rejected(e)) => {
                    settle(Some((ticket_id, number)), "queued", Some(format!("a rating the ticket did not take: {e}")))
                        .await
                }
                Err(e) => Err(e),
            }
        }
        Reply::Other(words) => {
            let Some((ticket_id, _)) = state.store.last_text_to(&phone, None).await? else {
                return settle(None, "queued", Some("no text was sent to this number".into())).await;
            };
            let actor = sms_actor();
            let change = state
                .store
                .change_ticket(ticket_id, &actor, |_, _| Ok(vec![EventKind::ResidentTexted { text: words.clone() }]))
                .await?;
            state.publish(&change);
            settle(Some((ticket_id, change.ticket.number)), "attached", None).await
        }
    }
}

/// The delivery-report state of a Kannel DLR type (1 delivered, 2 failed, 4 buffered, 8
/// accepted by the SMSC, 16 rejected by the SMSC); `None` for anything else.
pub fn delivery_state(kannel_type: i64) -> Option<&'static str> {
    match kannel_type {
        1 => Some("delivered"),
        2 => Some("failed"),
        4 => Some("buffered"),
        8 => Some("submitted"),
        16 => Some("rejected"),
        _ => None,
    }
}
