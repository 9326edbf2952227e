//! The agents pages' facts: the filtered, paginated list with the form that creates a machine
//! agent (its secret shown once), and one agent's page: what it registered, what it may get
//! on each server, who granted it what, its recent audit events, and the forms that change it.

use std::collections::BTreeMap;

use leptos::prelude::*;
use serde::{Deserialize, Serialize};

use super::audit::EventRow;
use super::policies::ServerScopes;
use super::{AdminHeader, Choice};
use crate::api::screen::Screen;

/// The list's filters as typed (the GET form's fields).
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct AgentsQuery {
    pub fields: BTreeMap<String, String>,
}

impl AgentsQuery {
    pub const FIELDS: [&'static str; 8] = [
        "q",
        "kind",
        "trust_level",
        "tag",
        "mcp_server",
        "tenant",
        "used",
        "cursor",
    ];

    pub fn from_params(get: impl Fn(&str) -> Option<String>) -> Self {
        Self {
            fields: Self::FIELDS
                .iter()
                .filter_map(|k| Some(((*k).to_owned(), get(k).filter(|v| !v.is_empty())?)))
                .collect(),
        }
    }

    pub fn value(&self, field: &str) -> String {
        self.fields.get(field).cloned().unwrap_or_default()
    }
}

/// An agent's page: `/admin/agents/{client id}`, the id percent-encoded as one path segment
/// (a CIMD client id is a URL).
pub fn agent_href(id: &str) -> String {
    let mut out = String::from("/admin/agents/");
    for b in id.bytes() {
        if b.is_ascii_alphanumeric() || matches!(b, b'-' | b'.' | b'_' | b'~') {
            out.push(char::from(b));
        } else {
            out.push_str(&format!("%{b:02X}"));
        }
    }
    out
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct AgentRow {
    pub id: String,
    pub href: String,
    pub name: String,
    pub kind: String,
    pub trust_level: String,
    pub client_type: String,
    pub tags: Vec<String>,
    pub created: String,
    pub last_used: String,
    pub disabled: bool,
}

/// A machine agent just created: shown once.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct NewCredentials {
    pub client_id: String,
    pub client_secret: String,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct AgentsView {
    pub header: AdminHeader,
    pub csrf: String,
    pub may_manage: bool,
    pub query: AgentsQuery,
    pub agents: Vec<AgentRow>,
    /// The next page's address, if there is one.
    pub next_href: Option<String>,
    /// Filter fields that could not be applied.
    pub filter_errors: BTreeMap<String, String>,
    pub servers: Vec<ServerScopes>,
    pub tenants: Vec<Choice>,
    /// The machine-agent form as last sent, and its errors.
    pub form: BTreeMap<String, String>,
    pub allowed: Vec<String>,
    pub field_errors: BTreeMap<String, String>,
    pub created: Option<NewCredentials>,
    pub error: Option<String>,
    pub info: Option<String>,
}

/// An agent's token-vault settings as the form shows them.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct AgentVaultForm {
    /// It may use RFC 8693 token exchange (an MCP server's back end).
    pub token_exchange: bool,
    /// Only confidential agents an admin made may.
    pub exchange_possible: bool,
    /// One line per provider: `slug = scope scope`.
    pub allowance: String,
    /// Provider slugs, for the hint.
    pub providers: Vec<String>,
}

