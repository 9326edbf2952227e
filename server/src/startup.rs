//! Start-up: open and migrate the database, check the master key, seed the first admin,
//! then serve until told to stop, finishing the requests in flight.

use leptos::config::LeptosOptions;
use mandate_core::bootstrap::{check_master_key, ensure_first_admin, NewAdmin};
use mandate_core::identity::password::PasswordHasherPool;
use mandate_core::store::{MigrationReport, Store, StoreOptions};
use mandate_core::{Clock, CoreError, SystemClock};
use std::future::Future;
use std::sync::Arc;
use std::time::Duration;
use thiserror::Error;
use tokio::net::TcpListener;

use crate::config::{redact_database_url, Config};
use crate::master_key::{self, KeyOrigin};
use crate::middleware::rate_limit::RateLimits;
use crate::outbound::OutboundClient;
use crate::sessions::SessionBackend;
use crate::state::{AppState, AppStateInner, SharedKeys};
use mandate_core::audit::repeats::RepeatWindow;
use mandate_core::audit::AuditLog;
use mandate_core::oauth::keyring;

/// Why Mandate could not start; each message names the setting to fix.
#[derive(Debug, Error)]
pub enum StartupError {
    /// A setting is invalid (the message starts with its name).
    #[error("{0}")]
    Config(String),
    #[error("cannot open the database at MANDATE_DATABASE_URL ({url}): {source}")]
    Database { url: String, source: CoreError },
    #[error("cannot migrate the database at MANDATE_DATABASE_URL ({url}): {source}")]
    Migration { url: String, source: CoreError },
    #[error("MANDATE_MASTER_KEY: the master key does not match the one this database was set up with; supply the original key (or MANDATE_MASTER_KEY_FILE)")]
    MasterKeyMismatch,
    #[error("cannot listen on MANDATE_BIND ({addr}): {source}")]
    Bind {
        addr: String,
        source: std::io::Error,
    },
    #[error("{0}")]
    Runtime(String),
}

impl StartupError {
    /// Process exit code: 2 for configuration the operator must fix, 1 otherwise.
    pub fn exit_code(&self) -> u8 {
        match self {
            Self::Config(_) | Self::MasterKeyMismatch | Self::Bind { .. } => 2,
            _ => 1,
        }
    }
}

/// Everything ready to serve.
pub struct Prepared {
    pub state: AppState,
    pub sessions: SessionBackend,
    pub migrations: MigrationReport,
    /// Set when this start created the first admin: print it once.
    pub first_admin: Option<NewAdmin>,
    pub key_origin: KeyOrigin,
}

/// Connects, migrates and checks the master key: what every command needs first.
pub async fn open_store(
    config: &Config,
) -> Result<
    (
        Store,
        MigrationReport,
        mandate_core::crypto::MasterKey,
        KeyOrigin,
    ),
    StartupError,
> {
    let url = redact_database_url(&config.database_url);
    let store = Store::connect(&config.database_url, &StoreOptions::default())
        .await
        .map_err(|source| StartupError::Database {
            url: url.clone(),
            source,
        })?;
    let migrations = store
        .migrate()
        .await
        .map_err(|source| StartupError::Migration { url, source })?;
    let (key, origin) = master_key::load_or_generate(config)?;
    match check_master_key(&store, &key).await {
        Ok(()) => {}
        Err(CoreError::MasterKeyMismatch) => return Err(StartupError::MasterKeyMismatch),
        Err(e) => {
            return Err(StartupError::Runtime(format!(
                "master key check failed: {e}"
            )))
        }
    }
    Ok((store, migrations, key, origin))
}

