//! The policies page's forms: create (field errors shown beside the fields, what was typed
//! kept) and delete (ticked confirmation). Every change is an `admin.changed` event with the
//! policy before / after.

use app::api::admin::policies::draft_from_pairs;
use app::api::screen::PageNotice;
use axum::body::Bytes;
use axum::extract::State;
use axum::http::StatusCode;
use axum::response::{IntoResponse, Redirect, Response};
use mandate_core::admin::policies;

use super::{changed, field, form_post, refused};
use crate::error::log_internal;
use crate::request_context::Caller;
use crate::state::AppState;
use crate::ui::{self, RequestHead};

pub const PATH: &str = "/admin/policies";

pub async fn create(
    State(state): State<AppState>,
    head: RequestHead,
    caller: Caller,
    body: Bytes,
) -> Response {
    let (access, form) = match form_post(&state, &head, &body).await {
        Ok(found) => found,
        Err(response) => return response,
    };
    let (draft, _) = draft_from_pairs(&form);
    match policies::create(&state.store, &access, &draft, state.now()).await {
        Ok(policy) => {
            state.caches.forget_policies();
            let event = changed(&access, &caller, "policy.created")
                .policies(std::slice::from_ref(&policy.id))
                .with("after", &policy);
            if let Err(e) = state.audit.record(event).await {
                log_internal(&e.into());
            }
            Redirect::to(PATH).into_response()
        }
        Err(e) => refused(&state, head, e, Some(form), "The policy was not created").await,
    }
}

pub async fn delete(
    State(state): State<AppState>,
    head: RequestHead,
    caller: Caller,
    body: Bytes,
) -> Response {
    let (access, form) = match form_post(&state, &head, &body).await {
        Ok(found) => found,
        Err(response) => return response,
    };
    if field(&form, "confirm") != "yes" {
        let notice = PageNotice::error("Tick “Yes, delete” to delete a policy.");
        return ui::render(&state, head, None, notice, StatusCode::BAD_REQUEST).await;
    }
    match policies::delete(&state.store, &access, field(&form, "policy")).await {
        Ok(before) => {
            state.caches.forget_policies();
            let event = changed(&access, &caller, "policy.deleted")
                .policies(std::slice::from_ref(&before.id))
                .with("before", &before);
            if let Err(e) = state.audit.record(event).await {
                log_internal(&e.into());
            }
            Redirect::to(PATH).into_response()
        }
        Err(e) => refused(&state, head, e, None, "The policy was not deleted").await,
    }
}
