//! RFC 8693 token exchange at `{issuer}/token`: an MCP server (an admin-made confidential
//! agent allowed the grant) trades a person's Mandate access token for the token of one of
//! their connections. The connections policies (or, for a machine token, the agent's own
//! connection allowance) decide whether it may and which provider scopes it may carry; a
//! token about to expire is refreshed first, one carrying more than is allowed is narrowed
//! at the provider. Every read, refresh and exchange is an audit event; the token itself is
//! only ever in the response.

use axum::http::StatusCode;
use axum::response::Response;
use mandate_core::audit::{ActorKind, AuditEvent, EventType, Outcome};
use mandate_core::connections::exchange::{
    decide, owners_for, ExchangeRefusal, ExchangeRequest, ScopeDecision, ACCESS_TOKEN_TYPE,
    GRANT_TYPE,
};
use mandate_core::connections::policy::{agent_allowance, allowance, Allowance};
use mandate_core::connections::{
    callback_uri, needs_refresh, Connection, ConnectionProvider, ProviderKind, VaultTokens,
    REFRESH_MARGIN_MS,
};
use mandate_core::ids::{AgentId, UserId};
use mandate_core::model::{Agent, ClientType, TrustLevel};
use mandate_core::oauth::introspection::live_access_token;
use mandate_core::oauth::params::Params;
use mandate_core::oauth::tokens::AccessTokenClaims;
use mandate_core::oauth::{ErrorCode, OAuthError};
use mandate_core::policy::subject_of;
use serde::Serialize;

use crate::error::{no_store, JsonError};
use crate::request_context::Caller;
use crate::state::{AppState, ServerEntry};
use crate::vault;
use crate::vault_refresh::{read, refresh, RefreshError, VaultActor};

/// RFC 8693 §2.2.1.
#[derive(Debug, Serialize)]
struct ExchangeResponse {
    access_token: String,
    issued_token_type: &'static str,
    /// `Bearer` for an OAuth 2.0 provider's token; `N_A` for an API key (RFC 8693 §2.2.1:
    /// not an OAuth access token).
    token_type: &'static str,
    #[serde(skip_serializing_if = "Option::is_none")]
    expires_in: Option<i64>,
    #[serde(skip_serializing_if = "String::is_empty")]
    scope: String,
}

/// What the audit event of one exchange says, filled in as the exchange goes.
#[derive(Default)]
struct Trail {
    provider: Option<String>,
    owner_kind: Option<&'static str>,
    user: Option<String>,
    tenant: Option<String>,
    policies: Vec<String>,
    scopes: Option<String>,
}

pub async fn exchange(
    state: &AppState,
    entry: &ServerEntry,
    params: &Params,
    client: &Agent,
    caller: &Caller,
) -> Result<Response, JsonError> {
    let mut trail = Trail::default();
    let result = run(state, entry, params, client, caller, &mut trail).await;
    let (outcome, reason) = match &result {
        Ok(_) => (Outcome::Success, None),
        Err(e) => (Outcome::Failure, Some(e.description.clone())),
    };
    let event = AuditEvent::new(EventType::ConnectionExchanged, outcome, ActorKind::Agent)
        .agent(client.id.as_str())
        .server(entry.server.id.as_str())
        .user(trail.user)
        .tenant(trail.tenant)
        .scopes(None, trail.scopes)
        .policies(&trail.policies)
        .with("provider", &trail.provider)
        .with("owner", trail.owner_kind)
        .with("reason", reason)
        .context(&caller.context);
    state.audit.record(event).await.map_err(OAuthError::from)?;
    let response = result?;
    crate::metrics::token_issued("token_exchange");
    Ok(no_store(StatusCode::OK, &response))
}

