//! People signing in: password hashing now; TOTP, passkeys and the sign-in rules with their issue.

pub mod password;
