//! Facts about this deployment stored as key/value rows.

use super::Store;
use crate::error::CoreResult;

impl Store {
    /// The value stored under `key`, if any.
    pub async fn deployment_value(&self, key: &str) -> CoreResult<Option<String>> {
        Ok(
            sqlx::query_scalar::<_, String>("SELECT value FROM deployment WHERE key = $1")
                .bind(key)
                .fetch_optional(&self.pool)
                .await?,
        )
    }

    /// Stores `value` under `key` unless a value is there already; returns the value that
    /// is stored afterwards (the existing one wins, so concurrent first starts agree).
    pub async fn deployment_value_or_insert(&self, key: &str, value: &str) -> CoreResult<String> {
        sqlx::query(
            "INSERT INTO deployment (key, value) VALUES ($1, $2) ON CONFLICT (key) DO NOTHING",
        )
        .bind(key)
        .bind(value)
        .execute(&self.pool)
        .await?;
        Ok(
            sqlx::query_scalar::<_, String>("SELECT value FROM deployment WHERE key = $1")
                .bind(key)
                .fetch_one(&self.pool)
                .await?,
        )
    }

    /// Stores `value` under `key`, replacing what was there.
    pub async fn set_deployment_value(&self, key: &str, value: &str) -> CoreResult<()> {
        write_deployment_value(&self.pool, key, value).await
    }
}

/// [`Store::set_deployment_value`] through `executor`: the pool, or a transaction the value
/// must commit with.
pub(crate) async fn write_deployment_value<'e>(
    executor: impl sqlx::Executor<'e, Database = sqlx::Any>,
    key: &str,
    value: &str,
) -> CoreResult<()> {
    sqlx::query(
        "INSERT INTO deployment (key, value) VALUES ($1, $2)
         ON CONFLICT (key) DO UPDATE SET value = excluded.value",
    )
    .bind(key)
    .bind(value)
    .execute(executor)
    .await?;
    Ok(())
}
