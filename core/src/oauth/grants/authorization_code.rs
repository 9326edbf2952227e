//! `grant_type=authorization_code` (RFC 6749 §4.1.3, RFC 7636 §4.6, RFC 9700 §4.2.4).

use super::{check_resource, issue, revoke_after_replay, Grant, TokenContext, TokenResponse};
use crate::audit::EventType;
use crate::model::Agent;
use crate::oauth::error::OAuthError;
use crate::oauth::pkce;
use crate::oauth::scope::ScopeSet;
use crate::secret::Secret;
use crate::store::tokens::CodeRedemption;

pub(super) async fn exchange(
    ctx: &TokenContext<'_>,
    client: &Agent,
    code: &str,
    redirect_uri: Option<&str>,
    code_verifier: Option<&str>,
    resource: Option<&str>,
) -> Result<TokenResponse, OAuthError> {
    let hash = Secret::presented(code).hash();
    let record = match ctx
        .store
        .redeem_code(&hash, client.id.as_str(), ctx.now)
        .await?
    {
        CodeRedemption::Fresh(record) => record,
        // RFC 6749 §4.1.2: "If an authorization code is used more than once, the authorization
        // server MUST deny the request and SHOULD revoke (when possible) all tokens previously
        // issued based on that authorization code."
        CodeRedemption::AlreadyUsed { family_id } => {
            revoke_after_replay(ctx, client, &family_id, EventType::CodeReplayDetected).await?;
            return Err(OAuthError::invalid_grant(
                "the authorization code has already been used",
            ));
        }
        CodeRedemption::Expired => {
            return Err(OAuthError::invalid_grant(
                "the authorization code has expired",
            ))
        }
        CodeRedemption::Unknown => {
            return Err(OAuthError::invalid_grant(
                "the authorization code is not valid for this client",
            ))
        }
    };
    if record.mcp_server_id != ctx.server.id.as_str() {
        return Err(OAuthError::invalid_grant(
            "the authorization code was issued by another issuer",
        ));
    }
    // RFC 6749 §4.1.3: redirect_uri must be identical to the one of the authorization request.
    if let Some(uri) = redirect_uri {
        if uri != record.redirect_uri {
            return Err(OAuthError::invalid_grant(
                "redirect_uri does not match the authorization request",
            ));
        }
    }
    pkce::verify(code_verifier, &record.code_challenge)?;
    check_resource(resource, ctx.server)?;
    // The code was consumed by this call, so this redemption wins. A concurrent replay may
    // revoke the family at any moment; tokens of a revoked family are born revoked
    // (introspection and refresh check the family), so no check here can race with it.
    let family = ctx
        .store
        .family(&record.family_id)
        .await?
        .ok_or_else(|| OAuthError::invalid_grant("the authorization no longer exists"))?;
    let scopes = ScopeSet::parse(&record.scopes)?;
    let with_refresh = client.grant_types.iter().any(|g| g == "refresh_token");
    issue(
        ctx,
        Grant {
            client,
            family: Some(&family),
            scopes: &scopes,
            with_refresh,
            event: EventType::TokenIssued,
        },
    )
    .await
}
