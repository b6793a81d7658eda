//! Group commit for intake: calls logged at the same moment are written together.
//!
//! Every write waits for the one writer (SQLite's only writer; PostgreSQL's event-sequence
//! lock), and what it waits for is mostly round trips, not work. So concurrent intake
//! requests queue here and one task writes them as a batch: one transaction, and one
//! statement per table for the whole batch. Each request is decided on its own first — a
//! refused one gets its own error and takes no number — so ticket numbers stay gap-free and
//! in order.

use super::tickets::{insert_fresh_tickets, reserve_sequence, Change, EventLog};
use super::{Result, Store, StoreError};
use crate::domain::event::{ActorRef, EventKind, Received};
use crate::domain::lifecycle::DecisionError;
use crate::domain::ticket::Ticket;
use chrono::{DateTime, Utc};
use tokio::sync::{mpsc, oneshot};

/// What follows from a new ticket in the same request (routing, dispatch by hand, direct
/// resolution), decided on the ticket as received.
pub type FollowUp =
    Box<dyn FnOnce(&Ticket, DateTime<Utc>) -> std::result::Result<Vec<EventKind>, DecisionError> + Send>;

pub struct NewTicket {
    pub actor: ActorRef,
    /// The number is given by the store.
    pub received: Received,
    pub then: FollowUp,
}

/// A request whose follow-up was accepted: who, what was received, what follows.
type Decided = (ActorRef, Received, Vec<EventKind>);
/// A ticket ready to write, with its events.
type Built = (Ticket, Vec<crate::domain::event::Event>);

/// The most tickets written in one transaction.
const MAX_BATCH: usize = 64;

type Reply = oneshot::Sender<std::result::Result<Change, StoreError>>;

/// The queue in front of the batch writer.
#[derive(Clone)]
pub struct Intake {
    tx: mpsc::Sender<(NewTicket, Reply)>,
}

impl Intake {
    /// Starts the writer task; it ends when every `Intake` handle is dropped.
    pub fn start(store: Store) -> Intake {
        let (tx, mut rx) = mpsc::channel::<(NewTicket, Reply)>(1024);
        tokio::spawn(async move {
            while let Some(first) = rx.recv().await {
                let mut batch = vec![first];
                while batch.len() < MAX_BATCH {
                    match rx.try_recv() {
                        Ok(next) => batch.push(next),
                        Err(_) => break,
                    }
                }
                let (requests, replies): (Vec<NewTicket>, Vec<Reply>) = batch.into_iter().unzip();
                match store.create_tickets(requests).await {
                    Ok(results) => {
                        for (reply, result) in replies.into_iter().zip(results) {
                            let _ = reply.send(result.map_err(StoreError::from));
                        }
                    }
                    Err(e) => {
                        let message = e.to_string();
                        for reply in replies {
                            let _ = reply.send(Err(StoreError::Unavailable(message.clone())));
                        }
                    }
                }
            }
        });
        Intake { tx }
    }

    /// Logs one ticket; resolves once its batch is committed.
    pub async fn create(&self, ticket: NewTicket) -> Result<Change> {
        let (reply, answer) = oneshot::channel();
        self.tx.send((ticket, reply)).await.map_err(|_| StoreError::Unavailable("intake writer stopped".into()))?;
        answer.await.map_err(|_| StoreError::Unavailable("intake writer stopped".into()))?
    }
}

impl Store {
    /// Writes a batch of new tickets in one transaction. The outer `Result` fails the whole
    /// batch (the database); each inner one is that ticket's own decision.
    pub async fn create_tickets(
        &self,
        requests: Vec<NewTicket>,
    ) -> Result<Vec<std::result::Result<Change, DecisionError>>> {
        let now = self.now();
        let day = super::tickets::number_day(now);
        // First decide each on a provisional ticket: a refused request takes no number.
        let mut decided: Vec<std::result::Result<Decided, DecisionError>> = Vec::new();
        for request in requests {
            let provisional = EventLog::provisional(&request.actor, now, &request.received);
            decided.push((request.then)(&provisional, now).map(|kinds| (request.actor, request.received, kinds)));
        }
        let accepted = decided.iter().filter(|d| d.is_ok()).count() as i64;
        if accepted == 0 {
            return Ok(decided.into_iter().map(|d| d.map(|_| unreachable!("all refused"))).collect());
        }
        let mut tx = self.writer.begin().await?;
        let (last_id, last_number) = super::tickets::add_ticket_counters(&mut tx, &day, accepted).await?;
        let mut next_id = last_id - accepted + 1;
        let mut next_number = last_number - accepted + 1;
        let mut built: Vec<std::result::Result<Built, DecisionError>> = Vec::new();
        let mut total_events = 0i64;
        for d in decided {
            built.push(d.map(|(actor, received, kinds)| {
                let received = Received { number: format!("{day}-{next_number:06}"), ..received };
                let mut log = EventLog::for_ticket(&actor, now, next_id);
                let ticket = log.apply_owned(None, EventKind::Received(received));
                let ticket = kinds.into_iter().fold(ticket, |t, kind| log.apply_owned(Some(t), kind));
                next_id += 1;
                next_number += 1;
                total_events += log.len() as i64;
                (ticket, log.into_events())
            }));
        }
        // Sequence numbers for the whole batch, in the order the tickets were numbered.
        let mut seq = reserve_sequence(&mut tx, total_events).await? - total_events;
        let mut tickets = Vec::new();
        let mut events = Vec::new();
        for b in built.iter_mut().flatten() {
            for e in b.1.iter_mut() {
                seq += 1;
                e.seq = seq;
            }
            tickets.push(b.0.clone());
            events.extend(b.1.iter().cloned());
        }
        super::tickets::insert_events(&mut tx, &events).await?;
        insert_fresh_tickets(&mut tx, &tickets).await?;
        let mut mails = Vec::new();
        if let Some(notifier) = &self.notifier {
            for (ticket, evs) in built.iter().flatten() {
                for e in evs {
                    mails.extend(notifier(e, ticket));
                }
            }
        }
        super::outbox::enqueue_mails(&mut tx, &mails, now).await?;
        if let Some(texter) = &self.texter {
            let texts: Vec<_> = built
                .iter()
                .flatten()
                .flat_map(|(ticket, evs)| evs.iter().flat_map(move |e| texter(e, ticket)))
                .collect();
            super::sms::enqueue_texts(&mut tx, &texts, now).await?;
        }
        self.notify_instances(&mut tx, seq).await?;
        tx.commit().await?;
        Ok(built.into_iter().map(|b| b.map(|(ticket, events)| Change { ticket, events })).collect())
    }
}
