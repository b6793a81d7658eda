//! `hotline`: the server and its command-line tools.

use clap::{Parser, Subcommand};
use hotline::catalog::Catalog;
use hotline::config::Config;
use hotline::domain::calendar::{format_local, parse_date, parse_instant, SlaDuration};
use hotline::store::{system_clock, Store};
use std::path::PathBuf;
use std::process::ExitCode;

#[derive(Parser)]
#[command(name = "hotline", version, about = "12345 hotline and ticket dispatch server")]
struct Cli {
    /// A TOML configuration file (also HOTLINE_CONFIG).
    #[arg(long, global = true)]
    config: Option<PathBuf>,
    #[command(subcommand)]
    command: Option<Cmd>,
}

#[derive(Subcommand)]
enum Cmd {
    /// Run the server (the default).
    Serve {
        /// Listen address (also HOTLINE_ADDR).
        #[arg(long)]
        addr: Option<String>,
        /// Load the demo district's users and tickets into an empty database.
        #[arg(long)]
        demo: bool,
    },
    /// Create or upgrade the database schema, then exit.
    Migrate,
    /// Rebuild every ticket row from the event log.
    Rebuild,
    /// Add N generated demo tickets to the configured database.
    DemoTickets {
        #[arg(default_value_t = 1000)]
        count: usize,
        #[arg(long, default_value_t = 12345)]
        seed: u64,
    },
    /// The dispatch rules (派单目录).
    Rules {
        #[command(subcommand)]
        command: RulesCmd,
    },
    /// The monthly assessment of departments (考评) as CSV.
    Report {
        /// A Beijing-time month, e.g. 2026-10.
        #[arg(long)]
        month: String,
    },
    /// User accounts: add, set a password, disable, enable, list.
    User {
        #[command(subcommand)]
        command: UserCmd,
    },
    /// Write a snapshot of the database to FILE (gzip'd JSON lines; servers may keep running).
    Backup { file: PathBuf },
    /// Restore a backup made by `hotline backup` into an empty database.
    Restore { file: PathBuf },
    /// Copy every table of one database into another, empty one (a district moving to
    /// PostgreSQL). The attachment files stay in the store the configuration names, unless
    /// --files-to names another: then every file is copied there too (streamed, checksums checked).
    MigrateStore {
        /// The database to copy from, e.g. sqlite://data/hotline.db.
        #[arg(long)]
        from: String,
        /// The empty database to copy into, e.g. postgres://hotline@db/hotline.
        #[arg(long)]
        to: String,
        /// The new installation's configuration file (TOML): its attachment keys
        /// (attachments_dir, or s3_bucket with s3_endpoint …) name where the files go. The
        /// files are read from the store this command's own configuration names.
        #[arg(long, value_name = "CONFIG")]
        files_to: Option<PathBuf>,
    },
    /// Open311 GeoReport v2: partners' keys.
    Open311 {
        #[command(subcommand)]
        command: Open311Cmd,
    },
    /// The search index.
    Search {
        #[command(subcommand)]
        command: SearchCmd,
    },
    /// Intake assistance (智能辅助填单): the category model.
    Suggest {
        #[command(subcommand)]
        command: SuggestCmd,
    },
    /// The official working calendar.
    Calendar {
        #[command(subcommand)]
        command: CalendarCmd,
    },
}

#[derive(Subcommand)]
enum RulesCmd {
    /// Validate a rules directory: prints file:line:column: message, exits 1 on any finding.
    Check { dir: Option<PathBuf> },
    /// Which rules match a ticket (JSON file), which came close and why, which one wins.
    Explain {
        file: PathBuf,
        /// Print the explanation as JSON.
        #[arg(long)]
        json: bool,
    },
}

