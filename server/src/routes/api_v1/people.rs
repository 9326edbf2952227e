//! `/api/v1/tenants` and `/api/v1/users`: tenants (list, create, read, rename), tenants'
//! decisions about agents (`…/approvals`), people (list, invite, read, disable or enable, a new
//! password link, reset of second factors) and memberships. Changes need a key with full
//! access and write an `admin.changed` event with before / after (never a link's token).

use std::collections::HashMap;

use axum::extract::{Path, Query, State};
use axum::http::StatusCode;
use axum::Json;
use mandate_core::admin::tenants::{self, ApprovalDraft, TenantDraft};
use mandate_core::admin::users::{self, InviteDraft, MembershipDraft, UserDetail, UserPage};
use mandate_core::model::Tenant;
use mandate_core::secret::Secret;
use mandate_core::store::people::TenantApproval;
use serde::Deserialize;

use super::bodies::{ErrorEnvelope, PasswordLink, TenantList};
use super::{changed, limit_param, ApiCaller, ApiError, ApiJson};
use crate::request_context::Caller;
use crate::state::AppState;

fn link_of(state: &AppState, user: &str, token: &Secret) -> PasswordLink {
    PasswordLink {
        user_id: user.to_owned(),
        url: format!(
            "{}/set-password?token={}",
            state.config.public_url.trim_end_matches('/'),
            token.expose()
        ),
        expires_in_days: users::LINK_LIFETIME_MS / (24 * 3600 * 1000),
    }
}

/// The tenants the key's admin administers.
#[utoipa::path(get, path = "/api/v1/tenants", tag = "Tenants and people",
    responses((status = 200, body = TenantList), (status = 401, body = ErrorEnvelope)),
    security(("admin_api_key" = [])))]
pub async fn list_tenants(
    State(state): State<AppState>,
    api: ApiCaller,
) -> Result<Json<TenantList>, ApiError> {
    Ok(Json(TenantList {
        tenants: tenants::list(&state.store, &api.access).await?,
    }))
}

/// Creates a tenant (project admins).
#[utoipa::path(post, path = "/api/v1/tenants", tag = "Tenants and people",
    request_body = TenantDraft,
    responses((status = 201, body = Tenant), (status = 400, body = ErrorEnvelope),
              (status = 401, body = ErrorEnvelope), (status = 403, body = ErrorEnvelope)),
    security(("admin_api_key" = [])))]
pub async fn create_tenant(
    State(state): State<AppState>,
    api: ApiCaller,
    caller: Caller,
    ApiJson(draft): ApiJson<TenantDraft>,
) -> Result<(StatusCode, Json<Tenant>), ApiError> {
    let tenant = tenants::create(&state.store, &api.access, &draft, state.now()).await?;
    let event = changed(&api, &caller, "tenant.created")
        .tenant(Some(tenant.id.as_str()))
        .with("after", &tenant);
    state.audit.record(event).await?;
    Ok((StatusCode::CREATED, Json(tenant)))
}

/// One tenant by id or slug.
#[utoipa::path(get, path = "/api/v1/tenants/{id}", tag = "Tenants and people",
    params(("id" = String, Path, description = "The tenant's id or slug")),
    responses((status = 200, body = Tenant), (status = 401, body = ErrorEnvelope),
              (status = 404, body = ErrorEnvelope)),
    security(("admin_api_key" = [])))]
pub async fn read_tenant(
    State(state): State<AppState>,
    api: ApiCaller,
    Path(id): Path<String>,
) -> Result<Json<Tenant>, ApiError> {
    Ok(Json(tenants::find(&state.store, &api.access, &id).await?))
}

/// Renames a tenant and sets its email domains (the slug stays).
#[utoipa::path(put, path = "/api/v1/tenants/{id}", tag = "Tenants and people",
    params(("id" = String, Path, description = "The tenant's id or slug")),
    request_body = TenantDraft,
    responses((status = 200, body = Tenant), (status = 400, body = ErrorEnvelope),
              (status = 401, body = ErrorEnvelope), (status = 404, body = ErrorEnvelope)),
    security(("admin_api_key" = [])))]
