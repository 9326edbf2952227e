//! The account page: second factors (authenticator app with QR code, recovery codes,
//! passkeys) and connected agents (every grant, with "Revoke"). Reached from a journey that
//! needs a second factor the user does not have yet (`?journey=`), in which case confirming
//! one continues the journey.

use axum::extract::{Query, State};
use axum::http::StatusCode;
use axum::response::{IntoResponse, Redirect, Response};
use axum::Form;
use mandate_core::audit::{ActorKind, AuditEvent, EventType, Outcome};
use mandate_core::identity::second_factor::{
    begin_totp, has_totp, new_recovery_codes, pending_totp, verify_totp, FactorRefusal,
};
use mandate_core::identity::totp::Enrolment;
use mandate_core::journey::SignedInUser;
use mandate_core::oauth::OAuthError;
use serde::Deserialize;
use tower_sessions::Session;

use crate::pages::{escape, page};
use crate::request_context::Caller;
use crate::routes::oauth::journey::{
    hidden, journey_error, signed_in_user, step_url, JourneySession, ACCOUNT_PATH, SIGN_IN_PATH,
};
use crate::routes::passkeys;
use crate::state::AppState;

const TOTP_ISSUER: &str = "Mandate";
/// Removing a second factor needs one verified this recently, so a borrowed session cannot
/// strip the account's protection.
const REMOVAL_WINDOW_MS: i64 = 10 * 60 * 1000;

/// `Err(page)` asking for a fresh second factor unless the session verified one recently.
async fn require_fresh_factor(
    state: &AppState,
    user: &SignedInUser,
    csrf: &str,
    journey: Option<&str>,
) -> Result<(), Response> {
    if user
        .mfa_at
        .is_some_and(|at| state.now() - at <= REMOVAL_WINDOW_MS)
    {
        return Ok(());
    }
    let notice = Notice {
        error: Some("To remove a second factor, confirm it is you again first (at /sign-in/verify), then remove it within 10 minutes."),
        ..Notice::default()
    };
    Err(
        render(state, user, csrf, journey, notice, StatusCode::FORBIDDEN)
            .await
            .unwrap_or_else(journey_error),
    )
}

#[derive(Deserialize, Default)]
pub struct AccountQuery {
    journey: Option<String>,
}

/// A small form with one button that posts `action` (plus CSRF, journey and extra fields).
fn action_form(
    action: &str,
    csrf: &str,
    journey: Option<&str>,
    extra: &str,
    label: &str,
    class: &str,
) -> String {
    format!(
        "<form method=\"post\" action=\"{action}\" class=\"inline\">{}{}{extra}\
         <button class=\"button {class}\" type=\"submit\">{label}</button></form>",
        hidden("csrf", csrf),
        journey.map(|j| hidden("journey", j)).unwrap_or_default(),
    )
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

async fn user_or_sign_in(
    session: &Session,
    journey: Option<&str>,
) -> Result<SignedInUser, Response> {
    match signed_in_user(session).await {
        Some(u) => Ok(u),
        None => Err(Redirect::to(&step_url(SIGN_IN_PATH, journey)).into_response()),
    }
}

/// What a render shows besides the account's state.
#[derive(Default)]
struct Notice<'a> {
    error: Option<&'a str>,
    info: Option<&'a str>,
    recovery_codes: Option<&'a [String]>,
    enrolment: Option<&'a Enrolment>,
    /// A second factor was just set up in a journey: offer the way back to it, just above the
    /// new recovery codes.
    offer_continue: bool,
}

