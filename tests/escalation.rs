//! The escalation ladder and the scheduled jobs, by mail through a real SMTP conversation:
//! warning → urge notice, overdue → supervised and supervisors told, notices outside working
//! hours wait, the daily digest on working days only, the weekly summary, each run once.
//! On SQLite and PostgreSQL.

mod common;

#[path = "common/smtp_sink.rs"]
mod smtp_sink;

use common::{catalog, two_bureaus, Backend, TestClock, TestServer};
use hotline::config::Config;
use hotline::jobs::schedule::{jobs, run_once};
use serde_json::json;
use smtp_sink::{Mode, SmtpSink};

both_backends!(
    warning_urges_the_department_and_overdue_tells_the_supervisors,
    notices_wait_for_working_hours_unless_urgent,
    daily_digest_runs_once_and_only_on_working_days,
    weekly_summary_goes_to_the_supervisors,
    monthly_ranking_goes_to_the_supervisors_with_the_csv_attached,
    refused_mail_is_shown_to_admins_and_can_be_retried,
);

fn config_with(sink: &SmtpSink) -> Config {
    Config {
        smtp_url: Some(sink.url()),
        supervisors_email: "duban@haichuan.example.gov.cn".into(),
        ..Config::default()
    }
}

fn email_of(code: &str) -> String {
    catalog().district.department(code).unwrap().email.clone()
}

async fn warning_urges_the_department_and_overdue_tells_the_supervisors(backend: Backend) {
    let sink = SmtpSink::start().await;
    let clock = TestClock::at("2026-11-23T10:00:00+08:00");
    let server = TestServer::start_with(backend, clock.clone(), config_with(&sink)).await;
    let (lead, _) = two_bureaus();
    let operator = server.login("operator").await;
    let dept = server.login(&lead).await;
    let t = operator.log_call(json!({"urgency": "urgent", "dispatch": {"lead": lead}})).await;
    let id = t["id"].to_string();
    dept.act(&id, "accept", json!(null)).await;
    server.drain_mail().await;
    let dispatch_notices = sink.received().len();
    assert!(dispatch_notices >= 1);

    // 1h31 later the 2-hour reply clock is past its warning point: the department is urged.
    clock.advance_minutes(91);
    server.fire_timers().await;
    let operator = server.login("operator").await;
    let (_, ticket) = operator.get(&format!("/api/v1/tickets/{id}")).await;
    assert_eq!(ticket["urges"], 1, "the warning urges automatically");
    server.drain_mail().await;
    let urge: Vec<_> = sink.received().into_iter().filter(|m| m.subject().contains("催办通知")).collect();
    assert_eq!(urge.len(), 1);
    assert_eq!(urge[0].rcpt_to, vec![email_of(&lead)]);

    // Past the deadline: supervised, and the supervisors are told along with the department.
    clock.advance_minutes(60);
    server.fire_timers().await;
    let (_, ticket) = operator.get(&format!("/api/v1/tickets/{id}")).await;
    assert_eq!(ticket["supervised"], true);
    server.drain_mail().await;
    let overdue: Vec<_> = sink.received().into_iter().filter(|m| m.subject().contains("超期督办通知")).collect();
    let recipients: Vec<String> = overdue.iter().flat_map(|m| m.rcpt_to.clone()).collect();
    assert!(recipients.contains(&email_of(&lead)), "{recipients:?}");
    assert!(recipients.contains(&"duban@haichuan.example.gov.cn".to_string()), "{recipients:?}");
    assert!(overdue[0].body().contains("截止"), "the deadline is in words and instant");
    // Firing again sends nothing more.
    server.fire_timers().await;
    let before = sink.received().len();
    server.drain_mail().await;
    assert_eq!(sink.received().len(), before);
    server.stop().await;
}

async fn notices_wait_for_working_hours_unless_urgent(backend: Backend) {
    let sink = SmtpSink::start().await;
    // Saturday night.
    let clock = TestClock::at("2026-11-28T22:00:00+08:00");
    let server = TestServer::start_with(backend, clock.clone(), config_with(&sink)).await;
    let (lead, _) = two_bureaus();
    let operator = server.login("operator").await;
    let normal = operator.log_call(json!({"dispatch": {"lead": lead, "policy": "general"}})).await;
    let urgent = operator.log_call(json!({"urgency": "urgent", "dispatch": {"lead": lead}})).await;
    let queued = server.store.ticket_mail(normal["id"].as_i64().unwrap()).await.unwrap();
    assert_eq!(queued[0].next_attempt_at.to_rfc3339(), "2026-11-30T01:00:00+00:00", "Monday 09:00 in Beijing");
    server.drain_mail().await;
    let sent: Vec<String> = sink.received().iter().map(|m| m.subject()).collect();
    assert!(sent.iter().any(|s| s.contains(urgent["number"].as_str().unwrap())), "urgent goes at once: {sent:?}");
    assert!(!sent.iter().any(|s| s.contains(normal["number"].as_str().unwrap())), "the other waits: {sent:?}");
    clock.advance_minutes(60 * 35);
    server.drain_mail().await;
    assert!(sink.received().iter().any(|m| m.subject().contains(normal["number"].as_str().unwrap())));
    server.stop().await;
}

