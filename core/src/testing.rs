//! Fresh databases for tests: a new SQLite file, or a new PostgreSQL database on the server
//! named by `MANDATE_TEST_POSTGRES_URL` (default `postgres://postgres@127.0.0.1:5432/postgres`).
//! Every test makes its own; nothing is shared between tests.

use sqlx::Connection;
use std::path::PathBuf;

use crate::store::{Backend, Store, StoreOptions};

/// Prefix of every database the tests create, so a test run can drop leftovers.
pub const TEST_DATABASE_PREFIX: &str = "mandate_t_";

/// A database made for one test; a SQLite folder is removed on drop.
#[derive(Debug)]
pub struct TestDatabase {
    pub backend: Backend,
    pub url: String,
    dir: Option<PathBuf>,
}

impl Drop for TestDatabase {
    fn drop(&mut self) {
        if let Some(dir) = &self.dir {
            let _ = std::fs::remove_dir_all(dir);
        }
    }
}

impl TestDatabase {
    /// Opens (without migrating) a store on this database.
    pub async fn store(&self) -> Store {
        Store::connect(&self.url, &StoreOptions::default())
            .await
            .unwrap_or_else(|e| panic!("cannot open test database {}: {e}", self.url))
    }
}

/// A temporary folder that is removed with the returned database (for other test files too).
pub fn temp_dir(label: &str) -> PathBuf {
    let dir =
        std::env::temp_dir().join(format!("mandate-{label}-{}", uuid::Uuid::new_v4().simple()));
    std::fs::create_dir_all(&dir)
        .unwrap_or_else(|e| panic!("cannot create {}: {e}", dir.display()));
    dir
}

/// A new, empty SQLite database file in its own folder.
pub fn sqlite() -> TestDatabase {
    let dir = temp_dir("test");
    TestDatabase {
        backend: Backend::Sqlite,
        url: format!("sqlite://{}", dir.join("mandate.db").display()),
        dir: Some(dir),
    }
}

/// The PostgreSQL server tests use.
pub fn postgres_admin_url() -> String {
    std::env::var("MANDATE_TEST_POSTGRES_URL")
        .unwrap_or_else(|_| "postgres://postgres@127.0.0.1:5432/postgres".into())
}

/// Drops a PostgreSQL test database (benchmarks fill big ones; tests leave theirs to the next
/// run's clean-up).
pub async fn drop_postgres(db: &TestDatabase) {
    let name = db.url.rsplit('/').next().unwrap_or_default();
    if let Ok(mut admin) = sqlx::PgConnection::connect(&postgres_admin_url()).await {
        let _ = sqlx::query(&format!("DROP DATABASE IF EXISTS \"{name}\""))
            .execute(&mut admin)
            .await;
    }
}

/// A new, empty PostgreSQL database, or `None` (with a loud line) when no server can be
/// reached outside CI. Under `CI` an unreachable server fails the test.
pub async fn postgres() -> Option<TestDatabase> {
    let admin_url = postgres_admin_url();
    let mut conn = match sqlx::PgConnection::connect(&admin_url).await {
        Ok(conn) => conn,
        Err(e) if std::env::var_os("CI").is_none() => {
            eprintln!(
                "!!! SKIPPING the PostgreSQL half of this test: cannot reach {admin_url}: {e}"
            );
            return None;
        }
        Err(e) => panic!("CI is set but PostgreSQL at {admin_url} cannot be reached: {e}"),
    };
    let name = format!("{TEST_DATABASE_PREFIX}{}", uuid::Uuid::new_v4().simple());
    sqlx::query(&format!("CREATE DATABASE \"{name}\""))
        .execute(&mut conn)
        .await
        .unwrap_or_else(|e| panic!("cannot create database {name}: {e}"));
    let _ = conn.close().await;
    let mut url = url::Url::parse(&admin_url).unwrap_or_else(|e| panic!("bad {admin_url}: {e}"));
    url.set_path(&name);
    Some(TestDatabase {
        backend: Backend::Postgres,
        url: url.to_string(),
        dir: None,
    })
}

/// A fresh SQLite database and, where reachable, a fresh PostgreSQL one.
pub async fn each_backend() -> Vec<TestDatabase> {
    let mut dbs = vec![sqlite()];
    dbs.extend(postgres().await);
    dbs
}
