//! Storage over sqlx's `Any` driver: one set of portable SQL for SQLite (the embedded default)
//! and PostgreSQL. Rules (ARCHITECTURE.md §2): `$n` placeholders; ids, JSON and URLs as TEXT;
//! times as BIGINT unix ms; booleans as INTEGER 0/1; every multi-row change in one transaction.

pub mod agent_admin;
pub mod agents;
pub mod api_keys;
pub mod connections;
pub mod deployment;
pub mod factors;
pub mod fresh_refresh;
pub mod grants;
pub mod hooks;
mod json;
mod live_tokens;
pub mod mcp_servers;
pub mod migrate;
pub mod people;
pub mod policies;
pub mod signing_keys;
pub mod sso;
pub mod tenants;
pub mod token_sweep;
pub mod tokens;
pub mod users;
mod where_clause;

use sqlx::any::{AnyConnectOptions, AnyPoolOptions};
use sqlx::AnyPool;
use std::path::Path;
use std::str::FromStr;
use std::time::Duration;

use crate::error::{CoreError, CoreResult};

pub use migrate::{MigrationReport, Readiness};

/// Which database engine a [`Store`] talks to.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Backend {
    Sqlite,
    Postgres,
}

impl Backend {
    /// Picks the backend from a database URL, or `None` for an unsupported scheme.
    pub fn from_url(url: &str) -> Option<Self> {
        if url.starts_with("sqlite:") {
            Some(Self::Sqlite)
        } else if url.starts_with("postgres://") || url.starts_with("postgresql://") {
            Some(Self::Postgres)
        } else {
            None
        }
    }

    /// How a multi-row INSERT of a batch begins (the audit writer's events and tokens). On
    /// SQLite, `OR FAIL`: a constraint violation still fails the statement, and the batch's
    /// transaction is then dropped whole, but SQLite no longer has to copy every page the
    /// statement touches into a statement journal in case that one statement must be undone
    /// (the default `ABORT` keeps one for a multi-row statement inside a transaction: about a
    /// tenth of the token endpoint's time went to it).
    pub(crate) fn batch_insert(self) -> &'static str {
        match self {
            Self::Sqlite => "INSERT OR FAIL INTO",
            Self::Postgres => "INSERT INTO",
        }
    }

    pub fn name(self) -> &'static str {
        match self {
            Self::Sqlite => "sqlite",
            Self::Postgres => "postgres",
        }
    }
}

/// The connection pool and the backend it serves. Cheap to clone.
#[derive(Debug, Clone)]
pub struct Store {
    pool: AnyPool,
    backend: Backend,
    /// Access tokens recently read as not revoked (shared by clones; see `live_tokens`).
    live_tokens: std::sync::Arc<live_tokens::LiveTokens>,
    /// Refresh tokens just issued by this process (shared by clones; see `fresh_refresh`).
    fresh_refresh: std::sync::Arc<fresh_refresh::FreshRefreshTokens>,
}

/// How to open the store.
#[derive(Debug, Clone)]
pub struct StoreOptions {
    pub max_connections: u32,
    pub acquire_timeout: Duration,
}

impl Default for StoreOptions {
    fn default() -> Self {
        Self {
            max_connections: 8,
            acquire_timeout: Duration::from_secs(10),
        }
    }
}

