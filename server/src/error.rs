//! The one place errors become HTTP responses.
//! - Token, revocation, introspection, registration: RFC 6749 §5.2 JSON, `Cache-Control: no-store`;
//!   `invalid_client` is 401 with `WWW-Authenticate` (§5.2).
//! - `/authorize` errors that cannot be redirected: a readable page (see `pages`).
//!
//! Server errors are logged once with their cause; the client sees a generic description.

use axum::http::{header, HeaderValue, StatusCode};
use axum::response::{IntoResponse, Response};
use axum::Json;
use mandate_core::oauth::{ErrorCode, OAuthError};
use serde_json::json;

/// An OAuth error answered as JSON.
pub struct JsonError(pub OAuthError);

impl From<OAuthError> for JsonError {
    fn from(e: OAuthError) -> Self {
        Self(e)
    }
}

impl From<mandate_core::CoreError> for JsonError {
    fn from(e: mandate_core::CoreError) -> Self {
        Self(OAuthError::server_error(e))
    }
}

/// The HTTP status of an OAuth error code.
pub fn status_of(code: ErrorCode) -> StatusCode {
    match code {
        ErrorCode::InvalidClient | ErrorCode::InvalidToken => StatusCode::UNAUTHORIZED,
        ErrorCode::AccessDenied => StatusCode::FORBIDDEN,
        ErrorCode::ServerError => StatusCode::INTERNAL_SERVER_ERROR,
        ErrorCode::TemporarilyUnavailable => StatusCode::SERVICE_UNAVAILABLE,
        _ => StatusCode::BAD_REQUEST,
    }
}

/// Logs a server error's cause once.
pub fn log_internal(e: &OAuthError) {
    if let Some(internal) = &e.internal {
        tracing::error!(error = %internal, code = e.code.as_str(), "request failed");
    }
}

impl IntoResponse for JsonError {
    fn into_response(self) -> Response {
        let e = self.0;
        log_internal(&e);
        let status = status_of(e.code);
        let body = json!({ "error": e.code.as_str(), "error_description": e.description });
        let mut response = (status, Json(body)).into_response();
        let headers = response.headers_mut();
        headers.insert(header::CACHE_CONTROL, HeaderValue::from_static("no-store"));
        headers.insert(header::PRAGMA, HeaderValue::from_static("no-cache"));
        if e.code == ErrorCode::InvalidClient {
            headers.insert(
                header::WWW_AUTHENTICATE,
                HeaderValue::from_static("Basic realm=\"mandate\""),
            );
        }
        if e.code == ErrorCode::InvalidToken {
            headers.insert(
                header::WWW_AUTHENTICATE,
                HeaderValue::from_static("Bearer error=\"invalid_token\""),
            );
        }
        response
    }
}

/// A successful JSON answer that must not be cached (tokens, registrations).
pub fn no_store<T: serde::Serialize>(status: StatusCode, body: &T) -> Response {
    let mut response = (status, Json(body)).into_response();
    response
        .headers_mut()
        .insert(header::CACHE_CONTROL, HeaderValue::from_static("no-store"));
    response
        .headers_mut()
        .insert(header::PRAGMA, HeaderValue::from_static("no-cache"));
    response
}
