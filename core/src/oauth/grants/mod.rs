//! The token endpoint's grants, one file each, and what they share: minting the access token
//! (RFC 9068), recording the issuance, and the audit event that must be durable before the
//! response leaves.

mod authorization_code;
mod client_credentials;
mod refresh_token;

use serde::Serialize;

use super::error::{ErrorCode, OAuthError};
use super::params::TokenRequest;
use super::scope::ScopeSet;
use super::tokens::{AccessTokenClaims, Actor, EnrichedClaims, KeySet};
use crate::audit::{ActorKind, AuditEvent, AuditLog, EventType, Outcome, RequestContext};
use crate::clock::UnixMillis;
use crate::model::{Agent, McpServer, Scope};
use crate::oauth::resource;
use crate::secret::{Secret, SecretKind};
use crate::store::fresh_refresh::PendingRefresh;
use crate::store::tokens::{Issuance, IssuedRefreshToken, RefreshState, TokenFamily};
use crate::store::Store;

/// Everything a grant needs besides the request.
pub struct TokenContext<'a> {
    pub store: &'a Store,
    pub keys: &'a KeySet,
    pub audit: &'a AuditLog,
    /// The issuer the request came to.
    pub issuer: &'a str,
    /// The MCP server of that issuer, and its scopes.
    pub server: &'a McpServer,
    pub server_scopes: &'a [Scope],
    /// The client's allowance on this server (`None`: every scope).
    pub client_allowance: Option<&'a [String]>,
    pub now: UnixMillis,
    pub request: &'a RequestContext,
}

/// RFC 6749 §5.1.
#[derive(Debug, Clone, Serialize, PartialEq, Eq)]
pub struct TokenResponse {
    pub access_token: String,
    pub token_type: &'static str,
    pub expires_in: i64,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub refresh_token: Option<String>,
    pub scope: String,
}

/// Runs the grant for an authenticated client; records a `token.failed` event on refusal.
pub async fn exchange(
    ctx: &TokenContext<'_>,
    client: &Agent,
    request: TokenRequest,
) -> Result<TokenResponse, OAuthError> {
    let grant_type = request.grant_type();
    let result = if !client.grant_types.iter().any(|g| g == grant_type) {
        Err(OAuthError::new(
            ErrorCode::UnauthorizedClient,
            format!("this client is not registered for the {grant_type} grant"),
        ))
    } else {
        match request {
            TokenRequest::AuthorizationCode {
                code,
                redirect_uri,
                code_verifier,
                resource,
            } => {
                authorization_code::exchange(
                    ctx,
                    client,
                    &code,
                    redirect_uri.as_deref(),
                    code_verifier.as_deref(),
                    resource.as_deref(),
                )
                .await
            }
            TokenRequest::RefreshToken {
                refresh_token,
                scope,
                resource,
            } => {
                refresh_token::exchange(
                    ctx,
                    client,
                    &refresh_token,
                    scope.as_deref(),
                    resource.as_deref(),
                )
                .await
            }
            TokenRequest::ClientCredentials { scope, resource } => {
                client_credentials::exchange(ctx, client, scope.as_deref(), resource.as_deref())
                    .await
            }
        }
    };
    if let Err(e) = &result {
        if e.code != ErrorCode::ServerError {
            let event = AuditEvent::new(EventType::TokenFailed, Outcome::Failure, ActorKind::Agent)
                .agent(client.id.as_str())
                .server(ctx.server.id.as_str())
                .with("grant_type", grant_type)
                .with("error", e.code.as_str())
                .with("reason", &e.description)
                .context(ctx.request);
            ctx.audit.record(event).await?;
        }
    }
    result
}

/// The `resource` of a token request, when given, must be this issuer's server (RFC 8707 §2.2).
fn check_resource(requested: Option<&str>, server: &McpServer) -> Result<(), OAuthError> {
    match requested {
        Some(r) if !resource::matches(r, &server.resource_url)? => Err(OAuthError::new(
            ErrorCode::InvalidTarget,
            "resource is not the MCP server this token would be for",
        )),
        _ => Ok(()),
    }
}

/// What one issuance grants.
struct Grant<'a> {
    client: &'a Agent,
    family: Option<&'a TokenFamily>,
    scopes: &'a ScopeSet,
    /// Issue a refresh token (authorization code / refresh grants of clients that may refresh).
    with_refresh: bool,
    event: EventType,
}

/// Signs the access token, creates the refresh token, records both and the audit event.
async fn issue(ctx: &TokenContext<'_>, grant: Grant<'_>) -> Result<TokenResponse, OAuthError> {
    let minted = mint(ctx, &grant)?;
    // The tokens and their audit event commit together, before the response is sent; the
    // same transaction records the agent's use (`last_used_at`, see `AuditLog`).
    ctx.audit
        .record_issuance(minted.event, minted.issuance)
        .await?;
    if let Some(fresh) = minted.fresh {
        ctx.store.remember_refresh(fresh);
    }
    Ok(minted.response)
}

/// An issuance ready to record: the response is sent only once the issuance and its event
/// have committed.
struct Minted {
    response: TokenResponse,
    issuance: Issuance,
    event: AuditEvent,
    /// The new refresh token's state, kept once the issuance commits.
    fresh: Option<PendingRefresh>,
}

