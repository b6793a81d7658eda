//! Health, reference data (departments, categories, streets) and the OpenAPI document.

use super::error::{ApiError, ErrorBody};
use super::AppState;
use crate::domain::initials::initials;
use axum::extract::State;
use axum::http::StatusCode;
use axum::Json;
use serde::Serialize;
use std::sync::Arc;
use utoipa::ToSchema;

#[derive(Serialize, ToSchema)]
pub struct Health {
    pub status: &'static str,
}

/// The process is alive.
#[utoipa::path(get, path = "/healthz", tag = "meta", responses((status = 200, body = Health)))]
pub async fn healthz() -> Json<Health> {
    Json(Health { status: "ok" })
}

/// The database answers.
#[utoipa::path(get, path = "/readyz", tag = "meta", responses((status = 200, body = Health), (status = 503, body = ErrorBody)))]
pub async fn readyz(State(state): State<AppState>) -> Result<Json<Health>, ApiError> {
    state.store.ping().await.map_err(|e| ApiError::Unavailable(format!("database not reachable: {e}")))?;
    Ok(Json(Health { status: "ready" }))
}

/// One unit of the district (承办单位). Not the department's live board
/// (`live::views::DepartmentView`), whose schema name that is.
#[derive(Serialize, ToSchema)]
pub struct DepartmentInfo {
    pub code: String,
    pub name: String,
    pub short_name: String,
    pub kind: String,
    pub parent: Option<String>,
    /// Pinyin initials of the short name (区城管委 → `qcgw`), for search boxes.
    pub initials: String,
}

/// The department tree, as a flat list with parents.
#[utoipa::path(get, path = "/api/v1/departments", tag = "meta", security(("bearer" = [])),
    responses((status = 200, body = Vec<DepartmentInfo>)))]
pub async fn departments(State(state): State<AppState>, _auth: super::auth::Auth) -> Json<Vec<DepartmentInfo>> {
    let catalog = state.catalog();
    Json(
        catalog
            .district
            .departments
            .iter()
            .map(|d| DepartmentInfo {
                code: d.code.clone(),
                name: d.name.clone(),
                short_name: d.short_name.clone(),
                kind: d.kind.as_str().to_string(),
                parent: d.parent.clone(),
                initials: initials(&d.short_name),
            })
            .collect(),
    )
}

#[derive(Serialize, ToSchema)]
pub struct CategoryView {
    pub code: String,
    pub name: String,
    pub path: String,
    pub leaf: bool,
    /// Pinyin initials of the name (路灯故障 → `ldgz`), for search boxes.
    pub initials: String,
}

/// The category taxonomy.
#[utoipa::path(get, path = "/api/v1/categories", tag = "meta", security(("bearer" = [])),
    responses((status = 200, body = Vec<CategoryView>)))]
pub async fn categories(State(state): State<AppState>, _auth: super::auth::Auth) -> Json<Vec<CategoryView>> {
    let catalog = state.catalog();
    let d = &catalog.district;
    Json(
        d.categories
            .iter()
            .map(|c| CategoryView {
                code: c.code.clone(),
                name: c.name.clone(),
                path: d.category_path(&c.code).unwrap_or_else(|| c.name.clone()),
                leaf: d.is_leaf_category(&c.code),
                initials: initials(&c.name),
            })
            .collect(),
    )
}

#[derive(Serialize, ToSchema)]
pub struct StreetView {
    pub code: String,
    pub name: String,
    pub office: String,
    pub communities: Vec<CommunityView>,
}

#[derive(Serialize, ToSchema)]
pub struct CommunityView {
    pub code: String,
    pub name: String,
}

/// Streets (街道) and their communities (社区).
#[utoipa::path(get, path = "/api/v1/streets", tag = "meta", security(("bearer" = [])),
    responses((status = 200, body = Vec<StreetView>)))]
pub async fn streets(State(state): State<AppState>, _auth: super::auth::Auth) -> Json<Vec<StreetView>> {
    let catalog = state.catalog();
    Json(
        catalog
            .district
            .streets
            .iter()
            .map(|s| StreetView {
                code: s.code.clone(),
                name: s.name.clone(),
                office: s.office.clone(),
                communities: s
                    .communities
                    .iter()
                    .map(|c| CommunityView { code: c.code.clone(), name: c.name.clone() })
                    .collect(),
            })
            .collect(),
    )
}

pub async fn openapi(doc: Arc<utoipa::openapi::OpenApi>) -> Json<utoipa::openapi::OpenApi> {
    Json((*doc).clone())
}

pub async fn no_route() -> ApiError {
    ApiError::NoRoute("no such endpoint; see /api/openapi.json".into())
}

pub async fn method_not_allowed() -> (StatusCode, Json<ErrorBody>) {
    (
        StatusCode::METHOD_NOT_ALLOWED,
        Json(ErrorBody {
            error: "method_not_allowed",
            message: "this endpoint does not take that method".into(),
            field: None,
        }),
    )
}
