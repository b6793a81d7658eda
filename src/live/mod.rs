//! Live views over websockets (`GET /api/v1/live`): every role sees its work change as it
//! happens.
//!
//! The hub tails the event log by sequence number — woken by this process's commits, by
//! PostgreSQL `NOTIFY` from other instances, and at worst once a second — so what a client
//! receives is exactly the log, in order, whichever instance wrote it; a lost notification
//! costs at most a second, never an event. What this process committed itself is handed to
//! the hub with the ticket as the change left it ([`Hub::committed`]) and fanned out without
//! reading it back, as long as it is the log's next entry; anything else (another instance's
//! events, the system events, a gap) is read from the log. Each client has a bounded queue: a client too slow
//! to keep up is told to resync and gets fresh views, instead of making the server hold an
//! ever-growing backlog.
//!
//! Besides ticket events, the log carries one system event live clients are told of: a raised
//! hot spot (`hotspot_raised`, written with the alert by `store::hotspots`), sent to the
//! supervisors and admins only (`domain::hotspots::may_see`); the telephone's two
//! (`store::cti`): `call_ringing`, the screen-pop, to the one operator signed in at the ringing
//! extension; `seat_changed`, to the wall's viewers (`domain::cti::sees_seats`), a department
//! hearing of neither; and one the hub acts on itself:
//! revoked sessions (`sessions_revoked`, `store::revocations`), whose websockets it closes and
//! whose cached sessions it drops (`crate::sessions`) — on every instance, as it is the log.

mod boards;
pub mod socket;
pub mod views;

use crate::domain::event::Event;
use crate::domain::hotspots::Alert;
use crate::domain::lifecycle::Actor;
use crate::domain::ticket::Ticket;
use crate::sessions::SessionCache;
use crate::store::hotspots::Logged;
use crate::store::revocations::Revocation;
use crate::store::Store;
use std::collections::{BTreeMap, HashMap};
use std::sync::atomic::{AtomicBool, AtomicI64, AtomicU64, Ordering};
use std::sync::{Arc, Mutex};
use std::time::Duration;
use tokio::sync::{mpsc, Notify};

/// The longest the hub waits before looking at the log again without being woken.
pub const POLL: Duration = Duration::from_secs(1);
/// A client resuming further back than this gets fresh views instead of a replay.
pub const MAX_REPLAY: i64 = 10_000;
/// PostgreSQL channel the write path notifies on.
pub const PG_CHANNEL: &str = "hotline_events";

/// One committed event, with the ticket as it now is and every unit the event concerns
/// (including one the ticket just left, so its board can drop it).
#[derive(Debug)]
pub struct LiveEvent {
    pub event: Event,
    pub ticket: Option<Ticket>,
    pub units: Vec<String>,
    /// The event frame serialised once per variant ([caller shown, caller masked]) and
    /// shared by every client that receives it: at 200 events a second to hundreds of
    /// clients, serialising per client was the server's main work.
    /// The event's frame, built once for every client that gets the same one: caller masked
    /// or not (index + 1), with the ticket or without (index + 2).
    pub frames: [std::sync::OnceLock<axum::extract::ws::Utf8Bytes>; 4],
}

impl LiveEvent {
    pub fn new(event: Event, ticket: Option<Ticket>) -> LiveEvent {
        let units = crate::domain::ticket::units_concerned(&event, ticket.as_ref());
        LiveEvent { event, ticket, units, frames: Default::default() }
    }
}

/// A raised hot spot, its frame serialised once for every supervisor it goes to.
#[derive(Debug)]
pub struct LiveHotspot {
    pub seq: i64,
    pub alert: Alert,
    pub frame: std::sync::OnceLock<axum::extract::ws::Utf8Bytes>,
}

/// A CTI system event: a screen-pop for one operator (`call_ringing`) or a seat change for
/// the wall (`seat_changed`).
#[derive(Debug)]
pub struct LiveCti {
    pub seq: i64,
    pub kind: String,
    pub data: serde_json::Value,
}

impl LiveCti {
    /// The operator a screen-pop is for.
    pub fn target_user(&self) -> Option<i64> {
        (self.kind == crate::store::cti::CALL_RINGING).then(|| self.data["user_id"].as_i64()).flatten()
    }
}

/// What the hub fans out: an entry of the log, in sequence order.
#[derive(Debug)]
pub enum Live {
    /// Boxed: a ticket event carries the whole ticket, a hot spot a few fields.
    Ticket(Box<LiveEvent>),
    Hotspot(LiveHotspot),
    Cti(LiveCti),
}

