//! The demo district's people and tickets (`hotline serve --demo`).
//!
//! Departments come from `dispatch_rules/`; this adds the users who work there and N
//! generated tickets, each driven through the real lifecycle (dispatch, accept, reply,
//! callback …) so the demo shows every state a centre sees.

use crate::catalog::Catalog;
use crate::domain::demo_gen::{self, DemoTicketDraft};
use crate::domain::event::{EventKind, Received};
use crate::domain::lifecycle::{self, Actor, Assignment, CallbackReport, Command};
use crate::domain::types::{Outcome, Role, Satisfaction, Solved};
use crate::http::auth::hash_password;
use crate::store::{actor_ref, NewUser, Store, StoreError};
use rand::rngs::StdRng;
use rand::{Rng, SeedableRng};
use std::sync::atomic::{AtomicI64, Ordering};
use std::sync::Arc;

pub const DEMO_PASSWORD: &str = "hotline-demo";

/// The centre's own accounts; every department also gets one named by its code.
const CENTRE_USERS: &[(&str, &str, Role)] = &[
    ("operator", "话务员 张敏", Role::Operator),
    ("dispatcher", "派单员 李强", Role::Dispatcher),
    ("supervisor", "督办 王芳", Role::Supervisor),
    ("admin", "系统管理员", Role::Admin),
];

/// Creates the demo users if the database has none. Returns whether it did.
pub async fn ensure_users(store: &Store, catalog: &Catalog) -> Result<bool, StoreError> {
    if store.user_count().await? > 0 {
        return Ok(false);
    }
    let mut specs: Vec<(String, String, Role, Option<String>)> =
        CENTRE_USERS.iter().map(|(u, n, r)| (u.to_string(), n.to_string(), *r, None)).collect();
    for d in &catalog.district.departments {
        if d.kind == crate::domain::district::DepartmentKind::Centre {
            continue;
        }
        specs.push((d.code.clone(), d.name.clone(), Role::Department, Some(d.code.clone())));
    }
    // Hashing is deliberately slow; spread it over the cores.
    let mut handles = Vec::new();
    for chunk in specs.chunks(specs.len().div_ceil(num_cpus()).max(1)) {
        let chunk = chunk.to_vec();
        handles.push(tokio::task::spawn_blocking(move || {
            chunk
                .into_iter()
                .map(|(username, display_name, role, department)| NewUser {
                    username,
                    display_name,
                    role,
                    department,
                    password_hash: hash_password(DEMO_PASSWORD),
                })
                .collect::<Vec<_>>()
        }));
    }
    let mut users = Vec::new();
    for h in handles {
        users.extend(h.await.map_err(|e| StoreError::Config(e.to_string()))?);
    }
    store.create_users(&users).await?;
    Ok(true)
}

fn num_cpus() -> usize {
    std::thread::available_parallelism().map(|n| n.get()).unwrap_or(2)
}

fn centre_actor(role: Role, id: i64) -> Actor {
    Actor { user_id: id, username: role.as_str().to_string(), role, department: None, units: Vec::new() }
}

fn department_actor(catalog: &Catalog, code: &str) -> Actor {
    Actor {
        user_id: 0,
        username: code.to_string(),
        role: Role::Department,
        department: Some(code.to_string()),
        units: catalog.district.descendants(code).into_iter().map(String::from).collect(),
    }
}

