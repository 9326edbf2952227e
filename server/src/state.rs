//! What every handler can reach. Built once at start-up, cloned cheaply per request.

use axum::extract::FromRef;
use leptos::config::LeptosOptions;
use mandate_core::crypto::MasterKey;
use mandate_core::identity::password::PasswordHasherPool;
use mandate_core::store::Store;
use std::sync::Arc;

use crate::config::Config;

#[derive(Clone)]
pub struct AppState {
    pub store: Store,
    pub config: Arc<Config>,
    pub master_key: MasterKey,
    pub hasher: PasswordHasherPool,
    pub leptos: LeptosOptions,
}

impl FromRef<AppState> for LeptosOptions {
    fn from_ref(state: &AppState) -> Self {
        state.leptos.clone()
    }
}
