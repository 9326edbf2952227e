//! Consent records: one row per (user, agent, tenant, MCP server), replaced by each new
//! consent; revoking one also revokes every token family it led to.

use sqlx::FromRow;

use super::tokens::revoke_families_where;
use super::{flag, json, Store};
use crate::clock::UnixMillis;
use crate::error::CoreResult;
use crate::model::{Grant, GrantView};

#[derive(FromRow)]
struct GrantRow {
    id: String,
    user_id: String,
    agent_id: String,
    tenant_id: String,
    mcp_server_id: String,
    granted_scopes: String,
    rejected_scopes: String,
    remembered: i64,
    created_at: i64,
    updated_at: i64,
    last_used_at: Option<i64>,
}

impl TryFrom<GrantRow> for Grant {
    type Error = crate::CoreError;
    fn try_from(r: GrantRow) -> CoreResult<Self> {
        Ok(Grant {
            id: r.id,
            user_id: r.user_id,
            agent_id: r.agent_id,
            tenant_id: r.tenant_id,
            mcp_server_id: r.mcp_server_id,
            granted_scopes: json::decode(&r.granted_scopes)?,
            rejected_scopes: json::decode(&r.rejected_scopes)?,
            remembered: r.remembered != 0,
            created_at: r.created_at,
            updated_at: r.updated_at,
            last_used_at: r.last_used_at,
        })
    }
}

#[derive(FromRow)]
struct GrantViewRow {
    #[sqlx(flatten)]
    grant: GrantRow,
    agent_name: String,
    tenant_name: String,
    mcp_server_name: String,
}

const GRANT_COLUMNS: &str = "id, user_id, agent_id, tenant_id, mcp_server_id, granted_scopes, \
     rejected_scopes, remembered, created_at, updated_at, last_used_at";

/// [`GRANT_COLUMNS`] qualified with the alias `g`, for joins.
fn grant_columns_of_g() -> String {
    GRANT_COLUMNS
        .split(", ")
        .map(|c| format!("g.{c}"))
        .collect::<Vec<_>>()
        .join(", ")
}

impl Store {
    /// Records a consent, replacing an earlier one for the same user, agent, tenant and
    /// server (and un-revoking it). Returns the grant's id.
    pub async fn record_grant(&self, grant: &Grant) -> CoreResult<String> {
        let id: String = sqlx::query_scalar(
            "INSERT INTO grants (id, user_id, agent_id, tenant_id, mcp_server_id, granted_scopes,
                                 rejected_scopes, remembered, created_at, updated_at, last_used_at)
             VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $9, $9)
             ON CONFLICT (user_id, agent_id, tenant_id, mcp_server_id) DO UPDATE SET
                granted_scopes = excluded.granted_scopes,
                rejected_scopes = excluded.rejected_scopes,
                remembered = excluded.remembered,
                updated_at = excluded.updated_at,
                last_used_at = excluded.last_used_at,
                revoked_at = NULL
             RETURNING id",
        )
        .bind(&grant.id)
        .bind(&grant.user_id)
        .bind(&grant.agent_id)
        .bind(&grant.tenant_id)
        .bind(&grant.mcp_server_id)
        .bind(json::encode(&grant.granted_scopes)?)
        .bind(json::encode(&grant.rejected_scopes)?)
        .bind(flag(grant.remembered))
        .bind(grant.updated_at)
        .fetch_one(&self.pool)
        .await?;
        Ok(id)
    }

    /// The live grant for this user, agent, tenant and server, if any.
    pub async fn active_grant(
        &self,
        user_id: &str,
        agent_id: &str,
        tenant_id: &str,
        mcp_server_id: &str,
    ) -> CoreResult<Option<Grant>> {
        sqlx::query_as::<_, GrantRow>(&format!(
            "SELECT {GRANT_COLUMNS} FROM grants
             WHERE user_id = $1 AND agent_id = $2 AND tenant_id = $3
               AND mcp_server_id = $4 AND revoked_at IS NULL"
        ))
        .bind(user_id)
        .bind(agent_id)
        .bind(tenant_id)
        .bind(mcp_server_id)
        .fetch_optional(&self.pool)
        .await?
        .map(Grant::try_from)
        .transpose()
    }

    /// Marks a grant used (a code was issued under it).
    pub async fn touch_grant(&self, id: &str, now: UnixMillis) -> CoreResult<()> {
        sqlx::query("UPDATE grants SET last_used_at = $2 WHERE id = $1")
            .bind(id)
            .bind(now)
            .execute(&self.pool)
            .await?;
        Ok(())
    }

    /// A user's live grants with agent, tenant and server names, most recently used first.
    pub async fn grants_of_user(&self, user_id: &str) -> CoreResult<Vec<GrantView>> {
        let rows = sqlx::query_as::<_, GrantViewRow>(&format!(
            "SELECT {}, a.name AS agent_name, t.name AS tenant_name,
                    s.name AS mcp_server_name
             FROM grants g
             JOIN agents a ON a.id = g.agent_id
             JOIN tenants t ON t.id = g.tenant_id
             JOIN mcp_servers s ON s.id = g.mcp_server_id
             WHERE g.user_id = $1 AND g.revoked_at IS NULL
             ORDER BY COALESCE(g.last_used_at, g.updated_at) DESC, g.id",
            grant_columns_of_g()
        ))
        .bind(user_id)
        .fetch_all(&self.pool)
        .await?;
        rows.into_iter()
            .map(|r| {
                Ok(GrantView {
                    grant: Grant::try_from(r.grant)?,
                    agent_name: r.agent_name,
                    tenant_name: r.tenant_name,
                    mcp_server_name: r.mcp_server_name,
                })
            })
            .collect()
    }

    /// Revokes the user's grant `id` and, in the same transaction, every token family the user
    /// holds for that agent, tenant and server: its refresh tokens stop working at once.
    /// Returns the revoked grant, or `None` if the user has no such live grant.
    pub async fn revoke_grant(
        &self,
        user_id: &str,
        id: &str,
        now: UnixMillis,
    ) -> CoreResult<Option<Grant>> {
        let mut tx = self.begin_write().await?;
        let row = sqlx::query_as::<_, GrantRow>(&format!(
            "UPDATE grants SET revoked_at = $3
             WHERE id = $1 AND user_id = $2 AND revoked_at IS NULL
             RETURNING {GRANT_COLUMNS}"
        ))
        .bind(id)
        .bind(user_id)
        .bind(now)
        .fetch_optional(&mut *tx)
        .await?;
        let Some(row) = row else {
            return Ok(None);
        };
        let grant = Grant::try_from(row)?;
        let matching = [
            ("user_id", grant.user_id.as_str()),
            ("agent_id", grant.agent_id.as_str()),
            ("tenant_id", grant.tenant_id.as_str()),
            ("mcp_server_id", grant.mcp_server_id.as_str()),
        ];
        revoke_families_where(&mut tx, &matching, "grant_revoked", now).await?;
        tx.commit().await?;
        self.tokens_revoked();
        Ok(Some(grant))
    }
}
