//! What applying a document would change, computed without touching the store: each tenant,
//! MCP server, policy and agent it names is created, updated (with the fields that differ) or
//! unchanged; everything it gets wrong is listed, and then nothing is applied.

use std::collections::BTreeMap;

use serde::Serialize;

use super::{AgentConfig, AllowConfig, ConfigFile, PolicyConfig, TenantConfig};
use crate::admin::agents::{clean_tags, EVERY_SCOPE};
use crate::admin::mcp_servers::draft::{validate as validate_server, McpServerDraft};
use crate::error::CoreResult;
use crate::model::{Agent, AgentKind, ClientType, McpServer, Scope, Tenant, TrustLevel};
use crate::oauth::redirect_uri::{validate_registered, ApplicationType};
use crate::policy::draft::{validate as validate_policy, PolicyDraft};
use crate::policy::{Allow, Policy};
use crate::store::Store;

/// What is stored, as far as configuration goes.
#[derive(Debug, Clone, Default)]
pub struct Snapshot {
    pub tenants: Vec<Tenant>,
    pub servers: Vec<(McpServer, Vec<Scope>)>,
    pub policies: Vec<Policy>,
    /// Admin-made agents with their allowance rows (server id → scopes).
    pub agents: Vec<(Agent, BTreeMap<String, Vec<String>>)>,
    /// Client ids of self-registered agents (not configuration; a document may not name them).
    pub registered: Vec<String>,
}

impl Snapshot {
    pub async fn load(store: &Store) -> CoreResult<Self> {
        let mut snapshot = Self {
            tenants: store.list_tenants().await?,
            policies: store.policies().await?,
            ..Self::default()
        };
        for server in store.list_mcp_servers().await? {
            let scopes = store.scopes_of(&server.id).await?;
            snapshot.servers.push((server, scopes));
        }
        let mut filter = crate::store::agent_admin::AgentFilter::default();
        loop {
            let page = store.list_agents(&filter, 500).await?;
            let Some(last) = page.last() else { break };
            filter.after = Some((last.created_at, last.id.to_string()));
            for agent in page {
                if agent.kind == AgentKind::Manual {
                    let rows = store.allowances_of(&agent.id).await?.into_iter().collect();
                    snapshot.agents.push((agent, rows));
                } else {
                    snapshot.registered.push(agent.id.to_string());
                }
            }
        }
        snapshot.agents.sort_by(|a, b| a.0.id.cmp(&b.0.id));
        Ok(snapshot)
    }

    fn slug_of(&self, server_id: &str) -> String {
        self.servers
            .iter()
            .find(|(s, _)| s.id.as_str() == server_id)
            .map_or_else(|| server_id.to_owned(), |(s, _)| s.slug.clone())
    }

    fn agent_config(&self, agent: &Agent, rows: &BTreeMap<String, Vec<String>>) -> AgentConfig {
        let allowances = (!rows.is_empty()).then(|| {
            self.servers
                .iter()
                .map(|(s, _)| {
                    let scopes = rows
                        .get(s.id.as_str())
                        .cloned()
                        .unwrap_or_else(|| vec![EVERY_SCOPE.to_owned()]);
                    (s.slug.clone(), scopes)
                })
                .collect()
        });
        AgentConfig {
            client_id: agent.id.to_string(),
            name: agent.name.clone(),
            client_type: agent.client_type.as_str().to_owned(),
            application_type: agent.application_type.clone(),
            redirect_uris: agent.redirect_uris.clone(),
            grant_types: agent.grant_types.clone(),
            tags: agent.tags.clone(),
            trust_level: agent.trust_level.as_str().to_owned(),
            allowances,
        }
    }

    fn policy_config(&self, p: &Policy) -> PolicyConfig {
        PolicyConfig {
            name: p.name.clone(),
            description: p.description.clone(),
            conditions: p.conditions.clone(),
            allows: p
                .allows
                .iter()
                .map(|a| AllowConfig {
                    mcp_server: self.slug_of(&a.mcp_server_id),
                    scopes: a.scopes.clone(),
                })
                .collect(),
        }
    }

