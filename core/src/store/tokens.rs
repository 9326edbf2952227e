//! Authorization codes, token families, refresh tokens and issued access tokens.
//! Single-use things are consumed by an atomic conditional UPDATE, never read-then-write
//! (RFC 9700 §4.14, OAuth 2.1 §4.1.3): of concurrent redemptions exactly one changes the row.

use sqlx::FromRow;
use std::collections::HashSet;

use super::{json, Backend, Store};
use crate::clock::UnixMillis;
use crate::error::CoreResult;
use crate::secret::SecretHash;
use crate::store::fresh_refresh::PendingRefresh;

/// One authorization and everything issued from it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct TokenFamily {
    pub id: String,
    pub agent_id: String,
    pub user_id: Option<String>,
    pub tenant_id: Option<String>,
    pub mcp_server_id: String,
    pub auth_time: Option<UnixMillis>,
    pub acr: Option<String>,
    pub amr: Vec<String>,
    pub created_at: UnixMillis,
    /// Absolute end of refreshing.
    pub expires_at: UnixMillis,
    pub revoked_at: Option<UnixMillis>,
    /// Claims the issuance hooks added when the authorization was made (`crate::enrich`);
    /// every access token of the family carries them.
    pub claims: serde_json::Map<String, serde_json::Value>,
}

/// An authorization code as stored.
#[derive(Debug, Clone, PartialEq, Eq, FromRow)]
pub struct CodeRecord {
    pub family_id: String,
    pub agent_id: String,
    pub user_id: String,
    pub tenant_id: Option<String>,
    pub mcp_server_id: String,
    pub redirect_uri: String,
    pub code_challenge: String,
    pub resource: String,
    pub scopes: String,
    pub auth_time: i64,
    pub acr: Option<String>,
    pub amr: String,
    pub created_at: i64,
    pub expires_at: i64,
}

impl CodeRecord {
    pub fn amr_list(&self) -> CoreResult<Vec<String>> {
        json::decode(&self.amr)
    }
}

/// What happened when a code was redeemed.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum CodeRedemption {
    /// This call consumed it.
    Fresh(Box<CodeRecord>),
    /// It was consumed before: a replay. Carries the family to revoke.
    AlreadyUsed {
        family_id: String,
    },
    Expired,
    Unknown,
}

/// A refresh token as stored, with its family.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct RefreshState {
    pub family: TokenFamily,
    pub scopes: String,
    pub expires_at: UnixMillis,
    /// When it was exchanged for its successor (`None` while it is the family's current one).
    pub rotated_at: Option<UnixMillis>,
}

#[derive(FromRow)]
struct RefreshStateRow {
    token_scopes: String,
    token_expires_at: i64,
    token_rotated_at: Option<i64>,
    #[sqlx(flatten)]
    family: FamilyRow,
}

#[derive(FromRow)]
struct FamilyRow {
    id: String,
    agent_id: String,
    user_id: Option<String>,
    tenant_id: Option<String>,
    mcp_server_id: String,
    auth_time: Option<i64>,
    acr: Option<String>,
    amr: String,
    created_at: i64,
    expires_at: i64,
    revoked_at: Option<i64>,
    claims: String,
}

impl TryFrom<FamilyRow> for TokenFamily {
    type Error = crate::error::CoreError;
    fn try_from(r: FamilyRow) -> CoreResult<Self> {
        Ok(TokenFamily {
            id: r.id,
            agent_id: r.agent_id,
            user_id: r.user_id,
            tenant_id: r.tenant_id,
            mcp_server_id: r.mcp_server_id,
            auth_time: r.auth_time,
            acr: r.acr,
            amr: json::decode(&r.amr)?,
            created_at: r.created_at,
            expires_at: r.expires_at,
            revoked_at: r.revoked_at,
            claims: json::decode(&r.claims)?,
        })
    }
}

