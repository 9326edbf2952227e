//! What the console and the admin API read and change about agents beyond the protocol's
//! needs: the filtered, paginated list; the people bound to an agent; secrets, tags, trust
//! level, the disabled switch and allowances.

use sqlx::FromRow;

use super::where_clause::{Bind, WhereClause};
use super::{flag, json, Store};
use crate::clock::UnixMillis;
use crate::error::CoreResult;
use crate::ids::{AgentId, McpServerId};
use crate::model::{Agent, TrustLevel};
use crate::secret::SecretHash;

/// Which agents a list shows. Every set field narrows it (AND).
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct AgentFilter {
    /// Part of the name or client id, any case.
    pub text: Option<String>,
    pub kind: Option<crate::model::AgentKind>,
    pub trust_level: Option<TrustLevel>,
    pub tag: Option<String>,
    /// Agents allowed on, registered at, or granted on this server.
    pub mcp_server: Option<McpServerId>,
    /// Agents someone in this tenant has granted.
    pub tenant: Option<String>,
    pub used: Option<UsedFilter>,
    /// Continue after this agent (the previous page's last): `(created_at, id)`.
    pub after: Option<(UnixMillis, String)>,
}

/// The last-used filter.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum UsedFilter {
    /// Used at or after this instant.
    Since(UnixMillis),
    /// Not used since this instant (or never).
    IdleSince(UnixMillis),
    Never,
}

/// Escapes `%`, `_` and `\` for a `LIKE … ESCAPE '\'` pattern.
pub(super) fn like_escaped(text: &str) -> String {
    let mut out = String::with_capacity(text.len() + 2);
    for c in text.chars() {
        if matches!(c, '%' | '_' | '\\') {
            out.push('\\');
        }
        out.push(c);
    }
    out
}

/// A user's grant to an agent, with names, for the agent's page.
#[derive(Debug, Clone, PartialEq, Eq, FromRow)]
pub struct BoundUser {
    pub user_id: String,
    pub email: String,
    pub tenant_name: String,
    pub mcp_server_name: String,
    pub granted_scopes: String,
    pub last_used_at: Option<i64>,
}

