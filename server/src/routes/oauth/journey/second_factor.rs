//! The second factor: completes a pending sign-in (password done, factor owed) or, for a
//! signed-in user, steps up before sensitive scopes. TOTP code, a recovery code, or a passkey
//! (the passkey button posts to the passkey routes, which end in the same place).

use app::api::auth::{FormKeys, VerifyView};
use app::api::screen::{PageNotice, Screen};
use axum::extract::State;
use axum::http::request::Parts;
use axum::http::StatusCode;
use axum::response::Response;
use mandate_core::audit::{ActorKind, AuditEvent, EventType, Outcome};
use mandate_core::identity::second_factor::{
    has_totp, verify_recovery_code, verify_totp, FactorRefusal,
};
use mandate_core::journey::SignedInUser;
use mandate_core::oauth::OAuthError;
use serde::Deserialize;
use tower_sessions::Session;

use super::sign_in::{complete_sign_in, continue_journey};
use super::{journey_error, signed_in_user, JourneySession, PENDING_KEY, SIGN_IN_PATH};
use crate::middleware::rate_limit;
use crate::request_context::Caller;
use crate::state::AppState;
use crate::ui::{self, notice_of, screen_of, session_of, PageForm, RequestHead};

pub const SECOND_FACTOR_PATH: &str = "/sign-in/verify";

/// Who owes the factor: a pending sign-in (`true`) or the signed-in user stepping up.
pub async fn verifying_user(session: &Session) -> Option<(SignedInUser, bool)> {
    if let Ok(Some(pending)) = session.get::<SignedInUser>(PENDING_KEY).await {
        return Some((pending, true));
    }
    signed_in_user(session).await.map(|u| (u, false))
}

/// What `/sign-in/verify` shows: the person's second factors (a redirect to sign-in when
/// nobody owes one).
pub async fn second_factor_screen(
    state: &AppState,
    request: Parts,
    journey: Option<String>,
) -> Screen<VerifyView> {
    screen_of(
        async {
            let js = JourneySession(session_of(&request)?);
            let Some((user, pending)) = verifying_user(&js.0).await else {
                return Ok(Screen::Redirect(super::step_url(
                    SIGN_IN_PATH,
                    journey.as_deref(),
                )));
            };
            let store = &state.store;
            Ok(Screen::Show(VerifyView {
                keys: FormKeys {
                    csrf: js.ensure_csrf().await?,
                    journey,
                },
                email: user.email.clone(),
                completing_sign_in: pending,
                totp: has_totp(store, &user.user_id).await?,
                passkeys: state.webauthn.is_some()
                    && !store.passkeys_of(&user.user_id).await?.is_empty(),
                recovery_codes_left: store
                    .recovery_codes_left(&user.user_id)
                    .await?
                    .try_into()
                    .unwrap_or(u32::MAX),
                error: notice_of(&request).error,
            }))
        }
        .await,
    )
}

#[derive(Deserialize)]
pub struct SecondFactorForm {
    csrf: String,
    journey: Option<String>,
    method: String,
    code: String,
}

pub async fn second_factor(
    State(state): State<AppState>,
    session: Session,
    caller: Caller,
    head: RequestHead,
    PageForm(form): PageForm<SecondFactorForm>,
) -> Response {
    let js = JourneySession(session);
    if let Err(e) = js.check_csrf(&form.csrf).await {
        return journey_error(e);
    }
    let Some((user, pending)) = verifying_user(&js.0).await else {
        return journey_error(OAuthError::invalid_request("sign in first"));
    };
    let journey = form.journey.as_deref();
    if let Err(wait) = rate_limit::check(&state.limits.second_factor, user.user_id.clone()) {
        let notice = PageNotice::error(rate_limit::try_again_message(wait));
        return ui::render(&state, head, journey, notice, StatusCode::TOO_MANY_REQUESTS).await;
    }
    let now = state.now();
    let checked = match form.method.as_str() {
        "totp" => {
            verify_totp(
                &state.store,
                &state.master_key,
                &user.user_id,
                &form.code,
                now,
                false,
            )
            .await
        }
        "recovery" => verify_recovery_code(&state.store, &user.user_id, &form.code, now).await,
        _ => Ok(Err(FactorRefusal::Invalid)),
    };
    let outcome = match checked {
        Ok(outcome) => outcome,
        Err(e) => return journey_error(e.into()),
    };
    if let Err(refusal) = outcome {
        let event = AuditEvent::new(EventType::MfaFailed, Outcome::Failure, ActorKind::User)
            .user(Some(user.user_id.clone()))
            .with("method", &form.method)
            .with("reason", format!("{refusal:?}"))
            .context(&caller.context);
        let _ = state.audit.record(event).await;
        let message = match refusal {
            FactorRefusal::Replayed => "That code was already used. Wait for the next one.",
            _ => "That code is not correct.",
        };
        return ui::render(
            &state,
            head,
            journey,
            PageNotice::error(message),
            StatusCode::UNAUTHORIZED,
        )
        .await;
    }
    factor_verified(
        &state,
        &js,
        user,
        pending,
        "otp",
        &form.method,
        journey,
        &caller,
    )
    .await
}

/// After any second factor: records it on the user, then completes the pending sign-in or
/// refreshes the signed-in user (step-up), and continues.
#[allow(clippy::too_many_arguments)]
pub async fn factor_verified(
    state: &AppState,
    js: &JourneySession,
    mut user: SignedInUser,
    pending: bool,
    amr: &str,
    method: &str,
    journey: Option<&str>,
    caller: &Caller,
) -> Response {
    user.add_second_factor(amr, state.now());
    let event = AuditEvent::new(EventType::MfaVerified, Outcome::Success, ActorKind::User)
        .user(Some(user.user_id.clone()))
        .with("method", method)
        .context(&caller.context);
    if let Err(e) = state.audit.record(event).await {
        return journey_error(e.into());
    }
    if pending {
        return complete_sign_in(state, js, user, method, journey, caller).await;
    }
    if let Err(e) = js.set_user(&user).await {
        return journey_error(e);
    }
    continue_journey(state, js, user, journey, caller).await
}