/// Generates `count` tickets and moves each a random way along its life.
///
/// Tickets are spread over the last 30 days, oldest first, so the demo has history: some
/// overdue, some closed, some still waiting for a callback.
pub async fn generate_tickets(store: &Store, catalog: &Catalog, count: usize, seed: u64) -> Result<usize, StoreError> {
    let drafts = demo_gen::generate(&catalog.district, count, seed);
    let mut rng = StdRng::seed_from_u64(seed ^ 0x5eed);
    let end = store.now();
    let span_ms = 30 * 24 * 3600 * 1000i64;
    let step_ms = span_ms / count.max(1) as i64;
    let demo_time = Arc::new(AtomicI64::new(end.timestamp_millis() - span_ms));
    let clock_time = demo_time.clone();
    let store = &store.with_clock(Arc::new(move || crate::store::from_millis(clock_time.load(Ordering::Relaxed))));
    let operator = centre_actor(Role::Operator, 1);
    let dispatcher = centre_actor(Role::Dispatcher, 2);
    let supervisor = centre_actor(Role::Supervisor, 3);
    for draft in drafts {
        demo_time.fetch_add(step_ms, Ordering::Relaxed);
        let ticket = store
            .create_ticket(
                &actor_ref(&operator),
                |number, _| Ok(EventKind::Received(received(number, &draft))),
                |_, _| Ok(vec![]),
            )
            .await?
            .ticket;
        let lead = match draft.street.as_str() {
            s if rng.gen_bool(0.5) => catalog.district.street_office(s).map(|d| d.code.clone()),
            _ => None,
        }
        .or_else(|| {
            let bureaus: Vec<&str> = catalog
                .district
                .departments
                .iter()
                .filter(|d| {
                    matches!(
                        d.kind,
                        crate::domain::district::DepartmentKind::Bureau
                            | crate::domain::district::DepartmentKind::Utility
                    )
                })
                .map(|d| d.code.as_str())
                .collect();
            bureaus.get(rng.gen_range(0..bureaus.len().max(1))).map(|s| s.to_string())
        });
        let Some(lead) = lead else { continue };
        // How far along its life this ticket gets: most are somewhere in the middle.
        let stage = rng.gen_range(0..10);
        let lead_actor = department_actor(catalog, &lead);
        let mut steps: Vec<(Actor, Command)> = Vec::new();
        if stage == 0 {
            if draft.kind == "consult" {
                steps.push((
                    operator.clone(),
                    Command::ResolveDirectly {
                        answer: "已按知识库答复市民。".into(),
                        callback_consent: rng.gen_bool(0.3),
                        article_id: None,
                    },
                ));
            }
        } else {
            steps.push((
                dispatcher.clone(),
                Command::Dispatch(Assignment {
                    lead: lead.clone(),
                    assists: vec![],
                    policy: None,
                    note: None,
                    rule_id: None,
                    rules_version: None,
                }),
            ));
            if stage >= 3 {
                steps.push((lead_actor.clone(), Command::Accept));
            }
            if stage == 4 {
                steps.push((lead_actor.clone(), Command::Return { reason: "经核实不属于本单位职责范围。".into() }));
            }
            if stage >= 6 {
                steps.push((
                    lead_actor.clone(),
                    Command::Reply {
                        outcome: Outcome::Solved, text: "已安排工作人员现场处理，问题已解决。".into()
                    },
                ));
            }
            if stage >= 8 {
                let happy = rng.gen_bool(0.85);
                steps.push((
                    operator.clone(),
                    Command::RecordCallback(CallbackReport {
                        reached: true,
                        failure: None,
                        solved: Some(if happy { Solved::Yes } else { Solved::No }),
                        satisfaction: Some(if happy { Satisfaction::Satisfied } else { Satisfaction::Dissatisfied }),
                        comment: None,
                    }),
                ));
            }
            if stage == 5 && rng.gen_bool(0.5) {
                steps.push((supervisor.clone(), Command::Supervise { note: Some("重点关注".into()) }));
            }
        }
        let mut step_at = demo_time.load(Ordering::Relaxed);
        for (actor, command) in steps {
            // Each step a few hours after the one before, never past the present.
            step_at = (step_at + rng.gen_range(600_000..6 * 3600 * 1000)).min(end.timestamp_millis());
            let at = step_at;
            let step_store = store.with_clock(Arc::new(move || crate::store::from_millis(at)));
            step_store
                .change_ticket(ticket.id, &actor, |t, now| {
                    lifecycle::decide(t, &command, &catalog.context(&actor, now))
                })
                .await?;
        }
    }
    Ok(count)
}

fn received(number: String, d: &DemoTicketDraft) -> Received {
    Received {
        number,
        kind: d.kind.parse().unwrap_or(crate::domain::types::Kind::Help),
        channel: d.channel.parse().unwrap_or(crate::domain::types::Channel::Phone),
        urgency: d.urgency.parse().unwrap_or(crate::domain::types::Urgency::Normal),
        category: d.category.clone(),
        street: Some(d.street.clone()),
        community: d.community.clone(),
        address: d.address.clone(),
        content: d.content.clone(),
        caller_name: d.caller_name.clone(),
        caller_phone: d.caller_phone.clone(),
        confidential: d.confidential,
        callback_consent: true,
        call_id: None,
    }
}
