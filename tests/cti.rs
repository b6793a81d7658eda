//! The telephone interface through the API and the live socket, on both databases: call
//! events from a PBX (tokens, checks, idempotence, any order), seats, the screen-pop, tickets
//! linked to calls, the missed-call list and the statistics. The same with a real SIP server
//! and real phones is `tests/telephony.rs`.

mod common;

use common::{live_socket, next_message, wait_for, Backend, TestClock, TestServer};
use hotline::config::Config;
use reqwest::{Method, StatusCode};
use serde_json::{json, Value};
use std::time::Duration;

pub const PBX_TOKEN: &str = "test-pbx-token-0123456789";

async fn server(backend: Backend) -> TestServer {
    let config =
        Config { cti_pbx_tokens: Some(format!("test-pbx={PBX_TOKEN}")), cti_wrap_up_secs: 2, ..Config::default() };
    TestServer::start_with(backend, TestClock::starting_now(), config).await
}

async fn post_events(server: &TestServer, token: Option<&str>, body: Value) -> (StatusCode, Value) {
    server.request(Method::POST, "/api/v1/cti/events", token, Some(body)).await
}

/// An event `secs` seconds from now (negative: in the past).
fn event(call: &str, kind: &str, secs: f64, extra: Value) -> Value {
    let at = chrono::Utc::now() + chrono::Duration::milliseconds((secs * 1000.0) as i64);
    let mut e = json!({"call_id": call, "event": kind, "at": at.to_rfc3339()});
    if let (Some(e), Some(extra)) = (e.as_object_mut(), extra.as_object()) {
        for (k, v) in extra {
            e.insert(k.clone(), v.clone());
        }
    }
    e
}

fn ringing(call: &str, secs: f64, caller: &str, ext: &str) -> Value {
    event(call, "ringing", secs, json!({"caller": caller, "dialled": "12345", "queue": "hotline", "extension": ext}))
}

async fn accepted(server: &TestServer, body: Value) -> Value {
    let (status, answer) = post_events(server, Some(PBX_TOKEN), body).await;
    assert_eq!(status, StatusCode::OK, "{answer}");
    answer
}

async fn sign_in(user: &common::User<'_>, ext: &str) -> Value {
    let (status, seat) = user.post("/api/v1/cti/seat/sign-in", json!({"extension": ext})).await;
    assert_eq!(status, StatusCode::OK, "{seat}");
    seat
}

async fn pbx_tokens_and_field_checks_guard_the_event_interface(backend: Backend) {
    let server = server(backend).await;
    let operator = server.login("operator").await;
    sign_in(&operator, "8001").await;
    let ring = ringing("c-1", -5.0, "13812345678", "8001");
    let (status, body) = post_events(&server, None, ring.clone()).await;
    assert_eq!(status, StatusCode::UNAUTHORIZED, "{body}");
    let (status, _) = post_events(&server, Some("not-the-token-at-all"), ring.clone()).await;
    assert_eq!(status, StatusCode::UNAUTHORIZED);
    // A user's login is not a PBX token.
    let (status, _) = post_events(&server, Some(&operator.token), ring.clone()).await;
    assert_eq!(status, StatusCode::UNAUTHORIZED);

    let cases = [
        (ringing("c-1", -5.0, "13812345678", "9999"), "extension"),
        (ringing("c-1", 3600.0, "13812345678", "8001"), "at"),
        (ringing("c-1", -9.0 * 86400.0, "13812345678", "8001"), "at"),
        (ringing("c-1", -5.0, "12", "8001"), "caller"),
        (event("c-1", "rang", -5.0, json!({})), "event"),
        (event("c-1", "hangup", -5.0, json!({"cause": "tired"})), "cause"),
        (json!({"call_id": "c-1", "event": "ringing"}), "at"),
        (json!({"call_id": "c-1", "event": "ringing", "at": "now", "colour": "red"}), "colour"),
    ];
    for (body, field) in cases {
        let (status, answer) = post_events(&server, Some(PBX_TOKEN), body.clone()).await;
        assert!(status.is_client_error(), "{body} → {status} {answer}");
        assert_eq!(answer["field"], field, "{body} → {answer}");
    }
    // A hang-up before the ring, in one batch: the batch is refused whole, naming the event.
    let (status, answer) = post_events(
        &server,
        Some(PBX_TOKEN),
        json!([
            ringing("c-2", -5.0, "13812345678", "8001"),
            event("c-2", "hangup", -10.0, json!({"cause": "caller_hangup"}))
        ]),
    )
    .await;
    assert_eq!(status, StatusCode::UNPROCESSABLE_ENTITY, "{answer}");
    assert_eq!(answer["field"], "[1].at");
    let admin = server.login("admin").await;
    let (_, calls) = admin.get("/api/v1/cti/calls").await;
    assert_eq!(calls["calls"], json!([]), "nothing of a refused request is stored");
    let (_, seat) = operator.get("/api/v1/cti/seat").await;
    assert_eq!(seat["seat"]["state"], "idle", "nor did the seat move");
    server.stop().await;
}

