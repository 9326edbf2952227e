//! Agents (OAuth clients), their credentials and their per-server scope allowances.

use sqlx::FromRow;

use super::{flag, json, ResultExt, Store};
use crate::clock::UnixMillis;
use crate::error::{CoreError, CoreResult};
use crate::ids::{AgentId, McpServerId};
use crate::model::{Agent, AgentKind, ClientType, TrustLevel};
use crate::secret::SecretHash;

#[derive(FromRow)]
pub(super) struct AgentRow {
    id: String,
    name: String,
    kind: String,
    trust_level: String,
    client_type: String,
    token_endpoint_auth_method: String,
    redirect_uris: String,
    grant_types: String,
    tags: String,
    logo_uri: Option<String>,
    application_type: String,
    scope: String,
    registered_at_server: Option<String>,
    disabled: i64,
    created_at: i64,
    last_used_at: Option<i64>,
}

pub(super) const AGENT_COLUMNS: &str =
    "id, name, kind, trust_level, client_type, token_endpoint_auth_method,
    redirect_uris, grant_types, tags, logo_uri, application_type, scope, registered_at_server,
    disabled, created_at, last_used_at";

impl TryFrom<AgentRow> for Agent {
    type Error = CoreError;
    fn try_from(r: AgentRow) -> CoreResult<Self> {
        let corrupt = |what: &str, value: &str| {
            CoreError::Invalid(format!(
                "stored agent {} has unknown {what} {value:?}",
                r.id
            ))
        };
        Ok(Agent {
            kind: AgentKind::parse(&r.kind).ok_or_else(|| corrupt("kind", &r.kind))?,
            trust_level: TrustLevel::parse(&r.trust_level)
                .ok_or_else(|| corrupt("trust level", &r.trust_level))?,
            client_type: ClientType::parse(&r.client_type)
                .ok_or_else(|| corrupt("client type", &r.client_type))?,
            redirect_uris: json::decode(&r.redirect_uris)?,
            grant_types: json::decode(&r.grant_types)?,
            tags: json::decode(&r.tags)?,
            id: AgentId::from_string(r.id),
            name: r.name,
            token_endpoint_auth_method: r.token_endpoint_auth_method,
            logo_uri: r.logo_uri,
            application_type: r.application_type,
            scope: r.scope,
            registered_at_server: r.registered_at_server,
            disabled: r.disabled != 0,
            created_at: r.created_at,
            last_used_at: r.last_used_at,
        })
    }
}

/// The secrets stored for an agent, as hashes.
#[derive(Debug, Clone, Default)]
pub struct AgentSecrets {
    pub client_secret: Option<SecretHash>,
    pub registration_token: Option<SecretHash>,
}

impl Store {
    /// Inserts an agent. `AlreadyExists` if the client_id is taken.
    pub async fn insert_agent(&self, agent: &Agent, secrets: &AgentSecrets) -> CoreResult<()> {
        self.insert_agent_with_metadata(agent, secrets, "{}").await
    }

