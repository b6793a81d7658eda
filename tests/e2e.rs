//! The web front end in a real browser (Debian's headless Chromium over WebDriver): each
//! role's main path as its user walks it — the resident submits and tracks a request, the
//! operator logs a call by keyboard and sees it routed, the department accepts and replies,
//! its clock turns yellow, the supervisor sees a ticket go from near-due to overdue (red) and
//! urges it, the operator makes the callback; a notification mail's link to a ticket opens it
//! after the login, for its department and the supervisor, and for no other department.
//! Every unit and category is chosen by its name (or its pinyin initials) in a search box,
//! never by a code; a re-dispatch from the wall keeps the ticket's deadline policy; a
//! department keeps its knowledge-base articles; the wall fits its screen.
//! Screenshots at 1366×768 (the wall at 1920×1080, /public at 390 px) are kept in
//! `target/e2e-screenshots/`.
//!
//! SQLite only, to keep CI time down: the API under the pages is tested on both backends
//! elsewhere. One browser and one server for the whole file, on a test clock that starts on
//! a working Monday morning and is moved forward to make deadlines near and past.

mod common;

#[path = "common/browser.rs"]
mod browser;

use browser::{keys, Browser, Engine};
use common::{first_leaf_category, first_street, two_bureaus, Backend, TestClock, TestServer, PASSWORD};
use hotline::config::Config;
use serde_json::{json, Value};

/// Monday 23 November 2026, 10:00 in Beijing: working hours, inside calling hours.
const MONDAY: &str = "2026-11-23T10:00:00+08:00";

/// A long complaint, as residents write them: it must wrap or clip, never widen a page.
const LONG: &str = "小区东门外的垃圾收集点已经连续三天没有清运，垃圾桶满溢，污水流到人行道上，气味很大，\
夏天还招来很多蚊蝇，老人和孩子经过都要绕行。物业说这是环卫的事，环卫说要等调度，希望有关部门尽快处理并建立定期清运制度。";

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn each_role_walks_its_main_path_in_a_real_browser() {
    let clock = TestClock::at(MONDAY);
    let server = TestServer::start_with(Backend::Sqlite, clock.clone(), Config::default()).await;
    // The demo district's knowledge base, as `serve --demo` loads it.
    hotline::demo::ensure_articles(&server.store, common::catalog()).await.unwrap();
    let browser = Browser::start(&server.base).await;

    let tracked = resident_submits_a_request_and_tracks_it(&server, &browser).await;
    let (number, lead) = operator_logs_a_call_by_keyboard_and_sees_it_routed(&server, &browser).await;
    let urgent =
        department_accepts_and_replies_and_sees_its_clock_turn_yellow(&server, &browser, &clock, &number, &lead).await;
    a_mailed_link_opens_the_ticket_for_those_who_may_see_it(&server, &browser, &urgent, &lead).await;
    department_keeps_its_knowledge_base(&server, &browser, &lead).await;
    supervisor_sees_a_ticket_turn_red_and_urges_it(&server, &browser, &clock, &urgent).await;
    operator_calls_the_resident_back(&server, &browser, &number).await;
    assert!(!tracked.is_empty());

    browser.stop().await;
    server.stop().await;
}

async fn resident_submits_a_request_and_tracks_it(server: &TestServer, b: &Browser) -> String {
    b.open("/public").await;
    b.wait_for("#public-form").await;
    b.select("#p-kind", "complaint").await;
    b.select("#p-category", &first_leaf_category()).await;
    b.fill("#p-content", LONG).await;
    b.fill("#p-address", "海川区新华路18号新华里小区东门").await;
    // A wrong phone is named under its field and nothing is sent.
    b.fill("#p-phone", "1391234").await;
    b.click("#p-submit").await;
    let error = b.text("#err-phone").await;
    assert!(error.contains("手机号"), "{error}");
    b.screenshot("public-invalid-phone-1366").await;
    let supervisor = server.login("supervisor").await;
    let (_, before) = supervisor.get("/api/v1/tickets?limit=500").await;

    b.fill("#p-phone", "13912345678").await;
    b.click("#p-submit").await;
    let number = b.text("#public-number").await;
    b.assert_no_horizontal_overflow("the submitted page").await;
    b.screenshot("public-submitted-1366").await;
    let (_, after) = supervisor.get("/api/v1/tickets?limit=500").await;
    assert_eq!(after["tickets"].as_array().unwrap().len(), before["tickets"].as_array().unwrap().len() + 1);
    let (_, ticket) = supervisor.get(&format!("/api/v1/tickets/{number}")).await;
    assert_eq!(ticket["channel"], "web", "a resident's request comes in on the 网上 channel");
    assert_eq!(ticket["caller_phone"], "13912345678");

    // Tracking: a wrong last four digits is told apart from nothing, the right ones show progress.
    b.click("#public-done a.button.primary").await;
    b.wait_for("#track-form").await;
    b.fill("#t-last4", "0000").await;
    b.click("#t-submit").await;
    let refused = b.text("#track-error").await;
    assert!(refused.contains("没有找到"), "{refused}");
    b.fill("#t-last4", "5678").await;
    b.click("#t-submit").await;
    let stage = b.text("#track-stage").await;
    let (_, public) = server
        .request(reqwest::Method::GET, &format!("/api/v1/public/requests/{number}?phone_last4=5678"), None, None)
        .await;
    assert_eq!(stage, public["stage_label"].as_str().unwrap());
    let page = b.text("#track-result").await;
    assert!(!page.contains("13912345678") && !page.contains("新华里小区东门"), "tracking shows no caller data: {page}");
    b.screenshot("public-track-1366").await;

    // In English the server's words are translated too: the stage, the kind, the steps.
    b.select("#lang", "en").await;
    b.wait_for("#track-form").await;
    b.fill("#t-number", &number).await;
    b.fill("#t-last4", "5678").await;
    b.click("#t-submit").await;
    b.wait_for("#track-result").await;
    let facts = b.text("#track-result dl").await;
    assert!(facts.contains("Complaint"), "the kind in English: {facts}");
    let stage = b.text("#track-stage").await;
    assert!(stage.is_ascii(), "the stage in English: {stage}");
    let steps = b.text("#track-result .steps").await;
    assert!(steps.is_ascii(), "the steps in English: {steps}");
    b.screenshot("public-track-english-1366").await;
    b.select("#lang", "zh").await;
    b.wait_for("#track-form").await;

    // On a phone (390 px) the form fits the screen.
    b.set_size(390, 844).await;
    b.open("/public").await;
    b.wait_for("#public-form").await;
    b.assert_no_horizontal_overflow("/public at 390 px").await;
    b.screenshot("public-form-390").await;
    b.set_size(1366, 768).await;
    // The pages name their icon, and it is served.
    let icon = b.js("return document.querySelector('link[rel=icon]').getAttribute('href');").await;
    let (status, _) = server.raw(reqwest::Method::GET, icon.as_str().unwrap(), None, "text/plain", vec![]).await;
    assert_eq!(status, reqwest::StatusCode::OK, "favicon {icon}");
    number
}

