//! HTTP endpoints other than the Leptos pages.

pub mod account;
pub mod health;
pub mod oauth;
pub mod passkeys;
