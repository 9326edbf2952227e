//! The journey of one authorization request through the end-user steps. The pages decide
//! nothing: after every step they ask [`Journey::next`] what comes next.
//!
//! ```text
//!   /authorize ──▶ [SignIn] ──▶ [ChooseTenant]* ──▶ [StepUp]** ──▶ [Consent]*** ──▶ IssueCode ──▶ completed
//!                     │               │                                  │
//!                     │               └─ no tenant: NoTenant (error page) └─ deny: access_denied
//!                     └─ journey older than 10 minutes: Expired (error page)
//!
//!   *   skipped with one tenant, or a tenant hint the user may use
//!   **  only when a requested scope is sensitive and the last second factor is older than the
//!       server's window (or absent)
//!   *** skipped when a remembered grant covers every requested scope
//! ```
//! A completed journey refuses every further transition, so a replayed consent POST cannot
//! mint a second code.

use serde::{Deserialize, Serialize};

use super::authorize::ValidatedRequest;
use super::error::{ErrorCode, OAuthError};
use super::scope::ScopeSet;
use crate::clock::UnixMillis;

/// A journey expires this long after it started.
pub const JOURNEY_TTL_MS: i64 = 10 * 60 * 1000;

/// Who signed in during this journey, and how.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct SignedInUser {
    pub user_id: String,
    pub email: String,
    /// When the user authenticated (unix ms).
    pub auth_time: UnixMillis,
    /// RFC 8176 methods used, e.g. `pwd`, `otp`, `hwk`.
    pub amr: Vec<String>,
    /// When the last second factor was verified, if ever.
    pub mfa_at: Option<UnixMillis>,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Journey {
    /// Random id; forms carry it and must match the session's journey.
    pub id: String,
    pub issuer: String,
    pub request: ValidatedRequest,
    pub created_at: UnixMillis,
    pub user: Option<SignedInUser>,
    pub tenant_id: Option<String>,
    pub completed: bool,
}

/// A tenant the user may choose.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct TenantOption {
    pub id: String,
    pub slug: String,
    pub name: String,
    pub email_domains: Vec<String>,
    pub roles: Vec<String>,
}

/// What the journey needs to know from the store to decide.
#[derive(Debug, Clone, Default)]
pub struct Facts {
    pub tenants: Vec<TenantOption>,
    /// Requested scopes the server marks sensitive.
    pub sensitive_requested: ScopeSet,
    pub step_up_window_ms: i64,
    /// Scopes a remembered grant already covers for this user, agent, tenant and server.
    pub remembered: Option<ScopeSet>,
}

/// What comes next.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Step {
    SignIn,
    ChooseTenant,
    /// The user belongs to no tenant the token could represent.
    NoTenant,
    StepUp,
    Consent {
        missing: ScopeSet,
    },
    IssueCode {
        scopes: ScopeSet,
    },
    Expired,
    /// The journey already issued its code.
    Completed,
}

impl Journey {
    pub fn start(id: String, issuer: String, request: ValidatedRequest, now: UnixMillis) -> Self {
        Self {
            id,
            issuer,
            request,
            created_at: now,
            user: None,
            tenant_id: None,
            completed: false,
        }
    }

    /// Decides the next step. Also pre-selects the tenant when it is unambiguous, which is why
    /// it takes `&mut self`.
    pub fn next(&mut self, facts: &Facts, now: UnixMillis) -> Step {
        if self.completed {
            return Step::Completed;
        }
        if now - self.created_at > JOURNEY_TTL_MS {
            return Step::Expired;
        }
        let Some(mfa_at) = self.user.as_ref().map(|u| u.mfa_at) else {
            return Step::SignIn;
        };
        if self.tenant_id.is_none() {
            match self.preselected_tenant(facts) {
                Some(id) => self.tenant_id = Some(id),
                None if facts.tenants.is_empty() => return Step::NoTenant,
                None => return Step::ChooseTenant,
            }
        }
        if !facts.sensitive_requested.is_empty() {
            let fresh = mfa_at.is_some_and(|at| now - at <= facts.step_up_window_ms);
            if !fresh {
                return Step::StepUp;
            }
        }
        let requested = self.request.scope_set();
        let missing = match &facts.remembered {
            Some(granted) => requested.missing_from(granted),
            None => requested.clone(),
        };
        if missing.is_empty() {
            Step::IssueCode { scopes: requested }
        } else {
            Step::Consent { missing }
        }
    }

    /// One tenant, or a hint naming one of the user's tenants (slug or id in `tenant`,
    /// or the domain of `login_hint`/the user's email).
    fn preselected_tenant(&self, facts: &Facts) -> Option<String> {
        if let [only] = facts.tenants.as_slice() {
            return Some(only.id.clone());
        }
        if let Some(hint) = &self.request.tenant_hint {
            if let Some(t) = facts
                .tenants
                .iter()
                .find(|t| &t.slug == hint || &t.id == hint)
            {
                return Some(t.id.clone());
            }
        }
        let hinted_domain = self
            .request
            .login_hint
            .as_deref()
            .and_then(|h| h.rsplit_once('@').map(|(_, d)| d.to_ascii_lowercase()));
        if let Some(domain) = hinted_domain {
            let matching: Vec<_> = facts
                .tenants
                .iter()
                .filter(|t| {
                    t.email_domains
                        .iter()
                        .any(|d| d.eq_ignore_ascii_case(&domain))
                })
                .collect();
            if let [one] = matching.as_slice() {
                return Some(one.id.clone());
            }
        }
        None
    }

    pub fn sign_in(&mut self, user: SignedInUser) -> Result<(), OAuthError> {
        self.refuse_if_completed()?;
        self.user = Some(user);
        Ok(())
    }

    /// Chooses a tenant; it must be one of the user's.
    pub fn choose_tenant(&mut self, tenant_id: &str, facts: &Facts) -> Result<(), OAuthError> {
        self.refuse_if_completed()?;
        if self.user.is_none() {
            return Err(OAuthError::invalid_request("sign in first"));
        }
        if !facts.tenants.iter().any(|t| t.id == tenant_id) {
            return Err(OAuthError::new(
                ErrorCode::AccessDenied,
                "you are not a member of that organization",
            ));
        }
        self.tenant_id = Some(tenant_id.to_owned());
        Ok(())
    }

    /// Marks the journey done; a second call fails (no second code from one journey).
    pub fn complete(&mut self) -> Result<(), OAuthError> {
        self.refuse_if_completed()?;
        self.completed = true;
        Ok(())
    }

    fn refuse_if_completed(&self) -> Result<(), OAuthError> {
        if self.completed {
            Err(OAuthError::invalid_request(
                "this authorization request has already been answered",
            ))
        } else {
            Ok(())
        }
    }
}

/// The scopes a consent form approves: every approved scope must have been requested (a
/// tampered form is refused, not trimmed), and mandatory requested scopes are always in.
pub fn approved_scopes(
    requested: &ScopeSet,
    approved: &ScopeSet,
    mandatory: &ScopeSet,
) -> Result<ScopeSet, OAuthError> {
    let foreign = approved.missing_from(requested);
    if !foreign.is_empty() {
        return Err(OAuthError::invalid_request(format!(
            "the form approves scopes that were not requested: {}",
            foreign.to_scope_string()
        )));
    }
    let forced = mandatory.intersect(requested);
    let result = approved.union(&forced);
    if result.is_empty() {
        return Err(OAuthError::new(
            ErrorCode::AccessDenied,
            "no scope was approved",
        ));
    }
    Ok(requested.intersect(&result))
}

#[cfg(test)]
mod tests;
