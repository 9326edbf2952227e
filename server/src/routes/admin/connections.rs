//! The Connections page's forms (`intent`): `provider_add`, `provider_delete` (ticked
//! confirmation; every connection to it goes too), `policy_add`, `policy_delete`. Project
//! admins; every change is an `admin.changed` event (never with the client secret).

use app::api::screen::PageNotice;
use axum::body::Bytes;
use axum::extract::State;
use axum::http::StatusCode;
use axum::response::{IntoResponse, Redirect, Response};
use mandate_core::admin::connections as vault;
use mandate_core::connections::draft::{ConnectionPolicyDraft, ProviderDraft};
use mandate_core::connections::policy::ConnectionAllow;
use mandate_core::policy::{Condition, Operator};

use super::{changed, field, form_post, record, refused};
use crate::request_context::Caller;
use crate::state::AppState;
use crate::ui::{self, RequestHead};

pub const PATH: &str = "/admin/connections";

fn list(text: &str) -> Vec<String> {
    text.split([',', ' '])
        .map(str::trim)
        .filter(|s| !s.is_empty())
        .map(str::to_owned)
        .collect()
}

fn operator(name: &str) -> Operator {
    Operator::ALL
        .into_iter()
        .find(|o| format!("{o:?}") == name)
        .unwrap_or(Operator::Contains)
}

pub async fn post(
    State(state): State<AppState>,
    head: RequestHead,
    caller: Caller,
    body: Bytes,
) -> Response {
    let (access, form) = match form_post(&state, &head, &body).await {
        Ok(found) => found,
        Err(response) => return response,
    };
    let now = state.now();
    match field(&form, "intent") {
        "provider_add" => {
            let draft = ProviderDraft {
                slug: field(&form, "slug").to_owned(),
                name: field(&form, "name").to_owned(),
                kind: field(&form, "kind").to_owned(),
                authorization_endpoint: field(&form, "authorization_endpoint").to_owned(),
                token_endpoint: field(&form, "token_endpoint").to_owned(),
                client_id: field(&form, "client_id").to_owned(),
                client_secret: field(&form, "client_secret").to_owned(),
                scopes: field(&form, "scopes").to_owned(),
                mcp_servers: list(field(&form, "mcp_servers")),
            };
            let saved =
                vault::save_provider(&state.store, &access, &state.master_key, None, &draft, now)
                    .await;
            match saved {
                Ok((_, after)) => {
                    let event = changed(&access, &caller, "connection_provider.created")
                        .with("after", &after);
                    record(&state, event).await;
                    let notice = PageNotice {
                        info: Some(format!("Provider “{}” added.", after.name)),
                        ..PageNotice::default()
                    };
                    ui::render(&state, head, None, notice, StatusCode::CREATED).await
                }
                Err(e) => refused(&state, head, e, None, "The provider was not added").await,
            }
        }
        "policy_add" => {
            let key = field(&form, "condition_key").trim();
            let conditions = if key.is_empty() {
                Vec::new()
            } else {
                vec![Condition {
                    key: key.to_owned(),
                    operator: operator(field(&form, "condition_operator")),
                    values: list(field(&form, "condition_values")),
                }]
            };
            let draft = ConnectionPolicyDraft {
                name: field(&form, "name").to_owned(),
                description: String::new(),
                conditions,
                allows: vec![ConnectionAllow {
                    provider_id: field(&form, "provider").trim().to_owned(),
                    scopes: list(field(&form, "scopes")),
                }],
            };
            match vault::save_policy(&state.store, &access, None, &draft, now).await {
                Ok((_, after)) => {
                    let event = changed(&access, &caller, "connection_policy.created")
                        .with("after", &after);
                    record(&state, event).await;
                    Redirect::to(PATH).into_response()
                }
                Err(e) => refused(&state, head, e, None, "The policy was not added").await,
            }
        }
        intent @ ("provider_delete" | "policy_delete") => {
            if field(&form, "confirm") != "yes" {
                let notice = PageNotice::error("Tick “Yes, delete” to delete.");
                return ui::render(&state, head, None, notice, StatusCode::BAD_REQUEST).await;
            }
            let id = field(&form, "id");
            let result = if intent == "provider_delete" {
                vault::delete_provider(&state.store, &access, id)
                    .await
                    .map(|before| {
                        changed(&access, &caller, "connection_provider.deleted")
                            .with("before", &before)
                    })
            } else {
                vault::delete_policy(&state.store, &access, id)
                    .await
                    .map(|before| {
                        changed(&access, &caller, "connection_policy.deleted")
                            .with("before", &before)
                    })
            };
            match result {
                Ok(event) => {
                    record(&state, event).await;
                    Redirect::to(PATH).into_response()
                }
                Err(e) => refused(&state, head, e, None, "Nothing was deleted").await,
            }
        }
        _ => {
            let notice = PageNotice::error("This form does not say what to do.");
            ui::render(&state, head, None, notice, StatusCode::BAD_REQUEST).await
        }
    }
}