#[derive(Subcommand)]
enum UserCmd {
    /// Add an account. The password is read from stdin with --password-stdin, otherwise
    /// generated and printed once.
    Add {
        username: String,
        /// operator, dispatcher, department, supervisor or admin.
        #[arg(long)]
        role: String,
        /// The unit's code (department accounts).
        #[arg(long)]
        department: Option<String>,
        #[arg(long)]
        display_name: Option<String>,
        #[arg(long)]
        password_stdin: bool,
    },
    /// Set an account's password (ends its sessions); generated and printed unless --password-stdin.
    Passwd {
        username: String,
        #[arg(long)]
        password_stdin: bool,
    },
    /// Disable an account: no more logins, its sessions end.
    Disable { username: String },
    /// Enable a disabled account.
    Enable { username: String },
    /// List the accounts.
    List,
}

#[derive(Subcommand)]
enum Open311Cmd {
    /// Partners' api_keys for the Open311 GeoReport v2 façade.
    Key {
        #[command(subcommand)]
        command: Open311KeyCmd,
    },
}

#[derive(Subcommand)]
enum Open311KeyCmd {
    /// Issue a key to a partner platform; the key is printed once (only its digest is kept).
    Add { partner: String },
    /// The keys issued: id, partner, issued, last used, revoked.
    List,
    /// Revoke a key by its id: the partner's requests are refused from then on.
    Revoke { id: i64 },
}

#[derive(Subcommand)]
enum SearchCmd {
    /// Rebuild the search index from scratch from the ticket rows (idempotent).
    Reindex,
}

#[derive(Subcommand)]
enum SuggestCmd {
    /// Train a new model version from the centre's tickets now (the server also does it on
    /// `suggest_train_cron`); running servers take it up within 30 seconds.
    Train,
}

#[derive(Subcommand)]
enum CalendarCmd {
    /// Prints workday, weekend, holiday or makeup-workday.
    Day { date: String },
    /// Prints the deadline (RFC 3339, +08:00) of a duration such as 5wd, 4wh, 2h, 3d.
    Due { start: String, duration: String },
}

