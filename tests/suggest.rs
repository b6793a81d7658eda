//! Intake assistance (智能辅助填单) as operators, supervisors and the scheduler use it, on
//! SQLite and PostgreSQL: suggestions while typing, bad input, training once across
//! instances and on demand, the version that answered, taken and overridden suggestions and
//! the wall's weekly accuracy.

mod common;

use common::{Backend, TestClock, TestServer};
use hotline::config::Config;
use hotline::jobs::schedule::{jobs, run_once};
use reqwest::StatusCode;
use serde_json::{json, Value};

fn codes(answer: &Value) -> Vec<String> {
    answer["categories"].as_array().unwrap().iter().map(|c| c["code"].as_str().unwrap().to_string()).collect()
}

async fn suggestion_count(server: &TestServer) -> (i64, Option<i64>, i64) {
    let tickets = server.store.suggest_examples(0, 1000).await.unwrap().len() as i64;
    (
        server.store.suggestion_outcome_count().await.unwrap(),
        server.store.latest_suggest_version().await.unwrap(),
        tickets,
    )
}

async fn operator_types_a_call_and_sees_category_place_and_version(backend: Backend) {
    let server = TestServer::start(backend).await;
    let operator = server.login("operator").await;
    let (status, a) = operator
        .post(
            "/api/v1/tickets/suggest",
            json!({"content": "喂，你好，我们楼下的路灯坏了好几天了，晚上黑灯瞎火的", "address": "文昌苑3号楼"}),
        )
        .await;
    assert_eq!(status, StatusCode::OK, "{a}");
    assert_eq!(codes(&a)[0], "01.02.03", "{a}");
    let first = &a["categories"][0];
    assert_eq!(first["name"], "路灯故障");
    assert_eq!(first["path"], "城乡建设/市政设施/路灯故障");
    assert!(first["why"].as_array().unwrap().iter().any(|w| w == "路灯"), "{a}");
    assert!(first["score"].as_f64().unwrap() > 0.0 && first["score"].as_f64().unwrap() <= 1.0);
    assert!(codes(&a).len() <= 5);
    assert_eq!((a["street"].as_str(), a["community"].as_str()), (Some("xinhua"), Some("xinhua-02")));
    assert_eq!(a["model_version"], 0, "no training yet: the category words alone");
    assert_eq!(a["urgency"], Value::Null);
    assert_eq!(a["notice"], Value::Null);

    // The place from what callers say, by an alias; urgency from the rules in force.
    let (_, a) = operator
        .post("/api/v1/tickets/suggest", json!({"content": "火车站旁边那个楼道里煤气味特别大，好像燃气泄漏了"}))
        .await;
    assert_eq!(codes(&a)[0], "03.03.01", "{a}");
    assert_eq!(a["street"], "dongguan");
    assert_eq!(a["urgency"], "urgent", "{a}");
    assert!(a["urgency_why"][0].as_str().unwrap().contains("燃气"), "{a}");

    // Departments do not log calls.
    let department = server.login("cgw").await;
    let (status, e) = department.post("/api/v1/tickets/suggest", json!({"content": "路灯不亮"})).await;
    assert_eq!(status, StatusCode::FORBIDDEN, "{e}");
    assert_eq!(suggestion_count(&server).await, (0, None, 0), "a suggestion stores nothing");
    server.stop().await;
}

