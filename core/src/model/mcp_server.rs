//! MCP servers registered in Mandate, each its own issuer, and the scopes they define.

use serde::{Deserialize, Serialize};

use crate::clock::UnixMillis;
use crate::ids::McpServerId;

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
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
    pub created_at: UnixMillis,
}

impl McpServer {
    /// The issuer identifier of this server's authorization server (ARCHITECTURE.md §5).
    pub fn issuer(&self, base_url: &str) -> String {
        format!("{}/s/{}", base_url.trim_end_matches('/'), self.slug)
    }
}

/// A permission an MCP server defines, described for the person approving it.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
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
        let server = McpServer {
            id: McpServerId::from_string("x"),
            slug: "demo-notes".into(),
            name: "Demo".into(),
            description: String::new(),
            resource_url: "http://localhost:4000/mcp".into(),
            access_token_ttl_secs: 600,
            step_up_window_secs: 300,
            dcr_enabled: true,
            cimd_enabled: true,
            created_at: 0,
        };
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
