//! CTI persistence: call events as posted (once each), call records folded from them, seats,
//! the missed-call list, and the links between calls and tickets.
//!
//! Locks, in this order only (so two writers never wait for each other in a circle):
//! 1. the call's row (`cti_calls`, claimed first by an upsert): two events of one call never
//!    fold concurrently, while events of different calls fold side by side on PostgreSQL;
//! 2. the seats' rows (`FOR UPDATE` on PostgreSQL) the event changes;
//! 3. last, and only to append, the event-log counter (`event_seq`) every ticket write takes:
//!    the system events for the live hubs — `call_ringing` (the screen-pop, to the operator at
//!    the extension) and `seat_changed` (to the wall) — get gap-free numbers in the same
//!    transaction as the change they announce, with one multi-row insert.
//!
//! Why the counter comes last: it is the one lock every writer of the centre shares. Taken
//! first (as before), it was held across the whole fold — about 14 round trips for a ring —
//! and on PostgreSQL every call event, and every ticket write, queued behind it. Taken last,
//! it is held across 4 statements (lock, insert, counter, notify) and the commit. On SQLite the
//! one writer connection orders everything anyway.

use super::sql::Value;
use super::{from_millis, get_i64, get_string, millis, Backend, Result, Store, StoreError};
use crate::domain::cti::calls::{self, CallEvent, CallEventError, CallEventKind, CallRecord};
use crate::domain::cti::missed::{self, MissedCall, MissedStatus};
use crate::domain::cti::seats::{self, Operator, Seat, SeatError, SeatState};
use crate::domain::event::ActorRef;
use chrono::{DateTime, Duration, Utc};
use sqlx::{Any, Row, Transaction};
use std::collections::HashMap;

/// The system event that pops the caller's screen at one operator's console.
pub const CALL_RINGING: &str = "call_ringing";
/// The system event that moves a seat on the wall (坐席监控).
pub const SEAT_CHANGED: &str = "seat_changed";

/// What storing a batch of call events did.
#[derive(Debug, Clone, Default, PartialEq, Eq, serde::Serialize, utoipa::ToSchema)]
pub struct EventsStored {
    /// New events stored.
    pub accepted: usize,
    /// Events already stored before (a retry): nothing changed for them.
    pub duplicates: usize,
}

/// A refused event of a batch: its position and what is wrong with it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Refused {
    pub index: usize,
    pub error: CallEventError,
}

fn corrupt(what: &str, e: impl std::fmt::Display) -> StoreError {
    StoreError::Corrupt(format!("{what}: {e}"))
}

fn system_actor() -> ActorRef {
    ActorRef { user_id: 0, username: "pbx".into(), role: crate::domain::types::Role::Admin, department: None }
}

/// ` FOR UPDATE` on PostgreSQL: the row stays locked until the transaction ends. Nothing on
/// SQLite, where the one writer connection orders every write.
fn for_update(backend: Backend) -> &'static str {
    match backend {
        Backend::Postgres => " FOR UPDATE",
        Backend::Sqlite => "",
    }
}

fn decode_seat(r: &sqlx::any::AnyRow) -> Result<Seat> {
    serde_json::from_str(&get_string(r, "body")?).map_err(|e| corrupt("seat", e))
}

async fn seat_at(tx: &mut Transaction<'_, Any>, extension: &str, lock: &str) -> Result<Option<Seat>> {
    let row = sqlx::query(&format!("SELECT body FROM cti_seats WHERE extension = $1{lock}"))
        .bind(extension)
        .fetch_optional(&mut **tx)
        .await?;
    row.map(|r| decode_seat(&r)).transpose()
}

async fn write_seat(tx: &mut Transaction<'_, Any>, seat: &Seat) -> Result<()> {
    let body = serde_json::to_string(seat).map_err(|e| corrupt("seat", e))?;
    sqlx::query(
        "INSERT INTO cti_seats (extension, user_id, username, state, since, body) VALUES ($1, $2, $3, $4, $5, $6) \
         ON CONFLICT (extension) DO UPDATE SET user_id = $2, username = $3, state = $4, since = $5, body = $6",
    )
    .bind(&seat.extension)
    .bind(seat.user_id)
    .bind(seat.username.clone())
    .bind(seat.state.as_str())
    .bind(millis(seat.since))
    .bind(body)
    .execute(&mut **tx)
    .await?;
    Ok(())
}

