//! HTTP: the axum router, shared state, and the server's run loop. Handlers are thin:
//! extract, call one store or domain function, map the result.

pub mod admin;
pub mod assessment;
pub mod attachments;
pub mod auth;
pub mod cti;
pub mod dashboard;
pub mod dispatch;
pub mod error;
pub mod hotspots;
pub mod input;
pub mod json;
pub mod kb;
pub mod merging;
pub mod meta;
pub mod open311;
pub mod openapi;
pub mod passwords;
pub mod public;
pub mod search;
pub mod sms;
pub mod suggest;
pub mod tickets;
pub mod users;
pub mod views;
pub mod web;

use crate::catalog::Catalog;
use crate::config::Config;
use crate::store::Store;
use axum::extract::DefaultBodyLimit;
use axum::Router;
use std::sync::{Arc, RwLock};
use std::time::Duration;
use tower_http::request_id::{MakeRequestUuid, PropagateRequestIdLayer, SetRequestIdLayer};
use tower_http::timeout::TimeoutLayer;
use tower_http::trace::TraceLayer;
use utoipa::openapi::security::{Http, HttpAuthScheme, SecurityScheme};
use utoipa::{Modify, OpenApi};
use utoipa_axum::router::OpenApiRouter;
use utoipa_axum::routes;

