//! Intake assistance (智能辅助填单) in a real browser (headless Chromium over WebDriver, as
//! tests/e2e.rs): the operator types what the caller says, the suggestions appear under the
//! category field, Alt+1 takes the first, the routing preview follows, and the saved ticket
//! counts the suggestion as taken. SQLite only: the API underneath is tested on both backends
//! in tests/suggest.rs.

mod common;

#[path = "common/browser.rs"]
mod browser;

use browser::{keys, Browser};
use common::{Backend, TestServer, PASSWORD};

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn operator_takes_a_suggested_category_with_alt_1() {
    let server = TestServer::start(Backend::Sqlite).await;
    let b = Browser::start(&server.base).await;
    b.login("operator", PASSWORD, "/console").await;
    b.wait_for("#call-form").await;
    b.fill("#f-phone", "13912345678").await;
    b.fill("#f-address", "文昌苑3号楼").await;
    b.fill("#f-content", "我们楼下的路灯坏了好几天了，晚上黑灯瞎火的").await;
    b.wait_for("#suggestion-1").await;
    let first = b.text("#suggestion-1").await;
    assert!(first.contains("路灯故障") && first.contains("Alt+1"), "{first}");
    let place = b.text("#suggest-place").await;
    assert!(place.contains("新华街道"), "{place}");
    b.screenshot("console-suggestions-1366").await;

    // The focus is still in the content: Alt+1 takes the first suggestion, not the first tab.
    b.keys(&format!("{}1{}", keys::ALT, keys::RELEASE)).await;
    b.until("document.querySelector('#f-category').dataset.value === '01.02.03'", "Alt+1 takes 路灯故障").await;
    b.until("!document.querySelector('#panel-call').hidden", "the call form stays open").await;
    b.until("document.querySelector('#f-street').value === 'xinhua'", "the located street is taken too").await;
    b.wait_for("#preview-lead").await;

    b.keys(&format!("{}{}{}", keys::CONTROL, keys::ENTER, keys::RELEASE)).await;
    let number = b.text("#saved-number").await;
    let operator = server.login("operator").await;
    let (_, ticket) = operator.get(&format!("/api/v1/tickets/{number}")).await;
    assert_eq!(ticket["category"], "01.02.03", "{ticket}");
    assert_eq!(server.store.suggestion_outcome_count().await.unwrap(), 1, "the suggestion shown is counted");
    let supervisor = server.login("supervisor").await;
    let (_, accuracy) = supervisor.get("/api/v1/suggest/accuracy?weeks=1").await;
    assert_eq!(accuracy["weeks"][0]["taken"], 1, "{accuracy}");

    b.stop().await;
    server.stop().await;
}
