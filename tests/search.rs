//! Search (issues 7, 17): the same workflows on every backend — the embedded index on SQLite
//! and on PostgreSQL, and a real Meilisearch (`ops/test.sh` starts it; SKIPPED without it) —
//! and the Meilisearch backend's own trials: an outage, a wrong key, the same tickets as the
//! embedded index on the demo district.

mod common;

use common::{two_bureaus, Backend, Index, TestClock, TestServer};
use hotline::config::Config;
use reqwest::StatusCode;
use serde_json::{json, Value};

every_index!(
    operator_finds_the_same_problem_in_other_words,
    department_search_is_scoped_inside_the_query,
    a_redispatched_ticket_moves_scope_and_status_in_word_searches,
    caller_phone_is_searchable_by_the_centre_only,
    filters_facets_and_pages_agree,
    a_reindex_rebuilds_the_same_index,
    everyday_phrases_find_the_tickets_that_say_them_otherwise,
);

async fn start(index: Index) -> TestServer {
    TestServer::start_indexed(index, TestClock::starting_now(), Config::default()).await
}

fn numbers(page: &Value) -> Vec<String> {
    page["hits"].as_array().unwrap().iter().map(|h| h["number"].as_str().unwrap().to_string()).collect()
}

async fn operator_finds_the_same_problem_in_other_words(index: Index) {
    let server = start(index).await;
    let operator = server.login("operator").await;
    let rubbish = operator
        .log_call(json!({"content": "小区门口清运垃圾不及时，已经堆了三天", "address": "长青苑北门", "route": false}))
        .await;
    let lamp = operator.log_call(json!({"content": "路灯不亮，晚上很黑", "route": false})).await;
    server.index_search().await;

    let (status, page) = operator.get("/api/v1/search?q=垃圾清运").await;
    assert_eq!(status, StatusCode::OK, "{page}");
    assert_eq!(page["backend"], if index == Index::Meili { "meilisearch" } else { "embedded" });
    assert_eq!(page["total"], 1, "{page}");
    let hit = &page["hits"][0];
    assert_eq!(hit["number"], rubbish["number"]);
    assert_eq!(hit["status"], "received");
    assert_eq!(hit["status_label"], rubbish["status_label"]);
    assert!(hit["snippet"].as_str().unwrap().contains("清运垃圾"), "{hit}");
    assert_eq!(page["facets"]["status"]["received"], 1);

    // The ticket number, and the address, find it too; the other ticket by its own words.
    let (_, by_number) = operator.get(&format!("/api/v1/search?q={}", rubbish["number"].as_str().unwrap())).await;
    assert_eq!(numbers(&by_number), vec![rubbish["number"].as_str().unwrap()]);
    let (_, by_address) = operator.get("/api/v1/search?q=长青苑").await;
    assert_eq!(numbers(&by_address), vec![rubbish["number"].as_str().unwrap()]);
    let (_, by_lamp) = operator.get("/api/v1/search?q=路灯").await;
    assert_eq!(numbers(&by_lamp), vec![lamp["number"].as_str().unwrap()]);

    // A change reaches the index through the outbox: the reply becomes searchable.
    let dispatcher = server.login("dispatcher").await;
    let (bureau, _) = two_bureaus();
    let id = lamp["id"].to_string();
    dispatcher.act(&id, "dispatch", json!({"lead": bureau})).await;
    let dept = server.login(&bureau).await;
    dept.act(&id, "accept", json!({})).await;
    dept.act(&id, "reply", json!({"outcome": "solved", "text": "已更换灯泡并恢复照明"})).await;
    server.index_search().await;
    let (_, by_reply) = operator.get("/api/v1/search?q=更换灯泡").await;
    assert_eq!(numbers(&by_reply), vec![lamp["number"].as_str().unwrap()]);
    assert_eq!(by_reply["hits"][0]["status"], "replied");
    assert_eq!(by_reply["hits"][0]["lead_department"], bureau.as_str());
    server.stop().await;
}

async fn department_search_is_scoped_inside_the_query(index: Index) {
    let server = start(index).await;
    let operator = server.login("operator").await;
    let (mine, theirs) = two_bureaus();
    let mut own = Vec::new();
    for i in 0..3 {
        let t = operator.log_call(json!({"content": format!("噪音扰民第{i}次投诉"), "dispatch": {"lead": mine}})).await;
        own.push(t["number"].as_str().unwrap().to_string());
    }
    // More of the other bureau's, and newer: a filter after paging would leave page 1 empty.
    for i in 0..5 {
        operator.log_call(json!({"content": format!("噪音扰民第{i}次反映"), "dispatch": {"lead": theirs}})).await;
    }
    server.index_search().await;

    let dept = server.login(&mine).await;
    let (status, page) = dept.get("/api/v1/search?q=噪音扰民&sort=newest&limit=2").await;
    assert_eq!(status, StatusCode::OK, "{page}");
    assert_eq!(page["total"], 3, "{page}");
    assert_eq!(numbers(&page), vec![own[2].clone(), own[1].clone()]);
    assert_eq!(page["facets"]["department"], json!({ mine.as_str(): 3 }));
    let (_, next) = dept.get("/api/v1/search?q=噪音扰民&sort=newest&limit=2&offset=2").await;
    assert_eq!(numbers(&next), vec![own[0].clone()]);
    // Asking for the other bureau's tickets gives nothing, not an error and not theirs.
    let (status, other) = dept.get(&format!("/api/v1/search?q=噪音扰民&department={theirs}")).await;
    assert_eq!(status, StatusCode::OK);
    assert_eq!(other["total"], 0);
    assert_eq!(other["hits"], json!([]));
    // The centre sees all eight.
    let (_, all) = operator.get("/api/v1/search?q=噪音扰民").await;
    assert_eq!(all["total"], 8);
    server.stop().await;
}

