//! Connections policies: the same conditions and operators as MCP policies
//! ([`crate::policy::Condition`]), allowing a provider and the provider scopes a token handed
//! out may carry. Unlike MCP policies, the vault is closed by default: a connection's token
//! leaves only when a policy whose conditions hold names its provider (an MCP server that can
//! act as a person on GitHub is a different matter from one that can list their files).

use std::collections::{BTreeMap, BTreeSet};

use serde::{Deserialize, Serialize};

use crate::policy::{Condition, Subject};

/// What a policy allows on one provider: `scopes` are provider scopes; empty allows the
/// connection with none of them (an API key, or a provider without scopes).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct ConnectionAllow {
    pub provider_id: String,
    #[serde(default)]
    pub scopes: Vec<String>,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct ConnectionPolicy {
    pub id: String,
    pub name: String,
    #[serde(default)]
    pub description: String,
    pub conditions: Vec<Condition>,
    pub allows: Vec<ConnectionAllow>,
}

/// What the policies allow on one provider for one subject.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Allowance {
    /// The provider scopes a token may carry.
    pub scopes: BTreeSet<String>,
    /// Ids of the policies that allowed it (for the audit trail).
    pub matched: Vec<String>,
}

/// The union of what every policy whose conditions all hold for `subject` allows on
/// `provider_id`; `None` when none does (the exchange is refused).
pub fn allowance(
    policies: &[ConnectionPolicy],
    subject: &Subject,
    provider_id: &str,
) -> Option<Allowance> {
    let mut out: Option<Allowance> = None;
    for policy in policies {
        let allows: Vec<&ConnectionAllow> = policy
            .allows
            .iter()
            .filter(|a| a.provider_id == provider_id)
            .collect();
        if allows.is_empty() || !policy.conditions.iter().all(|c| c.holds(subject)) {
            continue;
        }
        let entry = out.get_or_insert_with(Allowance::default);
        entry.matched.push(policy.id.clone());
        for allow in allows {
            entry.scopes.extend(allow.scopes.iter().cloned());
        }
    }
    out
}

/// An agent's own connection allowance (for its machine tokens): provider id → scopes.
pub type AgentConnectionAllowance = BTreeMap<String, Vec<String>>;

/// What an agent's allowance lets its machine tokens get from `provider_id`.
pub fn agent_allowance(
    allowance: &AgentConnectionAllowance,
    provider_id: &str,
) -> Option<Allowance> {
    allowance.get(provider_id).map(|scopes| Allowance {
        scopes: scopes.iter().cloned().collect(),
        matched: Vec::new(),
    })
}
