//! `/api/v1/mcp-servers/{id}/hooks`: a server's issuance hooks. List, add (the answer holds
//! the signing key, shown this once) and delete. Project admins' keys; changes need full
//! access and write an `admin.changed` event (never with the key).

use axum::extract::{Path, State};
use axum::http::StatusCode;
use axum::Json;
use mandate_core::admin::hooks::{self, CreatedHook, HookDraft};
use mandate_core::store::hooks::IssuanceHook;
use serde::Serialize;

use super::bodies::ErrorEnvelope;
use super::{changed, ApiCaller, ApiError, ApiJson};
use crate::request_context::Caller;
use crate::state::AppState;

/// A server's hooks in calling order.
#[derive(Debug, Serialize, utoipa::ToSchema)]
pub struct HookList {
    pub hooks: Vec<IssuanceHook>,
}

/// The server's hooks, in the order they are called.
#[utoipa::path(get, path = "/api/v1/mcp-servers/{id}/hooks", tag = "MCP servers",
    params(("id" = String, Path, description = "The server's id or slug")),
    responses((status = 200, body = HookList),
              (status = 401, body = ErrorEnvelope), (status = 404, body = ErrorEnvelope)),
    security(("admin_api_key" = [])))]
pub async fn list(
    State(state): State<AppState>,
    api: ApiCaller,
    Path(id): Path<String>,
) -> Result<Json<HookList>, ApiError> {
    let (_, hooks) = hooks::list(&state.store, &api.access, &id).await?;
    Ok(Json(HookList { hooks }))
}

/// Adds a hook; the answer's `secret` is the HMAC key its calls are signed with, shown once.
#[utoipa::path(post, path = "/api/v1/mcp-servers/{id}/hooks", tag = "MCP servers",
    params(("id" = String, Path, description = "The server's id or slug")),
    request_body = HookDraft,
    responses((status = 201, body = CreatedHook),
              (status = 400, description = "validation_failed: see fields", body = ErrorEnvelope),
              (status = 401, body = ErrorEnvelope), (status = 403, body = ErrorEnvelope),
              (status = 404, body = ErrorEnvelope)),
    security(("admin_api_key" = [])))]
pub async fn create(
    State(state): State<AppState>,
    api: ApiCaller,
    caller: Caller,
    Path(id): Path<String>,
    ApiJson(draft): ApiJson<HookDraft>,
) -> Result<(StatusCode, Json<CreatedHook>), ApiError> {
    let created = hooks::create(
        &state.store,
        &api.access,
        &state.master_key,
        &id,
        &draft,
        state.now(),
    )
    .await?;
    let event = changed(&api, &caller, "hook.created")
        .server(created.hook.mcp_server_id.as_str())
        .with("after", &created.hook);
    state.audit.record(event).await?;
    Ok((StatusCode::CREATED, Json(created)))
}

/// Deletes one of the server's hooks.
#[utoipa::path(delete, path = "/api/v1/mcp-servers/{id}/hooks/{hook}", tag = "MCP servers",
    params(("id" = String, Path, description = "The server's id or slug"),
           ("hook" = String, Path, description = "The hook's id")),
    responses((status = 204, description = "Deleted"),
              (status = 401, body = ErrorEnvelope), (status = 403, body = ErrorEnvelope),
              (status = 404, body = ErrorEnvelope)),
    security(("admin_api_key" = [])))]
pub async fn delete(
    State(state): State<AppState>,
    api: ApiCaller,
    caller: Caller,
    Path((id, hook)): Path<(String, String)>,
) -> Result<StatusCode, ApiError> {
    let before = hooks::delete(&state.store, &api.access, &id, &hook).await?;
    let event = changed(&api, &caller, "hook.deleted")
        .server(before.mcp_server_id.as_str())
        .with("before", &before);
    state.audit.record(event).await?;
    Ok(StatusCode::NO_CONTENT)
}
