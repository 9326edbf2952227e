//! The console's HTTP side that is not a Leptos page: who the console's caller is, the audit
//! export downloads and the live tail's event stream.

mod agents;
pub mod api_keys;
mod connections;
pub(crate) mod export;
mod hooks;
mod live;
mod mcp_servers;
mod people;
pub mod policies;
mod sso;

use app::api::screen::{ErrorView, Screen};
use axum::http::request::Parts;
use axum::http::StatusCode;
use axum::response::{IntoResponse, Redirect, Response};
use axum::routing::{get, post};
use axum::Router;
use mandate_core::access::{admin_access, AdminAccess};
use mandate_core::ids::UserId;

use crate::pages::error_page;
use crate::routes::oauth::journey::{signed_in_user, SIGN_IN_PATH};
use crate::state::AppState;
use crate::ui::{error_screen, session_of};

/// The console's routes that are not pages (they need the session layer).
pub fn router() -> Router<AppState> {
    Router::new()
        .route("/admin/audit/export", get(export::export))
        .route("/admin/audit/live", get(live::live))
        .route(api_keys::PATH, axum::routing::post(api_keys::create))
        .route(connections::PATH, post(connections::post))
        .route(policies::PATH, axum::routing::post(policies::create))
        .route(
            "/admin/policies/delete",
            axum::routing::post(policies::delete),
        )
        .route(
            "/admin/api-keys/revoke",
            axum::routing::post(api_keys::revoke),
        )
        .route("/admin/mcp-servers/{id}", post(mcp_servers::save))
        .route("/admin/mcp-servers/{id}/delete", post(mcp_servers::delete))
        .route(agents::LIST, post(agents::create))
        .route("/admin/agents/{id}", post(agents::labels))
        .route("/admin/agents/{id}/allowances", post(agents::allowances))
        .route("/admin/agents/{id}/connections", post(agents::vault))
        .route("/admin/agents/{id}/disable", post(agents::disable))
        .route("/admin/agents/{id}/secret", post(agents::rotate_secret))
        .route("/admin/agents/{id}/delete", post(agents::delete))
        .route("/admin/tenants", post(people::create_tenant))
        .route("/admin/tenants/{slug}", post(people::update_tenant))
        .route("/admin/tenants/{slug}/approvals", post(people::decide))
        .route("/admin/users", post(people::invite))
        .route("/admin/users/{id}/{action}", post(people::account_action))
        .route(
            "/admin/users/{id}/memberships/remove",
            post(people::remove_membership),
        )
}

/// The signed-in person's admin capability; sign in first, or a 403 page for someone
/// without admin rights.
pub async fn admin_screen(state: &AppState, request: &Parts) -> Screen<AdminAccess> {
    let session = match session_of(request) {
        Ok(session) => session,
        Err(e) => return error_screen(e),
    };
    let Some(user) = signed_in_user(&session).await else {
        return Screen::Redirect(SIGN_IN_PATH.to_owned());
    };
    match admin_access(&state.store, &UserId::from_string(user.user_id)).await {
        Ok(Some(access)) => Screen::Show(access),
        Ok(None) => Screen::Error(ErrorView::new(
            403,
            "This page is for administrators",
            "Your account has no admin rights in Mandate. A project admin can give you some.",
        )),
        Err(e) => error_screen(e.into()),
    }
}

/// [`admin_screen`] for a plain HTTP route: the capability, or the response to send instead.
async fn admin_or_response(state: &AppState, request: &Parts) -> Result<AdminAccess, Response> {
    match admin_screen(state, request).await {
        Screen::Show(access) => Ok(access),
        Screen::Redirect(to) => Err(Redirect::to(&to).into_response()),
        Screen::Error(e) => Err(error_page(
            StatusCode::from_u16(e.status).unwrap_or(StatusCode::FORBIDDEN),
            &e.title,
            &e.message,
        )),
    }
}

/// The admin behind a console form whose CSRF token is valid, or the response to send instead.
async fn form_admin(
    state: &AppState,
    head: &crate::ui::RequestHead,
    csrf: &str,
) -> Result<AdminAccess, Response> {
    let access = admin_or_response(state, &head.0).await?;
    let checked = match session_of(&head.0) {
        Ok(session) => {
            crate::routes::oauth::journey::JourneySession(session)
                .check_csrf(csrf)
                .await
        }
        Err(e) => Err(e),
    };
    if checked.is_err() {
        return Err(error_page(
            StatusCode::FORBIDDEN,
            "This form has expired",
            "Open the page again and send the form from there.",
        ));
    }
    Ok(access)
}

