//! The screen-pop in a real browser (headless Chromium): the operator signs in at a seat on
//! the console, the PBX says a call rings there, and the console shows the caller at once —
//! number, earlier tickets, 重复来电 and 保密 — with the number and call in a fresh form; the
//! ticket saved from it is linked to the call. The wall's seat monitor shows the seat.
//! SQLite only (the API under it runs on both backends in `tests/cti.rs`). Screenshots in
//! `target/e2e-screenshots/`.

mod common;

#[path = "common/browser.rs"]
mod browser;

use browser::{keys, Browser};
use common::{first_leaf_category, Backend, TestClock, TestServer, PASSWORD};
use hotline::config::Config;
use reqwest::Method;
use serde_json::json;

const TOKEN: &str = "e2e-pbx-token-0123456789";

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_ringing_call_pops_on_the_operators_console_and_the_saved_ticket_links_to_it() {
    let config = Config { cti_pbx_tokens: Some(format!("pbx={TOKEN}")), ..Config::default() };
    let server = TestServer::start_with(Backend::Sqlite, TestClock::starting_now(), config).await;
    let operator = server.login("operator").await;
    let earlier = operator.log_call(json!({"caller_phone": "13812345678", "confidential": true})).await;
    let b = Browser::start(&server.base).await;

    b.login("operator", PASSWORD, "/console").await;
    b.wait_for("#seat-bar").await;
    b.fill("#seat-extension", "8001").await;
    b.click("#seat-sign-in").await;
    b.until("document.querySelector('#seat-state').textContent.includes('8001')", "the seat bar shows the extension")
        .await;
    b.until("document.querySelector('#seat-state').textContent.includes('空闲')", "the seat is idle").await;
    b.until("document.querySelector('#live-state.on')", "the live socket is open").await;
    // The server registers the socket with the hub just after the upgrade the browser saw.
    tokio::time::sleep(std::time::Duration::from_millis(300)).await;

    let at = chrono::Utc::now().to_rfc3339();
    let ring = json!({"call_id": "e2e-call-1", "event": "ringing", "at": at, "caller": "13812345678",
        "dialled": "12345", "queue": "hotline", "extension": "8001"});
    let (status, body) = server.request(Method::POST, "/api/v1/cti/events", Some(TOKEN), Some(ring)).await;
    assert_eq!(status, reqwest::StatusCode::OK, "{body}");

    b.until("!document.querySelector('#screen-pop').hidden", "the screen-pop shows").await;
    assert_eq!(b.text("#pop-caller").await, "13812345678");
    assert!(b.text("#pop-repeat").await.contains("重复来电"));
    assert!(b.text("#pop-confidential").await.contains("保密"));
    b.until("document.querySelector('#f-phone').value === '13812345678'", "the form holds the caller's number").await;
    b.until(
        &format!("document.querySelector('#caller-history [data-number=\"{}\"]')", earlier["number"].as_str().unwrap()),
        "the caller's earlier ticket shows",
    )
    .await;
    b.until("document.querySelector('#seat-state').textContent.includes('振铃')", "the seat shows ringing").await;
    b.assert_no_horizontal_overflow("the console with a screen-pop").await;
    b.screenshot("console-screen-pop-1366").await;

    b.fill("#f-category", &first_leaf_category()).await;
    b.fill("#f-content", "来电反映小区路灯不亮，已经一周了。").await;
    b.click("#f-content").await;
    b.keys(&format!("{}{}{}", keys::CONTROL, keys::ENTER, keys::RELEASE)).await;
    let number = b.text("#saved-number").await;
    let (_, ticket) = operator.get(&format!("/api/v1/tickets/{number}")).await;
    let (_, calls) = operator.get(&format!("/api/v1/tickets/{}/calls", ticket["id"])).await;
    assert_eq!(calls["calls"][0]["call_id"], "e2e-call-1", "the saved ticket is linked to the call: {calls}");
    // The call ends and its recording is reported: the ticket's history shows the link.
    let later = chrono::Utc::now().to_rfc3339();
    let done = json!([
        {"call_id": "e2e-call-1", "event": "answered", "at": at, "extension": "8001"},
        {"call_id": "e2e-call-1", "event": "hangup", "at": later, "cause": "caller_hangup"},
        {"call_id": "e2e-call-1", "event": "recording", "at": later, "recording_url": "https://rec.example/e2e-call-1.wav"},
    ]);
    let (status, body) = server.request(Method::POST, "/api/v1/cti/events", Some(TOKEN), Some(done)).await;
    assert_eq!(status, reqwest::StatusCode::OK, "{body}");
    b.open(&format!("/tickets/{number}")).await;
    b.until(
        "document.querySelector('#ticket-calls a.recording[href=\"https://rec.example/e2e-call-1.wav\"]')",
        "the ticket's history links the call's recording",
    )
    .await;
    b.screenshot("ticket-call-recording-1366").await;

    b.set_size(1920, 1080).await;
    b.login("supervisor", PASSWORD, "/wall").await;
    b.wait_for("#seat-board").await;
    b.until("document.querySelector('#seat-tiles [data-extension=\"8001\"]')", "the wall shows the seat").await;
    b.until("document.querySelector('#fig-within15')", "today's call figures show").await;
    b.screenshot("wall-seats-1920").await;

    b.stop().await;
    server.stop().await;
}
