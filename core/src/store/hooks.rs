//! Issuance hooks of MCP servers (`crate::enrich`). The HMAC key is stored sealed under the
//! master key; only the call needs it, so listing never reads it.

use serde::{Deserialize, Serialize};
use sqlx::FromRow;

use super::Store;
use crate::clock::UnixMillis;
use crate::enrich::FailurePolicy;
use crate::error::{CoreError, CoreResult};

/// A hook as admins see it (never with its key).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct IssuanceHook {
    pub id: String,
    pub mcp_server_id: String,
    /// Hooks are called in ascending position.
    pub position: i64,
    pub name: String,
    pub url: String,
    /// The key's last characters, to tell keys apart.
    pub secret_hint: String,
    pub timeout_ms: i64,
    #[cfg_attr(feature = "openapi", schema(value_type = String))]
    pub on_failure: FailurePolicy,
    pub enabled: bool,
    pub created_at: UnixMillis,
}

/// A hook to call, with its sealed key.
#[derive(Debug, Clone)]
pub struct CallableHook {
    pub hook: IssuanceHook,
    pub secret_sealed: Vec<u8>,
}

#[derive(FromRow)]
struct HookRow {
    id: String,
    mcp_server_id: String,
    position: i64,
    name: String,
    url: String,
    secret_hint: String,
    timeout_ms: i64,
    on_failure: String,
    enabled: i64,
    created_at: i64,
}

impl TryFrom<HookRow> for IssuanceHook {
    type Error = CoreError;
    fn try_from(r: HookRow) -> CoreResult<Self> {
        Ok(Self {
            // A value this version does not know fails closed.
            on_failure: FailurePolicy::from_name(&r.on_failure).unwrap_or(FailurePolicy::Deny),
            id: r.id,
            mcp_server_id: r.mcp_server_id,
            position: r.position,
            name: r.name,
            url: r.url,
            secret_hint: r.secret_hint,
            timeout_ms: r.timeout_ms,
            enabled: r.enabled != 0,
            created_at: r.created_at,
        })
    }
}

const COLUMNS: &str =
    "id, mcp_server_id, position, name, url, secret_hint, timeout_ms, on_failure, enabled, created_at";
const ORDER: &str = "ORDER BY position, created_at, id";

impl Store {
    /// A server's hooks in calling order.
    pub async fn hooks_of(&self, mcp_server_id: &str) -> CoreResult<Vec<IssuanceHook>> {
        sqlx::query_as::<_, HookRow>(&format!(
            "SELECT {COLUMNS} FROM issuance_hooks WHERE mcp_server_id = $1 {ORDER}"
        ))
        .bind(mcp_server_id)
        .fetch_all(&self.pool)
        .await?
        .into_iter()
        .map(IssuanceHook::try_from)
        .collect()
    }

    /// A server's enabled hooks in calling order, with their sealed keys.
    pub async fn hooks_to_call(&self, mcp_server_id: &str) -> CoreResult<Vec<CallableHook>> {
        #[derive(FromRow)]
        struct Row {
            #[sqlx(flatten)]
            hook: HookRow,
            secret_sealed: Vec<u8>,
        }
        sqlx::query_as::<_, Row>(&format!(
            "SELECT {COLUMNS}, secret_sealed FROM issuance_hooks
             WHERE mcp_server_id = $1 AND enabled = 1 {ORDER}"
        ))
        .bind(mcp_server_id)
        .fetch_all(&self.pool)
        .await?
        .into_iter()
        .map(|r| {
            Ok(CallableHook {
                hook: IssuanceHook::try_from(r.hook)?,
                secret_sealed: r.secret_sealed,
            })
        })
        .collect()
    }

    /// Adds a hook. `hook.position` `None` puts it after the server's last hook.
    pub async fn insert_hook(
        &self,
        hook: &IssuanceHook,
        position: Option<i64>,
        secret_sealed: &[u8],
    ) -> CoreResult<IssuanceHook> {
        let mut tx = self.begin_write().await?;
        let position = match position {
            Some(p) => p,
            None => {
                let last: Option<i64> = sqlx::query_scalar(
                    "SELECT MAX(position) FROM issuance_hooks WHERE mcp_server_id = $1",
                )
                .bind(&hook.mcp_server_id)
                .fetch_one(&mut *tx)
                .await?;
                last.map_or(1, |p| p + 1)
            }
        };
        sqlx::query(&format!(
            "INSERT INTO issuance_hooks ({COLUMNS}, secret_sealed)
             VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11)"
        ))
        .bind(&hook.id)
        .bind(&hook.mcp_server_id)
        .bind(position)
        .bind(&hook.name)
        .bind(&hook.url)
        .bind(&hook.secret_hint)
        .bind(hook.timeout_ms)
        .bind(hook.on_failure.as_str())
        .bind(i64::from(hook.enabled))
        .bind(hook.created_at)
        .bind(secret_sealed.to_vec())
        .execute(&mut *tx)
        .await?;
        tx.commit().await?;
        Ok(IssuanceHook {
            position,
            ..hook.clone()
        })
    }

    /// Deletes one of a server's hooks; returns it, or `None` if the server has no such hook.
    pub async fn delete_hook(
        &self,
        mcp_server_id: &str,
        hook_id: &str,
    ) -> CoreResult<Option<IssuanceHook>> {
        let found = sqlx::query_as::<_, HookRow>(&format!(
            "DELETE FROM issuance_hooks WHERE mcp_server_id = $1 AND id = $2 RETURNING {COLUMNS}"
        ))
        .bind(mcp_server_id)
        .bind(hook_id)
        .fetch_optional(&self.pool)
        .await?;
        found.map(IssuanceHook::try_from).transpose()
    }
}
