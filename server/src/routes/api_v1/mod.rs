//! The admin REST API, `/api/v1`: the console's operations as JSON, for policies-as-code and
//! SIEM pulls. Authenticated with admin API keys (`Authorization: Bearer mdt_ak_…`, created on
//! the console's API keys page); errors are one JSON envelope,
//! `{"error": {"code": "…", "message": "…"}}`, made in [`ApiError`]'s one `IntoResponse`.

mod audit;
mod auth;

use axum::http::{header, HeaderValue, StatusCode};
use axum::response::{IntoResponse, Response};
use axum::routing::get;
use axum::{Json, Router};
use serde_json::json;

use crate::state::AppState;

pub use auth::ApiCaller;

pub fn router() -> Router<AppState> {
    Router::new()
        .route("/api/v1/audit/events", get(audit::events))
        .route("/api/v1/audit/export", get(audit::export))
}

/// Every way an API call can fail.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum ApiError {
    /// No key, or not a live one.
    Unauthorized(&'static str),
    /// A live key that may not do this.
    Forbidden(&'static str),
    /// The request cannot be read; the message says which part.
    BadRequest(String),
    /// Our side failed (the cause is logged, never sent).
    Internal,
}

impl IntoResponse for ApiError {
    fn into_response(self) -> Response {
        let (status, code, message) = match self {
            Self::Unauthorized(m) => (StatusCode::UNAUTHORIZED, "unauthorized", m.to_owned()),
            Self::Forbidden(m) => (StatusCode::FORBIDDEN, "forbidden", m.to_owned()),
            Self::BadRequest(m) => (StatusCode::BAD_REQUEST, "bad_request", m),
            Self::Internal => (
                StatusCode::INTERNAL_SERVER_ERROR,
                "internal",
                "Something went wrong on our side. Try again in a moment.".to_owned(),
            ),
        };
        let mut response = (
            status,
            Json(json!({ "error": { "code": code, "message": message } })),
        )
            .into_response();
        let headers = response.headers_mut();
        headers.insert(header::CACHE_CONTROL, HeaderValue::from_static("no-store"));
        if status == StatusCode::UNAUTHORIZED {
            headers.insert(
                header::WWW_AUTHENTICATE,
                HeaderValue::from_static("Bearer realm=\"mandate-admin-api\""),
            );
        }
        response
    }
}

impl From<mandate_core::CoreError> for ApiError {
    fn from(e: mandate_core::CoreError) -> Self {
        tracing::error!(error = %e, "admin API request failed");
        Self::Internal
    }
}
