//! The dispatch catalogue over HTTP: routing preview while the operator types, the per-rule
//! statistics the centre fixes its catalogue with, and reloading the rules without a restart.

use super::auth::Auth;
use super::error::{ApiError, ErrorBody};
use super::input::ApiQuery;
use super::json::ApiJson;
use super::views::{deadline_view, DeadlineView};
use super::AppState;
use crate::catalog::Catalog;
use crate::domain::diagnostic::{Diagnostic, Severity};
use crate::domain::event::ActorRef;
use crate::domain::rules::{Explanation, RoutingInput};
use crate::domain::sla::Stage;
use crate::domain::types::{Channel, Kind, Role, Urgency};
use crate::store::dispatch::{EmergencyDecisions, RuleOutcome};
use axum::extract::State;
use axum::Json;
use serde::{Deserialize, Serialize};
use utoipa::ToSchema;

#[derive(Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct PreviewBody {
    pub kind: Kind,
    #[serde(default = "phone")]
    pub channel: Channel,
    #[serde(default = "normal")]
    pub urgency: Urgency,
    #[serde(default)]
    pub category: String,
    pub street: Option<String>,
    pub community: Option<String>,
    #[serde(default)]
    pub address: String,
    #[serde(default)]
    pub content: String,
}

fn phone() -> Channel {
    Channel::Phone
}
fn normal() -> Urgency {
    Urgency::Normal
}

#[derive(Serialize, ToSchema)]
pub struct Preview {
    /// Which rules matched, which came close and why they failed, and which one won.
    #[serde(flatten)]
    #[schema(value_type = Object)]
    pub explanation: Explanation,
    /// "可能紧急: 起火 (matched 厨房起火了)" when an emergency rule proposes urgency: the operator
    /// confirms (`"emergency": "confirm"` at intake), hands off (`"hand_off"`) or dismisses it.
    pub emergency_notice: Option<String>,
    /// Where the call would go if the operator dismissed the proposal, with the rule, policy
    /// and deadlines it would get then: what the preview shows once the operator dismisses.
    #[schema(value_type = Option<Object>)]
    pub if_dismissed: Option<DismissedPreview>,
    /// The reply deadline the ticket would get if logged now.
    pub reply_deadline: Option<DeadlineView>,
    pub accept_deadline: Option<DeadlineView>,
    /// The winning rule in words (its description), for the operator: the id is for the
    /// catalogue's editors.
    pub rule_description: Option<String>,
    /// The winning policy as people read it: its label and reply limit, `一般诉求 5个工作日`.
    pub policy_label: Option<String>,
}

/// The routing a call gets when its emergency proposal is dismissed, as the preview shows it.
#[derive(Serialize)]
pub struct DismissedPreview {
    #[serde(flatten)]
    pub routing: crate::domain::rules::Routing,
    pub rule_description: Option<String>,
    pub policy_label: Option<String>,
    pub reply_deadline: Option<DeadlineView>,
    pub accept_deadline: Option<DeadlineView>,
}

/// A policy as the dispatch dialogs offer it: its words, and the deadlines it would give a
/// ticket assigned now.
#[derive(Serialize, ToSchema)]
pub struct PolicyChoice {
    pub name: String,
    /// `一般诉求 5个工作日`.
    pub label: String,
    pub accept_deadline: DeadlineView,
    pub reply_deadline: DeadlineView,
    /// What a ticket gets when nobody names a policy.
    pub default: bool,
}

/// The SLA policies (时限标准), with the deadlines each would give a ticket dispatched now.
#[utoipa::path(get, path = "/api/v1/dispatch/policies", tag = "dispatch", security(("bearer" = [])),
    responses((status = 200, body = Vec<PolicyChoice>)))]
pub async fn policies(State(state): State<AppState>, _auth: Auth) -> Json<Vec<PolicyChoice>> {
    let catalog = state.catalog();
    let now = state.store.now();
    let default = catalog.policies.default_policy().name.clone();
    let deadline = |name: &str, stage: Stage| {
        let limit = catalog.policies.get(name).map(|p| p.limit(stage).within);
        let at = limit.map(|l| catalog.calendar.due(now, l).at).unwrap_or(now);
        deadline_view(&catalog, Some(name), stage, at, now)
    };
    Json(
        catalog
            .policies
            .iter()
            .map(|p| PolicyChoice {
                name: p.name.clone(),
                label: policy_label(&catalog, &p.name),
                accept_deadline: deadline(&p.name, Stage::Accept),
                reply_deadline: deadline(&p.name, Stage::Reply),
                default: p.name == default,
            })
            .collect(),
    )
}