fn main() -> ExitCode {
    hotline::memory::return_large_blocks_on_free();
    let cli = Cli::parse();
    let mut config = match Config::load(cli.config.as_deref(), |k| std::env::var(k).ok()) {
        Ok(c) => c,
        Err(e) => return fail(e),
    };
    if let Some(Cmd::Serve { addr: Some(addr), .. }) = &cli.command {
        config.addr = addr.clone();
    }
    if let Some(Cmd::Rules { command: RulesCmd::Check { dir } }) = &cli.command {
        return hotline::rules_cli::check(dir.as_deref().unwrap_or(&config.rules_dir));
    }
    if let Err(e) = config.validate() {
        return fail(e);
    }
    let catalog = match Catalog::load(&config.rules_dir) {
        Ok(c) => c,
        Err(diagnostics) => {
            for d in diagnostics {
                eprintln!("{d}");
            }
            return ExitCode::from(2);
        }
    };
    match cli.command.unwrap_or(Cmd::Serve { addr: None, demo: false }) {
        Cmd::Calendar { command: CalendarCmd::Day { date } } => match parse_date(&date) {
            Ok(d) => {
                println!("{}", catalog.calendar.day_kind(d).as_word());
                ExitCode::SUCCESS
            }
            Err(e) => fail(e),
        },
        Cmd::Calendar { command: CalendarCmd::Due { start, duration } } => {
            let start = match parse_instant(&start) {
                Ok(s) => s,
                Err(e) => return fail(e),
            };
            let duration: SlaDuration = match duration.parse() {
                Ok(d) => d,
                Err(e) => return fail(e),
            };
            let due = catalog.calendar.due(start.to_utc(), duration);
            println!("{}", format_local(due.at));
            if due.fallback_used {
                eprintln!("note: beyond the last published calendar year; counted as plain weekdays");
            }
            ExitCode::SUCCESS
        }
        Cmd::Rules { command: RulesCmd::Explain { file, json } } => hotline::rules_cli::explain(&catalog, &file, json),
        Cmd::Rules { command: RulesCmd::Check { .. } } => unreachable!("handled before the catalogue is loaded"),
        Cmd::Serve { demo, .. } => run_async(serve(config, catalog, demo)),
        Cmd::Report { month } => run_async(async move {
            let store = Store::connect(&config.database_url, config.db_max_connections, system_clock()).await?;
            let weights = config.weights()?;
            print!("{}", hotline::report::monthly_report(&store, &catalog, &month, &weights).await?);
            Ok(())
        }),
        Cmd::Migrate => run_async(async move {
            let store = Store::connect(&config.database_url, config.db_max_connections, system_clock()).await?;
            store.sync_departments(&catalog.department_rows()).await?;
            println!("database is up to date");
            Ok(())
        }),
        Cmd::Rebuild => run_async(async move {
            let store = Store::connect(&config.database_url, config.db_max_connections, system_clock()).await?;
            let n = store.rebuild_projections().await?;
            println!("rebuilt {n} tickets from the event log");
            Ok(())
        }),
        Cmd::User { command } => run_async(user_command(config, catalog, command)),
        Cmd::Open311 { command: Open311Cmd::Key { command } } => run_async(open311_key_command(config, command)),
        Cmd::Backup { file } => run_async(async move {
            let store = hotline::backup::open_source(&config.database_url).await?;
            let blobs = hotline::attachments::Blobs::from_config(&config)?;
            let summary = hotline::backup::backup_with_files(&store, Some(&blobs), &file).await?;
            println!("backed up {summary} to {}", file.display());
            Ok(())
        }),
        Cmd::Restore { file } => run_async(async move {
            let store = Store::connect(&config.database_url, 2, system_clock()).await?;
            let blobs = hotline::attachments::Blobs::from_config(&config)?;
            let summary = hotline::backup::restore_with_files(&store, Some(&blobs), &file).await?;
            println!("restored {summary} from {}", file.display());
            Ok(())
        }),
        Cmd::MigrateStore { from, to, files_to } => run_async(async move {
            use hotline::attachments::Blobs;
            let source = hotline::backup::open_source(&from).await?;
            let stores = match &files_to {
                Some(path) => {
                    // The target's own file, without this environment (which is the source's).
                    let target = Config::load(Some(path), |_| None).map_err(|e| format!("--files-to: {e}"))?;
                    target.validate().map_err(|e| format!("--files-to {}: {e}", path.display()))?;
                    Some((Blobs::from_config(&config)?, Blobs::from_config(&target)?))
                }
                None => None,
            };
            let target = Store::connect(&to, 2, system_clock()).await?;
            let files = stores.as_ref().map(|(from, to)| (from, to));
            let (summary, copied) = hotline::backup::migrate_store_with_files(&source, &target, files).await?;
            println!("copied {summary}");
            match (copied, &stores) {
                (Some(copied), Some((from, to))) => {
                    println!("copied {copied} from {} to {}, each checksum verified", from.description, to.description)
                }
                _ => println!(
                    "attachments left in {} (both databases name it; --files-to CONFIG copies them elsewhere)",
                    Blobs::describe(&config)
                ),
            }
            Ok(())
        }),
        Cmd::Search { command: SearchCmd::Reindex } => run_async(async move {
            let store = Store::connect(&config.database_url, config.db_max_connections, system_clock()).await?;
            let index = hotline::search::from_config(&config, &store)?;
            let bar = indicatif::ProgressBar::new(0);
            bar.set_style(
                indicatif::ProgressStyle::with_template("{bar:40} {pos}/{len} tickets indexed ({per_sec}, {eta} left)")
                    .map_err(|e| e.to_string())?,
            );
            let n = hotline::search::drain::reindex(&store, &index, |done, total| {
                bar.set_length(total);
                bar.set_position(done);
            })
            .await?;
            bar.finish();
            println!("indexed {n} tickets ({})", index.backend());
            Ok(())
        }),
        Cmd::Suggest { command: SuggestCmd::Train } => run_async(async move {
            let store = Store::connect(&config.database_url, config.db_max_connections, system_clock()).await?;
            let stored = hotline::suggest::train(&store, std::sync::Arc::new(catalog)).await?;
            println!("{}", hotline::suggest::describe(&stored));
            Ok(())
        }),
        Cmd::DemoTickets { count, seed } => run_async(async move {
            let store = Store::connect(&config.database_url, config.db_max_connections, system_clock()).await?;
            store.sync_departments(&catalog.department_rows()).await?;
            let blobs = hotline::attachments::Blobs::from_config(&config)?;
            let n = hotline::demo::generate_tickets_with_photos(&store, &catalog, &blobs, count, seed).await?;
            println!("added {n} demo tickets");
            Ok(())
        }),
    }
}

