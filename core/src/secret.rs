//! Generated secrets: client secrets, authorization codes, refresh tokens, registration access
//! tokens. Each carries a type prefix (so a leaked value says what it is), has a redacted
//! `Debug`, is stored only as its SHA-256, and is compared in constant time.
//!
//! These have 256 bits of entropy, so a fast hash is right: argon2 (~19 ms a check) is for
//! human passwords only and would cap the token endpoint near 50 requests/s per core.

use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use base64::Engine;
use sha2::{Digest, Sha256};
use std::fmt;
use subtle::ConstantTimeEq;

use crate::crypto::random_token;

/// What a secret is for; the prefix of its text form.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum SecretKind {
    ClientSecret,
    AuthorizationCode,
    RefreshToken,
    RegistrationAccessToken,
    /// Authenticates calls to the admin REST API (`/api/v1`).
    AdminApiKey,
    /// Lets a person choose their password once (an invitation or a reset by an admin).
    PasswordLink,
    /// Signs the calls to an issuance hook (HMAC-SHA256 key; kept sealed, not hashed).
    HookKey,
}

impl SecretKind {
    const ALL: [SecretKind; 7] = [
        Self::ClientSecret,
        Self::AuthorizationCode,
        Self::RefreshToken,
        Self::RegistrationAccessToken,
        Self::AdminApiKey,
        Self::PasswordLink,
        Self::HookKey,
    ];

    pub fn prefix(self) -> &'static str {
        match self {
            Self::ClientSecret => "mdt_cs_",
            Self::AuthorizationCode => "mdt_ac_",
            Self::RefreshToken => "mdt_rt_",
            Self::RegistrationAccessToken => "mdt_rat_",
            Self::AdminApiKey => "mdt_ak_",
            Self::PasswordLink => "mdt_pl_",
            Self::HookKey => "mdt_hk_",
        }
    }
}

/// A secret in the clear: exists only between generation and the response that hands it out.
#[derive(Clone, PartialEq, Eq)]
pub struct Secret(String);

impl fmt::Debug for Secret {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let prefix = SecretKind::ALL
            .iter()
            .map(|k| k.prefix())
            .find(|p| self.0.starts_with(p))
            .unwrap_or_default();
        write!(f, "Secret({prefix}<redacted>)")
    }
}

impl Secret {
    /// A new random secret of `kind`: its prefix and 32 random bytes in base64url.
    pub fn generate(kind: SecretKind) -> Self {
        Self(format!("{}{}", kind.prefix(), random_token(32)))
    }

    /// A new random secret of `kind` that sorts by creation: its prefix, a UUIDv7 in hex (a
    /// millisecond timestamp and a counter; not secret), a dot, and 32 random bytes in
    /// base64url. Its stored value ([`Secret::hash`]) starts with the same id, so rows keyed by
    /// it are inserted at the right edge of their index, and a token exchanged soon after its
    /// issue is found on the index's last pages, instead of each landing on a random page.
    pub fn generate_time_ordered(kind: SecretKind) -> Self {
        let id = uuid::Uuid::now_v7().simple();
        Self(format!("{}{id}.{}", kind.prefix(), random_token(32)))
    }

    /// Wraps a secret presented by a client.
    pub fn presented(text: impl Into<String>) -> Self {
        Self(text.into())
    }

    pub fn expose(&self) -> &str {
        &self.0
    }

    /// The value stored at rest: the SHA-256 of the whole text, after the time-ordered id of a
    /// secret from [`Secret::generate_time_ordered`].
    pub fn hash(&self) -> SecretHash {
        let digest = URL_SAFE_NO_PAD.encode(Sha256::digest(self.0.as_bytes()));
        match self.time_ordered_id() {
            Some(id) => SecretHash(format!("{id}.{digest}")),
            None => SecretHash(digest),
        }
    }

    /// The id a time-ordered secret starts with (after its kind's prefix): 32 lowercase hex
    /// digits followed by a dot, which base64url (the random part) never contains.
    fn time_ordered_id(&self) -> Option<&str> {
        let rest = SecretKind::ALL
            .iter()
            .find_map(|k| self.0.strip_prefix(k.prefix()))?;
        let (id, _) = rest.split_once('.')?;
        (id.len() == 32 && id.bytes().all(|b| matches!(b, b'0'..=b'9' | b'a'..=b'f'))).then_some(id)
    }
}

