//! The console's HTTP side that is not a Leptos page: who the console's caller is, the audit
//! export downloads and the live tail's event stream.

pub mod api_keys;
pub(crate) mod export;
mod live;
pub mod policies;

use app::api::screen::{ErrorView, Screen};
use axum::http::request::Parts;
use axum::http::StatusCode;
use axum::response::{IntoResponse, Redirect, Response};
use axum::routing::get;
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
        .route(policies::PATH, axum::routing::post(policies::create))
        .route(
            "/admin/policies/delete",
            axum::routing::post(policies::delete),
        )
        .route(
            "/admin/api-keys/revoke",
            axum::routing::post(api_keys::revoke),
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

/// A filter the export or the tail cannot apply.
fn bad_filter(message: &str) -> Response {
    error_page(
        StatusCode::BAD_REQUEST,
        "These filters cannot be applied",
        message,
    )
}
