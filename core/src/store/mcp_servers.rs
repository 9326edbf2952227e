//! MCP servers and their scopes.

use sqlx::FromRow;

use super::{flag, json, ResultExt, Store};
use crate::error::CoreResult;
use crate::ids::McpServerId;
use crate::model::{McpServer, Scope, TenantConsent};

#[derive(FromRow)]
struct McpServerRow {
    id: String,
    slug: String,
    name: String,
    description: String,
    resource_url: String,
    access_token_ttl_secs: i64,
    step_up_window_secs: i64,
    dcr_enabled: i64,
    cimd_enabled: i64,
    refresh_token_ttl_secs: i64,
    refresh_token_max_secs: i64,
    dcr_redirect_hosts: String,
    dcr_unused_expiry_secs: i64,
    cimd_domains: String,
    cimd_allow_unknown: i64,
    tenant_consent: String,
    created_at: i64,
}

impl TryFrom<McpServerRow> for McpServer {
    type Error = crate::error::CoreError;
    fn try_from(r: McpServerRow) -> CoreResult<Self> {
        Ok(McpServer {
            id: McpServerId::from_string(r.id),
            slug: r.slug,
            name: r.name,
            description: r.description,
            resource_url: r.resource_url,
            access_token_ttl_secs: r.access_token_ttl_secs,
            step_up_window_secs: r.step_up_window_secs,
            dcr_enabled: r.dcr_enabled != 0,
            cimd_enabled: r.cimd_enabled != 0,
            refresh_token_ttl_secs: r.refresh_token_ttl_secs,
            refresh_token_max_secs: r.refresh_token_max_secs,
            dcr_redirect_hosts: json::decode(&r.dcr_redirect_hosts)?,
            dcr_unused_expiry_secs: r.dcr_unused_expiry_secs,
            cimd_domains: json::decode(&r.cimd_domains)?,
            cimd_allow_unknown: r.cimd_allow_unknown != 0,
            tenant_consent: TenantConsent::parse(&r.tenant_consent).ok_or_else(|| {
                crate::error::CoreError::Invalid(format!(
                    "stored MCP server has unknown tenant_consent {:?}",
                    r.tenant_consent
                ))
            })?,
            created_at: r.created_at,
        })
    }
}

#[derive(FromRow)]
struct ScopeRow {
    name: String,
    display_name: String,
    description: String,
    sensitive: i64,
    mandatory: i64,
    default_on: i64,
}

impl From<ScopeRow> for Scope {
    fn from(r: ScopeRow) -> Self {
        Scope {
            name: r.name,
            display_name: r.display_name,
            description: r.description,
            sensitive: r.sensitive != 0,
            mandatory: r.mandatory != 0,
            default_on: r.default_on != 0,
        }
    }
}

const SERVER_COLUMNS: &str = "id, slug, name, description, resource_url, access_token_ttl_secs,
     step_up_window_secs, dcr_enabled, cimd_enabled, refresh_token_ttl_secs, refresh_token_max_secs,
     dcr_redirect_hosts, dcr_unused_expiry_secs, cimd_domains, cimd_allow_unknown, tenant_consent,
     created_at";

impl Store {
    /// Inserts an MCP server with its scopes in one transaction.
    /// `AlreadyExists` if the slug or the resource URL is taken.
    pub async fn insert_mcp_server(&self, server: &McpServer, scopes: &[Scope]) -> CoreResult<()> {
        let mut tx = self.begin_write().await?;
        sqlx::query(
            "INSERT INTO mcp_servers (id, slug, name, description, resource_url, access_token_ttl_secs,
                                      step_up_window_secs, dcr_enabled, cimd_enabled,
                                      refresh_token_ttl_secs, refresh_token_max_secs, dcr_redirect_hosts,
                                      dcr_unused_expiry_secs, cimd_domains, cimd_allow_unknown,
                                      tenant_consent, created_at, updated_at)
             VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $12, $13, $14, $15, $16, $17, $17)",
        )
        .bind(server.id.as_str())
        .bind(&server.slug)
        .bind(&server.name)
        .bind(&server.description)
        .bind(&server.resource_url)
        .bind(server.access_token_ttl_secs)
        .bind(server.step_up_window_secs)
        .bind(flag(server.dcr_enabled))
        .bind(flag(server.cimd_enabled))
        .bind(server.refresh_token_ttl_secs)
        .bind(server.refresh_token_max_secs)
        .bind(json::encode(&server.dcr_redirect_hosts)?)
        .bind(server.dcr_unused_expiry_secs)
        .bind(json::encode(&server.cimd_domains)?)
        .bind(flag(server.cimd_allow_unknown))
        .bind(server.tenant_consent.as_str())
        .bind(server.created_at)
        .execute(&mut *tx)
        .await
        .on_unique("an MCP server with this slug or resource URL")?;
        insert_scopes(&mut tx, &server.id, scopes).await?;
        // A machine agent an admin made (client_credentials) gets nothing on a new server
        // until an admin allows it: no allowance row would mean "every scope".
        sqlx::query(
            "INSERT INTO agent_allowances (agent_id, mcp_server_id, scopes)
             SELECT id, $1, '[]' FROM agents WHERE kind = 'manual' AND client_type = 'confidential'",
        )
        .bind(server.id.as_str())
        .execute(&mut *tx)
        .await?;
        tx.commit().await?;
        Ok(())
    }

    pub async fn mcp_server_by_slug(&self, slug: &str) -> CoreResult<Option<McpServer>> {
        if slug.contains('\0') {
            // No slug holds one (and PostgreSQL would refuse the lookup itself).
            return Ok(None);
        }
        sqlx::query_as::<_, McpServerRow>(&format!(
            "SELECT {SERVER_COLUMNS} FROM mcp_servers WHERE slug = $1"
        ))
        .bind(slug)
        .fetch_optional(&self.pool)
        .await?
        .map(McpServer::try_from)
        .transpose()
    }

    pub async fn mcp_server(&self, id: &McpServerId) -> CoreResult<Option<McpServer>> {
        sqlx::query_as::<_, McpServerRow>(&format!(
            "SELECT {SERVER_COLUMNS} FROM mcp_servers WHERE id = $1"
        ))
        .bind(id.as_str())
        .fetch_optional(&self.pool)
        .await?
        .map(McpServer::try_from)
        .transpose()
    }

    /// Every MCP server, by name.
    pub async fn list_mcp_servers(&self) -> CoreResult<Vec<McpServer>> {
        sqlx::query_as::<_, McpServerRow>(&format!(
            "SELECT {SERVER_COLUMNS} FROM mcp_servers ORDER BY name, id"
        ))
        .fetch_all(&self.pool)
        .await?
        .into_iter()
        .map(McpServer::try_from)
        .collect()
    }

    /// The scopes of one MCP server in display order.
    pub async fn scopes_of(&self, server: &McpServerId) -> CoreResult<Vec<Scope>> {
        Ok(sqlx::query_as::<_, ScopeRow>(
            "SELECT name, display_name, description, sensitive, mandatory, default_on
             FROM scopes WHERE mcp_server_id = $1 ORDER BY position, name",
        )
        .bind(server.as_str())
        .fetch_all(&self.pool)
        .await?
        .into_iter()
        .map(Scope::from)
        .collect())
    }
}