async fn operator_logs_a_call_by_keyboard_and_sees_it_routed(server: &TestServer, b: &Browser) -> (String, String) {
    let operator = server.login("operator").await;
    // This caller rang before, about a street light and about rubbish: the console shows both
    // as the number is typed.
    let earlier = operator
        .log_call(json!({"caller_phone": "13812345678", "category": "01.02.03", "content": "小区路灯不亮，上次反映过"}))
        .await;
    let rubbish =
        operator.log_call(json!({"caller_phone": "13812345678", "address": "", "content": "楼下垃圾桶没人清运"})).await;
    let category = first_leaf_category();
    let street = first_street();
    let (_, preview) = operator
        .post(
            "/api/v1/dispatch/preview",
            json!({"kind": "complaint", "category": category, "street": street, "address": "新华里3号楼", "content": LONG}),
        )
        .await;
    let lead = preview["decision"]["lead"].as_str().expect("the shipped rules route this call").to_string();
    let (_, departments) = operator.get("/api/v1/departments").await;
    let lead_name = departments
        .as_array()
        .unwrap()
        .iter()
        .find(|d| d["code"] == lead.as_str())
        .map(|d| d["short_name"].as_str().unwrap().to_string())
        .unwrap();

    b.login("operator", PASSWORD, "/console").await;
    b.wait_for("#call-form").await;
    b.until("document.activeElement.id === 'f-phone'", "the phone field has the focus on arrival").await;
    let shortcuts = b.text("#shortcuts").await;
    assert!(shortcuts.contains("Ctrl+Enter") && shortcuts.contains("Alt+R"), "{shortcuts}");
    b.keys("13812345678").await;
    b.until(
        &format!("document.querySelector('#caller-history [data-number=\"{}\"]')", earlier["number"].as_str().unwrap()),
        "the caller's earlier ticket shows as the number is typed",
    )
    .await;
    // The tab order follows the form: name, kind, urgency, confidential, callback consent, category, street, address, content.
    for (text, next) in [
        ("", "f-name"),
        ("王女士", "f-kind"),
        ("", "f-urgency"),
        ("", "f-confidential"),
        ("", "f-consent"),
        ("", "f-category"),
    ] {
        b.keys(&format!("{text}{}", keys::TAB)).await;
        b.until(&format!("document.activeElement.id === '{next}'"), &format!("Tab reaches {next}")).await;
    }
    // The category by its name: type 垃圾清, the list offers 垃圾清运, the arrow keys and Enter take it.
    b.keys("垃圾清").await;
    b.until("document.querySelector('#f-category').getAttribute('aria-expanded') === 'true'", "the list opens").await;
    b.screenshot("console-category-search-1366").await;
    b.keys(&format!("{}{}{}", keys::ARROW_DOWN, keys::ARROW_UP, keys::ENTER)).await;
    b.until(&format!("document.querySelector('#f-category').dataset.value === '{category}'"), "垃圾清运 is chosen")
        .await;
    let shown = b.js("return document.querySelector('#f-category').value;").await;
    assert!(shown.as_str().unwrap().ends_with("垃圾清运") && !shown.as_str().unwrap().contains(&category), "{shown}");
    b.keys(keys::TAB).await;
    b.until("document.activeElement.id === 'f-street'", "Tab reaches f-street").await;
    b.select("#f-street", &street).await;
    b.keys(keys::TAB).await;
    b.until("document.activeElement.id === 'f-address'", "Tab reaches the address").await;
    b.keys(&format!("新华里3号楼{}", keys::TAB)).await;
    b.until("document.activeElement.id === 'f-content'", "Tab reaches the content").await;
    b.keys(LONG).await;
    // Before saving: the routing preview names the department and the deadline with unit and instant.
    let shown = b.text("#preview-lead").await;
    assert!(shown.starts_with(&lead_name), "preview shows {shown}, the rules say {lead_name}");
    let deadline = b.text("#preview-reply").await;
    assert!(deadline.contains(preview["reply_deadline"]["label"].as_str().unwrap()), "{deadline}");
    assert!(deadline.contains("2026-"), "the instant is shown: {deadline}");
    // The rule and the policy in words, the codes only on hover.
    let rule = b.text("#preview-rule").await;
    assert_eq!(rule, preview["rule_description"].as_str().unwrap());
    assert_ne!(rule, preview["decision"]["rule_id"].as_str().unwrap());
    let policy = b.text("#preview-policy").await;
    assert_eq!(policy, preview["policy_label"].as_str().unwrap(), "e.g. 一般诉求 5个工作日");
    let hover = b.js("return document.querySelector('#preview-lead').title;").await;
    assert_eq!(hover, json!(lead), "the unit's code on hover");
    // The knowledge base and similar tickets come from a service that may not be there yet.
    b.assert_no_horizontal_overflow("the console").await;
    b.screenshot("console-preview-1366").await;

    b.keys(&format!("{}{}{}", keys::CONTROL, keys::ENTER, keys::RELEASE)).await;
    let number = b.text("#saved-number").await;
    let result = b.text("#call-result").await;
    assert!(result.contains(&lead_name), "the saved call says where it went: {result}");
    b.screenshot("console-saved-1366").await;
    let (_, ticket) = operator.get(&format!("/api/v1/tickets/{number}")).await;
    assert_eq!((ticket["status"].as_str(), ticket["lead"].as_str()), (Some("dispatched"), Some(lead.as_str())));
    assert_eq!(ticket["caller_name"], "王女士");

    // The next call is answered on the spot: Alt+N, type, Alt+R, the answer, Ctrl+Shift+Enter.
    b.keys(&format!("{}n{}", keys::ALT, keys::RELEASE)).await;
    b.until(
        "document.activeElement.id === 'f-phone' && !document.querySelector('#f-phone').value",
        "Alt+N starts a new call",
    )
    .await;
    assert_eq!(
        b.js("return document.querySelector('#call-result').textContent.trim();").await,
        json!(""),
        "the last call's confirmation does not stay under a fresh form"
    );
    b.keys("13700000009").await;
    // By pinyin initials: ljqy is 垃圾清运.
    b.fill("#f-category", "ljqy").await;
    b.keys(keys::ENTER).await;
    b.until(&format!("document.querySelector('#f-category').dataset.value === '{category}'"), "ljqy chooses 垃圾清运")
        .await;
    b.fill("#f-content", "咨询垃圾分类投放时间").await;
    b.keys(&format!("{}r{}", keys::ALT, keys::RELEASE)).await;
    b.until("document.activeElement.id === 'f-answer'", "Alt+R opens the answer").await;
    b.keys("每天7:00-9:00和18:00-20:00定时投放。").await;
    b.keys(&format!("{}{}{}{}", keys::CONTROL, keys::SHIFT, keys::ENTER, keys::RELEASE)).await;
    b.until(
        "document.activeElement.id === 'f-phone' && !document.querySelector('#f-phone').value",
        "saved and a new call started",
    )
    .await;
    let (_, history) = operator.get("/api/v1/callers/13700000009/tickets").await;
    let resolved = &history["tickets"][0];
    assert_eq!(resolved["resolved_directly"], true, "{resolved}");

    // The same caller rings again about the street light: one click merges the new call into
    // that open ticket; their rubbish complaint is shown but offers no merge.
    b.keys(&format!("13812345678{}", keys::TAB)).await;
    let earlier_number = earlier["number"].as_str().unwrap();
    let merge = format!("#caller-history .ticket-row[data-number=\"{earlier_number}\"] button.merge:not([hidden])");
    b.wait_for(&format!("#caller-history .ticket-row[data-number=\"{earlier_number}\"]")).await;
    // By its path, as the catalogue writes it.
    b.fill("#f-category", "市政设施/路灯").await;
    b.keys(keys::ENTER).await;
    b.until("document.querySelector('#f-category').dataset.value === '01.02.03'", "the path chooses 路灯故障").await;
    b.fill("#f-content", "路灯还是不亮，再次反映").await;
    b.wait_for(&merge).await;
    let rubbish_number = rubbish["number"].as_str().unwrap();
    b.wait_for(&format!("#similar .suggestion[data-number=\"{rubbish_number}\"][data-mergeable=\"false\"]")).await;
    let offered = b
        .js(&format!("return [...document.querySelectorAll('[data-number=\"{rubbish_number}\"] button.merge')].some(b => !b.hidden);"))
        .await;
    assert_eq!(offered, json!(false), "the same caller alone is no reason to merge");
    let why = b.text(&format!("#similar .suggestion[data-number=\"{rubbish_number}\"] .reasons")).await;
    assert!(why.contains("同一来电人 +45%"), "the score explains itself: {why}");
    b.screenshot("console-similar-1366").await;
    b.click(&merge).await;
    b.until(
        "[...document.querySelectorAll('.toast.ok')].some(t => t.textContent.includes('合并'))",
        "saved and merged",
    )
    .await;
    let (_, target) = operator.get(&format!("/api/v1/tickets/{earlier_number}")).await;
    assert_eq!(target["merged_from"].as_array().unwrap().len(), 1, "{target}");

    // A call the rules could not place waits in the manual queue; the operator dispatches it.
    let manual = operator.log_call(json!({"route": false, "content": "反映的问题需要人工判断"})).await;
    let manual_number = manual["number"].as_str().unwrap();
    b.keys(&format!("{}2{}", keys::ALT, keys::RELEASE)).await;
    let row = format!("#manual-queue .ticket-row[data-number=\"{manual_number}\"]");
    b.click(&format!("{row} button.primary")).await;
    b.wait_for("dialog[open] #assign-lead").await;
    // The rules' suggestion is pre-filled by its name, the code only on hover.
    b.until("document.querySelector('#assign-lead').dataset.value", "the rules' suggestion").await;
    let prefilled = b.js("const i = document.querySelector('#assign-lead'); return [i.value, i.dataset.value];").await;
    let suggested = common::catalog().district.department(prefilled[1].as_str().unwrap()).unwrap();
    assert_eq!(prefilled[0], json!(suggested.short_name), "the unit's name, not its code");
    // Nothing chosen: the dialog says so, in Chinese, and sends nothing.
    b.js("const i = document.querySelector('#assign-lead'); i.value = ''; i.dispatchEvent(new Event('input'));").await;
    b.click("dialog[open] button.primary").await;
    let refused = b.text("#assign-error").await;
    assert_eq!(refused, "请从列表中选择承办单位");
    // The unit by its name; the policy offered with its deadlines, the default preselected.
    b.fill("#assign-lead", &lead_name).await;
    b.until("document.querySelector('#assign-lead').getAttribute('aria-expanded') === 'true'", "units are offered")
        .await;
    b.keys(keys::ENTER).await;
    b.until(
        &format!("document.querySelector('#assign-lead').dataset.value === '{lead}'"),
        "the unit is chosen by name",
    )
    .await;
    assert_eq!(b.js("return document.querySelector('#assign-policy').value;").await, json!("general"));
    let deadlines = b.text("#assign-deadlines").await;
    assert!(deadlines.contains("5个工作日") && deadlines.contains("2026-"), "{deadlines}");
    b.screenshot("console-manual-dispatch-1366").await;
    b.click("dialog[open] button.primary").await;
    b.until(&format!("!document.querySelector('{row}')"), "a dispatched ticket leaves the manual queue").await;
    let (_, dispatched) = operator.get(&format!("/api/v1/tickets/{manual_number}")).await;
    assert_eq!((dispatched["status"].as_str(), dispatched["lead"].as_str()), (Some("dispatched"), Some(lead.as_str())));
    b.keys(&format!("{}1{}", keys::ALT, keys::RELEASE)).await;

    // Search and the knowledge base answer, or say plainly that the search service is not there.
    b.keys(&format!("{}4{}", keys::ALT, keys::RELEASE)).await;
    b.until("document.activeElement.id === 'search-q'", "Alt+4 opens the search").await;
    b.keys("垃圾").await;
    b.until("document.querySelector('#search-results .unavailable, #search-results .ticket-row')", "search answers")
        .await;
    b.keys(&format!("{}k{}", keys::ALT, keys::RELEASE)).await;
    b.until("document.activeElement.id === 'kb-q'", "Alt+K opens the knowledge base").await;
    b.keys("垃圾").await;
    b.until("document.querySelector('#kb-results .article')", "the demo knowledge base answers 垃圾").await;
    b.keys(&format!("{}1{}", keys::ALT, keys::RELEASE)).await;

    // English is one choice away, and remembered.
    b.select("#lang", "en").await;
    b.wait_for("#call-form").await;
    b.until(
        "document.querySelector('#nav a.active') && document.querySelector('#nav a.active').textContent === 'Console'",
        "English navigation",
    )
    .await;
    b.screenshot("console-english-1366").await;
    b.select("#lang", "zh").await;
    b.wait_for("#call-form").await;
    b.until("document.querySelector('#nav a.active').textContent === '接线'", "back to Chinese").await;
    (number, lead)
}