    /// The stored configuration as a document.
    pub fn as_file(&self) -> ConfigFile {
        ConfigFile {
            tenants: self
                .tenants
                .iter()
                .map(|t| TenantConfig {
                    slug: t.slug.clone(),
                    name: t.name.clone(),
                    email_domains: t.email_domains.clone(),
                    logo_url: t.logo_url.clone(),
                })
                .collect(),
            mcp_servers: self
                .servers
                .iter()
                .map(|(s, scopes)| McpServerDraft::of(s, scopes))
                .collect(),
            policies: self
                .policies
                .iter()
                .map(|p| self.policy_config(p))
                .collect(),
            agents: self
                .agents
                .iter()
                .map(|(a, rows)| self.agent_config(a, rows))
                .collect(),
        }
    }
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ChangeKind {
    Create,
    Update,
    Unchanged,
}

/// One line of the plan: `+ mcp_server calendar`, `~ policy "Read only" (conditions)`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Change {
    pub kind: ChangeKind,
    /// `tenant`, `mcp_server`, `policy` or `agent`.
    pub what: &'static str,
    pub key: String,
    /// For an update: the fields that differ.
    pub fields: Vec<String>,
}

impl std::fmt::Display for Change {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        let sign = match self.kind {
            ChangeKind::Create => "+",
            ChangeKind::Update => "~",
            ChangeKind::Unchanged => "=",
        };
        write!(f, "{sign} {} {}", self.what, self.key)?;
        if !self.fields.is_empty() {
            write!(f, " ({})", self.fields.join(", "))?;
        }
        Ok(())
    }
}

/// The changes a document makes, or why it cannot be applied.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Plan {
    pub changes: Vec<Change>,
    pub errors: Vec<String>,
}

impl Plan {
    pub fn is_noop(&self) -> bool {
        self.changes.iter().all(|c| c.kind == ChangeKind::Unchanged)
    }

    fn push(
        &mut self,
        what: &'static str,
        key: &str,
        before: Option<impl Serialize>,
        after: impl Serialize,
    ) {
        let (kind, fields) = match before {
            None => (ChangeKind::Create, Vec::new()),
            Some(before) => {
                let fields = differing_fields(&before, &after);
                let kind = if fields.is_empty() {
                    ChangeKind::Unchanged
                } else {
                    ChangeKind::Update
                };
                (kind, fields)
            }
        };
        self.changes.push(Change {
            kind,
            what,
            key: key.to_owned(),
            fields,
        });
    }
}

/// The top-level fields whose JSON differs between two values of one type.
fn differing_fields(a: &impl Serialize, b: &impl Serialize) -> Vec<String> {
    let (Ok(serde_json::Value::Object(a)), Ok(serde_json::Value::Object(b))) =
        (serde_json::to_value(a), serde_json::to_value(b))
    else {
        return vec!["value".into()];
    };
    let mut keys: Vec<&String> = a.keys().chain(b.keys()).collect();
    keys.sort();
    keys.dedup();
    keys.into_iter()
        .filter(|k| a.get(*k) != b.get(*k))
        .cloned()
        .collect()
}

/// The placeholder id of a server the document creates (policies may name it).
pub(super) fn new_server_id(slug: &str) -> String {
    format!("new:{slug}")
}

/// A tenant as the document means it (trimmed, domains lowercase).
pub(super) fn tenant_of(t: &TenantConfig) -> TenantConfig {
    TenantConfig {
        slug: t.slug.trim().to_owned(),
        name: t.name.trim().to_owned(),
        email_domains: t
            .email_domains
            .iter()
            .map(|d| d.trim().to_ascii_lowercase())
            .filter(|d| !d.is_empty())
            .collect(),
        logo_url: t
            .logo_url
            .as_deref()
            .map(str::trim)
            .filter(|l| !l.is_empty())
            .map(str::to_owned),
    }
}

/// The desired agent, checked; what `apply` stores.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub(super) struct AgentShape {
    pub name: String,
    pub client_type: String,
    pub application_type: String,
    pub redirect_uris: Vec<String>,
    pub grant_types: Vec<String>,
    pub tags: Vec<String>,
    pub trust_level: String,
    /// Server id (or new-server placeholder) → scopes; `None`: every scope everywhere.
    pub allowances: Option<BTreeMap<String, Vec<String>>>,
}

pub(super) fn shape_of_stored(agent: &Agent, rows: &BTreeMap<String, Vec<String>>) -> AgentShape {
    AgentShape {
        name: agent.name.clone(),
        client_type: agent.client_type.as_str().to_owned(),
        application_type: agent.application_type.clone(),
        redirect_uris: agent.redirect_uris.clone(),
        grant_types: agent.grant_types.clone(),
        tags: agent.tags.clone(),
        trust_level: agent.trust_level.as_str().to_owned(),
        allowances: (!rows.is_empty()).then(|| rows.clone()),
    }
}

