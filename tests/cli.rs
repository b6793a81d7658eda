//! The `hotline` binary as an administrator uses it: calendar look-ups, start-up checks,
//! the demo district, and a clean stop on SIGTERM.

mod common;

use common::process::ServerProcess;
use std::process::Command;

fn hotline() -> Command {
    let mut c = Command::new(env!("CARGO_BIN_EXE_hotline"));
    c.current_dir(env!("CARGO_MANIFEST_DIR"));
    for (_, var) in hotline::config::ENV_KEYS {
        c.env_remove(var);
    }
    c.env_remove("HOTLINE_CONFIG");
    c
}

fn output(args: &[&str]) -> (i32, String, String) {
    let out = hotline().args(args).output().expect("run hotline");
    (
        out.status.code().unwrap_or(-1),
        String::from_utf8_lossy(&out.stdout).trim().to_string(),
        String::from_utf8_lossy(&out.stderr).trim().to_string(),
    )
}

#[test]
fn calendar_day_names_the_kind_of_day() {
    for (date, word) in [
        ("2026-10-08", "workday"),
        ("2026-10-01", "holiday"),
        ("2026-10-10", "makeup-workday"),
        ("2026-10-11", "weekend"),
        ("2026-02-14", "makeup-workday"),
        ("2025-01-28", "holiday"),
    ] {
        assert_eq!(output(&["calendar", "day", date]), (0, word.to_string(), String::new()), "{date}");
    }
    let (code, _, err) = output(&["calendar", "day", "2026-13-01"]);
    assert_eq!(code, 2);
    assert!(err.starts_with("error:"), "{err}");
}

#[test]
fn calendar_due_counts_working_days_from_the_next_day() {
    let (code, out, _) = output(&["calendar", "due", "2026-09-30T16:00:00+08:00", "5wd"]);
    assert_eq!((code, out.as_str()), (0, "2026-10-13T17:30:00+08:00"));
    let (code, out, _) = output(&["calendar", "due", "2026-09-30T16:00:00+08:00", "2h"]);
    assert_eq!((code, out.as_str()), (0, "2026-09-30T18:00:00+08:00"));
    let (code, _, err) = output(&["calendar", "due", "2026-09-30T16:00:00+08:00", "5 days"]);
    assert_eq!(code, 2);
    assert!(err.contains("5wd") || err.contains("duration"), "{err}");
}

#[test]
fn bad_configuration_names_the_key() {
    let out = hotline().args(["serve"]).env("HOTLINE_ADDR", "not-an-address").output().unwrap();
    assert_eq!(out.status.code(), Some(2));
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(err.contains("addr") && err.contains("HOTLINE_ADDR"), "{err}");
    let out = hotline().args(["serve"]).env("DATABASE_URL", "mysql://x/y").output().unwrap();
    assert!(String::from_utf8_lossy(&out.stderr).contains("database_url"));
}

#[test]
fn an_attachment_folder_that_cannot_be_made_stops_start_up_naming_its_key() {
    let dir = tempfile::tempdir().unwrap();
    let file = dir.path().join("a-file");
    std::fs::write(&file, b"not a folder").unwrap();
    let out = hotline()
        .args(["serve", "--addr", "127.0.0.1:0"])
        .env("DATABASE_URL", format!("sqlite://{}/h.db", dir.path().display()))
        .env("HOTLINE_ATTACHMENTS_DIR", file.join("attachments"))
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(2));
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(err.contains("attachment store: attachments_dir:") && err.contains("HOTLINE_ATTACHMENTS_DIR"), "{err}");
}

#[test]
fn broken_rules_directory_is_reported_with_file_and_line() {
    let dir = common::rules_copy();
    let departments = dir.path().join("departments.toml");
    let text = std::fs::read_to_string(&departments).unwrap();
    std::fs::write(
        &departments,
        format!("{text}\n[[department]]\ncode = \"Bad Code\"\nname = \"x\"\nkind = \"bureau\"\n"),
    )
    .unwrap();
    let out = hotline().args(["calendar", "day", "2026-10-08"]).env("HOTLINE_RULES_DIR", dir.path()).output().unwrap();
    assert_eq!(out.status.code(), Some(2));
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(err.contains("departments.toml:") && err.contains("Bad Code"), "{err}");
}

#[test]
fn demo_refuses_a_public_address() {
    let dir = tempfile::tempdir().unwrap();
    let out = hotline()
        .args(["serve", "--demo", "--addr", "0.0.0.0:0"])
        .env("DATABASE_URL", format!("sqlite://{}/h.db", dir.path().display()))
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(2));
    assert!(String::from_utf8_lossy(&out.stderr).contains("loopback"));
}

