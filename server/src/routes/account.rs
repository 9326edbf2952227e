//! The account page: second factors (authenticator app with QR code, recovery codes,
//! passkeys) and connected agents (every grant, with "Revoke"). Reached from a journey that
//! needs a second factor the user does not have yet (`?journey=`), in which case confirming
//! one continues the journey.

use app::api::account::{AccountView, ConnectedAgent, PasskeyRow, TotpState};
use app::api::auth::FormKeys;
use app::api::screen::{PageNotice, Screen};
use axum::extract::State;
use axum::http::request::Parts;
use axum::http::StatusCode;
use axum::response::{IntoResponse, Redirect, Response};
use mandate_core::audit::{ActorKind, AuditEvent, EventType, Outcome};
use mandate_core::identity::second_factor::{
    begin_totp, has_totp, new_recovery_codes, pending_totp, verify_totp, FactorRefusal,
};
use mandate_core::journey::SignedInUser;
use mandate_core::oauth::OAuthError;
use serde::Deserialize;
use tower_sessions::Session;

use crate::request_context::Caller;
use crate::routes::oauth::journey::{
    journey_error, signed_in_user, step_url, JourneySession, ACCOUNT_PATH, SIGN_IN_PATH,
};
use crate::state::AppState;
use crate::ui::{self, notice_of, screen_of, session_of, PageForm, RequestHead};

const TOTP_ISSUER: &str = "Mandate";
/// Removing a second factor needs one verified this recently, so a borrowed session cannot
/// strip the account's protection.
const REMOVAL_WINDOW_MS: i64 = 10 * 60 * 1000;

/// `Err(page)` asking for a fresh second factor unless the session verified one recently.
async fn require_fresh_factor(
    state: &AppState,
    user: &SignedInUser,
    head: RequestHead,
    journey: Option<&str>,
) -> Result<(), Response> {
    if user
        .mfa_at
        .is_some_and(|at| state.now() - at <= REMOVAL_WINDOW_MS)
    {
        return Ok(());
    }
    let notice = PageNotice::error(
        "To remove a second factor, confirm it is you again first (at /sign-in/verify), then remove it within 10 minutes.",
    );
    Err(ui::render(state, head, journey, notice, StatusCode::FORBIDDEN).await)
}

/// The otpauth URL as an inline SVG QR code (no image requests, no scripts).
fn qr_svg(data: &str) -> String {
    match qrcode::QrCode::new(data.as_bytes()) {
        Ok(code) => code
            .render::<qrcode::render::svg::Color<'_>>()
            .min_dimensions(200, 200)
            .quiet_zone(true)
            .build()
            .replacen(
                "<svg ",
                "<svg role=\"img\" aria-label=\"QR code for your authenticator app\" ",
                1,
            ),
        Err(_) => String::new(),
    }
}

/// What `/account` shows: the signed-in person's factors and connected agents (a redirect to
/// sign-in for anyone else), plus what the form just answered.
pub async fn account_screen(
    state: &AppState,
    request: Parts,
    journey: Option<String>,
) -> Screen<AccountView> {
    screen_of(
        async {
            let session = session_of(&request)?;
            let Some(user) = signed_in_user(&session).await else {
                return Ok(Screen::Redirect(step_url(SIGN_IN_PATH, journey.as_deref())));
            };
            let csrf = JourneySession(session).ensure_csrf().await?;
            let notice = notice_of(&request);
            let view = account_view(state, &user, notice, FormKeys { csrf, journey }).await?;
            Ok(Screen::Show(view))
        }
        .await,
    )
}

