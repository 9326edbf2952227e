//! The token vault's admin API: connection providers (`/api/v1/connection-providers`, the
//! client secret sealed and never returned), keys held for a tenant or an agent, connections
//! policies (`/api/v1/connection-policies`) and agents' vault settings
//! (`/api/v1/agents/{id}/connections`). Project admins' keys; changes need full access and
//! write an `admin.changed` event (never with a secret or a key).

use axum::extract::{Path, State};
use axum::http::StatusCode;
use axum::Json;
use mandate_core::admin::connections::{self as vault, AgentVault};
use mandate_core::connections::draft::{ConnectionPolicyDraft, ProviderDraft};
use mandate_core::connections::policy::ConnectionPolicy;
use mandate_core::connections::{callback_uri, Connection, ConnectionProvider, Owner, OwnerKind};
use serde::{Deserialize, Serialize};

use super::bodies::ErrorEnvelope;
use super::{changed, ApiCaller, ApiError, ApiJson};
use crate::request_context::Caller;
use crate::state::AppState;

#[derive(Debug, Serialize, utoipa::ToSchema)]
pub struct ProviderList {
    pub providers: Vec<ConnectionProvider>,
    /// The redirect URI to register at every OAuth 2.0 provider.
    pub redirect_uri: String,
}

/// A provider and every connection to it (never a token).
#[derive(Debug, Serialize, utoipa::ToSchema)]
pub struct ProviderView {
    pub provider: ConnectionProvider,
    pub connections: Vec<Connection>,
    pub redirect_uri: String,
}

#[derive(Debug, Serialize, utoipa::ToSchema)]
pub struct ConnectionPolicyList {
    pub policies: Vec<ConnectionPolicy>,
}

/// An API key to hold for a tenant or an agent.
#[derive(Debug, Deserialize, utoipa::ToSchema)]
pub struct ApiKeyBody {
    pub api_key: String,
}

/// Every connection provider.
#[utoipa::path(get, path = "/api/v1/connection-providers", tag = "Connections",
    responses((status = 200, body = ProviderList), (status = 401, body = ErrorEnvelope),
              (status = 403, body = ErrorEnvelope)),
    security(("admin_api_key" = [])))]
pub async fn list_providers(
    State(state): State<AppState>,
    api: ApiCaller,
) -> Result<Json<ProviderList>, ApiError> {
    let providers = vault::providers(&state.store, &api.access).await?;
    Ok(Json(ProviderList {
        providers,
        redirect_uri: callback_uri(&state.config.public_url),
    }))
}

/// Creates a provider (`oauth2` with endpoints, client id and secret, scopes; or `api_key`).
#[utoipa::path(post, path = "/api/v1/connection-providers", tag = "Connections",
    request_body = ProviderDraft,
    responses((status = 201, body = ProviderView),
              (status = 400, description = "validation_failed: see fields", body = ErrorEnvelope),
              (status = 401, body = ErrorEnvelope), (status = 403, body = ErrorEnvelope)),
    security(("admin_api_key" = [])))]
pub async fn create_provider(
    State(state): State<AppState>,
    api: ApiCaller,
    caller: Caller,
    ApiJson(draft): ApiJson<ProviderDraft>,
) -> Result<(StatusCode, Json<ProviderView>), ApiError> {
    api.require_full()?;
    let (_, after) = vault::save_provider(
        &state.store,
        &api.access,
        &state.master_key,
        None,
        &draft,
        state.now(),
    )
    .await?;
    let event = changed(&api, &caller, "connection_provider.created").with("after", &after);
    state.audit.record(event).await?;
    Ok((
        StatusCode::CREATED,
        Json(ProviderView {
            provider: after,
            connections: Vec::new(),
            redirect_uri: callback_uri(&state.config.public_url),
        }),
    ))
}

