//! What the server hands to server functions and pages (server-side only).

use std::sync::Arc;

use mandate_core::store::Store;

use crate::api::screen::Screens;

/// Provided by the server to every page render and server function.
#[derive(Clone)]
pub struct UiContext {
    pub store: Store,
    /// `MANDATE_PUBLIC_URL` without a trailing slash; issuers hang off it.
    pub public_url: String,
    /// The end-user pages' facts, decided by the server.
    pub screens: Arc<dyn Screens>,
}

impl std::fmt::Debug for UiContext {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("UiContext")
            .field("public_url", &self.public_url)
            .finish_non_exhaustive()
    }
}
