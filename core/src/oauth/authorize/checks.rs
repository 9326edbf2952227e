//! The single-rule checks `/authorize` runs, in the order `mod.rs` lists them.

use super::{AuthorizeInput, ValidatedRequest};
use crate::oauth::error::{ErrorCode, OAuthError};
use crate::oauth::scope::ScopeSet;
use crate::oauth::{pkce, redirect_uri, resource};

/// OpenID Connect identity scopes (for `/userinfo`), allowed on every server beside its own.
pub const IDENTITY_SCOPES: &[&str] = &["openid", "profile", "email"];

fn page_error(description: impl Into<String>) -> OAuthError {
    OAuthError::invalid_request(description)
}

/// RFC 6749 §4.1.2.1: an invalid client_id is reported to the user, never redirected.
pub fn client_is_known(input: &AuthorizeInput<'_>) -> Result<(), OAuthError> {
    if input.request.client_id.is_none() {
        return Err(page_error("client_id is required"));
    }
    match input.agent {
        None => Err(OAuthError::new(
            ErrorCode::InvalidClient,
            "this application is not registered here",
        )),
        Some(a) if a.disabled => Err(OAuthError::new(
            ErrorCode::InvalidClient,
            "this application has been disabled",
        )),
        Some(_) => Ok(()),
    }
}

/// RFC 6749 §3.1.2.3, OAuth 2.1 §4.1.1: exact match with the registered URIs (RFC 8252 §7.3
/// loopback ports aside); a mismatch is reported to the user, never redirected.
pub fn redirect_uri_is_registered(input: &AuthorizeInput<'_>) -> Result<(), OAuthError> {
    effective_redirect_uri(input).map(|_| ())
}

/// The redirect URI to answer at: the requested one if registered; when none is requested,
/// the single registered one (RFC 6749 §3.1.2.3).
pub fn effective_redirect_uri(input: &AuthorizeInput<'_>) -> Result<String, OAuthError> {
    let registered = input
        .agent
        .map(|a| a.redirect_uris.as_slice())
        .unwrap_or_default();
    match input.request.redirect_uri.as_deref() {
        Some(requested) if redirect_uri::matches_registered(registered, requested) => {
            Ok(requested.to_owned())
        }
        Some(_) => Err(page_error(
            "redirect_uri is not registered for this application",
        )),
        None => match registered {
            [only] if !only.starts_with("http://") => Ok(only.clone()),
            _ => Err(page_error("redirect_uri is required")),
        },
    }
}

/// RFC 6749 §4.1.1: `response_type=code`, the only one OAuth 2.1 keeps.
pub fn response_type_is_code(
    input: &AuthorizeInput<'_>,
    _: &mut ValidatedRequest,
) -> Result<(), OAuthError> {
    match input.request.response_type.as_deref() {
        Some("code") => Ok(()),
        None => Err(OAuthError::invalid_request("response_type is required")),
        Some(other) => Err(OAuthError::new(
            ErrorCode::UnsupportedResponseType,
            format!("response_type {other} is not supported: use code"),
        )),
    }
}

/// RFC 7591 §2: a client registered without `authorization_code` may not use this flow.
pub fn client_may_use_authorization_code(
    input: &AuthorizeInput<'_>,
    _: &mut ValidatedRequest,
) -> Result<(), OAuthError> {
    let allowed = input
        .agent
        .is_some_and(|a| a.grant_types.iter().any(|g| g == "authorization_code"));
    if allowed {
        Ok(())
    } else {
        Err(OAuthError::new(
            ErrorCode::UnauthorizedClient,
            "this client is not registered for the authorization_code grant",
        ))
    }
}

/// OAuth 2.1 §4.1.1, RFC 9700 §2.1.1: PKCE with S256 for every client.
pub fn pkce_s256_is_present(
    input: &AuthorizeInput<'_>,
    draft: &mut ValidatedRequest,
) -> Result<(), OAuthError> {
    draft.code_challenge = pkce::check_challenge(
        input.request.code_challenge.as_deref(),
        input.request.code_challenge_method.as_deref(),
    )?;
    Ok(())
}

/// RFC 8707 §2: the `resource` must be the MCP server this issuer serves. Absent, the
/// issuer's server is meant (per-server issuers name exactly one resource).
pub fn resource_names_this_server(
    input: &AuthorizeInput<'_>,
    _: &mut ValidatedRequest,
) -> Result<(), OAuthError> {
    match input.request.resource.as_deref() {
        None => Ok(()),
        Some(requested) if resource::matches(requested, &input.server.resource_url)? => Ok(()),
        Some(_) => Err(OAuthError::new(
            ErrorCode::InvalidTarget,
            "resource is not the MCP server this authorization server protects",
        )),
    }
}

/// RFC 6749 §3.3: every requested scope exists on the server and is within the client's
/// allowance there. No scope asks for the server's default-on scopes. The scope an agent
/// registered with is not a cap: MCP step-up asks for more later.
pub fn scopes_exist_and_are_allowed(
    input: &AuthorizeInput<'_>,
    draft: &mut ValidatedRequest,
) -> Result<(), OAuthError> {
    let requested = ScopeSet::parse(input.request.scope.as_deref().unwrap_or_default())?;
    let identity = ScopeSet::from_tokens(IDENTITY_SCOPES.iter().copied());
    let known =
        ScopeSet::from_tokens(input.server_scopes.iter().map(|s| s.name.clone())).union(&identity);
    let requested = if requested.is_empty() {
        ScopeSet::from_tokens(
            input
                .server_scopes
                .iter()
                .filter(|s| s.default_on)
                .map(|s| s.name.clone()),
        )
    } else {
        requested
    };
    let unknown = requested.missing_from(&known);
    if !unknown.is_empty() {
        return Err(OAuthError::invalid_scope(format!(
            "unknown scope(s): {}",
            unknown.to_scope_string()
        )));
    }
    if let Some(allowance) = input.allowance {
        let allowed = ScopeSet::from_tokens(allowance.iter().cloned()).union(&identity);
        let beyond = requested.missing_from(&allowed);
        if !beyond.is_empty() {
            return Err(OAuthError::invalid_scope(format!(
                "this client may not request: {}",
                beyond.to_scope_string()
            )));
        }
    }
    if requested.is_empty() {
        return Err(OAuthError::invalid_scope(
            "no scope requested and the server has no default",
        ));
    }
    draft.scopes = requested.to_vec();
    Ok(())
}
