//! The token vault's administration: connection providers (client secret sealed; left blank
//! on a change, the stored one stays), connections policies, agents' connection allowances,
//! and API keys held for a tenant or an agent. Project admins only: a provider and its
//! policies reach every tenant.

use std::collections::BTreeMap;

use super::{invalid, project_only, AdminError, AdminResult};
use crate::access::AdminAccess;
use crate::clock::UnixMillis;
use crate::connections::draft::{
    validate_policy, validate_provider, ConnectionPolicyDraft, ProviderDraft,
};
use crate::connections::exchange::GRANT_TYPE;
use crate::connections::policy::{AgentConnectionAllowance, ConnectionPolicy};
use crate::connections::{
    seal_context, Connection, ConnectionProvider, Owner, OwnerKind, ProviderKind, VaultTokens,
};
use crate::crypto::MasterKey;
use crate::ids::AgentId;
use crate::model::{ClientType, TrustLevel};
use crate::policy::draft::known_scopes;
use crate::store::connections::SealedTokens;
use crate::store::Store;
use serde::{Deserialize, Serialize};

const REFUSAL: &str = "Only project admins manage connections.";

/// MCP servers by slug and by id → id.
async fn server_keys(store: &Store) -> AdminResult<BTreeMap<String, String>> {
    let mut keys = BTreeMap::new();
    for s in store.list_mcp_servers().await? {
        keys.insert(s.slug.clone(), s.id.to_string());
        keys.insert(s.id.to_string(), s.id.to_string());
    }
    Ok(keys)
}

/// Providers by slug and by id → (id, scopes).
async fn provider_keys(store: &Store) -> AdminResult<BTreeMap<String, (String, Vec<String>)>> {
    let mut keys = BTreeMap::new();
    for p in store.connection_providers().await? {
        keys.insert(p.slug.clone(), (p.id.clone(), p.scopes.clone()));
        keys.insert(p.id.clone(), (p.id, p.scopes));
    }
    Ok(keys)
}

pub async fn providers(
    store: &Store,
    access: &AdminAccess,
) -> AdminResult<Vec<ConnectionProvider>> {
    project_only(access, REFUSAL)?;
    Ok(store.connection_providers().await?)
}

/// A provider (by id or slug) and every connection to it (no tokens).
pub async fn provider(
    store: &Store,
    access: &AdminAccess,
    key: &str,
) -> AdminResult<(ConnectionProvider, Vec<Connection>)> {
    project_only(access, REFUSAL)?;
    let (provider, _) = store
        .connection_provider(key)
        .await?
        .ok_or(AdminError::NotFound("No connection provider has this id."))?;
    let connections = store.connections_to(&provider.id).await?;
    Ok((provider, connections))
}

/// Creates a provider (`existing`: None) or changes one; returns (before, after).
pub async fn save_provider(
    store: &Store,
    access: &AdminAccess,
    master: &MasterKey,
    existing: Option<&str>,
    draft: &ProviderDraft,
    now: UnixMillis,
) -> AdminResult<(Option<ConnectionProvider>, ConnectionProvider)> {
    project_only(access, REFUSAL)?;
    let stored = match existing {
        Some(key) => Some(
            store
                .connection_provider(key)
                .await?
                .ok_or(AdminError::NotFound("No connection provider has this id."))?,
        ),
        None => None,
    };
    let id = stored
        .as_ref()
        .map(|(p, _)| p.id.clone())
        .unwrap_or_else(|| format!("cp_{}", uuid::Uuid::now_v7().simple()));
    let had_secret = stored.as_ref().is_some_and(|(_, s)| !s.is_empty());
    let created_at = stored.as_ref().map_or(now, |(p, _)| p.created_at);
    let provider = validate_provider(
        draft,
        id,
        had_secret,
        &server_keys(store).await?,
        created_at,
        now,
    )
    .map_err(AdminError::Invalid)?;
    let secret = draft.client_secret.trim();
    // The secret is bound to its provider row: copied to another row it does not open.
    let sealed = match (provider.kind, secret, &stored) {
        (ProviderKind::ApiKey, _, _) => Vec::new(),
        (ProviderKind::Oauth2, "", Some((_, sealed))) => sealed.clone(),
        (ProviderKind::Oauth2, secret, _) => {
            master.seal(secret.as_bytes(), provider.id.as_bytes())?
        }
    };
    store
        .put_connection_provider(&provider, &sealed)
        .await
        .map_err(|e| match e {
            crate::CoreError::AlreadyExists { .. } => {
                invalid("slug", "Another connection provider has this slug.")
            }
            e => e.into(),
        })?;
    Ok((stored.map(|(p, _)| p), provider))
}

