//! `/api/v1/policies`: list, create, delete, and the simulator (`POST
//! /api/v1/policies/simulate`). Project admins' keys only; creating and deleting need a key
//! with full access, and write an `admin.changed` event with the policy before / after.

use std::collections::HashMap;

use axum::extract::{Path, Query, State};
use axum::http::StatusCode;
use axum::Json;
use mandate_core::admin::policies::{self, SimulationRequest};
use mandate_core::policy::draft::PolicyDraft;
use mandate_core::policy::simulate::Simulation;
use mandate_core::policy::Policy;

use super::bodies::{ErrorEnvelope, PolicyList};
use super::{changed, limit_param, ApiCaller, ApiError, ApiJson};
use crate::request_context::Caller;
use crate::state::AppState;

/// Policies in creation order, a page at a time.
#[utoipa::path(get, path = "/api/v1/policies", tag = "Policies",
    params(("cursor" = Option<String>, Query, description = "The previous page's next_cursor"),
           ("limit" = Option<i64>, Query, description = "1 to 200; 100 by default")),
    responses((status = 200, body = PolicyList), (status = 400, body = ErrorEnvelope),
              (status = 401, body = ErrorEnvelope), (status = 403, body = ErrorEnvelope)),
    security(("admin_api_key" = [])))]
pub async fn list(
    State(state): State<AppState>,
    api: ApiCaller,
    Query(params): Query<HashMap<String, String>>,
) -> Result<Json<PolicyList>, ApiError> {
    let limit = limit_param(&params, 100, 200)?;
    let cursor = params.get("cursor").map(String::as_str).unwrap_or_default();
    let (policies, next_cursor) = policies::list(&state.store, &api.access, cursor, limit).await?;
    Ok(Json(PolicyList {
        policies,
        next_cursor,
    }))
}

/// Creates a policy; it takes effect at the next authorization.
#[utoipa::path(post, path = "/api/v1/policies", tag = "Policies",
    request_body = PolicyDraft,
    responses((status = 201, body = Policy), (status = 400, body = ErrorEnvelope),
              (status = 401, body = ErrorEnvelope), (status = 403, body = ErrorEnvelope)),
    security(("admin_api_key" = [])))]
pub async fn create(
    State(state): State<AppState>,
    api: ApiCaller,
    caller: Caller,
    ApiJson(draft): ApiJson<PolicyDraft>,
) -> Result<(StatusCode, Json<Policy>), ApiError> {
    let policy = policies::create(&state.store, &api.access, &draft, state.now()).await?;
    state.caches.forget_policies();
    let event = changed(&api, &caller, "policy.created")
        .policies(std::slice::from_ref(&policy.id))
        .with("after", &policy);
    state.audit.record(event).await?;
    Ok((StatusCode::CREATED, Json(policy)))
}

/// Deletes a policy.
#[utoipa::path(delete, path = "/api/v1/policies/{id}", tag = "Policies",
    params(("id" = String, Path, description = "The policy's id")),
    responses((status = 204, description = "Deleted"), (status = 401, body = ErrorEnvelope),
              (status = 403, body = ErrorEnvelope), (status = 404, body = ErrorEnvelope)),
    security(("admin_api_key" = [])))]
pub async fn delete(
    State(state): State<AppState>,
    api: ApiCaller,
    caller: Caller,
    Path(id): Path<String>,
) -> Result<StatusCode, ApiError> {
    let before = policies::delete(&state.store, &api.access, &id).await?;
    state.caches.forget_policies();
    let event = changed(&api, &caller, "policy.deleted")
        .policies(std::slice::from_ref(&before.id))
        .with("before", &before);
    state.audit.record(event).await?;
    Ok(StatusCode::NO_CONTENT)
}

/// What a person would be granted, under the stored policies and with a draft added. Changes
/// nothing (a read-only key may call it).
#[utoipa::path(post, path = "/api/v1/policies/simulate", tag = "Policies",
    request_body = SimulationRequest,
    responses((status = 200, body = Simulation), (status = 400, body = ErrorEnvelope),
              (status = 401, body = ErrorEnvelope), (status = 403, body = ErrorEnvelope)),
    security(("admin_api_key" = [])))]
pub async fn simulate(
    State(state): State<AppState>,
    api: ApiCaller,
    ApiJson(request): ApiJson<SimulationRequest>,
) -> Result<Json<Simulation>, ApiError> {
    Ok(Json(
        policies::simulate_request(&state.store, &api.access, &request).await?,
    ))
}