/// Checks an agent entry against the servers (slug → (id, scope names)).
pub(super) fn agent_shape(
    a: &AgentConfig,
    servers: &BTreeMap<String, (String, Vec<String>)>,
) -> Result<AgentShape, Vec<String>> {
    let mut errors = Vec::new();
    let id = a.client_id.trim();
    let mut err = |m: String| errors.push(format!("agent {id:?}: {m}"));
    if id.is_empty() || id.len() > 255 || id.chars().any(|c| c.is_whitespace() || c.is_control()) {
        err("client_id is 1 to 255 visible characters".into());
    }
    let name = a.name.trim();
    if name.is_empty() || name.chars().count() > 100 {
        err("name is 1 to 100 characters".into());
    }
    let client_type = ClientType::parse(a.client_type.trim());
    if client_type.is_none() {
        err("client_type is public or confidential".into());
    }
    let app_type = match a.application_type.trim() {
        "web" => ApplicationType::Web,
        "native" => ApplicationType::Native,
        _ => {
            err("application_type is web or native".into());
            ApplicationType::Web
        }
    };
    let trust = TrustLevel::parse(a.trust_level.trim())
        .filter(|t| matches!(t, TrustLevel::Admin | TrustLevel::Verified));
    if trust.is_none() {
        err("trust_level is admin or verified".into());
    }
    for uri in &a.redirect_uris {
        if let Err(e) = validate_registered(uri, app_type, &[]) {
            err(e.description);
        }
    }
    let grant_types = if a.grant_types.is_empty() {
        match client_type {
            Some(ClientType::Confidential) => vec!["client_credentials".to_owned()],
            _ => vec!["authorization_code".to_owned(), "refresh_token".to_owned()],
        }
    } else {
        a.grant_types.clone()
    };
    for g in &grant_types {
        let offered = matches!(
            g.as_str(),
            "authorization_code" | "refresh_token" | "client_credentials"
        );
        if !offered {
            err(format!("grant type {g:?} is not offered"));
        }
    }
    if grant_types.iter().any(|g| g == "client_credentials")
        && client_type != Some(ClientType::Confidential)
    {
        err("client_credentials needs a confidential client".into());
    }
    if grant_types.iter().any(|g| g == "authorization_code") && a.redirect_uris.is_empty() {
        err("authorization_code needs at least one redirect URI".into());
    }
    let tags = clean_tags(&a.tags).unwrap_or_else(|m| {
        err(m);
        Vec::new()
    });
    let allowances = a.allowances.as_ref().map(|map| {
        let mut rows: BTreeMap<String, Vec<String>> = servers
            .values()
            .map(|(id, _)| (id.clone(), Vec::new()))
            .collect();
        for (slug, scopes) in map {
            let Some((server_id, known)) = servers.get(slug) else {
                err(format!("allowances: no MCP server {slug:?}"));
                continue;
            };
            if scopes.len() == 1 && scopes[0] == EVERY_SCOPE {
                rows.remove(server_id);
                continue;
            }
            for s in scopes.iter().filter(|s| !known.contains(s)) {
                err(format!("allowances: {slug} has no scope {s:?}"));
            }
            rows.insert(server_id.clone(), scopes.clone());
        }
        rows
    });
    if !errors.is_empty() {
        return Err(errors);
    }
    Ok(AgentShape {
        name: name.to_owned(),
        client_type: a.client_type.trim().to_owned(),
        application_type: a.application_type.trim().to_owned(),
        redirect_uris: a.redirect_uris.clone(),
        grant_types,
        tags,
        trust_level: a.trust_level.trim().to_owned(),
        allowances,
    })
}

/// The policy draft of an entry, servers resolved by slug; `None` for an unknown slug.
pub(super) fn policy_draft(
    p: &PolicyConfig,
    servers: &BTreeMap<String, (String, Vec<String>)>,
) -> Result<PolicyDraft, String> {
    let mut allows = Vec::new();
    for a in &p.allows {
        let (id, _) = servers
            .get(&a.mcp_server)
            .ok_or_else(|| format!("policy {:?}: no MCP server {:?}", p.name, a.mcp_server))?;
        allows.push(Allow {
            mcp_server_id: id.clone(),
            scopes: a.scopes.clone(),
        });
    }
    Ok(PolicyDraft {
        name: p.name.clone(),
        description: p.description.clone(),
        conditions: p.conditions.clone(),
        allows,
    })
}