/// A provider (by id or slug) with every connection to it.
#[utoipa::path(get, path = "/api/v1/connection-providers/{id}", tag = "Connections",
    params(("id" = String, Path, description = "The provider's id or slug")),
    responses((status = 200, body = ProviderView), (status = 401, body = ErrorEnvelope),
              (status = 404, body = ErrorEnvelope)),
    security(("admin_api_key" = [])))]
pub async fn read_provider(
    State(state): State<AppState>,
    api: ApiCaller,
    Path(id): Path<String>,
) -> Result<Json<ProviderView>, ApiError> {
    let (provider, connections) = vault::provider(&state.store, &api.access, &id).await?;
    Ok(Json(ProviderView {
        provider,
        connections,
        redirect_uri: callback_uri(&state.config.public_url),
    }))
}

/// Replaces a provider (an empty `client_secret` keeps the stored one).
#[utoipa::path(put, path = "/api/v1/connection-providers/{id}", tag = "Connections",
    params(("id" = String, Path, description = "The provider's id or slug")),
    request_body = ProviderDraft,
    responses((status = 200, body = ProviderView),
              (status = 400, description = "validation_failed: see fields", body = ErrorEnvelope),
              (status = 401, body = ErrorEnvelope), (status = 403, body = ErrorEnvelope),
              (status = 404, body = ErrorEnvelope)),
    security(("admin_api_key" = [])))]
pub async fn update_provider(
    State(state): State<AppState>,
    api: ApiCaller,
    caller: Caller,
    Path(id): Path<String>,
    ApiJson(draft): ApiJson<ProviderDraft>,
) -> Result<Json<ProviderView>, ApiError> {
    api.require_full()?;
    let (before, after) = vault::save_provider(
        &state.store,
        &api.access,
        &state.master_key,
        Some(&id),
        &draft,
        state.now(),
    )
    .await?;
    let event = changed(&api, &caller, "connection_provider.updated")
        .with("before", &before)
        .with("after", &after);
    state.audit.record(event).await?;
    let connections = state.store.connections_to(&after.id).await?;
    Ok(Json(ProviderView {
        provider: after,
        connections,
        redirect_uri: callback_uri(&state.config.public_url),
    }))
}

/// Deletes a provider and every connection to it (the stored tokens with them).
#[utoipa::path(delete, path = "/api/v1/connection-providers/{id}", tag = "Connections",
    params(("id" = String, Path, description = "The provider's id or slug")),
    responses((status = 204, description = "Deleted"),
              (status = 401, body = ErrorEnvelope), (status = 403, body = ErrorEnvelope),
              (status = 404, body = ErrorEnvelope)),
    security(("admin_api_key" = [])))]
pub async fn delete_provider(
    State(state): State<AppState>,
    api: ApiCaller,
    caller: Caller,
    Path(id): Path<String>,
) -> Result<StatusCode, ApiError> {
    api.require_full()?;
    let before = vault::delete_provider(&state.store, &api.access, &id).await?;
    let event = changed(&api, &caller, "connection_provider.deleted").with("before", &before);
    state.audit.record(event).await?;
    Ok(StatusCode::NO_CONTENT)
}

fn shared_owner(kind: &str, id: String) -> Result<Owner, ApiError> {
    match OwnerKind::parse(kind) {
        Some(kind @ (OwnerKind::Tenant | OwnerKind::Agent)) => Ok(Owner::new(kind, id)),
        _ => Err(ApiError::NotFound(
            "Keys are held for a tenant or an agent.",
        )),
    }
}

/// Holds an API key for a tenant or an agent (an API-key provider only; the key is sealed and
/// never returned).
#[utoipa::path(put, path = "/api/v1/connection-providers/{id}/connections/{owner_kind}/{owner_id}",
    tag = "Connections",
    params(("id" = String, Path, description = "The provider's id or slug"),
           ("owner_kind" = String, Path, description = "tenant or agent"),
           ("owner_id" = String, Path, description = "The tenant's id or slug, or the agent's id")),
    request_body = ApiKeyBody,
    responses((status = 200, body = Connection),
              (status = 400, description = "validation_failed: see fields", body = ErrorEnvelope),
              (status = 401, body = ErrorEnvelope), (status = 403, body = ErrorEnvelope),
              (status = 404, body = ErrorEnvelope)),
    security(("admin_api_key" = [])))]