/// Deletes a provider with every connection to it.
pub async fn delete_provider(
    store: &Store,
    access: &AdminAccess,
    key: &str,
) -> AdminResult<ConnectionProvider> {
    let (provider, _) = provider(store, access, key).await?;
    store.delete_connection_provider(&provider.id).await?;
    Ok(provider)
}

pub async fn policies(store: &Store, access: &AdminAccess) -> AdminResult<Vec<ConnectionPolicy>> {
    project_only(access, REFUSAL)?;
    Ok(store.connection_policies().await?)
}

/// Creates a connections policy (`existing`: None) or replaces one; returns (before, after).
pub async fn save_policy(
    store: &Store,
    access: &AdminAccess,
    existing: Option<&str>,
    draft: &ConnectionPolicyDraft,
    now: UnixMillis,
) -> AdminResult<(Option<ConnectionPolicy>, ConnectionPolicy)> {
    project_only(access, REFUSAL)?;
    let before = match existing {
        Some(id) => Some(
            store
                .connection_policies()
                .await?
                .into_iter()
                .find(|p| p.id == id)
                .ok_or(AdminError::NotFound("No connections policy has this id."))?,
        ),
        None => None,
    };
    let id = before
        .as_ref()
        .map(|p| p.id.clone())
        .unwrap_or_else(|| format!("cpol_{}", uuid::Uuid::now_v7().simple()));
    let policy =
        validate_policy(draft, &provider_keys(store).await?, id).map_err(AdminError::Invalid)?;
    store.put_connection_policy(&policy, now).await?;
    Ok((before, policy))
}

pub async fn delete_policy(
    store: &Store,
    access: &AdminAccess,
    id: &str,
) -> AdminResult<ConnectionPolicy> {
    project_only(access, REFUSAL)?;
    let policy = store
        .connection_policies()
        .await?
        .into_iter()
        .find(|p| p.id == id)
        .ok_or(AdminError::NotFound("No connections policy has this id."))?;
    store.delete_connection_policy(id).await?;
    Ok(policy)
}

async fn agent_id(store: &Store, id: &str) -> AdminResult<AgentId> {
    let id = AgentId::from_string(id);
    store
        .agent(&id)
        .await?
        .ok_or(AdminError::NotFound("No agent has this id."))?;
    Ok(id)
}

/// An agent's place in the vault: whether it may exchange people's tokens for their
/// connections (an MCP server's back end), and what its own machine tokens may get.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct AgentVault {
    /// May use RFC 8693 token exchange (confidential agents an admin made only).
    #[serde(default)]
    pub token_exchange: bool,
    /// Provider id or slug → the provider scopes its machine tokens may get.
    #[serde(default)]
    pub allowance: AgentConnectionAllowance,
}

/// An agent's vault settings.
pub async fn agent_vault(
    store: &Store,
    access: &AdminAccess,
    agent: &str,
) -> AdminResult<AgentVault> {
    project_only(access, REFUSAL)?;
    let id = agent_id(store, agent).await?;
    let agent = store
        .agent(&id)
        .await?
        .ok_or(AdminError::NotFound("No agent has this id."))?;
    Ok(AgentVault {
        token_exchange: agent.grant_types.iter().any(|g| g == GRANT_TYPE),
        allowance: store.agent_connection_allowance(id.as_str()).await?,
    })
}

/// Replaces an agent's vault settings; returns (before, after).
pub async fn set_agent_vault(
    store: &Store,
    access: &AdminAccess,
    agent: &str,
    wanted: &AgentVault,
    now: UnixMillis,
) -> AdminResult<(AgentVault, AgentVault)> {
    let before = agent_vault(store, access, agent).await?;
    let id = agent_id(store, agent).await?;
    let Some(stored) = store.agent(&id).await? else {
        return Err(AdminError::NotFound("No agent has this id."));
    };
    if wanted.token_exchange
        && (stored.client_type != ClientType::Confidential
            || stored.trust_level != TrustLevel::Admin)
    {
        return Err(invalid(
            "token_exchange",
            "Only a confidential agent an admin made (an MCP server's back end) may exchange tokens.",
        ));
    }
    let allowance = checked_allowance(store, &wanted.allowance).await?;
    let mut grant_types: Vec<String> = stored
        .grant_types
        .iter()
        .filter(|g| *g != GRANT_TYPE)
        .cloned()
        .collect();
    if wanted.token_exchange {
        grant_types.push(GRANT_TYPE.to_owned());
    }
    if grant_types != stored.grant_types {
        store.set_agent_grant_types(&id, &grant_types, now).await?;
    }
    store
        .replace_agent_connection_allowance(id.as_str(), &allowance)
        .await?;
    let after = AgentVault {
        token_exchange: wanted.token_exchange,
        allowance,
    };
    Ok((before, after))
}

