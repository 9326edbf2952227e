//! Who is calling the admin API: a live API key, acting with its creator's admin rights.

use axum::extract::FromRequestParts;
use axum::http::request::Parts;
use axum::http::{header, Method};
use mandate_core::access::{admin_access, AdminAccess};
use mandate_core::secret::{Secret, SecretKind};
use mandate_core::store::api_keys::{ApiKey, ApiKeyScope};

use super::ApiError;
use crate::state::AppState;

/// An authenticated API call: the key and the rights it acts with.
pub struct ApiCaller {
    pub key: ApiKey,
    pub access: AdminAccess,
}

fn bearer(parts: &Parts) -> Option<&str> {
    let value = parts.headers.get(header::AUTHORIZATION)?.to_str().ok()?;
    let (scheme, token) = value.split_once(' ')?;
    scheme.eq_ignore_ascii_case("bearer").then(|| token.trim())
}

impl ApiCaller {
    /// Refuses a read-only key.
    pub fn require_full(&self) -> Result<(), ApiError> {
        if self.key.scope == ApiKeyScope::Read {
            Err(ApiError::Forbidden("This API key may only read."))
        } else {
            Ok(())
        }
    }
}

impl FromRequestParts<AppState> for ApiCaller {
    type Rejection = ApiError;

    async fn from_request_parts(parts: &mut Parts, state: &AppState) -> Result<Self, ApiError> {
        let token = bearer(parts).ok_or(ApiError::Unauthorized(
            "Send an admin API key as `Authorization: Bearer <key>`.",
        ))?;
        if !token.starts_with(SecretKind::AdminApiKey.prefix()) {
            return Err(ApiError::Unauthorized("That is not an admin API key."));
        }
        let key = state
            .store
            .authenticate_api_key(&Secret::presented(token), state.now())
            .await?
            .ok_or(ApiError::Unauthorized(
                "This API key is not valid (unknown or revoked).",
            ))?;
        // A key acts with its creator's rights (a project admin's, or a tenant admin's for
        // their tenants), and only while they still hold them.
        let access =
            admin_access(&state.store, &key.created_by)
                .await?
                .ok_or(ApiError::Forbidden(
                    "The admin who created this key no longer has admin rights.",
                ))?;
        let caller = Self { key, access };
        // Reads are GETs, and the simulator (a POST that changes nothing).
        let reads = matches!(parts.method, Method::GET | Method::HEAD)
            || parts.uri.path().ends_with("/simulate");
        if !reads {
            caller.require_full()?;
        }
        Ok(caller)
    }
}