async fn a_ring_pops_the_callers_history_at_that_operators_console_only(backend: Backend) {
    let server = server(backend).await;
    let operator = server.login("operator").await;
    let dispatcher = server.login("dispatcher").await;
    let supervisor = server.login("supervisor").await;
    // The caller's earlier ticket, confidential, logged an hour ago in the test's eyes (now).
    let earlier = operator.log_call(json!({"caller_phone": "13812345678", "confidential": true})).await;
    sign_in(&operator, "8001").await;
    sign_in(&dispatcher, "8002").await;
    let (status, taken) = supervisor.post("/api/v1/cti/seat/sign-in", json!({"extension": "8001"})).await;
    assert_eq!(status, StatusCode::CONFLICT, "{taken}");

    let (lead, _) = common::two_bureaus();
    let department = server.login(&lead).await;
    let mut op_socket = live_socket(&server, &operator.token).await;
    let mut other_socket = live_socket(&server, &dispatcher.token).await;
    let mut wall_socket = live_socket(&server, &supervisor.token).await;
    let mut dept_socket = live_socket(&server, &department.token).await;
    for s in [&mut op_socket, &mut other_socket, &mut wall_socket, &mut dept_socket] {
        next_message(s, Duration::from_secs(5)).await.expect("hello");
    }

    accepted(&server, ringing("call-a", -0.5, "13812345678", "8001")).await;
    let (pop, _) = wait_for(&mut op_socket, Duration::from_secs(10), |m| m["type"] == "screen_pop").await;
    let pop = &pop["pop"];
    assert_eq!(pop["caller"], "13812345678");
    assert_eq!(pop["call_id"], "call-a");
    assert_eq!(pop["extension"], "8001");
    assert_eq!(pop["tickets"][0]["number"], earlier["number"]);
    assert_eq!(pop["open_tickets"][0]["number"], earlier["number"]);
    assert_eq!(pop["confidential"], true, "保密 marker");
    assert_eq!(pop["repeat_24h"], true, "重复来电: a ticket from the number today");
    assert_eq!(pop["new_ticket"], json!({"caller_phone": "13812345678", "channel": "phone", "call_id": "call-a"}));

    let (seat, _) = wait_for(&mut wall_socket, Duration::from_secs(10), |m| {
        m["type"] == "seat" && m["seat"]["extension"] == "8001" && m["seat"]["state"] == "ringing"
    })
    .await;
    assert_eq!(seat["seat"]["state_label"], "振铃");
    // The other operator and the department hear nothing of the call.
    let (m, _) = wait_for(&mut other_socket, Duration::from_secs(5), |m| m["type"] == "seat").await;
    assert_eq!(m["seat"]["extension"], "8001", "dispatchers watch the seats");
    let mut quiet = Vec::new();
    while let Some(m) = next_message(&mut other_socket, Duration::from_millis(700)).await {
        quiet.push(m);
    }
    assert!(quiet.iter().all(|m| m["type"] != "screen_pop"), "{quiet:?}");
    let mut dept = Vec::new();
    while let Some(m) = next_message(&mut dept_socket, Duration::from_millis(700)).await {
        dept.push(m);
    }
    assert!(dept.iter().all(|m| m["type"] != "screen_pop" && m["type"] != "seat"), "{dept:?}");
    let (status, _) = department.get("/api/v1/cti/calls/call-a").await;
    assert_eq!(status, StatusCode::FORBIDDEN);

    // Answered, then over: the seat goes through a call into wrap-up, then idle by itself.
    accepted(&server, event("call-a", "answered", -0.2, json!({"extension": "8001"}))).await;
    wait_for(&mut wall_socket, Duration::from_secs(10), |m| m["type"] == "seat" && m["seat"]["state"] == "on_call")
        .await;
    accepted(&server, event("call-a", "hangup", 0.0, json!({"cause": "operator_hangup"}))).await;
    let (m, _) =
        wait_for(&mut wall_socket, Duration::from_secs(10), |m| m["type"] == "seat" && m["seat"]["state"] == "wrap_up")
            .await;
    assert!(m["seat"]["wrap_until"].is_string());
    tokio::time::sleep(Duration::from_millis(2300)).await;
    let (_, board) = supervisor.get("/api/v1/cti/seats").await;
    let seat = board["seats"].as_array().unwrap().iter().find(|s| s["extension"] == "8001").unwrap().clone();
    assert_eq!(seat["state"], "idle", "wrap-up (cti_wrap_up_secs = 2) ended by itself: {seat}");
    // 小休 and back.
    let (status, on_break) = operator.post("/api/v1/cti/seat/break", json!({})).await;
    assert_eq!((status, on_break["state"].clone()), (StatusCode::OK, json!("break")));
    let (_, ready) = operator.post("/api/v1/cti/seat/ready", json!({})).await;
    assert_eq!(ready["state"], "idle");
    let (_, out) = operator.post("/api/v1/cti/seat/sign-out", json!({})).await;
    assert_eq!(out["state"], "signed_out");
    server.stop().await;
}