impl Store {
    /// Opens a pool on `url` (a `sqlite:` path, created with its folder if missing, or a
    /// `postgres://` URL). Does not migrate: call [`Store::migrate`].
    pub async fn connect(url: &str, options: &StoreOptions) -> CoreResult<Self> {
        sqlx::any::install_default_drivers();
        let backend = Backend::from_url(url).ok_or_else(|| {
            CoreError::Invalid("the database URL must start with sqlite: or postgres://".into())
        })?;
        let url = match backend {
            Backend::Sqlite => prepare_sqlite_url(url)?,
            Backend::Postgres => url.to_owned(),
        };
        let connect_options = AnyConnectOptions::from_str(&url)?;
        let mut pool_options = AnyPoolOptions::new()
            .max_connections(options.max_connections)
            .acquire_timeout(options.acquire_timeout);
        if backend == Backend::Sqlite {
            // A connection to a local file does not go stale between uses, so handing one out
            // needs no ping first: on SQLite that ping is a round trip to the connection's
            // thread before every pooled statement.
            pool_options = pool_options.test_before_acquire(false);
            pool_options = pool_options.after_connect(|conn, _meta| {
                Box::pin(async move {
                    // WAL lets readers run beside the one writer; NORMAL sync in WAL mode keeps
                    // every commit across a process crash (only power loss can drop the tail).
                    // busy_timeout makes writers queue instead of failing with SQLITE_BUSY.
                    sqlx::query("PRAGMA journal_mode = WAL")
                        .execute(&mut *conn)
                        .await?;
                    sqlx::query("PRAGMA synchronous = NORMAL")
                        .execute(&mut *conn)
                        .await?;
                    sqlx::query("PRAGMA busy_timeout = 5000")
                        .execute(&mut *conn)
                        .await?;
                    sqlx::query("PRAGMA foreign_keys = ON")
                        .execute(&mut *conn)
                        .await?;
                    // A running server checkpoints in the background (see
                    // `spawn_wal_checkpointer`), so a commit rarely has to; this is the safety
                    // net for when it cannot keep up, and for the CLI's short runs. (A larger
                    // threshold, 32,768 pages, made no difference to the tail under load.)
                    sqlx::query("PRAGMA wal_autocheckpoint = 8000")
                        .execute(&mut *conn)
                        .await?;
                    // Statement journals in memory: a multi-row INSERT into a table with a
                    // foreign key (the audit writer's refresh-token rows) keeps one, and past
                    // 64 KiB SQLite spilled it to a temporary file: an open, unlink and a
                    // dozen page writes per batch under refresh load.
                    sqlx::query("PRAGMA temp_store = MEMORY")
                        .execute(&mut *conn)
                        .await?;
                    Ok(())
                })
            });
        }
        let pool = pool_options.connect_with(connect_options).await?;
        Ok(Self {
            pool,
            backend,
            live_tokens: std::sync::Arc::default(),
            fresh_refresh: std::sync::Arc::default(),
        })
    }

    pub fn backend(&self) -> Backend {
        self.backend
    }

    pub fn pool(&self) -> &AnyPool {
        &self.pool
    }

