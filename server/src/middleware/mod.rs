//! Cross-cutting layers: security headers, request ids with per-request log lines.

pub mod account_state;
pub mod rate_limit;
pub mod request_log;
pub mod security_headers;
