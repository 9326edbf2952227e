//! Small time-bounded caches for read-mostly rows on hot paths (the issuer's MCP server and its
//! scopes, an agent and its secret hashes). ARCHITECTURE.md §8 allows caches that are safe to
//! miss: every entry lives at most [`TTL`], so a change made on another instance (or directly in
//! the database) applies within that time; changes made through this process invalidate at once.

use std::collections::HashMap;
use std::hash::Hash;
use std::sync::{Arc, RwLock};
use std::time::{Duration, Instant};

/// How long an entry may be served.
pub const TTL: Duration = Duration::from_secs(5);
/// Past this many entries the cache starts over (bounded memory under a flood of ids).
const MAX_ENTRIES: usize = 10_000;

#[derive(Clone)]
pub struct TtlCache<K, V> {
    entries: Arc<RwLock<HashMap<K, (Instant, V)>>>,
    ttl: Duration,
}

impl<K: Eq + Hash + Clone, V: Clone> Default for TtlCache<K, V> {
    fn default() -> Self {
        Self::new(TTL)
    }
}

impl<K: Eq + Hash + Clone, V: Clone> TtlCache<K, V> {
    pub fn new(ttl: Duration) -> Self {
        Self {
            entries: Arc::new(RwLock::new(HashMap::new())),
            ttl,
        }
    }

    /// The cached value, if fresh.
    pub fn get(&self, key: &K) -> Option<V> {
        let entries = self.entries.read().ok()?;
        entries
            .get(key)
            .filter(|(at, _)| at.elapsed() < self.ttl)
            .map(|(_, v)| v.clone())
    }

    pub fn insert(&self, key: K, value: V) {
        if let Ok(mut entries) = self.entries.write() {
            if entries.len() >= MAX_ENTRIES {
                entries.clear();
            }
            entries.insert(key, (Instant::now(), value));
        }
    }

    pub fn remove(&self, key: &K) {
        if let Ok(mut entries) = self.entries.write() {
            entries.remove(key);
        }
    }

    /// Drops every entry (after a change whose reach is wider than one key).
    pub fn clear(&self) {
        if let Ok(mut entries) = self.entries.write() {
            entries.clear();
        }
    }

    /// The cached value, or `load`ed and cached. Errors and absent rows are not cached.
    pub async fn get_or_load<E, F, Fut>(&self, key: &K, load: F) -> Result<Option<V>, E>
    where
        F: FnOnce() -> Fut,
        Fut: std::future::Future<Output = Result<Option<V>, E>>,
    {
        if let Some(v) = self.get(key) {
            return Ok(Some(v));
        }
        let loaded = load().await?;
        if let Some(v) = &loaded {
            self.insert(key.clone(), v.clone());
        }
        Ok(loaded)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn entries_expire_and_can_be_removed() {
        let cache: TtlCache<&str, i32> = TtlCache::new(Duration::from_millis(30));
        cache.insert("a", 1);
        assert_eq!(cache.get(&"a"), Some(1));
        cache.remove(&"a");
        assert_eq!(cache.get(&"a"), None);
        cache.insert("b", 2);
        std::thread::sleep(Duration::from_millis(40));
        assert_eq!(cache.get(&"b"), None, "stale entries are not served");
    }

    #[tokio::test]
    async fn misses_load_once_and_absent_rows_are_not_cached() {
        let cache: TtlCache<u8, u8> = TtlCache::default();
        let v: Result<_, ()> = cache.get_or_load(&1, || async { Ok(Some(7)) }).await;
        assert_eq!(v, Ok(Some(7)));
        let v: Result<_, ()> = cache
            .get_or_load(&1, || async { panic!("served from cache") })
            .await;
        assert_eq!(v, Ok(Some(7)));
        let none: Result<Option<u8>, ()> = cache.get_or_load(&2, || async { Ok(None) }).await;
        assert_eq!(none, Ok(None));
        assert_eq!(cache.get(&2), None);
    }
}
