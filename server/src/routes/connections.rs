//! A person's connected accounts (the token vault): connecting through the provider's sign-in
//! (`POST /account/connections/connect` → the provider → `GET /connections/callback`), saving
//! an API key, and disconnecting. Started from the account page, or from a consent page (the
//! form carries the journey, and the person comes back to it). Every change is an audit event;
//! tokens are sealed before they are stored and never shown.

use std::collections::HashMap;

use app::api::account::ConnectionRow;
use app::api::screen::PageNotice;
use axum::extract::{Query, State};
use axum::http::StatusCode;
use axum::response::{IntoResponse, Redirect, Response};
use mandate_core::admin::connections::store_api_key;
use mandate_core::admin::AdminError;
use mandate_core::audit::{ActorKind, AuditEvent, EventType, Outcome};
use mandate_core::connections::{
    callback_uri, Connection, ConnectionProvider, Owner, OwnerKind, ProviderKind,
};
use mandate_core::oauth::OAuthError;
use serde::{Deserialize, Serialize};
use subtle::ConstantTimeEq;
use tower_sessions::Session;

use super::account::{back, format_time, AccountPost};
use crate::pages::error_page;
use crate::request_context::Caller;
use crate::routes::oauth::journey::{journey_error, signed_in_user, step_url, CONSENT_PATH};
use crate::state::AppState;
use crate::ui;
use crate::vault::{provider_secret, VaultFailure};

const PENDING_KEY: &str = "connect_pending";
/// A person has this long at the provider.
const PENDING_TTL_MS: i64 = 10 * 60 * 1000;

/// What a started connect remembers until the provider sends the person back.
#[derive(Debug, Clone, Serialize, Deserialize)]
struct PendingConnect {
    state: String,
    verifier: String,
    provider_id: String,
    user_id: String,
    journey: Option<String>,
    started_at: i64,
}

/// Every provider (or those `server_id`'s consent page offers), with `user_id`'s connection.
pub async fn rows(
    state: &AppState,
    user_id: &str,
    server_id: Option<&str>,
) -> Result<Vec<ConnectionRow>, OAuthError> {
    let providers = state.store.connection_providers().await?;
    let mine = state
        .store
        .connections_of(&Owner::new(OwnerKind::User, user_id))
        .await?;
    Ok(providers
        .into_iter()
        .filter(|p| server_id.is_none_or(|id| p.mcp_server_ids.iter().any(|s| s == id)))
        .map(|p| {
            let connected = mine.iter().find(|c| c.provider_id == p.id).map(describe);
            ConnectionRow {
                slug: p.slug,
                name: p.name,
                api_key: p.kind == ProviderKind::ApiKey,
                connected,
            }
        })
        .collect())
}

fn describe(c: &Connection) -> String {
    let when = format!("connected {}", format_time(c.created_at));
    if c.scopes.is_empty() {
        when
    } else {
        format!("{} · {when}", c.scopes.join(" "))
    }
}

async fn record(state: &AppState, event: AuditEvent) {
    if let Err(e) = state.audit.record(event).await {
        crate::error::log_internal(&e.into());
    }
}

fn user_event(event: EventType, outcome: Outcome, user_id: &str, provider: &str) -> AuditEvent {
    AuditEvent::new(event, outcome, ActorKind::User)
        .user(Some(user_id.to_owned()))
        .with("provider", provider)
        .with("owner", "user")
}

/// Where the person goes when done: the consent page they came from, or the account page.
fn done(journey: Option<&str>) -> Response {
    match journey.filter(|j| !j.is_empty()) {
        Some(j) => Redirect::to(&step_url(CONSENT_PATH, Some(j))).into_response(),
        None => back(None),
    }
}

async fn provider_named(
    state: &AppState,
    slug: Option<&str>,
) -> Result<(ConnectionProvider, Vec<u8>), OAuthError> {
    state
        .store
        .connection_provider_by_slug(slug.unwrap_or_default())
        .await?
        .ok_or_else(|| OAuthError::invalid_request("there is no such connection"))
}

const UNAVAILABLE: &str = "This account cannot be connected right now";

