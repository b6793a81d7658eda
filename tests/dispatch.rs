//! The dispatch catalogue at work: routing at intake, the manual queue, the preview, reloads
//! without restart, and what the centre learns from returns. On SQLite and PostgreSQL.

mod common;

use common::{catalog, two_bureaus, Backend, TestClock, TestServer};
use hotline::config::Config;
use reqwest::StatusCode;
use serde_json::json;
use std::time::{Duration, Instant};

both_backends!(
    operator_logs_call_and_rules_route_it,
    address_locates_the_street_when_none_was_picked,
    unmatched_ticket_waits_for_manual_dispatch,
    preview_explains_the_winner_and_the_near_misses,
    reload_swaps_rules_atomically_and_refuses_broken_edits,
    edited_rule_file_takes_effect_without_restart,
    stats_list_rules_whose_tickets_come_back,
);

async fn operator_logs_call_and_rules_route_it(backend: Backend) {
    let server = TestServer::start(backend).await;
    let operator = server.login("operator").await;
    let admin = server.login("admin").await;
    let street = &catalog().district.streets[0];
    let t = operator.log_call(json!({})).await;
    assert_eq!(t["status"], "dispatched");
    assert_eq!(t["routing"]["outcome"], "routed");
    let rule = t["routing"]["rule_id"].as_str().unwrap();
    assert_eq!(t["rule_id"], rule, "the ticket records the rule that routed it");
    assert!(t["routing_rule"].as_str().is_some_and(|d| !d.is_empty()), "and says why in words");
    assert_eq!(t["lead"], t["routing"]["lead"]);
    let assists: Vec<&str> =
        t["assists"].as_array().unwrap().iter().map(|a| a["department"].as_str().unwrap()).collect();
    assert!(assists.contains(&street.office.as_str()), "the street office of the ticket's street assists: {assists:?}");
    let (_, rules) = admin.get("/api/v1/admin/rules").await;
    assert_eq!(t["rules_version"], rules["version"]);
    assert!(rules["rules"].as_u64().unwrap() >= 150);
    assert_eq!(rules["warnings"], json!([]));
    let (_, events) = operator.get(&format!("/api/v1/tickets/{}/events", t["id"])).await;
    assert_eq!(events[1]["type"], "dispatched");
    assert_eq!(events[1]["data"]["rule_id"], rule);
    server.stop().await;
}

async fn address_locates_the_street_when_none_was_picked(backend: Backend) {
    let server = TestServer::start(backend).await;
    let operator = server.login("operator").await;
    let street = &catalog().district.streets[2];
    let estate = &street.communities[0].estates[0];
    let t = operator.log_call(json!({"street": null, "address": format!("{estate}5号楼2单元")})).await;
    assert_eq!(t["street"], street.code.as_str());
    assert_eq!(t["community"], street.communities[0].code.as_str());
    assert_eq!(t["routing"]["located_by"], estate.as_str());
    server.stop().await;
}

async fn unmatched_ticket_waits_for_manual_dispatch(backend: Backend) {
    let server = TestServer::start(backend).await;
    let operator = server.login("operator").await;
    let dispatcher = server.login("dispatcher").await;
    let (bureau, _) = two_bureaus();
    // 其他 / 其他: deliberately without a rule, so a person decides.
    let t = operator.log_call(json!({"category": "14.02.01", "content": "想反映一个说不清归谁管的问题"})).await;
    assert_eq!(t["status"], "received");
    assert_eq!(t["lead"], json!(null), "never silently assigned");
    assert_eq!(t["routing"]["outcome"], "manual");
    assert!(t["routing"]["reason"].as_str().is_some_and(|r| !r.is_empty()));
    let (_, queue) = dispatcher.get("/api/v1/tickets?status=received").await;
    assert_eq!(queue["tickets"][0]["id"], t["id"]);
    dispatcher.act(&t["id"].to_string(), "dispatch", json!({"lead": bureau})).await;
    server.stop().await;
}