pub async fn put_shared(
    State(state): State<AppState>,
    api: ApiCaller,
    caller: Caller,
    Path((id, kind, owner_id)): Path<(String, String, String)>,
    ApiJson(body): ApiJson<ApiKeyBody>,
) -> Result<Json<Connection>, ApiError> {
    api.require_full()?;
    let owner = shared_owner(&kind, owner_id)?;
    let connection = vault::put_shared_key(
        &state.store,
        &api.access,
        &state.master_key,
        &id,
        &owner,
        &body.api_key,
        state.now(),
    )
    .await?;
    let event = changed(&api, &caller, "connection.key_saved").with("after", &connection);
    state.audit.record(event).await?;
    Ok(Json(connection))
}

/// Deletes a tenant's or an agent's connection.
#[utoipa::path(delete, path = "/api/v1/connection-providers/{id}/connections/{owner_kind}/{owner_id}",
    tag = "Connections",
    params(("id" = String, Path, description = "The provider's id or slug"),
           ("owner_kind" = String, Path, description = "tenant or agent"),
           ("owner_id" = String, Path, description = "The tenant's id or slug, or the agent's id")),
    responses((status = 204, description = "Deleted"),
              (status = 401, body = ErrorEnvelope), (status = 403, body = ErrorEnvelope),
              (status = 404, body = ErrorEnvelope)),
    security(("admin_api_key" = [])))]
pub async fn delete_shared(
    State(state): State<AppState>,
    api: ApiCaller,
    caller: Caller,
    Path((id, kind, owner_id)): Path<(String, String, String)>,
) -> Result<StatusCode, ApiError> {
    api.require_full()?;
    let owner = shared_owner(&kind, owner_id)?;
    let before = vault::delete_shared(&state.store, &api.access, &id, &owner).await?;
    let event = changed(&api, &caller, "connection.deleted").with("before", &before);
    state.audit.record(event).await?;
    Ok(StatusCode::NO_CONTENT)
}

/// Every connections policy.
#[utoipa::path(get, path = "/api/v1/connection-policies", tag = "Connections",
    responses((status = 200, body = ConnectionPolicyList), (status = 401, body = ErrorEnvelope),
              (status = 403, body = ErrorEnvelope)),
    security(("admin_api_key" = [])))]
pub async fn list_policies(
    State(state): State<AppState>,
    api: ApiCaller,
) -> Result<Json<ConnectionPolicyList>, ApiError> {
    let policies = vault::policies(&state.store, &api.access).await?;
    Ok(Json(ConnectionPolicyList { policies }))
}

/// Creates a connections policy: conditions as for MCP policies, and the providers (id or
/// slug) with the provider scopes it allows.
#[utoipa::path(post, path = "/api/v1/connection-policies", tag = "Connections",
    request_body = ConnectionPolicyDraft,
    responses((status = 201, body = ConnectionPolicy),
              (status = 400, description = "validation_failed: see fields", body = ErrorEnvelope),
              (status = 401, body = ErrorEnvelope), (status = 403, body = ErrorEnvelope)),
    security(("admin_api_key" = [])))]
pub async fn create_policy(
    State(state): State<AppState>,
    api: ApiCaller,
    caller: Caller,
    ApiJson(draft): ApiJson<ConnectionPolicyDraft>,
) -> Result<(StatusCode, Json<ConnectionPolicy>), ApiError> {
    api.require_full()?;
    let (_, after) =
        vault::save_policy(&state.store, &api.access, None, &draft, state.now()).await?;
    let event = changed(&api, &caller, "connection_policy.created").with("after", &after);
    state.audit.record(event).await?;
    Ok((StatusCode::CREATED, Json(after)))
}