/// The first line of stdin, for `--password-stdin`.
fn password_from_stdin(wanted: bool) -> Result<Option<String>, Box<dyn std::error::Error>> {
    if !wanted {
        return Ok(None);
    }
    let mut line = String::new();
    std::io::stdin().read_line(&mut line)?;
    Ok(Some(line.trim_end_matches(['\r', '\n']).to_string()))
}

async fn open311_key_command(config: Config, command: Open311KeyCmd) -> Result<(), Box<dyn std::error::Error>> {
    let store = Store::connect(&config.database_url, 2, system_clock()).await?;
    let when = |at: Option<chrono::DateTime<chrono::Utc>>| at.map(|a| a.to_rfc3339()).unwrap_or_else(|| "-".into());
    match command {
        Open311KeyCmd::Add { partner } => {
            let partner = hotline::domain::open311::check_partner(&partner).map_err(|m| format!("partner: {m}"))?;
            let api_key = hotline::http::open311::generate_key();
            let key = store.add_partner_key(&partner, &hotline::domain::open311::key_hash(&api_key), "cli").await?;
            println!("key {} for {}: {api_key}", key.id, key.partner);
            println!("(shown this once; only its digest is kept)");
        }
        Open311KeyCmd::List => {
            for k in store.partner_keys().await? {
                let revoked =
                    k.revoked_at.map(|a| format!("revoked {}", a.to_rfc3339())).unwrap_or_else(|| "active".into());
                println!(
                    "{}\t{}\tissued {}\tlast used {}\t{revoked}",
                    k.id,
                    k.partner,
                    k.created_at.to_rfc3339(),
                    when(k.last_used_at)
                );
            }
        }
        Open311KeyCmd::Revoke { id } => {
            let key = store.revoke_partner_key(id).await.map_err(|e| match e {
                hotline::store::StoreError::NotFound => format!("no Open311 key {id}"),
                other => other.to_string(),
            })?;
            println!("key {} for {} revoked {}", key.id, key.partner, when(key.revoked_at));
        }
    }
    Ok(())
}

async fn user_command(config: Config, catalog: Catalog, command: UserCmd) -> Result<(), Box<dyn std::error::Error>> {
    let store = Store::connect(&config.database_url, 2, system_clock()).await?;
    store.sync_departments(&catalog.department_rows()).await?;
    let (user, generated) = match command {
        UserCmd::Add { username, role, department, display_name, password_stdin } => {
            let account = hotline::accounts::NewAccount {
                username,
                display_name,
                role: role.parse().map_err(|e| format!("--role: {e}"))?,
                department,
                password: password_from_stdin(password_stdin)?,
            };
            hotline::accounts::add(&store, &catalog.district, account, "cli").await?
        }
        UserCmd::Passwd { username, password_stdin } => {
            hotline::accounts::set_password(&store, &username, password_from_stdin(password_stdin)?, "cli")
                .await
                .map_err(|e| no_such_user(e, &username))?
        }
        UserCmd::Disable { username } => {
            (store.set_active(&username, false, "cli").await.map_err(|e| no_such_user(e, &username))?, None)
        }
        UserCmd::Enable { username } => {
            (store.set_active(&username, true, "cli").await.map_err(|e| no_such_user(e, &username))?, None)
        }
        UserCmd::List => {
            for u in store.list_users().await? {
                let state = if u.active { "active" } else { "disabled" };
                println!(
                    "{}\t{}\t{}\t{}\t{}",
                    u.username,
                    u.role.as_str(),
                    u.department.unwrap_or_default(),
                    state,
                    u.display_name
                );
            }
            return Ok(());
        }
    };
    let state = if user.active { "active" } else { "disabled" };
    println!("{} ({}, {state})", user.username, user.role.as_str());
    if let Some(password) = generated {
        println!("password: {password}");
        eprintln!("note: the password is shown this once; hand it over safely");
    }
    Ok(())
}

