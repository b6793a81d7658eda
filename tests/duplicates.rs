//! Duplicates (并单, issues 7, 17): suggestions while the operator types, merging and undoing
//! a merge — on the embedded index (SQLite, PostgreSQL) and on Meilisearch.

mod common;

use common::{Index, TestClock, TestServer};
use hotline::config::Config;
use reqwest::StatusCode;
use serde_json::{json, Value};

every_index!(
    operator_is_offered_the_same_problem_while_the_caller_talks,
    merged_residents_get_the_reply_and_a_callback,
    a_dispatcher_undoes_a_merge,
);

fn second_leaf_category() -> String {
    common::catalog().district.leaf_categories().nth(5).unwrap().code.clone()
}

fn suggested(answer: &Value) -> Vec<(String, Vec<String>)> {
    answer["suggestions"]
        .as_array()
        .unwrap()
        .iter()
        .map(|s| {
            let reasons = s["reasons"].as_array().unwrap().iter().map(|r| r.as_str().unwrap().to_string()).collect();
            (s["ticket"]["number"].as_str().unwrap().to_string(), reasons)
        })
        .collect()
}

async fn operator_is_offered_the_same_problem_while_the_caller_talks(index: Index) {
    let clock = TestClock::starting_now();
    let config = Config { similar_window_days: 30, ..Config::default() };
    let server = TestServer::start_indexed(index, clock.clone(), config).await;
    let operator = server.login("operator").await;
    let category = common::first_leaf_category();
    let place = json!({"street": "xinhua", "community": "xinhua-02"});
    let call = |phone: &str, content: &str, address: &str, category: &str| {
        let mut body = json!({"caller_phone": phone, "content": content, "address": address, "category": category,
            "route": false});
        for (k, v) in place.as_object().unwrap() {
            body[k] = v.clone();
        }
        body
    };
    // Long ago, the same problem: outside the window.
    let old = operator.log_call(call("13700000001", "文昌苑垃圾清运不及时", "文昌苑1号楼", &category)).await;
    clock.advance_minutes(40 * 24 * 60);
    let operator = server.login("operator").await;
    let neighbour = operator
        .log_call(call("13811110000", "文昌苑5号楼门口垃圾清运不及时，气味很大", "文昌苑5号楼", &category))
        .await;
    let same_caller = operator
        .log_call(json!({"caller_phone": "13822220000", "content": "楼上装修噪音扰民", "address": "府学家园2号楼",
            "category": second_leaf_category(), "route": false}))
        .await;
    let unrelated = operator
        .log_call(json!({"caller_phone": "13833330000", "content": "路灯不亮", "address": "新华公园东门",
            "category": second_leaf_category(), "route": false}))
        .await;
    // Another community of the street, another caller, the same problem: found by its words
    // alone, since neither the caller nor the community brings it up.
    let across_the_street = operator
        .log_call(json!({"caller_phone": "13844440000", "content": "民主新村南门垃圾清运不及时，来电人要求回复",
            "address": "民主新村南门", "street": "xinhua", "community": "xinhua-04", "category": category,
            "route": false}))
        .await;
    server.index_search().await;

    let draft = json!({"phone": "13822220000", "content": "垃圾清运不及时，文昌苑", "address": "文昌苑3号楼",
        "category": category, "kind": "complaint"});
    let (status, answer) = operator.post("/api/v1/tickets/similar", draft.clone()).await;
    assert_eq!(status, StatusCode::OK, "{answer}");
    let found = suggested(&answer);
    let numbers: Vec<&str> = found.iter().map(|(n, _)| n.as_str()).collect();
    assert_eq!(numbers[0], neighbour["number"].as_str().unwrap(), "{answer}");
    assert_eq!(found[0].1, ["同一小区", "内容相似", "同一类别"]);
    let caller = found.iter().find(|(n, _)| n == same_caller["number"].as_str().unwrap()).expect("same caller");
    assert_eq!(caller.1, ["同一来电人", "同一街道"]);
    let across = found.iter().find(|(n, _)| n == across_the_street["number"].as_str().unwrap());
    assert_eq!(across.expect("found by its words").1, ["同一街道", "内容相似", "同一类别"], "{answer}");
    assert!(!numbers.contains(&unrelated["number"].as_str().unwrap()), "{answer}");
    assert!(!numbers.contains(&old["number"].as_str().unwrap()), "outside the window: {answer}");
    let scores: Vec<f64> =
        answer["suggestions"].as_array().unwrap().iter().map(|s| s["score"].as_f64().unwrap()).collect();
    assert!(scores.windows(2).all(|w| w[0] >= w[1]) && scores.iter().all(|s| (0.0..=1.0).contains(s)), "{scores:?}");

    // Merged (并单) into the neighbour's, a ticket is no longer offered; nor is the one excluded.
    let dispatcher = server.login("dispatcher").await;
    dispatcher.act(&same_caller["id"].to_string(), "merge", json!({"into": neighbour["id"].to_string()})).await;
    let (_, answer) = operator
        .post(
            "/api/v1/tickets/similar",
            json!({"phone": "13822220000", "content": "垃圾清运不及时，文昌苑",
            "address": "文昌苑3号楼", "category": category, "exclude": neighbour["id"]}),
        )
        .await;
    let numbers: Vec<String> = suggested(&answer).into_iter().map(|(n, _)| n).collect();
    assert_eq!(numbers, [across_the_street["number"].as_str().unwrap()], "{answer}");

    // Departments do not get suggestions; bad input names the field.
    let dept = server.login("cgw").await;
    let (status, _) = dept.post("/api/v1/tickets/similar", draft).await;
    assert_eq!(status, StatusCode::FORBIDDEN);
    let (status, body) = operator.post("/api/v1/tickets/similar", json!({"colour": "red"})).await;
    assert_eq!(status, StatusCode::BAD_REQUEST, "{body}");
    server.stop().await;
}

