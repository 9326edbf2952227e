//! People signing in: password hashing, TOTP and recovery codes as second factors.
//! (Passkeys, the sign-in rules and throttling come with the end-user journey.)

pub mod password;
pub mod recovery;
pub mod totp;