async fn department_accepts_and_replies_and_sees_its_clock_turn_yellow(
    server: &TestServer,
    b: &Browser,
    clock: &TestClock,
    number: &str,
    lead: &str,
) -> String {
    b.login(lead, PASSWORD, "/workbench").await;
    let row = format!("#queue .ticket-row[data-number=\"{number}\"]");
    b.wait_for(&row).await;
    // Its clocks count down with their unit and instant.
    let clock_text = b.text(&format!("{row} .clock")).await;
    assert!(clock_text.contains("截止") && clock_text.contains("剩余"), "{clock_text}");
    // The queue is searched, narrowed and ordered: the number finds the one ticket.
    b.fill("#queue-q", number).await;
    b.until("document.querySelectorAll('#queue .ticket-row').length === 1", "the search narrows the queue").await;
    b.select("#queue-filter", "accepted").await;
    b.until("document.querySelectorAll('#queue .ticket-row').length === 0", "not yet accepted").await;
    b.select("#queue-filter", "dispatched").await;
    b.wait_for(&row).await;
    b.screenshot("workbench-search-1366").await;
    b.fill("#queue-q", "").await;
    b.select("#queue-filter", "all").await;
    b.click(&row).await;
    b.click(&format!("#detail[data-number=\"{number}\"] #act-accept")).await;
    b.until(&format!("document.querySelector('{row}[data-status=\"accepted\"]')"), "accepted").await;
    // The rules asked other units to assist: they answer the lead first.
    let (_, accepted) = server.login("supervisor").await.get(&format!("/api/v1/tickets/{number}")).await;
    for assist in accepted["assists"].as_array().unwrap() {
        let unit = server.login(assist["department"].as_str().unwrap()).await;
        unit.act(number, "assist-reply", json!({"text": "已配合核实"})).await;
    }
    b.click(&row).await;
    b.click(&format!("#detail[data-number=\"{number}\"] #act-reply")).await;
    b.wait_for("dialog[open] #reply-text").await;
    b.select("#reply-outcome", "solved").await;
    b.fill("#reply-text", "已联系环卫所，当天完成清运，并约定每日上午清运一次。").await;
    b.screenshot("workbench-reply-1366").await;
    b.click("dialog[open] button.primary").await;
    b.until(&format!("!document.querySelector('{row}')"), "a replied ticket leaves the queue").await;
    let supervisor = server.login("supervisor").await;
    let (_, ticket) = supervisor.get(&format!("/api/v1/tickets/{number}")).await;
    assert_eq!(ticket["status"], "replied");
    assert_eq!(ticket["outcome"], "solved");

    // An urgent ticket: 2 natural hours to reply. Past its warning point the clock turns yellow.
    let operator = server.login("operator").await;
    let urgent = operator
        .log_call(
            json!({"urgency": "urgent", "content": "小区消防通道被占用，救护车进不来", "dispatch": {"lead": lead}}),
        )
        .await;
    let urgent_number = urgent["number"].as_str().unwrap().to_string();
    let dept = server.login(lead).await;
    dept.act(&urgent_number, "accept", json!(null)).await;
    let urgent_row = format!("#queue .ticket-row[data-number=\"{urgent_number}\"]");
    b.wait_for(&urgent_row).await;
    let reply_clock = format!("{urgent_row} .clock[data-state]");
    b.until(&format!("document.querySelector('{reply_clock}').classList.contains('green')"), "a fresh clock is green")
        .await;
    clock.advance_minutes(91);
    server.fire_timers().await;
    b.until(
        &format!("[...document.querySelectorAll('{urgent_row} .clock')].some(c => c.classList.contains('yellow'))"),
        "past the warning point the clock is yellow",
    )
    .await;
    // The countdown follows the server's clock, not the browser's: 29 minutes left, not 2 hours.
    b.until(
        &format!("/剩余 0:(2|3)\\d:/.test(document.querySelector('{urgent_row} .clock.yellow .left').textContent)"),
        "the countdown shows the half hour left",
    )
    .await;
    b.assert_no_horizontal_overflow("the workbench").await;
    b.screenshot("workbench-warning-1366").await;
    urgent_number
}

