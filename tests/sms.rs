//! 短信 through a real gateway: Kannel (bearerbox + smsbox) with its fake SMSC on loopback.
//! A receipt reaches the resident's phone with the right text; a rating typed on the phone
//! closes the callback; a gateway outage and restart lose nothing and send nothing twice;
//! TD is honoured; forged callbacks are refused. On SQLite and PostgreSQL.

mod common;

use std::time::{Duration, Instant};

use common::kannel::{self, Kannel};
use common::{catalog, two_bureaus, Backend, TestClock, TestServer};
use hotline::config::Config;
use serde_json::{json, Value};

both_backends!(
    texts_go_through_kannel_and_replies_come_back,
    gateway_outage_and_bad_callbacks,
    at_night_only_urgent_alerts_go_and_a_number_gets_its_daily_limit,
);

/// Monday 10:00 in Beijing: outside the quiet hours.
const MORNING: &str = "2026-11-23T10:00:00+08:00";
/// Monday 22:30 in Beijing: inside the quiet hours (21:00-08:00 by default).
const NIGHT: &str = "2026-11-23T22:30:00+08:00";

async fn start(backend: Backend) -> (TestServer, Kannel) {
    start_at(backend, MORNING, Config::default()).await
}

/// A server whose clock reads `at`, with `config`'s SMS rules, texting through a real Kannel
/// whose delivery reports come back to the server.
async fn start_at(backend: Backend, at: &str, config: Config) -> (TestServer, Kannel) {
    kannel::require_programs();
    let ports = Kannel::ports();
    let config = Config {
        sms_gateway_url: Some(Kannel::sendsms_url(&ports)),
        sms_gateway_user: kannel::USER.into(),
        sms_gateway_password: kannel::PASSWORD.into(),
        sms_callback_token: Some(kannel::TOKEN.into()),
        ..config
    };
    let server = TestServer::start_with(backend, TestClock::at(at), config).await;
    // Blocking waits for the boxes' ports: off the runtime's workers, which serve the server.
    let gateway = tokio::task::block_in_place(|| Kannel::start(ports, &server.base));
    (server, gateway)
}

/// Waits (30 s at most) until the condition, an expression that may `.await`, holds.
macro_rules! wait_until {
    ($what:expr, $condition:expr) => {{
        let deadline = Instant::now() + Duration::from_secs(30);
        loop {
            let holds: bool = $condition;
            if holds {
                break;
            }
            assert!(Instant::now() < deadline, "timed out waiting for {}", $what);
            tokio::time::sleep(Duration::from_millis(100)).await;
        }
    }};
}

async fn gateway_get(server: &TestServer, path: &str) -> (u16, Value) {
    let response = server.client.get(format!("{}{path}", server.base)).send().await.unwrap();
    let status = response.status().as_u16();
    (status, response.json().await.unwrap_or(Value::Null))
}

fn query(value: &str) -> String {
    percent_encoding::utf8_percent_encode(value, percent_encoding::NON_ALPHANUMERIC).to_string()
}

