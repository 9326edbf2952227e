//! The MCP server page's forms: create (`/admin/mcp-servers/new`), save
//! (`/admin/mcp-servers/{id}`) and delete (`…/delete`, ticked confirmation). A refused form
//! comes back as typed with errors beside its fields; every change is an `admin.changed` event
//! with the server before / after, and drops the cached issuers.

use app::api::admin::mcp_servers::{draft_from_pairs, form_errors};
use app::api::screen::PageNotice;
use axum::body::Bytes;
use axum::extract::{Path, State};
use axum::http::StatusCode;
use axum::response::{IntoResponse, Redirect, Response};
use mandate_core::admin::mcp_servers as servers;
use mandate_core::admin::AdminError;

use super::{changed, field, form_post, record, refused};
use crate::request_context::Caller;
use crate::state::AppState;
use crate::ui::{self, RequestHead};

pub const LIST: &str = "/admin/mcp-servers";

fn page_of(id: &str) -> String {
    format!("{LIST}/{id}")
}

/// Creates (`id` = `new`) or saves a server from the form.
pub async fn save(
    State(state): State<AppState>,
    Path(id): Path<String>,
    head: RequestHead,
    caller: Caller,
    body: Bytes,
) -> Response {
    let (access, form) = match form_post(&state, &head, &body).await {
        Ok(found) => found,
        Err(response) => return response,
    };
    // The page's hook forms post here too (so a refusal renders this page).
    match field(&form, "intent") {
        "hook_add" => return super::hooks::add(&state, head, &caller, &access, &id, form).await,
        "hook_delete" => {
            return super::hooks::delete(&state, head, &caller, &access, &id, form).await
        }
        _ => {}
    }
    let (draft, _, rows) = draft_from_pairs(&form);
    let now = state.now();
    let (outcome, headline) = if id == "new" {
        let created = servers::create(&state.store, &access, &draft, now).await;
        (
            created.map(|after| {
                let event = changed(&access, &caller, "mcp_server.created")
                    .server(after.server.id.as_str())
                    .with("after", &after);
                (after.server.id.to_string(), event)
            }),
            "The server was not created",
        )
    } else {
        let updated = servers::update(&state.store, &access, &id, &draft, now).await;
        (
            updated.map(|(before, after)| {
                let event = changed(&access, &caller, "mcp_server.updated")
                    .server(after.server.id.as_str())
                    .with("before", &before)
                    .with("after", &after);
                (after.server.id.to_string(), event)
            }),
            "The changes were not saved",
        )
    };
    match outcome {
        Ok((saved, event)) => {
            state.caches.forget_servers();
            record(&state, event).await;
            Redirect::to(&page_of(&saved)).into_response()
        }
        Err(AdminError::Invalid(fields)) => {
            let fields = form_errors(fields, &rows);
            refused(
                &state,
                head,
                AdminError::Invalid(fields),
                Some(form),
                headline,
            )
            .await
        }
        Err(e) => refused(&state, head, e, Some(form), headline).await,
    }
}

pub async fn delete(
    State(state): State<AppState>,
    Path(id): Path<String>,
    head: RequestHead,
    caller: Caller,
    body: Bytes,
) -> Response {
    let (access, form) = match form_post(&state, &head, &body).await {
        Ok(found) => found,
        Err(response) => return response,
    };
    if field(&form, "confirm") != "yes" {
        let notice = PageNotice::error("Tick “Yes, delete” to delete the server.");
        return ui::render(&state, head, None, notice, StatusCode::BAD_REQUEST).await;
    }
    match servers::delete(&state.store, &access, &id).await {
        Ok(before) => {
            state.caches.forget_servers();
            let event = changed(&access, &caller, "mcp_server.deleted")
                .server(before.server.id.as_str())
                .with("before", &before);
            record(&state, event).await;
            Redirect::to(LIST).into_response()
        }
        Err(e) => refused(&state, head, e, None, "The server was not deleted").await,
    }
}
