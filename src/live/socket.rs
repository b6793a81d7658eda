//! One websocket connection: authenticate, subscribe to views, optionally resume from a
//! sequence number, then stream events and refreshed views until the client goes away.
//!
//! Protocol (JSON text frames). Client → server:
//! `{"type":"subscribe","views":["supervisor"|"department"|"operator"],"after":123}`
//! (`views` defaults to the role's own; `after` = the last sequence number the client saw;
//! `"patches":false` asks for every board whole instead of `view_patch` frames;
//! `"tickets":false` asks for event frames without the ticket — the pages, which take what
//! they show from the boards and `GET /tickets/{id}`, subscribe so: at 200 events a second
//! the ticket in every frame was nine tenths of a wall screen's traffic).
//! Server → client:
//! * `{"type":"hello","seq":N,"user":…}` on connect;
//! * `{"type":"event","seq":n,"ticket_id":…,"event":…,"ticket":…}` for each event the client
//!   may see, in sequence order, callers masked as in the API (`ticket` left out for a client
//!   that subscribed with `"tickets":false`);
//! * `{"type":"gone","seq":n,"ticket_id":…}` when a ticket leaves the client's scope;
//! * `{"type":"hotspot_alert","seq":n,"alert":{…}}` when a hot spot (未诉先办) is raised, to
//!   supervisors and admins only: the alert as `GET /api/v1/hotspots` lists it (street,
//!   category, window, count, baseline, the tickets' ids and numbers);
//! * `{"type":"screen_pop","seq":n,"pop":{…}}` to the one operator signed in at an extension
//!   the moment a call rings there: the call (id, caller, dialled number, queue), the caller's
//!   earlier and open tickets, whether they called in the last 24 h (重复来电), and whether any
//!   of their tickets is confidential (保密) — `GET /api/v1/cti/calls/{id}/pop` answers the same;
//! * `{"type":"seat","seq":n,"seat":{…}}` to supervisors, admins and dispatchers whenever a
//!   seat changes state (坐席监控);
//! * `{"type":"view","view":"supervisor","seq":n,"version":v,"data":…}`: a subscribed board
//!   whole, after `subscribe` and after `resync`. `version` numbers the board (unique per
//!   server process; a board that did not change keeps its number);
//! * `{"type":"view_patch","view":"supervisor","seq":n,"from":u,"version":v,"patch":[…]}`
//!   whenever a subscribed board changed (at most every [`VIEW_DEBOUNCE`]): an RFC 6902 JSON
//!   Patch, only `add`, `remove` and `replace`, that turns board version `u` — the one this
//!   client was last sent — into version `v`. A client holding any other version (a lost
//!   frame, a bug) must not apply it: it sends `subscribe` again and gets the boards whole.
//!   Where a patch would be no smaller than the board, the board goes whole as a `view`;
//!   the pages apply patches in `web/js/api.js` (`applyPatch`);
//! * `{"type":"resync","reason":…}` when the client was too slow or resumed from too far back:
//!   fresh views follow, and the stream continues from them;
//! * `{"type":"error","message":…}`;
//! * `{"type":"revoked","message":…}` when the session was logged out, or its account disabled
//!   or given a new password (on any instance): the server closes the socket right after,
//!   with code 1008.
//!
//! Events wait after `hello` for the client's first `subscribe` (at most [`SUBSCRIBE_GRACE`]),
//! so a resuming client's replay comes before anything newer.
//!
//! Pings go every [`PING_EVERY`]; a client silent for [`DEAD_AFTER`] is disconnected.

use super::boards::{self, Board};
use super::views::{department_view, operator_view, supervisor_view};
use super::{concerns, Live, LiveEvent, LiveHotspot, Subscription, MAX_REPLAY};
use crate::domain::lifecycle::Actor;
use crate::domain::types::Role;
use crate::http::hotspots::HotspotView;
use crate::http::views::{event_view, ticket_view};
use crate::http::AppState;
use axum::extract::ws::{Message, Utf8Bytes, WebSocket};
use futures::SinkExt;
use serde::Deserialize;
use serde_json::json;
use std::collections::{BTreeMap, BTreeSet};
use std::sync::atomic::Ordering;
use std::sync::Arc;
use std::time::{Duration, Instant};

