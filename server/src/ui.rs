//! The server's side of the Leptos pages: the context every render and server function gets,
//! the [`Screens`] the end-user pages ask for their facts, and rendering a page as the answer
//! to a form (a wrong password, new recovery codes) with what the form's handler adds.

use std::sync::Arc;

use app::api::account::AccountView;
use app::api::auth::{ConsentView, NewPasswordView, SignInView, TenantView, VerifyView};
use app::api::screen::{ErrorView, PageNotice, Screen, ScreenFuture, Screens};
use app::context::UiContext;
use app::shell;
use axum::body::Body;
use axum::extract::{FromRequestParts, Request};
use axum::http::request::Parts;
use axum::http::{Method, StatusCode};
use axum::response::Response;
use leptos::prelude::*;
use mandate_core::access::AdminAccess;
use mandate_core::oauth::{ErrorCode, OAuthError};
use tower_sessions::Session;

use crate::error::log_internal;
use crate::middleware::security_headers::PageNonce;
use crate::pages::error_page;
use crate::routes::account;
use crate::routes::oauth::journey::{self, step_url};
use crate::state::AppState;

/// Runs inside every page render and server-function call: the UI context, and the nonce the
/// page's scripts carry, left for the security-headers middleware to put in the page CSP.
pub fn page_context(state: &AppState) -> impl Fn() + Clone + Send + Sync + 'static {
    let ui = UiContext {
        store: state.store.clone(),
        public_url: state.config.public_url.clone(),
        screens: Arc::new(ServerScreens {
            state: state.clone(),
        }),
    };
    move || {
        provide_context(ui.clone());
        let slot = use_context::<Parts>().and_then(|p| p.extensions.get::<PageNonce>().cloned());
        if let (Some(nonce), Some(slot)) = (use_nonce(), slot) {
            slot.set(nonce.as_inner());
        }
    }
}

/// The request's head, kept by a form handler so it can render the page in answer.
pub struct RequestHead(pub Parts);

impl<S: Send + Sync> FromRequestParts<S> for RequestHead {
    type Rejection = std::convert::Infallible;

    async fn from_request_parts(parts: &mut Parts, _: &S) -> Result<Self, Self::Rejection> {
        Ok(Self(parts.clone()))
    }
}

/// A form's fields, or a readable error page when the body cannot be read as the form (a
/// hand-made or truncated post; the pages always send every field).
pub struct PageForm<T>(pub T);

impl<T, S> axum::extract::FromRequest<S> for PageForm<T>
where
    T: serde::de::DeserializeOwned,
    S: Send + Sync,
{
    type Rejection = Response;

    async fn from_request(request: Request, state: &S) -> Result<Self, Response> {
        match axum::Form::<T>::from_request(request, state).await {
            Ok(axum::Form(fields)) => Ok(Self(fields)),
            Err(rejection) => {
                tracing::debug!(%rejection, "unreadable form");
                Err(error_page(
                    StatusCode::BAD_REQUEST,
                    "This form cannot be read",
                    "Some of its fields are missing or not valid. Go back to the page and send it again.",
                ))
            }
        }
    }
}

/// Renders the page at the request's path, as its GET would, for the form's `journey`, plus
/// `notice`, with `status`.
pub async fn render(
    state: &AppState,
    RequestHead(mut head): RequestHead,
    journey: Option<&str>,
    notice: PageNotice,
    status: StatusCode,
) -> Response {
    head.method = Method::GET;
    // The page reads its journey from the query, as it does on a GET.
    match step_url(head.uri.path(), journey.filter(|j| !j.is_empty())).parse() {
        Ok(uri) => head.uri = uri,
        Err(_) => {
            return error_page(
                StatusCode::BAD_REQUEST,
                "This request cannot continue",
                "The address of this form is not valid.",
            )
        }
    }
    head.extensions.insert(notice);
    let options = state.leptos.clone();
    let handler = leptos_axum::render_app_async_with_context(page_context(state), move || {
        shell(options.clone())
    });
    let mut response = handler(Request::from_parts(head, Body::empty())).await;
    if response.status().is_success() {
        *response.status_mut() = status;
    }
    response
}

/// The session the session layer put in the request.
pub fn session_of(request: &Parts) -> Result<Session, OAuthError> {
    request
        .extensions
        .get::<Session>()
        .cloned()
        .ok_or_else(|| OAuthError::server_error("no session layer on this route"))
}

/// What a form's handler added to the page it renders.
pub fn notice_of(request: &Parts) -> PageNotice {
    request
        .extensions
        .get::<PageNotice>()
        .cloned()
        .unwrap_or_default()
}

/// An error as a screen (the cause logged once, never shown).
pub fn error_screen<T>(e: OAuthError) -> Screen<T> {
    log_internal(&e);
    let status = if e.code == ErrorCode::ServerError {
        StatusCode::INTERNAL_SERVER_ERROR
    } else {
        StatusCode::BAD_REQUEST
    };
    let message = if e.code == ErrorCode::ServerError {
        "Something went wrong on our side. Try again in a moment.".to_owned()
    } else {
        e.description
    };
    Screen::Error(ErrorView::new(
        status.as_u16(),
        "This request cannot continue",
        message,
    ))
}

/// Collapses a screen built with `?` into one.
pub fn screen_of<T>(result: Result<Screen<T>, OAuthError>) -> Screen<T> {
    result.unwrap_or_else(error_screen)
}

struct ServerScreens {
    state: AppState,
}

impl Screens for ServerScreens {
    fn sign_in(&self, request: Parts, journey: Option<String>) -> ScreenFuture<'_, SignInView> {
        Box::pin(journey::sign_in_screen(&self.state, request, journey))
    }

    fn new_password(
        &self,
        request: Parts,
        journey: Option<String>,
    ) -> ScreenFuture<'_, NewPasswordView> {
        Box::pin(journey::new_password_screen(request, journey))
    }

    fn verify(&self, request: Parts, journey: Option<String>) -> ScreenFuture<'_, VerifyView> {
        Box::pin(journey::second_factor_screen(&self.state, request, journey))
    }

    fn tenant(&self, request: Parts, journey: Option<String>) -> ScreenFuture<'_, TenantView> {
        Box::pin(journey::tenant_screen(&self.state, request, journey))
    }

    fn consent(&self, request: Parts, journey: Option<String>) -> ScreenFuture<'_, ConsentView> {
        Box::pin(journey::consent_screen(&self.state, request, journey))
    }

    fn account(&self, request: Parts, journey: Option<String>) -> ScreenFuture<'_, AccountView> {
        Box::pin(account::account_screen(&self.state, request, journey))
    }

    fn admin(&self, request: Parts) -> ScreenFuture<'_, AdminAccess> {
        Box::pin(async move { crate::routes::admin::admin_screen(&self.state, &request).await })
    }

    fn csrf(&self, request: Parts) -> ScreenFuture<'_, String> {
        Box::pin(async move {
            screen_of(
                async {
                    let session = session_of(&request)?;
                    journey::JourneySession(session)
                        .ensure_csrf()
                        .await
                        .map(Screen::Show)
                }
                .await,
            )
        })
    }
}
