//! RFC 8414 metadata (every path variant MCP clients try), RFC 9728 protected resource
//! metadata on an MCP server's behalf, and the JWKS.

use axum::body::Bytes;
use axum::extract::{Path, State};
use axum::http::{header, HeaderValue, StatusCode};
use axum::response::{IntoResponse, Response};

use super::server_by_slug;
use crate::error::JsonError;
use crate::state::AppState;

/// A JSON document that clients may cache for five minutes.
fn cacheable(body: Bytes, content_type: &'static str) -> Response {
    (
        StatusCode::OK,
        [
            (header::CONTENT_TYPE, HeaderValue::from_static(content_type)),
            (
                header::CACHE_CONTROL,
                HeaderValue::from_static("public, max-age=300"),
            ),
        ],
        body,
    )
        .into_response()
}

pub async fn metadata(
    State(state): State<AppState>,
    Path(slug): Path<String>,
) -> Result<Response, JsonError> {
    let entry = server_by_slug(&state, &slug).await?;
    Ok(cacheable(entry.metadata_json.clone(), "application/json"))
}

pub async fn protected_resource(
    State(state): State<AppState>,
    Path(slug): Path<String>,
) -> Result<Response, JsonError> {
    let entry = server_by_slug(&state, &slug).await?;
    Ok(cacheable(
        entry.protected_resource_json.clone(),
        "application/json",
    ))
}

pub async fn jwks(
    State(state): State<AppState>,
    Path(slug): Path<String>,
) -> Result<Response, JsonError> {
    server_by_slug(&state, &slug).await?;
    Ok(jwks_base(State(state)).await)
}

/// One key set serves every issuer of the deployment; its JSON is serialized once per key set.
pub async fn jwks_base(State(state): State<AppState>) -> Response {
    cacheable(state.keys.jwks_body(), "application/jwk-set+json")
}