async fn preview_explains_the_winner_and_the_near_misses(backend: Backend) {
    let server = TestServer::start(backend).await;
    let operator = server.login("operator").await;
    let body = json!({"kind": "complaint", "category": "01.01.01", "content": "小区门口垃圾三天没人清运", "address": "新华路12号"});
    let (status, preview) = operator.post("/api/v1/dispatch/preview", body.clone()).await;
    assert_eq!(status, StatusCode::OK, "{preview}");
    assert_eq!(preview["decision"]["outcome"], "routed");
    assert_eq!(preview["winner"], preview["decision"]["rule_id"]);
    let misses = preview["near_misses"].as_array().unwrap();
    assert!(!misses.is_empty());
    assert!(
        misses.iter().all(|m| m["failed"].as_array().is_some_and(|f| !f.is_empty())),
        "each says which condition failed"
    );
    assert!(preview["reply_deadline"]["at"].as_str().unwrap().ends_with("+08:00"));
    assert!(preview["reply_deadline"]["label"].as_str().is_some());
    // A preview stores nothing.
    assert_eq!(server.store.last_event_seq().await.unwrap(), 0);
    let (status, answer) = operator.post("/api/v1/dispatch/preview", json!({"kind": "grumble"})).await;
    assert_eq!((status, answer["field"].as_str()), (StatusCode::BAD_REQUEST, Some("kind")));
    let dept = server.login(&two_bureaus().0).await;
    let (status, _) = dept.post("/api/v1/dispatch/preview", body).await;
    assert_eq!(status, StatusCode::FORBIDDEN);
    server.stop().await;
}

fn rewrite(path: &std::path::Path, from: &str, to: &str) {
    let text = std::fs::read_to_string(path).unwrap();
    assert!(text.contains(from), "{from} not in {}", path.display());
    std::fs::write(path, text.replacen(from, to, 1)).unwrap();
}

async fn reload_swaps_rules_atomically_and_refuses_broken_edits(backend: Backend) {
    let rules = common::rules_copy();
    let config = Config { rules_dir: rules.path().to_path_buf(), ..Config::default() };
    let server = TestServer::start_with(backend, TestClock::starting_now(), config).await;
    let operator = server.login("operator").await;
    let admin = server.login("admin").await;
    let (_, before) = admin.get("/api/v1/admin/rules").await;
    let old = operator.log_call(json!({})).await;
    assert_eq!(old["routing"]["rule_id"], "garbage-collection");

    let (status, _) = operator.post("/api/v1/admin/rules/reload", json!(null)).await;
    assert_eq!(status, StatusCode::FORBIDDEN);
    // Send rubbish collection to the street office instead.
    let file = rules.path().join("rules/city_management.toml");
    rewrite(
        &file,
        "lead = \"cgw-hwzx\"\nassist = [\"street-office\"]",
        "lead = \"street-office\"\nassist = [\"cgw-hwzx\"]",
    );
    let (status, after) = admin.post("/api/v1/admin/rules/reload", json!(null)).await;
    assert_eq!(status, StatusCode::OK, "{after}");
    assert_ne!(after["version"], before["version"]);
    let new = operator.log_call(json!({})).await;
    assert_eq!(new["lead"], catalog().district.streets[0].office.as_str());
    assert_eq!(new["rules_version"], after["version"]);
    let (_, old_again) = operator.get(&format!("/api/v1/tickets/{}", old["id"])).await;
    assert_eq!(old_again["rules_version"], before["version"], "a ticket keeps the version that routed it");

    // A broken edit is refused with its line, and the rules in force stay.
    std::fs::write(rules.path().join("rules/zz_new.toml"), "[[rule]]\nid = \"half-written\"\n[rule.when\n").unwrap();
    let (status, refused) = admin.post("/api/v1/admin/rules/reload", json!(null)).await;
    assert_eq!(status, StatusCode::UNPROCESSABLE_ENTITY);
    assert!(refused["message"].as_str().unwrap().contains("rules/zz_new.toml:3:"), "{refused}");
    let (_, status_now) = admin.get("/api/v1/admin/rules").await;
    assert_eq!(status_now["version"], after["version"]);
    assert!(status_now["last_error"][0].as_str().unwrap().contains("zz_new.toml"));
    let still = operator.log_call(json!({})).await;
    assert_eq!(still["rules_version"], after["version"]);

    let reloads = server.store.system_events("rules_reloaded", 10).await.unwrap();
    let refusals = server.store.system_events("rules_reload_refused", 10).await.unwrap();
    assert!(!reloads.is_empty() && !refusals.is_empty(), "every reload is an event");
    // The file watcher may reload the same edit too; the API's reload is among them.
    assert!(reloads.iter().any(|r| r.2["trigger"] == "api"), "{reloads:?}");
    server.stop().await;
}