async fn bad_input_gets_an_empty_answer_and_stores_nothing(backend: Backend) {
    let server = TestServer::start(backend).await;
    let operator = server.login("operator").await;
    let huge = "路灯不亮".repeat(1500);
    for (content, notice) in [
        ("", "empty"),
        ("   ", "empty"),
        (huge.as_str(), "too_long"),
        ("？？？！！！……。。。", "no_chinese"),
        ("The street light outside my house is broken", "no_chinese"),
        ("Улица тёмная ☆ 12345 @@", "no_chinese"),
        ("嗯嗯啊啊你好你好", "no_known_words"),
    ] {
        let (status, a) =
            operator.post("/api/v1/tickets/suggest", json!({"content": content, "address": "文昌苑"})).await;
        assert_eq!(status, StatusCode::OK, "{content:.20}: {a}");
        assert_eq!(codes(&a), Vec::<String>::new(), "{content:.20}: {a}");
        assert_eq!(a["notice"], notice, "{content:.20}: {a}");
        assert!(a["notice_label"].as_str().is_some_and(|l| !l.is_empty()));
        assert_eq!(a["urgency"], Value::Null);
    }
    // Mixed scripts with Chinese in them are a call like any other.
    let (_, a) =
        operator.post("/api/v1/tickets/suggest", json!({"content": "家里WiFi宽带老是断网, network down"})).await;
    assert_eq!(codes(&a)[0], "03.04.02", "{a}");
    // A malformed body is the usual 400 naming the field.
    let (status, e) = operator.post("/api/v1/tickets/suggest", json!({"content": 5})).await;
    assert_eq!(status, StatusCode::BAD_REQUEST, "{e}");
    assert_eq!(e["field"], "content");
    let (status, e) = operator.post("/api/v1/tickets/suggest", json!({"content": "路灯", "colour": "red"})).await;
    assert_eq!(status, StatusCode::BAD_REQUEST, "{e}");
    assert_eq!(suggestion_count(&server).await, (0, None, 0));
    server.stop().await;
}

async fn training_learns_the_centres_tickets_once_across_instances(backend: Backend) {
    let clock = TestClock::at("2026-12-02T10:00:00+08:00");
    let server = TestServer::start_with(backend, clock.clone(), Config::default()).await;
    let operator = server.login("operator").await;
    // 蝙蝠 is no word of categories.toml, nor are its characters in one: only the centre's own
    // tickets can teach it.
    let (_, before) = operator.post("/api/v1/tickets/suggest", json!({"content": "蝙蝠"})).await;
    assert!(!codes(&before).contains(&"08.02.02".to_string()), "{before}");
    for content in ["阳台上飞进来好几只蝙蝠", "楼道顶上挂着蝙蝠，晚上到处乱飞", "家里进了蝙蝠，孩子吓坏了"]
    {
        operator.log_call(json!({"category": "08.02.02", "content": content, "kind": "help"})).await;
    }
    operator.log_call(json!({"category": "01.02.03", "content": "路灯不亮"})).await;

    // The scheduled run, claimed twice at once (two instances): one trains, the other finds it taken.
    let train = jobs(&server.state.config).unwrap().into_iter().find(|j| j.name == "suggest_train").unwrap();
    let at = train.next_after(server.store.now()).unwrap();
    let (a, b) = tokio::join!(run_once(&server.state, &train, at), run_once(&server.state, &train, at));
    let outcomes: Vec<String> = [a.unwrap(), b.unwrap()].into_iter().flatten().collect();
    assert_eq!(outcomes.len(), 1, "{outcomes:?}");
    assert!(outcomes[0].contains("model version 1 learned from 4 tickets"), "{outcomes:?}");
    assert_eq!(server.store.latest_suggest_version().await.unwrap(), Some(1));

    let (_, after) = operator.post("/api/v1/tickets/suggest", json!({"content": "蝙蝠"})).await;
    assert_eq!(after["model_version"], 1, "{after}");
    assert_eq!(codes(&after)[0], "08.02.02", "{after}");
    assert!(after["categories"][0]["why"].as_array().unwrap().iter().any(|w| w == "蝙蝠"), "{after}");

    // Another instance on the same database answers with the same version.
    let url = server.state.config.database_url.clone();
    let second = TestServer::start_on(backend, url.clone(), None, clock.clone(), Config::default(), false).await;
    let (_, other) = second.login("operator").await.post("/api/v1/tickets/suggest", json!({"content": "蝙蝠"})).await;
    assert_eq!(other["model_version"], 1, "{other}");
    assert_eq!(codes(&other)[0], "08.02.02");
    second.stop().await;

    // On demand, from the command line: the next version.
    let out = std::process::Command::new(env!("CARGO_BIN_EXE_hotline"))
        .args(["suggest", "train"])
        .current_dir(env!("CARGO_MANIFEST_DIR"))
        .env("DATABASE_URL", &url)
        .env_remove("HOTLINE_CONFIG")
        .output()
        .unwrap();
    let stdout = String::from_utf8_lossy(&out.stdout);
    assert!(out.status.success(), "{stdout} {}", String::from_utf8_lossy(&out.stderr));
    assert!(stdout.contains("model version 2 learned from 4 tickets"), "{stdout}");
    assert_eq!(server.store.latest_suggest_version().await.unwrap(), Some(2));
    server.stop().await;
}

