//! `grant_type=refresh_token` (RFC 6749 §6) with rotation and reuse detection
//! (RFC 9700 §4.14.2: "If a refresh token is compromised and subsequently used by both the
//! attacker and the legitimate client, one of them will present an invalidated refresh token,
//! which will inform the authorization server of the breach").
//!
//! The token and its family are read once (or taken from what this process kept when it issued
//! the token: `store::fresh_refresh`); every check runs on that read; the rotation itself
//! is an atomic conditional UPDATE in the transaction that records the new tokens (the audit
//! writer's group commit), so of concurrent requests presenting one token exactly one gets an
//! answer, and the one refused is judged again on what the winner left.

use super::{check_resource, mint, revoke_after_replay, Grant, TokenContext, TokenResponse};
use crate::audit::EventType;
use crate::model::Agent;
use crate::oauth::error::OAuthError;
use crate::oauth::scope::ScopeSet;
use crate::secret::Secret;
use crate::store::tokens::RefreshState;

/// How long after its rotation a refresh token's reappearance counts as a concurrent retry.
pub const REUSE_GRACE_MS: i64 = 2_000;

pub(super) async fn exchange(
    ctx: &TokenContext<'_>,
    client: &Agent,
    refresh_token: &str,
    scope: Option<&str>,
    resource: Option<&str>,
) -> Result<TokenResponse, OAuthError> {
    let hash = Secret::presented(refresh_token).hash();
    // Checks that need no rotation come first, so a refused request does not burn the token.
    // RFC 6749 §6: the refresh token is bound to the client it was issued to.
    let state = match ctx.store.refresh_state_for_exchange(&hash).await? {
        Some(state) if state.family.agent_id == client.id.as_str() => state,
        _ => {
            return Err(OAuthError::invalid_grant(
                "the refresh token is not valid for this client",
            ))
        }
    };
    let granted = ScopeSet::parse(&state.scopes)?;
    // The resource stays the one bound to the grant; a different one is refused.
    check_resource(resource, ctx.server)?;
    // RFC 6749 §6: the requested scope "MUST NOT include any scope not originally granted".
    let scopes = match scope.map(ScopeSet::parse).transpose()? {
        Some(requested) if !requested.is_empty() => {
            let beyond = requested.missing_from(&granted);
            if !beyond.is_empty() {
                return Err(OAuthError::invalid_scope(format!(
                    "a refresh cannot add scopes: {}",
                    beyond.to_scope_string()
                )));
            }
            requested
        }
        _ => granted,
    };
    still_usable(ctx, client, &state).await?;
    let mut minted = mint(
        ctx,
        &Grant {
            client,
            family: Some(&state.family),
            scopes: &scopes,
            with_refresh: true,
            event: EventType::TokenRefreshed,
        },
    )?;
    minted.issuance.rotates = Some(hash.clone());
    if ctx
        .audit
        .record_rotation(minted.event, minted.issuance)
        .await?
    {
        if let Some(fresh) = minted.fresh {
            ctx.store.remember_refresh(fresh);
        }
        return Ok(minted.response);
    }
    // Another request rotated it (or the family was revoked) between the read and the commit:
    // judged again on the token as that left it.
    if let Some(now) = ctx.store.refresh_token_state(&hash).await? {
        still_usable(ctx, client, &now).await?;
    }
    Err(already_used())
}

/// Whether `state` may still be exchanged: its own rotation and lifetime, then its family's.
async fn still_usable(
    ctx: &TokenContext<'_>,
    client: &Agent,
    state: &RefreshState,
) -> Result<(), OAuthError> {
    // Expiry first, rotated or not: a token past its lifetime is refused the same way whether
    // or not its row is still there (the token sweep deletes it then, `store::token_sweep`),
    // so reuse is detected, and the family revoked, for as long as the token itself would
    // have lived (RFC 9700 §4.14.2).
    if state.expires_at <= ctx.now {
        return Err(OAuthError::invalid_grant("the refresh token has expired"));
    }
    if let Some(rotated_at) = state.rotated_at {
        // The same token presented again within a moment of its rotation is a concurrent retry
        // by the client (two requests in flight, a retried timeout): refused, family kept.
        // Later, it is reuse: the family is revoked.
        if ctx.now - rotated_at > REUSE_GRACE_MS {
            revoke_after_replay(
                ctx,
                client,
                &state.family.id,
                EventType::RefreshReuseDetected,
            )
            .await?;
        }
        return Err(already_used());
    }
    let family = &state.family;
    if family.revoked_at.is_some() {
        return Err(OAuthError::invalid_grant(
            "the authorization has been revoked",
        ));
    }
    if family.expires_at <= ctx.now {
        return Err(OAuthError::invalid_grant(
            "the authorization has reached its maximum lifetime",
        ));
    }
    if family.mcp_server_id != ctx.server.id.as_str() {
        return Err(OAuthError::invalid_grant(
            "the refresh token was issued by another issuer",
        ));
    }
    Ok(())
}

fn already_used() -> OAuthError {
    OAuthError::invalid_grant("the refresh token has already been used")
}