/// A department's scope and a status narrow a search with words in the index itself (the index
/// holds each ticket's units and status beside its words). A ticket returned and redispatched
/// leaves the first bureau's word searches at once (the ticket rows decide) and enters the
/// second's, and its new status, once the change is indexed.
async fn a_redispatched_ticket_moves_scope_and_status_in_word_searches(index: Index) {
    let server = start(index).await;
    let (first, second) = two_bureaus();
    let operator = server.login("operator").await;
    let dispatcher = server.login("dispatcher").await;
    let wrong = server.login(&first).await;
    let right = server.login(&second).await;
    let t = operator.log_call(json!({"content": "小区门口路灯不亮好几天了", "dispatch": {"lead": first}})).await;
    let id = t["id"].to_string();
    let number = t["number"].as_str().unwrap().to_string();
    operator.log_call(json!({"content": "路灯杆被车撞歪了", "dispatch": {"lead": first}})).await;
    server.index_search().await;
    let search = |q: &str| format!("/api/v1/search?q={q}&sort=newest");
    let (_, page) = wrong.get(&search("路灯不亮")).await;
    assert_eq!(numbers(&page), vec![number.clone()], "{page}");
    let (_, page) = operator.get(&(search("路灯不亮") + "&status=dispatched")).await;
    assert_eq!(numbers(&page), vec![number.clone()], "{page}");

    wrong.act(&id, "return", json!({"reason": "不属于本单位职责"})).await;
    dispatcher.act(&id, "redispatch", json!({"lead": second, "note": "改派"})).await;
    // Not yet indexed: the first bureau no longer finds it. The embedded index's ticket rows say
    // so at once, total included; Meilisearch filters on what it indexed, so until then only the
    // page's guard keeps the ticket off the first bureau's hits, and its total still counts it.
    let (_, page) = wrong.get(&search("路灯")).await;
    assert!(!numbers(&page).contains(&number), "{page}");
    if matches!(index, Index::Embedded(_)) {
        assert_eq!(page["total"], 1, "the other ticket only: {page}");
    }
    server.index_search().await;
    let (_, page) = right.get(&search("路灯不亮")).await;
    assert_eq!(numbers(&page), vec![number.clone()], "{page}");
    assert_eq!(page["facets"]["department"], json!({ second.as_str(): 1 }));
    let (_, page) = operator.get(&(search("路灯") + "&status=dispatched")).await;
    assert_eq!(page["total"], 2, "{page}");
    right.act(&id, "accept", json!(null)).await;
    server.index_search().await;
    let (_, page) = operator.get(&(search("路灯") + "&status=accepted")).await;
    assert_eq!(numbers(&page), vec![number.clone()], "{page}");
    let (_, page) = operator.get(&(search("路灯") + &format!("&status=dispatched&department={second}"))).await;
    assert_eq!(page["total"], 0, "{page}");
    let (_, page) = right.get(&(search("路灯") + "&status=accepted,dispatched")).await;
    assert_eq!(numbers(&page), vec![number.clone()], "{page}");
    // A department's whole list, no words (counted on its units alone): the total is what the
    // page holds, and the redispatched ticket is the second bureau's.
    for bureau in [&wrong, &right] {
        let (_, page) = bureau.get("/api/v1/search?sort=newest").await;
        assert_eq!(page["total"].as_u64(), Some(page["hits"].as_array().unwrap().len() as u64), "{page}");
    }
    let (_, page) = right.get("/api/v1/search?sort=newest").await;
    assert_eq!(numbers(&page), vec![number], "{page}");
    server.stop().await;
}

async fn caller_phone_is_searchable_by_the_centre_only(index: Index) {
    let server = start(index).await;
    let operator = server.login("operator").await;
    let (bureau, _) = two_bureaus();
    let t = operator
        .log_call(json!({"caller_phone": "13900001111", "content": "井盖缺失", "dispatch": {"lead": bureau}}))
        .await;
    operator.log_call(json!({"caller_phone": "13900002222", "content": "井盖松动", "route": false})).await;
    server.index_search().await;

    let (_, found) = operator.get("/api/v1/search?q=13900001111").await;
    assert_eq!(numbers(&found), vec![t["number"].as_str().unwrap()]);
    // The department holding the ticket cannot look residents up by phone.
    let dept = server.login(&bureau).await;
    let (status, none) = dept.get("/api/v1/search?q=13900001111").await;
    assert_eq!(status, StatusCode::OK);
    assert_eq!(none["total"], 0, "{none}");
    let (_, by_words) = dept.get("/api/v1/search?q=井盖").await;
    assert_eq!(numbers(&by_words), vec![t["number"].as_str().unwrap()]);
    assert!(by_words["hits"][0].get("caller_phone").is_none());
    server.stop().await;
}