impl Store {
    /// Replaces a server's settings and its scopes in one transaction.
    /// `AlreadyExists` if the new slug or resource URL is another server's.
    pub async fn update_mcp_server(
        &self,
        server: &McpServer,
        scopes: &[Scope],
        now: crate::clock::UnixMillis,
    ) -> CoreResult<()> {
        let mut tx = self.begin_write().await?;
        sqlx::query(
            "UPDATE mcp_servers SET slug = $2, name = $3, description = $4, resource_url = $5,
                    access_token_ttl_secs = $6, step_up_window_secs = $7, dcr_enabled = $8,
                    cimd_enabled = $9, refresh_token_ttl_secs = $10, refresh_token_max_secs = $11,
                    dcr_redirect_hosts = $12, dcr_unused_expiry_secs = $13, cimd_domains = $14,
                    cimd_allow_unknown = $15, tenant_consent = $16, updated_at = $17
             WHERE id = $1",
        )
        .bind(server.id.as_str())
        .bind(&server.slug)
        .bind(&server.name)
        .bind(&server.description)
        .bind(&server.resource_url)
        .bind(server.access_token_ttl_secs)
        .bind(server.step_up_window_secs)
        .bind(flag(server.dcr_enabled))
        .bind(flag(server.cimd_enabled))
        .bind(server.refresh_token_ttl_secs)
        .bind(server.refresh_token_max_secs)
        .bind(json::encode(&server.dcr_redirect_hosts)?)
        .bind(server.dcr_unused_expiry_secs)
        .bind(json::encode(&server.cimd_domains)?)
        .bind(flag(server.cimd_allow_unknown))
        .bind(server.tenant_consent.as_str())
        .bind(now)
        .execute(&mut *tx)
        .await
        .on_unique("an MCP server with this slug or resource URL")?;
        sqlx::query("DELETE FROM scopes WHERE mcp_server_id = $1")
            .bind(server.id.as_str())
            .execute(&mut *tx)
            .await?;
        insert_scopes(&mut tx, &server.id, scopes).await?;
        tx.commit().await?;
        Ok(())
    }

    /// Deletes a server and, by cascade, its scopes, allowances, grants and token families;
    /// its access tokens' records go too, so introspection calls them inactive.
    pub async fn delete_mcp_server(&self, id: &McpServerId) -> CoreResult<bool> {
        let mut tx = self.begin_write().await?;
        sqlx::query("DELETE FROM access_tokens WHERE mcp_server_id = $1")
            .bind(id.as_str())
            .execute(&mut *tx)
            .await?;
        let done = sqlx::query("DELETE FROM mcp_servers WHERE id = $1")
            .bind(id.as_str())
            .execute(&mut *tx)
            .await?;
        tx.commit().await?;
        self.tokens_revoked();
        Ok(done.rows_affected() > 0)
    }
}

async fn insert_scopes(
    tx: &mut sqlx::Transaction<'static, sqlx::Any>,
    server: &McpServerId,
    scopes: &[Scope],
) -> CoreResult<()> {
    for (position, scope) in scopes.iter().enumerate() {
        sqlx::query(
            "INSERT INTO scopes (mcp_server_id, name, display_name, description, sensitive,
                                 mandatory, default_on, position)
             VALUES ($1, $2, $3, $4, $5, $6, $7, $8)",
        )
        .bind(server.as_str())
        .bind(&scope.name)
        .bind(&scope.display_name)
        .bind(&scope.description)
        .bind(flag(scope.sensitive))
        .bind(flag(scope.mandatory))
        .bind(flag(scope.default_on))
        .bind(i64::try_from(position).unwrap_or(i64::MAX))
        .execute(&mut **tx)
        .await
        .on_unique("a scope with this name on this server")?;
    }
    Ok(())
}
