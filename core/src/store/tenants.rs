//! Tenants and memberships.

use sqlx::FromRow;

use super::{flag, json, ResultExt, Store};
use crate::clock::UnixMillis;
use crate::error::CoreResult;
use crate::ids::{TenantId, UserId};
use crate::model::{Membership, Tenant};

#[derive(FromRow)]
struct TenantRow {
    id: String,
    slug: String,
    name: String,
    email_domains: String,
    logo_url: Option<String>,
    created_at: i64,
}

impl TryFrom<TenantRow> for Tenant {
    type Error = crate::error::CoreError;
    fn try_from(r: TenantRow) -> CoreResult<Self> {
        Ok(Tenant {
            id: TenantId::from_string(r.id),
            slug: r.slug,
            name: r.name,
            email_domains: json::decode(&r.email_domains)?,
            logo_url: r.logo_url,
            created_at: r.created_at,
        })
    }
}

#[derive(FromRow)]
struct MembershipRow {
    tenant_id: String,
    user_id: String,
    roles: String,
    permissions: String,
    is_tenant_admin: i64,
    created_at: i64,
}

impl TryFrom<MembershipRow> for Membership {
    type Error = crate::error::CoreError;
    fn try_from(r: MembershipRow) -> CoreResult<Self> {
        Ok(Membership {
            tenant_id: TenantId::from_string(r.tenant_id),
            user_id: UserId::from_string(r.user_id),
            roles: json::decode(&r.roles)?,
            permissions: json::decode(&r.permissions)?,
            is_tenant_admin: r.is_tenant_admin != 0,
            created_at: r.created_at,
        })
    }
}

#[derive(FromRow)]
struct MembershipWithTenantRow {
    tenant_id: String,
    user_id: String,
    roles: String,
    permissions: String,
    is_tenant_admin: i64,
    joined_at: i64,
    slug: String,
    name: String,
    email_domains: String,
    logo_url: Option<String>,
    created_at: i64,
}

impl MembershipWithTenantRow {
    fn split(self) -> CoreResult<(Membership, Tenant)> {
        let tenant = Tenant::try_from(TenantRow {
            id: self.tenant_id.clone(),
            slug: self.slug,
            name: self.name,
            email_domains: self.email_domains,
            logo_url: self.logo_url,
            created_at: self.created_at,
        })?;
        let membership = Membership::try_from(MembershipRow {
            tenant_id: self.tenant_id,
            user_id: self.user_id,
            roles: self.roles,
            permissions: self.permissions,
            is_tenant_admin: self.is_tenant_admin,
            created_at: self.joined_at,
        })?;
        Ok((membership, tenant))
    }
}

const TENANT_COLUMNS: &str = "id, slug, name, email_domains, logo_url, created_at";

impl Store {
    /// Inserts a tenant. `AlreadyExists` if the slug is taken.
    pub async fn insert_tenant(&self, tenant: &Tenant) -> CoreResult<()> {
        sqlx::query(
            "INSERT INTO tenants (id, slug, name, email_domains, logo_url, created_at, updated_at)
             VALUES ($1, $2, $3, $4, $5, $6, $6)",
        )
        .bind(tenant.id.as_str())
        .bind(&tenant.slug)
        .bind(&tenant.name)
        .bind(json::encode(&tenant.email_domains)?)
        .bind(tenant.logo_url.as_deref())
        .bind(tenant.created_at)
        .execute(&self.pool)
        .await
        .on_unique("a tenant with this slug")?;
        Ok(())
    }

    pub async fn tenant_by_slug(&self, slug: &str) -> CoreResult<Option<Tenant>> {
        sqlx::query_as::<_, TenantRow>(&format!(
            "SELECT {TENANT_COLUMNS} FROM tenants WHERE slug = $1"
        ))
        .bind(slug)
        .fetch_optional(&self.pool)
        .await?
        .map(Tenant::try_from)
        .transpose()
    }

    /// Renames a tenant and replaces its email domains and logo; returns whether it exists.
    pub async fn update_tenant(
        &self,
        slug: &str,
        name: &str,
        email_domains: &[String],
        logo_url: Option<&str>,
    ) -> CoreResult<bool> {
        let done = sqlx::query(
            "UPDATE tenants SET name = $2, email_domains = $3, logo_url = $4 WHERE slug = $1",
        )
        .bind(slug)
        .bind(name)
        .bind(json::encode(email_domains)?)
        .bind(logo_url)
        .execute(&self.pool)
        .await?;
        Ok(done.rows_affected() > 0)
    }

    /// Every tenant, by name.
    pub async fn list_tenants(&self) -> CoreResult<Vec<Tenant>> {
        sqlx::query_as::<_, TenantRow>(&format!(
            "SELECT {TENANT_COLUMNS} FROM tenants ORDER BY name, id"
        ))
        .fetch_all(&self.pool)
        .await?
        .into_iter()
        .map(Tenant::try_from)
        .collect()
    }

    /// Puts `membership.user_id` in `membership.tenant_id`; a no-op if already a member.
    pub async fn add_membership(&self, membership: &Membership) -> CoreResult<()> {
        sqlx::query(
            "INSERT INTO memberships (tenant_id, user_id, roles, permissions, is_tenant_admin, created_at)
             VALUES ($1, $2, $3, $4, $5, $6)
             ON CONFLICT (tenant_id, user_id) DO NOTHING",
        )
        .bind(membership.tenant_id.as_str())
        .bind(membership.user_id.as_str())
        .bind(json::encode(&membership.roles)?)
        .bind(json::encode(&membership.permissions)?)
        .bind(flag(membership.is_tenant_admin))
        .bind(membership.created_at)
        .execute(&self.pool)
        .await?;
        Ok(())
    }

    /// A user's memberships with their tenants, ordered by tenant name.
    pub async fn memberships_of(&self, user: &UserId) -> CoreResult<Vec<(Membership, Tenant)>> {
        let rows = sqlx::query_as::<_, MembershipWithTenantRow>(
            "SELECT m.tenant_id, m.user_id, m.roles, m.permissions, m.is_tenant_admin,
                    m.created_at AS joined_at, t.slug, t.name, t.email_domains, t.logo_url,
                    t.created_at
             FROM memberships m JOIN tenants t ON t.id = m.tenant_id
             WHERE m.user_id = $1 ORDER BY t.name, t.id",
        )
        .bind(user.as_str())
        .fetch_all(&self.pool)
        .await?;
        rows.into_iter()
            .map(MembershipWithTenantRow::split)
            .collect()
    }

    pub async fn count_tenants(&self) -> CoreResult<i64> {
        Ok(sqlx::query_scalar::<_, i64>("SELECT COUNT(*) FROM tenants")
            .fetch_one(&self.pool)
            .await?)
    }
}

/// A new tenant value with the given slug and name, created `now`.
pub fn new_tenant(slug: &str, name: &str, email_domains: &[&str], now: UnixMillis) -> Tenant {
    Tenant {
        id: TenantId::generate(),
        slug: slug.to_owned(),
        name: name.to_owned(),
        email_domains: email_domains.iter().map(|d| (*d).to_owned()).collect(),
        logo_url: None,
        created_at: now,
    }
}