/// What one token response issued, written in the same transaction as its audit event (the
/// audit writer's group commit), so a token never exists without its record.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Issuance {
    pub jti: String,
    /// `None` for client_credentials.
    pub family_id: Option<String>,
    pub agent_id: String,
    pub mcp_server_id: String,
    pub access_expires_at: UnixMillis,
    pub refresh: Option<IssuedRefreshToken>,
    /// The refresh token this issuance replaces (the refresh grant). It is rotated in the
    /// issuance's own transaction, and only if it still can be: if it was rotated, has expired
    /// or its family was revoked since the request read it, nothing of the issuance is written.
    pub rotates: Option<SecretHash>,
    pub issued_at: UnixMillis,
}

/// A refresh token to record at issuance (its hash only).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct IssuedRefreshToken {
    pub hash: SecretHash,
    pub family_id: String,
    pub scopes: String,
    pub expires_at: UnixMillis,
}

/// Writes issuances inside the caller's transaction, many rows per statement.
pub(crate) async fn write_issuances(
    tx: &mut sqlx::Transaction<'_, sqlx::Any>,
    backend: Backend,
    issuances: &[&Issuance],
) -> CoreResult<()> {
    for chunk in super::power_of_two_chunks(issuances, ROWS_PER_STATEMENT) {
        let sql = format!(
            "{} access_tokens (jti, family_id, agent_id, mcp_server_id, expires_at) VALUES {}",
            backend.batch_insert(),
            super::values_placeholders(backend, chunk.len(), 5)
        );
        let mut query = sqlx::query(&sql);
        for i in chunk {
            query = query
                .bind(&i.jti)
                .bind(i.family_id.as_deref())
                .bind(&i.agent_id)
                .bind(&i.mcp_server_id)
                .bind(i.access_expires_at);
        }
        query.execute(&mut **tx).await?;
    }
    let refreshes: Vec<(&Issuance, &IssuedRefreshToken)> = issuances
        .iter()
        .filter_map(|i| i.refresh.as_ref().map(|r| (*i, r)))
        .collect();
    for chunk in super::power_of_two_chunks(&refreshes, ROWS_PER_STATEMENT) {
        let sql = format!(
            "{} refresh_tokens (token_hash, family_id, scopes, created_at, expires_at) VALUES {}",
            backend.batch_insert(),
            super::values_placeholders(backend, chunk.len(), 5)
        );
        let mut query = sqlx::query(&sql);
        for (i, r) in chunk {
            query = query
                .bind(r.hash.as_str())
                .bind(&r.family_id)
                .bind(&r.scopes)
                .bind(i.issued_at)
                .bind(r.expires_at);
        }
        query.execute(&mut **tx).await?;
    }
    Ok(())
}

