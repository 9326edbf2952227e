//! Admins' policies: which scopes of which MCP server a person (and the agent acting for
//! them) may be granted. A policy is a list of AND-ed conditions and the scopes it allows.
//!
//! The rule, per MCP server:
//! - while no policy allows anything on a server, the server is *ungoverned*: every scope the
//!   agent may ask for stays available (a fresh hub works before anyone writes a policy);
//! - once a policy names the server, a scope is granted only when at least one policy whose
//!   conditions all hold allows it. Policies only ever allow; there is no deny rule to order.
//!
//! Evaluation is a pure function over the policies and a [`Subject`]: no store, no clock.

mod condition;
pub mod draft;
pub mod simulate;

use std::collections::BTreeMap;

use serde::{Deserialize, Serialize};

pub use condition::{Condition, ConditionKey, Operator, Subject};

use crate::model::agent::Agent;
use crate::model::tenant::Membership;
use crate::oauth::scope::ScopeSet;

/// What a policy allows on one MCP server.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct Allow {
    pub mcp_server_id: String,
    pub scopes: Vec<String>,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct Policy {
    pub id: String,
    pub name: String,
    #[serde(default)]
    pub description: String,
    pub conditions: Vec<Condition>,
    pub allows: Vec<Allow>,
}

impl Policy {
    fn allows_on<'a>(&'a self, server_id: &'a str) -> impl Iterator<Item = &'a str> + 'a {
        self.allows
            .iter()
            .filter(move |a| a.mcp_server_id == server_id)
            .flat_map(|a| a.scopes.iter().map(String::as_str))
    }

    fn names_server(&self, server_id: &str) -> bool {
        self.allows.iter().any(|a| a.mcp_server_id == server_id)
    }

    /// Whether every condition holds for `subject` (no conditions: everyone).
    pub fn matches(&self, subject: &Subject) -> bool {
        self.conditions.iter().all(|c| c.holds(subject))
    }
}

/// The subject of an authorization: the person (roles and permissions from their membership of
/// `tenant_id`, every tenant they belong to), the agent, and the claims of the token being
/// issued. Built the same way for the journey and the simulator.
pub fn subject_of<'a>(
    memberships: impl IntoIterator<Item = &'a Membership>,
    tenant_id: &str,
    user_id: &str,
    agent: &Agent,
    resource: &str,
) -> Subject {
    let memberships: Vec<&Membership> = memberships.into_iter().collect();
    let membership = memberships
        .iter()
        .find(|m| m.tenant_id.as_str() == tenant_id);
    Subject {
        user_roles: membership.map(|m| m.roles.clone()).unwrap_or_default(),
        user_tenant_ids: memberships
            .iter()
            .map(|m| m.tenant_id.to_string())
            .collect(),
        user_permissions: membership
            .map(|m| m.permissions.clone())
            .unwrap_or_default(),
        jwt_claims: [
            ("tenant", tenant_id),
            ("sub", user_id),
            ("client_id", agent.id.as_str()),
            ("aud", resource),
        ]
        .into_iter()
        .map(|(k, v)| (k.to_owned(), vec![v.to_owned()]))
        .collect(),
        client_tags: agent.tags.clone(),
        client_name: agent.name.clone(),
        client_trust_level: agent.trust_level.as_str().to_owned(),
    }
}

/// Why a requested scope is not available.
pub const NOT_ALLOWED_REASON: &str = "No policy of this hub allows it for you with this agent.";

/// The outcome for one request: what may be granted, what may not and why, and which
/// policies decided (recorded in the audit trail).
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Evaluation {
    pub allowed: ScopeSet,
    /// Requested scopes no matching policy allows, with the reason shown to the person.
    pub denied: BTreeMap<String, String>,
    /// Ids of the policies whose conditions held and that allow something requested.
    pub matched: Vec<String>,
    /// Whether any policy names this server (false: every scope is available).
    pub governed: bool,
}

/// Filters `requested` on `server_id` through `policies` for `subject`.
pub fn evaluate(
    policies: &[Policy],
    subject: &Subject,
    server_id: &str,
    requested: &ScopeSet,
) -> Evaluation {
    // Identity scopes (openid, profile, email) describe the person to the agent, not access
    // to the server: policies govern the server's own scopes only.
    let identity = ScopeSet::from_tokens(
        requested
            .iter()
            .filter(|s| crate::oauth::authorize::IDENTITY_SCOPES.contains(s)),
    );
    let governing: Vec<&Policy> = policies
        .iter()
        .filter(|p| p.names_server(server_id))
        .collect();
    if governing.is_empty() {
        return Evaluation {
            allowed: requested.clone(),
            ..Evaluation::default()
        };
    }
    let mut allowed_tokens: Vec<&str> = Vec::new();
    let mut matched = Vec::new();
    for policy in governing.iter().filter(|p| p.matches(subject)) {
        let mut useful = false;
        for scope in policy.allows_on(server_id) {
            if requested.contains(scope) && !identity.contains(scope) {
                useful = true;
                allowed_tokens.push(scope);
            }
        }
        if useful {
            matched.push(policy.id.clone());
        }
    }
    let allowed = ScopeSet::from_tokens(
        requested
            .iter()
            .filter(|s| allowed_tokens.contains(s) || identity.contains(s)),
    );
    let denied = requested
        .missing_from(&allowed)
        .iter()
        .map(|s| (s.to_owned(), NOT_ALLOWED_REASON.to_owned()))
        .collect();
    Evaluation {
        allowed,
        denied,
        matched,
        governed: true,
    }
}

#[cfg(test)]
mod tests;
