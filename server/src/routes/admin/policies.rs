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
use mandate_core::admin::AdminError;

use super::{changed, form_admin};
use crate::error::log_internal;
use crate::request_context::Caller;
use crate::state::AppState;
use crate::ui::{self, RequestHead};

pub const PATH: &str = "/admin/policies";

fn pairs(body: &Bytes) -> Vec<(String, String)> {
    url::form_urlencoded::parse(body).into_owned().collect()
}

fn field<'a>(pairs: &'a [(String, String)], name: &str) -> &'a str {
    pairs
        .iter()
        .find(|(k, _)| k == name)
        .map_or("", |(_, v)| v.as_str())
}

async fn refused(
    state: &AppState,
    head: RequestHead,
    e: AdminError,
    form: Vec<(String, String)>,
) -> Response {
    let (notice, status) = match e {
        AdminError::Invalid(fields) => (
            PageNotice {
                error: Some("The policy was not created: see the fields below.".into()),
                fields,
                form: Some(form),
                ..PageNotice::default()
            },
            StatusCode::UNPROCESSABLE_ENTITY,
        ),
        AdminError::Forbidden(m) => (PageNotice::error(m), StatusCode::FORBIDDEN),
        AdminError::NotFound(m) => (PageNotice::error(m), StatusCode::NOT_FOUND),
        AdminError::Store(e) => {
            log_internal(&e.into());
            (
                PageNotice::error("Something went wrong on our side. Try again in a moment."),
                StatusCode::INTERNAL_SERVER_ERROR,
            )
        }
    };
    ui::render(state, head, None, notice, status).await
}

pub async fn create(
    State(state): State<AppState>,
    head: RequestHead,
    caller: Caller,
    body: Bytes,
) -> Response {
    let form = pairs(&body);
    let access = match form_admin(&state, &head, field(&form, "csrf")).await {
        Ok(access) => access,
        Err(response) => return response,
    };
    let (draft, _) = draft_from_pairs(&form);
    match policies::create(&state.store, &access, &draft, state.now()).await {
        Ok(policy) => {
            let event = changed(&access, &caller, "policy.created")
                .policies(std::slice::from_ref(&policy.id))
                .with("after", &policy);
            if let Err(e) = state.audit.record(event).await {
                log_internal(&e.into());
            }
            Redirect::to(PATH).into_response()
        }
        Err(e) => refused(&state, head, e, form).await,
    }
}

pub async fn delete(
    State(state): State<AppState>,
    head: RequestHead,
    caller: Caller,
    body: Bytes,
) -> Response {
    let form = pairs(&body);
    let access = match form_admin(&state, &head, field(&form, "csrf")).await {
        Ok(access) => access,
        Err(response) => return response,
    };
    if field(&form, "confirm") != "yes" {
        let notice = PageNotice::error("Tick “Yes, delete” to delete a policy.");
        return ui::render(&state, head, None, notice, StatusCode::BAD_REQUEST).await;
    }
    match policies::delete(&state.store, &access, field(&form, "policy")).await {
        Ok(before) => {
            let event = changed(&access, &caller, "policy.deleted")
                .policies(std::slice::from_ref(&before.id))
                .with("before", &before);
            if let Err(e) = state.audit.record(event).await {
                log_internal(&e.into());
            }
            Redirect::to(PATH).into_response()
        }
        Err(e) => refused(&state, head, e, Vec::new()).await,
    }
}
