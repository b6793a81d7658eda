//! Tickets and their events: the one write path, and the queries lists and histories use.

use super::sql::Value;
use super::{from_millis, get_i64, get_string, millis, Result, Sql, Store, StoreError};
use crate::domain::clocks::pending_timers;
use crate::domain::event::{ActorRef, Event, EventKind};
use crate::domain::lifecycle::{Actor, DecisionError};
use crate::domain::ticket::{apply, Ticket};
use crate::domain::types::{Kind, Status, Urgency};
use chrono::{DateTime, FixedOffset, Utc};
use sqlx::any::AnyRow;
use sqlx::{Any, Row, Transaction};
use std::collections::BTreeMap;

/// A committed change: the ticket as it is now and the events that made it so.
#[derive(Debug, Clone)]
pub struct Change {
    pub ticket: Ticket,
    pub events: Vec<Event>,
}

#[derive(Debug, Clone, Default)]
pub struct TicketFilter {
    pub statuses: Vec<Status>,
    /// Tickets assigned (as lead or assisting) to any of these units.
    pub departments: Option<Vec<String>>,
    pub street: Option<String>,
    /// A taxonomy prefix: `03.02` matches `03.02.01`.
    pub category: Option<String>,
    pub kind: Option<Kind>,
    pub urgency: Option<Urgency>,
    pub created_from: Option<DateTime<Utc>>,
    pub created_to: Option<DateTime<Utc>>,
    /// Past the reply deadline and still with a department.
    pub overdue: Option<bool>,
    pub caller_phone: Option<String>,
    /// Only tickets with an id below this (the cursor of the previous page).
    pub before_id: Option<i64>,
    /// Only tickets with an id from this one on: a search turns `created_from` into it (ids
    /// follow creation), so that every index on `(…, id)` can seek to the window.
    pub from_id: Option<i64>,
    /// Only tickets with an id below this one: `created_to`, likewise.
    pub to_id: Option<i64>,
    pub limit: i64,
}

#[derive(Debug, Clone)]
pub struct TicketPage {
    pub tickets: Vec<Ticket>,
    /// Pass as `cursor` to get the next page; `None` on the last page.
    pub next_cursor: Option<i64>,
}

/// Statuses in which a department holds the ticket and its reply clock runs.
pub const CLOCK_RUNNING: [Status; 3] = [Status::Dispatched, Status::Accepted, Status::ReturnRequested];

/// Ticket numbers are dated in Beijing time: a call at 00:30 on the 23rd belongs to the 23rd.
pub(super) fn number_day(now: DateTime<Utc>) -> String {
    now.with_timezone(&FixedOffset::east_opt(8 * 3600).expect("valid offset")).format("%Y%m%d").to_string()
}

impl Store {
    /// Creates a ticket: `received` builds the first event from the new id, number and time;
    /// `then` may add more (routing at intake) deciding on the ticket as received.
    pub async fn create_ticket<R, T>(&self, actor: &ActorRef, received: R, then: T) -> Result<Change>
    where
        R: FnOnce(String, DateTime<Utc>) -> Result<EventKind, DecisionError>,
        T: FnOnce(&Ticket, DateTime<Utc>) -> Result<Vec<EventKind>, DecisionError>,
    {
        let mut tx = self.writer.begin().await?;
        // The day's number counter is locked first: creations queue on it, so numbers follow
        // creation order. The event sequence is taken last, once the events are known, in the
        // same statement that locks it (creations never wait for a ticket lock, so this order
        // cannot deadlock with changes, which take the sequence first).
        let day = number_day(self.now());
        let (id, n) = add_ticket_counters(&mut tx, &day, 1).await?;
        let now = self.now();
        let first = received(format!("{day}-{n:06}"), now)?;
        let mut log = EventLog { seq: 0, now, actor, ticket_id: id, events: Vec::new() };
        let ticket = log.apply(None, first);
        let follow_up = then(&ticket, now)?;
        let ticket = follow_up.into_iter().fold(ticket, |t, kind| log.apply(Some(t), kind));
        log.renumber(reserve_sequence(&mut tx, log.events.len() as i64).await?);
        log.write(&mut tx).await?;
        self.notify_instances(&mut tx, log.seq).await?;
        write_ticket(&mut tx, &ticket, true, Fresh::Yes).await?;
        write_timers(&mut tx, &ticket, Fresh::Yes).await?;
        self.queue_notices(&mut tx, &log.events, &ticket, now).await?;
        tx.commit().await?;
        Ok(Change { ticket, events: log.events })
    }

