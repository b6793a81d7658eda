//! 附件 in a real browser (headless Chromium over WebDriver, as tests/e2e.rs): a resident
//! submits a request on /public with a photo, and the department it goes to sees the photo's
//! thumbnail with the ticket in its workbench. SQLite only: the API underneath is tested on
//! both backends in tests/attachments.rs.

mod common;

#[path = "common/browser.rs"]
mod browser;

use browser::Browser;
use common::{two_bureaus, Backend, TestServer, PASSWORD};
use serde_json::json;

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_photo_sent_on_the_public_form_shows_on_the_workbench() {
    let server = TestServer::start(Backend::Sqlite).await;
    let dir = tempfile::tempdir().unwrap();
    let photo = dir.path().join("路面坑洞.jpg");
    let img = image::RgbImage::from_fn(800, 600, |x, y| image::Rgb([(x / 4) as u8, (y / 3) as u8, 90]));
    img.save(&photo).unwrap();

    let b = Browser::start(&server.base).await;
    b.open("/public").await;
    b.wait_for("#public-form").await;
    b.select("#p-kind", "complaint").await;
    b.select("#p-category", "01.02.01").await;
    b.fill("#p-content", "望海大道人行道砖松动翘起，走路容易绊脚，希望尽快修复。").await;
    b.fill("#p-address", "望海大道88号门口").await;
    b.fill("#p-phone", "13912345678").await;
    b.wait_for("#p-photos").await.send_keys(photo.to_str().unwrap()).await.unwrap();
    b.screenshot("public-form-photo-1366").await;
    b.click("#p-submit").await;
    b.wait_for("#public-photos-done").await;
    let number = b.text("#public-number").await;

    // The department in charge (by the rules, or by hand from the manual queue) opens it.
    let supervisor = server.login("supervisor").await;
    let (_, ticket) = supervisor.get(&format!("/api/v1/tickets/{number}")).await;
    let lead = match ticket["lead"].as_str() {
        Some(lead) => lead.to_string(),
        None => {
            let lead = two_bureaus().0;
            supervisor.act(&number, "dispatch", json!({"lead": lead})).await;
            lead
        }
    };
    assert_eq!(ticket["attachments"].as_array().map(Vec::len), Some(1), "{ticket}");
    b.login(&lead, PASSWORD, "/workbench").await;
    b.open(&format!("/tickets/{number}")).await;
    b.wait_for(&format!("#queue .ticket-row.selected[data-number=\"{number}\"]")).await;
    b.wait_for("#detail #attachments .att[data-cls=\"image\"]").await;
    b.until(
        "(() => { const i = document.querySelector('#detail #attachments .att-thumb img'); return i && i.complete && i.naturalWidth > 0; })()",
        "the photo's thumbnail is shown",
    )
    .await;
    let name = b.text("#detail #attachments .att-name").await;
    assert_eq!(name, "路面坑洞.jpg");
    b.assert_no_horizontal_overflow("the workbench with an attachment").await;
    b.screenshot("workbench-attachment-1366").await;
    b.stop().await;
    server.stop().await;
}