async fn a_resent_day_and_events_out_of_order_give_the_same_calls(backend: Backend) {
    let server = server(backend).await;
    let operator = server.login("operator").await;
    sign_in(&operator, "8001").await;
    let day = json!([
        event("d-1", "queued", -300.0, json!({"caller": "13812345678", "dialled": "12345", "queue": "hotline"})),
        ringing("d-1", -296.0, "13812345678", "8001"),
        event("d-1", "answered", -290.0, json!({"extension": "8001"})),
        event("d-1", "hangup", -170.0, json!({"cause": "caller_hangup"})),
        event("d-1", "recording", -169.0, json!({"recording_url": "https://rec.example/d-1.wav"})),
        ringing("d-2", -100.0, "13900000002", "8001"),
        event("d-2", "hangup", -70.0, json!({"cause": "no_answer"})),
    ]);
    // Out of order: the hang-ups and the answer before the rings.
    let shuffled: Vec<Value> = [3, 6, 2, 4, 0, 5, 1].iter().map(|i| day[*i].clone()).collect();
    let first = accepted(&server, json!(shuffled)).await;
    assert_eq!(first, json!({"accepted": 7, "duplicates": 0}));
    let admin = server.login("admin").await;
    let (_, call) = admin.get("/api/v1/cti/calls/d-1").await;
    assert_eq!(call["outcome"], "answered");
    assert_eq!(call["wait_secs"], 10);
    assert_eq!(call["talk_secs"], 120);
    assert_eq!(call["cause"], "caller_hangup");
    assert_eq!(call["recording_url"], "https://rec.example/d-1.wav");
    assert_eq!(call["answered"]["operator"], "operator");
    let (_, missed) = admin.get("/api/v1/cti/missed").await;
    assert_eq!(missed["missed"].as_array().unwrap().len(), 1);
    let (_, stats_before) = admin.get("/api/v1/cti/stats").await;

    let again = accepted(&server, day.clone()).await;
    assert_eq!(again, json!({"accepted": 0, "duplicates": 7}), "a resent day changes nothing");
    let (_, call_again) = admin.get("/api/v1/cti/calls/d-1").await;
    assert_eq!(call_again, call);
    let (_, missed_again) = admin.get("/api/v1/cti/missed").await;
    assert_eq!(missed_again, missed);
    let (_, stats_after) = admin.get("/api/v1/cti/stats").await;
    assert_eq!(stats_after, stats_before);
    let t = &stats_after["total"];
    assert_eq!((t["offered"].clone(), t["answered"].clone(), t["abandoned"].clone()), (json!(2), json!(1), json!(1)));
    assert_eq!(t["answered_within_15s"], 1);
    assert_eq!(t["within_15s_rate"], 0.5);
    assert_eq!(t["average_talk_secs"], 120.0);
    assert_eq!(t["average_handling_secs"], 122.0, "talk + cti_wrap_up_secs");
    let op =
        stats_after["by_operator"].as_array().unwrap().iter().find(|o| o["operator"] == "operator").unwrap().clone();
    assert_eq!(
        (op["offered"].clone(), op["answered"].clone(), op["abandoned"].clone()),
        (json!(2), json!(1), json!(1))
    );
    server.stop().await;
}

