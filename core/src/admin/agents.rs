//! Agents as admins manage them: the filtered list, the detail, machine agents created for
//! client_credentials (secret shown once, rotatable), labels (name, tags, trust level),
//! allowances, disable / enable and delete. Project admins only.

use std::collections::BTreeMap;

use serde::{Deserialize, Serialize};

use super::{invalid, project_only, AdminError, AdminResult};
use crate::access::AdminAccess;
use crate::clock::UnixMillis;
use crate::ids::{AgentId, McpServerId};
use crate::model::{Agent, AgentKind, ClientType, TrustLevel};
use crate::oauth::scope::ScopeSet;
use crate::policy::draft::FieldErrors;
use crate::secret::{Secret, SecretKind};
use crate::store::agent_admin::{AgentFilter, BoundUser, UsedFilter};
use crate::store::agents::AgentSecrets;
use crate::store::Store;

const REFUSAL: &str = "Only project admins manage agents.";
const MAX_TAGS: usize = 20;
const MAX_TAG: usize = 40;
const MAX_NAME: usize = 100;
/// The longest page a list returns.
pub const MAX_PAGE: i64 = 200;

/// Tags: trimmed, lowercase, 1–40 characters of letters, digits and `-_.:`; at most 20; no
/// duplicates (kept in the order given).
pub fn clean_tags(tags: &[String]) -> Result<Vec<String>, String> {
    let mut out: Vec<String> = Vec::new();
    for tag in tags {
        let tag = tag.trim().to_lowercase();
        if tag.is_empty() {
            continue;
        }
        let fine = tag.chars().count() <= MAX_TAG
            && tag
                .chars()
                .all(|c| c.is_alphanumeric() || matches!(c, '-' | '_' | '.' | ':'));
        if !fine {
            return Err(format!(
                "“{tag}”: a tag is up to {MAX_TAG} letters, digits, - _ . or :."
            ));
        }
        if !out.contains(&tag) {
            out.push(tag);
        }
    }
    if out.len() > MAX_TAGS {
        return Err(format!("An agent has at most {MAX_TAGS} tags."));
    }
    Ok(out)
}

fn clean_name(name: &str) -> Result<String, String> {
    let name = name.trim();
    if name.is_empty() || name.chars().count() > MAX_NAME {
        Err(format!(
            "Give the agent a name of 1 to {MAX_NAME} characters."
        ))
    } else {
        Ok(name.to_owned())
    }
}

/// A list cursor: the last agent of a page, as `{created_at}.{id}`.
pub fn cursor_of(agent: &Agent) -> String {
    format!("{}.{}", agent.created_at, agent.id.as_str())
}

/// Reads a cursor made by [`cursor_of`]; `None` if it is not one.
pub fn parse_cursor(text: &str) -> Option<(UnixMillis, String)> {
    let (at, id) = text.split_once('.')?;
    let at = at.parse().ok()?;
    (!id.is_empty()).then(|| (at, id.to_owned()))
}

/// One page of agents and the cursor of the next page, if there is one.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct AgentPage {
    pub agents: Vec<Agent>,
    pub next: Option<String>,
}

pub async fn list(
    store: &Store,
    access: &AdminAccess,
    filter: &AgentFilter,
    limit: i64,
) -> AdminResult<AgentPage> {
    project_only(access, REFUSAL)?;
    let limit = limit.clamp(1, MAX_PAGE);
    let mut agents = store.list_agents(filter, limit + 1).await?;
    let more = agents.len() > usize::try_from(limit).unwrap_or(usize::MAX);
    agents.truncate(usize::try_from(limit).unwrap_or(usize::MAX));
    let next = if more {
        agents.last().map(cursor_of)
    } else {
        None
    };
    Ok(AgentPage { agents, next })
}

/// What an agent may get on one server.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct AllowanceView {
    pub mcp_server_id: String,
    pub mcp_server_name: String,
    /// `None`: every scope of the server (a self-registered agent's default).
    pub scopes: Option<Vec<String>>,
}

/// Everything the agent's page shows except its audit events.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct AgentDetail {
    pub agent: Agent,
    /// The registration metadata it was created from (DCR / CIMD), as JSON.
    pub metadata: serde_json::Value,
    pub allowances: Vec<AllowanceView>,
    pub bound_users: Vec<BoundUserView>,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct BoundUserView {
    pub user_id: String,
    pub email: String,
    pub tenant: String,
    pub mcp_server: String,
    pub scopes: Vec<String>,
    pub last_used_at: Option<UnixMillis>,
}

async fn find(store: &Store, id: &str) -> AdminResult<Agent> {
    store
        .agent(&AgentId::from_string(id))
        .await?
        .ok_or(AdminError::NotFound("No agent has this client id."))
}

