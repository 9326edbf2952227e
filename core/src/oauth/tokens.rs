//! Access tokens (RFC 9068 JWTs signed with ES256) and the key set that signs and verifies
//! them. Private keys are sealed under the master key at rest; `kid` is the RFC 7638
//! thumbprint of the public key.

use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use base64::Engine;
use jsonwebtoken::Algorithm;
use p256::elliptic_curve::sec1::ToEncodedPoint;
use p256::pkcs8::{DecodePrivateKey, EncodePrivateKey};
use ring::rand::SystemRandom;
use ring::signature::{
    EcdsaKeyPair, UnparsedPublicKey, ECDSA_P256_SHA256_FIXED, ECDSA_P256_SHA256_FIXED_SIGNING,
};
use serde::{Deserialize, Serialize};
use sha2::{Digest, Sha256};
use std::collections::HashMap;
use std::sync::Arc;

use crate::clock::UnixMillis;
use crate::crypto::MasterKey;
use crate::error::{CoreError, CoreResult};

/// The JOSE `typ` of access tokens (RFC 9068 §2.1).
pub const ACCESS_TOKEN_TYP: &str = "at+jwt";

/// RFC 8693 §4.1 actor: the agent acting for the user.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Actor {
    pub sub: String,
}

/// The claims of a Mandate access token (ARCHITECTURE.md §6).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct AccessTokenClaims {
    pub iss: String,
    pub sub: String,
    pub aud: String,
    pub client_id: String,
    #[serde(default, skip_serializing_if = "String::is_empty")]
    pub scope: String,
    pub exp: i64,
    pub iat: i64,
    pub nbf: i64,
    pub jti: String,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub auth_time: Option<i64>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub acr: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub amr: Option<Vec<String>>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub tenant: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub act: Option<Actor>,
}

/// An access token's claims with what the issuance hooks added (ARCHITECTURE.md §6). The
/// additions never use a standard claim's name: `crate::enrich` refuses those.
#[derive(Debug, Serialize)]
pub struct EnrichedClaims<'a> {
    #[serde(flatten)]
    pub claims: &'a AccessTokenClaims,
    #[serde(flatten)]
    pub extra: &'a serde_json::Map<String, serde_json::Value>,
}

/// A P-256 public key as a JWK.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct PublicJwk {
    pub kty: String,
    pub crv: String,
    pub x: String,
    pub y: String,
    pub kid: String,
    #[serde(rename = "use")]
    pub use_: String,
    pub alg: String,
}

/// A freshly generated signing key: its public JWK and its sealed private key.
#[derive(Debug, Clone)]
pub struct NewSigningKey {
    pub kid: String,
    pub public_jwk: PublicJwk,
    pub private_sealed: Vec<u8>,
}

