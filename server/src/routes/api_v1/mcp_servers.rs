//! `/api/v1/mcp-servers`: list, read (with the issuer, discovery URL and a protected-resource
//! snippet), create, replace (PUT: settings and scopes together) and delete. Project admins'
//! keys; changes need full access and write an `admin.changed` event with before / after.

use axum::extract::{Path, State};
use axum::http::StatusCode;
use axum::Json;
use mandate_core::admin::mcp_servers::draft::McpServerDraft;
use mandate_core::admin::mcp_servers::{self as servers, ServerLinks, ServerWithScopes};

use super::bodies::{ErrorEnvelope, McpServerList, McpServerView};
use super::{changed, ApiCaller, ApiError, ApiJson};
use crate::request_context::Caller;
use crate::state::AppState;

fn shown(state: &AppState, server: ServerWithScopes) -> McpServerView {
    let links = ServerLinks::of(&state.config.public_url, &server.server, &server.scopes);
    McpServerView { server, links }
}

/// Every MCP server, by name.
#[utoipa::path(get, path = "/api/v1/mcp-servers", tag = "MCP servers",
    responses((status = 200, body = McpServerList),
              (status = 401, body = ErrorEnvelope), (status = 403, body = ErrorEnvelope)),
    security(("admin_api_key" = [])))]
pub async fn list(
    State(state): State<AppState>,
    api: ApiCaller,
) -> Result<Json<McpServerList>, ApiError> {
    let mcp_servers = servers::list(&state.store, &api.access).await?;
    Ok(Json(McpServerList { mcp_servers }))
}

/// One server by id or slug, with its scopes and links.
#[utoipa::path(get, path = "/api/v1/mcp-servers/{id}", tag = "MCP servers",
    params(("id" = String, Path, description = "The server's id or slug")),
    responses((status = 200, body = McpServerView),
              (status = 401, body = ErrorEnvelope), (status = 404, body = ErrorEnvelope)),
    security(("admin_api_key" = [])))]
pub async fn read(
    State(state): State<AppState>,
    api: ApiCaller,
    Path(id): Path<String>,
) -> Result<Json<McpServerView>, ApiError> {
    let found = servers::get(&state.store, &api.access, &id).await?;
    Ok(Json(shown(&state, found)))
}

/// Creates a server with its scopes; omitted settings take the defaults.
#[utoipa::path(post, path = "/api/v1/mcp-servers", tag = "MCP servers",
    request_body = McpServerDraft,
    responses((status = 201, body = McpServerView),
              (status = 400, description = "validation_failed: see fields", body = ErrorEnvelope),
              (status = 401, body = ErrorEnvelope), (status = 403, body = ErrorEnvelope)),
    security(("admin_api_key" = [])))]
pub async fn create(
    State(state): State<AppState>,
    api: ApiCaller,
    caller: Caller,
    ApiJson(draft): ApiJson<McpServerDraft>,
) -> Result<(StatusCode, Json<McpServerView>), ApiError> {
    let created = servers::create(&state.store, &api.access, &draft, state.now()).await?;
    state.caches.forget_servers();
    let event = changed(&api, &caller, "mcp_server.created")
        .server(created.server.id.as_str())
        .with("after", &created);
    state.audit.record(event).await?;
    Ok((StatusCode::CREATED, Json(shown(&state, created))))
}

/// Replaces a server's settings and scopes (scopes left out are removed).
#[utoipa::path(put, path = "/api/v1/mcp-servers/{id}", tag = "MCP servers",
    params(("id" = String, Path, description = "The server's id or slug")),
    request_body = McpServerDraft,
    responses((status = 200, body = McpServerView),
              (status = 400, body = ErrorEnvelope), (status = 401, body = ErrorEnvelope),
              (status = 403, body = ErrorEnvelope), (status = 404, body = ErrorEnvelope)),
    security(("admin_api_key" = [])))]
pub async fn update(
    State(state): State<AppState>,
    api: ApiCaller,
    caller: Caller,
    Path(id): Path<String>,
    ApiJson(draft): ApiJson<McpServerDraft>,
) -> Result<Json<McpServerView>, ApiError> {
    let (before, after) =
        servers::update(&state.store, &api.access, &id, &draft, state.now()).await?;
    state.caches.forget_servers();
    let event = changed(&api, &caller, "mcp_server.updated")
        .server(after.server.id.as_str())
        .with("before", &before)
        .with("after", &after);
    state.audit.record(event).await?;
    Ok(Json(shown(&state, after)))
}

/// Deletes a server, its scopes, allowances, grants and tokens. Refused (400) while a policy
/// allows its scopes.
#[utoipa::path(delete, path = "/api/v1/mcp-servers/{id}", tag = "MCP servers",
    params(("id" = String, Path, description = "The server's id or slug")),
    responses((status = 204, description = "Deleted"),
              (status = 400, body = ErrorEnvelope), (status = 401, body = ErrorEnvelope),
              (status = 403, body = ErrorEnvelope), (status = 404, body = ErrorEnvelope)),
    security(("admin_api_key" = [])))]
pub async fn delete(
    State(state): State<AppState>,
    api: ApiCaller,
    caller: Caller,
    Path(id): Path<String>,
) -> Result<StatusCode, ApiError> {
    let before = servers::delete(&state.store, &api.access, &id).await?;
    state.caches.forget_servers();
    let event = changed(&api, &caller, "mcp_server.deleted")
        .server(before.server.id.as_str())
        .with("before", &before);
    state.audit.record(event).await?;
    Ok(StatusCode::NO_CONTENT)
}
