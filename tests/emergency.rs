//! Emergencies at intake: the rules propose (可能紧急), the operator confirms, dismisses or hands
//! the call off to 119/110/120, intake records which, and the dispatch statistics count the
//! decisions per rule. On SQLite and PostgreSQL.

mod common;

use common::{Backend, TestServer};
use reqwest::StatusCode;
use serde_json::{json, Value};

both_backends!(
    preview_proposes_an_emergency_and_shows_the_words_and_guards,
    operator_hands_a_fire_off_to_119_and_the_ticket_closes_as_transferred,
    confirmed_utility_emergency_stays_with_the_utility_and_is_urgent,
    dismissed_proposal_routes_as_if_no_emergency_rule_existed,
    undecided_proposal_waits_for_the_dispatchers_and_never_turns_urgent,
    emergency_choices_that_do_not_fit_are_refused_and_store_nothing,
    stats_count_proposals_confirmed_and_dismissed_per_rule,
    a_call_no_rule_reads_as_urgent_is_proposed_from_the_labelled_calls_and_counted_apart,
);

fn call(category: &str, content: &str, address: &str) -> Value {
    json!({"category": category, "content": content, "address": address, "street": null})
}

fn with(mut body: Value, key: &str, value: Value) -> Value {
    body.as_object_mut().unwrap().insert(key.to_string(), value);
    body
}

async fn preview_proposes_an_emergency_and_shows_the_words_and_guards(backend: Backend) {
    let server = TestServer::start(backend).await;
    let operator = server.login("operator").await;
    let (status, p) = operator
        .post(
            "/api/v1/dispatch/preview",
            json!({"kind": "help", "category": "02.01.01", "content": "厨房起火了，快来人", "address": "文昌苑2号楼"}),
        )
        .await;
    assert_eq!(status, StatusCode::OK, "{p}");
    assert_eq!(p["emergency_notice"], "可能紧急: 起火 (matched 厨房起火了)，可转接 119");
    assert_eq!(p["decision"]["emergency"]["handoff"], "119");
    assert_eq!(p["decision"]["urgency"], Value::Null, "proposed, not applied");
    assert!(p["matched_words"].as_array().unwrap().iter().any(|w| w == "起火"), "{p}");
    assert_eq!(p["if_dismissed"]["outcome"], "routed", "the operator sees where a dismissal leads: {p}");

    // The issue's own call: 打不着火 is not 着火, and a fear is not a fire.
    let (_, p) = operator
        .post(
            "/api/v1/dispatch/preview",
            json!({"kind": "complaint", "category": "03.01.03", "content": "楼里水压太低，热水器都打不着火", "address": "滨河小区"}),
        )
        .await;
    assert_eq!(p["emergency_notice"], Value::Null, "{p}");
    assert_eq!(p["decision"]["lead"], "gongshui");
    let (_, p) = operator
        .post(
            "/api/v1/dispatch/preview",
            json!({"kind": "report", "category": "11.02.03", "content": "楼道里堆满纸箱，万一起火后果不堪设想"}),
        )
        .await;
    assert_eq!(p["emergency_notice"], Value::Null, "{p}");
    let stopped = p["guarded"].as_array().unwrap();
    assert!(
        stopped.iter().any(|g| g["rule_id"] == "fire-now" && g["guard"] == "hypothetical" && g["cue"] == "万一"),
        "the preview says which guard stopped the fire rule: {p}"
    );
    server.stop().await;
}

async fn operator_hands_a_fire_off_to_119_and_the_ticket_closes_as_transferred(backend: Backend) {
    let server = TestServer::start(backend).await;
    let operator = server.login("operator").await;
    let before = server.clock.now();
    let t = operator
        .log_call(with(call("02.01.01", "厨房起火了，快来人", "文昌苑2号楼"), "emergency", json!("hand_off")))
        .await;
    assert_eq!(t["status"], "closed", "{t}");
    assert_eq!(t["handed_off_to"], "119");
    assert_eq!(t["urgency"], "urgent");
    assert_eq!(t["lead"], Value::Null, "not 12345 work: no department gets it");
    let (_, events) = operator.get(&format!("/api/v1/tickets/{}/events", t["id"])).await;
    let types: Vec<&str> = events.as_array().unwrap().iter().map(|e| e["type"].as_str().unwrap()).collect();
    assert_eq!(types, ["received", "emergency_proposed", "handed_off"]);
    let proposed = &events[1]["data"];
    assert_eq!((proposed["rule_id"].as_str(), proposed["decision"].as_str()), (Some("fire-now"), Some("handed_off")));
    assert_eq!(proposed["matched"], "厨房起火了");
    let handed = &events[2];
    assert_eq!(handed["data"]["to"], "119");
    let at = chrono::DateTime::parse_from_rfc3339(handed["at"].as_str().unwrap()).unwrap();
    assert!(at >= before, "recorded with the time of the hand-off");

    // A call logged without a decision can still be handed off afterwards.
    let later = operator.log_call(call("14.02.01", "有个老人晕倒在路边了，叫不醒", "人民广场")).await;
    assert_eq!(later["status"], "received");
    let handed = operator.act(&later["id"].to_string(), "hand-off", json!({"to": "120", "label": "急病受伤"})).await;
    assert_eq!((handed["status"].as_str(), handed["handed_off_to"].as_str()), (Some("closed"), Some("120")));
    let (status, body) =
        operator.post(&format!("/api/v1/tickets/{}/hand-off", later["id"]), json!({"to": "120"})).await;
    assert_eq!(status, StatusCode::CONFLICT, "closed already: {body}");
    server.stop().await;
}