async fn merged_residents_get_the_reply_and_a_callback(index: Index) {
    let server = TestServer::start_indexed(index, TestClock::starting_now(), Config::default()).await;
    let operator = server.login("operator").await;
    let dispatcher = server.login("dispatcher").await;
    let (bureau, _) = common::two_bureaus();
    let original = operator.log_call(json!({"dispatch": {"lead": bureau}})).await;
    let duplicate = operator.log_call(json!({"caller_phone": "13966667777", "route": false})).await;
    let (oid, did) = (original["id"].to_string(), duplicate["id"].to_string());
    dispatcher.act(&did, "merge", json!({"into": oid})).await;

    let dept = server.login(&bureau).await;
    dept.act(&oid, "accept", json!({})).await;
    dept.act(&oid, "reply", json!({"outcome": "solved", "text": "已安排清运，垃圾已清理完毕"})).await;

    // The merged resident has the same answer and is called back, like the original's.
    let (_, followed) = operator.get(&format!("/api/v1/tickets/{did}")).await;
    assert_eq!(followed["status"], "replied", "{followed}");
    assert_eq!(followed["reply"], "已安排清运，垃圾已清理完毕");
    assert_eq!(followed["merged_into"], original["id"]);
    assert!(!followed["callback"].is_null(), "{followed}");
    let (_, events) = operator.get(&format!("/api/v1/tickets/{did}/events")).await;
    let types: Vec<&str> = events.as_array().unwrap().iter().map(|e| e["type"].as_str().unwrap()).collect();
    assert!(types.contains(&"reply_followed"), "{types:?}");
    assert!(types.contains(&"callback_scheduled"), "{types:?}");
    // The department handled it once: only the original has a reply of its own.
    assert!(!types.contains(&"replied"), "{types:?}");
    // The callback is recorded on the merged ticket as on any other.
    let t =
        operator.act(&did, "callback", json!({"reached": true, "solved": "yes", "satisfaction": "satisfied"})).await;
    assert_eq!(t["last_callback"]["satisfaction"], "satisfied");
    server.stop().await;
}

