//! `/metrics` in the Prometheus text format: request counts and latencies by route (the
//! matched path template, never the raw URL), login refusals, and at each scrape the
//! state of the work: tickets by status, running clocks, timer lag, the mail outbox,
//! websocket clients and the database pools.
//!
//! Counters and histograms go through the `metrics` facade into one process-wide
//! Prometheus recorder; the gauges are read from the store when scraped, so every instance
//! reports the same database-wide numbers and its own pools and clients.

use crate::http::AppState;
use axum::extract::{MatchedPath, Request, State};
use axum::http::{header, HeaderMap, StatusCode};
use axum::middleware::Next;
use axum::response::{IntoResponse, Response};
use metrics_exporter_prometheus::{Matcher, PrometheusBuilder, PrometheusHandle};
use std::sync::OnceLock;
use std::time::Instant;

const REQUEST_SECONDS: &str = "hotline_http_request_duration_seconds";

/// The recorder, installed once per process (tests run several servers in one).
fn handle() -> &'static PrometheusHandle {
    static HANDLE: OnceLock<PrometheusHandle> = OnceLock::new();
    HANDLE.get_or_init(|| {
        let recorder = PrometheusBuilder::new()
            .set_buckets_for_metric(
                Matcher::Full(REQUEST_SECONDS.into()),
                &[0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0, 10.0, 30.0],
            )
            .expect("bucket list is not empty")
            .build_recorder();
        let handle = recorder.handle();
        // Another recorder installed first (an embedding program's) keeps working; ours
        // then only renders what it recorded.
        let _ = metrics::set_global_recorder(recorder);
        handle
    })
}

/// Counts and times every request by method, route template and status.
pub async fn track(matched: Option<MatchedPath>, request: Request, next: Next) -> Response {
    let _ = handle();
    let started = Instant::now();
    let method = request.method().as_str().to_string();
    let route = matched.map_or_else(|| "unmatched".to_string(), |m| m.as_str().to_string());
    let response = next.run(request).await;
    let status = response.status().as_u16().to_string();
    metrics::counter!("hotline_http_requests_total", "method" => method.clone(), "route" => route.clone(), "status" => status)
        .increment(1);
    metrics::histogram!(REQUEST_SECONDS, "method" => method, "route" => route).record(started.elapsed().as_secs_f64());
    response
}

/// A login refused: `wrong_password` or `locked_out`.
pub fn login_refused(reason: &'static str) {
    let _ = handle();
    metrics::counter!("hotline_login_refusals_total", "reason" => reason).increment(1);
}

/// `GET /metrics`; with `metrics_token` set, only with `Authorization: Bearer TOKEN`.
pub async fn scrape(State(state): State<AppState>, headers: HeaderMap) -> Response {
    if let Some(token) = &state.config.metrics_token {
        let given =
            headers.get(header::AUTHORIZATION).and_then(|v| v.to_str().ok()).and_then(|v| v.strip_prefix("Bearer "));
        if given != Some(token.as_str()) {
            return (StatusCode::UNAUTHORIZED, "metrics need Authorization: Bearer <metrics_token>\n").into_response();
        }
    }
    let mut text = handle().render();
    match gauges(&state).await {
        Ok(g) => text.push_str(&g),
        Err(e) => {
            tracing::warn!("metrics: the database did not answer: {e}");
            text.push_str("# the database did not answer; work gauges left out\nhotline_database_up 0\n");
        }
    }
    ([(header::CONTENT_TYPE, "text/plain; version=0.0.4; charset=utf-8")], text).into_response()
}

/// Gauges read at scrape time, in the text format.
async fn gauges(state: &AppState) -> Result<String, crate::store::StoreError> {
    let store = &state.store;
    let work = store.work_gauges(store.now()).await?;
    let mut out = String::new();
    let mut gauge = |name: &str, help: &str, samples: Vec<(String, f64)>| {
        out.push_str(&format!("# HELP {name} {help}\n# TYPE {name} gauge\n"));
        for (labels, value) in samples {
            out.push_str(&format!("{name}{labels} {value}\n"));
        }
    };
    gauge("hotline_database_up", "1 when the database answered this scrape", vec![(String::new(), 1.0)]);
    gauge(
        "hotline_tickets",
        "tickets by status",
        work.tickets_by_status.iter().map(|(s, n)| (format!("{{status=\"{s}\"}}"), *n as f64)).collect(),
    );
    gauge(
        "hotline_open_clocks",
        "tickets whose reply clock runs (dispatched, accepted, return requested)",
        vec![(String::new(), work.open_clocks as f64)],
    );
    gauge("hotline_timers_pending", "stored timers not yet fired", vec![(String::new(), work.timers as f64)]);
    gauge(
        "hotline_timer_lag_seconds",
        "how long the earliest due timer has waited to fire (0 when none is due)",
        vec![(String::new(), work.timer_lag_seconds)],
    );
    gauge(
        "hotline_outbox_pending",
        "outbox rows waiting to be sent, by outbox",
        vec![
            ("{outbox=\"mail\"}".into(), work.mail_pending as f64),
            ("{outbox=\"search\"}".into(), work.search_pending as f64),
        ],
    );
    gauge(
        "hotline_outbox_oldest_seconds",
        "age of the oldest waiting outbox row, by outbox",
        vec![("{outbox=\"mail\"}".into(), work.mail_oldest_seconds)],
    );
    gauge(
        "hotline_mail_failed",
        "mail given up on (see GET /api/v1/admin/mail)",
        vec![(String::new(), work.mail_failed as f64)],
    );
    gauge(
        "hotline_websocket_clients",
        "live websocket clients of this instance",
        vec![(String::new(), state.live().client_count() as f64)],
    );
    let pools = store.pool_stats();
    gauge(
        "hotline_db_pool_connections",
        "database pool connections of this instance, by pool and state",
        pools
            .iter()
            .flat_map(|(pool, size, idle)| {
                [
                    (format!("{{pool=\"{pool}\",state=\"idle\"}}"), *idle as f64),
                    (format!("{{pool=\"{pool}\",state=\"busy\"}}"), size.saturating_sub(*idle as u32) as f64),
                ]
            })
            .collect(),
    );
    gauge(
        "hotline_db_pool_max_connections",
        "the bound of each database pool (db_max_connections)",
        pools.iter().map(|(pool, _, _)| (format!("{{pool=\"{pool}\"}}"), store.pool_bound(pool) as f64)).collect(),
    );
    Ok(out)
}
