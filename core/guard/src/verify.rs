//! Checking one access token.

use std::sync::Arc;

use jsonwebtoken::{decode, decode_header, Algorithm, Validation};

use crate::challenge::Rejection;
use crate::config::GuardConfig;
use crate::keys::KeyCache;
use crate::principal::{Claims, Principal};

/// Validates Mandate access tokens for one MCP server. Cheap to clone.
#[derive(Clone)]
pub struct Guard {
    pub(crate) config: Arc<GuardConfig>,
    keys: Arc<KeyCache>,
}

impl std::fmt::Debug for Guard {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Guard")
            .field("issuer", &self.config.issuer)
            .field("audience", &self.config.audience)
            .finish_non_exhaustive()
    }
}

/// RFC 9068 §2.1: `at+jwt`, or its full media type.
fn is_access_token_typ(typ: Option<&str>) -> bool {
    typ.is_some_and(|t| {
        t.eq_ignore_ascii_case("at+jwt") || t.eq_ignore_ascii_case("application/at+jwt")
    })
}

impl Guard {
    pub fn new(config: GuardConfig) -> Self {
        let keys = KeyCache::new(config.jwks_uri.clone(), config.keys_ttl);
        Self {
            config: Arc::new(config),
            keys: Arc::new(keys),
        }
    }

    pub fn config(&self) -> &GuardConfig {
        &self.config
    }

    /// The principal of a valid token, or why it is refused.
    pub async fn verify(&self, token: &str) -> Result<Principal, Rejection> {
        let header = decode_header(token).map_err(|_| Rejection::invalid("malformed token"))?;
        // Only the issuer's algorithm: `none` and HMAC (keyed with a public key by an
        // attacker) never reach signature checking.
        if header.alg != Algorithm::ES256 {
            return Err(Rejection::invalid("unexpected signing algorithm"));
        }
        if !is_access_token_typ(header.typ.as_deref()) {
            return Err(Rejection::invalid(
                "not an access token (typ must be at+jwt)",
            ));
        }
        let kid = header
            .kid
            .ok_or_else(|| Rejection::invalid("the token names no key"))?;
        let key = self
            .keys
            .key(&kid)
            .await
            .map_err(|e| Rejection::Unavailable(e.to_string()))?
            .ok_or_else(|| Rejection::invalid("signed with an unknown key"))?;
        let mut validation = Validation::new(Algorithm::ES256);
        validation.set_issuer(&[&self.config.issuer]);
        validation.set_audience(&[&self.config.audience]);
        validation.set_required_spec_claims(&["exp", "iss", "aud", "sub"]);
        validation.validate_nbf = true;
        validation.leeway = self.config.leeway.as_secs();
        let data = decode::<Claims>(token, &key, &validation).map_err(|e| {
            use jsonwebtoken::errors::ErrorKind;
            Rejection::invalid(match e.kind() {
                ErrorKind::ExpiredSignature => "the token has expired",
                ErrorKind::ImmatureSignature => "the token is not valid yet",
                ErrorKind::InvalidAudience => "the token is for another resource",
                ErrorKind::InvalidIssuer => "the token is from another issuer",
                ErrorKind::InvalidSignature => "the signature does not verify",
                _ => "the token is not valid",
            })
        })?;
        Ok(data.claims.into())
    }
}

#[cfg(test)]
mod tests {
    use super::is_access_token_typ;

    #[test]
    fn only_access_token_types_pass() {
        assert!(is_access_token_typ(Some("at+jwt")));
        assert!(is_access_token_typ(Some("AT+JWT")));
        assert!(is_access_token_typ(Some("application/at+jwt")));
        assert!(!is_access_token_typ(Some("JWT")));
        assert!(!is_access_token_typ(None));
    }
}
