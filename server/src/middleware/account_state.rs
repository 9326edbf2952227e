//! Before any session page or form: a session whose person was disabled (or whose sessions an
//! admin ended) is signed out, so a disabled account stops at its next request, not at its
//! next sign-in.

use axum::extract::{Request, State};
use axum::middleware::Next;
use axum::response::Response;
use tower_sessions::Session;

use crate::error::log_internal;
use crate::routes::oauth::journey::drop_revoked_sign_in;
use crate::state::AppState;

pub async fn check(State(state): State<AppState>, request: Request, next: Next) -> Response {
    if let Some(session) = request.extensions().get::<Session>().cloned() {
        if let Err(e) = drop_revoked_sign_in(&state, &session).await {
            // The store failed: the request goes on; the handlers read the store themselves.
            log_internal(&e);
        }
    }
    next.run(request).await
}
