//! The server page's hook forms (`intent` `hook_add` / `hook_delete`, posted to the server's
//! page): a new hook's signing key is shown once in the page this answers with; a refused
//! form comes back as typed. Every change is an `admin.changed` event (never with the key).

use app::api::admin::mcp_servers::hook_draft_from_pairs;
use app::api::screen::PageNotice;
use axum::http::StatusCode;
use axum::response::{IntoResponse, Redirect, Response};
use mandate_core::access::AdminAccess;
use mandate_core::admin::hooks;

use super::{changed, field, prefixed, record, refused};
use crate::request_context::Caller;
use crate::state::AppState;
use crate::ui::{self, RequestHead};

/// Adds a hook to server `id` from the form.
pub async fn add(
    state: &AppState,
    head: RequestHead,
    caller: &Caller,
    access: &AdminAccess,
    id: &str,
    form: Vec<(String, String)>,
) -> Response {
    let draft = hook_draft_from_pairs(&form);
    let created = hooks::create(
        &state.store,
        access,
        &state.master_key,
        id,
        &draft,
        state.now(),
    )
    .await;
    match created {
        Ok(created) => {
            let event = changed(access, caller, "hook.created")
                .server(created.hook.mcp_server_id.as_str())
                .with("after", &created.hook);
            record(state, event).await;
            let notice = PageNotice {
                info: Some(format!("Hook “{}” added.", created.hook.name)),
                secret: Some(created.secret),
                ..PageNotice::default()
            };
            ui::render(state, head, None, notice, StatusCode::CREATED).await
        }
        Err(e) => {
            let e = prefixed(e, "hook_");
            refused(state, head, e, Some(form), "The hook was not added").await
        }
    }
}

/// Deletes the hook the form names from server `id`.
pub async fn delete(
    state: &AppState,
    head: RequestHead,
    caller: &Caller,
    access: &AdminAccess,
    id: &str,
    form: Vec<(String, String)>,
) -> Response {
    match hooks::delete(&state.store, access, id, field(&form, "hook")).await {
        Ok(before) => {
            let event = changed(access, caller, "hook.deleted")
                .server(before.mcp_server_id.as_str())
                .with("before", &before);
            record(state, event).await;
            Redirect::to(&format!("/admin/mcp-servers/{id}")).into_response()
        }
        Err(e) => refused(state, head, e, None, "The hook was not deleted").await,
    }
}