async fn confirmed_utility_emergency_stays_with_the_utility_and_is_urgent(backend: Backend) {
    let server = TestServer::start(backend).await;
    let operator = server.login("operator").await;
    let t = operator
        .log_call(with(call("03.01.01", "水管爆了，水喷得很高", "槐树街"), "emergency", json!("confirm")))
        .await;
    assert_eq!(t["status"], "dispatched", "{t}");
    assert_eq!(t["lead"], "gongshui");
    assert_eq!(t["urgency"], "urgent");
    assert_eq!(t["sla_policy"], "urgent");
    assert_eq!(t["emergency"]["decision"], "confirmed");
    assert_eq!(t["emergency"]["rule_id"], "water-main-burst");
    // A gas leak is not handed off: it stays with the gas company.
    let (status, body) = operator
        .post(
            "/api/v1/tickets",
            with(
                with(common::sample_ticket(), "category", json!("03.03.01")),
                "content",
                json!("楼道里一股煤气味，越来越浓"),
            )
            .as_object()
            .map(|o| {
                let mut o = o.clone();
                o.insert("emergency".into(), json!("hand_off"));
                Value::Object(o)
            })
            .unwrap(),
        )
        .await;
    assert_eq!(status, StatusCode::UNPROCESSABLE_ENTITY, "{body}");
    assert_eq!(body["field"], "emergency");
    server.stop().await;
}

async fn dismissed_proposal_routes_as_if_no_emergency_rule_existed(backend: Backend) {
    let server = TestServer::start(backend).await;
    let operator = server.login("operator").await;
    // A kitchen fire that was a burnt pot (the operator asked): the operator dismisses, the call
    // goes on as a property complaint. (Said by the caller, 原来是烧糊了锅 is a guard since round 10,
    // so nothing would be proposed to dismiss.)
    let t = operator
        .log_call(with(call("02.01.01", "楼下邻居家冒烟了，物业也不管", "长青小区"), "emergency", json!("dismiss")))
        .await;
    assert_eq!(t["emergency"]["decision"], "dismissed", "{t}");
    assert_eq!(t["urgency"], "normal");
    // 物业服务 goes to 区物业中心 (the centre's decision of 2026-12-07, round 8b).
    assert_eq!(t["lead"], "fgj-wyzx", "routed by the property rule: {t}");
    assert_ne!(t["rule_id"], "fire-now");
    server.stop().await;
}

async fn undecided_proposal_waits_for_the_dispatchers_and_never_turns_urgent(backend: Backend) {
    let server = TestServer::start(backend).await;
    let operator = server.login("operator").await;
    let t = operator.log_call(call("01.02.01", "马路中间突然塌了一个大坑，已经有车陷进去了", "望海大道")).await;
    assert_eq!(t["status"], "received", "{t}");
    assert_eq!(t["urgency"], "normal");
    assert_eq!(t["emergency"]["decision"], "undecided");
    assert_eq!(t["emergency"]["label"], "路面塌陷");
    assert_eq!(t["routing"]["emergency"]["label"], "路面塌陷");
    server.stop().await;
}

async fn emergency_choices_that_do_not_fit_are_refused_and_store_nothing(backend: Backend) {
    let server = TestServer::start(backend).await;
    let operator = server.login("operator").await;
    let (status, body) =
        operator.post("/api/v1/tickets", with(common::sample_ticket(), "emergency", json!("confirm"))).await;
    assert_eq!(status, StatusCode::UNPROCESSABLE_ENTITY, "{body}");
    assert_eq!(body["field"], "emergency");
    let (status, body) =
        operator.post("/api/v1/tickets", with(common::sample_ticket(), "emergency", json!("maybe"))).await;
    assert_eq!(status, StatusCode::BAD_REQUEST, "{body}");
    let (_, list) = operator.get("/api/v1/tickets").await;
    assert_eq!(list["tickets"].as_array().unwrap().len(), 0, "nothing stored: {list}");
    let t = operator.log_call(json!({})).await;
    let (status, body) = operator.post(&format!("/api/v1/tickets/{}/hand-off", t["id"]), json!({"to": "911"})).await;
    assert!(status == StatusCode::CONFLICT || status == StatusCode::UNPROCESSABLE_ENTITY, "{status} {body}");
    server.stop().await;
}

