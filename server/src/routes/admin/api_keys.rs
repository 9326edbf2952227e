//! The API keys page's forms: create (the key is shown once, in the page this answers with)
//! and revoke (needs the ticked confirmation). A key acts with its creator's admin rights; a
//! tenant admin sees and revokes only their own keys. Every change is an `admin.changed` event.

use app::api::screen::PageNotice;
use axum::extract::State;
use axum::http::StatusCode;
use axum::response::{IntoResponse, Redirect, Response};
use mandate_core::store::api_keys::ApiKeyScope;
use serde::Deserialize;

use super::{changed, form_admin};
use crate::error::log_internal;
use crate::request_context::Caller;
use crate::state::AppState;
use crate::ui::{self, PageForm, RequestHead};

pub const PATH: &str = "/admin/api-keys";

#[derive(Deserialize)]
pub struct CreateForm {
    csrf: String,
    name: String,
    scope: String,
}

#[derive(Deserialize)]
pub struct RevokeForm {
    csrf: String,
    key: String,
    #[serde(default)]
    confirm: Option<String>,
}

pub async fn create(
    State(state): State<AppState>,
    head: RequestHead,
    caller: Caller,
    PageForm(form): PageForm<CreateForm>,
) -> Response {
    let access = match form_admin(&state, &head, &form.csrf).await {
        Ok(access) => access,
        Err(response) => return response,
    };
    let name = form.name.trim();
    let checked = if name.is_empty() || name.chars().count() > 80 {
        Err("Give the key a name of 1 to 80 characters.")
    } else {
        ApiKeyScope::from_name(&form.scope).ok_or("Access is read or full.")
    };
    let scope = match checked {
        Ok(scope) => scope,
        Err(message) => {
            let notice = PageNotice::error(message);
            return ui::render(&state, head, None, notice, StatusCode::BAD_REQUEST).await;
        }
    };
    let created = state
        .store
        .create_api_key(name, scope, access.user(), state.now())
        .await;
    let (key, secret) = match created {
        Ok(created) => created,
        Err(e) => {
            log_internal(&e.into());
            let notice = PageNotice::error("The key could not be created. Try again.");
            return ui::render(
                &state,
                head,
                None,
                notice,
                StatusCode::INTERNAL_SERVER_ERROR,
            )
            .await;
        }
    };
    let event = changed(&access, &caller, "api_key.created")
        .with("api_key", &key.id)
        .with(
            "after",
            serde_json::json!({ "name": key.name, "scope": scope.as_str(), "hint": key.hint }),
        );
    if let Err(e) = state.audit.record(event).await {
        // Not recorded: not handed out either.
        log_internal(&e.into());
        let _ = state.store.revoke_api_key(&key.id, state.now()).await;
        let notice = PageNotice::error("The key could not be created. Try again.");
        return ui::render(&state, head, None, notice, StatusCode::SERVICE_UNAVAILABLE).await;
    }
    let notice = PageNotice {
        info: Some(format!("Key “{}” created.", key.name)),
        secret: Some(secret.expose().to_owned()),
        ..PageNotice::default()
    };
    ui::render(&state, head, None, notice, StatusCode::CREATED).await
}

pub async fn revoke(
    State(state): State<AppState>,
    head: RequestHead,
    caller: Caller,
    PageForm(form): PageForm<RevokeForm>,
) -> Response {
    let access = match form_admin(&state, &head, &form.csrf).await {
        Ok(access) => access,
        Err(response) => return response,
    };
    if form.confirm.as_deref() != Some("yes") {
        let notice = PageNotice::error("Tick “Yes, revoke” to revoke a key.");
        return ui::render(&state, head, None, notice, StatusCode::BAD_REQUEST).await;
    }
    // A tenant admin revokes their own keys; a project admin any key.
    let owned = match state.store.list_api_keys().await {
        Ok(keys) => keys.iter().any(|k| {
            k.id == form.key && (access.is_project_admin() || &k.created_by == access.user())
        }),
        Err(e) => {
            log_internal(&e.into());
            false
        }
    };
    if !owned {
        let notice = PageNotice::error("No active key of yours has that id.");
        return ui::render(&state, head, None, notice, StatusCode::NOT_FOUND).await;
    }
    match state.store.revoke_api_key(&form.key, state.now()).await {
        Ok(true) => {
            let event = changed(&access, &caller, "api_key.revoked")
                .with("api_key", &form.key)
                .with("before", serde_json::json!({ "revoked": false }))
                .with("after", serde_json::json!({ "revoked": true }));
            if let Err(e) = state.audit.record(event).await {
                log_internal(&e.into());
            }
            Redirect::to(PATH).into_response()
        }
        Ok(false) => {
            let notice = PageNotice::error("No active key has that id.");
            ui::render(&state, head, None, notice, StatusCode::NOT_FOUND).await
        }
        Err(e) => {
            log_internal(&e.into());
            let notice = PageNotice::error("The key could not be revoked. Try again.");
            ui::render(
                &state,
                head,
                None,
                notice,
                StatusCode::INTERNAL_SERVER_ERROR,
            )
            .await
        }
    }
}