pub const PING_EVERY: Duration = Duration::from_secs(15);
pub const DEAD_AFTER: Duration = Duration::from_secs(45);
pub const VIEW_DEBOUNCE: Duration = Duration::from_millis(250);
/// How long events wait after `hello` for the client's first `subscribe`. A client resuming
/// with `after` sends it at once, and its replay must come before anything newer: an event sent
/// live first would arrive ahead of the older ones replayed after it. A client that never
/// subscribes (a screen-pop listener) gets its events once this has passed.
pub const SUBSCRIBE_GRACE: Duration = Duration::from_millis(500);

#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum View {
    Supervisor,
    Department,
    Operator,
}

impl View {
    fn name(self) -> &'static str {
        match self {
            View::Supervisor => "supervisor",
            View::Department => "department",
            View::Operator => "operator",
        }
    }

    fn allowed(self, role: Role) -> bool {
        match self {
            View::Supervisor => matches!(role, Role::Supervisor | Role::Admin | Role::Dispatcher),
            View::Department => role == Role::Department,
            View::Operator => matches!(role, Role::Operator | Role::Dispatcher | Role::Supervisor | Role::Admin),
        }
    }

    fn default_for(role: Role) -> Vec<View> {
        match role {
            Role::Department => vec![View::Department],
            Role::Operator => vec![View::Operator],
            Role::Dispatcher => vec![View::Operator, View::Supervisor],
            Role::Supervisor | Role::Admin => vec![View::Supervisor],
        }
    }
}

#[derive(Deserialize)]
#[serde(tag = "type", rename_all = "snake_case", deny_unknown_fields)]
enum ClientMessage {
    Subscribe {
        #[serde(default)]
        views: Option<Vec<View>>,
        after: Option<i64>,
        /// `false`: every board whole, never a patch (a client that cannot apply them).
        patches: Option<bool>,
        /// `false`: event frames without the ticket.
        tickets: Option<bool>,
    },
}

async fn send(socket: &mut WebSocket, value: serde_json::Value) -> bool {
    socket.send(Message::Text(Utf8Bytes::from(value.to_string()))).await.is_ok()
}

/// What to send this client of `view` now, given the board it holds (`full`: the whole board,
/// whatever it holds), and whether that reflects `min_seq`, the last event the client was
/// sent (a young shared board reused under the debounce may not yet: the caller must look
/// again later). Shared boards (the supervisor's; a department's, the same for all its users)
/// are computed by one client at a time and reused while younger than [`VIEW_DEBOUNCE`] or
/// once they reflect `min_seq`; the patch from each version to the current one is made once
/// (`super::boards`).
async fn board_update(
    state: &AppState,
    actor: &Actor,
    view: View,
    min_seq: i64,
    held: &mut BTreeMap<View, Arc<Board>>,
    full: bool,
) -> (Option<Utf8Bytes>, bool) {
    let shown = if full { None } else { held.get(&view).cloned() };
    let key = match view {
        View::Supervisor => Some("supervisor".to_string()),
        View::Department => actor.department.as_ref().map(|d| format!("department:{d}")),
        View::Operator => None,
    };
    let Some(key) = key else {
        return match compute_view(state, actor, view).await {
            Ok((seq, data)) => {
                let board = Board::next(held.get(&view), view.name(), seq, data);
                let frame = boards::update(shown.as_ref(), &board);
                held.insert(view, board);
                (frame, true)
            }
            Err(error) => (Some(error), true),
        };
    };
    let slot = state.live().boards.lock().expect("boards lock poisoned").entry(key).or_default().clone();
    let mut slot = slot.lock().await;
    let reusable = slot.current.as_ref().is_some_and(|b| b.seq >= min_seq)
        || slot.computed_at.is_some_and(|at| at.elapsed() < VIEW_DEBOUNCE);
    let recomputed = slot.current.is_none() || !reusable;
    if recomputed {
        match compute_view(state, actor, view).await {
            Ok((seq, data)) => {
                slot.replace(view.name(), seq, data);
            }
            Err(error) => return (Some(error), true),
        }
    }
    let board = slot.current.clone().expect("a board was computed above");
    let frame = slot.update(shown.as_ref());
    held.insert(view, board.clone());
    (frame, recomputed || board.seq >= min_seq)
}

/// The event frame for this client, built once per event, masking and form, and shared.
fn event_text(state: &AppState, actor: &Actor, live: &LiveEvent, with_ticket: bool) -> Utf8Bytes {
    match live.ticket.as_ref().filter(|t| actor.can_see(t)) {
        Some(ticket) => {
            let masked = !actor.sees_caller(ticket);
            live.frames[usize::from(masked) + 2 * usize::from(!with_ticket)]
                .get_or_init(|| Utf8Bytes::from(event_message(state, actor, live, with_ticket).to_string()))
                .clone()
        }
        None => Utf8Bytes::from(event_message(state, actor, live, with_ticket).to_string()),
    }
}

