//! Knowledge base (知识库, issue 7): departments keep their answers, operators read them out,
//! and are reminded by mail of the answers running out. Articles are matched in the domain
//! (`domain::kb`), not in the ticket index, so the same must hold with either ticket index in
//! place: each test runs on the embedded index and on Meilisearch.

mod common;
#[path = "common/smtp_sink.rs"]
mod smtp_sink;

use common::{Index, TestClock, TestServer};
use hotline::config::Config;
use hotline::jobs::schedule::{jobs, run_once};
use reqwest::StatusCode;
use serde_json::json;
use smtp_sink::SmtpSink;

every_index!(
    operators_answer_from_articles_their_departments_keep,
    each_department_is_mailed_its_articles_to_renew_once_a_day
);

async fn operators_answer_from_articles_their_departments_keep(index: Index) {
    let server = TestServer::start_indexed(index, TestClock::starting_now(), Config::default()).await;
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

    // 停用: the department takes the outdated answer out of use, saying why; it is kept (the
    // ticket above names it) but offered to nobody and no longer read out.
    let retire = format!("/api/v1/kb/articles/{id}/retire");
    let (status, _) = stranger.post(&retire, json!({"reason": "不是我们的"})).await;
    assert_eq!(status, StatusCode::FORBIDDEN);
    let (status, body) = dept.post(&retire, json!({"reason": "  "})).await;
    assert_eq!((status, body["field"].as_str()), (StatusCode::UNPROCESSABLE_ENTITY, Some("reason")), "{body}");
    let (status, body) = dept.post(&retire, json!({"reasons": "x"})).await;
    assert_eq!(status, StatusCode::BAD_REQUEST, "{body}");
    let (_, still) = operator.get("/api/v1/kb/articles?q=垃圾清运").await;
    assert_eq!(still["articles"].as_array().unwrap().len(), 1, "refusals change nothing");
    let (status, retired) = dept.post(&retire, json!({"reason": "预约改由小程序办理"})).await;
    assert_eq!(status, StatusCode::OK, "{retired}");
    assert_eq!(retired["retired"]["reason"], "预约改由小程序办理");
    assert_eq!(retired["retired"]["by"], bureau.as_str());
    let (status, _) = dept.post(&retire, json!({"reason": "再次"})).await;
    assert_eq!(status, StatusCode::CONFLICT);
    let (status, _) = dept.post("/api/v1/kb/articles/999999/retire", json!({"reason": "无"})).await;
    assert_eq!(status, StatusCode::NOT_FOUND);
    let (_, after) = operator.get("/api/v1/kb/articles?q=垃圾清运&include_expired=true").await;
    let left: Vec<&str> =
        after["articles"].as_array().unwrap().iter().map(|a| a["question"].as_str().unwrap()).collect();
    assert_eq!(left, ["去年的垃圾清运时间"], "the retired one is gone, the expired one stays to be renewed");
    let t = operator.log_call(json!({"route": false})).await;
    let (status, body) = operator
        .post(&format!("/api/v1/tickets/{}/resolve", t["id"]), json!({"answer": "已告知", "article_id": id}))
        .await;
    assert_eq!((status, body["field"].as_str()), (StatusCode::UNPROCESSABLE_ENTITY, Some("article_id")), "{body}");
    server.stop().await;
}

async fn each_department_is_mailed_its_articles_to_renew_once_a_day(index: Index) {
    let sink = SmtpSink::start().await;
    // Monday 23 November 2026, an hour before the reminder's run.
    let clock = TestClock::at("2026-11-23T07:00:00+08:00");
    let config = Config { smtp_url: Some(sink.url()), ..Config::default() };
    let server = TestServer::start_indexed(index, clock.clone(), config).await;
    let admin = server.login("admin").await;
    let (bureau, quiet) = common::two_bureaus();
    let category = common::first_leaf_category();
    for (department, question, valid_to) in [
        (&bureau, "去年的垃圾清运时间", Some("2026-02-01")),
        (&bureau, "本周停水安排", Some("2026-11-26")),
        (&bureau, "下月供暖安排", Some("2026-12-31")),
        (&bureau, "大件垃圾怎么预约清运", None),
        (&quiet, "明年的停车收费标准", Some("2027-06-30")),
    ] {
        let (status, body) = admin
            .post(
                "/api/v1/kb/articles",
                json!({"question": question, "answer": "见公告", "category": category, "department": department,
                    "valid_from": "2026-01-01", "valid_to": valid_to}),
            )
            .await;
        assert_eq!(status, StatusCode::CREATED, "{body}");
    }

    let job = jobs(&server.state.config).unwrap().into_iter().find(|j| j.name == "kb_expiry").unwrap();
    let eight = chrono::DateTime::parse_from_rfc3339("2026-11-23T08:00:00+08:00").unwrap().to_utc();
    assert_eq!(job.next_after(clock.now()), Some(eight), "every morning at 08:00 by default");
    clock.advance_minutes(60);
    // Two instances reach the same run: one does it. Run again later that day: nothing new.
    let (a, b) = tokio::join!(run_once(&server.state, &job, eight), run_once(&server.state, &job, eight));
    assert_eq!([a.unwrap(), b.unwrap()].iter().filter(|o| o.is_some()).count(), 1);
    let again = eight + chrono::Duration::hours(2);
    run_once(&server.state, &job, again).await.unwrap().expect("a run of its own");
    server.drain_mail().await;

    let mails: Vec<_> = sink.received().into_iter().filter(|m| m.subject().contains("知识库到期提醒")).collect();
    assert_eq!(mails.len(), 1, "one mail, to the one department with articles to renew");
    let email = &common::catalog().district.department(&bureau).unwrap().email;
    assert_eq!(mails[0].rcpt_to, vec![email.clone()]);
    assert!(mails[0].subject().contains("已过期1条，7日内到期1条"), "{}", mails[0].subject());
    let body = mails[0].body();
    assert!(body.contains("去年的垃圾清运时间") && body.contains("本周停水安排"), "{body}");
    assert!(!body.contains("下月供暖安排") && !body.contains("大件垃圾怎么预约清运"), "{body}");
    server.stop().await;
}