async fn a_ticket_logged_during_a_call_shows_the_call_and_its_recording(backend: Backend) {
    let server = server(backend).await;
    let operator = server.login("operator").await;
    sign_in(&operator, "8001").await;
    accepted(
        &server,
        json!([
            ringing("t-1", -30.0, "13812345678", "8001"),
            event("t-1", "answered", -25.0, json!({"extension": "8001"}))
        ]),
    )
    .await;
    let mut body = common::sample_ticket();
    body["call_id"] = json!("no-such-call");
    let (status, refused) = operator.post("/api/v1/tickets", body.clone()).await;
    assert_eq!((status, refused["field"].clone()), (StatusCode::UNPROCESSABLE_ENTITY, json!("call_id")));
    let ticket = operator.log_call(json!({"call_id": "t-1"})).await;
    let id = ticket["id"].as_i64().unwrap();
    accepted(
        &server,
        json!([
            event("t-1", "hangup", -2.0, json!({"cause": "caller_hangup"})),
            event("t-1", "recording", -1.0, json!({"recording_url": "https://rec.example/t-1.wav"})),
        ]),
    )
    .await;
    let (_, history) = operator.get(&format!("/api/v1/tickets/{id}/events")).await;
    assert_eq!(history[0]["type"], "received");
    assert_eq!(history[0]["data"]["call_id"], "t-1", "the history names the call: {}", history[0]);
    let (_, calls) = operator.get(&format!("/api/v1/tickets/{id}/calls")).await;
    assert_eq!(calls["calls"][0]["call_id"], "t-1");
    assert_eq!(calls["calls"][0]["recording_url"], "https://rec.example/t-1.wav");
    let (_, call) = operator.get("/api/v1/cti/calls/t-1").await;
    assert_eq!(call["tickets"][0]["number"], ticket["number"]);
    server.stop().await;
}

