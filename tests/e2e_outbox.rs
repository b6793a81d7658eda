//! 发送队列 in a real browser (headless Chromium over WebDriver, as tests/e2e.rs), on SQLite and
//! on PostgreSQL: a dispatch notice refused for good by a real SMTP server (550) shows on the
//! admin's outbox page with its error and the ticket it is about; 重试 puts it back in the
//! queue, and once the far end accepts, the page shows it sent.
//!
//! The 短信 tab reads the same API shape; texts refused by a real Kannel, their listing and
//! their retry are driven through that API in tests/sms.rs. No stand-in gateway here: the
//! real one is the only SMS gateway the tests talk to.

mod common;

#[path = "common/browser.rs"]
mod browser;
#[path = "common/smtp_sink.rs"]
mod smtp_sink;

use browser::{keys, Browser};
use common::{two_bureaus, Backend, TestClock, TestServer, User, PASSWORD};
use hotline::config::Config;
use serde_json::{json, Value};
use smtp_sink::{Mode, SmtpSink};
use std::time::{Duration, Instant};

both_backends!(admin_sees_refused_mail_and_retries_it);

/// Polls the admin API until `holds` says yes about the outbox at `path` (30 s at most).
async fn outbox_until(admin: &User<'_>, path: &str, what: &str, holds: impl Fn(&Value) -> bool) -> Value {
    let deadline = Instant::now() + Duration::from_secs(30);
    loop {
        let (status, outbox) = admin.get(path).await;
        assert_eq!(status, 200, "{outbox}");
        if holds(&outbox) {
            return outbox;
        }
        assert!(Instant::now() < deadline, "timed out waiting for {what}: {outbox}");
        tokio::time::sleep(Duration::from_millis(200)).await;
    }
}

