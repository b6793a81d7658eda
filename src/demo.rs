//! The demo district's people and tickets (`hotline serve --demo`).
//!
//! Departments come from `dispatch_rules/`; this adds the users who work there and N
//! generated tickets, each driven through the real lifecycle (dispatch, accept, reply,
//! callback …) so the demo shows every state a centre sees.

use crate::attachments::{self, Blobs};
use crate::catalog::Catalog;
use crate::domain::attachments::{Purpose, Request, Uploader};
use crate::domain::demo_gen::{self, DemoStep, DemoTicketDraft};
use crate::domain::demo_kb;
use crate::domain::event::{EventKind, Received};
use crate::domain::lifecycle::{self, Actor, Assignment, CallbackReport, Command, Directory};
use crate::domain::rules::RoutingInput;
use crate::domain::types::{Outcome, Role, Satisfaction, Solved};
use crate::http::auth::hash_password;
use crate::store::{actor_ref, NewUser, Store, StoreError};
use rand::rngs::StdRng;
use rand::{Rng, SeedableRng};
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

/// The demo's knowledge base: an article for each of the commonest questions, owned by the
/// unit that keeps it, if the knowledge base is empty. Returns how many it added.
pub async fn ensure_articles(store: &Store, catalog: &Catalog) -> Result<usize, StoreError> {
    if !store.articles(None).await?.is_empty() {
        return Ok(0);
    }
    let now = store.now();
    let mut added = 0;
    for a in demo_kb::usable(&catalog.district) {
        let draft = crate::domain::kb::Draft {
            question: a.question.into(),
            answer: a.answer.into(),
            category: a.category.into(),
            department: a.department.into(),
            valid_from: now - chrono::Duration::days(60),
            valid_to: a.valid_days.map(|d| now + chrono::Duration::days(d)),
        };
        store.add_article(&draft, "admin").await?;
        added += 1;
    }
    Ok(added)
}

/// Generates `count` tickets over the last 30 days and lives each one's life up to now.
///
/// Each ticket is routed by the dispatch rules in force, as a call is (the ones no rule
/// matches go to the manual queue and a dispatcher places them); then its life plan
/// ([`demo_gen::life_plan`]) is played up to the present, each step at its own time, so the
/// data ages as a real centre's does: today's tickets wait to be accepted, last week's are in
/// hand, last month's are called back and closed, and returns are reviewed within hours.
///
/// Without an attachment store, tickets whose category wants a photo with the reply
/// (`photo_required`, 道路破损) stop at 已签收; [`generate_tickets_with_photos`] lets them go on.
pub async fn generate_tickets(store: &Store, catalog: &Catalog, count: usize, seed: u64) -> Result<usize, StoreError> {
    generate(store, catalog, None, count, seed).await
}

/// Like [`generate_tickets`], and before replying on a ticket whose category wants a photo
/// (`photo_required`) the lead department uploads one (a small generated picture) through the
/// ordinary attachment road, so those tickets reach every state the others do.
pub async fn generate_tickets_with_photos(
    store: &Store,
    catalog: &Catalog,
    blobs: &Blobs,
    count: usize,
    seed: u64,
) -> Result<usize, StoreError> {
    generate(store, catalog, Some(blobs), count, seed).await
}

