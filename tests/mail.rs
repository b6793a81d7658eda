//! Mail through the outbox, against a real SMTP server on a random port, on SQLite and
//! PostgreSQL: what a department receives when a ticket is dispatched, and that an outage,
//! a refusal or two senders at once neither lose nor double a mail.

mod common;
#[path = "common/smtp_sink.rs"]
mod smtp_sink;

use common::{two_bureaus, Backend, TestServer};
use hotline::domain::calendar::china_offset;
use hotline::domain::notices::{notices_for, MailKind, NoticeSettings, OutgoingMail};
use hotline::notify::{drain_once, spawn_drain, MailConfig, Mailer, SendError, MAX_REJECTIONS};
use hotline::store::outbox::QueuedMail;
use serde_json::json;
use smtp_sink::{Mode, SmtpSink};
use std::collections::BTreeSet;
use std::time::Duration;

both_backends!(
    dispatch_notice_arrives_in_chinese_with_deadline_and_link,
    nothing_is_lost_while_the_server_is_down_or_refusing,
    rejected_mail_is_failed_and_shown_to_admins,
    two_drains_at_once_deliver_each_mail_once,
    claimed_mail_is_due_again_when_its_sender_dies,
    without_a_server_mail_waits_in_the_outbox,
    the_drain_job_sends_until_shutdown,
);

const FROM: &str = "海川区12345热线 <hotline@haichuan.example.gov.cn>";

fn mailer(sink: &SmtpSink) -> Mailer {
    Mailer::new(&MailConfig { smtp_url: Some(sink.url()), from: FROM.into(), timeout: Duration::from_secs(10) })
        .expect("mail config")
}

fn urge_mail(n: usize) -> OutgoingMail {
    OutgoingMail {
        kind: MailKind::Urge,
        ticket_id: None,
        event_seq: None,
        dedupe_key: None,
        attachment: None,
        recipient: format!("dept{n}@haichuan.example.gov.cn"),
        subject: format!("【12345】催办通知 20261123-{n:06}"),
        body: format!(
            "区城管委：\n\n工单 20261123-{n:06} 已被催办，请抓紧办理。\n办结时限：5个工作日，截止 2026-11-30 17:30\n"
        ),
    }
}

async fn dispatch_notice_arrives_in_chinese_with_deadline_and_link(backend: Backend) {
    // A Monday morning: notices go at once (outside working hours they would wait).
    let clock = common::TestClock::at("2026-11-23T10:00:00+08:00");
    let server = TestServer::start_with(backend, clock, hotline::config::Config::default()).await;
    let sink = SmtpSink::start().await;
    let (lead, assist) = two_bureaus();
    let operator = server.login("operator").await;
    let content = "楼下垃圾已经三天没人清运，气味很大，希望尽快处理。有事请打13812345678找我。";
    let ticket = operator
        .log_call(json!({"content": content, "dispatch": {"lead": lead, "assists": [assist], "policy": "general"}}))
        .await;
    let id = ticket["id"].as_i64().unwrap();
    let number = ticket["number"].as_str().unwrap().to_string();

    // The ticket's write transaction queued the notices of its events.
    let catalog = common::catalog();
    let ticket = server.store.ticket(id).await.unwrap().unwrap();
    let queued = server.store.ticket_mail(id).await.unwrap();
    assert_eq!(queued.len(), 2, "lead and assisting department: {queued:?}");
    // Queueing the same notice again is a no-op (a timer or job firing twice sends once).
    let settings =
        NoticeSettings { public_base_url: "http://127.0.0.1:8080", supervisors: &[], policies: &catalog.policies };
    let events = server.store.ticket_events(id).await.unwrap();
    for notice in events.iter().flat_map(|e| notices_for(e, &ticket, &catalog.district, &settings)) {
        assert_eq!(server.store.enqueue_mail_now(&notice).await.unwrap(), None);
    }

    let report = drain_once(&server.store, &mailer(&sink), server.store.now()).await.unwrap();
    assert_eq!(report.sent, 2, "{report:?}");
    let received = sink.received();
    assert_eq!(received.len(), 2);
    let lead_email = &catalog.district.department(&lead).unwrap().email;
    let to_lead = received.iter().find(|m| m.rcpt_to.first() == Some(lead_email)).expect("mail to the lead");
    assert_eq!(to_lead.mail_from, "hotline@haichuan.example.gov.cn");
    assert!(to_lead.header("From").unwrap().contains("海川区12345热线"));
    assert_eq!(to_lead.subject(), format!("【12345】新工单派发通知 {number}"));
    let body = to_lead.body();
    let due = ticket.reply_due_at.unwrap().with_timezone(&china_offset()).format("%Y-%m-%d %H:%M");
    assert!(body.contains(&format!("办结时限：5个工作日，截止 {due}")), "{body}");
    assert!(body.contains("签收时限："), "{body}");
    assert!(body.contains("楼下垃圾已经三天没人清运"), "{body}");
    assert!(body.contains(&format!("/tickets/{number}")), "{body}");
    assert!(!body.contains("13812345678"), "no mail carries the caller's phone: {body}");
    let to_assist = received.iter().find(|m| m.rcpt_to[0] != *lead_email).unwrap();
    assert!(to_assist.subject().contains("协办"), "{}", to_assist.subject());

    let mail = server.store.ticket_mail(id).await.unwrap();
    assert!(mail.iter().all(|m| m.sent_at.is_some() && m.mail.attempts == 1), "{mail:?}");
    assert!(mail.iter().all(|m| m.mail.kind == "dispatch_notice" && m.mail.event_seq.is_some()));
    server.stop().await;
}

