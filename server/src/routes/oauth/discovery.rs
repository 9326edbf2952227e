//! RFC 8414 metadata (every path variant MCP clients try), RFC 9728 protected resource
//! metadata on an MCP server's behalf, and the JWKS.

use axum::extract::{Path, State};
use axum::http::{header, HeaderValue, StatusCode};
use axum::response::{IntoResponse, Response};
use axum::Json;
use mandate_core::oauth::metadata::{AuthorizationServerMetadata, ProtectedResourceMetadata};

use super::server_by_slug;
use crate::error::JsonError;
use crate::state::AppState;

fn cacheable(body: impl serde::Serialize, max_age: u32) -> Response {
    let mut response = (StatusCode::OK, Json(body)).into_response();
    if let Ok(value) = HeaderValue::from_str(&format!("public, max-age={max_age}")) {
        response.headers_mut().insert(header::CACHE_CONTROL, value);
    }
    response
}

async fn scope_names(
    state: &AppState,
    server: &mandate_core::model::McpServer,
) -> Result<Vec<String>, JsonError> {
    Ok(state
        .store
        .scopes_of(&server.id)
        .await?
        .into_iter()
        .map(|s| s.name)
        .collect())
}

pub async fn metadata(
    State(state): State<AppState>,
    Path(slug): Path<String>,
) -> Result<Response, JsonError> {
    let server = server_by_slug(&state, &slug).await?;
    let scopes = scope_names(&state, &server).await?;
    let doc = AuthorizationServerMetadata::for_server(&state.config.public_url, &server, scopes);
    Ok(cacheable(doc, 300))
}

pub async fn protected_resource(
    State(state): State<AppState>,
    Path(slug): Path<String>,
) -> Result<Response, JsonError> {
    let server = server_by_slug(&state, &slug).await?;
    let scopes = scope_names(&state, &server).await?;
    Ok(cacheable(
        ProtectedResourceMetadata::for_server(&state.config.public_url, &server, scopes),
        300,
    ))
}

pub async fn jwks(
    State(state): State<AppState>,
    Path(slug): Path<String>,
) -> Result<Response, JsonError> {
    server_by_slug(&state, &slug).await?;
    Ok(jwks_base(State(state)).await)
}

/// One key set serves every issuer of the deployment.
pub async fn jwks_base(State(state): State<AppState>) -> Response {
    let keys = state.keys.current();
    let mut response = cacheable(keys.jwks(), 300);
    response.headers_mut().insert(
        header::CONTENT_TYPE,
        HeaderValue::from_static("application/jwk-set+json"),
    );
    response
}
