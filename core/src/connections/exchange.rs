//! RFC 8693 token exchange for connections: what the request must hold, and which token (with
//! which provider scopes) may be handed out. Pure rules; the server does the I/O.

use std::collections::BTreeSet;

use super::policy::Allowance;
use super::Owner;
use crate::oauth::params::Params;
use crate::oauth::{ErrorCode, OAuthError};

/// RFC 8693 §2.1: the grant type.
pub const GRANT_TYPE: &str = "urn:ietf:params:oauth:grant-type:token-exchange";
/// RFC 8693 §3: token type identifiers accepted for the subject token.
pub const ACCESS_TOKEN_TYPE: &str = "urn:ietf:params:oauth:token-type:access_token";
pub const JWT_TOKEN_TYPE: &str = "urn:ietf:params:oauth:token-type:jwt";

/// A token-exchange request at the token endpoint.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ExchangeRequest {
    /// A Mandate access token of this issuer.
    pub subject_token: String,
    /// The connection's provider slug (from `audience`, or the last path segment of `resource`).
    pub provider_slug: String,
    /// The provider scopes asked for (`None`: everything the policies allow).
    pub scope: Option<BTreeSet<String>>,
}

fn invalid_request(message: impl Into<String>) -> OAuthError {
    OAuthError::new(ErrorCode::InvalidRequest, message)
}

impl ExchangeRequest {
    /// Reads RFC 8693 §2.1 parameters. `connection_resource_prefix` is
    /// `{public_url}/connections/`: a `resource` must start with it.
    pub fn from_params(p: &Params, connection_resource_prefix: &str) -> Result<Self, OAuthError> {
        let subject_token = p.require("subject_token")?.to_owned();
        match p.require("subject_token_type")? {
            ACCESS_TOKEN_TYPE | JWT_TOKEN_TYPE => {}
            other => {
                return Err(invalid_request(format!(
                    "subject_token_type {other} is not supported: send {ACCESS_TOKEN_TYPE}"
                )))
            }
        }
        if let Some(wanted) = p.get("requested_token_type") {
            if wanted != ACCESS_TOKEN_TYPE {
                return Err(invalid_request(format!(
                    "requested_token_type {wanted} is not supported: connections hand out {ACCESS_TOKEN_TYPE}"
                )));
            }
        }
        // Delegation (an actor acting for the subject) is not offered: the MCP server is the
        // authenticated client already.
        if p.get("actor_token").is_some() || p.get("actor_token_type").is_some() {
            return Err(invalid_request("actor_token is not supported"));
        }
        let from_audience = p.get("audience").map(str::to_owned);
        let from_resource = match p.get("resource") {
            Some(resource) => Some(slug_of_resource(resource, connection_resource_prefix)?),
            None => None,
        };
        let provider_slug = match (from_audience, from_resource) {
            (Some(a), Some(r)) if a != r => {
                return Err(OAuthError::new(
                    ErrorCode::InvalidTarget,
                    "audience and resource name different connections",
                ))
            }
            (Some(slug), _) | (None, Some(slug)) => slug,
            (None, None) => {
                return Err(invalid_request(
                    "name the connection with audience (its slug) or resource",
                ))
            }
        };
        let scope = p.get("scope").map(|s| {
            s.split(' ')
                .filter(|t| !t.is_empty())
                .map(str::to_owned)
                .collect::<BTreeSet<String>>()
        });
        let scope = scope.filter(|s| !s.is_empty());
        Ok(Self {
            subject_token,
            provider_slug,
            scope,
        })
    }
}

fn slug_of_resource(resource: &str, prefix: &str) -> Result<String, OAuthError> {
    resource
        .trim_end_matches('/')
        .strip_prefix(prefix)
        .filter(|slug| !slug.is_empty() && !slug.contains(['/', '?', '#']))
        .map(str::to_owned)
        .ok_or_else(|| {
            OAuthError::new(
                ErrorCode::InvalidTarget,
                format!("resource must be {prefix}<connection>"),
            )
        })
}

/// Whose connections a subject token may reach, in the order they are tried: a person's own
/// account, then their tenant's shared one; a machine token (`sub` is the client and there is
/// no tenant) reaches only its agent's.
pub fn owners_for(sub: &str, client_id: &str, tenant: Option<&str>) -> Vec<Owner> {
    use super::OwnerKind;
    match tenant {
        None if sub == client_id => vec![Owner::new(OwnerKind::Agent, client_id)],
        Some(tenant) => vec![
            Owner::new(OwnerKind::User, sub),
            Owner::new(OwnerKind::Tenant, tenant),
        ],
        None => vec![Owner::new(OwnerKind::User, sub)],
    }
}

/// Which provider scopes the handed-out token will carry.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ScopeDecision {
    pub scopes: BTreeSet<String>,
    /// The stored token carries more than that: a narrowed one must be asked of the provider
    /// (RFC 6749 §6 refresh with a smaller `scope`).
    pub narrow: bool,
}

/// Why no token is handed out.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum ExchangeRefusal {
    /// No policy (or agent allowance) allows this provider for this subject.
    NotAllowed,
    /// Requested scopes the connection does not hold.
    NotHeld(Vec<String>),
    /// Requested scopes no policy allows.
    ScopeNotAllowed(Vec<String>),
    /// The connection holds scopes nothing allows, and none of what it holds is allowed.
    NothingAllowed,
}

impl ExchangeRefusal {
    /// The RFC 6749 §5.2 / RFC 8693 §2.2.2 error for it.
    pub fn to_oauth(&self, provider: &str) -> OAuthError {
        match self {
            Self::NotAllowed => OAuthError::new(
                ErrorCode::InvalidTarget,
                format!("no connections policy allows the {provider} connection here"),
            ),
            Self::NotHeld(scopes) => OAuthError::new(
                ErrorCode::InvalidScope,
                format!(
                    "the {provider} connection does not hold {}; the person must connect again",
                    scopes.join(" ")
                ),
            ),
            Self::ScopeNotAllowed(scopes) => OAuthError::new(
                ErrorCode::InvalidScope,
                format!(
                    "no connections policy allows {} on {provider}",
                    scopes.join(" ")
                ),
            ),
            Self::NothingAllowed => OAuthError::new(
                ErrorCode::InvalidScope,
                format!("no scope the {provider} connection holds is allowed here"),
            ),
        }
    }
}

/// Decides the scopes of the token handed out: what was asked (or everything allowed when
/// nothing was), which must be held by the connection and allowed by the policies.
pub fn decide(
    held: &[String],
    requested: Option<&BTreeSet<String>>,
    allowance: Option<&Allowance>,
) -> Result<ScopeDecision, ExchangeRefusal> {
    let allowance = allowance.ok_or(ExchangeRefusal::NotAllowed)?;
    let held: BTreeSet<String> = held.iter().cloned().collect();
    let scopes: BTreeSet<String> = match requested {
        Some(requested) => {
            let missing: Vec<String> = requested.difference(&held).cloned().collect();
            if !missing.is_empty() {
                return Err(ExchangeRefusal::NotHeld(missing));
            }
            let refused: Vec<String> = requested.difference(&allowance.scopes).cloned().collect();
            if !refused.is_empty() {
                return Err(ExchangeRefusal::ScopeNotAllowed(refused));
            }
            requested.clone()
        }
        None => {
            let allowed: BTreeSet<String> = held.intersection(&allowance.scopes).cloned().collect();
            if allowed.is_empty() && !held.is_empty() {
                return Err(ExchangeRefusal::NothingAllowed);
            }
            allowed
        }
    };
    let narrow = scopes != held;
    Ok(ScopeDecision { scopes, narrow })
}