/// Prepares a server: store, sessions, first admin.
pub async fn prepare(config: Config) -> Result<Prepared, StartupError> {
    let (store, migrations, master_key, key_origin) = open_store(&config).await?;
    let sessions = SessionBackend::open(store.backend(), &config.database_url)
        .await
        .map_err(|e| StartupError::Database {
            url: redact_database_url(&config.database_url),
            source: CoreError::Database(e),
        })?;
    let hasher = password_hasher();
    let first_admin = ensure_first_admin(&store, &hasher, SystemClock.now_ms())
        .await
        .map_err(|e| StartupError::Runtime(format!("cannot create the first admin: {e}")))?;
    let leptos = LeptosOptions::builder()
        .output_name("mandate")
        .site_root(config.site_root.to_string_lossy().into_owned())
        .site_pkg_dir("pkg")
        .site_addr(config.bind)
        .build();
    let clock: Arc<dyn Clock> = Arc::new(SystemClock);
    let keys = keyring::load_or_create(&store, &master_key, clock.now_ms())
        .await
        .map_err(|e| match e {
            CoreError::MasterKeyMismatch => StartupError::MasterKeyMismatch,
            other => StartupError::Runtime(format!("cannot load the signing keys: {other}")),
        })?;
    let audit = AuditLog::spawn(store.clone(), clock.clone());
    let extra_ca = match &config.cimd_extra_ca_file {
        Some(path) => Some(std::fs::read(path).map_err(|e| {
            StartupError::Config(format!(
                "MANDATE_CIMD_EXTRA_CA_FILE: cannot read {}: {e}",
                path.display()
            ))
        })?),
        None => None,
    };
    let outbound = OutboundClient::new(config.cimd_allow_loopback, extra_ca.as_deref())
        .map_err(|e| StartupError::Config(format!("MANDATE_CIMD_EXTRA_CA_FILE: {e}")))?;
    let hooks = crate::hooks::HookClient::new(config.integrations_network)
        .map_err(|e| StartupError::Config(format!("issuance hooks' HTTP client: {e}")))?;
    let sso = crate::sso::SsoClient::new(config.integrations_network)
        .map_err(|e| StartupError::Config(format!("single sign-on HTTP client: {e}")))?;
    let vault = crate::vault::VaultClient::new(config.integrations_network)
        .map_err(|e| StartupError::Config(format!("connections' HTTP client: {e}")))?;
    let webauthn = crate::routes::passkeys::relying_party(&config.public_url);
    let introspections = RepeatWindow::new(config.audit_introspection_window_secs);
    let state = AppState::new(AppStateInner {
        store,
        introspections,
        config: Arc::new(config),
        master_key,
        hasher,
        leptos,
        keys: SharedKeys::new(keys),
        audit,
        clock,
        limits: RateLimits::default(),
        webauthn,
        outbound,
        hooks,
        sso,
        vault,
        caches: Default::default(),
    });
    Ok(Prepared {
        state,
        sessions,
        migrations,
        first_admin,
        key_origin,
    })
}

/// The password hasher for this process: at most as many concurrent argon2 hashes (19 MiB
/// each) as there are cores.
pub fn password_hasher() -> PasswordHasherPool {
    let cores = std::thread::available_parallelism().map_or(2, |n| n.get());
    PasswordHasherPool::new(cores)
}

/// Binds the configured address.
pub async fn bind(config: &Config) -> Result<TcpListener, StartupError> {
    TcpListener::bind(config.bind)
        .await
        .map_err(|source| StartupError::Bind {
            addr: config.bind.to_string(),
            source,
        })
}

/// Serves on `listener` until `shutdown` resolves, then stops accepting, lets in-flight
/// requests finish, and closes the database.
pub async fn serve(
    prepared: Prepared,
    listener: TcpListener,
    shutdown: impl Future<Output = ()> + Send + 'static,
) -> Result<(), StartupError> {
    let store = prepared.state.store.clone();
    let sweeper = prepared
        .sessions
        .spawn_expiry_sweeper(Duration::from_secs(600));
    let key_watcher = spawn_key_watcher(&prepared.state, Duration::from_secs(30));
    let pruner = spawn_audit_pruner(&prepared.state, Duration::from_secs(3600));
    let token_sweeper = spawn_token_sweeper(&prepared.state, Duration::from_secs(3600));
    let upkeep = crate::metrics::spawn_upkeep(Duration::from_secs(5));
    let vault_refresher = crate::vault_refresh::spawn(
        &prepared.state,
        Duration::from_secs(prepared.state.config.vault_refresh_secs),
    );
    // After the audit writer's commits, at most every 10 ms (see spawn_wal_checkpointer).
    let checkpointer =
        store.spawn_wal_checkpointer(Duration::from_millis(10), prepared.state.audit.committed());
    let config = &prepared.state.config;
    let forwarder = config.audit_forward.clone().map(|target| {
        crate::audit_forward::spawn(
            store.clone(),
            prepared.state.audit.clone(),
            target,
            config.audit_forward_secret.clone(),
        )
    });
    let metrics = match prepared.state.config.metrics_bind {
        Some(addr) => Some(spawn_metrics(addr, &prepared.state).await?),
        None => None,
    };
    let audit = prepared.state.audit.clone();
    let app = crate::app(prepared.state, &prepared.sessions);
    let result = axum::serve(
        listener,
        axum::ServiceExt::<axum::extract::Request>::into_make_service_with_connect_info::<
            std::net::SocketAddr,
        >(app),
    )
    .with_graceful_shutdown(shutdown)
    .await
    .map_err(|e| StartupError::Runtime(format!("server error: {e}")));
    sweeper.abort();
    key_watcher.abort();
    pruner.abort();
    token_sweeper.abort();
    upkeep.abort();
    vault_refresher.abort();
    for task in [forwarder, checkpointer, metrics].into_iter().flatten() {
        task.abort();
    }
    // Events queued without waiting for their commit (introspections) are written first.
    audit.flush().await;
    store.close().await;
    result
}

