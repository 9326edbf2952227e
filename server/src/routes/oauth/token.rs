//! `POST {issuer}/token` (RFC 6749 §3.2).

use axum::extract::{Path, State};
use axum::http::{header, HeaderMap, StatusCode};
use axum::response::Response;
use mandate_core::ids::AgentId;
use mandate_core::model::{Agent, McpServer};
use mandate_core::oauth::client_auth::{authenticate, PresentedClient};
use mandate_core::oauth::grants::{exchange, TokenContext};
use mandate_core::oauth::params::{Params, TokenRequest};
use mandate_core::oauth::OAuthError;

use super::{server_by_slug, OAuthForm};
use crate::error::{no_store, JsonError};
use crate::request_context::Caller;
use crate::state::{AppState, ServerEntry};
use std::sync::Arc;

pub async fn token(
    State(state): State<AppState>,
    Path(slug): Path<String>,
    caller: Caller,
    headers: HeaderMap,
    OAuthForm(pairs): OAuthForm,
) -> Result<Response, JsonError> {
    let (entry, params, client) = client_request(&state, &slug, &headers, pairs).await?;
    let server = &entry.server;
    if client.is_expired_registration(server.dcr_unused_expiry_secs, state.now()) {
        return Err(
            OAuthError::invalid_client("this registration has expired; register again").into(),
        );
    }
    if params.get("grant_type") == Some(mandate_core::connections::exchange::GRANT_TYPE) {
        return super::token_exchange::exchange(&state, &entry, &params, &client, &caller).await;
    }
    let request = TokenRequest::from_params(&params)?;
    let grant_type = match &request {
        TokenRequest::AuthorizationCode { .. } => "authorization_code",
        TokenRequest::RefreshToken { .. } => "refresh_token",
        TokenRequest::ClientCredentials { .. } => "client_credentials",
    };
    let issuer = server.issuer(&state.config.public_url);
    let keys = state.keys.current();
    let allowance = client_allowance(&state, &client, server).await?;
    let ctx = TokenContext {
        store: &state.store,
        keys: &keys,
        audit: &state.audit,
        issuer: &issuer,
        server,
        server_scopes: &entry.scopes,
        client_allowance: allowance.as_deref(),
        now: state.now(),
        request: &caller.context,
    };
    let response = exchange(&ctx, &client, request).await?;
    crate::metrics::token_issued(grant_type);
    Ok(no_store(StatusCode::OK, &response))
}

/// The client's allowance on `server` (cached briefly); `None` inside: every scope.
async fn client_allowance(
    state: &AppState,
    client: &Agent,
    server: &McpServer,
) -> Result<Arc<Option<Vec<String>>>, OAuthError> {
    let key = (client.id.to_string(), server.id.to_string());
    let loaded = state
        .caches
        .allowances
        .get_or_load(&key, || async {
            let list = state.store.agent_allowance(&client.id, &server.id).await?;
            Ok::<_, mandate_core::CoreError>(Some(Arc::new(list)))
        })
        .await?;
    Ok(loaded.unwrap_or_else(|| Arc::new(None)))
}

/// The issuer's MCP server (with its scopes), the form parameters and the authenticated client
/// of a POST to the token, revocation or introspection endpoint.
pub async fn client_request(
    state: &AppState,
    slug: &str,
    headers: &HeaderMap,
    pairs: Vec<(String, String)>,
) -> Result<(Arc<ServerEntry>, Params, Agent), OAuthError> {
    let server = server_by_slug(state, slug).await?;
    let params = Params::from_pairs(pairs)?;
    let client = authenticated_client(state, headers, &params).await?;
    Ok((server, params, client))
}

/// Authenticates the client of a token, revocation or introspection request.
pub async fn authenticated_client(
    state: &AppState,
    headers: &HeaderMap,
    params: &Params,
) -> Result<Agent, OAuthError> {
    let authorization = headers
        .get(header::AUTHORIZATION)
        .and_then(|v| v.to_str().ok());
    let presented = PresentedClient::from_request(
        authorization,
        params.get("client_id"),
        params.get("client_secret"),
    )?;
    let id = AgentId::from_string(presented.client_id());
    let store = &state.store;
    let cached = state
        .caches
        .clients
        .get_or_load(&presented.client_id().to_owned(), || async {
            let Some(agent) = store.agent(&id).await? else {
                return Ok::<_, mandate_core::CoreError>(None);
            };
            let secrets = store.agent_secrets(&id).await?;
            Ok(Some(Arc::new((agent, secrets))))
        })
        .await?
        .ok_or_else(|| OAuthError::invalid_client("client authentication failed"))?;
    let (agent, secrets) = cached.as_ref();
    authenticate(&presented, agent, secrets.client_secret.as_ref())?;
    Ok(agent.clone())
}