async fn a_dispatcher_undoes_a_merge(index: Index) {
    let server = TestServer::start_indexed(index, TestClock::starting_now(), Config::default()).await;
    let operator = server.login("operator").await;
    let dispatcher = server.login("dispatcher").await;
    let (bureau, _) = common::two_bureaus();
    let original = operator.log_call(json!({"dispatch": {"lead": bureau}})).await;
    let other = operator.log_call(json!({"dispatch": {"lead": bureau}, "content": "另一件事：井盖缺失"})).await;
    let (oid, xid) = (original["id"].to_string(), other["id"].to_string());
    dispatcher.act(&xid, "merge", json!({"into": oid})).await;
    // The index follows the merge: the merged ticket is found as merged, and the original
    // (written in the same change) still by its own words.
    server.index_search().await;
    let (_, merged) = operator.get("/api/v1/search?q=井盖缺失&status=merged").await;
    assert_eq!(merged["total"], 1, "{merged}");
    assert_eq!(merged["hits"][0]["number"], other["number"]);
    let (_, open) = operator.get("/api/v1/search?q=井盖缺失&status=received,dispatched").await;
    assert_eq!(open["total"], 0, "{open}");

    let (status, body) =
        operator.post(&format!("/api/v1/tickets/{xid}/unmerge"), json!({"reason": "不是同一问题"})).await;
    assert_eq!(status, StatusCode::FORBIDDEN, "{body}");
    let (status, body) = dispatcher.post(&format!("/api/v1/tickets/{xid}/unmerge"), json!({"reason": " "})).await;
    assert_eq!((status, body["field"].as_str()), (StatusCode::UNPROCESSABLE_ENTITY, Some("reason")), "{body}");

    let undone = dispatcher.act(&xid, "unmerge", json!({"reason": "不是同一问题"})).await;
    assert_eq!(undone["merged"]["status"], "received");
    assert!(undone["merged"]["merged_into"].is_null());
    assert!(undone["merged"]["lead"].is_null());
    assert_eq!(undone["into"]["merged_from"], json!([]));
    server.index_search().await;
    let (_, back) = operator.get("/api/v1/search?q=井盖缺失&status=received").await;
    assert_eq!(back["total"], 1, "{back}");
    let (_, merged) = operator.get("/api/v1/search?q=井盖缺失&status=merged").await;
    assert_eq!(merged["total"], 0, "{merged}");
    // Back in the dispatch queue, and no longer the bureau's.
    let dept = server.login(&bureau).await;
    let (status, _) = dept.get(&format!("/api/v1/tickets/{xid}")).await;
    assert_eq!(status, StatusCode::NOT_FOUND);
    let (_, queue) = dispatcher.get("/api/v1/tickets?status=received").await;
    assert!(queue["tickets"].as_array().unwrap().iter().any(|t| t["id"] == other["id"]), "{queue}");
    let (_, events) = dispatcher.get(&format!("/api/v1/tickets/{xid}/events")).await;
    assert_eq!(events.as_array().unwrap().last().unwrap()["type"], "unmerged");
    // Once undone, there is nothing to undo; a ticket never merged cannot be unmerged.
    let (status, _) = dispatcher.post(&format!("/api/v1/tickets/{xid}/unmerge"), json!({"reason": "再次"})).await;
    assert_eq!(status, StatusCode::CONFLICT);
    let (status, _) = dispatcher.post(&format!("/api/v1/tickets/{oid}/unmerge"), json!({"reason": "再次"})).await;
    assert_eq!(status, StatusCode::CONFLICT);
    // The rebuilt projection is the one written at the time.
    let before = server.store.dump_ticket_rows().await.unwrap();
    server.store.rebuild_projections().await.unwrap();
    assert_eq!(server.store.dump_ticket_rows().await.unwrap(), before);
    server.stop().await;
}