/// Every notification mail links to `/tickets/{number}`: after the login it names, the
/// department sees the ticket selected in its workbench with its history, the supervisor sees
/// it on its own page; another department's ticket is not there for the department.
async fn a_mailed_link_opens_the_ticket_for_those_who_may_see_it(
    server: &TestServer,
    b: &Browser,
    number: &str,
    lead: &str,
) {
    let link = format!("/tickets/{number}");
    b.click("#logout").await;
    b.wait_for("#login-submit").await;
    b.open(&link).await;
    b.wait_for("#login-submit").await;
    b.until(
        &format!("location.pathname === '/login' && location.search.includes({:?})", "next=%2Ftickets%2F"),
        "the login page keeps the link",
    )
    .await;
    b.fill("#username", lead).await;
    b.fill("#password", PASSWORD).await;
    b.click("#login-submit").await;
    b.wait_for("body[data-page=\"ticket\"]").await;
    b.wait_for(&format!("#queue .ticket-row.selected[data-number=\"{number}\"]")).await;
    let title = b.text("#detail .detail h3").await;
    assert!(title.contains(number), "{title}");
    let department = server.login(lead).await;
    let (_, events) = department.get(&format!("/api/v1/tickets/{number}/events")).await;
    b.until(
        &format!("document.querySelectorAll('#detail .timeline li').length === {}", events.as_array().unwrap().len()),
        "the whole history is shown",
    )
    .await;
    b.wait_for("#detail .timeline li[data-type=\"accepted\"]").await;
    let detail = b.text("#detail").await;
    assert!(!detail.contains("null") && !detail.contains("undefined"), "no placeholder on screen: {detail}");
    b.assert_no_horizontal_overflow("a linked ticket in the workbench").await;
    b.screenshot("ticket-link-workbench-1366").await;

    let (first, second) = two_bureaus();
    let other = if first == lead { second } else { first };
    let foreign = server
        .login("operator")
        .await
        .log_call(json!({"content": "别的部门的工单", "dispatch": {"lead": other}}))
        .await;
    b.open(&format!("/tickets/{}", foreign["number"].as_str().unwrap())).await;
    let missing = b.text("#ticket-missing").await;
    assert_eq!(missing, "工单不存在或无权查看");
    b.screenshot("ticket-link-not-found-1366").await;

    b.login("supervisor", PASSWORD, "/wall").await;
    b.open(&link).await;
    let title = b.text("#ticket-page .detail h3").await;
    assert!(title.contains(number), "{title}");
    b.wait_for("#ticket-page .timeline li[data-type=\"accepted\"]").await;
    let home = b.js("return document.querySelector('#ticket-home').getAttribute('href');").await;
    assert_eq!(home, "/wall", "the way on to the supervisor's page");
    b.screenshot("ticket-link-supervisor-1366").await;
}