    /// Changes one ticket by a domain decision. A ticket the actor may not see is `NotFound`,
    /// exactly as if it did not exist.
    pub async fn change_ticket<F>(&self, id: i64, actor: &Actor, decide: F) -> Result<Change>
    where
        F: FnOnce(&Ticket, DateTime<Utc>) -> Result<Vec<EventKind>, DecisionError>,
    {
        Ok(self.change_ticket_followed(id, actor, decide, |_, _, _, _| Vec::new()).await?.0)
    }

    /// Like [`Store::change_ticket`], and in the same transaction the tickets merged into it
    /// (并单) follow: `follow` decides, for each, what the change means for it (the reply
    /// goes to every merged resident). Returns the change and the followers' changes.
    pub async fn change_ticket_followed<F, G>(
        &self,
        id: i64,
        actor: &Actor,
        decide: F,
        mut follow: G,
    ) -> Result<(Change, Vec<Change>)>
    where
        F: FnOnce(&Ticket, DateTime<Utc>) -> Result<Vec<EventKind>, DecisionError>,
        G: FnMut(&Ticket, &Ticket, &[EventKind], DateTime<Utc>) -> Vec<EventKind>,
    {
        let mut tx = self.writer.begin().await?;
        let seq = lock_sequence(&mut tx).await?;
        let now = self.now();
        let ticket = load_ticket(&mut tx, id).await?.filter(|t| actor.can_see(t)).ok_or(StoreError::NotFound)?;
        let kinds = decide(&ticket, now)?;
        if kinds.is_empty() {
            // Nothing happened; make sure the timers agree with the ticket, so a stale timer
            // row cannot be picked up again and again.
            write_timers(&mut tx, &ticket, Fresh::No).await?;
            tx.commit().await?;
            return Ok((Change { ticket, events: Vec::new() }, Vec::new()));
        }
        let actor_ref = actor_ref(actor);
        let change = self.record_change(&mut tx, ticket, kinds, seq, now, &actor_ref).await?;
        let mut last = change.events.last().map_or(seq, |e| e.seq);
        let happened: Vec<EventKind> = change.events.iter().map(|e| e.kind.clone()).collect();
        let mut followers = Vec::new();
        for follower_id in &change.ticket.merged_from {
            let Some(follower) = load_ticket(&mut tx, *follower_id).await? else { continue };
            let kinds = follow(&follower, &change.ticket, &happened, now);
            if kinds.is_empty() {
                continue;
            }
            let followed = self.record_change(&mut tx, follower, kinds, last, now, &actor_ref).await?;
            last = followed.events.last().map_or(last, |e| e.seq);
            followers.push(followed);
        }
        self.finish_sequence(&mut tx, last).await?;
        tx.commit().await?;
        Ok((change, followers))
    }

    /// Appends the events of one ticket's change (numbered after `seq`) and writes what they
    /// project: the row, its units, its timers, its mail. The counter is the caller's to
    /// advance ([`Store::finish_sequence`]), once per transaction.
    async fn record_change(
        &self,
        tx: &mut Transaction<'_, Any>,
        ticket: Ticket,
        kinds: Vec<EventKind>,
        seq: i64,
        now: DateTime<Utc>,
        actor: &ActorRef,
    ) -> Result<Change> {
        let mut log = EventLog { seq, now, actor, ticket_id: ticket.id, events: Vec::new() };
        let before_units: Vec<String> = ticket.assigned_units().map(String::from).collect();
        let before_timers = pending_timers(&ticket);
        let ticket = kinds.into_iter().fold(ticket, |t, kind| log.apply(Some(t), kind));
        let units_changed = before_units.iter().map(String::as_str).ne(ticket.assigned_units());
        log.write(tx).await?;
        write_ticket(tx, &ticket, units_changed, Fresh::No).await?;
        if pending_timers(&ticket) != before_timers {
            write_timers(tx, &ticket, Fresh::No).await?;
        }
        self.queue_notices(tx, &log.events, &ticket, now).await?;
        Ok(Change { ticket, events: log.events })
    }

    /// Records the last sequence number given out in this transaction and, on PostgreSQL,
    /// tells the other instances at commit.
    async fn finish_sequence(&self, tx: &mut Transaction<'_, Any>, last: i64) -> Result<()> {
        sqlx::query("UPDATE counters SET value = $1 WHERE name = 'event_seq'").bind(last).execute(&mut **tx).await?;
        self.notify_instances(tx, last).await
    }

