//! `/api/v1/tenants/{id}/sso`: a tenant's single sign-on. Read (never the client secret),
//! replace (PUT; an empty `client_secret` keeps the stored one) and remove. The tenant's admins'
//! keys or project admins'; changes write an `admin.changed` event.

use axum::extract::{Path, State};
use axum::http::StatusCode;
use axum::Json;
use mandate_core::admin::sso::{self, SsoDraft};
use mandate_core::tenancy::{sso_redirect_uri, SsoSettings};
use serde::Serialize;

use super::bodies::ErrorEnvelope;
use super::{changed, ApiCaller, ApiError, ApiJson};
use crate::request_context::Caller;
use crate::state::AppState;

/// A tenant's single sign-on, and the redirect URI to register at its provider.
#[derive(Debug, Serialize, utoipa::ToSchema)]
pub struct SsoView {
    /// `null` when the tenant has none.
    pub sso: Option<SsoSettings>,
    pub redirect_uri: String,
}

fn view(state: &AppState, sso: Option<SsoSettings>) -> SsoView {
    SsoView {
        sso,
        redirect_uri: sso_redirect_uri(&state.config.public_url),
    }
}

/// The tenant's single sign-on settings.
#[utoipa::path(get, path = "/api/v1/tenants/{id}/sso", tag = "Tenants and people",
    params(("id" = String, Path, description = "The tenant's id or slug")),
    responses((status = 200, body = SsoView), (status = 401, body = ErrorEnvelope),
              (status = 404, body = ErrorEnvelope)),
    security(("admin_api_key" = [])))]
pub async fn read(
    State(state): State<AppState>,
    api: ApiCaller,
    Path(id): Path<String>,
) -> Result<Json<SsoView>, ApiError> {
    let (_, settings) = sso::get(&state.store, &api.access, &id).await?;
    Ok(Json(view(&state, settings)))
}

/// Sets the tenant's single sign-on (the client secret is sealed and never returned).
#[utoipa::path(put, path = "/api/v1/tenants/{id}/sso", tag = "Tenants and people",
    params(("id" = String, Path, description = "The tenant's id or slug")),
    request_body = SsoDraft,
    responses((status = 200, body = SsoView),
              (status = 400, description = "validation_failed: see fields", body = ErrorEnvelope),
              (status = 401, body = ErrorEnvelope), (status = 403, body = ErrorEnvelope),
              (status = 404, body = ErrorEnvelope)),
    security(("admin_api_key" = [])))]
pub async fn put(
    State(state): State<AppState>,
    api: ApiCaller,
    caller: Caller,
    Path(id): Path<String>,
    ApiJson(draft): ApiJson<SsoDraft>,
) -> Result<Json<SsoView>, ApiError> {
    let (before, after) = sso::save(
        &state.store,
        &api.access,
        &state.master_key,
        &id,
        &draft,
        state.now(),
    )
    .await?;
    let event = changed(&api, &caller, "tenant.sso_saved")
        .tenant(Some(after.tenant_id.as_str()))
        .with("before", &before)
        .with("after", &after);
    state.audit.record(event).await?;
    Ok(Json(view(&state, Some(after))))
}

/// Removes the tenant's single sign-on (its people sign in with passwords again).
#[utoipa::path(delete, path = "/api/v1/tenants/{id}/sso", tag = "Tenants and people",
    params(("id" = String, Path, description = "The tenant's id or slug")),
    responses((status = 204, description = "Removed"),
              (status = 401, body = ErrorEnvelope), (status = 403, body = ErrorEnvelope),
              (status = 404, body = ErrorEnvelope)),
    security(("admin_api_key" = [])))]
pub async fn remove(
    State(state): State<AppState>,
    api: ApiCaller,
    caller: Caller,
    Path(id): Path<String>,
) -> Result<StatusCode, ApiError> {
    let before = sso::remove(&state.store, &api.access, &id).await?;
    let event = changed(&api, &caller, "tenant.sso_removed")
        .tenant(Some(before.tenant_id.as_str()))
        .with("before", &before);
    state.audit.record(event).await?;
    Ok(StatusCode::NO_CONTENT)
}
