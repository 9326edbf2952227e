//! MCP servers and their scopes.

use sqlx::FromRow;

use super::{flag, json, ResultExt, Store};
use crate::error::CoreResult;
use crate::ids::McpServerId;
use crate::model::{McpServer, Scope};

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
     dcr_redirect_hosts, dcr_unused_expiry_secs, cimd_domains, cimd_allow_unknown, created_at";

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
                                      created_at, updated_at)
             VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $12, $13, $14, $15, $16, $16)",
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
        .bind(server.created_at)
        .execute(&mut *tx)
        .await
        .on_unique("an MCP server with this slug or resource URL")?;
        for (position, scope) in scopes.iter().enumerate() {
            sqlx::query(
                "INSERT INTO scopes (mcp_server_id, name, display_name, description, sensitive,
                                     mandatory, default_on, position)
                 VALUES ($1, $2, $3, $4, $5, $6, $7, $8)",
            )
            .bind(server.id.as_str())
            .bind(&scope.name)
            .bind(&scope.display_name)
            .bind(&scope.description)
            .bind(flag(scope.sensitive))
            .bind(flag(scope.mandatory))
            .bind(flag(scope.default_on))
            .bind(i64::try_from(position).unwrap_or(i64::MAX))
            .execute(&mut *tx)
            .await
            .on_unique("a scope with this name on this server")?;
        }
        tx.commit().await?;
        Ok(())
    }

    pub async fn mcp_server_by_slug(&self, slug: &str) -> CoreResult<Option<McpServer>> {
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
