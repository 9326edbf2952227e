//! Cross-cutting layers: security headers, request ids with per-request log lines, the refusal
//! of URLs carrying a NUL character.

pub mod account_state;
pub mod nul_guard;
pub mod rate_limit;
pub mod request_log;
pub mod security_headers;
