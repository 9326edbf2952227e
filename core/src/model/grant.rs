//! A person's consent to an agent, per tenant and MCP server.

use serde::{Deserialize, Serialize};

use crate::clock::UnixMillis;

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Grant {
    pub id: String,
    pub user_id: String,
    pub agent_id: String,
    pub tenant_id: String,
    pub mcp_server_id: String,
    pub granted_scopes: Vec<String>,
    pub rejected_scopes: Vec<String>,
    /// Whether a later request for the same or fewer scopes skips the consent screen.
    pub remembered: bool,
    pub created_at: UnixMillis,
    pub updated_at: UnixMillis,
    pub last_used_at: Option<UnixMillis>,
}

/// A grant with the names the account page shows.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct GrantView {
    pub grant: Grant,
    pub agent_name: String,
    pub tenant_name: String,
    pub mcp_server_name: String,
}