async fn edited_rule_file_takes_effect_without_restart(backend: Backend) {
    let rules = common::rules_copy();
    let config = Config { rules_dir: rules.path().to_path_buf(), ..Config::default() };
    let server = TestServer::start_with(backend, TestClock::starting_now(), config).await;
    let admin = server.login("admin").await;
    let (_, before) = admin.get("/api/v1/admin/rules").await;
    rewrite(
        &rules.path().join("rules/city_management.toml"),
        "description = \"垃圾清运",
        "description = \"垃圾清运(修订)",
    );
    let deadline = Instant::now() + Duration::from_secs(15);
    // The new rules are in force first, and the reload's event is written just after.
    let reloads = loop {
        let (_, now) = admin.get("/api/v1/admin/rules").await;
        let reloads = server.store.system_events("rules_reloaded", 10).await.unwrap();
        if now["version"] != before["version"] && !reloads.is_empty() {
            break reloads;
        }
        assert!(Instant::now() < deadline, "the watcher did not reload the edited file");
        tokio::time::sleep(Duration::from_millis(100)).await;
    };
    assert_eq!(reloads[0].2["trigger"], "file-watch");
    server.stop().await;
}

async fn stats_list_rules_whose_tickets_come_back(backend: Backend) {
    let server = TestServer::start(backend).await;
    let operator = server.login("operator").await;
    let dispatcher = server.login("dispatcher").await;
    let (bureau, _) = two_bureaus();
    let mut ids = Vec::new();
    for _ in 0..3 {
        ids.push(operator.log_call(json!({})).await);
    }
    let lead = ids[0]["lead"].as_str().unwrap().to_string();
    let dept = server.login(&lead).await;
    // Something that routes elsewhere, returned never.
    operator.log_call(json!({"category": "03.02.01", "content": "家里突然停电了"})).await;
    for t in &ids[..2] {
        dept.act(&t["id"].to_string(), "return", json!({"reason": "不属于本单位"})).await;
    }
    dispatcher.act(&ids[0]["id"].to_string(), "redispatch", json!({"lead": bureau})).await;
    let (status, stats) = dispatcher.get("/api/v1/dispatch/stats").await;
    assert_eq!(status, StatusCode::OK);
    let worst = &stats[0];
    assert_eq!(worst["rule_id"], ids[0]["rule_id"]);
    assert_eq!(
        (worst["routed"].as_i64(), worst["returned"].as_i64(), worst["redispatched"].as_i64()),
        (Some(3), Some(2), Some(1))
    );
    assert_eq!(worst["redispatched_to"], json!([{"department": bureau, "tickets": 1}]));
    assert!(worst["description"].as_str().is_some());
    assert!(stats.as_array().unwrap().len() >= 2);
    let (status, _) = dept.get("/api/v1/dispatch/stats").await;
    assert_eq!(status, StatusCode::FORBIDDEN);
    server.stop().await;
}