    /// Inserts an agent with the full registration metadata it was created from (JSON).
    pub async fn insert_agent_with_metadata(
        &self,
        agent: &Agent,
        secrets: &AgentSecrets,
        metadata: &str,
    ) -> CoreResult<()> {
        sqlx::query(
            "INSERT INTO agents (id, name, kind, trust_level, client_type, token_endpoint_auth_method,
                                 client_secret_hash, registration_token_hash, redirect_uris, grant_types,
                                 tags, logo_uri, application_type, scope, registered_at_server, metadata,
                                 disabled, created_at, updated_at, last_used_at)
             VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $12, $13, $14, $15, $16, $17, $18, $18, $19)",
        )
        .bind(agent.id.as_str())
        .bind(&agent.name)
        .bind(agent.kind.as_str())
        .bind(agent.trust_level.as_str())
        .bind(agent.client_type.as_str())
        .bind(&agent.token_endpoint_auth_method)
        .bind(secrets.client_secret.as_ref().map(SecretHash::as_str))
        .bind(secrets.registration_token.as_ref().map(SecretHash::as_str))
        .bind(json::encode(&agent.redirect_uris)?)
        .bind(json::encode(&agent.grant_types)?)
        .bind(json::encode(&agent.tags)?)
        .bind(agent.logo_uri.as_deref())
        .bind(&agent.application_type)
        .bind(&agent.scope)
        .bind(agent.registered_at_server.as_deref())
        .bind(metadata)
        .bind(flag(agent.disabled))
        .bind(agent.created_at)
        .bind(agent.last_used_at)
        .execute(&self.pool)
        .await
        .on_unique("an agent with this client_id")?;
        Ok(())
    }

    /// Replaces the registered metadata of an agent (RFC 7592 update, CIMD refresh).
    pub async fn update_agent_registration(
        &self,
        agent: &Agent,
        metadata: &str,
        now: UnixMillis,
    ) -> CoreResult<()> {
        let done = sqlx::query(
            "UPDATE agents SET name = $2, token_endpoint_auth_method = $3, redirect_uris = $4,
                    grant_types = $5, logo_uri = $6, application_type = $7, scope = $8,
                    metadata = $9, updated_at = $10
             WHERE id = $1",
        )
        .bind(agent.id.as_str())
        .bind(&agent.name)
        .bind(&agent.token_endpoint_auth_method)
        .bind(json::encode(&agent.redirect_uris)?)
        .bind(json::encode(&agent.grant_types)?)
        .bind(agent.logo_uri.as_deref())
        .bind(&agent.application_type)
        .bind(&agent.scope)
        .bind(metadata)
        .bind(now)
        .execute(&self.pool)
        .await?;
        if done.rows_affected() == 0 {
            return Err(CoreError::NotFound { what: "agent" });
        }
        Ok(())
    }

    pub async fn agent(&self, id: &AgentId) -> CoreResult<Option<Agent>> {
        if id.as_str().contains('\0') {
            // No stored id holds one (and PostgreSQL would refuse the lookup itself).
            return Ok(None);
        }
        sqlx::query_as::<_, AgentRow>(&format!("SELECT {AGENT_COLUMNS} FROM agents WHERE id = $1"))
            .bind(id.as_str())
            .fetch_optional(&self.pool)
            .await?
            .map(Agent::try_from)
            .transpose()
    }

    /// The hashes of an agent's client secret and registration access token.
    pub async fn agent_secrets(&self, id: &AgentId) -> CoreResult<AgentSecrets> {
        let row: Option<(Option<String>, Option<String>)> = sqlx::query_as(
            "SELECT client_secret_hash, registration_token_hash FROM agents WHERE id = $1",
        )
        .bind(id.as_str())
        .fetch_optional(&self.pool)
        .await?;
        Ok(row
            .map(|(cs, rt)| AgentSecrets {
                client_secret: cs.map(SecretHash::from_stored),
                registration_token: rt.map(SecretHash::from_stored),
            })
            .unwrap_or_default())
    }

    /// The registration metadata JSON an agent was created or last updated with.
    pub async fn agent_metadata(&self, id: &AgentId) -> CoreResult<Option<String>> {
        Ok(
            sqlx::query_scalar::<_, String>("SELECT metadata FROM agents WHERE id = $1")
                .bind(id.as_str())
                .fetch_optional(&self.pool)
                .await?,
        )
    }

    /// Deletes an agent and, by cascade, its allowances, grants, token families and connections.
    pub async fn delete_agent(&self, id: &AgentId) -> CoreResult<bool> {
        let mut tx = self.begin_write().await?;
        sqlx::query("DELETE FROM access_tokens WHERE agent_id = $1")
            .bind(id.as_str())
            .execute(&mut *tx)
            .await?;
        // The agent's own vault connections (an owner is not a foreign key: it may be a
        // user, a tenant or an agent).
        sqlx::query("DELETE FROM connections WHERE owner_kind = 'agent' AND owner_id = $1")
            .bind(id.as_str())
            .execute(&mut *tx)
            .await?;
        let done = sqlx::query("DELETE FROM agents WHERE id = $1")
            .bind(id.as_str())
            .execute(&mut *tx)
            .await?;
        tx.commit().await?;
        self.tokens_revoked();
        Ok(done.rows_affected() > 0)
    }

    /// For CIMD agents: until when the fetched document may be used.
    pub async fn agent_metadata_expires_at(&self, id: &AgentId) -> CoreResult<Option<UnixMillis>> {
        Ok(sqlx::query_scalar::<_, Option<i64>>(
            "SELECT metadata_expires_at FROM agents WHERE id = $1",
        )
        .bind(id.as_str())
        .fetch_optional(&self.pool)
        .await?
        .flatten())
    }

    pub async fn set_agent_metadata_expires_at(
        &self,
        id: &AgentId,
        at: UnixMillis,
    ) -> CoreResult<()> {
        sqlx::query("UPDATE agents SET metadata_expires_at = $2 WHERE id = $1")
            .bind(id.as_str())
            .bind(at)
            .execute(&self.pool)
            .await?;
        Ok(())
    }

    /// The scopes `agent` may ever get on `server`; `None` means every scope of the server.
    pub async fn agent_allowance(
        &self,
        agent: &AgentId,
        server: &McpServerId,
    ) -> CoreResult<Option<Vec<String>>> {
        let row: Option<String> = sqlx::query_scalar(
            "SELECT scopes FROM agent_allowances WHERE agent_id = $1 AND mcp_server_id = $2",
        )
        .bind(agent.as_str())
        .bind(server.as_str())
        .fetch_optional(&self.pool)
        .await?;
        row.map(|s| json::decode(&s)).transpose()
    }

    /// Narrows (or sets) an agent's allowance on a server.
    pub async fn set_agent_allowance(
        &self,
        agent: &AgentId,
        server: &McpServerId,
        scopes: &[String],
    ) -> CoreResult<()> {
        sqlx::query(
            "INSERT INTO agent_allowances (agent_id, mcp_server_id, scopes) VALUES ($1, $2, $3)
             ON CONFLICT (agent_id, mcp_server_id) DO UPDATE SET scopes = excluded.scopes",
        )
        .bind(agent.as_str())
        .bind(server.as_str())
        .bind(json::encode(scopes)?)
        .execute(&self.pool)
        .await?;
        Ok(())
    }

    pub async fn count_agents(&self) -> CoreResult<i64> {
        Ok(sqlx::query_scalar::<_, i64>("SELECT COUNT(*) FROM agents")
            .fetch_one(&self.pool)
            .await?)
    }
}

/// Records that agents were used (`last_used_at`, which feeds DCR expiry and the console),
/// inside the caller's transaction: the audit writer does it in the batch that records their
/// issuances, so the token endpoint never takes the write lock for it.
pub(crate) async fn touch_agents(
    tx: &mut sqlx::Transaction<'_, sqlx::Any>,
    used: &[(String, UnixMillis)],
) -> CoreResult<()> {
    for (agent_id, at) in used {
        sqlx::query("UPDATE agents SET last_used_at = $2 WHERE id = $1")
            .bind(agent_id.as_str())
            .bind(*at)
            .execute(&mut **tx)
            .await?;
    }
    Ok(())
}
