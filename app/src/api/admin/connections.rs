//! The Connections page's facts: connection providers (never a secret), how many people and
//! agents are connected to each, and the connections policies.

use leptos::prelude::*;
use serde::{Deserialize, Serialize};

use super::AdminHeader;
use crate::api::screen::Screen;

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct ProviderRow {
    pub id: String,
    pub slug: String,
    pub name: String,
    /// "OAuth 2.0" or "API key".
    pub kind: String,
    pub scopes: String,
    /// Slugs of the MCP servers whose consent screen offers it.
    pub servers: String,
    pub connections: usize,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct ConnectionPolicyRow {
    pub id: String,
    pub name: String,
    /// e.g. "user.roles Contains engineer; client.trustLevel In admin", or "everyone".
    pub conditions: String,
    /// e.g. "github: read:user repo".
    pub allows: String,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct ConnectionsView {
    pub header: AdminHeader,
    pub csrf: String,
    /// Project admins only manage the vault.
    pub may_manage: bool,
    pub redirect_uri: String,
    pub providers: Vec<ProviderRow>,
    pub policies: Vec<ConnectionPolicyRow>,
    pub error: Option<String>,
    /// A refused form's fields: what is wrong with each.
    pub fields: Vec<(String, String)>,
    pub info: Option<String>,
}

#[server(endpoint = "connections_screen")]
pub async fn connections_screen() -> Result<Screen<ConnectionsView>, ServerFnError> {
    use mandate_core::connections::ProviderKind;
    let admin = match super::admin().await {
        Ok(admin) => admin,
        Err(screen) => return Ok(screen),
    };
    let (csrf, notice) = match super::form_page().await {
        Ok(found) => found,
        Err(screen) => return Ok(screen),
    };
    let may_manage = admin.access.is_project_admin();
    let store = &admin.ctx.store;
    let (providers, policies, servers) = if may_manage {
        let loaded = async {
            Ok::<_, mandate_core::CoreError>((
                store.connection_providers().await?,
                store.connection_policies().await?,
                store.list_mcp_servers().await?,
            ))
        }
        .await;
        match loaded {
            Ok(loaded) => loaded,
            Err(e) => return Ok(super::failed(e)),
        }
    } else {
        Default::default()
    };
    let slug_of = |id: &str| {
        servers
            .iter()
            .find(|s| s.id.as_str() == id)
            .map_or_else(|| id.to_owned(), |s| s.slug.clone())
    };
    let provider_slug = |id: &str| {
        providers
            .iter()
            .find(|p| p.id == id)
            .map_or_else(|| id.to_owned(), |p| p.slug.clone())
    };
    let mut rows = Vec::new();
    for p in &providers {
        let connections = match store.connections_to(&p.id).await {
            Ok(list) => list.len(),
            Err(e) => return Ok(super::failed(e)),
        };
        rows.push(ProviderRow {
            id: p.id.clone(),
            slug: p.slug.clone(),
            name: p.name.clone(),
            kind: match p.kind {
                ProviderKind::Oauth2 => "OAuth 2.0".into(),
                ProviderKind::ApiKey => "API key".into(),
            },
            scopes: p.scopes.join(" "),
            servers: p
                .mcp_server_ids
                .iter()
                .map(|id| slug_of(id))
                .collect::<Vec<_>>()
                .join(", "),
            connections,
        });
    }
    let policies = policies
        .iter()
        .map(|p| ConnectionPolicyRow {
            id: p.id.clone(),
            name: p.name.clone(),
            conditions: if p.conditions.is_empty() {
                "everyone".into()
            } else {
                p.conditions
                    .iter()
                    .map(|c| format!("{} {:?} {}", c.key, c.operator, c.values.join(", ")))
                    .collect::<Vec<_>>()
                    .join("; ")
            },
            allows: p
                .allows
                .iter()
                .map(|a| format!("{}: {}", provider_slug(&a.provider_id), a.scopes.join(" ")))
                .collect::<Vec<_>>()
                .join("; "),
        })
        .collect();
    Ok(crate::api::screen::respond(Screen::Show(ConnectionsView {
        header: admin.header,
        csrf,
        may_manage,
        redirect_uri: mandate_core::connections::callback_uri(&admin.ctx.public_url),
        providers: rows,
        policies,
        error: notice.error,
        fields: notice.fields.into_iter().collect(),
        info: notice.info,
    })))
}
