//! Sign-in with email and password. A user with a second factor is only half signed in after
//! the password (the session holds a pending sign-in) until the second factor page completes
//! it. Unknown emails and wrong passwords get the same message after the same argon2 work;
//! attempts are throttled per IP and per account.

use app::api::auth::{FormKeys, NewPasswordView, SignInView};
use app::api::screen::{PageNotice, Screen};
use axum::extract::State;
use axum::http::request::Parts;
use axum::http::StatusCode;
use axum::response::{IntoResponse, Redirect, Response};
use mandate_core::audit::{ActorKind, AuditEvent, EventType, Outcome};
use mandate_core::crypto::random_token;
use mandate_core::identity::password::{MAX_PASSWORD_LEN, MIN_PASSWORD_LEN};
use mandate_core::identity::second_factor::has_second_factor;
use mandate_core::ids::UserId;
use mandate_core::journey::SignedInUser;
use mandate_core::model::user::normalize_email;
use mandate_core::oauth::OAuthError;
use mandate_core::tenancy::{enforced_for, offered_for};
use serde::Deserialize;
use tokio::sync::OnceCell;
use tower_sessions::Session;

use super::{
    advance, journey_error, step_url, JourneySession, ACCOUNT_PATH, PENDING_KEY,
    SECOND_FACTOR_PATH, USER_KEY,
};
use crate::middleware::rate_limit;
use crate::request_context::Caller;
use crate::state::AppState;
use crate::ui::{self, notice_of, screen_of, session_of, PageForm, RequestHead};

pub const SIGN_IN_PATH: &str = "/sign-in";
/// The console's home.
pub const ADMIN_PATH: &str = "/admin";
pub const NEW_PASSWORD_PATH: &str = "/sign-in/new-password";
/// A person who signed in with a one-time password and must choose their own first.
const PENDING_PASSWORD_KEY: &str = "pending_password";

/// What `/sign-in` shows: the form (again, with the email and the error, when a form's
/// answer renders it).
pub async fn sign_in_screen(
    state: &AppState,
    request: Parts,
    journey: Option<String>,
) -> Screen<SignInView> {
    screen_of(
        async {
            let js = JourneySession(session_of(&request)?);
            let notice = notice_of(&request);
            Ok(Screen::Show(SignInView {
                keys: FormKeys {
                    csrf: js.ensure_csrf().await?,
                    journey,
                },
                email: notice.email.unwrap_or_default(),
                error: notice.error,
                passkeys: state.webauthn.is_some(),
                sso: !state.store.all_sso().await?.is_empty(),
            }))
        }
        .await,
    )
}

#[derive(Deserialize)]
pub struct SignInForm {
    csrf: String,
    journey: Option<String>,
    email: String,
    /// Empty when the person continues with single sign-on.
    #[serde(default)]
    password: String,
    /// Set by "Continue with single sign-on".
    #[serde(default)]
    sso: Option<String>,
}

static DUMMY_HASH: OnceCell<String> = OnceCell::const_new();

