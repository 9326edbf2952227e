//! Signing in through a tenant's OpenID provider: the sign-in form sends an email of an
//! SSO domain here (no password), the provider sends the person back to
//! [`SSO_CALLBACK_PATH`](mandate_core::tenancy::SSO_CALLBACK_PATH); the identity is linked to (or creates) the Mandate user, the
//! tenant membership's roles follow the provider's groups, and the journey goes on. Every
//! refusal is a readable page and a `user.sign_in_failed` event.

use std::collections::HashMap;

use axum::extract::{Query, State};
use axum::http::StatusCode;
use axum::response::{IntoResponse, Redirect, Response};
use mandate_core::audit::{ActorKind, AuditEvent, EventType, Outcome};
use mandate_core::ids::{TenantId, UserId};
use mandate_core::journey::SignedInUser;
use mandate_core::model::User;
use mandate_core::tenancy::{
    accept_identity, groups_of, mapped_roles, may_link_existing, sso_redirect_uri, SsoSettings,
};
use subtle::ConstantTimeEq;
use tower_sessions::Session;

use super::{complete_sign_in, JourneySession};
use crate::pages::error_page;
use crate::request_context::Caller;
use crate::sso::{PendingSso, SsoFailure, VerifiedIdentity};
use crate::state::AppState;

const PENDING_KEY: &str = "sso_pending";
/// A person has this long at their provider.
const PENDING_TTL_MS: i64 = 10 * 60 * 1000;
/// RFC 8176 methods that count as a second factor done at the provider.
const MFA_METHODS: [&str; 6] = ["mfa", "otp", "hwk", "swk", "sms", "fpt"];

/// A failed SSO sign-in: recorded, and a page saying what the person can do.
async fn refused(
    state: &AppState,
    caller: &Caller,
    tenant_id: Option<&str>,
    reason: &str,
    status: StatusCode,
    title: &str,
    message: &str,
) -> Response {
    let event = AuditEvent::new(
        EventType::SignInFailed,
        Outcome::Failure,
        ActorKind::Anonymous,
    )
    .tenant(tenant_id)
    .with("method", "sso")
    .with("reason", reason)
    .context(&caller.context);
    if let Err(e) = state.audit.record(event).await {
        crate::error::log_internal(&e.into());
    }
    error_page(status, title, message)
}

/// The tenant's SSO settings with its client secret opened; `None` when it has none (any
/// more) or the secret cannot be read.
async fn provider_of(state: &AppState, tenant_id: &str) -> Option<(SsoSettings, String)> {
    let (settings, sealed) = state.store.sso_of(tenant_id).await.ok()??;
    let bytes = state.master_key.open(&sealed, tenant_id.as_bytes()).ok()?;
    Some((settings, String::from_utf8(bytes).ok()?))
}

const UNAVAILABLE: &str = "Single sign-on is not working right now";
const UNAVAILABLE_TEXT: &str =
    "Your organization's sign-in could not be reached or answered in a way Mandate cannot accept. Try again in a moment; if it keeps happening, tell your administrator.";

/// Sends the person to tenant `tenant`'s provider for `email` (from the sign-in form).
pub(super) async fn begin(
    state: &AppState,
    js: &JourneySession,
    tenant: &str,
    email: &str,
    journey: Option<&str>,
    caller: &Caller,
) -> Response {
    let Some((settings, secret)) = provider_of(state, tenant).await else {
        return refused(
            state,
            caller,
            Some(tenant),
            "the client secret cannot be read",
            StatusCode::SERVICE_UNAVAILABLE,
            UNAVAILABLE,
            UNAVAILABLE_TEXT,
        )
        .await;
    };
    let started = state
        .sso
        .start(
            &settings,
            &secret,
            &sso_redirect_uri(&state.config.public_url),
            Some(email),
        )
        .await;
    let started = match started {
        Ok(started) => started,
        Err(failure) => {
            return refused(
                state,
                caller,
                Some(tenant),
                &failure.to_string(),
                StatusCode::BAD_GATEWAY,
                UNAVAILABLE,
                UNAVAILABLE_TEXT,
            )
            .await
        }
    };
    let pending = PendingSso {
        state: started.state,
        nonce: started.nonce,
        verifier: started.verifier,
        tenant_id: tenant.to_owned(),
        journey: journey.filter(|j| !j.is_empty()).map(str::to_owned),
        started_at: state.now(),
    };
    if let Err(e) = js.0.insert(PENDING_KEY, &pending).await {
        crate::error::log_internal(&mandate_core::oauth::OAuthError::server_error(e));
        return error_page(
            StatusCode::INTERNAL_SERVER_ERROR,
            "This request cannot continue",
            "Something went wrong on our side. Try again in a moment.",
        );
    }
    Redirect::to(&started.url).into_response()
}