impl Live {
    pub fn seq(&self) -> i64 {
        match self {
            Live::Ticket(live) => live.event.seq,
            Live::Hotspot(h) => h.seq,
            Live::Cti(c) => c.seq,
        }
    }

    /// Builds the entry; `ticket` is the ticket a ticket event concerns, as it now is.
    /// `None` for what no client hears of (a revocation: the hub acts on it instead).
    pub(crate) fn new(logged: Logged, ticket: impl FnOnce(i64) -> Option<Ticket>) -> Option<Live> {
        match logged {
            Logged::Ticket(event) => {
                let t = ticket(event.ticket_id);
                Some(Live::Ticket(Box::new(LiveEvent::new(event, t))))
            }
            Logged::Hotspot { seq, alert } => {
                Some(Live::Hotspot(LiveHotspot { seq, alert, frame: Default::default() }))
            }
            Logged::Revoked { .. } => None,
            Logged::Cti { seq, kind, data } => Some(Live::Cti(LiveCti { seq, kind, data })),
        }
    }
}

/// A board shared by its viewers (`boards::SharedBoard`), behind its own lock.
pub(crate) type BoardSlot = Arc<tokio::sync::Mutex<boards::SharedBoard>>;

struct Client {
    actor: Actor,
    /// The session the socket was opened with.
    token_hash: Option<String>,
    tx: mpsc::Sender<Arc<Live>>,
    overflowed: Arc<AtomicBool>,
    revoked: Arc<Notify>,
}

/// What a connection holds: its queue, the flag the hub raises when the queue overflowed,
/// and the signal that its session was revoked (the connection must close).
pub struct Subscription {
    pub id: u64,
    pub rx: mpsc::Receiver<Arc<Live>>,
    pub overflowed: Arc<AtomicBool>,
    pub revoked: Arc<Notify>,
    hub: Arc<Hub>,
}

impl Drop for Subscription {
    fn drop(&mut self) {
        self.hub.clients.lock().expect("hub lock poisoned").remove(&self.id);
    }
}

pub struct Hub {
    /// Boards shared by many clients, each behind its own lock so one client computes it
    /// while the others wait for the result: 200 supervisors watching the same wall screen
    /// cost one computation, not 200, and different boards do not wait for each other.
    pub(crate) boards: Mutex<HashMap<String, BoardSlot>>,
    clients: Mutex<HashMap<u64, Client>>,
    next_id: AtomicU64,
    /// The last sequence number fanned out.
    head: AtomicI64,
    /// Entries this process committed, by sequence number, not yet fanned out: each goes out
    /// from here once every entry before it has. At 200 events a second the read-back (the
    /// entries, then their tickets) was two round trips to PostgreSQL per wake.
    committed: Mutex<BTreeMap<i64, Arc<Live>>>,
    wake: Notify,
    buffer: usize,
    /// This instance's session cache, emptied of each revocation the log brings.
    sessions: Arc<SessionCache>,
}

impl Hub {
    pub fn new(buffer: usize, sessions: Arc<SessionCache>) -> Arc<Hub> {
        Arc::new(Hub {
            sessions,
            boards: Mutex::new(HashMap::new()),
            clients: Mutex::new(HashMap::new()),
            next_id: AtomicU64::new(1),
            head: AtomicI64::new(-1),
            committed: Mutex::new(BTreeMap::new()),
            wake: Notify::new(),
            buffer: buffer.max(1),
        })
    }

    /// Something was committed: look at the log now.
    pub fn wake(&self) {
        self.wake.notify_one();
    }

    /// This process committed `events` of `ticket` (as the change left it): they need not be
    /// read back from the log.
    pub fn committed(&self, ticket: &Ticket, events: &[Event]) {
        if self.client_count() > 0 {
            let head = self.head();
            let mut committed = self.committed.lock().expect("hub lock poisoned");
            for event in events.iter().filter(|e| e.seq > head) {
                let live = LiveEvent::new(event.clone(), Some(ticket.clone()));
                committed.insert(event.seq, Arc::new(Live::Ticket(Box::new(live))));
            }
        }
        self.wake();
    }

