//! Mandate's domain crate: the rules of the authorization server as plain functions and types,
//! and the storage they run on. Nothing here speaks HTTP or renders UI (ARCHITECTURE.md §1).

pub mod access;
pub mod admin;
pub mod audit;
pub mod bootstrap;
pub mod clock;
pub mod connections;
pub mod crypto;
pub mod enrich;
pub mod error;
pub mod identity;
pub mod ids;
pub mod model;
pub mod oauth;
pub mod policy;
/// The journey state machine of an authorization (the end-user steps); see `oauth::flow`.
pub use oauth::flow as journey;
pub mod secret;
pub mod seed;
pub mod store;
pub mod tenancy;
#[cfg(any(test, feature = "testing"))]
pub mod testing;
pub mod text;

pub use clock::{Clock, FixedClock, SystemClock, UnixMillis};
pub use error::{CoreError, CoreResult};