async fn texts_go_through_kannel_and_replies_come_back(backend: Backend) {
    let (server, gateway) = start(backend).await;
    let (lead, _) = two_bureaus();
    let operator = server.login("operator").await;
    let phone = "13812340001";

    // 受理: the receipt reaches the resident's phone, in Chinese, joined from its parts.
    let t = operator.log_call(json!({"caller_phone": phone, "dispatch": {"lead": lead}})).await;
    let number = t["number"].as_str().unwrap().to_string();
    let texts = gateway.wait_for_texts(phone, 1).await;
    let receipt = &texts[0];
    assert_eq!(receipt.from, "12345");
    assert!(receipt.text.starts_with("【海川12345】您的诉求已受理"), "{}", receipt.text);
    assert!(receipt.text.contains(&number), "{}", receipt.text);
    assert!(receipt.text.contains("http://127.0.0.1:8080/track") && receipt.text.contains("后4位"), "{}", receipt.text);
    // The phone got it: Kannel calls the dlr-url the server gave with the text, and the
    // receipt's state becomes delivered.
    let receipt_id = server.store.ticket_texts(t["id"].as_i64().unwrap()).await.unwrap()[0].id;
    wait_until!("the delivery report through Kannel", {
        let record = server.store.text_by_id(receipt_id).await.unwrap().unwrap();
        record.delivery.as_deref() == Some("delivered")
    });

    // A resident who declined contact gets nothing; a landline cannot be texted.
    operator.log_call(json!({"caller_phone": "13812340009", "callback_consent": false})).await;
    operator.log_call(json!({"caller_phone": "010-83860015"})).await;

    // The department replies: the resident is told the outcome.
    let id = t["id"].to_string();
    let dept = server.login(&lead).await;
    dept.act(&id, "accept", json!(null)).await;
    dept.act(&id, "reply", json!({"outcome": "solved", "text": "已安排环卫人员清运完毕"})).await;
    let texts = gateway.wait_for_texts(phone, 2).await;
    assert!(texts[1].text.contains("已解决") && texts[1].text.contains("已安排环卫人员清运完毕"), "{}", texts[1].text);

    // The callback call is not answered: the 回访 text goes, and the resident answers "1".
    operator.act(&id, "callback", json!({"reached": false, "failure": "no_answer"})).await;
    let texts = gateway.wait_for_texts(phone, 3).await;
    assert!(texts[2].text.contains("1 满意 2 基本满意 3 不满意"), "{}", texts[2].text);
    gateway.resident_sends(phone, "1").await;
    let path = format!("/api/v1/tickets/{id}");
    wait_until!("the rating to close the ticket", {
        let (_, ticket) = operator.get(&path).await;
        ticket["status"] == "closed"
    });
    let (_, ticket) = operator.get(&path).await;
    assert_eq!(ticket["last_callback"]["satisfaction"], "satisfied", "{ticket}");

    // Any other words are kept in the ticket's history for the operator.
    gateway.resident_sends(phone, "谢谢，处理得很快").await;
    let events_path = format!("/api/v1/tickets/{id}/events");
    wait_until!("the resident's words in the history", {
        let (_, events) = operator.get(&events_path).await;
        events.to_string().contains("谢谢，处理得很快")
    });

    // 退订: TD stops the texts to that number; a new request from it gets no receipt.
    gateway.resident_sends(phone, "TD").await;
    wait_until!("the opt-out", { server.store.is_opted_out(phone).await.unwrap() });
    let later = operator.log_call(json!({"caller_phone": phone})).await;
    let later_id = later["id"].as_i64().unwrap();
    wait_until!("the suppressed receipt", {
        server.store.ticket_texts(later_id).await.unwrap().iter().any(|t| t.failed_at.is_some())
    });
    let records = server.store.ticket_texts(later_id).await.unwrap();
    let record = &records[0];
    assert!(record.last_error.as_deref().unwrap().contains("退订"), "{record:?}");
    assert_eq!(gateway.received().iter().filter(|r| r.to == phone).count(), 3, "nothing after TD");
    // ... and admins see why it did not go.
    let admin = server.login("admin").await;
    let (status, outbox) = admin.get("/api/v1/admin/sms").await;
    assert_eq!(status, 200);
    assert!(outbox["failures"].to_string().contains("退订"), "{outbox}");
    assert!(outbox["failures"].to_string().contains("138****0001"), "numbers are masked: {outbox}");
    assert!(outbox["delivered"].as_i64().unwrap() >= 1, "delivery reports counted: {outbox}");

    // A rating from a number never sent a 回访 text is for a person, not a guess.
    let (status, answer) =
        gateway_get(&server, &format!("/api/v1/sms/kannel/mo?token={}&from=13700137000&text=1&id=x1", kannel::TOKEN))
            .await;
    assert_eq!((status, answer["state"].as_str()), (200, Some("queued")), "{answer}");
    let (_, inbox) = operator.get("/api/v1/sms/inbox").await;
    assert!(inbox["queued"].to_string().contains("13700137000"), "{inbox}");
    // The operator deals with it; it leaves the queue.
    let reply_id = inbox["queued"][0]["id"].as_i64().unwrap();
    let (status, inbox) = operator.post(&format!("/api/v1/sms/inbox/{reply_id}/handled"), json!(null)).await;
    assert_eq!(status, 200, "{inbox}");
    assert_eq!(inbox["queued"].as_array().unwrap().len(), 0, "{inbox}");
    // The gateway delivering the same message again changes nothing.
    let (_, again) =
        gateway_get(&server, &format!("/api/v1/sms/kannel/mo?token={}&from=13700137000&text=1&id=x1", kannel::TOKEN))
            .await;
    assert_eq!(again["state"], "duplicate");
    // Exactly the texts expected reached the network: nothing twice.
    let all = gateway.received();
    assert_eq!(all.iter().filter(|r| r.to == "13812340009").count(), 0);
    assert_eq!(all.len(), 3, "{all:?}");
    drop(gateway);
    server.stop().await;
}