async fn filters_facets_and_pages_agree(index: Index) {
    let server = start(index).await;
    let operator = server.login("operator").await;
    let (bureau, _) = two_bureaus();
    let mut all = Vec::new();
    for i in 0..5 {
        let body = if i % 2 == 0 {
            json!({"content": format!("占道经营第{i}处"), "dispatch": {"lead": bureau}, "kind": "complaint"})
        } else {
            json!({"content": format!("占道经营第{i}处"), "route": false, "kind": "suggestion"})
        };
        all.push(operator.log_call(body).await["number"].as_str().unwrap().to_string());
    }
    server.index_search().await;

    let (_, page) = operator.get("/api/v1/search?q=占道经营").await;
    assert_eq!(page["total"], 5);
    assert_eq!(page["facets_estimated"], false, "five hits are counted, not estimated");
    assert_eq!(page["facets"]["status"], json!({"dispatched": 3, "received": 2}));
    assert_eq!(page["facets"]["kind"], json!({"complaint": 3, "suggestion": 2}));
    let (_, dispatched) = operator.get("/api/v1/search?q=占道经营&status=dispatched").await;
    assert_eq!(dispatched["total"], 3);
    assert!(dispatched["hits"].as_array().unwrap().iter().all(|h| h["status"] == "dispatched"));
    let (_, kinds) = operator.get("/api/v1/search?q=占道经营&kind=suggestion").await;
    assert_eq!(kinds["total"], 2);
    let category = common::first_leaf_category();
    let prefix = category.split('.').next().unwrap();
    let (_, by_prefix) = operator.get(&format!("/api/v1/search?q=占道经营&category={prefix}")).await;
    assert_eq!(by_prefix["total"], 5);
    let (_, future) = operator.get("/api/v1/search?q=占道经营&created_from=2099-01-01").await;
    assert_eq!(future["total"], 0);

    // Pages of two, newest first, cover every hit once.
    let mut paged = Vec::new();
    for offset in [0, 2, 4] {
        let (_, p) = operator.get(&format!("/api/v1/search?q=占道经营&sort=newest&limit=2&offset={offset}")).await;
        paged.extend(numbers(&p));
    }
    all.reverse();
    assert_eq!(paged, all);
    // No text: filters alone, newest first.
    let (_, listed) = operator.get("/api/v1/search?status=received").await;
    assert_eq!(listed["total"], 2);

    // Bad input names the parameter.
    for (query, field) in [
        ("limit=0", "limit"),
        ("offset=-1", "offset"),
        ("sort=best", "sort"),
        ("colour=red", "colour"),
        ("kind=x", "kind"),
    ] {
        let (status, body) = operator.get(&format!("/api/v1/search?q=a&{query}")).await;
        assert_eq!(status, StatusCode::BAD_REQUEST, "{query}: {body}");
        assert_eq!(body["field"], field);
    }
    server.stop().await;
}

async fn a_reindex_rebuilds_the_same_index(index: Index) {
    let server = start(index).await;
    let operator = server.login("operator").await;
    for i in 0..4 {
        operator.log_call(json!({"content": format!("违章停车第{i}辆"), "route": false})).await;
    }
    server.index_search().await;
    let (_, before) = operator.get("/api/v1/search?q=违章停车").await;
    assert_eq!(before["total"], 4);
    for _ in 0..2 {
        let mut last = (0, 0);
        let n =
            hotline::search::drain::reindex(&server.store, server.state.search(), |done, total| last = (done, total))
                .await
                .unwrap();
        assert_eq!(n, 4);
        assert_eq!(last, (4, 4));
        let (_, after) = operator.get("/api/v1/search?q=违章停车").await;
        assert_eq!(after["total"], before["total"]);
        assert_eq!(numbers(&after).len(), 4);
    }
    assert_eq!(server.store.search_backlog().await.unwrap(), 0);

    // Calls keep coming while the index is rebuilt under the running server (whose drain
    // takes part): none is missing afterwards.
    let logging = async {
        let mut numbers = Vec::new();
        for i in 4..10 {
            let t = operator.log_call(json!({"content": format!("违章停车第{i}辆"), "route": false})).await;
            numbers.push(t["number"].as_str().unwrap().to_string());
        }
        numbers
    };
    let rebuilding = hotline::search::drain::reindex(&server.store, server.state.search(), |_, _| {});
    let (mut logged, rebuilt) = tokio::join!(logging, rebuilding);
    assert!(rebuilt.unwrap() >= 4);
    server.index_search().await;
    let (_, after) = operator.get("/api/v1/search?q=违章停车&limit=100").await;
    assert_eq!(after["total"], 10, "{after}");
    let mut found = numbers(&after);
    found.sort();
    logged.extend(numbers(&before));
    logged.sort();
    assert_eq!(found, logged);
    server.stop().await;
}

/// A rebuild that marks every ticket stale while a drain holds some of them (claimed before
/// the index was emptied, indexed, finished after) leaves them queued: the drain's finish
/// must not take the rebuild's entries for its own.
async fn a_rebuild_requeues_what_a_running_drain_holds(backend: Backend) {
    let (url, _dir) = common::fresh_database(backend).await;
    let store = hotline::store::Store::connect(&url, 2, hotline::store::system_clock()).await.unwrap();
    store.sync_departments(&common::catalog().department_rows()).await.unwrap();
    hotline::demo::generate_tickets(&store, common::catalog(), 5, 3).await.unwrap();
    let held = store.claim_search(100, std::time::Duration::from_secs(300), store.now()).await.unwrap();
    assert_eq!(held.len(), 5);
    // The rebuild empties the index and requeues everything …
    assert_eq!(store.queue_all_for_search().await.unwrap(), 5);
    // … and the drain, having indexed the same versions into the old index, finishes.
    let finished: Vec<(i64, i64, i64)> = held.iter().map(|e| (e.ticket_id, e.version, e.lease)).collect();
    store.finish_search(&finished).await.unwrap();
    assert_eq!(store.search_backlog().await.unwrap(), 5, "the rebuild's entries are still queued");
    // A failure reported by that drain does not push the rebuild's entries back either.
    let ids: Vec<i64> = held.iter().map(|e| e.ticket_id).collect();
    store.retry_search(&ids, held[0].lease, "gone", store.now() + chrono::TimeDelta::hours(1)).await.unwrap();
    let again = store.claim_search(100, std::time::Duration::from_secs(300), store.now()).await.unwrap();
    assert_eq!(again.len(), 5, "due at once");
    store.close().await;
}

both_backends!(
    a_rebuild_requeues_what_a_running_drain_holds,
    a_supervisors_year_wide_facets_are_estimated_and_say_so,
    the_upgrade_writes_the_keys_the_drain_writes,
);