async fn run(
    state: &AppState,
    entry: &ServerEntry,
    params: &Params,
    client: &Agent,
    caller: &Caller,
    trail: &mut Trail,
) -> Result<ExchangeResponse, OAuthError> {
    // Only an agent an admin made for a server's back end, and allowed this grant, exchanges:
    // a self-registered client never reaches the vault.
    let trusted =
        client.client_type == ClientType::Confidential && client.trust_level == TrustLevel::Admin;
    if !trusted || !client.grant_types.iter().any(|g| g == GRANT_TYPE) {
        return Err(OAuthError::new(
            ErrorCode::UnauthorizedClient,
            "this client may not exchange tokens for connections",
        ));
    }
    let prefix = format!(
        "{}/connections/",
        state.config.public_url.trim_end_matches('/')
    );
    let request = ExchangeRequest::from_params(params, &prefix)?;
    let server = &entry.server;
    let issuer = server.issuer(&state.config.public_url);
    let claims =
        subject_claims(state, &issuer, &server.resource_url, &request.subject_token).await?;
    trail.tenant.clone_from(&claims.tenant);
    let (provider, secret_sealed) = state
        .store
        .connection_provider_by_slug(&request.provider_slug)
        .await?
        .ok_or_else(|| {
            OAuthError::new(
                ErrorCode::InvalidTarget,
                format!("no connection is named {}", request.provider_slug),
            )
        })?;
    trail.provider = Some(provider.slug.clone());
    let machine = claims.tenant.is_none() && claims.sub == claims.client_id;
    if !machine {
        trail.user = Some(claims.sub.clone());
    }
    let allowed = if machine {
        let own = state.store.agent_connection_allowance(&claims.sub).await?;
        agent_allowance(&own, &provider.id)
    } else {
        policy_allowance(state, &claims, &provider.id).await?
    };
    // Refused before the vault is even looked at: a caller that may not have the token does
    // not learn whether the person connected.
    let Some(allowed) = allowed else {
        return Err(ExchangeRefusal::NotAllowed.to_oauth(&provider.slug));
    };
    trail.policies.clone_from(&allowed.matched);
    let owners = owners_for(&claims.sub, &claims.client_id, claims.tenant.as_deref());
    let mut found = None;
    for owner in &owners {
        if let Some(row) = state.store.connection(&provider.id, owner).await? {
            found = Some(row);
            break;
        }
    }
    let Some((connection, sealed)) = found else {
        return Err(OAuthError::invalid_grant(if machine {
            format!("this agent has no {} connection", provider.slug)
        } else {
            format!(
                "the person has not connected {}: they can at {}/account",
                provider.name,
                state.config.public_url.trim_end_matches('/')
            )
        }));
    };
    trail.owner_kind = Some(connection.owner.kind.as_str());
    let decision = decide(&connection.scopes, request.scope.as_ref(), Some(&allowed))
        .map_err(|r| r.to_oauth(&provider.slug))?;
    trail.scopes = Some(join(&decision));
    let secret = vault::provider_secret(&state.master_key, &provider, &secret_sealed)
        .map_err(OAuthError::server_error)?;
    let actor = VaultActor::Exchange { client, caller };
    let tokens = read(state, &provider, &connection, &sealed, actor)
        .await
        .map_err(OAuthError::server_error)?;
    let (connection, tokens) = if needs_refresh(connection.expires_at, state.now()) {
        let due_before = state.now() + REFRESH_MARGIN_MS + 1;
        refresh(
            state, &provider, &secret, connection, tokens, due_before, actor,
        )
        .await
        .map_err(|e| refresh_refused(&provider, e))?
    } else {
        (connection, tokens)
    };
    let (access_token, expires_at) = if decision.narrow && provider.kind == ProviderKind::Oauth2 {
        narrowed(state, &provider, &secret, &connection, tokens, &decision).await?
    } else {
        (tokens.access_token, connection.expires_at)
    };
    state
        .store
        .touch_connection(&connection.id, state.now())
        .await?;
    Ok(ExchangeResponse {
        access_token,
        issued_token_type: ACCESS_TOKEN_TYPE,
        token_type: match provider.kind {
            ProviderKind::Oauth2 => "Bearer",
            ProviderKind::ApiKey => "N_A",
        },
        expires_in: expires_at.map(|at| ((at - state.now()) / 1000).max(0)),
        scope: join(&decision),
    })
}

fn join(decision: &ScopeDecision) -> String {
    decision
        .scopes
        .iter()
        .cloned()
        .collect::<Vec<_>>()
        .join(" ")
}