async fn render(
    state: &AppState,
    user: &SignedInUser,
    csrf: &str,
    journey: Option<&str>,
    notice: Notice<'_>,
    status: StatusCode,
) -> Result<Response, OAuthError> {
    let mut body = String::from("<h1>Your account</h1>");
    body.push_str(&format!(
        "<div class=\"panel account-who\"><p>Signed in as <strong>{}</strong></p>{}</div>",
        escape(&user.email),
        action_form("/sign-out", csrf, None, "", "Sign out", "secondary"),
    ));
    if journey.is_some() {
        body.push_str(
            "<p class=\"panel notice\" role=\"status\">The application you are authorizing asks for access marked \
             sensitive, which needs a second factor. Set up an authenticator app or a passkey below; \
             you will go straight back to it.</p>",
        );
    }
    if let Some(e) = notice.error {
        body.push_str(&format!(
            "<p role=\"alert\" class=\"error\">{}</p>",
            escape(e)
        ));
    }
    if let Some(i) = notice.info {
        body.push_str(&format!(
            "<p role=\"status\" class=\"notice\">{}</p>",
            escape(i)
        ));
    }

    // Authenticator app.
    body.push_str("<section aria-labelledby=\"totp-h\"><h2 id=\"totp-h\">Authenticator app</h2>");
    let confirmed = has_totp(&state.store, &user.user_id).await?;
    let pending = match notice.enrolment {
        Some(e) => Some(e.clone()),
        None if !confirmed => {
            pending_totp(
                &state.store,
                &state.master_key,
                &user.user_id,
                TOTP_ISSUER,
                &user.email,
            )
            .await?
        }
        None => None,
    };
    if confirmed {
        body.push_str("<p><span class=\"badge ok\">on</span> Codes from your authenticator app are your second factor.</p>");
        body.push_str(&action_form(
            "/account/totp/remove",
            csrf,
            journey,
            "",
            "Remove authenticator app",
            "secondary",
        ));
    } else if let Some(enrolment) = pending {
        body.push_str(&format!(
            "<ol class=\"steps\"><li>Scan this code with your authenticator app:<div class=\"qr\">{}</div></li>\
             <li>Or type this key: <code class=\"manual-key\" data-testid=\"totp-key\">{}</code></li>\
             <li>Enter the 6-digit code the app shows:</li></ol>\
             <form class=\"form\" method=\"post\" action=\"/account/totp/confirm\">{}{}\
             <div class=\"field\"><label for=\"totp-confirm\">Code</label>\
             <input id=\"totp-confirm\" name=\"code\" type=\"text\" inputmode=\"numeric\" autocomplete=\"one-time-code\" required></div>\
             <div class=\"actions\"><button class=\"button\" type=\"submit\">Turn on</button></div></form>",
            qr_svg(&enrolment.otpauth_url),
            escape(&enrolment.manual_key),
            hidden("csrf", csrf),
            journey.map(|j| hidden("journey", j)).unwrap_or_default(),
        ));
    } else {
        body.push_str("<p>Use an app such as your phone's authenticator for one-time codes.</p>");
        body.push_str(&action_form(
            "/account/totp/start",
            csrf,
            journey,
            "",
            "Set up authenticator app",
            "",
        ));
    }
    body.push_str("</section>");

    if let (true, Some(j)) = (notice.offer_continue, journey) {
        body.push_str(&action_form(
            "/account/continue",
            csrf,
            Some(j),
            "",
            "Continue to the application",
            "",
        ));
    }

    // Recovery codes.
    body.push_str("<section aria-labelledby=\"rec-h\"><h2 id=\"rec-h\">Recovery codes</h2>");
    if let Some(codes) = notice.recovery_codes {
        body.push_str(
            "<p role=\"status\"><strong>Save these codes now: they are shown only once.</strong> \
             Each works once, if you lose your authenticator.</p><ul class=\"recovery-codes\" data-testid=\"recovery-codes\">",
        );
        for code in codes {
            body.push_str(&format!("<li><code>{}</code></li>", escape(code)));
        }
        body.push_str("</ul>");
    } else {
        let left = state.store.recovery_codes_left(&user.user_id).await?;
        body.push_str(&format!("<p>{left} unused recovery codes.</p>"));
    }
    body.push_str(&action_form(
        "/account/recovery",
        csrf,
        journey,
        "",
        "Generate new recovery codes",
        "secondary",
    ));
    body.push_str("</section>");

    // Passkeys.
    body.push_str("<section aria-labelledby=\"pk-h\"><h2 id=\"pk-h\">Passkeys</h2>");
    let keys = state.store.passkeys_of(&user.user_id).await?;
    if keys.is_empty() {
        body.push_str(
            "<p>No passkeys yet. A passkey signs you in with your device's screen lock.</p>",
        );
    } else {
        body.push_str("<ul class=\"item-list\" data-testid=\"passkeys\">");
        for key in &keys {
            body.push_str(&format!(
                "<li><span><strong>{}</strong><br><span class=\"muted\">added {}</span></span>{}</li>",
                escape(&key.name),
                format_time(key.created_at),
                action_form(
                    "/account/passkeys/remove",
                    csrf,
                    journey,
                    &hidden("credential", &key.credential_id),
                    "Remove",
                    "secondary"
                ),
            ));
        }
        body.push_str("</ul>");
    }
    if state.webauthn.is_some() {
        body.push_str(&passkeys::register_button(journey, csrf));
    } else {
        body.push_str("<p class=\"muted\">Passkeys need Mandate to be served from a domain name, not an IP address.</p>");
    }
    body.push_str("</section>");

    // Connected agents.
    body.push_str(
        "<section aria-labelledby=\"agents-h\"><h2 id=\"agents-h\">Connected agents</h2>",
    );
    let grants = state.store.grants_of_user(&user.user_id).await?;
    if grants.is_empty() {
        body.push_str("<p>No agent can act for you yet.</p>");
    } else {
        body.push_str("<ul class=\"item-list\" data-testid=\"connected-agents\">");
        for g in &grants {
            body.push_str(&format!(
                "<li><span><strong>{}</strong> on {} in {}<br>\
                 <span class=\"muted\">{}</span><br>\
                 <span class=\"muted\">granted {} · last used {}</span></span>{}</li>",
                escape(&g.agent_name),
                escape(&g.mcp_server_name),
                escape(&g.tenant_name),
                g.grant
                    .granted_scopes
                    .iter()
                    .map(|s| format!("<code>{}</code>", escape(s)))
                    .collect::<Vec<_>>()
                    .join(" "),
                format_time(g.grant.created_at),
                g.grant
                    .last_used_at
                    .map(format_time)
                    .unwrap_or_else(|| "never".into()),
                action_form(
                    "/account/agents/revoke",
                    csrf,
                    None,
                    &hidden("grant", &g.grant.id),
                    &format!(
                        "Revoke <span class=\"visually-hidden\">{}</span>",
                        escape(&g.agent_name)
                    ),
                    "danger"
                ),
            ));
        }
        body.push_str("</ul>");
    }
    body.push_str("</section>");
    Ok(page(status, "Your account", &body))
}

