//! Backup, restore and moving a district from SQLite to PostgreSQL, as an operator runs
//! them: the `hotline` binary against a database a real server filled, then a server on the
//! copy carrying on where the original stopped.

mod common;

use common::{fresh_database, Backend, TestClock, TestServer, PASSWORD};
use hotline::config::Config;
use hotline::store::{system_clock, NewUser, Store};
use serde_json::{json, Value};
use std::collections::{BTreeMap, BTreeSet};
use std::io::{BufRead, Write};
use std::process::Command;

type Contents = BTreeMap<String, Vec<Vec<Value>>>;

fn hotline(database_url: &str) -> Command {
    let mut c = Command::new(env!("CARGO_BIN_EXE_hotline"));
    c.current_dir(env!("CARGO_MANIFEST_DIR"));
    for (_, var) in hotline::config::ENV_KEYS {
        c.env_remove(var);
    }
    c.env_remove("HOTLINE_CONFIG").env("DATABASE_URL", database_url);
    c
}

/// Runs the binary; (exit code, stdout, stderr).
fn run(database_url: &str, args: &[&str]) -> (i32, String, String) {
    let out = hotline(database_url).args(args).output().expect("run hotline");
    (
        out.status.code().unwrap_or(-1),
        String::from_utf8_lossy(&out.stdout).into_owned(),
        String::from_utf8_lossy(&out.stderr).into_owned(),
    )
}

/// A database a real server worked on: demo tickets driven through their lives (with the
/// mail they cause queued), then a server that fires the timers due and takes a few calls;
/// then the server stopped. Returns its URL and every table's rows.
async fn populated_database(backend: Backend) -> (String, Option<tempfile::TempDir>, Contents) {
    let (url, dir) = fresh_database(backend).await;
    let catalog = common::catalog();
    // The history is written before any server runs: a server's timers firing meanwhile
    // would race the generator's own steps.
    let store = Store::connect(&url, 2, system_clock()).await.unwrap();
    store.sync_departments(&catalog.department_rows()).await.unwrap();
    let hash = hotline::http::auth::hash_password(PASSWORD);
    let users: Vec<NewUser> = common::USERS
        .iter()
        .map(|(name, role, department)| NewUser {
            username: name.to_string(),
            display_name: name.to_string(),
            role: *role,
            department: department.map(String::from),
            password_hash: hash.clone(),
        })
        .collect();
    store.create_users(&users).await.unwrap();
    let config = Config { database_url: url.clone(), ..Config::default() };
    let rules = hotline::catalog::Catalog::load(&common::rules_dir()).unwrap();
    let state = hotline::http::AppState::new(store.clone(), config, rules).expect("search backend");
    hotline::demo::generate_tickets(&state.store, catalog, 60, 7).await.unwrap();
    store.close().await;
    let server =
        TestServer::start_on(backend, url.clone(), None, TestClock::starting_now(), Config::default(), false).await;
    // A few of today's calls through the API as well, so today's number counter exists.
    let operator = server.login("operator").await;
    for _ in 0..3 {
        operator.log_call(json!({})).await;
    }
    server.fire_timers().await;
    server.stop().await;
    let store = Store::connect(&url, 2, system_clock()).await.unwrap();
    let contents = store.contents().await.unwrap();
    store.close().await;
    for table in ["tickets", "events", "timers", "mail_outbox", "users", "sessions", "counters", "ticket_units"] {
        assert!(!contents[table].is_empty(), "the source database has no {table}");
    }
    (url, dir, contents)
}

/// Every table of the source holds exactly the same rows in the copy; a table only the
/// copy's kind of database has (a dialect's own index) is empty there.
fn assert_same_data(copy: &Contents, source: &Contents) {
    for (table, rows) in source {
        assert!(copy.get(table) == Some(rows), "table {table} differs in the copy");
    }
    for (table, rows) in copy.iter().filter(|(t, _)| !source.contains_key(*t)) {
        assert!(rows.is_empty(), "{table} exists only in the copy and has rows");
    }
}