/// A department writes an article for its knowledge base and retires an outdated one.
async fn department_keeps_its_knowledge_base(server: &TestServer, b: &Browser, lead: &str) {
    b.login(lead, PASSWORD, "/workbench").await;
    b.open("/kb").await;
    b.wait_for("#kb-new").await;
    b.click("#kb-new").await;
    b.wait_for("dialog[open] #kb-question").await;
    b.fill("#kb-question", "周末垃圾清运时间").await;
    b.fill("#kb-answer", "周六、周日照常清运，上午9点前完成。").await;
    b.fill("#kb-category", "ljqy").await;
    b.keys(keys::ENTER).await;
    b.until("document.querySelector('#kb-category').dataset.value === '01.01.01'", "the category by pinyin").await;
    let owner = b.js("return document.querySelector('#kb-department').dataset.value;").await;
    assert_eq!(owner, json!(lead), "its own unit keeps it");
    b.screenshot("kb-new-article-1366").await;
    b.click("#kb-save").await;
    b.until(
        "[...document.querySelectorAll('#kb-list .kb-row')].some(r => r.textContent.includes('周末垃圾清运时间'))",
        "the article is listed",
    )
    .await;
    let department = server.login(lead).await;
    let (_, mine) = department.get(&format!("/api/v1/kb/articles?department={lead}")).await;
    let article =
        mine["articles"].as_array().unwrap().iter().find(|a| a["question"] == "周末垃圾清运时间").cloned().unwrap();
    let id = article["id"].as_i64().unwrap();
    b.click(&format!("#kb-list .kb-row[data-id=\"{id}\"] .kb-retire")).await;
    b.wait_for("#kb-retire-reason").await;
    b.fill("#kb-retire-reason", "清运时间已调整").await;
    b.click("#kb-retire-confirm").await;
    b.until(
        &format!("!document.querySelector('#kb-list .kb-row[data-id=\"{id}\"]')"),
        "a retired article leaves the list",
    )
    .await;
    let (_, retired) = department.get(&format!("/api/v1/kb/articles?department={lead}&include_expired=true")).await;
    assert!(retired["articles"].as_array().unwrap().iter().all(|a| a["id"] != id), "{retired}");
    b.assert_no_horizontal_overflow("the knowledge base").await;
    b.screenshot("kb-list-1366").await;
}

