//! Schema migrations, embedded in the binary, one folder per backend in lock-step.

use sqlx::migrate::Migrator;
use std::collections::HashSet;

use super::{Backend, Store};
use crate::error::CoreResult;

static SQLITE: Migrator = sqlx::migrate!("../migrations/sqlite");
static POSTGRES: Migrator = sqlx::migrate!("../migrations/postgres");

/// What [`Store::migrate`] did.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct MigrationReport {
    /// Versions applied by this call, in order.
    pub applied: Vec<i64>,
    /// How many migrations the database has now.
    pub total: usize,
}

/// What `/readyz` reports about the database.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Readiness {
    /// Migrations this binary knows.
    pub expected: usize,
    /// Migrations the database has applied successfully.
    pub applied: usize,
}

impl Readiness {
    pub fn is_ready(&self) -> bool {
        self.applied >= self.expected
    }
}

impl Store {
    fn migrator(&self) -> &'static Migrator {
        match self.backend {
            Backend::Sqlite => &SQLITE,
            Backend::Postgres => &POSTGRES,
        }
    }

    /// Applies the migrations this database lacks. Safe to run on every start.
    pub async fn migrate(&self) -> CoreResult<MigrationReport> {
        let before = self.applied_versions().await;
        self.migrator().run(&self.pool).await?;
        let applied = self
            .migrator()
            .iter()
            .map(|m| m.version)
            .filter(|v| !before.contains(v))
            .collect();
        Ok(MigrationReport {
            applied,
            total: self.migrator().iter().count(),
        })
    }

    /// Checks the database answers and has every migration this binary expects.
    pub async fn readiness(&self) -> CoreResult<Readiness> {
        sqlx::query("SELECT 1").execute(&self.pool).await?;
        let applied = self.applied_versions().await.len();
        Ok(Readiness {
            expected: self.migrator().iter().count(),
            applied,
        })
    }

    /// Versions recorded as applied; empty when the migrations table does not exist yet.
    async fn applied_versions(&self) -> HashSet<i64> {
        sqlx::query_scalar::<_, i64>("SELECT version FROM _sqlx_migrations WHERE success")
            .fetch_all(&self.pool)
            .await
            .map(|v| v.into_iter().collect())
            .unwrap_or_default()
    }
}
