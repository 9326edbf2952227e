//! `/api/v1/agents`: the filtered, cursor-paginated list (`?q=&kind=&trust_level=&tag=
//! &mcp_server=&tenant=&used=&cursor=&limit=`), read, create a machine agent (its secret is in
//! this one response), change (PATCH: name, tags, trust level, disabled, allowances), rotate
//! the secret (`POST …/secret`) and delete. Project admins' keys; changes need full access
//! and write an `admin.changed` event with before / after (never a secret).

use std::collections::HashMap;

use axum::extract::{Path, Query, State};
use axum::http::StatusCode;
use axum::Json;
use mandate_core::admin::agents::{self, AgentChanges, AgentDetail, AgentQuery, MachineAgentDraft};

use super::bodies::{AgentList, CreatedAgent, ErrorEnvelope, RotatedSecret};
use super::{changed, limit_param, ApiCaller, ApiError, ApiJson};
use crate::request_context::Caller;
use crate::state::AppState;

/// The default page size.
const PAGE: i64 = 50;

/// Agents newest first, filtered, a page at a time.
#[utoipa::path(get, path = "/api/v1/agents", tag = "Agents",
    params(
        ("q" = Option<String>, Query, description = "Part of the name or client id"),
        ("kind" = Option<String>, Query, description = "manual, dcr or cimd"),
        ("trust_level" = Option<String>, Query, description = "verified, admin, dcr or cimd"),
        ("tag" = Option<String>, Query, description = "A tag the agent has"),
        ("mcp_server" = Option<String>, Query, description = "Allowed on, registered at or granted on this server (id or slug)"),
        ("tenant" = Option<String>, Query, description = "Granted by someone in this tenant (id or slug)"),
        ("used" = Option<String>, Query, description = "7d (used in the last 7 days), idle30d (not for 30 days), never"),
        ("cursor" = Option<String>, Query, description = "The previous page's next_cursor"),
        ("limit" = Option<i64>, Query, description = "1 to 200; 50 by default"),
    ),
    responses((status = 200, body = AgentList), (status = 400, body = ErrorEnvelope),
              (status = 401, body = ErrorEnvelope), (status = 403, body = ErrorEnvelope)),
    security(("admin_api_key" = [])))]
pub async fn list(
    State(state): State<AppState>,
    api: ApiCaller,
    Query(params): Query<HashMap<String, String>>,
) -> Result<Json<AgentList>, ApiError> {
    let get = |k: &str| params.get(k).cloned().unwrap_or_default();
    let query = AgentQuery {
        q: get("q"),
        kind: get("kind"),
        trust_level: get("trust_level"),
        tag: get("tag"),
        mcp_server: get("mcp_server"),
        tenant: get("tenant"),
        used: get("used"),
        cursor: get("cursor"),
    };
    let limit = limit_param(&params, PAGE, agents::MAX_PAGE)?;
    let filter = agents::filter_of(&state.store, &query, state.now()).await?;
    let page = agents::list(&state.store, &api.access, &filter, limit).await?;
    Ok(Json(AgentList {
        agents: page.agents,
        next_cursor: page.next,
    }))
}

/// One agent: metadata, allowances per server, the people bound to it.
#[utoipa::path(get, path = "/api/v1/agents/{id}", tag = "Agents",
    params(("id" = String, Path, description = "The client id (percent-encoded)")),
    responses((status = 200, body = AgentDetail), (status = 401, body = ErrorEnvelope),
              (status = 404, body = ErrorEnvelope)),
    security(("admin_api_key" = [])))]
pub async fn read(
    State(state): State<AppState>,
    api: ApiCaller,
    Path(id): Path<String>,
) -> Result<Json<AgentDetail>, ApiError> {
    Ok(Json(agents::get(&state.store, &api.access, &id).await?))
}

/// Creates a confidential agent for client_credentials; the secret is in this response only.
/// `allowances` maps a server (id or slug) to scopes, or `["*"]` for every scope.
#[utoipa::path(post, path = "/api/v1/agents", tag = "Agents",
    request_body = MachineAgentDraft,
    responses((status = 201, body = CreatedAgent), (status = 400, body = ErrorEnvelope),
              (status = 401, body = ErrorEnvelope), (status = 403, body = ErrorEnvelope)),
    security(("admin_api_key" = [])))]