/// `urgent` is due within the hour: near-due now, overdue once the clock passes its deadline.
async fn supervisor_sees_a_ticket_turn_red_and_urges_it(
    server: &TestServer,
    b: &Browser,
    clock: &TestClock,
    urgent: &str,
) {
    b.login("supervisor", PASSWORD, "/wall").await;
    let supervisor = server.login("supervisor").await;
    let (_, board) = supervisor.get("/api/v1/dashboard/supervisor").await;
    assert!(board["near_due"].as_array().unwrap().iter().any(|i| i["number"] == urgent), "near due: {board}");
    let near_number = urgent.to_string();
    let in_near = format!("#near-due .due-row[data-number=\"{near_number}\"]");
    b.wait_for(&in_near).await;
    b.until(&format!("document.querySelector('{in_near} .clock').classList.contains('yellow')"), "near-due is yellow")
        .await;
    b.until("document.querySelector('#intake-chart canvas')", "the intake chart is drawn").await;
    b.until("document.querySelectorAll('#street-grid .street').length > 0", "the street grid is drawn").await;
    b.assert_no_horizontal_overflow("the wall at 1366").await;
    b.screenshot("wall-near-due-1366").await;

    // Past the reply deadline: it moves to the overdue list, red, live.
    clock.advance_minutes(40);
    server.fire_timers().await;
    let in_overdue = format!("#overdue .due-row[data-number=\"{near_number}\"]");
    b.wait_for(&in_overdue).await;
    b.until(&format!("document.querySelector('{in_overdue} .clock').classList.contains('red')"), "overdue is red")
        .await;
    b.until(
        &format!("document.querySelector('{in_overdue} .clock .left').textContent.includes('超时')"),
        "it counts the time late",
    )
    .await;
    // The wall followed by patches to the board it holds, never by asking for it whole again.
    b.until("Number(document.documentElement.dataset.boardPatches || 0) > 0", "the board changed by patches").await;
    b.until("!document.documentElement.dataset.boardResyncs", "no patch needed the whole board again").await;
    let (_, before) = supervisor.get(&format!("/api/v1/tickets/{near_number}")).await;
    b.click(&format!("{in_overdue} button.urge")).await;
    b.until("[...document.querySelectorAll('.toast.ok')].some(t => t.textContent.includes('已催办'))", "urged").await;
    let (_, after) = supervisor.get(&format!("/api/v1/tickets/{near_number}")).await;
    assert_eq!(after["urges"].as_i64().unwrap(), before["urges"].as_i64().unwrap() + 1);
    // Its number opens the ticket with its history: a dialog that only shows has one button, 关闭.
    b.click(&format!("{in_overdue} a.number")).await;
    b.wait_for("dialog[open] .timeline li[data-type=\"urged\"]").await;
    let buttons = b
        .js("return [...document.querySelectorAll('dialog[open] .actions button')].map(b => b.textContent.trim());")
        .await;
    assert_eq!(buttons, json!(["关闭"]), "a ticket shown is closed one way");
    b.screenshot("wall-ticket-1366").await;
    b.click("dialog[open] button.primary").await;
    b.until("!document.querySelector('dialog[open]')", "关闭 closes it").await;

    // A department asks for more time; the supervisor approves it from the wall.
    let operator = server.login("operator").await;
    let lead = after["lead"].as_str().unwrap().to_string();
    let slow = operator.log_call(json!({"content": "老旧小区加装电梯协调", "dispatch": {"lead": lead}})).await;
    let slow_number = slow["number"].as_str().unwrap();
    let dept = server.login(&lead).await;
    dept.act(slow_number, "accept", json!(null)).await;
    dept.act(slow_number, "request-extension", json!({"reason": "需协调多户业主意见", "extra": "3wd"})).await;
    let decision = format!("#decisions .due-row[data-number=\"{slow_number}\"]");
    b.click(&format!("{decision} button.approve")).await;
    b.until(&format!("!document.querySelector('{decision}')"), "a decided request leaves the list").await;
    let (_, events) = supervisor.get(&format!("/api/v1/tickets/{slow_number}/events")).await;
    let decided: Vec<&Value> = events.as_array().unwrap().iter().filter(|e| e["type"] == "extension_decided").collect();
    assert_eq!(decided.len(), 1);
    assert_eq!(decided[0]["data"]["approved"], true, "{}", decided[0]);

    // A utility outage (水电气暖: 24 h to reply) is returned; 改派 from the wall keeps its policy
    // (preselected, with the deadline it gives), the new unit chosen by name.
    let (first, second) = common::two_bureaus();
    let other = if first == lead { second } else { first };
    let other_name = common::catalog().district.department(&other).unwrap().short_name.clone();
    let outage = operator
        .log_call(json!({"content": "整栋楼停水一天了", "dispatch": {"lead": lead, "policy": "utility"}}))
        .await;
    let outage_number = outage["number"].as_str().unwrap();
    let reason = "停水应由供水公司处理，本单位无权处置，已告知来电人耐心等待。经现场核实，整栋楼总阀门由供水公司管理，\
物业没有钥匙；建议改派区供水公司并请其当日派员检修，同时通知居民临时取水点的位置和开放时间。";
    dept.act(outage_number, "return", json!({ "reason": reason })).await;
    let returned = format!("#decisions .due-row[data-number=\"{outage_number}\"]");
    b.click(&format!("{returned} button.approve")).await;
    b.wait_for("dialog[open] #assign-lead").await;
    assert_eq!(
        b.js("return document.querySelector('#assign-policy').value;").await,
        json!("utility"),
        "the ticket's policy"
    );
    let offered = b.text("#assign-policy option:checked").await;
    assert!(offered.contains("水电气暖") && offered.contains("24小时"), "{offered}");
    let deadlines = b.text("#assign-deadlines").await;
    assert!(deadlines.contains("24小时"), "{deadlines}");
    b.fill("#assign-lead", &other_name).await;
    b.keys(keys::ENTER).await;
    b.until(&format!("document.querySelector('#assign-lead').dataset.value === '{other}'"), "the unit by name").await;
    b.screenshot("wall-redispatch-1366").await;
    b.click("dialog[open] button.primary").await;
    b.until(&format!("!document.querySelector('{returned}')"), "a re-dispatched return leaves the list").await;
    let (_, moved) = supervisor.get(&format!("/api/v1/tickets/{outage_number}")).await;
    assert_eq!(
        (moved["lead"].as_str(), moved["sla_policy"].as_str()),
        (Some(other.as_str()), Some("utility")),
        "{moved}"
    );
    // The history reads in full: the return's whole reason, wrapped, not cut off; the 改派 with
    // the policy it kept; the 时限变更 after an approved extension says why and what is due now.
    b.open(&format!("/tickets/{outage_number}")).await;
    let returned_row = "#ticket-page .timeline li[data-type=\"returned\"] .what";
    let shown = b.text(returned_row).await;
    assert!(shown.contains(reason), "the whole reason: {shown}");
    b.until(
        &format!("(() => {{ const w = document.querySelector('{returned_row}'); return w.scrollWidth <= w.clientWidth + 1 && w.getBoundingClientRect().height > 2 * parseFloat(getComputedStyle(w).fontSize); }})()"),
        "the reason wraps instead of being cut off",
    )
    .await;
    let kept = b.text("#ticket-page .timeline li[data-type=\"redispatched\"] .what").await;
    assert!(kept.contains(&other_name) && kept.contains("水电气暖 24小时"), "{kept}");
    b.screenshot("ticket-history-return-1366").await;
    b.open(&format!("/tickets/{slow_number}")).await;
    b.until(
        "[...document.querySelectorAll('#ticket-page .timeline li[data-type=\"clocks_changed\"] .what')]\
            .some(w => w.textContent.includes('因延期审批') && w.textContent.includes('截止'))",
        "the 时限变更 after the approved extension says why and what is due now",
    )
    .await;
    b.open("/wall").await;
    b.wait_for("#view-assessment").await;

    // The wall screen: everything live fits 1920×1080, no scrollbar; the assessment has its own view.
    b.set_size(1920, 1080).await;
    b.until("document.documentElement.clientWidth >= 1800", "the wall screen size").await;
    b.assert_no_horizontal_overflow("the wall at 1920").await;
    b.until(
        "document.documentElement.scrollHeight <= window.innerHeight",
        "the live wall fits 1080 px without a scrollbar",
    )
    .await;
    b.screenshot("wall-overdue-1920").await;
    b.click("#view-assessment").await;
    // The assessment table loads for the month, and its CSV is offered.
    b.wait_for("#assessment-table table").await;
    b.until("document.documentElement.scrollHeight <= window.innerHeight", "the assessment view fits too").await;
    b.screenshot("wall-assessment-1920").await;
    b.click("#view-live").await;
    b.set_size(1366, 768).await;
    b.until("document.documentElement.scrollHeight <= window.innerHeight", "the wall fits 1366×768 too").await;

    // Five calls about one problem in one street: the hot-spot watch raises it, and the wall
    // shows the banner at once (pushed, not polled), the street marked on the grid.
    let street = common::catalog().district.streets[2].code.clone();
    for i in 0..5 {
        operator
            .log_call(json!({"kind": "consult", "street": street, "content": format!("路面积水第{i}处"),
                "callback_consent": false, "route": false}))
            .await;
    }
    assert!(!hotline::jobs::hotspots::check(&server.state, server.store.now()).await.unwrap().is_empty());
    b.until(
        "(() => { const e = document.querySelector('#hotspot-banner'); return e && !e.hidden && e.textContent.includes('未诉先办 热点预警'); })()",
        "the hot-spot banner appears",
    )
    .await;
    b.until(
        &format!("document.querySelector('#street-grid .street.alert[data-street=\"{street}\"]')"),
        "the street is marked",
    )
    .await;
    b.screenshot("wall-hotspot-1366").await;
}

