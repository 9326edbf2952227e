//! `/api/v1/policies`: list, create, delete, and the simulator (`POST
//! /api/v1/policies/simulate`). Project admins' keys only; creating and deleting need a key
//! with full access, and write an `admin.changed` event with the policy before / after.

use axum::extract::{Path, State};
use axum::http::StatusCode;
use axum::response::{IntoResponse, Response};
use axum::Json;
use mandate_core::admin::policies::{self, SimulationRequest};
use mandate_core::audit::{ActorKind, AuditEvent, EventType, Outcome};
use mandate_core::policy::draft::PolicyDraft;
use serde_json::{json, Value};

use super::{ApiCaller, ApiError, ApiJson};
use crate::request_context::Caller;
use crate::state::AppState;

fn changed(api: &ApiCaller, caller: &Caller, action: &str) -> AuditEvent {
    let mut event = AuditEvent::new(EventType::AdminChanged, Outcome::Success, ActorKind::ApiKey)
        .user(Some(api.key.created_by.as_str()))
        .with("action", action)
        .with("api_key", &api.key.id)
        .context(&caller.context);
    event.actor_id = Some(api.key.id.clone());
    event
}

pub async fn list(State(state): State<AppState>, api: ApiCaller) -> Result<Json<Value>, ApiError> {
    let list = policies::list(&state.store, &api.access).await?;
    Ok(Json(json!({ "policies": list })))
}

pub async fn create(
    State(state): State<AppState>,
    api: ApiCaller,
    caller: Caller,
    ApiJson(draft): ApiJson<PolicyDraft>,
) -> Result<Response, ApiError> {
    let policy = policies::create(&state.store, &api.access, &draft, state.now()).await?;
    let event = changed(&api, &caller, "policy.created")
        .policies(std::slice::from_ref(&policy.id))
        .with("after", &policy);
    state.audit.record(event).await?;
    Ok((StatusCode::CREATED, Json(json!(policy))).into_response())
}

pub async fn delete(
    State(state): State<AppState>,
    api: ApiCaller,
    caller: Caller,
    Path(id): Path<String>,
) -> Result<StatusCode, ApiError> {
    let before = policies::delete(&state.store, &api.access, &id).await?;
    let event = changed(&api, &caller, "policy.deleted")
        .policies(std::slice::from_ref(&before.id))
        .with("before", &before);
    state.audit.record(event).await?;
    Ok(StatusCode::NO_CONTENT)
}

pub async fn simulate(
    State(state): State<AppState>,
    api: ApiCaller,
    ApiJson(request): ApiJson<SimulationRequest>,
) -> Result<Json<Value>, ApiError> {
    let simulation = policies::simulate_request(&state.store, &api.access, &request).await?;
    Ok(Json(json!(simulation)))
}