pub async fn update_tenant(
    State(state): State<AppState>,
    api: ApiCaller,
    caller: Caller,
    Path(id): Path<String>,
    ApiJson(draft): ApiJson<TenantDraft>,
) -> Result<Json<Tenant>, ApiError> {
    let (before, after) = tenants::update(&state.store, &api.access, &id, &draft).await?;
    let event = changed(&api, &caller, "tenant.updated")
        .tenant(Some(after.id.as_str()))
        .with("before", &before)
        .with("after", &after);
    state.audit.record(event).await?;
    Ok(Json(after))
}

/// The tenant's decisions about agents.
#[utoipa::path(get, path = "/api/v1/tenants/{id}/approvals", tag = "Tenants and people",
    params(("id" = String, Path, description = "The tenant's id or slug")),
    responses((status = 200, body = Vec<TenantApproval>), (status = 401, body = ErrorEnvelope),
              (status = 404, body = ErrorEnvelope)),
    security(("admin_api_key" = [])))]
pub async fn approvals(
    State(state): State<AppState>,
    api: ApiCaller,
    Path(id): Path<String>,
) -> Result<Json<Vec<TenantApproval>>, ApiError> {
    let tenant = tenants::find(&state.store, &api.access, &id).await?;
    Ok(Json(
        state.store.tenant_approvals_of(tenant.id.as_str()).await?,
    ))
}

/// Approves (with scopes), blocks, or withdraws the decision about an agent on a server.
#[utoipa::path(put, path = "/api/v1/tenants/{id}/approvals", tag = "Tenants and people",
    params(("id" = String, Path, description = "The tenant's id or slug")),
    request_body = ApprovalDraft,
    responses((status = 200, body = Option<TenantApproval>), (status = 400, body = ErrorEnvelope),
              (status = 401, body = ErrorEnvelope), (status = 404, body = ErrorEnvelope)),
    security(("admin_api_key" = [])))]
pub async fn decide(
    State(state): State<AppState>,
    api: ApiCaller,
    caller: Caller,
    Path(id): Path<String>,
    ApiJson(draft): ApiJson<ApprovalDraft>,
) -> Result<Json<Option<TenantApproval>>, ApiError> {
    let (before, after) =
        tenants::decide(&state.store, &api.access, &id, &draft, state.now()).await?;
    let tenant = tenants::find(&state.store, &api.access, &id).await?;
    let event = changed(&api, &caller, "tenant.agent_decided")
        .tenant(Some(tenant.id.as_str()))
        .agent(draft.agent.trim())
        .with("before", &before)
        .with("after", &after);
    state.audit.record(event).await?;
    Ok(Json(after))
}

/// People newest first (a tenant admin's key: members of their tenants).
#[utoipa::path(get, path = "/api/v1/users", tag = "Tenants and people",
    params(("q" = Option<String>, Query, description = "Part of the email or name"),
           ("cursor" = Option<String>, Query, description = "The previous page's next_cursor"),
           ("limit" = Option<i64>, Query, description = "1 to 200; 50 by default")),
    responses((status = 200, body = UserPage), (status = 400, body = ErrorEnvelope),
              (status = 401, body = ErrorEnvelope)),
    security(("admin_api_key" = [])))]
pub async fn list_users(
    State(state): State<AppState>,
    api: ApiCaller,
    Query(params): Query<HashMap<String, String>>,
) -> Result<Json<UserPage>, ApiError> {
    let get = |k: &str| params.get(k).cloned().unwrap_or_default();
    let limit = limit_param(&params, 50, 200)?;
    Ok(Json(
        users::list(&state.store, &api.access, &get("q"), &get("cursor"), limit).await?,
    ))
}

