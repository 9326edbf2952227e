//! The admin REST API, `/api/v1`: the console's operations as JSON, for policies-as-code and
//! SIEM pulls. Authenticated with admin API keys (`Authorization: Bearer mdt_ak_…`, created on
//! the console's API keys page); errors are one JSON envelope,
//! `{"error": {"code": "…", "message": "…"}}`, made in [`ApiError`]'s one `IntoResponse`.

mod agents;
mod audit;
mod auth;
pub mod bodies;
mod connections;
mod hooks;
mod mcp_servers;
pub mod openapi;
mod people;
mod policies;
mod sso;

use axum::http::{header, HeaderValue, StatusCode};
use axum::response::{IntoResponse, Response};
use axum::routing::get;
use axum::{Json, Router};

use crate::state::AppState;

pub use auth::ApiCaller;

pub fn router() -> Router<AppState> {
    Router::new()
        .route("/api/v1/openapi.json", get(openapi::document))
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
        .route(
            "/api/v1/mcp-servers",
            get(mcp_servers::list).post(mcp_servers::create),
        )
        .route(
            "/api/v1/mcp-servers/{id}",
            get(mcp_servers::read)
                .put(mcp_servers::update)
                .delete(mcp_servers::delete),
        )
        .route(
            "/api/v1/mcp-servers/{id}/hooks",
            get(hooks::list).post(hooks::create),
        )
        .route(
            "/api/v1/mcp-servers/{id}/hooks/{hook}",
            axum::routing::delete(hooks::delete),
        )
        .route(
            "/api/v1/connection-providers",
            get(connections::list_providers).post(connections::create_provider),
        )
        .route(
            "/api/v1/connection-providers/{id}",
            get(connections::read_provider)
                .put(connections::update_provider)
                .delete(connections::delete_provider),
        )
        .route(
            "/api/v1/connection-providers/{id}/connections/{owner_kind}/{owner_id}",
            axum::routing::put(connections::put_shared).delete(connections::delete_shared),
        )
        .route(
            "/api/v1/connection-policies",
            get(connections::list_policies).post(connections::create_policy),
        )
        .route(
            "/api/v1/connection-policies/{id}",
            axum::routing::put(connections::update_policy).delete(connections::delete_policy),
        )
        .route(
            "/api/v1/agents/{id}/connections",
            get(connections::read_agent).put(connections::put_agent),
        )
        .route("/api/v1/agents", get(agents::list).post(agents::create))
        .route(
            "/api/v1/agents/{id}",
            get(agents::read)
                .patch(agents::update)
                .delete(agents::delete),
        )
        .route(
            "/api/v1/agents/{id}/secret",
            axum::routing::post(agents::rotate_secret),
        )
        .route(
            "/api/v1/tenants",
            get(people::list_tenants).post(people::create_tenant),
        )
        .route(
            "/api/v1/tenants/{id}",
            get(people::read_tenant).put(people::update_tenant),
        )
        .route(
            "/api/v1/tenants/{id}/sso",
            get(sso::read).put(sso::put).delete(sso::remove),
        )
        .route(
            "/api/v1/tenants/{id}/approvals",
            get(people::approvals).put(people::decide),
        )
        .route(
            "/api/v1/users",
            get(people::list_users).post(people::invite),
        )
        .route(
            "/api/v1/users/{id}",
            get(people::read_user).patch(people::update_user),
        )
        .route(
            "/api/v1/users/{id}/password-link",
            axum::routing::post(people::password_link),
        )
        .route(
            "/api/v1/users/{id}/reset-mfa",
            axum::routing::post(people::reset_mfa),
        )
        .route(
            "/api/v1/users/{id}/memberships",
            axum::routing::put(people::set_membership),
        )
        .route(
            "/api/v1/users/{id}/memberships/{tenant}",
            axum::routing::delete(people::remove_membership),
        )
}

/// An `admin.changed` event made with an API key (the key's creator is the user).
fn changed(
    api: &ApiCaller,
    caller: &crate::request_context::Caller,
    action: &str,
) -> mandate_core::audit::AuditEvent {
    use mandate_core::audit::{ActorKind, AuditEvent, EventType, Outcome};
    let mut event = AuditEvent::new(EventType::AdminChanged, Outcome::Success, ActorKind::ApiKey)
        .user(Some(api.key.created_by.as_str()))
        .with("action", action)
        .with("api_key", &api.key.id)
        .context(&caller.context);
    event.actor_id = Some(api.key.id.clone());
    event
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
        let body = bodies::ErrorEnvelope {
            error: bodies::ErrorBody {
                code,
                message,
                fields,
            },
        };
        let mut response = (status, Json(body)).into_response();
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

/// The `limit` query parameter of a list: `default` when absent, else a number from 1 to
/// `max`, or a `bad_request`.
fn limit_param(
    params: &std::collections::HashMap<String, String>,
    default: i64,
    max: i64,
) -> Result<i64, ApiError> {
    match params.get("limit") {
        Some(v) => v
            .parse::<i64>()
            .ok()
            .filter(|n| (1..=max).contains(n))
            .ok_or_else(|| ApiError::BadRequest(format!("limit is a number from 1 to {max}."))),
        None => Ok(default),
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
        let Json(value) = Json::<serde_json::Value>::from_request(request, state)
            .await
            .map_err(|rejection| {
                ApiError::BadRequest(format!(
                    "The body is not the expected JSON: {}",
                    rejection.body_text()
                ))
            })?;
        if mandate_core::text::json_holds_nul(&value) {
            return Err(ApiError::BadRequest(
                "Text in the body must not contain NUL characters.".into(),
            ));
        }
        serde_path_to_error::deserialize(value)
            .map(Self)
            .map_err(|e| ApiError::BadRequest(format!("The body is not the expected JSON: {e}")))
    }
}

impl From<mandate_core::CoreError> for ApiError {
    fn from(e: mandate_core::CoreError) -> Self {
        tracing::error!(error = %e, "admin API request failed");
        Self::Internal
    }
}