/// An allowance with provider slugs resolved to ids and every scope checked.
async fn checked_allowance(
    store: &Store,
    wanted: &AgentConnectionAllowance,
) -> AdminResult<AgentConnectionAllowance> {
    let providers = provider_keys(store).await?;
    let mut allowance = AgentConnectionAllowance::new();
    for (key, scopes) in wanted {
        let Some((provider_id, known)) = providers.get(key) else {
            return Err(invalid(
                &format!("allowance.{key}"),
                "No connection provider is this.",
            ));
        };
        let scopes = known_scopes(scopes, known).map_err(|unknown| {
            invalid(
                &format!("allowance.{key}"),
                format!("This provider has no scope {}.", unknown.join(", ")),
            )
        })?;
        allowance.insert(provider_id.clone(), scopes);
    }
    Ok(allowance)
}

/// The tenant (by id or slug) or agent `owner` names, checked to exist, with its id.
async fn shared_owner(store: &Store, access: &AdminAccess, owner: &Owner) -> AdminResult<Owner> {
    match owner.kind {
        OwnerKind::Tenant => {
            let tenant = super::tenants::find(store, access, &owner.id).await?;
            Ok(Owner::new(OwnerKind::Tenant, tenant.id.as_str()))
        }
        OwnerKind::Agent => Ok(Owner::new(
            OwnerKind::Agent,
            agent_id(store, &owner.id).await?.as_str(),
        )),
        OwnerKind::User => Err(AdminError::Forbidden(
            "A person's own connection is theirs to make: they connect it from their account page.",
        )),
    }
}

/// Stores an API key for a tenant or an agent (an API-key provider only).
pub async fn put_shared_key(
    store: &Store,
    access: &AdminAccess,
    master: &MasterKey,
    provider_key: &str,
    owner: &Owner,
    api_key: &str,
    now: UnixMillis,
) -> AdminResult<Connection> {
    let (provider, _) = provider(store, access, provider_key).await?;
    let owner = shared_owner(store, access, owner).await?;
    if provider.kind != ProviderKind::ApiKey {
        return Err(invalid(
            "api_key",
            "An OAuth 2.0 provider is connected through its sign-in, not with a key.",
        ));
    }
    store_api_key(store, master, &provider, &owner, api_key, now).await
}

/// Seals and stores `api_key` as `owner`'s connection to `provider`.
pub async fn store_api_key(
    store: &Store,
    master: &MasterKey,
    provider: &ConnectionProvider,
    owner: &Owner,
    api_key: &str,
    now: UnixMillis,
) -> AdminResult<Connection> {
    let key = api_key.trim();
    if key.is_empty() || key.len() > 4096 || key.chars().any(char::is_control) {
        return Err(invalid("api_key", "Paste the key (up to 4096 characters)."));
    }
    let tokens = VaultTokens {
        access_token: key.to_owned(),
        refresh_token: None,
    };
    let plain = serde_json::to_vec(&tokens).map_err(crate::CoreError::from)?;
    let sealed = master.seal_envelope(&plain, &seal_context(&provider.id, owner))?;
    let sealed = SealedTokens {
        sealed: &sealed,
        scopes: &[],
        expires_at: None,
        refreshable: false,
    };
    Ok(store
        .put_connection(&provider.id, owner, &sealed, now)
        .await?)
}

/// Deletes a tenant's or an agent's connection to a provider.
pub async fn delete_shared(
    store: &Store,
    access: &AdminAccess,
    provider_key: &str,
    owner: &Owner,
) -> AdminResult<Connection> {
    let (provider, _) = provider(store, access, provider_key).await?;
    let owner = shared_owner(store, access, owner).await?;
    store
        .delete_connection(&provider.id, &owner)
        .await?
        .ok_or(AdminError::NotFound("This owner has no such connection."))
}
