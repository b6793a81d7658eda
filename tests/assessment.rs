//! 考评 over HTTP, on SQLite and PostgreSQL: a month of tickets driven through acceptance
//! (one late), replies (one late), callbacks, a valid and a rejected return, a pass-down, a
//! reopen and an exclusion (核减); every figure of the ranking is checked against a hand count.

mod common;

use common::{street_office_and_community, two_bureaus, Backend, TestClock, TestServer, User};
use hotline::config::Config;
use hotline::domain::assessment::{month_period, to_csv, Weights};
use reqwest::StatusCode;
use serde_json::{json, Value};

both_backends!(month_of_tickets_is_assessed_as_counted_by_hand);

const SATISFIED: &str = "satisfied";
const BASICALLY: &str = "basically_satisfied";
const DISSATISFIED: &str = "dissatisfied";

async fn callback(operator: &User<'_>, id: &str, solved: &str, satisfaction: &str) -> Value {
    operator.act(id, "callback", json!({"reached": true, "solved": solved, "satisfaction": satisfaction})).await
}

async fn reply(dept: &User<'_>, id: &str) {
    dept.act(id, "reply", json!({"outcome": "solved", "text": "已处理"})).await;
}

fn row<'a>(ranking: &'a Value, code: &str) -> &'a Value {
    ranking["departments"]
        .as_array()
        .unwrap()
        .iter()
        .find(|r| r["department"] == code)
        .unwrap_or_else(|| panic!("no row for {code}"))
}

fn rate(value: &Value, expected: Option<f64>, what: &str) {
    match expected {
        None => assert!(value.is_null(), "{what}: expected none, got {value}"),
        Some(e) => {
            let got = value.as_f64().unwrap_or_else(|| panic!("{what}: expected {e}, got {value}"));
            assert!((got - e).abs() < 1e-9, "{what}: expected {e}, got {got}");
        }
    }
}

#[allow(clippy::too_many_arguments)]
fn check_rates(
    r: &Value,
    response: Option<f64>,
    on_time_reply: Option<f64>,
    resolution: Option<f64>,
    satisfaction: Option<f64>,
    returns: Option<f64>,
) {
    let code = r["department"].as_str().unwrap();
    rate(&r["rates"]["response"], response, &format!("{code} response"));
    rate(&r["rates"]["on_time_reply"], on_time_reply, &format!("{code} on-time reply"));
    rate(&r["rates"]["resolution"], resolution, &format!("{code} resolution"));
    rate(&r["rates"]["satisfaction"], satisfaction, &format!("{code} satisfaction"));
    rate(&r["rates"]["returns"], returns, &format!("{code} returns"));
}

/// Every count of a row's figures; those not named are 0.
fn figures(named: Value) -> Value {
    let mut all = json!({
        "assigned": 0, "accepted": 0, "accepted_on_time": 0, "accepted_automatically": 0,
        "replies": 0, "replies_on_time": 0, "callbacks_reached": 0,
        "solved": 0, "partly_solved": 0, "unsolved": 0,
        "satisfied": 0, "basically_satisfied": 0, "dissatisfied": 0,
        "returns": 0, "returns_to_parent": 0, "returns_valid": 0, "returns_rejected": 0,
        "reopens": 0, "excluded_tickets": 0,
    });
    for (k, v) in named.as_object().unwrap() {
        assert!(all.get(k).is_some(), "unknown figure {k}");
        all[k] = v.clone();
    }
    all
}