async fn generate(
    store: &Store,
    catalog: &Catalog,
    blobs: Option<&Blobs>,
    count: usize,
    seed: u64,
) -> Result<usize, StoreError> {
    let drafts = demo_gen::generate(&catalog.district, count, seed);
    let mut rng = StdRng::seed_from_u64(seed ^ 0x5eed);
    let end = store.now();
    let span_ms = 30 * 24 * 3600 * 1000i64;
    let step_ms = span_ms / count.max(1) as i64;
    let start_ms = end.timestamp_millis() - span_ms;
    let operator = centre_actor(Role::Operator, 1);
    let dispatcher = centre_actor(Role::Dispatcher, 2);
    let supervisor = centre_actor(Role::Supervisor, 3);
    let articles = store.articles(None).await?;
    // The store as it was at one instant of the demo's past: each step is written then.
    let at = |ms: i64| store.with_clock(Arc::new(move || crate::store::from_millis(ms)));
    for (i, draft) in drafts.into_iter().enumerate() {
        let created_ms = start_ms + step_ms * (i as i64 + 1);
        let created = crate::store::from_millis(created_ms);
        let input = RoutingInput {
            kind: draft.kind,
            category: &draft.category,
            content: &draft.content,
            address: &draft.address,
            street: Some(&draft.street),
            community: draft.community.as_deref(),
            channel: draft.channel,
            urgency: draft.urgency,
            received_at: created,
        };
        let routing = catalog.rules.route(&input, &catalog.district);
        let mut received = received(String::new(), &draft);
        let assignment = routing.decision().map(|d| {
            if let Some(u) = d.urgency.as_deref().and_then(|u| u.parse().ok()) {
                received.urgency = u;
            }
            Assignment {
                lead: d.lead.clone(),
                assists: d.assist.clone(),
                policy: Some(d.policy.clone()),
                note: None,
                rule_id: Some(d.rule_id.clone()),
                rules_version: Some(catalog.rules.version().to_string()),
            }
        });
        let plan = demo_gen::life_plan(draft.kind, assignment.is_some(), &mut rng);
        let resolves = plan.first().is_some_and(|(_, s)| *s == DemoStep::ResolveDirectly);
        let routed = assignment.clone().filter(|_| !resolves);
        let mut ticket = at(created_ms)
            .create_ticket(
                &actor_ref(&operator),
                |number, _| Ok(EventKind::Received(Received { number, ..received })),
                |t, now| match routed {
                    Some(a) => lifecycle::decide(t, &Command::Dispatch(a), &catalog.context(&operator, now)),
                    None => Ok(vec![]),
                },
            )
            .await?
            .ticket;
        for (hours, step) in plan {
            let step_ms = created_ms + (hours * 3600e3) as i64;
            if step_ms > end.timestamp_millis() {
                break;
            }
            let lead = ticket.lead.clone().unwrap_or_default();
            let office = catalog.district.street_office(&draft.street).map(|d| d.code.clone());
            let (actor, command) = match step {
                DemoStep::ResolveDirectly => {
                    let article = articles.iter().find(|a| a.text.category == draft.category);
                    let answer = article.map_or("已根据相关政策向来电人解释说明。".to_string(), |a| {
                        a.text.answer.clone()
                    });
                    (
                        operator.clone(),
                        Command::ResolveDirectly {
                            answer,
                            callback_consent: rng.gen_bool(0.3),
                            article_id: article.map(|a| a.id),
                        },
                    )
                }
                DemoStep::DispatchByHand => {
                    let Some(office) = office else { break };
                    (dispatcher.clone(), Command::Dispatch(by_hand(office)))
                }
                DemoStep::Accept => (department_actor(catalog, &lead), Command::Accept),
                DemoStep::Return => (
                    department_actor(catalog, &lead),
                    Command::Return {
                        reason: "经核实，该问题不属于本单位职责范围，建议转属地街道协调处理。".into()
                    },
                ),
                DemoStep::ReviewReturn { redispatch } => match office.filter(|o| redispatch && *o != lead) {
                    Some(office) => (dispatcher.clone(), Command::Redispatch { to: by_hand(office), category: None }),
                    None => (
                        dispatcher.clone(),
                        Command::RejectReturn {
                            reason: "经核实属于贵单位职责范围，请按规定办理。".into()
                        },
                    ),
                },
                DemoStep::RequestExtension => (
                    department_actor(catalog, &lead),
                    Command::RequestExtension {
                        reason: "需协调相关单位现场勘查，申请延长办理时间。".into(),
                        extra: "3wd".into(),
                    },
                ),
                DemoStep::DecideExtension { approve } => {
                    (supervisor.clone(), Command::DecideExtension { approve, note: None })
                }
                DemoStep::Supervise => {
                    (supervisor.clone(), Command::Supervise { note: Some("已超期，请加快办理".into()) })
                }
                DemoStep::Reply => {
                    // Assisting units answer the lead first, as the lifecycle asks.
                    let waiting: Vec<_> =
                        ticket.assists.iter().filter(|a| a.replied_at.is_none() && !a.waived).cloned().collect();
                    for assist in waiting {
                        let unit = department_actor(catalog, &assist.department);
                        let command = Command::AssistReply {
                            text: "已配合现场核实，情况已告知主办单位。".into()
                        };
                        if let Some(t) = play(&at(step_ms), &ticket, &unit, &command, catalog).await? {
                            ticket = t;
                        }
                    }
                    if let (Some(blobs), Some(_)) = (blobs, catalog.district.reply_photo_required(&ticket.category)) {
                        let lead_actor = department_actor(catalog, &lead);
                        if let Some(t) = reply_photo(&at(step_ms), blobs, &ticket, &lead_actor).await? {
                            ticket = t;
                        }
                    }
                    let explained = draft.kind == "consult" || rng.gen_bool(0.15);
                    let (outcome, text) = if explained {
                        (Outcome::Explained, "已联系来电人，就有关政策和办理流程作了解释说明，来电人表示理解。")
                    } else {
                        (Outcome::Solved, "已安排工作人员现场核实处理，问题已解决，并已电话告知来电人。")
                    };
                    (department_actor(catalog, &lead), Command::Reply { outcome, text: text.into() })
                }
                DemoStep::Callback { satisfied } => (
                    operator.clone(),
                    Command::RecordCallback(CallbackReport {
                        reached: true,
                        failure: None,
                        solved: Some(if satisfied { Solved::Yes } else { Solved::No }),
                        satisfaction: Some(if satisfied {
                            Satisfaction::Satisfied
                        } else {
                            Satisfaction::Dissatisfied
                        }),
                        comment: None,
                    }),
                ),
            };
            match play(&at(step_ms), &ticket, &actor, &command, catalog).await? {
                Some(t) => ticket = t,
                // A step the ticket's state does not allow (a callback it does not get): its
                // life ends here.
                None => break,
            }
        }
    }
    Ok(count)
}