/// Generates an ES256 key pair, sealing the PKCS#8 private key under `master` bound to its kid.
pub fn generate_signing_key(master: &MasterKey) -> CoreResult<NewSigningKey> {
    let secret = p256::SecretKey::random(&mut rand::rngs::OsRng);
    let point = secret.public_key().to_encoded_point(false);
    let (Some(x), Some(y)) = (point.x(), point.y()) else {
        return Err(CoreError::Crypto("P-256 public key without coordinates"));
    };
    let x = URL_SAFE_NO_PAD.encode(x);
    let y = URL_SAFE_NO_PAD.encode(y);
    // RFC 7638 §3.2: required members in lexicographic order, no whitespace.
    let thumbprint_input = format!(r#"{{"crv":"P-256","kty":"EC","x":"{x}","y":"{y}"}}"#);
    let kid = URL_SAFE_NO_PAD.encode(Sha256::digest(thumbprint_input.as_bytes()));
    let der = secret
        .to_pkcs8_der()
        .map_err(|_| CoreError::Crypto("cannot encode the private key"))?;
    let private_sealed = master.seal(der.as_bytes(), kid.as_bytes())?;
    Ok(NewSigningKey {
        public_jwk: PublicJwk {
            kty: "EC".into(),
            crv: "P-256".into(),
            x,
            y,
            kid: kid.clone(),
            use_: "sig".into(),
            alg: "ES256".into(),
        },
        kid,
        private_sealed,
    })
}

/// A stored key as the key set needs it.
#[derive(Debug, Clone)]
pub struct StoredSigningKey {
    pub kid: String,
    pub public_jwk: PublicJwk,
    pub private_sealed: Vec<u8>,
    pub active: bool,
    pub created_at: UnixMillis,
}

/// The active key, parsed once: signing is the token endpoint's hot path, and re-parsing the
/// PKCS#8 key per token (deriving its public point each time) would cost a second scalar
/// multiplication per signature.
struct Signer {
    kid: String,
    key: EcdsaKeyPair,
    rng: SystemRandom,
    /// The base64url JOSE header, the same for every token this key signs.
    header_b64: String,
}

/// The keys of this deployment: the newest active one signs; all published ones verify.
#[derive(Clone)]
pub struct KeySet {
    signer: Arc<Signer>,
    /// Uncompressed SEC1 public points by kid (verified with ring, like signing).
    verifiers: Arc<HashMap<String, Vec<u8>>>,
    jwks: Arc<serde_json::Value>,
    jwks_body: Arc<str>,
    verified: Arc<VerifiedTokens>,
}

/// SHA-256 digests of tokens whose header and signature this key set has verified, with their
/// expiry: a resource server introspects the same token on every call, and the P-256
/// verification is the larger part of answering it. A token whose digest is here has exactly
/// the bytes that verified (finding another would take a SHA-256 second preimage), so only its
/// claims are checked again. Bounded; it belongs to one key set, so a key reload starts afresh.
#[derive(Default)]
struct VerifiedTokens {
    entries: std::sync::Mutex<HashMap<[u8; 32], i64>>,
}

impl VerifiedTokens {
    const CAPACITY: usize = 16_384;

    fn contains(&self, digest: &[u8; 32]) -> bool {
        self.entries
            .lock()
            .map(|entries| entries.contains_key(digest))
            .unwrap_or(false)
    }

    fn insert(&self, digest: [u8; 32], exp: i64, now_secs: i64) {
        let Ok(mut entries) = self.entries.lock() else {
            return;
        };
        if entries.len() >= Self::CAPACITY {
            entries.retain(|_, e| *e > now_secs);
            if entries.len() >= Self::CAPACITY {
                entries.clear();
            }
        }
        entries.insert(digest, exp);
    }
}

impl std::fmt::Debug for KeySet {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("KeySet")
            .field("signing_kid", &self.signer.kid)
            .finish()
    }
}

/// Why a token failed verification (introspection maps every case to `active: false`).
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum TokenRejection {
    Malformed,
    WrongType,
    UnknownKey,
    BadSignature,
    Expired,
    NotYetValid,
    WrongIssuer,
}

impl KeySet {
    /// A key set of one new active key, sealed with a throwaway master key and kept nowhere:
    /// for something that signs but stores nothing (tests, the benchmark's signing-only
    /// ceiling). Tokens it signs verify only against this value.
    pub fn ephemeral() -> CoreResult<Self> {
        let master = MasterKey::generate();
        let key = generate_signing_key(&master)?;
        Self::from_stored(
            &[StoredSigningKey {
                kid: key.kid,
                public_jwk: key.public_jwk,
                private_sealed: key.private_sealed,
                active: true,
                created_at: 0,
            }],
            &master,
        )
    }