fn unavailable(failure: &VaultFailure) -> Response {
    tracing::warn!(reason = %failure, "connecting an account failed");
    error_page(
        StatusCode::BAD_GATEWAY,
        UNAVAILABLE,
        "The provider could not be reached or answered in a way Mandate cannot accept. Try again in a moment; if it keeps happening, tell your administrator.",
    )
}

/// `POST /account/connections/connect`: sends the person to the provider's sign-in.
pub async fn connect(State(state): State<AppState>, caller: Caller, post: AccountPost) -> Response {
    let AccountPost { js, user, form, .. } = post;
    let (provider, sealed) = match provider_named(&state, form.provider.as_deref()).await {
        Ok(found) => found,
        Err(e) => return journey_error(e),
    };
    if provider.kind != ProviderKind::Oauth2 {
        return journey_error(OAuthError::invalid_request(
            "this account is connected with a key, on your account page",
        ));
    }
    let Ok(secret) = provider_secret(&state.master_key, &provider, &sealed) else {
        return unavailable(&VaultFailure::Misconfigured("client secret".into()));
    };
    let started =
        match state
            .vault
            .start(&provider, &secret, &callback_uri(&state.config.public_url))
        {
            Ok(started) => started,
            Err(failure) => {
                let event = user_event(
                    EventType::ConnectionConnected,
                    Outcome::Failure,
                    &user.user_id,
                    &provider.slug,
                )
                .with("reason", failure.to_string())
                .context(&caller.context);
                record(&state, event).await;
                return unavailable(&failure);
            }
        };
    let pending = PendingConnect {
        state: started.state,
        verifier: started.verifier,
        provider_id: provider.id,
        user_id: user.user_id,
        journey: form.journey.filter(|j| !j.is_empty()),
        started_at: state.now(),
    };
    if let Err(e) = js.0.insert(PENDING_KEY, &pending).await {
        return journey_error(OAuthError::server_error(e));
    }
    Redirect::to(&started.url).into_response()
}

/// `GET /connections/callback`: the provider's answer.
pub async fn callback(
    State(state): State<AppState>,
    session: Session,
    caller: Caller,
    Query(params): Query<HashMap<String, String>>,
) -> Response {
    let pending: Option<PendingConnect> = session.remove(PENDING_KEY).await.ok().flatten();
    let Some(pending) = pending else {
        return error_page(
            StatusCode::BAD_REQUEST,
            "This connection cannot continue",
            "No connection was started in this browser, or it was already finished. Start again from your account page.",
        );
    };
    let given = params.get("state").map(String::as_str).unwrap_or_default();
    let state_ok: bool = given.as_bytes().ct_eq(pending.state.as_bytes()).into();
    let signed_in = signed_in_user(&session)
        .await
        .is_some_and(|u| u.user_id == pending.user_id);
    if !state_ok || !signed_in || state.now() - pending.started_at > PENDING_TTL_MS {
        return error_page(
            StatusCode::BAD_REQUEST,
            "This connection cannot continue",
            "The answer from the provider does not match the connection started here, or it took too long. Start again from your account page.",
        );
    }
    let Some(Ok((provider, sealed))) = state
        .store
        .connection_provider(&pending.provider_id)
        .await
        .transpose()
    else {
        return error_page(
            StatusCode::NOT_FOUND,
            "This connection cannot continue",
            "The provider was removed meanwhile.",
        );
    };
    let refused = |reason: String| {
        user_event(
            EventType::ConnectionConnected,
            Outcome::Failure,
            &pending.user_id,
            &provider.slug,
        )
        .with("reason", reason)
        .context(&caller.context)
    };
    if let Some(error) = params.get("error") {
        // The person declined at the provider (RFC 6749 §4.1.2.1), or it refused.
        let code: String = error.chars().take(64).collect();
        record(&state, refused(format!("the provider answered {code}"))).await;
        return error_page(
            StatusCode::FORBIDDEN,
            "The account was not connected",
            &format!(
                "{} did not allow the connection. You can try again from your account page.",
                provider.name
            ),
        );
    }
    let Some(code) = params.get("code") else {
        return error_page(
            StatusCode::BAD_REQUEST,
            "This connection cannot continue",
            "The provider sent no authorization code.",
        );
    };
    let Ok(secret) = provider_secret(&state.master_key, &provider, &sealed) else {
        let failure = VaultFailure::Misconfigured("client secret".into());
        record(&state, refused(failure.to_string())).await;
        return unavailable(&failure);
    };
    let redirect = callback_uri(&state.config.public_url);
    let fresh = state
        .vault
        .finish(&provider, &secret, &redirect, code, &pending.verifier)
        .await;
    let fresh = match fresh {
        Ok(fresh) => fresh,
        Err(failure) => {
            record(&state, refused(failure.to_string())).await;
            return unavailable(&failure);
        }
    };
    let owner = Owner::new(OwnerKind::User, pending.user_id.as_str());
    let now = state.now();
    let stored = async {
        let sealed = crate::vault::seal_fresh(
            &state.master_key,
            &provider.id,
            &owner,
            fresh,
            None,
            &provider.scopes,
            now,
        )?;
        state
            .store
            .put_connection(&provider.id, &owner, &sealed.as_row(), now)
            .await
    }
    .await;
    match stored {
        Ok(connection) => {
            let event = user_event(
                EventType::ConnectionConnected,
                Outcome::Success,
                &pending.user_id,
                &provider.slug,
            )
            .with("connection", &connection.id)
            .with("scopes", connection.scopes.join(" "))
            .context(&caller.context);
            record(&state, event).await;
            done(pending.journey.as_deref())
        }
        Err(e) => journey_error(e.into()),
    }
}