async fn month_of_tickets_is_assessed_as_counted_by_hand(backend: Backend) {
    // Monday 16 November 2026, 09:00 in Beijing: a plain working week.
    let clock = TestClock::at("2026-11-16T09:00:00+08:00");
    let server = TestServer::start_with(backend, clock.clone(), Config::default()).await;
    let (a_code, b_code) = two_bureaus();
    let (s_code, c_code) = street_office_and_community();
    let operator = server.login("operator").await;
    let dispatcher = server.login("dispatcher").await;
    let supervisor = server.login("supervisor").await;
    let a = server.login(&a_code).await;
    let b = server.login(&b_code).await;
    let s = server.login(&s_code).await;
    let c = server.login(&c_code).await;
    let call = |lead: &str| json!({"dispatch": {"lead": lead}});
    let new = |t: Value| t["id"].to_string();

    // ── 09:00: every acceptance but one, on time (the accept limit is 2 working hours). ──
    let t1 = new(operator.log_call(call(&a_code)).await);
    a.act(&t1, "accept", json!(null)).await;
    let t2 = new(operator.log_call(call(&a_code)).await);
    let t3 = new(operator.log_call(call(&b_code)).await);
    b.act(&t3, "accept", json!(null)).await;
    // t4: A returns it, the centre agrees and re-dispatches it to B (a valid return for A).
    let t4 = new(operator.log_call(call(&a_code)).await);
    a.act(&t4, "return", json!({"reason": "不属于本单位职责"})).await;
    dispatcher.act(&t4, "redispatch", json!({"lead": b_code})).await;
    b.act(&t4, "accept", json!(null)).await;
    // t5: B returns it, the centre rejects the return (a rejected return for B).
    let t5 = new(operator.log_call(call(&b_code)).await);
    b.act(&t5, "return", json!({"reason": "不属于本单位职责"})).await;
    dispatcher.act(&t5, "reject-return", json!({"reason": "属本单位职责"})).await;
    b.act(&t5, "accept", json!(null)).await;
    let t6 = new(operator.log_call(call(&a_code)).await);
    a.act(&t6, "accept", json!(null)).await;
    let t7 = new(operator.log_call(call(&b_code)).await);
    b.act(&t7, "accept", json!(null)).await;
    let t8 = new(operator.log_call(call(&a_code)).await);
    a.act(&t8, "accept", json!(null)).await;
    // t9: the street office accepts and passes it down to its community.
    let t9 = new(operator.log_call(call(&s_code)).await);
    s.act(&t9, "accept", json!(null)).await;
    s.act(&t9, "pass-down", json!({"to": c_code})).await;
    c.act(&t9, "accept", json!(null)).await;

    // ── 12:00: A accepts t2 late (due 11:00; automatic acceptance would come at 14:30). ──
    clock.advance_minutes(180);
    let t = a.act(&t2, "accept", json!(null)).await;
    assert_eq!(t["status"], "accepted");

    // ── Replies and callbacks. ──
    reply(&a, &t1).await;
    callback(&operator, &t1, "yes", SATISFIED).await;
    reply(&a, &t2).await;
    callback(&operator, &t2, "partly", BASICALLY).await;
    reply(&b, &t3).await;
    let t = callback(&operator, &t3, "no", DISSATISFIED).await;
    assert_eq!((t["status"].as_str(), t["reopens"].as_i64()), (Some("accepted"), Some(1)), "重办");
    reply(&b, &t3).await;
    callback(&operator, &t3, "yes", SATISFIED).await;
    reply(&b, &t4).await;
    callback(&operator, &t4, "yes", SATISFIED).await;
    reply(&b, &t5).await;
    callback(&operator, &t5, "yes", SATISFIED).await;
    reply(&a, &t6).await;
    let t = callback(&operator, &t6, "no", DISSATISFIED).await;
    assert_eq!(t["reopens"], 1);
    reply(&b, &t7).await;
    operator.act(&t7, "callback", json!({"reached": false, "failure": "no_answer"})).await;
    reply(&c, &t9).await;
    callback(&operator, &t9, "yes", SATISFIED).await;

    // ── 核减: t6 must not count against A. Bad requests store nothing. ──
    let path = "/api/v1/assessment/exclusions";
    let body = |ticket: Value, department: &str, reason: &str| json!({"ticket": ticket, "department": department, "reason": reason});
    let (status, _) = dispatcher.post(path, body(json!(t6), &a_code, "市民诉求不合理")).await;
    assert_eq!(status, StatusCode::FORBIDDEN, "supervisors only");
    for (request, field) in [
        (body(json!(999_999), &a_code, "理由"), "ticket"),
        (body(json!("20261116-999999"), &a_code, "理由"), "ticket"),
        (body(json!(t6), "no-such-unit", "理由"), "department"),
        (body(json!(t6), &b_code, "理由"), "department"),
        (body(json!(t6), &a_code, "   "), "reason"),
    ] {
        let (status, err) = supervisor.post(path, request.clone()).await;
        assert_eq!(status, StatusCode::UNPROCESSABLE_ENTITY, "{request}: {err}");
        assert_eq!(err["field"], field, "{request}: {err}");
    }
    let (status, err) = supervisor.post(path, json!({"ticket": t6, "department": a_code})).await;
    assert_eq!((status, err["field"].as_str()), (StatusCode::BAD_REQUEST, Some("reason")), "{err}");
    let number6 = supervisor.get(&format!("/api/v1/tickets/{t6}")).await.1["number"].as_str().unwrap().to_string();
    let (status, x) = supervisor.post(path, body(json!(number6), &a_code, "  市民诉求不合理 ")).await;
    assert_eq!(status, StatusCode::CREATED, "{x}");
    assert_eq!((x["ticket_id"].to_string(), x["department"].as_str()), (t6.clone(), Some(a_code.as_str())));
    assert_eq!((x["reason"].as_str(), x["by"].as_str()), (Some("市民诉求不合理"), Some("supervisor")));
    let (status, _) = supervisor.post(path, body(json!(t6), &a_code, "再次核减")).await;
    assert_eq!(status, StatusCode::CONFLICT, "once per ticket and department");
    let audit = server.store.system_events("assessment_exclusion_added", 10).await.unwrap();
    assert_eq!(audit.len(), 1, "one audit event, none for the refused requests");
    assert_eq!(audit[0].0, x["id"].as_i64().unwrap(), "the exclusion's id is its event's number");
    assert_eq!(
        (audit[0].2["department"].as_str(), audit[0].2["number"].as_str()),
        (Some(a_code.as_str()), Some(number6.as_str()))
    );

    // ── Wednesday 25 November: A replies to t8 after its deadline (Monday 23rd, 17:30). ──
    clock.advance_minutes(9 * 24 * 60);
    // Sessions do not last nine days.
    let a = server.login(&a_code).await;
    let supervisor = server.login("supervisor").await;
    reply(&a, &t8).await;

    // ── The ranking of November. ──
    let (status, ranking) = supervisor.get("/api/v1/assessment?month=2026-11").await;
    assert_eq!(status, StatusCode::OK, "{ranking}");
    assert_eq!(ranking["from"], "2026-10-31T16:00:00Z");
    assert_eq!(ranking["to"], "2026-11-30T16:00:00Z");
    assert_eq!(ranking["weights"], json!({"response": 30, "resolution": 35, "satisfaction": 35}));
    assert_eq!(ranking["exclusions"].as_array().unwrap().len(), 1);

    // A: assigned t1 t2 t4 t8 (t6 excluded) = 4; accepted t1 t8 on time, t2 late = 3 (t4 was
    // returned unaccepted); replies t1 t2 on time, t8 late = 3; callbacks t1 yes/满意, t2
    // partly/基本满意; 1 return (t4), valid. Response 2/3, on time 2/3, resolution
    // (1 + ½)/2 = 0.75, satisfaction 2/2, returns 1/4.
    // Score 30·⅔ + 35·0.75 + 35·1 = 20 + 26.25 + 35 = 81.25.
    let ra = row(&ranking, &a_code);
    let expected_a = figures(json!({
        "assigned": 4, "accepted": 3, "accepted_on_time": 2, "replies": 3, "replies_on_time": 2,
        "callbacks_reached": 2, "solved": 1, "partly_solved": 1, "satisfied": 1, "basically_satisfied": 1,
        "returns": 1, "returns_valid": 1, "excluded_tickets": 1,
    }));
    assert_eq!(ra["total"], expected_a, "A total");
    assert_eq!(ra["own"], expected_a, "A has no sub-unit activity");
    check_rates(ra, Some(2.0 / 3.0), Some(2.0 / 3.0), Some(0.75), Some(1.0), Some(0.25));
    assert_eq!(ra["score"], 81.25);

    // B: assigned t3 t4 (re-dispatch) t5 t7 = 4, all accepted on time; replies t3 twice, t4,
    // t5, t7 = 5 on time; callbacks reached t3 no/不满意, t3 yes/满意, t4 yes/满意, t5 yes/满意
    // (t7's unanswered call does not count); 1 return (t5), rejected; 1 reopen (t3).
    // Score 30·1 + 35·0.75 + 35·0.75 = 82.5.
    let rb = row(&ranking, &b_code);
    let expected_b = figures(json!({
        "assigned": 4, "accepted": 4, "accepted_on_time": 4, "replies": 5, "replies_on_time": 5,
        "callbacks_reached": 4, "solved": 3, "unsolved": 1, "satisfied": 3, "dissatisfied": 1,
        "returns": 1, "returns_rejected": 1, "reopens": 1,
    }));
    assert_eq!(rb["total"], expected_b, "B total");
    check_rates(rb, Some(1.0), Some(1.0), Some(0.75), Some(0.75), Some(0.25));
    assert_eq!(rb["score"], 82.5);

    // The community: the pass-down, its acceptance, reply and callback: 100.
    let rc = row(&ranking, &c_code);
    let expected_c = figures(json!({
        "assigned": 1, "accepted": 1, "accepted_on_time": 1, "replies": 1, "replies_on_time": 1,
        "callbacks_reached": 1, "solved": 1, "satisfied": 1,
    }));
    assert_eq!(rc["total"], expected_c);
    assert_eq!(
        (rc["score"].as_f64(), rc["rank"].as_i64(), rc["parent"].as_str()),
        (Some(100.0), Some(1), Some(s_code.as_str()))
    );
    // The street office: its own dispatch and acceptance; rolled up with the community's
    // work, but the pass-down is not a second assignment.
    let rs = row(&ranking, &s_code);
    assert_eq!(rs["own"], figures(json!({"assigned": 1, "accepted": 1, "accepted_on_time": 1})));
    let expected_s = figures(json!({
        "assigned": 1, "accepted": 2, "accepted_on_time": 2, "replies": 1, "replies_on_time": 1,
        "callbacks_reached": 1, "solved": 1, "satisfied": 1,
    }));
    assert_eq!(rs["total"], expected_s);
    check_rates(rs, Some(1.0), Some(1.0), Some(1.0), Some(1.0), Some(0.0));
    assert_eq!(rs["score"], 100.0);

    // Among the top-level units: the street office 100, B 82.5, A 81.25; nobody else had work.
    let top: Vec<(&str, i64)> = ranking["departments"]
        .as_array()
        .unwrap()
        .iter()
        .filter(|r| r["level"] == 0 && !r["rank"].is_null())
        .map(|r| (r["department"].as_str().unwrap(), r["rank"].as_i64().unwrap()))
        .collect();
    assert_eq!(top, vec![(s_code.as_str(), 1), (b_code.as_str(), 2), (a_code.as_str(), 3)]);
    let idle = ranking["departments"].as_array().unwrap().iter().find(|r| r["total"]["assigned"] == 0).unwrap();
    assert!(idle["score"].is_null() && idle["rank"].is_null() && idle["rates"]["satisfaction"].is_null());

    // The same ranking as CSV, with the month's figures.
    let (status, csv) = supervisor.get("/api/v1/assessment.csv?month=2026-11").await;
    assert_eq!(status, StatusCode::OK);
    let csv = csv.as_str().unwrap();
    assert!(csv.starts_with("\u{feff}排名(rank),单位代码(department),"), "{csv}");
    let line = |code: &str| csv.lines().find(|l| l.split(',').nth(1) == Some(code)).unwrap().to_string();
    let la = line(&a_code);
    assert!(la.starts_with(&format!("3,{a_code},")), "{la}");
    assert!(la.ends_with(",4,3,2,0,66.67,3,2,66.67,2,1,1,0,75.00,1,1,0,100.00,1,1,0,0,25.00,0,1,81.25"), "{la}");
    assert!(line(&b_code).ends_with(",82.50"));

    // Other months had nothing: every rate none, nobody ranked.
    for month in ["2026-10", "2026-12"] {
        let (_, other) = supervisor.get(&format!("/api/v1/assessment?month={month}")).await;
        let rows = other["departments"].as_array().unwrap();
        assert!(!rows.is_empty());
        assert!(rows.iter().all(|r| r["score"].is_null() && r["total"] == figures(json!({}))), "{month}");
    }

    // Bad months name the parameter; departments may not read the ranking.
    for path in ["/api/v1/assessment?month=2026-13", "/api/v1/assessment", "/api/v1/assessment.csv?month=11-2026"] {
        let (status, err) = supervisor.get(path).await;
        assert_eq!((status, err["field"].as_str()), (StatusCode::BAD_REQUEST, Some("month")), "{path}: {err}");
    }
    let (status, _) = a.get("/api/v1/assessment?month=2026-11").await;
    assert_eq!(status, StatusCode::FORBIDDEN);

    // What `hotline report --month 2026-11` prints (`hotline::report::monthly_report`): the
    // same table, computed the same way, without the byte-order mark.
    let catalog = server.state.catalog();
    let (from, to) = month_period("2026-11").unwrap();
    assert_eq!(
        (from.to_rfc3339(), to.to_rfc3339()),
        ("2026-10-31T16:00:00+00:00".into(), "2026-11-30T16:00:00+00:00".into())
    );
    let again = server.store.assessment(&catalog.district, (from, to), &Weights::default()).await.unwrap();
    assert_eq!(format!("\u{feff}{}", to_csv(&again.departments, &catalog.district)), csv);

    // ── A log written before replies recorded their verdict (`late`) is judged from each
    // ticket's history and the reply clock in force: the same table. ──
    let mut raw = <sqlx::AnyConnection as sqlx::Connection>::connect(&server.state.config.database_url).await.unwrap();
    sqlx::query(
        "UPDATE events SET data = replace(replace(data, ',\"late\":false}', '}'), ',\"late\":true}', '}') \
         WHERE type = 'replied'",
    )
    .execute(&mut raw)
    .await
    .unwrap();
    let with_verdict: i64 =
        sqlx::query_scalar("SELECT COUNT(*) FROM events WHERE type = 'replied' AND data LIKE '%\"late\"%'")
            .fetch_one(&mut raw)
            .await
            .unwrap();
    assert_eq!(with_verdict, 0, "every reply is as an older server wrote it");
    sqlx::query("UPDATE counters SET value = 1000000000 WHERE name = 'assessment_facts_from'")
        .execute(&mut raw)
        .await
        .unwrap();
    let judged_from_history =
        server.store.assessment(&catalog.district, (from, to), &Weights::default()).await.unwrap();
    assert_eq!(judged_from_history.departments, again.departments);
    assert!(again.departments.iter().any(|d| d.total.replies > d.total.replies_on_time), "a late reply is judged");

    // ── 撤销核减: the exclusion is listed, withdrawn with a reason, and t6 counts again. ──
    let (status, listed) = supervisor.get("/api/v1/assessment/exclusions?month=2026-11").await;
    assert_eq!(status, StatusCode::OK, "{listed}");
    assert_eq!(listed.as_array().unwrap().len(), 1);
    let withdraw = format!("/api/v1/assessment/exclusions/{}/withdraw", x["id"]);
    let (status, err) = supervisor.post(&withdraw, json!({"reason": " "})).await;
    assert_eq!((status, err["field"].as_str()), (StatusCode::UNPROCESSABLE_ENTITY, Some("reason")), "{err}");
    let (status, _) =
        supervisor.post("/api/v1/assessment/exclusions/999999/withdraw", json!({"reason": "误核减"})).await;
    assert_eq!(status, StatusCode::NOT_FOUND);
    let (status, _) = a.post(&withdraw, json!({"reason": "误核减"})).await;
    assert_eq!(status, StatusCode::FORBIDDEN, "supervisors only");
    assert_eq!(
        supervisor.get("/api/v1/assessment/exclusions").await.1.as_array().unwrap().len(),
        1,
        "refusals change nothing"
    );
    let (status, withdrawn) = supervisor.post(&withdraw, json!({"reason": "复核后认定属承办单位职责"})).await;
    assert_eq!(status, StatusCode::OK, "{withdrawn}");
    assert_eq!(withdrawn["ticket_id"].to_string(), t6);
    let (status, _) = supervisor.post(&withdraw, json!({"reason": "again"})).await;
    assert_eq!(status, StatusCode::NOT_FOUND, "withdrawn once");
    assert!(supervisor.get("/api/v1/assessment/exclusions").await.1.as_array().unwrap().is_empty());
    let audit = server.store.system_events("assessment_exclusion_withdrawn", 10).await.unwrap();
    assert_eq!(audit.len(), 1);
    assert_eq!(audit[0].2["reason"], "复核后认定属承办单位职责");
    let (_, ranking) = supervisor.get("/api/v1/assessment?month=2026-11").await;
    assert_eq!(row(&ranking, &a_code)["total"]["assigned"], 5, "t6 counts against A again");
    server.stop().await;
}
