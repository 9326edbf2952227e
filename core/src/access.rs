//! Who may administer what. A capability ([`AdminAccess`]) is obtained only through
//! [`admin_access`], which reads the person's rights from the store; code behind the console
//! and the admin API takes the capability, so a check cannot be forgotten.

use crate::error::CoreResult;
use crate::ids::{TenantId, UserId};
use crate::store::Store;

/// What a signed-in person may administer.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum AdminAccess {
    /// A project admin: everything in the deployment.
    Project { user: UserId },
    /// A tenant admin: these tenants' users, memberships and slice of the audit trail, and
    /// nothing else. Never empty.
    Tenants {
        user: UserId,
        tenants: Vec<TenantId>,
    },
}

impl AdminAccess {
    pub fn user(&self) -> &UserId {
        match self {
            Self::Project { user } | Self::Tenants { user, .. } => user,
        }
    }

    pub fn is_project_admin(&self) -> bool {
        matches!(self, Self::Project { .. })
    }

    /// The tenants whose data this admin sees; `None` means all of them.
    pub fn tenant_restriction(&self) -> Option<&[TenantId]> {
        match self {
            Self::Project { .. } => None,
            Self::Tenants { tenants, .. } => Some(tenants),
        }
    }

    /// Whether a record that belongs to `tenant` (or to no tenant) is visible. Records outside
    /// every tenant (a registration, a key rotation) are the project's.
    pub fn sees_tenant(&self, tenant: Option<&str>) -> bool {
        match (self, tenant) {
            (Self::Project { .. }, _) => true,
            (Self::Tenants { tenants, .. }, Some(t)) => tenants.iter().any(|x| x.as_str() == t),
            (Self::Tenants { .. }, None) => false,
        }
    }
}

/// The admin rights of `user`: `None` when they have none, or the account is disabled or gone.
pub async fn admin_access(store: &Store, user: &UserId) -> CoreResult<Option<AdminAccess>> {
    let Some(account) = store.user_by_id(user).await? else {
        return Ok(None);
    };
    if account.disabled {
        return Ok(None);
    }
    if account.is_project_admin {
        return Ok(Some(AdminAccess::Project { user: user.clone() }));
    }
    let tenants: Vec<TenantId> = store
        .memberships_of(user)
        .await?
        .into_iter()
        .filter(|(m, _)| m.is_tenant_admin)
        .map(|(m, _)| m.tenant_id)
        .collect();
    Ok((!tenants.is_empty()).then(|| AdminAccess::Tenants {
        user: user.clone(),
        tenants,
    }))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn tenant_admin(ids: &[&str]) -> AdminAccess {
        AdminAccess::Tenants {
            user: UserId::from_string("u"),
            tenants: ids.iter().map(|t| TenantId::from_string(*t)).collect(),
        }
    }

    #[test]
    fn a_project_admin_sees_every_tenant_and_the_project() {
        let admin = AdminAccess::Project {
            user: UserId::from_string("u"),
        };
        assert!(admin.sees_tenant(Some("t1")));
        assert!(admin.sees_tenant(None));
        assert_eq!(admin.tenant_restriction(), None);
    }

    #[test]
    fn a_tenant_admin_sees_only_their_tenants() {
        let admin = tenant_admin(&["t1", "t2"]);
        assert!(admin.sees_tenant(Some("t2")));
        assert!(!admin.sees_tenant(Some("t3")));
        assert!(
            !admin.sees_tenant(None),
            "project-wide records are not theirs"
        );
        assert_eq!(admin.tenant_restriction().map(<[_]>::len), Some(2));
    }
}