pub async fn sign_in(
    State(state): State<AppState>,
    session: Session,
    caller: Caller,
    head: RequestHead,
    PageForm(form): PageForm<SignInForm>,
) -> Response {
    let js = JourneySession(session);
    if let Err(e) = js.check_csrf(&form.csrf).await {
        return journey_error(e);
    }
    let retry = |message: String, status: StatusCode| {
        let notice = PageNotice {
            error: Some(message),
            email: Some(form.email.clone()),
            ..PageNotice::default()
        };
        ui::render(&state, head, form.journey.as_deref(), notice, status)
    };
    let email = normalize_email(&form.email);
    let throttled = rate_limit::check(&state.limits.sign_in, caller.ip).and_then(|()| {
        rate_limit::check(
            &state.limits.sign_in_account,
            email.clone().unwrap_or_default(),
        )
    });
    if let Err(wait) = throttled {
        return retry(
            rate_limit::try_again_message(wait),
            StatusCode::TOO_MANY_REQUESTS,
        )
        .await;
    }
    let user = match &email {
        Some(email) => state.store.user_by_email(email).await.ok().flatten(),
        None => None,
    };
    // An email of a domain whose tenant enforces single sign-on goes to its provider (no
    // password is checked, whatever was typed); anyone may ask for their domain's provider.
    // Project admins keep their password (the way in when a provider is down or misset).
    let break_glass = user.as_ref().is_some_and(|u| u.is_project_admin);
    if let Some(email) = &email {
        let all = match state.store.all_sso().await {
            Ok(all) => all,
            Err(e) => return journey_error(e.into()),
        };
        let wants_sso = form.sso.is_some();
        let provider = if wants_sso {
            offered_for(email, &all)
        } else if break_glass {
            None
        } else {
            enforced_for(email, &all)
        };
        if let Some(settings) = provider {
            return super::sso::begin(
                &state,
                &js,
                &settings.tenant_id,
                email,
                form.journey.as_deref(),
                &caller,
            )
            .await;
        }
        if wants_sso {
            return retry(
                "No single sign-on is set up for this email's domain: sign in with your password."
                    .to_owned(),
                StatusCode::BAD_REQUEST,
            )
            .await;
        }
    }
    let stored = match &user {
        Some(u) => state.store.password_hash_of(&u.id).await.ok().flatten(),
        None => None,
    };
    // Unknown emails cost the same argon2 verification as wrong passwords (equal timing).
    let hash = match stored {
        Some(h) => h,
        None => DUMMY_HASH
            .get_or_init(|| async {
                state
                    .hasher
                    .hash(random_token(16))
                    .await
                    .unwrap_or_default()
            })
            .await
            .clone(),
    };
    let verified = state.hasher.verify(form.password.clone(), hash).await;
    let user = match user {
        Some(u) if verified && !u.disabled => u,
        _ => {
            let event = AuditEvent::new(
                EventType::SignInFailed,
                Outcome::Failure,
                ActorKind::Anonymous,
            )
            .with(
                "email_domain",
                form.email
                    .rsplit_once('@')
                    .map(|(_, d)| d.to_ascii_lowercase()),
            )
            .with("method", "password")
            .context(&caller.context);
            let _ = state.audit.record(event).await;
            return retry(
                "The email or password is not correct.".to_owned(),
                StatusCode::UNAUTHORIZED,
            )
            .await;
        }
    };
    let signed_in = SignedInUser {
        user_id: user.id.to_string(),
        email: user.email.clone(),
        auth_time: state.now(),
        amr: vec!["pwd".into()],
        mfa_at: None,
    };
    if user.must_change_password {
        // A one-time password: nothing else until the person has chosen their own.
        let pending = async {
            js.0.cycle_id().await.map_err(OAuthError::server_error)?;
            js.0.remove::<SignedInUser>(USER_KEY)
                .await
                .map_err(OAuthError::server_error)?;
            js.0.insert(PENDING_PASSWORD_KEY, &signed_in)
                .await
                .map_err(OAuthError::server_error)
        }
        .await;
        return match pending {
            Ok(()) => {
                Redirect::to(&step_url(NEW_PASSWORD_PATH, form.journey.as_deref())).into_response()
            }
            Err(e) => journey_error(e),
        };
    }
    after_password(&state, &js, signed_in, form.journey.as_deref(), &caller).await
}

/// After a correct password: the second factor if the person has one, else signed in.
async fn after_password(
    state: &AppState,
    js: &JourneySession,
    signed_in: SignedInUser,
    journey: Option<&str>,
    caller: &Caller,
) -> Response {
    let needs_second_factor = match has_second_factor(&state.store, &signed_in.user_id).await {
        Ok(has) => has,
        Err(e) => return journey_error(e.into()),
    };
    if needs_second_factor {
        // Half signed in: a new session id now (no fixation), the user only after the factor.
        let pending = async {
            js.0.cycle_id().await.map_err(OAuthError::server_error)?;
            js.0.remove::<SignedInUser>(USER_KEY)
                .await
                .map_err(OAuthError::server_error)?;
            js.0.insert(PENDING_KEY, &signed_in)
                .await
                .map_err(OAuthError::server_error)
        }
        .await;
        return match pending {
            Ok(()) => Redirect::to(&step_url(SECOND_FACTOR_PATH, journey)).into_response(),
            Err(e) => journey_error(e),
        };
    }
    complete_sign_in(state, js, signed_in, "password", journey, caller).await
}

/// What `/sign-in/new-password` shows (a redirect to sign-in when no one-time password was
/// just used on this session).
pub async fn new_password_screen(
    request: Parts,
    journey: Option<String>,
) -> Screen<NewPasswordView> {
    screen_of(
        async {
            let js = JourneySession(session_of(&request)?);
            let pending: Option<SignedInUser> =
                js.0.get(PENDING_PASSWORD_KEY)
                    .await
                    .map_err(OAuthError::server_error)?;
            let Some(user) = pending else {
                return Ok(Screen::Redirect(step_url(SIGN_IN_PATH, journey.as_deref())));
            };
            Ok(Screen::Show(NewPasswordView {
                keys: FormKeys {
                    csrf: js.ensure_csrf().await?,
                    journey,
                },
                email: user.email,
                min_length: u32::try_from(MIN_PASSWORD_LEN).unwrap_or(12),
                error: notice_of(&request).error,
            }))
        }
        .await,
    )
}

#[derive(Deserialize)]
pub struct NewPasswordForm {
    csrf: String,
    journey: Option<String>,
    password: String,
    confirm: String,
}

