//! Integration tests over real HTTP against real databases: a fresh SQLite file and, where
//! reachable, a fresh PostgreSQL database per test (see `mandate_core::testing`).

mod support;

mod admin_api;
mod audit_views;
mod cimd;
mod cli_config;
mod health;
mod journey;
mod metrics;
mod oauth_endpoints;
mod oauth_flow;
mod pages;
mod policies_admin;
mod security_headers;
mod startup;
mod steps;