/// `一般诉求 5个工作日`: the policy's label and its reply limit; the name when unknown.
pub fn policy_label(catalog: &Catalog, name: &str) -> String {
    match catalog.policies.get(name) {
        Some(p) => format!("{} {}", p.label, p.reply.within.zh_label()),
        None => name.to_string(),
    }
}

/// Where a ticket being typed would go, and why (the operator's routing preview).
#[utoipa::path(post, path = "/api/v1/dispatch/preview", tag = "dispatch", security(("bearer" = [])),
    request_body = PreviewBody, responses((status = 200, body = Preview), (status = 400, body = ErrorBody)))]
pub async fn preview(
    State(state): State<AppState>,
    auth: Auth,
    ApiJson(b): ApiJson<PreviewBody>,
) -> Result<Json<Preview>, ApiError> {
    auth.require(&[Role::Operator, Role::Dispatcher, Role::Supervisor])?;
    let catalog = state.catalog();
    let now = state.store.now();
    let input = RoutingInput {
        kind: b.kind.as_str(),
        category: b.category.trim(),
        content: &b.content,
        address: &b.address,
        street: b.street.as_deref(),
        community: b.community.as_deref(),
        channel: b.channel.as_str(),
        urgency: b.urgency.as_str(),
        received_at: now,
    };
    let explanation = catalog.rules.explain(&input, &catalog.district);
    let deadline = |routing: &crate::domain::rules::Routing, stage: Stage| {
        routing.decision().and_then(|d| {
            let limit = catalog.policies.get(&d.policy)?.limit(stage).within;
            let at = catalog.calendar.due(now, limit).at;
            Some(deadline_view(&catalog, Some(&d.policy), stage, at, now))
        })
    };
    let described = |routing: &crate::domain::rules::Routing| {
        let decision = routing.decision();
        (
            decision.and_then(|d| catalog.rules.rule(&d.rule_id)).map(|r| r.description.clone()),
            decision.map(|d| policy_label(&catalog, &d.policy)),
        )
    };
    let (reply_deadline, accept_deadline) =
        (deadline(&explanation.decision, Stage::Reply), deadline(&explanation.decision, Stage::Accept));
    let (rule_description, policy_label) = described(&explanation.decision);
    let proposal = explanation.decision.decision().and_then(|d| d.emergency.as_ref());
    let emergency_notice = proposal.map(|p| {
        let handoff = p.handoff.as_deref().map(|n| format!("，可转接 {n}")).unwrap_or_default();
        match &p.learned {
            Some(l) => format!("可能紧急: {} (按历史来电判断, 把握 {}%: {}){handoff}", p.label, l.percent, p.matched),
            None => format!("可能紧急: {} (matched {}){handoff}", p.label, p.matched),
        }
    });
    let if_dismissed = proposal.map(|_| {
        let routing = catalog.rules.route_dismissed(&input, &catalog.district);
        let (rule_description, policy_label) = described(&routing);
        DismissedPreview {
            reply_deadline: deadline(&routing, Stage::Reply),
            accept_deadline: deadline(&routing, Stage::Accept),
            rule_description,
            policy_label,
            routing,
        }
    });
    Ok(Json(Preview {
        explanation,
        emergency_notice,
        if_dismissed,
        reply_deadline,
        accept_deadline,
        rule_description,
        policy_label,
    }))
}

#[derive(Serialize, ToSchema)]
pub struct RuleStats {
    #[serde(flatten)]
    pub outcome: RuleOutcome,
    pub description: Option<String>,
    /// Returned ÷ routed.
    pub return_rate: f64,
    /// The rule is no longer in the catalogue.
    pub retired: bool,
    /// 可能紧急 proposals of this rule confirmed (kept urgent, or handed off) at intake.
    pub emergency_confirmed: i64,
    /// 可能紧急 proposals of this rule the operator dismissed: a rule that cries wolf.
    pub emergency_dismissed: i64,
    /// Proposals by decision (confirmed, handed off, dismissed, undecided), for emergency rules.
    #[schema(value_type = Option<Object>)]
    pub emergency: Option<EmergencyDecisions>,
}

