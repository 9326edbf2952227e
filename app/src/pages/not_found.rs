//! The page for unknown paths, answered with status 404.

use leptos::prelude::*;
use leptos_meta::Title;

#[component]
pub fn NotFound() -> impl IntoView {
    #[cfg(feature = "ssr")]
    {
        if let Some(response) = use_context::<leptos_axum::ResponseOptions>() {
            response.set_status(http::StatusCode::NOT_FOUND);
        }
    }
    view! {
        <Title text="Not found" />
        <main class="page narrow">
            <h1>"This page does not exist"</h1>
            <p>"Check the address, or go back to the " <a href="/">"home page"</a> "."</p>
        </main>
    }
}
