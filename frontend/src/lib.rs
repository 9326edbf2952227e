#![recursion_limit = "256"]
//! The browser half: makes the server-rendered page interactive.

use wasm_bindgen::prelude::wasm_bindgen;

/// Called by the module script that the server's page includes.
#[wasm_bindgen]
pub fn hydrate() {
    console_error_panic_hook::set_once();
    leptos::mount::hydrate_body(app::App);
}