fn no_such_user(e: hotline::store::StoreError, username: &str) -> Box<dyn std::error::Error> {
    match e {
        hotline::store::StoreError::NotFound => format!("no user named {username:?}").into(),
        other => other.into(),
    }
}

async fn wait_changed(mut rx: tokio::sync::watch::Receiver<()>) {
    let _ = rx.changed().await;
}

fn fail(e: impl std::fmt::Display) -> ExitCode {
    eprintln!("error: {e}");
    ExitCode::from(2)
}

fn run_async(f: impl std::future::Future<Output = Result<(), Box<dyn std::error::Error>>>) -> ExitCode {
    let runtime = tokio::runtime::Runtime::new().expect("tokio runtime");
    match runtime.block_on(f) {
        Ok(()) => ExitCode::SUCCESS,
        Err(e) => fail(e),
    }
}

async fn serve(config: Config, catalog: Catalog, demo: bool) -> Result<(), Box<dyn std::error::Error>> {
    hotline::init_tracing(&config.log_format);
    let addr = config.socket_addr()?;
    if demo && !addr.ip().is_loopback() {
        return Err(format!(
            "--demo creates accounts with a published password; it only runs on a loopback address, not {addr}"
        )
        .into());
    }
    // A wrong SMTP setting stops start-up with the reason, rather than failing every mail.
    let mailer =
        hotline::notify::Mailer::new(&config.mail_config()).map_err(|e| format!("configuration: smtp_url: {}", e.0))?;
    let store = Store::connect(&config.database_url, config.db_max_connections, system_clock()).await?;
    store.sync_departments(&catalog.department_rows()).await?;
    if demo {
        if hotline::demo::ensure_users(&store, &catalog).await? {
            hotline::demo::ensure_articles(&store, &catalog).await?;
            let blobs = hotline::attachments::Blobs::from_config(&config)?;
            let n = hotline::demo::generate_tickets_with_photos(&store, &catalog, &blobs, config.demo_tickets, 12345)
                .await?;
            tracing::info!(tickets = n, "demo district loaded");
        }
        println!(
            "demo accounts (password \"{}\"): operator, dispatcher, supervisor, admin, and each department's code (e.g. cgw)",
            hotline::demo::DEMO_PASSWORD
        );
    }
    // The search index must be usable before requests arrive, and before the server says it
    // listens: a Meilisearch that is down, refuses the key or refuses the settings stops
    // start-up with the reason.
    let state = hotline::http::AppState::new(store.clone(), config, catalog)?;
    let segmenter = state.catalog().segmenter.clone();
    tokio::task::spawn_blocking(move || segmenter.warm_up()).await?;
    let search = state.search();
    search.prepare().await.map_err(|e| format!("search index ({}): {e}", search.backend()))?;
    let listener = tokio::net::TcpListener::bind(addr).await?;
    hotline::memory::give_back_freed();
    tracing::info!(%addr, backend = ?store.backend(), search = search.backend(), "hotline listening");
    println!("hotline listening on http://{}", listener.local_addr()?);
    // Edits to dispatch_rules/ take effect without a restart; without a watcher the
    // reload endpoint still works.
    let _watcher = hotline::watch::watch_rules(state.clone())
        .map_err(|e| tracing::warn!("not watching the rules directory: {e}; use POST /api/v1/admin/rules/reload"))
        .ok();
    let (stop_jobs, jobs_stopped) = tokio::sync::watch::channel(());
    let jobs = hotline::jobs::spawn_all(&state, mailer, || wait_changed(jobs_stopped.clone()))?;
    hotline::http::serve(listener, state, hotline::shutdown_signal()).await?;
    let _ = stop_jobs.send(());
    for job in jobs {
        let _ = job.await;
    }
    store.close().await;
    tracing::info!("stopped");
    Ok(())
}
