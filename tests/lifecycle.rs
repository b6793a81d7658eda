//! The ticket lifecycle over HTTP, on SQLite and PostgreSQL.

mod common;

use common::{street_office_and_community, two_bureaus, Backend, TestServer};
use reqwest::StatusCode;
use serde_json::{json, Value};

both_backends!(
    operator_logs_call_and_it_goes_from_dispatch_to_archive,
    return_is_reviewed_and_redispatched,
    street_office_passes_down_to_its_community,
    lead_waits_for_assisting_departments,
    extension_and_suspension_need_a_supervisor,
    dissatisfied_callback_reopens_to_the_same_department,
    illegal_transition_answers_409_with_state_and_allowed_actions,
    duplicate_is_merged_into_the_open_ticket,
    inquiry_is_resolved_directly_without_a_department,
    event_log_is_gap_free_and_rebuild_gives_identical_rows,
);

async fn operator_logs_call_and_it_goes_from_dispatch_to_archive(backend: Backend) {
    let server = TestServer::start(backend).await;
    let (bureau, _) = two_bureaus();
    let operator = server.login("operator").await;
    let dispatcher = server.login("dispatcher").await;
    let department = server.login(&bureau).await;

    // Left for the dispatcher (人工派单) rather than routed by the rules.
    let ticket = operator.log_call(json!({"route": false})).await;
    assert_eq!(ticket["status"], "received");
    let number = ticket["number"].as_str().unwrap().to_string();
    assert_eq!(number.len(), 15, "{number}");

    let t = dispatcher.act(&number, "dispatch", json!({"lead": bureau, "policy": "general"})).await;
    assert_eq!(t["status"], "dispatched");
    assert_eq!(t["reply_deadline"]["duration"], "5wd");
    assert_eq!(t["reply_deadline"]["label"], "5个工作日");
    assert!(t["reply_deadline"]["at"].as_str().unwrap().ends_with("+08:00"));

    let t = department.act(&number, "accept", json!(null)).await;
    assert_eq!(t["status"], "accepted");
    let t = department.act(&number, "reply", json!({"outcome": "solved", "text": "已安排环卫工人清运。"})).await;
    assert_eq!(t["status"], "replied");
    let t =
        operator.act(&number, "callback", json!({"reached": true, "solved": "yes", "satisfaction": "satisfied"})).await;
    assert_eq!(t["status"], "closed");
    assert_eq!(t["last_callback"]["department"], bureau.as_str());

    let (status, events) = operator.get(&format!("/api/v1/tickets/{number}/events")).await;
    assert_eq!(status, StatusCode::OK);
    let types: Vec<&str> = events
        .as_array()
        .unwrap()
        .iter()
        .map(|e| e["type"].as_str().unwrap())
        .filter(|t| *t != "clocks_changed")
        .collect();
    assert_eq!(
        types,
        ["received", "dispatched", "accepted", "replied", "callback_scheduled", "callback_recorded", "closed"]
    );
    let accepted = events.as_array().unwrap().iter().find(|e| e["type"] == "accepted").unwrap();
    assert!(events[0]["actor"]["username"] == "operator" && accepted["actor"]["username"] == bureau.as_str());
    server.stop().await;
}

async fn return_is_reviewed_and_redispatched(backend: Backend) {
    let server = TestServer::start(backend).await;
    let (first, second) = two_bureaus();
    let operator = server.login("operator").await;
    let dispatcher = server.login("dispatcher").await;
    let wrong = server.login(&first).await;
    let right = server.login(&second).await;
    let id = operator.log_call(json!({"dispatch": {"lead": first}})).await["id"].to_string();

    let (status, body) = wrong.post(&format!("/api/v1/tickets/{id}/return"), json!({"reason": ""})).await;
    assert_eq!(status, StatusCode::UNPROCESSABLE_ENTITY);
    assert_eq!(body["field"], "reason");
    let t = wrong.act(&id, "return", json!({"reason": "属于其他部门职责"})).await;
    assert_eq!(t["status"], "return_requested");
    let t = dispatcher.act(&id, "reject-return", json!({"reason": "属本单位职责"})).await;
    assert_eq!(t["status"], "dispatched");
    assert_eq!(t["lead"], first.as_str());
    wrong.act(&id, "return", json!({"reason": "确实不属于本单位"})).await;
    let t = dispatcher.act(&id, "redispatch", json!({"lead": second, "note": "改派"})).await;
    assert_eq!(t["lead"], second.as_str());
    assert_eq!(t["returns"], 2);
    // The first department no longer holds it: it cannot see it at all.
    let (status, _) = wrong.get(&format!("/api/v1/tickets/{id}")).await;
    assert_eq!(status, StatusCode::NOT_FOUND);
    right.act(&id, "accept", json!(null)).await;
    server.stop().await;
}