    /// Builds the key set from stored keys (active and retired). The newest active key signs.
    pub fn from_stored(keys: &[StoredSigningKey], master: &MasterKey) -> CoreResult<Self> {
        let newest_active = keys
            .iter()
            .filter(|k| k.active)
            .max_by_key(|k| k.created_at)
            .ok_or(CoreError::NotFound {
                what: "an active signing key",
            })?;
        let der = master.open(&newest_active.private_sealed, newest_active.kid.as_bytes())?;
        let secret = p256::SecretKey::from_pkcs8_der(&der)
            .map_err(|_| CoreError::Crypto("stored private key is not a P-256 PKCS#8 key"))?;
        let public = secret.public_key().to_encoded_point(false);
        let rng = SystemRandom::new();
        let key = EcdsaKeyPair::from_private_key_and_public_key(
            &ECDSA_P256_SHA256_FIXED_SIGNING,
            &secret.to_bytes(),
            public.as_bytes(),
            &rng,
        )
        .map_err(|_| CoreError::Crypto("the signing key was refused"))?;
        let header = serde_json::json!({ "typ": ACCESS_TOKEN_TYP, "alg": "ES256", "kid": newest_active.kid });
        let signer = Signer {
            kid: newest_active.kid.clone(),
            key,
            rng,
            header_b64: URL_SAFE_NO_PAD.encode(header.to_string()),
        };
        let mut verifiers = HashMap::new();
        for k in keys {
            let coordinate = |c: &str| {
                URL_SAFE_NO_PAD
                    .decode(c)
                    .ok()
                    .filter(|b| b.len() == 32)
                    .ok_or(CoreError::Crypto("stored public key is not a P-256 point"))
            };
            let mut point = Vec::with_capacity(65);
            point.push(4);
            point.extend(coordinate(&k.public_jwk.x)?);
            point.extend(coordinate(&k.public_jwk.y)?);
            verifiers.insert(k.kid.clone(), point);
        }
        let jwks =
            serde_json::json!({ "keys": keys.iter().map(|k| &k.public_jwk).collect::<Vec<_>>() });
        Ok(Self {
            signer: Arc::new(signer),
            verifiers: Arc::new(verifiers),
            jwks_body: jwks.to_string().into(),
            jwks: Arc::new(jwks),
            verified: Arc::default(),
        })
    }

    /// The kid new tokens are signed with.
    pub fn signing_kid(&self) -> &str {
        &self.signer.kid
    }

    /// The JWKS document (RFC 7517 §5): active and retired public keys.
    pub fn jwks(&self) -> &serde_json::Value {
        &self.jwks
    }

    /// The JWKS document, serialized once.
    pub fn jwks_body(&self) -> Arc<str> {
        self.jwks_body.clone()
    }

    /// Signs access token claims with the active key: a JWS compact serialization
    /// (RFC 7515 §7.1) with ES256 (RFC 7518 §3.4: ECDSA P-256 over SHA-256, the signature as
    /// the 64-byte R || S).
    pub fn sign(&self, claims: &(impl Serialize + ?Sized)) -> CoreResult<String> {
        let payload = URL_SAFE_NO_PAD.encode(serde_json::to_vec(claims)?);
        let signing_input = format!("{}.{payload}", self.signer.header_b64);
        let signature = self
            .signer
            .key
            .sign(&self.signer.rng, signing_input.as_bytes())
            .map_err(|_| CoreError::Crypto("signing failed"))?;
        Ok(format!(
            "{signing_input}.{}",
            URL_SAFE_NO_PAD.encode(signature.as_ref())
        ))
    }

    /// Verifies a token of ours: ES256 by a published key, `typ` at+jwt, issuer, lifetime.
    pub fn verify(
        &self,
        token: &str,
        issuer: &str,
        now_secs: i64,
    ) -> Result<AccessTokenClaims, TokenRejection> {
        let digest: [u8; 32] = Sha256::digest(token.as_bytes()).into();
        let already_verified = self.verified.contains(&digest);
        let payload = if already_verified {
            token.split('.').nth(1).ok_or(TokenRejection::Malformed)?
        } else {
            self.verify_signature(token)?
        };
        let payload = URL_SAFE_NO_PAD
            .decode(payload)
            .map_err(|_| TokenRejection::Malformed)?;
        let claims: AccessTokenClaims =
            serde_json::from_slice(&payload).map_err(|_| TokenRejection::Malformed)?;
        if claims.iss != issuer {
            return Err(TokenRejection::WrongIssuer);
        }
        if claims.exp <= now_secs {
            return Err(TokenRejection::Expired);
        }
        if claims.nbf > now_secs + 5 {
            return Err(TokenRejection::NotYetValid);
        }
        if !already_verified {
            self.verified.insert(digest, claims.exp, now_secs);
        }
        Ok(claims)
    }

