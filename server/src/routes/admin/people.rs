//! The tenants and people pages' forms. Each checks the CSRF token and the caller's rights
//! (through `mandate_core::admin::{tenants, users}`), answers a refused form with the page at
//! the form's address (errors beside fields), and records an `admin.changed` event.

use app::api::screen::PageNotice;
use axum::body::Bytes;
use axum::extract::{Path, State};
use axum::http::StatusCode;
use axum::response::{IntoResponse, Redirect, Response};
use mandate_core::admin::tenants::{self, ApprovalDraft, TenantDraft};
use mandate_core::admin::users::{self, InviteDraft, MembershipDraft};
use mandate_core::secret::Secret;

use super::{changed, field, form_post, record, refused};
use crate::request_context::Caller;
use crate::state::AppState;
use crate::ui::{self, RequestHead};

fn list(text: &str) -> Vec<String> {
    text.split([',', ' '])
        .map(str::trim)
        .filter(|s| !s.is_empty())
        .map(str::to_owned)
        .collect()
}

fn link_url(state: &AppState, token: &Secret) -> String {
    format!(
        "{}/set-password?token={}",
        state.config.public_url.trim_end_matches('/'),
        token.expose()
    )
}

pub async fn create_tenant(
    State(state): State<AppState>,
    head: RequestHead,
    caller: Caller,
    body: Bytes,
) -> Response {
    let (access, form) = match form_post(&state, &head, &body).await {
        Ok(found) => found,
        Err(response) => return response,
    };
    let draft = TenantDraft {
        slug: field(&form, "slug").to_owned(),
        name: field(&form, "name").to_owned(),
        email_domains: list(field(&form, "email_domains")),
        logo_url: field(&form, "logo_url").to_owned(),
    };
    match tenants::create(&state.store, &access, &draft, state.now()).await {
        Ok(tenant) => {
            let event = changed(&access, &caller, "tenant.created")
                .tenant(Some(tenant.id.as_str()))
                .with("after", &tenant);
            record(&state, event).await;
            Redirect::to(&format!("/admin/tenants/{}", tenant.slug)).into_response()
        }
        Err(e) => refused(&state, head, e, Some(form), "The tenant was not created").await,
    }
}

pub async fn update_tenant(
    State(state): State<AppState>,
    Path(slug): Path<String>,
    head: RequestHead,
    caller: Caller,
    body: Bytes,
) -> Response {
    let (access, form) = match form_post(&state, &head, &body).await {
        Ok(found) => found,
        Err(response) => return response,
    };
    // The page's single sign-on forms post here too (so a refusal renders this page).
    match field(&form, "intent") {
        "sso_save" => return super::sso::save(&state, head, &caller, &access, &slug, form).await,
        "sso_remove" => return super::sso::remove(&state, head, &caller, &access, &slug).await,
        _ => {}
    }
    let draft = TenantDraft {
        slug: slug.clone(),
        name: field(&form, "name").to_owned(),
        email_domains: list(field(&form, "email_domains")),
        logo_url: field(&form, "logo_url").to_owned(),
    };
    match tenants::update(&state.store, &access, &slug, &draft).await {
        Ok((before, after)) => {
            let event = changed(&access, &caller, "tenant.updated")
                .tenant(Some(after.id.as_str()))
                .with("before", &before)
                .with("after", &after);
            record(&state, event).await;
            Redirect::to(&format!("/admin/tenants/{slug}")).into_response()
        }
        Err(e) => refused(&state, head, e, Some(form), "The changes were not saved").await,
    }
}

pub async fn decide(
    State(state): State<AppState>,
    Path(slug): Path<String>,
    head: RequestHead,
    caller: Caller,
    body: Bytes,
) -> Response {
    let (access, form) = match form_post(&state, &head, &body).await {
        Ok(found) => found,
        Err(response) => return response,
    };
    let draft = ApprovalDraft {
        agent: field(&form, "agent").to_owned(),
        mcp_server: field(&form, "mcp_server").to_owned(),
        decision: field(&form, "decision").to_owned(),
        scopes: list(field(&form, "scopes")),
    };
    match tenants::decide(&state.store, &access, &slug, &draft, state.now()).await {
        Ok((before, after)) => {
            let tenant = after
                .as_ref()
                .or(before.as_ref())
                .map(|a| a.tenant_id.clone());
            let event = changed(&access, &caller, "tenant.agent_decided")
                .tenant(tenant)
                .agent(draft.agent.trim())
                .with("before", &before)
                .with("after", &after);
            record(&state, event).await;
            Redirect::to(&format!("/admin/tenants/{slug}")).into_response()
        }
        Err(e) => refused(&state, head, e, Some(form), "The decision was not saved").await,
    }
}