async fn nothing_is_lost_while_the_server_is_down_or_refusing(backend: Backend) {
    let server = TestServer::start(backend).await;
    let store = &server.store;
    let mut sink = SmtpSink::start().await;
    let mailer = mailer(&sink);
    sink.go_down();
    let first = store.enqueue_mail_now(&urge_mail(1)).await.unwrap().unwrap();
    let second = store.enqueue_mail_now(&urge_mail(2)).await.unwrap().unwrap();

    // Down: the first try fails, the other mail is not even tried against a dead server.
    let now = store.now();
    let report = drain_once(store, &mailer, now).await.unwrap();
    assert_eq!((report.claimed, report.retried, report.released, report.sent), (2, 1, 1, 0), "{report:?}");
    let m = store.mail_by_id(first).await.unwrap().unwrap();
    assert_eq!(m.mail.attempts, 1);
    assert_eq!(m.next_attempt_at, now + chrono::TimeDelta::seconds(30));
    assert!(m.mail.last_error.as_deref().unwrap().contains("connection refused"), "{:?}", m.mail.last_error);
    assert_eq!(store.mail_by_id(second).await.unwrap().unwrap().next_attempt_at, m.next_attempt_at);

    // Not due yet: nothing happens.
    assert_eq!(drain_once(store, &mailer, store.now()).await.unwrap().claimed, 0);

    // Still down a minute later: the wait doubles.
    server.clock.advance_minutes(1);
    let now = store.now();
    drain_once(store, &mailer, now).await.unwrap();
    let m = store.mail_by_id(first).await.unwrap().unwrap();
    assert_eq!(m.mail.attempts, 2);
    assert_eq!(m.next_attempt_at, now + chrono::TimeDelta::seconds(60));

    // Back, but refusing for now (greylisting): both tried, both kept.
    sink.come_back().await;
    sink.set_mode(Mode::Refuse(451));
    server.clock.advance_minutes(2);
    let now = store.now();
    let report = drain_once(store, &mailer, now).await.unwrap();
    assert_eq!((report.retried, report.failed), (2, 0), "{report:?}");
    let m = store.mail_by_id(first).await.unwrap().unwrap();
    assert_eq!((m.mail.attempts, m.mail.rejections), (3, 1));
    assert_eq!(m.next_attempt_at, now + chrono::TimeDelta::seconds(120));
    assert!(m.mail.last_error.as_deref().unwrap().contains("451"), "{:?}", m.mail.last_error);
    let counts = store.mail_outbox_counts().await.unwrap();
    assert_eq!((counts.pending, counts.sent, counts.failed), (2, 0, 0));
    assert!(counts.oldest_pending_at.is_some());
    assert!(sink.received().is_empty());

    // Accepting again: each mail arrives once, and later drains send nothing more.
    sink.set_mode(Mode::Accept);
    server.clock.advance_minutes(5);
    let report = drain_once(store, &mailer, store.now()).await.unwrap();
    assert_eq!(report.sent, 2, "{report:?}");
    server.clock.advance_minutes(120);
    assert_eq!(drain_once(store, &mailer, store.now()).await.unwrap().claimed, 0);
    let received = sink.received();
    let mut subjects: Vec<String> = received.iter().map(|m| m.subject()).collect();
    subjects.sort();
    assert_eq!(subjects, ["【12345】催办通知 20261123-000001", "【12345】催办通知 20261123-000002"]);
    assert!(received[0].body().contains("办结时限：5个工作日，截止 2026-11-30 17:30"));
    let counts = store.mail_outbox_counts().await.unwrap();
    assert_eq!((counts.pending, counts.sent, counts.failed, counts.oldest_pending_at), (0, 2, 0, None));
    server.stop().await;
}

