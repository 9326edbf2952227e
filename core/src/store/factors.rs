//! Second factors: a TOTP credential per user (secret sealed by the caller), single-use
//! recovery codes (hashes only) and passkeys (webauthn-rs credentials as JSON).

use sqlx::FromRow;

use super::{ResultExt, Store};
use crate::clock::UnixMillis;
use crate::error::CoreResult;
use crate::secret::SecretHash;

#[derive(Debug, Clone, PartialEq, Eq, FromRow)]
pub struct TotpCredential {
    pub secret_sealed: Vec<u8>,
    pub confirmed_at: Option<i64>,
    pub last_step: i64,
}

#[derive(Debug, Clone, PartialEq, Eq, FromRow)]
pub struct StoredPasskey {
    pub credential_id: String,
    pub user_id: String,
    pub name: String,
    pub credential: String,
    pub created_at: i64,
    pub last_used_at: Option<i64>,
}

const PASSKEY_COLUMNS: &str = "credential_id, user_id, name, credential, created_at, last_used_at";

impl Store {
    /// Starts (or restarts) TOTP enrolment with a new sealed secret. A confirmed credential
    /// is left alone: it must be removed first. Returns whether the secret was stored.
    pub async fn start_totp_enrolment(
        &self,
        user_id: &str,
        secret_sealed: &[u8],
        now: UnixMillis,
    ) -> CoreResult<bool> {
        let done = sqlx::query(
            "INSERT INTO totp_credentials (user_id, secret_sealed, confirmed_at, last_step, created_at)
             VALUES ($1, $2, NULL, -1, $3)
             ON CONFLICT (user_id) DO UPDATE SET
                secret_sealed = excluded.secret_sealed, last_step = -1,
                created_at = excluded.created_at
             WHERE totp_credentials.confirmed_at IS NULL",
        )
        .bind(user_id)
        .bind(secret_sealed.to_vec())
        .bind(now)
        .execute(&self.pool)
        .await?;
        Ok(done.rows_affected() > 0)
    }

    pub async fn totp_credential(&self, user_id: &str) -> CoreResult<Option<TotpCredential>> {
        Ok(sqlx::query_as::<_, TotpCredential>(
            "SELECT secret_sealed, confirmed_at, last_step FROM totp_credentials WHERE user_id = $1",
        )
        .bind(user_id)
        .fetch_optional(&self.pool)
        .await?)
    }

    /// Records that `step` was used, confirming the credential if it was pending. Atomic: of
    /// two concurrent uses of one code, exactly one gets `true` (RFC 6238 §5.2).
    pub async fn use_totp_step(
        &self,
        user_id: &str,
        step: i64,
        now: UnixMillis,
    ) -> CoreResult<bool> {
        let done = sqlx::query(
            "UPDATE totp_credentials SET last_step = $2, confirmed_at = COALESCE(confirmed_at, $3)
             WHERE user_id = $1 AND last_step < $2",
        )
        .bind(user_id)
        .bind(step)
        .bind(now)
        .execute(&self.pool)
        .await?;
        Ok(done.rows_affected() > 0)
    }

    pub async fn delete_totp(&self, user_id: &str) -> CoreResult<()> {
        sqlx::query("DELETE FROM totp_credentials WHERE user_id = $1")
            .bind(user_id)
            .execute(&self.pool)
            .await?;
        Ok(())
    }

    /// Replaces the user's recovery codes with a new set (the old ones stop working).
    pub async fn replace_recovery_codes(
        &self,
        user_id: &str,
        hashes: &[SecretHash],
        now: UnixMillis,
    ) -> CoreResult<()> {
        let mut tx = self.begin_write().await?;
        sqlx::query("DELETE FROM recovery_codes WHERE user_id = $1")
            .bind(user_id)
            .execute(&mut *tx)
            .await?;
        for hash in hashes {
            sqlx::query(
                "INSERT INTO recovery_codes (user_id, code_hash, used_at, created_at)
                 VALUES ($1, $2, NULL, $3)",
            )
            .bind(user_id)
            .bind(hash.as_str())
            .bind(now)
            .execute(&mut *tx)
            .await?;
        }
        tx.commit().await?;
        Ok(())
    }

    /// Uses a recovery code once: `true` for the one caller that consumed it.
    pub async fn use_recovery_code(
        &self,
        user_id: &str,
        hash: &SecretHash,
        now: UnixMillis,
    ) -> CoreResult<bool> {
        let done = sqlx::query(
            "UPDATE recovery_codes SET used_at = $3
             WHERE user_id = $1 AND code_hash = $2 AND used_at IS NULL",
        )
        .bind(user_id)
        .bind(hash.as_str())
        .bind(now)
        .execute(&self.pool)
        .await?;
        Ok(done.rows_affected() > 0)
    }

    pub async fn recovery_codes_left(&self, user_id: &str) -> CoreResult<i64> {
        Ok(sqlx::query_scalar::<_, i64>(
            "SELECT COUNT(*) FROM recovery_codes WHERE user_id = $1 AND used_at IS NULL",
        )
        .bind(user_id)
        .fetch_one(&self.pool)
        .await?)
    }

    pub async fn insert_passkey(&self, passkey: &StoredPasskey) -> CoreResult<()> {
        sqlx::query(&format!(
            "INSERT INTO passkeys ({PASSKEY_COLUMNS}) VALUES ($1, $2, $3, $4, $5, $6)"
        ))
        .bind(&passkey.credential_id)
        .bind(&passkey.user_id)
        .bind(&passkey.name)
        .bind(&passkey.credential)
        .bind(passkey.created_at)
        .bind(passkey.last_used_at)
        .execute(&self.pool)
        .await
        .on_unique("this passkey")?;
        Ok(())
    }

    pub async fn passkeys_of(&self, user_id: &str) -> CoreResult<Vec<StoredPasskey>> {
        Ok(sqlx::query_as::<_, StoredPasskey>(&format!(
            "SELECT {PASSKEY_COLUMNS} FROM passkeys WHERE user_id = $1 ORDER BY created_at, credential_id"
        ))
        .bind(user_id)
        .fetch_all(&self.pool)
        .await?)
    }

    pub async fn passkey(&self, credential_id: &str) -> CoreResult<Option<StoredPasskey>> {
        Ok(sqlx::query_as::<_, StoredPasskey>(&format!(
            "SELECT {PASSKEY_COLUMNS} FROM passkeys WHERE credential_id = $1"
        ))
        .bind(credential_id)
        .fetch_optional(&self.pool)
        .await?)
    }

    /// Stores the credential after a sign-in (its signature counter may have moved).
    pub async fn update_passkey_use(
        &self,
        credential_id: &str,
        credential: &str,
        now: UnixMillis,
    ) -> CoreResult<()> {
        sqlx::query(
            "UPDATE passkeys SET credential = $2, last_used_at = $3 WHERE credential_id = $1",
        )
        .bind(credential_id)
        .bind(credential)
        .bind(now)
        .execute(&self.pool)
        .await?;
        Ok(())
    }

    pub async fn delete_passkey(&self, user_id: &str, credential_id: &str) -> CoreResult<bool> {
        let done = sqlx::query("DELETE FROM passkeys WHERE user_id = $1 AND credential_id = $2")
            .bind(user_id)
            .bind(credential_id)
            .execute(&self.pool)
            .await?;
        Ok(done.rows_affected() > 0)
    }
}
