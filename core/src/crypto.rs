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

/// Version byte of an envelope: a fresh data key seals the value, the master key seals the
/// data key. Layout: `[SEAL_ENVELOPE_V1][u16 BE length of the sealed key][sealed key][sealed value]`.
const SEAL_ENVELOPE_V1: u8 = 2;

impl MasterKey {
    /// Envelope encryption (AES-256-GCM twice): `plaintext` is sealed under a random data key
    /// used for this value only, and that key is sealed under the master key; both bound to
    /// `context`. Vault tokens are stored this way, so no two share a key and re-wrapping under
    /// a new master key never touches the tokens themselves.
    pub fn seal_envelope(&self, plaintext: &[u8], context: &[u8]) -> CoreResult<Vec<u8>> {
        let data_key = Self::generate();
        let sealed_key = self.seal(&data_key.0, context)?;
        let sealed_value = data_key.seal(plaintext, context)?;
        let key_len =
            u16::try_from(sealed_key.len()).map_err(|_| CoreError::Crypto("key too long"))?;
        let mut out = Vec::with_capacity(3 + sealed_key.len() + sealed_value.len());
        out.push(SEAL_ENVELOPE_V1);
        out.extend_from_slice(&key_len.to_be_bytes());
        out.extend_from_slice(&sealed_key);
        out.extend_from_slice(&sealed_value);
        Ok(out)
    }

    /// Opens what [`MasterKey::seal_envelope`] produced with the same `context`.
    pub fn open_envelope(&self, sealed: &[u8], context: &[u8]) -> CoreResult<Vec<u8>> {
        let malformed = CoreError::Crypto("unknown sealed value format");
        let Some((&SEAL_ENVELOPE_V1, rest)) = sealed.split_first() else {
            return Err(malformed);
        };
        if rest.len() < 2 {
            return Err(malformed);
        }
        let (len, rest) = rest.split_at(2);
        let key_len = usize::from(u16::from_be_bytes([len[0], len[1]]));
        if rest.len() < key_len {
            return Err(malformed);
        }
        let (sealed_key, sealed_value) = rest.split_at(key_len);
        let key: [u8; 32] = self
            .open(sealed_key, context)?
            .try_into()
            .map_err(|_| CoreError::Crypto("data key of the wrong length"))?;
        Self(key).open(sealed_value, context)
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
    fn envelope_opens_with_same_key_and_context_only() {
        let key = MasterKey::generate();
        let sealed = key.seal_envelope(b"vault token", b"conn-1").expect("seal");
        assert!(!sealed.windows(11).any(|w| w == b"vault token"));
        assert_eq!(
            key.open_envelope(&sealed, b"conn-1").expect("open"),
            b"vault token"
        );
        assert!(key.open_envelope(&sealed, b"conn-2").is_err());
        assert!(MasterKey::generate()
            .open_envelope(&sealed, b"conn-1")
            .is_err());
        // Two seals of one value use different data keys.
        let again = key.seal_envelope(b"vault token", b"conn-1").expect("seal");
        assert_ne!(sealed, again);
        // Truncated or foreign input is refused, never a panic.
        for bad in [&sealed[..1], &sealed[..10], &[1u8, 0, 0][..], &[][..]] {
            assert!(key.open_envelope(bad, b"conn-1").is_err());
        }
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
