//! Server functions, by area. Each one gets the store from context, checks the caller's rights
//! where the data is not public, calls `mandate-core`, and returns a wasm-safe DTO.

pub mod directory;
