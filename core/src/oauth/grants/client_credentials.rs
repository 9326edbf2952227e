//! `grant_type=client_credentials` (RFC 6749 §4.4): confidential agents acting for themselves.
//! `sub` is the client_id; scopes are limited to the agent's allowance on the server.

use super::{check_resource, issue, Grant, TokenContext, TokenResponse};
use crate::audit::EventType;
use crate::model::{Agent, ClientType};
use crate::oauth::error::{ErrorCode, OAuthError};
use crate::oauth::scope::ScopeSet;

pub(super) async fn exchange(
    ctx: &TokenContext<'_>,
    client: &Agent,
    scope: Option<&str>,
    resource: Option<&str>,
) -> Result<TokenResponse, OAuthError> {
    // RFC 6749 §4.4: "MUST only be used by confidential clients".
    if client.client_type != ClientType::Confidential {
        return Err(OAuthError::new(
            ErrorCode::UnauthorizedClient,
            "client_credentials is for confidential clients only",
        ));
    }
    check_resource(resource, ctx.server)?;
    let known = ScopeSet::from_tokens(ctx.server_scopes.iter().map(|s| s.name.clone()));
    let allowed = match ctx.client_allowance {
        Some(list) => ScopeSet::from_tokens(list.iter().cloned()).intersect(&known),
        None => known,
    };
    let requested = ScopeSet::parse(scope.unwrap_or_default())?;
    let scopes = if requested.is_empty() {
        allowed
    } else {
        let beyond = requested.missing_from(&allowed);
        if !beyond.is_empty() {
            return Err(OAuthError::invalid_scope(format!(
                "this client may not request: {}",
                beyond.to_scope_string()
            )));
        }
        requested
    };
    if scopes.is_empty() {
        return Err(OAuthError::invalid_scope(
            "this client has no scope on this server",
        ));
    }
    issue(
        ctx,
        Grant {
            client,
            family: None,
            scopes: &scopes,
            with_refresh: false,
            event: EventType::TokenIssued,
        },
    )
    .await
}