    /// Checks the JOSE header and the signature of `token`; returns its payload segment.
    fn verify_signature<'t>(&self, token: &'t str) -> Result<&'t str, TokenRejection> {
        let header = jsonwebtoken::decode_header(token).map_err(|_| TokenRejection::Malformed)?;
        if header.alg != Algorithm::ES256 {
            return Err(TokenRejection::BadSignature);
        }
        if header.typ.as_deref() != Some(ACCESS_TOKEN_TYP) {
            return Err(TokenRejection::WrongType);
        }
        let kid = header.kid.ok_or(TokenRejection::UnknownKey)?;
        let point = self.verifiers.get(&kid).ok_or(TokenRejection::UnknownKey)?;
        // RFC 7515 §5.2: the signature covers the first two segments as they were sent.
        let (signing_input, signature) = token.rsplit_once('.').ok_or(TokenRejection::Malformed)?;
        let payload = signing_input
            .split_once('.')
            .map(|(_, p)| p)
            .ok_or(TokenRejection::Malformed)?;
        let signature = URL_SAFE_NO_PAD
            .decode(signature)
            .map_err(|_| TokenRejection::Malformed)?;
        UnparsedPublicKey::new(&ECDSA_P256_SHA256_FIXED, point)
            .verify(signing_input.as_bytes(), &signature)
            .map_err(|_| TokenRejection::BadSignature)?;
        Ok(payload)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn stored(master: &MasterKey, active: bool, at: i64) -> StoredSigningKey {
        let k = generate_signing_key(master).expect("generate");
        StoredSigningKey {
            kid: k.kid,
            public_jwk: k.public_jwk,
            private_sealed: k.private_sealed,
            active,
            created_at: at,
        }
    }

    fn claims(iss: &str, now: i64) -> AccessTokenClaims {
        AccessTokenClaims {
            iss: iss.into(),
            sub: "user-1".into(),
            aud: "http://localhost:4000/mcp".into(),
            client_id: "agent".into(),
            scope: "notes.read".into(),
            exp: now + 600,
            iat: now,
            nbf: now,
            jti: "jti-1".into(),
            auth_time: Some(now),
            acr: None,
            amr: Some(vec!["pwd".into()]),
            tenant: Some("t-1".into()),
            act: Some(Actor {
                sub: "agent".into(),
            }),
        }
    }

    #[test]
    fn signed_tokens_verify_with_kid_and_type() {
        let master = MasterKey::generate();
        let keys = KeySet::from_stored(&[stored(&master, true, 1)], &master).expect("keyset");
        let token = keys.sign(&claims("iss", 1_000)).expect("sign");
        let header = jsonwebtoken::decode_header(&token).expect("header");
        assert_eq!(header.typ.as_deref(), Some("at+jwt"));
        assert_eq!(header.kid.as_deref(), Some(keys.signing_kid()));
        assert_eq!(
            keys.verify(&token, "iss", 1_001).expect("verify"),
            claims("iss", 1_000)
        );
    }

    #[test]
    fn verification_refuses_wrong_issuer_expiry_and_tampering() {
        let master = MasterKey::generate();
        let keys = KeySet::from_stored(&[stored(&master, true, 1)], &master).expect("keyset");
        let token = keys.sign(&claims("iss", 1_000)).expect("sign");
        assert_eq!(
            keys.verify(&token, "other", 1_001),
            Err(TokenRejection::WrongIssuer)
        );
        assert_eq!(
            keys.verify(&token, "iss", 1_600),
            Err(TokenRejection::Expired)
        );
        assert_eq!(
            keys.verify(&token, "iss", 900),
            Err(TokenRejection::NotYetValid)
        );
        assert_eq!(
            keys.verify("garbage", "iss", 1_001),
            Err(TokenRejection::Malformed)
        );
        let mut parts: Vec<&str> = token.split('.').collect();
        let forged = URL_SAFE_NO_PAD.encode(br#"{"iss":"iss","sub":"admin"}"#);
        parts[1] = &forged;
        assert!(keys.verify(&parts.join("."), "iss", 1_001).is_err());
    }

    #[test]
    fn a_verified_token_is_still_checked_for_issuer_and_lifetime_and_only_its_exact_bytes_pass() {
        let master = MasterKey::generate();
        let keys = KeySet::from_stored(&[stored(&master, true, 1)], &master).expect("keyset");
        let token = keys.sign(&claims("iss", 1_000)).expect("sign");
        assert!(keys.verify(&token, "iss", 1_001).is_ok());
        assert!(
            keys.verify(&token, "iss", 1_002).is_ok(),
            "second time, from the cache"
        );
        assert_eq!(
            keys.verify(&token, "other", 1_002),
            Err(TokenRejection::WrongIssuer)
        );
        assert_eq!(
            keys.verify(&token, "iss", 1_600),
            Err(TokenRejection::Expired)
        );
        // Same header and payload, another signature: not the bytes that verified.
        let (signing_input, signature) = token.rsplit_once('.').expect("jws");
        let mut sig = URL_SAFE_NO_PAD.decode(signature).expect("b64");
        sig[10] ^= 1;
        let tampered = format!("{signing_input}.{}", URL_SAFE_NO_PAD.encode(sig));
        assert_eq!(
            keys.verify(&tampered, "iss", 1_002),
            Err(TokenRejection::BadSignature)
        );
        // Another deployment's key set has not verified it, and its key does not.
        let other = KeySet::from_stored(&[stored(&master, true, 1)], &master).expect("keyset");
        assert!(other.verify(&token, "iss", 1_002).is_err());
    }

    #[test]
    fn rotation_keeps_old_tokens_verifiable_and_signs_with_the_newest() {
        let master = MasterKey::generate();
        let old = stored(&master, true, 1);
        let before = KeySet::from_stored(std::slice::from_ref(&old), &master).expect("keyset");
        let old_token = before.sign(&claims("iss", 1_000)).expect("sign");
        let mut retired = old.clone();
        retired.active = false;
        let new = stored(&master, true, 2);
        let after = KeySet::from_stored(&[retired, new.clone()], &master).expect("keyset");
        assert_eq!(after.signing_kid(), new.kid);
        assert!(
            after.verify(&old_token, "iss", 1_001).is_ok(),
            "retired key still verifies"
        );
        assert_eq!(after.jwks()["keys"].as_array().expect("keys").len(), 2);
    }

    #[test]
    fn private_keys_need_the_right_master_key() {
        let master = MasterKey::generate();
        let key = stored(&master, true, 1);
        assert!(KeySet::from_stored(&[key], &MasterKey::generate()).is_err());
    }

    #[test]
    fn kid_is_the_rfc_7638_thumbprint() {
        let master = MasterKey::generate();
        let k = generate_signing_key(&master).expect("generate");
        let input = format!(
            r#"{{"crv":"P-256","kty":"EC","x":"{}","y":"{}"}}"#,
            k.public_jwk.x, k.public_jwk.y
        );
        assert_eq!(
            k.kid,
            URL_SAFE_NO_PAD.encode(Sha256::digest(input.as_bytes()))
        );
        assert_eq!(k.public_jwk.kid, k.kid);
    }
}