impl Store {
    /// Agents newest first, `limit` of them, after the filter's cursor. Keyset pagination on
    /// `(created_at, id)` (index `agents_by_created`), so page 1,000 costs what page 1 does.
    pub async fn list_agents(&self, filter: &AgentFilter, limit: i64) -> CoreResult<Vec<Agent>> {
        let mut w = WhereClause::default();
        if let Some(text) = filter
            .text
            .as_deref()
            .map(str::trim)
            .filter(|t| !t.is_empty())
        {
            let p = w.value(Bind::Text(format!(
                "%{}%",
                like_escaped(&text.to_lowercase())
            )));
            w.and(format!(
                "(LOWER(name) LIKE {p} ESCAPE '\\' OR LOWER(id) LIKE {p} ESCAPE '\\')"
            ));
        }
        if let Some(kind) = filter.kind {
            let p = w.value(Bind::Text(kind.as_str().into()));
            w.and(format!("kind = {p}"));
        }
        if let Some(level) = filter.trust_level {
            let p = w.value(Bind::Text(level.as_str().into()));
            w.and(format!("trust_level = {p}"));
        }
        if let Some(tag) = &filter.tag {
            // Tags are stored as a JSON array of strings: match the quoted element.
            let quoted = json::encode(tag)?;
            let p = w.value(Bind::Text(format!("%{}%", like_escaped(&quoted))));
            w.and(format!("tags LIKE {p} ESCAPE '\\'"));
        }
        if let Some(server) = &filter.mcp_server {
            let p = w.value(Bind::Text(server.as_str().into()));
            w.and(format!(
                "(registered_at_server = {p}
                  OR id IN (SELECT agent_id FROM agent_allowances WHERE mcp_server_id = {p})
                  OR id IN (SELECT agent_id FROM grants WHERE mcp_server_id = {p}))"
            ));
        }
        if let Some(tenant) = &filter.tenant {
            let p = w.value(Bind::Text(tenant.clone()));
            w.and(format!(
                "id IN (SELECT agent_id FROM grants WHERE tenant_id = {p})"
            ));
        }
        match filter.used {
            Some(UsedFilter::Since(at)) => {
                let p = w.value(Bind::Int(at));
                w.and(format!("last_used_at >= {p}"));
            }
            Some(UsedFilter::IdleSince(at)) => {
                let p = w.value(Bind::Int(at));
                w.and(format!("(last_used_at IS NULL OR last_used_at < {p})"));
            }
            Some(UsedFilter::Never) => w.and("last_used_at IS NULL".into()),
            None => {}
        }
        if let Some((created, id)) = &filter.after {
            let c = w.value(Bind::Int(*created));
            let i = w.value(Bind::Text(id.clone()));
            // A row-value comparison: both backends walk the (created_at, id) index from it.
            w.and(format!("(created_at, id) < ({c}, {i})"));
        }
        let sql = format!(
            "SELECT {} FROM agents {} ORDER BY created_at DESC, id DESC LIMIT {limit}",
            super::agents::AGENT_COLUMNS,
            w.sql(),
        );
        w.bind_to(sqlx::query_as::<_, super::agents::AgentRow>(&sql))
            .fetch_all(&self.pool)
            .await?
            .into_iter()
            .map(Agent::try_from)
            .collect()
    }

    /// The people who granted `agent` something (live grants), most recently used first.
    pub async fn bound_users(&self, agent: &AgentId, limit: i64) -> CoreResult<Vec<BoundUser>> {
        Ok(sqlx::query_as::<_, BoundUser>(
            "SELECT g.user_id, u.email, t.name AS tenant_name, s.name AS mcp_server_name,
                    g.granted_scopes, g.last_used_at
             FROM grants g
             JOIN users u ON u.id = g.user_id
             JOIN tenants t ON t.id = g.tenant_id
             JOIN mcp_servers s ON s.id = g.mcp_server_id
             WHERE g.agent_id = $1 AND g.revoked_at IS NULL
             ORDER BY COALESCE(g.last_used_at, g.updated_at) DESC, g.id
             LIMIT $2",
        )
        .bind(agent.as_str())
        .bind(limit)
        .fetch_all(&self.pool)
        .await?)
    }

    /// Every allowance row of an agent: (server id, scopes).
    pub async fn allowances_of(&self, agent: &AgentId) -> CoreResult<Vec<(String, Vec<String>)>> {
        let rows: Vec<(String, String)> = sqlx::query_as(
            "SELECT mcp_server_id, scopes FROM agent_allowances WHERE agent_id = $1
             ORDER BY mcp_server_id",
        )
        .bind(agent.as_str())
        .fetch_all(&self.pool)
        .await?;
        rows.into_iter()
            .map(|(server, scopes)| Ok((server, json::decode(&scopes)?)))
            .collect()
    }

    /// Replaces the agent's client secret (hash); the old one stops working at once.
    pub async fn set_agent_secret(
        &self,
        agent: &AgentId,
        secret: &SecretHash,
        now: UnixMillis,
    ) -> CoreResult<bool> {
        let done = sqlx::query(
            "UPDATE agents SET client_secret_hash = $2, updated_at = $3
             WHERE id = $1 AND client_type = 'confidential'",
        )
        .bind(agent.as_str())
        .bind(secret.as_str())
        .bind(now)
        .execute(&self.pool)
        .await?;
        Ok(done.rows_affected() > 0)
    }

    /// Replaces an agent's grant types (e.g. allowing RFC 8693 token exchange).
    pub async fn set_agent_grant_types(
        &self,
        agent: &AgentId,
        grant_types: &[String],
        now: UnixMillis,
    ) -> CoreResult<bool> {
        let done = sqlx::query("UPDATE agents SET grant_types = $2, updated_at = $3 WHERE id = $1")
            .bind(agent.as_str())
            .bind(json::encode(grant_types)?)
            .bind(now)
            .execute(&self.pool)
            .await?;
        Ok(done.rows_affected() > 0)
    }

    /// Sets what an admin decides about an agent: name, tags and trust level.
    pub async fn set_agent_labels(&self, agent: &Agent, now: UnixMillis) -> CoreResult<bool> {
        let done = sqlx::query(
            "UPDATE agents SET name = $2, tags = $3, trust_level = $4, updated_at = $5 WHERE id = $1",
        )
        .bind(agent.id.as_str())
        .bind(&agent.name)
        .bind(json::encode(&agent.tags)?)
        .bind(agent.trust_level.as_str())
        .bind(now)
        .execute(&self.pool)
        .await?;
        Ok(done.rows_affected() > 0)
    }

    /// Disables or enables an agent. Disabling also revokes, in the same transaction, every
    /// token family and access token it holds: nothing it was given keeps working.
    pub async fn set_agent_disabled(
        &self,
        agent: &AgentId,
        disabled: bool,
        now: UnixMillis,
    ) -> CoreResult<bool> {
        let mut tx = self.begin_write().await?;
        let done = sqlx::query("UPDATE agents SET disabled = $2, updated_at = $3 WHERE id = $1")
            .bind(agent.as_str())
            .bind(flag(disabled))
            .bind(now)
            .execute(&mut *tx)
            .await?;
        if disabled {
            sqlx::query(
                "UPDATE token_families SET revoked_at = $2, revoked_reason = 'agent_disabled'
                 WHERE agent_id = $1 AND revoked_at IS NULL",
            )
            .bind(agent.as_str())
            .bind(now)
            .execute(&mut *tx)
            .await?;
            sqlx::query(
                "UPDATE access_tokens SET revoked_at = $2
                 WHERE agent_id = $1 AND revoked_at IS NULL",
            )
            .bind(agent.as_str())
            .bind(now)
            .execute(&mut *tx)
            .await?;
        }
        tx.commit().await?;
        if disabled {
            self.tokens_revoked();
        }
        Ok(done.rows_affected() > 0)
    }

    /// Replaces every allowance of an agent: `scopes` per server id.
    pub async fn replace_agent_allowances(
        &self,
        agent: &AgentId,
        allowances: &[(String, Vec<String>)],
    ) -> CoreResult<()> {
        let mut tx = self.begin_write().await?;
        sqlx::query("DELETE FROM agent_allowances WHERE agent_id = $1")
            .bind(agent.as_str())
            .execute(&mut *tx)
            .await?;
        for (server, scopes) in allowances {
            sqlx::query(
                "INSERT INTO agent_allowances (agent_id, mcp_server_id, scopes) VALUES ($1, $2, $3)",
            )
            .bind(agent.as_str())
            .bind(server)
            .bind(json::encode(scopes)?)
            .execute(&mut *tx)
            .await?;
        }
        tx.commit().await?;
        Ok(())
    }
}
