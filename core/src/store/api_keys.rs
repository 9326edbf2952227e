//! Admin API keys: the credentials of the REST API (`/api/v1`). The key itself is shown once;
//! only its SHA-256 is stored, and a presented key is found by its hash.

use serde::{Deserialize, Serialize};

use super::Store;
use crate::clock::UnixMillis;
use crate::error::{CoreError, CoreResult};
use crate::ids::UserId;
use crate::secret::{Secret, SecretKind};

/// What a key may do.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum ApiKeyScope {
    /// Reads only (GET).
    Read,
    /// Everything a project admin may do.
    Full,
}

impl ApiKeyScope {
    pub fn as_str(self) -> &'static str {
        match self {
            Self::Read => "read",
            Self::Full => "full",
        }
    }

    pub fn from_name(name: &str) -> Option<Self> {
        match name {
            "read" => Some(Self::Read),
            "full" => Some(Self::Full),
            _ => None,
        }
    }
}

/// A stored key (never the key itself).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ApiKey {
    pub id: String,
    pub name: String,
    /// `mdt_ak_` and the first characters, to tell keys apart.
    pub hint: String,
    pub scope: ApiKeyScope,
    pub created_by: UserId,
    pub created_at: UnixMillis,
    pub last_used_at: Option<UnixMillis>,
    pub revoked_at: Option<UnixMillis>,
}

#[derive(sqlx::FromRow)]
struct ApiKeyRow {
    id: String,
    name: String,
    hint: String,
    scope: String,
    created_by: String,
    created_at: i64,
    last_used_at: Option<i64>,
    revoked_at: Option<i64>,
}

impl TryFrom<ApiKeyRow> for ApiKey {
    type Error = CoreError;
    fn try_from(r: ApiKeyRow) -> CoreResult<Self> {
        Ok(Self {
            scope: ApiKeyScope::from_name(&r.scope)
                .ok_or_else(|| CoreError::Invalid(format!("unknown API key scope {}", r.scope)))?,
            id: r.id,
            name: r.name,
            hint: r.hint,
            created_by: UserId::from_string(r.created_by),
            created_at: r.created_at,
            last_used_at: r.last_used_at,
            revoked_at: r.revoked_at,
        })
    }
}

const COLUMNS: &str = "id, name, hint, scope, created_by, created_at, last_used_at, revoked_at";

/// `last_used_at` is written at most this often per key (it is shown to the minute).
const TOUCH_EVERY_MS: i64 = 60_000;

impl Store {
    /// Creates a key; returns it with the secret, which exists only in this return value.
    pub async fn create_api_key(
        &self,
        name: &str,
        scope: ApiKeyScope,
        created_by: &UserId,
        now: UnixMillis,
    ) -> CoreResult<(ApiKey, Secret)> {
        let secret = Secret::generate(SecretKind::AdminApiKey);
        let key = ApiKey {
            id: uuid::Uuid::now_v7().to_string(),
            name: name.to_owned(),
            hint: secret.expose().chars().take(12).collect(),
            scope,
            created_by: created_by.clone(),
            created_at: now,
            last_used_at: None,
            revoked_at: None,
        };
        sqlx::query(
            "INSERT INTO api_keys (id, name, hint, secret_hash, scope, created_by, created_at)
             VALUES ($1, $2, $3, $4, $5, $6, $7)",
        )
        .bind(&key.id)
        .bind(&key.name)
        .bind(&key.hint)
        .bind(secret.hash().as_str())
        .bind(scope.as_str())
        .bind(created_by.as_str())
        .bind(now)
        .execute(&self.pool)
        .await?;
        Ok((key, secret))
    }

    /// Every key, newest first.
    pub async fn list_api_keys(&self) -> CoreResult<Vec<ApiKey>> {
        sqlx::query_as::<_, ApiKeyRow>(&format!(
            "SELECT {COLUMNS} FROM api_keys ORDER BY created_at DESC, id DESC"
        ))
        .fetch_all(&self.pool)
        .await?
        .into_iter()
        .map(ApiKey::try_from)
        .collect()
    }

    /// The live (not revoked) key `presented` is, noting its use.
    pub async fn authenticate_api_key(
        &self,
        presented: &Secret,
        now: UnixMillis,
    ) -> CoreResult<Option<ApiKey>> {
        // Looked up by hash: a full-entropy secret's SHA-256 is an index key, and equality on
        // it leaks nothing useful about the secret (ARCHITECTURE §2, secret.rs).
        let key = sqlx::query_as::<_, ApiKeyRow>(&format!(
            "SELECT {COLUMNS} FROM api_keys WHERE secret_hash = $1 AND revoked_at IS NULL"
        ))
        .bind(presented.hash().as_str())
        .fetch_optional(&self.pool)
        .await?
        .map(ApiKey::try_from)
        .transpose()?;
        if let Some(key) = &key {
            if key.last_used_at.is_none_or(|t| now - t >= TOUCH_EVERY_MS) {
                sqlx::query("UPDATE api_keys SET last_used_at = $1 WHERE id = $2")
                    .bind(now)
                    .bind(&key.id)
                    .execute(&self.pool)
                    .await?;
            }
        }
        Ok(key)
    }

    /// Revokes a key at once; `false` when there was no such live key.
    pub async fn revoke_api_key(&self, id: &str, now: UnixMillis) -> CoreResult<bool> {
        let done =
            sqlx::query("UPDATE api_keys SET revoked_at = $1 WHERE id = $2 AND revoked_at IS NULL")
                .bind(now)
                .bind(id)
                .execute(&self.pool)
                .await?;
        Ok(done.rows_affected() == 1)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::testing::each_backend;

    #[tokio::test]
    async fn a_key_works_until_revoked_and_only_its_hash_is_stored() {
        for db in each_backend().await {
            let store = db.store().await;
            store.migrate().await.expect("migrate");
            let admin = UserId::from_string("admin-1");
            let (key, secret) = store
                .create_api_key("CI", ApiKeyScope::Read, &admin, 1_000)
                .await
                .expect("create");
            assert!(secret.expose().starts_with("mdt_ak_"));
            assert!(secret.expose().starts_with(&key.hint));
            let stored: String = sqlx::query_scalar("SELECT secret_hash FROM api_keys")
                .fetch_one(store.pool())
                .await
                .expect("row");
            assert_ne!(stored, secret.expose(), "never the key itself");

            let found = store
                .authenticate_api_key(&secret, 2_000)
                .await
                .expect("auth")
                .expect("valid");
            assert_eq!(found.scope, ApiKeyScope::Read);
            let listed = store.list_api_keys().await.expect("list");
            assert_eq!(listed[0].last_used_at, Some(2_000), "use is noted");

            let wrong = Secret::presented("mdt_ak_wrong");
            assert!(store
                .authenticate_api_key(&wrong, 3_000)
                .await
                .expect("auth")
                .is_none());
            assert!(store.revoke_api_key(&key.id, 4_000).await.expect("revoke"));
            assert!(!store.revoke_api_key(&key.id, 5_000).await.expect("again"));
            assert!(store
                .authenticate_api_key(&secret, 6_000)
                .await
                .expect("auth")
                .is_none());
        }
    }
}