/// Why the server could not start its parts.
#[derive(Debug, thiserror::Error)]
pub enum StartError {
    #[error(transparent)]
    Search(#[from] crate::search::SearchError),
    #[error("attachment store: {0}")]
    Attachments(#[from] crate::attachments::StoreSetupError),
}

#[derive(Clone)]
pub struct AppState {
    pub store: Store,
    pub config: Arc<Config>,
    catalog: Arc<RwLock<Arc<Catalog>>>,
    reload_error: Arc<RwLock<Option<Vec<String>>>>,
    /// One catalogue reload at a time: the file watcher's and the API's, in the order they
    /// began, so a slow load of an earlier state never lands after a later one's verdict.
    reloading: Arc<tokio::sync::Mutex<()>>,
    live: Arc<crate::live::Hub>,
    timer_wake: Arc<tokio::sync::Notify>,
    /// When the timer scheduler next wakes by itself (Unix ms): a change with a timer later
    /// than that need not wake it.
    timer_planned: Arc<std::sync::atomic::AtomicI64>,
    sessions: Arc<auth::SessionCache>,
    passwords: Arc<passwords::PasswordChecks>,
    intake: crate::store::intake::Intake,
    public_limits: Arc<public::Limits>,
    open311_limits: Arc<open311::KeyLimits>,
    search: crate::search::Search,
    duplicates: Arc<crate::search::similar::DuplicateFinder>,
    suggester: Arc<crate::suggest::Suggester>,
    blobs: crate::attachments::Blobs,
}

impl AppState {
    /// Fails when the search backend the configuration names cannot be set up (a
    /// Meilisearch URL the client refuses: the server must not quietly index elsewhere), or
    /// the attachment store cannot (a folder it may not write, an S3 setting the client refuses).
    pub fn new(store: Store, config: Config, catalog: Catalog) -> Result<AppState, StartError> {
        let public_limits = Arc::new(public::Limits::new(config.public_submit_per_hour, config.public_track_per_hour));
        let open311_limits = Arc::new(open311::KeyLimits::new(config.open311_requests_per_hour));
        let config = Arc::new(config);
        let catalog = Arc::new(RwLock::new(Arc::new(catalog)));
        let store = store.with_notifier(notifier(config.clone(), catalog.clone()));
        let store = store.with_texter(texter(&config, catalog.clone()));
        let search = crate::search::from_config(&config, &store)?;
        let sessions = Arc::new(auth::SessionCache::default());
        let blobs = crate::attachments::Blobs::from_config(&config)?;
        Ok(AppState {
            blobs,
            search,
            duplicates: Arc::default(),
            suggester: Arc::default(),
            store: store.clone(),
            live: crate::live::Hub::new(config.live_buffer, sessions.clone()),
            config,
            catalog,
            reload_error: Arc::new(RwLock::new(None)),
            reloading: Arc::new(tokio::sync::Mutex::new(())),
            timer_wake: Arc::new(tokio::sync::Notify::new()),
            timer_planned: Arc::new(std::sync::atomic::AtomicI64::new(i64::MIN)),
            sessions,
            passwords: Arc::new(passwords::PasswordChecks::for_this_machine()),
            intake: crate::store::intake::Intake::start(store.clone()),
            public_limits,
            open311_limits,
        })
    }

    /// The district, calendar, policies and rules in force. A request keeps the one it got
    /// for its whole life, so a reload never mixes two sets.
    pub fn catalog(&self) -> Arc<Catalog> {
        self.catalog.read().expect("catalog lock poisoned").clone()
    }

    pub fn replace_catalog(&self, catalog: Catalog) {
        *self.catalog.write().expect("catalog lock poisoned") = Arc::new(catalog);
    }

    /// The search index (embedded or Meilisearch).
    pub fn search(&self) -> &crate::search::Search {
        &self.search
    }

    pub fn duplicates(&self) -> &Arc<crate::search::similar::DuplicateFinder> {
        &self.duplicates
    }

    /// Intake assistance: the category model in force.
    pub fn suggester(&self) -> &Arc<crate::suggest::Suggester> {
        &self.suggester
    }

    /// Where attachments are stored (local folder or S3).
    pub fn blobs(&self) -> &crate::attachments::Blobs {
        &self.blobs
    }

    /// The group-commit queue new tickets go through.
    pub fn intake(&self) -> &crate::store::intake::Intake {
        &self.intake
    }

    /// The per-address budgets of the public form and tracking.
    pub fn public_limits(&self) -> &public::Limits {
        &self.public_limits
    }

    pub fn open311_limits(&self) -> &open311::KeyLimits {
        &self.open311_limits
    }

    pub fn sessions(&self) -> &auth::SessionCache {
        &self.sessions
    }

    /// Password checks, bounded to one per core.
    pub fn passwords(&self) -> &passwords::PasswordChecks {
        &self.passwords
    }

    pub fn last_reload_error(&self) -> Option<Vec<String>> {
        self.reload_error.read().expect("reload lock poisoned").clone()
    }

    /// Held for the whole of a reload (read, check, swap, record).
    pub async fn reload_turn(&self) -> tokio::sync::MutexGuard<'_, ()> {
        self.reloading.lock().await
    }

    pub fn set_reload_error(&self, error: Option<Vec<String>>) {
        *self.reload_error.write().expect("reload lock poisoned") = error;
    }

    /// Wakes the timer scheduler (a change may have brought a deadline forward).
    pub fn timer_wake(&self) -> Arc<tokio::sync::Notify> {
        self.timer_wake.clone()
    }

    /// The scheduler says when it will look again by itself.
    pub fn set_timer_planned(&self, at: chrono::DateTime<chrono::Utc>) {
        self.timer_planned.store(at.timestamp_millis(), std::sync::atomic::Ordering::SeqCst);
    }

    /// Tells the live hub and the timer scheduler that a change was committed: the hub fans its
    /// events out as they are, without reading them back from the log.
    pub fn publish(&self, change: &crate::store::Change) {
        let events = &change.events;
        if events.is_empty() {
            return;
        }
        let planned = self.timer_planned.load(std::sync::atomic::Ordering::SeqCst);
        let earliest_new = events
            .iter()
            .filter_map(|e| match &e.kind {
                crate::domain::event::EventKind::ClocksChanged { clocks, .. } => clocks
                    .iter()
                    .filter(|c| c.is_running())
                    .flat_map(|c| [Some(c.clock.warn_at), Some(c.clock.due_at), c.auto_accept_at])
                    .flatten()
                    .min(),
                _ => None,
            })
            .min();
        if earliest_new.is_some_and(|at| at.timestamp_millis() < planned) {
            self.timer_wake.notify_one();
        }
        self.live.committed(&change.ticket, events);
    }

    pub fn live(&self) -> &Arc<crate::live::Hub> {
        &self.live
    }
}

/// The mail each committed event causes, read against the catalogue in force.
fn notifier(config: Arc<Config>, catalog: Arc<RwLock<Arc<Catalog>>>) -> crate::store::Notifier {
    let supervisors = config.supervisors();
    Arc::new(move |event, ticket| {
        let catalog = catalog.read().expect("catalog lock poisoned").clone();
        let settings = crate::domain::notices::NoticeSettings {
            public_base_url: &config.public_base_url,
            supervisors: &supervisors,
            policies: &catalog.policies,
        };
        crate::domain::notices::mail_for_event(event, ticket, &catalog.district, &catalog.calendar, &settings)
    })
}

/// The texts each committed event causes, read against the templates in force.
fn texter(config: &Config, catalog: Arc<RwLock<Arc<Catalog>>>) -> crate::store::Texter {
    // `Config::validate` has checked the quiet hours before a server starts.
    let quiet = config.sms_quiet().unwrap_or_else(|e| {
        tracing::warn!("{e}; texts keep 21:00-08:00 as quiet hours");
        Config::default().sms_quiet().expect("the default quiet hours parse")
    });
    let track_url = format!("{}/track", config.public_base_url.trim_end_matches('/'));
    Arc::new(move |event, ticket| {
        let catalog = catalog.read().expect("catalog lock poisoned").clone();
        let settings =
            crate::domain::sms::SmsSettings { templates: &catalog.sms_templates, track_url: &track_url, quiet };
        crate::domain::sms::texts_for_event(event, ticket, &catalog.district, &settings)
    })
}

#[derive(OpenApi)]
#[openapi(
    info(title = "12345 hotline", description = "Tickets from call to archive: intake, dispatch, SLA clocks, callbacks."),
    modifiers(&BearerAuth),
    tags((name = "tickets"), (name = "transitions", description = "One endpoint per lifecycle transition"), (name = "dispatch", description = "Dispatch rules: preview, statistics, reload"), (name = "admin"), (name = "assessment", description = "考评: monthly ranking, exclusions (核减)"), (name = "live", description = "Live boards: snapshots and the websocket"), (name = "auth"), (name = "public", description = "网上诉求: residents submit and track without login"), (name = "meta"), (name = "search", description = "Search, duplicates (并单), knowledge base, hot spots"), (name = "sms", description = "短信: the SMS gateway's callbacks (replies, delivery reports) and the reply queue"), (name = "cti", description = "Telephone: call events from the PBX, seats (坐席), screen-pop, missed calls (漏接回拨), call statistics"))
)]
struct ApiDoc;

