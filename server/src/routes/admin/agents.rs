//! The agents pages' forms: create a machine agent (`/admin/agents`: its secret is in the page
//! this answers with, once), and on `/admin/agents/{client id}`: name / tags / trust, allowances,
//! disable or enable, rotate the secret, delete (ticked confirmation). Every change is an
//! `admin.changed` event with the agent before / after (never a secret).

use app::api::admin::agents::{agent_href, allowances_from_pairs};
use app::api::screen::PageNotice;
use axum::body::Bytes;
use axum::extract::{Path, State};
use axum::http::StatusCode;
use axum::response::{IntoResponse, Redirect, Response};
use mandate_core::access::AdminAccess;
use mandate_core::admin::agents::{self, AgentChanges, MachineAgentDraft};
use mandate_core::admin::connections::{set_agent_vault, AgentVault};

use super::{changed, field, form_post, record, refused};
use crate::request_context::Caller;
use crate::state::AppState;
use crate::ui::{self, RequestHead};

pub const LIST: &str = "/admin/agents";

fn tags_of(text: &str) -> Vec<String> {
    text.split(',').map(|t| t.trim().to_owned()).collect()
}

/// The console admin behind a form post and the form's fields, or the response to send.
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
    let draft = MachineAgentDraft {
        name: field(&form, "name").to_owned(),
        tags: tags_of(field(&form, "tags")),
        allowances: allowances_from_pairs(&form),
    };
    let created = agents::create_machine(&state.store, &access, &draft, state.now()).await;
    let (agent, secret) = match created {
        Ok(created) => created,
        Err(e) => return refused(&state, head, e, Some(form), "The agent was not created").await,
    };
    let event = changed(&access, &caller, "agent.created")
        .agent(agent.id.as_str())
        .with("after", &agent);
    if let Err(e) = state.audit.record(event).await {
        // Not recorded: not handed out either.
        crate::error::log_internal(&e.into());
        let _ = state.store.delete_agent(&agent.id).await;
        let notice = PageNotice::error("The agent could not be created. Try again.");
        return ui::render(&state, head, None, notice, StatusCode::SERVICE_UNAVAILABLE).await;
    }
    let notice = PageNotice {
        info: Some(format!("Agent “{}” created.", agent.name)),
        // The page splits "client-id secret" into the two credentials.
        secret: Some(format!("{} {}", agent.id, secret.expose())),
        ..PageNotice::default()
    };
    ui::render(&state, head, None, notice, StatusCode::CREATED).await
}

/// Applies `changes` from the agent page's forms and answers with the page again.
async fn apply(
    state: &AppState,
    head: RequestHead,
    caller: &Caller,
    access: &AdminAccess,
    id: &str,
    changes: AgentChanges,
    form: Vec<(String, String)>,
) -> Response {
    match agents::update(&state.store, access, id, &changes, state.now()).await {
        Ok((before, after)) => {
            state.caches.forget_agent(id);
            let event = changed(access, caller, "agent.updated")
                .agent(id)
                .with("before", &before)
                .with("after", &after);
            record(state, event).await;
            Redirect::to(&agent_href(id)).into_response()
        }
        Err(e) => refused(state, head, e, Some(form), "The agent was not changed").await,
    }
}

pub async fn labels(
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
    let changes = AgentChanges {
        name: Some(field(&form, "name").to_owned()),
        tags: Some(tags_of(field(&form, "tags"))),
        trust_level: Some(field(&form, "trust_level").to_owned()),
        ..AgentChanges::default()
    };
    apply(&state, head, &caller, &access, &id, changes, form).await
}

pub async fn allowances(
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
    let changes = AgentChanges {
        allowances: Some(allowances_from_pairs(&form)),
        ..AgentChanges::default()
    };
    apply(&state, head, &caller, &access, &id, changes, form).await
}

/// The agent page's token-vault form: may it exchange tokens, and what its own machine
/// tokens may get (`slug = scope scope` per line).
pub async fn vault(
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
    let mut allowance = std::collections::BTreeMap::new();
    for line in field(&form, "allowance").lines() {
        let (provider, scopes) = line.split_once('=').unwrap_or((line, ""));
        if provider.trim().is_empty() {
            continue;
        }
        allowance.insert(
            provider.trim().to_owned(),
            scopes.split_whitespace().map(str::to_owned).collect(),
        );
    }
    let wanted = AgentVault {
        token_exchange: field(&form, "token_exchange") == "yes",
        allowance,
    };
    match set_agent_vault(&state.store, &access, &id, &wanted, state.now()).await {
        Ok((before, after)) => {
            state.caches.forget_agent(&id);
            let event = changed(&access, &caller, "agent.connections_set")
                .agent(id.as_str())
                .with("before", &before)
                .with("after", &after);
            record(&state, event).await;
            Redirect::to(&agent_href(&id)).into_response()
        }
        Err(e) => refused(&state, head, e, None, "The vault settings were not saved").await,
    }
}

pub async fn disable(
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
    let disabled = match field(&form, "disabled") {
        "yes" => true,
        "no" => false,
        _ => {
            let notice = PageNotice::error("Say disabled=yes or disabled=no.");
            return ui::render(&state, head, None, notice, StatusCode::BAD_REQUEST).await;
        }
    };
    let changes = AgentChanges {
        disabled: Some(disabled),
        ..AgentChanges::default()
    };
    apply(&state, head, &caller, &access, &id, changes, form).await
}

pub async fn rotate_secret(
    State(state): State<AppState>,
    Path(id): Path<String>,
    head: RequestHead,
    caller: Caller,
    body: Bytes,
) -> Response {
    let (access, _) = match form_post(&state, &head, &body).await {
        Ok(found) => found,
        Err(response) => return response,
    };
    match agents::rotate_secret(&state.store, &access, &id, state.now()).await {
        Ok((agent, secret)) => {
            state.caches.forget_agent(&id);
            let event = changed(&access, &caller, "agent.secret_rotated").agent(agent.id.as_str());
            record(&state, event).await;
            let notice = PageNotice {
                secret: Some(secret.expose().to_owned()),
                ..PageNotice::default()
            };
            ui::render(&state, head, None, notice, StatusCode::OK).await
        }
        Err(e) => refused(&state, head, e, None, "The secret was not rotated").await,
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
        let notice = PageNotice::error("Tick “Yes, delete” to delete the agent.");
        return ui::render(&state, head, None, notice, StatusCode::BAD_REQUEST).await;
    }
    match agents::delete(&state.store, &access, &id).await {
        Ok(before) => {
            state.caches.forget_agent(&id);
            let event = changed(&access, &caller, "agent.deleted")
                .agent(id.as_str())
                .with("before", &before);
            record(&state, event).await;
            Redirect::to(LIST).into_response()
        }
        Err(e) => refused(&state, head, e, None, "The agent was not deleted").await,
    }
}