async fn street_office_passes_down_to_its_community(backend: Backend) {
    let server = TestServer::start(backend).await;
    let (office, community) = street_office_and_community();
    let operator = server.login("operator").await;
    let street = server.login(&office).await;
    let sub = server.login(&community).await;
    let id = operator.log_call(json!({"dispatch": {"lead": office}})).await["id"].to_string();
    street.act(&id, "accept", json!(null)).await;
    let (status, _) = sub.get(&format!("/api/v1/tickets/{id}")).await;
    assert_eq!(status, StatusCode::NOT_FOUND, "not yet the community's");
    let t = street.act(&id, "pass-down", json!({"to": community})).await;
    assert_eq!(t["lead"], community.as_str());
    assert_eq!(t["status"], "dispatched");
    sub.act(&id, "accept", json!(null)).await;
    // The street office still sees what its communities handle.
    let (status, _) = street.get(&format!("/api/v1/tickets/{id}")).await;
    assert_eq!(status, StatusCode::OK);
    let t = sub.act(&id, "return", json!({"reason": "需要街道协调多个部门"})).await;
    assert_eq!(t["lead"], office.as_str());
    assert_eq!(t["status"], "accepted");
    server.stop().await;
}

async fn lead_waits_for_assisting_departments(backend: Backend) {
    let server = TestServer::start(backend).await;
    let (lead, assist) = two_bureaus();
    let operator = server.login("operator").await;
    let supervisor = server.login("supervisor").await;
    let lead_user = server.login(&lead).await;
    let assist_user = server.login(&assist).await;
    let id = operator.log_call(json!({"dispatch": {"lead": lead, "assists": [assist]}})).await["id"].to_string();
    lead_user.act(&id, "accept", json!(null)).await;
    let (status, body) =
        lead_user.post(&format!("/api/v1/tickets/{id}/reply"), json!({"outcome": "solved", "text": "done"})).await;
    assert_eq!(status, StatusCode::CONFLICT);
    assert!(body["message"].as_str().unwrap().contains(&assist), "{body}");
    // An assisting department sees the ticket and answers the lead.
    assist_user.act(&id, "assist-reply", json!({"text": "已配合现场检查"})).await;
    lead_user.act(&id, "reply", json!({"outcome": "solved", "text": "已处理"})).await;

    // With a supervisor's override the lead need not wait.
    let id = operator.log_call(json!({"dispatch": {"lead": lead, "assists": [assist]}})).await["id"].to_string();
    lead_user.act(&id, "accept", json!(null)).await;
    supervisor.act(&id, "waive-assists", json!({"reason": "协办单位逾期未答复"})).await;
    lead_user.act(&id, "reply", json!({"outcome": "explained", "text": "已解释"})).await;
    server.stop().await;
}