pub async fn get(store: &Store, access: &AdminAccess, id: &str) -> AdminResult<AgentDetail> {
    project_only(access, REFUSAL)?;
    let agent = find(store, id).await?;
    let metadata = store
        .agent_metadata(&agent.id)
        .await?
        .and_then(|m| serde_json::from_str(&m).ok())
        .unwrap_or(serde_json::Value::Null);
    let stored: BTreeMap<String, Vec<String>> =
        store.allowances_of(&agent.id).await?.into_iter().collect();
    let allowances = store
        .list_mcp_servers()
        .await?
        .into_iter()
        .map(|s| AllowanceView {
            scopes: stored.get(s.id.as_str()).cloned(),
            mcp_server_id: s.id.to_string(),
            mcp_server_name: s.name,
        })
        .collect();
    let bound_users = store
        .bound_users(&agent.id, 100)
        .await?
        .into_iter()
        .map(|b: BoundUser| BoundUserView {
            scopes: serde_json::from_str(&b.granted_scopes).unwrap_or_default(),
            user_id: b.user_id,
            email: b.email,
            tenant: b.tenant_name,
            mcp_server: b.mcp_server_name,
            last_used_at: b.last_used_at,
        })
        .collect();
    Ok(AgentDetail {
        agent,
        metadata,
        allowances,
        bound_users,
    })
}

/// A machine agent to create: it authenticates with a secret and gets tokens with
/// client_credentials, only for the scopes allowed here (server id or slug → scopes).
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
#[serde(default)]
pub struct MachineAgentDraft {
    pub name: String,
    pub tags: Vec<String>,
    pub allowances: BTreeMap<String, Vec<String>>,
}

/// In an allowance, `["*"]`: every scope of the server, including scopes added later.
pub const EVERY_SCOPE: &str = "*";

/// Checks `allowances` (server id or slug → scope names, or `["*"]`) against the servers;
/// returns a row for every server not given `*` (empty where nothing is allowed), since a
/// missing row means "every scope".
async fn checked_allowances(
    store: &Store,
    allowances: &BTreeMap<String, Vec<String>>,
    errors: &mut FieldErrors,
) -> AdminResult<Vec<(String, Vec<String>)>> {
    let servers = store.list_mcp_servers().await?;
    let mut rows: BTreeMap<String, Vec<String>> = servers
        .iter()
        .map(|s| (s.id.to_string(), Vec::new()))
        .collect();
    for (key, scopes) in allowances {
        let Some(server) = servers
            .iter()
            .find(|s| s.id.as_str() == key || s.slug == *key)
        else {
            errors.insert(
                format!("allowances.{key}"),
                "No MCP server has this id or slug.".into(),
            );
            continue;
        };
        if scopes.len() == 1 && scopes[0] == EVERY_SCOPE {
            // No row: every scope of the server, now and as it gains scopes.
            rows.remove(server.id.as_str());
            continue;
        }
        let known = store.scopes_of(&server.id).await?;
        let wanted = ScopeSet::from_tokens(scopes.iter().map(|s| s.trim().to_owned()));
        let unknown: Vec<&str> = wanted
            .iter()
            .filter(|w| !known.iter().any(|k| k.name == *w))
            .collect();
        if !unknown.is_empty() {
            errors.insert(
                format!("allowances.{key}"),
                format!("{} has no scope {}.", server.name, unknown.join(", ")),
            );
        }
        rows.insert(
            server.id.to_string(),
            wanted.iter().map(str::to_owned).collect(),
        );
    }
    Ok(rows.into_iter().collect())
}

/// Creates a confidential agent for client_credentials; returns it with its secret, which is
/// stored only as a hash and shown this once.
pub async fn create_machine(
    store: &Store,
    access: &AdminAccess,
    draft: &MachineAgentDraft,
    now: UnixMillis,
) -> AdminResult<(Agent, Secret)> {
    project_only(access, REFUSAL)?;
    let mut errors = FieldErrors::new();
    let name = clean_name(&draft.name).map_err(|m| errors.insert("name".into(), m));
    let tags = clean_tags(&draft.tags).map_err(|m| errors.insert("tags".into(), m));
    let allowances = checked_allowances(store, &draft.allowances, &mut errors).await?;
    let (Ok(name), Ok(tags), true) = (name, tags, errors.is_empty()) else {
        return Err(AdminError::Invalid(errors));
    };
    let agent = Agent {
        id: AgentId::generate(),
        name,
        kind: AgentKind::Manual,
        trust_level: TrustLevel::Admin,
        client_type: ClientType::Confidential,
        token_endpoint_auth_method: "client_secret_basic".into(),
        redirect_uris: vec![],
        grant_types: vec!["client_credentials".into()],
        tags,
        logo_uri: None,
        application_type: "web".into(),
        scope: String::new(),
        registered_at_server: None,
        disabled: false,
        created_at: now,
        last_used_at: None,
    };
    let secret = Secret::generate(SecretKind::ClientSecret);
    let secrets = AgentSecrets {
        client_secret: Some(secret.hash()),
        registration_token: None,
    };
    store.insert_agent(&agent, &secrets).await?;
    store
        .replace_agent_allowances(&agent.id, &allowances)
        .await?;
    Ok((agent, secret))
}