async fn gateway_outage_and_bad_callbacks(backend: Backend) {
    let (server, mut gateway) = start(backend).await;
    let operator = server.login("operator").await;

    // Forged callbacks: no token or a wrong one is 401 and changes nothing.
    for token in ["", "token=wrong-token-0123456789&"] {
        let (status, body) =
            gateway_get(&server, &format!("/api/v1/sms/kannel/mo?{token}from=13812340002&text=TD")).await;
        assert_eq!(status, 401, "{body}");
        let (status, _) = gateway_get(&server, &format!("/api/v1/sms/kannel/dlr?{token}id=1&type=1")).await;
        assert_eq!(status, 401);
    }
    assert!(!server.store.is_opted_out("13812340002").await.unwrap());
    // Bad input names its field.
    let t = kannel::TOKEN;
    let (status, body) = gateway_get(&server, &format!("/api/v1/sms/kannel/mo?token={t}&text=1")).await;
    assert_eq!((status, body["field"].as_str()), (400, Some("from")), "{body}");
    let (status, body) = gateway_get(&server, &format!("/api/v1/sms/kannel/dlr?token={t}&id=1&type=3")).await;
    assert_eq!((status, body["field"].as_str()), (400, Some("type")), "{body}");
    let (status, _) = gateway_get(&server, &format!("/api/v1/sms/kannel/dlr?token={t}&id=999999&type=1")).await;
    assert_eq!(status, 404);
    // A huge reply is kept, cut, and said so.
    let huge = "长".repeat(5000);
    let (status, body) =
        gateway_get(&server, &format!("/api/v1/sms/kannel/mo?token={t}&from=13812340003&text={}", query(&huge))).await;
    assert_eq!((status, body["state"].as_str()), (200, Some("queued")), "{body}");
    let kept = server.store.inbound_texts("13812340003").await.unwrap();
    assert_eq!(kept[0].body.chars().count(), 1000);

    // The gateway goes down; two requests are taken meanwhile. Their receipts wait.
    tokio::task::block_in_place(|| gateway.stop());
    let phones = ["13812340002", "13812340004"];
    let mut ids = Vec::new();
    for phone in phones {
        ids.push(operator.log_call(json!({"caller_phone": phone})).await["id"].as_i64().unwrap());
    }
    wait_until!("a failed try of the queued receipts", {
        let texts = server.store.ticket_texts(ids[0]).await.unwrap();
        texts.first().is_some_and(|t| t.attempts >= 1 && t.sent_at.is_none())
    });
    let counts = server.store.sms_outbox_counts().await.unwrap();
    assert_eq!((counts.pending, counts.failed), (2, 0), "an outage delays texts, never fails them");

    // Back up: the retry (30 s later) sends each exactly once.
    tokio::task::block_in_place(|| gateway.restart());
    server.clock.advance_minutes(1);
    for phone in phones {
        let texts = gateway.wait_for_texts(phone, 1).await;
        assert_eq!(texts.len(), 1);
    }
    wait_until!("the outbox to empty", { server.store.sms_outbox_counts().await.unwrap().pending == 0 });
    tokio::time::sleep(Duration::from_secs(1)).await;
    for phone in phones {
        assert_eq!(gateway.received().iter().filter(|r| r.to == phone).count(), 1, "sent once");
    }

    // Delivery reports: a repeated one is harmless, and delivered stays delivered.
    let text_id = server.store.ticket_texts(ids[0]).await.unwrap()[0].id;
    for kind in [1, 1, 4] {
        let (status, body) =
            gateway_get(&server, &format!("/api/v1/sms/kannel/dlr?token={t}&id={text_id}&type={kind}")).await;
        assert_eq!(status, 200, "{body}");
    }
    let record = server.store.text_by_id(text_id).await.unwrap().unwrap();
    assert_eq!(record.delivery.as_deref(), Some("delivered"));
    drop(gateway);
    server.stop().await;
}

/// The receipts of `tickets`, as the outbox holds them.
async fn receipts(server: &TestServer, tickets: &[i64]) -> Vec<hotline::store::sms::TextRecord> {
    let mut out = Vec::new();
    for id in tickets {
        out.extend(server.store.ticket_texts(*id).await.unwrap().into_iter().filter(|t| t.kind == "receipt"));
    }
    out
}

/// Moves the server's clock on to `at` (from where it runs on).
fn advance_to(server: &TestServer, at: &str) {
    server.clock.advance_millis((instant(at) - server.clock.now()).num_milliseconds().max(0));
}

fn instant(at: &str) -> chrono::DateTime<chrono::Utc> {
    chrono::DateTime::parse_from_rfc3339(at).unwrap().with_timezone(&chrono::Utc)
}

