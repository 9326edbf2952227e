//! The token sweep: deletes from the token tables what can no longer be presented, so they hold
//! the live authorizations rather than everything ever issued. Each rule keeps a row for as
//! long as presenting what it records could still change an answer:
//!
//! - **Access tokens**: a row goes once its `exp` is past. From then on the JWT is refused on
//!   its own (resource servers check `exp`, introspection answers inactive), so its revocation
//!   state is never read again.
//! - **Refresh tokens**: a row goes once the token's own (sliding) lifetime is past, rotated or
//!   not. A rotated token presented again revokes its family (reuse, RFC 9700 §4.14.2) until
//!   then; afterwards the refresh grant refuses it as expired before looking at its rotation,
//!   so the answer is the same with or without the row.
//! - **Authorizations** (token families): a family goes a day after its absolute lifetime ended.
//!   A day is the longest access-token lifetime an MCP server can set
//!   ([`MAX_ACCESS_TOKEN_TTL_SECS`], which signing also clamps to), so every access token of
//!   the family has expired by then (a token whose family is gone reads as revoked). Its
//!   authorization code goes with it (foreign key, cascade): a replayed code revokes its family
//!   (RFC 6749 §4.1.2) for as long as there is a family to revoke.
//! - **Password links**: a row goes once the link has expired (it is refused from then on).
//!
//! Every cutoff is taken an hour before `now` ([`GRACE_MS`]), for instances whose clocks
//! disagree. Rows go in chunks of at most [`SWEEP_CHUNK`], each its own statement with a pause
//! after it: on SQLite every chunk holds the write lock every issuance's audit commit waits
//! for, so a large backlog (the first sweep of a long-running hub) goes in short steps.
//! Access tokens, families and password links are found oldest first through their index by
//! expiry. Refresh tokens have none: the chained-refresh benchmark wrote 13 % longer audit
//! commits with one (1.20 ms against 1.06 ms a batch, interleaved runs), each refresh adding an
//! entry to it. They are read instead a page of the primary key at a time, each page's expired
//! rows deleted by one ranged statement, so a sweep reads the table once and holds the write
//! lock only while it deletes from one page.

use std::time::Duration;

use super::Store;
use crate::clock::UnixMillis;
use crate::error::CoreResult;
use crate::model::mcp_server::MAX_ACCESS_TOKEN_TTL_SECS;

/// How far before `now` every cutoff lies.
pub const GRACE_MS: i64 = 3_600_000;

/// Rows deleted per statement at most.
const SWEEP_CHUNK: i64 = 1_000;

/// The pause between two chunks, so that writers queued on the lock take it in between.
const PAUSE_BETWEEN_CHUNKS: Duration = Duration::from_millis(20);

/// Rows expiring before these instants are deleted (the rules are in the module's doc).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct SweepCutoffs {
    pub access_tokens: UnixMillis,
    pub refresh_tokens: UnixMillis,
    pub families: UnixMillis,
    pub password_links: UnixMillis,
}

impl SweepCutoffs {
    pub fn at(now: UnixMillis) -> Self {
        let expired = now - GRACE_MS;
        Self {
            access_tokens: expired,
            refresh_tokens: expired,
            families: expired - MAX_ACCESS_TOKEN_TTL_SECS * 1000,
            password_links: expired,
        }
    }
}

/// The rows a sweep deleted, per table (a family's authorization code goes with the family).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub struct SweepReport {
    pub access_tokens: u64,
    pub refresh_tokens: u64,
    pub families: u64,
    pub password_links: u64,
}

impl SweepReport {
    pub fn total(&self) -> u64 {
        self.access_tokens + self.refresh_tokens + self.families + self.password_links
    }
}

/// A table swept by expiry: its name and key column (each has an `expires_at` column, indexed).
struct Swept {
    table: &'static str,
    key: &'static str,
}

const ACCESS_TOKENS: Swept = Swept {
    table: "access_tokens",
    key: "jti",
};
const FAMILIES: Swept = Swept {
    table: "token_families",
    key: "id",
};
const PASSWORD_LINKS: Swept = Swept {
    table: "password_links",
    key: "token_hash",
};

impl Store {
    /// Deletes what the rules of [`crate::store::token_sweep`] say has ended by `now`.
    pub async fn sweep_expired_tokens(&self, now: UnixMillis) -> CoreResult<SweepReport> {
        let cutoffs = SweepCutoffs::at(now);
        let report = SweepReport {
            access_tokens: self.sweep(&ACCESS_TOKENS, cutoffs.access_tokens).await?,
            refresh_tokens: self
                .sweep_refresh_tokens(cutoffs.refresh_tokens, SWEEP_CHUNK)
                .await?,
            families: self.sweep(&FAMILIES, cutoffs.families).await?,
            password_links: self.sweep(&PASSWORD_LINKS, cutoffs.password_links).await?,
        };
        if report.families > 0 {
            // Their tokens now read as revoked: nothing remembered as live may say otherwise.
            self.tokens_revoked();
        }
        Ok(report)
    }