/// Revokes, inside `tx`, the live token families whose columns equal the given values
/// (`matching`: `token_families` columns, literals of the caller), with `reason`. A revoked
/// family leaves nothing usable behind: its refresh tokens are read with it, and so are its
/// access tokens ([`Store::access_token_revoked`]), so their rows are not updated one by one
/// (which would need an index of tokens by family, written at a random place by every issuance:
/// see migration 0012). Returns how many families this revoked. The caller commits, then calls
/// [`Store::tokens_revoked`].
pub(crate) async fn revoke_families_where(
    tx: &mut sqlx::AnyConnection,
    matching: &[(&'static str, &str)],
    reason: &str,
    now: UnixMillis,
) -> CoreResult<u64> {
    let filter = matching
        .iter()
        .enumerate()
        .map(|(i, (column, _))| format!("{column} = ${}", i + 1))
        .collect::<Vec<_>>()
        .join(" AND ");
    let at = matching.len() + 1;
    let families = format!(
        "UPDATE token_families SET revoked_at = ${at}, revoked_reason = ${}
         WHERE {filter} AND revoked_at IS NULL",
        at + 1
    );
    let mut query = sqlx::query(&families);
    for (_, value) in matching {
        query = query.bind(*value);
    }
    Ok(query
        .bind(now)
        .bind(reason)
        .execute(&mut *tx)
        .await?
        .rows_affected())
}

/// Marks refresh tokens rotated inside the caller's transaction, each at its own time, where it
/// is still its family's current, unexpired token and the family is not revoked: one atomic
/// conditional UPDATE per chunk (`UPDATE … FROM (VALUES …)`, SQLite ≥ 3.33 and PostgreSQL), so
/// of concurrent rotations of one token exactly one changes the row (RFC 9700 §4.14.2), and a
/// batch of rotations costs one statement instead of one per token. `rotations` must not repeat
/// a hash (the caller decides which of two presentations of one token comes first). Returns
/// the hashes this rotated; runs no statement for no rotations.
pub(crate) async fn rotate_refreshes(
    tx: &mut sqlx::Transaction<'_, sqlx::Any>,
    backend: Backend,
    rotations: &[(&SecretHash, UnixMillis)],
) -> CoreResult<HashSet<String>> {
    let mut rotated = HashSet::with_capacity(rotations.len());
    for chunk in super::power_of_two_chunks(rotations, ROWS_PER_STATEMENT) {
        // VALUES' columns are named column1, column2 on both backends. The family check is a
        // scalar subquery, not EXISTS: PostgreSQL turns an EXISTS into a join it may reorder,
        // and on a young database (no statistics yet: one family estimated) it drove the
        // UPDATE from token_families through every family's tokens, 20 ms per batch; a
        // scalar subquery stays a per-row lookup under the VALUES-driven index scan.
        let sql = format!(
            "UPDATE refresh_tokens SET rotated_at = v.column2
             FROM (VALUES {}) AS v
             WHERE refresh_tokens.token_hash = v.column1 AND refresh_tokens.rotated_at IS NULL
               AND refresh_tokens.expires_at > v.column2
               AND (SELECT f.revoked_at IS NULL FROM token_families f
                    WHERE f.id = refresh_tokens.family_id)
             RETURNING refresh_tokens.token_hash",
            super::values_placeholders(backend, chunk.len(), 2)
        );
        let mut query = sqlx::query_scalar::<_, String>(&sql);
        for (hash, at) in chunk {
            query = query.bind(hash.as_str()).bind(*at);
        }
        rotated.extend(query.fetch_all(&mut **tx).await?);
    }
    Ok(rotated)
}

/// Rows per multi-row INSERT at most (well under SQLite's and PostgreSQL's parameter limits;
/// a power of two, see [`super::power_of_two_chunks`]).
const ROWS_PER_STATEMENT: usize = 64;

const CODE_COLUMNS: &str = "family_id, agent_id, user_id, tenant_id, mcp_server_id, redirect_uri,
    code_challenge, resource, scopes, auth_time, acr, amr, created_at, expires_at";

impl Store {
    /// Stores a new family together with the code that starts it.
    pub async fn insert_code(
        &self,
        family: &TokenFamily,
        code_hash: &SecretHash,
        code: &CodeRecord,
    ) -> CoreResult<()> {
        let mut tx = self.begin_write().await?;
        insert_family(&mut tx, family).await?;
        sqlx::query(&format!(
            "INSERT INTO authorization_codes (code_hash, {CODE_COLUMNS})
             VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $12, $13, $14, $15)"
        ))
        .bind(code_hash.as_str())
        .bind(&code.family_id)
        .bind(&code.agent_id)
        .bind(&code.user_id)
        .bind(code.tenant_id.as_deref())
        .bind(&code.mcp_server_id)
        .bind(&code.redirect_uri)
        .bind(&code.code_challenge)
        .bind(&code.resource)
        .bind(&code.scopes)
        .bind(code.auth_time)
        .bind(code.acr.as_deref())
        .bind(&code.amr)
        .bind(code.created_at)
        .bind(code.expires_at)
        .execute(&mut *tx)
        .await?;
        tx.commit().await?;
        Ok(())
    }

    /// Consumes a code: exactly one concurrent caller gets `Fresh`.
    /// A code presented by another client is left unconsumed and reads as `Unknown`.
    pub async fn redeem_code(
        &self,
        code_hash: &SecretHash,
        agent_id: &str,
        now: UnixMillis,
    ) -> CoreResult<CodeRedemption> {
        let fresh = sqlx::query_as::<_, CodeRecord>(&format!(
            "UPDATE authorization_codes SET consumed_at = $2
             WHERE code_hash = $1 AND agent_id = $3 AND consumed_at IS NULL AND expires_at > $2
             RETURNING {CODE_COLUMNS}"
        ))
        .bind(code_hash.as_str())
        .bind(now)
        .bind(agent_id)
        .fetch_optional(&self.pool)
        .await?;
        if let Some(code) = fresh {
            return Ok(CodeRedemption::Fresh(Box::new(code)));
        }
        let row: Option<(String, Option<i64>)> = sqlx::query_as(
            "SELECT family_id, consumed_at FROM authorization_codes WHERE code_hash = $1 AND agent_id = $2",
        )
        .bind(code_hash.as_str())
        .bind(agent_id)
        .fetch_optional(&self.pool)
        .await?;
        Ok(match row {
            Some((family_id, Some(_))) => CodeRedemption::AlreadyUsed { family_id },
            Some((_, None)) => CodeRedemption::Expired,
            None => CodeRedemption::Unknown,
        })
    }

    pub async fn family(&self, id: &str) -> CoreResult<Option<TokenFamily>> {
        sqlx::query_as::<_, FamilyRow>(
            "SELECT id, agent_id, user_id, tenant_id, mcp_server_id, auth_time, acr, amr,
                    created_at, expires_at, revoked_at, claims
             FROM token_families WHERE id = $1",
        )
        .bind(id)
        .fetch_optional(&self.pool)
        .await?
        .map(TokenFamily::try_from)
        .transpose()
    }

    /// Revokes a family: its refresh tokens stop working and its access tokens read as revoked.
    /// Returns whether this call revoked it (false if it already was).
    pub async fn revoke_family(&self, id: &str, reason: &str, now: UnixMillis) -> CoreResult<bool> {
        let mut tx = self.begin_write().await?;
        let revoked = revoke_families_where(&mut tx, &[("id", id)], reason, now).await?;
        tx.commit().await?;
        self.tokens_revoked();
        Ok(revoked > 0)
    }

    /// A refresh token and its family as they stand, whatever their state, in one read: the
    /// refresh grant checks everything on it before it issues (and rotates at the commit:
    /// `rotate_refreshes`); introspection and revocation read the same.
    pub async fn refresh_token_state(&self, hash: &SecretHash) -> CoreResult<Option<RefreshState>> {
        sqlx::query_as::<_, RefreshStateRow>(
            "SELECT r.scopes AS token_scopes, r.expires_at AS token_expires_at,
                    r.rotated_at AS token_rotated_at, f.id, f.agent_id, f.user_id, f.tenant_id,
                    f.mcp_server_id, f.auth_time, f.acr, f.amr, f.created_at, f.expires_at,
                    f.revoked_at, f.claims
             FROM refresh_tokens r JOIN token_families f ON f.id = r.family_id
             WHERE r.token_hash = $1",
        )
        .bind(hash.as_str())
        .fetch_optional(&self.pool)
        .await?
        .map(|row| {
            Ok(RefreshState {
                family: TokenFamily::try_from(row.family)?,
                scopes: row.token_scopes,
                expires_at: row.token_expires_at,
                rotated_at: row.token_rotated_at,
            })
        })
        .transpose()
    }

    /// Whether an issued access token has been revoked: itself, or through its family (revoked,
    /// or gone: a token whose family no longer exists counts as revoked).
    /// `None` if Mandate has no record of the jti.
    /// A "not revoked" answer is remembered for a moment (see `live_tokens`: any revocation
    /// through this store retires it at once; one through another instance, within a second).
    pub async fn access_token_revoked(&self, jti: &str) -> CoreResult<Option<bool>> {
        if self.live_tokens.is_live(jti) {
            return Ok(Some(false));
        }
        let epoch = self.live_tokens.epoch();
        // The token's own revocation time, its family id, and the family's id and revocation
        // time as found (no family found: both `None`).
        type Revocations = (Option<i64>, Option<String>, Option<String>, Option<i64>);
        let row: Option<Revocations> = sqlx::query_as(
            "SELECT a.revoked_at, a.family_id, f.id, f.revoked_at FROM access_tokens a
                 LEFT JOIN token_families f ON f.id = a.family_id WHERE a.jti = $1",
        )
        .bind(jti)
        .fetch_optional(&self.pool)
        .await?;
        let revoked = row.map(|(own, family_id, family, family_revoked)| {
            own.is_some() || family_revoked.is_some() || (family_id.is_some() && family.is_none())
        });
        if revoked == Some(false) {
            self.live_tokens.remember(jti, epoch);
        }
        Ok(revoked)
    }

    /// Called after every write that revokes or deletes access tokens or families commits.
    pub(crate) fn tokens_revoked(&self) {
        self.live_tokens.revoked();
        self.fresh_refresh.revoked();
    }

    /// A just-minted refresh token's state (built by `state`), to file with
    /// [`Store::remember_refresh`] once its issuance has committed. Made before the commit: a
    /// revocation that commits in between keeps it from being filed.
    ///
    /// `None` on PostgreSQL, where nothing is kept (and nothing is built). On SQLite the read
    /// it saves re-reads, on a pooled connection, the pages the last commit changed (chained
    /// refresh, interleaved runs: 5.1–6.8k/s with it against 4.0–5.5k/s without). On PostgreSQL
    /// the same change measured slower (2.3–2.4k/s against 2.6–2.9k/s): with the read gone the
    /// audit writer's batches were as large but took twice as long, and neither Mandate nor
    /// PostgreSQL was busy, so the wait is in the writer's round trips, not in the read; the
    /// read is kept there until that is understood.
    pub fn pending_refresh(
        &self,
        hash: &SecretHash,
        state: impl FnOnce() -> RefreshState,
    ) -> Option<PendingRefresh> {
        (self.backend == Backend::Sqlite).then(|| PendingRefresh {
            hash: hash.clone(),
            state: state(),
            epoch: self.fresh_refresh.epoch(),
        })
    }

    /// Keeps a committed refresh token's state for the refresh that presents it next.
    pub fn remember_refresh(&self, pending: PendingRefresh) {
        self.fresh_refresh.remember(pending);
    }

    /// The state of a refresh token presented for exchange: as this process issued it when it
    /// has just done so (taken: the next presentation reads the database), otherwise read as
    /// [`Store::refresh_token_state`] reads it. What is kept may be stale; the exchange's
    /// rotation (`rotate_refreshes`) decides on the database's row (see `fresh_refresh`).
    pub async fn refresh_state_for_exchange(
        &self,
        hash: &SecretHash,
    ) -> CoreResult<Option<RefreshState>> {
        match self.fresh_refresh.take(hash) {
            Some(state) => Ok(Some(state)),
            None => self.refresh_token_state(hash).await,
        }
    }

    /// Revokes one access token by jti, if it belongs to `agent_id`. Returns whether it did.
    pub async fn revoke_access_token(
        &self,
        jti: &str,
        agent_id: &str,
        now: UnixMillis,
    ) -> CoreResult<bool> {
        let done = sqlx::query(
            "UPDATE access_tokens SET revoked_at = $3
             WHERE jti = $1 AND agent_id = $2 AND revoked_at IS NULL",
        )
        .bind(jti)
        .bind(agent_id)
        .bind(now)
        .execute(&self.pool)
        .await?;
        self.tokens_revoked();
        Ok(done.rows_affected() > 0)
    }
}

async fn insert_family(
    tx: &mut sqlx::Transaction<'_, sqlx::Any>,
    family: &TokenFamily,
) -> CoreResult<()> {
    sqlx::query(
        "INSERT INTO token_families (id, agent_id, user_id, tenant_id, mcp_server_id, auth_time, acr, amr,
                                     created_at, expires_at, claims)
         VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11)",
    )
    .bind(&family.id)
    .bind(&family.agent_id)
    .bind(family.user_id.as_deref())
    .bind(family.tenant_id.as_deref())
    .bind(&family.mcp_server_id)
    .bind(family.auth_time)
    .bind(family.acr.as_deref())
    .bind(json::encode(&family.amr)?)
    .bind(family.created_at)
    .bind(family.expires_at)
    .bind(json::encode(&family.claims)?)
    .execute(&mut **tx)
    .await?;
    Ok(())
}
