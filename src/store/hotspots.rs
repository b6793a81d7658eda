//! Hot spots: intake counted per street × category, and the alerts raised.

use super::{from_millis, get_i64, get_string, millis, Result, Store, StoreError};
use crate::domain::event::{ActorRef, Event};
use crate::domain::hotspots::{Alert, Cell, Rise, MIN_COUNT, RAISED_EVENT};
use chrono::{DateTime, Utc};
use sqlx::Row;
use std::collections::HashMap;

impl Store {
    /// Intake per street × category since `window_start` and in the baseline before it, for
    /// the cells with at least `MIN_COUNT` recent tickets (the others cannot rise).
    pub async fn intake_cells(
        &self,
        baseline_start: DateTime<Utc>,
        window_start: DateTime<Utc>,
        now: DateTime<Utc>,
    ) -> Result<Vec<Cell>> {
        let rows = sqlx::query(
            "SELECT street, category, CAST(SUM(CASE WHEN created_at >= $1 THEN 1 ELSE 0 END) AS BIGINT) AS recent, \
             CAST(SUM(CASE WHEN created_at < $1 THEN 1 ELSE 0 END) AS BIGINT) AS before_window \
             FROM tickets WHERE created_at >= $2 AND created_at < $3 AND street IS NOT NULL \
             GROUP BY street, category HAVING SUM(CASE WHEN created_at >= $1 THEN 1 ELSE 0 END) >= $4",
        )
        .bind(millis(window_start))
        .bind(millis(baseline_start))
        .bind(millis(now))
        .bind(MIN_COUNT)
        .fetch_all(&self.pool)
        .await?;
        rows.iter()
            .map(|r| {
                Ok(Cell {
                    street: get_string(r, "street")?,
                    category: get_string(r, "category")?,
                    recent: get_i64(r, "recent")?,
                    before: get_i64(r, "before_window")?,
                })
            })
            .collect()
    }

    /// The tickets of one cell since `from`, oldest first: (id, number).
    pub async fn cell_tickets(&self, street: &str, category: &str, from: DateTime<Utc>) -> Result<Vec<(i64, String)>> {
        let rows = sqlx::query(
            "SELECT id, number FROM tickets WHERE street = $1 AND category = $2 AND created_at >= $3 ORDER BY id",
        )
        .bind(street)
        .bind(category)
        .bind(millis(from))
        .fetch_all(&self.pool)
        .await?;
        rows.iter().map(|r| Ok((get_i64(r, "id")?, get_string(r, "number")?))).collect()
    }

    /// Records a rise with the tickets behind it, (id, number); `None` when this cell, window
    /// and period was already raised. The alert and its `hotspot_raised` system event are
    /// written in one transaction, so the live hubs of every instance, which tail the event
    /// log, learn of exactly the alerts stored.
    pub async fn raise_hotspot(
        &self,
        rise: &Rise,
        tickets: &[(i64, String)],
        actor: &ActorRef,
        now: DateTime<Utc>,
    ) -> Result<Option<Alert>> {
        let ids: Vec<i64> = tickets.iter().map(|(id, _)| *id).collect();
        let mut tx = self.writer.begin().await?;
        let seq = super::tickets::lock_sequence(&mut tx).await? + 1;
        let row = sqlx::query(
            "INSERT INTO hotspot_alerts (street, category, window_hours, period, count, baseline_centi, raised_at, \
             tickets) VALUES ($1, $2, $3, $4, $5, $6, $7, $8) ON CONFLICT DO NOTHING RETURNING id",
        )
        .bind(&rise.street)
        .bind(&rise.category)
        .bind(rise.window_hours)
        .bind(rise.period)
        .bind(rise.count)
        .bind((rise.baseline * 100.0).round() as i64)
        .bind(millis(now))
        .bind(serde_json::to_string(&ids).unwrap_or_else(|_| "[]".into()))
        .fetch_optional(&mut *tx)
        .await?;
        let Some(row) = row else { return Ok(None) };
        let alert = Alert {
            id: get_i64(&row, "id")?,
            street: rise.street.clone(),
            category: rise.category.clone(),
            window_hours: rise.window_hours,
            count: rise.count,
            baseline: rise.baseline,
            // At the stored precision, so the live message and the list say the same instant.
            raised_at: from_millis(millis(now)),
            tickets: ids,
            numbers: tickets.iter().map(|(_, n)| n.clone()).collect(),
        };
        let data = serde_json::to_value(&alert).map_err(|e| StoreError::Corrupt(format!("hotspot alert: {e}")))?;
        super::dispatch::insert_system_event(&mut tx, seq, RAISED_EVENT, now, actor, &data).await?;
        self.notify_instances(&mut tx, seq).await?;
        tx.commit().await?;
        Ok(Some(alert))
    }