/// Rules whose tickets are most often returned (退单) or re-dispatched (改派), worst first.
#[utoipa::path(get, path = "/api/v1/dispatch/stats", tag = "dispatch", security(("bearer" = [])),
    params(("since" = Option<String>, Query, description = "only tickets created since this RFC 3339 instant")),
    responses((status = 200, body = Vec<RuleStats>), (status = 403, body = ErrorBody)))]
pub async fn stats(
    State(state): State<AppState>,
    auth: Auth,
    ApiQuery(q): ApiQuery,
) -> Result<Json<Vec<RuleStats>>, ApiError> {
    auth.require(&[Role::Dispatcher, Role::Supervisor])?;
    let since = match super::tickets::given(&q, "since")? {
        Some(s) => Some(
            chrono::DateTime::parse_from_rfc3339(s)
                .map_err(|_| {
                    ApiError::bad_request("since", "since: an RFC 3339 instant, e.g. 2026-11-01T00:00:00+08:00")
                })?
                .to_utc(),
        ),
        None => None,
    };
    let catalog = state.catalog();
    let mut emergencies: std::collections::HashMap<String, EmergencyDecisions> =
        state.store.emergency_decisions(since).await?.into_iter().map(|e| (e.rule_id.clone(), e)).collect();
    let mut outcomes = state.store.rule_outcomes(since).await?;
    // A rule whose every proposal was dismissed routed nothing itself: it is listed all the same.
    for rule_id in emergencies.keys() {
        if !outcomes.iter().any(|o| &o.rule_id == rule_id) {
            outcomes.push(RuleOutcome {
                rule_id: rule_id.clone(),
                routed: 0,
                returned: 0,
                redispatched: 0,
                redispatched_to: Vec::new(),
            });
        }
    }
    let mut list: Vec<RuleStats> = outcomes
        .into_iter()
        .map(|o| {
            let info = catalog.rules.rule(&o.rule_id);
            let emergency = emergencies.remove(&o.rule_id);
            RuleStats {
                description: info.map(|r| r.description.clone()),
                retired: info.is_none(),
                return_rate: if o.routed > 0 { o.returned as f64 / o.routed as f64 } else { 0.0 },
                emergency_confirmed: emergency.as_ref().map_or(0, |e| e.confirmed + e.handed_off),
                emergency_dismissed: emergency.as_ref().map_or(0, |e| e.dismissed),
                emergency,
                outcome: o,
            }
        })
        .collect();
    list.sort_by(|a, b| {
        b.return_rate
            .total_cmp(&a.return_rate)
            .then(b.outcome.returned.cmp(&a.outcome.returned))
            .then(a.outcome.rule_id.cmp(&b.outcome.rule_id))
    });
    Ok(Json(list))
}

#[derive(Serialize, ToSchema, Clone)]
pub struct RulesStatus {
    /// Content hash of the rule files in force.
    pub version: String,
    pub rules: usize,
    pub warnings: Vec<String>,
    /// Why the last reload was refused, if it was (the old rules stayed in force).
    pub last_error: Option<Vec<String>>,
}

fn status(catalog: &Catalog, last_error: Option<Vec<String>>) -> RulesStatus {
    RulesStatus {
        version: catalog.rules.version().to_string(),
        rules: catalog.rules.len(),
        warnings: catalog.rule_warnings.iter().map(|d| d.to_string()).collect(),
        last_error,
    }
}

/// The rules in force, and the last refused reload.
#[utoipa::path(get, path = "/api/v1/admin/rules", tag = "dispatch", security(("bearer" = [])),
    responses((status = 200, body = RulesStatus), (status = 403, body = ErrorBody)))]
pub async fn rules_status(State(state): State<AppState>, auth: Auth) -> Result<Json<RulesStatus>, ApiError> {
    auth.require(&[Role::Admin, Role::Supervisor, Role::Dispatcher])?;
    Ok(Json(status(&state.catalog(), state.last_reload_error())))
}

