//! The OAuth endpoints of every MCP server's issuer `{base}/s/{slug}` (ARCHITECTURE.md §5).
//! Handlers are thin: parse, call `mandate_core::oauth`, map the result.

mod authorize;
mod cimd;
mod discovery;
pub mod journey;
mod register;
mod revoke;
mod token;
mod token_exchange;

use axum::extract::rejection::FormRejection;
use axum::extract::{FromRequest, Request};
use axum::http::{header, Method};
use axum::routing::{get, post};
use axum::{Form, Router};
use mandate_core::oauth::metadata::{AuthorizationServerMetadata, ProtectedResourceMetadata};
use mandate_core::oauth::OAuthError;
use std::sync::Arc;
use std::time::Duration;
use tower_http::cors::{Any, CorsLayer};

use crate::error::JsonError;
use crate::state::{AppState, ServerEntry};

pub use journey::SIGN_IN_PATH;

/// Endpoints browser-based clients (MCP Inspector) call cross-origin: CORS without
/// credentials. Never the pages.
pub fn api_router() -> Router<AppState> {
    let cors = CorsLayer::new()
        .allow_origin(Any)
        .allow_methods([
            Method::GET,
            Method::POST,
            Method::PUT,
            Method::DELETE,
            Method::OPTIONS,
        ])
        .allow_headers([
            header::AUTHORIZATION,
            header::CONTENT_TYPE,
            header::HeaderName::from_static("mcp-protocol-version"),
        ])
        .max_age(Duration::from_secs(3600))
        // Every CORS header here is the same whatever the request's Origin or preflight
        // headers, so responses do not vary on them (the default `Vary` list would be built
        // into each response).
        .vary([] as [header::HeaderName; 0]);
    Router::new()
        .route(
            "/.well-known/oauth-authorization-server/s/{slug}",
            get(discovery::metadata),
        )
        .route(
            "/.well-known/openid-configuration/s/{slug}",
            get(discovery::metadata),
        )
        .route(
            "/s/{slug}/.well-known/oauth-authorization-server",
            get(discovery::metadata),
        )
        .route(
            "/s/{slug}/.well-known/openid-configuration",
            get(discovery::metadata),
        )
        .route(
            "/.well-known/oauth-protected-resource/s/{slug}",
            get(discovery::protected_resource),
        )
        .route("/s/{slug}/jwks.json", get(discovery::jwks))
        .route("/jwks.json", get(discovery::jwks_base))
        .route("/s/{slug}/token", post(token::token))
        .route("/s/{slug}/register", post(register::register))
        .route(
            "/s/{slug}/register/{client_id}",
            get(register::read)
                .put(register::update)
                .delete(register::delete),
        )
        .route("/s/{slug}/revoke", post(revoke::revoke))
        .route("/s/{slug}/introspect", post(revoke::introspect))
        .route("/s/{slug}/userinfo", get(revoke::userinfo))
        .layer(cors)
}

/// The form handlers of the authorization journey and the account page (session-backed, no
/// CORS). The pages themselves are Leptos routes (`app::pages`) at the same paths.
pub fn page_router() -> Router<AppState> {
    use crate::routes::{account, connections, passkeys};
    Router::new()
        .route("/s/{slug}/authorize", get(authorize::authorize))
        .route(SIGN_IN_PATH, post(journey::sign_in))
        .route(
            mandate_core::tenancy::SSO_CALLBACK_PATH,
            get(journey::sso_callback),
        )
        .route(
            mandate_core::connections::CALLBACK_PATH,
            get(connections::callback),
        )
        .route(journey::NEW_PASSWORD_PATH, post(journey::new_password))
        .route(journey::TENANT_PATH, post(journey::choose_tenant))
        .route(journey::CONSENT_PATH, post(journey::consent))
        .route(journey::SECOND_FACTOR_PATH, post(journey::second_factor))
        .route("/sign-out", post(journey::sign_out))
        .route("/account/totp/start", post(account::totp_start))
        .route("/account/totp/confirm", post(account::totp_confirm))
        .route("/account/totp/remove", post(account::totp_remove))
        .route("/account/recovery", post(account::recovery_codes))
        .route("/account/passkeys/remove", post(account::passkey_remove))
        .route("/account/agents/revoke", post(account::revoke_agent))
        .route("/account/connections/connect", post(connections::connect))
        .route("/account/connections/api-key", post(connections::api_key))
        .route(
            "/account/connections/disconnect",
            post(connections::disconnect),
        )
        .route("/account/continue", post(account::continue_journey))
        .route("/passkeys/register/start", post(passkeys::register_start))
        .route("/passkeys/register/finish", post(passkeys::register_finish))
        .route("/passkeys/sign-in/start", post(passkeys::sign_in_start))
        .route("/passkeys/sign-in/finish", post(passkeys::sign_in_finish))
        .route("/passkeys/verify/start", post(passkeys::verify_start))
        .route("/passkeys/verify/finish", post(passkeys::verify_finish))
}

/// The form parameters of a POST to the token, revocation or introspection endpoint, in order.
/// A body that is not `application/x-www-form-urlencoded` (RFC 6749 §3.2: "The client MUST
/// use ... application/x-www-form-urlencoded") is an `invalid_request` in §5.2's JSON, not the
/// plain-text 415 of axum's own extractor, which OAuth clients cannot read.
pub struct OAuthForm(pub Vec<(String, String)>);

impl<S: Send + Sync> FromRequest<S> for OAuthForm {
    type Rejection = JsonError;

    async fn from_request(req: Request, state: &S) -> Result<Self, Self::Rejection> {
        match Form::<Vec<(String, String)>>::from_request(req, state).await {
            Ok(Form(pairs)) => Ok(Self(pairs)),
            Err(FormRejection::InvalidFormContentType(_)) => {
                Err(JsonError(OAuthError::invalid_request(
                    "the parameters must be sent as application/x-www-form-urlencoded",
                )))
            }
            Err(e) => Err(JsonError(OAuthError::invalid_request(format!(
                "the form body cannot be read: {}",
                e.body_text()
            )))),
        }
    }
}

/// The MCP server of an issuer slug, with its scopes (cached briefly).
async fn server_by_slug(state: &AppState, slug: &str) -> Result<Arc<ServerEntry>, OAuthError> {
    let store = &state.store;
    let entry = state
        .caches
        .servers
        .get_or_load(&slug.to_owned(), || async {
            let Some(server) = store.mcp_server_by_slug(slug).await? else {
                return Ok::<_, mandate_core::CoreError>(None);
            };
            let scopes = store.scopes_of(&server.id).await?;
            let names: Vec<String> = scopes.iter().map(|s| s.name.clone()).collect();
            let base = &state.config.public_url;
            let metadata = AuthorizationServerMetadata::for_server(base, &server, names.clone());
            let resource = ProtectedResourceMetadata::for_server(base, &server, names);
            Ok(Some(Arc::new(ServerEntry {
                metadata_json: serde_json::to_vec(&metadata)?.into(),
                protected_resource_json: serde_json::to_vec(&resource)?.into(),
                server,
                scopes,
            })))
        })
        .await?;
    entry.ok_or_else(|| {
        OAuthError::invalid_request(format!("there is no MCP server {slug:?} on this hub"))
    })
}