/// A supervisor's search over more hits than are counted one by one (20,000): the total is
/// exact, the facet counts are estimated from a sample, within a few per cent, and the answer
/// says so — for the filters alone and for words.
async fn a_supervisors_year_wide_facets_are_estimated_and_say_so(backend: Backend) {
    let server = TestServer::start(backend).await;
    let operator = server.login("operator").await;
    let (bureau, _) = two_bureaus();
    // 30 calls: 10 complaints dispatched, 20 suggestions waiting; then 700 copies of each.
    for i in 0..30 {
        let body = if i % 3 == 0 {
            json!({"content": format!("小区楼下烧烤摊油烟扰民第{i}次"), "dispatch": {"lead": bureau}, "kind": "complaint"})
        } else {
            json!({"content": format!("建议小区增设非机动车停车棚第{i}处"), "route": false, "kind": "suggestion"})
        };
        operator.log_call(body).await;
    }
    server.store.bench_copy_tickets(30, 700).await.unwrap();
    hotline::search::drain::reindex(&server.store, server.state.search(), |_, _| {}).await.unwrap();
    let supervisor = server.login("supervisor").await;

    let close = |estimate: &Value, exact: i64| {
        let estimate = estimate.as_i64().unwrap_or(0);
        assert!((estimate - exact).abs() * 100 <= exact * 5, "estimated {estimate}, exactly {exact}");
    };
    let (status, all) = supervisor.get("/api/v1/search?sort=newest").await;
    assert_eq!(status, StatusCode::OK, "{all}");
    assert_eq!(all["total"], 21_030, "the total is exact");
    assert_eq!(all["total_estimated"], false);
    assert_eq!(all["facets_estimated"], true);
    close(&all["facets"]["status"]["dispatched"], 7_010);
    close(&all["facets"]["status"]["received"], 14_020);
    close(&all["facets"]["kind"]["suggestion"], 14_020);
    assert_eq!(all["hits"].as_array().unwrap().len(), 20);

    let (_, words) = supervisor.get("/api/v1/search?q=小区").await;
    // PostgreSQL would read every hit to count it: past 20,000 hits it estimates the total from
    // the facets' sample, and says so. SQLite's index counts its hits without reading them.
    match backend {
        Backend::Postgres => {
            assert_eq!(words["total_estimated"], true, "{words}");
            close(&words["total"], 21_030);
        }
        Backend::Sqlite => {
            assert_eq!(words["total_estimated"], false, "{words}");
            assert_eq!(words["total"], 21_030);
        }
    }
    assert_eq!(words["facets_estimated"], true);
    close(&words["facets"]["kind"]["complaint"], 7_010);
    close(&words["facets"]["kind"]["suggestion"], 14_020);
    let (_, parking) = supervisor.get("/api/v1/search?q=停车棚").await;
    assert_eq!(parking["total"], 14_020);
    assert_eq!(parking["total_estimated"], false, "below the threshold every hit is counted");
    assert_eq!(parking["facets_estimated"], false, "below the threshold every hit is counted");
    assert_eq!(parking["facets"]["kind"], json!({"suggestion": 14_020}));

    // Narrowed below the threshold, the counts are exact again.
    let (_, narrow) = supervisor.get("/api/v1/search?q=烧烤&status=dispatched").await;
    assert_eq!(narrow["total"], 7_010);
    assert_eq!(narrow["facets_estimated"], false);
    assert_eq!(narrow["facets"]["status"], json!({"dispatched": 7_010}));
    // A common word under a filter (SQLite reads the filter's tickets first and checks them
    // against the word's hits): the same hits, counts and order as a rare word would give.
    let (_, common) = supervisor.get("/api/v1/search?q=小区&status=dispatched").await;
    assert_eq!(common["total"], 7_010);
    assert_eq!(common["facets"]["status"], json!({"dispatched": 7_010}));
    assert_eq!(common["facets"]["kind"], json!({"complaint": 7_010}));
    let hits = common["hits"].as_array().unwrap();
    assert_eq!(hits.len(), 20);
    assert!(hits.iter().all(|h| h["status"] == "dispatched" && h["snippet"].as_str().unwrap().contains("烧烤")));
    let (_, newest) = supervisor.get("/api/v1/search?q=小区&status=dispatched&sort=newest").await;
    let ids: Vec<i64> = newest["hits"].as_array().unwrap().iter().map(|h| h["id"].as_i64().unwrap()).collect();
    assert!(ids.windows(2).all(|w| w[0] > w[1]), "newest first: {ids:?}");

    // Relevance over more hits than are ranked: the best of the newest 20,000, and the
    // answer says so.
    assert_eq!(words["ranked_newest"], 20_000);
    assert!(parking.get("ranked_newest").is_none(), "{parking}");
    server.stop().await;
}

/// A search index that cannot be reached (a real client to a closed port) leaves the updates
/// queued with the error; they are indexed once it works again. Nothing is lost.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_index_outage_delays_updates_and_loses_none() {
    use hotline::search::{drain::drain_once, Search};
    let (url, _dir) = common::fresh_database(Backend::Sqlite).await;
    let store = hotline::store::Store::connect(&url, 2, hotline::store::system_clock()).await.unwrap();
    let catalog = common::catalog();
    store.sync_departments(&catalog.department_rows()).await.unwrap();
    hotline::demo::generate_tickets(&store, catalog, 6, 7).await.unwrap();
    let queued = store.search_backlog().await.unwrap();
    assert!(queued >= 6, "{queued}");

    let down: Search = std::sync::Arc::new(
        hotline::search::meili::Meili::new("http://127.0.0.1:9", None, "tickets", store.clone()).unwrap(),
    );
    let report = drain_once(&store, &down, store.now()).await.unwrap();
    assert_eq!(report.indexed, 0);
    assert!(report.failed > 0 && report.error.is_some(), "{report:?}");
    assert_eq!(store.search_backlog().await.unwrap(), queued);
    assert!(store.search_last_error().await.unwrap().is_some());

    let embedded: Search = std::sync::Arc::new(hotline::search::embedded::Embedded::new(store.clone()));
    // Not before the back-off has passed; then everything goes in.
    let later = store.now() + chrono::TimeDelta::hours(2);
    let report = drain_once(&store, &embedded, later).await.unwrap();
    assert_eq!(report.indexed as i64, queued);
    assert_eq!(store.search_backlog().await.unwrap(), 0);
    // Every ticket is in the index: each is found by its number.
    let ids: Vec<i64> = (1..=queued).collect();
    for ticket in store.tickets_by_ids(&ids).await.unwrap() {
        let terms = hotline::search::segment::Segmenter::default().query_terms(&ticket.number);
        let page =
            embedded.search(&hotline::search::SearchRequest { terms, limit: 10, ..Default::default() }).await.unwrap();
        assert_eq!(page.tickets.iter().map(|t| t.id).collect::<Vec<_>>(), vec![ticket.id]);
    }
    store.close().await;
}