    /// On PostgreSQL, tells the other instances' live hubs at commit that events up to `last`
    /// exist ([`crate::live::notice`]: this store's mark and `last`).
    pub(super) async fn notify_instances(&self, tx: &mut Transaction<'_, Any>, last: i64) -> Result<()> {
        if self.notifies() {
            sqlx::query("SELECT pg_notify($1, $2)")
                .bind(crate::live::PG_CHANNEL)
                .bind(crate::live::notice(self.instance, last))
                .execute(&mut **tx)
                .await?;
        }
        Ok(())
    }

    /// Changes several tickets in one transaction (the timer scheduler's bursts: thousands of
    /// deadlines on the same second). A ticket that is gone, invisible or whose decision is
    /// refused is skipped; the others commit together.
    pub async fn change_tickets<F>(&self, ids: &[i64], actor: &Actor, mut decide: F) -> Result<Vec<Change>>
    where
        F: FnMut(&Ticket, DateTime<Utc>) -> Result<Vec<EventKind>, DecisionError>,
    {
        let mut tx = self.writer.begin().await?;
        let mut seq = lock_sequence(&mut tx).await?;
        let first_seq = seq;
        let now = self.now();
        let actor_ref = actor_ref(actor);
        let mut changes = Vec::new();
        for &id in ids {
            let Some(ticket) = load_ticket(&mut tx, id).await?.filter(|t| actor.can_see(t)) else { continue };
            let Ok(kinds) = decide(&ticket, now) else { continue };
            if kinds.is_empty() {
                write_timers(&mut tx, &ticket, Fresh::No).await?;
                continue;
            }
            // The counter is written once, at the end, for the whole batch.
            let change = self.record_change(&mut tx, ticket, kinds, seq, now, &actor_ref).await?;
            seq = change.events.last().map_or(seq, |e| e.seq);
            changes.push(change);
        }
        if seq > first_seq {
            self.finish_sequence(&mut tx, seq).await?;
        }
        tx.commit().await?;
        Ok(changes)
    }

    /// 并单 (and undoing one): both tickets change in one transaction.
    pub async fn merge_tickets<F>(&self, source: i64, target: i64, actor: &Actor, decide: F) -> Result<(Change, Change)>
    where
        F: FnOnce(&Ticket, &Ticket, DateTime<Utc>) -> Result<(EventKind, EventKind), DecisionError>,
    {
        let mut tx = self.writer.begin().await?;
        let seq = lock_sequence(&mut tx).await?;
        let now = self.now();
        let src = load_ticket(&mut tx, source).await?.filter(|t| actor.can_see(t)).ok_or(StoreError::NotFound)?;
        let dst = load_ticket(&mut tx, target).await?.filter(|t| actor.can_see(t)).ok_or(StoreError::NotFound)?;
        let (src_kind, dst_kind) = decide(&src, &dst, now)?;
        let units = |t: &Ticket| t.assigned_units().map(String::from).collect::<Vec<_>>();
        let (src_units, dst_units) = (units(&src), units(&dst));
        let actor_ref = actor_ref(actor);
        let mut log = EventLog { seq, now, actor: &actor_ref, ticket_id: source, events: Vec::new() };
        let src = log.apply(Some(src), src_kind);
        log.ticket_id = target;
        let dst = log.apply(Some(dst), dst_kind);
        log.write(&mut tx).await?;
        self.finish_sequence(&mut tx, log.seq).await?;
        write_ticket(&mut tx, &src, units(&src) != src_units, Fresh::No).await?;
        write_ticket(&mut tx, &dst, units(&dst) != dst_units, Fresh::No).await?;
        write_timers(&mut tx, &src, Fresh::No).await?;
        write_timers(&mut tx, &dst, Fresh::No).await?;
        self.queue_notices(&mut tx, &log.events[..1], &src, now).await?;
        self.queue_notices(&mut tx, &log.events[1..], &dst, now).await?;
        tx.commit().await?;
        let (a, b) = log.events.split_at(1);
        Ok((Change { ticket: src, events: a.to_vec() }, Change { ticket: dst, events: b.to_vec() }))
    }

    pub async fn ticket(&self, id: i64) -> Result<Option<Ticket>> {
        let row = sqlx::query("SELECT body FROM tickets WHERE id = $1").bind(id).fetch_optional(&self.pool).await?;
        row.map(|r| decode_body(&r)).transpose()
    }

    pub async fn ticket_id_by_number(&self, number: &str) -> Result<Option<i64>> {
        let row =
            sqlx::query("SELECT id FROM tickets WHERE number = $1").bind(number).fetch_optional(&self.pool).await?;
        row.map(|r| get_i64(&r, "id")).transpose()
    }