/// Invites a person into a tenant: the answer holds a link (valid 7 days, shown once) where
/// they choose their password.
#[utoipa::path(post, path = "/api/v1/users", tag = "Tenants and people",
    request_body = InviteDraft,
    responses((status = 201, body = PasswordLink), (status = 400, body = ErrorEnvelope),
              (status = 401, body = ErrorEnvelope), (status = 403, body = ErrorEnvelope)),
    security(("admin_api_key" = [])))]
pub async fn invite(
    State(state): State<AppState>,
    api: ApiCaller,
    caller: Caller,
    ApiJson(draft): ApiJson<InviteDraft>,
) -> Result<(StatusCode, Json<PasswordLink>), ApiError> {
    let (user, token) = users::invite(&state.store, &api.access, &draft, state.now()).await?;
    let event = changed(&api, &caller, "user.invited")
        .with("subject", user.id.as_str())
        .with("after", json_user(&user, &draft.membership));
    state.audit.record(event).await?;
    Ok((
        StatusCode::CREATED,
        Json(link_of(&state, user.id.as_str(), &token)),
    ))
}

fn json_user(user: &mandate_core::model::User, m: &MembershipDraft) -> serde_json::Value {
    serde_json::json!({ "email": user.email, "display_name": user.display_name, "membership": m })
}

/// One person with their memberships (in the tenants the caller administers).
#[utoipa::path(get, path = "/api/v1/users/{id}", tag = "Tenants and people",
    params(("id" = String, Path, description = "The person's id or email")),
    responses((status = 200, body = UserDetail), (status = 401, body = ErrorEnvelope),
              (status = 404, body = ErrorEnvelope)),
    security(("admin_api_key" = [])))]
pub async fn read_user(
    State(state): State<AppState>,
    api: ApiCaller,
    Path(id): Path<String>,
) -> Result<Json<UserDetail>, ApiError> {
    Ok(Json(users::get(&state.store, &api.access, &id).await?))
}

#[derive(Deserialize, utoipa::ToSchema)]
pub struct UserChanges {
    /// Disabling ends their sessions and revokes their refresh tokens at once.
    disabled: bool,
}

/// Disables or enables a person.
#[utoipa::path(patch, path = "/api/v1/users/{id}", tag = "Tenants and people",
    params(("id" = String, Path, description = "The person's id or email")),
    request_body = UserChanges,
    responses((status = 200, body = UserDetail), (status = 400, body = ErrorEnvelope),
              (status = 401, body = ErrorEnvelope), (status = 403, body = ErrorEnvelope),
              (status = 404, body = ErrorEnvelope)),
    security(("admin_api_key" = [])))]
pub async fn update_user(
    State(state): State<AppState>,
    api: ApiCaller,
    caller: Caller,
    Path(id): Path<String>,
    ApiJson(changes): ApiJson<UserChanges>,
) -> Result<Json<UserDetail>, ApiError> {
    let (before, user) = users::set_disabled(
        &state.store,
        &api.access,
        &id,
        changes.disabled,
        state.now(),
    )
    .await?;
    let action = if changes.disabled {
        "user.disabled"
    } else {
        "user.enabled"
    };
    let event = changed(&api, &caller, action)
        .with("subject", user.id.as_str())
        .with("before", serde_json::json!({ "disabled": before.disabled }))
        .with("after", serde_json::json!({ "disabled": user.disabled }));
    state.audit.record(event).await?;
    Ok(Json(
        users::get(&state.store, &api.access, user.id.as_str()).await?,
    ))
}

/// A new link for the person to choose a password (earlier links stop working).
#[utoipa::path(post, path = "/api/v1/users/{id}/password-link", tag = "Tenants and people",
    params(("id" = String, Path, description = "The person's id or email")),
    responses((status = 200, body = PasswordLink), (status = 401, body = ErrorEnvelope),
              (status = 403, body = ErrorEnvelope), (status = 404, body = ErrorEnvelope)),
    security(("admin_api_key" = [])))]
