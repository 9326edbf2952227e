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

    /// Starts on `db` with extra settings.
    pub async fn start_with(db: &TestDatabase, extra: &[(&str, String)]) -> Self {
        Self::start_configured(db, &temp_dir("server"), extra).await
    }

    /// Starts on `db` with `data_dir` (reuse it to restart on the same master key).
    pub async fn start_in(db: &TestDatabase, data_dir: &Path) -> Self {
        Self::start_configured(db, data_dir, &[]).await
    }

    pub async fn start_configured(
        db: &TestDatabase,
        data_dir: &Path,
        extra: &[(&str, String)],
    ) -> Self {
        trace_init();
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0")
            .await
            .expect("bind");
        let port = listener.local_addr().expect("addr").port();
        let mut env = test_env(db, data_dir);
        env.insert(
            "MANDATE_PUBLIC_URL".into(),
            format!("http://127.0.0.1:{port}"),
        );
        for (k, v) in extra {
            env.insert((*k).to_owned(), v.clone());
        }
        let config = Config::from_sources(None, &env).expect("test config");
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

/// No request in these tests takes more than a few seconds; one that hangs fails the test
/// instead of the whole run.
const REQUEST_TIMEOUT: std::time::Duration = std::time::Duration::from_secs(30);

pub fn client() -> reqwest::Client {
    reqwest::Client::builder()
        .redirect(reqwest::redirect::Policy::none())
        .timeout(REQUEST_TIMEOUT)
        .build()
        .expect("client")
}

/// A browser-like client: keeps cookies, does not follow redirects.
pub fn browser() -> reqwest::Client {
    reqwest::Client::builder()
        .redirect(reqwest::redirect::Policy::none())
        .cookie_store(true)
        .timeout(REQUEST_TIMEOUT)
        .build()
        .expect("client")
}

/// The value of a hidden form field in `html`.
pub fn hidden_field(html: &str, name: &str) -> String {
    let marker = format!("name=\"{name}\" value=\"");
    let start = html
        .find(&marker)
        .unwrap_or_else(|| panic!("no field {name} in {html}"))
        + marker.len();
    let end = html[start..].find('"').expect("closing quote") + start;
    html[start..end].to_owned()
}

/// The `Location` of a redirect, resolved against the server.
pub fn location(server: &TestServer, res: &reqwest::Response) -> String {
    let loc = res
        .headers()
        .get("location")
        .unwrap_or_else(|| panic!("no Location on {}", res.status()))
        .to_str()
        .expect("ascii")
        .to_owned();
    if loc.starts_with('/') {
        server.url(&loc)
    } else {
        loc
    }
}

/// The query parameters of a URL.
pub fn query_of(url: &str) -> std::collections::HashMap<String, String> {
    url::Url::parse(url)
        .expect("url")
        .query_pairs()
        .into_owned()
        .collect()
}

/// The value of the radio button whose label contains `<strong>{label}</strong>`.
pub fn radio_value(html: &str, label: &str) -> String {
    let marker = format!("<strong>{label}</strong>");
    let before = &html[..html
        .find(&marker)
        .unwrap_or_else(|| panic!("no option {label}"))];
    let start = before.rfind("value=\"").expect("radio value") + 7;
    let end = before[start..].find('"').expect("quote") + start;
    before[start..end].to_owned()
}

/// With `MANDATE_TEST_TRACE=<filter>` (e.g. `debug,hyper=info`), the servers' traces go to
/// `$TMPDIR/mandate-test-trace.log`, each line named by the test whose server wrote it.
fn trace_init() {
    static ONCE: std::sync::Once = std::sync::Once::new();
    ONCE.call_once(|| {
        let Ok(filter) = std::env::var("MANDATE_TEST_TRACE") else {
            return;
        };
        let path = std::env::temp_dir().join("mandate-test-trace.log");
        let file = std::fs::File::create(&path).expect("trace file");
        tracing_subscriber::fmt()
            .with_env_filter(tracing_subscriber::EnvFilter::new(filter))
            .with_thread_names(true)
            .with_writer(std::sync::Mutex::new(file))
            .with_ansi(false)
            .init();
    });
}
