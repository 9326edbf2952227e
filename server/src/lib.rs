//! The `mandate` server: configuration, start-up, HTTP endpoints and the Leptos pages.
//! [`router`] builds the whole application so tests can drive it on any listener.

pub mod cache;
pub mod cli;
pub mod config;
pub mod error;
pub mod master_key;
pub mod middleware;
pub mod outbound;
pub mod pages;
pub mod request_context;
pub mod routes;
pub mod sessions;
pub mod startup;
pub mod state;
pub mod telemetry;

use app::context::UiContext;
use app::{shell, App};
use axum::Router;
use http::header::CONTENT_SECURITY_POLICY;
use http::HeaderValue;
use leptos::prelude::*;
use leptos_axum::{generate_route_list, LeptosRoutes, ResponseOptions};

use crate::middleware::security_headers::{self, page_csp, SecurityHeaders};
use crate::sessions::SessionBackend;
use crate::state::AppState;

/// The whole HTTP application.
pub fn router(state: AppState, sessions: &SessionBackend) -> Router {
    let ui = UiContext {
        store: state.store.clone(),
        public_url: state.config.public_url.clone(),
    };
    // Runs inside every page render and server-function call.
    let page_context = move || {
        provide_context(ui.clone());
        if let (Some(nonce), Some(response)) = (use_nonce(), use_context::<ResponseOptions>()) {
            if let Ok(value) = HeaderValue::from_str(&page_csp(nonce.as_inner())) {
                response.insert_header(CONTENT_SECURITY_POLICY, value);
            }
        }
    };
    let leptos_options = state.leptos.clone();
    let pages = Router::new()
        .leptos_routes_with_context(
            &state,
            generate_route_list(App),
            page_context.clone(),
            move || shell(leptos_options.clone()),
        )
        .fallback(leptos_axum::file_and_error_handler_with_context::<
            AppState,
            _,
        >(page_context, shell))
        .layer(sessions.layer(state.config.is_https()));

    let headers = SecurityHeaders {
        hsts: state.config.is_https(),
    };
    let journey_pages = routes::oauth::page_router().layer(sessions.layer(state.config.is_https()));
    let app = Router::new()
        .merge(routes::health::router())
        .merge(routes::oauth::api_router())
        .merge(journey_pages)
        .merge(pages)
        .with_state(state)
        .layer(axum::middleware::from_fn_with_state(
            headers,
            security_headers::apply,
        ));
    middleware::request_log::layer(app)
}