/// The lead department's on-site photo (现场照片) before its reply: a small picture made
/// here, taken in like any upload. `None` when the ticket's state refuses it.
async fn reply_photo(
    store: &Store,
    blobs: &Blobs,
    ticket: &crate::domain::ticket::Ticket,
    lead: &Actor,
) -> Result<Option<crate::domain::ticket::Ticket>, StoreError> {
    let shade = (ticket.id % 200) as u8;
    let picture = image::RgbImage::from_fn(160, 120, |x, y| image::Rgb([shade, (x + y) as u8, 90]));
    let mut jpeg = Vec::new();
    image::codecs::jpeg::JpegEncoder::new_with_quality(&mut jpeg, 80)
        .encode_image(&picture)
        .map_err(|e| StoreError::Config(format!("demo photo: {e}")))?;
    let unavailable = |e: attachments::UploadError| StoreError::Unavailable(format!("demo photo: {e}"));
    let file = attachments::spool_bytes(blobs, "现场照片.jpg", &jpeg).await.map_err(unavailable)?;
    let request = Request { purpose: Some(Purpose::Reply), public: Some(true) };
    let limits = crate::config::Config::default().attachment_limits();
    match attachments::attach(store, blobs, &limits, ticket.id, Uploader::Staff(lead), lead, request, vec![file]).await
    {
        Ok((change, _)) => Ok(Some(change.ticket)),
        Err(attachments::AddError::Store(StoreError::Rejected(_))) => Ok(None),
        Err(attachments::AddError::Store(e)) => Err(e),
        Err(attachments::AddError::Upload(e)) => Err(unavailable(e)),
    }
}

fn by_hand(lead: String) -> Assignment {
    Assignment { lead, assists: vec![], policy: None, note: None, rule_id: None, rules_version: None }
}

/// One step through the ordinary write path; `None` when the state machine refuses it.
async fn play(
    store: &Store,
    ticket: &crate::domain::ticket::Ticket,
    actor: &Actor,
    command: &Command,
    catalog: &Catalog,
) -> Result<Option<crate::domain::ticket::Ticket>, StoreError> {
    match store
        .change_ticket(ticket.id, actor, |t, now| lifecycle::decide(t, command, &catalog.context(actor, now)))
        .await
    {
        Ok(change) => Ok(Some(change.ticket)),
        Err(StoreError::Rejected(_)) | Err(StoreError::NotFound) => Ok(None),
        Err(e) => Err(e),
    }
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