pub async fn create(
    State(state): State<AppState>,
    api: ApiCaller,
    caller: Caller,
    ApiJson(draft): ApiJson<MachineAgentDraft>,
) -> Result<(StatusCode, Json<CreatedAgent>), ApiError> {
    let (agent, secret) =
        agents::create_machine(&state.store, &api.access, &draft, state.now()).await?;
    let detail = agents::get(&state.store, &api.access, agent.id.as_str()).await?;
    let event = changed(&api, &caller, "agent.created")
        .agent(agent.id.as_str())
        .with("after", &detail);
    if let Err(e) = state.audit.record(event).await {
        // Not recorded: not handed out either.
        let _ = state.store.delete_agent(&agent.id).await;
        return Err(e.into());
    }
    Ok((
        StatusCode::CREATED,
        Json(CreatedAgent {
            detail,
            client_secret: secret.expose().to_owned(),
        }),
    ))
}

/// Changes what is given (name, tags, trust_level, disabled, allowances); the rest stays.
/// Disabling revokes every token the agent holds.
#[utoipa::path(patch, path = "/api/v1/agents/{id}", tag = "Agents",
    params(("id" = String, Path, description = "The client id (percent-encoded)")),
    request_body = AgentChanges,
    responses((status = 200, body = AgentDetail), (status = 400, body = ErrorEnvelope),
              (status = 401, body = ErrorEnvelope), (status = 403, body = ErrorEnvelope),
              (status = 404, body = ErrorEnvelope)),
    security(("admin_api_key" = [])))]
pub async fn update(
    State(state): State<AppState>,
    api: ApiCaller,
    caller: Caller,
    Path(id): Path<String>,
    ApiJson(changes): ApiJson<AgentChanges>,
) -> Result<Json<AgentDetail>, ApiError> {
    let (before, after) =
        agents::update(&state.store, &api.access, &id, &changes, state.now()).await?;
    state.caches.forget_agent(&id);
    let event = changed(&api, &caller, "agent.updated")
        .agent(after.agent.id.as_str())
        .with("before", &before)
        .with("after", &after);
    state.audit.record(event).await?;
    Ok(Json(after))
}

/// A new client secret for a confidential agent; the old one stops working at once.
#[utoipa::path(post, path = "/api/v1/agents/{id}/secret", tag = "Agents",
    params(("id" = String, Path, description = "The client id (percent-encoded)")),
    responses((status = 200, body = RotatedSecret), (status = 400, body = ErrorEnvelope),
              (status = 401, body = ErrorEnvelope), (status = 403, body = ErrorEnvelope),
              (status = 404, body = ErrorEnvelope)),
    security(("admin_api_key" = [])))]
pub async fn rotate_secret(
    State(state): State<AppState>,
    api: ApiCaller,
    caller: Caller,
    Path(id): Path<String>,
) -> Result<Json<RotatedSecret>, ApiError> {
    let (agent, secret) =
        agents::rotate_secret(&state.store, &api.access, &id, state.now()).await?;
    state.caches.forget_agent(&id);
    let event = changed(&api, &caller, "agent.secret_rotated").agent(agent.id.as_str());
    state.audit.record(event).await?;
    Ok(Json(RotatedSecret {
        client_id: agent.id.to_string(),
        client_secret: secret.expose().to_owned(),
    }))
}

/// Deletes an agent with its allowances, grants and every token it holds.
#[utoipa::path(delete, path = "/api/v1/agents/{id}", tag = "Agents",
    params(("id" = String, Path, description = "The client id (percent-encoded)")),
    responses((status = 204, description = "Deleted"), (status = 401, body = ErrorEnvelope),
              (status = 403, body = ErrorEnvelope), (status = 404, body = ErrorEnvelope)),
    security(("admin_api_key" = [])))]
pub async fn delete(
    State(state): State<AppState>,
    api: ApiCaller,
    caller: Caller,
    Path(id): Path<String>,
) -> Result<StatusCode, ApiError> {
    let before = agents::delete(&state.store, &api.access, &id).await?;
    state.caches.forget_agent(&id);
    let event = changed(&api, &caller, "agent.deleted")
        .agent(before.agent.id.as_str())
        .with("before", &before);
    state.audit.record(event).await?;
    Ok(StatusCode::NO_CONTENT)
}
