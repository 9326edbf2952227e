//! The journey of one authorization request through the end-user steps. The pages decide
//! nothing: after every step they ask [`Journey::next`] what comes next.
//!
//! ```text
//!   /authorize ──▶ [SignIn] ──▶ [ChooseTenant]* ──▶ [StepUp]** ──▶ [Consent]*** ──▶ IssueCode ──▶ completed
//!                     │               │                 │                 │
//!                     │               │                 │                 └─ deny: access_denied
//!                     │               │                 └─ no second factor yet: EnrolSecondFactor
//!                     │               └─ no tenant: NoTenant (error page)
//!                     └─ journey older than 10 minutes: Expired (error page)
//!
//!   *   skipped with one tenant, or a tenant hint the user may use
//!   **  only when a requested scope that the policies allow is sensitive and the last second
//!       factor is older than the server's window (or absent)
//!   *** skipped when a remembered grant covers every requested scope the policies allow
//! ```
//! Sign-in itself has two parts when the user has a second factor (password, then TOTP or a
//! passkey); the journey only sees the finished [`SignedInUser`].
//!
//! A completed journey refuses every further transition, so a replayed consent POST cannot
//! mint a second code.

use std::collections::BTreeMap;

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

/// RFC 8176 method for a second factor.
pub const AMR_MFA: &str = "mfa";

impl SignedInUser {
    /// Records a verified second factor (`otp`, `hwk`, …) at `now`.
    pub fn add_second_factor(&mut self, method: &str, now: UnixMillis) {
        for m in [method, AMR_MFA] {
            if !self.amr.iter().any(|a| a == m) {
                self.amr.push(m.to_owned());
            }
        }
        self.mfa_at = Some(now);
    }

    /// The authentication context class, in NIST SP 800-63B terms: `aal2` once a second
    /// factor (or a user-verifying passkey) was used in this session, `aal1` otherwise.
    pub fn acr(&self) -> &'static str {
        if self.mfa_at.is_some() {
            "aal2"
        } else {
            "aal1"
        }
    }
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
    /// Requested scopes the policies do not allow, with the reason shown to the person.
    pub denied: BTreeMap<String, String>,
    /// Whether the user has a confirmed second factor (TOTP or a passkey) to step up with.
    pub has_second_factor: bool,
    /// What the chosen tenant's admins decided about the agent (see [`tenant_gate`]).
    pub tenant_gate: TenantGate,
}

/// The chosen tenant's say in this authorization.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub enum TenantGate {
    /// People consent for themselves (within what the tenant approved, if it must approve).
    #[default]
    Open,
    /// The tenant's approval is the consent: people are not asked.
    Approved,
    /// The tenant blocked the agent, or its approval is required and missing: why.
    Closed(String),
}

/// Applies a tenant's decision about the agent (`Some((decision, scopes))`, decision
/// `approved` or `blocked`) under the server's mode: a block always closes; with `required`
/// or `replaces`, no approval closes, and requested scopes the approval does not cover join
/// `denied` with the reason shown to the person.
pub fn tenant_gate(
    mode: crate::model::TenantConsent,
    approval: Option<(&str, &[String])>,
    requested: &ScopeSet,
    denied: &mut BTreeMap<String, String>,
) -> TenantGate {
    use crate::model::TenantConsent;
    if let Some(("blocked", _)) = approval {
        return TenantGate::Closed(
            "Your organization has blocked this application. Ask an administrator of your organization if you need it."
                .into(),
        );
    }
    if mode == TenantConsent::Off {
        return TenantGate::Open;
    }
    let Some((_, approved)) = approval else {
        return TenantGate::Closed(
            "Your organization has not approved this application yet. Ask an administrator of your organization to approve it."
                .into(),
        );
    };
    for scope in requested
        .iter()
        .filter(|s| !approved.iter().any(|a| a == s))
    {
        denied.entry(scope.to_owned()).or_insert_with(|| {
            "Your organization has not approved this for this application.".into()
        });
    }
    if mode == TenantConsent::Replaces {
        TenantGate::Approved
    } else {
        TenantGate::Open
    }
}

impl Facts {
    /// The requested scopes the policies allow.
    pub fn allowed(&self, requested: &ScopeSet) -> ScopeSet {
        ScopeSet::from_tokens(requested.iter().filter(|s| !self.denied.contains_key(*s)))
    }

    /// The policy-denied scopes as a set.
    pub fn denied_set(&self) -> ScopeSet {
        ScopeSet::from_tokens(self.denied.keys().cloned())
    }
}

/// What comes next.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Step {
    SignIn,
    ChooseTenant,
    /// The user belongs to no tenant the token could represent.
    NoTenant,
    StepUp,
    /// Step-up is needed but the user has no second factor: lead them to enrol one.
    EnrolSecondFactor,
    /// Ask the person. `missing`: the allowed requested scopes no remembered grant covers
    /// (the page highlights them as new when a grant exists).
    Consent {
        missing: ScopeSet,
    },
    IssueCode {
        scopes: ScopeSet,
    },
    /// The chosen tenant does not let the agent in (blocked, or not approved): why.
    TenantRefused {
        reason: String,
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
        if let TenantGate::Closed(reason) = &facts.tenant_gate {
            return Step::TenantRefused {
                reason: reason.clone(),
            };
        }
        let allowed = facts.allowed(&self.request.scope_set());
        let sensitive = facts.sensitive_requested.intersect(&allowed);
        if !sensitive.is_empty() {
            let fresh = mfa_at.is_some_and(|at| now - at <= facts.step_up_window_ms);
            if !fresh {
                return if facts.has_second_factor {
                    Step::StepUp
                } else {
                    Step::EnrolSecondFactor
                };
            }
        }
        if facts.tenant_gate == TenantGate::Approved {
            // The tenant's approval replaces the person's consent.
            return if allowed.is_empty() {
                Step::TenantRefused {
                    reason: "Nothing this application asks for is approved by your organization."
                        .into(),
                }
            } else {
                Step::IssueCode { scopes: allowed }
            };
        }
        let missing = match &facts.remembered {
            Some(granted) => allowed.missing_from(granted),
            None => allowed.clone(),
        };
        // Nothing allowed: the consent page explains why and offers only "Deny".
        if missing.is_empty() && !allowed.is_empty() {
            Step::IssueCode { scopes: allowed }
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

/// The scopes a consent form approves: every approved scope must have been requested and be
/// allowed by the policies (a tampered form is refused, not trimmed), and mandatory allowed
/// requested scopes are always in.
pub fn approved_scopes(
    requested: &ScopeSet,
    approved: &ScopeSet,
    mandatory: &ScopeSet,
    denied: &ScopeSet,
) -> Result<ScopeSet, OAuthError> {
    let foreign = approved.missing_from(requested);
    if !foreign.is_empty() {
        return Err(OAuthError::invalid_request(format!(
            "the form approves scopes that were not requested: {}",
            foreign.to_scope_string()
        )));
    }
    let refused = approved.intersect(denied);
    if !refused.is_empty() {
        return Err(OAuthError::invalid_request(format!(
            "the form approves scopes the policies do not allow: {}",
            refused.to_scope_string()
        )));
    }
    let forced = mandatory.intersect(requested).missing_from(denied);
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
