//! The console's server functions. Each one first obtains the caller's admin capability
//! (`mandate_core::access::AdminAccess`, through the server's [`Screens`]) and only then reads
//! anything; what a tenant admin may see is narrowed by that capability, never by the page.
//!
//! [`Screens`]: crate::api::screen::Screens

pub mod agents;
pub mod api_keys;
pub mod audit;
pub mod connections;
pub mod dashboard;
pub mod mcp_servers;
pub mod people;
pub mod policies;
#[cfg(feature = "ssr")]
pub mod time_text;

use serde::{Deserialize, Serialize};

/// Who is using the console, for its frame.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct AdminHeader {
    pub email: String,
    /// "Project admin", or "Tenant admin of Acme, Globex".
    pub role: String,
}

/// One option of a filter's select.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Choice {
    pub value: String,
    pub label: String,
}

#[cfg(feature = "ssr")]
pub use ssr::*;

#[cfg(feature = "ssr")]
mod ssr {
    use leptos::prelude::*;
    use mandate_core::access::AdminAccess;

    use super::AdminHeader;
    use crate::api::screen::{respond, screens, ErrorView, Screen};
    use crate::context::UiContext;

    /// The console's caller: their capability, the frame's header and the UI context.
    pub struct Admin {
        pub access: AdminAccess,
        pub header: AdminHeader,
        pub ctx: UiContext,
    }

    /// A server-side failure as the page's error (the cause is logged, never shown).
    pub fn failed<T>(e: impl std::fmt::Display) -> Screen<T> {
        leptos::logging::error!("console: {e}");
        respond(Screen::Error(ErrorView::new(
            500,
            "This page cannot be shown",
            "Something went wrong on our side. Try again in a moment.",
        )))
    }

    /// The signed-in admin, or the screen to show instead (sign in first, or "not for you").
    pub async fn admin<T>() -> Result<Admin, Screen<T>> {
        let (screens, request) = screens().map_err(failed)?;
        let ctx = use_context::<UiContext>().ok_or_else(|| failed("no UI context"))?;
        let access = match screens.admin(request).await {
            Screen::Show(access) => access,
            Screen::Redirect(to) => return Err(respond(Screen::Redirect(to))),
            Screen::Error(e) => return Err(respond(Screen::Error(e))),
        };
        let header = header_of(&ctx, &access).await.map_err(failed)?;
        Ok(Admin {
            access,
            header,
            ctx,
        })
    }

    /// For a console page with forms: the session's CSRF token and what a refused form's
    /// answer added (errors, the form as sent, a secret shown once); or the screen to show.
    pub async fn form_page<T>() -> Result<(String, crate::api::screen::PageNotice), Screen<T>> {
        let (screens, request) = screens().map_err(failed)?;
        let notice = request
            .extensions
            .get::<crate::api::screen::PageNotice>()
            .cloned()
            .unwrap_or_default();
        match screens.csrf(request).await {
            Screen::Show(csrf) => Ok((csrf, notice)),
            Screen::Redirect(to) => Err(respond(Screen::Redirect(to))),
            Screen::Error(e) => Err(respond(Screen::Error(e))),
        }
    }

    async fn header_of(
        ctx: &UiContext,
        access: &AdminAccess,
    ) -> mandate_core::CoreResult<AdminHeader> {
        let email = ctx
            .store
            .user_by_id(access.user())
            .await?
            .map(|u| u.email)
            .unwrap_or_default();
        let role = match access {
            AdminAccess::Project { .. } => "Project admin".to_owned(),
            AdminAccess::Tenants { user, tenants } => {
                let names: Vec<String> = ctx
                    .store
                    .memberships_of(user)
                    .await?
                    .into_iter()
                    .filter(|(m, _)| tenants.contains(&m.tenant_id))
                    .map(|(_, t)| t.name)
                    .collect();
                format!("Tenant admin of {}", names.join(", "))
            }
        };
        Ok(AdminHeader { email, role })
    }
}