/// System events for the live hubs, written together when the transaction's work is done.
#[derive(Default)]
struct Announcements(Vec<(&'static str, serde_json::Value)>);

impl Announcements {
    fn seat(&mut self, seat: &Seat) -> Result<()> {
        self.0.push((SEAT_CHANGED, serde_json::to_value(seat).map_err(|e| corrupt("seat", e))?));
        Ok(())
    }
}

/// Writes a seat's new state and announces it to the wall.
async fn seat_changed(tx: &mut Transaction<'_, Any>, said: &mut Announcements, seat: &Seat) -> Result<()> {
    write_seat(tx, seat).await?;
    said.seat(seat)
}

async fn open_missed(tx: &mut Transaction<'_, Any>, caller: &str, lock: &str) -> Result<Option<MissedCall>> {
    let row = sqlx::query(&format!("SELECT id, body FROM cti_missed WHERE caller = $1 AND status = 'open'{lock}"))
        .bind(caller)
        .fetch_optional(&mut **tx)
        .await?;
    row.map(|r| decode_missed(&r)).transpose()
}

fn decode_missed(r: &sqlx::any::AnyRow) -> Result<MissedCall> {
    let mut entry: MissedCall = serde_json::from_str(&get_string(r, "body")?).map_err(|e| corrupt("missed call", e))?;
    entry.id = get_i64(r, "id")?;
    Ok(entry)
}

async fn write_missed(tx: &mut Transaction<'_, Any>, entry: &MissedCall) -> Result<i64> {
    let body = serde_json::to_string(entry).map_err(|e| corrupt("missed call", e))?;
    let status = match entry.status {
        MissedStatus::Open => "open",
        MissedStatus::Closed => "closed",
    };
    if entry.id == 0 {
        let row =
            sqlx::query("INSERT INTO cti_missed (caller, status, last_at, body) VALUES ($1, $2, $3, $4) RETURNING id")
                .bind(&entry.caller)
                .bind(status)
                .bind(millis(entry.last_at))
                .bind(body)
                .fetch_one(&mut **tx)
                .await?;
        get_i64(&row, "id")
    } else {
        sqlx::query("UPDATE cti_missed SET status = $1, last_at = $2, body = $3 WHERE id = $4")
            .bind(status)
            .bind(millis(entry.last_at))
            .bind(body)
            .bind(entry.id)
            .execute(&mut **tx)
            .await?;
        Ok(entry.id)
    }
}

/// Claims the call's row — the first lock a call event takes, so the events of one call fold
/// one after the other — and returns the record as stored before (none for a new call, whose
/// row is a placeholder until `write_call` fills it in the same transaction).
async fn claim_call(tx: &mut Transaction<'_, Any>, call_id: &str, now: DateTime<Utc>) -> Result<Option<CallRecord>> {
    let row = sqlx::query(
        "INSERT INTO cti_calls (call_id, started_at, outcome, updated_at, body) VALUES ($1, $2, '', $2, '') \
         ON CONFLICT (call_id) DO UPDATE SET updated_at = cti_calls.updated_at RETURNING body",
    )
    .bind(call_id)
    .bind(millis(now))
    .fetch_one(&mut **tx)
    .await?;
    if get_string(&row, "body")?.is_empty() {
        return Ok(None);
    }
    decode_call(&row).map(Some)
}

/// The seat at `extension` as this transaction sees it, read (and locked) once.
async fn cached_seat(
    tx: &mut Transaction<'_, Any>,
    seats: &mut HashMap<String, Option<Seat>>,
    extension: &str,
    lock: &str,
) -> Result<Option<Seat>> {
    if let Some(seat) = seats.get(extension) {
        return Ok(seat.clone());
    }
    let seat = seat_at(tx, extension, lock).await?;
    seats.insert(extension.to_string(), seat.clone());
    Ok(seat)
}

fn decode_call(r: &sqlx::any::AnyRow) -> Result<CallRecord> {
    serde_json::from_str(&get_string(r, "body")?).map_err(|e| corrupt("call record", e))
}

impl Store {
    /// Stores a batch of checked call events from `pbx`: all of them, or — when one is
    /// refused (unknown extension, or impossible with the call's other events) — none.
    pub async fn record_call_events(
        &self,
        pbx: &str,
        events: &[CallEvent],
        wrap_up: Duration,
    ) -> Result<Result<EventsStored, Refused>> {
        let now = self.now();
        let lock = for_update(self.backend());
        let mut tx = self.writer.begin().await?;
        let mut said = Announcements::default();
        // The seats this transaction read (locked) or wrote: read each once.
        let mut seen_seats: HashMap<String, Option<Seat>> = HashMap::new();
        let mut stored = EventsStored::default();
        for (index, event) in events.iter().enumerate() {
            let refuse = |error: CallEventError| Ok(Err(Refused { index, error }));
            let mut event = event.clone();
            let before = claim_call(&mut tx, &event.call_id, now).await?;
            // The extensions must be seats (known phones of the centre).
            let mut named = vec![("extension", event.kind.extension().map(String::from))];
            if let CallEventKind::Transferred { to_extension, .. } = &event.kind {
                named.push(("to_extension", Some(to_extension.clone())));
            }
            for (field, ext) in named {
                let Some(ext) = ext else { continue };
                match cached_seat(&mut tx, &mut seen_seats, &ext, lock).await? {
                    None => {
                        return refuse(CallEventError {
                            field: field.into(),
                            message: format!(
                                "extension {ext} is unknown: no operator has ever signed in at it (坐席签入)"
                            ),
                        })
                    }
                    Some(seat) if field == "extension" && seat.state != SeatState::SignedOut => {
                        event.operator = seat.username.clone();
                    }
                    Some(_) => {}
                }
            }
            let (name, extension) = event.dedup_key();
            let body = serde_json::to_string(&event).map_err(|e| corrupt("call event", e))?;
            let inserted = sqlx::query(
                "INSERT INTO cti_events (pbx, call_id, event, extension, at, received_at, body) \
                 VALUES ($1, $2, $3, $4, $5, $6, $7) ON CONFLICT DO NOTHING RETURNING id",
            )
            .bind(pbx)
            .bind(&event.call_id)
            .bind(name)
            .bind(&extension)
            .bind(millis(event.at))
            .bind(millis(now))
            .bind(body)
            .fetch_optional(&mut *tx)
            .await?;
            if inserted.is_none() {
                stored.duplicates += 1;
                continue;
            }
            stored.accepted += 1;
            let rows = sqlx::query("SELECT body FROM cti_events WHERE call_id = $1 ORDER BY id")
                .bind(&event.call_id)
                .fetch_all(&mut *tx)
                .await?;
            let all = rows
                .iter()
                .map(|r| {
                    serde_json::from_str::<CallEvent>(&get_string(r, "body")?).map_err(|e| corrupt("call event", e))
                })
                .collect::<Result<Vec<_>>>()?;
            let call = match calls::fold(&all) {
                Ok(call) => call,
                Err(error) => return refuse(error),
            };
            self.write_call(&mut tx, &call, now).await?;
            // Seats: the phones this call rang or was answered at.
            for ext in seats::extensions_touched(&call, &event) {
                let Some(seat) = cached_seat(&mut tx, &mut seen_seats, &ext, lock).await? else { continue };
                let Some(next) = seats::on_call_event(&seat, &call, &event, wrap_up) else { continue };
                let starts_ringing = next.state == SeatState::Ringing
                    && (seat.state != SeatState::Ringing || seat.call_id != next.call_id);
                seat_changed(&mut tx, &mut said, &next).await?;
                seen_seats.insert(ext.clone(), Some(next.clone()));
                if starts_ringing {
                    if let Some(user_id) = next.user_id {
                        let pop = serde_json::json!({
                            "user_id": user_id,
                            "extension": next.extension,
                            "call_id": call.call_id,
                            "caller": call.caller,
                            "dialled": call.dialled,
                            "queue": call.queue,
                            "rang_at": next.since,
                        });
                        said.0.push((CALL_RINGING, pop));
                    }
                }
            }
            // The missed-call list.
            if let Some(caller) = call.caller.as_deref() {
                // Missed once it is known to be (a hang-up stored before its ring had no caller yet).
                if missed::is_missed(&call) && !before.as_ref().is_some_and(missed::is_missed) {
                    let open = open_missed(&mut tx, caller, lock).await?;
                    if let Some(entry) = missed::add(open.as_ref(), &call) {
                        write_missed(&mut tx, &entry).await?;
                    }
                } else if call.answered.is_some() && before.as_ref().is_none_or(|c| c.answered.is_none()) {
                    if let Some(open) = open_missed(&mut tx, caller, lock).await? {
                        if let Some(closed) = missed::got_through(&open, &call) {
                            write_missed(&mut tx, &closed).await?;
                        }
                    }
                }
            }
        }
        self.announce(&mut tx, said, now).await?;
        tx.commit().await?;
        Ok(Ok(stored))
    }

    /// Appends the transaction's system events to the log: the event-log counter is locked
    /// here, at the end, and held only across this one multi-row insert, the counter's update
    /// and the notification, until the commit that follows.
    async fn announce(&self, tx: &mut Transaction<'_, Any>, said: Announcements, now: DateTime<Utc>) -> Result<()> {
        if said.0.is_empty() {
            return Ok(());
        }
        let first = super::tickets::lock_sequence(tx).await?;
        let actor = system_actor();
        let actor_json = serde_json::to_string(&actor).map_err(|e| corrupt("actor", e))?;
        let last = first + said.0.len() as i64;
        let rows = said
            .0
            .into_iter()
            .zip(first + 1..)
            .map(|((kind, data), seq)| {
                vec![
                    seq.into(),
                    Value::OptI64(None),
                    kind.into(),
                    millis(now).into(),
                    actor.user_id.into(),
                    actor_json.clone().into(),
                    serde_json::json!({"type": kind, "data": data}).to_string().into(),
                ]
            })
            .collect();
        super::tickets::insert_rows(
            tx,
            "INSERT INTO events (seq, ticket_id, type, at, actor_id, actor, data) VALUES ",
            rows,
            "",
        )
        .await?;
        sqlx::query("UPDATE counters SET value = $1 WHERE name = 'event_seq'").bind(last).execute(&mut **tx).await?;
        self.notify_instances(tx, last).await
    }

    async fn write_call(&self, tx: &mut Transaction<'_, Any>, call: &CallRecord, now: DateTime<Utc>) -> Result<()> {
        let body = serde_json::to_string(call).map_err(|e| corrupt("call record", e))?;
        let outcome =
            serde_json::to_value(call.outcome).ok().and_then(|v| v.as_str().map(String::from)).unwrap_or_default();
        sqlx::query(
            "INSERT INTO cti_calls (call_id, caller, started_at, answered_at, ended_at, outcome, operator, updated_at, body) \
             VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9) ON CONFLICT (call_id) DO UPDATE SET caller = $2, started_at = $3, \
             answered_at = $4, ended_at = $5, outcome = $6, operator = $7, updated_at = $8, body = $9",
        )
        .bind(&call.call_id)
        .bind(call.caller.clone())
        .bind(millis(call.started_at))
        .bind(call.answered.as_ref().map(|a| millis(a.at)))
        .bind(call.ended_at.map(millis))
        .bind(outcome)
        .bind(call.answered.as_ref().and_then(|a| a.operator.clone()))
        .bind(millis(now))
        .bind(body)
        .execute(&mut **tx)
        .await?;
        Ok(())
    }

    /// One call record.
    pub async fn call(&self, call_id: &str) -> Result<Option<CallRecord>> {
        let row = sqlx::query("SELECT body FROM cti_calls WHERE call_id = $1")
            .bind(call_id)
            .fetch_optional(&self.pool)
            .await?;
        row.map(|r| decode_call(&r)).transpose()
    }

    /// Call records that started in [from, to), oldest first.
    pub async fn calls_between(&self, from: DateTime<Utc>, to: DateTime<Utc>, limit: i64) -> Result<Vec<CallRecord>> {
        let rows = sqlx::query(
            "SELECT body FROM cti_calls WHERE started_at >= $1 AND started_at < $2 ORDER BY started_at LIMIT $3",
        )
        .bind(millis(from))
        .bind(millis(to))
        .bind(limit)
        .fetch_all(&self.pool)
        .await?;
        rows.iter().map(decode_call).collect()
    }

    /// Calls from `caller` that started since `since`, newest first.
    pub async fn calls_from(&self, caller: &str, since: DateTime<Utc>, limit: i64) -> Result<Vec<CallRecord>> {
        let rows = sqlx::query(
            "SELECT body FROM cti_calls WHERE caller = $1 AND started_at >= $2 ORDER BY started_at DESC LIMIT $3",
        )
        .bind(caller)
        .bind(millis(since))
        .bind(limit)
        .fetch_all(&self.pool)
        .await?;
        rows.iter().map(decode_call).collect()
    }

    /// Links a ticket to the call it was logged during.
    pub async fn link_call_ticket(&self, call_id: &str, ticket_id: i64) -> Result<()> {
        sqlx::query(
            "INSERT INTO cti_call_tickets (call_id, ticket_id, linked_at) VALUES ($1, $2, $3) ON CONFLICT DO NOTHING",
        )
        .bind(call_id)
        .bind(ticket_id)
        .bind(millis(self.now()))
        .execute(&self.writer)
        .await?;
        Ok(())
    }

    /// The tickets logged during a call.
    pub async fn call_tickets(&self, call_id: &str) -> Result<Vec<i64>> {
        let rows = sqlx::query("SELECT ticket_id FROM cti_call_tickets WHERE call_id = $1 ORDER BY ticket_id")
            .bind(call_id)
            .fetch_all(&self.pool)
            .await?;
        rows.iter().map(|r| get_i64(r, "ticket_id")).collect()
    }

    /// The calls a ticket was logged during.
    pub async fn ticket_calls(&self, ticket_id: i64) -> Result<Vec<CallRecord>> {
        let rows = sqlx::query(
            "SELECT c.body FROM cti_call_tickets l JOIN cti_calls c ON c.call_id = l.call_id WHERE l.ticket_id = $1 \
             ORDER BY c.started_at",
        )
        .bind(ticket_id)
        .fetch_all(&self.pool)
        .await?;
        rows.iter().map(decode_call).collect()
    }

    /// Every seat, as at now (wrap-up that ran out shows idle).
    pub async fn seats(&self) -> Result<Vec<Seat>> {
        let now = self.now();
        let rows = sqlx::query("SELECT body FROM cti_seats ORDER BY extension").fetch_all(&self.pool).await?;
        rows.iter().map(|r| Ok(decode_seat(r)?.as_of(now))).collect()
    }

    /// The extension the PBX should ring next for a new call (`domain::cti::seats::next_to_ring`),
    /// leaving out `exclude` (the phones already tried for the call, or just taken by the PBX).
    pub async fn next_extension(&self, exclude: &[String]) -> Result<Option<String>> {
        let now = self.now();
        let rows =
            sqlx::query("SELECT body FROM cti_seats WHERE state IN ('idle', 'wrap_up')").fetch_all(&self.pool).await?;
        let seats = rows.iter().map(decode_seat).collect::<Result<Vec<_>>>()?;
        Ok(seats::next_to_ring(&seats, now, exclude).map(|s| s.extension.clone()))
    }

    /// The seat `user_id` is signed in at, if any.
    pub async fn seat_of(&self, user_id: i64) -> Result<Option<Seat>> {
        let row = sqlx::query("SELECT body FROM cti_seats WHERE user_id = $1 AND state <> 'signed_out'")
            .bind(user_id)
            .fetch_optional(&self.pool)
            .await?;
        row.map(|r| {
            serde_json::from_str::<Seat>(&get_string(&r, "body")?)
                .map_err(|e| corrupt("seat", e))
                .map(|s| s.as_of(self.now()))
        })
        .transpose()
    }

    /// 坐席签入 at `extension` (leaving any other seat the operator held).
    pub async fn sign_in_seat(&self, operator: &Operator, extension: &str) -> Result<Result<Seat, SeatError>> {
        let now = self.now();
        let lock = for_update(self.backend());
        let mut tx = self.writer.begin().await?;
        let mut said = Announcements::default();
        let held = sqlx::query(&format!(
            "SELECT body FROM cti_seats WHERE user_id = $1 AND state <> 'signed_out' AND extension <> $2{lock}"
        ))
        .bind(operator.user_id)
        .bind(extension)
        .fetch_optional(&mut *tx)
        .await?;
        if let Some(row) = held {
            match seats::sign_out(&decode_seat(&row)?, now) {
                Ok(out) => seat_changed(&mut tx, &mut said, &out).await?,
                Err(e) => return Ok(Err(e)),
            }
        }
        let current = seat_at(&mut tx, extension, lock).await?;
        let seat = match seats::sign_in(current.map(|s| s.as_of(now)).as_ref(), extension, operator, now) {
            Ok(seat) => seat,
            Err(e) => return Ok(Err(e)),
        };
        seat_changed(&mut tx, &mut said, &seat).await?;
        self.announce(&mut tx, said, now).await?;
        tx.commit().await?;
        Ok(Ok(seat))
    }

    /// Changes the operator's own seat (sign out, break, ready).
    pub async fn change_seat(
        &self,
        user_id: i64,
        change: impl FnOnce(&Seat, DateTime<Utc>) -> Result<Seat, SeatError>,
    ) -> Result<Result<Seat, SeatError>> {
        let now = self.now();
        let lock = for_update(self.backend());
        let mut tx = self.writer.begin().await?;
        let row =
            sqlx::query(&format!("SELECT body FROM cti_seats WHERE user_id = $1 AND state <> 'signed_out'{lock}"))
                .bind(user_id)
                .fetch_optional(&mut *tx)
                .await?;
        let Some(row) = row else { return Ok(Err(SeatError::NotSignedIn)) };
        let seat = decode_seat(&row)?;
        let next = match change(&seat, now) {
            Ok(next) => next,
            Err(e) => return Ok(Err(e)),
        };
        if next != seat {
            let mut said = Announcements::default();
            seat_changed(&mut tx, &mut said, &next).await?;
            self.announce(&mut tx, said, now).await?;
        }
        tx.commit().await?;
        Ok(Ok(next))
    }

    /// The missed-call list: open entries (oldest first) or, with `closed`, the latest closed.
    pub async fn missed_calls(&self, closed: bool, limit: i64) -> Result<Vec<MissedCall>> {
        let sql = if closed {
            "SELECT id, body FROM cti_missed WHERE status = 'closed' ORDER BY last_at DESC LIMIT $1"
        } else {
            "SELECT id, body FROM cti_missed WHERE status = 'open' ORDER BY last_at LIMIT $1"
        };
        let rows = sqlx::query(sql).bind(limit).fetch_all(&self.pool).await?;
        rows.iter().map(decode_missed).collect()
    }

    /// How many calls `caller` made since `since`.
    pub async fn calls_count_since(&self, caller: &str, since: DateTime<Utc>) -> Result<i64> {
        let row = sqlx::query("SELECT COUNT(*) AS n FROM cti_calls WHERE caller = $1 AND started_at >= $2")
            .bind(caller)
            .bind(millis(since))
            .fetch_one(&self.pool)
            .await?;
        Ok(row.try_get::<i64, _>("n")?)
    }

    /// Changes one missed-call entry (claim, record an attempt); `NotFound` when there is none.
    pub async fn change_missed(
        &self,
        id: i64,
        change: impl FnOnce(&MissedCall, DateTime<Utc>) -> Result<MissedCall, missed::MissedError>,
    ) -> Result<Result<MissedCall, missed::MissedError>> {
        let now = self.now();
        let mut tx = self.writer.begin().await?;
        let row =
            sqlx::query("SELECT id, body FROM cti_missed WHERE id = $1").bind(id).fetch_optional(&mut *tx).await?;
        let Some(row) = row else { return Err(StoreError::NotFound) };
        let entry = decode_missed(&row)?;
        let next = match change(&entry, now) {
            Ok(next) => next,
            Err(e) => return Ok(Err(e)),
        };
        write_missed(&mut tx, &next).await?;
        tx.commit().await?;
        Ok(Ok(next))
    }

    /// Call-ringing and seat-changed system events after `seq` (for tests and replay).
    pub async fn cti_log_after(
        &self,
        seq: i64,
        limit: i64,
    ) -> Result<Vec<(i64, String, DateTime<Utc>, serde_json::Value)>> {
        let rows = sqlx::query(
            "SELECT seq, type, at, data FROM events WHERE seq > $1 AND ticket_id IS NULL AND type IN ($2, $3) ORDER BY seq LIMIT $4",
        )
        .bind(seq)
        .bind(CALL_RINGING)
        .bind(SEAT_CHANGED)
        .bind(limit)
        .fetch_all(&self.pool)
        .await?;
        rows.iter()
            .map(|r| {
                let data: serde_json::Value =
                    serde_json::from_str(&get_string(r, "data")?).map_err(|e| corrupt("cti event", e))?;
                Ok((get_i64(r, "seq")?, get_string(r, "type")?, from_millis(get_i64(r, "at")?), data["data"].clone()))
            })
            .collect()
    }
}