async fn missed_calls_gather_per_number_and_are_worked_like_callbacks(backend: Backend) {
    let server = server(backend).await;
    let operator = server.login("operator").await;
    let dispatcher = server.login("dispatcher").await;
    sign_in(&operator, "8001").await;
    accepted(
        &server,
        json!([
            event("m-1", "queued", -600.0, json!({"caller": "13900000002"})),
            event("m-1", "hangup", -590.0, json!({"cause": "caller_hangup"})),
            ringing("m-2", -300.0, "13900000002", "8001"),
            event("m-2", "hangup", -260.0, json!({"cause": "no_answer"})),
            event("m-3", "queued", -200.0, json!({"caller": "anonymous"})),
            event("m-3", "hangup", -190.0, json!({"cause": "caller_hangup"})),
        ]),
    )
    .await;
    let (_, list) = operator.get("/api/v1/cti/missed").await;
    let missed = list["missed"].as_array().unwrap();
    assert_eq!(missed.len(), 1, "one entry per number; a withheld number is not called back: {list}");
    let entry = &missed[0];
    assert_eq!(
        (entry["caller"].clone(), entry["calls"].clone(), entry["longest_wait_secs"].clone()),
        (json!("13900000002"), json!(2), json!(40))
    );
    assert_eq!(entry["calls_today"], 2);
    let id = entry["id"].as_i64().unwrap();
    let (status, _) = operator.post(&format!("/api/v1/cti/missed/{id}/outcome"), json!({"outcome": "reached"})).await;
    assert_eq!(status, StatusCode::CONFLICT, "claim first");
    let (status, claimed) = operator.post(&format!("/api/v1/cti/missed/{id}/claim"), json!({})).await;
    assert_eq!((status, claimed["claimed_by"].clone()), (StatusCode::OK, json!("operator")));
    let (status, _) = dispatcher.post(&format!("/api/v1/cti/missed/{id}/claim"), json!({})).await;
    assert_eq!(status, StatusCode::CONFLICT, "one operator per resident at a time");
    let (_, tried) = operator.post(&format!("/api/v1/cti/missed/{id}/outcome"), json!({"outcome": "no_answer"})).await;
    assert_eq!((tried["attempts"].clone(), tried["status"].clone()), (json!(1), json!("open")));
    let (status, bad) = operator.post(&format!("/api/v1/cti/missed/{id}/outcome"), json!({"outcome": "maybe"})).await;
    assert_eq!((status, bad["field"].clone()), (StatusCode::BAD_REQUEST, json!("outcome")));
    operator.post(&format!("/api/v1/cti/missed/{id}/claim"), json!({})).await;
    let (_, done) = operator
        .post(&format!("/api/v1/cti/missed/{id}/outcome"), json!({"outcome": "reached", "note": "已回电"}))
        .await;
    assert_eq!(
        (done["status"].clone(), done["closure"].clone(), done["attempts"].clone()),
        (json!("closed"), json!("reached"), json!(2))
    );
    let (_, open) = operator.get("/api/v1/cti/missed").await;
    assert_eq!(open["missed"], json!([]));
    // A new missed call from the number opens a new entry; getting through later closes it.
    accepted(
        &server,
        json!([
            ringing("m-4", -100.0, "13900000002", "8001"),
            event("m-4", "hangup", -90.0, json!({"cause": "caller_hangup"}))
        ]),
    )
    .await;
    let (_, open) = operator.get("/api/v1/cti/missed").await;
    assert_eq!(open["missed"].as_array().unwrap().len(), 1);
    accepted(
        &server,
        json!([
            ringing("m-5", -50.0, "13900000002", "8001"),
            event("m-5", "answered", -45.0, json!({"extension": "8001"}))
        ]),
    )
    .await;
    let (_, open) = operator.get("/api/v1/cti/missed").await;
    assert_eq!(open["missed"], json!([]), "the resident got through");
    let (_, closed) = operator.get("/api/v1/cti/missed?closed=true").await;
    assert_eq!(closed["missed"][0]["closure"], "called_again");
    server.stop().await;
}