struct BearerAuth;

impl Modify for BearerAuth {
    fn modify(&self, openapi: &mut utoipa::openapi::OpenApi) {
        let components = openapi.components.get_or_insert_with(Default::default);
        components.add_security_scheme("bearer", SecurityScheme::Http(Http::new(HttpAuthScheme::Bearer)));
    }
}

/// The API routes and the OpenAPI document built from the same declarations, so the
/// document cannot miss a route.
pub fn api() -> (Router<AppState>, utoipa::openapi::OpenApi) {
    let (router, mut doc) = OpenApiRouter::with_openapi(ApiDoc::openapi())
        .routes(routes!(meta::healthz))
        .routes(routes!(meta::readyz))
        .routes(routes!(auth::login))
        .routes(routes!(auth::logout))
        .routes(routes!(auth::whoami))
        .routes(routes!(meta::departments))
        .routes(routes!(meta::categories))
        .routes(routes!(meta::streets))
        .routes(routes!(tickets::create_ticket, tickets::list_tickets))
        .routes(routes!(tickets::get_ticket))
        .routes(routes!(tickets::ticket_events))
        .routes(routes!(tickets::caller_history))
        .routes(routes!(tickets::resolve))
        .routes(routes!(tickets::dispatch))
        .routes(routes!(tickets::redispatch))
        .routes(routes!(tickets::pass_down))
        .routes(routes!(tickets::accept))
        .routes(routes!(tickets::contact))
        .routes(routes!(tickets::return_ticket))
        .routes(routes!(tickets::reject_return))
        .routes(routes!(tickets::request_extension))
        .routes(routes!(tickets::decide_extension))
        .routes(routes!(tickets::request_suspension))
        .routes(routes!(tickets::decide_suspension))
        .routes(routes!(tickets::resume))
        .routes(routes!(tickets::assist_reply))
        .routes(routes!(tickets::waive_assists))
        .routes(routes!(tickets::reply))
        .routes(routes!(tickets::callback))
        .routes(routes!(tickets::claim_callback))
        .routes(routes!(tickets::callback_queue))
        .routes(routes!(tickets::close))
        .routes(routes!(tickets::reopen))
        .routes(routes!(tickets::urge))
        .routes(routes!(tickets::supervise))
        .routes(routes!(tickets::reveal_caller))
        .routes(routes!(tickets::hand_off))
        .routes(routes!(tickets::merge))
        .routes(routes!(merging::unmerge))
        .routes(routes!(dispatch::preview))
        .routes(routes!(dispatch::policies))
        .routes(routes!(dispatch::stats))
        .routes(routes!(dispatch::rules_status))
        .routes(routes!(dispatch::reload))
        .routes(routes!(assessment::ranking))
        .routes(routes!(assessment::ranking_csv))
        .routes(routes!(assessment::add_exclusion, assessment::list_exclusions))
        .routes(routes!(assessment::withdraw_exclusion))
        .routes(routes!(admin::mail_status))
        .routes(routes!(dashboard::supervisor))
        .routes(routes!(dashboard::department))
        .routes(routes!(dashboard::operator))
        .routes(routes!(dashboard::live))
        .routes(routes!(admin::retry_mail))
        .routes(routes!(sms::kannel_mo, sms::kannel_mo_post))
        .routes(routes!(sms::kannel_dlr))
        .routes(routes!(sms::sms_status))
        .routes(routes!(sms::sms_inbox))
        .routes(routes!(sms::retry_text))
        .routes(routes!(sms::inbox_handled))
        .routes(routes!(users::list_users, users::add_user))
        .routes(routes!(users::set_password))
        .routes(routes!(users::disable_user))
        .routes(routes!(users::enable_user))
        .routes(routes!(users::audit))
        .routes(routes!(public::form))
        .routes(routes!(public::submit))
        .routes(routes!(public::track))
        .routes(routes!(web::clock))
        .routes(routes!(search::search))
        .routes(routes!(search::similar))
        .routes(routes!(kb::list_articles, kb::add_article))
        .routes(routes!(kb::update_article))
        .routes(routes!(kb::retire_article))
        .routes(routes!(hotspots::hotspots))
        .routes(routes!(suggest::suggest))
        .routes(routes!(suggest::accuracy))
        .routes(routes!(cti::post_events))
        .routes(routes!(cti::next_extension))
        .routes(routes!(cti::my_seat))
        .routes(routes!(cti::sign_in))
        .routes(routes!(cti::sign_out))
        .routes(routes!(cti::take_break))
        .routes(routes!(cti::ready))
        .routes(routes!(cti::seat_board))
        .routes(routes!(cti::list_calls))
        .routes(routes!(cti::get_call))
        .routes(routes!(cti::call_pop))
        .routes(routes!(cti::ticket_calls))
        .routes(routes!(cti::missed_list))
        .routes(routes!(cti::claim_missed))
        .routes(routes!(cti::missed_outcome))
        .routes(routes!(cti::call_stats))
        .routes(routes!(attachments::download))
        .routes(routes!(attachments::thumbnail))
        .routes(routes!(attachments::public_download))
        .routes(routes!(attachments::public_thumbnail))
        // Uploads stream past the general body limit; the attachment limits are checked
        // on every chunk instead (413 naming the limit).
        .merge(
            OpenApiRouter::new()
                .routes(routes!(attachments::upload, attachments::list))
                .routes(routes!(attachments::public_upload))
                .layer(DefaultBodyLimit::disable()),
        )
        .routes(routes!(open311::list_keys, open311::add_key))
        .routes(routes!(open311::revoke_key))
        .split_for_parts();
    openapi::complete(&mut doc);
    (router, doc)
}