async fn account_view(
    state: &AppState,
    user: &SignedInUser,
    notice: PageNotice,
    keys: FormKeys,
) -> Result<AccountView, OAuthError> {
    let store = &state.store;
    let totp = if has_totp(store, &user.user_id).await? {
        TotpState::On
    } else {
        match pending_totp(
            store,
            &state.master_key,
            &user.user_id,
            TOTP_ISSUER,
            &user.email,
        )
        .await?
        {
            Some(enrolment) => TotpState::Pending {
                qr_svg: qr_svg(&enrolment.otpauth_url),
                manual_key: enrolment.manual_key,
            },
            None => TotpState::Off,
        }
    };
    let passkeys = store
        .passkeys_of(&user.user_id)
        .await?
        .into_iter()
        .map(|key| PasskeyRow {
            credential_id: key.credential_id,
            name: key.name,
            added: format_time(key.created_at),
        })
        .collect();
    let agents = store
        .grants_of_user(&user.user_id)
        .await?
        .into_iter()
        .map(|g| ConnectedAgent {
            grant_id: g.grant.id,
            agent_name: g.agent_name,
            server_name: g.mcp_server_name,
            tenant_name: g.tenant_name,
            scopes: g.grant.granted_scopes,
            granted: format_time(g.grant.created_at),
            last_used: g
                .grant
                .last_used_at
                .map(format_time)
                .unwrap_or_else(|| "never".into()),
        })
        .collect();
    Ok(AccountView {
        keys,
        email: user.email.clone(),
        error: notice.error,
        info: notice.info,
        totp,
        offer_continue: notice.offer_continue,
        new_recovery_codes: notice.recovery_codes,
        recovery_codes_left: store
            .recovery_codes_left(&user.user_id)
            .await?
            .try_into()
            .unwrap_or(u32::MAX),
        passkeys,
        passkeys_available: state.webauthn.is_some(),
        agents,
        connections: super::connections::rows(state, &user.user_id, None).await?,
    })
}

/// Unix ms as `YYYY-MM-DD HH:MM UTC`.
pub(crate) fn format_time(ms: i64) -> String {
    time::OffsetDateTime::from_unix_timestamp(ms / 1000)
        .ok()
        .and_then(|t| {
            let f = time::macros::format_description!("[year]-[month]-[day] [hour]:[minute] UTC");
            t.format(&f).ok()
        })
        .unwrap_or_default()
}

#[derive(Deserialize)]
pub struct AccountForm {
    csrf: String,
    #[serde(default)]
    pub(crate) journey: Option<String>,
    #[serde(default)]
    code: Option<String>,
    #[serde(default)]
    credential: Option<String>,
    #[serde(default)]
    grant: Option<String>,
    /// A connection provider's slug (connect, API key, disconnect).
    #[serde(default)]
    pub(crate) provider: Option<String>,
    #[serde(default)]
    pub(crate) api_key: Option<String>,
}

/// A form posted from the account page: its CSRF token checked, then the signed-in user
/// (a request without one is sent to sign in).
pub struct AccountPost {
    pub(crate) js: JourneySession,
    pub(crate) user: SignedInUser,
    /// For the page rendered in answer.
    pub(crate) head: RequestHead,
    pub(crate) form: AccountForm,
}

impl<S: Send + Sync> axum::extract::FromRequest<S> for AccountPost {
    type Rejection = Response;

    async fn from_request(request: axum::extract::Request, state: &S) -> Result<Self, Response> {
        let (mut parts, body) = request.into_parts();
        let session =
            <Session as axum::extract::FromRequestParts<S>>::from_request_parts(&mut parts, state)
                .await
                .map_err(IntoResponse::into_response)?;
        let head = RequestHead(parts.clone());
        let request = axum::extract::Request::from_parts(parts, body);
        let PageForm(form) = PageForm::<AccountForm>::from_request(request, state).await?;
        let js = JourneySession(session.clone());
        js.check_csrf(&form.csrf).await.map_err(journey_error)?;
        let Some(user) = signed_in_user(&session).await else {
            let to = step_url(SIGN_IN_PATH, form.journey.as_deref());
            return Err(Redirect::to(&to).into_response());
        };
        Ok(Self {
            js,
            user,
            head,
            form,
        })
    }
}

