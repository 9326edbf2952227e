//! The token vault's rows: providers (client secret sealed), connections (tokens envelope-
//! sealed, read only by the exchange and refresh that need them), connections policies and
//! agents' connection allowances.

use std::collections::BTreeMap;

use sqlx::FromRow;

use super::{json, ResultExt, Store};
use crate::clock::UnixMillis;
use crate::connections::policy::{AgentConnectionAllowance, ConnectionPolicy};
use crate::connections::{Connection, ConnectionProvider, Owner, OwnerKind, ProviderKind};
use crate::error::{CoreError, CoreResult};

#[derive(FromRow)]
struct ProviderRow {
    id: String,
    slug: String,
    name: String,
    kind: String,
    authorization_endpoint: String,
    token_endpoint: String,
    client_id: String,
    scopes: String,
    mcp_server_ids: String,
    created_at: i64,
    updated_at: i64,
}

impl TryFrom<ProviderRow> for ConnectionProvider {
    type Error = CoreError;
    fn try_from(r: ProviderRow) -> CoreResult<Self> {
        Ok(Self {
            kind: ProviderKind::parse(&r.kind)
                .ok_or_else(|| CoreError::Invalid(format!("unknown provider kind {}", r.kind)))?,
            id: r.id,
            slug: r.slug,
            name: r.name,
            authorization_endpoint: r.authorization_endpoint,
            token_endpoint: r.token_endpoint,
            client_id: r.client_id,
            scopes: json::decode(&r.scopes)?,
            mcp_server_ids: json::decode(&r.mcp_server_ids)?,
            created_at: r.created_at,
            updated_at: r.updated_at,
        })
    }
}

const PROVIDER_COLUMNS: &str = "id, slug, name, kind, authorization_endpoint, token_endpoint,
    client_id, scopes, mcp_server_ids, created_at, updated_at";

#[derive(FromRow)]
struct ConnectionRow {
    id: String,
    provider_id: String,
    owner_kind: String,
    owner_id: String,
    scopes: String,
    expires_at: Option<i64>,
    refreshable: i64,
    created_at: i64,
    updated_at: i64,
    last_used_at: Option<i64>,
}

impl TryFrom<ConnectionRow> for Connection {
    type Error = CoreError;
    fn try_from(r: ConnectionRow) -> CoreResult<Self> {
        let kind = OwnerKind::parse(&r.owner_kind)
            .ok_or_else(|| CoreError::Invalid(format!("unknown owner kind {}", r.owner_kind)))?;
        Ok(Self {
            id: r.id,
            provider_id: r.provider_id,
            owner: Owner::new(kind, r.owner_id),
            scopes: json::decode(&r.scopes)?,
            expires_at: r.expires_at,
            refreshable: r.refreshable != 0,
            created_at: r.created_at,
            updated_at: r.updated_at,
            last_used_at: r.last_used_at,
        })
    }
}

/// A connection row with its sealed tokens.
#[derive(FromRow)]
struct SealedConnectionRow {
    #[sqlx(flatten)]
    connection: ConnectionRow,
    tokens_sealed: Vec<u8>,
}

const CONNECTION_COLUMNS: &str = "id, provider_id, owner_kind, owner_id, scopes, expires_at,
    refreshable, created_at, updated_at, last_used_at";

#[derive(FromRow)]
struct PolicyRow {
    id: String,
    name: String,
    description: String,
    conditions: String,
    allows: String,
}

impl TryFrom<PolicyRow> for ConnectionPolicy {
    type Error = CoreError;
    fn try_from(r: PolicyRow) -> CoreResult<Self> {
        Ok(Self {
            id: r.id,
            name: r.name,
            description: r.description,
            conditions: json::decode(&r.conditions)?,
            allows: json::decode(&r.allows)?,
        })
    }
}

/// A connection's new tokens (sealed) and what they carry.
pub struct SealedTokens<'a> {
    pub sealed: &'a [u8],
    pub scopes: &'a [String],
    pub expires_at: Option<UnixMillis>,
    pub refreshable: bool,
}

impl Store {
    /// Every provider, by name.
    pub async fn connection_providers(&self) -> CoreResult<Vec<ConnectionProvider>> {
        sqlx::query_as::<_, ProviderRow>(&format!(
            "SELECT {PROVIDER_COLUMNS} FROM connection_providers ORDER BY name, id"
        ))
        .fetch_all(&self.pool)
        .await?
        .into_iter()
        .map(ConnectionProvider::try_from)
        .collect()
    }