/// Replaces a connections policy.
#[utoipa::path(put, path = "/api/v1/connection-policies/{id}", tag = "Connections",
    params(("id" = String, Path, description = "The policy's id")),
    request_body = ConnectionPolicyDraft,
    responses((status = 200, body = ConnectionPolicy),
              (status = 400, description = "validation_failed: see fields", body = ErrorEnvelope),
              (status = 401, body = ErrorEnvelope), (status = 403, body = ErrorEnvelope),
              (status = 404, body = ErrorEnvelope)),
    security(("admin_api_key" = [])))]
pub async fn update_policy(
    State(state): State<AppState>,
    api: ApiCaller,
    caller: Caller,
    Path(id): Path<String>,
    ApiJson(draft): ApiJson<ConnectionPolicyDraft>,
) -> Result<Json<ConnectionPolicy>, ApiError> {
    api.require_full()?;
    let (before, after) =
        vault::save_policy(&state.store, &api.access, Some(&id), &draft, state.now()).await?;
    let event = changed(&api, &caller, "connection_policy.updated")
        .with("before", &before)
        .with("after", &after);
    state.audit.record(event).await?;
    Ok(Json(after))
}

/// Deletes a connections policy.
#[utoipa::path(delete, path = "/api/v1/connection-policies/{id}", tag = "Connections",
    params(("id" = String, Path, description = "The policy's id")),
    responses((status = 204, description = "Deleted"),
              (status = 401, body = ErrorEnvelope), (status = 403, body = ErrorEnvelope),
              (status = 404, body = ErrorEnvelope)),
    security(("admin_api_key" = [])))]
pub async fn delete_policy(
    State(state): State<AppState>,
    api: ApiCaller,
    caller: Caller,
    Path(id): Path<String>,
) -> Result<StatusCode, ApiError> {
    api.require_full()?;
    let before = vault::delete_policy(&state.store, &api.access, &id).await?;
    let event = changed(&api, &caller, "connection_policy.deleted").with("before", &before);
    state.audit.record(event).await?;
    Ok(StatusCode::NO_CONTENT)
}

/// An agent's vault settings: may it exchange tokens (an MCP server's back end), and what may
/// its own machine tokens get.
#[utoipa::path(get, path = "/api/v1/agents/{id}/connections", tag = "Connections",
    params(("id" = String, Path, description = "The agent's client_id")),
    responses((status = 200, body = AgentVault), (status = 401, body = ErrorEnvelope),
              (status = 404, body = ErrorEnvelope)),
    security(("admin_api_key" = [])))]
pub async fn read_agent(
    State(state): State<AppState>,
    api: ApiCaller,
    Path(id): Path<String>,
) -> Result<Json<AgentVault>, ApiError> {
    Ok(Json(
        vault::agent_vault(&state.store, &api.access, &id).await?,
    ))
}

/// Replaces an agent's vault settings.
#[utoipa::path(put, path = "/api/v1/agents/{id}/connections", tag = "Connections",
    params(("id" = String, Path, description = "The agent's client_id")),
    request_body = AgentVault,
    responses((status = 200, body = AgentVault),
              (status = 400, description = "validation_failed: see fields", body = ErrorEnvelope),
              (status = 401, body = ErrorEnvelope), (status = 403, body = ErrorEnvelope),
              (status = 404, body = ErrorEnvelope)),
    security(("admin_api_key" = [])))]
pub async fn put_agent(
    State(state): State<AppState>,
    api: ApiCaller,
    caller: Caller,
    Path(id): Path<String>,
    ApiJson(wanted): ApiJson<AgentVault>,
) -> Result<Json<AgentVault>, ApiError> {
    api.require_full()?;
    let (before, after) =
        vault::set_agent_vault(&state.store, &api.access, &id, &wanted, state.now()).await?;
    state.caches.forget_agent(&id);
    let event = changed(&api, &caller, "agent.connections_set")
        .agent(id.as_str())
        .with("before", &before)
        .with("after", &after);
    state.audit.record(event).await?;
    Ok(Json(after))
}
