//! Validates Mandate access tokens in an MCP server, and nothing else: no database, no password
//! hashing, no UI in its dependency tree, so any Rust MCP server can depend on it.
//!
//! [`Guard`] checks one token: `typ` = `at+jwt` (RFC 9068 §2.1), `alg` = ES256 only (never
//! `none`, never an HMAC keyed with the public key), the signature against the issuer's JWKS
//! (cached, fetched again once when a token names an unknown `kid`, so key rotation needs no
//! restart), `iss`, `aud` equal to this server's resource URL (RFC 8707: a token for another
//! server is refused, so tokens are never passed through), `exp` / `nbf` with a small leeway.
//! [`GuardLayer`] does that for every request of a tower service and, for MCP `tools/call`
//! requests, checks the tool's scope, answering the MCP authorization spec's challenges:
//! 401 with `WWW-Authenticate: Bearer resource_metadata="…"`, and 403 `insufficient_scope`
//! naming the scopes to ask for (the step-up signal).

mod challenge;
mod config;
mod keys;
mod layer;
mod principal;
mod verify;

pub use challenge::Rejection;
pub use config::GuardConfig;
pub use layer::{GuardBody, GuardLayer, GuardService};
pub use principal::Principal;
pub use verify::Guard;
