//! What the server hands to server functions and pages (server-side only).

use mandate_core::store::Store;

/// Provided by the server to every page render and server function.
#[derive(Clone, Debug)]
pub struct UiContext {
    pub store: Store,
    /// `MANDATE_PUBLIC_URL` without a trailing slash; issuers hang off it.
    pub public_url: String,
}