    pub async fn list_tickets(&self, filter: &TicketFilter, now: DateTime<Utc>) -> Result<TicketPage> {
        let mut sql = Sql::new("SELECT body, id FROM tickets t WHERE 1 = 1");
        push_filters(&mut sql, filter, now);
        if let Some(before) = filter.before_id {
            sql.push(" AND t.id < ").bind(before);
        }
        let limit = filter.limit.clamp(1, 500);
        sql.push(" ORDER BY t.id DESC LIMIT ").bind(limit + 1);
        let rows = sql.query().fetch_all(&self.pool).await?;
        let mut tickets = rows.iter().map(decode_body).collect::<Result<Vec<_>>>()?;
        let next_cursor = if tickets.len() as i64 > limit {
            tickets.truncate(limit as usize);
            tickets.last().map(|t| t.id)
        } else {
            None
        };
        Ok(TicketPage { tickets, next_cursor })
    }

    pub async fn ticket_events(&self, id: i64) -> Result<Vec<Event>> {
        let rows = sqlx::query("SELECT seq, ticket_id, at, actor, data FROM events WHERE ticket_id = $1 ORDER BY seq")
            .bind(id)
            .fetch_all(&self.pool)
            .await?;
        rows.iter().map(decode_event).collect()
    }

    /// Events after `seq`, oldest first: the feed for live views, search and reports.
    pub async fn events_after(&self, seq: i64, limit: i64) -> Result<Vec<Event>> {
        let rows = sqlx::query(
            "SELECT seq, ticket_id, at, actor, data FROM events WHERE seq > $1 AND ticket_id IS NOT NULL \
             ORDER BY seq LIMIT $2",
        )
        .bind(seq)
        .bind(limit)
        .fetch_all(&self.pool)
        .await?;
        rows.iter().map(decode_event).collect()
    }

    /// Whether commits announce themselves to other instances.
    fn notifies(&self) -> bool {
        self.backend == super::Backend::Postgres
    }

    /// Queues, in the write transaction, the mail these events cause.
    async fn queue_notices(
        &self,
        tx: &mut Transaction<'_, Any>,
        events: &[Event],
        ticket: &Ticket,
        now: DateTime<Utc>,
    ) -> Result<()> {
        if let Some(texter) = &self.texter {
            let texts: Vec<_> = events.iter().flat_map(|event| texter(event, ticket)).collect();
            super::sms::enqueue_texts(tx, &texts, now).await?;
        }
        let Some(notifier) = &self.notifier else { return Ok(()) };
        let mails: Vec<_> = events.iter().flat_map(|event| notifier(event, ticket)).collect();
        super::outbox::enqueue_mails(tx, &mails, now).await
    }

    /// The earliest timer of any ticket: the scheduler sleeps until then.
    pub async fn next_timer_at(&self) -> Result<Option<DateTime<Utc>>> {
        let row = sqlx::query("SELECT MIN(fire_at) AS at FROM timers").fetch_one(&self.pool).await?;
        Ok(row.try_get::<Option<i64>, _>("at")?.map(from_millis))
    }

    /// Tickets with a timer due at `now`, earliest first. Reads the `timers_fire` index from
    /// its start and stops after `limit` timers, so its cost does not grow with the number of
    /// open tickets (a GROUP BY here made the planners scan the whole table).
    pub async fn tickets_with_due_timers(&self, now: DateTime<Utc>, limit: i64) -> Result<Vec<i64>> {
        let rows = sqlx::query("SELECT ticket_id FROM timers WHERE fire_at <= $1 ORDER BY fire_at LIMIT $2")
            .bind(millis(now))
            .bind(limit)
            .fetch_all(&self.pool)
            .await?;
        let mut ids = Vec::with_capacity(rows.len());
        for r in &rows {
            let id = get_i64(r, "ticket_id")?;
            if !ids.contains(&id) {
                ids.push(id);
            }
        }
        Ok(ids)
    }

    /// Open tickets with any clock, for recounting deadlines after a calendar change.
    pub async fn open_ticket_ids_after(&self, after_id: i64, limit: i64) -> Result<Vec<i64>> {
        let rows = sqlx::query(
            "SELECT id FROM tickets WHERE id > $1 AND status NOT IN ('closed', 'merged') ORDER BY id LIMIT $2",
        )
        .bind(after_id)
        .bind(limit)
        .fetch_all(&self.pool)
        .await?;
        rows.iter().map(|r| get_i64(r, "id")).collect()
    }

    pub async fn last_event_seq(&self) -> Result<i64> {
        let row = sqlx::query("SELECT value FROM counters WHERE name = 'event_seq'").fetch_one(&self.pool).await?;
        get_i64(&row, "value")
    }