/// Signs the access token and creates the refresh token of `grant`; records nothing.
fn mint(ctx: &TokenContext<'_>, grant: &Grant<'_>) -> Result<Minted, OAuthError> {
    let now_s = ctx.now / 1000;
    // Clamped as well as validated: the token sweep deletes an authorization a day after its
    // end, counting on no access token of it living longer (`store::token_sweep`).
    let ttl = ctx
        .server
        .access_token_ttl_secs
        .clamp(1, crate::model::mcp_server::MAX_ACCESS_TOKEN_TTL_SECS);
    // Time-ordered (UUIDv7): each new row lands at the right edge of the access_tokens key
    // index instead of on a random page, which a random id would dirty (and re-read) per insert.
    let jti = uuid::Uuid::now_v7().to_string();
    let client_id = grant.client.id.to_string();
    let (sub, tenant, auth_time, acr, amr, act) = match grant.family {
        Some(f) => (
            f.user_id.clone().unwrap_or_else(|| client_id.clone()),
            f.tenant_id.clone(),
            f.auth_time.map(|t| t / 1000),
            f.acr.clone(),
            (!f.amr.is_empty()).then(|| f.amr.clone()),
            f.user_id.as_ref().map(|_| Actor {
                sub: client_id.clone(),
            }),
        ),
        None => (client_id.clone(), None, None, None, None, None),
    };
    let claims = AccessTokenClaims {
        iss: ctx.issuer.to_owned(),
        sub,
        aud: ctx.server.resource_url.clone(),
        client_id: client_id.clone(),
        scope: grant.scopes.to_scope_string(),
        exp: now_s + ttl,
        iat: now_s,
        nbf: now_s,
        jti: jti.clone(),
        auth_time,
        acr,
        amr,
        tenant,
        act,
    };
    // Claims the issuance hooks added to the authorization (never on client_credentials).
    let access_token = match grant.family.map(|f| &f.claims) {
        Some(extra) if !extra.is_empty() => ctx.keys.sign(&EnrichedClaims {
            claims: &claims,
            extra,
        })?,
        _ => ctx.keys.sign(&claims)?,
    };
    let scope_string = grant.scopes.to_scope_string();
    let refresh = match (grant.with_refresh, grant.family) {
        (true, Some(f)) => {
            let token = Secret::generate_time_ordered(SecretKind::RefreshToken);
            let sliding = ctx.now + ctx.server.refresh_token_ttl_secs * 1000;
            Some((token, sliding.min(f.expires_at)))
        }
        _ => None,
    };
    let family_id = grant.family.map(|f| f.id.clone());
    let issuance = Issuance {
        jti: jti.clone(),
        family_id: family_id.clone(),
        agent_id: client_id.clone(),
        mcp_server_id: ctx.server.id.to_string(),
        access_expires_at: (now_s + ttl) * 1000,
        refresh: match (&refresh, &family_id) {
            (Some((token, expires_at)), Some(fid)) => Some(IssuedRefreshToken {
                hash: token.hash(),
                family_id: fid.clone(),
                scopes: scope_string.clone(),
                expires_at: *expires_at,
            }),
            _ => None,
        },
        rotates: None,
        issued_at: ctx.now,
    };
    let fresh = match (&issuance.refresh, grant.family) {
        (Some(r), Some(family)) => ctx.store.pending_refresh(&r.hash, || RefreshState {
            family: family.clone(),
            scopes: r.scopes.clone(),
            expires_at: r.expires_at,
            rotated_at: None,
        }),
        _ => None,
    };
    let event = AuditEvent::new(grant.event, Outcome::Success, ActorKind::Agent)
        .agent(client_id.as_str())
        .user(grant.family.and_then(|f| f.user_id.clone()))
        .tenant(grant.family.and_then(|f| f.tenant_id.clone()))
        .server(ctx.server.id.as_str())
        .scopes(None, Some(scope_string.clone()))
        .with("jti", &jti)
        .with("family", &family_id)
        .with("refresh_token_issued", refresh.is_some())
        .context(ctx.request);
    Ok(Minted {
        response: TokenResponse {
            access_token,
            token_type: "Bearer",
            expires_in: ttl,
            refresh_token: refresh.map(|(t, _)| t.expose().to_owned()),
            scope: scope_string,
        },
        issuance,
        event,
        fresh,
    })
}

/// Revokes a family after a replay and records why.
async fn revoke_after_replay(
    ctx: &TokenContext<'_>,
    client: &Agent,
    family_id: &str,
    event: EventType,
) -> Result<(), OAuthError> {
    let revoked = ctx
        .store
        .revoke_family(family_id, event.as_str(), ctx.now)
        .await?;
    let audit = AuditEvent::new(event, Outcome::Failure, ActorKind::Agent)
        .agent(client.id.as_str())
        .server(ctx.server.id.as_str())
        .with("family", family_id)
        .with("family_revoked", revoked)
        .context(ctx.request);
    ctx.audit.record(audit).await?;
    Ok(())
}

#[cfg(test)]
mod tests;
