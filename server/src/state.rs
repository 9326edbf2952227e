//! What every handler can reach. Built once at start-up, cloned cheaply per request.

use axum::body::Bytes;
use axum::extract::FromRef;
use leptos::config::LeptosOptions;
use mandate_core::audit::repeats::RepeatWindow;
use mandate_core::audit::AuditLog;
use mandate_core::crypto::MasterKey;
use mandate_core::identity::password::PasswordHasherPool;
use mandate_core::oauth::tokens::KeySet;
use mandate_core::store::Store;
use mandate_core::Clock;
use std::sync::{Arc, RwLock};

use crate::cache::TtlCache;
use crate::config::Config;
use crate::middleware::rate_limit::RateLimits;
use crate::outbound::OutboundClient;
use mandate_core::model::{Agent, McpServer, Scope};
use mandate_core::policy::Policy;
use mandate_core::store::agents::AgentSecrets;

/// What every handler can reach: one reference-counted pointer, so the clone each request,
/// extractor and middleware makes is a counter increment (the fields behind it include the
/// Leptos options, a dozen strings).
#[derive(Clone)]
pub struct AppState(Arc<AppStateInner>);

impl AppState {
    pub fn new(inner: AppStateInner) -> Self {
        Self(Arc::new(inner))
    }
}

impl std::ops::Deref for AppState {
    type Target = AppStateInner;

    fn deref(&self) -> &AppStateInner {
        &self.0
    }
}

pub struct AppStateInner {
    pub store: Store,
    pub config: Arc<Config>,
    pub master_key: MasterKey,
    pub hasher: PasswordHasherPool,
    pub leptos: LeptosOptions,
    pub keys: SharedKeys,
    pub audit: AuditLog,
    pub clock: Arc<dyn Clock>,
    pub limits: RateLimits,
    pub outbound: OutboundClient,
    /// Calls the MCP servers' issuance hooks.
    pub hooks: crate::hooks::HookClient,
    /// Talks to tenants' OpenID providers (single sign-on).
    pub sso: crate::sso::SsoClient,
    /// Talks to connection providers (the token vault).
    pub vault: crate::vault::VaultClient,
    pub caches: Caches,
    /// Which active introspections' answers are recorded (repeats within the configured
    /// window are counted instead).
    pub introspections: RepeatWindow,
    /// The WebAuthn relying party; `None` when the public URL's host is an IP address.
    pub webauthn: Option<Arc<webauthn_rs::Webauthn>>,
}

/// Read-mostly rows cached on the hot paths (see `cache`).
#[derive(Clone, Default)]
pub struct Caches {
    /// By issuer slug: the MCP server and its scopes.
    pub servers: TtlCache<String, Arc<ServerEntry>>,
    /// By client_id: the agent and its secret hashes.
    pub clients: TtlCache<String, Arc<(Agent, AgentSecrets)>>,
    /// By (client_id, server id): the agent's scope allowance there (`None`: every scope).
    pub allowances: TtlCache<(String, String), Arc<Option<Vec<String>>>>,
    /// Every policy: each authorization evaluates them all (10,000 decode in ~100 ms).
    pub policies: TtlCache<(), Arc<Vec<Policy>>>,
}

impl Caches {
    /// Drops what is cached about a client after a change made through this process.
    pub fn forget_client(&self, client_id: &str) {
        self.clients.remove(&client_id.to_owned());
    }

    /// Drops what is cached after an admin changed an agent (its allowances included).
    pub fn forget_agent(&self, client_id: &str) {
        self.forget_client(client_id);
        self.allowances.clear();
    }

    /// Drops the cached policies after one was created or deleted here.
    pub fn forget_policies(&self) {
        self.policies.clear();
    }

    /// Drops what is cached after an admin changed or deleted an MCP server (a new slug or
    /// new scopes; allowances of machine agents on a new server).
    pub fn forget_servers(&self) {
        self.servers.clear();
        self.allowances.clear();
    }
}

/// An MCP server with its scopes.
#[derive(Debug, Clone)]
pub struct ServerEntry {
    pub server: McpServer,
    pub scopes: Vec<Scope>,
    /// Its RFC 8414 metadata and RFC 9728 document, serialized once per cache entry.
    pub metadata_json: Bytes,
    pub protected_resource_json: Bytes,
}

impl AppState {
    pub fn now(&self) -> i64 {
        self.clock.now_ms()
    }

    /// Every policy, cached for [`crate::cache::TTL`]; changes made here drop the cache.
    pub async fn cached_policies(&self) -> mandate_core::CoreResult<Arc<Vec<Policy>>> {
        let loaded = self
            .caches
            .policies
            .get_or_load(&(), || async {
                Ok::<_, mandate_core::CoreError>(Some(Arc::new(self.store.policies().await?)))
            })
            .await?;
        Ok(loaded.unwrap_or_default())
    }
}

impl FromRef<AppState> for LeptosOptions {
    fn from_ref(state: &AppState) -> Self {
        state.leptos.clone()
    }
}

/// The signing keys (with their JWKS body, shared without copying), swapped in place when a
/// rotation is noticed.
#[derive(Clone, Debug)]
pub struct SharedKeys(Arc<RwLock<(KeySet, Bytes)>>);

impl SharedKeys {
    pub fn new(keys: KeySet) -> Self {
        let body = Bytes::from(keys.jwks_body().to_string());
        Self(Arc::new(RwLock::new((keys, body))))
    }

    /// The current key set (cheap: it is reference-counted inside).
    pub fn current(&self) -> KeySet {
        match self.0.read() {
            Ok(guard) => guard.0.clone(),
            Err(poisoned) => poisoned.into_inner().0.clone(),
        }
    }

    /// The current JWKS document.
    pub fn jwks_body(&self) -> Bytes {
        match self.0.read() {
            Ok(guard) => guard.1.clone(),
            Err(poisoned) => poisoned.into_inner().1.clone(),
        }
    }

    pub fn replace(&self, keys: KeySet) {
        let body = Bytes::from(keys.jwks_body().to_string());
        match self.0.write() {
            Ok(mut guard) => *guard = (keys, body),
            Err(poisoned) => *poisoned.into_inner() = (keys, body),
        }
    }
}
