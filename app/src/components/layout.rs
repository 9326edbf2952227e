//! The frame around every page.

use leptos::prelude::*;

/// The bar at the top of every page.
#[component]
pub fn TopBar() -> impl IntoView {
    view! {
        <header class="topbar">
            <a class="brand" href="/">
                <span class="brand-mark" aria-hidden="true">"M"</span>
                "Mandate"
            </a>
        </header>
    }
}