pub fn app(state: AppState) -> Router {
    let (api, doc) = api();
    let doc = Arc::new(doc);
    let limit = state.config.body_limit_bytes;
    let timeout = Duration::from_secs(state.config.request_timeout_secs);
    api.route("/api/openapi.json", axum::routing::get(move || meta::openapi(doc.clone())))
        .route("/metrics", axum::routing::get(crate::metrics::scrape))
        .merge(web::routes())
        .merge(open311::routes())
        .fallback(meta::no_route)
        .method_not_allowed_fallback(meta::method_not_allowed)
        .layer(DefaultBodyLimit::max(limit))
        .layer(TimeoutLayer::with_status_code(axum::http::StatusCode::SERVICE_UNAVAILABLE, timeout))
        // Outside the timeout, so a request answered 503 for taking too long is counted.
        .layer(axum::middleware::from_fn(crate::metrics::track))
        .layer(
            TraceLayer::new_for_http()
                .make_span_with(|req: &axum::http::Request<_>| {
                    let id = req.headers().get("x-request-id").and_then(|v| v.to_str().ok()).unwrap_or("-");
                    tracing::info_span!("request", method = %req.method(), uri = %req.uri(), request_id = %id)
                })
                // One line per request at info: status and latency, inside the request's span.
                .on_response(tower_http::trace::DefaultOnResponse::new().level(tracing::Level::INFO)),
        )
        .layer(PropagateRequestIdLayer::x_request_id())
        .layer(SetRequestIdLayer::x_request_id(MakeRequestUuid))
        .with_state(state)
}

/// Serves until `shutdown` resolves, then lets in-flight requests finish.
pub async fn serve(
    listener: tokio::net::TcpListener,
    state: AppState,
    shutdown: impl std::future::Future<Output = ()> + Send + 'static,
) -> std::io::Result<()> {
    // The peer address: what login failures and the public form's rate limits are counted
    // against (unless `client_ip_header` names the load balancer's header).
    axum::serve(listener, app(state).into_make_service_with_connect_info::<std::net::SocketAddr>())
        .with_graceful_shutdown(shutdown)
        .await
}