    /// The committed entries that follow `head` without a gap, in order; those at or before
    /// `head` (read from the log meanwhile) are dropped.
    fn take_committed(&self, head: i64) -> Vec<Arc<Live>> {
        let mut committed = self.committed.lock().expect("hub lock poisoned");
        let mut next = head + 1;
        let mut taken = Vec::new();
        while let Some(entry) = committed.first_entry() {
            match *entry.key() {
                seq if seq <= head => {
                    entry.remove();
                }
                seq if seq == next => {
                    taken.push(entry.remove());
                    next += 1;
                }
                _ => break,
            }
        }
        taken
    }

    pub fn head(&self) -> i64 {
        self.head.load(Ordering::SeqCst)
    }

    pub fn client_count(&self) -> usize {
        self.clients.lock().expect("hub lock poisoned").len()
    }

    /// Registers a client before it reads anything, so nothing committed afterwards is missed.
    pub fn subscribe(self: &Arc<Hub>, actor: Actor) -> Subscription {
        self.subscribe_session(actor, None)
    }

    /// Registers a client opened with the session `token_hash`: revoking that session, or
    /// every session of its user, closes it.
    pub fn subscribe_session(self: &Arc<Hub>, actor: Actor, token_hash: Option<String>) -> Subscription {
        let (tx, rx) = mpsc::channel(self.buffer);
        let overflowed = Arc::new(AtomicBool::new(false));
        let revoked = Arc::new(Notify::new());
        let id = self.next_id.fetch_add(1, Ordering::SeqCst);
        self.clients
            .lock()
            .expect("hub lock poisoned")
            .insert(id, Client { actor, token_hash, tx, overflowed: overflowed.clone(), revoked: revoked.clone() });
        Subscription { id, rx, overflowed, revoked, hub: self.clone() }
    }

    /// Tells the connections of a revoked session (or of every session of its user) to close.
    pub fn revoke(&self, revocation: &Revocation) {
        let clients = self.clients.lock().expect("hub lock poisoned");
        for client in clients.values() {
            let ended = client.actor.user_id == revocation.user_id
                && (revocation.token_hash.is_none() || client.token_hash == revocation.token_hash);
            if ended {
                // A stored permit: the connection closes even if it is busy sending right now.
                client.revoked.notify_one();
            }
        }
    }

    /// A revocation read from the log: the cached sessions and the connections it ends.
    fn apply_revocation(&self, revocation: &Revocation) {
        self.sessions.revoke(revocation);
        self.revoke(revocation);
    }

    fn fan_out(&self, live: Arc<Live>) {
        let clients = self.clients.lock().expect("hub lock poisoned");
        for client in clients.values() {
            if !concerns(&client.actor, &live) || client.overflowed.load(Ordering::SeqCst) {
                continue;
            }
            if client.tx.try_send(live.clone()).is_err() {
                // Too slow: stop queueing for it; it resyncs from fresh views.
                client.overflowed.store(true, Ordering::SeqCst);
            }
        }
    }

    /// Tails the event log until `shutdown`.
    pub async fn run(self: Arc<Hub>, store: Store, shutdown: impl std::future::Future<Output = ()>) {
        tokio::pin!(shutdown);
        if self.head() < 0 {
            match store.last_event_seq().await {
                Ok(seq) => self.head.store(seq, Ordering::SeqCst),
                Err(e) => tracing::error!("live hub cannot read the event log: {e}"),
            }
        }
        loop {
            if let Err(e) = self.catch_up(&store).await {
                tracing::warn!("live hub: reading the event log failed: {e}; retrying");
            }
            tokio::select! {
                _ = self.wake.notified() => {}
                _ = tokio::time::sleep(POLL) => {}
                _ = &mut shutdown => return,
            }
        }
    }

