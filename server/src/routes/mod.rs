//! HTTP endpoints other than the Leptos pages.

pub mod health;
pub mod oauth;
