//! Dynamic client registration (RFC 7591) at `POST {issuer}/register` and its management
//! protocol (RFC 7592) at `{issuer}/register/{client_id}` with the registration access token.

use axum::body::Bytes;
use axum::extract::{Path, State};
use axum::http::{header, HeaderMap, HeaderValue, StatusCode};
use axum::response::{IntoResponse, Response};
use mandate_core::audit::{ActorKind, AuditEvent, EventType, Outcome};
use mandate_core::ids::AgentId;
use mandate_core::model::{Agent, AgentKind, ClientType, McpServer, TrustLevel};
use mandate_core::oauth::registration::{self, ClientMetadata, MAX_METADATA_BYTES};
use mandate_core::oauth::{ErrorCode, OAuthError};
use mandate_core::secret::{Secret, SecretKind};
use mandate_core::store::agents::AgentSecrets;
use serde_json::{json, Value};

use super::server_by_slug;
use crate::error::{no_store, JsonError};
use crate::middleware::rate_limit;
use crate::request_context::Caller;
use crate::state::AppState;

fn parse_body(body: &Bytes) -> Result<Value, OAuthError> {
    if body.len() > MAX_METADATA_BYTES {
        return Err(OAuthError::new(
            ErrorCode::InvalidClientMetadata,
            "the registration request is too large",
        ));
    }
    serde_json::from_slice(body).map_err(|_| {
        OAuthError::new(
            ErrorCode::InvalidClientMetadata,
            "the request body must be a JSON object",
        )
    })
}

fn agent_from(id: AgentId, meta: &ClientMetadata, server: &McpServer, now: i64) -> Agent {
    Agent {
        name: meta
            .client_name
            .clone()
            .unwrap_or_else(|| "Unnamed agent".into()),
        id,
        kind: AgentKind::Dcr,
        trust_level: TrustLevel::Dcr,
        client_type: if meta.is_public() {
            ClientType::Public
        } else {
            ClientType::Confidential
        },
        token_endpoint_auth_method: meta.token_endpoint_auth_method.clone(),
        redirect_uris: meta.redirect_uris.clone(),
        grant_types: meta.grant_types.clone(),
        tags: vec![],
        logo_uri: meta.logo_uri.clone(),
        application_type: meta.application_type_str().into(),
        scope: meta.scope.clone(),
        registered_at_server: Some(server.id.to_string()),
        disabled: false,
        created_at: now,
        last_used_at: None,
    }
}

/// RFC 7591 §3.2.1 / RFC 7592 §3: the metadata plus the credentials.
fn client_information(
    state: &AppState,
    server: &McpServer,
    agent: &Agent,
    document: &Value,
    secret: Option<&Secret>,
    registration_token: Option<&Secret>,
) -> Value {
    let mut out = document.clone();
    if let Value::Object(map) = &mut out {
        map.insert("client_id".into(), json!(agent.id.as_str()));
        map.insert("client_id_issued_at".into(), json!(agent.created_at / 1000));
        if let Some(secret) = secret {
            map.insert("client_secret".into(), json!(secret.expose()));
            map.insert("client_secret_expires_at".into(), json!(0));
        }
        if let Some(token) = registration_token {
            map.insert("registration_access_token".into(), json!(token.expose()));
        }
        map.insert(
            "registration_client_uri".into(),
            json!(format!(
                "{}/register/{}",
                server.issuer(&state.config.public_url),
                agent.id
            )),
        );
    }
    out
}

pub async fn register(
    State(state): State<AppState>,
    Path(slug): Path<String>,
    caller: Caller,
    body: Bytes,
) -> Result<Response, JsonError> {
    if let Err(wait) = rate_limit::check(&state.limits.registration, caller.ip) {
        let mut response = JsonError(OAuthError::new(
            ErrorCode::TemporarilyUnavailable,
            format!(
                "too many registrations from this address; try again in {} s",
                wait.as_secs().max(1)
            ),
        ))
        .into_response();
        *response.status_mut() = StatusCode::TOO_MANY_REQUESTS;
        if let Ok(v) = HeaderValue::from_str(&wait.as_secs().max(1).to_string()) {
            response.headers_mut().insert(header::RETRY_AFTER, v);
        }
        return Ok(response);
    }
    let server = server_by_slug(&state, &slug).await?.server.clone();
    if !server.dcr_enabled {
        return Err(OAuthError::new(
            ErrorCode::AccessDenied,
            "dynamic client registration is closed for this MCP server",
        )
        .into());
    }
    let raw = parse_body(&body)?;
    let meta = match registration::parse(&raw, "client_secret_basic", &server.dcr_redirect_hosts) {
        Ok(meta) => meta,
        Err(e) => {
            let event = AuditEvent::new(
                EventType::AgentRegistered,
                Outcome::Failure,
                ActorKind::Anonymous,
            )
            .server(server.id.as_str())
            .with("error", e.code.as_str())
            .with("reason", &e.description)
            .context(&caller.context);
            state.audit.record(event).await?;
            return Err(e.into());
        }
    };
    let now = state.now();
    let agent = agent_from(AgentId::generate(), &meta, &server, now);
    let secret = (!meta.is_public()).then(|| Secret::generate(SecretKind::ClientSecret));
    let registration_token = Secret::generate(SecretKind::RegistrationAccessToken);
    let secrets = AgentSecrets {
        client_secret: secret.as_ref().map(Secret::hash),
        registration_token: Some(registration_token.hash()),
    };
    state
        .store
        .insert_agent_with_metadata(&agent, &secrets, &meta.document.to_string())
        .await?;
    let event = AuditEvent::new(
        EventType::AgentRegistered,
        Outcome::Success,
        ActorKind::Anonymous,
    )
    .agent(agent.id.as_str())
    .server(server.id.as_str())
    .with("client_name", &agent.name)
    .with("redirect_uris", &agent.redirect_uris)
    .with("kind", "dcr")
    .context(&caller.context);
    state.audit.record(event).await?;
    let body = client_information(
        &state,
        &server,
        &agent,
        &meta.document,
        secret.as_ref(),
        Some(&registration_token),
    );
    Ok(no_store(StatusCode::CREATED, &body))
}