async fn operator_calls_the_resident_back(server: &TestServer, b: &Browser, number: &str) {
    b.login("operator", PASSWORD, "/console").await;
    // The console takes keys once it has put the focus on the phone field.
    b.until("document.activeElement && document.activeElement.id === 'f-phone'", "the console is ready").await;
    b.keys(&format!("{}3{}", keys::ALT, keys::RELEASE)).await;
    b.until("!document.querySelector('#panel-callbacks').hidden", "Alt+3 shows the callbacks").await;
    let row = format!("#callback-queue .ticket-row[data-number=\"{number}\"]");
    b.wait_for(&row).await;
    // The call is made knowing what the resident asked, not only what was replied.
    let asked = b.text(&format!("{row} .cb-complaint")).await;
    assert!(asked.contains(&LONG[..30]), "the original complaint is shown: {asked}");
    b.screenshot("console-callbacks-1366").await;
    b.click(&format!("{row} button.claim")).await;
    b.wait_for("dialog[open] select[name=satisfaction]").await;
    b.select("dialog[open] select[name=satisfaction]", "satisfied").await;
    b.screenshot("console-callback-1366").await;
    b.click("dialog[open] button.primary").await;
    b.until(&format!("!document.querySelector('{row}')"), "the call is done and leaves the queue").await;
    let supervisor = server.login("supervisor").await;
    let (_, events) = supervisor.get(&format!("/api/v1/tickets/{number}/events")).await;
    let recorded: Vec<&Value> =
        events.as_array().unwrap().iter().filter(|e| e["type"] == "callback_recorded").collect();
    assert_eq!(recorded.len(), 1);
    assert_eq!(recorded[0]["data"]["satisfaction"], "satisfied");
}

/// `/login?next=…` is where the login page sends the browser afterwards: a path on this site
/// only. A `next` naming another site (`//evil.example/`, and the backslash form browsers
/// read the same way) lands on the role's own page instead, on this origin.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn login_never_sends_the_browser_to_another_site() {
    let server = TestServer::start(Backend::Sqlite).await;
    let b = Browser::start(&server.base).await;
    for next in ["//evil.example/", "/%5Cevil.example/", "/\\evil.example/x", "https://evil.example/"] {
        b.open("/login").await;
        b.js("localStorage.removeItem('hotline.token'); localStorage.removeItem('hotline.user');").await;
        b.open(&format!("/login?next={next}")).await;
        b.fill("#username", "operator").await;
        b.fill("#password", PASSWORD).await;
        b.click("#login-submit").await;
        b.until(
            &format!("location.origin === {:?} && document.body.dataset.page === 'console'", server.base),
            &format!("next={next} must not leave the site"),
        )
        .await;
    }
    // A path on the site is still followed.
    b.open("/login").await;
    b.js("localStorage.removeItem('hotline.token'); localStorage.removeItem('hotline.user');").await;
    b.open("/login?next=%2Fwall").await;
    b.fill("#username", "supervisor").await;
    b.fill("#password", PASSWORD).await;
    b.click("#login-submit").await;
    b.until("location.pathname === '/wall'", "a same-site next is followed").await;
    b.stop().await;
    server.stop().await;
}

/// The search boxes (picker.js) are the one way a category or a unit is chosen, so they must
/// work by keyboard alone in both browsers a centre's desks run: Chromium and Firefox.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn search_boxes_choose_by_keyboard_in_chromium() {
    search_boxes_choose_by_keyboard(Engine::Chromium).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn search_boxes_choose_by_keyboard_in_firefox() {
    search_boxes_choose_by_keyboard(Engine::Firefox).await;
}