/// The index drain and a writer that upserts many outbox entries in one transaction (here a
/// projection rebuild) run at once without deadlocking: the drain never holds two entries.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_index_drain_and_a_projection_rebuild_do_not_deadlock() {
    use hotline::search::{drain::drain_once, Search};
    for backend in [Backend::Sqlite, Backend::Postgres] {
        let (url, _dir) = common::fresh_database(backend).await;
        let store = hotline::store::Store::connect(&url, 4, hotline::store::system_clock()).await.unwrap();
        let catalog = common::catalog();
        store.sync_departments(&catalog.department_rows()).await.unwrap();
        hotline::demo::generate_tickets(&store, catalog, 300, 11).await.unwrap();
        let embedded: Search = std::sync::Arc::new(hotline::search::embedded::Embedded::new(store.clone()));
        let rebuilds = {
            let store = store.clone();
            tokio::spawn(async move {
                for _ in 0..8 {
                    store.rebuild_projections().await.unwrap();
                }
            })
        };
        let drains = {
            let store = store.clone();
            tokio::spawn(async move {
                for _ in 0..8 {
                    store.queue_all_for_search().await.unwrap();
                    drain_once(&store, &embedded, store.now()).await.unwrap();
                }
            })
        };
        rebuilds.await.unwrap();
        drains.await.unwrap();
        store.close().await;
    }
}

/// Hotline phrases jieba alone cuts into pieces no ticket holds (路灯不亮 → 路 / 灯不亮): the
/// district's words (`dispatch_rules/search_words.txt`) make the query ask for the words
/// residents write, in any order.
async fn everyday_phrases_find_the_tickets_that_say_them_otherwise(index: Index) {
    let server = start(index).await;
    let operator = server.login("operator").await;
    let mut logged = std::collections::HashMap::new();
    for (key, content) in [
        ("lamp_at_night", "小区路灯晚上不亮了，出行不便"),
        ("lamp", "路灯不亮，晚上很黑"),
        ("flooded", "积水漫过路面，车辆难行"),
        ("stall", "店铺门口占道摆摊经营，影响通行"),
        ("noise", "楼上装修噪音太大，严重扰民"),
        ("fumes", "楼下饭店油烟扰民，窗户都不敢开"),
        ("rubbish", "清运垃圾的车三天没来了"),
        // 占, 道 and 经营 are all here, but nobody occupies the road to trade.
        ("licence", "道路被占用的审批咨询，店铺经营范围变更"),
    ] {
        let t = operator.log_call(json!({"content": content, "address": "长青苑", "route": false})).await;
        logged.insert(key, t["number"].as_str().unwrap().to_string());
    }
    server.index_search().await;
    for (query, expected) in [
        ("路灯不亮", &["lamp_at_night", "lamp"][..]),
        ("路灯晚上不亮", &["lamp_at_night", "lamp"]),
        ("小区路灯不亮", &["lamp_at_night"]),
        ("路面积水", &["flooded"]),
        ("占道经营", &["stall"]),
        ("噪音扰民", &["noise"]),
        ("油烟扰民", &["fumes"]),
        ("垃圾清运", &["rubbish"]),
    ] {
        let (status, page) = operator.get(&format!("/api/v1/search?q={query}")).await;
        assert_eq!(status, StatusCode::OK, "{page}");
        let mut found = numbers(&page);
        found.sort();
        let mut wanted: Vec<String> = expected.iter().map(|k| logged[k].clone()).collect();
        wanted.sort();
        assert_eq!(found, wanted, "{query}: {page}");
    }
    server.stop().await;
}

