//! Access tokens recently found not revoked, so that introspection (a resource server asks
//! about the same token on every call) does not read the database for each question.
//!
//! An entry says "this jti was not revoked when read at epoch E". Every revoking write of this
//! store (a token, a family, a grant, a disabled user or agent, a deleted agent or server) moves
//! the epoch on after it commits, which retires every entry at once. Entries also age out after
//! [`LiveTokens::FRESH_FOR`], which bounds how long a revocation written by *another* instance
//! on the same database (PostgreSQL with several Mandate processes) can go unseen here.
//!
//! A reader takes the epoch *before* its database read and files its answer under that epoch:
//! a revocation that commits after the read moves the epoch on, so the answer is never trusted
//! (see [`LiveTokens::epoch`]).

use std::collections::HashMap;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::Mutex;
use std::time::{Duration, Instant};

#[derive(Default)]
pub(crate) struct LiveTokens {
    epoch: AtomicU64,
    entries: Mutex<HashMap<String, (u64, Instant)>>,
}

impl std::fmt::Debug for LiveTokens {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("LiveTokens")
            .field("epoch", &self.epoch.load(Ordering::Relaxed))
            .finish()
    }
}

impl LiveTokens {
    /// How long an answer read from the database is trusted at most.
    pub(crate) const FRESH_FOR: Duration = Duration::from_secs(1);
    const CAPACITY: usize = 16_384;

    /// The epoch to file a database answer under: take it before the read.
    pub(crate) fn epoch(&self) -> u64 {
        self.epoch.load(Ordering::Acquire)
    }

    /// Whether `jti` was read as not revoked in the current epoch, recently enough.
    pub(crate) fn is_live(&self, jti: &str) -> bool {
        let epoch = self.epoch();
        let Ok(entries) = self.entries.lock() else {
            return false;
        };
        entries
            .get(jti)
            .is_some_and(|(e, at)| *e == epoch && at.elapsed() < Self::FRESH_FOR)
    }

    /// Files "`jti` was not revoked" as read after [`LiveTokens::epoch`] returned `epoch`.
    pub(crate) fn remember(&self, jti: &str, epoch: u64) {
        if epoch != self.epoch() {
            return;
        }
        let Ok(mut entries) = self.entries.lock() else {
            return;
        };
        if entries.len() >= Self::CAPACITY {
            entries.retain(|_, (e, at)| *e == epoch && at.elapsed() < Self::FRESH_FOR);
            if entries.len() >= Self::CAPACITY {
                entries.clear();
            }
        }
        entries.insert(jti.to_owned(), (epoch, Instant::now()));
    }

    /// Something was revoked (called after the revoking transaction commits).
    pub(crate) fn revoked(&self) {
        self.epoch.fetch_add(1, Ordering::AcqRel);
        if let Ok(mut entries) = self.entries.lock() {
            entries.clear();
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn an_answer_read_before_a_revocation_is_never_trusted() {
        let memo = LiveTokens::default();
        let before = memo.epoch();
        // The revocation commits while the reader's answer ("not revoked") is in flight.
        memo.revoked();
        memo.remember("jti-1", before);
        assert!(!memo.is_live("jti-1"));
    }

    #[test]
    fn a_revocation_retires_every_answer() {
        let memo = LiveTokens::default();
        memo.remember("jti-1", memo.epoch());
        memo.remember("jti-2", memo.epoch());
        assert!(memo.is_live("jti-1") && memo.is_live("jti-2"));
        memo.revoked();
        assert!(!memo.is_live("jti-1"));
        assert!(!memo.is_live("jti-2"));
        assert!(!memo.is_live("jti-3"));
    }

    #[test]
    fn it_stays_bounded() {
        let memo = LiveTokens::default();
        for i in 0..(LiveTokens::CAPACITY + 10) {
            memo.remember(&format!("jti-{i}"), memo.epoch());
        }
        let len = memo.entries.lock().map(|e| e.len()).unwrap_or(usize::MAX);
        assert!(len <= LiveTokens::CAPACITY);
        assert!(memo.is_live(&format!("jti-{}", LiveTokens::CAPACITY + 9)));
    }
}
