//! What admins change about people: the user list, disabling (which ends sessions and revokes
//! refresh tokens in one transaction), second-factor resets, password links, memberships, and
//! tenants' decisions about agents.

use sqlx::FromRow;

use super::agent_admin::like_escaped;
use super::tokens::revoke_families_where;
use super::where_clause::{Bind, WhereClause};
use super::{flag, json, Store};
use crate::clock::UnixMillis;
use crate::error::CoreResult;
use crate::ids::{TenantId, UserId};
use crate::model::User;
use crate::secret::SecretHash;

/// Which users a list shows.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct UserFilter {
    /// Part of the email or display name, any case.
    pub text: Option<String>,
    /// Only members of these tenants (a tenant admin's view); `None`: everyone.
    pub tenants: Option<Vec<String>>,
    /// Continue after this user: `(created_at, id)`.
    pub after: Option<(UnixMillis, String)>,
}

#[derive(FromRow)]
struct UserListRow {
    id: String,
    email: String,
    display_name: String,
    must_change_password: i64,
    is_project_admin: i64,
    disabled: i64,
    created_at: i64,
}

/// A tenant's decision about an agent on one MCP server.
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct TenantApproval {
    pub tenant_id: String,
    pub agent_id: String,
    pub mcp_server_id: String,
    /// `approved` or `blocked`.
    pub decision: String,
    /// What an approval covers.
    pub scopes: Vec<String>,
    pub decided_by: Option<String>,
    pub decided_at: UnixMillis,
}

#[derive(FromRow)]
struct ApprovalRow {
    tenant_id: String,
    agent_id: String,
    mcp_server_id: String,
    decision: String,
    scopes: String,
    decided_by: Option<String>,
    decided_at: i64,
}

impl TryFrom<ApprovalRow> for TenantApproval {
    type Error = crate::error::CoreError;
    fn try_from(r: ApprovalRow) -> CoreResult<Self> {
        Ok(Self {
            scopes: json::decode(&r.scopes)?,
            tenant_id: r.tenant_id,
            agent_id: r.agent_id,
            mcp_server_id: r.mcp_server_id,
            decision: r.decision,
            decided_by: r.decided_by,
            decided_at: r.decided_at,
        })
    }
}

const APPROVAL_COLUMNS: &str =
    "tenant_id, agent_id, mcp_server_id, decision, scopes, decided_by, decided_at";

impl Store {
    /// Users newest first, `limit` of them, after the filter's cursor.
    pub async fn list_users(&self, filter: &UserFilter, limit: i64) -> CoreResult<Vec<User>> {
        let mut w = WhereClause::default();
        if let Some(text) = filter
            .text
            .as_deref()
            .map(str::trim)
            .filter(|t| !t.is_empty())
        {
            let p = w.value(Bind::Text(format!(
                "%{}%",
                like_escaped(&text.to_lowercase())
            )));
            w.and(format!(
                "(email LIKE {p} ESCAPE '\\' OR LOWER(display_name) LIKE {p} ESCAPE '\\')"
            ));
        }
        if let Some(tenants) = &filter.tenants {
            if tenants.is_empty() {
                return Ok(Vec::new());
            }
            let marks: Vec<String> = tenants
                .iter()
                .map(|t| w.value(Bind::Text(t.clone())))
                .collect();
            w.and(format!(
                "id IN (SELECT user_id FROM memberships WHERE tenant_id IN ({}))",
                marks.join(", ")
            ));
        }
        if let Some((at, id)) = &filter.after {
            let c = w.value(Bind::Int(*at));
            let i = w.value(Bind::Text(id.clone()));
            w.and(format!("(created_at, id) < ({c}, {i})"));
        }
        let sql = format!(
            "SELECT id, email, display_name, must_change_password, is_project_admin, disabled,
                    created_at
             FROM users {} ORDER BY created_at DESC, id DESC LIMIT {limit}",
            w.sql()
        );
        Ok(w.bind_to(sqlx::query_as::<_, UserListRow>(&sql))
            .fetch_all(&self.pool)
            .await?
            .into_iter()
            .map(|r| User {
                id: UserId::from_string(r.id),
                email: r.email,
                display_name: r.display_name,
                must_change_password: r.must_change_password != 0,
                is_project_admin: r.is_project_admin != 0,
                disabled: r.disabled != 0,
                created_at: r.created_at,
            })
            .collect())
    }