/// Meilisearch stopped in the middle of the day: searches answer 503 with the reason, every
/// change made meanwhile waits in the outbox, and once it is back the running server's drain
/// puts them all in without anyone's help. The test starts a Meilisearch of its own.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_meilisearch_outage_delays_updates_and_loses_none() {
    let Some(mut meili) = common::meili::MeiliProcess::start().await else {
        println!("SKIPPED: a_meilisearch_outage_delays_updates_and_loses_none — no Meilisearch binary");
        return;
    };
    let config = Config {
        meili_url: Some(meili.url.clone()),
        meili_key: Some(meili.key.clone()),
        meili_index: common::meili::unique_index(),
        ..Config::default()
    };
    let server = TestServer::start_with(Backend::Sqlite, TestClock::starting_now(), config).await;
    server.state.search().prepare().await.expect("Meilisearch prepared");
    let operator = server.login("operator").await;
    let (bureau, _) = two_bureaus();
    let first = operator.log_call(json!({"content": "井盖缺失，夜里危险", "dispatch": {"lead": bureau}})).await;
    server.index_search().await;
    let (_, page) = operator.get("/api/v1/search?q=井盖").await;
    assert_eq!(page["total"], 1, "{page}");

    meili.stop();
    let mut logged = vec![first["number"].as_str().unwrap().to_string()];
    for i in 0..4 {
        let t = operator.log_call(json!({"content": format!("井盖松动第{i}处"), "route": false})).await;
        logged.push(t["number"].as_str().unwrap().to_string());
    }
    // A change to a ticket indexed before the outage waits too.
    let dept = server.login(&bureau).await;
    let id = first["id"].to_string();
    dept.act(&id, "accept", json!({})).await;
    dept.act(&id, "reply", json!({"outcome": "solved", "text": "已补装井盖"})).await;
    let (status, body) = operator.get("/api/v1/search?q=井盖").await;
    assert_eq!(status, StatusCode::SERVICE_UNAVAILABLE, "{body}");
    assert!(body["message"].as_str().unwrap().contains("search"), "{body}");
    // Filters alone are the database's own list: they answer during the outage, every ticket in.
    let (status, listed) = operator.get("/api/v1/search?sort=newest").await;
    assert_eq!(status, StatusCode::OK, "{listed}");
    assert_eq!(listed["total"], 5, "{listed}");
    assert_eq!(listed["hits"][0]["number"], logged[4].as_str(), "newest first");
    // While typing a call, the operator is still offered the caller's open tickets.
    let (status, similar) = operator
        .post("/api/v1/tickets/similar", json!({"phone": first["caller_phone"], "content": "井盖又坏了"}))
        .await;
    assert_eq!(status, StatusCode::OK, "{similar}");
    let offered: Vec<&str> =
        similar["suggestions"].as_array().unwrap().iter().map(|s| s["ticket"]["number"].as_str().unwrap()).collect();
    assert!(logged[1..].iter().all(|n| offered.contains(&n.as_str())), "{similar}");
    // The drain tried, failed, and kept every update with the reason.
    let deadline = std::time::Instant::now() + std::time::Duration::from_secs(30);
    while server.store.search_last_error().await.unwrap().is_none() {
        assert!(std::time::Instant::now() < deadline, "the drain never reported the outage");
        tokio::time::sleep(std::time::Duration::from_millis(100)).await;
    }
    assert!(server.store.search_backlog().await.unwrap() >= 5);

    meili.start_again().await;
    // No one calls index_search: the server's own drain brings the index up to date.
    let deadline = std::time::Instant::now() + std::time::Duration::from_secs(60);
    loop {
        let (status, page) = operator.get("/api/v1/search?q=井盖&sort=newest").await;
        let (_, replied) = operator.get("/api/v1/search?q=补装井盖").await;
        if status == StatusCode::OK && page["total"] == 5 && replied["total"] == 1 {
            let mut found = numbers(&page);
            found.sort();
            logged.sort();
            assert_eq!(found, logged);
            assert_eq!(numbers(&replied), vec![first["number"].as_str().unwrap()]);
            break;
        }
        assert!(std::time::Instant::now() < deadline, "not all updates arrived: {status} {page}");
        tokio::time::sleep(std::time::Duration::from_millis(200)).await;
    }
    // The drain finishes its entries just after Meilisearch shows them.
    while server.store.search_backlog().await.unwrap() > 0 {
        assert!(std::time::Instant::now() < deadline, "the outbox did not empty");
        tokio::time::sleep(std::time::Duration::from_millis(100)).await;
    }
    server.stop().await;
}

/// `hotline serve` with a key Meilisearch refuses (or none) does not start, and says why
/// before it would listen.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_wrong_meilisearch_key_stops_start_up_with_the_reason() {
    let Some(shared) = common::meili::shared() else {
        println!("SKIPPED: a_wrong_meilisearch_key_stops_start_up_with_the_reason — HOTLINE_TEST_MEILI_URL is not set");
        return;
    };
    let (url, _dir) = common::fresh_database(Backend::Sqlite).await;
    let index = common::meili::unique_index();
    for key in [Some("not-the-key-0123456789"), None] {
        let mut command = std::process::Command::new(env!("CARGO_BIN_EXE_hotline"));
        command.current_dir(env!("CARGO_MANIFEST_DIR"));
        for (_, var) in hotline::config::ENV_KEYS {
            command.env_remove(var);
        }
        command
            .env_remove("HOTLINE_CONFIG")
            .args(["serve", "--addr", "127.0.0.1:0"])
            .env("DATABASE_URL", &url)
            .env("MEILI_URL", &shared.url)
            .env("HOTLINE_MEILI_INDEX", &index);
        if let Some(key) = key {
            command.env("MEILI_KEY", key);
        }
        let out = tokio::task::spawn_blocking(move || command.output().unwrap()).await.unwrap();
        let stdout = String::from_utf8_lossy(&out.stdout);
        let stderr = String::from_utf8_lossy(&out.stderr);
        assert!(!out.status.success(), "started with key {key:?}: {stdout} {stderr}");
        assert!(!stdout.contains("hotline listening"), "announced before refusing: {stdout}");
        assert!(stderr.contains("refused the key") && stderr.contains("MEILI_KEY"), "{key:?}: {stderr}");
    }
    // The right key starts it (the index is then created).
    let mut server = common::process::ServerProcess::start(
        &url,
        &[
            ("MEILI_URL", shared.url.as_str()),
            ("MEILI_KEY", shared.key.as_deref().unwrap_or("")),
            ("HOTLINE_MEILI_INDEX", index.as_str()),
        ],
    );
    let ready = reqwest::get(format!("{}/readyz", server.base)).await.unwrap();
    assert_eq!(ready.status(), StatusCode::OK);
    assert_eq!(server.stop(), 0);
    common::meili::drop_index(&shared.url, shared.key.as_deref(), &index).await;
}