/// `POST /account/connections/api-key`: stores the person's key for an API-key provider.
pub async fn api_key(State(state): State<AppState>, caller: Caller, post: AccountPost) -> Response {
    let AccountPost {
        user, head, form, ..
    } = post;
    let (provider, _) = match provider_named(&state, form.provider.as_deref()).await {
        Ok(found) => found,
        Err(e) => return journey_error(e),
    };
    if provider.kind != ProviderKind::ApiKey {
        return journey_error(OAuthError::invalid_request(
            "this account is connected through the provider's sign-in",
        ));
    }
    let owner = Owner::new(OwnerKind::User, user.user_id.as_str());
    let key = form.api_key.unwrap_or_default();
    match store_api_key(
        &state.store,
        &state.master_key,
        &provider,
        &owner,
        &key,
        state.now(),
    )
    .await
    {
        Ok(connection) => {
            let event = user_event(
                EventType::ConnectionConnected,
                Outcome::Success,
                &user.user_id,
                &provider.slug,
            )
            .with("connection", &connection.id)
            .context(&caller.context);
            record(&state, event).await;
            done(form.journey.as_deref())
        }
        Err(AdminError::Invalid(fields)) => {
            let notice = PageNotice::error(
                fields
                    .into_values()
                    .next()
                    .unwrap_or_else(|| "The key was not saved.".into()),
            );
            ui::render(&state, head, None, notice, StatusCode::BAD_REQUEST).await
        }
        Err(AdminError::Store(e)) => journey_error(e.into()),
        Err(_) => journey_error(OAuthError::invalid_request("the key was not saved")),
    }
}

/// `POST /account/connections/disconnect`: deletes the person's tokens for a provider.
pub async fn disconnect(
    State(state): State<AppState>,
    caller: Caller,
    post: AccountPost,
) -> Response {
    let AccountPost { user, form, .. } = post;
    let result = async {
        let (provider, _) = provider_named(&state, form.provider.as_deref()).await?;
        let owner = Owner::new(OwnerKind::User, user.user_id.as_str());
        let Some(gone) = state.store.delete_connection(&provider.id, &owner).await? else {
            return Err(OAuthError::invalid_request("that account is not connected"));
        };
        let event = user_event(
            EventType::ConnectionDisconnected,
            Outcome::Success,
            &user.user_id,
            &provider.slug,
        )
        .with("connection", &gone.id)
        .context(&caller.context);
        state.audit.record(event).await?;
        Ok(())
    }
    .await;
    match result {
        Ok(()) => back(None),
        Err(e) => journey_error(e),
    }
}
