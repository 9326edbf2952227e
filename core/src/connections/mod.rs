//! Connections: the token vault. Admins define connection *providers* (an OAuth 2.0
//! authorization server, or an API-key service); a *connection* is one owner's tokens for one
//! provider — a person's own account, a tenant's shared one, or an agent's — sealed under the
//! master key (envelope encryption, [`crate::crypto::MasterKey::seal_envelope`]).
//!
//! An MCP server gets a connection's token only through RFC 8693 token exchange at its
//! issuer's token endpoint ([`exchange`]), and only as far as the connection policies
//! ([`policy`]) or, for machine tokens, the agent's own connection allowance let it.

pub mod draft;
pub mod exchange;
pub mod policy;
#[cfg(test)]
mod tests;

use serde::{Deserialize, Serialize};

use crate::clock::UnixMillis;

/// How a provider's credentials are obtained.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
#[serde(rename_all = "snake_case")]
pub enum ProviderKind {
    /// Authorization code flow (with PKCE) at the provider; refreshed with its refresh token.
    Oauth2,
    /// A key the owner pastes in; never refreshed.
    ApiKey,
}

impl ProviderKind {
    pub fn as_str(self) -> &'static str {
        match self {
            Self::Oauth2 => "oauth2",
            Self::ApiKey => "api_key",
        }
    }

    pub fn parse(text: &str) -> Option<Self> {
        match text {
            "oauth2" => Some(Self::Oauth2),
            "api_key" => Some(Self::ApiKey),
            _ => None,
        }
    }
}

/// A provider as stored (its client secret is sealed apart and never leaves the server).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct ConnectionProvider {
    pub id: String,
    /// Names the connection in a token exchange (`audience`) and in URLs.
    pub slug: String,
    pub name: String,
    pub kind: ProviderKind,
    /// OAuth 2.0 only (empty for API keys).
    pub authorization_endpoint: String,
    pub token_endpoint: String,
    pub client_id: String,
    /// The provider scopes a connection asks for.
    pub scopes: Vec<String>,
    /// MCP servers whose consent screen offers to connect this provider.
    pub mcp_server_ids: Vec<String>,
    pub created_at: UnixMillis,
    pub updated_at: UnixMillis,
}

/// Whose connection it is.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
#[serde(rename_all = "snake_case")]
pub enum OwnerKind {
    User,
    Tenant,
    Agent,
}

impl OwnerKind {
    pub fn as_str(self) -> &'static str {
        match self {
            Self::User => "user",
            Self::Tenant => "tenant",
            Self::Agent => "agent",
        }
    }

    pub fn parse(text: &str) -> Option<Self> {
        match text {
            "user" => Some(Self::User),
            "tenant" => Some(Self::Tenant),
            "agent" => Some(Self::Agent),
            _ => None,
        }
    }
}

/// A user, tenant or agent id with its kind.
#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct Owner {
    pub kind: OwnerKind,
    pub id: String,
}

impl Owner {
    pub fn new(kind: OwnerKind, id: impl Into<String>) -> Self {
        Self {
            kind,
            id: id.into(),
        }
    }
}

/// A connection's description (its tokens are sealed apart: see [`VaultTokens`]).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct Connection {
    pub id: String,
    pub provider_id: String,
    pub owner: Owner,
    /// The provider scopes the tokens carry (as the provider reported them).
    pub scopes: Vec<String>,
    /// When the access token expires (`None`: not known to expire, e.g. an API key).
    pub expires_at: Option<UnixMillis>,
    /// Whether a refresh token is held.
    pub refreshable: bool,
    pub created_at: UnixMillis,
    pub updated_at: UnixMillis,
    pub last_used_at: Option<UnixMillis>,
}

/// What the vault keeps sealed for a connection.
#[derive(Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct VaultTokens {
    pub access_token: String,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub refresh_token: Option<String>,
}

impl std::fmt::Debug for VaultTokens {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("VaultTokens(<redacted>)")
    }
}

/// The associated data a connection's tokens are sealed with: its provider and owner, so a
/// sealed value copied to another row does not open.
pub fn seal_context(provider_id: &str, owner: &Owner) -> Vec<u8> {
    format!(
        "connection|{provider_id}|{}|{}",
        owner.kind.as_str(),
        owner.id
    )
    .into_bytes()
}

/// Refresh this long before the access token expires, so what an exchange hands out is still
/// good when the MCP server uses it.
pub const REFRESH_MARGIN_MS: i64 = 60_000;

/// Whether a connection's access token must be refreshed before it is handed out.
pub fn needs_refresh(expires_at: Option<UnixMillis>, now: UnixMillis) -> bool {
    expires_at.is_some_and(|at| at - REFRESH_MARGIN_MS <= now)
}

/// The path (under the public URL) the provider sends a person back to after connecting.
pub const CALLBACK_PATH: &str = "/connections/callback";

/// The redirect URI registered at every OAuth provider.
pub fn callback_uri(public_url: &str) -> String {
    format!("{}{CALLBACK_PATH}", public_url.trim_end_matches('/'))
}

/// The `resource` that names a connection in a token exchange (the `audience` is the slug).
pub fn resource_uri(public_url: &str, slug: &str) -> String {
    format!("{}/connections/{slug}", public_url.trim_end_matches('/'))
}