    /// Alerts raised since `since`, newest first.
    pub async fn hotspot_alerts(&self, since: DateTime<Utc>, limit: i64) -> Result<Vec<Alert>> {
        let rows = sqlx::query(
            "SELECT id, street, category, window_hours, count, baseline_centi, raised_at, tickets FROM hotspot_alerts \
             WHERE raised_at >= $1 ORDER BY raised_at DESC, id DESC LIMIT $2",
        )
        .bind(millis(since))
        .bind(limit)
        .fetch_all(&self.pool)
        .await?;
        let mut alerts = rows
            .iter()
            .map(|r| {
                Ok(Alert {
                    id: get_i64(r, "id")?,
                    street: get_string(r, "street")?,
                    category: get_string(r, "category")?,
                    window_hours: get_i64(r, "window_hours")?,
                    count: get_i64(r, "count")?,
                    baseline: get_i64(r, "baseline_centi")? as f64 / 100.0,
                    raised_at: from_millis(get_i64(r, "raised_at")?),
                    tickets: serde_json::from_str(&get_string(r, "tickets")?)
                        .map_err(|e| StoreError::Corrupt(format!("hotspot tickets: {e}")))?,
                    numbers: Vec::new(),
                })
            })
            .collect::<Result<Vec<Alert>>>()?;
        let numbers = self.ticket_numbers(alerts.iter().flat_map(|a| a.tickets.iter().copied()).collect()).await?;
        for alert in &mut alerts {
            alert.numbers = alert.tickets.iter().map(|id| numbers.get(id).cloned().unwrap_or_default()).collect();
        }
        Ok(alerts)
    }

    /// The numbers of these tickets, by id.
    async fn ticket_numbers(&self, mut ids: Vec<i64>) -> Result<HashMap<i64, String>> {
        ids.sort_unstable();
        ids.dedup();
        let mut numbers = HashMap::new();
        for chunk in ids.chunks(500) {
            let mut sql = super::Sql::new("SELECT id, number FROM tickets WHERE id IN ");
            sql.bind_list(chunk);
            for r in sql.query().fetch_all(&self.pool).await? {
                numbers.insert(get_i64(&r, "id")?, get_string(&r, "number")?);
            }
        }
        Ok(numbers)
    }
}

/// One entry of the log as the live hub fans it out: a ticket event, or a raised hot spot
/// (the only system event live clients are told of).
#[derive(Debug, Clone, PartialEq)]
pub enum Logged {
    Ticket(Event),
    Hotspot {
        seq: i64,
        alert: Alert,
    },
    /// Sessions ended (logout, disable, new password): no client hears of it, the hub acts.
    Revoked {
        seq: i64,
        revocation: super::revocations::Revocation,
    },
    /// A call ringing at an operator's seat (`call_ringing`, the screen-pop) or a seat
    /// changing state (`seat_changed`, the wall): `store::cti`.
    Cti {
        seq: i64,
        kind: String,
        data: serde_json::Value,
    },
}

impl Logged {
    pub fn seq(&self) -> i64 {
        match self {
            Logged::Ticket(e) => e.seq,
            Logged::Hotspot { seq, .. } | Logged::Revoked { seq, .. } | Logged::Cti { seq, .. } => *seq,
        }
    }
}

impl Store {
    /// The live log after `seq`, in sequence order: ticket events, raised hot spots, revoked
    /// sessions and the CTI system events (screen-pops, seat changes).
    pub async fn live_log_after(&self, seq: i64, limit: i64) -> Result<Vec<Logged>> {
        let rows = sqlx::query(
            "SELECT seq, ticket_id, type, at, actor, data FROM events WHERE seq > $1 \
             AND (ticket_id IS NOT NULL OR type IN ($2, $3, $4, $5)) ORDER BY seq LIMIT $6",
        )
        .bind(seq)
        .bind(RAISED_EVENT)
        .bind(super::revocations::REVOKED_EVENT)
        .bind(super::cti::CALL_RINGING)
        .bind(super::cti::SEAT_CHANGED)
        .bind(limit)
        .fetch_all(&self.pool)
        .await?;
        rows.iter()
            .map(|r| match r.try_get::<Option<i64>, _>("ticket_id")? {
                Some(_) => Ok(Logged::Ticket(super::tickets::decode_event(r)?)),
                None if get_string(r, "type")? == super::revocations::REVOKED_EVENT => Ok(Logged::Revoked {
                    seq: get_i64(r, "seq")?,
                    revocation: super::revocations::decode(&get_string(r, "data")?)?,
                }),
                None if get_string(r, "type")? != RAISED_EVENT => {
                    let data: serde_json::Value = serde_json::from_str(&get_string(r, "data")?)
                        .map_err(|e| StoreError::Corrupt(format!("cti event: {e}")))?;
                    Ok(Logged::Cti {
                        seq: get_i64(r, "seq")?,
                        kind: get_string(r, "type")?,
                        data: data["data"].clone(),
                    })
                }
                None => {
                    let data: serde_json::Value = serde_json::from_str(&get_string(r, "data")?)
                        .map_err(|e| StoreError::Corrupt(format!("hotspot event: {e}")))?;
                    let alert = serde_json::from_value(data["data"].clone())
                        .map_err(|e| StoreError::Corrupt(format!("hotspot event: {e}")))?;
                    Ok(Logged::Hotspot { seq: get_i64(r, "seq")?, alert })
                }
            })
            .collect()
    }
}
