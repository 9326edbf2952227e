//! The OAuth 2.1 authorization server's rules as pure functions over typed requests
//! (ARCHITECTURE.md §2). Handlers in `server` parse, call these, and map the outcome.

pub mod authorize;
pub mod cimd;
pub mod client_auth;
pub mod error;
pub mod flow;
pub mod grants;
pub mod introspection;
pub mod keyring;
pub mod metadata;
pub mod params;
pub mod pkce;
pub mod redirect_uri;
pub mod registration;
pub mod resource;
pub mod response;
pub mod revocation;
pub mod scope;
pub mod tokens;

pub use error::{ErrorCode, OAuthError};