/// "The category a ticket finally had": a department returns a ticket filed under the wrong
/// category, the dispatcher re-dispatches it under the right one (改派 with the category
/// corrected), and training learns the corrected category, not the one logged at intake.
async fn training_learns_the_category_a_dispatcher_corrected_on_a_return(backend: Backend) {
    let server = TestServer::start(backend).await;
    let operator = server.login("operator").await;
    let dispatcher = server.login("dispatcher").await;
    let (first, second) = common::two_bureaus();
    let t = operator
        .log_call(
            json!({"category": "03.02.01", "content": "楼上半夜蹦迪，音响震得睡不着", "dispatch": {"lead": first}}),
        )
        .await;
    let number = t["number"].as_str().unwrap();
    server.login(&first).await.act(number, "return", json!({"reason": "是噪声扰民，不是停电"})).await;

    // Not a leaf: the usual 422 naming the field, and nothing changes.
    let (status, e) = dispatcher
        .post(&format!("/api/v1/tickets/{number}/redispatch"), json!({"lead": second, "category": "04.01"}))
        .await;
    assert_eq!(status, StatusCode::UNPROCESSABLE_ENTITY, "{e}");
    assert_eq!(e["field"], "category", "{e}");
    let corrected = dispatcher.act(number, "redispatch", json!({"lead": second, "category": "04.01.01"})).await;
    assert_eq!(corrected["category"], "04.01.01", "{corrected}");
    let (_, events) = dispatcher.get(&format!("/api/v1/tickets/{number}/events")).await;
    let redispatch = events.as_array().unwrap().iter().find(|e| e["type"] == "redispatched").unwrap();
    assert_eq!(redispatch["data"]["recategorised"], json!({"from": "03.02.01", "to": "04.01.01"}), "{redispatch}");

    let examples = server.store.suggest_examples(0, 10).await.unwrap();
    assert_eq!(examples.len(), 1);
    assert_eq!(examples[0].category, "04.01.01", "training reads the corrected category");
    let stored = hotline::suggest::train(&server.store, server.state.catalog()).await.unwrap();
    assert!(stored.history.categories.contains_key("04.01.01"), "{:?}", stored.history.categories.keys());
    assert!(!stored.history.categories.contains_key("03.02.01"));
    server.stop().await;
}

