//! The authorization journey's pages. Each asks the server for its [`Screen`] and renders it;
//! which page comes next is always the journey state machine's decision, made on the server.
//!
//! [`Screen`]: crate::api::screen::Screen

pub mod consent;
pub mod error;
pub mod new_password;
pub mod set_password;
pub mod sign_in;
pub mod tenant;
pub mod verify;

use std::future::Future;

use leptos::prelude::*;
use leptos_meta::Title;
use leptos_router::hooks::use_query_map;
use serde::de::DeserializeOwned;
use serde::Serialize;

use crate::api::screen::Screen;
use crate::components::forms::show_screen;

/// The `journey` query parameter of the current URL: which authorization the page belongs to.
pub fn journey_param() -> Memo<Option<String>> {
    let query = use_query_map();
    Memo::new(move |_| query.read().get("journey").filter(|j| !j.is_empty()))
}

/// A page whose facts come from a screen server function, asked for the URL's journey: the
/// page, the step that comes first, or an error.
pub fn screen_page<T, Fut, V>(
    title: &'static str,
    fetch: fn(Option<String>) -> Fut,
    page: fn(T) -> V,
) -> impl IntoView
where
    T: Serialize + DeserializeOwned + Clone + Send + Sync + 'static,
    Fut: Future<Output = Result<Screen<T>, ServerFnError>> + Send + 'static,
    V: IntoView + 'static,
{
    let journey = journey_param();
    let screen = Resource::new(move || journey.get(), fetch);
    view! {
        <Title text=title />
        <main class="page narrow">
            <Suspense fallback=|| ()>
                {move || Suspend::new(async move { show_screen(screen.await, page) })}
            </Suspense>
        </main>
    }
}