/// Back to the account page (a new GET: reloading it posts nothing again).
pub(crate) fn back(journey: Option<&str>) -> Response {
    Redirect::to(&step_url(ACCOUNT_PATH, journey)).into_response()
}

/// Back to the account page after a change, or the error page if it failed.
fn back_or_error(result: Result<(), OAuthError>, journey: Option<&str>) -> Response {
    match result {
        Ok(()) => back(journey),
        Err(e) => journey_error(e),
    }
}

async fn audit(
    state: &AppState,
    event: EventType,
    user: &SignedInUser,
    caller: &Caller,
    detail: (&str, &str),
) -> Result<(), OAuthError> {
    let event = AuditEvent::new(event, Outcome::Success, ActorKind::User)
        .user(Some(user.user_id.clone()))
        .with(detail.0, detail.1)
        .context(&caller.context);
    state.audit.record(event).await.map_err(Into::into)
}

/// Starts authenticator-app set-up; the account page then shows the QR code and key.
pub async fn totp_start(State(state): State<AppState>, post: AccountPost) -> Response {
    let AccountPost {
        user, head, form, ..
    } = post;
    let started = begin_totp(
        &state.store,
        &state.master_key,
        &user.user_id,
        TOTP_ISSUER,
        &user.email,
        state.now(),
    )
    .await;
    match started {
        Ok(Some(_)) => back(form.journey.as_deref()),
        Ok(None) => {
            let notice = PageNotice::error(
                "An authenticator app is already on. Remove it first to set up another.",
            );
            ui::render(
                &state,
                head,
                form.journey.as_deref(),
                notice,
                StatusCode::CONFLICT,
            )
            .await
        }
        Err(e) => journey_error(e.into()),
    }
}

/// Confirms set-up with a first code, then shows the recovery codes once.
pub async fn totp_confirm(
    State(state): State<AppState>,
    caller: Caller,
    post: AccountPost,
) -> Response {
    let AccountPost {
        js,
        user,
        head,
        form,
    } = post;
    let journey = form.journey.as_deref();
    if let Err(wait) =
        crate::middleware::rate_limit::check(&state.limits.second_factor, user.user_id.clone())
    {
        let notice = PageNotice::error(crate::middleware::rate_limit::try_again_message(wait));
        return ui::render(&state, head, journey, notice, StatusCode::TOO_MANY_REQUESTS).await;
    }
    let code = form.code.clone().unwrap_or_default();
    let checked = verify_totp(
        &state.store,
        &state.master_key,
        &user.user_id,
        &code,
        state.now(),
        true,
    )
    .await;
    match checked {
        Ok(Ok(())) => {}
        Ok(Err(refusal)) => {
            let message = match refusal {
                FactorRefusal::NotEnrolled => "Start the set-up again.",
                _ => {
                    "That code is not correct. Check the time on your phone and try the next code."
                }
            };
            return ui::render(
                &state,
                head,
                journey,
                PageNotice::error(message),
                StatusCode::BAD_REQUEST,
            )
            .await;
        }
        Err(e) => return journey_error(e.into()),
    }
    if let Err(e) = audit(
        &state,
        EventType::MfaEnrolled,
        &user,
        &caller,
        ("method", "totp"),
    )
    .await
    {
        return journey_error(e);
    }
    // The first code proves the factor: record it, then show the recovery codes once.
    let codes = match new_recovery_codes(&state.store, &user.user_id, state.now()).await {
        Ok(c) => c,
        Err(e) => return journey_error(e.into()),
    };
    let mut user = user;
    user.add_second_factor("otp", state.now());
    if let Err(e) = js.set_user(&user).await {
        return journey_error(e);
    }
    let info = if journey.is_some() {
        "Authenticator app on. Save your recovery codes, then continue to the application."
    } else {
        "Authenticator app on."
    };
    let notice = PageNotice {
        info: Some(info.to_owned()),
        recovery_codes: Some(codes),
        offer_continue: true,
        ..PageNotice::default()
    };
    ui::render(&state, head, journey, notice, StatusCode::OK).await
}

