//! The public directory of MCP servers on this hub: what their discovery documents publish.

use leptos::prelude::*;
use serde::{Deserialize, Serialize};

/// One MCP server as the home page shows it.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct McpServerCard {
    pub slug: String,
    pub name: String,
    pub description: String,
    pub issuer: String,
    pub discovery_url: String,
    pub scopes: Vec<ScopeChip>,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct ScopeChip {
    pub name: String,
    pub display_name: String,
    pub sensitive: bool,
}

impl McpServerCard {
    /// Whether the card matches a free-text filter (name, slug, description or a scope).
    pub fn matches(&self, query: &str) -> bool {
        let query = query.trim().to_lowercase();
        if query.is_empty() {
            return true;
        }
        let hit = |text: &str| text.to_lowercase().contains(&query);
        hit(&self.name)
            || hit(&self.slug)
            || hit(&self.description)
            || self
                .scopes
                .iter()
                .any(|s| hit(&s.name) || hit(&s.display_name))
    }
}

/// Every MCP server with its issuer, discovery URL and scopes. Public: the same facts are
/// in each server's RFC 8414 metadata.
#[server(endpoint = "list_mcp_servers")]
pub async fn list_mcp_servers() -> Result<Vec<McpServerCard>, ServerFnError> {
    use crate::context::UiContext;
    let ctx = expect_context::<UiContext>();
    let servers = ctx.store.list_mcp_servers().await.map_err(internal)?;
    let mut cards = Vec::with_capacity(servers.len());
    for server in servers {
        let scopes = ctx.store.scopes_of(&server.id).await.map_err(internal)?;
        cards.push(McpServerCard {
            issuer: server.issuer(&ctx.public_url),
            discovery_url: format!(
                "{}/.well-known/oauth-authorization-server/s/{}",
                ctx.public_url, server.slug
            ),
            slug: server.slug,
            name: server.name,
            description: server.description,
            scopes: scopes
                .into_iter()
                .map(|s| ScopeChip {
                    name: s.name,
                    display_name: s.display_name,
                    sensitive: s.sensitive,
                })
                .collect(),
        });
    }
    Ok(cards)
}

/// Logs the cause once and answers with a generic message: storage details stay server-side.
#[cfg(feature = "ssr")]
fn internal(error: mandate_core::CoreError) -> ServerFnError {
    leptos::logging::error!("directory: {error}");
    ServerFnError::new("the directory is unavailable right now")
}

#[cfg(test)]
mod tests {
    use super::*;

    fn card() -> McpServerCard {
        McpServerCard {
            slug: "demo-notes".into(),
            name: "Demo Notes".into(),
            description: "A notes service".into(),
            issuer: "http://localhost:3000/s/demo-notes".into(),
            discovery_url: String::new(),
            scopes: vec![ScopeChip {
                name: "notes.write".into(),
                display_name: "Write notes".into(),
                sensitive: true,
            }],
        }
    }

    #[test]
    fn filter_matches_name_slug_description_and_scopes_case_insensitively() {
        let card = card();
        for query in [
            "",
            "  ",
            "demo",
            "NOTES",
            "notes service",
            "notes.write",
            "write",
        ] {
            assert!(card.matches(query), "{query:?} should match");
        }
        for query in ["calendar", "notes.admin"] {
            assert!(!card.matches(query), "{query:?} should not match");
        }
    }
}