async fn contents_of(url: &str) -> Contents {
    let store = Store::connect(url, 2, system_clock()).await.unwrap();
    let contents = store.contents().await.unwrap();
    store.close().await;
    contents
}

/// A server on the copy takes the next call: the next ticket id and number, the next event
/// sequence number, a new mail id.
async fn copy_carries_on(backend: Backend, url: String, before: &Contents) {
    let server = TestServer::start_on(backend, url, None, TestClock::starting_now(), Config::default(), false).await;
    let operator = server.login("operator").await;
    let ticket = operator.log_call(json!({})).await;
    let max = |table: &str, column: usize| before[table].iter().filter_map(|r| r[column].as_i64()).max().unwrap_or(0);
    assert_eq!(ticket["id"].as_i64().unwrap(), max("tickets", 0) + 1, "the next ticket id");
    let number = ticket["number"].as_str().unwrap();
    let (day, n) = number.split_once('-').unwrap();
    let counted = before["counters"]
        .iter()
        .find(|r| r[0] == json!(format!("ticket_no:{day}")))
        .and_then(|r| r[1].as_i64())
        .unwrap_or(0);
    assert_eq!(n.parse::<i64>().unwrap(), counted + 1, "the day's next number after {number}");
    let events = server.store.ticket_events(ticket["id"].as_i64().unwrap()).await.unwrap();
    // Timers that fell due meanwhile fire at start too; numbers go on from the copy's last,
    // gap-free, and nothing copied changed.
    assert!(events[0].seq > max("events", 0), "the event sequence carried on");
    let after = server.store.contents().await.unwrap();
    let mut seqs: Vec<i64> = after["events"].iter().map(|r| r[0].as_i64().unwrap()).collect();
    seqs.sort();
    assert_eq!(seqs, (1..=seqs.len() as i64).collect::<Vec<_>>(), "event numbers are gap-free");
    assert!(before["events"].iter().all(|e| after["events"].contains(e)));
    let new_mail: Vec<&Vec<Value>> =
        after["mail_outbox"].iter().filter(|r| !before["mail_outbox"].contains(r)).collect();
    assert!(!new_mail.is_empty(), "the dispatch notice of the new ticket was queued");
    assert!(new_mail.iter().all(|r| r[0].as_i64().unwrap() > max("mail_outbox", 0)));
    server.stop().await;
}

/// The tables the migrations of a backend create (plain tables; not virtual ones, which
/// are indexes the database derives), read from the SQL files themselves.
fn tables_in_migrations(backend: Backend) -> BTreeSet<String> {
    let dialect = if backend == Backend::Sqlite { "sqlite" } else { "postgres" };
    let dir = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("migrations").join(dialect);
    let mut tables = BTreeSet::new();
    let mut files: Vec<_> = std::fs::read_dir(dir).unwrap().map(|e| e.unwrap().path()).collect();
    files.sort();
    for file in files {
        let sql = std::fs::read_to_string(&file).unwrap().to_lowercase();
        let words: Vec<&str> =
            sql.split(|c: char| c.is_whitespace() || c == '(' || c == ';').filter(|w| !w.is_empty()).collect();
        for (i, w) in words.windows(2).enumerate() {
            let creates = w == ["create", "table"];
            if !creates && w != ["drop", "table"] {
                continue;
            }
            let rest = &words[i + 2..];
            let skip = match rest {
                ["if", "not", "exists", ..] => 3,
                ["if", "exists", ..] => 2,
                _ => 0,
            };
            let Some(name) = rest.get(skip).map(|n| n.trim_matches('"').to_string()) else { continue };
            if creates {
                tables.insert(name);
            } else {
                tables.remove(&name);
            }
        }
    }
    tables
}

/// The lines of a backup file.
fn backup_lines(path: &std::path::Path) -> Vec<Value> {
    let file = std::fs::File::open(path).unwrap();
    std::io::BufReader::new(flate2::read::GzDecoder::new(file))
        .lines()
        .map(|l| serde_json::from_str(&l.unwrap()).unwrap())
        .collect()
}