/// Sets the person's own password in place of the one-time one, then continues the sign-in.
pub async fn new_password(
    State(state): State<AppState>,
    session: Session,
    caller: Caller,
    head: RequestHead,
    PageForm(form): PageForm<NewPasswordForm>,
) -> Response {
    let js = JourneySession(session);
    if let Err(e) = js.check_csrf(&form.csrf).await {
        return journey_error(e);
    }
    let journey = form.journey.as_deref();
    let pending: Option<SignedInUser> = js.0.get(PENDING_PASSWORD_KEY).await.ok().flatten();
    let Some(user) = pending else {
        return Redirect::to(&step_url(SIGN_IN_PATH, journey)).into_response();
    };
    let refuse = |message: &str| {
        let notice = PageNotice::error(message);
        ui::render(&state, head, journey, notice, StatusCode::BAD_REQUEST)
    };
    let length = form.password.chars().count();
    if length < MIN_PASSWORD_LEN || form.password.len() > MAX_PASSWORD_LEN {
        return refuse(&format!(
            "Use at least {MIN_PASSWORD_LEN} characters (and at most {MAX_PASSWORD_LEN})."
        ))
        .await;
    }
    if form.password != form.confirm {
        return refuse("The two passwords are not the same.").await;
    }
    let user_id = UserId::from_string(&user.user_id);
    let current = state.store.password_hash_of(&user_id).await.ok().flatten();
    if let Some(current) = current {
        if state.hasher.verify(form.password.clone(), current).await {
            return refuse("Choose a password other than the one-time password.").await;
        }
    }
    let stored = async {
        let hash = state.hasher.hash(form.password.clone()).await?;
        state
            .store
            .set_password(&user_id, &hash, state.now())
            .await?;
        js.0.remove::<SignedInUser>(PENDING_PASSWORD_KEY)
            .await
            .map_err(OAuthError::server_error)?;
        let event = AuditEvent::new(
            EventType::PasswordChanged,
            Outcome::Success,
            ActorKind::User,
        )
        .user(Some(user.user_id.clone()))
        .with("reason", "one-time password replaced")
        .context(&caller.context);
        state.audit.record(event).await?;
        Ok::<(), OAuthError>(())
    }
    .await;
    match stored {
        Ok(()) => after_password(&state, &js, user, journey, &caller).await,
        Err(e) => journey_error(e),
    }
}

/// Finishes a sign-in: a new session id (no fixation), the user in the session, an audit
/// event, then the journey's next step (or the account page outside a journey).
pub async fn complete_sign_in(
    state: &AppState,
    js: &JourneySession,
    user: SignedInUser,
    method: &str,
    journey_id: Option<&str>,
    caller: &Caller,
) -> Response {
    let stored = async {
        js.0.cycle_id().await.map_err(OAuthError::server_error)?;
        js.0.remove::<SignedInUser>(PENDING_KEY)
            .await
            .map_err(OAuthError::server_error)?;
        js.set_user(&user).await?;
        let mut event = AuditEvent::new(EventType::UserSignedIn, Outcome::Success, ActorKind::User)
            .user(Some(user.user_id.clone()))
            .with("method", method)
            .with("amr", &user.amr)
            .context(&caller.context);
        // Inside an authorization: the agent and MCP server the person signed in for.
        if let Some(journey) = journey_id.filter(|j| !j.is_empty()) {
            if let Ok(journey) = js.journey(journey).await {
                event = event
                    .agent(journey.request.client_id.clone())
                    .server(journey.request.mcp_server_id.clone());
            }
        }
        state.audit.record(event).await?;
        Ok::<(), OAuthError>(())
    }
    .await;
    if let Err(e) = stored {
        return journey_error(e);
    }
    continue_journey(state, js, user, journey_id, caller).await
}

/// Puts the (newly verified) user into the named journey and advances it; outside a journey,
/// goes to the account page.
pub async fn continue_journey(
    state: &AppState,
    js: &JourneySession,
    user: SignedInUser,
    journey_id: Option<&str>,
    caller: &Caller,
) -> Response {
    let Some(journey_id) = journey_id.filter(|j| !j.is_empty()) else {
        // Outside an authorization: admins go to the console, everyone else to their account.
        let user_id = mandate_core::ids::UserId::from_string(user.user_id.clone());
        let home = match mandate_core::access::admin_access(&state.store, &user_id).await {
            Ok(Some(_)) => ADMIN_PATH,
            _ => ACCOUNT_PATH,
        };
        return Redirect::to(home).into_response();
    };
    match js.journey(journey_id).await {
        Ok(mut journey) => match journey.sign_in(user) {
            Ok(()) => advance(state, js, journey, caller).await,
            Err(e) => journey_error(e),
        },
        Err(e) => journey_error(e),
    }
}

#[derive(Deserialize)]
pub struct SignOutForm {
    csrf: String,
}

pub async fn sign_out(
    State(state): State<AppState>,
    session: Session,
    caller: Caller,
    PageForm(form): PageForm<SignOutForm>,
) -> Response {
    let js = JourneySession(session);
    if let Err(e) = js.check_csrf(&form.csrf).await {
        return journey_error(e);
    }
    if let Some(user) = super::signed_in_user(&js.0).await {
        let event = AuditEvent::new(EventType::UserSignedOut, Outcome::Success, ActorKind::User)
            .user(Some(user.user_id))
            .context(&caller.context);
        let _ = state.audit.record(event).await;
    }
    let _ = js.0.flush().await;
    Redirect::to("/").into_response()
}
