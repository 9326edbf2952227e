//! Policies: list, create (validated field by field), delete, and the simulator.

use std::collections::BTreeMap;

use serde::{Deserialize, Serialize};

use super::{invalid, project_only, AdminError, AdminResult};
use crate::access::AdminAccess;
use crate::clock::UnixMillis;
use crate::ids::{AgentId, UserId};
use crate::model::user::normalize_email;
use crate::oauth::scope::ScopeSet;
use crate::policy::draft::{validate, PolicyDraft};
use crate::policy::simulate::{simulate, Simulation};
use crate::policy::{subject_of, Policy};
use crate::store::Store;

const REFUSAL: &str = "Only project admins manage policies.";

/// Every MCP server's id with its scope names.
pub async fn server_scopes(store: &Store) -> AdminResult<BTreeMap<String, Vec<String>>> {
    let mut map = BTreeMap::new();
    for server in store.list_mcp_servers().await? {
        let scopes = store.scopes_of(&server.id).await?;
        map.insert(
            server.id.as_str().to_owned(),
            scopes.into_iter().map(|s| s.name).collect(),
        );
    }
    Ok(map)
}

/// One page of policies in creation order, and the cursor of the next page.
pub async fn list(
    store: &Store,
    access: &AdminAccess,
    cursor: &str,
    limit: i64,
) -> AdminResult<(Vec<Policy>, Option<String>)> {
    project_only(access, REFUSAL)?;
    let limit = limit.clamp(1, super::agents::MAX_PAGE);
    let after = Some(cursor.trim()).filter(|c| !c.is_empty());
    let mut page = store.policies_page(after, limit + 1).await?;
    let n = usize::try_from(limit).unwrap_or(usize::MAX);
    let more = page.len() > n;
    page.truncate(n);
    let next = if more {
        page.last().map(|p| p.id.clone())
    } else {
        None
    };
    Ok((page, next))
}

/// Validates and stores `draft`; it takes effect at the next authorization.
pub async fn create(
    store: &Store,
    access: &AdminAccess,
    draft: &PolicyDraft,
    now: UnixMillis,
) -> AdminResult<Policy> {
    project_only(access, REFUSAL)?;
    let servers = server_scopes(store).await?;
    let policy =
        validate(draft, &servers, uuid::Uuid::now_v7().to_string()).map_err(AdminError::Invalid)?;
    store.insert_policy(&policy, now).await?;
    Ok(policy)
}

/// Deletes a policy; returns it as it was (for the audit trail's "before").
pub async fn delete(store: &Store, access: &AdminAccess, id: &str) -> AdminResult<Policy> {
    project_only(access, REFUSAL)?;
    let before = store
        .policy(id)
        .await?
        .ok_or(AdminError::NotFound("No policy has this id."))?;
    store.delete_policy(id).await?;
    Ok(before)
}

/// What the simulator is asked.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct SimulationRequest {
    /// The person: email or id.
    pub user: String,
    /// The tenant: slug or id.
    pub tenant: String,
    /// The agent's client id.
    pub agent: String,
    /// The MCP server: slug or id.
    pub mcp_server: String,
    /// Space-separated.
    pub scopes: String,
    /// A policy to preview beside the stored ones.
    #[serde(default)]
    pub draft: Option<PolicyDraft>,
}

/// Runs the simulator: the same subject an authorization would build, the same evaluation.
pub async fn simulate_request(
    store: &Store,
    access: &AdminAccess,
    request: &SimulationRequest,
) -> AdminResult<Simulation> {
    project_only(access, REFUSAL)?;
    let user = match normalize_email(&request.user) {
        Some(email) => store.user_by_email(&email).await?,
        None => {
            store
                .user_by_id(&UserId::from_string(request.user.trim()))
                .await?
        }
    }
    .ok_or_else(|| invalid("user", "No user has this email or id."))?;
    let memberships = store.memberships_of(&user.id).await?;
    let tenant = request.tenant.trim();
    let (membership, _) = memberships
        .iter()
        .find(|(m, t)| t.slug == tenant || m.tenant_id.as_str() == tenant)
        .ok_or_else(|| invalid("tenant", "This user is not a member of that tenant."))?;
    let agent = store
        .agent(&AgentId::from_string(request.agent.trim()))
        .await?
        .ok_or_else(|| invalid("agent", "No agent has this client id."))?;
    let wanted = request.mcp_server.trim();
    let server = match store.mcp_server_by_slug(wanted).await? {
        Some(server) => server,
        None => store
            .list_mcp_servers()
            .await?
            .into_iter()
            .find(|s| s.id.as_str() == wanted)
            .ok_or_else(|| invalid("mcp_server", "No MCP server has this slug or id."))?,
    };
    let requested =
        ScopeSet::parse(&request.scopes).map_err(|e| invalid("scopes", e.description))?;
    if requested.is_empty() {
        return Err(invalid("scopes", "Name at least one scope."));
    }
    // No allowance stored: every scope of the server (a self-registered agent's default).
    let allowance = match store.agent_allowance(&agent.id, &server.id).await? {
        Some(list) => ScopeSet::from_tokens(list),
        None => ScopeSet::from_tokens(
            store
                .scopes_of(&server.id)
                .await?
                .into_iter()
                .map(|s| s.name),
        ),
    };
    let draft = match &request.draft {
        Some(draft) => {
            let servers = server_scopes(store).await?;
            Some(validate(draft, &servers, "draft".into()).map_err(|errors| {
                AdminError::Invalid(
                    errors
                        .into_iter()
                        .map(|(k, v)| (format!("draft.{k}"), v))
                        .collect(),
                )
            })?)
        }
        None => None,
    };
    let subject = subject_of(
        memberships.iter().map(|(m, _)| m),
        membership.tenant_id.as_str(),
        user.id.as_str(),
        &agent,
        &server.resource_url,
    );
    let policies = store.policies().await?;
    Ok(simulate(
        &policies,
        draft.as_ref(),
        &subject,
        server.id.as_str(),
        &requested,
        &allowance,
    ))
}