async fn send_text(socket: &mut WebSocket, text: Utf8Bytes) -> bool {
    socket.send(Message::Text(text)).await.is_ok()
}

/// Queues a frame in the socket's write buffer without writing it out: the events of one wake
/// go out in one write when the caller flushes, not one system call each. At 200 events a
/// second to a thousand clients, a write per frame was much of the server's and the clients'
/// work on two cores, and what made delivery's tail long once they were busy.
async fn feed_text(socket: &mut WebSocket, text: Utf8Bytes) -> bool {
    socket.feed(Message::Text(text)).await.is_ok()
}

/// The `hotspot_alert` frame: the alert as `GET /api/v1/hotspots` lists it.
fn hotspot_message(state: &AppState, hotspot: &LiveHotspot) -> serde_json::Value {
    let view = HotspotView::of(hotspot.alert.clone(), &state.catalog().district);
    json!({"type": "hotspot_alert", "seq": hotspot.seq, "alert": view})
}

/// The frame of one log entry for this client.
fn frame_text(state: &AppState, actor: &Actor, live: &Live, with_ticket: bool) -> Utf8Bytes {
    match live {
        Live::Ticket(live) => event_text(state, actor, live, with_ticket),
        Live::Hotspot(h) => h.frame.get_or_init(|| Utf8Bytes::from(hotspot_message(state, h).to_string())).clone(),
        Live::Cti(_) => unreachable!("CTI frames are built per client in forward"),
    }
}

/// Queues one entry of the log unless the client had it already or may not hear of it (the
/// caller flushes). `None`: the connection is gone; `Some(true)`: a ticket event went out, so
/// boards may have changed (a hot spot changes none).
async fn forward(
    socket: &mut WebSocket,
    state: &AppState,
    actor: &Actor,
    live: &Live,
    last_sent: &mut i64,
    with_ticket: bool,
) -> Option<bool> {
    if live.seq() <= *last_sent || !concerns(actor, live) {
        return Some(false);
    }
    *last_sent = live.seq();
    if let Live::Cti(cti) = live {
        // Built per client: a screen-pop goes to one operator and carries what is known of
        // the caller at the moment it is sent.
        let text = Utf8Bytes::from(cti_message(state, actor, cti).await.to_string());
        return feed_text(socket, text).await.then_some(false);
    }
    feed_text(socket, frame_text(state, actor, live, with_ticket)).await.then_some(matches!(live, Live::Ticket(_)))
}

/// The frame of a CTI system event: `{"type":"screen_pop","seq":n,"pop":{…}}` for the operator
/// whose phone rings, `{"type":"seat","seq":n,"seat":{…}}` for the wall.
async fn cti_message(state: &AppState, actor: &Actor, cti: &super::LiveCti) -> serde_json::Value {
    if cti.target_user().is_some() {
        match crate::http::cti::screen_pop(state, actor, &cti.data).await {
            Ok(pop) => json!({"type": "screen_pop", "seq": cti.seq, "pop": pop}),
            Err(e) => json!({"type": "error", "message": format!("screen-pop unavailable: {e}")}),
        }
    } else {
        json!({"type": "seat", "seq": cti.seq, "seat": crate::http::cti::seat_view(&cti.data, state.store.now())})
    }
}

/// A view's data and the sequence number it reflects, or the error frame to send instead.
async fn compute_view(state: &AppState, actor: &Actor, view: View) -> Result<(i64, serde_json::Value), Utf8Bytes> {
    let data = match view {
        View::Supervisor => supervisor_view(state).await.map(|v| (v.seq, serde_json::to_value(v))),
        View::Department => department_view(state, actor).await.map(|v| (v.seq, serde_json::to_value(v))),
        View::Operator => operator_view(state, actor).await.map(|v| (v.seq, serde_json::to_value(v))),
    };
    let message = match data {
        Ok((seq, Ok(data))) => return Ok((seq, data)),
        Ok((_, Err(e))) => e.to_string(),
        Err(e) => format!("view {} unavailable: {e}", view.name()),
    };
    Err(Utf8Bytes::from(json!({"type": "error", "message": message}).to_string()))
}