    /// A provider by id or slug, with its sealed client secret (empty: none).
    pub async fn connection_provider(
        &self,
        key: &str,
    ) -> CoreResult<Option<(ConnectionProvider, Vec<u8>)>> {
        self.provider_where("id = $1 OR slug = $1", key).await
    }

    /// A provider by slug only (what a token exchange and a person's form name), with its
    /// sealed client secret.
    pub async fn connection_provider_by_slug(
        &self,
        slug: &str,
    ) -> CoreResult<Option<(ConnectionProvider, Vec<u8>)>> {
        self.provider_where("slug = $1", slug).await
    }

    async fn provider_where(
        &self,
        condition: &str,
        key: &str,
    ) -> CoreResult<Option<(ConnectionProvider, Vec<u8>)>> {
        #[derive(FromRow)]
        struct Row {
            #[sqlx(flatten)]
            provider: ProviderRow,
            secret_sealed: Vec<u8>,
        }
        let row = sqlx::query_as::<_, Row>(&format!(
            "SELECT {PROVIDER_COLUMNS}, secret_sealed FROM connection_providers WHERE {condition}"
        ))
        .bind(key)
        .fetch_optional(&self.pool)
        .await?;
        row.map(|r| Ok((ConnectionProvider::try_from(r.provider)?, r.secret_sealed)))
            .transpose()
    }

