//! `GET /api/v1/hotspots`: the hot spots (未诉先办) raised lately, for supervisors. The watch
//! itself is `jobs::hotspots`; the rule `domain::hotspots`.

use super::auth::Auth;
use super::error::{ApiError, ErrorBody};
use super::AppState;
use crate::domain::types::Role;
use axum::extract::State;
use axum::Json;
use chrono::{DateTime, Utc};
use serde::Serialize;
use utoipa::ToSchema;

/// How far back the list goes.
const DAYS: i64 = 7;

#[derive(Serialize, ToSchema)]
pub struct HotspotView {
    pub id: i64,
    pub street: String,
    pub street_name: Option<String>,
    pub category: String,
    pub category_name: Option<String>,
    pub window_hours: i64,
    /// Tickets in the window.
    pub count: i64,
    /// Tickets usually expected in a window of this length.
    pub baseline: f64,
    pub raised_at: DateTime<Utc>,
    /// The ticket ids behind it.
    pub tickets: Vec<i64>,
}

#[derive(Serialize, ToSchema)]
pub struct HotspotList {
    pub alerts: Vec<HotspotView>,
}

/// Hot spots raised in the last seven days, newest first (supervisors, admins).
#[utoipa::path(get, path = "/api/v1/hotspots", tag = "search", security(("bearer" = [])),
    responses((status = 200, body = HotspotList), (status = 403, body = ErrorBody)))]
pub async fn hotspots(State(state): State<AppState>, auth: Auth) -> Result<Json<HotspotList>, ApiError> {
    auth.require(&[Role::Supervisor])?;
    let catalog = state.catalog();
    let since = state.store.now() - chrono::Duration::days(DAYS);
    let alerts = state.store.hotspot_alerts(since, 200).await?;
    Ok(Json(HotspotList {
        alerts: alerts
            .into_iter()
            .map(|a| HotspotView {
                street_name: catalog.district.street(&a.street).map(|s| s.name.clone()),
                category_name: catalog.district.category_path(&a.category),
                id: a.id,
                street: a.street,
                category: a.category,
                window_hours: a.window_hours,
                count: a.count,
                baseline: a.baseline,
                raised_at: a.raised_at,
                tickets: a.tickets,
            })
            .collect(),
    }))
}
