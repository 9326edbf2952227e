//! People who sign in.

use serde::{Deserialize, Serialize};

use crate::clock::UnixMillis;
use crate::ids::UserId;

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct User {
    pub id: UserId,
    /// Lower-cased, unique.
    pub email: String,
    pub display_name: String,
    /// Must set a new password at the next sign-in (one-time passwords from the CLI).
    pub must_change_password: bool,
    /// May administer the whole deployment.
    pub is_project_admin: bool,
    pub disabled: bool,
    pub created_at: UnixMillis,
}

/// Normalises an email for storage and lookup: trimmed and lower-cased.
/// Returns `None` when it is not shaped like `local@domain`.
pub fn normalize_email(input: &str) -> Option<String> {
    let email = input.trim().to_lowercase();
    let (local, domain) = email.split_once('@')?;
    let plausible = !local.is_empty()
        && !domain.is_empty()
        && !domain.starts_with('.')
        && !domain.ends_with('.')
        && !email.chars().any(|c| c.is_whitespace() || c.is_control())
        && !domain.contains('@')
        && email.len() <= 254;
    plausible.then_some(email)
}

#[cfg(test)]
mod tests {
    use super::normalize_email;

    #[test]
    fn emails_are_trimmed_and_lowercased() {
        assert_eq!(
            normalize_email("  Ada@Example.COM ").as_deref(),
            Some("ada@example.com")
        );
    }

    #[test]
    fn malformed_emails_are_refused() {
        for bad in [
            "",
            "ada",
            "@example.com",
            "ada@",
            "a b@example.com",
            "a@b@c",
            "a@.com",
            "a@com.",
        ] {
            assert_eq!(normalize_email(bad), None, "{bad:?} should be refused");
        }
    }
}