    async fn catch_up(&self, store: &Store) -> Result<(), crate::store::StoreError> {
        if self.client_count() == 0 {
            // Nobody is watching: move the head without reading what nobody would receive,
            // but the revocations still empty the session cache.
            let last = store.last_event_seq().await?;
            for (_, revocation) in store.revocations_between(self.head().max(0), last).await? {
                self.apply_revocation(&revocation);
            }
            // Only if still nobody is: a client that registered while the log was read has
            // been told the head as it was (its `hello`), and would never hear of the events
            // skipped here (a resumed client missed the ticket that arrived while it was away).
            // Registering takes the same lock.
            let clients = self.clients.lock().expect("hub lock poisoned");
            if clients.is_empty() {
                self.head.store(last, Ordering::SeqCst);
                drop(clients);
                self.take_committed(last);
                return Ok(());
            }
        }
        loop {
            let head = self.head().max(0);
            let handed = self.take_committed(head);
            if !handed.is_empty() {
                for live in handed {
                    let seq = live.seq();
                    self.fan_out(live);
                    self.head.store(seq, Ordering::SeqCst);
                }
                continue;
            }
            let entries = store.live_log_after(head, 500).await?;
            if entries.is_empty() {
                return Ok(());
            }
            // The batch's tickets in one read: one read per ticket cost a round trip each to
            // PostgreSQL, and a batch of 500 events then reached clients half a second late
            // (delivery p50 596 ms at 200 events/s, ops/bench/RESULTS.md).
            let mut ids: Vec<i64> = entries
                .iter()
                .filter_map(|logged| match logged {
                    Logged::Ticket(event) => Some(event.ticket_id),
                    _ => None,
                })
                .collect();
            ids.sort_unstable();
            ids.dedup();
            let tickets: HashMap<i64, Ticket> =
                store.tickets_by_ids(&ids).await?.into_iter().map(|t| (t.id, t)).collect();
            for logged in entries {
                let seq = logged.seq();
                if let Logged::Revoked { revocation, .. } = &logged {
                    self.apply_revocation(revocation);
                }
                if let Some(live) = Live::new(logged, |id| tickets.get(&id).cloned()) {
                    self.fan_out(Arc::new(live));
                }
                self.head.store(seq, Ordering::SeqCst);
            }
        }
    }
}

/// Whether a client hears of an entry at all: the centre hears of every ticket event, a
/// department only of what concerns its units; hot spots only those who may see them.
pub fn concerns(actor: &Actor, live: &Live) -> bool {
    match live {
        Live::Ticket(live) => !actor.is_department() || live.units.iter().any(|u| actor.covers(u)),
        Live::Hotspot(_) => crate::domain::hotspots::may_see(actor.role),
        Live::Cti(c) => match c.target_user() {
            Some(user) => crate::domain::cti::hears_screen_pop(actor.role, actor.user_id, user),
            None => crate::domain::cti::sees_seats(actor.role),
        },
    }
}

/// The payload of a commit's `NOTIFY`: the announcing store's mark and the last sequence
/// number committed.
pub fn notice(instance: u64, last: i64) -> String {
    format!("{instance}:{last}")
}

/// Whether a `NOTIFY` payload announces a commit of the store marked `own`.
fn announced_by(payload: &str, own: u64) -> bool {
    payload.split_once(':').and_then(|(mark, _)| mark.parse::<u64>().ok()) == Some(own)
}