/// `GET /sign-in/sso/callback`: the provider's answer.
pub async fn callback(
    State(state): State<AppState>,
    session: Session,
    caller: Caller,
    Query(params): Query<HashMap<String, String>>,
) -> Response {
    let js = JourneySession(session);
    // Single use: whatever happens next, this sign-in cannot be answered twice.
    let pending: Option<PendingSso> = js.0.remove(PENDING_KEY).await.ok().flatten();
    let fresh = pending.filter(|p| {
        let same_state = params
            .get("state")
            .is_some_and(|s| bool::from(s.as_bytes().ct_eq(p.state.as_bytes())));
        same_state && state.now() - p.started_at < PENDING_TTL_MS
    });
    let Some(pending) = fresh else {
        return refused(
            &state,
            &caller,
            None,
            "no sign-in in progress for this answer (expired, replayed or forged state)",
            StatusCode::BAD_REQUEST,
            "This sign-in has expired",
            "Start again from the sign-in page.",
        )
        .await;
    };
    let tenant = pending.tenant_id.clone();
    if let Some(error) = params.get("error") {
        // RFC 6749 §4.1.2.1: the provider refused (the person cancelled, or is not allowed).
        let code: String = error
            .chars()
            .filter(|c| c.is_ascii_alphanumeric() || *c == '_')
            .take(64)
            .collect();
        return refused(
            &state,
            &caller,
            Some(&tenant),
            &format!("the provider answered {code}"),
            StatusCode::FORBIDDEN,
            "Your organization's sign-in did not let you in",
            "Your organization's identity provider refused the sign-in. If you think you should have access, ask your administrator.",
        )
        .await;
    }
    let Some(code) = params.get("code") else {
        return refused(
            &state,
            &caller,
            Some(&tenant),
            "the provider's answer has no code",
            StatusCode::BAD_REQUEST,
            UNAVAILABLE,
            UNAVAILABLE_TEXT,
        )
        .await;
    };
    let Some((settings, secret)) = provider_of(&state, &tenant).await else {
        return refused(
            &state,
            &caller,
            Some(&tenant),
            "the tenant's single sign-on was removed or cannot be read",
            StatusCode::SERVICE_UNAVAILABLE,
            UNAVAILABLE,
            UNAVAILABLE_TEXT,
        )
        .await;
    };
    let verified = state
        .sso
        .finish(
            &settings,
            &secret,
            &sso_redirect_uri(&state.config.public_url),
            code,
            &pending,
        )
        .await;
    let identity = match verified {
        Ok(identity) => identity,
        Err(failure) => {
            let status = match failure {
                SsoFailure::Unreachable(_) => StatusCode::BAD_GATEWAY,
                SsoFailure::Invalid(_) => StatusCode::FORBIDDEN,
            };
            return refused(
                &state,
                &caller,
                Some(&tenant),
                &failure.to_string(),
                status,
                UNAVAILABLE,
                UNAVAILABLE_TEXT,
            )
            .await;
        }
    };
    match signed_in(&state, &settings, &identity).await {
        Ok(Ok(user)) => {
            let mfa = identity
                .amr
                .iter()
                .any(|m| MFA_METHODS.contains(&m.as_str()));
            let now = state.now();
            let signed_in = SignedInUser {
                user_id: user.id.to_string(),
                email: user.email.clone(),
                auth_time: now,
                amr: identity.amr.clone(),
                mfa_at: mfa.then_some(now),
            };
            complete_sign_in(
                &state,
                &js,
                signed_in,
                "sso",
                pending.journey.as_deref(),
                &caller,
            )
            .await
        }
        Ok(Err(reason)) => {
            refused(
                &state,
                &caller,
                Some(&tenant),
                &reason,
                StatusCode::FORBIDDEN,
                "You cannot sign in here",
                &format!("Mandate cannot sign you in: {reason}."),
            )
            .await
        }
        Err(e) => {
            crate::error::log_internal(&e.into());
            error_page(
                StatusCode::INTERNAL_SERVER_ERROR,
                "This request cannot continue",
                "Something went wrong on our side. Try again in a moment.",
            )
        }
    }
}