fn event_message(state: &AppState, actor: &Actor, live: &LiveEvent, with_ticket: bool) -> serde_json::Value {
    match &live.ticket {
        Some(ticket) if actor.can_see(ticket) => {
            let masked = !actor.sees_caller(ticket);
            let mut frame = json!({
                "type": "event",
                "seq": live.event.seq,
                "ticket_id": live.event.ticket_id,
                "event": event_view(&live.event, masked),
            });
            if with_ticket {
                frame["ticket"] = json!(ticket_view(ticket, actor, &state.catalog(), state.store.now()));
            }
            frame
        }
        _ => json!({"type": "gone", "seq": live.event.seq, "ticket_id": live.event.ticket_id}),
    }
}

/// Serves one connection until it closes.
pub async fn serve(mut socket: WebSocket, state: AppState, actor: Actor, display_name: String, token_hash: String) {
    // Subscribe before reading anything, so nothing committed from here on can be missed.
    let mut subscription: Subscription = state.live().subscribe_session(actor.clone(), Some(token_hash.clone()));
    // A revocation stored between the token's check and this subscription is not missed.
    if state.store.session_user(&token_hash).await.ok().flatten().is_none() {
        close_revoked(&mut socket).await;
        return;
    }
    let mut last_sent = state.live().head().max(0);
    if !send(&mut socket, json!({"type": "hello", "seq": last_sent, "user": {"username": actor.username, "display_name": display_name, "role": actor.role}})).await {
        return;
    }
    let mut views: BTreeSet<View> = View::default_for(actor.role).into_iter().collect();
    // The board of each view as this client was last sent it: what the next patch starts from.
    let mut held: BTreeMap<View, Arc<Board>> = BTreeMap::new();
    let mut patches = true;
    let mut with_ticket = true;
    let mut dirty = false;
    // Frames queued in the socket's buffer, not yet written out.
    let mut unflushed = false;
    let mut next_view_push = Instant::now();
    let mut last_heard = Instant::now();
    // Events are held (queued, not lost) until the first `subscribe` or the grace has passed.
    let mut streaming = false;
    let grace = tokio::time::sleep(SUBSCRIBE_GRACE);
    tokio::pin!(grace);
    let mut ping = tokio::time::interval(PING_EVERY);
    ping.tick().await;
    let mut debounce = tokio::time::interval(VIEW_DEBOUNCE);
    // A refresh missed while busy is not worth a burst of refreshes afterwards.
    debounce.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Skip);
    loop {
        if subscription.overflowed.load(Ordering::SeqCst) {
            // Too slow to keep up: throw the backlog away and start again from fresh views.
            while subscription.rx.try_recv().is_ok() {}
            subscription.overflowed.store(false, Ordering::SeqCst);
            last_sent = state.live().head().max(0);
            if !send(&mut socket, json!({"type": "resync", "reason": "the client fell behind", "seq": last_sent})).await
            {
                return;
            }
            for view in &views {
                let (frame, _) = board_update(&state, &actor, *view, last_sent, &mut held, true).await;
                if let Some(frame) = frame {
                    if !send_text(&mut socket, frame).await {
                        return;
                    }
                }
            }
            continue;
        }
        // Events already queued go out before anything else, board refreshes included:
        // otherwise a busy client sends one event per refresh and falls behind. They go out in
        // one write: the one `recv` below took, and every one queued behind it.
        while let Some(live) = streaming.then(|| subscription.rx.try_recv().ok()).flatten() {
            let Some(changed) = forward(&mut socket, &state, &actor, &live, &mut last_sent, with_ticket).await else {
                return;
            };
            dirty |= changed;
            unflushed = true;
        }
        if std::mem::take(&mut unflushed) && socket.flush().await.is_err() {
            return;
        }
        tokio::select! {
            incoming = socket.recv() => {
                let Some(Ok(message)) = incoming else { return };
                last_heard = Instant::now();
                let Message::Text(text) = message else { continue };
                match serde_json::from_str::<ClientMessage>(text.as_str()) {
                    Ok(ClientMessage::Subscribe { views: asked, after, patches: wants_patches, tickets }) => {
                        streaming = true;
                        let asked = asked.unwrap_or_else(|| View::default_for(actor.role));
                        if let Some(refused) = asked.iter().find(|v| !v.allowed(actor.role)) {
                            let message = format!("the {} view is not for the {} role", refused.name(), actor.role.as_str());
                            if !send(&mut socket, json!({"type": "error", "message": message})).await {
                                return;
                            }
                            continue;
                        }
                        views = asked.into_iter().collect();
                        patches = wants_patches.unwrap_or(true);
                        with_ticket = tickets.unwrap_or(true);
                        if let Some(after) = after {
                            match replay(&mut socket, &state, &actor, after, with_ticket).await {
                                Some(Some(seq)) => last_sent = last_sent.max(seq),
                                Some(None) => {}
                                None => return,
                            }
                        }
                        held.retain(|view, _| views.contains(view));
                        for view in &views {
                            let (frame, _) = board_update(&state, &actor, *view, last_sent, &mut held, true).await;
                            if let Some(frame) = frame {
                                if !send_text(&mut socket, frame).await {
                                    return;
                                }
                            }
                        }
                    }
                    Err(e) => {
                        let message = format!("unknown message: {e}; send {{\"type\":\"subscribe\",\"views\":[...],\"after\":N}}");
                        if !send(&mut socket, json!({"type": "error", "message": message})).await {
                            return;
                        }
                    }
                }
            }
            _ = &mut grace, if !streaming => streaming = true,
            live = subscription.rx.recv(), if streaming => {
                let Some(live) = live else { return };
                let Some(changed) = forward(&mut socket, &state, &actor, &live, &mut last_sent, with_ticket).await else {
                    return;
                };
                dirty |= changed;
                unflushed = true;
            }
            _ = debounce.tick(), if dirty => {
                if Instant::now() < next_view_push {
                    continue;
                }
                dirty = false;
                next_view_push = Instant::now() + VIEW_DEBOUNCE;
                for view in &views {
                    let (frame, current) = board_update(&state, &actor, *view, last_sent, &mut held, !patches).await;
                    if let Some(frame) = frame {
                        if !send_text(&mut socket, frame).await {
                            return;
                        }
                    }
                    // A shared board computed just before the last event: send a fresh one
                    // on the next tick, or this client would show it only after another event.
                    dirty |= !current;
                }
            }
            _ = subscription.revoked.notified() => {
                close_revoked(&mut socket).await;
                return;
            }
            _ = ping.tick() => {
                if last_heard.elapsed() > DEAD_AFTER {
                    let _ = socket.send(Message::Close(None)).await;
                    return;
                }
                if socket.send(Message::Ping(Default::default())).await.is_err() {
                    return;
                }
            }
        }
    }
}