/// The subject token's claims: a live (unexpired, unrevoked) access token of this issuer for
/// this MCP server.
async fn subject_claims(
    state: &AppState,
    issuer: &str,
    resource: &str,
    token: &str,
) -> Result<AccessTokenClaims, OAuthError> {
    let refused =
        || OAuthError::invalid_grant("subject_token is not a live access token of this issuer");
    let claims = live_access_token(
        &state.store,
        &state.keys.current(),
        token,
        issuer,
        state.now(),
    )
    .await?
    .ok_or_else(refused)?;
    if claims.aud.trim_end_matches('/') != resource.trim_end_matches('/') {
        return Err(refused());
    }
    Ok(claims)
}

/// What the connections policies allow the person (in the token's tenant, with the agent that
/// holds the token) on `provider_id`.
async fn policy_allowance(
    state: &AppState,
    claims: &AccessTokenClaims,
    provider_id: &str,
) -> Result<Option<Allowance>, OAuthError> {
    let Some(agent) = state
        .store
        .agent(&AgentId::from_string(claims.client_id.as_str()))
        .await?
    else {
        return Err(OAuthError::invalid_grant(
            "the subject token's agent no longer exists",
        ));
    };
    let memberships = state
        .store
        .memberships_of(&UserId::from_string(claims.sub.as_str()))
        .await?;
    let mut subject = subject_of(
        memberships.iter().map(|(m, _)| m),
        claims.tenant.as_deref().unwrap_or_default(),
        &claims.sub,
        &agent,
        &claims.aud,
    );
    subject.jwt_claims.insert(
        "scope".into(),
        claims
            .scope
            .split(' ')
            .filter(|s| !s.is_empty())
            .map(str::to_owned)
            .collect(),
    );
    let policies = state.store.connection_policies().await?;
    Ok(allowance(&policies, &subject, provider_id))
}

fn refresh_refused(provider: &ConnectionProvider, failure: RefreshError) -> OAuthError {
    match failure {
        RefreshError::Internal(e) => OAuthError::server_error(e),
        RefreshError::Gone => OAuthError::invalid_grant("the connection was disconnected"),
        RefreshError::Failed(failure) => {
            let mut e = OAuthError::invalid_grant(format!(
                "the {} connection could not be refreshed; the person must connect again",
                provider.slug
            ));
            e.internal = Some(failure.to_string());
            e
        }
    }
}

/// A token narrowed to `decision`'s scopes, asked of the provider with the refresh token (the
/// stored tokens keep their scopes; a rotated refresh token is kept).
async fn narrowed(
    state: &AppState,
    provider: &ConnectionProvider,
    secret: &str,
    connection: &Connection,
    tokens: VaultTokens,
    decision: &ScopeDecision,
) -> Result<(String, Option<i64>), OAuthError> {
    let cannot = || {
        OAuthError::invalid_scope(format!(
            "the {} connection holds more than may be handed out here and cannot be narrowed",
            provider.slug
        ))
    };
    let Some(refresh_token) = tokens.refresh_token.clone() else {
        return Err(cannot());
    };
    let lock = state.vault.refresh_lock(&connection.id);
    let _held = lock.lock().await;
    let scopes: Vec<String> = decision.scopes.iter().cloned().collect();
    let redirect = callback_uri(&state.config.public_url);
    let fresh = state
        .vault
        .refresh(provider, secret, &redirect, &refresh_token, Some(&scopes))
        .await
        .map_err(|failure| {
            let mut e = cannot();
            e.internal = Some(failure.to_string());
            e
        })?;
    let now = state.now();
    if let Some(rotated) = fresh.refresh_token.clone() {
        let keep = VaultTokens {
            access_token: tokens.access_token,
            refresh_token: Some(rotated),
        };
        let sealed = vault::seal(&state.master_key, &provider.id, &connection.owner, &keep)?;
        let row = mandate_core::store::connections::SealedTokens {
            sealed: &sealed,
            scopes: &connection.scopes,
            expires_at: connection.expires_at,
            refreshable: true,
        };
        state
            .store
            .refresh_connection(&connection.id, &row, now)
            .await?;
    }
    Ok((fresh.access_token.clone(), fresh.expires_at(now)))
}
