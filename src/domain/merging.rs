//! 并单 after the merge: every merged resident gets the original's reply (and a callback, as
//! after any reply), and a dispatcher may undo a merge. Merging itself is
//! [`super::lifecycle::decide_merge`].

use super::event::EventKind;
use super::lifecycle::{require_role, require_status, text, with_clocks, Context, DecisionError, DISPATCHERS};
use super::ticket::Ticket;
use super::types::Status;

/// What a ticket merged into `origin` gets from the events `origin` just received: the
/// reply, when there is one (and then its callback). Nothing for a ticket no longer merged
/// into it.
pub fn decide_follow(follower: &Ticket, origin: &Ticket, events: &[EventKind], ctx: &Context) -> Vec<EventKind> {
    if follower.status != Status::Merged || follower.merged_into != Some(origin.id) {
        return Vec::new();
    }
    let followed: Vec<EventKind> = events
        .iter()
        .filter_map(|e| match e {
            EventKind::Replied { outcome, text, .. } => {
                Some(EventKind::ReplyFollowed { from: origin.id, outcome: *outcome, text: text.clone() })
            }
            _ => None,
        })
        .collect();
    if followed.is_empty() {
        return followed;
    }
    with_clocks(follower, followed, ctx)
}

/// Undoes a merge: `source` (merged into `target`) becomes a ticket of its own again, back
/// in the dispatch queue; `target` no longer counts it. Dispatchers and supervisors, and
/// only while the original is not yet replied (after that the resident has the answer).
pub fn decide_unmerge(
    source: &Ticket,
    target: &Ticket,
    reason: &str,
    ctx: &Context,
) -> Result<(EventKind, EventKind), DecisionError> {
    require_role(ctx.actor, "unmerge", DISPATCHERS)?;
    require_status(source, "unmerge", &[Status::Merged])?;
    if source.merged_into != Some(target.id) {
        return Err(DecisionError::Invalid {
            field: "id",
            message: format!("ticket {} is not merged into ticket {}", source.number, target.number),
        });
    }
    let reason = text("reason", reason, true)?;
    Ok((EventKind::Unmerged { from: target.id, reason }, EventKind::MergeUndone { from: source.id }))
}
