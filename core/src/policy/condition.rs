//! Policy conditions: a key naming a fact about the person, the agent or the token, an
//! operator, and values. Every fact is read as a set of strings, so one set of operator rules
//! serves both single facts (`client.name`) and lists (`user.roles`):
//!
//! | operator   | holds when (A = the fact's values, V = the condition's values) |
//! |------------|-----------------------------------------------------------------|
//! | `Equal`    | A and V are the same set                                        |
//! | `NotEqual` | they are not                                                    |
//! | `In`       | A is non-empty and every value of A is in V                     |
//! | `NotIn`    | no value of A is in V                                           |
//! | `Contains` | every value of V is in A                                        |
//!
//! A fact the subject does not have (e.g. a missing JWT claim) is the empty set.

use std::collections::{BTreeMap, BTreeSet};

use serde::{Deserialize, Serialize};

use crate::error::{CoreError, CoreResult};

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub enum Operator {
    Equal,
    NotEqual,
    In,
    NotIn,
    Contains,
}

impl Operator {
    pub const ALL: [Operator; 5] = [
        Operator::Equal,
        Operator::NotEqual,
        Operator::In,
        Operator::NotIn,
        Operator::Contains,
    ];
}

/// The facts a condition can name.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum ConditionKey {
    UserRoles,
    UserTenantIds,
    UserPermissions,
    JwtClaim(String),
    ClientTags,
    ClientName,
    ClientTrustLevel,
}

impl ConditionKey {
    pub fn parse(key: &str) -> CoreResult<Self> {
        Ok(match key {
            "user.roles" => Self::UserRoles,
            "user.tenantIds" => Self::UserTenantIds,
            "user.permissions" => Self::UserPermissions,
            "client.tags" => Self::ClientTags,
            "client.name" => Self::ClientName,
            "client.trustLevel" => Self::ClientTrustLevel,
            other => match other.strip_prefix("jwtClaims.") {
                Some(name) if !name.is_empty() => Self::JwtClaim(name.to_owned()),
                _ => {
                    return Err(CoreError::Invalid(format!(
                        "unknown condition key {other:?}: use user.roles, user.tenantIds, \
                         user.permissions, jwtClaims.<name>, client.tags, client.name or \
                         client.trustLevel"
                    )))
                }
            },
        })
    }
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct Condition {
    pub key: String,
    pub operator: Operator,
    pub values: Vec<String>,
}

impl Condition {
    /// Refuses unknown keys and empty value lists.
    pub fn validate(&self) -> CoreResult<()> {
        ConditionKey::parse(&self.key)?;
        if self.values.iter().all(|v| v.trim().is_empty()) {
            return Err(CoreError::Invalid(format!(
                "condition on {} needs at least one value",
                self.key
            )));
        }
        Ok(())
    }

    /// Whether the condition holds; an unknown key never holds (validation keeps them out).
    pub fn holds(&self, subject: &Subject) -> bool {
        let Ok(key) = ConditionKey::parse(&self.key) else {
            return false;
        };
        let fact = subject.fact(&key);
        let values: BTreeSet<&str> = self.values.iter().map(String::as_str).collect();
        match self.operator {
            Operator::Equal => fact == values,
            Operator::NotEqual => fact != values,
            Operator::In => !fact.is_empty() && fact.is_subset(&values),
            Operator::NotIn => fact.is_disjoint(&values),
            Operator::Contains => values.is_subset(&fact),
        }
    }
}

/// Who asks: the person (in the chosen tenant), the agent, and the token's claims.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Subject {
    pub user_roles: Vec<String>,
    pub user_tenant_ids: Vec<String>,
    pub user_permissions: Vec<String>,
    /// Claims of the token being issued: a string or an array of strings each.
    pub jwt_claims: BTreeMap<String, Vec<String>>,
    pub client_tags: Vec<String>,
    pub client_name: String,
    pub client_trust_level: String,
}

impl Subject {
    fn fact(&self, key: &ConditionKey) -> BTreeSet<&str> {
        fn list(v: &[String]) -> BTreeSet<&str> {
            v.iter().map(String::as_str).collect()
        }
        match key {
            ConditionKey::UserRoles => list(&self.user_roles),
            ConditionKey::UserTenantIds => list(&self.user_tenant_ids),
            ConditionKey::UserPermissions => list(&self.user_permissions),
            ConditionKey::ClientTags => list(&self.client_tags),
            ConditionKey::ClientName => BTreeSet::from([self.client_name.as_str()]),
            ConditionKey::ClientTrustLevel => BTreeSet::from([self.client_trust_level.as_str()]),
            ConditionKey::JwtClaim(name) => self
                .jwt_claims
                .get(name)
                .map(|v| v.iter().map(String::as_str).collect())
                .unwrap_or_default(),
        }
    }
}