/// Unix ms as `YYYY-MM-DD HH:MM UTC`.
fn format_time(ms: i64) -> String {
    time::OffsetDateTime::from_unix_timestamp(ms / 1000)
        .ok()
        .and_then(|t| {
            let f = time::macros::format_description!("[year]-[month]-[day] [hour]:[minute] UTC");
            t.format(&f).ok()
        })
        .unwrap_or_default()
}

pub async fn account_page(
    State(state): State<AppState>,
    session: Session,
    Query(q): Query<AccountQuery>,
) -> Response {
    let user = match user_or_sign_in(&session, q.journey.as_deref()).await {
        Ok(u) => u,
        Err(r) => return r,
    };
    let js = JourneySession(session);
    let csrf = match js.ensure_csrf().await {
        Ok(c) => c,
        Err(e) => return journey_error(e),
    };
    render(
        &state,
        &user,
        &csrf,
        q.journey.as_deref(),
        Notice::default(),
        StatusCode::OK,
    )
    .await
    .unwrap_or_else(journey_error)
}

#[derive(Deserialize)]
pub struct AccountForm {
    csrf: String,
    #[serde(default)]
    journey: Option<String>,
    #[serde(default)]
    code: Option<String>,
    #[serde(default)]
    credential: Option<String>,
    #[serde(default)]
    grant: Option<String>,
}

/// A form posted from the account page: its CSRF token checked, then the signed-in user
/// (a request without one is sent to sign in).
pub struct AccountPost {
    js: JourneySession,
    user: SignedInUser,
    /// The session's CSRF token, for the page rendered in answer.
    csrf: String,
    form: AccountForm,
}

impl<S: Send + Sync> axum::extract::FromRequest<S> for AccountPost {
    type Rejection = Response;