async fn admin_sees_refused_mail_and_retries_it(backend: Backend) {
    let sink = SmtpSink::start().await;
    sink.set_mode(Mode::Refuse(550));
    // A Monday morning: notices go at once.
    let clock = TestClock::at("2026-11-23T10:00:00+08:00");
    let config = Config { smtp_url: Some(sink.url()), ..Config::default() };
    let server = TestServer::start_with(backend, clock, config).await;
    let name = |shot: &str| format!("outbox-{shot}-{}", if backend == Backend::Sqlite { "sqlite" } else { "postgres" });

    // A call dispatched to a bureau: the bureau is mailed.
    let operator = server.login("operator").await;
    let (lead, _) = two_bureaus();
    let ticket = operator.log_call(json!({"dispatch": {"lead": lead, "policy": "general"}})).await;
    let number = ticket["number"].as_str().unwrap().to_string();
    let admin = server.login("admin").await;
    let mail = outbox_until(&admin, "/api/v1/admin/mail", "the refused mail", |o| o["failed"] == 1).await;
    let failure = &mail["failures"][0];
    assert_eq!(failure["ticket_id"], ticket["id"], "{mail}");
    assert!(failure["last_error"].as_str().unwrap().contains("550"), "{mail}");

    // The admin opens 发送队列 from the top bar.
    let b = Browser::start(&server.base).await;
    b.login("admin", PASSWORD, "/wall").await;
    let nav = b.text("#nav a[href='/outbox']").await;
    assert_eq!(nav, "发送队列");
    b.click("#nav a[href='/outbox']").await;
    b.wait_for("body[data-page='outbox']").await;

    // 邮件: the failure, its error in the SMTP server's words, the ticket it is about.
    let row = "#outbox-mail-list .outbox-row[data-state='failed']";
    b.wait_for(row).await;
    assert_eq!(b.text("#outbox-mail-failed").await, "1");
    assert_eq!(b.text("#outbox-mail-pending").await, "0");
    let text = b.text(row).await;
    assert!(text.contains("发送失败") && text.contains("新工单派发通知"), "{text}");
    assert!(text.contains("550"), "the refusal in the server's words: {text}");
    assert!(!text.contains("@haichuan.example.gov.cn") || text.contains('*'), "the address is masked: {text}");
    b.until(
        &format!("document.querySelector(\"{row} a.ticket-link\")?.textContent === '{number}'"),
        "the ticket linked",
    )
    .await;
    let href = b.js(&format!("return document.querySelector(\"{row} a.ticket-link\").getAttribute('href');")).await;
    assert_eq!(href, format!("/tickets/{number}"));
    assert_eq!(b.text("#outbox-tab-mail-failed").await, "1", "the tab counts what failed");
    b.assert_no_horizontal_overflow("outbox").await;
    b.screenshot(&name("mail-failed")).await;

    // The filter by state: only waiting ones — none.
    b.select("#outbox-mail-state", "pending").await;
    b.text("#outbox-mail-list .outbox-empty").await;
    b.select("#outbox-mail-state", "failed").await;
    b.wait_for(row).await;
    b.select("#outbox-mail-state", "").await;

    // The address book is fixed: 重试 queues it again, and it goes.
    sink.set_mode(Mode::Accept);
    b.click(&format!("{row} .outbox-retry")).await;
    b.until("document.querySelector('#outbox-mail-failed')?.textContent === '0'", "the retried mail no longer failed")
        .await;
    b.until(
        "document.querySelector('#outbox-mail-pending')?.textContent === '1' || document.querySelector('#outbox-mail-sent')?.textContent === '1'",
        "the retried mail back in the queue",
    )
    .await;
    b.screenshot(&name("mail-retried")).await;
    b.until("document.querySelector('#outbox-mail-sent')?.textContent === '1'", "the retried mail sent (page refresh)")
        .await;
    assert_eq!(sink.received().len(), 1, "sent once");
    b.screenshot(&name("mail-sent")).await;

    // 短信, by keyboard: the arrow key moves to the tab; no gateway is configured, so it is empty.
    b.js("document.querySelector('#outbox-tab-mail').focus();").await;
    b.keys(keys::ARROW_RIGHT).await;
    b.until("!document.querySelector('#outbox-sms').hidden", "the SMS tab shown").await;
    assert_eq!(b.text("#outbox-sms-failed").await, "0");
    b.screenshot(&name("sms-empty")).await;

    // A page left open while someone else retried: its 重试 says why it did nothing, in
    // words, and the page shows the mail as it is now — waiting, with the next try.
    sink.set_mode(Mode::Refuse(550));
    let second = operator.log_call(json!({"dispatch": {"lead": lead, "policy": "general"}})).await;
    let mail = outbox_until(&admin, "/api/v1/admin/mail", "the second refused mail", |o| o["failed"] == 1).await;
    let id = mail["failures"][0]["id"].as_i64().unwrap();
    assert_eq!(mail["failures"][0]["ticket_id"], second["id"], "{mail}");
    b.click("#outbox-tab-mail").await;
    b.click("#outbox-refresh").await;
    let row = format!("#outbox-mail-list .outbox-row[data-id='{id}'][data-state='failed']");
    b.wait_for(&row).await;
    // The tab goes to the background (the page stops refreshing itself) while someone else
    // retries the mail and the server defers it (451).
    b.js("Object.defineProperty(document, 'hidden', { configurable: true, get: () => true });").await;
    sink.set_mode(Mode::Refuse(451));
    let (status, _) = admin.post(&format!("/api/v1/admin/mail/{id}/retry"), json!(null)).await;
    assert_eq!(status, 200);
    let mail = outbox_until(&admin, "/api/v1/admin/mail", "the mail deferred by 451", |o| {
        o["waiting"].as_array().unwrap().iter().any(|m| m["id"] == id && m["last_error"].to_string().contains("451"))
    })
    .await;
    let waiting = mail["waiting"].as_array().unwrap().iter().find(|m| m["id"] == id).unwrap();
    assert!(waiting["next_attempt_at"].is_string(), "a waiting mail says when it is tried next: {waiting}");
    b.js("delete document.hidden;").await;
    b.click(&format!("{row} .outbox-retry")).await;
    let error = b.text("#outbox-mail-error").await;
    assert!(error.contains("可能已被他人重试") && error.contains(&format!("no failed mail with id {id}")), "{error}");
    let row = format!("#outbox-mail-list .outbox-row[data-id='{id}'][data-state='pending']");
    let text = b.text(&row).await;
    assert!(text.contains("待发送") && text.contains("451") && text.contains("再试"), "{text}");
    assert!(b.js(&format!("return !document.querySelector(\"{row} .outbox-retry\");")).await.as_bool().unwrap());
    b.screenshot(&name("mail-waiting-and-error")).await;

    // In English, the same page.
    b.js("localStorage.setItem('hotline.lang', 'en');").await;
    b.open("/outbox").await;
    let text = b.text(&row).await;
    assert!(text.contains("Waiting") && text.contains("Dispatch notice") && text.contains("next try"), "{text}");
    assert_eq!(b.text("#nav a[href='/outbox']").await, "Outbox");
    b.screenshot(&name("en")).await;
    b.js("localStorage.removeItem('hotline.lang');").await;

    b.stop().await;
    server.stop().await;
}
