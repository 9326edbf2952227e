//! Tenants (organisations) and the memberships that put users in them.

use serde::{Deserialize, Serialize};

use crate::clock::UnixMillis;
use crate::ids::{TenantId, UserId};

/// An organisation an agent acts in; its id is the token's `tenant` claim.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct Tenant {
    pub id: TenantId,
    /// URL-safe short name, unique.
    pub slug: String,
    pub name: String,
    /// Email domains that belong to this tenant (for hints and SSO routing).
    pub email_domains: Vec<String>,
    pub logo_url: Option<String>,
    pub created_at: UnixMillis,
}

/// A user's place in a tenant: roles and permissions feed the policy engine.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Membership {
    pub tenant_id: TenantId,
    pub user_id: UserId,
    pub roles: Vec<String>,
    pub permissions: Vec<String>,
    /// May manage this tenant's users, memberships and audit slice.
    pub is_tenant_admin: bool,
    pub created_at: UnixMillis,
}