async fn intake_counts_taken_and_overridden_suggestions_and_the_wall_shows_accuracy(backend: Backend) {
    let server = TestServer::start(backend).await;
    let operator = server.login("operator").await;
    let (_, a) = operator.post("/api/v1/tickets/suggest", json!({"content": "小区路灯不亮了"})).await;
    let shown = json!({"model_version": a["model_version"], "categories": codes(&a)});
    assert_eq!(codes(&a)[0], "01.02.03");

    // Taken: the first suggestion.
    operator.log_call(json!({"category": "01.02.03", "content": "小区路灯不亮了", "suggestion": shown})).await;
    // Overridden: a category not suggested.
    operator.log_call(json!({"category": "14.02.01", "content": "小区路灯不亮了", "suggestion": shown})).await;
    // No suggestion shown: not counted.
    operator.log_call(json!({"category": "01.02.03", "content": "小区路灯不亮了"})).await;

    // A bad suggestion block is refused with its field, and stores nothing.
    for (suggestion, field) in [
        (
            json!({"model_version": 0, "categories": ["01.02.03", "01.02.01", "01.02.02", "01.02.04", "01.01.01", "01.01.02"]}),
            "suggestion.categories",
        ),
        (json!({"model_version": 0, "categories": ["99.99"]}), "suggestion.categories"),
        (json!({"model_version": -1, "categories": []}), "suggestion.model_version"),
    ] {
        let mut body = common::sample_ticket();
        body["suggestion"] = suggestion;
        let (status, e) = operator.post("/api/v1/tickets", body).await;
        assert_eq!(status, StatusCode::UNPROCESSABLE_ENTITY, "{e}");
        assert_eq!(e["field"], field, "{e}");
    }
    assert_eq!(suggestion_count(&server).await, (2, None, 3));

    let supervisor = server.login("supervisor").await;
    let (status, acc) = supervisor.get("/api/v1/suggest/accuracy?weeks=4").await;
    assert_eq!(status, StatusCode::OK, "{acc}");
    let weeks = acc["weeks"].as_array().unwrap();
    assert_eq!(weeks.len(), 4);
    let this_week = weeks.last().unwrap();
    assert_eq!(
        (&this_week["tickets"], &this_week["taken"], &this_week["overridden"], &this_week["top1"]),
        (&json!(2), &json!(1), &json!(1), &json!(1)),
        "{acc}"
    );
    assert_eq!(this_week["top1_rate"], 0.5);
    assert_eq!(acc["model_version"], 0);
    let (status, _) = supervisor.get("/api/v1/suggest/accuracy?weeks=x").await;
    assert_eq!(status, StatusCode::BAD_REQUEST);
    let (status, _) = operator.get("/api/v1/suggest/accuracy").await;
    assert_eq!(status, StatusCode::FORBIDDEN);
    server.stop().await;
}

both_backends!(
    operator_types_a_call_and_sees_category_place_and_version,
    bad_input_gets_an_empty_answer_and_stores_nothing,
    training_learns_the_centres_tickets_once_across_instances,
    training_learns_the_category_a_dispatcher_corrected_on_a_return,
    intake_counts_taken_and_overridden_suggestions_and_the_wall_shows_accuracy,
);

/// The evaluation set (tests/data/suggest_eval.toml) still loads, covers every top-level
/// category, and the model with no history clears a floor far below the targets: a failure
/// here means the model or the category words broke, not that a target was missed (the
/// benchmark, ops/bench/suggest.rs, reports the measured accuracy).
#[test]
fn the_evaluation_set_covers_every_top_level_category_and_is_answered() {
    use hotline::domain::suggest::{History, Model};
    #[derive(serde::Deserialize)]
    struct File {
        call: Vec<Call>,
    }
    #[derive(serde::Deserialize)]
    struct Call {
        category: String,
        content: String,
        #[serde(default)]
        address: String,
    }
    let text =
        std::fs::read_to_string(std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/data/suggest_eval.toml"))
            .unwrap();
    let calls = toml::from_str::<File>(&text).unwrap().call;
    assert!(calls.len() >= 150, "{}", calls.len());
    let catalog = common::catalog();
    for top in catalog.district.categories.iter().filter(|c| c.level() == 1) {
        assert!(calls.iter().any(|c| c.category.starts_with(&format!("{}.", top.code))), "{} uncovered", top.code);
    }
    let model = Model::build(&History::default(), &catalog.district);
    let now = chrono::Utc::now();
    let in_top3 = calls
        .iter()
        .filter(|c| {
            assert!(catalog.district.is_leaf_category(&c.category), "{}", c.category);
            let call = hotline::suggest::Call { content: &c.content, address: &c.address, kind: "help", now };
            let answer = hotline::suggest::answer_with(&model, 0, catalog, &call);
            answer.categories.iter().take(3).any(|s| s.code == c.category)
        })
        .count();
    assert!(in_top3 * 2 > calls.len(), "top-3 {in_top3} of {}", calls.len());
}