    /// Creates a provider, or replaces the one with its id; a taken slug is
    /// [`CoreError::AlreadyExists`].
    pub async fn put_connection_provider(
        &self,
        p: &ConnectionProvider,
        secret_sealed: &[u8],
    ) -> CoreResult<()> {
        sqlx::query(&format!(
            "INSERT INTO connection_providers ({PROVIDER_COLUMNS}, secret_sealed)
             VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $12)
             ON CONFLICT (id) DO UPDATE SET
                slug = excluded.slug, name = excluded.name, kind = excluded.kind,
                authorization_endpoint = excluded.authorization_endpoint,
                token_endpoint = excluded.token_endpoint, client_id = excluded.client_id,
                scopes = excluded.scopes, mcp_server_ids = excluded.mcp_server_ids,
                updated_at = excluded.updated_at, secret_sealed = excluded.secret_sealed"
        ))
        .bind(&p.id)
        .bind(&p.slug)
        .bind(&p.name)
        .bind(p.kind.as_str())
        .bind(&p.authorization_endpoint)
        .bind(&p.token_endpoint)
        .bind(&p.client_id)
        .bind(json::encode(&p.scopes)?)
        .bind(json::encode(&p.mcp_server_ids)?)
        .bind(p.created_at)
        .bind(p.updated_at)
        .bind(secret_sealed.to_vec())
        .execute(&self.pool)
        .await
        .on_unique("a connection provider with this slug")?;
        Ok(())
    }

    /// Deletes a provider with every connection to it; returns whether it existed.
    pub async fn delete_connection_provider(&self, id: &str) -> CoreResult<bool> {
        let mut tx = self.begin_write().await?;
        for table in ["agent_connection_allowances", "connections"] {
            sqlx::query(&format!("DELETE FROM {table} WHERE provider_id = $1"))
                .bind(id)
                .execute(&mut *tx)
                .await?;
        }
        let done = sqlx::query("DELETE FROM connection_providers WHERE id = $1")
            .bind(id)
            .execute(&mut *tx)
            .await?;
        tx.commit().await?;
        Ok(done.rows_affected() > 0)
    }

    /// One owner's connection to a provider, with its sealed tokens.
    pub async fn connection(
        &self,
        provider_id: &str,
        owner: &Owner,
    ) -> CoreResult<Option<(Connection, Vec<u8>)>> {
        let row = sqlx::query_as::<_, SealedConnectionRow>(&format!(
            "SELECT {CONNECTION_COLUMNS}, tokens_sealed FROM connections
             WHERE provider_id = $1 AND owner_kind = $2 AND owner_id = $3"
        ))
        .bind(provider_id)
        .bind(owner.kind.as_str())
        .bind(&owner.id)
        .fetch_optional(&self.pool)
        .await?;
        row.map(|r| Ok((Connection::try_from(r.connection)?, r.tokens_sealed)))
            .transpose()
    }

    /// An owner's connections (no tokens).
    pub async fn connections_of(&self, owner: &Owner) -> CoreResult<Vec<Connection>> {
        sqlx::query_as::<_, ConnectionRow>(&format!(
            "SELECT {CONNECTION_COLUMNS} FROM connections
             WHERE owner_kind = $1 AND owner_id = $2 ORDER BY created_at, id"
        ))
        .bind(owner.kind.as_str())
        .bind(&owner.id)
        .fetch_all(&self.pool)
        .await?
        .into_iter()
        .map(Connection::try_from)
        .collect()
    }

    /// Every connection to a provider (no tokens).
    pub async fn connections_to(&self, provider_id: &str) -> CoreResult<Vec<Connection>> {
        sqlx::query_as::<_, ConnectionRow>(&format!(
            "SELECT {CONNECTION_COLUMNS} FROM connections
             WHERE provider_id = $1 ORDER BY created_at, id"
        ))
        .bind(provider_id)
        .fetch_all(&self.pool)
        .await?
        .into_iter()
        .map(Connection::try_from)
        .collect()
    }

    /// Stores an owner's tokens for a provider (replacing any it had); returns the connection.
    pub async fn put_connection(
        &self,
        provider_id: &str,
        owner: &Owner,
        tokens: &SealedTokens<'_>,
        now: UnixMillis,
    ) -> CoreResult<Connection> {
        let id = uuid::Uuid::now_v7().to_string();
        sqlx::query(
            "INSERT INTO connections (id, provider_id, owner_kind, owner_id, tokens_sealed,
                scopes, expires_at, refreshable, created_at, updated_at)
             VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $9)
             ON CONFLICT (provider_id, owner_kind, owner_id) DO UPDATE SET
                tokens_sealed = excluded.tokens_sealed, scopes = excluded.scopes,
                expires_at = excluded.expires_at, refreshable = excluded.refreshable,
                updated_at = excluded.updated_at",
        )
        .bind(&id)
        .bind(provider_id)
        .bind(owner.kind.as_str())
        .bind(&owner.id)
        .bind(tokens.sealed.to_vec())
        .bind(json::encode(tokens.scopes)?)
        .bind(tokens.expires_at)
        .bind(i64::from(tokens.refreshable))
        .bind(now)
        .execute(&self.pool)
        .await?;
        self.connection(provider_id, owner)
            .await?
            .map(|(c, _)| c)
            .ok_or(CoreError::NotFound { what: "connection" })
    }

    /// Replaces a connection's tokens after a refresh; false when it was disconnected
    /// meanwhile (the refreshed tokens are then dropped, not resurrected).
    pub async fn refresh_connection(
        &self,
        id: &str,
        tokens: &SealedTokens<'_>,
        now: UnixMillis,
    ) -> CoreResult<bool> {
        let done = sqlx::query(
            "UPDATE connections SET tokens_sealed = $1, scopes = $2, expires_at = $3,
                refreshable = $4, updated_at = $5
             WHERE id = $6",
        )
        .bind(tokens.sealed.to_vec())
        .bind(json::encode(tokens.scopes)?)
        .bind(tokens.expires_at)
        .bind(i64::from(tokens.refreshable))
        .bind(now)
        .bind(id)
        .execute(&self.pool)
        .await?;
        Ok(done.rows_affected() > 0)
    }

    /// Refreshable connections whose access token expires before `before`, soonest first,
    /// with their sealed tokens.
    pub async fn connections_due(
        &self,
        before: UnixMillis,
        limit: i64,
    ) -> CoreResult<Vec<(Connection, Vec<u8>)>> {
        sqlx::query_as::<_, SealedConnectionRow>(&format!(
            "SELECT {CONNECTION_COLUMNS}, tokens_sealed FROM connections
             WHERE refreshable = 1 AND expires_at IS NOT NULL AND expires_at < $1
             ORDER BY expires_at LIMIT $2"
        ))
        .bind(before)
        .bind(limit)
        .fetch_all(&self.pool)
        .await?
        .into_iter()
        .map(|r| Ok((Connection::try_from(r.connection)?, r.tokens_sealed)))
        .collect()
    }

    /// Notes that a connection's refresh token no longer works (the provider refused it):
    /// nothing refreshes it again until the owner connects anew.
    pub async fn mark_unrefreshable(&self, id: &str) -> CoreResult<()> {
        sqlx::query("UPDATE connections SET refreshable = 0 WHERE id = $1")
            .bind(id)
            .execute(&self.pool)
            .await?;
        Ok(())
    }

    /// Notes that a connection's token was handed out.
    pub async fn touch_connection(&self, id: &str, now: UnixMillis) -> CoreResult<()> {
        sqlx::query("UPDATE connections SET last_used_at = $1 WHERE id = $2")
            .bind(now)
            .bind(id)
            .execute(&self.pool)
            .await?;
        Ok(())
    }

    /// Deletes an owner's connection (its tokens with it); returns it if there was one.
    pub async fn delete_connection(
        &self,
        provider_id: &str,
        owner: &Owner,
    ) -> CoreResult<Option<Connection>> {
        let Some((connection, _)) = self.connection(provider_id, owner).await? else {
            return Ok(None);
        };
        let done = sqlx::query("DELETE FROM connections WHERE id = $1")
            .bind(&connection.id)
            .execute(&self.pool)
            .await?;
        Ok((done.rows_affected() > 0).then_some(connection))
    }

    /// Every connections policy, by name.
    pub async fn connection_policies(&self) -> CoreResult<Vec<ConnectionPolicy>> {
        sqlx::query_as::<_, PolicyRow>(
            "SELECT id, name, description, conditions, allows FROM connection_policies
             ORDER BY name, id",
        )
        .fetch_all(&self.pool)
        .await?
        .into_iter()
        .map(ConnectionPolicy::try_from)
        .collect()
    }

    /// Creates a connections policy or replaces the one with its id.
    pub async fn put_connection_policy(
        &self,
        policy: &ConnectionPolicy,
        now: UnixMillis,
    ) -> CoreResult<()> {
        sqlx::query(
            "INSERT INTO connection_policies
                (id, name, description, conditions, allows, created_at, updated_at)
             VALUES ($1, $2, $3, $4, $5, $6, $6)
             ON CONFLICT (id) DO UPDATE SET name = excluded.name,
                description = excluded.description, conditions = excluded.conditions,
                allows = excluded.allows, updated_at = excluded.updated_at",
        )
        .bind(&policy.id)
        .bind(&policy.name)
        .bind(&policy.description)
        .bind(json::encode(&policy.conditions)?)
        .bind(json::encode(&policy.allows)?)
        .bind(now)
        .execute(&self.pool)
        .await?;
        Ok(())
    }

    /// Deletes a connections policy; returns whether it existed.
    pub async fn delete_connection_policy(&self, id: &str) -> CoreResult<bool> {
        let done = sqlx::query("DELETE FROM connection_policies WHERE id = $1")
            .bind(id)
            .execute(&self.pool)
            .await?;
        Ok(done.rows_affected() > 0)
    }

    /// An agent's own connection allowance (provider id → scopes).
    pub async fn agent_connection_allowance(
        &self,
        agent_id: &str,
    ) -> CoreResult<AgentConnectionAllowance> {
        let rows: Vec<(String, String)> = sqlx::query_as(
            "SELECT provider_id, scopes FROM agent_connection_allowances WHERE agent_id = $1",
        )
        .bind(agent_id)
        .fetch_all(&self.pool)
        .await?;
        rows.into_iter()
            .map(|(p, s)| Ok((p, json::decode(&s)?)))
            .collect::<CoreResult<BTreeMap<_, _>>>()
    }

    /// Replaces an agent's connection allowance.
    pub async fn replace_agent_connection_allowance(
        &self,
        agent_id: &str,
        allowance: &AgentConnectionAllowance,
    ) -> CoreResult<()> {
        let mut tx = self.begin_write().await?;
        sqlx::query("DELETE FROM agent_connection_allowances WHERE agent_id = $1")
            .bind(agent_id)
            .execute(&mut *tx)
            .await?;
        for (provider_id, scopes) in allowance {
            sqlx::query(
                "INSERT INTO agent_connection_allowances (agent_id, provider_id, scopes)
                 VALUES ($1, $2, $3)",
            )
            .bind(agent_id)
            .bind(provider_id)
            .bind(json::encode(scopes)?)
            .execute(&mut *tx)
            .await?;
        }
        tx.commit().await?;
        Ok(())
    }
}
