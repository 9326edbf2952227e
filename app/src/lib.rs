//! Mandate's user interface: server-rendered Leptos pages that hydrate in the browser.
//! Under `ssr` the server functions in [`api`] call `mandate-core`; the pages decide nothing.

#![recursion_limit = "256"]

pub mod api;
pub mod components;
#[cfg(feature = "ssr")]
pub mod context;
pub mod pages;

use leptos::prelude::*;
use leptos_meta::{provide_meta_context, MetaTags, Stylesheet, Title};
use leptos_router::components::{Route, Router, Routes};
use leptos_router::{path, SsrMode};
use pages::account::AccountPage;
use pages::auth::{
    consent::ConsentPage, new_password::NewPasswordPage, sign_in::SignInPage, tenant::TenantPage,
    verify::VerifyPage,
};

/// The HTML document around the app, rendered on the server.
pub fn shell(options: LeptosOptions) -> impl IntoView {
    view! {
        <!DOCTYPE html>
        <html lang="en">
            <head>
                <DocumentMeta />
                <HydrationScripts options />
                <MetaTags />
            </head>
            <body>
                <App />
            </body>
        </html>
    }
}

/// What every document's head starts with.
#[component]
pub fn DocumentMeta() -> impl IntoView {
    view! {
        <meta charset="utf-8" />
        <meta name="viewport" content="width=device-width, initial-scale=1" />
        <meta name="color-scheme" content="light dark" />
        <link rel="icon" href="/favicon.svg" type="image/svg+xml" />
    }
}

/// The root component: routes to pages. Every page renders in `SsrMode::Async`: the server
/// sends complete HTML after its data has loaded, so pages work without JavaScript
/// (out-of-order streaming would need a script to put resolved content in place).
#[component]
pub fn App() -> impl IntoView {
    provide_meta_context();
    view! {
        <Stylesheet id="mandate-css" href="/pkg/mandate.css" />
        <Title formatter=|page: String| {
            if page.is_empty() { "Mandate".to_owned() } else { format!("{page} · Mandate") }
        } />
        <Router>
            <components::layout::TopBar />
            <Routes fallback=pages::not_found::NotFound>
                <Route path=path!("/") view=pages::home::Home ssr=SsrMode::Async />
                <Route path=path!("/sign-in") view=SignInPage ssr=SsrMode::Async />
                <Route path=path!("/sign-in/verify") view=VerifyPage ssr=SsrMode::Async />
                <Route
                    path=path!("/sign-in/new-password")
                    view=NewPasswordPage
                    ssr=SsrMode::Async
                />
                <Route
                    path=path!("/set-password")
                    view=pages::auth::set_password::SetPasswordPage
                    ssr=SsrMode::Async
                />
                <Route path=path!("/authorize/tenant") view=TenantPage ssr=SsrMode::Async />
                <Route path=path!("/authorize/consent") view=ConsentPage ssr=SsrMode::Async />
                <Route path=path!("/account") view=AccountPage ssr=SsrMode::Async />
                // The account forms' answers (new recovery codes, a wrong code) render the
                // account page at the address the form posted to.
                <Route path=path!("/account/*action") view=AccountPage ssr=SsrMode::Async />
                <Route
                    path=path!("/admin")
                    view=pages::admin::dashboard::DashboardPage
                    ssr=SsrMode::Async
                />
                <Route
                    path=path!("/admin/connections")
                    view=pages::admin::connections::ConnectionsPage
                    ssr=SsrMode::Async
                />
                <Route
                    path=path!("/admin/api-keys")
                    view=pages::admin::api_keys::ApiKeysPage
                    ssr=SsrMode::Async
                />
                // A revocation that cannot go ahead renders the page at the form's address.
                <Route
                    path=path!("/admin/api-keys/revoke")
                    view=pages::admin::api_keys::ApiKeysPage
                    ssr=SsrMode::Async
                />
                <Route
                    path=path!("/admin/policies")
                    view=pages::admin::policies::PoliciesPage
                    ssr=SsrMode::Async
                />
                // A refused delete renders the page at the form's address.
                <Route
                    path=path!("/admin/policies/delete")
                    view=pages::admin::policies::PoliciesPage
                    ssr=SsrMode::Async
                />
                <Route
                    path=path!("/admin/policies/simulate")
                    view=pages::admin::policies::SimulatorPage
                    ssr=SsrMode::Async
                />
                <Route
                    path=path!("/admin/audit")
                    view=pages::admin::audit::AuditPage
                    ssr=SsrMode::Async
                />
                <Route
                    path=path!("/admin/mcp-servers")
                    view=pages::admin::mcp_servers::McpServersPage
                    ssr=SsrMode::Async
                />
                // `new` creates; a refused delete renders the page at the form's address.
                <Route
                    path=path!("/admin/mcp-servers/:id")
                    view=pages::admin::mcp_servers::McpServerPage
                    ssr=SsrMode::Async
                />
                <Route
                    path=path!("/admin/mcp-servers/:id/delete")
                    view=pages::admin::mcp_servers::McpServerPage
                    ssr=SsrMode::Async
                />
                <Route
                    path=path!("/admin/agents")
                    view=pages::admin::agents::AgentsPage
                    ssr=SsrMode::Async
                />
                <Route
                    path=path!("/admin/tenants")
                    view=pages::admin::people::TenantsPage
                    ssr=SsrMode::Async
                />
                // A tenant's forms answer with its page at the form's address.
                <Route
                    path=path!("/admin/tenants/:slug")
                    view=pages::admin::people::TenantPage
                    ssr=SsrMode::Async
                />
                <Route
                    path=path!("/admin/tenants/:slug/:action")
                    view=pages::admin::people::TenantPage
                    ssr=SsrMode::Async
                />
                <Route
                    path=path!("/admin/users")
                    view=pages::admin::people::PeoplePage
                    ssr=SsrMode::Async
                />
                <Route
                    path=path!("/admin/users/:id")
                    view=pages::admin::people::PersonPage
                    ssr=SsrMode::Async
                />
                <Route
                    path=path!("/admin/users/:id/:action")
                    view=pages::admin::people::PersonPage
                    ssr=SsrMode::Async
                />
                <Route
                    path=path!("/admin/users/:id/memberships/remove")
                    view=pages::admin::people::PersonPage
                    ssr=SsrMode::Async
                />
                <Route
                    path=path!("/admin/agents/:id")
                    view=pages::admin::agents::AgentPage
                    ssr=SsrMode::Async
                />
                // The agent's forms answer with its page at the form's address.
                <Route
                    path=path!("/admin/agents/:id/:action")
                    view=pages::admin::agents::AgentPage
                    ssr=SsrMode::Async
                />
            </Routes>
        </Router>
    }
}
