//! `POST /set-password`: a person chooses their password from an admin's link (an
//! invitation or a reset). The link works once: it is used and the password set in one
//! transaction. A refused form shows the page again, at this address, saying why.

use app::api::screen::PageNotice;
use axum::extract::State;
use axum::http::StatusCode;
use axum::response::{IntoResponse, Redirect, Response};
use axum::routing::post;
use axum::Router;
use mandate_core::audit::{ActorKind, AuditEvent, EventType, Outcome};
use mandate_core::secret::Secret;
use mandate_core::CoreError;
use serde::Deserialize;

use crate::error::log_internal;
use crate::pages::error_page;
use crate::request_context::Caller;
use crate::routes::oauth::journey::{JourneySession, SIGN_IN_PATH};
use crate::state::AppState;
use crate::ui::{self, session_of, PageForm, RequestHead};

pub const PATH: &str = "/set-password";

pub fn router() -> Router<AppState> {
    Router::new().route(PATH, post(submit))
}

#[derive(Deserialize)]
pub struct SetPasswordForm {
    csrf: String,
    token: String,
    password: String,
    confirm: String,
}

async fn again(state: &AppState, head: RequestHead, token: &str, message: &str) -> Response {
    let notice = PageNotice {
        error: Some(message.to_owned()),
        form: Some(vec![("token".to_owned(), token.to_owned())]),
        ..PageNotice::default()
    };
    ui::render(state, head, None, notice, StatusCode::BAD_REQUEST).await
}

pub async fn submit(
    State(state): State<AppState>,
    head: RequestHead,
    caller: Caller,
    PageForm(form): PageForm<SetPasswordForm>,
) -> Response {
    let checked = match session_of(&head.0) {
        Ok(session) => JourneySession(session).check_csrf(&form.csrf).await,
        Err(e) => Err(e),
    };
    if checked.is_err() {
        return error_page(
            StatusCode::FORBIDDEN,
            "This form has expired",
            "Open the link again and send the form from there.",
        );
    }
    if form.password != form.confirm {
        return again(
            &state,
            head,
            &form.token,
            "The two passwords are not the same.",
        )
        .await;
    }
    let hash = match state.hasher.hash(form.password).await {
        Ok(hash) => hash,
        Err(CoreError::Invalid(why)) => {
            let message = format!("Choose another password: {why}.");
            return again(&state, head, &form.token, &message).await;
        }
        Err(e) => {
            log_internal(&e.into());
            return again(
                &state,
                head,
                &form.token,
                "Something went wrong. Try again.",
            )
            .await;
        }
    };
    let token = Secret::presented(form.token.trim()).hash();
    match state.store.redeem_password_link(&token, &hash, state.now()).await {
        Ok(Some(user)) => {
            let event =
                AuditEvent::new(EventType::PasswordChanged, Outcome::Success, ActorKind::User)
                    .user(Some(user.as_str()))
                    .with("via", "password_link")
                    .context(&caller.context);
            if let Err(e) = state.audit.record(event).await {
                log_internal(&e.into());
            }
            Redirect::to(SIGN_IN_PATH).into_response()
        }
        Ok(None) => error_page(
            StatusCode::BAD_REQUEST,
            "This link does not work",
            "It has been used already, has expired, or a newer link replaced it. Ask your administrator for a new one.",
        ),
        Err(e) => {
            log_internal(&e.into());
            again(&state, head, &form.token, "Something went wrong. Try again.").await
        }
    }
}