/// The Mandate user for a verified identity: the one linked to it, else the one with its
/// email (the tenant vouches for its SSO domains), else a new one. Their membership in the
/// tenant gets the roles the provider's groups map to, at every sign-in. `Ok(Err(reason))`:
/// this identity may not sign in.
async fn signed_in(
    state: &AppState,
    settings: &SsoSettings,
    identity: &VerifiedIdentity,
) -> mandate_core::CoreResult<Result<User, String>> {
    let store = &state.store;
    let email = match accept_identity(identity.email.as_deref(), identity.email_verified, settings)
    {
        Ok(email) => email,
        Err(refusal) => return Ok(Err(refusal.reason())),
    };
    let now = state.now();
    let linked = match store
        .sso_identity_user(&identity.issuer, &identity.subject)
        .await?
    {
        Some(id) => store.user_by_id(&UserId::from_string(&id)).await?,
        None => None,
    };
    let user = match linked {
        Some(user) => user,
        None => match store.user_by_email(&email).await? {
            Some(user) => {
                let memberships = store.memberships_of(&user.id).await?;
                let member_of: Vec<&str> = memberships
                    .iter()
                    .map(|(m, _)| m.tenant_id.as_str())
                    .collect();
                if !may_link_existing(user.is_project_admin, &member_of, &settings.tenant_id) {
                    return Ok(Err(
                        "an account with this email already exists outside this organization (or is a project administrator); sign in with its password, or ask a project administrator"
                            .into(),
                    ));
                }
                user
            }
            None => {
                let user = User {
                    id: UserId::from_string(uuid::Uuid::now_v7().to_string()),
                    email: email.clone(),
                    display_name: identity.name.clone().unwrap_or_else(|| email.clone()),
                    must_change_password: false,
                    is_project_admin: false,
                    disabled: false,
                    created_at: now,
                };
                // No password: this person signs in through their provider.
                store.insert_user(&user, None).await?;
                user
            }
        },
    };
    if user.disabled {
        return Ok(Err("your account is disabled".into()));
    }
    store
        .link_sso_identity(
            &identity.issuer,
            &identity.subject,
            user.id.as_str(),
            &settings.tenant_id,
            now,
        )
        .await?;
    let groups = groups_of(&identity.claims, &settings.groups_claim);
    let roles = mapped_roles(&groups, &settings.role_mapping);
    let tenant = TenantId::from_string(&settings.tenant_id);
    let existing = store
        .memberships_of(&user.id)
        .await?
        .into_iter()
        .find(|(m, _)| m.tenant_id == tenant)
        .map(|(m, _)| m);
    let (permissions, is_admin) = existing
        .map(|m| (m.permissions, m.is_tenant_admin))
        .unwrap_or_default();
    store
        .set_membership(&tenant, &user.id, &roles, &permissions, is_admin, now)
        .await?;
    Ok(Ok(user))
}