async fn rejected_mail_is_failed_and_shown_to_admins(backend: Backend) {
    let server = TestServer::start(backend).await;
    let store = &server.store;
    let sink = SmtpSink::start().await;
    let mailer = mailer(&sink);

    // 550: no such mailbox. Trying again will not help.
    sink.set_mode(Mode::Refuse(550));
    let id = store.enqueue_mail_now(&urge_mail(1)).await.unwrap().unwrap();
    let report = drain_once(store, &mailer, store.now()).await.unwrap();
    assert_eq!(report.failed, 1, "{report:?}");
    let failed = store.failed_mail(10).await.unwrap();
    assert_eq!(failed.len(), 1);
    assert_eq!(failed[0].mail.id, id);
    assert!(failed[0].failed_at.is_some());
    assert!(failed[0].mail.last_error.as_deref().unwrap().contains("550"), "{:?}", failed[0].mail.last_error);
    let counts = store.mail_outbox_counts().await.unwrap();
    assert_eq!((counts.pending, counts.failed), (0, 1));
    server.clock.advance_minutes(120);
    assert_eq!(drain_once(store, &mailer, store.now()).await.unwrap().claimed, 0, "a failed mail is not retried");

    // An admin fixed the address book: requeued, it goes.
    sink.set_mode(Mode::Accept);
    assert!(store.requeue_failed_mail(id, store.now()).await.unwrap());
    assert_eq!(drain_once(store, &mailer, store.now()).await.unwrap().sent, 1);
    assert!(store.failed_mail(10).await.unwrap().is_empty());

    // 451 again and again: given up after MAX_REJECTIONS refusals.
    sink.set_mode(Mode::Refuse(451));
    let id = store.enqueue_mail_now(&urge_mail(2)).await.unwrap().unwrap();
    for _ in 0..MAX_REJECTIONS {
        drain_once(store, &mailer, store.now()).await.unwrap();
        server.clock.advance_minutes(61);
    }
    let m = store.mail_by_id(id).await.unwrap().unwrap();
    assert!(m.failed_at.is_some(), "{m:?}");
    assert_eq!(m.mail.attempts, MAX_REJECTIONS);
    assert!(m.mail.last_error.as_deref().unwrap().contains("refused 8 times"), "{:?}", m.mail.last_error);
    assert_eq!(sink.received().len(), 1);
    server.stop().await;
}

async fn two_drains_at_once_deliver_each_mail_once(backend: Backend) {
    let server = TestServer::start(backend).await;
    let store = &server.store;
    let sink = SmtpSink::start().await;
    let (a, b) = (mailer(&sink), mailer(&sink));
    for n in 0..30 {
        store.enqueue_mail_now(&urge_mail(n)).await.unwrap();
    }
    let now = store.now();
    let (first, second) = tokio::join!(drain_once(store, &a, now), drain_once(store, &b, now));
    let (first, second) = (first.unwrap(), second.unwrap());
    assert_eq!(first.sent + second.sent, 30, "{first:?} {second:?}");
    let received = sink.received();
    assert_eq!(received.len(), 30);
    let ids: BTreeSet<String> = received.iter().map(|m| m.header("Message-ID").unwrap()).collect();
    assert_eq!(ids.len(), 30, "each mail once");
    let recipients: BTreeSet<String> = received.iter().map(|m| m.rcpt_to[0].clone()).collect();
    assert_eq!(recipients.len(), 30);
    assert_eq!(store.mail_outbox_counts().await.unwrap().sent, 30);
    server.stop().await;
}

