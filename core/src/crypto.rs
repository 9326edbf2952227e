//! Encryption at rest under the deployment's master key (AES-256-GCM), and the random
//! material the rest of `core` needs. The master key never leaves this module unencrypted.

use aes_gcm::aead::{Aead, KeyInit, Payload};
use aes_gcm::{Aes256Gcm, Nonce};
use base64::engine::general_purpose::{STANDARD, URL_SAFE_NO_PAD};
use base64::Engine;
use rand::RngCore;
use std::fmt;

use crate::error::{CoreError, CoreResult};

const NONCE_LEN: usize = 12;
/// Version byte in front of every sealed value, so the format can change without guessing.
const SEAL_V1: u8 = 1;

/// The 256-bit key that encrypts secrets at rest (signing keys, vault tokens, IdP secrets).
#[derive(Clone)]
pub struct MasterKey([u8; 32]);

impl fmt::Debug for MasterKey {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("MasterKey(<redacted>)")
    }
}

impl MasterKey {
    /// A fresh random key.
    pub fn generate() -> Self {
        let mut key = [0u8; 32];
        rand::rngs::OsRng.fill_bytes(&mut key);
        Self(key)
    }

    /// Parses the standard base64 text form (44 characters, 32 bytes).
    pub fn from_base64(text: &str) -> Result<Self, &'static str> {
        let bytes = STANDARD
            .decode(text.trim())
            .map_err(|_| "must be 32 bytes in standard base64")?;
        let key: [u8; 32] = bytes
            .try_into()
            .map_err(|_| "must decode to exactly 32 bytes")?;
        Ok(Self(key))
    }

    /// The standard base64 text form, for writing the generated key to its file.
    pub fn to_base64(&self) -> String {
        STANDARD.encode(self.0)
    }

    fn cipher(&self) -> Aes256Gcm {
        Aes256Gcm::new((&self.0).into())
    }

    /// Encrypts `plaintext`, binding it to `context` (associated data: e.g. the row it belongs
    /// to), so a sealed value copied into another row does not decrypt there.
    pub fn seal(&self, plaintext: &[u8], context: &[u8]) -> CoreResult<Vec<u8>> {
        let mut nonce = [0u8; NONCE_LEN];
        rand::rngs::OsRng.fill_bytes(&mut nonce);
        let sealed = self
            .cipher()
            .encrypt(
                Nonce::from_slice(&nonce),
                Payload {
                    msg: plaintext,
                    aad: context,
                },
            )
            .map_err(|_| CoreError::Crypto("encryption failed"))?;
        let mut out = Vec::with_capacity(1 + NONCE_LEN + sealed.len());
        out.push(SEAL_V1);
        out.extend_from_slice(&nonce);
        out.extend_from_slice(&sealed);
        Ok(out)
    }

    /// Decrypts what [`MasterKey::seal`] produced with the same `context`.
    /// A wrong key or context gives [`CoreError::MasterKeyMismatch`].
    pub fn open(&self, sealed: &[u8], context: &[u8]) -> CoreResult<Vec<u8>> {
        let (version, rest) = sealed
            .split_first()
            .ok_or(CoreError::Crypto("empty sealed value"))?;
        if *version != SEAL_V1 || rest.len() < NONCE_LEN {
            return Err(CoreError::Crypto("unknown sealed value format"));
        }
        let (nonce, body) = rest.split_at(NONCE_LEN);
        self.cipher()
            .decrypt(
                Nonce::from_slice(nonce),
                Payload {
                    msg: body,
                    aad: context,
                },
            )
            .map_err(|_| CoreError::MasterKeyMismatch)
    }
}

/// `n` random bytes as unpadded base64url: for one-time passwords, tokens and nonces.
pub fn random_token(n: usize) -> String {
    let mut bytes = vec![0u8; n];
    rand::rngs::OsRng.fill_bytes(&mut bytes);
    URL_SAFE_NO_PAD.encode(bytes)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn sealed_value_opens_with_same_key_and_context() {
        let key = MasterKey::generate();
        let sealed = key.seal(b"secret", b"row-1").expect("seal");
        assert_ne!(&sealed[1 + NONCE_LEN..], b"secret");
        assert_eq!(key.open(&sealed, b"row-1").expect("open"), b"secret");
    }

    #[test]
    fn sealed_value_refuses_other_context_or_key() {
        let key = MasterKey::generate();
        let sealed = key.seal(b"secret", b"row-1").expect("seal");
        assert!(matches!(
            key.open(&sealed, b"row-2"),
            Err(CoreError::MasterKeyMismatch)
        ));
        assert!(matches!(
            MasterKey::generate().open(&sealed, b"row-1"),
            Err(CoreError::MasterKeyMismatch)
        ));
    }

    #[test]
    fn tampered_or_truncated_values_are_refused() {
        let key = MasterKey::generate();
        let mut sealed = key.seal(b"secret", b"").expect("seal");
        let last = sealed.len() - 1;
        sealed[last] ^= 1;
        assert!(key.open(&sealed, b"").is_err());
        assert!(key.open(&[], b"").is_err());
        assert!(key.open(&[9, 1, 2], b"").is_err());
    }

    #[test]
    fn base64_round_trip_and_length_check() {
        let key = MasterKey::generate();
        let text = key.to_base64();
        let again = MasterKey::from_base64(&text).expect("parse");
        let sealed = key.seal(b"x", b"").expect("seal");
        assert_eq!(again.open(&sealed, b"").expect("open"), b"x");
        assert!(MasterKey::from_base64("c2hvcnQ=").is_err());
        assert!(MasterKey::from_base64("not base64!").is_err());
    }

    #[test]
    fn debug_never_prints_the_key() {
        let key = MasterKey::generate();
        assert_eq!(format!("{key:?}"), "MasterKey(<redacted>)");
    }

    #[test]
    fn random_tokens_have_requested_entropy() {
        let a = random_token(32);
        assert_eq!(a.len(), 43);
        assert_ne!(a, random_token(32));
    }
}
