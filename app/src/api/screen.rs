//! What a journey or account page is given to show. The server decides (through
//! `core::journey`) and hands each page a [`Screen`]: the page itself, a redirect to the step
//! that comes next, or an error the person can read. Pages render it and decide nothing.

use serde::{Deserialize, Serialize};

/// The outcome of asking the server for a page.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub enum Screen<T> {
    /// Show the page with these facts.
    Show(T),
    /// Another step comes first: go there (the server also answers with a 302 on a plain
    /// page load).
    Redirect(String),
    /// The request cannot continue; say why.
    Error(ErrorView),
}

/// An error page: its HTTP status, a heading and what the person can do.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct ErrorView {
    pub status: u16,
    pub title: String,
    pub message: String,
    /// Where "Back to the application" leads (an authorization's error redirect), if the
    /// application is waiting for an answer.
    #[serde(default)]
    pub back_to: Option<String>,
}

impl ErrorView {
    pub fn new(status: u16, title: impl Into<String>, message: impl Into<String>) -> Self {
        Self {
            status,
            title: title.into(),
            message: message.into(),
            back_to: None,
        }
    }

    /// The page offers a link back to the waiting application.
    pub fn with_back_to(mut self, url: impl Into<String>) -> Self {
        self.back_to = Some(url.into());
        self
    }
}

/// What a form's answer adds to the page it renders again (a wrong code, the new recovery
/// codes…). The server puts it in the request's extensions before rendering; it never
/// travels in a URL or the session.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct PageNotice {
    pub error: Option<String>,
    pub info: Option<String>,
    /// The email typed into a sign-in form that is shown again.
    pub email: Option<String>,
    /// Recovery codes just generated: shown in this one response only.
    pub recovery_codes: Option<Vec<String>>,
    /// A second factor was just set up during an authorization: offer the way back to it.
    pub offer_continue: bool,
    /// A secret just created (an API key): shown in this one response only.
    pub secret: Option<String>,
    /// A refused form's fields: what is wrong with each.
    pub fields: std::collections::BTreeMap<String, String>,
    /// A refused form as it was sent, to fill it in again.
    pub form: Option<Vec<(String, String)>>,
}

impl PageNotice {
    pub fn error(message: impl Into<String>) -> Self {
        Self {
            error: Some(message.into()),
            ..Self::default()
        }
    }
}

#[cfg(feature = "ssr")]
pub use ssr::*;

#[cfg(feature = "ssr")]
mod ssr {
    use std::future::Future;
    use std::pin::Pin;
    use std::sync::Arc;

    use http::header::CACHE_CONTROL;
    use http::request::Parts;
    use http::{HeaderValue, StatusCode};
    use leptos::prelude::*;
    use leptos_axum::ResponseOptions;

    use super::redirect::redirect;
    use super::Screen;
    use crate::api::account::AccountView;
    use crate::api::auth::{ConsentView, NewPasswordView, SignInView, TenantView, VerifyView};
    use crate::context::UiContext;

    pub type ScreenFuture<'a, T> = Pin<Box<dyn Future<Output = Screen<T>> + Send + 'a>>;

    /// The server's side of the end-user pages: given the request (its session is in the
    /// extensions) and the journey id from the page's URL, what the page shows.
    pub trait Screens: Send + Sync + 'static {
        fn sign_in(&self, request: Parts, journey: Option<String>) -> ScreenFuture<'_, SignInView>;
        fn new_password(
            &self,
            request: Parts,
            journey: Option<String>,
        ) -> ScreenFuture<'_, NewPasswordView>;
        fn verify(&self, request: Parts, journey: Option<String>) -> ScreenFuture<'_, VerifyView>;
        fn tenant(&self, request: Parts, journey: Option<String>) -> ScreenFuture<'_, TenantView>;
        fn consent(&self, request: Parts, journey: Option<String>)
            -> ScreenFuture<'_, ConsentView>;
        fn account(&self, request: Parts, journey: Option<String>)
            -> ScreenFuture<'_, AccountView>;
        /// The console's caller: their admin capability, or sign in first, or an error
        /// (signed in without admin rights).
        fn admin(&self, request: Parts) -> ScreenFuture<'_, mandate_core::access::AdminAccess>;
        /// The session's CSRF token, for a console page's forms.
        fn csrf(&self, request: Parts) -> ScreenFuture<'_, String>;
    }

    /// The screens and the current request, for a server function.
    pub fn screens() -> Result<(Arc<dyn Screens>, Parts), ServerFnError> {
        let ctx = use_context::<UiContext>()
            .ok_or_else(|| ServerFnError::new("the page context is missing"))?;
        let parts =
            use_context::<Parts>().ok_or_else(|| ServerFnError::new("the request is missing"))?;
        Ok((ctx.screens, parts))
    }

    /// Applies a screen to the response: never cached (pages carry CSRF tokens and personal
    /// data), a 302 for a redirect on a plain page load, the error's status for an error.
    pub fn respond<T>(screen: Screen<T>) -> Screen<T> {
        if let Some(response) = use_context::<ResponseOptions>() {
            response.insert_header(CACHE_CONTROL, HeaderValue::from_static("no-store"));
            if let Screen::Error(e) = &screen {
                response.set_status(
                    StatusCode::from_u16(e.status).unwrap_or(StatusCode::INTERNAL_SERVER_ERROR),
                );
            }
        }
        if let Screen::Redirect(to) = &screen {
            redirect(to);
        }
        screen
    }
}

#[cfg(feature = "ssr")]
mod redirect {
    use http::header::LOCATION;
    use http::request::Parts;
    use http::{HeaderValue, StatusCode};
    use leptos::prelude::*;
    use leptos_axum::ResponseOptions;

    /// Where server functions are served: a call from the hydrated page comes in here.
    const SERVER_FN_PREFIX: &str = "/api/";

    /// A page load answers a redirect with a plain 302, whatever the client accepts; a server
    /// function called from the hydrated page gets Leptos's redirect header instead, which the
    /// client router follows.
    pub fn redirect(to: &str) {
        let from_page = use_context::<Parts>()
            .is_some_and(|request| !request.uri.path().starts_with(SERVER_FN_PREFIX));
        match (from_page, use_context::<ResponseOptions>()) {
            (true, Some(response)) => {
                if let Ok(value) = HeaderValue::from_str(to) {
                    response.insert_header(LOCATION, value);
                    response.set_status(StatusCode::FOUND);
                }
            }
            _ => leptos_axum::redirect(to),
        }
    }
}