    /// Starts a transaction that will write. On SQLite it takes the write lock up front
    /// (`BEGIN IMMEDIATE`), so concurrent writers wait for each other (busy_timeout) instead of
    /// failing with SQLITE_BUSY when a read inside the transaction would need upgrading.
    pub async fn begin_write(&self) -> CoreResult<sqlx::Transaction<'static, sqlx::Any>> {
        Ok(match self.backend {
            Backend::Sqlite => self.pool.begin_with("BEGIN IMMEDIATE").await?,
            Backend::Postgres => self.pool.begin().await?,
        })
    }

    /// [`Store::begin_write`] on a connection the caller holds.
    pub async fn begin_write_on<'c>(
        &self,
        conn: &'c mut sqlx::AnyConnection,
    ) -> CoreResult<sqlx::Transaction<'c, sqlx::Any>> {
        use sqlx::Connection;
        Ok(match self.backend {
            Backend::Sqlite => conn.begin_with("BEGIN IMMEDIATE").await?,
            Backend::Postgres => conn.begin().await?,
        })
    }

    /// On SQLite, copies the write-ahead log into the database file in the background
    /// (`PRAGMA wal_checkpoint(PASSIVE)`, which neither waits for nor blocks a writer), on its
    /// own connection and thread: after each change `commits` announces, at most once per
    /// `spacing`, and at least every [`CHECKPOINT_AT_LEAST_EVERY`] for writes it does not
    /// announce. `None` on PostgreSQL.
    ///
    /// Why small and often: under sustained writes a passive checkpoint rarely finds the log
    /// fully copied (a commit lands while it runs), so the log is seldom restarted and grows to
    /// the autocheckpoint threshold; the commit that crosses it checkpoints inline, syncing
    /// every log page written since the last background checkpoint, and every request waiting
    /// on that commit waits for the disk. The less there is to sync, the shorter that stall:
    /// client_credentials at 32 connections on one core had a p99 of 5.4–6.1 ms with a
    /// checkpoint every 50 ms (9.4 ms every 200 ms, 28 ms every second) and 3.7 ms with this
    /// pacing, throughput unchanged.
    pub fn spawn_wal_checkpointer(
        &self,
        spacing: Duration,
        mut commits: tokio::sync::watch::Receiver<i64>,
    ) -> Option<tokio::task::JoinHandle<()>> {
        if self.backend != Backend::Sqlite {
            return None;
        }
        let pool_options = self.pool.connect_options();
        Some(tokio::spawn(async move {
            let mut connection: Option<sqlx::SqliteConnection> = None;
            loop {
                match tokio::time::timeout(CHECKPOINT_AT_LEAST_EVERY, commits.changed()).await {
                    Ok(Ok(())) | Err(_) => {}
                    // Nothing announces commits any more: checkpoint on the clock alone.
                    Ok(Err(_)) => tokio::time::sleep(CHECKPOINT_AT_LEAST_EVERY).await,
                }
                if connection.is_none() {
                    match checkpoint_connection(&pool_options).await {
                        Ok(conn) => connection = Some(conn),
                        Err(e) => {
                            tracing::warn!(error = %e, "WAL checkpointer cannot connect; will retry");
                            tokio::time::sleep(CHECKPOINT_AT_LEAST_EVERY).await;
                            continue;
                        }
                    }
                }
                if let Some(conn) = connection.as_mut() {
                    if let Err(e) = sqlx::query("PRAGMA wal_checkpoint(PASSIVE)")
                        .execute(&mut *conn)
                        .await
                    {
                        tracing::warn!(error = %e, "WAL checkpoint failed; will retry");
                        connection = None;
                    }
                }
                tokio::time::sleep(spacing).await;
            }
        }))
    }

    /// Closes every connection; pending queries finish first.
    pub async fn close(&self) {
        self.pool.close().await;
    }
}

/// How long the WAL checkpointer waits, at most, for a commit to be announced.
pub const CHECKPOINT_AT_LEAST_EVERY: Duration = Duration::from_secs(1);

/// The checkpointer's own connection, to the pool's database: it never waits for (or takes) one
/// of the pool's, and its worker thread is named so `top -H` tells it apart.
async fn checkpoint_connection(
    pool_options: &AnyConnectOptions,
) -> CoreResult<sqlx::SqliteConnection> {
    use sqlx::sqlite::SqliteConnectOptions;
    use sqlx::ConnectOptions;
    let options = SqliteConnectOptions::try_from(pool_options)?
        .synchronous(sqlx::sqlite::SqliteSynchronous::Normal)
        .thread_name(|_| "mandate-wal-ckpt".to_owned());
    Ok(options.connect().await?)
}

/// For SQLite: creates the file's folder and asks sqlx to create the file (`mode=rwc`).
fn prepare_sqlite_url(url: &str) -> CoreResult<String> {
    let rest = url.trim_start_matches("sqlite:").trim_start_matches("//");
    let (path, query) = rest.split_once('?').unwrap_or((rest, ""));
    if path.is_empty() || path == ":memory:" {
        return Err(CoreError::Invalid(
            "an in-memory SQLite database is not supported: give a file path".into(),
        ));
    }
    if let Some(parent) = Path::new(path).parent() {
        if !parent.as_os_str().is_empty() {
            std::fs::create_dir_all(parent).map_err(|e| {
                CoreError::Invalid(format!(
                    "cannot create the folder {}: {e}",
                    parent.display()
                ))
            })?;
        }
    }
    let query = if query.split('&').any(|kv| kv.starts_with("mode=")) {
        query.to_owned()
    } else if query.is_empty() {
        "mode=rwc".to_owned()
    } else {
        format!("{query}&mode=rwc")
    };
    Ok(format!("sqlite://{path}?{query}"))
}