/// A new client secret for a confidential agent; the old one stops working at once.
pub async fn rotate_secret(
    store: &Store,
    access: &AdminAccess,
    id: &str,
    now: UnixMillis,
) -> AdminResult<(Agent, Secret)> {
    project_only(access, REFUSAL)?;
    let agent = find(store, id).await?;
    if agent.client_type != ClientType::Confidential {
        return Err(invalid(
            "agent",
            "This agent is public: it has no client secret to rotate.",
        ));
    }
    let secret = Secret::generate(SecretKind::ClientSecret);
    store
        .set_agent_secret(&agent.id, &secret.hash(), now)
        .await?;
    Ok((agent, secret))
}

/// What an admin may change about any agent; absent fields stay as they are.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
#[serde(default)]
pub struct AgentChanges {
    pub name: Option<String>,
    pub tags: Option<Vec<String>>,
    /// `verified` marks it checked; `admin`, `dcr`, `cimd` as the levels are named.
    pub trust_level: Option<String>,
    pub disabled: Option<bool>,
    /// Server id or slug → scopes (`["*"]`: every scope); replaces every allowance (servers
    /// left out get none).
    pub allowances: Option<BTreeMap<String, Vec<String>>>,
}

/// Applies `changes`; returns the agent (before, after). Disabling revokes every token the
/// agent holds at once; enabling lets it ask again (nothing revoked comes back).
pub async fn update(
    store: &Store,
    access: &AdminAccess,
    id: &str,
    changes: &AgentChanges,
    now: UnixMillis,
) -> AdminResult<(AgentDetail, AgentDetail)> {
    let before = get(store, access, id).await?;
    let mut after = before.agent.clone();
    let mut errors = FieldErrors::new();
    if let Some(name) = &changes.name {
        match clean_name(name) {
            Ok(name) => after.name = name,
            Err(m) => {
                errors.insert("name".into(), m);
            }
        }
    }
    if let Some(tags) = &changes.tags {
        match clean_tags(tags) {
            Ok(tags) => after.tags = tags,
            Err(m) => {
                errors.insert("tags".into(), m);
            }
        }
    }
    if let Some(level) = &changes.trust_level {
        match TrustLevel::parse(level.trim()) {
            Some(level) => after.trust_level = level,
            None => {
                errors.insert(
                    "trust_level".into(),
                    "One of verified, admin, dcr, cimd.".into(),
                );
            }
        }
    }
    let allowances = match &changes.allowances {
        Some(map) => Some(checked_allowances(store, map, &mut errors).await?),
        None => None,
    };
    if !errors.is_empty() {
        return Err(AdminError::Invalid(errors));
    }
    store.set_agent_labels(&after, now).await?;
    if let Some(rows) = allowances {
        store.replace_agent_allowances(&after.id, &rows).await?;
    }
    if let Some(disabled) = changes.disabled {
        if disabled != before.agent.disabled {
            store.set_agent_disabled(&after.id, disabled, now).await?;
        }
    }
    let after = get(store, access, id).await?;
    Ok((before, after))
}

/// Deletes an agent with its allowances, grants and every token it holds.
pub async fn delete(store: &Store, access: &AdminAccess, id: &str) -> AdminResult<AgentDetail> {
    let before = get(store, access, id).await?;
    store.delete_agent(&before.agent.id).await?;
    Ok(before)
}

/// The server behind a filter's server field (id or slug), if any.
pub async fn server_id_of(store: &Store, key: &str) -> AdminResult<Option<McpServerId>> {
    let by_id = store.mcp_server(&McpServerId::from_string(key)).await?;
    Ok(match by_id {
        Some(s) => Some(s.id),
        None => store.mcp_server_by_slug(key).await?.map(|s| s.id),
    })
}

/// The list's filters as text (query parameters of the console page and the API).
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
#[serde(default)]
pub struct AgentQuery {
    /// Part of the name or client id.
    pub q: String,
    pub kind: String,
    pub trust_level: String,
    pub tag: String,
    /// Server id or slug.
    pub mcp_server: String,
    /// Tenant id or slug.
    pub tenant: String,
    /// `7d` (used in the last 7 days), `idle30d` (not used for 30 days), `never`.
    pub used: String,
    pub cursor: String,
}

