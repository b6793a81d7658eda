//! `GET /api/v1/hotspots`: the hot spots (未诉先办) raised lately, for supervisors. The watch
//! itself is `jobs::hotspots`; the rule `domain::hotspots`; the live message (`hotspot_alert`)
//! carries the same [`HotspotView`].

use super::auth::Auth;
use super::error::{ApiError, ErrorBody};
use super::AppState;
use crate::domain::district::District;
use crate::domain::hotspots::{Alert, VIEWERS};
use axum::extract::State;
use axum::Json;
use serde::Serialize;
use utoipa::ToSchema;

/// How far back the list goes.
const DAYS: i64 = 7;

/// An alert with its street and category named.
#[derive(Serialize, ToSchema)]
pub struct HotspotView {
    #[serde(flatten)]
    pub alert: Alert,
    pub street_name: Option<String>,
    pub category_name: Option<String>,
}

impl HotspotView {
    /// The list's rows and the live message's `alert`.
    pub fn of(alert: Alert, district: &District) -> HotspotView {
        HotspotView {
            street_name: district.street(&alert.street).map(|s| s.name.clone()),
            category_name: district.category_path(&alert.category),
            alert,
        }
    }
}

#[derive(Serialize, ToSchema)]
pub struct HotspotList {
    pub alerts: Vec<HotspotView>,
}

/// Hot spots raised in the last seven days, newest first (supervisors, admins).
#[utoipa::path(get, path = "/api/v1/hotspots", tag = "search", security(("bearer" = [])),
    responses((status = 200, body = HotspotList), (status = 403, body = ErrorBody)))]
pub async fn hotspots(State(state): State<AppState>, auth: Auth) -> Result<Json<HotspotList>, ApiError> {
    auth.require(&VIEWERS)?;
    let catalog = state.catalog();
    let since = state.store.now() - chrono::Duration::days(DAYS);
    let alerts = state.store.hotspot_alerts(since, 200).await?;
    Ok(Json(HotspotList { alerts: alerts.into_iter().map(|a| HotspotView::of(a, &catalog.district)).collect() }))
}
