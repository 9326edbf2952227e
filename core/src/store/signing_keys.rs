//! Token signing keys. Rotation retires the active key and adds a new one in one transaction;
//! retired keys stay published so tokens they signed keep verifying until they expire.

use sqlx::FromRow;

use super::{json, Store};
use crate::clock::UnixMillis;
use crate::error::CoreResult;
use crate::oauth::tokens::{NewSigningKey, StoredSigningKey};

#[derive(FromRow)]
struct KeyRow {
    kid: String,
    public_jwk: String,
    private_sealed: Vec<u8>,
    status: String,
    created_at: i64,
}

impl Store {
    /// Every published key (active and retired), oldest first.
    pub async fn signing_keys(&self) -> CoreResult<Vec<StoredSigningKey>> {
        let rows = sqlx::query_as::<_, KeyRow>(
            "SELECT kid, public_jwk, private_sealed, status, created_at FROM signing_keys
             ORDER BY created_at, kid",
        )
        .fetch_all(&self.pool)
        .await?;
        rows.into_iter()
            .map(|r| {
                Ok(StoredSigningKey {
                    public_jwk: json::decode(&r.public_jwk)?,
                    kid: r.kid,
                    private_sealed: r.private_sealed,
                    active: r.status == "active",
                    created_at: r.created_at,
                })
            })
            .collect()
    }

    /// Makes `key` the active key; the previously active ones become retired.
    pub async fn rotate_signing_key(&self, key: &NewSigningKey, now: UnixMillis) -> CoreResult<()> {
        let mut tx = self.begin_write().await?;
        sqlx::query(
            "UPDATE signing_keys SET status = 'retired', retired_at = $1 WHERE status = 'active'",
        )
        .bind(now)
        .execute(&mut *tx)
        .await?;
        sqlx::query(
            "INSERT INTO signing_keys (kid, alg, public_jwk, private_sealed, status, created_at)
             VALUES ($1, 'ES256', $2, $3, 'active', $4)",
        )
        .bind(&key.kid)
        .bind(json::encode(&key.public_jwk)?)
        .bind(key.private_sealed.clone())
        .bind(now)
        .execute(&mut *tx)
        .await?;
        tx.commit().await?;
        Ok(())
    }
}
