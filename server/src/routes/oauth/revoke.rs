//! `POST {issuer}/revoke` (RFC 7009), `POST {issuer}/introspect` (RFC 7662) and
//! `GET {issuer}/userinfo`.

use axum::extract::{Path, State};
use axum::http::{header, HeaderMap, HeaderValue, StatusCode};
use axum::response::{IntoResponse, Response};
use axum::Json;
use mandate_core::audit::repeats::Repeat;
use mandate_core::audit::{ActorKind, AuditEvent, EventType, Outcome};
use mandate_core::ids::UserId;
use mandate_core::model::ClientType;
use mandate_core::oauth::introspection::{introspect as introspect_token, live_access_token};
use mandate_core::oauth::revocation::{revoke as revoke_token, Revoked};
use mandate_core::oauth::{ErrorCode, OAuthError};
use serde_json::json;

use super::token::client_request;
use super::{server_by_slug, OAuthForm};
use crate::error::{no_store, JsonError};
use crate::request_context::Caller;
use crate::state::AppState;

pub async fn revoke(
    State(state): State<AppState>,
    Path(slug): Path<String>,
    caller: Caller,
    headers: HeaderMap,
    OAuthForm(pairs): OAuthForm,
) -> Result<Response, JsonError> {
    let (entry, params, client) = client_request(&state, &slug, &headers, pairs).await?;
    let server = &entry.server;
    let token = params.require("token")?;
    let issuer = server.issuer(&state.config.public_url);
    let outcome = revoke_token(
        &state.store,
        &state.keys.current(),
        &issuer,
        &client,
        token,
        state.now(),
    )
    .await?;
    let (what, id) = match &outcome {
        Revoked::Family(f) => ("refresh_token_family", Some(f.as_str())),
        Revoked::AccessToken(jti) => ("access_token", Some(jti.as_str())),
        Revoked::Nothing => ("nothing", None),
    };
    let event = AuditEvent::new(EventType::TokenRevoked, Outcome::Success, ActorKind::Agent)
        .agent(client.id.as_str())
        .server(server.id.as_str())
        .with("revoked", what)
        .with("id", id)
        .context(&caller.context);
    state.audit.record(event).await?;
    // RFC 7009 §2.2: 200 whether or not there was anything to revoke.
    Ok(no_store(StatusCode::OK, &json!({})))
}

pub async fn introspect(
    State(state): State<AppState>,
    Path(slug): Path<String>,
    caller: Caller,
    headers: HeaderMap,
    OAuthForm(pairs): OAuthForm,
) -> Result<Response, JsonError> {
    let (entry, params, client) = client_request(&state, &slug, &headers, pairs).await?;
    let server = &entry.server;
    // RFC 7662 §2.1: the caller must be authorized to introspect; here, any confidential client.
    if client.client_type != ClientType::Confidential {
        return Err(OAuthError::invalid_client("introspection needs a confidential client").into());
    }
    let token = params.require("token")?;
    let issuer = server.issuer(&state.config.public_url);
    let now = state.now();
    let answer = introspect_token(
        &state.store,
        &state.keys.current(),
        &issuer,
        server,
        &client,
        token,
        now,
    )
    .await?;
    // An access token found live: the same answer to the same caller within the window is
    // counted, not recorded (`audit::repeats`). Inactive answers are always recorded.
    let jti = answer.get("jti").and_then(|jti| jti.as_str());
    let unrecorded_repeats = match jti {
        Some(jti) => match state.introspections.check(client.id.as_str(), jti, now) {
            Repeat::Skip => return Ok(no_store(StatusCode::OK, &answer)),
            Repeat::Record { unrecorded_before } => Some(unrecorded_before),
        },
        None => None,
    };
    let mut event = AuditEvent::new(
        EventType::TokenIntrospected,
        Outcome::Success,
        ActorKind::Agent,
    )
    .agent(client.id.as_str())
    .server(server.id.as_str())
    .with("active", answer["active"].as_bool().unwrap_or(false))
    .with("jti", jti)
    .context(&caller.context);
    if let Some(n) = unrecorded_repeats {
        event = event.with("unrecorded_repeats", n);
    }
    // An introspection changes nothing: its event is queued, not waited for (RFC 7662 answers
    // are on resource servers' request path; issuances and revocations still wait).
    state.audit.record_unconfirmed(event).await?;
    Ok(no_store(StatusCode::OK, &answer))
}

/// OIDC Core §5.3 for tokens that carry `openid`: who the user is.
pub async fn userinfo(
    State(state): State<AppState>,
    Path(slug): Path<String>,
    headers: HeaderMap,
) -> Result<Response, JsonError> {
    let entry = server_by_slug(&state, &slug).await?;
    let server = &entry.server;
    let token = headers
        .get(header::AUTHORIZATION)
        .and_then(|v| v.to_str().ok())
        .and_then(|v| {
            v.strip_prefix("Bearer ")
                .or_else(|| v.strip_prefix("bearer "))
        })
        .ok_or_else(|| {
            OAuthError::new(ErrorCode::InvalidToken, "a Bearer access token is required")
        })?;
    let issuer = server.issuer(&state.config.public_url);
    let claims = live_access_token(
        &state.store,
        &state.keys.current(),
        token,
        &issuer,
        state.now(),
    )
    .await?
    .ok_or_else(|| OAuthError::new(ErrorCode::InvalidToken, "the access token is not valid"))?;
    if !claims.scope.split(' ').any(|s| s == "openid") {
        let mut response = (
            StatusCode::FORBIDDEN,
            Json(json!({"error": "insufficient_scope", "error_description": "the token lacks the openid scope"})),
        )
            .into_response();
        response.headers_mut().insert(
            header::WWW_AUTHENTICATE,
            HeaderValue::from_static("Bearer error=\"insufficient_scope\", scope=\"openid\""),
        );
        return Ok(response);
    }
    let mut body = json!({ "sub": claims.sub, "tenant": claims.tenant });
    let user = state
        .store
        .user_by_id(&UserId::from_string(&claims.sub))
        .await?;
    if let Some(user) = user {
        let scopes: Vec<&str> = claims.scope.split(' ').collect();
        if scopes.contains(&"email") {
            body["email"] = json!(user.email);
            body["email_verified"] = json!(false);
        }
        if scopes.contains(&"profile") {
            body["name"] = json!(user.display_name);
        }
    }
    Ok(no_store(StatusCode::OK, &body))
}