    /// Rebuilds every ticket row from the event log. Returns how many tickets were rebuilt.
    pub async fn rebuild_projections(&self) -> Result<usize> {
        let mut tx = self.writer.begin().await?;
        lock_sequence(&mut tx).await?;
        let rows =
            sqlx::query("SELECT seq, ticket_id, at, actor, data FROM events WHERE ticket_id IS NOT NULL ORDER BY seq")
                .fetch_all(&mut *tx)
                .await?;
        let mut tickets: BTreeMap<i64, Ticket> = BTreeMap::new();
        for row in &rows {
            let event = decode_event(row)?;
            let current = tickets.remove(&event.ticket_id);
            tickets.insert(event.ticket_id, apply(current, &event));
        }
        sqlx::query("DELETE FROM ticket_units").execute(&mut *tx).await?;
        sqlx::query("DELETE FROM timers").execute(&mut *tx).await?;
        sqlx::query("DELETE FROM tickets").execute(&mut *tx).await?;
        for ticket in tickets.values() {
            write_ticket(&mut tx, ticket, true, Fresh::Yes).await?;
            write_timers(&mut tx, ticket, Fresh::Yes).await?;
        }
        tx.commit().await?;
        Ok(tickets.len())
    }

    /// Every ticket row exactly as stored, for comparing a projection with its rebuild.
    pub async fn dump_ticket_rows(&self) -> Result<Vec<String>> {
        let rows = sqlx::query(
            "SELECT id, number, status, kind, channel, urgency, category, street, community, caller_phone, lead, \
             created_at, updated_at, accept_due_at, reply_due_at, version, body, rule_id, returns, redispatches, late_listed, \
             awaiting \
             FROM tickets ORDER BY id",
        )
        .fetch_all(&self.pool)
        .await?;
        let mut out = Vec::with_capacity(rows.len());
        for r in &rows {
            let mut line = Vec::new();
            for col in ["id", "created_at", "updated_at", "version", "returns", "redispatches", "late_listed"] {
                line.push(get_i64(r, col)?.to_string());
            }
            for col in ["accept_due_at", "reply_due_at"] {
                line.push(format!("{:?}", r.try_get::<Option<i64>, _>(col)?));
            }
            for col in ["number", "status", "kind", "channel", "urgency", "category", "caller_phone", "body"] {
                line.push(get_string(r, col)?);
            }
            for col in ["street", "community", "lead", "rule_id", "awaiting"] {
                line.push(format!("{:?}", r.try_get::<Option<String>, _>(col)?));
            }
            out.push(line.join("|"));
        }
        let timers = sqlx::query(
            "SELECT ticket_id, kind, stage, department, fire_at FROM timers ORDER BY ticket_id, fire_at, kind, stage",
        )
        .fetch_all(&self.pool)
        .await?;
        for r in &timers {
            out.push(format!(
                "timer|{}|{}|{}|{:?}|{}",
                get_i64(r, "ticket_id")?,
                get_string(r, "kind")?,
                get_string(r, "stage")?,
                r.try_get::<Option<String>, _>("department")?,
                get_i64(r, "fire_at")?
            ));
        }
        let units = sqlx::query("SELECT department, ticket_id FROM ticket_units ORDER BY ticket_id, department")
            .fetch_all(&self.pool)
            .await?;
        for r in &units {
            out.push(format!("unit|{}|{}", get_i64(r, "ticket_id")?, get_string(r, "department")?));
        }
        Ok(out)
    }
}

