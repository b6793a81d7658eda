//! Real calls through a real SIP server, on both databases: Kamailio runs the reference
//! adapter (`ops/kamailio/kamailio.cfg`) on loopback and posts call events to the server;
//! SIPp plays the operators' phones (one answers, one only rings) and the residents (one
//! talks, one gives up while it rings). The test checks what the operators and the wall see
//! on the live socket and what the API then says: screen-pops, call records, the ticket
//! linked to its call, the missed-call list and the statistics.

mod common;

use common::sip::{call_args, operator_phone, require_programs, run_sipp, Kamailio};
use common::{live_socket, next_message, wait_for, Backend, TestClock, TestServer};
use hotline::config::Config;
use serde_json::{json, Value};
use std::time::Duration;

const TOKEN: &str = "kamailio-test-token-0123456789";

async fn hello(socket: &mut common::Socket) {
    let m = next_message(socket, Duration::from_secs(10)).await.expect("hello");
    assert_eq!(m["type"], "hello");
}

/// Places a call in a blocking thread (SIPp runs to its end) while the test reads sockets.
fn place_call(dir: &std::path::Path, name: &str, args: Vec<String>) -> tokio::task::JoinHandle<Result<(), String>> {
    let dir = dir.to_path_buf();
    let name = name.to_string();
    tokio::task::spawn_blocking(move || run_sipp(&dir, &name, &args, Duration::from_secs(40)))
}