/// Prunes audit events older than the retention period, at start and then every `period`
/// (the cut is recorded so the rest of the chain still verifies).
fn spawn_audit_pruner(state: &AppState, period: Duration) -> tokio::task::JoinHandle<()> {
    let state = state.clone();
    tokio::spawn(async move {
        let days = i64::from(state.config.audit_retention_days);
        if days == 0 {
            return;
        }
        let mut tick = tokio::time::interval(period);
        loop {
            tick.tick().await;
            let cutoff = state.now() - days * 86_400_000;
            match mandate_core::audit::retention::prune_before(&state.store, cutoff).await {
                Ok(report) if report.removed > 0 => tracing::info!(
                    removed = report.removed,
                    cut = report.cut.map(|c| c.seq),
                    retention_days = days,
                    "pruned old audit events"
                ),
                Ok(_) => {}
                Err(e) => tracing::warn!(error = %e, "audit pruning failed; will retry"),
            }
        }
    })
}

/// Deletes expired tokens, authorizations and password links at start and then every `period`
/// (`mandate_core::store::token_sweep` has the rules).
fn spawn_token_sweeper(state: &AppState, period: Duration) -> tokio::task::JoinHandle<()> {
    let state = state.clone();
    tokio::spawn(async move {
        let mut tick = tokio::time::interval(period);
        loop {
            tick.tick().await;
            match state.store.sweep_expired_tokens(state.now()).await {
                Ok(report) if report.total() > 0 => tracing::info!(
                    access_tokens = report.access_tokens,
                    refresh_tokens = report.refresh_tokens,
                    authorizations = report.families,
                    password_links = report.password_links,
                    "swept expired tokens"
                ),
                Ok(_) => {}
                Err(e) => tracing::warn!(error = %e, "sweeping expired tokens failed; will retry"),
            }
        }
    })
}

/// Serves `GET /metrics` on its own listener (`MANDATE_METRICS_BIND`).
async fn spawn_metrics(
    addr: std::net::SocketAddr,
    state: &AppState,
) -> Result<tokio::task::JoinHandle<()>, StartupError> {
    let listener = TcpListener::bind(addr)
        .await
        .map_err(|source| StartupError::Bind {
            addr: addr.to_string(),
            source,
        })?;
    let app = crate::metrics::router(state.clone());
    tracing::info!(address = %addr, "metrics on /metrics");
    Ok(tokio::spawn(async move {
        if let Err(e) = axum::serve(listener, app).await {
            tracing::error!(error = %e, "metrics listener stopped");
        }
    }))
}

/// Picks up keys rotated by `mandate keys rotate` (or another instance) without a restart.
fn spawn_key_watcher(state: &AppState, period: Duration) -> tokio::task::JoinHandle<()> {
    let state = state.clone();
    tokio::spawn(async move {
        let mut tick = tokio::time::interval(period);
        tick.tick().await;
        loop {
            tick.tick().await;
            match keyring::load_or_create(&state.store, &state.master_key, state.now()).await {
                Ok(keys)
                    if keys.signing_kid() != state.keys.current().signing_kid()
                        || keys.jwks() != state.keys.current().jwks() =>
                {
                    tracing::info!(
                        kid = keys.signing_kid(),
                        "signing keys changed; now signing with the new key"
                    );
                    state.keys.replace(keys);
                }
                Ok(_) => {}
                Err(e) => tracing::warn!(error = %e, "could not reload the signing keys"),
            }
        }
    })
}

/// Resolves on SIGTERM or Ctrl-C. The handlers are installed when this is called, not when the
/// future is first polled, so a signal that arrives right after start-up is not lost (the
/// default action would kill the process without the graceful stop).
pub fn shutdown_signal() -> impl Future<Output = ()> + Send + 'static {
    #[cfg(unix)]
    let (mut term, mut interrupt) = {
        use tokio::signal::unix::{signal, SignalKind};
        (
            signal(SignalKind::terminate()).ok(),
            signal(SignalKind::interrupt()).ok(),
        )
    };
    async move {
        #[cfg(unix)]
        {
            let term = async {
                match term.as_mut() {
                    Some(s) => {
                        s.recv().await;
                    }
                    None => std::future::pending::<()>().await,
                }
            };
            let interrupt = async {
                match interrupt.as_mut() {
                    Some(s) => {
                        s.recv().await;
                    }
                    None => std::future::pending::<()>().await,
                }
            };
            tokio::select! {
                () = term => {},
                () = interrupt => {},
            }
        }
        #[cfg(not(unix))]
        {
            let _ = tokio::signal::ctrl_c().await;
        }
        tracing::info!("shutdown requested: finishing in-flight requests");
    }
}