#[tokio::test]
async fn demo_district_serves_and_stops_cleanly_on_sigterm() {
    let dir = tempfile::tempdir().unwrap();
    let db = format!("sqlite://{}/data/hotline.db", dir.path().display());
    let files = dir.path().join("data/attachments");
    let demo = [("HOTLINE_DEMO_TICKETS", "60"), ("HOTLINE_ATTACHMENTS_DIR", files.to_str().unwrap())];
    let mut server = ServerProcess::start_with(&["--demo"], &db, &demo);
    let base = server.base.clone();
    let client = reqwest::Client::new();
    let login = |user: &str| {
        let client = client.clone();
        let url = format!("{base}/api/v1/auth/login");
        let body = serde_json::json!({"username": user, "password": "hotline-demo"});
        async move { client.post(url).json(&body).send().await.unwrap() }
    };
    let resp = login("supervisor").await;
    assert_eq!(resp.status(), 200);
    let token = resp.json::<serde_json::Value>().await.unwrap()["token"].as_str().unwrap().to_string();
    let (bureau, _) = common::two_bureaus();
    assert_eq!(login(&bureau).await.status(), 200, "each department logs in with its code");
    let list: serde_json::Value = client
        .get(format!("{base}/api/v1/tickets?limit=500"))
        .bearer_auth(&token)
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    let tickets = list["tickets"].as_array().unwrap();
    assert_eq!(tickets.len(), 60);
    let statuses: std::collections::HashSet<&str> = tickets.iter().map(|t| t["status"].as_str().unwrap()).collect();
    assert!(statuses.len() >= 4, "the demo shows tickets in many states: {statuses:?}");
    // 道路破损 wants an on-site photo with the reply: the demo's replies there carry one.
    let mut photos = 0;
    for t in tickets.iter().filter(|t| t["category"] == "01.02.01" && t["replied_at"].is_string()) {
        let url = format!("{base}/api/v1/tickets/{}/attachments", t["number"].as_str().unwrap());
        let listed: serde_json::Value = client.get(url).bearer_auth(&token).send().await.unwrap().json().await.unwrap();
        let photo = listed.as_array().unwrap().iter().find(|a| a["purpose"] == "reply").expect("the reply photo");
        let got = client.get(format!("{base}{}", photo["url"].as_str().unwrap())).bearer_auth(&token).send().await;
        assert_eq!(got.unwrap().status(), 200);
        photos += 1;
    }
    assert!(photos > 0, "the demo (seed 12345) replies on 道路破损 tickets too");
    assert_eq!(server.stop(), 0);

    // A second start on the same database keeps what is there.
    let mut server = ServerProcess::start_with(&["--demo"], &db, &demo);
    let base = server.base.clone();
    let list: serde_json::Value = client
        .get(format!("{base}/api/v1/tickets?limit=500"))
        .bearer_auth(&token)
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    assert_eq!(list["tickets"].as_array().unwrap().len(), 60);
    assert_eq!(server.stop(), 0);
}

#[test]
fn rules_check_passes_the_shipped_catalogue_and_points_at_broken_lines() {
    let (code, out, _) = output(&["rules", "check"]);
    assert_eq!(code, 0, "{out}");
    assert!(out.starts_with("ok: "), "{out}");

    let dir = common::rules_copy();
    let file = dir.path().join("rules/zz_broken.toml");
    std::fs::write(
        &file,
        concat!(
            "[[rule]]\nid = \"garbage-collection\"\n[rule.when]\ncategory = [\"01\"]\n[rule.then]\nlead = \"cgw\"\npolicy = \"general\"\n",
            "[[rule]]\nid = \"broken\"\n[rule.when]\nkeywords_any = []\n[rule.then]\nlead = \"no-such-unit\"\npolicy = \"general\"\n",
        ),
    )
    .unwrap();
    let (code, out, _) = output(&["rules", "check", dir.path().to_str().unwrap()]);
    assert_eq!(code, 1);
    for expected in ["rules/zz_broken.toml:2:", "rules/zz_broken.toml:11:", "rules/zz_broken.toml:13:", "no-such-unit"]
    {
        assert!(out.contains(expected), "missing {expected} in:\n{out}");
    }
}

#[test]
fn a_malformed_search_word_is_refused_with_its_line() {
    let dir = common::rules_copy();
    let words = dir.path().join("search_words.txt");
    let text = std::fs::read_to_string(&words).unwrap();
    let line = text.lines().count() + 2;
    std::fs::write(&words, format!("{text}\n噪音 很多\n")).unwrap();
    let (code, out, _) = output(&["rules", "check", dir.path().to_str().unwrap()]);
    assert_eq!(code, 1);
    assert!(out.contains(&format!("search_words.txt:{line}:4:")) && out.contains("frequency"), "{out}");
}

#[test]
fn rules_explain_names_the_winner_and_the_near_misses() {
    let dir = tempfile::tempdir().unwrap();
    let ticket = dir.path().join("ticket.json");
    std::fs::write(
        &ticket,
        serde_json::json!({"kind": "complaint", "category": "01.01.01", "content": "小区门口垃圾三天没人清运", "address": "新华路12号"}).to_string(),
    )
    .unwrap();
    let (code, out, err) = output(&["rules", "explain", ticket.to_str().unwrap()]);
    assert_eq!(code, 0, "{err}");
    assert!(out.contains("winner: ") && out.contains("lead: ") && out.contains("came close:"), "{out}");
    let (code, out, _) = output(&["rules", "explain", "--json", ticket.to_str().unwrap()]);
    assert_eq!(code, 0);
    let v: serde_json::Value = serde_json::from_str(&out).unwrap();
    assert_eq!(v["decision"]["outcome"], "routed");
    assert!(v["near_misses"].as_array().is_some_and(|m| !m.is_empty()));
}
