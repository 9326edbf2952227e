//! Integration tests over real HTTP against real databases: a fresh SQLite file and, where
//! reachable, a fresh PostgreSQL database per test (see `mandate_core::testing`).

mod support;

mod admin_api;
mod audit_views;
mod cimd;
mod cli_config;
mod config_as_code;
mod connections;
mod health;
mod hooks;
mod journey;
mod metrics;
mod oauth_endpoints;
mod oauth_flow;
mod openapi;
mod pages;
mod people_admin;
mod policies_admin;
mod registry_admin;
mod security_headers;
mod sso;
mod sso_flow;
mod startup;
mod steps;
