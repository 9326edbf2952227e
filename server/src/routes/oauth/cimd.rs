//! Resolving a `client_id` that is a Client ID Metadata Document URL into an agent: fetched
//! through the SSRF-guarded client, validated, stored as a `cimd` agent, cached per the
//! document's Cache-Control.

use mandate_core::audit::{ActorKind, AuditEvent, EventType, Outcome, RequestContext};
use mandate_core::ids::AgentId;
use mandate_core::model::{Agent, AgentKind, ClientType, McpServer, TrustLevel};
use mandate_core::oauth::cimd::{self, MAX_DOCUMENT_BYTES};
use mandate_core::oauth::{ErrorCode, OAuthError};
use mandate_core::store::agents::AgentSecrets;

use crate::state::AppState;

fn invalid_client(why: impl Into<String>) -> OAuthError {
    OAuthError::new(ErrorCode::InvalidClient, why)
}

/// The agent for a document URL `client_id`, fetching the document when it is not cached.
pub async fn resolve(
    state: &AppState,
    server: &McpServer,
    client_id: &str,
    request: &RequestContext,
) -> Result<Agent, OAuthError> {
    if !server.cimd_enabled {
        return Err(invalid_client(
            "this MCP server does not accept client metadata documents",
        ));
    }
    let url = cimd::validate_document_url(client_id)?;
    let host = url.host_str().unwrap_or_default();
    if !cimd::host_is_accepted(host, &server.cimd_domains, server.cimd_allow_unknown) {
        return Err(invalid_client(format!(
            "applications from {host} are not approved for this MCP server"
        )));
    }
    let id = AgentId::from_string(client_id);
    let now = state.now();
    let existing = state.store.agent(&id).await?;
    if let Some(agent) = &existing {
        if agent.kind != AgentKind::Cimd {
            return Err(invalid_client(
                "this client_id belongs to another kind of client",
            ));
        }
        let fresh = state
            .store
            .agent_metadata_expires_at(&id)
            .await?
            .is_some_and(|at| at > now);
        if fresh {
            return Ok(agent.clone());
        }
    }
    let checked = async {
        let fetched = state
            .outbound
            .fetch_json(&url, MAX_DOCUMENT_BYTES)
            .await
            .map_err(|e| {
                invalid_client(format!(
                    "the client metadata document could not be used: {e}"
                ))
            })?;
        let meta = cimd::validate_document(client_id, &fetched.body, &[])?;
        Ok::<_, OAuthError>((fetched, meta))
    }
    .await;
    let (fetched, meta) = match checked {
        Ok(v) => v,
        Err(e) => {
            record(
                state,
                server,
                client_id,
                request,
                Outcome::Failure,
                Some(&e.description),
            )
            .await?;
            return Err(e);
        }
    };
    let agent = Agent {
        id: id.clone(),
        name: meta.client_name.clone().unwrap_or_else(|| host.to_owned()),
        kind: AgentKind::Cimd,
        trust_level: existing
            .as_ref()
            .map_or(TrustLevel::Cimd, |a| a.trust_level),
        client_type: ClientType::Public,
        token_endpoint_auth_method: "none".into(),
        redirect_uris: meta.redirect_uris.clone(),
        grant_types: meta.grant_types.clone(),
        tags: existing
            .as_ref()
            .map(|a| a.tags.clone())
            .unwrap_or_default(),
        logo_uri: meta.logo_uri.clone(),
        application_type: meta.application_type_str().into(),
        scope: meta.scope.clone(),
        registered_at_server: None,
        disabled: existing.as_ref().is_some_and(|a| a.disabled),
        created_at: existing.as_ref().map_or(now, |a| a.created_at),
        last_used_at: existing.as_ref().and_then(|a| a.last_used_at),
    };
    let document = meta.document.to_string();
    if existing.is_some() {
        state
            .store
            .update_agent_registration(&agent, &document, now)
            .await?;
        state.caches.forget_client(agent.id.as_str());
    } else {
        match state
            .store
            .insert_agent_with_metadata(&agent, &AgentSecrets::default(), &document)
            .await
        {
            Ok(()) | Err(mandate_core::CoreError::AlreadyExists { .. }) => {}
            Err(e) => return Err(e.into()),
        }
    }
    state
        .store
        .set_agent_metadata_expires_at(&id, cimd::expires_at(fetched.cache_control.as_deref(), now))
        .await?;
    record(state, server, client_id, request, Outcome::Success, None).await?;
    Ok(agent)
}

async fn record(
    state: &AppState,
    server: &McpServer,
    client_id: &str,
    request: &RequestContext,
    outcome: Outcome,
    reason: Option<&str>,
) -> Result<(), OAuthError> {
    let event = AuditEvent::new(EventType::AgentRegistered, outcome, ActorKind::System)
        .agent(client_id)
        .server(server.id.as_str())
        .with("kind", "cimd")
        .with("reason", reason)
        .context(request);
    state.audit.record(event).await.map_err(Into::into)
}