    /// Deletes the refresh tokens that expired before `cutoff`, reading the primary key `page`
    /// keys at a time (its order is the tokens' issuance order, since a refresh token starts
    /// with a time-ordered id, but any order would do).
    async fn sweep_refresh_tokens(&self, cutoff: UnixMillis, page: i64) -> CoreResult<u64> {
        // The empty string sorts before every key, in every collation.
        let mut after = String::new();
        let mut removed = 0;
        loop {
            // The page's last key, if the table holds a full page after `after`.
            let last: Option<String> = sqlx::query_scalar(
                "SELECT token_hash FROM refresh_tokens WHERE token_hash > $1
                 ORDER BY token_hash LIMIT 1 OFFSET $2",
            )
            .bind(&after)
            .bind(page - 1)
            .fetch_optional(&self.pool)
            .await?;
            let deleted = match &last {
                Some(last) => sqlx::query(
                    "DELETE FROM refresh_tokens
                     WHERE token_hash > $1 AND token_hash <= $2 AND expires_at < $3",
                )
                .bind(&after)
                .bind(last)
                .bind(cutoff),
                None => sqlx::query(
                    "DELETE FROM refresh_tokens WHERE token_hash > $1 AND expires_at < $2",
                )
                .bind(&after)
                .bind(cutoff),
            }
            .execute(&self.pool)
            .await?
            .rows_affected();
            removed += deleted;
            let Some(last) = last else {
                return Ok(removed);
            };
            after = last;
            tokio::time::sleep(PAUSE_BETWEEN_CHUNKS).await;
        }
    }

    /// Deletes `swept`'s rows that expired before `cutoff`, oldest first, in chunks.
    async fn sweep(&self, swept: &Swept, cutoff: UnixMillis) -> CoreResult<u64> {
        let Swept { table, key } = swept;
        // `IN (… LIMIT)` rather than `DELETE … LIMIT`, which PostgreSQL does not have and
        // SQLite only with a compile-time option.
        let sql = format!(
            "DELETE FROM {table} WHERE {key} IN
                 (SELECT {key} FROM {table} WHERE expires_at < $1 ORDER BY expires_at LIMIT $2)"
        );
        let mut removed = 0;
        loop {
            let chunk = sqlx::query(&sql)
                .bind(cutoff)
                .bind(SWEEP_CHUNK)
                .execute(&self.pool)
                .await?
                .rows_affected();
            removed += chunk;
            if chunk < SWEEP_CHUNK as u64 {
                return Ok(removed);
            }
            tokio::time::sleep(PAUSE_BETWEEN_CHUNKS).await;
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::testing::each_backend;

    const NOW: i64 = 1_800_000_000_000;
    const HOUR: i64 = 3_600_000;

    #[test]
    fn tokens_and_links_go_an_hour_after_they_expire() {
        let c = SweepCutoffs::at(NOW);
        assert_eq!(c.access_tokens, NOW - HOUR);
        assert_eq!(c.refresh_tokens, NOW - HOUR);
        assert_eq!(c.password_links, NOW - HOUR);
    }

    #[test]
    fn an_authorization_outlives_the_longest_access_token_it_can_have_issued() {
        let c = SweepCutoffs::at(NOW);
        // The family's last access token was issued at most at its end, and lives at most the
        // longest lifetime a server may set: it has expired (past the grace) at the cutoff.
        let last_token_expiry = c.families + MAX_ACCESS_TOKEN_TTL_SECS * 1000;
        assert!(last_token_expiry <= c.access_tokens);
        assert_eq!(c.families, NOW - HOUR - 24 * HOUR);
    }

    #[tokio::test]
    async fn refresh_tokens_are_swept_page_by_page_and_only_the_expired_ones() {
        for db in each_backend().await {
            let store = db.store().await;
            store.migrate().await.expect("migrate");
            // Keys in an order unrelated to their expiry; pages of two cut through both.
            let rows = [
                ("k1", NOW - 2 * HOUR),
                ("k2", NOW),
                ("k3", NOW - 3 * HOUR),
                ("k4", NOW - 3 * HOUR),
                ("k5", NOW + HOUR),
                ("k6", NOW - 4 * HOUR),
                ("k7", NOW - 2 * HOUR),
            ];
            for (key, expires_at) in rows {
                sqlx::query(
                    "INSERT INTO refresh_tokens (token_hash, family_id, scopes, created_at, expires_at)
                     VALUES ($1, 'family', 'notes.read', 0, $2)",
                )
                .bind(key)
                .bind(expires_at)
                .execute(store.pool())
                .await
                .expect("insert");
            }
            let removed = store
                .sweep_refresh_tokens(NOW - HOUR, 2)
                .await
                .expect("sweep");
            assert_eq!(removed, 5);
            let left: Vec<String> =
                sqlx::query_scalar("SELECT token_hash FROM refresh_tokens ORDER BY token_hash")
                    .fetch_all(store.pool())
                    .await
                    .expect("read");
            assert_eq!(left, ["k2", "k5"]);
        }
    }
}