/// The SHA-256 of a secret, base64url: what the database holds and looks up by.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SecretHash(String);

impl SecretHash {
    pub fn from_stored(text: impl Into<String>) -> Self {
        Self(text.into())
    }

    pub fn as_str(&self) -> &str {
        &self.0
    }

    /// Whether `presented` hashes to this value, in constant time.
    pub fn matches(&self, presented: &Secret) -> bool {
        let other = presented.hash();
        self.0.as_bytes().ct_eq(other.0.as_bytes()).into()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn generated_secrets_carry_their_prefix_and_entropy() {
        let s = Secret::generate(SecretKind::RefreshToken);
        assert!(s.expose().starts_with("mdt_rt_"));
        assert_eq!(s.expose().len(), "mdt_rt_".len() + 43);
        assert_ne!(s, Secret::generate(SecretKind::RefreshToken));
    }

    #[test]
    fn time_ordered_secrets_sort_by_creation_and_are_stored_under_that_order() {
        let first = Secret::generate_time_ordered(SecretKind::RefreshToken);
        let second = Secret::generate_time_ordered(SecretKind::RefreshToken);
        let text = first.expose();
        assert!(text.starts_with("mdt_rt_"));
        assert_eq!(text.len(), "mdt_rt_".len() + 32 + 1 + 43, "{text}");
        let (id, random) = text["mdt_rt_".len()..].split_once('.').expect("id.random");
        assert!(!random.contains('.'), "one dot");
        let (h1, h2) = (first.hash(), second.hash());
        assert!(
            h1.as_str().starts_with(&format!("{id}.")),
            "stored after its id"
        );
        assert!(
            h1.as_str() < h2.as_str(),
            "later secrets sort after earlier ones"
        );
        assert_eq!(
            &h1.as_str()[33..],
            URL_SAFE_NO_PAD.encode(Sha256::digest(text.as_bytes())),
            "the digest covers the whole text, id included"
        );
        assert!(h1.matches(&Secret::presented(text)));
        assert!(!h1.matches(&second));
    }

    #[test]
    fn a_tampered_time_ordered_id_does_not_find_the_secret() {
        let s = Secret::generate_time_ordered(SecretKind::RefreshToken);
        let text = s.expose();
        let at = "mdt_rt_".len();
        let flipped = if &text[at..at + 1] == "0" { "1" } else { "0" };
        let tampered = format!("{}{flipped}{}", &text[..at], &text[at + 1..]);
        assert!(!s.hash().matches(&Secret::presented(tampered.clone())));
        assert_ne!(Secret::presented(tampered).hash(), s.hash());
    }

    #[test]
    fn secrets_without_a_time_ordered_id_are_stored_as_their_digest() {
        // Refresh tokens issued before time-ordered ones existed, and every other kind.
        let old = Secret::generate(SecretKind::RefreshToken);
        assert_eq!(
            old.hash().as_str(),
            URL_SAFE_NO_PAD.encode(Sha256::digest(old.expose().as_bytes()))
        );
        for text in [
            "mdt_rt_0123456789abcdef0123456789ABCDEF.x",
            "mdt_rt_0123456789abcdef.x",
            "no_prefix_0123456789abcdef0123456789abcdef.x",
        ] {
            assert!(
                !Secret::presented(text).hash().as_str().contains('.'),
                "{text}"
            );
        }
    }

    #[test]
    fn debug_shows_only_the_prefix() {
        let s = Secret::generate(SecretKind::ClientSecret);
        let shown = format!("{s:?}");
        assert_eq!(shown, "Secret(mdt_cs_<redacted>)");
        assert!(!shown.contains(&s.expose()[8..]));
    }

    #[test]
    fn hash_matches_only_the_same_secret() {
        let s = Secret::generate(SecretKind::AuthorizationCode);
        let h = s.hash();
        assert!(h.matches(&Secret::presented(s.expose())));
        assert!(!h.matches(&Secret::generate(SecretKind::AuthorizationCode)));
        assert_ne!(h.as_str(), s.expose(), "the clear value is never stored");
    }
}
