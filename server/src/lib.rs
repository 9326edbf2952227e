//! The `mandate` server: configuration, start-up, HTTP endpoints and the Leptos pages.
//! [`app`] builds the whole application so tests can drive it on any listener.

pub mod audit_forward;
pub mod cache;
pub mod cli;
pub mod config;
pub mod config_cli;
pub mod demo_mcp;
pub mod error;
pub mod hooks;
pub mod master_key;
pub mod metrics;
pub mod middleware;
pub mod outbound;
pub mod pages;
pub mod request_context;
pub mod routes;
pub mod sessions;
pub mod sso;
pub mod startup;
pub mod state;
pub mod telemetry;
pub mod ui;
pub mod vault;
pub mod vault_refresh;

use app::{shell, App};
use axum::body::Body;
use axum::extract::Request;
use axum::response::Response;
use axum::Router;
use leptos_axum::{generate_route_list, AxumRouteListing, LeptosRoutes};
use std::convert::Infallible;
use std::sync::OnceLock;
use tower::{Layer, Service};

use crate::middleware::security_headers::SecurityHeaders;
use crate::middleware::unreadable_request::RefuseUnreadableRequests;
use crate::sessions::SessionBackend;
use crate::state::AppState;

/// The Leptos app's routes, walked once per process. Walking them sets a process-wide flag
/// in leptos_server that parks every resource load until the walk ends, so a second walk (a
/// second server in the same process: the integration tests start dozens) would park the
/// pages another server is rendering at that moment, and their responses would never come.
fn page_routes() -> Vec<AxumRouteListing> {
    static ROUTES: OnceLock<Vec<AxumRouteListing>> = OnceLock::new();
    ROUTES.get_or_init(|| generate_route_list(App)).clone()
}

/// The whole HTTP application: the routes, and around them what every request and response
/// gets (request id and log line, security headers, the refusal of an unreadable request).
/// Those wrap the router once instead of being router layers, which axum applies to each route
/// separately: every router layer is one more boxed service that each request clones (with
/// everything beneath it) and calls.
pub fn app(
    state: AppState,
    sessions: &SessionBackend,
) -> impl Service<Request<Body>, Response = Response, Error = Infallible, Future: Send>
       + Clone
       + Send
       + Sync
       + 'static {
    let headers = SecurityHeaders {
        hsts: state.config.is_https(),
    };
    let routes = RefuseUnreadableRequests.layer(router(state, sessions));
    middleware::request_log::wrap(headers.layer(routes))
}

/// The routes, each counted in the metrics.
fn router(state: AppState, sessions: &SessionBackend) -> Router {
    // Installed before the first request, so nothing counted is lost before the first scrape.
    let _ = metrics::handle();
    let page_context = ui::page_context(&state);
    let leptos_options = state.leptos.clone();
    let pages = Router::new()
        .leptos_routes_with_context(&state, page_routes(), page_context.clone(), move || {
            shell(leptos_options.clone())
        })
        .fallback(leptos_axum::file_and_error_handler_with_context::<
            AppState,
            _,
        >(page_context, shell))
        .layer(axum::middleware::from_fn_with_state(
            state.clone(),
            middleware::account_state::check,
        ))
        .layer(sessions.layer(state.config.is_https()));

    let journey_pages = routes::oauth::page_router()
        .merge(routes::admin::router())
        .merge(routes::set_password::router())
        .layer(axum::middleware::from_fn_with_state(
            state.clone(),
            middleware::account_state::check,
        ))
        .layer(sessions.layer(state.config.is_https()));
    Router::new()
        .merge(routes::health::router())
        .merge(routes::oauth::api_router())
        .merge(routes::api_v1::router())
        .merge(journey_pages)
        .merge(pages)
        .with_state(state)
        .layer(metrics::Track)
}
