//! People, as admins manage them: the list, one person's page, invitations (a link to choose a
//! password, shown once to the admin), new password links, second-factor resets, disabling
//! (sessions end and refresh tokens are revoked at once) and memberships with roles and
//! permissions. A tenant admin reaches only members of the tenants they administer, changes
//! only those memberships, and disables or resets only people who belong to no other tenant.

use serde::{Deserialize, Serialize};

use super::{AdminError, AdminResult};
use crate::access::AdminAccess;
use crate::clock::UnixMillis;
use crate::ids::UserId;
use crate::model::user::normalize_email;
use crate::model::{Membership, Tenant, User};
use crate::policy::draft::FieldErrors;
use crate::secret::{Secret, SecretKind};
use crate::store::people::UserFilter;
use crate::store::Store;

const NOT_FOUND: &str = "No person you administer has this id or email.";
/// How long a password link works.
pub const LINK_LIFETIME_MS: i64 = 7 * 24 * 3600 * 1000;

/// One membership on a person's page.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct MembershipView {
    pub tenant_id: String,
    pub tenant_slug: String,
    pub tenant_name: String,
    pub roles: Vec<String>,
    pub permissions: Vec<String>,
    pub is_tenant_admin: bool,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct UserDetail {
    pub user: UserView,
    /// Only the tenants the caller administers.
    pub memberships: Vec<MembershipView>,
    pub has_totp: bool,
    pub passkeys: usize,
}

/// A person without anything secret.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct UserView {
    pub id: String,
    pub email: String,
    pub display_name: String,
    pub is_project_admin: bool,
    pub disabled: bool,
    pub created_at: UnixMillis,
}

