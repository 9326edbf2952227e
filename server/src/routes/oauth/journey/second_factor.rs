//! The second factor: completes a pending sign-in (password done, factor owed) or, for a
//! signed-in user, steps up before sensitive scopes. TOTP code, a recovery code, or a passkey
//! (the passkey button posts to the passkey routes, which end in the same place).

use axum::extract::{Query, State};
use axum::http::StatusCode;
use axum::response::{IntoResponse, Redirect, Response};
use axum::Form;
use mandate_core::audit::{ActorKind, AuditEvent, EventType, Outcome};
use mandate_core::identity::second_factor::{
    has_totp, verify_recovery_code, verify_totp, FactorRefusal,
};
use mandate_core::journey::SignedInUser;
use mandate_core::oauth::OAuthError;
use serde::Deserialize;
use tower_sessions::Session;

use super::sign_in::{complete_sign_in, continue_journey};
use super::{
    hidden, journey_error, signed_in_user, JourneyQuery, JourneySession, PENDING_KEY, SIGN_IN_PATH,
};
use crate::middleware::rate_limit;
use crate::pages::{escape, page};
use crate::request_context::Caller;
use crate::state::AppState;

pub const SECOND_FACTOR_PATH: &str = "/sign-in/verify";

/// Who owes the factor: a pending sign-in (`true`) or the signed-in user stepping up.
pub async fn verifying_user(session: &Session) -> Option<(SignedInUser, bool)> {
    if let Ok(Some(pending)) = session.get::<SignedInUser>(PENDING_KEY).await {
        return Some((pending, true));
    }
    signed_in_user(session).await.map(|u| (u, false))
}

async fn render(
    state: &AppState,
    user: &SignedInUser,
    pending: bool,
    journey: Option<&str>,
    csrf: &str,
    error: Option<&str>,
    status: StatusCode,
) -> Response {
    let totp = has_totp(&state.store, &user.user_id).await.unwrap_or(false);
    let recovery_left = state
        .store
        .recovery_codes_left(&user.user_id)
        .await
        .unwrap_or(0);
    let passkeys = state
        .store
        .passkeys_of(&user.user_id)
        .await
        .map(|k| !k.is_empty())
        .unwrap_or(false);
    let lead = if pending {
        "Your account is protected with a second factor. Confirm it is you to finish signing in."
    } else {
        "The application asks for access marked sensitive. Confirm it is you to continue."
    };
    let form = |method: &str, label: &str, id: &str, autocomplete: &str, inputmode: &str| {
        format!(
            "<form class=\"form\" method=\"post\" action=\"{SECOND_FACTOR_PATH}\">{}{}{}\
             <div class=\"field\"><label for=\"{id}\">{label}</label>\
             <input id=\"{id}\" name=\"code\" type=\"text\" autocomplete=\"{autocomplete}\" inputmode=\"{inputmode}\" required></div>\
             <div class=\"actions\"><button class=\"button\" type=\"submit\">Verify</button></div></form>",
            hidden("csrf", csrf),
            journey.map(|j| hidden("journey", j)).unwrap_or_default(),
            hidden("method", method),
        )
    };
    let mut body = format!(
        "<h1>Confirm it is you</h1><p>{}</p><p class=\"muted\">Signed in as {}</p>{}",
        escape(lead),
        escape(&user.email),
        error
            .map(|e| format!("<p role=\"alert\" class=\"error\">{}</p>", escape(e)))
            .unwrap_or_default(),
    );
    if totp {
        body.push_str(&form(
            "totp",
            "Code from your authenticator app",
            "totp-code",
            "one-time-code",
            "numeric",
        ));
    }
    if passkeys {
        body.push_str(&crate::routes::passkeys::verify_button(journey, csrf));
    }
    if recovery_left > 0 {
        body.push_str(&format!(
            "<details class=\"panel\"><summary>Use a recovery code</summary>{}</details>",
            form("recovery", "Recovery code", "recovery-code", "off", "text")
        ));
    }
    if !totp && !passkeys && recovery_left == 0 {
        body.push_str(
            "<p>You have no second factor yet. Set one up on your account page first.</p>",
        );
    }
    page(status, "Confirm it is you", &body)
}

pub async fn second_factor_page(
    State(state): State<AppState>,
    session: Session,
    Query(q): Query<JourneyQuery>,
) -> Response {
    let js = JourneySession(session);
    let Some((user, pending)) = verifying_user(&js.0).await else {
        return Redirect::to(&super::step_url(SIGN_IN_PATH, q.journey.as_deref())).into_response();
    };
    let csrf = match js.ensure_csrf().await {
        Ok(c) => c,
        Err(e) => return journey_error(e),
    };
    render(
        &state,
        &user,
        pending,
        q.journey.as_deref(),
        &csrf,
        None,
        StatusCode::OK,
    )
    .await
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
    Form(form): Form<SecondFactorForm>,
) -> Response {
    let js = JourneySession(session);
    if let Err(e) = js.check_csrf(&form.csrf).await {
        return journey_error(e);
    }
    let Some((user, pending)) = verifying_user(&js.0).await else {
        return journey_error(OAuthError::invalid_request("sign in first"));
    };
    let csrf = js.ensure_csrf().await.unwrap_or_default();
    let journey = form.journey.as_deref();
    if let Err(wait) = rate_limit::check(&state.limits.second_factor, user.user_id.clone()) {
        let message = rate_limit::try_again_message(wait);
        return render(
            &state,
            &user,
            pending,
            journey,
            &csrf,
            Some(&message),
            StatusCode::TOO_MANY_REQUESTS,
        )
        .await;
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
        return render(
            &state,
            &user,
            pending,
            journey,
            &csrf,
            Some(message),
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
