//! People signing in: password hashing, TOTP and recovery codes as second factors.
//! Passkeys (webauthn-rs ceremonies) and throttling live in the server.

pub mod password;
pub mod recovery;
pub mod second_factor;
pub mod totp;