async fn extension_and_suspension_need_a_supervisor(backend: Backend) {
    let server = TestServer::start(backend).await;
    let (bureau, _) = two_bureaus();
    let operator = server.login("operator").await;
    let supervisor = server.login("supervisor").await;
    let dept = server.login(&bureau).await;
    let id = operator.log_call(json!({"dispatch": {"lead": bureau}})).await["id"].to_string();
    dept.act(&id, "accept", json!(null)).await;
    let (status, body) = dept
        .post(&format!("/api/v1/tickets/{id}/request-extension"), json!({"reason": "需检测", "extra": "3 days"}))
        .await;
    assert_eq!(status, StatusCode::UNPROCESSABLE_ENTITY);
    assert_eq!(body["field"], "extra");
    let before = dept.act(&id, "request-extension", json!({"reason": "需第三方检测", "extra": "3wd"})).await;
    let (status, _) = dept.post(&format!("/api/v1/tickets/{id}/decide-extension"), json!({"approve": true})).await;
    assert_eq!(status, StatusCode::FORBIDDEN);
    let after = supervisor.act(&id, "decide-extension", json!({"approve": true, "note": "同意"})).await;
    assert!(after["reply_due_at"].as_str().unwrap() > before["reply_due_at"].as_str().unwrap());

    dept.act(&id, "request-suspension", json!({"reason": "等待市民提供材料"})).await;
    let t = supervisor.act(&id, "decide-suspension", json!({"approve": true})).await;
    assert_eq!(t["status"], "suspended");
    let (status, _) =
        dept.post(&format!("/api/v1/tickets/{id}/reply"), json!({"outcome": "solved", "text": "x"})).await;
    assert_eq!(status, StatusCode::CONFLICT);
    server.clock.advance_minutes(60 * 24 * 3);
    // Three days on, the morning's login has expired.
    let (status, _) = dept.get(&format!("/api/v1/tickets/{id}")).await;
    assert_eq!(status, StatusCode::UNAUTHORIZED);
    let dept = server.login(&bureau).await;
    let t = dept.act(&id, "resume", json!(null)).await;
    assert_eq!(t["status"], "accepted");
    assert!(
        t["reply_due_at"].as_str().unwrap() > after["reply_due_at"].as_str().unwrap(),
        "the pause moved the deadline"
    );
    server.stop().await;
}

async fn dissatisfied_callback_reopens_to_the_same_department(backend: Backend) {
    let server = TestServer::start(backend).await;
    let (bureau, _) = two_bureaus();
    let operator = server.login("operator").await;
    let dept = server.login(&bureau).await;
    let id = operator.log_call(json!({"dispatch": {"lead": bureau}})).await["id"].to_string();
    dept.act(&id, "accept", json!(null)).await;
    dept.act(&id, "reply", json!({"outcome": "solved", "text": "已处理"})).await;
    let (status, body) =
        operator.post(&format!("/api/v1/tickets/{id}/callback"), json!({"reached": true, "solved": "no"})).await;
    assert_eq!(status, StatusCode::UNPROCESSABLE_ENTITY);
    assert_eq!(body["field"], "satisfaction");
    let t = operator
        .act(
            &id,
            "callback",
            json!({"reached": true, "solved": "no", "satisfaction": "dissatisfied", "comment": "没人来"}),
        )
        .await;
    assert_eq!(t["status"], "accepted");
    assert_eq!(t["reopens"], 1);
    assert_eq!(t["lead"], bureau.as_str());
    let t = operator.act(&id, "urge", json!({"note": "市民再次来电"})).await;
    assert_eq!(t["urges"], 1);
    server.stop().await;
}

async fn illegal_transition_answers_409_with_state_and_allowed_actions(backend: Backend) {
    let server = TestServer::start(backend).await;
    let (bureau, _) = two_bureaus();
    let operator = server.login("operator").await;
    let dept = server.login(&bureau).await;
    let id = operator.log_call(json!({"dispatch": {"lead": bureau}})).await["id"].to_string();
    dept.act(&id, "accept", json!(null)).await;
    let (status, body) = dept.post(&format!("/api/v1/tickets/{id}/accept"), json!(null)).await;
    assert_eq!(status, StatusCode::CONFLICT);
    assert_eq!(body["error"], "conflict");
    let message = body["message"].as_str().unwrap();
    assert!(message.contains("办理中") && message.contains("accepted") && message.contains("reply"), "{message}");
    let (status, body) =
        operator.post(&format!("/api/v1/tickets/{id}/callback"), json!({"reached": false, "failure": "busy"})).await;
    assert_eq!(status, StatusCode::CONFLICT, "{body}");
    server.stop().await;
}

