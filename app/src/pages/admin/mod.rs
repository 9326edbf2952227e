//! The console: pages for admins under `/admin`. Every page asks one server function for its
//! facts; the server checks the caller's admin rights before reading anything.

pub mod agents;
pub mod api_keys;
pub mod audit;
pub mod connections;
pub mod dashboard;
pub mod mcp_servers;
pub mod people;
pub mod policies;

use leptos::prelude::*;
use leptos_meta::Title;

use crate::api::admin::AdminHeader;

/// The console's sections, for the navigation.
const SECTIONS: [(&str, &str); 9] = [
    ("/admin", "Dashboard"),
    ("/admin/audit", "Audit trail"),
    ("/admin/agents", "Agents"),
    ("/admin/mcp-servers", "MCP servers"),
    ("/admin/policies", "Policies"),
    ("/admin/connections", "Connections"),
    ("/admin/tenants", "Tenants"),
    ("/admin/users", "People"),
    ("/admin/api-keys", "API keys"),
];

/// The frame of a console page: navigation, who is signed in, and the page.
#[component]
pub fn AdminFrame(
    header: AdminHeader,
    /// The current section's path.
    current: &'static str,
    children: Children,
) -> impl IntoView {
    view! {
        <div class="console">
            <nav class="console-nav" aria-label="Console">
                <ul>
                    {SECTIONS
                        .iter()
                        .map(|(href, label)| {
                            let here = *href == current;
                            view! {
                                <li>
                                    <a href=*href aria-current=here.then_some("page")>
                                        {*label}
                                    </a>
                                </li>
                            }
                        })
                        .collect_view()}
                </ul>
                <p class="muted console-who">
                    {header.email} <br /> {header.role} <br /> <a href="/account">"Your account"</a>
                </p>
            </nav>
            <div class="console-main">{children()}</div>
        </div>
    }
}

/// A console page whose facts come from `fetch`, keyed by the URL.
pub fn console_page<Q, T, Fut, V>(
    title: &'static str,
    key: impl Fn() -> Q + Send + Sync + 'static,
    fetch: fn(Q) -> Fut,
    page: fn(T) -> V,
) -> impl IntoView
where
    Q: PartialEq + Clone + Send + Sync + 'static,
    T: serde::Serialize + serde::de::DeserializeOwned + Clone + Send + Sync + 'static,
    Fut: std::future::Future<Output = Result<crate::api::screen::Screen<T>, ServerFnError>>
        + Send
        + 'static,
    V: IntoView + 'static,
{
    let screen = Resource::new(key, fetch);
    view! {
        <Title text=title />
        <main class="page wide">
            <Suspense fallback=|| ()>
                {move || Suspend::new(async move {
                    crate::components::forms::show_screen(screen.await, page)
                })}
            </Suspense>
        </main>
    }
}