/// The operator finds 路灯故障 by its name, its full path, a piece of its path, its code and
/// its pinyin initials, moving through the list with the arrow keys and taking it with Enter,
/// and saves the call with Ctrl+Enter; the manual queue's dispatch dialog takes a unit by its
/// name (Esc closes the list, not the dialog; Enter then sends); a street office passes a
/// ticket down to one of its communities by the community's name.
async fn search_boxes_choose_by_keyboard(engine: Engine) {
    let clock = TestClock::at(MONDAY);
    let server = TestServer::start_with(Backend::Sqlite, clock.clone(), Config::default()).await;
    let b = Browser::start_in(engine, &server.base).await;
    let shot = |name: &str| format!("{name}-{}", engine.name());
    let operator = server.login("operator").await;
    let lights = "01.02.03";
    let (_, categories) = operator.get("/api/v1/categories").await;
    let path = categories.as_array().unwrap().iter().find(|c| c["code"] == lights).unwrap()["path"]
        .as_str()
        .unwrap()
        .to_string();

    b.login("operator", PASSWORD, "/console").await;
    b.until("document.activeElement && document.activeElement.id === 'f-phone'", "the console is ready").await;
    b.keys("13812340016").await;
    let chosen = |code: &str| format!("document.querySelector('#f-category').dataset.value === '{code}'");
    let expanded = "document.querySelector('#f-category').getAttribute('aria-expanded') === 'true'";
    // By its name: 路灯 offers 路灯故障 among others; ↓ and ↑ move the highlight, Enter takes it.
    b.fill("#f-category", "路灯").await;
    b.until(expanded, "typing 路灯 opens the list").await;
    let offered = b
        .js("return [...document.querySelectorAll('#f-category ~ .picker-list .picker-option')].map(o => o.dataset.value);")
        .await;
    let offered: Vec<&str> = offered.as_array().unwrap().iter().map(|v| v.as_str().unwrap()).collect();
    let at = offered.iter().position(|c| *c == lights).unwrap_or_else(|| panic!("路灯 offers 路灯故障: {offered:?}"));
    let highlighted = "document.querySelector('#f-category ~ .picker-list .picker-option.active').dataset.value";
    b.keys(&keys::ARROW_DOWN.repeat(at + 1)).await;
    b.keys(keys::ARROW_UP).await;
    b.until(&format!("{highlighted} === '{lights}'"), "the arrow keys move to 路灯故障").await;
    b.screenshot(&shot("picker-category-by-name")).await;
    b.keys(keys::ENTER).await;
    b.until(&chosen(lights), "Enter takes 路灯故障").await;
    b.until("!document.querySelector('#f-category').matches('[aria-expanded=true]')", "the list closes").await;
    let shown = b.js("return document.querySelector('#f-category').value;").await;
    assert!(shown.as_str().unwrap().ends_with("路灯故障"), "the choice in words: {shown}");
    let hover = b.js("return document.querySelector('#f-category').title;").await;
    assert!(hover.as_str().unwrap().contains(lights), "the code on hover: {hover}");

    // The same category by everything else an operator may know of it.
    for typed in [path.as_str(), "市政设施/路灯", "市政设施 路灯", lights, "ldgz"] {
        b.fill("#f-category", typed).await;
        b.until(expanded, &format!("typing {typed} opens the list")).await;
        // Typing again undoes the last choice until one is taken from the list.
        b.until(&chosen(""), &format!("typing {typed} undoes the choice")).await;
        b.until(&format!("{highlighted} === '{lights}'"), &format!("{typed} puts 路灯故障 first")).await;
        b.keys(keys::ENTER).await;
        b.until(&chosen(lights), &format!("{typed} chooses 路灯故障")).await;
    }
    // What is typed and not taken from the list is no choice: the save is refused, in Chinese.
    b.fill("#f-category", "不存在的分类").await;
    b.until(&chosen(""), "an unknown name chooses nothing").await;
    b.until("document.querySelector('#f-category ~ .picker-list .picker-none')", "the list says nothing matches").await;
    b.fill("#f-content", "小区门口路灯晚上不亮，已经一周了").await;
    b.keys(&format!("{}{}{}", keys::CONTROL, keys::ENTER, keys::RELEASE)).await;
    let refused = b.text("#err-category").await;
    assert_eq!(refused, "请从列表中选择分类");
    // Taken again by its initials, the call is routed and saved with the keyboard alone.
    b.fill("#f-category", "ldgz").await;
    b.keys(keys::ENTER).await;
    b.until(&chosen(lights), "ldgz chooses 路灯故障").await;
    b.until("document.querySelector('#preview-lead') && document.querySelector('#preview-lead').title", "the preview")
        .await;
    b.screenshot(&shot("picker-category-preview")).await;
    b.click("#f-content").await;
    b.keys(&format!("{}{}{}", keys::CONTROL, keys::ENTER, keys::RELEASE)).await;
    let number = b.text("#saved-number").await;
    let (_, saved) = operator.get(&format!("/api/v1/tickets/{number}")).await;
    assert_eq!(saved["category"], lights, "{saved}");
    assert_eq!(saved["status"], "dispatched", "routed by the rules: {saved}");

    // 派单 from the manual queue: the unit by its name.
    let gas = common::catalog().district.department("ranqi").unwrap().short_name.clone();
    let manual = operator.log_call(json!({"route": false, "content": "小区燃气表箱锈蚀，需要人工判断"})).await;
    let manual_number = manual["number"].as_str().unwrap();
    b.keys(&format!("{}2{}", keys::ALT, keys::RELEASE)).await;
    // Alt+2 from the saved call: the manual queue, not the second suggestion for a call already saved.
    b.until("!document.querySelector('#panel-manual').hidden", "Alt+2 shows the manual queue").await;
    let row = format!("#manual-queue .ticket-row[data-number=\"{manual_number}\"]");
    b.click(&format!("{row} button.primary")).await;
    b.wait_for("dialog[open] #assign-lead").await;
    b.until("document.activeElement.id === 'assign-lead'", "the unit box has the focus").await;
    // Typed straight away: a unit the rules suggested is replaced, not added to.
    b.keys("燃气").await;
    b.until("document.querySelector('#assign-lead').getAttribute('aria-expanded') === 'true'", "units are offered")
        .await;
    // Esc closes the list and leaves the dialog open.
    b.keys(keys::ESCAPE).await;
    b.until("document.querySelector('#assign-lead').getAttribute('aria-expanded') === 'false'", "Esc closes the list")
        .await;
    assert_eq!(b.js("return !!document.querySelector('dialog[open] #assign-lead');").await, json!(true));
    b.keys(keys::ARROW_DOWN).await;
    b.until(
        "document.querySelector('#assign-lead ~ .picker-list .picker-option.active').dataset.value === 'ranqi'",
        &format!("燃气 offers {gas} first"),
    )
    .await;
    b.keys(keys::ENTER).await;
    b.until("document.querySelector('#assign-lead').dataset.value === 'ranqi'", "the unit by name").await;
    assert_eq!(b.js("return document.querySelector('#assign-lead').value;").await, json!(gas));
    b.screenshot(&shot("picker-dispatch-unit")).await;
    // With the choice made, Enter sends the dialog.
    b.keys(keys::ENTER).await;
    b.until(&format!("!document.querySelector('{row}')"), "the dispatched ticket leaves the manual queue").await;
    let (_, dispatched) = operator.get(&format!("/api/v1/tickets/{manual_number}")).await;
    assert_eq!((dispatched["status"].as_str(), dispatched["lead"].as_str()), (Some("dispatched"), Some("ranqi")));

    // 下派: the street office passes a ticket down to a community, by the community's name.
    let (office, community) = common::street_office_and_community();
    let district = &common::catalog().district;
    let community_unit = district.department(&community).unwrap();
    let typed: String = community_unit.short_name.chars().take(4).collect();
    let local = operator.log_call(json!({"content": "楼道堆放杂物，社区协调清理", "dispatch": {"lead": office}})).await;
    let local_number = local["number"].as_str().unwrap();
    server.login(&office).await.act(local_number, "accept", json!(null)).await;
    b.login(&office, PASSWORD, "/workbench").await;
    let queued = format!("#queue .ticket-row[data-number=\"{local_number}\"]");
    b.click(&queued).await;
    b.click(&format!("#detail[data-number=\"{local_number}\"] #act-passDown")).await;
    b.wait_for("dialog[open] #pass-down-to").await;
    b.until("document.activeElement.id === 'pass-down-to'", "the sub-unit box has the focus").await;
    // Nothing chosen yet: the dialog says so in Chinese and stays open.
    b.click("dialog[open] button.primary").await;
    assert_eq!(b.text("#dialog-error").await, "请从列表中选择承办单位");
    b.fill("#pass-down-to", &typed).await;
    b.until(
        &format!(
            "[...document.querySelectorAll('#pass-down-to ~ .picker-list .picker-option')].some(o => o.dataset.value === '{community}')"
        ),
        &format!("{typed} offers {}", community_unit.short_name),
    )
    .await;
    let options = b
        .js("return [...document.querySelectorAll('#pass-down-to ~ .picker-list .picker-option')].map(o => o.dataset.value);")
        .await;
    let at = options.as_array().unwrap().iter().position(|v| v == &json!(community)).unwrap();
    b.keys(&keys::ARROW_DOWN.repeat(at)).await;
    b.keys(keys::ENTER).await;
    b.until(
        &format!("document.querySelector('#pass-down-to').dataset.value === '{community}'"),
        "the community by name",
    )
    .await;
    b.until("document.querySelector('#dialog-error').hidden", "the complaint goes once a unit is chosen").await;
    b.screenshot(&shot("picker-pass-down")).await;
    b.click("dialog[open] button.primary").await;
    b.until(
        &format!("[...document.querySelectorAll('.toast.ok')].some(t => t.textContent.includes('{local_number}'))"),
        "passed down",
    )
    .await;
    let (_, passed) = operator.get(&format!("/api/v1/tickets/{local_number}")).await;
    assert_eq!((passed["status"].as_str(), passed["lead"].as_str()), (Some("dispatched"), Some(community.as_str())));

    b.stop().await;
    server.stop().await;
}