pub async fn password_link(
    State(state): State<AppState>,
    api: ApiCaller,
    caller: Caller,
    Path(id): Path<String>,
) -> Result<Json<PasswordLink>, ApiError> {
    let (user, token) = users::password_link(&state.store, &api.access, &id, state.now()).await?;
    let event = changed(&api, &caller, "user.password_link").with("subject", user.id.as_str());
    state.audit.record(event).await?;
    Ok(Json(link_of(&state, user.id.as_str(), &token)))
}

/// Removes the person's second factors (TOTP, recovery codes, passkeys) and ends their sessions.
#[utoipa::path(post, path = "/api/v1/users/{id}/reset-mfa", tag = "Tenants and people",
    params(("id" = String, Path, description = "The person's id or email")),
    responses((status = 204, description = "Reset"), (status = 401, body = ErrorEnvelope),
              (status = 403, body = ErrorEnvelope), (status = 404, body = ErrorEnvelope)),
    security(("admin_api_key" = [])))]
pub async fn reset_mfa(
    State(state): State<AppState>,
    api: ApiCaller,
    caller: Caller,
    Path(id): Path<String>,
) -> Result<StatusCode, ApiError> {
    let user = users::reset_mfa(&state.store, &api.access, &id, state.now()).await?;
    let event = changed(&api, &caller, "user.mfa_reset").with("subject", user.id.as_str());
    state.audit.record(event).await?;
    Ok(StatusCode::NO_CONTENT)
}

/// Adds the person to a tenant, or sets their roles, permissions and admin flag there.
#[utoipa::path(put, path = "/api/v1/users/{id}/memberships", tag = "Tenants and people",
    params(("id" = String, Path, description = "The person's id or email")),
    request_body = MembershipDraft,
    responses((status = 200, body = UserDetail), (status = 400, body = ErrorEnvelope),
              (status = 401, body = ErrorEnvelope), (status = 404, body = ErrorEnvelope)),
    security(("admin_api_key" = [])))]
pub async fn set_membership(
    State(state): State<AppState>,
    api: ApiCaller,
    caller: Caller,
    Path(id): Path<String>,
    ApiJson(draft): ApiJson<MembershipDraft>,
) -> Result<Json<UserDetail>, ApiError> {
    let (before, after) =
        users::set_membership(&state.store, &api.access, &id, &draft, state.now()).await?;
    let event = changed(&api, &caller, "membership.set")
        .tenant(Some(after.tenant_id.as_str()))
        .with("subject", id.as_str())
        .with("before", &before)
        .with("after", &after);
    state.audit.record(event).await?;
    Ok(Json(users::get(&state.store, &api.access, &id).await?))
}

/// Takes the person out of a tenant: their consents there go too, and the tokens agents hold
/// for them in that tenant are revoked at once.
#[utoipa::path(delete, path = "/api/v1/users/{id}/memberships/{tenant}", tag = "Tenants and people",
    params(("id" = String, Path, description = "The person's id or email"),
           ("tenant" = String, Path, description = "The tenant's id or slug")),
    responses((status = 204, description = "Removed"), (status = 401, body = ErrorEnvelope),
              (status = 404, body = ErrorEnvelope)),
    security(("admin_api_key" = [])))]
pub async fn remove_membership(
    State(state): State<AppState>,
    api: ApiCaller,
    caller: Caller,
    Path((id, tenant)): Path<(String, String)>,
) -> Result<StatusCode, ApiError> {
    let before =
        users::remove_membership(&state.store, &api.access, &id, &tenant, state.now()).await?;
    let event = changed(&api, &caller, "membership.removed")
        .tenant(Some(before.tenant_id.as_str()))
        .with("subject", id.as_str())
        .with("before", &before);
    state.audit.record(event).await?;
    Ok(StatusCode::NO_CONTENT)
}