async fn daily_digest_runs_once_and_only_on_working_days(backend: Backend) {
    let sink = SmtpSink::start().await;
    let clock = TestClock::at("2026-11-23T10:00:00+08:00");
    let server = TestServer::start_with(backend, clock.clone(), config_with(&sink)).await;
    let (lead, other) = two_bureaus();
    let operator = server.login("operator").await;
    operator.log_call(json!({"dispatch": {"lead": lead, "policy": "general"}})).await;
    operator.log_call(json!({"urgency": "urgent", "dispatch": {"lead": other}})).await;
    let digest = jobs(&server.state.config).unwrap().into_iter().find(|j| j.name == "daily_digest").unwrap();
    // Friday 4 December 08:30: the first ticket is overdue by then.
    let friday = chrono::DateTime::parse_from_rfc3339("2026-12-04T08:30:00+08:00").unwrap().to_utc();
    assert_eq!(digest.next_after(friday - chrono::Duration::hours(1)), Some(friday));
    clock.advance_minutes((friday - clock.now()).num_minutes());
    // Two instances reach the same run: one does it.
    let (a, b) = tokio::join!(run_once(&server.state, &digest, friday), run_once(&server.state, &digest, friday));
    let outcomes: Vec<Option<String>> = vec![a.unwrap(), b.unwrap()];
    assert_eq!(outcomes.iter().filter(|o| o.is_some()).count(), 1, "{outcomes:?}");
    server.drain_mail().await;
    let digests: Vec<_> = sink.received().into_iter().filter(|m| m.subject().contains("每日待办提醒")).collect();
    assert_eq!(digests.len(), 2, "one per department with due work");
    let to_lead = digests.iter().find(|m| m.rcpt_to == vec![email_of(&lead)]).expect("digest to the lead");
    assert!(to_lead.subject().contains("已超期1件"), "{}", to_lead.subject());
    // Saturday 08:30 is a day off: the run is recorded as skipped and sends nothing.
    let saturday = friday + chrono::Duration::days(1);
    let outcome = run_once(&server.state, &digest, saturday).await.unwrap().unwrap();
    assert!(outcome.starts_with("skipped"), "{outcome}");
    let runs = server.store.job_runs("daily_digest").await.unwrap();
    assert_eq!(runs.len(), 2);
    server.stop().await;
}

async fn weekly_summary_goes_to_the_supervisors(backend: Backend) {
    let sink = SmtpSink::start().await;
    let clock = TestClock::at("2026-11-23T10:00:00+08:00");
    let server = TestServer::start_with(backend, clock.clone(), config_with(&sink)).await;
    let (lead, _) = two_bureaus();
    let operator = server.login("operator").await;
    operator.log_call(json!({"dispatch": {"lead": lead, "policy": "general"}})).await;
    let summary = jobs(&server.state.config).unwrap().into_iter().find(|j| j.name == "weekly_summary").unwrap();
    let monday = chrono::DateTime::parse_from_rfc3339("2026-11-30T09:00:00+08:00").unwrap().to_utc();
    assert_eq!(summary.next_after(clock.now()), Some(monday));
    run_once(&server.state, &summary, monday).await.unwrap().unwrap();
    server.drain_mail().await;
    let mails: Vec<_> = sink.received().into_iter().filter(|m| m.subject().contains("每周工单汇总")).collect();
    assert_eq!(mails.len(), 1);
    assert_eq!(mails[0].rcpt_to, vec!["duban@haichuan.example.gov.cn".to_string()]);
    let name = &catalog().district.department(&lead).unwrap().short_name;
    assert!(mails[0].body().contains(&format!("{name} | 1 | 0 | 0")), "{}", mails[0].body());
    server.stop().await;
}