async fn duplicate_is_merged_into_the_open_ticket(backend: Backend) {
    let server = TestServer::start(backend).await;
    let (bureau, _) = two_bureaus();
    let operator = server.login("operator").await;
    let original = operator.log_call(json!({"dispatch": {"lead": bureau}})).await;
    let duplicate = operator.log_call(json!({"caller_phone": "13900001111", "route": false})).await;
    let (status, body) =
        operator.post(&format!("/api/v1/tickets/{}/merge", duplicate["id"]), json!({"into": original["number"]})).await;
    assert_eq!(status, StatusCode::OK, "{body}");
    assert_eq!(body["merged"]["status"], "merged");
    assert_eq!(body["merged"]["merged_into"], original["id"]);
    assert_eq!(body["into"]["merged_from"], json!([duplicate["id"]]));
    let (status, _) = operator
        .post(&format!("/api/v1/tickets/{}/merge", original["id"]), json!({"into": original["id"].to_string()}))
        .await;
    assert_eq!(status, StatusCode::UNPROCESSABLE_ENTITY, "a ticket merged into itself is refused");
    server.stop().await;
}

async fn inquiry_is_resolved_directly_without_a_department(backend: Backend) {
    let server = TestServer::start(backend).await;
    let operator = server.login("operator").await;
    let supervisor = server.login("supervisor").await;
    // Logged and answered in one request: the operator's "direct resolution" shortcut.
    let t = operator
        .log_call(json!({"kind": "consult", "content": "社保卡补办需要什么材料?",
            "resolve": {"answer": "携带身份证到街道社保所办理。", "callback_consent": false}}))
        .await;
    assert_eq!(t["status"], "closed");
    assert_eq!(t["resolved_directly"], true);
    assert!(t["routing"].is_null(), "the rules are not asked");
    // A complaint answered on the spot is always called back (inquiries only as a sample).
    let id = operator.log_call(json!({"kind": "complaint", "route": false})).await["id"].to_string();
    let t = operator.act(&id, "resolve", json!({"answer": "已答复"})).await;
    assert_eq!(t["status"], "replied", "waits for its callback");
    supervisor.act(&id, "close", json!({"note": "市民表示清楚"})).await;
    server.stop().await;
}

/// Drives a batch of tickets through many transitions, then checks the log and the rebuild.
async fn event_log_is_gap_free_and_rebuild_gives_identical_rows(backend: Backend) {
    let server = TestServer::start(backend).await;
    let (first, second) = two_bureaus();
    let operator = server.login("operator").await;
    let dispatcher = server.login("dispatcher").await;
    let supervisor = server.login("supervisor").await;
    let dept = server.login(&first).await;
    for i in 0..6 {
        let id = operator
            .log_call(json!({"confidential": i % 2 == 0, "dispatch": {"lead": first, "assists": if i == 3 { json!([second]) } else { json!([]) }}}))
            .await["id"]
            .to_string();
        if i >= 1 {
            dept.act(&id, "accept", json!(null)).await;
        }
        if i == 2 {
            dept.act(&id, "return", json!({"reason": "非本单位"})).await;
            dispatcher.act(&id, "redispatch", json!({"lead": second})).await;
        }
        if i == 3 {
            supervisor.act(&id, "waive-assists", json!({"reason": "x"})).await;
        }
        if i >= 3 {
            dept.act(&id, "reply", json!({"outcome": "solved", "text": "ok"})).await;
        }
        if i == 5 {
            operator.act(&id, "callback", json!({"reached": true, "solved": "yes", "satisfaction": "satisfied"})).await;
        }
        if i == 0 {
            supervisor.act(&id, "supervise", json!({"note": "督办"})).await;
            operator.act(&id, "reveal-caller", json!({"reason": "联系市民"})).await;
        }
    }
    // Sequence numbers: 1, 2, 3 … with no gap, across all tickets.
    let events = server.store.events_after(0, 10_000).await.unwrap();
    let seqs: Vec<i64> = events.iter().map(|e| e.seq).collect();
    assert_eq!(seqs, (1..=seqs.len() as i64).collect::<Vec<_>>());
    assert_eq!(server.store.last_event_seq().await.unwrap(), seqs.len() as i64);
    let revealed = events.iter().filter(|e| e.kind.name() == "caller_revealed").count();
    assert_eq!(revealed, 1, "each reveal is an event");

    let before = server.store.dump_ticket_rows().await.unwrap();
    let rebuilt = server.store.rebuild_projections().await.unwrap();
    assert_eq!(rebuilt, 6);
    let after = server.store.dump_ticket_rows().await.unwrap();
    assert_eq!(before, after);
    server.stop().await;
}

#[allow(dead_code)]
fn id_of(v: &Value) -> String {
    v["id"].to_string()
}