/// Reads a `used` filter: `never`, `{n}d` or `idle{n}d` (n of 1 to 3650 days).
pub fn parse_used(text: &str, now: UnixMillis) -> Option<UsedFilter> {
    const DAY_MS: i64 = 24 * 3600 * 1000;
    if text == "never" {
        return Some(UsedFilter::Never);
    }
    let (idle, rest) = match text.strip_prefix("idle") {
        Some(rest) => (true, rest),
        None => (false, text),
    };
    let days: i64 = rest.strip_suffix('d')?.parse().ok()?;
    if !(1..=3650).contains(&days) {
        return None;
    }
    let at = now - days * DAY_MS;
    Some(if idle {
        UsedFilter::IdleSince(at)
    } else {
        UsedFilter::Since(at)
    })
}

/// The store filter `query` describes, or the fields it cannot read.
pub async fn filter_of(
    store: &Store,
    query: &AgentQuery,
    now: UnixMillis,
) -> AdminResult<AgentFilter> {
    let mut errors = FieldErrors::new();
    let text = |s: &str| Some(s.trim().to_owned()).filter(|s| !s.is_empty());
    let mut filter = AgentFilter {
        text: text(&query.q),
        tag: text(&query.tag).map(|t| t.to_lowercase()),
        ..AgentFilter::default()
    };
    if let Some(kind) = text(&query.kind) {
        filter.kind = AgentKind::parse(&kind);
        if filter.kind.is_none() {
            errors.insert("kind".into(), "One of manual, dcr, cimd.".into());
        }
    }
    if let Some(level) = text(&query.trust_level) {
        filter.trust_level = TrustLevel::parse(&level);
        if filter.trust_level.is_none() {
            errors.insert(
                "trust_level".into(),
                "One of verified, admin, dcr, cimd.".into(),
            );
        }
    }
    if let Some(used) = text(&query.used) {
        filter.used = parse_used(&used, now);
        if filter.used.is_none() {
            errors.insert(
                "used".into(),
                "One of never, 7d, 30d, idle30d, idle90d (any number of days).".into(),
            );
        }
    }
    if let Some(cursor) = text(&query.cursor) {
        filter.after = parse_cursor(&cursor);
        if filter.after.is_none() {
            errors.insert("cursor".into(), "Not a cursor this list gave.".into());
        }
    }
    if let Some(server) = text(&query.mcp_server) {
        filter.mcp_server = server_id_of(store, &server).await?;
        if filter.mcp_server.is_none() {
            errors.insert(
                "mcp_server".into(),
                "No MCP server has this id or slug.".into(),
            );
        }
    }
    if let Some(tenant) = text(&query.tenant) {
        let found = store
            .list_tenants()
            .await?
            .into_iter()
            .find(|t| t.slug == tenant || t.id.as_str() == tenant);
        match found {
            Some(t) => filter.tenant = Some(t.id.to_string()),
            None => {
                errors.insert("tenant".into(), "No tenant has this id or slug.".into());
            }
        }
    }
    if errors.is_empty() {
        Ok(filter)
    } else {
        Err(AdminError::Invalid(errors))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn tags_are_cleaned_deduplicated_and_bounded() {
        let given = ["  Billing ", "", "billing", "team:ops"].map(String::from);
        assert_eq!(
            clean_tags(&given),
            Ok(vec!["billing".into(), "team:ops".into()])
        );
        assert!(clean_tags(&["has space".into()]).is_err());
        assert!(clean_tags(&["x".repeat(41)]).is_err());
        let many: Vec<String> = (0..21).map(|i| format!("t{i}")).collect();
        assert!(clean_tags(&many).is_err());
    }

    #[test]
    fn cursors_round_trip_and_garbage_is_refused() {
        let mut agent = Agent::sample("client-1.with.dots");
        agent.created_at = 1_700_000;
        let cursor = cursor_of(&agent);
        assert_eq!(
            parse_cursor(&cursor),
            Some((1_700_000, "client-1.with.dots".to_owned()))
        );
        for bad in ["", "x.y", "12.", "nodot"] {
            assert_eq!(parse_cursor(bad), None, "{bad:?}");
        }
    }

    #[test]
    fn used_filters_read_days_idle_days_and_never() {
        let day = 24 * 3600 * 1000;
        let now = 100 * day;
        assert_eq!(parse_used("7d", now), Some(UsedFilter::Since(93 * day)));
        assert_eq!(
            parse_used("idle30d", now),
            Some(UsedFilter::IdleSince(70 * day))
        );
        assert_eq!(parse_used("never", now), Some(UsedFilter::Never));
        for bad in ["", "7", "d", "0d", "-1d", "idle", "9999d", "7 d"] {
            assert_eq!(parse_used(bad, now), None, "{bad:?}");
        }
    }

    #[test]
    fn names_are_trimmed_and_bounded() {
        assert_eq!(clean_name("  Bot "), Ok("Bot".to_owned()));
        assert!(clean_name("   ").is_err());
        assert!(clean_name(&"n".repeat(101)).is_err());
    }
}