fn write_backup_lines(path: &std::path::Path, lines: &[Value]) {
    let mut out = flate2::write::GzEncoder::new(std::fs::File::create(path).unwrap(), flate2::Compression::fast());
    for l in lines {
        writeln!(out, "{l}").unwrap();
    }
    out.finish().unwrap();
}

async fn backup_and_restore_round_trip(backend: Backend) {
    let (source, _dir, before) = populated_database(backend).await;
    let folder = tempfile::tempdir().unwrap();
    let file = folder.path().join("hotline.backup.gz");
    let (code, out, err) = run(&source, &["backup", file.to_str().unwrap()]);
    assert_eq!(code, 0, "backup: {out}{err}");
    assert!(out.contains("backed up"), "{out}");
    use std::os::unix::fs::PermissionsExt;
    assert_eq!(std::fs::metadata(&file).unwrap().permissions().mode() & 0o777, 0o600, "owner only");

    // Every table the migrations create is in the file, each with every row.
    let lines = backup_lines(&file);
    let in_file: BTreeSet<String> =
        lines.iter().filter_map(|l| l.get("table").and_then(Value::as_str)).map(String::from).collect();
    assert_eq!(in_file, tables_in_migrations(backend), "tables in the backup vs in the migrations");
    assert_eq!(in_file, before.keys().cloned().collect::<BTreeSet<_>>());

    let (target, _target_dir) = fresh_database(backend).await;
    let (code, out, err) = run(&target, &["restore", file.to_str().unwrap()]);
    assert_eq!(code, 0, "restore: {out}{err}");
    assert_same_data(&contents_of(&target).await, &before);

    // A second restore into the now-filled database is refused and changes nothing.
    let (code, _, err) = run(&target, &["restore", file.to_str().unwrap()]);
    assert_eq!(code, 2, "{err}");
    assert!(err.contains("not empty") && err.contains("events"), "{err}");
    assert_same_data(&contents_of(&target).await, &before);

    copy_carries_on(backend, target, &before).await;
}

async fn a_cut_off_backup_restores_nothing(backend: Backend) {
    let (source, _dir, _) = populated_database(backend).await;
    let folder = tempfile::tempdir().unwrap();
    let file = folder.path().join("full.gz");
    assert_eq!(run(&source, &["backup", file.to_str().unwrap()]).0, 0);
    let mut lines = backup_lines(&file);
    lines.truncate(lines.len() - 40);
    let cut = folder.path().join("cut.gz");
    write_backup_lines(&cut, &lines);

    let (target, _target_dir) = fresh_database(backend).await;
    let (code, _, err) = run(&target, &["restore", cut.to_str().unwrap()]);
    assert_eq!(code, 2, "{err}");
    assert!(err.contains("cut off"), "{err}");
    let after = contents_of(&target).await;
    assert!(after["events"].is_empty() && after["users"].is_empty(), "nothing was restored");
    // …and the full file still restores into it.
    assert_eq!(run(&target, &["restore", file.to_str().unwrap()]).0, 0);
}

async fn execute(url: &str, sql: &str) {
    use sqlx::{Connection, Executor};
    sqlx::any::install_default_drivers();
    let mut conn = sqlx::AnyConnection::connect(url).await.unwrap();
    conn.execute(sql).await.unwrap();
    conn.close().await.unwrap();
}

async fn scalar(url: &str, sql: &str) -> i64 {
    use sqlx::{Connection, Row};
    let mut conn = sqlx::AnyConnection::connect(url).await.unwrap();
    let n = sqlx::query(sql).fetch_one(&mut conn).await.unwrap().get::<i64, _>(0);
    conn.close().await.unwrap();
    n
}

