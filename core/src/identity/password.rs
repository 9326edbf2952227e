//! Human passwords: argon2id with OWASP's parameters (19 MiB, 2 passes, 1 lane), hashed on a
//! blocking thread so a hash never stalls the async runtime, with a bound on how many run at
//! once so a flood of sign-ins cannot exhaust memory (each hash holds 19 MiB).

use argon2::password_hash::phc::PasswordHash;
use argon2::{Algorithm, Argon2, Params, PasswordHasher, PasswordVerifier, Version};
use std::sync::Arc;
use tokio::sync::Semaphore;

use crate::error::{CoreError, CoreResult};

/// OWASP Password Storage Cheat Sheet, argon2id option 2: m=19456 KiB, t=2, p=1.
fn argon2id() -> Argon2<'static> {
    // These constants are valid by construction; `Params::new` only rejects out-of-range values.
    let params = Params::new(19 * 1024, 2, 1, None).unwrap_or_default();
    Argon2::new(Algorithm::Argon2id, Version::V0x13, params)
}

/// Passwords shorter than this are refused when set.
pub const MIN_PASSWORD_LEN: usize = 12;
/// Longer inputs are refused before hashing (argon2 would accept them, at a cost).
pub const MAX_PASSWORD_LEN: usize = 1024;

/// Hashes and verifies passwords off the runtime, at most `permits` at a time.
#[derive(Clone)]
pub struct PasswordHasherPool {
    permits: Arc<Semaphore>,
}

impl PasswordHasherPool {
    pub fn new(permits: usize) -> Self {
        Self {
            permits: Arc::new(Semaphore::new(permits.max(1))),
        }
    }

    /// The PHC string of `password`, refusing lengths outside the policy.
    pub async fn hash(&self, password: String) -> CoreResult<String> {
        check_length(&password)?;
        let _permit = self
            .permits
            .acquire()
            .await
            .map_err(|_| CoreError::Crypto("hasher closed"))?;
        tokio::task::spawn_blocking(move || hash_now(&password))
            .await
            .map_err(|_| CoreError::Crypto("hashing task failed"))?
    }

    /// Whether `password` matches `phc`. A malformed stored hash counts as no match.
    pub async fn verify(&self, password: String, phc: String) -> bool {
        if password.len() > MAX_PASSWORD_LEN {
            return false;
        }
        let Ok(_permit) = self.permits.acquire().await else {
            return false;
        };
        tokio::task::spawn_blocking(move || verify_now(&password, &phc))
            .await
            .unwrap_or(false)
    }
}

fn check_length(password: &str) -> CoreResult<()> {
    let chars = password.chars().count();
    if chars < MIN_PASSWORD_LEN {
        return Err(CoreError::Invalid(format!(
            "a password needs at least {MIN_PASSWORD_LEN} characters"
        )));
    }
    if password.len() > MAX_PASSWORD_LEN {
        return Err(CoreError::Invalid(format!(
            "a password may have at most {MAX_PASSWORD_LEN} bytes"
        )));
    }
    Ok(())
}

fn hash_now(password: &str) -> CoreResult<String> {
    argon2id()
        .hash_password(password.as_bytes())
        .map(|h| h.to_string())
        .map_err(|_| CoreError::Crypto("password hashing failed"))
}

fn verify_now(password: &str, phc: &str) -> bool {
    match PasswordHash::new(phc) {
        Ok(parsed) => argon2id()
            .verify_password(password.as_bytes(), &parsed)
            .is_ok(),
        Err(_) => false,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[tokio::test]
    async fn hash_verifies_only_the_same_password() {
        let pool = PasswordHasherPool::new(2);
        let phc = pool
            .hash("correct horse battery".into())
            .await
            .expect("hash");
        assert!(phc.starts_with("$argon2id$v=19$m=19456,t=2,p=1$"));
        assert!(
            pool.verify("correct horse battery".into(), phc.clone())
                .await
        );
        assert!(!pool.verify("correct horse batterY".into(), phc).await);
    }

    #[tokio::test]
    async fn short_and_huge_passwords_are_refused() {
        let pool = PasswordHasherPool::new(1);
        assert!(matches!(
            pool.hash("short".into()).await,
            Err(CoreError::Invalid(_))
        ));
        assert!(matches!(
            pool.hash("x".repeat(MAX_PASSWORD_LEN + 1)).await,
            Err(CoreError::Invalid(_))
        ));
    }

    #[tokio::test]
    async fn malformed_stored_hash_is_no_match() {
        let pool = PasswordHasherPool::new(1);
        assert!(
            !pool
                .verify("whatever-password".into(), "not-a-phc".into())
                .await
        );
    }
}