/// Appends ` AND …` for every filter set (all but the cursor and the limit); the ticket row
/// is `t`. Lists and the embedded search share it, so a filter means the same in both.
pub(super) fn push_filters(sql: &mut Sql, filter: &TicketFilter, now: DateTime<Utc>) {
    if !filter.statuses.is_empty() {
        let words: Vec<&str> = filter.statuses.iter().map(|s| s.as_str()).collect();
        sql.push(" AND t.status IN ").bind_list(&words);
    }
    if let Some(units) = &filter.departments {
        // A set of ids rather than a test per row: the database may start from the units'
        // tickets (a department's share of a year) instead of probing every ticket it reads.
        sql.push(" AND t.id IN (SELECT u.ticket_id FROM ticket_units u WHERE u.department IN ")
            .bind_list(units)
            .push(")");
    }
    if let Some(street) = &filter.street {
        sql.push(" AND t.street = ").bind(street);
    }
    if let Some(category) = &filter.category {
        sql.push(" AND (t.category = ")
            .bind(category)
            .push(" OR t.category LIKE ")
            .bind(format!("{category}.%"))
            .push(")");
    }
    if let Some(kind) = filter.kind {
        sql.push(" AND t.kind = ").bind(kind.as_str());
    }
    if let Some(urgency) = filter.urgency {
        sql.push(" AND t.urgency = ").bind(urgency.as_str());
    }
    if let Some(from) = filter.created_from {
        sql.push(" AND t.created_at >= ").bind(millis(from));
    }
    if let Some(to) = filter.created_to {
        sql.push(" AND t.created_at < ").bind(millis(to));
    }
    if let Some(phone) = &filter.caller_phone {
        sql.push(" AND t.caller_phone = ").bind(phone);
    }
    if let Some(from) = filter.from_id {
        sql.push(" AND t.id >= ").bind(from);
    }
    if let Some(to) = filter.to_id {
        sql.push(" AND t.id < ").bind(to);
    }
    match filter.overdue {
        Some(true) => {
            let running: Vec<&str> = CLOCK_RUNNING.iter().map(|s| s.as_str()).collect();
            sql.push(" AND t.reply_due_at < ").bind(millis(now)).push(" AND t.status IN ").bind_list(&running);
        }
        Some(false) => {
            let running: Vec<&str> = CLOCK_RUNNING.iter().map(|s| s.as_str()).collect();
            sql.push(" AND NOT (t.reply_due_at IS NOT NULL AND t.reply_due_at < ")
                .bind(millis(now))
                .push(" AND t.status IN ")
                .bind_list(&running)
                .push(")");
        }
        None => {}
    }
}

pub fn actor_ref(actor: &Actor) -> ActorRef {
    ActorRef {
        user_id: actor.user_id,
        username: actor.username.clone(),
        role: actor.role,
        department: actor.department.clone(),
    }
}

/// Events of one transaction, numbered from the locked sequence.
pub(super) struct EventLog<'a> {
    seq: i64,
    now: DateTime<Utc>,
    actor: &'a ActorRef,
    ticket_id: i64,
    events: Vec<Event>,
}

