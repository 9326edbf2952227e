//! `TestServer`: Mandate started in-process on a random port against a test database.

use mandate_core::testing::{temp_dir, TestDatabase};
use mandate_server::config::Config;
use mandate_server::startup::{self, Prepared};
use std::collections::BTreeMap;
use std::path::Path;
use tokio::sync::oneshot;
use tokio::task::JoinHandle;

/// What a start reported, kept after the server is stopped.
pub struct StartReport {
    pub applied_migrations: Vec<i64>,
    pub total_migrations: usize,
    pub first_admin_email: Option<String>,
}

pub struct TestServer {
    pub base_url: String,
    pub report: StartReport,
    pub store: mandate_core::store::Store,
    stop: Option<oneshot::Sender<()>>,
    task: Option<JoinHandle<Result<(), startup::StartupError>>>,
}

/// The settings a test server runs with: its database, its own data dir, a random port.
pub fn test_env(db: &TestDatabase, data_dir: &Path) -> BTreeMap<String, String> {
    [
        ("MANDATE_DATABASE_URL", db.url.clone()),
        ("MANDATE_DATA_DIR", data_dir.display().to_string()),
        ("MANDATE_BIND", "127.0.0.1:0".to_owned()),
        (
            "MANDATE_SITE_ROOT",
            data_dir.join("site").display().to_string(),
        ),
    ]
    .into_iter()
    .map(|(k, v)| (k.to_owned(), v))
    .collect()
}

impl TestServer {
    /// Starts on `db` with a fresh data dir.
    pub async fn start(db: &TestDatabase) -> Self {
        Self::start_in(db, &temp_dir("server")).await
    }

    /// Starts on `db` with `data_dir` (reuse it to restart on the same master key).
    pub async fn start_in(db: &TestDatabase, data_dir: &Path) -> Self {
        let config = Config::from_sources(None, &test_env(db, data_dir)).expect("test config");
        let listener = startup::bind(&config).await.expect("bind");
        let port = listener.local_addr().expect("addr").port();
        let prepared: Prepared = startup::prepare(config).await.expect("prepare");
        let report = StartReport {
            applied_migrations: prepared.migrations.applied.clone(),
            total_migrations: prepared.migrations.total,
            first_admin_email: prepared.first_admin.as_ref().map(|a| a.user.email.clone()),
        };
        let store = prepared.state.store.clone();
        let (stop, stopped) = oneshot::channel::<()>();
        let task = tokio::spawn(startup::serve(prepared, listener, async move {
            let _ = stopped.await;
        }));
        Self {
            base_url: format!("http://127.0.0.1:{port}"),
            report,
            store,
            stop: Some(stop),
            task: Some(task),
        }
    }

    pub fn url(&self, path: &str) -> String {
        format!("{}{path}", self.base_url)
    }

    /// Stops gracefully and waits until the server has closed its database.
    pub async fn stop(mut self) {
        if let Some(stop) = self.stop.take() {
            let _ = stop.send(());
        }
        if let Some(task) = self.task.take() {
            task.await
                .expect("server task")
                .expect("server ended cleanly");
        }
    }
}

pub fn client() -> reqwest::Client {
    reqwest::Client::builder()
        .redirect(reqwest::redirect::Policy::none())
        .build()
        .expect("client")
}
