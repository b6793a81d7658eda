//! Knowledge base (知识库, issue 7): departments keep their answers, operators read them out.

mod common;

use common::{Backend, TestServer};
use reqwest::StatusCode;
use serde_json::json;

both_backends!(operators_answer_from_articles_their_departments_keep);

async fn operators_answer_from_articles_their_departments_keep(backend: Backend) {
    let server = TestServer::start(backend).await;
    let category = common::first_leaf_category();
    let (bureau, other) = common::two_bureaus();
    let dept = server.login(&bureau).await;
    let article = |question: &str, answer: &str, valid_to: Option<&str>| {
        json!({"question": question, "answer": answer, "category": category, "department": bureau,
            "valid_from": "2026-01-01", "valid_to": valid_to})
    };
    let (status, current) = dept
        .post("/api/v1/kb/articles", article("大件垃圾怎么预约清运？", "拨打环卫预约电话，三个工作日内上门。", None))
        .await;
    assert_eq!(status, StatusCode::CREATED, "{current}");
    let (_, old) =
        dept.post("/api/v1/kb/articles", article("去年的垃圾清运时间", "每周二清运。", Some("2026-02-01"))).await;
    assert_eq!(old["expired"], true);

    // Only admins and the owning department edit; bad fields are named.
    let operator = server.login("operator").await;
    let (status, _) = operator.post("/api/v1/kb/articles", article("问", "答", None)).await;
    assert_eq!(status, StatusCode::FORBIDDEN);
    let stranger = server.login(&other).await;
    let (status, _) = stranger.post("/api/v1/kb/articles", article("问", "答", None)).await;
    assert_eq!(status, StatusCode::FORBIDDEN);
    let (status, body) = dept
        .post(
            "/api/v1/kb/articles",
            json!({"question": "问", "answer": " ", "category": category,
        "department": bureau}),
        )
        .await;
    assert_eq!((status, body["field"].as_str()), (StatusCode::UNPROCESSABLE_ENTITY, Some("answer")));
    let id = current["id"].as_i64().unwrap();
    let (status, _) = server
        .request(
            reqwest::Method::PUT,
            &format!("/api/v1/kb/articles/{id}"),
            Some(&stranger.token),
            Some(article("改", "改", None)),
        )
        .await;
    assert_eq!(status, StatusCode::FORBIDDEN);
    let (status, updated) = server
        .request(
            reqwest::Method::PUT,
            &format!("/api/v1/kb/articles/{id}"),
            Some(&dept.token),
            Some(article("大件垃圾怎么预约清运？", "拨打环卫预约电话，两个工作日内上门。", None)),
        )
        .await;
    assert_eq!(status, StatusCode::OK, "{updated}");

    // Operators search in other words; expired articles only when asked, and flagged.
    let (_, found) = operator.get("/api/v1/kb/articles?q=垃圾清运").await;
    let questions: Vec<&str> =
        found["articles"].as_array().unwrap().iter().map(|a| a["question"].as_str().unwrap()).collect();
    assert_eq!(questions, ["大件垃圾怎么预约清运？"]);
    assert!(found["articles"][0]["answer"].as_str().unwrap().contains("两个工作日"));
    let (_, with_expired) = operator.get("/api/v1/kb/articles?q=垃圾清运&include_expired=true").await;
    assert_eq!(with_expired["articles"].as_array().unwrap().len(), 2);
    // The owning department's list shows what it must renew.
    let (_, own) = dept.get(&format!("/api/v1/kb/articles?department={bureau}&include_expired=true")).await;
    let expired: Vec<bool> =
        own["articles"].as_array().unwrap().iter().map(|a| a["expired"].as_bool().unwrap()).collect();
    assert_eq!(expired.iter().filter(|e| **e).count(), 1);

    // Resolving directly records the article read out; it must exist and be in force.
    let (status, body) = operator
        .post("/api/v1/tickets", {
            let mut t = common::sample_ticket();
            t["resolve"] = json!({"answer": "已告知预约电话", "article_id": 999_999});
            t
        })
        .await;
    assert_eq!((status, body["field"].as_str()), (StatusCode::UNPROCESSABLE_ENTITY, Some("article_id")), "{body}");
    let t = operator.log_call(json!({"route": false})).await;
    let (status, body) = operator
        .post(&format!("/api/v1/tickets/{}/resolve", t["id"]), json!({"answer": "每周二", "article_id": old["id"]}))
        .await;
    assert_eq!((status, body["field"].as_str()), (StatusCode::UNPROCESSABLE_ENTITY, Some("article_id")), "{body}");
    operator.act(&t["id"].to_string(), "resolve", json!({"answer": "已告知预约电话", "article_id": id})).await;
    let (_, events) = operator.get(&format!("/api/v1/tickets/{}/events", t["id"])).await;
    let resolved = events.as_array().unwrap().iter().find(|e| e["type"] == "resolved_directly").unwrap();
    assert_eq!(resolved["data"]["article_id"], id);
    server.stop().await;
}
