//! Error pages for requests that cannot continue, rendered by the UI's `ErrorPanel` as a
//! complete static document (no scripts: the CSP allows none).

use app::api::screen::ErrorView;
use axum::http::{header, HeaderValue, StatusCode};
use axum::response::{IntoResponse, Response};

/// CSP for an error page: styles and images from this origin, nothing else, no framing.
const ERROR_PAGE_CSP: &str =
    "default-src 'none'; style-src 'self'; img-src 'self'; base-uri 'none'; form-action 'none'; frame-ancestors 'none'";

/// An error page: what went wrong and what the person can do.
pub fn error_page(status: StatusCode, title: &str, message: &str) -> Response {
    error_view_page(status, ErrorView::new(status.as_u16(), title, message))
}

/// [`error_page`] for a prepared view (one with a link back to the application, say).
pub fn error_view_page(status: StatusCode, view: ErrorView) -> Response {
    let html = app::pages::auth::error::error_document(view);
    let mut response = (
        status,
        [(header::CONTENT_TYPE, "text/html; charset=utf-8")],
        html,
    )
        .into_response();
    let headers = response.headers_mut();
    headers.insert(
        header::CONTENT_SECURITY_POLICY,
        HeaderValue::from_static(ERROR_PAGE_CSP),
    );
    headers.insert(header::CACHE_CONTROL, HeaderValue::from_static("no-store"));
    response
}