async fn at_night_only_urgent_alerts_go_and_a_number_gets_its_daily_limit(backend: Backend) {
    let config = Config { sms_daily_limit: 2, ..Config::default() };
    let (server, gateway) = start_at(backend, NIGHT, config).await;
    let (lead, _) = two_bureaus();
    let contact = catalog().district.department(&lead).unwrap().liaison_mobile.clone();
    let operator = server.login("operator").await;
    let resident = "13812340021";
    let tuesday = instant("2026-11-24T08:00:00+08:00");
    let wednesday = instant("2026-11-25T08:00:00+08:00");

    // 22:30: an urgent call, dispatched. The department's contact (联络员) is alerted at once,
    // without the caller's name or number; the resident's receipt waits for the morning.
    let urgent = operator
        .log_call(json!({"caller_phone": resident, "urgency": "urgent", "dispatch": {"lead": lead},
            "content": "小区门口燃气管道漏气，味道很大"}))
        .await;
    let urgent_id = urgent["id"].as_i64().unwrap();
    let number = urgent["number"].as_str().unwrap().to_string();
    let alert = &gateway.wait_for_texts(&contact, 1).await[0];
    assert!(alert.text.starts_with("【海川12345】【紧急】") && alert.text.contains(&number), "{}", alert.text);
    assert!(alert.text.contains("燃气管道漏气") && !alert.text.contains(resident) && !alert.text.contains("王小明"));
    // Two more calls from the same number that night: three receipts wait for 08:00.
    let mut tickets = vec![urgent_id];
    for _ in 0..2 {
        tickets.push(operator.log_call(json!({"caller_phone": resident})).await["id"].as_i64().unwrap());
    }
    let queued = receipts(&server, &tickets).await;
    assert_eq!(queued.len(), 3, "{queued:?}");
    for r in queued {
        assert_eq!((r.next_attempt_at, r.sent_at), (tuesday, None), "{r:?}");
    }

    // 22:46: nobody has accepted the urgent ticket past the warning point of its 30 minutes.
    // The accept reminder is a duty text, but not an urgent one: it waits for the morning too.
    server.clock.advance_minutes(16);
    server.fire_timers().await;
    let reminder = server
        .store
        .ticket_texts(urgent_id)
        .await
        .unwrap()
        .into_iter()
        .find(|t| t.kind == "accept_reminder")
        .expect("the accept reminder queued");
    assert_eq!((reminder.recipient.as_str(), reminder.next_attempt_at), (contact.as_str(), tuesday));
    tokio::time::sleep(Duration::from_secs(1)).await;
    let received = gateway.received();
    assert_eq!(received.iter().filter(|r| r.to == resident).count(), 0, "nothing to the resident at night");
    assert_eq!(received.iter().filter(|r| r.to == contact).count(), 1, "only the alert at night");

    // 08:00 Tuesday: the night's texts go. The contact gets the reminder; the resident two of
    // the three receipts (the daily limit is 2), the third waits for Wednesday morning.
    advance_to(&server, "2026-11-24T08:00:00+08:00");
    let to_contact = gateway.wait_for_texts(&contact, 2).await;
    assert!(to_contact[1].text.contains("待签收") && to_contact[1].text.contains(&number), "{}", to_contact[1].text);
    gateway.wait_for_texts(resident, 2).await;
    wait_until!("the third receipt held for Wednesday", {
        let receipts = receipts(&server, &tickets).await;
        receipts.iter().filter(|r| r.sent_at.is_some()).count() == 2
            && receipts.iter().any(|r| r.sent_at.is_none() && r.next_attempt_at == wednesday)
    });
    let held = receipts(&server, &tickets).await.into_iter().find(|r| r.sent_at.is_none()).unwrap();
    assert_eq!(held.attempts, 0, "held back is not a try: {held:?}");
    tokio::time::sleep(Duration::from_secs(1)).await;
    assert_eq!(gateway.received().iter().filter(|r| r.to == resident).count(), 2, "the limit holds");

    // Wednesday 08:00: a new day, the last receipt goes; each went once.
    advance_to(&server, "2026-11-25T08:00:00+08:00");
    let texts = gateway.wait_for_texts(resident, 3).await;
    assert_eq!(texts.len(), 3, "{texts:?}");
    let held_ticket = server.store.ticket(held.ticket_id.unwrap()).await.unwrap().unwrap();
    assert!(texts[2].text.contains(&held_ticket.number), "{}", texts[2].text);
    for id in &tickets {
        let number = server.store.ticket(*id).await.unwrap().unwrap().number;
        assert_eq!(texts.iter().filter(|t| t.text.contains(&number)).count(), 1, "{number} once: {texts:?}");
    }
    drop(gateway);
    server.stop().await;
}