/// An `admin.changed` event by the console's admin.
fn changed(
    access: &AdminAccess,
    caller: &crate::request_context::Caller,
    action: &str,
) -> mandate_core::audit::AuditEvent {
    use mandate_core::audit::{ActorKind, AuditEvent, EventType, Outcome};
    AuditEvent::new(EventType::AdminChanged, Outcome::Success, ActorKind::Admin)
        .user(Some(access.user().as_str()))
        .with("action", action)
        .context(&caller.context)
}

/// The audit filter of a viewer address's parameters, narrowed to `access`; or a readable
/// 400 page.
async fn audit_filter(
    state: &AppState,
    access: &AdminAccess,
    params: &std::collections::HashMap<String, String>,
) -> Result<
    (
        app::api::admin::audit::AuditQuery,
        mandate_core::audit::query::AuditFilter,
    ),
    Response,
> {
    use app::api::admin::audit::{filter_of, AuditQuery, FilterError};
    let query = AuditQuery::from_params(|k| params.get(k).cloned());
    match filter_of(&state.store, access, &query).await {
        Ok(Ok(filter)) => Ok((query, filter)),
        Ok(Err(FilterError(message))) => Err(bad_filter(&message)),
        Err(e) => {
            crate::error::log_internal(&e.into());
            Err(bad_filter("The filters could not be read."))
        }
    }
}

/// A filter the export or the tail cannot apply.
fn bad_filter(message: &str) -> Response {
    error_page(
        StatusCode::BAD_REQUEST,
        "These filters cannot be applied",
        message,
    )
}

/// A console form post: its fields (in order) and the admin behind it, once its CSRF token
/// checks out; or the response to send instead.
async fn form_post(
    state: &AppState,
    head: &crate::ui::RequestHead,
    body: &axum::body::Bytes,
) -> Result<(AdminAccess, Vec<(String, String)>), Response> {
    let form = pairs(body);
    let access = form_admin(state, head, field(&form, "csrf")).await?;
    // No console field takes a NUL character (a `%00`), and PostgreSQL's text cannot hold one:
    // a readable refusal instead of a failed write.
    if form
        .iter()
        .any(|(k, v)| k.contains('\0') || v.contains('\0'))
    {
        return Err(error_page(
            StatusCode::BAD_REQUEST,
            "This form cannot be read",
            "Its fields must not contain NUL characters. Go back to the page and send it again.",
        ));
    }
    Ok((access, form))
}

/// A form body's fields, in order (repeated names kept).
fn pairs(body: &axum::body::Bytes) -> Vec<(String, String)> {
    url::form_urlencoded::parse(body).into_owned().collect()
}

/// The first value of field `name`, or "".
fn field<'a>(pairs: &'a [(String, String)], name: &str) -> &'a str {
    pairs
        .iter()
        .find(|(k, _)| k == name)
        .map_or("", |(_, v)| v.as_str())
}

/// The page again, at the form's address, saying why `e` refused it: field errors beside
/// their fields with the form as sent, or the message. `headline` starts the error line
/// ("The policy was not created").
async fn refused(
    state: &AppState,
    head: crate::ui::RequestHead,
    e: mandate_core::admin::AdminError,
    form: Option<Vec<(String, String)>>,
    headline: &str,
) -> Response {
    use app::api::screen::PageNotice;
    use mandate_core::admin::AdminError;
    let (notice, status) = match e {
        AdminError::Invalid(fields) => (
            PageNotice {
                error: Some(format!("{headline}: see the fields below.")),
                fields,
                form,
                ..PageNotice::default()
            },
            StatusCode::UNPROCESSABLE_ENTITY,
        ),
        AdminError::Forbidden(m) => (PageNotice::error(m), StatusCode::FORBIDDEN),
        AdminError::NotFound(m) => (PageNotice::error(m), StatusCode::NOT_FOUND),
        AdminError::Store(e) => {
            crate::error::log_internal(&e.into());
            (
                PageNotice::error("Something went wrong on our side. Try again in a moment."),
                StatusCode::INTERNAL_SERVER_ERROR,
            )
        }
    };
    crate::ui::render(state, head, None, notice, status).await
}

/// `e` with its field errors renamed for a form whose fields carry `prefix` (`hook_url` for
/// core's `url`), for a second form on a page whose first has fields of the same names.
fn prefixed(e: mandate_core::admin::AdminError, prefix: &str) -> mandate_core::admin::AdminError {
    use mandate_core::admin::AdminError;
    match e {
        AdminError::Invalid(fields) => AdminError::Invalid(
            fields
                .into_iter()
                .map(|(k, v)| (format!("{prefix}{k}"), v))
                .collect(),
        ),
        other => other,
    }
}

/// Records a console change; a failure to record is logged (the change is made).
async fn record(state: &AppState, event: mandate_core::audit::AuditEvent) {
    if let Err(e) = state.audit.record(event).await {
        crate::error::log_internal(&e.into());
    }
}
