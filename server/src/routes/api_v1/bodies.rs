//! The admin API's response bodies that are not a core type as is: lists with their cursor,
//! a server with its links, credentials shown once, and the error envelope. Handlers answer
//! with these types, so the OpenAPI document describes exactly what is sent.

use std::collections::BTreeMap;

use mandate_core::admin::agents::AgentDetail;
use mandate_core::admin::mcp_servers::{ServerLinks, ServerWithScopes};
use mandate_core::model::{Agent, McpServer};
use mandate_core::policy::Policy;
use serde::Serialize;
use utoipa::ToSchema;

#[derive(Serialize, ToSchema)]
pub struct McpServerList {
    pub mcp_servers: Vec<McpServer>,
}

/// A server, its scopes, and where clients find its authorization server.
#[derive(Serialize, ToSchema)]
pub struct McpServerView {
    #[serde(flatten)]
    pub server: ServerWithScopes,
    pub links: ServerLinks,
}

#[derive(Serialize, ToSchema)]
pub struct AgentList {
    pub agents: Vec<Agent>,
    /// Pass as `cursor` for the next page; absent on the last page.
    pub next_cursor: Option<String>,
}

/// A machine agent just created: its secret is in this response only.
#[derive(Serialize, ToSchema)]
pub struct CreatedAgent {
    #[serde(flatten)]
    pub detail: AgentDetail,
    pub client_secret: String,
}

/// A rotated client secret, shown this once; the old one no longer works.
#[derive(Serialize, ToSchema)]
pub struct RotatedSecret {
    pub client_id: String,
    pub client_secret: String,
}

#[derive(Serialize, ToSchema)]
pub struct TenantList {
    pub tenants: Vec<mandate_core::model::Tenant>,
}

/// Where a person chooses their password: send it to them (it works once, for 7 days).
#[derive(Serialize, ToSchema)]
pub struct PasswordLink {
    pub user_id: String,
    pub url: String,
    pub expires_in_days: i64,
}

#[derive(Serialize, ToSchema)]
pub struct PolicyList {
    pub policies: Vec<Policy>,
    /// Pass as `cursor` for the next page; absent on the last page.
    pub next_cursor: Option<String>,
}

/// A page of audit events, newest first.
#[derive(Serialize, ToSchema)]
pub struct AuditPage {
    /// Each event as the audit trail stores it (hash-chained; see `GET /api/v1/audit/export`).
    pub events: Vec<serde_json::Value>,
    pub next_cursor: Option<String>,
}

/// Every error: `{"error": {"code", "message", "fields"?}}`.
#[derive(Serialize, ToSchema)]
pub struct ErrorEnvelope {
    pub error: ErrorBody,
}

#[derive(Serialize, ToSchema)]
pub struct ErrorBody {
    /// `unauthorized`, `forbidden`, `bad_request`, `validation_failed`, `not_found`, `internal`.
    pub code: &'static str,
    pub message: String,
    /// With `validation_failed`: what is wrong with each field.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub fields: Option<BTreeMap<String, String>>,
}