impl From<&User> for UserView {
    fn from(u: &User) -> Self {
        Self {
            id: u.id.to_string(),
            email: u.email.clone(),
            display_name: u.display_name.clone(),
            is_project_admin: u.is_project_admin,
            disabled: u.disabled,
            created_at: u.created_at,
        }
    }
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct UserPage {
    pub users: Vec<UserView>,
    pub next_cursor: Option<String>,
}

fn tenant_ids(access: &AdminAccess) -> Option<Vec<String>> {
    access
        .tenant_restriction()
        .map(|ts| ts.iter().map(|t| t.to_string()).collect())
}

pub async fn list(
    store: &Store,
    access: &AdminAccess,
    text: &str,
    cursor: &str,
    limit: i64,
) -> AdminResult<UserPage> {
    let after = match cursor.trim() {
        "" => None,
        c => Some(super::agents::parse_cursor(c).ok_or_else(|| {
            AdminError::Invalid(FieldErrors::from([(
                "cursor".to_owned(),
                "Not a cursor this list gave.".to_owned(),
            )]))
        })?),
    };
    let limit = limit.clamp(1, super::agents::MAX_PAGE);
    let filter = UserFilter {
        text: Some(text.to_owned()),
        tenants: tenant_ids(access),
        after,
    };
    let mut users = store.list_users(&filter, limit + 1).await?;
    let n = usize::try_from(limit).unwrap_or(usize::MAX);
    let more = users.len() > n;
    users.truncate(n);
    let next_cursor = if more {
        users.last().map(|u| format!("{}.{}", u.created_at, u.id))
    } else {
        None
    };
    Ok(UserPage {
        users: users.iter().map(UserView::from).collect(),
        next_cursor,
    })
}

/// The person by id or email, with their memberships, if the caller administers them.
async fn find(
    store: &Store,
    access: &AdminAccess,
    key: &str,
) -> AdminResult<(User, Vec<(Membership, Tenant)>)> {
    let key = key.trim();
    let user = match normalize_email(key) {
        Some(email) if key.contains('@') => store.user_by_email(&email).await?,
        _ => store.user_by_id(&UserId::from_string(key)).await?,
    }
    .ok_or(AdminError::NotFound(NOT_FOUND))?;
    let memberships = store.memberships_of(&user.id).await?;
    let visible = access.is_project_admin()
        || memberships
            .iter()
            .any(|(m, _)| access.sees_tenant(Some(m.tenant_id.as_str())));
    if !visible {
        return Err(AdminError::NotFound(NOT_FOUND));
    }
    Ok((user, memberships))
}

/// Whether the caller may change the account itself (disable, reset, new password link): a
/// project admin, or a tenant admin of every tenant the person is in (never of a project admin).
fn may_change_account(
    access: &AdminAccess,
    user: &User,
    memberships: &[(Membership, Tenant)],
) -> AdminResult<()> {
    if access.is_project_admin() {
        return Ok(());
    }
    let all_theirs = memberships
        .iter()
        .all(|(m, _)| access.sees_tenant(Some(m.tenant_id.as_str())));
    if user.is_project_admin || !all_theirs {
        return Err(AdminError::Forbidden(
            "This person also belongs elsewhere: only a project admin can change their account.",
        ));
    }
    Ok(())
}

pub async fn get(store: &Store, access: &AdminAccess, key: &str) -> AdminResult<UserDetail> {
    let (user, memberships) = find(store, access, key).await?;
    let has_totp = store
        .totp_credential(user.id.as_str())
        .await?
        .is_some_and(|c| c.confirmed_at.is_some());
    let passkeys = store.passkeys_of(user.id.as_str()).await?.len();
    Ok(UserDetail {
        user: UserView::from(&user),
        memberships: memberships
            .into_iter()
            .filter(|(m, _)| access.sees_tenant(Some(m.tenant_id.as_str())))
            .map(|(m, t)| MembershipView {
                tenant_id: t.id.to_string(),
                tenant_slug: t.slug,
                tenant_name: t.name,
                roles: m.roles,
                permissions: m.permissions,
                is_tenant_admin: m.is_tenant_admin,
            })
            .collect(),
        has_totp,
        passkeys,
    })
}

/// A membership as an admin sets it.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
#[serde(default)]
pub struct MembershipDraft {
    /// The tenant's id or slug.
    pub tenant: String,
    pub roles: Vec<String>,
    pub permissions: Vec<String>,
    pub is_tenant_admin: bool,
}

/// Roles and permissions: trimmed words of letters, digits and `-_.:`, no duplicates.
fn clean_words(words: &[String], field: &str, errors: &mut FieldErrors) -> Vec<String> {
    let mut out: Vec<String> = Vec::new();
    for w in words.iter().map(|w| w.trim()).filter(|w| !w.is_empty()) {
        let fine = w.chars().count() <= 60
            && w.chars()
                .all(|c| c.is_alphanumeric() || matches!(c, '-' | '_' | '.' | ':'));
        if !fine {
            errors.insert(
                field.into(),
                format!("“{w}”: letters, digits, - _ . or : only."),
            );
        } else if !out.iter().any(|x| x == w) {
            out.push(w.to_owned());
        }
    }
    out
}

/// Someone to invite.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
#[serde(default)]
pub struct InviteDraft {
    pub email: String,
    pub display_name: String,
    #[serde(flatten)]
    pub membership: MembershipDraft,
}

/// Creates the person (without a password) in a tenant; returns them and a link token to
/// choose their password, valid for 7 days and shown once.
pub async fn invite(
    store: &Store,
    access: &AdminAccess,
    draft: &InviteDraft,
    now: UnixMillis,
) -> AdminResult<(User, Secret)> {
    let mut errors = FieldErrors::new();
    let email = normalize_email(&draft.email);
    if email.is_none() {
        errors.insert("email".into(), "Give an email address.".into());
    }
    let tenant = super::tenants::find(store, access, &draft.membership.tenant).await;
    if tenant.is_err() {
        errors.insert("tenant".into(), "Pick a tenant you administer.".into());
    }
    let roles = clean_words(&draft.membership.roles, "roles", &mut errors);
    let permissions = clean_words(&draft.membership.permissions, "permissions", &mut errors);
    if let Some(email) = &email {
        if store.user_by_email(email).await?.is_some() {
            errors.insert(
                "email".into(),
                "This person has an account already: add them to the tenant from their page."
                    .into(),
            );
        }
    }
    let (Some(email), Ok(tenant), true) = (email, tenant, errors.is_empty()) else {
        return Err(AdminError::Invalid(errors));
    };
    let display_name = match draft.display_name.trim() {
        "" => email.split('@').next().unwrap_or("user").to_owned(),
        name => name.chars().take(100).collect(),
    };
    let user = User {
        id: UserId::generate(),
        email,
        display_name,
        must_change_password: false,
        is_project_admin: false,
        disabled: false,
        created_at: now,
    };
    store.insert_user(&user, None).await.map_err(|e| match e {
        crate::CoreError::AlreadyExists { .. } => super::invalid("email", "This email is taken."),
        e => e.into(),
    })?;
    store
        .set_membership(
            &tenant.id,
            &user.id,
            &roles,
            &permissions,
            draft.membership.is_tenant_admin,
            now,
        )
        .await?;
    let link = Secret::generate(SecretKind::PasswordLink);
    store
        .insert_password_link(&user.id, &link.hash(), now, now + LINK_LIFETIME_MS)
        .await?;
    Ok((user, link))
}

/// A new link for the person to choose a password (earlier links stop working).
pub async fn password_link(
    store: &Store,
    access: &AdminAccess,
    key: &str,
    now: UnixMillis,
) -> AdminResult<(User, Secret)> {
    let (user, memberships) = find(store, access, key).await?;
    may_change_account(access, &user, &memberships)?;
    let link = Secret::generate(SecretKind::PasswordLink);
    store
        .insert_password_link(&user.id, &link.hash(), now, now + LINK_LIFETIME_MS)
        .await?;
    Ok((user, link))
}

/// Removes the person's second factors and ends their sessions.
pub async fn reset_mfa(
    store: &Store,
    access: &AdminAccess,
    key: &str,
    now: UnixMillis,
) -> AdminResult<User> {
    let (user, memberships) = find(store, access, key).await?;
    may_change_account(access, &user, &memberships)?;
    store.reset_second_factors(&user.id, now).await?;
    Ok(user)
}

/// Disables (sessions end, refresh tokens revoked, at once) or enables the person; returns
/// them (before, after).
pub async fn set_disabled(
    store: &Store,
    access: &AdminAccess,
    key: &str,
    disabled: bool,
    now: UnixMillis,
) -> AdminResult<(User, User)> {
    let (user, memberships) = find(store, access, key).await?;
    may_change_account(access, &user, &memberships)?;
    if disabled && &user.id == access.user() {
        return Err(AdminError::Forbidden(
            "You cannot disable your own account.",
        ));
    }
    store.set_user_disabled(&user.id, disabled, now).await?;
    let after = User {
        disabled,
        ..user.clone()
    };
    Ok((user, after))
}

/// Adds the person to a tenant or changes their roles, permissions and admin flag there;
/// returns the membership (before, after).
pub async fn set_membership(
    store: &Store,
    access: &AdminAccess,
    key: &str,
    draft: &MembershipDraft,
    now: UnixMillis,
) -> AdminResult<(Option<MembershipView>, MembershipView)> {
    let (user, memberships) = find(store, access, key).await?;
    let tenant = super::tenants::find(store, access, &draft.tenant)
        .await
        .map_err(|_| super::invalid("tenant", "Pick a tenant you administer."))?;
    let mut errors = FieldErrors::new();
    let roles = clean_words(&draft.roles, "roles", &mut errors);
    let permissions = clean_words(&draft.permissions, "permissions", &mut errors);
    if !errors.is_empty() {
        return Err(AdminError::Invalid(errors));
    }
    let before = memberships
        .into_iter()
        .find(|(m, _)| m.tenant_id == tenant.id)
        .map(|(m, t)| MembershipView {
            tenant_id: t.id.to_string(),
            tenant_slug: t.slug,
            tenant_name: t.name,
            roles: m.roles,
            permissions: m.permissions,
            is_tenant_admin: m.is_tenant_admin,
        });
    store
        .set_membership(
            &tenant.id,
            &user.id,
            &roles,
            &permissions,
            draft.is_tenant_admin,
            now,
        )
        .await?;
    let after = MembershipView {
        tenant_id: tenant.id.to_string(),
        tenant_slug: tenant.slug,
        tenant_name: tenant.name,
        roles,
        permissions,
        is_tenant_admin: draft.is_tenant_admin,
    };
    Ok((before, after))
}

/// Takes the person out of a tenant: their consents there go too, and the tokens agents hold
/// for them in that tenant are revoked at once.
pub async fn remove_membership(
    store: &Store,
    access: &AdminAccess,
    key: &str,
    tenant_key: &str,
    now: UnixMillis,
) -> AdminResult<MembershipView> {
    let detail = get(store, access, key).await?;
    let tenant = super::tenants::find(store, access, tenant_key).await?;
    let before = detail
        .memberships
        .into_iter()
        .find(|m| m.tenant_id == tenant.id.as_str())
        .ok_or(AdminError::NotFound("This person is not in that tenant."))?;
    store
        .remove_membership(&tenant.id, &UserId::from_string(&detail.user.id), now)
        .await?;
    Ok(before)
}