/// Both backends give the same tickets for the same questions: the demo district indexed in
/// the embedded index and in Meilisearch, asked a list of Chinese queries with filters, scope,
/// pages and both orders. Totals and facet counts agree; the tickets agree (in order, where
/// the order is newest first; as a set by relevance, which each engine ranks its own way).
async fn both_backends_find_the_same_tickets(backend: Backend) {
    use hotline::search::{embedded::Embedded, meili::Meili, Search, SearchRequest};
    use hotline::store::TicketFilter;
    let Some(shared) = common::meili::shared() else {
        println!("SKIPPED: both_backends_find_the_same_tickets — HOTLINE_TEST_MEILI_URL is not set");
        return;
    };
    let (url, _dir) = common::fresh_database(backend).await;
    let store = hotline::store::Store::connect(&url, 4, hotline::store::system_clock()).await.unwrap();
    let catalog = common::catalog();
    store.sync_departments(&catalog.department_rows()).await.unwrap();
    hotline::demo::generate_tickets(&store, catalog, 300, 12345).await.unwrap();
    let name = common::meili::unique_index();
    let embedded: Search = std::sync::Arc::new(Embedded::new(store.clone()));
    let meili: Search =
        std::sync::Arc::new(Meili::new(&shared.url, shared.key.as_deref(), &name, store.clone()).unwrap());
    meili.prepare().await.unwrap();
    let ids: Vec<i64> = (1..=300).collect();
    let tickets = store.tickets_by_ids(&ids).await.unwrap();
    for chunk in tickets.chunks(200) {
        embedded.upsert(chunk).await.unwrap();
        meili.upsert(chunk).await.unwrap();
    }
    let some = &tickets[17];
    let scope: Vec<String> = catalog.district.descendants("cgw").into_iter().map(String::from).collect();
    let open: Vec<hotline::domain::types::Status> =
        hotline::domain::types::Status::ALL.iter().copied().filter(|s| s.is_open()).collect();
    let street = catalog.district.streets[0].code.clone();
    let category = some.category.split('.').next().unwrap().to_string();
    let week_ago = store.now() - chrono::TimeDelta::days(7);
    let filters: Vec<(&str, TicketFilter)> = vec![
        ("none", TicketFilter::default()),
        ("open", TicketFilter { statuses: open.clone(), ..TicketFilter::default() }),
        ("street", TicketFilter { street: Some(street.clone()), ..TicketFilter::default() }),
        ("category", TicketFilter { category: Some(category.clone()), ..TicketFilter::default() }),
        ("scope", TicketFilter { departments: Some(scope.clone()), ..TicketFilter::default() }),
        ("week", TicketFilter { created_from: Some(week_ago), ..TicketFilter::default() }),
        (
            "complaints",
            TicketFilter {
                kind: Some(hotline::domain::types::Kind::Complaint),
                statuses: open.clone(),
                ..TicketFilter::default()
            },
        ),
    ];
    let queries = [
        "垃圾清运",
        "路灯不亮",
        "噪音扰民",
        "占道经营",
        "积水",
        "井盖",
        "物业",
        "停车",
        "施工",
        "漏水",
        "油烟",
        "小区",
        "来电人要求回复",
        some.number.as_str(),
        "",
    ];
    let mut compared = 0;
    for q in queries {
        let terms = hotline::domain::search::matched_terms(catalog.segmenter.query_terms(q));
        for (label, filter) in &filters {
            for sort in [hotline::domain::search::SortOrder::Relevance, hotline::domain::search::SortOrder::Newest] {
                let request = SearchRequest {
                    terms: terms.clone(),
                    phone: None,
                    filter: filter.clone(),
                    sort,
                    limit: 100,
                    offset: 0,
                };
                let (a, b) = (embedded.search(&request).await.unwrap(), meili.search(&request).await.unwrap());
                let what = format!("{q:?} {label} {sort:?}");
                assert_eq!(a.total, b.total, "{what}");
                assert_eq!(a.facets, b.facets, "{what}");
                let ids = |p: &hotline::search::SearchPage| p.tickets.iter().map(|t| t.id).collect::<Vec<_>>();
                let (mut x, mut y) = (ids(&a), ids(&b));
                let by_relevance = sort == hotline::domain::search::SortOrder::Relevance && !terms.is_empty();
                // Beyond one page, each engine's best 100 differ; the newest-first run of the
                // same query compares those hits one by one.
                if !by_relevance || a.total <= request.limit {
                    if by_relevance {
                        x.sort();
                        y.sort();
                    }
                    assert_eq!(x, y, "{what}");
                }
                compared += usize::from(a.total > 0);
                // A later page, newest first, is the same page.
                if sort == hotline::domain::search::SortOrder::Newest && a.total > 10 {
                    let page = SearchRequest { limit: 5, offset: 7, ..request.clone() };
                    let (a, b) = (embedded.search(&page).await.unwrap(), meili.search(&page).await.unwrap());
                    assert_eq!(ids(&a), ids(&b), "{what}, offset 7");
                }
            }
        }
        // The duplicate finder's lookup: any of the words, in the window, open tickets only.
        if terms.len() > 1 || q == "垃圾清运" {
            let request = SearchRequest {
                terms: terms.clone(),
                filter: TicketFilter {
                    statuses: open.clone(),
                    created_from: Some(week_ago),
                    ..TicketFilter::default()
                },
                limit: 300,
                ..SearchRequest::default()
            };
            let mut x: Vec<i64> = embedded.candidates(&request).await.unwrap().iter().map(|t| t.id).collect();
            let mut y: Vec<i64> = meili.candidates(&request).await.unwrap().iter().map(|t| t.id).collect();
            x.sort();
            y.sort();
            assert_eq!(x, y, "candidates for {q:?}");
        }
    }
    assert!(compared > 80, "too few queries found anything: {compared}");
    common::meili::drop_index(&shared.url, shared.key.as_deref(), &name).await;
    store.close().await;
}

both_backends!(both_backends_find_the_same_tickets);

