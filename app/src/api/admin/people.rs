//! The tenants and people pages' facts. Project admins see every tenant and person; a tenant
//! admin sees their tenants and the people in them, and only those memberships.

use std::collections::BTreeMap;

use leptos::prelude::*;
use serde::{Deserialize, Serialize};

use super::{AdminHeader, Choice};
use crate::api::screen::Screen;

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct TenantRow {
    pub slug: String,
    pub name: String,
    pub domains: String,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct TenantsView {
    pub header: AdminHeader,
    pub csrf: String,
    pub may_create: bool,
    pub tenants: Vec<TenantRow>,
    pub form: BTreeMap<String, String>,
    pub field_errors: BTreeMap<String, String>,
    pub error: Option<String>,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct ApprovalRow {
    pub agent: String,
    pub agent_href: String,
    pub server: String,
    pub decision: String,
    pub scopes: String,
    pub decided: String,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct TenantView {
    pub header: AdminHeader,
    pub csrf: String,
    pub slug: String,
    pub name: String,
    pub domains: String,
    pub approvals: Vec<ApprovalRow>,
    pub servers: Vec<Choice>,
    pub form: BTreeMap<String, String>,
    pub field_errors: BTreeMap<String, String>,
    pub error: Option<String>,
    pub info: Option<String>,
    /// Whether the tenant has single sign-on set up (its fields are `sso_*` in `form`).
    pub sso_configured: bool,
    /// The redirect URI to register at the tenant's OpenID provider.
    pub sso_redirect_uri: String,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct PersonRow {
    pub id: String,
    pub email: String,
    pub name: String,
    pub status: String,
    pub created: String,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct PeopleView {
    pub header: AdminHeader,
    pub csrf: String,
    pub q: String,
    pub people: Vec<PersonRow>,
    pub next_href: Option<String>,
    pub tenants: Vec<Choice>,
    pub form: BTreeMap<String, String>,
    pub field_errors: BTreeMap<String, String>,
    /// A password link just made: shown once.
    pub link: Option<String>,
    pub error: Option<String>,
    pub info: Option<String>,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct MembershipRow {
    pub tenant_slug: String,
    pub tenant_name: String,
    pub roles: String,
    pub permissions: String,
    pub is_tenant_admin: bool,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct PersonView {
    pub header: AdminHeader,
    pub csrf: String,
    pub id: String,
    pub email: String,
    pub name: String,
    pub disabled: bool,
    pub is_project_admin: bool,
    pub second_factors: String,
    pub memberships: Vec<MembershipRow>,
    pub tenants: Vec<Choice>,
    pub form: BTreeMap<String, String>,
    pub field_errors: BTreeMap<String, String>,
    pub link: Option<String>,
    pub error: Option<String>,
    pub info: Option<String>,
}

/// A console page's server function; `$endpoint` is its path under `/api` (fixed, so the
/// browser bundle and the server always agree on it).
macro_rules! console_screen {
    ($name:ident, $endpoint:tt, $view:ty, $builder:ident $(, $arg:ident: $ty:ty)*) => {
        #[server(endpoint = $endpoint)]
        pub async fn $name($($arg: $ty),*) -> Result<Screen<$view>, ServerFnError> {
            let admin = match super::admin().await {
                Ok(admin) => admin,
                Err(screen) => return Ok(screen),
            };
            let (csrf, notice) = match super::form_page().await {
                Ok(found) => found,
                Err(screen) => return Ok(screen),
            };
            Ok(ssr::$builder(admin, csrf, notice $(, $arg)*)
                .await
                .unwrap_or_else(super::failed))
        }
    };
}

console_screen!(tenants_screen, "tenants_screen", TenantsView, tenants_view);
console_screen!(tenant_screen, "tenant_screen", TenantView, tenant_view, slug: String);
console_screen!(people_screen, "people_screen", PeopleView, people_view, q: String, cursor: String);
console_screen!(person_screen, "person_screen", PersonView, person_view, id: String);

#[cfg(feature = "ssr")]
mod ssr {
    use mandate_core::admin::{tenants, users, AdminError};
    use mandate_core::CoreResult;

    use super::*;
    use crate::api::admin::time_text::utc;
    use crate::api::admin::Admin;
    use crate::api::screen::{respond, ErrorView, PageNotice};

    fn form_of(notice: &PageNotice) -> BTreeMap<String, String> {
        notice
            .form
            .as_ref()
            .map(|pairs| pairs.iter().cloned().collect())
            .unwrap_or_default()
    }

    fn not_found<T>(what: &str) -> Screen<T> {
        respond(Screen::Error(ErrorView::new(
            404,
            format!("No such {what}"),
            format!("No {what} you administer has this address."),
        )))
    }

    async fn tenant_choices(admin: &Admin) -> CoreResult<Vec<Choice>> {
        Ok(match tenants::list(&admin.ctx.store, &admin.access).await {
            Ok(list) => list
                .into_iter()
                .map(|t| Choice {
                    value: t.slug,
                    label: t.name,
                })
                .collect(),
            Err(AdminError::Store(e)) => return Err(e),
            Err(_) => Vec::new(),
        })
    }

    pub async fn tenants_view(
        admin: Admin,
        csrf: String,
        notice: PageNotice,
    ) -> CoreResult<Screen<TenantsView>> {
        let list = match tenants::list(&admin.ctx.store, &admin.access).await {
            Ok(list) => list,
            Err(AdminError::Store(e)) => return Err(e),
            Err(_) => Vec::new(),
        };
        Ok(respond(Screen::Show(TenantsView {
            may_create: admin.access.is_project_admin(),
            header: admin.header,
            csrf,
            tenants: list
                .into_iter()
                .map(|t| TenantRow {
                    slug: t.slug,
                    name: t.name,
                    domains: t.email_domains.join(", "),
                })
                .collect(),
            form: form_of(&notice),
            field_errors: notice.fields,
            error: notice.error,
        })))
    }

    pub async fn tenant_view(
        admin: Admin,
        csrf: String,
        notice: PageNotice,
        slug: String,
    ) -> CoreResult<Screen<TenantView>> {
        let store = &admin.ctx.store;
        let tenant = match tenants::find(store, &admin.access, &slug).await {
            Ok(t) => t,
            Err(AdminError::Store(e)) => return Err(e),
            Err(_) => return Ok(not_found("tenant")),
        };
        let servers = store.list_mcp_servers().await?;
        let server_name = |id: &str| {
            servers
                .iter()
                .find(|s| s.id.as_str() == id)
                .map_or_else(|| id.to_owned(), |s| s.name.clone())
        };
        let approvals = store
            .tenant_approvals_of(tenant.id.as_str())
            .await?
            .into_iter()
            .map(|a| ApprovalRow {
                agent_href: crate::api::admin::agents::agent_href(&a.agent_id),
                server: server_name(&a.mcp_server_id),
                agent: a.agent_id,
                decision: a.decision,
                scopes: a.scopes.join(" "),
                decided: utc(a.decided_at),
            })
            .collect();
        // What is stored, then a refused form's fields as typed (the settings or the SSO form).
        let mut form = BTreeMap::from([
            ("name".to_owned(), tenant.name.clone()),
            ("email_domains".to_owned(), tenant.email_domains.join(", ")),
            (
                "logo_url".to_owned(),
                tenant.logo_url.clone().unwrap_or_default(),
            ),
        ]);
        let sso = store.sso_of(tenant.id.as_str()).await?.map(|(s, _)| s);
        if let Some(s) = &sso {
            form.extend([
                ("sso_issuer_url".to_owned(), s.issuer_url.clone()),
                ("sso_client_id".to_owned(), s.client_id.clone()),
                ("sso_scopes".to_owned(), s.scopes.join(" ")),
                ("sso_email_domains".to_owned(), s.email_domains.join(", ")),
                (
                    "sso_enforce".to_owned(),
                    if s.enforce { "on" } else { "" }.to_owned(),
                ),
                ("sso_groups_claim".to_owned(), s.groups_claim.clone()),
                (
                    "sso_role_mapping".to_owned(),
                    mandate_core::tenancy::role_mapping_text(&s.role_mapping),
                ),
            ]);
        } else {
            form.insert("sso_scopes".to_owned(), "openid email profile".to_owned());
            form.insert("sso_groups_claim".to_owned(), "groups".to_owned());
        }
        if let Some(pairs) = &notice.form {
            if pairs.iter().any(|(k, _)| k == "sso_issuer_url") {
                // An unticked box is not sent.
                form.insert("sso_enforce".to_owned(), String::new());
            }
            form.extend(pairs.iter().filter(|(k, _)| k != "csrf").cloned());
        }
        Ok(respond(Screen::Show(TenantView {
            header: admin.header,
            csrf,
            domains: tenant.email_domains.join(", "),
            slug: tenant.slug,
            name: tenant.name,
            approvals,
            servers: servers
                .into_iter()
                .map(|s| Choice {
                    value: s.slug,
                    label: s.name,
                })
                .collect(),
            form,
            field_errors: notice.fields,
            error: notice.error,
            info: notice.info,
            sso_configured: sso.is_some(),
            sso_redirect_uri: mandate_core::tenancy::sso_redirect_uri(&admin.ctx.public_url),
        })))
    }

    pub async fn people_view(
        admin: Admin,
        csrf: String,
        notice: PageNotice,
        q: String,
        cursor: String,
    ) -> CoreResult<Screen<PeopleView>> {
        let store = &admin.ctx.store;
        let (people, next) = match users::list(store, &admin.access, &q, &cursor, 50).await {
            Ok(page) => (page.users, page.next_cursor),
            Err(AdminError::Store(e)) => return Err(e),
            Err(_) => (Vec::new(), None),
        };
        let next_href = next.map(|c| {
            let query = url::form_urlencoded::Serializer::new(String::new())
                .append_pair("q", &q)
                .append_pair("cursor", &c)
                .finish();
            format!("/admin/users?{query}")
        });
        Ok(respond(Screen::Show(PeopleView {
            tenants: tenant_choices(&admin).await?,
            header: admin.header,
            csrf,
            q,
            people: people
                .into_iter()
                .map(|u| PersonRow {
                    status: if u.disabled { "disabled" } else { "active" }.to_owned(),
                    created: utc(u.created_at),
                    id: u.id,
                    email: u.email,
                    name: u.display_name,
                })
                .collect(),
            next_href,
            form: form_of(&notice),
            field_errors: notice.fields,
            link: notice.secret,
            error: notice.error,
            info: notice.info,
        })))
    }

    pub async fn person_view(
        admin: Admin,
        csrf: String,
        notice: PageNotice,
        id: String,
    ) -> CoreResult<Screen<PersonView>> {
        let detail = match users::get(&admin.ctx.store, &admin.access, &id).await {
            Ok(d) => d,
            Err(AdminError::Store(e)) => return Err(e),
            Err(_) => return Ok(not_found("person")),
        };
        let factors = match (detail.has_totp, detail.passkeys) {
            (false, 0) => "none".to_owned(),
            (totp, n) => {
                let mut parts = Vec::new();
                if totp {
                    parts.push("authenticator app".to_owned());
                }
                if n > 0 {
                    parts.push(format!("{n} passkey(s)"));
                }
                parts.join(", ")
            }
        };
        Ok(respond(Screen::Show(PersonView {
            tenants: tenant_choices(&admin).await?,
            header: admin.header,
            csrf,
            id: detail.user.id,
            email: detail.user.email,
            name: detail.user.display_name,
            disabled: detail.user.disabled,
            is_project_admin: detail.user.is_project_admin,
            second_factors: factors,
            memberships: detail
                .memberships
                .into_iter()
                .map(|m| MembershipRow {
                    tenant_slug: m.tenant_slug,
                    tenant_name: m.tenant_name,
                    roles: m.roles.join(", "),
                    permissions: m.permissions.join(", "),
                    is_tenant_admin: m.is_tenant_admin,
                })
                .collect(),
            form: form_of(&notice),
            field_errors: notice.fields,
            link: notice.secret,
            error: notice.error,
            info: notice.info,
        })))
    }
}
