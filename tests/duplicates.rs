//! Duplicates (并单, issue 7): suggestions while the operator types, on both databases.

mod common;

use common::{Backend, TestClock, TestServer};
use hotline::config::Config;
use reqwest::StatusCode;
use serde_json::{json, Value};

both_backends!(operator_is_offered_the_same_problem_while_the_caller_talks);

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

async fn operator_is_offered_the_same_problem_while_the_caller_talks(backend: Backend) {
    let clock = TestClock::starting_now();
    let config = Config { similar_window_days: 30, ..Config::default() };
    let server = TestServer::start_with(backend, clock.clone(), config).await;
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
    assert_eq!(suggested(&answer), vec![]);

    // Departments do not get suggestions; bad input names the field.
    let dept = server.login("cgw").await;
    let (status, _) = dept.post("/api/v1/tickets/similar", draft).await;
    assert_eq!(status, StatusCode::FORBIDDEN);
    let (status, body) = operator.post("/api/v1/tickets/similar", json!({"colour": "red"})).await;
    assert_eq!(status, StatusCode::BAD_REQUEST, "{body}");
    server.stop().await;
}
