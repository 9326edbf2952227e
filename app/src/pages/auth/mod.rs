//! The authorization journey's pages. Each asks the server for its [`Screen`] and renders it;
//! which page comes next is always the journey state machine's decision, made on the server.
//!
//! [`Screen`]: crate::api::screen::Screen

pub mod consent;
pub mod error;
pub mod sign_in;
pub mod tenant;
pub mod verify;

use leptos::prelude::*;
use leptos_router::hooks::use_query_map;

/// The `journey` query parameter of the current URL: which authorization the page belongs to.
pub fn journey_param() -> Memo<Option<String>> {
    let query = use_query_map();
    Memo::new(move |_| query.read().get("journey").filter(|j| !j.is_empty()))
}
