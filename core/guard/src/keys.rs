//! The issuer's signing keys, fetched from its JWKS and cached. A token naming a `kid` the
//! cache does not hold triggers one fetch (at most every few seconds, so forged `kid`s cannot
//! turn the guard into a request flood against the issuer).

use std::collections::HashMap;
use std::sync::Arc;
use std::time::{Duration, Instant};

use jsonwebtoken::jwk::JwkSet;
use jsonwebtoken::DecodingKey;
use tokio::sync::Mutex;

/// Fetches for unknown `kid`s are at least this far apart.
const REFETCH_INTERVAL: Duration = Duration::from_secs(5);
/// A JWKS larger than this is refused.
const MAX_JWKS_BYTES: usize = 256 * 1024;

#[derive(Debug, thiserror::Error)]
pub enum KeysError {
    #[error("the issuer's keys cannot be fetched: {0}")]
    Fetch(String),
    #[error("the issuer's key set is not valid: {0}")]
    Invalid(String),
}

#[derive(Default)]
struct Cached {
    keys: HashMap<String, Arc<DecodingKey>>,
    fetched_at: Option<Instant>,
}

pub struct KeyCache {
    jwks_uri: String,
    ttl: Duration,
    http: reqwest::Client,
    cached: Mutex<Cached>,
}

impl KeyCache {
    pub fn new(jwks_uri: String, ttl: Duration) -> Self {
        let http = reqwest::Client::builder()
            .timeout(Duration::from_secs(5))
            .redirect(reqwest::redirect::Policy::none())
            .no_proxy()
            .build()
            .unwrap_or_default();
        Self {
            jwks_uri,
            ttl,
            http,
            cached: Mutex::new(Cached::default()),
        }
    }

    /// The key for `kid`: from the cache while it is fresh, else (or when the kid is unknown
    /// and the last fetch is not too recent) from the issuer.
    pub async fn key(&self, kid: &str) -> Result<Option<Arc<DecodingKey>>, KeysError> {
        let mut cached = self.cached.lock().await;
        let age = cached.fetched_at.map(|at| at.elapsed());
        let fresh = age.is_some_and(|a| a < self.ttl);
        if fresh {
            if let Some(key) = cached.keys.get(kid) {
                return Ok(Some(key.clone()));
            }
        }
        let may_fetch = !fresh || age.is_none_or(|a| a >= REFETCH_INTERVAL);
        if may_fetch {
            match self.fetch().await {
                Ok(keys) => {
                    cached.keys = keys;
                    cached.fetched_at = Some(Instant::now());
                }
                // Keys already held keep working while the issuer is unreachable.
                Err(e) if cached.keys.is_empty() => return Err(e),
                Err(e) => tracing::warn!(error = %e, "keeping the cached keys"),
            }
        }
        Ok(cached.keys.get(kid).cloned())
    }

    async fn fetch(&self) -> Result<HashMap<String, Arc<DecodingKey>>, KeysError> {
        let response = self
            .http
            .get(&self.jwks_uri)
            .send()
            .await
            .map_err(|e| KeysError::Fetch(e.to_string()))?;
        if !response.status().is_success() {
            return Err(KeysError::Fetch(format!("status {}", response.status())));
        }
        let body = response
            .bytes()
            .await
            .map_err(|e| KeysError::Fetch(e.to_string()))?;
        if body.len() > MAX_JWKS_BYTES {
            return Err(KeysError::Invalid("too large".into()));
        }
        let set: JwkSet =
            serde_json::from_slice(&body).map_err(|e| KeysError::Invalid(e.to_string()))?;
        let mut keys = HashMap::new();
        for jwk in &set.keys {
            let Some(kid) = jwk.common.key_id.clone() else {
                continue;
            };
            if let Ok(key) = DecodingKey::from_jwk(jwk) {
                keys.insert(kid, Arc::new(key));
            }
        }
        Ok(keys)
    }
}
