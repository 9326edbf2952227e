//! Users.

use sqlx::FromRow;

use super::{flag, ResultExt, Store};
use crate::error::CoreResult;
use crate::ids::UserId;
use crate::model::User;

#[derive(FromRow)]
struct UserRow {
    id: String,
    email: String,
    display_name: String,
    must_change_password: i64,
    is_project_admin: i64,
    disabled: i64,
    created_at: i64,
}

impl From<UserRow> for User {
    fn from(r: UserRow) -> Self {
        User {
            id: UserId::from_string(r.id),
            email: r.email,
            display_name: r.display_name,
            must_change_password: r.must_change_password != 0,
            is_project_admin: r.is_project_admin != 0,
            disabled: r.disabled != 0,
            created_at: r.created_at,
        }
    }
}

const USER_COLUMNS: &str =
    "id, email, display_name, must_change_password, is_project_admin, disabled, created_at";

impl Store {
    /// Inserts a user with an optional argon2id password hash.
    /// `AlreadyExists` if the email is taken.
    pub async fn insert_user(&self, user: &User, password_hash: Option<&str>) -> CoreResult<()> {
        sqlx::query(
            "INSERT INTO users (id, email, display_name, password_hash, must_change_password,
                                is_project_admin, disabled, created_at, updated_at)
             VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $8)",
        )
        .bind(user.id.as_str())
        .bind(&user.email)
        .bind(&user.display_name)
        .bind(password_hash)
        .bind(flag(user.must_change_password))
        .bind(flag(user.is_project_admin))
        .bind(flag(user.disabled))
        .bind(user.created_at)
        .execute(&self.pool)
        .await
        .on_unique("a user with this email")?;
        Ok(())
    }

    /// The user with this (already normalised) email.
    pub async fn user_by_email(&self, email: &str) -> CoreResult<Option<User>> {
        Ok(sqlx::query_as::<_, UserRow>(&format!(
            "SELECT {USER_COLUMNS} FROM users WHERE email = $1"
        ))
        .bind(email)
        .fetch_optional(&self.pool)
        .await?
        .map(User::from))
    }

    pub async fn user_by_id(&self, id: &UserId) -> CoreResult<Option<User>> {
        Ok(
            sqlx::query_as::<_, UserRow>(&format!(
                "SELECT {USER_COLUMNS} FROM users WHERE id = $1"
            ))
            .bind(id.as_str())
            .fetch_optional(&self.pool)
            .await?
            .map(User::from),
        )
    }

    /// The user's stored password hash, if they have a password.
    pub async fn password_hash_of(&self, user: &UserId) -> CoreResult<Option<String>> {
        Ok(
            sqlx::query_scalar::<_, Option<String>>(
                "SELECT password_hash FROM users WHERE id = $1",
            )
            .bind(user.as_str())
            .fetch_optional(&self.pool)
            .await?
            .flatten(),
        )
    }

    /// Replaces the user's password hash and clears "must change password".
    pub async fn set_password(
        &self,
        user: &UserId,
        password_hash: &str,
        now: i64,
    ) -> CoreResult<()> {
        sqlx::query(
            "UPDATE users SET password_hash = $2, must_change_password = 0, updated_at = $3
             WHERE id = $1",
        )
        .bind(user.as_str())
        .bind(password_hash)
        .bind(now)
        .execute(&self.pool)
        .await?;
        Ok(())
    }

    pub async fn count_users(&self) -> CoreResult<i64> {
        Ok(sqlx::query_scalar::<_, i64>("SELECT COUNT(*) FROM users")
            .fetch_one(&self.pool)
            .await?)
    }

    pub async fn count_project_admins(&self) -> CoreResult<i64> {
        Ok(
            sqlx::query_scalar::<_, i64>("SELECT COUNT(*) FROM users WHERE is_project_admin = 1")
                .fetch_one(&self.pool)
                .await?,
        )
    }
}