/// Back to the journey after enrolling a second factor.
pub async fn continue_journey(
    State(state): State<AppState>,
    caller: Caller,
    post: AccountPost,
) -> Response {
    let AccountPost { js, user, form, .. } = post;
    crate::routes::oauth::journey::continue_journey(
        &state,
        &js,
        user,
        form.journey.as_deref(),
        &caller,
    )
    .await
}

pub async fn totp_remove(
    State(state): State<AppState>,
    caller: Caller,
    post: AccountPost,
) -> Response {
    let AccountPost {
        user, head, form, ..
    } = post;
    if let Err(page) = require_fresh_factor(&state, &user, head, form.journey.as_deref()).await {
        return page;
    }
    let result = async {
        state.store.delete_totp(&user.user_id).await?;
        audit(
            &state,
            EventType::MfaRemoved,
            &user,
            &caller,
            ("method", "totp"),
        )
        .await
    }
    .await;
    back_or_error(result, form.journey.as_deref())
}

/// Replaces the recovery codes and shows the new ones once.
pub async fn recovery_codes(
    State(state): State<AppState>,
    caller: Caller,
    post: AccountPost,
) -> Response {
    let AccountPost {
        user, head, form, ..
    } = post;
    let result = async {
        let codes = new_recovery_codes(&state.store, &user.user_id, state.now()).await?;
        audit(
            &state,
            EventType::RecoveryCodesGenerated,
            &user,
            &caller,
            ("count", &codes.len().to_string()),
        )
        .await?;
        Ok::<_, OAuthError>(codes)
    }
    .await;
    match result {
        Ok(codes) => {
            let notice = PageNotice {
                recovery_codes: Some(codes),
                ..PageNotice::default()
            };
            ui::render(
                &state,
                head,
                form.journey.as_deref(),
                notice,
                StatusCode::OK,
            )
            .await
        }
        Err(e) => journey_error(e),
    }
}

pub async fn passkey_remove(
    State(state): State<AppState>,
    caller: Caller,
    post: AccountPost,
) -> Response {
    let AccountPost {
        user, head, form, ..
    } = post;
    if let Err(page) = require_fresh_factor(&state, &user, head, form.journey.as_deref()).await {
        return page;
    }
    let credential = form.credential.clone().unwrap_or_default();
    let result = async {
        if state
            .store
            .delete_passkey(&user.user_id, &credential)
            .await?
        {
            audit(
                &state,
                EventType::PasskeyRemoved,
                &user,
                &caller,
                ("credential_id", &credential),
            )
            .await?;
        }
        Ok::<(), OAuthError>(())
    }
    .await;
    back_or_error(result, form.journey.as_deref())
}

pub async fn revoke_agent(
    State(state): State<AppState>,
    caller: Caller,
    post: AccountPost,
) -> Response {
    let AccountPost { user, form, .. } = post;
    let grant_id = form.grant.clone().unwrap_or_default();
    let result = async {
        let Some(grant) = state
            .store
            .revoke_grant(&user.user_id, &grant_id, state.now())
            .await?
        else {
            return Err(OAuthError::invalid_request(
                "that agent is not connected to your account",
            ));
        };
        let event = AuditEvent::new(EventType::GrantRevoked, Outcome::Success, ActorKind::User)
            .user(Some(user.user_id.clone()))
            .agent(grant.agent_id.as_str())
            .tenant(Some(grant.tenant_id.clone()))
            .server(grant.mcp_server_id.as_str())
            .scopes(None, Some(grant.granted_scopes.join(" ")))
            .with("grant", &grant.id)
            .context(&caller.context);
        state.audit.record(event).await?;
        Ok(())
    }
    .await;
    back_or_error(result, None)
}
