//! MCP servers registered in Mandate, each its own issuer, and the scopes they define.

use serde::{Deserialize, Serialize};

use crate::clock::UnixMillis;
use crate::ids::McpServerId;

/// The longest access-token lifetime an MCP server may set (a day). Tokens are signed with at
/// most this, and the token sweep counts on it: a day after an authorization's end, every
/// access token issued under it has expired (`crate::store::token_sweep`).
pub const MAX_ACCESS_TOKEN_TTL_SECS: i64 = 24 * 3600;

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct McpServer {
    pub id: McpServerId,
    /// Path segment of the issuer: `{base}/s/{slug}`.
    pub slug: String,
    pub name: String,
    pub description: String,
    /// The RFC 8707 resource indicator and the `aud` of its tokens.
    pub resource_url: String,
    pub access_token_ttl_secs: i64,
    /// How recent a second factor must be for sensitive scopes.
    pub step_up_window_secs: i64,
    pub dcr_enabled: bool,
    pub cimd_enabled: bool,
    /// A refresh token unused this long expires (sliding lifetime).
    pub refresh_token_ttl_secs: i64,
    /// No refresh token of an authorization outlives this (absolute lifetime).
    pub refresh_token_max_secs: i64,
    /// Host patterns DCR redirect URIs may use (`*.example.com`); empty allows any.
    pub dcr_redirect_hosts: Vec<String>,
    /// DCR agents unused for this long stop working.
    pub dcr_unused_expiry_secs: i64,
    /// Approved CIMD document hosts (patterns as above).
    pub cimd_domains: Vec<String>,
    /// Whether CIMD documents from hosts not in `cimd_domains` may be used.
    pub cimd_allow_unknown: bool,
    /// Whether tenant admins' approvals of agents matter here.
    #[serde(default)]
    pub tenant_consent: TenantConsent,
    pub created_at: UnixMillis,
}

/// Per MCP server: how a tenant admin's decision about an agent weighs on people's consent.
/// A tenant's *block* always holds, whatever the mode.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
#[serde(rename_all = "lowercase")]
pub enum TenantConsent {
    /// People consent for themselves.
    #[default]
    Off,
    /// The tenant must have approved the agent first; people consent within what it approved.
    Required,
    /// The tenant's approval is the consent: people are not asked.
    Replaces,
}

impl TenantConsent {
    pub fn as_str(self) -> &'static str {
        match self {
            Self::Off => "off",
            Self::Required => "required",
            Self::Replaces => "replaces",
        }
    }

    pub fn parse(text: &str) -> Option<Self> {
        match text {
            "off" => Some(Self::Off),
            "required" => Some(Self::Required),
            "replaces" => Some(Self::Replaces),
            _ => None,
        }
    }
}

impl McpServer {
    /// A server with Mandate's default settings.
    pub fn new(slug: &str, name: &str, resource_url: &str, now: UnixMillis) -> Self {
        Self {
            id: McpServerId::generate(),
            slug: slug.into(),
            name: name.into(),
            description: String::new(),
            resource_url: resource_url.into(),
            access_token_ttl_secs: 600,
            step_up_window_secs: 300,
            dcr_enabled: true,
            cimd_enabled: true,
            refresh_token_ttl_secs: 14 * 24 * 3600,
            refresh_token_max_secs: 90 * 24 * 3600,
            dcr_redirect_hosts: vec![],
            dcr_unused_expiry_secs: 30 * 24 * 3600,
            cimd_domains: vec![],
            cimd_allow_unknown: true,
            tenant_consent: TenantConsent::Off,
            created_at: now,
        }
    }

    /// The issuer identifier of this server's authorization server (ARCHITECTURE.md §5).
    pub fn issuer(&self, base_url: &str) -> String {
        format!("{}/s/{}", base_url.trim_end_matches('/'), self.slug)
    }
}

/// A permission an MCP server defines, described for the person approving it.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct Scope {
    pub name: String,
    pub display_name: String,
    /// Plain-language description shown on the consent screen.
    pub description: String,
    /// Requires a recent second factor.
    pub sensitive: bool,
    /// Cannot be toggled off on the consent screen.
    pub mandatory: bool,
    pub default_on: bool,
}

/// Checks a slug: 1–63 characters of `a-z`, `0-9` and inner `-`.
pub fn is_valid_slug(slug: &str) -> bool {
    !slug.is_empty()
        && slug.len() <= 63
        && !slug.starts_with('-')
        && !slug.ends_with('-')
        && slug
            .bytes()
            .all(|b| b.is_ascii_lowercase() || b.is_ascii_digit() || b == b'-')
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn issuer_is_base_plus_slug_without_double_slash() {
        let server = McpServer::new("demo-notes", "Demo", "http://localhost:4000/mcp", 0);
        assert_eq!(
            server.issuer("http://localhost:3000/"),
            "http://localhost:3000/s/demo-notes"
        );
    }

    #[test]
    fn slugs_are_lowercase_words_with_inner_dashes() {
        assert!(is_valid_slug("demo-notes"));
        assert!(is_valid_slug("a1"));
        for bad in ["", "-a", "a-", "A", "a_b", "a/b", &"a".repeat(64)] {
            assert!(!is_valid_slug(bad), "{bad:?} should be refused");
        }
    }
}