pub async fn invite(
    State(state): State<AppState>,
    head: RequestHead,
    caller: Caller,
    body: Bytes,
) -> Response {
    let (access, form) = match form_post(&state, &head, &body).await {
        Ok(found) => found,
        Err(response) => return response,
    };
    let draft = InviteDraft {
        email: field(&form, "email").to_owned(),
        display_name: field(&form, "display_name").to_owned(),
        membership: MembershipDraft {
            tenant: field(&form, "tenant").to_owned(),
            roles: list(field(&form, "roles")),
            permissions: list(field(&form, "permissions")),
            is_tenant_admin: field(&form, "is_tenant_admin") == "on",
        },
    };
    match users::invite(&state.store, &access, &draft, state.now()).await {
        Ok((user, token)) => {
            let event = changed(&access, &caller, "user.invited")
                .with("subject", user.id.as_str())
                .with(
                    "after",
                    serde_json::json!({ "email": user.email, "membership": draft.membership }),
                );
            record(&state, event).await;
            let notice = PageNotice {
                info: Some(format!("{} is invited.", user.email)),
                secret: Some(link_url(&state, &token)),
                ..PageNotice::default()
            };
            ui::render(&state, head, None, notice, StatusCode::CREATED).await
        }
        Err(e) => refused(&state, head, e, Some(form), "Nobody was invited").await,
    }
}

/// The person pages' account actions: `disable`, `reset-mfa`, `password-link`.
pub async fn account_action(
    State(state): State<AppState>,
    Path((id, action)): Path<(String, String)>,
    head: RequestHead,
    caller: Caller,
    body: Bytes,
) -> Response {
    let (access, form) = match form_post(&state, &head, &body).await {
        Ok(found) => found,
        Err(response) => return response,
    };
    let back = format!("/admin/users/{id}");
    let now = state.now();
    match action.as_str() {
        "disable" => {
            let disabled = field(&form, "disabled") == "yes";
            match users::set_disabled(&state.store, &access, &id, disabled, now).await {
                Ok((before, after)) => {
                    let what = if disabled {
                        "user.disabled"
                    } else {
                        "user.enabled"
                    };
                    let event = changed(&access, &caller, what)
                        .with("subject", after.id.as_str())
                        .with("before", serde_json::json!({ "disabled": before.disabled }))
                        .with("after", serde_json::json!({ "disabled": after.disabled }));
                    record(&state, event).await;
                    Redirect::to(&back).into_response()
                }
                Err(e) => refused(&state, head, e, None, "Nothing was changed").await,
            }
        }
        "reset-mfa" => match users::reset_mfa(&state.store, &access, &id, now).await {
            Ok(user) => {
                record(
                    &state,
                    changed(&access, &caller, "user.mfa_reset").with("subject", user.id.as_str()),
                )
                .await;
                Redirect::to(&back).into_response()
            }
            Err(e) => refused(&state, head, e, None, "Nothing was reset").await,
        },
        "password-link" => match users::password_link(&state.store, &access, &id, now).await {
            Ok((user, token)) => {
                record(
                    &state,
                    changed(&access, &caller, "user.password_link")
                        .with("subject", user.id.as_str()),
                )
                .await;
                let notice = PageNotice {
                    secret: Some(link_url(&state, &token)),
                    ..PageNotice::default()
                };
                ui::render(&state, head, None, notice, StatusCode::OK).await
            }
            Err(e) => refused(&state, head, e, None, "No link was made").await,
        },
        "memberships" => {
            let draft = MembershipDraft {
                tenant: field(&form, "tenant").to_owned(),
                roles: list(field(&form, "roles")),
                permissions: list(field(&form, "permissions")),
                is_tenant_admin: field(&form, "is_tenant_admin") == "on",
            };
            match users::set_membership(&state.store, &access, &id, &draft, now).await {
                Ok((before, after)) => {
                    let event = changed(&access, &caller, "membership.set")
                        .tenant(Some(after.tenant_id.as_str()))
                        .with("subject", id.as_str())
                        .with("before", &before)
                        .with("after", &after);
                    record(&state, event).await;
                    Redirect::to(&back).into_response()
                }
                Err(e) => {
                    refused(&state, head, e, Some(form), "The membership was not saved").await
                }
            }
        }
        _ => crate::pages::error_page(
            StatusCode::NOT_FOUND,
            "Nothing here",
            "This form does not exist.",
        ),
    }
}

pub async fn remove_membership(
    State(state): State<AppState>,
    Path(id): Path<String>,
    head: RequestHead,
    caller: Caller,
    body: Bytes,
) -> Response {
    let (access, form) = match form_post(&state, &head, &body).await {
        Ok(found) => found,
        Err(response) => return response,
    };
    if field(&form, "confirm") != "yes" {
        let notice = PageNotice::error("Tick “Yes, remove” to take them out of the tenant.");
        return ui::render(&state, head, None, notice, StatusCode::BAD_REQUEST).await;
    }
    let tenant = field(&form, "tenant");
    match users::remove_membership(&state.store, &access, &id, tenant, state.now()).await {
        Ok(before) => {
            let event = changed(&access, &caller, "membership.removed")
                .tenant(Some(before.tenant_id.as_str()))
                .with("subject", id.as_str())
                .with("before", &before);
            record(&state, event).await;
            Redirect::to(&format!("/admin/users/{id}")).into_response()
        }
        Err(e) => refused(&state, head, e, None, "Nothing was removed").await,
    }
}