impl<'a> EventLog<'a> {
    /// A log for a new ticket whose numbers are given later (`renumber`, or by the batch).
    pub(super) fn for_ticket(actor: &'a ActorRef, now: DateTime<Utc>, ticket_id: i64) -> EventLog<'a> {
        EventLog { seq: 0, now, actor, ticket_id, events: Vec::new() }
    }

    /// The ticket as received, before it has an id or number: what follow-up decisions see.
    pub(super) fn provisional(
        actor: &ActorRef,
        now: DateTime<Utc>,
        received: &crate::domain::event::Received,
    ) -> Ticket {
        let mut log = EventLog::for_ticket(actor, now, 0);
        log.apply(None, EventKind::Received(received.clone()))
    }

    pub(super) fn apply_owned(&mut self, ticket: Option<Ticket>, kind: EventKind) -> Ticket {
        self.apply(ticket, kind)
    }

    pub(super) fn len(&self) -> usize {
        self.events.len()
    }

    pub(super) fn into_events(self) -> Vec<Event> {
        self.events
    }

    /// Gives the events their sequence numbers once reserved: `last` is the last of them.
    fn renumber(&mut self, last: i64) {
        let first = last - self.events.len() as i64 + 1;
        for (i, e) in self.events.iter_mut().enumerate() {
            e.seq = first + i as i64;
        }
        self.seq = last;
    }

    fn apply(&mut self, ticket: Option<Ticket>, kind: EventKind) -> Ticket {
        self.seq += 1;
        let event = Event { seq: self.seq, ticket_id: self.ticket_id, at: self.now, actor: self.actor.clone(), kind };
        let ticket = apply(ticket, &event);
        self.events.push(event);
        ticket
    }

    /// Appends the events in one statement (a ticket change makes two or three at once).
    /// Appends the events; the caller advances the counter ([`Store::finish_sequence`]).
    async fn write(&self, tx: &mut Transaction<'_, Any>) -> Result<()> {
        insert_events(tx, &self.events).await
    }
}

/// Appends events, a few hundred rows a statement.
pub(super) async fn insert_events(tx: &mut Transaction<'_, Any>, events: &[Event]) -> Result<()> {
    for chunk in events.chunks(500) {
        let rows = chunk.iter().map(event_row).collect::<Result<Vec<_>>>()?;
        insert_rows(tx, "INSERT INTO events (seq, ticket_id, type, at, actor_id, actor, data) VALUES ", rows, "")
            .await?;
    }
    // The stored files these events name: with this row an object is no orphan.
    let files: Vec<Vec<Value>> = events
        .iter()
        .filter_map(|e| match &e.kind {
            EventKind::AttachmentAdded(a) => Some(vec![
                a.storage_key.as_str().into(),
                a.thumbnail_key.clone().into(),
                e.ticket_id.into(),
                e.seq.into(),
                (a.size as i64).into(),
                a.sha256.as_str().into(),
                millis(e.at).into(),
            ]),
            _ => None,
        })
        .collect();
    insert_rows(
        tx,
        "INSERT INTO attachments (storage_key, thumbnail_key, ticket_id, event_seq, size, sha256, added_at) VALUES ",
        files,
        "",
    )
    .await
}

/// Writes brand-new tickets with their units and timers, one statement per table.
pub(super) async fn insert_fresh_tickets(tx: &mut Transaction<'_, Any>, tickets: &[Ticket]) -> Result<()> {
    let rows = tickets.iter().map(ticket_row).collect::<Result<Vec<_>>>()?;
    insert_rows(tx, TICKET_INSERT, rows, TICKET_UPSERT).await?;
    insert_rows(tx, UNITS_INSERT, tickets.iter().flat_map(unit_rows).collect(), "").await?;
    insert_rows(tx, TIMERS_INSERT, tickets.iter().flat_map(timer_rows).collect(), "").await?;
    super::search::queue_search(tx, tickets).await
}

/// Adds `n` to the ticket id counter and to the day's number counter, in one statement;
/// returns the last id and the last number given.
pub(super) async fn add_ticket_counters(tx: &mut Transaction<'_, Any>, day: &str, n: i64) -> Result<(i64, i64)> {
    let rows = sqlx::query(
        "INSERT INTO counters (name, value) VALUES ('ticket_id', $1), ($2, $1) \
         ON CONFLICT (name) DO UPDATE SET value = counters.value + excluded.value RETURNING name, value",
    )
    .bind(n)
    .bind(format!("ticket_no:{day}"))
    .fetch_all(&mut **tx)
    .await?;
    let mut id = None;
    let mut number = None;
    for r in &rows {
        match get_string(r, "name")?.as_str() {
            "ticket_id" => id = Some(get_i64(r, "value")?),
            _ => number = Some(get_i64(r, "value")?),
        }
    }
    id.zip(number).ok_or_else(|| StoreError::Corrupt("ticket counters did not answer".into()))
}

/// Locks the sequence and reserves `n` numbers; returns the last of them.
pub(super) async fn reserve_sequence(tx: &mut Transaction<'_, Any>, n: i64) -> Result<i64> {
    let row = sqlx::query("UPDATE counters SET value = value + $1 WHERE name = 'event_seq' RETURNING value")
        .bind(n)
        .fetch_one(&mut **tx)
        .await?;
    get_i64(&row, "value")
}

/// Takes the writers' lock and reads the last sequence number given out.
pub(super) async fn lock_sequence(tx: &mut Transaction<'_, Any>) -> Result<i64> {
    let row = sqlx::query("UPDATE counters SET value = value WHERE name = 'event_seq' RETURNING value")
        .fetch_one(&mut **tx)
        .await?;
    get_i64(&row, "value")
}

async fn load_ticket(tx: &mut Transaction<'_, Any>, id: i64) -> Result<Option<Ticket>> {
    let row = sqlx::query("SELECT body FROM tickets WHERE id = $1").bind(id).fetch_optional(&mut **tx).await?;
    row.map(|r| decode_body(&r)).transpose()
}

/// Whether a ticket's rows are written for the first time (nothing to delete first).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Fresh {
    Yes,
    No,
}

const TICKET_INSERT: &str = "INSERT INTO tickets (id, number, status, kind, channel, urgency, category, street, \
     community, caller_phone, lead, created_at, updated_at, accept_due_at, reply_due_at, version, body, rule_id, \
     returns, redispatches, late_listed, awaiting) VALUES ";
const TICKET_UPSERT: &str = " ON CONFLICT (id) DO UPDATE SET status = excluded.status, urgency = excluded.urgency, \
     category = excluded.category, street = excluded.street, community = excluded.community, lead = excluded.lead, \
     updated_at = excluded.updated_at, accept_due_at = excluded.accept_due_at, reply_due_at = excluded.reply_due_at, \
     version = excluded.version, body = excluded.body, rule_id = excluded.rule_id, returns = excluded.returns, \
     redispatches = excluded.redispatches, late_listed = excluded.late_listed, awaiting = excluded.awaiting";
const UNITS_INSERT: &str = "INSERT INTO ticket_units (department, ticket_id) VALUES ";
const TIMERS_INSERT: &str = "INSERT INTO timers (ticket_id, kind, stage, department, fire_at) VALUES ";

