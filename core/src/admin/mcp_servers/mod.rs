//! MCP servers: list, read, create, update (settings and scopes together), delete. Project
//! admins only. Each change returns what the audit trail records as before / after.

pub mod draft;

use serde::{Deserialize, Serialize};

use super::{invalid, project_only, AdminError, AdminResult};
use crate::access::AdminAccess;
use crate::clock::UnixMillis;
use crate::error::CoreError;
use crate::ids::McpServerId;
use crate::model::{McpServer, Scope};
use crate::oauth::resource::matches;
use crate::store::Store;
use draft::{validate, McpServerDraft};

const REFUSAL: &str = "Only project admins manage MCP servers.";

/// A server with its scopes, as read and as recorded in the audit trail.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct ServerWithScopes {
    #[serde(flatten)]
    pub server: McpServer,
    pub scopes: Vec<Scope>,
}

pub async fn list(store: &Store, access: &AdminAccess) -> AdminResult<Vec<McpServer>> {
    project_only(access, REFUSAL)?;
    Ok(store.list_mcp_servers().await?)
}

/// A server by id or slug.
pub async fn get(store: &Store, access: &AdminAccess, key: &str) -> AdminResult<ServerWithScopes> {
    project_only(access, REFUSAL)?;
    let server = find(store, key).await?;
    let scopes = store.scopes_of(&server.id).await?;
    Ok(ServerWithScopes { server, scopes })
}

pub(super) async fn find(store: &Store, key: &str) -> AdminResult<McpServer> {
    let by_id = store.mcp_server(&McpServerId::from_string(key)).await?;
    let found = match by_id {
        Some(server) => Some(server),
        None => store.mcp_server_by_slug(key).await?,
    };
    found.ok_or(AdminError::NotFound("No MCP server has this id or slug."))
}

/// Field errors for a slug or resource URL another server already uses.
async fn refuse_taken(store: &Store, server: &McpServer) -> AdminResult<()> {
    let others = store.list_mcp_servers().await?;
    let others = others.iter().filter(|s| s.id != server.id);
    let mut errors = crate::policy::draft::FieldErrors::new();
    for other in others {
        if other.slug == server.slug {
            errors.insert(
                "slug".into(),
                format!("The server “{}” already uses this slug.", other.name),
            );
        }
        if matches(&other.resource_url, &server.resource_url).unwrap_or(false) {
            errors.insert(
                "resource_url".into(),
                format!("The server “{}” already has this resource URL.", other.name),
            );
        }
    }
    if errors.is_empty() {
        Ok(())
    } else {
        Err(AdminError::Invalid(errors))
    }
}

/// A unique index the pre-check did not see (a concurrent change) as a field error.
fn taken(e: CoreError) -> AdminError {
    match e {
        CoreError::AlreadyExists { .. } => invalid(
            "slug",
            "Another server took this slug or resource URL a moment ago.",
        ),
        e => e.into(),
    }
}

pub async fn create(
    store: &Store,
    access: &AdminAccess,
    draft: &McpServerDraft,
    now: UnixMillis,
) -> AdminResult<ServerWithScopes> {
    project_only(access, REFUSAL)?;
    let base = McpServer::new("", "", "", now);
    let (server, scopes) = validate(draft, &base).map_err(AdminError::Invalid)?;
    refuse_taken(store, &server).await?;
    store
        .insert_mcp_server(&server, &scopes)
        .await
        .map_err(taken)?;
    Ok(ServerWithScopes { server, scopes })
}

/// Replaces a server's settings and scopes; returns (before, after). Scopes left out of the
/// draft are removed: agents stop being able to ask for them, tokens already issued keep
/// them until they expire.
pub async fn update(
    store: &Store,
    access: &AdminAccess,
    key: &str,
    draft: &McpServerDraft,
    now: UnixMillis,
) -> AdminResult<(ServerWithScopes, ServerWithScopes)> {
    let before = get(store, access, key).await?;
    let (server, scopes) = validate(draft, &before.server).map_err(AdminError::Invalid)?;
    refuse_taken(store, &server).await?;
    store
        .update_mcp_server(&server, &scopes, now)
        .await
        .map_err(taken)?;
    Ok((before, ServerWithScopes { server, scopes }))
}

/// Deletes a server with its scopes, allowances, grants and every token issued for it.
/// Refused while a policy allows its scopes (delete those policies first), so no policy is
/// left pointing at nothing.
pub async fn delete(
    store: &Store,
    access: &AdminAccess,
    key: &str,
) -> AdminResult<ServerWithScopes> {
    let before = get(store, access, key).await?;
    let users: Vec<String> = store
        .policies()
        .await?
        .into_iter()
        .filter(|p| {
            p.allows
                .iter()
                .any(|a| a.mcp_server_id == before.server.id.as_str())
        })
        .map(|p| format!("“{}”", p.name))
        .collect();
    if !users.is_empty() {
        return Err(invalid(
            "server",
            format!(
                "Policies {} allow scopes of this server: delete them first.",
                users.join(", ")
            ),
        ));
    }
    store.delete_mcp_server(&before.server.id).await?;
    Ok(before)
}

/// Where MCP clients find a server's authorization server, and the RFC 9728 document the
/// MCP server itself should serve (or proxy from `protected_resource_url`).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct ServerLinks {
    pub issuer: String,
    /// RFC 8414 metadata (path insertion form).
    pub discovery_url: String,
    /// The RFC 9728 document Mandate serves on the server's behalf.
    pub protected_resource_url: String,
    /// Ready to paste: the JSON for the MCP server's own
    /// `/.well-known/oauth-protected-resource`.
    pub protected_resource_snippet: String,
}

impl ServerLinks {
    pub fn of(base_url: &str, server: &McpServer, scopes: &[Scope]) -> Self {
        let base = base_url.trim_end_matches('/');
        let document = crate::oauth::metadata::ProtectedResourceMetadata::for_server(
            base,
            server,
            scopes.iter().map(|s| s.name.clone()).collect(),
        );
        Self {
            issuer: server.issuer(base),
            discovery_url: format!(
                "{base}/.well-known/oauth-authorization-server/s/{}",
                server.slug
            ),
            protected_resource_url: format!(
                "{base}/.well-known/oauth-protected-resource/s/{}",
                server.slug
            ),
            protected_resource_snippet: serde_json::to_string_pretty(&document).unwrap_or_default(),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn links_name_the_issuer_its_discovery_and_a_protected_resource_document() {
        let server = McpServer::new("notes", "Notes", "https://n.example/mcp", 0);
        let scopes = [Scope {
            name: "notes.read".into(),
            display_name: "Read".into(),
            description: String::new(),
            sensitive: false,
            mandatory: false,
            default_on: true,
        }];
        let links = ServerLinks::of("https://auth.example/", &server, &scopes);
        assert_eq!(links.issuer, "https://auth.example/s/notes");
        assert_eq!(
            links.discovery_url,
            "https://auth.example/.well-known/oauth-authorization-server/s/notes"
        );
        let doc: serde_json::Value =
            serde_json::from_str(&links.protected_resource_snippet).expect("json");
        assert_eq!(doc["resource"], "https://n.example/mcp");
        assert_eq!(
            doc["authorization_servers"][0],
            "https://auth.example/s/notes"
        );
        assert_eq!(doc["scopes_supported"][0], "notes.read");
    }
}
