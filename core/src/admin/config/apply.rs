//! Makes a plan's changes: tenants, then MCP servers (so policies and agents can name new
//! ones), then policies (a changed policy is replaced: policies have no update) and agents.
//! Each change is returned with its before / after for the audit trail.

use std::collections::BTreeMap;

use super::plan::{
    agent_shape, new_server_id, plan, policy_draft, tenant_of, AgentShape, Snapshot,
};
use super::{ChangeKind, ConfigFile, Plan};
use crate::access::AdminAccess;
use crate::admin::mcp_servers as servers;
use crate::admin::policies;
use crate::admin::{AdminError, AdminResult};
use crate::clock::UnixMillis;
use crate::ids::AgentId;
use crate::model::{Agent, AgentKind, ClientType, TrustLevel};
use crate::secret::{Secret, SecretKind};
use crate::store::agents::AgentSecrets;
use crate::store::tenants::new_tenant;
use crate::store::Store;

/// What `apply` did.
#[derive(Debug, Default)]
pub struct Applied {
    pub plan: Plan,
    /// One per change made: (action, before, after), e.g. `("mcp_server.updated", …)`.
    pub records: Vec<(String, serde_json::Value, serde_json::Value)>,
    /// Secrets of confidential agents this run created: (client id, secret), shown once.
    pub secrets: Vec<(String, Secret)>,
}

fn refused(message: String) -> AdminError {
    AdminError::Invalid(BTreeMap::from([("config".to_owned(), message)]))
}