async fn stats_count_proposals_confirmed_and_dismissed_per_rule(backend: Backend) {
    let server = TestServer::start(backend).await;
    let operator = server.login("operator").await;
    let supervisor = server.login("supervisor").await;
    let fire = call("02.01.01", "楼下邻居家冒烟了", "长青小区");
    operator.log_call(with(fire.clone(), "emergency", json!("dismiss"))).await;
    operator.log_call(with(fire.clone(), "emergency", json!("dismiss"))).await;
    operator.log_call(with(fire, "emergency", json!("hand_off"))).await;
    operator.log_call(with(call("03.01.01", "水管爆了，水喷得很高", "槐树街"), "emergency", json!("confirm"))).await;
    let (status, stats) = supervisor.get("/api/v1/dispatch/stats").await;
    assert_eq!(status, StatusCode::OK, "{stats}");
    let rule = |id: &str| stats.as_array().unwrap().iter().find(|r| r["rule_id"] == id).cloned().unwrap_or(Value::Null);
    let fire = rule("fire-now");
    assert_eq!(
        (fire["emergency_confirmed"].as_i64(), fire["emergency_dismissed"].as_i64()),
        (Some(1), Some(2)),
        "{stats}"
    );
    assert_eq!(fire["emergency"]["handed_off"], 1);
    let water = rule("water-main-burst");
    assert_eq!((water["emergency_confirmed"].as_i64(), water["emergency_dismissed"].as_i64()), (Some(1), Some(0)));
    server.stop().await;
}

/// The second opinion learned from the labelled calls (`dispatch_rules/examples/`): no emergency
/// rule reads a child outside a fifth-floor window as one, the labelled calls do. The preview says
/// it was learned, with how sure and on which words; the operator confirms or dismisses it as any
/// proposal, and the statistics count its proposals under their own id.
async fn a_call_no_rule_reads_as_urgent_is_proposed_from_the_labelled_calls_and_counted_apart(backend: Backend) {
    let server = TestServer::start(backend).await;
    let operator = server.login("operator").await;
    let supervisor = server.login("supervisor").await;
    let child = call("11.01.01", "我们家楼下那个小孩自己爬到窗台外面去了，五楼，大人不在家", "长青小区");
    let (status, p) = operator.post("/api/v1/dispatch/preview", with(child.clone(), "kind", json!("help"))).await;
    assert_eq!(status, StatusCode::OK, "{p}");
    let proposal = &p["decision"]["emergency"];
    assert_eq!(p["decision"]["rule_id"], "learned-urgency", "{p}");
    assert!(proposal["learned"]["percent"].as_u64().unwrap() >= 99, "{p}");
    assert!(proposal["learned"]["examples"].as_u64().unwrap() > 2_000, "{p}");
    let notice = p["emergency_notice"].as_str().unwrap();
    assert!(
        notice.starts_with(&format!("可能紧急: {} (按历史来电判断, 把握 ", proposal["label"].as_str().unwrap())),
        "{notice}"
    );
    assert_eq!(p["decision"]["urgency"], Value::Null, "proposed, not applied");
    assert_ne!(p["if_dismissed"]["rule_id"], "learned-urgency", "dismissed, the rules alone route it: {p}");

    let confirmed = operator.log_call(with(child.clone(), "emergency", json!("confirm"))).await;
    assert_eq!(confirmed["urgency"], "urgent", "{confirmed}");
    assert_eq!(confirmed["status"], "dispatched");
    assert_eq!(confirmed["emergency"]["decision"], "confirmed");
    assert_eq!(confirmed["emergency"]["rule_id"], "learned-urgency");
    assert_eq!(confirmed["lead"], p["decision"]["lead"], "the lead of the catalogue's rule for the label");
    let dismissed = operator.log_call(with(child, "emergency", json!("dismiss"))).await;
    assert_eq!(dismissed["urgency"], "normal", "{dismissed}");
    assert_ne!(dismissed["rule_id"], "learned-urgency");

    let (_, stats) = supervisor.get("/api/v1/dispatch/stats").await;
    let learned = stats.as_array().unwrap().iter().find(|r| r["rule_id"] == "learned-urgency").cloned();
    let learned = learned.unwrap_or_else(|| panic!("no row for the learned proposals: {stats}"));
    assert_eq!((learned["emergency_confirmed"].as_i64(), learned["emergency_dismissed"].as_i64()), (Some(1), Some(1)));
    server.stop().await;
}