/// What applying `desired` to `current` would do.
pub fn plan(current: &Snapshot, desired: &ConfigFile) -> Plan {
    let mut plan = Plan::default();
    // Tenants.
    for t in &desired.tenants {
        let t = tenant_of(t);
        let draft = crate::admin::tenants::TenantDraft {
            slug: t.slug.clone(),
            name: t.name.clone(),
            email_domains: t.email_domains.clone(),
            logo_url: t.logo_url.clone().unwrap_or_default(),
        };
        if let Err(errors) = crate::admin::tenants::validate(&draft) {
            plan.errors.extend(
                errors
                    .into_iter()
                    .map(|(field, m)| format!("tenant {:?}: {field}: {m}", t.slug)),
            );
            continue;
        }
        let stored = current
            .tenants
            .iter()
            .find(|s| s.slug == t.slug)
            .map(|s| TenantConfig {
                slug: s.slug.clone(),
                name: s.name.clone(),
                email_domains: s.email_domains.clone(),
                logo_url: s.logo_url.clone(),
            });
        plan.push("tenant", &t.slug, stored, &t);
    }
    // Servers; then every server's id and scopes as they will be, for policies and agents.
    let mut servers: BTreeMap<String, (String, Vec<String>)> = current
        .servers
        .iter()
        .map(|(s, scopes)| {
            let names = scopes.iter().map(|x| x.name.clone()).collect();
            (s.slug.clone(), (s.id.to_string(), names))
        })
        .collect();
    for draft in &desired.mcp_servers {
        let stored = current
            .servers
            .iter()
            .find(|(s, _)| s.slug == draft.slug.trim());
        let base = stored.map_or_else(|| McpServer::new("", "", "", 0), |(s, _)| s.clone());
        match validate_server(draft, &base) {
            Ok((server, scopes)) => {
                let id =
                    stored.map_or_else(|| new_server_id(&server.slug), |(s, _)| s.id.to_string());
                let names = scopes.iter().map(|x| x.name.clone()).collect();
                servers.insert(server.slug.clone(), (id, names));
                let before = stored.map(|(s, sc)| McpServerDraft::of(s, sc));
                plan.push(
                    "mcp_server",
                    &server.slug,
                    before,
                    McpServerDraft::of(&server, &scopes),
                );
            }
            Err(errors) => plan.errors.extend(
                errors
                    .into_iter()
                    .map(|(field, m)| format!("mcp_server {:?}: {field}: {m}", draft.slug)),
            ),
        }
    }
    // Policies, by name.
    let scopes_by_id: BTreeMap<String, Vec<String>> = servers.values().cloned().collect();
    for p in &desired.policies {
        let draft = match policy_draft(p, &servers) {
            Ok(draft) => draft,
            Err(e) => {
                plan.errors.push(e);
                continue;
            }
        };
        match validate_policy(&draft, &scopes_by_id, String::new()) {
            Ok(valid) => {
                let stored = current
                    .policies
                    .iter()
                    .find(|s| s.name == valid.name)
                    .map(|s| Policy {
                        id: String::new(),
                        ..s.clone()
                    });
                plan.push("policy", &format!("{:?}", valid.name), stored, &valid);
            }
            Err(errors) => plan.errors.extend(
                errors
                    .into_iter()
                    .map(|(field, m)| format!("policy {:?}: {field}: {m}", p.name)),
            ),
        }
    }
    // Agents, by client id.
    for a in &desired.agents {
        let id = a.client_id.trim();
        if current.registered.iter().any(|r| r == id) {
            plan.errors.push(format!(
                "agent {id:?}: a self-registered agent (DCR or CIMD) is not configuration"
            ));
            continue;
        }
        match agent_shape(a, &servers) {
            Ok(shape) => {
                let stored = current
                    .agents
                    .iter()
                    .find(|(s, _)| s.id.as_str() == id)
                    .map(|(s, rows)| shape_of_stored(s, rows));
                plan.push("agent", id, stored, &shape);
            }
            Err(errors) => plan.errors.extend(errors),
        }
    }
    plan
}

#[cfg(test)]
#[path = "plan_tests.rs"]
mod tests;