/// What a database derives itself — SQLite's full-text tables and their shadow tables,
/// PostgreSQL's generated columns — is not copied; a table the other dialect lacks is left
/// out and said so.
async fn derived_indexes_are_rebuilt_not_copied(backend: Backend) {
    let (source, _dir) = fresh_database(backend).await;
    let store = Store::connect(&source, 2, system_clock()).await.unwrap();
    store.close().await;
    let index = match backend {
        Backend::Sqlite => "CREATE VIRTUAL TABLE probe_fts USING fts5(words)",
        Backend::Postgres => {
            "CREATE TABLE probe_docs (ticket_id BIGINT PRIMARY KEY, words TEXT NOT NULL, \
             tsv tsvector GENERATED ALWAYS AS (to_tsvector('simple', words)) STORED)"
        }
    };
    execute(&source, index).await;
    let fill = match backend {
        Backend::Sqlite => "INSERT INTO probe_fts (rowid, words) VALUES (1, '垃圾 清运')",
        Backend::Postgres => "INSERT INTO probe_docs (ticket_id, words) VALUES (1, '垃圾 清运')",
    };
    execute(&source, fill).await;
    let folder = tempfile::tempdir().unwrap();
    let file = folder.path().join("probe.gz");
    let (code, out, err) = run(&source, &["backup", file.to_str().unwrap()]);
    assert_eq!(code, 0, "{out}{err}");
    let tables: Vec<Value> = backup_lines(&file).into_iter().filter(|l| l.get("table").is_some()).collect();
    let names: Vec<&str> = tables.iter().map(|t| t["table"].as_str().unwrap()).collect();
    assert!(!names.iter().any(|n| n.starts_with("probe_fts")), "{names:?}");

    // Restored into the same kind of database, which has the index too.
    let (target, _target_dir) = fresh_database(backend).await;
    let store = Store::connect(&target, 2, system_clock()).await.unwrap();
    store.close().await;
    execute(&target, index).await;
    let (code, out, err) = run(&target, &["restore", file.to_str().unwrap()]);
    assert_eq!(code, 0, "{out}{err}");
    match backend {
        Backend::Sqlite => assert_eq!(scalar(&target, "SELECT COUNT(*) FROM probe_fts").await, 0),
        Backend::Postgres => {
            let docs = tables.iter().find(|t| t["table"] == "probe_docs").expect("probe_docs copied");
            assert_eq!(docs["columns"], json!(["ticket_id", "words"]), "the generated column is not copied");
            let sql = "SELECT COUNT(*) FROM probe_docs WHERE tsv @@ to_tsquery('simple', '清运')";
            assert_eq!(scalar(&target, sql).await, 1, "the generated column was computed again");
            // Into SQLite, which has no such table: left out, and said so.
            let (sqlite, _sqlite_dir) = fresh_database(Backend::Sqlite).await;
            let (code, out, err) = run(&sqlite, &["restore", file.to_str().unwrap()]);
            assert_eq!(code, 0, "{out}{err}");
            assert!(out.contains("left out") && out.contains("probe_docs"), "{out}");
        }
    }
}

both_backends!(
    backup_and_restore_round_trip,
    a_cut_off_backup_restores_nothing,
    derived_indexes_are_rebuilt_not_copied
);

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_district_moves_from_sqlite_to_postgresql_with_one_command() {
    let (source, _dir, before) = populated_database(Backend::Sqlite).await;
    let (target, _) = fresh_database(Backend::Postgres).await;
    let (code, out, err) = run("sqlite://unused.db", &["migrate-store", "--from", &source, "--to", &target]);
    assert_eq!(code, 0, "migrate-store: {out}{err}");
    assert!(out.contains("copied"), "{out}");
    assert_same_data(&contents_of(&target).await, &before);
    let (code, _, err) = run("sqlite://unused.db", &["migrate-store", "--from", &source, "--to", &target]);
    assert_eq!(code, 2);
    assert!(err.contains("not empty"), "{err}");
    let typo = format!("{source}-typo");
    let (code, _, err) = run("sqlite://unused.db", &["migrate-store", "--from", &typo, "--to", &target]);
    assert_eq!(code, 2);
    assert!(err.contains("there is no database"), "{err}");
    copy_carries_on(Backend::Postgres, target, &before).await;
}
