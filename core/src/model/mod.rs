//! Plain data: what Mandate stores, without how. Store modules map rows to these types.

pub mod agent;
pub mod grant;
pub mod mcp_server;
pub mod tenant;
pub mod user;

pub use agent::{Agent, AgentKind, ClientType, TrustLevel};
pub use grant::{Grant, GrantView};
pub use mcp_server::{McpServer, Scope, TenantConsent};
pub use tenant::{Membership, Tenant};
pub use user::User;
