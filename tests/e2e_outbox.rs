//! 发送队列 in a real browser (headless Chromium over WebDriver, as tests/e2e.rs), on SQLite and
//! on PostgreSQL: a dispatch notice refused for good by a real SMTP server (550) and a
//! receipt text refused by the SMS gateway (400) show on the admin's outbox page with their
//! errors and the ticket they are about; 重试 puts each back in the queue, and once the far
//! end accepts, the page shows it sent.
//!
//! The gateway is a stand-in for Kannel's sendsms on a random port (its refusals are
//! Kannel's words); the real Kannel is driven in tests/sms.rs.

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
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::Arc;
use std::time::{Duration, Instant};

both_backends!(admin_sees_refused_mail_and_texts_and_retries_them);

/// Kannel's sendsms as this server calls it: refuses every text (400, a bad parameter: given
/// up on at once) until told to accept (202).
struct Gateway {
    url: String,
    accept: Arc<AtomicBool>,
}

impl Gateway {
    async fn start() -> Gateway {
        use axum::http::StatusCode;
        let accept = Arc::new(AtomicBool::new(false));
        let state = accept.clone();
        let app = axum::Router::new().route(
            "/cgi-bin/sendsms",
            axum::routing::get(move || {
                let accept = state.clone();
                async move {
                    if accept.load(Ordering::SeqCst) {
                        (StatusCode::ACCEPTED, "0: Accepted for delivery")
                    } else {
                        (StatusCode::BAD_REQUEST, "Sender missing and no global set, rejected")
                    }
                }
            }),
        );
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
        let url = format!("http://{}/cgi-bin/sendsms", listener.local_addr().unwrap());
        tokio::spawn(async move { axum::serve(listener, app).await.unwrap() });
        Gateway { url, accept }
    }
}

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

async fn admin_sees_refused_mail_and_texts_and_retries_them(backend: Backend) {
    let sink = SmtpSink::start().await;
    sink.set_mode(Mode::Refuse(550));
    let gateway = Gateway::start().await;
    // A Monday morning: notices go at once, and texts are outside the quiet hours.
    let clock = TestClock::at("2026-11-23T10:00:00+08:00");
    let config = Config { smtp_url: Some(sink.url()), sms_gateway_url: Some(gateway.url.clone()), ..Config::default() };
    let server = TestServer::start_with(backend, clock, config).await;
    let name = |shot: &str| format!("outbox-{shot}-{}", if backend == Backend::Sqlite { "sqlite" } else { "postgres" });

    // A call dispatched to a bureau: the bureau is mailed, the caller gets a receipt text.
    let operator = server.login("operator").await;
    let (lead, _) = two_bureaus();
    let ticket = operator.log_call(json!({"dispatch": {"lead": lead, "policy": "general"}})).await;
    let number = ticket["number"].as_str().unwrap().to_string();
    let admin = server.login("admin").await;
    let mail = outbox_until(&admin, "/api/v1/admin/mail", "the refused mail", |o| o["failed"] == 1).await;
    let failure = &mail["failures"][0];
    assert_eq!(failure["ticket_id"], ticket["id"], "{mail}");
    assert!(failure["last_error"].as_str().unwrap().contains("550"), "{mail}");
    let texts = outbox_until(&admin, "/api/v1/admin/sms", "the refused text", |o| o["failed"] == 1).await;
    assert!(texts["failures"][0]["last_error"].as_str().unwrap().contains("400"), "{texts}");
    assert_eq!(texts["failures"][0]["recipient"], "138****5678", "numbers are masked: {texts}");
    assert!(texts["waiting"].as_array().unwrap().is_empty(), "{texts}");

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

    // 短信, by keyboard: the arrow key moves to the tab, Enter on 重试.
    b.js("document.querySelector('#outbox-tab-mail').focus();").await;
    b.keys(keys::ARROW_RIGHT).await;
    b.until("!document.querySelector('#outbox-sms').hidden", "the SMS tab shown").await;
    let row = "#outbox-sms-list .outbox-row[data-state='failed']";
    let text = b.text(row).await;
    assert!(text.contains("受理回执") && text.contains("138****5678") && text.contains("400"), "{text}");
    b.until(
        &format!("document.querySelector(\"{row} a.ticket-link\")?.textContent === '{number}'"),
        "the ticket linked",
    )
    .await;
    b.screenshot(&name("sms-failed")).await;
    gateway.accept.store(true, Ordering::SeqCst);
    b.js(&format!("document.querySelector(\"{row} .outbox-retry\").focus();")).await;
    b.keys(keys::ENTER).await;
    b.until("document.querySelector('#outbox-sms-failed')?.textContent === '0'", "the retried text no longer failed")
        .await;
    b.until("document.activeElement?.id === 'outbox-tab-sms'", "the keyboard goes on from the tab").await;
    b.until("document.querySelector('#outbox-sms-sent')?.textContent === '1'", "the retried text sent (page refresh)")
        .await;
    b.screenshot(&name("sms-sent")).await;

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
