//! Who a valid token speaks for, as the guard hands it to the MCP server's tools.

use std::collections::BTreeSet;

use serde::Deserialize;

/// The claims of a valid Mandate access token that a tool needs. Inserted into the request's
/// extensions by [`GuardLayer`](crate::GuardLayer).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Principal {
    /// The person (or, for client_credentials, the agent itself).
    pub subject: String,
    /// The agent acting.
    pub client_id: String,
    /// The organization the person chose for this agent.
    pub tenant: Option<String>,
    pub scopes: BTreeSet<String>,
    /// The token's id, for logs (never log the token).
    pub token_id: String,
    /// Unix seconds.
    pub expires_at: i64,
}

impl Principal {
    pub fn has_scope(&self, scope: &str) -> bool {
        self.scopes.contains(scope)
    }
}

/// The access token claims the guard reads (RFC 9068 §2.2, plus Mandate's `tenant`).
#[derive(Debug, Deserialize)]
pub(crate) struct Claims {
    pub sub: String,
    pub client_id: String,
    #[serde(default)]
    pub scope: String,
    pub exp: i64,
    pub jti: String,
    #[serde(default)]
    pub tenant: Option<String>,
}

impl From<Claims> for Principal {
    fn from(c: Claims) -> Self {
        Self {
            subject: c.sub,
            client_id: c.client_id,
            tenant: c.tenant,
            scopes: c.scope.split_whitespace().map(str::to_owned).collect(),
            token_id: c.jti,
            expires_at: c.exp,
        }
    }
}
