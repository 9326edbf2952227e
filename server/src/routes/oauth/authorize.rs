//! `GET {issuer}/authorize` (RFC 6749 §4.1.1): validates with `core::oauth::authorize`,
//! renders the errors that must not be redirected, redirects the others with `iss`, and
//! starts the journey in the session.

use axum::extract::{Path, RawQuery, State};
use axum::http::StatusCode;
use axum::response::{IntoResponse, Redirect, Response};
use mandate_core::audit::{ActorKind, AuditEvent, EventType, Outcome};
use mandate_core::crypto::random_token;
use mandate_core::ids::AgentId;
use mandate_core::oauth::authorize::{validate, AuthorizeError, AuthorizeInput};
use mandate_core::oauth::flow::Journey;
use mandate_core::oauth::params::{AuthorizationRequest, Params};
use mandate_core::oauth::{response, OAuthError};
use tower_sessions::Session;

use super::journey::{advance, signed_in_user, JourneySession};
use crate::pages::error_page;
use crate::request_context::Caller;
use crate::state::AppState;

pub async fn authorize(
    State(state): State<AppState>,
    Path(slug): Path<String>,
    RawQuery(query): RawQuery,
    caller: Caller,
    session: Session,
) -> Response {
    match start(
        &state,
        &slug,
        query.as_deref().unwrap_or_default(),
        &caller,
        &session,
    )
    .await
    {
        Ok(response) => response,
        Err(response) => response,
    }
}

async fn start(
    state: &AppState,
    slug: &str,
    query: &str,
    caller: &Caller,
    session: &Session,
) -> Result<Response, Response> {
    let page = |e: OAuthError| {
        crate::error::log_internal(&e);
        error_page(
            StatusCode::BAD_REQUEST,
            "This sign-in link cannot be used",
            &e.description,
        )
    };
    let server = match state.store.mcp_server_by_slug(slug).await {
        Ok(Some(server)) => server,
        Ok(None) => {
            return Err(error_page(
                StatusCode::NOT_FOUND,
                "Unknown service",
                "There is no such MCP server on this hub.",
            ))
        }
        Err(e) => return Err(page(e.into())),
    };
    // Repeated parameters make the request ambiguous, including its redirect_uri: a page.
    let params = Params::from_pairs(url::form_urlencoded::parse(query.as_bytes()).into_owned())
        .map_err(page)?;
    let request = AuthorizationRequest::from_params(&params);
    let now = state.now();
    let agent = match &request.client_id {
        Some(id) if mandate_core::oauth::cimd::is_document_url(id) => Some(
            super::cimd::resolve(state, &server, id, &caller.context)
                .await
                .map_err(page)?,
        ),
        Some(id) => state
            .store
            .agent(&AgentId::from_string(id))
            .await
            .map_err(|e| page(e.into()))?,
        None => None,
    }
    .filter(|a| !a.is_expired_registration(server.dcr_unused_expiry_secs, now));
    let scopes = state
        .store
        .scopes_of(&server.id)
        .await
        .map_err(|e| page(e.into()))?;
    let allowance = match &agent {
        Some(a) => state
            .store
            .agent_allowance(&a.id, &server.id)
            .await
            .map_err(|e| page(e.into()))?,
        None => None,
    };
    let issuer = server.issuer(&state.config.public_url);
    let input = AuthorizeInput {
        request: &request,
        agent: agent.as_ref(),
        server: &server,
        server_scopes: &scopes,
        allowance: allowance.as_deref(),
    };
    let failed = |error: &OAuthError| {
        AuditEvent::new(
            EventType::AuthorizationFailed,
            Outcome::Failure,
            ActorKind::Anonymous,
        )
        .agent(request.client_id.clone().unwrap_or_default())
        .server(server.id.as_str())
        .scopes(request.scope.clone(), None)
        .with("error", error.code.as_str())
        .with("reason", &error.description)
        .context(&caller.context)
    };
    let validated = match validate(&input) {
        Ok(v) => v,
        Err(AuthorizeError::Page(error)) => {
            let _ = state.audit.record(failed(&error)).await;
            return Err(page(error));
        }
        Err(AuthorizeError::Redirect {
            error,
            redirect_uri,
            state: client_state,
        }) => {
            state
                .audit
                .record(failed(&error))
                .await
                .map_err(|e| page(e.into()))?;
            let to = response::error(&redirect_uri, &error, client_state.as_deref(), &issuer)
                .map_err(page)?;
            return Ok(Redirect::to(&to).into_response());
        }
    };
    let event = AuditEvent::new(
        EventType::AuthorizationRequested,
        Outcome::Success,
        ActorKind::Anonymous,
    )
    .agent(validated.client_id.as_str())
    .server(server.id.as_str())
    .scopes(Some(validated.scopes.join(" ")), None)
    .with("redirect_uri", &validated.redirect_uri)
    .context(&caller.context);
    state
        .audit
        .record(event)
        .await
        .map_err(|e| page(e.into()))?;

    let mut journey = Journey::start(random_token(16), issuer, validated, state.now());
    if let Some(user) = signed_in_user(session).await {
        // A person of a domain whose tenant enforces single sign-on goes through their
        // provider for every authorization: someone removed there gets no new tokens.
        let all = state.store.all_sso().await.map_err(|e| page(e.into()))?;
        if mandate_core::tenancy::enforced_for(&user.email, &all).is_none() {
            journey.sign_in(user).map_err(page)?;
        }
    }
    let js = JourneySession(session.clone());
    js.ensure_csrf().await.map_err(page)?;
    Ok(advance(state, &js, journey, caller).await)
}