async fn sip_calls_pop_screens_and_become_records_missed_calls_and_statistics(backend: Backend) {
    require_programs();
    let config = Config { cti_pbx_tokens: Some(format!("kamailio={TOKEN}")), cti_wrap_up_secs: 5, ..Config::default() };
    let server = TestServer::start_with(backend, TestClock::starting_now(), config).await;
    let dir = tempfile::tempdir().unwrap();
    let operator = server.login("operator").await;
    let dispatcher = server.login("dispatcher").await;
    let supervisor = server.login("supervisor").await;
    // The first caller has called before, about something confidential.
    let earlier = operator.log_call(json!({"caller_phone": "13800000001", "confidential": true})).await;
    for (user, ext) in [(&operator, "8001"), (&dispatcher, "8002")] {
        let (status, seat) = user.post("/api/v1/cti/seat/sign-in", json!({"extension": ext})).await;
        assert_eq!(status, reqwest::StatusCode::OK, "{seat}");
    }

    let kamailio = Kamailio::start(dir.path(), &server.base, TOKEN, 8001, 2, 30_000, 4);
    // 8001 picks up after 300 ms of ringing; 8002 never picks up.
    let _answers = operator_phone(dir.path(), &kamailio, 8001, "operator_answer.xml", &["-d", "300"]);
    let _rings = operator_phone(dir.path(), &kamailio, 8002, "operator_ring.xml", &[]);

    let mut op_socket = live_socket(&server, &operator.token).await;
    let mut other_socket = live_socket(&server, &dispatcher.token).await;
    let mut wall = live_socket(&server, &supervisor.token).await;
    for s in [&mut op_socket, &mut other_socket, &mut wall] {
        hello(s).await;
    }

    // Call 1: 13800000001 dials 12345, rings at 8001 (round robin starts there), talks 1 s.
    let call = place_call(dir.path(), "call-1", call_args(&kamailio, "caller_talk.xml", "12345", "13800000001", 1000));
    let (pop, _) = wait_for(&mut op_socket, Duration::from_secs(20), |m| m["type"] == "screen_pop").await;
    let pop = pop["pop"].clone();
    assert_eq!(pop["caller"], "13800000001", "{pop}");
    assert_eq!(pop["extension"], "8001");
    assert_eq!(pop["dialled"], "12345");
    assert_eq!(pop["tickets"][0]["number"], earlier["number"]);
    assert_eq!(pop["confidential"], true);
    let call_1 = pop["call_id"].as_str().unwrap().to_string();
    // The operator logs the ticket while talking, from the pop's form.
    let ticket = operator.log_call(json!({"caller_phone": pop["new_ticket"]["caller_phone"], "call_id": call_1})).await;
    call.await.unwrap().unwrap_or_else(|e| panic!("{e}\n{}", kamailio.program.log_text()));

    // The wall saw 8001 ring, go on the call and into wrap-up.
    let mut states = Vec::new();
    while !states.contains(&"wrap_up".to_string()) {
        let (m, _) =
            wait_for(&mut wall, Duration::from_secs(20), |m| m["type"] == "seat" && m["seat"]["extension"] == "8001")
                .await;
        states.push(m["seat"]["state"].as_str().unwrap().to_string());
    }
    assert_eq!(states, ["ringing", "on_call", "wrap_up"]);

    // Call 2: 13900000002 dials. 8001 is wrapping up (话后处理), so the server names 8002 to
    // Kamailio, which never answers; the caller gives up after 1.5 s. Only the dispatcher at
    // 8002 gets the pop.
    let call =
        place_call(dir.path(), "call-2", call_args(&kamailio, "caller_gives_up.xml", "12345", "13900000002", 1500));
    let (pop2, _) = wait_for(&mut other_socket, Duration::from_secs(20), |m| m["type"] == "screen_pop").await;
    assert_eq!(pop2["pop"]["caller"], "13900000002");
    assert_eq!(pop2["pop"]["extension"], "8002");
    assert_eq!(pop2["pop"]["repeat_24h"], false);
    let call_2 = pop2["pop"]["call_id"].as_str().unwrap().to_string();
    call.await.unwrap().unwrap_or_else(|e| panic!("{e}\n{}", kamailio.program.log_text()));
    let mut op_saw = Vec::new();
    while let Some(m) = next_message(&mut op_socket, Duration::from_millis(800)).await {
        op_saw.push(m);
    }
    assert!(op_saw.iter().all(|m| m["type"] != "screen_pop"), "8001 did not ring for call 2: {op_saw:?}");

    // The records, as the API tells them. Kamailio posts the hang-up as the BYE / CANCEL passes.
    let mut record: Value = Value::Null;
    for _ in 0..100 {
        record = operator.get(&format!("/api/v1/cti/calls/{call_2}")).await.1;
        if record["outcome"] == "abandoned" {
            break;
        }
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    assert_eq!(record["outcome"], "abandoned", "{record}");
    assert_eq!(record["cause"], "caller_hangup");
    assert_eq!(record["rings"][0]["extension"], "8002");
    assert!(record["wait_secs"].as_i64().unwrap() >= 1, "{record}");
    let (_, record_1) = operator.get(&format!("/api/v1/cti/calls/{call_1}")).await;
    assert_eq!(record_1["outcome"], "answered", "{record_1}");
    assert_eq!(record_1["answered"]["extension"], "8001");
    assert_eq!(record_1["answered"]["operator"], "operator");
    assert_eq!(record_1["cause"], "caller_hangup");
    assert_eq!(record_1["queue"], "hotline");
    assert_eq!(record_1["tickets"][0]["number"], ticket["number"]);
    let id = ticket["id"].as_i64().unwrap();
    let (_, linked) = operator.get(&format!("/api/v1/tickets/{id}/calls")).await;
    assert_eq!(linked["calls"][0]["call_id"], call_1.as_str());

    let (_, missed) = operator.get("/api/v1/cti/missed").await;
    let missed = missed["missed"].as_array().unwrap().clone();
    assert_eq!(missed.len(), 1, "{missed:?}");
    assert_eq!(missed[0]["caller"], "13900000002");
    assert_eq!(missed[0]["last_call_id"], call_2.as_str());

    let (_, stats) = supervisor.get("/api/v1/cti/stats").await;
    let total = &stats["total"];
    assert_eq!(
        (total["offered"].clone(), total["answered"].clone(), total["abandoned"].clone()),
        (json!(2), json!(1), json!(1)),
        "{stats}"
    );
    assert_eq!(total["answered_within_15s"], 1);
    let by =
        |name: &str| stats["by_operator"].as_array().unwrap().iter().find(|o| o["operator"] == name).cloned().unwrap();
    assert_eq!(by("operator")["answered"], 1);
    assert_eq!((by("dispatcher")["offered"].clone(), by("dispatcher")["abandoned"].clone()), (json!(1), json!(1)));

    // 小休: the operator at 8001 takes a break straight from wrap-up, the dispatcher at 8002 one
    // too. Call 3 finds no seat free: no phone rings, the caller hears 480 (all busy) and the
    // call is on the missed-call list.
    for user in [&operator, &dispatcher] {
        let (status, seat) = user.post("/api/v1/cti/seat/break", json!({})).await;
        assert_eq!((status, seat["state"].clone()), (reqwest::StatusCode::OK, json!("break")), "{seat}");
    }
    place_call(dir.path(), "call-3", call_args(&kamailio, "caller_finds_all_busy.xml", "12345", "13700000003", 0))
        .await
        .unwrap()
        .unwrap_or_else(|e| panic!("{e}\n{}", kamailio.program.log_text()));
    let mut missed_3 = Value::Null;
    for _ in 0..100 {
        let (_, list) = operator.get("/api/v1/cti/missed").await;
        if let Some(m) = list["missed"].as_array().unwrap().iter().find(|m| m["caller"] == "13700000003") {
            missed_3 = m.clone();
            break;
        }
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    let call_3 = missed_3["last_call_id"].as_str().unwrap_or_else(|| panic!("call 3 not missed: {missed_3}"));
    let (_, record_3) = operator.get(&format!("/api/v1/cti/calls/{call_3}")).await;
    assert_eq!(record_3["rings"], json!([]), "no phone on a break rang: {record_3}");
    assert_eq!((record_3["outcome"].clone(), record_3["cause"].clone()), (json!("abandoned"), json!("busy")));

    // 置闲: the dispatcher is back; call 4 rings 8002 — never 8001, still on its break.
    let (status, _) = dispatcher.post("/api/v1/cti/seat/ready", json!({})).await;
    assert_eq!(status, reqwest::StatusCode::OK);
    let call =
        place_call(dir.path(), "call-4", call_args(&kamailio, "caller_gives_up.xml", "12345", "13600000004", 1000));
    let (pop4, _) = wait_for(&mut other_socket, Duration::from_secs(20), |m| m["type"] == "screen_pop").await;
    assert_eq!(
        (pop4["pop"]["caller"].clone(), pop4["pop"]["extension"].clone()),
        (json!("13600000004"), json!("8002"))
    );
    call.await.unwrap().unwrap_or_else(|e| panic!("{e}\n{}", kamailio.program.log_text()));
    let mut op_saw = Vec::new();
    while let Some(m) = next_message(&mut op_socket, Duration::from_millis(800)).await {
        op_saw.push(m);
    }
    assert!(op_saw.iter().all(|m| m["type"] != "screen_pop"), "8001, on a break, never rang: {op_saw:?}");
    drop(kamailio);
    server.stop().await;
}

/// Blind transfer (REFER): the operator at 8001 answers and passes the call to the dispatcher
/// at 8002; the dispatcher's console pops as the transfer is made, the call goes on at 8002
/// and its record holds the transfer and the second answer.
async fn a_call_transferred_with_refer_goes_on_at_the_target_and_pops_there(backend: Backend) {
    require_programs();
    let config = Config { cti_pbx_tokens: Some(format!("kamailio={TOKEN}")), cti_wrap_up_secs: 5, ..Config::default() };
    let server = TestServer::start_with(backend, TestClock::starting_now(), config).await;
    let dir = tempfile::tempdir().unwrap();
    let operator = server.login("operator").await;
    let dispatcher = server.login("dispatcher").await;
    let supervisor = server.login("supervisor").await;
    for (user, ext) in [(&operator, "8001"), (&dispatcher, "8002")] {
        let (status, seat) = user.post("/api/v1/cti/seat/sign-in", json!({"extension": ext})).await;
        assert_eq!(status, reqwest::StatusCode::OK, "{seat}");
    }
    let kamailio = Kamailio::start(dir.path(), &server.base, TOKEN, 8001, 2, 30_000, 4);
    let pbx = kamailio.address();
    let transfer_to_8002 = ["-d", "300", "-key", "refer_to", "8002", "-key", "pbx", pbx.as_str()];
    let _transfers = operator_phone(dir.path(), &kamailio, 8001, "operator_transfers.xml", &transfer_to_8002);
    let _answers = operator_phone(dir.path(), &kamailio, 8002, "operator_answer.xml", &["-d", "300"]);
    let mut op_socket = live_socket(&server, &operator.token).await;
    let mut other_socket = live_socket(&server, &dispatcher.token).await;
    let mut wall = live_socket(&server, &supervisor.token).await;
    for s in [&mut op_socket, &mut other_socket, &mut wall] {
        hello(s).await;
    }

    // 13500000005 dials 12345: 8001 (idle the longest) rings, answers, transfers to 8002.
    let first_leg = place_call(
        dir.path(),
        "call-transferred",
        call_args(&kamailio, "caller_transferred.xml", "12345", "13500000005", 0),
    );
    let (pop, _) = wait_for(&mut op_socket, Duration::from_secs(20), |m| m["type"] == "screen_pop").await;
    assert_eq!((pop["pop"]["caller"].clone(), pop["pop"]["extension"].clone()), (json!("13500000005"), json!("8001")));
    let call_id = pop["pop"]["call_id"].as_str().unwrap().to_string();
    let (pop, _) = wait_for(&mut other_socket, Duration::from_secs(20), |m| m["type"] == "screen_pop").await;
    assert_eq!(pop["pop"]["call_id"], call_id.as_str(), "the transfer pops the caller at 8002: {pop}");
    assert_eq!(pop["pop"]["caller"], "13500000005");
    first_leg.await.unwrap().unwrap_or_else(|e| panic!("{e}\n{}", kamailio.program.log_text()));
    // The resident's phone calls the extension the REFER named, and talks 1 s.
    place_call(dir.path(), "call-to-target", call_args(&kamailio, "caller_talk.xml", "8002", "13500000005", 1000))
        .await
        .unwrap()
        .unwrap_or_else(|e| panic!("{e}\n{}", kamailio.program.log_text()));

    let mut record = Value::Null;
    for _ in 0..100 {
        record = operator.get(&format!("/api/v1/cti/calls/{call_id}")).await.1;
        if record["outcome"] == "answered" {
            break;
        }
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    assert_eq!(record["outcome"], "answered", "{record}\n{}", kamailio.program.log_text());
    assert_eq!(record["answered"]["extension"], "8001");
    assert_eq!(
        (record["transfers"][0]["from"].clone(), record["transfers"][0]["to"].clone()),
        (json!("8001"), json!("8002"))
    );
    assert_eq!(record["answered_after_transfer"][0]["extension"], "8002", "{record}");
    assert_eq!(record["cause"], "caller_hangup");
    // The wall: 8001 wraps up from the transfer; 8002 rang, took the call and wraps up after it.
    let mut states: Vec<(String, String)> = Vec::new();
    while !states.contains(&("8002".to_string(), "wrap_up".to_string())) {
        let (m, _) = wait_for(&mut wall, Duration::from_secs(20), |m| m["type"] == "seat").await;
        states.push((m["seat"]["extension"].as_str().unwrap().into(), m["seat"]["state"].as_str().unwrap().into()));
    }
    let of = |ext: &str| states.iter().filter(|(e, _)| e == ext).map(|(_, s)| s.as_str()).collect::<Vec<_>>();
    assert_eq!(of("8001"), ["ringing", "on_call", "wrap_up"], "{states:?}");
    assert_eq!(of("8002"), ["ringing", "on_call", "wrap_up"], "{states:?}");
    drop(kamailio);
    server.stop().await;
}

both_backends!(
    sip_calls_pop_screens_and_become_records_missed_calls_and_statistics,
    a_call_transferred_with_refer_goes_on_at_the_target_and_pops_there,
);