    /// Disables or enables a user. Disabling, in one transaction, also ends every session
    /// signed in before `now` and revokes every token family and access token the user holds.
    pub async fn set_user_disabled(
        &self,
        user: &UserId,
        disabled: bool,
        now: UnixMillis,
    ) -> CoreResult<bool> {
        let mut tx = self.begin_write().await?;
        let done = sqlx::query(
            "UPDATE users SET disabled = $2, updated_at = $3,
                    sessions_valid_after = CASE WHEN $2 = 1 THEN $3 ELSE sessions_valid_after END
             WHERE id = $1",
        )
        .bind(user.as_str())
        .bind(flag(disabled))
        .bind(now)
        .execute(&mut *tx)
        .await?;
        if disabled {
            let user = user.as_str();
            revoke_families_where(&mut tx, &[("user_id", user)], "user_disabled", now).await?;
        }
        tx.commit().await?;
        if disabled {
            self.tokens_revoked();
        }
        Ok(done.rows_affected() > 0)
    }

    /// Sessions of `user` signed in before this instant no longer count.
    pub async fn sessions_valid_after(
        &self,
        user: &UserId,
    ) -> CoreResult<Option<(bool, UnixMillis)>> {
        Ok(sqlx::query_as::<_, (i64, i64)>(
            "SELECT disabled, sessions_valid_after FROM users WHERE id = $1",
        )
        .bind(user.as_str())
        .fetch_optional(&self.pool)
        .await?
        .map(|(disabled, after)| (disabled != 0, after)))
    }

    /// Removes every second factor of a user (TOTP, recovery codes, passkeys) in one
    /// transaction, and ends their sessions: they sign in with their password and set one up again.
    pub async fn reset_second_factors(&self, user: &UserId, now: UnixMillis) -> CoreResult<()> {
        let mut tx = self.begin_write().await?;
        for table in ["totp_credentials", "recovery_codes", "passkeys"] {
            sqlx::query(&format!("DELETE FROM {table} WHERE user_id = $1"))
                .bind(user.as_str())
                .execute(&mut *tx)
                .await?;
        }
        sqlx::query("UPDATE users SET sessions_valid_after = $2, updated_at = $2 WHERE id = $1")
            .bind(user.as_str())
            .bind(now)
            .execute(&mut *tx)
            .await?;
        tx.commit().await?;
        Ok(())
    }

    /// Stores a password link's hash; earlier unused links of the user stop working.
    pub async fn insert_password_link(
        &self,
        user: &UserId,
        token: &SecretHash,
        now: UnixMillis,
        expires_at: UnixMillis,
    ) -> CoreResult<()> {
        let mut tx = self.begin_write().await?;
        sqlx::query(
            "UPDATE password_links SET used_at = $2 WHERE user_id = $1 AND used_at IS NULL",
        )
        .bind(user.as_str())
        .bind(now)
        .execute(&mut *tx)
        .await?;
        sqlx::query(
            "INSERT INTO password_links (token_hash, user_id, created_at, expires_at)
             VALUES ($1, $2, $3, $4)",
        )
        .bind(token.as_str())
        .bind(user.as_str())
        .bind(now)
        .bind(expires_at)
        .execute(&mut *tx)
        .await?;
        tx.commit().await?;
        Ok(())
    }

    /// The user a live (unused, unexpired) password link is for.
    pub async fn password_link_user(
        &self,
        token: &SecretHash,
        now: UnixMillis,
    ) -> CoreResult<Option<UserId>> {
        Ok(sqlx::query_scalar::<_, String>(
            "SELECT user_id FROM password_links
             WHERE token_hash = $1 AND used_at IS NULL AND expires_at > $2",
        )
        .bind(token.as_str())
        .bind(now)
        .fetch_optional(&self.pool)
        .await?
        .map(UserId::from_string))
    }

    /// Uses a password link once (atomic conditional UPDATE) and sets the password hash in
    /// the same transaction; `None` if the link is not live.
    pub async fn redeem_password_link(
        &self,
        token: &SecretHash,
        password_hash: &str,
        now: UnixMillis,
    ) -> CoreResult<Option<UserId>> {
        let mut tx = self.begin_write().await?;
        let user: Option<String> = sqlx::query_scalar(
            "UPDATE password_links SET used_at = $2
             WHERE token_hash = $1 AND used_at IS NULL AND expires_at > $2
             RETURNING user_id",
        )
        .bind(token.as_str())
        .bind(now)
        .fetch_optional(&mut *tx)
        .await?;
        let Some(user) = user else {
            return Ok(None);
        };
        sqlx::query(
            "UPDATE users SET password_hash = $2, must_change_password = 0, updated_at = $3
             WHERE id = $1",
        )
        .bind(&user)
        .bind(password_hash)
        .bind(now)
        .execute(&mut *tx)
        .await?;
        tx.commit().await?;
        Ok(Some(UserId::from_string(user)))
    }

