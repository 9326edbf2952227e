//! What a deployment needs before it serves: a master key that matches the database, and a
//! first admin on an empty database.

use base64::engine::general_purpose::STANDARD;
use base64::Engine;

use crate::clock::UnixMillis;
use crate::crypto::{random_token, MasterKey};
use crate::error::{CoreError, CoreResult};
use crate::identity::password::PasswordHasherPool;
use crate::ids::UserId;
use crate::model::user::normalize_email;
use crate::model::User;
use crate::store::Store;

const KEY_CHECK: &str = "master_key_check";
/// Set once the first admin has been created.
const FIRST_ADMIN: &str = "first_admin";
const KEY_CHECK_CONTEXT: &[u8] = b"mandate master key check";
/// The email of the admin seeded on an empty database.
pub const FIRST_ADMIN_EMAIL: &str = "admin@localhost";

/// Makes sure `key` is the key this database was set up with: the first start stores a value
/// sealed under it; every later start must open that value. Catches a lost or swapped key at
/// start-up instead of at the first decryption of a signing key.
pub async fn check_master_key(store: &Store, key: &MasterKey) -> CoreResult<()> {
    let fresh = STANDARD.encode(key.seal(b"ok", KEY_CHECK_CONTEXT)?);
    let stored = store.deployment_value_or_insert(KEY_CHECK, &fresh).await?;
    let sealed = STANDARD
        .decode(stored)
        .map_err(|_| CoreError::Crypto("stored master key check is not base64"))?;
    key.open(&sealed, KEY_CHECK_CONTEXT).map(|_| ())
}

/// A new admin and the one-time password to print for them.
#[derive(Debug)]
pub struct NewAdmin {
    pub user: User,
    /// Shown once; the admin must change it at first sign-in.
    pub one_time_password: String,
}

/// Creates a project admin with a one-time password. `AlreadyExists` if the email is taken.
pub async fn create_admin(
    store: &Store,
    hasher: &PasswordHasherPool,
    email: &str,
    now: UnixMillis,
) -> CoreResult<NewAdmin> {
    let email = normalize_email(email)
        .ok_or_else(|| CoreError::Invalid(format!("{email:?} is not an email address")))?;
    let one_time_password = random_token(18);
    let hash = hasher.hash(one_time_password.clone()).await?;
    let user = User {
        id: UserId::generate(),
        display_name: email.split('@').next().unwrap_or("admin").to_owned(),
        email,
        must_change_password: true,
        is_project_admin: true,
        disabled: false,
        created_at: now,
    };
    store.insert_user(&user, Some(&hash)).await?;
    Ok(NewAdmin {
        user,
        one_time_password,
    })
}

/// Creates the first project admin, once in the life of a database: when no project admin
/// exists and no earlier start created one. The claim on the `first_admin` deployment row
/// decides which of several instances starting together creates it.
pub async fn ensure_first_admin(
    store: &Store,
    hasher: &PasswordHasherPool,
    now: UnixMillis,
) -> CoreResult<Option<NewAdmin>> {
    if store.count_project_admins().await? > 0
        || store.deployment_value(FIRST_ADMIN).await?.is_some()
    {
        return Ok(None);
    }
    let claim = random_token(16);
    if store
        .deployment_value_or_insert(FIRST_ADMIN, &claim)
        .await?
        != claim
    {
        return Ok(None);
    }
    create_admin(store, hasher, FIRST_ADMIN_EMAIL, now)
        .await
        .map(Some)
}

/// Creates a person (not an admin) in the tenants named by slug, with `roles` in each.
/// Returns the user and the password (the one given, or a random one to show once).
pub async fn create_member(
    store: &Store,
    hasher: &PasswordHasherPool,
    email: &str,
    password: Option<String>,
    tenant_slugs: &[String],
    roles: &[String],
    now: UnixMillis,
) -> CoreResult<(User, String)> {
    let email = normalize_email(email)
        .ok_or_else(|| CoreError::Invalid(format!("{email:?} is not an email address")))?;
    let mut tenants = Vec::with_capacity(tenant_slugs.len());
    for slug in tenant_slugs {
        let tenant = store.tenant_by_slug(slug).await?.ok_or_else(|| {
            CoreError::Invalid(format!("there is no tenant with the slug {slug:?}"))
        })?;
        tenants.push(tenant);
    }
    let password = password.unwrap_or_else(|| random_token(12));
    let hash = hasher.hash(password.clone()).await?;
    let user = User {
        id: UserId::generate(),
        display_name: email.split('@').next().unwrap_or("user").to_owned(),
        email,
        must_change_password: false,
        is_project_admin: false,
        disabled: false,
        created_at: now,
    };
    store.insert_user(&user, Some(&hash)).await?;
    for tenant in tenants {
        store
            .add_membership(&crate::model::Membership {
                tenant_id: tenant.id,
                user_id: user.id.clone(),
                roles: roles.to_vec(),
                permissions: vec![],
                is_tenant_admin: false,
                created_at: now,
            })
            .await?;
    }
    Ok((user, password))
}
