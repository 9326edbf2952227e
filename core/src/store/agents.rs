//! Agents (OAuth clients).

use sqlx::FromRow;

use super::{flag, json, ResultExt, Store};
use crate::error::{CoreError, CoreResult};
use crate::ids::AgentId;
use crate::model::{Agent, AgentKind, ClientType, TrustLevel};

#[derive(FromRow)]
struct AgentRow {
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
    disabled: i64,
    created_at: i64,
    last_used_at: Option<i64>,
}

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
            disabled: r.disabled != 0,
            created_at: r.created_at,
            last_used_at: r.last_used_at,
        })
    }
}

impl Store {
    /// Inserts an agent. `client_secret_hash` is the SHA-256 of a confidential client's secret.
    /// `AlreadyExists` if the client_id is taken.
    pub async fn insert_agent(
        &self,
        agent: &Agent,
        client_secret_hash: Option<&str>,
    ) -> CoreResult<()> {
        sqlx::query(
            "INSERT INTO agents (id, name, kind, trust_level, client_type, token_endpoint_auth_method,
                                 client_secret_hash, redirect_uris, grant_types, tags, logo_uri,
                                 disabled, created_at, updated_at, last_used_at)
             VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $12, $13, $13, $14)",
        )
        .bind(agent.id.as_str())
        .bind(&agent.name)
        .bind(agent.kind.as_str())
        .bind(agent.trust_level.as_str())
        .bind(agent.client_type.as_str())
        .bind(&agent.token_endpoint_auth_method)
        .bind(client_secret_hash)
        .bind(json::encode(&agent.redirect_uris)?)
        .bind(json::encode(&agent.grant_types)?)
        .bind(json::encode(&agent.tags)?)
        .bind(agent.logo_uri.as_deref())
        .bind(flag(agent.disabled))
        .bind(agent.created_at)
        .bind(agent.last_used_at)
        .execute(&self.pool)
        .await
        .on_unique("an agent with this client_id")?;
        Ok(())
    }

    pub async fn agent(&self, id: &AgentId) -> CoreResult<Option<Agent>> {
        sqlx::query_as::<_, AgentRow>(
            "SELECT id, name, kind, trust_level, client_type, token_endpoint_auth_method,
                    redirect_uris, grant_types, tags, logo_uri, disabled, created_at, last_used_at
             FROM agents WHERE id = $1",
        )
        .bind(id.as_str())
        .fetch_optional(&self.pool)
        .await?
        .map(Agent::try_from)
        .transpose()
    }

    pub async fn count_agents(&self) -> CoreResult<i64> {
        Ok(sqlx::query_scalar::<_, i64>("SELECT COUNT(*) FROM agents")
            .fetch_one(&self.pool)
            .await?)
    }
}
