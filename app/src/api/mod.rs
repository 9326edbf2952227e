//! Server functions, by area. Each one gets what it needs from context, checks the caller's
//! rights where the data is not public, and returns a wasm-safe DTO.

pub mod account;
pub mod admin;
pub mod auth;
pub mod directory;
pub mod screen;
pub mod set_password;