/// What the PBX's routing asks before ringing a phone: the status and the one-line answer.
async fn next_extension(server: &TestServer, token: Option<&str>, query: &str) -> (StatusCode, String) {
    let mut req = reqwest::Client::new().get(format!("{}/api/v1/cti/next-extension{query}", server.base));
    if let Some(t) = token {
        req = req.bearer_auth(t);
    }
    let resp = req.send().await.expect("request sent");
    (resp.status(), resp.text().await.unwrap_or_default())
}

async fn the_pbx_rings_only_idle_seats_the_one_idle_longest_first(backend: Backend) {
    let server = server(backend).await;
    let operator = server.login("operator").await;
    let dispatcher = server.login("dispatcher").await;
    assert_eq!(next_extension(&server, None, "").await.0, StatusCode::UNAUTHORIZED);
    // Nobody signed in: no phone to ring.
    assert_eq!(next_extension(&server, Some(PBX_TOKEN), "").await, (StatusCode::NO_CONTENT, String::new()));
    sign_in(&operator, "8001").await;
    sign_in(&dispatcher, "8002").await;
    assert_eq!(next_extension(&server, Some(PBX_TOKEN), "").await, (StatusCode::OK, "8001".to_string()));
    // Already tried for this call, or just taken by another: the next one.
    assert_eq!(next_extension(&server, Some(PBX_TOKEN), "?exclude=8001").await, (StatusCode::OK, "8002".to_string()));
    assert_eq!(next_extension(&server, Some(PBX_TOKEN), "?exclude=8001,8002").await.0, StatusCode::NO_CONTENT);
    for bad in ["?exclude=80a1", "?exclude=", "?queue=hotline"] {
        let (status, body) = next_extension(&server, Some(PBX_TOKEN), bad).await;
        assert_eq!(status, StatusCode::BAD_REQUEST, "{bad}: {body}");
        let field = serde_json::from_str::<Value>(&body).unwrap()["field"].clone();
        assert!(field == "exclude" || field == "queue", "{bad}: {body}");
    }
    // A phone ringing is not offered; nor one on a call, then wrapping up (话后处理).
    accepted(&server, ringing("c-route", -3.0, "13812345678", "8001")).await;
    assert_eq!(next_extension(&server, Some(PBX_TOKEN), "").await, (StatusCode::OK, "8002".to_string()));
    accepted(&server, event("c-route", "answered", -2.0, json!({"extension": "8001"}))).await;
    assert_eq!(next_extension(&server, Some(PBX_TOKEN), "").await, (StatusCode::OK, "8002".to_string()));
    accepted(&server, event("c-route", "hangup", -1.0, json!({"cause": "caller_hangup"}))).await;
    let (_, seat) = operator.get("/api/v1/cti/seat").await;
    assert_eq!(seat["seat"]["state"], "wrap_up", "{seat}");
    assert_eq!(next_extension(&server, Some(PBX_TOKEN), "").await, (StatusCode::OK, "8002".to_string()));
    // 小休: the dispatcher's break leaves no seat to ring; 置闲 brings it back.
    let (status, _) = dispatcher.post("/api/v1/cti/seat/break", json!({})).await;
    assert_eq!(status, StatusCode::OK);
    assert_eq!(next_extension(&server, Some(PBX_TOKEN), "").await.0, StatusCode::NO_CONTENT);
    let (status, _) = dispatcher.post("/api/v1/cti/seat/ready", json!({})).await;
    assert_eq!(status, StatusCode::OK);
    assert_eq!(next_extension(&server, Some(PBX_TOKEN), "").await, (StatusCode::OK, "8002".to_string()));
    server.stop().await;
}

both_backends!(
    the_pbx_rings_only_idle_seats_the_one_idle_longest_first,
    pbx_tokens_and_field_checks_guard_the_event_interface,
    a_ring_pops_the_callers_history_at_that_operators_console_only,
    a_resent_day_and_events_out_of_order_give_the_same_calls,
    a_ticket_logged_during_a_call_shows_the_call_and_its_recording,
    missed_calls_gather_per_number_and_are_worked_like_callbacks,
);