/// Reread `dispatch_rules/` and swap the new rules in atomically; a broken edit is refused
/// and the old rules stay in force.
#[utoipa::path(post, path = "/api/v1/admin/rules/reload", tag = "dispatch", security(("bearer" = [])),
    responses((status = 200, body = RulesStatus), (status = 403, body = ErrorBody), (status = 422, body = ErrorBody)))]
pub async fn reload(State(state): State<AppState>, auth: Auth) -> Result<Json<RulesStatus>, ApiError> {
    auth.require(&[Role::Admin])?;
    let actor = crate::store::actor_ref(&auth.actor);
    match reload_catalog(&state, &actor, "api").await {
        Ok(catalog) => Ok(Json(status(&catalog, None))),
        Err(ReloadError::Invalid(diagnostics)) => {
            let first = diagnostics.iter().find(|d| d.severity == Severity::Error).or(diagnostics.first());
            Err(ApiError::Invalid {
                message: format!(
                    "the rules were not reloaded; the old rules stay in force. {}",
                    diagnostics.iter().map(|d| d.to_string()).collect::<Vec<_>>().join("; ")
                ),
                field: first.map(|d| d.file.clone()),
            })
        }
        Err(ReloadError::Internal(e)) => Err(ApiError::Internal(e)),
    }
}

pub enum ReloadError {
    Invalid(Vec<Diagnostic>),
    Internal(String),
}

/// Loads the catalogue from disk and, if it is valid, makes it the one in force. Both
/// outcomes are recorded in the event log and the server log.
pub async fn reload_catalog(
    state: &AppState,
    actor: &ActorRef,
    trigger: &str,
) -> Result<std::sync::Arc<Catalog>, ReloadError> {
    let _turn = state.reload_turn().await;
    let dir = state.config.rules_dir.clone();
    let started = std::time::Instant::now();
    let loaded = tokio::task::spawn_blocking(move || Catalog::load(&dir))
        .await
        .map_err(|e| ReloadError::Internal(e.to_string()))?;
    let elapsed_ms = started.elapsed().as_secs_f64() * 1000.0;
    match loaded {
        Ok(catalog) => {
            let previous = state.catalog().rules.version().to_string();
            let calendar_changed = state.catalog().calendar != catalog.calendar;
            let data = serde_json::json!({
                "trigger": trigger,
                "version": catalog.rules.version(),
                "previous_version": previous,
                "rules": catalog.rules.len(),
                "warnings": catalog.rule_warnings.iter().map(|d| d.to_string()).collect::<Vec<_>>(),
                "load_ms": elapsed_ms,
            });
            state.replace_catalog(catalog);
            state.set_reload_error(None);
            state
                .store
                .append_system_event(actor, "rules_reloaded", &data)
                .await
                .map_err(|e| ReloadError::Internal(e.to_string()))?;
            tracing::info!(%trigger, version = %data["version"], rules = %data["rules"], load_ms = elapsed_ms, "dispatch rules reloaded");
            if calendar_changed {
                // Open deadlines follow the new calendar; each moved clock is an event.
                let state = state.clone();
                tokio::spawn(async move {
                    match crate::jobs::timers::recompute_open_deadlines(&state).await {
                        Ok(n) => tracing::info!(tickets = n, "working calendar changed: open deadlines recounted"),
                        Err(e) => tracing::error!("recounting deadlines after a calendar change failed: {e}"),
                    }
                });
            }
            Ok(state.catalog())
        }
        Err(diagnostics) => {
            let lines: Vec<String> = diagnostics.iter().map(|d| d.to_string()).collect();
            for line in &lines {
                tracing::warn!(%trigger, "rules reload refused: {line}");
            }
            state.set_reload_error(Some(lines.clone()));
            let data = serde_json::json!({"trigger": trigger, "errors": lines});
            state
                .store
                .append_system_event(actor, "rules_reload_refused", &data)
                .await
                .map_err(|e| ReloadError::Internal(e.to_string()))?;
            Err(ReloadError::Invalid(diagnostics))
        }
    }
}