/// One multi-row statement; nothing when there are no rows.
pub(super) async fn insert_rows(
    tx: &mut Transaction<'_, Any>,
    head: &str,
    rows: Vec<Vec<Value>>,
    tail: &str,
) -> Result<()> {
    if rows.is_empty() {
        return Ok(());
    }
    let mut sql = Sql::new(head);
    sql.rows(rows).push(tail);
    sql.query().execute(&mut **tx).await?;
    Ok(())
}

fn event_row(e: &Event) -> Result<Vec<Value>> {
    Ok(vec![
        e.seq.into(),
        e.ticket_id.into(),
        e.kind.name().into(),
        millis(e.at).into(),
        e.actor.user_id.into(),
        to_json(&e.actor)?.into(),
        to_json(&e.kind)?.into(),
    ])
}

/// The projection row: the columns lists filter on, and the whole ticket as JSON.
fn ticket_row(t: &Ticket) -> Result<Vec<Value>> {
    Ok(vec![
        t.id.into(),
        t.number.as_str().into(),
        t.status.as_str().into(),
        t.kind.as_str().into(),
        t.channel.as_str().into(),
        t.urgency.as_str().into(),
        t.category.as_str().into(),
        t.street.clone().into(),
        t.community.clone().into(),
        t.caller_phone.as_str().into(),
        t.lead.clone().into(),
        millis(t.created_at).into(),
        millis(t.updated_at).into(),
        t.accept_due_at.map(millis).into(),
        t.reply_due_at.map(millis).into(),
        t.version.into(),
        to_json(t)?.into(),
        t.rule_id.clone().into(),
        t.returns.into(),
        t.redispatches.into(),
        i64::from(t.late_listed).into(),
        t.awaiting_decision().map(String::from).into(),
    ])
}

/// The units the ticket is assigned to now, for department scope.
fn unit_rows(t: &Ticket) -> Vec<Vec<Value>> {
    let mut units: Vec<&str> = t.assigned_units().collect();
    units.sort_unstable();
    units.dedup();
    units.into_iter().map(|unit| vec![unit.into(), t.id.into()]).collect()
}

/// The timers the ticket's clocks imply.
fn timer_rows(t: &Ticket) -> Vec<Vec<Value>> {
    pending_timers(t)
        .into_iter()
        .map(|timer| {
            vec![
                t.id.into(),
                timer.kind.as_str().into(),
                timer.stage.as_word().into(),
                timer.department.into(),
                millis(timer.at).into(),
            ]
        })
        .collect()
}

async fn write_ticket(tx: &mut Transaction<'_, Any>, t: &Ticket, units_changed: bool, fresh: Fresh) -> Result<()> {
    insert_rows(tx, TICKET_INSERT, vec![ticket_row(t)?], TICKET_UPSERT).await?;
    // The search index follows every write of the row, in the same transaction.
    super::search::queue_search(tx, std::slice::from_ref(t)).await?;
    if units_changed {
        if fresh == Fresh::No {
            sqlx::query("DELETE FROM ticket_units WHERE ticket_id = $1").bind(t.id).execute(&mut **tx).await?;
        }
        insert_rows(tx, UNITS_INSERT, unit_rows(t), "").await?;
    }
    Ok(())
}

/// Replaces a ticket's timer rows with what its clocks now imply.
async fn write_timers(tx: &mut Transaction<'_, Any>, t: &Ticket, fresh: Fresh) -> Result<()> {
    if fresh == Fresh::No {
        sqlx::query("DELETE FROM timers WHERE ticket_id = $1").bind(t.id).execute(&mut **tx).await?;
    }
    insert_rows(tx, TIMERS_INSERT, timer_rows(t), "").await
}

fn to_json<T: serde::Serialize>(value: &T) -> Result<String> {
    serde_json::to_string(value).map_err(|e| StoreError::Corrupt(e.to_string()))
}

pub(super) fn decode_body(row: &AnyRow) -> Result<Ticket> {
    let body = get_string(row, "body")?;
    serde_json::from_str(&body).map_err(|e| StoreError::Corrupt(format!("ticket body: {e}")))
}

pub(super) fn decode_event(row: &AnyRow) -> Result<Event> {
    let actor: ActorRef = serde_json::from_str(&get_string(row, "actor")?)
        .map_err(|e| StoreError::Corrupt(format!("event actor: {e}")))?;
    let kind: EventKind =
        serde_json::from_str(&get_string(row, "data")?).map_err(|e| StoreError::Corrupt(format!("event data: {e}")))?;
    Ok(Event {
        seq: get_i64(row, "seq")?,
        ticket_id: get_i64(row, "ticket_id")?,
        at: from_millis(get_i64(row, "at")?),
        actor,
        kind,
    })
}