/// Wakes the hub on every `NOTIFY` from another instance; reconnects by itself when the
/// connection drops (the hub's polling covers the gap). This instance's own commits (marked
/// `own`) are left to [`Hub::committed`]: woken by their notice, which can arrive before the
/// committing task hands the change over, the hub would read them back from the log.
pub async fn listen_postgres(url: String, hub: Arc<Hub>, own: u64) {
    loop {
        match sqlx::postgres::PgListener::connect(&url).await {
            Ok(mut listener) => {
                if let Err(e) = listener.listen(PG_CHANNEL).await {
                    tracing::warn!("LISTEN {PG_CHANNEL} failed: {e}");
                } else {
                    loop {
                        match listener.recv().await {
                            Ok(notice) if announced_by(notice.payload(), own) => {}
                            Ok(_) => hub.wake(),
                            Err(e) => {
                                tracing::warn!("lost the notification connection: {e}; reconnecting");
                                hub.wake();
                                break;
                            }
                        }
                    }
                }
            }
            Err(e) => tracing::warn!("cannot open the notification connection: {e}"),
        }
        tokio::time::sleep(POLL).await;
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::domain::event::{ActorRef, EventKind};
    use crate::domain::types::Role;
    use futures::FutureExt;

    fn actor(role: Role, unit: Option<&str>) -> Actor {
        Actor {
            user_id: 1,
            username: "x".into(),
            role,
            department: unit.map(String::from),
            units: unit.into_iter().map(String::from).collect(),
        }
    }

    fn live(seq: i64, units: &[&str]) -> Arc<Live> {
        Arc::new(Live::Ticket(Box::new(LiveEvent {
            event: Event {
                seq,
                ticket_id: 1,
                at: chrono::Utc::now(),
                actor: ActorRef { user_id: 1, username: "x".into(), role: Role::Operator, department: None },
                kind: EventKind::Urged { note: None },
            },
            ticket: None,
            units: units.iter().map(|u| u.to_string()).collect(),
            frames: Default::default(),
        })))
    }

    #[test]
    fn a_slow_client_overflows_into_a_resync_not_into_memory() {
        let hub = Hub::new(4, Default::default());
        let mut slow = hub.subscribe(actor(Role::Supervisor, None));
        for seq in 1..=10 {
            hub.fan_out(live(seq, &["cgw"]));
        }
        assert!(slow.overflowed.load(Ordering::SeqCst));
        let mut queued = 0;
        while slow.rx.try_recv().is_ok() {
            queued += 1;
        }
        assert_eq!(queued, 4, "the queue never grows past its bound");
    }

    #[test]
    fn own_commits_go_out_in_log_order_and_wait_behind_a_gap() {
        let hub = Hub::new(16, Default::default());
        let _client = hub.subscribe(actor(Role::Supervisor, None));
        let hand = |seq| {
            hub.committed.lock().unwrap().insert(seq, live(seq, &["cgw"]));
        };
        let seqs = |taken: Vec<Arc<Live>>| taken.iter().map(|l| l.seq()).collect::<Vec<_>>();
        hand(13);
        hand(12);
        // 11 is not this process's (or not handed yet): it must be read from the log first.
        assert!(hub.take_committed(10).is_empty());
        hand(11);
        assert_eq!(seqs(hub.take_committed(10)), [11, 12, 13]);
        // Read from the log meanwhile: an entry at or before the head is dropped, not sent twice.
        hand(14);
        hand(16);
        assert!(hub.take_committed(14).is_empty());
        assert_eq!(hub.committed.lock().unwrap().keys().copied().collect::<Vec<_>>(), [16]);
    }

    #[test]
    fn an_instance_knows_its_own_notices_from_the_others() {
        assert!(announced_by(&notice(42, 1_000), 42));
        assert!(!announced_by(&notice(43, 1_000), 42));
        // A notice without a mark (an older instance during an upgrade) wakes the hub.
        assert!(!announced_by("1000", 42));
    }

    #[test]
    fn departments_hear_only_of_their_units_and_clients_leave_on_drop() {
        let hub = Hub::new(16, Default::default());
        let mut a = hub.subscribe(actor(Role::Department, Some("cgw")));
        let mut b = hub.subscribe(actor(Role::Department, Some("sthj")));
        hub.fan_out(live(1, &["cgw"]));
        assert_eq!(a.rx.try_recv().unwrap().seq(), 1);
        assert!(b.rx.try_recv().is_err());
        assert_eq!(hub.client_count(), 2);
        drop(b);
        assert_eq!(hub.client_count(), 1);
    }

    #[test]
    fn a_revocation_ends_the_sockets_of_its_session_or_of_its_user() {
        let hub = Hub::new(4, Default::default());
        let one = hub.subscribe_session(actor(Role::Operator, None), Some("a".into()));
        let other = hub.subscribe_session(actor(Role::Operator, None), Some("b".into()));
        let ended = |s: &Subscription| s.revoked.notified().now_or_never().is_some();
        hub.revoke(&Revocation { user_id: 1, token_hash: Some("a".into()) });
        assert!(ended(&one) && !ended(&other));
        hub.revoke(&Revocation { user_id: 2, token_hash: None });
        assert!(!ended(&other));
        hub.revoke(&Revocation { user_id: 1, token_hash: None });
        assert!(ended(&other));
    }

    #[test]
    fn hot_spots_reach_supervisors_and_never_departments() {
        let hub = Hub::new(16, Default::default());
        let mut supervisor = hub.subscribe(actor(Role::Supervisor, None));
        let mut operator = hub.subscribe(actor(Role::Operator, None));
        let mut dept = hub.subscribe(actor(Role::Department, Some("cgw")));
        let alert = Alert {
            id: 1,
            street: "xinhua".into(),
            category: "03.02.01".into(),
            window_hours: 6,
            count: 6,
            baseline: 0.5,
            raised_at: chrono::Utc::now(),
            tickets: vec![1],
            numbers: vec!["20261122-000001".into()],
        };
        hub.fan_out(Arc::new(Live::Hotspot(LiveHotspot { seq: 7, alert, frame: Default::default() })));
        assert_eq!(supervisor.rx.try_recv().unwrap().seq(), 7);
        assert!(operator.rx.try_recv().is_err());
        assert!(dept.rx.try_recv().is_err());
    }
}