async fn claimed_mail_is_due_again_when_its_sender_dies(backend: Backend) {
    let server = TestServer::start(backend).await;
    let store = &server.store;
    let id = store.enqueue_mail_now(&urge_mail(1)).await.unwrap().unwrap();
    let lease = Duration::from_secs(60);
    let claimed = store.claim_mail(10, lease, store.now()).await.unwrap();
    assert_eq!(claimed.iter().map(|m| m.id).collect::<Vec<_>>(), [id]);
    assert_eq!(claimed[0].subject, "【12345】催办通知 20261123-000001");
    // Held by its sender: nobody else gets it.
    assert!(store.claim_mail(10, lease, store.now()).await.unwrap().is_empty());
    // The sender died without a word; once the lease runs out the mail is due again.
    server.clock.advance_minutes(2);
    assert_eq!(store.claim_mail(10, lease, store.now()).await.unwrap().len(), 1);

    // Queueing is idempotent by key: the same timer firing twice queues one mail.
    let keyed = OutgoingMail { dedupe_key: Some("overdue:1:0:x@example.gov.cn".into()), ..urge_mail(2) };
    assert!(store.enqueue_mail_now(&keyed).await.unwrap().is_some());
    assert!(store.enqueue_mail_now(&keyed).await.unwrap().is_none());
    server.stop().await;
}

async fn without_a_server_mail_waits_in_the_outbox(backend: Backend) {
    let server = TestServer::start(backend).await;
    let store = &server.store;
    store.enqueue_mail_now(&urge_mail(1)).await.unwrap();
    let mailer = Mailer::new(&MailConfig::default()).unwrap();
    assert!(!mailer.is_enabled());
    let report = drain_once(store, &mailer, store.now()).await.unwrap();
    assert_eq!(report.claimed, 0);
    let counts = store.mail_outbox_counts().await.unwrap();
    assert_eq!((counts.pending, counts.sent), (1, 0));
    server.stop().await;
}

async fn the_drain_job_sends_until_shutdown(backend: Backend) {
    let server = TestServer::start(backend).await;
    let sink = SmtpSink::start().await;
    let (stop, stopped) = tokio::sync::oneshot::channel::<()>();
    let job = spawn_drain(server.store.clone(), mailer(&sink), Duration::from_millis(50), async {
        let _ = stopped.await;
    });
    server.store.enqueue_mail_now(&urge_mail(1)).await.unwrap();
    // Sent and marked sent (the job does both; shutdown does not wait for a drain under way).
    for _ in 0..400 {
        if server.store.mail_outbox_counts().await.unwrap().sent == 1 {
            break;
        }
        tokio::time::sleep(Duration::from_millis(25)).await;
    }
    assert_eq!(sink.received().len(), 1, "sent by the job");
    assert_eq!(server.store.mail_outbox_counts().await.unwrap().sent, 1);
    stop.send(()).unwrap();
    tokio::time::timeout(Duration::from_secs(5), job).await.expect("the job stops on shutdown").unwrap();
    server.stop().await;
}

/// A TLS or port mix-up says what to change, and only delays the mail.
#[tokio::test]
async fn tls_and_port_mixups_are_explained() {
    let sink = SmtpSink::start().await;
    let mail = QueuedMail {
        id: 1,
        kind: "urge".into(),
        ticket_id: None,
        event_seq: None,
        recipient: "cgw@haichuan.example.gov.cn".into(),
        subject: "催办通知".into(),
        body: "请抓紧办理。".into(),
        created_at: chrono::Utc::now(),
        attempts: 0,
        rejections: 0,
        last_error: None,
        attachment: None,
    };
    let timeout = Duration::from_secs(2);

    // TLS from the first byte, to a server that speaks plain SMTP.
    let smtps = MailConfig { smtp_url: Some(format!("smtps://{}", sink.addr)), from: FROM.into(), timeout };
    let err = Mailer::new(&smtps).unwrap().send(&mail).await.unwrap_err();
    let SendError::Unavailable(text) = &err else { panic!("{err:?}") };
    assert!(text.contains("TLS handshake") && text.contains("?tls=required"), "{text}");

    // Plain SMTP to a server that waits for a TLS hello and says nothing.
    let silent = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let addr = silent.local_addr().unwrap();
    let held = tokio::spawn(async move {
        let mut open = Vec::new();
        while let Ok((stream, _)) = silent.accept().await {
            open.push(stream);
        }
    });
    let plain = MailConfig { smtp_url: Some(format!("smtp://{addr}")), from: FROM.into(), timeout };
    let err = Mailer::new(&plain).unwrap().send(&mail).await.unwrap_err();
    let SendError::Unavailable(text) = &err else { panic!("{err:?}") };
    assert!(text.contains("no answer") && text.contains("within 2s"), "{text}");
    held.abort();

    // A malformed address is the mail's fault, for good.
    let bad = QueuedMail { recipient: "not an address".into(), ..mail };
    let err = mailer(&sink).send(&bad).await.unwrap_err();
    assert!(err.is_permanent(), "{err:?}");
    assert!(sink.received().is_empty());
}