    async fn from_request(request: axum::extract::Request, state: &S) -> Result<Self, Response> {
        let (mut parts, body) = request.into_parts();
        let session =
            <Session as axum::extract::FromRequestParts<S>>::from_request_parts(&mut parts, state)
                .await
                .map_err(IntoResponse::into_response)?;
        let request = axum::extract::Request::from_parts(parts, body);
        let Form(form) = Form::<AccountForm>::from_request(request, state)
            .await
            .map_err(IntoResponse::into_response)?;
        let js = JourneySession(session.clone());
        js.check_csrf(&form.csrf).await.map_err(journey_error)?;
        let user = user_or_sign_in(&session, form.journey.as_deref()).await?;
        let csrf = js.ensure_csrf().await.map_err(journey_error)?;
        Ok(Self {
            js,
            user,
            csrf,
            form,
        })
    }
}

fn back(journey: Option<&str>) -> Response {
    Redirect::to(&step_url(ACCOUNT_PATH, journey)).into_response()
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

pub async fn totp_start(State(state): State<AppState>, post: AccountPost) -> Response {
    let AccountPost {
        user, csrf, form, ..
    } = post;
    let journey = form.journey.as_deref();
    let result = async {
        let enrolment = begin_totp(
            &state.store,
            &state.master_key,
            &user.user_id,
            TOTP_ISSUER,
            &user.email,
            state.now(),
        )
        .await?;
        let notice = Notice {
            enrolment: enrolment.as_ref(),
            error: enrolment.is_none().then_some(
                "An authenticator app is already on. Remove it first to set up another.",
            ),
            ..Notice::default()
        };
        render(&state, &user, &csrf, journey, notice, StatusCode::OK).await
    }
    .await;
    result.unwrap_or_else(journey_error)
}

pub async fn totp_confirm(
    State(state): State<AppState>,
    caller: Caller,
    post: AccountPost,
) -> Response {
    let AccountPost {
        js,
        user,
        csrf,
        form,
        ..
    } = post;
    let journey = form.journey.as_deref();
    if let Err(wait) =
        crate::middleware::rate_limit::check(&state.limits.second_factor, user.user_id.clone())
    {
        let message = crate::middleware::rate_limit::try_again_message(wait);
        let notice = Notice {
            error: Some(&message),
            ..Notice::default()
        };
        return render(
            &state,
            &user,
            &csrf,
            journey,
            notice,
            StatusCode::TOO_MANY_REQUESTS,
        )
        .await
        .unwrap_or_else(journey_error);
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
            let notice = Notice {
                error: Some(message),
                ..Notice::default()
            };
            return render(
                &state,
                &user,
                &csrf,
                journey,
                notice,
                StatusCode::BAD_REQUEST,
            )
            .await
            .unwrap_or_else(journey_error);
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
    let notice = Notice {
        info: Some(info),
        recovery_codes: Some(&codes),
        offer_continue: true,
        ..Notice::default()
    };
    render(&state, &user, &csrf, journey, notice, StatusCode::OK)
        .await
        .unwrap_or_else(journey_error)
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
        user, csrf, form, ..
    } = post;
    if let Err(page) = require_fresh_factor(&state, &user, &csrf, form.journey.as_deref()).await {
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
    match result {
        Ok(()) => back(form.journey.as_deref()),
        Err(e) => journey_error(e),
    }
}

pub async fn recovery_codes(
    State(state): State<AppState>,
    caller: Caller,
    post: AccountPost,
) -> Response {
    let AccountPost {
        user, csrf, form, ..
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
        let notice = Notice {
            recovery_codes: Some(&codes),
            ..Notice::default()
        };
        render(
            &state,
            &user,
            &csrf,
            form.journey.as_deref(),
            notice,
            StatusCode::OK,
        )
        .await
    }
    .await;
    result.unwrap_or_else(journey_error)
}

pub async fn passkey_remove(
    State(state): State<AppState>,
    caller: Caller,
    post: AccountPost,
) -> Response {
    let AccountPost {
        user, csrf, form, ..
    } = post;
    if let Err(page) = require_fresh_factor(&state, &user, &csrf, form.journey.as_deref()).await {
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
    match result {
        Ok(()) => back(form.journey.as_deref()),
        Err(e) => journey_error(e),
    }
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
    match result {
        Ok(()) => back(None),
        Err(e) => journey_error(e),
    }
}