/// Maps a unique-constraint violation to [`CoreError::AlreadyExists`].
pub(crate) trait ResultExt<T> {
    fn on_unique(self, what: &'static str) -> CoreResult<T>;
}

impl<T> ResultExt<T> for Result<T, sqlx::Error> {
    fn on_unique(self, what: &'static str) -> CoreResult<T> {
        self.map_err(|e| match &e {
            sqlx::Error::Database(db) if db.is_unique_violation() => {
                CoreError::AlreadyExists { what }
            }
            _ => CoreError::Database(e),
        })
    }
}

/// The VALUES rows of a multi-row INSERT of `rows` rows of `cols` columns: `($1, $2, …), …` on
/// PostgreSQL; anonymous `(?, ?, …), …` on SQLite, whose lookup of a numbered parameter's name
/// walks a list (binding n numbered parameters costs n², a profile's top entry at 1,280).
pub(crate) fn values_placeholders(backend: Backend, rows: usize, cols: usize) -> String {
    let row = |r: usize| -> String {
        let cells: Vec<String> = match backend {
            Backend::Sqlite => vec!["?".to_owned(); cols],
            Backend::Postgres => (1..=cols).map(|c| format!("${}", r * cols + c)).collect(),
        };
        format!("({})", cells.join(", "))
    };
    (0..rows).map(row).collect::<Vec<_>>().join(", ")
}

/// Splits `rows` into slices whose lengths are powers of two, at most `max` (a power of two),
/// largest first: 37 rows at most 64 are 32 + 4 + 1. A multi-row INSERT's text depends on its
/// row count, and each text is a prepared statement in the connection's cache; a few fixed
/// sizes keep every batch's statements cached instead of preparing one per batch size.
pub(crate) fn power_of_two_chunks<T>(rows: &[T], max: usize) -> Vec<&[T]> {
    debug_assert!(max.is_power_of_two());
    let mut chunks = Vec::new();
    let mut rest = rows;
    while !rest.is_empty() {
        let size = max.min(1 << rest.len().ilog2());
        let (chunk, tail) = rest.split_at(size);
        chunks.push(chunk);
        rest = tail;
    }
    chunks
}

/// Booleans are stored as INTEGER 0/1 on both backends.
pub(crate) fn flag(value: bool) -> i64 {
    i64::from(value)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn multi_row_placeholders_number_every_cell() {
        assert_eq!(
            values_placeholders(Backend::Postgres, 2, 3),
            "($1, $2, $3), ($4, $5, $6)"
        );
        assert_eq!(values_placeholders(Backend::Postgres, 1, 1), "($1)");
        assert_eq!(values_placeholders(Backend::Sqlite, 2, 2), "(?, ?), (?, ?)");
    }

    /// A store whose log holds ~1 MB of rows (far below the autocheckpoint threshold, so they
    /// stay in the log unless something checkpoints), the database file's path and its length
    /// before.
    async fn store_with_a_full_log() -> (crate::testing::TestDatabase, Store, String, u64) {
        let db = crate::testing::sqlite();
        let store = db.store().await;
        store.migrate().await.expect("migrate");
        sqlx::query("PRAGMA wal_checkpoint(TRUNCATE)")
            .execute(store.pool())
            .await
            .expect("start from an empty log");
        let path = db.url.trim_start_matches("sqlite://").to_owned();
        let before = file_len(&path);
        let big = "x".repeat(4_000);
        for i in 0..250 {
            sqlx::query("INSERT INTO deployment (key, value) VALUES ($1, $2)")
                .bind(format!("filler-{i}"))
                .bind(&big)
                .execute(store.pool())
                .await
                .expect("insert");
        }
        assert_eq!(
            file_len(&path),
            before,
            "the rows are still only in the log"
        );
        (db, store, path, before)
    }

    fn file_len(path: &str) -> u64 {
        std::fs::metadata(path).map(|m| m.len()).unwrap_or(0)
    }

    /// Whether the database file grows by the log's rows within `within`.
    async fn copied_within(path: &str, before: u64, within: Duration) -> bool {
        let deadline = tokio::time::Instant::now() + within;
        while tokio::time::Instant::now() < deadline {
            if file_len(path) > before + 500_000 {
                return true;
            }
            tokio::time::sleep(Duration::from_millis(10)).await;
        }
        false
    }

    #[tokio::test]
    async fn an_announced_commit_is_checkpointed_without_waiting_for_the_clock() {
        let (_db, store, path, before) = store_with_a_full_log().await;
        let (commits, announced) = tokio::sync::watch::channel(0);
        let task = store
            .spawn_wal_checkpointer(Duration::from_millis(10), announced)
            .expect("SQLite has a checkpointer");
        commits.send_replace(250);
        // Well inside the clock's period: only the announcement can have started it.
        let copied = copied_within(&path, before, CHECKPOINT_AT_LEAST_EVERY / 2).await;
        task.abort();
        assert!(
            copied,
            "the database file grew from {before} to {} bytes",
            file_len(&path)
        );
    }

    #[tokio::test]
    async fn with_nothing_announcing_commits_the_checkpointer_runs_on_the_clock() {
        let (_db, store, path, before) = store_with_a_full_log().await;
        let (commits, announced) = tokio::sync::watch::channel(0);
        drop(commits);
        let task = store
            .spawn_wal_checkpointer(Duration::from_millis(10), announced)
            .expect("SQLite has a checkpointer");
        let copied = copied_within(&path, before, CHECKPOINT_AT_LEAST_EVERY * 3).await;
        task.abort();
        assert!(
            copied,
            "the database file grew from {before} to {} bytes",
            file_len(&path)
        );
    }

    #[test]
    fn power_of_two_chunks_cover_every_row_in_order() {
        let rows: Vec<u32> = (0..37).collect();
        let sizes: Vec<usize> = power_of_two_chunks(&rows, 64)
            .iter()
            .map(|c| c.len())
            .collect();
        assert_eq!(sizes, [32, 4, 1]);
        let rows: Vec<u32> = (0..200).collect();
        let chunks = power_of_two_chunks(&rows, 64);
        let sizes: Vec<usize> = chunks.iter().map(|c| c.len()).collect();
        assert_eq!(sizes, [64, 64, 64, 8]);
        assert_eq!(chunks.concat(), rows);
        assert!(power_of_two_chunks::<u32>(&[], 64).is_empty());
        assert_eq!(power_of_two_chunks(&[7], 64), [&[7][..]]);
    }

    #[test]
    fn backend_is_chosen_by_scheme() {
        assert_eq!(
            Backend::from_url("sqlite://data/m.db"),
            Some(Backend::Sqlite)
        );
        assert_eq!(Backend::from_url("sqlite:m.db"), Some(Backend::Sqlite));
        assert_eq!(
            Backend::from_url("postgres://u@h/db"),
            Some(Backend::Postgres)
        );
        assert_eq!(
            Backend::from_url("postgresql://u@h/db"),
            Some(Backend::Postgres)
        );
        assert_eq!(Backend::from_url("mysql://u@h/db"), None);
    }

    #[test]
    fn sqlite_urls_gain_create_mode_once() {
        let dir = std::env::temp_dir().join(format!("mandate-url-{}", uuid::Uuid::new_v4()));
        let file = dir.join("x.db");
        let url = format!("sqlite://{}", file.display());
        assert_eq!(
            prepare_sqlite_url(&url).expect("url"),
            format!("{url}?mode=rwc")
        );
        assert!(dir.is_dir(), "the folder is created");
        let with_mode = format!("{url}?mode=ro");
        assert_eq!(prepare_sqlite_url(&with_mode).expect("url"), with_mode);
        assert!(prepare_sqlite_url("sqlite::memory:").is_err());
        let _ = std::fs::remove_dir_all(dir);
    }
}

#[cfg(test)]
mod admin_contract_tests;
#[cfg(test)]
mod contract_tests;
#[cfg(test)]
mod identity_contract_tests;
#[cfg(test)]
mod vault_contract_tests;
