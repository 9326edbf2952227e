//! `/authorize` (RFC 6749 §4.1.1, OAuth 2.1 §4.1): the rules as two ordered lists of checks,
//! visible here in one place.
//!
//! 1. [`PAGE_CHECKS`] establish whom we may answer: an unknown client or a redirect URI that
//!    is not registered must never be redirected to (RFC 6749 §4.1.2.1, RFC 9700 §4.11.2);
//!    their errors render a page.
//! 2. [`REDIRECT_CHECKS`] run once the redirect URI is trusted; their errors go back to the
//!    client with `error`, `state` and `iss`.

mod checks;
pub use checks::IDENTITY_SCOPES;

use crate::model::{Agent, McpServer, Scope};
use crate::oauth::error::OAuthError;
use crate::oauth::params::AuthorizationRequest;
use crate::oauth::scope::ScopeSet;

/// What the checks look at.
pub struct AuthorizeInput<'a> {
    pub request: &'a AuthorizationRequest,
    /// The client named by `client_id`, if it exists (CIMD documents already resolved).
    pub agent: Option<&'a Agent>,
    /// The MCP server the issuer (or the `resource`) selected.
    pub server: &'a McpServer,
    pub server_scopes: &'a [Scope],
    /// The agent's allowance on this server; `None` = every scope.
    pub allowance: Option<&'a [String]>,
}

/// A request that passed every check: what the journey carries to the code.
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
pub struct ValidatedRequest {
    pub client_id: String,
    pub redirect_uri: String,
    pub state: Option<String>,
    pub code_challenge: String,
    /// The MCP server's resource URL (the token's `aud`).
    pub resource: String,
    pub mcp_server_id: String,
    pub scopes: Vec<String>,
    pub nonce: Option<String>,
    pub login_hint: Option<String>,
    pub tenant_hint: Option<String>,
}

impl ValidatedRequest {
    pub fn scope_set(&self) -> ScopeSet {
        ScopeSet::from_tokens(self.scopes.iter().cloned())
    }
}

/// The outcome of validating an authorization request.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum AuthorizeError {
    /// Render an error page; never redirect.
    Page(OAuthError),
    /// Redirect the error to the client.
    Redirect {
        error: OAuthError,
        redirect_uri: String,
        state: Option<String>,
    },
}

/// A check that, on failure, renders a page.
type PageCheck = fn(&AuthorizeInput<'_>) -> Result<(), OAuthError>;
/// A check that, on failure, redirects; it may fill in the draft.
type RedirectCheck = fn(&AuthorizeInput<'_>, &mut ValidatedRequest) -> Result<(), OAuthError>;

/// In order: the client exists and is enabled, then its redirect URI is registered.
pub const PAGE_CHECKS: &[PageCheck] =
    &[checks::client_is_known, checks::redirect_uri_is_registered];

/// In order once the redirect URI is trusted.
pub const REDIRECT_CHECKS: &[RedirectCheck] = &[
    checks::response_type_is_code,
    checks::client_may_use_authorization_code,
    checks::pkce_s256_is_present,
    checks::resource_names_this_server,
    checks::scopes_exist_and_are_allowed,
];

/// Runs every check; returns the validated request or where the error goes.
pub fn validate(input: &AuthorizeInput<'_>) -> Result<ValidatedRequest, AuthorizeError> {
    for check in PAGE_CHECKS {
        check(input).map_err(AuthorizeError::Page)?;
    }
    let redirect_uri = checks::effective_redirect_uri(input).map_err(AuthorizeError::Page)?;
    let req = input.request;
    let mut draft = ValidatedRequest {
        client_id: req.client_id.clone().unwrap_or_default(),
        redirect_uri: redirect_uri.clone(),
        state: req.state.clone(),
        code_challenge: String::new(),
        resource: input.server.resource_url.clone(),
        mcp_server_id: input.server.id.to_string(),
        scopes: vec![],
        nonce: req.nonce.clone(),
        login_hint: req.login_hint.clone(),
        tenant_hint: req.tenant.clone(),
    };
    for check in REDIRECT_CHECKS {
        check(input, &mut draft).map_err(|error| AuthorizeError::Redirect {
            error,
            redirect_uri: redirect_uri.clone(),
            state: req.state.clone(),
        })?;
    }
    Ok(draft)
}

#[cfg(test)]
mod tests;
