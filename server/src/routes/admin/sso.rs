//! The tenant page's single sign-on forms (`intent` `sso_save` / `sso_remove`, posted to the
//! tenant's page): a refused form comes back as typed with errors beside its fields. Every
//! change is an `admin.changed` event (never with the client secret).

use axum::response::{IntoResponse, Redirect, Response};
use mandate_core::access::AdminAccess;
use mandate_core::admin::sso::{self, SsoDraft};

use super::{changed, field, prefixed, record, refused};
use crate::request_context::Caller;
use crate::state::AppState;
use crate::ui::RequestHead;

/// Saves tenant `slug`'s single sign-on from the form.
pub async fn save(
    state: &AppState,
    head: RequestHead,
    caller: &Caller,
    access: &AdminAccess,
    slug: &str,
    form: Vec<(String, String)>,
) -> Response {
    let draft = SsoDraft {
        issuer_url: field(&form, "sso_issuer_url").to_owned(),
        client_id: field(&form, "sso_client_id").to_owned(),
        client_secret: field(&form, "sso_client_secret").to_owned(),
        scopes: field(&form, "sso_scopes").to_owned(),
        email_domains: field(&form, "sso_email_domains").to_owned(),
        enforce: field(&form, "sso_enforce") == "on",
        groups_claim: field(&form, "sso_groups_claim").to_owned(),
        role_mapping: field(&form, "sso_role_mapping").to_owned(),
    };
    let saved = sso::save(
        &state.store,
        access,
        &state.master_key,
        slug,
        &draft,
        state.now(),
    )
    .await;
    // The secret is never sent back into the page.
    let form: Vec<(String, String)> = form
        .into_iter()
        .filter(|(k, _)| k != "sso_client_secret")
        .collect();
    match saved {
        Ok((before, after)) => {
            let event = changed(access, caller, "tenant.sso_saved")
                .tenant(Some(after.tenant_id.as_str()))
                .with("before", &before)
                .with("after", &after);
            record(state, event).await;
            Redirect::to(&format!("/admin/tenants/{slug}")).into_response()
        }
        Err(e) => {
            let e = prefixed(e, "sso_");
            refused(state, head, e, Some(form), "Single sign-on was not saved").await
        }
    }
}

/// Removes tenant `slug`'s single sign-on (its people sign in with passwords again).
pub async fn remove(
    state: &AppState,
    head: RequestHead,
    caller: &Caller,
    access: &AdminAccess,
    slug: &str,
) -> Response {
    match sso::remove(&state.store, access, slug).await {
        Ok(before) => {
            let event = changed(access, caller, "tenant.sso_removed")
                .tenant(Some(before.tenant_id.as_str()))
                .with("before", &before);
            record(state, event).await;
            Redirect::to(&format!("/admin/tenants/{slug}")).into_response()
        }
        Err(e) => refused(state, head, e, None, "Single sign-on was not removed").await,
    }
}