async fn monthly_ranking_goes_to_the_supervisors_with_the_csv_attached(backend: Backend) {
    let sink = SmtpSink::start().await;
    let clock = TestClock::at("2026-10-12T10:00:00+08:00");
    let server = TestServer::start_with(backend, clock.clone(), config_with(&sink)).await;
    let (lead, _) = two_bureaus();
    let operator = server.login("operator").await;
    let department = server.login(&lead).await;
    let ticket = operator.log_call(json!({"dispatch": {"lead": lead, "policy": "general"}})).await;
    department.act(&ticket["id"].to_string(), "accept", json!(null)).await;

    // The first of November at 09:00 is the job's next run after October; it ranks October.
    let job = jobs(&server.state.config).unwrap().into_iter().find(|j| j.name == "monthly_assessment").unwrap();
    let first = chrono::DateTime::parse_from_rfc3339("2026-11-01T09:00:00+08:00").unwrap().to_utc();
    assert_eq!(job.next_after(clock.now()), Some(first));
    clock.advance_minutes(60 * 24 * 20);
    let (a, b) = tokio::join!(run_once(&server.state, &job, first), run_once(&server.state, &job, first));
    assert_eq!([&a, &b].iter().filter(|r| r.as_ref().unwrap().is_some()).count(), 1, "one instance runs it");
    server.drain_mail().await;

    let mails: Vec<_> = sink.received().into_iter().filter(|m| m.subject().contains("月度考评通报")).collect();
    assert_eq!(mails.len(), 1, "once, to the one supervisor address");
    assert_eq!(mails[0].rcpt_to, vec!["duban@haichuan.example.gov.cn".to_string()]);
    assert!(mails[0].subject().contains("2026-10"), "{}", mails[0].subject());
    let parts = mails[0].parts();
    assert_eq!(parts.len(), 2, "text and the CSV: {}", mails[0].raw);
    let name = &catalog().district.department(&lead).unwrap().short_name;
    assert!(parts[0].body().contains(&format!("1 | {name} | ")), "{}", parts[0].body());
    let disposition = parts[1].header("Content-Disposition").unwrap();
    assert!(disposition.contains("12345-assessment-2026-10.csv"), "{disposition}");
    // The attachment is exactly what the API serves for the month.
    let supervisor = server.login("supervisor").await;
    let (_, served) = supervisor.get("/api/v1/assessment.csv?month=2026-10").await;
    assert_eq!(parts[1].body(), served.as_str().unwrap().replace("\r\n", "\n"));
    server.stop().await;
}

async fn refused_mail_is_shown_to_admins_and_can_be_retried(backend: Backend) {
    let sink = SmtpSink::start().await;
    sink.set_mode(Mode::Refuse(550));
    let server = TestServer::start_with(backend, TestClock::at("2026-11-23T10:00:00+08:00"), config_with(&sink)).await;
    let (lead, _) = two_bureaus();
    let operator = server.login("operator").await;
    let admin = server.login("admin").await;
    operator.log_call(json!({"dispatch": {"lead": lead, "policy": "general"}})).await;
    server.drain_mail().await;
    let (status, outbox) = admin.get("/api/v1/admin/mail").await;
    assert_eq!(status, 200);
    assert_eq!(outbox["failed"], 1);
    let failure = &outbox["failures"][0];
    assert!(failure["last_error"].as_str().unwrap().contains("550"), "{failure}");
    assert!(failure["recipient"].as_str().unwrap().contains("***"), "addresses are masked: {failure}");
    let (status, _) = operator.get("/api/v1/admin/mail").await;
    assert_eq!(status, 403);
    // The address is fixed at the receiving end; the admin puts the mail back in the queue.
    sink.set_mode(Mode::Accept);
    let (status, after) = admin.post(&format!("/api/v1/admin/mail/{}/retry", failure["id"]), json!(null)).await;
    assert_eq!(status, 200, "{after}");
    assert_eq!(after["failed"], 0);
    // Back in the queue, due now: listed as waiting with its next try.
    let waiting = &after["waiting"][0];
    assert_eq!((&waiting["id"], waiting["next_attempt_at"].is_string()), (&failure["id"], true), "{after}");
    assert!(waiting["recipient"].as_str().unwrap().contains("***"), "addresses are masked: {after}");
    server.drain_mail().await;
    let (_, outbox) = admin.get("/api/v1/admin/mail").await;
    assert_eq!((outbox["sent"].as_i64(), outbox["waiting"].as_array().map(Vec::len)), (Some(1), Some(0)), "{outbox}");
    assert_eq!(sink.received().len(), 1);
    let (status, _) = admin.post("/api/v1/admin/mail/999/retry", json!(null)).await;
    assert_eq!(status, 404);
    server.stop().await;
}
