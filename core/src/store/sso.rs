//! Tenants' single sign-on settings (the client secret sealed under the master key, read only
//! by the sign-in that needs it) and the provider identities linked to users.

use sqlx::FromRow;

use super::{json, Store};
use crate::clock::UnixMillis;
use crate::error::{CoreError, CoreResult};
use crate::tenancy::SsoSettings;

#[derive(FromRow)]
struct SsoRow {
    tenant_id: String,
    issuer_url: String,
    client_id: String,
    scopes: String,
    email_domains: String,
    enforce: i64,
    groups_claim: String,
    role_mapping: String,
    updated_at: i64,
}

impl TryFrom<SsoRow> for SsoSettings {
    type Error = CoreError;
    fn try_from(r: SsoRow) -> CoreResult<Self> {
        Ok(Self {
            tenant_id: r.tenant_id,
            issuer_url: r.issuer_url,
            client_id: r.client_id,
            scopes: json::decode(&r.scopes)?,
            email_domains: json::decode(&r.email_domains)?,
            enforce: r.enforce != 0,
            groups_claim: r.groups_claim,
            role_mapping: json::decode(&r.role_mapping)?,
            updated_at: r.updated_at,
        })
    }
}

const COLUMNS: &str =
    "tenant_id, issuer_url, client_id, scopes, email_domains, enforce, groups_claim,
    role_mapping, updated_at";

impl Store {
    /// Every tenant's SSO settings (a handful of rows: sign-in routes emails with them).
    pub async fn all_sso(&self) -> CoreResult<Vec<SsoSettings>> {
        sqlx::query_as::<_, SsoRow>(&format!(
            "SELECT {COLUMNS} FROM tenant_sso ORDER BY tenant_id"
        ))
        .fetch_all(&self.pool)
        .await?
        .into_iter()
        .map(SsoSettings::try_from)
        .collect()
    }

    /// A tenant's SSO settings and its sealed client secret.
    pub async fn sso_of(&self, tenant_id: &str) -> CoreResult<Option<(SsoSettings, Vec<u8>)>> {
        #[derive(FromRow)]
        struct Row {
            #[sqlx(flatten)]
            settings: SsoRow,
            secret_sealed: Vec<u8>,
        }
        let row = sqlx::query_as::<_, Row>(&format!(
            "SELECT {COLUMNS}, secret_sealed FROM tenant_sso WHERE tenant_id = $1"
        ))
        .bind(tenant_id)
        .fetch_optional(&self.pool)
        .await?;
        row.map(|r| Ok((SsoSettings::try_from(r.settings)?, r.secret_sealed)))
            .transpose()
    }

    /// Creates or replaces a tenant's SSO settings with its sealed secret.
    pub async fn put_sso(&self, settings: &SsoSettings, secret_sealed: &[u8]) -> CoreResult<()> {
        sqlx::query(&format!(
            "INSERT INTO tenant_sso ({COLUMNS}, secret_sealed)
             VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10)
             ON CONFLICT (tenant_id) DO UPDATE SET
                issuer_url = excluded.issuer_url, client_id = excluded.client_id,
                scopes = excluded.scopes, email_domains = excluded.email_domains,
                enforce = excluded.enforce, groups_claim = excluded.groups_claim,
                role_mapping = excluded.role_mapping, updated_at = excluded.updated_at,
                secret_sealed = excluded.secret_sealed"
        ))
        .bind(&settings.tenant_id)
        .bind(&settings.issuer_url)
        .bind(&settings.client_id)
        .bind(json::encode(&settings.scopes)?)
        .bind(json::encode(&settings.email_domains)?)
        .bind(i64::from(settings.enforce))
        .bind(&settings.groups_claim)
        .bind(json::encode(&settings.role_mapping)?)
        .bind(settings.updated_at)
        .bind(secret_sealed.to_vec())
        .execute(&self.pool)
        .await?;
        Ok(())
    }

    /// Removes a tenant's SSO; returns whether it had one.
    pub async fn delete_sso(&self, tenant_id: &str) -> CoreResult<bool> {
        let done = sqlx::query("DELETE FROM tenant_sso WHERE tenant_id = $1")
            .bind(tenant_id)
            .execute(&self.pool)
            .await?;
        Ok(done.rows_affected() > 0)
    }

    /// The user a provider identity is linked to.
    pub async fn sso_identity_user(
        &self,
        issuer: &str,
        subject: &str,
    ) -> CoreResult<Option<String>> {
        Ok(sqlx::query_scalar(
            "SELECT user_id FROM sso_identities WHERE issuer = $1 AND subject = $2",
        )
        .bind(issuer)
        .bind(subject)
        .fetch_optional(&self.pool)
        .await?)
    }

    /// Links a provider identity to a user (or notes that it was seen again).
    pub async fn link_sso_identity(
        &self,
        issuer: &str,
        subject: &str,
        user_id: &str,
        tenant_id: &str,
        now: UnixMillis,
    ) -> CoreResult<()> {
        sqlx::query(
            "INSERT INTO sso_identities (issuer, subject, user_id, tenant_id, created_at, last_seen_at)
             VALUES ($1, $2, $3, $4, $5, $5)
             ON CONFLICT (issuer, subject) DO UPDATE SET last_seen_at = excluded.last_seen_at",
        )
        .bind(issuer)
        .bind(subject)
        .bind(user_id)
        .bind(tenant_id)
        .bind(now)
        .execute(&self.pool)
        .await?;
        Ok(())
    }
}