/// RFC 7592 §2: the registration access token authenticates management calls.
async fn managed_agent(
    state: &AppState,
    slug: &str,
    client_id: &str,
    headers: &HeaderMap,
) -> Result<(McpServer, Agent), OAuthError> {
    let server = server_by_slug(state, slug).await?.server.clone();
    let unauthorized = || {
        OAuthError::new(
            ErrorCode::InvalidToken,
            "the registration access token is not valid",
        )
    };
    let presented = headers
        .get(header::AUTHORIZATION)
        .and_then(|v| v.to_str().ok())
        .and_then(|v| v.strip_prefix("Bearer "))
        .ok_or_else(unauthorized)?;
    let id = AgentId::from_string(client_id);
    let agent = state.store.agent(&id).await?.ok_or_else(unauthorized)?;
    let secrets = state.store.agent_secrets(&id).await?;
    let valid = secrets
        .registration_token
        .is_some_and(|hash| hash.matches(&Secret::presented(presented)));
    if !valid || agent.registered_at_server.as_deref() != Some(server.id.as_str()) {
        return Err(unauthorized());
    }
    Ok((server, agent))
}

pub async fn read(
    State(state): State<AppState>,
    Path((slug, client_id)): Path<(String, String)>,
    headers: HeaderMap,
) -> Result<Response, JsonError> {
    let (server, agent) = managed_agent(&state, &slug, &client_id, &headers).await?;
    let document: Value = state
        .store
        .agent_metadata(&agent.id)
        .await?
        .and_then(|m| serde_json::from_str(&m).ok())
        .unwrap_or_else(|| json!({}));
    Ok(no_store(
        StatusCode::OK,
        &client_information(&state, &server, &agent, &document, None, None),
    ))
}

pub async fn update(
    State(state): State<AppState>,
    Path((slug, client_id)): Path<(String, String)>,
    caller: Caller,
    headers: HeaderMap,
    body: Bytes,
) -> Result<Response, JsonError> {
    let (server, existing) = managed_agent(&state, &slug, &client_id, &headers).await?;
    let raw = parse_body(&body)?;
    // RFC 7592 §2.2: the body carries client_id, which must match.
    if raw.get("client_id").and_then(Value::as_str) != Some(client_id.as_str()) {
        return Err(OAuthError::invalid_request("client_id in the body must match the URL").into());
    }
    let meta = registration::parse(&raw, "client_secret_basic", &server.dcr_redirect_hosts)?;
    if meta.is_public() != (existing.client_type == ClientType::Public) {
        return Err(OAuthError::new(
            ErrorCode::InvalidClientMetadata,
            "the client type cannot change; register a new client",
        )
        .into());
    }
    let mut agent = agent_from(existing.id.clone(), &meta, &server, existing.created_at);
    agent.trust_level = existing.trust_level;
    agent.tags = existing.tags.clone();
    state
        .store
        .update_agent_registration(&agent, &meta.document.to_string(), state.now())
        .await?;
    state.caches.forget_client(agent.id.as_str());
    let event = AuditEvent::new(EventType::AgentUpdated, Outcome::Success, ActorKind::Agent)
        .agent(agent.id.as_str())
        .server(server.id.as_str())
        .with("redirect_uris", &agent.redirect_uris)
        .context(&caller.context);
    state.audit.record(event).await?;
    Ok(no_store(
        StatusCode::OK,
        &client_information(&state, &server, &agent, &meta.document, None, None),
    ))
}

pub async fn delete(
    State(state): State<AppState>,
    Path((slug, client_id)): Path<(String, String)>,
    caller: Caller,
    headers: HeaderMap,
) -> Result<Response, JsonError> {
    let (server, agent) = managed_agent(&state, &slug, &client_id, &headers).await?;
    state.store.delete_agent(&agent.id).await?;
    state.caches.forget_client(agent.id.as_str());
    let event = AuditEvent::new(EventType::AgentDeleted, Outcome::Success, ActorKind::Agent)
        .agent(agent.id.as_str())
        .server(server.id.as_str())
        .context(&caller.context);
    state.audit.record(event).await?;
    Ok(StatusCode::NO_CONTENT.into_response())
}