    /// Sets a member's roles, permissions and tenant-admin flag, adding the membership if
    /// needed.
    pub async fn set_membership(
        &self,
        tenant: &TenantId,
        user: &UserId,
        roles: &[String],
        permissions: &[String],
        is_tenant_admin: bool,
        now: UnixMillis,
    ) -> CoreResult<()> {
        sqlx::query(
            "INSERT INTO memberships (tenant_id, user_id, roles, permissions, is_tenant_admin, created_at)
             VALUES ($1, $2, $3, $4, $5, $6)
             ON CONFLICT (tenant_id, user_id) DO UPDATE SET
                roles = excluded.roles, permissions = excluded.permissions,
                is_tenant_admin = excluded.is_tenant_admin",
        )
        .bind(tenant.as_str())
        .bind(user.as_str())
        .bind(json::encode(roles)?)
        .bind(json::encode(permissions)?)
        .bind(flag(is_tenant_admin))
        .bind(now)
        .execute(&self.pool)
        .await?;
        Ok(())
    }

    /// Removes a user from a tenant. In the same transaction their grants there go, and every
    /// token family they hold in that tenant is revoked with its access tokens: an agent acting
    /// for them in the tenant can neither refresh nor use what it holds (an access token that
    /// outlived the membership would still read as active at introspection until it expired).
    pub async fn remove_membership(
        &self,
        tenant: &TenantId,
        user: &UserId,
        now: UnixMillis,
    ) -> CoreResult<bool> {
        let mut tx = self.begin_write().await?;
        let done = sqlx::query("DELETE FROM memberships WHERE tenant_id = $1 AND user_id = $2")
            .bind(tenant.as_str())
            .bind(user.as_str())
            .execute(&mut *tx)
            .await?;
        sqlx::query("DELETE FROM grants WHERE tenant_id = $1 AND user_id = $2")
            .bind(tenant.as_str())
            .bind(user.as_str())
            .execute(&mut *tx)
            .await?;
        let matching = [("tenant_id", tenant.as_str()), ("user_id", user.as_str())];
        let families = revoke_families_where(&mut tx, &matching, "membership_removed", now).await?;
        tx.commit().await?;
        if families > 0 {
            self.tokens_revoked();
        }
        Ok(done.rows_affected() > 0)
    }

    /// Records (or replaces) a tenant's decision about an agent on a server.
    pub async fn set_tenant_approval(&self, approval: &TenantApproval) -> CoreResult<()> {
        sqlx::query(
            "INSERT INTO tenant_approvals (tenant_id, agent_id, mcp_server_id, decision, scopes,
                                           decided_by, decided_at)
             VALUES ($1, $2, $3, $4, $5, $6, $7)
             ON CONFLICT (tenant_id, agent_id, mcp_server_id) DO UPDATE SET
                decision = excluded.decision, scopes = excluded.scopes,
                decided_by = excluded.decided_by, decided_at = excluded.decided_at",
        )
        .bind(&approval.tenant_id)
        .bind(&approval.agent_id)
        .bind(&approval.mcp_server_id)
        .bind(&approval.decision)
        .bind(json::encode(&approval.scopes)?)
        .bind(approval.decided_by.as_deref())
        .bind(approval.decided_at)
        .execute(&self.pool)
        .await?;
        Ok(())
    }

    /// Withdraws a tenant's decision.
    pub async fn delete_tenant_approval(
        &self,
        tenant: &str,
        agent: &str,
        server: &str,
    ) -> CoreResult<bool> {
        let done = sqlx::query(
            "DELETE FROM tenant_approvals WHERE tenant_id = $1 AND agent_id = $2 AND mcp_server_id = $3",
        )
        .bind(tenant)
        .bind(agent)
        .bind(server)
        .execute(&self.pool)
        .await?;
        Ok(done.rows_affected() > 0)
    }

    /// The tenant's decision about the agent on the server, if any.
    pub async fn tenant_approval(
        &self,
        tenant: &str,
        agent: &str,
        server: &str,
    ) -> CoreResult<Option<TenantApproval>> {
        sqlx::query_as::<_, ApprovalRow>(&format!(
            "SELECT {APPROVAL_COLUMNS} FROM tenant_approvals
             WHERE tenant_id = $1 AND agent_id = $2 AND mcp_server_id = $3"
        ))
        .bind(tenant)
        .bind(agent)
        .bind(server)
        .fetch_optional(&self.pool)
        .await?
        .map(TenantApproval::try_from)
        .transpose()
    }

    /// Every decision of a tenant, newest first.
    pub async fn tenant_approvals_of(&self, tenant: &str) -> CoreResult<Vec<TenantApproval>> {
        sqlx::query_as::<_, ApprovalRow>(&format!(
            "SELECT {APPROVAL_COLUMNS} FROM tenant_approvals WHERE tenant_id = $1
             ORDER BY decided_at DESC, agent_id"
        ))
        .bind(tenant)
        .fetch_all(&self.pool)
        .await?
        .into_iter()
        .map(TenantApproval::try_from)
        .collect()
    }
}
