//! Policies (conditions and allows as JSON).

use sqlx::FromRow;

use super::{json, Store};
use crate::clock::UnixMillis;
use crate::error::CoreResult;
use crate::policy::Policy;

#[derive(FromRow)]
struct PolicyRow {
    id: String,
    name: String,
    description: String,
    conditions: String,
    allows: String,
}

impl TryFrom<PolicyRow> for Policy {
    type Error = crate::CoreError;
    fn try_from(r: PolicyRow) -> CoreResult<Self> {
        Ok(Policy {
            id: r.id,
            name: r.name,
            description: r.description,
            conditions: json::decode(&r.conditions)?,
            allows: json::decode(&r.allows)?,
        })
    }
}

impl Store {
    /// Stores a policy; its conditions should have passed [`crate::policy::Condition::validate`].
    pub async fn insert_policy(&self, policy: &Policy, now: UnixMillis) -> CoreResult<()> {
        sqlx::query(
            "INSERT INTO policies (id, name, description, conditions, allows, created_at, updated_at)
             VALUES ($1, $2, $3, $4, $5, $6, $6)",
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

    /// Every policy, oldest first.
    pub async fn policies(&self) -> CoreResult<Vec<Policy>> {
        sqlx::query_as::<_, PolicyRow>(
            "SELECT id, name, description, conditions, allows FROM policies ORDER BY created_at, id",
        )
        .fetch_all(&self.pool)
        .await?
        .into_iter()
        .map(Policy::try_from)
        .collect()
    }

    /// Up to `limit` policies after the one with id `after`, in creation order (ids are
    /// time-ordered UUIDv7, so the primary key is the keyset).
    pub async fn policies_page(&self, after: Option<&str>, limit: i64) -> CoreResult<Vec<Policy>> {
        sqlx::query_as::<_, PolicyRow>(
            "SELECT id, name, description, conditions, allows FROM policies
             WHERE id > $1 ORDER BY id LIMIT $2",
        )
        .bind(after.unwrap_or(""))
        .bind(limit)
        .fetch_all(&self.pool)
        .await?
        .into_iter()
        .map(Policy::try_from)
        .collect()
    }

    pub async fn policy(&self, id: &str) -> CoreResult<Option<Policy>> {
        sqlx::query_as::<_, PolicyRow>(
            "SELECT id, name, description, conditions, allows FROM policies WHERE id = $1",
        )
        .bind(id)
        .fetch_optional(&self.pool)
        .await?
        .map(Policy::try_from)
        .transpose()
    }

    /// Deletes a policy; `false` when there was none with this id.
    pub async fn delete_policy(&self, id: &str) -> CoreResult<bool> {
        let done = sqlx::query("DELETE FROM policies WHERE id = $1")
            .bind(id)
            .execute(&self.pool)
            .await?;
        Ok(done.rows_affected() == 1)
    }
}