/// One server's part of an agent's allowance, with a box per scope.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct AllowanceRow {
    pub server_id: String,
    pub server_name: String,
    /// Every scope of the server (no narrowing stored).
    pub every: bool,
    /// (scope, display name, allowed)
    pub scopes: Vec<(String, String, bool)>,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct BoundRow {
    pub email: String,
    pub tenant: String,
    pub server: String,
    pub scopes: String,
    pub last_used: String,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct AgentView {
    pub header: AdminHeader,
    pub csrf: String,
    pub may_manage: bool,
    pub id: String,
    /// This page's address (forms post under it).
    pub href: String,
    pub name: String,
    /// (label, value) facts: kind, trust, type, auth method, grant types, …
    pub facts: Vec<(String, String)>,
    pub redirect_uris: Vec<String>,
    pub tags: String,
    pub trust_level: String,
    pub confidential: bool,
    pub disabled: bool,
    pub metadata_json: String,
    pub allowances: Vec<AllowanceRow>,
    /// Its place in the token vault.
    pub vault: AgentVaultForm,
    pub bound: Vec<BoundRow>,
    pub events: Vec<EventRow>,
    pub audit_href: String,
    pub new_secret: Option<String>,
    pub field_errors: BTreeMap<String, String>,
    pub error: Option<String>,
    pub info: Option<String>,
}

#[server(endpoint = "agents_screen")]
pub async fn agents_screen(
    #[server(default)] query: AgentsQuery,
) -> Result<Screen<AgentsView>, ServerFnError> {
    let admin = match super::admin().await {
        Ok(admin) => admin,
        Err(screen) => return Ok(screen),
    };
    let (csrf, notice) = match super::form_page().await {
        Ok(found) => found,
        Err(screen) => return Ok(screen),
    };
    Ok(ssr::list_view(admin, query, csrf, notice)
        .await
        .unwrap_or_else(super::failed))
}

#[server(endpoint = "agent_screen")]
pub async fn agent_screen(id: String) -> Result<Screen<AgentView>, ServerFnError> {
    let admin = match super::admin().await {
        Ok(admin) => admin,
        Err(screen) => return Ok(screen),
    };
    let (csrf, notice) = match super::form_page().await {
        Ok(found) => found,
        Err(screen) => return Ok(screen),
    };
    Ok(ssr::detail_view(admin, &id, csrf, notice)
        .await
        .unwrap_or_else(super::failed))
}

#[cfg(feature = "ssr")]
pub use ssr::allowances_from_pairs;

#[cfg(test)]
mod tests {
    use super::agent_href;

    #[test]
    fn agent_addresses_keep_a_url_client_id_in_one_segment() {
        assert_eq!(agent_href("demo-agent"), "/admin/agents/demo-agent");
        assert_eq!(
            agent_href("https://app.example/c.json?a=1 b"),
            "/admin/agents/https%3A%2F%2Fapp.example%2Fc.json%3Fa%3D1%20b"
        );
    }
}

#[cfg(feature = "ssr")]
mod ssr {
    use mandate_core::admin::agents::{self, AgentQuery, EVERY_SCOPE};
    use mandate_core::admin::AdminError;
    use mandate_core::audit::query::newest_first;
    use mandate_core::model::Agent;
    use mandate_core::CoreResult;

    use super::*;
    use crate::api::admin::audit::{event_rows, filter_of, now_ms, AuditQuery};
    use crate::api::admin::time_text::utc;
    use crate::api::admin::Admin;
    use crate::api::screen::{respond, ErrorView, PageNotice};

    const PAGE: i64 = 50;

    /// The allowance boxes of a form (`allow=server-id|scope`, `every=server-id`) as the
    /// admin API's map: server → scopes, or `["*"]` for every scope.
    pub fn allowances_from_pairs(pairs: &[(String, String)]) -> BTreeMap<String, Vec<String>> {
        let mut map: BTreeMap<String, Vec<String>> = BTreeMap::new();
        for (k, v) in pairs {
            match k.as_str() {
                "allow" => {
                    if let Some((server, scope)) = v.split_once('|') {
                        map.entry(server.to_owned())
                            .or_default()
                            .push(scope.to_owned());
                    }
                }
                "every" => {
                    map.insert(v.clone(), vec![EVERY_SCOPE.to_owned()]);
                }
                _ => {}
            }
        }
        // "Every scope" wins over single boxes ticked beside it.
        for scopes in map.values_mut() {
            if scopes.iter().any(|s| s == EVERY_SCOPE) {
                *scopes = vec![EVERY_SCOPE.to_owned()];
            }
        }
        map
    }

    fn row(a: Agent) -> AgentRow {
        AgentRow {
            href: agent_href(a.id.as_str()),
            id: a.id.to_string(),
            name: a.name,
            kind: a.kind.as_str().to_owned(),
            trust_level: a.trust_level.as_str().to_owned(),
            client_type: a.client_type.as_str().to_owned(),
            tags: a.tags,
            created: utc(a.created_at),
            last_used: a.last_used_at.map_or_else(|| "never".into(), utc),
            disabled: a.disabled,
        }
    }

    pub async fn list_view(
        admin: Admin,
        query: AgentsQuery,
        csrf: String,
        notice: PageNotice,
    ) -> CoreResult<Screen<AgentsView>> {
        let store = &admin.ctx.store;
        let may_manage = admin.access.is_project_admin();
        let servers = crate::api::admin::policies::server_choices(store).await?;
        let tenants = store
            .list_tenants()
            .await?
            .into_iter()
            .map(|t| Choice {
                value: t.slug,
                label: t.name,
            })
            .collect();
        let core_query = AgentQuery {
            q: query.value("q"),
            kind: query.value("kind"),
            trust_level: query.value("trust_level"),
            tag: query.value("tag"),
            mcp_server: query.value("mcp_server"),
            tenant: query.value("tenant"),
            used: query.value("used"),
            cursor: query.value("cursor"),
        };
        let mut filter_errors = BTreeMap::new();
        let mut rows = Vec::new();
        let mut next_href = None;
        if may_manage {
            match agents::filter_of(store, &core_query, now_ms()).await {
                Ok(filter) => {
                    let page = match agents::list(store, &admin.access, &filter, PAGE).await {
                        Ok(page) => page,
                        Err(AdminError::Store(e)) => return Err(e),
                        Err(_) => agents::AgentPage {
                            agents: vec![],
                            next: None,
                        },
                    };
                    rows = page.agents.into_iter().map(row).collect();
                    next_href = page.next.map(|cursor| {
                        let mut fields = query.fields.clone();
                        fields.insert("cursor".into(), cursor);
                        let encoded: String = url::form_urlencoded::Serializer::new(String::new())
                            .extend_pairs(fields.iter())
                            .finish();
                        format!("/admin/agents?{encoded}")
                    });
                }
                Err(AdminError::Invalid(fields)) => filter_errors = fields,
                Err(AdminError::Store(e)) => return Err(e),
                Err(_) => {}
            }
        }
        let (form, allowed) = match &notice.form {
            Some(pairs) => (
                pairs
                    .iter()
                    .filter(|(k, _)| k != "allow")
                    .cloned()
                    .collect(),
                pairs
                    .iter()
                    .filter(|(k, _)| k == "allow")
                    .map(|(_, v)| v.clone())
                    .collect(),
            ),
            None => (BTreeMap::new(), Vec::new()),
        };
        let created = notice.secret.as_deref().and_then(|s| {
            let (client_id, client_secret) = s.split_once(' ')?;
            Some(NewCredentials {
                client_id: client_id.to_owned(),
                client_secret: client_secret.to_owned(),
            })
        });
        Ok(respond(Screen::Show(AgentsView {
            header: admin.header,
            csrf,
            may_manage,
            query,
            agents: rows,
            next_href,
            filter_errors,
            servers,
            tenants,
            form,
            allowed,
            field_errors: notice.fields,
            created,
            error: notice.error,
            info: notice.info,
        })))
    }

    pub async fn detail_view(
        admin: Admin,
        id: &str,
        csrf: String,
        notice: PageNotice,
    ) -> CoreResult<Screen<AgentView>> {
        let store = &admin.ctx.store;
        let detail = match agents::get(store, &admin.access, id).await {
            Ok(detail) => detail,
            Err(AdminError::Store(e)) => return Err(e),
            Err(AdminError::Forbidden(m)) => {
                return Ok(respond(Screen::Error(ErrorView::new(
                    403,
                    "Not for you",
                    m,
                ))))
            }
            Err(_) => {
                return Ok(respond(Screen::Error(ErrorView::new(
                    404,
                    "No such agent",
                    "It may have been deleted. The agents list shows every one.",
                ))))
            }
        };
        let a = &detail.agent;
        let mut allowances = Vec::new();
        for allowance in &detail.allowances {
            let server = mandate_core::ids::McpServerId::from_string(&allowance.mcp_server_id);
            let scopes = store.scopes_of(&server).await?;
            allowances.push(AllowanceRow {
                every: allowance.scopes.is_none(),
                scopes: scopes
                    .into_iter()
                    .map(|s| {
                        let on = allowance
                            .scopes
                            .as_ref()
                            .is_none_or(|list| list.contains(&s.name));
                        (s.name, s.display_name, on)
                    })
                    .collect(),
                server_id: allowance.mcp_server_id.clone(),
                server_name: allowance.mcp_server_name.clone(),
            });
        }
        let query = AuditQuery {
            agent: Some(a.id.to_string()),
            range: Some("all".into()),
            ..AuditQuery::default()
        };
        let events = match filter_of(store, &admin.access, &query).await? {
            Ok(filter) => {
                let found = newest_first(store, &filter, None, 10).await?;
                event_rows(store, &query, &found).await?
            }
            Err(_) => Vec::new(),
        };
        let facts = vec![
            ("Client ID".to_owned(), a.id.to_string()),
            ("Kind".to_owned(), a.kind.as_str().to_owned()),
            ("Trust level".to_owned(), a.trust_level.as_str().to_owned()),
            ("Client type".to_owned(), a.client_type.as_str().to_owned()),
            (
                "Token endpoint auth".to_owned(),
                a.token_endpoint_auth_method.clone(),
            ),
            ("Grant types".to_owned(), a.grant_types.join(", ")),
            ("Application type".to_owned(), a.application_type.clone()),
            ("Registered scope".to_owned(), a.scope.clone()),
            ("Created (UTC)".to_owned(), utc(a.created_at)),
            (
                "Last used".to_owned(),
                a.last_used_at.map_or_else(|| "never".into(), utc),
            ),
        ];
        let providers = store.connection_providers().await?;
        let slug_of = |id: &str| {
            providers
                .iter()
                .find(|p| p.id == id)
                .map_or_else(|| id.to_owned(), |p| p.slug.clone())
        };
        let vault = AgentVaultForm {
            token_exchange: a
                .grant_types
                .iter()
                .any(|g| g == mandate_core::connections::exchange::GRANT_TYPE),
            exchange_possible: a.client_type == mandate_core::model::ClientType::Confidential
                && a.trust_level == mandate_core::model::TrustLevel::Admin,
            allowance: store
                .agent_connection_allowance(a.id.as_str())
                .await?
                .iter()
                .map(|(provider, scopes)| format!("{} = {}", slug_of(provider), scopes.join(" ")))
                .collect::<Vec<_>>()
                .join("\n"),
            providers: providers.iter().map(|p| p.slug.clone()).collect(),
        };
        Ok(respond(Screen::Show(AgentView {
            header: admin.header,
            csrf,
            may_manage: admin.access.is_project_admin(),
            id: a.id.to_string(),
            href: agent_href(a.id.as_str()),
            name: a.name.clone(),
            facts,
            redirect_uris: a.redirect_uris.clone(),
            tags: a.tags.join(", "),
            trust_level: a.trust_level.as_str().to_owned(),
            confidential: a.client_type == mandate_core::model::ClientType::Confidential,
            disabled: a.disabled,
            metadata_json: serde_json::to_string_pretty(&detail.metadata).unwrap_or_default(),
            allowances,
            vault,
            bound: detail
                .bound_users
                .iter()
                .map(|b| BoundRow {
                    email: b.email.clone(),
                    tenant: b.tenant.clone(),
                    server: b.mcp_server.clone(),
                    scopes: b.scopes.join(" "),
                    last_used: b.last_used_at.map_or_else(|| "never".into(), utc),
                })
                .collect(),
            events,
            audit_href: format!(
                "/admin/audit?{}",
                url::form_urlencoded::Serializer::new(String::new())
                    .append_pair("range", "all")
                    .append_pair("agent", a.id.as_str())
                    .finish()
            ),
            new_secret: notice.secret,
            field_errors: notice.fields,
            error: notice.error,
            info: notice.info,
        })))
    }
}
