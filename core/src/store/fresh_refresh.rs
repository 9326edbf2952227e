//! The state of refresh tokens this process has just issued, so that the refresh presenting
//! one (a client refreshes with the token it was last given) need not read it back.
//!
//! What is kept is the state the issuance committed: the family as it stood, the token's
//! scopes and expiry, not rotated. Nothing here decides a rotation: the refresh grant still
//! rotates by the conditional UPDATE in the transaction that records its new tokens, which
//! refuses a token already rotated, expired, or of a revoked family (`tokens::rotate_refreshes`).
//! A stale entry (the token rotated through another instance, its family revoked since) can
//! therefore only cost a signature that is thrown away; the grant then judges the token again
//! on what the database holds.
//!
//! Entries are taken, not read: a token is exchanged once, so a second presentation reads the
//! database and meets its rotation there. Every revoking write of this store clears the map
//! (as it retires `live_tokens`), and an issuance that raced a revocation is not filed: its
//! epoch is taken before its commit (see `FreshRefreshTokens::epoch`).
//!
//! Filed on SQLite only: see [`crate::store::Store::pending_refresh`] for what was measured.

use std::collections::{HashMap, VecDeque};
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::Mutex;

use super::tokens::RefreshState;
use crate::secret::SecretHash;

#[derive(Default)]
pub(crate) struct FreshRefreshTokens {
    epoch: AtomicU64,
    entries: Mutex<Entries>,
}

#[derive(Default)]
struct Entries {
    by_hash: HashMap<String, RefreshState>,
    /// Filing order, oldest first, to drop the oldest when full (may name taken entries).
    order: VecDeque<String>,
}

impl std::fmt::Debug for FreshRefreshTokens {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("FreshRefreshTokens")
            .field("epoch", &self.epoch.load(Ordering::Relaxed))
            .finish()
    }
}

/// A just-minted refresh token's state, filed once its issuance commits
/// ([`crate::store::Store::remember_refresh`]).
#[derive(Debug)]
pub struct PendingRefresh {
    pub(crate) hash: SecretHash,
    pub(crate) state: RefreshState,
    pub(crate) epoch: u64,
}

impl FreshRefreshTokens {
    /// Entries kept at most (a few hundred bytes each).
    pub(crate) const CAPACITY: usize = 8_192;

    /// The epoch to file an issuance under: taken before the issuance commits.
    pub(crate) fn epoch(&self) -> u64 {
        self.epoch.load(Ordering::Acquire)
    }

    /// Files `pending` unless something was revoked since its epoch was taken.
    pub(crate) fn remember(&self, pending: PendingRefresh) {
        let Ok(mut entries) = self.entries.lock() else {
            return;
        };
        // Compared under the lock, so a revocation's clear cannot slip between the two.
        if pending.epoch != self.epoch() {
            return;
        }
        let key = pending.hash.as_str().to_owned();
        while entries.order.len() >= Self::CAPACITY {
            if let Some(oldest) = entries.order.pop_front() {
                entries.by_hash.remove(&oldest);
            }
        }
        entries.order.push_back(key.clone());
        entries.by_hash.insert(key, pending.state);
    }

    /// The state filed for `hash`, removed.
    pub(crate) fn take(&self, hash: &SecretHash) -> Option<RefreshState> {
        self.entries.lock().ok()?.by_hash.remove(hash.as_str())
    }

    /// Something was revoked (called after the revoking transaction commits).
    pub(crate) fn revoked(&self) {
        if let Ok(mut entries) = self.entries.lock() {
            self.epoch.fetch_add(1, Ordering::AcqRel);
            entries.by_hash.clear();
            entries.order.clear();
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::secret::Secret;
    use crate::store::tokens::TokenFamily;

    fn state(expires_at: i64) -> RefreshState {
        RefreshState {
            family: TokenFamily {
                id: "fam".into(),
                agent_id: "agent".into(),
                user_id: Some("user".into()),
                tenant_id: None,
                mcp_server_id: "srv".into(),
                auth_time: None,
                acr: None,
                amr: Vec::new(),
                created_at: 0,
                expires_at: 10_000,
                revoked_at: None,
                claims: serde_json::Map::new(),
            },
            scopes: "read".into(),
            expires_at,
            rotated_at: None,
        }
    }

    fn pending(memo: &FreshRefreshTokens, token: &str, expires_at: i64) -> PendingRefresh {
        PendingRefresh {
            hash: Secret::presented(token).hash(),
            state: state(expires_at),
            epoch: memo.epoch(),
        }
    }

    fn hash(token: &str) -> SecretHash {
        Secret::presented(token).hash()
    }

    #[test]
    fn a_filed_state_is_taken_once() {
        let memo = FreshRefreshTokens::default();
        memo.remember(pending(&memo, "rt-1", 5));
        assert_eq!(memo.take(&hash("rt-1")).map(|s| s.expires_at), Some(5));
        assert!(
            memo.take(&hash("rt-1")).is_none(),
            "a second presentation reads the store"
        );
        assert!(memo.take(&hash("rt-2")).is_none());
    }

    #[test]
    fn an_issuance_that_raced_a_revocation_is_not_filed() {
        let memo = FreshRefreshTokens::default();
        let minted = pending(&memo, "rt-1", 5);
        // The revocation commits between the issuance's mint and its filing.
        memo.revoked();
        memo.remember(minted);
        assert!(memo.take(&hash("rt-1")).is_none());
    }

    #[test]
    fn a_revocation_forgets_every_entry() {
        let memo = FreshRefreshTokens::default();
        memo.remember(pending(&memo, "rt-1", 5));
        memo.remember(pending(&memo, "rt-2", 5));
        memo.revoked();
        assert!(memo.take(&hash("rt-1")).is_none());
        assert!(memo.take(&hash("rt-2")).is_none());
        memo.remember(pending(&memo, "rt-3", 5));
        assert!(
            memo.take(&hash("rt-3")).is_some(),
            "filing resumes afterwards"
        );
    }

    #[test]
    fn it_stays_bounded_and_drops_the_oldest() {
        let memo = FreshRefreshTokens::default();
        for i in 0..(FreshRefreshTokens::CAPACITY + 10) {
            memo.remember(pending(&memo, &format!("rt-{i}"), 5));
        }
        let (len, order) = memo
            .entries
            .lock()
            .map(|e| (e.by_hash.len(), e.order.len()))
            .unwrap_or((usize::MAX, usize::MAX));
        assert!(len <= FreshRefreshTokens::CAPACITY && order <= FreshRefreshTokens::CAPACITY);
        assert!(memo.take(&hash("rt-0")).is_none(), "the oldest went first");
        let newest = format!("rt-{}", FreshRefreshTokens::CAPACITY + 9);
        assert!(memo.take(&hash(&newest)).is_some());
    }
}