/// Applies `desired`; with `dry_run`, only plans. A document with errors changes nothing.
pub async fn apply(
    store: &Store,
    access: &AdminAccess,
    desired: &ConfigFile,
    dry_run: bool,
    now: UnixMillis,
) -> AdminResult<Applied> {
    let current = Snapshot::load(store).await?;
    let plan = plan(&current, desired);
    let mut done = Applied {
        plan,
        ..Applied::default()
    };
    if dry_run || !done.plan.errors.is_empty() || done.plan.is_noop() {
        return Ok(done);
    }
    let kinds: BTreeMap<(&'static str, String), ChangeKind> = done
        .plan
        .changes
        .iter()
        .map(|c| ((c.what, c.key.clone()), c.kind))
        .collect();
    let changed = |what: &'static str, key: &str| kinds.get(&(what, key.to_owned())).copied();
    let mut records = Vec::new();

    for t in desired.tenants.iter().map(tenant_of) {
        match changed("tenant", &t.slug) {
            Some(ChangeKind::Create) => {
                let domains: Vec<&str> = t.email_domains.iter().map(String::as_str).collect();
                let tenant = crate::model::Tenant {
                    logo_url: t.logo_url.clone(),
                    ..new_tenant(&t.slug, &t.name, &domains, now)
                };
                store.insert_tenant(&tenant).await?;
                records.push(("tenant.created".into(), serde_json::Value::Null, json(&t)));
            }
            Some(ChangeKind::Update) => {
                let before = store.tenant_by_slug(&t.slug).await?;
                store
                    .update_tenant(&t.slug, &t.name, &t.email_domains, t.logo_url.as_deref())
                    .await?;
                records.push(("tenant.updated".into(), json(&before), json(&t)));
            }
            _ => {}
        }
    }
    for draft in &desired.mcp_servers {
        let slug = draft.slug.trim();
        match changed("mcp_server", slug) {
            Some(ChangeKind::Create) => {
                let after = servers::create(store, access, draft, now).await?;
                records.push((
                    "mcp_server.created".into(),
                    serde_json::Value::Null,
                    json(&after),
                ));
            }
            Some(ChangeKind::Update) => {
                let (before, after) = servers::update(store, access, slug, draft, now).await?;
                records.push(("mcp_server.updated".into(), json(&before), json(&after)));
            }
            _ => {}
        }
    }
    // Every server as it now is: slug → (id, scope names).
    let mut by_slug: BTreeMap<String, (String, Vec<String>)> = BTreeMap::new();
    for s in store.list_mcp_servers().await? {
        let names = store
            .scopes_of(&s.id)
            .await?
            .into_iter()
            .map(|x| x.name)
            .collect();
        by_slug.insert(s.slug.clone(), (s.id.to_string(), names));
    }
    for p in &desired.policies {
        let key = format!("{:?}", p.name.trim());
        let kind = changed("policy", &key);
        if !matches!(kind, Some(ChangeKind::Create | ChangeKind::Update)) {
            continue;
        }
        let draft = policy_draft(p, &by_slug).map_err(refused)?;
        let before = match store
            .policies()
            .await?
            .into_iter()
            .find(|s| s.name == p.name.trim())
        {
            Some(old) => {
                policies::delete(store, access, &old.id).await?;
                json(&old)
            }
            None => serde_json::Value::Null,
        };
        let after = policies::create(store, access, &draft, now).await?;
        let action = if before.is_null() {
            "policy.created"
        } else {
            "policy.replaced"
        };
        records.push((action.into(), before, json(&after)));
    }
    for a in &desired.agents {
        let id = a.client_id.trim();
        let kind = changed("agent", id);
        if !matches!(kind, Some(ChangeKind::Create | ChangeKind::Update)) {
            continue;
        }
        let shape = agent_shape(a, &by_slug).map_err(|e| refused(e.join("; ")))?;
        let agent_id = AgentId::from_string(id);
        let before = store.agent(&agent_id).await?;
        let agent = agent_of(&agent_id, &shape, before.as_ref(), now);
        match &before {
            None => {
                let mut secrets = AgentSecrets::default();
                if agent.client_type == ClientType::Confidential {
                    let secret = Secret::generate(SecretKind::ClientSecret);
                    secrets.client_secret = Some(secret.hash());
                    done.secrets.push((id.to_owned(), secret));
                }
                store.insert_agent(&agent, &secrets).await?;
            }
            Some(_) => {
                store.update_agent_registration(&agent, "{}", now).await?;
                store.set_agent_labels(&agent, now).await?;
            }
        }
        let rows: Vec<(String, Vec<String>)> = shape
            .allowances
            .clone()
            .map(|m| {
                m.into_iter()
                    .filter(|(k, _)| !k.starts_with(&new_server_id("")))
                    .collect()
            })
            .unwrap_or_default();
        store.replace_agent_allowances(&agent.id, &rows).await?;
        let action = if before.is_none() {
            "agent.created"
        } else {
            "agent.updated"
        };
        records.push((action.into(), json(&before), json(&shape)));
    }
    done.records = records;
    Ok(done)
}

fn agent_of(id: &AgentId, shape: &AgentShape, before: Option<&Agent>, now: UnixMillis) -> Agent {
    let client_type = ClientType::parse(&shape.client_type).unwrap_or(ClientType::Public);
    Agent {
        id: id.clone(),
        name: shape.name.clone(),
        kind: AgentKind::Manual,
        trust_level: TrustLevel::parse(&shape.trust_level).unwrap_or(TrustLevel::Admin),
        client_type,
        token_endpoint_auth_method: match client_type {
            ClientType::Confidential => "client_secret_basic".into(),
            ClientType::Public => "none".into(),
        },
        redirect_uris: shape.redirect_uris.clone(),
        grant_types: shape.grant_types.clone(),
        tags: shape.tags.clone(),
        logo_uri: before.and_then(|b| b.logo_uri.clone()),
        application_type: shape.application_type.clone(),
        scope: String::new(),
        registered_at_server: None,
        disabled: before.is_some_and(|b| b.disabled),
        created_at: before.map_or(now, |b| b.created_at),
        last_used_at: before.and_then(|b| b.last_used_at),
    }
}

/// A value as the audit record's JSON.
fn json<T: serde::Serialize>(value: &T) -> serde_json::Value {
    serde_json::to_value(value).unwrap_or(serde_json::Value::Null)
}