/// The session ended (logout, disabled account, new password): say so and close, with the
/// policy-violation code, so nothing more reaches a client that is no longer logged in.
async fn close_revoked(socket: &mut WebSocket) {
    let _ = send(
        socket,
        json!({"type": "revoked", "message": "the session ended (logged out or the account changed); log in again"}),
    )
    .await;
    let frame = axum::extract::ws::CloseFrame { code: 1008, reason: Utf8Bytes::from_static("session revoked") };
    let _ = socket.send(Message::Close(Some(frame))).await;
}

/// Sends what the client missed since `after`. `Some(Some(seq))`: replayed up to `seq`;
/// `Some(None)`: too far back, told to resync (fresh views follow); `None`: connection gone.
async fn replay(
    socket: &mut WebSocket,
    state: &AppState,
    actor: &Actor,
    after: i64,
    with_ticket: bool,
) -> Option<Option<i64>> {
    let head = state.live().head().max(0);
    if head - after > MAX_REPLAY || after < 0 {
        let reason = format!("cannot replay from {after}: more than {MAX_REPLAY} events ago");
        return send(socket, json!({"type": "resync", "reason": reason, "seq": head})).await.then_some(None);
    }
    let mut from = after;
    while from < head {
        let Ok(entries) = state.store.live_log_after(from, 500).await else { return Some(Some(from)) };
        if entries.is_empty() {
            break;
        }
        for logged in entries {
            let seq = logged.seq();
            let ticket = match &logged {
                crate::store::hotspots::Logged::Ticket(e) => state.store.ticket(e.ticket_id).await.ok().flatten(),
                _ => None,
            };
            let Some(live) = Live::new(logged, |_| ticket) else {
                from = seq.min(head);
                continue;
            };
            if live.seq() > head {
                return Some(Some(from));
            }
            from = live.seq();
            if !concerns(actor, &live) {
                continue;
            }
            let message = match &live {
                Live::Ticket(live) => event_message(state, actor, live, with_ticket),
                Live::Hotspot(h) => hotspot_message(state, h),
                Live::Cti(c) => cti_message(state, actor, c).await,
            };
            if !send(socket, message).await {
                return None;
            }
        }
    }
    Some(Some(from))
}
