//! Declarative configuration: the deployment's tenants, MCP servers (with scopes), policies and
//! admin-made agents as one TOML document. `export` writes what is stored; `plan` compares a
//! document with what is stored (pure); `apply` makes the plan's changes. Things the document
//! does not name are left alone; secrets are never exported (a confidential agent created by
//! `apply` gets a new secret, printed once).

mod apply;
mod plan;

use std::collections::BTreeMap;

use serde::{Deserialize, Serialize};

pub use apply::{apply, Applied};
pub use plan::{plan, Change, ChangeKind, Plan, Snapshot};

use super::mcp_servers::draft::McpServerDraft;
use crate::error::CoreResult;
use crate::policy::Condition;
use crate::store::Store;

/// The whole document.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct ConfigFile {
    // Empty lists are left out, so a document can be extended by appending tables.
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub tenants: Vec<TenantConfig>,
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub mcp_servers: Vec<McpServerDraft>,
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub policies: Vec<PolicyConfig>,
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub agents: Vec<AgentConfig>,
}

/// A tenant, by slug.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct TenantConfig {
    pub slug: String,
    pub name: String,
    pub email_domains: Vec<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub logo_url: Option<String>,
}

/// A policy, by name; servers named by slug.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct PolicyConfig {
    pub name: String,
    pub description: String,
    pub conditions: Vec<Condition>,
    pub allows: Vec<AllowConfig>,
}

#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct AllowConfig {
    /// The MCP server's slug.
    pub mcp_server: String,
    pub scopes: Vec<String>,
}

/// An admin-made agent, by client id (self-registered ones are not configuration).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct AgentConfig {
    pub client_id: String,
    pub name: String,
    /// `public` (authorization code + PKCE) or `confidential` (a secret; client_credentials).
    pub client_type: String,
    /// `web` or `native` (RFC 7591).
    pub application_type: String,
    pub redirect_uris: Vec<String>,
    pub grant_types: Vec<String>,
    pub tags: Vec<String>,
    /// `admin` or `verified`.
    pub trust_level: String,
    /// Server slug → scopes (`["*"]`: every scope). Absent: every scope of every server;
    /// present: servers left out allow nothing.
    pub allowances: Option<BTreeMap<String, Vec<String>>>,
}

impl Default for AgentConfig {
    fn default() -> Self {
        Self {
            client_id: String::new(),
            name: String::new(),
            client_type: "public".into(),
            application_type: "web".into(),
            redirect_uris: Vec::new(),
            grant_types: Vec::new(),
            tags: Vec::new(),
            trust_level: "admin".into(),
            allowances: None,
        }
    }
}

/// Reads a document; the error names the line and what is wrong.
pub fn parse(text: &str) -> Result<ConfigFile, String> {
    toml::from_str(text).map_err(|e| e.to_string())
}

/// Writes a document.
pub fn render(file: &ConfigFile) -> Result<String, String> {
    toml::to_string_pretty(file).map_err(|e| e.to_string())
}

/// The stored configuration as a document.
pub async fn export(store: &Store) -> CoreResult<ConfigFile> {
    Ok(Snapshot::load(store).await?.as_file())
}
