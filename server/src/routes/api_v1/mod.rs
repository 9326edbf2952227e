//! The admin REST API, `/api/v1`: the console's operations as JSON, for policies-as-code and
//! SIEM pulls. Authenticated with admin API keys (`Authorization: Bearer mdt_ak_…`, created on
//! the console's API keys page); errors are one JSON envelope,
//! `{"error": {"code": "…", "message": "…"}}`, made in [`ApiError`]'s one `IntoResponse`.

mod audit;
mod auth;
mod policies;

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
        .route(
            "/api/v1/policies",
            get(policies::list).post(policies::create),
        )
        .route(
            "/api/v1/policies/simulate",
            axum::routing::post(policies::simulate),
        )
        .route(
            "/api/v1/policies/{id}",
            axum::routing::delete(policies::delete),
        )
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
    /// The request was read but some fields are wrong: the message for each.
    Validation(mandate_core::policy::draft::FieldErrors),
    /// Nothing with that id.
    NotFound(&'static str),
    /// Our side failed (the cause is logged, never sent).
    Internal,
}

impl IntoResponse for ApiError {
    fn into_response(self) -> Response {
        let mut fields = None;
        let (status, code, message) = match self {
            Self::Unauthorized(m) => (StatusCode::UNAUTHORIZED, "unauthorized", m.to_owned()),
            Self::Forbidden(m) => (StatusCode::FORBIDDEN, "forbidden", m.to_owned()),
            Self::BadRequest(m) => (StatusCode::BAD_REQUEST, "bad_request", m),
            Self::NotFound(m) => (StatusCode::NOT_FOUND, "not_found", m.to_owned()),
            Self::Validation(errors) => {
                fields = Some(errors);
                (
                    StatusCode::BAD_REQUEST,
                    "validation_failed",
                    "Some fields are not valid: see `fields`.".to_owned(),
                )
            }
            Self::Internal => (
                StatusCode::INTERNAL_SERVER_ERROR,
                "internal",
                "Something went wrong on our side. Try again in a moment.".to_owned(),
            ),
        };
        let mut error = json!({ "code": code, "message": message });
        if let Some(fields) = fields {
            error["fields"] = json!(fields);
        }
        let mut response = (status, Json(json!({ "error": error }))).into_response();
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

impl From<mandate_core::admin::AdminError> for ApiError {
    fn from(e: mandate_core::admin::AdminError) -> Self {
        use mandate_core::admin::AdminError;
        match e {
            AdminError::Forbidden(m) => Self::Forbidden(m),
            AdminError::NotFound(m) => Self::NotFound(m),
            AdminError::Invalid(fields) => Self::Validation(fields),
            AdminError::Store(e) => e.into(),
        }
    }
}

/// A JSON body, or a `bad_request` in the API's envelope (axum's own rejection is plain text).
pub struct ApiJson<T>(pub T);

impl<T, S> axum::extract::FromRequest<S> for ApiJson<T>
where
    T: serde::de::DeserializeOwned,
    S: Send + Sync,
{
    type Rejection = ApiError;

    async fn from_request(request: axum::extract::Request, state: &S) -> Result<Self, ApiError> {
        match Json::<T>::from_request(request, state).await {
            Ok(Json(value)) => Ok(Self(value)),
            Err(rejection) => Err(ApiError::BadRequest(format!(
                "The body is not the expected JSON: {}",
                rejection.body_text()
            ))),
        }
    }
}

impl From<mandate_core::CoreError> for ApiError {
    fn from(e: mandate_core::CoreError) -> Self {
        tracing::error!(error = %e, "admin API request failed");
        Self::Internal
    }
}
