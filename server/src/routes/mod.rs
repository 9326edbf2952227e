//! HTTP endpoints other than the Leptos pages.

pub mod account;
pub mod admin;
pub mod api_v1;
pub mod connections;
pub mod health;
pub mod oauth;
pub mod passkeys;
pub mod set_password;
