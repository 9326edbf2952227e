//! Cross-cutting layers: security headers, request ids with per-request log lines, the refusal
//! of requests that cannot be read as text.

pub mod account_state;
pub mod rate_limit;
pub mod request_log;
pub mod security_headers;
pub mod unreadable_request;