/// Migration 0051 gives the tickets indexed before it their keys from the ticket rows, in SQL;
/// the drain writes them in Rust for every later change. Both must write the same, or a scoped
/// search would miss the tickets of before the upgrade: the keys the drain wrote are wiped and
/// written again by the migration's own statement, and compared.
async fn the_upgrade_writes_the_keys_the_drain_writes(backend: Backend) {
    use sqlx::{Connection, Row};
    let server = TestServer::start(backend).await;
    let (first, second) = two_bureaus();
    let operator = server.login("operator").await;
    let mut ids = Vec::new();
    for (content, lead) in [("路灯不亮", &first), ("垃圾没人清运", &first), ("路面塌陷", &second)] {
        ids.push(operator.log_call(json!({"content": content, "dispatch": {"lead": lead}})).await["id"].to_string());
    }
    let t = operator.log_call(json!({"content": "井盖丢了", "route": false})).await;
    server.login(&first).await.act(&ids[0], "accept", json!(null)).await;
    server.index_search().await;

    let (table, id, migration) = match backend {
        Backend::Sqlite => {
            ("search_fts", "rowid", include_str!("../migrations/sqlite/0051_search_keys.sql").to_string())
        }
        Backend::Postgres => {
            let file = include_str!("../migrations/postgres/0051_search_keys.sql");
            let update = &file[file.find("UPDATE search_docs").unwrap()..];
            ("search_docs", "ticket_id", update[..update.find(';').unwrap() + 1].to_string())
        }
    };
    let mut db = sqlx::AnyConnection::connect(&server.state.config.database_url).await.unwrap();
    let read_keys = format!("SELECT {id} AS id, keys FROM {table} ORDER BY {id}");
    let keys_of = |rows: Vec<sqlx::any::AnyRow>| -> Vec<(i64, Vec<String>)> {
        rows.iter()
            .map(|r| {
                let mut keys: Vec<String> = r.get::<String, _>("keys").split(' ').map(String::from).collect();
                keys.sort();
                (r.get::<i64, _>("id"), keys)
            })
            .collect()
    };
    let by_drain = keys_of(sqlx::query(&read_keys).fetch_all(&mut db).await.unwrap());
    assert_eq!(by_drain.len(), 4);
    assert!(by_drain.iter().all(|(_, keys)| keys.iter().any(|k| k.starts_with('s'))), "{by_drain:?}");
    assert_eq!(by_drain.iter().find(|(i, _)| *i == t["id"].as_i64().unwrap()).unwrap().1.len(), 1, "no unit yet");
    sqlx::query(&format!("UPDATE {table} SET keys = ''")).execute(&mut db).await.unwrap();
    sqlx::raw_sql(&migration).execute(&mut db).await.unwrap();
    let by_migration = keys_of(sqlx::query(&read_keys).fetch_all(&mut db).await.unwrap());
    assert_eq!(by_migration, by_drain);
    db.close().await.unwrap();
    // And the searches read them: the first bureau's scope, by its status.
    let (_, page) = server.login(&first).await.get("/api/v1/search?q=路灯&status=accepted").await;
    assert_eq!(page["total"], 1, "{page}");
    server.stop().await;
}

/// A common word on PostgreSQL: its newest hits are looked for in a window of the newest ids
/// (sized by the planner's statistics, which a rebuild refreshes), not by reading every hit.
/// The page is the same as ranking the newest 20,000 hits would give: tickets that say the
/// word twice first, newest first, down to the window's last id and on into the others.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_common_words_newest_hits_rank_the_same_from_a_window_of_ids() {
    let server = TestServer::start(Backend::Postgres).await;
    let operator = server.login("operator").await;
    operator.log_call(json!({"content": "路灯不亮", "route": false, "kind": "report"})).await;
    operator.log_call(json!({"content": "路灯坏了，路灯杆也歪了", "route": false, "kind": "report"})).await;
    // Copies: ticket 1's at the odd ids, ticket 2's (路灯 twice: ranked higher) at the even
    // ones, 65,536 in all.
    server.store.bench_copy_tickets(2, 32_767).await.unwrap();
    let ids: Vec<i64> = (1..=65_536).collect();
    for chunk in ids.chunks(5_000) {
        let tickets = server.store.tickets_by_ids(chunk).await.unwrap();
        let entries: Vec<_> = tickets.iter().map(hotline::search::embedded::index_entry).collect();
        server.store.write_search_words(&entries).await.unwrap();
    }
    server.store.refresh_search_statistics().await.unwrap();
    let supervisor = server.login("supervisor").await;

    let page_ids = |page: &Value| -> Vec<i64> {
        page["hits"].as_array().unwrap().iter().map(|h| h["id"].as_i64().unwrap()).collect()
    };
    // Counting 65,536 hits would read each: the total is estimated from a sample of about
    // 10,000 of them (the index on their id's bucket reads only those), within a per cent.
    let within_a_per_cent = |page: &Value, exact: i64| {
        let total = page["total"].as_i64().unwrap();
        assert!((total - exact).abs() * 100 <= exact, "estimated {total}, exactly {exact}");
        assert_eq!(page["total_estimated"], true, "{page}");
    };
    let (status, first) = supervisor.get("/api/v1/search?q=路灯&limit=5").await;
    assert_eq!(status, StatusCode::OK, "{first}");
    within_a_per_cent(&first, 65_536);
    assert_eq!(first["facets_estimated"], true);
    assert_eq!(first["facets"]["kind"]["report"], first["total"], "every hit is a report: {first}");
    assert_eq!(first["ranked_newest"], 20_000);
    assert_eq!(page_ids(&first), vec![65_536, 65_534, 65_532, 65_530, 65_528]);
    // The newest 20,000 are ids 45,537..=65,536: their 10,000 even ids, then their odd ones.
    let (_, deep) = supervisor.get("/api/v1/search?q=路灯&offset=9997&limit=6").await;
    assert_eq!(page_ids(&deep), vec![45_542, 45_540, 45_538, 65_535, 65_533, 65_531]);
    let (_, last) = supervisor.get("/api/v1/search?q=路灯&offset=10000&limit=100").await;
    assert_eq!(page_ids(&last).last(), Some(&65_337));
    // A word in half the tickets: a window holding its newest 30,000 hits would be most of the
    // ids, so there is none, and the newest 20,000 hits are ranked as they were before windows.
    let (_, half) = supervisor.get("/api/v1/search?q=杆&limit=3").await;
    within_a_per_cent(&half, 32_768);
    assert_eq!(half["ranked_newest"], 20_000);
    // Narrowed below the threshold by a filter, the hits are counted exactly again.
    let (_, few) = supervisor.get("/api/v1/search?q=路灯&created_to=2000-01-01T00:00:00Z").await;
    assert_eq!(few["total_estimated"], false, "{few}");
    assert_eq!(page_ids(&half), vec![65_536, 65_534, 65_532]);
    server.stop().await;
}
